/* bus.c -- ZeroMQ sockets driven by a libuv loop. */
#include "bus.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct js_sock {
    uv_loop_t *loop;
    void *z;
    int type;
    uv_poll_t poll;
    uv_idle_t idle;          /* continues a drain on the next loop turn */
    int open_handles;
    bool started, paused, closing, in_process;
    int batch_max;
    js_sock_recv_cb recv;
    js_sock_drained_cb drained;
    void *arg;
    js_sock_writable_cb wcb;
    void *warg;
    js_sock_stats_t stats;
};

void js_sock_opts_default(js_sock_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->linger_ms = 1000;
}

static int s_set_int(void *z, int opt, int v) { return zmq_setsockopt(z, opt, &v, sizeof v); }

static int s_apply(void *z, int type, const js_sock_opts_t *o) {
    int rc = 0;
    rc |= s_set_int(z, ZMQ_LINGER, o->linger_ms < 0 ? 1000 : o->linger_ms);
    if (o->sndhwm > 0) rc |= s_set_int(z, ZMQ_SNDHWM, o->sndhwm);
    if (o->rcvhwm > 0) rc |= s_set_int(z, ZMQ_RCVHWM, o->rcvhwm);
    int64_t max = o->maxmsgsize == 0 ? 1024 * 1024 : o->maxmsgsize;
    rc |= zmq_setsockopt(z, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (o->immediate) rc |= s_set_int(z, ZMQ_IMMEDIATE, 1);
    if (o->heartbeat_ivl_ms > 0) {
        int to = o->heartbeat_timeout_ms > 0 ? o->heartbeat_timeout_ms : 3 * o->heartbeat_ivl_ms;
        rc |= s_set_int(z, ZMQ_HEARTBEAT_IVL, o->heartbeat_ivl_ms);
        rc |= s_set_int(z, ZMQ_HEARTBEAT_TIMEOUT, to);
        rc |= s_set_int(z, ZMQ_HEARTBEAT_TTL, to);
    }
    if (o->router_mandatory && type == ZMQ_ROUTER) rc |= s_set_int(z, ZMQ_ROUTER_MANDATORY, 1);
    if (o->curve_server_secret) {
        rc |= s_set_int(z, ZMQ_CURVE_SERVER, 1);
        rc |= zmq_setsockopt(z, ZMQ_CURVE_SECRETKEY, o->curve_server_secret, strlen(o->curve_server_secret));
    } else if (o->curve_server_key && o->curve_public && o->curve_secret) {
        rc |= zmq_setsockopt(z, ZMQ_CURVE_SERVERKEY, o->curve_server_key, strlen(o->curve_server_key));
        rc |= zmq_setsockopt(z, ZMQ_CURVE_PUBLICKEY, o->curve_public, strlen(o->curve_public));
        rc |= zmq_setsockopt(z, ZMQ_CURVE_SECRETKEY, o->curve_secret, strlen(o->curve_secret));
    }
    return rc ? -errno : 0;
}

static void s_process(js_sock_t *s);

static void s_on_poll(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    s_process(h->data);
}

static void s_on_idle(uv_idle_t *h) {
    js_sock_t *s = h->data;
    uv_idle_stop(h);
    s_process(s);
}

/* Look again on the next loop turn: a send may have consumed the edge of
 * ZMQ_FD while input was pending, and no new edge would come. */
static void s_kick(js_sock_t *s) {
    if (!s->closing && !s->in_process) uv_idle_start(&s->idle, s_on_idle);
}

js_sock_t *js_sock_new(uv_loop_t *loop, void *zctx, int type, const js_sock_opts_t *o, int *err) {
    js_sock_opts_t def;
    if (!o) {
        js_sock_opts_default(&def);
        o = &def;
    }
    void *z = zmq_socket(zctx, type);
    if (!z) {
        if (err) *err = -errno;
        return NULL;
    }
    int rc = s_apply(z, type, o);
    int fd;
    size_t fdlen = sizeof fd;
    if (rc == 0 && zmq_getsockopt(z, ZMQ_FD, &fd, &fdlen) < 0) rc = -errno;
    if (rc < 0) {
        zmq_close(z);
        if (err) *err = rc;
        return NULL;
    }
    js_sock_t *s = js_calloc(1, sizeof *s);
    s->loop = loop;
    s->z = z;
    s->type = type;
    s->batch_max = o->batch_max > 0 ? o->batch_max : 256;
    uv_poll_init(loop, &s->poll, fd);
    uv_idle_init(loop, &s->idle);
    s->poll.data = s->idle.data = s;
    s->open_handles = 2;
    uv_poll_start(&s->poll, UV_READABLE, s_on_poll);
    if (err) *err = 0;
    return s;
}

int js_sock_bind(js_sock_t *s, const char *ep) { return zmq_bind(s->z, ep) < 0 ? -errno : 0; }
int js_sock_connect(js_sock_t *s, const char *ep) { return zmq_connect(s->z, ep) < 0 ? -errno : 0; }

int js_sock_subscribe(js_sock_t *s, const char *prefix) {
    return zmq_setsockopt(s->z, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) < 0 ? -errno : 0;
}

void *js_sock_zmq(js_sock_t *s) { return s->z; }

int js_sock_start(js_sock_t *s, js_sock_recv_cb recv, js_sock_drained_cb drained, void *arg) {
    if (s->closing) return -EBADF;
    s->recv = recv;
    s->drained = drained;
    s->arg = arg;
    s->started = true;
    s_kick(s);
    return 0;
}

int js_sock_pause(js_sock_t *s) {
    s->paused = true;
    return 0;
}

int js_sock_resume(js_sock_t *s) {
    if (s->closing) return -EBADF;
    s->paused = false;
    s_kick(s);
    return 0;
}

void js_sock_on_writable(js_sock_t *s, js_sock_writable_cb cb, void *arg) {
    s->wcb = cb;
    s->warg = arg;
    s_kick(s);
}

const js_sock_stats_t *js_sock_stats(const js_sock_t *s) { return &s->stats; }

/* Read one whole message and deliver it. Returns false when nothing was read. */
static bool s_read_one(js_sock_t *s) {
    zmq_msg_t parts[JS_BUS_MAX_FRAMES];
    js_frame_t frames[JS_BUS_MAX_FRAMES];
    size_t n = 0;
    bool over = false;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->z, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break; /* EAGAIN on the first frame; later frames always come with the first */
        }
        int more = zmq_msg_more(&m);
        if (n < JS_BUS_MAX_FRAMES) {
            parts[n] = m;
            frames[n].data = zmq_msg_data(&parts[n]);
            frames[n].size = zmq_msg_size(&parts[n]);
            n++;
        } else {
            over = true;
            zmq_msg_close(&m);
        }
        if (!more) break;
    }
    if (n == 0) return false;
    if (over) {
        s->stats.oversize_frames++;
    } else {
        s->stats.received++;
        s->recv(s, frames, n, s->arg);
    }
    for (size_t i = 0; i < n; i++) zmq_msg_close(&parts[i]);
    return true;
}

static void s_process(js_sock_t *s) {
    if (s->closing || s->in_process) return;
    s->in_process = true;
    int n = 0;
    bool more_later = false;
    int told_writable = 0;
    while (!s->closing) {
        uint32_t ev = 0;
        size_t evlen = sizeof ev;
        if (zmq_getsockopt(s->z, ZMQ_EVENTS, &ev, &evlen) < 0) break;
        if ((ev & ZMQ_POLLOUT) && s->wcb) {
            /* POLLOUT promises a message can go: a callback that re-armed after
             * -EAGAIN finds POLLOUT gone on the next look. The cap only guards
             * against a peer that keeps promising; then look again next turn. */
            if (++told_writable > 64) {
                more_later = true;
                break;
            }
            js_sock_writable_cb cb = s->wcb;
            s->wcb = NULL;
            cb(s, s->warg);
            continue;
        }
        if (!(ev & ZMQ_POLLIN) || !s->started || s->paused) break;
        if (n >= s->batch_max) {
            more_later = true;
            break;
        }
        if (!s_read_one(s)) break;
        n++;
    }
    s->in_process = false;
    if (s->closing) return;
    if (n > 0 && s->drained) s->drained(s, s->arg);
    if (s->closing) return;
    if (more_later) s_kick(s);
}

int js_sock_send(js_sock_t *s, const js_frame_t *f, size_t n) {
    if (s->closing) return -EBADF;
    if (n == 0) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(s->z, f[i].data, f[i].size, flags) < 0) {
            int e = errno;
            /* Only the first frame can fail: zmq takes the rest of a message it accepted. */
            if (e == EAGAIN) s->stats.send_again++;
            else if (e == EHOSTUNREACH) s->stats.unroutable++;
            s_kick(s);
            return -e;
        }
    }
    s->stats.sent++;
    s_kick(s);
    return 0;
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
    /* Stop watching the fd before zmq closes it. */
    uv_close((uv_handle_t *)&s->poll, s_closed);
    uv_close((uv_handle_t *)&s->idle, s_closed);
    zmq_close(s->z); /* with the finite ZMQ_LINGER set at creation */
    s->z = NULL;
}
