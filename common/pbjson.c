/* pbjson.c -- protobuf-c message -> jansson, by walking the descriptor. */
#include "pbjson.h"

#include <ctype.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsdefs.h"

/* A moment in ms lies between 2000-01-01 and 2100-01-01; below that a *_ms
 * value is a duration (Alert.window_ms), above it nonsense. */
#define S_MOMENT_MIN        946684800000LL
#define S_MOMENT_MAX        4102444800000LL
#define S_BEIJING_OFFSET_MS (8LL * 3600 * 1000)
#define S_MAX_DEPTH         64 /* protobuf-c refuses deeper nesting anyway; a guard, not a limit */

/* Short names a person looks for, added beside the proto field (JS_PBJSON_TIMES). */
static const struct {
    const char *message; /* full proto name */
    const char *field;
    const char *alias;
} s_aliases[] = {
    {"jiesu.v1.Assignment", "unit_id", "unit"},
};

static json_t *s_message(const ProtobufCMessage *m, int flags, int depth);

char *js_pbjson_time(int64_t ms, char *out, size_t cap) {
    int64_t local = ms + S_BEIJING_OFFSET_MS;
    int64_t secs = local / 1000, frac = local % 1000;
    if (frac < 0) { /* floor, so times before 1970 still read right */
        frac += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(out, cap, "%s.%03d+08:00", date, (int)frac);
    else
        snprintf(out, cap, "%s+08:00", date);
    return out;
}

/* "AssignmentRole" -> "ASSIGNMENT_ROLE_" */
static void s_type_prefix(const char *short_name, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = short_name; *p && n + 2 < cap; p++) {
        if (isupper((unsigned char)*p) && p != short_name && n + 3 < cap) out[n++] = '_';
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n++] = '_';
    out[n] = '\0';
}

/* The prefix every value name shares, cut after its last '_'. */
static size_t s_common_prefix(const ProtobufCEnumDescriptor *d) {
    if (d->n_values == 0) return 0;
    const char *first = d->values[0].name;
    size_t len = strlen(first);
    for (unsigned i = 1; i < d->n_values; i++) {
        const char *s = d->values[i].name;
        size_t k = 0;
        while (k < len && s[k] == first[k])
            k++;
        len = k;
    }
    while (len > 0 && first[len - 1] != '_')
        len--;
    return len;
}

char *js_pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value, char *out, size_t cap) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    if (!v) {
        snprintf(out, cap, "%d", value);
        return out;
    }
    char prefix[128];
    s_type_prefix(d->short_name, prefix, sizeof prefix);
    size_t skip = strlen(prefix);
    if (strncmp(v->name, prefix, skip) != 0) skip = s_common_prefix(d);
    /* Never strip a whole name to nothing. */
    if (v->name[skip] == '\0') skip = 0;
    size_t n = 0;
    for (const char *p = v->name + skip; *p && n + 1 < cap; p++)
        out[n++] = (char)tolower((unsigned char)*p);
    out[n] = '\0';
    return out;
}

static json_t *s_string(const char *s, size_t len) {
    if (js_utf8_valid(s, len)) return json_stringn(s, len);
    /* Keep what is readable; each byte of a bad sequence becomes U+FFFD. */
    char *buf = js_malloc(len * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xC0) k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (c < 0x80 || (i + k <= len && js_utf8_valid(s + i, k))) {
            memcpy(buf + n, s + i, k);
            n += k;
            i += k;
        } else {
            memcpy(buf + n, "\xEF\xBF\xBD", 3);
            n += 3;
            i += 1;
        }
    }
    json_t *j = json_stringn(buf, n);
    free(buf);
    return j;
}

static json_t *s_base64(const uint8_t *p, size_t len) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t cap = (len + 2) / 3 * 4;
    char *out = js_malloc(cap + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len) v |= p[i + 2];
        out[n++] = tab[(v >> 18) & 63];
        out[n++] = tab[(v >> 12) & 63];
        out[n++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[n++] = i + 2 < len ? tab[v & 63] : '=';
    }
    json_t *j = json_stringn(out, n);
    free(out);
    return j;
}

static json_t *s_real(double v, int is_float) {
    if (isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    if (is_float) {
        /* The shortest decimal that reads back as the same float, so 0.9f
         * prints 0.9 and not 0.89999997615814209. */
        char buf[32];
        for (int prec = FLT_DIG; prec <= FLT_DECIMAL_DIG; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, v);
            if ((float)strtod(buf, NULL) == (float)v) break;
        }
        v = strtod(buf, NULL);
    }
    return json_real(v);
}

static size_t s_elem_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int32_t);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(int64_t);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* Is the value at p the type's default (0, "", false, empty bytes, NULL)? */
static int s_is_default(const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM: return *(const int32_t *)p == 0;
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return *(const int64_t *)p == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)p == NULL;
    }
    return 1;
}

/* One value of field f stored at p; NULL when it has none (unset message). */
static json_t *s_value(const ProtobufCFieldDescriptor *f, const void *p, int flags, int depth) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v = *(const uint64_t *)p;
        if (v <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v);
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRIu64, v);
        return json_string(buf);
    }
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_FLOAT: return s_real(*(const float *)p, 1);
    case PROTOBUF_C_TYPE_DOUBLE: return s_real(*(const double *)p, 0);
    case PROTOBUF_C_TYPE_ENUM: {
        char name[128];
        int v = *(const int32_t *)p;
        if (!protobuf_c_enum_descriptor_get_value(f->descriptor, v)) return json_integer(v);
        return json_string(js_pbjson_enum_name(f->descriptor, v, name, sizeof name));
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s ? s_string(s, strlen(s)) : json_string("");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return s_base64(b->data, b->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        return sub ? s_message(sub, flags, depth + 1) : NULL;
    }
    }
    return NULL;
}

/* protobuf-c has no map flag: a map field is a repeated message named
 * <Field>Entry with exactly key = 1 and value = 2. */
static int s_is_map(const ProtobufCFieldDescriptor *f) {
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return 0;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    if (d->n_fields != 2 || strcmp(d->fields[0].name, "key") || strcmp(d->fields[1].name, "value") ||
        d->fields[0].id != 1 || d->fields[1].id != 2)
        return 0;
    size_t n = strlen(d->short_name);
    return n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0;
}

static json_t *s_map(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *entries, size_t n, int flags,
                     int depth) {
    json_t *obj = json_object();
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    for (size_t i = 0; i < n; i++) {
        const char *base = (const char *)entries[i];
        if (!base) continue;
        json_t *k = s_value(kf, base + kf->offset, flags, depth);
        char buf[32];
        const char *key;
        /* JSON keys are strings: a number or bool key is written as text. */
        if (json_is_string(k))
            key = json_string_value(k);
        else if (json_is_integer(k)) {
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
            key = buf;
        } else
            key = json_is_true(k) ? "true" : "false";
        json_t *v = s_value(vf, base + vf->offset, flags, depth);
        json_object_set_new(obj, key, v ? v : json_object());
        json_decref(k);
    }
    return obj;
}

static int s_has_field(const ProtobufCMessageDescriptor *d, const char *name) {
    return protobuf_c_message_descriptor_get_field_by_name(d, name) != NULL;
}

/* After "x_ms": "x" as ISO-8601, when the value is a moment and "x" is free. */
static void s_add_time(json_t *obj, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                       const void *p) {
    size_t n = strlen(f->name);
    if (f->label == PROTOBUF_C_LABEL_REPEATED || n <= 3 || strcmp(f->name + n - 3, "_ms") != 0) return;
    int64_t ms;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: ms = *(const int64_t *)p; break;
    default: return;
    }
    if (ms < S_MOMENT_MIN || ms >= S_MOMENT_MAX) return;
    char name[128];
    if (n - 3 >= sizeof name) return;
    memcpy(name, f->name, n - 3);
    name[n - 3] = '\0';
    if (s_has_field(d, name) || json_object_get(obj, name)) return;
    char iso[JS_PBJSON_TIME_LEN];
    json_object_set_new(obj, name, json_string(js_pbjson_time(ms, iso, sizeof iso)));
}

static void s_add_alias(json_t *obj, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                        json_t *v) {
    for (size_t i = 0; i < JS_ARRAY_LEN(s_aliases); i++) {
        if (strcmp(s_aliases[i].field, f->name) || strcmp(s_aliases[i].message, d->name)) continue;
        if (s_has_field(d, s_aliases[i].alias) || json_object_get(obj, s_aliases[i].alias)) continue;
        json_object_set_new(obj, s_aliases[i].alias, json_deep_copy(v));
    }
}

static json_t *s_message(const ProtobufCMessage *m, int flags, int depth) {
    json_t *obj = json_object();
    if (depth > S_MAX_DEPTH) return obj;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *slot = base + f->offset;
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(const char *const *)slot;
            if ((n == 0 || !arr) && !(flags & JS_PBJSON_DEFAULTS)) continue;
            if (!arr) n = 0;
            if (s_is_map(f)) {
                v = s_map(f, (ProtobufCMessage *const *)arr, n, flags, depth);
            } else {
                v = json_array();
                size_t sz = s_elem_size(f->type);
                for (size_t k = 0; k < n; k++) {
                    json_t *e = s_value(f, arr + k * sz, flags, depth);
                    json_array_append_new(v, e ? e : json_object());
                }
            }
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                /* Only the set member, and always: its presence is the information. */
                if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) continue;
            } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                       f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
                /* proto2 optional and proto3 `optional`: has_x says. */
                if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) continue;
            } else if (s_is_default(f, slot) && !(flags & JS_PBJSON_DEFAULTS)) {
                continue;
            }
            if (f->type == PROTOBUF_C_TYPE_BYTES && (flags & JS_PBJSON_NO_BYTES)) continue;
            v = s_value(f, slot, flags, depth);
            if (!v) continue;
        }
        if (f->type == PROTOBUF_C_TYPE_BYTES && (flags & JS_PBJSON_NO_BYTES)) {
            json_decref(v);
            continue;
        }
        json_object_set_new(obj, f->name, v);
        if (flags & JS_PBJSON_TIMES) {
            s_add_time(obj, d, f, slot);
            s_add_alias(obj, d, f, v);
        }
    }
    return obj;
}

json_t *js_pb_to_json(const ProtobufCMessage *m, int flags) {
    if (!m) return NULL;
    return s_message(m, flags, 0);
}
