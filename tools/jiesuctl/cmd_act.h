/* cmd_act.h -- the socket-free part of `jiesuctl act` and `jiesuctl fsm`:
 * options, the UnitAction or ReviewDecision they make, what a reply means.
 *
 * The args point into argv; the parts the caller owns hold the message the
 * envelope points at, so all must outlive the packed envelope. */
#ifndef CTL_ACT_H
#define CTL_ACT_H

#include <stdio.h>

#include "envelope.h"

#define CTL_ACT_HELP 1     /* --help: usage printed, exit 0 */
#define CTL_ACT_MAX_UNITS 16

typedef struct ctl_act_args {
    const char *order_id;
    int act;                   /* JS_ACT_* (common/fsm.h) */
    const char *role;          /* --as: operator, reviewer, admin, unit:ID */
    const char *name;          /* --name: the person's login */
    const char *reason;        /* --reason */
    const char *basis;         /* --basis: a return's legal basis */
    const char *answer;        /* --answer: completion, report */
    const char *units[CTL_ACT_MAX_UNITS]; /* --to UNIT[,UNIT...] (first leads) */
    int nunits;
    int64_t until_ms;          /* --until DATE[THH:MM[:SS]] (local time; a date alone: 23:59:59) */
    int limit_amount, limit_unit; /* --limit 20wd */
    int level;                 /* --level district|city|sector */
    int64_t version;           /* --version N: refused unless the order is at N */
    int resolved;              /* --resolved yes|no: -1 not given */
    int satisfaction;          /* --satisfaction 1..5: 0 not given */
    char units_buf[1024];      /* --to, split */
} ctl_act_args_t;

typedef struct ctl_act_parts {
    Jiesu__V1__UnitAction ua;
    Jiesu__V1__ReviewDecision rd;
    Jiesu__V1__Actor actor;
    Jiesu__V1__Limit limit;
    Jiesu__V1__Rating rating;
    Jiesu__V1__Assignment asg[CTL_ACT_MAX_UNITS];
    Jiesu__V1__Assignment *asgp[CTL_ACT_MAX_UNITS];
} ctl_act_parts_t;

typedef enum ctl_act_reply {
    CTL_ACT_OTHER = 0, /* not the answer to our request */
    CTL_ACT_OK,        /* applied (or applied before: repeated) */
    CTL_ACT_RETRY,     /* unavailable: send the same envelope again */
    CTL_ACT_REFUSED,   /* any other error */
} ctl_act_reply_t;

/* Prototypes */
void ctl_act_usage(FILE *out);
/* argv[0] is "act". 0, CTL_ACT_HELP, or -EINVAL with one line in err. */
int ctl_act_parse(int argc, char **argv, ctl_act_args_t *a, FILE *out, char *err, size_t errlen);
/* Fill the payload of env (its id, the action's id, is the caller's). */
void ctl_act_build(const ctl_act_args_t *a, ctl_act_parts_t *p, js_env_t *env);
/* An answer to request id req_id? OK prints nothing: *json gets the line to
 * print (malloc'd); REFUSED/RETRY write "code: message" into why. */
ctl_act_reply_t ctl_act_reply(const js_env_t *reply, const char *req_id, char **json, char *why, size_t whylen);
/* The transition table as JSON lines, one row each (jiesuctl fsm). */
void ctl_fsm_print(FILE *out);

#endif
