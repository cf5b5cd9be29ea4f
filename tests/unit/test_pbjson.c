/* test_pbjson.c -- jiesu.v1 messages as JSON: names, enums, defaults, times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"
#include "ids.h"
#include "pbjson.h"

/* 2025-11-23T07:08:46.123+08:00 */
#define T1 1763852926123LL

static const char *str_at(json_t *o, const char *path) {
    /* "a.b.0.c": object keys and array indexes */
    char buf[256];
    strncpy(buf, path, sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    json_t *cur = o;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(tok));
        else
            cur = json_object_get(cur, tok);
    }
    return cur && json_is_string(cur) ? json_string_value(cur) : NULL;
}

static void test_time_format(void **st) {
    (void)st;
    char b[JS_PBJSON_TIME_LEN];
    assert_string_equal(js_pbjson_time(T1, b, sizeof b), "2025-11-23T07:08:46.123+08:00");
    assert_string_equal(js_pbjson_time(0, b, sizeof b), "1970-01-01T08:00:00+08:00");
    /* 07:59:59 UTC is 15:59:59 in Beijing */
    assert_string_equal(js_pbjson_time(1765699199000LL, b, sizeof b), "2025-12-14T15:59:59+08:00");
    assert_string_equal(js_pbjson_time(-1, b, sizeof b), "1970-01-01T07:59:59.999+08:00");
    assert_string_equal(js_pbjson_time(T1 + 877, b, sizeof b), "2025-11-23T07:08:47+08:00");
}

static void test_enum_names(void **st) {
    (void)st;
    char b[64];
    assert_string_equal(
        js_pbjson_enum_name(&jiesu__v1__stage__descriptor, JIESU__V1__STAGE__STAGE_DISPATCHED, b, sizeof b),
        "dispatched");
    assert_string_equal(js_pbjson_enum_name(&jiesu__v1__stage__descriptor,
                                            JIESU__V1__STAGE__STAGE_RETURN_REVIEW, b, sizeof b),
                        "return_review");
    assert_string_equal(js_pbjson_enum_name(&jiesu__v1__assignment_role__descriptor,
                                            JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD, b, sizeof b),
                        "lead");
    /* The type name is not the values' prefix here: the common prefix is used. */
    assert_string_equal(js_pbjson_enum_name(&jiesu__v1__unit_action_kind__descriptor,
                                            JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_RETURN, b, sizeof b),
                        "return");
    assert_string_equal(js_pbjson_enum_name(&jiesu__v1__clock_event_kind__descriptor,
                                            JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_OVERDUE, b, sizeof b),
                        "overdue");
    assert_string_equal(js_pbjson_enum_name(&jiesu__v1__limit_unit__descriptor,
                                            JIESU__V1__LIMIT_UNIT__LIMIT_UNIT_WORKING_DAYS, b, sizeof b),
                        "working_days");
    assert_string_equal(js_pbjson_enum_name(&jiesu__v1__stage__descriptor, 99, b, sizeof b), "99");
}

/* A dispatched order as the dispatcher stores it. */
static Jiesu__V1__Order *make_order(void) {
    static Jiesu__V1__Order o;
    static Jiesu__V1__Requester r;
    static Jiesu__V1__Location loc;
    static Jiesu__V1__Assignment a, *as[1];
    static Jiesu__V1__Limit lim;
    static Jiesu__V1__HistoryEntry h[3], *hs[3];
    static Jiesu__V1__Classification c;
    jiesu__v1__order__init(&o);
    jiesu__v1__requester__init(&r);
    jiesu__v1__location__init(&loc);
    jiesu__v1__assignment__init(&a);
    jiesu__v1__limit__init(&lim);
    jiesu__v1__classification__init(&c);
    o.id = "01KAQ7Z4N8W3Q2YV0M5R6T9BXE";
    o.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    o.received_ms = T1;
    r.contact_masked = "138****0000";
    r.callback_method = JIESU__V1__CALLBACK_METHOD__CALLBACK_METHOD_PHONE;
    o.requester = &r;
    o.content = "小区东门的下水道堵了";
    loc.address = "东门";
    o.location = &loc;
    o.stage = JIESU__V1__STAGE__STAGE_DISPATCHED;
    o.version = 3;
    lim.amount = 5;
    lim.unit = JIESU__V1__LIMIT_UNIT__LIMIT_UNIT_WORKING_DAYS;
    a.unit_id = "city-housing";
    a.role = JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD;
    a.limit = &lim;
    a.assigned_ms = T1 + 2000;
    a.due_ms = 1765699199000LL;
    as[0] = &a;
    o.n_assignments = 1;
    o.assignments = as;
    const char *types[] = {"jiesu.order.received", "jiesu.order.classified", "jiesu.order.dispatched"};
    for (int i = 0; i < 3; i++) {
        jiesu__v1__history_entry__init(&h[i]);
        h[i].type = (char *)types[i];
        h[i].time_ms = T1 + i * 1000;
        hs[i] = &h[i];
    }
    o.n_history = 3;
    o.history = hs;
    c.type = JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT;
    c.type_confidence = 0.9f;
    o.classification = &c;
    return &o;
}

static void test_order(void **st) {
    (void)st;
    Jiesu__V1__Order *o = make_order();
    json_t *j = js_pb_to_json(&o->base, 0);
    assert_non_null(j);
    assert_string_equal(str_at(j, "id"), "01KAQ7Z4N8W3Q2YV0M5R6T9BXE");
    assert_string_equal(str_at(j, "stage"), "dispatched");
    assert_string_equal(str_at(j, "channel"), "web");
    assert_string_equal(str_at(j, "content"), "小区东门的下水道堵了");
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "received_ms")), T1);
    assert_string_equal(str_at(j, "requester.contact_masked"), "138****0000");
    assert_string_equal(str_at(j, "requester.callback_method"), "phone");
    assert_string_equal(str_at(j, "assignments.0.role"), "lead");
    assert_string_equal(str_at(j, "assignments.0.limit.unit"), "working_days");
    assert_string_equal(str_at(j, "classification.type"), "complaint");
    /* Defaults are left out: no title, no empty attachments, no requester.anonymous. */
    assert_null(json_object_get(j, "title"));
    assert_null(json_object_get(j, "attachments"));
    assert_null(json_object_get(json_object_get(j, "requester"), "anonymous"));
    assert_null(json_object_get(json_object_get(j, "requester"), "contact_sealed"));
    /* Without TIMES: no siblings, no aliases. */
    assert_null(json_object_get(j, "received"));
    assert_null(json_object_get(json_array_get(json_object_get(j, "assignments"), 0), "unit"));
    /* float precision: 0.9f reads 0.9 */
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    assert_non_null(strstr(s, "\"type_confidence\":0.9}"));
    free(s);
    json_decref(j);
}

static void test_order_times(void **st) {
    (void)st;
    Jiesu__V1__Order *o = make_order();
    json_t *j = js_pb_to_json(&o->base, JS_PBJSON_TIMES);
    assert_string_equal(str_at(j, "received"), "2025-11-23T07:08:46.123+08:00");
    assert_string_equal(str_at(j, "history.0.type"), "jiesu.order.received");
    assert_string_equal(str_at(j, "history.0.time"), "2025-11-23T07:08:46.123+08:00");
    assert_string_equal(str_at(j, "history.2.time"), "2025-11-23T07:08:48.123+08:00");
    assert_string_equal(str_at(j, "assignments.0.unit"), "city-housing");
    assert_string_equal(str_at(j, "assignments.0.unit_id"), "city-housing");
    assert_string_equal(str_at(j, "assignments.0.due"), "2025-12-14T15:59:59+08:00");
    assert_string_equal(str_at(j, "assignments.0.assigned"), "2025-11-23T07:08:48.123+08:00");
    /* The sibling comes right after its field. */
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(s, "\"time_ms\":1763852926123,\"time\":\"2025-11-23T07:08:46.123+08:00\""));
    free(s);
    json_decref(j);
}

static void test_defaults_flag(void **st) {
    (void)st;
    Jiesu__V1__Limit lim = JIESU__V1__LIMIT__INIT;
    json_t *j = js_pb_to_json(&lim.base, 0);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    j = js_pb_to_json(&lim.base, JS_PBJSON_DEFAULTS);
    assert_int_equal(json_integer_value(json_object_get(j, "amount")), 0);
    assert_string_equal(str_at(j, "unit"), "unspecified");
    json_decref(j);
    Jiesu__V1__Dispatch d = JIESU__V1__DISPATCH__INIT;
    j = js_pb_to_json(&d.base, JS_PBJSON_DEFAULTS);
    assert_true(json_is_array(json_object_get(j, "assignments")));
    assert_int_equal(json_array_size(json_object_get(j, "assignments")), 0);
    assert_string_equal(str_at(j, "catalog_item"), "");
    json_decref(j);
}

static void test_durations_are_not_times(void **st) {
    (void)st;
    Jiesu__V1__Alert a = JIESU__V1__ALERT__INIT;
    char *ids[] = {"A", "B"};
    a.window_ms = 3600000;
    a.count = 12;
    a.baseline = 2.5;
    a.n_order_ids = 2;
    a.order_ids = ids;
    json_t *j = js_pb_to_json(&a.base, JS_PBJSON_TIMES);
    assert_int_equal(json_integer_value(json_object_get(j, "window_ms")), 3600000);
    assert_null(json_object_get(j, "window"));
    assert_string_equal(str_at(j, "order_ids.1"), "B");
    assert_true(json_real_value(json_object_get(j, "baseline")) == 2.5);
    json_decref(j);
}

static void test_map_and_bytes(void **st) {
    (void)st;
    Jiesu__V1__Heartbeat hb = JIESU__V1__HEARTBEAT__INIT;
    Jiesu__V1__Heartbeat__CountersEntry e1 = JIESU__V1__HEARTBEAT__COUNTERS_ENTRY__INIT, e2 = e1,
                                        *es[] = {&e1, &e2};
    e1.key = "received";
    e1.value = 10000000000LL; /* past 32 bits: stays an exact integer */
    e2.key = "rejected";
    e2.value = 0;
    hb.service = "intake";
    hb.n_counters = 2;
    hb.counters = es;
    json_t *j = js_pb_to_json(&hb.base, 0);
    json_t *c = json_object_get(j, "counters");
    assert_true(json_is_object(c));
    assert_int_equal(json_integer_value(json_object_get(c, "received")), 10000000000LL);
    assert_true(json_is_integer(json_object_get(c, "rejected")));
    json_decref(j);

    Jiesu__V1__Requester r = JIESU__V1__REQUESTER__INIT;
    uint8_t raw[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    r.contact_sealed.data = raw;
    r.contact_sealed.len = sizeof raw;
    j = js_pb_to_json(&r.base, 0);
    assert_string_equal(str_at(j, "contact_sealed"), "3q2+7wA=");
    json_decref(j);
    j = js_pb_to_json(&r.base, JS_PBJSON_NO_BYTES);
    assert_null(json_object_get(j, "contact_sealed"));
    json_decref(j);
}

static void test_oneof_and_bad_utf8(void **st) {
    (void)st;
    /* A Ping is empty, yet a set oneof member is always shown. */
    Jiesu__V1__Ping ping = JIESU__V1__PING__INIT;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.ping", "test/1", "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_PING;
    env.ping = &ping;
    json_t *j = js_pb_to_json(&env.base, JS_PBJSON_TIMES);
    assert_true(json_is_object(json_object_get(j, "ping")));
    assert_null(json_object_get(j, "order"));
    assert_null(json_object_get(j, "pong"));
    assert_string_equal(str_at(j, "type"), "jiesu.ping");
    assert_non_null(str_at(j, "time")); /* from time_ms (now) */
    json_decref(j);

    /* What protobuf-c decodes need not be UTF-8: shown with U+FFFD. */
    Jiesu__V1__Error e = JIESU__V1__ERROR__INIT;
    e.code = "bad\xffname\xe4\xb8";
    j = js_pb_to_json(&e.base, 0);
    assert_string_equal(str_at(j, "code"), "bad\xef\xbf\xbdname\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
}

static void test_roundtrip_through_wire(void **st) {
    (void)st;
    /* What a consumer sees: pack, unpack with the boundary checks, convert. */
    Jiesu__V1__Order *o = make_order();
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.order.dispatched", "test/1", o->id, "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_ORDER;
    env.order = o;
    env.version = 3;
    size_t len;
    uint8_t *buf = js_env_pack(&env, &len);
    js_env_t *e;
    char err[256];
    assert_int_equal(js_env_unpack(buf, len, JS_ENV_MAX_DEFAULT, &e, err, sizeof err), 0);
    json_t *j = js_pb_to_json(&e->base, JS_PBJSON_TIMES);
    assert_string_equal(str_at(j, "order.assignments.0.unit"), "city-housing");
    assert_string_equal(str_at(j, "order.history.1.type"), "jiesu.order.classified");
    assert_string_equal(str_at(j, "subject"), "01KAQ7Z4N8W3Q2YV0M5R6T9BXE");
    json_decref(j);
    js_env_free(e);
    free(buf);
    assert_null(js_pb_to_json(NULL, 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_order_times),
        cmocka_unit_test(test_defaults_flag),
        cmocka_unit_test(test_durations_are_not_times),
        cmocka_unit_test(test_map_and_bytes),
        cmocka_unit_test(test_oneof_and_bad_utf8),
        cmocka_unit_test(test_roundtrip_through_wire),
    };
    return cmocka_run_group_tests_name("pbjson", tests, NULL, NULL);
}
