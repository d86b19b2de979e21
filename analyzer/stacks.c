/* SPDX-License-Identifier: MIT */
/*
 * The global stack interner (stacks.h): entries in chunks that double in
 * size, frames in pools that are never reallocated, and an open-addressing
 * hash table of entry ids (used by the interning thread only).
 */
#include "stacks.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define POOL_MIN 1024
#define POOL_MAX (1u << 20)

static inline unsigned chunk_of(size_t id, size_t *off)
{
	size_t q = id / VMS_STACKS_CHUNK0 + 1;
	unsigned c = 63 - (unsigned)__builtin_clzll(q);
	*off = id - VMS_STACKS_CHUNK0 * (((size_t)1 << c) - 1);
	return c;
}

static struct vms_stack_entry *entry(const struct vms_stacks *st, size_t id)
{
	size_t off;
	unsigned c = chunk_of(id, &off);
	return &st->chunks[c][off];
}

void vms_stacks_init(struct vms_stacks *st)
{
	memset(st, 0, sizeof(*st));
	st->chunks[0] = xcalloc(VMS_STACKS_CHUNK0, sizeof(*st->chunks[0]));
	st->nr_entries = 1; /* id 0: the empty stack, never in the table */
	st->table_size = 64;
	st->table = xcalloc(st->table_size, sizeof(*st->table));
}

void vms_stacks_release(struct vms_stacks *st)
{
	for (size_t c = 0; c < VMS_STACKS_CHUNKS; c++)
		free(st->chunks[c]);
	for (size_t i = 0; i < st->nr_pools; i++)
		free(st->pools[i]);
	free(st->pools);
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
	size_t i = entry(st, id)->hash & mask;
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

/* Room for n frames that will never move. */
static uint64_t *frames_room(struct vms_stacks *st, size_t n)
{
	uint64_t *p;

	if (n > st->pool_size - st->pool_used) {
		size_t size = st->pool_size ? st->pool_size * 2 : POOL_MIN;
		if (size > POOL_MAX)
			size = POOL_MAX;
		if (size < n)
			size = n;
		VMS_GROW(st->pools, st->alloc_pools, st->nr_pools + 1);
		st->pool = xrealloc_array(NULL, size, sizeof(*st->pool));
		st->pools[st->nr_pools++] = st->pool;
		st->pool_size = size;
		st->pool_used = 0;
	}
	p = st->pool + st->pool_used;
	st->pool_used += n;
	return p;
}

vms_stack_id vms_stacks_intern(struct vms_stacks *st, const uint64_t *frames,
			       size_t n)
{
	uint32_t h = hash_frames(frames, n);
	size_t mask = st->table_size - 1, id = st->nr_entries, off;
	struct vms_stack_entry *e;
	unsigned c;

	for (size_t i = h & mask; st->table[i]; i = (i + 1) & mask) {
		e = entry(st, st->table[i]);
		if (e->hash == h && e->n == n &&
		    (!n || !memcmp(e->frames, frames, n * sizeof(*frames))))
			return st->table[i];
	}
	if (id >= UINT32_MAX || n > UINT32_MAX)
		vms_die("too many distinct stacks");
	c = chunk_of(id, &off);
	if (!st->chunks[c])
		st->chunks[c] = xcalloc((size_t)VMS_STACKS_CHUNK0 << c,
					sizeof(*st->chunks[c]));
	e = &st->chunks[c][off];
	e->frames = NULL;
	if (n) {
		uint64_t *p = frames_room(st, n);
		memcpy(p, frames, n * sizeof(*frames));
		e->frames = p;
	}
	e->n = (uint32_t)n;
	e->hash = h;
	/* Release: a thread that reads the new count also sees the entry. */
	__atomic_store_n(&st->nr_entries, id + 1, __ATOMIC_RELEASE);
	if (st->nr_entries * 2 > st->table_size)
		rehash(st);
	else
		insert_slot(st, (vms_stack_id)id);
	return (vms_stack_id)id;
}

const uint64_t *vms_stacks_get(const struct vms_stacks *st, vms_stack_id id,
			       size_t *n)
{
	const struct vms_stack_entry *e;

	if (!id || id >= __atomic_load_n(&st->nr_entries, __ATOMIC_ACQUIRE)) {
		*n = 0;
		return NULL;
	}
	e = entry(st, id);
	*n = e->n;
	return e->frames;
}
