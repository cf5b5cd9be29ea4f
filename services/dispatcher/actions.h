/* actions.h -- unit and reviewer actions: the dispatcher's ROUTER.
 *
 * A request is an Envelope with a UnitAction or a ReviewDecision (or a Ping);
 * the answer is an Envelope with an ActionReply, or an Error whose code says
 * what to do: not_found, conflict (the order moved: load and decide again),
 * not_allowed, forbidden (audited), window_closed, bad_request, unavailable
 * (Redis is down: send the same envelope again later), too_large, ...
 *
 * Each action: GET a:{ID}:ACTION_ID and HGETALL o:{ID}, pipelined (whether
 * this envelope id was applied before, the order) -> act_apply (pure,
 * act.h) -> FCALL jiesu_act (checks
 * stage, version and the table again, writes the order, its clock
 * generations and timers, the event) -> publish the event -> reply. An
 * action is applied exactly once per envelope id: a client that lost the
 * answer sends the same envelope again and gets the first result back
 * (ActionReply.repeated). Nothing is applied when a step fails. */
#ifndef DSP_ACTIONS_H
#define DSP_ACTIONS_H

#include "act.h"
#include "service.h"

typedef struct actions actions_t;

typedef struct actions_opts {
    const char *bind;       /* ROUTER endpoint(s), comma-separated */
    const act_ctx_t *ctx;   /* reference data and profile (the dispatcher's; may be swapped on reload) */
    int64_t offset_ms;      /* added to the wall clock (tests) */
    int batch_max;          /* actions per FCALL jiesu_act */
    int64_t act_ttl_s;      /* how long an applied envelope id is remembered */
    int64_t max_msg;        /* largest request */
    int64_t maxlen;         /* jiesu:events MAXLEN ~ */
} actions_opts_t;

/* The outcome of an action the service took itself: code "ok", "repeated",
 * or an Error code (not_allowed, conflict, unavailable, ...); msg says more.
 * Called once, from the loop. */
typedef void (*actions_done_fn)(void *arg, const char *code, const char *msg);

/* Prototypes */
/* NULL with *err on failure (bind). Starts taking requests at once. */
actions_t *actions_new(js_svc_t *svc, const actions_opts_t *o, int *err);
void actions_set_ctx(actions_t *x, const act_ctx_t *ctx); /* after a reload */
/* Escalate an order as jiesu itself (an overdue handling clock, profile
 * overdue.escalate): the same path as a client's action — table, store,
 * event — exactly once per action_id. 0 (done is called later), or -ENOTCONN,
 * -ECANCELED (stopping), -EINVAL (a bad id): done is never called then. */
int actions_submit_escalate(actions_t *x, const char *order_id, const char *action_id, int level, const char *reason,
                            actions_done_fn done, void *arg);
void actions_stop(actions_t *x);  /* stop reading; what was read is finished */
void actions_close(actions_t **xp);

#endif
