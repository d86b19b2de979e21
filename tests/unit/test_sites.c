/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for per-call-site accounting (analyzer/sites.c): frame names
 * and keys, exact charging of realloc / mremap / partial munmap / MAP_FIXED
 * / shm, live-at-peak, and a randomized run that checks the sites always
 * add up to the live state.  Events are built by hand (no recording), and
 * without a symbolizer frames are named by address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "sites.h"

/* ---- names --------------------------------------------------------------- */

static void clone_suffixes_are_dropped(void **state)
{
	(void)state;
	assert_int_equal(vms_sites_base_name_len("f.constprop.0"), 1);
	assert_int_equal(vms_sites_base_name_len("foo.isra.0"), 3);
	assert_int_equal(vms_sites_base_name_len("foo.part.1.cold"), 3);
	assert_int_equal(vms_sites_base_name_len("foo.cold"), 3);
	assert_int_equal(vms_sites_base_name_len("foo.lto_priv.0"), 3);
	assert_int_equal(vms_sites_base_name_len(
				 "ns::f(int) [clone .constprop.0]"),
			 strlen("ns::f(int)"));
	/* Not clone suffixes: kept. */
	assert_int_equal(vms_sites_base_name_len("a.b"), 3);
	assert_int_equal(vms_sites_base_name_len("foo.partial"), 11);
	assert_int_equal(vms_sites_base_name_len(".cold"), 5);
	assert_int_equal(vms_sites_base_name_len("main"), 4);
}

static void frame_names(void **state)
{
	char buf[64];
	struct vms_sym_frame f = { .function = "g.isra.0", .file = "/x/a.c",
				   .line = 3, .module = "app",
				   .module_offset = 0x10, .address = 0x1010 };
	(void)state;
	assert_string_equal(vms_sites_frame_name(&f, buf, sizeof(buf)), "g");
	f.function = NULL;
	assert_string_equal(vms_sites_frame_name(&f, buf, sizeof(buf)),
			    "app+0x10");
	f.module = NULL;
	assert_string_equal(vms_sites_frame_name(&f, buf, sizeof(buf)),
			    "[unknown]");
}

static void keys_by_name_file_and_depth(void **state)
{
	struct vms_sites ss;
	const char *n1[] = { "alloc", "work", "main" };
	const char *f1[] = { "/src/a.c", "b.c", "b.c" };
	const char *f2[] = { "/other/dir/a.c", "b.c", "b.c" };
	const char *f3[] = { "c.c", "b.c", "b.c" };
	const char *n2[] = { "alloc", "work", "other" };
	const char *n3[] = { "alloc;x\n", "work" };
	(void)state;

	vms_sites_init(&ss, NULL, 2);
	size_t a = vms_sites_intern(&ss, n1, f1, 3);
	/* Same basename in another directory: the same site. */
	assert_int_equal(vms_sites_intern(&ss, n1, f2, 3), a);
	/* Another file: another site (two static functions). */
	assert_int_not_equal(vms_sites_intern(&ss, n1, f3, 3), a);
	/* Differs beyond depth 2: the same site. */
	assert_int_equal(vms_sites_intern(&ss, n2, f1, 3), a);
	assert_int_equal(ss.v[a].nr_frames, 2);
	assert_string_equal(ss.v[a].names[0], "alloc");
	assert_string_equal(ss.v[a].files[0], "a.c");
	/* No files at all: another key than with files. */
	assert_int_not_equal(vms_sites_intern(&ss, n1, NULL, 3), a);
	/* Control bytes never reach a name. */
	size_t c = vms_sites_intern(&ss, n3, NULL, 2);
	assert_string_equal(ss.v[c].names[0], "alloc;x?");
	assert_int_equal(ss.n, 4);
	vms_sites_release(&ss);
}

/* ---- charging ------------------------------------------------------------ */

struct fixture {
	struct vms_sites ss;
	struct vms_state st;
	struct vms_stacks stacks;
	uint64_t seq;
};

static void fx_init(struct fixture *fx, size_t depth)
{
	memset(fx, 0, sizeof(*fx));
	vms_sites_init(&fx->ss, NULL, depth);
	vms_state_init(&fx->st, 4096, 1);
	vms_stacks_init(&fx->stacks);
}

static void fx_release(struct fixture *fx)
{
	vms_sites_release(&fx->ss);
	vms_state_release(&fx->st);
	vms_stacks_release(&fx->stacks);
}

static vms_stack_id stack2(struct fixture *fx, uint64_t a, uint64_t b)
{
	uint64_t f[2] = { a, b };
	return vms_stacks_intern(&fx->stacks, f, 2);
}

static void fx_apply(struct fixture *fx, struct vms_event ev)
{
	ev.seq = ++fx->seq;
	ev.time_ns = 1000 + ev.seq;
	vms_sites_apply(&fx->ss, &fx->st, &fx->stacks, &ev);
}

static void alloc(struct fixture *fx, vms_stack_id s, uint64_t addr,
		  uint64_t size)
{
	fx_apply(fx, (struct vms_event){ .type = VMS_REC_ALLOC,
					 .api = VMS_API_MALLOC, .gstack = s,
					 .addr = addr, .size = size });
}

static void release(struct fixture *fx, uint64_t addr)
{
	fx_apply(fx, (struct vms_event){ .type = VMS_REC_FREE,
					 .api = VMS_API_FREE, .addr = addr });
}

static void map(struct fixture *fx, vms_stack_id s, uint64_t addr,
		uint64_t len, uint64_t flags, const char *path)
{
	fx_apply(fx, (struct vms_event){
			     .type = VMS_REC_MMAP, .api = VMS_API_MMAP,
			     .gstack = s, .addr = addr, .len = len,
			     .prot = PROT_READ | PROT_WRITE, .flags = flags,
			     .fd = path ? 3 : -1, .str = path,
			     .str_len = path ? strlen(path) : 0 });
}

static void unmap(struct fixture *fx, uint64_t addr, uint64_t len)
{
	fx_apply(fx, (struct vms_event){ .type = VMS_REC_MUNMAP,
					 .api = VMS_API_MUNMAP, .addr = addr,
					 .len = len });
}

static const struct vms_site_stats *stat_of(struct fixture *fx,
					    vms_stack_id id, int cat)
{
	char name[2][32];
	const char *names[2] = { name[0], name[1] };
	size_t n;
	const uint64_t *f = vms_stacks_get(&fx->stacks, id, &n);
	assert_int_equal(n, 2);
	snprintf(name[0], sizeof(name[0]), "0x%llx", (unsigned long long)f[0]);
	snprintf(name[1], sizeof(name[1]), "0x%llx", (unsigned long long)f[1]);
	return &fx->ss.v[vms_sites_intern(&fx->ss, names, NULL, 2)].cat[cat];
}

static void check_totals_match_state(struct fixture *fx)
{
	uint64_t live[VMS_CAT__COUNT] = { 0 };
	for (size_t i = 0; i < fx->ss.n; i++)
		for (int c = 0; c < VMS_CAT__COUNT; c++)
			live[c] += fx->ss.v[i].cat[c].live;
	assert_int_equal(live[VMS_CAT_HEAP], fx->st.heap_bytes);
	assert_int_equal(live[VMS_CAT_MMAP], fx->st.mmap_bytes);
	assert_int_equal(live[VMS_CAT_SHM], fx->st.shm_bytes);
	assert_int_equal(fx->ss.total[VMS_CAT_HEAP].live, fx->st.heap_bytes);
	assert_int_equal(fx->ss.total[VMS_CAT_MMAP].live, fx->st.mmap_bytes);
	assert_int_equal(fx->ss.total[VMS_CAT_SHM].live, fx->st.shm_bytes);
	assert_int_equal(fx->ss.total[VMS_CAT_HEAP].peak,
			 fx->st.peak_heap.bytes);
	assert_int_equal(fx->ss.total[VMS_CAT_MMAP].peak,
			 fx->st.peak_mmap.bytes);
	assert_int_equal(fx->ss.total[VMS_CAT_SHM].peak,
			 fx->st.peak_shm.bytes);
}

static void exact_charges(void **state)
{
	struct fixture fx;
	(void)state;
	fx_init(&fx, 0);
	vms_stack_id A = stack2(&fx, 0x100, 0x200);
	vms_stack_id B = stack2(&fx, 0x300, 0x200);

	alloc(&fx, A, 0x1000, 100);
	alloc(&fx, A, 0x2000, 50);
	/* A moving realloc: release half, then the new block for B. */
	fx_apply(&fx, (struct vms_event){ .type = VMS_REC_FREE,
					  .api = VMS_API_REALLOC,
					  .addr = 0x1000 });
	fx_apply(&fx, (struct vms_event){ .type = VMS_REC_ALLOC,
					  .api = VMS_API_REALLOC, .gstack = B,
					  .addr = 0x3000, .size = 300,
					  .old_addr = 0x1000 });
	assert_int_equal(stat_of(&fx, A, VMS_CAT_HEAP)->live, 50);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_HEAP)->peak, 150);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_HEAP)->live, 300);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_HEAP)->calls, 2);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_HEAP)->allocated, 300);
	check_totals_match_state(&fx);

	/* 2 pages, one unmapped; len rounds up to pages. */
	map(&fx, A, 0x10000, 8000, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	unmap(&fx, 0x11000, 4096);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_MMAP)->live, 4096);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_MMAP)->peak, 8192);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_MMAP)->allocated, 8192);
	check_totals_match_state(&fx);

	/* mremap 1 -> 4 pages elsewhere, by B: the pages go to B. */
	fx_apply(&fx, (struct vms_event){ .type = VMS_REC_MUNMAP,
					  .api = VMS_API_MREMAP,
					  .addr = 0x10000, .len = 4096 });
	fx_apply(&fx, (struct vms_event){ .type = VMS_REC_MMAP,
					  .api = VMS_API_MREMAP, .gstack = B,
					  .addr = 0x20000, .len = 16384,
					  .old_addr = 0x10000,
					  .old_len = 4096 });
	assert_int_equal(stat_of(&fx, A, VMS_CAT_MMAP)->live, 0);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_MMAP)->live, 16384);
	check_totals_match_state(&fx);
	/* In place: shrink to 3 pages and grow back (old and new ranges
	 * overlap: no page may count twice). */
	for (int i = 0; i < 2; i++) {
		uint64_t from = i ? 12288 : 16384, to = i ? 16384 : 12288;
		fx_apply(&fx, (struct vms_event){ .type = VMS_REC_MUNMAP,
						  .api = VMS_API_MREMAP,
						  .addr = 0x20000,
						  .len = from });
		fx_apply(&fx, (struct vms_event){ .type = VMS_REC_MMAP,
						  .api = VMS_API_MREMAP,
						  .gstack = B, .addr = 0x20000,
						  .len = to,
						  .old_addr = 0x20000,
						  .old_len = from });
		assert_int_equal(stat_of(&fx, B, VMS_CAT_MMAP)->live, to);
		check_totals_match_state(&fx);
	}

	/* shm: MAP_SHARED of a /dev/shm file, and shmat. */
	map(&fx, A, 0x30000, 4096, MAP_SHARED, "/dev/shm/x");
	fx_apply(&fx, (struct vms_event){ .type = VMS_REC_SHMAT,
					  .api = VMS_API_SHMAT, .gstack = B,
					  .addr = 0x40000, .size = 8192,
					  .shmid = 7 });
	assert_int_equal(stat_of(&fx, A, VMS_CAT_SHM)->live, 4096);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_SHM)->live, 8192);
	/* A MAP_SHARED file elsewhere is mmap, not shm. */
	map(&fx, A, 0x50000, 4096, MAP_SHARED, "/tmp/file");
	assert_int_equal(stat_of(&fx, A, VMS_CAT_MMAP)->live, 4096);
	check_totals_match_state(&fx);

	/* MAP_FIXED over B's first page: it becomes A's. */
	map(&fx, A, 0x20000, 4096,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_MMAP)->live, 12288);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_MMAP)->live, 8192);
	check_totals_match_state(&fx);

	/* heap + mmap + shm was first this high before the MAP_FIXED (which
	 * moved a page from B to A): that is the peak. */
	uint64_t peak = fx.ss.peak_bytes;
	assert_int_equal(peak, 350 + 8192 + 12288 + 4096 + 8192);

	fx_apply(&fx, (struct vms_event){ .type = VMS_REC_SHMDT,
					  .api = VMS_API_SHMDT,
					  .addr = 0x40000 });
	assert_int_equal(stat_of(&fx, B, VMS_CAT_SHM)->live, 0);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_SHM)->peak, 8192);
	release(&fx, 0x2000);
	release(&fx, 0x9999); /* unknown: nothing changes */
	check_totals_match_state(&fx);
	assert_int_equal(fx.ss.peak_bytes, peak);

	vms_sites_finish(&fx.ss);
	/* At the peak: A had 50 heap, 4096 mmap, 4096 shm; B 300 heap,
	 * 16384 mmap, 8192 shm. */
	assert_int_equal(stat_of(&fx, A, VMS_CAT_HEAP)->at_peak, 50);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_MMAP)->at_peak, 4096);
	assert_int_equal(stat_of(&fx, A, VMS_CAT_SHM)->at_peak, 4096);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_HEAP)->at_peak, 300);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_MMAP)->at_peak, 16384);
	assert_int_equal(stat_of(&fx, B, VMS_CAT_SHM)->at_peak, 8192);
	assert_int_equal(fx.ss.total[VMS_CAT_SHM].at_peak, 12288);
	/* ...and now A's heap is 0. */
	assert_int_equal(stat_of(&fx, A, VMS_CAT_HEAP)->live, 0);
	assert_int_equal(fx.ss.total[VMS_CAT_HEAP].calls, 3);
	assert_int_equal(fx.ss.total[VMS_CAT_MMAP].calls, 6);
	assert_int_equal(fx.ss.total[VMS_CAT_SHM].calls, 2);
	fx_release(&fx);
}

static void depth_merges_stacks(void **state)
{
	struct fixture fx;
	(void)state;
	fx_init(&fx, 1);
	vms_stack_id A = stack2(&fx, 0x100, 0x200);
	vms_stack_id B = stack2(&fx, 0x100, 0x300);
	alloc(&fx, A, 0x1000, 10);
	alloc(&fx, B, 0x2000, 20);
	assert_int_equal(fx.ss.n, 1);
	assert_int_equal(fx.ss.v[0].cat[VMS_CAT_HEAP].live, 30);
	assert_int_equal(fx.ss.v[0].cat[VMS_CAT_HEAP].calls, 2);
	/* No stack: its own site. */
	alloc(&fx, 0, 0x3000, 5);
	assert_int_equal(fx.ss.n, 2);
	assert_string_equal(fx.ss.v[1].names[0], "[no stack]");
	fx_release(&fx);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random heap and mapping traffic from a few stacks: the sites always add
 * up to the state, each site's peak is at least its live, and live-at-peak
 * adds up to the overall peak. */
static void random_traffic_adds_up(void **state)
{
	struct fixture fx;
	vms_stack_id s[4];
	(void)state;
	fx_init(&fx, 0);
	for (int i = 0; i < 4; i++)
		s[i] = stack2(&fx, 0x100 + (uint64_t)i, 0x999);
	for (int step = 0; step < 20000; step++) {
		uint64_t r = rnd();
		vms_stack_id st = s[r % 4];
		uint64_t slot = (r >> 8) % 64;
		switch ((r >> 16) % 7) {
		case 0:
		case 1:
			alloc(&fx, st, 0x100000 + slot * 64,
			      1 + (r >> 24) % 5000);
			break;
		case 2:
			release(&fx, 0x100000 + slot * 64);
			break;
		case 3:
			map(&fx, st, 0x40000000 + slot * 4096,
			    4096 * (1 + (r >> 24) % 6),
			    (r >> 40) & 1 ? MAP_SHARED
					  : MAP_PRIVATE | MAP_ANONYMOUS,
			    (r >> 40) & 1 ? "/dev/shm/r" : NULL);
			break;
		case 4: {
			/* mremap, both halves: in place (grow or shrink) or
			 * moved to another slot, maybe overlapping. */
			uint64_t from = 0x40000000 + slot * 4096;
			uint64_t to = (r >> 30) & 1
					      ? from
					      : 0x40000000 +
							((r >> 32) % 64) * 4096;
			uint64_t olen = 4096 * (1 + (r >> 24) % 3);
			uint64_t nlen = 4096 * (1 + (r >> 36) % 5);
			fx_apply(&fx, (struct vms_event){
					      .type = VMS_REC_MUNMAP,
					      .api = VMS_API_MREMAP,
					      .addr = from, .len = olen });
			fx_apply(&fx, (struct vms_event){
					      .type = VMS_REC_MMAP,
					      .api = VMS_API_MREMAP,
					      .gstack = st, .addr = to,
					      .len = nlen, .old_addr = from,
					      .old_len = olen });
			break;
		}
		default:
			unmap(&fx, 0x40000000 + slot * 4096,
			      4096 * (1 + (r >> 24) % 3));
			break;
		}
		check_totals_match_state(&fx);
	}
	vms_sites_finish(&fx.ss);
	uint64_t at_peak = 0;
	for (size_t i = 0; i < fx.ss.n; i++)
		for (int c = 0; c < VMS_CAT__COUNT; c++) {
			assert_true(fx.ss.v[i].cat[c].peak >=
				    fx.ss.v[i].cat[c].live);
			assert_true(fx.ss.v[i].cat[c].peak >=
				    fx.ss.v[i].cat[c].at_peak);
			at_peak += fx.ss.v[i].cat[c].at_peak;
		}
	assert_int_equal(at_peak, fx.ss.peak_bytes);
	fx_release(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clone_suffixes_are_dropped),
		cmocka_unit_test(frame_names),
		cmocka_unit_test(keys_by_name_file_and_depth),
		cmocka_unit_test(exact_charges),
		cmocka_unit_test(depth_merges_stacks),
		cmocka_unit_test(random_traffic_adds_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
