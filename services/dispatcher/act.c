/* act.c -- the effects of every action on an order (act.h). */
#include "act.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "clock.h"
#include "jsdefs.h"

#define ROLE_LEAD JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD
#define ROLE_ASSIST JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_ASSIST
#define ROLE_COPY JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COPY
#define ROLE_COORD JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COORDINATE

#define CK_RESPONSE JIESU__V1__CLOCK_KIND__CLOCK_KIND_RESPONSE
#define CK_HANDLING JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING
#define CK_ASSIST JIESU__V1__CLOCK_KIND__CLOCK_KIND_ASSIST
#define CK_CALLBACK JIESU__V1__CLOCK_KIND__CLOCK_KIND_CALLBACK

#define MAX_EVENTS 256 /* clock entries one clock may hold */

/* One action at work. */
typedef struct s_work {
    const act_ctx_t *c;
    js_arena_t *a;
    Jiesu__V1__Order *o;
    int64_t now, gen;
    const char *const *marks;
    size_t nmarks;
    act_out_t *out;
    Jiesu__V1__Clock *changed[ACT_MAX_CLOCKS];
    int nchanged;
} s_work_t;

static int s_refuse(act_out_t *out, const char *code, const char *fmt, ...) {
    snprintf(out->code, sizeof out->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->err, sizeof out->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int s_empty(const char *s) { return !s || !s[0]; }

/* ---- role classes ------------------------------------------------------------ */

static Jiesu__V1__Assignment *s_asg_of(const Jiesu__V1__Order *o, const char *unit) {
    for (size_t i = 0; i < o->n_assignments; i++)
        if (o->assignments[i]->unit_id && strcmp(o->assignments[i]->unit_id, unit) == 0) return o->assignments[i];
    return NULL;
}

static const char *s_unit_of(const char *actor) {
    return actor && strncmp(actor, "unit:", 5) == 0 && actor[5] ? actor + 5 : NULL;
}

unsigned act_role_class(const Jiesu__V1__Order *o, const char *actor) {
    if (!actor) return 0;
    if (strcmp(actor, "operator") == 0) return JS_RC_OPERATOR;
    if (strcmp(actor, "reviewer") == 0) return JS_RC_REVIEWER;
    if (strcmp(actor, "admin") == 0) return JS_RC_ADMIN;
    if (strcmp(actor, "system") == 0) return JS_RC_SYSTEM;
    const char *u = s_unit_of(actor);
    if (!u) return 0;
    for (const char *p = u; *p; p++)
        if (*p == ' ' || *p == '=' || (unsigned char)*p < 0x20) return 0;
    const Jiesu__V1__Assignment *as = s_asg_of(o, u);
    if (!as) return JS_RC_STRANGER;
    switch (as->role) {
    case ROLE_LEAD:
    case ROLE_COORD: return JS_RC_LEAD;
    case ROLE_ASSIST: return JS_RC_ASSIST;
    case ROLE_COPY: return JS_RC_COPY;
    default: return JS_RC_STRANGER;
    }
}

const char *act_asg_map(js_arena_t *a, const Jiesu__V1__Order *o) {
    size_t len = 1;
    for (size_t i = 0; i < o->n_assignments; i++) len += strlen(o->assignments[i]->unit_id ? o->assignments[i]->unit_id : "") + 4;
    char *s = js_arena_alloc(a, len), *p = s;
    *p = '\0';
    for (size_t i = 0; i < o->n_assignments; i++) {
        const Jiesu__V1__Assignment *as = o->assignments[i];
        char r = as->role == ROLE_ASSIST ? 'A' : as->role == ROLE_COPY ? 'C' : 'L';
        p += sprintf(p, "%s%s=%c", i ? " " : "", as->unit_id ? as->unit_id : "", r);
    }
    return s;
}

int act_from_unit_kind(int kind) { return kind >= JS_ACT_ACCEPT && kind <= JS_ACT_COMPLETE ? kind : 0; }

int act_from_review_kind(int kind) { return kind >= 1 && kind <= 5 ? 10 + kind : 0; }

/* ---- clocks ------------------------------------------------------------------ */

static char s_kind_char(int kind) { return js_timer_kind_char((Jiesu__V1__ClockKind)kind); }

static Jiesu__V1__Clock *s_clock_find(const Jiesu__V1__Order *o, int kind, const char *unit) {
    for (size_t i = o->n_clocks; i-- > 0;) {
        Jiesu__V1__Clock *c = o->clocks[i];
        if ((int)c->kind == kind && strcmp(c->unit_id ? c->unit_id : "", unit ? unit : "") == 0) return c;
    }
    return NULL;
}

static Jiesu__V1__Clock *s_clock_new(s_work_t *w, int kind, const char *unit) {
    Jiesu__V1__Clock *c = js_arena_alloc(w->a, sizeof *c);
    jiesu__v1__clock__init(c);
    c->kind = (Jiesu__V1__ClockKind)kind;
    c->unit_id = js_arena_strdup(w->a, unit ? unit : "");
    Jiesu__V1__Clock **v = js_arena_alloc(w->a, (w->o->n_clocks + 1) * sizeof *v);
    if (w->o->n_clocks) memcpy(v, w->o->clocks, w->o->n_clocks * sizeof *v);
    v[w->o->n_clocks++] = c;
    w->o->clocks = v;
    return c;
}

/* The clock's state now: JS_CLOCK_RUNNING, _PAUSED, _STOPPED, or 0 when it
 * has no events (or an illegal list). */
static int s_clock_state(const s_work_t *w, const Jiesu__V1__Clock *c) {
    JS_UNUSED(w);
    if (!c || !c->n_events) return 0;
    /* The state follows from the kinds alone (clock.h's legal sequences; every stored list was checked by
     * js_clock_eval when its last event was added): no calendar walk for what the next push checks anyway. */
    int state = 0;
    for (size_t i = 0; i < c->n_events; i++) {
        switch (c->events[i]->kind) {
        case JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_START:
        case JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_RESET:
        case JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_RESUME: state = JS_CLOCK_RUNNING; break;
        case JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_PAUSE: state = JS_CLOCK_PAUSED; break;
        case JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_STOP: state = JS_CLOCK_STOPPED; break;
        case JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_EXTEND: break;
        default: return 0; /* not a clock event: js_timer_clock_events refuses it too */
        }
    }
    return state;
}

static void s_mark_changed(s_work_t *w, Jiesu__V1__Clock *c) {
    for (int i = 0; i < w->nchanged; i++)
        if (w->changed[i] == c) return;
    if (w->nchanged < ACT_MAX_CLOCKS) w->changed[w->nchanged++] = c;
}

/* Append one event to clock c (kind JS_CLOCK_*), check the list, recompute
 * its due moments. */
static int s_clock_push(s_work_t *w, Jiesu__V1__Clock *c, int kind, int amount, int unit, int64_t due_ms,
                        const char *reason) {
    js_clock_event_t ev[MAX_EVENTS];
    int n = c->n_events ? js_timer_clock_events(c, ev, MAX_EVENTS - 1) : 0;
    if (n < 0) return s_refuse(w->out, "internal", "the %s clock of %s cannot be read (%s)",
                               js_clock_kind_name(kind), c->unit_id, js_strerror(n));
    int64_t t = w->now;
    if (n > 0 && ev[n - 1].t_ms > t) t = ev[n - 1].t_ms; /* times never go back */
    ev[n] = (js_clock_event_t){.kind = kind, .t_ms = t, .amount = amount, .unit = unit, .due_ms = due_ms};
    js_clock_result_t r;
    int rc = js_clock_eval(w->c->clk->cal, ev, (size_t)n + 1, t, &r);
    if (rc < 0)
        return s_refuse(w->out, "bad_request", "%s clock of %s: %s", c->kind == CK_HANDLING ? "handling"
                        : c->kind == CK_RESPONSE ? "response" : c->kind == CK_ASSIST ? "assist" : "callback",
                        c->unit_id[0] ? c->unit_id : "the centre", rc == -ERANGE ? "outside the calendar" : r.err);
    if (js_timer_clock_set_events(w->a, c, ev, (size_t)n + 1) < 0)
        return s_refuse(w->out, "internal", "clock events not stored");
    if (reason && c->n_events) c->events[c->n_events - 1]->reason = (char *)reason;
    js_timer_clock_refresh(w->c->clk->cal, c, t, NULL);
    s_mark_changed(w, c);
    return 0;
}

/* Every clock of the order that runs (or is paused), but the callback. */
static int s_each_clock(s_work_t *w, int from_state, int ev_kind, const char *reason) {
    for (size_t i = 0; i < w->o->n_clocks; i++) {
        Jiesu__V1__Clock *c = w->o->clocks[i];
        if (c->kind == CK_CALLBACK || s_clock_state(w, c) != from_state) continue;
        if (s_clock_push(w, c, ev_kind, 0, 0, 0, reason) < 0) return -1;
    }
    return 0;
}

static int s_stop_all(s_work_t *w, const char *reason) {
    for (size_t i = 0; i < w->o->n_clocks; i++) {
        Jiesu__V1__Clock *c = w->o->clocks[i];
        int st = s_clock_state(w, c);
        if ((st == JS_CLOCK_RUNNING || st == JS_CLOCK_PAUSED) && s_clock_push(w, c, JS_CLOCK_STOP, 0, 0, 0, reason) < 0)
            return -1;
    }
    return 0;
}

static void s_sync_assignment_dues(s_work_t *w) {
    for (size_t i = 0; i < w->o->n_assignments; i++) {
        Jiesu__V1__Assignment *as = w->o->assignments[i];
        int main_kind = as->role == ROLE_ASSIST ? CK_ASSIST : CK_HANDLING;
        const Jiesu__V1__Clock *h = s_clock_find(w->o, main_kind, as->unit_id);
        const Jiesu__V1__Clock *r = s_clock_find(w->o, CK_RESPONSE, as->unit_id);
        if (h) {
            as->due_ms = h->due_ms;
            as->provisional = h->provisional;
        }
        if (r) as->response_due_ms = r->due_ms;
    }
}

/* Generations and timers of every clock the action changed. */
static int s_arm(s_work_t *w, bool write_gens) {
    act_out_t *out = w->out;
    for (int i = 0; i < w->nchanged; i++) {
        Jiesu__V1__Clock *c = w->changed[i];
        char kind = s_kind_char(c->kind);
        if (write_gens) {
            if (out->nfields >= ACT_MAX_FIELDS)
                return s_refuse(out, "too_large", "an action may change at most %d clocks", ACT_MAX_FIELDS);
            char f[128];
            if (js_timer_gen_field(kind, c->unit_id, f, sizeof f) < 0) return s_refuse(out, "internal", "gen field");
            out->fields[2 * out->nfields] = js_arena_strdup(w->a, f);
            out->fields[2 * out->nfields + 1] = js_arena_printf(w->a, "%lld", (long long)w->gen);
            out->nfields++;
        }
        js_timer_t plan[JS_TIMER_MAX_PLAN];
        char err[200];
        int n = js_timer_plan_clock(w->c->clk, w->o->id, c, w->gen, w->now, w->marks, w->nmarks, plan,
                                    JS_TIMER_MAX_PLAN, err, sizeof err);
        if (n < 0) return s_refuse(out, "bad_request", "timers of clock %c|%s: %s", kind, c->unit_id, err);
        int b = js_timer_bucket(w->o->id, w->c->clk->buckets);
        for (int k = 0; k < n; k++) {
            if (out->ntimers >= ACT_MAX_TIMERS)
                return s_refuse(out, "too_large", "more than %d timers in one action", ACT_MAX_TIMERS);
            char m[JS_TIMER_MEMBER_MAX + 1];
            if (js_timer_format(&plan[k], m, sizeof m) < 0) return s_refuse(out, "internal", "timer member");
            out->timers[out->ntimers++] = (js_timer_arm_t){b, plan[k].fire_ms, js_arena_strdup(w->a, m)};
        }
    }
    for (size_t i = 0; i < w->o->n_clocks; i++) {
        int st = s_clock_state(w, w->o->clocks[i]);
        if (st != JS_CLOCK_STOPPED && w->o->clocks[i]->provisional) out->provisional = true;
    }
    s_sync_assignment_dues(w);
    return 0;
}

/* ---- assignments ------------------------------------------------------------- */

static Jiesu__V1__Limit *s_limit(js_arena_t *a, dsp_limit_t l) {
    Jiesu__V1__Limit *x = js_arena_alloc(a, sizeof *x);
    jiesu__v1__limit__init(x);
    x->amount = l.amount;
    x->unit = (Jiesu__V1__LimitUnit)l.unit;
    return x;
}

/* Start (or count afresh) one clock of a new assignment. */
static int s_clock_begin(s_work_t *w, int kind, const char *unit, dsp_limit_t l, const char *reason) {
    if (l.unit == DSP_LIMIT_NONE || l.amount <= 0) return 0;
    Jiesu__V1__Clock *c = s_clock_find(w->o, kind, unit);
    if (!c) {
        c = s_clock_new(w, kind, unit);
        return s_clock_push(w, c, JS_CLOCK_START, l.amount, l.unit, 0, reason);
    }
    return s_clock_push(w, c, JS_CLOCK_RESET, l.amount, l.unit, 0, reason);
}

static bool s_in_result(const dsp_result_t *d, int kind, const char *unit) {
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->a[i].unit_id, unit) != 0) continue;
        int r = d->a[i].role;
        if (kind == CK_RESPONSE || kind == CK_HANDLING) return r == ROLE_LEAD || r == ROLE_COORD;
        if (kind == CK_ASSIST) return r == ROLE_ASSIST;
    }
    return false;
}

/* Replace the order's assignments by d's: new clocks start, clocks of units
 * still named count afresh, the others stop. */
static int s_assign(s_work_t *w, const dsp_result_t *d, bool fixed, const char *reason) {
    Jiesu__V1__Order *o = w->o;
    for (size_t i = 0; i < o->n_clocks; i++) {
        Jiesu__V1__Clock *c = o->clocks[i];
        if (c->kind == CK_CALLBACK) continue;
        int st = s_clock_state(w, c);
        if ((st == JS_CLOCK_RUNNING || st == JS_CLOCK_PAUSED) && !s_in_result(d, c->kind, c->unit_id) &&
            s_clock_push(w, c, JS_CLOCK_STOP, 0, 0, 0, reason) < 0)
            return -1;
    }
    Jiesu__V1__Assignment **v = js_arena_alloc(w->a, (d->n ? d->n : 1) * sizeof *v);
    for (size_t i = 0; i < d->n; i++) {
        const dsp_assign_t *x = &d->a[i];
        Jiesu__V1__Assignment *as = js_arena_alloc(w->a, sizeof *as);
        jiesu__v1__assignment__init(as);
        as->unit_id = js_arena_strdup(w->a, x->unit_id);
        as->role = (Jiesu__V1__AssignmentRole)x->role;
        if (x->limit.unit != DSP_LIMIT_NONE) as->limit = s_limit(w->a, x->limit);
        if (x->response.unit != DSP_LIMIT_NONE) as->response_limit = s_limit(w->a, x->response);
        as->assigned_ms = w->now;
        const Jiesu__V1__Assignment *prev = s_asg_of(o, x->unit_id);
        as->first_receipt_ms = prev && prev->first_receipt_ms ? prev->first_receipt_ms : w->now;
        as->catalog_item = js_arena_strdup(w->a, x->catalog_item);
        as->office = js_arena_strdup(w->a, x->office);
        as->reports_to = js_arena_strdup(w->a, x->reports_to);
        as->district = js_arena_strdup(w->a, x->district);
        as->fixed = fixed;
        v[i] = as;
    }
    o->assignments = v;
    o->n_assignments = d->n;
    for (size_t i = 0; i < d->n; i++) {
        const dsp_assign_t *x = &d->a[i];
        if (x->role == ROLE_LEAD || x->role == ROLE_COORD) {
            if (s_clock_begin(w, CK_RESPONSE, x->unit_id, x->response, reason) < 0 ||
                s_clock_begin(w, CK_HANDLING, x->unit_id, x->limit, reason) < 0)
                return -1;
        } else if (x->role == ROLE_ASSIST) {
            if (s_clock_begin(w, CK_ASSIST, x->unit_id, x->limit, reason) < 0) return -1;
        }
    }
    if (d->catalog_item[0]) o->catalog_item = js_arena_strdup(w->a, d->catalog_item);
    o->dispatch_reason = js_arena_strdup(w->a, d->reason);
    o->profile = js_arena_strdup(w->a, w->c->prof->name);
    w->out->asg = act_asg_map(w->a, o);
    return 0;
}

static void s_exclude(s_work_t *w, const char *unit) {
    Jiesu__V1__Order *o = w->o;
    for (size_t i = 0; i < o->n_excluded_units; i++)
        if (strcmp(o->excluded_units[i], unit) == 0) return;
    char **v = js_arena_alloc(w->a, (o->n_excluded_units + 1) * sizeof *v);
    if (o->n_excluded_units) memcpy(v, o->excluded_units, o->n_excluded_units * sizeof *v);
    v[o->n_excluded_units++] = js_arena_strdup(w->a, unit);
    o->excluded_units = v;
}

/* ---- the pending request ------------------------------------------------------ */

static Jiesu__V1__PendingRequest *s_pending(s_work_t *w, const act_req_t *req, int stage) {
    Jiesu__V1__PendingRequest *p = js_arena_alloc(w->a, sizeof *p);
    jiesu__v1__pending_request__init(p);
    const Jiesu__V1__UnitAction *ua = req->ua;
    p->kind = ua->kind;
    p->unit_id = js_arena_strdup(w->a, s_unit_of(req->actor));
    Jiesu__V1__Actor *who = js_arena_alloc(w->a, sizeof *who);
    jiesu__v1__actor__init(who);
    who->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT;
    who->unit_id = p->unit_id;
    who->name = (char *)(req->actor_name ? req->actor_name : "");
    p->actor = who;
    p->requested_ms = w->now;
    p->reason = ua->reason;
    p->legal_basis = ua->legal_basis;
    p->to_unit = ua->to_unit;
    p->answer = ua->answer;
    if (ua->new_limit && ua->new_limit->amount > 0) p->new_limit = ua->new_limit;
    p->until_ms = ua->until_ms;
    p->resume_stage = (Jiesu__V1__Stage)stage;
    w->o->pending = p;
    return p;
}

/* ---- the actions ------------------------------------------------------------- */

static const char *s_date(js_arena_t *a, int64_t ms) {
    char buf[48];
    if (js_cal_format(ms, buf, sizeof buf) < 0) return js_arena_printf(a, "%lld", (long long)ms);
    return js_arena_strdup(a, buf);
}

static int s_pause_for(s_work_t *w, int review_stage, const char *why) {
    if (!dsp_profile_pauses(w->c->prof, review_stage)) return 0;
    return s_each_clock(w, JS_CLOCK_RUNNING, JS_CLOCK_PAUSE, why);
}

static int s_resume_all(s_work_t *w, const char *why) { return s_each_clock(w, JS_CLOCK_PAUSED, JS_CLOCK_RESUME, why); }

static int s_unit_main_clock(const Jiesu__V1__Assignment *as) { return as->role == ROLE_ASSIST ? CK_ASSIST : CK_HANDLING; }

static int s_do_return(s_work_t *w, const act_req_t *req, int stage, Jiesu__V1__Assignment *as) {
    const Jiesu__V1__UnitAction *ua = req->ua;
    act_out_t *out = w->out;
    if (s_empty(ua->reason) || s_empty(ua->legal_basis))
        return s_refuse(out, "bad_request", "a return needs --reason and --basis (the legal basis: ZS art. 17)");
    if (as->fixed)
        return s_refuse(out, "not_allowed", "%s was fixed by consultation and cannot return the order again",
                        as->unit_id);
    dsp_limit_t win = w->c->prof->return_window;
    if (win.unit != DSP_LIMIT_NONE && win.amount > 0) {
        int64_t first = as->first_receipt_ms ? as->first_receipt_ms : as->assigned_ms, end = 0;
        if (js_cal_due(w->c->clk->cal, first, win.amount, win.unit, &end, NULL) == 0 && w->now > end)
            return s_refuse(out, "window_closed", "the return window closed at %s (%d%s from the first receipt %s)",
                            s_date(w->a, end), win.amount, win.unit == DSP_LIMIT_WD ? "wd" : win.unit == DSP_LIMIT_D ? "d" : "h",
                            s_date(w->a, first));
    }
    if (!s_empty(ua->to_unit) && !dsp_ref_unit(w->c->ref, ua->to_unit))
        return s_refuse(out, "bad_request", "--to %s: no such unit in the registry", ua->to_unit);
    s_pending(w, req, stage);
    if (s_pause_for(w, JIESU__V1__STAGE__STAGE_RETURN_REVIEW, "return review") < 0) return -1;
    out->note = js_arena_printf(w->a, "return by %s: %s (basis: %s)%s%s", as->unit_id, ua->reason, ua->legal_basis,
                                s_empty(ua->to_unit) ? "" : "; suggests ", s_empty(ua->to_unit) ? "" : ua->to_unit);
    return 0;
}

/* The due moment clock c would have, extended to a limit of amount units
 * now, exactly as s_clock_push will apply it: counted from the clock's own
 * start or last reset with its pauses (a refused return, a reopen), not from
 * the unit's first receipt alone. 0, or the js_clock_eval error. */
static int s_extend_due(const s_work_t *w, const Jiesu__V1__Clock *c, int amount, int unit, int64_t *due) {
    js_clock_event_t ev[MAX_EVENTS];
    int n = js_timer_clock_events(c, ev, MAX_EVENTS - 1);
    if (n < 0) return n;
    int64_t t = w->now;
    if (n > 0 && ev[n - 1].t_ms > t) t = ev[n - 1].t_ms;
    ev[n] = (js_clock_event_t){.kind = JS_CLOCK_EXTEND, .t_ms = t, .amount = amount, .unit = unit};
    js_clock_result_t r;
    int rc = js_clock_eval(w->c->clk->cal, ev, (size_t)n + 1, t, &r);
    if (rc < 0) return rc;
    *due = r.due_ms;
    return 0;
}

static int s_do_extend(s_work_t *w, const act_req_t *req, int stage, Jiesu__V1__Assignment *as) {
    const Jiesu__V1__UnitAction *ua = req->ua;
    act_out_t *out = w->out;
    if (s_empty(ua->reason)) return s_refuse(out, "bad_request", "an extension needs --reason (ZS art. 18)");
    bool by_limit = ua->new_limit && ua->new_limit->amount > 0;
    if (!by_limit && ua->until_ms <= 0)
        return s_refuse(out, "bad_request", "an extension needs --until DATE or a new limit (e.g. 20wd)");
    if (by_limit && ua->until_ms > 0) return s_refuse(out, "bad_request", "give --until or a new limit, not both");
    const dsp_profile_t *p = w->c->prof;
    Jiesu__V1__Clock *c = s_clock_find(w->o, s_unit_main_clock(as), as->unit_id);
    if (!c || s_clock_state(w, c) == JS_CLOCK_STOPPED || !s_clock_state(w, c))
        return s_refuse(out, "not_allowed", "%s has no running clock to extend", as->unit_id);
    int next = 0;
    for (size_t i = 0; i < c->n_events; i++) {
        if (c->events[i]->kind == JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_RESET) next = 0;
        if (c->events[i]->kind == JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_EXTEND) next++;
    }
    if (next >= p->extension_max_count)
        return s_refuse(out, "not_allowed", "%s has used its %d extension(s) allowed by profile %s", as->unit_id,
                        p->extension_max_count, p->name);
    /* The new target: checked now, so the reviewer decides a request that can be applied. */
    int64_t target = ua->until_ms;
    if (by_limit) {
        const Jiesu__V1__Limit *cur = as->limit;
        if (!cur || (int)ua->new_limit->unit != (int)cur->unit)
            return s_refuse(out, "bad_request", "the new limit must be in the unit of the current one (%s)",
                            !cur ? "none" : cur->unit == 1 ? "wd" : cur->unit == 2 ? "d" : "h");
        if (ua->new_limit->amount <= cur->amount)
            return s_refuse(out, "bad_request", "the new limit %d must be longer than the current %d",
                            ua->new_limit->amount, cur->amount);
        if (s_extend_due(w, c, ua->new_limit->amount, (int)ua->new_limit->unit, &target) < 0)
            return s_refuse(out, "bad_request", "the new limit %d is out of range", ua->new_limit->amount);
    }
    if (target <= c->due_ms)
        return s_refuse(out, "bad_request", "the new due moment %s is not after the current %s", s_date(w->a, target),
                        s_date(w->a, c->due_ms));
    if (p->extension_max.unit != DSP_LIMIT_NONE && p->extension_max.amount > 0) {
        int64_t most = 0;
        if (js_cal_due(w->c->clk->cal, c->due_ms, p->extension_max.amount, p->extension_max.unit, &most, NULL) == 0 &&
            target > most)
            return s_refuse(out, "bad_request", "an extension may add at most %d%s (profile %s): until %s at the latest",
                            p->extension_max.amount, p->extension_max.unit == DSP_LIMIT_WD ? "wd"
                            : p->extension_max.unit == DSP_LIMIT_D ? "d" : "h", p->name, s_date(w->a, most));
    }
    s_pending(w, req, stage);
    if (s_pause_for(w, JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW, "extension review") < 0) return -1;
    out->note = js_arena_printf(w->a, "extension asked by %s until %s: %s", as->unit_id, s_date(w->a, target), ua->reason);
    return 0;
}

static int s_do_complete(s_work_t *w, const act_req_t *req, int stage, Jiesu__V1__Assignment *as) {
    const Jiesu__V1__UnitAction *ua = req->ua;
    if (s_empty(ua->answer))
        return s_refuse(w->out, "bad_request", "a completion needs --answer: the written answer, point by point (ZS art. 21)");
    s_pending(w, req, stage);
    if (s_pause_for(w, JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW, "completion review") < 0) return -1;
    w->out->note = js_arena_printf(w->a, "completion by %s", as->unit_id);
    return 0;
}

/* Unit actions. */
static int s_unit_action(s_work_t *w, const act_req_t *req, int stage) {
    act_out_t *out = w->out;
    const char *unit = s_unit_of(req->actor);
    Jiesu__V1__Assignment *as = unit ? s_asg_of(w->o, unit) : NULL;
    const Jiesu__V1__UnitAction *ua = req->ua;
    switch (req->act) {
    case JS_ACT_ACCEPT:
        if (as->accepted_ms) return s_refuse(out, "not_allowed", "%s accepted the order already", unit);
        as->accepted_ms = w->now;
        out->note = js_arena_printf(w->a, "accepted by %s", unit);
        return 0;
    case JS_ACT_CONTACT: {
        if (as->contacted_ms) return s_refuse(out, "not_allowed", "%s reached the requester already at %s", unit,
                                              s_date(w->a, as->contacted_ms));
        as->contacted_ms = w->now;
        Jiesu__V1__Clock *c = s_clock_find(w->o, CK_RESPONSE, unit);
        int st = s_clock_state(w, c);
        if ((st == JS_CLOCK_RUNNING || st == JS_CLOCK_PAUSED) &&
            s_clock_push(w, c, JS_CLOCK_STOP, 0, 0, 0, "requester reached") < 0)
            return -1;
        out->note = js_arena_printf(w->a, "%s reached the requester%s%s", unit, s_empty(ua->reason) ? "" : ": ",
                                    s_empty(ua->reason) ? "" : ua->reason);
        return 0;
    }
    case JS_ACT_NOTE:
        if (s_empty(ua->reason)) return s_refuse(out, "bad_request", "a note needs its text (--reason)");
        out->note = js_arena_printf(w->a, "%s: %s", unit, ua->reason);
        return 0;
    case JS_ACT_RETURN: return s_do_return(w, req, stage, as);
    case JS_ACT_EXTEND: return s_do_extend(w, req, stage, as);
    case JS_ACT_ESCALATE:
        if (s_empty(ua->reason)) return s_refuse(out, "bad_request", "an escalation needs --reason (ZS art. 20(4))");
        if (ua->level < JIESU__V1__ESCALATION_LEVEL__ESCALATION_LEVEL_DISTRICT ||
            ua->level > JIESU__V1__ESCALATION_LEVEL__ESCALATION_LEVEL_SECTOR)
            return s_refuse(out, "bad_request", "an escalation needs --level district, city or sector");
        w->o->escalation = ua->level;
        out->note = js_arena_printf(w->a, "%s asks the %s to coordinate: %s", unit ? unit : "jiesu (overdue)",
                                    ua->level == 1 ? "district government" : ua->level == 2 ? "city government"
                                                                                             : "sector authority",
                                    ua->reason);
        return 0;
    case JS_ACT_REPORT: {
        if (s_empty(ua->reason) && s_empty(ua->answer))
            return s_refuse(out, "bad_request", "a report needs its text (--reason or --answer)");
        if (as->reported_ms) return s_refuse(out, "not_allowed", "%s reported already", unit);
        as->reported_ms = w->now;
        Jiesu__V1__Clock *c = s_clock_find(w->o, CK_ASSIST, unit);
        int st = s_clock_state(w, c);
        if ((st == JS_CLOCK_RUNNING || st == JS_CLOCK_PAUSED) &&
            s_clock_push(w, c, JS_CLOCK_STOP, 0, 0, 0, "reported to the lead") < 0)
            return -1;
        out->note = js_arena_printf(w->a, "%s reports to %s: %s", unit, as->reports_to,
                                    s_empty(ua->answer) ? ua->reason : ua->answer);
        return 0;
    }
    case JS_ACT_COMPLETE: return s_do_complete(w, req, stage, as);
    default: return s_refuse(out, "bad_request", "unknown unit action %d", req->act);
    }
}

/* Units named by a ReviewDecision's assignments (the first leads). */
static int s_units_of(const Jiesu__V1__ReviewDecision *rd, const char **units, size_t cap, size_t *n) {
    *n = 0;
    for (size_t i = 0; rd && i < rd->n_assignments && *n < cap; i++)
        if (!s_empty(rd->assignments[i]->unit_id)) units[(*n)++] = rd->assignments[i]->unit_id;
    return 0;
}

static int s_review(s_work_t *w, const act_req_t *req, int stage, int saved) {
    act_out_t *out = w->out;
    Jiesu__V1__Order *o = w->o;
    const Jiesu__V1__ReviewDecision *rd = req->rd;
    const Jiesu__V1__PendingRequest *p = o->pending;
    bool review_stage = stage == JIESU__V1__STAGE__STAGE_RETURN_REVIEW ||
                        stage == JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW ||
                        stage == JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW;
    if (review_stage && !p) return s_refuse(out, "internal", "order in %s has no pending request", js_fsm_stage_name(stage));
    if (req->act == JS_ACT_REFUSE && s_empty(rd->reason))
        return s_refuse(out, "bad_request", "a refusal needs --reason");
    (void)saved;
    switch (req->act) {
    case JS_ACT_APPROVE:
        if (stage == JIESU__V1__STAGE__STAGE_RETURN_REVIEW) {
            s_exclude(w, p->unit_id);
            o->returns++;
            const char *units[DSP_MAX_ASSIGN];
            size_t nu;
            s_units_of(rd, units, DSP_MAX_ASSIGN, &nu);
            const char *to = nu ? units[0] : NULL;
            dsp_result_t d;
            memset(&d, 0, sizeof d);
            int rc;
            if (to) {
                for (size_t i = 0; i < o->n_excluded_units; i++)
                    if (strcmp(o->excluded_units[i], to) == 0)
                        return s_refuse(out, "bad_request", "--to %s: that unit's return was approved, it cannot get the order again", to);
                rc = dsp_redirect(w->c->ref, w->c->prof, o, to, &d);
            } else {
                rc = dsp_decide(w->c->ref, w->c->prof, o, (const char *const *)o->excluded_units, o->n_excluded_units,
                                w->now, &d);
            }
            if (rc < 0) return s_refuse(out, "bad_request", "re-dispatch: %s", d.reason);
            o->pending = NULL;
            if (d.kind == DSP_DISPATCH && d.n > 0) {
                if (s_assign(w, &d, false, "return approved: counted afresh from the new dispatch") < 0) return -1;
                out->stage = JIESU__V1__STAGE__STAGE_DISPATCHED;
                out->note = js_arena_printf(w->a, "return of %s approved; re-dispatched to %s: %s", p->unit_id,
                                            d.a[0].unit_id, d.reason);
            } else {
                /* Nothing fits without the unit that returned: a reviewer names the units. */
                if (s_stop_all(w, "return approved: no unit left, consultation") < 0) return -1;
                /* No unit holds it now: the consultation names them. "-" is the empty map for jiesu_act
                 * ("" would mean unchanged). */
                o->assignments = NULL;
                o->n_assignments = 0;
                out->asg = "-";
                out->stage = JIESU__V1__STAGE__STAGE_CONSULTATION;
                out->note = js_arena_printf(w->a, "return of %s approved; to consultation: %s", p->unit_id, d.reason);
            }
            return 0;
        }
        if (stage == JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW) {
            Jiesu__V1__Assignment *as = s_asg_of(o, p->unit_id);
            Jiesu__V1__Clock *c = as ? s_clock_find(o, s_unit_main_clock(as), as->unit_id) : NULL;
            if (!c) return s_refuse(out, "internal", "the clock of %s is gone", p->unit_id);
            int rc = p->new_limit ? s_clock_push(w, c, JS_CLOCK_EXTEND, p->new_limit->amount, (int)p->new_limit->unit, 0, p->reason)
                                  : s_clock_push(w, c, JS_CLOCK_EXTEND, 0, 0, p->until_ms, p->reason);
            if (rc < 0) return -1;
            if (p->new_limit) as->limit = p->new_limit;
            if (s_resume_all(w, "extension review ended") < 0) return -1;
            /* The requester is told the reason and the new limit (ZS art. 19): the event says both. */
            out->note = js_arena_printf(w->a, "extension of %s approved: due %s (was %s); reason: %s", p->unit_id,
                                        s_date(w->a, c->due_ms), s_date(w->a, c->original_due_ms), p->reason);
            o->pending = NULL;
            return 0;
        }
        if (stage == JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW) {
            o->answer = p->answer;
            if (s_stop_all(w, "completed") < 0) return -1;
            dsp_limit_t cb = w->c->prof->callback_limit;
            if (cb.unit != DSP_LIMIT_NONE && cb.amount > 0 &&
                s_clock_begin(w, CK_CALLBACK, "", cb, "call back the requester (ZS art. 23)") < 0)
                return -1;
            out->note = js_arena_printf(w->a, "completion of %s approved", p->unit_id);
            o->pending = NULL;
            return 0;
        }
        break;
    case JS_ACT_REFUSE:
        if (s_resume_all(w, "review refused") < 0) return -1;
        out->note = js_arena_printf(w->a, "%s of %s refused: %s",
                                    p->kind == JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_RETURN ? "return"
                                    : p->kind == JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_EXTEND ? "extension"
                                                                                                 : "completion",
                                    p->unit_id, rd->reason);
        o->pending = NULL;
        return 0;
    case JS_ACT_ASSIGN: {
        const char *units[DSP_MAX_ASSIGN];
        size_t nu;
        s_units_of(rd, units, DSP_MAX_ASSIGN, &nu);
        if (!nu) return s_refuse(out, "bad_request", "assign needs the units (--to UNIT[,UNIT...], the first leads)");
        for (size_t i = 0; i < nu; i++)
            for (size_t k = 0; k < o->n_excluded_units; k++)
                if (strcmp(o->excluded_units[k], units[i]) == 0)
                    return s_refuse(out, "bad_request", "%s returned this order (approved): it cannot get it again", units[i]);
        dsp_result_t d;
        memset(&d, 0, sizeof d);
        if (dsp_assign_units(w->c->ref, w->c->prof, o, o->catalog_item, units, nu, &d) < 0)
            return s_refuse(out, "bad_request", "assign: %s", d.reason);
        /* Units fixed by a consultation cannot return the order again (ZS art. 17). */
        if (s_assign(w, &d, true, stage == JIESU__V1__STAGE__STAGE_CONSULTATION ? "consultation decided"
                                                                               : "coordination decided") < 0)
            return -1;
        o->escalation = JIESU__V1__ESCALATION_LEVEL__ESCALATION_LEVEL_UNSPECIFIED;
        out->note = js_arena_printf(w->a, "%s: %s leads%s%s", stage == JIESU__V1__STAGE__STAGE_CONSULTATION
                                    ? "consultation decided" : "coordination decided", units[0],
                                    s_empty(rd->reason) ? "" : "; ", s_empty(rd->reason) ? "" : rd->reason);
        return 0;
    }
    case JS_ACT_REOPEN: {
        if (s_empty(rd->reason)) return s_refuse(out, "bad_request", "reopen needs --reason: what the requester disputes");
        Jiesu__V1__Clock *cb = s_clock_find(o, CK_CALLBACK, "");
        int st = s_clock_state(w, cb);
        if ((st == JS_CLOCK_RUNNING || st == JS_CLOCK_PAUSED) && s_clock_push(w, cb, JS_CLOCK_STOP, 0, 0, 0, "reopened") < 0)
            return -1;
        /* The same units handle it again, counted afresh. */
        dsp_result_t d;
        memset(&d, 0, sizeof d);
        for (size_t i = 0; i < o->n_assignments && d.n < DSP_MAX_ASSIGN; i++) {
            const Jiesu__V1__Assignment *as = o->assignments[i];
            dsp_assign_t *x = &d.a[d.n++];
            snprintf(x->unit_id, sizeof x->unit_id, "%s", as->unit_id);
            x->role = as->role;
            if (as->limit) x->limit = (dsp_limit_t){as->limit->amount, (int)as->limit->unit};
            if (as->response_limit) x->response = (dsp_limit_t){as->response_limit->amount, (int)as->response_limit->unit};
            snprintf(x->office, sizeof x->office, "%s", as->office ? as->office : "");
            snprintf(x->reports_to, sizeof x->reports_to, "%s", as->reports_to ? as->reports_to : "");
            snprintf(x->district, sizeof x->district, "%s", as->district ? as->district : "");
            snprintf(x->catalog_item, sizeof x->catalog_item, "%s", as->catalog_item ? as->catalog_item : "");
        }
        if (!d.n) return s_refuse(out, "not_allowed", "the order has no units to reopen it to");
        snprintf(d.reason, sizeof d.reason, "reopened on the requester's dispute: %s", rd->reason);
        bool fixed = o->n_assignments && o->assignments[0]->fixed;
        if (s_assign(w, &d, fixed, "reopened: counted afresh") < 0) return -1;
        o->reopens++;
        o->answer = NULL;
        o->close_reason = NULL;
        out->note = js_arena_printf(w->a, "reopened: %s", rd->reason);
        return 0;
    }
    case JS_ACT_CLOSE: {
        if (stage == JIESU__V1__STAGE__STAGE_CONSULTATION && s_empty(rd->reason))
            return s_refuse(out, "bad_request", "closing a consultation needs --reason");
        if (s_stop_all(w, "closed") < 0) return -1;
        if (rd->rating) {
            if (rd->rating->satisfaction < 0 || rd->rating->satisfaction > 5)
                return s_refuse(out, "bad_request", "satisfaction is 1..5 (0: not given), got %d", rd->rating->satisfaction);
            o->rating = rd->rating;
            if (!o->rating->rated_ms) o->rating->rated_ms = w->now;
        }
        o->close_reason = s_empty(rd->reason) ? (char *)"callback done" : rd->reason;
        out->note = js_arena_printf(w->a, "closed: %s", o->close_reason);
        return 0;
    }
    default: break;
    }
    return s_refuse(out, "bad_request", "%s has no effect in stage %s", js_fsm_act_name(req->act), js_fsm_stage_name(stage));
}

static int s_operator_note(s_work_t *w, const act_req_t *req) {
    const char *text = req->ua ? req->ua->reason : req->rd ? req->rd->reason : NULL;
    if (s_empty(text)) return s_refuse(w->out, "bad_request", "a note needs its text (--reason)");
    w->out->note = js_arena_printf(w->a, "%s: %s", req->actor, text);
    return 0;
}

int act_apply(const act_ctx_t *c, js_arena_t *a, Jiesu__V1__Order *o, int stage, int saved, int64_t version,
              const char *const *marks, size_t nmarks, const act_req_t *req, int64_t now_ms, act_out_t *out) {
    memset(out, 0, sizeof *out);
    s_work_t w = {.c = c, .a = a, .o = o, .now = now_ms, .gen = version + 1, .marks = marks, .nmarks = nmarks,
                  .out = out};
    unsigned rc = act_role_class(o, req->actor);
    out->rc = rc;
    if (!rc) return s_refuse(out, "bad_request", "unknown role '%s': operator, reviewer, admin or unit:ID", req->actor ? req->actor : "");
    if ((req->act >= JS_ACT_ACCEPT && req->act <= JS_ACT_COMPLETE && !req->ua) ||
        (req->act >= JS_ACT_APPROVE && req->act <= JS_ACT_CLOSE && !req->rd))
        return s_refuse(out, "bad_request", "%s comes as a %s", js_fsm_act_name(req->act),
                        req->act <= JS_ACT_COMPLETE ? "UnitAction" : "ReviewDecision");
    int why;
    const js_fsm_row_t *row = js_fsm_find(stage, req->act, rc, &why);
    if (!row) {
        char buf[400];
        js_fsm_explain(stage, req->act, rc, why, buf, sizeof buf);
        return s_refuse(out, why == JS_FSM_FORBIDDEN ? "forbidden" : "not_allowed", "%s", buf);
    }
    out->stage = js_fsm_next(row, stage, saved);
    out->event = row->event;
    if (row->next == JS_FSM_PREV && !saved)
        return s_refuse(out, "internal", "no stage saved to go back to from %s", js_fsm_stage_name(stage));
    int r;
    if (req->act == JS_ACT_NOTE && (rc & (JS_RC_OPERATOR | JS_RC_REVIEWER | JS_RC_ADMIN)))
        r = s_operator_note(&w, req);
    else if (req->act == JS_ACT_NOTE && rc == JS_RC_COPY)
        r = s_operator_note(&w, req);
    else if (req->act >= JS_ACT_ACCEPT && req->act <= JS_ACT_COMPLETE)
        r = s_unit_action(&w, req, stage);
    else if (req->act >= JS_ACT_APPROVE && req->act <= JS_ACT_CLOSE)
        r = s_review(&w, req, stage, saved);
    else
        r = s_refuse(out, "bad_request", "%s is a service's own step", js_fsm_act_name(req->act));
    if (r < 0) return -1;
    if (out->stage != js_fsm_next(row, stage, saved) && out->stage != row->alt)
        return s_refuse(out, "internal", "%s in %s chose stage %s", js_fsm_act_name(req->act), js_fsm_stage_name(stage),
                        js_fsm_stage_name(out->stage));
    return s_arm(&w, true);
}

int act_first_dispatch(const act_ctx_t *c, js_arena_t *a, Jiesu__V1__Order *o, const dsp_result_t *d,
                       int64_t now_ms, act_out_t *out) {
    memset(out, 0, sizeof *out);
    s_work_t w = {.c = c, .a = a, .o = o, .now = now_ms, .gen = o->version + 1, .out = out};
    out->rc = JS_RC_SYSTEM;
    int act = d->kind == DSP_PARTNER ? JS_ACT_TRANSFER : d->kind == DSP_CONSULT ? JS_ACT_CONSULT : JS_ACT_DISPATCH;
    if (act == JS_ACT_DISPATCH && d->n == 0) act = JS_ACT_CONSULT;
    const js_fsm_row_t *row = js_fsm_find(JIESU__V1__STAGE__STAGE_CLASSIFIED, act, JS_RC_SYSTEM, NULL);
    if (!row) return s_refuse(out, "internal", "no row for %s", js_fsm_act_name(act));
    out->stage = row->next;
    out->event = row->event;
    o->profile = js_arena_strdup(a, c->prof->name);
    o->dispatch_reason = js_arena_strdup(a, d->reason);
    if (d->catalog_item[0]) o->catalog_item = js_arena_strdup(a, d->catalog_item);
    if (act == JS_ACT_TRANSFER) {
        o->partner_id = js_arena_strdup(a, d->partner_id);
        o->disposition = JIESU__V1__DISPOSITION__DISPOSITION_PARTNER;
        out->redrive = true; /* the partner sender sweeps the transferring stage */
        out->note = js_arena_printf(a, "outside this city: to partner %s (ZS art. 24): %s", d->partner_id, d->reason);
        return 0;
    }
    if (act == JS_ACT_CONSULT) {
        o->disposition = JIESU__V1__DISPOSITION__DISPOSITION_CONSULTATION;
        out->note = js_arena_printf(a, "to consultation: %s", d->reason);
        return 0;
    }
    o->disposition = JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH;
    if (s_assign(&w, d, false, "dispatched") < 0) return -1;
    out->note = js_arena_printf(a, "to %s: %s", d->a[0].unit_id, d->reason);
    /* The first dispatch writes no generations: absent means current. */
    return s_arm(&w, false);
}

void act_history(js_arena_t *a, Jiesu__V1__Order *o, const char *event, int64_t time_ms, const char *event_id,
                 const act_req_t *req, const char *note) {
    js_order_add_history(a, o, event, time_ms, event_id, NULL, note);
    Jiesu__V1__HistoryEntry *h = o->history[o->n_history - 1];
    Jiesu__V1__Actor *who = js_arena_alloc(a, sizeof *who);
    jiesu__v1__actor__init(who);
    const char *unit = s_unit_of(req->actor);
    if (unit) {
        who->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT;
        who->unit_id = js_arena_strdup(a, unit);
    } else if (strcmp(req->actor, "operator") == 0) {
        who->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR;
    } else if (strcmp(req->actor, "reviewer") == 0) {
        who->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER;
    } else if (strcmp(req->actor, "admin") == 0) {
        who->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_ADMIN;
    } else {
        who->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_SYSTEM;
    }
    who->name = js_arena_strdup(a, req->actor_name ? req->actor_name : "");
    h->actor = who;
}
