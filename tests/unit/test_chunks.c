// SPDX-License-Identifier: MIT
/*
 * Compressed chunks (format.h "Compressed chunks"; analyzer/chunks.c): the
 * frame header check, and a hand-made log whose chunks are moved into a
 * sidecar read back exactly -- then the same with the sidecar damaged in
 * every way a reader must survive: a flipped payload byte, a lying length,
 * a duplicate frame, garbage between frames, a frame cut short, raw bytes
 * that disagree with their frame, frames of the wrong size or lane.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <zstd.h>

#include "recording.h"
#include "replay.h"
#include "synth.h"

#define PID 4242
#define CS 8192u    /* chunk size of the hand-made logs */
#define NCHUNKS 6   /* chunks 0..4 sealed, 5 the last one */

/* ---- the frame header check ---------------------------------------------- */

static struct vms_zframe good_header(void)
{
	struct vms_zframe f;
	memset(&f, 0, sizeof(f));
	memcpy(f.magic, VMS_ZFRAME_MAGIC, 4);
	f.lane = 2;
	f.chunk = 3;
	f.raw_len = CS;
	f.comp_len = 100;
	f.check = vms_zframe_sum(&f, offsetof(struct vms_zframe, check));
	return f;
}

static void resum(struct vms_zframe *f)
{
	f->check = vms_zframe_sum(f, offsetof(struct vms_zframe, check));
}

static void frame_check(void **state)
{
	struct vms_zframe f = good_header();
	int inc;
	(void)state;

	assert_null(vms_zframe_check(&f, 2, CS, 10 * CS, 100, &inc));
	assert_false(inc);
	/* cut short: sound header, payload past the end */
	assert_non_null(vms_zframe_check(&f, 2, CS, 10 * CS, 99, &inc));
	assert_true(inc);
	f.magic[0] = 'X';
	assert_non_null(vms_zframe_check(&f, 2, CS, 10 * CS, 100, &inc));
	assert_false(inc);
	f = good_header();
	f.comp_len = 1u << 30; /* a lying length without a new checksum */
	assert_non_null(vms_zframe_check(&f, 2, CS, 10 * CS, 1u << 31, &inc));
	f = good_header();
	assert_non_null(vms_zframe_check(&f, 1, CS, 10 * CS, 100, &inc));
	assert_non_null(vms_zframe_check(&f, 2, CS / 2, 10 * CS, 100, &inc));
	assert_non_null(vms_zframe_check(&f, 2, 0, 10 * CS, 100, &inc));
	/* chunk 3 needs a log of at least 4 chunks */
	assert_non_null(vms_zframe_check(&f, 2, CS, 4 * CS - 1, 100, &inc));
	assert_null(vms_zframe_check(&f, 2, CS, 4 * CS, 100, &inc));
	f.comp_len = 0;
	resum(&f);
	assert_non_null(vms_zframe_check(&f, 2, CS, 10 * CS, 100, &inc));
}

/* ---- a log in chunks ------------------------------------------------------ */

struct built {
	uint8_t *log;            /* NCHUNKS * CS bytes, as the recorder left it */
	size_t log_len;
	uint8_t *side;           /* log.0.z */
	size_t side_len;
	size_t frame_at[NCHUNKS];
	size_t frame_len[NCHUNKS];
	uint64_t events;
};

/* Fills NCHUNKS chunks of lane 0 with ALLOC/FREE pairs, SKIP at chunk
 * tails, then moves chunks 0..NCHUNKS-2 into frames (punching all but the
 * header page). */
static void build(struct built *b)
{
	struct synth_log l;
	uint64_t seq = 1;

	memset(b, 0, sizeof(*b));
	synth_log_init(&l, 0, PID);
	((struct vms_log_header *)(void *)l.buf)->chunk_size = CS;
	for (;;) {
		size_t in = l.len % CS;
		if (in + 64 > CS) {
			if (l.len / CS == NCHUNKS - 1)
				break; /* the last chunk stays part full */
			/* A SKIP of exactly the rest: header byte, a
			 * one-byte length (the rest is < 64), body. */
			memset(l.body, 0xee, CS - in - 2);
			l.body_len = CS - in - 2;
			synth_end_full(&l, VMS_REC_SKIP, 1);
			continue;
		}
		if (l.len / CS == NCHUNKS - 1 && in > CS / 2)
			break;
		uint64_t addr = 0x100000 + 64 * (seq % 97);
		synth_alloc(&l, seq, VMS_API_MALLOC, 0, addr, 16 + seq % 100,
			    0, 0);
		synth_free(&l, seq + 1, VMS_API_FREE, addr);
		seq += 2;
		b->events += 2;
	}
	b->log_len = NCHUNKS * CS;
	b->log = calloc(1, b->log_len);
	memcpy(b->log, l.buf, l.len);
	synth_log_release(&l);

	size_t cap = ZSTD_compressBound(CS);
	b->side = malloc((NCHUNKS - 1) * (32 + cap));
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	for (unsigned k = 0; k + 1 < NCHUNKS; k++) {
		struct vms_zframe f = good_header();
		size_t n = ZSTD_compress2(c, b->side + b->side_len + 32, cap,
					  b->log + k * CS, CS);
		assert_false(ZSTD_isError(n));
		f.lane = 0;
		f.chunk = k;
		f.comp_len = (uint32_t)n;
		resum(&f);
		memcpy(b->side + b->side_len, &f, sizeof(f));
		b->frame_at[k] = b->side_len;
		b->frame_len[k] = 32 + n;
		b->side_len += 32 + n;
		size_t keep = k ? 0 : 4096;
		memset(b->log + k * CS + keep, 0, CS - keep);
	}
	ZSTD_freeCCtx(c);
}

static void built_release(struct built *b)
{
	free(b->log);
	free(b->side);
}

struct result {
	uint64_t events;
	size_t damage;
	char msg[512];
};

static int count(const struct vms_event *ev, void *ctx)
{
	(void)ev;
	((struct result *)ctx)->events++;
	return 0;
}

static struct result read_back(const uint8_t *log, size_t log_len,
			       const uint8_t *side, size_t side_len)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct result r;
	char *dir = synth_tmpdir();

	memset(&r, 0, sizeof(r));
	assert_int_equal(synth_meta(dir, PID), 0);
	assert_int_equal(synth_write_file(dir, "log.0", log, log_len), 0);
	if (side)
		assert_int_equal(synth_write_file(dir, "log.0.z", side,
						  side_len), 0);
	assert_int_equal(vms_recording_open(&rec, dir), 0);
	vms_replay_init(&rp, &rec);
	assert_int_equal(vms_replay_run(&rp, count, &r), 0);
	r.damage = rp.nr_damage;
	if (rp.nr_damage)
		snprintf(r.msg, sizeof(r.msg), "%s", rp.damage[0].message);
	vms_replay_release(&rp);
	vms_recording_release(&rec);
	synth_rmdir(dir);
	return r;
}

static void read_whole(void **state)
{
	struct built b;
	(void)state;
	build(&b);
	struct result r = read_back(b.log, b.log_len, b.side, b.side_len);
	assert_int_equal(r.damage, 0);
	assert_int_equal(r.events, b.events);
	built_release(&b);
}

/* Without the sidecar the punched chunks are lost: a damage note, no
 * silent short read. */
static void sidecar_missing(void **state)
{
	struct built b;
	(void)state;
	build(&b);
	struct result r = read_back(b.log, b.log_len, NULL, 0);
	assert_int_equal(r.damage, 1);
	assert_non_null(strstr(r.msg, "was lost"));
	assert_true(r.events < b.events);
	built_release(&b);
}

static void flipped_payload(void **state)
{
	struct built b;
	(void)state;
	build(&b);
	b.side[b.frame_at[2] + 32 + (b.frame_len[2] - 32) / 2] ^= 0x5a;
	struct result r = read_back(b.log, b.log_len, b.side, b.side_len);
	assert_int_equal(r.damage, 1);
	assert_non_null(strstr(r.msg, "chunk 2 was lost"));
	built_release(&b);
}

/* A length that lies (checksum fixed up): the next header is found by
 * its magic and checksum; only chunk 1 is lost. */
static void lying_length(void **state)
{
	struct built b;
	struct vms_zframe f;
	(void)state;
	build(&b);
	memcpy(&f, b.side + b.frame_at[1], sizeof(f));
	f.comp_len = 0x7fffffff;
	resum(&f);
	memcpy(b.side + b.frame_at[1], &f, sizeof(f));
	struct result r = read_back(b.log, b.log_len, b.side, b.side_len);
	assert_int_equal(r.damage, 1);
	assert_non_null(strstr(r.msg, "chunk 1 was lost"));
	built_release(&b);
}

/* Garbage between frames and a duplicate frame at the end: nothing lost. */
static void garbage_and_duplicate(void **state)
{
	struct built b;
	(void)state;
	build(&b);
	size_t at = b.frame_at[3];
	uint8_t *s = malloc(b.side_len + 1000 + b.frame_len[0]);
	memcpy(s, b.side, at);
	for (int i = 0; i < 1000; i++)
		s[at + i] = (uint8_t)(i * 7 + (i % 5 ? 0 : 'V'));
	memcpy(s + at + 1000, b.side + at, b.side_len - at);
	memcpy(s + b.side_len + 1000, b.side + b.frame_at[0], b.frame_len[0]);
	struct result r = read_back(b.log, b.log_len, s,
				    b.side_len + 1000 + b.frame_len[0]);
	assert_int_equal(r.damage, 0);
	assert_int_equal(r.events, b.events);
	free(s);
	built_release(&b);
}

/* The recorder died after writing frame 4 but before punching chunk 4 --
 * and a later frame cut short: both normal. */
static void crash_windows(void **state)
{
	struct built b;
	(void)state;
	build(&b);
	/* raw copy of chunk 4 back in place, its frame kept */
	uint8_t *orig = malloc(CS);
	{
		/* decompress frame 4 to get the chunk's bytes */
		size_t n = ZSTD_decompress(orig, CS, b.side + b.frame_at[4] + 32,
					   b.frame_len[4] - 32);
		assert_int_equal(n, CS);
	}
	memcpy(b.log + 4 * CS, orig, CS);
	struct result r = read_back(b.log, b.log_len, b.side,
				    b.side_len - b.frame_len[4] / 2);
	assert_int_equal(r.damage, 0);
	assert_int_equal(r.events, b.events);
	/* raw bytes that disagree with the frame: damage, named */
	b.log[4 * CS + 200] ^= 1;
	r = read_back(b.log, b.log_len, b.side, b.side_len);
	assert_int_equal(r.damage, 1);
	assert_non_null(strstr(r.msg, "chunk 4 differs from its frame"));
	free(orig);
	built_release(&b);
}

/* Frames of another size or another lane are not used. */
static void wrong_frames(void **state)
{
	struct built b;
	struct vms_zframe f;
	(void)state;
	build(&b);
	memcpy(&f, b.side + b.frame_at[2], sizeof(f));
	f.lane = 7;
	resum(&f);
	memcpy(b.side + b.frame_at[2], &f, sizeof(f));
	memcpy(&f, b.side + b.frame_at[3], sizeof(f));
	f.raw_len = CS * 2;
	resum(&f);
	memcpy(b.side + b.frame_at[3], &f, sizeof(f));
	struct result r = read_back(b.log, b.log_len, b.side, b.side_len);
	assert_int_equal(r.damage, 1);
	assert_non_null(strstr(r.msg, "chunk 2 was lost"));
	built_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frame_check),
		cmocka_unit_test(read_whole),
		cmocka_unit_test(sidecar_missing),
		cmocka_unit_test(flipped_payload),
		cmocka_unit_test(lying_length),
		cmocka_unit_test(garbage_and_duplicate),
		cmocka_unit_test(crash_windows),
		cmocka_unit_test(wrong_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
