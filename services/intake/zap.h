/* zap.h -- who may use intake's partner endpoint.
 *
 * The partner endpoint (intake.partner_bind) is a CURVE server. libzmq asks
 * a ZAP handler (RFC 27, inproc://zeromq.zap.01 in the process's context)
 * about every handshake; ours answers from the allow-list of partner client
 * keys (intake.partner_keys): a known key is accepted with User-Id = its
 * partner id and the property X-Partner-Key = the key, anything else is
 * refused, logged (at most one line a second) and counted. intake takes the
 * partner id of a submission from User-Id, never from the payload.
 *
 * The allow-list file: `partner_id<TAB>Z85 public key` a line, '#' comments
 * (common/curve.h). A partner may have several keys (rotation); a key names
 * one partner only. Reloaded on SIGHUP: a connection whose key was removed
 * is refused on its next message (intake checks X-Partner-Key each time).
 *
 * Threading: the handler is a REP socket on the service's libuv loop, so it
 * answers between two batches; the lookup is a scan of a list of tens of
 * keys. It must be bound before the partner ROUTER binds and closed after
 * it: without a handler libzmq accepts every CURVE client. */
#ifndef INTAKE_ZAP_H
#define INTAKE_ZAP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus.h"
#include "curve.h"

#define INTAKE_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define INTAKE_ZAP_DOMAIN   "jiesu-partner" /* ZMQ_ZAP_DOMAIN of the partner ROUTER */

typedef struct intake_partner_key {
    char id[JS_CURVE_ID_MAX + 1];
    char z85[JS_CURVE_Z85_LEN + 1];
    uint8_t key[JS_CURVE_KEY_LEN];
} intake_partner_key_t;

typedef struct intake_allow {
    intake_partner_key_t *v;
    size_t n;
} intake_allow_t;

typedef struct intake_zap intake_zap_t;

/* What the handler answers one request (pure: intake_zap_check). */
typedef struct intake_zap_answer {
    const char *status;  /* "200" accepted, "400" refused, "500" malformed request */
    const char *text;    /* status text */
    const char *user_id; /* the partner id when accepted, else "" */
    const char *z85;     /* the accepted key, else "" */
} intake_zap_answer_t;

/* Prototypes */
/* Load path ("" = an empty list: nobody is let in) into *out (replaced only
 * on success). 0, or a negative errno with "FILE:LINE: what" in err. */
int intake_allow_load(const char *path, intake_allow_t *out, char *err, size_t errlen);
/* The partner id of a raw key, or NULL. */
const char *intake_allow_find(const intake_allow_t *a, const uint8_t key[JS_CURVE_KEY_LEN]);
/* The partner id of a Z85 key, or NULL. */
const char *intake_allow_find_z85(const intake_allow_t *a, const char *z85);
void intake_allow_free(intake_allow_t *a);
/* Decide one ZAP request of n frames (version, request id, domain, address,
 * identity, mechanism, credentials...). */
void intake_zap_check(const intake_allow_t *a, const js_frame_t *f, size_t n, intake_zap_answer_t *ans);

/* The handler: binds INTAKE_ZAP_ENDPOINT in zctx and answers on loop. It
 * owns *allow from now on (set NULL-able contents: an empty list). refused
 * and accepted are counters that outlive it. NULL and *err on failure. */
intake_zap_t *intake_zap_new(uv_loop_t *loop, void *zctx, intake_allow_t *allow, uint64_t *refused,
                             uint64_t *accepted, int *err);
/* Swap in a new list (the handler owns it; the old one is freed). */
void intake_zap_set_allow(intake_zap_t *z, intake_allow_t *allow);
const intake_allow_t *intake_zap_allow(const intake_zap_t *z);
void intake_zap_close(intake_zap_t **zp);

#endif
