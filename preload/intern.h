/* SPDX-License-Identifier: MIT */
/*
 * Per-lane stack interning: each distinct call stack gets a small id and is
 * written to the lane (as a STACK record) once; events carry the id.
 *
 * The table and the frame arena live in private anonymous mappings that grow
 * by mremap; lookups compare the full frame list, not just a hash.  Never
 * allocates through malloc, never locks (one writer: the lane's owner).
 */
#ifndef VMS_INTERN_H
#define VMS_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "prim.h"

struct vms_intern_slot {
	uint64_t hash;
	uint32_t id;     /* 0: empty slot */
	uint32_t nframes;
	uint64_t off;    /* index of the first frame in the arena */
};

struct vms_intern {
	struct vms_intern_slot *slots;
	size_t nslots;   /* power of two, or 0 before first use */
	size_t used;
	uint64_t *arena;
	size_t arena_len, arena_cap; /* in frames */
	uint32_t next_id;
	/* The stack found or added last (arena offset, frames, id; id 0 =
	 * none): a run of events from one call site skips the hash. */
	size_t last_off;
	uint32_t last_n, last_id;
};

/* Looks up frames[0..n).  Returns its id (>= 1) and sets *is_new when the
 * stack was not seen before (the caller then writes its STACK record).
 * Returns 0 when memory for the table cannot be had (record without a
 * stack). */
VMS_HIDDEN uint32_t vms_intern_stack(struct vms_intern *t,
				     const uint64_t *frames, uint32_t n,
				     int *is_new);

/* Forgets every stack (ids restart at 1); keeps the memory. */
VMS_HIDDEN void vms_intern_reset(struct vms_intern *t);
/* Unmaps the table. */
VMS_HIDDEN void vms_intern_release(struct vms_intern *t);

#endif /* VMS_INTERN_H */
