/* SPDX-License-Identifier: MIT */
/*
 * The global stack table of one analysis: every distinct call stack (array
 * of return addresses, innermost first) gets one id, whichever log lane
 * defined it.  Log readers map their per-lane stack ids to these global ids,
 * so reports can group by call site across threads.  Memory grows with the
 * number of distinct stacks only.
 *
 * Nothing that was interned ever moves: entries live in chunks of growing
 * size and frames in pools that are never reallocated.  So one thread may
 * intern while another reads the stacks it was told about (replay.c's
 * decoding thread and the thread applying the events): vms_stacks_get of an
 * id that was published to the reader through a release/acquire pair is
 * safe while the writer interns more.  Two threads must not intern at once.
 */
#ifndef VMSPY_STACKS_H
#define VMSPY_STACKS_H

#include <stddef.h>
#include <stdint.h>

/* Global stack id; 0 means "no stack recorded". */
typedef uint32_t vms_stack_id;

struct vms_stack_entry {
	const uint64_t *frames; /* NULL when n is 0 */
	uint32_t n;
	uint32_t hash;
};

/* Chunk c of the entries holds ids [B * (2^c - 1), B * (2^(c+1) - 1)) for
 * B = VMS_STACKS_CHUNK0: 27 chunks cover every 32-bit id. */
#define VMS_STACKS_CHUNK0 64
#define VMS_STACKS_CHUNKS 27

struct vms_stacks {
	struct vms_stack_entry *chunks[VMS_STACKS_CHUNKS];
	size_t nr_entries;              /* entries[0] is the empty id 0 */
	uint64_t **pools;               /* frame pools, for release */
	size_t nr_pools, alloc_pools;
	uint64_t *pool;                 /* the one being filled */
	size_t pool_used, pool_size;
	vms_stack_id *table;            /* open addressing, 0 = empty slot */
	size_t table_size;              /* a power of two */
};

void vms_stacks_init(struct vms_stacks *st);
void vms_stacks_release(struct vms_stacks *st);

/* The id of frames[0..n) (n may be 0), adding it when new.  Never 0. */
vms_stack_id vms_stacks_intern(struct vms_stacks *st, const uint64_t *frames,
			       size_t n);

/* Frames of id (innermost first) and their count in *n.  Id 0 or an
 * unknown id gives n = 0 (and NULL).  The pointer is valid until
 * vms_stacks_release. */
const uint64_t *vms_stacks_get(const struct vms_stacks *st, vms_stack_id id,
			       size_t *n);

/* Number of distinct stacks (ids are 1..count).  From another thread than
 * the interning one: the stacks up to that count can be read. */
static inline size_t vms_stacks_count(const struct vms_stacks *st)
{
	size_t n = __atomic_load_n(&st->nr_entries, __ATOMIC_ACQUIRE);
	return n ? n - 1 : 0;
}

#endif /* VMSPY_STACKS_H */
