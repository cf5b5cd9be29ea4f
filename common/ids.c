/* ids.c -- ULID-layout ids and W3C trace ids. */
#include "ids.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "jsdefs.h"

static const char s_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t s_last_ms = -1;
static uint8_t s_last_rand[10];

static void s_encode(char out[JS_ID_LEN + 1], int64_t ms, const uint8_t r[10]) {
    uint8_t b[16];
    for (int i = 0; i < 6; i++) b[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
    memcpy(b + 6, r, 10);
    /* 128 bits -> 26 base32 digits; the first digit holds the top 3 bits. */
    int bit = -2; /* 130 bits of output, 2 leading zero bits */
    for (int i = 0; i < JS_ID_LEN; i++) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++, bit++) {
            unsigned x = 0;
            if (bit >= 0) x = (b[bit / 8] >> (7 - bit % 8)) & 1u;
            v = (v << 1) | x;
        }
        out[i] = s_b32[v];
    }
    out[JS_ID_LEN] = '\0';
}

static void s_init(void) {
    if (sodium_init() < 0) abort();
}

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

void js_id_at(char out[JS_ID_LEN + 1], int64_t ms) {
    pthread_once(&s_once, s_init);
    uint8_t r[10];
    randombytes_buf(r, sizeof r);
    s_encode(out, ms, r);
}

void js_id_new(char out[JS_ID_LEN + 1]) {
    pthread_once(&s_once, s_init);
    int64_t ms = js_now_ms();
    uint8_t r[10];
    pthread_mutex_lock(&s_lock);
    if (ms <= s_last_ms) {
        /* Same millisecond (or the clock stepped back): keep the time, increment. */
        ms = s_last_ms;
        int i = 9;
        while (i >= 0 && ++s_last_rand[i] == 0) i--;
        if (i < 0) { /* 2^80 ids in one ms: move to the next ms */
            ms = ++s_last_ms;
            randombytes_buf(s_last_rand, sizeof s_last_rand);
            s_last_rand[0] &= 0x7f;
        }
    } else {
        s_last_ms = ms;
        randombytes_buf(s_last_rand, sizeof s_last_rand);
        s_last_rand[0] &= 0x7f; /* room to increment within one ms */
    }
    memcpy(r, s_last_rand, sizeof r);
    pthread_mutex_unlock(&s_lock);
    s_encode(out, ms, r);
}


static int s_val(char c) {
    const char *p = c ? strchr(s_b32, c) : NULL;
    return p ? (int)(p - s_b32) : -1;
}

int js_id_valid(const char *s) {
    if (!s || strlen(s) != JS_ID_LEN || s[0] > '7') return 0;
    for (int i = 0; i < JS_ID_LEN; i++)
        if (s_val(s[i]) < 0) return 0;
    return 1;
}

int64_t js_id_time_ms(const char *id) {
    if (!js_id_valid(id)) return -1;
    /* The first 10 digits hold 50 bits: the 48-bit time plus 2 leading zeros. */
    int64_t v = 0;
    for (int i = 0; i < 10; i++) v = (v << 5) | s_val(id[i]);
    return v;
}

void js_trace_new(char out[JS_TRACE_LEN + 1]) {
    pthread_once(&s_once, s_init);
    uint8_t b[16];
    do {
        randombytes_buf(b, sizeof b);
    } while (sodium_is_zero(b, sizeof b));
    sodium_bin2hex(out, JS_TRACE_LEN + 1, b, sizeof b);
}
