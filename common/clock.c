/* clock.c -- a limit's clock, recomputed from its events (clock.h has the
 * model). The events are replayed into a small state: count start, budget,
 * the pauses since the count start, an extension's fixed moment; the due
 * moment is then one walk over the running parts of the timeline, from the
 * count start, until the budget is used up. */
#include "clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

typedef struct s_iv {
    int64_t a, b;
} s_iv_t;

typedef struct s_clock {
    int started, state;
    int unit, amount;
    int64_t received, p, budget;
    int64_t floor;      /* extension to a moment: not due before this (raw), else INT64_MIN */
    int64_t pause_from; /* while paused */
    int64_t stop_t;     /* once stopped */
    s_iv_t *pauses;     /* closed pauses since the start or last reset */
    size_t npauses;
    int extensions;
} s_clock_t;

const char *js_clock_kind_name(int kind) {
    static const char *const names[] = {"?", "start", "pause", "resume", "stop", "reset", "extend"};
    return kind >= JS_CLOCK_START && kind <= JS_CLOCK_EXTEND ? names[kind] : "?";
}

static int s_day_unit(int unit) {
    return unit != JS_LIMIT_HOURS;
}

/* Raw end of the budget -> the due moment as reported, and back. */
static int64_t s_report(int unit, int64_t raw) {
    return s_day_unit(unit) ? raw - JS_CAL_END_OF_DAY_MS : raw;
}
static int64_t s_unreport(int unit, int64_t due) {
    return s_day_unit(unit) ? due + JS_CAL_END_OF_DAY_MS : due;
}

/* Walk [a, b) in the unit's domain until need is used: 1 reached (*at),
 * 0 not (*got). Wall time for calendar days and hours. */
static int s_walk(const js_cal_t *cal, int unit, int64_t a, int64_t b, int64_t need, int64_t *at,
                  int64_t *got, int *prov) {
    if (unit == JS_LIMIT_WORKING_DAYS) return js_cal_working_walk(cal, a, b, need, at, got, prov);
    if (b < a) b = a;
    if (need <= b - a) {
        *at = a + need;
        if (got) *got = need;
        return 1;
    }
    *at = b;
    if (got) *got = b - a;
    return 0;
}

/* Domain time in [a, b), running or not. */
static int s_measure(const js_cal_t *cal, int unit, int64_t a, int64_t b, int64_t *out) {
    int64_t at, got;
    if (b <= a) {
        *out = 0;
        return 0;
    }
    int rc = s_walk(cal, unit, a, b, INT64_MAX, &at, &got, NULL);
    if (rc < 0) return rc;
    *out = got;
    return 0;
}

/* The pauses as of now: the closed ones and, while paused, [pause_from, now). */
static size_t s_pause_list(const s_clock_t *c, int64_t now, s_iv_t *out) {
    size_t n = c->npauses;
    memcpy(out, c->pauses, n * sizeof *out);
    if (c->state == JS_CLOCK_PAUSED)
        out[n++] = (s_iv_t){c->pause_from, now > c->pause_from ? now : c->pause_from};
    return n;
}

/* The instant the clock has consumed need, running on after now. */
static int s_reach(const js_cal_t *cal, const s_clock_t *c, int64_t now, int64_t need, s_iv_t *buf,
                   int64_t *at, int *prov) {
    size_t n = s_pause_list(c, now, buf);
    int64_t cur = c->p, got;
    for (size_t i = 0; i < n; i++) {
        if (buf[i].b <= cur) continue;
        if (buf[i].a > cur) {
            int rc = s_walk(cal, c->unit, cur, buf[i].a, need, at, &got, prov);
            if (rc != 0) return rc < 0 ? rc : 0;
            need -= got;
        }
        cur = buf[i].b;
    }
    int rc = s_walk(cal, c->unit, cur, INT64_MAX, need, at, NULL, prov);
    return rc < 0 ? rc : 0;
}

/* Raw due: the budget used up, not before an extension's moment. */
static int s_due(const js_cal_t *cal, const s_clock_t *c, int64_t now, s_iv_t *buf, int64_t *raw, int *prov) {
    int64_t tau;
    int p = 0, rc = s_reach(cal, c, now, c->budget, buf, &tau, &p);
    if (rc < 0) return rc;
    /* An extension's moment, when it decides, is the operator's: no unpublished
     * day can move it. */
    *raw = tau > c->floor ? tau : c->floor;
    if (tau > c->floor && p) *prov = 1;
    if (!js_cal_in_range(*raw - 1)) return -ERANGE;
    return 0;
}

/* Consumed in [p, upto) and paused domain time in [p, now). */
static int s_used(const js_cal_t *cal, const s_clock_t *c, int64_t now, int64_t upto, s_iv_t *buf,
                  int64_t *used, int64_t *paused) {
    size_t n = s_pause_list(c, now, buf);
    int64_t cur = c->p, m, sum = 0, psum = 0;
    int rc;
    for (size_t i = 0; i < n; i++) {
        int64_t a = buf[i].a > c->p ? buf[i].a : c->p, b = buf[i].b;
        if (b <= a) continue;
        if ((rc = s_measure(cal, c->unit, a, b, &m)) < 0) return rc;
        psum += m;
        if (a > cur && cur < upto) {
            if ((rc = s_measure(cal, c->unit, cur, a < upto ? a : upto, &m)) < 0) return rc;
            sum += m;
        }
        cur = b;
    }
    if (cur < upto) {
        if ((rc = s_measure(cal, c->unit, cur, upto, &m)) < 0) return rc;
        sum += m;
    }
    *used = sum;
    if (paused) *paused = psum;
    return 0;
}

static int s_fail(js_clock_result_t *res, size_t i, int rc, const char *fmt, ...) {
    res->err_event = (int)i;
    int n = snprintf(res->err, sizeof res->err, "event %zu: ", i);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->err + n, sizeof res->err - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

static void s_begin(s_clock_t *c, const js_clock_event_t *e, int64_t budget) {
    c->started = 1;
    c->state = JS_CLOCK_RUNNING;
    c->unit = e->unit;
    c->amount = e->amount;
    c->received = e->t_ms;
    c->p = js_cal_count_start(e->t_ms, e->unit);
    c->budget = budget;
    c->floor = INT64_MIN;
    c->npauses = 0;
    c->extensions = 0;
}

/* Replay ev[0..n) into c. buf has room for n + 1 intervals. */
static int s_run(const js_cal_t *cal, const js_clock_event_t *ev, size_t n, int ignore_ext, s_clock_t *c,
                 s_iv_t *buf, js_clock_result_t *res) {
    int rc;
    for (size_t i = 0; i < n; i++) {
        const js_clock_event_t *e = &ev[i];
        const char *kn = js_clock_kind_name(e->kind);
        int64_t budget;
        if (e->kind < JS_CLOCK_START || e->kind > JS_CLOCK_EXTEND)
            return s_fail(res, i, -EINVAL, "unknown kind %d", e->kind);
        if (!js_cal_in_range(e->t_ms))
            return s_fail(res, i, -ERANGE, "%s: time %lld outside %d..%d", kn, (long long)e->t_ms,
                          JS_CAL_YEAR_MIN, JS_CAL_YEAR_MAX);
        if (i > 0 && e->t_ms < ev[i - 1].t_ms)
            return s_fail(res, i, -EINVAL, "%s: earlier than the event before it", kn);
        if (!c->started && e->kind != JS_CLOCK_START) return s_fail(res, i, -EINVAL, "%s before start", kn);
        switch (e->kind) {
        case JS_CLOCK_START:
        case JS_CLOCK_RESET:
            if (e->kind == JS_CLOCK_START && c->started)
                return s_fail(res, i, -EINVAL, "start twice (a fresh limit is a reset)");
            if (js_cal_limit_ms(e->amount, e->unit, &budget) < 0)
                return s_fail(res, i, -EINVAL, "%s: bad limit %d of unit %d", kn, e->amount, e->unit);
            s_begin(c, e, budget);
            break;
        case JS_CLOCK_PAUSE:
            if (c->state != JS_CLOCK_RUNNING)
                return s_fail(res, i, -EINVAL, "pause while %s",
                              c->state == JS_CLOCK_PAUSED ? "paused" : "stopped");
            c->state = JS_CLOCK_PAUSED;
            c->pause_from = e->t_ms;
            break;
        case JS_CLOCK_RESUME:
            if (c->state != JS_CLOCK_PAUSED)
                return s_fail(res, i, -EINVAL, "resume while %s",
                              c->state == JS_CLOCK_RUNNING ? "running" : "stopped");
            c->pauses[c->npauses++] = (s_iv_t){c->pause_from, e->t_ms};
            c->state = JS_CLOCK_RUNNING;
            break;
        case JS_CLOCK_STOP:
            if (c->state == JS_CLOCK_STOPPED) return s_fail(res, i, -EINVAL, "stop while stopped");
            if (c->state == JS_CLOCK_PAUSED) c->pauses[c->npauses++] = (s_iv_t){c->pause_from, e->t_ms};
            c->state = JS_CLOCK_STOPPED;
            c->stop_t = e->t_ms;
            break;
        case JS_CLOCK_EXTEND: {
            if (c->state == JS_CLOCK_STOPPED) return s_fail(res, i, -EINVAL, "extend while stopped");
            s_clock_t trial = *c;
            if (e->amount < 0 || (e->amount > 0 && e->due_ms != 0) || (e->amount == 0 && e->due_ms == 0))
                return s_fail(res, i, -EINVAL, "extend takes a limit (amount) or a moment (due_ms)");
            if (e->amount > 0) {
                if (e->unit != 0 && e->unit != c->unit)
                    return s_fail(res, i, -EINVAL, "extend: unit %d, the clock counts in unit %d", e->unit,
                                  c->unit);
                if (js_cal_limit_ms(e->amount, c->unit, &budget) < 0)
                    return s_fail(res, i, -EINVAL, "extend: bad limit %d", e->amount);
                trial.amount = e->amount;
                trial.budget = budget;
                trial.floor = INT64_MIN;
            } else {
                int64_t raw = s_unreport(c->unit, e->due_ms), from = e->t_ms > c->p ? e->t_ms : c->p;
                int64_t used, ahead;
                if (!js_cal_in_range(e->due_ms))
                    return s_fail(res, i, -ERANGE, "extend: due moment outside %d..%d", JS_CAL_YEAR_MIN,
                                  JS_CAL_YEAR_MAX);
                if ((rc = s_used(cal, c, e->t_ms, e->t_ms, buf, &used, NULL)) < 0 ||
                    (rc = s_measure(cal, c->unit, from, raw, &ahead)) < 0)
                    return s_fail(res, i, rc, "extend: outside the calendar");
                trial.amount = 0;
                trial.budget = used + ahead;
                trial.floor = raw;
            }
            int64_t before, after;
            int p0 = 0;
            if ((rc = s_due(cal, c, e->t_ms, buf, &before, &p0)) < 0 ||
                (rc = s_due(cal, &trial, e->t_ms, buf, &after, &p0)) < 0)
                return s_fail(res, i, rc, "extend: the due moment falls outside the calendar");
            if (after <= before) return s_fail(res, i, -EINVAL, "extend: does not move the due moment later");
            if (ignore_ext) break;
            trial.extensions++;
            *c = trial;
            break;
        }
        }
    }
    return 0;
}

/* Replay, validate and position: the whole list is checked; the clock as of
 * now is the prefix up to now. */
typedef struct s_eval {
    s_clock_t c, orig;
    s_iv_t *buf;
} s_eval_t;

static void s_eval_free(s_eval_t *ev) {
    free(ev->c.pauses);
    free(ev->orig.pauses);
    free(ev->buf);
}

static int s_prepare(const js_cal_t *cal, const js_clock_event_t *ev, size_t n, int64_t now, s_eval_t *st,
                     js_clock_result_t *res) {
    memset(st, 0, sizeof *st);
    res->err_event = -1;
    res->err[0] = '\0';
    if (n == 0) return s_fail(res, 0, -EINVAL, "no events");
    st->buf = js_malloc((n + 1) * sizeof *st->buf);
    st->c.pauses = js_malloc((n + 1) * sizeof *st->c.pauses);
    st->orig.pauses = js_malloc((n + 1) * sizeof *st->orig.pauses);
    int rc = s_run(cal, ev, n, 0, &st->c, st->buf, res);
    if (rc < 0) return rc;
    size_t k = 0;
    while (k < n && ev[k].t_ms <= now)
        k++;
    if (k == 0) return s_fail(res, 0, -EINVAL, "now is before the clock's start");
    s_iv_t *keep = st->c.pauses;
    memset(&st->c, 0, sizeof st->c);
    st->c.pauses = keep;
    if ((rc = s_run(cal, ev, k, 0, &st->c, st->buf, res)) < 0) return rc;
    return s_run(cal, ev, k, 1, &st->orig, st->buf, res);
}

int js_clock_eval(const js_cal_t *cal, const js_clock_event_t *ev, size_t n, int64_t now_ms,
                  js_clock_result_t *res) {
    s_eval_t st;
    int rc = s_prepare(cal, ev, n, now_ms, &st, res);
    if (rc < 0) goto out;
    const s_clock_t *c = &st.c;
    int64_t raw, oraw, upto = c->state == JS_CLOCK_STOPPED ? c->stop_t : now_ms;
    int prov = 0, oprov = 0;
    if ((rc = s_due(cal, c, now_ms, st.buf, &raw, &prov)) < 0 ||
        (rc = s_due(cal, &st.orig, now_ms, st.buf, &oraw, &oprov)) < 0 ||
        (rc = s_used(cal, c, now_ms, upto, st.buf, &res->used_ms, &res->paused_ms)) < 0) {
        s_fail(res, n - 1, rc, "a moment falls outside the calendar's years");
        goto out;
    }
    res->state = c->state;
    res->unit = c->unit;
    res->amount = c->amount;
    res->received_ms = c->received;
    res->count_from_ms = c->p;
    res->due_ms = s_report(c->unit, raw);
    res->original_due_ms = s_report(c->unit, oraw);
    res->provisional = prov;
    res->original_provisional = oprov;
    res->limit_ms = c->budget;
    res->fraction = c->budget > 0 ? (double)res->used_ms / (double)c->budget : 1.0;
    res->overdue = upto > res->due_ms;
    res->extensions = c->extensions;
out:
    s_eval_free(&st);
    return rc;
}

int js_clock_when(const js_cal_t *cal, const js_clock_event_t *ev, size_t n, int64_t now_ms, double fraction,
                  int64_t *at_ms) {
    js_clock_result_t res;
    s_eval_t st;
    if (!(fraction > 0.0 && fraction <= 1.0)) return -EINVAL;
    int rc = s_prepare(cal, ev, n, now_ms, &st, &res);
    if (rc >= 0) {
        int64_t need = (int64_t)((double)st.c.budget * fraction);
        if (fraction == 1.0) need = st.c.budget;
        rc = s_reach(cal, &st.c, now_ms, need, st.buf, at_ms, NULL);
    }
    s_eval_free(&st);
    return rc;
}
