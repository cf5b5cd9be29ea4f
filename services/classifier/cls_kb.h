/* cls_kb.h -- the knowledge base of questions answered at once (即时答复).
 *
 * kb.tsv: `id<TAB>question<TAB>answer` per line. An order is answered from
 * the entry whose question is nearest by the cosine of their character
 * bigram sets (blanks and punctuation ignored), when that is at least the
 * threshold. Long orders cannot come near a short question (the cosine is
 * at most sqrt(|question| / |order|)), so they are not compared at all. */
#ifndef CLS_KB_H
#define CLS_KB_H

#include <stddef.h>

#include "cls_normalize.h"

typedef struct cls_kb cls_kb_t;

/* Prototypes */
cls_kb_t *cls_kb_load(const char *path, const cls_norm_t *n, char *err, size_t errlen);
/* Nearest entry to a normalised text: its index, or -1 when none reaches
 * threshold; the similarity in *sim (may be NULL). */
int cls_kb_match(const cls_kb_t *kb, const char *norm, size_t len, float threshold, float *sim);
const char *cls_kb_id(const cls_kb_t *kb, int i);
const char *cls_kb_answer(const cls_kb_t *kb, int i);
int cls_kb_find(const cls_kb_t *kb, const char *id); /* index of id, or -1 */
size_t cls_kb_count(const cls_kb_t *kb);
void cls_kb_free(cls_kb_t **kp);

#endif
