/* log.c -- JSON lines, one write(2) each. */
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsdefs.h"

#define LINE_MAX_BYTES 8192

static struct {
    char service[64];
    char instance[96];
    int level;
    int fd;
} s_log = {"jiesu", "", JS_LOG_INFO, 2};

static const char *s_levels[] = {"debug", "info", "warn", "error"};

void js_log_init(const char *service, const char *instance, int level, FILE *out) {
    snprintf(s_log.service, sizeof s_log.service, "%s", service ? service : "jiesu");
    snprintf(s_log.instance, sizeof s_log.instance, "%s", instance ? instance : "");
    s_log.level = level;
    s_log.fd = out ? fileno(out) : 2;
}

int js_log_level_parse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, s_levels[i]) == 0) return i;
    return -1;
}

void js_log_set_level(int level) { s_log.level = level; }
int js_log_enabled(int level) { return level >= s_log.level; }

typedef struct buf {
    char *p;
    size_t cap, len;
} buf_t;

static void s_put(buf_t *b, const char *s, size_t n) {
    if (b->len + n >= b->cap) n = b->len < b->cap - 1 ? b->cap - 1 - b->len : 0;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void s_puts(buf_t *b, const char *s) { s_put(b, s, strlen(s)); }

/* A JSON string, escaped; invalid UTF-8 bytes become U+FFFD. */
static void s_json_str(buf_t *b, const char *s, size_t n) {
    s_put(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            s_put(b, esc, 2);
            p++;
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            s_puts(b, esc);
            p++;
        } else if (c < 0x80) {
            s_put(b, (const char *)p, 1);
            p++;
        } else {
            size_t k = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            if (k && (size_t)(e - p) >= k && js_utf8_valid((const char *)p, k)) {
                s_put(b, (const char *)p, k);
                p += k;
            } else {
                s_puts(b, "\xEF\xBF\xBD");
                p++;
            }
        }
    }
    s_put(b, "\"", 1);
}

/* Mask runs of 7+ digits: 11 or more keep the first 3 and last 4
 * (13812345678 -> 138****5678); shorter runs keep only the last 2. */
static void s_mask_digits(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if (s[i] < '0' || s[i] > '9') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && s[j] >= '0' && s[j] <= '9') j++;
        size_t run = j - i;
        if (run >= 7) {
            size_t keep_head = run >= 11 ? 3 : 0, keep_tail = run >= 11 ? 4 : 2;
            for (size_t k = i + keep_head; k < j - keep_tail; k++) s[k] = '*';
        }
        i = j;
    }
}

size_t js_log_format(char *out, size_t cap, int64_t ts_ms, int level, const char *order_id, const char *trace_id,
                     const char *msg) {
    buf_t b = {out, cap, 0};
    out[0] = '\0';
    time_t secs = (time_t)(ts_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[96];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
    s_puts(&b, "{\"ts\":\"");
    s_puts(&b, ts);
    s_puts(&b, "\",\"level\":\"");
    s_puts(&b, s_levels[level < 0 ? 0 : level > 3 ? 3 : level]);
    s_puts(&b, "\",\"service\":");
    s_json_str(&b, s_log.service, strlen(s_log.service));
    s_puts(&b, ",\"instance\":");
    s_json_str(&b, s_log.instance, strlen(s_log.instance));
    if (order_id && *order_id) {
        s_puts(&b, ",\"order\":");
        s_json_str(&b, order_id, strlen(order_id));
    }
    if (trace_id && *trace_id) {
        s_puts(&b, ",\"trace\":");
        s_json_str(&b, trace_id, strlen(trace_id));
    }
    s_puts(&b, ",\"msg\":");
    /* An escaped byte takes at most 6: cut the raw message so the line always
     * closes, at a UTF-8 boundary. */
    size_t room = cap > b.len + 8 ? (cap - b.len - 8) / 6 : 0;
    size_t mlen = strlen(msg);
    if (mlen > room) {
        mlen = room;
        while (mlen > 0 && ((unsigned char)msg[mlen] & 0xC0) == 0x80) mlen--;
    }
    s_json_str(&b, msg, mlen);
    s_puts(&b, "}\n");
    return b.len;
}

void js_log(int level, const char *order_id, const char *trace_id, const char *fmt, ...) {
    if (level < s_log.level) return;
    char msg[LINE_MAX_BYTES / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_mask_digits(msg);
    char line[LINE_MAX_BYTES];
    size_t n = js_log_format(line, sizeof line, js_now_ms(), level, order_id, trace_id, msg);
    ssize_t w = write(s_log.fd, line, n); /* one write: lines of several processes do not interleave */
    (void)w;
}
