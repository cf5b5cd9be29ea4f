/* cls_rules.c -- keyword rules read from rules.tsv.
 *
 * Every keyword of every rule is looked for in one pass over the text: a
 * bitmap says which characters start a keyword, so most characters cost one
 * bit test, a second one which pairs of characters start one (common first
 * characters such as 有 or 正 pass the first), and only at a possible start
 * are the keywords beginning with that character compared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls_rules.h"
#include "jiesu/v1/types.pb-c.h"
#include "jsdefs.h"

#define MAX_KW 2048       /* keywords over all rules */
#define MAX_ALT 64        /* alternatives of one rule */
#define MAX_AND 4         /* parts of one A&B alternative */
#define MAX_RULES 256
#define KW_MAX_BYTES 128

typedef struct alt {
    int n;
    uint16_t kw[MAX_AND];
} alt_t;

typedef struct rule {
    char id[64];
    char reason[256];
    int disposition, urgency;
    int nalt, nunless;
    alt_t alt[MAX_ALT];
    uint16_t unless[MAX_ALT];
} rule_t;

typedef struct kw {
    char s[KW_MAX_BYTES];
    size_t len;
    uint32_t first, second; /* second: 0 for a one-character keyword */
} kw_t;

#define MAX_NAMED 32 /* words that name a type */

struct cls_rules {
    cls_settings_t set;
    size_t nnamed;
    char named[MAX_NAMED][32]; /* normalised */
    int named_type[MAX_NAMED]; /* jiesu.v1.OrderType */
    size_t nrules, nkw;
    rule_t *rule;
    kw_t *kw;
    uint16_t *by_first; /* keyword indexes sorted by first character */
    uint8_t bmp[65536 / 8];  /* characters that start a keyword */
    uint8_t one[65536 / 8];  /* characters that are a whole keyword */
    uint8_t pair[65536 / 8]; /* hashed first two characters of a keyword */
};

/* Where a keyword's first two characters a, b fall in the pair filter. */
static inline uint32_t s_pair_bit(uint32_t a, uint32_t b) {
    return (a * 0x9E3779B1u ^ b * 0x85EBCA77u) >> 16;
}

static int s_disposition(const char *s) {
    static const struct {
        const char *name;
        int v;
    } t[] = {
        {"-", 0},
        {"emergency", JIESU__V1__DISPOSITION__DISPOSITION_EMERGENCY},
        {"legal_procedure", JIESU__V1__DISPOSITION__DISPOSITION_LEGAL_PROCEDURE},
        {"unlawful", JIESU__V1__DISPOSITION__DISPOSITION_UNLAWFUL},
        {"out_of_scope", JIESU__V1__DISPOSITION__DISPOSITION_OUT_OF_SCOPE},
        {"consultation", JIESU__V1__DISPOSITION__DISPOSITION_CONSULTATION},
        {"partner", JIESU__V1__DISPOSITION__DISPOSITION_PARTNER},
        {"dispatch", JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (strcmp(s, t[i].name) == 0) return t[i].v;
    return -1;
}

static int s_urgency(const char *s) {
    if (strcmp(s, "-") == 0) return 0;
    if (strcmp(s, "normal") == 0) return JIESU__V1__URGENCY__URGENCY_NORMAL;
    if (strcmp(s, "high") == 0) return JIESU__V1__URGENCY__URGENCY_HIGH;
    if (strcmp(s, "emergency") == 0) return JIESU__V1__URGENCY__URGENCY_EMERGENCY;
    return -1;
}

/* Index of keyword s (normalised), added if new; -1 if it normalises to
 * nothing or there are too many. */
static int s_keyword(cls_rules_t *r, const cls_norm_t *n, const char *s) {
    char buf[KW_MAX_BYTES];
    size_t l = cls_normalize(n, s, strlen(s), buf, sizeof buf, CLS_NORM_DROP_SPACE, NULL);
    if (l == 0) return -1;
    for (size_t i = 0; i < r->nkw; i++)
        if (r->kw[i].len == l && memcmp(r->kw[i].s, buf, l) == 0) return (int)i;
    if (r->nkw >= MAX_KW) return -1;
    kw_t *k = &r->kw[r->nkw];
    memcpy(k->s, buf, l + 1);
    k->len = l;
    size_t adv, adv2;
    k->first = js_utf8_next((const unsigned char *)buf, l, &adv);
    k->second = adv < l ? js_utf8_next((const unsigned char *)buf + adv, l - adv, &adv2) : 0;
    return (int)r->nkw++;
}

static int s_parse_list(cls_rules_t *r, const cls_norm_t *n, char *list, rule_t *ru, int unless, char *why,
                        size_t whylen) {
    if (strcmp(list, "-") == 0) return 0;
    for (char *save = NULL, *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (!*item) continue;
        alt_t a = {0};
        for (char *s2 = NULL, *part = strtok_r(item, "&", &s2); part; part = strtok_r(NULL, "&", &s2)) {
            int k = s_keyword(r, n, part);
            if (k < 0 || a.n >= MAX_AND || (unless && a.n >= 1)) {
                snprintf(why, whylen, "bad keyword '%s' (empty, too many parts, or too many keywords)", part);
                return -1;
            }
            a.kw[a.n++] = (uint16_t)k;
        }
        if (a.n == 0) continue;
        if (unless) {
            if (ru->nunless >= MAX_ALT) return snprintf(why, whylen, "too many 'unless' keywords"), -1;
            ru->unless[ru->nunless++] = a.kw[0];
        } else {
            if (ru->nalt >= MAX_ALT) return snprintf(why, whylen, "too many keywords"), -1;
            ru->alt[ru->nalt++] = a;
        }
    }
    return 0;
}

static const cls_rules_t *s_sort_ctx;
static int s_cmp_first(const void *a, const void *b) {
    uint32_t x = s_sort_ctx->kw[*(const uint16_t *)a].first, y = s_sort_ctx->kw[*(const uint16_t *)b].first;
    return x < y ? -1 : x > y ? 1 : (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int s_set(cls_settings_t *s, const char *name, const char *value) {
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end) return -1;
    if (strcmp(name, "threshold") == 0 && v >= 0 && v <= 1) s->threshold = (float)v;
    else if (strcmp(name, "type_threshold") == 0 && v >= 0 && v <= 1) s->type_threshold = (float)v;
    else if (strcmp(name, "kb_threshold") == 0 && v > 0 && v <= 1) s->kb_threshold = (float)v;
    else if (strcmp(name, "min_cjk") == 0 && v >= 0 && v <= 1000) s->min_cjk = (int)v;
    else if (strcmp(name, "named_chars") == 0 && v >= 0 && v <= 200) s->named_chars = (int)v;
    else if (strcmp(name, "named_conf") == 0 && v >= 0 && v <= 1) s->named_conf = (float)v;
    else return -1;
    return 0;
}

cls_rules_t *cls_rules_load(const char *path, const cls_norm_t *n, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cls_rules_t *r = js_calloc(1, sizeof *r);
    r->set = (cls_settings_t){.threshold = 0.40f, .type_threshold = 0.30f, .kb_threshold = 0.60f, .min_cjk = 2,
                              .named_chars = 24, .named_conf = 0.95f};
    r->rule = js_calloc(MAX_RULES, sizeof *r->rule);
    r->kw = js_calloc(MAX_KW, sizeof *r->kw);
    char *line = NULL, why[160] = "";
    size_t cap = 0;
    ssize_t l;
    int lineno = 0;
    while ((l = getline(&line, &cap, f)) >= 0 && !why[0]) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char *col[7];
        int nc = 0;
        for (char *p = line; p && nc < 7; nc++) {
            col[nc] = p;
            p = strchr(p, '\t');
            if (p) *p++ = '\0';
        }
        if (strcmp(col[0], "set") == 0) {
            if (nc != 3 || s_set(&r->set, col[1], col[2]) < 0) snprintf(why, sizeof why, "bad setting");
            continue;
        }
        if (strcmp(col[0], "named") == 0) { /* named<TAB>type<TAB>word,word,... */
            static const char *const types[] = {"", "consultation", "help", "complaint", "report", "suggestion"};
            int t = 0;
            for (int i = 1; nc == 3 && i <= 5; i++)
                if (strcmp(col[1], types[i]) == 0) t = i;
            if (!t) {
                snprintf(why, sizeof why, "want named<TAB>consultation|help|complaint|report|suggestion<TAB>words");
                break;
            }
            size_t before = r->nnamed;
            for (char *save = NULL, *w = strtok_r(col[2], ",", &save); w && !why[0]; w = strtok_r(NULL, ",", &save)) {
                if (r->nnamed >= MAX_NAMED) snprintf(why, sizeof why, "too many named words");
                else if (cls_normalize(n, w, strlen(w), r->named[r->nnamed], sizeof r->named[0], CLS_NORM_DROP_SPACE,
                                       NULL) == 0)
                    snprintf(why, sizeof why, "empty or too long named word");
                else r->named_type[r->nnamed++] = t;
            }
            if (!why[0] && r->nnamed == before) snprintf(why, sizeof why, "named line without words");
            if (why[0]) break;
            continue;
        }
        if (nc != 6) {
            snprintf(why, sizeof why, "want 6 tab-separated columns, found %d", nc);
            break;
        }
        if (r->nrules >= MAX_RULES) {
            snprintf(why, sizeof why, "too many rules");
            break;
        }
        rule_t *ru = &r->rule[r->nrules];
        memset(ru, 0, sizeof *ru);
        if (!col[0][0] || strlen(col[0]) >= sizeof ru->id || strlen(col[5]) >= sizeof ru->reason || !col[5][0]) {
            snprintf(why, sizeof why, "rule id or reason empty or too long");
            break;
        }
        for (size_t i = 0; i < r->nrules; i++)
            if (strcmp(r->rule[i].id, col[0]) == 0) snprintf(why, sizeof why, "duplicate rule id %s", col[0]);
        snprintf(ru->id, sizeof ru->id, "%s", col[0]);
        snprintf(ru->reason, sizeof ru->reason, "%s", col[5]);
        ru->disposition = s_disposition(col[1]);
        ru->urgency = s_urgency(col[2]);
        if (ru->disposition < 0) snprintf(why, sizeof why, "unknown disposition '%s'", col[1]);
        else if (ru->urgency < 0) snprintf(why, sizeof why, "unknown urgency '%s'", col[2]);
        else if (ru->disposition == 0 && ru->urgency == 0) snprintf(why, sizeof why, "rule decides nothing");
        if (why[0]) break;
        if (s_parse_list(r, n, col[3], ru, 0, why, sizeof why) < 0 ||
            s_parse_list(r, n, col[4], ru, 1, why, sizeof why) < 0)
            break;
        if (ru->nalt == 0) {
            snprintf(why, sizeof why, "rule %s has no keywords", ru->id);
            break;
        }
        r->nrules++;
    }
    free(line);
    fclose(f);
    if (why[0]) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
        cls_rules_free(&r);
        return NULL;
    }
    r->by_first = js_malloc((r->nkw ? r->nkw : 1) * sizeof *r->by_first);
    for (size_t i = 0; i < r->nkw; i++) {
        r->by_first[i] = (uint16_t)i;
        uint32_t c = r->kw[i].first, p = s_pair_bit(c, r->kw[i].second);
        if (c < 65536) r->bmp[c >> 3] |= (uint8_t)(1u << (c & 7));
        if (c < 65536 && !r->kw[i].second) r->one[c >> 3] |= (uint8_t)(1u << (c & 7));
        r->pair[p >> 3] |= (uint8_t)(1u << (p & 7));
    }
    s_sort_ctx = r; /* loading is single-threaded */
    qsort(r->by_first, r->nkw, sizeof *r->by_first, s_cmp_first);
    s_sort_ctx = NULL;
    return r;
}

void cls_rules_set_thresholds(cls_rules_t *r, double topic, double type) {
    if (topic >= 0 && topic <= 1) r->set.threshold = (float)topic;
    if (type >= 0 && type <= 1) r->set.type_threshold = (float)type;
}

const cls_settings_t *cls_rules_settings(const cls_rules_t *r) {
    return &r->set;
}

size_t cls_rules_count(const cls_rules_t *r) {
    return r->nrules;
}

void cls_rules_apply(const cls_rules_t *r, const char *norm, size_t len, cls_rule_hit_t *hit) {
    uint8_t found[MAX_KW];
    const unsigned char *p = (const unsigned char *)norm;
    memset(hit, 0, sizeof *hit);
    memset(found, 0, r->nkw);
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = cls_utf8_next_fast(p + i, len - i, &adv);
        if (cp < 65536 && !(r->bmp[cp >> 3] >> (cp & 7) & 1)) {
            i += adv;
            continue;
        }
        if (cp < 65536 && !(r->one[cp >> 3] >> (cp & 7) & 1)) { /* no keyword is cp alone: check the pair */
            size_t adv2;
            uint32_t next = i + adv < len ? cls_utf8_next_fast(p + i + adv, len - i - adv, &adv2) : 0;
            uint32_t pb = s_pair_bit(cp, next);
            if (!(r->pair[pb >> 3] >> (pb & 7) & 1)) {
                i += adv;
                continue;
            }
        }
        /* first keyword starting with cp */
        size_t lo = 0, hi = r->nkw;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r->kw[r->by_first[mid]].first < cp) lo = mid + 1;
            else hi = mid;
        }
        for (; lo < r->nkw && r->kw[r->by_first[lo]].first == cp; lo++) {
            const kw_t *k = &r->kw[r->by_first[lo]];
            if (k->len <= len - i && memcmp(p + i, k->s, k->len) == 0) found[r->by_first[lo]] = 1;
        }
        i += adv;
    }
    for (size_t ri = 0; ri < r->nrules; ri++) {
        const rule_t *ru = &r->rule[ri];
        int fire = 0;
        for (int a = 0; a < ru->nalt && !fire; a++) {
            fire = 1;
            for (int j = 0; j < ru->alt[a].n; j++) fire &= found[ru->alt[a].kw[j]];
        }
        for (int u = 0; u < ru->nunless && fire; u++)
            if (found[ru->unless[u]]) fire = 0;
        if (!fire) continue;
        if (ru->disposition && !hit->disposition) {
            hit->disposition = ru->disposition;
            hit->id = ru->id;
            hit->reason = ru->reason;
        }
        if (ru->urgency > hit->urgency) hit->urgency = ru->urgency, hit->urgency_id = ru->id;
    }
}

int cls_rules_named_type(const cls_rules_t *r, const char *norm, size_t len) {
    /* the start of the text is the title: find where its first named_chars characters end */
    size_t end = 0;
    for (int c = 0; end < len && c < r->set.named_chars; c++) {
        end++;
        while (end < len && ((unsigned char)norm[end] & 0xC0) == 0x80) end++;
    }
    const char *best = NULL;
    int type = 0;
    for (size_t i = 0; i < r->nnamed; i++) {
        const char *p = memmem(norm, end, r->named[i], strlen(r->named[i]));
        if (p && (!best || p < best)) best = p, type = r->named_type[i];
    }
    return type;
}

void cls_rules_free(cls_rules_t **rp) {
    if (!rp || !*rp) return;
    free((*rp)->rule);
    free((*rp)->kw);
    free((*rp)->by_first);
    free(*rp);
    *rp = NULL;
}
