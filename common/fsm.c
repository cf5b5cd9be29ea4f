/* fsm.c -- the transition table of an order (fsm.h). */
#include "fsm.h"

#include <stdio.h>
#include <string.h>

#include "jiesu/v1/types.pb-c.h"

/* Stage numbers, short. */
#define RECEIVED JIESU__V1__STAGE__STAGE_RECEIVED
#define CLASSIFIED JIESU__V1__STAGE__STAGE_CLASSIFIED
#define MANUAL JIESU__V1__STAGE__STAGE_MANUAL
#define DISPATCHED JIESU__V1__STAGE__STAGE_DISPATCHED
#define ACCEPTED JIESU__V1__STAGE__STAGE_ACCEPTED
#define RETURN_REVIEW JIESU__V1__STAGE__STAGE_RETURN_REVIEW
#define EXTENSION_REVIEW JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW
#define CONSULTATION JIESU__V1__STAGE__STAGE_CONSULTATION
#define COMPLETION_REVIEW JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW
#define CALLBACK JIESU__V1__STAGE__STAGE_CALLBACK
#define CLOSED JIESU__V1__STAGE__STAGE_CLOSED
#define TRANSFERRED JIESU__V1__STAGE__STAGE_TRANSFERRED
#define ESCALATED JIESU__V1__STAGE__STAGE_ESCALATED
#define TRANSFERRING JIESU__V1__STAGE__STAGE_TRANSFERRING

#define L JS_RC_LEAD
#define A JS_RC_ASSIST
#define C JS_RC_COPY
#define R (JS_RC_REVIEWER | JS_RC_ADMIN)
#define O (JS_RC_OPERATOR | JS_RC_REVIEWER | JS_RC_ADMIN)
#define S JS_RC_SYSTEM
#define SAME JS_FSM_SAME
#define PREV JS_FSM_PREV
#define SAVE JS_FX_SAVE_PREV

#define EV(x) "jiesu.order." x

/* The table. Read a row as: in STAGE, ACTION by ROLES goes to NEXT (or ALT),
 * doing FX, and publishes EVENT. Kept in stage order. */
static const js_fsm_row_t s_rows[] = {
    /* the pipeline and the operators before dispatch */
    {CLASSIFIED, JS_ACT_DISPATCH, S, DISPATCHED, 0, 0, EV("dispatched")},
    {CLASSIFIED, JS_ACT_CONSULT, S, CONSULTATION, 0, 0, EV("consultation")},
    {CLASSIFIED, JS_ACT_TRANSFER, S, TRANSFERRING, 0, 0, EV("transferring")},
    {MANUAL, JS_ACT_CLASSIFY, O, CLASSIFIED, 0, 0, EV("classified")},
    {MANUAL, JS_ACT_NOTE, O, SAME, 0, 0, EV("noted")},

    /* dispatched: the units work */
    {DISPATCHED, JS_ACT_ACCEPT, L, ACCEPTED, 0, 0, EV("accepted")},
    {DISPATCHED, JS_ACT_ACCEPT, A, SAME, 0, 0, EV("accepted")},
    {DISPATCHED, JS_ACT_CONTACT, L | A, SAME, 0, 0, EV("contacted")},
    {DISPATCHED, JS_ACT_NOTE, O | L | A | C, SAME, 0, 0, EV("noted")},
    {DISPATCHED, JS_ACT_RETURN, L, RETURN_REVIEW, 0, SAVE, EV("returned")},
    {DISPATCHED, JS_ACT_EXTEND, L | A, EXTENSION_REVIEW, 0, SAVE, EV("extension_requested")},
    {DISPATCHED, JS_ACT_ESCALATE, L | S, ESCALATED, 0, 0, EV("escalated")}, /* S: overdue, as the profile says */
    {DISPATCHED, JS_ACT_REPORT, A, SAME, 0, 0, EV("reported")},
    {DISPATCHED, JS_ACT_COMPLETE, L, COMPLETION_REVIEW, 0, SAVE, EV("completion_requested")},
    {DISPATCHED, JS_ACT_RECOMPUTE, S, SAME, 0, 0, "jiesu.clock.recomputed"},

    {ACCEPTED, JS_ACT_ACCEPT, A, SAME, 0, 0, EV("accepted")},
    {ACCEPTED, JS_ACT_CONTACT, L | A, SAME, 0, 0, EV("contacted")},
    {ACCEPTED, JS_ACT_NOTE, O | L | A | C, SAME, 0, 0, EV("noted")},
    {ACCEPTED, JS_ACT_RETURN, L, RETURN_REVIEW, 0, SAVE, EV("returned")},
    {ACCEPTED, JS_ACT_EXTEND, L | A, EXTENSION_REVIEW, 0, SAVE, EV("extension_requested")},
    {ACCEPTED, JS_ACT_ESCALATE, L | S, ESCALATED, 0, 0, EV("escalated")}, /* S: overdue, as the profile says */
    {ACCEPTED, JS_ACT_REPORT, A, SAME, 0, 0, EV("reported")},
    {ACCEPTED, JS_ACT_COMPLETE, L, COMPLETION_REVIEW, 0, SAVE, EV("completion_requested")},
    {ACCEPTED, JS_ACT_RECOMPUTE, S, SAME, 0, 0, "jiesu.clock.recomputed"},

    /* a higher level coordinates; the units go on */
    {ESCALATED, JS_ACT_ACCEPT, A, SAME, 0, 0, EV("accepted")},
    {ESCALATED, JS_ACT_CONTACT, L | A, SAME, 0, 0, EV("contacted")},
    {ESCALATED, JS_ACT_NOTE, O | L | A | C, SAME, 0, 0, EV("noted")},
    {ESCALATED, JS_ACT_EXTEND, L | A, EXTENSION_REVIEW, 0, SAVE, EV("extension_requested")},
    {ESCALATED, JS_ACT_REPORT, A, SAME, 0, 0, EV("reported")},
    {ESCALATED, JS_ACT_COMPLETE, L, COMPLETION_REVIEW, 0, SAVE, EV("completion_requested")},
    {ESCALATED, JS_ACT_ASSIGN, R, DISPATCHED, 0, 0, EV("dispatched")},
    {ESCALATED, JS_ACT_RECOMPUTE, S, SAME, 0, 0, "jiesu.clock.recomputed"},

    /* reviews: the centre decides a unit's request */
    {RETURN_REVIEW, JS_ACT_APPROVE, R, DISPATCHED, CONSULTATION, 0, EV("return_approved")},
    {RETURN_REVIEW, JS_ACT_REFUSE, R, PREV, 0, 0, EV("return_refused")},
    {RETURN_REVIEW, JS_ACT_NOTE, O | L | A | C, SAME, 0, 0, EV("noted")},
    {RETURN_REVIEW, JS_ACT_RECOMPUTE, S, SAME, 0, 0, "jiesu.clock.recomputed"},

    {EXTENSION_REVIEW, JS_ACT_APPROVE, R, PREV, 0, 0, EV("extended")},
    {EXTENSION_REVIEW, JS_ACT_REFUSE, R, PREV, 0, 0, EV("extension_refused")},
    {EXTENSION_REVIEW, JS_ACT_CONTACT, L | A, SAME, 0, 0, EV("contacted")},
    {EXTENSION_REVIEW, JS_ACT_NOTE, O | L | A | C, SAME, 0, 0, EV("noted")},
    {EXTENSION_REVIEW, JS_ACT_REPORT, A, SAME, 0, 0, EV("reported")},
    {EXTENSION_REVIEW, JS_ACT_RECOMPUTE, S, SAME, 0, 0, "jiesu.clock.recomputed"},

    {COMPLETION_REVIEW, JS_ACT_APPROVE, R, CALLBACK, 0, 0, EV("completed")},
    {COMPLETION_REVIEW, JS_ACT_REFUSE, R, PREV, 0, 0, EV("completion_refused")},
    {COMPLETION_REVIEW, JS_ACT_NOTE, O | L | A | C, SAME, 0, 0, EV("noted")},
    {COMPLETION_REVIEW, JS_ACT_RECOMPUTE, S, SAME, 0, 0, "jiesu.clock.recomputed"},

    {CONSULTATION, JS_ACT_ASSIGN, R, DISPATCHED, 0, 0, EV("dispatched")},
    {CONSULTATION, JS_ACT_CLOSE, R, CLOSED, 0, 0, EV("closed")},
    {CONSULTATION, JS_ACT_NOTE, O, SAME, 0, 0, EV("noted")},

    /* after completion */
    {CALLBACK, JS_ACT_CLOSE, O | S, CLOSED, 0, 0, EV("closed")},
    {CALLBACK, JS_ACT_REOPEN, R, DISPATCHED, 0, 0, EV("reopened")},
    {CALLBACK, JS_ACT_NOTE, O, SAME, 0, 0, EV("noted")},
    {CALLBACK, JS_ACT_RECOMPUTE, S, SAME, 0, 0, "jiesu.clock.recomputed"},
    {CLOSED, JS_ACT_REOPEN, R, DISPATCHED, 0, 0, EV("reopened")},

    /* partner hand-off */
    {TRANSFERRING, JS_ACT_PARTNER_ACK, S, TRANSFERRED, 0, 0, EV("transferred")},
    {TRANSFERRING, JS_ACT_NOTE, O, SAME, 0, 0, EV("noted")},
};

const js_fsm_row_t *js_fsm_rows(size_t *n) {
    *n = sizeof s_rows / sizeof s_rows[0];
    return s_rows;
}

const js_fsm_row_t *js_fsm_find(int stage, int act, unsigned rc, int *why) {
    int seen = 0;
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        const js_fsm_row_t *r = &s_rows[i];
        if (r->stage != stage || r->act != act) continue;
        seen = 1;
        if (r->roles & rc) {
            if (why) *why = JS_FSM_OK;
            return r;
        }
    }
    if (why) *why = seen ? JS_FSM_FORBIDDEN : JS_FSM_NOT_ALLOWED;
    return NULL;
}

int js_fsm_next(const js_fsm_row_t *r, int stage, int saved) {
    if (r->next == JS_FSM_SAME) return stage;
    if (r->next == JS_FSM_PREV) return saved;
    return r->next;
}

static const char *const s_act_names[JS_ACT_MAX] = {
    [JS_ACT_ACCEPT] = "accept",     [JS_ACT_CONTACT] = "contact",     [JS_ACT_NOTE] = "note",
    [JS_ACT_RETURN] = "return",     [JS_ACT_EXTEND] = "extend",       [JS_ACT_ESCALATE] = "escalate",
    [JS_ACT_REPORT] = "report",     [JS_ACT_COMPLETE] = "complete",   [JS_ACT_APPROVE] = "approve",
    [JS_ACT_REFUSE] = "refuse",     [JS_ACT_ASSIGN] = "assign",       [JS_ACT_REOPEN] = "reopen",
    [JS_ACT_CLOSE] = "close",       [JS_ACT_DISPATCH] = "dispatch",   [JS_ACT_CONSULT] = "consult",
    [JS_ACT_TRANSFER] = "transfer", [JS_ACT_PARTNER_ACK] = "partner_ack", [JS_ACT_CLASSIFY] = "classify",
    [JS_ACT_RECOMPUTE] = "recompute",
};

const char *js_fsm_act_name(int act) {
    return act > 0 && act < JS_ACT_MAX && s_act_names[act] ? s_act_names[act] : "?";
}

int js_fsm_act_parse(const char *name) {
    for (int i = 1; i < JS_ACT_MAX; i++)
        if (s_act_names[i] && strcmp(s_act_names[i], name) == 0) return i;
    return 0;
}

static const char *const s_stage_names[] = {
    "unspecified", "received", "classified", "manual", "dispatched", "accepted", "return_review",
    "extension_review", "consultation", "completion_review", "callback", "closed", "transferred",
    "escalated", "transferring",
};

const char *js_fsm_stage_name(int stage) {
    return stage >= 0 && (size_t)stage < sizeof s_stage_names / sizeof s_stage_names[0] ? s_stage_names[stage]
                                                                                        : "?";
}

const char *js_fsm_role_name(unsigned rc) {
    switch (rc) {
    case JS_RC_OPERATOR: return "operator";
    case JS_RC_REVIEWER: return "reviewer";
    case JS_RC_ADMIN: return "admin";
    case JS_RC_LEAD: return "the handling (lead) unit";
    case JS_RC_ASSIST: return "an assisting unit";
    case JS_RC_COPY: return "a unit copied for supervision";
    case JS_RC_SYSTEM: return "a jiesu service";
    case JS_RC_STRANGER: return "a unit the order is not assigned to";
    default: return "?";
    }
}

/* "reviewer, admin" for a mask. */
static void s_roles(unsigned mask, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned b = 1; b <= JS_RC_STRANGER && off < len; b <<= 1) {
        if (!(mask & b)) continue;
        int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", js_fsm_role_name(b));
        if (n < 0) break;
        off += (size_t)n;
    }
}

const char *js_fsm_explain(int stage, int act, unsigned rc, int why, char *buf, size_t len) {
    if (why == JS_FSM_FORBIDDEN) {
        unsigned mask = 0;
        for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++)
            if (s_rows[i].stage == stage && s_rows[i].act == act) mask |= s_rows[i].roles;
        char who[256];
        s_roles(mask, who, sizeof who);
        snprintf(buf, len, "%s in stage %s is not for %s (only %s)", js_fsm_act_name(act), js_fsm_stage_name(stage),
                 js_fsm_role_name(rc), who);
    } else {
        char acts[512];
        size_t off = 0;
        acts[0] = '\0';
        for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0] && off < sizeof acts; i++) {
            const js_fsm_row_t *r = &s_rows[i];
            if (r->stage != stage || !(r->roles & rc) || strstr(acts, js_fsm_act_name(r->act))) continue;
            int n = snprintf(acts + off, sizeof acts - off, "%s%s", off ? ", " : "", js_fsm_act_name(r->act));
            if (n < 0) break;
            off += (size_t)n;
        }
        snprintf(buf, len, "%s is not allowed in stage %s (allowed there: %s)", js_fsm_act_name(act),
                 js_fsm_stage_name(stage), off ? acts : "nothing");
    }
    return buf;
}
