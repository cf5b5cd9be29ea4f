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

/* Every keyword of every rule and cue in one Aho-Corasick automaton over
 * bytes: one pass over the text finds them all, wherever they are. */
typedef struct kwref {
    int cue;   /* 0: rules[owner].kw[idx], 1: cues[owner].kw[idx] */
    int owner, idx;
    size_t len;
    int next;  /* another rule or cue with the same keyword, or -1 */
} kwref_t;

typedef struct ac {
    int32_t (*go)[256];  /* complete transitions */
    int32_t *out;        /* keyword ending at this node, or -1 */
    int32_t *dict;       /* next node on the failure chain that ends a keyword, or 0 */
    int nodes;
    kwref_t *kw;
    int nkw;
} ac_t;

struct cls_engine {
    ac_t ac;
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


static void s_ac_add(ac_t *a, const char *w, size_t len, kwref_t ref, int *cap) {
    int node = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        if (!a->go[node][c]) {
            if (a->nodes == *cap) {
                *cap *= 2;
                a->go = js_realloc(a->go, (size_t)*cap * sizeof *a->go);
                a->out = js_realloc(a->out, (size_t)*cap * sizeof *a->out);
            }
            memset(a->go[a->nodes], 0, sizeof a->go[0]);
            a->out[a->nodes] = -1;
            a->go[node][c] = a->nodes++;
        }
        node = a->go[node][c];
    }
    a->kw = js_realloc(a->kw, (size_t)(a->nkw + 1) * sizeof *a->kw);
    ref.len = len;
    ref.next = -1;
    if (a->out[node] >= 0) { /* the same keyword in several rules or cues: chain them */
        ref.next = a->kw[a->out[node]].next;
        a->kw[a->out[node]].next = a->nkw;
        a->kw[a->nkw++] = ref;
        return;
    }
    a->kw[a->nkw] = ref;
    a->out[node] = a->nkw++;
}

static void s_ac_build(cls_engine_t *e) {
    ac_t *a = &e->ac;
    int cap = 256;
    a->go = js_calloc((size_t)cap, sizeof *a->go);
    a->out = js_malloc((size_t)cap * sizeof *a->out);
    a->out[0] = -1;
    a->nodes = 1;
    for (size_t i = 0; i < e->nrules; i++)
        for (int k = 0; k < e->rules[i].nkw; k++)
            s_ac_add(a, e->rules[i].kw[k], strlen(e->rules[i].kw[k]), (kwref_t){0, (int)i, k, 0, -1}, &cap);
    for (size_t i = 0; i < e->ncues; i++)
        for (int k = 0; k < e->cues[i].nkw; k++)
            s_ac_add(a, e->cues[i].kw[k], strlen(e->cues[i].kw[k]), (kwref_t){1, (int)i, k, 0, -1}, &cap);
    /* breadth first: failure links folded into complete transitions */
    int32_t *fail = js_calloc((size_t)a->nodes, sizeof *fail), *queue = js_malloc((size_t)a->nodes * sizeof *queue);
    a->dict = js_calloc((size_t)a->nodes, sizeof *a->dict);
    int head = 0, tail = 0;
    for (int c = 0; c < 256; c++)
        if (a->go[0][c]) queue[tail++] = a->go[0][c];
    while (head < tail) {
        int u = queue[head++];
        for (int c = 0; c < 256; c++) {
            int v = a->go[u][c];
            if (v) {
                fail[v] = a->go[fail[u]][c];
                a->dict[v] = a->out[fail[v]] >= 0 ? fail[v] : a->dict[fail[v]];
                queue[tail++] = v;
            } else {
                a->go[u][c] = a->go[fail[u]][c];
            }
        }
    }
    free(fail);
    free(queue);
}

/* first[k] = start of keyword k's first occurrence, or -1 */
static void s_ac_scan(const ac_t *a, const char *text, size_t n, int32_t *first) {
    for (int k = 0; k < a->nkw; k++) first[k] = -1;
    int node = 0;
    for (size_t i = 0; i < n; i++) {
        node = a->go[node][(unsigned char)text[i]];
        for (int t = node; t; t = a->dict[t])
            for (int k = a->out[t]; k >= 0; k = a->kw[k].next)
                if (first[k] < 0) first[k] = (int32_t)(i + 1 - a->kw[k].len);
    }
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
    s_ac_build(e);
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
    free(e->ac.go);
    free(e->ac.out);
    free(e->ac.dict);
    free(e->ac.kw);
    cls_model_free(&e->model);
    free(e);
    *ep = NULL;
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
    /* every keyword at once; then the type: the cue that occurs earliest wins (titles start with it) */
    int32_t first[e->ac.nkw > 0 ? e->ac.nkw : 1];
    s_ac_scan(&e->ac, norm, n, first);
    int32_t best = -1;
    for (int k = 0; k < e->ac.nkw; k++) {
        if (first[k] < 0 || !e->ac.kw[k].cue) continue;
        if (best < 0 || first[k] < best) {
            best = first[k];
            out->type = e->cues[e->ac.kw[k].owner].type;
        }
    }
    out->type_conf = best >= 0 ? 0.9f : 0.5f;
    int p;
    float prob;
    p = cls_model_predict(e->model, norm, n, &prob);
    snprintf(out->topic, sizeof out->topic, "%s", cls_model_label(e->model, p));
    out->topic_conf = prob;
    /* the rules in file order; a rule's first listed keyword that occurs names it */
    int lowest[e->nrules > 0 ? e->nrules : 1];
    for (size_t i = 0; i < e->nrules; i++) lowest[i] = -1;
    for (int k = 0; k < e->ac.nkw; k++) {
        const kwref_t *ref = &e->ac.kw[k];
        if (first[k] >= 0 && !ref->cue && (lowest[ref->owner] < 0 || ref->idx < lowest[ref->owner]))
            lowest[ref->owner] = ref->idx;
    }
    for (size_t i = 0; i < e->nrules; i++) {
        const rule_t *r = &e->rules[i];
        if (lowest[i] < 0) continue;
        const char *kw = r->kw[lowest[i]];
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
