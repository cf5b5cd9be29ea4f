/* test_cls_weak.c -- weak type labels (tools/jiesu-train/cls_weak.h): a
 * subject's cue first, then the official reply's opening, then the detail's
 * opening; the test set's subjects left out; the shipped cue file loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/jiesu-train/cls_weak.h"

static char *s_file(const char *body) {
    char *path = strdup("/tmp/test_cls_weak_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    return path;
}

static void test_labels(void **state) {
    (void)state;
    char err[256];
    char *cues = s_file("# comment\n"
                        "complaint\t投诉,扰民\n"
                        "consultation\t咨询\n"
                        "reply:consultation\t您咨询的\n"
                        "reply:suggestion\t您的建议\n"
                        "content:report\t我要举报\n");
    cls_weak_t *w = cls_weak_load(cues, err, sizeof err);
    assert_non_null(w);
    assert_string_equal(cls_weak_label(w, "投诉物业乱收费"), "complaint");
    assert_string_equal(cls_weak_label(w, "咨询工地扰民"), "consultation"); /* the earliest cue */
    assert_null(cls_weak_label(w, "我要举报违建")); /* content cues are not subject cues */
    assert_null(cls_weak_label(w, "路灯不亮"));

    /* raw files as messages.tsv (7 columns) and replies.tsv (reply in column 6) */
    char *raw = s_file("id\tuser\tsubject\ttime\tdetail\treply\treply_time\n"
                       "1\tu\t投诉工地扰民\tt\t每天晚上施工\t已转交\tt\n"             /* subject: 2 rows */
                       "2\tu\t公交站的问题\tt\t请问几路车到站\t您咨询的问题答复如下\tt\n" /* reply: 1 row */
                       "3\tu\t小区的事\tt\t我要举报小区违建\t收悉\tt\n"               /* detail: 1 row */
                       "4\tu\t路灯不亮\tt\t三天了\t收悉\tt\n"                       /* nothing */
                       "5\tu\t投诉测试集里的\tt\t这一条在测试集里\t收悉\tt\n"         /* excluded */
                       "6\tu\t短\n");                                               /* too few columns */
    cls_dataset_t ex = {0}, d = {0};
    assert_true(cls_data_add(&ex, "complaint", "投诉测试集里的 这一条", strlen("投诉测试集里的 这一条"), NULL) >= 0);
    cls_weak_classes(&d);
    long n = cls_weak_label_file(w, raw, NULL, &ex, &d, err, sizeof err);
    assert_int_equal(n, 4);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.label[d.y[0]], "complaint");
    assert_string_equal(d.text[0], "投诉工地扰民每天晚上施工");
    assert_string_equal(d.label[d.y[1]], "complaint");
    assert_string_equal(d.text[1], "工地每天晚上施工"); /* the copy with the subject's cues cut out */
    assert_string_equal(d.label[d.y[2]], "consultation");
    assert_string_equal(d.label[d.y[3]], "report");
    assert_string_equal(d.text[3], "小区的事我要举报小区违建");
    cls_data_free(&d);
    cls_data_free(&ex);
    assert_int_equal(cls_weak_label_file(w, "/nonexistent.tsv", NULL, NULL, &d, err, sizeof err), -1);
    cls_weak_free(&w);
    cls_weak_free(&w); /* idempotent */
    unlink(raw);
    free(raw);

    /* bad cue files */
    static const char *const bad[] = {"praise\t表扬\n", "complaint 投诉\n", "content:praise\t表扬\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *p = s_file(bad[i]);
        assert_null(cls_weak_load(p, err, sizeof err));
        assert_non_null(strstr(err, "known type"));
        unlink(p);
        free(p);
    }
    unlink(cues);
    free(cues);
    /* the shipped cues load */
    w = cls_weak_load("config/classifier/type-cues.tsv", err, sizeof err);
    assert_non_null(w);
    assert_string_equal(cls_weak_label(w, "建议增设公交站"), "suggestion");
    cls_weak_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_labels)};
    return cmocka_run_group_tests_name("cls_weak", tests, NULL, NULL);
}
