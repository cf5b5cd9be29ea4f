/* catalog.c -- loading and checking the dispatch catalog, gazetteer and unit
 * registry; the Aho-Corasick matcher over every word they hold. */
#include "catalog.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsdefs.h"

#define S_LINE_MAX 8192 /* longest line of a reference file */
#define S_MAX_COLS 16

/* ---- problems ---------------------------------------------------------------- */

void dsp_problems_add(dsp_problems_t *pr, const char *file, int line, const char *fmt, ...) {
    if (!pr) return;
    if (pr->n >= DSP_MAX_PROBLEMS) {
        pr->dropped++;
        return;
    }
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char buf[1400];
    if (line > 0) snprintf(buf, sizeof buf, "%s:%d: %s", file, line, what);
    else snprintf(buf, sizeof buf, "%s: %s", file, what);
    if (pr->n == pr->cap) {
        pr->cap = pr->cap ? pr->cap * 2 : 16;
        pr->v = js_realloc(pr->v, pr->cap * sizeof *pr->v);
    }
    pr->v[pr->n++] = js_strdup(buf);
}

void dsp_problems_free(dsp_problems_t *pr) {
    for (size_t i = 0; i < pr->n; i++) free(pr->v[i]);
    free(pr->v);
    memset(pr, 0, sizeof *pr);
}

/* ---- small parsers --------------------------------------------------------------- */

int dsp_parse_limit(const char *s, dsp_limit_t *out) {
    if (!s || !isdigit((unsigned char)s[0])) return -EINVAL;
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || end == s || n <= 0) return -EINVAL;
    int unit;
    if (strcmp(end, "wd") == 0) unit = DSP_LIMIT_WD;
    else if (strcmp(end, "d") == 0) unit = DSP_LIMIT_D;
    else if (strcmp(end, "h") == 0) unit = DSP_LIMIT_H;
    else return -EINVAL;
    if ((unit != DSP_LIMIT_H && n > 3650) || (unit == DSP_LIMIT_H && n > 87600)) return -EINVAL;
    out->amount = (int)n;
    out->unit = unit;
    return 0;
}

char *dsp_limit_str(dsp_limit_t l, char *buf, size_t cap) {
    static const char *const sfx[] = {"", "wd", "d", "h"};
    if (l.unit < DSP_LIMIT_WD || l.unit > DSP_LIMIT_H || l.amount <= 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%d%s", l.amount, sfx[l.unit]);
    return buf;
}

/* Days from 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int32_t s_days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

int dsp_parse_date(const char *s, int32_t *days) {
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return -EINVAL;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || y > 2199 || m < 1 || m > 12 || d < 1) return -EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap)) return -EINVAL;
    *days = s_days_from_civil(y, m, d);
    return 0;
}

int32_t dsp_local_day(int64_t ms) {
    int64_t local = ms + 8 * 3600 * 1000LL;
    int64_t day = local / 86400000LL;
    if (local < 0 && local % 86400000LL) day--;
    return (int32_t)day;
}

static const char *const s_kinds[] = {NULL,       "street",           "township",            "department",
                                      "utility",  "state_enterprise", "district_government", "committee"};

int dsp_kind_parse(const char *s) {
    for (int i = 1; i < (int)JS_ARRAY_LEN(s_kinds); i++)
        if (s && strcmp(s, s_kinds[i]) == 0) return i;
    return 0;
}

const char *dsp_kind_name(int kind) {
    return kind >= 1 && kind < (int)JS_ARRAY_LEN(s_kinds) ? s_kinds[kind] : "?";
}

/* An id: 1..63 bytes of [a-z0-9._-], starting with a letter or digit. */
static int s_id_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= DSP_ID_MAX || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || c == '.')) return 0;
    }
    return 1;
}

/* Characters (code points) of valid UTF-8. */
static int s_chars(const char *s) {
    int n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* ---- lines and columns ----------------------------------------------------------- */

typedef struct s_reader {
    FILE *f;
    const char *path;
    int lineno;
    char *buf;
    size_t cap;
    dsp_problems_t *pr;
} s_reader_t;

/* The next data line split on tabs (comments and blank lines skipped, bad
 * UTF-8 and overlong lines reported and skipped). Returns the column count,
 * 0 at the end. */
static int s_next(s_reader_t *r, char **col) {
    for (;;) {
        ssize_t len = getline(&r->buf, &r->cap, r->f);
        if (len < 0) return 0;
        r->lineno++;
        while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r')) r->buf[--len] = '\0';
        if (len > S_LINE_MAX) {
            dsp_problems_add(r->pr, r->path, r->lineno, "line longer than %d bytes", S_LINE_MAX);
            continue;
        }
        if (!js_utf8_valid(r->buf, (size_t)len)) {
            dsp_problems_add(r->pr, r->path, r->lineno, "bad UTF-8");
            continue;
        }
        if (memchr(r->buf, '\0', (size_t)len)) {
            dsp_problems_add(r->pr, r->path, r->lineno, "NUL byte in the line");
            continue;
        }
        const char *p = r->buf;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        int n = 0;
        char *s = r->buf;
        for (;;) {
            char *tab = strchr(s, '\t');
            if (n < S_MAX_COLS) col[n] = s;
            n++;
            if (!tab) break;
            *tab = '\0';
            s = tab + 1;
        }
        /* Blanks around a column are a typing slip, not data. */
        for (int i = 0; i < n && i < S_MAX_COLS; i++) {
            char *c = col[i];
            while (*c == ' ') c++;
            char *e = c + strlen(c);
            while (e > c && e[-1] == ' ') *--e = '\0';
            col[i] = c;
        }
        return n;
    }
}

/* The version line: "version<TAB>KIND<TAB>VERSION". Returns a copy of VERSION or NULL (reported). */
static char *s_version(s_reader_t *r, const char *kind) {
    char *col[S_MAX_COLS];
    int n = s_next(r, col);
    if (n == 0) {
        dsp_problems_add(r->pr, r->path, 0, "empty: the first line must be 'version<TAB>%s<TAB>VERSION'", kind);
        return NULL;
    }
    if (n != 3 || strcmp(col[0], "version") != 0 || strcmp(col[1], kind) != 0 || !col[2][0]) {
        dsp_problems_add(r->pr, r->path, r->lineno, "bad version line: want 'version<TAB>%s<TAB>VERSION'", kind);
        return NULL;
    }
    return js_strdup(col[2]);
}

static FILE *s_open(const char *path, dsp_problems_t *pr, int *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        *err = -errno;
        dsp_problems_add(pr, path, 0, "%s", strerror(errno));
    }
    return f;
}

int dsp_file_kind(const char *path) {
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".conf") == 0) return DSP_FILE_PROFILE;
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    char line[512];
    int kind = DSP_FILE_UNKNOWN;
    while (fgets(line, sizeof line, f)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#' || *p == '\n' || *p == '\r') continue;
        if (strncmp(p, "version\tcatalog\t", 16) == 0) kind = DSP_FILE_CATALOG;
        else if (strncmp(p, "version\tgazetteer\t", 18) == 0) kind = DSP_FILE_GAZETTEER;
        else if (strncmp(p, "version\tunits\t", 14) == 0) kind = DSP_FILE_UNITS;
        break;
    }
    fclose(f);
    return kind;
}

/* "a,b,c" -> a new array of new strings (empty items reported). */
static char **s_split_words(const char *s, size_t *n, s_reader_t *r, const char *what) {
    char **v = NULL;
    size_t cnt = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (len == 0) {
            dsp_problems_add(r->pr, r->path, r->lineno, "empty %s in '%s'", what, s);
        } else {
            v = js_realloc(v, (cnt + 1) * sizeof *v);
            v[cnt] = js_malloc(len + 1);
            memcpy(v[cnt], p, len);
            v[cnt][len] = '\0';
            cnt++;
        }
        if (!e) break;
        p = e + 1;
    }
    *n = cnt;
    return v;
}

static void s_free_words(char **w, size_t n) {
    for (size_t i = 0; i < n; i++) free(w[i]);
    free(w);
}

/* ---- the matcher (Aho-Corasick over bytes) ------------------------------------ */

typedef struct s_node {
    int first, next; /* build: first child, next sibling */
    int fail, dict;  /* failure link; nearest node on the fail chain that ends a pattern (0 none) */
    int pat;         /* pattern ending here, -1 none */
    int eoff, nedge; /* compact edges */
    unsigned char c;
} s_node_t;

struct dsp_matcher {
    s_node_t *n;
    size_t nn, cap;
    unsigned char *ec; /* edge bytes, sorted per node */
    int *et;           /* edge targets */
    int root[256];     /* the root's dense table (0 = stay at the root) */
    char **pats;       /* pattern strings (lowercased) */
    size_t npats, patcap;
};

static int s_node_new(dsp_matcher_t *m, unsigned char c) {
    if (m->nn == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->n = js_realloc(m->n, m->cap * sizeof *m->n);
    }
    s_node_t *x = &m->n[m->nn];
    memset(x, 0, sizeof *x);
    x->first = x->next = -1;
    x->pat = -1;
    x->c = c;
    return (int)m->nn++;
}

static unsigned char s_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

/* The pattern id of s, added if new. */
static int s_pattern(dsp_matcher_t *m, const char *s) {
    if (m->nn == 0) s_node_new(m, 0);
    int cur = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = s_lower(*p);
        int ch = m->n[cur].first;
        while (ch >= 0 && m->n[ch].c != c) ch = m->n[ch].next;
        if (ch < 0) {
            ch = s_node_new(m, c);
            m->n[ch].next = m->n[cur].first;
            m->n[cur].first = ch;
        }
        cur = ch;
    }
    if (m->n[cur].pat >= 0) return m->n[cur].pat;
    if (m->npats == m->patcap) {
        m->patcap = m->patcap ? m->patcap * 2 : 256;
        m->pats = js_realloc(m->pats, m->patcap * sizeof *m->pats);
    }
    m->pats[m->npats] = js_strdup(s);
    m->n[cur].pat = (int)m->npats;
    return (int)m->npats++;
}

static int s_goto(const dsp_matcher_t *m, int s, unsigned char c) {
    if (s == 0) return m->root[c];
    const s_node_t *x = &m->n[s];
    int lo = 0, hi = x->nedge - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        unsigned char e = m->ec[x->eoff + mid];
        if (e == c) return m->et[x->eoff + mid];
        if (e < c) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static int s_cmp_uc(const void *a, const void *b) {
    return (int)((const unsigned char *)a)[0] - (int)((const unsigned char *)b)[0];
}

static void s_matcher_build(dsp_matcher_t *m) {
    if (m->nn == 0) s_node_new(m, 0);
    m->ec = js_malloc(m->nn + 1);
    m->et = js_malloc((m->nn + 1) * sizeof *m->et);
    int off = 0;
    typedef struct { unsigned char c; int t; } edge_t;
    edge_t *tmp = js_malloc(256 * sizeof *tmp);
    for (size_t i = 0; i < m->nn; i++) {
        int k = 0;
        for (int ch = m->n[i].first; ch >= 0; ch = m->n[ch].next) tmp[k++] = (edge_t){m->n[ch].c, ch};
        qsort(tmp, (size_t)k, sizeof *tmp, s_cmp_uc);
        m->n[i].eoff = off;
        m->n[i].nedge = k;
        for (int j = 0; j < k; j++) {
            m->ec[off + j] = tmp[j].c;
            m->et[off + j] = tmp[j].t;
        }
        off += k;
    }
    free(tmp);
    memset(m->root, 0, sizeof m->root);
    for (int j = 0; j < m->n[0].nedge; j++) m->root[m->ec[j]] = m->et[j];
    /* Breadth first: failure and dictionary links. */
    int *q = js_malloc(m->nn * sizeof *q);
    size_t qh = 0, qt = 0;
    for (int j = 0; j < m->n[0].nedge; j++) {
        int v = m->et[j];
        m->n[v].fail = 0;
        m->n[v].dict = 0;
        q[qt++] = v;
    }
    while (qh < qt) {
        int u = q[qh++];
        for (int j = 0; j < m->n[u].nedge; j++) {
            unsigned char c = m->ec[m->n[u].eoff + j];
            int v = m->et[m->n[u].eoff + j];
            int f = m->n[u].fail, t;
            while ((t = s_goto(m, f, c)) < 0) f = m->n[f].fail;
            if (f == 0 && t == 0) t = m->root[c];
            m->n[v].fail = t == v ? 0 : t;
            int fv = m->n[v].fail;
            m->n[v].dict = m->n[fv].pat >= 0 ? fv : m->n[fv].dict;
            q[qt++] = v;
        }
    }
    free(q);
}

static void s_matcher_free(dsp_matcher_t *m) {
    if (!m) return;
    for (size_t i = 0; i < m->npats; i++) free(m->pats[i]);
    free(m->pats);
    free(m->n);
    free(m->ec);
    free(m->et);
    free(m);
}

void dsp_ref_scan(const dsp_ref_t *r, const char *text, size_t len, unsigned char *found) {
    const dsp_matcher_t *m = r->m;
    if (!m || !text) return;
    int s = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s_lower((unsigned char)text[i]);
        int t = 0;
        while (s && (t = s_goto(m, s, c)) < 0) s = m->n[s].fail;
        s = s ? t : m->root[c];
        for (int x = m->n[s].pat >= 0 ? s : m->n[s].dict; x > 0; x = m->n[x].dict) found[m->n[x].pat] = 1;
    }
}

/* ---- sorted indexes ------------------------------------------------------------- */

typedef struct s_sortctx {
    const char *base;
    size_t stride;
} s_sortctx_t;

static int s_cmp_idx(const void *a, const void *b, void *arg) {
    const s_sortctx_t *c = arg;
    return strcmp(c->base + (size_t)*(const int *)a * c->stride, c->base + (size_t)*(const int *)b * c->stride);
}

static int *s_index(const void *base, size_t n, size_t stride) {
    int *ix = js_malloc((n + 1) * sizeof *ix);
    for (size_t i = 0; i < n; i++) ix[i] = (int)i;
    s_sortctx_t c = {base, stride};
    qsort_r(ix, n, sizeof *ix, s_cmp_idx, &c);
    return ix;
}

/* The element whose id (first member, a char array) is id, or -1. */
static int s_find(const int *ix, const void *base, size_t n, size_t stride, const char *id) {
    if (!id || !ix) return -1;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp((const char *)base + (size_t)ix[mid] * stride, id);
        if (c == 0) return ix[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

const dsp_unit_t *dsp_ref_unit(const dsp_ref_t *r, const char *id) {
    int i = s_find(r->unit_by_id, r->units, r->nunits, sizeof *r->units, id);
    return i < 0 ? NULL : &r->units[i];
}

const dsp_item_t *dsp_ref_item(const dsp_ref_t *r, const char *id) {
    int i = s_find(r->item_by_id, r->items, r->nitems, sizeof *r->items, id);
    return i < 0 ? NULL : &r->items[i];
}

const dsp_place_t *dsp_ref_place(const dsp_ref_t *r, const char *id) {
    int i = s_find(r->place_by_id, r->places, r->nplaces, sizeof *r->places, id);
    return i < 0 ? NULL : &r->places[i];
}

const dsp_unit_t *dsp_ref_district_gov(const dsp_ref_t *r, const char *district_id) {
    const dsp_place_t *d = dsp_ref_place(r, district_id);
    if (!d || d->level != DSP_PLACE_DISTRICT) return NULL;
    const dsp_unit_t *u = dsp_ref_unit(r, d->unit);
    return u && u->kind == DSP_KIND_DISTRICT_GOVERNMENT ? u : NULL;
}

/* ---- free ------------------------------------------------------------------------ */

void dsp_ref_free(dsp_ref_t *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nunits; i++) {
        free(r->units[i].name);
        free(r->units[i].reach);
    }
    for (size_t i = 0; i < r->nplaces; i++) {
        free(r->places[i].name);
        s_free_words(r->places[i].words, r->places[i].nwords);
        free(r->places[i].wpat);
    }
    for (size_t i = 0; i < r->npartners; i++) {
        free(r->partners[i].name);
        s_free_words(r->partners[i].words, r->partners[i].nwords);
        free(r->partners[i].wpat);
    }
    for (size_t i = 0; i < r->nitems; i++) {
        dsp_item_t *it = &r->items[i];
        free(it->name);
        free(it->topic);
        free(it->kw);
        free(it->legal_basis);
        free(it->office);
    }
    free(r->units);
    free(r->places);
    free(r->partners);
    free(r->items);
    free(r->catalog_version);
    free(r->gazetteer_version);
    free(r->units_version);
    free(r->unit_by_id);
    free(r->place_by_id);
    free(r->item_by_id);
    s_matcher_free(r->m);
    memset(r, 0, sizeof *r);
}

/* ---- gazetteer -------------------------------------------------------------------- */

static int s_place_level(const char *s) {
    if (!strcmp(s, "district")) return DSP_PLACE_DISTRICT;
    if (!strcmp(s, "street") || !strcmp(s, "township")) return DSP_PLACE_STREET;
    if (!strcmp(s, "community") || !strcmp(s, "village")) return DSP_PLACE_COMMUNITY;
    if (!strcmp(s, "partner")) return 4;
    return 0;
}

/* A linear find during loading (the index is built at the end). */
static int s_place_idx(const dsp_ref_t *r, const char *id) {
    for (size_t i = 0; i < r->nplaces; i++)
        if (!strcmp(r->places[i].id, id)) return (int)i;
    return -1;
}

static void s_load_gazetteer(dsp_ref_t *r, const char *path, dsp_problems_t *pr, int *err) {
    FILE *f = s_open(path, pr, err);
    if (!f) return;
    s_reader_t rd = {.f = f, .path = path, .pr = pr};
    r->gazetteer_version = s_version(&rd, "gazetteer");
    char *col[S_MAX_COLS];
    int n;
    size_t pcap = 0, acap = 0;
    while ((n = s_next(&rd, col)) > 0) {
        if (n != 6) {
            dsp_problems_add(pr, path, rd.lineno, "bad columns: %d, want 6 (level id name parent unit words)", n);
            continue;
        }
        int level = s_place_level(col[0]);
        if (!level) {
            dsp_problems_add(pr, path, rd.lineno,
                             "unknown level '%s' (district, street, township, community, village, partner)", col[0]);
            continue;
        }
        if (!s_id_ok(col[1])) {
            dsp_problems_add(pr, path, rd.lineno, "bad id '%s' (1..63 of a-z 0-9 . _ -)", col[1]);
            continue;
        }
        if (!col[2][0]) {
            dsp_problems_add(pr, path, rd.lineno, "empty name");
            continue;
        }
        int dup = s_place_idx(r, col[1]);
        if (dup >= 0) {
            dsp_problems_add(pr, path, rd.lineno, "duplicate id '%s' (first at line %d)", col[1], r->places[dup].line);
            continue;
        }
        size_t nw = 0;
        char **w = s_split_words(col[5], &nw, &rd, "word");
        if (nw == 0) {
            dsp_problems_add(pr, path, rd.lineno, "no address words");
            s_free_words(w, nw);
            continue;
        }
        if (level == 4) {
            if (!s_id_ok(col[3])) {
                dsp_problems_add(pr, path, rd.lineno, "bad partner id '%s' in the parent column", col[3]);
                s_free_words(w, nw);
                continue;
            }
            if (r->npartners == acap) {
                acap = acap ? acap * 2 : 8;
                r->partners = js_realloc(r->partners, acap * sizeof *r->partners);
            }
            dsp_partner_area_t *a = &r->partners[r->npartners++];
            memset(a, 0, sizeof *a);
            snprintf(a->partner, sizeof a->partner, "%s", col[3]);
            a->name = js_strdup(col[2]);
            a->words = w;
            a->nwords = nw;
            a->line = rd.lineno;
            continue;
        }
        int parent = -1;
        if (level == DSP_PLACE_DISTRICT) {
            if (strcmp(col[3], "-") != 0) {
                dsp_problems_add(pr, path, rd.lineno, "a district has no parent: want -, got '%s'", col[3]);
                s_free_words(w, nw);
                continue;
            }
        } else {
            parent = s_place_idx(r, col[3]);
            int want = level - 1;
            if (parent < 0 || r->places[parent].level != want) {
                dsp_problems_add(pr, path, rd.lineno, "unknown %s '%s' (define it on an earlier line)",
                                 want == DSP_PLACE_DISTRICT ? "district" : "street", col[3]);
                s_free_words(w, nw);
                continue;
            }
        }
        if (strcmp(col[4], "-") != 0 && !s_id_ok(col[4])) {
            dsp_problems_add(pr, path, rd.lineno, "bad unit id '%s'", col[4]);
            s_free_words(w, nw);
            continue;
        }
        if (r->nplaces == pcap) {
            pcap = pcap ? pcap * 2 : 64;
            r->places = js_realloc(r->places, pcap * sizeof *r->places);
        }
        dsp_place_t *p = &r->places[r->nplaces];
        memset(p, 0, sizeof *p);
        snprintf(p->id, sizeof p->id, "%s", col[1]);
        p->name = js_strdup(col[2]);
        p->level = level;
        p->parent = parent;
        p->district = level == DSP_PLACE_DISTRICT ? (int)r->nplaces : r->places[parent].district;
        p->street = level == DSP_PLACE_STREET ? (int)r->nplaces
                    : level == DSP_PLACE_COMMUNITY ? parent
                                                   : -1;
        snprintf(p->unit, sizeof p->unit, "%s", strcmp(col[4], "-") ? col[4] : "");
        p->words = w;
        p->nwords = nw;
        p->line = rd.lineno;
        r->nplaces++;
    }
    free(rd.buf);
    fclose(f);
}

/* ---- units ------------------------------------------------------------------------ */

static void s_load_units(dsp_ref_t *r, const char *path, dsp_problems_t *pr, int *err) {
    FILE *f = s_open(path, pr, err);
    if (!f) return;
    s_reader_t rd = {.f = f, .path = path, .pr = pr};
    r->units_version = s_version(&rd, "units");
    char *col[S_MAX_COLS];
    int n;
    size_t cap = 0;
    while ((n = s_next(&rd, col)) > 0) {
        if (n != 5) {
            dsp_problems_add(pr, path, rd.lineno, "bad columns: %d, want 5 (id name kind district reach)", n);
            continue;
        }
        if (!s_id_ok(col[0])) {
            dsp_problems_add(pr, path, rd.lineno, "bad id '%s' (1..63 of a-z 0-9 . _ -)", col[0]);
            continue;
        }
        int dup = -1;
        for (size_t i = 0; i < r->nunits && dup < 0; i++)
            if (!strcmp(r->units[i].id, col[0])) dup = (int)i;
        if (dup >= 0) {
            dsp_problems_add(pr, path, rd.lineno, "duplicate id '%s' (first at line %d)", col[0], r->units[dup].line);
            continue;
        }
        int kind = dsp_kind_parse(col[2]);
        if (!kind) {
            dsp_problems_add(pr, path, rd.lineno,
                             "unknown kind '%s' (street, township, department, utility, state_enterprise, "
                             "district_government, committee)",
                             col[2]);
            continue;
        }
        const char *dist = strcmp(col[3], "-") ? col[3] : "";
        if (dist[0]) {
            int d = s_place_idx(r, dist);
            if (d < 0 || r->places[d].level != DSP_PLACE_DISTRICT) {
                dsp_problems_add(pr, path, rd.lineno, "unknown district '%s' (gazetteer)", dist);
                continue;
            }
        } else if (kind == DSP_KIND_STREET || kind == DSP_KIND_TOWNSHIP || kind == DSP_KIND_DISTRICT_GOVERNMENT ||
                   kind == DSP_KIND_COMMITTEE) {
            dsp_problems_add(pr, path, rd.lineno, "a %s needs its district", col[2]);
            continue;
        }
        if (!col[1][0] || !col[4][0]) {
            dsp_problems_add(pr, path, rd.lineno, "empty %s", col[1][0] ? "reach" : "name");
            continue;
        }
        if (r->nunits == cap) {
            cap = cap ? cap * 2 : 64;
            r->units = js_realloc(r->units, cap * sizeof *r->units);
        }
        dsp_unit_t *u = &r->units[r->nunits++];
        memset(u, 0, sizeof *u);
        snprintf(u->id, sizeof u->id, "%s", col[0]);
        u->name = js_strdup(col[1]);
        u->kind = kind;
        snprintf(u->district, sizeof u->district, "%s", dist);
        u->reach = js_strdup(col[4]);
        u->line = rd.lineno;
    }
    free(rd.buf);
    fclose(f);
}

static const dsp_unit_t *s_unit_lin(const dsp_ref_t *r, const char *id) {
    for (size_t i = 0; i < r->nunits; i++)
        if (!strcmp(r->units[i].id, id)) return &r->units[i];
    return NULL;
}

/* Every gazetteer unit exists and is of the right kind for its level. */
static void s_check_places(dsp_ref_t *r, const char *gpath, dsp_problems_t *pr) {
    for (size_t i = 0; i < r->nplaces; i++) {
        dsp_place_t *p = &r->places[i];
        if (!p->unit[0]) {
            if (p->level != DSP_PLACE_COMMUNITY)
                dsp_problems_add(pr, gpath, p->line, "a %s needs its unit", p->level == 1 ? "district" : "street");
            continue;
        }
        const dsp_unit_t *u = s_unit_lin(r, p->unit);
        if (!u) {
            dsp_problems_add(pr, gpath, p->line, "unknown unit '%s' (unit registry)", p->unit);
            continue;
        }
        int ok = p->level == DSP_PLACE_DISTRICT ? u->kind == DSP_KIND_DISTRICT_GOVERNMENT
                 : p->level == DSP_PLACE_STREET ? (u->kind == DSP_KIND_STREET || u->kind == DSP_KIND_TOWNSHIP)
                                                : u->kind == DSP_KIND_COMMITTEE;
        if (!ok)
            dsp_problems_add(pr, gpath, p->line, "unit '%s' is a %s: a %s's unit must be %s", p->unit,
                             dsp_kind_name(u->kind),
                             p->level == 1   ? "district"
                             : p->level == 2 ? "street"
                                             : "community",
                             p->level == 1   ? "a district_government"
                             : p->level == 2 ? "a street or township"
                                             : "a committee");
        else if (strcmp(u->district, r->places[p->district].id) != 0)
            dsp_problems_add(pr, gpath, p->line, "unit '%s' is in district '%s', the place in '%s'", p->unit,
                             u->district, r->places[p->district].id);
    }
}

/* ---- catalog ---------------------------------------------------------------------- */

/* "@street" / unit id [":" limit] into ref; 0 or a reported problem (-1). */
static int s_unitref(dsp_ref_t *r, s_reader_t *rd, const char *s, int assist, dsp_unitref_t *out) {
    memset(out, 0, sizeof *out);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        if (!assist) {
            dsp_problems_add(rd->pr, rd->path, rd->lineno, "the lead's limit goes in the limit column, not '%s'", s);
            return -1;
        }
        if (dsp_parse_limit(colon + 1, &out->limit) < 0) {
            dsp_problems_add(rd->pr, rd->path, rd->lineno, "unknown unit of time in '%s' (Nwd, Nd or Nh)", s);
            return -1;
        }
    }
    if (!strcmp(buf, "@street")) out->at = DSP_AT_STREET;
    else if (!strcmp(buf, "@district")) out->at = DSP_AT_DISTRICT;
    else if (!strcmp(buf, "@community")) {
        if (!assist) {
            dsp_problems_add(rd->pr, rd->path, rd->lineno, "@community may only assist: a committee never leads (ZS art. 6)");
            return -1;
        }
        out->at = DSP_AT_COMMUNITY;
    } else if (buf[0] == '@') {
        dsp_problems_add(rd->pr, rd->path, rd->lineno, "unknown unit reference '%s' (@street, @district, @community)",
                         buf);
        return -1;
    } else {
        if (!s_unit_lin(r, buf)) {
            dsp_problems_add(rd->pr, rd->path, rd->lineno, "unknown unit '%s' (unit registry)", buf);
            return -1;
        }
        memcpy(out->unit, buf, strlen(buf) + 1); /* a registry id: shorter than DSP_ID_MAX */
    }
    return 0;
}

static int s_limit_col(s_reader_t *rd, const char *s, const char *what, dsp_limit_t *out) {
    memset(out, 0, sizeof *out);
    if (!s[0]) {
        dsp_problems_add(rd->pr, rd->path, rd->lineno, "missing %s (Nwd, Nd, Nh, or - for the profile's default)", what);
        return -1;
    }
    if (!strcmp(s, "-")) return 0;
    if (dsp_parse_limit(s, out) < 0) {
        dsp_problems_add(rd->pr, rd->path, rd->lineno, "unknown unit of time in %s '%s' (Nwd, Nd or Nh, N >= 1)", what,
                         s);
        return -1;
    }
    return 0;
}

/* Canonical form of a keyword for the overlap check: its parts sorted. */
static void s_kw_canon(const dsp_ref_t *r, const dsp_keyword_t *k, char *buf, size_t cap) {
    int p[4];
    memcpy(p, k->part, sizeof p);
    for (int i = 0; i < k->nparts; i++)
        for (int j = i + 1; j < k->nparts; j++)
            if (p[j] < p[i]) {
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < k->nparts; i++)
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", i ? "+" : "", r->m->pats[p[i]]);
}

static void s_load_catalog(dsp_ref_t *r, const char *path, dsp_problems_t *pr, int *err) {
    FILE *f = s_open(path, pr, err);
    if (!f) return;
    s_reader_t rd = {.f = f, .path = path, .pr = pr};
    r->catalog_version = s_version(&rd, "catalog");
    char *col[S_MAX_COLS];
    int n;
    size_t cap = 0;
    while ((n = s_next(&rd, col)) > 0) {
        if (n != 13) {
            dsp_problems_add(pr, path, rd.lineno,
                             "bad columns: %d, want 13 (id name topic keywords legal_basis lead assists limit response "
                             "office valid_from valid_to flags)",
                             n);
            continue;
        }
        int bad = 0;
        dsp_item_t it;
        memset(&it, 0, sizeof it);
        it.line = rd.lineno;
        if (!s_id_ok(col[0])) {
            dsp_problems_add(pr, path, rd.lineno, "bad id '%s' (1..63 of a-z 0-9 . _ -)", col[0]);
            bad = 1;
        } else {
            for (size_t i = 0; i < r->nitems; i++)
                if (!strcmp(r->items[i].id, col[0])) {
                    dsp_problems_add(pr, path, rd.lineno, "duplicate id '%s' (first at line %d)", col[0],
                                     r->items[i].line);
                    bad = 1;
                }
            snprintf(it.id, sizeof it.id, "%s", col[0]);
        }
        if (!col[1][0]) dsp_problems_add(pr, path, rd.lineno, "empty name"), bad = 1;
        if (!col[2][0]) dsp_problems_add(pr, path, rd.lineno, "empty topic"), bad = 1;
        if (!col[4][0] || !strcmp(col[4], "-"))
            dsp_problems_add(pr, path, rd.lineno, "missing legal basis (ZS art. 15)"), bad = 1;
        /* keywords */
        size_t nw = 0;
        char **w = s_split_words(col[3], &nw, &rd, "keyword");
        if (nw == 0) dsp_problems_add(pr, path, rd.lineno, "no keywords"), bad = 1;
        it.kw = js_calloc(nw ? nw : 1, sizeof *it.kw);
        for (size_t i = 0; i < nw; i++) {
            dsp_keyword_t *k = &it.kw[it.nkw];
            char *save = NULL, *part;
            int okk = 1;
            for (part = strtok_r(w[i], "+", &save); part; part = strtok_r(NULL, "+", &save)) {
                if (k->nparts == 4) {
                    dsp_problems_add(pr, path, rd.lineno, "keyword with more than 4 parts");
                    okk = 0;
                    break;
                }
                if (s_chars(part) < 2) {
                    dsp_problems_add(pr, path, rd.lineno, "keyword '%s' too short (2 characters at least)", part);
                    okk = 0;
                    break;
                }
                k->part[k->nparts++] = s_pattern(r->m, part);
                k->weight += s_chars(part);
            }
            if (!okk || k->nparts == 0) {
                if (okk) dsp_problems_add(pr, path, rd.lineno, "empty keyword");
                bad = 1;
                memset(k, 0, sizeof *k);
                continue;
            }
            for (size_t j = 0; j < it.nkw; j++) {
                char a[256], b[256];
                s_kw_canon(r, &it.kw[j], a, sizeof a);
                s_kw_canon(r, k, b, sizeof b);
                if (!strcmp(a, b)) {
                    dsp_problems_add(pr, path, rd.lineno, "keyword '%s' given twice", b);
                    bad = 1;
                }
            }
            it.nkw++;
        }
        s_free_words(w, nw);
        /* units */
        if (s_unitref(r, &rd, col[5], 0, &it.lead) < 0) bad = 1;
        const dsp_unit_t *lead = it.lead.at == DSP_AT_NONE && it.lead.unit[0] ? s_unit_lin(r, it.lead.unit) : NULL;
        if (strcmp(col[6], "-") != 0) {
            size_t na = 0;
            char **as = s_split_words(col[6], &na, &rd, "assisting unit");
            if (na > DSP_MAX_ASSISTS) {
                dsp_problems_add(pr, path, rd.lineno, "%zu assisting units, at most %d", na, DSP_MAX_ASSISTS);
                bad = 1;
            }
            for (size_t i = 0; i < na && i < DSP_MAX_ASSISTS; i++) {
                dsp_unitref_t u;
                if (s_unitref(r, &rd, as[i], 1, &u) < 0) {
                    bad = 1;
                    continue;
                }
                int same = u.at == it.lead.at && !strcmp(u.unit, it.lead.unit);
                for (size_t j = 0; j < it.nassist; j++)
                    if (u.at == it.assist[j].at && !strcmp(u.unit, it.assist[j].unit)) same = 2;
                if (same) {
                    dsp_problems_add(pr, path, rd.lineno, "assisting unit '%s' %s", as[i],
                                     same == 1 ? "is the lead" : "given twice");
                    bad = 1;
                    continue;
                }
                it.assist[it.nassist++] = u;
            }
            s_free_words(as, na);
        }
        /* limits */
        if (s_limit_col(&rd, col[7], "limit", &it.limit) < 0) bad = 1;
        if (s_limit_col(&rd, col[8], "response limit", &it.response) < 0) bad = 1;
        if (lead && lead->kind == DSP_KIND_UTILITY) {
            if (col[7][0] && it.limit.unit != DSP_LIMIT_H) {
                dsp_problems_add(pr, path, rd.lineno, "missing limit in hours: '%s' is a utility, on a 24-hour clock "
                                 "(ZS art. 35)", lead->id);
                bad = 1;
            }
            if (col[8][0] && it.response.unit != DSP_LIMIT_H) {
                dsp_problems_add(pr, path, rd.lineno, "missing response limit in hours: '%s' is a utility (ZS art. 35)",
                                 lead->id);
                bad = 1;
            }
        }
        /* office */
        const char *office = strcmp(col[9], "-") ? col[9] : "";
        if (office[0] && !(it.lead.at == DSP_AT_STREET ||
                           (lead && (lead->kind == DSP_KIND_STREET || lead->kind == DSP_KIND_TOWNSHIP)))) {
            dsp_problems_add(pr, path, rd.lineno, "an office is suggested only to streets and townships (ZS art. 15)");
            bad = 1;
        }
        /* dates */
        it.valid_to = INT32_MAX;
        if (dsp_parse_date(col[10], &it.valid_from) < 0) {
            dsp_problems_add(pr, path, rd.lineno, "bad date '%s' in valid_from (YYYY-MM-DD)", col[10]);
            bad = 1;
        }
        if (strcmp(col[11], "-") != 0) {
            if (dsp_parse_date(col[11], &it.valid_to) < 0) {
                dsp_problems_add(pr, path, rd.lineno, "bad date '%s' in valid_to (YYYY-MM-DD or -)", col[11]);
                bad = 1;
            } else if (it.valid_to < it.valid_from) {
                dsp_problems_add(pr, path, rd.lineno, "bad date: valid_to %s is before valid_from %s", col[11],
                                 col[10]);
                bad = 1;
            }
        }
        /* flags */
        if (!strcmp(col[12], "consult")) it.consult = 1;
        else if (strcmp(col[12], "-") != 0) {
            dsp_problems_add(pr, path, rd.lineno, "unknown flag '%s' (- or consult)", col[12]);
            bad = 1;
        }
        if (bad) {
            free(it.kw);
            continue;
        }
        it.name = js_strdup(col[1]);
        it.topic = js_strdup(col[2]);
        it.legal_basis = js_strdup(col[4]);
        it.office = js_strdup(office);
        if (r->nitems == cap) {
            cap = cap ? cap * 2 : 128;
            r->items = js_realloc(r->items, cap * sizeof *r->items);
        }
        r->items[r->nitems++] = it;
    }
    free(rd.buf);
    fclose(f);
    /* Overlapping match: one keyword naming two items of one topic on the same days. */
    for (size_t i = 0; i < r->nitems; i++)
        for (size_t j = 0; j < i; j++) {
            const dsp_item_t *a = &r->items[j], *b = &r->items[i];
            if (strcmp(a->topic, b->topic) || a->valid_to < b->valid_from || b->valid_to < a->valid_from) continue;
            for (size_t x = 0; x < b->nkw; x++)
                for (size_t y = 0; y < a->nkw; y++) {
                    char ka[256], kb[256];
                    s_kw_canon(r, &b->kw[x], kb, sizeof kb);
                    s_kw_canon(r, &a->kw[y], ka, sizeof ka);
                    if (!strcmp(ka, kb))
                        dsp_problems_add(pr, path, b->line,
                                         "overlapping match: keyword '%s' also names item %s (line %d) on the same days",
                                         kb, a->id, a->line);
                }
        }
}

/* ---- the whole load ----------------------------------------------------------------- */

int dsp_ref_load(dsp_ref_t *out, const dsp_paths_t *paths, dsp_problems_t *pr) {
    size_t before = pr->n + pr->dropped;
    dsp_ref_t r;
    memset(&r, 0, sizeof r);
    r.m = js_calloc(1, sizeof *r.m);
    int err = 0;
    if (!paths || !paths->gazetteer || !paths->units) {
        dsp_problems_add(pr, "dispatch", 0, "the gazetteer and units paths are required");
        dsp_ref_free(&r);
        return -EINVAL;
    }
    s_load_gazetteer(&r, paths->gazetteer, pr, &err);
    s_load_units(&r, paths->units, pr, &err);
    s_check_places(&r, paths->gazetteer, pr);
    /* Place words first, so their pattern ids are stable whatever the catalog holds. */
    for (size_t i = 0; i < r.nplaces; i++) {
        dsp_place_t *p = &r.places[i];
        p->wpat = js_malloc((p->nwords + 1) * sizeof *p->wpat);
        for (size_t k = 0; k < p->nwords; k++) p->wpat[k] = s_pattern(r.m, p->words[k]);
    }
    for (size_t i = 0; i < r.npartners; i++) {
        dsp_partner_area_t *a = &r.partners[i];
        a->wpat = js_malloc((a->nwords + 1) * sizeof *a->wpat);
        for (size_t k = 0; k < a->nwords; k++) a->wpat[k] = s_pattern(r.m, a->words[k]);
    }
    if (paths->catalog) s_load_catalog(&r, paths->catalog, pr, &err);
    if (pr->n + pr->dropped > before) {
        dsp_ref_free(&r);
        return err ? err : -EINVAL;
    }
    s_matcher_build(r.m);
    r.npatterns = r.m->npats;
    r.unit_by_id = s_index(r.units, r.nunits, sizeof *r.units);
    r.place_by_id = s_index(r.places, r.nplaces, sizeof *r.places);
    r.item_by_id = s_index(r.items, r.nitems, sizeof *r.items);
    dsp_ref_free(out);
    *out = r;
    return 0;
}
