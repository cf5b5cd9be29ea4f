/* test_ids.c -- ids are unique, sortable, well-formed; trace ids are hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ids.h"
#include "jsdefs.h"

static void test_unique_sorted(void **st) {
    (void)st;
    enum { N = 100000 };
    char(*ids)[JS_ID_LEN + 1] = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++) js_id_new(ids[i]);
    for (int i = 1; i < N; i++) assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    for (int i = 0; i < N; i += 997) assert_true(js_id_valid(ids[i]));
    free(ids);
}

static void test_time_roundtrip(void **st) {
    (void)st;
    char a[JS_ID_LEN + 1], b[JS_ID_LEN + 1];
    js_id_at(a, 1763800000123LL);
    assert_int_equal(js_id_time_ms(a), 1763800000123LL);
    js_id_at(b, 1763800000124LL); /* a later millisecond sorts after */
    assert_true(strcmp(a, b) < 0);
    js_id_new(a);
    int64_t now = js_now_ms();
    assert_true(js_id_time_ms(a) >= now - 5000);
}

static void test_validity(void **st) {
    (void)st;
    assert_false(js_id_valid(""));
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZ"));   /* 25 */
    assert_false(js_id_valid("81JABCDEFGHJKMNPQRSTVWXYZ0"));  /* first > 7 */
    assert_false(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZI"));  /* I not in the alphabet */
    assert_false(js_id_valid("01jabcdefghjkmnpqrstvwxyz0"));  /* lower case */
    assert_true(js_id_valid("01JABCDEFGHJKMNPQRSTVWXYZ0"));
    assert_int_equal(js_id_time_ms("bad"), -1);
    assert_false(js_id_valid(NULL));
}

static void test_trace(void **st) {
    (void)st;
    char t[JS_TRACE_LEN + 1], u[JS_TRACE_LEN + 1];
    js_trace_new(t);
    js_trace_new(u);
    assert_int_equal(strlen(t), 32);
    assert_string_not_equal(t, u);
    for (int i = 0; i < 32; i++) assert_true((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f'));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unique_sorted),
        cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests_name("ids", tests, NULL, NULL);
}
