/* test_simhash.c -- the same matter in nearly the same words is near; others are far. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "simhash.h"

static uint64_t s_h(const char *t) {
    return js_simhash(t, strlen(t), NULL);
}

static void test_near_and_far(void **state) {
    (void)state;
    const char *a = "A市A3区桐梓坡西路可可小城长期停水得不到解决，居民生活受到严重影响，多次反映无果";
    const char *b = "A市A3区桐梓坡西路可可小城长期停水，得不到解决！居民生活受到严重影响，多次反映都无果";
    const char *c = "建议在A5区白沙湾嘉园小区路口增设红绿灯，方便小朋友上学过马路";
    assert_int_equal(js_simhash_distance(s_h(a), s_h(a)), 0);
    assert_true(js_simhash_distance(s_h(a), s_h(b)) <= 12); /* intake.same_matter_max_distance */
    assert_true(js_simhash_distance(s_h(a), s_h(c)) > 20);
    size_t n;
    (void)js_simhash(a, strlen(a), &n);
    assert_true(n > 30);
}

static void test_spelling_does_not_matter(void **state) {
    (void)state;
    /* punctuation, blanks, case and full-width letters are not the matter */
    assert_int_equal(s_h("ab,cd!EF"), s_h("abcdef"));
    assert_int_equal(s_h("ＡＢＣ停水　了。"), s_h("abc停水了"));
    assert_int_equal(s_h("停水 了\n"), s_h("停水了"));
}

static void test_edges(void **state) {
    (void)state;
    size_t n = 99;
    assert_int_equal(js_simhash("", 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(js_simhash(NULL, 3, &n), 0);
    assert_int_not_equal(s_h("水"), s_h("电")); /* one or two characters hash whole */
    assert_int_equal(js_simhash("水电", strlen("水电"), &n) != 0, 1);
    assert_int_equal(n, 0);
    (void)js_simhash("\xff\xfe\xfd\xe6\xb0", 5, &n); /* broken UTF-8: skipped, no crash */
    assert_int_equal(n, 0);
    assert_int_equal(js_simhash_distance(0, ~0ull), 64);
    assert_int_equal(js_simhash_distance(0x5, 0x3), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_near_and_far),
        cmocka_unit_test(test_spelling_does_not_matter),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests_name("simhash", tests, NULL, NULL);
}
