/* submission.h -- intake's pure core: check a Submission, build the Order.
 * No sockets, no Redis: the service shell (main.c) calls these per message. */
#ifndef INTAKE_SUBMISSION_H
#define INTAKE_SUBMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "jiesu/v1/types.pb-c.h"
#include "pii.h"

typedef struct intake_limits {
    size_t max_content;      /* bytes of content */
    size_t max_title;
    size_t max_text;         /* name, address, ... */
    size_t max_attachments;
    size_t max_url;
    size_t max_key;          /* idempotency key */
} intake_limits_t;

/* Prototypes */
void intake_limits_default(intake_limits_t *l);
/* NULL if the submission may be stored; else an error code ("bad_request",
 * "too_large") with "field: reason" in msg and the field path in field. */
const char *intake_check(const Jiesu__V1__Submission *s, const intake_limits_t *l, int64_t now_ms,
                         char *field, size_t fieldlen, char *msg, size_t msglen);
/* A submission that came in on the partner endpoint, from the partner whose
 * key was authenticated (partner: its id from the allow-list): channel
 * partner, partner_id = partner (a payload naming another partner is refused:
 * "forbidden"), and the idempotency key is partner_order_id when none is
 * given, so a partner's repeat never makes a second order. Returns NULL, or
 * an error code with field and msg as intake_check; intake_check follows.
 * s's strings may then point at partner: it must outlive s. */
const char *intake_partner_prepare(Jiesu__V1__Submission *s, const char *partner, char *field, size_t fieldlen,
                                   char *msg, size_t msglen);
/* Fill order (initialised by the caller) from a checked submission: stage
 * received, version 1, contact sealed into *sealed (arena) and masked. The
 * idempotency key stored is namespaced by partner ("partner:key" or "-:key"). */
void intake_build_order(js_arena_t *a, const Jiesu__V1__Submission *s, const js_pii_t *pii,
                        const char *id, const char *trace_id, int64_t now_ms, Jiesu__V1__Order *order,
                        uint8_t **sealed, size_t *sealed_len);
/* Copy of s without leading/trailing ASCII or ideographic (U+3000) spaces. */
char *intake_trim(js_arena_t *a, const char *s);

#endif
