/* conf.c -- defaults < file < environment < flags. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

typedef struct entry {
    const js_conf_def_t *def;
    char *value;
} entry_t;

struct js_conf {
    char *prog, *usage;
    entry_t *v;
    size_t n, cap;
};

js_conf_t *js_conf_new(const char *prog, const char *usage) {
    js_conf_t *c = js_calloc(1, sizeof *c);
    c->prog = js_strdup(prog ? prog : "jiesu");
    c->usage = js_strdup(usage ? usage : "");
    return c;
}

static entry_t *s_find(const js_conf_t *c, const char *key, size_t keylen) {
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->v[i].def->key) == keylen && memcmp(c->v[i].def->key, key, keylen) == 0) return &c->v[i];
    return NULL;
}

void js_conf_add(js_conf_t *c, const js_conf_def_t *defs) {
    for (; defs && defs->key; defs++) {
        entry_t *e = s_find(c, defs->key, strlen(defs->key));
        if (!e) {
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 32;
                c->v = js_realloc(c->v, c->cap * sizeof *c->v);
            }
            e = &c->v[c->n++];
            e->value = NULL;
        }
        e->def = defs;
        free(e->value);
        e->value = js_strdup(defs->def ? defs->def : "");
    }
}

int js_conf_set(js_conf_t *c, const char *key, const char *value) {
    entry_t *e = s_find(c, key, strlen(key));
    if (!e) return -ENOENT;
    free(e->value);
    e->value = js_strdup(value);
    return 0;
}

/* JIESU_REDIS_PORT for redis.port */
static void s_env_name(const char *key, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "JIESU_");
    for (; *key && n + 1 < cap; key++) out[n++] = (*key == '.' || *key == '-') ? '_' : (char)toupper((unsigned char)*key);
    out[n] = '\0';
}

static char *s_trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static int s_load_file(js_conf_t *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = s_trim(line);
        if (!*s || *s == '#') continue;
        char *key = s;
        while (*s && !isspace((unsigned char)*s)) s++;
        if (*s) *s++ = '\0';
        char *val = s_trim(s);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        } else if (val[0] == '"') {
            snprintf(err, errlen, "%s:%d: unterminated quote", path, lineno);
            rc = -EINVAL;
            break;
        }
        if (js_conf_set(c, key, val) < 0) {
            snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
            rc = -EINVAL;
            break;
        }
    }
    fclose(f);
    return rc;
}

int js_conf_load(js_conf_t *c, int argc, char **argv, int *rest, char *err, size_t errlen) {
    err[0] = '\0';
    /* 1. find --config / --help / --version first: the file comes before the flags. */
    const char *file = getenv("JIESU_CONFIG");
    int end = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0 || a[0] != '-') {
            end = i;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            js_conf_print_help(c, stdout);
            return JS_CONF_EXIT;
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", c->prog, JIESU_VERSION);
            return JS_CONF_EXIT;
        }
        if (strcmp(a, "--config") == 0 && i + 1 < argc) file = argv[i + 1];
        else if (strncmp(a, "--config=", 9) == 0) file = a + 9;
        if (!strchr(a, '=') && i + 1 < argc) i++; /* skip the value of --key value */
    }
    if (file && *file) {
        int rc = s_load_file(c, file, err, errlen);
        if (rc < 0) return rc;
    }
    /* 2. environment */
    for (size_t i = 0; i < c->n; i++) {
        char name[128];
        s_env_name(c->v[i].def->key, name, sizeof name);
        const char *v = getenv(name);
        if (v) js_conf_set(c, c->v[i].def->key, v);
    }
    /* 3. flags */
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-') break;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unknown option '%s' (options are --key value; see --help)", a);
            return -EINVAL;
        }
        const char *key = a + 2, *eq = strchr(key, '='), *val;
        size_t keylen = eq ? (size_t)(eq - key) : strlen(key);
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errlen, "option '%s' needs a value", a);
            return -EINVAL;
        }
        if (keylen == 6 && strncmp(key, "config", 6) == 0) continue;
        entry_t *e = s_find(c, key, keylen);
        if (!e) {
            snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)keylen, key);
            return -EINVAL;
        }
        free(e->value);
        e->value = js_strdup(val);
    }
    (void)end;
    if (rest) *rest = i;
    return 0;
}

const char *js_conf_str(const js_conf_t *c, const char *key) {
    entry_t *e = s_find(c, key, strlen(key));
    return e ? e->value : "";
}

static int s_parse_int(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -EINVAL;
    *out = v;
    return 0;
}

int64_t js_conf_int(const js_conf_t *c, const char *key) {
    int64_t v = 0;
    s_parse_int(js_conf_str(c, key), &v);
    return v;
}

double js_conf_double(const js_conf_t *c, const char *key) { return strtod(js_conf_str(c, key), NULL); }

bool js_conf_bool(const js_conf_t *c, const char *key) {
    const char *v = js_conf_str(c, key);
    return !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on");
}

int js_conf_check_int(const js_conf_t *c, const char *key, int64_t min, int64_t max, char *err, size_t errlen) {
    int64_t v;
    if (s_parse_int(js_conf_str(c, key), &v) < 0 || v < min || v > max) {
        snprintf(err, errlen, "%s: '%s' is not an integer in [%lld, %lld]", key, js_conf_str(c, key), (long long)min,
                 (long long)max);
        return -EINVAL;
    }
    return 0;
}

void js_conf_print_help(const js_conf_t *c, void *file) {
    FILE *f = file ? file : stdout;
    fprintf(f, "usage: %s %s\n\n", c->prog, c->usage);
    fprintf(f, "Every setting: --key VALUE, --key=VALUE, environment JIESU_KEY, or a line \"key value\" in\n"
               "--config FILE (or JIESU_CONFIG). Flags win over the environment, which wins over the file.\n\n");
    for (size_t i = 0; i < c->n; i++) {
        char env[128];
        s_env_name(c->v[i].def->key, env, sizeof env);
        fprintf(f, "  --%-26s %s\n  %-28s default: \"%s\"; env %s\n", c->v[i].def->key, c->v[i].def->help ? c->v[i].def->help : "",
                "", c->v[i].def->def ? c->v[i].def->def : "", env);
    }
    fprintf(f, "\n  --help, --version\n");
}

void js_conf_destroy(js_conf_t **cp) {
    if (!cp || !*cp) return;
    js_conf_t *c = *cp;
    for (size_t i = 0; i < c->n; i++) free(c->v[i].value);
    free(c->v);
    free(c->prog);
    free(c->usage);
    free(c);
    *cp = NULL;
}
