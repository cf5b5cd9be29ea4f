/* test_envelope.c -- every way a boundary message can be bad is refused, and
 * named; a good one comes back whole. Bad bytes are crafted by hand (tags and
 * lengths written here, field numbers read from the descriptors), so the test
 * does not trust protobuf-c's packer to produce what it then refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"
#include "ids.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct {
    uint8_t b[4096];
    size_t n;
} buf_t;

static void put(buf_t *o, const void *p, size_t n) {
    assert_true(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_varint(buf_t *o, uint64_t v) {
    uint8_t t[10];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    put(o, t, n);
}

/* An unknown varint field: tag (field << 3 | 0) then the value 1. */
static void put_unknown(buf_t *o, uint32_t field) {
    put_varint(o, (uint64_t)field << 3);
    put_varint(o, 1);
}

static void put_packed(buf_t *o, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    assert_true(o->n + n <= sizeof o->b);
    o->n += protobuf_c_message_pack(m, o->b + o->n);
}

/* Append inner as the length-delimited field `name` of a message of type d. */
static void put_nested(buf_t *o, const ProtobufCMessageDescriptor *d, const char *name, const buf_t *inner) {
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    assert_non_null(f);
    put_varint(o, (uint64_t)f->id << 3 | 2);
    put_varint(o, inner->n);
    put(o, inner->b, inner->n);
}

/* An envelope with every header field set and no payload: the start of every crafted message. */
static void put_header(buf_t *o, char id[JS_ID_LEN + 1]) {
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    js_env_init(&env, id, "jiesu.submission", "test/1", "", "");
    put_packed(o, &env.base);
}

static int unpack(const uint8_t *b, size_t n, char *err, size_t errlen) {
    js_env_t *e = (js_env_t *)0x1; /* must be overwritten either way */
    int rc = js_env_unpack(b, n, JS_ENV_MAX_DEFAULT, &e, err, errlen);
    if (rc == 0) {
        assert_non_null(e);
        assert_int_equal(js_env_check(e, NULL, 0), 0);
        js_env_free(e);
    } else {
        assert_null(e);
        if (errlen) assert_true(strlen(err) > 0);
    }
    return rc;
}

#define UNPACK(b, n) unpack((b), (n), err, sizeof err)

/* A full envelope with a submission; every piece lives in s. */
typedef struct {
    js_env_t env;
    char id[JS_ID_LEN + 1];
    Jiesu__V1__Submission sub;
    Jiesu__V1__RequesterInput req;
    Jiesu__V1__Location loc;
    Jiesu__V1__Attachment att[2];
    Jiesu__V1__Attachment *atts[2];
} sample_t;

static void sample(sample_t *s, const char *content, const char *name) {
    memset(s, 0, sizeof *s);
    jiesu__v1__envelope__init(&s->env);
    jiesu__v1__submission__init(&s->sub);
    jiesu__v1__requester_input__init(&s->req);
    jiesu__v1__location__init(&s->loc);
    s->sub.content = (char *)content;
    s->sub.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    s->req.name = (char *)name;
    s->req.contact = "13812345678";
    s->sub.requester = &s->req;
    s->loc.address = "朝阳区建国路 1 号";
    s->sub.location = &s->loc;
    for (int i = 0; i < 2; i++) {
        jiesu__v1__attachment__init(&s->att[i]);
        s->att[i].url = i ? "https://example.cn/b.jpg" : "https://example.cn/a.jpg";
        s->att[i].media_type = "image/jpeg";
        s->atts[i] = &s->att[i];
    }
    s->sub.n_attachments = 2;
    s->sub.attachments = s->atts;
    js_env_init(&s->env, s->id, "jiesu.submission", "test/1", NULL, NULL);
    s->env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION;
    s->env.submission = &s->sub;
}

static uint64_t s_rng;
static uint64_t rnd(void) { /* xorshift64*: seeded, so a failure repeats */
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * UINT64_C(2685821657736338717);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_roundtrip(void **st) {
    (void)st;
    sample_t s;
    int64_t before = js_now_ms();
    sample(&s, "路灯坏了", "张三");
    assert_true(js_id_valid(s.id));
    assert_ptr_equal(s.env.id, s.id);
    assert_string_equal(s.env.subject, "");
    assert_string_equal(s.env.trace_id, "");
    assert_true(s.env.time_ms > before - 60000 &&
                s.env.time_ms < before + 60000); /* now, give or take a clock step */
    s.env.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    size_t n;
    uint8_t *b = js_env_pack(&s.env, &n);
    assert_int_equal(n, protobuf_c_message_get_packed_size(&s.env.base));
    js_env_t *e;
    char err[256];
    assert_int_equal(js_env_unpack(b, n, JS_ENV_MAX_DEFAULT, &e, err, sizeof err), 0);
    assert_string_equal(e->id, s.id);
    assert_string_equal(e->type, "jiesu.submission");
    assert_string_equal(e->source, "test/1");
    assert_string_equal(e->spec_version, "1.0");
    assert_string_equal(e->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_int_equal(e->time_ms, s.env.time_ms);
    assert_int_equal(e->payload_case, JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION);
    assert_string_equal(e->submission->content, "路灯坏了");
    assert_int_equal(e->submission->channel, JIESU__V1__CHANNEL__CHANNEL_WEB);
    assert_string_equal(e->submission->requester->name, "张三");
    assert_string_equal(e->submission->location->address, "朝阳区建国路 1 号");
    assert_int_equal(e->submission->n_attachments, 2);
    assert_string_equal(e->submission->attachments[1]->url, "https://example.cn/b.jpg");
    /* and back to the same bytes */
    size_t n2;
    uint8_t *b2 = js_env_pack(e, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(b2, b, n);
    free(b2);
    js_env_free(e);
    js_env_free(NULL);
    /* exactly at the limit is fine, one byte over is not */
    assert_int_equal(js_env_unpack(b, n, n, &e, err, sizeof err), 0);
    js_env_free(e);
    assert_int_equal(js_env_unpack(b, n, n - 1, &e, err, sizeof err), -E2BIG);
    assert_null(e);
    free(b);
    /* an empty envelope packs to nothing, and that is still a buffer to free */
    js_env_t empty = JIESU__V1__ENVELOPE__INIT;
    b = js_env_pack(&empty, &n);
    assert_non_null(b);
    assert_int_equal(n, 0);
    assert_int_equal(UNPACK(b, 0), JS_EREQUIRED);
    assert_string_equal(err, "envelope.id is required");
    free(b);
}

static void test_random_bytes(void **st) {
    (void)st;
    s_rng = 0x5EEDULL;
    char err[256];
    int ok = 0;
    for (int i = 0; i < 10000; i++) {
        uint8_t buf[300];
        size_t n = rnd() % (sizeof buf + 1);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)(rnd() >> 56);
        if (UNPACK(buf, n) == 0) ok++;
    }
    assert_true(ok < 100); /* random bytes are (almost) never a whole envelope */
}

static void test_mutated(void **st) {
    (void)st;
    sample_t s;
    sample(&s, "井盖丢了，晚上很危险", "李四");
    size_t n;
    uint8_t *good = js_env_pack(&s.env, &n);
    s_rng = 0xC0FFEEULL;
    char err[256];
    int ok = 0, bad = 0;
    for (int i = 0; i < 10000; i++) {
        uint8_t b[512];
        assert_true(n + 8 <= sizeof b);
        memcpy(b, good, n);
        size_t len = n;
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; k++)
            b[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
        if (rnd() % 4 == 0) len = rnd() % (len + 1);
        if (UNPACK(b, len) == 0)
            ok++;
        else
            bad++;
    }
    assert_int_equal(ok + bad, 10000);
    assert_true(bad > 1000); /* flips in tags and lengths do get caught */
    free(good);
}

static void test_truncated_and_big(void **st) {
    (void)st;
    sample_t s;
    sample(&s, "路灯坏了很久了", "张三");
    size_t n;
    uint8_t *b = js_env_pack(&s.env, &n);
    char err[256];
    /* the payload comes last, so every cut loses it or breaks a length */
    for (size_t cut = 0; cut < n; cut++) {
        int rc = UNPACK(b, cut);
        assert_true(rc == -EPROTO || rc == JS_EREQUIRED);
    }
    assert_int_equal(UNPACK(b, n), 0);
    free(b);
    size_t big = 10 * 1024 * 1024;
    uint8_t *huge = calloc(big, 1);
    assert_non_null(huge);
    js_env_t *e = NULL;
    assert_int_equal(js_env_unpack(huge, big, 1024 * 1024, &e, err, sizeof err), -E2BIG);
    assert_null(e);
    assert_non_null(strstr(err, "10485760"));
    free(huge);
}

static void test_field0(void **st) {
    (void)st;
    char id[JS_ID_LEN + 1], err[256];
    buf_t o = {.n = 0};
    put_header(&o, id);
    size_t h = o.n;
    /* One-byte tag 0: protobuf-c refuses it while decoding. */
    static const uint8_t varint0[] = {0x00, 0x01}, len0[] = {0x02, 0x01, 'y'};
    put(&o, varint0, sizeof varint0);
    assert_int_equal(UNPACK(o.b, o.n), -EPROTO);
    o.n = h;
    put(&o, len0, sizeof len0);
    assert_int_equal(UNPACK(o.b, o.n), -EPROTO);
    /* The same tags as overlong varints get through protobuf-c as unknown
     * field 0; we refuse them. */
    static const uint8_t varint0_long[] = {0x80, 0x00, 0x01}, len0_long[] = {0x82, 0x80, 0x00, 0x01, 'y'},
                         five[] = {0x80, 0x80, 0x80, 0x80, 0x00, 0x01};
    o.n = h;
    put(&o, varint0_long, sizeof varint0_long);
    assert_int_equal(UNPACK(o.b, o.n), JS_EPROTO_FIELD0);
    assert_string_equal(err, "envelope: field number 0");
    o.n = h;
    put(&o, len0_long, sizeof len0_long);
    assert_int_equal(UNPACK(o.b, o.n), JS_EPROTO_FIELD0);
    o.n = h;
    put(&o, five, sizeof five);
    assert_int_equal(UNPACK(o.b, o.n), JS_EPROTO_FIELD0);
    /* field 0 wins over another unknown field in the same message */
    o.n = h;
    put_unknown(&o, 99);
    put(&o, varint0_long, sizeof varint0_long);
    assert_int_equal(UNPACK(o.b, o.n), JS_EPROTO_FIELD0);
    /* and nested, inside the submission's requester */
    buf_t r = {.n = 0}, sub = {.n = 0};
    Jiesu__V1__RequesterInput ri = JIESU__V1__REQUESTER_INPUT__INIT;
    ri.name = "张三";
    put_packed(&r, &ri.base);
    put(&r, varint0_long, sizeof varint0_long);
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    s.content = "x";
    put_packed(&sub, &s.base);
    put_nested(&sub, &jiesu__v1__submission__descriptor, "requester", &r);
    o.n = h;
    put_nested(&o, &jiesu__v1__envelope__descriptor, "submission", &sub);
    assert_int_equal(UNPACK(o.b, o.n), JS_EPROTO_FIELD0);
    assert_string_equal(err, "envelope.submission.requester: field number 0");
}

static void test_unknown(void **st) {
    (void)st;
    char id[JS_ID_LEN + 1], err[256];
    buf_t o = {.n = 0};
    put_header(&o, id);
    size_t h = o.n;
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    s.content = "x";
    buf_t sub = {.n = 0};
    put_packed(&sub, &s.base);
    put_nested(&o, &jiesu__v1__envelope__descriptor, "submission", &sub);
    assert_int_equal(UNPACK(o.b, o.n), 0);
    size_t whole = o.n;

    /* top level, after and before the payload */
    put_unknown(&o, 99);
    assert_int_equal(UNPACK(o.b, o.n), JS_EUNKNOWN);
    assert_string_equal(err, "envelope: unknown field 99");
    o.n = whole;
    put_unknown(&o, 536870911); /* the highest field number there is */
    assert_int_equal(UNPACK(o.b, o.n), JS_EUNKNOWN);
    assert_string_equal(err, "envelope: unknown field 536870911");
    /* before the header, length-delimited, numbered between known fields */
    buf_t first = {.n = 0};
    put_varint(&first, 10 << 3 | 2);
    put_varint(&first, 3);
    put(&first, "abc", 3);
    put(&first, o.b, whole);
    assert_int_equal(UNPACK(first.b, first.n), JS_EUNKNOWN);
    assert_string_equal(err, "envelope: unknown field 10");

    /* in the submission */
    buf_t sub2 = sub;
    put_unknown(&sub2, 4000);
    o.n = h;
    put_nested(&o, &jiesu__v1__envelope__descriptor, "submission", &sub2);
    assert_int_equal(UNPACK(o.b, o.n), JS_EUNKNOWN);
    assert_string_equal(err, "envelope.submission: unknown field 4000");

    /* two levels down: submission.location.coordinates */
    Jiesu__V1__Coordinates c = JIESU__V1__COORDINATES__INIT;
    c.lat = 39.9;
    buf_t cb = {.n = 0}, lb = {.n = 0}, sb = sub;
    put_packed(&cb, &c.base);
    put_unknown(&cb, 77);
    Jiesu__V1__Location l = JIESU__V1__LOCATION__INIT;
    l.address = "建国路";
    put_packed(&lb, &l.base);
    put_nested(&lb, &jiesu__v1__location__descriptor, "coordinates", &cb);
    put_nested(&sb, &jiesu__v1__submission__descriptor, "location", &lb);
    o.n = h;
    put_nested(&o, &jiesu__v1__envelope__descriptor, "submission", &sb);
    assert_int_equal(UNPACK(o.b, o.n), JS_EUNKNOWN);
    assert_string_equal(err, "envelope.submission.location.coordinates: unknown field 77");

    /* in the second element of a repeated message */
    Jiesu__V1__Attachment a = JIESU__V1__ATTACHMENT__INIT;
    a.url = "https://example.cn/a.jpg";
    buf_t a0 = {.n = 0}, a1;
    put_packed(&a0, &a.base);
    a1 = a0;
    put_unknown(&a1, 5);
    sb = sub;
    put_nested(&sb, &jiesu__v1__submission__descriptor, "attachments", &a0);
    put_nested(&sb, &jiesu__v1__submission__descriptor, "attachments", &a1);
    o.n = h;
    put_nested(&o, &jiesu__v1__envelope__descriptor, "submission", &sb);
    assert_int_equal(UNPACK(o.b, o.n), JS_EUNKNOWN);
    assert_string_equal(err, "envelope.submission.attachments[1]: unknown field 5");

    /* in a map entry (a map is a repeated entry message): heartbeat.counters */
    buf_t entry = {.n = 0}, hb = {.n = 0};
    put_varint(&entry, 1 << 3 | 2); /* key */
    put_varint(&entry, 1);
    put(&entry, "k", 1);
    put_varint(&entry, 2 << 3 | 0); /* value */
    put_varint(&entry, 7);
    Jiesu__V1__Heartbeat hbm = JIESU__V1__HEARTBEAT__INIT;
    hbm.service = "intake";
    put_packed(&hb, &hbm.base);
    put_nested(&hb, &jiesu__v1__heartbeat__descriptor, "counters", &entry);
    o.n = h;
    put_nested(&o, &jiesu__v1__envelope__descriptor, "heartbeat", &hb);
    assert_int_equal(UNPACK(o.b, o.n), 0);
    put_unknown(&entry, 3);
    hb.n = 0;
    put_packed(&hb, &hbm.base);
    put_nested(&hb, &jiesu__v1__heartbeat__descriptor, "counters", &entry);
    o.n = h;
    put_nested(&o, &jiesu__v1__envelope__descriptor, "heartbeat", &hb);
    assert_int_equal(UNPACK(o.b, o.n), JS_EUNKNOWN);
    assert_string_equal(err, "envelope.heartbeat.counters[0]: unknown field 3");
}

static void test_utf8(void **st) {
    (void)st;
    char err[256];
    sample_t s;
    size_t n;
    uint8_t *b;
    static const struct {
        const char *bad;
    } cases[] = {{"bad \xff name"}, {"\xc0\xaf"},         {"\xed\xa0\x80"},
                 {"\xe5\xbc"},      {"\xf4\x90\x80\x80"}, {"x\x80"}};
    for (size_t i = 0; i < JS_ARRAY_LEN(cases); i++) {
        sample(&s, "ok", cases[i].bad);
        b = js_env_pack(&s.env, &n);
        assert_int_equal(UNPACK(b, n), JS_EUTF8);
        assert_string_equal(err, "envelope.submission.requester.name: invalid UTF-8");
        free(b);
    }
    sample(&s, "ok", "张三");
    s.att[1].media_type = "image/\xfe";
    b = js_env_pack(&s.env, &n);
    assert_int_equal(UNPACK(b, n), JS_EUTF8);
    assert_string_equal(err, "envelope.submission.attachments[1].media_type: invalid UTF-8");
    free(b);
    /* 4-byte characters are fine */
    sample(&s, "🙂 井盖 𠀀", "张三");
    b = js_env_pack(&s.env, &n);
    assert_int_equal(UNPACK(b, n), 0);
    free(b);
    /* a header string */
    sample(&s, "ok", "张三");
    s.env.subject = "\xff";
    b = js_env_pack(&s.env, &n);
    assert_int_equal(UNPACK(b, n), JS_EUTF8);
    assert_string_equal(err, "envelope.subject: invalid UTF-8");
    free(b);

    /* repeated strings and map keys */
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.alert", "test/1", NULL, NULL);
    Jiesu__V1__Alert al = JIESU__V1__ALERT__INIT;
    char *ids[] = {"A", "B\xff", "C"};
    al.n_order_ids = 3;
    al.order_ids = ids;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_ALERT;
    env.alert = &al;
    b = js_env_pack(&env, &n);
    assert_int_equal(UNPACK(b, n), JS_EUTF8);
    assert_string_equal(err, "envelope.alert.order_ids[1]: invalid UTF-8");
    free(b);
    Jiesu__V1__Heartbeat hb = JIESU__V1__HEARTBEAT__INIT;
    Jiesu__V1__Heartbeat__CountersEntry ce = JIESU__V1__HEARTBEAT__COUNTERS_ENTRY__INIT, *ces[] = {&ce};
    ce.key = "orders\xc3";
    ce.value = 3;
    hb.n_counters = 1;
    hb.counters = ces;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_HEARTBEAT;
    env.heartbeat = &hb;
    b = js_env_pack(&env, &n);
    assert_int_equal(UNPACK(b, n), JS_EUTF8);
    assert_string_equal(err, "envelope.heartbeat.counters[0].key: invalid UTF-8");
    free(b);

    /* js_msg_check on any message, named from its own type; NULL strings are absent, not bad */
    Jiesu__V1__ClockEvent ev = JIESU__V1__CLOCK_EVENT__INIT;
    assert_int_equal(js_msg_check(&ev.base, err, sizeof err), 0);
    Jiesu__V1__RequesterInput ri = JIESU__V1__REQUESTER_INPUT__INIT;
    ri.name = NULL;
    ri.contact = "\xff";
    assert_int_equal(js_msg_check(&ri.base, err, sizeof err), JS_EUTF8);
    assert_string_equal(err, "requester_input.contact: invalid UTF-8");
    assert_int_equal(js_msg_check(&ri.base, NULL, 0), JS_EUTF8);
    char tiny[8];
    assert_int_equal(js_msg_check(&ri.base, tiny, sizeof tiny), JS_EUTF8);
    assert_string_equal(tiny, "request");
}

static void test_required(void **st) {
    (void)st;
    char err[256];
    static const char *const fields[] = {"id", "type", "source", "payload"};
    for (size_t i = 0; i < JS_ARRAY_LEN(fields); i++) {
        sample_t s;
        sample(&s, "ok", "张三");
        if (i == 0) s.env.id = "";
        if (i == 1) s.env.type = "";
        if (i == 2) s.env.source = "";
        if (i == 3) s.env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD__NOT_SET;
        size_t n;
        uint8_t *b = js_env_pack(&s.env, &n);
        assert_int_equal(UNPACK(b, n), JS_EREQUIRED);
        char want[64];
        snprintf(want, sizeof want, "envelope.%s is required", fields[i]);
        assert_string_equal(err, want);
        free(b);
        /* and for an envelope checked without decoding, NULL counts as missing */
        if (i == 1) {
            s.env.type = NULL;
            assert_int_equal(js_env_check(&s.env, err, sizeof err), JS_EREQUIRED);
            assert_string_equal(err, want);
        }
    }
    /* a set payload may be empty: a ping */
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.ping", "test/1", NULL, NULL);
    Jiesu__V1__Ping ping = JIESU__V1__PING__INIT;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_PING;
    env.ping = &ping;
    size_t n;
    uint8_t *b = js_env_pack(&env, &n);
    assert_int_equal(UNPACK(b, n), 0);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_mutated),   cmocka_unit_test(test_truncated_and_big),
        cmocka_unit_test(test_field0),    cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_utf8),      cmocka_unit_test(test_required),
    };
    return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
