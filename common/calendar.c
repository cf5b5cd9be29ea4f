/* calendar.c -- the official working-day calendar and due arithmetic.
 *
 * One byte per local day from 1 Jan (JS_CAL_YEAR_MIN - 1) to 31 Dec
 * (JS_CAL_YEAR_MAX + 1): what the files say of the day and whether its year is
 * published. Looking a day up is then one load, which the day-by-day walks of
 * the clock engine need (a million timers are recomputed on a reload). */
#include "calendar.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

#define S_OV_NONE   0x0 /* the files say nothing: weekends are off */
#define S_OV_OFF    0x1 /* a listed holiday */
#define S_OV_WORKED 0x2 /* a listed make-up working day */
#define S_OV_MASK   0x3
#define S_UNPUB     0x4 /* the day's year has no published schedule */

#define S_TABLE_Y0 (JS_CAL_YEAR_MIN - 1)
#define S_TABLE_Y1 (JS_CAL_YEAR_MAX + 1)
#define S_NYEARS   (S_TABLE_Y1 - S_TABLE_Y0 + 1)

struct js_cal {
    uint8_t *day; /* indexed by day number - s_day0 */
    size_t ndays;
    uint8_t pub[S_NYEARS]; /* 1: published, by year - S_TABLE_Y0 */
};

/* ---- civil dates ---------------------------------------------------------- */

static int64_t s_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date: count whole 400-year
 * eras from 0000-03-01 so that the leap day is the last of its year. */
static int64_t s_days(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = s_floordiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void s_civil(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = s_floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    if (y) *y = (int)(yoe + era * 400 + (mm <= 2));
    if (m) *m = mm;
    if (d) *d = dd;
}

static int s_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int js_cal_date_valid(int y, int m, int d) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return 0;
    return d <= mdays[m - 1] + (m == 2 && s_leap(y));
}

/* 0 Sunday .. 6 Saturday; day 0 was a Thursday. */
static int s_weekday(int64_t day) {
    return (int)(((day % 7) + 7 + 4) % 7);
}

static int64_t s_day_of(int64_t ms) {
    return s_floordiv(ms + JS_CAL_UTC_OFFSET_MS, JS_CAL_DAY_MS);
}
static int64_t s_day_start(int64_t day) {
    return day * JS_CAL_DAY_MS - JS_CAL_UTC_OFFSET_MS;
}

int64_t js_cal_local_ms(int y, int m, int d, int hh, int mi, int ss) {
    return s_day_start(s_days(y, m, d)) + ((int64_t)hh * 3600 + mi * 60 + ss) * 1000;
}

void js_cal_split(int64_t ms, int *y, int *m, int *d, int *hh, int *mi, int *ss, int *msec) {
    int64_t day = s_day_of(ms);
    int64_t in = ms - s_day_start(day);
    s_civil(day, y, m, d);
    if (hh) *hh = (int)(in / 3600000);
    if (mi) *mi = (int)(in / 60000 % 60);
    if (ss) *ss = (int)(in / 1000 % 60);
    if (msec) *msec = (int)(in % 1000);
}

int js_cal_format(int64_t ms, char *out, size_t cap) {
    int y, m, d, hh, mi, ss, msec, n;
    js_cal_split(ms, &y, &m, &d, &hh, &mi, &ss, &msec);
    if (msec)
        n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+08:00", y, m, d, hh, mi, ss, msec);
    else
        n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, m, d, hh, mi, ss);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* ---- the table ------------------------------------------------------------ */

static int64_t s_day0(void) {
    return s_days(S_TABLE_Y0, 1, 1);
}

js_cal_t *js_cal_new(void) {
    js_cal_t *cal = js_calloc(1, sizeof *cal);
    cal->ndays = (size_t)(s_days(S_TABLE_Y1 + 1, 1, 1) - s_day0());
    cal->day = js_malloc(cal->ndays);
    memset(cal->day, S_UNPUB, cal->ndays);
    return cal;
}

void js_cal_destroy(js_cal_t **cal_p) {
    if (!cal_p || !*cal_p) return;
    free((*cal_p)->day);
    free(*cal_p);
    *cal_p = NULL;
}

static js_cal_t *s_clone(const js_cal_t *src) {
    js_cal_t *cal = js_malloc(sizeof *cal);
    *cal = *src;
    cal->day = js_malloc(src->ndays);
    memcpy(cal->day, src->day, src->ndays);
    return cal;
}

/* Move src's contents into dst and free src. */
static void s_adopt(js_cal_t *dst, js_cal_t *src) {
    free(dst->day);
    *dst = *src;
    free(src);
}

/* The byte of a day, or -ERANGE outside the table. */
static int s_byte(const js_cal_t *cal, int64_t day) {
    int64_t i = day - s_day0();
    if (i < 0 || (size_t)i >= cal->ndays) return -ERANGE;
    return cal->day[i];
}

static int s_working(int64_t day, int b) {
    if ((b & S_OV_MASK) == S_OV_OFF) return 0;
    if ((b & S_OV_MASK) == S_OV_WORKED) return 1;
    int wd = s_weekday(day);
    return wd != 0 && wd != 6;
}

int js_cal_is_working(const js_cal_t *cal, int y, int m, int d) {
    if (!js_cal_date_valid(y, m, d)) return -EINVAL;
    if (y < JS_CAL_YEAR_MIN || y > JS_CAL_YEAR_MAX) return -ERANGE;
    int64_t day = s_days(y, m, d);
    int b = s_byte(cal, day);
    if (b < 0) return b;
    return s_working(day, b);
}

int js_cal_year_published(const js_cal_t *cal, int y) {
    if (y < S_TABLE_Y0 || y > S_TABLE_Y1) return 0;
    return cal->pub[y - S_TABLE_Y0];
}

int js_cal_first_year(const js_cal_t *cal) {
    for (int i = 0; i < S_NYEARS; i++)
        if (cal->pub[i]) return S_TABLE_Y0 + i;
    return 0;
}

int js_cal_last_year(const js_cal_t *cal) {
    for (int i = S_NYEARS - 1; i >= 0; i--)
        if (cal->pub[i]) return S_TABLE_Y0 + i;
    return 0;
}

/* ---- loading -------------------------------------------------------------- */

static int s_err(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Strict YYYY-MM-DD: ten characters, digits where digits go. */
static int s_parse_date(const char *s, int *y, int *m, int *d) {
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
    *y = atoi(s);
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    return 0;
}

/* Load path into cal (a scratch copy: on error the caller drops it).
 * expect_year > 0: the file's "year" must be it. */
static int s_load(js_cal_t *cal, const char *path, int expect_year, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        FILE *f = fopen(path, "rb");
        if (!f) return s_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
        fclose(f);
        return s_err(err, errlen, -EINVAL, "%s:%d:%d: malformed JSON: %s", path, je.line, je.column, je.text);
    }
    int rc = 0;
    json_t *jy = json_object_get(root, "year"), *days = json_object_get(root, "days");
    if (!json_is_object(root)) {
        rc = s_err(err, errlen, -EINVAL, "%s: not a JSON object", path);
        goto out;
    }
    if (!json_is_integer(jy) || json_integer_value(jy) < JS_CAL_YEAR_MIN ||
        json_integer_value(jy) > JS_CAL_YEAR_MAX) {
        rc = s_err(err, errlen, -EINVAL, "%s: \"year\" missing or not a year in %d..%d", path,
                   JS_CAL_YEAR_MIN, JS_CAL_YEAR_MAX);
        goto out;
    }
    int year = (int)json_integer_value(jy);
    if (expect_year > 0 && year != expect_year) {
        rc =
            s_err(err, errlen, -EINVAL, "%s: \"year\" is %d, the file name says %d", path, year, expect_year);
        goto out;
    }
    if (!json_is_array(days)) {
        rc = s_err(err, errlen, -EINVAL, "%s: \"days\" missing or not an array", path);
        goto out;
    }
    /* Which days this file set, so that a repeat inside it is told apart
     * from agreeing with another file. */
    int64_t first = s_days(year - 1, 12, 1), last = s_days(year + 1, 1, 31);
    uint8_t seen[31 + 366 + 31] = {0}; /* last - first + 1 at most */
    size_t i;
    json_t *e;
    json_array_foreach(days, i, e) {
        json_t *jd = json_object_get(e, "date"), *jo = json_object_get(e, "isOffDay"),
               *jn = json_object_get(e, "name");
        const char *ds = json_string_value(jd);
        int y, m, d;
        if (!json_is_object(e) || !ds || !json_is_boolean(jo) || !json_is_string(jn)) {
            rc = s_err(err, errlen, -EINVAL,
                       "%s: days[%zu]: needs \"name\" (string), \"date\" (string), \"isOffDay\" (boolean)",
                       path, i);
            goto out;
        }
        if (s_parse_date(ds, &y, &m, &d) < 0 || !js_cal_date_valid(y, m, d)) {
            rc = s_err(err, errlen, -EINVAL, "%s: days[%zu] (%s): no such date", path, i, ds);
            goto out;
        }
        int64_t day = s_days(y, m, d);
        if (day < first || day > last || (y == year - 1 && m != 12) || (y == year + 1 && m != 1)) {
            rc = s_err(err, errlen, -EINVAL, "%s: days[%zu] (%s): outside the file's year %d", path, i, ds,
                       year);
            goto out;
        }
        int off = json_is_true(jo);
        int wd = s_weekday(day);
        if (!off && wd != 0 && wd != 6) {
            rc = s_err(err, errlen, -EINVAL,
                       "%s: days[%zu] (%s): a make-up working day that is not a weekend day", path, i, ds);
            goto out;
        }
        int val = off ? S_OV_OFF : S_OV_WORKED;
        uint8_t *b = &cal->day[day - s_day0()];
        int have = *b & S_OV_MASK;
        if (have != S_OV_NONE && have != val) {
            rc = s_err(err, errlen, -EINVAL, "%s: days[%zu] (%s): %s, but %s says %s", path, i, ds,
                       off ? "off" : "worked", seen[day - first] ? "this file" : "a file loaded before",
                       off ? "worked" : "off");
            goto out;
        }
        *b = (uint8_t)((*b & ~S_OV_MASK) | val);
        seen[day - first] = 1;
    }
    if (json_array_size(days) > 0) {
        cal->pub[year - S_TABLE_Y0] = 1;
        for (int64_t dd = s_days(year, 1, 1); dd < s_days(year + 1, 1, 1); dd++)
            cal->day[dd - s_day0()] &= (uint8_t)~S_UNPUB;
    }
out:
    json_decref(root);
    return rc;
}

int js_cal_load_file(js_cal_t *cal, const char *path, char *err, size_t errlen) {
    js_cal_t *tmp = s_clone(cal);
    int rc = s_load(tmp, path, 0, err, errlen);
    if (rc < 0) {
        js_cal_destroy(&tmp);
        return rc;
    }
    s_adopt(cal, tmp);
    return 0;
}

static int s_year_name(const char *name) {
    if (strlen(name) != 9 || strcmp(name + 4, ".json") != 0) return 0;
    for (int i = 0; i < 4; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return atoi(name);
}

static int s_cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

int js_cal_load_dir(js_cal_t *cal, const char *dir, char *err, size_t errlen) {
    DIR *dp = opendir(dir);
    if (!dp) return s_err(err, errlen, -errno, "%s: %s", dir, strerror(errno));
    int years[S_NYEARS], n = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        int y = s_year_name(de->d_name);
        if (!y) continue;
        if (y < JS_CAL_YEAR_MIN || y > JS_CAL_YEAR_MAX) {
            closedir(dp);
            return s_err(err, errlen, -EINVAL, "%s/%s: year outside %d..%d", dir, de->d_name, JS_CAL_YEAR_MIN,
                         JS_CAL_YEAR_MAX);
        }
        years[n++] = y;
    }
    closedir(dp);
    qsort(years, (size_t)n, sizeof years[0], s_cmp_int);
    js_cal_t *tmp = s_clone(cal);
    for (int i = 0; i < n && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%04d.json", dir, years[i]);
        rc = s_load(tmp, path, years[i], err, errlen);
    }
    if (rc < 0) {
        js_cal_destroy(&tmp);
        return rc;
    }
    s_adopt(cal, tmp);
    return n;
}

/* ---- working time --------------------------------------------------------- */

int js_cal_working_walk(const js_cal_t *cal, int64_t a_ms, int64_t b_ms, int64_t need_ms, int64_t *at_ms,
                        int64_t *work_ms, int *provisional) {
    if (need_ms < 0) return -EINVAL;
    int64_t cur = a_ms, got = 0;
    while (1) {
        if (need_ms - got == 0) {
            if (at_ms) *at_ms = cur;
            if (work_ms) *work_ms = got;
            return 1;
        }
        if (cur >= b_ms) break;
        int64_t day = s_day_of(cur);
        int b = s_byte(cal, day);
        if (b < 0) return b;
        if ((b & S_UNPUB) && provisional) *provisional = 1;
        int64_t end = s_day_start(day + 1);
        if (end > b_ms) end = b_ms;
        if (s_working(day, b)) {
            int64_t avail = end - cur;
            if (avail >= need_ms - got) {
                cur += need_ms - got;
                got = need_ms;
                continue;
            }
            got += avail;
        }
        cur = end;
    }
    if (at_ms) *at_ms = cur;
    if (work_ms) *work_ms = got;
    return 0;
}

int64_t js_cal_working_ms_between(const js_cal_t *cal, int64_t a_ms, int64_t b_ms) {
    if (b_ms <= a_ms) return 0;
    /* Clamp to the table: outside it count weekdays, as for any unpublished
     * year, without a table byte. */
    int64_t lo = s_day_start(s_day0()), hi = s_day_start(s_day0() + (int64_t)cal->ndays);
    int64_t sum = 0;
    for (int64_t cur = a_ms; cur < b_ms;) {
        int64_t day = s_day_of(cur), end = s_day_start(day + 1);
        if (end > b_ms) end = b_ms;
        int w;
        if (cur >= lo && cur < hi) {
            w = s_working(day, s_byte(cal, day));
        } else {
            int wd = s_weekday(day);
            w = wd != 0 && wd != 6;
        }
        if (w) sum += end - cur;
        cur = end;
    }
    return sum;
}

int js_cal_working_add(const js_cal_t *cal, int64_t from_ms, int64_t work_ms, int64_t *out_ms,
                       int *provisional) {
    int64_t at;
    int rc = js_cal_working_walk(cal, from_ms, INT64_MAX, work_ms, &at, NULL, provisional);
    if (rc < 0) return rc;
    *out_ms = at;
    return 0;
}

/* ---- due ------------------------------------------------------------------ */

int js_cal_limit_ms(int amount, int unit, int64_t *budget_ms) {
    switch (unit) {
    case JS_LIMIT_WORKING_DAYS:
    case JS_LIMIT_CALENDAR_DAYS:
        if (amount <= 0 || amount > JS_CAL_MAX_DAYS) return -EINVAL;
        *budget_ms = amount * JS_CAL_DAY_MS;
        return 0;
    case JS_LIMIT_HOURS:
        if (amount <= 0 || amount > JS_CAL_MAX_HOURS) return -EINVAL;
        *budget_ms = amount * JS_CAL_HOUR_MS;
        return 0;
    default: return -EINVAL;
    }
}

int64_t js_cal_count_start(int64_t received_ms, int unit) {
    if (unit == JS_LIMIT_HOURS) return received_ms;
    return s_day_start(s_day_of(received_ms) + 1);
}

int js_cal_in_range(int64_t ms) {
    int y;
    js_cal_split(ms, &y, NULL, NULL, NULL, NULL, NULL, NULL);
    return y >= JS_CAL_YEAR_MIN && y <= JS_CAL_YEAR_MAX;
}

int js_cal_due(const js_cal_t *cal, int64_t start_ms, int amount, int unit, int64_t *due_ms,
               int *provisional) {
    int64_t budget, end;
    int prov = 0, rc = js_cal_limit_ms(amount, unit, &budget);
    if (rc < 0) return rc;
    if (!js_cal_in_range(start_ms)) return -ERANGE;
    int64_t p = js_cal_count_start(start_ms, unit);
    if (unit == JS_LIMIT_WORKING_DAYS) {
        rc = js_cal_working_add(cal, p, budget, &end, &prov);
        if (rc < 0) return rc;
    } else {
        end = p + budget;
    }
    if (!js_cal_in_range(end - 1)) return -ERANGE;
    *due_ms = unit == JS_LIMIT_HOURS ? end : end - JS_CAL_END_OF_DAY_MS;
    if (provisional) *provisional = prov;
    return 0;
}

int js_cal_reload(js_cal_t **calp, const char *dir, char *err, size_t errlen) {
    js_cal_t *cal = js_cal_new();
    int n = js_cal_load_dir(cal, dir, err, errlen);
    if (n < 0) {
        js_cal_destroy(&cal);
        return n;
    }
    js_cal_destroy(calp);
    *calp = cal;
    return n;
}
