/* test_fsm.c -- the transition table (common/fsm.h), exhaustively: every
 * stage 0..14 x action 0..26 x role class, against the rows themselves, plus
 * the properties the services rely on (saved stages, terminal stages, no row
 * for a stranger, events, names). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fsm.h"
#include "jiesu/v1/types.pb-c.h"

#define NSTAGES 15 /* jiesu.v1.Stage 0 (unspecified) .. 14 (transferring) */
#define CLOSED JIESU__V1__STAGE__STAGE_CLOSED
#define TRANSFERRED JIESU__V1__STAGE__STAGE_TRANSFERRED

static const unsigned s_roles[] = {JS_RC_OPERATOR, JS_RC_REVIEWER, JS_RC_ADMIN, JS_RC_LEAD,
                                   JS_RC_ASSIST,   JS_RC_COPY,     JS_RC_SYSTEM, JS_RC_STRANGER};
#define NROLES (sizeof s_roles / sizeof s_roles[0])

/* The first row for (stage, act) that role rc may take, by walking the rows. */
static const js_fsm_row_t *s_walk(int stage, int act, unsigned rc, int *seen) {
    size_t n;
    const js_fsm_row_t *rows = js_fsm_rows(&n);
    *seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].stage != stage || rows[i].act != act) continue;
        *seen = 1;
        if (rows[i].roles & rc) return &rows[i];
    }
    return NULL;
}

/* js_fsm_find agrees with the rows for every (stage, action, role), and
 * why says FORBIDDEN exactly when the action has rows there for other roles. */
static void test_find_matches_rows(void **st) {
    (void)st;
    int found = 0, forbidden = 0, not_allowed = 0;
    for (int s = 0; s < NSTAGES; s++)
        for (int a = 0; a < JS_ACT_MAX; a++)
            for (size_t k = 0; k < NROLES; k++) {
                int seen, why = 12345;
                const js_fsm_row_t *want = s_walk(s, a, s_roles[k], &seen);
                const js_fsm_row_t *got = js_fsm_find(s, a, s_roles[k], &why);
                assert_ptr_equal(got, want);
                if (got) {
                    assert_int_equal(why, JS_FSM_OK);
                    assert_int_equal(got->stage, s);
                    assert_int_equal(got->act, a);
                    assert_true(got->roles & s_roles[k]);
                    found++;
                } else if (seen) {
                    assert_int_equal(why, JS_FSM_FORBIDDEN);
                    forbidden++;
                } else {
                    assert_int_equal(why, JS_FSM_NOT_ALLOWED);
                    not_allowed++;
                }
                /* why may be NULL */
                assert_ptr_equal(js_fsm_find(s, a, s_roles[k], NULL), want);
            }
    assert_int_equal(found + forbidden + not_allowed, NSTAGES * JS_ACT_MAX * (int)NROLES);
    assert_true(found > 50);
    assert_true(forbidden > 0);
    /* Out-of-range stages and actions are simply not allowed. */
    int why;
    assert_null(js_fsm_find(-1, JS_ACT_ACCEPT, JS_RC_LEAD, &why));
    assert_int_equal(why, JS_FSM_NOT_ALLOWED);
    assert_null(js_fsm_find(99, JS_ACT_ACCEPT, JS_RC_LEAD, &why));
    assert_int_equal(why, JS_FSM_NOT_ALLOWED);
    assert_null(js_fsm_find(JIESU__V1__STAGE__STAGE_DISPATCHED, 99, JS_RC_LEAD, &why));
    assert_int_equal(why, JS_FSM_NOT_ALLOWED);
}

/* Every row is well formed, and no two rows for the same (stage, action)
 * share a role (the second would never be found). */
static void test_rows_well_formed(void **st) {
    (void)st;
    size_t n;
    const js_fsm_row_t *rows = js_fsm_rows(&n);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const js_fsm_row_t *r = &rows[i];
        assert_true(r->stage >= 1 && r->stage < NSTAGES);
        assert_true(r->act > 0 && r->act < JS_ACT_MAX);
        assert_string_not_equal(js_fsm_act_name(r->act), "?");
        assert_true(r->roles != 0);
        assert_int_equal(r->roles & ~0x7fu, 0); /* known role bits only */
        assert_true(r->next == JS_FSM_SAME || r->next == JS_FSM_PREV || (r->next >= 1 && r->next < NSTAGES));
        assert_true(r->alt == 0 || (r->alt >= 1 && r->alt < NSTAGES));
        assert_int_equal(r->fx & ~JS_FX_SAVE_PREV, 0);
        /* saving the stage only makes sense for a row that leaves it */
        if (r->fx & JS_FX_SAVE_PREV) assert_true(r->next >= 1 && r->next != r->stage);
        for (size_t k = i + 1; k < n; k++)
            if (rows[k].stage == r->stage && rows[k].act == r->act) assert_int_equal(rows[k].roles & r->roles, 0);
    }
}

/* No row lets a unit the order is not assigned to do anything. */
static void test_no_row_for_stranger(void **st) {
    (void)st;
    size_t n;
    const js_fsm_row_t *rows = js_fsm_rows(&n);
    for (size_t i = 0; i < n; i++) assert_int_equal(rows[i].roles & JS_RC_STRANGER, 0);
    for (int s = 0; s < NSTAGES; s++)
        for (int a = 0; a < JS_ACT_MAX; a++) assert_null(js_fsm_find(s, a, JS_RC_STRANGER, NULL));
}

/* A stage left with JS_FSM_PREV is entered only by rows that save the stage
 * they leave (jiesu_act writes "ps" only for them), and every row that saves
 * one leads to a stage that can go back. */
static void test_prev_stages_are_saved(void **st) {
    (void)st;
    size_t n;
    const js_fsm_row_t *rows = js_fsm_rows(&n);
    int prev_stage[NSTAGES] = {0};
    for (size_t i = 0; i < n; i++)
        if (rows[i].next == JS_FSM_PREV) prev_stage[rows[i].stage] = 1;
    int checked = 0;
    for (size_t i = 0; i < n; i++) {
        const js_fsm_row_t *r = &rows[i];
        int targets[2] = {r->next, r->alt};
        for (int t = 0; t < 2; t++) {
            int to = targets[t];
            if (to < 1 || to >= NSTAGES || to == r->stage) continue;
            if (prev_stage[to]) {
                assert_true(r->fx & JS_FX_SAVE_PREV);
                checked++;
            }
        }
        if (r->fx & JS_FX_SAVE_PREV) assert_true(prev_stage[r->next]);
    }
    assert_true(checked >= 3);
    /* js_fsm_next */
    const js_fsm_row_t *refuse = js_fsm_find(JIESU__V1__STAGE__STAGE_RETURN_REVIEW, JS_ACT_REFUSE, JS_RC_REVIEWER, NULL);
    assert_non_null(refuse);
    assert_int_equal(refuse->next, JS_FSM_PREV);
    assert_int_equal(js_fsm_next(refuse, JIESU__V1__STAGE__STAGE_RETURN_REVIEW, JIESU__V1__STAGE__STAGE_ACCEPTED),
                     JIESU__V1__STAGE__STAGE_ACCEPTED);
    const js_fsm_row_t *note = js_fsm_find(JIESU__V1__STAGE__STAGE_ACCEPTED, JS_ACT_NOTE, JS_RC_COPY, NULL);
    assert_non_null(note);
    assert_int_equal(js_fsm_next(note, JIESU__V1__STAGE__STAGE_ACCEPTED, 0), JIESU__V1__STAGE__STAGE_ACCEPTED);
    const js_fsm_row_t *acc = js_fsm_find(JIESU__V1__STAGE__STAGE_DISPATCHED, JS_ACT_ACCEPT, JS_RC_LEAD, NULL);
    assert_non_null(acc);
    assert_int_equal(js_fsm_next(acc, JIESU__V1__STAGE__STAGE_DISPATCHED, 0), JIESU__V1__STAGE__STAGE_ACCEPTED);
}

/* Closed allows only reopen (by a reviewer), transferred nothing at all;
 * received and unspecified belong to intake and the classifier. */
static void test_terminal_stages(void **st) {
    (void)st;
    for (int a = 0; a < JS_ACT_MAX; a++)
        for (size_t k = 0; k < NROLES; k++) {
            const js_fsm_row_t *r = js_fsm_find(CLOSED, a, s_roles[k], NULL);
            if (r) {
                assert_int_equal(a, JS_ACT_REOPEN);
                assert_true(s_roles[k] & (JS_RC_REVIEWER | JS_RC_ADMIN));
            }
            assert_null(js_fsm_find(TRANSFERRED, a, s_roles[k], NULL));
            assert_null(js_fsm_find(JIESU__V1__STAGE__STAGE_RECEIVED, a, s_roles[k], NULL));
            assert_null(js_fsm_find(JIESU__V1__STAGE__STAGE_UNSPECIFIED, a, s_roles[k], NULL));
        }
    assert_non_null(js_fsm_find(CLOSED, JS_ACT_REOPEN, JS_RC_REVIEWER, NULL));
    /* and nothing but a reopen leaves closed */
    size_t n;
    const js_fsm_row_t *rows = js_fsm_rows(&n);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(rows[i].stage, TRANSFERRED);
        if (rows[i].stage == CLOSED) assert_int_equal(rows[i].act, JS_ACT_REOPEN);
    }
}

static void test_events(void **st) {
    (void)st;
    size_t n;
    const js_fsm_row_t *rows = js_fsm_rows(&n);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(rows[i].event);
        assert_int_equal(strncmp(rows[i].event, "jiesu.", 6), 0);
        assert_true(strlen(rows[i].event) > 6);
        assert_null(strchr(rows[i].event, ' '));
    }
    /* the events issue 5 names */
    const struct {
        int stage, act;
        unsigned rc;
        const char *ev;
    } want[] = {
        {JIESU__V1__STAGE__STAGE_CLASSIFIED, JS_ACT_DISPATCH, JS_RC_SYSTEM, "jiesu.order.dispatched"},
        {JIESU__V1__STAGE__STAGE_DISPATCHED, JS_ACT_ACCEPT, JS_RC_LEAD, "jiesu.order.accepted"},
        {JIESU__V1__STAGE__STAGE_DISPATCHED, JS_ACT_RETURN, JS_RC_LEAD, "jiesu.order.returned"},
        {JIESU__V1__STAGE__STAGE_RETURN_REVIEW, JS_ACT_APPROVE, JS_RC_REVIEWER, "jiesu.order.return_approved"},
        {JIESU__V1__STAGE__STAGE_RETURN_REVIEW, JS_ACT_REFUSE, JS_RC_ADMIN, "jiesu.order.return_refused"},
        {JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW, JS_ACT_APPROVE, JS_RC_REVIEWER, "jiesu.order.extended"},
        {JIESU__V1__STAGE__STAGE_ACCEPTED, JS_ACT_ESCALATE, JS_RC_LEAD, "jiesu.order.escalated"},
        {JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW, JS_ACT_APPROVE, JS_RC_REVIEWER, "jiesu.order.completed"},
        {JIESU__V1__STAGE__STAGE_CALLBACK, JS_ACT_CLOSE, JS_RC_OPERATOR, "jiesu.order.closed"},
        {JIESU__V1__STAGE__STAGE_DISPATCHED, JS_ACT_RECOMPUTE, JS_RC_SYSTEM, "jiesu.clock.recomputed"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const js_fsm_row_t *r = js_fsm_find(want[i].stage, want[i].act, want[i].rc, NULL);
        assert_non_null(r);
        assert_string_equal(r->event, want[i].ev);
    }
}

/* Every refusal explains itself: the stage and the action by name; a
 * FORBIDDEN one names the role and exactly the roles allowed, a NOT_ALLOWED
 * one exactly the actions this role may take there. */
static void test_explain(void **st) {
    (void)st;
    char buf[600], need[200];
    for (int s = 0; s < NSTAGES; s++)
        for (int a = 0; a < JS_ACT_MAX; a++)
            for (size_t k = 0; k < NROLES; k++) {
                unsigned rc = s_roles[k];
                int why;
                if (js_fsm_find(s, a, rc, &why)) continue;
                const char *e = js_fsm_explain(s, a, rc, why, buf, sizeof buf);
                assert_ptr_equal(e, buf);
                assert_true(strlen(e) > 0);
                snprintf(need, sizeof need, "stage %s", js_fsm_stage_name(s));
                assert_non_null(strstr(e, need));
                assert_int_equal(strncmp(e, js_fsm_act_name(a), strlen(js_fsm_act_name(a))), 0);
                if (why == JS_FSM_FORBIDDEN) {
                    assert_non_null(strstr(e, js_fsm_role_name(rc)));
                    for (size_t j = 0; j < NROLES; j++) {
                        const char *only = strstr(e, "(only ");
                        assert_non_null(only);
                        int allowed = js_fsm_find(s, a, s_roles[j], NULL) != NULL;
                        int named = strstr(only, js_fsm_role_name(s_roles[j])) != NULL;
                        assert_int_equal(allowed, named);
                    }
                } else {
                    const char *there = strstr(e, "(allowed there: ");
                    assert_non_null(there);
                    there += strlen("(allowed there: ");
                    int any = 0;
                    for (int b = 1; b < JS_ACT_MAX; b++) {
                        int allowed = js_fsm_find(s, b, rc, NULL) != NULL;
                        any |= allowed;
                        /* the names as a comma list: match whole items */
                        char item[64];
                        snprintf(item, sizeof item, "%s", js_fsm_act_name(b));
                        int named = 0;
                        for (const char *p = there; (p = strstr(p, item)) != NULL; p++) {
                            char after = p[strlen(item)];
                            if ((p == there || p[-1] == ' ') && (after == ',' || after == ')')) named = 1;
                        }
                        if (strcmp(item, "?") != 0) assert_int_equal(allowed, named);
                    }
                    if (!any) assert_non_null(strstr(there, "nothing)"));
                }
            }
    /* a short buffer is cut, never overrun */
    char small[16];
    memset(small, 'x', sizeof small);
    js_fsm_explain(CLOSED, JS_ACT_ACCEPT, JS_RC_LEAD, JS_FSM_NOT_ALLOWED, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

/* Names: every action round-trips, unknown names are 0, every stage and
 * role has a name. */
static void test_names(void **st) {
    (void)st;
    int named = 0;
    for (int a = 0; a < JS_ACT_MAX; a++) {
        const char *nm = js_fsm_act_name(a);
        assert_non_null(nm);
        if (strcmp(nm, "?") == 0) {
            size_t n;
            const js_fsm_row_t *rows = js_fsm_rows(&n);
            for (size_t i = 0; i < n; i++) assert_int_not_equal(rows[i].act, a);
            continue;
        }
        assert_int_equal(js_fsm_act_parse(nm), a);
        named++;
    }
    assert_int_equal(named, 19); /* 1..8, 11..15, 21..26 */
    assert_int_equal(js_fsm_act_parse("?"), 0);
    assert_int_equal(js_fsm_act_parse(""), 0);
    assert_int_equal(js_fsm_act_parse("Accept"), 0);
    assert_int_equal(js_fsm_act_parse("accepted"), 0);
    assert_string_equal(js_fsm_act_name(-1), "?");
    assert_string_equal(js_fsm_act_name(JS_ACT_MAX), "?");
    assert_string_equal(js_fsm_act_name(JS_ACT_PARTNER_ACK), "partner_ack");
    for (int s = 0; s < NSTAGES; s++) assert_string_not_equal(js_fsm_stage_name(s), "?");
    assert_string_equal(js_fsm_stage_name(JIESU__V1__STAGE__STAGE_RETURN_REVIEW), "return_review");
    assert_string_equal(js_fsm_stage_name(JIESU__V1__STAGE__STAGE_TRANSFERRING), "transferring");
    assert_string_equal(js_fsm_stage_name(NSTAGES), "?");
    assert_string_equal(js_fsm_stage_name(-1), "?");
    /* the stage names are the wire enum's, lower case, without the prefix */
    for (int s = 0; s < NSTAGES; s++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&jiesu__v1__stage__descriptor, s);
        assert_non_null(v);
        char want[64];
        size_t i = 0;
        for (const char *p = v->name + strlen("STAGE_"); *p && i + 1 < sizeof want; p++) want[i++] = (char)tolower(*p);
        want[i] = '\0';
        assert_string_equal(js_fsm_stage_name(s), want);
    }
    for (size_t k = 0; k < NROLES; k++) assert_string_not_equal(js_fsm_role_name(s_roles[k]), "?");
    assert_string_equal(js_fsm_role_name(JS_RC_LEAD | JS_RC_ASSIST), "?");
    assert_string_equal(js_fsm_role_name(0), "?");
}

/* Unit actions are jiesu.v1.UnitActionKind, reviews 10 + ReviewKind: the
 * numbering the dispatcher converts with. */
static void test_numbering(void **st) {
    (void)st;
    assert_int_equal(JS_ACT_ACCEPT, JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_ACCEPT);
    assert_int_equal(JS_ACT_COMPLETE, JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_COMPLETE);
    assert_int_equal(JS_ACT_RETURN, JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_RETURN);
    assert_int_equal(JS_ACT_APPROVE, 10 + JIESU__V1__REVIEW_KIND__REVIEW_KIND_APPROVE);
    assert_int_equal(JS_ACT_CLOSE, 10 + JIESU__V1__REVIEW_KIND__REVIEW_KIND_CLOSE);
    assert_int_equal(JS_ACT_REOPEN, 10 + JIESU__V1__REVIEW_KIND__REVIEW_KIND_REOPEN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_matches_rows), cmocka_unit_test(test_rows_well_formed),
        cmocka_unit_test(test_no_row_for_stranger), cmocka_unit_test(test_prev_stages_are_saved),
        cmocka_unit_test(test_terminal_stages), cmocka_unit_test(test_events),
        cmocka_unit_test(test_explain), cmocka_unit_test(test_names),
        cmocka_unit_test(test_numbering),
    };
    return cmocka_run_group_tests_name("fsm transition table", tests, NULL, NULL);
}
