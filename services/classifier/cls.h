/* cls.h -- the classifier's pure core: no sockets, no Redis.
 *
 * An engine is loaded from a directory (classifier.model_dir, default
 * config/classifier) holding:
 *   topic.model  first-level topic: linear model over hashed character
 *                n-grams (cls_model.h), built by jiesu-train (make model);
 *   type.model   order type, the same kind of model, trained on weak labels;
 *   rules.tsv    disposition and urgency rules and the engine's settings,
 *                data not code (cls_rules.h);
 *   kb.tsv       the knowledge base: `id<TAB>question<TAB>answer` (cls_kb.h).
 * cls_classify never fails: empty, emoji-only, oversized or broken text gives
 * manual = 1 with the reason. The engine is read-only after loading, so one
 * engine may serve several threads; cls_classify allocates only for texts
 * longer than a few KiB. See docs/CLASSIFIER.md. */
#ifndef CLS_H
#define CLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cls_engine cls_engine_t;

typedef struct cls_result {
    int type;          /* jiesu.v1.OrderType values (1..5) */
    char topic[64];    /* first-level topic label, UTF-8 */
    int disposition;   /* jiesu.v1.Disposition values */
    int urgency;       /* jiesu.v1.Urgency values */
    float type_conf, topic_conf; /* calibrated probabilities of type and topic */
    char rule[64];     /* id of the disposition rule that fired, "" if none */
    char reason[256];  /* one line for a person */
    int manual;        /* 1: topic below threshold or bad input -> manual queue */
    int type_unsure;   /* 1: type below type_threshold: dispatched all the same, an operator confirms the type */
} cls_result_t;

/* Prototypes */
/* dir: config/classifier (model, rules, kb). NULL + one-line err on failure. */
cls_engine_t *cls_engine_load(const char *dir, char *err, size_t errlen);
/* Never fails on bad input: empty, emoji only, 1 MB, broken UTF-8 give manual=1 with a reason.
 * When a rule fired on such a text, disposition keeps the rule's value; otherwise a manual
 * result has DISPOSITION_MANUAL. Topic and type are filled in as best guesses whenever
 * there is text to guess from. */
void cls_classify(const cls_engine_t *e, const char *text, size_t len, cls_result_t *out);
/* The answer text of knowledge-base entry id (as named in an ANSWERED reason), or NULL.
 * Valid while the engine lives. */
const char *cls_engine_kb_answer(const cls_engine_t *e, const char *id);
/* Override rules.tsv's topic and type thresholds (a value outside 0..1 keeps the file's). Before
 * sharing the engine. */
void cls_engine_set_thresholds(cls_engine_t *e, double topic, double type);
void cls_engine_free(cls_engine_t **ep);

/* jiesu-classifier --evaluate FILE.tsv [--model MODEL]: prints one JSON line; returns exit status. */
int cls_evaluate_main(int argc, char **argv);
/* classifier [--data FILE.tsv] [--model-dir DIR]: one JSON line
 * {"bench":"classifier","msgs_per_s":…,"model_bytes":…,"rss_mb":…,"macro_f1":…}; exit status. */
int cls_bench_main(int argc, char **argv);

/* "The same matter" is found by intake with js_simhash (common/simhash.h);
 * the classifier closes an order intake linked to an earlier one
 * (Order.duplicate_of) as DISPOSITION_DUPLICATE. */

#endif
