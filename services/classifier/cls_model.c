/* cls_model.c -- training, storing and applying the linear model.
 *
 * File layout (little-endian, as written by this host):
 *   "JSLR0003"  magic
 *   u32 k, bits, nmin, nmax, head, qbits, has_idf, max_chars
 *   ("JSLR0002" files, without max_chars, still load: they read the whole text)
 *   f32 temperature
 *   k x 64 bytes of labels, k x f32 bias, k x f32 scale (weight = q * scale)
 *   2^bits x k weights (int8 or int16; f32 when qbits is 0), class-minor, so
 *   one feature's weights sit together
 *   2^bits x u8 idf, quantised as idf = q / 16 (when has_idf)
 * Unused buckets are stored too: the file stays a plain array, loaded with
 * one read, and 2^20 x 7 int8 weights are 7 MB. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cls_model.h"
#include "cls_normalize.h"
#include "jsdefs.h"

#define MAGIC "JSLR0003"
#define MAGIC_V2 "JSLR0002" /* no max_chars */
#define HDR_WORDS 8
#define IDF_Q 16.0f /* idf stored as u8 in steps of 1/16: up to ln(N) < 16 */

struct cls_model {
    uint32_t k, bits, nmin, nmax, head, qbits, has_idf;
    uint32_t max_chars; /* features from the first max_chars characters only; 0: all */
    float temp;
    char label[CLS_MAX_CLASSES][CLS_LABEL_MAX];
    float bias[CLS_MAX_CLASSES];
    float scale[CLS_MAX_CLASSES];
    void *w;      /* [2^bits][k] of float, int8_t or int16_t */
    uint8_t *idf; /* [2^bits] or NULL */
    int8_t *row;  /* 8-bit models: [2^bits][k + 1], a feature's weights and its idf side by side,
                   * so scoring touches one cache line per feature; NULL otherwise */
};

/* Interleave weights and idf of an 8-bit model (see row above). */
static void s_pack(cls_model_t *m) {
    if (m->qbits != 8) return;
    size_t nb = (size_t)1 << m->bits, k = m->k;
    free(m->row);
    m->row = js_malloc(nb * (k + 1));
    const int8_t *w = m->w;
    for (size_t b = 0; b < nb; b++) {
        memcpy(m->row + b * (k + 1), w + b * k, k);
        m->row[b * (k + 1) + k] = (int8_t)(m->idf ? m->idf[b] : (uint8_t)IDF_Q);
    }
}

static float s_tfw[64]; /* 1 + ln(count) for small counts */

static void s_init_tables(void) {
    if (s_tfw[1] != 0) return;
    for (int i = 1; i < 64; i++) s_tfw[i] = 1.0f + logf((float)i);
}

static inline float s_tf(uint32_t c) {
    return c < 64 ? s_tfw[c] : 1.0f + logf((float)c);
}

/* Feature values of v: weighted and scaled to unit length, into val[]. */
static void s_values(const cls_model_t *m, const cls_fvec_t *v, float *val) {
    double ss = 0;
    for (size_t i = 0; i < v->n; i++) {
        float x = s_tf(v->cnt[i]);
        if (m->idf) x *= m->idf[v->idx[i]] * (1.0f / IDF_Q);
        val[i] = x;
        ss += (double)x * x;
    }
    if (ss > 0) {
        float inv = (float)(1.0 / sqrt(ss));
        for (size_t i = 0; i < v->n; i++) val[i] *= inv;
    }
}

static void s_dot(const cls_model_t *m, const cls_fvec_t *v, const float *val, float *z) {
    uint32_t k = m->k;
    float acc[CLS_MAX_CLASSES] = {0};
    if (m->qbits == 8) {
        const int8_t *w = m->w;
        for (size_t i = 0; i < v->n; i++) {
            const int8_t *r = w + (size_t)v->idx[i] * k;
            for (uint32_t c = 0; c < k; c++) acc[c] += r[c] * val[i];
        }
    } else if (m->qbits == 16) {
        const int16_t *w = m->w;
        for (size_t i = 0; i < v->n; i++) {
            const int16_t *r = w + (size_t)v->idx[i] * k;
            for (uint32_t c = 0; c < k; c++) acc[c] += r[c] * val[i];
        }
    } else {
        const float *w = m->w;
        for (size_t i = 0; i < v->n; i++) {
            const float *r = w + (size_t)v->idx[i] * k;
            for (uint32_t c = 0; c < k; c++) acc[c] += r[c] * val[i];
        }
    }
    for (uint32_t c = 0; c < k; c++) z[c] = acc[c] * m->scale[c] + m->bias[c];
}

static void s_softmax(const float *z, uint32_t k, float t, float *p) {
    float mx = z[0];
    for (uint32_t c = 1; c < k; c++)
        if (z[c] > mx) mx = z[c];
    float s = 0;
    for (uint32_t c = 0; c < k; c++) s += p[c] = expf((z[c] - mx) / t);
    for (uint32_t c = 0; c < k; c++) p[c] /= s;
}

/* The fast path: one pass, one row per feature; the dot product is linear,
 * so scaling to unit length can wait until the end. */
static void s_scores_packed(const cls_model_t *m, const cls_fvec_t *v, float *z) {
    size_t k = m->k, stride = k + 1;
    float acc[CLS_MAX_CLASSES] = {0};
    double ss = 0;
    const int8_t *rows = m->row;
    for (size_t i = 0; i < v->n; i++) {
        if (i + 8 < v->n) __builtin_prefetch(rows + (size_t)v->idx[i + 8] * stride);
        const int8_t *r = rows + (size_t)v->idx[i] * stride;
        float x = s_tf(v->cnt[i]) * (float)(uint8_t)r[k];
        ss += (double)x * x;
        for (size_t c = 0; c < k; c++) acc[c] += r[c] * x;
    }
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0;
    for (size_t c = 0; c < k; c++) z[c] = acc[c] * inv * m->scale[c] + m->bias[c];
}

/* Two packed models over the same features in one pass: the tf weight is
 * computed once and both rows are fetched together. */
static void s_scores_packed2(const cls_model_t *a, const cls_model_t *b, const cls_fvec_t *v, float *za, float *zb) {
    size_t ka = a->k, kb = b->k, sa = ka + 1, sb = kb + 1;
    float acca[CLS_MAX_CLASSES] = {0}, accb[CLS_MAX_CLASSES] = {0};
    double ssa = 0, ssb = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (i + 8 < v->n) {
            __builtin_prefetch(a->row + (size_t)v->idx[i + 8] * sa);
            __builtin_prefetch(b->row + (size_t)v->idx[i + 8] * sb);
        }
        const int8_t *ra = a->row + (size_t)v->idx[i] * sa, *rb = b->row + (size_t)v->idx[i] * sb;
        float tf = s_tf(v->cnt[i]), xa = tf * (float)(uint8_t)ra[ka], xb = tf * (float)(uint8_t)rb[kb];
        ssa += (double)xa * xa;
        ssb += (double)xb * xb;
        for (size_t c = 0; c < ka; c++) acca[c] += ra[c] * xa;
        for (size_t c = 0; c < kb; c++) accb[c] += rb[c] * xb;
    }
    float ia = ssa > 0 ? (float)(1.0 / sqrt(ssa)) : 0, ib = ssb > 0 ? (float)(1.0 / sqrt(ssb)) : 0;
    for (size_t c = 0; c < ka; c++) za[c] = acca[c] * ia * a->scale[c] + a->bias[c];
    for (size_t c = 0; c < kb; c++) zb[c] = accb[c] * ib * b->scale[c] + b->bias[c];
}

static void s_scores_fv(const cls_model_t *m, const cls_fvec_t *v, float *z) {
    if (m->row) {
        s_scores_packed(m, v, z);
        return;
    }
    float stackval[1024];
    float *val = v->n <= 1024 ? stackval : js_malloc(v->n * sizeof *val);
    s_values(m, v, val);
    s_dot(m, v, val, z);
    if (val != stackval) free(val);
}

void cls_model_features(const cls_model_t *m, const char *norm, size_t len, cls_fvec_t *v) {
    len = cls_feature_prefix(norm, len, m->max_chars);
    cls_featurize(norm, len, (int)m->nmin, (int)m->nmax, (int)m->head, (int)m->bits, v);
}

int cls_model_same_features(const cls_model_t *a, const cls_model_t *b) {
    return a->nmin == b->nmin && a->nmax == b->nmax && a->head == b->head && a->bits == b->bits &&
           a->max_chars == b->max_chars;
}

void cls_model_scores(const cls_model_t *m, const char *norm, size_t len, cls_fvec_t *scratch, float *z) {
    cls_model_features(m, norm, len, scratch);
    s_scores_fv(m, scratch, z);
}

int cls_model_predict_fv(const cls_model_t *m, const cls_fvec_t *v, float *p, float *conf) {
    float z[CLS_MAX_CLASSES], pp[CLS_MAX_CLASSES];
    s_scores_fv(m, v, z);
    s_softmax(z, m->k, m->temp, pp);
    int best = 0;
    for (uint32_t c = 1; c < m->k; c++)
        if (pp[c] > pp[best]) best = (int)c;
    if (p) memcpy(p, pp, m->k * sizeof *p);
    if (conf) *conf = pp[best];
    return best;
}

static int s_best(const cls_model_t *m, const float *z, float *p, float *conf) {
    float pp[CLS_MAX_CLASSES];
    s_softmax(z, m->k, m->temp, pp);
    int best = 0;
    for (uint32_t c = 1; c < m->k; c++)
        if (pp[c] > pp[best]) best = (int)c;
    if (p) memcpy(p, pp, m->k * sizeof *p);
    if (conf) *conf = pp[best];
    return best;
}

/* ---- two models over one featurisation ------------------------------------- */

/* A joint row: lanes 0..ka-1 a's weights times a's idf, then b's weights
 * times b's idf, then a's idf and b's idf; int16 holds every product
 * (|q| <= 127, idf < 256). 32 bytes: half a cache line. */
#define PAIR_LANES 16
#define PAIR_ROW (PAIR_LANES * (int)sizeof(int16_t))

struct cls_pair {
    const cls_model_t *a, *b;
    int16_t *row; /* [2^bits][PAIR_LANES]; NULL: the models are scored apart */
    void *base;   /* row's allocation (row is aligned within it) */
};

cls_pair_t *cls_pair_new(const cls_model_t *a, const cls_model_t *b) {
    cls_pair_t *p = js_calloc(1, sizeof *p);
    p->a = a, p->b = b;
    if (a->row && b->row && cls_model_same_features(a, b) && a->k + b->k + 2 <= PAIR_LANES) {
        size_t nb = (size_t)1 << a->bits, ka = a->k, kb = b->k;
        /* on 2 MiB pages where the kernel allows (THP "madvise"): a text's few
         * hundred scattered rows then cost no TLB misses */
        size_t bytes = nb * PAIR_ROW, huge = (size_t)2 << 20;
        p->base = js_malloc(bytes + huge);
        p->row = (int16_t *)(((uintptr_t)p->base + huge - 1) & ~(uintptr_t)(huge - 1));
        (void)madvise(p->row, bytes & ~(huge - 1), MADV_HUGEPAGE);
        memset(p->row, 0, bytes);
        for (size_t i = 0; i < nb; i++) {
            const int8_t *ra = a->row + i * (ka + 1), *rb = b->row + i * (kb + 1);
            int16_t *r = p->row + i * PAIR_LANES, ia = (uint8_t)ra[ka], ib = (uint8_t)rb[kb];
            for (size_t c = 0; c < ka; c++) r[c] = (int16_t)(ra[c] * ia);
            for (size_t c = 0; c < kb; c++) r[ka + c] = (int16_t)(rb[c] * ib);
            r[ka + kb] = ia, r[ka + kb + 1] = ib;
        }
    }
    return p;
}

void cls_pair_free(cls_pair_t **pp) {
    if (!pp || !*pp) return;
    free((*pp)->base);
    free(*pp);
    *pp = NULL;
}

/* Both models in one pass over joint rows: per feature one row, one
 * multiply by its tf weight and two vector sums (the products, and their
 * squares, of which the idf lanes give each model's length). */
typedef int16_t v16i16 __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

static void s_scores_pair(const cls_pair_t *p, const cls_fvec_t *v, float *za, float *zb) {
    const cls_model_t *a = p->a, *b = p->b;
    size_t ka = a->k, kb = b->k;
    v16f acc = {0}, sq = {0};
    for (size_t i = 0; i < v->n; i++) {
        v16i16 q;
        memcpy(&q, p->row + (size_t)v->idx[i] * PAIR_LANES, sizeof q);
        v16f x = __builtin_convertvector(q, v16f) * s_tf(v->cnt[i]);
        acc += x;
        sq += x * x;
    }
    float ia = sq[ka + kb] > 0 ? 1.0f / sqrtf(sq[ka + kb]) : 0, ib = sq[ka + kb + 1] > 0 ? 1.0f / sqrtf(sq[ka + kb + 1]) : 0;
    for (size_t c = 0; c < ka; c++) za[c] = acc[c] * ia * a->scale[c] + a->bias[c];
    for (size_t c = 0; c < kb; c++) zb[c] = acc[ka + c] * ib * b->scale[c] + b->bias[c];
}

void cls_pair_predict(const cls_pair_t *p, const char *norm, size_t len, cls_fvec_t *scratch, int *ca, float *confa,
                      int *cb, float *confb) {
    const cls_model_t *a = p->a, *b = p->b;
    scratch->warm = (const char *)p->row, scratch->warm_stride = PAIR_ROW;
    cls_model_features(a, norm, len, scratch);
    scratch->warm = NULL;
    float za[CLS_MAX_CLASSES], zb[CLS_MAX_CLASSES];
    if (p->row) {
        s_scores_pair(p, scratch, za, zb);
    } else if (a->row && b->row && cls_model_same_features(a, b)) {
        s_scores_packed2(a, b, scratch, za, zb);
    } else {
        s_scores_fv(a, scratch, za);
        if (!cls_model_same_features(a, b)) cls_model_features(b, norm, len, scratch);
        s_scores_fv(b, scratch, zb);
    }
    *ca = s_best(a, za, NULL, confa);
    *cb = s_best(b, zb, NULL, confb);
}

int cls_model_predict(const cls_model_t *m, const char *norm, size_t len, cls_fvec_t *scratch, float *p, float *conf) {
    cls_model_features(m, norm, len, scratch);
    return cls_model_predict_fv(m, scratch, p, conf);
}

/* ---- training ----------------------------------------------------------------- */

void cls_train_defaults(cls_train_opts_t *o) {
    /* the shipped topic model's settings: docs/CLASSIFIER.md tells how they were chosen */
    *o = (cls_train_opts_t){.bits = 19, .nmin = 1, .nmax = 2, .head = 20, .epochs = 50, .lr = 0.5f, .l2 = 0,
                            .idf = 1, .qbits = 8, .seed = 12345, .svm = 1, .c = 3.0f, .balance = 1, .nb = 1};
}

typedef struct sparse {
    uint32_t *idx;
    float *val;
    size_t n;
} sparse_t;

/* One-vs-rest L2-regularised L2-loss SVM, dual coordinate descent (Hsieh et
 * al., ICML 2008): each class is a binary problem over every row, with the
 * bias as a constant feature of value 1. */
static void s_train_svm1(cls_model_t *m, const cls_dataset_t *d, const size_t *rows, const sparse_t *ex, size_t nrows,
                         const cls_train_opts_t *o, float *w, float *bias) {
    size_t nb = (size_t)1 << m->bits, k = m->k;
    double *alpha = js_malloc((nrows ? nrows : 1) * sizeof *alpha), *qii = js_malloc((nrows ? nrows : 1) * sizeof *qii);
    size_t *order = js_malloc((nrows ? nrows : 1) * sizeof *order);
    double diag = 0.5 / o->c, cw[CLS_MAX_CLASSES];
    {
        size_t cnt[CLS_MAX_CLASSES] = {0};
        for (size_t i = 0; i < nrows; i++) cnt[d->y[rows ? rows[i] : i]]++;
        for (size_t c = 0; c < k; c++)
            cw[c] = o->balance && cnt[c] ? (double)nrows / ((double)k * (double)cnt[c]) : 1.0;
    }
    float *r = NULL; /* [bucket][k] log-count ratios, when asked */
    if (o->nb) {
        float *cnt = js_calloc(nb * k, sizeof *cnt), tot[CLS_MAX_CLASSES] = {0}, all = 0;
        for (size_t i = 0; i < nrows; i++) {
            int yi = d->y[rows ? rows[i] : i];
            for (size_t j = 0; j < ex[i].n; j++) cnt[(size_t)ex[i].idx[j] * k + yi] += 1.0f;
            tot[yi] += (float)ex[i].n;
            all += (float)ex[i].n;
        }
        r = js_malloc(nb * k * sizeof *r);
        for (size_t f = 0; f < nb; f++) {
            float sum = 0;
            for (size_t c = 0; c < k; c++) sum += cnt[f * k + c];
            for (size_t c = 0; c < k; c++) {
                float p = (cnt[f * k + c] + 1.0f) / (tot[c] + (float)nb), q = (sum - cnt[f * k + c] + 1.0f) / (all - tot[c] + (float)nb);
                r[f * k + c] = logf(p / q);
            }
        }
        free(cnt);
    }
#define XV(i, j, c) (r ? ex[i].val[j] * r[(size_t)ex[i].idx[j] * k + (c)] : ex[i].val[j])
    /* cost factor of row i: its class's balance times its own weight */
#define CI(i) (cw[d->y[rows ? rows[i] : i]] * (d->wt ? (double)d->wt[rows ? rows[i] : i] : 1.0))
    for (size_t i = 0; i < nrows; i++) {
        qii[i] = diag;
    }
    uint64_t rng = o->seed;
    for (size_t c = 0; c < k; c++) {
        double b = 0;
        for (size_t i = 0; i < nrows; i++) {
            double q = 1.0 + diag / CI(i); /* the bias feature */
            for (size_t j = 0; j < ex[i].n; j++) q += (double)XV(i, j, c) * XV(i, j, c);
            qii[i] = q;
        }
        memset(alpha, 0, nrows * sizeof *alpha);
        for (size_t i = 0; i < nrows; i++) order[i] = i;
        for (int ep = 0; ep < o->epochs; ep++) {
            for (size_t i = nrows; i > 1; i--) {
                size_t j = js_splitmix64(&rng) % i, t = order[i - 1];
                order[i - 1] = order[j], order[j] = t;
            }
            double maxpg = 0;
            for (size_t ii = 0; ii < nrows; ii++) {
                size_t i = order[ii];
                double yi = d->y[rows ? rows[i] : i] == (int)c ? 1.0 : -1.0;
                double wx = b;
                for (size_t j = 0; j < ex[i].n; j++) wx += (double)w[(size_t)ex[i].idx[j] * k + c] * XV(i, j, c);
                double g = yi * wx - 1.0 + diag / CI(i) * alpha[i];
                double pg = alpha[i] > 0 ? g : (g < 0 ? g : 0);
                if (fabs(pg) > maxpg) maxpg = fabs(pg);
                if (pg == 0) continue;
                double old = alpha[i];
                alpha[i] = fmax(old - g / qii[i], 0.0);
                double delta = (alpha[i] - old) * yi;
                if (delta == 0) continue;
                for (size_t j = 0; j < ex[i].n; j++) w[(size_t)ex[i].idx[j] * k + c] += (float)(delta * XV(i, j, c));
                b += delta;
            }
            if (maxpg < 0.01) break; /* converged: the projected gradient is small everywhere */
        }
        bias[c] = (float)b;
    }
    if (r) /* fold the ratios into the weights: inference stays one dot product */
        for (size_t f = 0; f < nb * k; f++) w[f] *= r[f];
#undef XV
#undef CI
    free(r);
    free(alpha), free(qii), free(order);
}

/* The SVM, or with o->mix > 0 the mean of two over the same features: the
 * NBSVM and a plain SVM weighted by mix. Both are linear in the same
 * feature values, so their mean is one linear model: the ensemble costs
 * nothing at inference. */
static void s_train_svm(cls_model_t *m, const cls_dataset_t *d, const size_t *rows, const sparse_t *ex, size_t nrows,
                        const cls_train_opts_t *o) {
    size_t n = ((size_t)1 << m->bits) * m->k;
    float *w = js_calloc(n, sizeof *w);
    s_train_svm1(m, d, rows, ex, nrows, o, w, m->bias);
    if (o->mix > 0) {
        cls_train_opts_t o2 = *o;
        o2.nb = !o->nb;
        o2.c = o->mix_c > 0 ? o->mix_c : o->c;
        o2.seed = o->seed ^ 0xE45Eull;
        float *w2 = js_calloc(n, sizeof *w2), b2[CLS_MAX_CLASSES] = {0};
        s_train_svm1(m, d, rows, ex, nrows, &o2, w2, b2);
        float a = 1.0f / (1.0f + o->mix), b = o->mix / (1.0f + o->mix);
        for (size_t f = 0; f < n; f++) w[f] = a * w[f] + b * w2[f];
        for (uint32_t c = 0; c < m->k; c++) m->bias[c] = a * m->bias[c] + b * b2[c];
        free(w2);
    }
    m->w = w;
}

cls_model_t *cls_model_train(const cls_dataset_t *d, const size_t *rows, size_t nrows, const cls_train_opts_t *o) {
    s_init_tables();
    cls_model_t *m = js_calloc(1, sizeof *m);
    m->k = (uint32_t)d->k;
    m->bits = (uint32_t)o->bits;
    m->nmin = (uint32_t)o->nmin;
    m->nmax = (uint32_t)o->nmax;
    m->head = (uint32_t)o->head;
    m->max_chars = o->max_chars > 0 ? (uint32_t)o->max_chars : 0;
    m->temp = 1.0f;
    memcpy(m->label, d->label, sizeof m->label);
    for (int c = 0; c < CLS_MAX_CLASSES; c++) m->scale[c] = 1.0f;
    size_t nb = (size_t)1 << o->bits, k = (size_t)d->k;
    if (!rows) nrows = d->n;

    /* featurise once; the idf needs every document first */
    sparse_t *ex = js_calloc(nrows ? nrows : 1, sizeof *ex);
    cls_fvec_t v;
    cls_fvec_init(&v);
    uint32_t *df = o->idf ? js_calloc(nb, sizeof *df) : NULL;
    for (size_t i = 0; i < nrows; i++) {
        const char *t = d->text[rows ? rows[i] : i];
        cls_featurize(t, cls_feature_prefix(t, strlen(t), m->max_chars), o->nmin, o->nmax, o->head, o->bits, &v);
        ex[i].n = v.n;
        ex[i].idx = js_malloc((v.n ? v.n : 1) * sizeof *ex[i].idx);
        ex[i].val = js_malloc((v.n ? v.n : 1) * sizeof *ex[i].val);
        memcpy(ex[i].idx, v.idx, v.n * sizeof *v.idx);
        for (size_t j = 0; j < v.n; j++) ex[i].val[j] = (float)v.cnt[j];
        if (df)
            for (size_t j = 0; j < v.n; j++) df[v.idx[j]]++;
    }
    if (df) {
        m->has_idf = 1;
        m->idf = js_malloc(nb);
        for (size_t b = 0; b < nb; b++) {
            float idf = logf((1.0f + (float)nrows) / (1.0f + (float)df[b])) + 1.0f;
            float q = roundf(idf * IDF_Q);
            m->idf[b] = (uint8_t)(q > 255 ? 255 : q);
        }
        free(df);
    }
    for (size_t i = 0; i < nrows; i++) {
        cls_fvec_t tmp = {.idx = ex[i].idx, .n = ex[i].n};
        uint32_t *cnt = js_malloc((ex[i].n ? ex[i].n : 1) * sizeof *cnt);
        for (size_t j = 0; j < ex[i].n; j++) cnt[j] = (uint32_t)ex[i].val[j];
        tmp.cnt = cnt;
        s_values(m, &tmp, ex[i].val);
        free(cnt);
    }
    cls_fvec_free(&v);

    if (o->svm) {
        s_train_svm(m, d, rows, ex, nrows, o);
        goto done;
    }
    float *w = js_calloc(nb * k, sizeof *w);
    float *g2 = js_calloc(nb * k, sizeof *g2);
    float gb[CLS_MAX_CLASSES] = {0};
    size_t *order = js_malloc((nrows ? nrows : 1) * sizeof *order);
    for (size_t i = 0; i < nrows; i++) order[i] = i;
    uint64_t rng = o->seed;
    m->w = w; /* s_dot reads floats while training */
    for (int ep = 0; ep < o->epochs; ep++) {
        for (size_t i = nrows; i > 1; i--) {
            size_t j = js_splitmix64(&rng) % i, t = order[i - 1];
            order[i - 1] = order[j], order[j] = t;
        }
        for (size_t ii = 0; ii < nrows; ii++) {
            size_t i = order[ii];
            int yi = d->y[rows ? rows[i] : i];
            float rw = d->wt ? d->wt[rows ? rows[i] : i] : 1.0f;
            cls_fvec_t fv = {.idx = ex[i].idx, .n = ex[i].n};
            float z[CLS_MAX_CLASSES], p[CLS_MAX_CLASSES];
            s_dot(m, &fv, ex[i].val, z);
            s_softmax(z, m->k, 1.0f, p);
            float g[CLS_MAX_CLASSES];
            for (size_t c = 0; c < k; c++) {
                g[c] = rw * (p[c] - (c == (size_t)yi ? 1.0f : 0.0f));
                gb[c] += g[c] * g[c];
                m->bias[c] -= o->lr * g[c] / sqrtf(gb[c] + 1e-6f);
            }
            for (size_t j = 0; j < ex[i].n; j++) {
                float x = ex[i].val[j];
                float *wr = w + (size_t)ex[i].idx[j] * k, *gr = g2 + (size_t)ex[i].idx[j] * k;
                for (size_t c = 0; c < k; c++) {
                    float gg = g[c] * x + o->l2 * wr[c];
                    gr[c] += gg * gg;
                    wr[c] -= o->lr * gg / sqrtf(gr[c] + 1e-6f);
                }
            }
        }
    }
    free(order);
    free(g2);
done:
    for (size_t i = 0; i < nrows; i++) free(ex[i].idx), free(ex[i].val);
    free(ex);
    if (o->qbits) cls_model_quantize(m, o->qbits);
    return m;
}

float cls_fit_temperature(const float *z, const int *y, size_t n, int k) {
    float best = 1.0f;
    double bestloss = INFINITY;
    for (float t = 0.05f; t <= 5.0f; t *= 1.05f) {
        double loss = 0;
        for (size_t i = 0; i < n; i++) {
            float p[CLS_MAX_CLASSES];
            s_softmax(z + i * (size_t)k, (uint32_t)k, t, p);
            loss -= log(p[y[i]] > 1e-12f ? p[y[i]] : 1e-12f);
        }
        if (loss < bestloss) bestloss = loss, best = t;
    }
    return best;
}

void cls_model_set_temperature(cls_model_t *m, float t) {
    if (t > 0) m->temp = t;
}

float cls_model_temperature(const cls_model_t *m) {
    return m->temp;
}

void cls_model_quantize(cls_model_t *m, int qbits) {
    if (m->qbits || (qbits != 8 && qbits != 16)) return;
    size_t nb = (size_t)1 << m->bits, k = m->k;
    const float *w = m->w;
    float qmax = qbits == 8 ? 127.0f : 32767.0f;
    for (size_t c = 0; c < k; c++) {
        float mx = 0;
        for (size_t b = 0; b < nb; b++) mx = fmaxf(mx, fabsf(w[b * k + c]));
        m->scale[c] = mx > 0 ? mx / qmax : 1.0f;
    }
    void *q = js_malloc(nb * k * (qbits / 8));
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < k; c++) {
            float r = roundf(w[b * k + c] / m->scale[c]);
            if (qbits == 8) ((int8_t *)q)[b * k + c] = (int8_t)r;
            else ((int16_t *)q)[b * k + c] = (int16_t)r;
        }
    free(m->w);
    m->w = q;
    m->qbits = (uint32_t)qbits;
    s_pack(m);
}

/* ---- file ------------------------------------------------------------------- */

static size_t s_wbytes(const cls_model_t *m) {
    return ((size_t)1 << m->bits) * m->k * (m->qbits ? m->qbits / 8 : sizeof(float));
}

int cls_model_save(const cls_model_t *m, const char *path) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "wb");
    if (!f) return -errno;
    uint32_t hdr[HDR_WORDS] = {m->k, m->bits, m->nmin, m->nmax, m->head, m->qbits, m->has_idf, m->max_chars};
    size_t nb = (size_t)1 << m->bits;
    int ok = fwrite(MAGIC, 8, 1, f) == 1 && fwrite(hdr, sizeof hdr, 1, f) == 1 &&
             fwrite(&m->temp, sizeof m->temp, 1, f) == 1 &&
             fwrite(m->label, CLS_LABEL_MAX, m->k, f) == m->k && fwrite(m->bias, sizeof(float), m->k, f) == m->k &&
             fwrite(m->scale, sizeof(float), m->k, f) == m->k && fwrite(m->w, s_wbytes(m), 1, f) == 1 &&
             (!m->has_idf || fwrite(m->idf, nb, 1, f) == 1);
    int e = ok ? 0 : -EIO;
    if (fclose(f) != 0 && !e) e = -errno;
    if (!e && rename(tmp, path) != 0) e = -errno;
    if (e) remove(tmp);
    return e;
}

/* Magic and header words of either version (a version 2 file has no
 * max_chars: it stays 0), and the temperature; NULL, or what is wrong. */
static const char *s_read_header(FILE *f, uint32_t hdr[HDR_WORDS], float *temp) {
    char magic[8];
    if (fread(magic, 8, 1, f) != 1) return "not a model file (bad magic)";
    size_t words = memcmp(magic, MAGIC, 8) == 0 ? HDR_WORDS : memcmp(magic, MAGIC_V2, 8) == 0 ? HDR_WORDS - 1 : 0;
    if (!words) return "not a model file (bad magic)";
    if (fread(hdr, sizeof *hdr, words, f) != words || fread(temp, sizeof *temp, 1, f) != 1) return "truncated header";
    return NULL;
}

cls_model_t *cls_model_load(const char *path, char *err, size_t errlen) {
    s_init_tables();
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cls_model_t *m = js_calloc(1, sizeof *m);
    uint32_t hdr[HDR_WORDS] = {0};
    const char *why = s_read_header(f, hdr, &m->temp);
    if (!why) {
        m->k = hdr[0], m->bits = hdr[1], m->nmin = hdr[2], m->nmax = hdr[3], m->head = hdr[4], m->qbits = hdr[5];
        m->has_idf = hdr[6], m->max_chars = hdr[7];
        if (m->k < 2 || m->k > CLS_MAX_CLASSES || m->bits < 8 || m->bits > 26 || m->nmin < 1 || m->nmin > m->nmax ||
            m->nmax > CLS_FEAT_MAX_N || m->head > 4096 || (m->qbits != 0 && m->qbits != 8 && m->qbits != 16) || m->has_idf > 1 ||
            m->max_chars > CLS_NORM_MAX_IN ||
            !(m->temp > 0.0f && m->temp < 100.0f))
            why = "bad header values";
    }
    if (!why) {
        size_t nb = (size_t)1 << m->bits;
        m->w = js_malloc(s_wbytes(m));
        if (m->has_idf) m->idf = js_malloc(nb);
        if (fread(m->label, CLS_LABEL_MAX, m->k, f) != m->k || fread(m->bias, sizeof(float), m->k, f) != m->k ||
            fread(m->scale, sizeof(float), m->k, f) != m->k || fread(m->w, s_wbytes(m), 1, f) != 1 ||
            (m->has_idf && fread(m->idf, nb, 1, f) != 1))
            why = "truncated";
        else if (fgetc(f) != EOF)
            why = "trailing bytes";
        for (uint32_t c = 0; !why && c < m->k; c++)
            if (memchr(m->label[c], 0, CLS_LABEL_MAX) == NULL || !m->label[c][0] || !isfinite(m->bias[c]) ||
                !isfinite(m->scale[c]))
                why = "bad label or bias";
    }
    fclose(f);
    if (why) {
        snprintf(err, errlen, "%s: %s", path, why);
        cls_model_free(&m);
        return NULL;
    }
    s_pack(m);
    return m;
}

int cls_model_file_labels(const char *path, char labels[CLS_MAX_CLASSES][CLS_LABEL_MAX], int *k, char *err,
                          size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    uint32_t hdr[HDR_WORDS] = {0};
    float temp;
    const char *why = s_read_header(f, hdr, &temp);
    if (!why && (hdr[0] < 2 || hdr[0] > CLS_MAX_CLASSES)) why = "bad header values";
    if (!why && fread(labels, CLS_LABEL_MAX, hdr[0], f) != hdr[0]) why = "truncated";
    for (uint32_t c = 0; !why && c < hdr[0]; c++)
        if (memchr(labels[c], 0, CLS_LABEL_MAX) == NULL || !labels[c][0]) why = "bad label";
    fclose(f);
    if (why) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    *k = (int)hdr[0];
    return 0;
}

int cls_model_classes(const cls_model_t *m) {
    return (int)m->k;
}

const char *cls_model_label(const cls_model_t *m, int c) {
    return c >= 0 && (uint32_t)c < m->k ? m->label[c] : "";
}

int cls_model_class_of(const cls_model_t *m, const char *label) {
    for (uint32_t c = 0; c < m->k; c++)
        if (strcmp(m->label[c], label) == 0) return (int)c;
    return -1;
}

size_t cls_model_bytes(const cls_model_t *m) {
    return s_wbytes(m) + (m->idf ? (size_t)1 << m->bits : 0) + (m->row ? ((size_t)1 << m->bits) * (m->k + 1) : 0);
}

void cls_model_free(cls_model_t **mp) {
    if (!mp || !*mp) return;
    free((*mp)->w);
    free((*mp)->idf);
    free((*mp)->row);
    free(*mp);
    *mp = NULL;
}
