/* test_pii.c -- seal/open, tampering, masks, keys and key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "jsdefs.h"
#include "pii.h"

static js_pii_t *key_of(uint8_t b) {
    uint8_t k[JS_PII_KEYLEN];
    memset(k, b, sizeof k);
    return js_pii_new(k);
}

static int is_hex32(const char *s) {
    if (strlen(s) != 32) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* ---- seal / open ------------------------------------------------------------ */

static void test_seal_open(void **st) {
    (void)st;
    js_pii_t *p = key_of(1), *q = key_of(2);
    const char *phone = "13812345678";
    uint8_t sealed[64], again[64];
    size_t n, m;
    assert_int_equal(js_pii_seal(p, phone, strlen(phone), sealed, &n), 0);
    assert_int_equal(js_pii_seal(p, phone, strlen(phone), again, &m), 0);
    assert_int_equal(n, strlen(phone) + JS_PII_OVERHEAD);
    assert_int_equal(m, n);
    assert_memory_not_equal(sealed, again, JS_PII_NONCELEN); /* a fresh nonce each time */
    assert_memory_not_equal(sealed + JS_PII_NONCELEN, again + JS_PII_NONCELEN, n - JS_PII_NONCELEN);
    assert_null(memmem(sealed, n, phone, strlen(phone))); /* not in the clear */
    char out[64];
    size_t ol = 0;
    assert_int_equal(js_pii_open(p, sealed, n, out, &ol), 0);
    assert_int_equal(ol, strlen(phone));
    assert_string_equal(out, phone);
    assert_int_equal(js_pii_open(p, again, m, out, &ol), 0);
    assert_string_equal(out, phone);

    /* wrong key */
    strcpy(out, "untouched");
    assert_int_equal(js_pii_open(q, sealed, n, out, &ol), -EBADMSG);
    assert_string_equal(out, "");
    /* every single bit flipped, anywhere: nonce, mac or ciphertext */
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            sealed[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(js_pii_open(p, sealed, n, out, &ol), -EBADMSG);
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    assert_int_equal(js_pii_open(p, sealed, n, out, &ol), 0);
    /* cut or lengthened */
    for (size_t len = 0; len < n; len++)
        assert_int_equal(js_pii_open(p, sealed, len, out, &ol), -EBADMSG);
    uint8_t longer[80];
    memcpy(longer, sealed, n);
    longer[n] = 0;
    assert_int_equal(js_pii_open(p, longer, n + 1, out, &ol), -EBADMSG);
    /* a forged box of zeros */
    uint8_t zeros[64] = {0};
    assert_int_equal(js_pii_open(p, zeros, sizeof zeros, out, &ol), -EBADMSG);

    /* empty and binary plain text */
    assert_int_equal(js_pii_seal(p, "", 0, sealed, &n), 0);
    assert_int_equal(n, JS_PII_OVERHEAD);
    assert_int_equal(js_pii_open(p, sealed, n, out, &ol), 0);
    assert_int_equal(ol, 0);
    assert_string_equal(out, "");
    assert_int_equal(js_pii_seal(p, NULL, 0, sealed, &n), 0);
    assert_int_equal(js_pii_seal(p, NULL, 3, sealed, &n), -EINVAL);
    const char bin[] = {'a', 0, 'b', (char)0xff};
    assert_int_equal(js_pii_seal(p, bin, sizeof bin, sealed, &n), 0);
    assert_int_equal(js_pii_open(p, sealed, n, out, &ol), 0);
    assert_int_equal(ol, sizeof bin);
    assert_memory_equal(out, bin, sizeof bin);
    assert_int_equal(out[sizeof bin], '\0');

    js_pii_destroy(&p);
    js_pii_destroy(&q);
    assert_null(p);
    js_pii_destroy(&p); /* idempotent */
    js_pii_destroy(NULL);
}

/* ---- masks ------------------------------------------------------------------ */

static void test_mask_contact(void **st) {
    (void)st;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"13812345678", "138****5678"},
        {"+86 138-1234-5678", "138****5678"},
        {"+8613812345678", "138****5678"},
        {"0086 138 1234 5678", "138****5678"},
        {"8613812345678", "138****5678"},
        {" 138 1234 5678 ", "138****5678"},
        {"010-12345678", "010****5678"},
        {"(010) 1234-5678", "010****5678"},
        {"+86 10 1234 5678", "010****5678"},
        {"+86 755 8888 6666", "075****6666"},
        {"+1 (555) 123-4567", "155****4567"},
        {"12345678901234567890", "123****7890"},
        {"123456789012345678901", "1***"}, /* too long for a phone */
        {"1234567890", "12****7890"},
        {"123456789", "1****6789"},
        {"12345678", "****5678"},
        {"1234567", "****567"},
        {"123456", "1***"},    /* too short for a phone */
        {"12345+678", "1***"}, /* '+' only in front */
        {"someone@example.cn", "s***@example.cn"},
        {"a@b.cn", "a***@b.cn"},
        {"张三@例子.中国", "张***@例子.中国"},
        {"first@second@example.cn", "f***@example.cn"},
        {"@example.cn", "@***"},
        {"someone@", "s***"},
        {"微信号abc", "微***"},
        {"😀abc", "😀***"},
        {"ab", "a***"},
        {"a", "****"},
        {"张", "****"},
        {"", "****"},
        {"\xff\xfe\xfd", "****"},
        {"ab\xc3", "****"},
    };
    char out[64];
    for (size_t i = 0; i < JS_ARRAY_LEN(cases); i++) {
        memset(out, 'X', sizeof out);
        js_pii_mask(cases[i].in, out, sizeof out);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("mask(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out, cases[i].out);
    }
    js_pii_mask(NULL, out, sizeof out);
    assert_string_equal(out, "****");

    /* short buffers: never more than cap - 1 bytes, never a cut character */
    static const struct {
        const char *in;
        size_t cap;
        const char *out;
    } cut[] = {
        {"13812345678", 4, "138"},
        {"13812345678", 6, "138**"},
        {"13812345678", 1, ""},
        {"微信号abc", 3, ""},
        {"微信号abc", 4, "微"},
        {"微信号abc", 5, "微*"},
        {"张三@例子.中国", 7, "张***"},
        {"张三@例子.中国", 8, "张***@"},
        {"张三@例子.中国", 10, "张***@"},
        {"张三@例子.中国", 11, "张***@例"},
        {"😀abc", 4, ""},
        {"😀abc", 5, "😀"},
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(cut); i++) {
        char small[32];
        memset(small, 'X', sizeof small);
        js_pii_mask(cut[i].in, small, cut[i].cap);
        if (strcmp(small, cut[i].out) != 0)
            fail_msg("mask(\"%s\", cap %zu) = \"%s\", want \"%s\"", cut[i].in, cut[i].cap, small, cut[i].out);
        assert_true(strlen(small) < cut[i].cap);
        assert_int_equal(small[cut[i].cap], 'X'); /* nothing written past cap */
        assert_true(js_utf8_valid(small, strlen(small)));
    }
    out[0] = 'X';
    js_pii_mask("13812345678", out, 0); /* cap 0: nothing written at all */
    assert_int_equal(out[0], 'X');
}

static void test_mask_name(void **st) {
    (void)st;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"张三丰", "张**"},   {"张三", "张*"}, {"欧阳娜娜", "欧***"}, {"Li", "L*"},
        {"Li Lei", "L*****"}, {"😀x", "😀*"},    {"x😀😀", "x**"},        {"阿卜杜·热合曼", "阿******"},
        {"张", "*"},          {"", ""},        {"\xff\xfe", "*"},     {"张\xe4", "*"},
    };
    char out[64];
    for (size_t i = 0; i < JS_ARRAY_LEN(cases); i++) {
        js_pii_mask_name(cases[i].in, out, sizeof out);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("mask_name(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out, cases[i].out);
    }
    js_pii_mask_name(NULL, out, sizeof out);
    assert_string_equal(out, "");
    js_pii_mask_name("张三丰", out, 3); /* 张 needs 3 bytes + NUL */
    assert_string_equal(out, "");
    js_pii_mask_name("张三丰", out, 5);
    assert_string_equal(out, "张*");
    js_pii_mask_name("😀😀😀", out, 6);
    assert_string_equal(out, "😀*");
}

/* ---- requester keys ----------------------------------------------------------- */

static void test_requester_key(void **st) {
    (void)st;
    js_pii_t *p = key_of(3), *q = key_of(4);
    char a[33], b[33];
    static const char *const same[][4] = {
        {"13812345678", "+86 138 1234 5678", "138-1234-5678", "008613812345678"},
        {"010-12345678", "+86 10 1234 5678", "(010)12345678", "0086-10-12345678"},
        {"Some@Example.cn", "some@example.cn", " some@EXAMPLE.CN\n", "SOME@EXAMPLE.CN"},
        {"微信号ABC", "微信号abc", "  微信号abc", "微信号aBc\t"},
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(same); i++) {
        js_pii_requester_key(p, same[i][0], a);
        assert_true(is_hex32(a));
        for (int k = 1; k < 4; k++) {
            js_pii_requester_key(p, same[i][k], b);
            if (strcmp(a, b) != 0) fail_msg("\"%s\" and \"%s\" differ", same[i][0], same[i][k]);
        }
        /* and each group differs from the others */
        for (size_t j = 0; j < i; j++) {
            js_pii_requester_key(p, same[j][0], b);
            assert_string_not_equal(a, b);
        }
        /* another deployment key: another requester key */
        js_pii_requester_key(q, same[i][0], b);
        assert_string_not_equal(a, b);
    }
    js_pii_requester_key(p, "13812345678", a);
    js_pii_requester_key(p, "13812345679", b);
    assert_string_not_equal(a, b);
    /* long contacts are hashed whole: a difference at the end still counts */
    char l1[300], l2[300];
    memset(l1, 'a', sizeof l1 - 1);
    l1[sizeof l1 - 1] = '\0';
    memcpy(l2, l1, sizeof l1);
    l2[sizeof l2 - 2] = 'b';
    js_pii_requester_key(p, l1, a);
    js_pii_requester_key(p, l2, b);
    assert_string_not_equal(a, b);
    js_pii_requester_key(p, "", a);
    assert_true(is_hex32(a));
    js_pii_destroy(&p);
    js_pii_destroy(&q);
}

/* ---- key files ------------------------------------------------------------------- */

static void write_file(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, n, f), n);
    fclose(f);
}

static void test_key_files(void **st) {
    (void)st;
    char dir[] = "/tmp/jiesu-pii-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], other[128];
    snprintf(path, sizeof path, "%s/key", dir);
    snprintf(other, sizeof other, "%s/other", dir);

    /* generate: 0600 whatever the umask, 64 hex and a newline, never overwritten */
    mode_t old = umask(0277); /* would give 0400 */
    assert_int_equal(js_pii_generate_file(path), 0);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_size, JS_PII_KEYHEX + 1);
    char before[128] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(fgets(before, sizeof before, f));
    fclose(f);
    assert_int_equal(strlen(before), 65);
    assert_int_equal(js_pii_generate_file(path), -EEXIST);
    char after[128] = "";
    f = fopen(path, "r");
    assert_non_null(fgets(after, sizeof after, f));
    fclose(f);
    assert_string_equal(before, after);
    assert_int_equal(js_pii_generate_file("/nonexistent-dir/key"), -ENOENT);
    /* two generated keys differ */
    assert_int_equal(js_pii_generate_file(other), 0);
    f = fopen(other, "r");
    assert_non_null(fgets(after, sizeof after, f));
    fclose(f);
    assert_string_not_equal(before, after);
    unlink(other);

    /* load: what one loaded key seals, the same file loaded again opens */
    js_pii_t *p = NULL, *p2 = NULL, *h = NULL;
    assert_int_equal(js_pii_load_file(path, &p), 0);
    assert_non_null(p);
    assert_int_equal(js_pii_load_file(path, &p2), 0);
    uint8_t sealed[64];
    char out[64];
    size_t n, ol;
    js_pii_seal(p, "13812345678", 11, sealed, &n);
    assert_int_equal(js_pii_open(p2, sealed, n, out, &ol), 0);
    assert_string_equal(out, "13812345678");
    /* and it is the key the hex says */
    int err = 0;
    h = js_pii_from_hex(before, &err);
    assert_non_null(h);
    assert_int_equal(js_pii_open(h, sealed, n, out, &ol), 0);
    js_pii_destroy(&h);
    js_pii_destroy(&p);
    js_pii_destroy(&p2);

    /* good spellings */
    static const char *const good[] = {
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f  \n\n",
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(good); i++) {
        write_file(path, good[i], strlen(good[i]));
        assert_int_equal(js_pii_load_file(path, &p), 0);
        if (i == 0) {
            js_pii_seal(p, "x", 1, sealed, &n);
        } else {
            assert_int_equal(js_pii_open(p, sealed, n, out, &ol), 0); /* same key, either case */
        }
        js_pii_destroy(&p);
    }
    /* bad ones: -EINVAL, nothing returned */
    static const char *const bad[] = {
        "",
        "not hex\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",   /* 63 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0\n", /* 65 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
        " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\nextra\n",
        "00 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
    };
    for (size_t i = 0; i < JS_ARRAY_LEN(bad); i++) {
        write_file(path, bad[i], strlen(bad[i]));
        p = (js_pii_t *)0x1;
        if (js_pii_load_file(path, &p) != -EINVAL) fail_msg("bad key file %zu was taken", i);
        assert_null(p);
    }
    /* a NUL hiding the rest, and a file far too long */
    char nul[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\0junk";
    write_file(path, nul, sizeof nul - 1);
    assert_int_equal(js_pii_load_file(path, &p), -EINVAL);
    char big[1000];
    memset(big, '\n', sizeof big);
    memcpy(big, good[0], 64);
    write_file(path, big, sizeof big);
    assert_int_equal(js_pii_load_file(path, &p), -EINVAL);
    assert_null(p);
    unlink(path);
    assert_int_equal(js_pii_load_file(path, &p), -ENOENT);
    assert_int_equal(js_pii_load_file(dir, &p), -EISDIR);
    assert_null(p);
    assert_int_equal(rmdir(dir), 0);

    err = 0;
    assert_null(js_pii_from_hex("abcd", &err));
    assert_int_equal(err, -EINVAL);
    assert_null(js_pii_from_hex(NULL, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open), cmocka_unit_test(test_mask_contact),
        cmocka_unit_test(test_mask_name), cmocka_unit_test(test_requester_key),
        cmocka_unit_test(test_key_files),
    };
    return cmocka_run_group_tests_name("pii", tests, NULL, NULL);
}
