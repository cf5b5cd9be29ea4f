/* cls_normalize.c -- simplified, half-width, lower-case, blank-folded text.
 *
 * libopencc is slow next to the rest of the classifier (a dictionary walk and
 * an allocation per call) and most orders are already simplified, so at load
 * we learn which code points t2s changes on their own, and call opencc only
 * for a text that holds one of them; its phrase tables then see the whole
 * text, so context-dependent conversions stay right. */
#include <opencc/opencc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls_normalize.h"
#include "jsdefs.h"

#define TRAD_LO 0x3400 /* CJK extension A .. compatibility ideographs: where t2s acts */
#define TRAD_HI 0xFAFF

struct cls_norm {
    opencc_t cc;
    uint8_t trad[(TRAD_HI - TRAD_LO + 1 + 7) / 8]; /* 1 bit per code point that t2s changes */
};

size_t cls_utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
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

/* Every code point of the range, one per line, through t2s once: a line that
 * comes back different marks a traditional character. */
static int s_learn_trad(cls_norm_t *n) {
    size_t count = TRAD_HI - TRAD_LO + 1;
    char *buf = js_malloc(count * 4 + 1);
    size_t o = 0;
    for (uint32_t cp = TRAD_LO; cp <= TRAD_HI; cp++) {
        o += cls_utf8_put(cp, buf + o);
        buf[o++] = '\n';
    }
    buf[o] = '\0';
    char *conv = opencc_convert_utf8(n->cc, buf, o);
    free(buf);
    if (!conv) return -1;
    const char *p = conv;
    for (uint32_t cp = TRAD_LO; cp <= TRAD_HI && *p; cp++) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char mine[4];
        size_t ml = cls_utf8_put(cp, mine);
        if (l != ml || memcmp(p, mine, ml) != 0) n->trad[(cp - TRAD_LO) >> 3] |= (uint8_t)(1u << ((cp - TRAD_LO) & 7));
        p = nl ? nl + 1 : p + l;
    }
    opencc_convert_utf8_free(conv);
    return 0;
}

cls_norm_t *cls_norm_new(const char *t2s, char *err, size_t errlen) {
    cls_norm_t *n = js_calloc(1, sizeof *n);
    if (!t2s) return n;
    n->cc = opencc_open(t2s);
    if (n->cc == (opencc_t)-1) {
        if (err && errlen) snprintf(err, errlen, "opencc: cannot open %s: %s", t2s, opencc_error());
        free(n);
        return NULL;
    }
    if (s_learn_trad(n) < 0) {
        if (err && errlen) snprintf(err, errlen, "opencc: %s: %s", t2s, opencc_error());
        opencc_close(n->cc);
        free(n);
        return NULL;
    }
    return n;
}

void cls_norm_destroy(cls_norm_t **np) {
    if (!np || !*np) return;
    if ((*np)->cc && (*np)->cc != (opencc_t)-1) opencc_close((*np)->cc);
    free(*np);
    *np = NULL;
}

static int s_is_blank(uint32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0xA0 ||
           cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0xFEFF;
}

static int s_is_trad(const cls_norm_t *n, uint32_t cp) {
    return cp >= TRAD_LO && cp <= TRAD_HI && (n->trad[(cp - TRAD_LO) >> 3] >> ((cp - TRAD_LO) & 7) & 1);
}

/* Bytes of the run of ideographs U+4E00..9FFF at p (whole characters);
 * *trad is set if one of them is one t2s changes. */
static size_t s_cjk_run(const cls_norm_t *n, const unsigned char *p, size_t left, int *trad) {
    size_t i = 0;
    int t = 0;
    int check = n && n->cc;
    while (i + 3 <= left) {
        unsigned b0 = p[i], b1 = p[i + 1], b2 = p[i + 2];
        if (b0 < 0xE4 || b0 > 0xE9 || (b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80 || (b0 == 0xE4 && b1 < 0xB8)) break;
        uint32_t cp = (uint32_t)(b0 & 0x0F) << 12 | (uint32_t)(b1 & 0x3F) << 6 | (b2 & 0x3F);
        t |= check && s_is_trad(n, cp);
        i += 3;
    }
    *trad |= t;
    return i;
}

/* Context kept on each side of a traditional character when it is converted:
 * longer than t2s's phrases, so a phrase around the character converts as it
 * would in the whole text. opencc costs ~0.6 us a character, the rest of the
 * classifier ~0.05: a text with one stray traditional character pays for a
 * window, not for all of itself. */
#define CC_MARGIN 8

static size_t s_back(const char *s, size_t at, size_t floor, int chars) {
    for (int c = 0; c < chars && at > floor; c++) {
        at--;
        while (at > floor && ((unsigned char)s[at] & 0xC0) == 0x80) at--;
    }
    return at;
}

static void s_append(char **buf, size_t *len, size_t *bcap, const char *s, size_t l) {
    if (*len + l + 1 > *bcap) {
        while (*len + l + 1 > *bcap) *bcap *= 2;
        *buf = js_realloc(*buf, *bcap);
    }
    memcpy(*buf + *len, s, l);
    *len += l;
}

/* t2s over the windows of out (*o bytes) that hold a traditional character;
 * the result replaces out, cut to whole characters below cap (*truncated then
 * set). 0, or -1 if opencc failed (out is left as it was). */
static int s_convert(const cls_norm_t *n, char *out, size_t *o, size_t cap, int *truncated) {
    size_t bcap = *o + 64, rl = 0, done = 0, len = *o;
    char *res = js_malloc(bcap);
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = js_utf8_next((const unsigned char *)out + i, len - i, &adv);
        if (!s_is_trad(n, cp)) {
            i += adv;
            continue;
        }
        size_t start = s_back(out, i, done, CC_MARGIN), end = i + adv;
        for (int quiet = 0; end < len && quiet < CC_MARGIN;) { /* until CC_MARGIN plain characters follow */
            uint32_t c2 = js_utf8_next((const unsigned char *)out + end, len - end, &adv);
            end += adv;
            quiet = s_is_trad(n, c2) ? 0 : quiet + 1;
        }
        char *conv = opencc_convert_utf8(n->cc, out + start, end - start);
        if (!conv) {
            free(res);
            return -1;
        }
        s_append(&res, &rl, &bcap, out + done, start - done);
        s_append(&res, &rl, &bcap, conv, strlen(conv));
        opencc_convert_utf8_free(conv);
        done = i = end;
    }
    s_append(&res, &rl, &bcap, out + done, len - done);
    if (rl >= cap) { /* t2s seldom lengthens a text; keep whole characters */
        rl = cap - 1;
        while (rl > 0 && ((unsigned char)res[rl] & 0xC0) == 0x80) rl--;
        *truncated = 1;
    }
    memcpy(out, res, rl);
    out[rl] = '\0';
    *o = rl;
    free(res);
    return 0;
}

size_t cls_normalize(const cls_norm_t *n, const char *in, size_t len, char *out, size_t cap, int flags,
                     cls_norm_info_t *info) {
    cls_norm_info_t st = {0};
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    int need_cc = 0, space = 0;
    if (!in) len = 0;
    if (len > CLS_NORM_MAX_IN) len = CLS_NORM_MAX_IN, st.truncated = 1;
    if (cap == 0) return 0;
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = cls_utf8_next_fast(p + i, len - i, &adv);
        if (cp == 0 && !(adv == 1 && p[i] == 0)) {
            /* cut inside a character at the size cap: not the writer's fault */
            if (!(st.truncated && len - i < 4)) st.invalid++;
            i++;
            continue;
        }
        if (cp >= 0x4E00 && cp <= 0x9FFF) {
            /* the common case, a run of CJK ideographs (U+4E00..9FFF: lead bytes E4..E9): nothing
             * folds, so the run is found in one tight loop and copied whole */
            size_t run = s_cjk_run(n, p + i, len - i, &need_cc);
            size_t lead = space && o > 0 && !(flags & CLS_NORM_DROP_SPACE);
            if (o + lead + run >= cap) { /* keep whole characters that fit */
                run = cap - 1 > o + lead ? (cap - 1 - o - lead) / 3 * 3 : 0;
                st.truncated = 1;
                if (run == 0) break;
            }
            if (lead) out[o++] = ' ';
            space = 0;
            memcpy(out + o, p + i, run);
            o += run;
            i += run;
            st.chars += run / 3;
            st.cjk += run / 3;
            if (st.truncated) break;
            continue;
        }
        i += adv;
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0; /* full-width ASCII */
        if (s_is_blank(cp)) {
            space = 1;
            continue;
        }
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x200D)
            continue; /* controls, variation selectors, joiners: no meaning here */
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        char tmp[4];
        size_t l = cls_utf8_put(cp, tmp);
        size_t need = l + (space && o > 0 && !(flags & CLS_NORM_DROP_SPACE));
        if (o + need >= cap) {
            st.truncated = 1;
            break;
        }
        if (need > l) out[o++] = ' ';
        space = 0;
        memcpy(out + o, tmp, l);
        o += l;
        st.chars++;
        if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF))
            st.cjk++;
        else if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
            st.alnum++;
        if (n && n->cc && s_is_trad(n, cp)) need_cc = 1;
    }
    out[o] = '\0';
    if (need_cc && s_convert(n, out, &o, cap, &st.truncated) == 0) st.converted = 1;
    if (info) *info = st;
    return o;
}
