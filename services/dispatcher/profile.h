/* profile.h -- a rule profile (config/profiles/NAME.conf): the settings where
 * cities differ (Beijing, Zhongshan), `key value` lines with # comments.
 * Every key, its meaning and its default are in docs/DISPATCH.md "Profiles";
 * a key missing from the file keeps its default. Pure: no sockets, no Redis.
 *
 * The struct is plain data: the caller owns it (no allocation inside), copies
 * it freely, and reads the fields directly. */
#ifndef DSP_PROFILE_H
#define DSP_PROFILE_H

#include <stdbool.h>

#include "catalog.h"

#define DSP_PROFILE_NAME_MAX 32
#define DSP_NTYPES 6 /* jiesu.v1.OrderType 0 (unspecified) .. 5 (suggestion) */

typedef struct dsp_profile {
    char name[DSP_PROFILE_NAME_MAX]; /* name: beijing, zhongshan (default: the file's base name) */
    bool street_copy_district;       /* street_copy_district: a street/township lead is copied to its district government (BJ) */
    bool committee_may_lead;         /* committee_may_lead: a committee may be the lead (ZS art. 6 says no) */
    dsp_limit_t type_limit[DSP_NTYPES]; /* limit.<type>: default handling limit for items that name none; [0] = limit.default */
    dsp_limit_t response;            /* response: default response limit (响应) */
    dsp_limit_t assist_limit;        /* assist.limit: an assist's limit when its item names none (never above the lead's) */
    dsp_limit_t return_window;       /* return_window: a return (退单) is allowed this long from the unit's first receipt */
    dsp_limit_t callback_limit;      /* callback_limit: the centre calls back within this after completion */
    dsp_limit_t emergency_limit;     /* urgency.emergency.limit: handling limit of an emergency order */
    dsp_limit_t emergency_response;  /* urgency.emergency.response: its response limit */
    dsp_limit_t high_max;            /* urgency.high.max: a high-urgency order's limit is at most this */
    dsp_limit_t utility_limit;       /* utility.limit: a utility's limit when the one it would get is not in hours (ZS art. 35) */
    dsp_limit_t utility_response;    /* utility.response: a utility's response limit in that case */
    bool pause_return_review;        /* pause_stages contains return_review: the handling clock stops during it (ZS art. 17) */
    bool pause_extension_review;     /* pause_stages contains extension_review */
    bool pause_completion_review;    /* pause_stages contains completion_review */
    dsp_limit_t extension_max;       /* extension.max: the longest extension one request may add */
    int extension_max_count;         /* extension.max_count: extensions per assignment (0 = none allowed) */
    int overdue_escalate;            /* overdue.escalate: 0 (none), or the jiesu.v1.EscalationLevel an order goes to
                                        when its handling clock is overdue (district, city, sector) */
} dsp_profile_t;

/* Prototypes */
/* The documented defaults (name "default"). */
void dsp_profile_defaults(dsp_profile_t *p);
/* Read path over the defaults. 0, or -EINVAL / -errno with every problem
 * ("FILE:LINE: what": unknown key, bad value, key twice, bad UTF-8) in pr and
 * *p untouched. */
int dsp_profile_load(dsp_profile_t *p, const char *path, dsp_problems_t *pr);
/* dir/name.conf; name must be [a-z0-9_-]+ (no path). Same returns. */
int dsp_profile_load_named(dsp_profile_t *p, const char *dir, const char *name, dsp_problems_t *pr);
/* The default handling limit of an order type (jiesu.v1.OrderType; an unknown one gets limit.default). */
dsp_limit_t dsp_profile_type_limit(const dsp_profile_t *p, int order_type);
/* 1 if a review stage (jiesu.v1.Stage) pauses the handling clock under p. */
int dsp_profile_pauses(const dsp_profile_t *p, int stage);

#endif
