/* test_partner.c -- the dispatcher's partner sender, its pure parts: the
 * peers file, the partner an order goes to, the Submission that leaves this
 * city (no contact data), the transferred state (services/dispatcher/partner.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../services/dispatcher/partner.h"

static const int64_t NOW = 1763800000000LL;
static char s_path[64];
static char s_pub[2][41];

static int setup(void **st) {
    (void)st;
    char sec[41];
    for (int i = 0; i < 2; i++)
        if (js_curve_keypair(s_pub[i], sec) < 0) return -1;
    snprintf(s_path, sizeof s_path, "/tmp/jiesu-peers-XXXXXX");
    int fd = mkstemp(s_path);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    unlink(s_path);
    return 0;
}

static void write_peers(const char *text) {
    FILE *f = fopen(s_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_peers_file(void **st) {
    (void)st;
    char text[512], err[512];
    snprintf(text, sizeof text, "# partner hotlines\n\ncityB\ttcp://10.0.0.2:7015\t%s\n  tj  ipc:///run/tj.sock  %s\n",
             s_pub[0], s_pub[1]);
    write_peers(text);
    partner_peers_t p = {NULL, 0};
    assert_int_equal(partner_peers_load(s_path, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 2);
    const partner_peer_t *b = partner_peers_find(&p, "cityB");
    assert_non_null(b);
    assert_string_equal(b->endpoint, "tcp://10.0.0.2:7015");
    assert_string_equal(b->server_key, s_pub[0]);
    assert_string_equal(partner_peers_find(&p, "tj")->endpoint, "ipc:///run/tj.sock");
    assert_null(partner_peers_find(&p, "cityC"));
    assert_null(partner_peers_find(&p, ""));
    /* each error names its line; the peers in hand stay */
    struct {
        const char *fmt, *want;
    } bad[] = {
        {"cityB\ttcp://h:1\n", ":1: want 'partner_id<TAB>endpoint<TAB>server Z85 public key'"},
        {"# c\ncityB\ttcp://h:1\t%s\textra\n", ":2: want"},
        {"city/B\ttcp://h:1\t%s\n", ":1: bad partner id 'city/B'"},
        {"cityB\thttp://h:1\t%s\n", ":1: 'http://h:1' is not a ZeroMQ endpoint"},
        {"cityB\ttcp://\t%s\n", "is not a ZeroMQ endpoint"},
        {"cityB\ttcp://h:1\tshort\n", ":1: 'short' is not a 40-character Z85 public key"},
        {"cityB\ttcp://h:1\t%s\ncityB\ttcp://h:2\t%s\n", ":2: partner 'cityB' is listed twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, bad[i].fmt, s_pub[0], s_pub[1]);
        write_peers(text);
        assert_int_equal(partner_peers_load(s_path, &p, err, sizeof err), -EINVAL);
        if (!strstr(err, bad[i].want)) fail_msg("case %zu: got '%s', want '%s'", i, err, bad[i].want);
        assert_non_null(strstr(err, s_path));
        assert_int_equal(p.n, 2);
    }
    assert_int_equal(partner_peers_load("/nonexistent/peers.tsv", &p, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/peers.tsv"));
    assert_int_equal(p.n, 2);
    write_peers("# nobody yet\n");
    assert_int_equal(partner_peers_load(s_path, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(partner_peers_load("", &p, err, sizeof err), 0);
    partner_peers_free(&p);
    partner_peers_free(&p); /* idempotent */
}

static Jiesu__V1__Order *order(js_arena_t *a) {
    Jiesu__V1__Order *o = js_arena_alloc(a, sizeof *o);
    jiesu__v1__order__init(o);
    o->id = "01M82YAR5V8SAHY0Z1YME47WPB";
    o->content = "邻市滨江路的路灯坏了一排";
    o->title = "路灯";
    o->received_ms = NOW - 60000;
    o->stage = JIESU__V1__STAGE__STAGE_TRANSFERRING;
    o->version = 4;
    Jiesu__V1__Requester *r = js_arena_alloc(a, sizeof *r);
    jiesu__v1__requester__init(r);
    r->name_masked = "张**";
    r->contact_masked = "138****1111";
    r->requester_key = "0123456789abcdef0123456789abcdef";
    o->requester = r;
    Jiesu__V1__Location *l = js_arena_alloc(a, sizeof *l);
    jiesu__v1__location__init(l);
    l->address = "邻市滨江路88号";
    o->location = l;
    return o;
}

static void test_target(void **st) {
    (void)st;
    js_arena_t *a = js_arena_new(4096);
    Jiesu__V1__Order *o = order(a);
    assert_string_equal(partner_target(o), "");
    Jiesu__V1__Assignment *as = js_arena_alloc(a, sizeof *as), **v = js_arena_alloc(a, sizeof *v);
    jiesu__v1__assignment__init(as);
    as->partner_id = "cityC";
    v[0] = as;
    o->assignments = v;
    o->n_assignments = 1;
    assert_string_equal(partner_target(o), "cityC");
    o->partner_id = "cityB";
    assert_string_equal(partner_target(o), "cityB"); /* the order's own wins */
    js_arena_destroy(&a);
}

static void test_submission_leaves_the_contact(void **st) {
    (void)st;
    js_arena_t *a = js_arena_new(4096);
    Jiesu__V1__Order *o = order(a);
    Jiesu__V1__Submission s = JIESU__V1__SUBMISSION__INIT;
    partner_build_submission(a, o, "cityA", NOW, &s);
    assert_int_equal(s.channel, JIESU__V1__CHANNEL__CHANNEL_PARTNER);
    assert_string_equal(s.partner_id, "cityA");
    assert_string_equal(s.partner_order_id, o->id);
    assert_string_equal(s.idempotency_key, o->id);
    assert_string_equal(s.content, o->content);
    assert_string_equal(s.title, "路灯");
    assert_string_equal(s.location->address, "邻市滨江路88号");
    assert_int_equal(s.occurred_ms, o->received_ms);
    assert_non_null(s.requester);
    assert_string_equal(s.requester->contact, "");
    assert_string_equal(s.requester->name, "张**");
    assert_false(s.requester->anonymous);
    assert_int_equal(s.requester->callback_method, JIESU__V1__CALLBACK_METHOD__CALLBACK_METHOD_NONE);
    /* the bytes that leave hold no contact and no requester key */
    size_t n = protobuf_c_message_get_packed_size(&s.base);
    uint8_t *buf = js_arena_alloc(a, n);
    protobuf_c_message_pack(&s.base, buf);
    assert_null(memmem(buf, n, "1111", 4));
    assert_null(memmem(buf, n, "0123456789abcdef", 16));
    /* anonymous: no name either; an old order: no time the partner would refuse */
    o->requester->anonymous = true;
    o->received_ms = NOW - INT64_C(400) * 86400000;
    Jiesu__V1__Submission s2 = JIESU__V1__SUBMISSION__INIT;
    partner_build_submission(a, o, "", NOW, &s2);
    assert_true(s2.requester->anonymous);
    assert_string_equal(s2.requester->name, "");
    assert_int_equal(s2.occurred_ms, 0);
    assert_string_equal(s2.partner_id, "");
    o->requester = NULL;
    Jiesu__V1__Submission s3 = JIESU__V1__SUBMISSION__INIT;
    partner_build_submission(a, o, "cityA", NOW, &s3);
    assert_true(s3.requester->anonymous);
    js_arena_destroy(&a);
}

static void test_mark_transferred(void **st) {
    (void)st;
    js_arena_t *a = js_arena_new(4096);
    Jiesu__V1__Order *o = order(a);
    partner_mark_transferred(a, o, "cityB", "01M8ZZZZZZZZZZZZZZZZZZZZZZ", NOW, "01M8EVENT0000000000000000A");
    assert_int_equal(o->stage, JIESU__V1__STAGE__STAGE_TRANSFERRED);
    assert_int_equal(o->version, 5);
    assert_string_equal(o->partner_id, "cityB");
    assert_string_equal(o->partner_order_id, "01M8ZZZZZZZZZZZZZZZZZZZZZZ");
    assert_non_null(strstr(o->close_reason, "cityB"));
    assert_non_null(strstr(o->close_reason, "01M8ZZZZZZZZZZZZZZZZZZZZZZ"));
    assert_int_equal(o->disposition, JIESU__V1__DISPOSITION__DISPOSITION_PARTNER);
    assert_int_equal(o->n_history, 1);
    const Jiesu__V1__HistoryEntry *h = o->history[0];
    assert_string_equal(h->type, "jiesu.order.transferred");
    assert_int_equal(h->time_ms, NOW);
    assert_string_equal(h->event_id, "01M8EVENT0000000000000000A");
    assert_int_equal(h->actor->role, JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_PARTNER);
    assert_string_equal(h->actor->partner_id, "cityB");
    /* it packs and reads back */
    size_t n = protobuf_c_message_get_packed_size(&o->base);
    uint8_t *buf = js_arena_alloc(a, n);
    protobuf_c_message_pack(&o->base, buf);
    Jiesu__V1__Order *back = jiesu__v1__order__unpack(NULL, n, buf);
    assert_non_null(back);
    assert_string_equal(back->partner_order_id, "01M8ZZZZZZZZZZZZZZZZZZZZZZ");
    jiesu__v1__order__free_unpacked(back, NULL);
    js_arena_destroy(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peers_file),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_submission_leaves_the_contact),
        cmocka_unit_test(test_mark_transferred),
    };
    return cmocka_run_group_tests_name("dispatcher partner", tests, setup, teardown);
}
