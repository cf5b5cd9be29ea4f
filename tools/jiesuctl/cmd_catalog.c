/* cmd_catalog.c -- `jiesuctl catalog check` and `jiesuctl units`. */
#include "cmd_catalog.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/dispatcher/catalog.h"
#include "../../services/dispatcher/profile.h"
#include "jsdefs.h"

#define S_MAX_FILES 64

static const char s_usage[] =
    "usage: jiesuctl catalog check [FILE...]\n"
    "Checks dispatch reference files: the catalog, gazetteer and unit registry (told by their\n"
    "version line) and rule profiles (*.conf). Kinds not given are taken from dispatch.catalog,\n"
    "dispatch.gazetteer and dispatch.units; with no FILE, those and the profile in\n"
    "dispatch.profile_dir. Prints every problem as FILE:LINE: what (exit 1), or one summary line.\n";

static const char s_units_usage[] =
    "usage: jiesuctl units [--kind K] [--district D]\n"
    "The unit registry (dispatch.units, checked against dispatch.gazetteer) as a JSON array of\n"
    "{id, name, kind, district, reach}. K: street, township, department, utility,\n"
    "state_enterprise, district_government, committee. D: a gazetteer district id, or - for\n"
    "city-wide units.\n";

static int s_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

/* Print the problems not printed before (the same reference file checked twice reports once). */
static size_t s_print_new(const dsp_problems_t *pr, char ***seen, size_t *nseen, FILE *out) {
    size_t n = 0;
    for (size_t i = 0; i < pr->n; i++) {
        int dup = 0;
        for (size_t j = 0; j < *nseen && !dup; j++) dup = !strcmp((*seen)[j], pr->v[i]);
        if (dup) continue;
        *seen = js_realloc(*seen, (*nseen + 1) * sizeof **seen);
        (*seen)[(*nseen)++] = js_strdup(pr->v[i]);
        fprintf(out, "%s\n", pr->v[i]);
        n++;
    }
    if (pr->dropped) fprintf(out, "(%zu more problems not shown)\n", pr->dropped), n += pr->dropped;
    return n;
}

int cmd_catalog(int argc, char **argv, const cmd_catalog_paths_t *paths, FILE *out, FILE *err) {
    if (argc >= 2 && s_help(argv[1])) {
        fputs(s_usage, out);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fprintf(err, "jiesuctl: catalog: want 'catalog check [FILE...]' (see catalog --help)\n");
        return 1;
    }
    const char *cats[S_MAX_FILES], *gazs[S_MAX_FILES], *units[S_MAX_FILES], *profs[S_MAX_FILES];
    size_t nc = 0, ng = 0, nu = 0, np = 0;
    size_t problems = 0;
    char **seen = NULL;
    size_t nseen = 0;
    if (argc - 2 > S_MAX_FILES) {
        fprintf(err, "jiesuctl: catalog check: at most %d files\n", S_MAX_FILES);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        if (s_help(argv[i])) {
            fputs(s_usage, out);
            return 0;
        }
        int k = dsp_file_kind(argv[i]);
        if (k < 0) {
            fprintf(out, "%s: %s\n", argv[i], strerror(-k));
            problems++;
        } else if (k == DSP_FILE_CATALOG) cats[nc++] = argv[i];
        else if (k == DSP_FILE_GAZETTEER) gazs[ng++] = argv[i];
        else if (k == DSP_FILE_UNITS) units[nu++] = argv[i];
        else if (k == DSP_FILE_PROFILE) profs[np++] = argv[i];
        else {
            fprintf(out, "%s: not a catalog, gazetteer or units file (no 'version<TAB>KIND<TAB>...' line) nor a "
                         "profile (*.conf)\n", argv[i]);
            problems++;
        }
    }
    char profpath[4096] = "";
    if (argc == 2) {
        cats[nc++] = paths->catalog;
        snprintf(profpath, sizeof profpath, "%s/%s.conf", paths->profile_dir, paths->profile);
        profs[np++] = profpath;
    }
    /* One load per given reference file, the other two kinds from the first given or the configured. */
    size_t total = nc + ng + nu;
    dsp_ref_t last = {0};
    int last_ok = 0;
    for (size_t t = 0; t < total; t++) {
        dsp_paths_t p = {nc ? cats[0] : paths->catalog, ng ? gazs[0] : paths->gazetteer, nu ? units[0] : paths->units};
        if (t < nc) p.catalog = cats[t];
        else if (t < nc + ng) p.gazetteer = gazs[t - nc];
        else p.units = units[t - nc - ng];
        dsp_problems_t pr = {0};
        dsp_ref_t r = {0};
        if (dsp_ref_load(&r, &p, &pr) == 0 && problems == 0) {
            dsp_ref_free(&last);
            last = r;
            last_ok = 1;
        } else {
            dsp_ref_free(&r);
        }
        problems += s_print_new(&pr, &seen, &nseen, out);
        dsp_problems_free(&pr);
    }
    dsp_profile_t prof = {0};
    for (size_t i = 0; i < np; i++) {
        dsp_problems_t pr = {0};
        dsp_profile_load(&prof, profs[i], &pr);
        problems += s_print_new(&pr, &seen, &nseen, out);
        dsp_problems_free(&pr);
    }
    for (size_t i = 0; i < nseen; i++) free(seen[i]);
    free(seen);
    if (problems) {
        dsp_ref_free(&last);
        fprintf(err, "jiesuctl: catalog check: %zu problem%s\n", problems, problems == 1 ? "" : "s");
        return 1;
    }
    if (last_ok) {
        size_t d = 0, s = 0, c = 0;
        for (size_t i = 0; i < last.nplaces; i++) {
            d += last.places[i].level == DSP_PLACE_DISTRICT;
            s += last.places[i].level == DSP_PLACE_STREET;
            c += last.places[i].level == DSP_PLACE_COMMUNITY;
        }
        fprintf(out,
                "ok: catalog %s: %zu items; gazetteer %s: %zu districts, %zu streets/townships, %zu communities, "
                "%zu partner areas; units %s: %zu units",
                last.catalog_version, last.nitems, last.gazetteer_version, d, s, c, last.npartners,
                last.units_version, last.nunits);
        if (np) fprintf(out, "; %zu profile%s", np, np == 1 ? "" : "s");
        fputc('\n', out);
    } else {
        fprintf(out, "ok: %zu profile%s\n", np, np == 1 ? "" : "s");
    }
    dsp_ref_free(&last);
    return 0;
}

int cmd_units(int argc, char **argv, const cmd_catalog_paths_t *paths, FILE *out, FILE *err) {
    const char *kind = NULL, *district = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (s_help(a)) {
            fputs(s_units_usage, out);
            return 0;
        }
        const char **dst = !strcmp(a, "--kind") ? &kind : !strcmp(a, "--district") ? &district : NULL;
        if (!dst || i + 1 >= argc) {
            fprintf(err, "jiesuctl: units: %s '%s' (see units --help)\n", dst ? "no value for" : "unknown option", a);
            return 1;
        }
        *dst = argv[++i];
    }
    int k = 0;
    if (kind && !(k = dsp_kind_parse(kind))) {
        fprintf(err, "jiesuctl: units: unknown kind '%s' (see units --help)\n", kind);
        return 1;
    }
    /* Only the registry and the gazetteer it names districts of: a broken catalog does not hide the units. */
    dsp_paths_t p = {NULL, paths->gazetteer, paths->units};
    dsp_ref_t r = {0};
    dsp_problems_t pr = {0};
    int rc = dsp_ref_load(&r, &p, &pr);
    if (rc < 0) {
        for (size_t i = 0; i < pr.n; i++) fprintf(err, "%s\n", pr.v[i]);
        fprintf(err, "jiesuctl: units: %zu problem%s in the unit registry or gazetteer\n", pr.n + pr.dropped,
                pr.n + pr.dropped == 1 ? "" : "s");
        dsp_problems_free(&pr);
        return 1;
    }
    if (district && strcmp(district, "-") != 0 && !dsp_ref_place(&r, district)) {
        fprintf(err, "jiesuctl: units: unknown district '%s'\n", district);
        dsp_ref_free(&r);
        return 1;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < r.nunits; i++) {
        const dsp_unit_t *u = &r.units[i];
        if (k && u->kind != k) continue;
        if (district && strcmp(u->district, strcmp(district, "-") ? district : "") != 0) continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", u->id, "name", u->name, "kind",
                                             dsp_kind_name(u->kind), "district", u->district, "reach", u->reach));
    }
    char *s = json_dumps(arr, JSON_INDENT(2));
    fprintf(out, "%s\n", s ? s : "[]");
    free(s);
    json_decref(arr);
    dsp_ref_free(&r);
    dsp_problems_free(&pr);
    return 0;
}
