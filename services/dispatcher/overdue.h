/* overdue.h -- escalate orders whose handling clock went overdue, as the rule
 * profile says (overdue.escalate: none, district, city, sector).
 *
 * jiesu_timer_ack puts the order of every overdue handling clock into the set
 * jiesu:overdue when it records the event. The dispatcher sweeps that set
 * every overdue.sweep_ms (jiesu_overdue_claim: each id a lease ahead, so
 * several dispatchers do not take one together): an order still dispatched or
 * accepted whose lead's handling clock is overdue now is escalated through the
 * same path as a unit's action (actions_submit_escalate: the table, one
 * stored transition, jiesu.order.escalated), once per due moment (the action
 * id names it). Then the id leaves the set; an escalation that could not be
 * stored (Redis down, a conflict) comes back when its lease ends. */
#ifndef DSP_OVERDUE_H
#define DSP_OVERDUE_H

#include "actions.h"
#include "service.h"

typedef struct overdue overdue_t;

/* The escalation level to use now (the current profile's overdue.escalate). */
typedef int (*overdue_level_fn)(void *arg);

typedef struct overdue_opts {
    actions_t *actions;
    overdue_level_fn level;
    void *level_arg;
    const js_cal_t *const *cal; /* where the current calendar is (reloads replace it) */
    int64_t sweep_ms, lease_ms;
    int batch;
    int64_t offset_ms;          /* the dispatcher's clock offset (tests) */
} overdue_opts_t;

extern const js_conf_def_t overdue_conf_keys[];

/* Prototypes */
overdue_t *overdue_new(js_svc_t *svc, const overdue_opts_t *o);
void overdue_on_store_up(overdue_t *d);
void overdue_stop(overdue_t *d);
void overdue_close(overdue_t **dp);
/* Pure: the due moment of o's overdue lead handling clock at now (> 0), or 0
 * when none is (no lead, stopped or paused, not yet due, extended since). */
int64_t overdue_due(const js_cal_t *cal, const Jiesu__V1__Order *o, int64_t now_ms);

#endif
