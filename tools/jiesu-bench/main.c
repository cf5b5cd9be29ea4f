/* jiesu-bench -- load generator and benchmarks. Prints one JSON line each.
 *
 *   jiesu-bench pipeline [options]   submit N orders over K connections to
 *       intake (flat out or at --rate per second) and measure submit ->
 *       the dispatcher's decision from the jiesu.order.dispatched (or, for a
 *       matter the catalog sends to a consultation, jiesu.order.consultation)
 *       events on the bus.
 *   jiesu-bench ceiling [options]    run the same Redis Functions alone
 *       (receive, classify, dispatch transitions, pipelined, batched) against
 *       Redis database 1: what nothing on this box can pass.
 *   jiesu-bench actions [options]    unit and reviewer actions through the
 *       dispatcher's ROUTER on real dispatched orders: latency at --rate,
 *       flat out, and the ceiling (the load + batched jiesu_act alone).
 *   jiesu-bench classifier [...]     the classifier's own benchmark.
 *
 * The suite itself is started by scripts/bench.py (make bench). */
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "../../services/classifier/cls.h"
#include "envelope.h"
#include "fsm.h"
#include "ids.h"
#include "jsdefs.h"
#include "metrics.h"
#include "stage.h"
#include "timer.h"

typedef struct opts {
    const char *intake, *bus, *redis_host;
    int redis_port;
    long orders;
    int connections;
    double rate;       /* per second, 0 = flat out */
    int window;        /* unanswered submissions per connection */
    int timeout_s;
    int batch;         /* ceiling: orders per FCALL */
    long lag;          /* ceiling: batches between an order's steps */
    long burst;        /* timers: timers due in the same second */
    double ceiling;    /* pipeline: the ceiling measured before, for the ratio */
    const char *name;  /* bench name in the JSON line */
    const char *actions; /* actions: the dispatcher's action ROUTER */
    double seconds;    /* actions: length of the latency run at --rate */
} opts_t;

static const char *texts[] = {
    "小区东门的下水道堵了，污水漫到路面，已经三天没人处理",
    "我家楼下的路灯坏了一个多月，晚上走路很不安全，请尽快维修",
    "某某餐馆油烟直排，噪音扰民，晚上十二点还在营业",
    "咨询一下新生儿医保怎么办理，需要带哪些材料",
    "公交站台的顶棚被风吹坏了，下雨天没法候车",
    "单位拖欠工资三个月，多次讨要无果，请帮助解决",
    "学校周边有无证摊贩占道经营，学生上下学很危险",
    "建议在十字路口增设红绿灯，车流量大经常堵车",
    "小区供暖温度不达标，室内只有十四度",
    "举报某工地夜间违规施工，凌晨两点还在打桩",
};

static int64_t now_us(void) { return js_mono_us(); }

/* ---- pipeline ------------------------------------------------------------- */

static int send_submission(void *sock, long seq, const char *run) {
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    char key[64];
    snprintf(key, sizeof key, "%s-%ld", run, seq); /* the order carries it back: "-:RUN-SEQ" */
    s.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    s.content = (char *)texts[seq % (long)JS_ARRAY_LEN(texts)];
    s.idempotency_key = key;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.submission", "jiesu-bench", "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION;
    env.submission = &s;
    uint8_t buf[2048];
    size_t n = protobuf_c_message_pack(&env.base, buf);
    return zmq_send(sock, buf, n, ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

/* "-:RUN-SEQ" -> SEQ, or -1 for an order of another run. */
static long seq_of_key(const char *k, const char *run) {
    size_t rl = strlen(run);
    if (strncmp(k, "-:", 2) != 0 || strncmp(k + 2, run, rl) != 0 || k[2 + rl] != '-') return -1;
    char *end;
    long v = strtol(k + 3 + rl, &end, 10);
    return *end ? -1 : v;
}

static int run_pipeline(const opts_t *o) {
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0, linger = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "jiesu.order.dispatched", 22);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "jiesu.order.consultation", 24);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "jiesu.heartbeat.", 16);
    if (zmq_connect(sub, o->bus) < 0) {
        fprintf(stderr, "jiesu-bench: bus %s: %s\n", o->bus, zmq_strerror(errno));
        return 1;
    }
    /* Wait until the subscription carries something (a heartbeat): no slow-joiner loss. */
    int64_t t0 = js_mono_ms();
    bool live = false;
    while (!live && js_mono_ms() - t0 < 10000) {
        zmq_pollitem_t pi = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 200) > 0) {
            zmq_msg_t m;
            int more = 1;
            while (more) { /* the whole message: topic and body */
                zmq_msg_init(&m);
                zmq_msg_recv(&m, sub, 0);
                more = zmq_msg_more(&m);
                zmq_msg_close(&m);
            }
            live = true;
        }
    }
    if (!live) {
        fprintf(stderr, "jiesu-bench: no heartbeat on the bus in 10 s: is the suite running?\n");
        return 1;
    }
    int K = o->connections;
    void **dealers = calloc((size_t)K, sizeof *dealers);
    long *outstanding = calloc((size_t)K, sizeof *outstanding);
    for (int k = 0; k < K; k++) {
        dealers[k] = zmq_socket(ctx, ZMQ_DEALER);
        int sh = 0;
        zmq_setsockopt(dealers[k], ZMQ_SNDHWM, &sh, sizeof sh);
        zmq_setsockopt(dealers[k], ZMQ_RCVHWM, &sh, sizeof sh);
        zmq_setsockopt(dealers[k], ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(dealers[k], o->intake);
    }
    char run[JS_ID_LEN + 1];
    js_id_new(run);
    long N = o->orders;
    int64_t *sent = calloc((size_t)N, sizeof *sent);
    uint8_t *done = calloc((size_t)N, 1);
    js_hist_t *lat = js_hist_new(), *ack = js_hist_new();
    long next = 0, acked = 0, dispatched = 0, errors = 0;
    int64_t start = now_us(), last_progress = start;
    double interval_us = o->rate > 0 ? 1e6 / o->rate : 0;
    zmq_pollitem_t *items = calloc((size_t)K + 1, sizeof *items);
    items[0] = (zmq_pollitem_t){sub, 0, ZMQ_POLLIN, 0};
    for (int k = 0; k < K; k++) items[k + 1] = (zmq_pollitem_t){dealers[k], 0, ZMQ_POLLIN, 0};
    int64_t last_dispatch = start;
    while (dispatched < N) {
        int64_t now = now_us();
        if (now - last_progress > (int64_t)o->timeout_s * 1000000) break;
        /* send what the rate (or the windows) allow */
        while (next < N) {
            if (interval_us > 0 && now < start + (int64_t)(interval_us * (double)next)) break;
            int k = (int)(next % K);
            if (outstanding[k] >= o->window) break;
            sent[next] = now_us();
            if (send_submission(dealers[k], next, run) < 0) break;
            outstanding[k]++;
            next++;
        }
        long timeout_ms = 1;
        if (next >= N || interval_us == 0) timeout_ms = 10;
        if (zmq_poll(items, K + 1, timeout_ms) <= 0) continue;
        for (int k = 0; k < K; k++) {
            for (;;) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, dealers[k], ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                js_env_t *e = NULL;
                char err[128];
                if (js_env_unpack(zmq_msg_data(&m), zmq_msg_size(&m), JS_ENV_MAX_DEFAULT, &e, err, sizeof err) == 0 &&
                    e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_SUBMIT_REPLY) {
                    acked++;
                    js_hist_record(ack, now_us() - start);
                } else {
                    errors++;
                    if (errors <= 3)
                        fprintf(stderr, "jiesu-bench: reply: %s\n",
                                e && e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR ? e->error->message : err);
                }
                if (e) js_env_free(e);
                outstanding[k]--;
                last_progress = now_us();
                zmq_msg_close(&m);
            }
        }
        for (;;) {
            zmq_msg_t topic, body;
            zmq_msg_init(&topic);
            if (zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&topic);
                break;
            }
            if (!zmq_msg_more(&topic)) { /* not [topic][envelope]: skip it */
                zmq_msg_close(&topic);
                continue;
            }
            zmq_msg_init(&body);
            zmq_msg_recv(&body, sub, 0);
            while (zmq_msg_more(&body)) { /* extra frames: keep the framing */
                zmq_msg_t x;
                zmq_msg_init(&x);
                zmq_msg_recv(&x, sub, 0);
                int more = zmq_msg_more(&x);
                zmq_msg_close(&x);
                if (!more) break;
            }
            if ((zmq_msg_size(&topic) == 22 && memcmp(zmq_msg_data(&topic), "jiesu.order.dispatched", 22) == 0) ||
                (zmq_msg_size(&topic) == 24 && memcmp(zmq_msg_data(&topic), "jiesu.order.consultation", 24) == 0)) {
                Jiesu__V1__Envelope *e = jiesu__v1__envelope__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
                if (e && e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ORDER) {
                    long seq = seq_of_key(e->order->idempotency_key, run);
                    if (seq >= 0 && seq < N && sent[seq] && !done[seq]) {
                        done[seq] = 1;
                        dispatched++;
                        last_dispatch = now_us();
                        js_hist_record(lat, last_dispatch - sent[seq]);
                        last_progress = last_dispatch;
                    }
                }
                if (e) jiesu__v1__envelope__free_unpacked(e, NULL);
            }
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
        }
    }
    double secs = (double)(last_dispatch - start) / 1e6;
    printf("{\"bench\":\"%s\",\"orders\":%ld,\"seconds\":%.3f,\"orders_per_s\":%.0f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"connections\":%d,\"offered_per_s\":%s%.0f%s,"
           "\"acked\":%ld,\"errors\":%ld,\"lost\":%ld",
           o->name, dispatched, secs, secs > 0 ? (double)dispatched / secs : 0,
           (double)js_hist_percentile(lat, 50) / 1000, (double)js_hist_percentile(lat, 99) / 1000,
           (double)js_hist_percentile(lat, 99.9) / 1000, (double)js_hist_max(lat) / 1000, K,
           o->rate > 0 ? "" : "\"", o->rate, o->rate > 0 ? "" : "\"", acked, errors, N - dispatched);
    if (o->ceiling > 0)
        printf(",\"ceiling_orders_per_s\":%.0f,\"ratio_to_ceiling\":%.3f", o->ceiling,
               secs > 0 ? (double)dispatched / secs / o->ceiling : 0);
    printf("}\n");
    fflush(stdout);
    for (int k = 0; k < K; k++) zmq_close(dealers[k]);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    free(dealers);
    free(outstanding);
    free(sent);
    free(done);
    free(items);
    js_hist_destroy(&lat);
    js_hist_destroy(&ack);
    return dispatched == N ? 0 : 1;
}

/* ---- ceiling --------------------------------------------------------------- */

/* One order's bytes as the services make them by the dispatch step: content,
 * masked requester, classification, one assignment and three history
 * entries, so the ceiling moves as many bytes as the pipeline does. */
static size_t make_blob(uint8_t *buf, const char *id, int stage, long seq) {
    Jiesu__V1__Order o = JIESU__V1__ORDER__INIT;
    Jiesu__V1__Requester rq = JIESU__V1__REQUESTER__INIT;
    Jiesu__V1__Classification k = JIESU__V1__CLASSIFICATION__INIT;
    Jiesu__V1__Assignment a = JIESU__V1__ASSIGNMENT__INIT, *as[1] = {&a};
    Jiesu__V1__HistoryEntry h[3], *hs[3];
    static const char *types[] = {"jiesu.order.received", "jiesu.order.classified", "jiesu.order.dispatched"};
    for (int i = 0; i < 3; i++) {
        jiesu__v1__history_entry__init(&h[i]);
        h[i].type = (char *)types[i];
        h[i].time_ms = js_now_ms();
        h[i].event_id = "01KAQ7Z4N8W3Q2YV0M5R6T9BXE";
        hs[i] = &h[i];
    }
    o.id = (char *)id;
    o.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    o.received_ms = js_now_ms();
    o.content = (char *)texts[seq % (long)JS_ARRAY_LEN(texts)];
    o.title = "bench-0000000";
    o.stage = stage;
    o.version = stage;
    o.trace_id = "0123456789abcdef0123456789abcdef";
    o.idempotency_key = "-:01KAQ7Z4N8W3Q2YV0M5R6T9BXE-000000";
    rq.contact_masked = "138****5678";
    rq.requester_key = "0123456789abcdef0123456789abcdef";
    rq.callback_method = 1;
    o.requester = &rq;
    k.type = 3;
    k.topic = "城乡建设";
    k.disposition = 1;
    k.urgency = 1;
    k.type_confidence = k.topic_confidence = 0.9f;
    k.reason = "topic 城乡建设 (0.93)";
    o.classification = &k;
    o.topic = k.topic;
    o.type = 3;
    o.disposition = 1;
    o.urgency = 1;
    a.unit_id = "city-housing";
    a.role = 1;
    a.due_ms = a.response_due_ms = a.assigned_ms = a.first_receipt_ms = js_now_ms();
    a.catalog_item = "route:城乡建设";
    o.assignments = as;
    o.n_assignments = 1;
    o.history = hs;
    o.n_history = 3;
    return jiesu__v1__order__pack(&o, buf);
}

/* Append one FCALL for orders [first, first + n) at step 0 (receive), 1
 * (classify) or 2 (dispatch, arming two timers in the order's bucket). */
static void s_ceiling_call(redisContext *c, int step, char (*ids)[JS_ID_LEN + 1], long first, int n,
                           const uint8_t *blob, size_t bl, const char *run) {
    static const char *argv[10 + 64 * 20];
    static size_t lens[10 + 64 * 20];
    static char keys[64][40], idem[64][80], tm[64][2][96], tb[64][8];
    char nk[16], now[24], redrive[24], tfire[24];
    const char *maxlen = "1000000", *ttl = "3600";
    int64_t t = js_now_ms();
    snprintf(nk, sizeof nk, "%d", n);
    snprintf(now, sizeof now, "%lld", (long long)t);
    snprintf(redrive, sizeof redrive, "%lld", (long long)t + 600000);
    snprintf(tfire, sizeof tfire, "%lld", (long long)t + 86400000);
    int k = 0;
#define A(p, l) (argv[k] = (p), lens[k] = (l), k++)
#define AS(p) A(p, strlen(p))
    AS("FCALL");
    AS(step == 0 ? "jiesu_receive" : "jiesu_advance");
    AS(nk);
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "o:{%s}", ids[first + i]);
        AS(keys[i]);
    }
    if (step == 0) {
        AS(now);
        AS(redrive);
        AS(maxlen);
        AS(ttl);
        AS("0"); /* no same-matter search: the bench's orders have no requester */
        AS("0");
        AS("0");
    } else {
        AS(maxlen);
    }
    for (int i = 0; i < n; i++) {
        const char *id = ids[first + i];
        if (step == 0) {
            snprintf(idem[i], sizeof idem[i], "-:%s-%ld", run, first + i);
            A(id, JS_ID_LEN);
            AS(idem[i]);
            A((const char *)blob, bl);
            A("", 0);
            AS("jiesu.order.received");
            A((const char *)blob, bl + 100 > 2048 ? bl : bl + 100);
            A("", 0);
            A("", 0);
            continue;
        }
        A(id, JS_ID_LEN);
        AS(step == 1 ? "1" : "2");
        AS(step == 1 ? "1" : "2");
        AS(step == 1 ? "2" : "4");
        A((const char *)blob, bl);
        AS(step == 1 ? "jiesu.order.classified" : "jiesu.order.dispatched");
        A((const char *)blob, bl + 100 > 2048 ? bl : bl + 100);
        AS(step == 1 ? redrive : "0");
        AS(step == 1 ? "0" : "2");
        if (step == 2) {
            snprintf(tb[i], sizeof tb[i], "%d", js_timer_bucket(id, 16));
            for (int x = 0; x < 2; x++) {
                snprintf(tm[i][x], sizeof tm[i][x], "%s|city-housing|%c|%d|%lld|%lld", id, x ? 'r' : 'h', x ? 2 : 0,
                         (long long)t, (long long)t + 86400000);
                AS(tb[i]);
                AS(tfire);
                AS(tm[i][x]);
            }
        }
        AS("0"); /* no extra hash fields */
        AS("0"); /* not provisional */
    }
#undef A
#undef AS
    redisAppendCommandArgv(c, k, argv, lens);
}

/* The Redis Functions alone, in the pattern the pipeline calls them: batches
 * of `batch` orders, and an order classified `lag` batches after it was
 * received and dispatched `lag` batches after that (in the pipeline an order's
 * keys are cold again by its next step; a ceiling that touched them at once
 * would flatter Redis's caches). */
static int run_ceiling(const opts_t *o) {
    redisContext *c = redisConnect(o->redis_host, o->redis_port);
    if (!c || c->err) {
        fprintf(stderr, "jiesu-bench: redis %s:%d: %s\n", o->redis_host, o->redis_port, c ? c->errstr : "oom");
        return 1;
    }
    redisReply *r = redisCommand(c, "SELECT 1");
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    long N = o->orders;
    int B = o->batch > 64 ? 64 : o->batch;
    long nb = (N + B - 1) / B, lag = o->lag;
    char (*ids)[JS_ID_LEN + 1] = malloc((size_t)N * sizeof *ids);
    for (long i = 0; i < N; i++) js_id_new(ids[i]);
    char run[JS_ID_LEN + 1];
    js_id_new(run);
    uint8_t blob[2048];
    size_t bl = make_blob(blob, ids[0], 1, 0);
    const int depth = 24; /* calls in flight */
    int inflight = 0;
    int64_t t0 = now_us();
    for (long tick = 0; tick < nb + 2 * lag || inflight > 0;) {
        if (tick < nb + 2 * lag && inflight < depth) {
            for (int step = 0; step < 3; step++) {
                long b = tick - step * lag;
                if (b < 0 || b >= nb) continue;
                long first = b * B;
                int n = (int)(N - first < B ? N - first : B);
                s_ceiling_call(c, step, ids, first, n, blob, bl, run);
                inflight++;
            }
            tick++;
            continue;
        }
        void *rep;
        if (redisGetReply(c, &rep) != REDIS_OK) {
            fprintf(stderr, "jiesu-bench: redis: %s\n", c->errstr);
            return 1;
        }
        redisReply *rr = rep;
        if (rr->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "jiesu-bench: FCALL: %s\n", rr->str);
            return 1;
        }
        freeReplyObject(rr);
        inflight--;
        if (tick >= nb + 2 * lag && inflight == 0) break;
    }
    double secs = (double)(now_us() - t0) / 1e6;
    printf("{\"bench\":\"ceiling\",\"orders\":%ld,\"seconds\":%.3f,\"orders_per_s\":%.0f,\"fcalls_per_s\":%.0f,"
           "\"batch\":%d,\"lag_batches\":%ld}\n",
           N, secs, (double)N / secs, 3.0 * (double)nb / secs, B, lag);
    fflush(stdout);
    r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    redisFree(c);
    free(ids);
    return 0;
}

/* ---- timers ---------------------------------------------------------------- */

static long long s_used_memory(redisContext *c) {
    redisReply *r = redisCommand(c, "INFO memory");
    long long v = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "used_memory:");
        if (p) v = atoll(p + 12);
    }
    freeReplyObject(r);
    return v;
}

/* Arm `pending` timers far in the future (pipelined ZADDs of 500 members, as
 * the dispatch transition's ZADD does per bucket), measure Redis memory per
 * timer, then arm `burst` timers all due in the same second and measure the
 * lag from their due moment to their jiesu.clock.overdue event on the bus. */
static int run_timers(const opts_t *o) {
    redisContext *c = redisConnect(o->redis_host, o->redis_port);
    if (!c || c->err) {
        fprintf(stderr, "jiesu-bench: redis: %s\n", c ? c->errstr : "oom");
        return 1;
    }
    const int buckets = 16, per = 500;
    long N = o->orders, burst = o->burst;
    long long mem0 = s_used_memory(c);
    int64_t now = js_now_ms(), far = now + INT64_C(30) * 86400000;
    char run[JS_ID_LEN + 1];
    js_id_new(run);
    const char **argv = malloc(sizeof(char *) * (2 + 2 * per));
    size_t *lens = malloc(sizeof(size_t) * (2 + 2 * per));
    char (*mem)[112] = malloc((size_t)per * sizeof *mem);
    char key[32], score[24];
    int64_t t0 = now_us();
    long sent = 0, calls = 0;
    while (sent < N) {
        int b = (int)(calls % buckets), k = 0, n = (int)(N - sent < per ? N - sent : per);
        snprintf(key, sizeof key, "jiesu:tm:{%d}", b);
        snprintf(score, sizeof score, "%lld", (long long)far);
        argv[k] = "ZADD", lens[k++] = 4;
        argv[k] = key, lens[k] = strlen(key), k++;
        for (int i = 0; i < n; i++) {
            /* a real v2 member (common/timer.h): order, unit, clock, what, fire, due, gen, epoch, limit */
            int ml = snprintf(mem[i], sizeof mem[i], "%.20s%06ld|city-housing|h|f0.5|%lld|%lld|3|0|15w", run,
                              sent + i, (long long)far, (long long)far);
            argv[k] = score, lens[k++] = strlen(score);
            argv[k] = mem[i], lens[k++] = (size_t)ml;
        }
        redisAppendCommandArgv(c, k, argv, lens);
        calls++;
        sent += n;
        if (calls % 64 == 0 || sent >= N) { /* keep the pipeline bounded */
            long want = calls % 64 == 0 ? 64 : calls % 64;
            for (long i = 0; i < want; i++) {
                void *rep;
                if (redisGetReply(c, &rep) != REDIS_OK) {
                    fprintf(stderr, "jiesu-bench: redis: %s\n", c->errstr);
                    return 1;
                }
                freeReplyObject(rep);
            }
        }
    }
    double arm_s = (double)(now_us() - t0) / 1e6;
    long long mem1 = s_used_memory(c);

    /* the burst: all due in the same second, 1.5 s from now */
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0, linger = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "jiesu.clock.overdue", 19);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "jiesu.heartbeat.", 16);
    zmq_connect(sub, o->bus);
    int64_t w0 = js_mono_ms();
    bool live = false;
    while (!live && js_mono_ms() - w0 < 10000) {
        zmq_pollitem_t pi = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 200) > 0) live = true;
    }
    for (long i = 0; i < burst; i++) {
        char ok[48];
        snprintf(ok, sizeof ok, "o:{B%.19s%06ld}", run, i); /* hiredis formats only %s and %b of strings */
        redisAppendCommand(c, "HSET %s v 3", ok);
        if (i % 1000 == 999 || i == burst - 1)
            for (long k = i - i % 1000; k <= i; k++) {
                void *rep;
                if (redisGetReply(c, &rep) != REDIS_OK) return 1;
                freeReplyObject(rep);
            }
    }
    int64_t due = js_now_ms() + 1500;
    snprintf(score, sizeof score, "%lld", (long long)due);
    for (long sent2 = 0, call2 = 0; sent2 < burst; call2++) {
        int b = (int)(call2 % buckets), k = 0, n = (int)(burst - sent2 < per ? burst - sent2 : per);
        snprintf(key, sizeof key, "jiesu:tm:{%d}", b);
        argv[k] = "ZADD", lens[k++] = 4;
        argv[k] = key, lens[k] = strlen(key), k++;
        for (int i = 0; i < n; i++) {
            int ml = snprintf(mem[i], sizeof mem[i], "B%.19s%06ld|city-housing|h|due|%lld|%lld|3|0.0|24h", run,
                              sent2 + i, (long long)due, (long long)due);
            argv[k] = score, lens[k++] = strlen(score);
            argv[k] = mem[i], lens[k++] = (size_t)ml;
        }
        redisReply *r = redisCommandArgv(c, k, argv, lens);
        freeReplyObject(r);
        sent2 += n;
    }
    js_hist_t *lag = js_hist_new();
    long fired = 0;
    int64_t last = js_mono_ms();
    while (fired < burst && js_mono_ms() - last < (int64_t)o->timeout_s * 1000) {
        zmq_pollitem_t pi = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 100) <= 0) continue;
        zmq_msg_t t, m;
        zmq_msg_init(&t);
        zmq_msg_recv(&t, sub, 0);
        int more = zmq_msg_more(&t);
        if (!more) {
            zmq_msg_close(&t);
            continue;
        }
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sub, 0);
        int64_t at = js_now_ms();
        if (zmq_msg_size(&t) == 19 && !memcmp(zmq_msg_data(&t), "jiesu.clock.overdue", 19)) {
            Jiesu__V1__Envelope *e = jiesu__v1__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            if (e && e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_CLOCK_EVENT && e->clock_event->due_ms == due) {
                js_hist_record(lag, (at - due) * 1000);
                fired++;
                last = js_mono_ms();
            }
            if (e) jiesu__v1__envelope__free_unpacked(e, NULL);
        }
        zmq_msg_close(&t);
        zmq_msg_close(&m);
    }
    printf("{\"bench\":\"timers\",\"pending\":%ld,\"arm_seconds\":%.3f,\"armed_per_s\":%.0f,"
           "\"redis_bytes_per_timer\":%.1f,\"burst\":%ld,\"fired\":%ld,\"lag_p50_ms\":%.1f,\"lag_p99_ms\":%.1f,"
           "\"lag_max_ms\":%.1f}\n",
           N, arm_s, (double)N / arm_s, (double)(mem1 - mem0) / (double)N, burst, fired,
           (double)js_hist_percentile(lag, 50) / 1000, (double)js_hist_percentile(lag, 99) / 1000,
           (double)js_hist_max(lag) / 1000);
    fflush(stdout);
    for (int b = 0; b < buckets; b++) {
        redisReply *r = redisCommand(c, "DEL jiesu:tm:{%d}", b);
        freeReplyObject(r);
    }
    for (long i = 0; i < burst; i++) {
        char ok[48];
        snprintf(ok, sizeof ok, "o:{B%.19s%06ld}", run, i);
        redisAppendCommand(c, "DEL %s", ok);
    }
    for (long i = 0; i < burst; i++) {
        void *rep;
        if (redisGetReply(c, &rep) != REDIS_OK) break;
        freeReplyObject(rep);
    }
    js_hist_destroy(&lag);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    redisFree(c);
    free(argv);
    free(lens);
    free(mem);
    return fired == burst ? 0 : 1;
}

/* ---- actions ----------------------------------------------------------------- */

/* Orders the actions bench works on: real ones, submitted through intake and
 * dispatched by the pipeline (clocks, timers, assignment map and all). */
#define BA_MAX_ASSIST 4
#define BA_UNIT_MAX 64

typedef struct ba_order {
    char id[JS_ID_LEN + 1];
    char lead[BA_UNIT_MAX], assist[BA_MAX_ASSIST][BA_UNIT_MAX];
    int nassist;
    int lim_amount, lim_unit; /* the lead's limit: an extension asks one more */
    int step, nsteps;         /* the next step of its script */
    int64_t version;          /* as the last answer said: the next action is decided against it */
    int stage;
    int64_t sent_us;          /* when its outstanding action was due (open loop) or sent */
    bool failed;
} ba_order_t;

/* One step of an order's life. The script: the lead accepts, reaches the
 * requester and notes progress; each assist accepts and reports to the lead;
 * the lead asks an extension, the reviewer refuses it; a note; the lead
 * completes, the reviewer refuses the answer; the lead completes again and
 * the reviewer approves (-> callback). 10 + 2 x assists actions, each
 * decided against the version the previous answer gave. */
typedef struct ba_step {
    int act;             /* JS_ACT_* */
    const char *unit;    /* the acting unit, NULL for the reviewer */
    const char *reason, *answer;
    int new_stage;       /* where the table takes it */
    const char *event;
    int nfields;         /* clock generations it writes (ceiling: as act.c does) */
    char fkind[2];       /* their kinds: 'r','a','h','c' */
    int ntimers;         /* timers it arms (ceiling) */
} ba_step_t;

static int ba_steps(const ba_order_t *o) { return 10 + 2 * o->nassist; }

static void ba_step(const ba_order_t *o, int i, ba_step_t *s) {
    memset(s, 0, sizeof *s);
    s->new_stage = JIESU__V1__STAGE__STAGE_ACCEPTED;
    if (i >= 3 && i < 3 + 2 * o->nassist) {
        int a = (i - 3) / 2;
        s->unit = o->assist[a];
        if ((i - 3) % 2 == 0) {
            s->act = JS_ACT_ACCEPT, s->event = "jiesu.order.accepted";
        } else {
            s->act = JS_ACT_REPORT, s->event = "jiesu.order.reported";
            s->reason = "已配合牵头单位完成现场核查，情况已书面反馈";
            s->nfields = 1, s->fkind[0] = 'a';
        }
        return;
    }
    int j = i < 3 ? i : i - 2 * o->nassist; /* 0..9 */
    switch (j) {
    case 0: s->act = JS_ACT_ACCEPT, s->unit = o->lead, s->event = "jiesu.order.accepted"; break;
    case 1:
        s->act = JS_ACT_CONTACT, s->unit = o->lead, s->event = "jiesu.order.contacted";
        s->reason = "已电话联系诉求人，约定上门时间";
        s->nfields = 1, s->fkind[0] = 'r';
        break;
    case 2:
    case 5:
        s->act = JS_ACT_NOTE, s->unit = o->lead, s->event = "jiesu.order.noted";
        s->reason = j == 2 ? "已派工作人员到现场查看" : "正在协调相关部门处理";
        break;
    case 3:
        s->act = JS_ACT_EXTEND, s->unit = o->lead, s->event = "jiesu.order.extension_requested";
        s->reason = "需要协调多个部门联合处置，申请延期";
        s->new_stage = JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW;
        break;
    case 4:
        s->act = JS_ACT_REFUSE, s->event = "jiesu.order.extension_refused";
        s->reason = "现有时限内可以办结，不予延期";
        break;
    case 6:
    case 8:
        s->act = JS_ACT_COMPLETE, s->unit = o->lead, s->event = "jiesu.order.completion_requested";
        s->answer = j == 6 ? "经现场核查，问题已处理完毕" : "经现场核查，问题已处理完毕；逐项答复如下：一、已整改；二、已回访";
        s->new_stage = JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW;
        s->nfields = 1, s->fkind[0] = 'h';
        break;
    case 7:
        s->act = JS_ACT_REFUSE, s->event = "jiesu.order.completion_refused";
        s->reason = "答复未逐项回应诉求，退回重办";
        s->nfields = 1, s->fkind[0] = 'h', s->ntimers = 4;
        break;
    default: /* 9 */
        s->act = JS_ACT_APPROVE, s->event = "jiesu.order.completed";
        s->new_stage = JIESU__V1__STAGE__STAGE_CALLBACK;
        s->nfields = 2, s->fkind[0] = 'c', s->fkind[1] = 'h', s->ntimers = 4;
        break;
    }
}

/* The request envelope of order o's next step; its id names the action:
 * RUN-INDEX-STEP. */
static size_t ba_request(uint8_t *buf, size_t cap, const ba_order_t *o, long idx, const char *run) {
    ba_step_t s;
    ba_step(o, o->step, &s);
    char id[80];
    snprintf(id, sizeof id, "%s-%ld-%d", run, idx, o->step);
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char eid[JS_ID_LEN + 1];
    js_env_init(&env, eid, "jiesu.action", "jiesu-bench", o->id, "");
    env.id = id;
    Jiesu__V1__Actor who = JIESU__V1__ACTOR__INIT;
    who.name = "bench";
    Jiesu__V1__UnitAction ua = JIESU__V1__UNIT_ACTION__INIT;
    Jiesu__V1__ReviewDecision rd = JIESU__V1__REVIEW_DECISION__INIT;
    Jiesu__V1__Limit lim = JIESU__V1__LIMIT__INIT;
    if (s.unit) {
        who.role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT;
        who.unit_id = (char *)s.unit;
        ua.order_id = (char *)o->id;
        ua.kind = (Jiesu__V1__UnitActionKind)s.act; /* 1..8 are the UnitActionKind numbers */
        ua.actor = &who;
        ua.expected_version = o->version;
        ua.reason = (char *)(s.reason ? s.reason : "");
        ua.answer = (char *)(s.answer ? s.answer : "");
        if (s.act == JS_ACT_EXTEND) {
            lim.amount = o->lim_amount + 1;
            lim.unit = (Jiesu__V1__LimitUnit)o->lim_unit;
            ua.new_limit = &lim;
        }
        env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_UNIT_ACTION;
        env.unit_action = &ua;
    } else {
        who.role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER;
        rd.order_id = (char *)o->id;
        rd.kind = (Jiesu__V1__ReviewKind)(s.act - 10);
        rd.actor = &who;
        rd.expected_version = o->version;
        rd.reason = (char *)(s.reason ? s.reason : "");
        env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_REVIEW_DECISION;
        env.review_decision = &rd;
    }
    if (protobuf_c_message_get_packed_size(&env.base) > cap) return 0;
    return protobuf_c_message_pack(&env.base, buf);
}

static redisContext *ba_redis(const opts_t *o) {
    redisContext *c = redisConnect(o->redis_host, o->redis_port);
    if (!c || c->err) {
        fprintf(stderr, "jiesu-bench: redis %s:%d: %s\n", o->redis_host, o->redis_port, c ? c->errstr : "oom");
        if (c) redisFree(c);
        return NULL;
    }
    return c;
}

static void ba_dealer_opts(void *d) {
    int z = 0;
    zmq_setsockopt(d, ZMQ_SNDHWM, &z, sizeof z);
    zmq_setsockopt(d, ZMQ_RCVHWM, &z, sizeof z);
    zmq_setsockopt(d, ZMQ_LINGER, &z, sizeof z);
}

/* Submit n orders through intake and wait until the pipeline has decided
 * each; keep the ones dispatched to a lead unit (the rest went to
 * consultation: a reviewer names their units, not in this mix). Returns the
 * number kept in os[], or -1. */
static long ba_prepare(const opts_t *o, void *ctx, redisContext *rc, long n, ba_order_t *os) {
    static const char *atexts[] = {
        "金河路梨园小区从早上开始停水，到现在水龙头不出水，家里有老人",
        "鼓楼大街钟楼巷23号有住户在楼顶加盖彩钢房，属于违章建筑，希望尽快处理",
        "梨园小区旁边的学校门口放学时段家长车辆乱停乱放，孩子过马路很危险，希望安排人员疏导",
    };
    const long ntexts = (long)(JS_ARRAY_LEN(texts) + JS_ARRAY_LEN(atexts));
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    ba_dealer_opts(d);
    zmq_connect(d, o->intake);
    char run[JS_ID_LEN + 1];
    js_id_new(run);
    char (*ids)[JS_ID_LEN + 1] = calloc((size_t)n, sizeof *ids);
    long sent = 0, got = 0, errors = 0;
    int64_t last = js_mono_ms();
    while (got < n && js_mono_ms() - last < (int64_t)o->timeout_s * 1000) {
        while (sent < n && sent - got < 1000) {
            Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
            char key[64];
            snprintf(key, sizeof key, "%s-%ld", run, sent);
            s.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
            long t = sent % ntexts;
            s.content = (char *)(t < (long)JS_ARRAY_LEN(atexts) ? atexts[t] : texts[t - (long)JS_ARRAY_LEN(atexts)]);
            s.idempotency_key = key;
            js_env_t env = JIESU__V1__ENVELOPE__INIT;
            char id[JS_ID_LEN + 1];
            js_env_init(&env, id, "jiesu.submission", "jiesu-bench", "", "");
            env.correlation_id = key; /* not needed by intake; the reply names the order */
            env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION;
            env.submission = &s;
            uint8_t buf[2048];
            size_t len = protobuf_c_message_pack(&env.base, buf);
            if (zmq_send(d, buf, len, 0) < 0) break;
            sent++;
        }
        zmq_pollitem_t pi = {d, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 100) <= 0) continue;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, d, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            js_env_t *e = NULL;
            char err[128];
            if (js_env_unpack(zmq_msg_data(&m), zmq_msg_size(&m), JS_ENV_MAX_DEFAULT, &e, err, sizeof err) == 0 &&
                e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_SUBMIT_REPLY && js_id_valid(e->submit_reply->order_id)) {
                snprintf(ids[got], sizeof ids[got], "%s", e->submit_reply->order_id);
                got++;
            } else if (++errors <= 3) {
                fprintf(stderr, "jiesu-bench: submit: %s\n",
                        e && e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR ? e->error->message : err);
            }
            if (e) js_env_free(e);
            zmq_msg_close(&m);
            last = js_mono_ms();
        }
        if (errors) break;
    }
    zmq_close(d);
    if (got < n) {
        fprintf(stderr, "jiesu-bench: only %ld of %ld orders were taken by intake\n", got, n);
        free(ids);
        return -1;
    }
    /* Wait until none is still received or classified. */
    long kept = 0, pending = n;
    int64_t t0 = js_mono_ms();
    while (pending > 0) {
        if (js_mono_ms() - t0 > (int64_t)o->timeout_s * 4000) {
            fprintf(stderr, "jiesu-bench: %ld orders still not dispatched\n", pending);
            free(ids);
            return -1;
        }
        usleep(200000);
        pending = 0;
        for (long i = 0; i < n; i++) redisAppendCommand(rc, "HGET o:{%s} stage", ids[i]);
        for (long i = 0; i < n; i++) {
            redisReply *r = NULL;
            if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
                free(ids);
                return -1;
            }
            int st = r && r->type == REDIS_REPLY_STRING ? atoi(r->str) : 0;
            if (st == JIESU__V1__STAGE__STAGE_RECEIVED || st == JIESU__V1__STAGE__STAGE_CLASSIFIED || st == 0)
                pending++;
            freeReplyObject(r);
        }
    }
    /* The dispatched ones: lead, assists and the lead's limit from the stored order. */
    for (long i = 0; i < n; i++) redisAppendCommand(rc, "HMGET o:{%s} stage v d", ids[i]);
    for (long i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
            free(ids);
            return -1;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
            atoi(r->element[0]->str) == JIESU__V1__STAGE__STAGE_DISPATCHED && r->element[2]->type == REDIS_REPLY_STRING) {
            Jiesu__V1__Order *ord = jiesu__v1__order__unpack(NULL, r->element[2]->len, (const uint8_t *)r->element[2]->str);
            ba_order_t *b = &os[kept];
            memset(b, 0, sizeof *b);
            snprintf(b->id, sizeof b->id, "%s", ids[i]);
            b->version = atoll(r->element[1]->str);
            b->stage = JIESU__V1__STAGE__STAGE_DISPATCHED;
            bool lead = false;
            for (size_t a = 0; ord && a < ord->n_assignments; a++) {
                const Jiesu__V1__Assignment *as = ord->assignments[a];
                if (strlen(as->unit_id) >= BA_UNIT_MAX) continue;
                if ((as->role == JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD ||
                     as->role == JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COORDINATE) && !lead && as->limit) {
                    snprintf(b->lead, sizeof b->lead, "%s", as->unit_id);
                    b->lim_amount = as->limit->amount;
                    b->lim_unit = as->limit->unit;
                    lead = true;
                } else if (as->role == JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_ASSIST && b->nassist < BA_MAX_ASSIST) {
                    snprintf(b->assist[b->nassist++], BA_UNIT_MAX, "%s", as->unit_id);
                }
            }
            if (ord) jiesu__v1__order__free_unpacked(ord, NULL);
            if (lead && b->lim_amount > 0) {
                b->nsteps = ba_steps(b);
                kept++;
            }
        }
        freeReplyObject(r);
    }
    free(ids);
    return kept;
}

typedef struct ba_run {
    long actions, errors, wrong; /* answered ActionReply; Error; a reply that says another stage */
    int64_t first_us, last_us;
    js_hist_t *lat;
} ba_run_t;

/* Drive the actions of orders os[0..n) through K connections. Flat out
 * (rate 0): each connection keeps `window` actions outstanding, on distinct
 * orders; open loop (rate > 0): action i is due at start + i / rate, sent to
 * the next order whose previous action was answered, and its latency is
 * counted from when it was due (so a stall is not hidden), for `limit`
 * actions. An order's next action always waits for the answer to its
 * previous one. */
static int ba_drive(const opts_t *o, void *ctx, ba_order_t *os, long n, double rate, long limit, ba_run_t *res) {
    int K = o->connections;
    void **dl = calloc((size_t)K, sizeof *dl);
    zmq_pollitem_t *items = calloc((size_t)K, sizeof *items);
    long *outstanding = calloc((size_t)K, sizeof *outstanding);
    for (int k = 0; k < K; k++) {
        dl[k] = zmq_socket(ctx, ZMQ_DEALER);
        ba_dealer_opts(dl[k]);
        zmq_connect(dl[k], o->actions);
        items[k] = (zmq_pollitem_t){dl[k], 0, ZMQ_POLLIN, 0};
    }
    /* Orders free to act: one ring per connection (flat out) or one (open loop). */
    int R = rate > 0 ? 1 : K;
    long *ring = malloc((size_t)n * sizeof *ring), *head = calloc((size_t)R, sizeof *head),
         *tail = calloc((size_t)R, sizeof *tail), *cnt = calloc((size_t)R, sizeof *cnt), *base = calloc((size_t)R + 1, sizeof *base);
    for (int r = 0; r < R; r++) base[r + 1] = base[r] + n / R + (r < n % R);
    for (long i = 0; i < n; i++) {
        int r = R == 1 ? 0 : (int)(i % R);
        ring[base[r] + tail[r]] = i;
        tail[r] = (tail[r] + 1) % (base[r + 1] - base[r]);
        cnt[r]++;
    }
    char run[JS_ID_LEN + 1];
    js_id_new(run);
    size_t runlen = strlen(run);
    memset(res, 0, sizeof *res);
    res->lat = js_hist_new();
    long sent = 0, inflight = 0, total = 0;
    for (long i = 0; i < n; i++) total += os[i].nsteps - os[i].step;
    if (limit <= 0 || limit > total) limit = total;
    int64_t start = now_us(), last_progress = start;
    res->first_us = start;
    double interval = rate > 0 ? 1e6 / rate : 0;
    uint8_t buf[4096];
    int rc = 0;
    while (res->actions + res->errors < limit) {
        int64_t now = now_us();
        if (now - last_progress > (int64_t)o->timeout_s * 1000000) {
            fprintf(stderr, "jiesu-bench: actions: no answer in %d s (%ld outstanding)\n", o->timeout_s, inflight);
            rc = 1;
            break;
        }
        for (int r = 0; r < R && sent < limit; r++) {
            for (;;) {
                if (sent >= limit || cnt[r] == 0) break;
                int64_t due = rate > 0 ? start + (int64_t)(interval * (double)sent) : now;
                if (rate > 0 && now < due) break;
                long i = ring[base[r] + head[r]];
                int k = (int)(i % K);
                if (rate == 0 && outstanding[k] >= o->window) break;
                size_t len = ba_request(buf, sizeof buf, &os[i], i, run);
                if (!len || zmq_send(dl[k], buf, len, 0) < 0) {
                    fprintf(stderr, "jiesu-bench: actions: cannot send\n");
                    rc = 1;
                    goto out;
                }
                head[r] = (head[r] + 1) % (base[r + 1] - base[r]);
                cnt[r]--;
                os[i].sent_us = due;
                outstanding[k]++;
                inflight++;
                sent++;
            }
        }
        int64_t wait_ms = 10;
        if (rate > 0 && sent < limit) {
            int64_t next = start + (int64_t)(interval * (double)sent);
            wait_ms = next > now ? (next - now) / 1000 : 0;
        }
        if (zmq_poll(items, K, (long)wait_ms) <= 0) continue;
        for (int k = 0; k < K; k++) {
            for (;;) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, dl[k], ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                int64_t at = now_us();
                js_env_t *e = NULL;
                char err[128];
                long i = -1;
                int step = -1;
                if (js_env_unpack(zmq_msg_data(&m), zmq_msg_size(&m), JS_ENV_MAX_DEFAULT, &e, err, sizeof err) == 0 &&
                    strncmp(e->correlation_id, run, runlen) == 0 && e->correlation_id[runlen] == '-')
                    sscanf(e->correlation_id + runlen + 1, "%ld-%d", &i, &step);
                zmq_msg_close(&m);
                if (i < 0 || i >= n || step != os[i].step) {
                    fprintf(stderr, "jiesu-bench: actions: an answer to no request of this run (%s)\n", e ? e->correlation_id : err);
                    if (e) js_env_free(e);
                    rc = 1;
                    goto out;
                }
                ba_order_t *b = &os[i];
                outstanding[k]--;
                inflight--;
                last_progress = at;
                res->last_us = at;
                js_hist_record(res->lat, at - b->sent_us);
                if (e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ACTION_REPLY && !e->action_reply->repeated) {
                    ba_step_t s;
                    ba_step(b, b->step, &s);
                    if ((int)e->action_reply->stage != s.new_stage && ++res->wrong <= 3)
                        fprintf(stderr, "jiesu-bench: actions: %s step %d went to stage %d, not %d\n", b->id, b->step,
                                e->action_reply->stage, s.new_stage);
                    res->actions++;
                    b->version = e->action_reply->version;
                    b->stage = (int)e->action_reply->stage;
                    b->step++;
                } else {
                    if (++res->errors <= 3)
                        fprintf(stderr, "jiesu-bench: actions: %s step %d: %s: %s\n", b->id, b->step,
                                e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR ? e->error->code : "reply",
                                e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR ? e->error->message
                                                                                       : "repeated or not an ActionReply");
                    b->failed = true;
                    limit -= b->nsteps - b->step - 1; /* its later steps will not be sent */
                }
                js_env_free(e);
                if (!b->failed && b->step < b->nsteps) { /* free to act again */
                    int r = R == 1 ? 0 : (int)(i % R);
                    ring[base[r] + tail[r]] = i;
                    tail[r] = (tail[r] + 1) % (base[r + 1] - base[r]);
                    cnt[r]++;
                }
            }
        }
    }
out:
    for (int k = 0; k < K; k++) zmq_close(dl[k]);
    free(dl);
    free(items);
    free(outstanding);
    free(ring);
    free(head);
    free(tail);
    free(cnt);
    free(base);
    return rc;
}

/* INFO commandstats: total calls and usec of every command, and of FCALL and
 * FCALL_RO (the commands inside a function are counted on their own too). */
typedef struct ba_stats {
    long long calls, fcall_calls, fcall_usec, fcallro_calls, fcallro_usec;
} ba_stats_t;

static void ba_commandstats(redisContext *c, ba_stats_t *s) {
    memset(s, 0, sizeof *s);
    redisReply *r = redisCommand(c, "INFO commandstats");
    if (!r || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return;
    }
    for (char *p = r->str; (p = strstr(p, "cmdstat_")); p++) {
        char name[64];
        long long calls = 0, usec = 0;
        if (sscanf(p, "cmdstat_%63[^:]:calls=%lld,usec=%lld", name, &calls, &usec) != 3) continue;
        if (!strcmp(name, "fcall")) s->fcall_calls = calls, s->fcall_usec = usec;
        else if (!strcmp(name, "fcall_ro")) s->fcallro_calls = calls, s->fcallro_usec = usec;
        else if (strcmp(name, "info") && strcmp(name, "config|resetstat")) s->calls += calls;
    }
    freeReplyObject(r);
}

/* Protobuf varint into p; its length. */
static size_t ba_varint(uint8_t *p, size_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Append to argv/lens the jiesu_act arguments of order x's next step as the
 * dispatcher builds them (actions.c s_flush), from the order's HGETALL h:
 * the stored order plus its history entry (protobuf concatenation of one
 * more Order.history = 22), the event envelope holding it, the clock
 * generations and timers act.c writes for that step. */
static int ba_act_args(js_arena_t *a, const ba_order_t *x, const char *aid, const redisReply *h, int64_t now,
                       const char **argv, size_t *lens, int k) {
    const char *d = NULL, *st = NULL, *v = NULL;
    size_t dl = 0;
    for (size_t f = 0; f + 1 < h->elements; f += 2) {
        const redisReply *fn = h->element[f], *fv = h->element[f + 1];
        if (fn->type != REDIS_REPLY_STRING || fv->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(fn->str, "d")) d = fv->str, dl = fv->len;
        else if (!strcmp(fn->str, "stage")) st = fv->str;
        else if (!strcmp(fn->str, "v")) v = fv->str;
    }
    if (!d || !st || !v) return -1;
    ba_step_t s;
    ba_step(x, x->step, &s);
    long long nv = atoll(v) + 1;
    Jiesu__V1__HistoryEntry he = JIESU__V1__HISTORY_ENTRY__INIT;
    Jiesu__V1__Actor who = JIESU__V1__ACTOR__INIT;
    char *eid = js_arena_alloc(a, JS_ID_LEN + 1);
    js_id_new(eid);
    he.type = (char *)s.event;
    he.time_ms = now;
    he.event_id = eid;
    who.role = s.unit ? JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT : JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER;
    who.unit_id = (char *)(s.unit ? s.unit : "");
    who.name = "bench";
    he.actor = &who;
    he.note = (char *)(s.reason ? s.reason : s.answer ? s.answer : "");
    size_t hl = jiesu__v1__history_entry__get_packed_size(&he);
    uint8_t *blob = js_arena_alloc(a, dl + hl + 16);
    memcpy(blob, d, dl);
    size_t bl = dl;
    bl += ba_varint(blob + bl, (22 << 3) | 2);
    bl += ba_varint(blob + bl, hl);
    bl += jiesu__v1__history_entry__pack(&he, blob + bl);
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    js_env_init(&env, eid, s.event, "jiesu-dispatcher", x->id, "");
    env.time_ms = now;
    env.version = nv;
    env.correlation_id = (char *)aid;
    size_t el = 0;
    uint8_t *eb = js_env_pack_with_order(a, &env, blob, bl, &el);
#define A(p, l) (argv[k] = (const char *)(p), lens[k] = (l), k++)
#define AS(p) A(p, strlen(p))
#define AN(val) AS(js_arena_printf(a, "%lld", (long long)(val)))
    AS(x->id);
    AS(aid);
    AN(s.act);
    AS(s.unit ? js_arena_printf(a, "unit:%s", s.unit) : "reviewer");
    AS(st);
    AS(v);
    AN(s.new_stage);
    A(blob, bl);
    AS("");
    AS(s.event);
    A(eb, el);
    AN(0);
    AS("0");
    AN(s.nfields);
    for (int f = 0; f < s.nfields; f++) {
        AS(js_arena_printf(a, "g:%c|%s", s.fkind[f], s.fkind[f] == 'c' ? "" : s.fkind[f] == 'a' ? s.unit : x->lead));
        AN(nv);
    }
    AN(s.ntimers);
    static const char *what[4] = {"f0.5", "f0.8", "b4h", "due"};
    int64_t due = now + INT64_C(30) * 86400000; /* database 1: nothing fires them */
    for (int t = 0; t < s.ntimers; t++) {
        bool cb = s.act == JS_ACT_APPROVE;
        AN(js_timer_bucket(x->id, 16));
        AN(due - 3 + t);
        AS(js_arena_printf(a, "%s|%s|%c|%s|%lld|%lld|%lld|0|%d%s", x->id, cb ? "" : x->lead, cb ? 'c' : 'h', what[t],
                           (long long)(due - 3 + t), (long long)due, nv, cb ? 2 : x->lim_amount,
                           cb || x->lim_unit == 1 ? "w" : x->lim_unit == 2 ? "d" : "h"));
    }
#undef A
#undef AS
#undef AN
    return k;
}

#define BA_DEPTH 4   /* ceiling: batches in flight */
#define BA_BATCH 64  /* ceiling: at most, actions per FCALL jiesu_act (the dispatcher's actions.batch_max) */

typedef struct ba_batch {
    bool used;
    int n, loaded;
    long idx[BA_BATCH];
    redisReply *loads[BA_BATCH];
} ba_batch_t;

typedef struct ba_expect {
    int slot, j; /* j >= 0: item j's GET (get) or HGETALL; -1: the batch's jiesu_act */
    bool get;
} ba_expect_t;

/* One number of INFO SECTION ("aof_rewrites", "latest_fork_usec"), -1 if absent. */
static long long ba_info(redisContext *c, const char *section, const char *name) {
    redisReply *r = redisCommand(c, "INFO %s", section);
    long long v = -1;
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, pat) : NULL;
    if (p) v = atoll(p + strlen(pat));
    freeReplyObject(r);
    return v;
}

/* The ceiling: what the dispatcher asks of Redis for each action, and nothing
 * else. The orders (real dispatched ones) are copied to database 1; per
 * action the dispatcher's load (GET a:{ID}:ACTION_ID, HGETALL o:{ID}); then
 * one FCALL jiesu_act for `batch` actions on distinct orders, with the
 * arguments of ba_act_args. Everything pipelined, BA_DEPTH batches in
 * flight. Returns actions per second, -1 on failure; *applied the actions
 * applied. */
static double ba_ceiling(const opts_t *o, redisContext *c, ba_order_t *os, long n, long *applied) {
    redisReply *r = redisCommand(c, "SELECT 1");
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    r = redisCommand(c, "SELECT 0");
    freeReplyObject(r);
    for (long i = 0; i < n; i++) redisAppendCommand(c, "COPY o:{%s} o:{%s} DB 1", os[i].id, os[i].id);
    int bad = 0;
    for (long i = 0; i < n; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) return -1;
        if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) bad++;
        freeReplyObject(r);
    }
    if (bad) {
        fprintf(stderr, "jiesu-bench: ceiling: %d orders not copied to database 1\n", bad);
        return -1;
    }
    r = redisCommand(c, "SELECT 1");
    freeReplyObject(r);
    int B = o->batch > BA_BATCH ? BA_BATCH : o->batch;
    if ((long)B * BA_DEPTH * 2 > n) B = (int)(n / (BA_DEPTH * 2) > 0 ? n / (BA_DEPTH * 2) : 1);
    bool *busy = calloc((size_t)n, 1);
    ba_batch_t bt[BA_DEPTH];
    memset(bt, 0, sizeof bt);
    ba_expect_t ex[BA_DEPTH * (2 * BA_BATCH + 1)];
    int eh = 0, en = 0;
    const int EC = (int)JS_ARRAY_LEN(ex);
    long left = 0, cursor = 0, failed = 0;
    for (long i = 0; i < n; i++) left += os[i].nsteps - os[i].step;
    *applied = 0;
    char run[JS_ID_LEN + 1];
    js_id_new(run);
    js_arena_t *ar[BA_DEPTH];
    for (int s = 0; s < BA_DEPTH; s++) ar[s] = js_arena_new(1 << 16);
    size_t cap = 8 + (size_t)BA_BATCH * (20 + 4 + 3 * 4);
    const char **argv = malloc(cap * sizeof *argv);
    size_t *lens = malloc(cap * sizeof *lens);
    int64_t t0 = now_us();
    int rc = 0;
    while (left > 0 || en > 0) {
        /* new batches: the next orders with a step to take and none in flight */
        for (int s = 0; s < BA_DEPTH && left > 0; s++) {
            if (bt[s].used) continue;
            ba_batch_t *b = &bt[s];
            b->n = b->loaded = 0;
            for (long scanned = 0; scanned < n && b->n < B; scanned++, cursor = (cursor + 1) % n) {
                ba_order_t *x = &os[cursor];
                if (busy[cursor] || x->failed || x->step >= x->nsteps) continue;
                busy[cursor] = true;
                b->idx[b->n++] = cursor;
            }
            if (!b->n) break;
            b->used = true;
            for (int j = 0; j < b->n; j++) {
                long i = b->idx[j];
                redisAppendCommand(c, "GET a:{%s}:%s-%ld-%d", os[i].id, run, i, os[i].step);
                ex[(eh + en++) % EC] = (ba_expect_t){s, j, true};
                redisAppendCommand(c, "HGETALL o:{%s}", os[i].id);
                ex[(eh + en++) % EC] = (ba_expect_t){s, j, false};
            }
        }
        if (en == 0) break;
        ba_expect_t e = ex[eh];
        eh = (eh + 1) % EC;
        en--;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "jiesu-bench: ceiling: redis: %s\n", c->errstr);
            rc = -1;
            break;
        }
        ba_batch_t *b = &bt[e.slot];
        if (e.j >= 0 && e.get) { /* no action of this run was applied twice */
            bool fresh = r->type == REDIS_REPLY_NIL;
            if (!fresh) fprintf(stderr, "jiesu-bench: ceiling: GET of the action id of %s: not nil\n", os[b->idx[e.j]].id);
            freeReplyObject(r);
            if (!fresh) {
                rc = -1;
                break;
            }
            continue;
        }
        if (e.j >= 0) {
            long i = b->idx[e.j];
            if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
                fprintf(stderr, "jiesu-bench: ceiling: HGETALL of %s: %s\n", os[i].id,
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
                freeReplyObject(r);
                rc = -1;
                break;
            }
            b->loads[e.j] = r;
            if (++b->loaded < b->n) continue;
            /* all loaded: the batch's jiesu_act, queued behind what is in flight */
            /* a new arena per batch: js_arena_reset keeps the grown block size, which doubles each time */
            js_arena_destroy(&ar[e.slot]);
            js_arena_t *a = ar[e.slot] = js_arena_new(1 << 16);
            int64_t now = js_now_ms();
            int k = 0;
            argv[k] = "FCALL", lens[k++] = 5;
            argv[k] = "jiesu_act", lens[k++] = 9;
            argv[k] = js_arena_printf(a, "%d", b->n), lens[k] = strlen(argv[k]), k++;
            for (int j = 0; j < b->n; j++)
                argv[k] = js_arena_printf(a, "o:{%s}", os[b->idx[j]].id), lens[k] = strlen(argv[k]), k++;
            argv[k] = js_arena_printf(a, "%lld", (long long)now), lens[k] = strlen(argv[k]), k++;
            argv[k] = "1000000", lens[k++] = 7;
            argv[k] = "604800", lens[k++] = 6;
            for (int j = 0; j < b->n && k >= 0; j++) {
                long i = b->idx[j];
                const char *aid = js_arena_printf(a, "%s-%ld-%d", run, i, os[i].step);
                k = ba_act_args(a, &os[i], aid, b->loads[j], now, argv, lens, k);
            }
            if (k >= 0) redisAppendCommandArgv(c, k, argv, lens); /* argv points into the loads: free them after */
            for (int j = 0; j < b->n; j++) freeReplyObject(b->loads[j]);
            if (k < 0) {
                fprintf(stderr, "jiesu-bench: ceiling: a stored order is incomplete\n");
                rc = -1;
                break;
            }
            ex[(eh + en++) % EC] = (ba_expect_t){e.slot, -1, false};
            continue;
        }
        /* the batch's jiesu_act: {1, version, stage} per action */
        if (r->type != REDIS_REPLY_ARRAY || (int)r->elements != b->n) {
            fprintf(stderr, "jiesu-bench: ceiling: jiesu_act: %s\n", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            rc = -1;
            break;
        }
        for (int j = 0; j < b->n; j++) {
            long i = b->idx[j];
            const redisReply *x = r->element[j];
            busy[i] = false;
            if (x->type == REDIS_REPLY_ARRAY && x->elements == 3 && x->element[0]->type == REDIS_REPLY_INTEGER &&
                x->element[0]->integer == 1) {
                (*applied)++;
                os[i].step++;
                left--;
            } else {
                if (++failed <= 3)
                    fprintf(stderr, "jiesu-bench: ceiling: %s step %d refused: %s\n", os[i].id, os[i].step,
                            x->type == REDIS_REPLY_ARRAY && x->elements == 3 && x->element[2]->type == REDIS_REPLY_STRING
                                ? x->element[2]->str : "?");
                left -= os[i].nsteps - os[i].step;
                os[i].failed = true;
            }
        }
        freeReplyObject(r);
        b->used = false;
    }
    double secs = (double)(now_us() - t0) / 1e6;
    r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    r = redisCommand(c, "SELECT 0");
    freeReplyObject(r);
    for (int s = 0; s < BA_DEPTH; s++) js_arena_destroy(&ar[s]);
    free(argv);
    free(lens);
    free(busy);
    if (rc < 0 || failed) return -1;
    return secs > 0 ? (double)*applied / secs : 0;
}

/* jiesu-bench actions: prepare real dispatched orders, then (1) the latency
 * run at --rate actions/s for --seconds, (2) the ceiling on a copy of other
 * orders, (3) flat out through --connections, --window actions outstanding
 * each, with Redis's command counts over that run. One JSON line. */
static int run_actions(const opts_t *o) {
    redisContext *rc = ba_redis(o);
    if (!rc) return 1;
    void *ctx = zmq_ctx_new();
    /* about 12 actions an order; the latency run gets a third more orders than it needs, so an order is
     * always free when an action is due */
    long lat_actions = o->rate > 0 ? (long)(o->rate * o->seconds) : 0;
    long n_lat = lat_actions > 0 ? lat_actions * 4 / 3 / 10 + 64 : 0;
    long n_ceil = o->orders / 3 > 1000 ? o->orders / 3 : 1000;
    long want = o->orders + n_lat + n_ceil, submit = want + want / 4; /* some go to consultation */
    ba_order_t *os = calloc((size_t)submit, sizeof *os);
    int64_t p0 = now_us();
    long kept = ba_prepare(o, ctx, rc, submit, os);
    if (kept < 0) return 1;
    double prep_s = (double)(now_us() - p0) / 1e6;
    long dispatched = kept;
    if (kept < want) { /* fewer dispatched than hoped: share what there is */
        n_lat = n_lat * kept / want, n_ceil = n_ceil * kept / want;
    } else {
        kept = want;
    }
    long n_flat = kept - n_lat - n_ceil;
    ba_order_t *lat_os = os, *ceil_os = os + n_lat, *flat_os = os + n_lat + n_ceil;
    int fail = 0;
    ba_run_t lr = {0}, fr = {0};
    /* AOF rewrites (a fork of the whole dataset on these cores) during the latency run explain its tail */
    long long rw0 = ba_info(rc, "persistence", "aof_rewrites");
    if (n_lat > 0) fail |= ba_drive(o, ctx, lat_os, n_lat, o->rate, lat_actions, &lr);
    else lr.lat = js_hist_new();
    long long rw1 = ba_info(rc, "persistence", "aof_rewrites");
    long ceil_applied = 0;
    double ceiling = ba_ceiling(o, rc, ceil_os, n_ceil, &ceil_applied);
    if (ceiling < 0) fail = 1;
    redisReply *r = redisCommand(rc, "CONFIG RESETSTAT");
    freeReplyObject(r);
    fail |= ba_drive(o, ctx, flat_os, n_flat, 0, 0, &fr);
    ba_stats_t st;
    ba_commandstats(rc, &st);
    long long rw2 = ba_info(rc, "persistence", "aof_rewrites"), fork_us = ba_info(rc, "stats", "latest_fork_usec");
    double fsecs = (double)(fr.last_us - fr.first_us) / 1e6;
    double aps = fsecs > 0 ? (double)fr.actions / fsecs : 0;
    long long steps = 0;
    for (long i = 0; i < n_flat; i++) steps += flat_os[i].nsteps;
    printf("{\"bench\":\"actions\",\"actions\":%ld,\"seconds\":%.3f,\"actions_per_s\":%.0f,\"errors\":%ld,"
           "\"wrong_stage\":%ld,\"orders\":%ld,\"actions_per_order\":%.2f,\"connections\":%d,\"window\":%d,"
           "\"flat_p50_ms\":%.3f,\"flat_p99_ms\":%.3f,"
           "\"offered_per_s\":%.0f,\"rate_actions\":%ld,\"rate_errors\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"p999_ms\":%.3f,\"max_ms\":%.3f,"
           "\"ceiling_actions_per_s\":%.0f,\"ratio_to_ceiling\":%.3f,\"ceiling_batch\":%d,"
           "\"redis_cmds_per_action\":%.1f,\"fcall_us_per_action\":%.1f,\"actions_per_fcall\":%.1f,"
           "\"submitted\":%ld,\"dispatched\":%ld,\"prepare_seconds\":%.1f,\"aof_rewrites_rate\":%lld,"
           "\"aof_rewrites_flat\":%lld,\"latest_fork_ms\":%.1f}\n",
           fr.actions, fsecs, aps, fr.errors, fr.wrong, n_flat, n_flat ? (double)steps / (double)n_flat : 0,
           o->connections, o->window, (double)js_hist_percentile(fr.lat, 50) / 1000,
           (double)js_hist_percentile(fr.lat, 99) / 1000, o->rate, lr.actions, lr.errors + lr.wrong,
           (double)js_hist_percentile(lr.lat, 50) / 1000, (double)js_hist_percentile(lr.lat, 99) / 1000,
           (double)js_hist_percentile(lr.lat, 99.9) / 1000, (double)js_hist_max(lr.lat) / 1000, ceiling,
           ceiling > 0 ? aps / ceiling : 0, o->batch > BA_BATCH ? BA_BATCH : o->batch,
           fr.actions ? (double)st.calls / (double)fr.actions : 0,
           fr.actions ? (double)st.fcall_usec / (double)fr.actions : 0,
           st.fcall_calls ? (double)fr.actions / (double)st.fcall_calls : 0, submit, dispatched, prep_s, rw1 - rw0,
           rw2 - rw1, (double)fork_us / 1000);
    fflush(stdout);
    if (lr.lat) js_hist_destroy(&lr.lat);
    if (fr.lat) js_hist_destroy(&fr.lat);
    free(os);
    redisFree(rc);
    zmq_ctx_term(ctx);
    return fail || fr.errors || fr.wrong || lr.errors || lr.wrong || fr.actions != (long)steps ? 1 : 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: jiesu-bench pipeline|ceiling|timers|actions [options]\n"
            "       jiesu-bench classifier [classifier bench options]\n"
            "  --intake EP        intake ROUTER (tcp://127.0.0.1:7010)\n"
            "  --bus EP           bus backend to subscribe (tcp://127.0.0.1:7002)\n"
            "  --redis-host H     (127.0.0.1)   --redis-port P (6390)\n"
            "  --orders N         orders to submit (100000)\n"
            "  --connections K    DEALER connections (4)\n"
            "  --rate R           orders per second offered, 0 = flat out (0)\n"
            "  --window W         unanswered submissions per connection (2000)\n"
            "  --timeout-s S      give up after S seconds without progress (30)\n"
            "  --batch B          ceiling: orders per FCALL (64, at most 64)\n"
            "  --lag L            ceiling: batches between an order's steps (100)\n"
            "  --burst B          timers: timers due in the same second (10000); --orders = pending timers\n"
            "  --ceiling X        pipeline: report the ratio to this ceiling (orders/s)\n"
            "  --name NAME        bench name in the JSON line (pipeline)\n"
            "  --actions EP       actions: the dispatcher's action ROUTER (tcp://127.0.0.1:7020)\n"
            "  --seconds S        actions: length of the latency run at --rate (10)\n"
            "  actions: --orders = orders driven flat out, --window = actions outstanding per\n"
            "  connection, --rate = actions/s of the latency run, --batch = ceiling actions per FCALL\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("jiesu-bench %s\n", JIESU_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "classifier") == 0) return cls_bench_main(argc - 1, argv + 1);
    opts_t o = {"tcp://127.0.0.1:7010", "tcp://127.0.0.1:7002", "127.0.0.1", 6390, 100000, 4, 0, 2000, 30, 64, 100,
                10000, 0, argv[1], "tcp://127.0.0.1:7020", 10};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "jiesu-bench: %s needs a value\n", a);
            return 1;
        }
        if (!strcmp(a, "--intake")) o.intake = v;
        else if (!strcmp(a, "--bus")) o.bus = v;
        else if (!strcmp(a, "--redis-host")) o.redis_host = v;
        else if (!strcmp(a, "--redis-port")) o.redis_port = atoi(v);
        else if (!strcmp(a, "--orders")) o.orders = atol(v);
        else if (!strcmp(a, "--connections")) o.connections = atoi(v);
        else if (!strcmp(a, "--rate")) o.rate = atof(v);
        else if (!strcmp(a, "--window")) o.window = atoi(v);
        else if (!strcmp(a, "--timeout-s")) o.timeout_s = atoi(v);
        else if (!strcmp(a, "--batch")) o.batch = atoi(v);
        else if (!strcmp(a, "--lag")) o.lag = atol(v);
        else if (!strcmp(a, "--burst")) o.burst = atol(v);
        else if (!strcmp(a, "--ceiling")) o.ceiling = atof(v);
        else if (!strcmp(a, "--name")) o.name = v;
        else if (!strcmp(a, "--actions")) o.actions = v;
        else if (!strcmp(a, "--seconds")) o.seconds = atof(v);
        else {
            fprintf(stderr, "jiesu-bench: unknown option %s (see --help)\n", a);
            return 1;
        }
        i++;
    }
    if (o.orders <= 0 || o.connections <= 0 || o.window <= 0 || o.batch <= 0 || o.batch > 10000 || o.lag < 0) {
        fprintf(stderr, "jiesu-bench: orders, connections, window and batch must be positive\n");
        return 1;
    }
    if (!strcmp(argv[1], "pipeline")) return run_pipeline(&o);
    if (!strcmp(argv[1], "ceiling")) return run_ceiling(&o);
    if (!strcmp(argv[1], "timers")) return run_timers(&o);
    if (!strcmp(argv[1], "actions")) return run_actions(&o);
    fprintf(stderr, "jiesu-bench: unknown benchmark '%s' (pipeline, ceiling, timers, actions, classifier)\n", argv[1]);
    return 1;
}
