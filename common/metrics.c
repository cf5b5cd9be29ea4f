/* metrics.c -- counters and log-linear histograms. */
#include "metrics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

#define SUB 32                       /* sub-buckets per power of two: ~3% precision */
#define NBUCKETS (SUB + 27 * SUB)    /* up to 2^32 us (~71 min) */
#define VMAX ((INT64_C(1) << 32) - 1)

struct js_hist {
    uint64_t b[NBUCKETS];
    uint64_t count;
    int64_t max, sum;
};

static int s_index(int64_t v) {
    if (v < 0) v = 0;
    if (v > VMAX) v = VMAX;
    if (v < SUB) return (int)v;
    int k = 63 - __builtin_clzll((unsigned long long)v); /* >= 5 */
    int sub = (int)((v >> (k - 5)) & (SUB - 1));
    return SUB + (k - 5) * SUB + sub;
}

static int64_t s_upper(int i) {
    if (i < SUB) return i;
    int k = (i - SUB) / SUB + 5, sub = (i - SUB) % SUB;
    return ((int64_t)(SUB + sub + 1) << (k - 5)) - 1;
}

js_hist_t *js_hist_new(void) { return js_calloc(1, sizeof(js_hist_t)); }

void js_hist_record(js_hist_t *h, int64_t v) {
    h->b[s_index(v)]++;
    h->count++;
    if (v > h->max) h->max = v;
    h->sum += v < 0 ? 0 : v;
}

uint64_t js_hist_count(const js_hist_t *h) { return h->count; }
int64_t js_hist_max(const js_hist_t *h) { return h->max; }
double js_hist_mean(const js_hist_t *h) { return h->count ? (double)h->sum / (double)h->count : 0; }

int64_t js_hist_percentile(const js_hist_t *h, double q) {
    if (!h->count) return 0;
    if (q <= 0) q = 0;
    if (q >= 100) return h->max;
    uint64_t want = (uint64_t)((double)h->count * q / 100.0 + 0.5);
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            int64_t u = s_upper(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}

void js_hist_merge(js_hist_t *into, const js_hist_t *from) {
    for (int i = 0; i < NBUCKETS; i++) into->b[i] += from->b[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max) into->max = from->max;
}

void js_hist_reset(js_hist_t *h) { memset(h, 0, sizeof *h); }

void js_hist_destroy(js_hist_t **hp) {
    if (!hp || !*hp) return;
    free(*hp);
    *hp = NULL;
}

/* ---- registry ---------------------------------------------------------------- */

typedef struct named {
    char *name;
    uint64_t *counter; /* one of the two */
    js_hist_t *hist;
} named_t;

struct js_metrics {
    char *service;
    named_t *v;
    size_t n, cap;
};

js_metrics_t *js_metrics_new(const char *service) {
    js_metrics_t *m = js_calloc(1, sizeof *m);
    m->service = js_strdup(service);
    return m;
}

static named_t *s_get(js_metrics_t *m, const char *name, int hist) {
    for (size_t i = 0; i < m->n; i++)
        if ((m->v[i].hist != NULL) == hist && strcmp(m->v[i].name, name) == 0) return &m->v[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = js_realloc(m->v, m->cap * sizeof *m->v);
    }
    named_t *e = &m->v[m->n++];
    e->name = js_strdup(name);
    e->counter = hist ? NULL : js_calloc(1, sizeof(uint64_t)); /* its own allocation: the pointer is stable */
    e->hist = hist ? js_hist_new() : NULL;
    return e;
}

uint64_t *js_metrics_counter(js_metrics_t *m, const char *name) { return s_get(m, name, 0)->counter; }
js_hist_t *js_metrics_hist(js_metrics_t *m, const char *name) { return s_get(m, name, 1)->hist; }

char *js_metrics_json(const js_metrics_t *m) {
    json_t *o = json_object(), *h = json_object();
    for (size_t i = 0; i < m->n; i++) {
        const named_t *e = &m->v[i];
        if (e->counter) {
            json_object_set_new(o, e->name, json_integer((json_int_t)*e->counter));
        } else {
            json_t *x = json_object();
            json_object_set_new(x, "count", json_integer((json_int_t)js_hist_count(e->hist)));
            json_object_set_new(x, "p50_us", json_integer(js_hist_percentile(e->hist, 50)));
            json_object_set_new(x, "p99_us", json_integer(js_hist_percentile(e->hist, 99)));
            json_object_set_new(x, "p999_us", json_integer(js_hist_percentile(e->hist, 99.9)));
            json_object_set_new(x, "max_us", json_integer(js_hist_max(e->hist)));
            json_object_set_new(h, e->name, x);
        }
    }
    json_object_set_new(o, "hist", h);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static void s_sanitize(const char *in, char *out, size_t cap) {
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        char c = *in;
        out[n++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
    }
    out[n] = '\0';
}

char *js_metrics_prometheus(const js_metrics_t *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    char svc[64], name[128];
    s_sanitize(m->service, svc, sizeof svc);
    for (size_t i = 0; i < m->n; i++) {
        const named_t *e = &m->v[i];
        s_sanitize(e->name, name, sizeof name);
        if (e->counter) {
            fprintf(f, "# TYPE jiesu_%s_%s_total counter\njiesu_%s_%s_total %llu\n", svc, name, svc, name,
                    (unsigned long long)*e->counter);
        } else {
            fprintf(f, "# TYPE jiesu_%s_%s summary\n", svc, name);
            static const double qs[] = {0.5, 0.99, 0.999};
            for (int q = 0; q < 3; q++)
                fprintf(f, "jiesu_%s_%s{quantile=\"%g\"} %lld\n", svc, name, qs[q],
                        (long long)js_hist_percentile(e->hist, qs[q] * 100));
            fprintf(f, "jiesu_%s_%s_count %llu\n", svc, name, (unsigned long long)js_hist_count(e->hist));
        }
    }
    fclose(f);
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
