/* SPDX-License-Identifier: MIT */
/*
 * The global stack table of one analysis: every distinct call stack (array
 * of return addresses, innermost first) gets one id, whichever log lane
 * defined it.  Log readers map their per-lane stack ids to these global ids,
 * so reports can group by call site across threads.  Memory grows with the
 * number of distinct stacks only.
 */
#ifndef VMSPY_STACKS_H
#define VMSPY_STACKS_H

#include <stddef.h>
#include <stdint.h>

/* Global stack id; 0 means "no stack recorded". */
typedef uint32_t vms_stack_id;

struct vms_stack_entry {
	size_t first;     /* index of the first frame in vms_stacks.frames */
	uint32_t n;
	uint32_t hash;
};

struct vms_stacks {
	uint64_t *frames;               /* all frames, stack after stack */
	size_t nr_frames, alloc_frames;
	struct vms_stack_entry *entries; /* entries[0] is the empty id 0 */
	size_t nr_entries, alloc_entries;
	vms_stack_id *table;            /* open addressing, 0 = empty slot */
	size_t table_size;              /* a power of two */
};

void vms_stacks_init(struct vms_stacks *st);
void vms_stacks_release(struct vms_stacks *st);

/* The id of frames[0..n) (n may be 0), adding it when new.  Never 0. */
vms_stack_id vms_stacks_intern(struct vms_stacks *st, const uint64_t *frames,
			       size_t n);

/* Frames of id (innermost first) and their count in *n.  Id 0 or an
 * unknown id gives n = 0.  The pointer is valid until the next intern. */
const uint64_t *vms_stacks_get(const struct vms_stacks *st, vms_stack_id id,
			       size_t *n);

/* Number of distinct stacks (ids are 1..count). */
static inline size_t vms_stacks_count(const struct vms_stacks *st)
{
	return st->nr_entries ? st->nr_entries - 1 : 0;
}

#endif /* VMSPY_STACKS_H */
