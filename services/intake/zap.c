/* zap.c -- the allow-list of partner keys and the ZAP handler that asks it. */
#include "zap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"

struct intake_zap {
    js_sock_t *rep;
    intake_allow_t allow;
    uint64_t *refused, *accepted;
    int64_t last_log_ms; /* refusals are logged at most once a second: a scan must not flood the log */
    uint64_t unlogged;
};

/* ---- the allow-list ------------------------------------------------------ */

void intake_allow_free(intake_allow_t *a) {
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

typedef struct s_allow_acc {
    intake_allow_t a;
    size_t cap;
} s_allow_acc_t;

static int s_key_line(void *arg, const char *path, int lineno, char **f, int n, char *err, size_t errlen) {
    s_allow_acc_t *acc = arg;
    intake_allow_t *a = &acc->a;
    uint8_t raw[JS_CURVE_KEY_LEN];
    if (n != 2) {
        snprintf(err, errlen, "%s:%d: want 'partner_id<TAB>Z85 public key'", path, lineno);
    } else if (!js_curve_id_ok(f[0])) {
        snprintf(err, errlen, "%s:%d: bad partner id '%.80s' (1..%d of A-Z a-z 0-9 _ . -)", path, lineno, f[0],
                 JS_CURVE_ID_MAX);
    } else if (!js_curve_z85_ok(f[1], raw)) {
        snprintf(err, errlen, "%s:%d: '%.80s' is not a 40-character Z85 public key", path, lineno, f[1]);
    } else if (intake_allow_find(a, raw)) {
        snprintf(err, errlen, "%s:%d: the key is listed already (for %s): a key names one partner", path, lineno,
                 intake_allow_find(a, raw));
    } else {
        if (a->n == acc->cap) {
            acc->cap = acc->cap ? acc->cap * 2 : 8;
            a->v = js_realloc(a->v, acc->cap * sizeof *a->v);
        }
        intake_partner_key_t *k = &a->v[a->n++];
        snprintf(k->id, sizeof k->id, "%s", f[0]);
        memcpy(k->z85, f[1], JS_CURVE_Z85_LEN + 1);
        memcpy(k->key, raw, sizeof raw);
        return 0;
    }
    return -EINVAL;
}

int intake_allow_load(const char *path, intake_allow_t *out, char *err, size_t errlen) {
    s_allow_acc_t acc = {{NULL, 0}, 0};
    int rc = *path ? js_curve_each_line(path, 2, s_key_line, &acc, err, errlen) : 0;
    if (rc < 0) {
        intake_allow_free(&acc.a);
        return rc;
    }
    intake_allow_free(out);
    *out = acc.a;
    return 0;
}

const char *intake_allow_find(const intake_allow_t *a, const uint8_t key[JS_CURVE_KEY_LEN]) {
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(a->v[i].key, key, JS_CURVE_KEY_LEN) == 0) return a->v[i].id;
    return NULL;
}

const char *intake_allow_find_z85(const intake_allow_t *a, const char *z85) {
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].z85, z85) == 0) return a->v[i].id;
    return NULL;
}

/* ---- one request --------------------------------------------------------- */

static int s_is(const js_frame_t *f, const char *s) {
    return f->size == strlen(s) && memcmp(f->data, s, f->size) == 0;
}

void intake_zap_check(const intake_allow_t *a, const js_frame_t *f, size_t n, intake_zap_answer_t *ans) {
    ans->user_id = "";
    ans->z85 = "";
    if (n < 6 || !s_is(&f[0], "1.0")) {
        ans->status = "500";
        ans->text = "malformed ZAP request";
        return;
    }
    ans->status = "400";
    if (!s_is(&f[2], INTAKE_ZAP_DOMAIN)) {
        ans->text = "unknown ZAP domain";
    } else if (!s_is(&f[5], "CURVE") || n != 7 || f[6].size != JS_CURVE_KEY_LEN) {
        ans->text = "CURVE with a client key is required";
    } else {
        for (size_t i = 0; i < a->n; i++) {
            if (memcmp(a->v[i].key, f[6].data, JS_CURVE_KEY_LEN) == 0) {
                ans->status = "200";
                ans->text = "OK";
                ans->user_id = a->v[i].id;
                ans->z85 = a->v[i].z85;
                return;
            }
        }
        ans->text = "client key not on the allow-list";
    }
}

/* ---- the handler --------------------------------------------------------- */

static void s_log_refusal(intake_zap_t *z, const js_frame_t *f, size_t n, const char *why) {
    int64_t now = js_mono_ms();
    if (now - z->last_log_ms < 1000) {
        z->unlogged++;
        return;
    }
    char key[JS_CURVE_Z85_LEN + 1] = "-", addr[64] = "-";
    if (n >= 7 && f[6].size == JS_CURVE_KEY_LEN) zmq_z85_encode(key, f[6].data, JS_CURVE_KEY_LEN);
    if (n >= 4) snprintf(addr, sizeof addr, "%.*s", (int)(f[3].size < 63 ? f[3].size : 63), (const char *)f[3].data);
    js_warn("partner endpoint: refused a client from %s, key %s: %s (%llu more refused in the second before)",
            addr, key, why, (unsigned long long)z->unlogged);
    z->last_log_ms = now;
    z->unlogged = 0;
}

static void s_on_request(js_sock_t *s, const js_frame_t *f, size_t n, void *arg) {
    intake_zap_t *z = arg;
    intake_zap_answer_t ans;
    intake_zap_check(&z->allow, f, n, &ans);
    if (strcmp(ans.status, "200") == 0) {
        (*z->accepted)++;
    } else {
        (*z->refused)++;
        s_log_refusal(z, f, n, ans.text);
    }
    /* metadata: the key, so intake can tell a key removed by a reload on the
     * connection's next message (ZMTP property: len8 name, len32 value) */
    uint8_t meta[1 + 13 + 4 + JS_CURVE_Z85_LEN];
    size_t ml = 0;
    if (*ans.z85) {
        const char *name = "X-Partner-Key";
        meta[ml++] = (uint8_t)strlen(name);
        memcpy(meta + ml, name, strlen(name));
        ml += strlen(name);
        uint32_t vl = JS_CURVE_Z85_LEN;
        meta[ml++] = (uint8_t)(vl >> 24);
        meta[ml++] = (uint8_t)(vl >> 16);
        meta[ml++] = (uint8_t)(vl >> 8);
        meta[ml++] = (uint8_t)vl;
        memcpy(meta + ml, ans.z85, vl);
        ml += vl;
    }
    js_frame_t r[6] = {
        {"1.0", 3},
        {n > 1 ? f[1].data : "", n > 1 ? f[1].size : 0},
        {ans.status, 3},
        {ans.text, strlen(ans.text)},
        {ans.user_id, strlen(ans.user_id)},
        {meta, ml},
    };
    /* REP: a reply to a handshake that is gone is dropped by libzmq */
    if (js_sock_send(s, r, 6) < 0) js_warn("partner endpoint: ZAP reply not sent");
}

intake_zap_t *intake_zap_new(uv_loop_t *loop, void *zctx, intake_allow_t *allow, uint64_t *refused,
                             uint64_t *accepted, int *err) {
    intake_zap_t *z = js_calloc(1, sizeof *z);
    js_sock_opts_t o;
    js_sock_opts_default(&o);
    o.linger_ms = 0;
    z->rep = js_sock_new(loop, zctx, ZMQ_REP, &o, err);
    if (!z->rep || (*err = js_sock_bind(z->rep, INTAKE_ZAP_ENDPOINT)) < 0 ||
        (*err = js_sock_start(z->rep, s_on_request, NULL, z)) < 0) {
        js_sock_close(&z->rep);
        free(z);
        return NULL;
    }
    z->allow = *allow;
    *allow = (intake_allow_t){NULL, 0};
    z->refused = refused;
    z->accepted = accepted;
    z->last_log_ms = js_mono_ms() - 1000;
    return z;
}

void intake_zap_set_allow(intake_zap_t *z, intake_allow_t *allow) {
    intake_allow_free(&z->allow);
    z->allow = *allow;
    *allow = (intake_allow_t){NULL, 0};
}

const intake_allow_t *intake_zap_allow(const intake_zap_t *z) {
    return &z->allow;
}

void intake_zap_close(intake_zap_t **zp) {
    if (!zp || !*zp) return;
    intake_zap_t *z = *zp;
    *zp = NULL;
    js_sock_close(&z->rep);
    intake_allow_free(&z->allow);
    free(z);
}
