/* jiesu-train -- train a classifier model from labelled TSV.
 *
 *   jiesu-train --data FILE.tsv [--data ...] --out MODEL [--kind topic|type]
 *               [--seed N] [--holdout FRAC] [--folds N]
 *               [--sample-out FILE --sample-n N] [--exclude FILE.tsv]
 *               [--weak RAW.tsv --cues TYPES.tsv] [--corrections FILE.tsv ... [--correction-weight W]]
 *               [--bits B] [--ngrams MIN-MAX] [--head N] [--max-chars N] [--epochs E] [--c X] [--mix W [--mix-c X]]
 *               [--qbits 8|16] [--logreg [--lr X] [--l2 X]] [--no-idf] [--no-nb] [--no-balance]
 *
 * The defaults are the shipped topic model's (cls_train_defaults): a
 * one-vs-rest linear SVM over hashed character 1-2-grams with the title's
 * n-grams counted again, idf, NB log-count ratios and balanced class costs;
 * --logreg trains multinomial logistic regression by AdaGrad instead; --mix W
 * averages in a second SVM with the other NB setting (weight W, cost --mix-c).
 * With --holdout, a stratified fraction is set aside first: it never reaches
 * training, is scored at the end (and --sample-out writes n of its rows, for
 * tests/data). The rest is scored by k-fold cross-validation, whose
 * out-of-fold scores also fit the model's temperature; then the model is
 * trained on the whole rest and saved. Deterministic for a seed. Prints one
 * JSON line; progress goes to stderr.
 * --corrections reads operators' decisions (`jiesuctl corrections`, TSV
 * label<TAB>text, labels among the data's classes): they join every training
 * set (each fold's and the final one) with cost W times a data row (default
 * 3: a person's label counts more than a weak one), and are never scored, so
 * the figures stay comparable. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/classifier/cls_data.h"
#include "../../services/classifier/cls_model.h"
#include "../../services/classifier/cls_normalize.h"
#include "cls_weak.h"
#include "jsdefs.h"

#define MAX_DATA 8

static void s_usage(void) {
    fprintf(stderr,
            "usage: jiesu-train --data FILE.tsv [--data ...] --out MODEL [--kind topic|type] [--seed N]\n"
            "         [--holdout FRAC] [--folds N] [--sample-out FILE --sample-n N] [--exclude FILE.tsv]\n"
            "         [--weak RAW.tsv --cues TYPES.tsv] [--corrections FILE.tsv ... [--correction-weight W]]\n"
            "         [--bits B] [--ngrams MIN-MAX] [--head N] [--max-chars N] [--epochs E] [--c X] [--mix W [--mix-c X]]\n"
            "         [--qbits 8|16] [--logreg [--lr X] [--l2 X]] [--no-idf] [--no-nb] [--no-balance]\n");
}

/* Score rows with model m into the confusion matrix; the raw scores go to z
 * (rows x k) when asked. */
static void s_score(const cls_model_t *m, const cls_dataset_t *d, const size_t *rows, size_t n, cls_confusion_t *cm,
                    float *z) {
    cls_fvec_t v;
    cls_fvec_init(&v);
    for (size_t i = 0; i < n; i++) {
        const char *t = d->text[rows[i]];
        float zz[CLS_MAX_CLASSES];
        cls_model_scores(m, t, strlen(t), &v, zz);
        int best = 0;
        for (int c = 1; c < d->k; c++)
            if (zz[c] > zz[best]) best = c;
        cm->m[d->y[rows[i]]][best]++;
        if (z) memcpy(z + i * (size_t)d->k, zz, (size_t)d->k * sizeof *z);
    }
    cls_fvec_free(&v);
}

static int s_write_sample(const char *path, const cls_dataset_t *d, const size_t *rows, size_t n, size_t want,
                          uint64_t seed) {
    size_t *pick = js_malloc((n ? n : 1) * sizeof *pick);
    memcpy(pick, rows, n * sizeof *pick);
    uint64_t rng = seed ^ 0x5A4D91Eull;
    for (size_t i = n; i > 1; i--) {
        size_t j = js_splitmix64(&rng) % i, t = pick[i - 1];
        pick[i - 1] = pick[j], pick[j] = t;
    }
    if (want > n) want = n;
    FILE *f = fopen(path, "w");
    if (!f) {
        free(pick);
        return -errno;
    }
    fprintf(f, "label\ttext\n");
    for (size_t i = 0; i < want; i++) fprintf(f, "%s\t%s\n", d->label[d->y[pick[i]]], d->text[pick[i]]);
    free(pick);
    return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv) {
    const char *data[MAX_DATA], *out = NULL, *kind = "topic", *sample_out = NULL, *exclude = NULL, *cues = NULL;
    const char *weak[MAX_DATA], *corr[MAX_DATA];
    int ndata = 0, nweak = 0, ncorr = 0, folds = 5;
    double corr_w = 3.0;
    size_t sample_n = 300;
    double holdout = 0;
    cls_train_opts_t o;
    cls_train_defaults(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--idf") == 0) o.idf = 1, takes = 0;
        else if (strcmp(a, "--svm") == 0) o.svm = 1, takes = 0;
        else if (strcmp(a, "--nb") == 0) o.nb = 1, takes = 0;
        else if (strcmp(a, "--balance") == 0) o.balance = 1, takes = 0;
        else if (strcmp(a, "--logreg") == 0) o.svm = 0, takes = 0;
        else if (strcmp(a, "--no-idf") == 0) o.idf = 0, takes = 0;
        else if (strcmp(a, "--no-nb") == 0) o.nb = 0, takes = 0;
        else if (strcmp(a, "--no-balance") == 0) o.balance = 0, takes = 0;

        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return s_usage(), 0;
        else if (!v) return s_usage(), 2;
        else if (strcmp(a, "--data") == 0 && ndata < MAX_DATA) data[ndata++] = v;
        else if (strcmp(a, "--weak") == 0 && nweak < MAX_DATA) weak[nweak++] = v;
        else if (strcmp(a, "--corrections") == 0 && ncorr < MAX_DATA) corr[ncorr++] = v;
        else if (strcmp(a, "--correction-weight") == 0) corr_w = atof(v);

        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--kind") == 0) kind = v;
        else if (strcmp(a, "--seed") == 0) o.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--holdout") == 0) holdout = atof(v);
        else if (strcmp(a, "--folds") == 0) folds = atoi(v);
        else if (strcmp(a, "--sample-out") == 0) sample_out = v;
        else if (strcmp(a, "--sample-n") == 0) sample_n = strtoul(v, NULL, 10);
        else if (strcmp(a, "--exclude") == 0) exclude = v;
        else if (strcmp(a, "--cues") == 0) cues = v;
        else if (strcmp(a, "--bits") == 0) o.bits = atoi(v);
        else if (strcmp(a, "--head") == 0) o.head = atoi(v);
        else if (strcmp(a, "--max-chars") == 0) o.max_chars = atoi(v);
        else if (strcmp(a, "--ngrams") == 0) {
            if (sscanf(v, "%d-%d", &o.nmin, &o.nmax) != 2) return s_usage(), 2;
        } else if (strcmp(a, "--epochs") == 0) o.epochs = atoi(v);
        else if (strcmp(a, "--lr") == 0) o.lr = (float)atof(v);
        else if (strcmp(a, "--l2") == 0) o.l2 = (float)atof(v);
        else if (strcmp(a, "--qbits") == 0) o.qbits = atoi(v);
        else if (strcmp(a, "--svm") == 0) o.svm = 1, takes = 0;
        else if (strcmp(a, "--c") == 0) o.c = (float)atof(v);
        else if (strcmp(a, "--mix") == 0) o.mix = (float)atof(v);
        else if (strcmp(a, "--mix-c") == 0) o.mix_c = (float)atof(v);

        else return s_usage(), 2;
        i += takes;
    }
    if ((!ndata && !nweak) || !out || (strcmp(kind, "topic") && strcmp(kind, "type")) || folds < 2 || folds > 20 ||
        holdout < 0 || holdout >= 0.9 || o.bits < 8 || o.bits > 26 || o.nmin < 1 || o.nmin > o.nmax ||
        o.max_chars < 0 || o.max_chars > 65536 ||
        o.nmax > CLS_FEAT_MAX_N || o.head < 0 || o.head > 4096 || o.epochs < 1 || (o.qbits != 8 && o.qbits != 16) || (nweak && !cues) ||
        !(corr_w > 0 && corr_w <= 100) || o.mix < 0)
        return s_usage(), 2;

    char err[512];
    cls_norm_t *norm = cls_norm_new("t2s.json", err, sizeof err);
    if (!norm) {
        fprintf(stderr, "jiesu-train: %s\n", err);
        return 1;
    }
    cls_dataset_t d = {0};
    if (strcmp(kind, "type") == 0) cls_weak_classes(&d); /* fixed order: consultation .. suggestion */
    for (int i = 0; i < ndata; i++)
        if (cls_data_load(&d, data[i], norm, err, sizeof err) < 0) {
            fprintf(stderr, "jiesu-train: %s\n", err);
            return 1;
        }
    if (nweak) {
        cls_weak_t *w = cls_weak_load(cues, err, sizeof err);
        if (!w) {
            fprintf(stderr, "jiesu-train: %s\n", err);
            return 1;
        }
        cls_dataset_t ex = {0};
        if (exclude && cls_data_load(&ex, exclude, norm, err, sizeof err) < 0) {
            fprintf(stderr, "jiesu-train: %s\n", err);
            return 1;
        }
        for (int i = 0; i < nweak; i++) {
            long r = cls_weak_label_file(w, weak[i], norm, &ex, &d, err, sizeof err);
            if (r < 0) {
                fprintf(stderr, "jiesu-train: %s\n", err);
                return 1;
            }
            fprintf(stderr, "jiesu-train: %s: %ld weakly labelled rows\n", weak[i], r);
        }
        cls_data_free(&ex);
        cls_weak_free(&w);
    }
    /* corrections last: rows [n0, d.n) */
    size_t n0 = d.n;
    for (int i = 0; i < ncorr; i++) {
        cls_dataset_t cd = {0};
        long r = cls_data_load(&cd, corr[i], norm, err, sizeof err);
        if (r < 0) {
            fprintf(stderr, "jiesu-train: %s\n", err);
            return 1;
        }
        cls_data_weights(&d);
        for (size_t j = 0; j < cd.n; j++) {
            const char *lab = cd.label[cd.y[j]];
            if (cls_data_class(&d, lab, 0) < 0) {
                fprintf(stderr, "jiesu-train: %s: label '%s' is not a class of the training data\n", corr[i], lab);
                return 1;
            }
            if (!*cd.text[j]) continue; /* nothing left to learn from */
            cls_data_add(&d, lab, cd.text[j], strlen(cd.text[j]), NULL); /* normalised already */
            d.wt[d.n - 1] = (float)corr_w;
        }
        fprintf(stderr, "jiesu-train: %s: %ld corrections (weight %.1f)\n", corr[i], r, corr_w);
        cls_data_free(&cd);
    }
    size_t nc = d.n - n0;
    cls_norm_destroy(&norm);
    if (n0 < (size_t)folds * 2 || d.k < 2) {
        fprintf(stderr, "jiesu-train: too few rows (%zu) or classes (%d)\n", n0, d.k);
        return 1;
    }
    for (int c = 0; c < d.k; c++) {
        size_t ncls = 0;
        for (size_t i = 0; i < d.n; i++) ncls += d.y[i] == c;
        fprintf(stderr, "jiesu-train: class %-16s %zu rows\n", d.label[c], ncls);
    }

    /* hold out: fold 0 of a split into round(1/holdout) stratified parts */
    int *fold = js_malloc(d.n * sizeof *fold);
    size_t *hold = js_malloc(d.n * sizeof *hold), *rest = js_malloc(d.n * sizeof *rest), nh = 0, nr = 0;
    cls_dataset_t dv = d; /* the data without corrections: they are not split */
    dv.n = n0;
    if (holdout > 0) {
        cls_data_folds(&dv, (int)lround(1.0 / holdout), o.seed ^ 0x401Dull, fold);
        for (size_t i = 0; i < n0; i++)
            if (fold[i] == 0) hold[nh++] = i;
            else rest[nr++] = i;
    } else {
        for (size_t i = 0; i < n0; i++) rest[nr++] = i;
    }

    /* k-fold cross-validation over the rest */
    cls_dataset_t sub = d; /* a view of the rest then the corrections, for stratified folds */
    sub.n = nr;
    sub.text = js_malloc((nr + nc) * sizeof *sub.text);
    sub.y = js_malloc((nr + nc) * sizeof *sub.y);
    sub.wt = d.wt ? js_malloc((nr + nc) * sizeof *sub.wt) : NULL;
    for (size_t i = 0; i < nr + nc; i++) {
        size_t r = i < nr ? rest[i] : n0 + (i - nr);
        sub.text[i] = d.text[r], sub.y[i] = d.y[r];
        if (sub.wt) sub.wt[i] = d.wt[r];
    }
    cls_data_folds(&sub, folds, o.seed, fold);
    sub.n = nr + nc;
    cls_confusion_t cv = {.k = d.k};
    float *z = js_malloc(nr * (size_t)d.k * sizeof *z);
    int *zy = js_malloc(nr * sizeof *zy);
    size_t nz = 0;
    size_t *tr = js_malloc((nr + nc) * sizeof *tr), *te = js_malloc(nr * sizeof *te);
    for (int f = 0; f < folds; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < nr; i++)
            if (fold[i] == f) te[nte++] = i;
            else tr[ntr++] = i;
        for (size_t i = nr; i < nr + nc; i++) tr[ntr++] = i; /* corrections train every fold */
        cls_train_opts_t fo = o;
        fo.qbits = 0; /* temperature is fitted on the same scores the saved model gives, near enough */
        cls_model_t *m = cls_model_train(&sub, tr, ntr, &fo);
        cls_confusion_t one = {.k = d.k};
        s_score(m, &sub, te, nte, &one, z + nz * (size_t)d.k);
        for (size_t i = 0; i < nte; i++) zy[nz + i] = sub.y[te[i]];
        nz += nte;
        for (int a = 0; a < d.k; a++)
            for (int b = 0; b < d.k; b++) cv.m[a][b] += one.m[a][b];
        fprintf(stderr, "jiesu-train: fold %d/%d macro-F1 %.4f\n", f + 1, folds, cls_macro_f1(&one));
        cls_model_free(&m);
    }
    float temp = cls_fit_temperature(z, zy, nz, d.k);
    for (int c = 0; c < d.k; c++) {
        double p, r, f;
        cls_class_prf(&cv, c, &p, &r, &f);
        fprintf(stderr, "jiesu-train: %-16s P %.3f R %.3f F1 %.3f |", d.label[c], p, r, f);
        for (int b = 0; b < d.k; b++) fprintf(stderr, " %4u", cv.m[c][b]);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "jiesu-train: %d-fold macro-F1 %.4f accuracy %.4f temperature %.3f\n", folds, cls_macro_f1(&cv),
            cls_accuracy(&cv), temp);

    size_t *all = js_malloc((nr + nc) * sizeof *all);
    memcpy(all, rest, nr * sizeof *all);
    for (size_t i = 0; i < nc; i++) all[nr + i] = n0 + i;
    cls_model_t *m = cls_model_train(&d, all, nr + nc, &o);
    free(all);
    cls_model_set_temperature(m, temp);
    int rc = 0;
    double hf1 = -1, hacc = -1;
    if (nh) {
        cls_confusion_t hc = {.k = d.k};
        s_score(m, &d, hold, nh, &hc, NULL);
        hf1 = cls_macro_f1(&hc), hacc = cls_accuracy(&hc);
        fprintf(stderr, "jiesu-train: held-out (%zu rows) macro-F1 %.4f accuracy %.4f\n", nh, hf1, hacc);
        if (sample_out && (rc = s_write_sample(sample_out, &d, hold, nh, sample_n, o.seed)) < 0)
            fprintf(stderr, "jiesu-train: %s: %s\n", sample_out, strerror(-rc));
    }
    int e = cls_model_save(m, out);
    if (e < 0) fprintf(stderr, "jiesu-train: %s: %s\n", out, strerror(-e)), rc = e;
    printf("{\"kind\":\"%s\",\"rows\":%zu,\"classes\":%d,\"folds\":%d,\"cv_macro_f1\":%.4f,\"cv_accuracy\":%.4f,"
           "\"holdout_rows\":%zu,\"holdout_macro_f1\":%.4f,\"holdout_accuracy\":%.4f,\"temperature\":%.3f,"
           "\"model_bytes\":%zu,\"corrections\":%zu,\"seed\":%llu}\n",
           kind, nr, d.k, folds, cls_macro_f1(&cv), cls_accuracy(&cv), nh, hf1, hacc, temp, cls_model_bytes(m),
           nc, (unsigned long long)o.seed);
    cls_model_free(&m);
    free(tr), free(te), free(z), free(zy), free(fold), free(hold), free(rest), free(sub.text), free(sub.y), free(sub.wt);
    cls_data_free(&d);
    return rc < 0 ? 1 : 0;
}
