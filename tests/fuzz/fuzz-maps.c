/* Fuzz the /proc/PID/maps parser and the mapping list it feeds: every
 * entry is added (paths borrowed from the input), and addresses from
 * the entries are looked up. */
#include <stdint.h>
#include <stdlib.h>

#include "image/maps.h"

struct ctx {
        struct mapping m[256];
        size_t n;
        struct mapping_list l;
};

static int on_entry(void *ud, const struct maps_entry *e) {
        struct ctx *c = ud;
        c->m[c->n++] = (struct mapping) {
                .start = e->start, .end = e->end, .pgoff = e->pgoff,
                .inode = e->inode, .path = e->path, .deleted = e->deleted,
        };
        /* add in batches, the way reloads and single perf mmaps do */
        if (c->n == 256 || e->deleted) {
                mapping_list_add(&c->l, c->m, c->n);
                c->n = 0;
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ctx *c = calloc(1, sizeof(*c));
        if (!c)
                return 0;
        maps_parse((const char *) data, size, on_entry, c);
        mapping_list_add(&c->l, c->m, c->n);
        for (size_t i = 0; i < c->l.m.n; i++) {
                const struct mapping *m = &c->l.m.v[i];
                uint64_t probes[] = { m->start, m->end - 1, m->end, m->start - 1, m->start + (m->end - m->start) / 2 };
                for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
                        const struct mapping *f = mapping_list_find(&c->l, probes[k]);
                        if (f && (probes[k] < f->start || probes[k] >= f->end))
                                abort(); /* the list must never lie */
                }
                if (i > 0 && c->l.m.v[i - 1].end > m->start)
                        abort(); /* nor overlap */
        }
        mapping_list_release(&c->l);
        free(c);
        return 0;
}
