/* envelope.h -- pack and unpack jiesu.v1.Envelope at every boundary.
 *
 * protobuf-c alone accepts field number 0 and unknown fields and does not
 * check UTF-8, so js_env_unpack walks the whole decoded message and rejects:
 * a buffer over max bytes (JS_E2BIG... -E2BIG), bytes that do not decode
 * (-EPROTO), field 0 (JS_EPROTO_FIELD0), any unknown field at any depth
 * (JS_EUNKNOWN), a string that is not UTF-8 (JS_EUTF8), and an envelope
 * without id, type, source or payload (JS_EREQUIRED). err gets one line
 * naming the field. The envelope returned is freed with js_env_free. */
#ifndef JS_ENVELOPE_H
#define JS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "jiesu/v1/envelope.pb-c.h"
#include "jsdefs.h"

#define JS_ENV_MAX_DEFAULT (1024 * 1024)

typedef Jiesu__V1__Envelope js_env_t;

/* Prototypes */
int js_env_unpack(const uint8_t *buf, size_t len, size_t max, js_env_t **out, char *err, size_t errlen);
void js_env_free(js_env_t *e);
/* Check any decoded message the same way (used by js_env_unpack). */
int js_msg_check(const ProtobufCMessage *m, char *err, size_t errlen);
/* Fill id (new), spec_version, time_ms (now), type, source, subject and
 * trace_id (copied pointers: the strings must outlive the envelope). */
void js_env_init(js_env_t *e, char id[27], const char *type, const char *source,
                 const char *subject, const char *trace_id);
/* Pack into a new malloc'd buffer; *len gets its size. */
uint8_t *js_env_pack(const js_env_t *e, size_t *len);

#endif
