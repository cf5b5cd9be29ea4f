/* decide.h -- the dispatch decision (精准派单), a pure function of the
 * reference data (catalog.h), a rule profile (profile.h) and the order. No
 * sockets, no Redis, no clock: the caller passes the moment (for the items'
 * validity dates) and turns the result into Assignments with due moments.
 * Rules and their sources in docs/DISPATCH.md "Decision".
 *
 * Every function fills the caller's dsp_result_t (no allocation kept) and is
 * safe to call from several threads on one dsp_ref_t. */
#ifndef DSP_DECIDE_H
#define DSP_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "jiesu/v1/types.pb-c.h"
#include "profile.h"

#define DSP_MAX_ASSIGN 16

/* Result kinds */
#define DSP_DISPATCH 1 /* a[0..n) are the units: send the order (stage dispatched) */
#define DSP_CONSULT  2 /* 会商: a reviewer names the units (stage consultation); a[] may hold suggestions, n may be 0 */
#define DSP_PARTNER  3 /* outside this city: transfer to partner_id (ZS art. 24) */

typedef struct dsp_assign {
    char unit_id[DSP_ID_MAX];
    int role;                     /* JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_{LEAD,ASSIST,COPY,COORDINATE} */
    dsp_limit_t limit, response;  /* DSP_LIMIT_NONE for a copy: a copy has no clock */
    char office[DSP_ID_MAX * 2];  /* suggested internal office (street/township leads), "" none */
    char reports_to[DSP_ID_MAX];  /* assists: the lead's unit id */
    char district[DSP_ID_MAX];    /* the unit's district (unit registry), "" city-wide */
    char catalog_item[DSP_ID_MAX]; /* the item that named it, "" none (coordination, reviewer) */
} dsp_assign_t;

typedef struct dsp_result {
    int kind;                        /* DSP_DISPATCH, DSP_CONSULT, DSP_PARTNER */
    char partner_id[DSP_ID_MAX];     /* DSP_PARTNER */
    char catalog_item[DSP_ID_MAX];   /* the item decided on, "" none */
    char catalog_version[DSP_ID_MAX]; /* the catalog file's version */
    char district[DSP_ID_MAX];       /* where the order was located ("" unknown) */
    char street[DSP_ID_MAX];
    char community[DSP_ID_MAX];
    char reason[512];                /* one line for a person (Chinese), or the error */
    size_t n;
    dsp_assign_t a[DSP_MAX_ASSIGN];  /* lead (or coordinate) first, then assists, then copies */
} dsp_result_t;

/* Prototypes */
/* Decide where order o goes. Reads o->topic, type, urgency, title, content
 * and location (address, district, street, community; ids or names);
 * exclude[0..nexclude) are units never to be picked again (returns
 * approved; o->excluded_units is NOT read: pass it). now_ms picks the catalog
 * items valid that day. 0 with out filled (any kind); -EINVAL with the reason
 * in out->reason when an argument is NULL. */
int dsp_decide(const dsp_ref_t *ref, const dsp_profile_t *p, const Jiesu__V1__Order *o,
               const char *const *exclude, size_t nexclude, int64_t now_ms, dsp_result_t *out);

/* A reviewer's units for a consultation (会商) or any dispatch by hand:
 * units[0] leads, the others assist and report to it; limits from the
 * catalog item (item_id; NULL or "" = none: profile defaults by o->type)
 * with the urgency and utility rules; the profile's district copy added.
 * 0 with out->kind DSP_DISPATCH, or -EINVAL/-ENOENT with the reason (unknown
 * unit or item, no unit, a unit twice, a committee as lead when the profile
 * forbids, more than DSP_MAX_ASSIGN). */
int dsp_assign_units(const dsp_ref_t *ref, const dsp_profile_t *p, const Jiesu__V1__Order *o, const char *item_id,
                     const char *const *units, size_t nunits, dsp_result_t *out);

/* A return approved with `--to UNIT`: the order's current assignments with
 * the lead (or coordinator) replaced by unit_id, limits from the order's
 * catalog item or the profile defaults, assists now reporting to unit_id,
 * the district copy recomputed. Same returns as dsp_assign_units. */
int dsp_redirect(const dsp_ref_t *ref, const dsp_profile_t *p, const Jiesu__V1__Order *o, const char *unit_id,
                 dsp_result_t *out);

/* Check a complete assignment list (e.g. from a ReviewDecision): every unit
 * known, exactly one lead or coordinator, no unit twice, assists reporting to
 * it, a committee not leading when the profile forbids. 0, or -EINVAL with
 * one line in err. */
int dsp_check_assignments(const dsp_ref_t *ref, const dsp_profile_t *p, const dsp_assign_t *a, size_t n, char *err,
                          size_t errlen);
/* The same for the protobuf form (ReviewDecision.assignments). */
int dsp_check_pb_assignments(const dsp_ref_t *ref, const dsp_profile_t *p, Jiesu__V1__Assignment *const *a, size_t n,
                             char *err, size_t errlen);

#endif
