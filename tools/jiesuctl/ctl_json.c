/* ctl_json.c -- shaping what show, tail and ping print. */
#include "ctl_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "pii.h"
#include "timer.h"

int ctl_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("jiesuctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

void ctl_print(const json_t *j, size_t flags) {
    char *s = j ? json_dumps(j, flags) : NULL;
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    fflush(stdout);
}

#define S_MASK_CAP 256

char *ctl_stage_name(int stage, char *out, size_t cap) {
    return js_pbjson_enum_name(&jiesu__v1__stage__descriptor, stage, out, cap);
}

/* Stages in which the order is with its units, so assignments matter. */
static int s_with_units(int stage) {
    return stage >= JIESU__V1__STAGE__STAGE_DISPATCHED && stage != JIESU__V1__STAGE__STAGE_CLOSED &&
           stage != JIESU__V1__STAGE__STAGE_TRANSFERRED;
}

/* One fired mark "f:KIND|UNIT|WHAT|EPOCH" split in place into buf: 0, or -1
 * when it is not one. */
static int s_mark_split(const char *field, char *buf, size_t cap, char *kind, const char **unit, const char **what,
                        const char **epoch) {
    if (strncmp(field, "f:", 2) != 0 || snprintf(buf, cap, "%s", field + 2) >= (int)cap) return -1;
    char *p1 = strchr(buf, '|'), *p2 = p1 ? strchr(p1 + 1, '|') : NULL, *p3 = p2 ? strchr(p2 + 1, '|') : NULL;
    if (!p1 || p1 != buf + 1 || !p2 || !p3 || p3 == p2 + 1 || !p3[1] || strchr(p3 + 1, '|')) return -1;
    *p1 = *p2 = *p3 = '\0';
    *kind = buf[0];
    *unit = p1 + 1;
    *what = p2 + 1;
    *epoch = p3 + 1;
    return js_timer_clock_kind(*kind) == JIESU__V1__CLOCK_KIND__CLOCK_KIND_UNSPECIFIED ? -1 : 0;
}

static json_t *s_fired_entry(const char *what, const char *epoch, const char *at) {
    char when[JS_PBJSON_TIME_LEN];
    char *end = NULL;
    long long ms = at ? strtoll(at, &end, 10) : 0;
    json_t *e = json_object();
    json_object_set_new(e, "what", json_string(what));
    json_object_set_new(e, "epoch", json_string(epoch));
    if (end && end != at && !*end) {
        json_object_set_new(e, "time_ms", json_integer(ms));
        json_object_set_new(e, "time", json_string(js_pbjson_time(ms, when, sizeof when)));
    } else {
        json_object_set_new(e, "time_ms", json_null()); /* a value that is not a time: shown, not guessed */
    }
    return e;
}

/* By time_ms; one without a time last. */
static json_int_t s_time_of(const json_t *e) {
    const json_t *t = json_object_get(e, "time_ms");
    return json_is_integer(t) ? json_integer_value(t) : INT64_MAX;
}

static int s_by_time(const void *a, const void *b) {
    json_int_t x = s_time_of(*(json_t *const *)a), y = s_time_of(*(json_t *const *)b);
    return x < y ? -1 : x > y;
}

/* Sort a small array of fired entries by time_ms (json arrays have no sort). */
static void s_sort_fired(json_t *arr) {
    size_t n = json_array_size(arr);
    if (n < 2) return;
    json_t **v = malloc(n * sizeof *v);
    if (!v) return;
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, s_by_time);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
    free(v);
}

/* Each clock's fired marks as its "fired" array; the rest in fired_unmatched. */
static void s_add_fired(json_t *out, const Jiesu__V1__Order *o, const ctl_show_hash_t *h) {
    json_t *clocks = json_object_get(out, "clocks");
    size_t nc = o && json_is_array(clocks) && json_array_size(clocks) == o->n_clocks ? o->n_clocks : 0;
    for (size_t i = 0; i < nc; i++) json_object_set_new(json_array_get(clocks, i), "fired", json_array());
    json_t *other = json_array();
    for (size_t k = 0; h && k < h->nfired; k++) {
        char buf[256], kind;
        const char *unit, *what, *epoch;
        if (!h->fired[k] || s_mark_split(h->fired[k], buf, sizeof buf, &kind, &unit, &what, &epoch) < 0) continue;
        json_t *e = s_fired_entry(what, epoch, h->fired_at ? h->fired_at[k] : NULL);
        size_t i = 0;
        for (; i < nc; i++) {
            const Jiesu__V1__Clock *c = o->clocks[i];
            if (c->kind == js_timer_clock_kind(kind) && strcmp(c->unit_id ? c->unit_id : "", unit) == 0) break;
        }
        if (i < nc) {
            json_array_append_new(json_object_get(json_array_get(clocks, i), "fired"), e);
        } else {
            char name[64];
            json_t *kn = json_string(js_pbjson_enum_name(&jiesu__v1__clock_kind__descriptor, js_timer_clock_kind(kind),
                                                         name, sizeof name));
            json_object_set_new(e, "kind", kn);
            json_object_set_new(e, "unit", json_string(unit));
            json_array_append_new(other, e);
        }
    }
    for (size_t i = 0; i < nc; i++) s_sort_fired(json_object_get(json_array_get(clocks, i), "fired"));
    if (json_array_size(other)) {
        s_sort_fired(other);
        json_object_set_new(out, "fired_unmatched", other);
    } else {
        json_decref(other);
    }
}

/* "a=L b=A c=C" -> {"a": "lead", "b": "assist", "c": "copy"}. */
static json_t *s_asg_json(const char *asg) {
    json_t *m = json_object();
    const char *p = asg;
    while (*p) {
        while (*p == ' ') p++;
        const char *end = p + strcspn(p, " ");
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && eq > p && eq + 1 < end) {
            char unit[128], role[16];
            snprintf(unit, sizeof unit, "%.*s", (int)(eq - p), p);
            snprintf(role, sizeof role, "%.*s", (int)(end - eq - 1), eq + 1);
            const char *name = !strcmp(role, "L") ? "lead" : !strcmp(role, "A") ? "assist"
                               : !strcmp(role, "C") ? "copy" : role;
            json_object_set_new(m, unit, json_string(name));
        }
        p = end;
    }
    return m;
}

json_t *ctl_show_json(const char *id, int stage, int64_t version, const Jiesu__V1__Order *o,
                      const ctl_show_hash_t *h) {
    json_t *out = json_object();
    char name[64];
    json_object_set_new(out, "id", json_string(o && o->id && *o->id ? o->id : id));
    json_object_set_new(out, "stage", json_string(ctl_stage_name(stage, name, sizeof name)));
    json_object_set_new(out, "version", json_integer(version));
    if (o) {
        json_t *body = js_pb_to_json(&o->base, JS_PBJSON_TIMES | JS_PBJSON_NO_BYTES);
        /* The hash's stage and v are written in the same transition as d and
         * are what every service reads: they win over the copies inside d. */
        json_object_update_missing(out, body);
        json_decref(body);
    }
    if (!json_object_get(out, "history")) json_object_set_new(out, "history", json_array());
    if (!json_object_get(out, "assignments") && s_with_units(stage))
        json_object_set_new(out, "assignments", json_array());
    /* what a reviewer must decide: always there, so a script can test it */
    if (!json_object_get(out, "pending")) json_object_set_new(out, "pending", json_null());
    if (h) {
        s_add_fired(out, o, h);
        if (h->asg) json_object_set_new(out, "asg", s_asg_json(h->asg));
    }
    ctl_mask_pii(out);
    return out;
}

json_t *ctl_event_json(const js_env_t *e) {
    char when[JS_PBJSON_TIME_LEN];
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(e->id ? e->id : ""));
    json_object_set_new(j, "type", json_string(e->type ? e->type : ""));
    json_object_set_new(j, "time", json_string(js_pbjson_time(e->time_ms, when, sizeof when)));
    json_object_set_new(j, "subject", json_string(e->subject ? e->subject : ""));
    json_object_set_new(j, "version", json_integer(e->version));
    json_object_set_new(j, "source", json_string(e->source ? e->source : ""));
    json_object_set_new(j, "trace_id", json_string(e->trace_id ? e->trace_id : ""));
    json_t *payload = NULL;
    const ProtobufCFieldDescriptor *f =
        e->payload_case ? protobuf_c_message_descriptor_get_field(e->base.descriptor, e->payload_case) : NULL;
    if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)((const char *)e + f->offset);
        payload = js_pb_to_json(m, JS_PBJSON_TIMES | JS_PBJSON_NO_BYTES);
    }
    json_object_set_new(j, "payload", payload ? payload : json_null());
    ctl_mask_pii(j);
    return j;
}

int ctl_event_print(const void *buf, size_t len, size_t max, const char *prefix, FILE *out, FILE *errout,
                    const char *where) {
    js_env_t *e;
    char err[256];
    if (js_env_unpack(buf, len, max, &e, err, sizeof err) < 0) {
        fprintf(errout, "jiesuctl: tail: skipped an unreadable event (%s): %s\n", where, err);
        return -1;
    }
    int want = strncmp(e->type, prefix, strlen(prefix)) == 0;
    if (want) {
        json_t *j = ctl_event_json(e);
        char *s = json_dumps(j, CTL_JSON_LINE);
        fprintf(out, "%s\n", s);
        fflush(out);
        free(s);
        json_decref(j);
    }
    js_env_free(e);
    return want ? 0 : 1;
}

static void s_mask_string(json_t *v, int is_name) {
    if (!json_is_string(v)) return;
    char out[S_MASK_CAP];
    if (is_name)
        js_pii_mask_name(json_string_value(v), out, sizeof out);
    else
        js_pii_mask(json_string_value(v), out, sizeof out);
    json_string_set(v, out);
}

void ctl_mask_pii(json_t *j) {
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) ctl_mask_pii(v);
        return;
    }
    if (!json_is_object(j)) return;
    json_t *contact = json_object_get(j, "contact");
    if (contact) {
        s_mask_string(contact, 0);
        s_mask_string(json_object_get(j, "name"), 1);
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) ctl_mask_pii(v);
}

void ctl_ping_add_heartbeat(json_t *services, const char *key, const char *value, int64_t now_ms) {
    /* jiesu:hb:<service>:<instance>; the instance may itself hold ':'. */
    char svc[128] = "?";
    const char *inst = "";
    const char *p = strncmp(key, "jiesu:hb:", 9) == 0 ? key + 9 : key;
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    if (n > 0 && n < sizeof svc) {
        memcpy(svc, p, n);
        svc[n] = '\0';
    }
    if (colon) inst = colon + 1;

    json_t *entry = json_object();
    json_error_t jerr;
    json_t *hb = value ? json_loads(value, 0, &jerr) : NULL;
    const char *service = svc;
    if (json_is_object(hb)) {
        json_t *s = json_object_get(hb, "service"), *i = json_object_get(hb, "instance");
        json_t *ver = json_object_get(hb, "version"), *now = json_object_get(hb, "now_ms");
        if (json_is_string(s) && *json_string_value(s)) service = json_string_value(s);
        json_object_set_new(entry, "instance", json_string(json_is_string(i) ? json_string_value(i) : inst));
        if (json_is_string(ver)) json_object_set(entry, "version", ver);
        if (json_is_integer(now))
            json_object_set_new(entry, "age_ms", json_integer(now_ms - json_integer_value(now)));
    } else {
        json_object_set_new(entry, "instance", json_string(inst));
        json_object_set_new(entry, "error", json_string("heartbeat is not JSON"));
    }
    json_t *list = json_object_get(services, service);
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(services, service, list);
    }
    json_array_append_new(list, entry);
    json_decref(hb);
}

static void s_append(char *out, size_t cap, int *count, const char *what) {
    size_t len = strlen(out);
    snprintf(out + len, cap > len ? cap - len : 0, "%s%s", *count ? ", " : "", what);
    (*count)++;
}

int ctl_ping_missing(const json_t *report, const char *const *required, size_t nrequired, char *out,
                     size_t cap) {
    int count = 0;
    if (cap) out[0] = '\0';
    const json_t *redis = json_object_get(report, "redis");
    if (!json_is_string(redis) || strcmp(json_string_value(redis), "ok")) s_append(out, cap, &count, "redis");
    const json_t *services = json_object_get(report, "services");
    const json_t *bus = json_object_get(services, "bus");
    if (!json_is_string(bus) || strcmp(json_string_value(bus), "ok")) s_append(out, cap, &count, "bus");
    if (!json_is_object(json_object_get(report, "intake_pong")))
        s_append(out, cap, &count, "intake (no pong)");
    for (size_t i = 0; i < nrequired; i++) {
        const json_t *list = json_object_get(services, required[i]);
        if (!json_is_array(list) || json_array_size(list) == 0) s_append(out, cap, &count, required[i]);
    }
    return count;
}
