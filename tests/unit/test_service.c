/* test_service.c -- the service shell: options, hooks, clean shutdown with
 * bounded waiting for in-flight work, even with Redis down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "service.h"

static const js_conf_def_t keys[] = {
    {"test.key", "7", "a service key"},
    {NULL, NULL, NULL},
};

typedef struct hooks {
    int stop, close;
    uv_timer_t t;
    js_svc_t *svc;
} hooks_t;

static void on_stop(js_svc_t *svc, void *arg) {
    (void)svc;
    ((hooks_t *)arg)->stop++;
}

static void on_close(js_svc_t *svc, void *arg) {
    (void)svc;
    hooks_t *h = arg;
    h->close++;
    uv_close((uv_handle_t *)&h->t, NULL);
}

static void later(uv_timer_t *t) {
    hooks_t *h = t->data;
    js_svc_shutdown(h->svc, 0);
}

static void test_runs_and_stops_cleanly_without_redis(void **st) {
    (void)st;
    static js_svc_t svc;
    char *argv[] = {"jiesu-test", "--redis.port", "9", "--shutdown_timeout_ms", "300", "--test.key", "42",
                    "--bus.publish", "tcp://127.0.0.1:9", NULL};
    assert_int_equal(js_svc_init(&svc, "test", "", keys, 9, argv), 0);
    assert_int_equal(js_conf_int(svc.conf, "test.key"), 42);
    assert_string_equal(svc.prog, "jiesu-test");
    assert_non_null(strstr(svc.source, "jiesu-test/"));
    hooks_t h = {.svc = &svc};
    svc.on_stop = on_stop;
    svc.on_close = on_close;
    svc.hook_arg = &h;
    svc.inflight = 1; /* work that never finishes: shutdown waits shutdown_timeout_ms, then goes */
    uv_timer_init(&svc.loop, &h.t);
    h.t.data = &h;
    uv_timer_start(&h.t, later, 100, 0);
    int64_t t0 = js_mono_ms();
    js_svc_publish(&svc, "jiesu.test", "x", 1); /* no bus: never blocks */
    assert_int_equal(js_svc_run(&svc), 0);
    int64_t took = js_mono_ms() - t0;
    assert_true(took >= 350 && took < 10000);
    assert_int_equal(h.stop, 1);
    assert_int_equal(h.close, 1);
}

static void test_options_errors_help_version(void **st) {
    (void)st;
    static js_svc_t svc;
    char *bad[] = {"jiesu-test", "--no-such-key", "1", NULL};
    assert_true(js_svc_init(&svc, "test", "", keys, 3, bad) < 0);
    char *range[] = {"jiesu-test", "--redis.port", "70000", NULL};
    assert_true(js_svc_init(&svc, "test", "", keys, 3, range) < 0);
    char *level[] = {"jiesu-test", "--log.level", "loud", NULL};
    assert_true(js_svc_init(&svc, "test", "", keys, 3, level) < 0);
    char *extra[] = {"jiesu-test", "stray", NULL};
    assert_true(js_svc_init(&svc, "test", "", keys, 2, extra) < 0);
    char *help[] = {"jiesu-test", "--help", NULL};
    assert_int_equal(js_svc_init(&svc, "test", "", keys, 2, help), JS_CONF_EXIT);
    char *version[] = {"jiesu-test", "--version", NULL};
    assert_int_equal(js_svc_init(&svc, "test", "", keys, 2, version), JS_CONF_EXIT);
}

static void test_connect_list(void **st) {
    (void)st;
    uv_loop_t loop;
    uv_loop_init(&loop);
    void *ctx = zmq_ctx_new();
    int err;
    js_sock_t *s = js_sock_new(&loop, ctx, ZMQ_PUSH, NULL, &err);
    assert_int_equal(js_svc_connect_list(s, "tcp://127.0.0.1:9, tcp://127.0.0.1:10"), 0);
    assert_int_equal(js_svc_connect_list(s, " , "), -EINVAL);
    assert_true(js_svc_connect_list(s, "nonsense://x") < 0);
    js_sock_close(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    zmq_ctx_term(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_and_stops_cleanly_without_redis),
        cmocka_unit_test(test_options_errors_help_version),
        cmocka_unit_test(test_connect_list),
    };
    return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
