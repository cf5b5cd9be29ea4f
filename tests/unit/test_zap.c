/* test_zap.c -- intake's partner allow-list and ZAP decisions, and what a
 * partner submission becomes (services/intake/zap.h, submission.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../services/intake/submission.h"
#include "../../services/intake/zap.h"

static char s_path[64];
static char s_pub[3][41], s_sec[3][41];

static int setup(void **st) {
    (void)st;
    for (int i = 0; i < 3; i++)
        if (js_curve_keypair(s_pub[i], s_sec[i]) < 0) return -1;
    snprintf(s_path, sizeof s_path, "/tmp/jiesu-zap-XXXXXX");
    int fd = mkstemp(s_path);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    unlink(s_path);
    return 0;
}

static void write_list(const char *text) {
    FILE *f = fopen(s_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int load(intake_allow_t *a, char *err) {
    return intake_allow_load(s_path, a, err, 512);
}

static void test_allow_list(void **st) {
    (void)st;
    char text[512], err[512];
    intake_allow_t a = {NULL, 0};
    snprintf(text, sizeof text, "# partners\n\ncityA\t%s\n  cityB   %s  \ncityA\t%s\n", s_pub[0], s_pub[1], s_pub[2]);
    write_list(text);
    assert_int_equal(load(&a, err), 0);
    assert_int_equal(a.n, 3); /* cityA twice: a key being rotated */
    uint8_t raw[32];
    assert_true(js_curve_z85_ok(s_pub[1], raw));
    assert_string_equal(intake_allow_find(&a, raw), "cityB");
    assert_string_equal(intake_allow_find_z85(&a, s_pub[2]), "cityA");
    assert_null(intake_allow_find_z85(&a, s_sec[0]));
    /* every error names the line, and the list in hand stays */
    const char *bad[][2] = {
        {"cityA\n", ":1: want 'partner_id<TAB>Z85 public key'"},
        {"# x\ncity A\tKEY\n", ":2: want"},
        {"城市\tKEY\n", ":1: bad partner id"},
        {"cityA\tnot-a-key\n", ":1: 'not-a-key' is not a 40-character Z85 public key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[256];
        snprintf(t, sizeof t, "%s", bad[i][0]);
        char *k = strstr(t, "KEY");
        if (k) memcpy(k, "", 1), strcat(t, s_pub[0]), strcat(t, "\n");
        write_list(t);
        assert_int_equal(load(&a, err), -EINVAL);
        assert_non_null(strstr(err, bad[i][1]));
        assert_non_null(strstr(err, s_path));
        assert_int_equal(a.n, 3);
    }
    snprintf(text, sizeof text, "cityA\t%s\ncityB\t%s\n", s_pub[0], s_pub[0]);
    write_list(text);
    assert_int_equal(load(&a, err), -EINVAL);
    assert_non_null(strstr(err, ":2: the key is listed already (for cityA)"));
    char longline[2000];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    write_list(longline);
    assert_int_equal(load(&a, err), -EINVAL);
    assert_non_null(strstr(err, ":1: line over"));
    assert_int_equal(intake_allow_load("/nonexistent/list.tsv", &a, err, sizeof err), -ENOENT);
    assert_int_equal(intake_allow_load("", &a, err, sizeof err), 0);
    assert_int_equal(a.n, 0);
    intake_allow_free(&a);
}

static void test_zap_check(void **st) {
    (void)st;
    char text[256], err[512];
    snprintf(text, sizeof text, "cityA\t%s\n", s_pub[0]);
    write_list(text);
    intake_allow_t a = {NULL, 0};
    assert_int_equal(load(&a, err), 0);
    uint8_t k0[32], k1[32];
    js_curve_z85_ok(s_pub[0], k0);
    js_curve_z85_ok(s_pub[1], k1);
    js_frame_t f[7] = {{"1.0", 3}, {"7", 1}, {INTAKE_ZAP_DOMAIN, strlen(INTAKE_ZAP_DOMAIN)},
                       {"127.0.0.1", 9}, {"", 0}, {"CURVE", 5}, {k0, 32}};
    intake_zap_answer_t ans;
    intake_zap_check(&a, f, 7, &ans);
    assert_string_equal(ans.status, "200");
    assert_string_equal(ans.user_id, "cityA");
    assert_string_equal(ans.z85, s_pub[0]);
    f[6].data = k1;
    intake_zap_check(&a, f, 7, &ans);
    assert_string_equal(ans.status, "400");
    assert_string_equal(ans.user_id, "");
    assert_non_null(strstr(ans.text, "allow-list"));
    f[6].data = k0;
    f[2] = (js_frame_t){"other", 5};
    intake_zap_check(&a, f, 7, &ans);
    assert_string_equal(ans.status, "400");
    f[2] = (js_frame_t){INTAKE_ZAP_DOMAIN, strlen(INTAKE_ZAP_DOMAIN)};
    f[5] = (js_frame_t){"PLAIN", 5};
    intake_zap_check(&a, f, 7, &ans);
    assert_string_equal(ans.status, "400");
    f[5] = (js_frame_t){"CURVE", 5};
    f[6].size = 31;
    intake_zap_check(&a, f, 7, &ans);
    assert_string_equal(ans.status, "400");
    f[6].size = 32;
    f[0] = (js_frame_t){"2.0", 3};
    intake_zap_check(&a, f, 7, &ans);
    assert_string_equal(ans.status, "500");
    f[0] = (js_frame_t){"1.0", 3};
    intake_zap_check(&a, f, 3, &ans);
    assert_string_equal(ans.status, "500");
    intake_allow_free(&a);
}

static void test_partner_prepare(void **st) {
    (void)st;
    char field[64], msg[256];
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    s.content = "对面城市的一件事";
    s.partner_order_id = "A-1";
    assert_null(intake_partner_prepare(&s, "cityA", field, sizeof field, msg, sizeof msg));
    assert_int_equal(s.channel, JIESU__V1__CHANNEL__CHANNEL_PARTNER);
    assert_string_equal(s.partner_id, "cityA");
    assert_string_equal(s.idempotency_key, "A-1");
    intake_limits_t l;
    intake_limits_default(&l);
    assert_null(intake_check(&s, &l, 1763800000000LL, field, sizeof field, msg, sizeof msg));
    /* another partner named in the payload */
    Jiesu__V1__Submission t = JIESU__V1__SUBMISSION__INIT;
    t.content = "x";
    t.partner_order_id = "A-2";
    t.partner_id = "cityC";
    assert_string_equal(intake_partner_prepare(&t, "cityA", field, sizeof field, msg, sizeof msg), "forbidden");
    assert_string_equal(field, "submission.partner_id");
    assert_non_null(strstr(msg, "cityC"));
    t.partner_id = "cityA";
    t.idempotency_key = "own-key";
    assert_null(intake_partner_prepare(&t, "cityA", field, sizeof field, msg, sizeof msg));
    assert_string_equal(t.idempotency_key, "own-key");
    /* other channels, no order id, an order id that cannot be a key */
    Jiesu__V1__Submission u = JIESU__V1__SUBMISSION__INIT;
    u.content = "x";
    u.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    u.partner_order_id = "A-3";
    assert_string_equal(intake_partner_prepare(&u, "cityA", field, sizeof field, msg, sizeof msg), "bad_request");
    assert_string_equal(field, "submission.channel");
    u.channel = JIESU__V1__CHANNEL__CHANNEL_PARTNER;
    u.partner_order_id = "";
    assert_string_equal(intake_partner_prepare(&u, "cityA", field, sizeof field, msg, sizeof msg), "bad_request");
    assert_string_equal(field, "submission.partner_order_id");
    u.partner_order_id = "A 4/5";
    assert_string_equal(intake_partner_prepare(&u, "cityA", field, sizeof field, msg, sizeof msg), "bad_request");
    assert_non_null(strstr(msg, "idempotency key"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_zap_check),
        cmocka_unit_test(test_partner_prepare),
    };
    return cmocka_run_group_tests_name("intake partner endpoint", tests, setup, teardown);
}
