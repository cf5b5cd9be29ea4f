/* arena.h -- per-message memory, freed at once (nginx's pool).
 * A handler unpacks a message into an arena (js_arena_allocator hands it to
 * protobuf-c), builds its reply in the same arena, and destroys the arena when
 * done: nothing inside is freed one by one, so fields of an unpacked message
 * may be pointed at new arena strings freely. */
#ifndef JS_ARENA_H
#define JS_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct js_arena js_arena_t;

/* Prototypes */
js_arena_t *js_arena_new(size_t first_block);
void *js_arena_alloc(js_arena_t *a, size_t n);       /* 16-byte aligned, never NULL */
void *js_arena_calloc(js_arena_t *a, size_t n);
char *js_arena_strdup(js_arena_t *a, const char *s); /* NULL copies as "" */
char *js_arena_printf(js_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ProtobufCAllocator *js_arena_allocator(js_arena_t *a); /* valid while a lives */
size_t js_arena_used(const js_arena_t *a);
void js_arena_reset(js_arena_t *a);                    /* keep the first block */
void js_arena_destroy(js_arena_t **ap);

#endif
