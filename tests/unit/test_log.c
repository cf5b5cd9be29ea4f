/* test_log.c -- every line is one valid JSON object; contact-like digits masked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "log.h"

static json_t *parse(const char *line) {
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    if (!j) fprintf(stderr, "not JSON (%s): %s\n", e.text, line);
    return j;
}

static void test_format_fields(void **st) {
    (void)st;
    js_log_init("intake", "h-1", JS_LOG_INFO, stderr);
    char line[1024];
    size_t n = js_log_format(line, sizeof line, 1763800000123LL, JS_LOG_WARN, "01JORDER", "abc", "he said \"hi\"\n\x01");
    assert_int_equal(line[n - 1], '\n');
    json_t *j = parse(line);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "ts")), "2025-11-22T08:26:40.123Z");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(j, "service")), "intake");
    assert_string_equal(json_string_value(json_object_get(j, "order")), "01JORDER");
    assert_string_equal(json_string_value(json_object_get(j, "trace")), "abc");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "he said \"hi\"\n\x01");
    json_decref(j);
    n = js_log_format(line, sizeof line, 0, JS_LOG_INFO, NULL, "", "x");
    j = parse(line);
    assert_null(json_object_get(j, "order"));
    assert_null(json_object_get(j, "trace"));
    json_decref(j);
}

static void test_bad_utf8_and_long(void **st) {
    (void)st;
    char line[512];
    js_log_format(line, sizeof line, 0, JS_LOG_INFO, NULL, NULL, "bad \xff\xfe bytes 接诉");
    json_t *j = parse(line);
    assert_non_null(j);
    assert_non_null(strstr(json_string_value(json_object_get(j, "msg")), "\xEF\xBF\xBD"));
    json_decref(j);
    char *big = malloc(5000);
    for (int i = 0; i < 4999; i++) big[i] = i % 7 ? 'a' : '"';
    big[4999] = 0;
    size_t n = js_log_format(line, sizeof line, 0, JS_LOG_INFO, NULL, NULL, big);
    assert_true(n < sizeof line);
    j = parse(line);
    assert_non_null(j);
    json_decref(j);
    free(big);
}

static void test_masking_and_levels(void **st) {
    (void)st;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    FILE *w = fdopen(fds[1], "w");
    js_log_init("t", "i", JS_LOG_INFO, w);
    js_log(JS_LOG_DEBUG, NULL, NULL, "hidden");
    js_log(JS_LOG_INFO, NULL, NULL, "call %s or %s, order 42", "13812345678", "1234567");
    fclose(w);
    char buf[1024] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    assert_null(strstr(buf, "hidden"));
    assert_null(strchr(strchr(buf, '\n') + 1, '{')); /* one line only */
    json_t *j = parse(buf);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "call 138****5678 or *****67, order 42");
    json_decref(j);
    assert_int_equal(js_log_level_parse("error"), JS_LOG_ERROR);
    assert_int_equal(js_log_level_parse("loud"), -1);
    js_log_init("t", "i", JS_LOG_INFO, stderr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_fields),
        cmocka_unit_test(test_bad_utf8_and_long),
        cmocka_unit_test(test_masking_and_levels),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
