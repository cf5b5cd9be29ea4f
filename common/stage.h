/* stage.h -- one step of the pipeline: take orders in stage S, decide, store
 * the transition, hand on, publish.
 *
 * Orders arrive two ways: as envelopes (payload Order in stage S) on a PULL
 * socket from the previous stage, and from the re-drive sweep (jiesu_claim:
 * orders whose re-drive time passed, e.g. because a message was lost with a
 * crashed process). Both go through the same decide function, are batched
 * (everything readable now, up to batch_max, is one FCALL jiesu_advance; no
 * waiting to fill a batch), and only when Redis has applied the transition is
 * the new state sent on (PUSH to the next stage) and published on the bus.
 * A repeat finds the version moved and is dropped: handlers are idempotent.
 *
 * Memory: each order lives in its own arena for the time of its batch; the
 * decide function may point fields of the order at arena memory
 * (js_stage_alloc) or at static strings. */
#ifndef JS_STAGE_H
#define JS_STAGE_H

#include <stdbool.h>

#include "arena.h"
#include "jiesu/v1/envelope.pb-c.h"
#include "service.h"

#define JS_STAGE_MAX_TIMERS 64 /* a lead and assists, each with its clocks' warnings and due */
#define JS_STAGE_MAX_FIELDS 8  /* extra order-hash fields a transition sets */

typedef struct js_stage js_stage_t;

typedef struct js_timer_arm {
    int bucket;         /* jiesu:tm:{bucket} */
    int64_t fire_ms;
    const char *member; /* arena or static string */
} js_timer_arm_t;

typedef struct js_stage_result {
    int new_stage;          /* JIESU__V1__STAGE__... */
    const char *event_type; /* e.g. "jiesu.order.classified" (static) */
    bool forward;           /* send to the next stage's socket */
    bool redrive;           /* the new stage is swept by a service: set its re-drive time */
    int64_t redrive_at_ms;  /* with redrive: when (0: now + redrive_ms, the lease of a lost hand-off) */
    const char *note;       /* history note, or NULL */
    int ntimers;
    js_timer_arm_t timers[JS_STAGE_MAX_TIMERS];
    int nfields;                 /* order-hash fields to set besides stage, v, d */
    const char *fields[2 * JS_STAGE_MAX_FIELDS]; /* name, value, ... (arena or static) */
    bool provisional;            /* a clock counts through an unpublished year: add to jiesu:prov */
} js_stage_result_t;

/* Decide what happens to order (current state, version v). Mutate it and fill
 * res; return 0 to apply, or a negative error to leave the order alone (it is
 * logged, counted, and re-driven later). */
typedef int (*js_stage_decide_fn)(void *arg, js_arena_t *arena, Jiesu__V1__Order *order,
                                  int64_t now_ms, js_stage_result_t *res);

typedef struct js_stage_opts {
    int stage;               /* input stage */
    const char *bind;        /* PULL endpoint(s), comma-separated */
    const char *next;        /* PUSH connect list, or NULL for none */
    js_stage_decide_fn decide;
    void *arg;
} js_stage_opts_t;

/* Prototypes */
js_stage_t *js_stage_new(js_svc_t *svc, const js_stage_opts_t *o, int *err);
void js_stage_on_store_up(js_stage_t *s); /* sweep at once after (re)connecting */
void js_stage_stop(js_stage_t *s);        /* stop taking input; batches in flight finish */
void js_stage_close(js_stage_t **sp);

/* Helpers for decide functions and intake. */
void js_order_add_history(js_arena_t *a, Jiesu__V1__Order *o, const char *type, int64_t time_ms,
                          const char *event_id, const char *actor_name, const char *note);
/* Envelope bytes = env (no payload) + field 20 (order) holding blob, without
 * packing the order twice. Returned in the arena. */
uint8_t *js_env_pack_with_order(js_arena_t *a, const js_env_t *env, const uint8_t *blob,
                                size_t blob_len, size_t *len);
/* Unpack an envelope into the arena and check it like js_env_unpack. */
int js_env_unpack_arena(js_arena_t *a, const uint8_t *buf, size_t len, size_t max, js_env_t **out,
                        char *err, size_t errlen);
const char *js_stage_name(int stage); /* "received", "classified", ... */

#endif
