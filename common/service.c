/* service.c -- the process shell every jiesu service shares. */
#include "service.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "functions.h"
#include "ids.h"

const js_conf_def_t js_svc_common_keys[] = {
    {"redis.host", "127.0.0.1", "Redis server address"},
    {"redis.port", "6390", "Redis server port"},
    {"redis.password", "", "Redis AUTH password (empty: none)"},
    {"redis.timeout_ms", "5000", "a Redis command not answered in this time drops the connection"},
    {"bus.publish", "tcp://127.0.0.1:7001", "the bus frontend publishers connect to"},
    {"bus.subscribe", "tcp://127.0.0.1:7002", "the bus backend subscribers connect to"},
    {"instance", "", "instance name in logs and heartbeats (empty: host-pid)"},
    {"log.level", "info", "debug, info, warn or error"},
    {"heartbeat_ms", "1000", "heartbeat period (Redis key and bus event)"},
    {"shutdown_timeout_ms", "5000", "on SIGTERM, wait at most this long for in-flight work"},
    {"linger_ms", "1000", "ZMQ_LINGER of every socket: bounded wait for unsent messages at close"},
    {"events.maxlen", "1000000", "approximate bound of the Redis event stream jiesu:events"},
    {"redrive_ms", "10000", "an order not taken by the next stage in this time is re-driven"},
    {"sweep_ms", "1000", "how often a stage looks for orders to re-drive"},
    {"batch_max", "64", "most orders per Redis call (larger batches cost Redis more per order)"},
    {"max_msg_bytes", "1048576", "largest message a socket accepts (ZMQ_MAXMSGSIZE)"},
    {"forward_queue_max", "100000", "orders queued for a slow next stage; past it they wait for re-drive"},
    {NULL, NULL, NULL},
};

static void s_close_cb(uv_handle_t *h) { JS_UNUSED(h); }

static void s_store_state(js_store_t *st, js_store_state_t state, const char *why, void *arg) {
    JS_UNUSED(st);
    js_svc_t *svc = arg;
    switch (state) {
    case JS_STORE_UP:
        js_info("redis ready (%s)", why ? why : "");
        if (svc->on_store_up && !svc->stopping) svc->on_store_up(svc, svc->hook_arg);
        break;
    case JS_STORE_DOWN: js_warn("redis down: %s", why ? why : "?"); break;
    case JS_STORE_FATAL:
        js_error("redis: %s", why ? why : "fatal");
        js_svc_shutdown(svc, 1);
        break;
    default: break;
    }
}

static void s_hb_reply(js_store_t *st, const redisReply *r, int status, void *arg) {
    JS_UNUSED(st);
    JS_UNUSED(r);
    JS_UNUSED(status);
    JS_UNUSED(arg);
}

static void s_heartbeat(uv_timer_t *t) {
    js_svc_t *svc = t->data;
    if (svc->on_heartbeat) svc->on_heartbeat(svc, svc->hook_arg);
    char *counters = js_metrics_json(svc->metrics);
    int64_t now = js_now_ms();
    size_t cap = strlen(counters) + 512;
    char *json = js_malloc(cap);
    snprintf(json, cap,
             "{\"service\":\"%s\",\"instance\":\"%s\",\"version\":\"%s\",\"pid\":%d,\"started_ms\":%lld,"
             "\"now_ms\":%lld,\"counters\":%s}",
             svc->name, svc->instance, JIESU_VERSION, (int)getpid(), (long long)svc->started_ms, (long long)now,
             counters);
    if (js_store_state(svc->store) == JS_STORE_UP) {
        char key[256];
        snprintf(key, sizeof key, "jiesu:hb:%s:%s", svc->name, svc->instance);
        char px[32];
        snprintf(px, sizeof px, "%lld", (long long)(3 * js_conf_int(svc->conf, "heartbeat_ms")));
        const char *argv[] = {"SET", key, json, "PX", px};
        size_t lens[] = {3, strlen(key), strlen(json), 2, strlen(px)};
        js_store_commandargv(svc->store, s_hb_reply, svc, 5, argv, lens);
    }
    /* The same on the bus: jiesu.heartbeat.<service>, payload Heartbeat. */
    Jiesu__V1__Heartbeat hb = JIESU__V1__HEARTBEAT__INIT;
    hb.service = (char *)svc->name;
    hb.instance = svc->instance;
    hb.started_ms = svc->started_ms;
    hb.version = (char *)JIESU_VERSION;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1], type[96];
    snprintf(type, sizeof type, "jiesu.heartbeat.%s", svc->name);
    js_env_init(&env, id, type, svc->source, "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_HEARTBEAT;
    env.heartbeat = &hb;
    size_t len;
    uint8_t *buf = js_env_pack(&env, &len);
    js_svc_publish(svc, type, buf, len);
    free(buf);
    free(json);
    free(counters);
}

static void s_finish(js_svc_t *svc) {
    uv_timer_stop(&svc->stop_timer);
    if (svc->on_close) svc->on_close(svc, svc->hook_arg);
    js_sock_close(&svc->pub);
    js_store_close(&svc->store);
    uv_timer_stop(&svc->hb_timer);
    uv_close((uv_handle_t *)&svc->hb_timer, s_close_cb);
    uv_close((uv_handle_t *)&svc->stop_timer, s_close_cb);
    uv_close((uv_handle_t *)&svc->sig_term, s_close_cb);
    uv_close((uv_handle_t *)&svc->sig_int, s_close_cb);
    uv_close((uv_handle_t *)&svc->sig_hup, s_close_cb);
}

static void s_stop_tick(uv_timer_t *t) {
    js_svc_t *svc = t->data;
    if (svc->inflight <= 0) {
        s_finish(svc);
    } else if (js_mono_ms() >= svc->stop_deadline) {
        js_warn("shutdown: %d in flight after %lld ms, leaving them to re-drive", svc->inflight,
                (long long)js_conf_int(svc->conf, "shutdown_timeout_ms"));
        s_finish(svc);
    }
}

void js_svc_shutdown(js_svc_t *svc, int exit_code) {
    if (exit_code > svc->exit_code) svc->exit_code = exit_code;
    if (svc->stopping) return;
    svc->stopping = true;
    js_info("shutting down: %d in flight", svc->inflight);
    if (svc->on_stop) svc->on_stop(svc, svc->hook_arg);
    svc->stop_deadline = js_mono_ms() + js_conf_int(svc->conf, "shutdown_timeout_ms");
    uv_timer_start(&svc->stop_timer, s_stop_tick, 0, 10);
}

static void s_signal(uv_signal_t *h, int signum) {
    js_svc_t *svc = h->data;
    js_info("signal %d", signum);
    if (signum == SIGHUP) {
        if (svc->on_reload && !svc->stopping) svc->on_reload(svc, svc->hook_arg);
        return;
    }
    js_svc_shutdown(svc, 0);
}

void js_svc_sock_opts(const js_svc_t *svc, js_sock_opts_t *o) {
    js_sock_opts_default(o);
    o->linger_ms = (int)js_conf_int(svc->conf, "linger_ms");
    o->maxmsgsize = js_conf_int(svc->conf, "max_msg_bytes");
    o->heartbeat_ivl_ms = (int)js_conf_int(svc->conf, "heartbeat_ms");
}

int js_svc_connect_list(js_sock_t *s, const char *list) {
    char *copy = js_strdup(list), *save = NULL;
    int rc = 0, n = 0;
    for (char *ep = strtok_r(copy, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save)) {
        if ((rc = js_sock_connect(s, ep)) < 0) break;
        n++;
    }
    free(copy);
    return rc < 0 ? rc : (n ? 0 : -EINVAL);
}

int js_svc_reply(js_sock_t *router, const void *ident, size_t ident_len, int delim, const char *req_id,
                 js_env_t *env) {
    if (!router) return -EBADF;
    if (req_id) env->correlation_id = (char *)req_id;
    size_t len;
    uint8_t *buf = js_env_pack(env, &len);
    js_frame_t f[3];
    size_t n = 0;
    f[n++] = (js_frame_t){ident, ident_len};
    if (delim) f[n++] = (js_frame_t){"", 0};
    f[n++] = (js_frame_t){buf, len};
    int rc = js_sock_send(router, f, n);
    free(buf);
    return rc;
}

int js_svc_reply_error(js_svc_t *svc, js_sock_t *router, const void *ident, size_t ident_len, int delim,
                       const char *req_id, const char *subject, const char *code, const char *message,
                       const char *field) {
    Jiesu__V1__Error e = JIESU__V1__ERROR__INIT;
    e.code = (char *)code;
    e.message = (char *)message;
    e.field = (char *)(field ? field : "");
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.error", svc->source, subject ? subject : "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_ERROR;
    env.error = &e;
    return js_svc_reply(router, ident, ident_len, delim, req_id ? req_id : "", &env);
}

int js_svc_reply_pong(js_svc_t *svc, js_sock_t *router, const void *ident, size_t ident_len, int delim,
                      const char *req_id) {
    Jiesu__V1__Pong p = JIESU__V1__PONG__INIT;
    p.service = (char *)svc->name;
    p.instance = svc->instance;
    p.version = JIESU_VERSION;
    p.redis_ok = svc->store && js_store_state(svc->store) == JS_STORE_UP;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.pong", svc->source, "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_PONG;
    env.pong = &p;
    return js_svc_reply(router, ident, ident_len, delim, req_id ? req_id : "", &env);
}

void js_svc_publish(js_svc_t *svc, const char *type, const void *bytes, size_t len) {
    if (!svc->pub) return;
    js_frame_t f[2] = {{type, strlen(type)}, {bytes, len}};
    if (js_sock_send(svc->pub, f, 2) == 0)
        (*svc->c_published)++;
    else
        (*svc->c_publish_dropped)++;
}

/* Undo js_svc_init on a path that returns before the loop ever runs. */
static int s_init_fail(js_svc_t *svc, int rc) {
    js_sock_close(&svc->pub);
    js_store_close(&svc->store);
    uv_close((uv_handle_t *)&svc->sig_term, s_close_cb);
    uv_close((uv_handle_t *)&svc->sig_int, s_close_cb);
    uv_close((uv_handle_t *)&svc->sig_hup, s_close_cb);
    uv_run(&svc->loop, UV_RUN_DEFAULT);
    uv_loop_close(&svc->loop);
    if (svc->zctx) zmq_ctx_term(svc->zctx);
    svc->zctx = NULL;
    js_metrics_destroy(&svc->metrics);
    js_conf_destroy(&svc->conf);
    return rc;
}

int js_svc_init(js_svc_t *svc, const char *name, const char *usage, const js_conf_def_t *defs,
                int argc, char **argv) {
    const js_conf_def_t *tables[] = {defs, NULL};
    return js_svc_init_tables(svc, name, usage, tables, argc, argv);
}

int js_svc_init_tables(js_svc_t *svc, const char *name, const char *usage, const js_conf_def_t *const *tables,
                       int argc, char **argv) {
    memset(svc, 0, sizeof *svc);
    /* Catch SIGTERM/SIGINT from the first instant: a service told to stop while
     * it starts must still stop cleanly (the handler runs once the loop runs). */
    uv_loop_init(&svc->loop);
    uv_signal_init(&svc->loop, &svc->sig_term);
    uv_signal_init(&svc->loop, &svc->sig_int);
    uv_signal_init(&svc->loop, &svc->sig_hup);
    svc->sig_term.data = svc->sig_int.data = svc->sig_hup.data = svc;
    uv_signal_start(&svc->sig_term, s_signal, SIGTERM);
    uv_signal_start(&svc->sig_int, s_signal, SIGINT);
    uv_signal_start(&svc->sig_hup, s_signal, SIGHUP);
    svc->name = name;
    snprintf(svc->prog, sizeof svc->prog, "jiesu-%s", name);
    svc->started_ms = js_now_ms();
    signal(SIGPIPE, SIG_IGN);

    svc->conf = js_conf_new(svc->prog, usage);
    js_conf_add(svc->conf, js_svc_common_keys);
    for (; tables && *tables; tables++) js_conf_add(svc->conf, *tables);
    char err[512];
    int rest = argc;
    int rc = js_conf_load(svc->conf, argc, argv, &rest, err, sizeof err);
    if (rc == JS_CONF_EXIT || rc < 0) {
        if (rc < 0) fprintf(stderr, "%s: %s\n", svc->prog, err);
        return s_init_fail(svc, rc);
    }
    if (rest < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", svc->prog, argv[rest]);
        return s_init_fail(svc, -EINVAL);
    }
    static const struct { const char *key; int64_t min, max; } checks[] = {
        {"redis.port", 1, 65535},       {"redis.timeout_ms", 10, 600000},
        {"heartbeat_ms", 10, 600000},   {"shutdown_timeout_ms", 0, 600000},
        {"linger_ms", 0, 60000},        {"events.maxlen", 0, INT64_C(1) << 40},
        {"redrive_ms", 100, 86400000},  {"sweep_ms", 10, 3600000},
        {"batch_max", 1, 100000},       {"max_msg_bytes", 1024, INT64_C(1) << 30},
        {"forward_queue_max", 0, 100000000},
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(checks); i++) {
        if (js_conf_check_int(svc->conf, checks[i].key, checks[i].min, checks[i].max, err,
                              sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", svc->prog, err);
            return s_init_fail(svc, -EINVAL);
        }
    }
    const char *inst = js_conf_str(svc->conf, "instance");
    if (*inst) {
        snprintf(svc->instance, sizeof svc->instance, "%s", inst);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(svc->instance, sizeof svc->instance, "%s-%d", host, (int)getpid());
    }
    snprintf(svc->source, sizeof svc->source, "%s/%s", svc->prog, svc->instance);
    int level = js_log_level_parse(js_conf_str(svc->conf, "log.level"));
    if (level < 0) {
        fprintf(stderr, "%s: log.level: '%s' is not debug, info, warn or error\n", svc->prog,
                js_conf_str(svc->conf, "log.level"));
        return s_init_fail(svc, -EINVAL);
    }
    js_log_init(name, svc->instance, level, stderr);
    svc->metrics = js_metrics_new(name);
    svc->c_published = js_metrics_counter(svc->metrics, "events_published");
    svc->c_publish_dropped = js_metrics_counter(svc->metrics, "events_publish_dropped");

    svc->zctx = zmq_ctx_new();
    zmq_ctx_set(svc->zctx, ZMQ_BLOCKY, 0);

    js_store_opts_t so;
    js_store_opts_default(&so);
    so.host = js_conf_str(svc->conf, "redis.host");
    so.port = (int)js_conf_int(svc->conf, "redis.port");
    so.password = *js_conf_str(svc->conf, "redis.password") ? js_conf_str(svc->conf, "redis.password") : NULL;
    so.command_timeout_ms = (int)js_conf_int(svc->conf, "redis.timeout_ms");
    so.lib_name = JS_LIB_NAME;
    so.lib_version = JS_LIB_VERSION;
    so.lib_source = js_lua_functions;
    svc->store = js_store_new(&svc->loop, &so, s_store_state, svc);

    js_sock_opts_t po;
    js_svc_sock_opts(svc, &po);
    po.sndhwm = 100000;
    po.immediate = false; /* the bus may start after us: queue until it is there */
    int e = 0;
    svc->pub = js_sock_new(&svc->loop, svc->zctx, ZMQ_PUB, &po, &e);
    if (!svc->pub || js_svc_connect_list(svc->pub, js_conf_str(svc->conf, "bus.publish")) < 0) {
        fprintf(stderr, "%s: bus.publish '%s': cannot connect\n", svc->prog,
                js_conf_str(svc->conf, "bus.publish"));
        return s_init_fail(svc, -EINVAL);
    }

    uv_timer_init(&svc->loop, &svc->hb_timer);
    uv_timer_init(&svc->loop, &svc->stop_timer);
    svc->hb_timer.data = svc->stop_timer.data = svc;
    return 0;
}

int js_svc_run(js_svc_t *svc) {
    int64_t hb = js_conf_int(svc->conf, "heartbeat_ms");
    uv_timer_start(&svc->hb_timer, s_heartbeat, (uint64_t)hb / 4, (uint64_t)hb);
    js_store_start(svc->store);
    js_info("started %s %s", svc->prog, JIESU_VERSION);
    uv_run(&svc->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&svc->loop);
    if (rc != 0) js_warn("loop closed with open handles: %s", uv_strerror(rc));
    zmq_ctx_term(svc->zctx);
    js_metrics_destroy(&svc->metrics);
    js_info("stopped, exit %d", svc->exit_code);
    js_conf_destroy(&svc->conf);
    return svc->exit_code;
}
