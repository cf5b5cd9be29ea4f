/* log.h -- one JSON object per line on stderr (or a file), one per event:
 * {"ts":"2026-11-22T23:08:46.123Z","level":"info","service":"intake",
 *  "instance":"host-1234","order":"...","trace":"...","msg":"..."}
 * Contact data never goes in a log: callers pass masked values only, and as a
 * second guard every run of 7 or more digits in msg is masked (138****5678). */
#ifndef JS_LOG_H
#define JS_LOG_H

#include <stdint.h>
#include <stdio.h>

enum { JS_LOG_DEBUG = 0, JS_LOG_INFO, JS_LOG_WARN, JS_LOG_ERROR };

/* Prototypes */
void js_log_init(const char *service, const char *instance, int level, FILE *out);
int js_log_level_parse(const char *name); /* "debug".."error", -1 if unknown */
void js_log_set_level(int level);
int js_log_enabled(int level);
void js_log(int level, const char *order_id, const char *trace_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Format one line into buf (no I/O); returns its length. For tests. */
size_t js_log_format(char *buf, size_t cap, int64_t ts_ms, int level, const char *order_id,
                     const char *trace_id, const char *msg);

#define js_debug(...) do { if (js_log_enabled(JS_LOG_DEBUG)) js_log(JS_LOG_DEBUG, NULL, NULL, __VA_ARGS__); } while (0)
#define js_info(...) js_log(JS_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define js_warn(...) js_log(JS_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define js_error(...) js_log(JS_LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
