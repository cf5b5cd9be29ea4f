/* outq.h -- a bounded send queue in front of a socket: back-pressure
 * without blocking and without loss under a burst.
 *
 * js_outq_send sends at once when the socket takes the message; when it
 * cannot (high-water mark reached), the message is copied into the queue and
 * sent, in order, as soon as the socket is writable again. Past `cap` queued
 * messages a send is refused with -ENOBUFS and counted: the caller relies on
 * the re-drive sweep (the order is stored in Redis already), so a dead peer
 * costs bounded memory, never a blocked loop. */
#ifndef JS_OUTQ_H
#define JS_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"

typedef struct js_outq js_outq_t;

/* Prototypes */
js_outq_t *js_outq_new(js_sock_t *s, size_t cap);
/* One-frame message. 0 (sent or queued), -ENOBUFS (queue full), or another
 * negative error of the socket (e.g. -EHOSTUNREACH). */
int js_outq_send(js_outq_t *q, const void *data, size_t len);
size_t js_outq_len(const js_outq_t *q);
uint64_t js_outq_refused(const js_outq_t *q);
/* Frees what is still queued (it will be re-driven). Does not close the socket. */
void js_outq_destroy(js_outq_t **qp);

#endif
