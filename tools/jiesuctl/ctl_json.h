/* ctl_json.h -- the JSON jiesuctl prints, shaped without sockets or Redis.
 *
 * Every function returns a new jansson value the caller json_decref()s, or
 * changes the one it is given. Contact data never leaves jiesuctl in clear:
 * every JSON it prints goes through ctl_mask_pii first. */
#ifndef CTL_JSON_H
#define CTL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "envelope.h"

/* How every JSON value is written: reals at 15 digits, so 0.9 reads 0.9. */
#define CTL_JSON_LINE   (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define CTL_JSON_PRETTY (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

/* Prototypes */
/* "jiesuctl: " and the message on stderr, one line; returns 1 (the exit status). */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* j as one JSON text (json_dumps flags) and a newline on stdout, flushed; nothing for NULL. */
void ctl_print(const json_t *j, size_t flags);
/* "dispatched" for JIESU__V1__STAGE__STAGE_DISPATCHED; the number as text
 * when unknown. Returns out. */
char *ctl_stage_name(int stage, char *out, size_t cap);
/* What the order hash o:{ID} holds beside stage, v and d (docs/API.md
 * "Keys"), for `show`. Every pointer may be NULL / every count 0. */
typedef struct ctl_show_hash {
    const char *asg;               /* "asg": "UNIT=L UNIT=A UNIT=C", the map jiesu_act reads roles from */
    const char *const *fired;      /* fired-timer field names "f:KIND|UNIT|WHAT|EPOCH" (common/timer.h) ... */
    const char *const *fired_at;   /* ... and their values: when each fired (ms since the epoch) */
    size_t nfired;
} ctl_show_hash_t;

/* The order as `show` prints it: js_pb_to_json(JS_PBJSON_TIMES) of o, then
 * id, stage (from the hash's stage field), version (the hash's v) first;
 * history always an array of {type, time, ...}; assignments an array of
 * {unit, role, due, ...} once the order has been dispatched (stages
 * dispatched .. escalated, except closed and transferred, which show them
 * only when there are some); pending always (the PendingRequest, or null);
 * with h: every clock gets "fired", an array of {what, epoch, time_ms, time}
 * (oldest first) from the fired marks of that clock, marks of no clock go to
 * a top-level "fired_unmatched" [{kind, unit, what, epoch, time_ms, time}]
 * (only when there are some), and a present asg becomes "asg": {UNIT: "lead"
 * | "assist" | "copy"} (an unknown letter is kept as it is). A mark that does
 * not parse is left out. */
json_t *ctl_show_json(const char *id, int stage, int64_t version, const Jiesu__V1__Order *o,
                      const ctl_show_hash_t *h);
/* One event as `tail` prints it: {"id","type","time","subject","version",
 * "source","trace_id","payload"}; payload is the set member of the oneof
 * (js_pb_to_json with JS_PBJSON_TIMES), or null when none. */
json_t *ctl_event_json(const js_env_t *e);
/* Decode one envelope (js_env_unpack, at most max bytes) and, when its type
 * starts with prefix, write ctl_event_json as one line on out and flush.
 * 0: printed; 1: another type; -1: unreadable, one line naming where on
 * errout. */
int ctl_event_print(const void *buf, size_t len, size_t max, const char *prefix, FILE *out, FILE *errout,
                    const char *where);
/* Replace, at any depth, a string under the key "contact" by its mask
 * (138****5678) and a "name" in an object that also has a "contact" (a
 * RequesterInput) by its masked form (张**). */
void ctl_mask_pii(json_t *j);

/* ping: services is {"<service>": [{"instance","version","age_ms"}], ...}.
 * Adds one heartbeat key (jiesu:hb:<service>:<instance>) and its JSON value;
 * a value that does not parse still counts, under the key's service name,
 * with "error". */
void ctl_ping_add_heartbeat(json_t *services, const char *key, const char *value, int64_t now_ms);
/* Which of the required parts are missing from a ping report
 * {"redis":"ok"|why, "services":{"bus":"ok"|why, name:[...]}, "intake_pong":{...}}:
 * "redis" unless "ok", "intake (no pong)" without intake_pong, "bus" unless
 * services.bus is "ok", and each name of required with no instance.
 * Writes them comma-separated to out; returns how many. */
int ctl_ping_missing(const json_t *report, const char *const *required, size_t nrequired, char *out,
                     size_t cap);

#endif
