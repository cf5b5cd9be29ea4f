/* bus.h -- ZeroMQ sockets on a libuv loop.
 *
 * A js_sock_t wraps one ZeroMQ socket and watches its ZMQ_FD with a uv_poll_t.
 * ZMQ_FD is edge-triggered, so after every wake-up the socket is drained
 * (ZMQ_EVENTS re-read until neither POLLIN nor the wanted POLLOUT is left).
 * To stay fair to the loop a drain stops after `batch_max` messages and goes on
 * from a uv_idle_t on the next turn, never waiting for a new edge.
 *
 * Ownership: the caller owns the js_sock_t through js_sock_new/js_sock_close.
 * Frames handed to a recv callback are only valid for the duration of the
 * callback. Frames passed to js_sock_send are copied before it returns.
 *
 * Back-pressure: js_sock_send never blocks. It returns -EAGAIN when the socket
 * cannot take the message now (high-water mark reached, or no peer with
 * ZMQ_IMMEDIATE); the caller keeps the message and is told through the
 * writable callback when to try again. A ROUTER with ZMQ_ROUTER_MANDATORY
 * returns -EHOSTUNREACH for a peer that vanished: the reply is dropped, and the
 * sender never blocks on a vanished peer. */
#ifndef JS_BUS_H
#define JS_BUS_H

#include <stdbool.h>
#include <uv.h>

#include "jsdefs.h"

#define JS_BUS_MAX_FRAMES 8 /* frames per message; more is dropped and counted */

typedef struct js_sock js_sock_t;

typedef struct js_frame {
    const void *data;
    size_t size;
} js_frame_t;

/* One message received: nframes frames, valid during the callback only. */
typedef void (*js_sock_recv_cb)(js_sock_t *s, const js_frame_t *frames, size_t nframes, void *arg);
/* Called after a drain ended because nothing more is readable now (or the
 * batch limit was hit): the place to flush work batched from recv callbacks. */
typedef void (*js_sock_drained_cb)(js_sock_t *s, void *arg);
/* Called once when a socket that returned -EAGAIN can take messages again. */
typedef void (*js_sock_writable_cb)(js_sock_t *s, void *arg);

typedef struct js_sock_opts {
    int sndhwm;               /* ZMQ_SNDHWM, messages; 0 = zmq default (1000) */
    int rcvhwm;               /* ZMQ_RCVHWM */
    int linger_ms;            /* ZMQ_LINGER, always finite; default 1000 */
    int64_t maxmsgsize;       /* ZMQ_MAXMSGSIZE, bytes; 0 = default 1 MiB, -1 = none */
    int heartbeat_ivl_ms;     /* ZMQ_HEARTBEAT_IVL (ZMTP pings); 0 = off */
    int heartbeat_timeout_ms; /* ZMQ_HEARTBEAT_TIMEOUT; 0 = 3 * ivl */
    bool immediate;           /* ZMQ_IMMEDIATE: queue only to completed connections */
    bool router_mandatory;    /* ZMQ_ROUTER_MANDATORY (ROUTER only) */
    int batch_max;            /* messages per drain turn; 0 = 256 */
    const char *curve_server_secret; /* Z85; makes this a CURVE server */
    const char *curve_server_key;    /* Z85 public key of the server we connect to */
    const char *curve_public;        /* Z85 client keypair, with curve_server_key */
    const char *curve_secret;
} js_sock_opts_t;

typedef struct js_sock_stats {
    uint64_t received;        /* messages delivered to the recv callback */
    uint64_t sent;
    uint64_t send_again;      /* js_sock_send returned -EAGAIN */
    uint64_t unroutable;      /* ROUTER: peer gone (EHOSTUNREACH) */
    uint64_t oversize_frames; /* messages dropped for too many frames */
} js_sock_stats_t;

/* Prototypes */
void js_sock_opts_default(js_sock_opts_t *o);

/* zctx: a zmq context shared by the process. type: ZMQ_PUSH, ZMQ_PULL, ... 
 * Returns NULL and sets *err (negative errno) on failure. */
js_sock_t *js_sock_new(uv_loop_t *loop, void *zctx, int type, const js_sock_opts_t *o, int *err);
int js_sock_bind(js_sock_t *s, const char *endpoint);
int js_sock_connect(js_sock_t *s, const char *endpoint);
int js_sock_subscribe(js_sock_t *s, const char *prefix); /* SUB only */
void *js_sock_zmq(js_sock_t *s);                          /* the raw socket */

/* Start delivering messages; drained may be NULL. */
int js_sock_start(js_sock_t *s, js_sock_recv_cb recv, js_sock_drained_cb drained, void *arg);
int js_sock_pause(js_sock_t *s);  /* stop reading (messages wait in zmq) */
int js_sock_resume(js_sock_t *s);

/* Send one message of n frames without blocking: 0, -EAGAIN, -EHOSTUNREACH or
 * another negative errno. */
int js_sock_send(js_sock_t *s, const js_frame_t *frames, size_t n);
void js_sock_on_writable(js_sock_t *s, js_sock_writable_cb cb, void *arg);

const js_sock_stats_t *js_sock_stats(const js_sock_t *s);

/* Close: sets the finite linger, stops the poll handle, frees in its close
 * callback. Idempotent; sets *sp to NULL. */
void js_sock_close(js_sock_t **sp);

#endif
