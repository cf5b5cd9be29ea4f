/* jiesu-intake -- takes submissions on a ROUTER, stores each order in Redis
 * (one FCALL per batch), answers with the order id only once it is stored,
 * then hands the order to the classifier and publishes jiesu.order.received.
 * A second ROUTER (intake.partner_bind) is a CURVE server for partner
 * hotlines: only keys on the allow-list get in (zap.h), and the partner id of
 * what they submit comes from the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ids.h"
#include "outq.h"
#include "pii.h"
#include "service.h"
#include "simhash.h"
#include "stage.h"
#include "submission.h"
#include "zap.h"

static const char intake_keys_default_secret[] = "var/keys/intake.key";

static const js_conf_def_t intake_keys[] = {
    {"intake.bind", "tcp://127.0.0.1:7010", "ROUTER endpoint(s) for submissions, comma-separated"},
    {"classifier.connect", "tcp://127.0.0.1:7011", "classifier PULL endpoint(s), comma-separated"},
    {"pii.key_file", "var/pii.key", "file with the 64-hex-character key that seals contact data"},
    {"intake.max_content_bytes", "65536", "longest order text accepted"},
    {"intake.idem_ttl_s", "604800", "how long an idempotency key is remembered"},
    {"intake.partner_bind", "tcp://127.0.0.1:7015", "CURVE ROUTER endpoint(s) for partner hotlines; empty: off"},
    {"intake.curve_secret_file", intake_keys_default_secret,
     "the partner endpoint's CURVE secret key (jiesuctl keygen); at this default path a missing file turns the endpoint off"},
    {"intake.partner_keys", "var/keys/partner-keys.tsv",
     "allow-list: partner_id<TAB>Z85 client public key a line; missing or empty: nobody; reloaded on SIGHUP"},
    {"intake.same_matter_window_s", "2592000",
     "an order is linked to the same requester's order of the same matter within this many seconds (0: off)"},
    {"intake.same_matter_max_distance", "12", "SimHash bits (of 64) two texts of the same matter may differ in"},
    {"intake.same_matter_min_shingles", "12", "texts with fewer three-character runs are never linked"},
    {"intake.same_matter_keep", "50", "earlier orders remembered per requester for the search"},
    {NULL, NULL, NULL},
};

typedef struct item {
    js_arena_t *arena;
    js_sock_t **sockp;     /* the ROUTER to answer on (NULL once closed) */
    const void *ident;     /* ROUTER identity (arena copy) */
    size_t ident_len;
    int delim;             /* the peer is a REQ: answer with an empty delimiter */
    const char *req_id;
    Jiesu__V1__Order *order;
    const char *key;
    const char *idem;
    const char *rk;        /* requester key, "" for none */
    char sh[17];           /* SimHash of the text in hex, "" when not searched */
    js_env_t ev;           /* the received event's header (strings in the arena) */
    uint8_t *blob, *sealed, *env;
    size_t blob_len, sealed_len, env_len;
} item_t;

typedef struct batch {
    struct intake *in;
    int n;
    int64_t started_us;
    item_t *items;
} batch_t;

typedef struct intake {
    js_svc_t svc;
    js_sock_t *router, *push;
    js_sock_t *partner;    /* the partner endpoint, or NULL when off */
    intake_zap_t *zap;
    js_outq_t *pushq;      /* back-pressure towards the classifier */
    js_pii_t *pii;
    intake_limits_t lim;
    batch_t *cur;
    int batch_max, inflight_batches;
    bool paused;
    int64_t redrive_ms, maxlen, idem_ttl, max_msg;
    int64_t same_window_s, same_max_distance, same_min_shingles, same_keep;
    uint64_t *c_same_matter;
    uint64_t *c_received, *c_duplicate, *c_rejected, *c_failed, *c_forward_dropped, *c_reply_dropped;
    uint64_t *c_partner_refused, *c_partner_accepted, *c_partner_orders;
    js_hist_t *h_store, *h_batch;
} intake_t;

#define MAX_INFLIGHT 8

/* ---- replies ---------------------------------------------------------------- */

static void reply_env(intake_t *in, js_sock_t *sock, const void *ident, size_t ident_len, int delim,
                      js_env_t *env) {
    if (js_svc_reply(sock, ident, ident_len, delim, NULL, env) < 0) (*in->c_reply_dropped)++; /* the peer left */
}

static void reply_error(intake_t *in, js_sock_t *sock, const void *ident, size_t ident_len, int delim,
                        const char *req_id, const char *code, const char *message, const char *field) {
    if (js_svc_reply_error(&in->svc, sock, ident, ident_len, delim, req_id, NULL, code, message, field) < 0)
        (*in->c_reply_dropped)++;
}

static void reply_ok(intake_t *in, item_t *it, const char *order_id, int duplicate) {
    Jiesu__V1__SubmitReply r = JIESU__V1__SUBMIT_REPLY__INIT;
    r.order_id = (char *)order_id;
    r.duplicate = duplicate;
    if (!duplicate && *it->order->duplicate_of) r.same_matter_of = it->order->duplicate_of;
    r.received_ms = it->order->received_ms;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.submit.reply", in->svc.source, order_id, it->order->trace_id);
    env.correlation_id = (char *)it->req_id;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMIT_REPLY;
    env.submit_reply = &r;
    reply_env(in, *it->sockp, it->ident, it->ident_len, it->delim, &env);
}

/* ---- storing ---------------------------------------------------------------- */

static void batch_free(batch_t *b) {
    for (int i = 0; i < b->n; i++) js_arena_destroy(&b->items[i].arena);
    free(b->items);
    free(b);
}

static void resume_if_room(intake_t *in) {
    if (in->paused && !in->svc.stopping && in->inflight_batches < MAX_INFLIGHT) {
        in->paused = false;
        js_sock_resume(in->router);
        if (in->partner) js_sock_resume(in->partner);
    }
}

/* The order as stored carries duplicate_of (jiesu_receive added it): so does
 * the copy handed to the classifier, which closes it linked (DOMAIN.md 分类处置).
 * The received event, on the bus as in the stream, keeps what arrived.
 * Returns the envelope to forward (*len its size). */
static const uint8_t *same_matter(intake_t *in, item_t *it, const char *first, size_t *len) {
    (*in->c_same_matter)++;
    it->order->duplicate_of = js_arena_strdup(it->arena, first);
    size_t bl = protobuf_c_message_get_packed_size(&it->order->base);
    uint8_t *blob = js_arena_alloc(it->arena, bl);
    protobuf_c_message_pack(&it->order->base, blob);
    return js_env_pack_with_order(it->arena, &it->ev, blob, bl, len);
}

static void on_stored(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    batch_t *b = arg;
    intake_t *in = b->in;
    js_hist_record(in->h_store, js_mono_us() - b->started_us);
    bool ok = status == 0 && r && r->type == REDIS_REPLY_ARRAY && (int)r->elements == b->n;
    if (!ok) {
        const char *why = status < 0 ? js_strerror(status)
                          : (r && r->type == REDIS_REPLY_ERROR) ? r->str : "unexpected reply";
        js_warn("store: batch of %d not stored: %s", b->n, why);
    }
    for (int i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        const redisReply *e = ok ? r->element[i] : NULL;
        if (!e || e->type != REDIS_REPLY_ARRAY || (e->elements != 2 && e->elements != 4) ||
            e->element[1]->type != REDIS_REPLY_STRING) {
            (*in->c_failed)++;
            if (*it->sockp)
                reply_error(in, *it->sockp, it->ident, it->ident_len, it->delim, it->req_id, "unavailable",
                            "the order could not be stored; send it again with the same idempotency key", NULL);
            continue;
        }
        long long code = e->element[0]->integer;
        const char *oid = e->element[1]->str;
        if (code == 2 && strcmp(oid, it->order->id) != 0) {
            (*in->c_duplicate)++;
            if (*it->sockp) reply_ok(in, it, oid, 1);
            continue;
        }
        (*in->c_received)++;
        const uint8_t *fwd = it->env;
        size_t fwd_len = it->env_len;
        if (code == 1 && e->elements == 4 && e->element[2]->type == REDIS_REPLY_STRING)
            fwd = same_matter(in, it, e->element[2]->str, &fwd_len); /* the classifier closes it, linked */
        if (it->order->channel == JIESU__V1__CHANNEL__CHANNEL_PARTNER && it->sockp == &in->partner)
            (*in->c_partner_orders)++;
        if (*it->sockp) reply_ok(in, it, it->order->id, 0);
        if (in->pushq && js_outq_send(in->pushq, fwd, fwd_len) < 0)
            (*in->c_forward_dropped)++; /* the classifier's sweep re-drives it */
        js_svc_publish(&in->svc, "jiesu.order.received", it->env, it->env_len);
    }
    in->inflight_batches--;
    in->svc.inflight--;
    batch_free(b);
    resume_if_room(in);
}

static void flush(intake_t *in) {
    batch_t *b = in->cur;
    if (!b || b->n == 0) return;
    in->cur = NULL;
    int argc = 3 + b->n + 7 + 8 * b->n;
    const char **argv = js_malloc((size_t)argc * sizeof *argv);
    size_t *lens = js_malloc((size_t)argc * sizeof *lens);
    char nkeys[16], now[24], redrive[24], maxlen[24], ttl[24], window[24], maxd[24], keep[24];
    int64_t t = js_now_ms();
    snprintf(nkeys, sizeof nkeys, "%d", b->n);
    snprintf(now, sizeof now, "%lld", (long long)t);
    snprintf(redrive, sizeof redrive, "%lld", (long long)(t + in->redrive_ms));
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)in->maxlen);
    snprintf(ttl, sizeof ttl, "%lld", (long long)in->idem_ttl);
    snprintf(window, sizeof window, "%lld", (long long)in->same_window_s * 1000);
    snprintf(maxd, sizeof maxd, "%lld", (long long)in->same_max_distance);
    snprintf(keep, sizeof keep, "%lld", (long long)in->same_keep);
    int k = 0;
#define ARG(p, l) (argv[k] = (const char *)(p), lens[k] = (l), k++)
#define ARGS(p) ARG(p, strlen(p))
    ARGS("FCALL");
    ARGS("jiesu_receive");
    ARGS(nkeys);
    for (int i = 0; i < b->n; i++) ARGS(b->items[i].key);
    ARGS(now);
    ARGS(redrive);
    ARGS(maxlen);
    ARGS(ttl);
    ARGS(window);
    ARGS(maxd);
    ARGS(keep);
    for (int i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        ARGS(it->order->id);
        ARGS(it->idem);
        ARG(it->blob, it->blob_len);
        ARG(it->sealed ? (const char *)it->sealed : "", it->sealed_len);
        ARGS("jiesu.order.received");
        ARG(it->env, it->env_len);
        ARGS(it->rk);
        ARGS(it->sh);
    }
#undef ARG
#undef ARGS
    b->started_us = js_mono_us();
    js_hist_record(in->h_batch, b->n);
    int rc = js_store_commandargv(in->svc.store, on_stored, b, k, argv, lens);
    free(argv);
    free(lens);
    if (rc < 0) {
        for (int i = 0; i < b->n; i++) {
            item_t *it = &b->items[i];
            reply_error(in, *it->sockp, it->ident, it->ident_len, it->delim, it->req_id, "unavailable",
                        "the order store is not reachable; try again", NULL);
        }
        *in->c_failed += (uint64_t)b->n;
        batch_free(b);
        return;
    }
    in->inflight_batches++;
    in->svc.inflight++;
    if (in->inflight_batches >= MAX_INFLIGHT && !in->paused) {
        in->paused = true;
        js_sock_pause(in->router);
        if (in->partner) js_sock_pause(in->partner);
    }
}

/* ---- requests --------------------------------------------------------------- */

static void handle_ping(intake_t *in, js_sock_t *sock, const js_frame_t *ident, int delim, const char *req_id) {
    if (js_svc_reply_pong(&in->svc, sock, ident->data, ident->size, delim, req_id) < 0) (*in->c_reply_dropped)++;
}

/* One request from the plain endpoint (partner NULL) or from the partner
 * endpoint (partner: the authenticated partner id). */
static void handle_request(intake_t *in, js_sock_t **sockp, const char *partner, const js_frame_t *f, size_t n) {
    js_sock_t *sock = *sockp;
    if (n < 2) return; /* no body: nothing to answer */
    int delim = n == 3 && f[1].size == 0;
    if (n > 3 || (n == 3 && !delim)) {
        (*in->c_rejected)++;
        reply_error(in, sock, f[0].data, f[0].size, 0, "", "bad_request", "want one envelope frame", NULL);
        return;
    }
    const js_frame_t *body = &f[n - 1];
    js_arena_t *a = js_arena_new(4096);
    js_env_t *env;
    char err[256];
    int rc = js_env_unpack_arena(a, body->data, body->size, (size_t)in->max_msg, &env, err, sizeof err);
    if (rc < 0) {
        (*in->c_rejected)++;
        const char *code = rc == -E2BIG ? "too_large" : rc == JS_EUTF8 ? "bad_utf8"
                           : rc == JS_EUNKNOWN || rc == JS_EPROTO_FIELD0 ? "unknown_field"
                           : rc == JS_EREQUIRED ? "missing_field" : "bad_message";
        reply_error(in, sock, f[0].data, f[0].size, delim, "", code, err, NULL);
        js_arena_destroy(&a);
        return;
    }
    if (env->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_PING) {
        handle_ping(in, sock, &f[0], delim, env->id);
        js_arena_destroy(&a);
        return;
    }
    if (env->payload_case != JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION) {
        (*in->c_rejected)++;
        reply_error(in, sock, f[0].data, f[0].size, delim, env->id, "unsupported",
                    "intake takes a submission or a ping", "envelope.payload");
        js_arena_destroy(&a);
        return;
    }
    char field[64], msg[256];
    const char *code = partner ? intake_partner_prepare(env->submission, partner, field, sizeof field, msg, sizeof msg)
                               : NULL;
    if (!code) code = intake_check(env->submission, &in->lim, js_now_ms(), field, sizeof field, msg, sizeof msg);
    if (code) {
        (*in->c_rejected)++;
        reply_error(in, sock, f[0].data, f[0].size, delim, env->id, code, msg, field);
        js_arena_destroy(&a);
        return;
    }
    if (js_store_state(in->svc.store) != JS_STORE_UP) {
        reply_error(in, sock, f[0].data, f[0].size, delim, env->id, "unavailable",
                    "the order store is not reachable; try again", NULL);
        js_arena_destroy(&a);
        return;
    }
    if (!in->cur) {
        in->cur = js_calloc(1, sizeof *in->cur);
        in->cur->in = in;
        in->cur->items = js_calloc((size_t)in->batch_max, sizeof(item_t));
    }
    item_t *it = &in->cur->items[in->cur->n++];
    it->arena = a;
    it->sockp = sockp;
    it->ident = memcpy(js_arena_alloc(a, f[0].size), f[0].data, f[0].size);
    it->ident_len = f[0].size;
    it->delim = delim;
    it->req_id = env->id;
    char oid[JS_ID_LEN + 1], trace[JS_TRACE_LEN + 1];
    js_id_new(oid);
    size_t tl = strlen(env->trace_id);
    if (tl > 0 && tl <= JS_TRACE_LEN)
        memcpy(trace, env->trace_id, tl + 1); /* the caller's trace goes on */
    else
        js_trace_new(trace);
    Jiesu__V1__Order *o = js_arena_alloc(a, sizeof *o);
    jiesu__v1__order__init(o);
    int64_t now = js_now_ms();
    intake_build_order(a, env->submission, in->pii, oid, trace, now, o, &it->sealed, &it->sealed_len);
    js_env_t ev = JIESU__V1__ENVELOPE__INIT;
    char *eid = js_arena_alloc(a, JS_ID_LEN + 1);
    js_env_init(&ev, eid, "jiesu.order.received", in->svc.source, o->id, o->trace_id);
    ev.time_ms = now;
    ev.version = 1;
    js_order_add_history(a, o, "jiesu.order.received", now, eid, NULL, NULL);
    it->order = o;
    it->ev = ev;
    it->key = js_arena_printf(a, "o:{%s}", o->id);
    it->idem = o->idempotency_key;
    it->rk = o->requester && o->requester->requester_key ? o->requester->requester_key : "";
    it->sh[0] = '\0';
    if (in->same_window_s > 0 && *it->rk) { /* the same matter: one fingerprint of title and content */
        const char *text = *o->title ? js_arena_printf(a, "%s %s", o->title, o->content) : o->content;
        size_t shingles;
        uint64_t h = js_simhash(text, strlen(text), &shingles);
        if ((int64_t)shingles >= in->same_min_shingles) snprintf(it->sh, sizeof it->sh, "%016llx", (unsigned long long)h);
    }
    it->blob_len = protobuf_c_message_get_packed_size(&o->base);
    it->blob = js_arena_alloc(a, it->blob_len);
    protobuf_c_message_pack(&o->base, it->blob);
    it->env = js_env_pack_with_order(a, &ev, it->blob, it->blob_len, &it->env_len);
    if (in->cur->n >= in->batch_max) flush(in);
}

static void on_request(js_sock_t *s, const js_frame_t *f, size_t n, void *arg) {
    JS_UNUSED(s);
    intake_t *in = arg;
    handle_request(in, &in->router, NULL, f, n);
}

/* The partner id is the ZAP handler's User-Id for this connection's key; the
 * key is checked again against the allow-list, so a key removed by a reload
 * stops working on an open connection too. */
static void on_partner_request(js_sock_t *s, const js_frame_t *f, size_t n, void *arg) {
    intake_t *in = arg;
    const char *uid = js_sock_msg_property(s, "User-Id");
    const char *key = js_sock_msg_property(s, "X-Partner-Key");
    const char *now = key && in->zap ? intake_allow_find_z85(intake_zap_allow(in->zap), key) : NULL;
    if (!uid || !*uid || !now || strcmp(now, uid) != 0) {
        (*in->c_partner_refused)++;
        (*in->c_rejected)++;
        if (n >= 2)
            reply_error(in, s, f[0].data, f[0].size, n == 3 && f[1].size == 0, "", "forbidden",
                        "this key is no longer on the partner allow-list", NULL);
        return;
    }
    handle_request(in, &in->partner, uid, f, n);
}

static void on_drained(js_sock_t *s, void *arg) {
    JS_UNUSED(s);
    flush(arg);
}

/* ---- life ------------------------------------------------------------------- */

static void on_stop(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    intake_t *in = arg;
    js_sock_pause(in->router);
    if (in->partner) js_sock_pause(in->partner);
    flush(in); /* what was read is stored and answered before we go */
}

static void on_close(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    intake_t *in = arg;
    if (in->cur) {
        batch_free(in->cur);
        in->cur = NULL;
    }
    js_outq_destroy(&in->pushq); /* what is still queued is stored: it will be re-driven */
    js_sock_close(&in->router);
    js_sock_close(&in->partner); /* before the ZAP handler: without one libzmq would let anyone in */
    intake_zap_close(&in->zap);
    js_sock_close(&in->push);
}

static void on_reload(js_svc_t *svc, void *arg) {
    intake_t *in = arg;
    if (!in->zap) return;
    intake_allow_t a = {NULL, 0};
    char err[512];
    const char *path = js_conf_str(svc->conf, "intake.partner_keys");
    int rc = intake_allow_load(path, &a, err, sizeof err);
    if (rc == -ENOENT) rc = 0; /* no file: nobody, as at start */
    if (rc < 0) {
        js_error("SIGHUP: intake.partner_keys not reloaded, the old list stays: %s", err);
        return;
    }
    js_info("SIGHUP: partner allow-list reloaded: %zu key(s)", a.n);
    intake_zap_set_allow(in->zap, &a);
}

/* The partner endpoint: ZAP handler first, then the CURVE ROUTER. 0 (also
 * when it is off), or 1 after printing why it cannot start. */
static int partner_setup(intake_t *in) {
    js_svc_t *svc = &in->svc;
    const char *bind = js_conf_str(svc->conf, "intake.partner_bind");
    if (!*bind) return 0;
    const char *kf = js_conf_str(svc->conf, "intake.curve_secret_file");
    char sec[JS_CURVE_Z85_LEN + 1], err[512];
    int rc = js_curve_read_key(kf, 1, sec, err, sizeof err);
    if (rc == -ENOENT && strcmp(kf, intake_keys_default_secret) == 0) {
        js_warn("partner endpoint off: no key %s (make one: jiesuctl keygen --out var/keys/intake)", kf);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "jiesu-intake: intake.curve_secret_file %s\n", err);
        return 1;
    }
    intake_allow_t a = {NULL, 0};
    const char *kl = js_conf_str(svc->conf, "intake.partner_keys");
    rc = intake_allow_load(kl, &a, err, sizeof err);
    if (rc == -ENOENT) {
        js_warn("partner endpoint: no allow-list %s yet: every partner is refused until it exists (SIGHUP)", kl);
        rc = 0;
    }
    if (rc < 0) {
        fprintf(stderr, "jiesu-intake: intake.partner_keys %s\n", err);
        explicit_bzero(sec, sizeof sec);
        return 1;
    }
    size_t nkeys = a.n;
    int e = 0;
    in->zap = intake_zap_new(&svc->loop, svc->zctx, &a, in->c_partner_refused, in->c_partner_accepted, &e);
    intake_allow_free(&a);
    if (!in->zap) {
        fprintf(stderr, "jiesu-intake: ZAP handler %s: %s\n", INTAKE_ZAP_ENDPOINT, js_strerror(e));
        explicit_bzero(sec, sizeof sec);
        return 1;
    }
    js_sock_opts_t o;
    js_svc_sock_opts(svc, &o);
    o.router_mandatory = true;
    o.batch_max = in->batch_max;
    o.curve_server_secret = sec;
    in->partner = js_sock_new(&svc->loop, svc->zctx, ZMQ_ROUTER, &o, &e);
    explicit_bzero(sec, sizeof sec);
    if (in->partner && zmq_setsockopt(js_sock_zmq(in->partner), ZMQ_ZAP_DOMAIN, INTAKE_ZAP_DOMAIN,
                                      strlen(INTAKE_ZAP_DOMAIN)) < 0)
        e = -errno;
    if (!in->partner || e < 0) {
        fprintf(stderr, "jiesu-intake: partner endpoint: %s\n", js_strerror(e));
        return 1;
    }
    char *copy = js_strdup(bind), *save = NULL;
    for (char *ep = strtok_r(copy, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save)) {
        if ((e = js_sock_bind(in->partner, ep)) < 0) {
            fprintf(stderr, "jiesu-intake: intake.partner_bind %s: %s\n", ep, js_strerror(e));
            free(copy);
            return 1;
        }
    }
    free(copy);
    js_sock_start(in->partner, on_partner_request, on_drained, in);
    js_info("partner endpoint on %s: CURVE, %zu partner key(s) allowed", bind, nkeys);
    return 0;
}

int main(int argc, char **argv) {
    static intake_t in;
    int rc = js_svc_init(&in.svc, "intake", "[--key value ...]", intake_keys, argc, argv);
    if (rc == JS_CONF_EXIT) return 0;
    if (rc < 0) return 1;
    js_svc_t *svc = &in.svc;
    char err[256];
    if (js_conf_check_int(svc->conf, "intake.max_content_bytes", 1, 1 << 24, err, sizeof err) < 0 ||
        js_conf_check_int(svc->conf, "intake.idem_ttl_s", 1, INT64_C(1) << 32, err, sizeof err) < 0 ||
        js_conf_check_int(svc->conf, "intake.same_matter_window_s", 0, INT64_C(1) << 32, err, sizeof err) < 0 ||
        js_conf_check_int(svc->conf, "intake.same_matter_max_distance", 0, 32, err, sizeof err) < 0 ||
        js_conf_check_int(svc->conf, "intake.same_matter_min_shingles", 3, 1000, err, sizeof err) < 0 ||
        js_conf_check_int(svc->conf, "intake.same_matter_keep", 1, 1000, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-intake: %s\n", err);
        return 1;
    }
    const char *keyfile = js_conf_str(svc->conf, "pii.key_file");
    if ((rc = js_pii_load_file(keyfile, &in.pii)) < 0) {
        fprintf(stderr, "jiesu-intake: pii.key_file %s: %s (make one: head -c32 /dev/urandom | od -An -tx1 | tr -d ' \\n')\n",
                keyfile, js_strerror(rc));
        return 1;
    }
    intake_limits_default(&in.lim);
    in.lim.max_content = (size_t)js_conf_int(svc->conf, "intake.max_content_bytes");
    in.batch_max = (int)js_conf_int(svc->conf, "batch_max");
    in.redrive_ms = js_conf_int(svc->conf, "redrive_ms");
    in.maxlen = js_conf_int(svc->conf, "events.maxlen");
    in.idem_ttl = js_conf_int(svc->conf, "intake.idem_ttl_s");
    in.max_msg = js_conf_int(svc->conf, "max_msg_bytes");
    in.same_window_s = js_conf_int(svc->conf, "intake.same_matter_window_s");
    in.same_max_distance = js_conf_int(svc->conf, "intake.same_matter_max_distance");
    in.same_min_shingles = js_conf_int(svc->conf, "intake.same_matter_min_shingles");
    in.same_keep = js_conf_int(svc->conf, "intake.same_matter_keep");
    in.c_same_matter = js_metrics_counter(svc->metrics, "orders_same_matter");
    in.c_received = js_metrics_counter(svc->metrics, "orders_received");
    in.c_duplicate = js_metrics_counter(svc->metrics, "orders_duplicate");
    in.c_rejected = js_metrics_counter(svc->metrics, "submissions_rejected");
    in.c_failed = js_metrics_counter(svc->metrics, "orders_not_stored");
    in.c_forward_dropped = js_metrics_counter(svc->metrics, "forward_dropped");
    in.c_reply_dropped = js_metrics_counter(svc->metrics, "replies_unroutable");
    in.c_partner_refused = js_metrics_counter(svc->metrics, "partner_refused");
    in.c_partner_accepted = js_metrics_counter(svc->metrics, "partner_connections");
    in.c_partner_orders = js_metrics_counter(svc->metrics, "partner_orders");
    in.h_store = js_metrics_hist(svc->metrics, "fcall_us");
    in.h_batch = js_metrics_hist(svc->metrics, "batch_orders");

    js_sock_opts_t o;
    js_svc_sock_opts(svc, &o);
    o.router_mandatory = true;
    o.batch_max = in.batch_max;
    o.sndhwm = 100000;
    o.rcvhwm = 100000;
    int e = 0;
    in.router = js_sock_new(&svc->loop, svc->zctx, ZMQ_ROUTER, &o, &e);
    const char *bind = js_conf_str(svc->conf, "intake.bind");
    char *copy = js_strdup(bind), *save = NULL;
    for (char *ep = strtok_r(copy, ", ", &save); in.router && ep; ep = strtok_r(NULL, ", ", &save)) {
        if ((e = js_sock_bind(in.router, ep)) < 0) {
            fprintf(stderr, "jiesu-intake: intake.bind %s: %s\n", ep, js_strerror(e));
            free(copy);
            return 1;
        }
    }
    free(copy);
    js_sock_opts_t po;
    js_svc_sock_opts(svc, &po);
    po.immediate = true;
    po.sndhwm = 20000;
    in.push = js_sock_new(&svc->loop, svc->zctx, ZMQ_PUSH, &po, &e);
    if (!in.router || !in.push || js_svc_connect_list(in.push, js_conf_str(svc->conf, "classifier.connect")) < 0) {
        fprintf(stderr, "jiesu-intake: cannot set up sockets: %s\n", js_strerror(e));
        return 1;
    }
    in.pushq = js_outq_new(in.push, (size_t)js_conf_int(svc->conf, "forward_queue_max"));
    js_sock_start(in.router, on_request, on_drained, &in);
    if (partner_setup(&in) != 0) return 1;
    svc->on_stop = on_stop;
    svc->on_close = on_close;
    svc->on_reload = on_reload;
    svc->hook_arg = &in;
    rc = js_svc_run(svc);
    js_pii_destroy(&in.pii);
    return rc;
}
