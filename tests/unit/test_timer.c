/* test_timer.c -- timer members v2, the planner against js_clock_eval and
 * js_clock_when on random clocks with pauses, extensions and resets, fired
 * marks and epochs, stored clocks <-> events, the shared clock settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "calendar.h"
#include "clock.h"
#include "timer.h"

#define H JS_CAL_HOUR_MS
#define DAY JS_CAL_DAY_MS

static js_clock_conf_t s_conf;

static int setup(void **st) {
    (void)st;
    memset(&s_conf, 0, sizeof s_conf);
    s_conf.cal = js_cal_new();
    char err[256];
    assert_true(js_cal_load_dir(s_conf.cal, "config/holidays", err, sizeof err) >= 0);
    s_conf.buckets = 16;
    s_conf.nfractions = js_timer_parse_fractions("0.5,0.8", s_conf.fractions, JS_TIMER_MAX_FRACTIONS);
    s_conf.nbefore = js_timer_parse_before("4", s_conf.before_h, JS_TIMER_MAX_BEFORE);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    js_clock_conf_free(&s_conf);
    return 0;
}

static void test_roundtrip(void **st) {
    (void)st;
    js_timer_t t = {.kind = 'h', .fire_ms = 1759161600000, .due_ms = 1760630399000, .gen = 3, .amount = 15,
                    .limit_unit = 1};
    strcpy(t.order, "01JABCDEFGHJKMNPQRSTVWXYZ0");
    strcpy(t.unit, "city-housing");
    strcpy(t.what, "f0.5");
    strcpy(t.epoch, "0");
    char buf[JS_TIMER_MEMBER_MAX + 1];
    int n = js_timer_format(&t, buf, sizeof buf);
    assert_string_equal(buf, "01JABCDEFGHJKMNPQRSTVWXYZ0|city-housing|h|f0.5|1759161600000|1760630399000|3|0|15w");
    assert_int_equal(n, 82); /* the size the bench measures */
    js_timer_t u;
    assert_int_equal(js_timer_parse(buf, (size_t)n, &u), 0);
    assert_string_equal(u.order, t.order);
    assert_string_equal(u.unit, t.unit);
    assert_int_equal(u.kind, 'h');
    assert_string_equal(u.what, "f0.5");
    assert_int_equal(u.fire_ms, t.fire_ms);
    assert_int_equal(u.due_ms, t.due_ms);
    assert_int_equal(u.gen, 3);
    assert_string_equal(u.epoch, "0");
    assert_int_equal(u.amount, 15);
    assert_int_equal(u.limit_unit, 1);
    assert_int_equal(u.provisional, 0);
    /* empty unit (a callback clock of the centre), provisional, epoch R.E, every kind */
    const char *ok[] = {"O||c|due|10|9|0|2.1|3dp", "O|u|a|b24h|10|9|7|0.0|24h", "O|u|r|f0.75|10|9|1|0|1w",
                        "O|u|h|due|10|9|0|0.3|0w"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(js_timer_parse(ok[i], strlen(ok[i]), &u), 0);
        assert_int_equal(js_timer_format(&u, buf, sizeof buf), (int)strlen(ok[i]));
        assert_string_equal(buf, ok[i]);
    }
    assert_int_equal(js_timer_parse(ok[0], strlen(ok[0]), &u), 0);
    assert_int_equal(u.provisional, 1);
    assert_int_equal(u.limit_unit, JS_LIMIT_CALENDAR_DAYS);
    assert_int_equal(js_timer_format(&t, buf, 10), -ENOSPC);
    strcpy(t.unit, "a|b");
    assert_int_equal(js_timer_format(&t, buf, sizeof buf), -EINVAL);
    strcpy(t.unit, "u");
    strcpy(t.what, "f1.5");
    assert_int_equal(js_timer_format(&t, buf, sizeof buf), -EINVAL);
}

static void test_malformed(void **st) {
    (void)st;
    js_timer_t u;
    const char *bad[] = {
        "",                            /* nothing */
        "O|u|h|due|10|9|0|0.0",        /* 8 fields */
        "O|u|h|due|10|9|0|0.0|15w|x",  /* 10 fields */
        "|u|h|due|10|9|0|0.0|15w",     /* no order */
        "O|u|x|due|10|9|0|0.0|15w",    /* kind */
        "O|u|hh|due|10|9|0|0.0|15w",   /* kind */
        "O|u|h|late|10|9|0|0.0|15w",   /* what */
        "O|u|h|f1|10|9|0|0|15w",       /* share not in (0, 1) */
        "O|u|h|f0|10|9|0|0|15w",       /* share not in (0, 1) */
        "O|u|h|f.5|10|9|0|0|15w",      /* share */
        "O|u|h|b0h|10|9|0|0.0|15w",    /* hours before */
        "O|u|h|b4|10|9|0|0.0|15w",     /* hours before */
        "O|u|h|due|-10|9|0|0.0|15w",   /* fire */
        "O|u|h|due|1x|9|0|0.0|15w",    /* fire */
        "O|u|h|due|10||0|0.0|15w",     /* due */
        "O|u|h|due|10|9|-1|0.0|15w",   /* gen */
        "O|u|h|due|10|9|0||15w",       /* epoch */
        "O|u|h|due|10|9|0|0.0.1|15w",  /* epoch */
        "O|u|h|due|10|9|0|a|15w",      /* epoch */
        "O|u|h|due|10|9|0|0.0|15",     /* limit unit */
        "O|u|h|due|10|9|0|0.0|15x",    /* limit unit */
        "O|u|h|due|10|9|0|0.0|w",      /* limit amount */
        "O|u|h|due|10|9|0|0.0|15wq",   /* limit suffix */
        "O|u|h|due|10|9|0|0.0|999999w", /* limit amount */
        "A|u|h|0|1|2|15|1",            /* a v1 member */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (js_timer_parse(bad[i], strlen(bad[i]), &u) == 0) fail_msg("accepted: %s", bad[i]);
    }
    char nul[] = "O|u|h|due|10|9|0|0.0|15w";
    nul[1] = '\0';
    assert_true(js_timer_parse(nul, sizeof nul - 1, &u) < 0);
}

static void test_fields_and_meaning(void **st) {
    (void)st;
    js_timer_t t;
    assert_int_equal(js_timer_parse("O|u-1|a|b4h|10|9|5|1.2|3w", 25, &t), 0);
    char f[128];
    assert_true(js_timer_gen_field(t.kind, t.unit, f, sizeof f) > 0);
    assert_string_equal(f, "g:a|u-1");
    assert_true(js_timer_mark_field(&t, f, sizeof f) > 0);
    assert_string_equal(f, "f:a|u-1|b4h|1.2");
    assert_int_equal(js_timer_mark_field(&t, f, 5), -ENOSPC);
    double fr;
    int hb;
    assert_int_equal(js_timer_is_due(&t, &fr, &hb), 0);
    assert_int_equal(hb, 4);
    assert_true(fr == 0);
    strcpy(t.what, "f0.8");
    assert_int_equal(js_timer_is_due(&t, &fr, &hb), 0);
    assert_true(fr > 0.79 && fr < 0.81 && hb == 0);
    strcpy(t.what, "due");
    assert_int_equal(js_timer_is_due(&t, &fr, &hb), 1);
    assert_true(fr == 1.0);
    assert_int_equal(js_timer_kind_char(JIESU__V1__CLOCK_KIND__CLOCK_KIND_ASSIST), 'a');
    assert_int_equal(js_timer_kind_char(JIESU__V1__CLOCK_KIND__CLOCK_KIND_UNSPECIFIED), 0);
    assert_int_equal(js_timer_clock_kind('c'), JIESU__V1__CLOCK_KIND__CLOCK_KIND_CALLBACK);
    assert_int_equal(js_timer_clock_kind('x'), JIESU__V1__CLOCK_KIND__CLOCK_KIND_UNSPECIFIED);
}

static void test_parse_settings(void **st) {
    (void)st;
    double f[JS_TIMER_MAX_FRACTIONS];
    assert_int_equal(js_timer_parse_fractions("0.5,0.8", f, JS_TIMER_MAX_FRACTIONS), 2);
    assert_true(js_timer_parse_fractions("0.8,0.5", f, JS_TIMER_MAX_FRACTIONS) < 0);
    assert_true(js_timer_parse_fractions("1.5", f, JS_TIMER_MAX_FRACTIONS) < 0);
    assert_true(js_timer_parse_fractions("0.5,x", f, JS_TIMER_MAX_FRACTIONS) < 0);
    assert_true(js_timer_parse_fractions("0.1234567,0.12345671", f, JS_TIMER_MAX_FRACTIONS) < 0); /* read alike */
    assert_int_equal(js_timer_parse_fractions("", f, JS_TIMER_MAX_FRACTIONS), 0);
    int b[JS_TIMER_MAX_BEFORE];
    assert_int_equal(js_timer_parse_before("4", b, JS_TIMER_MAX_BEFORE), 1);
    assert_int_equal(js_timer_parse_before("24,4", b, JS_TIMER_MAX_BEFORE), 2);
    assert_int_equal(b[0], 24);
    assert_int_equal(js_timer_parse_before("", b, JS_TIMER_MAX_BEFORE), 0);
    assert_true(js_timer_parse_before("0", b, JS_TIMER_MAX_BEFORE) < 0);
    assert_true(js_timer_parse_before("4,4", b, JS_TIMER_MAX_BEFORE) < 0);
    assert_true(js_timer_parse_before("1,2,3,4,5", b, JS_TIMER_MAX_BEFORE) < 0);
    assert_true(js_timer_parse_before("4h", b, JS_TIMER_MAX_BEFORE) < 0);
    assert_true(js_timer_parse_before("9000", b, JS_TIMER_MAX_BEFORE) < 0);
}

/* A 10-working-day limit received on Friday 2025-09-26, National Day inside:
 * shares count working time, not wall time. */
static void test_plan_working_days(void **st) {
    (void)st;
    int64_t start = js_cal_local_ms(2025, 9, 26, 10, 0, 0);
    js_clock_event_t ev[] = {{.kind = JS_CLOCK_START, .t_ms = start, .amount = 10, .unit = JS_LIMIT_WORKING_DAYS}};
    js_timer_t p[JS_TIMER_MAX_PLAN];
    char err[200];
    int n = js_timer_plan(&s_conf, "01JABCDEFGHJKMNPQRSTVWXYZ0", 'h', "city-housing", ev, 1, 7, start, NULL, 0, p,
                          JS_TIMER_MAX_PLAN, err, sizeof err);
    assert_int_equal(n, 4);
    int64_t due = js_cal_local_ms(2025, 10, 16, 23, 59, 59);
    /* working days after the 26th: 28 Sep (a worked Sunday), 29, 30, then 9 and 10 Oct after the
     * holiday: the 5th ends at midnight into 11 Oct; the 8th (11, 13, 14 Oct) into 15 Oct */
    assert_string_equal(p[0].what, "f0.5");
    assert_int_equal(p[0].fire_ms, js_cal_local_ms(2025, 10, 11, 0, 0, 0));
    assert_string_equal(p[0].epoch, "0");
    assert_string_equal(p[1].what, "f0.8");
    assert_int_equal(p[1].fire_ms, js_cal_local_ms(2025, 10, 15, 0, 0, 0));
    assert_string_equal(p[2].what, "b4h");
    assert_int_equal(p[2].fire_ms, due - 4 * H);
    assert_string_equal(p[2].epoch, "0.0");
    assert_string_equal(p[3].what, "due");
    assert_int_equal(p[3].fire_ms, due + 1);
    for (int i = 0; i < n; i++) {
        assert_int_equal(p[i].due_ms, due);
        assert_int_equal(p[i].gen, 7);
        assert_int_equal(p[i].amount, 10);
        assert_int_equal(p[i].limit_unit, JS_LIMIT_WORKING_DAYS);
        assert_int_equal(p[i].provisional, 0);
        assert_int_equal(p[i].kind, 'h');
        char buf[JS_TIMER_MEMBER_MAX + 1];
        js_timer_t back;
        int len = js_timer_format(&p[i], buf, sizeof buf);
        assert_true(len > 0 && len <= 92); /* one jemalloc class: ~190 B of Redis */
        assert_int_equal(js_timer_parse(buf, (size_t)len, &back), 0);
        assert_int_equal(back.fire_ms, p[i].fire_ms);
    }
    /* the cap is respected */
    assert_int_equal(js_timer_plan(&s_conf, "O", 'h', "u", ev, 1, 7, start, NULL, 0, p, 3, err, sizeof err), -ENOSPC);
    /* into an unpublished year: provisional */
    ev[0].t_ms = js_cal_local_ms(2026, 12, 28, 9, 0, 0);
    n = js_timer_plan(&s_conf, "O", 'h', "u", ev, 1, 1, ev[0].t_ms, NULL, 0, p, JS_TIMER_MAX_PLAN, err, sizeof err);
    assert_int_equal(n, 4);
    assert_int_equal(p[3].provisional, 1);
}

static void test_plan_states_and_short_limits(void **st) {
    (void)st;
    int64_t t0 = js_cal_local_ms(2025, 5, 6, 10, 0, 0);
    js_clock_event_t ev[4] = {{.kind = JS_CLOCK_START, .t_ms = t0, .amount = 5, .unit = JS_LIMIT_WORKING_DAYS},
                              {.kind = JS_CLOCK_PAUSE, .t_ms = t0 + 26 * H}};
    js_timer_t p[JS_TIMER_MAX_PLAN];
    char err[200];
    assert_int_equal(js_timer_plan(&s_conf, "O", 'h', "u", ev, 2, 1, t0 + 30 * H, NULL, 0, p, JS_TIMER_MAX_PLAN, err,
                                   sizeof err), 0); /* paused: none */
    ev[2] = (js_clock_event_t){.kind = JS_CLOCK_STOP, .t_ms = t0 + 40 * H};
    assert_int_equal(js_timer_plan(&s_conf, "O", 'h', "u", ev, 3, 1, t0 + 50 * H, NULL, 0, p, JS_TIMER_MAX_PLAN, err,
                                   sizeof err), 0); /* stopped: none */
    ev[1] = (js_clock_event_t){.kind = JS_CLOCK_RESUME, .t_ms = t0 + 26 * H};
    assert_int_equal(js_timer_plan(&s_conf, "O", 'h', "u", ev, 2, 1, t0 + 30 * H, NULL, 0, p, JS_TIMER_MAX_PLAN, err,
                                   sizeof err), -EINVAL); /* resume while running */
    assert_non_null(strstr(err, "resume"));
    /* a 2-hour response clock: 4 h before due lies before its start, left out */
    ev[0] = (js_clock_event_t){.kind = JS_CLOCK_START, .t_ms = t0, .amount = 2, .unit = JS_LIMIT_HOURS};
    int n = js_timer_plan(&s_conf, "O", 'r', "u", ev, 1, 1, t0, NULL, 0, p, JS_TIMER_MAX_PLAN, err, sizeof err);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].fire_ms, t0 + H);
    assert_int_equal(p[1].fire_ms, t0 + H * 8 / 5);
    assert_int_equal(p[2].fire_ms, t0 + 2 * H + 1);
    assert_string_equal(p[2].what, "due");
    assert_int_equal(p[2].limit_unit, JS_LIMIT_HOURS);
    /* overdue already: everything comes back, in the past (fires at once, late) */
    n = js_timer_plan(&s_conf, "O", 'r', "u", ev, 1, 1, t0 + 10 * H, NULL, 0, p, JS_TIMER_MAX_PLAN, err, sizeof err);
    assert_int_equal(n, 3);
    assert_true(p[2].fire_ms < t0 + 10 * H);
    /* bad identity */
    assert_int_equal(js_timer_plan(&s_conf, "O|x", 'r', "u", ev, 1, 1, t0, NULL, 0, p, JS_TIMER_MAX_PLAN, err,
                                   sizeof err), -EINVAL);
    assert_int_equal(js_timer_plan(&s_conf, "O", 'z', "u", ev, 1, 1, t0, NULL, 0, p, JS_TIMER_MAX_PLAN, err,
                                   sizeof err), -EINVAL);
}

/* Marks keep re-arming from firing twice; resets and extensions open new epochs. */
static void test_plan_marks_and_epochs(void **st) {
    (void)st;
    int64_t t0 = js_cal_local_ms(2025, 5, 6, 10, 0, 0);
    js_clock_event_t ev[4] = {{.kind = JS_CLOCK_START, .t_ms = t0, .amount = 5, .unit = JS_LIMIT_WORKING_DAYS}};
    js_timer_t p[JS_TIMER_MAX_PLAN];
    char err[200];
    const char *marks[] = {"f:h|u|f0.5|0", "h|u|b4h|0.0", "f:h|other|f0.8|0", "f:r|u|f0.8|0"};
    int n = js_timer_plan(&s_conf, "O", 'h', "u", ev, 1, 1, t0 + 5 * DAY, marks, 4, p, JS_TIMER_MAX_PLAN, err,
                          sizeof err);
    assert_int_equal(n, 2); /* f0.8 and due: the other marks are another unit's or clock's */
    assert_string_equal(p[0].what, "f0.8");
    assert_string_equal(p[1].what, "due");
    /* extension: due and b4h in a new epoch, shares not */
    ev[1] = (js_clock_event_t){.kind = JS_CLOCK_EXTEND, .t_ms = t0 + DAY, .amount = 10};
    n = js_timer_plan(&s_conf, "O", 'h', "u", ev, 2, 2, t0 + DAY, marks, 4, p, JS_TIMER_MAX_PLAN, err, sizeof err);
    assert_int_equal(n, 3);
    assert_string_equal(p[0].what, "f0.8");
    assert_string_equal(p[0].epoch, "0");
    assert_string_equal(p[1].what, "b4h");
    assert_string_equal(p[1].epoch, "0.1");
    assert_string_equal(p[2].epoch, "0.1");
    /* reset (an approved return): a new epoch for everything */
    ev[2] = (js_clock_event_t){.kind = JS_CLOCK_RESET, .t_ms = t0 + 2 * DAY, .amount = 3, .unit = JS_LIMIT_WORKING_DAYS};
    n = js_timer_plan(&s_conf, "O", 'h', "u", ev, 3, 3, t0 + 2 * DAY, marks, 4, p, JS_TIMER_MAX_PLAN, err, sizeof err);
    assert_int_equal(n, 4);
    assert_string_equal(p[0].epoch, "1");
    assert_string_equal(p[3].epoch, "1.0");
    char a[24], b[24];
    assert_int_equal(js_timer_epoch(ev, 3, t0 + 2 * DAY, a, b), 0);
    assert_string_equal(b, "1.0");
    assert_int_equal(js_timer_epoch(ev, 3, t0 + DAY, a, b), 0); /* events after now do not count */
    assert_string_equal(b, "0.1");
    assert_int_equal(js_timer_epoch(ev, 3, t0 - 1, a, b), -EINVAL);
}

/* The calendar's edge cases, as the warnings see them (the due moments
 * themselves are in test_calendar.c): a receipt on a holiday, National Day
 * with its worked Saturday and a review paused over the holiday (costs
 * nothing), New Year across the boundary, Spring Festival 2026, a receipt on
 * a worked Saturday. */
static void s_expect(const js_clock_event_t *ev, size_t n, int64_t now, int64_t f5, int64_t f8, int64_t due) {
    js_timer_t p[JS_TIMER_MAX_PLAN];
    char err[200];
    int k = js_timer_plan(&s_conf, "O", 'h', "u", ev, n, 1, now, NULL, 0, p, JS_TIMER_MAX_PLAN, err, sizeof err);
    assert_int_equal(k, 4);
    assert_string_equal(p[0].what, "f0.5");
    assert_int_equal(p[0].fire_ms, f5);
    assert_string_equal(p[1].what, "f0.8");
    assert_int_equal(p[1].fire_ms, f8);
    assert_string_equal(p[2].what, "b4h");
    assert_int_equal(p[2].fire_ms, due - 4 * H);
    assert_int_equal(p[3].fire_ms, due + 1);
    assert_int_equal(p[3].due_ms, due);
}

static void test_plan_calendar_edges(void **st) {
    (void)st;
    js_clock_event_t ev[3];
#define START(y, mo, d, h, n_) \
    (js_clock_event_t){.kind = JS_CLOCK_START, .t_ms = js_cal_local_ms(y, mo, d, h, 0, 0), .amount = n_, \
                       .unit = JS_LIMIT_WORKING_DAYS}
    /* received on a Spring Festival holiday, 2025-01-29: Feb 5, 6, 7, Sat 8 (worked), Mon 10 */
    ev[0] = START(2025, 1, 29, 10, 5);
    s_expect(ev, 1, ev[0].t_ms, js_cal_local_ms(2025, 2, 7, 12, 0, 0), js_cal_local_ms(2025, 2, 9, 0, 0, 0),
             js_cal_local_ms(2025, 2, 10, 23, 59, 59));
    /* National Day 2025, the review paused from the receipt day to after the holiday: nothing lost */
    ev[0] = START(2025, 9, 30, 10, 5);
    ev[1] = (js_clock_event_t){.kind = JS_CLOCK_PAUSE, .t_ms = js_cal_local_ms(2025, 9, 30, 14, 0, 0)};
    ev[2] = (js_clock_event_t){.kind = JS_CLOCK_RESUME, .t_ms = js_cal_local_ms(2025, 10, 9, 0, 0, 0)};
    s_expect(ev, 3, ev[2].t_ms, js_cal_local_ms(2025, 10, 11, 12, 0, 0), js_cal_local_ms(2025, 10, 14, 0, 0, 0),
             js_cal_local_ms(2025, 10, 14, 23, 59, 59));
    s_expect(ev, 1, ev[0].t_ms, js_cal_local_ms(2025, 10, 11, 12, 0, 0), js_cal_local_ms(2025, 10, 14, 0, 0, 0),
             js_cal_local_ms(2025, 10, 14, 23, 59, 59));
    /* New Year: 2025-12-31, 2wd: Sun 4 Jan (worked), Mon 5 */
    ev[0] = START(2025, 12, 31, 10, 2);
    s_expect(ev, 1, ev[0].t_ms, js_cal_local_ms(2026, 1, 5, 0, 0, 0), js_cal_local_ms(2026, 1, 5, 14, 24, 0),
             js_cal_local_ms(2026, 1, 5, 23, 59, 59));
    /* Spring Festival 2026: Fri 13, Sat 14 (worked), off 15..23, Tue 24 */
    ev[0] = START(2026, 2, 12, 10, 3);
    s_expect(ev, 1, ev[0].t_ms, js_cal_local_ms(2026, 2, 14, 12, 0, 0), js_cal_local_ms(2026, 2, 24, 9, 36, 0),
             js_cal_local_ms(2026, 2, 24, 23, 59, 59));
    /* received on a worked Saturday, 2025-10-11: the receipt day does not count */
    ev[0] = START(2025, 10, 11, 8, 1);
    s_expect(ev, 1, ev[0].t_ms, js_cal_local_ms(2025, 10, 13, 12, 0, 0), js_cal_local_ms(2025, 10, 13, 19, 12, 0),
             js_cal_local_ms(2025, 10, 13, 23, 59, 59));
#undef START
}

/* Random clocks: the planner agrees with js_clock_eval / js_clock_when, and
 * each moment it gives is where the clock really stands. */
static uint64_t s_rng = 88172645463325252ull;
static uint64_t s_rand(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static void test_plan_property(void **st) {
    (void)st;
    int64_t lo = js_cal_local_ms(2023, 1, 1, 0, 0, 0), span = js_cal_local_ms(2027, 10, 1, 0, 0, 0) - lo;
    int checked = 0, running = 0, future = 0;
    for (int iter = 0; iter < 20000; iter++) {
        js_clock_event_t ev[12];
        size_t n = 0;
        int unit = 1 + (int)(s_rand() % 3);
        int amount = unit == JS_LIMIT_HOURS ? 1 + (int)(s_rand() % 72) : 1 + (int)(s_rand() % 20);
        int64_t t = lo + (int64_t)(s_rand() % (uint64_t)span);
        ev[n++] = (js_clock_event_t){.kind = JS_CLOCK_START, .t_ms = t, .amount = amount, .unit = unit};
        int state = JS_CLOCK_RUNNING, cur = amount;
        int steps = (int)(s_rand() % 7);
        for (int k = 0; k < steps; k++) {
            t += (int64_t)(s_rand() % (uint64_t)(3 * DAY));
            int r = (int)(s_rand() % 10);
            if (state == JS_CLOCK_RUNNING && r < 3) {
                ev[n++] = (js_clock_event_t){.kind = JS_CLOCK_PAUSE, .t_ms = t};
                state = JS_CLOCK_PAUSED;
            } else if (state == JS_CLOCK_PAUSED && r < 6) {
                ev[n++] = (js_clock_event_t){.kind = JS_CLOCK_RESUME, .t_ms = t};
                state = JS_CLOCK_RUNNING;
            } else if (state != JS_CLOCK_STOPPED && r < 8) {
                cur += 1 + (int)(s_rand() % 5);
                ev[n++] = (js_clock_event_t){.kind = JS_CLOCK_EXTEND, .t_ms = t, .amount = cur};
            } else if (r < 9) {
                cur = 1 + (int)(s_rand() % 10);
                ev[n++] = (js_clock_event_t){.kind = JS_CLOCK_RESET, .t_ms = t, .amount = cur, .unit = unit};
                state = JS_CLOCK_RUNNING;
            } else if (state != JS_CLOCK_STOPPED) {
                ev[n++] = (js_clock_event_t){.kind = JS_CLOCK_STOP, .t_ms = t};
                state = JS_CLOCK_STOPPED;
            }
        }
        int64_t now = t + (int64_t)(s_rand() % (uint64_t)(10 * DAY));
        js_clock_result_t res;
        if (js_clock_eval(s_conf.cal, ev, n, now, &res) < 0) continue; /* e.g. an extension that moves nothing */
        checked++;
        js_timer_t p[JS_TIMER_MAX_PLAN];
        char err[200];
        int np = js_timer_plan(&s_conf, "ORDER", 'h', "u", ev, n, 9, now, NULL, 0, p, JS_TIMER_MAX_PLAN, err, sizeof err);
        assert_true(np >= 0);
        if (res.state != JS_CLOCK_RUNNING) {
            assert_int_equal(np, 0);
            continue;
        }
        running++;
        int want = 4 - (res.due_ms - 4 * H <= res.received_ms);
        assert_int_equal(np, want);
        for (int i = 0; i < np; i++) {
            assert_int_equal(p[i].due_ms, res.due_ms);
            assert_int_equal(p[i].provisional, res.provisional);
            if (i) assert_true(p[i].fire_ms >= p[i - 1].fire_ms);
            double fr;
            int hb;
            if (js_timer_is_due(&p[i], &fr, &hb)) {
                assert_int_equal(p[i].fire_ms, res.due_ms + 1);
                if (p[i].fire_ms > now) { /* nothing happens before it: then the clock is overdue, not before */
                    js_clock_result_t at;
                    assert_int_equal(js_clock_eval(s_conf.cal, ev, n, p[i].fire_ms, &at), 0);
                    assert_int_equal(at.overdue, 1);
                    assert_int_equal(js_clock_eval(s_conf.cal, ev, n, res.due_ms, &at), 0);
                    assert_int_equal(at.overdue, 0);
                    future++;
                }
            } else if (hb) {
                assert_int_equal(p[i].fire_ms, res.due_ms - hb * H);
            } else {
                int64_t w;
                assert_int_equal(js_clock_when(s_conf.cal, ev, n, now, fr, &w), 0);
                assert_int_equal(p[i].fire_ms, w);
                if (w > now) { /* the share really is used then */
                    js_clock_result_t at;
                    assert_int_equal(js_clock_eval(s_conf.cal, ev, n, w, &at), 0);
                    assert_int_equal(at.used_ms, (int64_t)((double)res.limit_ms * fr));
                }
            }
        }
    }
    assert_true(checked > 15000 && running > 5000 && future > 1000);
}

/* Stored clocks: entries <-> events, and the dues recomputed from them. */
static void test_stored_clock(void **st) {
    (void)st;
    int64_t t0 = js_cal_local_ms(2025, 5, 6, 10, 0, 0);
    js_clock_event_t ev[] = {{.kind = JS_CLOCK_START, .t_ms = t0, .amount = 5, .unit = JS_LIMIT_WORKING_DAYS},
                             {.kind = JS_CLOCK_PAUSE, .t_ms = js_cal_local_ms(2025, 5, 7, 12, 0, 0)},
                             {.kind = JS_CLOCK_RESUME, .t_ms = js_cal_local_ms(2025, 5, 8, 12, 0, 0)},
                             {.kind = JS_CLOCK_EXTEND, .t_ms = js_cal_local_ms(2025, 5, 9, 9, 0, 0), .amount = 10},
                             {.kind = JS_CLOCK_EXTEND, .t_ms = js_cal_local_ms(2025, 5, 9, 10, 0, 0),
                              .due_ms = js_cal_local_ms(2025, 6, 3, 23, 59, 59)}};
    js_arena_t *a = js_arena_new(4096);
    Jiesu__V1__Clock c = JIESU__V1__CLOCK__INIT;
    c.kind = JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING;
    c.unit_id = "city-housing";
    assert_int_equal(js_timer_clock_set_events(a, &c, ev, 5), 0);
    assert_int_equal(c.n_events, 5);
    js_clock_event_t back[8];
    assert_int_equal(js_timer_clock_events(&c, back, 8), 5);
    assert_memory_equal(back, ev, sizeof ev);
    assert_int_equal(js_timer_clock_events(&c, back, 2), -ENOSPC);
    js_clock_result_t res;
    int64_t now = js_cal_local_ms(2025, 5, 12, 0, 0, 0);
    assert_int_equal(js_timer_clock_refresh(s_conf.cal, &c, now, &res), 0);
    assert_int_equal(c.due_ms, js_cal_local_ms(2025, 6, 3, 23, 59, 59));
    assert_int_equal(c.original_due_ms, js_cal_local_ms(2025, 5, 14, 23, 59, 59)); /* the refused return's */
    assert_int_equal(c.provisional, 0);
    /* the planner on the stored clock: the same as on its events */
    js_timer_t p1[JS_TIMER_MAX_PLAN], p2[JS_TIMER_MAX_PLAN];
    char err[200];
    int n1 = js_timer_plan_clock(&s_conf, "O", &c, 4, now, NULL, 0, p1, JS_TIMER_MAX_PLAN, err, sizeof err);
    int n2 = js_timer_plan(&s_conf, "O", 'h', "city-housing", ev, 5, 4, now, NULL, 0, p2, JS_TIMER_MAX_PLAN, err,
                           sizeof err);
    assert_int_equal(n1, 4);
    assert_int_equal(n1, n2);
    assert_memory_equal(p1, p2, sizeof *p1 * (size_t)n1);
    assert_string_equal(p1[3].epoch, "0.2");
    assert_int_equal(p1[3].amount, 0); /* extended to a moment */
    /* a bad entry: nothing changed */
    c.events[1]->kind = JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_WARNING;
    c.due_ms = 42;
    assert_true(js_timer_clock_refresh(s_conf.cal, &c, now, &res) < 0);
    assert_int_equal(c.due_ms, 42);
    assert_int_equal(js_timer_plan_clock(&s_conf, "O", &c, 4, now, NULL, 0, p1, JS_TIMER_MAX_PLAN, err, sizeof err),
                     -EINVAL);
    c.events[1]->kind = JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_PAUSE;
    c.events[0]->limit = NULL;
    assert_int_equal(js_timer_clock_events(&c, back, 8), -EINVAL);
    js_arena_destroy(&a);
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
    assert_int_equal(k.nbefore, 1);
    assert_int_equal(k.before_h[0], 4);
    assert_non_null(k.cal);
    assert_true(js_clock_conf_try_reload(&k, c, err, sizeof err) > 0);
    js_conf_set(c, "calendar.dir", "/nonexistent");
    js_cal_t *before = k.cal;
    assert_true(js_clock_conf_try_reload(&k, c, err, sizeof err) < 0);
    assert_ptr_equal(k.cal, before); /* refused: the calendar in use stays */
    js_conf_set(c, "calendar.dir", "config/holidays");
    js_clock_conf_free(&k);
    assert_null(k.cal);
    js_conf_set(c, "clock.warn_fractions", "0.8,0.5");
    assert_true(js_clock_conf_load(&k, c, err, sizeof err) < 0);
    assert_non_null(strstr(err, "clock.warn_fractions"));
    js_conf_set(c, "clock.warn_fractions", "0.5");
    js_conf_set(c, "clock.warn_before_h", "4,x");
    assert_true(js_clock_conf_load(&k, c, err, sizeof err) < 0);
    assert_non_null(strstr(err, "clock.warn_before_h"));
    js_conf_set(c, "clock.warn_before_h", "");
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
        cmocka_unit_test(test_fields_and_meaning),
        cmocka_unit_test(test_parse_settings),
        cmocka_unit_test(test_plan_working_days),
        cmocka_unit_test(test_plan_states_and_short_limits),
        cmocka_unit_test(test_plan_marks_and_epochs),
        cmocka_unit_test(test_plan_calendar_edges),
        cmocka_unit_test(test_plan_property),
        cmocka_unit_test(test_stored_clock),
        cmocka_unit_test(test_buckets_spread),
        cmocka_unit_test(test_clock_conf),
    };
    return cmocka_run_group_tests_name("timer members and planner", tests, setup, teardown);
}
