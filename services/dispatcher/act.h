/* act.h -- what an action does to an order: the dispatcher's pure core.
 *
 * The table of common/fsm.h says which action each role may take in each
 * stage and where it leads; this module carries out the effects: the
 * assignments, the pending request a reviewer decides, and every clock (an
 * event list each: start, pause, resume, stop, reset, extend), with the
 * timers each changed clock needs from now on (common/timer.h: members of a
 * new generation, the order's new version). No sockets, no Redis: the
 * service (actions.c) loads the order, calls act_apply, and stores what it
 * returns with one FCALL jiesu_act, which checks the same table again.
 *
 * Memory: everything act_apply adds to the order or to out lives in the
 * arena a; out's strings are arena or static. */
#ifndef DSP_ACT_H
#define DSP_ACT_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "catalog.h"
#include "decide.h"
#include "fsm.h"
#include "jiesu/v1/types.pb-c.h"
#include "profile.h"
#include "stage.h"
#include "timer.h"

#define ACT_MAX_TIMERS JS_STAGE_MAX_TIMERS
#define ACT_MAX_FIELDS 40 /* "g:KIND|UNIT" generations written by one action */
#define ACT_MAX_CLOCKS 64

/* What the order is checked and decided against. */
typedef struct act_ctx {
    const js_clock_conf_t *clk; /* calendar, buckets, warnings */
    const dsp_ref_t *ref;       /* catalog, gazetteer, units */
    const dsp_profile_t *prof;  /* the rule profile */
} act_ctx_t;

/* One request, from a UnitAction, a ReviewDecision or a service. */
typedef struct act_req {
    int act;                    /* JS_ACT_* */
    const char *actor;          /* "operator", "reviewer", "admin", "system", "unit:ID" */
    const char *actor_name;     /* login or instance, may be NULL */
    const Jiesu__V1__UnitAction *ua;      /* unit actions (kind, reason, ...), or NULL */
    const Jiesu__V1__ReviewDecision *rd;  /* reviews, or NULL */
} act_req_t;

/* What to store. */
typedef struct act_out {
    int stage;                 /* the new stage */
    const char *event;         /* the event type (static) */
    const char *note;          /* history note, or NULL */
    const char *asg;           /* the new assignment map for jiesu_act, or NULL when unchanged */
    int nfields;               /* order-hash fields: name, value, ... */
    const char *fields[2 * ACT_MAX_FIELDS];
    int ntimers;
    js_timer_arm_t timers[ACT_MAX_TIMERS];
    bool redrive;              /* the new stage is swept by a service (transferring) */
    bool provisional;          /* a clock counts through an unpublished year */
    unsigned rc;               /* the actor's role class (JS_RC_*) */
    char code[24];             /* on refusal: bad_request, not_allowed, forbidden, window_closed, ... */
    char err[400];             /* on refusal: one line for a person */
} act_out_t;

/* Prototypes */
/* The actor's role class on order o (JS_RC_*), or 0 for an actor string that
 * is not one of the five forms. */
unsigned act_role_class(const Jiesu__V1__Order *o, const char *actor);
/* "UNIT=L UNIT=A UNIT=C": the assignment map jiesu_act reads role classes
 * from (L lead or coordinate, A assist, C copy). In the arena. */
const char *act_asg_map(js_arena_t *a, const Jiesu__V1__Order *o);

/* Apply req to o, which is in stage `stage` (saved: the stage a review began
 * in, 0 if none) at version `version`; marks[0..nmarks) are the order's fired
 * timers ("f:..." fields). On success o is the new state (stage and version
 * not yet set: the caller sets them when it stores) and out says what to
 * store; returns 0. On refusal returns -1 with out->code and out->err and o
 * must be thrown away (it may be half changed). */
int act_apply(const act_ctx_t *c, js_arena_t *a, Jiesu__V1__Order *o, int stage, int saved, int64_t version,
              const char *const *marks, size_t nmarks, const act_req_t *req, int64_t now_ms, act_out_t *out);

/* The first dispatch of a classified order (the dispatcher's own step,
 * JS_ACT_DISPATCH / CONSULT / TRANSFER by the result's kind): assignments,
 * clocks and their timers from d. Returns 0 or -1 (out->err). */
int act_first_dispatch(const act_ctx_t *c, js_arena_t *a, Jiesu__V1__Order *o, const dsp_result_t *d,
                       int64_t now_ms, act_out_t *out);

/* Add the history entry of a stored action: the event, its id, the actor. */
void act_history(js_arena_t *a, Jiesu__V1__Order *o, const char *event, int64_t time_ms, const char *event_id,
                 const act_req_t *req, const char *note);

/* jiesu.v1.UnitActionKind / ReviewKind -> JS_ACT_* (0 when unknown). */
int act_from_unit_kind(int kind);
int act_from_review_kind(int kind);

#endif
