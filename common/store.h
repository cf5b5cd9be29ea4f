/* store.h -- Redis on a libuv loop: hiredis async through our own adapter.
 *
 * hiredis 0.14's adapters/libuv.h never reports a refused connection. This
 * module owns the adapter: the connection state is always known, a refused or
 * dropped connection is reported through the state callback, and it reconnects
 * with exponential backoff (backoff_min_ms doubling to backoff_max_ms, +-20%
 * jitter, back to backoff_min_ms once UP). Every command has a deadline
 * (command_timeout_ms): replies come in order, so when the oldest pending
 * command times out the connection is presumed broken, it is dropped, and
 * every pending command fails with -ETIMEDOUT (it may or may not have run:
 * callers must be idempotent, which every jiesu transition is).
 *
 * On every (re)connection, before it reports JS_STORE_UP, the store sends AUTH
 * (if a password is given) and makes sure the Redis Functions library
 * `lib_name` is loaded at `lib_version`: it calls FCALL_RO <lib_name>_version 0
 * ("Function not found" counts as version 0); older -> FUNCTION LOAD REPLACE
 * lib_source and check again; newer -> JS_STORE_FATAL (an older binary must
 * not downgrade the library a newer one loaded). connect_timeout_ms bounds
 * the whole of it: TCP connect, AUTH and the library check.
 *
 * Callbacks. A command's callback is called exactly once: with the reply, or
 * with -ETIMEDOUT / -ECONNRESET when the connection is dropped, or with
 * -ECANCELED from inside js_store_close (before it returns; never after).
 * When a call returns an error its callback is never called. Every callback
 * (command or state) may call any js_store_* function, js_store_close
 * included. Reply objects and `why` strings are only valid for the duration
 * of the callback. The state callback is not called from js_store_close nor
 * after it.
 *
 * Not for commands that change the protocol state under hiredis: pub/sub and
 * MONITOR are refused (-EINVAL); CLIENT REPLY OFF/SKIP and HELLO 3 must not be
 * sent. */
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
/* Called on every change: DOWN (with the reason), CONNECTING (each attempt),
 * UP, FATAL (with the reason; the store stays down until closed). */
typedef void (*js_store_state_cb)(js_store_t *st, js_store_state_t state, const char *why, void *arg);

/* Strings are copied by js_store_new. A value <= 0 takes the default. */
typedef struct js_store_opts {
    const char *host;       /* default 127.0.0.1 */
    int port;               /* default 6379; must be 1..65535 */
    const char *password;   /* AUTH, or NULL (or "") for none */
    int connect_timeout_ms; /* default 2000: connect + AUTH + library check */
    int command_timeout_ms; /* default 5000 */
    int backoff_min_ms;     /* default 50 */
    int backoff_max_ms;     /* default 2000 (raised to backoff_min_ms if below) */
    const char *lib_name;   /* Redis Functions library name, or NULL for none */
    int64_t lib_version;    /* >= 1 when lib_name is set */
    const char *lib_source; /* "#!lua name=..." source; required with lib_name */
} js_store_opts_t;

typedef struct js_store_stats {
    uint64_t commands;    /* the caller's commands accepted */
    uint64_t replies;     /* replies received for them (errors included) */
    uint64_t errors;      /* ... of which REDIS_REPLY_ERROR */
    uint64_t timeouts;    /* connections dropped for a late reply or a slow connect */
    uint64_t connects;    /* times UP was reached */
    uint64_t disconnects; /* UP connections lost or dropped */
    uint64_t attempts;    /* connection attempts */
    uint64_t backoff_ms;  /* base delay of the next retry (before jitter) */
    uint64_t pending;     /* the caller's commands waiting for their reply now */
} js_store_stats_t;

/* Prototypes */
void js_store_opts_default(js_store_opts_t *o);
/* NULL if the options are invalid (port, lib_name without lib_source or
 * lib_version < 1). Does not connect yet. */
js_store_t *js_store_new(uv_loop_t *loop, const js_store_opts_t *o, js_store_state_cb cb, void *arg);
/* Starts connecting (and keeps reconnecting until closed). 0 or -EALREADY. */
int js_store_start(js_store_t *st);
js_store_state_t js_store_state(const js_store_t *st);

/* printf-like (hiredis format: %s, %b for binary with size_t length, ...) or
 * argv form (binary-safe; argvlen may be NULL for C strings). cb may be NULL.
 * 0; -ENOTCONN when not UP; -EINVAL for a bad format, argc < 1, pub/sub or
 * MONITOR. */
int js_store_command(js_store_t *st, js_store_reply_cb cb, void *arg, const char *fmt, ...);
int js_store_commandargv(js_store_t *st, js_store_reply_cb cb, void *arg, int argc, const char **argv,
                         const size_t *argvlen);

const js_store_stats_t *js_store_stats(const js_store_t *st);

/* Fails pending commands with -ECANCELED (their callbacks run before this
 * returns), disconnects, and frees the store once its handles are closed
 * (keep running the loop). Idempotent; sets *stp to NULL. */
void js_store_close(js_store_t **stp);

#endif
