/* test_ids.c -- ids are unique, strictly increasing (same ms, clock stepped
 * back, overflow, threads, fork), well-formed and time-sortable; trace ids are
 * hex and never zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ids.h"
#include "jsdefs.h"

typedef char jid_t[JS_ID_LEN + 1];

/* Back to a fresh sequence, whatever a test left. */
static int reset(void **st) {
    (void)st;
    static const uint8_t zero[10];
    js__id_set_last(-1, zero);
    return 0;
}

static void test_unique_increasing(void **st) {
    (void)st;
    enum { N = 100000 };
    jid_t *ids = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++) js_id_new(ids[i]);
    for (int i = 0; i < N; i++) {
        if (!js_id_valid(ids[i])) fail_msg("id %d '%s' is not valid", i, ids[i]);
        if (i && strcmp(ids[i - 1], ids[i]) >= 0) fail_msg("id %d: '%s' !< '%s'", i, ids[i - 1], ids[i]);
    }
    free(ids);
}

static void test_time_roundtrip(void **st) {
    (void)st;
    jid_t a;
    static const struct {
        int64_t ms;
        const char *prefix;
    } cases[] = {
        {1469918176385LL, "01ARYZ6S41"}, /* the ULID spec's example */
        {1763800000123LL, "01KANAR9KV"},
        {0, "0000000000"},
        {JS_ID_MS_MAX, "7ZZZZZZZZZ"},
        {31, "000000000Z"},
        {32, "0000000010"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        js_id_at(a, cases[i].ms);
        assert_true(js_id_valid(a));
        assert_int_equal(strncmp(a, cases[i].prefix, 10), 0);
        assert_int_equal(js_id_time_ms(a), cases[i].ms);
    }
    js_id_at(a, -5); /* clamped */
    assert_int_equal(js_id_time_ms(a), 0);
    js_id_at(a, JS_ID_MS_MAX + 1000);
    assert_int_equal(js_id_time_ms(a), JS_ID_MS_MAX);
    /* js_id_new carries the wall clock. */
    int64_t before = js_now_ms();
    js_id_new(a);
    int64_t after = js_now_ms();
    assert_true(js_id_time_ms(a) >= before && js_id_time_ms(a) <= after);
}

static void test_order_across_times(void **st) {
    (void)st;
    static const int64_t times[] = {0, 1, 31, 32, 1023, 1024, 1469918176385LL, 1763800000123LL, JS_ID_MS_MAX - 1};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        for (int k = 0; k < 200; k++) { /* whatever the random parts */
            jid_t a, b;
            js_id_at(a, times[i]);
            js_id_at(b, times[i] + 1);
            if (strcmp(a, b) >= 0) fail_msg("'%s' (%lld) !< '%s'", a, (long long)times[i], b);
        }
    }
    /* Random parts differ at one time. */
    jid_t a, b;
    js_id_at(a, 1000);
    js_id_at(b, 1000);
    assert_string_not_equal(a, b);
}

static void test_validity(void **st) {
    (void)st;
    assert_true(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZ0"));
    assert_true(js_id_valid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    assert_false(js_id_valid(NULL));
    assert_false(js_id_valid(""));
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZ"));   /* 25 */
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZ00")); /* 27 */
    assert_false(js_id_valid("81JABCDEFGHJKMNPQRSTVWXYZ0"));  /* first > 7: past 48 bits */
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZI"));  /* I, L, O, U are not in the alphabet */
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZL"));
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZO"));
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZU"));
    assert_false(js_id_valid("01jabcdefghjkmnpqrstvwxyz0")); /* lower case */
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXY-0"));
    assert_int_equal(js_id_time_ms("bad"), -1);
    assert_int_equal(js_id_time_ms(NULL), -1);
    assert_int_equal(js_id_time_ms("81JABCDEFGHJKMNPQRSTVWXYZ0"), -1);
}

/* The clock stepped back: ids stay on the last time, random part + 1, with
 * the carry across bytes and across the two 40-bit halves. */
static void test_clock_back_and_carry(void **st) {
    (void)st;
    int64_t future = js_now_ms() + 3600 * 1000;
    jid_t t, a;
    js_id_at(t, future);
    static const struct {
        uint8_t last[10];
        const char *next;
    } cases[] = {
        {{0}, "0000000000000001"},
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff}, "0000000000000080"},
        {{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "0000008000000000"},
        {{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "G000000000000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        js__id_set_last(future, cases[i].last);
        js_id_new(a);
        assert_int_equal(strncmp(a, t, 10), 0);
        assert_string_equal(a + 10, cases[i].next);
    }
    js__id_set_last(future, cases[0].last);
    jid_t prev;
    js_id_new(prev);
    for (int i = 0; i < 1000; i++) {
        js_id_new(a);
        assert_int_equal(js_id_time_ms(a), future);
        assert_true(strcmp(prev, a) < 0);
        memcpy(prev, a, sizeof a);
    }
}

/* An id with this time and the largest random part. */
static void last_possible(jid_t out, int64_t ms) {
    js_id_at(out, ms);
    memset(out + 10, 'Z', 16);
}

static void test_overflow(void **st) {
    (void)st;
    static const uint8_t ones[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    jid_t prev, a;
    /* Clock behind: the next ms is borrowed. */
    int64_t future = js_now_ms() + 3600 * 1000;
    last_possible(prev, future);
    js__id_set_last(future, ones);
    js_id_new(a);
    assert_int_equal(js_id_time_ms(a), future + 1);
    assert_true(strcmp(prev, a) < 0);
    /* Clock on the last ms: waits for the next one. */
    reset(NULL);
    int64_t now = js_now_ms();
    last_possible(prev, now);
    js__id_set_last(now, ones);
    js_id_new(a);
    int64_t after = js_now_ms();
    assert_true(js_id_time_ms(a) > now);
    assert_true(js_id_time_ms(a) <= after); /* it waited: not ahead of the clock */
    assert_true(strcmp(prev, a) < 0);
}

enum { THREADS = 4, PER_THREAD = 25000 };

static void *make_ids(void *arg) {
    jid_t *ids = arg;
    for (int i = 0; i < PER_THREAD; i++) js_id_new(ids[i]);
    return NULL;
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

static void test_threads(void **st) {
    (void)st;
    jid_t *ids = malloc(THREADS * PER_THREAD * sizeof *ids);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, make_ids, ids + t * PER_THREAD), 0);
    for (int t = 0; t < THREADS; t++) assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < THREADS; t++)
        for (int i = 1; i < PER_THREAD; i++)
            assert_true(strcmp(ids[t * PER_THREAD + i - 1], ids[t * PER_THREAD + i]) < 0);
    qsort(ids, THREADS * PER_THREAD, sizeof *ids, cmp_id);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0) fail_msg("duplicate id '%s'", ids[i]);
    free(ids);
}

/* A child shares its parent's last id: both go on from it, apart. */
static void test_fork(void **st) {
    (void)st;
    static const uint8_t zero[10];
    int64_t future = js_now_ms() + 3600 * 1000;
    js__id_set_last(future, zero);
    jid_t last, mine, childs;
    js_id_new(last);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        jid_t c;
        js_id_new(c);
        _exit(write(fds[1], c, sizeof c) == (ssize_t)sizeof c ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], childs, sizeof childs), (ssize_t)sizeof childs);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    js_id_new(mine);
    assert_true(js_id_valid(childs));
    assert_true(strcmp(last, childs) < 0);
    assert_true(strcmp(last, mine) < 0);
    assert_string_not_equal(mine, childs);
}

static void test_trace(void **st) {
    (void)st;
    enum { N = 1000 };
    char(*t)[JS_TRACE_LEN + 1] = malloc(N * sizeof *t);
    for (int k = 0; k < N; k++) {
        js_trace_new(t[k]);
        assert_int_equal(strlen(t[k]), JS_TRACE_LEN);
        assert_int_equal(strspn(t[k], "0123456789abcdef"), JS_TRACE_LEN);
        assert_int_not_equal(strspn(t[k], "0"), JS_TRACE_LEN);
    }
    qsort(t, N, sizeof *t, cmp_id);
    for (int k = 1; k < N; k++) assert_string_not_equal(t[k - 1], t[k]);
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_unique_increasing, reset),
        cmocka_unit_test_setup(test_time_roundtrip, reset),
        cmocka_unit_test_setup(test_order_across_times, reset),
        cmocka_unit_test_setup(test_validity, reset),
        cmocka_unit_test_setup(test_clock_back_and_carry, reset),
        cmocka_unit_test_setup(test_overflow, reset),
        cmocka_unit_test_setup(test_threads, reset),
        cmocka_unit_test_setup(test_fork, reset),
        cmocka_unit_test_setup(test_trace, reset),
    };
    return cmocka_run_group_tests_name("ids", tests, NULL, NULL);
}
