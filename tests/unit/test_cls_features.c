/* test_cls_features.c -- hashed n-grams and SimHash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../services/classifier/cls.h"
#include "../../services/classifier/cls_features.h"

static uint32_t s_count_of(const cls_fvec_t *v, uint32_t idx) {
    for (size_t i = 0; i < v->n; i++)
        if (v->idx[i] == idx) return v->cnt[i];
    return 0;
}

static uint32_t s_total(const cls_fvec_t *v) {
    uint32_t t = 0;
    for (size_t i = 0; i < v->n; i++) t += v->cnt[i];
    return t;
}

static void test_counts(void **state) {
    (void)state;
    cls_fvec_t v;
    cls_fvec_init(&v);
    /* 3 unigrams of one character, 2 bigrams of one pair: 2 distinct features */
    assert_int_equal(cls_featurize("水水水", strlen("水水水"), 1, 2, 0, 20, &v), 2);
    assert_int_equal(s_total(&v), 5);
    assert_true((v.cnt[0] == 3 && v.cnt[1] == 2) || (v.cnt[0] == 2 && v.cnt[1] == 3));
    /* 1..3-grams of 4 distinct characters: 4 + 3 + 2 */
    assert_int_equal(cls_featurize("停水停电", strlen("停水停电"), 1, 3, 0, 20, &v), 9 - 1); /* 停 twice */
    assert_int_equal(s_total(&v), 9);
    cls_featurize("abcd", 4, 2, 2, 0, 20, &v);
    assert_int_equal(v.n, 3);
    cls_fvec_free(&v);
}

static void test_blanks_do_not_matter(void **state) {
    (void)state;
    cls_fvec_t a, b;
    cls_fvec_init(&a);
    cls_fvec_init(&b);
    const char *seg = "小区 路灯 坏 了", *raw = "小区路灯坏了";
    cls_featurize(seg, strlen(seg), 1, 3, 4, 18, &a);
    cls_featurize(raw, strlen(raw), 1, 3, 4, 18, &b);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.idx[i], b.idx[i]);
        assert_int_equal(a.cnt[i], b.cnt[i]);
    }
    cls_fvec_free(&a);
    cls_fvec_free(&b);
}

static void test_buckets_and_head(void **state) {
    (void)state;
    cls_fvec_t v, h;
    cls_fvec_init(&v);
    cls_fvec_init(&h);
    const char *t = "关于小区噪音扰民的投诉，夜间施工严重影响休息";
    cls_featurize(t, strlen(t), 1, 2, 0, 10, &v);
    for (size_t i = 0; i < v.n; i++) assert_true(v.idx[i] < 1024u);
    /* the first 4 characters' n-grams come once more under their own seed: 4 unigrams + 3 bigrams */
    cls_featurize(t, strlen(t), 1, 2, 0, 20, &v);
    cls_featurize(t, strlen(t), 1, 2, 4, 20, &h);
    assert_int_equal(s_total(&h), s_total(&v) + 7);
    /* deterministic: same text, same buckets */
    uint32_t first = v.idx[0];
    cls_featurize(t, strlen(t), 1, 2, 0, 20, &v);
    assert_int_equal(v.idx[0], first);
    assert_true(s_count_of(&v, first) >= 1);
    /* broken bytes are skipped, empty text has no features */
    assert_int_equal(cls_featurize("\xff\xfe", 2, 1, 3, 0, 16, &v), 0);
    assert_int_equal(cls_featurize("", 0, 1, 3, 0, 16, &v), 0);
    cls_fvec_free(&v);
    cls_fvec_free(&h);
}

static void test_long_text_reuses_vector(void **state) {
    (void)state;
    cls_fvec_t v;
    cls_fvec_init(&v);
    size_t n = 60000;
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++) t[i] = (char)('a' + (i * 7919 % 26));
    t[n] = 0;
    size_t f = cls_featurize(t, n, 1, 3, 20, 20, &v);
    assert_true(f > 26 && f <= n * 3);
    assert_int_equal(s_total(&v), n + (n - 1) + (n - 2) + 20 + 19 + 18);
    assert_int_equal(cls_featurize("短文本", strlen("短文本"), 1, 3, 20, 20, &v), 6 * 2);
    free(t);
    cls_fvec_free(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),           cmocka_unit_test(test_blanks_do_not_matter),
        cmocka_unit_test(test_buckets_and_head), cmocka_unit_test(test_long_text_reuses_vector),
    };
    return cmocka_run_group_tests_name("cls_features", tests, NULL, NULL);
}
