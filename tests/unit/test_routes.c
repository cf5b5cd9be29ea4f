/* test_routes.c -- the dispatcher's routes file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../services/dispatcher/routes.h"

static char *write_tmp(const char *text) {
    char *path = strdup("/tmp/jiesu-routes-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_limits(void **st) {
    (void)st;
    route_limit_t l;
    assert_int_equal(route_parse_limit("15wd", &l), 0);
    assert_int_equal(l.amount, 15);
    assert_int_equal(l.unit, 1);
    assert_int_equal(route_parse_limit("3d", &l), 0);
    assert_int_equal(l.unit, 2);
    assert_int_equal(route_parse_limit("24h", &l), 0);
    assert_int_equal(l.unit, 3);
    assert_true(route_parse_limit("0wd", &l) < 0);
    assert_true(route_parse_limit("-2d", &l) < 0);
    assert_true(route_parse_limit("5w", &l) < 0);
    assert_true(route_parse_limit("99999d", &l) < 0);
    assert_true(route_parse_limit("", &l) < 0);
}

static void test_shipped_file(void **st) {
    (void)st;
    routes_t r = {0};
    char err[256];
    assert_int_equal(routes_load(&r, "config/dispatch/routes.tsv", err, sizeof err), 0);
    const route_t *x = routes_find(&r, "环境保护");
    assert_string_equal(x->unit, "city-ecology");
    assert_string_equal(routes_find(&r, "no such topic")->topic, "*");
    assert_string_equal(routes_find(&r, NULL)->topic, "*");
    routes_free(&r);
}

static void test_errors_name_the_line(void **st) {
    (void)st;
    routes_t r = {0};
    char err[256];
    char *p = write_tmp("# c\n交通运输\tu1\t10wd\t24h\n交通运输\tu2\t10wd\t24h\n*\tu\t1d\t1h\n");
    assert_true(routes_load(&r, p, err, sizeof err) < 0);
    assert_non_null(strstr(err, ":3:"));
    unlink(p);
    free(p);
    p = write_tmp("a\tb\tbad\t24h\n*\tu\t1d\t1h\n");
    assert_true(routes_load(&r, p, err, sizeof err) < 0);
    assert_non_null(strstr(err, ":1:"));
    unlink(p);
    free(p);
    p = write_tmp("a\tb\t1d\t24h\n");
    assert_true(routes_load(&r, p, err, sizeof err) < 0);
    assert_non_null(strstr(err, "default route"));
    unlink(p);
    free(p);
    assert_true(routes_load(&r, "/nonexistent/routes.tsv", err, sizeof err) < 0);
    assert_null(r.v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_shipped_file),
        cmocka_unit_test(test_errors_name_the_line),
    };
    return cmocka_run_group_tests_name("dispatcher routes", tests, NULL, NULL);
}
