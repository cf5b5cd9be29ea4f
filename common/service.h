/* service.h -- what every jiesu service process shares: configuration, log,
 * the libuv loop, the zmq context, the Redis store, the publisher to the bus,
 * metrics, heartbeats, and a clean SIGTERM shutdown.
 *
 * Lifecycle: js_svc_init() -> the service creates its sockets and sets its
 * hooks -> js_svc_run() runs the loop until shutdown and returns the exit
 * status. On SIGTERM or SIGINT: on_stop is called (the service stops taking
 * input), then the loop keeps running until svc->inflight is 0 or
 * shutdown_timeout_ms passes, then on_close (the service closes its sockets),
 * then the publisher and store close with a bounded linger and the process
 * exits 0. SIGHUP calls on_reload (reference data such as the calendar). */
#ifndef JS_SERVICE_H
#define JS_SERVICE_H

#include <stdbool.h>
#include <uv.h>

#include "bus.h"
#include "conf.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

typedef struct js_svc js_svc_t;
typedef void (*js_svc_hook)(js_svc_t *svc, void *arg);

struct js_svc {
    const char *name;        /* "intake" */
    char prog[64];           /* "jiesu-intake" */
    char instance[96];
    char source[160];        /* CloudEvents source: jiesu-intake/instance */
    uv_loop_t loop;
    void *zctx;
    js_conf_t *conf;
    js_store_t *store;
    js_sock_t *pub;          /* PUB connected to bus.publish */
    js_metrics_t *metrics;
    int64_t started_ms;
    bool stopping;
    int inflight;            /* work started and not finished: shutdown waits for 0 */
    int exit_code;

    js_svc_hook on_store_up; /* each time Redis is (again) ready */
    js_svc_hook on_stop;     /* stop taking input */
    js_svc_hook on_close;    /* close the service's own handles */
    js_svc_hook on_heartbeat;
    js_svc_hook on_reload;   /* SIGHUP: reload reference data (calendar, ...) */
    void *hook_arg;

    /* private */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t hb_timer, stop_timer;
    int64_t stop_deadline;
    uint64_t *c_published, *c_publish_dropped;
};

/* Every service has these keys (docs/OPERATIONS.md lists them). */
extern const js_conf_def_t js_svc_common_keys[];

/* Prototypes */
/* Parses options (js_svc_common_keys + defs), sets up log, loop, zmq, store,
 * publisher. Returns 0; JS_CONF_EXIT after --help/--version (exit 0); or a
 * negative error after printing one line to stderr (exit 1). */
int js_svc_init(js_svc_t *svc, const char *name, const char *usage, const js_conf_def_t *defs,
                int argc, char **argv);
/* The same with several key tables (a NULL-terminated list), e.g. a
 * service's own and js_clock_keys. */
int js_svc_init_tables(js_svc_t *svc, const char *name, const char *usage, const js_conf_def_t *const *tables,
                       int argc, char **argv);
int js_svc_run(js_svc_t *svc);
/* Publish [type][bytes] on the bus; never blocks (a full queue drops and counts:
 * the Redis stream keeps the record). */
void js_svc_publish(js_svc_t *svc, const char *type, const void *bytes, size_t len);
/* Replies on a ROUTER to a request that came as [identity]([""])[envelope]:
 * the same framing back, correlation_id = req_id (NULL: leave env's). 0, or
 * js_sock_send's error (the client left: the reply is dropped, never waited
 * for). _error builds an Error (field may be NULL) about subject; _pong the
 * service's Pong (service = svc->name, redis_ok from the store). */
int js_svc_reply(js_sock_t *router, const void *ident, size_t ident_len, int delim, const char *req_id,
                 js_env_t *env);
int js_svc_reply_error(js_svc_t *svc, js_sock_t *router, const void *ident, size_t ident_len, int delim,
                       const char *req_id, const char *subject, const char *code, const char *message,
                       const char *field);
int js_svc_reply_pong(js_svc_t *svc, js_sock_t *router, const void *ident, size_t ident_len, int delim,
                      const char *req_id);
/* Begin shutdown as on SIGTERM (exit_code kept). */
void js_svc_shutdown(js_svc_t *svc, int exit_code);
/* Socket options from the common keys (linger, maxmsgsize, heartbeats). */
void js_svc_sock_opts(const js_svc_t *svc, js_sock_opts_t *o);
/* Split a comma-separated endpoint list and connect each; 0 or error. */
int js_svc_connect_list(js_sock_t *s, const char *list);

#endif
