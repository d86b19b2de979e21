/* SPDX-License-Identifier: MIT */
/*
 * The live state of the recorded process at one point of a replay: live
 * heap allocations, the application's mappings, brk, and running counters
 * (calls per API, live bytes and their peaks).  Feed it every event in
 * global seq order with vms_state_apply() (replay.h does the ordering).
 *
 * Rules it applies (format.h): a realloc is FREE(api=realloc) then
 * ALLOC(api=realloc, old_addr), both for the same address when done in
 * place; an mremap is MUNMAP(api=mremap) then MMAP(api=mremap, old_addr,
 * old_len), and the new mapping inherits the old one's kind, protection
 * and file.  A FREE of an address that is not live is counted in
 * unmatched_frees, not treated as an error: it was allocated before the
 * recording started or by code the hooks did not see.
 */
#ifndef VMSPY_STATE_H
#define VMSPY_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "heapmap.h"
#include "logreader.h"
#include "regions.h"

struct vms_peak {
	uint64_t bytes;
	uint64_t seq;      /* of the event that reached it */
	uint64_t time_ns;  /* CLOCK_MONOTONIC of that event (0 unknown) */
};

struct vms_lane_pending;

struct vms_state {
	uint64_t page_size;
	uint64_t pid;
	/* A sampled recording (VMSPY_SAMPLE_BYTES): heap byte counters are
	 * estimates, each block weighed by 1 / P(sampled); 0: exact. */
	uint64_t sample_bytes;

	struct vms_heapmap heap;      /* live allocations */
	struct vms_regions regions;   /* live app mappings */
	bool brk_known;
	uint64_t brk_start, brk_cur;  /* first old_brk seen, current brk */

	uint64_t heap_bytes;          /* live */
	uint64_t mmap_bytes;          /* = regions.bytes[VMS_REGION_MMAP] */
	uint64_t shm_bytes;           /* = regions.bytes[VMS_REGION_SHM] */
	struct vms_peak peak_heap, peak_mmap, peak_shm;

	uint64_t calls[VMS_API__COUNT]; /* one per call (a realloc's two
					 * records count once) */
	uint64_t total_allocated_bytes; /* sum of ALLOC sizes */
	uint64_t total_allocations;
	uint64_t unmatched_frees;       /* FREE of an address not live */
	uint64_t replaced_allocs;       /* ALLOC of an address already live */

	uint64_t events;                /* events applied */
	uint64_t threads;               /* main thread + THREAD_BEGINs */
	uint64_t last_seq, last_time_ns;
	bool exited;                    /* an EXIT record was seen */
	int64_t exit_status;
	uint64_t dropped;               /* from EXIT */
	uint64_t disabled_lanes;        /* DISABLED records */

	struct vms_lane_pending *lanes; /* per-lane half-done realloc/mremap */
	size_t lanes_size;
	size_t lanes_count;
	size_t nr_pending;              /* lanes with a half-done call */
	/* The lane that left the latest half-done call and its slot (NULL
	 * once that call is done, or when the table moved). */
	uint32_t pend_lane;
	struct vms_lane_pending *pend_lp;
};

void vms_state_init(struct vms_state *st, uint64_t page_size, uint64_t pid);
void vms_state_release(struct vms_state *st);
/* Apply one event (in replay order).  Inline: the plain malloc-family
 * call (not realloc), the plain free and the two halves of a realloc --
 * nearly every event -- in an unsampled recording, when no other
 * half-done call is in the way, are done here or in the lean functions
 * below, by the same rules as vms_state_apply_general, which does
 * everything else. */
void vms_state_apply_general(struct vms_state *st, const struct vms_event *ev);
/* The FREE half of a realloc (api: realloc or reallocarray).  pre: none
 * pending in its lane. */
void vms_state_realloc_free(struct vms_state *st, uint32_t api, uint32_t lane,
			    uint64_t addr, uint64_t seq, uint64_t time_ns);

/* A lane's half-done two-record call: what its release half left for
 * the acquire half that follows in the same lane. */
enum vms_pending { VMS_PENDING_NONE, VMS_PENDING_REALLOC, VMS_PENDING_MREMAP };

struct vms_lane_pending {
	uint64_t key;             /* lane + 1; 0 = empty slot */
	enum vms_pending kind;
	uint64_t addr;            /* released address */
	bool have_region;         /* mremap: the region that was there */
	struct vms_region region;
};

static inline bool vms_state_is_realloc(uint32_t api)
{
	return api == VMS_API_REALLOC || api == VMS_API_REALLOCARRAY;
}

/* The heap event whose fields are given (type VMS_REC_ALLOC or FREE), the
 * short way when it can go one: false when it must go through
 * vms_state_apply_general, with nothing changed yet. */
static inline __attribute__((always_inline)) bool
vms_state_heap_fast(struct vms_state *st, uint32_t type, uint32_t api,
		    uint32_t lane, uint64_t seq, uint64_t time_ns,
		    uint64_t addr, uint64_t size, uint64_t old_addr,
		    vms_stack_id gstack)
{
	struct vms_alloc old;

	if (__builtin_expect(st->sample_bytes != 0, 0))
		return false;
	if (st->nr_pending) {
		/* One half-done call, and we know whose: another lane's leaves
		 * this event free to go the short way; this lane's may be the
		 * FREE half of a realloc whose ALLOC half this is. */
		struct vms_lane_pending *lp = st->pend_lp;
		if (st->nr_pending != 1 || !lp)
			return false;
		if (st->pend_lane == lane) {
			if (type != VMS_REC_ALLOC || !addr ||
			    !vms_state_is_realloc(api) ||
			    lp->kind != VMS_PENDING_REALLOC ||
			    lp->addr != old_addr)
				return false;
			lp->kind = VMS_PENDING_NONE;
			lp->have_region = false;
			st->nr_pending = 0;
			st->pend_lp = NULL;
			goto alloc; /* the call was counted with the FREE */
		}
	}
	if (type == VMS_REC_FREE) {
		if (api != VMS_API_FREE) {
			vms_state_realloc_free(st, api, lane, addr, seq,
					       time_ns);
			return true;
		}
		if (vms_heapmap_remove(&st->heap, addr, &old))
			st->heap_bytes -= old.size;
		else
			st->unmatched_frees++;
		st->calls[api]++;
	} else if (type == VMS_REC_ALLOC && addr &&
		   !vms_state_is_realloc(api)) {
		st->calls[api]++;
alloc:;
		struct vms_alloc a = { addr, size, seq, gstack, lane };
		st->total_allocated_bytes += size;
		st->total_allocations++;
		if (vms_heapmap_put(&st->heap, &a, &old)) {
			st->heap_bytes -= old.size;
			st->replaced_allocs++;
		}
		st->heap_bytes += size;
		if (st->heap_bytes > st->peak_heap.bytes) {
			st->peak_heap.bytes = st->heap_bytes;
			st->peak_heap.seq = seq;
			st->peak_heap.time_ns = time_ns;
		}
	} else {
		return false;
	}
	st->events++;
	if (seq > st->last_seq)
		st->last_seq = seq;
	if (time_ns > st->last_time_ns)
		st->last_time_ns = time_ns;
	return true;
}

static inline void vms_state_apply(struct vms_state *st,
				   const struct vms_event *ev)
{
	if (!vms_state_heap_fast(st, ev->type, ev->api, ev->lane, ev->seq,
				 ev->time_ns, ev->addr, ev->size, ev->old_addr,
				 ev->gstack))
		vms_state_apply_general(st, ev);
}

/* A heap event of lane `lane` in short form (vms_replay_run_heap): the
 * same as vms_state_apply of the event it stands for. */
void vms_state_apply_heap_general(struct vms_state *st,
				  const struct vms_heap_event *h,
				  uint32_t lane);

static inline __attribute__((always_inline)) void
vms_state_apply_heap(struct vms_state *st,
					const struct vms_heap_event *h,
					uint32_t lane)
{
	if (!vms_state_heap_fast(st, h->type, h->api, lane, h->seq,
				 h->time_ns, h->addr, h->size, h->old_addr,
				 h->gstack))
		vms_state_apply_heap_general(st, h, lane);
}

/* A vms_replay_hint_fn (ctx: the state): an event of this type at addr
 * will be applied soon, so start loading the part of the live-allocation
 * table it touches. */
void vms_state_hint(uint32_t type, uint64_t addr, void *ctx);

#endif /* VMSPY_STATE_H */
