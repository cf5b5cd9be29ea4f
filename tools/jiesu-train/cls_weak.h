/* cls_weak.h -- weak type labels from what a message's subject says.
 *
 * There is no labelled set of order types, but citizens often name the type
 * in the subject (咨询…, 投诉…, 举报…, 建议…, 求助…). A cue file lists the
 * words per type (`type<TAB>word,word,...`); the cue met first in the
 * subject labels the message, subjects without a cue are left out. */
#ifndef CLS_WEAK_H
#define CLS_WEAK_H

#include <stddef.h>

#include "../../services/classifier/cls_data.h"

typedef struct cls_weak cls_weak_t;

/* Prototypes */
/* The five type classes in jiesu.v1.OrderType order (consultation = class 0). */
void cls_weak_classes(cls_dataset_t *d);
cls_weak_t *cls_weak_load(const char *cues, char *err, size_t errlen);
/* Type label of a normalised subject, or NULL when it names none. */
const char *cls_weak_label(const cls_weak_t *w, const char *subject);
/* Label the rows of a raw message file (header 留言编号..., subject in column
 * 3, detail in column 5) into d, skipping rows whose text starts like a text
 * of exclude (the hand-checked test set). Returns rows added or -1 with err. */
long cls_weak_label_file(const cls_weak_t *w, const char *raw, const cls_norm_t *n, const cls_dataset_t *exclude,
                         cls_dataset_t *d, char *err, size_t errlen);
void cls_weak_free(cls_weak_t **wp);

#endif
