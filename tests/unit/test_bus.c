/* test_bus.c -- ZeroMQ on libuv: draining an edge-triggered fd, replies from
 * inside callbacks, back-pressure, vanished peers, size caps, and the bounded
 * send queue (outq). Every test ends with uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "bus.h"
#include "outq.h"

typedef struct fx {
    uv_loop_t loop;
    void *ctx;
    uv_timer_t guard;
    void *raw[8]; /* plain zmq sockets of the test, closed by teardown even after a failure */
    int nraw;
} fx_t;

static void *raw_socket(fx_t *f, int type) {
    void *z = zmq_socket(f->ctx, type);
    int linger = 0;
    zmq_setsockopt(z, ZMQ_LINGER, &linger, sizeof linger);
    f->raw[f->nraw++] = z;
    return z;
}

static void guard_cb(uv_timer_t *t) {
    fail_msg("test took too long");
    (void)t;
}

static int setup(void **st) {
    fx_t *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->ctx = zmq_ctx_new();
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_start(&f->guard, guard_cb, 20000, 0);
    uv_unref((uv_handle_t *)&f->guard);
    *st = f;
    return 0;
}

static int teardown(void **st) {
    fx_t *f = *st;
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < f->nraw; i++) zmq_close(f->raw[i]);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    zmq_ctx_term(f->ctx);
    free(f);
    return 0;
}

static js_sock_t *sock(fx_t *f, int type, js_sock_opts_t *o) {
    int err = 0;
    js_sock_t *s = js_sock_new(&f->loop, f->ctx, type, o, &err);
    assert_non_null(s);
    return s;
}

static void endpoint(js_sock_t *s, char *out, size_t cap) {
    assert_int_equal(js_sock_bind(s, "tcp://127.0.0.1:*"), 0);
    size_t len = cap;
    zmq_getsockopt(js_sock_zmq(s), ZMQ_LAST_ENDPOINT, out, &len);
}

/* ---- PUSH/PULL: everything arrives, in order, in drained batches --------------- */

typedef struct counter {
    int n, drained, expect, bad;
    js_sock_t *s;
} counter_t;

static void count_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    (void)s;
    counter_t *c = arg;
    int v;
    if (n != 1 || fr[0].size != sizeof v) {
        c->bad++;
        return;
    }
    memcpy(&v, fr[0].data, sizeof v);
    if (v != c->n) c->bad++;
    c->n++;
    if (c->n == c->expect) js_sock_close(&c->s); /* closing inside the callback is safe */
}

static void count_drained(js_sock_t *s, void *arg) {
    (void)s;
    ((counter_t *)arg)->drained++;
}

static void test_push_pull_in_order(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.batch_max = 100;
    counter_t c = {.expect = 10000};
    c.s = sock(f, ZMQ_PULL, &o);
    char ep[128];
    endpoint(c.s, ep, sizeof ep);
    js_sock_start(c.s, count_recv, count_drained, &c);
    void *push = raw_socket(f, ZMQ_PUSH);
    int hwm = 0, linger = 0;
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(push, ep);
    for (int i = 0; i < c.expect; i++) zmq_send(push, &i, sizeof i, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(c.n, c.expect);
    assert_int_equal(c.bad, 0);
    assert_true(c.drained >= c.expect / 100 - 1); /* batches of at most batch_max (the last one closes) */
    assert_null(c.s);
}

/* ---- ROUTER answering from inside its callback: no stall on the consumed edge -- */

typedef struct echo {
    js_sock_t *router;
    int got;
} echo_t;

static void echo_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    echo_t *e = arg;
    e->got++;
    assert_int_equal(n, 2);
    assert_int_equal(js_sock_send(s, fr, n), 0);
}

typedef struct client {
    js_sock_t *dealer, *router_to_close;
    int replies, expect;
} client_t;

static void client_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    (void)s;
    (void)fr;
    (void)n;
    client_t *c = arg;
    if (++c->replies == c->expect) {
        js_sock_close(&c->dealer);
        js_sock_close(&c->router_to_close);
    }
}

static void test_router_replies_inside_callback(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.router_mandatory = true;
    o.sndhwm = o.rcvhwm = 100000;
    echo_t e = {0};
    e.router = sock(f, ZMQ_ROUTER, &o);
    char ep[128];
    endpoint(e.router, ep, sizeof ep);
    js_sock_start(e.router, echo_recv, NULL, &e);
    client_t c = {.expect = 10000};
    c.dealer = sock(f, ZMQ_DEALER, &o);
    c.router_to_close = e.router;
    js_sock_connect(c.dealer, ep);
    js_sock_start(c.dealer, client_recv, NULL, &c);
    for (int i = 0; i < c.expect; i++) {
        int rc;
        while ((rc = js_sock_send(c.dealer, (js_frame_t[]){{&i, sizeof i}}, 1)) == -EAGAIN)
            uv_run(&f->loop, UV_RUN_NOWAIT);
        assert_int_equal(rc, 0);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(e.got, c.expect);
    assert_int_equal(c.replies, c.expect);
}

/* ---- back-pressure and vanished peers --------------------------------------- */

static void test_immediate_push_without_peer_never_blocks(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.immediate = true;
    js_sock_t *p = sock(f, ZMQ_PUSH, &o);
    assert_int_equal(js_sock_connect(p, "tcp://127.0.0.1:9"), 0); /* nothing listens there */
    int v = 1;
    assert_int_equal(js_sock_send(p, (js_frame_t[]){{&v, sizeof v}}, 1), -EAGAIN);
    assert_int_equal(js_sock_stats(p)->send_again, 1);
    js_sock_close(&p);
    js_sock_close(&p); /* idempotent */
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void test_router_to_vanished_peer(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.router_mandatory = true;
    js_sock_t *r = sock(f, ZMQ_ROUTER, &o);
    js_frame_t fr[2] = {{"nobody", 6}, {"x", 1}};
    assert_int_equal(js_sock_send(r, fr, 2), -EHOSTUNREACH);
    assert_int_equal(js_sock_stats(r)->unroutable, 1);
    js_sock_close(&r);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

typedef struct drain {
    js_sock_t *pull;
    js_outq_t *q;
    js_sock_t *push;
    int got, expect;
} drain_t;

static void drain_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    (void)s;
    (void)fr;
    (void)n;
    drain_t *d = arg;
    if (++d->got == d->expect) {
        js_outq_destroy(&d->q);
        js_sock_close(&d->pull);
        js_sock_close(&d->push);
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
    endpoint(d.pull, ep, sizeof ep);
    js_sock_connect(d.push, ep);
    d.q = js_outq_new(d.push, 4000);
    for (int i = 0; i < 200; i++) uv_run(&f->loop, UV_RUN_NOWAIT); /* let the connection come up */
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
    js_sock_start(d.pull, drain_recv, NULL, &d); /* the reader comes: the queue drains */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.got, d.expect);
}

/* ---- caps, multipart, pub/sub, pause ---------------------------------------- */

typedef struct frames {
    size_t nframes;
    int msgs;
    js_sock_t *s;
    int stop_after;
} frames_t;

static void frames_recv(js_sock_t *s, const js_frame_t *fr, size_t n, void *arg) {
    (void)s;
    frames_t *x = arg;
    x->nframes = n;
    assert_memory_equal(fr[n - 1].data, "last", 4);
    if (++x->msgs == x->stop_after) js_sock_close(&x->s);
}

static void test_multipart_and_too_many_frames(void **st) {
    fx_t *f = *st;
    frames_t x = {.stop_after = 2};
    x.s = sock(f, ZMQ_PULL, NULL);
    char ep[128];
    endpoint(x.s, ep, sizeof ep);
    js_sock_start(x.s, frames_recv, NULL, &x);
    void *push = raw_socket(f, ZMQ_PUSH);
    zmq_connect(push, ep);
    for (int i = 0; i < JS_BUS_MAX_FRAMES + 2; i++) zmq_send(push, "extra", 5, ZMQ_SNDMORE);
    zmq_send(push, "last", 4, 0); /* dropped: too many frames */
    zmq_send(push, "a", 1, ZMQ_SNDMORE);
    zmq_send(push, "last", 4, 0);
    zmq_send(push, "last", 4, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(x.msgs, 2);
}

static void test_oversized_message_dropped_then_more_served(void **st) {
    fx_t *f = *st;
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.maxmsgsize = 1024;
    frames_t x = {.stop_after = 1};
    x.s = sock(f, ZMQ_PULL, &o);
    char ep[128];
    endpoint(x.s, ep, sizeof ep);
    js_sock_start(x.s, frames_recv, NULL, &x);
    void *big = raw_socket(f, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt(big, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(big, ep);
    char *buf = calloc(1, 100000);
    zmq_send(big, buf, 100000, 0); /* over the cap: libzmq drops that peer */
    free(buf);
    for (int i = 0; i < 100; i++) uv_run(&f->loop, UV_RUN_NOWAIT);
    void *ok = raw_socket(f, ZMQ_PUSH);
    zmq_setsockopt(ok, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(ok, ep);
    zmq_send(ok, "last", 4, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(x.msgs, 1);
}

static void test_pub_sub_prefix_and_pause(void **st) {
    fx_t *f = *st;
    frames_t x = {.stop_after = 1000000};
    x.s = sock(f, ZMQ_SUB, NULL);
    char ep[128];
    endpoint(x.s, ep, sizeof ep);
    js_sock_subscribe(x.s, "jiesu.order.");
    js_sock_start(x.s, frames_recv, NULL, &x);
    js_sock_t *pub = sock(f, ZMQ_PUB, NULL);
    js_sock_connect(pub, ep);
    /* until the subscription has reached the publisher (the slow joiner) */
    while (x.msgs == 0) {
        js_sock_send(pub, (js_frame_t[]){{"jiesu.order.probe", 17}, {"last", 4}}, 2);
        for (int i = 0; i < 20; i++) uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    int before = x.msgs;
    js_sock_pause(x.s);
    for (int i = 0; i < 3; i++) {
        js_sock_send(pub, (js_frame_t[]){{"jiesu.clock.overdue", 19}, {"last", 4}}, 2);
        js_sock_send(pub, (js_frame_t[]){{"jiesu.order.received", 20}, {"last", 4}}, 2);
    }
    for (int i = 0; i < 200; i++) uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(x.msgs, before); /* paused: nothing delivered */
    x.stop_after = before + 3;
    js_sock_resume(x.s);
    while (x.s) uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(x.msgs, before + 3); /* only the subscribed prefix */
    js_sock_close(&pub);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_pull_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_replies_inside_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_immediate_push_without_peer_never_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_to_vanished_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outq_holds_a_burst_until_the_reader_comes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart_and_too_many_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_message_dropped_then_more_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pub_sub_prefix_and_pause, setup, teardown),
    };
    return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
