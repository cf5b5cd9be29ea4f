/* stage.c -- the pipeline step shared by classifier and dispatcher. */
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ids.h"
#include "log.h"
#include "outq.h"

#define MAX_INFLIGHT_BATCHES 8 /* then the input is paused: back-pressure reaches the sender */

typedef struct s_item {
    js_arena_t *arena;
    Jiesu__V1__Order *order;
    js_stage_result_t res;
    const char *key;            /* o:{ID} */
    char es[16], ev[24], ns[16], redrive[24], ntimers[8], nfields[8];
    char tb[JS_STAGE_MAX_TIMERS][16], tf[JS_STAGE_MAX_TIMERS][24];
    uint8_t *blob, *env;
    size_t blob_len, env_len;
    char type[96];
} s_item_t;

typedef struct s_batch {
    js_stage_t *stage;
    int n;
    int64_t started_us;
    s_item_t *items;
} s_batch_t;

struct js_stage {
    js_svc_t *svc;
    js_stage_opts_t o;
    js_sock_t *in, *out;
    js_outq_t *outq;     /* back-pressure towards the next stage */
    s_batch_t *cur;
    int inflight_batches;
    bool paused, stopping, sweeping, closed, timer_closed;
    uv_timer_t sweep_timer;
    int batch_max;
    int64_t redrive_ms, maxlen, max_msg, sweep_ms;
    char stage_s[16], stage_name[32];
    uint64_t *c_in, *c_applied, *c_stale, *c_unknown, *c_bad, *c_failed, *c_skipped;
    uint64_t *c_forward_dropped, *c_redriven;
    js_hist_t *h_fcall, *h_batch;
};

static const char *s_stage_names[] = {
    "unspecified", "received",          "classified", "manual",   "dispatched",
    "accepted",    "return_review",     "extension_review",       "consultation",
    "completion_review",                "callback",   "closed",   "transferred", "escalated",
    "transferring",
};

const char *js_stage_name(int stage) {
    if (stage < 0 || (size_t)stage >= JS_ARRAY_LEN(s_stage_names)) return "unknown";
    return s_stage_names[stage];
}

/* ---- envelope helpers ------------------------------------------------------ */

int js_env_unpack_arena(js_arena_t *a, const uint8_t *buf, size_t len, size_t max, js_env_t **out,
                        char *err, size_t errlen) {
    *out = NULL;
    if (len > max) {
        snprintf(err, errlen, "message of %zu bytes is over the %zu byte limit", len, max);
        return -E2BIG;
    }
    js_env_t *e = (js_env_t *)protobuf_c_message_unpack(&jiesu__v1__envelope__descriptor,
                                                        js_arena_allocator(a), len, buf);
    if (!e) {
        snprintf(err, errlen, "not a jiesu.v1.Envelope (protobuf decoding failed)");
        return -EPROTO;
    }
    int rc = js_env_check(e, err, errlen); /* the same checks as js_env_unpack */
    if (rc < 0) return rc;
    *out = e;
    return 0;
}

uint8_t *js_env_pack_with_order(js_arena_t *a, const js_env_t *env, const uint8_t *blob,
                                size_t blob_len, size_t *len) {
    js_env_t hdr = *env;
    hdr.payload_case = JIESU__V1__ENVELOPE__PAYLOAD__NOT_SET;
    size_t hl = protobuf_c_message_get_packed_size(&hdr.base);
    uint8_t *buf = js_arena_alloc(a, hl + 2 + 10 + blob_len);
    size_t n = protobuf_c_message_pack(&hdr.base, buf);
    buf[n++] = 0xA2; /* field 20 (order), wire type 2 */
    buf[n++] = 0x01;
    size_t v = blob_len;
    while (v >= 0x80) {
        buf[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    buf[n++] = (uint8_t)v;
    memcpy(buf + n, blob, blob_len);
    *len = n + blob_len;
    return buf;
}

void js_order_add_history(js_arena_t *a, Jiesu__V1__Order *o, const char *type, int64_t time_ms,
                          const char *event_id, const char *actor_name, const char *note) {
    Jiesu__V1__HistoryEntry *h = js_arena_alloc(a, sizeof *h);
    jiesu__v1__history_entry__init(h);
    h->type = (char *)type;
    h->time_ms = time_ms;
    h->event_id = js_arena_strdup(a, event_id);
    if (note) h->note = (char *)note;
    if (actor_name) {
        Jiesu__V1__Actor *act = js_arena_alloc(a, sizeof *act);
        jiesu__v1__actor__init(act);
        act->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_SYSTEM;
        act->name = (char *)actor_name;
        h->actor = act;
    }
    Jiesu__V1__HistoryEntry **hs = js_arena_alloc(a, (o->n_history + 1) * sizeof *hs);
    if (o->n_history) memcpy(hs, o->history, o->n_history * sizeof *hs);
    hs[o->n_history++] = h;
    o->history = hs;
}

/* ---- batches --------------------------------------------------------------- */

static s_batch_t *s_batch_new(js_stage_t *s) {
    s_batch_t *b = js_calloc(1, sizeof *b);
    b->stage = s;
    b->items = js_calloc((size_t)s->batch_max, sizeof *b->items);
    return b;
}

static void s_batch_free(s_batch_t *b) {
    for (int i = 0; i < b->n; i++) js_arena_destroy(&b->items[i].arena);
    free(b->items);
    free(b);
}

/* Freed only when closed and nothing is in flight that still points at it. */
static void s_maybe_free(js_stage_t *s) {
    if (s->closed && s->timer_closed && s->inflight_batches == 0 && !s->sweeping) free(s);
}

static void s_maybe_resume(js_stage_t *s) {
    if (s->paused && !s->stopping && s->inflight_batches < MAX_INFLIGHT_BATCHES) {
        s->paused = false;
        if (s->in) js_sock_resume(s->in);
    }
}

static void s_reply(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    s_batch_t *b = arg;
    js_stage_t *s = b->stage;
    js_hist_record(s->h_fcall, js_mono_us() - b->started_us);
    if (status < 0 || !r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != b->n) {
        const char *why = status < 0 ? js_strerror(status)
                          : (r && r->type == REDIS_REPLY_ERROR) ? r->str : "unexpected reply";
        js_warn("%s: batch of %d not stored: %s (they will be re-driven)", s->stage_name, b->n, why);
        *s->c_failed += (uint64_t)b->n;
    } else {
        for (int i = 0; i < b->n; i++) {
            s_item_t *it = &b->items[i];
            const redisReply *e = r->element[i];
            long long code = (e->type == REDIS_REPLY_ARRAY && e->elements > 0 &&
                              e->element[0]->type == REDIS_REPLY_INTEGER)
                                 ? e->element[0]->integer : -2;
            if (code == 1) {
                (*s->c_applied)++;
                if (it->res.forward && s->outq && js_outq_send(s->outq, it->env, it->env_len) < 0)
                    (*s->c_forward_dropped)++; /* the next stage's sweep re-drives it */
                js_svc_publish(s->svc, it->res.event_type, it->env, it->env_len);
            } else if (code == 0) {
                (*s->c_stale)++; /* a repeat: the transition was made before */
            } else {
                (*s->c_unknown)++;
                js_log(JS_LOG_WARN, it->order->id, it->order->trace_id, "%s: no such order in Redis",
                       s->stage_name);
            }
        }
    }
    s->inflight_batches--;
    s->svc->inflight--;
    s_batch_free(b);
    if (s->closed) {
        s_maybe_free(s);
        return;
    }
    s_maybe_resume(s);
}

static void s_flush(js_stage_t *s) {
    s_batch_t *b = s->cur;
    if (!b || b->n == 0) return;
    s->cur = NULL;
    /* FCALL jiesu_advance n key... maxlen (9 + 3T + 1 + 2F + 1 per order) */
    int argc = 4 + b->n + 1;
    for (int i = 0; i < b->n; i++) argc += 11 + 3 * b->items[i].res.ntimers + 2 * b->items[i].res.nfields;
    const char **argv = js_malloc((size_t)argc * sizeof *argv);
    size_t *lens = js_malloc((size_t)argc * sizeof *lens);
    char nkeys[16], maxlen[24];
    snprintf(nkeys, sizeof nkeys, "%d", b->n);
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)s->maxlen);
    int k = 0;
#define ARG(p, l) (argv[k] = (const char *)(p), lens[k] = (l), k++)
#define ARGS(p) ARG(p, strlen(p))
    ARGS("FCALL");
    ARGS("jiesu_advance");
    ARGS(nkeys);
    for (int i = 0; i < b->n; i++) ARGS(b->items[i].key);
    ARGS(maxlen);
    for (int i = 0; i < b->n; i++) {
        s_item_t *it = &b->items[i];
        ARGS(it->order->id);
        ARGS(it->es);
        ARGS(it->ev);
        ARGS(it->ns);
        ARG(it->blob, it->blob_len);
        ARGS(it->res.event_type);
        ARG(it->env, it->env_len);
        ARGS(it->redrive);
        ARGS(it->ntimers);
        for (int t = 0; t < it->res.ntimers; t++) {
            ARGS(it->tb[t]);
            ARGS(it->tf[t]);
            ARGS(it->res.timers[t].member);
        }
        ARGS(it->nfields);
        for (int f = 0; f < 2 * it->res.nfields; f++) ARGS(it->res.fields[f]);
        ARGS(it->res.provisional ? "1" : "0");
    }
#undef ARG
#undef ARGS
    b->started_us = js_mono_us();
    js_hist_record(s->h_batch, b->n);
    int rc = js_store_commandargv(s->svc->store, s_reply, b, k, argv, lens);
    free(argv);
    free(lens);
    if (rc < 0) {
        *s->c_failed += (uint64_t)b->n;
        s_batch_free(b);
        return;
    }
    s->inflight_batches++;
    s->svc->inflight++;
    if (s->inflight_batches >= MAX_INFLIGHT_BATCHES && !s->paused && s->in) {
        s->paused = true;
        js_sock_pause(s->in);
    }
}

/* Decide one order (in its arena) and add it to the current batch. */
static void s_take(js_stage_t *s, js_arena_t *a, Jiesu__V1__Order *o, int64_t version) {
    if (!js_id_valid(o->id) || (int)o->stage != s->o.stage) {
        (*s->c_stale)++;
        js_arena_destroy(&a);
        return;
    }
    if (!s->cur) s->cur = s_batch_new(s);
    s_item_t *it = &s->cur->items[s->cur->n];
    memset(it, 0, sizeof *it);
    int64_t now = js_now_ms();
    int rc = s->o.decide(s->o.arg, a, o, now, &it->res);
    if (rc < 0 || !it->res.event_type || it->res.ntimers > JS_STAGE_MAX_TIMERS ||
        it->res.nfields > JS_STAGE_MAX_FIELDS) {
        js_log(JS_LOG_WARN, o->id, o->trace_id, "%s: not decided: %s", s->stage_name, js_strerror(rc));
        (*s->c_skipped)++;
        js_arena_destroy(&a);
        return;
    }
    it->arena = a;
    it->order = o;
    it->key = js_arena_printf(a, "o:{%s}", o->id);
    snprintf(it->es, sizeof it->es, "%d", s->o.stage);
    snprintf(it->ev, sizeof it->ev, "%lld", (long long)version);
    snprintf(it->ns, sizeof it->ns, "%d", it->res.new_stage);
    snprintf(it->redrive, sizeof it->redrive, "%lld",
             !it->res.redrive ? 0LL : it->res.redrive_at_ms > 0 ? (long long)it->res.redrive_at_ms
                                                                 : (long long)(now + s->redrive_ms));
    snprintf(it->ntimers, sizeof it->ntimers, "%d", it->res.ntimers);
    snprintf(it->nfields, sizeof it->nfields, "%d", it->res.nfields);
    for (int t = 0; t < it->res.ntimers; t++) {
        snprintf(it->tb[t], sizeof it->tb[t], "%d", it->res.timers[t].bucket);
        snprintf(it->tf[t], sizeof it->tf[t], "%lld", (long long)it->res.timers[t].fire_ms);
    }
    char eid[JS_ID_LEN + 1];
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    js_env_init(&env, eid, it->res.event_type, s->svc->source, o->id, o->trace_id);
    env.time_ms = now;
    env.version = version + 1;
    o->stage = (Jiesu__V1__Stage)it->res.new_stage;
    o->version = version + 1;
    js_order_add_history(a, o, it->res.event_type, now, eid, NULL, it->res.note); /* the event source names the service */
    it->blob_len = protobuf_c_message_get_packed_size(&o->base);
    it->blob = js_arena_alloc(a, it->blob_len);
    protobuf_c_message_pack(&o->base, it->blob);
    it->env = js_env_pack_with_order(a, &env, it->blob, it->blob_len, &it->env_len);
    (*s->c_in)++;
    if (++s->cur->n >= s->batch_max) s_flush(s);
}

static void s_recv(js_sock_t *sock, const js_frame_t *f, size_t n, void *arg) {
    JS_UNUSED(sock);
    js_stage_t *s = arg;
    js_arena_t *a = js_arena_new(4096);
    js_env_t *env = NULL;
    char err[256];
    int rc = n == 1 ? js_env_unpack_arena(a, f[0].data, f[0].size, (size_t)s->max_msg, &env, err, sizeof err)
                    : (snprintf(err, sizeof err, "want 1 frame, got %zu", n), -EPROTO);
    if (rc == 0 && env->payload_case != JIESU__V1__ENVELOPE__PAYLOAD_ORDER) {
        snprintf(err, sizeof err, "envelope %s carries no order", env->type);
        rc = JS_EREQUIRED;
    }
    if (rc < 0) {
        (*s->c_bad)++;
        js_warn("%s: bad message dropped: %s", s->stage_name, err);
        js_arena_destroy(&a);
        return;
    }
    s_take(s, a, env->order, env->order->version);
}

static void s_drained(js_sock_t *sock, void *arg) {
    JS_UNUSED(sock);
    s_flush(arg);
}

/* ---- re-drive sweep ------------------------------------------------------- */

static void s_sweep_reply(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    js_stage_t *s = arg;
    s->sweeping = false;
    s->svc->inflight--;
    if (s->closed) {
        s_maybe_free(s);
        return;
    }
    if (status < 0 || !r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR) js_warn("%s: sweep: %s", s->stage_name, r->str);
        return;
    }
    size_t found = r->elements / 3;
    for (size_t i = 0; i + 2 < r->elements; i += 3) {
        const redisReply *id = r->element[i], *v = r->element[i + 1], *d = r->element[i + 2];
        if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || d->type != REDIS_REPLY_STRING)
            continue;
        js_arena_t *a = js_arena_new(4096);
        Jiesu__V1__Order *o = (Jiesu__V1__Order *)protobuf_c_message_unpack(
            &jiesu__v1__order__descriptor, js_arena_allocator(a), d->len, (const uint8_t *)d->str);
        char err[128];
        if (!o || js_msg_check(&o->base, err, sizeof err) < 0) {
            js_warn("%s: order %.*s has an unreadable state in Redis", s->stage_name, (int)id->len, id->str);
            (*s->c_bad)++;
            js_arena_destroy(&a);
            continue;
        }
        (*s->c_redriven)++;
        js_log(JS_LOG_INFO, o->id, o->trace_id, "%s: re-driven", s->stage_name);
        s_take(s, a, o, strtoll(v->str, NULL, 10));
    }
    s_flush(s);
    if (found >= (size_t)s->batch_max && !s->stopping) uv_timer_start(&s->sweep_timer, NULL, 0, 0);
}

static void s_sweep(uv_timer_t *t) {
    js_stage_t *s = t->data;
    if (s->stopping || s->sweeping || s->inflight_batches >= MAX_INFLIGHT_BATCHES ||
        js_store_state(s->svc->store) != JS_STORE_UP)
        return;
    char now[24], lease[24], limit[16];
    snprintf(now, sizeof now, "%lld", (long long)js_now_ms());
    snprintf(lease, sizeof lease, "%lld", (long long)s->redrive_ms);
    snprintf(limit, sizeof limit, "%d", s->batch_max);
    if (js_store_command(s->svc->store, s_sweep_reply, s, "FCALL jiesu_claim 0 %s %s %s %s", s->stage_s,
                         now, lease, limit) == 0) {
        s->sweeping = true;
        s->svc->inflight++;
    }
}

static void s_sweep_cb(uv_timer_t *t) {
    js_stage_t *s = t->data;
    s_sweep(t);
    uv_timer_start(&s->sweep_timer, s_sweep_cb, (uint64_t)s->sweep_ms, 0);
}

/* ---- life ------------------------------------------------------------------ */

js_stage_t *js_stage_new(js_svc_t *svc, const js_stage_opts_t *o, int *err) {
    js_stage_t *s = js_calloc(1, sizeof *s);
    s->svc = svc;
    s->o = *o;
    s->batch_max = (int)js_conf_int(svc->conf, "batch_max");
    s->redrive_ms = js_conf_int(svc->conf, "redrive_ms");
    s->sweep_ms = js_conf_int(svc->conf, "sweep_ms");
    s->maxlen = js_conf_int(svc->conf, "events.maxlen");
    s->max_msg = js_conf_int(svc->conf, "max_msg_bytes");
    snprintf(s->stage_s, sizeof s->stage_s, "%d", o->stage);
    snprintf(s->stage_name, sizeof s->stage_name, "%s", js_stage_name(o->stage));
    js_metrics_t *m = svc->metrics;
    s->c_in = js_metrics_counter(m, "orders_in");
    s->c_applied = js_metrics_counter(m, "transitions_applied");
    s->c_stale = js_metrics_counter(m, "repeats_ignored");
    s->c_unknown = js_metrics_counter(m, "orders_unknown");
    s->c_bad = js_metrics_counter(m, "messages_bad");
    s->c_failed = js_metrics_counter(m, "transitions_failed");
    s->c_skipped = js_metrics_counter(m, "orders_not_decided");
    s->c_forward_dropped = js_metrics_counter(m, "forward_dropped");
    s->c_redriven = js_metrics_counter(m, "orders_redriven");
    s->h_fcall = js_metrics_hist(m, "fcall_us");
    s->h_batch = js_metrics_hist(m, "batch_orders"); /* a count, kept in the same histogram type */

    js_sock_opts_t so;
    js_svc_sock_opts(svc, &so);
    so.heartbeat_ivl_ms = 0;
    so.batch_max = s->batch_max;
    s->in = js_sock_new(&svc->loop, svc->zctx, ZMQ_PULL, &so, err);
    if (!s->in) goto fail;
    {
        char *copy = js_strdup(o->bind), *save = NULL;
        for (char *ep = strtok_r(copy, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save)) {
            if ((*err = js_sock_bind(s->in, ep)) < 0) {
                fprintf(stderr, "%s: cannot bind %s: %s\n", svc->prog, ep, js_strerror(*err));
                free(copy);
                goto fail;
            }
        }
        free(copy);
    }
    if (o->next && *o->next) {
        js_sock_opts_t po;
        js_svc_sock_opts(svc, &po);
        po.immediate = true; /* nothing queues for a dead stage: the sweep re-drives instead */
        po.sndhwm = 20000;
        s->out = js_sock_new(&svc->loop, svc->zctx, ZMQ_PUSH, &po, err);
        if (!s->out || (*err = js_svc_connect_list(s->out, o->next)) < 0) {
            fprintf(stderr, "%s: cannot connect %s\n", svc->prog, o->next);
            goto fail;
        }
        s->outq = js_outq_new(s->out, (size_t)js_conf_int(svc->conf, "forward_queue_max"));
    }
    js_sock_start(s->in, s_recv, s_drained, s);
    uv_timer_init(&svc->loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, s_sweep_cb, (uint64_t)s->sweep_ms, 0);
    return s;
fail:
    if (*err == 0) *err = -EINVAL;
    js_sock_close(&s->in);
    js_sock_close(&s->out);
    free(s);
    return NULL;
}

void js_stage_on_store_up(js_stage_t *s) {
    if (s && !s->stopping) s_sweep(&s->sweep_timer);
}

void js_stage_stop(js_stage_t *s) {
    if (!s || s->stopping) return;
    s->stopping = true;
    if (s->in) js_sock_pause(s->in);
    uv_timer_stop(&s->sweep_timer);
    s_flush(s); /* what was read is stored before we go */
}

static void s_timer_closed(uv_handle_t *h) {
    js_stage_t *s = h->data;
    s->timer_closed = true;
    s_maybe_free(s);
}

void js_stage_close(js_stage_t **sp) {
    if (!sp || !*sp) return;
    js_stage_t *s = *sp;
    *sp = NULL;
    s->closed = true;
    if (s->cur) {
        s_batch_free(s->cur);
        s->cur = NULL;
    }
    js_outq_destroy(&s->outq); /* what is still queued is stored: it will be re-driven */
    js_sock_close(&s->in);
    js_sock_close(&s->out);
    uv_timer_stop(&s->sweep_timer);
    uv_close((uv_handle_t *)&s->sweep_timer, s_timer_closed);
}
