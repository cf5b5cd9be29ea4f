/* cls_normalize.h -- one spelling for every text the classifier looks at.
 *
 * Citizens type in simplified or traditional characters, full-width or
 * half-width letters, with or without blanks; the models and rules see one
 * form: simplified (libopencc t2s), half-width ASCII, lower case, no control
 * characters, blanks folded to one space or dropped, invalid UTF-8 dropped,
 * at most CLS_NORM_MAX_IN input bytes. A normaliser is read-only after
 * cls_norm_new, so threads may share one. */
#ifndef CLS_NORMALIZE_H
#define CLS_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "jsdefs.h"

#define CLS_NORM_MAX_IN 65536 /* input bytes looked at; an order longer than this is cut */
#define CLS_NORM_DROP_SPACE 1 /* flag: drop blanks instead of folding them to one space */

typedef struct cls_norm cls_norm_t;

typedef struct cls_norm_info {
    size_t chars;     /* code points written */
    size_t cjk;       /* of which CJK ideographs */
    size_t alnum;     /* of which ASCII letters and digits */
    size_t invalid;   /* input bytes dropped as invalid UTF-8 */
    int truncated;    /* 1: input was longer than CLS_NORM_MAX_IN (or than out) */
    int converted;    /* 1: traditional characters were converted */
} cls_norm_info_t;

/* Prototypes */
/* t2s: an opencc config name ("t2s.json") or NULL for no conversion. NULL and
 * a one-line err if opencc cannot open it. */
cls_norm_t *cls_norm_new(const char *t2s, char *err, size_t errlen);
void cls_norm_destroy(cls_norm_t **np);
/* Writes at most cap-1 bytes of whole UTF-8 characters and a NUL to out
 * (cap >= 1); returns the length. n may be NULL: then no t2s conversion.
 * info may be NULL. Never fails. */
size_t cls_normalize(const cls_norm_t *n, const char *in, size_t len, char *out, size_t cap, int flags,
                     cls_norm_info_t *info);
/* The UTF-8 encoding of cp into out (4 bytes of room); its length. Decoding
 * is js_utf8_next (jsdefs.h). */
size_t cls_utf8_put(uint32_t cp, char *out);

/* js_utf8_next with the two common cases inline: ASCII and a well-formed
 * 3-byte character (all of CJK). Same results. */
static inline uint32_t cls_utf8_next_fast(const unsigned char *p, size_t left, size_t *adv) {
    if (p[0] < 0x80) {
        *adv = 1;
        return p[0];
    }
    if ((p[0] & 0xF0) == 0xE0 && left >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        uint32_t cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
            *adv = 3;
            return cp;
        }
    }
    return js_utf8_next(p, left, adv);
}

#endif
