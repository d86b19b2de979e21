/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of preload/leakscan.c.
 *
 * The marking core (vms_leak_classify) runs on synthetic memory: blocks
 * placed at chosen offsets of an anonymous mapping, roots in a separate
 * one, so every pointer in play is one the test wrote.  Expected results
 * are memcheck's.
 *
 * The whole scan (vms_leak_scan) runs in this process: the recorder core is
 * linked in and started by main, recording into a temporary directory; the
 * test records allocations through the
 * recorder API from two threads, keeps some reachable from its stacks and
 * reads the leaks file back.  In a unit test the recorder's text is this
 * executable, whose static data the scan therefore ignores: roots are
 * stacks only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmspy/format.h"

#include "config.h"
#include "leakscan.h"
#include "recorder.h"

#define NOIPA __attribute__((noipa))

/* ---- synthetic memory --------------------------------------------------- */

#define ARENA_SIZE (8u << 20)

static uint8_t *arena; /* blocks live here */
static uint64_t *rootmem; /* one page of root words */

static int arena_setup(void **state)
{
	(void)state;
	arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rootmem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return arena == MAP_FAILED || rootmem == MAP_FAILED ? -1 : 0;
}

static int arena_teardown(void **state)
{
	(void)state;
	munmap(arena, ARENA_SIZE);
	munmap(rootmem, 4096);
	return 0;
}

static void arena_clear(void)
{
	memset(arena, 0, ARENA_SIZE);
	memset(rootmem, 0, 4096);
}

static uint64_t at(size_t off)
{
	return (uint64_t)(uintptr_t)(arena + off);
}

/* Stores the pointer value v at byte offset off of the arena. */
static void put(size_t off, uint64_t v)
{
	memcpy(arena + off, &v, sizeof(v));
}

static struct vms_leak_root root_all(void)
{
	struct vms_leak_root r = { (uintptr_t)rootmem,
				   (uintptr_t)rootmem + 4096, 0 };
	return r;
}

/* The category of the block at address a after classification. */
static unsigned cat_of(const struct vms_leak_block *b, size_t n, uint64_t a)
{
	for (size_t i = 0; i < n; i++)
		if (b[i].addr == a)
			return b[i].cat;
	fail_msg("block 0x%llx missing", (unsigned long long)a);
	return 0;
}

static void classify(struct vms_leak_block *b, size_t n,
		     const struct vms_leak_root *r, size_t nr)
{
	assert_int_equal(vms_leak_classify(b, n, r, nr), 0);
	for (size_t i = 1; i < n; i++)
		assert_true(b[i - 1].addr < b[i].addr);
}

/* ---- vms_leak_classify ---------------------------------------------------- */

static void start_pointer_from_root(void **state)
{
	(void)state;
	arena_clear();
	struct vms_leak_block b[] = { { at(0), 64, 0, 0 }, { at(128), 64, 0, 0 } };
	rootmem[3] = at(0);
	struct vms_leak_root r = root_all();
	classify(b, 2, &r, 1);
	assert_int_equal(cat_of(b, 2, at(0)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 2, at(128)), VMS_LEAK_DEFINITE);
}

static void interior_pointer_is_possible(void **state)
{
	(void)state;
	arena_clear();
	/* root -> A+8 (interior); A -> B (start): B only possibly. */
	struct vms_leak_block b[] = { { at(0), 64, 0, 0 }, { at(128), 64, 0, 0 } };
	rootmem[0] = at(8);
	put(16, at(128));
	struct vms_leak_root r = root_all();
	classify(b, 2, &r, 1);
	assert_int_equal(cat_of(b, 2, at(0)), VMS_LEAK_POSSIBLE);
	assert_int_equal(cat_of(b, 2, at(128)), VMS_LEAK_POSSIBLE);
}

static void chain_from_reachable(void **state)
{
	(void)state;
	arena_clear();
	/* root -> A -> B -> C, all by start pointers; A -> D+24 (interior);
	 * D also gets a start pointer from C later in the chain: the start
	 * pointer from a reachable block wins. E: interior from B only. */
	struct vms_leak_block b[] = {
		{ at(0x1000), 32, 0, 0 }, { at(0x2000), 32, 0, 0 },
		{ at(0x3000), 32, 0, 0 }, { at(0x4000), 64, 0, 0 },
		{ at(0x5000), 64, 0, 0 },
	};
	rootmem[7] = at(0x1000);
	put(0x1000, at(0x4000) + 24);
	put(0x1008, at(0x2000));
	put(0x2000, at(0x3000));
	put(0x2010, at(0x5000) + 63);
	put(0x3018, at(0x4000));
	struct vms_leak_root r = root_all();
	classify(b, 5, &r, 1);
	assert_int_equal(cat_of(b, 5, at(0x1000)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 5, at(0x2000)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 5, at(0x3000)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 5, at(0x4000)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 5, at(0x5000)), VMS_LEAK_POSSIBLE);
}

static void lost_list(void **state)
{
	(void)state;
	arena_clear();
	/* head at the highest address, so the clique pass meets the tail
	 * first, makes it a leader, and must demote it when the head's
	 * clique reaches it. */
	struct vms_leak_block b[] = {
		{ at(0x9000), 32, 0, 0 }, /* head */
		{ at(0x1000), 32, 0, 0 }, { at(0x2000), 32, 0, 0 },
		{ at(0x3000), 32, 0, 0 },
	};
	put(0x9000, at(0x3000));
	put(0x3000, at(0x1000));
	put(0x1000, at(0x2000));
	struct vms_leak_root r = root_all();
	classify(b, 4, &r, 1);
	assert_int_equal(cat_of(b, 4, at(0x9000)), VMS_LEAK_DEFINITE);
	assert_int_equal(cat_of(b, 4, at(0x1000)), VMS_LEAK_INDIRECT);
	assert_int_equal(cat_of(b, 4, at(0x2000)), VMS_LEAK_INDIRECT);
	assert_int_equal(cat_of(b, 4, at(0x3000)), VMS_LEAK_INDIRECT);
}

static void lost_cycle(void **state)
{
	(void)state;
	arena_clear();
	struct vms_leak_block b[] = { { at(0x100), 16, 0, 0 },
				      { at(0x200), 16, 0, 0 },
				      { at(0x300), 16, 0, 0 } };
	put(0x100, at(0x200));
	put(0x200, at(0x100) + 8); /* interior counts inside a clique */
	put(0x300, at(0x300));     /* a lone block pointing at itself */
	struct vms_leak_root r = root_all();
	classify(b, 3, &r, 1);
	unsigned c1 = cat_of(b, 3, at(0x100)), c2 = cat_of(b, 3, at(0x200));
	assert_true((c1 == VMS_LEAK_DEFINITE && c2 == VMS_LEAK_INDIRECT) ||
		    (c1 == VMS_LEAK_INDIRECT && c2 == VMS_LEAK_DEFINITE));
	assert_int_equal(cat_of(b, 3, at(0x300)), VMS_LEAK_DEFINITE);
}

static void unreferenced_and_no_roots(void **state)
{
	(void)state;
	arena_clear();
	struct vms_leak_block b[] = { { at(0x40), 8, 0, 0 } };
	classify(b, 1, NULL, 0);
	assert_int_equal(b[0].cat, VMS_LEAK_DEFINITE);
	assert_int_equal(vms_leak_classify(NULL, 0, NULL, 0), 0);
}

static void start_only_roots(void **state)
{
	(void)state;
	arena_clear();
	struct vms_leak_block b[] = { { at(0), 64, 0, 0 }, { at(128), 64, 0, 0 } };
	rootmem[0] = at(16);  /* interior: ignored in a start-only root */
	rootmem[1] = at(128); /* start: counts */
	struct vms_leak_root r = root_all();
	r.flags = VMS_LEAK_ROOT_START_ONLY;
	classify(b, 2, &r, 1);
	assert_int_equal(cat_of(b, 2, at(0)), VMS_LEAK_DEFINITE);
	assert_int_equal(cat_of(b, 2, at(128)), VMS_LEAK_REACHABLE);
}

static void alignment_and_bounds(void **state)
{
	(void)state;
	arena_clear();
	struct vms_leak_block b[] = {
		{ at(0x100), 12, 0, 0 }, /* reachable; its word 8..15 is cut */
		{ at(0x200), 0, 0, 0 },  /* zero-size, reached by its start */
		{ at(0x300), 16, 0, 0 }, /* only in the cut-off word */
		{ at(0x400), 16, 0, 0 }, /* only an unaligned root word */
		{ at(0x500), 16, 0, 0 }, /* only a pointer to its end */
		{ at(0x600), 16, 0, 0 }, /* only from outside the root */
	};
	rootmem[0] = at(0x100);
	rootmem[1] = at(0x200);
	rootmem[2] = at(0x500) + 16;
	put(0x108, at(0x300));
	uint64_t v = at(0x400);
	memcpy((uint8_t *)rootmem + 28, &v, 8);
	rootmem[100] = at(0x600);
	struct vms_leak_root r = { (uintptr_t)rootmem,
				   (uintptr_t)(rootmem + 100), 0 };
	classify(b, 6, &r, 1);
	assert_int_equal(cat_of(b, 6, at(0x100)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 6, at(0x200)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 6, at(0x300)), VMS_LEAK_DEFINITE);
	assert_int_equal(cat_of(b, 6, at(0x400)), VMS_LEAK_DEFINITE);
	assert_int_equal(cat_of(b, 6, at(0x500)), VMS_LEAK_DEFINITE);
	assert_int_equal(cat_of(b, 6, at(0x600)), VMS_LEAK_DEFINITE);
}

static void many_blocks_unsorted(void **state)
{
	(void)state;
	arena_clear();
	/* 20000 blocks of 48 bytes, given in a shuffled order (the radix
	 * sort path); a chain through every other one from the root, each
	 * chain block also holding an interior pointer to its neighbour. */
	enum { N = 20000, SZ = 48 };
	struct vms_leak_block *b = calloc(N, sizeof(*b));
	assert_non_null(b);
	for (size_t i = 0; i < N; i++) {
		b[i].addr = at(i * SZ);
		b[i].size = SZ;
	}
	for (size_t i = 0; i + 2 < N; i += 2) {
		put(i * SZ, at((i + 2) * SZ));
		put(i * SZ + 8, at((i + 1) * SZ) + 40);
	}
	rootmem[0] = at(0);
	srand(7);
	for (size_t i = N - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		struct vms_leak_block t = b[i];
		b[i] = b[j];
		b[j] = t;
	}
	struct vms_leak_root r = root_all();
	classify(b, N, &r, 1);
	for (size_t i = 0; i < N; i++) {
		assert_true(b[i].addr == at(i * SZ));
		if (i == N - 1)
			assert_int_equal(b[i].cat, VMS_LEAK_DEFINITE);
		else
			assert_int_equal(b[i].cat, i % 2 ? VMS_LEAK_POSSIBLE
							 : VMS_LEAK_REACHABLE);
	}
	free(b);
}

static void big_block_and_unmapped_memory(void **state)
{
	(void)state;
	arena_clear();
	/* A 3 MiB block (scanned in several buffer loads) whose last word
	 * points at B; C sits in memory that was unmapped after it was
	 * "allocated"; one root range is unmapped too.  Nothing crashes and
	 * the unreadable memory holds no pointers. */
	size_t big = 3u << 20;
	uint8_t *gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(gone != MAP_FAILED);
	uint64_t c = (uintptr_t)gone + 64, d = at(0x3000);
	memcpy(gone + 64, &d, 8);
	munmap(gone, 8192);
	struct vms_leak_block b[] = {
		{ at(0x10000), big, 0, 0 },
		{ at(0x1000), 64, 0, 0 }, /* B */
		{ c, 64, 0, 0 },          /* C */
		{ at(0x3000), 64, 0, 0 }, /* D: only from C's lost memory */
	};
	put(0x10000 + big - 8, at(0x1000));
	rootmem[0] = at(0x10000);
	rootmem[1] = c;
	struct vms_leak_root r[2] = { root_all(),
				      { (uintptr_t)gone, (uintptr_t)gone + 8192,
					0 } };
	classify(b, 4, r, 2);
	assert_int_equal(cat_of(b, 4, at(0x10000)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 4, at(0x1000)), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 4, c), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(b, 4, at(0x3000)), VMS_LEAK_DEFINITE);
}

/* ---- vms_leak_scan, in this process -------------------------------------- */

static char recdir[] = "/tmp/vmspy-test-leakscan.XXXXXX";

/* Starts the recorder core, recording into a temporary directory. */
static void start_recording(int argc, char **argv)
{
	if (!mkdtemp(recdir))
		return;
	char out[sizeof(recdir) + 8];
	snprintf(out, sizeof(out), "%s/rec", recdir);
	setenv("VMSPY_OUT", out, 1);
	setenv("VMSPY_INTERVAL_MS", "0", 1);
	setenv("VMSPY_QUIET", "1", 1);
	vms_recorder_init(argc, argv);
}

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* After the recorder's destructor (the exit snapshot, and the scan it
 * would run if this test had not: lower priority runs later). */
__attribute__((destructor(101))) static void remove_recording(void)
{
	nftw(recdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void *rec_malloc(size_t n)
{
	void *p = malloc(n);
	assert_non_null(p);
	vms_guard_enter();
	vms_record_alloc(VMS_API_MALLOC, NULL, p, n, 0, NULL);
	vms_guard_leave();
	return p;
}

static void rec_free_only(void *p)
{
	vms_guard_enter();
	vms_record_free(VMS_API_FREE, vms_seq_next(), p);
	vms_guard_leave();
}

static void rec_alloc_only(void *p, size_t n)
{
	vms_guard_enter();
	vms_record_alloc(VMS_API_MALLOC, NULL, p, n, 0, NULL);
	vms_guard_leave();
}

struct peer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int step;
	void *shared;  /* recorded by main, freed by the peer, re-recorded */
	void *theirs;  /* recorded by the peer, freed by main */
	void *kept;    /* held only on the peer's stack */
	void *lost;    /* held only in this executable's static data */
};

static void peer_wait(struct peer *p, int step)
{
	pthread_mutex_lock(&p->mu);
	while (p->step < step)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

static void peer_set(struct peer *p, int step)
{
	pthread_mutex_lock(&p->mu);
	p->step = step;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	void *volatile kept = rec_malloc(40);
	p->kept = kept;
	p->theirs = rec_malloc(56);
	peer_wait(p, 1);
	rec_free_only(p->shared);
	peer_set(p, 2);
	peer_wait(p, 3); /* stays alive, holding kept, during the scan */
	return kept;
}

/* Blocks whose addresses never reach the caller's frame. */
static NOIPA void make_lost(void **out_addr)
{
	void **a = rec_malloc(64);
	void **b = rec_malloc(64);
	a[0] = b;
	/* out_addr gets the addresses xor-ed, so they are no pointers */
	out_addr[0] = (void *)((uintptr_t)a ^ 0xa5a5a5a5a5a5a5a5ull);
	out_addr[1] = (void *)((uintptr_t)b ^ 0xa5a5a5a5a5a5a5a5ull);
}

/* A block whose only pointer is in static data of this executable. */
static NOIPA void make_static_only(struct peer *p)
{
	p->lost = rec_malloc(24);
}

static NOIPA void scrub_stack(void)
{
	volatile uint8_t junk[16384];
	memset((void *)junk, 0, sizeof(junk));
}

static void whole_scan_in_process(void **state)
{
	(void)state;
	if (!vms_active || !vms_self.dir[0])
		skip();
	static struct peer p = { PTHREAD_MUTEX_INITIALIZER,
				 PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, peer_main, &p), 0);

	void **volatile reach = rec_malloc(32);     /* on this stack */
	void *volatile child = rec_malloc(100);
	reach[1] = child;                           /* reachable via reach */
	char *volatile inner = (char *)rec_malloc(80) + 40; /* possible */
	void *freed = rec_malloc(16);
	rec_free_only(freed);
	uintptr_t lost_x[2];
	make_lost((void **)lost_x);
	/* Address reuse across threads: main records shared, the peer frees
	 * it, main records the same address again: live only if the lanes
	 * are merged by sequence number. */
	void *volatile shared = rec_malloc(48);
	peer_wait(&p, 0);
	p.shared = shared;
	peer_set(&p, 1);
	peer_wait(&p, 2);
	rec_alloc_only(shared, 48);
	rec_free_only(p.theirs); /* freed here, recorded there */
	make_static_only(&p);
	scrub_stack();

	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", vms_self.dir);
	vms_leak_scan();
	vms_leak_scan(); /* once per process: no second file, no error */
	peer_set(&p, 3);
	pthread_join(t, NULL);

	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/leaks", dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static uint8_t buf[1 << 16];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	unsigned long long seq = 0, n = 0;
	int used = 0;
	assert_int_equal(sscanf((char *)buf,
				"vmspy-leaks 1\nseq %llu\nblocks %llu\ndata\n%n",
				&seq, &n, &used),
			 2);
	assert_true(used > 0 && seq > 0);
	/* reach, child, inner, the two lost ones, shared, kept, p.lost */
	assert_int_equal(n, 8);
	assert_int_equal(len, (size_t)used + 9 * n + 4);
	assert_memory_equal(buf + used + 9 * n, "end\n", 4);

	struct vms_leak_block got[16];
	for (size_t i = 0; i < n; i++) {
		memcpy(&got[i].addr, buf + used + 9 * i, 8);
		got[i].cat = buf[used + 9 * i + 8];
		if (i)
			assert_true(got[i - 1].addr < got[i].addr);
	}
	uintptr_t la = lost_x[0] ^ 0xa5a5a5a5a5a5a5a5ull;
	uintptr_t lb = lost_x[1] ^ 0xa5a5a5a5a5a5a5a5ull;
	assert_int_equal(cat_of(got, n, (uintptr_t)reach), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(got, n, (uintptr_t)child), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(got, n, (uintptr_t)inner - 40),
			 VMS_LEAK_POSSIBLE);
	assert_int_equal(cat_of(got, n, (uintptr_t)shared), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(got, n, (uintptr_t)p.kept), VMS_LEAK_REACHABLE);
	assert_int_equal(cat_of(got, n, la), VMS_LEAK_DEFINITE);
	assert_int_equal(cat_of(got, n, lb), VMS_LEAK_INDIRECT);
	/* p.lost's only copy is in the peer struct, static data of this
	 * executable, which is the recorder's own here: ignored. */
	assert_int_equal(cat_of(got, n, (uintptr_t)p.lost), VMS_LEAK_DEFINITE);
	for (size_t i = 0; i < n; i++)
		assert_true(got[i].addr != (uintptr_t)freed &&
			    got[i].addr != (uintptr_t)p.theirs);
	free(reach);
	free(child);
	free((char *)inner - 40);
	free((void *)la);
	free((void *)lb);
	free(shared);
	free(p.kept);
	free(p.lost);
	free(p.theirs);
	free(freed);
}

int main(int argc, char **argv)
{
	start_recording(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(start_pointer_from_root),
		cmocka_unit_test(interior_pointer_is_possible),
		cmocka_unit_test(chain_from_reachable),
		cmocka_unit_test(lost_list),
		cmocka_unit_test(lost_cycle),
		cmocka_unit_test(unreferenced_and_no_roots),
		cmocka_unit_test(start_only_roots),
		cmocka_unit_test(alignment_and_bounds),
		cmocka_unit_test(many_blocks_unsorted),
		cmocka_unit_test(big_block_and_unmapped_memory),
		cmocka_unit_test(whole_scan_in_process),
	};
	return cmocka_run_group_tests(tests, arena_setup, arena_teardown);
}
