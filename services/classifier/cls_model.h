/* cls_model.h -- a linear classifier over hashed character n-grams.
 *
 * A text's features (cls_features.h) are weighted 1 + ln(count), times the
 * bucket's inverse document frequency if the model keeps one, and scaled to
 * unit length; class scores are a sparse dot product with the weights plus a
 * bias, and probabilities the softmax of scores / temperature. The
 * temperature is fitted on out-of-fold predictions, so the probabilities are
 * calibrated rather than over-sure. Training is deterministic for a seed:
 * either a one-vs-rest L2-loss linear SVM by dual coordinate descent, with
 * naive Bayes log-count ratios folded into the weights (NBSVM; the default,
 * the better on topics), or multinomial logistic regression by AdaGrad. A
 * trained model is read-only: threads may share one, each with its own
 * cls_fvec_t. */
#ifndef CLS_MODEL_H
#define CLS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cls_features.h"

#define CLS_MAX_CLASSES 16 /* classes a model may have */
#define CLS_LABEL_MAX 64   /* bytes of a class label, NUL included */

typedef struct cls_model cls_model_t;

typedef struct cls_train_opts {
    int bits;        /* 2^bits hash buckets (default 19) */
    int nmin, nmax;  /* n-gram lengths (default 1..2) */
    int head;        /* leading characters (the title) whose n-grams count again on their own */
    int max_chars;   /* features from the first max_chars characters only (0, the default: all) */
    int epochs;      /* passes over the data (default 50; the SVM stops earlier once converged) */
    float lr;        /* AdaGrad step (default 0.5) */
    float l2;        /* L2 penalty per update on touched weights (default 0) */
    int idf;         /* 1: weight features by inverse document frequency (default) */
    int qbits;       /* stored weights: 8 or 16 bits (default 8); 0 keeps floats (tests) */
    uint64_t seed;   /* shuffling */
    int svm;         /* 1 (default): one-vs-rest L2-loss linear SVM by dual coordinate descent instead */
    float c;         /* SVM cost (default 3) */
    int balance;     /* 1 (default): SVM cost per class inversely proportional to its size (for macro-F1) */
    int nb;          /* 1 (default): scale each class's features by their naive Bayes log-count ratio (NBSVM) */
    float mix;       /* > 0: average in a second SVM (the other nb setting, cost mix_c) with this weight */
    float mix_c;     /* its cost (0: c) */
} cls_train_opts_t;

typedef struct cls_dataset {
    char **text;     /* normalised texts, blanks dropped */
    int *y;          /* class of each, 0..k-1 */
    float *wt;       /* cost factor of each row (operator corrections count more); NULL: all 1 */
    size_t n;
    int k;
    char label[CLS_MAX_CLASSES][CLS_LABEL_MAX];
} cls_dataset_t;

/* Prototypes */
void cls_train_defaults(cls_train_opts_t *o);
/* Train on the rows of d listed in rows (nrows of them; NULL: all). */
cls_model_t *cls_model_train(const cls_dataset_t *d, const size_t *rows, size_t nrows, const cls_train_opts_t *o);
/* Class scores (before softmax) of a normalised text into z[k]. */
void cls_model_scores(const cls_model_t *m, const char *norm, size_t len, cls_fvec_t *scratch, float *z);
/* Probabilities into p[k] (may be NULL); returns the best class, its
 * probability in *conf. scratch is the caller's (reused across calls). */
int cls_model_predict(const cls_model_t *m, const char *norm, size_t len, cls_fvec_t *scratch, float *p, float *conf);
/* The same, from features already computed for this model (or one with the
 * same cls_model_features), so two models may share one featurisation. */
int cls_model_predict_fv(const cls_model_t *m, const cls_fvec_t *v, float *p, float *conf);
/* Two models applied together (the engine's topic and type): when they
 * featurise alike and are 8-bit, their weights are laid side by side so a
 * feature costs one cache line for both. The pair refers to a and b, which
 * must outlive it; it never fails. */
typedef struct cls_pair cls_pair_t;
cls_pair_t *cls_pair_new(const cls_model_t *a, const cls_model_t *b);
void cls_pair_free(cls_pair_t **pp);
/* Both models on one text (featurised once when they featurise alike):
 * best class and its probability of each. */
void cls_pair_predict(const cls_pair_t *p, const char *norm, size_t len, cls_fvec_t *scratch, int *ca, float *confa,
                      int *cb, float *confb);
/* Featurise for m into v (what cls_model_predict does first). */
void cls_model_features(const cls_model_t *m, const char *norm, size_t len, cls_fvec_t *v);
/* 1 if a and b featurise a text alike. */
int cls_model_same_features(const cls_model_t *a, const cls_model_t *b);
void cls_model_set_temperature(cls_model_t *m, float t);
float cls_model_temperature(const cls_model_t *m);

/* Fit the temperature minimising the log loss of scores z[n][k] against y. */
float cls_fit_temperature(const float *z, const int *y, size_t n, int k);
/* Store the weights in qbits (8 or 16) instead of floats. */
void cls_model_quantize(cls_model_t *m, int qbits);
int cls_model_save(const cls_model_t *m, const char *path); /* 0 or -errno */
cls_model_t *cls_model_load(const char *path, char *err, size_t errlen);
/* The class labels of a model file without loading its weights (for tools
 * that check a label, e.g. jiesuctl classify): *k labels into labels.
 * 0, or -1 with err. */
int cls_model_file_labels(const char *path, char labels[CLS_MAX_CLASSES][CLS_LABEL_MAX], int *k, char *err,
                          size_t errlen);
int cls_model_classes(const cls_model_t *m);
const char *cls_model_label(const cls_model_t *m, int c);
int cls_model_class_of(const cls_model_t *m, const char *label); /* -1 if none */
size_t cls_model_bytes(const cls_model_t *m); /* memory held by the weights */
void cls_model_free(cls_model_t **mp);

#endif
