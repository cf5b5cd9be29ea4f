/* conf.h -- one configuration format for every jiesu binary.
 *
 * A service declares its settings as a table of {key, default, help}. Values
 * come, later ones winning, from: the defaults; the file named by --config
 * FILE (or JIESU_CONFIG), redis.conf style: one `key value` per line, `#`
 * comments, value may be "double quoted"; the environment, JIESU_<KEY> with
 * the key upper-cased and every '.' or '-' made '_' (redis.port ->
 * JIESU_REDIS_PORT); and flags `--key value` or `--key=value`.
 * `--help` prints usage and every key with its default and help, `--version`
 * prints the version; both make js_conf_load return JS_CONF_EXIT.
 * An unknown key in any source is an error that names it. */
#ifndef JS_CONF_H
#define JS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JS_CONF_EXIT 1 /* --help or --version printed: exit 0 */

typedef struct js_conf js_conf_t;

typedef struct js_conf_def {
    const char *key;  /* e.g. "redis.port" */
    const char *def;  /* default as text; NULL = empty */
    const char *help; /* one line */
} js_conf_def_t;

/* Prototypes */
/* prog: binary name for --help; usage: one line after "usage: prog". defs may
 * be added in several tables (js_conf_add), each terminated by {NULL}. */
js_conf_t *js_conf_new(const char *prog, const char *usage);
void js_conf_add(js_conf_t *c, const js_conf_def_t *defs);
/* Parses argv from argv[1]. Stops at the first argument that is not an
 * option (or after "--"); *rest (if not NULL) gets its index. Returns 0,
 * JS_CONF_EXIT, or a negative error with a one-line message in err. */
int js_conf_load(js_conf_t *c, int argc, char **argv, int *rest, char *err, size_t errlen);
int js_conf_set(js_conf_t *c, const char *key, const char *value); /* -ENOENT if unknown */
const char *js_conf_str(const js_conf_t *c, const char *key);      /* never NULL for a declared key */
int64_t js_conf_int(const js_conf_t *c, const char *key);
double js_conf_double(const js_conf_t *c, const char *key);
bool js_conf_bool(const js_conf_t *c, const char *key);             /* yes/no, true/false, 1/0, on/off */
/* Validate that key parses as an int in [min, max]; message in err. */
int js_conf_check_int(const js_conf_t *c, const char *key, int64_t min, int64_t max, char *err, size_t errlen);
void js_conf_print_help(const js_conf_t *c, void *file /* FILE* */);
void js_conf_destroy(js_conf_t **cp);

#endif
