/* Kernel addresses named by the kernel: bpf/kernel-names.bpf.c formats
 * each with bpf_snprintf's %pS, run on demand with BPF_PROG_TEST_RUN.
 *
 * The other way, /proc/kallsyms, makes the kernel format every one of its
 * 200,000-odd symbols for each reader: 50-65 ms of CPU per recording,
 * nearly all of cprof's start-up cost on a short profile. Here loading
 * the program takes about 2 ms and a name about a microsecond, modules
 * loaded later are named too, and no kernel address reaches userspace
 * (names do not need CAP_SYSLOG, which /proc/kallsyms addresses do). It
 * needs CAP_BPF and CAP_PERFMON and Linux 5.14 (syscall programs);
 * without them the symbolizer reads /proc/kallsyms. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct kernel_names;

/* -errno when this kernel or these privileges do not allow it. */
int kernel_names_new(struct kernel_names **ret);
struct kernel_names *kernel_names_free(struct kernel_names *k);

/* The symbol covering addr: 1 with its name and its module ("[mod]" as
 * kallsyms prints it, or NULL for the kernel itself), valid until the
 * next call; 0 when no symbol covers it; -errno. */
int kernel_names_lookup(struct kernel_names *k, uint64_t addr, const char **ret_name,
                        const char **ret_module);

/* Splits one %pS result in place ("name+0xoff/0xsize [mod]" or "0xaddr"):
 * 1 with the name and module as above, 0 for an address without a
 * symbol or text of another shape. */
int kernel_names_parse(char *s, const char **ret_name, const char **ret_module);
