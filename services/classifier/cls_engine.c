/* cls_engine.c -- one order in, one decision out (DOMAIN.md 分类处置).
 *
 * Order of decisions: unusable text goes to the manual queue; rules decide
 * emergency, legal-procedure, unlawful and out-of-scope orders and the
 * urgency; the knowledge base answers what it can; everything else is
 * dispatched, through the manual queue when topic or type is unsure. Rule
 * and knowledge-base outcomes do not depend on the topic, so a low topic
 * probability does not send them to the manual queue. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls.h"
#include "cls_kb.h"
#include "cls_model.h"
#include "cls_normalize.h"
#include "cls_rules.h"
#include "jiesu/v1/types.pb-c.h"
#include "jsdefs.h"

#define STACK_TEXT 8192 /* normalised text kept on the stack up to this size */

static const char *const s_type_names[] = {"", "consultation", "help", "complaint", "report", "suggestion"};

struct cls_engine {
    cls_norm_t *norm;
    cls_model_t *topic, *type;
    cls_pair_t *pair;             /* both, applied together */
    int type_of[CLS_MAX_CLASSES]; /* type model class -> OrderType */
    cls_rules_t *rules;
    cls_kb_t *kb;
};

/* Feature scratch of the calling thread: its buffers grow to the longest
 * text seen and are kept, so classifying allocates nothing. A thread's
 * scratch is freed when the thread ends, the main thread's by
 * cls_engine_free. */
static __thread cls_fvec_t t_fv;
static pthread_key_t s_fv_key;
static pthread_once_t s_fv_once = PTHREAD_ONCE_INIT;

static void s_fv_release(void *v) {
    cls_fvec_free(v);
}

static void s_fv_key_init(void) {
    (void)pthread_key_create(&s_fv_key, s_fv_release);
}

static cls_fvec_t *s_scratch(void) {
    if (!t_fv.cap) {
        pthread_once(&s_fv_once, s_fv_key_init);
        (void)pthread_setspecific(s_fv_key, &t_fv);
    }
    return &t_fv;
}

void cls_engine_free(cls_engine_t **ep) {
    if (!ep || !*ep) return;
    cls_engine_t *e = *ep;
    cls_norm_destroy(&e->norm);
    cls_pair_free(&e->pair);
    cls_model_free(&e->topic);
    cls_model_free(&e->type);
    cls_rules_free(&e->rules);
    cls_kb_free(&e->kb);
    free(e);
    *ep = NULL;
    cls_fvec_free(&t_fv); /* grows again on the next call */
}

cls_engine_t *cls_engine_load(const char *dir, char *err, size_t errlen) {
    char path[4096], why[512] = "";
    cls_engine_t *e = js_calloc(1, sizeof *e);
    if (!dir) dir = "config/classifier";
    e->norm = cls_norm_new("t2s.json", why, sizeof why);
    if (e->norm) {
        snprintf(path, sizeof path, "%s/topic.model", dir);
        e->topic = cls_model_load(path, why, sizeof why);
    }
    if (e->topic) {
        snprintf(path, sizeof path, "%s/type.model", dir);
        e->type = cls_model_load(path, why, sizeof why);
    }
    for (int c = 0; e->type && c < cls_model_classes(e->type); c++) {
        e->type_of[c] = 0;
        for (int t = 1; t <= 5; t++)
            if (strcmp(cls_model_label(e->type, c), s_type_names[t]) == 0) e->type_of[c] = t;
        if (!e->type_of[c]) {
            snprintf(why, sizeof why, "%.300s: unknown type label '%.63s'", path, cls_model_label(e->type, c));
            cls_model_free(&e->type);
        }
    }
    if (e->type) {
        snprintf(path, sizeof path, "%s/rules.tsv", dir);
        e->rules = cls_rules_load(path, e->norm, why, sizeof why);
    }
    if (e->rules) {
        snprintf(path, sizeof path, "%s/kb.tsv", dir);
        e->kb = cls_kb_load(path, e->norm, why, sizeof why);
    }
    if (!e->kb) {
        if (err && errlen) snprintf(err, errlen, "%s", why);
        cls_engine_free(&e);
        return NULL;
    }
    e->pair = cls_pair_new(e->topic, e->type);
    return e;
}

void cls_engine_set_thresholds(cls_engine_t *e, double topic, double type) {
    cls_rules_set_thresholds(e->rules, topic, type);
}

const char *cls_engine_kb_answer(const cls_engine_t *e, const char *id) {
    return cls_kb_answer(e->kb, cls_kb_find(e->kb, id));
}

static void s_manual(cls_result_t *out, const char *why) {
    out->manual = 1;
    if (!out->rule[0]) out->disposition = JIESU__V1__DISPOSITION__DISPOSITION_MANUAL;
    size_t l = strlen(out->reason);
    if (l == 0) snprintf(out->reason, sizeof out->reason, "%s", why);
    else if (l + 3 < sizeof out->reason) snprintf(out->reason + l, sizeof out->reason - l, "; %s", why);
}

void cls_classify(const cls_engine_t *e, const char *text, size_t len, cls_result_t *out) {
    memset(out, 0, sizeof *out);
    out->disposition = JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH;
    out->urgency = JIESU__V1__URGENCY__URGENCY_NORMAL;
    out->type = JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT; /* the most common type; it stands only for text too poor to read (manual) */
    if (!text) len = 0;
    const cls_settings_t *set = cls_rules_settings(e->rules);

    char stackbuf[STACK_TEXT];
    size_t cap = (len < CLS_NORM_MAX_IN ? len : CLS_NORM_MAX_IN) + 1;
    char *norm = cap <= sizeof stackbuf ? stackbuf : js_malloc(cap);
    cls_norm_info_t info;
    size_t nl = cls_normalize(e->norm, text, len, norm, cap, CLS_NORM_DROP_SPACE, &info);

    if (nl == 0) {
        s_manual(out, len == 0 ? "empty text" : "no readable characters in the text");
        goto done;
    }
    cls_rule_hit_t hit;
    cls_rules_apply(e->rules, norm, nl, &hit);
    if (hit.urgency) out->urgency = hit.urgency;
    if (hit.disposition) {
        out->disposition = hit.disposition;
        snprintf(out->rule, sizeof out->rule, "%s", hit.id);
        snprintf(out->reason, sizeof out->reason, "%s", hit.reason);
        if (hit.disposition == JIESU__V1__DISPOSITION__DISPOSITION_EMERGENCY)
            out->urgency = JIESU__V1__URGENCY__URGENCY_EMERGENCY;
    } else if (hit.urgency_id) {
        snprintf(out->reason, sizeof out->reason, "urgency from rule %s", hit.urgency_id);
    }

    /* best guesses even for doubtful text: they help the operator */
    int tc, yc;
    cls_pair_predict(e->pair, norm, nl, s_scratch(), &tc, &out->topic_conf, &yc, &out->type_conf);
    snprintf(out->topic, sizeof out->topic, "%s", cls_model_label(e->topic, tc));
    out->type = e->type_of[yc];
    /* a title that names its type ("投诉…", "咨询…") says it better than the model guesses it */
    int named = cls_rules_named_type(e->rules, norm, nl);
    if (named) {
        if (named != out->type || out->type_conf < set->named_conf) out->type_conf = set->named_conf;
        out->type = named;
    }

    char why[128];
    if (info.invalid) {
        snprintf(why, sizeof why, "text is not valid UTF-8 (%zu bytes dropped)", info.invalid);
        s_manual(out, why);
    }
    if (info.truncated) {
        snprintf(why, sizeof why, "text longer than %d bytes: only its start was read", CLS_NORM_MAX_IN);
        s_manual(out, why);
    }
    if (info.cjk < (size_t)set->min_cjk) {
        s_manual(out, "too few Chinese characters to classify (emoji, punctuation or another script)");
        out->topic_conf = out->type_conf = 0;
    }
    if (out->manual || hit.disposition) goto done;

    float sim;
    int k = cls_kb_match(e->kb, norm, nl, set->kb_threshold, &sim);
    if (k >= 0) {
        out->disposition = JIESU__V1__DISPOSITION__DISPOSITION_ANSWERED;
        snprintf(out->rule, sizeof out->rule, "kb:%s", cls_kb_id(e->kb, k));
        snprintf(out->reason, sizeof out->reason, "answered from knowledge base entry %s (similarity %.2f)",
                 cls_kb_id(e->kb, k), sim);
        goto done;
    }
    if (out->topic_conf < set->threshold) {
        snprintf(why, sizeof why, "topic unsure (%s %.2f < %.2f)", out->topic, out->topic_conf, set->threshold);
        s_manual(out, why);
    } else if (out->type_conf < set->type_threshold) {
        /* The type only chooses a default limit where the catalog names none: an order whose matter and place
         * are clear goes to its unit now (接诉即办) and an operator confirms the type meanwhile. */
        out->type_unsure = 1;
        snprintf(out->reason, sizeof out->reason, "dispatch: %s (%.2f); type unsure (%s %.2f < %.2f): to confirm",
                 out->topic, out->topic_conf, s_type_names[out->type], out->type_conf, set->type_threshold);
    }
    if (!out->manual && !out->reason[0])
        snprintf(out->reason, sizeof out->reason, "dispatch: %s (%.2f), %s (%.2f)", out->topic, out->topic_conf,
                 s_type_names[out->type], out->type_conf);
done:
    if (norm != stackbuf) free(norm);
}
