/* cls_data.c -- reading labelled TSV, stratified folds, scores. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls_data.h"
#include "jsdefs.h"

int cls_data_class(cls_dataset_t *d, const char *label, int add) {
    for (int c = 0; c < d->k; c++)
        if (strcmp(d->label[c], label) == 0) return c;
    if (!add || d->k >= CLS_MAX_CLASSES || strlen(label) >= CLS_LABEL_MAX || !*label) return -1;
    snprintf(d->label[d->k], CLS_LABEL_MAX, "%s", label);
    return d->k++;
}

int cls_data_add(cls_dataset_t *d, const char *label, const char *text, size_t len, const cls_norm_t *n) {
    int c = cls_data_class(d, label, 1);
    if (c < 0) return -1;
    size_t cap = (len < CLS_NORM_MAX_IN ? len : CLS_NORM_MAX_IN) + 1;
    char *t = js_malloc(cap);
    cls_normalize(n, text, len, t, cap, CLS_NORM_DROP_SPACE, NULL);
    if ((d->n & (d->n - 1)) == 0) { /* grow at powers of two */
        size_t nc = d->n ? d->n * 2 : 64;
        d->text = js_realloc(d->text, nc * sizeof *d->text);
        d->y = js_realloc(d->y, nc * sizeof *d->y);
        if (d->wt) d->wt = js_realloc(d->wt, nc * sizeof *d->wt);
    }
    if (d->wt) d->wt[d->n] = 1.0f;
    d->text[d->n] = t;
    d->y[d->n++] = c;
    return c;
}

long cls_data_load(cls_dataset_t *d, const char *path, const cls_norm_t *n, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t l;
    long rows = 0, lineno = 0;
    while ((l = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = '\0';
        if (lineno == 1 && strncmp(line, "label\t", 6) == 0) continue;
        if (l == 0 || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        if (!tab) {
            snprintf(err, errlen, "%s:%ld: no tab (want label<TAB>text)", path, lineno);
            free(line);
            fclose(f);
            return -1;
        }
        *tab = '\0';
        if (cls_data_add(d, line, tab + 1, (size_t)(line + l - tab - 1), n) < 0) {
            snprintf(err, errlen, "%s:%ld: too many classes or bad label", path, lineno);
            free(line);
            fclose(f);
            return -1;
        }
        rows++;
    }
    free(line);
    fclose(f);
    return rows;
}

void cls_data_weights(cls_dataset_t *d) {
    if (d->wt) return;
    size_t cap = 64;
    while (cap < d->n) cap *= 2; /* at least what cls_data_add has made room for */
    d->wt = js_malloc(cap * sizeof *d->wt);
    for (size_t i = 0; i < d->n; i++) d->wt[i] = 1.0f;
}

void cls_data_free(cls_dataset_t *d) {
    for (size_t i = 0; i < d->n; i++) free(d->text[i]);
    free(d->text);
    free(d->y);
    free(d->wt);
    memset(d, 0, sizeof *d);
}

void cls_data_folds(const cls_dataset_t *d, int folds, uint64_t seed, int *fold) {
    size_t *ix = js_malloc((d->n ? d->n : 1) * sizeof *ix);
    uint64_t rng = seed ^ 0xF01D5ull;
    int start = 0;
    for (int c = 0; c < d->k; c++) {
        size_t m = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->y[i] == c) ix[m++] = i;
        for (size_t i = m; i > 1; i--) {
            size_t j = js_splitmix64(&rng) % i, t = ix[i - 1];
            ix[i - 1] = ix[j], ix[j] = t;
        }
        /* continue the round-robin where the last class stopped: folds stay even in size */
        for (size_t i = 0; i < m; i++) fold[ix[i]] = (int)((start + i) % (size_t)folds);
        start = (int)((start + m) % (size_t)folds);
    }
    free(ix);
}

void cls_class_prf(const cls_confusion_t *c, int i, double *p, double *r, double *f) {
    uint64_t tp = c->m[i][i], pred = 0, truth = 0;
    for (int j = 0; j < c->k; j++) pred += c->m[j][i], truth += c->m[i][j];
    *p = pred ? (double)tp / pred : 0;
    *r = truth ? (double)tp / truth : 0;
    *f = *p + *r > 0 ? 2 * *p * *r / (*p + *r) : 0;
}

double cls_macro_f1(const cls_confusion_t *c) {
    double s = 0;
    int present = 0;
    for (int i = 0; i < c->k; i++) {
        uint64_t truth = 0, pred = 0;
        for (int j = 0; j < c->k; j++) truth += c->m[i][j], pred += c->m[j][i];
        if (!truth && !pred) continue; /* a class absent from both sides says nothing */
        double p, r, f;
        cls_class_prf(c, i, &p, &r, &f);
        s += f;
        present++;
    }
    return present ? s / present : 0;
}

double cls_accuracy(const cls_confusion_t *c) {
    uint64_t ok = 0, all = 0;
    for (int i = 0; i < c->k; i++)
        for (int j = 0; j < c->k; j++) all += c->m[i][j], ok += i == j ? c->m[i][j] : 0;
    return all ? (double)ok / all : 0;
}
