/* simhash-study.c -- how far apart SimHash puts a re-telling of the same
 * matter and two different messages, on the real messages of
 * ../shared/data/tipdm/messages.tsv: the figures behind the default of
 * intake.same_matter_max_distance (docs/ARCHITECTURE.md). Not built by make:
 *
 *   cc -O2 -Icommon scripts/simhash-study.c common/simhash.c -o build/simhash-study
 *   build/simhash-study ../shared/data/tipdm/messages.tsv
 *
 * For each message of at least 12 shingles (subject + detail): the distance
 * to (a) its first 85% plus a follow-up sentence, (b) its first half, (c)
 * another message picked by a fixed stride. Prints the share of each within
 * d bits, d = 0..24. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simhash.h"

#define MAX_ROWS 8000

static size_t s_cut(const char *t, size_t at) { /* back to a character boundary */
    while (at > 0 && ((unsigned char)t[at] & 0xC0) == 0x80) at--;
    return at;
}

int main(int argc, char **argv) {
    FILE *f = fopen(argc > 1 ? argv[1] : "../shared/data/tipdm/messages.tsv", "r");
    if (!f) {
        perror("messages.tsv");
        return 1;
    }
    static char line[1 << 17], v[1 << 17];
    static char *t[MAX_ROWS];
    int n = 0;
    if (!fgets(line, sizeof line, f)) return 1; /* header */
    while (n < MAX_ROWS && fgets(line, sizeof line, f)) {
        char *col[8];
        int k = 0;
        for (char *p = line; k < 8 && p; k++) {
            col[k] = p;
            p = strchr(p, '\t');
            if (p) *p++ = '\0';
        }
        if (k < 5) continue;
        size_t l = strlen(col[2]) + strlen(col[4]) + 2;
        t[n] = malloc(l);
        snprintf(t[n], l, "%s %s", col[2], col[4]);
        t[n][strcspn(t[n], "\r\n")] = '\0';
        n++;
    }
    fclose(f);
    long edit[65] = {0}, half[65] = {0}, other[65] = {0}, total = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(t[i]), sh;
        uint64_t a = js_simhash(t[i], l, &sh);
        if (sh < 12 || l + 64 > sizeof v) continue;
        size_t c = s_cut(t[i], l * 85 / 100);
        memcpy(v, t[i], c);
        strcpy(v + c, "。再次反映，至今没有解决，请尽快处理！");
        edit[js_simhash_distance(a, js_simhash(v, strlen(v), NULL))]++;
        c = s_cut(t[i], l / 2);
        half[js_simhash_distance(a, js_simhash(t[i], c, NULL))]++;
        int j = (int)(((long)i * 7919 + 13) % n);
        if (j != i) other[js_simhash_distance(a, js_simhash(t[j], strlen(t[j]), NULL))]++;
        total++;
    }
    long ce = 0, ch = 0, co = 0;
    printf("bits\tedited re-telling\tfirst half\tanother message\t(%ld messages)\n", total);
    for (int d = 0; d <= 24; d++) {
        ce += edit[d], ch += half[d], co += other[d];
        printf("%d\t%.3f\t%.3f\t%.5f\n", d, (double)ce / (double)total, (double)ch / (double)total,
               (double)co / (double)total);
    }
    for (int i = 0; i < n; i++) free(t[i]);
    return 0;
}
