/* SPDX-License-Identifier: MIT */
/*
 * Randomized unit tests for the live-state containers: the heap hash map
 * against a plain array, and the region interval map against a page bitmap;
 * and the short paths of vms_state_apply against vms_state_apply_general.
 * Deterministic seeds; each run checks the invariants after every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heapmap.h"
#include "regions.h"
#include "state.h"

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

#define KEYS 3000

static void heapmap_matches_reference(void **state)
{
	static uint64_t ref[KEYS]; /* size per key index, 0 = absent */
	struct vms_heapmap m;
	size_t live = 0;
	(void)state;

	vms_heapmap_init(&m);
	for (int step = 0; step < 200000; step++) {
		size_t k = rnd() % KEYS;
		/* Clustered addresses stress long probe runs. */
		uint64_t addr = 0x10000 + k * 16;
		if (rnd() % 3) {
			struct vms_alloc a = { .addr = addr,
					       .size = 1 + rnd() % 100 };
			bool replaced = vms_heapmap_put(&m, &a, NULL);
			assert_int_equal(replaced, ref[k] != 0);
			live += !ref[k];
			ref[k] = a.size;
		} else {
			struct vms_alloc old;
			bool had = vms_heapmap_remove(&m, addr, &old);
			assert_int_equal(had, ref[k] != 0);
			if (had) {
				assert_int_equal(old.size, ref[k]);
				live--;
			}
			ref[k] = 0;
		}
		assert_int_equal(m.count, live);
		if (step % 10000 == 0) {
			for (size_t j = 0; j < KEYS; j++) {
				struct vms_alloc *a =
					vms_heapmap_find(&m, 0x10000 + j * 16);
				if (ref[j])
					assert_true(a && a->size == ref[j]);
				else
					assert_null(a);
			}
		}
	}
	{
		size_t it = 0, n = 0;
		while (vms_heapmap_next(&m, &it))
			n++;
		assert_int_equal(n, live);
	}
	assert_null(vms_heapmap_find(&m, 0));
	vms_heapmap_release(&m);
}

#define PAGES 256
#define PG 4096ull

static void regions_match_bitmap(void **state)
{
	/* page -> id of the mapping covering it (0 = none), and prot */
	static uint32_t owner[PAGES], prot[PAGES];
	static uint64_t origin[20001]; /* id -> first page it was mapped at */
	struct vms_regions rs;
	uint32_t next_id = 1;
	(void)state;

	vms_regions_init(&rs);
	for (int step = 0; step < 20000; step++) {
		uint64_t a = rnd() % PAGES, n = 1 + rnd() % 24;
		uint64_t op = rnd() % 4;
		if (a + n > PAGES)
			n = PAGES - a;
		if (op == 0 || op == 1) {
			struct vms_region r = { 0 };
			r.start = a * PG;
			r.end = (a + n) * PG;
			r.seq = next_id;
			r.kind = op; /* mmap or shm */
			r.offset = 1000 * PG;
			origin[next_id] = a;
			for (uint64_t p = a; p < a + n; p++) {
				owner[p] = next_id;
				prot[p] = 0;
			}
			next_id++;
			vms_regions_map(&rs, &r);
		} else if (op == 2) {
			vms_regions_unmap(&rs, a * PG, (a + n) * PG);
			for (uint64_t p = a; p < a + n; p++)
				owner[p] = 0;
		} else {
			uint32_t pr = (uint32_t)(1 + rnd() % 7);
			vms_regions_protect(&rs, a * PG, (a + n) * PG, pr);
			for (uint64_t p = a; p < a + n; p++)
				if (owner[p])
					prot[p] = pr;
		}
		/* Sorted, non-overlapping, non-empty; bytes add up; every
		 * page agrees with the bitmap; offsets follow the start. */
		uint64_t bytes[VMS_REGION__KINDS] = { 0 };
		for (size_t i = 0; i < rs.n; i++) {
			const struct vms_region *r = &rs.v[i];
			assert_true(r->start < r->end);
			if (i)
				assert_true(rs.v[i - 1].end <= r->start);
			bytes[r->kind] += r->end - r->start;
		}
		assert_true(bytes[0] == rs.bytes[0] && bytes[1] == rs.bytes[1]);
		for (uint64_t p = 0; p < PAGES; p++) {
			const struct vms_region *r =
				vms_regions_find(&rs, p * PG + 5);
			if (!owner[p]) {
				assert_null(r);
				continue;
			}
			assert_non_null(r);
			assert_int_equal(r->seq, owner[p]);
			assert_int_equal(r->prot, prot[p]);
			/* a split keeps the file offset of its start */
			assert_true(r->offset ==
				    1000 * PG + r->start - origin[r->seq] * PG);
		}
	}
	vms_regions_release(&rs);
}

/* Three lanes of mallocs, frees and reallocs (their two halves with other
 * lanes' records in between, and now and then a half alone), with an
 * mremap now and then: vms_state_apply, with its inline short paths, must
 * end in exactly the state of vms_state_apply_general on every record. */
static void short_paths_match_general(void **state)
{
	struct vms_state fast, slow;
	uint64_t live[3][8] = { { 0 } };  /* per lane: addresses it owns */
	struct { bool on; uint64_t addr; unsigned api; } half[3] = { { 0 } };
	uint64_t seq = 0, next_addr = 0x100000;
	(void)state;

	vms_state_init(&fast, 4096, 1);
	vms_state_init(&slow, 4096, 1);
	for (int step = 0; step < 200000; step++) {
		struct vms_event ev;
		uint32_t lane = (uint32_t)(rnd() % 3);
		unsigned k = (unsigned)(rnd() % 8), what = (unsigned)(rnd() % 16);

		memset(&ev, 0, sizeof(ev));
		ev.lane = lane;
		ev.seq = ++seq;
		ev.time_ns = seq * 10;
		ev.gstack = 1 + lane;
		if (half[lane].on) {
			/* the ALLOC half (now and then with another old_addr,
			 * as if its FREE half had been lost) */
			ev.type = VMS_REC_ALLOC;
			ev.api = half[lane].api;
			ev.old_addr = what ? half[lane].addr : 0x42;
			ev.addr = what & 1 ? ev.old_addr : (next_addr += 64);
			ev.size = 1 + rnd() % 500;
			half[lane].on = false;
			for (k = 0; k < 8 && live[lane][k]; k++)
				;
			if (k < 8)
				live[lane][k] = ev.addr;
		} else if (what < 6 && live[lane][k]) {
			ev.type = VMS_REC_FREE;
			ev.addr = live[lane][k];
			ev.api = what < 4 ? VMS_API_FREE
			       : what == 4 ? VMS_API_REALLOC
					   : VMS_API_REALLOCARRAY;
			live[lane][k] = 0;
			if (ev.api != VMS_API_FREE) {
				half[lane].on = rnd() % 16 != 0;
				half[lane].addr = ev.addr;
				half[lane].api = ev.api;
			}
		} else if (what < 14) {
			ev.type = VMS_REC_ALLOC;
			ev.api = what < 11 ? VMS_API_MALLOC
			       : what < 13 ? VMS_API_CALLOC : VMS_API_REALLOC;
			ev.addr = (next_addr += 64);
			ev.size = 1 + rnd() % 500;
			if (!live[lane][k])
				live[lane][k] = ev.addr;
		} else {
			/* an mremap half: a pending call of another kind */
			ev.type = what == 14 ? VMS_REC_MUNMAP : VMS_REC_MMAP;
			ev.api = VMS_API_MREMAP;
			ev.addr = 0x7f0000000000ull;
			ev.old_addr = ev.addr;
			ev.len = ev.old_len = 4096;
			ev.fd = -1;
		}
		vms_state_apply(&fast, &ev);
		vms_state_apply_general(&slow, &ev);
		assert_int_equal(fast.heap_bytes, slow.heap_bytes);
		assert_int_equal(fast.heap.count, slow.heap.count);
		assert_int_equal(fast.nr_pending, slow.nr_pending);
	}
	assert_memory_equal(fast.calls, slow.calls, sizeof(fast.calls));
	assert_int_equal(fast.events, slow.events);
	assert_int_equal(fast.total_allocated_bytes, slow.total_allocated_bytes);
	assert_int_equal(fast.total_allocations, slow.total_allocations);
	assert_int_equal(fast.unmatched_frees, slow.unmatched_frees);
	assert_int_equal(fast.replaced_allocs, slow.replaced_allocs);
	assert_memory_equal(&fast.peak_heap, &slow.peak_heap,
			    sizeof(fast.peak_heap));
	assert_int_equal(fast.last_seq, slow.last_seq);
	assert_int_equal(fast.last_time_ns, slow.last_time_ns);
	assert_true(fast.calls[VMS_API_REALLOC] > 1000);
	{
		const struct vms_alloc *a;
		for (size_t it = 0; (a = vms_heapmap_next(&fast.heap, &it));) {
			const struct vms_alloc *b =
				vms_heapmap_find(&slow.heap, a->addr);
			assert_non_null(b);
			assert_memory_equal(a, b, sizeof(*a));
		}
	}
	vms_state_release(&fast);
	vms_state_release(&slow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heapmap_matches_reference),
		cmocka_unit_test(regions_match_bitmap),
		cmocka_unit_test(short_paths_match_general),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
