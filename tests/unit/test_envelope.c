/* test_envelope.c -- every way a boundary message can be bad is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"
#include "ids.h"

static uint8_t *packed_submission(size_t *len, const char *content, const char *name) {
    static Jiesu__V1__Submission s;
    static Jiesu__V1__RequesterInput r;
    jiesu__v1__submission__init(&s);
    jiesu__v1__requester_input__init(&r);
    s.content = (char *)content;
    s.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    r.name = (char *)name;
    s.requester = &r;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    static char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.submission", "test/1", "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION;
    env.submission = &s;
    return js_env_pack(&env, len);
}

static int unpack(const uint8_t *b, size_t n, char *err) {
    js_env_t *e = NULL;
    int rc = js_env_unpack(b, n, JS_ENV_MAX_DEFAULT, &e, err, 256);
    if (rc == 0) {
        assert_non_null(e);
        js_env_free(e);
    } else {
        assert_null(e);
    }
    return rc;
}

static void test_roundtrip(void **st) {
    (void)st;
    size_t n;
    uint8_t *b = packed_submission(&n, "路灯坏了", "张三");
    js_env_t *e;
    char err[256];
    assert_int_equal(js_env_unpack(b, n, JS_ENV_MAX_DEFAULT, &e, err, sizeof err), 0);
    assert_string_equal(e->submission->content, "路灯坏了");
    assert_string_equal(e->spec_version, "1.0");
    assert_true(js_id_valid(e->id));
    js_env_free(e);
    free(b);
}

static void test_random_bytes(void **st) {
    (void)st;
    uint32_t x = 12345;
    char err[256];
    int ok = 0;
    for (int i = 0; i < 10000; i++) {
        uint8_t buf[200];
        size_t n = 1 + (x % sizeof buf);
        for (size_t k = 0; k < n; k++) {
            x = x * 1103515245u + 12345u;
            buf[k] = (uint8_t)(x >> 16);
        }
        if (unpack(buf, n, err) == 0) ok++;
    }
    assert_true(ok < 10); /* random bytes are (almost) never a valid envelope */
}

static void test_truncated_and_big(void **st) {
    (void)st;
    size_t n;
    uint8_t *b = packed_submission(&n, "路灯坏了很久了", "张三");
    char err[256];
    for (size_t cut = 1; cut < n; cut++) assert_true(unpack(b, cut, err) < 0);
    free(b);
    uint8_t *big = calloc(10 * 1024 * 1024, 1);
    assert_int_equal(unpack(big, 10 * 1024 * 1024, err), -E2BIG);
    free(big);
}

static void test_field0_and_unknown(void **st) {
    (void)st;
    size_t n;
    uint8_t *b = packed_submission(&n, "x", "y");
    uint8_t *c = malloc(n + 8);
    char err[256];
    /* field 0, varint */
    memcpy(c, b, n);
    c[n] = 0x00;
    c[n + 1] = 0x01;
    int rc = unpack(c, n + 2, err);
    assert_true(rc == JS_EPROTO_FIELD0 || rc == -EPROTO);
    /* field 99 at the top */
    memcpy(c, b, n);
    c[n] = 0x98;
    c[n + 1] = 0x06;
    c[n + 2] = 0x01;
    assert_int_equal(unpack(c, n + 3, err), JS_EUNKNOWN);
    assert_non_null(strstr(err, "99"));
    free(c);
    free(b);
    /* unknown field nested inside the submission: build the submission bytes by hand */
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    s.content = "x";
    uint8_t sb[64];
    size_t sl = jiesu__v1__submission__pack(&s, sb);
    sb[sl++] = 0x98; /* field 99 */
    sb[sl++] = 0x06;
    sb[sl++] = 0x05;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "t", "s", "", "");
    uint8_t eb[256];
    size_t el = jiesu__v1__envelope__pack(&env, eb);
    eb[el++] = 0xAA; /* field 21 (submission), length-delimited */
    eb[el++] = 0x01;
    eb[el++] = (uint8_t)sl;
    memcpy(eb + el, sb, sl);
    el += sl;
    assert_int_equal(unpack(eb, el, err), JS_EUNKNOWN);
    assert_non_null(strstr(err, "envelope.submission"));
}

static void test_utf8_and_required(void **st) {
    (void)st;
    size_t n;
    char err[256];
    uint8_t *b = packed_submission(&n, "ok", "bad \xff name");
    assert_int_equal(unpack(b, n, err), JS_EUTF8);
    assert_non_null(strstr(err, "envelope.submission.requester.name"));
    free(b);
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    env.id = "x";
    env.source = "s";
    uint8_t eb[128];
    size_t el = jiesu__v1__envelope__pack(&env, eb);
    assert_int_equal(unpack(eb, el, err), JS_EREQUIRED);
    assert_non_null(strstr(err, "type"));
    env.type = "t";
    el = jiesu__v1__envelope__pack(&env, eb);
    assert_int_equal(unpack(eb, el, err), JS_EREQUIRED);
    assert_non_null(strstr(err, "payload"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_truncated_and_big),
        cmocka_unit_test(test_field0_and_unknown),
        cmocka_unit_test(test_utf8_and_required),
    };
    return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
