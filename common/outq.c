/* outq.c -- FIFO of copies, drained on the socket's writable callback. */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

typedef struct item {
    struct item *next;
    size_t len;
    uint8_t data[];
} item_t;

struct js_outq {
    js_sock_t *s;
    item_t *head, *tail;
    size_t n, cap;
    uint64_t refused;
    int armed;
};

js_outq_t *js_outq_new(js_sock_t *s, size_t cap) {
    js_outq_t *q = js_calloc(1, sizeof *q);
    q->s = s;
    q->cap = cap;
    return q;
}

static void s_drain(js_sock_t *s, void *arg);

static void s_arm(js_outq_t *q) {
    if (!q->armed) {
        q->armed = 1;
        js_sock_on_writable(q->s, s_drain, q);
    }
}

static void s_drain(js_sock_t *s, void *arg) {
    (void)s;
    js_outq_t *q = arg;
    q->armed = 0;
    while (q->head) {
        item_t *it = q->head;
        int rc = js_sock_send(q->s, (js_frame_t[]){{it->data, it->len}}, 1);
        if (rc == -EAGAIN) break;
        /* sent, or refused for good (peer gone): either way it leaves the queue */
        q->head = it->next;
        if (!q->head) q->tail = NULL;
        q->n--;
        free(it);
    }
    if (q->head) s_arm(q);
}

int js_outq_send(js_outq_t *q, const void *data, size_t len) {
    if (!q->head) {
        int rc = js_sock_send(q->s, (js_frame_t[]){{data, len}}, 1);
        if (rc != -EAGAIN) return rc;
    }
    if (q->n >= q->cap) {
        q->refused++;
        return -ENOBUFS;
    }
    item_t *it = js_malloc(sizeof *it + len);
    it->next = NULL;
    it->len = len;
    memcpy(it->data, data, len);
    if (q->tail) q->tail->next = it;
    else q->head = it;
    q->tail = it;
    q->n++;
    s_arm(q);
    return 0;
}

size_t js_outq_len(const js_outq_t *q) { return q->n; }
uint64_t js_outq_refused(const js_outq_t *q) { return q->refused; }

void js_outq_destroy(js_outq_t **qp) {
    if (!qp || !*qp) return;
    js_outq_t *q = *qp;
    while (q->head) {
        item_t *it = q->head;
        q->head = it->next;
        free(it);
    }
    if (q->armed) js_sock_on_writable(q->s, NULL, NULL);
    free(q);
    *qp = NULL;
}
