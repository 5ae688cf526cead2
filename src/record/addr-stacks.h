/* Address stacks: what a recording keeps of its samples until they are
 * symbolized. The sampler's drain only resolves addresses through the
 * process image (module and ELF address) and counts identical stacks
 * here; names come later, in batches, once per unique address (see
 * record.c), so a slow lookup never stalls sampling and a failed one
 * never loses a sample.
 *
 * An address is a key (what kind, which module or process, which
 * address) with a dense id; a stack is a prefix of profile frames (the
 * process frame, maybe a thread frame) and address ids, root first, with
 * the count added since the last flush, in one group of processes (the
 * daemon's targets: equal stacks of two targets are two stacks). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"
#include "util/vec.h"

enum addr_kind {
        ADDR_UNKNOWN, /* outside every known mapping: "[unknown]" */
        ADDR_MODULE,  /* id: image module id; addr: ELF address */
        ADDR_FILE,    /* a module that cannot be read: id: string id of its path in the profile */
        ADDR_JIT,     /* anonymous code: id: pid; addr: process address */
        ADDR_KERNEL,  /* id 0; addr: kernel address */
};

struct addr_key {
        uint32_t kind;
        uint32_t id;
        uint64_t addr;
};

struct addr_entry {
        struct addr_key key;
        bool symbolized;
        bool nosym;        /* no source named it */
        uint32_t chain;    /* first profile frame id in addr_stacks.chains */
        uint32_t chain_len;
        uint32_t module_name; /* profile string id of the module path (nosym), 0 none */
};

struct addr_stack {
        uint32_t offset; /* in addr_stacks.words: n_prefix frame ids, then address ids */
        uint16_t n_prefix;
        uint16_t n_addrs;
        uint32_t tid;      /* of the first sample since the flush */
        uint32_t group;    /* the recorder's group of its process (part of the key) */
        uint64_t pending;  /* count since the last flush */
};

struct addr_stacks {
        VEC(struct addr_entry) addrs;
        struct idindex addr_index;
        VEC(uint32_t) unsymbolized; /* address ids waiting for names */
        VEC(uint32_t) chains;       /* profile frame ids of every address's chain */
        VEC(struct addr_stack) stacks;
        VEC(uint32_t) words;
        struct idindex stack_index;
        VEC(uint32_t) dirty; /* stack ids with a pending count */
};

void addr_stacks_release(struct addr_stacks *t);

/* The id of an address, new ones queued for symbolization; *ret_new
 * (optional) tells whether it was new. -ENOMEM. */
int addr_stacks_intern_addr(struct addr_stacks *t, const struct addr_key *k, uint32_t *ret_id,
                            bool *ret_new);
/* Adds count to the stack made of prefix frame ids and address ids (root
 * first). -ENOMEM, -E2BIG for a stack longer than 65535 entries. */
int addr_stacks_add(struct addr_stacks *t, const uint32_t *prefix, size_t n_prefix,
                    const uint32_t *addrs, size_t n_addrs, uint64_t count, uint32_t tid,
                    uint32_t group);

static inline const uint32_t *addr_stack_words(const struct addr_stacks *t, const struct addr_stack *s) {
        return t->words.v + s->offset;
}
