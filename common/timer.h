/* timer.h -- the deadline-timer's pending timers as Redis members.
 * A timer is one member of the sorted set jiesu:tm:{BUCKET}, scored by the
 * moment it fires. The member carries what firing needs, so nothing else is
 * read to fire it. */
#ifndef JS_TIMER_H
#define JS_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define JS_TIMER_MAX_FRACTIONS 8

struct js_cal;

/* Timer members: "ORDER|UNIT|KIND|IDX|START_MS|DUE_MS|AMOUNT|LIMIT_UNIT". KIND
 * r (response) or h (handling); IDX < nfractions: the warning at
 * fractions[IDX] of the limit; IDX == nfractions: the due moment itself.
 * AMOUNT and LIMIT_UNIT (jiesu.v1.LimitUnit) let the warning moments be found
 * in the limit's own time: working time for working-day limits. */
typedef struct js_timer {
    char order[32], unit[64];
    char kind;
    int idx;
    int64_t start_ms, due_ms;
    int amount, limit_unit;
} js_timer_t;

int js_timer_parse(const char *member, size_t len, js_timer_t *t);
int js_timer_format(const js_timer_t *t, char *out, size_t cap); /* length or -ENOSPC */
/* When timer idx fires: for idx < n the moment fractions[idx] of the limit is
 * used, counted on cal (working time for working days; NULL: wall time
 * between start and due), else the due moment. */
int64_t js_timer_fire_ms(const js_timer_t *t, const struct js_cal *cal, const double *fractions, int n);
/* Bucket of an order id: FNV-1a mod buckets. */
int js_timer_bucket(const char *order_id, int buckets);
/* "0.5,0.8" -> fractions, strictly increasing in (0, 1); count or -EINVAL. */
int js_timer_parse_fractions(const char *s, double *out, int max);


/* What arming (the dispatcher) and firing (the deadline-timer) must agree on:
 * calendar.dir, timer.buckets and clock.warn_fractions, declared once here. */
extern const js_conf_def_t js_clock_keys[];

typedef struct js_clock_conf {
    struct js_cal *cal;
    int buckets;
    double fractions[JS_TIMER_MAX_FRACTIONS];
    int nfractions;
} js_clock_conf_t;

/* Read and check the shared keys, load the calendar: 0, or a negative error
 * with "key: reason" in err (nothing to free then). */
int js_clock_conf_load(js_clock_conf_t *c, const js_conf_t *conf, char *err, size_t errlen);
/* SIGHUP: load calendar.dir again (a newly published year); a refused
 * directory is logged and the calendar in use stays. Deadlines computed
 * before keep their provisional mark; new ones use the new calendar. */
void js_clock_conf_reload(js_clock_conf_t *c, const js_conf_t *conf);
void js_clock_conf_free(js_clock_conf_t *c);

#endif
