/* envelope.c -- the checks every boundary applies to a decoded message. */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

static int s_check(const ProtobufCMessage *m, char *path, size_t pathlen, size_t plen, char *err, size_t errlen,
                   int depth) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (depth > 32) {
        snprintf(err, errlen, "%s: nested too deep", path);
        return -EPROTO;
    }
    if (m->n_unknown_fields > 0) {
        uint32_t tag = m->unknown_fields[0].tag;
        if (tag == 0) {
            snprintf(err, errlen, "%s%sfield number 0 is not allowed", path, plen ? ": " : "");
            return JS_EPROTO_FIELD0;
        }
        snprintf(err, errlen, "%s%sunknown field %u", path, plen ? ": " : "", tag);
        return JS_EUNKNOWN;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
            if (which != f->id) continue;
        }
        size_t n = 1;
        const void *slot = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            slot = *(void *const *)slot;
            if (n && !slot) continue;
        }
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        int w = snprintf(path + plen, pathlen - plen, "%s%s", plen ? "." : "", f->name);
        size_t nplen = w < 0 ? plen : plen + (size_t)w >= pathlen ? pathlen - 1 : plen + (size_t)w;
        for (size_t k = 0; k < n; k++) {
            const void *item = f->label == PROTOBUF_C_LABEL_REPEATED ? (const char *)slot + k * sizeof(void *) : slot;
            const void *p = *(void *const *)item;
            if (!p) continue;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = p;
                if (!js_utf8_valid(s, strlen(s))) {
                    snprintf(err, errlen, "%s: invalid UTF-8", path);
                    path[plen] = '\0';
                    return JS_EUTF8;
                }
            } else {
                int rc = s_check(p, path, pathlen, nplen, err, errlen, depth + 1);
                if (rc < 0) return rc;
            }
        }
        path[plen] = '\0';
    }
    return 0;
}

int js_msg_check(const ProtobufCMessage *m, char *err, size_t errlen) {
    char path[256];
    /* Paths start at the message's own name in lower case: "envelope", "order", ... */
    const char *name = m->descriptor->short_name;
    size_t n = 0;
    for (; *name && n + 1 < sizeof path; name++) {
        char c = *name;
        if (c >= 'A' && c <= 'Z') {
            if (n) path[n++] = '_';
            c = (char)(c - 'A' + 'a');
        }
        path[n++] = c;
    }
    path[n] = '\0';
    return s_check(m, path, sizeof path, n, err, errlen, 0);
}

int js_env_unpack(const uint8_t *buf, size_t len, size_t max, js_env_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (len > max) {
        snprintf(err, errlen, "message of %zu bytes is over the %zu byte limit", len, max);
        return -E2BIG;
    }
    js_env_t *e = jiesu__v1__envelope__unpack(NULL, len, buf);
    if (!e) {
        snprintf(err, errlen, "not a jiesu.v1.Envelope (protobuf decoding failed)");
        return -EPROTO;
    }
    int rc = js_msg_check(&e->base, err, errlen);
    if (rc == 0) {
        const char *missing = !*e->id ? "id" : !*e->type ? "type" : !*e->source ? "source" : NULL;
        if (!missing && e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD__NOT_SET) missing = "payload";
        if (missing) {
            snprintf(err, errlen, "envelope.%s is required", missing);
            rc = JS_EREQUIRED;
        }
    }
    if (rc < 0) {
        jiesu__v1__envelope__free_unpacked(e, NULL);
        return rc;
    }
    *out = e;
    return 0;
}

void js_env_free(js_env_t *e) {
    if (e) jiesu__v1__envelope__free_unpacked(e, NULL);
}

void js_env_init(js_env_t *e, char id[27], const char *type, const char *source, const char *subject,
                 const char *trace_id) {
    js_id_new(id);
    e->id = id;
    e->spec_version = "1.0";
    e->time_ms = js_now_ms();
    e->type = (char *)type;
    e->source = (char *)source;
    e->subject = (char *)(subject ? subject : "");
    e->trace_id = (char *)(trace_id ? trace_id : "");
}

uint8_t *js_env_pack(const js_env_t *e, size_t *len) {
    *len = protobuf_c_message_get_packed_size(&e->base);
    uint8_t *buf = js_malloc(*len);
    protobuf_c_message_pack(&e->base, buf);
    return buf;
}
