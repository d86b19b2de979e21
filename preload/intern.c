/* SPDX-License-Identifier: MIT */
/*
 * Per-lane stack interning (contract in intern.h).  Runs on the hot path of
 * every recorded allocation: no malloc, no locks, no syscalls except when
 * the table or arena grows.
 */
#include "intern.h"

#include "ownmaps.h"

#include <string.h>
#include <sys/mman.h>

static uint64_t hash_frames(const uint64_t *f, uint32_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (uint32_t i = 0; i < n; i++) {
		h ^= f[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h | 1; /* never 0 */
}

static const char what_table[] = "stack table";

static void *map_anon(size_t bytes)
{
	void *p = vms_sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	vms_own_add(p, bytes, what_table);
	return p;
}

static void unmap(void *p, size_t bytes)
{
	vms_own_remove(p);
	vms_sys_munmap(p, bytes);
}

static int grow_table(struct vms_intern *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	struct vms_intern_slot *s = map_anon(n * sizeof(*s));
	if (!s)
		return -1;
	for (size_t i = 0; i < t->nslots; i++) {
		struct vms_intern_slot *o = &t->slots[i];
		if (!o->id)
			continue;
		size_t j = o->hash & (n - 1);
		while (s[j].id)
			j = (j + 1) & (n - 1);
		s[j] = *o;
	}
	if (t->slots)
		unmap(t->slots, t->nslots * sizeof(*s));
	t->slots = s;
	t->nslots = n;
	return 0;
}

static int grow_arena(struct vms_intern *t, size_t need)
{
	size_t cap = t->arena_cap ? t->arena_cap : 16384;
	while (cap < t->arena_len + need)
		cap *= 2;
	if (cap == t->arena_cap)
		return 0;
	void *p;
	if (t->arena) {
		p = vms_sys_mremap(t->arena, t->arena_cap * 8, cap * 8,
				   MREMAP_MAYMOVE, NULL);
		if (p == MAP_FAILED)
			return -1;
		vms_own_remove(t->arena);
		vms_own_add(p, cap * 8, what_table);
	} else if (!(p = map_anon(cap * 8))) {
		return -1;
	}
	t->arena = p;
	t->arena_cap = cap;
	return 0;
}

static inline int same_frames(const uint64_t *a, const uint64_t *b,
			      uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static inline uint32_t remember(struct vms_intern *t,
				const struct vms_intern_slot *s)
{
	t->last_off = s->off;
	t->last_n = s->nframes;
	t->last_id = s->id;
	return s->id;
}

uint32_t vms_intern_stack(struct vms_intern *t, const uint64_t *frames,
			  uint32_t n, int *is_new)
{
	*is_new = 0;
	if (t->last_id && n == t->last_n &&
	    same_frames(t->arena + t->last_off, frames, n))
		return t->last_id;
	uint64_t h = hash_frames(frames, n);
	if (VMS_UNLIKELY(!t->nslots) && grow_table(t))
		return 0;
	size_t mask = t->nslots - 1;
	for (size_t j = h & mask;; j = (j + 1) & mask) {
		struct vms_intern_slot *s = &t->slots[j];
		if (!s->id)
			break;
		if (s->hash == h && s->nframes == n &&
		    same_frames(t->arena + s->off, frames, n))
			return remember(t, s);
	}
	if (VMS_UNLIKELY((t->used + 1) * 2 > t->nslots) && grow_table(t))
		return 0;
	if (VMS_UNLIKELY(t->arena_len + n > t->arena_cap) && grow_arena(t, n))
		return 0;
	mask = t->nslots - 1;
	size_t j = h & mask;
	while (t->slots[j].id)
		j = (j + 1) & mask;
	memcpy(t->arena + t->arena_len, frames, n * sizeof(*frames));
	t->slots[j] = (struct vms_intern_slot){
		.hash = h, .id = ++t->next_id, .nframes = n,
		.off = t->arena_len,
	};
	t->arena_len += n;
	t->used++;
	*is_new = 1;
	return remember(t, &t->slots[j]);
}

void vms_intern_reset(struct vms_intern *t)
{
	if (t->slots)
		memset(t->slots, 0, t->nslots * sizeof(*t->slots));
	t->used = 0;
	t->arena_len = 0;
	t->next_id = 0;
	t->last_id = 0;
}

void vms_intern_release(struct vms_intern *t)
{
	if (t->slots)
		unmap(t->slots, t->nslots * sizeof(*t->slots));
	if (t->arena)
		unmap(t->arena, t->arena_cap * 8);
	memset(t, 0, sizeof(*t));
}
