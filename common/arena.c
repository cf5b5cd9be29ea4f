/* arena.c -- bump allocator in chained blocks. */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

typedef struct s_block {
    struct s_block *next;
    size_t cap, used;
    max_align_t data[];
} s_block_t;

struct js_arena {
    s_block_t *head;     /* current block: allocations come from here */
    s_block_t *first;    /* kept by js_arena_reset */
    size_t block_size;
    size_t used;
    ProtobufCAllocator pa;
};

static s_block_t *s_block_new(size_t cap) {
    s_block_t *b = js_malloc(sizeof *b + cap);
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

static void *s_pb_alloc(void *data, size_t size) { return js_arena_alloc(data, size); }
static void s_pb_free(void *data, void *p) { JS_UNUSED(data); JS_UNUSED(p); }

js_arena_t *js_arena_new(size_t first_block) {
    js_arena_t *a = js_calloc(1, sizeof *a);
    a->block_size = first_block < 256 ? 256 : first_block;
    a->first = a->head = s_block_new(a->block_size);
    a->pa.alloc = s_pb_alloc;
    a->pa.free = s_pb_free;
    a->pa.allocator_data = a;
    return a;
}

void *js_arena_alloc(js_arena_t *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    s_block_t *b = a->head;
    if (b->cap - b->used < n) {
        size_t cap = a->block_size * 2;
        while (cap < n) cap *= 2;
        a->block_size = cap;
        b = s_block_new(cap);
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    a->used += n;
    return p;
}

void *js_arena_calloc(js_arena_t *a, size_t n) { return memset(js_arena_alloc(a, n), 0, n); }

char *js_arena_strdup(js_arena_t *a, const char *s) {
    if (!s) s = ""; /* protobuf-c leaves unset strings NULL in hand-built messages */
    size_t n = strlen(s) + 1;
    return memcpy(js_arena_alloc(a, n), s, n);
}

char *js_arena_printf(js_arena_t *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *s = js_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

ProtobufCAllocator *js_arena_allocator(js_arena_t *a) { return &a->pa; }
size_t js_arena_used(const js_arena_t *a) { return a->used; }

void js_arena_reset(js_arena_t *a) {
    s_block_t *b = a->head;
    while (b != a->first) {
        s_block_t *next = b->next;
        free(b);
        b = next;
    }
    a->head = a->first;
    a->first->used = 0;
    a->used = 0;
    a->block_size = a->first->cap; /* growth starts over: a reused arena must not double for ever */
}

void js_arena_destroy(js_arena_t **ap) {
    if (!ap || !*ap) return;
    js_arena_t *a = *ap;
    js_arena_reset(a);
    free(a->first);
    free(a);
    *ap = NULL;
}
