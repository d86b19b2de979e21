/* SPDX-License-Identifier: MIT */
/*
 * Unfreed blocks by leak kind and site (contract in leakset.h).  Memory is
 * 16 bytes per live block while grouping, then one entry per site.
 */
#include "leakset.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const vms_leak_kind_keys[VMS_KIND__COUNT] = {
	"definitely_lost", "indirectly_lost", "possibly_lost",
	"still_reachable", "unfreed",
};

const char *const vms_leak_kind_words[VMS_KIND__COUNT] = {
	"definitely lost", "indirectly lost", "possibly lost",
	"still reachable", "unfreed",
};

struct block {
	uint64_t size;
	vms_stack_id stack;
	uint32_t kind;
};

static int cmp_block(const void *a, const void *b)
{
	const struct block *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static int cmp_site(const void *a, const void *b)
{
	const struct vms_leak_site *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static enum vms_leak_kind kind_of(enum vms_leak_cat cat)
{
	switch (cat) {
	case VMS_LEAK_DEFINITE:
		return VMS_KIND_DEFINITE;
	case VMS_LEAK_INDIRECT:
		return VMS_KIND_INDIRECT;
	case VMS_LEAK_POSSIBLE:
		return VMS_KIND_POSSIBLE;
	default:
		return VMS_KIND_REACHABLE;
	}
}

int vms_leakset_build(struct vms_leakset *ls, struct vms_analysis *a)
{
	const struct vms_heapmap *heap = &a->state.heap;
	const struct vms_alloc *al;
	struct vms_leakfile lf;
	struct block *blocks;
	size_t n = 0;

	memset(ls, 0, sizeof(*ls));
	if (vms_leakfile_read(&lf, &a->rec))
		return -1;
	ls->scanned = lf.present;
	ls->scan_interrupted = lf.interrupted;
	ls->scan_seq = lf.seq;

	blocks = xrealloc_array(NULL, heap->count ? heap->count : 1,
				sizeof(*blocks));
	for (size_t it = 0; (al = vms_heapmap_next(heap, &it));) {
		struct block *b = &blocks[n++];
		enum vms_leak_cat cat = VMS_LEAK_NONE;
		b->size = al->size;
		b->stack = al->stack;
		if (!lf.present) {
			b->kind = VMS_KIND_UNFREED;
		} else {
			/* An address the scan saw may have been freed and
			 * handed out again after it: only blocks older than
			 * the scan take its verdict. */
			if (al->seq < lf.seq)
				cat = vms_leakfile_lookup(&lf, al->addr);
			b->kind = kind_of(cat);
			if (cat == VMS_LEAK_NONE) {
				ls->unscanned.bytes += al->size;
				ls->unscanned.blocks++;
			}
		}
		ls->totals[b->kind].bytes += b->size;
		ls->totals[b->kind].blocks++;
	}
	vms_leakfile_release(&lf);

	qsort(blocks, n, sizeof(*blocks), cmp_block);
	ls->sites = xrealloc_array(NULL, n ? n : 1, sizeof(*ls->sites));
	for (size_t i = 0, j; i < n; i = j) {
		struct vms_leak_site *s = &ls->sites[ls->nr_sites++];
		s->kind = blocks[i].kind;
		s->stack = blocks[i].stack;
		s->bytes = s->blocks = 0;
		for (j = i; j < n && blocks[j].kind == blocks[i].kind &&
			    blocks[j].stack == blocks[i].stack; j++) {
			s->bytes += blocks[j].size;
			s->blocks++;
		}
	}
	free(blocks);
	qsort(ls->sites, ls->nr_sites, sizeof(*ls->sites), cmp_site);
	return 0;
}

void vms_leakset_release(struct vms_leakset *ls)
{
	free(ls->sites);
	memset(ls, 0, sizeof(*ls));
}

struct vms_leak_total vms_leakset_lost(const struct vms_leakset *ls)
{
	struct vms_leak_total t = ls->totals[VMS_KIND_DEFINITE];
	t.bytes += ls->totals[VMS_KIND_INDIRECT].bytes;
	t.blocks += ls->totals[VMS_KIND_INDIRECT].blocks;
	return t;
}
