/* test_cls_rules.c -- every rule of config/classifier/rules.tsv fires on real-looking text and stays
 * quiet on its look-alikes; the file format; the knowledge base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../services/classifier/cls_kb.h"
#include "../../services/classifier/cls_rules.h"
#include "jiesu/v1/types.pb-c.h"

static cls_norm_t *s_norm;
static cls_rules_t *s_rules;

static int setup(void **state) {
    (void)state;
    char err[256];
    s_norm = cls_norm_new("t2s.json", err, sizeof err);
    s_rules = s_norm ? cls_rules_load("config/classifier/rules.tsv", s_norm, err, sizeof err) : NULL;
    if (!s_rules) fprintf(stderr, "%s\n", err);
    return s_rules ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cls_rules_free(&s_rules);
    cls_norm_destroy(&s_norm);
    return 0;
}

static void s_apply(const char *text, cls_rule_hit_t *hit) {
    char norm[4096];
    size_t l = cls_normalize(s_norm, text, strlen(text), norm, sizeof norm, CLS_NORM_DROP_SPACE, NULL);
    cls_rules_apply(s_rules, norm, l, hit);
}

typedef struct example {
    const char *rule, *text;
    int disposition, urgency;
} example_t;

#define D(x) JIESU__V1__DISPOSITION__DISPOSITION_##x
#define U(x) JIESU__V1__URGENCY__URGENCY_##x

static void test_every_rule_fires(void **state) {
    (void)state;
    static const example_t ex[] = {
        {"emergency-fire", "紧急！A3区桐梓坡路可可小城5栋12楼着火了，浓烟从窗户冒出来", D(EMERGENCY), U(EMERGENCY)},
        {"emergency-gas", "我们楼道里闻到很重的煤气味，怀疑燃气泄漏，住户都不敢开灯", D(EMERGENCY), U(EMERGENCY)},
        {"emergency-crime", "楼下烧烤摊有几个人正在打架，其中一人持刀，请赶快派人来", D(EMERGENCY), U(EMERGENCY)},
        {"emergency-injury", "小区门口一位老人晕倒了，呼吸困难，家属联系不上", D(EMERGENCY), U(EMERGENCY)},
        {"emergency-traffic", "万家丽路和人民路口刚发生交通事故，两车相撞有人被困", D(EMERGENCY), U(EMERGENCY)},
        {"emergency-trapped", "恒大华府3栋电梯困人快一个小时了，物业电话打不通", D(EMERGENCY), U(EMERGENCY)},
        {"legal-litigation", "我与开发商的购房合同纠纷已经起诉到A3区法院，法院已受理，请求政府督促", D(LEGAL_PROCEDURE), 0},
        {"legal-arbitration", "公司拖欠我三个月工资，我已申请劳动仲裁，仲裁委已受理但迟迟不开庭", D(LEGAL_PROCEDURE), 0},
        {"legal-discipline", "要求纪检监察部门调查某街道办主任收受贿赂的问题", D(LEGAL_PROCEDURE), 0},
        {"legal-review", "对区城管局的处罚决定不服，想申请行政复议，请问在哪里提交", D(LEGAL_PROCEDURE), 0},
        {"legal-petition", "该信访事项已经按程序办理，我对答复意见不满意要求信访复查", D(LEGAL_PROCEDURE), 0},
        {"legal-disclosure", "我于8月1日向区政府提交了政府信息公开申请，要求公开征地补偿明细", D(LEGAL_PROCEDURE), 0},
        {"unlawful-demand", "邻居欠我钱不还，你们帮我查他人隐私，把他的住址和电话告诉我", D(UNLAWFUL), 0},
        {"out-of-scope-market", "新房要装修了，请推荐一家装修公司，要便宜又靠谱的", D(OUT_OF_SCOPE), 0},
        {"urgent-utility", "可可小城从昨天早上开始停水，到现在还没有来水，老人小孩没水用", 0, U(HIGH)},
        {"urgent-danger", "小区7栋外墙出现裂缝，楼房岌岌可危，住户担心坍塌", 0, U(HIGH)},
        {"urgent-mass", "工地上百人聚集讨薪，已经堵住了路口，情绪激动", 0, U(EMERGENCY)},
    };
    assert_int_equal(cls_rules_count(s_rules), sizeof ex / sizeof *ex);
    for (size_t i = 0; i < sizeof ex / sizeof *ex; i++) {
        cls_rule_hit_t hit;
        s_apply(ex[i].text, &hit);
        if (ex[i].disposition) {
            assert_non_null(hit.id);
            if (strcmp(hit.id, ex[i].rule) != 0) fail_msg("%s: fired %s", ex[i].rule, hit.id);
            assert_int_equal(hit.disposition, ex[i].disposition);
            assert_non_null(hit.reason);
        } else {
            assert_int_equal(hit.disposition, 0);
            assert_string_equal(hit.urgency_id, ex[i].rule);
        }
        if (ex[i].urgency) assert_int_equal(hit.urgency, ex[i].urgency);
    }
}

static void test_look_alikes_stay_quiet(void **state) {
    (void)state;
    static const char *const quiet[] = {
        "小区消防通道被私家车占用，存在火灾隐患，请城管处理",       /* fire hazard, not a fire */
        "去年在小区门口被人持刀抢劫，派出所至今没有破案",           /* a past crime, not in progress */
        "上个月发生交通事故，对方保险公司拒绝理赔，责任认定有异议", /* a past accident */
        "A7县松雅湖二小门口车流量大，建议增设红绿灯",               /* nothing urgent */
        "楼下新开的火锅店油烟扰民，晚上吵到十二点",
        "供电公司发布通知，本周六计划停电检修线路",                 /* a planned outage */
    };
    for (size_t i = 0; i < sizeof quiet / sizeof *quiet; i++) {
        cls_rule_hit_t hit;
        s_apply(quiet[i], &hit);
        if (hit.disposition || hit.urgency) fail_msg("'%s' fired %s", quiet[i], hit.id ? hit.id : hit.urgency_id);
    }
}

static void test_traditional_and_fullwidth_text(void **state) {
    (void)state;
    cls_rule_hit_t hit;
    s_apply("我家樓下著火了！濃煙滾滾", &hit); /* 著火 -> 着火 through t2s */
    assert_non_null(hit.id);
    assert_string_equal(hit.id, "emergency-fire");
    s_apply("已 申请 劳动 仲裁", &hit); /* segmented */
    assert_non_null(hit.id);
    assert_string_equal(hit.id, "legal-arbitration");
}

static void test_settings(void **state) {
    (void)state;
    const cls_settings_t *s = cls_rules_settings(s_rules);
    assert_true(s->threshold > 0 && s->threshold < 1);
    assert_true(s->type_threshold > 0 && s->type_threshold < 1);
    assert_true(s->kb_threshold > 0 && s->kb_threshold <= 1);
    assert_true(s->min_cjk >= 1);
}

static cls_rules_t *s_load_text(const char *body, char *err, size_t errlen);

static int s_named(const cls_rules_t *r, const char *text) {
    char norm[4096];
    size_t l = cls_normalize(s_norm, text, strlen(text), norm, sizeof norm, CLS_NORM_DROP_SPACE, NULL);
    return cls_rules_named_type(r, norm, l);
}

/* The shipped words that name a type, in real-looking titles, and where they do not count. */
static void test_named_types(void **state) {
    (void)state;
    assert_int_equal(s_named(s_rules, "咨询A市居住证办理事宜 请问居住证可以办理几年的"), 1);
    assert_int_equal(s_named(s_rules, "请问A7县时中路何时拉通至龟山路？ 每天经过"), 1);
    assert_int_equal(s_named(s_rules, "A2区余易贷受害人求助 领导你好"), 2);
    assert_int_equal(s_named(s_rules, "投诉L市职业技术学院强行要求学生去顶岗实习"), 3);
    assert_int_equal(s_named(s_rules, "實名舉報A市某物業侵吞公共收入"), 4); /* traditional, normalised first */
    assert_int_equal(s_named(s_rules, "检举A5区井圭路小学违规考编"), 4);
    assert_int_equal(s_named(s_rules, "强烈呼吁在A3区云栖路修个地铁站口"), 5);
    assert_int_equal(s_named(s_rules, "关于A市住房贷款商转公问题的建议 目前"), 5);
    /* the earliest word decides: a complaint that suggests something */
    assert_int_equal(s_named(s_rules, "投诉物业乱收费，建议相关部门查处"), 3);
    /* none in the title: the content's words do not count */
    assert_int_equal(s_named(s_rules, "A3区含浦镇马路卫生很差，泥泞不堪，居民出行十分困难，我们多次向社区反映，建议修路"), 0);
    assert_int_equal(s_named(s_rules, "A市205路公交车经常不按时发车"), 0);
    assert_int_equal(s_named(s_rules, ""), 0);
    /* a word cut by the end of the title window is not found */
    cls_rules_t *r = s_load_text("set\tnamed_chars\t3\nnamed\thelp\t求助\n", (char[256]){0}, 256);
    assert_non_null(r);
    assert_int_equal(s_named(r, "我求助"), 2);
    assert_int_equal(s_named(r, "我要求助"), 0);
    assert_int_equal(s_named(r, "求助"), 2);
    assert_true(cls_rules_settings(r)->named_conf == 0.95f); /* the default */
    cls_rules_free(&r);
    const cls_settings_t *s = cls_rules_settings(s_rules);
    assert_true(s->named_chars >= 10 && s->named_conf > s->type_threshold);
}

static cls_rules_t *s_load_text(const char *body, char *err, size_t errlen) {
    char path[] = "/tmp/test_cls_rules_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    cls_rules_t *r = cls_rules_load(path, s_norm, err, errlen);
    unlink(path);
    return r;
}

static void test_format(void **state) {
    (void)state;
    char err[256];
    cls_rules_t *r = s_load_text("set\tthreshold\t0.7\n"
                                 "both\tunlawful\t-\t报复&邻居,删帖\t开玩笑\tneeds both words\n"
                                 "hot\t-\thigh\t高温\t-\theat\n",
                                 err, sizeof err);
    assert_non_null(r);
    assert_true(cls_rules_settings(r)->threshold == 0.7f);
    cls_rule_hit_t hit;
    char n[256];
    size_t l = cls_normalize(s_norm, "我要报复", strlen("我要报复"), n, sizeof n, CLS_NORM_DROP_SPACE, NULL);
    cls_rules_apply(r, n, l, &hit);
    assert_null(hit.id);
    l = cls_normalize(s_norm, "邻居吵我，我要报复他", strlen("邻居吵我，我要报复他"), n, sizeof n, CLS_NORM_DROP_SPACE, NULL);
    cls_rules_apply(r, n, l, &hit);
    assert_string_equal(hit.id, "both");
    l = cls_normalize(s_norm, "开玩笑说要报复邻居", strlen("开玩笑说要报复邻居"), n, sizeof n, CLS_NORM_DROP_SPACE, NULL);
    cls_rules_apply(r, n, l, &hit);
    assert_null(hit.id);
    l = cls_normalize(s_norm, "高温天帮我删帖", strlen("高温天帮我删帖"), n, sizeof n, CLS_NORM_DROP_SPACE, NULL);
    cls_rules_apply(r, n, l, &hit);
    assert_string_equal(hit.id, "both");
    assert_int_equal(hit.urgency, U(HIGH));
    assert_string_equal(hit.urgency_id, "hot");
    cls_rules_apply(r, "", 0, &hit);
    assert_null(hit.id);
    cls_rules_free(&r);

    static const char *const bad[] = {
        "x\tsomething\t-\ta\t-\treason\n",          /* unknown disposition */
        "x\tunlawful\tsoon\ta\t-\treason\n",        /* unknown urgency */
        "x\t-\t-\ta\t-\treason\n",                  /* decides nothing */
        "x\tunlawful\t-\ta\t-\n",                   /* five columns */
        "x\tunlawful\t-\t,,\t-\treason\n",          /* no keywords */
        "x\tunlawful\t-\ta\t-\tr\nx\tunlawful\t-\tb\t-\tr\n", /* duplicate id */
        "set\tthreshold\t1.5\n",                     /* out of range */
        "set\tcolour\tblue\n",                       /* unknown setting */
        "named\tpraise\t表扬\n",                     /* unknown type */
        "named\thelp\n",                             /* no words */
        "named\thelp\t,\n",                          /* empty words only: none kept */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_null(s_load_text(bad[i], err, sizeof err));
        assert_non_null(strstr(err, ":")); /* file:line: why */
    }
    assert_null(cls_rules_load("/nonexistent/rules.tsv", s_norm, err, sizeof err));
}

static void test_kb(void **state) {
    (void)state;
    char err[256];
    cls_kb_t *kb = cls_kb_load("config/classifier/kb.tsv", s_norm, err, sizeof err);
    assert_non_null(kb);
    assert_true(cls_kb_count(kb) >= 5);
    char n[1024];
    const char *q = "请问公积金怎么提取？需要带什么材料";
    size_t l = cls_normalize(s_norm, q, strlen(q), n, sizeof n, CLS_NORM_DROP_SPACE, NULL);
    float sim;
    int i = cls_kb_match(kb, n, l, 0.6f, &sim);
    assert_true(i >= 0);
    assert_string_equal(cls_kb_id(kb, i), "kb-002");
    assert_non_null(strstr(cls_kb_answer(kb, i), "公积金"));
    assert_int_equal(cls_kb_find(kb, "kb-002"), i);
    assert_true(sim >= 0.6f && sim <= 1.0f);
    /* a complaint that mentions the same words among many others is no question for the base */
    const char *c = "公积金中心工作人员态度恶劣，提取公积金的材料交了三次都说不全，拖了两个月还没办下来，"
                    "严重影响我们买房，要求调查处理相关人员并给出书面答复";
    l = cls_normalize(s_norm, c, strlen(c), n, sizeof n, CLS_NORM_DROP_SPACE, NULL);
    assert_int_equal(cls_kb_match(kb, n, l, 0.6f, &sim), -1);
    assert_int_equal(cls_kb_match(kb, "", 0, 0.6f, &sim), -1);
    assert_null(cls_kb_id(kb, -1));
    assert_int_equal(cls_kb_find(kb, "kb-nope"), -1);
    cls_kb_free(&kb);
    cls_kb_free(&kb);
    assert_null(cls_kb_load("/nonexistent/kb.tsv", s_norm, err, sizeof err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rule_fires), cmocka_unit_test(test_look_alikes_stay_quiet),
        cmocka_unit_test(test_traditional_and_fullwidth_text), cmocka_unit_test(test_settings),
        cmocka_unit_test(test_format),           cmocka_unit_test(test_kb),
        cmocka_unit_test(test_named_types),
    };
    return cmocka_run_group_tests_name("cls_rules", tests, setup, teardown);
}
