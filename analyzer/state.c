/* SPDX-License-Identifier: MIT */
/*
 * Applying events to the live-state model (state.h).  The two-record calls
 * (realloc, mremap) are joined through a small per-lane "pending" slot: the
 * release half leaves what it released there, the acquire half that follows
 * in the same lane picks it up.
 */
#include "state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "util.h"

void vms_state_init(struct vms_state *st, uint64_t page_size, uint64_t pid)
{
	memset(st, 0, sizeof(*st));
	st->page_size = page_size ? page_size : 4096;
	st->pid = pid;
	st->threads = 1;
	vms_heapmap_init(&st->heap);
	vms_regions_init(&st->regions);
	st->lanes_size = 16;
	st->lanes = xcalloc(st->lanes_size, sizeof(*st->lanes));
}

void vms_state_release(struct vms_state *st)
{
	vms_heapmap_release(&st->heap);
	vms_regions_release(&st->regions);
	free(st->lanes);
	memset(st, 0, sizeof(*st));
}

static struct vms_lane_pending *lane_insert(struct vms_state *st,
					     uint32_t lane);

/* The pending slot of a lane: usually found at its home slot (a handful of
 * lanes in a table kept at most half full). */
static inline struct vms_lane_pending *lane_slot(struct vms_state *st,
						 uint32_t lane)
{
	uint64_t key = (uint64_t)lane + 1;
	size_t mask = st->lanes_size - 1, i;

	for (i = (key * 0x9e3779b97f4a7c15ull) >> 40 & mask; st->lanes[i].key;
	     i = (i + 1) & mask)
		if (st->lanes[i].key == key)
			return &st->lanes[i];
	return lane_insert(st, lane);
}

static struct vms_lane_pending *lane_insert(struct vms_state *st,
					     uint32_t lane)
{
	uint64_t key = (uint64_t)lane + 1;
	size_t mask, i;

	if ((st->lanes_count + 1) * 2 > st->lanes_size) {
		struct vms_lane_pending *old = st->lanes;
		size_t old_size = st->lanes_size;

		st->lanes_size *= 2;
		st->lanes = xcalloc(st->lanes_size, sizeof(*st->lanes));
		st->lanes_count = 0;
		for (size_t j = 0; j < old_size; j++)
			if (old[j].key)
				*lane_insert(st, (uint32_t)(old[j].key - 1)) =
					old[j];
		free(old);
	}
	mask = st->lanes_size - 1;
	for (i = (key * 0x9e3779b97f4a7c15ull) >> 40 & mask; st->lanes[i].key;
	     i = (i + 1) & mask)
		;
	st->lanes[i].key = key;
	st->lanes_count++;
	st->pend_lp = NULL; /* the table may have moved */
	return &st->lanes[i];
}

/* Length as the kernel maps it (rounded up to pages); 0 if it overflows. */
static uint64_t page_len(const struct vms_state *st, uint64_t addr,
			 uint64_t len)
{
	uint64_t mask = st->page_size - 1, end;
	if (len > UINT64_MAX - mask)
		return 0;
	len = (len + mask) & ~mask;
	if (__builtin_add_overflow(addr, len, &end))
		return 0;
	return len;
}

/* The bytes a recorded block stands for.  Sampled with a Poisson process
 * of mean N bytes, a block of s bytes is recorded with probability
 * 1 - exp(-s/N): dividing by it gives an unbiased estimate. */
static uint64_t weigh(const struct vms_state *st, uint64_t size)
{
	if (!st->sample_bytes || !size)
		return size;
	double p = -expm1(-(double)size / (double)st->sample_bytes);
	return p > 0 ? (uint64_t)((double)size / p + 0.5) : size;
}

static bool is_realloc(enum vms_api api)
{
	return vms_state_is_realloc(api);
}

static void heap_remove(struct vms_state *st, uint64_t addr)
{
	struct vms_alloc old;
	if (vms_heapmap_remove(&st->heap, addr, &old))
		st->heap_bytes -= weigh(st, old.size);
	else
		st->unmatched_frees++;
}

/* prev_kind, prev_addr: what the lane's previous record left pending. */
static void apply_alloc(struct vms_state *st, const struct vms_event *ev,
			enum vms_pending prev_kind, uint64_t prev_addr)
{
	struct vms_alloc a, old;
	uint64_t w = weigh(st, ev->size);

	if (!is_realloc(ev->api)) {
		st->calls[ev->api]++;
	} else if (!(prev_kind == VMS_PENDING_REALLOC &&
		     prev_addr == ev->old_addr)) {
		/* No release half before it: realloc(NULL, n), or a
		 * recorder that wrote only this half. */
		st->calls[ev->api]++;
		if (ev->old_addr &&
		    vms_heapmap_remove(&st->heap, ev->old_addr, &old))
			st->heap_bytes -= weigh(st, old.size);
	}
	st->total_allocated_bytes += w;
	st->total_allocations++;
	if (!ev->addr)
		return;
	a = (struct vms_alloc){ ev->addr, ev->size, ev->seq, ev->gstack,
				ev->lane };
	if (vms_heapmap_put(&st->heap, &a, &old)) {
		st->heap_bytes -= weigh(st, old.size);
		st->replaced_allocs++;
	}
	st->heap_bytes += w;
}

/* Leave a half-done call for the lane's next record. */
static struct vms_lane_pending *set_pending(struct vms_state *st,
					    struct vms_lane_pending *lp,
					    uint32_t lane,
					    enum vms_pending kind,
					    uint64_t addr)
{
	if (!lp)
		lp = lane_slot(st, lane);
	lp->kind = kind;
	lp->addr = addr;
	st->nr_pending++;
	st->pend_lane = lane;
	st->pend_lp = lp;
	return lp;
}

static void apply_free(struct vms_state *st, const struct vms_event *ev,
		       struct vms_lane_pending *lp)
{
	st->calls[ev->api]++;
	if (is_realloc(ev->api))
		set_pending(st, lp, ev->lane, VMS_PENDING_REALLOC, ev->addr);
	heap_remove(st, ev->addr);
}

static bool is_dev_shm(const char *path, size_t len)
{
	return len > 9 && !memcmp(path, "/dev/shm/", 9);
}

/* prev_region: the region the lane's pending MUNMAP(mremap) half saw
 * there, or NULL. */
static void apply_mmap(struct vms_state *st, const struct vms_event *ev,
		       enum vms_pending prev_kind, uint64_t prev_addr,
		       const struct vms_region *prev_region)
{
	uint64_t len = page_len(st, ev->addr, ev->len);
	struct vms_region r = { 0 }, from = { 0 };
	const struct vms_region *old;
	bool inherit = false;

	if (ev->api != VMS_API_MREMAP) {
		st->calls[ev->api]++;
	} else if (prev_kind == VMS_PENDING_MREMAP && prev_addr == ev->old_addr) {
		inherit = prev_region != NULL;
		if (prev_region)
			from = *prev_region;
	} else {
		st->calls[ev->api]++;
		old = vms_regions_find(&st->regions, ev->old_addr);
		if (old) {
			inherit = true;
			from = *old;
			vms_regions_unmap(&st->regions, ev->old_addr,
					  ev->old_addr +
						  page_len(st, ev->old_addr,
							   ev->old_len));
		}
	}
	if (!len)
		return;
	if (inherit) {
		r = from;
		r.offset = from.offset + (ev->old_addr - from.start);
	} else {
		r.prot = (uint32_t)ev->prot;
		r.flags = (uint32_t)ev->flags;
		r.fd = ev->fd;
		r.offset = ev->file_offset;
		r.dev = ev->dev;
		r.ino = ev->ino;
		r.path = ev->str_len ? ev->str : NULL;
		r.path_len = ev->str_len;
		r.kind = (ev->flags & MAP_SHARED) &&
					 is_dev_shm(ev->str, ev->str_len)
				 ? VMS_REGION_SHM
				 : VMS_REGION_MMAP;
	}
	r.start = ev->addr;
	r.end = ev->addr + len;
	r.seq = ev->seq;
	r.time_ns = ev->time_ns;
	r.stack = ev->gstack;
	r.lane = ev->lane;
	r.api = ev->api;
	vms_regions_map(&st->regions, &r);
}

static void apply_munmap(struct vms_state *st, const struct vms_event *ev,
			 struct vms_lane_pending *lp)
{
	uint64_t len = page_len(st, ev->addr, ev->len);
	const struct vms_region *old;

	st->calls[ev->api]++;
	if (ev->api == VMS_API_MREMAP) {
		old = vms_regions_find(&st->regions, ev->addr);
		lp = set_pending(st, lp, ev->lane, VMS_PENDING_MREMAP, ev->addr);
		lp->have_region = old != NULL;
		if (old)
			lp->region = *old;
	}
	vms_regions_unmap(&st->regions, ev->addr, ev->addr + len);
}

static void apply_shmat(struct vms_state *st, const struct vms_event *ev)
{
	uint64_t len = page_len(st, ev->addr, ev->size);
	struct vms_region r = { 0 };

	if (!len)
		return;
	r.start = ev->addr;
	r.end = ev->addr + len;
	r.seq = ev->seq;
	r.time_ns = ev->time_ns;
	r.stack = ev->gstack;
	r.lane = ev->lane;
	r.api = VMS_API_SHMAT;
	r.kind = VMS_REGION_SHM;
	r.prot = ev->shmflg & SHM_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE;
	r.flags = MAP_SHARED;
	r.fd = -1;
	r.shmid = ev->shmid;
	r.key = ev->key;
	vms_regions_map(&st->regions, &r);
}

static void apply_shmdt(struct vms_state *st, const struct vms_event *ev)
{
	const struct vms_region *r = vms_regions_find(&st->regions, ev->addr);
	uint64_t seq, end;
	size_t i;

	if (!r || r->start != ev->addr || r->api != VMS_API_SHMAT)
		return;
	/* The whole attachment goes, even if mprotect split it. */
	seq = r->seq;
	i = (size_t)(r - st->regions.v);
	end = r->end;
	while (i + 1 < st->regions.n && st->regions.v[i + 1].seq == seq &&
	       st->regions.v[i + 1].start == end &&
	       st->regions.v[i + 1].api == VMS_API_SHMAT)
		end = st->regions.v[++i].end;
	vms_regions_unmap(&st->regions, ev->addr, end);
}

static inline void peak(struct vms_peak *p, uint64_t bytes,
			const struct vms_event *ev)
{
	if (bytes > p->bytes) {
		p->bytes = bytes;
		p->seq = ev->seq;
		p->time_ns = ev->time_ns;
	}
}

/* Everything but the plain malloc and free of an unsampled recording
 * (vms_state_apply in state.h has those). */
void vms_state_apply_general(struct vms_state *st, const struct vms_event *ev)
{
	struct vms_lane_pending *lp = NULL;
	enum vms_pending prev_kind = VMS_PENDING_NONE;
	uint64_t prev_addr = 0;
	bool prev_region = false;

	/* A pending half is only for the very next record of its lane.  Most
	 * of the time no lane has one, and there is nothing to look up.  The
	 * region stays in lp->region until the lane's next MUNMAP: the MMAP
	 * half reads it from there. */
	if (st->nr_pending) {
		lp = lane_slot(st, ev->lane);
		if (lp->kind != VMS_PENDING_NONE) {
			prev_kind = lp->kind;
			prev_addr = lp->addr;
			prev_region = lp->have_region;
			lp->kind = VMS_PENDING_NONE;
			lp->have_region = false;
			st->nr_pending--;
			if (lp == st->pend_lp)
				st->pend_lp = NULL;
		}
	}
	st->events++;
	if (ev->seq > st->last_seq)
		st->last_seq = ev->seq;
	if (ev->time_ns > st->last_time_ns)
		st->last_time_ns = ev->time_ns;

	/* The heap records, nearly all of a recording: they change neither
	 * the mappings nor their peaks, and a FREE cannot raise the heap's. */
	switch (ev->type) {
	case VMS_REC_ALLOC:
		apply_alloc(st, ev, prev_kind, prev_addr);
		peak(&st->peak_heap, st->heap_bytes, ev);
		return;
	case VMS_REC_FREE:
		apply_free(st, ev, lp);
		return;
	case VMS_REC_MMAP:
		apply_mmap(st, ev, prev_kind, prev_addr,
			   prev_region ? &lp->region : NULL);
		break;
	case VMS_REC_MUNMAP:
		apply_munmap(st, ev, lp);
		break;
	case VMS_REC_MPROTECT:
		st->calls[ev->api]++;
		vms_regions_protect(&st->regions, ev->addr,
				    ev->addr + page_len(st, ev->addr, ev->len),
				    (uint32_t)ev->prot);
		break;
	case VMS_REC_BRK:
		st->calls[ev->api]++;
		if (!st->brk_known) {
			st->brk_known = true;
			st->brk_start = ev->old_brk;
		}
		st->brk_cur = ev->new_brk;
		break;
	case VMS_REC_SHMAT:
		st->calls[ev->api]++;
		apply_shmat(st, ev);
		break;
	case VMS_REC_SHMDT:
		st->calls[ev->api]++;
		apply_shmdt(st, ev);
		break;
	case VMS_REC_THREAD_BEGIN:
		if (ev->tid != st->pid)
			st->threads++;
		break;
	case VMS_REC_EXIT:
		st->exited = true;
		st->exit_status = ev->status;
		if (ev->dropped > st->dropped)
			st->dropped = ev->dropped;
		break;
	case VMS_REC_DISABLED:
		st->disabled_lanes++;
		break;
	default:
		if (ev->api < VMS_API__COUNT)
			st->calls[ev->api]++;
		break;
	}
	st->mmap_bytes = st->regions.bytes[VMS_REGION_MMAP];
	st->shm_bytes = st->regions.bytes[VMS_REGION_SHM];
	peak(&st->peak_mmap, st->mmap_bytes, ev);
	peak(&st->peak_shm, st->shm_bytes, ev);
}

void vms_state_realloc_free(struct vms_state *st, uint32_t api, uint32_t lane,
			    uint64_t addr, uint64_t seq, uint64_t time_ns)
{
	st->events++;
	if (seq > st->last_seq)
		st->last_seq = seq;
	if (time_ns > st->last_time_ns)
		st->last_time_ns = time_ns;
	st->calls[api]++;
	set_pending(st, NULL, lane, VMS_PENDING_REALLOC, addr);
	heap_remove(st, addr);
}

void vms_state_apply_heap_general(struct vms_state *st,
				  const struct vms_heap_event *h,
				  uint32_t lane)
{
	/* The event the short form stands for: the general way reads only
	 * the fields through old_addr of a heap event. */
	struct vms_event ev = {
		.type = (enum vms_rec_type)h->type,
		.api = (enum vms_api)h->api,
		.lane = lane,
		.stack = h->stack,
		.gstack = h->gstack,
		.seq = h->seq,
		.time_ns = h->time_ns,
		.offset = (size_t)h->offset,
		.addr = h->addr,
		.size = h->size,
		.align = h->align,
		.old_addr = h->old_addr,
	};

	vms_state_apply_general(st, &ev);
}

void vms_state_hint(uint32_t type, uint64_t addr, void *ctx)
{
	const struct vms_state *st = ctx;

	if (type == VMS_REC_ALLOC || type == VMS_REC_FREE)
		vms_heapmap_prefetch(&st->heap, addr);
}
