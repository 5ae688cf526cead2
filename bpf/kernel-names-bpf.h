/* Shared by bpf/kernel-names.bpf.c and src/symbolize/kernel-names.c. */
#pragma once

/* "name+0xoff/0xsize [module]": a symbol name is at most KSYM_NAME_LEN
 * (512) bytes, a module name MODULE_NAME_LEN (56) */
#define KERNEL_NAMES_LEN 640
