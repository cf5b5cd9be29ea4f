/* jiesu-deadline-timer -- fires every clock of every order: warnings at the
 * configured shares of a limit and hours before due, then overdue
 * (jiesu.clock.warning, jiesu.clock.overdue), for response, handling, assist
 * and callback clocks; and recomputes provisional deadlines when a calendar
 * is loaded (jiesu.clock.recomputed).
 *
 * Timers live in Redis sorted sets jiesu:tm:{B} scored by fire time, one
 * self-describing member each (common/timer.h). One round claims what is due
 * in every bucket (jiesu_timer_claim: due members move to a lease set),
 * acknowledges (jiesu_timer_ack: checks the clock's generation and the fired
 * mark, records each event in jiesu:events once), then publishes on the bus
 * what was recorded, in due order. A claim never acknowledged (the process
 * died) comes back when its lease ends; its mark keeps it from being recorded
 * twice. Between rounds the service sleeps until the earliest fire time (a
 * libuv timer), at most timer.max_sleep_ms so it sees timers armed meanwhile.
 * After downtime it fires everything that came due, in due order, marked late.
 *
 * Control: a ROUTER on timer.control takes TimerControl requests (jiesuctl
 * calendar reload; a clock offset for tests when timer.allow_time_control). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "calendar.h"
#include "ids.h"
#include "service.h"
#include "stage.h"
#include "timer.h"

static const js_conf_def_t timer_keys[] = {
    {"timer.lease_ms", "30000", "a claimed timer not acknowledged in this time fires again"},
    {"timer.max_sleep_ms", "1000", "longest sleep between rounds (finds newly armed timers)"},
    {"timer.batch", "1000", "most timers claimed per bucket per round"},
    {"timer.late_ms", "60000", "a timer fired this long after its moment is marked late"},
    {"timer.control", "tcp://127.0.0.1:7014", "ROUTER for control requests (jiesuctl calendar reload)"},
    {"timer.allow_time_control", "false", "accept TIMER_COMMAND_CLOCK_OFFSET (tests only)"},
    {"timer.recompute_retry_ms", "1000", "a recompute pass with version conflicts runs again after this"},
    {"clock.offset_ms", "0", "added to the wall clock (tests jump ahead in time with it)"},
    {NULL, NULL, NULL},
};

typedef struct fired {
    js_timer_t t;
    int bucket;
    const char *member; /* arena */
    size_t member_len;
    const char *type;   /* "" for a malformed member: dropped */
    uint8_t *env;
    size_t env_len;
    int result;         /* jiesu_timer_ack's answer; -1 before */
} fired_t;

typedef struct ctl_req {
    uint8_t ident[256];
    size_t ident_len;
    int delim;
    char req_id[JS_ID_LEN + 1];
    bool active;
} ctl_req_t;

typedef struct deadline {
    js_svc_t svc;
    uv_timer_t wake, retry;
    js_sock_t *control;
    bool allow_time;
    int batch;
    int64_t lease_ms, max_sleep_ms, late_ms, offset_ms, maxlen, retry_ms;
    js_clock_conf_t clk; /* calendar, buckets, warnings: shared with the dispatcher */
    /* one round */
    bool in_round;
    int pending;          /* replies still expected in this round */
    bool full;            /* a bucket returned a whole batch: go again at once */
    js_arena_t *arena;
    fired_t *fired;
    size_t nfired, capfired;
    int *step_left;       /* acknowledgements outstanding per step of ACK_STEP timers */
    size_t nsteps, next_step;
    /* one recompute pass */
    bool recomputing, recompute_again;
    int rc_pending;
    Jiesu__V1__TimerControlReply rc_stats;
    ctl_req_t rc_req;     /* the control request to answer when the pass ends */
    int rc_files;         /* calendar files loaded by that request */
    uint64_t *c_warning, *c_overdue, *c_late, *c_bad, *c_ack_repeat, *c_stale, *c_marked, *c_rounds;
    uint64_t *c_recomputed, *c_conflicts, *c_control;
    js_hist_t *h_lag;
} deadline_t;

static int64_t now_ms(deadline_t *d) { return js_now_ms() + d->offset_ms; }

static void schedule(deadline_t *d, int64_t delay_ms);
static void round_start(deadline_t *d);
static void recompute_start(deadline_t *d);
static void on_retry(uv_timer_t *t);

/* ---- control replies ------------------------------------------------------------ */

static void ctl_send(deadline_t *d, const ctl_req_t *q, js_env_t *env) {
    js_svc_reply(d->control, q->ident, q->ident_len, q->delim, q->req_id, env); /* a peer that left: nothing to do */
}

static void ctl_error(deadline_t *d, const ctl_req_t *q, const char *code, const char *msg) {
    js_svc_reply_error(&d->svc, d->control, q->ident, q->ident_len, q->delim, q->req_id, NULL, code, msg, NULL);
}

static void ctl_reply(deadline_t *d, const ctl_req_t *q, Jiesu__V1__TimerControlReply *r) {
    r->offset_ms = d->offset_ms;
    r->now_ms = now_ms(d);
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.timer.control.reply", d->svc.source, "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_TIMER_CONTROL_REPLY;
    env.timer_control_reply = r;
    ctl_send(d, q, &env);
}

/* ---- firing: claim -> ack -> publish ------------------------------------------ */

static void round_end(deadline_t *d) {
    d->in_round = false;
    js_arena_destroy(&d->arena);
    free(d->fired);
    d->fired = NULL;
    d->nfired = d->capfired = 0;
    free(d->step_left);
    d->step_left = NULL;
    d->nsteps = d->next_step = 0;
    d->svc.inflight--;
    if (d->svc.stopping) return;
    if (d->full) {
        schedule(d, 0);
        return;
    }
    round_start(d); /* sleeps until the earliest pending fire time */
}

/* Publish what was recorded of fired[lo, hi), in due order. */
static void publish_recorded(deadline_t *d, size_t lo, size_t hi) {
    int64_t now = now_ms(d);
    for (size_t i = lo; i < hi; i++) {
        fired_t *f = &d->fired[i];
        switch (f->result) {
        case 1:
            js_svc_publish(&d->svc, f->type, f->env, f->env_len);
            js_hist_record(d->h_lag, (now - f->t.fire_ms) * 1000);
            if (js_timer_is_due(&f->t, NULL, NULL)) (*d->c_overdue)++;
            else (*d->c_warning)++;
            break;
        case 2: (*d->c_stale)++; break;
        case 3: (*d->c_marked)++; break;
        case 0: (*d->c_ack_repeat)++; break;
        default: break;
        }
    }
}

/* A round is acknowledged in steps of ACK_STEP timers in due order (one
 * FCALL per bucket present in the step, all pipelined on the one
 * connection): each step is published as soon as it is recorded, so the
 * first events of a large round do not wait for the last acknowledgement,
 * and the order across buckets holds. */
#define ACK_STEP 500

typedef struct ack_ctx {
    deadline_t *d;
    int bucket;
    size_t step;
} ack_ctx_t;

static void on_acked(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    ack_ctx_t *ac = arg;
    deadline_t *d = ac->d;
    size_t lo = ac->step * ACK_STEP, hi = lo + ACK_STEP < d->nfired ? lo + ACK_STEP : d->nfired;
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY) {
        size_t k = 0;
        for (size_t i = lo; i < hi; i++) {
            fired_t *f = &d->fired[i];
            if (f->bucket != ac->bucket) continue;
            if (k < r->elements && r->element[k]->type == REDIS_REPLY_INTEGER) f->result = (int)r->element[k]->integer;
            k++;
        }
    } else {
        js_warn("timer ack bucket %d failed (%s): the claims come back after their lease", ac->bucket,
                status < 0 ? js_strerror(status) : r && r->type == REDIS_REPLY_ERROR ? r->str : "?");
    }
    d->step_left[ac->step]--;
    free(ac);
    while (d->next_step < d->nsteps && d->step_left[d->next_step] == 0) {
        size_t a = d->next_step * ACK_STEP, b = a + ACK_STEP < d->nfired ? a + ACK_STEP : d->nfired;
        publish_recorded(d, a, b);
        d->next_step++;
    }
    if (--d->pending == 0) round_end(d);
}

static int cmp_fired(const void *a, const void *b) {
    const fired_t *x = a, *y = b;
    if (x->t.fire_ms != y->t.fire_ms) return x->t.fire_ms < y->t.fire_ms ? -1 : 1;
    return strcmp(x->t.order, y->t.order);
}

/* Build each timer's event (what it means is all in the member). */
static void build_event(deadline_t *d, fired_t *f, int64_t now) {
    js_timer_t *t = &f->t;
    double fraction;
    int before;
    bool overdue = js_timer_is_due(t, &fraction, &before);
    Jiesu__V1__Limit lim = JIESU__V1__LIMIT__INIT;
    lim.amount = t->amount;
    lim.unit = (Jiesu__V1__LimitUnit)t->limit_unit;
    Jiesu__V1__ClockEvent ce = JIESU__V1__CLOCK_EVENT__INIT;
    ce.order_id = t->order;
    ce.unit_id = t->unit;
    ce.clock = js_timer_clock_kind(t->kind);
    ce.kind = overdue ? JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_OVERDUE : JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_WARNING;
    ce.due_ms = t->due_ms;
    ce.fired_ms = now;
    ce.late = now - t->fire_ms > d->late_ms;
    ce.provisional = t->provisional;
    ce.fraction = (float)fraction;
    ce.limit = &lim;
    ce.what = t->what;
    f->type = overdue ? "jiesu.clock.overdue" : "jiesu.clock.warning";
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char eid[JS_ID_LEN + 1];
    js_env_init(&env, eid, f->type, d->svc.source, t->order, "");
    env.time_ms = now;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_CLOCK_EVENT;
    env.clock_event = &ce;
    f->env_len = protobuf_c_message_get_packed_size(&env.base);
    f->env = js_arena_alloc(d->arena, f->env_len);
    protobuf_c_message_pack(&env.base, f->env);
    if (ce.late) (*d->c_late)++;
}

static void ack_all(deadline_t *d) {
    int64_t now = now_ms(d);
    /* Due order across buckets (a lease that ran out sorts by its own moment). */
    if (d->nfired > 1) qsort(d->fired, d->nfired, sizeof *d->fired, cmp_fired);
    for (size_t i = 0; i < d->nfired; i++) {
        if (d->fired[i].t.kind) build_event(d, &d->fired[i], now);
        else d->fired[i].type = "";
    }
    d->pending = 0;
    d->nsteps = (d->nfired + ACK_STEP - 1) / ACK_STEP;
    d->next_step = 0;
    d->step_left = js_calloc(d->nsteps ? d->nsteps : 1, sizeof *d->step_left);
    char maxlen[24], nows[24];
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)d->maxlen);
    snprintf(nows, sizeof nows, "%lld", (long long)now);
    const char **argv = js_malloc((6 + 3 * ACK_STEP) * sizeof *argv);
    size_t *lens = js_malloc((6 + 3 * ACK_STEP) * sizeof *lens);
    for (size_t step = 0; step < d->nsteps; step++) {
        size_t lo = step * ACK_STEP, hi = lo + ACK_STEP < d->nfired ? lo + ACK_STEP : d->nfired;
        for (int b = 0; b < d->clk.buckets; b++) {
            size_t k = 0;
            char bs[16];
            snprintf(bs, sizeof bs, "%d", b);
#define ARG(p, l) (argv[k] = (const char *)(p), lens[k] = (l), k++)
#define ARGS(p) ARG(p, strlen(p))
            ARGS("FCALL");
            ARGS("jiesu_timer_ack");
            ARGS("0");
            ARGS(bs);
            ARGS(maxlen);
            ARGS(nows);
            for (size_t i = lo; i < hi; i++) {
                fired_t *f = &d->fired[i];
                if (f->bucket != b) continue;
                ARG(f->member, f->member_len);
                ARGS(f->type);
                ARG(f->env ? (const char *)f->env : "", f->env_len);
            }
#undef ARG
#undef ARGS
            if (k == 6) continue;
            ack_ctx_t *ac = js_malloc(sizeof *ac);
            ac->d = d;
            ac->bucket = b;
            ac->step = step;
            if (js_store_commandargv(d->svc.store, on_acked, ac, (int)k, argv, lens) == 0) {
                d->pending++;
                d->step_left[step]++;
            } else {
                free(ac);
            }
        }
    }
    free(argv);
    free(lens);
    if (d->pending == 0) round_end(d);
}

typedef struct claim_ctx {
    deadline_t *d;
    int bucket;
} claim_ctx_t;

static void on_claimed(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    claim_ctx_t *cc = arg;
    deadline_t *d = cc->d;
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY) {
        if ((int)(r->elements / 2) >= d->batch) d->full = true;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const redisReply *m = r->element[i];
            if (m->type != REDIS_REPLY_STRING) continue;
            fired_t f;
            memset(&f, 0, sizeof f);
            f.result = -1;
            if (js_timer_parse(m->str, m->len, &f.t) < 0) {
                (*d->c_bad)++;
                js_warn("timer bucket %d: malformed member dropped at acknowledgement", cc->bucket);
            }
            f.bucket = cc->bucket;
            f.member = memcpy(js_arena_alloc(d->arena, m->len), m->str, m->len);
            f.member_len = m->len;
            if (d->nfired == d->capfired) {
                d->capfired = d->capfired ? d->capfired * 2 : 256;
                d->fired = js_realloc(d->fired, d->capfired * sizeof *d->fired);
            }
            d->fired[d->nfired++] = f;
        }
    } else if (status < 0 || (r && r->type == REDIS_REPLY_ERROR)) {
        js_warn("timer claim bucket %d: %s", cc->bucket, status < 0 ? js_strerror(status) : r->str);
    }
    free(cc);
    if (--d->pending > 0) return;
    ack_all(d);
}

static void on_next_due(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    deadline_t *d = arg;
    d->svc.inflight--;
    if (d->svc.stopping) return;
    int64_t delay = d->max_sleep_ms;
    if (status == 0 && r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        int64_t until = r->integer - now_ms(d);
        if (until < delay) delay = until < 0 ? 0 : until;
    }
    schedule(d, delay);
}

static void round_claim(deadline_t *d) {
    d->in_round = true;
    d->full = false;
    d->arena = js_arena_new(16384);
    d->pending = 0;
    d->svc.inflight++;
    (*d->c_rounds)++;
    char now[24], lease[24], batch[16];
    snprintf(now, sizeof now, "%lld", (long long)now_ms(d));
    snprintf(lease, sizeof lease, "%lld", (long long)d->lease_ms);
    snprintf(batch, sizeof batch, "%d", d->batch);
    for (int b = 0; b < d->clk.buckets; b++) {
        claim_ctx_t *cc = js_malloc(sizeof *cc);
        cc->d = d;
        cc->bucket = b;
        char bs[16];
        snprintf(bs, sizeof bs, "%d", b);
        if (js_store_command(d->svc.store, on_claimed, cc, "FCALL jiesu_timer_claim 0 %s %s %s %s", bs, now,
                             lease, batch) == 0)
            d->pending++;
        else
            free(cc);
    }
    if (d->pending == 0) {
        d->nfired = 0;
        round_end(d);
    }
}

/* Claim if something is due now; else sleep until it is. */
static void round_start(deadline_t *d) {
    if (d->in_round || d->svc.stopping || js_store_state(d->svc.store) != JS_STORE_UP) {
        if (!d->in_round && !d->svc.stopping) schedule(d, d->max_sleep_ms);
        return;
    }
    char nb[16];
    snprintf(nb, sizeof nb, "%d", d->clk.buckets);
    if (js_store_command(d->svc.store, on_next_due, d, "FCALL_RO jiesu_next_due 0 %s", nb) == 0)
        d->svc.inflight++;
    else
        schedule(d, d->max_sleep_ms);
}

static void on_wake(uv_timer_t *t) {
    deadline_t *d = t->data;
    if (d->in_round || d->svc.stopping) return;
    if (js_store_state(d->svc.store) != JS_STORE_UP) {
        schedule(d, d->max_sleep_ms);
        return;
    }
    round_claim(d);
}

/* Sleep delay_ms, then claim. A zero delay claims on the next loop turn. */
static void schedule(deadline_t *d, int64_t delay_ms) {
    if (d->svc.stopping) return;
    uv_timer_start(&d->wake, on_wake, (uint64_t)(delay_ms < 0 ? 0 : delay_ms), 0);
}

/* ---- recomputing provisional deadlines ---------------------------------------- */

/* One order of a pass: the events to publish once jiesu_recompute stored it. */
typedef struct rc_order {
    deadline_t *d;
    js_arena_t *a;
    char id[JS_ID_LEN + 1];
    int nclocks;
    int nev;
    uint8_t **env;
    size_t *env_len;
} rc_order_t;

static void recompute_end(deadline_t *d) {
    d->recomputing = false;
    d->svc.inflight--;
    js_info("recompute pass: %d orders read, %d stored, %d clocks moved, %d conflicts", d->rc_stats.examined,
            d->rc_stats.orders, d->rc_stats.clocks, d->rc_stats.conflicts);
    if (d->svc.stopping) return;
    if (d->recompute_again) { /* the calendar changed during the pass: a pass on it answers */
        d->recompute_again = false;
        recompute_start(d);
        return;
    }
    if (d->rc_req.active) {
        d->rc_stats.files = d->rc_files;
        ctl_reply(d, &d->rc_req, &d->rc_stats);
        d->rc_req.active = false;
    }
    if (d->rc_stats.conflicts > 0) uv_timer_start(&d->retry, on_retry, (uint64_t)d->retry_ms, 0);
}

static void rc_done_one(deadline_t *d) {
    if (--d->rc_pending == 0) recompute_end(d);
}

static void on_recomputed(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    rc_order_t *ro = arg;
    deadline_t *d = ro->d;
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1) {
        long long code = r->element[0]->element[0]->integer;
        if (code == 1) {
            d->rc_stats.orders++;
            d->rc_stats.clocks += ro->nclocks;
            *d->c_recomputed += (uint64_t)ro->nclocks;
            for (int i = 0; i < ro->nev; i++) js_svc_publish(&d->svc, "jiesu.clock.recomputed", ro->env[i], ro->env_len[i]);
        } else if (code == 0) {
            d->rc_stats.conflicts++;
            (*d->c_conflicts)++;
        }
    } else {
        js_warn("recompute %s: %s", ro->id,
                status < 0 ? js_strerror(status) : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        d->rc_stats.conflicts++; /* tried again on the next pass */
    }
    js_arena_destroy(&ro->a);
    free(ro);
    rc_done_one(d);
}

static bool s_has_field(const char *const *names, size_t n, const char *f) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], f)) return true;
    return false;
}

/* Recompute one order's clocks on the calendar now loaded; store it when a
 * due moment or provisional mark changed. */
static void recompute_order(deadline_t *d, const char *id, const redisReply *h) {
    const char *ver = NULL, *blob = NULL;
    size_t blob_len = 0;
    size_t nmarks = 0;
    const char **marks = js_malloc((h->elements / 2 + 1) * sizeof *marks);
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *k = h->element[i]->str;
        if (!strcmp(k, "v")) ver = h->element[i + 1]->str;
        else if (!strcmp(k, "d")) blob = h->element[i + 1]->str, blob_len = h->element[i + 1]->len;
        else if (!strncmp(k, "f:", 2)) marks[nmarks++] = k;
    }
    if (!ver || !blob) { /* gone: drop it from the set */
        js_store_command(d->svc.store, NULL, NULL, "SREM jiesu:prov %s", id);
        free(marks);
        return;
    }
    /* Decoded into the order's arena: the history entry added below lives there too. */
    js_arena_t *oa = js_arena_new(8192);
    Jiesu__V1__Order *o = jiesu__v1__order__unpack(js_arena_allocator(oa), blob_len, (const uint8_t *)blob);
    if (!o) {
        js_log(JS_LOG_WARN, id, "", "recompute: stored order does not decode");
        js_arena_destroy(&oa);
        free(marks);
        return;
    }
    int64_t now = now_ms(d), v = strtoll(ver, NULL, 10), nv = v + 1;
    rc_order_t *ro = js_calloc(1, sizeof *ro);
    ro->d = d;
    ro->a = oa;
    snprintf(ro->id, sizeof ro->id, "%s", id);
    js_arena_t *a = ro->a;
    size_t nc = o->n_clocks, ngen = 0, nt = 0;
    const char **gens = js_arena_alloc(a, (2 * nc + 1) * sizeof *gens);
    js_timer_t *plan = js_arena_alloc(a, (nc * JS_TIMER_MAX_PLAN + 1) * sizeof *plan);
    ro->env = js_arena_alloc(a, (nc + 1) * sizeof *ro->env);
    ro->env_len = js_arena_alloc(a, (nc + 1) * sizeof *ro->env_len);
    bool changed = false, prov = false;
    char gen[24];
    snprintf(gen, sizeof gen, "%lld", (long long)nv);
    for (size_t i = 0; i < nc; i++) {
        Jiesu__V1__Clock *c = o->clocks[i];
        int64_t due0 = c->due_ms, orig0 = c->original_due_ms;
        int prov0 = c->provisional;
        js_clock_result_t res;
        if (js_timer_clock_refresh(d->clk.cal, c, now, &res) < 0) {
            js_log(JS_LOG_WARN, id, o->trace_id, "recompute: clock %d of %s: %s", (int)c->kind, c->unit_id, res.err);
            prov = prov || c->provisional;
            continue;
        }
        prov = prov || c->provisional;
        if (c->provisional != prov0) changed = true;
        if (c->due_ms == due0 && c->original_due_ms == orig0) continue;
        changed = true;
        ro->nclocks++;
        char kind = js_timer_kind_char(c->kind), field[128];
        if (kind && js_timer_gen_field(kind, c->unit_id, field, sizeof field) > 0 &&
            !s_has_field(gens, ngen * 2, field)) {
            gens[ngen * 2] = js_arena_strdup(a, field);
            gens[ngen * 2 + 1] = gen;
            ngen++;
            char err[200];
            int n = js_timer_plan_clock(&d->clk, o->id, c, nv, now, marks, nmarks, plan + nt, JS_TIMER_MAX_PLAN, err,
                                        sizeof err);
            if (n > 0) nt += (size_t)n;
            else if (n < 0) js_log(JS_LOG_WARN, id, o->trace_id, "recompute: no plan: %s", err);
        }
        /* The assignment's copy of the dues. */
        for (size_t k = 0; k < o->n_assignments; k++) {
            Jiesu__V1__Assignment *as = o->assignments[k];
            if (strcmp(as->unit_id, c->unit_id)) continue;
            if (c->kind == JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING) as->due_ms = c->due_ms;
            else if (c->kind == JIESU__V1__CLOCK_KIND__CLOCK_KIND_RESPONSE) as->response_due_ms = c->due_ms;
            as->provisional = c->provisional;
        }
        Jiesu__V1__Limit lim = JIESU__V1__LIMIT__INIT;
        lim.amount = res.amount;
        lim.unit = (Jiesu__V1__LimitUnit)res.unit;
        Jiesu__V1__ClockEvent ce = JIESU__V1__CLOCK_EVENT__INIT;
        ce.order_id = o->id;
        ce.unit_id = c->unit_id;
        ce.clock = c->kind;
        ce.kind = JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_RECOMPUTED;
        ce.due_ms = c->due_ms;
        ce.original_due_ms = c->original_due_ms;
        ce.previous_due_ms = due0;
        ce.fired_ms = now;
        ce.provisional = c->provisional;
        ce.limit = &lim;
        js_env_t env = JIESU__V1__ENVELOPE__INIT;
        char eid[JS_ID_LEN + 1];
        js_env_init(&env, eid, "jiesu.clock.recomputed", d->svc.source, o->id, o->trace_id);
        env.time_ms = now;
        env.version = nv;
        env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_CLOCK_EVENT;
        env.clock_event = &ce;
        size_t el = protobuf_c_message_get_packed_size(&env.base);
        ro->env[ro->nev] = js_arena_alloc(a, el);
        protobuf_c_message_pack(&env.base, ro->env[ro->nev]);
        ro->env_len[ro->nev++] = el;
        char due_s[48], prev_s[48];
        js_cal_format(c->due_ms, due_s, sizeof due_s);
        js_cal_format(due0, prev_s, sizeof prev_s);
        js_order_add_history(a, o, "jiesu.clock.recomputed", now, js_arena_strdup(a, eid), NULL,
                             js_arena_printf(a, "%s %s: due %s (was %s)%s", c->unit_id,
                                             kind == 'r' ? "response" : kind == 'h' ? "handling"
                                             : kind == 'a' ? "assist" : "callback",
                                             due_s, prev_s, c->provisional ? " provisional" : ""));
    }
    if (!changed) {
        if (!prov) js_store_command(d->svc.store, NULL, NULL, "SREM jiesu:prov %s", id);
        free(marks);
        js_arena_destroy(&ro->a);
        free(ro);
        return;
    }
    o->version = nv;
    size_t bl = protobuf_c_message_get_packed_size(&o->base);
    uint8_t *nb = js_arena_alloc(a, bl);
    protobuf_c_message_pack(&o->base, nb);
    int bucket = js_timer_bucket(o->id, d->clk.buckets);
    size_t argc = 4 + 5 + 2 * ngen + 1 + 2 * (size_t)ro->nev + 1 + 3 * nt, k = 0;
    const char **argv = js_arena_alloc(a, argc * sizeof *argv);
    size_t *lens = js_arena_alloc(a, argc * sizeof *lens);
    char maxlen[24], nge[16], nev[16], ntm[16], bs[16];
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)d->maxlen);
    snprintf(nge, sizeof nge, "%zu", ngen);
    snprintf(nev, sizeof nev, "%d", ro->nev);
    snprintf(ntm, sizeof ntm, "%zu", nt);
    snprintf(bs, sizeof bs, "%d", bucket);
#define ARG(p, l) (argv[k] = (const char *)(p), lens[k] = (l), k++)
#define ARGS(p) ARG(p, strlen(p))
    ARGS("FCALL");
    ARGS("jiesu_recompute");
    ARGS("1");
    ARGS(js_arena_printf(a, "o:{%s}", id));
    ARGS(maxlen);
    ARGS(ro->id);
    ARGS(js_arena_strdup(a, ver));
    ARG(nb, bl);
    ARGS(prov ? "1" : "0");
    ARGS(nge);
    for (size_t i = 0; i < 2 * ngen; i++) ARGS(gens[i]);
    ARGS(nev);
    for (int i = 0; i < ro->nev; i++) {
        ARGS("jiesu.clock.recomputed");
        ARG(ro->env[i], ro->env_len[i]);
    }
    ARGS(ntm);
    for (size_t i = 0; i < nt; i++) {
        char buf[JS_TIMER_MEMBER_MAX + 1];
        int ml = js_timer_format(&plan[i], buf, sizeof buf);
        ARGS(bs);
        ARGS(js_arena_printf(a, "%lld", (long long)plan[i].fire_ms));
        if (ml > 0) ARG(js_arena_strdup(a, buf), (size_t)ml);
        else ARGS("");
    }
#undef ARG
#undef ARGS
    free(marks);
    if (js_store_commandargv(d->svc.store, on_recomputed, ro, (int)k, argv, lens) == 0) {
        d->rc_pending++;
    } else {
        d->rc_stats.conflicts++;
        js_arena_destroy(&ro->a);
        free(ro);
    }
}

typedef struct rc_read {
    deadline_t *d;
    char id[JS_ID_LEN + 1];
} rc_read_t;

static void on_order_read(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    rc_read_t *rr = arg;
    deadline_t *d = rr->d;
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY) {
        d->rc_stats.examined++;
        if (!d->svc.stopping) recompute_order(d, rr->id, r);
    } else {
        d->rc_stats.conflicts++;
    }
    free(rr);
    rc_done_one(d);
}

static void on_prov_members(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    deadline_t *d = arg;
    d->rc_pending++; /* held while the reads are sent */
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *m = r->element[i];
            if (m->type != REDIS_REPLY_STRING || m->len > JS_ID_LEN || !m->len) continue;
            rc_read_t *rr = js_malloc(sizeof *rr);
            rr->d = d;
            memcpy(rr->id, m->str, m->len);
            rr->id[m->len] = '\0';
            if (js_store_command(d->svc.store, on_order_read, rr, "HGETALL o:{%s}", rr->id) == 0) d->rc_pending++;
            else free(rr);
        }
    } else {
        js_warn("recompute: reading jiesu:prov failed: %s", status < 0 ? js_strerror(status) : "bad reply");
        d->rc_stats.conflicts++;
    }
    d->rc_pending--; /* the one taken at the start of the pass */
    rc_done_one(d);
}

static void on_retry(uv_timer_t *t) { recompute_start(t->data); }

/* A pass over jiesu:prov with the calendar now loaded. */
static void recompute_start(deadline_t *d) {
    if (d->svc.stopping) return;
    if (d->recomputing) {
        d->recompute_again = true;
        return;
    }
    memset(&d->rc_stats, 0, sizeof d->rc_stats);
    jiesu__v1__timer_control_reply__init(&d->rc_stats);
    if (js_store_state(d->svc.store) != JS_STORE_UP ||
        js_store_command(d->svc.store, on_prov_members, d, "SMEMBERS jiesu:prov") < 0) {
        if (d->rc_req.active) {
            ctl_error(d, &d->rc_req, "unavailable",
                      "calendar loaded; Redis is not reachable: provisional deadlines are recomputed when it is");
            d->rc_req.active = false;
        }
        d->recompute_again = false;
        uv_timer_start(&d->retry, on_retry, (uint64_t)d->retry_ms, 0);
        return;
    }
    d->recomputing = true;
    d->rc_pending = 1; /* released by on_prov_members */
    d->svc.inflight++;
}

/* ---- control ---------------------------------------------------------------------- */

static void on_control(js_sock_t *s, const js_frame_t *f, size_t n, void *arg) {
    JS_UNUSED(s);
    deadline_t *d = arg;
    if (n < 2) return;
    ctl_req_t q;
    memset(&q, 0, sizeof q);
    q.delim = n == 3 && f[1].size == 0;
    if (f[0].size > sizeof q.ident) return;
    memcpy(q.ident, f[0].data, f[0].size);
    q.ident_len = f[0].size;
    (*d->c_control)++;
    if (n > 3 || (n == 3 && !q.delim)) {
        ctl_error(d, &q, "bad_request", "want one envelope frame");
        return;
    }
    js_env_t *env;
    char err[256];
    if (js_env_unpack(f[n - 1].data, f[n - 1].size, 65536, &env, err, sizeof err) < 0) {
        ctl_error(d, &q, "bad_message", err);
        return;
    }
    snprintf(q.req_id, sizeof q.req_id, "%s", env->id);
    if (env->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_PING) {
        js_svc_reply_pong(&d->svc, d->control, q.ident, q.ident_len, q.delim, q.req_id);
    } else if (env->payload_case != JIESU__V1__ENVELOPE__PAYLOAD_TIMER_CONTROL) {
        ctl_error(d, &q, "unsupported", "the deadline-timer takes a TimerControl or a ping");
    } else if (env->timer_control->command == JIESU__V1__TIMER_COMMAND__TIMER_COMMAND_CALENDAR_RELOAD) {
        if (d->rc_req.active) {
            ctl_error(d, &q, "busy", "a calendar reload is being answered; try again");
        } else {
            char why[512];
            int files = js_clock_conf_try_reload(&d->clk, d->svc.conf, why, sizeof why);
            if (files < 0) {
                ctl_error(d, &q, "bad_calendar", why);
            } else {
                d->rc_req = q;
                d->rc_req.active = true;
                d->rc_files = files; /* reported with the pass */
                recompute_start(d);  /* or after the pass under way */
            }
        }
    } else if (env->timer_control->command == JIESU__V1__TIMER_COMMAND__TIMER_COMMAND_CLOCK_OFFSET) {
        if (!d->allow_time) {
            ctl_error(d, &q, "forbidden", "time control is off (timer.allow_time_control)");
        } else {
            d->offset_ms = env->timer_control->offset_ms;
            js_info("clock offset now %lld ms", (long long)d->offset_ms);
            Jiesu__V1__TimerControlReply r = JIESU__V1__TIMER_CONTROL_REPLY__INIT;
            ctl_reply(d, &q, &r);
            if (!d->in_round) schedule(d, 0);
        }
    } else {
        ctl_error(d, &q, "bad_request", "timer_control.command: want calendar reload or clock offset");
    }
    js_env_free(env);
}

/* ---- life ------------------------------------------------------------------- */

static void on_store_up(js_svc_t *svc, void *arg) {
    deadline_t *d = arg;
    /* After downtime: everything that came due, now; but not before the
     * publisher's connection to the bus had a heartbeat's time to come up,
     * or a PUB socket would drop the first events (the stream keeps them anyway). */
    int64_t settle = d->svc.started_ms + js_conf_int(svc->conf, "heartbeat_ms") - js_now_ms();
    if (!d->in_round) schedule(d, settle > 0 ? settle : 0);
}

static void on_reload(js_svc_t *svc, void *arg) {
    deadline_t *d = arg;
    if (js_clock_conf_try_reload(&d->clk, svc->conf, NULL, 0) >= 0) recompute_start(d);
}

static void on_stop(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    deadline_t *d = arg;
    uv_timer_stop(&d->wake);
    uv_timer_stop(&d->retry);
    if (d->control) js_sock_pause(d->control);
}

static void on_close(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    deadline_t *d = arg;
    uv_close((uv_handle_t *)&d->wake, NULL);
    uv_close((uv_handle_t *)&d->retry, NULL);
    js_sock_close(&d->control);
}

int main(int argc, char **argv) {
    static deadline_t d;
    const js_conf_def_t *tables[] = {timer_keys, js_clock_keys, NULL};
    int rc = js_svc_init_tables(&d.svc, "deadline-timer", "[--key value ...]", tables, argc, argv);
    if (rc == JS_CONF_EXIT) return 0;
    if (rc < 0) return 1;
    js_svc_t *svc = &d.svc;
    char err[256];
    static const struct { const char *key; int64_t min, max; } checks[] = {
        {"timer.lease_ms", 100, 86400000},
        {"timer.max_sleep_ms", 1, 60000}, {"timer.batch", 1, 100000},
        {"timer.late_ms", 0, 86400000},   {"clock.offset_ms", -(INT64_C(1) << 40), INT64_C(1) << 40},
        {"timer.recompute_retry_ms", 10, 3600000},
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(checks); i++) {
        if (js_conf_check_int(svc->conf, checks[i].key, checks[i].min, checks[i].max, err, sizeof err) < 0) {
            fprintf(stderr, "jiesu-deadline-timer: %s\n", err);
            return 1;
        }
    }
    const char *allow = js_conf_str(svc->conf, "timer.allow_time_control");
    if (strcmp(allow, "true") && strcmp(allow, "false")) {
        fprintf(stderr, "jiesu-deadline-timer: timer.allow_time_control: want true or false\n");
        return 1;
    }
    d.allow_time = !strcmp(allow, "true");
    d.batch = (int)js_conf_int(svc->conf, "timer.batch");
    d.lease_ms = js_conf_int(svc->conf, "timer.lease_ms");
    d.max_sleep_ms = js_conf_int(svc->conf, "timer.max_sleep_ms");
    d.late_ms = js_conf_int(svc->conf, "timer.late_ms");
    d.offset_ms = js_conf_int(svc->conf, "clock.offset_ms");
    d.retry_ms = js_conf_int(svc->conf, "timer.recompute_retry_ms");
    d.maxlen = js_conf_int(svc->conf, "events.maxlen");
    if (js_clock_conf_load(&d.clk, svc->conf, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-deadline-timer: %s\n", err);
        return 1;
    }
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.router_mandatory = true;
    int e = 0;
    d.control = js_sock_new(&svc->loop, svc->zctx, ZMQ_ROUTER, &o, &e);
    const char *ep = js_conf_str(svc->conf, "timer.control");
    if (!d.control || (e = js_sock_bind(d.control, ep)) < 0) {
        fprintf(stderr, "jiesu-deadline-timer: timer.control %s: %s\n", ep, js_strerror(e));
        js_sock_close(&d.control);
        js_clock_conf_free(&d.clk);
        return 1;
    }
    js_sock_start(d.control, on_control, NULL, &d);
    js_metrics_t *m = svc->metrics;
    d.c_warning = js_metrics_counter(m, "warnings_fired");
    d.c_overdue = js_metrics_counter(m, "overdue_fired");
    d.c_late = js_metrics_counter(m, "fired_late");
    d.c_bad = js_metrics_counter(m, "timers_malformed");
    d.c_ack_repeat = js_metrics_counter(m, "acks_repeated");
    d.c_stale = js_metrics_counter(m, "timers_stale");
    d.c_marked = js_metrics_counter(m, "timers_fired_before");
    d.c_rounds = js_metrics_counter(m, "rounds");
    d.c_recomputed = js_metrics_counter(m, "clocks_recomputed");
    d.c_conflicts = js_metrics_counter(m, "recompute_conflicts");
    d.c_control = js_metrics_counter(m, "control_requests");
    d.h_lag = js_metrics_hist(m, "fire_lag_us");
    uv_timer_init(&svc->loop, &d.wake);
    d.wake.data = &d;
    uv_timer_init(&svc->loop, &d.retry);
    d.retry.data = &d;
    svc->on_store_up = on_store_up;
    svc->on_stop = on_stop;
    svc->on_reload = on_reload;
    svc->on_close = on_close;
    svc->hook_arg = &d;
    rc = js_svc_run(svc);
    js_clock_conf_free(&d.clk);
    return rc;
}
