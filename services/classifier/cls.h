/* cls.h -- the classifier's pure core: no sockets, no Redis.
 *
 * An engine is loaded from a directory (classifier.model_dir, default
 * config/classifier) holding:
 *   topic.model   the topic model (multinomial naive Bayes over hashed
 *                 character 1- and 2-grams of the text with blanks removed),
 *                 built by `jiesu-train` (make model);
 *   rules.tsv     disposition and urgency rules, data not code: each line
 *                 `id  disposition  urgency  keywords  reason`;
 *   types.tsv     type cues: `type  keywords`;
 *   settings.tsv  `threshold  0.35` and friends.
 * cls_classify never fails: empty, emoji-only, oversized or broken text gives
 * manual = 1 with the reason. The engine is read-only after loading, so one
 * engine may serve several threads. */
#ifndef CLS_H
#define CLS_H

#include <stddef.h>
#include <stdint.h>

#define CLS_MAX_TEXT 65536 /* bytes looked at; the rest is ignored */

typedef struct cls_engine cls_engine_t;

typedef struct cls_result {
    int type;          /* jiesu.v1.OrderType (1..5) */
    char topic[64];    /* first-level topic label, UTF-8 */
    int disposition;   /* jiesu.v1.Disposition */
    int urgency;       /* jiesu.v1.Urgency */
    float type_conf, topic_conf;
    char rule[64];     /* id of the disposition rule that fired, "" if none */
    char reason[256];  /* one line for a person */
    int manual;        /* 1: below the threshold or unusable text: an operator decides */
} cls_result_t;

/* Prototypes */
cls_engine_t *cls_engine_load(const char *dir, char *err, size_t errlen);
void cls_classify(const cls_engine_t *e, const char *text, size_t len, cls_result_t *out);
void cls_engine_free(cls_engine_t **ep);

/* Text: full-width ASCII to half-width, ideographic space and every blank
 * removed, invalid UTF-8 dropped; at most cap-1 bytes written. Returns the
 * length and the number of CJK characters in *ncjk. */
size_t cls_normalize(const char *in, size_t len, char *out, size_t cap, size_t *ncjk);

/* The topic model. */
typedef struct cls_model cls_model_t;
cls_model_t *cls_model_load(const char *path, char *err, size_t errlen);
/* Train from `label\ttext` lines (text with or without blanks). */
cls_model_t *cls_model_train(char **labels, char **texts, size_t n, uint32_t buckets);
int cls_model_save(const cls_model_t *m, const char *path);
/* Best class and its posterior probability; the class label via cls_model_label. */
int cls_model_predict(const cls_model_t *m, const char *norm, size_t len, float *prob);
const char *cls_model_label(const cls_model_t *m, int k);
int cls_model_classes(const cls_model_t *m);
size_t cls_model_bytes(const cls_model_t *m);
void cls_model_free(cls_model_t **mp);

/* Near-duplicates: 64-bit SimHash over character 2-shingles. */
uint64_t cls_simhash(const char *text, size_t len);
int cls_simhash_distance(uint64_t a, uint64_t b);

/* jiesu-classifier --evaluate FILE.tsv [--model MODEL]: one JSON line. */
int cls_evaluate_main(int argc, char **argv);
/* jiesu-bench classifier [--data FILE.tsv] [--model MODEL]: one JSON line. */
int cls_bench_main(int argc, char **argv);

#endif
