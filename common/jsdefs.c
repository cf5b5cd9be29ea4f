/* jsdefs.c -- small shared helpers: errors, clocks, allocation, UTF-8. */
#include "jsdefs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *js_strerror(int err) {
    switch (err) {
    case JS_OK: return "ok";
    case JS_EPROTO_FIELD0: return "field number 0";
    case JS_EUNKNOWN: return "unknown field";
    case JS_EREQUIRED: return "required field missing";
    case JS_EUTF8: return "invalid UTF-8";
    case JS_ESTALE: return "stale stage or version";
    case JS_ESCRIPT: return "redis function error";
    default: return err < 0 ? strerror(-err) : "unknown error";
    }
}

int64_t js_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t js_mono_ms(void) { return js_mono_us() / 1000; }

int64_t js_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_oom(size_t n) {
    fprintf(stderr, "jiesu: out of memory allocating %zu bytes\n", n);
    abort();
}

void *js_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) s_oom(n);
    return p;
}

void *js_calloc(size_t n, size_t m) {
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) s_oom(n * m);
    return p;
}

void *js_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) s_oom(n);
    return q;
}

char *js_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = js_malloc(n);
    memcpy(d, s, n);
    return d;
}

uint32_t js_utf8_next(const unsigned char *p, size_t left, size_t *adv) {
    unsigned c = p[0];
    *adv = 1;
    if (c < 0x80) return c;
    size_t k;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) k = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) k = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (k > left) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    *adv = k;
    return cp;
}

int js_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        size_t adv;
        if (js_utf8_next(s + i, len - i, &adv) == 0 && s[i] != 0) return 0;
        i += adv;
    }
    return 1;
}

ssize_t js_read_small(int fd, char *buf, size_t cap) {
    if (cap == 0) return -EINVAL;
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}
