/* store.c -- hiredis async on libuv through our own adapter, with reconnects,
 * command deadlines and the Functions library check.
 *
 * Ownership. hiredis keeps a callback (with our cmd_t as privdata) for every
 * command it accepted, and calls it exactly once: with the reply, or with NULL
 * when it frees the context. So a cmd_t's memory belongs to hiredis and is
 * freed in s_reply. What the caller is owed (one callback) is tracked apart,
 * in our FIFO: when we give up on a connection we fail every command of the
 * FIFO ourselves, at once, then let hiredis free the context; its late calls
 * of s_reply find the command no longer owed and only free it. That keeps the
 * "exactly once, never after js_store_close" promise whatever hiredis does.
 *
 * hiredis must never free a context while it runs on our stack: 0.14 calls
 * onConnect without REDIS_IN_CALLBACK, so a redisAsyncFree from there (say, a
 * state callback that closes the store) would be a use after free in
 * redisAsyncHandleWrite. So a context is only freed when no hiredis call is
 * under way on it (conn->depth == 0), else right after that call returns. */
#include "store.h"

#include <hiredis/async.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsdefs.h"

typedef struct cmd {
    struct cmd *prev, *next; /* the FIFO, while owed */
    js_store_t *st;
    js_store_reply_cb cb;
    void *arg;
    int64_t deadline_ms;
    bool owed; /* in the FIFO: its callback has not run yet */
    bool user; /* the caller's, not the handshake's: counted in stats */
} cmd_t;

typedef struct conn {
    uv_poll_t poll;        /* closed by hiredis' cleanup hook; conn freed in its close callback */
    redisAsyncContext *ac; /* NULL once hiredis has called cleanup */
    js_store_t *st;
    int events;
    int depth;    /* > 0 while a hiredis call runs on our stack */
    bool release; /* free ac as soon as depth falls to 0 */
} conn_t;

struct js_store {
    uv_loop_t *loop;
    js_store_opts_t o;
    char *host, *password, *lib_name, *lib_source;
    js_store_state_cb state_cb;
    void *state_arg;
    js_store_state_t state;
    conn_t *conn;        /* the current connection, NULL when down */
    cmd_t fifo;          /* sentinel: commands owed a callback, oldest first */
    uv_timer_t deadline; /* armed for the oldest deadline (command or connect) */
    uv_timer_t retry;
    int handles; /* open uv handles: freed when 0 and closing */
    int64_t backoff_ms;
    int64_t connect_deadline_ms;
    uint64_t rng;
    int mismatches; /* FUNCTION LOAD did not give lib_version, in a row */
    bool started, closing, reloaded;
    js_store_stats_t stats;
};

void js_store_opts_default(js_store_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 6379;
    o->connect_timeout_ms = 2000;
    o->command_timeout_ms = 5000;
    o->backoff_min_ms = 50;
    o->backoff_max_ms = 2000;
}

/* ---- lifetime ---------------------------------------------------------------- */

static void s_maybe_free(js_store_t *st) {
    if (!st->closing || st->handles > 0) return;
    free(st->host);
    free(st->password);
    free(st->lib_name);
    free(st->lib_source);
    free(st);
}

static void s_timer_closed(uv_handle_t *h) {
    js_store_t *st = h->data;
    st->handles--;
    s_maybe_free(st);
}

static void s_conn_closed(uv_handle_t *h) {
    conn_t *c = h->data;
    js_store_t *st = c->st;
    free(c);
    st->handles--;
    s_maybe_free(st);
}

/* ---- the adapter ------------------------------------------------------------- */

static void s_free_ac(conn_t *c) {
    c->depth++;
    redisAsyncFree(c->ac); /* s_reply(NULL) for each command, s_cleanup, then the context */
    c->depth--;
}

/* We are done with this connection: free its context now or when the hiredis
 * call under way returns (hiredis may also be freeing it itself). */
static void s_release(conn_t *c) {
    c->release = true;
    if (c->depth == 0 && c->ac) s_free_ac(c);
}

static void s_poll_cb(uv_poll_t *h, int status, int events) {
    conn_t *c = h->data;
    if (!c->ac || c->release) return;
    c->depth++;
    if (status < 0) {
        /* libuv says UV_EBADF on POLLERR (a refused connect, a reset) and
         * stops the handle. hiredis finds the socket error itself: while
         * connecting through SO_ERROR, then through read(). */
        if (c->ac->c.flags & REDIS_CONNECTED)
            redisAsyncHandleRead(c->ac);
        else
            redisAsyncHandleWrite(c->ac);
        if (c->ac && !c->release && c->events) uv_poll_start(&c->poll, c->events, s_poll_cb);
    } else {
        if (events & UV_READABLE) redisAsyncHandleRead(c->ac);
        if (c->ac && !c->release && (events & UV_WRITABLE)) redisAsyncHandleWrite(c->ac);
    }
    c->depth--;
    if (c->release && c->ac) s_free_ac(c);
}

static void s_update(conn_t *c, int add, int del) {
    c->events = (c->events | add) & ~del;
    if (c->events)
        uv_poll_start(&c->poll, c->events, s_poll_cb);
    else
        uv_poll_stop(&c->poll);
}

static void s_add_read(void *p) {
    s_update(p, UV_READABLE, 0);
}
static void s_del_read(void *p) {
    s_update(p, 0, UV_READABLE);
}
static void s_add_write(void *p) {
    s_update(p, UV_WRITABLE, 0);
}
static void s_del_write(void *p) {
    s_update(p, 0, UV_WRITABLE);
}

/* hiredis is about to close the fd: the poll handle goes first. */
static void s_cleanup(void *p) {
    conn_t *c = p;
    c->ac = NULL;
    uv_close((uv_handle_t *)&c->poll, s_conn_closed);
}

/* ---- state, backoff, deadlines ------------------------------------------------ */

static void s_report(js_store_t *st, js_store_state_t s, const char *why) {
    st->state = s;
    if (st->state_cb && !st->closing) st->state_cb(st, s, why, st->state_arg);
}

static uint64_t s_rand(js_store_t *st) {
    st->rng ^= st->rng << 13;
    st->rng ^= st->rng >> 7;
    st->rng ^= st->rng << 17;
    return st->rng;
}

static void s_connect(js_store_t *st);
static void s_retry_cb(uv_timer_t *t) {
    s_connect(t->data);
}

static void s_schedule_retry(js_store_t *st) {
    if (st->closing || st->state != JS_STORE_DOWN) return;
    int64_t b = st->backoff_ms, j = b / 5;
    int64_t delay = b - j + (int64_t)(s_rand(st) % (uint64_t)(2 * j + 1));
    uv_timer_start(&st->retry, s_retry_cb, (uint64_t)(delay > 0 ? delay : 1), 0);
    st->backoff_ms = b * 2 < st->o.backoff_max_ms ? b * 2 : st->o.backoff_max_ms;
    st->stats.backoff_ms = (uint64_t)st->backoff_ms;
}

static void s_deadline_cb(uv_timer_t *t);

/* Deadlines of one connection only grow along the FIFO, so the timer need
 * only watch the oldest command (and the connect while it lasts). */
static void s_arm(js_store_t *st) {
    int64_t due = INT64_MAX;
    if (st->conn && st->state == JS_STORE_CONNECTING) due = st->connect_deadline_ms;
    if (st->fifo.next != &st->fifo && st->fifo.next->deadline_ms < due) due = st->fifo.next->deadline_ms;
    if (st->closing || due == INT64_MAX) {
        uv_timer_stop(&st->deadline);
        return;
    }
    int64_t wait = due - js_mono_ms();
    uv_timer_start(&st->deadline, s_deadline_cb, (uint64_t)(wait > 0 ? wait : 0), 0);
}

static void s_unlink(cmd_t *c) {
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->owed = false;
    if (c->user) c->st->stats.pending--;
}

/* Callbacks may re-enter (close the store, send): take one at a time. */
static void s_fail_all(js_store_t *st, int status) {
    while (st->fifo.next != &st->fifo) {
        cmd_t *c = st->fifo.next;
        s_unlink(c);
        if (c->cb) c->cb(st, NULL, status, c->arg); /* the memory stays hiredis' until s_reply */
    }
}

/* Give up on the current connection: state first (so that callbacks which
 * send get -ENOTCONN), then the commands, then the report and the retry. */
static void s_drop(js_store_t *st, int status, const char *why, js_store_state_t next) {
    conn_t *c = st->conn;
    if (st->state == JS_STORE_UP) st->stats.disconnects++;
    st->conn = NULL;
    st->state = next;
    uv_timer_stop(&st->deadline);
    s_fail_all(st, status);
    if (c) s_release(c);
    s_report(st, next, why);
    s_schedule_retry(st);
}

static void s_deadline_cb(uv_timer_t *t) {
    js_store_t *st = t->data;
    int64_t now = js_mono_ms();
    char why[160];
    if (st->conn && st->state == JS_STORE_CONNECTING && now >= st->connect_deadline_ms) {
        st->stats.timeouts++;
        snprintf(why, sizeof why, "connect to %s:%d timed out (%d ms)", st->host, st->o.port,
                 st->o.connect_timeout_ms);
        s_drop(st, -ETIMEDOUT, why, JS_STORE_DOWN);
    } else if (st->fifo.next != &st->fifo && now >= st->fifo.next->deadline_ms) {
        st->stats.timeouts++;
        snprintf(why, sizeof why, "no reply from %s:%d in %d ms: connection dropped", st->host, st->o.port,
                 st->o.command_timeout_ms);
        s_drop(st, -ETIMEDOUT, why, JS_STORE_DOWN);
    } else {
        s_arm(st);
    }
}

/* ---- commands ---------------------------------------------------------------- */

static const char *s_errstr(const redisAsyncContext *ac) {
    /* ac->errstr is only copied from c.errstr on the way out: read c's. */
    return ac->c.errstr[0] ? ac->c.errstr : "closed by the server";
}

static void s_reply(redisAsyncContext *ac, void *r, void *priv) {
    cmd_t *c = priv;
    js_store_t *st = c->st;
    if (!c->owed) {
        free(c);
        return;
    }
    if (!r) {
        /* hiredis is tearing the connection down on its own (a read or write
         * error, EOF): it fails the commands one by one, we fail them all. */
        conn_t *cn = ac->data;
        if (st->conn == cn) {
            char why[200];
            snprintf(why, sizeof why, "connection to %s:%d lost: %s", st->host, st->o.port, s_errstr(ac));
            s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
        }
        if (c->owed) { /* cannot happen: owed commands are the current connection's */
            s_unlink(c);
            if (c->cb) c->cb(st, NULL, -ECONNRESET, c->arg);
        }
        free(c);
        return;
    }
    const redisReply *rep = r;
    s_unlink(c);
    if (c->user) {
        st->stats.replies++;
        if (rep->type == REDIS_REPLY_ERROR) st->stats.errors++;
    }
    if (c->cb) c->cb(st, rep, 0, c->arg);
    free(c);
}

/* The name of a formatted command ("*N\r\n$L\r\nNAME\r\n..."). */
static bool s_is_forbidden(const char *name, size_t len) {
    static const char *const no[] = {"subscribe",    "psubscribe",   "ssubscribe", "unsubscribe",
                                     "punsubscribe", "sunsubscribe", "monitor"};
    for (size_t i = 0; i < JS_ARRAY_LEN(no); i++)
        if (strlen(no[i]) == len && strncasecmp(no[i], name, len) == 0) return true;
    return false;
}

static bool s_formatted_forbidden(const char *buf, size_t len) {
    const char *p = memchr(buf, '\n', len);
    if (!p || (size_t)(p + 1 - buf) >= len || p[1] != '$') return true;
    char *end;
    long n = strtol(p + 2, &end, 10);
    if (n < 0 || end + 2 + n > buf + len) return true;
    return s_is_forbidden(end + 2, (size_t)n);
}

/* Hand a formatted command to hiredis; takes buf. */
static int s_send(js_store_t *st, js_store_reply_cb cb, void *arg, bool user, char *buf, size_t len) {
    cmd_t *c = js_calloc(1, sizeof *c);
    c->st = st;
    c->cb = cb;
    c->arg = arg;
    c->user = user;
    c->deadline_ms = js_mono_ms() + st->o.command_timeout_ms;
    int rc = redisAsyncFormattedCommand(st->conn->ac, s_reply, c, buf, len);
    free(buf);
    if (rc != REDIS_OK) { /* hiredis is disconnecting: we will hear of it */
        free(c);
        return -ENOTCONN;
    }
    bool first = st->fifo.next == &st->fifo;
    c->owed = true;
    c->prev = st->fifo.prev;
    c->next = &st->fifo;
    st->fifo.prev->next = c;
    st->fifo.prev = c;
    if (user) {
        st->stats.commands++;
        st->stats.pending++;
    }
    if (first || st->state == JS_STORE_CONNECTING) s_arm(st);
    return 0;
}

static int s_sendv(js_store_t *st, js_store_reply_cb cb, void *arg, bool user, int argc, const char **argv,
                   const size_t *lens) {
    char *buf;
    int len = redisFormatCommandArgv(&buf, argc, argv, lens);
    if (len < 0) return -EINVAL;
    return s_send(st, cb, arg, user, buf, (size_t)len);
}

/* ---- connecting: TCP, AUTH, the Functions library ------------------------------ */

static void s_up(js_store_t *st, const char *why) {
    st->backoff_ms = st->o.backoff_min_ms;
    st->stats.backoff_ms = (uint64_t)st->backoff_ms;
    st->mismatches = 0;
    st->stats.connects++;
    st->state = JS_STORE_UP;
    s_arm(st); /* the connect deadline no longer counts */
    s_report(st, JS_STORE_UP, why);
}

static void s_handshake_send(js_store_t *st, js_store_reply_cb cb, int argc, const char **argv,
                             const size_t *lens) {
    if (s_sendv(st, cb, NULL, false, argc, argv, lens) < 0) {
        char why[160];
        snprintf(why, sizeof why, "%s:%d: cannot send %s", st->host, st->o.port, argv[0]);
        s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
    }
}

static void s_check_lib(js_store_t *st);

static void s_on_loaded(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(arg);
    if (status < 0) return; /* the drop reports why */
    if (r->type == REDIS_REPLY_ERROR) {
        /* A plain ERR is the source itself (it does not compile): no retry
         * will mend it. Other codes (LOADING, BUSY, OOM, READONLY, NOPERM...)
         * may pass. */
        bool bad_source = strncmp(r->str, "ERR ", 4) == 0;
        char why[400];
        snprintf(why, sizeof why, "FUNCTION LOAD of library %s v%lld: %s", st->lib_name,
                 (long long)st->o.lib_version, r->str);
        s_drop(st, -ECONNRESET, why, bad_source ? JS_STORE_FATAL : JS_STORE_DOWN);
        return;
    }
    st->reloaded = true;
    s_check_lib(st);
}

static void s_on_version(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(arg);
    if (status < 0) return;
    char why[400];
    int64_t have;
    if (r->type == REDIS_REPLY_INTEGER) {
        have = r->integer;
    } else if (r->type == REDIS_REPLY_ERROR && strcasestr(r->str, "Function not found")) {
        have = 0;
    } else if (r->type == REDIS_REPLY_ERROR && strcasestr(r->str, "unknown command")) {
        snprintf(why, sizeof why, "%s:%d has no Redis Functions (7.0 or newer needed): %s", st->host,
                 st->o.port, r->str);
        s_drop(st, -ECONNRESET, why, JS_STORE_FATAL);
        return;
    } else {
        snprintf(why, sizeof why, "FCALL_RO %s_version: %s", st->lib_name,
                 r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
        s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
        return;
    }
    if (have == st->o.lib_version) {
        snprintf(why, sizeof why, "%s:%d, library %s v%lld%s", st->host, st->o.port, st->lib_name,
                 (long long)have, st->reloaded ? " loaded" : "");
        s_up(st, why);
    } else if (have > st->o.lib_version) {
        snprintf(why, sizeof why,
                 "Redis holds library %s v%lld, newer than this binary's v%lld: upgrade this binary",
                 st->lib_name, (long long)have, (long long)st->o.lib_version);
        s_drop(st, -ECONNRESET, why, JS_STORE_FATAL);
    } else if (!st->reloaded) {
        const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", st->lib_source};
        size_t lens[] = {8, 4, 7, strlen(st->lib_source)};
        s_handshake_send(st, s_on_loaded, 4, argv, lens);
    } else {
        /* Another (older) binary may have loaded its library between ours
         * and the check: try again; three times in a row means our source
         * does not say lib_version. */
        bool hopeless = ++st->mismatches >= 3;
        snprintf(why, sizeof why, "after FUNCTION LOAD library %s reports v%lld, expected v%lld%s",
                 st->lib_name, (long long)have, (long long)st->o.lib_version,
                 hopeless ? ": lib_source and lib_version disagree" : "");
        s_drop(st, -ECONNRESET, why, hopeless ? JS_STORE_FATAL : JS_STORE_DOWN);
    }
}

static void s_check_lib(js_store_t *st) {
    if (!st->lib_name) {
        char why[160];
        snprintf(why, sizeof why, "%s:%d", st->host, st->o.port);
        s_up(st, why);
        return;
    }
    char fn[160];
    snprintf(fn, sizeof fn, "%s_version", st->lib_name);
    const char *argv[] = {"FCALL_RO", fn, "0"};
    size_t lens[] = {8, strlen(fn), 1};
    s_handshake_send(st, s_on_version, 3, argv, lens);
}

static void s_on_auth(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(arg);
    if (status < 0) return;
    if (r->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "AUTH on %s:%d: %s", st->host, st->o.port, r->str);
        s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
        return;
    }
    s_check_lib(st);
}

/* Without REDIS_IN_CALLBACK (see the top): s_release defers any free. On
 * failure hiredis frees the context after we return. */
static void s_on_connect(const redisAsyncContext *ac, int status) {
    conn_t *c = ac->data;
    js_store_t *st = c->st;
    if (st->conn != c) return;
    if (status != REDIS_OK) {
        char why[200];
        snprintf(why, sizeof why, "connect to %s:%d: %s", st->host, st->o.port, s_errstr(ac));
        s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
        return;
    }
    if (st->password) {
        const char *argv[] = {"AUTH", st->password};
        size_t lens[] = {4, strlen(st->password)};
        s_handshake_send(st, s_on_auth, 2, argv, lens);
        return;
    }
    s_check_lib(st);
}

/* After cleanup: c is alive until the poll handle's close callback. */
static void s_on_disconnect(const redisAsyncContext *ac, int status) {
    JS_UNUSED(status);
    conn_t *c = ac->data;
    js_store_t *st = c->st;
    if (st->conn != c) return; /* we dropped it: already reported */
    char why[200];
    snprintf(why, sizeof why, "connection to %s:%d lost: %s", st->host, st->o.port, s_errstr(ac));
    s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
}

static void s_connect(js_store_t *st) {
    if (st->closing || st->conn || st->state == JS_STORE_FATAL) return;
    char why[200];
    st->stats.attempts++;
    st->reloaded = false;
    st->connect_deadline_ms = js_mono_ms() + st->o.connect_timeout_ms;
    snprintf(why, sizeof why, "connecting to %s:%d", st->host, st->o.port);
    s_report(st, JS_STORE_CONNECTING, why);
    if (st->closing) return;
    redisAsyncContext *ac = redisAsyncConnect(st->host, st->o.port);
    if (!ac || ac->err) { /* known at once: a bad address, no fd (a refusal comes later) */
        snprintf(why, sizeof why, "connect to %s:%d: %s", st->host, st->o.port,
                 ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        s_report(st, JS_STORE_DOWN, why);
        s_schedule_retry(st);
        return;
    }
    conn_t *c = js_calloc(1, sizeof *c);
    int rc = uv_poll_init(st->loop, &c->poll, ac->c.fd);
    if (rc < 0) {
        free(c);
        redisAsyncFree(ac);
        snprintf(why, sizeof why, "connect to %s:%d: uv_poll_init: %s", st->host, st->o.port,
                 uv_strerror(rc));
        s_report(st, JS_STORE_DOWN, why);
        s_schedule_retry(st);
        return;
    }
    st->handles++;
    c->poll.data = c;
    c->ac = ac;
    c->st = st;
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = s_add_read;
    ac->ev.delRead = s_del_read;
    ac->ev.addWrite = s_add_write;
    ac->ev.delWrite = s_del_write;
    ac->ev.cleanup = s_cleanup;
    st->conn = c;
    redisAsyncSetConnectCallback(ac, s_on_connect); /* also waits for writable: the connect's end */
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
    s_arm(st);
}

/* ---- public ------------------------------------------------------------------- */

js_store_t *js_store_new(uv_loop_t *loop, const js_store_opts_t *o, js_store_state_cb cb, void *arg) {
    js_store_opts_t d;
    js_store_opts_default(&d);
    js_store_opts_t v = o ? *o : d;
    if (!v.host || !*v.host) v.host = d.host;
    if (v.port <= 0) v.port = d.port;
    if (v.connect_timeout_ms <= 0) v.connect_timeout_ms = d.connect_timeout_ms;
    if (v.command_timeout_ms <= 0) v.command_timeout_ms = d.command_timeout_ms;
    if (v.backoff_min_ms <= 0) v.backoff_min_ms = d.backoff_min_ms;
    if (v.backoff_max_ms <= 0) v.backoff_max_ms = d.backoff_max_ms;
    if (v.backoff_max_ms < v.backoff_min_ms) v.backoff_max_ms = v.backoff_min_ms;
    if (!loop || v.port > 65535) return NULL;
    if (v.lib_name && (!*v.lib_name || !v.lib_source || v.lib_version < 1)) return NULL;

    js_store_t *st = js_calloc(1, sizeof *st);
    st->loop = loop;
    st->o = v;
    st->host = js_strdup(v.host);
    st->password = v.password && *v.password ? js_strdup(v.password) : NULL;
    st->lib_name = v.lib_name ? js_strdup(v.lib_name) : NULL;
    st->lib_source = v.lib_name ? js_strdup(v.lib_source) : NULL;
    st->o.host = st->o.password = st->o.lib_name = st->o.lib_source = NULL; /* not the caller's memory */
    st->state_cb = cb;
    st->state_arg = arg;
    st->state = JS_STORE_DOWN;
    st->fifo.next = st->fifo.prev = &st->fifo;
    st->backoff_ms = v.backoff_min_ms;
    st->stats.backoff_ms = (uint64_t)v.backoff_min_ms;
    st->rng = (uint64_t)js_mono_us() ^ ((uint64_t)(uintptr_t)st * 0x9E3779B97F4A7C15ull);
    if (!st->rng) st->rng = 1;
    uv_timer_init(loop, &st->deadline);
    uv_timer_init(loop, &st->retry);
    st->deadline.data = st->retry.data = st;
    st->handles = 2;
    return st;
}

int js_store_start(js_store_t *st) {
    if (st->started || st->closing) return -EALREADY;
    st->started = true;
    s_connect(st);
    return 0;
}

js_store_state_t js_store_state(const js_store_t *st) {
    return st->state;
}

int js_store_commandargv(js_store_t *st, js_store_reply_cb cb, void *arg, int argc, const char **argv,
                         const size_t *argvlen) {
    if (argc < 1 || !argv || !argv[0]) return -EINVAL;
    if (s_is_forbidden(argv[0], argvlen ? argvlen[0] : strlen(argv[0]))) return -EINVAL;
    if (st->closing || st->state != JS_STORE_UP || !st->conn) return -ENOTCONN;
    return s_sendv(st, cb, arg, true, argc, argv, argvlen);
}

int js_store_command(js_store_t *st, js_store_reply_cb cb, void *arg, const char *fmt, ...) {
    if (st->closing || st->state != JS_STORE_UP || !st->conn) return -ENOTCONN;
    char *buf;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&buf, fmt, ap);
    va_end(ap);
    if (len < 0) return -EINVAL;
    if (s_formatted_forbidden(buf, (size_t)len)) {
        free(buf);
        return -EINVAL;
    }
    return s_send(st, cb, arg, true, buf, (size_t)len);
}

const js_store_stats_t *js_store_stats(const js_store_t *st) {
    return &st->stats;
}

void js_store_close(js_store_t **stp) {
    if (!stp || !*stp) return;
    js_store_t *st = *stp;
    *stp = NULL;
    if (st->closing) return;
    st->closing = true;
    uv_timer_stop(&st->deadline);
    uv_timer_stop(&st->retry);
    conn_t *c = st->conn;
    if (st->state == JS_STORE_UP) st->stats.disconnects++;
    st->conn = NULL;
    st->state = JS_STORE_DOWN;
    s_fail_all(st, -ECANCELED);
    if (c) s_release(c);
    uv_close((uv_handle_t *)&st->deadline, s_timer_closed);
    uv_close((uv_handle_t *)&st->retry, s_timer_closed);
}
