/* store.c -- hiredis async on libuv, with our own adapter, reconnects,
 * command deadlines and the Functions library check.
 *
 * Callbacks of pending commands are called exactly once: with the reply, or
 * with -ETIMEDOUT / -ECONNRESET when the connection is dropped, or with
 * -ECANCELED from inside js_store_close. */
#include "store.h"

#include <hiredis/async.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

typedef struct node {
    struct node *prev, *next;
    js_store_t *st;
    js_store_reply_cb cb;
    void *arg;
    int64_t deadline_ms;
    int fail;        /* status given to the callback if the reply never comes */
    bool internal;   /* connection setup: the store's own */
} node_t;

typedef struct conn {
    uv_poll_t poll;
    int events;
    redisAsyncContext *ac;
    js_store_t *st;
} conn_t;

struct js_store {
    uv_loop_t *loop;
    js_store_opts_t o;
    char *host, *password, *lib_name, *lib_source;
    js_store_state_cb state_cb;
    void *state_arg;
    js_store_state_t state;
    redisAsyncContext *ac;
    conn_t *conn;
    node_t head;                /* pending commands, oldest first */
    uv_timer_t check, retry;
    int handles;                /* open uv handles: the store is freed when 0 and closing */
    int backoff_ms;
    int64_t connect_deadline;
    bool closing, started, reloaded;
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

static void s_maybe_free(js_store_t *st) {
    if (st->closing && st->handles == 0) {
        free(st->host);
        free(st->password);
        free(st->lib_name);
        free(st->lib_source);
        free(st);
    }
}

static void s_handle_closed(uv_handle_t *h) {
    js_store_t *st = h->data;
    st->handles--;
    s_maybe_free(st);
}

static void s_set_state(js_store_t *st, js_store_state_t s, const char *why) {
    st->state = s;
    if (st->state_cb && !st->closing) st->state_cb(st, s, why, st->state_arg);
}

/* ---- the adapter ------------------------------------------------------------ */

static void s_poll_cb(uv_poll_t *h, int status, int events) {
    conn_t *c = h->data;
    if (!c->ac) return;
    if (status < 0) {
        /* e.g. a refused connect: hiredis reads SO_ERROR and reports it */
        if (!(c->ac->c.flags & REDIS_CONNECTED)) redisAsyncHandleWrite(c->ac);
        else redisAsyncHandleRead(c->ac);
        return;
    }
    if (events & UV_READABLE) redisAsyncHandleRead(c->ac);
    if ((events & UV_WRITABLE) && c->ac) redisAsyncHandleWrite(c->ac);
}

static void s_update(conn_t *c, int add, int del) {
    c->events = (c->events | add) & ~del;
    if (c->events) uv_poll_start(&c->poll, c->events, s_poll_cb);
    else uv_poll_stop(&c->poll);
}

static void s_add_read(void *p) { s_update(p, UV_READABLE, 0); }
static void s_del_read(void *p) { s_update(p, 0, UV_READABLE); }
static void s_add_write(void *p) { s_update(p, UV_WRITABLE, 0); }
static void s_del_write(void *p) { s_update(p, 0, UV_WRITABLE); }

static void s_conn_closed(uv_handle_t *h) {
    conn_t *c = h->data;
    js_store_t *st = c->st;
    free(c);
    st->handles--;
    s_maybe_free(st);
}

static void s_cleanup(void *p) {
    conn_t *c = p;
    c->ac = NULL;
    if (c->st->conn == c) c->st->conn = NULL;
    uv_close((uv_handle_t *)&c->poll, s_conn_closed);
}

/* ---- pending commands ------------------------------------------------------- */

static void s_unlink(node_t *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
}

static void s_reply(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    node_t *n = priv;
    js_store_t *st = n->st;
    s_unlink(n);
    st->stats.pending--;
    redisReply *rep = r;
    if (rep) {
        st->stats.replies++;
        if (rep->type == REDIS_REPLY_ERROR) st->stats.errors++;
    }
    if (n->cb) n->cb(st, rep, rep ? 0 : n->fail, n->arg);
    free(n);
}

static node_t *s_node(js_store_t *st, js_store_reply_cb cb, void *arg, bool internal) {
    node_t *n = js_calloc(1, sizeof *n);
    n->st = st;
    n->cb = cb;
    n->arg = arg;
    n->internal = internal;
    n->fail = -ECONNRESET;
    n->deadline_ms = js_mono_ms() + st->o.command_timeout_ms;
    n->prev = st->head.prev;
    n->next = &st->head;
    st->head.prev->next = n;
    st->head.prev = n;
    st->stats.pending++;
    st->stats.commands++;
    return n;
}

static int s_send_argv(js_store_t *st, js_store_reply_cb cb, void *arg, bool internal, int argc, const char **argv,
                       const size_t *lens) {
    node_t *n = s_node(st, cb, arg, internal);
    if (redisAsyncCommandArgv(st->ac, s_reply, n, argc, argv, lens) != REDIS_OK) {
        s_unlink(n);
        st->stats.pending--;
        free(n);
        return -EIO;
    }
    return 0;
}

/* ---- connecting ------------------------------------------------------------- */

static void s_connect(js_store_t *st);

static void s_retry_cb(uv_timer_t *t) { s_connect(t->data); }

static void s_schedule_retry(js_store_t *st) {
    if (st->closing || st->state == JS_STORE_FATAL) return;
    int b = st->backoff_ms ? st->backoff_ms : st->o.backoff_min_ms;
    int jitter = b / 5 ? (int)(js_mono_us() % (uint64_t)(2 * (b / 5) + 1)) - b / 5 : 0;
    uv_timer_start(&st->retry, s_retry_cb, (uint64_t)(b + jitter > 0 ? b + jitter : 1), 0);
    st->backoff_ms = b * 2 > st->o.backoff_max_ms ? st->o.backoff_max_ms : b * 2;
}

/* Drop the connection: every pending command fails with status. */
static void s_drop(js_store_t *st, int status, const char *why, js_store_state_t next) {
    redisAsyncContext *ac = st->ac;
    st->ac = NULL;
    for (node_t *n = st->head.next; n != &st->head; n = n->next) n->fail = status;
    if (ac) {
        st->stats.disconnects++;
        redisAsyncFree(ac); /* runs the callbacks with NULL replies, then s_cleanup */
    }
    if (st->closing) return;
    s_set_state(st, next, why);
    if (next == JS_STORE_DOWN) s_schedule_retry(st);
}

static void s_check_version(js_store_t *st);

static void s_on_loaded(js_store_t *st, const redisReply *r, int status, void *arg) {
    (void)arg;
    if (status < 0) return; /* the drop already reported it */
    if (r->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "FUNCTION LOAD %s: %s", st->lib_name, r->str);
        s_drop(st, -ECONNRESET, why, JS_STORE_FATAL);
        return;
    }
    st->reloaded = true;
    s_check_version(st);
}

static void s_on_version(js_store_t *st, const redisReply *r, int status, void *arg) {
    (void)arg;
    if (status < 0) return;
    int64_t have = 0;
    if (r->type == REDIS_REPLY_INTEGER) {
        have = r->integer;
    } else if (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "not found") && !strstr(r->str, "not exist")) {
        char why[300];
        snprintf(why, sizeof why, "checking the functions library: %s", r->str);
        s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
        return;
    }
    if (have == st->o.lib_version) {
        char why[128];
        snprintf(why, sizeof why, "%s:%d, library %s v%lld%s", st->host, st->o.port, st->lib_name,
                 (long long)have, st->reloaded ? " loaded" : "");
        st->backoff_ms = 0;
        st->stats.connects++;
        s_set_state(st, JS_STORE_UP, why);
        return;
    }
    if (have > st->o.lib_version || st->reloaded) {
        char why[300];
        snprintf(why, sizeof why,
                 "Redis holds the %s functions library v%lld and this binary brings v%lld: upgrade this binary",
                 st->lib_name, (long long)have, (long long)st->o.lib_version);
        s_drop(st, -ECONNRESET, why, JS_STORE_FATAL);
        return;
    }
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", st->lib_source};
    size_t lens[] = {8, 4, 7, strlen(st->lib_source)};
    if (s_send_argv(st, s_on_loaded, NULL, true, 4, argv, lens) < 0)
        s_drop(st, -ECONNRESET, "cannot send FUNCTION LOAD", JS_STORE_DOWN);
}

static void s_check_version(js_store_t *st) {
    if (!st->lib_name) {
        st->backoff_ms = 0;
        st->stats.connects++;
        s_set_state(st, JS_STORE_UP, "connected");
        return;
    }
    char fn[160];
    snprintf(fn, sizeof fn, "%s_version", st->lib_name);
    const char *argv[] = {"FCALL_RO", fn, "0"};
    size_t lens[] = {8, strlen(fn), 1};
    if (s_send_argv(st, s_on_version, NULL, true, 3, argv, lens) < 0)
        s_drop(st, -ECONNRESET, "cannot send FCALL_RO", JS_STORE_DOWN);
}

static void s_on_auth(js_store_t *st, const redisReply *r, int status, void *arg) {
    (void)arg;
    if (status < 0) return;
    if (r->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "AUTH: %s", r->str);
        s_drop(st, -ECONNRESET, why, JS_STORE_DOWN);
        return;
    }
    s_check_version(st);
}

static void s_on_connect(const redisAsyncContext *ac, int status) {
    js_store_t *st = ac->data;
    if (!st || st->ac != ac) return;
    if (status != REDIS_OK) {
        char why[256];
        snprintf(why, sizeof why, "connect %s:%d: %s", st->host, st->o.port, ac->errstr[0] ? ac->errstr : "failed");
        st->ac = NULL; /* hiredis frees it after this callback */
        for (node_t *n = st->head.next; n != &st->head; n = n->next) n->fail = -ECONNRESET;
        s_set_state(st, JS_STORE_DOWN, why);
        s_schedule_retry(st);
        return;
    }
    if (st->password) {
        const char *argv[] = {"AUTH", st->password};
        size_t lens[] = {4, strlen(st->password)};
        if (s_send_argv(st, s_on_auth, NULL, true, 2, argv, lens) < 0)
            s_drop(st, -ECONNRESET, "cannot send AUTH", JS_STORE_DOWN);
        return;
    }
    s_check_version(st);
}

static void s_on_disconnect(const redisAsyncContext *ac, int status) {
    js_store_t *st = ac->data;
    if (!st || st->ac != ac) return; /* a drop we made: already reported */
    st->ac = NULL;
    st->stats.disconnects++;
    if (st->closing) return;
    char why[256];
    snprintf(why, sizeof why, "connection lost: %s", status == REDIS_OK ? "closed" : ac->errstr);
    s_set_state(st, JS_STORE_DOWN, why);
    s_schedule_retry(st);
}

static void s_connect(js_store_t *st) {
    if (st->closing || st->ac) return;
    st->reloaded = false;
    s_set_state(st, JS_STORE_CONNECTING, "connecting");
    redisAsyncContext *ac = redisAsyncConnect(st->host, st->o.port);
    if (!ac || ac->err) {
        char why[256];
        snprintf(why, sizeof why, "connect %s:%d: %s", st->host, st->o.port, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        s_set_state(st, JS_STORE_DOWN, why);
        s_schedule_retry(st);
        return;
    }
    conn_t *c = js_calloc(1, sizeof *c);
    c->ac = ac;
    c->st = st;
    uv_poll_init(st->loop, &c->poll, ac->c.fd);
    c->poll.data = c;
    st->handles++;
    st->conn = c;
    ac->ev.data = c;
    ac->ev.addRead = s_add_read;
    ac->ev.delRead = s_del_read;
    ac->ev.addWrite = s_add_write;
    ac->ev.delWrite = s_del_write;
    ac->ev.cleanup = s_cleanup;
    ac->data = st;
    st->ac = ac;
    st->connect_deadline = js_mono_ms() + st->o.connect_timeout_ms;
    redisAsyncSetConnectCallback(ac, s_on_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
    s_add_write(c); /* the non-blocking connect completes when writable */
}

/* Deadlines: the oldest pending command, and the connect. */
static void s_check_cb(uv_timer_t *t) {
    js_store_t *st = t->data;
    int64_t now = js_mono_ms();
    if (st->ac && st->state == JS_STORE_CONNECTING && st->head.next == &st->head && now > st->connect_deadline) {
        st->stats.timeouts++;
        s_drop(st, -ETIMEDOUT, "connect timed out", JS_STORE_DOWN);
        return;
    }
    node_t *old = st->head.next;
    if (st->ac && old != &st->head && now > old->deadline_ms) {
        st->stats.timeouts++;
        s_drop(st, -ETIMEDOUT, "a command timed out: connection dropped", JS_STORE_DOWN);
    }
}

/* ---- public ----------------------------------------------------------------- */

js_store_t *js_store_new(uv_loop_t *loop, const js_store_opts_t *o, js_store_state_cb cb, void *arg) {
    js_store_t *st = js_calloc(1, sizeof *st);
    st->loop = loop;
    js_store_opts_default(&st->o);
    if (o) st->o = *o;
    if (st->o.connect_timeout_ms <= 0) st->o.connect_timeout_ms = 2000;
    if (st->o.command_timeout_ms <= 0) st->o.command_timeout_ms = 5000;
    if (st->o.backoff_min_ms <= 0) st->o.backoff_min_ms = 50;
    if (st->o.backoff_max_ms < st->o.backoff_min_ms) st->o.backoff_max_ms = st->o.backoff_min_ms;
    st->host = js_strdup(st->o.host ? st->o.host : "127.0.0.1");
    st->password = st->o.password && *st->o.password ? js_strdup(st->o.password) : NULL;
    st->lib_name = st->o.lib_name ? js_strdup(st->o.lib_name) : NULL;
    st->lib_source = st->o.lib_source ? js_strdup(st->o.lib_source) : NULL;
    if (st->lib_name && !st->lib_source) {
        free(st->lib_name);
        st->lib_name = NULL;
    }
    st->state_cb = cb;
    st->state_arg = arg;
    st->head.next = st->head.prev = &st->head;
    uv_timer_init(loop, &st->check);
    uv_timer_init(loop, &st->retry);
    st->check.data = st->retry.data = st;
    st->handles = 2;
    return st;
}

int js_store_start(js_store_t *st) {
    if (st->started || st->closing) return -EALREADY;
    st->started = true;
    int every = st->o.command_timeout_ms / 10;
    if (every > 100) every = 100;
    if (every < 5) every = 5;
    uv_timer_start(&st->check, s_check_cb, (uint64_t)every, (uint64_t)every);
    s_connect(st);
    return 0;
}

js_store_state_t js_store_state(const js_store_t *st) { return st->state; }

int js_store_commandargv(js_store_t *st, js_store_reply_cb cb, void *arg, int argc, const char **argv,
                         const size_t *argvlen) {
    if (st->closing || st->state != JS_STORE_UP || !st->ac) return -ENOTCONN;
    return s_send_argv(st, cb, arg, false, argc, argv, argvlen);
}

int js_store_command(js_store_t *st, js_store_reply_cb cb, void *arg, const char *fmt, ...) {
    if (st->closing || st->state != JS_STORE_UP || !st->ac) return -ENOTCONN;
    node_t *n = s_node(st, cb, arg, false);
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(st->ac, s_reply, n, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        s_unlink(n);
        st->stats.pending--;
        free(n);
        return -EIO;
    }
    return 0;
}

const js_store_stats_t *js_store_stats(const js_store_t *st) { return &st->stats; }

void js_store_close(js_store_t **stp) {
    if (!stp || !*stp) return;
    js_store_t *st = *stp;
    *stp = NULL;
    if (st->closing) return;
    st->closing = true;
    uv_timer_stop(&st->check);
    uv_timer_stop(&st->retry);
    s_drop(st, -ECANCELED, "closed", JS_STORE_DOWN);
    uv_close((uv_handle_t *)&st->check, s_handle_closed);
    uv_close((uv_handle_t *)&st->retry, s_handle_closed);
}
