/* cls_engine.c -- rules (data files) around the topic model.
 *
 * Order of decisions, as DOMAIN.md 分类处置 lists them: unusable text goes to
 * an operator; the first disposition rule whose keyword occurs decides the
 * disposition (emergency, legal procedure, unlawful, out of scope, answered)
 * with its reason; otherwise the order is dispatched, by the topic model,
 * and goes to an operator when the model is unsure (threshold). Urgency comes
 * from the rule that fired or from the urgency rules; type from type cues. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls.h"
#include "jsdefs.h"

#define MAX_KW 48

typedef struct rule {
    char id[64];
    int disposition;  /* 0: only sets urgency */
    int urgency;      /* 0: leaves it */
    char *kw[MAX_KW];
    int nkw;
    char reason[192];
} rule_t;

typedef struct cue {
    int type;
    char *kw[MAX_KW];
    int nkw;
} cue_t;

struct cls_engine {
    cls_model_t *model;
    rule_t *rules;
    size_t nrules;
    cue_t *cues;
    size_t ncues;
    float threshold;
    int default_type;
};

static const struct { const char *name; int v; } s_disp[] = {
    {"dispatch", 1}, {"emergency", 2},   {"legal_procedure", 3}, {"duplicate", 4},     {"unlawful", 5},
    {"out_of_scope", 6}, {"answered", 7}, {"consultation", 8},   {"partner", 9},       {"manual", 10},
};
static const struct { const char *name; int v; } s_urg[] = {{"-", 0}, {"normal", 1}, {"high", 2}, {"emergency", 3}};
static const struct { const char *name; int v; } s_types[] = {
    {"consultation", 1}, {"help", 2}, {"complaint", 3}, {"report", 4}, {"suggestion", 5},
};

#define LOOKUP(tab, s, out)                                          \
    do {                                                             \
        out = -1;                                                    \
        for (size_t _i = 0; _i < JS_ARRAY_LEN(tab); _i++)            \
            if (strcmp(tab[_i].name, s) == 0) out = tab[_i].v;       \
    } while (0)

/* Split a TSV line in place; returns the number of columns. */
static int s_cols(char *line, char **col, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        col[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

/* Keywords are normalised like the text, so 'ＡＢＣ' and 'abc' match alike. */
static int s_keywords(char *list, char **kw, int max) {
    int n = 0;
    char *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k && n < max; k = strtok_r(NULL, ",", &save)) {
        char norm[256];
        size_t len = cls_normalize(k, strlen(k), norm, sizeof norm, NULL);
        if (len) kw[n++] = js_strdup(norm);
    }
    return n;
}

typedef int (*line_fn)(cls_engine_t *e, char **col, int ncol, char *err, size_t errlen);

static int s_read(cls_engine_t *e, const char *dir, const char *name, line_fn fn, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char *col[8];
        int n = s_cols(line, col, 8);
        char why[256] = "";
        if (fn(e, col, n, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int s_rule_line(cls_engine_t *e, char **col, int n, char *err, size_t errlen) {
    if (n != 5) {
        snprintf(err, errlen, "want 5 columns: id disposition urgency keywords reason");
        return -1;
    }
    rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", col[0]);
    if (strcmp(col[1], "-") == 0) r.disposition = 0;
    else LOOKUP(s_disp, col[1], r.disposition);
    LOOKUP(s_urg, col[2], r.urgency);
    if (r.disposition < 0 || r.urgency < 0) {
        snprintf(err, errlen, "unknown disposition '%s' or urgency '%s'", col[1], col[2]);
        return -1;
    }
    r.nkw = s_keywords(col[3], r.kw, MAX_KW);
    if (!r.nkw) {
        snprintf(err, errlen, "rule %s has no keyword", r.id);
        return -1;
    }
    snprintf(r.reason, sizeof r.reason, "%s", col[4]);
    e->rules = js_realloc(e->rules, (e->nrules + 1) * sizeof *e->rules);
    e->rules[e->nrules++] = r;
    return 0;
}

static int s_cue_line(cls_engine_t *e, char **col, int n, char *err, size_t errlen) {
    int t;
    if (n != 2) {
        snprintf(err, errlen, "want 2 columns: type keywords");
        return -1;
    }
    LOOKUP(s_types, col[0], t);
    if (t < 0) {
        snprintf(err, errlen, "unknown type '%s'", col[0]);
        return -1;
    }
    cue_t c;
    memset(&c, 0, sizeof c);
    c.type = t;
    c.nkw = s_keywords(col[1], c.kw, MAX_KW);
    e->cues = js_realloc(e->cues, (e->ncues + 1) * sizeof *e->cues);
    e->cues[e->ncues++] = c;
    return 0;
}

static int s_setting_line(cls_engine_t *e, char **col, int n, char *err, size_t errlen) {
    if (n != 2) {
        snprintf(err, errlen, "want 2 columns: name value");
        return -1;
    }
    if (strcmp(col[0], "threshold") == 0) {
        char *end;
        double v = strtod(col[1], &end);
        if (*end || v < 0 || v > 1) {
            snprintf(err, errlen, "threshold must be a number in [0, 1]");
            return -1;
        }
        e->threshold = (float)v;
    } else if (strcmp(col[0], "default_type") == 0) {
        LOOKUP(s_types, col[1], e->default_type);
        if (e->default_type < 0) {
            snprintf(err, errlen, "unknown type '%s'", col[1]);
            return -1;
        }
    } else {
        snprintf(err, errlen, "unknown setting '%s'", col[0]);
        return -1;
    }
    return 0;
}

cls_engine_t *cls_engine_load(const char *dir, char *err, size_t errlen) {
    cls_engine_t *e = js_calloc(1, sizeof *e);
    e->threshold = 0.5f;
    e->default_type = 3;
    char path[4096];
    snprintf(path, sizeof path, "%s/topic.model", dir);
    if (!(e->model = cls_model_load(path, err, errlen)) ||
        s_read(e, dir, "settings.tsv", s_setting_line, err, errlen) < 0 ||
        s_read(e, dir, "rules.tsv", s_rule_line, err, errlen) < 0 ||
        s_read(e, dir, "types.tsv", s_cue_line, err, errlen) < 0) {
        cls_engine_free(&e);
        return NULL;
    }
    return e;
}

void cls_engine_free(cls_engine_t **ep) {
    if (!ep || !*ep) return;
    cls_engine_t *e = *ep;
    for (size_t i = 0; i < e->nrules; i++)
        for (int k = 0; k < e->rules[i].nkw; k++) free(e->rules[i].kw[k]);
    for (size_t i = 0; i < e->ncues; i++)
        for (int k = 0; k < e->cues[i].nkw; k++) free(e->cues[i].kw[k]);
    free(e->rules);
    free(e->cues);
    cls_model_free(&e->model);
    free(e);
    *ep = NULL;
}

static const char *s_hit(char *const *kw, int n, const char *text) {
    for (int i = 0; i < n; i++)
        if (strstr(text, kw[i])) return kw[i];
    return NULL;
}

void cls_classify(const cls_engine_t *e, const char *text, size_t len, cls_result_t *out) {
    memset(out, 0, sizeof *out);
    out->type = e->default_type;
    out->urgency = 1;
    out->disposition = 1;
    char *norm = js_malloc(CLS_MAX_TEXT + 8);
    size_t ncjk = 0;
    size_t n = cls_normalize(text, len, norm, CLS_MAX_TEXT + 8, &ncjk);
    if (n == 0 || ncjk == 0) {
        out->manual = 1;
        out->disposition = 10;
        snprintf(out->reason, sizeof out->reason, "%s",
                 n == 0 ? "no readable text" : "no Chinese text to classify");
        free(norm);
        return;
    }
    /* type: the cue that occurs earliest in the text wins (titles start with it) */
    const char *best = NULL;
    for (size_t i = 0; i < e->ncues; i++) {
        for (int k = 0; k < e->cues[i].nkw; k++) {
            const char *at = strstr(norm, e->cues[i].kw[k]);
            if (at && (!best || at < best)) {
                best = at;
                out->type = e->cues[i].type;
            }
        }
    }
    out->type_conf = best ? 0.9f : 0.5f;
    int p;
    float prob;
    p = cls_model_predict(e->model, norm, n, &prob);
    snprintf(out->topic, sizeof out->topic, "%s", cls_model_label(e->model, p));
    out->topic_conf = prob;
    for (size_t i = 0; i < e->nrules; i++) {
        const rule_t *r = &e->rules[i];
        const char *kw = s_hit(r->kw, r->nkw, norm);
        if (!kw) continue;
        if (r->urgency > out->urgency) out->urgency = r->urgency;
        if (r->disposition && out->disposition == 1) {
            out->disposition = r->disposition;
            snprintf(out->rule, sizeof out->rule, "%s", r->id);
            snprintf(out->reason, sizeof out->reason, "%s (\"%s\")", r->reason, kw);
        }
    }
    if (out->disposition == 1) {
        if (prob < e->threshold) {
            out->manual = 1;
            snprintf(out->reason, sizeof out->reason, "topic %s at %.2f is below the threshold %.2f", out->topic,
                     (double)prob, (double)e->threshold);
        } else {
            snprintf(out->reason, sizeof out->reason, "topic %s (%.2f)", out->topic, (double)prob);
        }
    }
    free(norm);
}
