/* cls_rules.h -- disposition and urgency rules, and settings, from rules.tsv.
 *
 * The file is data, not code (DOMAIN.md 分类处置). Lines:
 *   set<TAB>name<TAB>value
 *   id<TAB>disposition<TAB>urgency<TAB>keywords<TAB>unless<TAB>reason
 * keywords: comma-separated; a rule fires when one of them occurs in the
 * normalised text (blanks dropped) and none of `unless` does ("-": none). A
 * keyword may be `A&B`: all of its parts must occur, anywhere.
 * disposition: emergency, legal_procedure, unlawful, out_of_scope,
 * consultation, partner, or "-" (urgency only). urgency: emergency, high,
 * normal or "-". The first rule (in file order) with a disposition that fires
 * decides it; urgency is the highest of every rule that fires.
 *   named<TAB>type<TAB>word,word,...
 * words that name the order's type outright (投诉…, 咨询…): found in the
 * title (the text's first named_chars characters), the earliest decides the
 * type with probability named_conf.
 * Settings known: threshold (topic probability below which an order goes to
 * the manual queue), type_threshold, kb_threshold (knowledge-base
 * similarity), min_cjk (fewer CJK characters: manual), named_chars,
 * named_conf. */
#ifndef CLS_RULES_H
#define CLS_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "cls_normalize.h"

typedef struct cls_rules cls_rules_t;

typedef struct cls_settings {
    float threshold;      /* default 0.40 */
    float type_threshold; /* default 0.30 */
    float kb_threshold;   /* default 0.60 */
    int min_cjk;          /* default 2 */
    int named_chars;      /* default 24: how far a type-naming word is looked for */
    float named_conf;     /* default 0.95: the type probability of a named type */
} cls_settings_t;

typedef struct cls_rule_hit {
    int disposition;     /* jiesu.v1.Disposition, 0 when no rule decided it */
    int urgency;         /* jiesu.v1.Urgency, 0 when no rule set it */
    const char *id;      /* the deciding rule, or NULL */
    const char *reason;  /* its reason, or NULL */
    const char *urgency_id; /* the rule that set the urgency, or NULL */
} cls_rule_hit_t;

/* Prototypes */
/* n normalises the keywords as texts are (may be NULL). */
cls_rules_t *cls_rules_load(const char *path, const cls_norm_t *n, char *err, size_t errlen);
const cls_settings_t *cls_rules_settings(const cls_rules_t *r);
/* Override the thresholds (a value outside 0..1 keeps the file's): the service's
 * classifier.threshold / classifier.type_threshold keys. Before sharing r. */
void cls_rules_set_thresholds(cls_rules_t *r, double topic, double type);
/* Apply the rules to a normalised text (blanks dropped). */
void cls_rules_apply(const cls_rules_t *r, const char *norm, size_t len, cls_rule_hit_t *hit);
size_t cls_rules_count(const cls_rules_t *r);
/* The type (jiesu.v1.OrderType) a `named` word in the first named_chars
 * characters of a normalised text names (the earliest), or 0. */
int cls_rules_named_type(const cls_rules_t *r, const char *norm, size_t len);
void cls_rules_free(cls_rules_t **rp);

#endif
