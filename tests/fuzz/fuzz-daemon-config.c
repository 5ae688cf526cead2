/* Fuzz cprofd's config parser: any bytes parse or fail with a message
 * "NAME:LINE: ..." (or "NAME: out of memory"), and a parsed config holds
 * only what the parser promises (valid target names, values for the
 * match kinds that have them), and frees without leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct cprofd_config *c = NULL;
        char err[256];

        int r = cprofd_config_parse("fuzz.conf", (const char *) data, size, &c, err, sizeof(err));
        if (r < 0) {
                if (c || strncmp(err, "fuzz.conf:", 10) != 0)
                        abort();
                return 0;
        }
        if (!c || c->frequency_hz < 1 || c->frequency_hz > 100000 || !c->output_dir || !c->socket_path ||
            !c->group || !c->unwind)
                abort();
        for (size_t i = 0; i < c->n_targets; i++) {
                const struct cprofd_target_config *t = &c->targets[i];
                size_t n = strlen(t->name);
                if (n == 0 || n > 64 || t->name[0] == '.' || strchr(t->name, '/') || t->n_matches == 0)
                        abort();
                for (size_t j = 0; j < t->n_matches; j++) {
                        const struct target_match *m = &t->matches[j];
                        bool has_value = m->kind != TARGET_MATCH_PID && m->kind != TARGET_MATCH_ALL;
                        if (has_value != (m->value != NULL) || (m->kind == TARGET_MATCH_PID && m->pid <= 0))
                                abort();
                }
        }
        cprofd_config_free(c);
        return 0;
}
