/* test_timer.c -- timer members, buckets, warning moments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "calendar.h"
#include "timer.h"

static void test_roundtrip(void **st) {
    (void)st;
    js_timer_t t = {.kind = 'h', .idx = 1, .start_ms = 1000, .due_ms = 11000, .amount = 15, .limit_unit = 1};
    strcpy(t.order, "01JABCDEFGHJKMNPQRSTVWXYZ0");
    strcpy(t.unit, "city-housing");
    char buf[256];
    int n = js_timer_format(&t, buf, sizeof buf);
    assert_true(n > 0);
    assert_string_equal(buf, "01JABCDEFGHJKMNPQRSTVWXYZ0|city-housing|h|1|1000|11000|15|1");
    js_timer_t u;
    assert_int_equal(js_timer_parse(buf, (size_t)n, &u), 0);
    assert_string_equal(u.order, t.order);
    assert_string_equal(u.unit, t.unit);
    assert_int_equal(u.kind, 'h');
    assert_int_equal(u.idx, 1);
    assert_int_equal(u.due_ms, 11000);
    assert_int_equal(u.amount, 15);
    assert_int_equal(u.limit_unit, 1);
    assert_int_equal(js_timer_format(&t, buf, 10), -ENOSPC);
}

static void test_malformed(void **st) {
    (void)st;
    js_timer_t u;
    const char *bad[] = {"", "a|b|h|0|1", "a|b|x|0|1|2|1|1", "a|b|h|-1|1|2|1|1", "a|b|h|0|5|2|1|1",
                         "a|b|h|0|1|2|1|1|9", "a|b|h|z|1|2|1|1", "a|b|hh|0|1|2|1|1", "a|b|h|0|1|2|0|1",
                         "a|b|h|0|1|2|1|4", "a|b|h|0|1|2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_true(js_timer_parse(bad[i], strlen(bad[i]), &u) < 0);
}

static void test_fire_and_fractions(void **st) {
    (void)st;
    double f[JS_TIMER_MAX_FRACTIONS];
    assert_int_equal(js_timer_parse_fractions("0.5,0.8", f, JS_TIMER_MAX_FRACTIONS), 2);
    assert_true(js_timer_parse_fractions("0.8,0.5", f, JS_TIMER_MAX_FRACTIONS) < 0);
    assert_true(js_timer_parse_fractions("1.5", f, JS_TIMER_MAX_FRACTIONS) < 0);
    assert_true(js_timer_parse_fractions("0.5,x", f, JS_TIMER_MAX_FRACTIONS) < 0);
    assert_int_equal(js_timer_parse_fractions("", f, JS_TIMER_MAX_FRACTIONS), 0);
    js_timer_parse_fractions("0.5,0.8", f, JS_TIMER_MAX_FRACTIONS);
    js_timer_t t = {.kind = 'h', .idx = 0, .start_ms = 0, .due_ms = 1000, .amount = 1, .limit_unit = 3};
    assert_int_equal(js_timer_fire_ms(&t, NULL, f, 2), 500);
    t.idx = 1;
    assert_int_equal(js_timer_fire_ms(&t, NULL, f, 2), 800);
    t.idx = 2;
    assert_int_equal(js_timer_fire_ms(&t, NULL, f, 2), 1000);
}

/* A 10-working-day limit received on Friday 2025-09-26: half of it is used
 * at the end of the 5th working day after, not halfway in wall time (the
 * National Day holiday lies inside). */
static void test_warnings_count_working_time(void **st) {
    (void)st;
    js_cal_t *cal = js_cal_new();
    char err[256];
    assert_true(js_cal_load_dir(cal, "config/holidays", err, sizeof err) >= 0);
    int64_t start = js_cal_local_ms(2025, 9, 26, 10, 0, 0), due;
    int prov;
    assert_int_equal(js_cal_due(cal, start, 10, 1, &due, &prov), 0);
    double f[2] = {0.5, 0.8};
    js_timer_t t = {.kind = 'h', .idx = 0, .start_ms = start, .due_ms = due, .amount = 10, .limit_unit = 1};
    int64_t at = js_timer_fire_ms(&t, cal, f, 2);
    int64_t linear = js_timer_fire_ms(&t, NULL, f, 2);
    assert_true(at > start && at < due);
    assert_true(at != linear);
    /* working days after the 26th: 28 Sep (a worked Sunday), 29, 30, then 9 and 10 Oct after the
     * holiday: the 5th ends at midnight into 11 Oct; the 8th (11, 13, 14 Oct) into 15 Oct */
    assert_int_equal(at, js_cal_local_ms(2025, 10, 11, 0, 0, 0));
    t.idx = 1;
    assert_int_equal(js_timer_fire_ms(&t, cal, f, 2), js_cal_local_ms(2025, 10, 15, 0, 0, 0));
    assert_int_equal(due, js_cal_local_ms(2025, 10, 16, 23, 59, 59));
    js_cal_destroy(&cal);
}

static void test_buckets_spread(void **st) {
    (void)st;
    int count[16] = {0};
    char id[32];
    for (int i = 0; i < 16000; i++) {
        snprintf(id, sizeof id, "01JABC%06dXYZ", i);
        int b = js_timer_bucket(id, 16);
        assert_true(b >= 0 && b < 16);
        count[b]++;
    }
    for (int b = 0; b < 16; b++) assert_true(count[b] > 700 && count[b] < 1300);
    assert_int_equal(js_timer_bucket("x", 1), 0);
}

/* The settings arming and firing share: checked and loaded in one place. */
static void test_clock_conf(void **st) {
    (void)st;
    js_conf_t *c = js_conf_new("t", "");
    js_conf_add(c, js_clock_keys);
    js_clock_conf_t k;
    char err[512];
    assert_int_equal(js_clock_conf_load(&k, c, err, sizeof err), 0);
    assert_int_equal(k.buckets, 16);
    assert_int_equal(k.nfractions, 2);
    assert_non_null(k.cal);
    js_clock_conf_free(&k);
    assert_null(k.cal);
    js_conf_set(c, "clock.warn_fractions", "0.8,0.5");
    assert_true(js_clock_conf_load(&k, c, err, sizeof err) < 0);
    assert_non_null(strstr(err, "clock.warn_fractions"));
    js_conf_set(c, "clock.warn_fractions", "0.5");
    js_conf_set(c, "timer.buckets", "0");
    assert_true(js_clock_conf_load(&k, c, err, sizeof err) < 0);
    assert_non_null(strstr(err, "timer.buckets"));
    js_conf_set(c, "timer.buckets", "8");
    js_conf_set(c, "calendar.dir", "/nonexistent");
    assert_true(js_clock_conf_load(&k, c, err, sizeof err) < 0);
    assert_non_null(strstr(err, "calendar.dir"));
    assert_null(k.cal);
    js_conf_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fire_and_fractions),
        cmocka_unit_test(test_warnings_count_working_time),
        cmocka_unit_test(test_buckets_spread),
        cmocka_unit_test(test_clock_conf),
    };
    return cmocka_run_group_tests_name("timer members", tests, NULL, NULL);
}
