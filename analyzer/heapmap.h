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

/* Slots up to which the map is kept at most a quarter full (then half):
 * 32 MiB. */
#define VMS_HEAPMAP_SPARSE ((size_t)1 << 20)

struct vms_heapmap {
	struct vms_alloc *slots;
	size_t size;         /* a power of two */
	size_t count;
	unsigned shift;      /* 64 - log2(size): the hash is the top bits */
};

void vms_heapmap_init(struct vms_heapmap *m);
void vms_heapmap_release(struct vms_heapmap *m);

static inline size_t vms_heapmap_home(const struct vms_heapmap *m,
				      uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> m->shift);
}

/* The live allocation at addr, or NULL.  Valid until the map changes. */
static inline struct vms_alloc *vms_heapmap_find(const struct vms_heapmap *m,
						 uint64_t addr)
{
	size_t mask = m->size - 1;
	struct vms_alloc *s = m->slots;

	if (!addr)
		return NULL;
	for (size_t i = vms_heapmap_home(m, addr); s[i].addr;
	     i = (i + 1) & mask)
		if (s[i].addr == addr)
			return &s[i];
	return NULL;
}

/* Private: the insertion when the table must grow first. */
void vms_heapmap_put_slow(struct vms_heapmap *m, const struct vms_alloc *a);

/* Insert or replace the entry for a->addr (must not be 0).  Returns true
 * when an entry was replaced, with the old one in *old (if old != NULL). */
static inline bool vms_heapmap_put(struct vms_heapmap *m,
				   const struct vms_alloc *a,
				   struct vms_alloc *old)
{
	size_t mask = m->size - 1, i;
	struct vms_alloc *s = m->slots;

	/* (set_slot: field by field, as *a's fields were just stored one by
	 * one: a whole-struct copy reads them back with wider loads, which
	 * wait for the stores to retire) */
#define set_slot(d, a)                                                  \
	((d)->addr = (a)->addr, (d)->size = (a)->size, (d)->seq = (a)->seq, \
	 (d)->stack = (a)->stack, (d)->lane = (a)->lane)
	/* One probe finds the entry or the empty slot it goes to. */
	for (i = vms_heapmap_home(m, a->addr); s[i].addr; i = (i + 1) & mask)
		if (s[i].addr == a->addr) {
			if (old)
				*old = s[i];
			set_slot(&s[i], a);
			return true;
		}
	/* At most a quarter full below VMS_HEAPMAP_SPARSE slots, half full
	 * above: an absent address (every malloc) ends its probe after 1.4
	 * slots on average (2.5 at half full), and a free finds the slot after
	 * it empty more often (no backward shift). */
	if (__builtin_expect((m->count + 1) * (m->size < VMS_HEAPMAP_SPARSE
						? 4 : 2) > m->size, 0)) {
		vms_heapmap_put_slow(m, a);
		return false;
	}
	set_slot(&s[i], a);
	m->count++;
	return false;
#undef set_slot
}

/* Private: the backward shift after taking the entry at hole out. */
void vms_heapmap_close_hole(struct vms_heapmap *m, size_t hole);

/* Remove addr; returns false when it was not live. */
static inline bool vms_heapmap_remove(struct vms_heapmap *m, uint64_t addr,
				      struct vms_alloc *old)
{
	struct vms_alloc *s = m->slots;
	size_t mask = m->size - 1, i;

	if (!addr)
		return false;
	for (i = vms_heapmap_home(m, addr); s[i].addr != addr;
	     i = (i + 1) & mask)
		if (!s[i].addr)
			return false;
	if (old)
		*old = s[i];
	/* Usually the next slot is empty: nothing to shift. */
	if (__builtin_expect(s[(i + 1) & mask].addr != 0, 0))
		vms_heapmap_close_hole(m, i);
	else
		s[i].addr = 0;
	m->count--;
	return true;
}

/* A hint that addr will be looked up soon: start loading its home slot. */
static inline void vms_heapmap_prefetch(const struct vms_heapmap *m,
					uint64_t addr)
{
	__builtin_prefetch(&m->slots[vms_heapmap_home(m, addr)]);
}

/* Iterate: `for (size_t i = 0; (a = vms_heapmap_next(m, &i));)`.  The map
 * must not change during the loop.  The order is the table's, which
 * depends only on the addresses and the order they were put in. */
const struct vms_alloc *vms_heapmap_next(const struct vms_heapmap *m,
					 size_t *iter);

#endif /* VMSPY_HEAPMAP_H */
