/* cmd_act.c -- `jiesuctl act` and `jiesuctl fsm` without sockets (cmd_act.h). */
#include "cmd_act.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "fsm.h"
#include "jsdefs.h"

void ctl_act_usage(FILE *out) {
    fprintf(out,
            "usage: jiesuctl act ID ACTION --as ROLE [options]\n"
            "  ACTION  unit:     accept contact note return extend escalate report complete\n"
            "          reviewer: approve refuse assign reopen close (note too)\n"
            "  ROLE    operator, reviewer, admin or unit:ID\n"
            "  --name LOGIN          who acts (recorded in the history)\n"
            "  --reason TEXT         why (return, extend, escalate, refuse, reopen; the text of a note)\n"
            "  --basis TEXT          the legal basis of a return\n"
            "  --answer TEXT         the written answer of a completion, an assist's report\n"
            "  --to UNIT[,UNIT...]   return: the suggested unit; approve of a return: re-dispatch to it;\n"
            "                        assign: the units, the first leads\n"
            "  --until DATE          extend to this moment (YYYY-MM-DD = 23:59:59 that day, or\n"
            "                        YYYY-MM-DDTHH:MM[:SS], Asia/Shanghai)\n"
            "  --limit N(wd|d|h)     extend to this limit instead (same unit as the current one)\n"
            "  --level L             escalate to district, city or sector\n"
            "  --version N           refuse unless the order is at version N\n"
            "  --resolved yes|no, --satisfaction 1..5   close after a callback: the requester's rating\n"
            "Prints one JSON line: order, stage, version, event, repeated. A lost answer is asked\n"
            "again with the same action id, so an action is never applied twice.\n");
}

static int s_parse_limit(const char *s, int *amount, int *unit) {
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || end == s || n <= 0 || n > 87600) return -EINVAL;
    if (!strcmp(end, "wd")) *unit = JS_LIMIT_WORKING_DAYS;
    else if (!strcmp(end, "d")) *unit = JS_LIMIT_CALENDAR_DAYS;
    else if (!strcmp(end, "h")) *unit = JS_LIMIT_HOURS;
    else return -EINVAL;
    *amount = (int)n;
    return 0;
}

static int s_parse_moment(const char *s, int64_t *ms) {
    int y, m, d, hh = 23, mi = 59, ss = 59, n = 0;
    char tail = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10) return -EINVAL;
    if (s[10]) {
        int k = 0;
        ss = 0;
        if (sscanf(s + 10, "T%2d:%2d%n", &hh, &mi, &k) != 2) return -EINVAL;
        if (s[10 + k] == ':' && sscanf(s + 10 + k, ":%2d%c", &ss, &tail) != 1) return -EINVAL;
        if (s[10 + k] && s[10 + k] != ':') return -EINVAL;
        if (hh > 23 || mi > 59 || ss > 59 || hh < 0 || mi < 0 || ss < 0) return -EINVAL;
    }
    if (!js_cal_date_valid(y, m, d)) return -EINVAL;
    *ms = js_cal_local_ms(y, m, d, hh, mi, ss);
    return 0;
}

int ctl_act_parse(int argc, char **argv, ctl_act_args_t *a, FILE *out, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    a->resolved = -1;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            ctl_act_usage(out);
            return CTL_ACT_HELP;
        }
        if (k[0] != '-') {
            if (npos == 2) {
                snprintf(err, errlen, "act: one order id and one action (got '%s' too)", k);
                return -EINVAL;
            }
            pos[npos++] = k;
            continue;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "act: %s needs a value", k);
            return -EINVAL;
        }
        const char *v = argv[++i];
        if (!strcmp(k, "--as")) a->role = v;
        else if (!strcmp(k, "--name")) a->name = v;
        else if (!strcmp(k, "--reason")) a->reason = v;
        else if (!strcmp(k, "--basis")) a->basis = v;
        else if (!strcmp(k, "--answer")) a->answer = v;
        else if (!strcmp(k, "--to")) {
            snprintf(a->units_buf, sizeof a->units_buf, "%s", v);
            char *save = NULL;
            for (char *u = strtok_r(a->units_buf, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
                if (a->nunits == CTL_ACT_MAX_UNITS) {
                    snprintf(err, errlen, "act: --to takes at most %d units", CTL_ACT_MAX_UNITS);
                    return -EINVAL;
                }
                a->units[a->nunits++] = u;
            }
        } else if (!strcmp(k, "--until")) {
            if (s_parse_moment(v, &a->until_ms) < 0) {
                snprintf(err, errlen, "act: --until '%s' is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS])", v);
                return -EINVAL;
            }
        } else if (!strcmp(k, "--limit")) {
            if (s_parse_limit(v, &a->limit_amount, &a->limit_unit) < 0) {
                snprintf(err, errlen, "act: --limit '%s' is N followed by wd, d or h (e.g. 20wd)", v);
                return -EINVAL;
            }
        } else if (!strcmp(k, "--level")) {
            a->level = !strcmp(v, "district") ? 1 : !strcmp(v, "city") ? 2 : !strcmp(v, "sector") ? 3 : 0;
            if (!a->level) {
                snprintf(err, errlen, "act: --level is district, city or sector (got '%s')", v);
                return -EINVAL;
            }
        } else if (!strcmp(k, "--version")) {
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || *end || n <= 0) {
                snprintf(err, errlen, "act: --version '%s' is not a positive number", v);
                return -EINVAL;
            }
            a->version = n;
        } else if (!strcmp(k, "--resolved")) {
            a->resolved = !strcmp(v, "yes") ? 1 : !strcmp(v, "no") ? 0 : -2;
            if (a->resolved == -2) {
                snprintf(err, errlen, "act: --resolved is yes or no");
                return -EINVAL;
            }
        } else if (!strcmp(k, "--satisfaction")) {
            a->satisfaction = atoi(v);
            if (a->satisfaction < 1 || a->satisfaction > 5 || strlen(v) != 1) {
                snprintf(err, errlen, "act: --satisfaction is 1 (very dissatisfied) .. 5 (very satisfied)");
                return -EINVAL;
            }
        } else {
            snprintf(err, errlen, "act: unknown option %s (jiesuctl act --help)", k);
            return -EINVAL;
        }
    }
    if (npos < 2) {
        snprintf(err, errlen, "act: want ID ACTION (jiesuctl act --help)");
        return -EINVAL;
    }
    a->order_id = pos[0];
    a->act = js_fsm_act_parse(pos[1]);
    if (!a->act || a->act > JS_ACT_CLOSE) {
        snprintf(err, errlen, "act: unknown action '%s' (accept contact note return extend escalate report complete "
                              "approve refuse assign reopen close)", pos[1]);
        return -EINVAL;
    }
    if (!a->role) {
        snprintf(err, errlen, "act: --as ROLE is required (operator, reviewer, admin or unit:ID)");
        return -EINVAL;
    }
    if (strcmp(a->role, "operator") && strcmp(a->role, "reviewer") && strcmp(a->role, "admin") &&
        (strncmp(a->role, "unit:", 5) || !a->role[5])) {
        snprintf(err, errlen, "act: --as '%s': operator, reviewer, admin or unit:ID", a->role);
        return -EINVAL;
    }
    if (a->until_ms && a->limit_amount) {
        snprintf(err, errlen, "act: give --until or --limit, not both");
        return -EINVAL;
    }
    return 0;
}

void ctl_act_build(const ctl_act_args_t *a, ctl_act_parts_t *p, js_env_t *env) {
    memset(p, 0, sizeof *p);
    jiesu__v1__actor__init(&p->actor);
    if (!strncmp(a->role, "unit:", 5)) {
        p->actor.role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT;
        p->actor.unit_id = (char *)a->role + 5;
    } else {
        p->actor.role = !strcmp(a->role, "operator") ? JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR
                        : !strcmp(a->role, "reviewer") ? JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER
                                                       : JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_ADMIN;
    }
    if (a->name) p->actor.name = (char *)a->name;
    /* A note by the centre is a UnitAction too: one kind of message per action. */
    bool review = a->act >= JS_ACT_APPROVE && a->act <= JS_ACT_CLOSE;
    if (!review) {
        Jiesu__V1__UnitAction *u = &p->ua;
        jiesu__v1__unit_action__init(u);
        u->order_id = (char *)a->order_id;
        u->kind = (Jiesu__V1__UnitActionKind)a->act;
        u->actor = &p->actor;
        u->expected_version = a->version;
        if (a->reason) u->reason = (char *)a->reason;
        if (a->basis) u->legal_basis = (char *)a->basis;
        if (a->answer) u->answer = (char *)a->answer;
        if (a->nunits) u->to_unit = (char *)a->units[0];
        u->until_ms = a->until_ms;
        u->level = (Jiesu__V1__EscalationLevel)a->level;
        if (a->limit_amount) {
            jiesu__v1__limit__init(&p->limit);
            p->limit.amount = a->limit_amount;
            p->limit.unit = (Jiesu__V1__LimitUnit)a->limit_unit;
            u->new_limit = &p->limit;
        }
        env->payload_case = JIESU__V1__ENVELOPE__PAYLOAD_UNIT_ACTION;
        env->unit_action = u;
        return;
    }
    Jiesu__V1__ReviewDecision *r = &p->rd;
    jiesu__v1__review_decision__init(r);
    r->order_id = (char *)a->order_id;
    r->kind = (Jiesu__V1__ReviewKind)(a->act - 10);
    r->actor = &p->actor;
    r->expected_version = a->version;
    if (a->reason) r->reason = (char *)a->reason;
    for (int i = 0; i < a->nunits; i++) {
        jiesu__v1__assignment__init(&p->asg[i]);
        p->asg[i].unit_id = (char *)a->units[i];
        p->asg[i].role = i ? JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_ASSIST : JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD;
        p->asgp[i] = &p->asg[i];
    }
    r->assignments = p->asgp;
    r->n_assignments = (size_t)a->nunits;
    if (a->resolved >= 0 || a->satisfaction) {
        jiesu__v1__rating__init(&p->rating);
        p->rating.order_id = (char *)a->order_id;
        p->rating.resolved = a->resolved == 1;
        p->rating.satisfaction = a->satisfaction;
        r->rating = &p->rating;
    }
    env->payload_case = JIESU__V1__ENVELOPE__PAYLOAD_REVIEW_DECISION;
    env->review_decision = r;
}

ctl_act_reply_t ctl_act_reply(const js_env_t *reply, const char *req_id, char **json, char *why, size_t whylen) {
    *json = NULL;
    const char *corr = reply->correlation_id ? reply->correlation_id : "";
    if (corr[0] && strcmp(corr, req_id) != 0) return CTL_ACT_OTHER;
    if (reply->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ACTION_REPLY && corr[0]) {
        const Jiesu__V1__ActionReply *r = reply->action_reply;
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:b}", "order", r->order_id ? r->order_id : "", "stage",
                              js_fsm_stage_name(r->stage), "version", (json_int_t)r->version, "event",
                              r->event_type ? r->event_type : "", "repeated", r->repeated);
        *json = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        return CTL_ACT_OK;
    }
    if (reply->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR) {
        const Jiesu__V1__Error *e = reply->error;
        snprintf(why, whylen, "%s: %s", e->code ? e->code : "?", e->message ? e->message : "");
        return e->code && !strcmp(e->code, "unavailable") ? CTL_ACT_RETRY : CTL_ACT_REFUSED;
    }
    if (!corr[0]) return CTL_ACT_OTHER;
    snprintf(why, whylen, "unexpected answer %s", reply->type ? reply->type : "?");
    return CTL_ACT_REFUSED;
}

static json_t *s_roles(unsigned mask) {
    static const struct { unsigned bit; const char *name; } names[] = {
        {JS_RC_OPERATOR, "operator"}, {JS_RC_REVIEWER, "reviewer"}, {JS_RC_ADMIN, "admin"},
        {JS_RC_LEAD, "lead"},         {JS_RC_ASSIST, "assist"},     {JS_RC_COPY, "copy"},
        {JS_RC_SYSTEM, "system"},
    };
    json_t *a = json_array();
    for (size_t i = 0; i < JS_ARRAY_LEN(names); i++)
        if (mask & names[i].bit) json_array_append_new(a, json_string(names[i].name));
    return a;
}

void ctl_fsm_print(FILE *out) {
    size_t n;
    const js_fsm_row_t *r = js_fsm_rows(&n);
    for (size_t i = 0; i < n; i++) {
        const char *next = r[i].next == JS_FSM_SAME ? "(same)" : r[i].next == JS_FSM_PREV ? "(previous)"
                                                                                           : js_fsm_stage_name(r[i].next);
        json_t *j = json_pack("{s:s, s:i, s:s, s:i, s:o, s:i, s:s, s:i, s:s, s:i, s:b, s:s}", "stage",
                              js_fsm_stage_name(r[i].stage), "stage_n", r[i].stage, "action", js_fsm_act_name(r[i].act),
                              "action_n", r[i].act, "roles", s_roles(r[i].roles), "roles_n", (int)r[i].roles, "next", next, "next_n", r[i].next,
                              "alt", r[i].alt ? js_fsm_stage_name(r[i].alt) : "", "alt_n", r[i].alt, "saves_stage",
                              (r[i].fx & JS_FX_SAVE_PREV) != 0, "event", r[i].event);
        char *s = json_dumps(j, JSON_COMPACT);
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(j);
    }
}
