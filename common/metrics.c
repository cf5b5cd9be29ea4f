/* metrics.c -- counters and log-linear histograms. */
#include "metrics.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

#define S_SUB_BITS 5 /* log2(JS_HIST_SUB) */
_Static_assert(JS_HIST_SUB == 1 << S_SUB_BITS, "sub-buckets are a power of two");
_Static_assert(JS_HIST_BUCKETS == JS_HIST_SUB * (1 + 32 - S_SUB_BITS), "buckets reach 2^32");

struct js_hist {
    uint64_t count;
    uint64_t sum; /* saturating: exact up to 1.8e19 us */
    int64_t max;
    uint64_t b[JS_HIST_BUCKETS];
};

/* Bucket of v in [0, JS_HIST_MAX_US]. Below 32: v itself. Above: the range
 * 2^k (k = msb) picks a row of 32, the next 5 bits below the msb the column. */
static unsigned s_index(uint64_t v) {
    if (v < JS_HIST_SUB) return (unsigned)v;
    unsigned k = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (k - S_SUB_BITS)) & (JS_HIST_SUB - 1);
    return JS_HIST_SUB * (k - S_SUB_BITS + 1) + sub;
}

/* The largest value that lands in bucket i. */
static int64_t s_upper(unsigned i) {
    if (i < JS_HIST_SUB) return (int64_t)i;
    unsigned k = i / JS_HIST_SUB + S_SUB_BITS - 1, sub = i % JS_HIST_SUB;
    return (int64_t)((((uint64_t)JS_HIST_SUB + sub + 1) << (k - S_SUB_BITS)) - 1);
}

js_hist_t *js_hist_new(void) {
    return js_calloc(1, sizeof(js_hist_t));
}

void js_hist_record(js_hist_t *h, int64_t value_us) {
    uint64_t v = value_us < 0 ? 0 : (uint64_t)value_us;
    h->b[s_index(v > (uint64_t)JS_HIST_MAX_US ? (uint64_t)JS_HIST_MAX_US : v)]++;
    h->count++;
    h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;
    if ((int64_t)v > h->max) h->max = (int64_t)v;
}

uint64_t js_hist_count(const js_hist_t *h) {
    return h->count;
}
int64_t js_hist_max(const js_hist_t *h) {
    return h->max;
}
double js_hist_mean(const js_hist_t *h) {
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

int64_t js_hist_percentile(const js_hist_t *h, double q) {
    if (!h->count) return 0;
    if (!(q > 0)) q = 0; /* NaN too */
    if (q > 100) q = 100;
    /* Nearest rank: the ceil(q% * n)-th value. The tiny slack keeps 99% of
     * 100000 at rank 99000 when floating point makes it 99000.0000001. */
    double r = q / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)ceil(r - r * 1e-12);
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < JS_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            /* The top bucket also holds what was clamped into it: only max bounds that. */
            int64_t u = s_upper(i);
            return i == JS_HIST_BUCKETS - 1 || u > h->max ? h->max : u;
        }
    }
    return h->max; /* not reached: the buckets add up to count */
}

void js_hist_merge(js_hist_t *into, const js_hist_t *from) {
    for (unsigned i = 0; i < JS_HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    into->sum = into->sum + from->sum < into->sum ? UINT64_MAX : into->sum + from->sum;
    if (from->max > into->max) into->max = from->max;
}

void js_hist_reset(js_hist_t *h) {
    memset(h, 0, sizeof *h);
}

void js_hist_destroy(js_hist_t **hp) {
    if (!hp || !*hp) return;
    free(*hp);
    *hp = NULL;
}

/* ---- registry ---------------------------------------------------------------- */

/* Each counter is its own allocation, so the array of entries may move
 * (realloc) while the pointers handed out stay put. */
typedef struct {
    char *name;
    uint64_t *counter; /* exactly one of the two */
    js_hist_t *hist;
} s_named_t;

struct js_metrics {
    char *service;
    s_named_t *v;
    size_t n, cap;
};

js_metrics_t *js_metrics_new(const char *service) {
    js_metrics_t *m = js_calloc(1, sizeof *m);
    m->service = js_strdup(service ? service : "");
    return m;
}

static s_named_t *s_get(js_metrics_t *m, const char *name, int hist) {
    for (size_t i = 0; i < m->n; i++)
        if ((m->v[i].hist != NULL) == hist && strcmp(m->v[i].name, name) == 0) return &m->v[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = js_realloc(m->v, m->cap * sizeof *m->v);
    }
    s_named_t *e = &m->v[m->n++];
    e->name = js_strdup(name);
    e->counter = hist ? NULL : js_calloc(1, sizeof(uint64_t));
    e->hist = hist ? js_hist_new() : NULL;
    return e;
}

uint64_t *js_metrics_counter(js_metrics_t *m, const char *name) {
    return s_get(m, name, 0)->counter;
}
js_hist_t *js_metrics_hist(js_metrics_t *m, const char *name) {
    return s_get(m, name, 1)->hist;
}

static json_t *s_json_u64(uint64_t v) {
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static void s_set(json_t *o, const char *k, json_t *v) {
    if (!v || json_object_set_new(o, k, v) < 0) abort(); /* only OOM gets here: keys are checked UTF-8 */
}

char *js_metrics_json(const js_metrics_t *m) {
    json_t *o = json_object(), *hs = json_object();
    if (!o || !hs) abort();
    for (size_t i = 0; i < m->n; i++) {
        const s_named_t *e = &m->v[i];
        /* jansson refuses such a key; a metric is not worth a crash. */
        if (!js_utf8_valid(e->name, strlen(e->name))) continue;
        if (e->counter) {
            s_set(o, e->name, s_json_u64(*e->counter));
            continue;
        }
        json_t *x = json_object();
        if (!x) abort();
        s_set(x, "count", s_json_u64(js_hist_count(e->hist)));
        s_set(x, "mean_us", json_real(js_hist_mean(e->hist)));
        s_set(x, "p50_us", json_integer(js_hist_percentile(e->hist, 50)));
        s_set(x, "p99_us", json_integer(js_hist_percentile(e->hist, 99)));
        s_set(x, "p999_us", json_integer(js_hist_percentile(e->hist, 99.9)));
        s_set(x, "max_us", json_integer(js_hist_max(e->hist)));
        s_set(hs, e->name, x);
    }
    s_set(o, "hist", hs);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s) abort();
    return s;
}

static void s_sanitized(FILE *f, const char *s) {
    for (; *s; s++) {
        char c = *s;
        fputc((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_', f);
    }
}

/* jiesu_<service>_<name><suffix>, sanitized. */
static void s_family(FILE *f, const js_metrics_t *m, const char *name, const char *suffix) {
    fputs("jiesu_", f);
    s_sanitized(f, m->service);
    fputc('_', f);
    s_sanitized(f, name);
    fputs(suffix, f);
}

char *js_metrics_prometheus(const js_metrics_t *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) abort();
    static const struct {
        double q;
        const char *label;
    } qs[] = {{50, "0.5"}, {99, "0.99"}, {99.9, "0.999"}};
    for (size_t i = 0; i < m->n; i++) {
        const s_named_t *e = &m->v[i];
        if (e->counter) {
            size_t nl = strlen(e->name);
            const char *total = nl >= 6 && strcmp(e->name + nl - 6, "_total") == 0 ? "" : "_total";
            fputs("# TYPE ", f);
            s_family(f, m, e->name, total);
            fputs(" counter\n", f);
            s_family(f, m, e->name, total);
            fprintf(f, " %llu\n", (unsigned long long)*e->counter);
            continue;
        }
        fputs("# TYPE ", f);
        s_family(f, m, e->name, " summary\n");
        for (size_t k = 0; k < JS_ARRAY_LEN(qs); k++) {
            s_family(f, m, e->name, "");
            fprintf(f, "{quantile=\"%s\"} %lld\n", qs[k].label,
                    (long long)js_hist_percentile(e->hist, qs[k].q));
        }
        s_family(f, m, e->name, "_sum");
        fprintf(f, " %llu\n", (unsigned long long)e->hist->sum);
        s_family(f, m, e->name, "_count");
        fprintf(f, " %llu\n", (unsigned long long)e->hist->count);
    }
    if (fclose(f) != 0 || !buf) abort();
    return buf;
}

void js_metrics_destroy(js_metrics_t **mp) {
    if (!mp || !*mp) return;
    js_metrics_t *m = *mp;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].name);
        free(m->v[i].counter);
        js_hist_destroy(&m->v[i].hist);
    }
    free(m->v);
    free(m->service);
    free(m);
    *mp = NULL;
}
