/* test_submission.c -- intake's checks and the order it builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../services/intake/submission.h"
#include "jsdefs.h"

static const int64_t NOW = 1763800000000LL;

static const char *check(const Jiesu__V1__Submission *s, char *field) {
    intake_limits_t l;
    intake_limits_default(&l);
    char msg[256];
    return intake_check(s, &l, NOW, field, 64, msg, sizeof msg);
}

static void test_valid_minimal(void **st) {
    (void)st;
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    s.content = "小区东门的下水道堵了，污水漫到路面";
    s.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    char field[64];
    assert_null(check(&s, field));
}

static void test_rejections(void **st) {
    (void)st;
    char field[64];
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    s.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    s.content = "";
    assert_string_equal(check(&s, field), "bad_request");
    assert_string_equal(field, "submission.content");
    s.content = "  \n\t ";
    assert_string_equal(check(&s, field), "bad_request");
    s.content = "ok";
    s.channel = 0;
    assert_string_equal(check(&s, field), "bad_request");
    assert_string_equal(field, "submission.channel");
    s.channel = 99;
    assert_string_equal(check(&s, field), "bad_request");
    s.channel = JIESU__V1__CHANNEL__CHANNEL_PARTNER;
    assert_string_equal(check(&s, field), "bad_request");
    s.partner_id = "tianjin";
    s.partner_order_id = "TJ-1";
    assert_null(check(&s, field));
    s.idempotency_key = "has space";
    assert_string_equal(check(&s, field), "bad_request");
    assert_string_equal(field, "submission.idempotency_key");
    s.idempotency_key = "ok-key_1.2:3";
    assert_null(check(&s, field));

    char *big = malloc(70000);
    memset(big, 'a', 69999);
    big[69999] = 0;
    s.content = big;
    assert_string_equal(check(&s, field), "too_large");
    free(big);
    s.content = "ok";

    Jiesu__V1__RequesterInput r = JIESU__V1__REQUESTER_INPUT__INIT;
    r.contact = "not a phone";
    s.requester = &r;
    assert_string_equal(check(&s, field), "bad_request");
    assert_string_equal(field, "submission.requester.contact");
    r.contact = "+86 138-1234-5678";
    assert_null(check(&s, field));
    r.contact = "someone@example.cn";
    assert_null(check(&s, field));

    Jiesu__V1__Location loc = JIESU__V1__LOCATION__INIT;
    Jiesu__V1__Coordinates c = JIESU__V1__COORDINATES__INIT;
    c.lat = 120;
    loc.coordinates = &c;
    s.location = &loc;
    assert_string_equal(check(&s, field), "bad_request");
    c.lat = 39.9;
    c.lon = 116.4;
    assert_null(check(&s, field));

    Jiesu__V1__Attachment at = JIESU__V1__ATTACHMENT__INIT, *ats[1] = {&at};
    at.url = "ftp://x";
    s.attachments = ats;
    s.n_attachments = 1;
    assert_string_equal(check(&s, field), "bad_request");
    at.url = "https://media.example/1.jpg";
    assert_null(check(&s, field));
    s.occurred_ms = NOW + 3600000;
    assert_string_equal(check(&s, field), "bad_request");
}

static void test_build_order(void **st) {
    (void)st;
    uint8_t key[JS_PII_KEYLEN];
    memset(key, 7, sizeof key);
    js_pii_t *pii = js_pii_new(key);
    js_arena_t *a = js_arena_new(1024);
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    s.content = "\u3000 路灯坏了 \n";
    s.channel = JIESU__V1__CHANNEL__CHANNEL_PHONE;
    s.idempotency_key = "k1";
    Jiesu__V1__RequesterInput r = JIESU__V1__REQUESTER_INPUT__INIT;
    r.contact = "13812345678";
    r.name = "张三";
    s.requester = &r;
    Jiesu__V1__Order o = JIESU__V1__ORDER__INIT;
    uint8_t *sealed;
    size_t sealed_len;
    intake_build_order(a, &s, pii, "01JABCDEFGHJKMNPQRSTVWXYZ0", "0123456789abcdef0123456789abcdef", NOW, &o,
                       &sealed, &sealed_len);
    assert_string_equal(o.content, "路灯坏了");
    assert_int_equal(o.stage, JIESU__V1__STAGE__STAGE_RECEIVED);
    assert_int_equal(o.version, 1);
    assert_int_equal(o.received_ms, NOW);
    assert_string_equal(o.idempotency_key, "-:k1");
    assert_string_equal(o.requester->contact_masked, "138****5678");
    assert_string_equal(o.requester->name_masked, "张*");
    assert_int_equal(o.requester->contact_sealed.len, 0); /* never in the order itself */
    assert_int_equal(sealed_len, strlen("13812345678") + JS_PII_OVERHEAD);
    char plain[64];
    size_t plen;
    assert_int_equal(js_pii_open(pii, sealed, sealed_len, plain, &plen), 0);
    assert_string_equal(plain, "13812345678");
    /* the packed order never holds the number in clear */
    size_t n = jiesu__v1__order__get_packed_size(&o);
    uint8_t *buf = malloc(n);
    jiesu__v1__order__pack(&o, buf);
    assert_null(memmem(buf, n, "13812345678", 11));
    free(buf);
    js_arena_destroy(&a);
    js_pii_destroy(&pii);
}

static void test_trim(void **st) {
    (void)st;
    js_arena_t *a = js_arena_new(256);
    assert_string_equal(intake_trim(a, "  a b  "), "a b");
    assert_string_equal(intake_trim(a, "\u3000\u3000"), "");
    assert_string_equal(intake_trim(a, ""), "");
    assert_string_equal(intake_trim(a, "中\u3000文"), "中\u3000文");
    js_arena_destroy(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_minimal),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_build_order),
        cmocka_unit_test(test_trim),
    };
    return cmocka_run_group_tests_name("intake submission", tests, NULL, NULL);
}
