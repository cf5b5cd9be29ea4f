/* cls_features.h -- hashed character n-grams of a normalised text.
 *
 * Orders arrive unsegmented, so the features are the characters and the
 * runs of 2..nmax characters of the text with blanks skipped, each hashed
 * with its own seed per length into 2^bits buckets (collisions are accepted:
 * the hashing trick). A vector lists each bucket once with its count; the
 * model decides the weighting. The caller owns the vector and may reuse it
 * for many texts (its buffers grow and are kept). */
#ifndef CLS_FEATURES_H
#define CLS_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#define CLS_FEAT_MAX_N 5 /* longest n-gram a model may ask for */

typedef struct cls_fvec {
    uint32_t *idx;   /* bucket of each distinct feature, in first-seen order */
    uint32_t *cnt;   /* its count in the text */
    size_t n;        /* distinct features */
    size_t cap;      /* room in idx/cnt */
    uint64_t *tab;   /* scratch: open-addressing table of (bucket + 1) << 32 | position */
    size_t tabcap;   /* a power of two */
    const char *warm; /* optional: rows of the model that will score the vector, warm_stride bytes */
    size_t warm_stride; /* each: a new feature's row is prefetched as it is found, so the dot product
                         * that follows finds it in cache (NULL: nothing prefetched) */
} cls_fvec_t;

/* Prototypes */
void cls_fvec_init(cls_fvec_t *v);
void cls_fvec_free(cls_fvec_t *v);
/* Features of norm (len bytes, normalised UTF-8; invalid bytes are skipped)
 * into v, replacing what it held: n-grams of nmin..nmax characters (1 <=
 * nmin <= nmax <= CLS_FEAT_MAX_N), buckets below 2^bits (8 <= bits <= 26).
 * The n-grams ending in the first `head` characters count twice, once more
 * under their own seed: an order starts with its title, which says the most.
 * Returns the number of distinct features. */
size_t cls_featurize(const char *norm, size_t len, int nmin, int nmax, int head, int bits, cls_fvec_t *v);
/* Bytes of norm that hold its first max_chars characters (blanks not
 * counted; 0: all of it): where a long order says what it is about. */
size_t cls_feature_prefix(const char *norm, size_t len, uint32_t max_chars);

#endif
