/* calendar.h -- China's official working-day calendar and due arithmetic.
 *
 * A pure module: no clock, no I/O except loading the holiday files, no TZ.
 * Times are ms since the epoch (UTC); days are local to Asia/Shanghai, a fixed
 * UTC+8 with no daylight saving since 1991, so the offset is a constant and the
 * process's TZ never matters.
 *
 * A day is a working day when the calendar says so: a listed holiday
 * (isOffDay true) is off, a listed make-up day (调休, isOffDay false) is worked,
 * any other day is worked Monday to Friday. The lists are the holiday-cn JSON
 * files, one a year: {"year": Y, "days": [{"name", "date", "isOffDay"}, ...]}.
 *
 * A year is *published* when a file for it with a non-empty "days" list has
 * been loaded. Any other year (an empty file such as 2027 today, a year after
 * the last file or before the first one) counts weekends only, and a result
 * that consulted one of its days is *provisional*: it may change when that
 * year's file is loaded. Years before the first file are treated the same
 * way, not refused, so an old order can still be evaluated and says it is
 * unsure (docs/CALENDAR.md).
 *
 * Due rule (docs/CALENDAR.md has the model and examples). The day of receipt
 * never counts:
 *   N working days  -> 23:59:59.000 local of the Nth working day after the
 *                      receipt day;
 *   N calendar days -> 23:59:59.000 local of the Nth day after it;
 *   N hours         -> start + N h exactly (24-hour clocks: utilities, urgent).
 * A moment at or before the due moment is on time.
 *
 * Working time: every working day counts whole, 00:00-24:00 local; nothing
 * else counts. Pauses of a working-day clock are measured in it (clock.h).
 *
 * Ownership: a js_cal_t is owned by its creator; the const functions only read
 * it, so one loaded calendar may be shared by threads that do not load into it.
 * To reload, build a new calendar and swap pointers. */
#ifndef JS_CALENDAR_H
#define JS_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

/* Units of a limit: the values of jiesu.v1.LimitUnit. */
#define JS_LIMIT_WORKING_DAYS  1 /* working days; the receipt day does not count */
#define JS_LIMIT_CALENDAR_DAYS 2 /* calendar days; the receipt day does not count */
#define JS_LIMIT_HOURS         3 /* hours on the clock, day and night */

#define JS_CAL_MAX_DAYS      3650                /* largest limit in (working or calendar) days */
#define JS_CAL_MAX_HOURS     87600               /* largest limit in hours */
#define JS_CAL_YEAR_MIN      1970                /* first year the arithmetic accepts */
#define JS_CAL_YEAR_MAX      2199                /* last year the arithmetic may run into */
#define JS_CAL_UTC_OFFSET_MS (8 * 3600 * 1000LL) /* Asia/Shanghai: UTC+8, no DST */
#define JS_CAL_DAY_MS        (86400 * 1000LL)
#define JS_CAL_HOUR_MS       (3600 * 1000LL)
#define JS_CAL_END_OF_DAY_MS 1000 /* day limits end this long before midnight (23:59:59.000) */

typedef struct js_cal js_cal_t;

/* Prototypes */
js_cal_t *js_cal_new(void);
void js_cal_destroy(js_cal_t **cal_p); /* idempotent; sets *cal_p = NULL */

/* Load one holiday-cn file. On any error the calendar is unchanged, the
 * return is negative (-ENOENT/-EIO reading, -EINVAL content) and err holds one
 * line naming the file and the entry: malformed JSON, a missing or mistyped
 * field, a date that does not exist, a date outside the file's year (a date
 * in the December before or the January after is accepted: holiday-cn lists
 * a New Year holiday that starts on 31 December in the next year's file), a
 * make-up working day that is not a Saturday or Sunday, the same date twice
 * with different values (in this file or against what is loaded). The same
 * date with the same value again is accepted, so loading a file twice is
 * harmless. err may be NULL. */
int js_cal_load_file(js_cal_t *cal, const char *path, char *err, size_t errlen);
/* Load every YYYY.json of dir (other names are ignored), in year order, whose
 * "year" must equal the name. All or nothing: on error the calendar is
 * unchanged. Returns the number of files loaded, or a negative error. */
int js_cal_load_dir(js_cal_t *cal, const char *dir, char *err, size_t errlen);
/* Load dir into a new calendar and, only if that succeeds, put it in *calp and
 * destroy the old one (SIGHUP). Files loaded, or a negative error with err;
 * *calp is unchanged on error. */
int js_cal_reload(js_cal_t **calp, const char *dir, char *err, size_t errlen);

/* 1 if y-m-d is a working day, 0 if not; -EINVAL if the date does not
 * exist, -ERANGE outside JS_CAL_YEAR_MIN..JS_CAL_YEAR_MAX. */
int js_cal_is_working(const js_cal_t *cal, int y, int m, int d);
/* 1 if year y has a published (non-empty) schedule loaded, else 0. */
int js_cal_year_published(const js_cal_t *cal, int y);
/* First and last published year, or 0 when none. */
int js_cal_first_year(const js_cal_t *cal);
int js_cal_last_year(const js_cal_t *cal);

/* The due moment of a limit of amount units received at start_ms (the rule
 * above). *provisional (may be NULL) is 1 when a day of an unpublished year
 * was consulted (only working-day limits consult the calendar). Returns 0,
 * -EINVAL for an unknown unit, amount <= 0 or above the maximum, -ERANGE when
 * the start or the due moment falls outside the years accepted. */
int js_cal_due(const js_cal_t *cal, int64_t start_ms, int amount, int unit, int64_t *due_ms,
               int *provisional);

/* Working time (ms) in [a_ms, b_ms): the part of it on working days. 0 when
 * b_ms <= a_ms. Days outside the accepted years count by weekends only. */
int64_t js_cal_working_ms_between(const js_cal_t *cal, int64_t a_ms, int64_t b_ms);
/* The earliest instant t >= from_ms with working_ms_between(from_ms, t) ==
 * work_ms (work_ms >= 0; 0 gives from_ms). Ending a working day exactly gives
 * its 24:00, not the next working morning. *provisional as js_cal_due.
 * Returns 0, -EINVAL for work_ms < 0, -ERANGE past JS_CAL_YEAR_MAX. */
int js_cal_working_add(const js_cal_t *cal, int64_t from_ms, int64_t work_ms, int64_t *out_ms,
                       int *provisional);

/* The walk under both: from a_ms towards b_ms (INT64_MAX: no end), until
 * need_ms of working time has passed. Returns 1 with *at_ms the earliest
 * instant it has, or 0 when b_ms comes first (*at_ms = b_ms); *work_ms (may be
 * NULL) is the working time walked. Only days walked through are consulted
 * for *provisional (may be NULL; only ever set to 1). -EINVAL, -ERANGE. */
int js_cal_working_walk(const js_cal_t *cal, int64_t a_ms, int64_t b_ms, int64_t need_ms, int64_t *at_ms,
                        int64_t *work_ms, int *provisional);

/* A limit as a budget of time in its own domain (working time for working
 * days, wall time otherwise): amount * 24 h or amount * 1 h. -EINVAL for an
 * unknown unit, amount <= 0 or above JS_CAL_MAX_DAYS / JS_CAL_MAX_HOURS. */
int js_cal_limit_ms(int amount, int unit, int64_t *budget_ms);
/* Where a limit starts counting: the next local midnight for day units (the
 * receipt day does not count), the moment itself for hours. */
int64_t js_cal_count_start(int64_t received_ms, int unit);
/* 1 if ms lies in a local year JS_CAL_YEAR_MIN..JS_CAL_YEAR_MAX. */
int js_cal_in_range(int64_t ms);

/* Local civil time helpers (UTC+8), proleptic Gregorian. js_cal_local_ms
 * does not check: callers check the date with js_cal_date_valid first. */
int js_cal_date_valid(int y, int m, int d);                           /* 1 if the date exists */
int64_t js_cal_local_ms(int y, int m, int d, int hh, int mi, int ss); /* local -> epoch ms */
/* epoch ms -> local date and time; any of the out pointers may be NULL. */
void js_cal_split(int64_t ms, int *y, int *m, int *d, int *hh, int *mi, int *ss, int *msec);
/* "2025-10-11T23:59:59+08:00" (".123" before the offset when ms are not 0).
 * Returns the length or -ENOSPC. */
int js_cal_format(int64_t ms, char *out, size_t cap);

#endif
