/* Demangling of C++ (Itanium ABI) and Rust (legacy and v0) symbol names,
 * through libiberty's cplus_demangle, the demangler binutils and gdb use:
 * no hand-written one here.
 *
 * Reentrant (libiberty keeps no state between calls for these styles), so
 * any thread may call it. */
#pragma once

/* Names longer than this are left as they are: libiberty's C++ demangler
 * puts arrays of 72 bytes per input byte on the stack (1.1 MiB at this
 * length), so a longer name (only hostile input has them) could overflow
 * a thread's stack. */
#define DEMANGLE_MAX_LEN (16 * 1024)

/* Demangles C++ (Itanium) and Rust (legacy and v0) names with
 * DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO; returns a malloc'd string, or NULL
 * when name is not mangled (plain C names, "_Z" garbage), is longer than
 * DEMANGLE_MAX_LEN, or memory ran out. Rust legacy names lose their
 * "::h0123456789abcdef" hash suffix. */
char *demangle(const char *name);
