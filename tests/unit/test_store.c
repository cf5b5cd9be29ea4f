/* test_store.c -- the Redis store on a private redis-server: refusals are
 * reported and retried, a dropped connection fails pending commands and comes
 * back, commands time out, the Functions library is loaded or refused. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"

static const char *LIB_V3 = "#!lua name=jstest\n"
                            "redis.register_function{function_name='jstest_version', callback=function() return 3 end,"
                            " flags={'no-writes'}}\n";
static const char *LIB_V9 = "#!lua name=jstest\n"
                            "redis.register_function{function_name='jstest_version', callback=function() return 9 end,"
                            " flags={'no-writes'}}\n";

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t redis_start(int port) {
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int dn = open("/dev/null", 1);
        dup2(dn, 1);
        dup2(dn, 2);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            redisFree(c);
            if (ok) return pid;
        } else if (c) {
            redisFree(c);
        }
        usleep(20000);
    }
    fail_msg("redis-server did not start on port %d", port);
    return -1;
}

static void redis_kill(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

typedef struct fx {
    uv_loop_t loop;
    int port;
    pid_t redis;
    js_store_t *st;
    int ups, downs, fatals, connectings;
    char why[256];
    int replies, last_status;
    long long last_int;
    char last_str[64];
    size_t last_len;
} fx_t;

static void on_state(js_store_t *st, js_store_state_t s, const char *why, void *arg) {
    (void)st;
    fx_t *f = arg;
    snprintf(f->why, sizeof f->why, "%s", why ? why : "");
    if (s == JS_STORE_UP) f->ups++;
    else if (s == JS_STORE_DOWN) f->downs++;
    else if (s == JS_STORE_FATAL) f->fatals++;
    else f->connectings++;
}

static void on_reply(js_store_t *st, const redisReply *r, int status, void *arg) {
    (void)st;
    fx_t *f = arg;
    f->replies++;
    f->last_status = status;
    if (r && r->type == REDIS_REPLY_INTEGER) f->last_int = r->integer;
    if (r && r->type == REDIS_REPLY_STRING) {
        f->last_len = r->len < sizeof f->last_str ? r->len : sizeof f->last_str;
        memcpy(f->last_str, r->str, f->last_len);
    }
}

static js_store_t *store(fx_t *f, const char *lib, int timeout_ms) {
    js_store_opts_t o;
    js_store_opts_default(&o);
    o.port = f->port;
    o.command_timeout_ms = timeout_ms;
    o.connect_timeout_ms = 500;
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 100;
    o.lib_name = "jstest";
    o.lib_version = 3;
    o.lib_source = lib;
    f->st = js_store_new(&f->loop, &o, on_state, f);
    js_store_start(f->st);
    return f->st;
}

/* Run the loop until cond or ms pass. */
#define RUN_UNTIL(f, cond, ms)                                                   \
    do {                                                                         \
        int64_t _end = js_mono_ms() + (ms);                                      \
        while (!(cond) && js_mono_ms() < _end) uv_run(&(f)->loop, UV_RUN_ONCE); \
    } while (0)

static uv_timer_t s_tick;
static void tick_cb(uv_timer_t *t) { (void)t; }

static int setup(void **st) {
    fx_t *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &s_tick);
    uv_timer_start(&s_tick, tick_cb, 10, 10); /* RUN_UNTIL never sleeps forever */
    f->port = free_port();
    *st = f;
    return 0;
}

static int teardown(void **st) {
    fx_t *f = *st;
    js_store_close(&f->st);
    uv_close((uv_handle_t *)&s_tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    if (f->redis > 0) redis_kill(f->redis);
    free(f);
    return 0;
}

static void test_connect_load_and_command(void **st) {
    fx_t *f = *st;
    f->redis = redis_start(f->port);
    store(f, LIB_V3, 2000);
    RUN_UNTIL(f, f->ups, 5000);
    assert_int_equal(f->ups, 1);
    assert_int_equal(js_store_state(f->st), JS_STORE_UP);
    assert_non_null(strstr(f->why, "loaded"));
    assert_int_equal(js_store_command(f->st, on_reply, f, "FCALL_RO jstest_version 0"), 0);
    RUN_UNTIL(f, f->replies == 1, 2000);
    assert_int_equal(f->last_status, 0);
    assert_int_equal(f->last_int, 3);
    /* binary-safe arguments */
    const char *argv[] = {"SET", "k", "a\0b\xff"};
    size_t lens[] = {3, 1, 4};
    assert_int_equal(js_store_commandargv(f->st, on_reply, f, 3, argv, lens), 0);
    assert_int_equal(js_store_command(f->st, on_reply, f, "GET k"), 0);
    RUN_UNTIL(f, f->replies == 3, 2000);
    assert_int_equal(f->last_len, 4);
    assert_memory_equal(f->last_str, "a\0b\xff", 4);
}

static void test_refused_is_reported_and_retried(void **st) {
    fx_t *f = *st;
    store(f, LIB_V3, 2000); /* nothing listens on the port */
    RUN_UNTIL(f, f->downs >= 4, 5000);
    assert_true(f->downs >= 4);
    assert_int_equal(f->ups, 0);
    assert_true(strlen(f->why) > 0);
    assert_int_equal(js_store_command(f->st, on_reply, f, "PING"), -ENOTCONN);
    f->redis = redis_start(f->port); /* it comes: the store finds it */
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(f->ups, 1);
}

static void test_drop_fails_pending_and_reconnects(void **st) {
    fx_t *f = *st;
    f->redis = redis_start(f->port);
    store(f, LIB_V3, 5000);
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(js_store_command(f->st, on_reply, f, "BLPOP nothing 3"), 0); /* pending */
    for (int i = 0; i < 5; i++) uv_run(&f->loop, UV_RUN_NOWAIT);
    redis_kill(f->redis);
    f->redis = 0;
    RUN_UNTIL(f, f->replies == 1, 5000);
    assert_int_equal(f->replies, 1);
    assert_int_equal(f->last_status, -ECONNRESET);
    assert_true(f->downs >= 1);
    f->redis = redis_start(f->port);
    RUN_UNTIL(f, f->ups == 2, 5000);
    assert_int_equal(f->ups, 2);
    assert_int_equal(js_store_command(f->st, on_reply, f, "PING"), 0);
    RUN_UNTIL(f, f->replies == 2, 2000);
    assert_int_equal(f->last_status, 0);
}

static void test_command_timeout(void **st) {
    fx_t *f = *st;
    f->redis = redis_start(f->port);
    store(f, LIB_V3, 200);
    RUN_UNTIL(f, f->ups == 1, 5000);
    redisContext *c = redisConnect("127.0.0.1", f->port); /* Redis stops answering for 1 s */
    redisReply *r = redisCommand(c, "CLIENT PAUSE 1000 ALL");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(js_store_command(f->st, on_reply, f, "PING"), 0);
    RUN_UNTIL(f, f->replies == 1, 3000);
    assert_int_equal(f->last_status, -ETIMEDOUT);
    RUN_UNTIL(f, f->ups == 2, 5000); /* and it comes back */
    assert_int_equal(f->ups, 2);
}

static void test_newer_library_is_fatal(void **st) {
    fx_t *f = *st;
    f->redis = redis_start(f->port);
    redisContext *c = redisConnect("127.0.0.1", f->port);
    redisReply *r = redisCommand(c, "FUNCTION LOAD REPLACE %s", LIB_V9);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(c);
    store(f, LIB_V3, 2000);
    RUN_UNTIL(f, f->fatals == 1, 5000);
    assert_int_equal(f->fatals, 1);
    assert_int_equal(f->ups, 0);
    assert_non_null(strstr(f->why, "v9"));
}

static void test_older_library_is_replaced(void **st) {
    fx_t *f = *st;
    f->redis = redis_start(f->port);
    redisContext *c = redisConnect("127.0.0.1", f->port);
    redisReply *r = redisCommand(c, "FUNCTION LOAD REPLACE %s",
                                 "#!lua name=jstest\nredis.register_function{function_name='jstest_version', "
                                 "callback=function() return 1 end, flags={'no-writes'}}\n");
    freeReplyObject(r);
    redisFree(c);
    store(f, LIB_V3, 2000);
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(f->ups, 1);
    assert_int_equal(js_store_command(f->st, on_reply, f, "FCALL_RO jstest_version 0"), 0);
    RUN_UNTIL(f, f->replies == 1, 2000);
    assert_int_equal(f->last_int, 3);
}

static void test_close_cancels_pending(void **st) {
    fx_t *f = *st;
    f->redis = redis_start(f->port);
    store(f, LIB_V3, 5000);
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(js_store_command(f->st, on_reply, f, "BLPOP nothing 3"), 0);
    js_store_close(&f->st); /* the callback runs inside, with -ECANCELED */
    assert_null(f->st);
    assert_int_equal(f->replies, 1);
    assert_int_equal(f->last_status, -ECANCELED);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_load_and_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_is_reported_and_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_fails_pending_and_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_library_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_library_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_pending, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
