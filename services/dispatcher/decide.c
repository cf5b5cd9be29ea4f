/* decide.c -- the dispatch decision: locate, pick the catalog item, name the
 * units and their limits. */
#include "decide.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

#define ROLE_LEAD       JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD
#define ROLE_ASSIST     JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_ASSIST
#define ROLE_COPY       JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COPY
#define ROLE_COORDINATE JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_COORDINATE

/* ---- limits ------------------------------------------------------------------- */

/* A rough size for comparing limits of different units: a working day is at
 * least a calendar day, a calendar day is 24 hours. */
static long s_hours(dsp_limit_t l) { return l.unit == DSP_LIMIT_H ? l.amount : (long)l.amount * 24; }

static dsp_limit_t s_min(dsp_limit_t a, dsp_limit_t b) {
    if (!a.unit) return b;
    if (!b.unit) return a;
    return s_hours(b) < s_hours(a) ? b : a;
}

/* The lead's limits: the item's (or the profile's by type), then urgency, then the utility clock. */
static void s_lead_limits(const dsp_profile_t *p, const dsp_item_t *it, const dsp_unit_t *u, int type, int urgency,
                          dsp_limit_t *limit, dsp_limit_t *response) {
    *limit = it && it->limit.unit ? it->limit : dsp_profile_type_limit(p, type);
    *response = it && it->response.unit ? it->response : p->response;
    if (u && u->kind == DSP_KIND_UTILITY) {
        if (limit->unit != DSP_LIMIT_H) *limit = p->utility_limit;
        if (response->unit != DSP_LIMIT_H) *response = p->utility_response;
    }
    if (urgency == JIESU__V1__URGENCY__URGENCY_EMERGENCY) {
        *limit = s_min(*limit, p->emergency_limit);
        *response = s_min(*response, p->emergency_response);
    } else if (urgency == JIESU__V1__URGENCY__URGENCY_HIGH) {
        *limit = s_min(*limit, p->high_max);
    }
}

/* An assist's limit: its own (or the profile's), never beyond the lead's. */
static dsp_limit_t s_assist_limit(const dsp_profile_t *p, dsp_limit_t own, const dsp_unit_t *u, dsp_limit_t lead) {
    dsp_limit_t l = own.unit ? own : p->assist_limit;
    if (u && u->kind == DSP_KIND_UTILITY && l.unit != DSP_LIMIT_H) l = p->utility_limit;
    return s_min(l, lead);
}

/* ---- result building -------------------------------------------------------------- */

static void s_reason(dsp_result_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_reason(dsp_result_t *out, const char *fmt, ...) {
    size_t len = strlen(out->reason);
    if (len >= sizeof out->reason - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason + len, sizeof out->reason - len, fmt, ap);
    va_end(ap);
}

static int s_has(const dsp_result_t *out, const char *unit) {
    for (size_t i = 0; i < out->n; i++)
        if (!strcmp(out->a[i].unit_id, unit)) return 1;
    return 0;
}

static dsp_assign_t *s_add(dsp_result_t *out, const dsp_unit_t *u, int role, const char *item) {
    if (out->n >= DSP_MAX_ASSIGN) return NULL;
    dsp_assign_t *a = &out->a[out->n++];
    memset(a, 0, sizeof *a);
    snprintf(a->unit_id, sizeof a->unit_id, "%s", u->id);
    snprintf(a->district, sizeof a->district, "%s", u->district);
    snprintf(a->catalog_item, sizeof a->catalog_item, "%s", item ? item : "");
    a->role = role;
    return a;
}

static int s_excluded(const char *const *ex, size_t n, const char *unit) {
    for (size_t i = 0; i < n; i++)
        if (ex[i] && !strcmp(ex[i], unit)) return 1;
    return 0;
}

static void s_clear(dsp_result_t *out) { memset(out, 0, sizeof *out); }

/* The district copy of a street/township lead (BJ), when the profile asks. */
static void s_district_copy(const dsp_ref_t *ref, const dsp_profile_t *p, dsp_result_t *out, const dsp_unit_t *lead) {
    if (!p->street_copy_district || !lead) return;
    if (lead->kind != DSP_KIND_STREET && lead->kind != DSP_KIND_TOWNSHIP) return;
    const dsp_unit_t *gov = dsp_ref_district_gov(ref, lead->district);
    if (!gov || s_has(out, gov->id)) return;
    if (s_add(out, gov, ROLE_COPY, out->n ? out->a[0].catalog_item : NULL))
        s_reason(out, "；抄送 %s（街乡派单抄送区政府）", gov->id);
}

/* ---- location ------------------------------------------------------------------------ */

typedef struct s_loc {
    int place;      /* most specific place found, -1 none */
    int partner;    /* partner area, -1 none */
    int ambiguous;  /* places in different districts named */
    const char *from; /* which text located it */
} s_loc_t;

static int s_is_ancestor(const dsp_ref_t *r, int a, int b) {
    for (int x = r->places[b].parent; x >= 0; x = r->places[x].parent)
        if (x == a) return 1;
    return 0;
}

/* The deepest common ancestor (or self) of two places, -1 if none. */
static int s_common(const dsp_ref_t *r, int a, int b) {
    for (int x = a; x >= 0; x = r->places[x].parent)
        if (x == b || s_is_ancestor(r, x, b)) return x;
    return -1;
}

/* Locate in one text's found patterns; exact ids of location fields may add places too. */
static int s_locate_tier(const dsp_ref_t *r, const unsigned char *found, const int *extra, size_t nextra,
                         s_loc_t *loc) {
    int n = 0, cand[64];
    for (size_t i = 0; i < nextra && n < 64; i++) cand[n++] = extra[i];
    for (size_t i = 0; i < r->nplaces && n < 64; i++) {
        const dsp_place_t *p = &r->places[i];
        for (size_t k = 0; k < p->nwords; k++)
            if (found[p->wpat[k]]) {
                cand[n++] = (int)i;
                break;
            }
    }
    int partner = -1, partners = 0;
    for (size_t i = 0; i < r->npartners; i++) {
        const dsp_partner_area_t *a = &r->partners[i];
        for (size_t k = 0; k < a->nwords; k++)
            if (found[a->wpat[k]]) {
                if (partner < 0 || strcmp(r->partners[partner].partner, a->partner)) partners++;
                partner = (int)i;
                break;
            }
    }
    if (n == 0) {
        if (partners == 0) return 0;
        loc->partner = partners == 1 ? partner : -1;
        loc->ambiguous = partners > 1;
        return 1;
    }
    /* Keep the most specific: drop every candidate that is an ancestor of another. */
    int best = -1;
    for (int i = 0; i < n; i++) {
        int anc = 0;
        for (int j = 0; j < n && !anc; j++)
            if (cand[i] != cand[j] && s_is_ancestor(r, cand[i], cand[j])) anc = 1;
        if (anc) continue;
        best = best < 0 ? cand[i] : s_common(r, best, cand[i]);
        if (best < 0) break;
    }
    if (best < 0) {
        loc->ambiguous = 1;
        return 0;
    }
    loc->place = best;
    loc->partner = -1;
    return 1;
}

/* A location field given as an id or exact name. */
static int s_field_place(const dsp_ref_t *r, const char *s) {
    if (!s || !s[0]) return -1;
    const dsp_place_t *p = dsp_ref_place(r, s);
    if (p) return (int)(p - r->places);
    for (size_t i = 0; i < r->nplaces; i++)
        if (!strcmp(r->places[i].name, s)) return (int)i;
    return -1;
}

/* ---- item choice --------------------------------------------------------------------- */

typedef struct s_cand {
    int item, score;
} s_cand_t;

static int s_cmp_cand(const void *a, const void *b) {
    const s_cand_t *x = a, *y = b;
    if (x->score != y->score) return y->score - x->score;
    return x->item - y->item;
}

static int s_score(const dsp_ref_t *r, const dsp_item_t *it, const unsigned char *found) {
    int s = 0;
    for (size_t k = 0; k < it->nkw; k++) {
        int all = 1;
        for (int j = 0; j < it->kw[k].nparts && all; j++) all = found[it->kw[k].part[j]];
        if (all) s += it->kw[k].weight;
    }
    (void)r;
    return s;
}

/* The unit a reference resolves to at the order's location; *role gets lead or coordinate. NULL if none. */
static const dsp_unit_t *s_resolve(const dsp_ref_t *ref, const dsp_unitref_t *u, int place, int *role) {
    *role = ROLE_LEAD;
    if (u->at == DSP_AT_NONE) return dsp_ref_unit(ref, u->unit);
    if (place < 0) return NULL;
    const dsp_place_t *p = &ref->places[place];
    switch (u->at) {
    case DSP_AT_STREET:
        if (p->street >= 0) return dsp_ref_unit(ref, ref->places[p->street].unit);
        /* Only the district is known: its government coordinates. */
        *role = ROLE_COORDINATE;
        return dsp_ref_district_gov(ref, ref->places[p->district].id);
    case DSP_AT_DISTRICT: return dsp_ref_district_gov(ref, ref->places[p->district].id);
    case DSP_AT_COMMUNITY:
        if (p->level == DSP_PLACE_COMMUNITY && p->unit[0]) return dsp_ref_unit(ref, p->unit);
        return NULL;
    default: return NULL;
    }
}

/* The street office over a committee (its community's street), NULL if unknown. */
static const dsp_unit_t *s_committee_street(const dsp_ref_t *ref, const dsp_unit_t *c) {
    for (size_t i = 0; i < ref->nplaces; i++) {
        const dsp_place_t *p = &ref->places[i];
        if (p->level == DSP_PLACE_COMMUNITY && !strcmp(p->unit, c->id) && p->street >= 0)
            return dsp_ref_unit(ref, ref->places[p->street].unit);
    }
    return NULL;
}

static void s_consult(dsp_result_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_consult(dsp_result_t *out, const char *fmt, ...) {
    out->kind = DSP_CONSULT;
    out->n = 0;
    out->reason[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

static void s_set_place(const dsp_ref_t *ref, dsp_result_t *out, int place) {
    if (place < 0) return;
    const dsp_place_t *p = &ref->places[place];
    snprintf(out->district, sizeof out->district, "%s", ref->places[p->district].id);
    if (p->street >= 0) snprintf(out->street, sizeof out->street, "%s", ref->places[p->street].id);
    if (p->level == DSP_PLACE_COMMUNITY) snprintf(out->community, sizeof out->community, "%s", p->id);
}

/* Name the lead (with the committee rule), the assists and the copy for item it. */
static void s_fill(const dsp_ref_t *ref, const dsp_profile_t *p, const Jiesu__V1__Order *o, const dsp_item_t *it,
                   const dsp_unit_t *lead, int role, int place, const char *const *ex, size_t nex,
                   dsp_result_t *out) {
    const dsp_unit_t *demoted = NULL;
    if (lead->kind == DSP_KIND_COMMITTEE && !p->committee_may_lead) {
        const dsp_unit_t *st = s_committee_street(ref, lead);
        demoted = lead;
        lead = st;
    }
    dsp_limit_t limit, response;
    s_lead_limits(p, it, lead, o->type, o->urgency, &limit, &response);
    dsp_assign_t *a = s_add(out, lead, role, it ? it->id : NULL);
    a->limit = limit;
    a->response = response;
    if (it && it->office && it->office[0] && (lead->kind == DSP_KIND_STREET || lead->kind == DSP_KIND_TOWNSHIP))
        snprintf(a->office, sizeof a->office, "%s", it->office);
    s_reason(out, "%s %s", role == ROLE_COORDINATE ? "区政府统筹" : "牵头", lead->id);
    if (a->office[0]) s_reason(out, "（%s）", a->office);
    if (demoted) s_reason(out, "（居委会/村委会 %s 不作牵头单位，改为协办：ZS art. 6）", demoted->id);
    int first_assist = 1;
    if (demoted && !s_excluded(ex, nex, demoted->id)) {
        dsp_assign_t *x = s_add(out, demoted, ROLE_ASSIST, it ? it->id : NULL);
        if (x) {
            x->limit = s_assist_limit(p, (dsp_limit_t){0, 0}, demoted, limit);
            x->response = response;
            snprintf(x->reports_to, sizeof x->reports_to, "%s", lead->id);
            s_reason(out, "；协办 %s", demoted->id);
            first_assist = 0;
        }
    }
    for (size_t i = 0; it && i < it->nassist; i++) {
        int r2;
        const dsp_unit_t *u = s_resolve(ref, &it->assist[i], place, &r2);
        if (!u || s_has(out, u->id)) continue;
        if (s_excluded(ex, nex, u->id)) {
            s_reason(out, "；%s 已退单，不再协办", u->id);
            continue;
        }
        dsp_assign_t *x = s_add(out, u, ROLE_ASSIST, it->id);
        if (!x) break;
        x->limit = s_assist_limit(p, it->assist[i].limit, u, limit);
        x->response = response;
        snprintf(x->reports_to, sizeof x->reports_to, "%s", lead->id);
        char lb[16];
        s_reason(out, "%s %s（%s）", first_assist ? "；协办" : "、", u->id, dsp_limit_str(x->limit, lb, sizeof lb));
        first_assist = 0;
    }
    if (role == ROLE_LEAD) s_district_copy(ref, p, out, lead);
    char lb[16], rb[16];
    s_reason(out, "；时限 %s，响应 %s", dsp_limit_str(limit, lb, sizeof lb), dsp_limit_str(response, rb, sizeof rb));
    if (o->urgency == JIESU__V1__URGENCY__URGENCY_EMERGENCY) s_reason(out, "（紧急）");
    else if (o->urgency == JIESU__V1__URGENCY__URGENCY_HIGH) s_reason(out, "（加急）");
    if (lead->kind == DSP_KIND_UTILITY) s_reason(out, "（公共服务企业24小时：ZS art. 35）");
    if (!it || !it->limit.unit) s_reason(out, "（按诉求类型的默认时限）");
}

/* ---- dsp_decide ---------------------------------------------------------------------- */

static char *s_join(const char *a, const char *b, const char *c, size_t *len) {
    size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    char *s = js_malloc(la + lb + lc + 3);
    size_t n = 0;
    if (la) memcpy(s + n, a, la), n += la;
    s[n++] = '\n';
    if (lb) memcpy(s + n, b, lb), n += lb;
    s[n++] = '\n';
    if (lc) memcpy(s + n, c, lc), n += lc;
    s[n] = '\0';
    *len = n;
    return s;
}

int dsp_decide(const dsp_ref_t *ref, const dsp_profile_t *p, const Jiesu__V1__Order *o, const char *const *exclude,
               size_t nexclude, int64_t now_ms, dsp_result_t *out) {
    if (!out) return -EINVAL;
    s_clear(out);
    if (!ref || !p || !o || (nexclude && !exclude)) {
        snprintf(out->reason, sizeof out->reason, "dsp_decide: missing reference data, profile or order");
        return -EINVAL;
    }
    snprintf(out->catalog_version, sizeof out->catalog_version, "%s", ref->catalog_version ? ref->catalog_version : "");
    size_t np = ref->npatterns ? ref->npatterns : 1;
    unsigned char *found = js_calloc(3, np); /* [0] location fields, [1] address, [2] title and content */
    const Jiesu__V1__Location *L = o->location;
    size_t len;
    char *t0 = s_join(L ? L->district : NULL, L ? L->street : NULL, L ? L->community : NULL, &len);
    dsp_ref_scan(ref, t0, len, found);
    free(t0);
    if (L && L->address) dsp_ref_scan(ref, L->address, strlen(L->address), found + np);
    char *t2 = s_join(o->title, o->content, NULL, &len);
    dsp_ref_scan(ref, t2, len, found + 2 * np);
    free(t2);

    /* Locate: the location fields, else the address, else the text; the first that names a place decides. */
    s_loc_t loc = {.place = -1, .partner = -1};
    int extra[3], nextra = 0;
    if (L) {
        const char *f[3] = {L->district, L->street, L->community};
        for (int i = 0; i < 3; i++) {
            int x = s_field_place(ref, f[i]);
            if (x >= 0) extra[nextra++] = x;
        }
    }
    static const char *const from[] = {"地点字段", "地址", "诉求内容"};
    int ambiguous = 0;
    for (int t = 0; t < 3; t++) {
        s_loc_t l = {.place = -1, .partner = -1};
        int hit = s_locate_tier(ref, found + (size_t)t * np, t == 0 ? extra : NULL, t == 0 ? (size_t)nextra : 0, &l);
        ambiguous |= l.ambiguous;
        if (hit) {
            loc = l;
            loc.from = from[t];
            break;
        }
    }
    if (loc.place < 0 && loc.partner < 0 && loc.ambiguous) {
        free(found);
        s_consult(out, "会商：地点指向多个伙伴热线的辖区，无法确定转办对象");
        return 0;
    }
    if (loc.partner >= 0) {
        const dsp_partner_area_t *a = &ref->partners[loc.partner];
        out->kind = DSP_PARTNER;
        snprintf(out->partner_id, sizeof out->partner_id, "%s", a->partner);
        snprintf(out->reason, sizeof out->reason, "转办伙伴热线 %s：%s位于%s，不属本市管辖（ZS art. 24）", a->partner,
                 loc.from, a->name);
        free(found);
        return 0;
    }
    s_set_place(ref, out, loc.place);

    /* Items: of the order's topic first; none matching there, of every topic. */
    int32_t today = dsp_local_day(now_ms);
    s_cand_t *cand = js_malloc((ref->nitems + 1) * sizeof *cand);
    size_t nc = 0;
    int any_topic = 0;
    for (int pass = 0; pass < 2 && nc == 0; pass++) {
        for (size_t i = 0; i < ref->nitems; i++) {
            const dsp_item_t *it = &ref->items[i];
            if (today < it->valid_from || today > it->valid_to) continue;
            if (pass == 0 && (!o->topic || strcmp(it->topic, o->topic) != 0)) continue;
            int s = s_score(ref, it, found + 2 * np);
            if (s > 0) cand[nc++] = (s_cand_t){(int)i, s};
        }
        any_topic = pass;
    }
    free(found);
    qsort(cand, nc, sizeof *cand, s_cmp_cand);

    char where[256] = "";
    if (loc.place >= 0) {
        const dsp_place_t *pl = &ref->places[loc.place];
        snprintf(where, sizeof where, "地点 %s（%s）", pl->name, loc.from);
    } else {
        snprintf(where, sizeof where, "%s", ambiguous ? "地点不明确" : "地点不明");
    }

    /* The best candidate whose unit has not returned the order decides; an
     * equal score for another unit means the sectors disagree: a person decides. */
    const dsp_item_t *best = NULL;
    const dsp_unit_t *lead = NULL;
    int role = ROLE_LEAD, best_score = 0, skipped = 0, needs_place = 0;
    for (size_t i = 0; i < nc; i++) {
        const dsp_item_t *it = &ref->items[cand[i].item];
        int r;
        const dsp_unit_t *u = s_resolve(ref, &it->lead, loc.place, &r);
        if (u && s_excluded(exclude, nexclude, u->id)) {
            skipped++;
            continue;
        }
        if (!best) {
            if (!u) {
                needs_place = cand[i].item + 1;
                break;
            }
            best = it;
            lead = u;
            role = r;
            best_score = cand[i].score;
            continue;
        }
        if (cand[i].score != best_score) break;
        if (!u || strcmp(u->id, lead->id) != 0) {
            s_consult(out, "会商：诉求同时符合派单目录 %s「%s」（%s）与 %s「%s」（%s），分属不同单位", best->id,
                      best->name, lead->id, it->id, it->name, u ? u->id : "属地");
            s_set_place(ref, out, loc.place);
            free(cand);
            return 0;
        }
    }
    if (!best && needs_place) {
        const dsp_item_t *it = &ref->items[needs_place - 1];
        s_consult(out, "会商：派单目录 %s「%s」由属地%s承办，但%s", it->id, it->name,
                  it->lead.at == DSP_AT_DISTRICT ? "区政府" : "街乡", where);
        snprintf(out->catalog_item, sizeof out->catalog_item, "%s", it->id);
        free(cand);
        return 0;
    }
    free(cand);
    if (best && best->consult) {
        s_consult(out, "会商：派单目录 %s「%s」须经会商确定承办单位（ZS art. 17、第八条机制）", best->id, best->name);
        snprintf(out->catalog_item, sizeof out->catalog_item, "%s", best->id);
        s_set_place(ref, out, loc.place);
        return 0;
    }
    if (!best) {
        if (skipped) {
            s_consult(out, "会商：符合的承办单位均已退单（%zu 个），由审核员指定", nexclude);
            s_set_place(ref, out, loc.place);
            return 0;
        }
        if (loc.place >= 0) {
            const dsp_unit_t *gov = dsp_ref_district_gov(ref, ref->places[ref->places[loc.place].district].id);
            if (gov && !s_excluded(exclude, nexclude, gov->id)) {
                out->kind = DSP_DISPATCH;
                s_reason(out, "派单目录无对应事项，%s → ", where);
                s_fill(ref, p, o, NULL, gov, ROLE_COORDINATE, loc.place, exclude, nexclude, out);
                return 0;
            }
        }
        s_consult(out, "会商：派单目录无对应事项，且%s", where);
        s_set_place(ref, out, loc.place);
        return 0;
    }
    out->kind = DSP_DISPATCH;
    snprintf(out->catalog_item, sizeof out->catalog_item, "%s", best->id);
    s_reason(out, "派单目录 %s「%s」%s；%s → ", best->id, best->name, any_topic ? "（按关键词，跨问题分类）" : "",
             where);
    s_fill(ref, p, o, best, lead, role, loc.place, exclude, nexclude, out);
    return 0;
}

/* ---- by hand ------------------------------------------------------------------------ */

int dsp_assign_units(const dsp_ref_t *ref, const dsp_profile_t *p, const Jiesu__V1__Order *o, const char *item_id,
                     const char *const *units, size_t nunits, dsp_result_t *out) {
    if (!out) return -EINVAL;
    s_clear(out);
    if (!ref || !p || !o || !units || nunits == 0) {
        snprintf(out->reason, sizeof out->reason, "no unit named");
        return -EINVAL;
    }
    const dsp_item_t *it = NULL;
    if (item_id && item_id[0] && !(it = dsp_ref_item(ref, item_id))) {
        snprintf(out->reason, sizeof out->reason, "unknown catalog item '%s'", item_id);
        return -ENOENT;
    }
    if (nunits > DSP_MAX_ASSIGN - 1) {
        snprintf(out->reason, sizeof out->reason, "%zu units, at most %d", nunits, DSP_MAX_ASSIGN - 1);
        return -EINVAL;
    }
    const dsp_unit_t *u[DSP_MAX_ASSIGN];
    for (size_t i = 0; i < nunits; i++) {
        if (!units[i] || !(u[i] = dsp_ref_unit(ref, units[i]))) {
            snprintf(out->reason, sizeof out->reason, "unknown unit '%s'", units[i] ? units[i] : "");
            return -ENOENT;
        }
        for (size_t j = 0; j < i; j++)
            if (u[j] == u[i]) {
                snprintf(out->reason, sizeof out->reason, "unit '%s' named twice", units[i]);
                return -EINVAL;
            }
    }
    if (u[0]->kind == DSP_KIND_COMMITTEE && !p->committee_may_lead) {
        snprintf(out->reason, sizeof out->reason, "'%s' is a committee: it may assist, never lead (ZS art. 6)",
                 u[0]->id);
        return -EINVAL;
    }
    out->kind = DSP_DISPATCH;
    if (it) snprintf(out->catalog_item, sizeof out->catalog_item, "%s", it->id);
    snprintf(out->catalog_version, sizeof out->catalog_version, "%s", ref->catalog_version ? ref->catalog_version : "");
    dsp_limit_t limit, response;
    s_lead_limits(p, it, u[0], o->type, o->urgency, &limit, &response);
    dsp_assign_t *a = s_add(out, u[0], ROLE_LEAD, it ? it->id : NULL);
    a->limit = limit;
    a->response = response;
    if (it && it->office && it->office[0] && (u[0]->kind == DSP_KIND_STREET || u[0]->kind == DSP_KIND_TOWNSHIP))
        snprintf(a->office, sizeof a->office, "%s", it->office);
    char lb[16];
    s_reason(out, "审核员指定：牵头 %s（%s）", u[0]->id, dsp_limit_str(limit, lb, sizeof lb));
    for (size_t i = 1; i < nunits; i++) {
        dsp_limit_t own = {0, 0};
        for (size_t k = 0; it && k < it->nassist; k++)
            if (it->assist[k].at == DSP_AT_NONE && !strcmp(it->assist[k].unit, u[i]->id)) own = it->assist[k].limit;
        dsp_assign_t *x = s_add(out, u[i], ROLE_ASSIST, it ? it->id : NULL);
        x->limit = s_assist_limit(p, own, u[i], limit);
        x->response = response;
        snprintf(x->reports_to, sizeof x->reports_to, "%s", u[0]->id);
        s_reason(out, "%s %s", i == 1 ? "；协办" : "、", u[i]->id);
    }
    s_district_copy(ref, p, out, u[0]);
    return 0;
}

int dsp_redirect(const dsp_ref_t *ref, const dsp_profile_t *p, const Jiesu__V1__Order *o, const char *unit_id,
                 dsp_result_t *out) {
    if (!out) return -EINVAL;
    s_clear(out);
    if (!ref || !p || !o || !unit_id) {
        snprintf(out->reason, sizeof out->reason, "no unit named");
        return -EINVAL;
    }
    const dsp_unit_t *nu = dsp_ref_unit(ref, unit_id);
    if (!nu) {
        snprintf(out->reason, sizeof out->reason, "unknown unit '%s'", unit_id);
        return -ENOENT;
    }
    if (nu->kind == DSP_KIND_COMMITTEE && !p->committee_may_lead) {
        snprintf(out->reason, sizeof out->reason, "'%s' is a committee: it may assist, never lead (ZS art. 6)", nu->id);
        return -EINVAL;
    }
    const dsp_item_t *it = o->catalog_item ? dsp_ref_item(ref, o->catalog_item) : NULL;
    const char *old = "";
    for (size_t i = 0; i < o->n_assignments; i++) {
        const Jiesu__V1__Assignment *x = o->assignments[i];
        if (x && (x->role == ROLE_LEAD || x->role == ROLE_COORDINATE) && x->unit_id) old = x->unit_id;
    }
    out->kind = DSP_DISPATCH;
    if (it) snprintf(out->catalog_item, sizeof out->catalog_item, "%s", it->id);
    snprintf(out->catalog_version, sizeof out->catalog_version, "%s", ref->catalog_version ? ref->catalog_version : "");
    dsp_limit_t limit, response;
    s_lead_limits(p, it, nu, o->type, o->urgency, &limit, &response);
    dsp_assign_t *a = s_add(out, nu, ROLE_LEAD, it ? it->id : NULL);
    a->limit = limit;
    a->response = response;
    if (it && it->office && it->office[0] && (nu->kind == DSP_KIND_STREET || nu->kind == DSP_KIND_TOWNSHIP))
        snprintf(a->office, sizeof a->office, "%s", it->office);
    char lb[16];
    s_reason(out, "退单改派：%s → 牵头 %s（时限 %s，重新计算）", old[0] ? old : "-", nu->id,
             dsp_limit_str(limit, lb, sizeof lb));
    for (size_t i = 0; i < o->n_assignments; i++) {
        const Jiesu__V1__Assignment *x = o->assignments[i];
        if (!x || x->role != ROLE_ASSIST || !x->unit_id || !strcmp(x->unit_id, nu->id)) continue;
        const dsp_unit_t *u = dsp_ref_unit(ref, x->unit_id);
        if (!u || s_has(out, u->id)) continue;
        dsp_assign_t *y = s_add(out, u, ROLE_ASSIST, x->catalog_item);
        if (!y) break;
        dsp_limit_t own = {0, 0};
        if (x->limit && x->limit->amount > 0 && x->limit->unit >= 1 && x->limit->unit <= 3)
            own = (dsp_limit_t){x->limit->amount, (int)x->limit->unit};
        y->limit = s_assist_limit(p, own, u, limit);
        y->response = response;
        snprintf(y->reports_to, sizeof y->reports_to, "%s", nu->id);
        s_reason(out, "；协办 %s 改向 %s 报送", u->id, nu->id);
    }
    s_district_copy(ref, p, out, nu);
    return 0;
}

/* ---- checks ---------------------------------------------------------------------------- */

typedef struct s_chk {
    const char *unit, *reports_to;
    int role, lunit, lamount;
} s_chk_t;

static int s_check(const dsp_ref_t *ref, const dsp_profile_t *p, const s_chk_t *a, size_t n, char *err,
                   size_t errlen) {
    if (!ref || !p || n == 0) {
        snprintf(err, errlen, "no assignment");
        return -EINVAL;
    }
    int leads = 0;
    const char *lead = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *id = a[i].unit ? a[i].unit : "";
        const dsp_unit_t *u = dsp_ref_unit(ref, id);
        if (!u) {
            snprintf(err, errlen, "unknown unit '%s'", id);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (a[j].unit && !strcmp(a[j].unit, id)) {
                snprintf(err, errlen, "unit '%s' named twice", id);
                return -EINVAL;
            }
        if (a[i].role == ROLE_LEAD || a[i].role == ROLE_COORDINATE) {
            leads++;
            lead = id;
            if (u->kind == DSP_KIND_COMMITTEE && !p->committee_may_lead) {
                snprintf(err, errlen, "'%s' is a committee: it may assist, never lead (ZS art. 6)", id);
                return -EINVAL;
            }
        } else if (a[i].role != ROLE_ASSIST && a[i].role != ROLE_COPY) {
            snprintf(err, errlen, "unit '%s': unknown role %d", id, a[i].role);
            return -EINVAL;
        }
        if (a[i].lunit || a[i].lamount) {
            if (a[i].lunit < DSP_LIMIT_WD || a[i].lunit > DSP_LIMIT_H || a[i].lamount <= 0 ||
                a[i].lamount > (a[i].lunit == DSP_LIMIT_H ? 87600 : 3650)) {
                snprintf(err, errlen, "unit '%s': bad limit", id);
                return -EINVAL;
            }
        }
    }
    if (leads != 1) {
        snprintf(err, errlen, "%d leads: exactly one unit leads (or coordinates)", leads);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i].role == ROLE_ASSIST && a[i].reports_to && a[i].reports_to[0] && strcmp(a[i].reports_to, lead)) {
            snprintf(err, errlen, "assist '%s' reports to '%s', not to the lead '%s'", a[i].unit, a[i].reports_to, lead);
            return -EINVAL;
        }
    return 0;
}

int dsp_check_assignments(const dsp_ref_t *ref, const dsp_profile_t *p, const dsp_assign_t *a, size_t n, char *err,
                          size_t errlen) {
    if (!a && n) return -EINVAL;
    s_chk_t c[DSP_MAX_ASSIGN];
    if (n > DSP_MAX_ASSIGN) {
        snprintf(err, errlen, "%zu assignments, at most %d", n, DSP_MAX_ASSIGN);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        c[i] = (s_chk_t){a[i].unit_id, a[i].reports_to, a[i].role, a[i].limit.unit, a[i].limit.amount};
    return s_check(ref, p, c, n, err, errlen);
}

int dsp_check_pb_assignments(const dsp_ref_t *ref, const dsp_profile_t *p, Jiesu__V1__Assignment *const *a, size_t n,
                             char *err, size_t errlen) {
    if (!a && n) return -EINVAL;
    s_chk_t c[DSP_MAX_ASSIGN];
    if (n > DSP_MAX_ASSIGN) {
        snprintf(err, errlen, "%zu assignments, at most %d", n, DSP_MAX_ASSIGN);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!a[i]) {
            snprintf(err, errlen, "empty assignment");
            return -EINVAL;
        }
        c[i] = (s_chk_t){a[i]->unit_id, a[i]->reports_to, (int)a[i]->role, a[i]->limit ? (int)a[i]->limit->unit : 0,
                         a[i]->limit ? a[i]->limit->amount : 0};
    }
    return s_check(ref, p, c, n, err, errlen);
}
