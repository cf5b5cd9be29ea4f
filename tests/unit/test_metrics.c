/* test_metrics.c -- percentiles within the precision and never under, merges
 * that lose nothing, exports that parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "jsdefs.h"
#include "metrics.h"

#define REL 0.035 /* the brief's bound; the buckets promise 1/32 */

static uint64_t s_rng;
static uint64_t rnd(void) { /* xorshift64*, seeded: a failure repeats */
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * UINT64_C(2685821657736338717);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted v[0..n). */
static int64_t exact(const int64_t *v, size_t n, double q) {
    size_t rank = (size_t)ceil(q / 100.0 * (double)n - 1e-9);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1];
}

/* got is never under want, and within REL over it. */
static void check_q(const js_hist_t *h, double q, int64_t want) {
    int64_t got = js_hist_percentile(h, q);
    if (got < want || (double)got > (double)want * (1 + REL) + 0.5)
        fail_msg("p%g = %lld, true value %lld", q, (long long)got, (long long)want);
}

static const double QS[] = {0, 0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100};

/* ---- histogram ---------------------------------------------------------------- */

static void test_buckets(void **st) {
    (void)st;
    /* For one value v below a far larger one, p50 is the upper bound of v's
     * bucket: v itself below 32, never under v, within 1/32 above, and
     * never decreasing as v grows. */
    js_hist_t *h = js_hist_new();
    int64_t last = -1;
    for (int64_t v = 0; v <= JS_HIST_MAX_US; v = v < 70000 ? v + 1 : v + v / 997) {
        js_hist_reset(h);
        js_hist_record(h, v);
        js_hist_record(h, JS_HIST_MAX_US);
        int64_t u = js_hist_percentile(h, 50);
        if (v < 32) assert_int_equal(u, v);
        if (u < v || (double)u > (double)v * (1 + 1.0 / 32))
            fail_msg("bucket of %lld ends at %lld", (long long)v, (long long)u);
        assert_true(u >= last);
        last = u;
    }
    js_hist_destroy(&h);
    assert_null(h);
    js_hist_destroy(&h);
    js_hist_destroy(NULL);
}

static void test_uniform(void **st) {
    (void)st;
    js_hist_t *h = js_hist_new();
    const int64_t n = 100000;
    for (int64_t v = 1; v <= n; v++)
        js_hist_record(h, v);
    assert_int_equal(js_hist_count(h), n);
    assert_int_equal(js_hist_max(h), n);
    assert_true(fabs(js_hist_mean(h) - 50000.5) < 1e-9);
    /* every tenth of a percent: the true value of rank ceil(q n) is that rank */
    for (int t = 1; t <= 1000; t++) {
        double q = t / 10.0;
        check_q(h, q, (int64_t)ceil(q / 100.0 * (double)n - 1e-9));
    }
    check_q(h, 50, 50000);
    check_q(h, 99, 99000);
    check_q(h, 99.9, 99900);
    assert_int_equal(js_hist_percentile(h, 100), n);
    assert_int_equal(js_hist_percentile(h, 0), 1);
    assert_int_equal(js_hist_percentile(h, -5), 1);
    assert_int_equal(js_hist_percentile(h, 250), n);
    assert_int_equal(js_hist_percentile(h, NAN), 1);
    js_hist_destroy(&h);
}

static void test_log_uniform(void **st) {
    (void)st;
    /* latencies spread over every scale, 1 us to an hour */
    s_rng = 0x1A7E5C7ULL;
    const size_t n = 50000;
    int64_t *v = malloc(n * sizeof *v);
    assert_non_null(v);
    js_hist_t *h = js_hist_new();
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)(rnd() >> 11) / 9007199254740992.0; /* [0,1) */
        v[i] = (int64_t)exp(x * log(3.6e9));
        js_hist_record(h, v[i]);
        sum += (double)v[i];
    }
    qsort(v, n, sizeof *v, cmp_i64);
    for (size_t k = 0; k < JS_ARRAY_LEN(QS); k++)
        check_q(h, QS[k], exact(v, n, QS[k]));
    assert_int_equal(js_hist_max(h), v[n - 1]);
    assert_true(fabs(js_hist_mean(h) - sum / (double)n) < 1e-6 * sum / (double)n);
    js_hist_destroy(&h);
    free(v);
}

static void test_edges(void **st) {
    (void)st;
    js_hist_t *h = js_hist_new();
    assert_int_equal(js_hist_count(h), 0);
    assert_int_equal(js_hist_percentile(h, 50), 0);
    assert_int_equal(js_hist_max(h), 0);
    assert_true(js_hist_mean(h) == 0.0);
    /* one value: every percentile is that value */
    js_hist_record(h, 12345);
    for (size_t k = 0; k < JS_ARRAY_LEN(QS); k++)
        assert_int_equal(js_hist_percentile(h, QS[k]), 12345);
    /* nearest rank on a small exact set: the ceil(q n)-th value, not the floor */
    js_hist_reset(h);
    for (int v = 10; v >= 1; v--)
        js_hist_record(h, v);
    static const struct {
        double q;
        int64_t v;
    } ranks[] = {{0, 1},    {10, 1}, {10.01, 2}, {25, 3},    {50, 5},
                 {50.5, 6}, {90, 9}, {91, 10},   {99.9, 10}, {100, 10}};
    for (size_t k = 0; k < JS_ARRAY_LEN(ranks); k++)
        assert_int_equal(js_hist_percentile(h, ranks[k].q), ranks[k].v);
    /* negatives count as 0 */
    js_hist_reset(h);
    js_hist_record(h, -5);
    js_hist_record(h, -1000000);
    assert_int_equal(js_hist_count(h), 2);
    assert_int_equal(js_hist_percentile(h, 100), 0);
    assert_int_equal(js_hist_max(h), 0);
    assert_true(js_hist_mean(h) == 0.0);
    /* over the top: max stays exact, and the top bucket reports it, never less */
    js_hist_reset(h);
    int64_t ten_hours = INT64_C(36000000000);
    js_hist_record(h, 1);
    js_hist_record(h, ten_hours);
    assert_int_equal(js_hist_max(h), ten_hours);
    assert_int_equal(js_hist_percentile(h, 50), 1);
    assert_int_equal(js_hist_percentile(h, 99), ten_hours);
    assert_true(fabs(js_hist_mean(h) - (ten_hours + 1) / 2.0) < 1);
    /* the sum saturates instead of overflowing (UBSan would say) */
    js_hist_record(h, INT64_MAX);
    js_hist_record(h, INT64_MAX);
    js_hist_record(h, INT64_MAX);
    assert_int_equal(js_hist_max(h), INT64_MAX);
    assert_true(isfinite(js_hist_mean(h)) && js_hist_mean(h) > 0);
    assert_int_equal(js_hist_percentile(h, 100), INT64_MAX);
    js_hist_destroy(&h);
}

static void test_merge_reset(void **st) {
    (void)st;
    s_rng = 0xBEEFULL;
    js_hist_t *a = js_hist_new(), *b = js_hist_new(), *all = js_hist_new(), *empty = js_hist_new();
    for (int i = 0; i < 20000; i++) {
        int64_t x = (int64_t)(rnd() % 5000), y = 1000000 + (int64_t)(rnd() % 9000000);
        js_hist_record(a, x);
        js_hist_record(b, y);
        js_hist_record(all, x);
        js_hist_record(all, y);
    }
    js_hist_merge(a, empty); /* nothing changes */
    assert_int_equal(js_hist_count(a), 20000);
    js_hist_merge(a, b);
    assert_int_equal(js_hist_count(a), js_hist_count(all));
    assert_int_equal(js_hist_max(a), js_hist_max(all));
    assert_true(js_hist_mean(a) == js_hist_mean(all));
    for (int t = 0; t <= 1000; t++)
        assert_int_equal(js_hist_percentile(a, t / 10.0), js_hist_percentile(all, t / 10.0));
    /* the lower half is a's, the upper half b's */
    assert_true(js_hist_percentile(a, 49) < 5200);
    assert_true(js_hist_percentile(a, 51) >= 1000000);
    js_hist_merge(empty, all); /* into an empty one: a copy */
    assert_int_equal(js_hist_percentile(empty, 99), js_hist_percentile(all, 99));
    assert_int_equal(js_hist_max(empty), js_hist_max(all));
    js_hist_reset(a);
    assert_int_equal(js_hist_count(a), 0);
    assert_int_equal(js_hist_max(a), 0);
    assert_int_equal(js_hist_percentile(a, 50), 0);
    js_hist_record(a, 7);
    assert_int_equal(js_hist_percentile(a, 50), 7);
    js_hist_destroy(&a);
    js_hist_destroy(&b);
    js_hist_destroy(&all);
    js_hist_destroy(&empty);
}

/* ---- registry ------------------------------------------------------------------ */

static void test_counters(void **st) {
    (void)st;
    js_metrics_t *m = js_metrics_new("intake");
    uint64_t *first = js_metrics_counter(m, "orders_received");
    *first = 7;
    enum { N = 5000 };
    uint64_t **ptrs = malloc(N * sizeof *ptrs);
    assert_non_null(ptrs);
    for (int i = 0; i < N; i++) { /* many adds: the registry's array grows and moves */
        char name[32];
        snprintf(name, sizeof name, "c%d", i);
        ptrs[i] = js_metrics_counter(m, name);
        assert_int_equal(*ptrs[i], 0);
        *ptrs[i] = (uint64_t)i;
    }
    assert_ptr_equal(first, js_metrics_counter(m, "orders_received"));
    assert_int_equal(*first, 7);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%d", i);
        assert_ptr_equal(ptrs[i], js_metrics_counter(m, name));
        assert_int_equal(*ptrs[i], (uint64_t)i);
        if (i) assert_ptr_not_equal(ptrs[i], ptrs[i - 1]);
    }
    /* a histogram of the same name is another thing */
    js_hist_t *h = js_metrics_hist(m, "orders_received");
    assert_non_null(h);
    assert_ptr_equal(h, js_metrics_hist(m, "orders_received"));
    assert_ptr_equal(first, js_metrics_counter(m, "orders_received"));
    free(ptrs);
    js_metrics_destroy(&m);
    assert_null(m);
    js_metrics_destroy(&m);
    js_metrics_destroy(NULL);
}

static void test_json(void **st) {
    (void)st;
    js_metrics_t *m = js_metrics_new("intake");
    char *j = js_metrics_json(m);
    assert_string_equal(j, "{\"hist\":{}}");
    free(j);
    *js_metrics_counter(m, "orders received") = 7;
    *js_metrics_counter(m, "派单") = 3;
    *js_metrics_counter(m, "huge") = UINT64_MAX;
    js_metrics_counter(m, "bad \xff name");
    js_hist_t *h = js_metrics_hist(m, "fcall_us");
    for (int v = 1; v <= 1000; v++)
        js_hist_record(h, v);
    js_metrics_hist(m, "idle_us");
    j = js_metrics_json(m);
    json_error_t e;
    json_t *o = json_loads(j, 0, &e);
    if (!o) fail_msg("json: %s in %s", e.text, j);
    assert_int_equal(json_integer_value(json_object_get(o, "orders received")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "派单")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "huge")), INT64_MAX);
    assert_int_equal(json_object_size(o), 4); /* the non-UTF-8 name is left out */
    json_t *hs = json_object_get(o, "hist"), *f = json_object_get(hs, "fcall_us");
    assert_int_equal(json_object_size(hs), 2);
    assert_int_equal(json_integer_value(json_object_get(f, "count")), 1000);
    assert_int_equal(json_integer_value(json_object_get(f, "p50_us")), js_hist_percentile(h, 50));
    assert_int_equal(json_integer_value(json_object_get(f, "p99_us")), js_hist_percentile(h, 99));
    assert_int_equal(json_integer_value(json_object_get(f, "p999_us")), js_hist_percentile(h, 99.9));
    assert_int_equal(json_integer_value(json_object_get(f, "max_us")), 1000);
    assert_true(fabs(json_real_value(json_object_get(f, "mean_us")) - 500.5) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(hs, "idle_us"), "count")), 0);
    json_decref(o);
    free(j);
    js_metrics_destroy(&m);
}

/* Every line is a TYPE comment or "name[{quantile="x"}] value". */
static void check_exposition(const char *text) {
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl); /* every line ends */
        char buf[512];
        size_t n = (size_t)(nl - line);
        assert_true(n < sizeof buf);
        memcpy(buf, line, n);
        buf[n] = '\0';
        char name[256], kind[32], rest[64];
        if (strncmp(buf, "# ", 2) == 0) {
            assert_int_equal(sscanf(buf, "# TYPE %255s %31s %63s", name, kind, rest), 2);
            assert_true(strcmp(kind, "counter") == 0 || strcmp(kind, "summary") == 0);
        } else {
            size_t k = strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
            assert_true(k > 0);
            if (buf[k] == '{') {
                double q;
                int used = 0;
                assert_int_equal(sscanf(buf + k, "{quantile=\"%lf\"}%n", &q, &used), 1);
                assert_true(used > 0 && q > 0 && q < 1);
                k += (size_t)used;
            }
            assert_int_equal(buf[k], ' ');
            assert_true(strspn(buf + k + 1, "0123456789") == strlen(buf + k + 1) && buf[k + 1]);
        }
        line = nl + 1;
    }
}

static void test_prometheus(void **st) {
    (void)st;
    js_metrics_t *m = js_metrics_new("deadline-timer");
    char *p = js_metrics_prometheus(m);
    assert_string_equal(p, "");
    free(p);
    *js_metrics_counter(m, "orders received") = 7;
    *js_metrics_counter(m, "bytes_total") = 9;
    js_metrics_counter(m, "派单");
    js_hist_t *h = js_metrics_hist(m, "fire_lag_us");
    for (int v = 1; v <= 100000; v++)
        js_hist_record(h, v);
    p = js_metrics_prometheus(m);
    check_exposition(p);
    char *text = malloc(strlen(p) + 2);
    text[0] = '\n';
    strcpy(text + 1, p);
    char want[256];
    static const char *const lines[] = {
        "# TYPE jiesu_deadline_timer_orders_received_total counter",
        "jiesu_deadline_timer_orders_received_total 7",
        "# TYPE jiesu_deadline_timer_bytes_total counter",
        "jiesu_deadline_timer_bytes_total 9",
        "jiesu_deadline_timer_"
        "______"
        "_total 0", /* 派单: six bytes, six underscores */
        "# TYPE jiesu_deadline_timer_fire_lag_us summary",
        "jiesu_deadline_timer_fire_lag_us_sum 5000050000",
        "jiesu_deadline_timer_fire_lag_us_count 100000",
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(lines); i++) {
        snprintf(want, sizeof want, "\n%s\n", lines[i]);
        if (!strstr(text, want)) fail_msg("no line \"%s\" in:\n%s", lines[i], p);
    }
    static const struct {
        const char *label;
        double q;
    } qs[] = {{"0.5", 50}, {"0.99", 99}, {"0.999", 99.9}};
    for (size_t i = 0; i < JS_ARRAY_LEN(qs); i++) {
        snprintf(want, sizeof want, "\njiesu_deadline_timer_fire_lag_us{quantile=\"%s\"} %lld\n", qs[i].label,
                 (long long)js_hist_percentile(h, qs[i].q));
        if (!strstr(text, want)) fail_msg("no line \"%s\" in:\n%s", want + 1, p);
    }
    assert_null(strstr(text, "_total_total"));
    free(text);
    free(p);
    js_metrics_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),     cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_log_uniform), cmocka_unit_test(test_edges),
        cmocka_unit_test(test_merge_reset), cmocka_unit_test(test_counters),
        cmocka_unit_test(test_json),        cmocka_unit_test(test_prometheus),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
