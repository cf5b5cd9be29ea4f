/* test_jiesuctl.c -- jiesuctl's socket-free parts, and show / tail --from-stream
 * / ping's Redis half against a private redis-server on a free port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../tools/jiesuctl/ctl_json.h"
#include "../../tools/jiesuctl/ctl_redis.h"
#include "../../tools/jiesuctl/ctl_submit.h"
#include "envelope.h"
#include "ids.h"

/* ---- submit ----------------------------------------------------------------- */

static void test_channels(void **st) {
    (void)st;
    assert_int_equal(ctl_channel_parse("phone"), JIESU__V1__CHANNEL__CHANNEL_PHONE);
    assert_int_equal(ctl_channel_parse("wechat"), JIESU__V1__CHANNEL__CHANNEL_WECHAT);
    assert_int_equal(ctl_channel_parse("partner"), JIESU__V1__CHANNEL__CHANNEL_PARTNER);
    assert_int_equal(ctl_channel_parse("Phone"), -1);
    assert_int_equal(ctl_channel_parse("unspecified"), -1);
    assert_int_equal(ctl_channel_parse(NULL), -1);
    assert_string_equal(ctl_channel_name(JIESU__V1__CHANNEL__CHANNEL_WEB), "web");
    assert_string_equal(ctl_channel_name(0), "?");
}

static int parse(ctl_submit_args_t *a, char *err, char **argv) {
    int argc = 0;
    while (argv[argc])
        argc++;
    FILE *out = fopen("/dev/null", "w");
    int rc = ctl_submit_parse(argc, argv, a, out, err, 256);
    fclose(out);
    return rc;
}

static void test_submit_parse(void **st) {
    (void)st;
    ctl_submit_args_t a;
    char err[256];
    char *full[] = {"submit",  "--text",    "路灯坏了", "--contact", "13800000000", "--name",
                    "张三",    "--channel", "web",      "--address", "东门",        "--district=朝阳区",
                    "--title", "路灯",      "--key",    "k-1",       NULL};
    assert_int_equal(parse(&a, err, full), 0);
    assert_string_equal(a.text, "路灯坏了");
    assert_string_equal(a.contact, "13800000000");
    assert_string_equal(a.name, "张三");
    assert_string_equal(a.address, "东门");
    assert_string_equal(a.district, "朝阳区");
    assert_string_equal(a.title, "路灯");
    assert_string_equal(a.key, "k-1");
    assert_int_equal(a.channel, JIESU__V1__CHANNEL__CHANNEL_WEB);

    char *minimal[] = {"submit", "--text=井盖丢了", NULL};
    assert_int_equal(parse(&a, err, minimal), 0);
    assert_int_equal(a.channel, JIESU__V1__CHANNEL__CHANNEL_PHONE); /* the default */
    assert_null(a.key);
    assert_null(a.contact);

    char *no_text[] = {"submit", "--contact", "138", NULL};
    assert_int_equal(parse(&a, err, no_text), -EINVAL);
    assert_non_null(strstr(err, "--text is required"));
    char *bad_channel[] = {"submit", "--text", "x", "--channel", "fax", NULL};
    assert_int_equal(parse(&a, err, bad_channel), -EINVAL);
    assert_non_null(strstr(err, "unknown channel 'fax'"));
    char *unknown[] = {"submit", "--text", "x", "--colour", "red", NULL};
    assert_int_equal(parse(&a, err, unknown), -EINVAL);
    assert_non_null(strstr(err, "unknown option '--colour'"));
    char *no_value[] = {"submit", "--text", NULL};
    assert_int_equal(parse(&a, err, no_value), -EINVAL);
    assert_non_null(strstr(err, "--text needs a value"));
    char *empty_key[] = {"submit", "--text", "x", "--key", "", NULL};
    assert_int_equal(parse(&a, err, empty_key), -EINVAL);
    char *partner[] = {"submit", "--text", "x", "--channel", "partner", NULL};
    assert_int_equal(parse(&a, err, partner), -EINVAL);
    assert_non_null(strstr(err, "--partner"));
    char *partner_ok[] = {"submit", "--text",          "x",   "--channel", "partner", "--partner",
                          "tj",     "--partner-order", "T-9", NULL};
    assert_int_equal(parse(&a, err, partner_ok), 0);

    /* --help prints the usage and asks for exit 0 */
    char *help[] = {"submit", "--text", "x", "--help", NULL};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(ctl_submit_parse(4, help, &a, out, err, sizeof err), CTL_HELP);
    fclose(out);
    assert_non_null(strstr(buf, "usage: jiesuctl submit --text TEXT"));
    free(buf);
}

static void test_submit_build(void **st) {
    (void)st;
    ctl_submit_args_t a;
    char err[256];
    char *argv[] = {"submit", "--text", "噪音扰民", "--contact", "13800000000", "--address", "东门", NULL};
    assert_int_equal(parse(&a, err, argv), 0);
    ctl_submit_parts_t p;
    ctl_submit_build(&a, "KEY-1", &p);
    assert_string_equal(p.sub.content, "噪音扰民");
    assert_string_equal(p.sub.idempotency_key, "KEY-1");
    assert_int_equal(p.sub.channel, JIESU__V1__CHANNEL__CHANNEL_PHONE);
    assert_ptr_equal(p.sub.requester, &p.req);
    assert_string_equal(p.req.contact, "13800000000");
    assert_string_equal(p.sub.location->address, "东门");
    /* What is sent passes intake's boundary checks. */
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.submission", "jiesuctl/test", "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMISSION;
    env.submission = &p.sub;
    size_t len;
    uint8_t *buf = js_env_pack(&env, &len);
    js_env_t *back;
    assert_int_equal(js_env_unpack(buf, len, JS_ENV_MAX_DEFAULT, &back, err, sizeof err), 0);
    assert_string_equal(back->submission->idempotency_key, "KEY-1");
    js_env_free(back);
    free(buf);

    /* No contact and no name: anonymous, no requester at all. */
    char *anon[] = {"submit", "--text", "x", NULL};
    assert_int_equal(parse(&a, err, anon), 0);
    ctl_submit_build(&a, "K", &p);
    assert_null(p.sub.requester);
    assert_null(p.sub.location);
}

static void test_submit_reply(void **st) {
    (void)st;
    const char *ids[] = {"AAA", "BBB"};
    const char *order_id = NULL;
    int dup = -1;
    char why[256];
    js_env_t r = JIESU__V1__ENVELOPE__INIT;
    Jiesu__V1__SubmitReply ok = JIESU__V1__SUBMIT_REPLY__INIT;
    ok.order_id = "01KAQ7Z4N8W3Q2YV0M5R6T9BXE";
    ok.duplicate = 1;
    r.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_SUBMIT_REPLY;
    r.submit_reply = &ok;
    r.correlation_id = "BBB"; /* the answer to the first try may come during the second */
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_OK);
    assert_string_equal(order_id, "01KAQ7Z4N8W3Q2YV0M5R6T9BXE");
    assert_int_equal(dup, 1);
    r.correlation_id = "CCC";
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_OTHER);
    r.correlation_id = "";
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_OTHER);

    Jiesu__V1__Error e = JIESU__V1__ERROR__INIT;
    r.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_ERROR;
    r.error = &e;
    r.correlation_id = "AAA";
    e.code = "unavailable";
    e.message = "the order store is not reachable; try again";
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_RETRY);
    assert_string_equal(why, "unavailable: the order store is not reachable; try again");
    e.code = "bad_request";
    e.message = "content is empty";
    e.field = "submission.content";
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_REFUSED);
    assert_string_equal(why, "bad_request: content is empty (submission.content)");
    e.message = "submission.content: 70000 bytes, the limit is 65536";
    e.code = "too_large";
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_REFUSED);
    assert_string_equal(why, "too_large: submission.content: 70000 bytes, the limit is 65536");
    /* intake could not read our id: its error carries none, and it is ours */
    r.correlation_id = "";
    e.code = "bad_utf8";
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_REFUSED);

    Jiesu__V1__Pong pong = JIESU__V1__PONG__INIT;
    r.correlation_id = "AAA";
    r.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_PONG;
    r.pong = &pong;
    assert_int_equal(ctl_submit_reply(&r, ids, 2, &order_id, &dup, why, sizeof why), CTL_REPLY_REFUSED);
}

static const char *last_line(char *buf) {
    size_t n = strlen(buf);
    assert_true(n > 0 && buf[n - 1] == '\n');
    buf[n - 1] = '\0';
    const char *nl = strrchr(buf, '\n');
    return nl ? nl + 1 : buf;
}

static void test_submit_print(void **st) {
    (void)st;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ctl_submit_print(out, "01KAQ7Z4N8W3Q2YV0M5R6T9BXE", 0, "k", "");
    fclose(out);
    assert_string_equal(buf, "order 01KAQ7Z4N8W3Q2YV0M5R6T9BXE\n01KAQ7Z4N8W3Q2YV0M5R6T9BXE\n");
    free(buf);
    out = open_memstream(&buf, &len);
    ctl_submit_print(out, "01KAQ7Z4N8W3Q2YV0M5R6T9BXE", 1, "my-key", NULL);
    fclose(out);
    assert_non_null(strstr(buf, "duplicate of 01KAQ7Z4N8W3Q2YV0M5R6T9BXE: idempotency key my-key"));
    assert_string_equal(last_line(buf), "01KAQ7Z4N8W3Q2YV0M5R6T9BXE");
    free(buf);
    out = open_memstream(&buf, &len);
    ctl_submit_print(out, "01KAQ8AAAAAAAAAAAAAAAAAAAA", 0, "", "01KAQ7Z4N8W3Q2YV0M5R6T9BXE");
    fclose(out);
    assert_non_null(strstr(buf, "same matter as 01KAQ7Z4N8W3Q2YV0M5R6T9BXE (same requester)"));
    assert_string_equal(last_line(buf), "01KAQ8AAAAAAAAAAAAAAAAAAAA");
    free(buf);
}

/* ---- JSON shaping ----------------------------------------------------------- */

#define T1 1763852926123LL

static Jiesu__V1__Order *make_order(int stage, int with_assignment) {
    static Jiesu__V1__Order o;
    static Jiesu__V1__Requester r;
    static Jiesu__V1__Assignment a, *as[1];
    static Jiesu__V1__HistoryEntry h[2], *hs[2];
    jiesu__v1__order__init(&o);
    jiesu__v1__requester__init(&r);
    jiesu__v1__assignment__init(&a);
    o.id = "01KAQ7Z4N8W3Q2YV0M5R6T9BXE";
    o.channel = JIESU__V1__CHANNEL__CHANNEL_WEB;
    o.received_ms = T1;
    r.contact_masked = "138****0000";
    o.requester = &r;
    o.content = "下水道堵了";
    o.stage = stage;
    o.version = 2;
    a.unit_id = "city-housing";
    a.role = JIESU__V1__ASSIGNMENT_ROLE__ASSIGNMENT_ROLE_LEAD;
    a.due_ms = 1765699199000LL;
    as[0] = &a;
    o.n_assignments = with_assignment ? 1 : 0;
    o.assignments = as;
    const char *types[] = {"jiesu.order.received", "jiesu.order.classified"};
    for (int i = 0; i < 2; i++) {
        jiesu__v1__history_entry__init(&h[i]);
        h[i].type = (char *)types[i];
        h[i].time_ms = T1 + i;
        hs[i] = &h[i];
    }
    o.n_history = 2;
    o.history = hs;
    return &o;
}

static void test_show_json(void **st) {
    (void)st;
    Jiesu__V1__Order *o = make_order(JIESU__V1__STAGE__STAGE_DISPATCHED, 1);
    /* the hash says version 3: it wins over the copy inside d */
    json_t *j = ctl_show_json("01KAQ7Z4N8W3Q2YV0M5R6T9BXE", JIESU__V1__STAGE__STAGE_DISPATCHED, 3, o, NULL);
    char *s = json_dumps(j, CTL_JSON_PRETTY);
    assert_non_null(strstr(s, "{\n  \"id\": \"01KAQ7Z4N8W3Q2YV0M5R6T9BXE\",\n  \"stage\": \"dispatched\",\n"
                              "  \"version\": 3,\n"));
    free(s);
    json_t *h0 = json_array_get(json_object_get(j, "history"), 0);
    assert_string_equal(json_string_value(json_object_get(h0, "type")), "jiesu.order.received");
    assert_string_equal(json_string_value(json_object_get(h0, "time")), "2025-11-23T07:08:46.123+08:00");
    json_t *a0 = json_array_get(json_object_get(j, "assignments"), 0);
    assert_string_equal(json_string_value(json_object_get(a0, "unit")), "city-housing");
    assert_string_equal(json_string_value(json_object_get(a0, "role")), "lead");
    assert_string_equal(json_string_value(json_object_get(a0, "due")), "2025-12-14T15:59:59+08:00");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "requester"), "contact_masked")),
                        "138****0000");
    json_decref(j);

    /* received: history always there, assignments not yet */
    o = make_order(JIESU__V1__STAGE__STAGE_RECEIVED, 0);
    o->n_history = 0;
    j = ctl_show_json("X", JIESU__V1__STAGE__STAGE_RECEIVED, 1, o, NULL);
    assert_true(json_is_array(json_object_get(j, "history")));
    assert_null(json_object_get(j, "assignments"));
    assert_string_equal(json_string_value(json_object_get(j, "stage")), "received");
    json_decref(j);
    /* dispatched but no assignment stored: still an array, so scripts can index it */
    o = make_order(JIESU__V1__STAGE__STAGE_ACCEPTED, 0);
    j = ctl_show_json("X", JIESU__V1__STAGE__STAGE_ACCEPTED, 5, o, NULL);
    assert_true(json_is_array(json_object_get(j, "assignments")));
    assert_true(json_is_null(json_object_get(j, "pending"))); /* always there */
    assert_null(json_object_get(j, "asg"));                    /* without the hash: nothing invented */
    assert_null(json_object_get(j, "fired_unmatched"));
    json_decref(j);
}

/* An order with clocks, a pending request and the hash's asg and fired
 * marks, as jiesuctl show shapes them. */
static Jiesu__V1__Order *make_order_with_clocks(void) {
    static Jiesu__V1__Clock h, cb, *cs[2];
    static Jiesu__V1__ClockEntry e0, *es[1];
    static Jiesu__V1__PendingRequest p;
    static Jiesu__V1__Limit nl;
    Jiesu__V1__Order *o = make_order(JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW, 1);
    jiesu__v1__clock__init(&h);
    jiesu__v1__clock__init(&cb);
    jiesu__v1__clock_entry__init(&e0);
    e0.kind = JIESU__V1__CLOCK_EVENT_KIND__CLOCK_EVENT_START;
    e0.time_ms = T1;
    es[0] = &e0;
    h.kind = JIESU__V1__CLOCK_KIND__CLOCK_KIND_HANDLING;
    h.unit_id = "city-housing";
    h.n_events = 1;
    h.events = es;
    h.due_ms = 1765699199000LL;
    cb.kind = JIESU__V1__CLOCK_KIND__CLOCK_KIND_CALLBACK;
    cb.unit_id = ""; /* the centre's own clock */
    cs[0] = &h;
    cs[1] = &cb;
    o->n_clocks = 2;
    o->clocks = cs;
    jiesu__v1__pending_request__init(&p);
    jiesu__v1__limit__init(&nl);
    p.kind = JIESU__V1__UNIT_ACTION_KIND__UNIT_ACTION_EXTEND;
    p.unit_id = "city-housing";
    p.reason = "需协调产权单位";
    p.requested_ms = T1 + 5000;
    nl.amount = 20;
    nl.unit = JIESU__V1__LIMIT_UNIT__LIMIT_UNIT_WORKING_DAYS;
    p.new_limit = &nl;
    p.resume_stage = JIESU__V1__STAGE__STAGE_ACCEPTED;
    o->pending = &p;
    return o;
}

static void test_show_json_clocks_pending_asg(void **st) {
    (void)st;
    Jiesu__V1__Order *o = make_order_with_clocks();
    const char *fired[] = {"f:h|city-housing|f0.8|0", "f:h|city-housing|f0.5|0", "f:c||due|0.0",
                           "f:a|city-urban|due|1.0", "f:x|bad", "f:h|city-housing|b4h", "f:h|city-housing|due|0.0"};
    const char *at[] = {"1765000000000", "1764500000000", "1765800000001", "1765100000000", "1", "2", "soon"};
    ctl_show_hash_t hash = {"city-housing=L city-urban=A cj-gov=C odd=Q", fired, at, 7};
    json_t *j = ctl_show_json("X", JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW, 7, o, &hash);
    /* the first keys stay where docs/CLI.md says */
    char *s = json_dumps(j, CTL_JSON_PRETTY);
    assert_non_null(strstr(s, "{\n  \"id\": \"01KAQ7Z4N8W3Q2YV0M5R6T9BXE\",\n  \"stage\": \"extension_review\",\n"
                              "  \"version\": 7,\n"));
    free(s);

    /* the pending request, as the reviewer sees it */
    json_t *p = json_object_get(j, "pending");
    assert_true(json_is_object(p));
    assert_string_equal(json_string_value(json_object_get(p, "kind")), "extend");
    assert_string_equal(json_string_value(json_object_get(p, "unit_id")), "city-housing");
    assert_string_equal(json_string_value(json_object_get(p, "reason")), "需协调产权单位");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "new_limit"), "amount")), 20);
    assert_string_equal(json_string_value(json_object_get(p, "resume_stage")), "accepted");
    assert_string_equal(json_string_value(json_object_get(p, "requested")), "2025-11-23T07:08:51.123+08:00");

    /* every clock lists its fired timers, oldest first */
    json_t *clocks = json_object_get(j, "clocks");
    assert_int_equal(json_array_size(clocks), 2);
    json_t *h = json_array_get(clocks, 0), *cb = json_array_get(clocks, 1);
    assert_string_equal(json_string_value(json_object_get(h, "kind")), "handling");
    json_t *hf = json_object_get(h, "fired");
    assert_int_equal(json_array_size(hf), 3);
    json_t *f0 = json_array_get(hf, 0), *f1 = json_array_get(hf, 1), *f2 = json_array_get(hf, 2);
    assert_string_equal(json_string_value(json_object_get(f0, "what")), "f0.5");
    assert_string_equal(json_string_value(json_object_get(f0, "epoch")), "0");
    assert_int_equal(json_integer_value(json_object_get(f0, "time_ms")), 1764500000000LL);
    assert_string_equal(json_string_value(json_object_get(f0, "time")), "2025-11-30T18:53:20+08:00");
    assert_string_equal(json_string_value(json_object_get(f1, "what")), "f0.8");
    assert_int_equal(json_integer_value(json_object_get(f1, "time_ms")), 1765000000000LL);
    /* a value that is not a time is shown as null, never guessed, and comes last */
    assert_string_equal(json_string_value(json_object_get(f2, "what")), "due");
    assert_true(json_is_null(json_object_get(f2, "time_ms")));
    assert_null(json_object_get(f2, "time"));
    json_t *cf = json_object_get(cb, "fired");
    assert_int_equal(json_array_size(cf), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 0), "what")), "due");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 0), "epoch")), "0.0");
    /* a mark of no clock of this order is not lost; malformed ones are left out */
    json_t *other = json_object_get(j, "fired_unmatched");
    assert_int_equal(json_array_size(other), 1);
    json_t *u = json_array_get(other, 0);
    assert_string_equal(json_string_value(json_object_get(u, "kind")), "assist");
    assert_string_equal(json_string_value(json_object_get(u, "unit")), "city-urban");
    assert_string_equal(json_string_value(json_object_get(u, "epoch")), "1.0");

    /* the assignment map jiesu_act checks roles against */
    json_t *asg = json_object_get(j, "asg");
    assert_int_equal(json_object_size(asg), 4);
    assert_string_equal(json_string_value(json_object_get(asg, "city-housing")), "lead");
    assert_string_equal(json_string_value(json_object_get(asg, "city-urban")), "assist");
    assert_string_equal(json_string_value(json_object_get(asg, "cj-gov")), "copy");
    assert_string_equal(json_string_value(json_object_get(asg, "odd")), "Q");
    json_decref(j);

    /* no marks: every clock still has its (empty) list; an empty map is {} */
    ctl_show_hash_t none = {"", NULL, NULL, 0};
    j = ctl_show_json("X", JIESU__V1__STAGE__STAGE_EXTENSION_REVIEW, 7, o, &none);
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(j, "clocks"), 1), "fired")), 0);
    assert_true(json_is_array(json_object_get(json_array_get(json_object_get(j, "clocks"), 0), "fired")));
    assert_int_equal(json_object_size(json_object_get(j, "asg")), 0);
    assert_null(json_object_get(j, "fired_unmatched"));
    json_decref(j);
    o->pending = NULL;
    o->n_clocks = 0;
}

static void test_event_json_and_masking(void **st) {
    (void)st;
    /* A Callback task carries the contact in clear: jiesuctl never prints it. */
    Jiesu__V1__Callback cb = JIESU__V1__CALLBACK__INIT;
    cb.order_id = "01KAQ7Z4N8W3Q2YV0M5R6T9BXE";
    cb.contact = "13812345678";
    cb.attempt = 1;
    cb.due_ms = T1;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.callback.due", "jiesu-callback/h-1", cb.order_id,
                "0af7651916cd43dd8448eb211c80319c");
    env.time_ms = T1;
    env.version = 7;
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_CALLBACK;
    env.callback = &cb;
    json_t *j = ctl_event_json(&env);
    char *s = json_dumps(j, CTL_JSON_LINE);
    char want[512];
    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"type\":\"jiesu.callback.due\",\"time\":\"2025-11-23T07:08:46.123+08:00\","
             "\"subject\":\"01KAQ7Z4N8W3Q2YV0M5R6T9BXE\",\"version\":7,\"source\":\"jiesu-callback/h-1\","
             "\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\",\"payload\":{",
             id);
    assert_memory_equal(s, want, strlen(want));
    assert_null(strstr(s, "13812345678"));
    assert_non_null(strstr(s, "\"contact\":\"138****5678\""));
    assert_non_null(strstr(s, "\"due\":\"2025-11-23T07:08:46.123+08:00\""));
    free(s);
    json_decref(j);

    json_t *m = json_pack("{s:[{s:s,s:s,s:s}],s:{s:s}}", "list", "contact", "13800000000", "name", "张三丰",
                          "x", "y", "actor", "name", "operator-7");
    ctl_mask_pii(m);
    json_t *e = json_array_get(json_object_get(m, "list"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "contact")), "138****0000");
    assert_string_equal(json_string_value(json_object_get(e, "name")), "张**");
    /* a name beside no contact is an operator or unit: left alone */
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "actor"), "name")),
                        "operator-7");
    json_decref(m);
}

static void test_event_print(void **st) {
    (void)st;
    Jiesu__V1__Ping ping = JIESU__V1__PING__INIT;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.order.received", "t/1", "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_PING;
    env.ping = &ping;
    size_t len;
    uint8_t *buf = js_env_pack(&env, &len);
    char *ob = NULL, *eb = NULL;
    size_t ol = 0, el = 0;
    FILE *out = open_memstream(&ob, &ol), *errout = open_memstream(&eb, &el);
    assert_int_equal(ctl_event_print(buf, len, JS_ENV_MAX_DEFAULT, "jiesu.order.", out, errout, "x"), 0);
    assert_int_equal(ctl_event_print(buf, len, JS_ENV_MAX_DEFAULT, "jiesu.clock.", out, errout, "x"), 1);
    assert_int_equal(ctl_event_print("\xff\xff", 2, JS_ENV_MAX_DEFAULT, "jiesu.", out, errout, "1-0"), -1);
    fclose(out);
    fclose(errout);
    assert_non_null(strstr(ob, "\"payload\":{}}\n"));
    assert_ptr_equal(strchr(ob, '\n'), ob + strlen(ob) - 1); /* one line, only for the wanted type */
    assert_non_null(strstr(eb, "skipped an unreadable event (1-0)"));
    free(ob);
    free(eb);
    free(buf);
}

static void test_ping_shape(void **st) {
    (void)st;
    const char *req[] = {"intake", "classifier", "dispatcher", "deadline-timer"};
    json_t *report = json_object(), *services = json_object();
    json_object_set_new(report, "redis", json_string("ok"));
    json_object_set_new(report, "services", services);
    json_object_set_new(services, "bus", json_string("ok"));
    ctl_ping_add_heartbeat(
        services, "jiesu:hb:intake:h-1",
        "{\"service\":\"intake\",\"instance\":\"h-1\",\"version\":\"0.1.0\",\"started_ms\":1,"
        "\"now_ms\":1000,\"counters\":{}}",
        1250);
    ctl_ping_add_heartbeat(services, "jiesu:hb:deadline-timer:h:2", "not json", 1250);
    json_t *in = json_array_get(json_object_get(services, "intake"), 0);
    assert_string_equal(json_string_value(json_object_get(in, "instance")), "h-1");
    assert_int_equal(json_integer_value(json_object_get(in, "age_ms")), 250);
    json_t *dt = json_array_get(json_object_get(services, "deadline-timer"), 0);
    assert_string_equal(json_string_value(json_object_get(dt, "instance")), "h:2");

    char miss[256];
    /* no pong yet, classifier and dispatcher silent */
    assert_int_equal(ctl_ping_missing(report, req, 4, miss, sizeof miss), 3);
    assert_string_equal(miss, "intake (no pong), classifier, dispatcher");
    json_object_set_new(report, "intake_pong", json_pack("{s:s}", "service", "intake"));
    ctl_ping_add_heartbeat(services, "jiesu:hb:classifier:a", "{\"now_ms\":1}", 2);
    ctl_ping_add_heartbeat(services, "jiesu:hb:dispatcher:a", "{\"now_ms\":1}", 2);
    assert_int_equal(ctl_ping_missing(report, req, 4, miss, sizeof miss), 0);
    assert_string_equal(miss, "");
    json_object_set_new(report, "redis", json_string("redis 127.0.0.1:1: Connection refused"));
    json_object_set_new(services, "bus", json_string("no heartbeat event"));
    assert_int_equal(ctl_ping_missing(report, req, 4, miss, sizeof miss), 2);
    assert_string_equal(miss, "redis, bus");
    json_decref(report);
}

/* ---- against a private redis-server --------------------------------------- */

typedef struct srv {
    pid_t pid;
    int port;
    redisContext *r;
} srv_t;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static int srv_setup(void **state) {
    srv_t *s = calloc(1, sizeof *s);
    s->port = free_port();
    if (s->port <= 0) return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    s->pid = fork();
    if (s->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", "/tmp", (char *)NULL);
        _exit(127);
    }
    /* ready when it answers; a slow box gets a generous bound, not an assertion */
    char err[256];
    for (int i = 0; i < 1000 && !s->r; i++) {
        s->r = ctl_redis_connect("127.0.0.1", s->port, "", 2000, err, sizeof err);
        if (!s->r) usleep(10000);
    }
    if (!s->r) return -1;
    *state = s;
    return 0;
}

static int srv_teardown(void **state) {
    srv_t *s = *state;
    if (!s) return 0;
    redisFree(s->r);
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    free(s);
    return 0;
}

static char *capture_show(srv_t *s, const char *id, int *rc, char *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    *rc = ctl_show(s->r, id, out, err, 256);
    fclose(out);
    return buf;
}

static void test_show_redis(void **state) {
    srv_t *s = *state;
    Jiesu__V1__Order *o = make_order(JIESU__V1__STAGE__STAGE_DISPATCHED, 1);
    size_t len = jiesu__v1__order__get_packed_size(o);
    uint8_t *d = malloc(len);
    jiesu__v1__order__pack(o, d);
    redisReply *rep = redisCommand(s->r, "HSET o:{%s} stage 4 v 3 d %b asg %s f:r|city-housing|f0.5|0 %s g:r|city-housing 3",
                                   o->id, d, len, "city-housing=L", "1763900000000");
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
    free(d);

    char err[256];
    int rc;
    char *out = capture_show(s, o->id, &rc, err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\n  \"stage\": \"dispatched\",\n"));
    assert_non_null(strstr(out, "\n  \"version\": 3,\n"));
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), o->id);
    json_t *a0 = json_array_get(json_object_get(j, "assignments"), 0);
    assert_string_equal(json_string_value(json_object_get(a0, "unit")), "city-housing");
    assert_int_equal(json_array_size(json_object_get(j, "history")), 2);
    assert_true(json_is_null(json_object_get(j, "pending")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "asg"), "city-housing")), "lead");
    /* the order has no response clock: its mark shows as unmatched, with its time */
    json_t *u = json_array_get(json_object_get(j, "fired_unmatched"), 0);
    assert_string_equal(json_string_value(json_object_get(u, "kind")), "response");
    assert_string_equal(json_string_value(json_object_get(u, "what")), "f0.5");
    assert_int_equal(json_integer_value(json_object_get(u, "time_ms")), 1763900000000LL);
    assert_null(json_object_get(j, "g:r|city-housing")); /* generations are the timer's business */
    json_decref(j);
    free(out);

    out = capture_show(s, "01NOSUCHORDER0000000000000", &rc, err);
    assert_int_equal(rc, -ENOENT);
    assert_string_equal(err, "no order 01NOSUCHORDER0000000000000");
    assert_string_equal(out, "");
    free(out);

    rep = redisCommand(s->r, "HSET o:{BROKEN} stage 1 v 1 d %b", "\xff\xff\xff", (size_t)3);
    freeReplyObject(rep);
    out = capture_show(s, "BROKEN", &rc, err);
    assert_int_equal(rc, -EPROTO);
    free(out);
}

static void xadd_event(srv_t *s, const char *type, const char *subject) {
    Jiesu__V1__Order o = JIESU__V1__ORDER__INIT;
    o.id = (char *)subject;
    o.stage = JIESU__V1__STAGE__STAGE_RECEIVED;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, type, "jiesu-intake/t", subject, "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_ORDER;
    env.order = &o;
    size_t len;
    uint8_t *buf = js_env_pack(&env, &len);
    redisReply *rep = redisCommand(s->r, "XADD jiesu:events * t %s o %s e %b", type, subject, buf, len);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    freeReplyObject(rep);
    free(buf);
}

static void test_tail_stream(void **state) {
    srv_t *s = *state;
    char err[256];
    long long printed = -1;
    /* no stream yet: nothing, and no error */
    assert_int_equal(ctl_tail_stream(s->r, "jiesu.", 0, JS_ENV_MAX_DEFAULT, NULL, stdout, stderr, &printed,
                                     err, sizeof err),
                     0);
    assert_int_equal(printed, 0);
    /* more than one page (500) so the exclusive paging is exercised */
    for (int i = 0; i < 520; i++)
        xadd_event(s, i % 2 ? "jiesu.order.classified" : "jiesu.order.received", "O1");
    redisReply *rep = redisCommand(s->r, "XADD jiesu:events * t jiesu.order.received o O2 e junk");
    freeReplyObject(rep);
    xadd_event(s, "jiesu.clock.warning", "O3");

    char *ob = NULL, *eb = NULL;
    size_t ol = 0, el = 0;
    FILE *out = open_memstream(&ob, &ol), *errout = open_memstream(&eb, &el);
    assert_int_equal(
        ctl_tail_stream(s->r, "jiesu.", 0, JS_ENV_MAX_DEFAULT, NULL, out, errout, &printed, err, sizeof err),
        0);
    fclose(out);
    fclose(errout);
    assert_int_equal(printed, 521); /* the junk entry is skipped, noted on errout */
    assert_non_null(strstr(eb, "skipped an unreadable event"));
    size_t lines = 0;
    for (char *p = ob; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 521);
    assert_non_null(strstr(ob, "{\"id\":"));
    assert_non_null(strstr(ob, "\"type\":\"jiesu.clock.warning\",\"time\":\""));
    free(ob);
    free(eb);

    /* a prefix and a count */
    out = open_memstream(&ob, &ol);
    errout = open_memstream(&eb, &el);
    assert_int_equal(ctl_tail_stream(s->r, "jiesu.order.classified", 7, JS_ENV_MAX_DEFAULT, NULL, out, errout,
                                     &printed, err, sizeof err),
                     0);
    fclose(out);
    fclose(errout);
    assert_int_equal(printed, 7);
    assert_null(strstr(ob, "jiesu.order.received"));
    assert_string_equal(eb, "");
    free(ob);
    free(eb);
    out = open_memstream(&ob, &ol);
    assert_int_equal(ctl_tail_stream(s->r, "jiesu.clock.", 0, JS_ENV_MAX_DEFAULT, NULL, out, stderr, &printed,
                                     err, sizeof err),
                     0);
    fclose(out);
    assert_int_equal(printed, 1);
    assert_non_null(strstr(ob, "\"subject\":\"O3\""));
    free(ob);
}

static void test_ping_redis(void **state) {
    srv_t *s = *state;
    redisReply *rep;
    rep = redisCommand(s->r, "SET jiesu:hb:intake:h-1 %s PX 60000",
                       "{\"service\":\"intake\",\"instance\":\"h-1\",\"version\":\"0.1.0\",\"now_ms\":1000}");
    freeReplyObject(rep);
    rep = redisCommand(s->r, "SET jiesu:hb:dispatcher:h-2 %s PX 60000",
                       "{\"service\":\"dispatcher\",\"instance\":\"h-2\",\"now_ms\":1500}");
    freeReplyObject(rep);
    for (int i = 0; i < 150; i++) { /* keys enough for SCAN to need more than one page */
        rep = redisCommand(s->r, "SET other:%d x", i);
        freeReplyObject(rep);
    }
    json_t *report = json_object(), *services = json_object();
    ctl_ping_redis(s->r, report, services, 2000);
    assert_string_equal(json_string_value(json_object_get(report, "redis")), "ok");
    json_t *in = json_array_get(json_object_get(services, "intake"), 0);
    assert_int_equal(json_integer_value(json_object_get(in, "age_ms")), 1000);
    json_t *dp = json_array_get(json_object_get(services, "dispatcher"), 0);
    assert_string_equal(json_string_value(json_object_get(dp, "instance")), "h-2");
    assert_int_equal(json_object_size(services), 2);
    json_decref(report);
    json_decref(services);

    char err[256];
    redisContext *r = ctl_redis_connect("127.0.0.1", s->port, "wrong", 2000, err, sizeof err);
    assert_null(r); /* AUTH refused: the server has no password */
    assert_non_null(strstr(err, "AUTH"));
}

int main(void) {
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_submit_parse),
        cmocka_unit_test(test_submit_build),
        cmocka_unit_test(test_submit_reply),
        cmocka_unit_test(test_submit_print),
        cmocka_unit_test(test_show_json),
        cmocka_unit_test(test_show_json_clocks_pending_asg),
        cmocka_unit_test(test_event_json_and_masking),
        cmocka_unit_test(test_event_print),
        cmocka_unit_test(test_ping_shape),
    };
    const struct CMUnitTest redis[] = {
        cmocka_unit_test(test_show_redis),
        cmocka_unit_test(test_tail_stream),
        cmocka_unit_test(test_ping_redis),
    };
    int failed = cmocka_run_group_tests_name("jiesuctl", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("jiesuctl_redis", redis, srv_setup, srv_teardown);
    return failed;
}
