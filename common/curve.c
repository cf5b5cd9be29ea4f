/* curve.c -- CURVE key files and partner-file lines. */
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "jsdefs.h"

#define S_KEY_FILE_MAX 4096 /* a key file is one line and a few comments */

int js_curve_keypair(char pub[JS_CURVE_Z85_LEN + 1], char sec[JS_CURVE_Z85_LEN + 1]) {
    /* libzmq draws the secret from libsodium's randombytes */
    return zmq_curve_keypair(pub, sec) < 0 ? -errno : 0;
}

int js_curve_z85_ok(const char *z, uint8_t raw[JS_CURVE_KEY_LEN]) {
    if (!z || strlen(z) != JS_CURVE_Z85_LEN) return 0;
    uint8_t tmp[JS_CURVE_KEY_LEN];
    /* zmq_z85_decode reads beyond the alphabet as garbage rather than
     * failing on every bad character, so check the alphabet first */
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    for (const char *p = z; *p; p++)
        if (!strchr(alphabet, *p)) return 0;
    if (!zmq_z85_decode(raw ? raw : tmp, z)) return 0;
    return 1;
}

int js_curve_public_of(const char *sec, char pub[JS_CURVE_Z85_LEN + 1]) {
    if (!js_curve_z85_ok(sec, NULL)) return -EINVAL;
    return zmq_curve_public(pub, sec) < 0 ? -errno : 0;
}

int js_curve_id_ok(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > JS_CURVE_ID_MAX) return 0;
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int js_curve_fields(char *line, char **f, int max) {
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0' || *p == '#') return 0;
    int n = 0;
    while (*p) {
        if (n == max) return -E2BIG;
        f[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = '\0';
        while (*p == ' ' || *p == '\t') p++;
    }
    return n;
}

int js_curve_each_line(const char *path, int max, js_curve_line_fn fn, void *arg, char *err, size_t errlen) {
    if (max < 1 || max > 8) return -EINVAL;
    FILE *fp = fopen(path, "re");
    if (!fp) {
        int e = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-e));
        return e;
    }
    char line[JS_CURVE_LINE_MAX + 2];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            snprintf(err, errlen, "%s:%d: line over %d bytes", path, lineno, JS_CURVE_LINE_MAX);
            rc = -EINVAL;
            break;
        }
        char *f[9];
        int n = js_curve_fields(line, f, max);
        if (n != 0) rc = fn(arg, path, lineno, f, n, err, errlen);
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -EIO;
    }
    fclose(fp);
    return rc;
}

int js_curve_read_key(const char *path, int secret, char key[JS_CURVE_Z85_LEN + 1], char *err, size_t errlen) {
    key[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-e));
        return e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s: not a regular file", path);
        return -EINVAL;
    }
    if (secret && (st.st_mode & 077)) {
        close(fd);
        snprintf(err, errlen, "%s: a secret key readable by others (chmod 600 %s)", path, path);
        return -EPERM;
    }
    char buf[S_KEY_FILE_MAX + 1];
    ssize_t got = js_read_small(fd, buf, sizeof buf);
    close(fd);
    int rc = got < 0 ? (int)got : 0;
    size_t n = got < 0 ? 0 : (size_t)got;
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    } else if (n == sizeof buf - 1 || memchr(buf, '\0', n)) {
        snprintf(err, errlen, "%s: not a key file (too long or binary)", path);
        rc = -EINVAL;
    } else {
        rc = -EINVAL;
        snprintf(err, errlen, "%s: no key in the file", path);
        char *save = NULL;
        /* '#' never starts a key: the first Z85 digit of a 32-bit group is
         * at most '%' (82 of 0..84), so comments and keys cannot be confused */
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *f[2];
            int k = js_curve_fields(line, f, 2);
            if (k == 0) continue;
            if (k == 1 && js_curve_z85_ok(f[0], NULL)) {
                memcpy(key, f[0], JS_CURVE_Z85_LEN + 1);
                rc = 0;
            } else {
                snprintf(err, errlen, "%s: the first line is not a 40-character Z85 key", path);
            }
            break;
        }
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static int s_write_new(const char *path, const char *text, mode_t mode, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = -errno;
        snprintf(err, errlen, "%s: %s", path, e == -EEXIST ? "exists already (a key is never overwritten)"
                                                          : strerror(-e));
        return e;
    }
    size_t len = strlen(text), off = 0;
    int rc = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        unlink(path);
    }
    return rc;
}

int js_curve_write_pair(const char *prefix, char pub[JS_CURVE_Z85_LEN + 1], char *err, size_t errlen) {
    char kpath[4096], ppath[4096];
    if ((size_t)snprintf(kpath, sizeof kpath, "%s.key", prefix) >= sizeof kpath ||
        (size_t)snprintf(ppath, sizeof ppath, "%s.pub", prefix) >= sizeof ppath) {
        snprintf(err, errlen, "%s: path too long", prefix);
        return -ENAMETOOLONG;
    }
    if (access(ppath, F_OK) == 0) {
        snprintf(err, errlen, "%s: exists already (a key is never overwritten)", ppath);
        return -EEXIST;
    }
    char sec[JS_CURVE_Z85_LEN + 1], line[JS_CURVE_Z85_LEN + 2];
    int rc = js_curve_keypair(pub, sec);
    if (rc < 0) {
        snprintf(err, errlen, "keypair: %s", strerror(-rc));
        return rc;
    }
    snprintf(line, sizeof line, "%s\n", sec);
    rc = s_write_new(kpath, line, 0600, err, errlen);
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(line, sizeof line);
    if (rc < 0) return rc;
    snprintf(line, sizeof line, "%s\n", pub);
    if ((rc = s_write_new(ppath, line, 0644, err, errlen)) < 0) unlink(kpath); /* no half pair */
    return rc;
}
