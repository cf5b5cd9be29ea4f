/* cmd_keygen.c -- `jiesuctl keygen`. */
#include "cmd_keygen.h"

#include <string.h>

#include "curve.h"

static void s_usage(FILE *f) {
    fprintf(f, "usage: jiesuctl keygen [--out PREFIX]\n"
               "  A CURVE keypair (Z85) for the partner endpoints. Without --out, prints\n"
               "  'public KEY' and 'secret KEY'; with it, writes PREFIX.key (secret, mode 0600)\n"
               "  and PREFIX.pub (public), never over existing files, and prints the public key.\n");
}

int cmd_keygen_io(int argc, char **argv, FILE *out, FILE *err) {
    const char *prefix = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_usage(out);
            return 0;
        } else if (!strcmp(a, "--out") && i + 1 < argc && argv[i + 1][0]) {
            prefix = argv[++i];
        } else if (!strncmp(a, "--out=", 6) && a[6]) {
            prefix = a + 6;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--out=")) {
            fprintf(err, "jiesuctl: keygen: --out needs a PREFIX (files PREFIX.key and PREFIX.pub)\n");
            return 1;
        } else {
            fprintf(err, "jiesuctl: keygen: unknown argument '%s' (see keygen --help)\n", a);
            return 1;
        }
    }
    char pub[JS_CURVE_Z85_LEN + 1], e[600];
    if (prefix) {
        if (js_curve_write_pair(prefix, pub, e, sizeof e) < 0) {
            fprintf(err, "jiesuctl: keygen: %s\n", e);
            return 1;
        }
        fprintf(out, "%s\n", pub);
        return 0;
    }
    char sec[JS_CURVE_Z85_LEN + 1];
    if (js_curve_keypair(pub, sec) < 0) {
        fprintf(err, "jiesuctl: keygen: no keypair: libzmq lacks CURVE\n");
        return 1;
    }
    fprintf(out, "public %s\nsecret %s\n", pub, sec);
    explicit_bzero(sec, sizeof sec);
    return 0;
}

int cmd_keygen(int argc, char **argv) {
    return cmd_keygen_io(argc, argv, stdout, stderr);
}
