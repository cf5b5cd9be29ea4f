/* cmd_classify.c -- jiesuctl classify (an operator decides a manual order)
 * and jiesuctl corrections (the decisions as training rows). */
#include "cmd_classify.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/classifier/cls_model.h"
#include "ctl_json.h"
#include "envelope.h"
#include "ids.h"
#include "jsdefs.h"
#include "stage.h"

#define S_PAGE "500" /* XRANGE entries per round trip */

static const struct {
    const char *en, *zh;
} s_types[] = {
    /* jiesu.v1.OrderType 1..5, named as the type model's labels (tools/jiesu-train/cls_weak.c) */
    {"consultation", "咨询"}, {"help", "求助"}, {"complaint", "投诉"}, {"report", "举报"}, {"suggestion", "建议"},
};

int ctl_type_of(const char *name) {
    for (size_t i = 0; name && i < JS_ARRAY_LEN(s_types); i++)
        if (!strcmp(name, s_types[i].en) || !strcmp(name, s_types[i].zh)) return (int)i + 1;
    return 0;
}

const char *ctl_type_name(int type) {
    return type >= 1 && type <= (int)JS_ARRAY_LEN(s_types) ? s_types[type - 1].en : "";
}

int ctl_urgency_of(const char *name) {
    if (!name) return 0;
    if (!strcmp(name, "normal")) return JIESU__V1__URGENCY__URGENCY_NORMAL;
    if (!strcmp(name, "high")) return JIESU__V1__URGENCY__URGENCY_HIGH;
    if (!strcmp(name, "emergency")) return JIESU__V1__URGENCY__URGENCY_EMERGENCY;
    return 0;
}

int ctl_role_of(const char *name) {
    if (!name) return 0;
    if (!strcmp(name, "operator")) return JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR;
    if (!strcmp(name, "reviewer")) return JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER;
    if (!strcmp(name, "admin")) return JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_ADMIN;
    return 0;
}

static const char *s_role_name(int role) {
    switch (role) {
    case JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER: return "reviewer";
    case JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_ADMIN: return "admin";
    default: return "operator";
    }
}

static void s_classify_usage(FILE *f) {
    fprintf(f,
            "usage: jiesuctl classify ID --topic TOPIC --type TYPE [--urgency normal|high|emergency]\n"
            "         [--as operator|reviewer|admin] [--name LOGIN] [--reason TEXT]\n"
            "Decides an order waiting in the manual queue (stage manual): TOPIC is a first-level topic\n"
            "(a label of classifier.model_dir/topic.model), TYPE consultation|help|complaint|report|suggestion\n"
            "(or 咨询|求助|投诉|举报|建议). The order moves to stage classified and the dispatcher takes it at\n"
            "once; the correction is kept in " CTL_CORRECTIONS_KEY " for jiesu-train (jiesuctl corrections).\n"
            "An order in any other stage is refused. Prints {\"id\",\"stage\",\"version\",\"topic\",\"type\"}.\n");
}

int ctl_classify_parse(int argc, char **argv, const char *const *topics, int k, ctl_classify_args_t *a, FILE *help,
                       char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    a->role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR;
    const char *type = NULL, *urgency = NULL, *role = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            s_classify_usage(help);
            return 1;
        }
        const char **slot = !strcmp(o, "--topic")     ? &a->topic
                            : !strcmp(o, "--type")    ? &type
                            : !strcmp(o, "--urgency") ? &urgency
                            : !strcmp(o, "--as")      ? &role
                            : !strcmp(o, "--name")    ? &a->name
                            : !strcmp(o, "--reason")  ? &a->reason
                                                      : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "classify: %s needs a value", o);
                return -EINVAL;
            }
            *slot = argv[++i];
        } else if (o[0] == '-') {
            snprintf(err, errlen, "classify: unknown option '%s' (see classify --help)", o);
            return -EINVAL;
        } else if (a->id) {
            snprintf(err, errlen, "classify: takes one order ID (see classify --help)");
            return -EINVAL;
        } else {
            a->id = o;
        }
    }
    if (!a->id || !a->topic || !type) {
        snprintf(err, errlen, "classify: needs ID, --topic and --type (see classify --help)");
        return -EINVAL;
    }
    if (!(a->type = ctl_type_of(type))) {
        snprintf(err, errlen, "classify: unknown type '%s' (consultation, help, complaint, report, suggestion)", type);
        return -EINVAL;
    }
    if (urgency && !(a->urgency = ctl_urgency_of(urgency))) {
        snprintf(err, errlen, "classify: unknown urgency '%s' (normal, high, emergency)", urgency);
        return -EINVAL;
    }
    if (role && !(a->role = ctl_role_of(role))) {
        snprintf(err, errlen, "classify: --as wants operator, reviewer or admin, not '%s'", role);
        return -EINVAL;
    }
    if (k > 0) {
        int found = 0;
        size_t used = 0;
        char list[512] = "";
        for (int c = 0; c < k; c++) {
            found |= !strcmp(a->topic, topics[c]);
            used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s", c ? ", " : "",
                                     topics[c]);
            if (used >= sizeof list) used = sizeof list - 1;
        }
        if (!found) {
            snprintf(err, errlen, "classify: unknown topic '%s' (one of: %s)", a->topic, list);
            return -EINVAL;
        }
    }
    if (a->name && !*a->name) a->name = NULL;
    if (!a->name) a->name = getenv("USER");
    if (!a->name || !*a->name) a->name = "operator";
    return 0;
}

void ctl_classify_apply(js_arena_t *a, Jiesu__V1__Order *o, const ctl_classify_args_t *args, const char *event_type,
                        const char *event_id, int64_t now_ms, ctl_correction_t *c) {
    const Jiesu__V1__Classification *old = o->classification;
    c->m_topic = old && old->topic ? old->topic : (o->topic ? o->topic : "");
    c->m_type = ctl_type_name(old ? (int)old->type : (int)o->type);
    /* the classifier reads "title content" (services/classifier/main.c) */
    const char *content = o->content ? o->content : "";
    c->text = o->title && *o->title ? js_arena_printf(a, "%s %s", o->title, content) : content;
    c->topic = args->topic;
    c->type = ctl_type_name(args->type);
    c->by = js_arena_printf(a, "%s:%s", s_role_name(args->role), args->name);

    Jiesu__V1__Actor *who = js_arena_alloc(a, sizeof *who);
    jiesu__v1__actor__init(who);
    who->role = (Jiesu__V1__ActorRole)args->role;
    who->name = js_arena_strdup(a, args->name);

    Jiesu__V1__Classification *k = js_arena_alloc(a, sizeof *k);
    jiesu__v1__classification__init(k);
    if (old) *k = *old; /* keep the rule, reason and model version the operator saw */
    k->topic = js_arena_strdup(a, args->topic);
    k->type = (Jiesu__V1__OrderType)args->type;
    k->topic_confidence = 1.0f;
    k->type_confidence = 1.0f;
    k->urgency = args->urgency ? (Jiesu__V1__Urgency)args->urgency
                 : old && old->urgency ? old->urgency
                 : o->urgency          ? o->urgency
                                       : JIESU__V1__URGENCY__URGENCY_NORMAL;
    /* the operator sends it on: a disposition the dispatcher handles stays, any other becomes dispatch */
    if (k->disposition != JIESU__V1__DISPOSITION__DISPOSITION_CONSULTATION &&
        k->disposition != JIESU__V1__DISPOSITION__DISPOSITION_PARTNER)
        k->disposition = JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH;
    k->manual = false;
    k->decided_by = who;
    k->reason = args->reason && *args->reason ? js_arena_printf(a, "classified by %s: %s", c->by, args->reason)
                                              : js_arena_printf(a, "classified by %s", c->by);
    o->classification = k;
    o->topic = k->topic;
    o->type = k->type;
    o->urgency = k->urgency;
    o->disposition = k->disposition;
    o->close_reason = NULL;
    o->stage = JIESU__V1__STAGE__STAGE_CLASSIFIED;
    o->version++;

    Jiesu__V1__HistoryEntry *h = js_arena_alloc(a, sizeof *h);
    jiesu__v1__history_entry__init(h);
    h->type = js_arena_strdup(a, event_type);
    h->time_ms = now_ms;
    h->event_id = js_arena_strdup(a, event_id);
    h->actor = who;
    h->note = k->reason;
    Jiesu__V1__HistoryEntry **hs = js_arena_alloc(a, (o->n_history + 1) * sizeof *hs);
    if (o->n_history) memcpy(hs, o->history, o->n_history * sizeof *hs);
    hs[o->n_history++] = h;
    o->history = hs;
}

int ctl_correction_row(FILE *out, const char *label, const char *text) {
    if (!label || !*label || !text) return 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) return 0;
    fputs(label, out);
    fputc('\t', out);
    for (; *p; p++) fputc(*p < 0x20 || *p == 0x7F ? ' ' : *p, out);
    fputc('\n', out);
    return 1;
}

/* ---- Redis ------------------------------------------------------------------- */

/* One compact JSON line on stdout (keys in insertion order), then j is released. */
static void s_print(json_t *j) {
    ctl_print(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
}

static const char *s_rerr(redisContext *r, const redisReply *rep) {
    if (!rep) return r->errstr[0] ? r->errstr : "no answer";
    if (rep->type == REDIS_REPLY_ERROR) return rep->str;
    return "unexpected answer";
}

int cmd_classify(redisContext *r, int argc, char **argv, const char *model_dir, const char *source,
                 int64_t events_maxlen, int64_t corrections_maxlen) {
    char labels[CLS_MAX_CLASSES][CLS_LABEL_MAX], err[1024], path[4096];
    const char *topics[CLS_MAX_CLASSES];
    int k = 0;
    ctl_classify_args_t a;
    for (int i = 1; i < argc; i++) /* --help needs no model */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return s_classify_usage(stdout), 0;
    snprintf(path, sizeof path, "%s/topic.model", model_dir);
    if (cls_model_file_labels(path, labels, &k, err, sizeof err) < 0)
        return ctl_fail("classify: cannot check the topic (classifier.model_dir): %s", err);
    for (int c = 0; c < k; c++) topics[c] = labels[c];
    int rc = ctl_classify_parse(argc, argv, topics, k, &a, stdout, err, sizeof err);
    if (rc == 1) return 0;
    if (rc < 0) return ctl_fail("%s", err);
    if (!r) return ctl_fail("classify: no Redis connection");

    char key[256];
    snprintf(key, sizeof key, "o:{%s}", a.id);
    const char *hv[] = {"HMGET", key, "stage", "v", "d"};
    redisReply *rep = redisCommandArgv(r, 5, hv, NULL);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
        rc = ctl_fail("classify: redis HMGET %s: %s", key, s_rerr(r, rep));
        if (rep) freeReplyObject(rep);
        return rc;
    }
    const redisReply *st = rep->element[0], *v = rep->element[1], *d = rep->element[2];
    if (st->type != REDIS_REPLY_STRING || d->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return ctl_fail("classify: no order %s", a.id);
    }
    int stage = atoi(st->str);
    int64_t version = strtoll(v->str, NULL, 10);
    js_arena_t *ar = js_arena_new(8192);
    Jiesu__V1__Order *o =
        jiesu__v1__order__unpack(js_arena_allocator(ar), d->len, (const uint8_t *)d->str);
    freeReplyObject(rep);
    if (!o) {
        js_arena_destroy(&ar);
        return ctl_fail("classify: order %s: field d does not decode as an Order", a.id);
    }
    /* An order already with its units keeps its topic (its units were decided on it): only an unsure type is
     * confirmed or corrected there, and the order stays where it is. */
    bool confirm = stage != JIESU__V1__STAGE__STAGE_MANUAL;
    if (confirm) {
        bool open = (stage >= JIESU__V1__STAGE__STAGE_DISPATCHED && stage <= JIESU__V1__STAGE__STAGE_CALLBACK) ||
                    stage == JIESU__V1__STAGE__STAGE_ESCALATED; /* as TYPE_CONFIRM_STAGES in functions.lua */
        bool unsure = o->classification && o->classification->type_unsure;
        if (!open || !unsure) {
            js_arena_destroy(&ar);
            return ctl_fail("classify: order %s is in stage %s, not manual: only orders in the manual queue are "
                          "classified by hand (an order with its units whose type is unsure may have its type "
                          "confirmed)",
                          a.id, js_stage_name(stage));
        }
        if (strcmp(o->topic ? o->topic : "", a.topic) != 0) {
            rc = ctl_fail("classify: order %s is with its units (stage %s): its topic stays %s; only its type "
                        "can be confirmed (give --topic %s)",
                        a.id, js_stage_name(stage), o->topic, o->topic);
            js_arena_destroy(&ar);
            return rc;
        }
    }
    const Jiesu__V1__Disposition kept_disposition = o->disposition;
    char *kept_close = o->close_reason;
    int64_t now = js_now_ms();
    char eid[JS_ID_LEN + 1];
    const char *etype = confirm ? "jiesu.order.type_confirmed" : "jiesu.order.classified";
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    js_env_init(&env, eid, etype, source, a.id, o->trace_id ? o->trace_id : "");
    env.time_ms = now;
    env.version = version + 1;
    o->version = version; /* the stored version is the truth */
    ctl_correction_t c;
    ctl_classify_apply(ar, o, &a, etype, eid, now, &c);
    if (confirm) {
        o->stage = (Jiesu__V1__Stage)stage;
        o->disposition = o->classification->disposition = kept_disposition;
        o->close_reason = kept_close;
    }
    o->classification->type_unsure = false;
    size_t blen = protobuf_c_message_get_packed_size(&o->base), elen;
    uint8_t *blob = js_arena_alloc(ar, blen ? blen : 1);
    protobuf_c_message_pack(&o->base, blob);
    uint8_t *ebuf = js_env_pack_with_order(ar, &env, blob, blen, &elen);

    char smax[24], sver[24], snow[24], scmax[24];
    snprintf(smax, sizeof smax, "%lld", (long long)events_maxlen);
    snprintf(sver, sizeof sver, "%lld", (long long)version);
    snprintf(snow, sizeof snow, "%lld", (long long)now);
    snprintf(scmax, sizeof scmax, "%lld", (long long)corrections_maxlen);
    const char *fv[] = {"FCALL", "jiesu_classify", "1", key, smax, a.id, sver, (const char *)blob, etype,
                        (const char *)ebuf, snow, scmax, c.topic, c.type, c.text, c.m_topic, c.m_type, c.by,
                        "type"};
    size_t fl[JS_ARRAY_LEN(fv)];
    for (size_t i = 0; i < JS_ARRAY_LEN(fv); i++) fl[i] = strlen(fv[i]);
    fl[7] = blen;
    fl[9] = elen;
    rep = redisCommandArgv(r, (int)JS_ARRAY_LEN(fv) - (confirm ? 0 : 1), fv, fl);
    rc = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->element[0]->type != REDIS_REPLY_INTEGER) {
        const char *why = s_rerr(r, rep);
        rc = strstr(why, "unction not found")
                 ? ctl_fail("classify: Redis has no function jiesu_classify: start a service of this version first "
                          "(it loads the library)")
                 : ctl_fail("classify: redis FCALL jiesu_classify: %s", why);
    } else if (rep->element[0]->integer == -1) {
        rc = ctl_fail("classify: no order %s", a.id);
    } else if (rep->element[0]->integer == 0 && rep->elements == 3) {
        long long ns = rep->element[1]->integer, nv = rep->element[2]->integer;
        rc = confirm && ns != stage
                 ? ctl_fail("classify: order %s moved to stage %s while its type was being confirmed: try again",
                          a.id, js_stage_name((int)ns))
             : !confirm && ns != JIESU__V1__STAGE__STAGE_MANUAL
                 ? ctl_fail("classify: order %s is in stage %s, not manual: only orders in the manual queue are "
                          "classified by hand",
                          a.id, js_stage_name((int)ns))
                 : ctl_fail("classify: order %s changed while it was being classified (version %lld, now %lld): "
                          "try again",
                          a.id, (long long)version, nv);
    } else if (rep->element[0]->integer == 1 && rep->elements == 2) {
        json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", a.id, "stage",
                              confirm ? js_stage_name(stage) : "classified", "version",
                              (json_int_t)rep->element[1]->integer, "topic", c.topic, "type", c.type);
        s_print(j);
    } else {
        rc = ctl_fail("classify: unexpected answer from jiesu_classify");
    }
    if (rep) freeReplyObject(rep);
    js_arena_destroy(&ar);
    return rc;
}

static void s_corrections_usage(FILE *f) {
    fprintf(f, "usage: jiesuctl corrections [--kind topic|type] [--out FILE]\n"
               "Writes the operators' classifications (the stream " CTL_CORRECTIONS_KEY
               ") as TSV with the header\n"
               "label<TAB>text, label = the topic (default) or the type, for jiesu-train --corrections FILE.\n"
               "To stdout, or to FILE (then prints {\"rows\":N,\"out\":FILE}).\n");
}

/* The value of field name in a stream entry's flat field list, or NULL. */
static const char *s_field(const redisReply *kv, const char *name) {
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (kv->element[i]->type == REDIS_REPLY_STRING && !strcmp(kv->element[i]->str, name) &&
            kv->element[i + 1]->type == REDIS_REPLY_STRING)
            return kv->element[i + 1]->str;
    return NULL;
}

int cmd_corrections(redisContext *r, int argc, char **argv) {
    const char *kind = "topic", *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return s_corrections_usage(stdout), 0;
        if ((!strcmp(o, "--kind") || !strcmp(o, "--out")) && i + 1 < argc) {
            *(!strcmp(o, "--kind") ? &kind : &out) = argv[++i];
        } else {
            return ctl_fail("corrections: unknown or incomplete option '%s' (see corrections --help)", o);
        }
    }
    if (strcmp(kind, "topic") && strcmp(kind, "type"))
        return ctl_fail("corrections: --kind wants topic or type, not '%s'", kind);
    if (!r) return ctl_fail("corrections: no Redis connection");
    char tmp[4096];
    FILE *f = stdout;
    if (out) {
        if (snprintf(tmp, sizeof tmp, "%s.tmp", out) >= (int)sizeof tmp) return ctl_fail("corrections: path too long");
        if (!(f = fopen(tmp, "w"))) return ctl_fail("corrections: %s: %s", tmp, strerror(errno));
    }
    fprintf(f, "label\ttext\n");
    long long rows = 0;
    char start[64] = "-";
    int rc = 0;
    for (;;) {
        const char *xv[] = {"XRANGE", CTL_CORRECTIONS_KEY, start, "+", "COUNT", S_PAGE};
        redisReply *rep = redisCommandArgv(r, 6, xv, NULL);
        if (!rep || rep->type != REDIS_REPLY_ARRAY) {
            rc = ctl_fail("corrections: redis XRANGE %s: %s", CTL_CORRECTIONS_KEY, s_rerr(r, rep));
            if (rep) freeReplyObject(rep);
            break;
        }
        size_t n = rep->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY) continue;
            rows += ctl_correction_row(f, s_field(e->element[1], kind), s_field(e->element[1], "text"));
            if (i + 1 == n && e->element[0]->type == REDIS_REPLY_STRING)
                snprintf(start, sizeof start, "(%s", e->element[0]->str); /* exclusive: after the last one */
        }
        freeReplyObject(rep);
        if (n < (size_t)atoi(S_PAGE)) break;
    }
    if (out) {
        int bad = fclose(f) != 0;
        if (!rc && bad) rc = ctl_fail("corrections: %s: %s", tmp, strerror(errno));
        if (!rc && rename(tmp, out) != 0) rc = ctl_fail("corrections: %s: %s", out, strerror(errno));
        if (rc) remove(tmp);
        else s_print(json_pack("{s:I,s:s}", "rows", (json_int_t)rows, "out", out));
    }
    fflush(stdout);
    return rc;
}
