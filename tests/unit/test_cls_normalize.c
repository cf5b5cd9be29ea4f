/* test_cls_normalize.c -- one spelling for every text: t2s, width, blanks, bad bytes, size cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <opencc/opencc.h>

#include "../../services/classifier/cls_normalize.h"

static cls_norm_t *s_norm;

static int setup(void **state) {
    (void)state;
    char err[256];
    s_norm = cls_norm_new("t2s.json", err, sizeof err);
    if (!s_norm) fprintf(stderr, "%s\n", err);
    return s_norm ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cls_norm_destroy(&s_norm);
    cls_norm_destroy(&s_norm); /* idempotent */
    return 0;
}

static const char *s_norm_str(const char *in, int flags, cls_norm_info_t *info) {
    static char out[4096];
    cls_normalize(s_norm, in, strlen(in), out, sizeof out, flags, info);
    return out;
}

static void test_traditional_to_simplified(void **state) {
    (void)state;
    cls_norm_info_t info;
    assert_string_equal(s_norm_str("我家樓下的路燈壞了，請儘快維修", 0, &info), "我家楼下的路灯坏了,请尽快维修");
    assert_int_equal(info.converted, 1);
    /* simplified text never reaches opencc */
    assert_string_equal(s_norm_str("小区路灯坏了", 0, &info), "小区路灯坏了");
    assert_int_equal(info.converted, 0);
    assert_int_equal(info.cjk, 6);
}

static void test_width_case_blanks(void **state) {
    (void)state;
    cls_norm_info_t info;
    assert_string_equal(s_norm_str("ＡＢＣ１２３　电话：１２３４５", 0, &info), "abc123 电话:12345");
    assert_int_equal(info.alnum, 11);
    assert_string_equal(s_norm_str("  多个 \t\n 空白  ", 0, NULL), "多个 空白");
    assert_string_equal(s_norm_str("  多个 \t\n 空白  ", CLS_NORM_DROP_SPACE, NULL), "多个空白");
    assert_string_equal(s_norm_str("分词 后 的 文本", CLS_NORM_DROP_SPACE, NULL), "分词后的文本");
    /* control characters, zero-width joiner and variation selectors carry nothing */
    assert_string_equal(s_norm_str("a\x01" "b\x7f" "\xe2\x80\x8d" "c\xef\xb8\x8f", 0, NULL), "abc");
}

static void test_invalid_utf8(void **state) {
    (void)state;
    cls_norm_info_t info;
    /* a stray continuation byte, a cut 3-byte sequence, an overlong '/', a surrogate, 0xFF */
    const char in[] = "好\x80坏\xe5\xa5x\xc0\xafy\xed\xa0\x80z\xff";
    char out[64];
    size_t n = cls_normalize(s_norm, in, sizeof in - 1, out, sizeof out, 0, &info);
    assert_string_equal(out, "好坏xyz");
    assert_int_equal(n, strlen("好坏xyz"));
    assert_int_equal(info.invalid, 1 + 2 + 2 + 3 + 1);
    /* NUL bytes inside a text are dropped, not taken as its end */
    n = cls_normalize(s_norm, "a\0b", 3, out, sizeof out, 0, &info);
    assert_string_equal(out, "ab");
    assert_int_equal(info.invalid, 0);
}

static void test_size_cap(void **state) {
    (void)state;
    cls_norm_info_t info;
    size_t big = 1 << 20;
    char *in = malloc(big);
    for (size_t i = 0; i + 3 <= big; i += 3) memcpy(in + i, "路", 3);
    memset(in + big - big % 3, 'x', big % 3);
    char *out = malloc(CLS_NORM_MAX_IN + 1);
    size_t n = cls_normalize(s_norm, in, big, out, CLS_NORM_MAX_IN + 1, 0, &info);
    assert_true(info.truncated);
    assert_true(n <= CLS_NORM_MAX_IN);
    assert_int_equal(n % 3, 0); /* whole characters only */
    assert_int_equal(info.invalid, 0); /* a character cut by the cap is not the writer's fault */
    /* a small output buffer: whole characters, NUL-terminated */
    char small[8];
    n = cls_normalize(s_norm, "一二三四五", strlen("一二三四五"), small, sizeof small, 0, &info);
    assert_int_equal(n, 6);
    assert_string_equal(small, "一二");
    assert_true(info.truncated);
    free(in);
    free(out);
}

static void test_empty_emoji_null(void **state) {
    (void)state;
    cls_norm_info_t info;
    char out[32];
    assert_int_equal(cls_normalize(s_norm, "", 0, out, sizeof out, 0, &info), 0);
    assert_string_equal(out, "");
    assert_int_equal(cls_normalize(s_norm, NULL, 5, out, sizeof out, 0, &info), 0);
    assert_int_equal(cls_normalize(s_norm, "x", 1, out, 0, 0, &info), 0); /* no room at all */
    assert_string_equal(s_norm_str("😀😡👍", 0, &info), "😀😡👍");
    assert_int_equal(info.cjk, 0);
    assert_int_equal(info.chars, 3);
    /* no opencc: same spelling rules, no conversion */
    cls_normalize(NULL, "樓", strlen("樓"), out, sizeof out, 0, &info);
    assert_string_equal(out, "樓");
}

static void test_utf8_codec(void **state) {
    (void)state;
    uint32_t cps[] = {0x41, 0x7FF, 0x800, 0x4E2D, 0xFFFD, 0x10000, 0x1F600, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
        char b[4];
        size_t l = cls_utf8_put(cps[i], b), adv;
        assert_int_equal(js_utf8_next((unsigned char *)b, l, &adv), cps[i]);
        assert_int_equal(adv, l);
        if (l > 1) assert_int_equal(js_utf8_next((unsigned char *)b, l - 1, &adv), 0); /* cut */
    }
}

/* Only the windows around traditional characters go through opencc: a long
 * simplified text with traditional phrases at its start, middle and end, and
 * a text all traditional, come out as opencc makes of the whole text. */
static void test_traditional_windows(void **state) {
    (void)state;
    static char in[32768], out[32768];
    const char *plain = "小区东门外的路灯坏了很久", *trad = "我家樓下的路燈壞了請儘快維修", *alltrad = "這條道路的積水問題已經反映過許多次";
    opencc_t cc = opencc_open("t2s.json");
    assert_true(cc != (opencc_t)-1);
    for (int shape = 0; shape < 2; shape++) {
        size_t l = 0;
        for (int i = 0; i < 60; i++) {
            const char *piece = shape == 1 ? alltrad : (i == 0 || i == 30 || i == 59) ? trad : plain;
            l += (size_t)snprintf(in + l, sizeof in - l, "%s", piece);
        }
        char *want = opencc_convert_utf8(cc, in, l);
        cls_norm_info_t info;
        size_t n = cls_normalize(s_norm, in, l, out, sizeof out, CLS_NORM_DROP_SPACE, &info);
        assert_int_equal(info.converted, 1);
        assert_int_equal(n, strlen(want));
        assert_string_equal(out, want);
        opencc_convert_utf8_free(want);
    }
    /* a window cut by the output cap keeps whole characters */
    char small[20];
    size_t n = cls_normalize(s_norm, "路燈壞了路燈壞了路燈壞了", strlen("路燈壞了路燈壞了路燈壞了"), small, sizeof small, 0, NULL);
    assert_int_equal(n, 18);
    assert_string_equal(small, "路灯坏了路灯");
    opencc_close(cc);
}

static void test_bad_config(void **state) {
    (void)state;
    char err[256] = "";
    assert_null(cls_norm_new("no-such-opencc-config.json", err, sizeof err));
    assert_non_null(strstr(err, "opencc"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traditional_to_simplified), cmocka_unit_test(test_width_case_blanks),
        cmocka_unit_test(test_invalid_utf8),              cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_empty_emoji_null),          cmocka_unit_test(test_utf8_codec),
        cmocka_unit_test(test_bad_config),                cmocka_unit_test(test_traditional_windows),
    };
    return cmocka_run_group_tests_name("cls_normalize", tests, setup, teardown);
}
