/* cls_weak.c -- weak type labels from subjects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls_weak.h"
#include "jsdefs.h"

#define MAX_CUES 256

static const char *const s_types[] = {"consultation", "help", "complaint", "report", "suggestion"};

enum { S_SUBJECT, S_CONTENT, S_REPLY }; /* where a cue is looked for */

struct cls_weak {
    size_t n;
    char *cue[MAX_CUES];
    int type[MAX_CUES];
    int where[MAX_CUES];
};

#define S_CONTENT_LOOK 240 /* bytes of the detail searched for content cues: where people say what they want */
#define S_REPLY_LOOK 180   /* bytes of the official reply searched: its opening names the request */

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
        char *tab = strchr(line, '\t'), *name = line;
        int t = -1, where = S_SUBJECT;
        if (!strncmp(name, "content:", 8)) where = S_CONTENT, name += 8;
        else if (!strncmp(name, "reply:", 6)) where = S_REPLY, name += 6;
        if (tab) {
            *tab = '\0';
            for (int i = 0; i < 5; i++)
                if (strcmp(name, s_types[i]) == 0) t = i;
        }
        if (t < 0) {
            snprintf(err, errlen, "%s:%d: want [content:|reply:]type<TAB>cue,cue,... with a known type", cues, lineno);
            fclose(f);
            cls_weak_free(&w);
            return NULL;
        }
        for (char *save = NULL, *c = strtok_r(tab + 1, ",", &save); c; c = strtok_r(NULL, ",", &save))
            if (*c && w->n < MAX_CUES) w->cue[w->n] = js_strdup(c), w->where[w->n] = where, w->type[w->n++] = t;
    }
    fclose(f);
    return w;
}

/* The earliest cue of a text (the longest there) among those looked for in `where`, or -1. */
static int s_first_cue_in(const cls_weak_t *w, int where, const char *subject, const char **at) {
    const char *best = NULL;
    int bi = -1;
    for (size_t i = 0; i < w->n; i++) {
        if (w->where[i] != where) continue;
        const char *p = strstr(subject, w->cue[i]);
        if (p && (!best || p < best || (p == best && strlen(w->cue[i]) > strlen(w->cue[bi]))))
            best = p, bi = (int)i;
    }
    if (at) *at = best;
    return bi;
}

static int s_first_cue(const cls_weak_t *w, const char *subject, const char **at) {
    return s_first_cue_in(w, S_SUBJECT, subject, at);
}

/* The label a detail or a reply gives (cues looked for in its first `look` bytes), or -1. */
static int s_cue_near_start(const cls_weak_t *w, int where, const cls_norm_t *n, const char *text, size_t look) {
    char buf[1024];
    size_t l = strlen(text);
    if (l > look) l = look;
    cls_normalize(n, text, l, buf, sizeof buf, CLS_NORM_DROP_SPACE, NULL);
    int i = s_first_cue_in(w, where, buf, NULL);
    return i < 0 ? -1 : w->type[i];
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
        int from_subject = label != NULL;
        /* a subject without a cue: the official reply's opening ("您咨询的…"), then the
         * detail's opening ("我要举报…") may still name the type */
        if (!label && nc >= 6) {
            int t = s_cue_near_start(w, S_REPLY, n, col[5], S_REPLY_LOOK);
            if (t >= 0) label = s_types[t];
        }
        if (!label) {
            int t = s_cue_near_start(w, S_CONTENT, n, col[4], S_CONTENT_LOOK);
            if (t >= 0) label = s_types[t];
        }
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
        if (!from_subject) continue; /* its subject has no cue to cut out */
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
