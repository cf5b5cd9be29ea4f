/* fuzz_envelope.c -- libFuzzer harness for js_env_unpack. Not built by make.
 *
 * Build and run (from the repository root, after `make` has generated the
 * protobuf-c sources into build/gen):
 *
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *       -Icommon -Ibuild/gen tests/fuzz/fuzz_envelope.c common/envelope.c \
 *       common/ids.c common/jsdefs.c build/gen/jiesu/v1/envelope.pb-c.c \
 *       build/gen/jiesu/v1/types.pb-c.c -lprotobuf-c -lsodium -lpthread -o build/fuzz_envelope
 *   mkdir -p build/fuzz-corpus
 *   build/fuzz_envelope -max_len=4096 -max_total_time=60 build/fuzz-corpus tests/fuzz/corpus/envelope
 *
 * (The first corpus directory is where new inputs are written; the seed
 * corpus stays as committed.) What it asserts beyond "no crash, no leak": an
 * accepted envelope passes js_env_check again, packs, and the packed bytes
 * are accepted again; a refused one leaves *out NULL and an error line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    js_env_t *e = NULL;
    char err[256] = "";
    int rc = js_env_unpack(data, size, JS_ENV_MAX_DEFAULT, &e, err, sizeof err);
    if (rc < 0) {
        if (e || !err[0]) abort();
        return 0;
    }
    if (!e || js_env_check(e, NULL, 0) != 0) abort();
    size_t n;
    uint8_t *again = js_env_pack(e, &n);
    js_env_t *e2 = NULL;
    /* Repacking keeps what was accepted, so it is accepted again (it may be
     * a little larger than the input: canonical lengths, not overlong ones). */
    if (js_env_unpack(again, n, SIZE_MAX, &e2, err, sizeof err) != 0) abort();
    js_env_free(e2);
    free(again);
    js_env_free(e);
    return 0;
}
