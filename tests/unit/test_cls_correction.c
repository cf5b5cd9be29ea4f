/* test_cls_correction.c -- the pure shaping of jiesuctl classify and
 * jiesuctl corrections (tools/jiesuctl/cmd_classify.h): names, arguments,
 * the order state an operator's decision writes, and the TSV rows that
 * jiesu-train --corrections reads. The Redis half is tested end to end in
 * tests/system/test_classify.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/classifier/cls_model.h"
#include "../../tools/jiesuctl/cmd_classify.h"

static const char *const s_topics[] = {"城乡建设", "交通运输", "环境保护"};

static void test_names(void **st) {
    (void)st;
    assert_int_equal(ctl_type_of("consultation"), JIESU__V1__ORDER_TYPE__ORDER_TYPE_CONSULTATION);
    assert_int_equal(ctl_type_of("求助"), JIESU__V1__ORDER_TYPE__ORDER_TYPE_HELP);
    assert_int_equal(ctl_type_of("complaint"), JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT);
    assert_int_equal(ctl_type_of("举报"), JIESU__V1__ORDER_TYPE__ORDER_TYPE_REPORT);
    assert_int_equal(ctl_type_of("suggestion"), JIESU__V1__ORDER_TYPE__ORDER_TYPE_SUGGESTION);
    assert_int_equal(ctl_type_of("Complaint"), 0);
    assert_int_equal(ctl_type_of(""), 0);
    assert_int_equal(ctl_type_of(NULL), 0);
    assert_string_equal(ctl_type_name(JIESU__V1__ORDER_TYPE__ORDER_TYPE_REPORT), "report");
    assert_string_equal(ctl_type_name(0), "");
    assert_string_equal(ctl_type_name(6), "");
    assert_int_equal(ctl_urgency_of("high"), JIESU__V1__URGENCY__URGENCY_HIGH);
    assert_int_equal(ctl_urgency_of("urgent"), 0);
    assert_int_equal(ctl_role_of("reviewer"), JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER);
    assert_int_equal(ctl_role_of("unit"), 0); /* units do not classify */
}

static int s_parse(ctl_classify_args_t *a, char *err, size_t errlen, ...) {
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, errlen);
    argv[argc++] = "classify";
    for (char *s; (s = va_arg(ap, char *)) != NULL;) argv[argc++] = s;
    va_end(ap);
    FILE *help = fopen("/dev/null", "w");
    int rc = ctl_classify_parse(argc, argv, s_topics, 3, a, help, err, errlen);
    fclose(help);
    return rc;
}

static void test_parse(void **st) {
    (void)st;
    ctl_classify_args_t a;
    char err[512];
    assert_int_equal(s_parse(&a, err, sizeof err, "ID1", "--topic", "交通运输", "--type", "咨询", "--urgency",
                             "emergency", "--as", "reviewer", "--name", "bob", "--reason", "why", NULL),
                     0);
    assert_string_equal(a.id, "ID1");
    assert_string_equal(a.topic, "交通运输");
    assert_int_equal(a.type, JIESU__V1__ORDER_TYPE__ORDER_TYPE_CONSULTATION);
    assert_int_equal(a.urgency, JIESU__V1__URGENCY__URGENCY_EMERGENCY);
    assert_int_equal(a.role, JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_REVIEWER);
    assert_string_equal(a.name, "bob");
    assert_string_equal(a.reason, "why");
    /* defaults: operator, urgency kept, a name */
    assert_int_equal(s_parse(&a, err, sizeof err, "--topic", "城乡建设", "ID2", "--type", "help", NULL), 0);
    assert_int_equal(a.role, JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR);
    assert_int_equal(a.urgency, 0);
    assert_non_null(a.name);
    assert_true(a.name[0] != '\0');
    assert_int_equal(s_parse(&a, err, sizeof err, "--help", NULL), 1);

    struct {
        const char *want;
        const char *args[8];
    } bad[] = {
        {"needs ID, --topic and --type", {"ID", "--topic", "城乡建设"}},
        {"needs ID, --topic and --type", {"--topic", "城乡建设", "--type", "help"}},
        {"unknown topic '天气' (one of: 城乡建设, 交通运输, 环境保护)", {"ID", "--topic", "天气", "--type", "help"}},
        {"unknown type 'praise'", {"ID", "--topic", "城乡建设", "--type", "praise"}},
        {"unknown urgency 'soon'", {"ID", "--topic", "城乡建设", "--type", "help", "--urgency", "soon"}},
        {"--as wants operator, reviewer or admin", {"ID", "--topic", "城乡建设", "--type", "help", "--as", "unit"}},
        {"takes one order ID", {"ID", "ID2", "--topic", "城乡建设", "--type", "help"}},
        {"unknown option '--colour'", {"ID", "--colour"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *argv[10] = {"classify"};
        int argc = 1;
        for (int j = 0; j < 8 && bad[i].args[j]; j++) argv[argc++] = (char *)bad[i].args[j];
        err[0] = '\0';
        assert_int_equal(ctl_classify_parse(argc, argv, s_topics, 3, &a, stdout, err, sizeof err), -EINVAL);
        if (!strstr(err, bad[i].want)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        assert_null(strchr(err, '\n'));
    }
    char *last[] = {"classify", "ID", "--topic"};
    assert_int_equal(ctl_classify_parse(3, last, s_topics, 3, &a, stdout, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "--topic needs a value"));
    /* no topic list (k = 0): any topic passes the parser */
    char *any[] = {"classify", "ID", "--topic", "天气", "--type", "help"};
    assert_int_equal(ctl_classify_parse(6, any, NULL, 0, &a, stdout, err, sizeof err), 0);
}

static void test_apply(void **st) {
    (void)st;
    js_arena_t *ar = js_arena_new(4096);
    Jiesu__V1__Order o = JIESU__V1__ORDER__INIT;
    Jiesu__V1__Classification k = JIESU__V1__CLASSIFICATION__INIT;
    Jiesu__V1__HistoryEntry h0 = JIESU__V1__HISTORY_ENTRY__INIT, *hs[] = {&h0};
    k.topic = "交通运输";
    k.type = JIESU__V1__ORDER_TYPE__ORDER_TYPE_SUGGESTION;
    k.topic_confidence = 0.31f;
    k.type_confidence = 0.42f;
    k.disposition = JIESU__V1__DISPOSITION__DISPOSITION_MANUAL;
    k.urgency = JIESU__V1__URGENCY__URGENCY_HIGH;
    k.rule = "";
    k.reason = "topic uncertain";
    k.manual = true;
    o.id = "ORDER1";
    o.title = "路灯";
    o.content = "北门路灯不亮";
    o.classification = &k;
    o.stage = JIESU__V1__STAGE__STAGE_MANUAL;
    o.version = 2;
    o.history = hs;
    o.n_history = 1;
    o.close_reason = "x";
    ctl_classify_args_t a = {.id = "ORDER1", .topic = "城乡建设", .type = JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT,
                             .role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR, .name = "alice", .reason = "lamp"};
    ctl_correction_t c;
    ctl_classify_apply(ar, &o, &a, "jiesu.order.classified", "EVENT1", 1234, &c);

    assert_int_equal(o.stage, JIESU__V1__STAGE__STAGE_CLASSIFIED);
    assert_int_equal(o.version, 3);
    const Jiesu__V1__Classification *n = o.classification;
    assert_ptr_not_equal(n, &k); /* the machine's stays as it was */
    assert_string_equal(k.topic, "交通运输");
    assert_string_equal(n->topic, "城乡建设");
    assert_int_equal(n->type, JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT);
    assert_true(n->topic_confidence == 1.0f && n->type_confidence == 1.0f);
    assert_false(n->manual);
    assert_int_equal(n->urgency, JIESU__V1__URGENCY__URGENCY_HIGH); /* kept: none given */
    assert_int_equal(n->disposition, JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH);
    assert_int_equal(n->decided_by->role, JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR);
    assert_string_equal(n->decided_by->name, "alice");
    assert_string_equal(n->reason, "classified by operator:alice: lamp");
    assert_string_equal(o.topic, "城乡建设");
    assert_int_equal(o.type, JIESU__V1__ORDER_TYPE__ORDER_TYPE_COMPLAINT);
    assert_int_equal(o.disposition, JIESU__V1__DISPOSITION__DISPOSITION_DISPATCH);
    assert_null(o.close_reason);
    assert_int_equal(o.n_history, 2);
    assert_ptr_equal(o.history[0], &h0);
    const Jiesu__V1__HistoryEntry *h = o.history[1];
    assert_string_equal(h->type, "jiesu.order.classified");
    assert_string_equal(h->event_id, "EVENT1");
    assert_int_equal(h->time_ms, 1234);
    assert_string_equal(h->actor->name, "alice");
    assert_string_equal(h->note, "classified by operator:alice: lamp");
    /* the correction: the operator's, the machine's, the text as classified */
    assert_string_equal(c.topic, "城乡建设");
    assert_string_equal(c.type, "complaint");
    assert_string_equal(c.m_topic, "交通运输");
    assert_string_equal(c.m_type, "suggestion");
    assert_string_equal(c.text, "路灯 北门路灯不亮");
    assert_string_equal(c.by, "operator:alice");
    /* the blob still packs and reads back */
    size_t len = protobuf_c_message_get_packed_size(&o.base);
    uint8_t *buf = js_arena_alloc(ar, len);
    protobuf_c_message_pack(&o.base, buf);
    Jiesu__V1__Order *back = jiesu__v1__order__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->classification->decided_by->name, "alice");
    jiesu__v1__order__free_unpacked(back, NULL);

    /* consultation and partner stay (the dispatcher handles them); urgency given wins; no classification
     * before and no title */
    Jiesu__V1__Order o2 = JIESU__V1__ORDER__INIT;
    o2.content = "内容";
    o2.type = JIESU__V1__ORDER_TYPE__ORDER_TYPE_HELP;
    o2.disposition = JIESU__V1__DISPOSITION__DISPOSITION_MANUAL;
    a.urgency = JIESU__V1__URGENCY__URGENCY_EMERGENCY;
    a.reason = NULL;
    a.role = JIESU__V1__ACTOR_ROLE__ACTOR_ROLE_ADMIN;
    ctl_classify_apply(ar, &o2, &a, "jiesu.order.classified", "EVENT2", 5, &c);
    assert_int_equal(o2.urgency, JIESU__V1__URGENCY__URGENCY_EMERGENCY);
    assert_string_equal(c.text, "内容");
    assert_string_equal(c.m_topic, "");
    assert_string_equal(c.m_type, "help");
    assert_string_equal(c.by, "admin:alice");
    assert_string_equal(o2.history[0]->note, "classified by admin:alice");
    Jiesu__V1__Classification k3 = JIESU__V1__CLASSIFICATION__INIT;
    k3.disposition = JIESU__V1__DISPOSITION__DISPOSITION_PARTNER;
    Jiesu__V1__Order o3 = JIESU__V1__ORDER__INIT;
    o3.classification = &k3;
    ctl_classify_apply(ar, &o3, &a, "jiesu.order.classified", "EVENT3", 5, &c);
    assert_int_equal(o3.disposition, JIESU__V1__DISPOSITION__DISPOSITION_PARTNER);
    assert_string_equal(c.text, "");
    js_arena_destroy(&ar);
}

static void test_rows(void **st) {
    (void)st;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(ctl_correction_row(f, "城乡建设", "路灯\t不亮\n三天\r了\x01"), 1);
    assert_int_equal(ctl_correction_row(f, "complaint", "  \n\t"), 0); /* nothing to learn */
    assert_int_equal(ctl_correction_row(f, "", "路灯"), 0);
    assert_int_equal(ctl_correction_row(f, NULL, "路灯"), 0);
    assert_int_equal(ctl_correction_row(f, "complaint", NULL), 0);
    assert_int_equal(ctl_correction_row(f, "complaint", " 噪音"), 1);
    fclose(f);
    assert_string_equal(buf, "城乡建设\t路灯 不亮 三天 了 \ncomplaint\t噪音\n");
    free(buf);
}

static void test_model_labels(void **st) {
    (void)st;
    char labels[CLS_MAX_CLASSES][CLS_LABEL_MAX], err[512];
    int k = 0;
    assert_int_equal(cls_model_file_labels("config/classifier/topic.model", labels, &k, err, sizeof err), 0);
    assert_int_equal(k, 7);
    int found = 0;
    for (int c = 0; c < k; c++) found |= !strcmp(labels[c], "城乡建设");
    assert_true(found);
    assert_int_equal(cls_model_file_labels("config/classifier/type.model", labels, &k, err, sizeof err), 0);
    assert_int_equal(k, 5);
    assert_string_equal(labels[0], "consultation");
    assert_int_equal(cls_model_file_labels("config/classifier/rules.tsv", labels, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad magic"));
    assert_int_equal(cls_model_file_labels("/nonexistent/topic.model", labels, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names), cmocka_unit_test(test_parse), cmocka_unit_test(test_apply),
        cmocka_unit_test(test_rows),  cmocka_unit_test(test_model_labels),
    };
    return cmocka_run_group_tests_name("cls_correction", tests, NULL, NULL);
}
