/* partner.c -- orders handed to partner hotlines, retried until acknowledged. */
#include "partner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "ids.h"
#include "log.h"
#include "stage.h"

const js_conf_def_t partner_conf_keys[] = {
    {"partner.peers", "var/keys/partner-peers.tsv",
     "partner hotlines: partner_id<TAB>intake partner endpoint<TAB>its Z85 server public key a line; missing: none"},
    {"partner.curve_secret_file", "var/keys/dispatcher.key",
     "our CURVE client secret key towards partners (jiesuctl keygen); needed when partner.peers names any"},
    {"partner.city_id", "", "our partner id as partners know us (sent as Submission.partner_id); empty: not sent, "
                            "the partner names us by our key"},
    {"partner.sweep_ms", "500", "how often orders in stage transferring are looked for"},
    {"partner.lease_ms", "10000", "retry interval: an order sent and not acknowledged is sent again after this"},
    {"partner.timeout_ms", "5000", "how long an answer from a partner is waited for (at most partner.lease_ms)"},
    {"partner.max_inflight", "256", "requests waiting for a partner's answer, at most"},
    {NULL, NULL, NULL},
};

#define S_STAGE_IN  JIESU__V1__STAGE__STAGE_TRANSFERRING
#define S_STAGE_OUT JIESU__V1__STAGE__STAGE_TRANSFERRED
#define S_EVENT     "jiesu.order.transferred"

typedef struct s_peer {
    partner_t *p;
    int idx;
    js_sock_t *dealer;
    int64_t last_warn_ms; /* "not connected" at most once a lease */
} s_peer_t;

typedef struct s_req {
    bool used;
    char id[JS_ID_LEN + 1]; /* the request envelope's id: the answer's correlation_id */
    js_arena_t *arena;
    Jiesu__V1__Order *order;
    int64_t version;
    int peer;
    int64_t sent_ms;
} s_req_t;

typedef struct s_store {
    partner_t *p;
    js_arena_t *arena;
    Jiesu__V1__Order *order;
    const char *partner, *their_id;
    uint8_t *env;
    size_t env_len;
} s_store_t;

struct partner {
    js_svc_t *svc;
    partner_peers_t peers;
    s_peer_t *rt;
    char pub[JS_CURVE_Z85_LEN + 1], sec[JS_CURVE_Z85_LEN + 1];
    const char *city_id;
    int64_t sweep_ms, lease_ms, timeout_ms, maxlen, max_msg;
    int max_inflight, nreq, storing, batch_max;
    s_req_t *reqs;
    uv_timer_t timer;
    bool sweeping, stopping, closed, timer_closed;
    int64_t last_unknown_warn_ms;
    uint64_t *c_sent, *c_acked, *c_transferred, *c_refused, *c_timeouts, *c_not_connected, *c_unknown_partner;
    uint64_t *c_late, *c_stale, *c_failed, *c_bad;
};

/* ---- pure parts ------------------------------------------------------------ */

void partner_peers_free(partner_peers_t *p) {
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

const partner_peer_t *partner_peers_find(const partner_peers_t *p, const char *id) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].id, id) == 0) return &p->v[i];
    return NULL;
}

static int s_endpoint_ok(const char *e) {
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    size_t n = strlen(e);
    if (n >= PARTNER_ENDPOINT_MAX) return 0;
    for (size_t i = 0; i < JS_ARRAY_LEN(schemes); i++)
        if (strncmp(e, schemes[i], strlen(schemes[i])) == 0 && n > strlen(schemes[i])) return 1;
    return 0;
}

typedef struct s_peers_acc {
    partner_peers_t pp;
    size_t cap;
} s_peers_acc_t;

static int s_peer_line(void *arg, const char *path, int lineno, char **f, int n, char *err, size_t errlen) {
    s_peers_acc_t *acc = arg;
    partner_peers_t *pp = &acc->pp;
    if (n != 3)
        snprintf(err, errlen, "%s:%d: want 'partner_id<TAB>endpoint<TAB>server Z85 public key'", path, lineno);
    else if (!js_curve_id_ok(f[0]))
        snprintf(err, errlen, "%s:%d: bad partner id '%.80s' (1..%d of A-Z a-z 0-9 _ . -)", path, lineno, f[0],
                 JS_CURVE_ID_MAX);
    else if (partner_peers_find(pp, f[0]))
        snprintf(err, errlen, "%s:%d: partner '%s' is listed twice", path, lineno, f[0]);
    else if (!s_endpoint_ok(f[1]))
        snprintf(err, errlen, "%s:%d: '%.80s' is not a ZeroMQ endpoint (tcp://HOST:PORT)", path, lineno, f[1]);
    else if (!js_curve_z85_ok(f[2], NULL))
        snprintf(err, errlen, "%s:%d: '%.80s' is not a 40-character Z85 public key", path, lineno, f[2]);
    else {
        if (pp->n == acc->cap) {
            acc->cap = acc->cap ? acc->cap * 2 : 8;
            pp->v = js_realloc(pp->v, acc->cap * sizeof *pp->v);
        }
        partner_peer_t *p = &pp->v[pp->n++];
        snprintf(p->id, sizeof p->id, "%s", f[0]);
        snprintf(p->endpoint, sizeof p->endpoint, "%s", f[1]);
        snprintf(p->server_key, sizeof p->server_key, "%s", f[2]);
        return 0;
    }
    return -EINVAL;
}

int partner_peers_load(const char *path, partner_peers_t *out, char *err, size_t errlen) {
    s_peers_acc_t acc = {{NULL, 0}, 0};
    int rc = *path ? js_curve_each_line(path, 3, s_peer_line, &acc, err, errlen) : 0;
    if (rc < 0) {
        partner_peers_free(&acc.pp);
        return rc;
    }
    partner_peers_free(out);
    *out = acc.pp;
    return 0;
}

const char *partner_target(const Jiesu__V1__Order *o) {
    if (o->partner_id && *o->partner_id) return o->partner_id;
    for (size_t i = 0; i < o->n_assignments; i++)
        if (o->assignments[i]->partner_id && *o->assignments[i]->partner_id) return o->assignments[i]->partner_id;
    return "";
}

void partner_build_submission(js_arena_t *a, const Jiesu__V1__Order *o, const char *city_id, int64_t now_ms,
                              Jiesu__V1__Submission *s) {
    s->channel = JIESU__V1__CHANNEL__CHANNEL_PARTNER;
    s->content = o->content;
    s->title = o->title;
    s->location = o->location;
    s->n_attachments = o->n_attachments;
    s->attachments = o->attachments;
    s->partner_id = (char *)city_id;
    s->partner_order_id = o->id;
    s->idempotency_key = o->id; /* a repeat finds the first order at the partner */
    /* the partner refuses a time over a year old: leave it out then */
    if (o->received_ms > now_ms - INT64_C(360) * 86400000 && o->received_ms <= now_ms) s->occurred_ms = o->received_ms;
    /* the contact stays here; the partner learns only what a unit would see */
    Jiesu__V1__RequesterInput *r = js_arena_alloc(a, sizeof *r);
    jiesu__v1__requester_input__init(r);
    const Jiesu__V1__Requester *rq = o->requester;
    r->anonymous = rq ? rq->anonymous : true;
    if (rq && !rq->anonymous && rq->name_masked) r->name = rq->name_masked;
    r->callback_method = JIESU__V1__CALLBACK_METHOD__CALLBACK_METHOD_NONE;
    s->requester = r;
}

void partner_mark_transferred(js_arena_t *a, Jiesu__V1__Order *o, const char *partner, const char *their_id,
                              int64_t now_ms, const char *event_id) {
    o->stage = S_STAGE_OUT;
    o->version++;
    o->partner_id = js_arena_strdup(a, partner);
    o->partner_order_id = js_arena_strdup(a, their_id);
    o->close_reason = js_arena_printf(a, "transferred to partner hotline %s, its order %s", partner, their_id);
    o->disposition = JIESU__V1__DISPOSITION__DISPOSITION_PARTNER;
    js_order_add_history(a, o, S_EVENT, now_ms, event_id, NULL, o->close_reason);
    Jiesu__V1__Actor *act = js_arena_alloc(a, sizeof *act);
    jiesu__v1__actor__init(act);
    act->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_PARTNER; /* the partner's acknowledgement made it */
    act->partner_id = o->partner_id;
    o->history[o->n_history - 1]->actor = act;
}

/* ---- requests -------------------------------------------------------------- */

static void s_req_free(partner_t *p, s_req_t *r) {
    js_arena_destroy(&r->arena);
    r->used = false;
    p->nreq--;
}

static s_req_t *s_req_find(partner_t *p, const char *id, size_t len) {
    for (int i = 0; i < p->max_inflight; i++)
        if (p->reqs[i].used && strlen(p->reqs[i].id) == len && memcmp(p->reqs[i].id, id, len) == 0)
            return &p->reqs[i];
    return NULL;
}

static bool s_order_inflight(partner_t *p, const char *oid) {
    for (int i = 0; i < p->max_inflight; i++)
        if (p->reqs[i].used && strcmp(p->reqs[i].order->id, oid) == 0) return true;
    return false;
}

static void s_maybe_free(partner_t *p) {
    if (p->closed && p->timer_closed && !p->sweeping && p->storing == 0) {
        explicit_bzero(p->sec, sizeof p->sec);
        partner_peers_free(&p->peers);
        free(p->rt);
        free(p->reqs);
        free(p);
    }
}

/* Send one claimed order (its arena a) to its partner; a is kept or freed. */
static void s_send(partner_t *p, js_arena_t *a, Jiesu__V1__Order *o, int64_t version) {
    const char *target = partner_target(o);
    const partner_peer_t *peer = partner_peers_find(&p->peers, target);
    int64_t now = js_now_ms();
    if (!peer) {
        (*p->c_unknown_partner)++;
        js_log(JS_LOG_WARN, o->id, o->trace_id,
               "partner: order waits in stage transferring: partner '%s' is not in partner.peers", target);
        js_arena_destroy(&a);
        return;
    }
    int idx = (int)(peer - p->peers.v);
    s_peer_t *rt = &p->rt[idx];
    s_req_t *r = NULL;
    for (int i = 0; i < p->max_inflight && !r; i++)
        if (!p->reqs[i].used) r = &p->reqs[i];
    if (!r) { /* the sweep claims no more than there is room for */
        js_arena_destroy(&a);
        return;
    }
    Jiesu__V1__Submission *sub = js_arena_alloc(a, sizeof *sub);
    jiesu__v1__submission__init(sub);
    partner_build_submission(a, o, p->city_id, now, sub);
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    js_env_init(&env, r->id, "jiesu.submission", p->svc->source, o->id, o->trace_id);
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION;
    env.submission = sub;
    size_t len = protobuf_c_message_get_packed_size(&env.base);
    uint8_t *buf = js_arena_alloc(a, len);
    protobuf_c_message_pack(&env.base, buf);
    js_frame_t f = {buf, len};
    int rc = js_sock_send(rt->dealer, &f, 1);
    if (rc < 0) {
        if (rc == -EAGAIN) {
            (*p->c_not_connected)++;
            if (now - rt->last_warn_ms >= p->lease_ms) {
                js_log(JS_LOG_WARN, o->id, o->trace_id,
                       "partner: not connected to %s (%s): orders for it wait and are sent again every %lld ms",
                       peer->id, peer->endpoint, (long long)p->lease_ms);
                rt->last_warn_ms = now;
            }
        } else {
            (*p->c_failed)++;
            js_log(JS_LOG_WARN, o->id, o->trace_id, "partner: send to %s: %s", peer->id, js_strerror(rc));
        }
        js_arena_destroy(&a);
        return;
    }
    (*p->c_sent)++;
    r->used = true;
    r->arena = a;
    r->order = o;
    r->version = version;
    r->peer = idx;
    r->sent_ms = js_mono_ms();
    p->nreq++;
    js_log(JS_LOG_INFO, o->id, o->trace_id, "partner: sent to %s", peer->id);
}

/* ---- storing the acknowledgement ------------------------------------------- */

static void s_stored(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    s_store_t *c = arg;
    partner_t *p = c->p;
    const redisReply *e = status == 0 && r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? r->element[0] : NULL;
    long long code = e && e->type == REDIS_REPLY_ARRAY && e->elements > 0 && e->element[0]->type == REDIS_REPLY_INTEGER
                         ? e->element[0]->integer : -2;
    Jiesu__V1__Order *o = c->order;
    if (code == 1) {
        (*p->c_transferred)++;
        js_log(JS_LOG_INFO, o->id, o->trace_id, "partner: transferred to %s as its order %s", c->partner,
               c->their_id);
        if (!p->closed) js_svc_publish(p->svc, S_EVENT, c->env, c->env_len);
    } else if (code == 0) {
        (*p->c_stale)++; /* moved meanwhile (another sender stored it first): nothing to do */
    } else {
        (*p->c_failed)++;
        const char *why = status < 0 ? js_strerror(status)
                          : (r && r->type == REDIS_REPLY_ERROR) ? r->str
                          : code == -1 ? "no such order" : "unexpected reply";
        js_log(JS_LOG_WARN, o->id, o->trace_id, "partner: acknowledgement not stored: %s (sent again later)", why);
    }
    js_arena_destroy(&c->arena);
    free(c);
    p->storing--;
    p->svc->inflight--;
    s_maybe_free(p);
}

static void s_store_ack(partner_t *p, s_req_t *r, const char *their_id) {
    js_arena_t *a = r->arena;
    Jiesu__V1__Order *o = r->order;
    int64_t version = r->version;
    const char *partner = p->peers.v[r->peer].id;
    r->arena = NULL; /* the store context owns it now */
    s_req_free(p, r);
    if (js_store_state(p->svc->store) != JS_STORE_UP) {
        (*p->c_failed)++;
        js_arena_destroy(&a);
        return;
    }
    int64_t now = js_now_ms();
    char eid[JS_ID_LEN + 1];
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    js_env_init(&env, eid, S_EVENT, p->svc->source, o->id, o->trace_id);
    env.time_ms = now;
    env.version = version + 1;
    char *eidc = js_arena_strdup(a, eid);
    env.id = eidc;
    o->version = version;
    partner_mark_transferred(a, o, partner, their_id, now, eidc);
    s_store_t *c = js_calloc(1, sizeof *c);
    c->p = p;
    c->arena = a;
    c->order = o;
    c->partner = o->partner_id;
    c->their_id = o->partner_order_id;
    size_t blob_len = protobuf_c_message_get_packed_size(&o->base);
    uint8_t *blob = js_arena_alloc(a, blob_len);
    protobuf_c_message_pack(&o->base, blob);
    c->env = js_env_pack_with_order(a, &env, blob, blob_len, &c->env_len);
    char key[JS_ID_LEN + 8], maxlen[24], es[16], ev[24], ns[16];
    snprintf(key, sizeof key, "o:{%s}", o->id);
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)p->maxlen);
    snprintf(es, sizeof es, "%d", S_STAGE_IN);
    snprintf(ev, sizeof ev, "%lld", (long long)version);
    snprintf(ns, sizeof ns, "%d", S_STAGE_OUT);
    /* FCALL jiesu_advance 1 key maxlen id es ev ns blob type env redrive
     * ntimers nfields provisional: no re-drive, timers or fields once transferred */
    const char *argv[] = {"FCALL", "jiesu_advance", "1", key, maxlen, o->id, es, ev, ns,
                          (const char *)blob, S_EVENT, (const char *)c->env, "0", "0", "0", "0"};
    size_t lens[JS_ARRAY_LEN(argv)];
    for (size_t i = 0; i < JS_ARRAY_LEN(argv); i++) lens[i] = strlen(argv[i]);
    lens[9] = blob_len;
    lens[11] = c->env_len;
    if (js_store_commandargv(p->svc->store, s_stored, c, (int)JS_ARRAY_LEN(argv), argv, lens) < 0) {
        (*p->c_failed)++;
        js_arena_destroy(&c->arena);
        free(c);
        return;
    }
    p->storing++;
    p->svc->inflight++;
}

/* ---- answers --------------------------------------------------------------- */

static void s_answer(js_sock_t *s, const js_frame_t *f, size_t n, void *arg) {
    JS_UNUSED(s);
    s_peer_t *rt = arg;
    partner_t *p = rt->p;
    const char *peer = p->peers.v[rt->idx].id;
    if (n != 1) {
        (*p->c_bad)++;
        js_warn("partner: %s answered %zu frames, want 1", peer, n);
        return;
    }
    js_arena_t *a = js_arena_new(1024);
    js_env_t *env;
    char err[256];
    if (js_env_unpack_arena(a, f[0].data, f[0].size, (size_t)p->max_msg, &env, err, sizeof err) < 0) {
        (*p->c_bad)++;
        js_warn("partner: %s answered something unreadable: %s", peer, err);
        js_arena_destroy(&a);
        return;
    }
    s_req_t *r = s_req_find(p, env->correlation_id, strlen(env->correlation_id));
    if (!r || r->peer != rt->idx) {
        (*p->c_late)++; /* timed out before: the next send gets the same answer */
        js_arena_destroy(&a);
        return;
    }
    if (env->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_SUBMIT_REPLY && *env->submit_reply->order_id) {
        (*p->c_acked)++;
        s_store_ack(p, r, env->submit_reply->order_id);
    } else {
        (*p->c_refused)++;
        const Jiesu__V1__Error *e = env->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR ? env->error : NULL;
        js_log(JS_LOG_WARN, r->order->id, r->order->trace_id,
               "partner: %s did not take the order: %s: %s%s%s (sent again in %lld ms)", peer,
               e ? e->code : env->type, e ? e->message : "no submit reply", e && *e->field ? " field " : "",
               e ? e->field : "", (long long)p->lease_ms);
        s_req_free(p, r);
    }
    js_arena_destroy(&a);
}

/* ---- sweep ----------------------------------------------------------------- */

static void s_claimed(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    partner_t *p = arg;
    p->sweeping = false;
    p->svc->inflight--;
    if (p->closed) {
        s_maybe_free(p);
        return;
    }
    if (status < 0 || !r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR) js_warn("partner: sweep: %s", r->str);
        return;
    }
    for (size_t i = 0; i + 2 < r->elements; i += 3) {
        const redisReply *id = r->element[i], *v = r->element[i + 1], *d = r->element[i + 2];
        if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || d->type != REDIS_REPLY_STRING)
            continue;
        js_arena_t *a = js_arena_new(4096);
        Jiesu__V1__Order *o = (Jiesu__V1__Order *)protobuf_c_message_unpack(
            &jiesu__v1__order__descriptor, js_arena_allocator(a), d->len, (const uint8_t *)d->str);
        char err[128];
        if (!o || js_msg_check(&o->base, err, sizeof err) < 0 || !js_id_valid(o->id)) {
            (*p->c_bad)++;
            js_warn("partner: order %.*s has an unreadable state in Redis", (int)id->len, id->str);
            js_arena_destroy(&a);
            continue;
        }
        if (s_order_inflight(p, o->id) || p->stopping) { /* still waiting for the answer to the last send */
            js_arena_destroy(&a);
            continue;
        }
        s_send(p, a, o, strtoll(v->str, NULL, 10));
    }
}

static void s_expire(partner_t *p) {
    int64_t now = js_mono_ms();
    for (int i = 0; i < p->max_inflight; i++) {
        s_req_t *r = &p->reqs[i];
        if (r->used && now - r->sent_ms >= p->timeout_ms) {
            (*p->c_timeouts)++;
            js_log(JS_LOG_WARN, r->order->id, r->order->trace_id,
                   "partner: no answer from %s in %lld ms (sent again after the lease)", p->peers.v[r->peer].id,
                   (long long)p->timeout_ms);
            s_req_free(p, r);
        }
    }
}

static void s_sweep(partner_t *p) {
    if (p->stopping || p->closed) return;
    s_expire(p);
    int room = p->max_inflight - p->nreq;
    if (room > p->batch_max) room = p->batch_max;
    if (p->sweeping || room <= 0 || js_store_state(p->svc->store) != JS_STORE_UP) return;
    char stage[8], now[24], lease[24], limit[16];
    snprintf(stage, sizeof stage, "%d", S_STAGE_IN);
    snprintf(now, sizeof now, "%lld", (long long)js_now_ms());
    snprintf(lease, sizeof lease, "%lld", (long long)p->lease_ms);
    snprintf(limit, sizeof limit, "%d", room);
    if (js_store_command(p->svc->store, s_claimed, p, "FCALL jiesu_claim 0 %s %s %s %s", stage, now, lease, limit) ==
        0) {
        p->sweeping = true;
        p->svc->inflight++;
    }
}

static void s_tick(uv_timer_t *t) {
    s_sweep(t->data);
}

/* ---- life ------------------------------------------------------------------ */

static int s_check(js_conf_t *c, const char *key, int64_t lo, int64_t hi, char *err, size_t errlen) {
    return js_conf_check_int(c, key, lo, hi, err, errlen);
}

partner_t *partner_new(js_svc_t *svc, char *err, size_t errlen) {
    js_conf_t *c = svc->conf;
    if (s_check(c, "partner.sweep_ms", 10, 3600000, err, errlen) < 0 ||
        s_check(c, "partner.lease_ms", 100, INT64_C(86400000), err, errlen) < 0 ||
        s_check(c, "partner.timeout_ms", 10, INT64_C(86400000), err, errlen) < 0 ||
        s_check(c, "partner.max_inflight", 1, 100000, err, errlen) < 0)
        return NULL;
    if (js_conf_int(c, "partner.timeout_ms") > js_conf_int(c, "partner.lease_ms")) {
        snprintf(err, errlen, "partner.timeout_ms %lld is over partner.lease_ms %lld: an order would be sent again "
                 "while its answer is awaited", (long long)js_conf_int(c, "partner.timeout_ms"),
                 (long long)js_conf_int(c, "partner.lease_ms"));
        return NULL;
    }
    const char *city = js_conf_str(c, "partner.city_id");
    if (*city && !js_curve_id_ok(city)) {
        snprintf(err, errlen, "partner.city_id '%s': 1..%d of A-Z a-z 0-9 _ . -", city, JS_CURVE_ID_MAX);
        return NULL;
    }
    partner_t *p = js_calloc(1, sizeof *p);
    p->svc = svc;
    p->city_id = city;
    const char *peers = js_conf_str(c, "partner.peers");
    int rc = partner_peers_load(peers, &p->peers, err, errlen);
    if (rc == -ENOENT) {
        js_info("partner: no peers file %s: orders for partner hotlines wait in stage transferring", peers);
        rc = 0;
    }
    if (rc < 0) goto fail;
    if (p->peers.n > 0) {
        const char *kf = js_conf_str(c, "partner.curve_secret_file");
        char kerr[512];
        if ((rc = js_curve_read_key(kf, 1, p->sec, kerr, sizeof kerr)) < 0 ||
            (rc = js_curve_public_of(p->sec, p->pub)) < 0) {
            snprintf(err, errlen, "partner.curve_secret_file %s (make one: jiesuctl keygen --out var/keys/dispatcher)",
                     rc == -EINVAL && !*kerr ? kf : kerr);
            goto fail;
        }
    }
    p->sweep_ms = js_conf_int(c, "partner.sweep_ms");
    p->lease_ms = js_conf_int(c, "partner.lease_ms");
    p->timeout_ms = js_conf_int(c, "partner.timeout_ms");
    p->max_inflight = (int)js_conf_int(c, "partner.max_inflight");
    p->batch_max = (int)js_conf_int(c, "batch_max");
    p->maxlen = js_conf_int(c, "events.maxlen");
    p->max_msg = js_conf_int(c, "max_msg_bytes");
    p->reqs = js_calloc((size_t)p->max_inflight, sizeof *p->reqs);
    p->rt = js_calloc(p->peers.n ? p->peers.n : 1, sizeof *p->rt);
    js_metrics_t *m = svc->metrics;
    p->c_sent = js_metrics_counter(m, "partner_sent");
    p->c_acked = js_metrics_counter(m, "partner_acknowledged");
    p->c_transferred = js_metrics_counter(m, "partner_transferred");
    p->c_refused = js_metrics_counter(m, "partner_refused");
    p->c_timeouts = js_metrics_counter(m, "partner_timeouts");
    p->c_not_connected = js_metrics_counter(m, "partner_not_connected");
    p->c_unknown_partner = js_metrics_counter(m, "partner_unknown");
    p->c_late = js_metrics_counter(m, "partner_late_answers");
    p->c_stale = js_metrics_counter(m, "partner_repeats_ignored");
    p->c_failed = js_metrics_counter(m, "partner_failed");
    p->c_bad = js_metrics_counter(m, "partner_bad_answers");
    for (size_t i = 0; i < p->peers.n; i++) {
        s_peer_t *rt = &p->rt[i];
        rt->p = p;
        rt->idx = (int)i;
        js_sock_opts_t o;
        js_svc_sock_opts(svc, &o);
        o.immediate = true; /* nothing queues for a partner that is away: the lease sends again */
        o.sndhwm = p->max_inflight;
        o.curve_server_key = p->peers.v[i].server_key;
        o.curve_public = p->pub;
        o.curve_secret = p->sec;
        int e = 0;
        rt->dealer = js_sock_new(&svc->loop, svc->zctx, ZMQ_DEALER, &o, &e);
        if (rt->dealer) e = js_sock_connect(rt->dealer, p->peers.v[i].endpoint);
        if (!rt->dealer || e < 0) {
            snprintf(err, errlen, "partner %s (%s): %s", p->peers.v[i].id, p->peers.v[i].endpoint, js_strerror(e));
            goto fail;
        }
        js_sock_start(rt->dealer, s_answer, NULL, rt);
        rt->last_warn_ms = js_now_ms() - p->lease_ms; /* the first miss is told */
    }
    uv_timer_init(&svc->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, s_tick, (uint64_t)p->sweep_ms, (uint64_t)p->sweep_ms);
    if (p->peers.n) js_info("partner: %zu partner hotline(s), retry every %lld ms", p->peers.n, (long long)p->lease_ms);
    return p;
fail:
    for (size_t i = 0; p->rt && i < p->peers.n; i++) js_sock_close(&p->rt[i].dealer);
    explicit_bzero(p->sec, sizeof p->sec);
    partner_peers_free(&p->peers);
    free(p->rt);
    free(p->reqs);
    free(p);
    return NULL;
}

void partner_on_store_up(partner_t *p) {
    if (p) s_sweep(p);
}

void partner_stop(partner_t *p) {
    if (!p || p->stopping) return;
    p->stopping = true;
    uv_timer_stop(&p->timer);
}

static void s_timer_closed(uv_handle_t *h) {
    partner_t *p = h->data;
    p->timer_closed = true;
    s_maybe_free(p);
}

void partner_close(partner_t **pp) {
    if (!pp || !*pp) return;
    partner_t *p = *pp;
    *pp = NULL;
    p->closed = true;
    p->stopping = true;
    for (size_t i = 0; i < p->peers.n; i++) js_sock_close(&p->rt[i].dealer);
    for (int i = 0; i < p->max_inflight; i++)
        if (p->reqs[i].used) s_req_free(p, &p->reqs[i]);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, s_timer_closed);
}
