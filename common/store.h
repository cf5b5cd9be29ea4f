/* store.h -- Redis on a libuv loop: hiredis async through our own adapter.
 *
 * hiredis 0.14's adapters/libuv.h never reports a refused connection. This
 * module owns the adapter: the connection state is always known, a refused or
 * dropped connection is reported through the state callback, and it reconnects
 * with exponential backoff (backoff_min_ms doubling to backoff_max_ms, with
 * jitter). Every command has a deadline (command_timeout_ms): replies come in
 * order, so when the oldest pending command times out the connection is
 * presumed broken, it is dropped, and every pending command fails with
 * -ETIMEDOUT (it may or may not have run: callers must be idempotent, which
 * every jiesu transition is).
 *
 * On every (re)connection, before it reports JS_STORE_UP, the store makes sure
 * the Redis Functions library `lib_name` is loaded at `lib_version`: it calls
 * FCALL_RO <lib_name>_version; missing or older -> FUNCTION LOAD REPLACE
 * lib_source; newer -> JS_STORE_FATAL (an older binary must not downgrade the
 * library a newer one loaded).
 *
 * Commands issued while not connected fail at once with -ENOTCONN (the
 * callback is not called). Reply objects are only valid for the duration of
 * the callback. */
#ifndef JS_STORE_H
#define JS_STORE_H

#include <hiredis/hiredis.h>
#include <uv.h>

#include "jsdefs.h"

typedef struct js_store js_store_t;

typedef enum js_store_state {
    JS_STORE_DOWN = 0,   /* not connected; reconnect scheduled */
    JS_STORE_CONNECTING, /* TCP/AUTH/function check in progress */
    JS_STORE_UP,         /* ready for commands */
    JS_STORE_FATAL       /* will not retry (e.g. newer library loaded) */
} js_store_state_t;

/* status: 0 with a reply (which may itself be REDIS_REPLY_ERROR), or
 * -ETIMEDOUT / -ECONNRESET / -ECANCELED (store closed) with r == NULL. */
typedef void (*js_store_reply_cb)(js_store_t *st, const redisReply *r, int status, void *arg);
typedef void (*js_store_state_cb)(js_store_t *st, js_store_state_t state, const char *why, void *arg);

typedef struct js_store_opts {
    const char *host;           /* default 127.0.0.1 */
    int port;                   /* default 6379 */
    const char *password;       /* AUTH, or NULL */
    int connect_timeout_ms;     /* default 2000 */
    int command_timeout_ms;     /* default 5000 */
    int backoff_min_ms;         /* default 50 */
    int backoff_max_ms;         /* default 2000 */
    const char *lib_name;       /* Redis Functions library name, or NULL for none */
    int64_t lib_version;
    const char *lib_source;     /* "#!lua name=..." source */
} js_store_opts_t;

typedef struct js_store_stats {
    uint64_t commands, replies, errors, timeouts, connects, disconnects;
    uint64_t pending;           /* commands waiting for their reply now */
} js_store_stats_t;

/* Prototypes */
void js_store_opts_default(js_store_opts_t *o);
js_store_t *js_store_new(uv_loop_t *loop, const js_store_opts_t *o, js_store_state_cb cb, void *arg);
/* Starts connecting (and keeps reconnecting until closed). */
int js_store_start(js_store_t *st);
js_store_state_t js_store_state(const js_store_t *st);

/* printf-like (hiredis format) or argv form. 0 or -ENOTCONN. */
int js_store_command(js_store_t *st, js_store_reply_cb cb, void *arg, const char *fmt, ...);
int js_store_commandargv(js_store_t *st, js_store_reply_cb cb, void *arg, int argc,
                         const char **argv, const size_t *argvlen);

const js_store_stats_t *js_store_stats(const js_store_t *st);

/* Fails pending commands with -ECANCELED, closes, frees when the handles are
 * closed. Idempotent; sets *stp to NULL. */
void js_store_close(js_store_t **stp);

#endif
