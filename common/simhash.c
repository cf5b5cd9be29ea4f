/* simhash.c -- SimHash over character 3-shingles (see simhash.h). */
#include "simhash.h"

#include "jsdefs.h"

/* Blanks and punctuation, ASCII and CJK: they change with the writer's mood, not with the matter. */
static int s_not_matter(uint32_t cp) {
    return cp < 0x80 ? !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'))
                     : (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0x2000 && cp <= 0x206F) ||
                           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF5F && cp <= 0xFF65) || cp == 0xA0 ||
                           cp == 0xFEFF;
}

uint64_t js_simhash(const char *text, size_t len, size_t *shingles) {
    const unsigned char *p = (const unsigned char *)text;
    int32_t acc[64] = {0};
    uint32_t w[3] = {0};
    size_t have = 0, n = 0;
    if (!text) len = 0;
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = js_utf8_next(p + i, len - i, &adv);
        i += adv;
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0; /* full-width ASCII */
        if (cp == 0 || s_not_matter(cp)) continue;
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        w[2] = w[1], w[1] = w[0], w[0] = cp;
        if (++have < 3) continue;
        uint64_t h = js_mix64(((uint64_t)w[2] << 42) ^ ((uint64_t)w[1] << 21) ^ w[0]);
        n++;
        for (int b = 0; b < 64; b++) acc[b] += (h >> b & 1) ? 1 : -1;
    }
    if (shingles) *shingles = n;
    if (n == 0) return have > 0 ? js_mix64(((uint64_t)w[1] << 21) ^ w[0] ^ 0x5bd1e995) : 0;
    uint64_t r = 0;
    for (int b = 0; b < 64; b++)
        if (acc[b] > 0) r |= 1ull << b;
    return r;
}

int js_simhash_distance(uint64_t a, uint64_t b) {
    uint64_t x = a ^ b;
    int c = 0;
    for (; x; x &= x - 1) c++;
    return c;
}
