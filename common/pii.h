/* pii.h -- contact data: sealed at rest, masked everywhere else.
 * Sealing is libsodium crypto_secretbox_easy with the deployment key (32
 * bytes), a random nonce first: sealed = nonce || mac || ciphertext. The key
 * comes from a file (pii.key_file) holding 64 hex characters, or from the
 * environment; it is never logged. js_pii_requester_key gives a keyed hash
 * (crypto_generichash keyed) so "the same requester" can be found without
 * opening anything. */
#ifndef JS_PII_H
#define JS_PII_H

#include <stddef.h>
#include <stdint.h>

#define JS_PII_KEYLEN 32
#define JS_PII_OVERHEAD 40 /* nonce 24 + mac 16 */

typedef struct js_pii js_pii_t;

/* Prototypes */
js_pii_t *js_pii_new(const uint8_t key[JS_PII_KEYLEN]);
/* hex: 64 hex characters. NULL and *err on a bad key. */
js_pii_t *js_pii_from_hex(const char *hex, int *err);
int js_pii_load_file(const char *path, js_pii_t **out); /* 0 or negative errno */
int js_pii_generate_file(const char *path);              /* new random key, mode 0600 */
/* out must hold len + JS_PII_OVERHEAD bytes. */
int js_pii_seal(const js_pii_t *p, const char *plain, size_t len, uint8_t *out, size_t *outlen);
/* out must hold len - JS_PII_OVERHEAD + 1 bytes; NUL-terminated. -EBADMSG if forged. */
int js_pii_open(const js_pii_t *p, const uint8_t *sealed, size_t len, char *out, size_t *outlen);
/* 13812345678 -> 138****5678; a@b.cn -> a***@b.cn; anything short -> ****. */
void js_pii_mask(const char *contact, char *out, size_t cap);
/* 张三丰 -> 张**; one UTF-8 character kept. */
void js_pii_mask_name(const char *name, char *out, size_t cap);
/* 32 hex chars + NUL. */
void js_pii_requester_key(const js_pii_t *p, const char *contact, char out[33]);
void js_pii_destroy(js_pii_t **pp);

#endif
