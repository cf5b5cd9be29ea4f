/* test_conf.c -- precedence, file errors, env names, flags, help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"

static const js_conf_def_t defs[] = {
    {"redis.port", "6390", "Redis port"},
    {"redis.host", "127.0.0.1", "Redis host"},
    {"log.level", "info", "level"},
    {"flag", "no", "a bool"},
    {NULL, NULL, NULL},
};

static char *tmpfile_with(const char *text) {
    char *p = strdup("/tmp/jiesu-conf-XXXXXX");
    int fd = mkstemp(p);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return p;
}

static int load(js_conf_t *c, int argc, char **argv, int *rest, char *err) {
    return js_conf_load(c, argc, argv, rest, err, 256);
}

static void test_precedence(void **st) {
    (void)st;
    char err[256];
    char *file = tmpfile_with("# comment\nredis.port 7000\nredis.host \"10.0.0.1\"\nlog.level debug\n");
    setenv("JIESU_CONFIG", file, 1);
    setenv("JIESU_REDIS_PORT", "7001", 1);
    js_conf_t *c = js_conf_new("prog", "[opts]");
    js_conf_add(c, defs);
    char *argv[] = {"prog", "--log.level=warn", "--flag", "yes", "verb", "x", NULL};
    int rest = 0;
    assert_int_equal(load(c, 6, argv, &rest, err), 0);
    assert_int_equal(rest, 4);
    assert_string_equal(js_conf_str(c, "redis.host"), "10.0.0.1"); /* file */
    assert_int_equal(js_conf_int(c, "redis.port"), 7001);           /* env over file */
    assert_string_equal(js_conf_str(c, "log.level"), "warn");       /* flag over file */
    assert_true(js_conf_bool(c, "flag"));
    unsetenv("JIESU_CONFIG");
    unsetenv("JIESU_REDIS_PORT");
    js_conf_destroy(&c);
    assert_null(c);
    unlink(file);
    free(file);
}

static void test_errors(void **st) {
    (void)st;
    char err[256];
    js_conf_t *c = js_conf_new("prog", "");
    js_conf_add(c, defs);
    char *a1[] = {"prog", "--nope", "1", NULL};
    assert_true(load(c, 3, a1, NULL, err) < 0);
    assert_non_null(strstr(err, "--nope"));
    char *a2[] = {"prog", "--redis.port", NULL};
    assert_true(load(c, 2, a2, NULL, err) < 0);
    char *file = tmpfile_with("redis.port 1\nbogus 2\n");
    char *a3[] = {"prog", "--config", file, NULL};
    assert_true(load(c, 3, a3, NULL, err) < 0);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "bogus"));
    unlink(file);
    free(file);
    assert_int_equal(js_conf_set(c, "redis.port", "abc"), 0);
    assert_true(js_conf_check_int(c, "redis.port", 1, 65535, err, sizeof err) < 0);
    assert_string_equal(err, "redis.port: 'abc' is not an integer in [1, 65535]");
    assert_int_equal(js_conf_set(c, "nokey", "1"), -ENOENT);
    char *a4[] = {"prog", "--", "--redis.port", NULL};
    int rest = 0;
    assert_int_equal(load(c, 3, a4, &rest, err), 0);
    assert_int_equal(rest, 2);
    js_conf_destroy(&c);
}

static void test_help(void **st) {
    (void)st;
    js_conf_t *c = js_conf_new("jiesu-x", "[--key value ...]");
    js_conf_add(c, defs);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    js_conf_print_help(c, f);
    fclose(f);
    assert_non_null(strstr(buf, "usage: jiesu-x [--key value ...]"));
    assert_non_null(strstr(buf, "--redis.port"));
    assert_non_null(strstr(buf, "JIESU_REDIS_PORT"));
    assert_non_null(strstr(buf, "default: \"6390\""));
    free(buf);
    js_conf_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
