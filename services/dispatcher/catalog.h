/* catalog.h -- the dispatcher's reference data: the dispatch catalog (派单目录),
 * the gazetteer and the unit registry, loaded from three versioned TSV files
 * (config/dispatch/, format in docs/DISPATCH.md). Pure: no sockets, no Redis.
 *
 * Loading checks every line and every cross-reference and reports EVERY
 * problem as "FILE:LINE: what" into a dsp_problems_t; a load with any problem
 * fails and leaves the caller's dsp_ref_t untouched, so a reload of a broken
 * file keeps the data in use. A loaded dsp_ref_t is read-only: any number of
 * threads may read it (dsp_decide) at once.
 *
 * Ownership: every string and array of a dsp_ref_t belongs to it and lives
 * until dsp_ref_free. */
#ifndef DSP_CATALOG_H
#define DSP_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define DSP_ID_MAX       64   /* ids of units, places, items, partners (with the NUL) */
#define DSP_MAX_ASSISTS  12   /* assisting units one catalog item may name */
#define DSP_MAX_PROBLEMS 1000 /* problems kept per load; further ones are only counted */

/* jiesu.v1.LimitUnit */
#define DSP_LIMIT_NONE 0 /* no limit (copies carry none) */
#define DSP_LIMIT_WD   1 /* working days */
#define DSP_LIMIT_D    2 /* calendar days */
#define DSP_LIMIT_H    3 /* hours */

/* Unit kinds (units.tsv column kind) */
#define DSP_KIND_STREET              1 /* 街道办事处 */
#define DSP_KIND_TOWNSHIP            2 /* 乡镇人民政府 */
#define DSP_KIND_DEPARTMENT          3 /* city or district government department */
#define DSP_KIND_UTILITY             4 /* water, power, gas, heating, telecom: 24-hour clocks (ZS art. 35) */
#define DSP_KIND_STATE_ENTERPRISE    5 /* 国有企业 */
#define DSP_KIND_DISTRICT_GOVERNMENT 6 /* 区(县)人民政府 */
#define DSP_KIND_COMMITTEE           7 /* 居委会 / 村委会: assists, never leads (ZS art. 6) */

/* Gazetteer levels */
#define DSP_PLACE_DISTRICT  1
#define DSP_PLACE_STREET    2 /* street or township */
#define DSP_PLACE_COMMUNITY 3 /* community or village */

/* Handling-unit references of catalog items besides a unit id */
#define DSP_AT_NONE      0 /* a unit id */
#define DSP_AT_STREET    1 /* @street: the street/township office of the order's location */
#define DSP_AT_DISTRICT  2 /* @district: the district government of the order's location */
#define DSP_AT_COMMUNITY 3 /* @community: the committee of the order's community (assists only) */

typedef struct dsp_limit {
    int amount; /* > 0, or 0 with unit DSP_LIMIT_NONE */
    int unit;   /* DSP_LIMIT_* (jiesu.v1.LimitUnit) */
} dsp_limit_t;

/* Every problem of one load, each "FILE:LINE: what" (or "FILE: what"). */
typedef struct dsp_problems {
    char **v;
    size_t n, cap;
    size_t dropped; /* problems beyond DSP_MAX_PROBLEMS, counted only */
} dsp_problems_t;

typedef struct dsp_unit {
    char id[DSP_ID_MAX];
    char *name;
    int kind;                 /* DSP_KIND_* */
    char district[DSP_ID_MAX]; /* gazetteer district id, "" for city-wide units */
    char *reach;              /* how it is reached: endpoint or contact text */
    int line;                 /* line in units.tsv */
} dsp_unit_t;

typedef struct dsp_place {
    char id[DSP_ID_MAX];
    char *name;
    int level;               /* DSP_PLACE_* */
    int parent;              /* index of the parent place, -1 for districts */
    int district;            /* index of its district (itself for a district) */
    int street;              /* index of its street/township, -1 for a district */
    char unit[DSP_ID_MAX];   /* the unit that governs it: district government, street office, committee ("" none) */
    char **words;            /* address words that locate an order here */
    int *wpat;               /* their pattern ids in the matcher */
    size_t nwords;
    int line;
} dsp_place_t;

typedef struct dsp_partner_area {
    char partner[DSP_ID_MAX]; /* the partner hotline's id (config of the transfer) */
    char *name;
    char **words;
    int *wpat;
    size_t nwords;
    int line;
} dsp_partner_area_t;

typedef struct dsp_ref_unitref {
    int at;                /* DSP_AT_* */
    char unit[DSP_ID_MAX]; /* with DSP_AT_NONE */
    dsp_limit_t limit;     /* assists: own limit; DSP_LIMIT_NONE = the profile's assist.limit */
} dsp_unitref_t;

/* A keyword: one to four parts that must all occur ("停水+小区"). */
typedef struct dsp_keyword {
    int part[4]; /* pattern ids in the matcher */
    int nparts;
    int weight;  /* characters of all parts: longer keywords are more specific */
} dsp_keyword_t;

typedef struct dsp_item {
    char id[DSP_ID_MAX];
    char *name;
    char *topic;              /* a first-level classifier topic */
    dsp_keyword_t *kw;
    size_t nkw;
    char *legal_basis;
    dsp_unitref_t lead;       /* handling unit */
    dsp_unitref_t assist[DSP_MAX_ASSISTS];
    size_t nassist;
    dsp_limit_t limit;        /* DSP_LIMIT_NONE: the profile's default for the order type */
    dsp_limit_t response;     /* DSP_LIMIT_NONE: the profile's response default */
    char *office;             /* suggested internal office for streets/townships, "" none */
    int32_t valid_from;       /* days since 1970-01-01, local date */
    int32_t valid_to;         /* inclusive; INT32_MAX = open */
    int consult;              /* flag consult: always to consultation (会商) */
    int line;
} dsp_item_t;

typedef struct dsp_matcher dsp_matcher_t; /* Aho-Corasick over every word (catalog.c) */

typedef struct dsp_ref {
    char *catalog_version, *gazetteer_version, *units_version;
    dsp_unit_t *units;
    size_t nunits;
    dsp_place_t *places;
    size_t nplaces;
    dsp_partner_area_t *partners;
    size_t npartners;
    dsp_item_t *items;
    size_t nitems;
    dsp_matcher_t *m;  /* every keyword part and place word, each string once */
    size_t npatterns;
    /* internal: indexes sorted by id for the lookups */
    int *unit_by_id, *place_by_id, *item_by_id;
} dsp_ref_t;

typedef struct dsp_paths {
    const char *catalog;   /* dispatch.catalog; NULL: no items (to read the units alone) */
    const char *gazetteer; /* dispatch.gazetteer */
    const char *units;     /* dispatch.units */
} dsp_paths_t;

/* File kinds by their version line (dsp_file_kind) */
#define DSP_FILE_UNKNOWN   0
#define DSP_FILE_CATALOG   1
#define DSP_FILE_GAZETTEER 2
#define DSP_FILE_UNITS     3
#define DSP_FILE_PROFILE   4 /* a rule profile (*.conf), see profile.h */

/* Prototypes */
/* Add one problem; line <= 0 gives "FILE: what". */
void dsp_problems_add(dsp_problems_t *pr, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void dsp_problems_free(dsp_problems_t *pr);

/* Load gazetteer, units, then catalog (each checked against the ones
 * before). 0 and *out replaced (the old one freed) when there was no problem;
 * -EINVAL (or -errno of an unreadable file) with every problem in pr and *out
 * untouched otherwise. *out must be zeroed or loaded before the first call. */
int dsp_ref_load(dsp_ref_t *out, const dsp_paths_t *paths, dsp_problems_t *pr);
void dsp_ref_free(dsp_ref_t *r);

/* Lookups: NULL when unknown. */
const dsp_unit_t *dsp_ref_unit(const dsp_ref_t *r, const char *id);
const dsp_item_t *dsp_ref_item(const dsp_ref_t *r, const char *id);
const dsp_place_t *dsp_ref_place(const dsp_ref_t *r, const char *id);
/* The district government unit of a district id (or of a unit's district). */
const dsp_unit_t *dsp_ref_district_gov(const dsp_ref_t *r, const char *district_id);

/* "15wd", "3d", "24h" -> limit (1..3650 days, 1..87600 hours); 0 or -EINVAL. */
int dsp_parse_limit(const char *s, dsp_limit_t *out);
/* The limit as text: "15wd", "3d", "24h", "-" for none. Returns buf. */
char *dsp_limit_str(dsp_limit_t l, char *buf, size_t cap);
/* "2026-11-01" -> days since 1970-01-01; 0 or -EINVAL (the date must exist). */
int dsp_parse_date(const char *s, int32_t *days);
/* The local (UTC+8) date of an epoch-ms moment, as days since 1970-01-01. */
int32_t dsp_local_day(int64_t ms);
/* "street" -> DSP_KIND_STREET ...; 0 if unknown. And back ("?" if unknown). */
int dsp_kind_parse(const char *s);
const char *dsp_kind_name(int kind);
/* The kind of a file by its version line ("version<TAB>catalog<TAB>..."), or
 * DSP_FILE_PROFILE for a name ending in .conf; DSP_FILE_UNKNOWN if neither,
 * -errno if unreadable. */
int dsp_file_kind(const char *path);

/* For dsp_decide: mark in found[npatterns] (1 = occurs) every pattern that
 * occurs in text[0..len); ASCII letters match without case. */
void dsp_ref_scan(const dsp_ref_t *r, const char *text, size_t len, unsigned char *found);

#endif
