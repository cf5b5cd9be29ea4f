/* jiesu-bus -- the event bus: publishers connect to the XSUB frontend,
 * subscribers to the XPUB backend, and one zmq_proxy_steerable call forwards
 * (subscriptions upstream, events downstream). A slow subscriber never blocks
 * the bus: XPUB drops for it at its high-water mark.
 *
 * SIGTERM/SIGINT: every thread blocks them; a small thread sigwait()s and
 * sends TERMINATE on an inproc control socket; the proxy returns, the
 * sockets close with a finite linger, exit 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "conf.h"
#include "jsdefs.h"
#include "log.h"

static const js_conf_def_t bus_keys[] = {
    {"bus.frontend", "tcp://127.0.0.1:7001", "XSUB endpoint(s) publishers connect to, comma-separated"},
    {"bus.backend", "tcp://127.0.0.1:7002", "XPUB endpoint(s) subscribers connect to, comma-separated"},
    {"bus.hwm", "100000", "messages queued per subscriber before it is dropped for"},
    {"max_msg_bytes", "1048576", "largest message accepted from a publisher"},
    {"linger_ms", "1000", "ZMQ_LINGER at close"},
    {"heartbeat_ms", "1000", "ZMTP heartbeat interval towards peers (0: off)"},
    {"instance", "", "instance name in logs (empty: host-pid)"},
    {"log.level", "info", "debug, info, warn or error"},
    {NULL, NULL, NULL},
};

typedef struct sigctx {
    void *zctx;
    sigset_t set;
} sigctx_t;

static void *s_signal_thread(void *p) {
    sigctx_t *sc = p;
    int sig = 0;
    sigwait(&sc->set, &sig);
    void *ctl = zmq_socket(sc->zctx, ZMQ_PAIR);
    zmq_connect(ctl, "inproc://jiesu-bus-control");
    zmq_send(ctl, "TERMINATE", 9, 0);
    zmq_close(ctl);
    return NULL;
}

static int s_bind_all(void *sock, const char *list, const char *what) {
    char *copy = js_strdup(list), *save = NULL;
    int rc = 0;
    for (char *ep = strtok_r(copy, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save)) {
        if (zmq_bind(sock, ep) < 0) {
            fprintf(stderr, "jiesu-bus: %s %s: %s\n", what, ep, zmq_strerror(errno));
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

int main(int argc, char **argv) {
    js_conf_t *conf = js_conf_new("jiesu-bus", "[--key value ...]");
    js_conf_add(conf, bus_keys);
    char err[512];
    int rest = argc;
    int rc = js_conf_load(conf, argc, argv, &rest, err, sizeof err);
    if (rc == JS_CONF_EXIT) {
        js_conf_destroy(&conf);
        return 0;
    }
    if (rc < 0 || rest < argc || js_conf_check_int(conf, "bus.hwm", 0, 100000000, err, sizeof err) < 0 ||
        js_conf_check_int(conf, "max_msg_bytes", 1024, INT64_C(1) << 30, err, sizeof err) < 0 ||
        js_conf_check_int(conf, "linger_ms", 0, 60000, err, sizeof err) < 0 ||
        js_conf_check_int(conf, "heartbeat_ms", 0, 600000, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-bus: %s\n", rc < 0 ? err : rest < argc ? "unexpected argument (see --help)" : err);
        js_conf_destroy(&conf);
        return 1;
    }
    int level = js_log_level_parse(js_conf_str(conf, "log.level"));
    char instance[96];
    if (*js_conf_str(conf, "instance")) {
        snprintf(instance, sizeof instance, "%s", js_conf_str(conf, "instance"));
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(instance, sizeof instance, "%s-%d", host, (int)getpid());
    }
    js_log_init("bus", instance, level < 0 ? JS_LOG_INFO : level, stderr);

    sigctx_t sc;
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGTERM);
    sigaddset(&sc.set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sc.set, NULL); /* before any thread starts: zmq's inherit it */
    signal(SIGPIPE, SIG_IGN);

    sc.zctx = zmq_ctx_new();
    void *front = zmq_socket(sc.zctx, ZMQ_XSUB), *back = zmq_socket(sc.zctx, ZMQ_XPUB);
    void *ctl = zmq_socket(sc.zctx, ZMQ_PAIR);
    int linger = (int)js_conf_int(conf, "linger_ms"), hwm = (int)js_conf_int(conf, "bus.hwm");
    int hb = (int)js_conf_int(conf, "heartbeat_ms"), hbto = 3 * hb;
    int64_t max = js_conf_int(conf, "max_msg_bytes");
    void *socks[] = {front, back, ctl};
    for (int i = 0; i < 3; i++) zmq_setsockopt(socks[i], ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(front, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(front, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(back, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (hb > 0) {
        for (int i = 0; i < 2; i++) {
            zmq_setsockopt(socks[i], ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
            zmq_setsockopt(socks[i], ZMQ_HEARTBEAT_TIMEOUT, &hbto, sizeof hbto);
        }
    }
    int code = 0;
    if (s_bind_all(front, js_conf_str(conf, "bus.frontend"), "bus.frontend") < 0 ||
        s_bind_all(back, js_conf_str(conf, "bus.backend"), "bus.backend") < 0 ||
        zmq_bind(ctl, "inproc://jiesu-bus-control") < 0) {
        code = 1;
    } else {
        pthread_t th;
        pthread_create(&th, NULL, s_signal_thread, &sc);
        js_info("forwarding %s -> %s", js_conf_str(conf, "bus.frontend"), js_conf_str(conf, "bus.backend"));
        zmq_proxy_steerable(front, back, NULL, ctl);
        js_info("stopping");
        pthread_join(th, NULL);
    }
    zmq_close(front);
    zmq_close(back);
    zmq_close(ctl);
    zmq_ctx_term(sc.zctx);
    js_conf_destroy(&conf);
    return code;
}
