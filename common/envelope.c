/* envelope.c -- the checks every boundary applies to a decoded message.
 *
 * protobuf-c hands back whatever decodes: unknown fields are kept aside in
 * each message (unknown_fields), a tag whose varint is overlong can carry
 * field number 0 past its own check, and strings are copied unchecked. Those
 * are what a peer speaking another schema version, or an attacker, would
 * send, so we look at every message of the tree, through its descriptor. */
#include "envelope.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

/* A field path being built, e.g. "envelope.order.history[2].note". A path
 * too long for the buffer is cut, never overrun: it is only for the message. */
typedef struct {
    char buf[256];
    size_t len;
} s_path_t;

static size_t s_path_push(s_path_t *p, const char *fmt, ...) {
    size_t was = p->len;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(p->buf + p->len, sizeof p->buf - p->len, fmt, ap);
    va_end(ap);
    if (w > 0) p->len = p->len + (size_t)w >= sizeof p->buf ? sizeof p->buf - 1 : p->len + (size_t)w;
    return was;
}

static void s_path_pop(s_path_t *p, size_t to) {
    p->len = to;
    p->buf[to] = '\0';
}

static void s_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int s_check_unknown(const ProtobufCMessage *m, const s_path_t *p, char *err, size_t errlen) {
    if (m->n_unknown_fields == 0) return 0;
    /* Field 0 first: it says the bytes are broken, not merely newer. */
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0) {
            s_err(err, errlen, "%s: field number 0", p->buf);
            return JS_EPROTO_FIELD0;
        }
    s_err(err, errlen, "%s: unknown field %u", p->buf, (unsigned)m->unknown_fields[0].tag);
    return JS_EUNKNOWN;
}

static int s_walk(const ProtobufCMessage *m, s_path_t *p, int depth, char *err, size_t errlen);

/* One value of a string or message field: v points at the char * or the
 * ProtobufCMessage * (NULL when absent). */
static int s_value(const ProtobufCFieldDescriptor *f, const void *v, s_path_t *p, int depth, char *err,
                   size_t errlen) {
    if (!v) return 0;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = v;
        if (js_utf8_valid(s, strlen(s))) return 0;
        s_err(err, errlen, "%s: invalid UTF-8", p->buf);
        return JS_EUTF8;
    }
    return s_walk(v, p, depth + 1, err, errlen);
}

static int s_walk(const ProtobufCMessage *m, s_path_t *p, int depth, char *err, size_t errlen) {
    if (depth > JS_ENV_MAX_DEPTH) {
        s_err(err, errlen, "%s: nested deeper than %d", p->buf, JS_ENV_MAX_DEPTH);
        return -EPROTO;
    }
    int rc = s_check_unknown(m, p, err, errlen);
    if (rc < 0) return rc;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        /* Only the set member of a oneof is meaningful: the others share its storage. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        size_t mark = s_path_push(p, ".%s", f->name);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            void *const *items = *(void *const *const *)(base + f->offset);
            for (size_t k = 0; k < n && items && rc == 0; k++) {
                size_t at = s_path_push(p, "[%zu]", k);
                rc = s_value(f, items[k], p, depth, err, errlen);
                s_path_pop(p, at);
            }
        } else {
            rc = s_value(f, *(void *const *)(base + f->offset), p, depth, err, errlen);
        }
        s_path_pop(p, mark);
        if (rc < 0) return rc;
    }
    return 0;
}

int js_msg_check(const ProtobufCMessage *m, char *err, size_t errlen) {
    s_path_t p = {.len = 0};
    /* The root is named like a field would be: Envelope -> envelope, ClockEvent -> clock_event. */
    for (const char *c = m->descriptor->short_name; *c && p.len + 2 < sizeof p.buf; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            if (p.len) p.buf[p.len++] = '_';
            p.buf[p.len++] = (char)(*c - 'A' + 'a');
        } else {
            p.buf[p.len++] = *c;
        }
    }
    p.buf[p.len] = '\0';
    return s_walk(m, &p, 0, err, errlen);
}

int js_env_check(const js_env_t *e, char *err, size_t errlen) {
    int rc = js_msg_check(&e->base, err, errlen);
    if (rc < 0) return rc;
    /* Absent proto3 strings decode to protobuf_c_empty_string, not NULL;
     * an envelope built by hand may have NULL. Both are "missing". */
    const char *missing = !e->id || !*e->id                                          ? "id"
                          : !e->type || !*e->type                                    ? "type"
                          : !e->source || !*e->source                                ? "source"
                          : e->payload_case == JIESU__V1__ENVELOPE__PAYLOAD__NOT_SET ? "payload"
                                                                                     : NULL;
    if (missing) {
        s_err(err, errlen, "envelope.%s is required", missing);
        return JS_EREQUIRED;
    }
    return 0;
}

int js_env_unpack(const uint8_t *buf, size_t len, size_t max, js_env_t **out, char *err, size_t errlen) {
    *out = NULL;
    /* Before decoding: protobuf-c would allocate in proportion to the input. */
    if (len > max) {
        s_err(err, errlen, "message of %zu bytes is over the %zu byte limit", len, max);
        return -E2BIG;
    }
    js_env_t *e = jiesu__v1__envelope__unpack(NULL, len, buf);
    if (!e) {
        s_err(err, errlen, "not a jiesu.v1.Envelope (protobuf decoding failed)");
        return -EPROTO;
    }
    int rc = js_env_check(e, err, errlen);
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
    e->spec_version = (char *)JS_ENV_SPEC;
    e->time_ms = js_now_ms();
    e->type = (char *)type;
    e->source = (char *)source;
    e->subject = (char *)(subject ? subject : "");
    e->trace_id = (char *)(trace_id ? trace_id : "");
}

uint8_t *js_env_pack(const js_env_t *e, size_t *len) {
    *len = protobuf_c_message_get_packed_size(&e->base);
    uint8_t *buf = js_malloc(*len); /* js_malloc(0) still gives a pointer to free */
    size_t n = protobuf_c_message_pack(&e->base, buf);
    if (n != *len) abort(); /* protobuf-c disagreeing with itself: a broken message struct */
    return buf;
}
