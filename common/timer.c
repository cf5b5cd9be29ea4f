/* timer.c -- timer members, buckets and warning moments. */
#include "timer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

int js_timer_parse(const char *m, size_t len, js_timer_t *t) {
    char buf[256];
    if (len >= sizeof buf) return -EINVAL;
    memcpy(buf, m, len);
    buf[len] = '\0';
    char *f[8], *save = NULL;
    int n = 0;
    for (char *p = strtok_r(buf, "|", &save); p; p = strtok_r(NULL, "|", &save)) {
        if (n == 8) return -EINVAL;
        f[n++] = p;
    }
    if (n != 8 || strlen(f[0]) >= sizeof t->order || strlen(f[1]) >= sizeof t->unit || strlen(f[2]) != 1 ||
        (f[2][0] != 'r' && f[2][0] != 'h'))
        return -EINVAL;
    char *e1, *e2, *e3, *e4, *e5;
    long idx = strtol(f[3], &e1, 10), amount = strtol(f[6], &e4, 10), unit = strtol(f[7], &e5, 10);
    long long s = strtoll(f[4], &e2, 10), d = strtoll(f[5], &e3, 10);
    if (*e1 || *e2 || *e3 || *e4 || *e5 || idx < 0 || idx > 16 || d < s || amount <= 0 || amount > 87600 ||
        unit < 1 || unit > 3)
        return -EINVAL;
    strcpy(t->order, f[0]);
    strcpy(t->unit, f[1]);
    t->kind = f[2][0];
    t->idx = (int)idx;
    t->start_ms = s;
    t->due_ms = d;
    t->amount = (int)amount;
    t->limit_unit = (int)unit;
    return 0;
}

int js_timer_format(const js_timer_t *t, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s|%s|%c|%d|%lld|%lld|%d|%d", t->order, t->unit, t->kind, t->idx,
                     (long long)t->start_ms, (long long)t->due_ms, t->amount, t->limit_unit);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int64_t js_timer_fire_ms(const js_timer_t *t, const struct js_cal *cal, const double *fr, int n) {
    if (t->idx >= n) return t->due_ms;
    if (cal && t->amount > 0) {
        js_clock_event_t start = {.kind = JS_CLOCK_START, .t_ms = t->start_ms, .amount = t->amount,
                                  .unit = t->limit_unit};
        int64_t at;
        if (js_clock_when(cal, &start, 1, t->start_ms, fr[t->idx], &at) == 0) return at;
    }
    return t->start_ms + (int64_t)((double)(t->due_ms - t->start_ms) * fr[t->idx]);
}

int js_timer_bucket(const char *id, int buckets) {
    uint32_t h = 2166136261u;
    for (; *id; id++) h = (h ^ (uint8_t)*id) * 16777619u;
    return buckets > 0 ? (int)(h % (uint32_t)buckets) : 0;
}

int js_timer_parse_fractions(const char *s, double *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v <= 0 || v >= 1 || n >= max || (n && v <= out[n - 1])) return -EINVAL;
        out[n++] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -EINVAL;
    }
    return n;
}

const js_conf_def_t js_clock_keys[] = {
    {"calendar.dir", "config/holidays",
     "holiday files (holiday-cn JSON, one per year); warnings of working-day limits count working time"},
    {"timer.buckets", "16", "timer buckets (jiesu:tm:{0..N-1}); the same in every service"},
    {"clock.warn_fractions", "0.5,0.8", "warnings when this share of a handling limit is used"},
    {NULL, NULL, NULL},
};

int js_clock_conf_load(js_clock_conf_t *c, const js_conf_t *conf, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    if (js_conf_check_int(conf, "timer.buckets", 1, 16384, err, errlen) < 0) return -EINVAL;
    c->buckets = (int)js_conf_int(conf, "timer.buckets");
    c->nfractions = js_timer_parse_fractions(js_conf_str(conf, "clock.warn_fractions"), c->fractions,
                                             JS_TIMER_MAX_FRACTIONS);
    if (c->nfractions < 0) {
        snprintf(err, errlen, "clock.warn_fractions: want increasing numbers in (0, 1), e.g. 0.5,0.8");
        return -EINVAL;
    }
    char why[400];
    c->cal = js_cal_new();
    if (js_cal_load_dir(c->cal, js_conf_str(conf, "calendar.dir"), why, sizeof why) < 0) {
        snprintf(err, errlen, "calendar.dir: %s", why);
        js_cal_destroy(&c->cal);
        return -EINVAL;
    }
    return 0;
}

void js_clock_conf_reload(js_clock_conf_t *c, const js_conf_t *conf) {
    char err[512];
    int n = js_cal_reload(&c->cal, js_conf_str(conf, "calendar.dir"), err, sizeof err);
    if (n < 0) js_error("calendar reload refused, the old calendar stays: %s", err);
    else js_info("calendar reloaded: %d files", n);
}

void js_clock_conf_free(js_clock_conf_t *c) { js_cal_destroy(&c->cal); }
