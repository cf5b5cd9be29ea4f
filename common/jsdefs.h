/* jsdefs.h -- what every module of libjiesu shares.
 *
 * Errors follow libuv: a call returns 0 or a negative errno value (-EINVAL,
 * -ETIMEDOUT, ...); when a call that takes a callback returns an error, the
 * callback is never called. js_strerror() gives the one-line text. */
#ifndef JS_DEFS_H
#define JS_DEFS_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#define JS_OK 0
/* Our own codes, below every errno value. */
#define JS_EPROTO_FIELD0 (-4001) /* protobuf: field number 0 */
#define JS_EUNKNOWN      (-4002) /* protobuf: unknown field */
#define JS_EREQUIRED     (-4003) /* a required field is missing or empty */
#define JS_EUTF8         (-4004) /* a string is not valid UTF-8 */
#define JS_ESTALE        (-4005) /* expected stage/version did not match */
#define JS_ESCRIPT       (-4006) /* Redis Function returned an error */

#define JS_UNUSED(x) ((void)(x))
#define JS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Prototypes */
const char *js_strerror(int err);
int64_t js_now_ms(void);        /* wall clock, ms since the epoch */
int64_t js_mono_ms(void);       /* monotonic, ms */
int64_t js_mono_us(void);       /* monotonic, us */
void *js_malloc(size_t n);      /* abort on OOM, like Redis zmalloc */
void *js_calloc(size_t n, size_t m);
void *js_realloc(void *p, size_t n);
char *js_strdup(const char *s);
/* Read fd to its end into buf, at most cap - 1 bytes, NUL-terminated (EINTR
 * retried): the bytes read, or a negative errno. A file that fills buf may
 * hold more: callers of small files treat n == cap - 1 as too long. */
ssize_t js_read_small(int fd, char *buf, size_t cap);
int js_utf8_valid(const char *s, size_t len); /* 1 if valid UTF-8 (no overlongs, no surrogates) */
/* The code point at p (left bytes there), its length in *adv; a byte that
 * does not start a well-formed character gives 0 with *adv 1 (so does NUL). */
uint32_t js_utf8_next(const unsigned char *p, size_t left, size_t *adv);

/* SplitMix64's finaliser: 64 well-mixed bits of z (hashing, SimHash, shuffles). */
static inline uint64_t js_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* SplitMix64: the next number of the sequence whose state is *s (deterministic for a seed). */
static inline uint64_t js_splitmix64(uint64_t *s) {
    return js_mix64(*s += 0x9E3779B97F4A7C15ull);
}

#endif
