/* jiesu-bench -- load generator and benchmarks. Prints one JSON line each.
 *
 *   jiesu-bench pipeline [options]   submit N orders over K connections to
 *       intake (flat out or at --rate per second) and measure submit ->
 *       dispatched from the jiesu.order.dispatched events on the bus.
 *   jiesu-bench ceiling [options]    run the same Redis Functions alone
 *       (receive, classify, dispatch transitions, pipelined, batched) against
 *       Redis database 1: what nothing on this box can pass.
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
#include "ids.h"
#include "jsdefs.h"
#include "metrics.h"
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
            if (zmq_msg_size(&topic) == 22 && memcmp(zmq_msg_data(&topic), "jiesu.order.dispatched", 22) == 0) {
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
    static const char *argv[8 + 64 * 20];
    static size_t lens[8 + 64 * 20];
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

static void usage(FILE *f) {
    fprintf(f,
            "usage: jiesu-bench pipeline|ceiling|timers [options]\n"
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
            "  --name NAME        bench name in the JSON line (pipeline)\n");
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
                10000, 0, argv[1]};
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
    fprintf(stderr, "jiesu-bench: unknown benchmark '%s' (pipeline, ceiling, timers, classifier)\n", argv[1]);
    return 1;
}
