/* SPDX-License-Identifier: MIT */
/*
 * Live-allocation hash map (heapmap.h): linear probing with backward-shift
 * deletion, so there are no tombstones and lookups stay short however many
 * frees a long run makes.
 */
#include "heapmap.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t slot_of(const struct vms_heapmap *m, uint64_t addr)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ (h >> 31)) & (m->size - 1);
}

void vms_heapmap_init(struct vms_heapmap *m)
{
	m->size = 1024;
	m->count = 0;
	m->slots = xcalloc(m->size, sizeof(*m->slots));
}

void vms_heapmap_release(struct vms_heapmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

struct vms_alloc *vms_heapmap_find(const struct vms_heapmap *m, uint64_t addr)
{
	size_t mask = m->size - 1;
	if (!addr)
		return NULL;
	for (size_t i = slot_of(m, addr); m->slots[i].addr; i = (i + 1) & mask)
		if (m->slots[i].addr == addr)
			return &m->slots[i];
	return NULL;
}

static void grow(struct vms_heapmap *m)
{
	struct vms_alloc *old = m->slots;
	size_t old_size = m->size;

	if (m->size > SIZE_MAX / 2 / sizeof(*old))
		vms_die("out of memory (heap map)");
	m->size *= 2;
	m->slots = xcalloc(m->size, sizeof(*m->slots));
	for (size_t i = 0; i < old_size; i++) {
		size_t j;
		if (!old[i].addr)
			continue;
		for (j = slot_of(m, old[i].addr); m->slots[j].addr;
		     j = (j + 1) & (m->size - 1))
			;
		m->slots[j] = old[i];
	}
	free(old);
}

bool vms_heapmap_put(struct vms_heapmap *m, const struct vms_alloc *a,
		     struct vms_alloc *old)
{
	struct vms_alloc *e = vms_heapmap_find(m, a->addr);
	size_t i;

	if (e) {
		if (old)
			*old = *e;
		*e = *a;
		return true;
	}
	/* Keep the load factor under 3/4. */
	if ((m->count + 1) * 4 > m->size * 3)
		grow(m);
	for (i = slot_of(m, a->addr); m->slots[i].addr;
	     i = (i + 1) & (m->size - 1))
		;
	m->slots[i] = *a;
	m->count++;
	return false;
}

bool vms_heapmap_remove(struct vms_heapmap *m, uint64_t addr,
			struct vms_alloc *old)
{
	struct vms_alloc *e = vms_heapmap_find(m, addr);
	size_t mask = m->size - 1, hole, j;

	if (!e)
		return false;
	if (old)
		*old = *e;
	hole = (size_t)(e - m->slots);
	/* Backward shift: pull later entries of the probe run into the hole
	 * when their home slot is not between the hole and themselves. */
	for (j = (hole + 1) & mask; m->slots[j].addr; j = (j + 1) & mask) {
		size_t home = slot_of(m, m->slots[j].addr);
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].addr = 0;
	m->count--;
	return true;
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
