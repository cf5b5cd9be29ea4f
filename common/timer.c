/* timer.c -- timer members, buckets, the planner and stored clocks
 * (timer.h has the contract). */
#include "timer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "jsdefs.h"
#include "log.h"

#define S_NFIELDS 9

static int s_digits(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* A non-negative decimal of at most 18 digits. */
static int s_int(const char *s, size_t n, int64_t *out) {
    if (!s_digits(s, n) || n > 18) return -EINVAL;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    *out = v;
    return 0;
}

static int s_kind_ok(char k) { return k == 'r' || k == 'h' || k == 'a' || k == 'c'; }

/* "due", "f<share in (0,1)>", "b<1..8760>h". */
static int s_what_ok(const char *w, size_t n, double *fraction, int *before) {
    if (fraction) *fraction = 0;
    if (before) *before = 0;
    if (n == 3 && !memcmp(w, "due", 3)) {
        if (fraction) *fraction = 1.0;
        return 1;
    }
    if (n >= 2 && n < 16 && w[0] == 'f') {
        char buf[16], *end;
        memcpy(buf, w + 1, n - 1);
        buf[n - 1] = '\0';
        if (buf[0] < '0' || buf[0] > '9') return 0;
        double v = strtod(buf, &end);
        if (*end || !(v > 0 && v < 1)) return 0;
        if (fraction) *fraction = v;
        return 1;
    }
    int64_t h;
    if (n >= 3 && n < 16 && w[0] == 'b' && w[n - 1] == 'h' && s_int(w + 1, n - 2, &h) == 0 && h >= 1 &&
        h <= 8760 && w[1] != '0') {
        if (before) *before = (int)h;
        return 1;
    }
    return 0;
}

/* "R" or "R.E". */
static int s_epoch_ok(const char *e, size_t n) {
    if (n == 0 || n >= 24) return 0;
    const char *dot = memchr(e, '.', n);
    if (!dot) return s_digits(e, n);
    return s_digits(e, (size_t)(dot - e)) && s_digits(dot + 1, n - (size_t)(dot - e) - 1);
}

static char s_unit_letter(int unit) {
    return unit == JS_LIMIT_WORKING_DAYS ? 'w' : unit == JS_LIMIT_CALENDAR_DAYS ? 'd' : unit == JS_LIMIT_HOURS ? 'h' : 0;
}

int js_timer_parse(const char *m, size_t len, js_timer_t *t) {
    const char *f[S_NFIELDS];
    size_t fl[S_NFIELDS];
    int n = 0;
    const char *p = m, *end = m + len;
    memset(t, 0, sizeof *t);
    if (len > JS_TIMER_MEMBER_MAX || memchr(m, '\0', len)) return -EINVAL;
    for (;;) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        if (n == S_NFIELDS) return -EINVAL;
        f[n] = p;
        fl[n] = bar ? (size_t)(bar - p) : (size_t)(end - p);
        n++;
        if (!bar) break;
        p = bar + 1;
    }
    if (n != S_NFIELDS) return -EINVAL;
    if (fl[0] == 0 || fl[0] >= sizeof t->order || fl[1] >= sizeof t->unit || fl[2] != 1 || !s_kind_ok(f[2][0]) ||
        !s_what_ok(f[3], fl[3], NULL, NULL) || !s_epoch_ok(f[7], fl[7]))
        return -EINVAL;
    if (s_int(f[4], fl[4], &t->fire_ms) < 0 || s_int(f[5], fl[5], &t->due_ms) < 0 || s_int(f[6], fl[6], &t->gen) < 0)
        return -EINVAL;
    /* LIMIT: AMOUNT w|d|h [p] */
    const char *l = f[8];
    size_t ll = fl[8], k = 0;
    while (k < ll && l[k] >= '0' && l[k] <= '9') k++;
    int64_t amount;
    if (k == 0 || k > 5 || s_int(l, k, &amount) < 0 || k == ll) return -EINVAL;
    char u = l[k];
    t->limit_unit = u == 'w' ? JS_LIMIT_WORKING_DAYS : u == 'd' ? JS_LIMIT_CALENDAR_DAYS : u == 'h' ? JS_LIMIT_HOURS : 0;
    if (!t->limit_unit || amount > JS_CAL_MAX_HOURS) return -EINVAL;
    if (k + 1 < ll) {
        if (k + 2 != ll || l[k + 1] != 'p') return -EINVAL;
        t->provisional = 1;
    }
    t->amount = (int)amount;
    memcpy(t->order, f[0], fl[0]);
    memcpy(t->unit, f[1], fl[1]);
    t->kind = f[2][0];
    memcpy(t->what, f[3], fl[3]);
    memcpy(t->epoch, f[7], fl[7]);
    return 0;
}

int js_timer_format(const js_timer_t *t, char *out, size_t cap) {
    char u = s_unit_letter(t->limit_unit);
    if (!t->order[0] || strchr(t->order, '|') || strchr(t->unit, '|') || !s_kind_ok(t->kind) ||
        !s_what_ok(t->what, strlen(t->what), NULL, NULL) || !s_epoch_ok(t->epoch, strlen(t->epoch)) || !u ||
        t->amount < 0 || t->amount > JS_CAL_MAX_HOURS || t->fire_ms < 0 || t->due_ms < 0 || t->gen < 0)
        return -EINVAL;
    int n = snprintf(out, cap, "%s|%s|%c|%s|%lld|%lld|%lld|%s|%d%c%s", t->order, t->unit, t->kind, t->what,
                     (long long)t->fire_ms, (long long)t->due_ms, (long long)t->gen, t->epoch, t->amount, u,
                     t->provisional ? "p" : "");
    return n < 0 || (size_t)n >= cap || n > JS_TIMER_MEMBER_MAX ? -ENOSPC : n;
}

int js_timer_gen_field(char kind, const char *unit, char *out, size_t cap) {
    int n = snprintf(out, cap, "g:%c|%s", kind, unit);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int js_timer_mark_field(const js_timer_t *t, char *out, size_t cap) {
    int n = snprintf(out, cap, "f:%c|%s|%s|%s", t->kind, t->unit, t->what, t->epoch);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int js_timer_is_due(const js_timer_t *t, double *fraction, int *hours_before) {
    double f;
    int b;
    s_what_ok(t->what, strlen(t->what), &f, &b);
    if (fraction) *fraction = f;
    if (hours_before) *hours_before = b;
    return strcmp(t->what, "due") == 0;
}

int js_timer_bucket(const char *id, int buckets) {
    uint32_t h = 2166136261u;
    for (; *id; id++) h = (h ^ (uint8_t)*id) * 16777619u;
    return buckets > 0 ? (int)(h % (uint32_t)buckets) : 0;
}

char js_timer_kind_char(Jiesu__V1__ClockKind k) {
    switch (k) {
    case JIESU__V1__CLOCK_KIND__CLOCK_KIND_RESPONSE: return 'r';
    case JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING: return 'h';
    case JIESU__V1__CLOCK_KIND__CLOCK_KIND_ASSIST: return 'a';
    case JIESU__V1__CLOCK_KIND__CLOCK_KIND_CALLBACK: return 'c';
    default: return 0;
    }
}

Jiesu__V1__ClockKind js_timer_clock_kind(char kind) {
    switch (kind) {
    case 'r': return JIESU__V1__CLOCK_KIND__CLOCK_KIND_RESPONSE;
    case 'h': return JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING;
    case 'a': return JIESU__V1__CLOCK_KIND__CLOCK_KIND_ASSIST;
    case 'c': return JIESU__V1__CLOCK_KIND__CLOCK_KIND_CALLBACK;
    default: return JIESU__V1__CLOCK_KIND__CLOCK_KIND_UNSPECIFIED;
    }
}

int js_timer_parse_fractions(const char *s, double *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v <= 0 || v >= 1 || n >= max || (n && v <= out[n - 1])) return -EINVAL;
        /* the member names a share by "%g": two shares must not read alike */
        char a[32], b[32];
        snprintf(a, sizeof a, "%g", v);
        if (n) {
            snprintf(b, sizeof b, "%g", out[n - 1]);
            if (!strcmp(a, b)) return -EINVAL;
        }
        out[n++] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -EINVAL;
    }
    return n;
}

int js_timer_parse_before(const char *s, int *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 8760 || n >= max) return -EINVAL;
        for (int i = 0; i < n; i++)
            if (out[i] == v) return -EINVAL;
        out[n++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -EINVAL;
    }
    return n;
}

const js_conf_def_t js_clock_keys[] = {
    {"calendar.dir", "config/holidays",
     "holiday files (holiday-cn JSON, one per year); warnings of working-day limits count working time"},
    {"timer.buckets", "16", "timer buckets (jiesu:tm:{0..N-1}); the same in every service"},
    {"clock.warn_fractions", "0.5,0.8", "warnings when this share of a limit is used (\"\": none)"},
    {"clock.warn_before_h", "4", "warnings this many hours (wall time) before due, e.g. 24,4 (\"\": none)"},
    {NULL, NULL, NULL},
};

int js_clock_conf_load(js_clock_conf_t *c, const js_conf_t *conf, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    if (js_conf_check_int(conf, "timer.buckets", 1, 16384, err, errlen) < 0) return -EINVAL;
    c->buckets = (int)js_conf_int(conf, "timer.buckets");
    c->nfractions = js_timer_parse_fractions(js_conf_str(conf, "clock.warn_fractions"), c->fractions,
                                             JS_TIMER_MAX_FRACTIONS);
    if (c->nfractions < 0) {
        snprintf(err, errlen, "clock.warn_fractions: want up to %d increasing numbers in (0, 1), e.g. 0.5,0.8",
                 JS_TIMER_MAX_FRACTIONS);
        return -EINVAL;
    }
    c->nbefore = js_timer_parse_before(js_conf_str(conf, "clock.warn_before_h"), c->before_h, JS_TIMER_MAX_BEFORE);
    if (c->nbefore < 0) {
        snprintf(err, errlen, "clock.warn_before_h: want up to %d distinct whole hours in 1..8760, e.g. 24,4",
                 JS_TIMER_MAX_BEFORE);
        return -EINVAL;
    }
    char why[400];
    c->cal = js_cal_new();
    if (js_cal_load_dir(c->cal, js_conf_str(conf, "calendar.dir"), why, sizeof why) < 0) {
        snprintf(err, errlen, "calendar.dir: %s", why);
        js_cal_destroy(&c->cal);
        return -EINVAL;
    }
    return 0;
}

int js_clock_conf_try_reload(js_clock_conf_t *c, const js_conf_t *conf, char *err, size_t errlen) {
    char why[512];
    int n = js_cal_reload(&c->cal, js_conf_str(conf, "calendar.dir"), why, sizeof why);
    if (n < 0) js_error("calendar reload refused, the old calendar stays: %s", why);
    else js_info("calendar reloaded: %d files", n);
    if (n < 0 && err) snprintf(err, errlen, "%s", why);
    return n;
}

void js_clock_conf_reload(js_clock_conf_t *c, const js_conf_t *conf) { js_clock_conf_try_reload(c, conf, NULL, 0); }

void js_clock_conf_free(js_clock_conf_t *c) { js_cal_destroy(&c->cal); }

/* ---- the planner -------------------------------------------------------------- */

int js_timer_epoch(const js_clock_event_t *ev, size_t n, int64_t now, char *share, char *due) {
    int resets = 0, ext = 0, started = 0;
    for (size_t i = 0; i < n && ev[i].t_ms <= now; i++) {
        if (ev[i].kind == JS_CLOCK_START) started = 1;
        else if (ev[i].kind == JS_CLOCK_RESET) resets++, ext = 0;
        else if (ev[i].kind == JS_CLOCK_EXTEND) ext++;
    }
    if (!started) return -EINVAL;
    snprintf(share, 24, "%d", resets);
    snprintf(due, 24, "%d.%d", resets, ext);
    return 0;
}

static int s_marked(const js_timer_t *t, const char *const *marks, size_t nmarks) {
    char key[160];
    int n = snprintf(key, sizeof key, "%c|%s|%s|%s", t->kind, t->unit, t->what, t->epoch);
    if (n < 0 || (size_t)n >= sizeof key) return 0;
    for (size_t i = 0; i < nmarks; i++) {
        const char *m = marks[i];
        if (!m) continue;
        if (!strncmp(m, "f:", 2)) m += 2;
        if (!strcmp(m, key)) return 1;
    }
    return 0;
}

static int s_cmp_fire(const void *a, const void *b) {
    const js_timer_t *x = a, *y = b;
    return x->fire_ms < y->fire_ms ? -1 : x->fire_ms > y->fire_ms;
}

int js_timer_plan(const js_clock_conf_t *conf, const char *order, char kind, const char *unit,
                  const js_clock_event_t *ev, size_t nev, int64_t gen, int64_t now, const char *const *marks,
                  size_t nmarks, js_timer_t *out, int cap, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!s_kind_ok(kind) || !order || !*order || strlen(order) >= sizeof out->order || strchr(order, '|') || !unit ||
        strlen(unit) >= sizeof out->unit || strchr(unit, '|') || gen < 0) {
        if (err) snprintf(err, errlen, "plan: bad order id, unit, kind or generation");
        return -EINVAL;
    }
    js_clock_result_t res;
    int rc = js_clock_eval(conf->cal, ev, nev, now, &res);
    if (rc < 0) {
        if (err) snprintf(err, errlen, "%s", res.err);
        return rc;
    }
    if (res.state != JS_CLOCK_RUNNING) return 0;
    char ep_share[24], ep_due[24];
    js_timer_epoch(ev, nev, now, ep_share, ep_due);
    js_timer_t base;
    memset(&base, 0, sizeof base);
    strcpy(base.order, order);
    strcpy(base.unit, unit);
    base.kind = kind;
    base.due_ms = res.due_ms;
    base.gen = gen;
    base.amount = res.amount;
    base.limit_unit = res.unit;
    base.provisional = res.provisional;
    js_timer_t cand[JS_TIMER_MAX_PLAN];
    int nc = 0;
    for (int i = 0; i < conf->nfractions; i++) {
        js_timer_t t = base;
        if ((rc = js_clock_when(conf->cal, ev, nev, now, conf->fractions[i], &t.fire_ms)) < 0) {
            if (err) snprintf(err, errlen, "plan: the %g warning falls outside the calendar", conf->fractions[i]);
            return rc;
        }
        snprintf(t.what, sizeof t.what, "f%g", conf->fractions[i]);
        strcpy(t.epoch, ep_share);
        cand[nc++] = t;
    }
    for (int i = 0; i < conf->nbefore; i++) {
        js_timer_t t = base;
        t.fire_ms = res.due_ms - conf->before_h[i] * JS_CAL_HOUR_MS;
        if (t.fire_ms <= res.received_ms) continue; /* the limit is shorter than that */
        snprintf(t.what, sizeof t.what, "b%dh", conf->before_h[i]);
        strcpy(t.epoch, ep_due);
        cand[nc++] = t;
    }
    js_timer_t t = base;
    t.fire_ms = res.due_ms + 1;
    strcpy(t.what, "due");
    strcpy(t.epoch, ep_due);
    cand[nc++] = t;
    int n = 0;
    for (int i = 0; i < nc; i++) {
        if (s_marked(&cand[i], marks, nmarks)) continue;
        if (n == cap) {
            if (err) snprintf(err, errlen, "plan: more than %d timers", cap);
            return -ENOSPC;
        }
        out[n++] = cand[i];
    }
    qsort(out, (size_t)n, sizeof *out, s_cmp_fire);
    return n;
}

int js_timer_plan_clock(const js_clock_conf_t *conf, const char *order, const Jiesu__V1__Clock *c, int64_t gen,
                        int64_t now, const char *const *marks, size_t nmarks, js_timer_t *out, int cap, char *err,
                        size_t errlen) {
    char kind = js_timer_kind_char(c->kind);
    size_t cap_ev = c->n_events ? c->n_events : 1;
    js_clock_event_t *ev = js_malloc(cap_ev * sizeof *ev);
    int n = js_timer_clock_events(c, ev, cap_ev);
    if (n < 0 || !kind) {
        if (err) snprintf(err, errlen, "plan: clock %d of unit %s: %s", (int)c->kind, c->unit_id ? c->unit_id : "",
                          !kind ? "unknown kind" : "an entry that is not start..extend, or a start without limit");
        free(ev);
        return -EINVAL;
    }
    int rc = js_timer_plan(conf, order, kind, c->unit_id ? c->unit_id : "", ev, (size_t)n, gen, now, marks, nmarks,
                           out, cap, err, errlen);
    free(ev);
    return rc;
}

/* ---- stored clocks -------------------------------------------------------------- */

int js_timer_clock_events(const Jiesu__V1__Clock *c, js_clock_event_t *out, size_t cap) {
    if (c->n_events > cap) return -ENOSPC;
    for (size_t i = 0; i < c->n_events; i++) {
        const Jiesu__V1__ClockEntry *e = c->events[i];
        js_clock_event_t *x = &out[i];
        memset(x, 0, sizeof *x);
        x->kind = (int)e->kind;
        x->t_ms = e->time_ms;
        if (x->kind < JS_CLOCK_START || x->kind > JS_CLOCK_EXTEND) return -EINVAL;
        if (x->kind == JS_CLOCK_START || x->kind == JS_CLOCK_RESET) {
            if (!e->limit) return -EINVAL;
            x->amount = e->limit->amount;
            x->unit = (int)e->limit->unit;
        } else if (x->kind == JS_CLOCK_EXTEND) {
            if (e->limit) {
                x->amount = e->limit->amount;
                x->unit = (int)e->limit->unit;
            }
            x->due_ms = e->due_ms;
        }
    }
    return (int)c->n_events;
}

int js_timer_clock_set_events(js_arena_t *a, Jiesu__V1__Clock *c, const js_clock_event_t *ev, size_t n) {
    Jiesu__V1__ClockEntry **v = js_arena_alloc(a, (n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind < JS_CLOCK_START || ev[i].kind > JS_CLOCK_EXTEND) return -EINVAL;
        Jiesu__V1__ClockEntry *e = js_arena_alloc(a, sizeof *e);
        jiesu__v1__clock_entry__init(e);
        e->kind = (Jiesu__V1__ClockEventKind)ev[i].kind;
        e->time_ms = ev[i].t_ms;
        if (ev[i].kind == JS_CLOCK_START || ev[i].kind == JS_CLOCK_RESET ||
            (ev[i].kind == JS_CLOCK_EXTEND && ev[i].amount > 0)) {
            Jiesu__V1__Limit *l = js_arena_alloc(a, sizeof *l);
            jiesu__v1__limit__init(l);
            l->amount = ev[i].amount;
            l->unit = (Jiesu__V1__LimitUnit)ev[i].unit;
            e->limit = l;
        }
        if (ev[i].kind == JS_CLOCK_EXTEND) e->due_ms = ev[i].due_ms;
        v[i] = e;
    }
    c->events = v;
    c->n_events = n;
    return 0;
}

int js_timer_clock_refresh(const struct js_cal *cal, Jiesu__V1__Clock *c, int64_t now, js_clock_result_t *out) {
    js_clock_result_t res;
    size_t cap = c->n_events ? c->n_events : 1;
    js_clock_event_t *ev = js_malloc(cap * sizeof *ev);
    int n = js_timer_clock_events(c, ev, cap), rc;
    if (n < 0) {
        res.err_event = -1;
        snprintf(res.err, sizeof res.err, "an entry that is not start..extend, or a start without limit");
        rc = n;
    } else if ((rc = js_clock_eval(cal, ev, (size_t)n, now, &res)) == 0) {
        c->due_ms = res.due_ms;
        c->original_due_ms = res.original_due_ms;
        c->provisional = res.provisional || res.original_provisional;
    }
    free(ev);
    if (out) *out = res;
    return rc;
}
