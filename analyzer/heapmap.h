/* SPDX-License-Identifier: MIT */
/*
 * The live heap allocations during a replay: an open-addressing hash map
 * from address to what allocated it.  Address 0 is never a key.  Memory is
 * proportional to the number of live allocations.
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
	uint64_t time_ns;
	vms_stack_id stack;  /* global stack id */
	uint32_t lane;
	uint32_t api;        /* enum vms_api */
};

struct vms_heapmap {
	struct vms_alloc *slots;
	size_t size;         /* a power of two */
	size_t count;
};

void vms_heapmap_init(struct vms_heapmap *m);
void vms_heapmap_release(struct vms_heapmap *m);

/* The live allocation at addr, or NULL. */
struct vms_alloc *vms_heapmap_find(const struct vms_heapmap *m, uint64_t addr);
/* Insert or replace the entry for a->addr (must not be 0).  Returns true
 * when an entry was replaced, with the old one in *old (if old != NULL). */
bool vms_heapmap_put(struct vms_heapmap *m, const struct vms_alloc *a,
		     struct vms_alloc *old);
/* Remove addr; returns false when it was not live. */
bool vms_heapmap_remove(struct vms_heapmap *m, uint64_t addr,
			struct vms_alloc *old);

/* Iterate: `for (size_t i = 0; (a = vms_heapmap_next(m, &i));)`.  The map
 * must not change during the loop. */
const struct vms_alloc *vms_heapmap_next(const struct vms_heapmap *m,
					 size_t *iter);

#endif /* VMSPY_HEAPMAP_H */
