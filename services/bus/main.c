/* jiesu-bus -- the event bus: publishers connect to the XSUB frontend,
 * subscribers to the XPUB backend, and one zmq_proxy_steerable call forwards
 * (subscriptions upstream, events downstream). The bus keeps no state: the
 * record is in Redis, so a restarted bus loses only what was in flight.
 *
 * A slow subscriber never blocks the bus: XPUB drops for it at its
 * high-water mark (ZMQ_XPUB_NODROP off), and the other subscribers go on.
 *
 * SIGTERM/SIGINT: every thread blocks them (the mask is set before the zmq
 * context starts its I/O threads, which inherit it); one thread sigwait()s
 * and sends TERMINATE on an inproc PAIR; the proxy returns, the sockets
 * close with a finite linger, zmq_ctx_term, exit 0. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "conf.h"
#include "jsdefs.h"
#include "log.h"

#define CONTROL_EP "inproc://jiesu-bus-control"

static const js_conf_def_t bus_keys[] = {
    {"bus.frontend", "tcp://127.0.0.1:7001", "XSUB endpoint(s) publishers connect to, comma-separated"},
    {"bus.backend", "tcp://127.0.0.1:7002", "XPUB endpoint(s) subscribers connect to, comma-separated"},
    {"bus.hwm", "100000", "messages queued per subscriber (and from publishers) before dropping for it"},
    {"max_msg_bytes", "1048576", "largest message accepted from a publisher (ZMQ_MAXMSGSIZE)"},
    {"linger_ms", "1000", "ZMQ_LINGER at close: bounded wait for queued messages"},
    {"heartbeat_ms", "1000", "ZMTP heartbeat interval towards peers, a dead peer is dropped after 3 (0: off)"},
    {"instance", "", "instance name in logs (empty: host-pid)"},
    {"log.level", "info", "debug, info, warn or error"},
    {NULL, NULL, NULL},
};

typedef struct sigctx {
    void *zctx;
    sigset_t set;
    int linger;
    atomic_int fired; /* 1 once a signal was taken: the proxy is being told */
} sigctx_t;

static void *s_signal_thread(void *p) {
    sigctx_t *sc = p;
    int sig = 0;
    if (sigwait(&sc->set, &sig) != 0) return NULL;
    atomic_store(&sc->fired, 1);
    js_info("signal %d: stopping", sig);
    void *ctl = zmq_socket(sc->zctx, ZMQ_PAIR);
    if (!ctl) return NULL; /* context already terminating */
    zmq_setsockopt(ctl, ZMQ_LINGER, &sc->linger, sizeof sc->linger);
    if (zmq_connect(ctl, CONTROL_EP) == 0) zmq_send(ctl, "TERMINATE", 9, 0);
    zmq_close(ctl);
    return NULL;
}

static int s_bind_all(void *sock, const char *list, const char *what) {
    char *copy = js_strdup(list), *save = NULL;
    int rc = 0, n = 0;
    for (char *ep = strtok_r(copy, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save), n++) {
        if (zmq_bind(sock, ep) < 0) {
            js_error("%s %s: %s", what, ep, zmq_strerror(errno));
            rc = -1;
            break;
        }
    }
    if (rc == 0 && n == 0) {
        js_error("%s: no endpoint", what);
        rc = -1;
    }
    free(copy);
    return rc;
}

static int s_set(void *sock, int opt, const void *val, size_t len, const char *name) {
    if (zmq_setsockopt(sock, opt, val, len) == 0) return 0;
    js_error("zmq_setsockopt %s: %s", name, zmq_strerror(errno));
    return -1;
}

int main(int argc, char **argv) {
    js_conf_t *conf = js_conf_new("jiesu-bus", "[--key value ...]");
    js_conf_add(conf, bus_keys);
    char err[512] = "";
    int rest = argc;
    int rc = js_conf_load(conf, argc, argv, &rest, err, sizeof err);
    if (rc == JS_CONF_EXIT) {
        js_conf_destroy(&conf);
        return 0;
    }
    if (rc == 0 && rest < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s' (see --help)", argv[rest]);
        rc = -EINVAL;
    }
    if (rc == 0) rc = js_conf_check_int(conf, "bus.hwm", 0, 100000000, err, sizeof err);
    if (rc == 0) rc = js_conf_check_int(conf, "max_msg_bytes", 1024, INT64_C(1) << 30, err, sizeof err);
    if (rc == 0) rc = js_conf_check_int(conf, "linger_ms", 0, 60000, err, sizeof err);
    if (rc == 0) rc = js_conf_check_int(conf, "heartbeat_ms", 0, 600000, err, sizeof err);
    int level = js_log_level_parse(js_conf_str(conf, "log.level"));
    if (rc == 0 && level < 0) {
        snprintf(err, sizeof err, "log.level: '%s' is not debug, info, warn or error",
                 js_conf_str(conf, "log.level"));
        rc = -EINVAL;
    }
    if (rc < 0) {
        fprintf(stderr, "jiesu-bus: %s\n", err);
        js_conf_destroy(&conf);
        return 1;
    }
    char instance[96];
    if (*js_conf_str(conf, "instance")) {
        snprintf(instance, sizeof instance, "%s", js_conf_str(conf, "instance"));
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(instance, sizeof instance, "%s-%d", host, (int)getpid());
    }
    js_log_init("bus", instance, level, stderr);

    sigctx_t sc;
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGTERM);
    sigaddset(&sc.set, SIGINT);
    atomic_init(&sc.fired, 0);
    /* before any thread starts: zmq's I/O threads and ours inherit the mask */
    pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int linger = (int)js_conf_int(conf, "linger_ms"), hwm = (int)js_conf_int(conf, "bus.hwm");
    int hb = (int)js_conf_int(conf, "heartbeat_ms"), hbto = 3 * hb, nodrop = 0;
    int64_t max = js_conf_int(conf, "max_msg_bytes");
    sc.linger = linger;
    sc.zctx = zmq_ctx_new();
    void *front = zmq_socket(sc.zctx, ZMQ_XSUB), *back = zmq_socket(sc.zctx, ZMQ_XPUB);
    void *ctl = zmq_socket(sc.zctx, ZMQ_PAIR);
    if (!sc.zctx || !front || !back || !ctl) {
        js_error("zmq: %s", zmq_strerror(errno));
        js_conf_destroy(&conf);
        return 1;
    }
    void *socks[] = {front, back, ctl};
    int code = 0;
    for (int i = 0; i < 3; i++) code |= s_set(socks[i], ZMQ_LINGER, &linger, sizeof linger, "ZMQ_LINGER");
    code |= s_set(front, ZMQ_RCVHWM, &hwm, sizeof hwm, "ZMQ_RCVHWM");
    code |= s_set(front, ZMQ_MAXMSGSIZE, &max, sizeof max, "ZMQ_MAXMSGSIZE");
    code |= s_set(back, ZMQ_SNDHWM, &hwm, sizeof hwm, "ZMQ_SNDHWM");
    /* off is libzmq's default; said here because blocking the proxy on one
     * slow subscriber would stall every publisher behind it */
    code |= s_set(back, ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop, "ZMQ_XPUB_NODROP");
    if (hb > 0) {
        for (int i = 0; i < 2; i++) {
            code |= s_set(socks[i], ZMQ_HEARTBEAT_IVL, &hb, sizeof hb, "ZMQ_HEARTBEAT_IVL");
            code |= s_set(socks[i], ZMQ_HEARTBEAT_TIMEOUT, &hbto, sizeof hbto, "ZMQ_HEARTBEAT_TIMEOUT");
        }
    }
    if (code != 0 || s_bind_all(front, js_conf_str(conf, "bus.frontend"), "bus.frontend") < 0 ||
        s_bind_all(back, js_conf_str(conf, "bus.backend"), "bus.backend") < 0 || zmq_bind(ctl, CONTROL_EP) < 0) {
        code = 1;
    } else {
        pthread_t th;
        int terr = pthread_create(&th, NULL, s_signal_thread, &sc);
        if (terr != 0) {
            js_error("pthread_create: %s", strerror(terr));
            code = 1;
        } else {
            js_info("forwarding %s -> %s (hwm %d, max_msg_bytes %lld)", js_conf_str(conf, "bus.frontend"),
                    js_conf_str(conf, "bus.backend"), hwm, (long long)max);
            int prc = zmq_proxy_steerable(front, back, NULL, ctl);
            if (!atomic_load(&sc.fired)) {
                /* the proxy failed on its own: wake the signal thread so it ends */
                js_error("proxy stopped: %s", zmq_strerror(errno));
                code = 1;
                pthread_kill(th, SIGTERM);
            } else if (prc < 0) {
                js_warn("proxy: %s", zmq_strerror(errno));
            }
            pthread_join(th, NULL);
        }
    }
    zmq_close(front);
    zmq_close(back);
    zmq_close(ctl);
    zmq_ctx_term(sc.zctx);
    js_info("stopped");
    js_conf_destroy(&conf);
    return code;
}
