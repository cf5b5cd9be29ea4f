/* profile.c -- rule profiles: `key value` lines over documented defaults. */
#include "profile.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jiesu/v1/types.pb-c.h"
#include "jsdefs.h"

void dsp_profile_defaults(dsp_profile_t *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "default");
    p->street_copy_district = false;
    p->committee_may_lead = false;
    p->type_limit[0] = (dsp_limit_t){15, DSP_LIMIT_WD};
    p->type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_CONSULTATION] = (dsp_limit_t){2, DSP_LIMIT_WD};
    p->type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_HELP] = (dsp_limit_t){10, DSP_LIMIT_WD};
    p->type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT] = (dsp_limit_t){15, DSP_LIMIT_WD};
    p->type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_REPORT] = (dsp_limit_t){15, DSP_LIMIT_WD};
    p->type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_SUGGESTION] = (dsp_limit_t){10, DSP_LIMIT_WD};
    p->response = (dsp_limit_t){24, DSP_LIMIT_H};
    p->assist_limit = (dsp_limit_t){5, DSP_LIMIT_WD};
    p->return_window = (dsp_limit_t){1, DSP_LIMIT_WD};
    p->callback_limit = (dsp_limit_t){2, DSP_LIMIT_WD};
    p->emergency_limit = (dsp_limit_t){24, DSP_LIMIT_H};
    p->emergency_response = (dsp_limit_t){1, DSP_LIMIT_H};
    p->high_max = (dsp_limit_t){3, DSP_LIMIT_WD};
    p->utility_limit = (dsp_limit_t){24, DSP_LIMIT_H};
    p->utility_response = (dsp_limit_t){2, DSP_LIMIT_H};
    p->pause_return_review = true;
    p->pause_extension_review = false;
    p->pause_completion_review = true;
    p->extension_max = (dsp_limit_t){15, DSP_LIMIT_WD};
    p->extension_max_count = 1;
    p->overdue_escalate = 0;
}

static int s_bool(const char *v, bool *out) {
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < JS_ARRAY_LEN(yes); i++) {
        if (!strcasecmp(v, yes[i])) return *out = true, 0;
        if (!strcasecmp(v, no[i])) return *out = false, 0;
    }
    return -EINVAL;
}

/* Limit-valued keys and where they go. */
typedef struct s_lkey {
    const char *key;
    size_t off;
} s_lkey_t;

#define S_L(k, f) {k, offsetof(dsp_profile_t, f)}
static const s_lkey_t s_limits[] = {
    S_L("limit.default", type_limit[0]),
    S_L("limit.consultation", type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_CONSULTATION]),
    S_L("limit.help", type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_HELP]),
    S_L("limit.complaint", type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT]),
    S_L("limit.report", type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_REPORT]),
    S_L("limit.suggestion", type_limit[JIESU__V1__ORDER_TYPE__ORDER_TYPE_SUGGESTION]),
    S_L("response", response),
    S_L("assist.limit", assist_limit),
    S_L("return_window", return_window),
    S_L("callback_limit", callback_limit),
    S_L("urgency.emergency.limit", emergency_limit),
    S_L("urgency.emergency.response", emergency_response),
    S_L("urgency.high.max", high_max),
    S_L("utility.limit", utility_limit),
    S_L("utility.response", utility_response),
    S_L("extension.max", extension_max),
};

#define S_NKEYS (JS_ARRAY_LEN(s_limits) + 6)

static int s_pause_stages(dsp_profile_t *p, const char *v) {
    bool rr = false, er = false, cr = false;
    if (strcmp(v, "none") != 0) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", v);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            char *e = t + strlen(t);
            while (e > t && e[-1] == ' ') *--e = '\0';
            if (!strcmp(t, "return_review")) rr = true;
            else if (!strcmp(t, "extension_review")) er = true;
            else if (!strcmp(t, "completion_review")) cr = true;
            else return -EINVAL;
        }
    }
    p->pause_return_review = rr;
    p->pause_extension_review = er;
    p->pause_completion_review = cr;
    return 0;
}

int dsp_profile_load(dsp_profile_t *out, const char *path, dsp_problems_t *pr) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        dsp_problems_add(pr, path, 0, "%s", strerror(e));
        return -e;
    }
    size_t before = pr->n + pr->dropped;
    dsp_profile_t p;
    dsp_profile_defaults(&p);
    /* The default name is the file's base name without .conf. */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(p.name, sizeof p.name, "%.*s", (int)strcspn(base, "."), base);
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    int seen[S_NKEYS + 1] = {0};
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (!js_utf8_valid(line, (size_t)len) || memchr(line, '\0', (size_t)len)) {
            dsp_problems_add(pr, path, lineno, "bad UTF-8");
            continue;
        }
        char *k = line;
        while (isspace((unsigned char)*k)) k++;
        if (!*k || *k == '#') continue;
        char *v = k;
        while (*v && !isspace((unsigned char)*v)) v++;
        if (*v) *v++ = '\0';
        while (isspace((unsigned char)*v)) v++;
        /* A trailing comment after the value: "key value  # why". */
        for (char *h = v; *h; h++)
            if (*h == '#' && h > v && isspace((unsigned char)h[-1])) {
                *h = '\0';
                break;
            }
        char *e = v + strlen(v);
        while (e > v && isspace((unsigned char)e[-1])) *--e = '\0';
        if (!*v) {
            dsp_problems_add(pr, path, lineno, "key '%s' without a value", k);
            continue;
        }
        int idx = -1, bad = 0;
        for (size_t i = 0; i < JS_ARRAY_LEN(s_limits); i++)
            if (!strcmp(k, s_limits[i].key)) {
                idx = (int)i;
                dsp_limit_t l;
                if (dsp_parse_limit(v, &l) < 0) bad = 1;
                else *(dsp_limit_t *)((char *)&p + s_limits[i].off) = l;
            }
        if (idx < 0) {
            size_t base_i = JS_ARRAY_LEN(s_limits);
            if (!strcmp(k, "name")) {
                idx = (int)base_i;
                size_t n = strlen(v);
                bad = n == 0 || n >= sizeof p.name || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n;
                if (!bad) snprintf(p.name, sizeof p.name, "%s", v);
            } else if (!strcmp(k, "street_copy_district")) {
                idx = (int)base_i + 1;
                bad = s_bool(v, &p.street_copy_district) < 0;
            } else if (!strcmp(k, "committee_may_lead")) {
                idx = (int)base_i + 2;
                bad = s_bool(v, &p.committee_may_lead) < 0;
            } else if (!strcmp(k, "pause_stages")) {
                idx = (int)base_i + 3;
                bad = s_pause_stages(&p, v) < 0;
            } else if (!strcmp(k, "extension.max_count")) {
                idx = (int)base_i + 4;
                char *end;
                long n = strtol(v, &end, 10);
                bad = *end || end == v || n < 0 || n > 100;
                if (!bad) p.extension_max_count = (int)n;
            } else if (!strcmp(k, "overdue.escalate")) {
                idx = (int)base_i + 5;
                p.overdue_escalate = !strcmp(v, "none") ? 0 : !strcmp(v, "district") ? 1 : !strcmp(v, "city") ? 2
                                     : !strcmp(v, "sector") ? 3 : -1;
                bad = p.overdue_escalate < 0;
            }
        }
        if (idx < 0) {
            dsp_problems_add(pr, path, lineno, "unknown key '%s' (docs/DISPATCH.md lists them)", k);
            continue;
        }
        if (seen[idx]) dsp_problems_add(pr, path, lineno, "key '%s' given twice (first at line %d)", k, seen[idx]);
        seen[idx] = lineno;
        if (bad) {
            if (idx < (int)JS_ARRAY_LEN(s_limits))
                dsp_problems_add(pr, path, lineno, "%s: '%s' is not a limit (Nwd, Nd or Nh, N >= 1)", k, v);
            else if (!strcmp(k, "pause_stages"))
                dsp_problems_add(pr, path, lineno,
                                 "pause_stages: '%s': want none or a comma list of return_review, extension_review, "
                                 "completion_review",
                                 v);
            else if (!strcmp(k, "name"))
                dsp_problems_add(pr, path, lineno, "name: '%s': want 1..31 of a-z 0-9 _ -", v);
            else if (!strcmp(k, "overdue.escalate"))
                dsp_problems_add(pr, path, lineno, "overdue.escalate: '%s': want none, district, city or sector", v);
            else if (!strcmp(k, "extension.max_count"))
                dsp_problems_add(pr, path, lineno, "extension.max_count: '%s' is not an integer in [0, 100]", v);
            else dsp_problems_add(pr, path, lineno, "%s: '%s' is not yes or no", k, v);
        }
    }
    free(line);
    fclose(f);
    if (pr->n + pr->dropped > before) return -EINVAL;
    *out = p;
    return 0;
}

int dsp_profile_load_named(dsp_profile_t *p, const char *dir, const char *name, dsp_problems_t *pr) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= DSP_PROFILE_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
        dsp_problems_add(pr, "profile", 0, "bad profile name '%s' (a-z 0-9 _ -)", name ? name : "");
        return -EINVAL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.conf", dir && dir[0] ? dir : ".", name);
    return dsp_profile_load(p, path, pr);
}

dsp_limit_t dsp_profile_type_limit(const dsp_profile_t *p, int order_type) {
    if (order_type > 0 && order_type < DSP_NTYPES && p->type_limit[order_type].unit) return p->type_limit[order_type];
    return p->type_limit[0];
}

int dsp_profile_pauses(const dsp_profile_t *p, int stage) {
    switch (stage) {
    case JIESU__V1__STAGE__STAGE_RETURN_REVIEW: return p->pause_return_review;
    case JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW: return p->pause_extension_review;
    case JIESU__V1__STAGE__STAGE_COMPLETION_REVIEW: return p->pause_completion_review;
    default: return 0;
    }
}
