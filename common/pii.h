/* pii.h -- contact data: sealed at rest, masked everywhere else.
 *
 * Sealing is libsodium crypto_secretbox_easy (XSalsa20-Poly1305) with the
 * deployment key (32 bytes) and a fresh random nonce for every seal:
 *   sealed = nonce (24) || mac (16) || ciphertext (len)
 * The key comes from a file (pii.key_file) holding 64 hex characters and an
 * optional newline, or from the environment through js_pii_from_hex; it is
 * never logged, and is wiped from memory on js_pii_destroy. The file's mode
 * is not checked (js_pii_generate_file makes it 0600).
 *
 * js_pii_requester_key gives a keyed hash (crypto_generichash keyed with the
 * deployment key) of the normalised contact, so "the same requester" can be
 * found without opening anything, and only by whoever holds the key.
 *
 * sodium_init() is called once, on first use, from any thread. Outputs are
 * always NUL-terminated when cap > 0 and never end in a cut UTF-8 character. */
#ifndef JS_PII_H
#define JS_PII_H

#include <stddef.h>
#include <stdint.h>

#define JS_PII_KEYLEN   32
#define JS_PII_NONCELEN 24
#define JS_PII_OVERHEAD 40 /* nonce 24 + mac 16 */
#define JS_PII_KEYHEX   64 /* hex characters of a key */

typedef struct js_pii js_pii_t;

/* Prototypes */
js_pii_t *js_pii_new(const uint8_t key[JS_PII_KEYLEN]);
/* hex: exactly 64 hex characters (either case), then only white space
 * (a trailing newline). NULL and *err = -EINVAL on anything else (err may be NULL). */
js_pii_t *js_pii_from_hex(const char *hex, int *err);
/* 0, or a negative errno: -ENOENT, -EACCES, ... from open/read; -EINVAL when
 * the content is not a key as js_pii_from_hex takes it. *out is NULL on error. */
int js_pii_load_file(const char *path, js_pii_t **out);
/* Write a new random key (64 hex + newline) to a file that must not exist
 * (O_EXCL: -EEXIST, a key is never overwritten), mode exactly 0600 whatever
 * the umask, synced. On a write error the file is removed. */
int js_pii_generate_file(const char *path);
/* out must hold len + JS_PII_OVERHEAD bytes; *outlen gets that. 0, or -EINVAL
 * for NULL arguments. plain may hold any bytes. */
int js_pii_seal(const js_pii_t *p, const char *plain, size_t len, uint8_t *out, size_t *outlen);
/* out must hold len - JS_PII_OVERHEAD + 1 bytes: the plain text and a NUL;
 * *outlen gets the plain length. -EBADMSG if shorter than the overhead,
 * forged, tampered with or sealed under another key (out is then untouched
 * beyond an empty string). */
int js_pii_open(const js_pii_t *p, const uint8_t *sealed, size_t len, char *out, size_t *outlen);
/* Mask a contact for display, into out (cap bytes, NUL included):
 *   phone-like (an optional leading '+', digits, and ' ', '-', '(', ')'
 *   only) with 7 to 20 digits: the national number's first 3 and last 4
 *   digits around "****", always four stars; at least 4 digits are hidden,
 *   so a short number keeps fewer:
 *     13812345678, +86 138-1234-5678, 0086 13812345678 -> 138****5678
 *     010-12345678, +86 10 1234 5678 -> 010****5678;  12345678 -> ****5678
 *   an email (something@domain): first character, "***", "@domain":
 *     someone@example.cn -> s***@example.cn
 *   anything else: first UTF-8 character and "***" (微信号abc -> 微***);
 *   NULL, empty, one character or not UTF-8: "****".
 * Truncated to cap - 1 bytes at a character boundary. */
void js_pii_mask(const char *contact, char *out, size_t cap);
/* The first UTF-8 character, then one '*' per remaining character (code
 * point): 张三丰 -> 张**, Li -> L*. A one-character name or one that is not
 * UTF-8 gives "*" (keeping it would show all of it); NULL or empty gives "".
 * Truncated to cap - 1 bytes at a character boundary. */
void js_pii_mask_name(const char *name, char *out, size_t cap);
/* 32 lowercase hex chars + NUL: 16 bytes of crypto_generichash keyed with
 * the deployment key over the normalised contact. Normalised: a phone-like
 * contact (as for js_pii_mask, any number of digits) becomes "tel:" and its
 * national number's digits (+86 / 0086 / 86 before a mobile number dropped;
 * a Chinese landline keeps its leading 0); anything else is trimmed of
 * white space and lower-cased (ASCII). So 13812345678, +86 138 1234 5678 and
 * 138-1234-5678 are one requester, and so are Some@Example.cn and
 * some@example.cn. */
void js_pii_requester_key(const js_pii_t *p, const char *contact, char out[33]);
void js_pii_destroy(js_pii_t **pp); /* idempotent; NULLs *pp */

#endif
