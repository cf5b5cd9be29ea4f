/* cls_kb.c -- nearest question by character-bigram cosine. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls_kb.h"
#include "jsdefs.h"

#define KB_MAX_ENTRIES 4096
#define KB_MAX_BIGRAMS 512 /* of a text compared; longer texts are too long to match anyway */

typedef struct entry {
    char *id, *answer;
    uint32_t *gram; /* sorted distinct bigram hashes of the question */
    size_t ngram;
} entry_t;

struct cls_kb {
    entry_t *e;
    size_t n;
    size_t maxgram; /* most bigrams of any question */
};

static int s_cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int s_ignorable(uint32_t cp) {
    return cp == ' ' || (cp < 0x80 && !((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))) ||
           (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFF20) || (cp >= 0x2000 && cp <= 0x206F);
}

/* Sorted distinct bigram hashes of a normalised text, at most max; returns
 * how many, or max + 1 when there are more. */
static size_t s_grams(const char *s, size_t len, uint32_t *g, size_t max) {
    const unsigned char *p = (const unsigned char *)s;
    uint32_t prev = 0;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = js_utf8_next(p + i, len - i, &adv);
        i += adv;
        if (cp == 0 || s_ignorable(cp)) continue;
        if (prev) {
            if (n == max) return max + 1;
            uint64_t h = ((uint64_t)prev << 21 | cp) * 0x9E3779B97F4A7C15ull;
            g[n++] = (uint32_t)(h >> 32);
        }
        prev = cp;
    }
    qsort(g, n, sizeof *g, s_cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || g[m - 1] != g[i]) g[m++] = g[i];
    return m;
}

cls_kb_t *cls_kb_load(const char *path, const cls_norm_t *n, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cls_kb_t *kb = js_calloc(1, sizeof *kb);
    kb->e = js_calloc(KB_MAX_ENTRIES, sizeof *kb->e);
    char *line = NULL, why[128] = "";
    size_t cap = 0;
    int lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char *q = strchr(line, '\t'), *a = q ? strchr(q + 1, '\t') : NULL;
        if (!a || q == line || !a[1]) {
            snprintf(why, sizeof why, "want id<TAB>question<TAB>answer");
            break;
        }
        *q++ = '\0';
        *a++ = '\0';
        if (kb->n >= KB_MAX_ENTRIES || cls_kb_find(kb, line) >= 0) {
            snprintf(why, sizeof why, "too many entries or duplicate id %s", line);
            break;
        }
        char norm[4096];
        uint32_t g[KB_MAX_BIGRAMS];
        size_t l = cls_normalize(n, q, strlen(q), norm, sizeof norm, CLS_NORM_DROP_SPACE, NULL);
        size_t ng = s_grams(norm, l, g, KB_MAX_BIGRAMS);
        if (ng == 0 || ng > KB_MAX_BIGRAMS) {
            snprintf(why, sizeof why, "question of %s is empty or too long", line);
            break;
        }
        entry_t *e = &kb->e[kb->n++];
        e->id = js_strdup(line);
        e->answer = js_strdup(a);
        e->gram = js_malloc(ng * sizeof *e->gram);
        memcpy(e->gram, g, ng * sizeof *g);
        e->ngram = ng;
        if (ng > kb->maxgram) kb->maxgram = ng;
    }
    free(line);
    fclose(f);
    if (why[0]) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
        cls_kb_free(&kb);
        return NULL;
    }
    return kb;
}

int cls_kb_match(const cls_kb_t *kb, const char *norm, size_t len, float threshold, float *sim) {
    if (sim) *sim = 0;
    if (!kb || kb->n == 0 || threshold <= 0) return -1;
    /* cos <= sqrt(|q| / |t|): a text with more than maxgram / thr^2 bigrams cannot match */
    size_t limit = (size_t)((double)kb->maxgram / ((double)threshold * threshold)) + 1;
    if (limit > KB_MAX_BIGRAMS) limit = KB_MAX_BIGRAMS;
    uint32_t g[KB_MAX_BIGRAMS];
    size_t ng = s_grams(norm, len, g, limit);
    if (ng == 0 || ng > limit) return -1;
    int best = -1;
    double bs = 0;
    for (size_t i = 0; i < kb->n; i++) {
        const entry_t *e = &kb->e[i];
        size_t a = 0, b = 0, common = 0;
        while (a < ng && b < e->ngram) {
            if (g[a] == e->gram[b]) common++, a++, b++;
            else if (g[a] < e->gram[b]) a++;
            else b++;
        }
        double s = (double)common / sqrt((double)ng * (double)e->ngram);
        if (s > bs) bs = s, best = (int)i;
    }
    if (sim) *sim = (float)bs;
    return bs >= threshold ? best : -1;
}

const char *cls_kb_id(const cls_kb_t *kb, int i) {
    return i >= 0 && (size_t)i < kb->n ? kb->e[i].id : NULL;
}

const char *cls_kb_answer(const cls_kb_t *kb, int i) {
    return i >= 0 && (size_t)i < kb->n ? kb->e[i].answer : NULL;
}

int cls_kb_find(const cls_kb_t *kb, const char *id) {
    for (size_t i = 0; i < kb->n; i++)
        if (strcmp(kb->e[i].id, id) == 0) return (int)i;
    return -1;
}

size_t cls_kb_count(const cls_kb_t *kb) {
    return kb->n;
}

void cls_kb_free(cls_kb_t **kp) {
    if (!kp || !*kp) return;
    for (size_t i = 0; i < (*kp)->n; i++) free((*kp)->e[i].id), free((*kp)->e[i].answer), free((*kp)->e[i].gram);
    free((*kp)->e);
    free(*kp);
    *kp = NULL;
}
