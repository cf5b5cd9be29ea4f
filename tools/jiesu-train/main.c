/* jiesu-train -- build the classifier's topic model from `label\ttext` lines.
 *
 *   jiesu-train --data FILE.tsv --out MODEL [--seed N] [--buckets N]
 *               [--holdout 0.2] [--folds 5] [--sample-out FILE --sample-n N]
 *
 * Deterministic for a seed: the rows are shuffled with it, a held-out share is
 * set aside, the rest is cross-validated (K folds) and then trained on whole.
 * Prints one JSON line: cross-validated and held-out macro-F1 measured on the
 * text with every blank removed (orders arrive unsegmented). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/classifier/cls.h"
#include "jsdefs.h"

typedef struct rows {
    char **label, **text;
    size_t n;
} rows_t;

static uint64_t s_rng;
static uint64_t s_rand(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static char *s_unspaced(const char *s) {
    char *d = js_strdup(s), *w = d;
    for (const char *r = s; *r; r++)
        if (*r != ' ') *w++ = *r;
    *w = '\0';
    return d;
}

/* Macro-F1 of a model over rows idx[0..n) (text without blanks). */
static double s_macro_f1(const cls_model_t *m, rows_t *r, const size_t *idx, size_t n, double *acc) {
    int K = cls_model_classes(m);
    size_t tp[32] = {0}, fp[32] = {0}, fn[32] = {0}, ok = 0;
    char *norm = js_malloc(CLS_MAX_TEXT + 8);
    for (size_t i = 0; i < n; i++) {
        char *raw = s_unspaced(r->text[idx[i]]);
        size_t len = cls_normalize(raw, strlen(raw), norm, CLS_MAX_TEXT + 8, NULL);
        free(raw);
        int p = cls_model_predict(m, norm, len, NULL);
        int t = -1;
        for (int k = 0; k < K; k++)
            if (strcmp(cls_model_label(m, k), r->label[idx[i]]) == 0) t = k;
        if (t == p) {
            tp[p]++;
            ok++;
        } else {
            fp[p]++;
            if (t >= 0) fn[t]++;
        }
    }
    free(norm);
    double sum = 0;
    for (int k = 0; k < K; k++) {
        double pr = tp[k] + fp[k] ? (double)tp[k] / (double)(tp[k] + fp[k]) : 0;
        double rc = tp[k] + fn[k] ? (double)tp[k] / (double)(tp[k] + fn[k]) : 0;
        sum += pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0;
    }
    if (acc) *acc = n ? (double)ok / (double)n : 0;
    return K ? sum / K : 0;
}

static cls_model_t *s_train(rows_t *r, const size_t *idx, size_t n, uint32_t buckets) {
    char **l = js_malloc(n * sizeof *l), **t = js_malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        l[i] = r->label[idx[i]];
        t[i] = r->text[idx[i]];
    }
    cls_model_t *m = cls_model_train(l, t, n, buckets);
    free(l);
    free(t);
    return m;
}

static const char *s_opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: jiesu-train --data FILE.tsv --out MODEL [--seed N] [--buckets N] [--holdout F]\n"
                   "                   [--folds K] [--sample-out FILE --sample-n N]\n");
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("jiesu-train %s\n", JIESU_VERSION);
            return 0;
        }
    }
    const char *data = s_opt(argc, argv, "--data", NULL), *out = s_opt(argc, argv, "--out", NULL);
    if (!data || !out) {
        fprintf(stderr, "jiesu-train: --data and --out are required (see --help)\n");
        return 1;
    }
    s_rng = strtoull(s_opt(argc, argv, "--seed", "12345"), NULL, 10) | 1;
    uint32_t buckets = (uint32_t)strtoul(s_opt(argc, argv, "--buckets", "131072"), NULL, 10);
    double hold = atof(s_opt(argc, argv, "--holdout", "0.2"));
    int folds = atoi(s_opt(argc, argv, "--folds", "5"));
    const char *sample_out = s_opt(argc, argv, "--sample-out", NULL);
    size_t sample_n = (size_t)atol(s_opt(argc, argv, "--sample-n", "300"));
    if (buckets < 1024 || (buckets & (buckets - 1)) || hold < 0 || hold >= 0.9 || folds < 0 || folds == 1) {
        fprintf(stderr, "jiesu-train: buckets must be a power of two >= 1024, holdout in [0, 0.9), folds 0 or >= 2\n");
        return 1;
    }
    FILE *f = fopen(data, "r");
    if (!f) {
        fprintf(stderr, "jiesu-train: %s: cannot open\n", data);
        return 1;
    }
    rows_t r = {0};
    size_t cap = 0, lcap = 0;
    char *line = NULL;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab || tab == line) continue;
        *tab = '\0';
        if (r.n == 0 && !strcmp(line, "label")) continue;
        if (r.n == cap) {
            cap = cap ? 2 * cap : 4096;
            r.label = js_realloc(r.label, cap * sizeof *r.label);
            r.text = js_realloc(r.text, cap * sizeof *r.text);
        }
        r.label[r.n] = js_strdup(line);
        r.text[r.n] = js_strdup(tab + 1);
        r.n++;
    }
    free(line);
    fclose(f);
    if (r.n < 20) {
        fprintf(stderr, "jiesu-train: %s: too few `label<TAB>text` rows (%zu)\n", data, r.n);
        return 1;
    }
    size_t *idx = js_malloc(r.n * sizeof *idx);
    for (size_t i = 0; i < r.n; i++) idx[i] = i;
    for (size_t i = r.n - 1; i > 0; i--) {
        size_t j = (size_t)(s_rand() % (i + 1));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    size_t nh = (size_t)((double)r.n * hold), nt = r.n - nh;
    size_t *train = idx, *held = idx + nt;
    double cv = 0, cv_acc = 0;
    if (folds >= 2) {
        size_t *tr = js_malloc(nt * sizeof *tr), *te = js_malloc(nt * sizeof *te);
        for (int k = 0; k < folds; k++) {
            size_t a = 0, b = 0;
            for (size_t i = 0; i < nt; i++) {
                if ((int)(i % (size_t)folds) == k) te[b++] = train[i];
                else tr[a++] = train[i];
            }
            cls_model_t *m = s_train(&r, tr, a, buckets);
            double acc;
            cv += s_macro_f1(m, &r, te, b, &acc) / folds;
            cv_acc += acc / folds;
            cls_model_free(&m);
        }
        free(tr);
        free(te);
    }
    cls_model_t *m = s_train(&r, train, nt, buckets);
    if (!m) {
        fprintf(stderr, "jiesu-train: cannot train (more than 32 labels?)\n");
        return 1;
    }
    double hacc = 0, hf1 = nh ? s_macro_f1(m, &r, held, nh, &hacc) : 0;
    int rc = cls_model_save(m, out);
    if (rc < 0) {
        fprintf(stderr, "jiesu-train: %s: cannot write\n", out);
        return 1;
    }
    if (sample_out && nh) {
        FILE *s = fopen(sample_out, "w");
        if (!s) {
            fprintf(stderr, "jiesu-train: %s: cannot write\n", sample_out);
            return 1;
        }
        fprintf(s, "label\ttext\n");
        for (size_t i = 0; i < nh && i < sample_n; i++) fprintf(s, "%s\t%s\n", r.label[held[i]], r.text[held[i]]);
        fclose(s);
    }
    printf("{\"rows\":%zu,\"trained_on\":%zu,\"held_out\":%zu,\"folds\":%d,\"cv_macro_f1\":%.4f,\"cv_accuracy\":%.4f,"
           "\"heldout_macro_f1\":%.4f,\"heldout_accuracy\":%.4f,\"model_bytes\":%zu}\n",
           r.n, nt, nh, folds, cv, cv_acc, hf1, hacc, cls_model_bytes(m));
    cls_model_free(&m);
    for (size_t i = 0; i < r.n; i++) {
        free(r.label[i]);
        free(r.text[i]);
    }
    free(r.label);
    free(r.text);
    free(idx);
    return 0;
}
