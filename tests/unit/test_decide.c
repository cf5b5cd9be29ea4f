/* test_decide.c -- the dispatch decision on the shipped sample city (青川市)
 * under both rule profiles, one test per path of docs/DISPATCH.md "Decision",
 * with order texts as requesters write them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../services/dispatcher/decide.h"

#define LEAD   JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD
#define ASSIST JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_ASSIST
#define COPY   JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COPY
#define COORD  JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COORDINATE

#define T_COMPLAINT JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT
#define T_CONSULT   JIESU__V1__ORDER_TYPE__ORDER_TYPE_CONSULTATION
#define T_HELP      JIESU__V1__ORDER_TYPE__ORDER_TYPE_HELP

/* 2026-11-23 10:00 +08:00 */
#define NOW 1795399200000LL

typedef struct fx {
    dsp_ref_t ref;
    dsp_profile_t bj, zs;
} fx_t;

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
    *st = f;
    return 0;
}

static int teardown(void **st) {
    fx_t *f = *st;
    dsp_ref_free(&f->ref);
    free(f);
    return 0;
}

/* An order on the stack: the strings are the caller's. */
typedef struct ord {
    Jiesu__V1__Order o;
    Jiesu__V1__Location loc;
} ord_t;

static void s_order(ord_t *x, const char *topic, int type, int urgency, const char *title, const char *content,
                    const char *address) {
    jiesu__v1__order__init(&x->o);
    jiesu__v1__location__init(&x->loc);
    x->o.topic = (char *)topic;
    x->o.type = type;
    x->o.urgency = urgency ? urgency : JIESU__V1__URGENCY__URGENCY_NORMAL;
    x->o.title = (char *)(title ? title : "");
    x->o.content = (char *)content;
    x->loc.address = (char *)(address ? address : "");
    x->o.location = &x->loc;
}

static const dsp_assign_t *s_find(const dsp_result_t *r, const char *unit) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->a[i].unit_id, unit)) return &r->a[i];
    return NULL;
}

static void s_limit_is(dsp_limit_t l, int amount, int unit) {
    assert_int_equal(l.amount, amount);
    assert_int_equal(l.unit, unit);
}

static void s_show(const dsp_result_t *r) {
    fprintf(stderr, "kind %d item %s: %s\n", r->kind, r->catalog_item, r->reason);
    for (size_t i = 0; i < r->n; i++)
        fprintf(stderr, "  %s role %d %d/%d reports_to %s\n", r->a[i].unit_id, r->a[i].role, r->a[i].limit.amount,
                r->a[i].limit.unit, r->a[i].reports_to);
}

/* Clear duty: straight to the unit (here a utility, on hours: ZS art. 35). */
static void test_direct_to_utility(void **st) {
    fx_t *f = *st;
    ord_t x;
    s_order(&x, "城乡建设", T_COMPLAINT, 0, "停水", "金河路梨园小区从早上开始停水，到现在水龙头不出水，家里有老人", NULL);
    dsp_result_t r;
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.catalog_item, "cx-001");
    assert_string_equal(r.catalog_version, "2026.11");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.a[0].unit_id, "util-water");
    assert_int_equal(r.a[0].role, LEAD);
    s_limit_is(r.a[0].limit, 24, DSP_LIMIT_H);
    s_limit_is(r.a[0].response, 2, DSP_LIMIT_H);
    assert_string_equal(r.a[0].catalog_item, "cx-001");
    assert_string_equal(r.a[0].district, "");
    /* located even though the unit is city-wide */
    assert_string_equal(r.district, "cj");
    assert_string_equal(r.street, "cj-jinhe");
    assert_string_equal(r.community, "cj-jinhe-liyuan");
    assert_non_null(strstr(r.reason, "cx-001"));
    assert_non_null(strstr(r.reason, "ZS art. 35"));
}

/* A street lead: Beijing copies its district government, Zhongshan does not. */
static void test_street_with_district_copy(void **st) {
    fx_t *f = *st;
    ord_t x;
    s_order(&x, "城乡建设", JIESU__V1__ORDER_TYPE__ORDER_TYPE_REPORT, 0, NULL,
            "鼓楼大街钟楼巷23号有住户在楼顶加盖彩钢房，属于违章建筑，希望尽快处理", NULL);
    dsp_result_t r;
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.catalog_item, "cx-015");
    assert_int_equal(r.n, 3);
    assert_string_equal(r.a[0].unit_id, "cj-gulou");
    assert_int_equal(r.a[0].role, LEAD);
    assert_string_equal(r.a[0].office, "综合行政执法队");
    assert_string_equal(r.a[0].district, "cj");
    s_limit_is(r.a[0].limit, 15, DSP_LIMIT_WD);
    const dsp_assign_t *a = s_find(&r, "city-urban");
    assert_non_null(a);
    assert_int_equal(a->role, ASSIST);
    assert_string_equal(a->reports_to, "cj-gulou");
    s_limit_is(a->limit, 10, DSP_LIMIT_WD);
    const dsp_assign_t *c = s_find(&r, "cj-gov");
    assert_non_null(c);
    assert_int_equal(c->role, COPY);
    assert_int_equal(c->limit.unit, DSP_LIMIT_NONE);
    assert_non_null(strstr(r.reason, "抄送 cj-gov"));

    assert_int_equal(dsp_decide(&f->ref, &f->zs, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.a[0].unit_id, "cj-gulou");
    assert_null(s_find(&r, "cj-gov"));
}

/* A district named, no catalog item: the district government coordinates. */
static void test_district_coordinates(void **st) {
    fx_t *f = *st;
    ord_t x;
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "我们是石湾区的居民，这边的事情反映了很久一直没人管，希望区里统一协调一下", NULL);
    dsp_result_t r;
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.a[0].unit_id, "sw-gov");
    assert_int_equal(r.a[0].role, COORD);
    assert_string_equal(r.catalog_item, "");
    s_limit_is(r.a[0].limit, 15, DSP_LIMIT_WD); /* complaint default */
    s_limit_is(r.a[0].response, 24, DSP_LIMIT_H);
    assert_non_null(strstr(r.reason, "区政府统筹"));

    /* An @street item whose street is unknown, the district known: coordination too. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "望湖区有小区物业公司乱收物业费，还不公示收支", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.catalog_item, "cx-013");
    assert_string_equal(r.a[0].unit_id, "wh-gov");
    assert_int_equal(r.a[0].role, COORD);
    assert_int_equal(r.n, 2); /* and the item's assist; a coordinator is no street lead: no copy */
    assert_int_equal(r.a[1].role, ASSIST);
    assert_string_equal(r.a[1].reports_to, "wh-gov");
}

/* One lead and two assists, each with its own limit, both reporting to the lead. */
static void test_lead_and_two_assists(void **st) {
    fx_t *f = *st;
    ord_t x;
    s_order(&x, "教育文体", T_HELP, 0, "学校门口交通安全",
            "梨园小区旁边的学校门口放学时段家长车辆乱停乱放，孩子过马路很危险，希望安排人员疏导", NULL);
    dsp_result_t r;
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    if (r.n != 4) s_show(&r);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.catalog_item, "jy-005");
    assert_int_equal(r.n, 4);
    assert_string_equal(r.a[0].unit_id, "cj-jinhe");
    s_limit_is(r.a[0].limit, 10, DSP_LIMIT_WD);
    assert_string_equal(r.a[0].office, "平安建设办公室");
    const dsp_assign_t *p = s_find(&r, "city-traffic-police"), *c = s_find(&r, "cj-jinhe-liyuan");
    assert_non_null(p);
    assert_non_null(c);
    assert_int_equal(p->role, ASSIST);
    assert_int_equal(c->role, ASSIST);
    s_limit_is(p->limit, 5, DSP_LIMIT_WD);
    s_limit_is(c->limit, 3, DSP_LIMIT_WD);
    assert_string_equal(p->reports_to, "cj-jinhe");
    assert_string_equal(c->reports_to, "cj-jinhe");
    assert_int_equal(s_find(&r, "cj-gov")->role, COPY);
    /* The mobile signal item: a utility lead and two carriers assisting, on hours. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "观澜大道听涛苑小区手机信号差，在家里打电话经常断线", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->zs, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.catalog_item, "cx-012");
    assert_int_equal(r.n, 3);
    assert_string_equal(r.a[0].unit_id, "util-mobile");
    for (size_t i = 1; i < 3; i++) {
        assert_int_equal(r.a[i].role, ASSIST);
        assert_int_equal(r.a[i].limit.unit, DSP_LIMIT_H);
        assert_string_equal(r.a[i].reports_to, "util-mobile");
    }
}

/* A committee named as the lead is made an assist; its street leads (ZS art. 6). */
static void test_committee_never_leads(void **st) {
    fx_t *f = *st;
    char path[] = "/tmp/jiesu-decide-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *cat = "version\tcatalog\tt\n"
                      "cx-901\t楼道杂物\t城乡建设\t楼道杂物\t《青川市物业管理条例》\tcj-jinhe-liyuan\t-\t5wd\t24h\t-\t2024-"
                      "03-01\t-\t-\n";
    assert_int_equal(write(fd, cat, strlen(cat)), (ssize_t)strlen(cat));
    close(fd);
    dsp_ref_t ref = {0};
    dsp_problems_t pr = {0};
    dsp_paths_t paths = {path, "config/dispatch/gazetteer.tsv", "config/dispatch/units.tsv"};
    assert_int_equal(dsp_ref_load(&ref, &paths, &pr), 0);
    ord_t x;
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "我家楼道杂物堆了好几个月了，没人清理", NULL);
    dsp_result_t r;
    assert_int_equal(dsp_decide(&ref, &f->zs, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.a[0].unit_id, "cj-jinhe");
    assert_int_equal(r.a[0].role, LEAD);
    assert_string_equal(r.a[1].unit_id, "cj-jinhe-liyuan");
    assert_int_equal(r.a[1].role, ASSIST);
    assert_string_equal(r.a[1].reports_to, "cj-jinhe");
    assert_non_null(strstr(r.reason, "ZS art. 6"));
    /* A profile that lets committees lead (configurable). */
    dsp_profile_t p = f->zs;
    p.committee_may_lead = true;
    assert_int_equal(dsp_decide(&ref, &p, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.a[0].unit_id, "cj-jinhe-liyuan");
    assert_int_equal(r.a[0].role, LEAD);
    /* By hand: a committee first is refused under both shipped profiles. */
    const char *units[] = {"cj-jinhe-liyuan", "cj-jinhe"};
    assert_int_equal(dsp_assign_units(&ref, &f->bj, &x.o, NULL, units, 2, &r), -EINVAL);
    assert_non_null(strstr(r.reason, "never lead"));
    assert_int_equal(dsp_assign_units(&ref, &f->zs, &x.o, NULL, units, 2, &r), -EINVAL);
    dsp_ref_free(&ref);
    dsp_problems_free(&pr);
    unlink(path);
}

/* Outside the city: a partner hotline's area (ZS art. 24). */
static void test_partner(void **st) {
    fx_t *f = *st;
    ord_t x;
    s_order(&x, "商贸旅游", T_COMPLAINT, 0, NULL, "我在一家超市买到过期食品，商家拒绝退款", "临江市江口区滨河路18号");
    dsp_result_t r;
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_PARTNER);
    assert_string_equal(r.partner_id, "lj12345");
    assert_int_equal(r.n, 0);
    assert_non_null(strstr(r.reason, "ZS art. 24"));
    /* Named in the text only, with no local place: still the partner's. */
    s_order(&x, "交通运输", T_COMPLAINT, 0, NULL, "上周在白沙市坐出租车被绕路，司机多收了三十元", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_PARTNER);
    assert_string_equal(r.partner_id, "bs12345");
    /* A local address wins over a partner city mentioned in the text. */
    s_order(&x, "交通运输", T_COMPLAINT, 0, NULL, "从临江市回来，在北站坐出租车被拒载", "石湾区站前路");
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.a[0].unit_id, "city-transport");
}

/* Complex or ambiguous: to consultation (会商). */
static void test_consultation(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    /* A tie between items of different units. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "金河路这一段晚上路灯太暗，一下雨就积水", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_CONSULT);
    assert_non_null(strstr(r.reason, "cx-017"));
    assert_non_null(strstr(r.reason, "cx-027"));
    assert_string_equal(r.street, "cj-jinhe");
    /* An item marked consult. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "兰亭苑小区的产权问题属于历史遗留，多年未解决，多个部门推诿", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_CONSULT);
    assert_string_equal(r.catalog_item, "cx-025");
    /* No item and no district. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "这件事情我反映了很多次了，到现在也没有一个说法", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_CONSULT);
    assert_non_null(strstr(r.reason, "地点不明"));
    /* An @street item with no location at all. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "小区物业公司乱收物业费，还不公示收支", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_CONSULT);
    assert_string_equal(r.catalog_item, "cx-013");
}

/* Units whose return was approved are never picked again. */
static void test_excluded_units(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "鼓楼大街钟楼巷有人私搭乱建，在楼顶加盖", NULL);
    const char *ex1[] = {"city-urban"};
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, ex1, 1, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.a[0].unit_id, "cj-gulou");
    assert_null(s_find(&r, "city-urban"));
    assert_non_null(strstr(r.reason, "已退单"));
    const char *ex2[] = {"cj-gulou"};
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, ex2, 1, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_CONSULT);
    assert_non_null(strstr(r.reason, "退单"));
    /* The excluded best item gives way to the next one that fits. */
    s_order(&x, "环境保护", T_COMPLAINT, 0, NULL, "荷塘路夜间施工噪音很大，凌晨还在打桩", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.catalog_item, "hb-001");
    const char *ex3[] = {"city-urban"};
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, ex3, 1, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    assert_string_equal(r.catalog_item, "hb-002");
    assert_string_equal(r.a[0].unit_id, "wh-hetang");
    /* A district government that returned does not coordinate again. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "我们是石湾区的居民，这边的事情反映了很久一直没人管", NULL);
    const char *ex4[] = {"sw-gov"};
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, ex4, 1, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_CONSULT);
}

static void test_urgency_overrides(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    s_order(&x, "城乡建设", T_COMPLAINT, JIESU__V1__URGENCY__URGENCY_EMERGENCY, NULL,
            "鼓楼大街钟楼巷有人在楼顶加盖违章建筑，墙体已经开裂随时可能倒塌", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.a[0].unit_id, "cj-gulou");
    s_limit_is(r.a[0].limit, 24, DSP_LIMIT_H);
    s_limit_is(r.a[0].response, 1, DSP_LIMIT_H);
    /* assists never beyond the lead */
    s_limit_is(s_find(&r, "city-urban")->limit, 24, DSP_LIMIT_H);
    assert_non_null(strstr(r.reason, "紧急"));
    x.o.urgency = JIESU__V1__URGENCY__URGENCY_HIGH;
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    s_limit_is(r.a[0].limit, 3, DSP_LIMIT_WD);
    s_limit_is(r.a[0].response, 24, DSP_LIMIT_H);
    s_limit_is(s_find(&r, "city-urban")->limit, 3, DSP_LIMIT_WD);
    /* High urgency never lengthens a shorter limit (a utility's 24h). */
    s_order(&x, "城乡建设", T_COMPLAINT, JIESU__V1__URGENCY__URGENCY_HIGH, NULL, "荷塘路莲花小区停电了，冰箱里的药要坏了", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.a[0].unit_id, "util-power");
    s_limit_is(r.a[0].limit, 24, DSP_LIMIT_H);
}

/* A utility gets hours whatever limit it would have (ZS art. 35). */
static void test_utility_hours(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "鼓楼大街有人私搭乱建", NULL);
    const char *units[] = {"util-water", "city-housing"};
    assert_int_equal(dsp_assign_units(&f->ref, &f->bj, &x.o, "cx-015", units, 2, &r), 0);
    assert_int_equal(r.kind, DSP_DISPATCH);
    s_limit_is(r.a[0].limit, 24, DSP_LIMIT_H);  /* 15wd in the item: hours for a utility */
    s_limit_is(r.a[0].response, 24, DSP_LIMIT_H); /* already hours in the item */
    s_limit_is(r.a[1].limit, 24, DSP_LIMIT_H); /* 5wd by default, capped at the lead's 24h */
    assert_string_equal(r.a[1].reports_to, "util-water");
    /* The heating item changed on 2026-11-01: the version valid on the day decides. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "翠屏山路山阴小区暖气不热，室温只有十二度", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.catalog_item, "cx-009");
    s_limit_is(r.a[0].limit, 24, DSP_LIMIT_H);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW - 30LL * 86400000, &r), 0);
    assert_string_equal(r.catalog_item, "cx-008");
    s_limit_is(r.a[0].limit, 48, DSP_LIMIT_H);
}

/* Items that name no limit take the profile's default for the order's type. */
static void test_default_limit_by_type(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    s_order(&x, "劳动和社会保障", T_CONSULT, 0, NULL, "请问失业以后参加职业培训有没有就业补贴，去哪里申请", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.catalog_item, "ld-009");
    s_limit_is(r.a[0].limit, 2, DSP_LIMIT_WD);
    s_limit_is(r.a[0].response, 24, DSP_LIMIT_H);
    assert_non_null(strstr(r.reason, "默认时限"));
    x.o.type = T_HELP;
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    s_limit_is(r.a[0].limit, 10, DSP_LIMIT_WD);
    x.o.type = JIESU__V1__ORDER_TYPE__ORDER_TYPE_REPORT;
    assert_int_equal(dsp_decide(&f->ref, &f->zs, &x.o, NULL, 0, NOW, &r), 0);
    s_limit_is(r.a[0].limit, 15, DSP_LIMIT_WD);
}

/* No item in the classifier's topic: keywords of every topic decide. */
static void test_cross_topic_and_fields(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    s_order(&x, "卫生计生", T_HELP, 0, NULL, "家里停水两天了，孩子没法洗澡", NULL);
    x.loc.district = "wh";
    x.loc.street = "湖滨街道";
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.catalog_item, "cx-001");
    assert_string_equal(r.street, "wh-hubin");
    assert_non_null(strstr(r.reason, "跨问题分类"));
    /* Places in two districts named: not located. */
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "鼓楼大街和荷塘路之间这条道路破损严重，路面坑洼", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    assert_string_equal(r.catalog_item, "cx-019");
    assert_string_equal(r.district, "");
    assert_string_equal(r.a[0].unit_id, "city-urban");
    /* Bad arguments. */
    assert_int_equal(dsp_decide(NULL, &f->bj, &x.o, NULL, 0, NOW, &r), -EINVAL);
    assert_true(r.reason[0] != '\0');
    assert_int_equal(dsp_decide(&f->ref, &f->bj, NULL, NULL, 0, NOW, &r), -EINVAL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 1, NOW, &r), -EINVAL);
    /* An order with no text or location at all. */
    Jiesu__V1__Order empty;
    jiesu__v1__order__init(&empty);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &empty, NULL, 0, NOW, &r), 0);
    assert_int_equal(r.kind, DSP_CONSULT);
}

/* A return approved with --to UNIT: the lead replaced, assists now report to it. */
static void test_redirect(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "鼓楼大街钟楼巷有人私搭乱建，在楼顶加盖", NULL);
    assert_int_equal(dsp_decide(&f->ref, &f->bj, &x.o, NULL, 0, NOW, &r), 0);
    /* As the dispatcher stored it. */
    Jiesu__V1__Assignment as[3], *ap[3];
    Jiesu__V1__Limit lim[3];
    for (size_t i = 0; i < r.n; i++) {
        jiesu__v1__assignment__init(&as[i]);
        jiesu__v1__limit__init(&lim[i]);
        as[i].unit_id = r.a[i].unit_id;
        as[i].role = r.a[i].role;
        lim[i].amount = r.a[i].limit.amount;
        lim[i].unit = r.a[i].limit.unit;
        as[i].limit = &lim[i];
        as[i].catalog_item = r.a[i].catalog_item;
        ap[i] = &as[i];
    }
    x.o.assignments = ap;
    x.o.n_assignments = r.n;
    x.o.catalog_item = "cx-015";
    dsp_result_t r2;
    assert_int_equal(dsp_redirect(&f->ref, &f->bj, &x.o, "cj-nanmen", &r2), 0);
    assert_int_equal(r2.kind, DSP_DISPATCH);
    assert_string_equal(r2.a[0].unit_id, "cj-nanmen");
    assert_int_equal(r2.a[0].role, LEAD);
    s_limit_is(r2.a[0].limit, 15, DSP_LIMIT_WD);
    assert_string_equal(r2.a[0].office, "综合行政执法队");
    assert_string_equal(s_find(&r2, "city-urban")->reports_to, "cj-nanmen");
    s_limit_is(s_find(&r2, "city-urban")->limit, 10, DSP_LIMIT_WD);
    assert_int_equal(s_find(&r2, "cj-gov")->role, COPY);
    assert_null(s_find(&r2, "cj-gulou"));
    char err[256];
    assert_int_equal(dsp_check_assignments(&f->ref, &f->bj, r2.a, r2.n, err, sizeof err), 0);
    /* The assist itself made lead: it is not also its own assist; a department gets no copy. */
    assert_int_equal(dsp_redirect(&f->ref, &f->bj, &x.o, "city-urban", &r2), 0);
    assert_int_equal(r2.n, 1);
    assert_string_equal(r2.a[0].unit_id, "city-urban");
    assert_int_equal(dsp_redirect(&f->ref, &f->bj, &x.o, "no-such-unit", &r2), -ENOENT);
    assert_int_equal(dsp_redirect(&f->ref, &f->bj, &x.o, "cj-gulou-zhonglou", &r2), -EINVAL);
}

/* A reviewer's list: units exist, one lead, no committee lead, assists report to it. */
static void test_check_assignments(void **st) {
    fx_t *f = *st;
    ord_t x;
    dsp_result_t r;
    char err[256];
    s_order(&x, "城乡建设", T_COMPLAINT, 0, NULL, "小区历史遗留问题", NULL);
    const char *units[] = {"cj-jinhe", "city-housing", "cj-jinhe-liyuan"};
    assert_int_equal(dsp_assign_units(&f->ref, &f->bj, &x.o, "cx-025", units, 3, &r), 0);
    assert_int_equal(r.n, 4); /* + the district copy */
    assert_int_equal(dsp_check_assignments(&f->ref, &f->bj, r.a, r.n, err, sizeof err), 0);
    dsp_assign_t a[4];
    memcpy(a, r.a, sizeof a);
    a[1].role = LEAD;
    assert_int_equal(dsp_check_assignments(&f->ref, &f->bj, a, 4, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "2 leads"));
    memcpy(a, r.a, sizeof a);
    snprintf(a[1].unit_id, sizeof a[1].unit_id, "nobody");
    assert_int_equal(dsp_check_assignments(&f->ref, &f->bj, a, 4, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "unknown unit 'nobody'"));
    memcpy(a, r.a, sizeof a);
    a[0].role = ASSIST;
    a[2].role = LEAD;
    a[2].reports_to[0] = '\0';
    assert_int_equal(dsp_check_assignments(&f->ref, &f->bj, a, 4, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "committee"));
    memcpy(a, r.a, sizeof a);
    snprintf(a[1].reports_to, sizeof a[1].reports_to, "city-urban");
    assert_int_equal(dsp_check_assignments(&f->ref, &f->bj, a, 4, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "not to the lead"));
    memcpy(a, r.a, sizeof a);
    snprintf(a[3].unit_id, sizeof a[3].unit_id, "cj-jinhe");
    assert_int_equal(dsp_check_assignments(&f->ref, &f->bj, a, 4, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "twice"));
    /* The protobuf form. */
    Jiesu__V1__Assignment pa, pb, *pp[2] = {&pa, &pb};
    jiesu__v1__assignment__init(&pa);
    jiesu__v1__assignment__init(&pb);
    pa.unit_id = "city-housing";
    pa.role = LEAD;
    pb.unit_id = "cj-jinhe-liyuan";
    pb.role = ASSIST;
    pb.reports_to = "city-housing";
    assert_int_equal(dsp_check_pb_assignments(&f->ref, &f->zs, pp, 2, err, sizeof err), 0);
    pa.role = ASSIST;
    pb.role = LEAD;
    assert_int_equal(dsp_check_pb_assignments(&f->ref, &f->zs, pp, 2, err, sizeof err), -EINVAL);
    /* By hand: unknown unit or item, twice. */
    const char *u2[] = {"cj-jinhe", "cj-jinhe"};
    assert_int_equal(dsp_assign_units(&f->ref, &f->bj, &x.o, NULL, u2, 2, &r), -EINVAL);
    const char *u3[] = {"nobody"};
    assert_int_equal(dsp_assign_units(&f->ref, &f->bj, &x.o, NULL, u3, 1, &r), -ENOENT);
    assert_int_equal(dsp_assign_units(&f->ref, &f->bj, &x.o, "cx-999", units, 1, &r), -ENOENT);
    assert_int_equal(dsp_assign_units(&f->ref, &f->bj, &x.o, NULL, units, 0, &r), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_to_utility),
        cmocka_unit_test(test_street_with_district_copy),
        cmocka_unit_test(test_district_coordinates),
        cmocka_unit_test(test_lead_and_two_assists),
        cmocka_unit_test(test_committee_never_leads),
        cmocka_unit_test(test_partner),
        cmocka_unit_test(test_consultation),
        cmocka_unit_test(test_excluded_units),
        cmocka_unit_test(test_urgency_overrides),
        cmocka_unit_test(test_utility_hours),
        cmocka_unit_test(test_default_limit_by_type),
        cmocka_unit_test(test_cross_topic_and_fields),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_check_assignments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
