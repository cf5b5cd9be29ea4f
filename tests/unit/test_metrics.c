/* test_metrics.c -- percentiles within the precision, exports parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "metrics.h"

static void near(int64_t got, double want) {
    double rel = (double)got / want - 1;
    if (rel < -0.035 || rel > 0.035) fail_msg("got %lld, want %.0f", (long long)got, want);
}

static void test_uniform(void **st) {
    (void)st;
    js_hist_t *h = js_hist_new();
    for (int v = 1; v <= 100000; v++) js_hist_record(h, v);
    assert_int_equal(js_hist_count(h), 100000);
    near(js_hist_percentile(h, 50), 50000);
    near(js_hist_percentile(h, 99), 99000);
    near(js_hist_percentile(h, 99.9), 99900);
    assert_true(js_hist_percentile(h, 99) >= 99000); /* never under-reported */
    assert_int_equal(js_hist_max(h), 100000);
    assert_int_equal(js_hist_percentile(h, 100), 100000);
    near((int64_t)js_hist_mean(h), 50000.5);
    js_hist_t *g = js_hist_new();
    js_hist_record(g, 5000000);
    js_hist_merge(h, g);
    assert_int_equal(js_hist_max(h), 5000000);
    js_hist_reset(h);
    assert_int_equal(js_hist_count(h), 0);
    assert_int_equal(js_hist_percentile(h, 50), 0);
    js_hist_record(h, -5);
    js_hist_record(h, INT64_C(1) << 50); /* clamped, no crash */
    js_hist_destroy(&h);
    js_hist_destroy(&g);
}

static void test_registry(void **st) {
    (void)st;
    js_metrics_t *m = js_metrics_new("intake");
    uint64_t *c = js_metrics_counter(m, "orders received");
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%d", i);
        (*js_metrics_counter(m, name))++;
    }
    *c = 7;
    assert_ptr_equal(c, js_metrics_counter(m, "orders received"));
    js_hist_record(js_metrics_hist(m, "fcall_us"), 1500);
    char *j = js_metrics_json(m);
    json_t *o = json_loads(j, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "orders received")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(o, "hist"), "fcall_us"), "count")), 1);
    json_decref(o);
    free(j);
    char *p = js_metrics_prometheus(m);
    assert_non_null(strstr(p, "jiesu_intake_orders_received_total 7\n"));
    assert_non_null(strstr(p, "jiesu_intake_fcall_us{quantile=\"0.99\"}"));
    assert_non_null(strstr(p, "jiesu_intake_fcall_us_count 1\n"));
    free(p);
    js_metrics_destroy(&m);
    assert_null(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
