/* routes.h -- the dispatcher's pure core for now: topic -> unit and limits,
 * loaded from a TSV file (config/dispatch/routes.tsv), and the clock timers an
 * assignment arms. No sockets, no Redis. */
#ifndef DISPATCH_ROUTES_H
#define DISPATCH_ROUTES_H

#include <stddef.h>
#include <stdint.h>

typedef struct route_limit {
    int amount;
    int unit; /* jiesu.v1.LimitUnit: 1 working days, 2 calendar days, 3 hours */
} route_limit_t;

typedef struct route {
    char topic[96]; /* "*" = default */
    char unit[64];
    route_limit_t limit, response;
} route_t;

typedef struct routes {
    route_t *v;
    size_t n;
    const route_t *fallback;
} routes_t;

/* Prototypes */
/* "15wd", "3d", "24h" -> limit; 0 or -EINVAL. */
int route_parse_limit(const char *s, route_limit_t *out);
/* Load the file; on error -errno / -EINVAL with "file:line: reason" in err and *r untouched. */
int routes_load(routes_t *r, const char *path, char *err, size_t errlen);
const route_t *routes_find(const routes_t *r, const char *topic);
void routes_free(routes_t *r);

#endif
