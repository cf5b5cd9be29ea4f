/* curve.h -- CURVE key files and the small text files that name partner
 * hotlines with their keys (intake's allow-list, the dispatcher's peers).
 *
 * A key is 32 bytes, written as 40 characters of Z85 (ZeroMQ's RFC 32).
 * Key files, as `jiesuctl keygen --out PREFIX` writes them:
 *   PREFIX.key   the secret key, one line, mode 0600: never leaves the host
 *   PREFIX.pub   the public key, one line: given to the other side
 * A reader takes the first line that is neither blank nor a comment ('#'
 * first after blanks: no key starts with it) and ignores blanks around it.
 *
 * Partner files are one record a line, fields separated by tabs (or any run
 * of blanks: no field may contain one), '#' comments and blank lines ignored.
 * A partner id is 1..JS_CURVE_ID_MAX of [A-Za-z0-9_.-]. Every error reads
 * "FILE:LINE: what". No sockets here: tests/unit/test_curve.c. */
#ifndef JS_CURVE_H
#define JS_CURVE_H

#include <stddef.h>
#include <stdint.h>

#define JS_CURVE_Z85_LEN 40   /* characters of a Z85 key */
#define JS_CURVE_KEY_LEN 32   /* bytes of a key */
#define JS_CURVE_ID_MAX  64   /* longest partner id */
#define JS_CURVE_LINE_MAX 1024 /* longest line of a partner file */

/* Prototypes */
/* A fresh keypair, Z85 with a NUL each. 0 or a negative errno. */
int js_curve_keypair(char pub[JS_CURVE_Z85_LEN + 1], char sec[JS_CURVE_Z85_LEN + 1]);
/* The public key of a Z85 secret key. 0, or -EINVAL when sec is not a key. */
int js_curve_public_of(const char *sec, char pub[JS_CURVE_Z85_LEN + 1]);
/* 1 if z is exactly 40 Z85 characters (it then decodes to 32 bytes into
 * raw, when raw is not NULL); else 0. */
int js_curve_z85_ok(const char *z, uint8_t raw[JS_CURVE_KEY_LEN]);
/* 1 if id is a valid partner id, else 0. */
int js_curve_id_ok(const char *id);
/* Read the key of a key file into key (Z85 + NUL). secret: the file must not
 * be readable or writable by group or others (-EPERM), like ssh's keys.
 * 0, or a negative errno with a one-line message in err (-ENOENT: no file). */
int js_curve_read_key(const char *path, int secret, char key[JS_CURVE_Z85_LEN + 1], char *err,
                      size_t errlen);
/* Write a fresh keypair as PREFIX.key (0600) and PREFIX.pub (0644), each
 * created new (-EEXIST when one is there: a key is never overwritten), the
 * public key also into pub. 0 or a negative errno with err set. */
int js_curve_write_pair(const char *prefix, char pub[JS_CURVE_Z85_LEN + 1], char *err, size_t errlen);
/* Split line (modified in place; a trailing '\n' or "\r\n" is dropped) into
 * blank-separated fields. Returns the number of fields, 0 for a blank or
 * comment line, or -E2BIG when there are more than max. */
int js_curve_fields(char *line, char **f, int max);
/* One line of a key file, split by js_curve_fields into f[0..n) (n is -E2BIG
 * for more than the max fields asked): 0, or -EINVAL with err set to
 * "PATH:LINE: what" (the caller names path and lineno). */
typedef int (*js_curve_line_fn)(void *arg, const char *path, int lineno, char **f, int n, char *err, size_t errlen);
/* Read the partner file path (keys, peers) a line at a time: blank and
 * comment lines skipped, a line over JS_CURVE_LINE_MAX refused, each other
 * line split into at most max (<= 8) fields and handed to fn. 0, the first
 * error of fn, or a negative errno (open, read) with err set. */
int js_curve_each_line(const char *path, int max, js_curve_line_fn fn, void *arg, char *err, size_t errlen);

#endif
