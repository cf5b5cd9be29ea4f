/* test_jsdefs.c -- errors, clocks, UTF-8 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsdefs.h"

static void test_utf8(void **state) {
    (void)state;
    const char ok[] = "接诉即办 hello";
    assert_true(js_utf8_valid(ok, strlen(ok)));
    assert_true(js_utf8_valid("", 0));
    assert_false(js_utf8_valid("\xff", 1));
    assert_false(js_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    assert_false(js_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(js_utf8_valid("\xe6\x8e", 2));         /* truncated */
    assert_false(js_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_true(js_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
}

static void test_clocks(void **state) {
    (void)state;
    int64_t a = js_mono_us(), b = js_mono_us();
    assert_true(b >= a);
    assert_true(js_now_ms() > 1700000000000LL);
}

static void test_strerror(void **state) {
    (void)state;
    assert_string_equal(js_strerror(JS_EUNKNOWN), "unknown field");
    assert_string_equal(js_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
    char *d = js_strdup("abc");
    assert_string_equal(d, "abc");
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("jsdefs", tests, NULL, NULL);
}
