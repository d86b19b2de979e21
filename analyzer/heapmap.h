/* SPDX-License-Identifier: MIT */
/*
 * The live heap allocations during a replay: an open-addressing hash map
 * from address to what allocated it.  Address 0 is never a key.  Memory is
 * proportional to the number of live allocations: 32 bytes per slot, at
 * most 4 slots per live allocation (the table doubles at half full).
 *
 * Every replayed malloc and free is one operation here, so it is built for
 * that: one multiply to hash, a flat array probed linearly (two entries per
 * cache line), no allocation except when the table doubles, and
 * backward-shift deletion (no tombstones: probe runs stay short however
 * many frees a long run makes).
 */
#ifndef VMSPY_HEAPMAP_H
#define VMSPY_HEAPMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stacks.h"

struct vms_alloc {
	uint64_t addr;       /* 0 = empty slot */
	uint64_t size;
	uint64_t seq;        /* of the ALLOC record */
	vms_stack_id stack;  /* global stack id */
	uint32_t lane;
};

struct vms_heapmap {
	struct vms_alloc *slots;
	size_t size;         /* a power of two */
	size_t count;
	unsigned shift;      /* 64 - log2(size): the hash is the top bits */
};

void vms_heapmap_init(struct vms_heapmap *m);
void vms_heapmap_release(struct vms_heapmap *m);

/* The live allocation at addr, or NULL.  Valid until the map changes. */
struct vms_alloc *vms_heapmap_find(const struct vms_heapmap *m, uint64_t addr);
/* Insert or replace the entry for a->addr (must not be 0).  Returns true
 * when an entry was replaced, with the old one in *old (if old != NULL). */
bool vms_heapmap_put(struct vms_heapmap *m, const struct vms_alloc *a,
		     struct vms_alloc *old);
/* Remove addr; returns false when it was not live. */
bool vms_heapmap_remove(struct vms_heapmap *m, uint64_t addr,
			struct vms_alloc *old);

/* Iterate: `for (size_t i = 0; (a = vms_heapmap_next(m, &i));)`.  The map
 * must not change during the loop.  The order is the table's, which
 * depends only on the addresses and the order they were put in. */
const struct vms_alloc *vms_heapmap_next(const struct vms_heapmap *m,
					 size_t *iter);

#endif /* VMSPY_HEAPMAP_H */
