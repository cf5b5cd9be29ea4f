/* cmd_catalog.h -- `jiesuctl catalog check` and `jiesuctl units`: the
 * dispatcher's reference data (docs/DISPATCH.md) checked and listed offline,
 * with the dispatcher's own loaders (services/dispatcher/catalog.h).
 *
 *   catalog check [FILE...]        every problem as "FILE:LINE: what" on stdout,
 *                                  exit 1 if any; one summary line when all is
 *                                  well. A FILE is told by its version line
 *                                  (catalog, gazetteer, units) or its .conf name
 *                                  (a rule profile). Kinds not given come from
 *                                  the configured paths, so a catalog is checked
 *                                  against the configured units and gazetteer.
 *                                  No FILE: the configured files and profile.
 *   units [--kind K] [--district D]  the unit registry as one JSON array */
#ifndef CMD_CATALOG_H
#define CMD_CATALOG_H

#include <stdio.h>

typedef struct cmd_catalog_paths {
    const char *catalog;     /* dispatch.catalog */
    const char *gazetteer;   /* dispatch.gazetteer */
    const char *units;       /* dispatch.units */
    const char *profile_dir; /* dispatch.profile_dir */
    const char *profile;     /* profile */
} cmd_catalog_paths_t;

/* Prototypes */
/* argv[0] is "catalog" / "units". Return 0, or 1 with one line
 * "jiesuctl: ..." on err (check: after the problems on out). */
int cmd_catalog(int argc, char **argv, const cmd_catalog_paths_t *paths, FILE *out, FILE *err);
int cmd_units(int argc, char **argv, const cmd_catalog_paths_t *paths, FILE *out, FILE *err);

#endif
