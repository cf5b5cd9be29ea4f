/* clock.h -- the clock of a limit, recomputed from its list of events.
 *
 * A clock (an order's response or handling limit, an assisting unit's own
 * limit, a callback due) is stored as what happened to it: start, pause,
 * resume, stop, reset, extend. js_clock_eval() computes everything else from
 * that list, so a clock can be repaired by editing the list and explained by
 * printing it. A pure module: the caller passes `now`.
 *
 * The model (docs/CALENDAR.md, with examples):
 * - A limit is a budget of time in its own domain: working time (working days,
 *   00:00-24:00 local, whole) for working-day limits, wall time for calendar
 *   days and hours. Budget = amount * 24 h or amount * 1 h.
 * - The clock consumes its budget while it runs, from its count start: the
 *   midnight after the receipt (start or reset) for day units, the receipt
 *   itself for hours. A paused clock consumes nothing, so a pause costs what it
 *   covers in the domain: a weekend costs a working-day clock nothing, a
 *   working afternoon costs it that afternoon; an hours clock pays wall time.
 * - The due moment is the instant the budget is used up (24:00 of the last
 *   working day for whole days), reported 1 s earlier for day units
 *   (23:59:59.000) as the rule says (calendar.h). Without events other than
 *   start it equals js_cal_due().
 * - The due moment is computed as if the clock ran on from `now` (a paused
 *   clock: as if it resumed now, so it moves while the pause lasts) and, once
 *   stopped, as if it had not been. A pause that begins after the budget is
 *   used up gives nothing back: an overdue clock stays overdue.
 * - reset (an approved return, a new dispatch): a fresh clock from the reset,
 *   with the limit it carries; pauses and extensions before it are forgotten.
 *   A refused return is a resume: counted from the first receipt, review time
 *   excluded.
 * - extend with a limit: the budget becomes the new limit (same unit), counted
 *   from the same count start. extend with a moment: the clock is due at that
 *   moment if it runs on, and pauses after the extension still move it later;
 *   the budget becomes what is used plus the domain time up to it. Either must
 *   move the due moment later. The original due moment is the same list
 *   evaluated without its extensions.
 *
 * Legal sequences: start first and once; pause only while running; resume only
 * while paused; extend and stop while running or paused; after stop only
 * reset; times never go back. Anything else fails, and nothing is computed.
 * Events later than `now` are checked but not applied: the result is the clock
 * as it stood at `now`. */
#ifndef JS_CLOCK_H
#define JS_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "calendar.h"

/* Event kinds. */
#define JS_CLOCK_START  1 /* amount, unit: the limit */
#define JS_CLOCK_PAUSE  2 /* e.g. return review begins */
#define JS_CLOCK_RESUME 3 /* the pause ends (a refused return) */
#define JS_CLOCK_STOP   4 /* completed */
#define JS_CLOCK_RESET  5 /* amount, unit: a fresh limit from here (an approved return) */
#define JS_CLOCK_EXTEND 6 /* amount (> 0, unit 0 or the clock's), or amount 0 and due_ms */

/* States. */
#define JS_CLOCK_RUNNING 1
#define JS_CLOCK_PAUSED  2
#define JS_CLOCK_STOPPED 3

typedef struct js_clock_event {
    int kind;       /* JS_CLOCK_START .. JS_CLOCK_EXTEND */
    int64_t t_ms;   /* when it happened */
    int amount;     /* start, reset, extend: the limit in units */
    int unit;       /* start, reset: JS_LIMIT_*; extend: 0 or the clock's unit */
    int64_t due_ms; /* extend with amount 0: the new due moment (as reported) */
} js_clock_event_t;

typedef struct js_clock_result {
    int state;               /* JS_CLOCK_RUNNING, _PAUSED, _STOPPED */
    int unit;                /* of the current limit */
    int amount;              /* current limit in units; 0 after an extension to a moment */
    int64_t received_ms;     /* the start, or the last reset */
    int64_t count_from_ms;   /* where counting starts (calendar.h js_cal_count_start) */
    int64_t due_ms;          /* current due moment */
    int64_t original_due_ms; /* the same, ignoring extensions */
    int provisional; /* due_ms consulted an unpublished year (not when an extension's moment decides) */
    int original_provisional; /* original_due_ms did */
    int64_t limit_ms;         /* the budget, in the limit's domain */
    int64_t used_ms;          /* consumed at now (at the stop once stopped) */
    int64_t paused_ms;        /* domain time paused since count start, up to now */
    double fraction;          /* used_ms / limit_ms: 0.5, 0.8 warnings; > 1 overdue */
    int overdue;              /* due_ms is before now (before the stop once stopped) */
    int extensions;           /* extensions since the start or last reset */
    int err_event;            /* on error: index of the offending event, or -1 */
    char err[160];            /* on error: one line saying why */
} js_clock_result_t;

/* Prototypes */
/* Evaluate ev[0..n) at now_ms into *res. Returns 0; on an illegal list
 * -EINVAL (res->err_event, res->err say which and why; the other fields are
 * not set); -ERANGE when a moment falls outside the calendar's years. */
int js_clock_eval(const js_cal_t *cal, const js_clock_event_t *ev, size_t n, int64_t now_ms,
                  js_clock_result_t *res);
/* The instant the clock has used fraction (0 < fraction <= 1) of its budget,
 * on the same assumptions as the due moment (runs on from now_ms): where a
 * 50 % or 80 % warning fires. Not moved 1 s earlier: fraction 1 gives 24:00
 * of the last day for day units, the due moment for hours. It may lie before
 * now_ms (the warning is late). Errors as js_clock_eval, and -EINVAL for a
 * fraction outside (0, 1]. */
int js_clock_when(const js_cal_t *cal, const js_clock_event_t *ev, size_t n, int64_t now_ms, double fraction,
                  int64_t *at_ms);
/* "start", "pause", ... or "?" */
const char *js_clock_kind_name(int kind);

#endif
