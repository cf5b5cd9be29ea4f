/* cmd_calendar.c -- `jiesuctl calendar`: the calendar module at the command
 * line, so an operator can check a due moment against what a unit claims. */
#include "cmd_calendar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "calendar.h"
#include "envelope.h"
#include "ids.h"
#include "jsdefs.h"

static const char s_usage[] =
    "usage: jiesuctl calendar due START N{wd|d|h}\n"
    "       jiesuctl calendar is-working DATE\n"
    "       jiesuctl calendar reload   the deadline-timer loads calendar.dir again and recomputes\n"
    "                                  provisional deadlines (its timer.control socket)\n"
    "START: YYYY-MM-DD (00:00 local) or YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM]; local is UTC+8.\n"
    "N: working days (wd), calendar days (d) or hours (h). The day of receipt does not count;\n"
    "days end at 23:59:59 local. \"provisional\" follows a due moment that ran into a year\n"
    "whose schedule is not published yet (weekends only).\n";

/* n digits at s -> value, or -1. */
static int s_digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int cmd_calendar_parse_time(const char *s, int64_t *ms) {
    size_t len = strlen(s);
    int y, m, d, hh = 0, mi = 0, ss = 0, frac = 0;
    int64_t off = JS_CAL_UTC_OFFSET_MS;
    if (len < 10 || s[4] != '-' || s[7] != '-') return -EINVAL;
    if ((y = s_digits(s, 4)) < 0 || (m = s_digits(s + 5, 2)) < 0 || (d = s_digits(s + 8, 2)) < 0)
        return -EINVAL;
    if (!js_cal_date_valid(y, m, d)) return -EINVAL;
    const char *p = s + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if ((hh = s_digits(p, 2)) < 0 || p[2] != ':' || (mi = s_digits(p + 3, 2)) < 0) return -EINVAL;
        p += 5;
        if (*p == ':') {
            if ((ss = s_digits(p + 1, 2)) < 0) return -EINVAL;
            p += 3;
            if (*p == '.' || *p == ',') {
                int n = 0, scale = 100;
                for (p++; *p >= '0' && *p <= '9'; p++, n++) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                }
                if (n == 0) return -EINVAL;
            }
        }
        if (hh > 23 || mi > 59 || ss > 59) return -EINVAL;
        if (*p == 'Z' || *p == 'z') {
            off = 0;
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh = s_digits(p + 1, 2), om;
            const char *q = p + 3;
            if (*q == ':') q++;
            om = s_digits(q, 2);
            if (oh < 0 || om < 0 || oh > 23 || om > 59) return -EINVAL;
            off = (oh * 3600LL + om * 60LL) * 1000 * (*p == '-' ? -1 : 1);
            p = q + 2;
        }
    }
    if (*p != '\0') return -EINVAL;
    *ms = js_cal_local_ms(y, m, d, hh, mi, ss) + frac + JS_CAL_UTC_OFFSET_MS - off;
    return 0;
}

static int s_fail(FILE *err, const char *fmt, const char *a, const char *b) {
    fprintf(err, "jiesuctl: calendar: ");
    fprintf(err, fmt, a, b);
    fputc('\n', err);
    return 1;
}

static int s_due(js_cal_t *cal, char **argv, FILE *out, FILE *err) {
    int64_t start, due;
    int prov = 0, unit, amount;
    char *end;
    if (cmd_calendar_parse_time(argv[2], &start) < 0)
        return s_fail(err, "due: START %s%s is not an ISO-8601 date or date-time", argv[2], "");
    errno = 0;
    long n = strtol(argv[3], &end, 10);
    if (end == argv[3] || errno != 0 || n > 1000000 || n < -1000000)
        return s_fail(err, "due: limit %s%s is not N followed by wd, d or h", argv[3], "");
    if (strcmp(end, "wd") == 0)
        unit = JS_LIMIT_WORKING_DAYS;
    else if (strcmp(end, "d") == 0)
        unit = JS_LIMIT_CALENDAR_DAYS;
    else if (strcmp(end, "h") == 0)
        unit = JS_LIMIT_HOURS;
    else
        return s_fail(err, "due: limit %s%s is not N followed by wd, d or h", argv[3], "");
    amount = (int)n;
    int rc = js_cal_due(cal, start, amount, unit, &due, &prov);
    if (rc == -ERANGE)
        return s_fail(err, "due: %s%s falls outside the years the calendar can count", argv[2], "");
    if (rc < 0)
        return s_fail(err, "due: limit %s must be 1..%s", argv[3],
                      unit == JS_LIMIT_HOURS ? "87600 hours" : "3650 days");
    char buf[64];
    js_cal_format(due, buf, sizeof buf);
    fprintf(out, "%s%s\n", buf, prov ? " provisional" : "");
    return 0;
}

static int s_is_working(js_cal_t *cal, char **argv, FILE *out, FILE *err) {
    const char *s = argv[2];
    int y, m, d;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || (y = s_digits(s, 4)) < 0 ||
        (m = s_digits(s + 5, 2)) < 0 || (d = s_digits(s + 8, 2)) < 0)
        return s_fail(err, "is-working: %s%s is not a date YYYY-MM-DD", s, "");
    int rc = js_cal_is_working(cal, y, m, d);
    if (rc == -EINVAL) return s_fail(err, "is-working: %s%s does not exist", s, "");
    if (rc < 0) return s_fail(err, "is-working: %s%s falls outside the years the calendar can count", s, "");
    fprintf(out, "%s\n", rc ? "yes" : "no");
    return 0;
}

int cmd_calendar_io(int argc, char **argv, const char *holiday_dir, FILE *out, FILE *err) {
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(s_usage, out);
        return 0;
    }
    int due = argc >= 2 && strcmp(argv[1], "due") == 0;
    int work = argc >= 2 && strcmp(argv[1], "is-working") == 0;
    if (!due && !work) return s_fail(err, "expected due or is-working%s%s (calendar --help)", "", "");
    if ((due && argc != 4) || (work && argc != 3))
        return s_fail(err, "%s: wrong number of arguments%s (calendar --help)", argv[1], "");
    char msg[512];
    js_cal_t *cal = js_cal_new();
    int rc = js_cal_load_dir(cal, holiday_dir ? holiday_dir : "config/holidays", msg, sizeof msg);
    if (rc < 0)
        rc = s_fail(err, "%s%s", msg, "");
    else
        rc = due ? s_due(cal, argv, out, err) : s_is_working(cal, argv, out, err);
    js_cal_destroy(&cal);
    return rc;
}

int cmd_calendar(int argc, char **argv, const char *holiday_dir) {
    return cmd_calendar_io(argc, argv, holiday_dir, stdout, stderr);
}

int cmd_calendar_reload(void *zctx, const char *endpoint, int64_t timeout_ms, FILE *out, FILE *err) {
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0, one = 1, to = (int)timeout_ms;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one); /* wait for the timer, not an empty queue */
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &to, sizeof to);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &to, sizeof to);
    if (zmq_connect(s, endpoint) < 0) {
        fprintf(err, "jiesuctl: calendar reload: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return 1;
    }
    Jiesu__V1__TimerControl tc = JIESU__V1__TIMER_CONTROL__INIT;
    tc.command = JIESU__V1__TIMER_COMMAND__TIMER_COMMAND_CALENDAR_RELOAD;
    js_env_t env = JIESU__V1__ENVELOPE__INIT;
    char id[JS_ID_LEN + 1];
    js_env_init(&env, id, "jiesu.timer.control", "jiesuctl", "", "");
    env.payload_case = JIESU__V1__ENVELOPE__PAYLOAD_TIMER_CONTROL;
    env.timer_control = &tc;
    size_t len;
    uint8_t *buf = js_env_pack(&env, &len);
    int rc = zmq_send(s, buf, len, 0);
    free(buf);
    if (rc < 0) {
        fprintf(err, "jiesuctl: calendar reload: the deadline-timer at %s does not answer\n", endpoint);
        zmq_close(s);
        return 1;
    }
    /* The answer comes when the recompute pass is over: the request's id correlates. */
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            fprintf(err, "jiesuctl: calendar reload: no answer from %s in %lld ms\n", endpoint, (long long)timeout_ms);
            zmq_close(s);
            return 1;
        }
        if (zmq_msg_more(&m) || zmq_msg_size(&m) == 0) {
            zmq_msg_close(&m);
            continue;
        }
        js_env_t *r = NULL;
        char why[256];
        rc = js_env_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 20, &r, why, sizeof why);
        zmq_msg_close(&m);
        if (rc < 0 || strcmp(r->correlation_id, id)) {
            js_env_free(r);
            continue;
        }
        int code = 0;
        if (r->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_TIMER_CONTROL_REPLY) {
            const Jiesu__V1__TimerControlReply *x = r->timer_control_reply;
            fprintf(out, "{\"files\":%d,\"examined\":%d,\"orders\":%d,\"clocks\":%d,\"conflicts\":%d}\n", x->files,
                    x->examined, x->orders, x->clocks, x->conflicts);
        } else if (r->payload_case == JIESU__V1__ENVELOPE__PAYLOAD_ERROR) {
            fprintf(err, "jiesuctl: calendar reload: %s: %s\n", r->error->code, r->error->message);
            code = 1;
        } else {
            fprintf(err, "jiesuctl: calendar reload: unexpected answer %s\n", r->type);
            code = 1;
        }
        js_env_free(r);
        zmq_close(s);
        return code;
    }
}
