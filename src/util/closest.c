#include "closest.h"

#include <stdint.h>
#include <string.h>

#include "cleanup.h"

/* Edit distance with adjacent transpositions (optimal string alignment):
 * "durration" is 1 from "duration", "flamegrpah" 1 from "flamegraph". */
static size_t edit_distance(const char *a, size_t na, const char *b) {
        size_t nb = strlen(b);
        if (na > 64 || nb > 64)
                return SIZE_MAX;
        size_t d[65][65];
        for (size_t i = 0; i <= na; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= nb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= na; i++)
                for (size_t j = 1; j <= nb; j++) {
                        size_t cost = a[i - 1] != b[j - 1];
                        size_t v = d[i - 1][j - 1] + cost;
                        if (d[i - 1][j] + 1 < v)
                                v = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < v)
                                v = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                            d[i - 2][j - 2] + 1 < v)
                                v = d[i - 2][j - 2] + 1;
                        d[i][j] = v;
                }
        return d[na][nb];
}

const char *closest_name(const char *word, size_t len, const char *const *names, size_t n) {
        /* close means a typo, not a different word: at most two edits, and
         * fewer than a third of the longer name (so "-x" suggests nothing) */
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
                size_t d = edit_distance(word, len, names[i]);
                size_t longer = MAX(len, strlen(names[i]));
                if (d <= 2 && d * 3 < longer && d < best_d)
                        best = names[i], best_d = d;
        }
        return best;
}
