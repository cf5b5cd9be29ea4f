/* log.c -- JSON lines, one write(2) each. */
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "jsdefs.h"

/* ,"service":"...","instance":"..." escaped once at init, as both never change. */
#define PREFIX_MAX 1024

static struct {
    char prefix[PREFIX_MAX];
    int level; /* read and written with __atomic: set_level may race with js_log */
    int fd;    /* -1: no descriptor, use file */
    FILE *file;
} s_log = {",\"service\":\"jiesu\",\"instance\":\"\"", JS_LOG_INFO, 2, NULL};

static const char *s_levels[] = {"debug", "info", "warn", "error"};

static int s_clamp(int level) { return level < JS_LOG_DEBUG ? JS_LOG_DEBUG : level > JS_LOG_ERROR ? JS_LOG_ERROR : level; }

/* ---- escaping ------------------------------------------------------------ */

/* Walks a string one output unit at a time, so a cut always falls between
 * units: never inside an escape, a UTF-8 sequence or a masked run's logic. */
typedef struct esc {
    const unsigned char *s;
    size_t n, i;
    int mask;            /* apply the digit-run rule (msg only) */
    size_t run_i, run_j; /* the digit run around i: [run_i, run_j) */
} esc_t;

static int s_digit(unsigned c) { return c >= '0' && c <= '9'; }

/* Writes the next unit into u (at most 6 bytes) and returns its size. */
static size_t s_unit(esc_t *e, char u[6]) {
    static const char hex[] = "0123456789abcdef";
    unsigned c = e->s[e->i];
    if (e->mask && s_digit(c)) {
        if (e->i >= e->run_j) {
            e->run_i = e->run_j = e->i;
            while (e->run_j < e->n && s_digit(e->s[e->run_j])) e->run_j++;
        }
        size_t len = e->run_j - e->run_i, before = e->i - e->run_i, left = e->run_j - e->i;
        int hide = len >= 11 ? (before >= 3 && left > 4) : len >= 7 ? left > 2 : 0;
        u[0] = hide ? '*' : (char)c;
        e->i++;
        return 1;
    }
    if (c == '"' || c == '\\') {
        u[0] = '\\';
        u[1] = (char)c;
        e->i++;
        return 2;
    }
    if (c < 0x20) {
        memcpy(u, "\\u00", 4);
        u[4] = hex[c >> 4];
        u[5] = hex[c & 15];
        e->i++;
        return 6;
    }
    if (c < 0x80) {
        u[0] = (char)c;
        e->i++;
        return 1;
    }
    size_t k = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (k && e->n - e->i >= k && js_utf8_valid((const char *)e->s + e->i, k)) {
        memcpy(u, e->s + e->i, k);
        e->i += k;
        return k;
    }
    memcpy(u, "\xEF\xBF\xBD", 3); /* U+FFFD for this one byte; the next may start a valid sequence */
    e->i++;
    return 3;
}

typedef struct buf {
    char *p;
    size_t len, limit; /* write no byte at or past limit */
} buf_t;

static int s_put(buf_t *b, const char *s, size_t n) {
    if (n > b->limit - b->len) return 0;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 1;
}

static int s_puts(buf_t *b, const char *s) { return s_put(b, s, strlen(s)); }

/* Escapes s (no quotes) into b while units fit; 1 if all of s went in. */
static int s_escape(buf_t *b, const char *s, int mask) {
    esc_t e = {(const unsigned char *)s, strlen(s), 0, mask, 0, 0};
    char u[6];
    while (e.i < e.n) {
        size_t save = e.i, k = s_unit(&e, u);
        if (!s_put(b, u, k)) {
            e.i = save;
            return 0;
        }
    }
    return 1;
}

static size_t s_escaped_len(const char *s, int mask) {
    esc_t e = {(const unsigned char *)s, strlen(s), 0, mask, 0, 0};
    char u[6];
    size_t len = 0;
    while (e.i < e.n) len += s_unit(&e, u);
    return len;
}

/* ---- set-up -------------------------------------------------------------- */

void js_log_init(const char *service, const char *instance, int level, FILE *out) {
    /* Each name gets under half the prefix: both always fit, cut if absurd. */
    buf_t b = {s_log.prefix, 0, PREFIX_MAX - 1};
    size_t half = (PREFIX_MAX - 64) / 2;
    s_puts(&b, ",\"service\":\"");
    b.limit = b.len + half;
    s_escape(&b, service ? service : "jiesu", 0);
    b.limit = PREFIX_MAX - 1;
    s_puts(&b, "\",\"instance\":\"");
    b.limit = b.len + half;
    s_escape(&b, instance ? instance : "", 0);
    b.limit = PREFIX_MAX - 1;
    s_puts(&b, "\"");
    s_log.prefix[b.len] = '\0';

    if (!out) out = stderr;
    fflush(out); /* what stdio holds goes out before our lines */
    s_log.fd = fileno(out);
    s_log.file = out;
    js_log_set_level(level);
}

int js_log_level_parse(const char *name) {
    for (int i = 0; name && i < (int)JS_ARRAY_LEN(s_levels); i++)
        if (strcasecmp(name, s_levels[i]) == 0) return i;
    return -1;
}

void js_log_set_level(int level) { __atomic_store_n(&s_log.level, s_clamp(level), __ATOMIC_RELAXED); }

int js_log_enabled(int level) { return level >= __atomic_load_n(&s_log.level, __ATOMIC_RELAXED); }

/* ---- lines --------------------------------------------------------------- */

size_t js_log_format(char *out, size_t cap, int64_t ts_ms, int level, const char *order_id, const char *trace_id,
                     const char *msg) {
    static const char tail[] = "\"}\n", cut[] = "...";
    if (!out || cap == 0) return 0;
    out[0] = '\0';
    /* Room for the tail, the cut mark and the NUL is kept out of the head. */
    size_t reserve = (sizeof tail - 1) + (sizeof cut - 1) + 1;
    if (cap < reserve) return 0;
    buf_t b = {out, 0, cap - reserve};

    int64_t secs = ts_ms >= 0 ? ts_ms / 1000 : -((-ts_ms + 999) / 1000); /* floor, for times before 1970 */
    int ms = (int)(ts_ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof tm);
    char head[128];
    snprintf(head, sizeof head, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"level\":\"%s\"",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms,
             s_levels[s_clamp(level)]);
    int ok = s_puts(&b, head) && s_puts(&b, s_log.prefix);
    if (ok && order_id && *order_id) ok = s_puts(&b, ",\"order\":\"") && s_escape(&b, order_id, 0) && s_puts(&b, "\"");
    if (ok && trace_id && *trace_id) ok = s_puts(&b, ",\"trace\":\"") && s_escape(&b, trace_id, 0) && s_puts(&b, "\"");
    if (ok) ok = s_puts(&b, ",\"msg\":\"");
    if (!ok) {
        out[0] = '\0';
        return 0;
    }
    if (!msg) msg = "";
    if (s_escaped_len(msg, 1) <= cap - 1 - (sizeof tail - 1) - b.len) {
        b.limit = cap - 1 - (sizeof tail - 1);
        s_escape(&b, msg, 1);
    } else {
        s_escape(&b, msg, 1); /* as much as fits before the reserve */
        b.limit = cap - 1;
        s_puts(&b, cut);
    }
    b.limit = cap - 1;
    s_puts(&b, tail);
    out[b.len] = '\0';
    return b.len;
}

static void s_emit(const char *p, size_t n) {
    int fd = s_log.fd;
    if (fd < 0) {
        FILE *f = s_log.file ? s_log.file : stderr;
        fwrite(p, 1, n, f);
        fflush(f);
        return;
    }
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, -1); /* a non-blocking output behaves as a blocking one */
        } else {
            return; /* EPIPE, ENOSPC, EBADF: nowhere left to report it; the line is lost */
        }
    }
}

void js_log(int level, const char *order_id, const char *trace_id, const char *fmt, ...) {
    if (!js_log_enabled(level)) return;
    int saved_errno = errno; /* a caller may log between a failure and its look at errno */
    char small[JS_LOG_LINE_MAX], *big = NULL;
    const char *msg = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    /* The whole message is formatted, however long, so that a digit run cut
     * by the line limit is still masked by the rule of its full length. */
    if (n < 0) {
        msg = "(unformattable log message)";
    } else if ((size_t)n >= sizeof small) {
        big = malloc((size_t)n + 1);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            msg = big;
        } else {
            size_t k = sizeof small - 1;
            while (k > 0 && s_digit((unsigned char)small[k - 1])) small[--k] = '\0'; /* a cut run: drop it */
        }
    }
    char line[JS_LOG_LINE_MAX];
    size_t len = js_log_format(line, sizeof line, js_now_ms(), level, order_id, trace_id, msg);
    s_emit(line, len);
    free(big);
    errno = saved_errno;
}
