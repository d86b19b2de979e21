/* SPDX-License-Identifier: MIT */
/*
 * Live-allocation hash map (heapmap.h): linear probing over 32-byte slots
 * with backward-shift deletion.  The home slot of an address is the top
 * bits of a Fibonacci multiply: heap pointers are 16-byte aligned and
 * clustered, and the top bits of the product mix all of their bits.
 */
#include "heapmap.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MIN_BITS 10

static inline size_t home_of(const struct vms_heapmap *m, uint64_t addr)
{
	return vms_heapmap_home(m, addr);
}

/* A zeroed table of 2^bits slots, 64-byte aligned so that no slot
 * straddles two cache lines. */
static struct vms_alloc *table_new(unsigned bits)
{
	size_t n = (size_t)1 << bits, bytes;
	void *p;

	if (bits >= 8 * sizeof(size_t) - 6 ||
	    __builtin_mul_overflow(n, sizeof(struct vms_alloc), &bytes))
		vms_die("out of memory (heap map)");
	if (posix_memalign(&p, 64, bytes))
		vms_die("out of memory (heap map, %zu bytes)", bytes);
	return memset(p, 0, bytes);
}

void vms_heapmap_init(struct vms_heapmap *m)
{
	m->size = (size_t)1 << MIN_BITS;
	m->shift = 64 - MIN_BITS;
	m->count = 0;
	m->slots = table_new(MIN_BITS);
}

void vms_heapmap_release(struct vms_heapmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static void grow(struct vms_heapmap *m)
{
	struct vms_alloc *old = m->slots;
	size_t old_size = m->size, mask;
	unsigned bits = 64 - m->shift + 1;

	m->slots = table_new(bits);
	m->size = (size_t)1 << bits;
	m->shift = 64 - bits;
	mask = m->size - 1;
	for (size_t i = 0; i < old_size; i++) {
		size_t j;
		if (!old[i].addr)
			continue;
		for (j = home_of(m, old[i].addr); m->slots[j].addr;
		     j = (j + 1) & mask)
			;
		m->slots[j] = old[i];
	}
	free(old);
}

void vms_heapmap_put_slow(struct vms_heapmap *m, const struct vms_alloc *a)
{
	size_t i, mask;

	grow(m);
	mask = m->size - 1;
	for (i = home_of(m, a->addr); m->slots[i].addr; i = (i + 1) & mask)
		;
	m->slots[i] = *a;
	m->count++;
}

void vms_heapmap_close_hole(struct vms_heapmap *m, size_t hole)
{
	struct vms_alloc *s = m->slots;
	size_t mask = m->size - 1, j;

	/* Backward shift: pull later entries of the probe run into the hole
	 * when their home slot is not between the hole and themselves. */
	for (j = (hole + 1) & mask; s[j].addr; j = (j + 1) & mask) {
		size_t home = home_of(m, s[j].addr);
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			s[hole] = s[j];
			hole = j;
		}
	}
	s[hole].addr = 0;
}

const struct vms_alloc *vms_heapmap_next(const struct vms_heapmap *m,
					 size_t *iter)
{
	while (*iter < m->size) {
		const struct vms_alloc *a = &m->slots[(*iter)++];
		if (a->addr)
			return a;
	}
	return NULL;
}
