/* jiesu-classifier -- takes received orders, decides type, topic,
 * disposition and urgency (cls_classify), stores the transition, and hands
 * dispatchable orders to the dispatcher. `--evaluate FILE.tsv` scores the
 * model offline instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls.h"
#include "service.h"
#include "stage.h"

static const js_conf_def_t classifier_keys[] = {
    {"classifier.bind", "tcp://127.0.0.1:7011", "PULL endpoint(s) for received orders"},
    {"dispatcher.connect", "tcp://127.0.0.1:7012", "dispatcher PULL endpoint(s), comma-separated"},
    {"classifier.model_dir", "config/classifier", "model, rules and knowledge base"},
    {"classifier.threshold", "-1", "topic probability below which an order goes to the manual queue (-1: rules.tsv's)"},
    {"classifier.type_threshold", "-1", "type probability below which the type is marked unsure for an operator to confirm (the order goes on; -1: rules.tsv's)"},
    {NULL, NULL, NULL},
};

typedef struct classifier {
    js_svc_t svc;
    js_stage_t *stage;
    cls_engine_t *engine;
    uint64_t *c_by_disposition[16];
} classifier_t;

typedef struct outcome {
    int stage;
    const char *event;
    bool forward, redrive;
} outcome_t;

/* What each disposition does to the order (DOMAIN.md 分类处置). */
static outcome_t outcome_of(int disposition, int manual) {
    if (manual) return (outcome_t){JIESU__V1__STAGE__STAGE_MANUAL, "jiesu.order.manual", false, false};
    switch (disposition) {
    case JIESU__V1__DISPOSITION__DISPOSITION_EMERGENCY:
        return (outcome_t){JIESU__V1__STAGE__STAGE_TRANSFERRED, "jiesu.order.transferred", false, false};
    case JIESU__V1__DISPOSITION__DISPOSITION_LEGAL_PROCEDURE:
    case JIESU__V1__DISPOSITION__DISPOSITION_UNLAWFUL:
    case JIESU__V1__DISPOSITION__DISPOSITION_OUT_OF_SCOPE:
    case JIESU__V1__DISPOSITION__DISPOSITION_ANSWERED:
    case JIESU__V1__DISPOSITION__DISPOSITION_DUPLICATE:
        return (outcome_t){JIESU__V1__STAGE__STAGE_CLOSED, "jiesu.order.closed", false, false};
    default: /* dispatch, consultation, partner: the dispatcher decides how */
        return (outcome_t){JIESU__V1__STAGE__STAGE_CLASSIFIED, "jiesu.order.classified", true, true};
    }
}

static int decide(void *arg, js_arena_t *a, Jiesu__V1__Order *o, int64_t now, js_stage_result_t *res) {
    JS_UNUSED(now);
    classifier_t *c = arg;
    cls_result_t r;
    /* The title often says the most: classify title and content together. */
    const char *text = o->content;
    if (o->title && *o->title) text = js_arena_printf(a, "%s %s", o->title, o->content);
    cls_classify(c->engine, text, strlen(text), &r);
    if (*o->duplicate_of && r.disposition != JIESU__V1__DISPOSITION__DISPOSITION_EMERGENCY &&
        r.disposition != JIESU__V1__DISPOSITION__DISPOSITION_LEGAL_PROCEDURE) {
        /* intake found the requester's earlier order of the same matter (DOMAIN.md 分类处置: tell its
         * progress or result, link, close); an emergency or a legal procedure still goes its own way */
        r.disposition = JIESU__V1__DISPOSITION__DISPOSITION_DUPLICATE;
        r.manual = r.type_unsure = 0;
        snprintf(r.rule, sizeof r.rule, "same_matter");
        snprintf(r.reason, sizeof r.reason,
                 "same matter as order %.40s (same requester): told its progress or result, linked and closed",
                 o->duplicate_of);
    }

    Jiesu__V1__Classification *k = js_arena_alloc(a, sizeof *k);
    jiesu__v1__classification__init(k);
    k->type = (Jiesu__V1__OrderType)r.type;
    k->topic = js_arena_strdup(a, r.topic);
    k->disposition = (Jiesu__V1__Disposition)r.disposition;
    k->urgency = (Jiesu__V1__Urgency)r.urgency;
    k->type_confidence = r.type_conf;
    k->topic_confidence = r.topic_conf;
    k->rule = js_arena_strdup(a, r.rule);
    k->reason = js_arena_strdup(a, r.reason);
    k->manual = r.manual != 0;
    k->type_unsure = r.type_unsure != 0;
    o->classification = k;
    o->type = k->type;
    o->topic = k->topic;
    o->disposition = k->disposition;
    o->urgency = k->urgency;

    outcome_t out = outcome_of(r.disposition, r.manual);
    if (out.stage == JIESU__V1__STAGE__STAGE_CLOSED || out.stage == JIESU__V1__STAGE__STAGE_TRANSFERRED)
        o->close_reason = k->reason;
    res->new_stage = out.stage;
    res->event_type = out.event;
    res->forward = out.forward;
    res->redrive = out.redrive;
    res->note = *k->reason ? k->reason : NULL;
    if (r.disposition >= 0 && r.disposition < 16) (*c->c_by_disposition[r.disposition])++;
    return 0;
}

/* The engine as the keys say: models, rules and knowledge base of
 * classifier.model_dir, thresholds applied. NULL with err. */
static cls_engine_t *engine_load(js_svc_t *svc, char *err, size_t errlen) {
    cls_engine_t *e = cls_engine_load(js_conf_str(svc->conf, "classifier.model_dir"), err, errlen);
    if (e)
        cls_engine_set_thresholds(e, js_conf_double(svc->conf, "classifier.threshold"),
                                  js_conf_double(svc->conf, "classifier.type_threshold"));
    return e;
}

/* SIGHUP: read models, rules and knowledge base again (an operator retrained with corrections, or edited
 * rules.tsv or kb.tsv). A file that does not load is refused and the engine in use stays; decide() runs
 * on this loop, so the swap needs no lock. */
static void on_reload(js_svc_t *svc, void *arg) {
    classifier_t *c = arg;
    char err[512];
    cls_engine_t *e = engine_load(svc, err, sizeof err);
    if (!e) {
        js_log(JS_LOG_ERROR, NULL, NULL, "reload refused, the models and rules in use stay: %s", err);
        return;
    }
    cls_engine_free(&c->engine);
    c->engine = e;
    js_log(JS_LOG_INFO, NULL, NULL, "models, rules and knowledge base reloaded from %s",
           js_conf_str(svc->conf, "classifier.model_dir"));
}

static void on_store_up(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    js_stage_on_store_up(((classifier_t *)arg)->stage);
}

static void on_stop(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    js_stage_stop(((classifier_t *)arg)->stage);
}

static void on_close(js_svc_t *svc, void *arg) {
    JS_UNUSED(svc);
    js_stage_close(&((classifier_t *)arg)->stage);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--evaluate") == 0) return cls_evaluate_main(argc, argv);

    static classifier_t c;
    int rc = js_svc_init(&c.svc, "classifier", "[--key value ...] | --evaluate FILE.tsv [--model MODEL]",
                         classifier_keys, argc, argv);
    if (rc == JS_CONF_EXIT) return 0;
    if (rc < 0) return 1;
    js_svc_t *svc = &c.svc;
    char err[512];
    double tt = js_conf_double(svc->conf, "classifier.threshold"), yt = js_conf_double(svc->conf, "classifier.type_threshold");
    if (tt > 1 || yt > 1) {
        fprintf(stderr, "jiesu-classifier: classifier.threshold and classifier.type_threshold are probabilities (0..1, or -1)\n");
        return 1;
    }
    c.engine = engine_load(svc, err, sizeof err);
    if (!c.engine) {
        fprintf(stderr, "jiesu-classifier: classifier.model_dir: %s\n", err);
        return 1;
    }
    for (int i = 0; i < 16; i++) {
        char name[48];
        snprintf(name, sizeof name, "disposition_%d", i);
        c.c_by_disposition[i] = js_metrics_counter(svc->metrics, name);
    }
    js_stage_opts_t so = {
        .stage = JIESU__V1__STAGE__STAGE_RECEIVED,
        .bind = js_conf_str(svc->conf, "classifier.bind"),
        .next = js_conf_str(svc->conf, "dispatcher.connect"),
        .decide = decide,
        .arg = &c,
    };
    int e = 0;
    c.stage = js_stage_new(svc, &so, &e);
    if (!c.stage) return 1;
    svc->on_store_up = on_store_up;
    svc->on_stop = on_stop;
    svc->on_close = on_close;
    svc->on_reload = on_reload;
    svc->hook_arg = &c;
    rc = js_svc_run(svc);
    cls_engine_free(&c.engine);
    return rc;
}
