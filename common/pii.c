/* pii.c -- sealing, opening and masking contact data. */
#include "pii.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsdefs.h"

_Static_assert(JS_PII_NONCELEN == crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(JS_PII_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES, "overhead");
_Static_assert(JS_PII_KEYLEN == crypto_secretbox_KEYBYTES, "key size");
_Static_assert(JS_PII_KEYLEN >= crypto_generichash_KEYBYTES_MIN &&
                   JS_PII_KEYLEN <= crypto_generichash_KEYBYTES_MAX,
               "generichash key size");

#define S_KEY_FILE_MAX 256 /* a key file is 65 bytes or so: anything much longer is not one */
#define S_PHONE_DIGITS 20  /* more digits than any dialled number (E.164 15, plus 00 and slack) */
#define S_PHONE_MIN    7   /* fewer digits: a short code or not a phone, masked as "other" */
#define S_KEY_BYTES    16  /* requester key: 128 bits, 32 hex */

struct js_pii {
    uint8_t key[JS_PII_KEYLEN];
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static void s_sodium_init(void) {
    /* Without a working libsodium there is no safe randomness: nothing sensible to return. */
    if (sodium_init() < 0) abort();
}

js_pii_t *js_pii_new(const uint8_t key[JS_PII_KEYLEN]) {
    pthread_once(&s_once, s_sodium_init);
    js_pii_t *p = js_malloc(sizeof *p);
    memcpy(p->key, key, JS_PII_KEYLEN);
    return p;
}

static int s_hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int s_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

js_pii_t *js_pii_from_hex(const char *hex, int *err) {
    uint8_t key[JS_PII_KEYLEN];
    int ok = hex != NULL;
    for (size_t i = 0; ok && i < JS_PII_KEYLEN; i++) {
        int hi = s_hexval(hex[2 * i]), lo = hi < 0 ? -1 : s_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            ok = 0;
        else
            key[i] = (uint8_t)(hi << 4 | lo);
    }
    for (const char *c = ok ? hex + JS_PII_KEYHEX : ""; *c; c++)
        if (!s_space(*c)) ok = 0;
    js_pii_t *p = NULL;
    if (ok)
        p = js_pii_new(key);
    else if (err)
        *err = -EINVAL;
    sodium_memzero(key, sizeof key);
    return p;
}

int js_pii_load_file(const char *path, js_pii_t **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    char buf[S_KEY_FILE_MAX + 1];
    ssize_t got = js_read_small(fd, buf, sizeof buf);
    close(fd);
    int rc = got < 0 ? (int)got : 0;
    size_t n = got < 0 ? 0 : (size_t)got;
    /* A NUL inside would hide the rest of the file from the check. */
    if (rc == 0 && (n == sizeof buf - 1 || memchr(buf, '\0', n))) rc = -EINVAL;
    if (rc == 0) *out = js_pii_from_hex(buf, &rc);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

static int s_write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int js_pii_generate_file(const char *path) {
    pthread_once(&s_once, s_sodium_init);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    uint8_t key[JS_PII_KEYLEN];
    char hex[JS_PII_KEYHEX + 2];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    hex[JS_PII_KEYHEX] = '\n';
    /* The umask can only take bits away, but say exactly what we mean. */
    int rc = fchmod(fd, 0600) < 0 ? -errno : 0;
    if (rc == 0) rc = s_write_all(fd, hex, JS_PII_KEYHEX + 1);
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc < 0) unlink(path); /* we created it (O_EXCL): a half key must not be loaded later */
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

int js_pii_seal(const js_pii_t *p, const char *plain, size_t len, uint8_t *out, size_t *outlen) {
    if (!p || !out || !outlen || (!plain && len)) return -EINVAL;
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, (const uint8_t *)(plain ? plain : ""), len, out,
                          p->key);
    *outlen = len + JS_PII_OVERHEAD;
    return 0;
}

int js_pii_open(const js_pii_t *p, const uint8_t *sealed, size_t len, char *out, size_t *outlen) {
    if (!p || !out || !outlen || !sealed || len < JS_PII_OVERHEAD) return -EBADMSG;
    size_t n = len - JS_PII_OVERHEAD;
    if (crypto_secretbox_open_easy((uint8_t *)out, sealed + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, sealed, p->key) != 0) {
        out[0] = '\0';
        return -EBADMSG;
    }
    out[n] = '\0';
    *outlen = n;
    return 0;
}

/* ---- masking ---------------------------------------------------------------- */

/* Bytes of the UTF-8 character at s (valid input assumed: checked before). */
static size_t s_charlen(const char *s) {
    unsigned char c = (unsigned char)*s;
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static size_t s_chars(const char *s) {
    size_t n = 0;
    for (; *s; s += s_charlen(s))
        n++;
    return n;
}

/* An output that takes whole pieces only: a piece that does not fit ends it. */
typedef struct {
    char *b;
    size_t cap, n;
    int full;
} s_out_t;

static void s_put(s_out_t *o, const char *s, size_t n) {
    if (o->full || o->n + n + 1 > o->cap) {
        o->full = 1;
        return;
    }
    memcpy(o->b + o->n, s, n);
    o->n += n;
    o->b[o->n] = '\0';
}

static void s_put_str(s_out_t *o, const char *s) { /* ASCII only: cut anywhere */
    for (; *s; s++)
        s_put(o, s, 1);
}

static void s_put_utf8(s_out_t *o, const char *s) { /* valid UTF-8: cut between characters */
    for (size_t k; *s; s += k)
        s_put(o, s, k = s_charlen(s));
}

/* The national number of a phone-like contact into d (S_PHONE_DIGITS + 2
 * bytes), or -1 when contact is not phone-like. */
static int s_phone(const char *c, char d[S_PHONE_DIGITS + 2]) {
    char raw[S_PHONE_DIGITS + 1];
    size_t n = 0;
    int plus = 0;
    for (; *c; c++) {
        if (*c >= '0' && *c <= '9') {
            if (n == S_PHONE_DIGITS) return -1;
            raw[n++] = *c;
        } else if (*c == '+' && n == 0 && !plus) {
            plus = 1;
        } else if (*c != ' ' && *c != '\t' && *c != '-' && *c != '(' && *c != ')') {
            return -1;
        }
    }
    if (n == 0) return -1;
    raw[n] = '\0';
    const char *r = raw;
    int intl = plus;
    if (!plus && n > 2 && r[0] == '0' && r[1] == '0') { /* 00: the international prefix dialled from China */
        r += 2;
        intl = 1;
    }
    size_t rl = strlen(r);
    /* Same number, one spelling: drop China's country code. A mobile number
     * is 1[3-9] and 10 more digits; anything else after +86 is a landline,
     * written at home with its trunk 0 (+86 10 ... is 010-...). */
    int china = intl ? rl > 2 && r[0] == '8' && r[1] == '6'
                     : rl == 13 && r[0] == '8' && r[1] == '6' && r[2] == '1' && r[3] >= '3';
    size_t k = 0;
    if (china) {
        r += 2;
        rl -= 2;
        int mobile = rl == 11 && r[0] == '1' && r[1] >= '3';
        if (!mobile && r[0] != '0') d[k++] = '0';
    }
    memcpy(d + k, r, rl + 1);
    return (int)(k + rl);
}

void js_pii_mask(const char *contact, char *out, size_t cap) {
    if (!out || !cap) return;
    s_out_t o = {.b = out, .cap = cap};
    out[0] = '\0';
    if (!contact || !*contact || !js_utf8_valid(contact, strlen(contact)) || s_chars(contact) < 2) {
        s_put_str(&o, "****");
        return;
    }
    char d[S_PHONE_DIGITS + 2];
    int n = s_phone(contact, d);
    if (n >= S_PHONE_MIN) {
        /* Hide at least four digits: a short number shows fewer at the front, then at the back. */
        int keep = n - 4, tail = keep < 4 ? keep : 4, head = keep - tail < 3 ? keep - tail : 3;
        s_put(&o, d, (size_t)head);
        s_put_str(&o, "****");
        s_put(&o, d + n - tail, (size_t)tail);
        return;
    }
    const char *at = strrchr(contact, '@');
    s_put(&o, contact, s_charlen(contact));
    s_put_str(&o, "***");
    if (at && at > contact && at[1]) s_put_utf8(&o, at); /* "@domain" */
}

void js_pii_mask_name(const char *name, char *out, size_t cap) {
    if (!out || !cap) return;
    s_out_t o = {.b = out, .cap = cap};
    out[0] = '\0';
    if (!name || !*name) return;
    if (!js_utf8_valid(name, strlen(name)) || s_chars(name) < 2) {
        s_put_str(&o, "*");
        return;
    }
    s_put(&o, name, s_charlen(name));
    for (const char *c = name + s_charlen(name); *c; c += s_charlen(c))
        s_put_str(&o, "*");
}

void js_pii_requester_key(const js_pii_t *p, const char *contact, char out[33]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, p->key, JS_PII_KEYLEN, S_KEY_BYTES);
    if (!contact) contact = "";
    char d[S_PHONE_DIGITS + 2];
    int n = s_phone(contact, d);
    if (n > 0) {
        crypto_generichash_update(&st, (const uint8_t *)"tel:", 4);
        crypto_generichash_update(&st, (const uint8_t *)d, (size_t)n);
    } else {
        const char *b = contact, *e = contact + strlen(contact);
        while (b < e && s_space(*b))
            b++;
        while (e > b && s_space(e[-1]))
            e--;
        /* Lower-case a chunk at a time: the hash sees the whole contact, however long. */
        uint8_t chunk[64];
        while (b < e) {
            size_t k = 0;
            for (; b < e && k < sizeof chunk; b++, k++)
                chunk[k] = (uint8_t)(*b >= 'A' && *b <= 'Z' ? *b - 'A' + 'a' : *b);
            crypto_generichash_update(&st, chunk, k);
        }
    }
    uint8_t h[S_KEY_BYTES];
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out, 2 * S_KEY_BYTES + 1, h, sizeof h);
    sodium_memzero(&st, sizeof st);
}

void js_pii_destroy(js_pii_t **pp) {
    if (!pp || !*pp) return;
    sodium_memzero((*pp)->key, JS_PII_KEYLEN);
    free(*pp);
    *pp = NULL;
}
