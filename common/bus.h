/* bus.h -- ZeroMQ sockets on a libuv loop.
 *
 * A js_sock_t wraps one ZeroMQ socket and watches its ZMQ_FD with a uv_poll_t.
 * ZMQ_FD is edge-triggered, so after every wake-up the socket is drained
 * (ZMQ_EVENTS re-read until neither POLLIN nor the wanted POLLOUT is left).
 * To stay fair to the loop a drain stops after `batch_max` messages and goes on
 * from a uv_idle_t on the next turn, never waiting for a new edge.
 *
 * Any libzmq call on the socket (a send, a ZMQ_EVENTS read) may consume the
 * edge that announced input. So after js_sock_send on a socket that is being
 * read (started, not paused) or that waits for writability, the socket is
 * looked at again on the next loop turn: input is never left stalled, whether
 * the send came from its own recv callback, its drained callback, a timer or
 * another socket's callback. Calls on the raw socket (js_sock_zmq) get no such
 * care: call js_sock_resume afterwards if the socket is being read.
 *
 * Ownership: the caller owns the js_sock_t through js_sock_new/js_sock_close.
 * Frames handed to a recv callback are only valid for the duration of the
 * callback. Frames passed to js_sock_send are copied before it returns.
 *
 * Re-entrancy: every callback may send on any socket, pause or resume its own
 * socket, and close any socket, its own included. After a close from inside a
 * callback, the `s` the callback was given stays valid until the callback
 * returns (calls on it answer -EBADF); the memory is freed in the uv close
 * callback, so the loop must run once more before uv_loop_close.
 *
 * Back-pressure: js_sock_send never blocks. It returns -EAGAIN when the socket
 * cannot take the message now (high-water mark reached, or no peer with
 * ZMQ_IMMEDIATE); nothing of the message was sent; the caller keeps it and
 * arms the writable callback to be told when to try again. A ROUTER with
 * ZMQ_ROUTER_MANDATORY returns -EHOSTUNREACH for a peer that vanished: the
 * reply is dropped, and the sender never blocks on a vanished peer (without
 * ZMQ_ROUTER_MANDATORY, libzmq drops it silently and the send returns 0).
 *
 * Size caps: a message of more than JS_BUS_MAX_FRAMES frames is read whole and
 * dropped (stats.oversize_frames). A message over maxmsgsize bytes never
 * reaches the callback: libzmq drops the connection that carried it, and a
 * connecting peer reconnects by itself. */
#ifndef JS_BUS_H
#define JS_BUS_H

#include <stdbool.h>
#include <uv.h>

#include "jsdefs.h"

#define JS_BUS_MAX_FRAMES 8             /* frames per message; more is dropped and counted */
#define JS_BUS_LINGER_MS  1000          /* default ZMQ_LINGER */
#define JS_BUS_MAXMSGSIZE (1024 * 1024) /* default ZMQ_MAXMSGSIZE, bytes */
#define JS_BUS_BATCH_MAX  256           /* default messages per drain turn */

typedef struct js_sock js_sock_t;

typedef struct js_frame {
    const void *data;
    size_t size;
} js_frame_t;

/* One message received: nframes frames, valid during the callback only. */
typedef void (*js_sock_recv_cb)(js_sock_t *s, const js_frame_t *frames, size_t nframes, void *arg);
/* Called after a drain that delivered at least one message ended because
 * nothing more is readable now, the socket was paused, or the batch limit was
 * hit: the place to flush work batched from recv callbacks. */
typedef void (*js_sock_drained_cb)(js_sock_t *s, void *arg);
/* Called once when a socket that returned -EAGAIN can take messages again. */
typedef void (*js_sock_writable_cb)(js_sock_t *s, void *arg);

/* Start from js_sock_opts_default(); a zeroed struct means linger 0. */
typedef struct js_sock_opts {
    int sndhwm;                      /* ZMQ_SNDHWM, messages; 0 = zmq default (1000) */
    int rcvhwm;                      /* ZMQ_RCVHWM; 0 = zmq default (1000) */
    int linger_ms;                   /* ZMQ_LINGER, always finite: negative = JS_BUS_LINGER_MS */
    int64_t maxmsgsize;              /* ZMQ_MAXMSGSIZE, bytes; 0 = JS_BUS_MAXMSGSIZE, -1 = none */
    int heartbeat_ivl_ms;            /* ZMQ_HEARTBEAT_IVL (ZMTP pings); 0 = off */
    int heartbeat_timeout_ms;        /* ZMQ_HEARTBEAT_TIMEOUT, also sent as ZMQ_HEARTBEAT_TTL; 0 = 3 * ivl */
    bool immediate;                  /* ZMQ_IMMEDIATE: queue only to completed connections */
    bool router_mandatory;           /* ZMQ_ROUTER_MANDATORY (ROUTER only; ignored on other types) */
    int batch_max;                   /* messages per drain turn; 0 = JS_BUS_BATCH_MAX */
    const char *curve_server_secret; /* Z85 (40 chars); makes this a CURVE server */
    const char *curve_server_key;    /* Z85 public key of the server we connect to */
    const char *curve_public;        /* Z85 client keypair, with curve_server_key: all three */
    const char *curve_secret;        /* or none, else js_sock_new fails with -EINVAL */
} js_sock_opts_t;

typedef struct js_sock_stats {
    uint64_t received;        /* messages delivered to the recv callback */
    uint64_t sent;            /* messages js_sock_send took whole */
    uint64_t send_again;      /* js_sock_send returned -EAGAIN */
    uint64_t unroutable;      /* ROUTER: peer gone (EHOSTUNREACH) */
    uint64_t oversize_frames; /* messages dropped for too many frames */
} js_sock_stats_t;

/* Prototypes */
void js_sock_opts_default(js_sock_opts_t *o);

/* zctx: a zmq context shared by the process; the caller terminates it after
 * every socket is closed. type: ZMQ_PUSH, ZMQ_PULL, ... o may be NULL for the
 * defaults. The socket watches its fd at once (so it keeps the loop alive
 * until closed) but delivers nothing before js_sock_start.
 * Returns NULL and sets *err (negative errno) on failure. */
js_sock_t *js_sock_new(uv_loop_t *loop, void *zctx, int type, const js_sock_opts_t *o, int *err);
int js_sock_bind(js_sock_t *s, const char *endpoint);
int js_sock_connect(js_sock_t *s, const char *endpoint);
int js_sock_subscribe(js_sock_t *s, const char *prefix); /* SUB only */
void *js_sock_zmq(js_sock_t *s);                         /* the raw socket; see the edge above */

/* Start delivering messages (from the next loop turn); drained may be NULL.
 * Calling it again replaces the callbacks. */
int js_sock_start(js_sock_t *s, js_sock_recv_cb recv, js_sock_drained_cb drained, void *arg);
int js_sock_pause(js_sock_t *s);  /* stop reading (messages wait in zmq, up to rcvhwm) */
int js_sock_resume(js_sock_t *s); /* go on reading from the next loop turn */

/* Send one message of n frames without blocking: 0, -EAGAIN (nothing sent:
 * for a multipart message on PUSH, DEALER or PAIR, ZMQ_POLLOUT is checked
 * before the first frame), -EHOSTUNREACH (ROUTER_MANDATORY, nothing sent),
 * -EBADF (closed), -EINVAL (n == 0) or another negative errno of zmq_send. */
int js_sock_send(js_sock_t *s, const js_frame_t *frames, size_t n);
/* Arm a one-shot callback for when the socket can take a message: it runs
 * from the loop (never from inside this call), and must be armed again to be
 * called again. cb NULL disarms. Arming replaces an armed callback. */
void js_sock_on_writable(js_sock_t *s, js_sock_writable_cb cb, void *arg);

/* Valid until the socket is closed. */
const js_sock_stats_t *js_sock_stats(const js_sock_t *s);
/* A property of the message being delivered (zmq_msg_gets of its last frame:
 * "User-Id" as the ZAP handler named the authenticated peer, "Peer-Address",
 * ...). Only from inside the recv callback, valid until it returns; NULL
 * elsewhere or when the message has no such property. */
const char *js_sock_msg_property(js_sock_t *s, const char *name);

/* Close: sets the finite linger again, stops the poll handle, closes the zmq
 * socket (pending messages get at most linger_ms), frees in the uv close
 * callback. No callback of the socket runs afterwards. Idempotent; sets *sp
 * to NULL. */
void js_sock_close(js_sock_t **sp);

#endif
