/* jiesu-dispatcher -- takes classified orders, names the unit and its limits,
 * arms the first clocks, all in one stored transition (jiesu.order.dispatched).
 * Unit and reviewer actions (issue 5) will come in on their own ROUTER. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "service.h"
#include "stage.h"
#include "timer.h"
#include "routes.h"
#include "partner.h"

static const js_conf_def_t dispatcher_keys[] = {
    {"dispatcher.bind", "tcp://127.0.0.1:7012", "PULL endpoint(s) for classified orders"},
    {"dispatch.routes", "config/dispatch/routes.tsv", "topic -> unit and limits"},
    {"profile", "beijing", "rule profile: beijing or zhongshan"},
    {NULL, NULL, NULL},
};

typedef struct dispatcher {
    js_svc_t svc;
    js_stage_t *stage;
    partner_t *partner; /* orders in stage transferring -> partner hotlines */
    routes_t routes;
    js_clock_conf_t clk; /* calendar, buckets, warnings: shared with the deadline-timer */
} dispatcher_t;

static int64_t due_of(dispatcher_t *d, int64_t start, const route_limit_t *l, int *provisional) {
    int64_t due = 0;
    int prov = 0;
    if (js_cal_due(d->clk.cal, start, l->amount, l->unit, &due, &prov) < 0) return -1;
    if (prov) *provisional = 1;
    return due;
}

/* Arm every timer of the order's clocks (common/timer.h js_timer_plan): the
 * first dispatch needs no "g:" field, so the generation is simply the new
 * version. */
static int arm(dispatcher_t *d, js_arena_t *a, const Jiesu__V1__Order *o, int64_t now, js_stage_result_t *res) {
    int b = js_timer_bucket(o->id, d->clk.buckets);
    res->ntimers = 0;
    for (size_t i = 0; i < o->n_clocks; i++) {
        js_timer_t plan[JS_TIMER_MAX_PLAN];
        char err[200];
        int n = js_timer_plan_clock(&d->clk, o->id, o->clocks[i], o->version + 1, now, NULL, 0, plan,
                                    JS_TIMER_MAX_PLAN, err, sizeof err);
        if (n < 0) {
            js_log(JS_LOG_WARN, o->id, o->trace_id, "dispatch: timers not planned: %s", err);
            return n;
        }
        for (int k = 0; k < n; k++) {
            char buf[JS_TIMER_MEMBER_MAX + 1];
            if (res->ntimers == JS_STAGE_MAX_TIMERS || js_timer_format(&plan[k], buf, sizeof buf) < 0) return -ENOSPC;
            res->timers[res->ntimers++] = (js_timer_arm_t){b, plan[k].fire_ms, js_arena_strdup(a, buf)};
        }
    }
    return 0;
}

static int decide(void *arg, js_arena_t *a, Jiesu__V1__Order *o, int64_t now, js_stage_result_t *res) {
    dispatcher_t *d = arg;
    const route_t *r = routes_find(&d->routes, o->topic);
    route_limit_t limit = r->limit, response = r->response;
    if (o->urgency == JIESU__V1__URGENCY__URGENCY_EMERGENCY) {
        limit = (route_limit_t){24, 3};
        response = (route_limit_t){1, 3};
    } else if (o->urgency == JIESU__V1__URGENCY__URGENCY_HIGH && (limit.unit != 1 || limit.amount > 3)) {
        limit = (route_limit_t){3, 1};
    }
    int prov = 0;
    int64_t due = due_of(d, now, &limit, &prov), rdue = due_of(d, now, &response, &prov);
    if (due < 0 || rdue < 0) return -EINVAL;

    Jiesu__V1__Assignment *as = js_arena_alloc(a, sizeof *as);
    jiesu__v1__assignment__init(as);
    Jiesu__V1__Limit *lim = js_arena_alloc(a, sizeof *lim), *rlim = js_arena_alloc(a, sizeof *rlim);
    jiesu__v1__limit__init(lim);
    jiesu__v1__limit__init(rlim);
    lim->amount = limit.amount;
    lim->unit = (Jiesu__V1__LimitUnit)limit.unit;
    rlim->amount = response.amount;
    rlim->unit = (Jiesu__V1__LimitUnit)response.unit;
    as->unit_id = (char *)r->unit;
    as->role = JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD;
    as->limit = lim;
    as->response_limit = rlim;
    as->assigned_ms = now;
    as->first_receipt_ms = now;
    as->due_ms = due;
    as->response_due_ms = rdue;
    as->provisional = prov;
    as->catalog_item = js_arena_printf(a, "route:%s", r->topic);
    /* The order's clocks, each starting with its limit: show explains them, and
     * pauses, resets and extensions will append to them. */
    Jiesu__V1__Clock **clocks = js_arena_alloc(a, 2 * sizeof *clocks);
    for (int i = 0; i < 2; i++) {
        Jiesu__V1__Clock *c = js_arena_alloc(a, sizeof *c);
        jiesu__v1__clock__init(c);
        Jiesu__V1__ClockEntry *e = js_arena_alloc(a, sizeof *e), **ev = js_arena_alloc(a, sizeof *ev);
        jiesu__v1__clock_entry__init(e);
        e->kind = JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_START;
        e->time_ms = now;
        e->limit = i ? lim : rlim;
        ev[0] = e;
        c->kind = i ? JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING : JIESU__V1__CLOCK_KIND__CLOCK_KIND_RESPONSE;
        c->unit_id = (char *)r->unit;
        c->events = ev;
        c->n_events = 1;
        c->due_ms = c->original_due_ms = i ? due : rdue;
        c->provisional = prov;
        clocks[i] = c;
    }
    o->clocks = clocks;
    o->n_clocks = 2;

    Jiesu__V1__Assignment **v = js_arena_alloc(a, sizeof *v);
    v[0] = as;
    o->assignments = v;
    o->n_assignments = 1;
    o->catalog_item = as->catalog_item;
    o->disposition = JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH;

    res->new_stage = JIESU__V1__STAGE__STAGE_DISPATCHED;
    res->event_type = "jiesu.order.dispatched";
    res->forward = false;
    res->redrive = false;
    /* Every timer of the first clocks: warnings, hours before, due. */
    return arm(d, a, o, now, res);
}

static void on_store_up(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    dispatcher_t *d = arg;
    js_stage_on_store_up(d->stage);
    partner_on_store_up(d->partner);
}

static void on_reload(js_svc_t *svc, void *arg) { js_clock_conf_reload(&((dispatcher_t *)arg)->clk, svc->conf); }

static void on_stop(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    dispatcher_t *d = arg;
    js_stage_stop(d->stage);
    partner_stop(d->partner);
}

static void on_close(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    dispatcher_t *d = arg;
    js_stage_close(&d->stage);
    partner_close(&d->partner);
}

int main(int argc, char **argv) {
    static dispatcher_t d;
    const js_conf_def_t *tables[] = {dispatcher_keys, js_clock_keys, partner_conf_keys, NULL};
    int rc = js_svc_init_tables(&d.svc, "dispatcher", "[--key value ...]", tables, argc, argv);
    if (rc == JS_CONF_EXIT) return 0;
    if (rc < 0) return 1;
    js_svc_t *svc = &d.svc;
    char err[512];
    if (routes_load(&d.routes, js_conf_str(svc->conf, "dispatch.routes"), err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-dispatcher: dispatch.routes: %s\n", err);
        return 1;
    }
    if (js_clock_conf_load(&d.clk, svc->conf, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-dispatcher: %s\n", err);
        return 1;
    }
    js_stage_opts_t so = {
        .stage = JIESU__V1__STAGE__STAGE_CLASSIFIED,
        .bind = js_conf_str(svc->conf, "dispatcher.bind"),
        .next = NULL,
        .decide = decide,
        .arg = &d,
    };
    int e = 0;
    d.stage = js_stage_new(svc, &so, &e);
    if (!d.stage) return 1;
    if (!(d.partner = partner_new(svc, err, sizeof err))) {
        fprintf(stderr, "jiesu-dispatcher: %s\n", err);
        return 1;
    }
    svc->on_store_up = on_store_up;
    svc->on_stop = on_stop;
    svc->on_reload = on_reload;
    svc->on_close = on_close;
    svc->hook_arg = &d;
    rc = js_svc_run(svc);
    routes_free(&d.routes);
    js_clock_conf_free(&d.clk);
    return rc;
}
