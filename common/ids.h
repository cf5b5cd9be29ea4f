/* ids.h -- unique, time-sortable identifiers.
 * A jiesu id is 26 characters of Crockford base32: 48 bits of milliseconds
 * since the epoch then 80 random bits (ULID layout). Ids made in the same
 * millisecond by one process increase (the random part is incremented), so
 * they sort in creation order. Trace ids are 32 lowercase hex characters
 * (W3C trace-context). */
#ifndef JS_IDS_H
#define JS_IDS_H

#include <stdint.h>

#define JS_ID_LEN 26
#define JS_TRACE_LEN 32

/* Prototypes */
void js_id_new(char out[JS_ID_LEN + 1]);
void js_id_at(char out[JS_ID_LEN + 1], int64_t ms); /* a given time, random part (not monotonic) */
int js_id_valid(const char *s);                     /* 1 if a well-formed id */
int64_t js_id_time_ms(const char *id);              /* -1 if malformed */
void js_trace_new(char out[JS_TRACE_LEN + 1]);

#endif
