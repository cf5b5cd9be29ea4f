/* test_stage.c -- the stage worker's pure helpers: the envelope built by
 * concatenation decodes like a packed one, history grows in the arena, and
 * unpacking into an arena applies the boundary checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ids.h"
#include "stage.h"

static Jiesu__V1__Order *sample(js_arena_t *a) {
    Jiesu__V1__Order *o = js_arena_alloc(a, sizeof *o);
    jiesu__v1__order__init(o);
    o->id = "01JABCDEFGHJKMNPQRSTVWXYZ0";
    o->content = "小区东门的下水道堵了";
    o->stage = JIESU__V1__STAGE__STAGE_RECEIVED;
    o->version = 1;
    o->trace_id = "0123456789abcdef0123456789abcdef";
    return o;
}

static void test_pack_with_order(void **st) {
    (void)st;
    js_arena_t *a = js_arena_new(1024);
    Jiesu__V1__Order *o = sample(a);
    /* a content long enough that the length varint takes two bytes */
    char *big = js_arena_alloc(a, 1000);
    memset(big, 'x', 999);
    big[999] = 0;
    o->title = big;
    size_t bl = protobuf_c_message_get_packed_size(&o->base);
    uint8_t *blob = js_arena_alloc(a, bl);
    protobuf_c_message_pack(&o->base, blob);
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.order.received", "test/1", o->id, o->trace_id);
    env.version = 1;
    size_t len;
    uint8_t *bytes = js_env_pack_with_order(a, &env, blob, bl, &len);

    /* the same as protobuf-c's own packing of the full envelope */
    js_env_t full = env;
    full.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_ORDER;
    full.order = o;
    size_t fl = protobuf_c_message_get_packed_size(&full.base);
    uint8_t *fb = malloc(fl);
    protobuf_c_message_pack(&full.base, fb);
    assert_int_equal(fl, len);
    assert_memory_equal(fb, bytes, len);
    free(fb);

    js_env_t *u;
    char err[128];
    assert_int_equal(js_env_unpack_arena(a, bytes, len, 1 << 20, &u, err, sizeof err), 0);
    assert_int_equal(u->payload_case, JIESU__V1__ENVELOPE__PAYLOAD_ORDER);
    assert_string_equal(u->order->content, o->content);
    assert_string_equal(u->subject, o->id);
    js_arena_destroy(&a);
}

static void test_history(void **st) {
    (void)st;
    js_arena_t *a = js_arena_new(256);
    Jiesu__V1__Order *o = sample(a);
    for (int i = 0; i < 50; i++) js_order_add_history(a, o, "jiesu.order.x", 1000 + i, "EID", "svc", NULL);
    assert_int_equal(o->n_history, 50);
    assert_int_equal(o->history[49]->time_ms, 1049);
    assert_string_equal(o->history[0]->actor->name, "svc");
    js_arena_destroy(&a);
}

static void test_unpack_checks(void **st) {
    (void)st;
    js_arena_t *a = js_arena_new(256);
    js_env_t *u;
    char err[128];
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    assert_true(js_env_unpack_arena(a, junk, sizeof junk, 1 << 20, &u, err, sizeof err) < 0);
    assert_int_equal(js_env_unpack_arena(a, junk, sizeof junk, 10, &u, err, sizeof err), -E2BIG);
    /* a valid envelope without a payload */
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.x", "test/1", "", "");
    uint8_t buf[256];
    size_t n = protobuf_c_message_pack(&env.base, buf);
    assert_int_equal(js_env_unpack_arena(a, buf, n, 1 << 20, &u, err, sizeof err), JS_EREQUIRED);
    assert_non_null(strstr(err, "payload"));
    /* an unknown field (number 99, varint) appended */
    Jiesu__V1__Ping ping = JIESU__V1__PING__INIT;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_PING;
    env.ping = &ping;
    n = protobuf_c_message_pack(&env.base, buf);
    assert_int_equal(js_env_unpack_arena(a, buf, n, 1 << 20, &u, err, sizeof err), 0);
    buf[n++] = ((99 << 3) & 0x7f) | 0x80; /* tag of field 99, wire type 0 */
    buf[n++] = 99 >> 4;
    buf[n++] = 1;
    assert_int_equal(js_env_unpack_arena(a, buf, n, 1 << 20, &u, err, sizeof err), JS_EUNKNOWN);
    js_arena_destroy(&a);
}

static void test_stage_names(void **st) {
    (void)st;
    assert_string_equal(js_stage_name(JIESU__V1__STAGE__STAGE_DISPATCHED), "dispatched");
    assert_string_equal(js_stage_name(JIESU__V1__STAGE__STAGE_RECEIVED), "received");
    assert_string_equal(js_stage_name(JIESU__V1__STAGE__STAGE_ESCALATED), "escalated");
    assert_string_equal(js_stage_name(99), "unknown");
    assert_string_equal(js_stage_name(-1), "unknown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_with_order),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_unpack_checks),
        cmocka_unit_test(test_stage_names),
    };
    return cmocka_run_group_tests_name("stage helpers", tests, NULL, NULL);
}
