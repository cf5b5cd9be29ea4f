/* test_log.c -- every line is one valid JSON object with its keys in order;
 * escaping, invalid UTF-8, digit masking, cutting, level filter, and lines of
 * several processes into one file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "log.h"

static json_t *parse(const char *line) {
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    if (!j) fprintf(stderr, "not JSON (%s): %s\n", e.text, line);
    return j;
}

static const char *field(json_t *j, const char *key) { return json_string_value(json_object_get(j, key)); }

/* The msg of a line formatted now, after a JSON round trip; caller frees. */
static char *msg_of(const char *msg) {
    char line[JS_LOG_LINE_MAX];
    size_t n = js_log_format(line, sizeof line, 0, JS_LOG_INFO, NULL, NULL, msg);
    assert_true(n > 0);
    json_t *j = parse(line);
    assert_non_null(j);
    char *m = strdup(field(j, "msg"));
    json_decref(j);
    return m;
}

static int reset(void **st) {
    (void)st;
    js_log_init("t", "i", JS_LOG_INFO, stderr);
    return 0;
}

/* Everything written to f's descriptor so far; caller frees. */
static char *slurp(FILE *f) {
    int fd = fileno(f);
    off_t end = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)end + 1);
    assert_int_equal(pread(fd, buf, (size_t)end, 0), (ssize_t)end);
    return buf;
}

static void test_exact_line(void **st) {
    (void)st;
    js_log_init("intake", "h-1", JS_LOG_INFO, stderr);
    char line[1024];
    size_t n = js_log_format(line, sizeof line, 1763800000123LL, JS_LOG_WARN, "01JORDER", "abc", "hi");
    const char *want = "{\"ts\":\"2025-11-22T08:26:40.123Z\",\"level\":\"warn\",\"service\":\"intake\","
                       "\"instance\":\"h-1\",\"order\":\"01JORDER\",\"trace\":\"abc\",\"msg\":\"hi\"}\n";
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
    /* order and trace only when given; NULL and "" are both "not given". */
    js_log_format(line, sizeof line, 5, JS_LOG_DEBUG, "", NULL, "x");
    assert_string_equal(line, "{\"ts\":\"1970-01-01T00:00:00.005Z\",\"level\":\"debug\",\"service\":\"intake\","
                              "\"instance\":\"h-1\",\"msg\":\"x\"}\n");
    js_log_format(line, sizeof line, 0, JS_LOG_ERROR, NULL, "t1", "");
    assert_string_equal(line, "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"error\",\"service\":\"intake\","
                              "\"instance\":\"h-1\",\"trace\":\"t1\",\"msg\":\"\"}\n");
    /* Before the epoch, milliseconds still count up within the second. */
    js_log_format(line, sizeof line, -1, JS_LOG_INFO, NULL, NULL, "x");
    assert_non_null(strstr(line, "\"ts\":\"1969-12-31T23:59:59.999Z\""));
}

static void test_escaping(void **st) {
    (void)st;
    js_log_init("svc \"q\"", "in\\st\n", JS_LOG_INFO, stderr);
    char raw[40];
    for (int c = 1; c < 0x20; c++) raw[c - 1] = (char)c;
    memcpy(raw + 31, "\"\\/\x7f", 5);
    char line[1024];
    js_log_format(line, sizeof line, 0, JS_LOG_INFO, "o\"1", "t\x01", raw);
    json_t *j = parse(line);
    assert_non_null(j);
    assert_string_equal(field(j, "msg"), raw);
    assert_string_equal(field(j, "service"), "svc \"q\"");
    assert_string_equal(field(j, "instance"), "in\\st\n");
    assert_string_equal(field(j, "order"), "o\"1");
    assert_string_equal(field(j, "trace"), "t\x01");
    json_decref(j);
    /* Control characters as \u00XX; the line itself holds no raw one but its end. */
    assert_non_null(strstr(line, "\\u000a"));
    assert_non_null(strstr(line, "\\u001f"));
    for (size_t i = 0; line[i + 1]; i++) assert_true((unsigned char)line[i] >= 0x20);
}

static void test_bad_utf8(void **st) {
    (void)st;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"接诉 ok \xF0\x9F\x93\x9E", "接诉 ok \xF0\x9F\x93\x9E"},            /* valid: kept */
        {"bad \xff\xfe bytes", "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes"},     /* not UTF-8 at all */
        {"cut \xE6\x8E", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},                 /* truncated at the end */
        {"\xE6\x8E" "a", "\xEF\xBF\xBD\xEF\xBF\xBD" "a"},                 /* truncated, then ASCII */
        {"over \xC0\xAF", "over \xEF\xBF\xBD\xEF\xBF\xBD"},               /* overlong '/' */
        {"sur \xED\xA0\x80", "sur \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a UTF-16 surrogate */
        {"big \xF4\x90\x80\x80", "big \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
        {"\x80" "诉", "\xEF\xBF\xBD" "诉"},                                /* a lone continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = msg_of(cases[i].in);
        if (strcmp(m, cases[i].out) != 0) fail_msg("case %zu: got '%s'", i, m);
        free(m);
    }
    /* The other fields too. */
    js_log_init("s\xff", "i\xC0\xAF", JS_LOG_INFO, stderr);
    char line[512];
    js_log_format(line, sizeof line, 0, JS_LOG_INFO, "o\xE6", "t\xED\xA0\x80", "m");
    json_t *j = parse(line);
    assert_non_null(j);
    assert_string_equal(field(j, "service"), "s\xEF\xBF\xBD");
    json_decref(j);
}

static void test_masking(void **st) {
    (void)st;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"13812345678", "138****5678"},
        {"call 13812345678, now", "call 138****5678, now"},
        {"1234567", "*****67"},
        {"1234567890", "********90"},
        {"123456", "123456"},                         /* 6 digits: a count, kept */
        {"id 110101199003071234", "id 110***********1234"}, /* 18 digits */
        {"x11010119900307123X", "x110**********7123X"}, /* 17 digits then X */
        {"a13812345678b 2026 8613812345678", "a138****5678b 2026 861******5678"},
        {"port 6390, 42 orders", "port 6390, 42 orders"},
        {"１３８１２３４５６７８", "１３８１２３４５６７８"}, /* full-width: not ASCII digits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = msg_of(cases[i].in);
        if (strcmp(m, cases[i].out) != 0) fail_msg("case %zu: got '%s' want '%s'", i, m, cases[i].out);
        free(m);
    }
    /* Only msg is masked: ids belong in their own fields. */
    char line[512];
    js_log_format(line, sizeof line, 0, JS_LOG_INFO, "01J1234567890", "12345678901234567890", "ok");
    json_t *j = parse(line);
    assert_string_equal(field(j, "order"), "01J1234567890");
    assert_string_equal(field(j, "trace"), "12345678901234567890");
    json_decref(j);
}

static void test_cut(void **st) {
    (void)st;
    /* Every cap from tiny to roomy: a line is either "" (0) or valid JSON
     * that fits, ends in "\n", and whose msg is a prefix or ends in "...". */
    const char *msg = "接诉 \"quoted\" \x01 13812345678 ok";
    for (size_t cap = 1; cap < 260; cap++) {
        char line[260];
        memset(line, 'Z', sizeof line);
        size_t n = js_log_format(line, cap, 0, JS_LOG_INFO, "o", "t", msg);
        assert_true(n < cap);
        assert_int_equal(line[n], '\0');
        assert_int_equal(line[cap], 'Z'); /* nothing past cap-1 */
        if (n == 0) continue;
        assert_int_equal(line[n - 1], '\n');
        json_t *j = parse(line);
        assert_non_null(j);
        const char *m = field(j, "msg");
        size_t ml = strlen(m);
        if (strcmp(m, "接诉 \"quoted\" \x01 138****5678 ok") != 0) {
            assert_true(ml >= 3 && strcmp(m + ml - 3, "...") == 0);
            assert_null(strstr(m, "1234"));
        }
        json_decref(j);
    }
    /* js_log: a message far longer than a line, with a run of digits astride
     * the cut, still gives one valid line and never shows the run. */
    FILE *f = tmpfile();
    js_log_init("t", "i", JS_LOG_INFO, f);
    size_t big = 3 * JS_LOG_LINE_MAX;
    char *m = malloc(big + 1);
    memset(m, 'a', big);
    memcpy(m + JS_LOG_LINE_MAX - 320, "\"\"\"\"\"", 5); /* escapes grow the line */
    for (size_t k = JS_LOG_LINE_MAX - 300; k < JS_LOG_LINE_MAX + 100; k++) m[k] = (char)('0' + k % 10);
    m[big] = '\0';
    js_log(JS_LOG_INFO, NULL, NULL, "%s", m);
    char *out = slurp(f);
    assert_true(strlen(out) <= JS_LOG_LINE_MAX);
    assert_int_equal(strchr(out, '\n') - out, (ptrdiff_t)strlen(out) - 1);
    json_t *j = parse(out);
    assert_non_null(j);
    const char *r = strstr(field(j, "msg"), "aaa678*");
    assert_non_null(r);
    r += 6;
    size_t stars = strspn(r, "*");
    assert_true(stars > 100);
    assert_string_equal(r + stars, "...");
    json_decref(j);
    free(out);
    free(m);
    fclose(f);
}

static void test_levels(void **st) {
    (void)st;
    FILE *f = tmpfile();
    js_log_init("t", "i", JS_LOG_INFO, f);
    assert_false(js_log_enabled(JS_LOG_DEBUG));
    assert_true(js_log_enabled(JS_LOG_INFO));
    js_log(JS_LOG_DEBUG, NULL, NULL, "hidden %d", 1);
    js_debug("hidden %d", 2);
    js_info("shown %d", 1);
    js_log_set_level(JS_LOG_ERROR);
    js_warn("hidden %d", 3);
    js_error("shown %d", 2);
    js_log_set_level(JS_LOG_DEBUG);
    js_debug("shown %d", 3);
    js_log_set_level(99); /* clamped to error */
    assert_true(js_log_enabled(JS_LOG_ERROR));
    js_warn("hidden %d", 4);
    char *out = slurp(f);
    assert_null(strstr(out, "hidden"));
    int lines = 0;
    const char *want[] = {"shown 1", "shown 2", "shown 3"};
    for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
        *nl = '\0';
        json_t *j = parse(p);
        assert_non_null(j);
        assert_true(lines < 3);
        assert_string_equal(field(j, "msg"), want[lines]);
        json_decref(j);
    }
    assert_int_equal(lines, 3);
    free(out);
    fclose(f);
    assert_int_equal(js_log_level_parse("debug"), JS_LOG_DEBUG);
    assert_int_equal(js_log_level_parse("info"), JS_LOG_INFO);
    assert_int_equal(js_log_level_parse("WARN"), JS_LOG_WARN);
    assert_int_equal(js_log_level_parse("error"), JS_LOG_ERROR);
    assert_int_equal(js_log_level_parse("loud"), -1);
    assert_int_equal(js_log_level_parse(NULL), -1);
}

static void test_errno_kept_and_memstream(void **st) {
    (void)st;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len); /* no descriptor: the stdio path */
    js_log_init("t", "i", JS_LOG_INFO, f);
    errno = EAGAIN;
    js_info("one %s", "line");
    assert_int_equal(errno, EAGAIN);
    js_log_init("t", "i", JS_LOG_INFO, stderr);
    fclose(f);
    json_t *j = parse(buf);
    assert_non_null(j);
    assert_string_equal(field(j, "msg"), "one line");
    json_decref(j);
    free(buf);
}

/* Four processes write long lines into one O_APPEND file at once: one
 * write(2) per line means no line is torn. */
static void test_processes_do_not_interleave(void **st) {
    (void)st;
    enum { PROCS = 4, LINES = 200 };
    char path[] = "/tmp/jiesu-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    FILE *f = fopen(path, "a+");
    assert_non_null(f);
    char *msg = malloc(3001);
    fflush(NULL);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            char id[16];
            snprintf(id, sizeof id, "p%d", p);
            js_log_init("t", id, JS_LOG_INFO, f);
            memset(msg, 'a' + p, 3000);
            msg[3000] = '\0';
            for (int i = 0; i < LINES; i++) js_log(JS_LOG_INFO, NULL, NULL, "%d %s", i, msg);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char *out = slurp(f);
    int lines = 0, per[PROCS] = {0};
    for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
        *nl = '\0';
        json_t *j = parse(p);
        assert_non_null(j);
        int who = field(j, "instance")[1] - '0';
        assert_true(who >= 0 && who < PROCS);
        const char *m = strchr(field(j, "msg"), ' ') + 1;
        assert_int_equal(strspn(m, (char[]){(char)('a' + who), 0}), 3000);
        per[who]++;
        json_decref(j);
    }
    assert_int_equal(lines, PROCS * LINES);
    for (int p = 0; p < PROCS; p++) assert_int_equal(per[p], LINES);
    free(out);
    free(msg);
    fclose(f);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_exact_line, reset),
        cmocka_unit_test_teardown(test_escaping, reset),
        cmocka_unit_test_teardown(test_bad_utf8, reset),
        cmocka_unit_test_teardown(test_masking, reset),
        cmocka_unit_test_teardown(test_cut, reset),
        cmocka_unit_test_teardown(test_levels, reset),
        cmocka_unit_test_teardown(test_errno_kept_and_memstream, reset),
        cmocka_unit_test_teardown(test_processes_do_not_interleave, reset),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
