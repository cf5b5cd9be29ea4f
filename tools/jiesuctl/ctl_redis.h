/* ctl_redis.h -- what jiesuctl reads from Redis, over one synchronous hiredis
 * connection the caller owns (connected with ctl_redis_connect, freed with
 * redisFree). Every call is bounded by the connection's timeout.
 *
 * Keys (docs/ARCHITECTURE.md "Keys"): the order hash o:{ID} (stage, v, d),
 * the stream jiesu:events (t, o, e), heartbeats jiesu:hb:<service>:<instance>. */
#ifndef CTL_REDIS_H
#define CTL_REDIS_H

#include <hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_STREAM_KEY "jiesu:events"
#define CTL_HB_PATTERN "jiesu:hb:*"

/* Prototypes */
/* Connects (and AUTHs when password is not empty) with timeout_ms for the
 * connection and for every command. NULL with one line in err. */
redisContext *ctl_redis_connect(const char *host, int port, const char *password, int64_t timeout_ms,
                                char *err, size_t errlen);
/* HGETALL o:{id}: decode d as an Order and write it to out as one indented
 * JSON object (ctl_show_json, with the hash's asg and fired marks f:...).
 * -ENOENT with "no order ID" when there is no such order; -EPROTO when d is
 * missing or does not decode; -EIO for Redis. */
int ctl_show(redisContext *r, const char *id, FILE *out, char *err, size_t errlen);
/* XRANGE jiesu:events from the beginning in pages; one JSON line on out per
 * event whose type starts with prefix, at most count (0: all); stops early
 * when *stop becomes non-zero. Unreadable entries are noted on errout and
 * skipped. 0, or -EIO with err. *printed (if not NULL) gets the count. */
int ctl_tail_stream(redisContext *r, const char *prefix, long long count, size_t max_msg,
                    volatile sig_atomic_t *stop, FILE *out, FILE *errout, long long *printed, char *err,
                    size_t errlen);
/* PING, then SCAN jiesu:hb:* and add each live heartbeat to services
 * (ctl_ping_add_heartbeat). report's "redis" is set to "ok" or to why not. */
void ctl_ping_redis(redisContext *r, json_t *report, json_t *services, int64_t now_ms);

#endif
