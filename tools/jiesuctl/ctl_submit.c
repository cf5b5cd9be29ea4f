/* ctl_submit.c -- options, message and reply of `jiesuctl submit`, without sockets. */
#include "ctl_submit.h"

#include <string.h>

static const struct {
    const char *name;
    int channel;
} s_channels[] = {
    {"phone", JIESU__V1__CHANNEL__CHANNEL_PHONE},     {"web", JIESU__V1__CHANNEL__CHANNEL_WEB},
    {"app", JIESU__V1__CHANNEL__CHANNEL_APP},         {"wechat", JIESU__V1__CHANNEL__CHANNEL_WECHAT},
    {"partner", JIESU__V1__CHANNEL__CHANNEL_PARTNER}, {"email", JIESU__V1__CHANNEL__CHANNEL_EMAIL},
    {"sms", JIESU__V1__CHANNEL__CHANNEL_SMS},
};

int ctl_channel_parse(const char *name) {
    for (size_t i = 0; name && i < JS_ARRAY_LEN(s_channels); i++)
        if (strcmp(name, s_channels[i].name) == 0) return s_channels[i].channel;
    return -1;
}

const char *ctl_channel_name(int channel) {
    for (size_t i = 0; i < JS_ARRAY_LEN(s_channels); i++)
        if (s_channels[i].channel == channel) return s_channels[i].name;
    return "?";
}

void ctl_submit_usage(FILE *out) {
    fprintf(out,
            "usage: jiesuctl submit --text TEXT [--contact PHONE] [--name NAME]\n"
            "         [--channel phone|web|app|wechat|partner|email|sms] [--address ADDRESS]\n"
            "         [--district DISTRICT] [--title TITLE] [--key IDEMPOTENCY-KEY]\n"
            "         [--partner ID --partner-order ID]\n"
            "Sends one submission to intake and prints \"order ID\", then the id alone as the last line.\n"
            "A timeout or an \"unavailable\" answer is retried with the same idempotency key (one is made\n"
            "when --key is not given), so a retry never makes a second order.\n");
}

/* Options of submit and where each goes. */
static const char **s_slot(ctl_submit_args_t *a, const char *opt) {
    if (!strcmp(opt, "--text")) return &a->text;
    if (!strcmp(opt, "--contact")) return &a->contact;
    if (!strcmp(opt, "--name")) return &a->name;
    if (!strcmp(opt, "--address")) return &a->address;
    if (!strcmp(opt, "--district")) return &a->district;
    if (!strcmp(opt, "--title")) return &a->title;
    if (!strcmp(opt, "--key")) return &a->key;
    if (!strcmp(opt, "--partner")) return &a->partner;
    if (!strcmp(opt, "--partner-order")) return &a->partner_order;
    return NULL;
}

int ctl_submit_parse(int argc, char **argv, ctl_submit_args_t *a, FILE *out, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    a->channel = JIESU__V1__CHANNEL__CHANNEL_PHONE;
    const char *channel = NULL;
    for (int i = 1; i < argc; i++) {
        char opt[64];
        const char *arg = argv[i], *val = NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            ctl_submit_usage(out);
            return CTL_HELP;
        }
        const char *eq = strchr(arg, '=');
        if (eq && (size_t)(eq - arg) < sizeof opt) {
            memcpy(opt, arg, (size_t)(eq - arg));
            opt[eq - arg] = '\0';
            val = eq + 1;
        } else {
            snprintf(opt, sizeof opt, "%s", arg);
        }
        const char **slot = !strcmp(opt, "--channel") ? &channel : s_slot(a, opt);
        if (!slot) {
            snprintf(err, errlen, "submit: unknown option '%s' (see submit --help)", arg);
            return -EINVAL;
        }
        if (!val) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "submit: %s needs a value", opt);
                return -EINVAL;
            }
            val = argv[++i];
        }
        *slot = val;
    }
    if (!a->text || !*a->text) {
        snprintf(err, errlen, "submit: --text is required");
        return -EINVAL;
    }
    if (channel) {
        a->channel = ctl_channel_parse(channel);
        if (a->channel < 0) {
            snprintf(err, errlen,
                     "submit: unknown channel '%s' (phone, web, app, wechat, partner, email, sms)", channel);
            return -EINVAL;
        }
    }
    if (a->channel == JIESU__V1__CHANNEL__CHANNEL_PARTNER && (!a->partner || !a->partner_order)) {
        snprintf(err, errlen, "submit: --channel partner needs --partner ID and --partner-order ID");
        return -EINVAL;
    }
    if (a->key && !*a->key) {
        snprintf(err, errlen, "submit: --key may not be empty");
        return -EINVAL;
    }
    return 0;
}

void ctl_submit_build(const ctl_submit_args_t *a, const char *key, ctl_submit_parts_t *p) {
    jiesu__v1__submission__init(&p->sub);
    jiesu__v1__requester_input__init(&p->req);
    jiesu__v1__location__init(&p->loc);
    p->sub.channel = a->channel;
    p->sub.content = (char *)a->text;
    if (a->title) p->sub.title = (char *)a->title;
    p->sub.idempotency_key = (char *)key;
    if (a->contact || a->name) {
        if (a->contact) p->req.contact = (char *)a->contact;
        if (a->name) p->req.name = (char *)a->name;
        p->sub.requester = &p->req;
    }
    if (a->address || a->district) {
        if (a->address) p->loc.address = (char *)a->address;
        if (a->district) p->loc.district = (char *)a->district;
        p->sub.location = &p->loc;
    }
    if (a->channel == JIESU__V1__CHANNEL__CHANNEL_PARTNER) {
        if (a->partner) p->sub.partner_id = (char *)a->partner;
        if (a->partner_order) p->sub.partner_order_id = (char *)a->partner_order;
    }
}

static int s_ours(const char *corr, const char *const *ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] && strcmp(corr, ids[i]) == 0) return 1;
    return 0;
}

ctl_reply_kind_t ctl_submit_reply(const js_env_t *r, const char *const *ids, size_t n, const char **order_id,
                                  int *duplicate, char *why, size_t whylen) {
    const char *corr = r->correlation_id ? r->correlation_id : "";
    int ours = s_ours(corr, ids, n);
    if (!ours && !(*corr == '\0' && r->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR))
        return CTL_REPLY_OTHER;
    switch (r->payload_case) {
    case JIESU__V1__ENVELOPE__PAYLOAD_SUBMIT_REPLY:
        if (!r->submit_reply->order_id || !*r->submit_reply->order_id) {
            snprintf(why, whylen, "bad_reply: intake answered without an order id");
            return CTL_REPLY_REFUSED;
        }
        *order_id = r->submit_reply->order_id;
        *duplicate = r->submit_reply->duplicate ? 1 : 0;
        return CTL_REPLY_OK;
    case JIESU__V1__ENVELOPE__PAYLOAD_ERROR: {
        const Jiesu__V1__Error *e = r->error;
        const char *code = e->code && *e->code ? e->code : "error";
        const char *msg = e->message ? e->message : "";
        /* name the field unless the message already does */
        if (e->field && *e->field && !strstr(msg, e->field))
            snprintf(why, whylen, "%s: %s (%s)", code, msg, e->field);
        else
            snprintf(why, whylen, "%s: %s", code, msg);
        return strcmp(code, "unavailable") == 0 ? CTL_REPLY_RETRY : CTL_REPLY_REFUSED;
    }
    default:
        snprintf(why, whylen, "bad_reply: intake answered with payload %d", (int)r->payload_case);
        return CTL_REPLY_REFUSED;
    }
}

void ctl_submit_print(FILE *out, const char *order_id, int duplicate, const char *key, const char *same) {
    if (duplicate) fprintf(out, "duplicate of %s: idempotency key %s was submitted before\n", order_id, key);
    if (same && *same) fprintf(out, "same matter as %s (same requester): this order is closed, linked to it\n", same);
    fprintf(out, "order %s\n%s\n", order_id, order_id);
}
