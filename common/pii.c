/* pii.c -- sealing, opening and masking contact data. */
#include "pii.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsdefs.h"

struct js_pii {
    uint8_t key[JS_PII_KEYLEN];
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static void s_init(void) {
    if (sodium_init() < 0) abort();
}

js_pii_t *js_pii_new(const uint8_t key[JS_PII_KEYLEN]) {
    pthread_once(&s_once, s_init);
    js_pii_t *p = js_malloc(sizeof *p);
    memcpy(p->key, key, JS_PII_KEYLEN);
    return p;
}

js_pii_t *js_pii_from_hex(const char *hex, int *err) {
    pthread_once(&s_once, s_init);
    uint8_t key[JS_PII_KEYLEN];
    size_t n = 0;
    const char *end = NULL;
    size_t hl = strlen(hex);
    while (hl && (hex[hl - 1] == '\n' || hex[hl - 1] == '\r' || hex[hl - 1] == ' ')) hl--;
    if (hl != 2 * JS_PII_KEYLEN || sodium_hex2bin(key, sizeof key, hex, hl, NULL, &n, &end) != 0 ||
        n != JS_PII_KEYLEN) {
        if (err) *err = -EINVAL;
        return NULL;
    }
    js_pii_t *p = js_pii_new(key);
    sodium_memzero(key, sizeof key);
    return p;
}

int js_pii_load_file(const char *path, js_pii_t **out) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int err = 0;
    *out = js_pii_from_hex(buf, &err);
    sodium_memzero(buf, sizeof buf);
    return *out ? 0 : err;
}

int js_pii_generate_file(const char *path) {
    pthread_once(&s_once, s_init);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return -errno;
    uint8_t key[JS_PII_KEYLEN];
    char hex[2 * JS_PII_KEYLEN + 2];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    strcat(hex, "\n");
    ssize_t w = write(fd, hex, strlen(hex));
    int rc = w == (ssize_t)strlen(hex) ? 0 : -EIO;
    close(fd);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

int js_pii_seal(const js_pii_t *p, const char *plain, size_t len, uint8_t *out, size_t *outlen) {
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, (const uint8_t *)plain, len, out, p->key);
    *outlen = len + JS_PII_OVERHEAD;
    return 0;
}

int js_pii_open(const js_pii_t *p, const uint8_t *sealed, size_t len, char *out, size_t *outlen) {
    if (len < JS_PII_OVERHEAD) return -EBADMSG;
    size_t n = len - JS_PII_OVERHEAD;
    if (crypto_secretbox_open_easy((uint8_t *)out, sealed + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, sealed, p->key) != 0)
        return -EBADMSG;
    out[n] = '\0';
    *outlen = n;
    return 0;
}

static size_t s_utf8_len(unsigned char c) {
    return c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
}

/* The national number of a phone-like string: its digits, without a leading
 * 86 / 0086 country code when 13 or more digits remain (+86 138...). */
static int s_phone_digits(const char *c, char *d, size_t cap) {
    size_t n = 0;
    for (const char *p = c; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n + 1 >= cap) return -1;
            d[n++] = *p;
        } else if (*p != '+' && *p != '-' && *p != ' ' && *p != '(' && *p != ')') {
            return -1;
        }
    }
    d[n] = '\0';
    if (n >= 15 && strncmp(d, "0086", 4) == 0) memmove(d, d + 4, n - 3), n -= 4;
    else if (n >= 13 && strncmp(d, "86", 2) == 0) memmove(d, d + 2, n - 1), n -= 2;
    return (int)n;
}

void js_pii_mask(const char *contact, char *out, size_t cap) {
    if (!cap) return;
    out[0] = '\0';
    if (!contact || !*contact) {
        snprintf(out, cap, "****");
        return;
    }
    char d[64];
    int n = s_phone_digits(contact, d, sizeof d);
    if (n >= 7) {
        snprintf(out, cap, "%.3s****%s", d, d + n - 4);
        return;
    }
    const char *at = strchr(contact, '@');
    if (at && at > contact) {
        size_t first = s_utf8_len((unsigned char)contact[0]);
        snprintf(out, cap, "%.*s***%s", (int)first, contact, at);
        return;
    }
    size_t first = s_utf8_len((unsigned char)contact[0]);
    if (strlen(contact) <= first + 1) {
        snprintf(out, cap, "****");
        return;
    }
    snprintf(out, cap, "%.*s***", (int)first, contact);
    /* never leave a split character at the end of a short buffer */
    size_t len = strlen(out);
    while (len && ((unsigned char)out[len - 1] & 0xC0) == 0x80) len--;
    if (len && (unsigned char)out[len - 1] >= 0xC0 && len - 1 + s_utf8_len((unsigned char)out[len - 1]) > strlen(out))
        out[len - 1] = '\0';
}

void js_pii_mask_name(const char *name, char *out, size_t cap) {
    if (!cap) return;
    out[0] = '\0';
    if (!name || !*name) return;
    size_t first = s_utf8_len((unsigned char)name[0]);
    if (first + 1 > cap || strlen(name) < first) return;
    memcpy(out, name, first);
    size_t n = first;
    for (const char *p = name + first; *p; p += s_utf8_len((unsigned char)*p)) {
        if (n + 2 > cap) break;
        out[n++] = '*';
    }
    out[n] = '\0';
}

void js_pii_requester_key(const js_pii_t *p, const char *contact, char out[33]) {
    char norm[128];
    char d[64];
    int n = s_phone_digits(contact, d, sizeof d);
    if (n >= 5) {
        snprintf(norm, sizeof norm, "tel:%s", d);
    } else {
        size_t k = 0;
        for (const char *c = contact; *c && k + 1 < sizeof norm; c++)
            norm[k++] = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
        norm[k] = '\0';
    }
    uint8_t h[16];
    crypto_generichash(h, sizeof h, (const uint8_t *)norm, strlen(norm), p->key, JS_PII_KEYLEN);
    sodium_bin2hex(out, 33, h, sizeof h);
}

void js_pii_destroy(js_pii_t **pp) {
    if (!pp || !*pp) return;
    sodium_memzero((*pp)->key, JS_PII_KEYLEN);
    free(*pp);
    *pp = NULL;
}
