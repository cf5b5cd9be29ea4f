/* test_clock.c -- the clock engine: return review refused and approved,
 * extensions, pauses over weekends and working afternoons, stop, warnings,
 * illegal lists; and 100,000 random event lists against a plain tick-by-tick
 * model of the same rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>

#include "calendar.h"
#include "clock.h"
#include "jsdefs.h"

#define DIR   "config/holidays"
#define WD    JS_LIMIT_WORKING_DAYS
#define CD    JS_LIMIT_CALENDAR_DAYS
#define HR    JS_LIMIT_HOURS
#define H     (3600 * 1000LL)
#define DAYMS (24 * H)

static js_cal_t *s_cal;

static int setup(void **state) {
    (void)state;
    s_cal = js_cal_new();
    return js_cal_load_dir(s_cal, DIR, NULL, 0) == 5 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    js_cal_destroy(&s_cal);
    return 0;
}

/* Local wall time -> ms, through libc. */
static int64_t L(int y, int mo, int d, int h, int mi, int s) {
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000 - 8 * H;
}
#define EOD(y, m, d) L(y, m, d, 23, 59, 59)

static js_clock_event_t E(int kind, int64_t t) {
    return (js_clock_event_t){.kind = kind, .t_ms = t};
}
static js_clock_event_t ELIM(int kind, int64_t t, int amount, int unit) {
    return (js_clock_event_t){.kind = kind, .t_ms = t, .amount = amount, .unit = unit};
}
static js_clock_event_t EDUE(int64_t t, int64_t due) {
    return (js_clock_event_t){.kind = JS_CLOCK_EXTEND, .t_ms = t, .due_ms = due};
}

static js_clock_result_t s_eval(const js_clock_event_t *ev, size_t n, int64_t now) {
    js_clock_result_t r;
    int rc = js_clock_eval(s_cal, ev, n, now, &r);
    if (rc != 0) fail_msg("eval: %d %s", rc, r.err);
    return r;
}

static void s_due_is(int64_t got, int64_t want) {
    if (got != want) {
        char a[64], b[64];
        js_cal_format(got, a, sizeof a);
        js_cal_format(want, b, sizeof b);
        fail_msg("due %s, want %s", a, b);
    }
}

/* 2025-05-06 is a Tuesday; 5 working days: Wed 7, Thu 8, Fri 9, Mon 12, Tue 13. */
static void test_start_only(void **state) {
    (void)state;
    js_clock_event_t ev[] = {ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD)};
    js_clock_result_t r = s_eval(ev, 1, L(2025, 5, 6, 11, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 13));
    s_due_is(r.original_due_ms, EOD(2025, 5, 13));
    assert_int_equal(r.state, JS_CLOCK_RUNNING);
    assert_int_equal(r.used_ms, 0); /* the receipt day does not count */
    assert_int_equal(r.limit_ms, 5 * DAYMS);
    assert_int_equal(r.count_from_ms, L(2025, 5, 7, 0, 0, 0));
    assert_int_equal(r.provisional, 0);
    assert_int_equal(r.overdue, 0);
    /* Friday noon: 2.5 of 5 working days used */
    r = s_eval(ev, 1, L(2025, 5, 9, 12, 0, 0));
    assert_int_equal(r.used_ms, 60 * H);
    assert_true(r.fraction == 0.5);
    /* Saturday: nothing more used */
    r = s_eval(ev, 1, L(2025, 5, 10, 20, 0, 0));
    assert_int_equal(r.used_ms, 72 * H);
    /* After the due moment */
    r = s_eval(ev, 1, L(2025, 5, 14, 0, 0, 0));
    assert_int_equal(r.overdue, 1);
    assert_true(r.fraction == 1.0);
    /* Same as js_cal_due for every unit */
    for (int unit = 1; unit <= 3; unit++) {
        int64_t due;
        ev[0] = ELIM(JS_CLOCK_START, L(2025, 9, 30, 10, 0, 0), 5, unit);
        assert_int_equal(js_cal_due(s_cal, ev[0].t_ms, 5, unit, &due, NULL), 0);
        r = s_eval(ev, 1, ev[0].t_ms);
        s_due_is(r.due_ms, due);
    }
}

static void test_return_refused(void **state) {
    (void)state;
    /* Review from Wed 12:00 to Thu 12:00: one working day excluded. */
    js_clock_event_t ev[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        E(JS_CLOCK_PAUSE, L(2025, 5, 7, 12, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 5, 8, 12, 0, 0)),
    };
    js_clock_result_t r = s_eval(ev, 3, L(2025, 5, 8, 13, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 14));
    assert_int_equal(r.paused_ms, 24 * H);
    assert_int_equal(r.used_ms, 12 * H + 1 * H);
    /* While paused the due moment is where it would be on resuming now. */
    r = s_eval(ev, 2, L(2025, 5, 7, 18, 0, 0));
    assert_int_equal(r.state, JS_CLOCK_PAUSED);
    s_due_is(r.due_ms, L(2025, 5, 14, 5, 59, 59));
    assert_int_equal(r.used_ms, 12 * H);
    /* A review over a weekend costs nothing. */
    js_clock_event_t wk[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        E(JS_CLOCK_PAUSE, L(2025, 5, 10, 0, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 5, 12, 0, 0, 0)),
    };
    r = s_eval(wk, 3, L(2025, 5, 12, 1, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 13));
    assert_int_equal(r.paused_ms, 0);
    /* Over a working afternoon: that afternoon. */
    js_clock_event_t pm[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        E(JS_CLOCK_PAUSE, L(2025, 5, 7, 12, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 5, 7, 18, 0, 0)),
    };
    r = s_eval(pm, 3, L(2025, 5, 7, 19, 0, 0));
    s_due_is(r.due_ms, L(2025, 5, 14, 5, 59, 59));
    /* A pause on the receipt day costs nothing: it does not count anyway. */
    js_clock_event_t rd[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        E(JS_CLOCK_PAUSE, L(2025, 5, 6, 12, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 5, 7, 6, 0, 0)),
    };
    r = s_eval(rd, 3, L(2025, 5, 7, 7, 0, 0));
    s_due_is(r.due_ms, L(2025, 5, 14, 5, 59, 59));
    assert_int_equal(r.paused_ms, 6 * H);
    /* An hours clock pays wall time, night included. */
    js_clock_event_t hr[] = {
        ELIM(JS_CLOCK_START, L(2025, 10, 1, 10, 0, 0), 24, HR),
        E(JS_CLOCK_PAUSE, L(2025, 10, 1, 22, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 10, 2, 6, 0, 0)),
    };
    r = s_eval(hr, 3, L(2025, 10, 2, 7, 0, 0));
    s_due_is(r.due_ms, L(2025, 10, 2, 18, 0, 0));
    assert_int_equal(r.used_ms, 13 * H);
    /* Calendar days: a pause over a weekend costs it. */
    js_clock_event_t cd[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, CD),
        E(JS_CLOCK_PAUSE, L(2025, 5, 10, 0, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 5, 12, 0, 0, 0)),
    };
    r = s_eval(cd, 3, L(2025, 5, 12, 1, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 13));
}

static void test_return_approved(void **state) {
    (void)state;
    js_clock_event_t ev[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        ELIM(JS_CLOCK_EXTEND, L(2025, 5, 6, 11, 0, 0), 7, 0), E(JS_CLOCK_PAUSE, L(2025, 5, 7, 12, 0, 0)),
        ELIM(JS_CLOCK_RESET, L(2025, 5, 8, 15, 0, 0), 3, WD), /* approved: new dispatch, new limit */
    };
    js_clock_result_t r = s_eval(ev, 4, L(2025, 5, 8, 16, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 13)); /* 9, 12, 13 */
    s_due_is(r.original_due_ms, EOD(2025, 5, 13));
    assert_int_equal(r.state, JS_CLOCK_RUNNING);
    assert_int_equal(r.received_ms, L(2025, 5, 8, 15, 0, 0));
    assert_int_equal(r.extensions, 0);
    assert_int_equal(r.paused_ms, 0);
    /* A reset may change the unit, and is allowed after a stop. */
    js_clock_event_t st[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        E(JS_CLOCK_STOP, L(2025, 5, 7, 10, 0, 0)),
        ELIM(JS_CLOCK_RESET, L(2025, 5, 8, 10, 0, 0), 24, HR),
    };
    r = s_eval(st, 3, L(2025, 5, 8, 11, 0, 0));
    s_due_is(r.due_ms, L(2025, 5, 9, 10, 0, 0));
}

static void test_extend(void **state) {
    (void)state;
    js_clock_event_t ev[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        ELIM(JS_CLOCK_EXTEND, L(2025, 5, 9, 10, 0, 0), 10, WD),
    };
    js_clock_result_t r = s_eval(ev, 2, L(2025, 5, 9, 11, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 20)); /* 7 8 9 12 13 14 15 16 19 20 */
    s_due_is(r.original_due_ms, EOD(2025, 5, 13));
    assert_int_equal(r.extensions, 1);
    assert_int_equal(r.amount, 10);
    /* To a moment on a Saturday: due then; a later review moves it. */
    js_clock_event_t mo[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        EDUE(L(2025, 5, 9, 10, 0, 0), EOD(2025, 5, 17)),
        E(JS_CLOCK_PAUSE, L(2025, 5, 12, 0, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 5, 12, 12, 0, 0)),
    };
    r = s_eval(mo, 2, L(2025, 5, 9, 11, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 17));
    assert_int_equal(r.limit_ms, 8 * DAYMS); /* 7 8 9 12 13 14 15 16 */
    assert_int_equal(r.amount, 0);
    r = s_eval(mo, 4, L(2025, 5, 12, 13, 0, 0));
    s_due_is(r.due_ms, L(2025, 5, 19, 11, 59, 59));
    s_due_is(r.original_due_ms, L(2025, 5, 14, 11, 59, 59));
    /* An extension must move the due moment later. */
    js_clock_event_t bad[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 5, WD),
        ELIM(JS_CLOCK_EXTEND, L(2025, 5, 9, 10, 0, 0), 5, WD),
    };
    js_clock_result_t rr;
    assert_int_equal(js_clock_eval(s_cal, bad, 2, L(2025, 5, 9, 11, 0, 0), &rr), -EINVAL);
    assert_int_equal(rr.err_event, 1);
    assert_non_null(strstr(rr.err, "later"));
    bad[1] = EDUE(L(2025, 5, 9, 10, 0, 0), EOD(2025, 5, 12));
    assert_int_equal(js_clock_eval(s_cal, bad, 2, L(2025, 5, 9, 11, 0, 0), &rr), -EINVAL);
    /* A moment in 2027 given to a 2026 clock is not provisional: the moment decides, not 2027. */
    js_clock_event_t p27[] = {
        ELIM(JS_CLOCK_START, L(2026, 12, 1, 10, 0, 0), 5, WD),
        EDUE(L(2026, 12, 2, 10, 0, 0), EOD(2027, 1, 8)),
    };
    r = s_eval(p27, 2, L(2026, 12, 3, 0, 0, 0));
    s_due_is(r.due_ms, EOD(2027, 1, 8));
    assert_int_equal(r.provisional, 0);
}

static void test_stop_and_overdue(void **state) {
    (void)state;
    js_clock_event_t ev[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 2, WD),
        E(JS_CLOCK_STOP, L(2025, 5, 8, 12, 0, 0)),
    };
    js_clock_result_t r = s_eval(ev, 2, L(2025, 6, 1, 0, 0, 0));
    assert_int_equal(r.state, JS_CLOCK_STOPPED);
    s_due_is(r.due_ms, EOD(2025, 5, 8));
    assert_int_equal(r.used_ms, 36 * H);
    assert_int_equal(r.overdue, 0);
    ev[1].t_ms = L(2025, 5, 9, 0, 0, 0);
    r = s_eval(ev, 2, L(2025, 6, 1, 0, 0, 0));
    assert_int_equal(r.overdue, 1);
    /* A review that begins once overdue gives nothing back. */
    js_clock_event_t od[] = {
        ELIM(JS_CLOCK_START, L(2025, 5, 6, 10, 0, 0), 2, WD),
        E(JS_CLOCK_PAUSE, L(2025, 5, 9, 10, 0, 0)),
        E(JS_CLOCK_RESUME, L(2025, 5, 12, 10, 0, 0)),
    };
    r = s_eval(od, 3, L(2025, 5, 12, 11, 0, 0));
    s_due_is(r.due_ms, EOD(2025, 5, 8));
    assert_int_equal(r.overdue, 1);
    /* Provisional: a working-day clock that runs into 2027 */
    js_clock_event_t pv[] = {ELIM(JS_CLOCK_START, L(2026, 12, 28, 10, 0, 0), 5, WD)};
    r = s_eval(pv, 1, L(2026, 12, 28, 10, 0, 0));
    assert_int_equal(r.provisional, 1);
    s_due_is(r.due_ms, EOD(2027, 1, 4));
}

static void test_when(void **state) {
    (void)state;
    /* Monday 2025-05-12 10:00, 2 working days: Tue 13, Wed 14. */
    js_clock_event_t ev[] = {ELIM(JS_CLOCK_START, L(2025, 5, 12, 10, 0, 0), 2, WD)};
    int64_t at;
    assert_int_equal(js_clock_when(s_cal, ev, 1, ev[0].t_ms, 0.5, &at), 0);
    assert_int_equal(at, L(2025, 5, 14, 0, 0, 0));
    assert_int_equal(js_clock_when(s_cal, ev, 1, ev[0].t_ms, 0.8, &at), 0);
    assert_int_equal(at, L(2025, 5, 14, 14, 24, 0));
    assert_int_equal(js_clock_when(s_cal, ev, 1, ev[0].t_ms, 1.0, &at), 0);
    assert_int_equal(at, L(2025, 5, 15, 0, 0, 0));
    assert_int_equal(js_clock_when(s_cal, ev, 1, ev[0].t_ms, 0.0, &at), -EINVAL);
    assert_int_equal(js_clock_when(s_cal, ev, 1, ev[0].t_ms, 1.5, &at), -EINVAL);
    js_clock_result_t r = s_eval(ev, 1, L(2025, 5, 13, 12, 0, 0));
    assert_true(r.fraction == 0.25);
}

/* Each list is illegal at event bad; nothing is computed. */
static void s_illegal(const js_clock_event_t *ev, size_t n, int bad, const char *why) {
    js_clock_result_t r;
    memset(&r, 0x5a, sizeof r);
    int rc = js_clock_eval(s_cal, ev, n, INT64_C(4102444800000), &r);
    if (rc >= 0 || r.err_event != bad || !strstr(r.err, why))
        fail_msg("rc %d event %d \"%s\", want event %d \"%s\"", rc, r.err_event, r.err, bad, why);
}

static void test_illegal(void **state) {
    (void)state;
    int64_t t = L(2025, 5, 6, 10, 0, 0);
    js_clock_event_t s = ELIM(JS_CLOCK_START, t, 5, WD);
    js_clock_event_t a[][4] = {
        {s, E(JS_CLOCK_RESUME, t + H)},
        {s, E(JS_CLOCK_PAUSE, t + H), E(JS_CLOCK_PAUSE, t + 2 * H)},
        {s, E(JS_CLOCK_PAUSE, t + H), E(JS_CLOCK_RESUME, t)},
        {s, E(JS_CLOCK_STOP, t + H), E(JS_CLOCK_PAUSE, t + 2 * H)},
        {s, E(JS_CLOCK_STOP, t + H), E(JS_CLOCK_RESUME, t + 2 * H)},
        {s, E(JS_CLOCK_STOP, t + H), E(JS_CLOCK_STOP, t + 2 * H)},
        {s, E(JS_CLOCK_STOP, t + H), ELIM(JS_CLOCK_EXTEND, t + 2 * H, 9, WD)},
        {s, ELIM(JS_CLOCK_START, t + H, 5, WD)},
        {E(JS_CLOCK_PAUSE, t)},
        {ELIM(JS_CLOCK_START, t, 0, WD)},
        {ELIM(JS_CLOCK_START, t, 3651, WD)},
        {ELIM(JS_CLOCK_START, t, 87601, HR)},
        {ELIM(JS_CLOCK_START, t, 5, 7)},
        {s, ELIM(JS_CLOCK_RESET, t + H, -1, WD)},
        {s, ELIM(JS_CLOCK_EXTEND, t + H, 9, HR)},
        {s,
         (js_clock_event_t){.kind = JS_CLOCK_EXTEND, .t_ms = t + H, .amount = 9, .due_ms = t + 30 * DAYMS}},
        {s, E(JS_CLOCK_EXTEND, t + H)},
        {s, E(9, t + H)},
        {s, E(JS_CLOCK_PAUSE, L(2300, 1, 1, 0, 0, 0))},
    };
    int len[] = {2, 3, 3, 3, 3, 3, 3, 2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2};
    int bad[] = {1, 2, 2, 2, 2, 2, 2, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    const char *why[] = {"resume while running",
                         "pause while paused",
                         "earlier",
                         "pause while stopped",
                         "resume while stopped",
                         "stop while stopped",
                         "extend while stopped",
                         "start twice",
                         "pause before start",
                         "bad limit",
                         "bad limit",
                         "bad limit",
                         "bad limit",
                         "bad limit",
                         "unit",
                         "a limit (amount) or a moment",
                         "a limit (amount) or a moment",
                         "unknown kind",
                         "outside"};
    for (size_t i = 0; i < JS_ARRAY_LEN(len); i++)
        s_illegal(a[i], (size_t)len[i], bad[i], why[i]);
    js_clock_result_t r;
    assert_int_equal(js_clock_eval(s_cal, a[0], 0, t, &r), -EINVAL);
    assert_int_equal(js_clock_eval(s_cal, &s, 1, t - 1, &r), -EINVAL);
    assert_non_null(strstr(r.err, "before the clock's start"));
    /* An illegal event after now still fails the whole list. */
    assert_int_equal(js_clock_eval(s_cal, a[0], 2, t, &r), -EINVAL);
    /* Events after now are not applied. */
    js_clock_event_t later[] = {s, E(JS_CLOCK_PAUSE, t + 2 * DAYMS)};
    r = s_eval(later, 2, t + DAYMS);
    assert_int_equal(r.state, JS_CLOCK_RUNNING);
}

/* ---- the property: a plain tick-by-tick model ----------------------------- */

#define M_DAYS (366 * 8)
static struct { int working, published; } s_m[M_DAYS];
static int64_t s_m0; /* 2022-01-01 00:00 local */

static void s_model_build(void) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 2022, m = 1, d = 1, wd = 6; /* a Saturday */
    s_m0 = L(2022, 1, 1, 0, 0, 0);
    json_t *files[6] = {0};
    for (int year = 2023; year <= 2027; year++) {
        char path[64];
        snprintf(path, sizeof path, DIR "/%d.json", year);
        files[year - 2023] = json_load_file(path, 0, NULL);
        assert_non_null(files[year - 2023]);
    }
    for (int i = 0; i < M_DAYS; i++) {
        char date[16];
        snprintf(date, sizeof date, "%04d-%02d-%02d", y, m, d);
        s_m[i].working = wd != 0 && wd != 6;
        for (int f = 0; f < 5; f++) {
            json_t *days = json_object_get(files[f], "days"), *e;
            size_t k;
            json_array_foreach(days, k, e) {
                if (strcmp(json_string_value(json_object_get(e, "date")), date) == 0)
                    s_m[i].working = !json_is_true(json_object_get(e, "isOffDay"));
            }
            if (json_integer_value(json_object_get(files[f], "year")) == y && json_array_size(days) > 0)
                s_m[i].published = 1;
        }
        int len = mdays[m - 1] + (m == 2 && y % 4 == 0);
        wd = (wd + 1) % 7;
        if (++d > len) {
            d = 1;
            if (++m > 12) m = 1, y++;
        }
    }
    for (int f = 0; f < 5; f++)
        json_decref(files[f]);
}

static int64_t G; /* the tick */

static int m_day(int64_t x) {
    return (int)((x - s_m0) / DAYMS);
}
static int64_t m_unit_ms(int unit) {
    return unit == HR ? H : DAYMS;
}

/* The model's clock after events ev[0..k), all at or before now. */
typedef struct mclock {
    int ok, state, unit, amount;
    int64_t recv, p, budget, floor, stop;
    int np;
    int64_t pa[16], pb[16]; /* pauses; the open one ends at now */
} mclock_t;

static int m_paused(const mclock_t *c, int64_t x) {
    for (int i = 0; i < c->np; i++)
        if (x >= c->pa[i] && x < c->pb[i]) return 1;
    return 0;
}
/* Does the tick at x count toward the limit if running? */
static int m_counts(const mclock_t *c, int64_t x) {
    return x >= c->p && (c->unit != WD || s_m[m_day(x)].working);
}
static int64_t m_consumed(const mclock_t *c, int64_t y) {
    int64_t sum = 0;
    for (int64_t x = c->p; x < y; x += G)
        if (!m_paused(c, x) && m_counts(c, x)) sum += G;
    return sum;
}

static int m_valid_limit(int amount, int unit) {
    if (unit == WD || unit == CD) return amount >= 1 && amount <= 3650;
    if (unit == HR) return amount >= 1 && amount <= 87600;
    return 0;
}

static int64_t m_due_raw(const js_clock_event_t *ev, int k, int64_t now, int *prov, int skip_ext);

/* Replay without checks beyond what the model needs; the open pause ends at now. */
static void m_replay(const js_clock_event_t *ev, int k, int64_t now, int skip_ext, mclock_t *c) {
    memset(c, 0, sizeof *c);
    int open = 0;
    for (int i = 0; i < k; i++) {
        const js_clock_event_t *e = &ev[i];
        switch (e->kind) {
        case JS_CLOCK_START:
        case JS_CLOCK_RESET:
            c->state = JS_CLOCK_RUNNING, c->unit = e->unit, c->amount = e->amount, c->recv = e->t_ms;
            c->p = e->unit == HR ? e->t_ms : s_m0 + (m_day(e->t_ms) + 1) * DAYMS;
            c->budget = e->amount * m_unit_ms(e->unit);
            c->floor = INT64_MIN, c->np = 0, open = 0;
            break;
        case JS_CLOCK_PAUSE:
            c->pa[c->np] = e->t_ms, c->pb[c->np++] = now, open = 1, c->state = JS_CLOCK_PAUSED;
            break;
        case JS_CLOCK_RESUME:
        case JS_CLOCK_STOP:
            if (open) c->pb[c->np - 1] = e->t_ms;
            open = 0;
            c->state = e->kind == JS_CLOCK_STOP ? JS_CLOCK_STOPPED : JS_CLOCK_RUNNING;
            c->stop = e->t_ms;
            break;
        case JS_CLOCK_EXTEND:
            if (skip_ext) break;
            if (e->amount > 0) {
                c->amount = e->amount, c->budget = e->amount * m_unit_ms(c->unit), c->floor = INT64_MIN;
            } else {
                int64_t fl = e->due_ms + (c->unit == HR ? 0 : 1000), ahead = 0;
                for (int64_t x = e->t_ms > c->p ? e->t_ms : c->p; x < fl; x += G)
                    if (m_counts(c, x)) ahead += G;
                /* consumption up to the extension, the open pause counted to it */
                mclock_t tmp = *c;
                if (open) tmp.pb[tmp.np - 1] = e->t_ms;
                c->budget = m_consumed(&tmp, e->t_ms) + ahead;
                c->amount = 0, c->floor = fl;
            }
            break;
        }
    }
}

static int64_t m_due_raw(const js_clock_event_t *ev, int k, int64_t now, int *prov, int skip_ext) {
    mclock_t c;
    m_replay(ev, k, now, skip_ext, &c);
    int64_t sum = 0, y = c.p;
    *prov = 0;
    while (sum < c.budget) {
        if (!m_paused(&c, y)) {
            if (c.unit == WD && !s_m[m_day(y)].published) *prov = 1;
            if (m_counts(&c, y)) sum += G;
        }
        y += G;
    }
    if (y <= c.floor) *prov = 0; /* the extension's moment decides */
    return y > c.floor ? y : c.floor;
}

/* The model's whole answer: -1 for an illegal list. */
static int m_eval(const js_clock_event_t *ev, int n, int64_t now, js_clock_result_t *r) {
    int started = 0, state = 0, unit = 0;
    for (int i = 0; i < n; i++) {
        const js_clock_event_t *e = &ev[i];
        if (i > 0 && e->t_ms < ev[i - 1].t_ms) return -1;
        if (!started && e->kind != JS_CLOCK_START) return -1;
        switch (e->kind) {
        case JS_CLOCK_START:
            if (started) return -1;
            /* fallthrough */
        case JS_CLOCK_RESET:
            if (!m_valid_limit(e->amount, e->unit)) return -1;
            started = 1, state = JS_CLOCK_RUNNING, unit = e->unit;
            break;
        case JS_CLOCK_PAUSE:
            if (state != JS_CLOCK_RUNNING) return -1;
            state = JS_CLOCK_PAUSED;
            break;
        case JS_CLOCK_RESUME:
            if (state != JS_CLOCK_PAUSED) return -1;
            state = JS_CLOCK_RUNNING;
            break;
        case JS_CLOCK_STOP:
            if (state == JS_CLOCK_STOPPED) return -1;
            state = JS_CLOCK_STOPPED;
            break;
        case JS_CLOCK_EXTEND: {
            if (state == JS_CLOCK_STOPPED) return -1;
            if (e->amount > 0
                    ? (e->due_ms != 0 || (e->unit && e->unit != unit) || !m_valid_limit(e->amount, unit))
                    : (e->amount < 0 || e->due_ms == 0))
                return -1;
            int p;
            if (m_due_raw(ev, i + 1, e->t_ms, &p, 0) <= m_due_raw(ev, i, e->t_ms, &p, 0)) return -1;
            break;
        }
        default: return -1;
        }
    }
    int k = 0;
    while (k < n && ev[k].t_ms <= now)
        k++;
    if (k == 0) return -1;
    mclock_t c;
    m_replay(ev, k, now, 0, &c);
    int adj = c.unit == HR ? 0 : 1000;
    memset(r, 0, sizeof *r);
    r->state = c.state;
    r->due_ms = m_due_raw(ev, k, now, &r->provisional, 0) - adj;
    r->original_due_ms = m_due_raw(ev, k, now, &r->original_provisional, 1) - adj;
    int64_t upto = c.state == JS_CLOCK_STOPPED ? c.stop : now;
    for (int64_t x = c.p; x < upto; x += G)
        if (!m_paused(&c, x) && m_counts(&c, x)) r->used_ms += G;
    for (int64_t x = c.p; x < now; x += G)
        if (m_paused(&c, x) && m_counts(&c, x)) r->paused_ms += G;
    r->limit_ms = c.budget;
    r->overdue = upto > r->due_ms;
    return 0;
}

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t R(uint64_t n) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng % n;
}

static int s_gen(js_clock_event_t *ev, int64_t *now) {
    int64_t t = L(2023, 1, 1, 0, 0, 0) + (int64_t)R(5 * 365 * DAYMS / G) * G;
    int unit = 1 + (int)R(3), n = 0, state = JS_CLOCK_RUNNING, amount;
    amount = 1 + (int)R(unit == HR ? 200 : 12);
    ev[n++] = ELIM(JS_CLOCK_START, t, amount, unit);
    int more = (int)R(7);
    for (int i = 0; i < more; i++) {
        int64_t gap = R(3) == 0 ? 0 : (int64_t)R(unit == HR ? 72 * H / G : 5 * DAYMS / G) * G;
        if (R(60) == 0) gap = -G; /* out of order */
        t += gap;
        int kind;
        if (R(25) == 0) {
            kind = 1 + (int)R(6); /* anything, legal or not */
        } else if (state == JS_CLOCK_STOPPED) {
            kind = JS_CLOCK_RESET;
        } else {
            static const int run[] = {JS_CLOCK_PAUSE,  JS_CLOCK_PAUSE, JS_CLOCK_EXTEND,
                                      JS_CLOCK_EXTEND, JS_CLOCK_STOP,  JS_CLOCK_RESET};
            kind = state == JS_CLOCK_PAUSED ? (R(4) ? JS_CLOCK_RESUME : run[2 + R(4)]) : run[R(6)];
        }
        js_clock_event_t e = E(kind, t);
        if (kind == JS_CLOCK_START || kind == JS_CLOCK_RESET) {
            unit = 1 + (int)R(3);
            amount = 1 + (int)R(unit == HR ? 200 : 12);
            e = ELIM(kind, t, amount, unit);
        } else if (kind == JS_CLOCK_EXTEND) {
            if (R(2)) {
                e.amount = amount + (int)R(12) - 2;
                e.unit = R(8) == 0 ? 1 + (int)R(3) : 0;
                if (e.amount > amount) amount = e.amount;
            } else {
                e.due_ms = t + (int64_t)R(20 * DAYMS / G) * G - (unit == HR ? 0 : 1000);
                if (e.due_ms == 0) e.due_ms = G;
            }
        }
        ev[n++] = e;
        if (kind == JS_CLOCK_PAUSE) state = JS_CLOCK_PAUSED;
        if (kind == JS_CLOCK_RESUME || kind == JS_CLOCK_START || kind == JS_CLOCK_RESET)
            state = JS_CLOCK_RUNNING;
        if (kind == JS_CLOCK_STOP) state = JS_CLOCK_STOPPED;
    }
    *now = R(5) == 0 ? ev[R((uint64_t)n)].t_ms + (int64_t)R(3) * G - G : t + (int64_t)R(10 * DAYMS / G) * G;
    return n;
}

static void s_dump(const js_clock_event_t *ev, int n, int64_t now) {
    char b[64];
    for (int i = 0; i < n; i++) {
        js_cal_format(ev[i].t_ms, b, sizeof b);
        fprintf(stderr, "  %s %s amount %d unit %d", js_clock_kind_name(ev[i].kind), b, ev[i].amount,
                ev[i].unit);
        if (ev[i].due_ms) js_cal_format(ev[i].due_ms, b, sizeof b), fprintf(stderr, " due %s", b);
        fputc('\n', stderr);
    }
    js_cal_format(now, b, sizeof b);
    fprintf(stderr, "  now %s\n", b);
}

static void s_property(int cases, int64_t tick) {
    G = tick;
    int ok = 0, errs = 0, ext = 0, prov = 0, paused = 0;
    for (int c = 0; c < cases; c++) {
        js_clock_event_t ev[8];
        int64_t now;
        int n = s_gen(ev, &now);
        js_clock_result_t want, got;
        int mrc = m_eval(ev, n, now, &want);
        int rc = js_clock_eval(s_cal, ev, (size_t)n, now, &got);
        if ((mrc < 0) != (rc < 0)) {
            s_dump(ev, n, now);
            fail_msg("case %d: engine %d (%s), model %d", c, rc, rc < 0 ? got.err : "", mrc);
        }
        if (rc < 0) {
            errs++;
            continue;
        }
        ok++;
        ext += got.extensions > 0;
        prov += got.provisional;
        paused += got.paused_ms > 0;
        if (got.due_ms != want.due_ms || got.original_due_ms != want.original_due_ms ||
            got.provisional != want.provisional || got.original_provisional != want.original_provisional ||
            got.used_ms != want.used_ms || got.paused_ms != want.paused_ms || got.state != want.state ||
            got.limit_ms != want.limit_ms || got.overdue != want.overdue) {
            char a[64], b[64], c2[64], d[64];
            js_cal_format(got.due_ms, a, sizeof a);
            js_cal_format(want.due_ms, b, sizeof b);
            js_cal_format(got.original_due_ms, c2, sizeof c2);
            js_cal_format(want.original_due_ms, d, sizeof d);
            s_dump(ev, n, now);
            fail_msg("case %d: engine due %s orig %s prov %d/%d used %lld paused %lld limit %lld state %d "
                     "overdue %d\n"
                     "         model  due %s orig %s prov %d/%d used %lld paused %lld limit %lld state %d "
                     "overdue %d",
                     c, a, c2, got.provisional, got.original_provisional, (long long)got.used_ms,
                     (long long)got.paused_ms, (long long)got.limit_ms, got.state, got.overdue, b, d,
                     want.provisional, want.original_provisional, (long long)want.used_ms,
                     (long long)want.paused_ms, (long long)want.limit_ms, want.state, want.overdue);
        }
    }
    printf("clock property (tick %lld min): %d cases, %d evaluated (%d extended, %d paused, %d provisional), "
           "%d illegal\n",
           (long long)(tick / 60000), cases, ok, ext, paused, prov, errs);
    assert_true(ok > cases / 2 && errs > cases / 50 && ext > cases / 10 && prov > cases / 100);
}

static void test_property(void **state) {
    (void)state;
    s_model_build();
    s_property(100000, H / 2);
    s_property(5000, 60 * 1000); /* minutes: moments off the half-hour grid */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_only),       cmocka_unit_test(test_return_refused),
        cmocka_unit_test(test_return_approved),  cmocka_unit_test(test_extend),
        cmocka_unit_test(test_stop_and_overdue), cmocka_unit_test(test_when),
        cmocka_unit_test(test_illegal),          cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests_name("clock", tests, setup, teardown);
}
