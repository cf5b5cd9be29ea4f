/* cls_model.c -- normalisation, hashed character n-grams, naive Bayes.
 *
 * Orders arrive as raw unsegmented Chinese, while the training file is
 * word-segmented: both go through cls_normalize, which removes every blank,
 * so the model sees the same character sequence either way. Features are the
 * characters and character pairs of the text, each counted once per message
 * (binarised multinomial naive Bayes, which suits short texts), hashed into a
 * fixed number of buckets. Inference is one pass over the text adding
 * log-probabilities: no allocation. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls.h"
#include "jsdefs.h"

#define MODEL_MAGIC "JSNB0001"
#define MAX_CLASSES 32
#define MAX_FEATS 8192 /* distinct features looked at per message */

struct cls_model {
    int k;                   /* classes */
    uint32_t buckets;        /* a power of two */
    char labels[MAX_CLASSES][64];
    float prior[MAX_CLASSES];
    float *logp;             /* [buckets][k]: one cache line serves every class of a feature */
    float scale;             /* posterior temperature: log-likelihood per feature times scale */
};

/* ---- text ------------------------------------------------------------------- */

/* Decode one UTF-8 code point; 0 on invalid (then *n = 1). */
static uint32_t s_next_cp(const unsigned char *p, size_t left, size_t *n) {
    unsigned c = p[0];
    *n = 1;
    if (c < 0x80) return c;
    size_t k = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!k || k > left || !js_utf8_valid((const char *)p, k)) return 0;
    uint32_t cp = c & (0xFF >> (k + 1));
    for (size_t i = 1; i < k; i++) cp = (cp << 6) | (p[i] & 0x3F);
    *n = k;
    return cp;
}

static size_t s_put_cp(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t cls_normalize(const char *in, size_t len, char *out, size_t cap, size_t *ncjk) {
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, cjk = 0;
    if (len > CLS_MAX_TEXT) len = CLS_MAX_TEXT;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t cp = s_next_cp(p + i, len - i, &n);
        i += n;
        if (cp == 0) continue;                              /* invalid byte, or NUL */
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;     /* full-width ASCII */
        if (cp == 0x3000 || cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0) continue;
        if (cp < 0x20 || cp == 0x7F) continue;
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF)) cjk++;
        if (o + 5 >= cap) break;
        o += s_put_cp(cp, out + o);
    }
    if (cap) out[o < cap ? o : cap - 1] = '\0';
    if (ncjk) *ncjk = cjk;
    return o;
}

/* ---- features ---------------------------------------------------------------- */

static inline uint32_t s_mix(uint32_t h) {
    h ^= h >> 16;
    h *= 0x7feb352d;
    h ^= h >> 15;
    h *= 0x846ca68b;
    h ^= h >> 16;
    return h;
}

/* Distinct features without sorting: a per-thread stamp per bucket, bumped
 * once per message (the stamps stay reachable from thread-local storage). */
static __thread uint32_t *tl_stamp;
static __thread size_t tl_cap;
static __thread uint32_t tl_epoch;

/* Distinct feature buckets of a normalised text; returns how many. */
static size_t s_features(const char *norm, size_t len, uint32_t mask, uint32_t *f, size_t max) {
    if (tl_cap < (size_t)mask + 1) {
        free(tl_stamp);
        tl_cap = (size_t)mask + 1;
        tl_stamp = js_calloc(tl_cap, sizeof *tl_stamp);
        tl_epoch = 0;
    }
    if (++tl_epoch == 0) { /* wrapped: forget every stamp */
        memset(tl_stamp, 0, tl_cap * sizeof *tl_stamp);
        tl_epoch = 1;
    }
    const unsigned char *p = (const unsigned char *)norm;
    size_t nf = 0;
    uint32_t prev = 0;
    for (size_t i = 0; i < len && nf + 2 <= max;) {
        size_t n;
        uint32_t cp = s_next_cp(p + i, len - i, &n);
        i += n;
        uint32_t a = s_mix(cp * 2654435761u) & mask;
        if (tl_stamp[a] != tl_epoch) {
            tl_stamp[a] = tl_epoch;
            f[nf++] = a;
        }
        if (prev) {
            uint32_t b = s_mix((prev * 0x9E3779B1u) ^ (cp + 0x632BE5ABu)) & mask;
            if (tl_stamp[b] != tl_epoch) {
                tl_stamp[b] = tl_epoch;
                f[nf++] = b;
            }
        }
        prev = cp;
    }
    return nf;
}

/* ---- model ------------------------------------------------------------------- */

int cls_model_classes(const cls_model_t *m) { return m->k; }
const char *cls_model_label(const cls_model_t *m, int k) { return k >= 0 && k < m->k ? m->labels[k] : ""; }
size_t cls_model_bytes(const cls_model_t *m) { return sizeof *m + (size_t)m->buckets * (size_t)m->k * sizeof(float); }

int cls_model_predict(const cls_model_t *m, const char *norm, size_t len, float *prob) {
    uint32_t f[MAX_FEATS];
    size_t nf = s_features(norm, len, m->buckets - 1, f, MAX_FEATS);
    double s[MAX_CLASSES];
    for (int k = 0; k < m->k; k++) s[k] = 0;
    for (size_t i = 0; i < nf; i++) {
        const float *row = m->logp + (size_t)f[i] * (size_t)m->k;
        for (int k = 0; k < m->k; k++) s[k] += row[k];
    }
    /* Naive Bayes is overconfident on long texts: the posterior uses the mean
     * log-likelihood per feature times a fitted scale (stored in the model). */
    double best = -INFINITY;
    int bk = 0;
    for (int k = 0; k < m->k; k++) {
        s[k] = (nf ? s[k] / (double)nf : 0) * m->scale + m->prior[k];
        if (s[k] > best) { best = s[k]; bk = k; }
    }
    double z = 0;
    for (int k = 0; k < m->k; k++) z += exp(s[k] - best);
    if (prob) *prob = (float)(1.0 / z);
    return bk;
}

cls_model_t *cls_model_train(char **labels, char **texts, size_t n, uint32_t buckets) {
    if (buckets < 1024 || (buckets & (buckets - 1))) return NULL;
    cls_model_t *m = js_calloc(1, sizeof *m);
    m->buckets = buckets;
    int *y = js_malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        int k;
        for (k = 0; k < m->k; k++)
            if (strcmp(m->labels[k], labels[i]) == 0) break;
        if (k == m->k) {
            if (m->k == MAX_CLASSES) { free(y); free(m); return NULL; }
            snprintf(m->labels[m->k++], sizeof m->labels[0], "%s", labels[i]);
        }
        y[i] = k;
    }
    double *cnt = js_calloc((size_t)buckets * (size_t)m->k, sizeof *cnt);
    double tot[MAX_CLASSES] = {0}, docs[MAX_CLASSES] = {0};
    uint32_t *f = js_malloc(MAX_FEATS * sizeof *f);
    char *norm = js_malloc(CLS_MAX_TEXT + 8);
    for (size_t i = 0; i < n; i++) {
        size_t len = cls_normalize(texts[i], strlen(texts[i]), norm, CLS_MAX_TEXT + 8, NULL);
        size_t nf = s_features(norm, len, buckets - 1, f, MAX_FEATS);
        for (size_t j = 0; j < nf; j++) cnt[(size_t)f[j] * (size_t)m->k + (size_t)y[i]] += 1;
        tot[y[i]] += (double)nf;
        docs[y[i]] += 1;
    }
    const double alpha = 0.1;
    m->logp = js_malloc((size_t)buckets * (size_t)m->k * sizeof(float));
    for (int k = 0; k < m->k; k++) {
        double denom = tot[k] + alpha * buckets;
        for (uint32_t b = 0; b < buckets; b++)
            m->logp[(size_t)b * (size_t)m->k + (size_t)k] = (float)log((cnt[(size_t)b * (size_t)m->k + (size_t)k] + alpha) / denom);
        m->prior[k] = (float)log((docs[k] + 1) / ((double)n + m->k));
    }
    /* Fit the posterior scale on the training set: the one that minimises log loss. */
    double best_loss = INFINITY;
    float best_scale = 1;
    for (float sc = 5; sc <= 400; sc *= 1.25f) {
        m->scale = sc;
        double loss = 0;
        size_t step = n > 3000 ? n / 3000 : 1;
        for (size_t i = 0; i < n; i += step) {
            size_t len = cls_normalize(texts[i], strlen(texts[i]), norm, CLS_MAX_TEXT + 8, NULL);
            size_t nf = s_features(norm, len, buckets - 1, f, MAX_FEATS);
            double s[MAX_CLASSES] = {0}, mx = -INFINITY, z = 0;
            for (size_t j = 0; j < nf; j++)
                for (int k = 0; k < m->k; k++) s[k] += m->logp[(size_t)f[j] * (size_t)m->k + (size_t)k];
            for (int k = 0; k < m->k; k++) {
                s[k] = (nf ? s[k] / (double)nf : 0) * sc + m->prior[k];
                if (s[k] > mx) mx = s[k];
            }
            for (int k = 0; k < m->k; k++) z += exp(s[k] - mx);
            loss -= s[y[i]] - mx - log(z);
        }
        if (loss < best_loss) { best_loss = loss; best_scale = sc; }
    }
    m->scale = best_scale;
    free(norm);
    free(f);
    free(cnt);
    free(y);
    return m;
}

int cls_model_save(const cls_model_t *m, const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return -errno;
    uint32_t k = (uint32_t)m->k;
    int ok = fwrite(MODEL_MAGIC, 1, 8, f) == 8 && fwrite(&k, 4, 1, f) == 1 && fwrite(&m->buckets, 4, 1, f) == 1 &&
             fwrite(&m->scale, 4, 1, f) == 1 && fwrite(m->labels, sizeof m->labels[0], k, f) == k &&
             fwrite(m->prior, sizeof(float), k, f) == k &&
             fwrite(m->logp, sizeof(float), (size_t)m->buckets * k, f) == (size_t)m->buckets * k;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

cls_model_t *cls_model_load(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s (build it: make model)", path, strerror(errno));
        return NULL;
    }
    cls_model_t *m = js_calloc(1, sizeof *m);
    char magic[8];
    uint32_t k = 0;
    int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, MODEL_MAGIC, 8) == 0 && fread(&k, 4, 1, f) == 1 &&
             k >= 2 && k <= MAX_CLASSES && fread(&m->buckets, 4, 1, f) == 1 && m->buckets >= 1024 &&
             m->buckets <= (1u << 24) && !(m->buckets & (m->buckets - 1)) && fread(&m->scale, 4, 1, f) == 1 &&
             isfinite(m->scale) && fread(m->labels, sizeof m->labels[0], k, f) == k &&
             fread(m->prior, sizeof(float), k, f) == k;
    if (ok) {
        m->k = (int)k;
        for (uint32_t i = 0; i < k; i++) m->labels[i][sizeof m->labels[0] - 1] = '\0';
        m->logp = js_malloc((size_t)m->buckets * k * sizeof(float));
        ok = fread(m->logp, sizeof(float), (size_t)m->buckets * k, f) == (size_t)m->buckets * k && fgetc(f) == EOF;
    }
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: not a jiesu topic model (or truncated)", path);
        free(m->logp);
        free(m);
        return NULL;
    }
    return m;
}

void cls_model_free(cls_model_t **mp) {
    if (!mp || !*mp) return;
    free((*mp)->logp);
    free(*mp);
    *mp = NULL;
}

/* ---- SimHash -------------------------------------------------------------- */

uint64_t cls_simhash(const char *text, size_t len) {
    char norm[4096];
    size_t n = cls_normalize(text, len, norm, sizeof norm, NULL);
    int v[64] = {0};
    const unsigned char *p = (const unsigned char *)norm;
    uint32_t prev = 0;
    for (size_t i = 0; i < n;) {
        size_t k;
        uint32_t cp = s_next_cp(p + i, n - i, &k);
        i += k;
        if (prev) {
            uint64_t h = ((uint64_t)s_mix(prev ^ 0x5bd1e995u) << 32) | s_mix(cp * 0x9E3779B1u + prev);
            for (int b = 0; b < 64; b++) v[b] += (h >> b) & 1 ? 1 : -1;
        }
        prev = cp;
    }
    uint64_t out = 0;
    for (int b = 0; b < 64; b++)
        if (v[b] > 0) out |= (uint64_t)1 << b;
    return out;
}

int cls_simhash_distance(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }
