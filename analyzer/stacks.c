/* SPDX-License-Identifier: MIT */
/*
 * The global stack interner (stacks.h): a frame pool, an entry per distinct
 * stack, and an open-addressing hash table of entry ids.
 */
#include "stacks.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void vms_stacks_init(struct vms_stacks *st)
{
	memset(st, 0, sizeof(*st));
	VMS_GROW(st->entries, st->alloc_entries, 1);
	st->entries[0] = (struct vms_stack_entry){ 0, 0, 0 };
	st->nr_entries = 1;
	st->table_size = 64;
	st->table = xcalloc(st->table_size, sizeof(*st->table));
}

void vms_stacks_release(struct vms_stacks *st)
{
	free(st->frames);
	free(st->entries);
	free(st->table);
	memset(st, 0, sizeof(*st));
}

static uint32_t hash_frames(const uint64_t *frames, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (size_t i = 0; i < n; i++) {
		h ^= frames[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)(h ^ (h >> 29));
}

static void insert_slot(struct vms_stacks *st, vms_stack_id id)
{
	size_t mask = st->table_size - 1;
	size_t i = st->entries[id].hash & mask;
	while (st->table[i])
		i = (i + 1) & mask;
	st->table[i] = id;
}

static void rehash(struct vms_stacks *st)
{
	free(st->table);
	st->table_size *= 2;
	st->table = xcalloc(st->table_size, sizeof(*st->table));
	for (size_t id = 1; id < st->nr_entries; id++)
		insert_slot(st, (vms_stack_id)id);
}

vms_stack_id vms_stacks_intern(struct vms_stacks *st, const uint64_t *frames,
			       size_t n)
{
	uint32_t h = hash_frames(frames, n);
	size_t mask = st->table_size - 1;
	struct vms_stack_entry *e;
	vms_stack_id id;

	for (size_t i = h & mask; (id = st->table[i]); i = (i + 1) & mask) {
		e = &st->entries[id];
		if (e->hash == h && e->n == n &&
		    !memcmp(st->frames + e->first, frames, n * sizeof(*frames)))
			return id;
	}
	if (st->nr_entries >= UINT32_MAX || n > UINT32_MAX)
		vms_die("too many distinct stacks");
	VMS_GROW(st->frames, st->alloc_frames, st->nr_frames + n);
	if (n)
		memcpy(st->frames + st->nr_frames, frames, n * sizeof(*frames));
	VMS_GROW(st->entries, st->alloc_entries, st->nr_entries + 1);
	id = (vms_stack_id)st->nr_entries++;
	st->entries[id] = (struct vms_stack_entry){ st->nr_frames, (uint32_t)n,
						    h };
	st->nr_frames += n;
	if (st->nr_entries * 2 > st->table_size)
		rehash(st);
	else
		insert_slot(st, id);
	return id;
}

const uint64_t *vms_stacks_get(const struct vms_stacks *st, vms_stack_id id,
			       size_t *n)
{
	if (!id || id >= st->nr_entries) {
		*n = 0;
		return NULL;
	}
	*n = st->entries[id].n;
	/* An empty stack may be the only one: frames is then NULL, and
	 * NULL + 0 is undefined behaviour (found by tests/fuzz). */
	return *n ? st->frames + st->entries[id].first : NULL;
}
