/* actions.c -- unit and reviewer actions over the dispatcher's ROUTER (actions.h). */
#include "actions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus.h"
#include "envelope.h"
#include "ids.h"
#include "log.h"

typedef struct item {
    actions_t *x;
    js_arena_t *arena;
    const void *ident;
    size_t ident_len;
    int delim;
    const char *req_id;        /* the request envelope's id: the action id */
    const char *trace_id;
    const char *order_id;
    int64_t expected_version;  /* 0: the loaded one */
    act_req_t req;
    /* loading: GET of the action id's record, then HGETALL of the order */
    bool load_queued;          /* the HGETALL is on its way (else the GET's callback finishes the item) */
    bool read_failed;          /* the GET failed: the load answers unavailable */
    const char *done;          /* "VERSION:STAGE" when this action id was applied before, else NULL */
    /* decided */
    Jiesu__V1__Order *order;
    act_out_t out;
    int stage, new_stage;
    int64_t version;
    char *key;
    uint8_t *blob, *env;
    size_t blob_len, env_len;
    int64_t started_us;
    struct item *next;         /* in the batch */
    actions_done_fn done_cb;   /* an internal action (no client): told the outcome instead of a reply */
    void *done_arg;
} item_t;

struct actions {
    js_svc_t *svc;
    actions_opts_t o;
    js_sock_t *router;
    uv_timer_t flush_timer;
    bool flush_armed, stopping, closed;
    int acting;                /* FCALL jiesu_act calls in flight */
    item_t *batch, **batch_tail;
    int nbatch;
    uint64_t *c_requests, *c_applied, *c_repeated, *c_refused, *c_conflicts, *c_bad, *c_failed, *c_unroutable;
    js_hist_t *h_latency;
};

static int64_t s_now(const actions_t *x) { return js_now_ms() + x->o.offset_ms; }

/* ---- replies ------------------------------------------------------------------ */

static void s_send(actions_t *x, const void *ident, size_t ident_len, int delim, js_env_t *env) {
    if (x->closed) return;
    if (js_svc_reply(x->router, ident, ident_len, delim, NULL, env) < 0) (*x->c_unroutable)++; /* the client left */
}

static void s_reply_error_raw(actions_t *x, const void *ident, size_t ident_len, int delim, const char *req_id,
                              const char *subject, const char *code, const char *msg, const char *field) {
    if (x->closed) return;
    if (js_svc_reply_error(x->svc, x->router, ident, ident_len, delim, req_id, subject, code, msg, field) < 0)
        (*x->c_unroutable)++;
}

static void s_done(item_t *it) {
    actions_t *x = it->x;
    js_hist_record(x->h_latency, js_mono_us() - it->started_us);
    x->svc->inflight--;
    js_arena_destroy(&it->arena);
    free(it);
}

static void s_fail(item_t *it, const char *code, const char *msg) {
    actions_t *x = it->x;
    if (strcmp(code, "conflict") == 0) (*x->c_conflicts)++;
    else (*x->c_refused)++;
    js_log(JS_LOG_INFO, it->order_id, it->trace_id, "action %s by %s refused: %s: %s", js_fsm_act_name(it->req.act),
           it->req.actor, code, msg);
    if (it->done_cb)
        it->done_cb(it->done_arg, code, msg);
    else
        s_reply_error_raw(x, it->ident, it->ident_len, it->delim, it->req_id, it->order_id, code, msg, NULL);
    s_done(it);
}

static void s_reply_ok(item_t *it, int64_t version, int stage, const char *event, bool repeated) {
    if (it->done_cb) {
        it->done_cb(it->done_arg, repeated ? "repeated" : "ok", event ? event : "");
        return;
    }
    Jiesu__V1__ActionReply r = JIESU__V1__ACTION_REPLY__INIT;
    r.order_id = (char *)it->order_id;
    r.stage = (Jiesu__V1__Stage)stage;
    r.version = version;
    r.event_type = (char *)(event ? event : "");
    r.repeated = repeated;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.action.reply", it->x->svc->source, it->order_id, it->trace_id);
    env.correlation_id = (char *)it->req_id;
    env.version = version;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_ACTION_REPLY;
    env.action_reply = &r;
    s_send(it->x, it->ident, it->ident_len, it->delim, &env);
}

/* ---- storing ------------------------------------------------------------------ */

static void s_on_audited(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    JS_UNUSED(r);
    JS_UNUSED(status);
    item_t *it = arg;
    s_fail(it, it->out.code, it->out.err);
}

/* A refusal of the table (or of a unit acting out of turn) is recorded before
 * it is answered: improper returns and buck-passing are evaluated later
 * (ZS art. 38). */
static void s_audit_then_fail(item_t *it) {
    actions_t *x = it->x;
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)x->o.maxlen);
    if (js_store_command(x->svc->store, s_on_audited, it, "FCALL jiesu_audit 0 %s %s %s %s %s %s %s", maxlen,
                         it->order_id, it->req.actor, js_fsm_act_name(it->req.act), it->out.code, it->out.err,
                         it->req_id) < 0)
        s_fail(it, it->out.code, it->out.err);
}

static void s_on_flush_timer(uv_timer_t *t);

typedef struct batch {
    actions_t *x;
    item_t *items;
    int n;
} batch_t;

static void s_on_acted(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    batch_t *b = arg;
    actions_t *x = b->x;
    bool ok = status == 0 && r && r->type == REDIS_REPLY_ARRAY && (int)r->elements == b->n;
    x->acting--;
    item_t *it = b->items;
    for (int i = 0; it; i++) {
        item_t *next = it->next;
        if (!ok) {
            (*x->c_failed)++;
            s_fail(it, "unavailable", status < 0 ? "the order store did not answer; send the same request again"
                                      : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply from the store");
        } else {
            const redisReply *e = r->element[i];
            long long code = e->type == REDIS_REPLY_ARRAY && e->elements >= 1 && e->element[0]->type == REDIS_REPLY_INTEGER
                                 ? e->element[0]->integer : -1;
            if ((code == 1 || code == 2) && e->elements == 3) {
                int64_t v = e->element[1]->integer;
                int stage = (int)e->element[2]->integer;
                if (code == 1) {
                    (*x->c_applied)++;
                    js_svc_publish(x->svc, it->out.event, it->env, it->env_len);
                    js_log(JS_LOG_INFO, it->order_id, it->trace_id, "%s by %s: %s -> %s (v%lld)",
                           js_fsm_act_name(it->req.act), it->req.actor, js_fsm_stage_name(it->stage),
                           js_fsm_stage_name(stage), (long long)v);
                } else {
                    (*x->c_repeated)++;
                }
                s_reply_ok(it, v, stage, it->out.event, code == 2);
                s_done(it);
            } else if (code == 0 && e->elements == 3 && e->element[1]->type == REDIS_REPLY_STRING) {
                s_fail(it, e->element[1]->str, e->element[2]->type == REDIS_REPLY_STRING ? e->element[2]->str : "");
            } else {
                (*x->c_failed)++;
                s_fail(it, "internal", "unexpected reply from jiesu_act");
            }
        }
        it = next;
    }
    free(b);
    /* what was decided while this call was in flight goes now, in one call */
    if (x->batch && !x->flush_armed && !x->closed) {
        x->flush_armed = true;
        uv_timer_start(&x->flush_timer, s_on_flush_timer, 0, 0);
    }
}

static void s_flush(actions_t *x) {
    x->flush_armed = false;
    if (!x->batch) return;
    batch_t *b = js_malloc(sizeof *b);
    b->x = x;
    b->items = x->batch;
    b->n = x->nbatch;
    x->batch = NULL;
    x->batch_tail = &x->batch;
    x->nbatch = 0;
    /* FCALL jiesu_act n keys... now maxlen ttl, then per action 14 + 2F + 1 + 3T */
    size_t argc = 3 + (size_t)b->n + 3;
    for (item_t *it = b->items; it; it = it->next)
        argc += 15 + 2 * (size_t)it->out.nfields + 3 * (size_t)it->out.ntimers;
    const char **argv = js_malloc(argc * sizeof *argv);
    size_t *lens = js_malloc(argc * sizeof *lens);
    js_arena_t *tmp = js_arena_new(4096);
    size_t k = 0;
#define ARG(p, l) (argv[k] = (const char *)(p), lens[k] = (l), k++)
#define ARGS(p) ARG(p, strlen(p))
#define ARGN(v) ARGS(js_arena_printf(tmp, "%lld", (long long)(v)))
    ARGS("FCALL");
    ARGS("jiesu_act");
    ARGN(b->n);
    for (item_t *it = b->items; it; it = it->next) ARGS(it->key);
    ARGN(s_now(x));
    ARGN(x->o.maxlen);
    ARGN(x->o.act_ttl_s);
    for (item_t *it = b->items; it; it = it->next) {
        ARGS(it->order_id);
        ARGS(it->req_id);
        ARGN(it->req.act);
        ARGS(it->req.actor);
        ARGN(it->stage);
        ARGN(it->version);
        ARGN(it->new_stage);
        ARG(it->blob, it->blob_len);
        ARGS(it->out.asg ? it->out.asg : "");
        ARGS(it->out.event);
        ARG(it->env, it->env_len);
        ARGN(it->out.redrive ? s_now(x) : 0);
        ARGS(it->out.provisional ? "1" : "0");
        ARGN(it->out.nfields);
        for (int f = 0; f < 2 * it->out.nfields; f++) ARGS(it->out.fields[f]);
        ARGN(it->out.ntimers);
        for (int t = 0; t < it->out.ntimers; t++) {
            ARGN(it->out.timers[t].bucket);
            ARGN(it->out.timers[t].fire_ms);
            ARGS(it->out.timers[t].member);
        }
    }
#undef ARG
#undef ARGS
#undef ARGN
    int rc = js_store_commandargv(x->svc->store, s_on_acted, b, (int)k, argv, lens);
    free(argv);
    free(lens);
    js_arena_destroy(&tmp);
    if (rc == 0) x->acting++;
    if (rc < 0) {
        for (item_t *it = b->items, *next; it; it = next) {
            next = it->next;
            (*x->c_failed)++;
            s_fail(it, "unavailable", "the order store is not reachable; send the same request again");
        }
        free(b);
    }
}

static void s_on_flush_timer(uv_timer_t *t) {
    actions_t *x = t->data;
    x->flush_armed = false;
    if (x->acting == 0 || x->stopping) s_flush(x);
}

static void s_enqueue(item_t *it) {
    actions_t *x = it->x;
    it->next = NULL;
    *x->batch_tail = it;
    x->batch_tail = &it->next;
    if (++x->nbatch >= x->o.batch_max) {
        s_flush(x);
    } else if (!x->flush_armed && x->acting == 0) {
        /* Group commit: everything decided in this loop turn goes in one FCALL; while a call is in flight, what
         * is decided waits for its answer and goes in the next one (s_on_acted). Alone, an action goes at
         * once; under load the batches grow, and Redis runs one function call for many actions instead of
         * one each (make bench BENCH=actions: a function call costs Redis more than a small action). */
        x->flush_armed = true;
        uv_timer_start(&x->flush_timer, s_on_flush_timer, 0, 0);
    }
}

/* ---- deciding ----------------------------------------------------------------- */

static const char *s_field(const redisReply *h, const char *name, size_t *len) {
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0 && h->element[i + 1]->type == REDIS_REPLY_STRING) {
            if (len) *len = h->element[i + 1]->len;
            return h->element[i + 1]->str;
        }
    }
    return NULL;
}

/* The GET of a:{ID}:ACTION_ID (the record of an applied action). */
static void s_on_done_read(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    item_t *it = arg;
    if (status < 0 || !r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) it->read_failed = true;
    else if (r->type == REDIS_REPLY_STRING) it->done = js_arena_strdup(it->arena, r->str);
    if (!it->load_queued) s_fail(it, "unavailable", "the order store is not reachable; send the same request again");
}

/* The HGETALL of o:{ID}, after s_on_done_read. */
static void s_on_loaded(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    item_t *it = arg;
    actions_t *x = it->x;
    if (it->read_failed || status < 0 || !r || r->type != REDIS_REPLY_ARRAY) {
        s_fail(it, "unavailable", status < 0 ? "the order store did not answer; send the same request again"
                                  : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply from the store");
        return;
    }
    if (r->elements == 0) {
        s_fail(it, "not_found", js_arena_printf(it->arena, "no order %s", it->order_id));
        return;
    }
    const redisReply *h = r;
    if (it->done) {
        long long v = 0, stg = 0;
        if (sscanf(it->done, "%lld:%lld", &v, &stg) == 2) {
            (*x->c_repeated)++;
            s_reply_ok(it, v, (int)stg, "", true);
            s_done(it);
            return;
        }
    }
    size_t blen = 0;
    const char *stage_s = s_field(h, "stage", NULL), *v_s = s_field(h, "v", NULL), *d = s_field(h, "d", &blen);
    const char *ps = s_field(h, "ps", NULL);
    if (!stage_s || !v_s || !d) {
        s_fail(it, "internal", "the stored order is incomplete");
        return;
    }
    it->stage = atoi(stage_s);
    it->version = strtoll(v_s, NULL, 10);
    if (it->expected_version && it->expected_version != it->version) {
        s_fail(it, "conflict", js_arena_printf(it->arena, "order %s is at version %lld (stage %s), not %lld",
                                               it->order_id, (long long)it->version, js_fsm_stage_name(it->stage),
                                               (long long)it->expected_version));
        return;
    }
    Jiesu__V1__Order *o = (Jiesu__V1__Order *)protobuf_c_message_unpack(
        &jiesu__v1__order__descriptor, js_arena_allocator(it->arena), blen, (const uint8_t *)d);
    if (!o) {
        s_fail(it, "internal", "the stored order does not decode");
        return;
    }
    /* Fired marks, for the timers re-armed. */
    size_t nm = 0;
    const char **marks = js_arena_alloc(it->arena, (h->elements / 2 + 1) * sizeof *marks);
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && strncmp(h->element[i]->str, "f:", 2) == 0)
            marks[nm++] = js_arena_strdup(it->arena, h->element[i]->str);
    int64_t now = s_now(x);
    if (act_apply(x->o.ctx, it->arena, o, it->stage, ps ? atoi(ps) : 0, it->version, marks, nm, &it->req, now,
                  &it->out) < 0) {
        if (strcmp(it->out.code, "forbidden") == 0 || strcmp(it->out.code, "not_allowed") == 0 ||
            strcmp(it->out.code, "window_closed") == 0)
            s_audit_then_fail(it);
        else
            s_fail(it, it->out.code, it->out.err);
        return;
    }
    it->order = o;
    it->new_stage = it->out.stage;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char eid[JS_ID_LEN + 1];
    js_env_init(&env, eid, it->out.event, x->svc->source, o->id, o->trace_id);
    env.time_ms = now;
    env.version = it->version + 1;
    env.correlation_id = (char *)it->req_id;
    o->stage = (Jiesu__V1__Stage)it->new_stage;
    o->version = it->version + 1;
    act_history(it->arena, o, it->out.event, now, eid, &it->req, it->out.note);
    it->blob_len = protobuf_c_message_get_packed_size(&o->base);
    it->blob = js_arena_alloc(it->arena, it->blob_len);
    protobuf_c_message_pack(&o->base, it->blob);
    it->env = js_env_pack_with_order(it->arena, &env, it->blob, it->blob_len, &it->env_len);
    s_enqueue(it);
}

/* ---- requests ----------------------------------------------------------------- */

/* The envelope id names the action (a repeat is answered, not applied): any
 * client id scheme, within a safe alphabet (it becomes part of a key). */
static void s_start_load(item_t *it);

static bool s_action_id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '-'))
            return false;
    }
    return true;
}

static const char *s_actor(js_arena_t *a, const Jiesu__V1__Actor *who, char *why, size_t whylen) {
    if (!who) {
        snprintf(why, whylen, "the actor is missing (--as operator, reviewer, admin or unit:ID)");
        return NULL;
    }
    switch (who->role) {
    case JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR: return "operator";
    case JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER: return "reviewer";
    case JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_ADMIN: return "admin";
    case JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT: {
        const char *u = who->unit_id;
        size_t n = u ? strlen(u) : 0;
        if (n == 0 || n >= DSP_ID_MAX) {
            snprintf(why, whylen, "a unit actor needs its unit id (unit:ID)");
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)u[i];
            if (c <= ' ' || c == '=' || c == '|' || c == 0x7f) {
                snprintf(why, whylen, "unit id '%s' has a character ids never have", u);
                return NULL;
            }
        }
        return js_arena_printf(a, "unit:%s", u);
    }
    default:
        snprintf(why, whylen, "actions are taken by an operator, a reviewer, an admin or a unit, not role %d", who->role);
        return NULL;
    }
}

static void s_on_request(js_sock_t *s, const js_frame_t *f, size_t n, void *arg) {
    JS_UNUSED(s);
    actions_t *x = arg;
    if (n < 2) return; /* no body: nothing to answer */
    int delim = n == 3 && f[1].size == 0;
    if (n > 3 || (n == 3 && !delim)) {
        (*x->c_bad)++;
        s_reply_error_raw(x, f[0].data, f[0].size, 0, "", "", "bad_request", "want one envelope frame", NULL);
        return;
    }
    (*x->c_requests)++;
    const js_frame_t *body = &f[n - 1];
    js_arena_t *a = js_arena_new(8192);
    js_env_t *env;
    char err[256];
    int rc = js_env_unpack_arena(a, body->data, body->size, (size_t)x->o.max_msg, &env, err, sizeof err);
    if (rc < 0) {
        (*x->c_bad)++;
        const char *code = rc == -E2BIG ? "too_large" : rc == JS_EUTF8 ? "bad_utf8"
                           : rc == JS_EUNKNOWN || rc == JS_EPROTO_FIELD0 ? "unknown_field"
                           : rc == JS_EREQUIRED ? "missing_field" : "bad_message";
        s_reply_error_raw(x, f[0].data, f[0].size, delim, "", "", code, err, NULL);
        js_arena_destroy(&a);
        return;
    }
    if (env->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_PING) {
        js_svc_reply_pong(x->svc, x->router, f[0].data, f[0].size, delim, env->id);
        js_arena_destroy(&a);
        return;
    }
    const char *oid = NULL, *actor = NULL, *field = NULL;
    char why[200] = "";
    int act = 0;
    int64_t expected = 0;
    act_req_t req;
    memset(&req, 0, sizeof req);
    if (env->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_UNIT_ACTION) {
        const Jiesu__V1__UnitAction *ua = env->unit_action;
        oid = ua->order_id;
        act = act_from_unit_kind(ua->kind);
        if (!act) snprintf(why, sizeof why, "unknown unit action kind %d", ua->kind), field = "unit_action.kind";
        else if (!(actor = s_actor(a, ua->actor, why, sizeof why))) field = "unit_action.actor";
        expected = ua->expected_version;
        req.ua = ua;
        req.actor_name = ua->actor ? ua->actor->name : NULL;
    } else if (env->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_REVIEW_DECISION) {
        const Jiesu__V1__ReviewDecision *rd = env->review_decision;
        oid = rd->order_id;
        act = act_from_review_kind(rd->kind);
        if (!act) snprintf(why, sizeof why, "unknown review kind %d", rd->kind), field = "review_decision.kind";
        else if (!(actor = s_actor(a, rd->actor, why, sizeof why))) field = "review_decision.actor";
        expected = rd->expected_version;
        req.rd = rd;
        req.actor_name = rd->actor ? rd->actor->name : NULL;
    } else {
        snprintf(why, sizeof why, "the dispatcher takes a unit_action, a review_decision or a ping");
        field = "envelope.payload";
    }
    if (!why[0] && (!oid || !js_id_valid(oid)))
        snprintf(why, sizeof why, "order_id '%.40s' is not an order id", oid ? oid : ""), field = "order_id";
    if (!why[0] && expected < 0) snprintf(why, sizeof why, "expected_version must be >= 0"), field = "expected_version";
    if (!why[0] && !s_action_id_ok(env->id))
        snprintf(why, sizeof why, "the envelope id is the action's id: 1 to 64 characters of A-Z a-z 0-9 . _ : -"),
            field = "envelope.id";
    if (why[0]) {
        (*x->c_bad)++;
        s_reply_error_raw(x, f[0].data, f[0].size, delim, env->id, oid && js_id_valid(oid) ? oid : "", "bad_request",
                          why, field);
        js_arena_destroy(&a);
        return;
    }
    if (x->stopping || js_store_state(x->svc->store) != JS_STORE_UP) {
        s_reply_error_raw(x, f[0].data, f[0].size, delim, env->id, oid, "unavailable",
                          "the order store is not reachable; send the same request again", NULL);
        js_arena_destroy(&a);
        return;
    }
    item_t *it = js_calloc(1, sizeof *it);
    it->x = x;
    it->arena = a;
    it->ident = memcpy(js_arena_alloc(a, f[0].size), f[0].data, f[0].size);
    it->ident_len = f[0].size;
    it->delim = delim;
    it->req_id = env->id;
    it->trace_id = env->trace_id ? env->trace_id : "";
    it->order_id = oid;
    it->expected_version = expected;
    it->started_us = js_mono_us();
    req.act = act;
    req.actor = actor;
    it->req = req;
    it->key = js_arena_printf(a, "o:{%s}", oid);
    s_start_load(it);
}

static void s_start_load(item_t *it) {
    actions_t *x = it->x;
    js_arena_t *a = it->arena;
    const char *oid = it->order_id;
    x->svc->inflight++;
    /* The load is two plain reads, pipelined (replies come in order): whether this action id was applied, then
     * the order. Not FCALL_RO jiesu_load: a function returning the order hash costs Redis three times the
     * HGETALL (every field converted to Lua and back; measured by make bench BENCH=actions). The two reads need
     * not be atomic: jiesu_act checks the action id and the version again, so a load that raced with another
     * writer is answered as a repeat or refused with conflict, never applied twice. */
    const char *akey = js_arena_printf(a, "a:{%s}:%s", oid, it->req_id);
    if (js_store_command(x->svc->store, s_on_done_read, it, "GET %s", akey) < 0) {
        s_fail(it, "unavailable", "the order store is not reachable; send the same request again");
        return;
    }
    it->load_queued = js_store_command(x->svc->store, s_on_loaded, it, "HGETALL %s", it->key) == 0;
}

/* ---- the services' own actions ------------------------------------------------------ */

int actions_submit_escalate(actions_t *x, const char *order_id, const char *action_id, int level, const char *reason,
                            actions_done_fn done, void *arg) {
    if (!x || x->stopping || x->closed) return -ECANCELED;
    if (js_store_state(x->svc->store) != JS_STORE_UP) return -ENOTCONN;
    if (!js_id_valid(order_id) || !s_action_id_ok(action_id)) return -EINVAL;
    js_arena_t *a = js_arena_new(4096);
    Jiesu__V1__UnitAction *ua = js_arena_alloc(a, sizeof *ua);
    jiesu__v1__unit_action__init(ua);
    ua->order_id = js_arena_strdup(a, order_id);
    ua->kind = JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_ESCALATE;
    ua->level = (Jiesu__V1__EscalationLevel)level;
    ua->reason = js_arena_strdup(a, reason);
    item_t *it = js_calloc(1, sizeof *it);
    it->x = x;
    it->arena = a;
    it->req_id = js_arena_strdup(a, action_id);
    it->trace_id = "";
    it->order_id = ua->order_id;
    it->started_us = js_mono_us();
    it->done_cb = done;
    it->done_arg = arg;
    it->req = (act_req_t){.act = JS_ACT_ESCALATE, .actor = "system", .actor_name = x->svc->source, .ua = ua};
    it->key = js_arena_printf(a, "o:{%s}", order_id);
    s_start_load(it);
    return 0;
}

/* ---- life --------------------------------------------------------------------- */

actions_t *actions_new(js_svc_t *svc, const actions_opts_t *o, int *err) {
    actions_t *x = js_calloc(1, sizeof *x);
    x->svc = svc;
    x->o = *o;
    if (x->o.batch_max <= 0) x->o.batch_max = 64;
    x->batch_tail = &x->batch;
    js_metrics_t *m = svc->metrics;
    x->c_requests = js_metrics_counter(m, "action_requests");
    x->c_applied = js_metrics_counter(m, "actions_applied");
    x->c_repeated = js_metrics_counter(m, "actions_repeated");
    x->c_refused = js_metrics_counter(m, "actions_refused");
    x->c_conflicts = js_metrics_counter(m, "actions_conflict");
    x->c_bad = js_metrics_counter(m, "action_requests_malformed");
    x->c_failed = js_metrics_counter(m, "actions_not_stored");
    x->c_unroutable = js_metrics_counter(m, "action_replies_unroutable");
    x->h_latency = js_metrics_hist(m, "action_us");
    js_sock_opts_t so;
    js_svc_sock_opts(svc, &so);
    so.router_mandatory = true;
    so.sndhwm = 100000;
    so.rcvhwm = 100000;
    x->router = js_sock_new(&svc->loop, svc->zctx, ZMQ_ROUTER, &so, err);
    if (!x->router) {
        free(x);
        return NULL;
    }
    char *copy = js_strdup(o->bind), *save = NULL;
    for (char *ep = strtok_r(copy, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save)) {
        int e = js_sock_bind(x->router, ep);
        if (e < 0) {
            js_log(JS_LOG_ERROR, NULL, NULL, "dispatcher.actions_bind %s: %s", ep, js_strerror(e));
            *err = e;
            free(copy);
            js_sock_close(&x->router);
            free(x);
            return NULL;
        }
    }
    free(copy);
    uv_timer_init(&svc->loop, &x->flush_timer);
    x->flush_timer.data = x;
    js_sock_start(x->router, s_on_request, NULL, x);
    return x;
}

void actions_set_ctx(actions_t *x, const act_ctx_t *ctx) { x->o.ctx = ctx; }

void actions_stop(actions_t *x) {
    if (!x || x->stopping) return;
    x->stopping = true;
    js_sock_pause(x->router);
    s_flush(x);
}

static void s_on_timer_closed(uv_handle_t *h) { free(h->data); }

void actions_close(actions_t **xp) {
    actions_t *x = *xp;
    if (!x) return;
    *xp = NULL;
    x->closed = true;
    js_sock_close(&x->router);
    uv_timer_stop(&x->flush_timer);
    uv_close((uv_handle_t *)&x->flush_timer, s_on_timer_closed);
}
