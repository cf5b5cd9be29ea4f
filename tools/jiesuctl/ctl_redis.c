/* ctl_redis.c -- show, tail --from-stream and the Redis half of ping. */
#include "ctl_redis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_json.h"
#include "jiesu/v1/types.pb-c.h"

#define S_STREAM_PAGE "500" /* XRANGE entries per round trip */
#define S_SCAN_COUNT  "100"

redisContext *ctl_redis_connect(const char *host, int port, const char *password, int64_t timeout_ms,
                                char *err, size_t errlen) {
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *r = redisConnectWithTimeout(host, port, tv);
    if (!r || r->err) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port, r ? r->errstr : "cannot allocate a connection");
        redisFree(r);
        return NULL;
    }
    redisSetTimeout(r, tv);
    if (password && *password) {
        const char *argv[] = {"AUTH", password};
        redisReply *rep = redisCommandArgv(r, 2, argv, NULL);
        int bad = !rep || rep->type == REDIS_REPLY_ERROR;
        if (bad) snprintf(err, errlen, "redis %s:%d: AUTH: %s", host, port, rep ? rep->str : r->errstr);
        if (rep) freeReplyObject(rep);
        if (bad) {
            redisFree(r);
            return NULL;
        }
    }
    return r;
}

static const char *s_rerr(redisContext *r, redisReply *rep) {
    if (!rep) return r->errstr[0] ? r->errstr : "no answer";
    if (rep->type == REDIS_REPLY_ERROR) return rep->str;
    return "unexpected answer";
}

int ctl_show(redisContext *r, const char *id, FILE *out, char *err, size_t errlen) {
    char key[256];
    snprintf(key, sizeof key, "o:{%s}", id);
    /* The whole hash: d, and beside it the assignment map and the fired marks. */
    const char *argv[] = {"HGETALL", key};
    redisReply *rep = redisCommandArgv(r, 2, argv, NULL);
    int rc = 0;
    const redisReply *st = NULL, *v = NULL, *d = NULL, *asg = NULL;
    size_t n = rep && rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0;
    const char **fired = calloc(n + 1, sizeof *fired), **fired_at = calloc(n + 1, sizeof *fired_at);
    size_t nfired = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *f = rep->element[2 * i], *val = rep->element[2 * i + 1];
        if (f->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(f->str, "stage")) st = val;
        else if (!strcmp(f->str, "v")) v = val;
        else if (!strcmp(f->str, "d")) d = val;
        else if (!strcmp(f->str, "asg")) asg = val;
        else if (!strncmp(f->str, "f:", 2) && fired && fired_at) {
            fired[nfired] = f->str;
            fired_at[nfired++] = val->str;
        }
    }
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis HGETALL %s: %s", key, s_rerr(r, rep));
        rc = -EIO;
    } else if (!fired || !fired_at) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    } else if (!st && !d) {
        snprintf(err, errlen, "no order %s", id);
        rc = -ENOENT;
    } else if (!d) {
        snprintf(err, errlen, "order %s has no stored data (field d)", id);
        rc = -EPROTO;
    } else {
        int stage = st ? atoi(st->str) : 0;
        int64_t version = v ? strtoll(v->str, NULL, 10) : 0;
        Jiesu__V1__Order *o = jiesu__v1__order__unpack(NULL, d->len, (const uint8_t *)d->str);
        if (!o) {
            snprintf(err, errlen, "order %s: field d does not decode as an Order", id);
            rc = -EPROTO;
        } else {
            ctl_show_hash_t h = {asg ? asg->str : NULL, fired, fired_at, nfired};
            json_t *j = ctl_show_json(id, stage, version, o, &h);
            char *s = json_dumps(j, CTL_JSON_PRETTY);
            fprintf(out, "%s\n", s);
            free(s);
            json_decref(j);
            jiesu__v1__order__free_unpacked(o, NULL);
        }
    }
    free(fired);
    free(fired_at);
    if (rep) freeReplyObject(rep);
    return rc;
}

int ctl_tail_stream(redisContext *r, const char *prefix, long long count, size_t max_msg,
                    volatile sig_atomic_t *stop, FILE *out, FILE *errout, long long *printed, char *err,
                    size_t errlen) {
    char start[64] = "-";
    long long n_out = 0;
    int rc = 0;
    size_t plen = strlen(prefix);
    while (!(stop && *stop) && (count <= 0 || n_out < count)) {
        const char *argv[] = {"XRANGE", CTL_STREAM_KEY, start, "+", "COUNT", S_STREAM_PAGE};
        redisReply *rep = redisCommandArgv(r, 6, argv, NULL);
        if (!rep || rep->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "redis XRANGE %s: %s", CTL_STREAM_KEY, s_rerr(r, rep));
            if (rep) freeReplyObject(rep);
            rc = -EIO;
            break;
        }
        size_t n = rep->elements;
        for (size_t i = 0; i < n && (count <= 0 || n_out < count); i++) {
            const redisReply *ent = rep->element[i];
            if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
                ent->element[0]->type != REDIS_REPLY_STRING)
                continue;
            const char *eid = ent->element[0]->str;
            /* exclusive start (Redis >= 6.2): the next page begins after this entry */
            snprintf(start, sizeof start, "(%s", eid);
            const redisReply *fields = ent->element[1], *t = NULL, *ev = NULL;
            for (size_t k = 0; fields->type == REDIS_REPLY_ARRAY && k + 1 < fields->elements; k += 2) {
                const redisReply *f = fields->element[k];
                if (f->type != REDIS_REPLY_STRING) continue;
                if (!strcmp(f->str, "t")) t = fields->element[k + 1];
                if (!strcmp(f->str, "e")) ev = fields->element[k + 1];
            }
            /* the type field lets a filter skip decoding what it does not want */
            if (t && t->type == REDIS_REPLY_STRING && strncmp(t->str, prefix, plen) != 0) continue;
            if (!ev || ev->type != REDIS_REPLY_STRING) {
                fprintf(errout, "jiesuctl: tail: stream entry %s has no envelope (field e)\n", eid);
                continue;
            }
            if (ctl_event_print(ev->str, ev->len, max_msg, prefix, out, errout, eid) == 0) n_out++;
        }
        freeReplyObject(rep);
        if (n == 0) break;
    }
    if (printed) *printed = n_out;
    return rc;
}

void ctl_ping_redis(redisContext *r, json_t *report, json_t *services, int64_t now_ms) {
    char why[512];
    redisReply *rep = redisCommand(r, "PING");
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof why, "PING: %s", s_rerr(r, rep));
        json_object_set_new(report, "redis", json_string(why));
        if (rep) freeReplyObject(rep);
        return;
    }
    freeReplyObject(rep);
    json_object_set_new(report, "redis", json_string("ok"));
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", CTL_HB_PATTERN, "COUNT", S_SCAN_COUNT};
        rep = redisCommandArgv(r, 6, argv, NULL);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(why, sizeof why, "SCAN: %s", s_rerr(r, rep));
            json_object_set_new(report, "redis", json_string(why));
            if (rep) freeReplyObject(rep);
            return;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        const redisReply *keys = rep->element[1];
        /* one round trip per page: the GETs are pipelined */
        for (size_t i = 0; i < keys->elements; i++)
            redisAppendCommand(r, "GET %b", keys->element[i]->str, keys->element[i]->len);
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *v = NULL;
            if (redisGetReply(r, (void **)&v) != REDIS_OK) {
                snprintf(why, sizeof why, "GET: %s", s_rerr(r, NULL));
                json_object_set_new(report, "redis", json_string(why));
                freeReplyObject(rep);
                return;
            }
            /* nil: the key expired between SCAN and GET, a service that just died */
            if (v->type == REDIS_REPLY_STRING)
                ctl_ping_add_heartbeat(services, keys->element[i]->str, v->str, now_ms);
            freeReplyObject(v);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
}
