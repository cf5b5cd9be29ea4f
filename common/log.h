/* log.h -- one JSON object per line on stderr (or a file), one per event:
 * {"ts":"2026-11-22T23:08:46.123Z","level":"info","service":"intake",
 *  "instance":"host-1234","order":"...","trace":"...","msg":"..."}
 * The keys always come in that order; order and trace only when given (not
 * NULL, not empty). ts is UTC, ISO-8601 with milliseconds and Z; level is
 * debug, info, warn or error.
 *
 * Every line is valid JSON whatever the caller passes: in every string '"'
 * and '\' take a backslash, control characters (< 0x20) are written \u00XX,
 * and each byte that does not belong to a valid UTF-8 sequence (overlongs and
 * surrogates included) becomes U+FFFD.
 *
 * Contact data never goes in a log: callers pass masked values only, and as a
 * second guard every run of 7 or more ASCII digits in msg is masked:
 *   - a run of 11 or more keeps its first 3 and last 4 digits
 *     (13812345678 -> 138****5678, an 18-digit ID number -> 110***********1234);
 *   - a run of 7 to 10 keeps only its last 2 (1234567 -> *****67).
 * Shorter runs (counts, years, ports) stay. Only msg is masked, and only
 * plain runs: "138 1234 5678" is not caught, so the first guard is the one.
 * Ids with long digit runs belong in the order and trace fields.
 *
 * A line is at most JS_LOG_LINE_MAX bytes: a longer msg is cut at a character
 * boundary and ends with "...". Each line goes out in one write(2) on the
 * descriptor of out (stdio buffering is bypassed), and a write of at most
 * PIPE_BUF bytes is atomic, so lines from the threads of a process and from
 * processes sharing one pipe or O_APPEND file never interleave. If out has no
 * descriptor (open_memstream), lines go through fwrite and fflush instead.
 * js_log blocks while the output is full, as a blocking stderr would.
 *
 * js_log and js_log_enabled may be called from any thread; js_log_init and
 * js_log_set_level are meant for start-up (set_level is safe at any time).
 * Before js_log_init: service "jiesu", empty instance, level info, stderr. */
#ifndef JS_LOG_H
#define JS_LOG_H

#include <stdint.h>
#include <stdio.h>

#define JS_LOG_LINE_MAX 4096 /* bytes of one line with its '\n': PIPE_BUF on Linux */

enum { JS_LOG_DEBUG = 0, JS_LOG_INFO, JS_LOG_WARN, JS_LOG_ERROR };

/* Prototypes */
/* service and instance are copied; out must stay open while logging (NULL:
 * stderr). A level outside debug..error is clamped. */
void js_log_init(const char *service, const char *instance, int level, FILE *out);
int js_log_level_parse(const char *name); /* "debug".."error" (any case), -1 if unknown */
void js_log_set_level(int level);
int js_log_enabled(int level); /* 1 if a line of this level would be written */
void js_log(int level, const char *order_id, const char *trace_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Format one line into buf (no I/O) exactly as js_log would, msg masked and
 * cut to fit cap (at most JS_LOG_LINE_MAX is useful); the line ends with '\n'
 * and a NUL. Returns its length without the NUL, or 0 (buf "") when cap
 * cannot hold even the line without its msg. For tests and for callers with
 * their own transport. */
size_t js_log_format(char *buf, size_t cap, int64_t ts_ms, int level, const char *order_id,
                     const char *trace_id, const char *msg);

#define js_debug(...) do { if (js_log_enabled(JS_LOG_DEBUG)) js_log(JS_LOG_DEBUG, NULL, NULL, __VA_ARGS__); } while (0)
#define js_info(...) js_log(JS_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define js_warn(...) js_log(JS_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define js_error(...) js_log(JS_LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
