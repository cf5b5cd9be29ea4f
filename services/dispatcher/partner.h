/* partner.h -- the dispatcher's sender to partner hotlines (跨城转办).
 *
 * An order located outside this city is put in stage transferring (14) with
 * Order.partner_id naming the partner hotline and a re-drive time in
 * jiesu:due:14. This module sweeps that set (FCALL jiesu_claim, lease =
 * partner.lease_ms, which is the retry interval), sends each order as a
 * partner Submission to the partner's intake over a CURVE DEALER, and when
 * the partner answers with its SubmitReply stores 14 -> transferred (12)
 * with the partner's order id (FCALL jiesu_advance, expected stage and
 * version) and publishes jiesu.order.transferred.
 *
 * No answer within partner.timeout_ms, an Error, or no connection to the
 * partner: nothing is stored, and the claim's lease brings the order back a
 * lease later. The idempotency key of the Submission is our order id, so a
 * partner that stored it before answers with the same id (duplicate): an
 * order reaches a partner once however often it is sent. An order whose
 * partner is not in partner.peers is logged and counted and waits in stage
 * transferring, where an operator sees it.
 *
 * Privacy: the requester's contact never leaves this city. The Submission
 * carries the masked name (none when anonymous), no contact, callback method
 * none: we keep calling the requester back; the partner answers us.
 *
 * Peers file (partner.peers): `partner_id<TAB>endpoint<TAB>server Z85 public
 * key` a line, '#' comments (common/curve.h). Our client key pair is
 * partner.curve_secret_file (public key derived from it); partners put our
 * public key on their allow-list under the id partner.city_id.
 *
 * One DEALER per peer, ZMQ_IMMEDIATE (nothing queues for a partner that is
 * not connected), at most partner.max_inflight requests waiting for answers.
 * Memory: each request owns the arena of its order until answered. */
#ifndef DISPATCHER_PARTNER_H
#define DISPATCHER_PARTNER_H

#include <stddef.h>

#include "arena.h"
#include "conf.h"
#include "curve.h"
#include "jiesu/v1/types.pb-c.h"
#include "service.h"

#define PARTNER_ENDPOINT_MAX 256

typedef struct partner_peer {
    char id[JS_CURVE_ID_MAX + 1];
    char endpoint[PARTNER_ENDPOINT_MAX];
    char server_key[JS_CURVE_Z85_LEN + 1];
} partner_peer_t;

typedef struct partner_peers {
    partner_peer_t *v;
    size_t n;
} partner_peers_t;

typedef struct partner partner_t;

/* The module's settings; the dispatcher adds the table to its own. */
extern const js_conf_def_t partner_conf_keys[];

/* Prototypes */
/* Pure parts (tests/unit/test_partner.c). */
/* Load the peers file ("" = none) into *out (replaced only on success): 0,
 * or a negative errno with "FILE:LINE: what" in err (-ENOENT: no file). */
int partner_peers_load(const char *path, partner_peers_t *out, char *err, size_t errlen);
const partner_peer_t *partner_peers_find(const partner_peers_t *p, const char *id);
void partner_peers_free(partner_peers_t *p);
/* The partner an order in stage transferring goes to: Order.partner_id, else
 * the first assignment's partner_id; "" when neither is set. */
const char *partner_target(const Jiesu__V1__Order *o);
/* The Submission (initialised by the caller) that hands o to a partner:
 * channel partner, partner_id city_id, partner_order_id and idempotency key
 * our order id, the text, title, location and attachments; requester masked
 * name only. Points into o and the arena. */
void partner_build_submission(js_arena_t *a, const Jiesu__V1__Order *o, const char *city_id, int64_t now_ms,
                              Jiesu__V1__Submission *s);
/* o's state once partner `partner` acknowledged it as its order their_id:
 * stage transferred, version + 1, partner_id/partner_order_id, close_reason,
 * a history entry jiesu.order.transferred (event_id) by the partner. */
void partner_mark_transferred(js_arena_t *a, Jiesu__V1__Order *o, const char *partner, const char *their_id,
                              int64_t now_ms, const char *event_id);

/* The service part. NULL with a one-line reason in err. */
partner_t *partner_new(js_svc_t *svc, char *err, size_t errlen);
void partner_on_store_up(partner_t *p); /* sweep at once after (re)connecting */
void partner_stop(partner_t *p);        /* no more sweeps; answers still arriving are stored */
void partner_close(partner_t **pp);     /* idempotent; freed once its Redis calls are answered */

#endif
