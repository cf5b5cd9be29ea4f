/* envelope.h -- pack and unpack jiesu.v1.Envelope at every boundary.
 *
 * protobuf-c 1.4.1 alone keeps unknown fields (even one whose tag is an
 * overlong varint of field number 0) and does not check UTF-8, so
 * js_env_unpack walks the whole decoded message through its descriptor and
 * refuses, in this order:
 *   -E2BIG            the buffer is over max bytes (checked before decoding);
 *   -EPROTO           the bytes do not decode (protobuf-c itself refuses a
 *                     one-byte tag of field number 0, truncation, bad wire
 *                     types, ...);
 *   JS_EPROTO_FIELD0  field number 0 that protobuf-c let through, at any depth;
 *   JS_EUNKNOWN       any unknown field at any depth (err names its number);
 *   JS_EUTF8          a string (singular, repeated, map key or value, inside
 *                     the set member of a oneof) that is not valid UTF-8;
 *   JS_EREQUIRED      an envelope without id, type, source or payload.
 * err (may be NULL when errlen is 0) gets one line naming the field by its
 * path from the root message, e.g.
 *   "envelope.submission.requester.name: invalid UTF-8"
 *   "envelope.order.history[2]: unknown field 99"
 *   "envelope.type is required".
 * Bytes fields are not looked into. A string with an embedded NUL reads, in
 * C, as the part before the NUL: protobuf-c keeps no length to tell.
 *
 * On success *out owns the decoded envelope (malloc'd by protobuf-c), freed
 * with js_env_free; on error *out is NULL and nothing is left allocated. */
#ifndef JS_ENVELOPE_H
#define JS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "jiesu/v1/envelope.pb-c.h"
#include "jsdefs.h"

#define JS_ENV_MAX_DEFAULT (1024 * 1024) /* max_msg_bytes when config says nothing */
#define JS_ENV_MAX_DEPTH   32            /* nested messages js_msg_check descends into */
#define JS_ENV_SPEC        "1.0"         /* CloudEvents spec_version we write */

typedef Jiesu__V1__Envelope js_env_t;

/* Prototypes */
int js_env_unpack(const uint8_t *buf, size_t len, size_t max, js_env_t **out, char *err, size_t errlen);
void js_env_free(js_env_t *e); /* NULL is fine */
/* Check any decoded message the same way (no required fields): 0, or
 * JS_EPROTO_FIELD0, JS_EUNKNOWN, JS_EUTF8, or -EPROTO when nested deeper than
 * JS_ENV_MAX_DEPTH. The path starts at the message's own name in snake case. */
int js_msg_check(const ProtobufCMessage *m, char *err, size_t errlen);
/* js_msg_check, then the envelope's required content (JS_EREQUIRED): what
 * js_env_unpack applies after decoding, for callers that decode themselves
 * (e.g. into an arena). */
int js_env_check(const js_env_t *e, char *err, size_t errlen);
/* Fill id (a new js_id_new into the caller's id buffer), spec_version
 * JS_ENV_SPEC, time_ms (js_now_ms), type, source, subject and trace_id
 * (NULL subject or trace_id: ""). Pointers are stored, not copied: the
 * strings, id included, must outlive the envelope. e must have been
 * initialised (JIESU__V1__ENVELOPE__INIT); other fields are left alone. */
void js_env_init(js_env_t *e, char id[27], const char *type, const char *source, const char *subject,
                 const char *trace_id);
/* Pack into a new malloc'd buffer (aborts on OOM; free() it); *len gets its
 * size, which may be 0 for an empty envelope. */
uint8_t *js_env_pack(const js_env_t *e, size_t *len);

#endif
