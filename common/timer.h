/* timer.h -- the deadline-timer's pending timers: members, the planner, and the
 * rules that make each warning and overdue fire exactly once.
 *
 * A timer is one member of the sorted set jiesu:tm:{BUCKET} (BUCKET =
 * js_timer_bucket(order id)), scored by the moment it fires. Members are
 * self-describing: firing reads nothing else, no order and no config, so a
 * change of clock.warn_fractions between arming and firing is harmless.
 *
 * Member v2 (docs/ARCHITECTURE.md "Timers", docs/API.md "Keys"):
 *
 *     ORDER|UNIT|KIND|WHAT|FIRE_MS|DUE_MS|GEN|EPOCH|LIMIT
 *
 *   ORDER    the order id
 *   UNIT     the unit whose clock it is (may be empty, never contains '|')
 *   KIND     r response, h handling, a assist (an assisting unit's own
 *            limit), c callback due
 *   WHAT     "f0.5" a share of the limit used, "b4h" 4 hours (wall time)
 *            before due, "due" the due moment passed (overdue)
 *   FIRE_MS  when it fires: also the zset score
 *   DUE_MS   the clock's due moment when it was armed
 *   GEN      the generation of the clock's schedule it belongs to
 *   EPOCH    which round of the clock it is, for the fired mark: "R" for a
 *            share warning, "R.E" for due and b*h, R = resets so far, E =
 *            extensions since the last reset (js_timer_plan computes it)
 *   LIMIT    the limit counted, AMOUNT then w (working days), d (calendar
 *            days) or h (hours), then "p" when DUE_MS is provisional:
 *            "15w", "24h", "10wp"; amount 0 after an extension to a moment
 *
 * e.g. "01M82YAR5V8SAHY0Z1YME47WPB|city-housing|h|f0.5|1764518400000|
 * 1765209599000|3|0|15w" (82 bytes; about 190 bytes of Redis a timer).
 * EPOCH and LIMIT go beyond the first draft (ORDER..GEN) so the fired mark
 * and ClockEvent.limit/provisional need nothing but the member.
 *
 * The rules (the Redis Functions in common/functions.lua enforce them):
 *
 * Generations. The order hash o:{ID} holds "g:KIND|UNIT" = the generation of
 * that clock's current schedule. Absent: every generation is current (the
 * first dispatch need not write it). A transition that changes a clock's
 * schedule (pause, resume, stop, reset, extend, recompute) writes a new
 * generation (the order's new version number) and, if the clock still runs,
 * arms js_timer_plan(..., gen = that version, ...) in the same transition. The
 * old members stay in their zsets; jiesu_timer_ack finds their GEN stale and
 * records nothing, so nothing ever has to find and delete them.
 *
 * Fired marks. jiesu_timer_ack sets "f:KIND|UNIT|WHAT|EPOCH" in o:{ID} with
 * HSETNX, value the fire time (ms); if the field was set, it records nothing.
 * So a warning or overdue fires once per epoch across crashes, restarts,
 * lease expiries and re-arming: an approved return (reset) counts afresh,
 * an extension lets due and b*h fire again for the new due moment, a share
 * warning fires once per reset. A reader lists fired timers with HGETALL
 * o:{ID} and the fields starting "f:" (jiesuctl show).
 *
 * Ack before publish. The deadline-timer claims (jiesu_timer_claim: due
 * members move to the lease set jiesu:tl:{B}), acknowledges (jiesu_timer_ack:
 * claim held? gen current? mark new? then HSETNX the mark and XADD the event
 * to jiesu:events), then publishes on the bus only what was recorded. A crash
 * between claim and ack leaves the claim to expire and come back; a crash
 * between ack and publish loses only the bus copy (the stream has it). No
 * timer chains the next one: the plan armed every remaining timer of the
 * clock at once.
 *
 * Provisional deadlines. A transition that stores a clock counting through an
 * unpublished year SADDs the order id to jiesu:prov; on a calendar reload the
 * deadline-timer recomputes those orders and stores changed dues with
 * jiesu_recompute (docs/CALENDAR.md). */
#ifndef JS_TIMER_H
#define JS_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "clock.h"
#include "conf.h"
#include "jiesu/v1/types.pb-c.h"

#define JS_TIMER_MAX_FRACTIONS 8
#define JS_TIMER_MAX_BEFORE    4 /* hours-before warnings per clock */
/* The most members js_timer_plan returns for one clock. */
#define JS_TIMER_MAX_PLAN (JS_TIMER_MAX_FRACTIONS + JS_TIMER_MAX_BEFORE + 1)
#define JS_TIMER_MEMBER_MAX 200 /* longest member formatted (bytes, without NUL) */

struct js_cal;

/* One timer: a member, parsed. */
typedef struct js_timer {
    char order[32], unit[64];
    char kind;           /* 'r', 'h', 'a', 'c' */
    char what[16];       /* "f0.5", "b4h", "due" */
    int64_t fire_ms;     /* when it fires (the score) */
    int64_t due_ms;      /* the clock's due moment when armed */
    int64_t gen;         /* >= 0 */
    char epoch[24];      /* "R" or "R.E" (digits and one dot) */
    int amount;          /* the limit counted; 0 after an extension to a moment */
    int limit_unit;      /* JS_LIMIT_* (jiesu.v1.LimitUnit) */
    int provisional;     /* due_ms counted through an unpublished year */
} js_timer_t;

/* Member text <-> js_timer_t. parse: 0 or -EINVAL (any field missing,
 * malformed or out of range: the deadline-timer drops such a member at
 * acknowledgement). format: the length, -ENOSPC, or -EINVAL for a unit or
 * order with '|', an unknown kind or what. */
int js_timer_parse(const char *member, size_t len, js_timer_t *t);
int js_timer_format(const js_timer_t *t, char *out, size_t cap);
/* "g:KIND|UNIT" and "f:KIND|UNIT|WHAT|EPOCH": the order-hash fields of the
 * rules above. Length or -ENOSPC. */
int js_timer_gen_field(char kind, const char *unit, char *out, size_t cap);
int js_timer_mark_field(const js_timer_t *t, char *out, size_t cap);
/* What a timer means: 1 overdue ("due"), 0 a warning. *fraction: the share
 * of a "f" warning, 1 for due, 0 for "b*h"; *hours_before for "b*h", else 0. */
int js_timer_is_due(const js_timer_t *t, double *fraction, int *hours_before);

/* Bucket of an order id: FNV-1a mod buckets. */
int js_timer_bucket(const char *order_id, int buckets);
/* ClockKind <-> 'r','h','a','c' (0 / UNSPECIFIED when unknown). */
char js_timer_kind_char(Jiesu__V1__ClockKind k);
Jiesu__V1__ClockKind js_timer_clock_kind(char kind);

/* "0.5,0.8" -> fractions, strictly increasing in (0, 1); count or -EINVAL. */
int js_timer_parse_fractions(const char *s, double *out, int max);
/* "4" or "24,4" -> hours before due (1..8760, distinct, any order); "" none;
 * count or -EINVAL. */
int js_timer_parse_before(const char *s, int *out, int max);

/* What arming (the dispatcher and every action) and firing (the
 * deadline-timer) must agree on: calendar.dir, timer.buckets,
 * clock.warn_fractions (default "0.5,0.8") and clock.warn_before_h (default
 * "4": a warning 4 h before due), declared once here. */
extern const js_conf_def_t js_clock_keys[];

typedef struct js_clock_conf {
    struct js_cal *cal;
    int buckets;
    double fractions[JS_TIMER_MAX_FRACTIONS];
    int nfractions;
    int before_h[JS_TIMER_MAX_BEFORE];
    int nbefore;
} js_clock_conf_t;

/* Read and check the shared keys, load the calendar: 0, or a negative error
 * with "key: reason" in err (nothing to free then). */
int js_clock_conf_load(js_clock_conf_t *c, const js_conf_t *conf, char *err, size_t errlen);
/* SIGHUP: load calendar.dir again (a newly published year); a refused
 * directory is logged and the calendar in use stays. */
void js_clock_conf_reload(js_clock_conf_t *c, const js_conf_t *conf);
/* The same for a caller that answers (jiesuctl calendar reload): the number
 * of files loaded, or a negative error with the reason in err (may be NULL)
 * and the calendar in use unchanged. Logged either way. Deadlines computed
 * before keep their provisional mark until recomputed (jiesu:prov). */
int js_clock_conf_try_reload(js_clock_conf_t *c, const js_conf_t *conf, char *err, size_t errlen);
void js_clock_conf_free(js_clock_conf_t *c);

/* ---- the planner (pure) -------------------------------------------------------
 *
 * Every timer of one clock still to fire, evaluated at now_ms on conf's
 * calendar:
 *   running clock: one "f<share>" per clock.warn_fractions at the moment
 *     js_clock_when gives (the limit's own time: working time for working-day
 *     limits); one "b<N>h" per clock.warn_before_h at due - N h, left out
 *     when that moment is not after the clock's (re)start (a limit shorter
 *     than N h); one "due" at due + 1 ms (on time includes the due moment);
 *   paused or stopped clock: none (resume and reset arm a new plan).
 * Moments already past are included (the timer fires them at once, marked
 * late) unless marks[0..nmarks) holds their "KIND|UNIT|WHAT|EPOCH" (as read
 * from o:{ID}, with or without the "f:" prefix; marks may be NULL). Every
 * member carries gen and the clock's epoch, due and limit.
 *
 * Returns the number written to out (sorted by fire time), -EINVAL for an
 * illegal event list or kind (err, when not NULL, says why: errlen >= 160),
 * -ERANGE when a moment falls outside the calendar, -ENOSPC when cap is too
 * small (JS_TIMER_MAX_PLAN always suffices). */
int js_timer_plan(const js_clock_conf_t *conf, const char *order, char kind, const char *unit,
                  const js_clock_event_t *ev, size_t nev, int64_t gen, int64_t now_ms, const char *const *marks,
                  size_t nmarks, js_timer_t *out, int cap, char *err, size_t errlen);
/* The same for a stored clock (its kind, unit and events). */
int js_timer_plan_clock(const js_clock_conf_t *conf, const char *order, const Jiesu__V1__Clock *c, int64_t gen,
                        int64_t now_ms, const char *const *marks, size_t nmarks, js_timer_t *out, int cap,
                        char *err, size_t errlen);
/* The epoch of a clock at now: "R" (share warnings) and "R.E" (due, b*h) as
 * above, into share/due (each >= 24 bytes). 0 or -EINVAL. */
int js_timer_epoch(const js_clock_event_t *ev, size_t nev, int64_t now_ms, char *share, char *due);

/* ---- stored clocks (jiesu.v1.Clock) <-> events ------------------------------ */

/* The clock's entries as events: the count, -ENOSPC when more than cap,
 * -EINVAL for an entry kind that is not start..extend or a missing limit on
 * start/reset. */
int js_timer_clock_events(const Jiesu__V1__Clock *c, js_clock_event_t *out, size_t cap);
/* Events as the clock's entries (allocated in a; reasons empty): replaces
 * c->events. 0 or -EINVAL for an unknown kind. */
int js_timer_clock_set_events(js_arena_t *a, Jiesu__V1__Clock *c, const js_clock_event_t *ev, size_t n);
/* Recompute c->due_ms, original_due_ms and provisional from its events at
 * now_ms; *res (may be NULL) gets the whole evaluation. 0, or the
 * js_clock_eval error with nothing changed. */
int js_timer_clock_refresh(const struct js_cal *cal, Jiesu__V1__Clock *c, int64_t now_ms, js_clock_result_t *res);

#endif
