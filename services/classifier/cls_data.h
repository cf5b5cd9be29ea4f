/* cls_data.h -- labelled texts for training and evaluation, and their scores.
 *
 * A labelled file is TSV with the header `label<TAB>text`; texts may be
 * word-segmented (the blanks are dropped by normalisation, as for orders).
 * A dataset owns its texts. */
#ifndef CLS_DATA_H
#define CLS_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "cls_model.h"
#include "cls_normalize.h"

typedef struct cls_confusion {
    int k;
    uint32_t m[CLS_MAX_CLASSES][CLS_MAX_CLASSES]; /* [truth][predicted] */
} cls_confusion_t;

/* Prototypes */
/* Append the rows of path to d (labels found by name, new ones added in the
 * order met; at most CLS_MAX_CLASSES). n may be NULL (no t2s). Returns rows
 * read or -1 with err. */
long cls_data_load(cls_dataset_t *d, const char *path, const cls_norm_t *n, char *err, size_t errlen);
/* Add one row (text normalised here); returns its class or -1 if full. */
int cls_data_add(cls_dataset_t *d, const char *label, const char *text, size_t len, const cls_norm_t *n);
int cls_data_class(cls_dataset_t *d, const char *label, int add);
/* Give d row weights (d->wt), all 1 so far; rows added later get 1 too. */
void cls_data_weights(cls_dataset_t *d);
void cls_data_free(cls_dataset_t *d);
/* Stratified: fold[i] in 0..folds-1 for every row, each class spread evenly,
 * deterministic for the seed. */
void cls_data_folds(const cls_dataset_t *d, int folds, uint64_t seed, int *fold);

double cls_macro_f1(const cls_confusion_t *c);
double cls_accuracy(const cls_confusion_t *c);
/* precision, recall, F1 of class i (0 when undefined) */
void cls_class_prf(const cls_confusion_t *c, int i, double *p, double *r, double *f);

#endif
