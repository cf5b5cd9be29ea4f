/* test_store.c -- the Redis store against a private redis-server on a free
 * port: commands and binary arguments, refusals (immediate and through the
 * poll error path) reported and retried with backoff, a slow connect, a
 * killed server failing pending commands and coming back, command deadlines,
 * AUTH, the Functions library (loaded, replaced, newer is fatal), and close
 * (from outside and from inside callbacks) cancelling pending commands
 * exactly once. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

#define LIB(v)                                                                                               \
    "#!lua name=jstest\n"                                                                                    \
    "redis.register_function{function_name='jstest_version', callback=function() return " #v " end,"         \
    " flags={'no-writes'}}\n"

/* ---- a private redis-server ----------------------------------------------------- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

/* A synchronous side connection, to set Redis up behind the store's back. */
static redisContext *side(int port) {
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

static pid_t redis_start(int port, const char *password) {
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(dn, 2);
        const char *argv[20] = {"redis-server", "--port",      p,   "--bind",
                                "127.0.0.1",    "--save",      "",  "--appendonly",
                                "no",           "--daemonize", "no"};
        int n = 11;
        if (password) {
            argv[n++] = "--requirepass";
            argv[n++] = password;
        }
        argv[n] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING"); /* NOAUTH counts: it answers */
            int ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
            freeReplyObject(r);
            redisFree(c);
            if (ok) return pid;
        } else if (c) {
            redisFree(c);
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("redis-server did not start on port %d", port);
    return -1;
}

static void redis_kill(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A listener whose accept queue is full: a connect to it stays in progress
 * (its SYN is dropped). Closed, the retransmitted SYN meets a RST: the
 * refusal comes later, through the poll error, not from connect(2). */
typedef struct full_listener {
    int lfd, filler, port;
} full_listener_t;

static void full_listener_open(full_listener_t *fl) {
    fl->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fl->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fl->lfd, 0), 0);
    socklen_t l = sizeof a;
    getsockname(fl->lfd, (struct sockaddr *)&a, &l);
    fl->port = ntohs(a.sin_port);
    fl->filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fl->filler, (struct sockaddr *)&a, sizeof a);
    struct pollfd p = {.fd = fl->filler, .events = POLLOUT};
    poll(&p, 1, 500); /* with SYN cookies it is accepted (queued) now, filling the queue */
}

static void full_listener_close(full_listener_t *fl) {
    if (fl->lfd >= 0) close(fl->lfd);
    if (fl->filler >= 0) close(fl->filler);
    fl->lfd = fl->filler = -1;
}

/* ---- fixture ------------------------------------------------------------------ */

typedef struct fx fx_t;

typedef struct slot {
    fx_t *f;
    int calls, status, type, resend_rc;
    long long integer;
    char str[64];
    size_t len;
    bool close_here;     /* js_store_close from inside this callback */
    int others_at_close; /* calls of the other slots when that close returned */
} slot_t;

#define NSLOTS  4
#define NSTAMPS 32

struct fx {
    uv_loop_t loop;
    uv_timer_t tick;
    int port;
    pid_t redis;
    js_store_t *st;
    int ups, downs, fatals, connectings;
    char why[400], down_why[400], first_down_why[400];
    int64_t connecting_ms[NSTAMPS];
    bool close_on_up;
    slot_t s[NSLOTS];
};

static void on_state(js_store_t *st, js_store_state_t s, const char *why, void *arg) {
    fx_t *f = arg;
    assert_non_null(why);
    snprintf(f->why, sizeof f->why, "%s", why);
    switch (s) {
    case JS_STORE_UP:
        f->ups++;
        if (f->close_on_up) {
            js_store_close(&f->st); /* inside hiredis' connect callback, for a store without a library */
            assert_null(f->st);
        }
        break;
    case JS_STORE_DOWN:
        if (!f->downs) snprintf(f->first_down_why, sizeof f->first_down_why, "%s", why);
        snprintf(f->down_why, sizeof f->down_why, "%s", why);
        f->downs++;
        break;
    case JS_STORE_FATAL: f->fatals++; break;
    case JS_STORE_CONNECTING:
        if (f->connectings < NSTAMPS) f->connecting_ms[f->connectings] = js_mono_ms();
        f->connectings++;
        break;
    }
    (void)st;
}

static void on_slot(js_store_t *st, const redisReply *r, int status, void *arg) {
    slot_t *s = arg;
    fx_t *f = s->f;
    s->calls++;
    s->status = status;
    s->type = r ? r->type : -1;
    if (r && r->type == REDIS_REPLY_INTEGER) s->integer = r->integer;
    if (r &&
        (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)) {
        s->len = r->len < sizeof s->str ? r->len : sizeof s->str;
        memcpy(s->str, r->str, s->len);
    }
    if (status < 0 && f->st) /* a failed command cannot be re-sent from its callback */
        s->resend_rc = js_store_command(st, on_slot, s, "PING");
    if (s->close_here) {
        assert_ptr_equal(st, f->st);
        js_store_close(&f->st);
        assert_null(f->st);
        s->others_at_close = 0;
        for (int i = 0; i < NSLOTS; i++)
            if (&f->s[i] != s) s->others_at_close += f->s[i].calls;
    }
}

static void store_with(fx_t *f, int port, const char *lib, int64_t version, int timeout_ms, int connect_ms,
                       const char *password) {
    js_store_opts_t o;
    js_store_opts_default(&o);
    o.port = port;
    o.password = password;
    o.command_timeout_ms = timeout_ms;
    o.connect_timeout_ms = connect_ms;
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 160;
    o.lib_name = lib ? "jstest" : NULL;
    o.lib_version = version;
    o.lib_source = lib;
    f->st = js_store_new(&f->loop, &o, on_state, f);
    assert_non_null(f->st);
    assert_int_equal(js_store_state(f->st), JS_STORE_DOWN);
    assert_int_equal(js_store_start(f->st), 0);
    assert_int_equal(js_store_start(f->st), -EALREADY);
}

static void store(fx_t *f, const char *lib) {
    store_with(f, f->port, lib, 3, 2000, 1000, NULL);
}

/* Run the loop until cond, or ms pass (a bound for a broken build, not a
 * timing assertion: every wait below is for something that must happen). */
#define RUN_UNTIL(f, cond, ms)                                                                               \
    do {                                                                                                     \
        int64_t _end = js_mono_ms() + (ms);                                                                  \
        while (!(cond) && js_mono_ms() < _end)                                                               \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                                 \
    } while (0)

static void run_for(fx_t *f, int ms) {
    RUN_UNTIL(f, false, ms);
}

static void tick_cb(uv_timer_t *t) {
    (void)t;
}

static void slots_reset(fx_t *f) {
    memset(f->s, 0, sizeof f->s);
    for (int i = 0; i < NSLOTS; i++)
        f->s[i].f = f;
}

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, tick_cb, 10, 10); /* RUN_UNTIL never sleeps for long */
    f->port = free_port();
    slots_reset(f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    js_store_close(&f->st);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&f->loop);
    if (f->redis > 0) redis_kill(f->redis);
    free(f);
    assert_int_equal(rc, 0);
    return 0;
}

static void close_store_and_drain(fx_t *f) {
    js_store_close(&f->st);
    for (int i = 0; i < 5; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_options_and_enotconn(void **state) {
    fx_t *f = *state;
    js_store_opts_t o;
    js_store_opts_default(&o);
    o.port = 70000;
    assert_null(js_store_new(&f->loop, &o, on_state, f));
    js_store_opts_default(&o);
    o.lib_name = "jstest"; /* without a source */
    o.lib_version = 3;
    assert_null(js_store_new(&f->loop, &o, on_state, f));
    o.lib_source = LIB(3);
    o.lib_version = 0;
    assert_null(js_store_new(&f->loop, &o, on_state, f));
    assert_null(js_store_new(NULL, NULL, on_state, f));

    o.lib_version = 3;
    o.port = f->port;
    f->st = js_store_new(&f->loop, &o, on_state, f); /* not started: down */
    assert_non_null(f->st);
    assert_int_equal(js_store_state(f->st), JS_STORE_DOWN);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "PING"), -ENOTCONN);
    const char *argv[] = {"GET", "k"};
    assert_int_equal(js_store_commandargv(f->st, on_slot, &f->s[0], 2, argv, NULL), -ENOTCONN);
    const char *sub[] = {"subscribe", "ch"};
    assert_int_equal(js_store_commandargv(f->st, on_slot, &f->s[0], 2, sub, NULL), -EINVAL);
    assert_int_equal(js_store_commandargv(f->st, on_slot, &f->s[0], 0, argv, NULL), -EINVAL);
    run_for(f, 30);
    assert_int_equal(f->s[0].calls, 0);
    assert_int_equal(f->connectings + f->downs + f->ups, 0);
    assert_int_equal(js_store_stats(f->st)->commands, 0);
    js_store_close(&f->st);
    assert_null(f->st);
    js_store_close(&f->st); /* idempotent */
    js_store_close(NULL);
}

static void test_connect_commands_and_library(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    store(f, LIB(3));
    RUN_UNTIL(f, f->ups, 5000);
    assert_int_equal(f->ups, 1);
    assert_int_equal(f->connectings, 1);
    assert_int_equal(f->downs, 0);
    assert_int_equal(js_store_state(f->st), JS_STORE_UP);
    assert_non_null(strstr(f->why, "jstest v3 loaded")); /* a fresh Redis: loaded on first connect */

    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "SET %s %s", "greeting", "ni hao"), 0);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[1], "GET %s", "greeting"), 0);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[2], "FCALL_RO jstest_version 0"), 0);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[3], "NOSUCHCOMMAND"), 0);
    assert_int_equal(js_store_stats(f->st)->pending, 4);
    RUN_UNTIL(f, f->s[3].calls, 2000);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(f->s[i].calls, 1);
        assert_int_equal(f->s[i].status, 0);
    }
    assert_int_equal(f->s[0].type, REDIS_REPLY_STATUS);
    assert_int_equal(f->s[1].len, 6);
    assert_memory_equal(f->s[1].str, "ni hao", 6);
    assert_int_equal(f->s[2].integer, 3);
    assert_int_equal(f->s[3].type, REDIS_REPLY_ERROR); /* an error reply is a reply */
    const js_store_stats_t *ss = js_store_stats(f->st);
    assert_int_equal(ss->commands, 4);
    assert_int_equal(ss->replies, 4);
    assert_int_equal(ss->errors, 1);
    assert_int_equal(ss->pending, 0);
    assert_int_equal(ss->connects, 1);
    assert_int_equal(ss->attempts, 1);

    /* Binary-safe arguments, both forms: NUL and 0xff bytes round-trip. */
    slots_reset(f);
    static const char blob[] = {'a', '\0', 'b', (char)0xff, '\0'};
    const char *argv[] = {"SET", "blob", blob};
    size_t lens[] = {3, 4, sizeof blob};
    assert_int_equal(js_store_commandargv(f->st, on_slot, &f->s[0], 3, argv, lens), 0);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[1], "GET blob"), 0);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[2], "SET blob2 %b", blob, sizeof blob), 0);
    const char *get2[] = {"GET", "blob2"};
    assert_int_equal(js_store_commandargv(f->st, on_slot, &f->s[3], 2, get2, NULL), 0);
    RUN_UNTIL(f, f->s[3].calls, 2000);
    assert_int_equal(f->s[1].len, sizeof blob);
    assert_memory_equal(f->s[1].str, blob, sizeof blob);
    assert_int_equal(f->s[3].len, sizeof blob);
    assert_memory_equal(f->s[3].str, blob, sizeof blob);

    /* Pub/sub and MONITOR would change the protocol under hiredis. */
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "SUBSCRIBE %s", "ch"), -EINVAL);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "monitor"), -EINVAL);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "GET %q"),
                     -EINVAL); /* not a hiredis format */

    /* A second store on the same Redis finds the library already there. */
    close_store_and_drain(f);
    f->ups = 0;
    store(f, LIB(3));
    RUN_UNTIL(f, f->ups, 5000);
    assert_int_equal(f->ups, 1);
    assert_non_null(strstr(f->why, "jstest v3"));
    assert_null(strstr(f->why, "loaded"));
}

static void test_refused_backoff(void **state) {
    fx_t *f = *state;
    store(f, LIB(3)); /* nothing listens on the port */
    RUN_UNTIL(f, f->connectings >= 7, 5000);
    assert_true(f->connectings >= 7);
    assert_int_equal(f->ups, 0);
    assert_true(f->downs >= 6);
    assert_non_null(strstr(f->down_why, "refused"));
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "PING"), -ENOTCONN);
    /* Each wait is at least the backoff minus jitter: 20, 40, 80, 160, 160
     * ms (backoff_max_ms) -20%; a loaded machine only makes them longer. */
    for (int i = 1; i < 6; i++) {
        int64_t base = 20 << (i - 1);
        if (base > 160) base = 160;
        int64_t gap = f->connecting_ms[i] - f->connecting_ms[i - 1];
        if (gap < base * 8 / 10 - 2)
            fail_msg("retry %d came after %lld ms, backoff %lld", i, (long long)gap, (long long)base);
    }
    assert_int_equal(js_store_stats(f->st)->backoff_ms, 160);
    assert_int_equal(js_store_stats(f->st)->attempts, (uint64_t)f->connectings);
    assert_int_equal(f->s[0].calls, 0);

    f->redis = redis_start(f->port, NULL); /* it comes: the store finds it */
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(f->ups, 1);
    assert_int_equal(js_store_stats(f->st)->backoff_ms, 20); /* reset once UP */
}

/* The adapter's reason to be: a refusal that arrives as a poll error. */
static void test_slow_connect_times_out_and_late_refusal_is_reported(void **state) {
    fx_t *f = *state;
    full_listener_t fl;
    full_listener_open(&fl);

    store_with(f, fl.port, LIB(3), 3, 2000, 200, NULL);
    RUN_UNTIL(f, f->downs, 3000);
    assert_int_equal(f->downs, 1);
    assert_non_null(strstr(f->first_down_why, "timed out"));
    assert_int_equal(js_store_stats(f->st)->timeouts, 1);
    close_store_and_drain(f);

    f->downs = f->connectings = 0;
    store_with(f, fl.port, LIB(3), 3, 2000, 10000, NULL);
    run_for(f, 100);
    assert_int_equal(f->connectings, 1);
    assert_int_equal(f->downs, 0); /* still connecting: its SYN was dropped */
    full_listener_close(&fl);      /* the retransmitted SYN will meet a RST */
    RUN_UNTIL(f, f->downs, 8000);
    assert_int_equal(f->downs, 1);
    assert_non_null(strstr(f->first_down_why, "refused"));
    assert_int_equal(js_store_stats(f->st)->timeouts, 0);
    RUN_UNTIL(f, f->connectings >= 2, 2000); /* and it goes on trying */
    assert_true(f->connectings >= 2);
}

static void test_server_killed_then_back(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    store(f, LIB(3));
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(f->ups, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(js_store_command(f->st, on_slot, &f->s[i], "BLPOP nothing 10"), 0);
    run_for(f, 50); /* sent */
    redis_kill(f->redis);
    f->redis = 0;
    RUN_UNTIL(f, f->downs, 5000);
    assert_int_equal(f->downs, 1);
    assert_non_null(strstr(f->first_down_why, "lost"));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->s[i].calls, 1);
        assert_int_equal(f->s[i].status, -ECONNRESET);
        assert_int_equal(f->s[i].resend_rc, -ENOTCONN);
    }
    assert_int_equal(js_store_stats(f->st)->pending, 0);
    assert_int_equal(js_store_stats(f->st)->disconnects, 1);

    f->redis = redis_start(f->port, NULL);
    RUN_UNTIL(f, f->ups == 2, 5000);
    assert_int_equal(f->ups, 2);
    assert_non_null(strstr(f->why, "loaded")); /* a new Redis, empty: loaded again */
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[3], "ECHO %s", "back"), 0);
    RUN_UNTIL(f, f->s[3].calls, 2000);
    assert_int_equal(f->s[3].status, 0);
    assert_memory_equal(f->s[3].str, "back", 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->s[i].calls, 1); /* exactly once */
}

static void test_command_timeout(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    store_with(f, f->port, LIB(3), 3, 200, 500, NULL);
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(f->ups, 1);
    redisContext *c = side(f->port); /* Redis stops answering for a while */
    redisReply *r = redisCommand(c, "CLIENT PAUSE 1500 ALL");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);
    for (int i = 0; i < 3; i++)
        assert_int_equal(js_store_command(f->st, on_slot, &f->s[i], "PING"), 0);
    RUN_UNTIL(f, f->s[2].calls, 3000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->s[i].calls, 1);
        assert_int_equal(f->s[i].status, -ETIMEDOUT);
    }
    assert_true(f->downs >= 1);
    assert_non_null(strstr(f->first_down_why, "no reply"));
    assert_true(js_store_stats(f->st)->timeouts >= 1);
    RUN_UNTIL(f, f->ups == 2, 5000); /* and it comes back once Redis answers */
    assert_int_equal(f->ups, 2);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[3], "PING"), 0);
    RUN_UNTIL(f, f->s[3].calls, 2000);
    assert_int_equal(f->s[3].status, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->s[i].calls, 1);
}

static void test_auth(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, "s3cret");
    store_with(f, f->port, LIB(3), 3, 2000, 1000, "wrong");
    RUN_UNTIL(f, f->downs >= 2, 5000);
    assert_true(f->downs >= 2); /* refused, and tried again */
    assert_int_equal(f->ups, 0);
    assert_non_null(strstr(f->first_down_why, "AUTH"));
    close_store_and_drain(f);
    store_with(f, f->port, LIB(3), 3, 2000, 1000, "s3cret");
    RUN_UNTIL(f, f->ups, 5000);
    assert_int_equal(f->ups, 1);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "FCALL_RO jstest_version 0"), 0);
    RUN_UNTIL(f, f->s[0].calls, 2000);
    assert_int_equal(f->s[0].integer, 3);
}

static void test_older_library_is_replaced(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    redisContext *c = side(f->port);
    redisReply *r = redisCommand(c, "FUNCTION LOAD %s", LIB(1));
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(c);
    store(f, LIB(3));
    RUN_UNTIL(f, f->ups == 1, 5000);
    assert_int_equal(f->ups, 1);
    assert_non_null(strstr(f->why, "v3 loaded"));
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "FCALL_RO jstest_version 0"), 0);
    RUN_UNTIL(f, f->s[0].calls, 2000);
    assert_int_equal(f->s[0].integer, 3);
}

static void test_newer_library_is_fatal(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    redisContext *c = side(f->port);
    redisReply *r = redisCommand(c, "FUNCTION LOAD %s", LIB(9));
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(c);
    store(f, LIB(3));
    RUN_UNTIL(f, f->fatals, 5000);
    assert_int_equal(f->fatals, 1);
    assert_int_equal(f->ups, 0);
    assert_non_null(strstr(f->why, "v9"));
    assert_non_null(strstr(f->why, "upgrade"));
    uint64_t attempts = js_store_stats(f->st)->attempts;
    run_for(f, 300); /* and no more reconnecting */
    assert_int_equal(js_store_stats(f->st)->attempts, attempts);
    assert_int_equal(js_store_state(f->st), JS_STORE_FATAL);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "PING"), -ENOTCONN);
    /* the library was not touched */
    c = side(f->port);
    r = redisCommand(c, "FCALL_RO jstest_version 0");
    assert_int_equal(r->integer, 9);
    freeReplyObject(r);
    redisFree(c);
}

static void test_bad_library_source_is_fatal(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    store(f, "#!lua name=jstest\nthis is not lua\n");
    RUN_UNTIL(f, f->fatals, 5000);
    assert_int_equal(f->fatals, 1);
    assert_non_null(strstr(f->why, "FUNCTION LOAD"));
}

static void test_close_cancels_pending(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    store(f, LIB(3));
    RUN_UNTIL(f, f->ups == 1, 5000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(js_store_command(f->st, on_slot, &f->s[i], "BLPOP nothing 10"), 0);
    run_for(f, 20);
    int states = f->ups + f->downs + f->connectings;
    js_store_close(&f->st); /* the callbacks run inside, with -ECANCELED */
    assert_null(f->st);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->s[i].calls, 1);
        assert_int_equal(f->s[i].status, -ECANCELED);
    }
    run_for(f, 50); /* never again */
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->s[i].calls, 1);
    assert_int_equal(f->ups + f->downs + f->connectings, states); /* close reports no state */
}

static void test_close_from_inside_callbacks(void **state) {
    fx_t *f = *state;
    f->redis = redis_start(f->port, NULL);
    store(f, LIB(3));
    RUN_UNTIL(f, f->ups == 1, 5000);
    /* The first reply's callback closes: the two behind it (one of them
     * answered in the same read) are cancelled inside that close. */
    f->s[0].close_here = true;
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[0], "PING"), 0);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[1], "PING"), 0);
    assert_int_equal(js_store_command(f->st, on_slot, &f->s[2], "BLPOP nothing 10"), 0);
    RUN_UNTIL(f, f->s[0].calls, 2000);
    assert_int_equal(f->s[0].calls, 1);
    assert_int_equal(f->s[0].status, 0);
    assert_int_equal(f->s[0].others_at_close, 2);
    assert_int_equal(f->s[1].status, -ECANCELED);
    assert_int_equal(f->s[2].status, -ECANCELED);
    run_for(f, 50);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->s[i].calls, 1);

    /* A store without a library is UP from inside hiredis' connect callback:
     * closing there must not free the context under hiredis' feet. */
    f->ups = 0;
    f->close_on_up = true;
    store_with(f, f->port, NULL, 0, 2000, 1000, NULL);
    RUN_UNTIL(f, f->ups, 5000);
    assert_int_equal(f->ups, 1);
    assert_null(f->st);

    /* A -ETIMEDOUT callback that closes: the rest get -ECANCELED. */
    f->close_on_up = false;
    f->ups = 0;
    slots_reset(f);
    store_with(f, f->port, LIB(3), 3, 200, 1000, NULL);
    RUN_UNTIL(f, f->ups, 5000);
    f->s[0].close_here = true;
    for (int i = 0; i < 3; i++)
        assert_int_equal(js_store_command(f->st, on_slot, &f->s[i], "BLPOP nothing 10"), 0);
    RUN_UNTIL(f, f->s[0].calls, 3000);
    assert_int_equal(f->s[0].status, -ETIMEDOUT);
    assert_int_equal(f->s[0].others_at_close, 2);
    assert_int_equal(f->s[1].status, -ECANCELED);
    assert_int_equal(f->s[2].status, -ECANCELED);
    run_for(f, 50);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->s[i].calls, 1);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_options_and_enotconn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_commands_and_library, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_connect_times_out_and_late_refusal_is_reported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_killed_then_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_library_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_library_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_library_source_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_inside_callbacks, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
