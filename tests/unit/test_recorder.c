/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the recorder core (preload/, without its hooks): stack
 * interning, and the whole write path — lanes, chunk growth with SKIP
 * records, compact and full headers, every heap record form, varint/delta
 * encoding, several threads — read back by the
 * analyzer's own reader and replay, so the two sides of format.h are
 * checked against each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>

#include <cmocka.h>

#include "intern.h"
#include "recorder.h"

#include "recording.h"
#include "replay.h"
#include "state.h"

/* ---- interning ---------------------------------------------------------- */

static void test_intern_same_stack_same_id(void **state)
{
	(void)state;
	struct vms_intern t;
	memset(&t, 0, sizeof(t));
	uint64_t a[3] = { 0x1000, 0x2000, 0x3000 };
	uint64_t b[3] = { 0x1000, 0x2000, 0x3001 };
	int is_new;
	uint32_t ia = vms_intern_stack(&t, a, 3, &is_new);
	assert_true(ia > 0);
	assert_true(is_new);
	assert_int_equal(vms_intern_stack(&t, a, 3, &is_new), ia);
	assert_false(is_new);
	uint32_t ib = vms_intern_stack(&t, b, 3, &is_new);
	assert_true(is_new);
	assert_int_not_equal(ia, ib);
	/* A prefix is a different stack. */
	uint32_t ic = vms_intern_stack(&t, a, 2, &is_new);
	assert_true(is_new);
	assert_int_not_equal(ic, ia);
	vms_intern_release(&t);
}

static void test_intern_grows_and_keeps_ids(void **state)
{
	(void)state;
	struct vms_intern t;
	memset(&t, 0, sizeof(t));
	enum { N = 20000 };
	static uint32_t ids[N];
	int is_new;
	for (uint64_t i = 0; i < N; i++) {
		uint64_t f[4] = { i, i * 7, i * 13, 42 };
		ids[i] = vms_intern_stack(&t, f, 4, &is_new);
		assert_true(is_new);
		assert_int_equal(ids[i], i + 1);
	}
	for (uint64_t i = 0; i < N; i++) {
		uint64_t f[4] = { i, i * 7, i * 13, 42 };
		assert_int_equal(vms_intern_stack(&t, f, 4, &is_new), ids[i]);
		assert_false(is_new);
	}
	vms_intern_reset(&t);
	uint64_t f[1] = { 5 };
	assert_int_equal(vms_intern_stack(&t, f, 1, &is_new), 1);
	assert_true(is_new);
	vms_intern_release(&t);
}

/* ---- write, then read back with the analyzer ------------------------------ */

static char dir[256];

#define PER_THREAD 40000
#define LEAK_EVERY 100 /* one block in LEAK_EVERY is never freed */

struct worker {
	uint64_t base;  /* fake addresses: base + i * 64 */
};

static void __attribute__((noinline)) record_some(uint64_t base)
{
	/* Called with distinct sizes and many frees, enough to fill several
	 * 64 KiB chunks. */
	for (uint64_t i = 0; i < PER_THREAD; i++) {
		uint64_t addr = base + i * 64;
		assert_true(vms_guard_enter());
		vms_record_alloc(VMS_API_MALLOC, __builtin_return_address(0),
				 (void *)(uintptr_t)addr, 16 + i % 48, 0, NULL);
		if (i % LEAK_EVERY)
			vms_record_free(VMS_API_FREE, vms_seq_next(),
					(void *)(uintptr_t)addr);
		vms_guard_leave();
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	assert_true(vms_guard_enter());
	vms_thread_begin(0, 0);
	vms_guard_leave();
	record_some(w->base);
	return NULL;
}

/* Every form of heap record, from the main thread, at fake addresses
 * from FORMS on, and one block at HUGE: the values are what the reader
 * must give back. */
#define FORMS 0x500000000000ull
#define HUGE 0xc000000000000000ull
#define NFORMS 14

static void record_forms(void)
{
	void *ra = __builtin_return_address(0);
	assert_true(vms_guard_enter());
	vms_record_alloc(VMS_API_MALLOC, ra, (void *)FORMS, 100, 0, NULL);
	vms_record_alloc(VMS_API_CALLOC, ra, (void *)(FORMS + 0x100), 32, 0,
			 NULL);
	vms_record_alloc(VMS_API_POSIX_MEMALIGN, ra, (void *)(FORMS + 0x1000),
			 64, 64, NULL);
	/* realloc in place, moving, realloc(NULL, n) */
	vms_record_free(VMS_API_REALLOC, vms_seq_next(), (void *)FORMS);
	vms_record_alloc(VMS_API_REALLOC, ra, (void *)FORMS, 200, 0,
			 (void *)FORMS);
	vms_record_free(VMS_API_REALLOC, vms_seq_next(), (void *)FORMS);
	vms_record_alloc(VMS_API_REALLOC, ra, (void *)(FORMS + 0x2000), 300,
			 0, (void *)FORMS);
	vms_record_alloc(VMS_API_REALLOC, ra, (void *)(FORMS + 0x3000), 7, 0,
			 NULL);
	/* 34 bytes, too long for a compact header: written with a full
	 * one (addr and old_addr 2^62 or more away). */
	vms_record_alloc(VMS_API_REALLOCARRAY, ra, (void *)HUGE, SIZE_MAX, 0,
			 (void *)0x4000000000000000ull);
	vms_record_free(VMS_API_FREE, vms_seq_next(), (void *)(FORMS + 0x100));
	vms_record_free(VMS_API_FREE, vms_seq_next(),
			(void *)(FORMS + 0x1000));
	vms_record_free(VMS_API_FREE, vms_seq_next(),
			(void *)(FORMS + 0x2000));
	vms_record_free(VMS_API_FREE, vms_seq_next(),
			(void *)(FORMS + 0x3000));
	vms_record_free(VMS_API_FREE, vms_seq_next(), (void *)HUGE);
	vms_guard_leave();
}

static void check_forms(const struct vms_event *ev,
			const struct vms_logfile *log)
{
	static const struct {
		unsigned type, api;
		uint64_t addr, size, align, old;
	} want[NFORMS] = {
		{ VMS_REC_ALLOC, VMS_API_MALLOC, FORMS, 100, 0, 0 },
		{ VMS_REC_ALLOC, VMS_API_CALLOC, FORMS + 0x100, 32, 0, 0 },
		{ VMS_REC_ALLOC, VMS_API_POSIX_MEMALIGN, FORMS + 0x1000, 64,
		  64, 0 },
		{ VMS_REC_FREE, VMS_API_REALLOC, FORMS, 0, 0, 0 },
		{ VMS_REC_ALLOC, VMS_API_REALLOC, FORMS, 200, 0, FORMS },
		{ VMS_REC_FREE, VMS_API_REALLOC, FORMS, 0, 0, 0 },
		{ VMS_REC_ALLOC, VMS_API_REALLOC, FORMS + 0x2000, 300, 0,
		  FORMS },
		{ VMS_REC_ALLOC, VMS_API_REALLOC, FORMS + 0x3000, 7, 0, 0 },
		{ VMS_REC_ALLOC, VMS_API_REALLOCARRAY, HUGE, SIZE_MAX, 0,
		  0x4000000000000000ull },
		{ VMS_REC_FREE, VMS_API_FREE, FORMS + 0x100, 0, 0, 0 },
		{ VMS_REC_FREE, VMS_API_FREE, FORMS + 0x1000, 0, 0, 0 },
		{ VMS_REC_FREE, VMS_API_FREE, FORMS + 0x2000, 0, 0, 0 },
		{ VMS_REC_FREE, VMS_API_FREE, FORMS + 0x3000, 0, 0, 0 },
		{ VMS_REC_FREE, VMS_API_FREE, HUGE, 0, 0, 0 },
	};
	for (int i = 0; i < NFORMS; i++) {
		assert_int_equal(ev[i].type, want[i].type);
		assert_int_equal(ev[i].api, want[i].api);
		assert_true(ev[i].addr == want[i].addr);
		assert_true(ev[i].size == want[i].size);
		assert_true(ev[i].align == want[i].align);
		assert_true(ev[i].old_addr == want[i].old);
		assert_int_equal(ev[i].lane, 0);
		assert_true(ev[i].type == VMS_REC_FREE || ev[i].gstack);
		if (i)
			assert_true(ev[i].seq > ev[i - 1].seq);
		/* compact headers, but for the long one */
		assert_true(ev[i].offset + 1 < log->size);
		if (i == 8) {
			assert_int_equal(log->data[ev[i].offset],
					 VMS_REC_ALLOC);
			assert_int_equal(log->data[ev[i].offset + 1], 34);
		} else {
			assert_true(log->data[ev[i].offset] &
				    VMS_REC_COMPACT);
		}
	}
}

static int is_form(const struct vms_event *ev)
{
	return (ev->type == VMS_REC_ALLOC || ev->type == VMS_REC_FREE) &&
	       ((ev->addr >= FORMS && ev->addr < FORMS + 0x10000) ||
		ev->addr == HUGE);
}

struct counts {
	uint64_t allocs, frees, last_seq;
	int out_of_order;
	struct vms_event forms[NFORMS];
	int nforms;
	struct vms_state st;
};

static int count_event(const struct vms_event *ev, void *ctx)
{
	struct counts *c = ctx;
	if (ev->seq && ev->seq < c->last_seq)
		c->out_of_order = 1;
	if (ev->seq)
		c->last_seq = ev->seq;
	if (is_form(ev)) {
		if (c->nforms < NFORMS)
			c->forms[c->nforms] = *ev;
		c->nforms++;
		vms_state_apply(&c->st, ev);
		return 0;
	}
	c->allocs += ev->type == VMS_REC_ALLOC;
	c->frees += ev->type == VMS_REC_FREE;
	vms_state_apply(&c->st, ev);
	return 0;
}

static void test_write_and_read_back(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/vmspy-test-recorder.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	snprintf(dir, sizeof(dir), "%s/rec", tmpl);
	setenv("VMSPY_OUT", dir, 1);
	setenv("VMSPY_INTERVAL_MS", "0", 1);
	setenv("VMSPY_QUIET", "1", 1);
	setenv("VMSPY_CHUNK_KB", "64", 1);
	setenv("VMSPY_LEAK_SCAN", "0", 1);
	char *argv[] = { "test_recorder", "x", NULL };
	vms_recorder_init(2, argv);
	assert_true(vms_active);
	record_forms();

	enum { THREADS = 3 };
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i].base = 0x10000000ull * (uint64_t)(i + 1);
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]),
				 0);
	}
	record_some(0x700000000000ull);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* Nothing more from this process: the destructor must not write into
	 * a directory the test removes. */
	vms_active = 0;

	struct vms_recording rec;
	struct vms_replay rp;
	struct counts c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(vms_recording_open(&rec, dir), 0);
	assert_int_equal(rec.meta.pid, (uint64_t)getpid());
	assert_true(rec.nr_logs >= 2);
	vms_replay_init(&rp, &rec);
	vms_state_init(&c.st, rec.meta.page_size, rec.meta.pid);
	assert_int_equal(vms_replay_run(&rp, count_event, &c), 0);
	for (size_t i = 0; i < rp.nr_damage; i++)
		fprintf(stderr, "damage: %s\n", rp.damage[i].message);
	assert_int_equal(rp.nr_damage, 0);
	assert_int_equal(c.nforms, NFORMS);
	assert_int_equal(rec.logs[0].lane, 0);
	check_forms(c.forms, &rec.logs[0]);
	uint64_t total = (uint64_t)(THREADS + 1) * PER_THREAD;
	assert_int_equal(c.allocs, total);
	assert_int_equal(c.frees, total - total / LEAK_EVERY);
	assert_false(c.out_of_order);
	assert_int_equal(c.st.heap.count, total / LEAK_EVERY);
	assert_int_equal(c.st.unmatched_frees, 0);
	/* The logs really spanned several chunks. */
	size_t biggest = 0;
	for (size_t i = 0; i < rec.nr_logs; i++)
		if (rec.logs[i].size > biggest)
			biggest = rec.logs[i].size;
	assert_true(biggest > 3 * 64 * 1024);

	vms_state_release(&c.st);
	vms_replay_release(&rp);
	vms_recording_release(&rec);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_same_stack_same_id),
		cmocka_unit_test(test_intern_grows_and_keeps_ids),
		cmocka_unit_test(test_write_and_read_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
