/* fsm.h -- the life of an order as one table.
 *
 * Every change of an order after intake is a row of one table:
 * (stage, action, role class) -> (next stage, effects, event). The dispatcher
 * decides against it, and the Redis Function jiesu_act enforces the same rows:
 * the Lua copy is generated from this table at build time (scripts/fsm-gen.c
 * prints it into common/functions.lua at the line "-- @FSM_TABLE@"), so the
 * two cannot drift apart.
 *
 * A pure module: no I/O, no allocation. Only the numbering of stages comes
 * from the wire contract (jiesu.v1.Stage). */
#ifndef JS_FSM_H
#define JS_FSM_H

#include <stddef.h>

/* Actions. 1..8 are jiesu.v1.UnitActionKind, 11..15 are 10 + jiesu.v1.ReviewKind,
 * the rest are the services' own steps. */
enum js_act {
    JS_ACT_NONE = 0,
    JS_ACT_ACCEPT = 1,    /* the unit takes the order */
    JS_ACT_CONTACT = 2,   /* 响应: the requester was reached */
    JS_ACT_NOTE = 3,      /* a progress note */
    JS_ACT_RETURN = 4,    /* 退单 */
    JS_ACT_EXTEND = 5,    /* 延期 request */
    JS_ACT_ESCALATE = 6,  /* 分级协调 */
    JS_ACT_REPORT = 7,    /* an assist reports to its lead */
    JS_ACT_COMPLETE = 8,  /* 办结 request with the answer */
    JS_ACT_APPROVE = 11,  /* a reviewer approves the pending request */
    JS_ACT_REFUSE = 12,   /* ... or refuses it */
    JS_ACT_ASSIGN = 13,   /* a reviewer names the units (consultation, escalation) */
    JS_ACT_REOPEN = 14,   /* the requester disputes the result */
    JS_ACT_CLOSE = 15,    /* the callback is done, or a consultation ends without a unit */
    JS_ACT_DISPATCH = 21, /* the dispatcher names the units */
    JS_ACT_CONSULT = 22,  /* the dispatcher sends it to consultation (会商) */
    JS_ACT_TRANSFER = 23, /* the dispatcher hands it to a partner hotline */
    JS_ACT_PARTNER_ACK = 24, /* the partner acknowledged it */
    JS_ACT_CLASSIFY = 25,    /* an operator confirms or corrects a classification */
    JS_ACT_RECOMPUTE = 26,   /* the deadline-timer recomputed clocks (a new calendar) */
    JS_ACT_MAX = 27
};

/* Role classes: who the actor is to this order. A unit's class comes from the
 * order's assignments (lead and coordinate are both the handling unit). */
#define JS_RC_OPERATOR 0x01u
#define JS_RC_REVIEWER 0x02u
#define JS_RC_ADMIN    0x04u
#define JS_RC_LEAD     0x08u /* the lead, or the district government coordinating */
#define JS_RC_ASSIST   0x10u
#define JS_RC_COPY     0x20u /* copied for supervision */
#define JS_RC_SYSTEM   0x40u /* a jiesu service */
#define JS_RC_STRANGER 0x80u /* a unit the order is not assigned to: never allowed */

/* Special next stages. */
#define JS_FSM_SAME -1 /* the stage does not change */
#define JS_FSM_PREV -2 /* back to the stage saved when the review began */

/* Effects the table names (the dispatcher carries them out; jiesu_act keeps
 * the saved stage). */
#define JS_FX_SAVE_PREV 0x01u /* remember the current stage: a refusal goes back to it */

typedef struct js_fsm_row {
    int stage;          /* jiesu.v1.Stage */
    int act;            /* enum js_act */
    unsigned roles;     /* JS_RC_* allowed */
    int next;           /* a stage, JS_FSM_SAME or JS_FSM_PREV */
    int alt;            /* 0, or a second stage the dispatcher may choose instead of next */
    unsigned fx;        /* JS_FX_* */
    const char *event;  /* the event type the transition publishes */
} js_fsm_row_t;

/* Why a lookup failed. */
#define JS_FSM_OK         0
#define JS_FSM_NOT_ALLOWED -1 /* no row for this action in this stage */
#define JS_FSM_FORBIDDEN   -2 /* rows exist, but not for this role class */

/* Prototypes */
/* The row for (stage, act, rc), or NULL with *why set (JS_FSM_NOT_ALLOWED or
 * JS_FSM_FORBIDDEN). rc is one JS_RC_* bit. */
const js_fsm_row_t *js_fsm_find(int stage, int act, unsigned rc, int *why);
/* The whole table, for the generator, jiesuctl and tests. */
const js_fsm_row_t *js_fsm_rows(size_t *n);
/* The stage after row r, given the saved stage (for JS_FSM_PREV) and the
 * current one (for JS_FSM_SAME). */
int js_fsm_next(const js_fsm_row_t *r, int stage, int saved);
/* Names: "accept", "approve", ...; "dispatched", ... ("?" when unknown). */
const char *js_fsm_act_name(int act);
int js_fsm_act_parse(const char *name); /* JS_ACT_* or 0 */
const char *js_fsm_stage_name(int stage);
const char *js_fsm_role_name(unsigned rc); /* "lead unit", "reviewer", ... */
/* One line for a person: why (stage, act, rc) is refused, into buf. */
const char *js_fsm_explain(int stage, int act, unsigned rc, int why, char *buf, size_t len);

#endif
