/* routes.c -- topic routes and clock timer members. */
#include "routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

int route_parse_limit(const char *s, route_limit_t *out) {
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || end == s || n <= 0) return -EINVAL;
    int unit;
    if (strcmp(end, "wd") == 0) unit = 1;
    else if (strcmp(end, "d") == 0) unit = 2;
    else if (strcmp(end, "h") == 0) unit = 3;
    else return -EINVAL;
    if ((unit != 3 && n > 3650) || (unit == 3 && n > 87600)) return -EINVAL;
    out->amount = (int)n;
    out->unit = unit;
    return 0;
}

int routes_load(routes_t *r, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    routes_t nr = {0};
    size_t cap = 0;
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char *save = NULL, *col[4] = {0};
        int n = 0;
        for (char *t = strtok_r(line, "\t", &save); t && n < 4; t = strtok_r(NULL, "\t", &save)) col[n++] = t;
        if (n != 4) {
            snprintf(err, errlen, "%s:%d: want 4 tab-separated columns: topic unit limit response_limit", path, lineno);
            rc = -EINVAL;
            break;
        }
        route_t rt;
        memset(&rt, 0, sizeof rt);
        if (strlen(col[0]) >= sizeof rt.topic || strlen(col[1]) >= sizeof rt.unit || !col[1][0]) {
            snprintf(err, errlen, "%s:%d: topic or unit empty or too long", path, lineno);
            rc = -EINVAL;
            break;
        }
        strcpy(rt.topic, col[0]);
        strcpy(rt.unit, col[1]);
        if (route_parse_limit(col[2], &rt.limit) < 0 || route_parse_limit(col[3], &rt.response) < 0) {
            snprintf(err, errlen, "%s:%d: a limit is N followed by wd, d or h (got '%s', '%s')", path, lineno,
                     col[2], col[3]);
            rc = -EINVAL;
            break;
        }
        for (size_t i = 0; i < nr.n; i++) {
            if (strcmp(nr.v[i].topic, rt.topic) == 0) {
                snprintf(err, errlen, "%s:%d: topic '%s' routed twice", path, lineno, rt.topic);
                rc = -EINVAL;
                break;
            }
        }
        if (rc < 0) break;
        if (nr.n == cap) {
            cap = cap ? cap * 2 : 16;
            nr.v = js_realloc(nr.v, cap * sizeof *nr.v);
        }
        nr.v[nr.n++] = rt;
    }
    fclose(f);
    if (rc == 0) {
        for (size_t i = 0; i < nr.n; i++)
            if (strcmp(nr.v[i].topic, "*") == 0) nr.fallback = &nr.v[i];
        if (!nr.fallback) {
            snprintf(err, errlen, "%s: no default route (topic *)", path);
            rc = -EINVAL;
        }
    }
    if (rc < 0) {
        free(nr.v);
        return rc;
    }
    routes_free(r);
    *r = nr;
    return 0;
}

const route_t *routes_find(const routes_t *r, const char *topic) {
    for (size_t i = 0; i < r->n; i++)
        if (topic && strcmp(r->v[i].topic, topic) == 0) return &r->v[i];
    return r->fallback;
}

void routes_free(routes_t *r) {
    free(r->v);
    memset(r, 0, sizeof *r);
}

