/* cls_eval.c -- offline evaluation and the classifier benchmark. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cls.h"
#include "jsdefs.h"

typedef struct tsv {
    char **labels, **texts;
    size_t n;
} tsv_t;

/* `label\ttext` lines; a first line "label\ttext" is a header. */
static int s_load_tsv(const char *path, tsv_t *t, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    memset(t, 0, sizeof *t);
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab || tab == line) continue;
        *tab = '\0';
        if (t->n == 0 && strcmp(line, "label") == 0) continue;
        if (t->n == cap) {
            cap = cap ? cap * 2 : 1024;
            t->labels = js_realloc(t->labels, cap * sizeof *t->labels);
            t->texts = js_realloc(t->texts, cap * sizeof *t->texts);
        }
        t->labels[t->n] = js_strdup(line);
        t->texts[t->n] = js_strdup(tab + 1);
        t->n++;
    }
    free(line);
    fclose(f);
    if (!t->n) {
        snprintf(err, errlen, "%s: no `label<TAB>text` lines", path);
        return -1;
    }
    return 0;
}

static void s_free_tsv(tsv_t *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->labels[i]);
        free(t->texts[i]);
    }
    free(t->labels);
    free(t->texts);
}

static const char *s_opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static double s_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

int cls_evaluate_main(int argc, char **argv) {
    const char *data = s_opt(argc, argv, "--evaluate", NULL);
    const char *model_path = s_opt(argc, argv, "--model", "config/classifier/topic.model");
    if (!data) {
        fprintf(stderr, "usage: jiesu-classifier --evaluate FILE.tsv [--model MODEL]\n");
        return 1;
    }
    char err[512];
    tsv_t t;
    cls_model_t *m = cls_model_load(model_path, err, sizeof err);
    if (!m || s_load_tsv(data, &t, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-classifier: %s\n", err);
        cls_model_free(&m);
        return 1;
    }
    int K = cls_model_classes(m);
    size_t *conf = js_calloc((size_t)(K + 1) * (size_t)(K + 1), sizeof *conf); /* row: truth (K = unknown label) */
    char *norm = js_malloc(CLS_MAX_TEXT + 8);
    int64_t t0 = js_mono_us();
    size_t correct = 0;
    for (size_t i = 0; i < t.n; i++) {
        size_t len = cls_normalize(t.texts[i], strlen(t.texts[i]), norm, CLS_MAX_TEXT + 8, NULL);
        int p = cls_model_predict(m, norm, len, NULL);
        int truth = K;
        for (int k = 0; k < K; k++)
            if (strcmp(cls_model_label(m, k), t.labels[i]) == 0) truth = k;
        conf[(size_t)truth * (size_t)(K + 1) + (size_t)p]++;
        correct += truth == p;
    }
    double secs = (double)(js_mono_us() - t0) / 1e6;
    json_t *o = json_object(), *per = json_object(), *cm = json_array(), *labels = json_array();
    double f1sum = 0;
    for (int k = 0; k < K; k++) {
        size_t tp = conf[(size_t)k * (size_t)(K + 1) + (size_t)k], fp = 0, fn = 0;
        for (int j = 0; j <= K; j++) {
            if (j != k) fp += conf[(size_t)j * (size_t)(K + 1) + (size_t)k];
            if (j != k) fn += conf[(size_t)k * (size_t)(K + 1) + (size_t)j];
        }
        double pr = tp + fp ? (double)tp / (double)(tp + fp) : 0, rc = tp + fn ? (double)tp / (double)(tp + fn) : 0;
        double f1 = pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0;
        f1sum += f1;
        json_t *c = json_object();
        json_object_set_new(c, "precision", json_real(pr));
        json_object_set_new(c, "recall", json_real(rc));
        json_object_set_new(c, "f1", json_real(f1));
        json_object_set_new(c, "support", json_integer((json_int_t)(tp + fn)));
        json_object_set_new(per, cls_model_label(m, k), c);
        json_array_append_new(labels, json_string(cls_model_label(m, k)));
        json_t *row = json_array();
        for (int j = 0; j < K; j++) json_array_append_new(row, json_integer((json_int_t)conf[(size_t)k * (size_t)(K + 1) + (size_t)j]));
        json_array_append_new(cm, row);
    }
    json_object_set_new(o, "messages", json_integer((json_int_t)t.n));
    json_object_set_new(o, "accuracy", json_real((double)correct / (double)t.n));
    json_object_set_new(o, "macro_f1", json_real(f1sum / K));
    json_object_set_new(o, "per_class", per);
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "confusion", cm);
    json_object_set_new(o, "msgs_per_s", json_real(secs > 0 ? (double)t.n / secs : 0));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(4));
    printf("%s\n", s);
    free(s);
    json_decref(o);
    free(norm);
    free(conf);
    s_free_tsv(&t);
    cls_model_free(&m);
    return 0;
}

int cls_bench_main(int argc, char **argv) {
    const char *dir = s_opt(argc, argv, "--model-dir", "config/classifier");
    const char *data = s_opt(argc, argv, "--data", "tests/data/topics-sample.tsv");
    long rounds = atol(s_opt(argc, argv, "--rounds", "20"));
    char err[512];
    tsv_t t;
    cls_engine_t *e = cls_engine_load(dir, err, sizeof err);
    if (!e || s_load_tsv(data, &t, err, sizeof err) < 0) {
        fprintf(stderr, "jiesu-bench classifier: %s\n", err);
        cls_engine_free(&e);
        return 1;
    }
    /* Raw, unsegmented text as orders arrive: remove the training file's blanks. */
    for (size_t i = 0; i < t.n; i++) {
        char *w = t.texts[i];
        for (char *r = t.texts[i]; *r; r++)
            if (*r != ' ') *w++ = *r;
        *w = '\0';
    }
    cls_result_t res;
    size_t hits = 0, total = 0;
    int64_t t0 = js_mono_us();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < t.n; i++) {
            cls_classify(e, t.texts[i], strlen(t.texts[i]), &res);
            hits += r == 0 && strcmp(res.topic, t.labels[i]) == 0;
            total++;
        }
    }
    double secs = (double)(js_mono_us() - t0) / 1e6;
    char path[4096];
    snprintf(path, sizeof path, "%s/topic.model", dir);
    FILE *f = fopen(path, "rb");
    long bytes = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        bytes = ftell(f);
        fclose(f);
    }
    printf("{\"bench\":\"classifier\",\"messages\":%zu,\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"model_bytes\":%ld,"
           "\"rss_mb\":%.1f,\"sample_accuracy\":%.4f}\n",
           total, secs, secs > 0 ? (double)total / secs : 0, bytes, s_rss_mb(), (double)hits / (double)t.n);
    s_free_tsv(&t);
    cls_engine_free(&e);
    return 0;
}
