/* bus.c -- ZeroMQ sockets driven by a libuv loop.
 *
 * ZMQ_FD is the eventfd of the socket's command mailbox, not of its data: it
 * turns readable when commands arrive, and any libzmq call that processes
 * commands (recv, send, a ZMQ_EVENTS read) reads it empty. The truth is
 * ZMQ_EVENTS, so every wake-up re-reads it until there is nothing left to do,
 * and every path that may have eaten the edge (a send, a resume, a drain cut
 * short) schedules one more look from a uv_idle_t. */
#include "bus.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Writable callbacks told per turn: a callback that re-arms while POLLOUT
 * holds is told again (it may have more to send), but not for ever. */
#define S_TELL_MAX 64

struct js_sock {
    uv_loop_t *loop;
    void *z;
    int type;
    int linger_ms;
    uv_poll_t poll;
    uv_idle_t idle; /* one more look on the next loop turn */
    int open_handles;
    bool started, paused, closing, in_process;
    int batch_max;
    js_sock_recv_cb recv;
    js_sock_drained_cb drained;
    void *arg;
    js_sock_writable_cb wcb;
    void *warg;
    js_sock_stats_t stats;
    zmq_msg_t *cur; /* the last frame of the message being delivered */
};

void js_sock_opts_default(js_sock_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->linger_ms = JS_BUS_LINGER_MS;
}

static int s_set_int(void *z, int opt, int v) {
    return zmq_setsockopt(z, opt, &v, sizeof v) < 0 ? -errno : 0;
}

static int s_set_str(void *z, int opt, const char *v) {
    return zmq_setsockopt(z, opt, v, strlen(v)) < 0 ? -errno : 0;
}

static int s_linger(const js_sock_opts_t *o) {
    return o->linger_ms < 0 ? JS_BUS_LINGER_MS : o->linger_ms;
}

static int s_apply(void *z, int type, const js_sock_opts_t *o) {
    int rc;
    if ((rc = s_set_int(z, ZMQ_LINGER, s_linger(o))) < 0) return rc;
    if (o->sndhwm > 0 && (rc = s_set_int(z, ZMQ_SNDHWM, o->sndhwm)) < 0) return rc;
    if (o->rcvhwm > 0 && (rc = s_set_int(z, ZMQ_RCVHWM, o->rcvhwm)) < 0) return rc;
    int64_t max = o->maxmsgsize == 0 ? JS_BUS_MAXMSGSIZE : o->maxmsgsize;
    if (zmq_setsockopt(z, ZMQ_MAXMSGSIZE, &max, sizeof max) < 0) return -errno;
    if (o->immediate && (rc = s_set_int(z, ZMQ_IMMEDIATE, 1)) < 0) return rc;
    if (o->heartbeat_ivl_ms > 0) {
        int to = o->heartbeat_timeout_ms > 0 ? o->heartbeat_timeout_ms : 3 * o->heartbeat_ivl_ms;
        if ((rc = s_set_int(z, ZMQ_HEARTBEAT_IVL, o->heartbeat_ivl_ms)) < 0) return rc;
        if ((rc = s_set_int(z, ZMQ_HEARTBEAT_TIMEOUT, to)) < 0) return rc;
        /* The peer drops us too if our pings stop, not only we it. */
        if ((rc = s_set_int(z, ZMQ_HEARTBEAT_TTL, to)) < 0) return rc;
    }
    if (o->router_mandatory && type == ZMQ_ROUTER && (rc = s_set_int(z, ZMQ_ROUTER_MANDATORY, 1)) < 0)
        return rc;
    if (o->curve_server_secret) {
        if ((rc = s_set_int(z, ZMQ_CURVE_SERVER, 1)) < 0) return rc;
        if ((rc = s_set_str(z, ZMQ_CURVE_SECRETKEY, o->curve_server_secret)) < 0) return rc;
    }
    if (o->curve_server_key || o->curve_public || o->curve_secret) {
        /* Half a client keypair would quietly fall back to plain text. */
        if (!o->curve_server_key || !o->curve_public || !o->curve_secret || o->curve_server_secret)
            return -EINVAL;
        if ((rc = s_set_str(z, ZMQ_CURVE_SERVERKEY, o->curve_server_key)) < 0) return rc;
        if ((rc = s_set_str(z, ZMQ_CURVE_PUBLICKEY, o->curve_public)) < 0) return rc;
        if ((rc = s_set_str(z, ZMQ_CURVE_SECRETKEY, o->curve_secret)) < 0) return rc;
    }
    return 0;
}

static void s_process(js_sock_t *s);

static void s_on_poll(uv_poll_t *h, int status, int events) {
    JS_UNUSED(status); /* whatever the fd says, ZMQ_EVENTS tells what to do */
    JS_UNUSED(events);
    s_process(h->data);
}

static void s_on_idle(uv_idle_t *h) {
    uv_idle_stop(h);
    s_process(h->data);
}

/* Look again on the next loop turn. Inside s_process there is no need: its
 * loop re-reads ZMQ_EVENTS after every callback. */
static void s_kick(js_sock_t *s) {
    if (!s->closing && !s->in_process) uv_idle_start(&s->idle, s_on_idle);
}

static bool s_reading(const js_sock_t *s) {
    return s->started && !s->paused;
}

js_sock_t *js_sock_new(uv_loop_t *loop, void *zctx, int type, const js_sock_opts_t *o, int *err) {
    js_sock_opts_t def;
    if (!o) {
        js_sock_opts_default(&def);
        o = &def;
    }
    int dummy;
    if (!err) err = &dummy;
    void *z = zmq_socket(zctx, type);
    if (!z) {
        *err = -errno;
        return NULL;
    }
    int rc = s_apply(z, type, o);
    int fd = -1;
    size_t fdlen = sizeof fd;
    if (rc == 0 && zmq_getsockopt(z, ZMQ_FD, &fd, &fdlen) < 0) rc = -errno;
    js_sock_t *s = NULL;
    if (rc == 0) {
        s = js_calloc(1, sizeof *s);
        rc = uv_poll_init(loop, &s->poll, fd);
    }
    if (rc < 0) {
        free(s);
        zmq_close(z);
        *err = rc;
        return NULL;
    }
    s->loop = loop;
    s->z = z;
    s->type = type;
    s->linger_ms = s_linger(o);
    s->batch_max = o->batch_max > 0 ? o->batch_max : JS_BUS_BATCH_MAX;
    uv_idle_init(loop, &s->idle);
    s->poll.data = s->idle.data = s;
    s->open_handles = 2;
    /* Watched from the start: the writable callback works before js_sock_start. */
    uv_poll_start(&s->poll, UV_READABLE, s_on_poll);
    *err = 0;
    return s;
}

int js_sock_bind(js_sock_t *s, const char *ep) {
    if (s->closing) return -EBADF;
    return zmq_bind(s->z, ep) < 0 ? -errno : 0;
}

int js_sock_connect(js_sock_t *s, const char *ep) {
    if (s->closing) return -EBADF;
    return zmq_connect(s->z, ep) < 0 ? -errno : 0;
}

int js_sock_subscribe(js_sock_t *s, const char *prefix) {
    if (s->closing) return -EBADF;
    return zmq_setsockopt(s->z, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) < 0 ? -errno : 0;
}

void *js_sock_zmq(js_sock_t *s) {
    return s->z;
}

int js_sock_start(js_sock_t *s, js_sock_recv_cb recv, js_sock_drained_cb drained, void *arg) {
    if (s->closing) return -EBADF;
    if (!recv) return -EINVAL;
    s->recv = recv;
    s->drained = drained;
    s->arg = arg;
    s->started = true;
    s_kick(s); /* input may be waiting behind an edge that came before */
    return 0;
}

int js_sock_pause(js_sock_t *s) {
    if (s->closing) return -EBADF;
    s->paused = true;
    return 0;
}

int js_sock_resume(js_sock_t *s) {
    if (s->closing) return -EBADF;
    s->paused = false;
    s_kick(s); /* the edge for what waited came while we did not read */
    return 0;
}

void js_sock_on_writable(js_sock_t *s, js_sock_writable_cb cb, void *arg) {
    if (s->closing) return;
    s->wcb = cb;
    s->warg = arg;
    if (cb) s_kick(s); /* it may be writable already: no edge would tell */
}

const js_sock_stats_t *js_sock_stats(const js_sock_t *s) {
    return &s->stats;
}

/* Read one whole message and deliver it (or drop it for too many frames).
 * 1: a message was taken, 0: nothing to read, or a negative errno. */
static int s_read_one(js_sock_t *s) {
    zmq_msg_t parts[JS_BUS_MAX_FRAMES];
    js_frame_t frames[JS_BUS_MAX_FRAMES];
    size_t n = 0, total = 0;
    int more = 1, err = 0;
    while (more) {
        zmq_msg_t extra;
        zmq_msg_t *m = n < JS_BUS_MAX_FRAMES ? &parts[n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, s->z, ZMQ_DONTWAIT) < 0) {
            err = errno;
            zmq_msg_close(m);
            break;
        }
        total++;
        more = zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(m); /* read to the end all the same, so the next message starts clean */
        } else {
            frames[n].data = zmq_msg_data(m);
            frames[n].size = zmq_msg_size(m);
            n++;
        }
    }
    if (total == 0) return err == EAGAIN ? 0 : -err;
    /* libzmq hands over a message whole or not at all; should a frame still
     * fail (err), the torn message is dropped, never delivered. */
    if (!err && total > JS_BUS_MAX_FRAMES) {
        s->stats.oversize_frames++;
    } else if (!err) {
        s->stats.received++;
        s->cur = &parts[n - 1];
        s->recv(s, frames, n, s->arg);
        s->cur = NULL; /* s may be closing, but is freed only in the uv close callback */
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
    return 1;
}

const char *js_sock_msg_property(js_sock_t *s, const char *name) {
    return s->cur ? zmq_msg_gets(s->cur, name) : NULL;
}

static void s_process(js_sock_t *s) {
    if (s->closing || s->in_process) return;
    s->in_process = true;
    int n = 0, told = 0;
    bool again = false;
    while (!s->closing) {
        uint32_t ev = 0;
        size_t evlen = sizeof ev;
        if (zmq_getsockopt(s->z, ZMQ_EVENTS, &ev, &evlen) < 0) {
            int e = errno;
            /* ETERM: the context is going and the fd stays readable; stop
             * watching it (the owner still closes the socket). */
            if (e == ETERM) uv_poll_stop(&s->poll);
            again = e == EINTR;
            break;
        }
        if ((ev & ZMQ_POLLOUT) && s->wcb) {
            if (told < S_TELL_MAX) {
                js_sock_writable_cb cb = s->wcb;
                s->wcb = NULL; /* one-shot: the callback re-arms if it met -EAGAIN again */
                told++;
                cb(s, s->warg);
                continue;
            }
            again = true; /* go on reading; tell it again next turn */
        }
        if (!(ev & ZMQ_POLLIN) || !s_reading(s)) break;
        if (n >= s->batch_max) {
            again = true;
            break;
        }
        int rc = s_read_one(s);
        if (rc <= 0) {
            again = rc == -EINTR;
            break;
        }
        n++;
    }
    s->in_process = false;
    if (s->closing) return;
    if (n > 0 && s->drained) s->drained(s, s->arg);
    if (again) s_kick(s);
}

int js_sock_send(js_sock_t *s, const js_frame_t *f, size_t n) {
    if (s->closing) return -EBADF;
    if (n == 0) return -EINVAL;
    int rc = 0;
    if (n > 1 && (s->type == ZMQ_PUSH || s->type == ZMQ_DEALER || s->type == ZMQ_PAIR)) {
        /* libzmq would refuse the first frame anyway; asking first makes
         * "nothing sent" hold without relying on that. Not on ROUTER: with
         * ROUTER_MANDATORY its POLLOUT says "some peer has room", and the
         * first frame gives the precise answer (-EAGAIN or -EHOSTUNREACH). */
        uint32_t ev = 0;
        size_t evlen = sizeof ev;
        if (zmq_getsockopt(s->z, ZMQ_EVENTS, &ev, &evlen) < 0)
            rc = -errno;
        else if (!(ev & ZMQ_POLLOUT))
            rc = -EAGAIN;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(s->z, f[i].data, f[i].size, flags) < 0) {
            /* On a later frame only when the peer's pipe died under us: libzmq
             * dropped the part already queued. */
            rc = -errno;
        }
    }
    if (rc == 0)
        s->stats.sent++;
    else if (rc == -EAGAIN)
        s->stats.send_again++;
    else if (rc == -EHOSTUNREACH)
        s->stats.unroutable++;
    /* The send processed the socket's commands and may have eaten the edge of
     * input that arrived meanwhile, or of the writability someone waits for. */
    if (s_reading(s) || s->wcb) s_kick(s);
    return rc;
}

static void s_closed(uv_handle_t *h) {
    js_sock_t *s = h->data;
    if (--s->open_handles == 0) free(s);
}

void js_sock_close(js_sock_t **sp) {
    if (!sp || !*sp) return;
    js_sock_t *s = *sp;
    *sp = NULL;
    if (s->closing) return;
    s->closing = true;
    s->recv = NULL;
    s->drained = NULL;
    s->wcb = NULL;
    /* Stop watching the fd before zmq closes it (uv_close takes it out of
     * epoll at once). The raw socket may have had its linger changed. */
    uv_close((uv_handle_t *)&s->poll, s_closed);
    uv_close((uv_handle_t *)&s->idle, s_closed);
    int linger = s->linger_ms;
    zmq_setsockopt(s->z, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(s->z);
    s->z = NULL;
}
