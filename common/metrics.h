/* metrics.h -- counters and latency histograms, cheap enough for the hot path.
 * A histogram keeps log-linear buckets (HdrHistogram-like, ~3% relative
 * precision) over 1 us .. ~1 hour; recording is two shifts and an increment.
 * A registry names counters and histograms for export as JSON (heartbeats,
 * jiesuctl ping) and Prometheus text (gateway /metrics). */
#ifndef JS_METRICS_H
#define JS_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct js_hist js_hist_t;
typedef struct js_metrics js_metrics_t;

/* Prototypes */
js_hist_t *js_hist_new(void);
void js_hist_record(js_hist_t *h, int64_t value_us);
uint64_t js_hist_count(const js_hist_t *h);
int64_t js_hist_percentile(const js_hist_t *h, double q); /* q in [0,100]; 0 if empty */
int64_t js_hist_max(const js_hist_t *h);
double js_hist_mean(const js_hist_t *h);
void js_hist_merge(js_hist_t *into, const js_hist_t *from);
void js_hist_reset(js_hist_t *h);
void js_hist_destroy(js_hist_t **hp);

js_metrics_t *js_metrics_new(const char *service);
/* Returns a stable pointer to the named counter, created at 0 on first use. */
uint64_t *js_metrics_counter(js_metrics_t *m, const char *name);
js_hist_t *js_metrics_hist(js_metrics_t *m, const char *name);
/* {"name":value,...,"hist":{"name":{"count":..,"p50_us":..,"p99_us":..,"max_us":..}}}
 * into a malloc'd string. */
char *js_metrics_json(const js_metrics_t *m);
/* Prometheus text exposition, prefix jiesu_<service>_. malloc'd. */
char *js_metrics_prometheus(const js_metrics_t *m);
void js_metrics_destroy(js_metrics_t **mp);

#endif
