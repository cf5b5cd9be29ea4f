/* cls_weak.c -- weak type labels from subjects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls_weak.h"
#include "jsdefs.h"

#define MAX_CUES 256

static const char *const s_types[] = {"consultation", "help", "complaint", "report", "suggestion"};

struct cls_weak {
    size_t n;
    char *cue[MAX_CUES];
    int type[MAX_CUES];
};

void cls_weak_classes(cls_dataset_t *d) {
    for (size_t i = 0; i < sizeof s_types / sizeof *s_types; i++) cls_data_class(d, s_types[i], 1);
}

void cls_weak_free(cls_weak_t **wp) {
    if (!wp || !*wp) return;
    for (size_t i = 0; i < (*wp)->n; i++) free((*wp)->cue[i]);
    free(*wp);
    *wp = NULL;
}

cls_weak_t *cls_weak_load(const char *cues, char *err, size_t errlen) {
    FILE *f = fopen(cues, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", cues, strerror(errno));
        return NULL;
    }
    cls_weak_t *w = js_calloc(1, sizeof *w);
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        int t = -1;
        if (tab) {
            *tab = '\0';
            for (int i = 0; i < 5; i++)
                if (strcmp(line, s_types[i]) == 0) t = i;
        }
        if (t < 0) {
            snprintf(err, errlen, "%s:%d: want type<TAB>cue,cue,... with a known type", cues, lineno);
            fclose(f);
            cls_weak_free(&w);
            return NULL;
        }
        for (char *save = NULL, *c = strtok_r(tab + 1, ",", &save); c; c = strtok_r(NULL, ",", &save))
            if (*c && w->n < MAX_CUES) w->cue[w->n] = js_strdup(c), w->type[w->n++] = t;
    }
    fclose(f);
    return w;
}

/* The earliest cue of a subject (the longest there), or -1. */
static int s_first_cue(const cls_weak_t *w, const char *subject, const char **at) {
    const char *best = NULL;
    int bi = -1;
    for (size_t i = 0; i < w->n; i++) {
        const char *p = strstr(subject, w->cue[i]);
        if (p && (!best || p < best || (p == best && strlen(w->cue[i]) > strlen(w->cue[bi]))))
            best = p, bi = (int)i;
    }
    if (at) *at = best;
    return bi;
}

const char *cls_weak_label(const cls_weak_t *w, const char *subject) {
    int i = s_first_cue(w, subject, NULL);
    return i < 0 ? NULL : s_types[w->type[i]];
}

long cls_weak_label_file(const cls_weak_t *w, const char *raw, const cls_norm_t *n, const cls_dataset_t *exclude,
                         cls_dataset_t *d, char *err, size_t errlen) {
    FILE *f = fopen(raw, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", raw, strerror(errno));
        return -1;
    }
    char *line = NULL, subj[4096];
    size_t cap = 0;
    ssize_t l;
    long rows = 0, lineno = 0;
    while ((l = getline(&line, &cap, f)) >= 0) {
        if (++lineno == 1) continue; /* header */
        char *col[6] = {0};
        int nc = 0;
        for (char *p = line; nc < 6; nc++) {
            col[nc] = p;
            char *t = strchr(p, '\t');
            if (!t) {
                nc++;
                break;
            }
            *t = '\0';
            p = t + 1;
        }
        if (nc < 5) continue;
        col[4][strcspn(col[4], "\r\n")] = '\0';
        size_t sl = cls_normalize(n, col[2], strlen(col[2]), subj, sizeof subj, CLS_NORM_DROP_SPACE, NULL);
        const char *label = cls_weak_label(w, subj);
        if (!label) continue;
        int skip = 0;
        for (size_t i = 0; exclude && i < exclude->n && !skip; i++)
            skip = sl > 0 && strncmp(exclude->text[i], subj, sl) == 0;
        if (skip) continue;
        /* the order as it arrives: title, then content */
        size_t tl = strlen(col[2]) + strlen(col[4]) + 2;
        char *text = js_malloc(tl);
        snprintf(text, tl, "%s %s", col[2], col[4]);
        cls_data_add(d, label, text, strlen(text), n);
        free(text);
        rows++;
        /* and once more with every cue of the subject cut out: most orders do not name
         * their type, and the model must learn what else shows it */
        char masked[4096];
        size_t ml = 0;
        const char *p = subj, *at;
        int ci;
        while ((ci = s_first_cue(w, p, &at)) >= 0) {
            memcpy(masked + ml, p, (size_t)(at - p));
            ml += (size_t)(at - p);
            p = at + strlen(w->cue[ci]);
        }
        size_t rest = strlen(p), dl = strlen(col[4]);
        if (ml + rest + 1 + dl + 1 > sizeof masked) dl = sizeof masked > ml + rest + 2 ? sizeof masked - ml - rest - 2 : 0;
        memcpy(masked + ml, p, rest);
        ml += rest;
        masked[ml++] = ' ';
        memcpy(masked + ml, col[4], dl);
        ml += dl;
        cls_data_add(d, label, masked, ml, n);
        rows++;
    }
    free(line);
    fclose(f);
    return rows;
}
