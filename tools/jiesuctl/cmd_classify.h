/* cmd_classify.h -- jiesuctl classify and jiesuctl corrections.
 *
 *   jiesuctl classify ID --topic T --type Y [--urgency U] [--as operator|reviewer|admin]
 *                        [--name LOGIN] [--reason TEXT]
 *   jiesuctl corrections [--kind topic|type] [--out FILE]
 *
 * classify is an operator's decision on an order in the manual queue (stage
 * manual): the order gets the operator's topic and type (confidences 1.0,
 * manual = false, decided_by = the operator), a history entry, and moves to
 * stage classified with its re-drive time now, so the dispatcher takes it at
 * once. The Redis Function jiesu_classify (common/functions.lua) applies it
 * atomically and appends the correction to the stream jiesu:corrections;
 * an order in any other stage is refused, naming its stage.
 * corrections exports that stream as TSV `label<TAB>text` for
 * `jiesu-train --corrections FILE`.
 *
 * The shaping (arguments, names, the new order state, TSV rows) is pure and
 * unit-tested (tests/unit/test_cls_correction.c); cmd_classify and
 * cmd_corrections do the Redis round trips. */
#ifndef CMD_CLASSIFY_H
#define CMD_CLASSIFY_H

#include <hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "jiesu/v1/types.pb-c.h"

#define CTL_CORRECTIONS_KEY "jiesu:corrections"

typedef struct ctl_classify_args {
    const char *id;
    const char *topic;   /* a label of the topic model */
    int type;            /* jiesu.v1.OrderType, 1..5 */
    int urgency;         /* jiesu.v1.Urgency; 0: keep the order's */
    int role;            /* jiesu.v1.ActorRole: operator (default), reviewer, admin */
    const char *name;    /* login; default $USER, else "operator" */
    const char *reason;  /* optional note for the history entry */
} ctl_classify_args_t;

/* What the machine had said and what the operator says, for jiesu:corrections. */
typedef struct ctl_correction {
    const char *topic, *type;     /* the operator's: topic label, type name (consultation...) */
    const char *m_topic, *m_type; /* the classifier's, "" when it said nothing */
    const char *text;             /* title and content, as the classifier read them */
    const char *by;               /* role:login */
} ctl_correction_t;

/* Prototypes */
/* 1..5 for consultation|help|complaint|report|suggestion (or 咨询|求助|投诉|举报|建议), else 0. */
int ctl_type_of(const char *name);
const char *ctl_type_name(int type); /* "consultation".. (the type model's labels), "" if none */
int ctl_urgency_of(const char *name); /* normal|high|emergency -> 1..3, else 0 */
int ctl_role_of(const char *name);    /* operator|reviewer|admin -> ActorRole, else 0 */
/* Parse `classify ID ...` (argv[0] is "classify"). 0, 1 when --help was
 * printed to help, or -EINVAL with one line in err. topics (k labels) checks
 * --topic when k > 0. */
int ctl_classify_parse(int argc, char **argv, const char *const *topics, int k, ctl_classify_args_t *a, FILE *help,
                       char *err, size_t errlen);
/* Apply the operator's decision to o (in stage manual at its version): new
 * classification, order fields, stage classified, version + 1, a history
 * entry of event_type with event_id at now; fills c (strings in a). */
void ctl_classify_apply(js_arena_t *a, Jiesu__V1__Order *o, const ctl_classify_args_t *args, const char *event_type,
                        const char *event_id, int64_t now_ms, ctl_correction_t *c);
/* One TSV row `label<TAB>text\n` with tabs, newlines and other controls in
 * text turned into blanks; nothing when label or text is empty. Returns 1
 * if written. */
int ctl_correction_row(FILE *out, const char *label, const char *text);
/* The verbs: r is connected; model_dir holds topic.model (labels to check).
 * 0, or 1 after one line "jiesuctl: ..." on stderr. */
int cmd_classify(redisContext *r, int argc, char **argv, const char *model_dir, const char *source,
                 int64_t events_maxlen, int64_t corrections_maxlen);
int cmd_corrections(redisContext *r, int argc, char **argv);

#endif
