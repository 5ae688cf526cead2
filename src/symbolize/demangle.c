#include "symbolize/demangle.h"

#include <string.h>

#include <libiberty/demangle.h>

char *demangle(const char *name) {
        if (!name)
                return NULL;
        /* every mangling libiberty knows in AUTO mode starts with '_'
         * ("_Z", "_R", "_ZN...17h<hash>E"): skip the call for C names */
        if (name[0] != '_' || strnlen(name, DEMANGLE_MAX_LEN + 1) > DEMANGLE_MAX_LEN)
                return NULL;
        return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}
