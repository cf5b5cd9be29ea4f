/* jiesu-deadline-timer -- fires every clock of every order: warnings at the
 * configured shares of a limit, then overdue (jiesu.clock.warning,
 * jiesu.clock.overdue).
 *
 * Timers live in Redis sorted sets jiesu:tm:{B} scored by fire time. One round
 * claims what is due in every bucket (jiesu_timer_claim: due members move to a
 * lease set), publishes the events in due order, then acknowledges
 * (jiesu_timer_ack: records each event in jiesu:events once and arms the
 * clock's next timer). A claim never acknowledged (the process died) comes back
 * when its lease ends. Between rounds the service sleeps until the earliest
 * fire time (a libuv timer), at most timer.max_sleep_ms so it sees timers
 * armed meanwhile. After downtime it fires everything that came due, in due
 * order, marked late. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    {"clock.offset_ms", "0", "added to the wall clock (tests jump ahead in time with it)"},
    {NULL, NULL, NULL},
};

typedef struct fired {
    js_timer_t t;
    int bucket;
    int64_t score;       /* the fire time claimed (0: a lease that ran out) */
    const char *member;  /* arena */
    size_t member_len;
    const char *type;
    uint8_t *env;
    size_t env_len;
    char next_fire[24];
    const char *next_member;
} fired_t;

typedef struct deadline {
    js_svc_t svc;
    uv_timer_t wake;
    int batch;
    int64_t lease_ms, max_sleep_ms, late_ms, offset_ms, maxlen;
    js_clock_conf_t clk; /* calendar, buckets, warnings: shared with the dispatcher */
    /* one round */
    bool in_round;
    int pending;          /* replies still expected in this round */
    bool full;            /* a bucket returned a whole batch: go again at once */
    js_arena_t *arena;
    fired_t *fired;
    size_t nfired, capfired;
    uint64_t *c_warning, *c_overdue, *c_late, *c_bad, *c_ack_repeat, *c_rounds;
    js_hist_t *h_lag;
} deadline_t;

static int64_t now_ms(deadline_t *d) { return js_now_ms() + d->offset_ms; }

static void schedule(deadline_t *d, int64_t delay_ms);
static void round_start(deadline_t *d);

/* ---- acknowledging ---------------------------------------------------------- */

static void round_end(deadline_t *d) {
    d->in_round = false;
    js_arena_destroy(&d->arena);
    free(d->fired);
    d->fired = NULL;
    d->nfired = d->capfired = 0;
    d->svc.inflight--;
    if (d->svc.stopping) return;
    if (d->full) {
        schedule(d, 0);
        return;
    }
    /* Sleep until the earliest pending fire time. */
    round_start(d); /* no-op if not due: see next_due */
}

static void on_acked(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    deadline_t *d = arg;
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == 0) (*d->c_ack_repeat)++;
    } else {
        js_warn("timer ack failed (%s): the claims come back after their lease",
                status < 0 ? js_strerror(status) : r && r->type == REDIS_REPLY_ERROR ? r->str : "?");
    }
    if (--d->pending == 0) round_end(d);
}

static int cmp_fired(const void *a, const void *b) {
    const fired_t *x = a, *y = b;
    int64_t fx = x->score ? x->score : js_timer_fire_ms(&x->t, NULL, NULL, 0);
    int64_t fy = y->score ? y->score : js_timer_fire_ms(&y->t, NULL, NULL, 0);
    return fx < fy ? -1 : fx > fy;
}

static void fire_all(deadline_t *d) {
    int64_t now = now_ms(d);
    /* Due order across buckets: a lease that ran out sorts by its clock's due. */
    if (d->nfired > 1) qsort(d->fired, d->nfired, sizeof *d->fired, cmp_fired);
    for (size_t i = 0; i < d->nfired; i++) {
        fired_t *f = &d->fired[i];
        js_timer_t *t = &f->t;
        int64_t at = js_timer_fire_ms(t, d->clk.cal, d->clk.fractions, d->clk.nfractions);
        bool overdue = t->idx >= d->clk.nfractions;
        Jiesu__V1__ClockEvent ce = JIESU__V1__CLOCK_EVENT__INIT;
        ce.order_id = t->order;
        ce.unit_id = t->unit;
        ce.clock = t->kind == 'r' ? JIESU__V1__CLOCK_KIND__CLOCK_KIND_RESPONSE : JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING;
        ce.kind = overdue ? JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_OVERDUE : JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_WARNING;
        ce.due_ms = t->due_ms;
        ce.original_due_ms = t->due_ms;
        ce.fired_ms = now;
        ce.late = now - at > d->late_ms;
        ce.fraction = overdue ? 1.0f : (float)d->clk.fractions[t->idx];
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
        js_svc_publish(&d->svc, f->type, f->env, f->env_len);
        js_hist_record(d->h_lag, (now - at) * 1000);
        (*(overdue ? d->c_overdue : d->c_warning))++;
        if (ce.late) (*d->c_late)++;
        /* The clock's next timer. */
        strcpy(f->next_fire, "0");
        f->next_member = "";
        if (!overdue) {
            js_timer_t n = *t;
            n.idx = t->idx + 1;
            char buf[256];
            if (js_timer_format(&n, buf, sizeof buf) > 0) {
                f->next_member = js_arena_strdup(d->arena, buf);
                snprintf(f->next_fire, sizeof f->next_fire, "%lld",
                         (long long)js_timer_fire_ms(&n, d->clk.cal, d->clk.fractions, d->clk.nfractions));
            }
        }
    }
    /* Acknowledge per bucket, after publishing. */
    d->pending = 0;
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)d->maxlen);
    for (int b = 0; b < d->clk.buckets; b++) {
        size_t n = 0;
        for (size_t i = 0; i < d->nfired; i++) n += d->fired[i].bucket == b;
        if (!n) continue;
        size_t argc = 5 + 6 * n, k = 0;
        const char **argv = js_malloc(argc * sizeof *argv);
        size_t *lens = js_malloc(argc * sizeof *lens);
        char bs[16];
        snprintf(bs, sizeof bs, "%d", b);
#define ARG(p, l) (argv[k] = (const char *)(p), lens[k] = (l), k++)
#define ARGS(p) ARG(p, strlen(p))
        ARGS("FCALL");
        ARGS("jiesu_timer_ack");
        ARGS("0");
        ARGS(bs);
        ARGS(maxlen);
        for (size_t i = 0; i < d->nfired; i++) {
            fired_t *f = &d->fired[i];
            if (f->bucket != b) continue;
            ARG(f->member, f->member_len);
            ARGS(f->t.order);
            ARGS(f->type);
            ARG(f->env, f->env_len);
            ARGS(f->next_fire);
            ARGS(f->next_member);
        }
#undef ARG
#undef ARGS
        if (js_store_commandargv(d->svc.store, on_acked, d, (int)k, argv, lens) == 0) d->pending++;
        free(argv);
        free(lens);
    }
    if (d->pending == 0) round_end(d);
}

/* ---- claiming --------------------------------------------------------------- */

typedef struct claim_ctx {
    deadline_t *d;
    int bucket;
} claim_ctx_t;

static void on_dropped(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    JS_UNUSED(r);
    JS_UNUSED(status);
    JS_UNUSED(arg);
}

static void on_claimed(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    claim_ctx_t *cc = arg;
    deadline_t *d = cc->d;
    if (status == 0 && r && r->type == REDIS_REPLY_ARRAY) {
        if ((int)(r->elements / 2) >= d->batch) d->full = true;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const redisReply *m = r->element[i], *s = r->element[i + 1];
            if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING) continue;
            fired_t f;
            memset(&f, 0, sizeof f);
            if (js_timer_parse(m->str, m->len, &f.t) < 0) {
                (*d->c_bad)++;
                js_warn("timer bucket %d: malformed member dropped at acknowledgement", cc->bucket);
            }
            f.bucket = cc->bucket;
            f.score = strtoll(s->str, NULL, 10);
            f.member = memcpy(js_arena_alloc(d->arena, m->len), m->str, m->len);
            f.member_len = m->len;
            if (d->nfired == d->capfired) {
                d->capfired = d->capfired ? d->capfired * 2 : 256;
                d->fired = js_realloc(d->fired, d->capfired * sizeof *d->fired);
            }
            d->fired[d->nfired++] = f;
        }
    } else if (status < 0 || (r && r->type == REDIS_REPLY_ERROR)) {
        js_warn("timer claim bucket %d: %s", cc->bucket,
                status < 0 ? js_strerror(status) : r->str);
    }
    free(cc);
    if (--d->pending > 0) return;
    /* Malformed members are acknowledged without an event, so they do not come back. */
    size_t w = 0;
    for (size_t i = 0; i < d->nfired; i++) {
        if (d->fired[i].t.kind) {
            d->fired[w++] = d->fired[i];
        } else {
            const char *argv[] = {"FCALL", "jiesu_timer_ack", "0", "0", "0", d->fired[i].member, "", "", "", "0", ""};
            char bs[16];
            snprintf(bs, sizeof bs, "%d", d->fired[i].bucket);
            argv[3] = bs;
            size_t lens[11];
            for (int j = 0; j < 11; j++) lens[j] = strlen(argv[j]);
            lens[5] = d->fired[i].member_len;
            js_store_commandargv(d->svc.store, on_dropped, d, 11, argv, lens);
        }
    }
    d->nfired = w;
    fire_all(d);
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

/* ---- life ------------------------------------------------------------------- */

static void on_store_up(js_svc_t *svc, void *arg) {
    deadline_t *d = arg;
    /* After downtime: everything that came due, now; but not before the
     * publisher's connection to the bus had a heartbeat's time to come up,
     * or a PUB socket would drop the first events (the stream keeps them anyway). */
    int64_t settle = d->svc.started_ms + js_conf_int(svc->conf, "heartbeat_ms") - js_now_ms();
    if (!d->in_round) schedule(d, settle > 0 ? settle : 0);
}

static void on_reload(js_svc_t *svc, void *arg) { js_clock_conf_reload(&((deadline_t *)arg)->clk, svc->conf); }

static void on_stop(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    deadline_t *d = arg;
    uv_timer_stop(&d->wake);
}

static void on_close(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    deadline_t *d = arg;
    uv_close((uv_handle_t *)&d->wake, NULL);
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
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(checks); i++) {
        if (js_conf_check_int(svc->conf, checks[i].key, checks[i].min, checks[i].max, err, sizeof err) < 0) {
            fprintf(stderr, "jiesu-deadline-timer: %s\n", err);
            return 1;
        }
    }
    d.batch = (int)js_conf_int(svc->conf, "timer.batch");
    d.lease_ms = js_conf_int(svc->conf, "timer.lease_ms");
    d.max_sleep_ms = js_conf_int(svc->conf, "timer.max_sleep_ms");
    d.late_ms = js_conf_int(svc->conf, "timer.late_ms");
    d.offset_ms = js_conf_int(svc->conf, "clock.offset_ms");
    d.maxlen = js_conf_int(svc->conf, "events.maxlen");
    if (js_clock_conf_load(&d.clk, svc->conf, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-deadline-timer: %s\n", err);
        return 1;
    }
    js_metrics_t *m = svc->metrics;
    d.c_warning = js_metrics_counter(m, "warnings_fired");
    d.c_overdue = js_metrics_counter(m, "overdue_fired");
    d.c_late = js_metrics_counter(m, "fired_late");
    d.c_bad = js_metrics_counter(m, "timers_malformed");
    d.c_ack_repeat = js_metrics_counter(m, "acks_repeated");
    d.c_rounds = js_metrics_counter(m, "rounds");
    d.h_lag = js_metrics_hist(m, "fire_lag_us");
    uv_timer_init(&svc->loop, &d.wake);
    d.wake.data = &d;
    svc->on_store_up = on_store_up;
    svc->on_stop = on_stop;
    svc->on_reload = on_reload;
    svc->on_close = on_close;
    svc->hook_arg = &d;
    rc = js_svc_run(svc);
    js_clock_conf_free(&d.clk);
    return rc;
}
