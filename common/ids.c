/* ids.c -- ULID-layout ids and W3C trace ids. */
#include "ids.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsdefs.h"

#define RAND_BYTES 10 /* the 80-bit random part */

static const char s_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The monotonic sequence: the time and random part of the last id. */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static int64_t s_last_ms = -1;
static uint8_t s_rand[RAND_BYTES];
static int s_forked; /* set in a child: its next step in the same ms is random */

/* fork() while another thread holds s_lock would leave it locked forever in
 * the child: take it around the fork. */
static void s_prepare(void) { pthread_mutex_lock(&s_lock); }
static void s_parent(void) { pthread_mutex_unlock(&s_lock); }
static void s_child(void) {
    s_forked = 1;
    pthread_mutex_unlock(&s_lock);
}

static void s_init(void) {
    if (sodium_init() < 0) abort(); /* no entropy source: no id is safe to make */
    pthread_atfork(s_prepare, s_parent, s_child);
}

static int64_t s_clamp_ms(int64_t ms) { return ms < 0 ? 0 : ms > JS_ID_MS_MAX ? JS_ID_MS_MAX : ms; }

/* r += step, big-endian; returns 1 on overflow past 2^80 - 1. */
static int s_add(uint8_t r[RAND_BYTES], uint64_t step) {
    unsigned carry = 0;
    for (int i = RAND_BYTES - 1; i >= 0; i--) {
        unsigned sum = r[i] + (unsigned)(step & 0xff) + carry;
        r[i] = (uint8_t)sum;
        carry = sum >> 8;
        step >>= 8;
        if (!step && !carry) return 0;
    }
    return carry != 0;
}

/* 10 characters for the time (50 bits, the top 2 zero), then 8 for each
 * 40-bit half of the random part. */
static void s_encode(char out[JS_ID_LEN + 1], int64_t ms, const uint8_t r[RAND_BYTES]) {
    uint64_t t = (uint64_t)ms;
    for (int i = 9; i >= 0; i--, t >>= 5) out[i] = s_b32[t & 31];
    for (int h = 0; h < 2; h++) {
        uint64_t v = 0;
        for (int k = 0; k < 5; k++) v = v << 8 | r[5 * h + k];
        for (int i = 7; i >= 0; i--, v >>= 5) out[10 + 8 * h + i] = s_b32[v & 31];
    }
    out[JS_ID_LEN] = '\0';
}

static int s_val(char c) {
    const char *p = c ? strchr(s_b32, c) : NULL;
    return p ? (int)(p - s_b32) : -1;
}

void js_id_at(char out[JS_ID_LEN + 1], int64_t ms) {
    pthread_once(&s_once, s_init);
    uint8_t r[RAND_BYTES];
    randombytes_buf(r, sizeof r);
    s_encode(out, s_clamp_ms(ms), r);
}

void js_id_new(char out[JS_ID_LEN + 1]) {
    pthread_once(&s_once, s_init);
    uint8_t r[RAND_BYTES];
    pthread_mutex_lock(&s_lock);
    int64_t ms = s_clamp_ms(js_now_ms());
    if (ms > s_last_ms) {
        s_last_ms = ms;
        randombytes_buf(s_rand, sizeof s_rand);
    } else {
        /* Same ms, or the clock stepped back: stay on the last time. A child
         * of fork() shares its parent's last id: a random jump keeps the two
         * sequences apart (they meet with odds of about n / 2^63). */
        uint64_t step = 1;
        if (s_forked) {
            randombytes_buf(&step, sizeof step);
            step = (step >> 1) + 1;
        }
        if (s_add(s_rand, step)) {
            /* 2^80 ids in one ms cannot be told apart: the next ms. Waiting
             * is bounded by 1 ms; a clock that stepped back is not waited
             * for, the id borrows the next ms. */
            while ((ms = js_now_ms()) == s_last_ms) {
                struct timespec pause = {0, 100 * 1000};
                nanosleep(&pause, NULL);
            }
            s_last_ms = s_clamp_ms(ms > s_last_ms ? ms : s_last_ms + 1);
            randombytes_buf(s_rand, sizeof s_rand);
        }
    }
    s_forked = 0;
    ms = s_last_ms;
    memcpy(r, s_rand, sizeof r);
    pthread_mutex_unlock(&s_lock);
    s_encode(out, ms, r);
}

void js__id_set_last(int64_t ms, const uint8_t rnd[10]) {
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_lock);
    s_last_ms = ms;
    memcpy(s_rand, rnd, sizeof s_rand);
    pthread_mutex_unlock(&s_lock);
}

int js_id_valid(const char *s) {
    if (!s || s[0] > '7') return 0;
    for (int i = 0; i < JS_ID_LEN; i++)
        if (s_val(s[i]) < 0) return 0; /* also stops at a NUL before 26 */
    return s[JS_ID_LEN] == '\0';
}

int64_t js_id_time_ms(const char *id) {
    if (!js_id_valid(id)) return -1;
    int64_t v = 0;
    for (int i = 0; i < 10; i++) v = (v << 5) | s_val(id[i]);
    return v;
}

void js_trace_new(char out[JS_TRACE_LEN + 1]) {
    pthread_once(&s_once, s_init);
    uint8_t b[JS_TRACE_LEN / 2];
    do {
        randombytes_buf(b, sizeof b);
    } while (sodium_is_zero(b, sizeof b)); /* all zero is the W3C "invalid" trace id */
    sodium_bin2hex(out, JS_TRACE_LEN + 1, b, sizeof b);
}
