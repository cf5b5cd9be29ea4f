/* overdue.c -- escalation of overdue orders (overdue.h). */
#include "overdue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "timer.h"

const js_conf_def_t overdue_conf_keys[] = {
    {"overdue.sweep_ms", "1000", "how often the dispatcher looks for overdue orders to escalate (profile overdue.escalate)"},
    {"overdue.lease_ms", "30000", "an overdue order taken and not done in this time is taken again"},
    {"overdue.batch", "200", "overdue orders taken per sweep"},
    {NULL, NULL, NULL},
};

struct overdue {
    js_svc_t *svc;
    overdue_opts_t o;
    uv_timer_t timer;
    bool sweeping, stopping, closed;
    int pending;            /* escalations and removals in flight in this sweep */
    uint64_t *c_escalated, *c_skipped;
};

typedef struct job {
    overdue_t *d;
    char id[40];
} job_t;

int64_t overdue_due(const js_cal_t *cal, const Jiesu__V1__Order *o, int64_t now_ms) {
    const char *lead = NULL;
    for (size_t i = 0; i < o->n_assignments; i++)
        if (o->assignments[i]->role == JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD ||
            o->assignments[i]->role == JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COORDINATE)
            lead = o->assignments[i]->unit_id;
    if (!lead) return 0;
    for (size_t i = o->n_clocks; i-- > 0;) {
        const Jiesu__V1__Clock *c = o->clocks[i];
        if (c->kind != JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING || strcmp(c->unit_id, lead) != 0) continue;
        js_clock_event_t ev[256];
        int n = js_timer_clock_events(c, ev, 256);
        js_clock_result_t r;
        if (n <= 0 || js_clock_eval(cal, ev, (size_t)n, now_ms, &r) < 0) return 0;
        return r.state == JS_CLOCK_RUNNING && r.overdue ? r.due_ms : 0;
    }
    return 0;
}

static void s_schedule(overdue_t *d, int64_t ms);

static void s_job_end(overdue_t *d) {
    d->svc->inflight--;
    if (--d->pending == 0) {
        d->sweeping = false;
        if (!d->stopping) s_schedule(d, d->o.sweep_ms);
    }
}

static void s_on_removed(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    JS_UNUSED(r);
    JS_UNUSED(status);
    job_t *j = arg;
    overdue_t *d = j->d;
    free(j);
    s_job_end(d);
}

static void s_remove(job_t *j) {
    if (js_store_command(j->d->svc->store, s_on_removed, j, "ZREM jiesu:overdue %s", j->id) < 0) {
        overdue_t *d = j->d;
        free(j);
        s_job_end(d); /* the lease brings it back */
    }
}

static void s_on_escalated(void *arg, const char *code, const char *msg) {
    job_t *j = arg;
    overdue_t *d = j->d;
    if (!strcmp(code, "ok")) {
        (*d->c_escalated)++;
    } else if (!strcmp(code, "unavailable") || !strcmp(code, "conflict") || !strcmp(code, "internal")) {
        /* not stored: the lease brings the order back for another try */
        js_log(JS_LOG_WARN, j->id, NULL, "overdue escalation not stored (%s: %s): tried again later", code, msg);
        free(j);
        s_job_end(d);
        return;
    } else if (strcmp(code, "repeated") != 0) {
        (*d->c_skipped)++; /* the order moved on (escalated, under review, completed): nothing to do */
    }
    s_remove(j);
}

static void s_take(overdue_t *d, const char *id, int64_t version, int stage, const uint8_t *blob, size_t len) {
    JS_UNUSED(version);
    job_t *j = js_calloc(1, sizeof *j);
    j->d = d;
    snprintf(j->id, sizeof j->id, "%s", id);
    d->pending++;
    d->svc->inflight++;
    int level = d->o.level(d->o.level_arg);
    int64_t now = js_now_ms() + d->o.offset_ms, due = 0;
    if (level > 0 && (stage == JIESU__V1__STAGE__STAGE_DISPATCHED || stage == JIESU__V1__STAGE__STAGE_ACCEPTED)) {
        Jiesu__V1__Order *o = jiesu__v1__order__unpack(NULL, len, blob);
        if (o) {
            due = overdue_due(*d->o.cal, o, now);
            jiesu__v1__order__free_unpacked(o, NULL);
        }
    }
    if (!due) {
        (*d->c_skipped)++;
        s_remove(j);
        return;
    }
    char aid[48], due_s[48], reason[160];
    snprintf(aid, sizeof aid, "overdue-%lld", (long long)due);
    js_cal_format(due, due_s, sizeof due_s);
    snprintf(reason, sizeof reason, "the handling limit passed at %s: escalated as profile overdue.escalate says", due_s);
    if (actions_submit_escalate(d->o.actions, id, aid, level, reason, s_on_escalated, j) < 0) {
        free(j);
        s_job_end(d); /* not taken now: the lease brings it back */
    }
}

static void s_on_claimed(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    overdue_t *d = arg;
    d->svc->inflight--;
    d->pending = 1; /* held until every job of this sweep is taken */
    d->svc->inflight++;
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY && !d->closed) {
        for (size_t i = 0; i + 3 < r->elements; i += 4) {
            const redisReply *id = r->element[i], *v = r->element[i + 1], *stg = r->element[i + 2], *blob = r->element[i + 3];
            if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
            s_take(d, id->str, strtoll(v->str, NULL, 10), stg->type == REDIS_REPLY_STRING ? atoi(stg->str) : 0,
                   blob->type == REDIS_REPLY_STRING ? (const uint8_t *)blob->str : (const uint8_t *)"",
                   blob->type == REDIS_REPLY_STRING ? blob->len : 0);
        }
    } else if (status < 0 || (r && r->type == REDIS_REPLY_ERROR)) {
        js_warn("overdue sweep: %s", status < 0 ? js_strerror(status) : r->str);
    }
    s_job_end(d);
}

static void s_sweep(overdue_t *d) {
    if (d->sweeping || d->stopping || d->closed) return;
    if (js_store_state(d->svc->store) != JS_STORE_UP) {
        s_schedule(d, d->o.sweep_ms);
        return;
    }
    d->sweeping = true;
    char now[24], lease[24], batch[16];
    snprintf(now, sizeof now, "%lld", (long long)(js_now_ms() + d->o.offset_ms));
    snprintf(lease, sizeof lease, "%lld", (long long)d->o.lease_ms);
    snprintf(batch, sizeof batch, "%d", d->o.batch);
    if (js_store_command(d->svc->store, s_on_claimed, d, "FCALL jiesu_overdue_claim 0 %s %s %s", now, lease, batch) < 0) {
        d->sweeping = false;
        s_schedule(d, d->o.sweep_ms);
        return;
    }
    d->svc->inflight++;
}

static void s_on_timer(uv_timer_t *t) { s_sweep(t->data); }

static void s_schedule(overdue_t *d, int64_t ms) {
    if (d->stopping || d->closed) return;
    uv_timer_start(&d->timer, s_on_timer, (uint64_t)(ms < 0 ? 0 : ms), 0);
}

overdue_t *overdue_new(js_svc_t *svc, const overdue_opts_t *o) {
    overdue_t *d = js_calloc(1, sizeof *d);
    d->svc = svc;
    d->o = *o;
    if (d->o.batch <= 0) d->o.batch = 200;
    d->c_escalated = js_metrics_counter(svc->metrics, "overdue_escalated");
    d->c_skipped = js_metrics_counter(svc->metrics, "overdue_not_escalated");
    uv_timer_init(&svc->loop, &d->timer);
    d->timer.data = d;
    return d;
}

void overdue_on_store_up(overdue_t *d) {
    if (d && !d->sweeping) s_schedule(d, 0);
}

void overdue_stop(overdue_t *d) {
    if (!d) return;
    d->stopping = true;
    uv_timer_stop(&d->timer);
}

static void s_on_closed(uv_handle_t *h) { free(h->data); }

void overdue_close(overdue_t **dp) {
    overdue_t *d = *dp;
    if (!d) return;
    *dp = NULL;
    d->closed = true;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, s_on_closed);
}
