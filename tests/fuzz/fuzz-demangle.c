/* Fuzz demangle() (libiberty's cplus_demangle behind our length guard):
 * any bytes, as a NUL-terminated name, must give NULL or a string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *name = malloc(size + 1);
        if (!name)
                return 0;
        memcpy(name, data, size);
        name[size] = '\0';
        char *d = demangle(name);
        if (d && strlen(d) == SIZE_MAX)
                abort(); /* touch the whole result: ASan sees a bad one */
        free(d);
        free(name);
        return 0;
}
