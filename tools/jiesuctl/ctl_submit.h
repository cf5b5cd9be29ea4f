/* ctl_submit.h -- the socket-free part of `jiesuctl submit`: its options, the
 * Submission they make, what a reply means, and what is printed.
 *
 * The args struct points into argv (nothing is copied); the Submission that
 * ctl_submit_build fills points into args and into the parts struct the
 * caller owns, so all three must outlive the packed message. */
#ifndef CTL_SUBMIT_H
#define CTL_SUBMIT_H

#include <stddef.h>
#include <stdio.h>

#include "envelope.h"
#include "ids.h"

#define CTL_HELP 1 /* --help was asked: usage printed, exit 0 */

typedef struct ctl_submit_args {
    const char *text;          /* --text (required) */
    const char *contact;       /* --contact: phone number or address, in clear to intake only */
    const char *name;          /* --name */
    const char *address;       /* --address */
    const char *district;      /* --district */
    const char *title;         /* --title */
    const char *key;           /* --key, or NULL: the caller makes one per invocation */
    const char *partner;       /* --partner: required with --channel partner */
    const char *partner_order; /* --partner-order: the partner's own id, likewise */
    int channel;               /* JIESU__V1__CHANNEL__CHANNEL_*; --channel, default phone */
} ctl_submit_args_t;

/* What ctl_submit_build needs beside the args (caller-owned, e.g. on the stack). */
typedef struct ctl_submit_parts {
    Jiesu__V1__Submission sub;
    Jiesu__V1__RequesterInput req;
    Jiesu__V1__Location loc;
} ctl_submit_parts_t;

typedef enum ctl_reply_kind {
    CTL_REPLY_OTHER = 0, /* not an answer to our request: ignore it, keep waiting */
    CTL_REPLY_OK,        /* submit_reply: the order id */
    CTL_REPLY_RETRY,     /* error "unavailable": try again with the same key */
    CTL_REPLY_REFUSED,   /* any other error, or an answer we cannot use: give up */
} ctl_reply_kind_t;

/* Prototypes */
/* "phone" -> JIESU__V1__CHANNEL__CHANNEL_PHONE; -1 when not a channel a
 * person may submit on (phone, web, app, wechat, partner, email, sms). */
int ctl_channel_parse(const char *name);
const char *ctl_channel_name(int channel); /* "phone"; "?" when unknown */
/* argv[0] is "submit". 0, CTL_HELP (usage on out), or -EINVAL with one line
 * in err. */
int ctl_submit_parse(int argc, char **argv, ctl_submit_args_t *a, FILE *out, char *err, size_t errlen);
void ctl_submit_usage(FILE *out);
/* key: the idempotency key to send (a->key or the caller's own). */
void ctl_submit_build(const ctl_submit_args_t *a, const char *key, ctl_submit_parts_t *p);
/* Classify reply, an answer to one of the request ids in ids[0..n). For OK,
 * *order_id and *duplicate are set (pointing into reply); for REFUSED and
 * RETRY, why (one line "code: message") is written. An error reply without a
 * correlation id is ours too: intake could not read our id, and a DEALER
 * only hears answers to its own requests. */
ctl_reply_kind_t ctl_submit_reply(const js_env_t *reply, const char *const *ids, size_t n,
                                  const char **order_id, int *duplicate, char *why, size_t whylen);
/* The lines on stdout; the order id alone is the last line, for scripts. */
void ctl_submit_print(FILE *out, const char *order_id, int duplicate, const char *key, const char *same);

#endif
