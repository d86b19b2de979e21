/* SPDX-License-Identifier: MIT */
/*
 * The interval map of application mappings (regions.h).  Every change goes
 * through split_at() and remove_range(), which keep the per-kind byte
 * counters exact.
 */
#include "regions.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void vms_regions_init(struct vms_regions *rs)
{
	memset(rs, 0, sizeof(*rs));
}

void vms_regions_release(struct vms_regions *rs)
{
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

size_t vms_regions_lower(const struct vms_regions *rs, uint64_t addr)
{
	size_t lo = 0, hi = rs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rs->v[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

const struct vms_region *vms_regions_find(const struct vms_regions *rs,
					  uint64_t addr)
{
	size_t i = vms_regions_lower(rs, addr);
	return i < rs->n && rs->v[i].start <= addr ? &rs->v[i] : NULL;
}

static void insert_at(struct vms_regions *rs, size_t i,
		      const struct vms_region *r)
{
	VMS_GROW(rs->v, rs->alloc, rs->n + 1);
	memmove(rs->v + i + 1, rs->v + i, (rs->n - i) * sizeof(*rs->v));
	rs->v[i] = *r;
	rs->n++;
}

/* Make addr a region boundary if a region straddles it. */
static void split_at(struct vms_regions *rs, uint64_t addr)
{
	size_t i = vms_regions_lower(rs, addr);
	struct vms_region right;

	if (i >= rs->n || rs->v[i].start >= addr)
		return;
	right = rs->v[i];
	right.offset += addr - right.start;
	right.start = addr;
	rs->v[i].end = addr;
	insert_at(rs, i + 1, &right);
}

uint64_t vms_regions_unmap(struct vms_regions *rs, uint64_t start,
			   uint64_t end)
{
	size_t i, j;
	uint64_t removed = 0;

	if (start >= end)
		return 0;
	split_at(rs, start);
	split_at(rs, end);
	i = vms_regions_lower(rs, start);
	for (j = i; j < rs->n && rs->v[j].end <= end; j++) {
		uint64_t len = rs->v[j].end - rs->v[j].start;
		rs->bytes[rs->v[j].kind] -= len;
		removed += len;
	}
	if (j > i) {
		memmove(rs->v + i, rs->v + j, (rs->n - j) * sizeof(*rs->v));
		rs->n -= j - i;
	}
	return removed;
}

void vms_regions_map(struct vms_regions *rs, const struct vms_region *r)
{
	if (r->start >= r->end || r->kind >= VMS_REGION__KINDS)
		return;
	vms_regions_unmap(rs, r->start, r->end);
	insert_at(rs, vms_regions_lower(rs, r->start), r);
	rs->bytes[r->kind] += r->end - r->start;
}

void vms_regions_protect(struct vms_regions *rs, uint64_t start, uint64_t end,
			 uint32_t prot)
{
	if (start >= end)
		return;
	split_at(rs, start);
	split_at(rs, end);
	for (size_t i = vms_regions_lower(rs, start);
	     i < rs->n && rs->v[i].start < end; i++)
		rs->v[i].prot = prot;
}
