/* fuzz_cls_features.c -- libFuzzer harness for cls_featurize and js_simhash. Not built by make.
 *
 * Build and run (from the repository root):
 *
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Icommon \
 *       $(pkg-config --cflags opencc) tests/fuzz/fuzz_cls_features.c services/classifier/cls_features.c \
 *       services/classifier/cls_normalize.c common/jsdefs.c common/simhash.c -lopencc -o build/fuzz_cls_features
 *   mkdir -p build/fuzz-corpus-feat
 *   build/fuzz_cls_features -max_len=8192 -max_total_time=60 build/fuzz-corpus-feat tests/fuzz/corpus/cls_features
 *
 * The first input byte picks the n-gram range, the title length and the
 * bucket count, the rest is the text (raw bytes, not normalised: the
 * featuriser must cope). Asserts: every bucket is below 2^bits and listed
 * once, counts add up to the number of n-grams, one vector reused across
 * texts gives the same answer as a fresh one, and SimHash is deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/classifier/cls_features.h"
#include "../../services/classifier/cls_normalize.h"
#include "simhash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cls_fvec_t s_reused; /* kept across inputs on purpose */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int nmin = 1 + (data[0] & 1), nmax = nmin + (data[0] >> 1 & 3);
    if (nmax > CLS_FEAT_MAX_N) nmax = CLS_FEAT_MAX_N;
    int head = data[0] >> 3 & 7, bits = 8 + (data[0] >> 6) * 4;
    const char *t = (const char *)data + 1;
    size_t len = size - 1;
    cls_fvec_t v;
    cls_fvec_init(&v);
    size_t n = cls_featurize(t, len, nmin, nmax, head, bits, &v);
    size_t n2 = cls_featurize(t, len, nmin, nmax, head, bits, &s_reused);
    if (n != v.n || n2 != n) abort();
    /* characters of the text (blanks and broken bytes skipped), as the featuriser sees them */
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = js_utf8_next((const unsigned char *)t + i, len - i, &adv);
        i += adv;
        if (cp != 0 && cp != ' ') chars++;
    }
    uint64_t want = 0, got = 0;
    for (int k = nmin; k <= nmax; k++) {
        if (chars >= (size_t)k) want += chars - (size_t)k + 1;
        size_t hk = (size_t)head < chars ? (size_t)head : chars;
        if (hk >= (size_t)k) want += hk - (size_t)k + 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (v.idx[i] >= (1u << bits) || v.cnt[i] == 0) abort();
        if (v.idx[i] != s_reused.idx[i] || v.cnt[i] != s_reused.cnt[i]) abort();
        for (size_t j = i + 1; j < n && j < i + 64; j++)
            if (v.idx[j] == v.idx[i]) abort();
        got += v.cnt[i];
    }
    if (got != want) abort();
    size_t sh1, sh2;
    if (js_simhash(t, len, &sh1) != js_simhash(t, len, &sh2) || sh1 != sh2 || (sh1 > 0 && sh1 + 2 > len)) abort();
    /* the prefix of data[0] characters is what a byte-by-byte count gives */
    size_t pre = cls_feature_prefix(t, len, data[0]), want_pre = len, seen = 0;
    for (size_t i = 0; data[0] && i < len; i++) {
        if (((unsigned char)t[i] & 0xC0) == 0x80 || t[i] == ' ') continue;
        if (seen++ == data[0]) {
            want_pre = i;
            break;
        }
    }
    if (pre != want_pre) abort();
    cls_fvec_free(&v);
    return 0;
}
