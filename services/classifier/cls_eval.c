/* cls_eval.c -- jiesu-classifier --evaluate, and the classifier's bench.
 *
 * Both read a labelled TSV (`label<TAB>text`, texts with or without blanks)
 * and print one JSON line, so scripts compare runs without parsing prose. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cls.h"
#include "cls_data.h"
#include "cls_model.h"
#include "cls_normalize.h"
#include "jsdefs.h"

#define DEFAULT_MODEL "config/classifier/topic.model"
#define DEFAULT_DIR "config/classifier"
#define DEFAULT_BENCH_DATA "tests/data/topics-sample.tsv"
#define BENCH_MIN_MS 1500 /* time the bench runs at least, for a steady rate */

static void s_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

/* The raw texts of a labelled file, for timing the whole path from bytes. */
typedef struct raw {
    char **text;
    size_t *len;
    char **label;
    size_t n;
} raw_t;

static int s_read_raw(const char *path, raw_t *r) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t l;
    long lineno = 0;
    memset(r, 0, sizeof *r);
    while ((l = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab || (lineno == 1 && strncmp(line, "label\t", 6) == 0)) continue;
        *tab = '\0';
        if (r->n == alloc) {
            alloc = alloc ? alloc * 2 : 256;
            r->text = js_realloc(r->text, alloc * sizeof *r->text);
            r->len = js_realloc(r->len, alloc * sizeof *r->len);
            r->label = js_realloc(r->label, alloc * sizeof *r->label);
        }
        r->label[r->n] = js_strdup(line);
        r->text[r->n] = js_strdup(tab + 1);
        r->len[r->n] = (size_t)(line + l - tab - 1);
        r->n++;
    }
    free(line);
    fclose(f);
    return 0;
}

static void s_free_raw(raw_t *r) {
    for (size_t i = 0; i < r->n; i++) free(r->text[i]), free(r->label[i]);
    free(r->text), free(r->len), free(r->label);
    memset(r, 0, sizeof *r);
}

static void s_print_report(FILE *f, const cls_confusion_t *cm, const char (*label)[CLS_LABEL_MAX], size_t n,
                           size_t unknown, double rate, double threshold, size_t covered, double sure_precision) {
    double mp = 0;
    for (int c = 0; c < cm->k; c++) {
        double p, r, f1;
        cls_class_prf(cm, c, &p, &r, &f1);
        mp += p / cm->k;
    }
    fprintf(f, "{\"rows\":%zu,\"unknown_labels\":%zu,\"accuracy\":%.4f,\"macro_f1\":%.4f,\"macro_precision\":%.4f,"
               "\"classes\":{",
            n, unknown, cls_accuracy(cm), cls_macro_f1(cm), mp);
    for (int c = 0; c < cm->k; c++) {
        double p, r, f1;
        uint32_t support = 0;
        for (int j = 0; j < cm->k; j++) support += cm->m[c][j];
        cls_class_prf(cm, c, &p, &r, &f1);
        if (c) fputc(',', f);
        s_json_str(f, label[c]);
        fprintf(f, ":{\"precision\":%.4f,\"recall\":%.4f,\"f1\":%.4f,\"support\":%u}", p, r, f1, support);
    }
    fprintf(f, "},\"labels\":[");
    for (int c = 0; c < cm->k; c++) {
        if (c) fputc(',', f);
        s_json_str(f, label[c]);
    }
    fprintf(f, "],\"confusion\":[");
    for (int a = 0; a < cm->k; a++) {
        fprintf(f, "%s[", a ? "," : "");
        for (int b = 0; b < cm->k; b++) fprintf(f, "%s%u", b ? "," : "", cm->m[a][b]);
        fputc(']', f);
    }
    fprintf(f, "],\"threshold\":%.2f,\"covered\":%zu,\"precision_at_threshold\":%.4f,\"msgs_per_s\":%.0f}\n",
            threshold, covered, sure_precision, rate);
}

/* The least threshold whose decisions (conf >= t, rows with use[i] set) reach
 * precision >= want, keeping the most of them; 2.0 (none) if no threshold does. */
static double s_fit_threshold(const float *conf, const int *ok, const unsigned char *use, size_t n, double want) {
    double best_t = 2.0;
    size_t best_cov = 0;
    for (size_t j = 0; j < n; j++) { /* each row's confidence is a candidate */
        if (!use[j]) continue;
        size_t cov = 0, good = 0;
        for (size_t i = 0; i < n; i++)
            if (use[i] && conf[i] >= conf[j]) cov++, good += (size_t)ok[i];
        if (cov && (double)good >= want * (double)cov && (cov > best_cov || (cov == best_cov && conf[j] < best_t)))
            best_cov = cov, best_t = conf[j];
    }
    return best_t;
}

/* 1 if label names an order type (the hand-checked type set) rather than a topic. */
static int s_is_type_label(const char *label) {
    static const char *const types[] = {"consultation", "help", "complaint", "report", "suggestion"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(label, types[i]) == 0) return 1;
    return 0;
}

int cls_evaluate_main(int argc, char **argv) {
    const char *file = NULL, *model = DEFAULT_MODEL, *dump = NULL, *engine_dir = NULL;
    double threshold = 0, want = 0;
    int model_given = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--evaluate") == 0 && i + 1 < argc) file = argv[++i];
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i], model_given = 1;
        else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc) threshold = atof(argv[++i]);
        else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) dump = argv[++i];
        else if (strcmp(argv[i], "--target-precision") == 0 && i + 1 < argc) want = atof(argv[++i]);
        else if (strcmp(argv[i], "--engine") == 0 && i + 1 < argc) engine_dir = argv[++i];
        else {
            fprintf(stderr, "usage: jiesu-classifier --evaluate FILE.tsv [--model MODEL] [--threshold P] [--dump OUT.tsv]\n"
                            "         [--target-precision P] [--engine DIR]\n");
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: jiesu-classifier --evaluate FILE.tsv [--model MODEL]\n");
        return 2;
    }
    char err[512], tpath[4096];
    raw_t r;
    if (s_read_raw(file, &r) < 0 || r.n == 0) {
        fprintf(stderr, "jiesu-classifier: %s: cannot read labelled rows\n", file);
        return 1;
    }
    if (!model_given) { /* the model of --engine's directory (or the shipped one) that the labels name */
        snprintf(tpath, sizeof tpath, "%s/%s", engine_dir ? engine_dir : DEFAULT_DIR,
                 s_is_type_label(r.label[0]) ? "type.model" : "topic.model");
        model = tpath;
    }
    cls_model_t *m = cls_model_load(model, err, sizeof err);
    if (!m) {
        fprintf(stderr, "jiesu-classifier: %s\n", err);
        s_free_raw(&r);
        return 1;
    }
    cls_norm_t *norm = cls_norm_new("t2s.json", err, sizeof err);
    if (!norm) {
        fprintf(stderr, "jiesu-classifier: %s\n", err);
        s_free_raw(&r);
        cls_model_free(&m);
        return 1;
    }
    int k = cls_model_classes(m);
    cls_confusion_t cm = {.k = k};
    char label[CLS_MAX_CLASSES][CLS_LABEL_MAX];
    for (int c = 0; c < k; c++) snprintf(label[c], sizeof label[c], "%s", cls_model_label(m, c));
    size_t unknown = 0, bufcap = 0;
    char *buf = NULL;
    cls_fvec_t v;
    cls_fvec_init(&v);
    int *pred = js_malloc(r.n * sizeof *pred);
    float *conf = js_malloc(r.n * sizeof *conf);
    /* --engine DIR: the whole decision (cls_classify, with its rules) instead of the model alone; the
     * model (of DIR, or --model) names the classes: topics, or types */
    cls_engine_t *eng = NULL;
    if (engine_dir && !(eng = cls_engine_load(engine_dir, err, sizeof err))) {
        fprintf(stderr, "jiesu-classifier: %s\n", err);
        return 1;
    }
    int is_type = cls_model_class_of(m, "complaint") >= 0;
    static const char *const tnames[] = {"", "consultation", "help", "complaint", "report", "suggestion"};
    int64_t t0 = js_mono_us();
    for (size_t i = 0; i < r.n; i++) {
        if (eng) {
            cls_result_t res;
            cls_classify(eng, r.text[i], r.len[i], &res);
            int c = cls_model_class_of(m, is_type ? tnames[res.type >= 1 && res.type <= 5 ? res.type : 0] : res.topic);
            pred[i] = c >= 0 ? c : 0;
            conf[i] = c >= 0 ? (is_type ? res.type_conf : res.topic_conf) : 0;
            continue;
        }
        size_t need = (r.len[i] < CLS_NORM_MAX_IN ? r.len[i] : CLS_NORM_MAX_IN) + 1;
        if (need > bufcap) buf = js_realloc(buf, bufcap = need);
        size_t l = cls_normalize(norm, r.text[i], r.len[i], buf, bufcap, CLS_NORM_DROP_SPACE, NULL);
        pred[i] = cls_model_predict(m, buf, l, &v, NULL, &conf[i]);
    }
    int64_t us = js_mono_us() - t0;
    cls_engine_free(&eng);
    /* decisions at or above the threshold are the machine's; the rest would go to an operator */
    cls_confusion_t sure = {.k = k};
    size_t covered = 0;
    for (size_t i = 0; i < r.n; i++) {
        int truth = cls_model_class_of(m, r.label[i]);
        if (truth < 0) {
            unknown++;
            continue;
        }
        cm.m[truth][pred[i]]++;
        if (conf[i] >= threshold) sure.m[truth][pred[i]]++, covered++;
    }
    if (want > 0 && want <= 1) {
        /* the threshold an operator would configure for this precision, and an honest
         * estimate of what it gives: fitted on odd rows, applied to even ones, and back */
        int *ok = js_malloc(r.n * sizeof *ok);
        unsigned char *use = js_malloc(r.n);
        for (size_t i = 0; i < r.n; i++) ok[i] = cls_model_class_of(m, r.label[i]) == pred[i], use[i] = 1;
        double t_all = s_fit_threshold(conf, ok, use, r.n, want);
        size_t cov = 0, good = 0;
        for (int half = 0; half < 2; half++) {
            for (size_t i = 0; i < r.n; i++) use[i] = (i % 2) != (size_t)half;
            double t = s_fit_threshold(conf, ok, use, r.n, want);
            for (size_t i = 0; i < r.n; i++)
                if (!use[i] && conf[i] >= t) cov++, good += (size_t)ok[i];
        }
        fprintf(stderr,
                "jiesu-classifier: precision >= %.2f: threshold %.4f on all rows; fitted on one half, applied to "
                "the other: covers %zu of %zu at precision %.4f\n",
                want, t_all, cov, r.n, cov ? (double)good / (double)cov : 0.0);
        free(ok), free(use);
    }
    FILE *df = dump ? fopen(dump, "w") : NULL;
    if (dump && !df) fprintf(stderr, "jiesu-classifier: %s: cannot write\n", dump);
    if (df) { /* one row per text: what an error analysis needs */
        fprintf(df, "label\tpredicted\tprobability\ttext\n");
        for (size_t i = 0; i < r.n; i++)
            fprintf(df, "%s\t%s\t%.4f\t%s\n", r.label[i], label[pred[i]], conf[i], r.text[i]);
        fclose(df);
    }
    s_print_report(stdout, &cm, (const char(*)[CLS_LABEL_MAX])label, r.n, unknown,
                   us > 0 ? (double)r.n * 1e6 / (double)us : 0, threshold, covered, cls_accuracy(&sure));
    free(conf);
    free(pred);
    free(buf);
    cls_fvec_free(&v);
    s_free_raw(&r);
    cls_norm_destroy(&norm);
    cls_model_free(&m);
    return 0;
}

/* CPU time of this thread: on a shared box the wall clock counts other
 * people's work, and "messages per second on one core" is per CPU second. */
static int64_t s_cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double s_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double mb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) mb = atof(line + 6) / 1024.0;
    if (f) fclose(f);
    return mb;
}

static size_t s_file_bytes(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

int cls_bench_main(int argc, char **argv) {
    const char *data = DEFAULT_BENCH_DATA, *dir = DEFAULT_DIR;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) data = argv[++i];
        else if ((strcmp(argv[i], "--model-dir") == 0 || strcmp(argv[i], "--dir") == 0) && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: classifier [--data FILE.tsv] [--model-dir DIR]\n");
            return 2;
        }
    }
    char err[512];
    cls_engine_t *e = cls_engine_load(dir, err, sizeof err);
    if (!e) {
        fprintf(stderr, "bench classifier: %s\n", err);
        return 1;
    }
    raw_t r;
    if (s_read_raw(data, &r) < 0 || r.n == 0) {
        fprintf(stderr, "bench classifier: %s: cannot read labelled rows\n", data);
        cls_engine_free(&e);
        return 1;
    }
    /* one pass for the score (a topic outside the file's labels counts in an
     * extra column), then whole passes until the clock says enough */
    cls_result_t res;
    cls_dataset_t lab = {0};
    for (size_t i = 0; i < r.n; i++) cls_data_class(&lab, r.label[i], 1);
    int k = lab.k;
    cls_confusion_t cm = {0};
    for (size_t i = 0; i < r.n; i++) {
        cls_classify(e, r.text[i], r.len[i], &res);
        int t = cls_data_class(&lab, r.label[i], 0), p = cls_data_class(&lab, res.topic, 0);
        if (t < 0) continue;
        cm.m[t][p < 0 ? (k < CLS_MAX_CLASSES ? k : 0) : p]++;
    }
    cm.k = k < CLS_MAX_CLASSES ? k + 1 : k;
    size_t done = 0;
    int64_t t0 = js_mono_us(), c0 = s_cpu_us(), us, cpu;
    do {
        for (size_t i = 0; i < r.n; i++) cls_classify(e, r.text[i], r.len[i], &res);
        done += r.n;
        us = js_mono_us() - t0;
    } while (us < BENCH_MIN_MS * 1000);
    cpu = s_cpu_us() - c0;
    if (cpu <= 0) cpu = us;
    size_t tb = 0;
    for (size_t i = 0; i < r.n; i++) tb += r.len[i];
    size_t bytes = s_file_bytes(dir, "topic.model") + s_file_bytes(dir, "type.model");
    printf("{\"bench\":\"classifier\",\"msgs_per_s\":%.0f,\"model_bytes\":%zu,\"rss_mb\":%.1f,\"macro_f1\":%.4f,"
           "\"wall_msgs_per_s\":%.0f,\"rows\":%zu,\"mean_bytes\":%zu}\n",
           (double)done * 1e6 / (double)cpu, bytes, s_rss_mb(), cls_macro_f1(&cm), (double)done * 1e6 / (double)us,
           r.n, r.n ? tb / r.n : 0);
    s_free_raw(&r);
    cls_engine_free(&e);
    return 0;
}
