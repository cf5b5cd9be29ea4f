/* test_curve.c -- CURVE key files and partner-file lines (common/curve.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "curve.h"

static char s_dir[64];

static int setup(void **st) {
    (void)st;
    snprintf(s_dir, sizeof s_dir, "/tmp/jiesu-curve-XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, const char *text, mode_t mode, char *path, size_t len) {
    snprintf(path, len, "%s/%s", s_dir, name);
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_keypair_and_public(void **st) {
    (void)st;
    char pub[41], sec[41], pub2[41];
    assert_int_equal(js_curve_keypair(pub, sec), 0);
    assert_int_equal(strlen(pub), 40);
    uint8_t raw[32];
    assert_true(js_curve_z85_ok(pub, raw));
    assert_true(js_curve_z85_ok(sec, NULL));
    assert_int_equal(js_curve_public_of(sec, pub2), 0);
    assert_string_equal(pub, pub2);
    assert_int_equal(js_curve_public_of("short", pub2), -EINVAL);
    char pub3[41], sec3[41];
    assert_int_equal(js_curve_keypair(pub3, sec3), 0);
    assert_string_not_equal(sec, sec3);
}

static void test_z85_and_ids(void **st) {
    (void)st;
    assert_false(js_curve_z85_ok("", NULL));
    assert_false(js_curve_z85_ok("0123456789012345678901234567890123456789X", NULL)); /* 41 */
    assert_false(js_curve_z85_ok("012345678901234567890123456789012345678 ", NULL));  /* blank */
    assert_false(js_curve_z85_ok("01234567890123456789012345678901234567\"9", NULL)); /* not Z85 */
    assert_true(js_curve_z85_ok("0123456789012345678901234567890123456789", NULL));
    assert_true(js_curve_id_ok("cityA"));
    assert_true(js_curve_id_ok("tj-12345.hotline_2"));
    assert_false(js_curve_id_ok(""));
    assert_false(js_curve_id_ok("a b"));
    assert_false(js_curve_id_ok("城市"));
    assert_false(js_curve_id_ok("a:b"));
    char longid[80];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    assert_false(js_curve_id_ok(longid));
    longid[64] = '\0';
    assert_true(js_curve_id_ok(longid));
}

static void test_fields(void **st) {
    (void)st;
    char *f[3];
    char l1[] = "a\tb  c\r\n", l2[] = "   # comment\n", l3[] = " \t\n", l4[] = "a b c d\n", l5[] = "x";
    assert_int_equal(js_curve_fields(l1, f, 3), 3);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[1], "b");
    assert_string_equal(f[2], "c");
    assert_int_equal(js_curve_fields(l2, f, 3), 0);
    assert_int_equal(js_curve_fields(l3, f, 3), 0);
    assert_int_equal(js_curve_fields(l4, f, 3), -E2BIG);
    assert_int_equal(js_curve_fields(l5, f, 3), 1);
    assert_string_equal(f[0], "x");
}

static void test_read_key(void **st) {
    (void)st;
    char path[128], key[41], err[512], pub[41], sec[41], text[200];
    assert_int_equal(js_curve_keypair(pub, sec), 0);
    snprintf(text, sizeof text, "# our key\n\n  %s  \n", sec);
    put("a.key", text, 0600, path, sizeof path);
    assert_int_equal(js_curve_read_key(path, 1, key, err, sizeof err), 0);
    assert_string_equal(key, sec);
    /* readable by others: refused for a secret, fine for a public key */
    chmod(path, 0640);
    assert_int_equal(js_curve_read_key(path, 1, key, err, sizeof err), -EPERM);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(js_curve_read_key(path, 0, key, err, sizeof err), 0);
    /* no key starts with '#' (the first Z85 digit of a group is at most '%') */
    for (int i = 0; i < 2000; i++) {
        char hp[41], hs[41];
        assert_int_equal(js_curve_keypair(hp, hs), 0);
        assert_true(hp[0] != '#' && hp[0] != '$' && hs[0] != '#' && hs[0] != '$');
    }
    put("c.pub", "# only comments\n", 0644, path, sizeof path);
    assert_int_equal(js_curve_read_key(path, 0, key, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "no key"));
    put("d.pub", "not a key\n", 0644, path, sizeof path);
    assert_int_equal(js_curve_read_key(path, 0, key, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "not a 40-character Z85 key"));
    snprintf(path, sizeof path, "%s/none.key", s_dir);
    assert_int_equal(js_curve_read_key(path, 1, key, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "none.key"));
    assert_int_equal(js_curve_read_key(s_dir, 0, key, err, sizeof err), -EINVAL); /* a directory */
}

static void test_write_pair(void **st) {
    (void)st;
    char prefix[128], path[140], pub[41], key[41], err[512];
    snprintf(prefix, sizeof prefix, "%s/intake", s_dir);
    assert_int_equal(js_curve_write_pair(prefix, pub, err, sizeof err), 0);
    struct stat sb;
    snprintf(path, sizeof path, "%s.key", prefix);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(js_curve_read_key(path, 1, key, err, sizeof err), 0);
    char derived[41];
    assert_int_equal(js_curve_public_of(key, derived), 0);
    assert_string_equal(derived, pub);
    snprintf(path, sizeof path, "%s.pub", prefix);
    assert_int_equal(js_curve_read_key(path, 0, key, err, sizeof err), 0);
    assert_string_equal(key, pub);
    /* never overwritten, and no half pair left */
    char pub2[41];
    assert_int_equal(js_curve_write_pair(prefix, pub2, err, sizeof err), -EEXIST);
    assert_non_null(strstr(err, "never overwritten"));
    assert_int_equal(js_curve_read_key(path, 0, key, err, sizeof err), 0);
    assert_string_equal(key, pub);
    snprintf(prefix, sizeof prefix, "%s/no/such/dir/k", s_dir);
    assert_int_equal(js_curve_write_pair(prefix, pub2, err, sizeof err), -ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keypair_and_public),
        cmocka_unit_test(test_z85_and_ids),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_read_key),
        cmocka_unit_test(test_write_pair),
    };
    return cmocka_run_group_tests_name("curve keys", tests, setup, teardown);
}
