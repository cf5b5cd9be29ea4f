/* conf.h -- one configuration format for every jiesu binary.
 *
 * A service declares its settings as a table of {key, default, help}. Values
 * come, later ones winning, from: the defaults; the file named by --config
 * FILE (or JIESU_CONFIG; empty: no file), redis.conf style: one `key value`
 * per line, `#` comments, value may be "double quoted"; the environment,
 * JIESU_<KEY> with the key upper-cased and every '.' or '-' made '_'
 * (redis.port -> JIESU_REDIS_PORT); and flags `--key value` or
 * `--key=value` (a separate value may not start with "--": use the = form).
 * `--help` (or -h) prints usage and every key with its default and help to
 * stdout, `--version` prints "PROG JIESU_VERSION"; both make js_conf_load
 * return JS_CONF_EXIT, and either one anywhere among the options wins over
 * the others.
 * An unknown key in the file or in a flag is an error that names it. The
 * environment holds many JIESU_* variables meant for other programs, so an
 * unknown one is ignored; JIESU_CONFIG names the file and is not a key.
 *
 * The file, line by line (like redis.conf, no line continuation):
 *   # a comment: '#' first on the line (after blanks); elsewhere it is data
 *   redis.port 6390                   key, blanks, one bare value
 *   instance "a value with blanks"    "..." knows \" \\ \n \r \t \xHH
 *   redis.password ""                 the empty value
 * A key without a value, a second value or an unclosed quote is an error;
 * every file error reads "FILE:LINE: what". A key given twice: the last wins.
 *
 * A key declared again (in a later table) takes that table's default and
 * help: a service may change a shared default. Programmer errors abort with
 * a message, as a failed assert would: a malformed key, a key named config,
 * help or version, two keys with one environment name, reading a key never
 * declared. */
#ifndef JS_CONF_H
#define JS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JS_CONF_EXIT 1 /* --help or --version printed: exit 0 */

typedef struct js_conf js_conf_t;

typedef struct js_conf_def {
    const char *key;  /* e.g. "redis.port": no blank, no '=', not starting with '-' */
    const char *def;  /* default as text; NULL = empty */
    const char *help; /* one line */
} js_conf_def_t;

/* Prototypes */
/* prog: binary name for --help and --version; usage: what follows "usage:
 * prog" on the first help line. defs may be added in several tables
 * (js_conf_add), each terminated by {NULL}; the tables must outlive c (their
 * strings are not copied). */
js_conf_t *js_conf_new(const char *prog, const char *usage);
void js_conf_add(js_conf_t *c, const js_conf_def_t *defs);
/* Parses argv from argv[1]. Stops at the first argument that is not an
 * option ("-" alone is not one) or after "--"; *rest (if not NULL) gets the
 * index of the first argument left (argc if none). Returns 0, JS_CONF_EXIT, or
 * a negative error with a one-line message in err (the values are then
 * partly loaded: the caller exits). */
int js_conf_load(js_conf_t *c, int argc, char **argv, int *rest, char *err, size_t errlen);
int js_conf_set(js_conf_t *c, const char *key, const char *value); /* -ENOENT if unknown */
/* The text of a declared key, never NULL; valid until that key is set again
 * or c is destroyed. */
const char *js_conf_str(const js_conf_t *c, const char *key);
/* Typed reads return 0 (false) for text that does not parse: validate first
 * with js_conf_check_int / js_conf_check_bool. An int is a whole decimal
 * string within int64_t, no unit suffix (keys carry the unit: *_ms). */
int64_t js_conf_int(const js_conf_t *c, const char *key);
double js_conf_double(const js_conf_t *c, const char *key);
bool js_conf_bool(const js_conf_t *c, const char *key); /* yes/no, true/false, 1/0, on/off; any case */
/* Validate that key parses as an int in [min, max]; message in err:
 * "redis.port: 'abc' is not an integer in [1, 65535]". -EINVAL if not. */
int js_conf_check_int(const js_conf_t *c, const char *key, int64_t min, int64_t max, char *err, size_t errlen);
/* Validate that key is one of the bool words; -EINVAL and a message if not. */
int js_conf_check_bool(const js_conf_t *c, const char *key, char *err, size_t errlen);
/* What --help prints, to file (a FILE *; NULL = stdout). */
void js_conf_print_help(const js_conf_t *c, void *file /* FILE* */);
void js_conf_destroy(js_conf_t **cp);

#endif
