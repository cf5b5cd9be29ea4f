/* pbjson.h -- any protobuf-c message as a jansson JSON value, for people and
 * for jq.
 *
 * The walk follows the message's descriptor, so every jiesu.v1 message (and
 * any later one) converts without code of its own:
 *  - keys are the proto field names (snake_case);
 *  - enums are the value name in lower case without the enum's prefix
 *    (STAGE_DISPATCHED -> "dispatched", ASSIGNMENT_ROLE_LEAD -> "lead"); the
 *    prefix is the type name in UPPER_SNAKE (Stage -> STAGE_), else the prefix
 *    all its values share (UnitActionKind -> UNIT_ACTION_); a number the
 *    descriptor does not know stays a number;
 *  - 64-bit integers are JSON integers (a uint64 above INT64_MAX: a string);
 *    floats are printed at float precision; NaN and infinities as the strings
 *    "NaN", "Infinity", "-Infinity";
 *  - bytes are standard base64 with padding (omitted with JS_PBJSON_NO_BYTES);
 *  - repeated fields are arrays, map fields objects, a oneof only its set
 *    member (even when that member holds a default value);
 *  - proto3 defaults (0, "", false, empty repeated, unset message) are left
 *    out unless JS_PBJSON_DEFAULTS (an unset message stays out even then);
 *  - a string that is not UTF-8 has each bad byte replaced by U+FFFD.
 *
 * JS_PBJSON_TIMES asks for the view made for people: after each field named
 * *_ms whose value is a moment (between 2000 and 2100; durations such as
 * Alert.window_ms are smaller) a sibling without the suffix holds it as
 * ISO-8601 in Beijing time (+08:00): "time_ms":1763852926123 is followed by
 * "time":"2025-11-23T07:08:46.123+08:00" (no fraction when the milliseconds
 * are 0). A sibling whose name is already a field of the message is not
 * added. The same flag adds the short aliases of a small table (Assignment:
 * "unit" = unit_id), so history reads [{type, time}] and assignments
 * [{unit, role, due}].
 *
 * Ownership: the returned value is new (refcount 1); the caller json_decref()s
 * it. The message is only read. */
#ifndef JS_PBJSON_H
#define JS_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define JS_PBJSON_DEFAULTS 0x1 /* emit proto3 defaults too */
#define JS_PBJSON_NO_BYTES 0x2 /* leave bytes fields out */
#define JS_PBJSON_TIMES    0x4 /* ISO-8601 siblings of *_ms moments, and the aliases */

#define JS_PBJSON_TIME_LEN 32 /* "2025-11-23T07:08:46.123+08:00" + NUL, with room */

/* Prototypes */
/* NULL only when m is NULL. */
json_t *js_pb_to_json(const ProtobufCMessage *m, int flags);
/* ms since the epoch as ISO-8601 in +08:00 into out (JS_PBJSON_TIME_LEN
 * bytes); milliseconds shown only when not 0. Returns out. */
char *js_pbjson_time(int64_t ms, char *out, size_t cap);
/* "STAGE_DISPATCHED" of enum Stage -> "dispatched" into out. Returns out. */
char *js_pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value, char *out, size_t cap);

#endif
