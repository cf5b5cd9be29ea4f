/* test_calendar.c -- the working-day calendar: loading and its errors, the
 * edge cases of the 2023-2027 files, due arithmetic against a plain
 * day-by-day model on 100,000+ random cases, and `jiesuctl calendar`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "calendar.h"
#include "../../tools/jiesuctl/cmd_calendar.h"
#include "jsdefs.h"

#define DIR "config/holidays"

static js_cal_t *s_cal;

static int setup(void **state) {
    (void)state;
    char err[256];
    s_cal = js_cal_new();
    int n = js_cal_load_dir(s_cal, DIR, err, sizeof err);
    if (n != 5) {
        fprintf(stderr, "load_dir: %d %s\n", n, err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    js_cal_destroy(&s_cal);
    js_cal_destroy(&s_cal); /* idempotent */
    return 0;
}

/* Local wall time -> ms, through libc's timegm, not the module's own code. */
static int64_t L(int y, int mo, int d, int h, int mi, int s) {
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000 - 8 * 3600 * 1000LL;
}

static void check_due(int64_t start, int amount, int unit, int64_t want, int want_prov) {
    int64_t due = 0;
    int prov = -1;
    assert_int_equal(js_cal_due(s_cal, start, amount, unit, &due, &prov), 0);
    if (due != want) {
        char a[64], b[64], c[64];
        js_cal_format(start, a, sizeof a);
        js_cal_format(due, b, sizeof b);
        js_cal_format(want, c, sizeof c);
        fail_msg("due(%s, %d, unit %d) = %s, want %s", a, amount, unit, b, c);
    }
    assert_int_equal(prov, want_prov);
}

#define EOD(y, m, d) L(y, m, d, 23, 59, 59)
#define WD           JS_LIMIT_WORKING_DAYS
#define CD           JS_LIMIT_CALENDAR_DAYS
#define HR           JS_LIMIT_HOURS

static void test_published(void **state) {
    (void)state;
    for (int y = 2023; y <= 2026; y++)
        assert_int_equal(js_cal_year_published(s_cal, y), 1);
    assert_int_equal(js_cal_year_published(s_cal, 2027), 0); /* empty "days" */
    assert_int_equal(js_cal_year_published(s_cal, 2022), 0); /* only 2022-12-31, from 2023.json */
    assert_int_equal(js_cal_year_published(s_cal, 2028), 0);
    assert_int_equal(js_cal_first_year(s_cal), 2023);
    assert_int_equal(js_cal_last_year(s_cal), 2026);
}

static void test_is_working(void **state) {
    (void)state;
    assert_int_equal(js_cal_is_working(s_cal, 2025, 9, 28), 1);  /* Sunday, worked */
    assert_int_equal(js_cal_is_working(s_cal, 2025, 10, 11), 1); /* Saturday, worked */
    assert_int_equal(js_cal_is_working(s_cal, 2025, 10, 1), 0);
    assert_int_equal(js_cal_is_working(s_cal, 2025, 10, 8), 0); /* Wednesday, holiday */
    assert_int_equal(js_cal_is_working(s_cal, 2025, 10, 9), 1);
    assert_int_equal(js_cal_is_working(s_cal, 2025, 10, 12), 0); /* plain Sunday */
    assert_int_equal(js_cal_is_working(s_cal, 2022, 12, 31), 0); /* listed in 2023.json */
    assert_int_equal(js_cal_is_working(s_cal, 2023, 1, 2), 0);   /* Monday, holiday */
    assert_int_equal(js_cal_is_working(s_cal, 2024, 2, 4), 1);   /* Sunday before Spring Festival */
    assert_int_equal(js_cal_is_working(s_cal, 2026, 1, 4), 1);   /* Sunday after New Year */
    assert_int_equal(js_cal_is_working(s_cal, 2027, 1, 1), 1);   /* a Friday: weekends only */
    assert_int_equal(js_cal_is_working(s_cal, 2027, 1, 2), 0);
    assert_int_equal(js_cal_is_working(s_cal, 2024, 2, 29), 1);
    assert_int_equal(js_cal_is_working(s_cal, 2025, 2, 29), -EINVAL);
    assert_int_equal(js_cal_is_working(s_cal, 2025, 4, 31), -EINVAL);
    assert_int_equal(js_cal_is_working(s_cal, 2025, 13, 1), -EINVAL);
    assert_int_equal(js_cal_is_working(s_cal, 2025, 0, 1), -EINVAL);
    assert_int_equal(js_cal_is_working(s_cal, 1900, 2, 29), -EINVAL); /* not a leap year */
    assert_int_equal(js_cal_is_working(s_cal, 2300, 1, 1), -ERANGE);
}

/* Each expectation read off the JSON files by hand (comments say how). */
static void test_due_edges(void **state) {
    (void)state;
    /* Spring Festival 2024: off 02-10..02-17, worked Sun 02-04 and Sun 02-18. */
    check_due(L(2024, 2, 8, 9, 0, 0), 3, WD, EOD(2024, 2, 19), 0); /* Fri 9, Sun 18, Mon 19 */
    check_due(L(2024, 2, 3, 15, 0, 0), 1, WD, EOD(2024, 2, 4), 0); /* received Sat, Sun worked */
    check_due(L(2024, 2, 9, 23, 59, 59), 1, WD, EOD(2024, 2, 18), 0);
    /* Spring Festival 2025: off 01-28..02-04, worked Sun 01-26 and Sat 02-08. */
    check_due(L(2025, 1, 24, 10, 0, 0), 1, WD, EOD(2025, 1, 26), 0);
    check_due(L(2025, 1, 27, 10, 0, 0), 2, WD, EOD(2025, 2, 6), 0);
    check_due(L(2025, 1, 29, 10, 0, 0), 3, WD, EOD(2025, 2, 7), 0);  /* received on a holiday */
    check_due(L(2025, 1, 29, 10, 0, 0), 5, WD, EOD(2025, 2, 10), 0); /* 5,6,7, Sat 8, Mon 10 */
    check_due(L(2025, 2, 8, 10, 0, 0), 1, WD, EOD(2025, 2, 10), 0);  /* received on a worked Sat */
    /* Spring Festival 2026: off 02-15..02-23, worked Sat 02-14 and Sat 02-28. */
    check_due(L(2026, 2, 12, 10, 0, 0), 2, WD, EOD(2026, 2, 14), 0);
    check_due(L(2026, 2, 12, 10, 0, 0), 3, WD, EOD(2026, 2, 24), 0);
    check_due(L(2026, 2, 26, 10, 0, 0), 2, WD, EOD(2026, 2, 28), 0); /* Fri 27, Sat 28 */
    /* National Day 2025: worked Sun 09-28, off 10-01..10-08, worked Sat 10-11. */
    check_due(L(2025, 9, 26, 18, 0, 0), 1, WD, EOD(2025, 9, 28), 0);
    check_due(L(2025, 9, 30, 10, 0, 0), 5, WD, EOD(2025, 10, 14), 0); /* 9, 10, Sat 11, 13, 14 */
    check_due(L(2025, 10, 10, 0, 0, 0), 1, WD, EOD(2025, 10, 11), 0);
    check_due(L(2025, 10, 11, 8, 0, 0), 1, WD, EOD(2025, 10, 13), 0); /* received on a worked Sat */
    check_due(L(2025, 10, 3, 8, 0, 0), 1, WD, EOD(2025, 10, 9), 0);
    /* National Day 2024: worked Sun 09-29, off 10-01..07, worked Sat 10-12. */
    check_due(L(2024, 9, 27, 8, 0, 0), 2, WD, EOD(2024, 9, 30), 0); /* Sun 29, Mon 30 */
    check_due(L(2024, 9, 30, 8, 0, 0), 2, WD, EOD(2024, 10, 9), 0);
    check_due(L(2024, 10, 11, 8, 0, 0), 1, WD, EOD(2024, 10, 12), 0);
    /* New Year across the year boundary. */
    check_due(L(2025, 12, 31, 10, 0, 0), 1, WD, EOD(2026, 1, 4), 0); /* off 1-3, Sun 4 worked */
    check_due(L(2023, 12, 29, 10, 0, 0), 1, WD, EOD(2024, 1, 2), 0);
    check_due(L(2024, 12, 31, 10, 0, 0), 1, WD, EOD(2025, 1, 2), 0);
    /* 2022-12-31 is a holiday listed in 2023.json, but 2022 is not published. */
    check_due(L(2022, 12, 30, 10, 0, 0), 1, WD, EOD(2023, 1, 3), 1);
    /* Into 2027, not published: weekends only, provisional. */
    check_due(L(2026, 12, 30, 10, 0, 0), 1, WD, EOD(2026, 12, 31), 0);
    check_due(L(2026, 12, 31, 10, 0, 0), 1, WD, EOD(2027, 1, 1), 1);
    check_due(L(2026, 12, 25, 10, 0, 0), 5, WD, EOD(2027, 1, 1), 1);
    check_due(L(2027, 3, 5, 10, 0, 0), 1, WD, EOD(2027, 3, 8), 1);
    /* Calendar days and hours never consult the calendar. */
    check_due(L(2025, 9, 30, 10, 0, 0), 3, CD, EOD(2025, 10, 3), 0);
    check_due(L(2026, 12, 31, 0, 0, 0), 1, CD, EOD(2027, 1, 1), 0);
    check_due(L(2025, 10, 1, 10, 30, 0), 24, HR, L(2025, 10, 2, 10, 30, 0), 0);
    check_due(L(2026, 12, 31, 20, 0, 0), 8, HR, L(2027, 1, 1, 4, 0, 0), 0);
    check_due(L(2025, 10, 1, 10, 30, 0) + 123, 1, HR, L(2025, 10, 1, 11, 30, 0) + 123, 0);
    /* A receipt at 23:59:59.999 is still the receipt day; at 00:00 the next. */
    check_due(L(2025, 10, 9, 0, 0, 0) - 1, 1, WD, EOD(2025, 10, 9), 0);
    check_due(L(2025, 10, 9, 0, 0, 0), 1, WD, EOD(2025, 10, 10), 0);
}

static void test_due_errors(void **state) {
    (void)state;
    int64_t due = 42, t = L(2025, 5, 6, 10, 0, 0);
    int prov = 0;
    assert_int_equal(js_cal_due(s_cal, t, 0, WD, &due, &prov), -EINVAL);
    assert_int_equal(js_cal_due(s_cal, t, -3, WD, &due, &prov), -EINVAL);
    assert_int_equal(js_cal_due(s_cal, t, JS_CAL_MAX_DAYS + 1, WD, &due, &prov), -EINVAL);
    assert_int_equal(js_cal_due(s_cal, t, JS_CAL_MAX_DAYS + 1, CD, &due, &prov), -EINVAL);
    assert_int_equal(js_cal_due(s_cal, t, JS_CAL_MAX_HOURS + 1, HR, &due, &prov), -EINVAL);
    assert_int_equal(js_cal_due(s_cal, t, 1, 0, &due, &prov), -EINVAL);
    assert_int_equal(js_cal_due(s_cal, t, 1, 4, &due, &prov), -EINVAL);
    assert_int_equal(js_cal_due(s_cal, L(2300, 1, 1, 0, 0, 0), 1, WD, &due, &prov), -ERANGE);
    assert_int_equal(js_cal_due(s_cal, L(2199, 12, 30, 0, 0, 0), 10, CD, &due, &prov), -ERANGE);
    assert_int_equal(due, 42); /* untouched */
    assert_int_equal(js_cal_due(s_cal, t, JS_CAL_MAX_DAYS, WD, &due, &prov), 0);
    assert_int_equal(prov, 1);
    assert_int_equal(js_cal_due(s_cal, t, JS_CAL_MAX_HOURS, HR, &due, NULL), 0);
    assert_int_equal(due, t + JS_CAL_MAX_HOURS * 3600000LL);
}

static void test_working_time(void **state) {
    (void)state;
    /* Fri 2025-05-09 12:00 to Mon 05-12 12:00: Friday afternoon + Monday morning. */
    assert_int_equal(js_cal_working_ms_between(s_cal, L(2025, 5, 9, 12, 0, 0), L(2025, 5, 12, 12, 0, 0)),
                     24 * 3600000LL);
    assert_int_equal(js_cal_working_ms_between(s_cal, L(2025, 10, 1, 0, 0, 0), L(2025, 10, 9, 0, 0, 0)), 0);
    assert_int_equal(js_cal_working_ms_between(s_cal, L(2025, 10, 1, 0, 0, 0), L(2025, 10, 12, 0, 0, 0)),
                     3 * 86400000LL); /* 9, 10, Sat 11 */
    assert_int_equal(js_cal_working_ms_between(s_cal, L(2025, 10, 12, 0, 0, 0), L(2025, 10, 1, 0, 0, 0)), 0);
    int64_t out;
    int prov = 0;
    assert_int_equal(js_cal_working_add(s_cal, L(2025, 9, 30, 18, 0, 0), 6 * 3600000LL, &out, &prov), 0);
    assert_int_equal(out, L(2025, 10, 1, 0, 0, 0)); /* 6 h left of Sep 30: ends at its 24:00 */
    assert_int_equal(js_cal_working_add(s_cal, L(2025, 9, 30, 18, 0, 0), 7 * 3600000LL, &out, &prov), 0);
    assert_int_equal(out, L(2025, 10, 9, 1, 0, 0));
    assert_int_equal(js_cal_working_add(s_cal, L(2025, 10, 4, 9, 0, 0), 0, &out, &prov), 0);
    assert_int_equal(out, L(2025, 10, 4, 9, 0, 0));
    assert_int_equal(js_cal_working_add(s_cal, L(2025, 10, 4, 9, 0, 0), -1, &out, &prov), -EINVAL);
    assert_int_equal(prov, 0);
}

/* ---- loading errors ------------------------------------------------------- */

static char s_tmp[64];

static void s_write(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", s_tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void s_rm(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", s_tmp, name);
    unlink(path);
}

/* Loading name into a calendar holding 2025 must fail with a message holding
 * want, and leave the calendar as it was. */
static void s_bad(const char *name, const char *text, const char *want) {
    char path[128], err[256] = "";
    js_cal_t *cal = js_cal_new();
    assert_int_equal(js_cal_load_file(cal, DIR "/2025.json", err, sizeof err), 0);
    s_write(name, text);
    snprintf(path, sizeof path, "%s/%s", s_tmp, name);
    int rc = js_cal_load_file(cal, path, err, sizeof err);
    if (rc >= 0 || !strstr(err, want) || !strstr(err, name))
        fail_msg("load %s: rc %d, err \"%s\", want \"%s\"", name, rc, err, want);
    /* unchanged: 2025 as loaded, the other file's year not published */
    assert_int_equal(js_cal_is_working(cal, 2025, 10, 11), 1);
    assert_int_equal(js_cal_is_working(cal, 2025, 10, 1), 0);
    assert_int_equal(js_cal_year_published(cal, 2024), 0);
    assert_int_equal(js_cal_is_working(cal, 2024, 2, 12), 1); /* the holiday below was not applied */
    js_cal_destroy(&cal);
    assert_null(cal);
    s_rm(name);
}

#define DAY(d, off)   "{\"name\":\"x\",\"date\":\"" d "\",\"isOffDay\":" off "}"
#define YEAR(y, days) "{\"year\":" #y ",\"days\":[" days "]}"

static void test_load_errors(void **state) {
    (void)state;
    strcpy(s_tmp, "/tmp/test_calendar.XXXXXX");
    assert_non_null(mkdtemp(s_tmp));
    s_bad("a.json", YEAR(2024, DAY("2024-02-12", "true") "," DAY("2024-02-30", "true")),
          "days[1] (2024-02-30): no such date");
    s_bad("b.json", YEAR(2024, DAY("2024-02-12", "true") "," DAY("2024-13-01", "true")), "no such date");
    s_bad("c.json", YEAR(2024, DAY("2024-02-12", "true") "," DAY("2024/03/01", "true")), "no such date");
    s_bad("d.json",
          YEAR(2024, DAY("2024-02-12", "true") "," DAY("2024-06-01", "true") "," DAY("2022-06-01", "true")),
          "days[2] (2022-06-01): outside the file's year 2024");
    s_bad("e.json", YEAR(2024, DAY("2024-02-12", "true") "," DAY("2025-03-01", "true")),
          "outside the file's year");
    s_bad("f.json", YEAR(2024, DAY("2024-02-12", "true") "," DAY("2024-02-12", "false")),
          "days[1] (2024-02-12)");
    s_bad("g.json", YEAR(2024, DAY("2024-02-12", "true") "," DAY("2025-01-01", "false")),
          "days[1] (2025-01-01)");
    s_bad("h.json", YEAR(2024, DAY("2024-02-12", "true") "," DAY("2024-02-13", "false")),
          "not a weekend day");
    s_bad("i.json",
          YEAR(2024, DAY("2024-02-12", "true") ",{\"date\":\"2024-02-13\",\"isOffDay\":1,\"name\":\"x\"}"),
          "days[1]");
    s_bad("j.json", YEAR(2024, DAY("2024-02-12", "true") ",{\"date\":\"2024-02-13\",\"isOffDay\":true}"),
          "days[1]");
    s_bad("k.json", "{\"year\":2024,\"days\":[" DAY("2024-02-12", "true") ",]", "malformed JSON");
    s_bad("l.json", "", "malformed JSON");
    s_bad("m.json", "{\"year\":\"2024\",\"days\":[]}", "\"year\"");
    s_bad("n.json", "{\"year\":2024,\"days\":{}}", "\"days\"");
    s_bad("o.json", "{\"year\":2024,\"year\":2024,\"days\":[]}", "malformed JSON"); /* duplicate key */
    s_bad("p.json", "[1,2]", "not a JSON object");
    /* A New Year holiday spilling into the year before is accepted... */
    char err[256];
    js_cal_t *cal = js_cal_new();
    s_write("ny.json", YEAR(2024, DAY("2023-12-31", "true")));
    char path[128];
    snprintf(path, sizeof path, "%s/ny.json", s_tmp);
    assert_int_equal(js_cal_load_file(cal, path, err, sizeof err), 0);
    assert_int_equal(js_cal_load_file(cal, path, err, sizeof err), 0); /* twice: harmless */
    /* ...and agrees with the same date in 2023.json, a repeat with the same value. */
    assert_int_equal(js_cal_load_file(cal, DIR "/2023.json", err, sizeof err), 0);
    js_cal_destroy(&cal);
    s_rm("ny.json");
    /* A missing file. */
    cal = js_cal_new();
    assert_int_equal(js_cal_load_file(cal, "/nonexistent/2025.json", err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/2025.json"));
    /* load_dir: all or nothing, and the name's year must be the file's. */
    s_write("2024.json", YEAR(2024, DAY("2024-02-12", "true")));
    s_write("2025.json", YEAR(2025, DAY("2025-02-30", "true")));
    s_write("notes.json", "not json");
    assert_int_equal(js_cal_load_dir(cal, s_tmp, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "2025.json: days[0] (2025-02-30): no such date"));
    assert_int_equal(js_cal_year_published(cal, 2024), 0);
    assert_int_equal(js_cal_is_working(cal, 2024, 2, 12), 1);
    s_write("2025.json", YEAR(2024, DAY("2024-02-13", "true")));
    assert_int_equal(js_cal_load_dir(cal, s_tmp, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "the file name says 2025"));
    s_write("2025.json", YEAR(2025, DAY("2025-02-12", "true")));
    assert_int_equal(js_cal_load_dir(cal, s_tmp, err, sizeof err), 2);
    assert_int_equal(js_cal_is_working(cal, 2024, 2, 12), 0);
    assert_int_equal(js_cal_year_published(cal, 2025), 1);
    /* A different value for a loaded date: an overlapping file. */
    s_write("2025.json", YEAR(2025, DAY("2025-02-12", "true") "," DAY("2024-12-29", "false")));
    s_write("2024.json", YEAR(2024, DAY("2024-12-29", "true")));
    js_cal_t *c2 = js_cal_new();
    assert_int_equal(js_cal_load_dir(c2, s_tmp, err, sizeof err), -EINVAL);
    assert_non_null(
        strstr(err, "2025.json: days[1] (2024-12-29): worked, but a file loaded before says off"));
    assert_int_equal(js_cal_load_dir(c2, "/nonexistent", err, sizeof err), -ENOENT);
    js_cal_destroy(&c2);
    js_cal_destroy(&cal);
    s_rm("2024.json");
    s_rm("2025.json");
    s_rm("notes.json");
    assert_int_equal(rmdir(s_tmp), 0);
}

/* ---- the property: js_cal_due against a day-by-day model ------------------ */

/* The model's own calendar: the JSON read plainly, weekdays by counting. */
#define M_FIRST_Y 2022
#define M_DAYS    (366 * 16)
static struct {
    int y, m, d;
    int working, published;
} s_m[M_DAYS];
static int64_t s_m0; /* ms of 2022-01-01 00:00 local */

static void s_model_build(void) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = M_FIRST_Y, m = 1, d = 1, wd = 6; /* 2022-01-01 was a Saturday */
    s_m0 = L(2022, 1, 1, 0, 0, 0);
    for (int i = 0; i < M_DAYS; i++) {
        s_m[i].y = y, s_m[i].m = m, s_m[i].d = d;
        s_m[i].working = wd != 0 && wd != 6;
        int len = mdays[m - 1] + (m == 2 && y % 4 == 0);
        wd = (wd + 1) % 7;
        if (++d > len) {
            d = 1;
            if (++m > 12) m = 1, y++;
        }
    }
    for (int year = 2023; year <= 2027; year++) {
        char path[64];
        snprintf(path, sizeof path, DIR "/%d.json", year);
        json_t *root = json_load_file(path, 0, NULL);
        assert_non_null(root);
        json_t *days = json_object_get(root, "days"), *e;
        size_t k;
        json_array_foreach(days, k, e) {
            int yy, mm, dd;
            sscanf(json_string_value(json_object_get(e, "date")), "%d-%d-%d", &yy, &mm, &dd);
            for (int i = 0; i < M_DAYS; i++)
                if (s_m[i].y == yy && s_m[i].m == mm && s_m[i].d == dd)
                    s_m[i].working = !json_is_true(json_object_get(e, "isOffDay"));
        }
        if (json_array_size(days) > 0)
            for (int i = 0; i < M_DAYS; i++)
                if (s_m[i].y == year) s_m[i].published = 1;
        json_decref(root);
    }
}

static uint64_t s_rng = 88172645463325252ULL;
static uint64_t s_rand(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static void test_due_property(void **state) {
    (void)state;
    s_model_build();
    int64_t span = L(2028, 1, 1, 0, 0, 0) - L(2023, 1, 1, 0, 0, 0);
    int cases = 0, provs = 0;
    for (; cases < 120000; cases++) {
        int64_t start = L(2023, 1, 1, 0, 0, 0) + (int64_t)(s_rand() % (uint64_t)span);
        if (s_rand() % 4 == 0) start -= start % 60000; /* some on whole minutes and midnights */
        if (s_rand() % 8 == 0) start -= (start + 8 * 3600000LL) % 86400000;
        int unit = 1 + (int)(s_rand() % 3);
        int amount = 1 + (int)(s_rand() % (unit == HR ? 2000 : s_rand() % 10 == 0 ? 400 : 30));
        int64_t want;
        int want_prov = 0;
        int day = (int)((start - s_m0) / 86400000);
        if (unit == HR) {
            want = start + amount * 3600000LL;
        } else if (unit == CD) {
            want = s_m0 + (int64_t)(day + amount + 1) * 86400000 - 1000;
        } else {
            int i = day, n = 0;
            while (n < amount) {
                i++;
                if (!s_m[i].published) want_prov = 1;
                n += s_m[i].working;
            }
            want = s_m0 + (int64_t)(i + 1) * 86400000 - 1000;
        }
        int64_t got;
        int prov = -1;
        assert_int_equal(js_cal_due(s_cal, start, amount, unit, &got, &prov), 0);
        if (got != want || prov != want_prov) {
            char a[64], b[64], c[64];
            js_cal_format(start, a, sizeof a);
            js_cal_format(got, b, sizeof b);
            js_cal_format(want, c, sizeof c);
            fail_msg("case %d: due(%s, %d, unit %d) = %s prov %d, model %s prov %d", cases, a, amount, unit,
                     b, prov, c, want_prov);
        }
        provs += prov;
        /* working time across the same span, against the model */
        if (unit == WD && cases % 4 == 0) {
            int64_t b2 = start + (int64_t)(s_rand() % (40 * 86400000ULL)), sum = 0;
            for (int i = day; s_m0 + (int64_t)i * 86400000 < b2; i++) {
                int64_t lo = s_m0 + (int64_t)i * 86400000, hi = lo + 86400000;
                if (lo < start) lo = start;
                if (hi > b2) hi = b2;
                if (s_m[i].working && hi > lo) sum += hi - lo;
            }
            assert_int_equal(js_cal_working_ms_between(s_cal, start, b2), sum);
        }
    }
    assert_true(provs > 1000); /* the 2027 part was exercised */
    printf("due property: %d cases, %d provisional\n", cases, provs);
}

/* ---- jiesuctl calendar ---------------------------------------------------- */

static int s_cmd(const char *dir, char **out, char **err, int argc, ...) {
    char *argv[8];
    size_t no, ne;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    FILE *fo = open_memstream(out, &no), *fe = open_memstream(err, &ne);
    int rc = cmd_calendar_io(argc, argv, dir, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

static void s_cmd_ok(const char *want, int argc, ...) {
    char *argv[8], *out = NULL, *err = NULL;
    size_t no, ne;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    FILE *fo = open_memstream(&out, &no), *fe = open_memstream(&err, &ne);
    int rc = cmd_calendar_io(argc, argv, DIR, fo, fe);
    fclose(fo);
    fclose(fe);
    if (rc != 0 || strcmp(out, want) != 0)
        fail_msg("calendar %s %s: rc %d out \"%s\" err \"%s\"", argv[1], argc > 2 ? argv[2] : "", rc, out,
                 err);
    free(out);
    free(err);
}

static void s_cmd_bad(const char *dir, const char *want, int argc, char *a1, char *a2, char *a3) {
    char *out = NULL, *err = NULL;
    int rc = s_cmd(dir, &out, &err, argc, "calendar", a1, a2, a3);
    if (rc != 1 || out[0] != '\0' || !strstr(err, want) || strchr(err, '\n') != err + strlen(err) - 1)
        fail_msg("calendar %s %s: rc %d out \"%s\" err \"%s\", want \"%s\"", a1, a2 ? a2 : "", rc, out, err,
                 want);
    free(out);
    free(err);
}

static void test_cmd(void **state) {
    (void)state;
    s_cmd_ok("2025-10-11T23:59:59+08:00\n", 4, "calendar", "due", "2025-10-10", "1wd");
    s_cmd_ok("2025-10-14T23:59:59+08:00\n", 4, "calendar", "due", "2025-09-30T17:45", "5wd");
    s_cmd_ok("2027-01-01T23:59:59+08:00 provisional\n", 4, "calendar", "due", "2026-12-31", "1wd");
    s_cmd_ok("2027-01-01T04:00:00+08:00\n", 4, "calendar", "due", "2026-12-31T20:00:00", "8h");
    s_cmd_ok("2025-10-03T23:59:59+08:00\n", 4, "calendar", "due", "2025-09-30T10:00:00+08:00", "3d");
    /* 20:00Z on Friday is 04:00 Saturday in Beijing: the receipt day is the worked Saturday. */
    s_cmd_ok("2025-10-13T23:59:59+08:00\n", 4, "calendar", "due", "2025-10-10T20:00:00Z", "1wd");
    s_cmd_ok("2025-10-10T16:30:00.500+08:00\n", 4, "calendar", "due", "2025-10-10T06:30:00.5+00:00", "2h");
    s_cmd_ok("2025-10-10T16:30:00+08:00\n", 4, "calendar", "due", "2025-10-10T01:30:00-0500", "2h");
    s_cmd_ok("yes\n", 3, "calendar", "is-working", "2025-10-11");
    s_cmd_ok("no\n", 3, "calendar", "is-working", "2025-10-01");
    s_cmd_ok("yes\n", 3, "calendar", "is-working", "2025-09-28");
    s_cmd_ok("no\n", 3, "calendar", "is-working", "2027-01-02");
    char *out = NULL, *err = NULL;
    assert_int_equal(s_cmd(DIR, &out, &err, 2, "calendar", "--help"), 0);
    assert_non_null(strstr(out, "calendar due START"));
    free(out);
    free(err);
    s_cmd_bad(DIR, "is not an ISO-8601", 4, "due", "2025-02-30", "1wd");
    s_cmd_bad(DIR, "is not an ISO-8601", 4, "due", "2025-02-03T25:00", "1wd");
    s_cmd_bad(DIR, "is not an ISO-8601", 4, "due", "2025-02-03T10:00+08", "1wd");
    s_cmd_bad(DIR, "is not an ISO-8601", 4, "due", "yesterday", "1wd");
    s_cmd_bad(DIR, "must be 1..3650 days", 4, "due", "2025-02-03", "0wd");
    s_cmd_bad(DIR, "must be 1..3650 days", 4, "due", "2025-02-03", "-2d");
    s_cmd_bad(DIR, "must be 1..87600 hours", 4, "due", "2025-02-03", "99999h");
    s_cmd_bad(DIR, "not N followed by", 4, "due", "2025-02-03", "5");
    s_cmd_bad(DIR, "not N followed by", 4, "due", "2025-02-03", "5w");
    s_cmd_bad(DIR, "outside the years", 4, "due", "2400-02-03", "5wd");
    s_cmd_bad(DIR, "does not exist", 3, "is-working", "2025-02-29", NULL);
    s_cmd_bad(DIR, "not a date", 3, "is-working", "2025-2-1", NULL);
    s_cmd_bad(DIR, "wrong number of arguments", 3, "due", "2025-02-01", NULL);
    s_cmd_bad(DIR, "expected due or is-working", 3, "when", "2025-02-01", NULL);
    s_cmd_bad("/nonexistent", "/nonexistent", 3, "is-working", "2025-02-01", NULL);
}

static void test_format(void **state) {
    (void)state;
    char buf[40];
    assert_int_equal(js_cal_format(L(2025, 10, 11, 23, 59, 59), buf, sizeof buf), 25);
    assert_string_equal(buf, "2025-10-11T23:59:59+08:00");
    assert_int_equal(js_cal_format(L(2025, 10, 11, 23, 59, 59), buf, 10), -ENOSPC);
    int64_t ms;
    assert_int_equal(cmd_calendar_parse_time("2024-02-29", &ms), 0);
    assert_int_equal(ms, L(2024, 2, 29, 0, 0, 0));
    assert_int_equal(js_cal_local_ms(2024, 2, 29, 0, 0, 0), ms);
    int y, m, d, hh, mi, ss, msec;
    js_cal_split(ms - 1, &y, &m, &d, &hh, &mi, &ss, &msec);
    assert_true(y == 2024 && m == 2 && d == 28 && hh == 23 && mi == 59 && ss == 59 && msec == 999);
    js_cal_split(L(1970, 1, 1, 0, 0, 0) - 1, &y, &m, &d, NULL, NULL, NULL, NULL);
    assert_true(y == 1969 && m == 12 && d == 31);
}

/* js_cal_reload swaps in a new calendar only when the whole directory loads. */
static void test_reload_swaps_only_on_success(void **state) {
    (void)state;
    js_cal_t *cal = js_cal_new(), *before;
    char err[256];
    assert_true(js_cal_reload(&cal, "config/holidays", err, sizeof err) > 0);
    before = cal;
    assert_true(js_cal_reload(&cal, "/nonexistent/holidays", err, sizeof err) < 0);
    assert_ptr_equal(cal, before); /* refused: the calendar in use stays */
    assert_int_equal(js_cal_is_working(cal, 2025, 10, 11), 1); /* a worked Saturday */
    js_cal_destroy(&cal);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_swaps_only_on_success),
        cmocka_unit_test(test_published),    cmocka_unit_test(test_is_working),
        cmocka_unit_test(test_due_edges),    cmocka_unit_test(test_due_errors),
        cmocka_unit_test(test_working_time), cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_due_property), cmocka_unit_test(test_cmd),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests_name("calendar", tests, setup, teardown);
}
