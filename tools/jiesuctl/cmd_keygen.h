/* cmd_keygen.h -- `jiesuctl keygen [--out PREFIX]`: a CURVE keypair for the
 * partner endpoints (docs/OPERATIONS.md "Partner hotlines").
 *
 *   keygen               prints "public Z85" and "secret Z85", one a line
 *   keygen --out PREFIX  writes PREFIX.key (the secret, mode 0600) and
 *                        PREFIX.pub (the public key), never overwriting
 *                        either, and prints the public key
 *
 * Directories of PREFIX are not made: the operator chooses where keys live. */
#ifndef CMD_KEYGEN_H
#define CMD_KEYGEN_H

#include <stdio.h>

/* Prototypes */
/* argv[0] is "keygen". Returns 0, or 1 with one line "jiesuctl: keygen: ..."
 * on err. */
int cmd_keygen_io(int argc, char **argv, FILE *out, FILE *err);
int cmd_keygen(int argc, char **argv);

#endif
