/* test_bus.c -- ZeroMQ on libuv: draining an edge-triggered fd, replies sent
 * from inside and outside callbacks, back-pressure and the writable callback,
 * vanished peers, size caps, options, pub/sub, pause, closes from callbacks,
 * and the bounded send queue (outq) in front of a socket.
 *
 * Each test has its own loop and zmq context (fixture). Sockets live in the
 * fixture, so a failed test still closes them; callbacks never assert (a
 * longjmp out of uv_run would leave the loop mid-turn): they count what went
 * wrong and the test asserts after the loop. A guard timer stops a stalled
 * loop, which then fails the test instead of hanging. Every test ends with
 * uv_loop_close() == 0 (in teardown). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "outq.h"

#define GUARD_MS 10000 /* only a stalled test ever waits this long */

typedef struct fx {
    uv_loop_t loop;
    void *ctx;
    uv_timer_t guard;
    uv_timer_t timer; /* for tests that need one: closed by teardown */
    bool timed_out;
    js_sock_t *socks[8]; /* closed by teardown even after a failure */
    int nsocks;
    void *raw[8]; /* plain zmq sockets of the test */
    int nraw;
    int fd;     /* a plain TCP socket, or -1 */
    void *heap; /* freed by teardown */
} fx_t;

static void guard_cb(uv_timer_t *t) {
    fx_t *f = t->data;
    f->timed_out = true;
    uv_stop(&f->loop);
}

static int setup(void **st) {
    fx_t *f = calloc(1, sizeof *f);
    f->fd = -1;
    uv_loop_init(&f->loop);
    f->ctx = zmq_ctx_new();
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_init(&f->loop, &f->timer);
    f->guard.data = f->timer.data = f;
    uv_timer_start(&f->guard, guard_cb, GUARD_MS, 0);
    uv_unref((uv_handle_t *)&f->guard);
    *st = f;
    return 0;
}

static int teardown(void **st) {
    fx_t *f = *st;
    for (int i = 0; i < f->nsocks; i++)
        js_sock_close(&f->socks[i]);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_close((uv_handle_t *)&f->timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < f->nraw; i++)
        zmq_close(f->raw[i]);
    if (f->fd >= 0) close(f->fd);
    free(f->heap);
    int rc = uv_loop_close(&f->loop);
    zmq_ctx_term(f->ctx); /* returns because every linger is finite */
    free(f);
    assert_int_equal(rc, 0);
    return 0;
}

/* A js_sock owned by the fixture; the test holds the slot. */
static js_sock_t **sock(fx_t *f, int type, const js_sock_opts_t *o) {
    int err = 1;
    js_sock_t *s = js_sock_new(&f->loop, f->ctx, type, o, &err);
    assert_non_null(s);
    assert_int_equal(err, 0);
    assert_true(f->nsocks < (int)JS_ARRAY_LEN(f->socks));
    f->socks[f->nsocks] = s;
    return &f->socks[f->nsocks++];
}

static void *raw_socket(fx_t *f, int type) {
    void *z = zmq_socket(f->ctx, type);
    assert_non_null(z);
    int linger = 0;
    zmq_setsockopt(z, ZMQ_LINGER, &linger, sizeof linger);
    f->raw[f->nraw++] = z;
    return z;
}

/* Bind to a wildcard port and read back the endpoint zmq chose. */
static void bind_any(js_sock_t *s, char *out, size_t cap) {
    assert_int_equal(js_sock_bind(s, "tcp://127.0.0.1:*"), 0);
    size_t len = cap;
    assert_int_equal(zmq_getsockopt(js_sock_zmq(s), ZMQ_LAST_ENDPOINT, out, &len), 0);
    assert_non_null(strstr(out, "tcp://127.0.0.1:"));
}

static void run(fx_t *f) {
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_false(f->timed_out);
}

#define RUN_UNTIL(f, cond)                                                                                   \
    do {                                                                                                     \
        while (!(cond) && !(f)->timed_out)                                                                   \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                                 \
        assert_false((f)->timed_out);                                                                        \
    } while (0)

static int send_int(js_sock_t *s, int v) {
    return js_sock_send(s, (js_frame_t[]){{&v, sizeof v}}, 1);
}

static int frame_int(const js_frame_t *fr) {
    int v = -1;
    if (fr->size == sizeof v) memcpy(&v, fr->data, sizeof v);
    return v;
}

/* ---- a writer that sends 0..total-1 and waits on -EAGAIN ------------------- */

typedef struct pump {
    js_sock_t **s;
    int next, total;
    int again, writable_calls, bad;
} pump_t;

static void pump_go(pump_t *p);

static void pump_writable(js_sock_t *s, void *arg) {
    pump_t *p = arg;
    if (s != *p->s) p->bad++;
    p->writable_calls++;
    pump_go(p);
}

static void pump_go(pump_t *p) {
    while (*p->s && p->next < p->total) {
        int rc = send_int(*p->s, p->next);
        if (rc == -EAGAIN) {
            p->again++;
            js_sock_on_writable(*p->s, pump_writable, p);
            return;
        }
        if (rc < 0) {
            p->bad++;
            return;
        }
        p->next++;
    }
}

/* ---- PUSH/PULL: everything arrives, in order, in bounded drained batches ----- */

typedef struct counter {
    js_sock_t **s, **peer;
    int n, expect, bad;
    int drained, in_batch, max_batch;
    js_sock_stats_t at_end;
} counter_t;

static void count_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    counter_t *c = arg;
    if (s != *c->s || n != 1 || frame_int(&fr[0]) != c->n) c->bad++;
    c->n++;
    if (++c->in_batch > c->max_batch) c->max_batch = c->in_batch;
    if (c->n == c->expect) {
        c->at_end = *js_sock_stats(s);
        js_sock_close(c->s); /* closing inside the callback is safe */
        if (c->peer) js_sock_close(c->peer);
    }
}

static void count_drained(js_sock_t *s, void *arg) {
    counter_t *c = arg;
    if (s != *c->s) c->bad++;
    c->drained++;
    c->in_batch = 0;
}

static void test_push_pull_in_order(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.batch_max = 100;
    js_sock_t **pull = sock(f, ZMQ_PULL, &o);
    char ep[128];
    bind_any(*pull, ep, sizeof ep);
    js_sock_opts_default(&o);
    o.sndhwm = 500; /* well below the count: the writer meets -EAGAIN and waits */
    js_sock_t **push = sock(f, ZMQ_PUSH, &o);
    assert_int_equal(js_sock_connect(*push, ep), 0);
    counter_t c = {.s = pull, .peer = push, .expect = 10000};
    assert_int_equal(js_sock_start(*pull, count_recv, count_drained, &c), 0);
    pump_t p = {.s = push, .total = c.expect};
    pump_go(&p);
    run(f);
    assert_int_equal(c.n, c.expect);
    assert_int_equal(c.bad, 0);
    assert_int_equal(p.bad, 0);
    assert_int_equal(p.next, p.total);
    assert_true(p.again > 0 && p.writable_calls > 0);
    assert_true(c.max_batch <= 100);              /* a drain stops at batch_max ... */
    assert_true(c.drained >= c.expect / 100 - 1); /* ... and says so (the last batch closed) */
    assert_int_equal(c.at_end.received, c.expect);
    assert_null(*pull);
    assert_null(*push);
}

/* ---- multipart: frames intact; too many frames dropped and counted ---------- */

typedef struct multi {
    js_sock_t **s;
    int msgs, bad;
    size_t nframes[4];
    js_sock_stats_t at_end;
} multi_t;

static void multi_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    multi_t *m = arg;
    if (m->msgs < 4) m->nframes[m->msgs] = n;
    m->msgs++;
    if (m->msgs == 1) { /* "a", "", 5000 bytes of i % 251, "\0z" */
        if (n != 4 || fr[0].size != 1 || memcmp(fr[0].data, "a", 1) || fr[1].size != 0 ||
            fr[2].size != 5000 || fr[3].size != 2 || memcmp(fr[3].data, "\0z", 2))
            m->bad++;
        else
            for (size_t i = 0; i < 5000; i++)
                if (((const unsigned char *)fr[2].data)[i] != i % 251) m->bad++;
    } else if (m->msgs == 2) { /* exactly the cap */
        if (n != JS_BUS_MAX_FRAMES) m->bad++;
        for (size_t i = 0; i < n; i++)
            if (fr[i].size != 1 || ((const char *)fr[i].data)[0] != (char)('0' + i)) m->bad++;
    } else if (m->msgs == 3) {
        if (n != 1 || fr[0].size != 3 || memcmp(fr[0].data, "end", 3)) m->bad++;
        m->at_end = *js_sock_stats(s);
        js_sock_close(m->s);
    } else {
        m->bad++;
    }
}

static void test_multipart_and_too_many_frames(void **st) {
    fx_t *f = *st;
    multi_t m = {0};
    m.s = sock(f, ZMQ_PULL, NULL);
    char ep[128];
    bind_any(*m.s, ep, sizeof ep);
    js_sock_start(*m.s, multi_recv, NULL, &m);
    void *push = raw_socket(f, ZMQ_PUSH);
    assert_int_equal(zmq_connect(push, ep), 0);
    unsigned char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i % 251);
    zmq_send(push, "a", 1, ZMQ_SNDMORE);
    zmq_send(push, "", 0, ZMQ_SNDMORE);
    zmq_send(push, big, sizeof big, ZMQ_SNDMORE);
    zmq_send(push, "\0z", 2, 0);
    for (int i = 0; i < JS_BUS_MAX_FRAMES + 1; i++) /* one too many: dropped whole */
        zmq_send(push, "x", 1, i < JS_BUS_MAX_FRAMES ? ZMQ_SNDMORE : 0);
    for (int i = 0; i < 3 * JS_BUS_MAX_FRAMES; i++) /* far too many */
        zmq_send(push, "y", 1, i < 3 * JS_BUS_MAX_FRAMES - 1 ? ZMQ_SNDMORE : 0);
    for (int i = 0; i < JS_BUS_MAX_FRAMES; i++) {
        char c = (char)('0' + i);
        zmq_send(push, &c, 1, i < JS_BUS_MAX_FRAMES - 1 ? ZMQ_SNDMORE : 0);
    }
    zmq_send(push, "end", 3, 0);
    run(f);
    assert_int_equal(m.bad, 0);
    assert_int_equal(m.msgs, 3);
    assert_int_equal(m.nframes[0], 4);
    assert_int_equal(m.nframes[1], JS_BUS_MAX_FRAMES);
    assert_int_equal(m.at_end.oversize_frames, 2);
    assert_int_equal(m.at_end.received, 3);
}

/* ---- DEALER -> ROUTER: every request answered, wherever the reply is sent ---- */
/* A send processes the socket's commands and can eat the edge that announced
 * new requests; a bus that did not look again would stall with requests
 * queued. The replies go out from the recv callback, from the drained
 * callback (batched), and from a timer (as a store reply would). */

enum { REPLY_INSIDE, REPLY_DRAINED, REPLY_TIMER };
#define ECHO_N 10000

typedef struct echo {
    fx_t *f;
    js_sock_t **router;
    int mode, got, bad;
    int nq; /* replies waiting: [routing id][int] */
    unsigned char ids[ECHO_N][16];
    size_t idlen[ECHO_N];
    int vals[ECHO_N];
} echo_t;

static void echo_flush(echo_t *e) {
    for (int i = 0; i < e->nq; i++) {
        js_frame_t fr[2] = {{e->ids[i], e->idlen[i]}, {&e->vals[i], sizeof e->vals[i]}};
        if (js_sock_send(*e->router, fr, 2) != 0) e->bad++;
    }
    e->nq = 0;
}

/* The timer's data is the echo (the fixture's timer is lent to the test). */
static void echo_timer(uv_timer_t *t) {
    echo_flush(t->data);
}

static void echo_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    echo_t *e = arg;
    e->got++;
    if (n != 2 || e->nq >= ECHO_N || fr[0].size == 0 || fr[0].size > sizeof e->ids[0] ||
        fr[1].size != sizeof(int)) {
        e->bad++;
        return;
    }
    if (e->mode == REPLY_INSIDE) {
        if (js_sock_send(s, fr, n) != 0) e->bad++;
        return;
    }
    memcpy(e->ids[e->nq], fr[0].data, fr[0].size);
    e->idlen[e->nq] = fr[0].size;
    memcpy(&e->vals[e->nq], fr[1].data, sizeof(int));
    e->nq++;
}

static void echo_drained(js_sock_t *s, void *arg) {
    JS_UNUSED(s);
    echo_t *e = arg;
    if (e->mode == REPLY_DRAINED)
        echo_flush(e);
    else if (e->mode == REPLY_TIMER && e->nq && !uv_is_active((uv_handle_t *)&e->f->timer))
        uv_timer_start(&e->f->timer, echo_timer, 0, 0);
}

typedef struct client {
    js_sock_t **dealer, **router;
    int replies, bad;
} client_t;

static void client_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(s);
    client_t *c = arg;
    if (n != 1 || frame_int(&fr[0]) != c->replies) c->bad++; /* one connection: replies in order */
    if (++c->replies == ECHO_N) {
        js_sock_close(c->dealer);
        js_sock_close(c->router);
    }
}

static void echo_case(fx_t *f, int mode, bool queue_first) {
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.router_mandatory = true;
    o.sndhwm = o.rcvhwm = 2 * ECHO_N; /* the router never meets -EAGAIN: replies are not kept */
    o.batch_max = 64;
    echo_t *e = f->heap = calloc(1, sizeof *e);
    e->f = f;
    e->mode = mode;
    e->router = sock(f, ZMQ_ROUTER, &o);
    f->timer.data = e;
    char ep[128];
    bind_any(*e->router, ep, sizeof ep);
    js_sock_opts_default(&o);
    js_sock_t **dealer = sock(f, ZMQ_DEALER, &o); /* default hwm: the client waits on -EAGAIN */
    assert_int_equal(js_sock_connect(*dealer, ep), 0);
    client_t c = {.dealer = dealer, .router = e->router};
    js_sock_start(*dealer, client_recv, NULL, &c);
    pump_t p = {.s = dealer, .total = ECHO_N};
    pump_go(&p);
    if (queue_first) /* let requests pile up at the router before it reads */
        while (p.next < 2000 && !f->timed_out)
            uv_run(&f->loop, UV_RUN_ONCE);
    js_sock_start(*e->router, echo_recv, echo_drained, e);
    run(f);
    assert_int_equal(e->bad, 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(p.bad, 0);
    assert_int_equal(e->got, ECHO_N);
    assert_int_equal(c.replies, ECHO_N);
}

static void test_router_replies_inside_recv(void **st) {
    echo_case(*st, REPLY_INSIDE, true);
}
static void test_router_replies_from_drained(void **st) {
    echo_case(*st, REPLY_DRAINED, true);
}
static void test_router_replies_from_timer(void **st) {
    echo_case(*st, REPLY_TIMER, false);
}

/* The same stall made certain: a request reaches the router while the loop is
 * elsewhere (its edge is pending on ZMQ_FD), then a reply sent from outside
 * any callback of the router processes its commands and eats that edge.
 * Unless the send makes the bus look again, that request waits for ever. */
typedef struct lockstep {
    int got, bad;
    unsigned char id[256];
    size_t idlen;
} lockstep_t;

static void lockstep_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(s);
    lockstep_t *l = arg;
    if (n != 2 || fr[0].size > sizeof l->id || frame_int(&fr[1]) != l->got)
        l->bad++;
    else
        memcpy(l->id, fr[0].data, l->idlen = fr[0].size);
    l->got++;
}

static void test_router_reply_from_outside_eats_no_request(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.router_mandatory = true;
    js_sock_t **r = sock(f, ZMQ_ROUTER, &o);
    char ep[128];
    bind_any(*r, ep, sizeof ep);
    lockstep_t l = {0};
    js_sock_start(*r, lockstep_recv, NULL, &l);
    void *d = raw_socket(f, ZMQ_DEALER);
    assert_int_equal(zmq_connect(d, ep), 0);
    int v = 0;
    assert_int_equal(zmq_send(d, &v, sizeof v, 0), sizeof v);
    RUN_UNTIL(f, l.got == 1);
    for (int k = 1; k < 100; k++) {
        assert_int_equal(zmq_send(d, &k, sizeof k, 0), sizeof k);
        usleep(2000); /* the request gets to the router meanwhile (if not, this round proves nothing) */
        js_frame_t reply[2] = {{l.id, l.idlen}, {&k, sizeof k}};
        assert_int_equal(js_sock_send(*r, reply, 2), 0);
        RUN_UNTIL(f, l.got == k + 1);
    }
    assert_int_equal(l.bad, 0);
    js_sock_close(r);
    run(f);
}

/* ---- back-pressure: -EAGAIN at once, then the writable callback ------------- */

static void test_backpressure_and_writable(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.sndhwm = 10;
    o.rcvhwm = 10;
    js_sock_t **pull = sock(f, ZMQ_PULL, &o);
    assert_int_equal(js_sock_bind(*pull, "inproc://backpressure"), 0); /* bound, but nobody reads */
    js_sock_t **push = sock(f, ZMQ_PUSH, &o);
    assert_int_equal(js_sock_connect(*push, "inproc://backpressure"), 0);
    pump_t p = {.s = push, .total = 1000};
    pump_go(&p); /* returns: every send is non-blocking */
    assert_int_equal(p.again, 1);
    assert_true(p.next > 0 && p.next < 100); /* the two high-water marks, not the whole burst */
    assert_int_equal(js_sock_stats(*push)->send_again, 1);
    assert_int_equal(js_sock_stats(*push)->sent, p.next);
    int v = -1;
    assert_int_equal(js_sock_send(*push, (js_frame_t[]){{&v, sizeof v}, {&v, sizeof v}}, 2), -EAGAIN);
    assert_int_equal(js_sock_stats(*push)->send_again, 2);
    for (int i = 0; i < 50; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(p.writable_calls, 0); /* nobody read: nobody told */
    counter_t c = {.s = pull, .peer = push, .expect = p.total};
    js_sock_start(*pull, count_recv, count_drained, &c); /* the reader comes */
    run(f);
    assert_true(p.writable_calls >= 1);
    assert_int_equal(p.bad, 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.n, p.total); /* and every message queued or sent later arrived, in order */
}

/* Armed on a socket that is writable already: no edge will come, yet it is
 * told, and once per arming. */
static void count_writable(js_sock_t *s, void *arg) {
    JS_UNUSED(s);
    (*(int *)arg)++;
}

static void test_writable_armed_when_writable(void **st) {
    fx_t *f = *st;
    js_sock_t **pull = sock(f, ZMQ_PULL, NULL), **push = sock(f, ZMQ_PUSH, NULL);
    assert_int_equal(js_sock_bind(*pull, "inproc://writable"), 0);
    assert_int_equal(js_sock_connect(*push, "inproc://writable"), 0);
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT); /* every edge seen */
    int told = 0;
    js_sock_on_writable(*push, count_writable, &told);
    RUN_UNTIL(f, told > 0);
    assert_int_equal(send_int(*push, 1), 0);
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(told, 1); /* one-shot, though POLLOUT holds */
    js_sock_on_writable(*push, count_writable, &told);
    js_sock_on_writable(*push, NULL, NULL); /* disarmed before the loop ran */
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(told, 1);
    js_sock_close(push);
    js_sock_close(pull);
    run(f);
}

/* ---- ZMQ_IMMEDIATE with no peer; ROUTER_MANDATORY to unknown peers --------- */

static void test_immediate_push_without_peer(void **st) {
    fx_t *f = *st;
    /* A port that is ours but does not listen: connections are refused. */
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &alen), 0);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.immediate = true;
    js_sock_t **p = sock(f, ZMQ_PUSH, &o);
    assert_int_equal(js_sock_connect(*p, ep), 0);
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(send_int(*p, 1), -EAGAIN);
    assert_int_equal(js_sock_send(*p, (js_frame_t[]){{"a", 1}, {"b", 1}}, 2), -EAGAIN);
    assert_int_equal(js_sock_stats(*p)->send_again, 2);
    assert_int_equal(js_sock_stats(*p)->sent, 0);
    assert_int_equal(js_sock_send(*p, NULL, 0), -EINVAL);
    js_sock_close(p);
    assert_null(*p);
    js_sock_close(p); /* idempotent */
    js_sock_close(NULL);
    run(f);
}

typedef struct routed {
    js_sock_t **router;
    unsigned char id[256];
    size_t idlen;
    int got, bad;
} routed_t;

static void routed_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(s);
    routed_t *r = arg;
    if (n != 2 || fr[0].size > sizeof r->id) {
        r->bad++;
        return;
    }
    memcpy(r->id, fr[0].data, fr[0].size);
    r->idlen = fr[0].size;
    r->got++;
}

static void test_router_mandatory_unknown_peer(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.router_mandatory = true;
    js_sock_t **r = sock(f, ZMQ_ROUTER, &o);
    js_frame_t nobody[2] = {{"nobody", 6}, {"x", 1}};
    assert_int_equal(js_sock_send(*r, nobody, 2), -EHOSTUNREACH); /* no peer at all */
    char ep[128];
    bind_any(*r, ep, sizeof ep);
    routed_t rt = {.router = r};
    js_sock_start(*r, routed_recv, NULL, &rt);
    void *d = raw_socket(f, ZMQ_DEALER);
    assert_int_equal(zmq_setsockopt(d, ZMQ_ROUTING_ID, "alice", 5), 0);
    assert_int_equal(zmq_connect(d, ep), 0);
    assert_int_equal(zmq_send(d, "hi", 2, 0), 2);
    RUN_UNTIL(f, rt.got == 1);
    assert_int_equal(rt.bad, 0);
    assert_int_equal(rt.idlen, 5);
    assert_memory_equal(rt.id, "alice", 5);
    assert_int_equal(js_sock_send(*r, nobody, 2), -EHOSTUNREACH); /* a peer, but not that one */
    assert_int_equal(js_sock_stats(*r)->unroutable, 2);
    js_frame_t alice[2] = {{"alice", 5}, {"yes", 3}};
    assert_int_equal(js_sock_send(*r, alice, 2), 0);
    assert_int_equal(js_sock_stats(*r)->sent, 1);
    char buf[8];
    int len;
    while ((len = zmq_recv(d, buf, sizeof buf, ZMQ_DONTWAIT)) < 0 && !f->timed_out) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "yes", 3);
    js_sock_close(r);
    run(f);
}

/* ---- MAXMSGSIZE: the big one never arrives, the next normal one does -------- */

typedef struct capped {
    js_sock_t **pull, **push;
    int small, big, bad;
} capped_t;

static void capped_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(s);
    capped_t *c = arg;
    if (n != 1)
        c->bad++;
    else if (fr[0].size > 1024)
        c->big++;
    else if (fr[0].size == 5 && !memcmp(fr[0].data, "small", 5))
        c->small++;
    else
        c->bad++;
    if (c->small) {
        js_sock_close(c->pull);
        js_sock_close(c->push);
    }
}

/* libzmq drops the connection that carried the big message; the PUSH
 * reconnects by itself, and what it sent meanwhile may be lost with the old
 * connection: keep sending until one arrives (no timing is asserted). */
static void capped_tick(uv_timer_t *t) {
    capped_t *c = t->data;
    if (*c->push)
        js_sock_send(*c->push, (js_frame_t[]){{"small", 5}}, 1);
    else
        uv_timer_stop(t);
}

static void test_maxmsgsize_drops_then_serves(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.maxmsgsize = 1024;
    capped_t c = {0};
    c.pull = sock(f, ZMQ_PULL, &o);
    char ep[128];
    bind_any(*c.pull, ep, sizeof ep);
    js_sock_start(*c.pull, capped_recv, NULL, &c);
    js_sock_opts_default(&o);
    o.linger_ms = 0; /* smalls still queued at the end are not wanted */
    c.push = sock(f, ZMQ_PUSH, &o);
    assert_int_equal(js_sock_connect(*c.push, ep), 0);
    size_t bigsz = 100000;
    char *buf = calloc(1, bigsz);
    assert_int_equal(js_sock_send(*c.push, (js_frame_t[]){{buf, bigsz}}, 1), 0); /* queued to the pipe */
    free(buf);
    f->timer.data = &c;
    uv_timer_start(&f->timer, capped_tick, 10, 20);
    run(f);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.big, 0);
    assert_int_equal(c.small, 1);
}

/* ---- PUB/SUB by topic prefix ------------------------------------------------ */

typedef struct topics {
    js_sock_t **sub, **pub;
    int probes, order_received, wrong, end, bad;
} topics_t;

static void topics_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(s);
    topics_t *t = arg;
    if (n != 2 || fr[1].size != 4 || memcmp(fr[1].data, "body", 4)) {
        t->bad++;
        return;
    }
#define IS(lit) (fr[0].size == sizeof(lit) - 1 && !memcmp(fr[0].data, lit, sizeof(lit) - 1))
    if (IS("jiesu.order.probe"))
        t->probes++;
    else if (IS("jiesu.order.received"))
        t->order_received++;
    else if (IS("jiesu.order.end"))
        t->end++;
    else
        t->wrong++;
#undef IS
    if (t->end) {
        js_sock_close(t->sub);
        js_sock_close(t->pub);
    }
}

static void publish(js_sock_t *pub, const char *topic) {
    assert_int_equal(js_sock_send(pub, (js_frame_t[]){{topic, strlen(topic)}, {"body", 4}}, 2), 0);
}

static void test_pub_sub_prefix(void **st) {
    fx_t *f = *st;
    topics_t t = {0};
    t.sub = sock(f, ZMQ_SUB, NULL);
    char ep[128];
    bind_any(*t.sub, ep, sizeof ep);
    assert_int_equal(js_sock_subscribe(*t.sub, "jiesu.order."), 0);
    js_sock_start(*t.sub, topics_recv, NULL, &t);
    t.pub = sock(f, ZMQ_PUB, NULL);
    js_sock_connect(*t.pub, ep);
    /* until the subscription has reached the publisher (the slow joiner) */
    while (t.probes == 0 && !f->timed_out) {
        publish(*t.pub, "jiesu.order.probe");
        for (int i = 0; i < 20; i++)
            uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    for (int i = 0; i < 3; i++) {
        publish(*t.pub, "jiesu.clock.overdue");
        publish(*t.pub, "jiesu.order.received");
        publish(*t.pub, "jiesu.order"); /* the prefix includes the dot */
    }
    publish(*t.pub, "jiesu.order.end");
    run(f);
    assert_int_equal(t.bad, 0);
    assert_int_equal(t.wrong, 0);
    assert_int_equal(t.order_received, 3);
    assert_int_equal(t.end, 1);
}

/* ---- pause inside the recv callback; resume after the edge was eaten -------- */

typedef struct pausing {
    js_sock_t **s;
    int got, bad, pause_at, stop_at, last_drained_got;
} pausing_t;

static void pausing_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    pausing_t *p = arg;
    if (n != 1 || frame_int(&fr[0]) != p->got) p->bad++;
    p->got++;
    if (p->got == p->pause_at && js_sock_pause(s) != 0) p->bad++;
    if (p->got == p->stop_at) js_sock_close(p->s);
}

static void pausing_drained(js_sock_t *s, void *arg) {
    JS_UNUSED(s);
    pausing_t *p = arg;
    p->last_drained_got = p->got;
}

static void test_pause_and_resume(void **st) {
    fx_t *f = *st;
    pausing_t p = {.pause_at = 10, .stop_at = 20};
    p.s = sock(f, ZMQ_PULL, NULL);
    char ep[128];
    bind_any(*p.s, ep, sizeof ep);
    js_sock_start(*p.s, pausing_recv, pausing_drained, &p);
    void *push = raw_socket(f, ZMQ_PUSH);
    assert_int_equal(zmq_connect(push, ep), 0);
    for (int i = 0; i < p.stop_at; i++)
        zmq_send(push, &i, sizeof i, 0);
    RUN_UNTIL(f, p.got == p.pause_at);
    assert_int_equal(p.last_drained_got, p.pause_at); /* a paused drain still says it ended */
    /* Wait, through the raw socket, until more input is at the socket: this
     * ZMQ_EVENTS read eats the edge, so only resume can get it going again. */
    uint32_t ev = 0;
    while (!(ev & ZMQ_POLLIN) && !f->timed_out) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        size_t evlen = sizeof ev;
        assert_int_equal(zmq_getsockopt(js_sock_zmq(*p.s), ZMQ_EVENTS, &ev, &evlen), 0);
        if (!(ev & ZMQ_POLLIN)) usleep(1000);
    }
    for (int i = 0; i < 50; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(p.got, p.pause_at); /* paused: nothing delivered */
    assert_int_equal(js_sock_resume(*p.s), 0);
    run(f);
    assert_int_equal(p.bad, 0);
    assert_int_equal(p.got, p.stop_at);
}

/* ---- closing from inside callbacks ------------------------------------------ */

typedef struct closer {
    js_sock_t **s, **peer;
    int got, drained, writable, after_close, bad;
    int close_at; /* in recv; 0 = close in drained */
} closer_t;

static void closer_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(fr);
    JS_UNUSED(n);
    closer_t *c = arg;
    if (!*c->s) c->after_close++;
    if (++c->got == c->close_at) {
        js_sock_close(c->s);
        js_sock_close(c->s);
        /* s stays valid until we return; it answers, but does nothing */
        if (send_int(s, 1) != -EBADF || js_sock_pause(s) != -EBADF || js_sock_resume(s) != -EBADF) c->bad++;
    }
}

static void closer_drained(js_sock_t *s, void *arg) {
    JS_UNUSED(s);
    closer_t *c = arg;
    if (!*c->s) c->after_close++;
    c->drained++;
    if (c->close_at == 0) js_sock_close(c->s);
}

static void closer_writable(js_sock_t *s, void *arg) {
    closer_t *c = arg;
    c->writable++;
    js_sock_close(c->s);
    if (send_int(s, 1) != -EBADF) c->bad++;
    js_sock_on_writable(s, closer_writable, c); /* ignored: closed */
    /* The reader goes only now: had it gone first, the writer could have
     * seen its pipe end before the room, and never been writable. */
    js_sock_close(c->peer);
}

static void test_close_inside_callbacks(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.sndhwm = o.rcvhwm = 1000;
    /* inproc: every message is at the PULL before it starts, in one drain */
    js_sock_t **pull1 = sock(f, ZMQ_PULL, &o), **pull2 = sock(f, ZMQ_PULL, &o);
    assert_int_equal(js_sock_bind(*pull1, "inproc://close1"), 0);
    assert_int_equal(js_sock_bind(*pull2, "inproc://close2"), 0);
    void *push1 = raw_socket(f, ZMQ_PUSH), *push2 = raw_socket(f, ZMQ_PUSH);
    zmq_connect(push1, "inproc://close1");
    zmq_connect(push2, "inproc://close2");
    for (int i = 0; i < 100; i++) {
        zmq_send(push1, &i, sizeof i, 0);
        zmq_send(push2, &i, sizeof i, 0);
    }
    closer_t in_recv = {.s = pull1, .close_at = 10};
    closer_t in_drained = {.s = pull2, .close_at = 0};
    js_sock_start(*pull1, closer_recv, closer_drained, &in_recv);
    js_sock_start(*pull2, closer_recv, closer_drained, &in_drained);

    /* and a writable callback that closes its socket */
    js_sock_opts_default(&o);
    o.sndhwm = o.rcvhwm = 1;
    js_sock_t **pull3 = sock(f, ZMQ_PULL, &o), **push3 = sock(f, ZMQ_PUSH, &o);
    assert_int_equal(js_sock_bind(*pull3, "inproc://close3"), 0);
    assert_int_equal(js_sock_connect(*push3, "inproc://close3"), 0);
    pump_t p = {.s = push3, .total = 1000};
    pump_go(&p);
    assert_int_equal(p.again, 1);
    closer_t in_writable = {.s = push3, .peer = pull3};
    js_sock_on_writable(*push3, closer_writable, &in_writable);
    counter_t c3 = {.s = pull3, .expect = -1}; /* never closes by itself */
    js_sock_start(*pull3, count_recv, NULL, &c3);
    run(f);

    assert_int_equal(in_recv.got, 10); /* the rest of the batch was not read */
    assert_int_equal(in_recv.drained, 0);
    assert_int_equal(in_recv.after_close, 0);
    assert_int_equal(in_recv.bad, 0);
    assert_true(in_drained.got >= 1);
    assert_int_equal(in_drained.drained, 1);
    assert_int_equal(in_drained.after_close, 0);
    assert_int_equal(in_writable.writable, 1);
    assert_int_equal(in_writable.bad, 0);
    assert_int_equal(p.writable_calls, 0); /* replaced by the closer */
    assert_true(c3.n >= 1 && c3.n <= p.next);
    assert_int_equal(c3.bad, 0);
    assert_null(*pull1);
    assert_null(*pull2);
    assert_null(*push3);
    assert_null(*pull3);
}

/* ---- options reach the socket ----------------------------------------------- */

static int get_int(js_sock_t *s, int opt) {
    int v = -12345;
    size_t len = sizeof v;
    assert_int_equal(zmq_getsockopt(js_sock_zmq(s), opt, &v, &len), 0);
    return v;
}

static int64_t get_i64(js_sock_t *s, int opt) {
    int64_t v = -12345;
    size_t len = sizeof v;
    assert_int_equal(zmq_getsockopt(js_sock_zmq(s), opt, &v, &len), 0);
    return v;
}

static void test_options(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    assert_int_equal(o.linger_ms, JS_BUS_LINGER_MS);
    js_sock_t **d = sock(f, ZMQ_DEALER, NULL);
    assert_int_equal(get_int(*d, ZMQ_LINGER), JS_BUS_LINGER_MS);
    assert_int_equal(get_i64(*d, ZMQ_MAXMSGSIZE), JS_BUS_MAXMSGSIZE);
    assert_int_equal(get_int(*d, ZMQ_IMMEDIATE), 0);
    assert_int_equal(get_int(*d, ZMQ_HEARTBEAT_IVL), 0);

    o.sndhwm = 7;
    o.rcvhwm = 9;
    o.linger_ms = -1; /* never infinite */
    o.maxmsgsize = -1;
    o.immediate = true;
    o.heartbeat_ivl_ms = 200;
    o.router_mandatory = true; /* ignored on a DEALER */
    js_sock_t **e = sock(f, ZMQ_DEALER, &o);
    assert_int_equal(get_int(*e, ZMQ_SNDHWM), 7);
    assert_int_equal(get_int(*e, ZMQ_RCVHWM), 9);
    assert_int_equal(get_int(*e, ZMQ_LINGER), JS_BUS_LINGER_MS);
    assert_int_equal(get_i64(*e, ZMQ_MAXMSGSIZE), -1);
    assert_int_equal(get_int(*e, ZMQ_IMMEDIATE), 1);
    assert_int_equal(get_int(*e, ZMQ_HEARTBEAT_IVL), 200);
    assert_int_equal(get_int(*e, ZMQ_HEARTBEAT_TIMEOUT), 600);
    assert_int_equal(get_int(*e, ZMQ_HEARTBEAT_TTL), 600);
    o.linger_ms = 0;
    o.heartbeat_timeout_ms = 1500;
    js_sock_t **g = sock(f, ZMQ_ROUTER, &o);
    assert_int_equal(get_int(*g, ZMQ_LINGER), 0);
    assert_int_equal(get_int(*g, ZMQ_HEARTBEAT_TIMEOUT), 1500);
    assert_int_equal(get_int(*g, ZMQ_HEARTBEAT_TTL), 1500);

    /* what cannot be applied is refused, not half applied */
    int err = 0;
    js_sock_opts_default(&o);
    o.curve_server_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    assert_null(js_sock_new(&f->loop, f->ctx, ZMQ_DEALER, &o, &err)); /* no client keypair */
    assert_int_equal(err, -EINVAL);
    js_sock_opts_default(&o);
    o.curve_server_secret = "too short";
    err = 0;
    assert_null(js_sock_new(&f->loop, f->ctx, ZMQ_ROUTER, &o, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(js_sock_new(&f->loop, f->ctx, 12345, NULL, &err));
    assert_true(err < 0);
    assert_int_equal(js_sock_connect(*d, "nonsense"), -EINVAL);
    assert_int_equal(js_sock_subscribe(*d, "x"), -EINVAL); /* not a SUB */
    for (int i = 0; i < f->nsocks; i++)
        js_sock_close(&f->socks[i]);
    run(f);
}

/* ---- a context shut down under open sockets: no busy loop ------------------ */

static void test_context_shutdown(void **st) {
    fx_t *f = *st;
    js_sock_t **pull = sock(f, ZMQ_PULL, NULL);
    counter_t c = {.s = pull, .expect = 1};
    js_sock_start(*pull, count_recv, NULL, &c);
    zmq_ctx_shutdown(f->ctx);
    run(f); /* returns: the socket stopped watching its fd instead of spinning on it */
    assert_int_equal(send_int(*pull, 1), -ETERM);
    assert_int_equal(c.n, 0);
    js_sock_close(pull);
    run(f);
}

/* ---- CURVE: a client with the server's key gets through --------------------- */

typedef struct curve {
    js_sock_t **pull, **push;
    int got, bad;
} curve_t;

static void curve_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(s);
    curve_t *c = arg;
    if (n != 1 || fr[0].size != 6 || memcmp(fr[0].data, "sealed", 6)) c->bad++;
    c->got++;
    js_sock_close(c->pull);
    js_sock_close(c->push);
}

static void test_curve(void **st) {
    fx_t *f = *st;
    if (!zmq_has("curve")) skip();
    char spub[41], ssec[41], cpub[41], csec[41];
    assert_int_equal(zmq_curve_keypair(spub, ssec), 0);
    assert_int_equal(zmq_curve_keypair(cpub, csec), 0);
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.curve_server_secret = ssec;
    curve_t c = {0};
    c.pull = sock(f, ZMQ_PULL, &o);
    assert_int_equal(get_int(*c.pull, ZMQ_MECHANISM), ZMQ_CURVE);
    assert_int_equal(get_int(*c.pull, ZMQ_CURVE_SERVER), 1);
    char ep[128];
    bind_any(*c.pull, ep, sizeof ep);
    js_sock_start(*c.pull, curve_recv, NULL, &c);
    js_sock_opts_default(&o);
    o.curve_server_key = spub;
    o.curve_public = cpub;
    o.curve_secret = csec;
    c.push = sock(f, ZMQ_PUSH, &o);
    assert_int_equal(get_int(*c.push, ZMQ_MECHANISM), ZMQ_CURVE);
    assert_int_equal(get_int(*c.push, ZMQ_CURVE_SERVER), 0);
    assert_int_equal(js_sock_connect(*c.push, ep), 0);
    assert_int_equal(js_sock_send(*c.push, (js_frame_t[]){{"sealed", 6}}, 1), 0);
    run(f);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.got, 1);
}

/* ---- outq: a burst waits in the queue until the reader comes --------------- */

typedef struct drain {
    js_sock_t **pull, **push;
    js_outq_t *q;
    int got, expect;
} drain_t;

static void drain_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    JS_UNUSED(s);
    JS_UNUSED(fr);
    JS_UNUSED(n);
    drain_t *d = arg;
    if (++d->got == d->expect) {
        js_outq_destroy(&d->q);
        js_sock_close(d->pull);
        js_sock_close(d->push);
    }
}

static void test_outq_holds_a_burst_until_the_reader_comes(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.sndhwm = 10;
    o.rcvhwm = 10;
    drain_t d = {.expect = 5000};
    d.push = sock(f, ZMQ_PUSH, &o);
    d.pull = sock(f, ZMQ_PULL, &o);
    char ep[128];
    bind_any(*d.pull, ep, sizeof ep);
    js_sock_connect(*d.push, ep);
    d.q = js_outq_new(*d.push, 4000);
    for (int i = 0; i < 200; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT); /* let the connection come up */
    int refused = 0;
    for (int i = 0; i < d.expect; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "message %d", i);
        if (js_outq_send(d.q, msg, (size_t)n) == -ENOBUFS) refused++;
    }
    assert_true(js_outq_len(d.q) > 0);              /* the high-water mark was reached: queued */
    assert_true(refused > 0 && refused < d.expect); /* past the cap: refused, counted */
    assert_int_equal(js_outq_refused(d.q), refused);
    d.expect -= refused;
    js_sock_start(*d.pull, drain_recv, NULL, &d); /* the reader comes: the queue drains */
    run(f);
    assert_int_equal(d.got, d.expect);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_pull_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart_and_too_many_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_replies_inside_recv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_replies_from_drained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_replies_from_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_reply_from_outside_eats_no_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_and_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writable_armed_when_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_immediate_push_without_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_mandatory_unknown_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maxmsgsize_drops_then_serves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pub_sub_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_inside_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outq_holds_a_burst_until_the_reader_comes, setup, teardown),
    };
    return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
