/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for compressed snapshot files (format.h, "Compressed
 * snapshots"): written here the way the recorder writes them (a skippable
 * info frame, then one zstd frame, compressed against the text of an
 * earlier snapshot), read back through vms_recording_snapshot: chains in
 * any order of access, plain and compressed files mixed, and every kind of
 * damage gives NULL (or an interrupted snapshot for a frame cut short),
 * never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zstd.h>

#include "synth.h"

#include "recording.h"
#include "snapshot.h"

#define PID 4321
#define NREG 1200 /* regions: a text of ~250 KB, more than one zstd block */

/* A snapshot text: header with label, then n smaps regions whose Rss
 * depends on salt (so that texts differ a little). */
static char *snap_text(const char *label, unsigned salt, unsigned n,
		       size_t *len)
{
	size_t cap = 512 + (size_t)n * 400, at = 0;
	char *t = malloc(cap);
	assert_non_null(t);
	at += (size_t)snprintf(t + at, cap - at,
			       "vmspy-snapshot 1\nseq %u\ntime_ns %u\n"
			       "reason user\nlabel %s\nsmaps\n",
			       10 + salt, 1000 + salt, label);
	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(
			t + at, cap - at,
			"%llx-%llx rw-p 00000000 00:00 0 \n"
			"Size:                  8 kB\n"
			"Rss:                   %u kB\n"
			"Pss:                   4 kB\n"
			"Private_Dirty:         4 kB\n"
			"VmFlags: rd wr mr mw me ac sd \n",
			0x10000000ull + i * 0x10000ull,
			0x10002000ull + i * 0x10000ull,
			(i * 7 + (i % 50 ? 0 : salt)) % 9);
	*len = at;
	return t;
}

/* The file bytes of text compressed against ref (ref_index < 0: none). */
static char *z_file(const char *text, size_t len, const char *ref,
		    size_t ref_len, long ref_index, size_t *out_len)
{
	char info[64];
	int ilen = ref_index < 0
			   ? snprintf(info, sizeof(info),
				      "vmspy-snapshot-z 1\nref -\n")
			   : snprintf(info, sizeof(info),
				      "vmspy-snapshot-z 1\nref %ld\n",
				      ref_index);
	size_t bound = ZSTD_compressBound(len);
	char *out = malloc(8 + (size_t)ilen + bound);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	uint32_t v = VMS_SNAPZ_SKIPPABLE;
	size_t n;

	assert_non_null(out);
	assert_non_null(c);
	memcpy(out, &v, 4);
	v = (uint32_t)ilen;
	memcpy(out + 4, &v, 4);
	memcpy(out + 8, info, (size_t)ilen);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(
		c, ZSTD_c_checksumFlag, 1)));
	if (ref)
		assert_false(ZSTD_isError(ZSTD_CCtx_refPrefix(c, ref, ref_len)));
	n = ZSTD_compress2(c, out + 8 + ilen, bound, text, len);
	assert_false(ZSTD_isError(n));
	ZSTD_freeCCtx(c);
	*out_len = 8 + (size_t)ilen + n;
	return out;
}

struct chain {
	char *dir;
	char *text[5];
	size_t len[5];
	char *file[5];
	size_t file_len[5];
};

/* snap.0 plain; snap.1 compressed alone; snap.2 against 1; snap.3 against
 * 2; snap.4 against 0 (a plain reference). */
static void make_chain(struct chain *c)
{
	static const long ref[5] = { -2, -1, 1, 2, 0 };
	char name[16];

	memset(c, 0, sizeof(*c));
	c->dir = synth_tmpdir();
	assert_int_equal(synth_meta(c->dir, PID), 0);
	for (int i = 0; i < 5; i++) {
		char label[16];
		snprintf(label, sizeof(label), "s%d", i);
		c->text[i] = snap_text(label, (unsigned)i, NREG, &c->len[i]);
		snprintf(name, sizeof(name), "snap.%d", i);
		if (ref[i] == -2) {
			c->file[i] = malloc(c->len[i]);
			memcpy(c->file[i], c->text[i], c->len[i]);
			c->file_len[i] = c->len[i];
		} else {
			long r = ref[i];
			c->file[i] = z_file(c->text[i], c->len[i],
					    r >= 0 ? c->text[r] : NULL,
					    r >= 0 ? c->len[r] : 0, r,
					    &c->file_len[i]);
		}
		assert_int_equal(synth_write_file(c->dir, name, c->file[i],
						  c->file_len[i]),
				 0);
	}
}

static void free_chain(struct chain *c)
{
	for (int i = 0; i < 5; i++) {
		free(c->text[i]);
		free(c->file[i]);
	}
	synth_rmdir(c->dir);
}

static void check_snap(const struct vms_snapshot *s, int i)
{
	char label[16];
	snprintf(label, sizeof(label), "s%d", i);
	assert_non_null(s);
	assert_string_equal(s->label, label);
	assert_int_equal(s->seq, 10 + i);
	assert_true(s->has_smaps);
	assert_false(s->interrupted);
	assert_int_equal(s->nr_regions, NREG);
	assert_int_equal(s->regions[NREG - 1].start,
			 0x10000000ull + (NREG - 1) * 0x10000ull);
	assert_int_equal(s->regions[50].rss, (uint64_t)((350 + i) % 9) * 1024);
}

/* Every snapshot reads back exactly, whatever the order of access, and the
 * compressed ones against a reference are much smaller. */
static void chain_round_trip(void **state)
{
	static const int orders[3][5] = {
		{ 0, 1, 2, 3, 4 }, { 3, 4, 2, 0, 1 }, { 4, 3, 1, 2, 0 }
	};
	struct chain c;
	(void)state;

	make_chain(&c);
	assert_true(c.file_len[2] * 20 < c.len[2]);
	assert_true(c.file_len[3] * 20 < c.len[3]);
	for (int o = 0; o < 3; o++) {
		struct vms_recording rec;
		assert_int_equal(vms_recording_open(&rec, c.dir), 0);
		assert_int_equal(rec.nr_snaps, 5);
		for (int k = 0; k < 5; k++) {
			int i = orders[o][k];
			/* header only first, then the whole of it */
			const struct vms_snapshot *h =
				vms_recording_snapshot(&rec, (size_t)i, false);
			assert_non_null(h);
			assert_int_equal(h->seq, 10 + i);
			check_snap(vms_recording_snapshot(&rec, (size_t)i, true),
				   i);
		}
		vms_recording_release(&rec);
	}
	free_chain(&c);
}

static void rewrite(struct chain *c, int i, const void *data, size_t len)
{
	char name[16];
	snprintf(name, sizeof(name), "snap.%d", i);
	assert_int_equal(synth_write_file(c->dir, name, data, len), 0);
}

/* A frame cut short after its first block: an interrupted snapshot with
 * the regions of that block; cut inside the first block: NULL; and the one
 * compressed against a cut one is NULL too.  The others still read. */
static void cut_frames(void **state)
{
	struct chain c;
	struct vms_recording rec;
	const struct vms_snapshot *s;
	(void)state;

	make_chain(&c);
	/* snap.1 has no reference: its first block (128 KiB of text)
	 * compresses to well under half the frame */
	rewrite(&c, 1, c.file[1], c.file_len[1] - c.file_len[1] / 4);
	assert_int_equal(vms_recording_open(&rec, c.dir), 0);
	s = vms_recording_snapshot(&rec, 1, true);
	assert_non_null(s);
	assert_true(s->interrupted);
	assert_true(s->nr_regions > 100 && s->nr_regions < NREG);
	assert_null(vms_recording_snapshot(&rec, 2, true));
	assert_null(vms_recording_snapshot(&rec, 3, false));
	check_snap(vms_recording_snapshot(&rec, 4, true), 4);
	check_snap(vms_recording_snapshot(&rec, 0, true), 0);
	vms_recording_release(&rec);

	/* cut in the first block, even in the info frame */
	for (size_t cut = 3; cut < 200; cut += 37) {
		rewrite(&c, 1, c.file[1], cut);
		assert_int_equal(vms_recording_open(&rec, c.dir), 0);
		assert_null(vms_recording_snapshot(&rec, 1, false));
		assert_null(vms_recording_snapshot(&rec, 3, true));
		check_snap(vms_recording_snapshot(&rec, 4, true), 4);
		vms_recording_release(&rec);
	}
	free_chain(&c);
}

/* Damage anywhere in a compressed file: NULL, never a crash; bad info
 * frames and references are refused. */
static void damaged_files(void **state)
{
	struct chain c;
	struct vms_recording rec;
	char *bad;
	(void)state;

	make_chain(&c);
	bad = malloc(c.file_len[2] + 16);
	for (size_t at = 0; at < c.file_len[2]; at += 1 + at / 4) {
		memcpy(bad, c.file[2], c.file_len[2]);
		bad[at] ^= 0x5a;
		rewrite(&c, 2, bad, c.file_len[2]);
		assert_int_equal(vms_recording_open(&rec, c.dir), 0);
		/* header bytes that do not matter may be hit: then it reads */
		const struct vms_snapshot *s =
			vms_recording_snapshot(&rec, 2, true);
		if (s)
			assert_int_equal(s->seq, 12);
		(void)vms_recording_snapshot(&rec, 3, true);
		check_snap(vms_recording_snapshot(&rec, 1, true), 1);
		vms_recording_release(&rec);
	}
	/* bytes after the frame */
	memcpy(bad, c.file[2], c.file_len[2]);
	memcpy(bad + c.file_len[2], "trailing", 8);
	rewrite(&c, 2, bad, c.file_len[2] + 8);
	assert_int_equal(vms_recording_open(&rec, c.dir), 0);
	assert_null(vms_recording_snapshot(&rec, 2, true));
	vms_recording_release(&rec);
	free(bad);

	/* references that cannot be: itself, a later one, a missing one, and
	 * info frames without a ref line or with a bad one */
	static const char *const infos[] = {
		"vmspy-snapshot-z 1\nref 2\n", "vmspy-snapshot-z 1\nref 3\n",
		"vmspy-snapshot-z 1\nref 77\n", "vmspy-snapshot-z 1\n",
		"vmspy-snapshot-z 1\nref x\n", "vmspy-snapshot-z 2\nref -\n",
		"vmspy-snapshot-z 1\nref 1", "",
	};
	for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++) {
		size_t il = strlen(infos[i]);
		uint32_t v = VMS_SNAPZ_SKIPPABLE;
		char *f = malloc(8 + il + 64);
		memcpy(f, &v, 4);
		v = (uint32_t)il;
		memcpy(f + 4, &v, 4);
		memcpy(f + 8, infos[i], il);
		memcpy(f + 8 + il, "\x28\xb5\x2f\xfd", 4);
		rewrite(&c, 2, f, 8 + il + 4);
		assert_int_equal(vms_recording_open(&rec, c.dir), 0);
		assert_null(vms_recording_snapshot(&rec, 2, false));
		vms_recording_release(&rec);
		free(f);
	}
	/* an info length past the end of the file */
	{
		char f[12] = { 0x5b, 0x2a, 0x4d, 0x18, 0x7f, 0, 0, 0 };
		rewrite(&c, 2, f, sizeof(f));
		assert_int_equal(vms_recording_open(&rec, c.dir), 0);
		assert_null(vms_recording_snapshot(&rec, 2, false));
		vms_recording_release(&rec);
	}
	free_chain(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chain_round_trip),
		cmocka_unit_test(cut_frames),
		cmocka_unit_test(damaged_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
