/* fuzz_cls_normalize.c -- libFuzzer harness for cls_normalize. Not built by make.
 *
 * Build and run (from the repository root):
 *
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Icommon \
 *       $(pkg-config --cflags opencc) tests/fuzz/fuzz_cls_normalize.c services/classifier/cls_normalize.c \
 *       common/jsdefs.c -lopencc -o build/fuzz_cls_normalize
 *   mkdir -p build/fuzz-corpus-norm
 *   build/fuzz_cls_normalize -max_len=8192 -max_total_time=60 build/fuzz-corpus-norm tests/fuzz/corpus/cls_normalize
 *
 * Beyond "no crash, no leak" it asserts what callers rely on: the output is
 * valid UTF-8 of at most cap-1 bytes and NUL-terminated, has no blanks with
 * CLS_NORM_DROP_SPACE, and normalising it again changes nothing (idempotent),
 * for every small cap too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/classifier/cls_normalize.h"
#include "jsdefs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cls_norm_t *s_norm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!s_norm) {
        char err[256];
        s_norm = cls_norm_new("t2s.json", err, sizeof err);
        if (!s_norm) abort();
    }
    size_t cap = size * 2 + 16;
    char *out = malloc(cap), *again = malloc(cap);
    for (int flags = 0; flags <= CLS_NORM_DROP_SPACE; flags++) {
        cls_norm_info_t info;
        size_t n = cls_normalize(s_norm, (const char *)data, size, out, cap, flags, &info);
        if (n >= cap || out[n] != '\0' || strlen(out) != n) abort();
        if (!js_utf8_valid(out, n)) abort();
        if ((flags & CLS_NORM_DROP_SPACE) && memchr(out, ' ', n)) abort();
        if (info.cjk + info.alnum > info.chars) abort();
        size_t m = cls_normalize(s_norm, out, n, again, cap, flags, NULL);
        if (m != n || memcmp(out, again, n) != 0) abort();
    }
    /* small buffers: whole characters only */
    for (size_t small = 1; small < 12 && small < cap; small++) {
        size_t n = cls_normalize(s_norm, (const char *)data, size, out, small, 0, NULL);
        if (n >= small || !js_utf8_valid(out, n)) abort();
    }
    free(out);
    free(again);
    return 0;
}
