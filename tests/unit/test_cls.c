/* test_cls.c -- the classifier's pure core: normalisation, the topic model,
 * the rules from the data files, bad input, near-duplicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../services/classifier/cls.h"

static cls_engine_t *engine(void) {
    char err[256];
    cls_engine_t *e = cls_engine_load("config/classifier", err, sizeof err);
    if (!e) fail_msg("%s", err);
    return e;
}

static cls_result_t run(const cls_engine_t *e, const char *text) {
    cls_result_t r;
    cls_classify(e, text, strlen(text), &r);
    return r;
}

static void test_normalize(void **st) {
    (void)st;
    char out[256];
    size_t cjk;
    size_t n = cls_normalize("ＡＢＣ　路灯\t坏了 １２３", strlen("ＡＢＣ　路灯\t坏了 １２３"), out, sizeof out, &cjk);
    assert_string_equal(out, "abc路灯坏了123");
    assert_int_equal(n, strlen("abc路灯坏了123"));
    assert_int_equal(cjk, 4);
    n = cls_normalize("a\xff\xfe" "b\xe8\xb7", 6, out, sizeof out, &cjk); /* broken UTF-8 dropped */
    assert_string_equal(out, "ab");
    n = cls_normalize("路灯坏了", strlen("路灯坏了"), out, 5, &cjk); /* never a split character */
    assert_true(n < 5);
    assert_int_equal(n % 3, 0);
}

static void test_model_learns_and_roundtrips(void **st) {
    (void)st;
    char *labels[40], *texts[40];
    for (int i = 0; i < 40; i++) {
        labels[i] = i % 2 ? "交通" : "教育";
        texts[i] = i % 2 ? "公交 车站 线路 司机 红绿灯 道路" : "学校 老师 学生 课程 招生 幼儿园";
    }
    cls_model_t *m = cls_model_train(labels, texts, 40, 1024);
    assert_non_null(m);
    float p;
    const char *t = "幼儿园招生的老师";
    int k = cls_model_predict(m, t, strlen(t), &p);
    assert_string_equal(cls_model_label(m, k), "教育");
    assert_true(p > 0.5f && p <= 1.0f);
    assert_int_equal(cls_model_save(m, "/tmp/jiesu-test.model"), 0);
    char err[256];
    cls_model_t *m2 = cls_model_load("/tmp/jiesu-test.model", err, sizeof err);
    assert_non_null(m2);
    float p2;
    assert_int_equal(cls_model_predict(m2, t, strlen(t), &p2), k);
    assert_true(p2 == p);
    FILE *f = fopen("/tmp/jiesu-test.model", "r+b"); /* a truncated model is refused */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate("/tmp/jiesu-test.model", size - 3), 0);
    assert_null(cls_model_load("/tmp/jiesu-test.model", err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
    remove("/tmp/jiesu-test.model");
    cls_model_free(&m);
    cls_model_free(&m2);
    assert_null(cls_model_train(labels, texts, 40, 1000)); /* not a power of two */
}

static void test_dispositions_from_rules(void **st) {
    (void)st;
    cls_engine_t *e = engine();
    static const struct { const char *text, *rule; int disp, urg; } cases[] = {
        {"我家楼下的饭店着火了，浓烟很大，请赶紧派人", "emergency-fire", 2, 3},
        {"小区门口有人持刀伤人，快来人", "emergency-crime", 2, 3},
        {"路边有位老人晕倒了，呼吸困难", "emergency-injury", 2, 3},
        {"东环路口发生交通事故，两车相撞", "emergency-traffic", 2, 3},
        {"我和房东的纠纷已起诉到法院，法院已受理，想问问进度", "legal-litigation", 3, 1},
        {"劳动争议已申请仲裁，仲裁委已受理，公司还在拖", "legal-arbitration", 3, 1},
        {"我要检举党员干部收受贿赂，请纪检监察部门处理", "legal-discipline", 3, 1},
        {"对区里的处罚决定不服，想申请行政复议", "legal-review", 3, 1},
        {"这个信访事项我已经反映过多次", "legal-petition", 3, 1},
        {"我想提交政府信息公开申请，了解拆迁补偿标准", "legal-disclosure", 3, 1},
        {"帮我查他人隐私，我要知道他住在哪里", "unlawful-demand", 5, 1},
        {"能不能推荐一家装修公司给我", "out-of-scope-market", 6, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cls_result_t r = run(e, cases[i].text);
        if (strcmp(r.rule, cases[i].rule) != 0 || r.disposition != cases[i].disp)
            fail_msg("%s: got rule '%s' disposition %d", cases[i].text, r.rule, r.disposition);
        assert_true(r.urgency >= cases[i].urg);
        assert_true(strlen(r.reason) > 0);
        assert_int_equal(r.manual, 0);
    }
    cls_result_t r = run(e, "小区停水两天了，一直没人来修");
    assert_int_equal(r.disposition, 1);
    assert_int_equal(r.urgency, 2);
    r = run(e, "小区东门的下水道堵了，污水漫到路面");
    assert_int_equal(r.disposition, 1);
    assert_string_equal(r.topic, "城乡建设");
    assert_int_equal(r.manual, 0);
    cls_engine_free(&e);
}

static void test_types(void **st) {
    (void)st;
    cls_engine_t *e = engine();
    assert_int_equal(run(e, "咨询一下新生儿医保怎么办理").type, 1);
    assert_int_equal(run(e, "求助：老人走失，请帮忙").type, 2);
    assert_int_equal(run(e, "投诉某餐馆油烟扰民").type, 3);
    assert_int_equal(run(e, "举报某工地夜间违规施工").type, 4);
    assert_int_equal(run(e, "建议在十字路口增设红绿灯").type, 5);
    cls_engine_free(&e);
}

static void test_bad_input(void **st) {
    (void)st;
    cls_engine_t *e = engine();
    cls_result_t r = run(e, "");
    assert_int_equal(r.manual, 1);
    r = run(e, "😀😀😀!!!???");
    assert_int_equal(r.manual, 1);
    assert_non_null(strstr(r.reason, "no Chinese"));
    r = run(e, "\xff\xfe\xfd");
    assert_int_equal(r.manual, 1);
    size_t big = 1024 * 1024;
    char *t = malloc(big + 1);
    for (size_t i = 0; i + 3 <= big; i += 3) memcpy(t + i, "路", 3);
    t[big - big % 3] = '\0';
    cls_classify(e, t, strlen(t), &r);
    assert_true(r.topic[0] != '\0');
    free(t);
    r = run(e, "Street light 路灯 broken ломается 壊れた");
    assert_true(r.topic[0] != '\0');
    cls_engine_free(&e);
    char err[256];
    assert_null(cls_engine_load("/nonexistent", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent"));
}

static void test_heldout_sample_accuracy(void **st) {
    (void)st;
    /* 300 held-out messages (never trained on), spaces removed as orders arrive */
    FILE *f = fopen("tests/data/topics-sample.tsv", "r");
    assert_non_null(f);
    cls_engine_t *e = engine();
    char line[65536];
    int n = 0, ok = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab || !strncmp(line, "label\t", 6)) continue;
        *tab = '\0';
        char *w = tab + 1;
        for (char *r = tab + 1; *r; r++)
            if (*r != ' ') *w++ = *r;
        *w = '\0';
        cls_result_t r = run(e, tab + 1);
        ok += strcmp(r.topic, line) == 0;
        n++;
    }
    fclose(f);
    cls_engine_free(&e);
    assert_true(n >= 200);
    if ((double)ok / n < 0.78) fail_msg("held-out accuracy %.3f < 0.78", (double)ok / n);
}

/* A keyword that is both a rule's and a type cue's counts for both; the
 * automaton finds keywords anywhere, overlapping included. */
static void test_shared_and_overlapping_keywords(void **st) {
    (void)st;
    char dir[] = "/tmp/jiesu-cls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], model[PATH_MAX];
    assert_non_null(realpath("config/classifier/topic.model", model));
    snprintf(path, sizeof path, "%s/topic.model", dir);
    assert_int_equal(symlink(model, path), 0);
    snprintf(path, sizeof path, "%s/settings.tsv", dir);
    FILE *f = fopen(path, "w");
    fputs("threshold\t0.1\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/rules.tsv", dir);
    f = fopen(path, "w");
    fputs("night-work\tunlawful\thigh\t夜间施工,违规施工\tnight work\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/types.tsv", dir);
    f = fopen(path, "w");
    fputs("report\t违规施工,规施\nconsultation\t请问\n", f);
    fclose(f);
    char err[256];
    cls_engine_t *e = cls_engine_load(dir, err, sizeof err);
    assert_non_null(e);
    cls_result_t r = run(e, "工地违规施工，请问谁管");
    assert_string_equal(r.rule, "night-work");
    assert_int_equal(r.disposition, 5);
    assert_int_equal(r.urgency, 2);
    assert_int_equal(r.type, 4); /* the earliest cue, though 请问 also occurs */
    assert_non_null(strstr(r.reason, "违规施工"));
    cls_engine_free(&e);
    const char *names[] = {"topic.model", "settings.tsv", "rules.tsv", "types.tsv"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_simhash(void **st) {
    (void)st;
    const char *a = "小区东门的下水道堵了，污水漫到路面，已经三天没人处理";
    const char *b = "小区东门下水道堵了，污水漫到了路面，三天没人处理";
    const char *c = "学校周边有无证摊贩占道经营，学生上下学很危险";
    uint64_t ha = cls_simhash(a, strlen(a)), hb = cls_simhash(b, strlen(b)), hc = cls_simhash(c, strlen(c));
    assert_true(cls_simhash_distance(ha, hb) < cls_simhash_distance(ha, hc));
    assert_true(cls_simhash_distance(ha, hb) <= 16);
    assert_int_equal(cls_simhash_distance(ha, ha), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_model_learns_and_roundtrips),
        cmocka_unit_test(test_dispositions_from_rules),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_heldout_sample_accuracy),
        cmocka_unit_test(test_shared_and_overlapping_keywords),
        cmocka_unit_test(test_simhash),
    };
    return cmocka_run_group_tests_name("classifier core", tests, NULL, NULL);
}
