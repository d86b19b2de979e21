/* SPDX-License-Identifier: MIT */
/*
 * The leaks file reader (analyzer/leakfile.c) on hand-made input: a valid
 * file, and the damaged ones it must reject (or, for a missing "end",
 * ignore) without reading outside the buffer.  Each case is parsed from an
 * exactly-sized heap copy, so AddressSanitizer builds catch overreads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leakfile.h"
#include "vmspy/format.h"

struct text {
	uint8_t buf[4096];
	size_t len;
};

static void add(struct text *t, const void *p, size_t n)
{
	assert_true(t->len + n <= sizeof(t->buf));
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static void adds(struct text *t, const char *s)
{
	add(t, s, strlen(s));
}

static void add_entry(struct text *t, uint64_t addr, uint8_t cat)
{
	uint8_t e[9];
	for (int i = 0; i < 8; i++)
		e[i] = (uint8_t)(addr >> (8 * i));
	e[8] = cat;
	add(t, e, sizeof(e));
}

/* A file with n entries at 0x1000, 0x2000, ... (categories 1..4 in turn),
 * declaring `declared` blocks. */
static void make(struct text *t, uint64_t declared, size_t n, bool end)
{
	char head[128];
	t->len = 0;
	snprintf(head, sizeof(head), "vmspy-leaks 1\nseq 42\nblocks %llu\n"
		 "data\n", (unsigned long long)declared);
	adds(t, head);
	for (size_t i = 0; i < n; i++)
		add_entry(t, 0x1000 * (i + 1), (uint8_t)(1 + i % 4));
	if (end)
		adds(t, "end\n");
}

/* Parse an exact-size copy (so an overread is caught by ASan). */
static int parse(struct vms_leakfile *lf, const struct text *t)
{
	uint8_t *copy = malloc(t->len ? t->len : 1);
	int ret;
	assert_non_null(copy);
	memcpy(copy, t->buf, t->len);
	ret = vms_leakfile_parse(lf, copy, t->len, "test leaks file");
	free(copy);
	return ret;
}

static void valid(void **state)
{
	struct vms_leakfile lf;
	struct text t;
	(void)state;

	make(&t, 5, 5, true);
	assert_int_equal(parse(&lf, &t), 0);
	assert_true(lf.present);
	assert_false(lf.interrupted);
	assert_int_equal(lf.seq, 42);
	assert_int_equal(lf.nr, 5);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x1000), VMS_LEAK_DEFINITE);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x2000), VMS_LEAK_INDIRECT);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x3000), VMS_LEAK_POSSIBLE);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x4000), VMS_LEAK_REACHABLE);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x5000), VMS_LEAK_DEFINITE);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x1001), VMS_LEAK_NONE);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x6000), VMS_LEAK_NONE);
	vms_leakfile_release(&lf);

	/* No blocks at all. */
	make(&t, 0, 0, true);
	assert_int_equal(parse(&lf, &t), 0);
	assert_true(lf.present);
	assert_int_equal(lf.nr, 0);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x1000), VMS_LEAK_NONE);
	vms_leakfile_release(&lf);
}

static void unsorted_and_unknown_keys(void **state)
{
	struct vms_leakfile lf;
	struct text t = { .len = 0 };
	(void)state;

	/* An unknown header key is skipped; unsorted entries are sorted. */
	adds(&t, "vmspy-leaks 1\nblocks 3\nlater_field x y\nseq 7\ndata\n");
	add_entry(&t, 0x3000, VMS_LEAK_REACHABLE);
	add_entry(&t, 0x1000, VMS_LEAK_DEFINITE);
	add_entry(&t, 0x2000, VMS_LEAK_POSSIBLE);
	adds(&t, "end\n");
	assert_int_equal(parse(&lf, &t), 0);
	assert_int_equal(lf.seq, 7);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x1000), VMS_LEAK_DEFINITE);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x2000), VMS_LEAK_POSSIBLE);
	assert_int_equal(vms_leakfile_lookup(&lf, 0x3000), VMS_LEAK_REACHABLE);
	vms_leakfile_release(&lf);
}

static void truncated(void **state)
{
	struct vms_leakfile lf;
	struct text t, full;
	(void)state;

	/* Every proper prefix of a valid file: interrupted (ignored), or --
	 * when the cut leaves "end\n" at the end by chance -- rejected; never
	 * present. */
	make(&full, 5, 5, true);
	for (size_t len = 0; len < full.len; len++) {
		int ret;
		t = full;
		t.len = len;
		ret = parse(&lf, &t);
		assert_false(lf.present);
		if (!ret)
			assert_true(lf.interrupted);
		vms_leakfile_release(&lf);
	}
	/* No "end" line: interrupted, not an error. */
	make(&t, 5, 5, false);
	assert_int_equal(parse(&lf, &t), 0);
	assert_true(lf.interrupted);
	assert_false(lf.present);
	assert_int_equal(lf.nr, 0);
	vms_leakfile_release(&lf);
}

static void count_mismatch(void **state)
{
	struct vms_leakfile lf;
	struct text t;
	(void)state;

	make(&t, 6, 5, true);  /* declares more than it holds */
	assert_int_equal(parse(&lf, &t), -1);
	assert_false(lf.present);
	make(&t, 4, 5, true);  /* declares fewer */
	assert_int_equal(parse(&lf, &t), -1);
	make(&t, 5, 5, true);  /* a partial entry before "end" */
	t.len -= 4;
	t.buf[t.len++] = 0;
	adds(&t, "end\n");
	assert_int_equal(parse(&lf, &t), -1);
}

static void garbage_header(void **state)
{
	static const char *const bad[] = {
		"vmspy-leaks 2\nseq 1\nblocks 0\ndata\nend\n",  /* version */
		"vmspy-leaks x\nseq 1\nblocks 0\ndata\nend\n",
		"vmspy-leakz 1\nseq 1\nblocks 0\ndata\nend\n",  /* magic */
		"ELF\x7f garbage end\n",
		"vmspy-leaks 1\nseq -1\nblocks 0\ndata\nend\n", /* sign */
		"vmspy-leaks 1\nseq 0x10\nblocks 0\ndata\nend\n", /* hex */
		"vmspy-leaks 1\nseq 1\nseq 2\nblocks 0\ndata\nend\n",
		"vmspy-leaks 1\nblocks 0\ndata\nend\n",          /* no seq */
		"vmspy-leaks 1\nseq 1\ndata\nend\n",             /* no blocks */
		"vmspy-leaks 1\nseq 1\nblocks 0\nend\n",         /* no data */
		"vmspy-leaks 1\nseq 1\nblocks\ndata\nend\n",
		"vmspy-leaks 1\nseq 99999999999999999999\nblocks 0\ndata\nend\n",
		"vmspy-leaks 1\nend\n",
		"vmspy-leaks end\n",
	};
	struct vms_leakfile lf;
	struct text t;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t.len = 0;
		adds(&t, bad[i]);
		if (parse(&lf, &t) != -1)
			fail_msg("accepted case %zu: %s", i, bad[i]);
		assert_false(lf.present);
	}
	/* A valid header with a NUL byte in it. */
	make(&t, 0, 0, true);
	t.buf[3] = 0;
	assert_int_equal(parse(&lf, &t), -1);
	/* Bad entries: category out of range, address 0, a duplicate. */
	make(&t, 2, 2, true);
	t.buf[t.len - 4 - 1] = 9;
	assert_int_equal(parse(&lf, &t), -1);
	make(&t, 2, 2, true);
	t.buf[t.len - 4 - 1] = VMS_LEAK_NONE;
	assert_int_equal(parse(&lf, &t), -1);
	make(&t, 0, 0, false);
	add_entry(&t, 0, VMS_LEAK_DEFINITE);
	adds(&t, "end\n");
	memcpy(strstr((char *)t.buf, "blocks 0"), "blocks 1", 8);
	assert_int_equal(parse(&lf, &t), -1);
	t.len = 0;
	adds(&t, "vmspy-leaks 1\nseq 1\nblocks 2\ndata\n");
	add_entry(&t, 0x1000, VMS_LEAK_DEFINITE);
	add_entry(&t, 0x1000, VMS_LEAK_REACHABLE);
	adds(&t, "end\n");
	assert_int_equal(parse(&lf, &t), -1);
}

static void oversized_count(void **state)
{
	static const char *const counts[] = {
		"18446744073709551615", /* UINT64_MAX: count * 9 overflows */
		"2049638230412172401",  /* (2^64 + small) / 9 */
		"1099511627777",        /* just over the sanity bound */
		"1000000",              /* plausible, but not in the file */
	};
	struct vms_leakfile lf;
	struct text t;
	(void)state;

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		t.len = 0;
		adds(&t, "vmspy-leaks 1\nseq 1\nblocks ");
		adds(&t, counts[i]);
		adds(&t, "\ndata\n");
		add_entry(&t, 0x1000, VMS_LEAK_DEFINITE);
		adds(&t, "end\n");
		assert_int_equal(parse(&lf, &t), -1);
		assert_false(lf.present);
		assert_null(lf.entries);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid),
		cmocka_unit_test(unsorted_and_unknown_keys),
		cmocka_unit_test(truncated),
		cmocka_unit_test(count_mismatch),
		cmocka_unit_test(garbage_header),
		cmocka_unit_test(oversized_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
