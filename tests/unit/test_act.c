/* test_act.c -- the dispatcher's pure core (services/dispatcher/act.h) on the
 * shipped sample city (青川市, config/dispatch), the real rule profiles
 * (config/profiles) and the real calendar (config/holidays), with orders
 * built in memory at fixed moments across National Day 2025 (worked Sunday
 * 28 Sep, holiday 1..8 Oct, worked Saturday 11 Oct) and into 2027 (whose
 * schedule is not published: provisional).
 *
 * Each order lives as the service keeps it: packed bytes plus the hash's
 * stage, version, saved stage, assignment map, g: and f: fields. Every action
 * unpacks a fresh copy (a refused action may leave its copy half changed),
 * and a success is stored the way jiesu_act stores it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../services/dispatcher/act.h"
#include "calendar.h"
#include "clock.h"
#include "timer.h"

/* ---- names ---------------------------------------------------------------- */

#define LEAD   JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD
#define ASSIST JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_ASSIST
#define COPY   JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COPY
#define COORD  JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COORDINATE

#define CK_R JIESU__V1__CLOCK_KIND__CLOCK_KIND_RESPONSE
#define CK_H JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING
#define CK_A JIESU__V1__CLOCK_KIND__CLOCK_KIND_ASSIST
#define CK_C JIESU__V1__CLOCK_KIND__CLOCK_KIND_CALLBACK

#define EV_START  JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_START
#define EV_PAUSE  JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_PAUSE
#define EV_RESUME JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_RESUME
#define EV_STOP   JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_STOP
#define EV_RESET  JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_RESET
#define EV_EXTEND JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_EXTEND

#define ST_CLASSIFIED JIESU__V1__STAGE__STAGE_CLASSIFIED
#define ST_MANUAL     JIESU__V1__STAGE__STAGE_MANUAL
#define ST_DISPATCHED JIESU__V1__STAGE__STAGE_DISPATCHED
#define ST_ACCEPTED   JIESU__V1__STAGE__STAGE_ACCEPTED
#define ST_RETURN     JIESU__V1__STAGE__STAGE_RETURN_REVIEW
#define ST_EXTENSION  JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW
#define ST_CONSULT    JIESU__V1__STAGE__STAGE_CONSULTATION
#define ST_COMPLETION JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW
#define ST_CALLBACK   JIESU__V1__STAGE__STAGE_CALLBACK
#define ST_CLOSED     JIESU__V1__STAGE__STAGE_CLOSED
#define ST_TRANSFERRED JIESU__V1__STAGE__STAGE_TRANSFERRED
#define ST_ESCALATED  JIESU__V1__STAGE__STAGE_ESCALATED
#define ST_TRANSFERRING JIESU__V1__STAGE__STAGE_TRANSFERRING
#define NSTAGES 15

#define T_REPORT    JIESU__V1__ORDER_TYPE__ORDER_TYPE_REPORT
#define T_COMPLAINT JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT

#define WD JS_LIMIT_WORKING_DAYS
#define HOURS JS_LIMIT_HOURS
#define H JS_CAL_HOUR_MS

/* Order texts of the sample city (tests/unit/test_decide.c has their decisions). */
#define ILLEGAL_BUILD "鼓楼大街钟楼巷23号有住户在楼顶加盖彩钢房，属于违章建筑，希望尽快处理" /* cx-015 */
#define LEGACY "兰亭苑小区的产权问题属于历史遗留，多年未解决，多个部门推诿"             /* cx-025: consult */
#define ABROAD "我在一家超市买到过期食品，商家拒绝退款"                               /* at 临江市: partner */

#define LEAD_U   "unit:cj-gulou"
#define ASSIST_U "unit:city-urban"
#define COPY_U   "unit:cj-gov"
#define STRANGER "unit:city-water"

static int64_t at(int y, int m, int d, int hh, int mi) { return js_cal_local_ms(y, m, d, hh, mi, 0); }

static const char *iso(int64_t ms) {
    static char buf[8][48];
    static int k;
    char *b = buf[k++ % 8];
    js_cal_format(ms, b, 48);
    return b;
}

/* ---- fixture -------------------------------------------------------------- */

typedef struct fx {
    dsp_ref_t ref;
    dsp_profile_t bj, zs;
    js_clock_conf_t clk;
    act_ctx_t cbj, czs;
    js_arena_t *a;
} fx_t;

static fx_t *F;

static int setup(void **st) {
    fx_t *f = calloc(1, sizeof *f);
    dsp_problems_t pr = {0};
    dsp_paths_t paths = {"config/dispatch/catalog.tsv", "config/dispatch/gazetteer.tsv", "config/dispatch/units.tsv"};
    if (dsp_ref_load(&f->ref, &paths, &pr) < 0 || dsp_profile_load_named(&f->bj, "config/profiles", "beijing", &pr) < 0 ||
        dsp_profile_load_named(&f->zs, "config/profiles", "zhongshan", &pr) < 0) {
        for (size_t i = 0; i < pr.n; i++) fprintf(stderr, "%s\n", pr.v[i]);
        return -1;
    }
    dsp_problems_free(&pr);
    char err[256];
    f->clk.cal = js_cal_new();
    if (js_cal_load_dir(f->clk.cal, "config/holidays", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    f->clk.buckets = 16;
    f->clk.nfractions = js_timer_parse_fractions("0.5,0.8", f->clk.fractions, JS_TIMER_MAX_FRACTIONS);
    f->clk.nbefore = js_timer_parse_before("4", f->clk.before_h, JS_TIMER_MAX_BEFORE);
    f->cbj = (act_ctx_t){&f->clk, &f->ref, &f->bj};
    f->czs = (act_ctx_t){&f->clk, &f->ref, &f->zs};
    f->a = js_arena_new(1 << 16);
    *st = F = f;
    return 0;
}

static int teardown(void **st) {
    fx_t *f = *st;
    js_arena_destroy(&f->a);
    js_clock_conf_free(&f->clk);
    dsp_ref_free(&f->ref);
    free(f);
    return 0;
}

static int per_test(void **st) {
    (void)st;
    js_arena_reset(F->a);
    return 0;
}

/* ---- an order as the store keeps it ---------------------------------------- */

#define MAX_HASH 64

typedef struct sim {
    const act_ctx_t *c;
    const char *id;
    uint8_t *blob; /* the stored Order */
    size_t len;
    Jiesu__V1__Order *o; /* the last stored state, decoded */
    int stage, saved;
    int64_t version;
    const char *asg;
    const char *hf[2 * MAX_HASH]; /* g: fields, name value ... */
    int nhf;
    const char *marks[MAX_HASH]; /* f: fields (fired timers) */
    size_t nmarks;
    act_out_t out; /* of the last action, applied or refused */
    int64_t gen;   /* the generation the last action had to use */
} sim_t;

static void s_store(sim_t *m, Jiesu__V1__Order *o) {
    o->stage = (Jiesu__V1__Stage)m->stage;
    o->version = m->version;
    m->len = jiesu__v1__order__get_packed_size(o);
    m->blob = js_arena_alloc(F->a, m->len + 1);
    jiesu__v1__order__pack(o, m->blob);
    m->o = (Jiesu__V1__Order *)protobuf_c_message_unpack(&jiesu__v1__order__descriptor, js_arena_allocator(F->a),
                                                         m->len, m->blob);
    assert_non_null(m->o);
}

static Jiesu__V1__Order *s_load(sim_t *m) {
    Jiesu__V1__Order *o = (Jiesu__V1__Order *)protobuf_c_message_unpack(
        &jiesu__v1__order__descriptor, js_arena_allocator(F->a), m->len, m->blob);
    assert_non_null(o);
    return o;
}

static const char *s_hash(const sim_t *m, const char *name) {
    for (int i = 0; i < m->nhf; i++)
        if (strcmp(m->hf[2 * i], name) == 0) return m->hf[2 * i + 1];
    return NULL;
}

static void s_hash_set(sim_t *m, const char *name, const char *value) {
    for (int i = 0; i < m->nhf; i++)
        if (strcmp(m->hf[2 * i], name) == 0) {
            m->hf[2 * i + 1] = value;
            return;
        }
    assert_true(m->nhf < MAX_HASH);
    m->hf[2 * m->nhf] = name;
    m->hf[2 * m->nhf + 1] = value;
    m->nhf++;
}

/* A timer fired: the deadline-timer's HSETNX f:KIND|UNIT|WHAT|EPOCH. */
static void s_fired(sim_t *m, const char *mark) {
    assert_true(m->nmarks < MAX_HASH);
    m->marks[m->nmarks++] = js_arena_printf(F->a, "f:%s", mark);
}

static int s_seq;

/* A classified order: topic, type, text and address, received at t. */
static sim_t *s_order(const act_ctx_t *c, const char *topic, int type, const char *content, const char *address,
                      int64_t t) {
    sim_t *m = js_arena_calloc(F->a, sizeof *m);
    m->c = c;
    m->id = js_arena_printf(F->a, "01K6ACTTEST%015d", ++s_seq);
    Jiesu__V1__Order *o = js_arena_alloc(F->a, sizeof *o);
    jiesu__v1__order__init(o);
    Jiesu__V1__Location *loc = js_arena_alloc(F->a, sizeof *loc);
    jiesu__v1__location__init(loc);
    loc->address = (char *)(address ? address : "");
    o->id = (char *)m->id;
    o->topic = (char *)topic;
    o->type = (Jiesu__V1__OrderType)type;
    o->urgency = JIESU__V1__URGENCY__URGENCY_NORMAL;
    o->title = "";
    o->content = (char *)content;
    o->location = loc;
    o->received_ms = t - 60000;
    m->stage = ST_CLASSIFIED;
    m->version = 3;
    s_store(m, o);
    return m;
}

/* The dispatcher's step: decide, act_first_dispatch, store (the pipeline
 * bumps the version; the first dispatch writes no generations). */
static int s_dispatch(sim_t *m, int64_t now) {
    Jiesu__V1__Order *o = s_load(m);
    dsp_result_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(dsp_decide(m->c->ref, m->c->prof, o, NULL, 0, now, &d), 0);
    m->gen = m->version + 1;
    int rc = act_first_dispatch(m->c, F->a, o, &d, now, &m->out);
    if (rc < 0) return rc;
    assert_int_equal(m->out.nfields, 0);
    m->stage = m->out.stage;
    m->version++;
    if (m->out.asg) m->asg = m->out.asg;
    s_store(m, o);
    return 0;
}

static sim_t *s_dispatched(const act_ctx_t *c, const char *content, const char *address, int64_t t) {
    sim_t *m = s_order(c, "城乡建设", T_REPORT, content, address, t);
    assert_int_equal(s_dispatch(m, t), 0);
    return m;
}

/* One action with a fixed now: on success stored as jiesu_act stores it. */
static int s_act(sim_t *m, int act, const char *actor, const Jiesu__V1__UnitAction *ua,
                 const Jiesu__V1__ReviewDecision *rd, int64_t now) {
    Jiesu__V1__Order *o = s_load(m);
    act_req_t req = {.act = act, .actor = actor, .actor_name = "tester", .ua = ua, .rd = rd};
    m->gen = m->version + 1;
    int rc = act_apply(m->c, F->a, o, m->stage, m->saved, m->version, m->marks, m->nmarks, &req, now, &m->out);
    if (rc < 0) {
        assert_int_equal(rc, -1);
        assert_true(m->out.code[0]);
        assert_true(m->out.err[0]);
        return rc;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(m->out.rc, act_role_class(o, actor));
    const js_fsm_row_t *row = js_fsm_find(m->stage, act, m->out.rc, NULL);
    assert_non_null(row);
    if (row->fx & JS_FX_SAVE_PREV) m->saved = m->stage;
    m->stage = m->out.stage;
    m->version++;
    if (m->out.asg) m->asg = m->out.asg;
    for (int i = 0; i < m->out.nfields; i++) s_hash_set(m, m->out.fields[2 * i], m->out.fields[2 * i + 1]);
    act_history(F->a, o, m->out.event, now, "EVT", &req, m->out.note);
    s_store(m, o);
    return 0;
}

static Jiesu__V1__UnitAction *s_ua(int act) {
    Jiesu__V1__UnitAction *ua = js_arena_alloc(F->a, sizeof *ua);
    jiesu__v1__unit_action__init(ua);
    ua->kind = (Jiesu__V1__UnitActionKind)act;
    return ua;
}

static Jiesu__V1__ReviewDecision *s_rd(int act, const char *reason, const char *to) {
    Jiesu__V1__ReviewDecision *rd = js_arena_alloc(F->a, sizeof *rd);
    jiesu__v1__review_decision__init(rd);
    rd->kind = (Jiesu__V1__ReviewKind)(act - 10);
    rd->reason = (char *)(reason ? reason : "");
    if (to) {
        /* "a,b": the first leads */
        char *list = js_arena_strdup(F->a, to);
        size_t n = 1;
        for (const char *p = list; *p; p++) n += *p == ',';
        rd->assignments = js_arena_alloc(F->a, n * sizeof *rd->assignments);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            Jiesu__V1__Assignment *as = js_arena_alloc(F->a, sizeof *as);
            jiesu__v1__assignment__init(as);
            as->unit_id = tok;
            rd->assignments[rd->n_assignments++] = as;
        }
    }
    return rd;
}

/* A unit action with the usual texts. */
static int s_unit(sim_t *m, int act, const char *actor, const char *reason, int64_t now) {
    Jiesu__V1__UnitAction *ua = s_ua(act);
    ua->reason = (char *)(reason ? reason : "");
    if (act == JS_ACT_RETURN) ua->legal_basis = "《青川市接诉即办工作办法》第十七条";
    if (act == JS_ACT_COMPLETE) ua->answer = "已现场核查并拆除违建，答复如下……";
    if (act == JS_ACT_ESCALATE) ua->level = JIESU__V1__ESCALATION_LEVEL__ESCALATION_LEVEL_DISTRICT;
    return s_act(m, act, actor, ua, NULL, now);
}

static int s_review(sim_t *m, int act, const char *actor, const char *reason, const char *to, int64_t now) {
    return s_act(m, act, actor, NULL, s_rd(act, reason, to), now);
}

static int s_extend(sim_t *m, const char *actor, int amount, int unit, int64_t until, int64_t now) {
    Jiesu__V1__UnitAction *ua = s_ua(JS_ACT_EXTEND);
    ua->reason = "需协调产权单位，客观原因无法按期办结";
    if (amount) {
        ua->new_limit = js_arena_alloc(F->a, sizeof *ua->new_limit);
        jiesu__v1__limit__init(ua->new_limit);
        ua->new_limit->amount = amount;
        ua->new_limit->unit = (Jiesu__V1__LimitUnit)unit;
    }
    ua->until_ms = until;
    return s_act(m, JS_ACT_EXTEND, actor, ua, NULL, now);
}

/* The last action was refused with this code and a message containing want. */
static void s_refused(const sim_t *m, const char *code, const char *want) {
    if (strcmp(m->out.code, code) != 0 || (want && !strstr(m->out.err, want)))
        fprintf(stderr, "refusal: %s: %s (wanted %s: %s)\n", m->out.code, m->out.err, code, want ? want : "");
    assert_string_equal(m->out.code, code);
    if (want) assert_non_null(strstr(m->out.err, want));
}

/* A table refusal: exactly js_fsm_explain's words. */
static void s_table_refused(const sim_t *m, int act, unsigned rc, int why) {
    char buf[400];
    js_fsm_explain(m->stage, act, rc, why, buf, sizeof buf);
    s_refused(m, why == JS_FSM_FORBIDDEN ? "forbidden" : "not_allowed", NULL);
    assert_string_equal(m->out.err, buf);
    assert_int_equal(m->out.rc, rc);
}

#define APPLY(x) do { if ((x) < 0) { fprintf(stderr, "%s:%d: refused %s: %s\n", __FILE__, __LINE__, m->out.code, m->out.err); fail(); } } while (0)
#define REFUSE(x) assert_int_equal((x), -1)

/* ---- looking at the result ------------------------------------------------ */

static Jiesu__V1__Clock *s_clock(const Jiesu__V1__Order *o, int kind, const char *unit) {
    Jiesu__V1__Clock *found = NULL;
    for (size_t i = 0; i < o->n_clocks; i++)
        if ((int)o->clocks[i]->kind == kind && strcmp(o->clocks[i]->unit_id, unit) == 0) {
            assert_null(found); /* one clock per kind and unit */
            found = o->clocks[i];
        }
    return found;
}

static Jiesu__V1__Assignment *s_asg(const Jiesu__V1__Order *o, const char *unit) {
    for (size_t i = 0; i < o->n_assignments; i++)
        if (strcmp(o->assignments[i]->unit_id, unit) == 0) return o->assignments[i];
    return NULL;
}

/* The clock's stored due moments are what js_clock_eval says of its events at
 * now; returns the state. */
static int s_eval(const Jiesu__V1__Clock *c, int64_t now, js_clock_result_t *res) {
    js_clock_event_t ev[64];
    int n = js_timer_clock_events(c, ev, 64);
    assert_true(n > 0);
    js_clock_result_t r;
    assert_int_equal(js_clock_eval(F->clk.cal, ev, (size_t)n, now, &r), 0);
    assert_int_equal(c->due_ms, r.due_ms);
    assert_int_equal(c->original_due_ms, r.original_due_ms);
    assert_int_equal(c->provisional, r.provisional);
    if (res) *res = r;
    return r.state;
}

/* Its event kinds, oldest first, and the times of the last one. */
static void s_events(const Jiesu__V1__Clock *c, int64_t last_t, int n, ...) {
    assert_non_null(c);
    if ((int)c->n_events != n) {
        fprintf(stderr, "clock %d|%s has %zu events:", c->kind, c->unit_id, c->n_events);
        for (size_t i = 0; i < c->n_events; i++) fprintf(stderr, " %d", c->events[i]->kind);
        fprintf(stderr, "\n");
    }
    assert_int_equal(c->n_events, n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) assert_int_equal(c->events[i]->kind, va_arg(ap, int));
    va_end(ap);
    assert_int_equal(c->events[n - 1]->time_ms, last_t);
    for (int i = 1; i < n; i++) assert_true(c->events[i]->time_ms >= c->events[i - 1]->time_ms);
}

static int64_t s_due(int64_t start, int amount, int unit, int *prov) {
    int64_t due;
    assert_int_equal(js_cal_due(F->clk.cal, start, amount, unit, &due, prov), 0);
    return due;
}

/* Every timer the last action returned: each member parses, belongs to this
 * order and its bucket, carries the action's generation, fires at its score,
 * belongs to a running clock; together they are exactly the plans of the
 * clocks the action changed (the g: fields, or every clock on a first
 * dispatch), fired marks left out. Returns how many. */
static int s_check_timers(const sim_t *m, int64_t now, int first_dispatch) {
    const act_out_t *out = &m->out;
    int k = 0;
    if (!first_dispatch) {
        for (int i = 0; i < out->nfields; i++) {
            const char *name = out->fields[2 * i], *val = out->fields[2 * i + 1];
            assert_int_equal(strncmp(name, "g:", 2), 0);
            assert_int_equal(strtoll(val, NULL, 10), m->gen);
            char kind = name[2];
            assert_int_equal(name[3], '|');
            const Jiesu__V1__Clock *c = s_clock(m->o, js_timer_clock_kind(kind), name + 4);
            assert_non_null(c);
        }
    }
    for (int t = 0; t < out->ntimers; t++) {
        js_timer_t tm;
        const char *mem = out->timers[t].member;
        assert_int_equal(js_timer_parse(mem, strlen(mem), &tm), 0);
        assert_string_equal(tm.order, m->id);
        assert_int_equal(tm.gen, m->gen);
        assert_int_equal(tm.fire_ms, out->timers[t].fire_ms);
        assert_int_equal(out->timers[t].bucket, js_timer_bucket(m->id, F->clk.buckets));
        const Jiesu__V1__Clock *c = s_clock(m->o, js_timer_clock_kind(tm.kind), tm.unit);
        assert_non_null(c);
        assert_int_equal(s_eval(c, now, NULL), JS_CLOCK_RUNNING); /* nothing for paused or stopped clocks */
        assert_int_equal(tm.due_ms, c->due_ms);
        assert_int_equal(tm.provisional, c->provisional);
        char mark[160];
        assert_true(js_timer_mark_field(&tm, mark, sizeof mark) > 0);
        for (size_t i = 0; i < m->nmarks; i++) assert_string_not_equal(mark, m->marks[i]);
    }
    /* the same members, in the same order, as the planner gives */
    for (size_t i = 0; i < m->o->n_clocks; i++) {
        const Jiesu__V1__Clock *c = m->o->clocks[i];
        char g[128];
        js_timer_gen_field(js_timer_kind_char(c->kind), c->unit_id, g, sizeof g);
        int changed = first_dispatch;
        for (int f = 0; f < out->nfields; f++) changed |= strcmp(out->fields[2 * f], g) == 0;
        if (!changed) continue;
        js_timer_t plan[JS_TIMER_MAX_PLAN];
        char err[200];
        int n = js_timer_plan_clock(&F->clk, m->id, c, m->gen, now, m->marks, m->nmarks, plan, JS_TIMER_MAX_PLAN, err,
                                    sizeof err);
        assert_true(n >= 0);
        for (int p = 0; p < n; p++) {
            char mem[JS_TIMER_MEMBER_MAX + 1];
            assert_true(js_timer_format(&plan[p], mem, sizeof mem) > 0);
            int seen = 0;
            for (int t = 0; t < out->ntimers; t++) seen += strcmp(out->timers[t].member, mem) == 0;
            assert_int_equal(seen, 1);
            k++;
        }
    }
    assert_int_equal(k, out->ntimers);
    return out->ntimers;
}

/* The timer of clock KIND|UNIT for WHAT among the last action's, or NULL. */
static int s_timer(const sim_t *m, char kind, const char *unit, const char *what, js_timer_t *out) {
    for (int t = 0; t < m->out.ntimers; t++) {
        js_timer_t tm;
        const char *mem = m->out.timers[t].member;
        assert_int_equal(js_timer_parse(mem, strlen(mem), &tm), 0);
        if (tm.kind == kind && strcmp(tm.unit, unit) == 0 && strcmp(tm.what, what) == 0) {
            if (out) *out = tm;
            return 1;
        }
    }
    return 0;
}

static void s_gen_written(const sim_t *m, const char *field) {
    int seen = 0;
    for (int i = 0; i < m->out.nfields; i++)
        if (strcmp(m->out.fields[2 * i], field) == 0) {
            assert_int_equal(strtoll(m->out.fields[2 * i + 1], NULL, 10), m->gen);
            seen++;
        }
    if (seen != 1) fprintf(stderr, "gen field %s written %d times\n", field, seen);
    assert_int_equal(seen, 1);
}

/* ---- first dispatch --------------------------------------------------------- */

/* The day before National Day 2025, Beijing: a street lead, an assist with
 * its own limit, the district government copied; clocks counted over the
 * holiday and the worked Saturday. */
static void test_first_dispatch_before_national_day(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0);
    sim_t *m = s_order(&F->cbj, "城乡建设", T_REPORT, ILLEGAL_BUILD, NULL, t0);
    assert_int_equal(s_dispatch(m, t0), 0);
    const Jiesu__V1__Order *o = m->o;
    assert_int_equal(m->stage, ST_DISPATCHED);
    assert_string_equal(m->out.event, "jiesu.order.dispatched");
    assert_int_equal(m->out.rc, JS_RC_SYSTEM);
    assert_false(m->out.redrive);
    assert_false(m->out.provisional);
    assert_non_null(strstr(m->out.note, "cj-gulou"));
    assert_string_equal(m->out.asg, "cj-gulou=L city-urban=A cj-gov=C");
    assert_string_equal(o->profile, "beijing");
    assert_string_equal(o->catalog_item, "cx-015");
    assert_int_equal(o->disposition, JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH);
    assert_true(strlen(o->dispatch_reason) > 0);
    assert_null(o->pending);

    assert_int_equal(o->n_assignments, 3);
    const Jiesu__V1__Assignment *l = o->assignments[0], *as = s_asg(o, "city-urban"), *cp = s_asg(o, "cj-gov");
    assert_string_equal(l->unit_id, "cj-gulou");
    assert_int_equal(l->role, LEAD);
    assert_int_equal(l->limit->amount, 15);
    assert_int_equal(l->limit->unit, WD);
    assert_int_equal(l->response_limit->amount, 24);
    assert_int_equal(l->response_limit->unit, HOURS);
    assert_int_equal(l->assigned_ms, t0);
    assert_int_equal(l->first_receipt_ms, t0);
    assert_string_equal(l->office, "综合行政执法队");
    assert_false(l->fixed);
    assert_non_null(as);
    assert_int_equal(as->role, ASSIST);
    assert_string_equal(as->reports_to, "cj-gulou");
    assert_int_equal(as->limit->amount, 10);
    assert_non_null(cp);
    assert_int_equal(cp->role, COPY);
    assert_null(cp->limit);
    assert_int_equal(cp->due_ms, 0);

    /* 15 working days from the 30th: 9, 10, 11 (worked Saturday), 13 ... 28 October */
    const Jiesu__V1__Clock *h = s_clock(o, CK_H, "cj-gulou"), *r = s_clock(o, CK_R, "cj-gulou"),
                           *a = s_clock(o, CK_A, "city-urban");
    assert_int_equal(o->n_clocks, 3); /* a copy has no clock */
    s_events(h, t0, 1, EV_START);
    s_events(r, t0, 1, EV_START);
    s_events(a, t0, 1, EV_START);
    assert_int_equal(h->events[0]->limit->amount, 15);
    assert_int_equal(h->due_ms, at(2025, 10, 28, 23, 59) + 59000);
    assert_int_equal(h->due_ms, s_due(t0, 15, WD, NULL));
    assert_int_equal(h->original_due_ms, h->due_ms);
    assert_int_equal(r->due_ms, t0 + 24 * H);
    assert_int_equal(a->due_ms, at(2025, 10, 21, 23, 59) + 59000);
    assert_int_equal(s_eval(h, t0, NULL), JS_CLOCK_RUNNING);
    assert_int_equal(s_eval(r, t0, NULL), JS_CLOCK_RUNNING);
    assert_int_equal(s_eval(a, t0, NULL), JS_CLOCK_RUNNING);
    assert_false(h->provisional);
    /* the assignments show their clocks' dues */
    assert_int_equal(l->due_ms, h->due_ms);
    assert_int_equal(l->response_due_ms, r->due_ms);
    assert_int_equal(as->due_ms, a->due_ms);

    /* f0.5, f0.8, b4h and due for each of the three clocks, generation 4 */
    assert_int_equal(s_check_timers(m, t0, 1), 12);
    js_timer_t tm;
    assert_true(s_timer(m, 'h', "cj-gulou", "due", &tm));
    assert_int_equal(tm.fire_ms, h->due_ms + 1);
    assert_string_equal(tm.epoch, "0.0");
    assert_int_equal(tm.amount, 15);
    assert_int_equal(tm.limit_unit, WD);
    assert_int_equal(tm.gen, 4);
    assert_true(s_timer(m, 'h', "cj-gulou", "b4h", &tm));
    assert_int_equal(tm.fire_ms, h->due_ms - 4 * H);
    assert_true(s_timer(m, 'r', "cj-gulou", "f0.5", &tm));
    assert_int_equal(tm.fire_ms, t0 + 12 * H);
    assert_string_equal(tm.epoch, "0");
    /* the working-time share: half of 15 working days is 7.5 of them, so
     * midday of the 8th working day (17 October) */
    assert_true(s_timer(m, 'h', "cj-gulou", "f0.5", &tm));
    assert_int_equal(tm.fire_ms, at(2025, 10, 17, 12, 0));
    assert_false(s_timer(m, 'a', "cj-gov", "due", NULL));

    /* Zhongshan: no district copy */
    sim_t *z = s_order(&F->czs, "城乡建设", T_REPORT, ILLEGAL_BUILD, NULL, t0);
    assert_int_equal(s_dispatch(z, t0), 0);
    assert_string_equal(z->out.asg, "cj-gulou=L city-urban=A");
    assert_string_equal(z->o->profile, "zhongshan");
}

/* A receipt on the worked Saturday after the holiday. */
static void test_first_dispatch_worked_saturday(void **st) {
    (void)st;
    int64_t t0 = at(2025, 10, 11, 10, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou");
    assert_int_equal(h->due_ms, at(2025, 10, 31, 23, 59) + 59000);
    assert_int_equal(h->due_ms, s_due(t0, 15, WD, NULL));
    s_eval(h, t0, NULL);
    s_check_timers(m, t0, 1);
}

/* Consultation and partner: no units, no clocks, no timers. */
static void test_first_dispatch_consult_and_partner(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0);
    sim_t *m = s_order(&F->cbj, "城乡建设", T_COMPLAINT, LEGACY, NULL, t0);
    assert_int_equal(s_dispatch(m, t0), 0);
    assert_int_equal(m->stage, ST_CONSULT);
    assert_string_equal(m->out.event, "jiesu.order.consultation");
    assert_int_equal(m->o->disposition, JIESU__V1__DISPOSITION__DISPOSITION_CONSULTATION);
    assert_string_equal(m->o->catalog_item, "cx-025");
    assert_int_equal(m->o->n_assignments, 0);
    assert_int_equal(m->o->n_clocks, 0);
    assert_int_equal(m->out.ntimers, 0);
    assert_null(m->out.asg);
    assert_false(m->out.redrive);

    sim_t *p = s_order(&F->cbj, "商贸旅游", T_COMPLAINT, ABROAD, "临江市江口区滨河路18号", t0);
    assert_int_equal(s_dispatch(p, t0), 0);
    assert_int_equal(p->stage, ST_TRANSFERRING);
    assert_string_equal(p->out.event, "jiesu.order.transferring");
    assert_true(p->out.redrive);
    assert_string_equal(p->o->partner_id, "lj12345");
    assert_int_equal(p->o->disposition, JIESU__V1__DISPOSITION__DISPOSITION_PARTNER);
    assert_int_equal(p->o->n_clocks, 0);
    assert_int_equal(p->out.ntimers, 0);
    /* the partner's acknowledgement is the partner sender's own step */
    REFUSE(s_review(p, JS_ACT_PARTNER_ACK, "system", NULL, NULL, t0 + H));
    s_refused(p, "bad_request", "service's own step");
    REFUSE(s_review(p, JS_ACT_PARTNER_ACK, "operator", NULL, NULL, t0 + H));
    s_table_refused(p, JS_ACT_PARTNER_ACK, JS_RC_OPERATOR, JS_FSM_FORBIDDEN);
}

/* A due moment in 2027, whose file is empty: provisional on the clock, the
 * assignment, the timers and the action. */
static void test_provisional_2027(void **st) {
    (void)st;
    int64_t t0 = at(2026, 12, 25, 10, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou"), *r = s_clock(m->o, CK_R, "cj-gulou");
    int prov = 0;
    assert_int_equal(h->due_ms, s_due(t0, 15, WD, &prov));
    assert_int_equal(prov, 1);
    assert_int_equal(h->due_ms, at(2027, 1, 15, 23, 59) + 59000);
    assert_true(h->provisional);
    assert_false(r->provisional); /* hours never consult the calendar */
    assert_true(s_clock(m->o, CK_A, "city-urban")->provisional);
    assert_true(m->o->assignments[0]->provisional);
    assert_true(m->out.provisional);
    s_eval(h, t0, NULL);
    s_check_timers(m, t0, 1);
    js_timer_t tm;
    assert_true(s_timer(m, 'h', "cj-gulou", "due", &tm));
    assert_true(tm.provisional);
    assert_true(s_timer(m, 'r', "cj-gulou", "due", &tm));
    assert_false(tm.provisional);

    /* Completed before the year ends: every clock stopped, the callback's 2
     * working days end in 2026, nothing provisional is left. */
    int64_t t1 = at(2026, 12, 28, 10, 0);
    APPLY(s_unit(m, JS_ACT_COMPLETE, LEAD_U, NULL, t1));
    assert_true(m->out.provisional); /* the paused clocks still count through 2027 */
    APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t1 + H));
    assert_int_equal(m->stage, ST_CALLBACK);
    const Jiesu__V1__Clock *cb = s_clock(m->o, CK_C, "");
    assert_non_null(cb);
    assert_int_equal(cb->due_ms, at(2026, 12, 30, 23, 59) + 59000);
    assert_false(cb->provisional);
    assert_false(m->out.provisional);
    s_check_timers(m, t1 + H, 0);
}

/* ---- unit actions and roles ------------------------------------------------ */

static void test_accept_contact_note_report(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);

    /* who may not */
    REFUSE(s_unit(m, JS_ACT_ACCEPT, STRANGER, NULL, t0 + H));
    s_table_refused(m, JS_ACT_ACCEPT, JS_RC_STRANGER, JS_FSM_FORBIDDEN);
    REFUSE(s_unit(m, JS_ACT_NOTE, STRANGER, "我们来看看", t0 + H));
    s_table_refused(m, JS_ACT_NOTE, JS_RC_STRANGER, JS_FSM_FORBIDDEN);
    REFUSE(s_unit(m, JS_ACT_ACCEPT, COPY_U, NULL, t0 + H));
    s_table_refused(m, JS_ACT_ACCEPT, JS_RC_COPY, JS_FSM_FORBIDDEN);
    assert_non_null(strstr(m->out.err, "accept in stage dispatched"));
    REFUSE(s_unit(m, JS_ACT_ACCEPT, "unit:", NULL, t0 + H));
    s_refused(m, "bad_request", "unknown role");
    REFUSE(s_unit(m, JS_ACT_ACCEPT, "requester", NULL, t0 + H));
    s_refused(m, "bad_request", "unknown role");
    REFUSE(s_act(m, JS_ACT_ACCEPT, LEAD_U, NULL, NULL, t0 + H));
    s_refused(m, "bad_request", "comes as a UnitAction");
    REFUSE(s_act(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t0 + H));
    s_refused(m, "bad_request", "comes as a ReviewDecision");
    REFUSE(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t0 + H));
    s_table_refused(m, JS_ACT_APPROVE, JS_RC_REVIEWER, JS_FSM_NOT_ALLOWED);
    REFUSE(s_unit(m, JS_ACT_REPORT, LEAD_U, "已处理", t0 + H));
    s_table_refused(m, JS_ACT_REPORT, JS_RC_LEAD, JS_FSM_FORBIDDEN);
    assert_int_equal(m->version, 4); /* nothing stored */

    /* accept: the lead moves the order, an assist only itself */
    int64_t t1 = t0 + H;
    APPLY(s_unit(m, JS_ACT_ACCEPT, LEAD_U, NULL, t1));
    assert_int_equal(m->stage, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.accepted");
    assert_int_equal(m->out.rc, JS_RC_LEAD);
    assert_int_equal(s_asg(m->o, "cj-gulou")->accepted_ms, t1);
    assert_int_equal(m->out.nfields, 0);
    assert_int_equal(m->out.ntimers, 0);
    assert_null(m->out.asg);
    REFUSE(s_unit(m, JS_ACT_ACCEPT, LEAD_U, NULL, t1 + H));
    s_table_refused(m, JS_ACT_ACCEPT, JS_RC_LEAD, JS_FSM_FORBIDDEN);
    APPLY(s_unit(m, JS_ACT_ACCEPT, ASSIST_U, NULL, t1 + H));
    assert_int_equal(m->stage, ST_ACCEPTED);
    assert_int_equal(s_asg(m->o, "city-urban")->accepted_ms, t1 + H);
    REFUSE(s_unit(m, JS_ACT_ACCEPT, ASSIST_U, NULL, t1 + 2 * H));
    s_refused(m, "not_allowed", "accepted the order already");
    REFUSE(s_unit(m, JS_ACT_ACCEPT, COPY_U, NULL, t1 + H));
    s_table_refused(m, JS_ACT_ACCEPT, JS_RC_COPY, JS_FSM_FORBIDDEN);

    /* contact stops the response clock: a new generation, no timers */
    int64_t t2 = t0 + 3 * H;
    APPLY(s_unit(m, JS_ACT_CONTACT, LEAD_U, "已电话联系诉求人", t2));
    assert_string_equal(m->out.event, "jiesu.order.contacted");
    assert_int_equal(m->stage, ST_ACCEPTED);
    const Jiesu__V1__Clock *r = s_clock(m->o, CK_R, "cj-gulou");
    s_events(r, t2, 2, EV_START, EV_STOP);
    assert_int_equal(s_eval(r, t2, NULL), JS_CLOCK_STOPPED);
    assert_int_equal(m->out.nfields, 1);
    s_gen_written(m, "g:r|cj-gulou");
    assert_string_equal(s_hash(m, "g:r|cj-gulou"), "7");
    assert_int_equal(s_check_timers(m, t2, 0), 0);
    assert_int_equal(s_asg(m->o, "cj-gulou")->contacted_ms, t2);
    assert_int_equal(s_asg(m->o, "cj-gulou")->response_due_ms, t0 + 24 * H);
    REFUSE(s_unit(m, JS_ACT_CONTACT, LEAD_U, NULL, t2 + H));
    s_refused(m, "not_allowed", "reached the requester already");
    /* an assist has no response clock of its own: contact only records it */
    APPLY(s_unit(m, JS_ACT_CONTACT, ASSIST_U, NULL, t2 + H));
    assert_int_equal(m->out.nfields, 0);
    REFUSE(s_unit(m, JS_ACT_CONTACT, COPY_U, NULL, t2 + H));
    s_table_refused(m, JS_ACT_CONTACT, JS_RC_COPY, JS_FSM_FORBIDDEN);

    /* notes: everyone on the order, with text */
    APPLY(s_unit(m, JS_ACT_NOTE, COPY_U, "区政府已关注", t2 + 2 * H));
    assert_string_equal(m->out.event, "jiesu.order.noted");
    assert_non_null(strstr(m->out.note, "区政府已关注"));
    assert_int_equal(m->out.nfields, 0);
    assert_int_equal(m->out.ntimers, 0);
    REFUSE(s_unit(m, JS_ACT_NOTE, COPY_U, "", t2 + 2 * H));
    s_refused(m, "bad_request", "needs its text");
    REFUSE(s_unit(m, JS_ACT_NOTE, LEAD_U, NULL, t2 + 2 * H));
    s_refused(m, "bad_request", "needs its text");
    APPLY(s_unit(m, JS_ACT_NOTE, "operator", "诉求人来电催办", t2 + 2 * H));
    assert_non_null(strstr(m->out.note, "诉求人来电催办"));
    REFUSE(s_unit(m, JS_ACT_NOTE, "operator", NULL, t2 + 2 * H));
    s_refused(m, "bad_request", "needs its text");

    /* an assist reports to its lead: its own clock stops */
    int64_t t3 = t0 + 5 * H;
    REFUSE(s_unit(m, JS_ACT_REPORT, ASSIST_U, NULL, t3));
    s_refused(m, "bad_request", "report needs its text");
    APPLY(s_unit(m, JS_ACT_REPORT, ASSIST_U, "已配合现场执法", t3));
    assert_string_equal(m->out.event, "jiesu.order.reported");
    const Jiesu__V1__Clock *a = s_clock(m->o, CK_A, "city-urban");
    s_events(a, t3, 2, EV_START, EV_STOP);
    assert_int_equal(s_eval(a, t3, NULL), JS_CLOCK_STOPPED);
    s_gen_written(m, "g:a|city-urban");
    assert_int_equal(s_check_timers(m, t3, 0), 0);
    assert_int_equal(s_asg(m->o, "city-urban")->reported_ms, t3);
    assert_non_null(strstr(m->out.note, "cj-gulou"));
    REFUSE(s_unit(m, JS_ACT_REPORT, ASSIST_U, "again", t3 + H));
    s_refused(m, "not_allowed", "reported already");
    /* the handling clock never moved */
    s_events(s_clock(m->o, CK_H, "cj-gulou"), t0, 1, EV_START);
    /* the history names every actor */
    const Jiesu__V1__HistoryEntry *last = m->o->history[m->o->n_history - 1];
    assert_string_equal(last->type, "jiesu.order.reported");
    assert_int_equal(last->actor->role, JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT);
    assert_string_equal(last->actor->unit_id, "city-urban");
    assert_string_equal(last->actor->name, "tester");
}

static void test_escalate_and_coordination(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    Jiesu__V1__UnitAction *ua = s_ua(JS_ACT_ESCALATE);
    ua->reason = "涉及多个部门";
    REFUSE(s_act(m, JS_ACT_ESCALATE, LEAD_U, ua, NULL, t0 + H));
    s_refused(m, "bad_request", "--level");
    ua->level = (Jiesu__V1__EscalationLevel)9;
    REFUSE(s_act(m, JS_ACT_ESCALATE, LEAD_U, ua, NULL, t0 + H));
    s_refused(m, "bad_request", "--level");
    ua->level = JIESU__V1__ESCALATION_LEVEL__ESCALATION_LEVEL_CITY;
    ua->reason = "";
    REFUSE(s_act(m, JS_ACT_ESCALATE, LEAD_U, ua, NULL, t0 + H));
    s_refused(m, "bad_request", "--reason");
    ua->reason = "涉及多个部门";
    REFUSE(s_act(m, JS_ACT_ESCALATE, ASSIST_U, ua, NULL, t0 + H));
    s_table_refused(m, JS_ACT_ESCALATE, JS_RC_ASSIST, JS_FSM_FORBIDDEN);
    APPLY(s_act(m, JS_ACT_ESCALATE, LEAD_U, ua, NULL, t0 + H));
    assert_int_equal(m->stage, ST_ESCALATED);
    assert_string_equal(m->out.event, "jiesu.order.escalated");
    assert_int_equal(m->o->escalation, JIESU__V1__ESCALATION_LEVEL__ESCALATION_LEVEL_CITY);
    assert_non_null(strstr(m->out.note, "city government"));
    assert_int_equal(m->out.ntimers, 0);

    /* escalated: no return, no second escalation; the units go on */
    REFUSE(s_unit(m, JS_ACT_RETURN, LEAD_U, "不属于我们", t0 + 2 * H));
    s_table_refused(m, JS_ACT_RETURN, JS_RC_LEAD, JS_FSM_NOT_ALLOWED);
    REFUSE(s_act(m, JS_ACT_ESCALATE, LEAD_U, ua, NULL, t0 + 2 * H));
    s_table_refused(m, JS_ACT_ESCALATE, JS_RC_LEAD, JS_FSM_NOT_ALLOWED);
    APPLY(s_unit(m, JS_ACT_NOTE, LEAD_U, "等待市里协调", t0 + 2 * H));
    assert_int_equal(m->stage, ST_ESCALATED);

    /* the coordinator names the units: fixed, counted afresh */
    REFUSE(s_review(m, JS_ACT_ASSIGN, "operator", NULL, "cj-gulou", t0 + 3 * H));
    s_table_refused(m, JS_ACT_ASSIGN, JS_RC_OPERATOR, JS_FSM_FORBIDDEN);
    REFUSE(s_review(m, JS_ACT_ASSIGN, "reviewer", NULL, NULL, t0 + 3 * H));
    s_refused(m, "bad_request", "assign needs the units");
    REFUSE(s_review(m, JS_ACT_ASSIGN, "reviewer", NULL, "no-such-unit", t0 + 3 * H));
    s_refused(m, "bad_request", "assign:");
    int64_t t1 = at(2025, 10, 9, 9, 0);
    APPLY(s_review(m, JS_ACT_ASSIGN, "reviewer", "市级协调", "cj-gulou,city-housing", t1));
    assert_int_equal(m->stage, ST_DISPATCHED);
    assert_string_equal(m->out.event, "jiesu.order.dispatched");
    assert_int_equal(m->o->escalation, 0);
    const Jiesu__V1__Assignment *l = s_asg(m->o, "cj-gulou"), *h2 = s_asg(m->o, "city-housing");
    assert_int_equal(l->role, LEAD);
    assert_true(l->fixed);
    assert_int_equal(l->first_receipt_ms, t0); /* the unit's first receipt is kept */
    assert_int_equal(l->assigned_ms, t1);
    assert_non_null(h2);
    assert_int_equal(h2->role, ASSIST);
    assert_int_equal(h2->first_receipt_ms, t1);
    assert_null(s_asg(m->o, "city-urban"));
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou");
    s_events(h, t1, 2, EV_START, EV_RESET);
    assert_int_equal(h->due_ms, s_due(t1, 15, WD, NULL));
    s_events(s_clock(m->o, CK_A, "city-urban"), t1, 2, EV_START, EV_STOP);
    s_events(s_clock(m->o, CK_A, "city-housing"), t1, 1, EV_START);
    assert_non_null(m->out.asg);
    assert_non_null(strstr(m->out.asg, "cj-gulou=L"));
    assert_non_null(strstr(m->out.asg, "city-housing=A"));
    assert_null(strstr(m->out.asg, "city-urban"));
    s_gen_written(m, "g:h|cj-gulou");
    s_gen_written(m, "g:a|city-urban");
    s_gen_written(m, "g:a|city-housing");
    s_check_timers(m, t1, 0);
    assert_false(s_timer(m, 'a', "city-urban", "due", NULL));
    /* the one removed is a stranger now */
    REFUSE(s_unit(m, JS_ACT_NOTE, ASSIST_U, "还在吗", t1 + H));
    s_table_refused(m, JS_ACT_NOTE, JS_RC_STRANGER, JS_FSM_FORBIDDEN);
    /* and a unit fixed there cannot return */
    REFUSE(s_unit(m, JS_ACT_RETURN, LEAD_U, "不属于我们", t1 + H));
    s_refused(m, "not_allowed", "fixed by consultation");
}

/* ---- returns ------------------------------------------------------------ */

/* Returned on a holiday, refused the next working morning: counted from the
 * first receipt, the review time excluded (a holiday costs nothing). */
static void test_return_refused(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    APPLY(s_unit(m, JS_ACT_ACCEPT, LEAD_U, NULL, t0 + H));
    int64_t t1 = at(2025, 10, 8, 15, 0);
    Jiesu__V1__UnitAction *ua = s_ua(JS_ACT_RETURN);
    ua->reason = "不属于本街道职责";
    REFUSE(s_act(m, JS_ACT_RETURN, LEAD_U, ua, NULL, t1));
    s_refused(m, "bad_request", "--basis");
    ua->reason = "";
    ua->legal_basis = "三定方案";
    REFUSE(s_act(m, JS_ACT_RETURN, LEAD_U, ua, NULL, t1));
    s_refused(m, "bad_request", "--reason");
    ua->reason = "不属于本街道职责";
    REFUSE(s_act(m, JS_ACT_RETURN, ASSIST_U, ua, NULL, t1));
    s_table_refused(m, JS_ACT_RETURN, JS_RC_ASSIST, JS_FSM_FORBIDDEN);
    REFUSE(s_act(m, JS_ACT_RETURN, COPY_U, ua, NULL, t1));
    s_table_refused(m, JS_ACT_RETURN, JS_RC_COPY, JS_FSM_FORBIDDEN);
    ua->to_unit = "no-such-unit";
    REFUSE(s_act(m, JS_ACT_RETURN, LEAD_U, ua, NULL, t1));
    s_refused(m, "bad_request", "no-such-unit");
    ua->to_unit = "city-urban";
    APPLY(s_act(m, JS_ACT_RETURN, LEAD_U, ua, NULL, t1));
    assert_int_equal(m->stage, ST_RETURN);
    assert_int_equal(m->saved, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.returned");
    const Jiesu__V1__PendingRequest *p = m->o->pending;
    assert_non_null(p);
    assert_int_equal(p->kind, JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_RETURN);
    assert_string_equal(p->unit_id, "cj-gulou");
    assert_string_equal(p->reason, "不属于本街道职责");
    assert_string_equal(p->legal_basis, "三定方案");
    assert_string_equal(p->to_unit, "city-urban");
    assert_int_equal(p->requested_ms, t1);
    assert_int_equal(p->resume_stage, ST_ACCEPTED);
    assert_string_equal(p->actor->unit_id, "cj-gulou");
    assert_string_equal(p->actor->name, "tester");
    /* review time does not count (BJ pause_stages): every running clock pauses */
    const char *clocks[][2] = {{"r", "cj-gulou"}, {"h", "cj-gulou"}, {"a", "city-urban"}};
    for (size_t i = 0; i < 3; i++) {
        const Jiesu__V1__Clock *c = s_clock(m->o, js_timer_clock_kind(clocks[i][0][0]), clocks[i][1]);
        s_events(c, t1, 2, EV_START, EV_PAUSE);
        assert_int_equal(s_eval(c, t1, NULL), JS_CLOCK_PAUSED);
        s_gen_written(m, js_arena_printf(F->a, "g:%s|%s", clocks[i][0], clocks[i][1]));
    }
    assert_int_equal(m->out.nfields, 3);
    assert_int_equal(s_check_timers(m, t1, 0), 0);

    /* in review: only reviewers decide; notes go on */
    REFUSE(s_review(m, JS_ACT_APPROVE, "operator", NULL, NULL, t1 + H));
    s_table_refused(m, JS_ACT_APPROVE, JS_RC_OPERATOR, JS_FSM_FORBIDDEN);
    REFUSE(s_review(m, JS_ACT_APPROVE, LEAD_U, NULL, NULL, t1 + H));
    s_table_refused(m, JS_ACT_APPROVE, JS_RC_LEAD, JS_FSM_FORBIDDEN);
    REFUSE(s_unit(m, JS_ACT_COMPLETE, LEAD_U, NULL, t1 + H));
    s_table_refused(m, JS_ACT_COMPLETE, JS_RC_LEAD, JS_FSM_NOT_ALLOWED);
    APPLY(s_unit(m, JS_ACT_NOTE, LEAD_U, "补充材料", t1 + H));
    assert_int_equal(m->stage, ST_RETURN);
    assert_non_null(m->o->pending);
    REFUSE(s_review(m, JS_ACT_REFUSE, "reviewer", NULL, NULL, t1 + 2 * H));
    s_refused(m, "bad_request", "a refusal needs --reason");

    /* The response clock was overdue long before (24 h from 30 Sep); its
     * warnings and overdue fired then. */
    s_fired(m, "r|cj-gulou|f0.5|0");
    s_fired(m, "r|cj-gulou|f0.8|0");
    s_fired(m, "r|cj-gulou|due|0.0");
    int64_t t2 = at(2025, 10, 9, 11, 0);
    APPLY(s_review(m, JS_ACT_REFUSE, "reviewer", "属于街道综合执法职责", NULL, t2));
    assert_int_equal(m->stage, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.return_refused");
    assert_null(m->o->pending);
    assert_non_null(strstr(m->out.note, "return of cj-gulou refused"));
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou");
    s_events(h, t2, 3, EV_START, EV_PAUSE, EV_RESUME);
    js_clock_result_t res;
    assert_int_equal(s_eval(h, t2, &res), JS_CLOCK_RUNNING);
    /* 8 Oct is a holiday: the pause cost the 11 working hours of 9 Oct */
    assert_int_equal(res.paused_ms, 11 * H);
    assert_int_equal(h->due_ms, at(2025, 10, 29, 11, 0) - 1000);
    assert_int_equal(h->original_due_ms, h->due_ms); /* no extension */
    assert_int_equal(m->o->assignments[0]->due_ms, h->due_ms);
    const Jiesu__V1__Assignment *l = s_asg(m->o, "cj-gulou");
    assert_int_equal(l->first_receipt_ms, t0);
    assert_int_equal(l->assigned_ms, t0);
    assert_int_equal(l->accepted_ms, t0 + H);
    /* the overdue response clock stays overdue: nothing given back */
    const Jiesu__V1__Clock *r = s_clock(m->o, CK_R, "cj-gulou");
    assert_int_equal(r->due_ms, t0 + 24 * H);
    /* re-armed: all three clocks, the fired marks left out (only b4h of the
     * response clock is left, late) */
    assert_int_equal(m->out.nfields, 3);
    s_check_timers(m, t2, 0);
    assert_false(s_timer(m, 'r', "cj-gulou", "due", NULL));
    assert_false(s_timer(m, 'r', "cj-gulou", "f0.5", NULL));
    js_timer_t tm;
    assert_true(s_timer(m, 'r', "cj-gulou", "b4h", &tm));
    assert_true(tm.fire_ms < t2);
    assert_true(s_timer(m, 'h', "cj-gulou", "due", &tm));
    assert_int_equal(tm.due_ms, h->due_ms);

    /* a second return: the window (1 working day from the FIRST receipt, 30
     * Sep -> 9 Oct 23:59:59) is still open late on the 9th ... */
    int64_t t3 = at(2025, 10, 9, 23, 0);
    APPLY(s_act(m, JS_ACT_RETURN, LEAD_U, ua, NULL, t3));
    APPLY(s_review(m, JS_ACT_REFUSE, "reviewer", "仍属街道职责", NULL, t3 + 60000));
    /* ... and closed on the 10th */
    REFUSE(s_act(m, JS_ACT_RETURN, LEAD_U, ua, NULL, at(2025, 10, 10, 9, 0)));
    s_refused(m, "window_closed", "2025-10-09T23:59:59+08:00");
    assert_non_null(strstr(m->out.err, "2025-09-30T10:00:00+08:00"));
}

/* The return window on the working-day calendar: a receipt on the worked
 * Saturday 11 Oct has until Monday 13 Oct 23:59:59 (Sunday is off). */
static void test_return_window_worked_saturday(void **st) {
    (void)st;
    int64_t t0 = at(2025, 10, 11, 10, 0);
    for (int zs = 0; zs < 2; zs++) {
        sim_t *m = s_dispatched(zs ? &F->czs : &F->cbj, ILLEGAL_BUILD, NULL, t0);
        REFUSE(s_unit(m, JS_ACT_RETURN, LEAD_U, "不属于本街道", at(2025, 10, 14, 0, 0)));
        s_refused(m, "window_closed", "the return window closed at 2025-10-13T23:59:59+08:00");
        assert_non_null(strstr(m->out.err, "1wd"));
        assert_int_equal(m->stage, ST_DISPATCHED);
        APPLY(s_unit(m, JS_ACT_RETURN, LEAD_U, "不属于本街道", at(2025, 10, 13, 23, 59)));
        assert_int_equal(m->stage, ST_RETURN);
    }
}

/* Approved: the returning unit is excluded; --to names the next lead, whose
 * limit counts afresh; without --to nobody else fits: consultation. */
static void test_return_approved(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0), t1 = at(2025, 10, 9, 9, 0), t2 = at(2025, 10, 9, 14, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    APPLY(s_unit(m, JS_ACT_RETURN, LEAD_U, "不属于本街道", t1));
    REFUSE(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, "cj-gulou", t2));
    s_refused(m, "bad_request", "--to cj-gulou: that unit's return was approved");
    REFUSE(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, "no-such-unit", t2));
    s_refused(m, "bad_request", "re-dispatch:");
    assert_int_equal(m->stage, ST_RETURN);
    assert_int_equal(m->o->n_excluded_units, 0); /* refusals store nothing */

    APPLY(s_review(m, JS_ACT_APPROVE, "admin", "属住建局职责", "city-housing", t2));
    assert_int_equal(m->stage, ST_DISPATCHED);
    assert_string_equal(m->out.event, "jiesu.order.return_approved");
    const Jiesu__V1__Order *o = m->o;
    assert_null(o->pending);
    assert_int_equal(o->returns, 1);
    assert_int_equal(o->n_excluded_units, 1);
    assert_string_equal(o->excluded_units[0], "cj-gulou");
    assert_null(s_asg(o, "cj-gulou"));
    const Jiesu__V1__Assignment *l = o->assignments[0], *as = s_asg(o, "city-urban");
    assert_string_equal(l->unit_id, "city-housing");
    assert_int_equal(l->role, LEAD);
    assert_int_equal(l->first_receipt_ms, t2);
    assert_int_equal(l->limit->amount, 15);
    assert_non_null(as);
    assert_int_equal(as->role, ASSIST);
    assert_string_equal(as->reports_to, "city-housing");
    assert_int_equal(as->first_receipt_ms, t0);
    assert_int_equal(as->assigned_ms, t2);
    assert_non_null(strstr(m->out.asg, "city-housing=L"));
    assert_non_null(strstr(m->out.asg, "city-urban=A"));
    assert_null(strstr(m->out.asg, "cj-gulou"));
    /* the old lead's clocks stop; the new lead's start; the assist counts afresh */
    s_events(s_clock(o, CK_H, "cj-gulou"), t2, 3, EV_START, EV_PAUSE, EV_STOP);
    s_events(s_clock(o, CK_R, "cj-gulou"), t2, 3, EV_START, EV_PAUSE, EV_STOP);
    const Jiesu__V1__Clock *h = s_clock(o, CK_H, "city-housing"), *a = s_clock(o, CK_A, "city-urban");
    s_events(h, t2, 1, EV_START);
    assert_int_equal(h->due_ms, s_due(t2, 15, WD, NULL));
    assert_int_equal(l->due_ms, h->due_ms);
    s_events(a, t2, 3, EV_START, EV_PAUSE, EV_RESET);
    assert_int_equal(s_eval(a, t2, NULL), JS_CLOCK_RUNNING);
    assert_int_equal(a->due_ms, s_due(t2, 10, WD, NULL));
    for (size_t i = 0; i < o->n_clocks; i++) s_eval(o->clocks[i], t2, NULL);
    s_gen_written(m, "g:h|cj-gulou");
    s_gen_written(m, "g:r|cj-gulou");
    s_gen_written(m, "g:a|city-urban");
    s_gen_written(m, "g:h|city-housing");
    s_gen_written(m, "g:r|city-housing");
    assert_int_equal(s_check_timers(m, t2, 0), 12);
    assert_false(s_timer(m, 'h', "cj-gulou", "due", NULL));
    js_timer_t tm;
    assert_true(s_timer(m, 'a', "city-urban", "f0.5", &tm));
    assert_string_equal(tm.epoch, "1"); /* a reset: share warnings fire again */
    assert_true(s_timer(m, 'h', "city-housing", "due", &tm));
    assert_string_equal(tm.epoch, "0.0");
    /* the unit that returned is a stranger now */
    REFUSE(s_unit(m, JS_ACT_ACCEPT, LEAD_U, NULL, t2 + H));
    s_table_refused(m, JS_ACT_ACCEPT, JS_RC_STRANGER, JS_FSM_FORBIDDEN);

    /* Without --to: the dispatcher decides again without cj-gulou; nothing
     * fits, so a reviewer names the units (the row's alternative stage). */
    sim_t *c = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    APPLY(s_unit(c, JS_ACT_RETURN, LEAD_U, "不属于本街道", t1));
    APPLY(s_review(c, JS_ACT_APPROVE, "reviewer", NULL, NULL, t2));
    assert_int_equal(c->stage, ST_CONSULT);
    assert_string_equal(c->out.event, "jiesu.order.return_approved");
    assert_int_equal(c->o->returns, 1);
    assert_null(c->o->pending);
    for (size_t i = 0; i < c->o->n_clocks; i++) {
        assert_int_equal(s_eval(c->o->clocks[i], t2, NULL), JS_CLOCK_STOPPED);
        assert_int_equal(c->o->clocks[i]->events[c->o->clocks[i]->n_events - 1]->kind, EV_STOP);
    }
    assert_int_equal(c->out.nfields, 3);
    assert_int_equal(c->out.ntimers, 0);
    assert_int_equal(c->o->n_assignments, 0); /* no unit holds it while the consultation decides */
    assert_string_equal(c->out.asg, "-");
    /* consultation: excluded units cannot be named; the ones named are fixed */
    REFUSE(s_review(c, JS_ACT_ASSIGN, "reviewer", NULL, "cj-gulou", t2 + H));
    s_refused(c, "bad_request", "cj-gulou returned this order");
    REFUSE(s_review(c, JS_ACT_ASSIGN, "reviewer", NULL, "city-housing,cj-gulou", t2 + H));
    s_refused(c, "bad_request", "cj-gulou returned this order");
    REFUSE(s_review(c, JS_ACT_CLOSE, "reviewer", NULL, NULL, t2 + H));
    s_refused(c, "bad_request", "closing a consultation needs --reason");
    APPLY(s_review(c, JS_ACT_ASSIGN, "reviewer", "会商决定", "city-housing,city-urban", t2 + H));
    assert_int_equal(c->stage, ST_DISPATCHED);
    assert_true(c->o->assignments[0]->fixed);
    assert_string_equal(c->o->assignments[0]->unit_id, "city-housing");
    assert_non_null(strstr(c->out.note, "consultation decided"));
    s_check_timers(c, t2 + H, 0);
    REFUSE(s_unit(c, JS_ACT_RETURN, "unit:city-housing", "不属于我们", t2 + 2 * H));
    s_refused(c, "not_allowed", "fixed by consultation");
}

/* ---- extensions ------------------------------------------------------------ */

static void test_extension(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0), t1 = at(2025, 10, 10, 10, 0), t2 = at(2025, 10, 11, 15, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    APPLY(s_unit(m, JS_ACT_ACCEPT, LEAD_U, NULL, t0 + H));
    int64_t due15 = s_due(t0, 15, WD, NULL);

    Jiesu__V1__UnitAction *ua = s_ua(JS_ACT_EXTEND);
    REFUSE(s_act(m, JS_ACT_EXTEND, LEAD_U, ua, NULL, t1));
    s_refused(m, "bad_request", "needs --reason");
    REFUSE(s_extend(m, LEAD_U, 0, 0, 0, t1));
    s_refused(m, "bad_request", "--until DATE or a new limit");
    REFUSE(s_extend(m, LEAD_U, 20, WD, due15 + 86400000, t1));
    s_refused(m, "bad_request", "not both");
    REFUSE(s_extend(m, LEAD_U, 400, HOURS, 0, t1));
    s_refused(m, "bad_request", "in the unit of the current one (wd)");
    REFUSE(s_extend(m, LEAD_U, 15, WD, 0, t1));
    s_refused(m, "bad_request", "must be longer than the current 15");
    REFUSE(s_extend(m, LEAD_U, 10, WD, 0, t1));
    s_refused(m, "bad_request", "must be longer");
    /* BJ extension.max 15wd: 15 + 15 = 30 at most */
    REFUSE(s_extend(m, LEAD_U, 31, WD, 0, t1));
    s_refused(m, "bad_request", "at most 15wd (profile beijing)");
    REFUSE(s_extend(m, LEAD_U, 0, 0, due15 - 1000, t1));
    s_refused(m, "bad_request", "is not after the current");
    REFUSE(s_extend(m, COPY_U, 20, WD, 0, t1));
    s_table_refused(m, JS_ACT_EXTEND, JS_RC_COPY, JS_FSM_FORBIDDEN);
    assert_int_equal(m->stage, ST_ACCEPTED);

    /* asked, refused: back where it was, nothing changed */
    APPLY(s_extend(m, LEAD_U, 30, WD, 0, t1));
    assert_int_equal(m->stage, ST_EXTENSION);
    assert_int_equal(m->saved, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.extension_requested");
    assert_int_equal(m->o->pending->kind, JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_EXTEND);
    assert_int_equal(m->o->pending->new_limit->amount, 30);
    assert_int_equal(m->o->pending->resume_stage, ST_ACCEPTED);
    /* BJ does not pause during an extension review: no clock changed */
    assert_int_equal(m->out.nfields, 0);
    assert_int_equal(m->out.ntimers, 0);
    s_events(s_clock(m->o, CK_H, "cj-gulou"), t0, 1, EV_START);
    REFUSE(s_review(m, JS_ACT_APPROVE, "operator", NULL, NULL, t1 + H));
    s_table_refused(m, JS_ACT_APPROVE, JS_RC_OPERATOR, JS_FSM_FORBIDDEN);
    REFUSE(s_extend(m, LEAD_U, 20, WD, 0, t1 + H));
    s_table_refused(m, JS_ACT_EXTEND, JS_RC_LEAD, JS_FSM_NOT_ALLOWED);
    APPLY(s_review(m, JS_ACT_REFUSE, "reviewer", "理由不充分", NULL, t1 + H));
    assert_int_equal(m->stage, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.extension_refused");
    assert_null(m->o->pending);
    assert_int_equal(m->out.nfields, 0);
    s_events(s_clock(m->o, CK_H, "cj-gulou"), t0, 1, EV_START);

    /* asked again, approved: the target moves, the original one is kept */
    APPLY(s_extend(m, LEAD_U, 20, WD, 0, t1 + 2 * H));
    s_fired(m, "h|cj-gulou|f0.5|0");   /* fired on 17 Oct ... pretend it did */
    s_fired(m, "h|cj-gulou|due|0.0"); /* an earlier round's overdue: does not hide the new one */
    APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t2));
    assert_int_equal(m->stage, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.extended");
    assert_null(m->o->pending);
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou");
    s_events(h, t2, 2, EV_START, EV_EXTEND);
    assert_int_equal(h->events[1]->limit->amount, 20);
    assert_int_equal(s_eval(h, t2, NULL), JS_CLOCK_RUNNING);
    assert_int_equal(h->due_ms, s_due(t0, 20, WD, NULL));
    assert_int_equal(h->original_due_ms, due15);
    const Jiesu__V1__Assignment *l = s_asg(m->o, "cj-gulou");
    assert_int_equal(l->limit->amount, 20);
    assert_int_equal(l->due_ms, h->due_ms);
    assert_non_null(strstr(m->out.note, iso(h->due_ms)));
    assert_non_null(strstr(m->out.note, iso(due15)));
    assert_non_null(strstr(m->out.note, "需协调产权单位"));
    assert_int_equal(m->out.nfields, 1);
    s_gen_written(m, "g:h|cj-gulou");
    s_check_timers(m, t2, 0);
    js_timer_t tm;
    assert_false(s_timer(m, 'h', "cj-gulou", "f0.5", NULL));
    assert_true(s_timer(m, 'h', "cj-gulou", "f0.8", &tm));
    assert_string_equal(tm.epoch, "0");
    assert_true(s_timer(m, 'h', "cj-gulou", "due", &tm));
    assert_string_equal(tm.epoch, "0.1");
    assert_int_equal(tm.amount, 20);
    assert_true(s_timer(m, 'h', "cj-gulou", "b4h", &tm));
    assert_string_equal(tm.epoch, "0.1");
    /* BJ extension.max_count 1 */
    REFUSE(s_extend(m, LEAD_U, 25, WD, 0, t2 + H));
    s_refused(m, "not_allowed", "used its 1 extension(s) allowed by profile beijing");

    /* an assist extends its own limit */
    APPLY(s_extend(m, ASSIST_U, 12, WD, 0, t2 + H));
    APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t2 + 2 * H));
    const Jiesu__V1__Clock *a = s_clock(m->o, CK_A, "city-urban");
    s_events(a, t2 + 2 * H, 2, EV_START, EV_EXTEND);
    assert_int_equal(a->due_ms, s_due(t0, 12, WD, NULL));
    assert_int_equal(a->original_due_ms, s_due(t0, 10, WD, NULL));
    s_gen_written(m, "g:a|city-urban");
    s_check_timers(m, t2 + 2 * H, 0);
}

/* Zhongshan: two extensions, to a date, capped at 10 working days each. */
static void test_extension_zhongshan_until(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0), t1 = at(2025, 10, 13, 10, 0);
    sim_t *m = s_dispatched(&F->czs, ILLEGAL_BUILD, NULL, t0);
    int64_t due = s_due(t0, 15, WD, NULL);
    /* 10 working days after the current due at most */
    int64_t most = s_due(due, 10, WD, NULL);
    REFUSE(s_extend(m, LEAD_U, 0, 0, most + 1000, t1));
    s_refused(m, "bad_request", "at most 10wd (profile zhongshan)");
    assert_non_null(strstr(m->out.err, iso(most)));
    APPLY(s_extend(m, LEAD_U, 0, 0, most, t1));
    APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t1 + H));
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou");
    s_events(h, t1 + H, 2, EV_START, EV_EXTEND);
    assert_int_equal(h->events[1]->due_ms, most);
    assert_int_equal(h->due_ms, most);
    assert_int_equal(h->original_due_ms, due);
    s_eval(h, t1 + H, NULL);
    s_check_timers(m, t1 + H, 0);
    js_timer_t tm;
    assert_true(s_timer(m, 'h', "cj-gulou", "due", &tm));
    assert_int_equal(tm.amount, 0); /* extended to a moment */
    /* the second, by a limit */
    APPLY(s_extend(m, LEAD_U, 30, WD, 0, t1 + 2 * H));
    APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t1 + 3 * H));
    h = s_clock(m->o, CK_H, "cj-gulou");
    s_events(h, t1 + 3 * H, 3, EV_START, EV_EXTEND, EV_EXTEND);
    assert_int_equal(h->due_ms, s_due(t0, 30, WD, NULL));
    assert_int_equal(h->original_due_ms, due);
    s_eval(h, t1 + 3 * H, NULL);
    /* ZS extension.max_count 2 */
    REFUSE(s_extend(m, LEAD_U, 35, WD, 0, t1 + 4 * H));
    s_refused(m, "not_allowed", "used its 2 extension(s) allowed by profile zhongshan");
}

/* After a refused return the clock runs later than the limit alone says:
 * an extension by a limit counts from the clock's own start, its pauses
 * included, as the clock applies it (the target is not the bare js_cal_due
 * of the first receipt). */
static void test_extension_after_paused_review(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    /* paused from 9 Oct 09:00 to 14 Oct 09:00: 15 + 24 + 24 (worked Saturday) + 24 + 9 h = 4 working days */
    APPLY(s_unit(m, JS_ACT_RETURN, LEAD_U, "不属于本街道", at(2025, 10, 9, 9, 0)));
    APPLY(s_review(m, JS_ACT_REFUSE, "reviewer", "属街道职责", NULL, at(2025, 10, 14, 9, 0)));
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou");
    js_clock_result_t res;
    s_eval(h, at(2025, 10, 14, 9, 0), &res);
    assert_int_equal(res.paused_ms, 96 * H);
    assert_int_equal(h->due_ms, at(2025, 11, 3, 23, 59) + 59000); /* 28 Oct + 4 working days */
    /* 16 working days: one more than the limit, so due one working day later */
    int64_t t1 = at(2025, 10, 15, 10, 0);
    APPLY(s_extend(m, LEAD_U, 16, WD, 0, t1));
    assert_non_null(strstr(m->out.note, "2025-11-04T23:59:59+08:00"));
    APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t1 + H));
    h = s_clock(m->o, CK_H, "cj-gulou");
    assert_int_equal(s_eval(h, t1 + H, NULL), JS_CLOCK_RUNNING);
    assert_int_equal(h->due_ms, at(2025, 11, 4, 23, 59) + 59000);
    assert_int_equal(h->original_due_ms, at(2025, 11, 3, 23, 59) + 59000);
    /* extension.max (15wd) counts from the current due, 3 Nov: 30 working
     * days of limit + 4 paused = 3 Nov + 15 is the latest; 31 is too far */
    sim_t *z = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    APPLY(s_unit(z, JS_ACT_RETURN, LEAD_U, "不属于本街道", at(2025, 10, 9, 9, 0)));
    APPLY(s_review(z, JS_ACT_REFUSE, "reviewer", "属街道职责", NULL, at(2025, 10, 14, 9, 0)));
    REFUSE(s_extend(z, LEAD_U, 31, WD, 0, t1));
    s_refused(z, "bad_request", "at most 15wd");
    APPLY(s_extend(z, LEAD_U, 30, WD, 0, t1));
    APPLY(s_review(z, JS_ACT_APPROVE, "reviewer", NULL, NULL, t1 + H));
    h = s_clock(z->o, CK_H, "cj-gulou");
    s_eval(h, t1 + H, NULL);
    assert_int_equal(h->due_ms, s_due(at(2025, 11, 3, 23, 59) + 59000, 15, WD, NULL));
}

/* ---- completion, callback, close, reopen ----------------------------------- */

static void test_completion_callback_close_reopen(void **st) {
    (void)st;
    int64_t t0 = at(2025, 9, 30, 10, 0), t1 = at(2025, 10, 13, 10, 0), t2 = at(2025, 10, 14, 16, 0);
    sim_t *m = s_dispatched(&F->czs, ILLEGAL_BUILD, NULL, t0);
    APPLY(s_unit(m, JS_ACT_ACCEPT, LEAD_U, NULL, t0 + H));
    Jiesu__V1__UnitAction *ua = s_ua(JS_ACT_COMPLETE);
    REFUSE(s_act(m, JS_ACT_COMPLETE, LEAD_U, ua, NULL, t1));
    s_refused(m, "bad_request", "needs --answer");
    REFUSE(s_unit(m, JS_ACT_COMPLETE, ASSIST_U, NULL, t1));
    s_table_refused(m, JS_ACT_COMPLETE, JS_RC_ASSIST, JS_FSM_FORBIDDEN);

    /* asked: ZS pauses the completion review (art. 22) */
    APPLY(s_unit(m, JS_ACT_COMPLETE, LEAD_U, NULL, t1));
    assert_int_equal(m->stage, ST_COMPLETION);
    assert_int_equal(m->saved, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.completion_requested");
    assert_non_null(strstr(m->o->pending->answer, "已现场核查"));
    for (size_t i = 0; i < m->o->n_clocks; i++) assert_int_equal(s_eval(m->o->clocks[i], t1, NULL), JS_CLOCK_PAUSED);
    assert_int_equal(m->out.nfields, 3);
    assert_int_equal(m->out.ntimers, 0);
    /* refused: back to the unit, counted on from the first receipt */
    APPLY(s_review(m, JS_ACT_REFUSE, "reviewer", "答复未逐项回应", NULL, t1 + 2 * H));
    assert_int_equal(m->stage, ST_ACCEPTED);
    assert_string_equal(m->out.event, "jiesu.order.completion_refused");
    assert_non_null(strstr(m->out.note, "completion of cj-gulou refused"));
    const Jiesu__V1__Clock *h = s_clock(m->o, CK_H, "cj-gulou");
    s_events(h, t1 + 2 * H, 3, EV_START, EV_PAUSE, EV_RESUME);
    js_clock_result_t res;
    s_eval(h, t1 + 2 * H, &res);
    assert_int_equal(res.paused_ms, 2 * H);
    assert_int_equal(h->due_ms, s_due(t0, 15, WD, NULL) + 2 * H);
    assert_int_equal(s_check_timers(m, t1 + 2 * H, 0), 12);

    /* asked again, approved: every clock stops, the callback clock starts (ZS 3wd) */
    APPLY(s_unit(m, JS_ACT_COMPLETE, LEAD_U, NULL, t2 - H));
    APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t2));
    assert_int_equal(m->stage, ST_CALLBACK);
    assert_string_equal(m->out.event, "jiesu.order.completed");
    assert_null(m->o->pending);
    assert_non_null(strstr(m->o->answer, "已现场核查"));
    const Jiesu__V1__Clock *cb = s_clock(m->o, CK_C, "");
    assert_non_null(cb);
    s_events(cb, t2, 1, EV_START);
    assert_int_equal(cb->events[0]->limit->amount, 3);
    assert_int_equal(cb->due_ms, s_due(t2, 3, WD, NULL));
    for (size_t i = 0; i < m->o->n_clocks; i++)
        if (m->o->clocks[i] != cb) {
            const Jiesu__V1__Clock *c = m->o->clocks[i];
            assert_int_equal(c->events[c->n_events - 1]->kind, EV_STOP);
            assert_int_equal(s_eval(c, t2, NULL), JS_CLOCK_STOPPED);
        }
    s_gen_written(m, "g:c|");
    s_gen_written(m, "g:h|cj-gulou");
    s_gen_written(m, "g:a|city-urban");
    assert_int_equal(m->out.nfields, 4);
    /* timers only for the callback clock */
    assert_int_equal(s_check_timers(m, t2, 0), 4);
    assert_true(s_timer(m, 'c', "", "due", NULL));

    /* closing: the centre (operator or a service), with a valid rating */
    REFUSE(s_review(m, JS_ACT_CLOSE, LEAD_U, NULL, NULL, t2 + H));
    s_table_refused(m, JS_ACT_CLOSE, JS_RC_LEAD, JS_FSM_FORBIDDEN);
    Jiesu__V1__ReviewDecision *rd = s_rd(JS_ACT_CLOSE, NULL, NULL);
    Jiesu__V1__Rating rating = JIESU__V1__RATING__INIT;
    rating.satisfaction = 7;
    rd->rating = &rating;
    REFUSE(s_act(m, JS_ACT_CLOSE, "operator", NULL, rd, t2 + H));
    s_refused(m, "bad_request", "satisfaction is 1..5");
    rating.satisfaction = 4;
    rating.resolved = 1;
    int64_t t3 = t2 + 3 * H;
    APPLY(s_act(m, JS_ACT_CLOSE, "operator", NULL, rd, t3));
    assert_int_equal(m->stage, ST_CLOSED);
    assert_string_equal(m->out.event, "jiesu.order.closed");
    assert_string_equal(m->o->close_reason, "callback done");
    assert_int_equal(m->o->rating->satisfaction, 4);
    assert_int_equal(m->o->rating->rated_ms, t3);
    cb = s_clock(m->o, CK_C, "");
    s_events(cb, t3, 2, EV_START, EV_STOP);
    s_gen_written(m, "g:c|");
    assert_int_equal(m->out.ntimers, 0);

    /* closed: only a reviewer's reopen, with what the requester disputes */
    REFUSE(s_unit(m, JS_ACT_NOTE, LEAD_U, "还有问题", t3 + H));
    s_table_refused(m, JS_ACT_NOTE, JS_RC_LEAD, JS_FSM_NOT_ALLOWED);
    REFUSE(s_review(m, JS_ACT_REOPEN, "operator", "诉求人不认可", NULL, t3 + H));
    s_table_refused(m, JS_ACT_REOPEN, JS_RC_OPERATOR, JS_FSM_FORBIDDEN);
    REFUSE(s_review(m, JS_ACT_REOPEN, "reviewer", NULL, NULL, t3 + H));
    s_refused(m, "bad_request", "reopen needs --reason");
    int64_t t4 = at(2025, 10, 16, 9, 0);
    APPLY(s_review(m, JS_ACT_REOPEN, "reviewer", "诉求人称违建仍在", NULL, t4));
    assert_int_equal(m->stage, ST_DISPATCHED);
    assert_string_equal(m->out.event, "jiesu.order.reopened");
    assert_int_equal(m->o->reopens, 1);
    assert_string_equal(m->o->answer, ""); /* cleared (stored as the proto3 default) */
    assert_string_equal(m->o->close_reason, "");
    const Jiesu__V1__Assignment *l = s_asg(m->o, "cj-gulou");
    assert_int_equal(l->first_receipt_ms, t0);
    assert_int_equal(l->assigned_ms, t4);
    assert_int_equal(l->accepted_ms, 0);
    h = s_clock(m->o, CK_H, "cj-gulou");
    assert_int_equal(h->events[h->n_events - 1]->kind, EV_RESET);
    assert_int_equal(s_eval(h, t4, NULL), JS_CLOCK_RUNNING);
    assert_int_equal(h->due_ms, s_due(t4, 15, WD, NULL));
    assert_int_equal(s_eval(s_clock(m->o, CK_A, "city-urban"), t4, NULL), JS_CLOCK_RUNNING);
    assert_int_equal(s_eval(s_clock(m->o, CK_C, ""), t4, NULL), JS_CLOCK_STOPPED);
    s_check_timers(m, t4, 0);
    assert_false(s_timer(m, 'c', "", "due", NULL));
    js_timer_t tm;
    assert_true(s_timer(m, 'h', "cj-gulou", "f0.5", &tm));
    assert_string_equal(tm.epoch, "1");
}

/* ---- the whole table -------------------------------------------------------- */

static const char *s_actor(unsigned rc) {
    switch (rc) {
    case JS_RC_OPERATOR: return "operator";
    case JS_RC_REVIEWER: return "reviewer";
    case JS_RC_ADMIN: return "admin";
    case JS_RC_SYSTEM: return "system";
    case JS_RC_LEAD: return LEAD_U;
    case JS_RC_ASSIST: return ASSIST_U;
    case JS_RC_COPY: return COPY_U;
    default: return STRANGER;
    }
}

/* An order really brought into stage s (its pending request, saved stage,
 * clocks as the actions left them), under Beijing rules. */
static sim_t *s_in_stage(int s) {
    int64_t t0 = at(2025, 9, 30, 10, 0), t1 = at(2025, 10, 9, 9, 0);
    sim_t *m;
    switch (s) {
    case ST_CLASSIFIED: return s_order(&F->cbj, "城乡建设", T_REPORT, ILLEGAL_BUILD, NULL, t0);
    case ST_MANUAL:
        m = s_order(&F->cbj, "城乡建设", T_REPORT, ILLEGAL_BUILD, NULL, t0);
        m->stage = ST_MANUAL;
        return m;
    case ST_CONSULT:
        m = s_order(&F->cbj, "城乡建设", T_COMPLAINT, LEGACY, NULL, t0);
        assert_int_equal(s_dispatch(m, t0), 0);
        return m;
    case ST_TRANSFERRING:
    case ST_TRANSFERRED:
        m = s_order(&F->cbj, "商贸旅游", T_COMPLAINT, ABROAD, "临江市江口区滨河路18号", t0);
        assert_int_equal(s_dispatch(m, t0), 0);
        m->stage = s; /* the partner's ack is the partner sender's step */
        return m;
    default: break;
    }
    m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, t0);
    switch (s) {
    case ST_DISPATCHED: break;
    case ST_ACCEPTED: APPLY(s_unit(m, JS_ACT_ACCEPT, LEAD_U, NULL, t1)); break;
    case ST_ESCALATED: APPLY(s_unit(m, JS_ACT_ESCALATE, LEAD_U, "涉及多部门", t1)); break;
    case ST_RETURN: APPLY(s_unit(m, JS_ACT_RETURN, LEAD_U, "不属于本街道", t1)); break;
    case ST_EXTENSION: APPLY(s_extend(m, LEAD_U, 20, WD, 0, t1)); break;
    case ST_COMPLETION: APPLY(s_unit(m, JS_ACT_COMPLETE, LEAD_U, NULL, t1)); break;
    case ST_CALLBACK:
    case ST_CLOSED:
        APPLY(s_unit(m, JS_ACT_COMPLETE, LEAD_U, NULL, t1));
        APPLY(s_review(m, JS_ACT_APPROVE, "reviewer", NULL, NULL, t1 + H));
        if (s == ST_CLOSED) APPLY(s_review(m, JS_ACT_CLOSE, "operator", NULL, NULL, t1 + 2 * H));
        break;
    default: fail_msg("no way to stage %d", s);
    }
    assert_int_equal(m->stage, s);
    return m;
}

/* A request that is complete for act by rc: every text it may need. */
static int s_try(sim_t *m, int act, unsigned rc, int64_t now) {
    Jiesu__V1__UnitAction *ua = s_ua(act);
    ua->reason = "说明";
    ua->answer = "已办结，答复如下";
    if (act == JS_ACT_RETURN) ua->legal_basis = "三定方案";
    if (act == JS_ACT_ESCALATE) ua->level = JIESU__V1__ESCALATION_LEVEL__ESCALATION_LEVEL_DISTRICT;
    if (act == JS_ACT_EXTEND) {
        ua->new_limit = js_arena_alloc(F->a, sizeof *ua->new_limit);
        jiesu__v1__limit__init(ua->new_limit);
        ua->new_limit->amount = rc == JS_RC_ASSIST ? 12 : 20;
        ua->new_limit->unit = WD;
    }
    const char *to = m->stage == ST_CONSULT ? "city-housing" : m->stage == ST_ESCALATED ? "cj-gulou" : NULL;
    Jiesu__V1__ReviewDecision *rd = act >= JS_ACT_APPROVE && act <= JS_ACT_CLOSE ? s_rd(act, "说明", to) : NULL;
    return s_act(m, act, s_actor(rc), act <= JS_ACT_COMPLETE ? ua : NULL, rd, now);
}

/* Every row of the table, for every role it names, on an order in its stage:
 * applied with the row's next stage (or its alternative) and event, or -- for
 * the steps that belong to other services -- refused for that reason, never
 * by the table. */
static void test_every_row_applies(void **st) {
    (void)st;
    size_t n;
    const js_fsm_row_t *rows = js_fsm_rows(&n);
    int applied = 0, service_steps = 0;
    int64_t now = at(2025, 10, 9, 15, 0);
    for (size_t i = 0; i < n; i++) {
        const js_fsm_row_t *row = &rows[i];
        for (unsigned rc = 1; rc <= JS_RC_STRANGER; rc <<= 1) {
            if (!(row->roles & rc)) continue;
            js_arena_reset(F->a);
            sim_t *m = s_in_stage(row->stage);
            int before = m->stage, saved = m->saved;
            int r = s_try(m, row->act, rc, now);
            if (r < 0) {
                /* only a service's own step may be refused here */
                if (strcmp(m->out.code, "bad_request") != 0 || !strstr(m->out.err, "service's own step"))
                    fail_msg("row %zu (%s in %s by %s) refused: %s: %s", i, js_fsm_act_name(row->act),
                             js_fsm_stage_name(row->stage), js_fsm_role_name(rc), m->out.code, m->out.err);
                assert_true(row->act >= JS_ACT_DISPATCH);
                assert_int_equal(m->out.rc, rc);
                service_steps++;
                continue;
            }
            int want = js_fsm_next(row, before, saved);
            if (m->stage != want && !(row->alt && m->stage == row->alt))
                fail_msg("row %zu (%s in %s by %s) went to %s", i, js_fsm_act_name(row->act),
                         js_fsm_stage_name(row->stage), js_fsm_role_name(rc), js_fsm_stage_name(m->stage));
            assert_string_equal(m->out.event, row->event);
            assert_int_equal(m->out.rc, rc);
            assert_non_null(m->out.note);
            /* every timer of the action is well formed and for a running clock */
            s_check_timers(m, now, 0);
            applied++;
        }
    }
    assert_true(applied >= 80);
    assert_true(service_steps >= 10);
}

/* Every (stage, action, role) the table does not have is refused by it:
 * forbidden when the action exists there for someone else, not_allowed
 * otherwise, with js_fsm_explain's words; nothing is applied. */
static void test_everything_else_refused(void **st) {
    (void)st;
    int64_t now = at(2025, 10, 9, 15, 0);
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, at(2025, 9, 30, 10, 0));
    int refused = 0;
    for (int s = 0; s < NSTAGES; s++)
        for (int act = 1; act < JS_ACT_MAX; act++)
            for (unsigned rc = 1; rc <= JS_RC_STRANGER; rc <<= 1) {
                int why;
                if (js_fsm_find(s, act, rc, &why)) continue;
                m->stage = s;
                m->saved = ST_DISPATCHED;
                int64_t v = m->version;
                REFUSE(s_try(m, act, rc, now));
                s_table_refused(m, act, rc, why);
                assert_int_equal(m->version, v);
                refused++;
            }
    assert_true(refused > 15 * 19 * 8 / 2);
}

/* ---- small parts ---------------------------------------------------------- */

static void test_role_class_and_maps(void **st) {
    (void)st;
    sim_t *m = s_dispatched(&F->cbj, ILLEGAL_BUILD, NULL, at(2025, 9, 30, 10, 0));
    const Jiesu__V1__Order *o = m->o;
    assert_int_equal(act_role_class(o, "operator"), JS_RC_OPERATOR);
    assert_int_equal(act_role_class(o, "reviewer"), JS_RC_REVIEWER);
    assert_int_equal(act_role_class(o, "admin"), JS_RC_ADMIN);
    assert_int_equal(act_role_class(o, "system"), JS_RC_SYSTEM);
    assert_int_equal(act_role_class(o, LEAD_U), JS_RC_LEAD);
    assert_int_equal(act_role_class(o, ASSIST_U), JS_RC_ASSIST);
    assert_int_equal(act_role_class(o, COPY_U), JS_RC_COPY);
    assert_int_equal(act_role_class(o, STRANGER), JS_RC_STRANGER);
    assert_int_equal(act_role_class(o, NULL), 0);
    assert_int_equal(act_role_class(o, ""), 0);
    assert_int_equal(act_role_class(o, "unit:"), 0);
    assert_int_equal(act_role_class(o, "unit:cj-gulou cj-gov"), 0);
    assert_int_equal(act_role_class(o, "unit:cj-gulou=L"), 0);
    assert_int_equal(act_role_class(o, "unit:a\tb"), 0);
    assert_int_equal(act_role_class(o, "Reviewer"), 0);
    assert_int_equal(act_role_class(o, "requester"), 0);
    assert_string_equal(act_asg_map(F->a, o), "cj-gulou=L city-urban=A cj-gov=C");
    /* a coordinating district government is the handling unit */
    sim_t *c = s_order(&F->cbj, "城乡建设", T_COMPLAINT, "我们是石湾区的居民，这边的事情反映了很久一直没人管，希望区里统一协调一下",
                       NULL, at(2025, 9, 30, 10, 0));
    assert_int_equal(s_dispatch(c, at(2025, 9, 30, 10, 0)), 0);
    assert_string_equal(c->out.asg, "sw-gov=L");
    assert_int_equal(c->o->assignments[0]->role, COORD);
    assert_int_equal(act_role_class(c->o, "unit:sw-gov"), JS_RC_LEAD);
    assert_non_null(s_clock(c->o, CK_H, "sw-gov"));
    Jiesu__V1__Order empty = JIESU__V1__ORDER__INIT;
    assert_string_equal(act_asg_map(F->a, &empty), "");
    assert_int_equal(act_role_class(&empty, LEAD_U), JS_RC_STRANGER);

    for (int k = 1; k <= 8; k++) assert_int_equal(act_from_unit_kind(k), k);
    assert_int_equal(act_from_unit_kind(0), 0);
    assert_int_equal(act_from_unit_kind(9), 0);
    for (int k = 1; k <= 5; k++) assert_int_equal(act_from_review_kind(k), 10 + k);
    assert_int_equal(act_from_review_kind(0), 0);
    assert_int_equal(act_from_review_kind(6), 0);
    assert_int_equal(act_from_review_kind(JIESU__V1__REVIEW_KIND__REVIEW_KIND_ASSIGN), JS_ACT_ASSIGN);
    assert_int_equal(act_from_unit_kind(JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_REPORT), JS_ACT_REPORT);

    /* history entries name the actor by role */
    Jiesu__V1__Order *x = s_load(m);
    const char *actors[] = {"operator", "reviewer", "admin", "system", LEAD_U};
    const int roles[] = {JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR, JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER,
                         JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_ADMIN, JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_SYSTEM,
                         JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_UNIT};
    for (size_t i = 0; i < 5; i++) {
        act_req_t req = {.act = JS_ACT_NOTE, .actor = actors[i]};
        act_history(F->a, x, "jiesu.order.noted", 1000 + (int64_t)i, "E", &req, "n");
        const Jiesu__V1__HistoryEntry *h = x->history[x->n_history - 1];
        assert_int_equal(h->actor->role, roles[i]);
        assert_string_equal(h->actor->name, "");
        assert_int_equal(h->time_ms, 1000 + (int64_t)i);
        assert_string_equal(h->type, "jiesu.order.noted");
    }
    assert_string_equal(x->history[x->n_history - 1]->actor->unit_id, "cj-gulou");
}

int main(void) {
#define T(f) cmocka_unit_test_setup(f, per_test)
    const struct CMUnitTest tests[] = {
        T(test_first_dispatch_before_national_day),
        T(test_first_dispatch_worked_saturday),
        T(test_first_dispatch_consult_and_partner),
        T(test_provisional_2027),
        T(test_accept_contact_note_report),
        T(test_escalate_and_coordination),
        T(test_return_refused),
        T(test_return_window_worked_saturday),
        T(test_return_approved),
        T(test_extension),
        T(test_extension_zhongshan_until),
        T(test_extension_after_paused_review),
        T(test_completion_callback_close_reopen),
        T(test_every_row_applies),
        T(test_everything_else_refused),
        T(test_role_class_and_maps),
    };
    return cmocka_run_group_tests_name("dispatcher actions (act.c) on the sample city", tests, setup, teardown);
}
