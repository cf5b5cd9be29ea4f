/* test_pii.c -- seal/open, tampering, masks, keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pii.h"

static js_pii_t *key_of(uint8_t b) {
    uint8_t k[JS_PII_KEYLEN];
    memset(k, b, sizeof k);
    return js_pii_new(k);
}

static void test_seal_open(void **st) {
    (void)st;
    js_pii_t *p = key_of(1), *q = key_of(2);
    const char *phone = "13812345678";
    uint8_t sealed[64], again[64];
    size_t n, m;
    js_pii_seal(p, phone, strlen(phone), sealed, &n);
    js_pii_seal(p, phone, strlen(phone), again, &m);
    assert_int_equal(n, strlen(phone) + JS_PII_OVERHEAD);
    assert_memory_not_equal(sealed, again, n); /* a fresh nonce each time */
    char out[64];
    size_t ol;
    assert_int_equal(js_pii_open(p, sealed, n, out, &ol), 0);
    assert_string_equal(out, phone);
    assert_int_equal(js_pii_open(q, sealed, n, out, &ol), -EBADMSG);
    sealed[30] ^= 1;
    assert_int_equal(js_pii_open(p, sealed, n, out, &ol), -EBADMSG);
    assert_int_equal(js_pii_open(p, sealed, 10, out, &ol), -EBADMSG);
    js_pii_destroy(&p);
    js_pii_destroy(&q);
    assert_null(p);
}

static void test_masks(void **st) {
    (void)st;
    static const struct { const char *in, *out; } cases[] = {
        {"13812345678", "138****5678"},  {"+86 138-1234-5678", "138****5678"}, {"010-12345678", "010****5678"},
        {"someone@example.cn", "s***@example.cn"}, {"", "****"},            {"ab", "****"},
        {"微信号abc", "微***"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        js_pii_mask(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].out);
    }
    js_pii_mask("13812345678", out, 4);
    assert_true(strlen(out) < 4);
    js_pii_mask_name("张三丰", out, sizeof out);
    assert_string_equal(out, "张**");
    js_pii_mask_name("Li", out, sizeof out);
    assert_string_equal(out, "L*");
    js_pii_mask_name("😀x", out, sizeof out);
    assert_string_equal(out, "😀*");
    js_pii_mask_name("", out, sizeof out);
    assert_string_equal(out, "");
}

static void test_keys_and_files(void **st) {
    (void)st;
    js_pii_t *p = key_of(3);
    char a[33], b[33], c[33];
    js_pii_requester_key(p, "13812345678", a);
    js_pii_requester_key(p, "+86 138 1234 5678", b);
    js_pii_requester_key(p, "13812345679", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    js_pii_requester_key(p, "Some@Example.cn", a);
    js_pii_requester_key(p, "some@example.cn", b);
    assert_string_equal(a, b);
    js_pii_destroy(&p);

    char path[] = "/tmp/jiesu-pii-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    assert_int_equal(js_pii_generate_file(path), 0);
    assert_int_equal(js_pii_generate_file(path), -EEXIST); /* never overwritten */
    struct stat sb;
    stat(path, &sb);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(js_pii_load_file(path, &p), 0);
    js_pii_destroy(&p);
    FILE *f = fopen(path, "w");
    fputs("not hex\n", f);
    fclose(f);
    assert_int_equal(js_pii_load_file(path, &p), -EINVAL);
    assert_null(p);
    unlink(path);
    assert_int_equal(js_pii_load_file("/nonexistent/key", &p), -ENOENT);
    int err = 0;
    assert_null(js_pii_from_hex("abcd", &err));
    assert_int_equal(err, -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_keys_and_files),
    };
    return cmocka_run_group_tests_name("pii", tests, NULL, NULL);
}
