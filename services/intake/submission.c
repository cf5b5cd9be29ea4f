/* submission.c -- what intake accepts, and the order it makes of it. */
#include "submission.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jsdefs.h"

void intake_limits_default(intake_limits_t *l) {
    l->max_content = 65536;
    l->max_title = 512;
    l->max_text = 512;
    l->max_attachments = 20;
    l->max_url = 2048;
    l->max_key = 128;
}

static int s_is_space_at(const char *p, const char *end) {
    if (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) return 1;
    if (end - p >= 3 && (unsigned char)p[0] == 0xE3 && (unsigned char)p[1] == 0x80 &&
        (unsigned char)p[2] == 0x80)
        return 3; /* U+3000 ideographic space */
    return 0;
}

char *intake_trim(js_arena_t *a, const char *s) {
    const char *b = s, *e = s + strlen(s);
    int k;
    while ((k = s_is_space_at(b, e)) > 0) b += k;
    for (;;) {
        if (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) {
            e--;
        } else if (e - b >= 3 && (unsigned char)e[-3] == 0xE3 && (unsigned char)e[-2] == 0x80 &&
                   (unsigned char)e[-1] == 0x80) {
            e -= 3;
        } else {
            break;
        }
    }
    char *out = js_arena_alloc(a, (size_t)(e - b) + 1);
    memcpy(out, b, (size_t)(e - b));
    out[e - b] = '\0';
    return out;
}

#define FAIL(code, f, ...)                                    \
    do {                                                      \
        snprintf(field, fieldlen, "%s", f);                   \
        snprintf(msg, msglen, f ": " __VA_ARGS__);            \
        return code;                                          \
    } while (0)

static int s_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
    return 1;
}

static int s_contact_ok(const char *c) {
    if (strchr(c, '@')) {
        const char *at = strchr(c, '@');
        return at > c && at[1] && strchr(at + 1, '.') && !strchr(at + 1, '@');
    }
    int digits = 0;
    for (const char *p = c; *p; p++) {
        if (*p >= '0' && *p <= '9') digits++;
        else if (*p != '+' && *p != '-' && *p != ' ' && *p != '(' && *p != ')') return 0;
    }
    return digits >= 5 && digits <= 20;
}

static int s_key_ok(const char *k) {
    for (; *k; k++) {
        char c = *k;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return 1;
}

const char *intake_check(const Jiesu__V1__Submission *s, const intake_limits_t *l, int64_t now_ms,
                         char *field, size_t fieldlen, char *msg, size_t msglen) {
    if (!s->content || !*s->content || s_blank(s->content))
        FAIL("bad_request", "submission.content", "is required");
    if (strlen(s->content) > l->max_content)
        FAIL("too_large", "submission.content", "%zu bytes, the limit is %zu", strlen(s->content),
             l->max_content);
    if (s->channel < JIESU__V1__CHANNEL__CHANNEL_PHONE || s->channel > JIESU__V1__CHANNEL__CHANNEL_SMS)
        FAIL("bad_request", "submission.channel", "is required: phone, web, app, wechat, partner, email or sms");
    if (s->channel == JIESU__V1__CHANNEL__CHANNEL_PARTNER && (!*s->partner_id || !*s->partner_order_id))
        FAIL("bad_request", "submission.partner_id", "a partner submission names its partner and its order id");
    if (strlen(s->title) > l->max_title)
        FAIL("too_large", "submission.title", "over %zu bytes", l->max_title);
    if (strlen(s->partner_id) > l->max_key || strlen(s->partner_order_id) > l->max_key)
        FAIL("too_large", "submission.partner_order_id", "over %zu bytes", l->max_key);
    if (strlen(s->idempotency_key) > l->max_key)
        FAIL("too_large", "submission.idempotency_key", "over %zu bytes", l->max_key);
    if (!s_key_ok(s->idempotency_key))
        FAIL("bad_request", "submission.idempotency_key", "use only letters, digits and - _ . :");
    if (s->requester) {
        const Jiesu__V1__RequesterInput *r = s->requester;
        if (strlen(r->name) > 128) FAIL("too_large", "submission.requester.name", "over 128 bytes");
        if (strlen(r->contact) > 64) FAIL("too_large", "submission.requester.contact", "over 64 bytes");
        if (*r->contact && !s_contact_ok(r->contact))
            FAIL("bad_request", "submission.requester.contact", "not a phone number or e-mail address");
        if (r->callback_method < 0 || r->callback_method > JIESU__V1__CALLBACK_METHOD__CALLBACK_METHOD_NONE)
            FAIL("bad_request", "submission.requester.callback_method", "unknown method %d",
                 (int)r->callback_method);
    }
    if (s->location) {
        const Jiesu__V1__Location *loc = s->location;
        if (strlen(loc->address) > l->max_text || strlen(loc->district) > l->max_text ||
            strlen(loc->street) > l->max_text || strlen(loc->community) > l->max_text)
            FAIL("too_large", "submission.location", "a field is over %zu bytes", l->max_text);
        if (loc->coordinates) {
            double la = loc->coordinates->lat, lo = loc->coordinates->lon;
            if (!isfinite(la) || !isfinite(lo) || la < -90 || la > 90 || lo < -180 || lo > 180)
                FAIL("bad_request", "submission.location.coordinates", "lat must be in [-90, 90], lon in [-180, 180]");
        }
    }
    if (s->n_attachments > l->max_attachments)
        FAIL("too_large", "submission.attachments", "%zu attachments, the limit is %zu", s->n_attachments,
             l->max_attachments);
    for (size_t i = 0; i < s->n_attachments; i++) {
        const char *u = s->attachments[i]->url;
        if (strlen(u) > l->max_url) FAIL("too_large", "submission.attachments.url", "over %zu bytes", l->max_url);
        if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
            FAIL("bad_request", "submission.attachments.url", "must be an http(s) URL");
        if (strlen(s->attachments[i]->media_type) > 128 || strlen(s->attachments[i]->transcript) > l->max_content)
            FAIL("too_large", "submission.attachments", "media_type or transcript too long");
        if (s->attachments[i]->size_bytes < 0)
            FAIL("bad_request", "submission.attachments.size_bytes", "is negative");
    }
    if (s->occurred_ms != 0 &&
        (s->occurred_ms < now_ms - INT64_C(366) * 86400000 || s->occurred_ms > now_ms + 300000))
        FAIL("bad_request", "submission.occurred_ms", "must lie within the last year");
    return NULL;
}

const char *intake_partner_prepare(Jiesu__V1__Submission *s, const char *partner, char *field, size_t fieldlen,
                                   char *msg, size_t msglen) {
    if (s->channel != JIESU__V1__CHANNEL__CHANNEL_UNSPECIFIED && s->channel != JIESU__V1__CHANNEL__CHANNEL_PARTNER)
        FAIL("bad_request", "submission.channel", "the partner endpoint takes channel partner only");
    if (*s->partner_id && strcmp(s->partner_id, partner) != 0)
        FAIL("forbidden", "submission.partner_id", "names '%.64s', but this connection's key is partner '%s'",
             s->partner_id, partner);
    if (!*s->partner_order_id)
        FAIL("bad_request", "submission.partner_order_id", "a partner submission names its own order id");
    if (!*s->idempotency_key) {
        if (!s_key_ok(s->partner_order_id))
            FAIL("bad_request", "submission.partner_order_id",
                 "use only letters, digits and - _ . : (it is the idempotency key when none is given)");
        s->idempotency_key = s->partner_order_id;
    }
    s->channel = JIESU__V1__CHANNEL__CHANNEL_PARTNER;
    s->partner_id = (char *)partner;
    return NULL;
}

void intake_build_order(js_arena_t *a, const Jiesu__V1__Submission *s, const js_pii_t *pii,
                        const char *id, const char *trace_id, int64_t now_ms, Jiesu__V1__Order *o,
                        uint8_t **sealed, size_t *sealed_len) {
    o->id = js_arena_strdup(a, id);
    o->trace_id = js_arena_strdup(a, trace_id);
    o->channel = s->channel;
    o->received_ms = now_ms;
    o->content = intake_trim(a, s->content);
    o->title = intake_trim(a, s->title);
    o->stage = JIESU__V1__STAGE__STAGE_RECEIVED;
    o->version = 1;
    o->partner_id = s->partner_id;
    o->partner_order_id = s->partner_order_id;
    if (*s->idempotency_key)
        o->idempotency_key = js_arena_printf(a, "%s:%s", *s->partner_id ? s->partner_id : "-",
                                             s->idempotency_key);
    *sealed = NULL;
    *sealed_len = 0;
    Jiesu__V1__Requester *rq = js_arena_alloc(a, sizeof *rq);
    jiesu__v1__requester__init(rq);
    rq->callback_method = JIESU__V1__CALLBACK_METHOD__CALLBACK_METHOD_PHONE;
    if (s->requester) {
        const Jiesu__V1__RequesterInput *in = s->requester;
        rq->anonymous = in->anonymous;
        if (in->callback_method) rq->callback_method = in->callback_method;
        if (*in->name) {
            char *m = js_arena_alloc(a, strlen(in->name) * 2 + 8);
            js_pii_mask_name(in->name, m, strlen(in->name) * 2 + 8);
            rq->name_masked = m;
        }
        if (*in->contact) {
            char *m = js_arena_alloc(a, 80);
            js_pii_mask(in->contact, m, 80);
            rq->contact_masked = m;
            char *k = js_arena_alloc(a, 33);
            js_pii_requester_key(pii, in->contact, k);
            rq->requester_key = k;
            size_t n = strlen(in->contact);
            *sealed = js_arena_alloc(a, n + JS_PII_OVERHEAD);
            js_pii_seal(pii, in->contact, n, *sealed, sealed_len);
        }
    }
    o->requester = rq;
    if (s->location) {
        Jiesu__V1__Location *l = js_arena_alloc(a, sizeof *l);
        *l = *s->location;
        l->address = intake_trim(a, l->address);
        o->location = l;
    }
    o->n_attachments = s->n_attachments;
    o->attachments = s->attachments;
}
