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
};

void vms_state_init(struct vms_state *st, uint64_t page_size, uint64_t pid);
void vms_state_release(struct vms_state *st);
/* Apply one event (in replay order).  Inline: the plain malloc-family
 * call (not realloc) and the plain free -- nearly every event -- with no
 * half-done call pending in any lane and no sampling are done here, by the
 * same rules as vms_state_apply_general, which does everything else. */
void vms_state_apply_general(struct vms_state *st, const struct vms_event *ev);

static inline void vms_state_apply(struct vms_state *st,
				   const struct vms_event *ev)
{
	struct vms_alloc old;

	if (__builtin_expect(st->nr_pending || st->sample_bytes, 0))
		goto general;
	if (ev->type == VMS_REC_FREE && ev->api == VMS_API_FREE) {
		if (vms_heapmap_remove(&st->heap, ev->addr, &old))
			st->heap_bytes -= old.size;
		else
			st->unmatched_frees++;
	} else if (ev->type == VMS_REC_ALLOC && ev->addr &&
		   ev->api != VMS_API_REALLOC &&
		   ev->api != VMS_API_REALLOCARRAY) {
		struct vms_alloc a = { ev->addr, ev->size, ev->seq,
				       ev->gstack, ev->lane };
		st->total_allocated_bytes += ev->size;
		st->total_allocations++;
		if (vms_heapmap_put(&st->heap, &a, &old)) {
			st->heap_bytes -= old.size;
			st->replaced_allocs++;
		}
		st->heap_bytes += ev->size;
		if (st->heap_bytes > st->peak_heap.bytes) {
			st->peak_heap.bytes = st->heap_bytes;
			st->peak_heap.seq = ev->seq;
			st->peak_heap.time_ns = ev->time_ns;
		}
	} else {
		goto general;
	}
	st->calls[ev->api]++;
	st->events++;
	if (ev->seq > st->last_seq)
		st->last_seq = ev->seq;
	if (ev->time_ns > st->last_time_ns)
		st->last_time_ns = ev->time_ns;
	return;
general:
	vms_state_apply_general(st, ev);
}

/* A vms_replay_hint_fn (ctx: the state): an event of this type at addr
 * will be applied soon, so start loading the part of the live-allocation
 * table it touches. */
void vms_state_hint(uint32_t type, uint64_t addr, void *ctx);

#endif /* VMSPY_STATE_H */
