/* test_conf.c -- precedence, the file format and its errors, the environment
 * names, both flag forms, the rest index, help and version, typed reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"

extern char **environ;

static const js_conf_def_t defs[] = {
    {"redis.port", "6390", "Redis port"},
    {"redis.host", "127.0.0.1", "Redis host"},
    {"log.level", "info", "level"},
    {"flag", "no", "a bool"},
    {NULL, NULL, NULL},
};

static const js_conf_def_t more[] = {
    {"svc.name-x", "", "empty default"},
    {"ratio", "0.5", "a double"},
    {NULL, NULL, NULL},
};

/* The test runner's environment may hold JIESU_* variables of its own. */
static int clear_env(void **st) {
    (void)st;
    for (;;) {
        char **e = environ;
        while (*e && strncmp(*e, "JIESU_", 6) != 0) e++;
        if (!*e) return 0;
        char name[256];
        size_t n = strcspn(*e, "=");
        snprintf(name, sizeof name, "%.*s", (int)n, *e);
        unsetenv(name);
    }
}

static char *tmpfile_with(const char *text) {
    char *p = strdup("/tmp/jiesu-conf-XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return p;
}

static js_conf_t *new_conf(void) {
    js_conf_t *c = js_conf_new("prog", "[opts] verb");
    js_conf_add(c, defs);
    js_conf_add(c, more);
    return c;
}

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static void test_defaults(void **st) {
    (void)st;
    js_conf_t *c = new_conf();
    char err[256];
    char *argv[] = {"prog", NULL};
    int rest = -1;
    assert_int_equal(js_conf_load(c, 1, argv, &rest, err, sizeof err), 0);
    assert_int_equal(rest, 1);
    assert_string_equal(js_conf_str(c, "redis.host"), "127.0.0.1");
    assert_int_equal(js_conf_int(c, "redis.port"), 6390);
    assert_string_equal(js_conf_str(c, "svc.name-x"), "");
    assert_false(js_conf_bool(c, "flag"));
    assert_true(js_conf_double(c, "ratio") == 0.5);
    js_conf_destroy(&c);
    assert_null(c);
    js_conf_destroy(&c); /* idempotent */
    js_conf_destroy(NULL);
}

static void test_precedence(void **st) {
    (void)st;
    char err[256];
    /* Four keys, each won by a different source. */
    char *file = tmpfile_with("# comment\n"
                              "redis.port 7000\n"
                              "redis.host \"10.0.0.1\"\n"
                              "log.level debug\n"
                              "flag off\n");
    setenv("JIESU_CONFIG", file, 1);
    setenv("JIESU_REDIS_PORT", "7001", 1);
    setenv("JIESU_LOG_LEVEL", "error", 1);
    setenv("JIESU_NOT_A_KEY", "x", 1); /* other programs' variables are ignored */
    js_conf_t *c = new_conf();
    char *argv[] = {"prog", "--log.level=warn", "--flag", "yes", "verb", "--redis.port", "1", NULL};
    int rest = 0;
    assert_int_equal(js_conf_load(c, ARGC(argv), argv, &rest, err, sizeof err), 0);
    assert_int_equal(rest, 4);
    assert_string_equal(js_conf_str(c, "ratio"), "0.5");           /* default */
    assert_string_equal(js_conf_str(c, "redis.host"), "10.0.0.1"); /* file over default */
    assert_int_equal(js_conf_int(c, "redis.port"), 7001);          /* env over file; after "verb" is not a flag */
    assert_string_equal(js_conf_str(c, "log.level"), "warn");      /* flag over env */
    assert_true(js_conf_bool(c, "flag"));                          /* flag over file */
    js_conf_destroy(&c);

    /* --config wins over JIESU_CONFIG; --config= (empty) means no file. */
    char *other = tmpfile_with("redis.host other\n");
    unsetenv("JIESU_REDIS_PORT");
    unsetenv("JIESU_LOG_LEVEL");
    c = new_conf();
    char *a2[] = {"prog", "--config", other, NULL};
    assert_int_equal(js_conf_load(c, ARGC(a2), a2, NULL, err, sizeof err), 0);
    assert_string_equal(js_conf_str(c, "redis.host"), "other");
    assert_int_equal(js_conf_int(c, "redis.port"), 6390);
    js_conf_destroy(&c);
    c = new_conf();
    char *a3[] = {"prog", "--config=", NULL};
    assert_int_equal(js_conf_load(c, ARGC(a3), a3, NULL, err, sizeof err), 0);
    assert_string_equal(js_conf_str(c, "redis.host"), "127.0.0.1");
    js_conf_destroy(&c);

    unsetenv("JIESU_CONFIG");
    unsetenv("JIESU_NOT_A_KEY");
    unlink(file);
    unlink(other);
    free(file);
    free(other);
}

static void test_file_values(void **st) {
    (void)st;
    char err[256];
    char *file = tmpfile_with("\n"
                              "   # indented comment\n"
                              "redis.host\t  host#1  \r\n" /* '#' inside a value is data; CRLF */
                              "log.level \"two words\"\n"
                              "svc.name-x \"q\\\"b\\\\s\\tt\\x41\"\n"
                              "ratio \"\"\n"
                              "redis.port 1\n"
                              "redis.port 2\n" /* the last wins */
                              "flag on"); /* no final newline */
    js_conf_t *c = new_conf();
    char *argv[] = {"prog", "--config", file, NULL};
    assert_int_equal(js_conf_load(c, ARGC(argv), argv, NULL, err, sizeof err), 0);
    assert_string_equal(js_conf_str(c, "redis.host"), "host#1");
    assert_string_equal(js_conf_str(c, "log.level"), "two words");
    assert_string_equal(js_conf_str(c, "svc.name-x"), "q\"b\\s\ttA");
    assert_string_equal(js_conf_str(c, "ratio"), "");
    assert_int_equal(js_conf_int(c, "redis.port"), 2);
    assert_true(js_conf_bool(c, "flag"));
    js_conf_destroy(&c);
    unlink(file);
    free(file);
}

/* Loads text as a config file; returns the code and leaves the message in err. */
static int load_text(const char *text, char *err, size_t errlen, char **path) {
    *path = tmpfile_with(text);
    js_conf_t *c = new_conf();
    char *argv[] = {"prog", "--config", *path, NULL};
    int rc = js_conf_load(c, ARGC(argv), argv, NULL, err, errlen);
    js_conf_destroy(&c);
    unlink(*path);
    return rc;
}

static void test_file_errors(void **st) {
    (void)st;
    static const struct {
        const char *text;
        int line;
        const char *what;
    } cases[] = {
        {"redis.port 1\n\nbogus 2\n", 3, "unknown key 'bogus'"},
        {"# c\nredis.port\n", 2, "missing value"},
        {"redis.host \"abc\n", 1, "unterminated"},
        {"redis.host a b\n", 1, "more than one value"},
        {"redis.port 1 # trailing comment\n", 1, "more than one value"},
        {"redis.host \"a\"b\n", 1, "closing quote"},
        {"redis.host \"a\\qb\"\n", 1, "unknown escape"},
        {"redis.host \"a\\x4\"\n", 1, "\\x"},
        {"redis.host \"a\\x00\"\n", 1, "\\x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256], *path = NULL, want[300];
        assert_int_equal(load_text(cases[i].text, err, sizeof err, &path), -EINVAL);
        snprintf(want, sizeof want, "%s:%d: ", path, cases[i].line);
        if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, cases[i].what))
            fail_msg("case %zu: got '%s', want '%s...%s'", i, err, want, cases[i].what);
        free(path);
    }
    /* A missing file: the errno, and the file named. */
    js_conf_t *c = new_conf();
    char err[256];
    char *argv[] = {"prog", "--config", "/nonexistent/jiesu.conf", NULL};
    assert_int_equal(js_conf_load(c, ARGC(argv), argv, NULL, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/jiesu.conf"));
    js_conf_destroy(&c);
}

static void test_env_names(void **st) {
    (void)st;
    char err[256];
    setenv("JIESU_SVC_NAME_X", "from-env", 1); /* '.' and '-' become '_' */
    setenv("JIESU_REDIS_HOST", "", 1);         /* set but empty: empty */
    setenv("jiesu_redis_port", "1", 1);        /* names are upper case */
    js_conf_t *c = new_conf();
    char *argv[] = {"prog", NULL};
    assert_int_equal(js_conf_load(c, 1, argv, NULL, err, sizeof err), 0);
    assert_string_equal(js_conf_str(c, "svc.name-x"), "from-env");
    assert_string_equal(js_conf_str(c, "redis.host"), "");
    assert_int_equal(js_conf_int(c, "redis.port"), 6390);
    js_conf_destroy(&c);
    unsetenv("JIESU_SVC_NAME_X");
    unsetenv("JIESU_REDIS_HOST");
    unsetenv("jiesu_redis_port");
}

static void test_flags(void **st) {
    (void)st;
    char err[256];
    js_conf_t *c = new_conf();
    char *a1[] = {"prog", "--redis.host=a=b", "--redis.port", "-5", "--log.level=", "--ratio", "", NULL};
    int rest = 0;
    assert_int_equal(js_conf_load(c, ARGC(a1), a1, &rest, err, sizeof err), 0);
    assert_int_equal(rest, ARGC(a1));
    assert_string_equal(js_conf_str(c, "redis.host"), "a=b");
    assert_int_equal(js_conf_int(c, "redis.port"), -5);
    assert_string_equal(js_conf_str(c, "log.level"), "");
    assert_string_equal(js_conf_str(c, "ratio"), "");
    js_conf_destroy(&c);

    /* "--" ends the options; what follows is left, options or not. */
    c = new_conf();
    char *a2[] = {"prog", "--flag", "1", "--", "--redis.port", "9", NULL};
    assert_int_equal(js_conf_load(c, ARGC(a2), a2, &rest, err, sizeof err), 0);
    assert_int_equal(rest, 4);
    assert_int_equal(js_conf_int(c, "redis.port"), 6390);
    js_conf_destroy(&c);

    /* "-" alone is an argument (stdin, by custom). */
    c = new_conf();
    char *a3[] = {"prog", "-", "x", NULL};
    assert_int_equal(js_conf_load(c, ARGC(a3), a3, &rest, err, sizeof err), 0);
    assert_int_equal(rest, 1);
    js_conf_destroy(&c);

    /* "--" last leaves nothing. */
    c = new_conf();
    char *a4[] = {"prog", "--", NULL};
    assert_int_equal(js_conf_load(c, ARGC(a4), a4, &rest, err, sizeof err), 0);
    assert_int_equal(rest, 2);
    js_conf_destroy(&c);
}

static void test_flag_errors(void **st) {
    (void)st;
    static const struct {
        const char *args[4];
        const char *what;
    } cases[] = {
        {{"--nope", "1"}, "'--nope'"},
        {{"--nope=1"}, "'--nope'"},
        {{"-x"}, "'-x'"},
        {{"--redis.port"}, "'--redis.port' needs a value"},
        {{"--redis.host", "--flag", "1"}, "'--redis.host' needs a value"},
        {{"--redis.port", "1", "--=3"}, "'--'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[6] = {"prog"};
        int argc = 1;
        for (int k = 0; k < 4 && cases[i].args[k]; k++) argv[argc++] = (char *)cases[i].args[k];
        js_conf_t *c = new_conf();
        char err[256] = "";
        int rest = -7;
        assert_int_equal(js_conf_load(c, argc, argv, &rest, err, sizeof err), -EINVAL);
        assert_int_equal(rest, -7); /* untouched on error */
        if (!strstr(err, cases[i].what)) fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].what);
        js_conf_destroy(&c);
    }
    /* js_conf_set knows only declared keys; err may be NULL. */
    js_conf_t *c = new_conf();
    assert_int_equal(js_conf_set(c, "nokey", "1"), -ENOENT);
    assert_int_equal(js_conf_set(c, "redis.port", "abc"), 0);
    assert_int_equal(js_conf_check_int(c, "redis.port", 1, 65535, NULL, 0), -EINVAL);
    char *a[] = {"prog", "--bad", NULL};
    assert_int_equal(js_conf_load(c, 2, a, NULL, NULL, 0), -EINVAL);
    js_conf_destroy(&c);
}

static void test_ints(void **st) {
    (void)st;
    js_conf_t *c = new_conf();
    char err[256];
    assert_int_equal(js_conf_check_int(c, "redis.port", 1, 65535, err, sizeof err), 0);
    static const char *bad[] = {"abc", "", "12abc", " 12", "12 ", "0x10", "1e3", "5s",
                                "99999999999999999999", "+", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        js_conf_set(c, "redis.port", bad[i]);
        assert_int_equal(js_conf_check_int(c, "redis.port", INT64_MIN, INT64_MAX, err, sizeof err), -EINVAL);
        assert_int_equal(js_conf_int(c, "redis.port"), 0);
    }
    js_conf_set(c, "redis.port", "abc");
    assert_int_equal(js_conf_check_int(c, "redis.port", 1, 65535, err, sizeof err), -EINVAL);
    assert_string_equal(err, "redis.port: 'abc' is not an integer in [1, 65535]");
    js_conf_set(c, "redis.port", "65536");
    assert_int_equal(js_conf_check_int(c, "redis.port", 1, 65535, err, sizeof err), -EINVAL);
    assert_string_equal(err, "redis.port: '65536' is not an integer in [1, 65535]");
    js_conf_set(c, "redis.port", "-9223372036854775808");
    assert_int_equal(js_conf_check_int(c, "redis.port", INT64_MIN, 0, err, sizeof err), 0);
    assert_true(js_conf_int(c, "redis.port") == INT64_MIN);
    js_conf_set(c, "redis.port", "+42");
    assert_int_equal(js_conf_int(c, "redis.port"), 42);
    js_conf_set(c, "ratio", "2.5e-1");
    assert_true(js_conf_double(c, "ratio") == 0.25);
    js_conf_set(c, "ratio", "0.5x");
    assert_true(js_conf_double(c, "ratio") == 0);
    js_conf_destroy(&c);
}

static void test_bools(void **st) {
    (void)st;
    js_conf_t *c = new_conf();
    char err[256];
    static const char *yes[] = {"yes", "true", "1", "on", "YES", "True", "ON"};
    static const char *no[] = {"no", "false", "0", "off", "No", "FALSE", "Off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        js_conf_set(c, "flag", yes[i]);
        assert_true(js_conf_bool(c, "flag"));
        assert_int_equal(js_conf_check_bool(c, "flag", err, sizeof err), 0);
        js_conf_set(c, "flag", no[i]);
        assert_false(js_conf_bool(c, "flag"));
        assert_int_equal(js_conf_check_bool(c, "flag", err, sizeof err), 0);
    }
    js_conf_set(c, "flag", "yess");
    assert_false(js_conf_bool(c, "flag"));
    assert_int_equal(js_conf_check_bool(c, "flag", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "flag: 'yess' is not a bool"));
    js_conf_destroy(&c);
}

static void test_redeclare(void **st) {
    (void)st;
    static const js_conf_def_t override[] = {{"redis.port", "7777", "this service's port"}, {NULL, NULL, NULL}};
    js_conf_t *c = new_conf();
    js_conf_add(c, override);
    js_conf_add(c, NULL);
    assert_int_equal(js_conf_int(c, "redis.port"), 7777);
    js_conf_destroy(&c);
}

static char *help_text(js_conf_t *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    js_conf_print_help(c, f);
    fclose(f);
    return buf;
}

static void test_help(void **st) {
    (void)st;
    js_conf_t *c = js_conf_new("jiesu-x", "[--key value ...]");
    js_conf_add(c, defs);
    js_conf_add(c, more);
    char *buf = help_text(c);
    const char *first = "usage: jiesu-x [--key value ...]\n";
    assert_int_equal(strncmp(buf, first, strlen(first)), 0);
    /* The widest left column is "--svc.name-x VALUE" (18). */
    assert_non_null(strstr(buf, "\n  --redis.port VALUE  Redis port (default: 6390)\n"
                                "                      env JIESU_REDIS_PORT\n"));
    assert_non_null(strstr(buf, "\n  --ratio VALUE       a double (default: 0.5)\n"));
    assert_non_null(strstr(buf, "\n  --svc.name-x VALUE  empty default (default: \"\")\n"
                                "                      env JIESU_SVC_NAME_X\n"));
    assert_non_null(strstr(buf, "--config FILE"));
    assert_non_null(strstr(buf, "JIESU_CONFIG"));
    assert_non_null(strstr(buf, "--version"));
    /* Declaration order is kept. */
    assert_true(strstr(buf, "--redis.port") < strstr(buf, "--ratio"));
    free(buf);
    js_conf_destroy(&c);
}

/* Runs js_conf_load with stdout sent to a file; returns what it printed. */
static char *load_stdout(js_conf_t *c, int argc, char **argv, int *rc) {
    char *path = tmpfile_with("");
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(path, "w");
    dup2(fileno(f), 1);
    char err[256];
    *rc = js_conf_load(c, argc, argv, NULL, err, sizeof err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    free(path);
    return buf;
}

static void test_help_and_version_options(void **st) {
    (void)st;
    int rc;
    js_conf_t *c = new_conf();
    char *a1[] = {"prog", "--redis.port", "1", "-h", NULL};
    char *out = load_stdout(c, ARGC(a1), a1, &rc);
    assert_int_equal(rc, JS_CONF_EXIT);
    assert_int_equal(strncmp(out, "usage: prog [opts] verb\n", strlen("usage: prog [opts] verb\n")), 0);
    assert_non_null(strstr(out, "env JIESU_LOG_LEVEL"));
    free(out);

    /* --help wins over a bad option next to it. */
    char *a2[] = {"prog", "--nope", "--help", NULL};
    out = load_stdout(c, ARGC(a2), a2, &rc);
    assert_int_equal(rc, JS_CONF_EXIT);
    assert_non_null(strstr(out, "usage: prog"));
    free(out);

    char *a3[] = {"prog", "--version", NULL};
    out = load_stdout(c, ARGC(a3), a3, &rc);
    assert_int_equal(rc, JS_CONF_EXIT);
    assert_string_equal(out, "prog " JIESU_VERSION "\n");
    free(out);

    /* After the options, --help is an argument like any other. */
    char *a4[] = {"prog", "verb", "--help", NULL};
    out = load_stdout(c, ARGC(a4), a4, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "");
    free(out);
    js_conf_destroy(&c);
}

/* Reading a key nobody declared is a bug: it aborts, as an assert would. */
static void test_undeclared_aborts(void **st) {
    (void)st;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        js_conf_t *c = new_conf();
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        js_conf_str(c, "redis.prot");
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_precedence, clear_env),
        cmocka_unit_test_setup(test_file_values, clear_env),
        cmocka_unit_test_setup(test_file_errors, clear_env),
        cmocka_unit_test_setup(test_env_names, clear_env),
        cmocka_unit_test_setup(test_flags, clear_env),
        cmocka_unit_test_setup(test_flag_errors, clear_env),
        cmocka_unit_test_setup(test_ints, clear_env),
        cmocka_unit_test_setup(test_bools, clear_env),
        cmocka_unit_test_setup(test_redeclare, clear_env),
        cmocka_unit_test_setup(test_help, clear_env),
        cmocka_unit_test_setup(test_help_and_version_options, clear_env),
        cmocka_unit_test_setup(test_undeclared_aborts, clear_env),
    };
    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
