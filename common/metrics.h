/* metrics.h -- counters and latency histograms, cheap enough for the hot path.
 *
 * A histogram keeps log-linear buckets (HdrHistogram-like): values below 32
 * have a bucket each; above, every power-of-two range [2^k, 2^(k+1)) is split
 * into 32 equal sub-buckets, so a bucket is at most 1/32 (3.1%) of its lower
 * bound wide. Values are microseconds from 0 to JS_HIST_MAX_US (~71.6 min);
 * a negative value counts as 0 (a clock stepped back), a larger one lands in
 * the top bucket. Recording is a count-leading-zeros, two shifts and a few
 * adds; a histogram is a fixed ~7 KiB and never allocates after js_hist_new.
 *
 * js_hist_percentile(q) is the nearest-rank percentile (the ceil(q% * count)-
 * th smallest value), reported as the upper bound of its bucket, capped at
 * the exact max (the top bucket reports max): it is never under the true
 * value, and at most 3.2% over it while nothing over JS_HIST_MAX_US was
 * recorded. js_hist_max is exact (unclamped), js_hist_mean the exact mean
 * of the recorded values (negatives as 0; their sum saturates at 2^64 - 1).
 *
 * A registry names counters and histograms for export as JSON (heartbeats,
 * jiesuctl ping) and Prometheus text (gateway /metrics). Counter and
 * histogram names are separate namespaces. Nothing here locks: use a
 * registry and its histograms from one thread (the service's loop).
 * Out of memory aborts (js_malloc). */
#ifndef JS_METRICS_H
#define JS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define JS_HIST_SUB     32                               /* sub-buckets per power of two */
#define JS_HIST_MAX_US  ((INT64_C(1) << 32) - 1)         /* top of the top bucket, ~71.6 min */
#define JS_HIST_BUCKETS (JS_HIST_SUB + 27 * JS_HIST_SUB) /* 0..31 exact, then 2^5 .. 2^32 */

typedef struct js_hist js_hist_t;
typedef struct js_metrics js_metrics_t;

/* Prototypes */
js_hist_t *js_hist_new(void);
void js_hist_record(js_hist_t *h, int64_t value_us);
uint64_t js_hist_count(const js_hist_t *h);
int64_t js_hist_percentile(const js_hist_t *h, double q);   /* q in [0,100] (clamped; NaN is 0); 0 if empty */
int64_t js_hist_max(const js_hist_t *h);                    /* 0 if empty */
double js_hist_mean(const js_hist_t *h);                    /* 0 if empty */
void js_hist_merge(js_hist_t *into, const js_hist_t *from); /* into += from */
void js_hist_reset(js_hist_t *h);
void js_hist_destroy(js_hist_t **hp); /* idempotent; NULLs *hp */

/* service names the Prometheus prefix (NULL: ""). */
js_metrics_t *js_metrics_new(const char *service);
/* Returns the named counter, created at 0 on first use. The pointer stays
 * valid, and the same for that name, until js_metrics_destroy: keep it and
 * increment through it. A counter named "hist" would be hidden in the JSON. */
uint64_t *js_metrics_counter(js_metrics_t *m, const char *name);
/* The named histogram, created empty on first use; owned by the registry,
 * valid until js_metrics_destroy. */
js_hist_t *js_metrics_hist(js_metrics_t *m, const char *name);
/* A malloc'd string (free() it), keys sorted:
 *   {"name":value,...,"hist":{"name":{"count":..,"max_us":..,"mean_us":..,
 *    "p50_us":..,"p999_us":..,"p99_us":..}}}
 * Names as given; a name that is not UTF-8 is left out. Counter values
 * above INT64_MAX show as INT64_MAX. */
char *js_metrics_json(const js_metrics_t *m);
/* Prometheus text exposition (format 0.0.4) into a malloc'd string, in the
 * order things were first named. Names are sanitized to [a-zA-Z0-9_] (every
 * other byte becomes '_'), so keep them to that: two names that sanitize
 * alike would give two families of one name.
 *   counter -> # TYPE jiesu_<service>_<name>_total counter
 *              jiesu_<service>_<name>_total <value>
 *              (no second _total when name already ends in _total)
 *   hist    -> # TYPE jiesu_<service>_<name> summary
 *              jiesu_<service>_<name>{quantile="0.5"} <us>   (0.99, 0.999 likewise)
 *              jiesu_<service>_<name>_sum <us>
 *              jiesu_<service>_<name>_count <n> */
char *js_metrics_prometheus(const js_metrics_t *m);
void js_metrics_destroy(js_metrics_t **mp); /* idempotent; NULLs *mp */

#endif
