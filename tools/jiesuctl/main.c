/* jiesuctl -- the operator's command line: submit an order, show one, tail the
 * events, ping the suite, work out calendar dates, classify a manual order and
 * export the corrections.
 *
 * main.c only wires: global options (common/conf.h), then one verb with its
 * own options. The shaping of what is printed lives in ctl_*.c (tested
 * without sockets); here are the blocking libzmq sockets and the synchronous
 * hiredis connection each verb needs, with bounded waits everywhere.
 * Exit status: 0 on success, 1 with one line "jiesuctl: ..." on stderr. */
#include <hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cmd_act.h"
#include "cmd_calendar.h"
#include "cmd_catalog.h"
#include "cmd_keygen.h"
#include "cmd_classify.h"
#include "conf.h"
#include "ctl_json.h"
#include "ctl_redis.h"
#include "ctl_submit.h"
#include "envelope.h"
#include "fsm.h"
#include "ids.h"
#include "jsdefs.h"
#include "pbjson.h"

#define HB_TOPIC "jiesu.heartbeat."

static const js_conf_def_t s_keys[] = {
    {"redis.host", "127.0.0.1", "Redis server address (show, tail --from-stream, ping)"},
    {"redis.port", "6390", "Redis server port"},
    {"redis.password", "", "Redis AUTH password (empty: none)"},
    {"intake", "tcp://127.0.0.1:7010", "intake's ROUTER endpoint (submit, ping)"},
    {"dispatcher", "tcp://127.0.0.1:7020", "the dispatcher's action ROUTER endpoint (act)"},
    {"act.tries", "3", "act: tries on a timeout or an \"unavailable\" answer, same action id"},
    {"bus", "tcp://127.0.0.1:7002", "the bus endpoint subscribers connect to (tail, ping)"},
    {"timeout-ms", "5000", "longest wait for Redis or for one answer from intake"},
    {"calendar-dir", "config/holidays", "directory of the official holiday calendars (calendar)"},
    {"dispatch.catalog", "config/dispatch/catalog.tsv", "the dispatch catalog (catalog check)"},
    {"dispatch.gazetteer", "config/dispatch/gazetteer.tsv", "the gazetteer (catalog check, units)"},
    {"dispatch.units", "config/dispatch/units.tsv", "the unit registry (catalog check, units)"},
    {"dispatch.profile_dir", "config/profiles", "directory of the rule profiles NAME.conf (catalog check)"},
    {"profile", "beijing", "the rule profile checked by catalog check without files"},
    {"timer.control", "tcp://127.0.0.1:7014", "the deadline-timer's control socket (calendar reload)"},
    {"heartbeat_ms", "1000", "the services' heartbeat period: ping waits twice this for one on the bus"},
    {"submit.tries", "3", "submit: tries on a timeout or an \"unavailable\" answer, same idempotency key"},
    {"submit.backoff_ms", "200", "submit: pause before the second try, doubled before each next one"},
    {"max_msg_bytes", "1048576", "largest reply or event accepted (ZMQ_MAXMSGSIZE)"},
    {"classifier.model_dir", "config/classifier", "classify: topic.model there names the topics accepted"},
    {"events.maxlen", "1000000", "classify: approximate bound of jiesu:events (as the services')"},
    {"corrections.maxlen", "100000", "classify: approximate bound of the stream jiesu:corrections (0: none)"},
    {NULL, NULL, NULL},
};

/* Services whose heartbeat ping requires (the bus is checked on the bus). */
static const char *const s_required[] = {"intake", "classifier", "dispatcher", "deadline-timer"};

typedef struct ctl {
    js_conf_t *conf;
    int64_t timeout_ms;
    size_t max_msg;
    void *zctx;
} ctl_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig) {
    JS_UNUSED(sig);
    s_stop = 1;
}

/* No SA_RESTART: a blocking zmq_recv returns EINTR, so Ctrl-C ends tail at once. */
static void s_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- Redis ------------------------------------------------------------------ */

static redisContext *s_redis(ctl_t *c, char *err, size_t errlen) {
    return ctl_redis_connect(js_conf_str(c->conf, "redis.host"), (int)js_conf_int(c->conf, "redis.port"),
                             js_conf_str(c->conf, "redis.password"), c->timeout_ms, err, errlen);
}

/* ---- intake ----------------------------------------------------------------- */

/* A DEALER to the endpoint named by config key `key` (intake, dispatcher). */
static void *s_dealer_to(ctl_t *c, const char *key, char *err, size_t errlen) {
    void *s = zmq_socket(c->zctx, ZMQ_DEALER);
    int zero = 0, one = 1, to = (int)c->timeout_ms;
    int64_t max = (int64_t)c->max_msg;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    /* Wait for a connection instead of queueing to a peer that is not there. */
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &to, sizeof to);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    const char *ep = js_conf_str(c->conf, key);
    if (zmq_connect(s, ep) < 0) {
        snprintf(err, errlen, "%s %s: %s", key, ep, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static int s_send_env(void *s, const js_env_t *env) {
    size_t len;
    uint8_t *buf = js_env_pack(env, &len);
    int rc = zmq_send(s, buf, len, 0);
    free(buf);
    return rc < 0 ? -zmq_errno() : 0;
}

/* The next readable envelope before deadline (monotonic ms). Frames that do
 * not decode are skipped with a note: they cannot be our answer. */
static int s_recv_env(ctl_t *c, void *s, int64_t deadline, js_env_t **out) {
    for (;;) {
        int64_t left = deadline - js_mono_ms();
        if (left <= 0) return -ETIMEDOUT;
        int to = (int)left;
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &to, sizeof to);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int more = 1, got = 0;
        js_env_t *env = NULL;
        char err[256];
        while (more) {
            if (zmq_msg_recv(&msg, s, 0) < 0) {
                int e = zmq_errno();
                zmq_msg_close(&msg);
                if (e == EAGAIN) return -ETIMEDOUT;
                if (e == EINTR && !s_stop) continue;
                return -e;
            }
            more = zmq_msg_more(&msg);
            if (!more) {
                /* the envelope is the last frame ([delimiter] may precede it) */
                got =
                    js_env_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg), c->max_msg, &env, err, sizeof err);
            }
        }
        zmq_msg_close(&msg);
        if (got == 0) {
            *out = env;
            return 0;
        }
        fprintf(stderr, "jiesuctl: ignored an unreadable reply: %s\n", err);
    }
}

static void s_source(char *out, size_t cap) {
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(out, cap, "jiesuctl/%s", host);
}

/* ---- submit ----------------------------------------------------------------- */

static int s_cmd_submit(ctl_t *c, int argc, char **argv) {
    ctl_submit_args_t a;
    char err[512];
    int rc = ctl_submit_parse(argc, argv, &a, stdout, err, sizeof err);
    if (rc == CTL_HELP) return 0;
    if (rc < 0) return ctl_fail("%s", err);

    /* One key for every try of this invocation: intake answers a repeat with
     * the first order's id, so a retry never makes a second order. */
    char own_key[JS_ID_LEN + 1];
    js_id_new(own_key);
    const char *key = a.key ? a.key : own_key;
    ctl_submit_parts_t parts;
    ctl_submit_build(&a, key, &parts);

    char source[160], trace[JS_TRACE_LEN + 1];
    s_source(source, sizeof source);
    js_trace_new(trace);

    void *s = s_dealer_to(c, "intake", err, sizeof err);
    if (!s) return ctl_fail("submit: %s", err);
    int tries = (int)js_conf_int(c->conf, "submit.tries");
    int64_t backoff = js_conf_int(c->conf, "submit.backoff_ms");
    char ids[16][JS_ID_LEN + 1];
    const char *idp[16];
    if (tries > (int)JS_ARRAY_LEN(ids)) tries = (int)JS_ARRAY_LEN(ids);
    char why[512] = "";
    int result = -1;
    for (int t = 0; t < tries && result < 0 && !s_stop; t++) {
        if (t > 0) {
            usleep((useconds_t)(backoff * 1000));
            backoff *= 2;
        }
        js_env_t env = JIESU__V1__ENVELOPE__INIT;
        js_env_init(&env, ids[t], "jiesu.submission", source, "", trace);
        idp[t] = ids[t];
        env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION;
        env.submission = &parts.sub;
        int src = s_send_env(s, &env);
        if (src < 0) {
            snprintf(why, sizeof why, "cannot send to intake %s: %s", js_conf_str(c->conf, "intake"),
                     src == -EAGAIN ? "not connected" : zmq_strerror(-src));
            continue;
        }
        int64_t deadline = js_mono_ms() + c->timeout_ms;
        for (;;) {
            js_env_t *reply;
            int r = s_recv_env(c, s, deadline, &reply);
            if (r < 0) {
                snprintf(why, sizeof why, "no answer from intake %s in %lld ms",
                         js_conf_str(c->conf, "intake"), (long long)c->timeout_ms);
                break;
            }
            const char *order_id = NULL;
            int dup = 0;
            char rwhy[512];
            ctl_reply_kind_t k =
                ctl_submit_reply(reply, idp, (size_t)t + 1, &order_id, &dup, rwhy, sizeof rwhy);
            if (k == CTL_REPLY_OK) {
                ctl_submit_print(stdout, order_id, dup, key, reply->submit_reply->same_matter_of);
                fflush(stdout);
                result = 0;
            } else if (k == CTL_REPLY_REFUSED) {
                snprintf(why, sizeof why, "%s", rwhy);
                result = 1;
            } else if (k == CTL_REPLY_RETRY) {
                snprintf(why, sizeof why, "%s", rwhy);
            }
            js_env_free(reply);
            if (k != CTL_REPLY_OTHER) break;
        }
    }
    zmq_close(s);
    if (result == 0) return 0;
    if (result == 1) return ctl_fail("submit refused: %s", why);
    if (s_stop) return ctl_fail("submit: interrupted; the order may exist: submit again with --key %s", key);
    return ctl_fail("submit: gave up after %d tries (key %s): %s", tries, key, why);
}

/* ---- show ------------------------------------------------------------------- */

static void s_show_usage(FILE *f) {
    fprintf(f, "usage: jiesuctl show ID\n"
               "Prints the order as one JSON object: id, stage, version, history [{type, time}], and once\n"
               "dispatched assignments [{unit, role, due}], then every other field of the stored order;\n"
               "pending (the request a reviewer decides, or null), each clock's fired timers\n"
               "(clocks[].fired [{what, epoch, time}]) and the assignment map asg {UNIT: lead|assist|copy}.\n");
}

static int s_cmd_show(ctl_t *c, int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        s_show_usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') return ctl_fail("show: takes one order ID (see show --help)");
    const char *id = argv[1];
    char err[512];
    redisContext *r = s_redis(c, err, sizeof err);
    if (!r) return ctl_fail("show: %s", err);
    int rc = ctl_show(r, id, stdout, err, sizeof err);
    fflush(stdout);
    redisFree(r);
    if (rc == -ENOENT) return ctl_fail("%s", err);
    return rc < 0 ? ctl_fail("show: %s", err) : 0;
}

/* ---- tail ------------------------------------------------------------------- */

static void s_tail_usage(FILE *f) {
    fprintf(
        f, "usage: jiesuctl tail [TYPE-PREFIX] [--count N] [--from-stream]\n"
           "Prints one JSON line per event whose type starts with TYPE-PREFIX (default \"jiesu.\"):\n"
           "{\"id\",\"type\",\"time\",\"subject\",\"version\",\"source\",\"trace_id\",\"payload\"}.\n"
           "Live from the bus until Ctrl-C or N events; --from-stream reads the Redis stream\n" CTL_STREAM_KEY
           " from its beginning instead, then exits.\n");
}

static int s_tail_stream(ctl_t *c, const char *prefix, long long count) {
    char err[512];
    redisContext *r = s_redis(c, err, sizeof err);
    if (!r) return ctl_fail("tail: %s", err);
    int rc = ctl_tail_stream(r, prefix, count, c->max_msg, &s_stop, stdout, stderr, NULL, err, sizeof err);
    redisFree(r);
    return rc < 0 ? ctl_fail("tail: %s", err) : 0;
}

static int s_tail_bus(ctl_t *c, const char *prefix, long long count) {
    void *s = zmq_socket(c->zctx, ZMQ_SUB);
    int zero = 0;
    int64_t max = (int64_t)c->max_msg;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    const char *ep = js_conf_str(c->conf, "bus");
    if (zmq_connect(s, ep) < 0) {
        zmq_close(s);
        return ctl_fail("tail: bus %s: %s", ep, zmq_strerror(zmq_errno()));
    }
    long long printed = 0;
    int rc = 0;
    while (!s_stop && (count <= 0 || printed < count)) {
        /* [topic][envelope]; a message of any other shape is noted and skipped whole */
        zmq_msg_t frame[2];
        int n = 0, err = 0;
        zmq_msg_init(&frame[0]);
        zmq_msg_init(&frame[1]);
        for (int more = 1; more; n++) {
            zmq_msg_t *m = &frame[n < 2 ? n : 1];
            if (zmq_msg_recv(m, s, 0) < 0) {
                err = zmq_errno();
                break;
            }
            more = zmq_msg_more(m);
        }
        if (err == 0 && n != 2) {
            fprintf(stderr, "jiesuctl: tail: skipped a message of %d frames (want [topic][envelope])\n", n);
        } else if (err == 0 && ctl_event_print(zmq_msg_data(&frame[1]), zmq_msg_size(&frame[1]), c->max_msg,
                                               prefix, stdout, stderr, "bus") == 0) {
            printed++;
        }
        zmq_msg_close(&frame[0]);
        zmq_msg_close(&frame[1]);
        if (err && err != EINTR) {
            rc = ctl_fail("tail: bus: %s", zmq_strerror(err));
            break;
        }
    }
    zmq_close(s);
    return rc;
}

static int s_cmd_tail(ctl_t *c, int argc, char **argv) {
    const char *prefix = "jiesu.";
    long long count = 0;
    int from_stream = 0, have_prefix = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_tail_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--from-stream")) {
            from_stream = 1;
        } else if (!strcmp(a, "--count") || !strncmp(a, "--count=", 8)) {
            const char *v = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : NULL;
            char *end;
            count = v ? strtoll(v, &end, 10) : 0;
            if (!v || !*v || *end || count <= 0) return ctl_fail("tail: --count needs a positive number");
        } else if (a[0] == '-') {
            return ctl_fail("tail: unknown option '%s' (see tail --help)", a);
        } else if (have_prefix) {
            return ctl_fail("tail: takes one TYPE-PREFIX (see tail --help)");
        } else {
            prefix = a;
            have_prefix = 1;
        }
    }
    return from_stream ? s_tail_stream(c, prefix, count) : s_tail_bus(c, prefix, count);
}

/* ---- ping ------------------------------------------------------------------- */

static void s_ping_usage(FILE *f) {
    fprintf(f,
            "usage: jiesuctl ping\n"
            "Checks Redis (PING), the heartbeat keys jiesu:hb:*, intake (a Ping answered by a Pong) and the\n"
            "bus (a heartbeat event within twice heartbeat_ms), and prints one JSON object\n"
            "{\"redis\":\"ok\",\"services\":{\"bus\":\"ok\",\"intake\":[{\"instance\",\"version\",\"age_ms\"}"
            "],...},\n"
            " \"intake_pong\":{...}}. Exit 0 only when Redis, intake, the bus, classifier, dispatcher and\n"
            "deadline-timer are all alive; else 1, naming what is missing.\n");
}

static void s_ping_redis(ctl_t *c, json_t *report, json_t *services) {
    char err[512];
    redisContext *r = s_redis(c, err, sizeof err);
    if (!r) {
        json_object_set_new(report, "redis", json_string(err));
        return;
    }
    ctl_ping_redis(r, report, services, js_now_ms());
    redisFree(r);
}

static void s_ping_intake(ctl_t *c, json_t *report) {
    char err[512];
    void *s = s_dealer_to(c, "intake", err, sizeof err);
    if (!s) {
        json_object_set_new(report, "intake_error", json_string(err));
        return;
    }
    char id[JS_ID_LEN + 1], source[160];
    s_source(source, sizeof source);
    Jiesu__V1__Ping ping = JIESU__V1__PING__INIT;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    js_env_init(&env, id, "jiesu.ping", source, "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_PING;
    env.ping = &ping;
    int64_t t0 = js_mono_ms(), deadline = t0 + c->timeout_ms;
    int rc = s_send_env(s, &env);
    if (rc < 0) {
        snprintf(err, sizeof err, "cannot send to %s: %s", js_conf_str(c->conf, "intake"),
                 rc == -EAGAIN ? "not connected" : zmq_strerror(-rc));
        json_object_set_new(report, "intake_error", json_string(err));
    }
    while (rc == 0) {
        js_env_t *reply;
        if (s_recv_env(c, s, deadline, &reply) < 0) {
            snprintf(err, sizeof err, "no pong from %s in %lld ms", js_conf_str(c->conf, "intake"),
                     (long long)c->timeout_ms);
            json_object_set_new(report, "intake_error", json_string(err));
            break;
        }
        int mine = reply->correlation_id && strcmp(reply->correlation_id, id) == 0;
        if (mine && reply->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_PONG) {
            json_t *p = js_pb_to_json(&reply->pong->base, JS_PBJSON_DEFAULTS);
            json_object_set_new(p, "rtt_ms", json_integer(js_mono_ms() - t0));
            json_object_set_new(report, "intake_pong", p);
        } else if (mine) {
            json_object_set_new(report, "intake_error", json_string("intake answered the ping with no pong"));
        }
        js_env_free(reply);
        if (mine) break;
    }
    zmq_close(s);
}

static int s_cmd_ping(ctl_t *c, int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        s_ping_usage(stdout);
        return 0;
    }
    if (argc != 1) return ctl_fail("ping: takes no arguments (see ping --help)");
    json_t *report = json_object(), *services = json_object();
    json_object_set_new(report, "redis", json_string("unchecked"));
    json_object_set_new(report, "services", services);
    json_object_set_new(services, "bus", json_string("unchecked"));
    for (size_t i = 0; i < JS_ARRAY_LEN(s_required); i++)
        json_object_set_new(services, s_required[i], json_array());

    /* Subscribe first: the subscription travels to the bus while Redis and
     * intake are asked, and a heartbeat comes every heartbeat_ms. */
    void *sub = zmq_socket(c->zctx, ZMQ_SUB);
    int zero = 0;
    int64_t max = (int64_t)c->max_msg;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, HB_TOPIC, strlen(HB_TOPIC));
    const char *bus = js_conf_str(c->conf, "bus");
    int64_t bus_wait = 2 * js_conf_int(c->conf, "heartbeat_ms");
    int64_t bus_deadline = js_mono_ms() + bus_wait;
    char busmsg[512];
    int bus_ok = zmq_connect(sub, bus) == 0;
    if (!bus_ok) snprintf(busmsg, sizeof busmsg, "%s: %s", bus, zmq_strerror(zmq_errno()));

    s_ping_redis(c, report, services);
    s_ping_intake(c, report);

    if (bus_ok) {
        bus_ok = 0;
        snprintf(busmsg, sizeof busmsg, "no heartbeat event from %s in %lld ms", bus, (long long)bus_wait);
        zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
        for (;;) {
            int64_t left = bus_deadline - js_mono_ms();
            if (left < 0) left = 0;
            int n = zmq_poll(&it, 1, (long)left);
            if (n > 0) {
                bus_ok = 1;
                break;
            }
            if ((n < 0 && zmq_errno() != EINTR) || left == 0 || s_stop) break;
        }
    }
    zmq_close(sub);
    json_object_set_new(services, "bus", json_string(bus_ok ? "ok" : busmsg));

    char missing[1024];
    int n = ctl_ping_missing(report, s_required, JS_ARRAY_LEN(s_required), missing, sizeof missing);
    ctl_print(report, CTL_JSON_LINE);
    json_decref(report);
    if (n) return ctl_fail("ping: missing: %s", missing);
    return 0;
}

/* ---- act, fsm ----------------------------------------------------------------- */

static int s_cmd_act(ctl_t *c, int argc, char **argv) {
    ctl_act_args_t a;
    char err[512];
    int rc = ctl_act_parse(argc, argv, &a, stdout, err, sizeof err);
    if (rc == CTL_ACT_HELP) return 0;
    if (rc < 0) return ctl_fail("%s", err);
    ctl_act_parts_t parts;
    char source[160], trace[JS_TRACE_LEN + 1], id[JS_ID_LEN + 1];
    s_source(source, sizeof source);
    js_trace_new(trace);
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    /* One id for every try: the dispatcher answers a repeat with the first result. */
    js_env_init(&env, id, "jiesu.action", source, a.order_id, trace);
    ctl_act_build(&a, &parts, &env);
    char cerr[512];
    void *s = s_dealer_to(c, "dispatcher", cerr, sizeof cerr);
    if (!s) return ctl_fail("act: %s", cerr);
    const char *ep = js_conf_str(c->conf, "dispatcher");
    int tries = (int)js_conf_int(c->conf, "act.tries");
    char why[600] = "";
    int result = -1;
    for (int t = 0; t < tries && result < 0 && !s_stop; t++) {
        if (t > 0) usleep(200000u << (t - 1));
        int src = s_send_env(s, &env);
        if (src < 0) {
            snprintf(why, sizeof why, "cannot send to the dispatcher %s: %s", ep,
                     src == -EAGAIN ? "not connected" : zmq_strerror(-src));
            continue;
        }
        int64_t deadline = js_mono_ms() + c->timeout_ms;
        for (;;) {
            js_env_t *reply;
            if (s_recv_env(c, s, deadline, &reply) < 0) {
                snprintf(why, sizeof why, "no answer from the dispatcher %s in %lld ms", ep, (long long)c->timeout_ms);
                break;
            }
            char *json = NULL;
            ctl_act_reply_t k = ctl_act_reply(reply, id, &json, why, sizeof why);
            js_env_free(reply);
            if (k == CTL_ACT_OK) {
                printf("%s\n", json);
                fflush(stdout);
                free(json);
                result = 0;
            } else if (k == CTL_ACT_REFUSED) {
                result = 1;
            }
            if (k != CTL_ACT_OTHER) break;
        }
    }
    zmq_close(s);
    if (result == 0) return 0;
    if (result == 1) return ctl_fail("%s refused: %s", js_fsm_act_name(a.act), why);
    return ctl_fail("act: gave up after %d tries (action id %s; sending it again is safe): %s", tries, id, why);
}

static int s_cmd_fsm(ctl_t *c, int argc, char **argv) {
    JS_UNUSED(c);
    if (argc > 1) {
        printf("usage: jiesuctl fsm\n  the transition table of an order, one JSON object per row\n");
        return strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? 1 : 0;
    }
    ctl_fsm_print(stdout);
    return 0;
}

/* ---- calendar --------------------------------------------------------------- */

static int s_cmd_calendar(ctl_t *c, int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "reload"))
        return cmd_calendar_reload(c->zctx, js_conf_str(c->conf, "timer.control"), c->timeout_ms, stdout, stderr);
    return cmd_calendar(argc, argv, js_conf_str(c->conf, "calendar-dir"));
}

static int s_cmd_keygen(ctl_t *c, int argc, char **argv) {
    JS_UNUSED(c);
    return cmd_keygen(argc, argv);
}

/* ---- classify, corrections ---------------------------------------------------- */

static int s_cmd_classify(ctl_t *c, int argc, char **argv) {
    char err[512], source[160];
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return cmd_classify(NULL, argc, argv, js_conf_str(c->conf, "classifier.model_dir"), "", 0, 0);
    redisContext *r = s_redis(c, err, sizeof err);
    if (!r) return ctl_fail("classify: %s", err);
    s_source(source, sizeof source);
    int rc = cmd_classify(r, argc, argv, js_conf_str(c->conf, "classifier.model_dir"), source,
                          js_conf_int(c->conf, "events.maxlen"), js_conf_int(c->conf, "corrections.maxlen"));
    redisFree(r);
    return rc;
}

static int s_cmd_corrections(ctl_t *c, int argc, char **argv) {
    char err[512];
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return cmd_corrections(NULL, argc, argv);
    redisContext *r = s_redis(c, err, sizeof err);
    if (!r) return ctl_fail("corrections: %s", err);
    int rc = cmd_corrections(r, argc, argv);
    redisFree(r);
    return rc;
}

/* ---- catalog, units --------------------------------------------------------- */

static cmd_catalog_paths_t s_catalog_paths(ctl_t *c) {
    return (cmd_catalog_paths_t){js_conf_str(c->conf, "dispatch.catalog"), js_conf_str(c->conf, "dispatch.gazetteer"),
                                 js_conf_str(c->conf, "dispatch.units"), js_conf_str(c->conf, "dispatch.profile_dir"),
                                 js_conf_str(c->conf, "profile")};
}

static int s_cmd_catalog(ctl_t *c, int argc, char **argv) {
    cmd_catalog_paths_t p = s_catalog_paths(c);
    return cmd_catalog(argc, argv, &p, stdout, stderr);
}

static int s_cmd_units(ctl_t *c, int argc, char **argv) {
    cmd_catalog_paths_t p = s_catalog_paths(c);
    return cmd_units(argc, argv, &p, stdout, stderr);
}

/* ---- verbs and main --------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(ctl_t *c, int argc, char **argv);
    const char *help;
} s_verbs[] = {
    {"submit", s_cmd_submit, "submit --text T [...]     send one submission to intake, print the order id"},
    {"show", s_cmd_show, "show ID                   the order as one JSON object"},
    {"act", s_cmd_act, "act ID ACTION --as ROLE   a unit's or reviewer's action (act --help)"},
    {"fsm", s_cmd_fsm, "fsm                       the transition table, one JSON row per line"},
    {"tail", s_cmd_tail, "tail [PREFIX] [--count N] [--from-stream]   events as JSON lines"},
    {"ping", s_cmd_ping, "ping                      health of Redis, the bus and every service"},
    {"calendar", s_cmd_calendar, "calendar ...              working days and due moments (calendar --help)"},
    {"catalog", s_cmd_catalog, "catalog check [FILE...]   check the dispatch catalog, gazetteer, units, profiles"},
    {"units", s_cmd_units, "units [--kind K] [--district D]   the unit registry as JSON"},
    {"keygen", s_cmd_keygen, "keygen [--out PREFIX]     a CURVE keypair for the partner endpoints"},
    {"classify", s_cmd_classify, "classify ID --topic T --type Y   an operator decides a manual order"},
    {"corrections", s_cmd_corrections, "corrections [--kind topic|type] [--out FILE]   operators' decisions as TSV"},
};

static void s_usage(js_conf_t *conf) {
    js_conf_print_help(conf, stdout);
    printf("\nVerbs (each answers --help):\n");
    for (size_t i = 0; i < JS_ARRAY_LEN(s_verbs); i++)
        printf("  %s\n", s_verbs[i].help);
    printf("\nExit status 0 on success; 1 with one line \"jiesuctl: ...\" on stderr on failure.\n");
}

/* --help among the options before the verb (the verb's own --help is its). */
static int s_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0 || a[0] != '-') return 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (!strchr(a, '=') && strcmp(a, "--version") != 0) i++;
    }
    return 0;
}

int main(int argc, char **argv) {
    js_conf_t *conf = js_conf_new("jiesuctl", "[OPTIONS] VERB [VERB OPTIONS]");
    js_conf_add(conf, s_keys);
    if (s_wants_help(argc, argv)) {
        s_usage(conf);
        js_conf_destroy(&conf);
        return 0;
    }
    char err[512];
    int rest = argc;
    int rc = js_conf_load(conf, argc, argv, &rest, err, sizeof err);
    if (rc == JS_CONF_EXIT) {
        js_conf_destroy(&conf);
        return 0;
    }
    if (rc == 0 && (js_conf_check_int(conf, "redis.port", 1, 65535, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "timeout-ms", 1, 86400000, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "heartbeat_ms", 1, 3600000, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "submit.tries", 1, 16, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "act.tries", 1, 16, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "submit.backoff_ms", 0, 60000, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "max_msg_bytes", 1024, 1 << 30, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "events.maxlen", 0, INT64_C(1) << 40, err, sizeof err) < 0 ||
                    js_conf_check_int(conf, "corrections.maxlen", 0, INT64_C(1) << 40, err, sizeof err) < 0))
        rc = -EINVAL;
    if (rc < 0) {
        js_conf_destroy(&conf);
        return ctl_fail("%s", err);
    }
    if (rest >= argc) {
        js_conf_destroy(&conf);
        return ctl_fail("no verb (jiesuctl --help lists them)");
    }
    const char *verb = argv[rest];
    int found = -1;
    for (size_t i = 0; i < JS_ARRAY_LEN(s_verbs); i++)
        if (!strcmp(verb, s_verbs[i].name)) found = (int)i;
    if (found < 0) {
        js_conf_destroy(&conf);
        return ctl_fail("unknown verb '%s' (jiesuctl --help lists them)", verb);
    }
    s_catch_signals();
    ctl_t c = {.conf = conf,
               .timeout_ms = js_conf_int(conf, "timeout-ms"),
               .max_msg = (size_t)js_conf_int(conf, "max_msg_bytes"),
               .zctx = zmq_ctx_new()};
    rc = s_verbs[found].run(&c, argc - rest, argv + rest);
    zmq_ctx_term(c.zctx);
    js_conf_destroy(&conf);
    return rc;
}
