/* ids.h -- unique, time-sortable identifiers.
 * A jiesu id is 26 characters of Crockford base32, upper case
 * (0123456789ABCDEFGHJKMNPQRSTVWXYZ): 48 bits of milliseconds since the epoch
 * then 80 random bits, big-endian (ULID layout), so the first character is
 * at most '7' and ids sort as strings in time order.
 *
 * Ids made by one process with js_id_new strictly increase, from any thread:
 * in the same millisecond the random part of the last id is incremented; if
 * the wall clock steps back, the last time is kept (and incremented on) until
 * the clock passes it; should the random part overflow, js_id_new waits for
 * the next millisecond (or, the clock being behind, takes last + 1 ms). A
 * forked child jumps its random part by a random 64-bit step, so its ids stay
 * increasing and do not meet its parent's.
 * Randomness comes from libsodium (randombytes_buf); sodium_init() is called
 * once, on first use.
 *
 * Trace ids are 16 random bytes as 32 lowercase hex characters, never all
 * zero (W3C trace-context trace-id). */
#ifndef JS_IDS_H
#define JS_IDS_H

#include <stdint.h>

#define JS_ID_LEN    26
#define JS_TRACE_LEN 32
#define JS_ID_MS_MAX ((INT64_C(1) << 48) - 1) /* last millisecond an id can hold (year 10889) */

/* Prototypes */
void js_id_new(char out[JS_ID_LEN + 1]);
/* An id of a given time with a fresh random part, outside the monotonic
 * sequence (for tests and back-filling); ms is clamped to [0, JS_ID_MS_MAX]. */
void js_id_at(char out[JS_ID_LEN + 1], int64_t ms);
int js_id_valid(const char *s);        /* 1 if a well-formed id: length, alphabet, first char <= '7' */
int64_t js_id_time_ms(const char *id); /* -1 if malformed */
void js_trace_new(char out[JS_TRACE_LEN + 1]);

/* Internal, for tests: make the next js_id_new behave as if the last id had
 * been made at ms with random part rnd (10 bytes, big-endian). */
void js__id_set_last(int64_t ms, const uint8_t rnd[10]);

#endif
