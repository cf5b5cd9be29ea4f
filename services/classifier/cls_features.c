/* cls_features.c -- hashed character n-grams, counted once per bucket.
 *
 * Counting uses an open-addressing table sized to twice the number of
 * n-grams, so a text costs O(length) whatever its vocabulary. */
#include <stdlib.h>
#include <string.h>

#include "cls_features.h"
#include "cls_normalize.h"
#include "jsdefs.h"

static const uint64_t s_seed[CLS_FEAT_MAX_N + 1] = {
    0, 0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull, 0xD6E8FEB86659FD93ull,
    0xFF51AFD7ED558CCDull,
};

void cls_fvec_init(cls_fvec_t *v) {
    memset(v, 0, sizeof *v);
}

void cls_fvec_free(cls_fvec_t *v) {
    free(v->idx);
    free(v->cnt);
    free(v->tab);
    memset(v, 0, sizeof *v);
}

/* Room for n features; returns the table size to use for them (a power of
 * two, at least twice n, so probes stay short). */
static size_t s_reserve(cls_fvec_t *v, size_t n) {
    if (n > v->cap) {
        size_t c = v->cap ? v->cap : 256;
        while (c < n) c *= 2;
        v->idx = js_realloc(v->idx, c * sizeof *v->idx);
        v->cnt = js_realloc(v->cnt, c * sizeof *v->cnt);
        v->cap = c;
    }
    size_t t = 256;
    while (t < 2 * n) t *= 2;
    if (t > v->tabcap) {
        free(v->tab);
        v->tab = js_malloc(t * sizeof *v->tab);
        v->tabcap = t;
    }
    return t;
}

/* The counting table, in locals: through the vector's fields every store to
 * the table (uint64_t, like size_t) would make the compiler reload them. */
typedef struct counter {
    uint64_t *restrict tab; /* (bucket + 1) << 32 | position; 0: empty */
    uint32_t *restrict idx, *restrict cnt;
    size_t n, tmask;
    const char *warm; /* never NULL here: rows to prefetch, or one dummy row */
    size_t warm_stride;
} counter_t;

static const char s_no_warm[64];

static inline void s_add(counter_t *c, uint32_t b) {
    size_t s = b & c->tmask; /* b is a mixed hash already: its low bits will do */
    uint64_t key = (uint64_t)(b + 1) << 32;
    for (;;) {
        uint64_t e = c->tab[s];
        if (e == 0) {
            __builtin_prefetch(c->warm + (size_t)b * c->warm_stride);
            c->idx[c->n] = b;
            c->cnt[c->n] = 1;
            c->tab[s] = key | c->n++;
            return;
        }
        if ((e & 0xFFFFFFFF00000000ull) == key) {
            c->cnt[(uint32_t)e]++;
            return;
        }
        s = (s + 1) & c->tmask;
    }
}

/* Characters in len bytes of UTF-8: every byte that is not a continuation
 * byte (top bits 10) starts one (an invalid byte counts as one too: an upper
 * bound). Eight bytes at a time: a continuation byte has bit 7 set and bit 6
 * clear. */
/* Of the 8 bytes in w, a 1 in the low bit of each continuation byte. */
static inline uint64_t s_cont8(uint64_t w) {
    return (w & ~(w << 1) & 0x8080808080808080ull) >> 7;
}

/* The sum of the bytes of w (each at most 8): one multiply into the top byte. */
static inline size_t s_sum8(uint64_t w) {
    return (size_t)((w * 0x0101010101010101ull) >> 56);
}

static size_t s_chars(const unsigned char *p, size_t len) {
    size_t cont = 0, i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        cont += s_sum8(s_cont8(w));
    }
    for (; i < len; i++) cont += (p[i] & 0xC0) == 0x80;
    return len - cont;
}

size_t cls_featurize(const char *norm, size_t len, int nmin, int nmax, int head, int bits, cls_fvec_t *v) {
    const unsigned char *p = (const unsigned char *)norm;
    uint32_t win[CLS_FEAT_MAX_N] = {0}; /* last characters, newest first */
    size_t have = 0, pos = 0;
    uint32_t mask = (1u << bits) - 1;
    v->n = 0;
    if (nmin < 1) nmin = 1;
    if (nmax > CLS_FEAT_MAX_N) nmax = CLS_FEAT_MAX_N;
    /* at most one n-gram of each length per character, and as many again in the head */
    size_t chars = s_chars(p, len), hc = head > 0 ? ((size_t)head < chars ? (size_t)head : chars) : 0;
    size_t t = s_reserve(v, (chars + hc) * (size_t)(nmax - nmin + 1) + 1);
    memset(v->tab, 0, t * sizeof *v->tab);
    counter_t c = {.tab = v->tab, .idx = v->idx, .cnt = v->cnt, .n = 0, .tmask = t - 1,
                   .warm = v->warm ? v->warm : s_no_warm, .warm_stride = v->warm ? v->warm_stride : 0};
    if (nmin == 1 && nmax == 2) { /* the shipped models: the loop below, unrolled (same features, same order) */
        const uint64_t hx = 0x7E7E7E7E7E7E7E7Eull;
        uint32_t prev = 0;
        for (size_t i = 0; i < len;) {
            size_t adv;
            uint32_t cp = cls_utf8_next_fast(p + i, len - i, &adv);
            i += adv;
            if (cp == 0 || cp == ' ') continue;
            uint64_t h1 = (uint64_t)cp + 1, h2 = h1 * 0x100000001B3ull + prev + 1;
            int in_head = pos < (size_t)head;
            s_add(&c, (uint32_t)js_mix64(h1 ^ s_seed[1]) & mask);
            if (in_head) s_add(&c, (uint32_t)js_mix64(h1 ^ s_seed[1] ^ hx) & mask);
            if (pos > 0) {
                s_add(&c, (uint32_t)js_mix64(h2 ^ s_seed[2]) & mask);
                if (in_head) s_add(&c, (uint32_t)js_mix64(h2 ^ s_seed[2] ^ hx) & mask);
            }
            prev = cp;
            pos++;
        }
        return v->n = c.n;
    }
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = cls_utf8_next_fast(p + i, len - i, &adv);
        i += adv;
        if (cp == 0 || cp == ' ') continue;
        for (int k = CLS_FEAT_MAX_N - 1; k > 0; k--) win[k] = win[k - 1];
        win[0] = cp;
        if (have < CLS_FEAT_MAX_N) have++;
        uint64_t h = 0;
        for (int k = 1; k <= nmax && (size_t)k <= have; k++) {
            h = h * 0x100000001B3ull + win[k - 1] + 1;
            if (k < nmin) continue;
            s_add(&c, (uint32_t)js_mix64(h ^ s_seed[k]) & mask);
            if (pos < (size_t)head) s_add(&c, (uint32_t)js_mix64(h ^ s_seed[k] ^ 0x7E7E7E7E7E7E7E7Eull) & mask);
        }
        pos++;
    }
    return v->n = c.n;
}

size_t cls_feature_prefix(const char *norm, size_t len, uint32_t max_chars) {
    if (max_chars == 0 || len <= max_chars) return len; /* never more characters than bytes */
    const unsigned char *p = (const unsigned char *)norm;
    size_t chars = 0, i = 0;
    /* whole words while they cannot reach the limit: a character starts at every byte that is not a
     * continuation byte, and a blank starts none */
    for (; i + 8 <= len && chars + 8 <= max_chars; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t sp = w ^ 0x2020202020202020ull; /* a zero byte where w has a blank */
        sp = ~(((sp & 0x7F7F7F7F7F7F7F7Full) + 0x7F7F7F7F7F7F7F7Full) | sp | 0x7F7F7F7F7F7F7F7Full) >> 7;
        chars += 8 - s_sum8(s_cont8(w) + sp);
    }
    for (; i < len; i++) {
        if ((p[i] & 0xC0) == 0x80 || p[i] == ' ') continue;
        if (chars++ == max_chars) return i;
    }
    return len;
}
