/* jiesu-dispatcher -- names the units of every classified order and takes
 * every action on it afterwards.
 *
 * Two inputs, one record:
 *  - classified orders (PULL + the re-drive sweep, common/stage.h): the
 *    dispatch decision (decide.h: catalog, gazetteer, unit registry, rule
 *    profile) and its clocks and timers (act.h) become one stored transition:
 *    dispatched, consultation, or transferring (to a partner hotline, sent on
 *    by partner.h);
 *  - unit and reviewer actions (ROUTER, actions.h): accept, contact, return,
 *    extend, escalate, report, complete, approve, refuse, assign, reopen,
 *    close, note, each checked against the one table of common/fsm.h here and
 *    again inside Redis.
 * main.c only wires; SIGHUP reloads the calendar, the reference data and the
 * profile (a refused file is logged and the one in use stays). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "actions.h"
#include "calendar.h"
#include "catalog.h"
#include "decide.h"
#include "log.h"
#include "overdue.h"
#include "partner.h"
#include "profile.h"
#include "service.h"
#include "stage.h"
#include "timer.h"

static const js_conf_def_t dispatcher_keys[] = {
    {"dispatcher.bind", "tcp://127.0.0.1:7012", "PULL endpoint(s) for classified orders"},
    {"dispatcher.actions_bind", "tcp://127.0.0.1:7020", "ROUTER endpoint(s) for unit and reviewer actions"},
    {"dispatch.catalog", "config/dispatch/catalog.tsv", "the dispatch catalog (派单目录)"},
    {"dispatch.gazetteer", "config/dispatch/gazetteer.tsv", "districts, streets, communities and partner areas"},
    {"dispatch.units", "config/dispatch/units.tsv", "the unit registry"},
    {"dispatch.profile_dir", "config/profiles", "directory of the rule profiles (NAME.conf)"},
    {"profile", "beijing", "rule profile: beijing or zhongshan (dispatch.profile_dir/NAME.conf)"},
    {"actions.batch_max", "64", "actions stored per FCALL jiesu_act"},
    {"actions.id_ttl_s", "604800", "how long an applied action's envelope id is remembered (a repeat is answered, not applied)"},
    {"clock.offset_ms", "0", "added to the wall clock for actions (tests jump ahead in time with it)"},
    {NULL, NULL, NULL},
};

/* Reference data and profile: swapped whole on reload. */
typedef struct refset {
    dsp_ref_t ref;
    dsp_profile_t prof;
    act_ctx_t ctx;
} refset_t;

typedef struct dispatcher {
    js_svc_t svc;
    js_stage_t *stage;
    actions_t *actions;
    overdue_t *overdue; /* overdue orders -> escalation, as the profile says */
    partner_t *partner; /* orders in stage transferring -> partner hotlines */
    refset_t *rs;
    js_clock_conf_t clk; /* calendar, buckets, warnings: shared with the deadline-timer */
    uint64_t *c_dispatched, *c_consult, *c_partner;
} dispatcher_t;

static refset_t *refs_load(dispatcher_t *d, const js_conf_t *conf, char *err, size_t errlen) {
    refset_t *rs = js_calloc(1, sizeof *rs);
    dsp_paths_t paths = {
        .catalog = js_conf_str(conf, "dispatch.catalog"),
        .gazetteer = js_conf_str(conf, "dispatch.gazetteer"),
        .units = js_conf_str(conf, "dispatch.units"),
    };
    dsp_problems_t pr;
    memset(&pr, 0, sizeof pr);
    int rc = dsp_ref_load(&rs->ref, &paths, &pr);
    if (rc == 0) {
        rc = dsp_profile_load_named(&rs->prof, js_conf_str(conf, "dispatch.profile_dir"), js_conf_str(conf, "profile"),
                                    &pr);
        if (rc < 0) dsp_ref_free(&rs->ref);
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s%s (%zu problem%s)", pr.n ? pr.v[0] : "cannot load the reference data",
                 pr.n > 1 ? "; and more: run jiesuctl catalog check" : "", pr.n + pr.dropped,
                 pr.n + pr.dropped == 1 ? "" : "s");
        dsp_problems_free(&pr);
        free(rs);
        return NULL;
    }
    dsp_problems_free(&pr);
    rs->ctx = (act_ctx_t){.clk = &d->clk, .ref = &rs->ref, .prof = &rs->prof};
    return rs;
}

static void refs_free(refset_t **rsp) {
    if (!*rsp) return;
    dsp_ref_free(&(*rsp)->ref);
    free(*rsp);
    *rsp = NULL;
}

/* The dispatch step of the pipeline: classified -> dispatched, consultation
 * or transferring, with the assignment map, clocks and timers. */
static int decide(void *arg, js_arena_t *a, Jiesu__V1__Order *o, int64_t now, js_stage_result_t *res) {
    dispatcher_t *d = arg;
    const act_ctx_t *c = &d->rs->ctx;
    dsp_result_t r;
    memset(&r, 0, sizeof r);
    if (dsp_decide(c->ref, c->prof, o, (const char *const *)o->excluded_units, o->n_excluded_units, now, &r) < 0) {
        js_log(JS_LOG_WARN, o->id, o->trace_id, "dispatch: %s", r.reason);
        return -EINVAL;
    }
    act_out_t *out = js_arena_alloc(a, sizeof *out);
    if (act_first_dispatch(c, a, o, &r, now, out) < 0) {
        js_log(JS_LOG_WARN, o->id, o->trace_id, "dispatch: %s: %s", out->code, out->err);
        return -EINVAL;
    }
    if (out->ntimers > JS_STAGE_MAX_TIMERS) return -ENOSPC;
    res->new_stage = out->stage;
    res->event_type = out->event;
    res->note = out->note;
    res->forward = false;
    res->redrive = out->redrive;
    res->redrive_at_ms = out->redrive ? now : 0; /* the partner sender takes it at once */
    res->ntimers = out->ntimers;
    memcpy(res->timers, out->timers, (size_t)out->ntimers * sizeof *res->timers);
    res->nfields = 0;
    if (out->asg) {
        res->fields[0] = "asg";
        res->fields[1] = out->asg;
        res->nfields = 1;
    }
    res->provisional = out->provisional;
    (*(out->stage == JIESU__V1__STAGE__STAGE_DISPATCHED  ? d->c_dispatched
       : out->stage == JIESU__V1__STAGE__STAGE_TRANSFERRING ? d->c_partner
                                                            : d->c_consult))++;
    return 0;
}

static int overdue_level(void *arg) { return ((dispatcher_t *)arg)->rs->prof.overdue_escalate; }

static void on_store_up(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    dispatcher_t *d = arg;
    js_stage_on_store_up(d->stage);
    overdue_on_store_up(d->overdue);
    partner_on_store_up(d->partner);
}

static void on_reload(js_svc_t *svc, void *arg) {
    dispatcher_t *d = arg;
    js_clock_conf_reload(&d->clk, svc->conf);
    char err[512];
    refset_t *rs = refs_load(d, svc->conf, err, sizeof err);
    if (!rs) {
        js_log(JS_LOG_ERROR, NULL, NULL, "reload refused, the reference data in use stays: %s", err);
        return;
    }
    /* Nothing keeps pointers into the old set past a callback: swap and free. */
    refset_t *old = d->rs;
    d->rs = rs;
    actions_set_ctx(d->actions, &rs->ctx);
    refs_free(&old);
    js_log(JS_LOG_INFO, NULL, NULL, "reference data reloaded: catalog %s, profile %s", rs->ref.catalog_version,
           rs->prof.name);
}

static void on_stop(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    dispatcher_t *d = arg;
    js_stage_stop(d->stage);
    overdue_stop(d->overdue);
    actions_stop(d->actions);
    partner_stop(d->partner);
}

static void on_close(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    dispatcher_t *d = arg;
    js_stage_close(&d->stage);
    overdue_close(&d->overdue);
    actions_close(&d->actions);
    partner_close(&d->partner);
}

int main(int argc, char **argv) {
    static dispatcher_t d;
    const js_conf_def_t *tables[] = {dispatcher_keys, js_clock_keys, partner_conf_keys, overdue_conf_keys, NULL};
    int rc = js_svc_init_tables(&d.svc, "dispatcher", "[--key value ...]", tables, argc, argv);
    if (rc == JS_CONF_EXIT) return 0;
    if (rc < 0) return 1;
    js_svc_t *svc = &d.svc;
    char err[512];
    static const struct { const char *key; int64_t min, max; } checks[] = {
        {"actions.batch_max", 1, 1024},
        {"actions.id_ttl_s", 60, INT64_C(1) << 32},
        {"clock.offset_ms", -(INT64_C(1) << 40), INT64_C(1) << 40},
        {"overdue.sweep_ms", 10, 3600000},
        {"overdue.lease_ms", 100, 86400000},
        {"overdue.batch", 1, 10000},
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(checks); i++) {
        if (js_conf_check_int(svc->conf, checks[i].key, checks[i].min, checks[i].max, err, sizeof err) < 0) {
            fprintf(stderr, "jiesu-dispatcher: %s\n", err);
            return 1;
        }
    }
    if (js_clock_conf_load(&d.clk, svc->conf, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-dispatcher: %s\n", err);
        return 1;
    }
    if (!(d.rs = refs_load(&d, svc->conf, err, sizeof err))) {
        fprintf(stderr, "jiesu-dispatcher: %s\n", err);
        return 1;
    }
    js_metrics_t *m = svc->metrics;
    d.c_dispatched = js_metrics_counter(m, "orders_dispatched");
    d.c_consult = js_metrics_counter(m, "orders_to_consultation");
    d.c_partner = js_metrics_counter(m, "orders_to_partner");
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
    actions_opts_t ao = {
        .bind = js_conf_str(svc->conf, "dispatcher.actions_bind"),
        .ctx = &d.rs->ctx,
        .offset_ms = js_conf_int(svc->conf, "clock.offset_ms"),
        .batch_max = (int)js_conf_int(svc->conf, "actions.batch_max"),
        .act_ttl_s = js_conf_int(svc->conf, "actions.id_ttl_s"),
        .max_msg = js_conf_int(svc->conf, "max_msg_bytes"),
        .maxlen = js_conf_int(svc->conf, "events.maxlen"),
    };
    if (!(d.actions = actions_new(svc, &ao, &e))) {
        fprintf(stderr, "jiesu-dispatcher: dispatcher.actions_bind %s: %s\n", ao.bind, js_strerror(e));
        return 1;
    }
    overdue_opts_t oo = {
        .actions = d.actions,
        .level = overdue_level,
        .level_arg = &d,
        .cal = (const js_cal_t *const *)&d.clk.cal,
        .sweep_ms = js_conf_int(svc->conf, "overdue.sweep_ms"),
        .lease_ms = js_conf_int(svc->conf, "overdue.lease_ms"),
        .batch = (int)js_conf_int(svc->conf, "overdue.batch"),
        .offset_ms = js_conf_int(svc->conf, "clock.offset_ms"),
    };
    d.overdue = overdue_new(svc, &oo);
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
    refs_free(&d.rs);
    js_clock_conf_free(&d.clk);
    return rc;
}
