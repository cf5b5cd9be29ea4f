/* conf.c -- defaults < file < environment < flags. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsdefs.h"

#ifndef JIESU_VERSION
#define JIESU_VERSION "0.0.0"
#endif

typedef struct entry {
    const js_conf_def_t *def; /* the caller's table: not copied */
    char *env;                /* JIESU_REDIS_PORT for redis.port */
    char *value;
} entry_t;

struct js_conf {
    char *prog, *usage;
    entry_t *v;
    size_t n, cap;
};

/* A flag is applied after the file and the environment, whatever its place
 * on the command line, so it is remembered first. */
typedef struct flag {
    entry_t *e;
    const char *value;
} flag_t;

static void __attribute__((noreturn, format(printf, 1, 2))) s_panic(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("jiesu: conf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Writes the message and returns -EINVAL, so a failing path reads
 * `return s_err(...)`. err may be NULL when the caller wants only the code. */
static int __attribute__((format(printf, 3, 4))) s_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static entry_t *s_find(const js_conf_t *c, const char *key, size_t keylen) {
    for (size_t i = 0; i < c->n; i++)
        if (strncmp(c->v[i].def->key, key, keylen) == 0 && c->v[i].def->key[keylen] == '\0') return &c->v[i];
    return NULL;
}

static entry_t *s_get(const js_conf_t *c, const char *key) {
    entry_t *e = s_find(c, key, strlen(key));
    if (!e) s_panic("key '%s' read but never declared (js_conf_add)", key);
    return e;
}

static char *s_env_name(const char *key) {
    size_t n = strlen(key);
    char *env = js_malloc(sizeof "JIESU_" + n);
    memcpy(env, "JIESU_", 6);
    for (size_t i = 0; i <= n; i++)
        env[6 + i] = (key[i] == '.' || key[i] == '-') ? '_' : (char)toupper((unsigned char)key[i]);
    return env;
}

js_conf_t *js_conf_new(const char *prog, const char *usage) {
    js_conf_t *c = js_calloc(1, sizeof *c);
    c->prog = js_strdup(prog ? prog : "jiesu");
    c->usage = js_strdup(usage ? usage : "");
    return c;
}

static void s_check_key(const char *key) {
    if (!*key || key[0] == '-' || strpbrk(key, "= \t\r\n\"#"))
        s_panic("key '%s': keys have no blank, '=', '\"' or '#' and do not start with '-'", key);
    if (!strcmp(key, "config") || !strcmp(key, "help") || !strcmp(key, "version"))
        s_panic("key '%s' is reserved for the option of that name", key);
}

void js_conf_add(js_conf_t *c, const js_conf_def_t *defs) {
    for (; defs && defs->key; defs++) {
        s_check_key(defs->key);
        entry_t *e = s_find(c, defs->key, strlen(defs->key));
        if (!e) {
            char *env = s_env_name(defs->key);
            for (size_t i = 0; i < c->n; i++)
                if (!strcmp(c->v[i].env, env))
                    s_panic("keys '%s' and '%s' share the environment name %s", c->v[i].def->key, defs->key, env);
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 32;
                c->v = js_realloc(c->v, c->cap * sizeof *c->v);
            }
            e = &c->v[c->n++];
            e->env = env;
            e->value = NULL;
        }
        e->def = defs;
        free(e->value);
        e->value = js_strdup(defs->def ? defs->def : "");
    }
}

static void s_assign(entry_t *e, const char *value) {
    char *v = js_strdup(value ? value : "");
    free(e->value);
    e->value = v;
}

int js_conf_set(js_conf_t *c, const char *key, const char *value) {
    entry_t *e = key ? s_find(c, key, strlen(key)) : NULL;
    if (!e) return -ENOENT;
    s_assign(e, value);
    return 0;
}

/* ---- the file ------------------------------------------------------------ */

static int s_blank(int ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

static int s_hex(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Splits one line in place into key and value. Returns 1 with *key and *val
 * set, 0 for a blank or comment line, -1 with *why set. */
static int s_split(char *p, char **key, char **val, const char **why) {
    while (s_blank(*p)) p++;
    if (*p == '\0' || *p == '#') return 0;
    *key = p;
    while (*p && !s_blank(*p)) p++;
    if (*p) *p++ = '\0';
    while (s_blank(*p)) p++;
    if (*p == '\0') {
        *why = "missing value (write \"\" for the empty value)";
        return -1;
    }
    if (*p == '"') {
        char *w = p, *r = p + 1;
        *val = w;
        for (;; r++) {
            if (*r == '\0') {
                *why = "unterminated quoted value";
                return -1;
            }
            if (*r == '"') break;
            if (*r != '\\') {
                *w++ = *r;
                continue;
            }
            switch (*++r) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'x': {
                int hi = s_hex((unsigned char)r[1]), lo = hi < 0 ? -1 : s_hex((unsigned char)r[2]);
                if (lo < 0 || (hi | lo) == 0) {
                    *why = "bad \\x escape (two hex digits, not 00)";
                    return -1;
                }
                *w++ = (char)(hi << 4 | lo);
                r += 2;
                break;
            }
            default: *why = "unknown escape in quoted value (\\\" \\\\ \\n \\r \\t \\xHH)"; return -1;
            }
        }
        p = r + 1;
        *w = '\0'; /* w < p: the escapes only shrink the text */
        if (*p && !s_blank(*p)) {
            *why = "a closing quote must end the value";
            return -1;
        }
    } else {
        *val = p;
        while (*p && !s_blank(*p)) p++;
        if (*p) *p++ = '\0';
    }
    while (s_blank(*p)) p++;
    if (*p) {
        *why = "more than one value (quote a value that has blanks)";
        return -1;
    }
    return 1;
}

static int s_load_file(js_conf_t *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        s_err(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (strlen(line) != (size_t)len) {
            rc = s_err(err, errlen, "%s:%d: NUL byte in the line", path, lineno);
            break;
        }
        char *key = NULL, *val = NULL;
        const char *why = NULL;
        int r = s_split(line, &key, &val, &why);
        if (r < 0)
            rc = s_err(err, errlen, "%s:%d: %s", path, lineno, why);
        else if (r > 0 && js_conf_set(c, key, val) < 0)
            rc = s_err(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
    }
    if (rc == 0 && ferror(f)) rc = s_err(err, errlen, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

/* ---- load ---------------------------------------------------------------- */

int js_conf_load(js_conf_t *c, int argc, char **argv, int *rest, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    flag_t *flags = js_calloc(argc > 0 ? (size_t)argc : 1, sizeof *flags);
    size_t nflags = 0;
    const char *file = getenv("JIESU_CONFIG");
    int help = 0, version = 0, rc = 0, i;

    /* One pass over the options records the flags, the file, and whether
     * --help or --version was asked: those win even over a bad option. */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') break;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help = 1;
            continue;
        }
        if (!strcmp(a, "--version")) {
            version = 1;
            continue;
        }
        if (a[1] != '-') {
            if (!rc) rc = s_err(err, errlen, "unknown option '%s' (settings are --key VALUE; see --help)", a);
            continue;
        }
        const char *key = a + 2, *eq = strchr(key, '='), *val;
        size_t keylen = eq ? (size_t)(eq - key) : strlen(key);
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            val = argv[++i];
        } else {
            /* A value that starts with "--" is more likely a forgotten value. */
            if (!rc)
                rc = s_err(err, errlen, "option '%s' needs a value (--%s=VALUE if it starts with --)", a, key);
            continue;
        }
        if (keylen == 6 && !strncmp(key, "config", 6)) {
            file = val;
            continue;
        }
        entry_t *e = s_find(c, key, keylen);
        if (!e) {
            if (!rc) rc = s_err(err, errlen, "unknown option '--%.*s' (see --help)", (int)keylen, key);
            continue;
        }
        flags[nflags++] = (flag_t){e, val};
    }
    if (help || version) {
        if (help)
            js_conf_print_help(c, stdout);
        else
            printf("%s %s\n", c->prog, JIESU_VERSION);
        fflush(stdout);
        free(flags);
        if (err && errlen) err[0] = '\0';
        return JS_CONF_EXIT;
    }
    if (rc == 0 && file && *file) rc = s_load_file(c, file, err, errlen);
    if (rc == 0) {
        for (size_t k = 0; k < c->n; k++) {
            const char *v = getenv(c->v[k].env);
            if (v) s_assign(&c->v[k], v);
        }
        for (size_t k = 0; k < nflags; k++) s_assign(flags[k].e, flags[k].value);
        if (rest) *rest = i;
    }
    free(flags);
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

const char *js_conf_str(const js_conf_t *c, const char *key) { return s_get(c, key)->value; }

/* strtoll alone takes leading blanks and stops at the first bad byte. */
static int s_parse_int(const char *s, int64_t *out) {
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!isdigit((unsigned char)*d)) return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -EINVAL;
    *out = v;
    return 0;
}

int64_t js_conf_int(const js_conf_t *c, const char *key) {
    int64_t v = 0;
    return s_parse_int(js_conf_str(c, key), &v) == 0 ? v : 0;
}

double js_conf_double(const js_conf_t *c, const char *key) {
    const char *s = js_conf_str(c, key);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    return (end == s || *end || isspace((unsigned char)*s) || errno == ERANGE) ? 0 : v;
}

/* 1 true, 0 false, -1 not a bool word. */
static int s_parse_bool(const char *v) {
    static const char *yes[] = {"yes", "true", "1", "on"}, *no[] = {"no", "false", "0", "off"};
    for (size_t i = 0; i < JS_ARRAY_LEN(yes); i++) {
        if (!strcasecmp(v, yes[i])) return 1;
        if (!strcasecmp(v, no[i])) return 0;
    }
    return -1;
}

bool js_conf_bool(const js_conf_t *c, const char *key) { return s_parse_bool(js_conf_str(c, key)) == 1; }

int js_conf_check_int(const js_conf_t *c, const char *key, int64_t min, int64_t max, char *err, size_t errlen) {
    const char *s = js_conf_str(c, key);
    int64_t v;
    if (s_parse_int(s, &v) < 0 || v < min || v > max)
        return s_err(err, errlen, "%s: '%s' is not an integer in [%lld, %lld]", key, s, (long long)min,
                     (long long)max);
    return 0;
}

int js_conf_check_bool(const js_conf_t *c, const char *key, char *err, size_t errlen) {
    const char *s = js_conf_str(c, key);
    if (s_parse_bool(s) < 0)
        return s_err(err, errlen, "%s: '%s' is not a bool (yes/no, true/false, 1/0, on/off)", key, s);
    return 0;
}

/* ---- help ---------------------------------------------------------------- */

static void s_help_line(FILE *f, int width, const char *left, const char *text) {
    fprintf(f, "  %-*s  %s\n", width, left, text);
}

void js_conf_print_help(const js_conf_t *c, void *file) {
    FILE *f = file ? file : stdout;
    if (*c->usage)
        fprintf(f, "usage: %s %s\n\n", c->prog, c->usage);
    else
        fprintf(f, "usage: %s\n\n", c->prog);
    fprintf(f, "Each setting is a flag --key VALUE (or --key=VALUE), an environment variable,\n"
               "or a line \"key value\" of the --config file; flags win over the environment,\n"
               "which wins over the file, which wins over the default.\n\n");
    int width = (int)strlen("--config FILE");
    for (size_t i = 0; i < c->n; i++) {
        int w = (int)(strlen(c->v[i].def->key) + strlen("-- VALUE"));
        if (w > width) width = w;
    }
    for (size_t i = 0; i < c->n; i++) {
        const js_conf_def_t *d = c->v[i].def;
        const char *def = d->def ? d->def : "";
        char *left = NULL, *text = NULL, *env = NULL;
        if (asprintf(&left, "--%s VALUE", d->key) < 0 ||
            asprintf(&text, *def && !strpbrk(def, " \t") ? "%s (default: %s)" : "%s (default: \"%s\")",
                     d->help ? d->help : "", def) < 0 ||
            asprintf(&env, "env %s", c->v[i].env) < 0)
            s_panic("out of memory");
        s_help_line(f, width, left, text);
        s_help_line(f, width, "", env);
        free(left);
        free(text);
        free(env);
    }
    s_help_line(f, width, "--config FILE", "read settings from FILE (env JIESU_CONFIG; empty: none)");
    s_help_line(f, width, "-h, --help", "print this help and exit");
    s_help_line(f, width, "--version", "print the version and exit");
}

void js_conf_destroy(js_conf_t **cp) {
    if (!cp || !*cp) return;
    js_conf_t *c = *cp;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].env);
        free(c->v[i].value);
    }
    free(c->v);
    free(c->prog);
    free(c->usage);
    free(c);
    *cp = NULL;
}
