/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the recording reader, log decoder, replay merge and live
 * state, on small recordings written by synth.h into temporary directories:
 * good input decodes exactly, and every kind of damage gives the right
 * message at the right offset while keeping what came before it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "synth.h"

#include "logreader.h"
#include "recording.h"
#include "replay.h"
#include "state.h"

#define PID 4321
#define MAX_EVENTS 256

struct collected {
	struct vms_event ev[MAX_EVENTS];
	size_t n;
	struct vms_state st;
};

static int collect(const struct vms_event *ev, void *ctx)
{
	struct collected *c = ctx;
	if (c->n < MAX_EVENTS)
		c->ev[c->n++] = *ev;
	vms_state_apply(&c->st, ev);
	return 0;
}

/* Open dir, replay everything into *c; the caller releases with done(). */
static void replay_dir(const char *dir, struct vms_recording *rec,
		       struct vms_replay *rp, struct collected *c)
{
	assert_int_equal(vms_recording_open(rec, dir), 0);
	vms_replay_init(rp, rec);
	memset(c, 0, sizeof(*c));
	vms_state_init(&c->st, rec->meta.page_size, rec->meta.pid);
	assert_int_equal(vms_replay_run(rp, collect, c), 0);
}

static void done(struct vms_recording *rec, struct vms_replay *rp,
		 struct collected *c, char *dir)
{
	vms_state_release(&c->st);
	vms_replay_release(rp);
	vms_recording_release(rec);
	synth_rmdir(dir);
}

static struct collected c; /* large: keep it off the stack */

/* ---- meta and files ---- */

static void meta_parsed(void **state)
{
	struct vms_recording rec;
	char *dir = synth_tmpdir();
	(void)state;

	assert_int_equal(synth_text(dir, "meta",
		"vmspy-recording 2\n"
		"pid 77\nexe /bin/a\\nb\\\\c\nargc 3\nargv 0 a\n"
		"argv 2 x\\ty\nfuture_key whatever\npage_size 16384\n"
		"start_monotonic_ns 5\nargv_redacted 1\n"), 0);
	assert_int_equal(vms_recording_open(&rec, dir), 0);
	assert_int_equal(rec.meta.pid, 77);
	assert_string_equal(rec.meta.exe, "/bin/a\nb\\c");
	assert_int_equal(rec.meta.argc, 3);
	assert_string_equal(rec.meta.argv[0], "a");
	assert_null(rec.meta.argv[1]);
	assert_string_equal(rec.meta.argv[2], "x\ty");
	assert_int_equal(rec.meta.page_size, 16384);
	assert_int_equal(rec.meta.start_monotonic_ns, 5);
	assert_true(rec.meta.argv_redacted);
	assert_int_equal(rec.nr_logs, 0);
	vms_recording_release(&rec);
	synth_rmdir(dir);
}

static void meta_rejected(void **state)
{
	static const char *const bad[] = {
		"", "not a recording\n", "vmspy-recording 1\npid 1\n",
		"vmspy-recording 2\npid x1\n",
		"vmspy-recording 2\nexe bad\\qescape\n",
		"vmspy-recording 2\nargv 99999999999 x\n",
		"vmspy-recording 2\npage_size 1000\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vms_recording rec;
		char *dir = synth_tmpdir();
		assert_int_equal(synth_text(dir, "meta", bad[i]), 0);
		assert_int_equal(vms_recording_open(&rec, dir), -1);
		synth_rmdir(dir);
	}
	{
		struct vms_recording rec;
		char *dir = synth_tmpdir();
		assert_int_equal(vms_recording_open(&rec, dir), -1); /* none */
		assert_int_equal(vms_recording_open(&rec, "/etc/passwd"), -1);
		synth_rmdir(dir);
	}
}

static void files_found_and_sorted(void **state)
{
	struct vms_recording rec;
	struct synth_log l;
	char *dir = synth_tmpdir();
	(void)state;

	assert_int_equal(synth_meta(dir, PID), 0);
	for (uint32_t lane = 0; lane < 12; lane += 5) {
		synth_log_init(&l, lane, PID);
		assert_int_equal(synth_log_save(&l, dir), 0);
		synth_log_release(&l);
	}
	assert_int_equal(synth_text(dir, "log.01", "junk"), 0);
	assert_int_equal(synth_text(dir, "log.x", "junk"), 0);
	assert_int_equal(synth_text(dir, "snap.10", "vmspy-snapshot 1\n"), 0);
	assert_int_equal(synth_text(dir, "snap.2", "vmspy-snapshot 1\n"), 0);
	assert_int_equal(vms_recording_open(&rec, dir), 0);
	assert_int_equal(rec.nr_logs, 3);
	assert_int_equal(rec.logs[0].lane, 0);
	assert_int_equal(rec.logs[1].lane, 5);
	assert_int_equal(rec.logs[2].lane, 10);
	assert_string_equal(rec.logs[2].name, "log.10");
	assert_null(rec.logs[1].error);
	assert_int_equal(rec.nr_snaps, 2);
	assert_int_equal(rec.snaps[0].index, 2);
	assert_int_equal(rec.snaps[1].index, 10);
	vms_recording_release(&rec);
	synth_rmdir(dir);
}

/* ---- decoding ---- */

static void decode_delta_state(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_alloc(&l, 5, VMS_API_MALLOC, 0, 0x7f0000001000, 100, 0, 0);
	synth_alloc(&l, 9, VMS_API_CALLOC, 0, 0x5500000010, 32, 0, 0);
	synth_alloc(&l, 9, VMS_API_POSIX_MEMALIGN, 0, 0xffffffffffffff00ull,
		    64, 64, 0);
	synth_free(&l, 1000000, VMS_API_FREE, 0x5500000010);
	synth_mmap(&l, 1000001, VMS_API_MMAP, 0, 0x7f1234560000, 8192,
		   PROT_READ, MAP_PRIVATE, 3, 4096, "/lib/x.so", 0, 0);
	synth_log_save(&l, dir);
	synth_log_release(&l);

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(rp.nr_damage, 0);
	assert_int_equal(c.n, 5);
	assert_int_equal(c.ev[0].type, VMS_REC_ALLOC);
	assert_int_equal(c.ev[0].seq, 5);
	assert_true(c.ev[0].addr == 0x7f0000001000);
	assert_int_equal(c.ev[0].size, 100);
	assert_int_equal(c.ev[0].tid, PID);
	assert_int_equal(c.ev[0].offset, VMS_LOG_HEADER_SIZE);
	assert_int_equal(c.ev[1].api, VMS_API_CALLOC);
	assert_true(c.ev[1].addr == 0x5500000010);
	assert_int_equal(c.ev[1].seq, 9);
	assert_true(c.ev[2].addr == 0xffffffffffffff00ull);
	assert_int_equal(c.ev[2].align, 64);
	assert_int_equal(c.ev[3].type, VMS_REC_FREE);
	assert_true(c.ev[3].addr == 0x5500000010);
	assert_int_equal(c.ev[3].seq, 1000000);
	/* mmap addresses are absolute */
	assert_true(c.ev[4].addr == 0x7f1234560000);
	assert_int_equal(c.ev[4].fd, 3);
	assert_int_equal(c.ev[4].file_offset, 4096);
	assert_int_equal(c.ev[4].str_len, 9);
	assert_memory_equal(c.ev[4].str, "/lib/x.so", 9);
	assert_int_equal(c.ev[4].dev, 0x801);
	assert_int_equal(c.ev[4].ino, 4242);
	assert_int_equal(c.st.heap_bytes, 164);
	assert_int_equal(c.st.calls[VMS_API_MALLOC], 1);
	assert_int_equal(c.st.calls[VMS_API_FREE], 1);
	assert_int_equal(c.st.mmap_bytes, 8192);
	done(&rec, &rp, &c, dir);
}

static void decode_stacks_time_skip(void **state)
{
	static const uint64_t f1[] = { 0x401000, 0x400800, 0x7fff00001234 };
	static const uint64_t f2[] = { 0x401004 };
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l, l1;
	const uint64_t *fr;
	size_t n;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 1, 0, 0);
	synth_time(&l, 1500000000);
	synth_stack(&l, 1, f1, 3);
	synth_skip(&l, 13);
	synth_stack(&l, 2, f2, 1);
	synth_alloc(&l, 2, VMS_API_MALLOC, 1, 0x2000, 2, 0, 0);
	synth_skip(&l, 0);
	synth_alloc(&l, 3, VMS_API_MALLOC, 2, 0x3000, 3, 0, 0);
	synth_time(&l, 2000000000);
	synth_alloc(&l, 4, VMS_API_MALLOC, 1, 0x4000, 4, 0, 0);
	synth_log_save(&l, dir);
	/* lane 1 defines the same frames under another id */
	synth_log_init(&l1, 1, PID);
	synth_thread_begin(&l1, 6, 999);
	synth_stack(&l1, 1, f2, 1);
	synth_alloc(&l1, 7, VMS_API_MALLOC, 1, 0x5000, 5, 0, 0);
	synth_log_save(&l1, dir);
	synth_log_release(&l);
	synth_log_release(&l1);

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(rp.nr_damage, 0);
	assert_int_equal(c.n, 6);
	assert_int_equal(c.ev[0].time_ns, 0);
	assert_int_equal(c.ev[0].gstack, 0);
	assert_int_equal(c.ev[1].time_ns, 1500000000);
	assert_int_equal(c.ev[1].stack, 1);
	fr = vms_stacks_get(&rp.stacks, c.ev[1].gstack, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(fr, f1, sizeof(f1));
	assert_int_equal(c.ev[2].stack, 2);
	fr = vms_stacks_get(&rp.stacks, c.ev[2].gstack, &n);
	assert_int_equal(n, 1);
	assert_true(fr[0] == f2[0]);
	assert_int_equal(c.ev[3].time_ns, 2000000000);
	assert_int_equal(c.ev[3].gstack, c.ev[1].gstack);
	/* lane 1: new thread, same frames -> same global id */
	assert_int_equal(c.ev[4].type, VMS_REC_THREAD_BEGIN);
	assert_int_equal(c.ev[4].tid, 999);
	assert_int_equal(c.ev[5].tid, 999);
	assert_int_equal(c.ev[5].lane, 1);
	assert_int_equal(c.ev[5].gstack, c.ev[2].gstack);
	assert_int_equal(vms_stacks_count(&rp.stacks), 2);
	assert_int_equal(vms_replay_lane_stack(&rp, 1, 1), c.ev[2].gstack);
	assert_int_equal(c.st.threads, 2);
	done(&rec, &rp, &c, dir);
}

/* Records after a zero header byte are never read. */
static void zero_header_ends_log(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	uint8_t zero = 0;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 1, 0, 0);
	synth_raw(&l, &zero, 1);
	synth_alloc(&l, 2, VMS_API_MALLOC, 0, 0x2000, 1, 0, 0);
	synth_log_save_tail(&l, dir, 0);
	synth_log_release(&l);
	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(rp.nr_damage, 0);
	assert_int_equal(c.n, 1);
	done(&rec, &rp, &c, dir);
}

/* A log that ends right after a complete record (no zero tail) is fine. */
static void end_of_file_ends_log(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 1, 0, 0);
	synth_exit(&l, 2, 0, 7);
	synth_log_save_tail(&l, dir, 0);
	synth_log_release(&l);
	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(rp.nr_damage, 0);
	assert_int_equal(c.n, 2);
	assert_true(c.st.exited);
	assert_int_equal(c.st.dropped, 7);
	done(&rec, &rp, &c, dir);
}

/* Build lane 0 = two good records then `bad`; check the damage message. */
static void check_damage(void (*add_bad)(struct synth_log *), size_t tail,
			 const char *expect)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	char *dir = synth_tmpdir();
	char msg[256];
	size_t bad_at;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 8, 0, 0);
	synth_free(&l, 2, VMS_API_FREE, 0x1000);
	bad_at = l.len;
	add_bad(&l);
	synth_log_save_tail(&l, dir, tail);
	synth_log_release(&l);

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(rp.nr_damage, 1);
	snprintf(msg, sizeof(msg),
		 "log 'log.0' corrupt at offset %zu: %s; read 2 events before it",
		 bad_at, expect);
	assert_string_equal(rp.damage[0].message, msg);
	done(&rec, &rp, &c, dir);
}

static void bad_truncated(struct synth_log *l)
{
	synth_alloc(l, 3, VMS_API_MALLOC, 0, 0x2000, 8, 0, 0);
	l->len -= 3; /* the process died mid-record, word already written */
}

static void bad_length(struct synth_log *l)
{
	static const uint8_t h[] = { VMS_REC_ALLOC, 0x9f, 0x8d, 0x06 };
	synth_raw(l, h, sizeof(h)); /* 99999 */
}

static void bad_length_varint(struct synth_log *l)
{
	/* The length varint is cut by the end of the file. */
	static const uint8_t h[] = { VMS_REC_MMAP, 0x9f, 0x8d };
	synth_raw(l, h, sizeof(h));
}

static void bad_type(struct synth_log *l)
{
	static const uint8_t h[] = { 77, 0 };
	synth_raw(l, h, sizeof(h));
}

static void bad_short_body(struct synth_log *l)
{
	synth_seq(l, 3);
	synth_u(l, VMS_API_MALLOC);
	synth_end(l, VMS_REC_ALLOC);
}

static void bad_undefined_stack(struct synth_log *l)
{
	synth_alloc(l, 3, VMS_API_MALLOC, 5, 0x2000, 8, 0, 0);
}

static void bad_seq_wrap(struct synth_log *l)
{
	synth_u(l, UINT64_MAX);
	synth_u(l, VMS_API_FREE);
	synth_u(l, 0);
	synth_end(l, VMS_REC_FREE);
}

static void bad_api(struct synth_log *l)
{
	synth_free(l, 3, VMS_API_MMAP, 0x1000);
}

static void bad_realloc_without_old(struct synth_log *l)
{
	synth_seq(l, 3);
	synth_u(l, VMS_API_REALLOC);
	synth_u(l, 0);
	synth_daddr(l, 0x2000);
	synth_u(l, 8);
	synth_u(l, 0);
	synth_end(l, VMS_REC_ALLOC);
}

static void bad_short_malloc(struct synth_log *l)
{
	synth_seq(l, 3);
	synth_u(l, 0);
	synth_daddr(l, 0x2000);
	synth_end(l, VMS_REC_MALLOC); /* no size */
}

static void bad_short_free_plain(struct synth_log *l)
{
	synth_seq(l, 3);
	synth_end_full(l, VMS_REC_FREE_PLAIN, 2); /* no addr */
}

static void damage_cases(void **state)
{
	(void)state;
	check_damage(bad_truncated, 0,
		     "record length 5 past end of file");
	check_damage(bad_length, 64, "record length 99999 past end of file");
	check_damage(bad_length_varint, 0, "record length past end of file");
	check_damage(bad_type, 64, "unknown record type 77");
	check_damage(bad_short_body, 64, "ALLOC body too short (2 bytes)");
	check_damage(bad_short_malloc, 64, "MALLOC body too short (4 bytes)");
	check_damage(bad_short_free_plain, 64,
		     "FREE_PLAIN body too short (1 bytes)");
	check_damage(bad_undefined_stack, 64,
		     "MALLOC uses undefined stack id 5");
	check_damage(bad_seq_wrap, 64, "sequence number goes backwards");
	check_damage(bad_api, 64, "api 10 not valid in a FREE record");
	check_damage(bad_realloc_without_old, 64,
		     "ALLOC body too short (7 bytes)");
}

static void bad_header(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 8, 0, 0);
	synth_log_save(&l, dir);
	l.buf[0] = 'X';
	l.lane = 1;
	synth_log_save(&l, dir);          /* log.1: bad magic */
	l.buf[0] = 'V';
	l.lane = 2;
	synth_log_save(&l, dir);          /* log.2: says lane 0 */
	synth_log_release(&l);
	synth_text(dir, "log.3", "VMSPY");  /* truncated header */
	synth_text(dir, "log.4", "");       /* empty */

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(rp.nr_damage, 4);
	assert_string_equal(rp.damage[0].message,
			    "log 'log.1' corrupt at offset 0: bad magic (not a "
			    "vmspy log)");
	assert_string_equal(rp.damage[1].message,
			    "log 'log.2' corrupt at offset 12: header says "
			    "lane 0");
	assert_string_equal(rp.damage[2].message,
			    "log 'log.3' truncated at offset 5: the header "
			    "needs 64 bytes");
	assert_string_equal(rp.damage[3].message,
			    "log 'log.4' truncated at offset 0: the header "
			    "needs 64 bytes");
	done(&rec, &rp, &c, dir);
}

static void stack_id_jump_rejected(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	uint64_t f = 0x1234;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_stack(&l, 1, &f, 1);
	synth_stack(&l, 1ull << 40, &f, 1);
	synth_log_save(&l, dir);
	synth_log_release(&l);
	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(rp.nr_damage, 1);
	assert_non_null(strstr(rp.damage[0].message, "out of order"));
	done(&rec, &rp, &c, dir);
}

/* ---- framing (format.h "Records") ---- */

/* A log in memory whose last byte is followed by an unmapped page: a read
 * past the end of the data faults instead of passing unnoticed. */
struct guarded {
	uint8_t *map;
	size_t map_len;
	struct vms_logfile log;
};

static void guarded_init(struct guarded *g, const uint8_t *buf, size_t n)
{
	const size_t pg = 4096;
	size_t pages = (n + pg - 1) / pg;

	g->map_len = (pages + 1) * pg;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map + pages * pg, pg, PROT_NONE), 0);
	memset(&g->log, 0, sizeof(g->log));
	g->log.lane = 0;
	strcpy(g->log.name, "log.0");
	g->log.data = g->map + pages * pg - n;
	g->log.size = n;
	memcpy((uint8_t *)(uintptr_t)g->log.data, buf, n);
	memcpy(&g->log.header, buf, sizeof(g->log.header));
}

static void guarded_release(struct guarded *g)
{
	munmap(g->map, g->map_len);
}

/* Reads all of buf[0, n) as lane 0: the events into ev (up to max), the
 * count into *nev; returns the reader's result (0 or -1), the message in
 * err (or "").  An event's string is copied: the log is gone after. */
static int read_buf(const uint8_t *buf, size_t n, struct vms_event *ev,
		    size_t max, size_t *nev, char *err, size_t err_cap,
		    size_t *err_at)
{
	struct guarded g;
	struct vms_stacks stacks;
	struct vms_logreader r;
	struct vms_event e;
	int ret;

	guarded_init(&g, buf, n);
	vms_stacks_init(&stacks);
	vms_logreader_init(&r, &g.log, &stacks, PID);
	*nev = 0;
	while ((ret = vms_logreader_next(&r, &e)) > 0) {
		if (*nev < max) {
			ev[*nev] = e;
			if (e.str_len) {
				char *copy = malloc(e.str_len);
				assert_non_null(copy);
				memcpy(copy, e.str, e.str_len);
				ev[*nev].str = copy;
			}
		}
		++*nev;
	}
	assert_int_equal(r.events, *nev);
	snprintf(err, err_cap, "%s", r.error ? r.error : "");
	*err_at = r.error_offset;
	vms_logreader_release(&r);
	vms_stacks_release(&stacks);
	guarded_release(&g);
	return ret;
}

#define MAX_RECS 64

/* Where each record of a sample log ends, and whether it is an event. */
struct bounds {
	size_t end[MAX_RECS];
	bool event[MAX_RECS];
	size_t n;
};

static void mark(struct bounds *b, const struct synth_log *l, bool event)
{
	assert_true(b->n < MAX_RECS);
	b->end[b->n] = l->len;
	b->event[b->n++] = event;
}

/* One of every heap record form and a few others, with values at the
 * extremes of the delta coding. */
static void sample(struct synth_log *l, struct bounds *b)
{
	static const uint64_t f1[] = { 0x401000, 0x400800, 0x7fff00001234 };
	struct bounds none;
	if (!b)
		b = &none;
	b->n = 0;
	synth_stack(l, 1, f1, 3);
	mark(b, l, false);
	synth_time(l, 1500000000);
	mark(b, l, false);
	synth_alloc(l, 1, VMS_API_MALLOC, 1, 0x555500001000, 100, 0, 0);
	mark(b, l, true);
	synth_alloc(l, 2, VMS_API_CALLOC, 0, 0x555500002000, 40, 0, 0);
	mark(b, l, true);
	synth_alloc(l, 3, VMS_API_POSIX_MEMALIGN, 1, 0x7f0000000000, 4096,
		    4096, 0);
	mark(b, l, true);
	synth_free(l, 4, VMS_API_FREE, 0x555500001000);
	mark(b, l, true);
	synth_skip(l, 5);
	mark(b, l, false);
	/* a moving realloc, realloc(NULL, n), one in place */
	synth_free(l, 5, VMS_API_REALLOC, 0x555500002000);
	mark(b, l, true);
	synth_alloc(l, 6, VMS_API_REALLOC, 1, 0x555500003000, 80, 0,
		    0x555500002000);
	mark(b, l, true);
	synth_alloc(l, 7, VMS_API_REALLOC, 0, 0x555500004000, 8, 0, 0);
	mark(b, l, true);
	synth_free(l, 8, VMS_API_REALLOCARRAY, 0x555500004000);
	mark(b, l, true);
	synth_alloc(l, 9, VMS_API_REALLOCARRAY, 1, 0x555500004000, 16, 0,
		    0x555500004000);
	mark(b, l, true);
	synth_mmap(l, 10, VMS_API_MMAP, 1, 0x7f1234560000, 8192, PROT_READ,
		   MAP_PRIVATE, 3, 4096, "/lib/x.so", 0, 0);
	mark(b, l, true);
	synth_munmap(l, 11, VMS_API_MUNMAP, 0, 0x7f1234560000, 8192);
	mark(b, l, true);
	/* too long for a compact header (39 bytes) */
	synth_alloc(l, 1ull << 62, VMS_API_REALLOC, 1, UINT64_MAX - 15,
		    UINT64_MAX, 0, 0x4000000000000000);
	mark(b, l, true);
	/* every field at its widest that a MALLOC can be compact with */
	synth_alloc(l, (1ull << 62) + (1ull << 63), VMS_API_MALLOC, 1,
		    0x4000000000000010, UINT64_MAX, 0, 0);
	mark(b, l, true);
	synth_free(l, UINT64_MAX, VMS_API_FREE, 0x4000000000000010);
	mark(b, l, true);
}

static void sample_log(struct synth_log *l, size_t full_len, size_t extra,
		       struct bounds *b)
{
	synth_log_init(l, 0, PID);
	l->full_len = full_len;
	l->extra = extra;
	sample(l, b);
}

static void free_strings(struct vms_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)(uintptr_t)ev[i].str);
}

static void same_event(const struct vms_event *a, const struct vms_event *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->api, b->api);
	assert_true(a->seq == b->seq);
	assert_true(a->addr == b->addr);
	assert_true(a->size == b->size);
	assert_true(a->align == b->align);
	assert_true(a->old_addr == b->old_addr);
	assert_int_equal(a->stack, b->stack);
	assert_int_equal(a->gstack, b->gstack);
	assert_true(a->time_ns == b->time_ns);
	assert_true(a->tid == b->tid);
	assert_true(a->len == b->len);
	assert_true(a->prot == b->prot);
	assert_true(a->fd == b->fd);
	assert_int_equal(a->str_len, b->str_len);
	if (a->str_len)
		assert_memory_equal(a->str, b->str, a->str_len);
}

/* Every header spelling and extra trailing bytes give the same events. */
static void framing_round_trip(void **state)
{
	static struct vms_event want[MAX_EVENTS], got[MAX_EVENTS];
	static const size_t forms[][2] = {
		/* full_len, extra */
		{ 1, 0 }, { 3, 0 }, { 10, 0 }, { 0, 3 }, { 0, 40 }, { 2, 200 },
	};
	struct synth_log l;
	struct bounds b;
	size_t nwant, ngot, at;
	char err[256];
	(void)state;

	sample_log(&l, 0, 0, &b);
	assert_int_equal(read_buf(l.buf, l.len, want, MAX_EVENTS, &nwant, err,
				  sizeof(err), &at),
			 0);
	assert_string_equal(err, "");
	assert_int_equal(nwant, 14);
	/* what the sample says */
	assert_int_equal(want[0].type, VMS_REC_ALLOC);
	assert_int_equal(want[0].api, VMS_API_MALLOC);
	assert_true(want[0].addr == 0x555500001000);
	assert_int_equal(want[0].size, 100);
	assert_int_equal(want[0].stack, 1);
	assert_int_equal(want[0].time_ns, 1500000000);
	assert_int_equal(want[2].align, 4096);
	assert_int_equal(want[3].type, VMS_REC_FREE);
	assert_int_equal(want[3].api, VMS_API_FREE);
	assert_int_equal(want[4].api, VMS_API_REALLOC);
	assert_true(want[5].old_addr == 0x555500002000);
	assert_true(want[6].old_addr == 0);
	assert_true(want[8].old_addr == 0x555500004000);
	assert_int_equal(want[9].type, VMS_REC_MMAP);
	assert_true(want[11].seq == 1ull << 62);
	assert_true(want[11].addr == UINT64_MAX - 15);
	assert_true(want[11].size == UINT64_MAX);
	assert_true(want[11].old_addr == 0x4000000000000000);
	assert_true(want[12].addr == 0x4000000000000010);
	assert_true(want[12].size == UINT64_MAX);
	assert_true(want[13].seq == UINT64_MAX);
	assert_true(want[13].addr == 0x4000000000000010);
	/* The writer's choice of headers: compact where the body fits. */
	assert_true(l.buf[b.end[1]] & VMS_REC_COMPACT);    /* MALLOC */
	assert_int_equal(l.buf[b.end[13]], VMS_REC_ALLOC); /* 39 bytes */
	assert_int_equal(l.buf[b.end[13] + 1], 39);
	assert_true(l.buf[b.end[14]] & VMS_REC_COMPACT);
	assert_int_equal(VMS_REC_COMPACT_LEN(l.buf[b.end[14]]), 31);
	synth_log_release(&l);

	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		sample_log(&l, forms[f][0], forms[f][1], NULL);
		assert_int_equal(read_buf(l.buf, l.len, got, MAX_EVENTS, &ngot,
					  err, sizeof(err), &at),
				 0);
		assert_string_equal(err, "");
		assert_int_equal(ngot, nwant);
		for (size_t i = 0; i < nwant; i++)
			same_event(&got[i], &want[i]);
		free_strings(got, ngot);
		synth_log_release(&l);
	}
	free_strings(want, nwant);
}

/* A log cut at any byte reads as the whole records before the cut: cut at
 * a record boundary it is a clean end, inside a record an error at that
 * record's offset.  A record whose header byte is still zero (the writer
 * died before publishing it) ends the log cleanly whatever part of its
 * body was written. */
static void truncated_at_every_byte(void **state)
{
	static struct vms_event ev[MAX_EVENTS];
	struct synth_log l;
	struct bounds b;
	size_t nev, at;
	char err[256];
	(void)state;

	for (int form = 0; form < 2; form++) {
		sample_log(&l, form ? 3 : 0, 0, &b);
		size_t rec = 0, events = 0, start = VMS_LOG_HEADER_SIZE;
		for (size_t cut = VMS_LOG_HEADER_SIZE; cut <= l.len; cut++) {
			if (rec < b.n && cut == b.end[rec]) {
				events += b.event[rec];
				start = b.end[rec];
				rec++;
			}
			int ret = read_buf(l.buf, cut, ev, MAX_EVENTS, &nev,
					   err, sizeof(err), &at);
			free_strings(ev, nev);
			assert_int_equal(nev, events);
			if (cut == start) {
				assert_int_equal(ret, 0);
				assert_string_equal(err, "");
			} else {
				assert_int_equal(ret, -1);
				assert_int_equal(at, start);
				assert_non_null(strstr(err, "past end of file"));
			}
			/* The same bytes with the header byte of the cut
			 * record zero and zeros behind them: in flight. */
			if (cut < l.len) {
				uint8_t *crash = calloc(1, l.len + 64);
				assert_non_null(crash);
				memcpy(crash, l.buf, cut);
				crash[start] = 0;
				ret = read_buf(crash, l.len + 64, ev,
					       MAX_EVENTS, &nev, err,
					       sizeof(err), &at);
				free_strings(ev, nev);
				assert_int_equal(ret, 0);
				assert_string_equal(err, "");
				assert_int_equal(nev, events);
				free(crash);
			}
		}
		assert_int_equal(rec, b.n);
		synth_log_release(&l);
	}
}

/* Every record of the sample with its body one byte short (and its
 * length saying so) is rejected, at its offset, after the events before
 * it. */
static void short_bodies_rejected(void **state)
{
	static struct vms_event ev[MAX_EVENTS];
	struct synth_log l;
	struct bounds b;
	size_t nev, at, events = 0, start = VMS_LOG_HEADER_SIZE;
	char err[256];
	(void)state;

	/* Full headers with 1-byte lengths: [type, len, body...]. */
	sample_log(&l, 1, 0, &b);
	for (size_t k = 0; k < b.n; events += b.event[k], start = b.end[k++]) {
		uint8_t *buf = malloc(2 * l.len);
		size_t len = b.end[k] - start - 2;
		assert_non_null(buf);
		assert_true(len < 128);
		if (l.buf[start] == VMS_REC_SKIP) {
			free(buf);
			continue;
		}
		memcpy(buf, l.buf, start);
		buf[start] = l.buf[start];
		buf[start + 1] = (uint8_t)(len - 1);
		memcpy(buf + start + 2, l.buf + start + 2, len - 1);
		/* a good record after it, never reached */
		memcpy(buf + start + 1 + len, l.buf + start, 2 + len);
		int ret = read_buf(buf, start + 1 + len + 2 + len, ev,
				   MAX_EVENTS, &nev, err, sizeof(err), &at);
		free_strings(ev, nev);
		assert_int_equal(ret, -1);
		assert_int_equal(at, start);
		assert_int_equal(nev, events);
		assert_non_null(strstr(err, "body too short"));
		free(buf);
	}
	synth_log_release(&l);
}

/* A SKIP whose length is written with more bytes than it needs, the way
 * the recorder fills a chunk's tail, then more records. */
static void skip_padded_length(void **state)
{
	static struct vms_event ev[4];
	struct synth_log l;
	size_t nev, at;
	char err[256];
	(void)state;

	synth_log_init(&l, 0, PID);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 1, 0, 0);
	memset(l.body, 0, 1000);
	l.body_len = 1000;
	synth_end_full(&l, VMS_REC_SKIP, 4);
	synth_alloc(&l, 2, VMS_API_MALLOC, 0, 0x2000, 1, 0, 0);
	assert_int_equal(read_buf(l.buf, l.len, ev, 4, &nev, err, sizeof(err),
				  &at),
			 0);
	assert_int_equal(nev, 2);
	assert_true(ev[1].addr == 0x2000);
	assert_int_equal(ev[1].offset, VMS_LOG_HEADER_SIZE + 6 + 1005);
	synth_log_release(&l);
}

/* The reader leaves the fields of other types alone when it knows they
 * are zero: they must be zero after an MMAP event all the same. */
static void event_fields_cleared(void **state)
{
	static struct vms_event ev[MAX_EVENTS];
	struct vms_event zero;
	struct synth_log l;
	size_t nev, at;
	char err[256];
	(void)state;

	synth_log_init(&l, 0, PID);
	synth_mmap(&l, 1, VMS_API_MMAP, 0, 0x7f1234560000, 8192, PROT_READ,
		   MAP_PRIVATE, 3, 4096, "/lib/x.so", 0, 0);
	synth_alloc(&l, 2, VMS_API_MALLOC, 0, 0x1000, 1, 0, 0);
	synth_exit(&l, 3, 1, 2);
	synth_free(&l, 4, VMS_API_FREE, 0x1000);
	assert_int_equal(read_buf(l.buf, l.len, ev, MAX_EVENTS, &nev, err,
				  sizeof(err), &at),
			 0);
	assert_int_equal(nev, 4);
	memset(&zero, 0, sizeof(zero));
	for (size_t i = 1; i < 4; i += 2) {
		const size_t from = offsetof(struct vms_event, old_len);
		assert_memory_equal((const char *)&ev[i] + from,
				    (const char *)&zero + from,
				    sizeof(zero) - from);
	}
	assert_int_equal(ev[2].status, 1);
	assert_int_equal(ev[2].dropped, 2);
	assert_int_equal(ev[2].len, 0);
	assert_int_equal(ev[2].fd, 0);
	assert_int_equal(ev[2].str_len, 0);
	free_strings(ev, nev);
	synth_log_release(&l);
}

/* ---- replay ---- */

static void merge_three_lanes(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l[3];
	char *dir = synth_tmpdir();
	uint64_t next = 1;
	(void)state;

	synth_meta(dir, PID);
	for (uint32_t i = 0; i < 3; i++)
		synth_log_init(&l[i], i, PID);
	/* Deal seqs 1..60 out unevenly: lane = f(seq). */
	for (uint64_t seq = 1; seq <= 60; seq++) {
		uint32_t lane = (uint32_t)((seq * 7 + seq / 5) % 3);
		synth_alloc(&l[lane], seq, VMS_API_MALLOC, 0,
			    0x10000 + seq * 16, seq, 0, 0);
	}
	for (uint32_t i = 0; i < 3; i++) {
		synth_log_save(&l[i], dir);
		synth_log_release(&l[i]);
	}
	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.n, 60);
	for (size_t i = 0; i < c.n; i++) {
		assert_int_equal(c.ev[i].seq, next++);
		assert_int_equal(c.ev[i].lane,
				 (c.ev[i].seq * 7 + c.ev[i].seq / 5) % 3);
	}
	assert_int_equal(c.st.heap_bytes, 60 * 61 / 2);
	assert_int_equal(c.st.heap.count, 60);
	done(&rec, &rp, &c, dir);
}

/* Thread A frees an address, thread B gets it back: merge must put the
 * free first, so the live state ends with B's block. */
static void merge_reused_address(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log a, b;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&a, 0, PID);
	synth_log_init(&b, 1, PID);
	synth_alloc(&a, 1, VMS_API_MALLOC, 0, 0x1000, 10, 0, 0);
	synth_alloc(&b, 2, VMS_API_MALLOC, 0, 0x9000, 1, 0, 0);
	synth_free(&a, 3, VMS_API_FREE, 0x1000);
	synth_alloc(&b, 4, VMS_API_MALLOC, 0, 0x1000, 20, 0, 0);
	synth_log_save(&a, dir);
	synth_log_save(&b, dir);
	synth_log_release(&a);
	synth_log_release(&b);
	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.st.heap_bytes, 21);
	assert_int_equal(vms_heapmap_find(&c.st.heap, 0x1000)->size, 20);
	assert_int_equal(vms_heapmap_find(&c.st.heap, 0x1000)->lane, 1);
	assert_int_equal(c.st.unmatched_frees, 0);
	assert_int_equal(c.st.replaced_allocs, 0);
	assert_int_equal(c.st.peak_heap.bytes, 21);
	assert_int_equal(c.st.peak_heap.seq, 4);
	done(&rec, &rp, &c, dir);
}

/* A damaged lane stops; the others are read to their end. */
static void damage_keeps_other_lanes(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log a, b;
	static const uint8_t w[] = { VMS_REC_FREE, 0x88, 0x27 }; /* 5000 */
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&a, 0, PID);
	synth_log_init(&b, 1, PID);
	synth_alloc(&a, 1, VMS_API_MALLOC, 0, 0x1000, 10, 0, 0);
	synth_raw(&a, w, sizeof(w));
	synth_alloc(&b, 2, VMS_API_MALLOC, 0, 0x2000, 1, 0, 0);
	synth_alloc(&b, 3, VMS_API_MALLOC, 0, 0x3000, 1, 0, 0);
	synth_log_save(&a, dir);
	synth_log_save(&b, dir);
	synth_log_release(&a);
	synth_log_release(&b);
	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(rp.nr_damage, 1);
	assert_int_equal(rp.damage[0].lane, 0);
	assert_non_null(strstr(rp.damage[0].message, "; read 1 events"));
	done(&rec, &rp, &c, dir);
}

/* ---- one thread or two: the same stream ---- */

struct trace {
	uint64_t *v;     /* per event: seq, lane, gstack, type, hash */
	size_t n, alloc;
	size_t stop_after; /* 0: never stop */
	const struct vms_stacks *stacks;
};

static int record_event(const struct vms_event *ev, void *ctx)
{
	struct trace *t = ctx;
	size_t nf;

	if (t->n + 6 > t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 4096;
		t->v = realloc(t->v, t->alloc * sizeof(*t->v));
		assert_non_null(t->v);
	}
	t->v[t->n++] = ev->seq;
	t->v[t->n++] = ev->lane;
	t->v[t->n++] = ev->gstack;
	t->v[t->n++] = ev->type;
	/* every byte of the event: these types carry no pointer */
	{
		const unsigned char *b = (const unsigned char *)ev;
		uint64_t h = 14695981039346656037ull;
		for (size_t i = 0; i < sizeof(*ev); i++)
			h = (h ^ b[i]) * 1099511628211ull;
		t->v[t->n++] = h;
	}
	/* The stack of an event can be read while the replay runs. */
	vms_stacks_get(t->stacks, ev->gstack, &nf);
	t->v[t->n++] = nf;
	if (t->stop_after && t->n / 6 == t->stop_after)
		return 7;
	return 0;
}

/* Replay dir with VMSPY_ANALYZER_THREADS=threads into t; returns the
 * replay's value, with the damage messages and stack count appended. */
static int replay_trace(const char *dir, const char *threads,
			struct trace *t)
{
	struct vms_recording rec;
	struct vms_replay rp;
	int r;

	setenv("VMSPY_ANALYZER_THREADS", threads, 1);
	assert_int_equal(vms_recording_open(&rec, dir), 0);
	vms_replay_init(&rp, &rec);
	t->stacks = &rp.stacks;
	r = vms_replay_run(&rp, record_event, t);
	unsetenv("VMSPY_ANALYZER_THREADS");
	t->v = realloc(t->v, (t->n + 2 + 2 * rp.nr_damage) * sizeof(*t->v));
	assert_non_null(t->v);
	t->v[t->n++] = vms_stacks_count(&rp.stacks);
	t->v[t->n++] = rp.events;
	for (size_t i = 0; i < rp.nr_damage; i++) {
		t->v[t->n++] = rp.damage[i].lane;
		t->v[t->n++] = strlen(rp.damage[i].message);
	}
	vms_replay_release(&rp);
	vms_recording_release(&rec);
	return r;
}

/* Many lanes, far more events than the helper's window, stacks defined
 * along the way (some shared between lanes), two damaged lanes (one at
 * once, one midway) and an empty one: with a helper thread the callback
 * sees the same events with the same global stack ids, and the same
 * damage, as without; and a callback that says stop stops both. */
static void replay_threads_same(void **state)
{
	struct synth_log l[6];
	struct trace one = { 0 }, two = { 0 };
	/* a FREE whose full header claims a 5000-byte body */
	static const uint8_t bad[3] = { VMS_REC_FREE, 0x88, 0x27 };
	char *dir = synth_tmpdir();
	uint64_t seq = 1, defined[6] = { 0 };
	(void)state;

	synth_meta(dir, PID);
	for (uint32_t i = 0; i < 6; i++)
		synth_log_init(&l[i], i, PID);
	synth_raw(&l[4], bad, sizeof(bad)); /* lane 4: damaged before anything */
	for (int k = 0; k < 20000; k++, seq++) {
		uint32_t lane = (uint32_t)((seq * 2654435761u >> 7) % 4);
		uint64_t id = 1 + (uint64_t)(seq * 40503u >> 4) % 40;
		if (k == 15000)
			synth_raw(&l[3], bad, sizeof(bad)); /* lane 3 ends here */
		for (; defined[lane] < id; defined[lane]++) {
			uint64_t d = defined[lane] + 1;
			uint64_t frames[3] = { 0x400000 + d % 25, 0x401000,
					       0x402000 + lane * (d & 1) };
			synth_stack(&l[lane], d, frames, 3);
		}
		if (k % 997 == 0) /* events that differ in more than their
				   * own fields: a new time, a thread */
			synth_time(&l[lane], 1000000 + seq);
		if (k == 5000)
			synth_thread_begin(&l[lane], seq++, 777);
		if (k % 3 == 2)
			synth_free(&l[lane], seq, VMS_API_FREE,
				   0x10000 + (seq - 1) * 16);
		else
			synth_alloc(&l[lane], seq, VMS_API_MALLOC,
				    1 + seq % defined[lane],
				    0x10000 + seq * 16, seq % 100, 0, 0);
	}
	for (uint32_t i = 0; i < 6; i++) {
		synth_log_save(&l[i], dir);
		synth_log_release(&l[i]);
	}

	assert_int_equal(replay_trace(dir, "1", &one), 0);
	assert_int_equal(replay_trace(dir, "2", &two), 0);
	assert_true(one.n > 6 * 10000);
	assert_int_equal(one.n, two.n);
	assert_memory_equal(one.v, two.v, one.n * sizeof(*one.v));

	one.n = two.n = 0;
	one.stop_after = two.stop_after = 3333;
	assert_int_equal(replay_trace(dir, "1", &one), 7);
	assert_int_equal(replay_trace(dir, "2", &two), 7);
	assert_int_equal(one.v[6 * 3333 + 1], 3333);
	assert_int_equal(two.v[6 * 3333 + 1], 3333);
	/* the same events, not necessarily the same stacks and damage
	 * found beyond the stop */
	assert_memory_equal(one.v, two.v, 6 * 3333 * sizeof(*one.v));
	free(one.v);
	free(two.v);
	synth_rmdir(dir);
}

/* ---- heap events in short form (vms_replay_run_heap) ---- */

/* What both ways of a replay produce: the events in order, the state and
 * the per-stack ALLOC totals. */
struct heap_trace {
	struct trace t;
	struct vms_state st;
	uint64_t sites[256][2];
};

static void heap_trace_add(struct heap_trace *h, uint64_t seq, uint32_t lane,
			   uint64_t gstack, uint32_t type, uint32_t api,
			   uint64_t addr, uint64_t size, uint64_t old_addr,
			   uint64_t time_ns, uint64_t offset)
{
	const uint64_t f[] = { seq, lane, gstack, type, api, addr, size,
			       old_addr, time_ns, offset };

	if (h->t.n + 10 > h->t.alloc) {
		h->t.alloc = h->t.alloc ? 2 * h->t.alloc : 4096;
		h->t.v = realloc(h->t.v, h->t.alloc * sizeof(*h->t.v));
		assert_non_null(h->t.v);
	}
	memcpy(h->t.v + h->t.n, f, sizeof(f));
	h->t.n += 10;
	if (type == VMS_REC_ALLOC) {
		assert_true(gstack < 256);
		h->sites[gstack][0] += size;
		h->sites[gstack][1]++;
	}
}

static int heap_whole(const struct vms_event *ev, void *ctx)
{
	struct heap_trace *h = ctx;

	heap_trace_add(h, ev->seq, ev->lane, ev->gstack, ev->type, ev->api,
		       ev->addr, ev->size, ev->old_addr, ev->time_ns,
		       ev->offset);
	vms_state_apply(&h->st, ev);
	return 0;
}

static int heap_short(const struct vms_heap_event *ev, size_t n,
		      uint32_t lane, void *ctx)
{
	struct heap_trace *h = ctx;

	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		heap_trace_add(h, ev[i].seq, lane, ev[i].gstack, ev[i].type,
			       ev[i].api, ev[i].addr, ev[i].size,
			       ev[i].old_addr, ev[i].time_ns, ev[i].offset);
		vms_state_apply_heap(&h->st, &ev[i], lane);
	}
	return 0;
}

/* Replay dir the general way (lean false) or with the heap events in
 * short form, with VMSPY_ANALYZER_THREADS=threads, into h; the damage
 * messages and the stack count are appended to the trace. */
static void heap_replay(const char *dir, bool lean, const char *threads,
			struct heap_trace *h)
{
	struct vms_recording rec;
	struct vms_replay rp;

	memset(h, 0, sizeof(*h));
	vms_state_init(&h->st, 4096, PID);
	setenv("VMSPY_ANALYZER_THREADS", threads, 1);
	assert_int_equal(vms_recording_open(&rec, dir), 0);
	vms_replay_init(&rp, &rec);
	if (lean)
		assert_int_equal(vms_replay_run_heap(&rp, heap_whole,
						     heap_short, h), 0);
	else
		assert_int_equal(vms_replay_run(&rp, heap_whole, h), 0);
	unsetenv("VMSPY_ANALYZER_THREADS");
	heap_trace_add(h, vms_stacks_count(&rp.stacks), 0, 0, 0, 0, 0, 0, 0,
		       rp.events, rp.nr_damage);
	for (size_t i = 0; i < rp.nr_damage; i++) {
		const char *m = rp.damage[i].message;
		uint64_t x = 14695981039346656037ull;
		for (; *m; m++)
			x = (x ^ (unsigned char)*m) * 1099511628211ull;
		heap_trace_add(h, rp.damage[i].lane, 0, 0, 0, 0, 0, 0, 0, x,
			       0);
	}
	vms_replay_release(&rp);
	vms_recording_release(&rec);
}

static void heap_trace_same(struct heap_trace *a, struct heap_trace *b)
{
	assert_int_equal(a->t.n, b->t.n);
	assert_memory_equal(a->t.v, b->t.v, a->t.n * sizeof(*a->t.v));
	assert_memory_equal(a->sites, b->sites, sizeof(a->sites));
	assert_memory_equal(a->st.calls, b->st.calls, sizeof(a->st.calls));
	assert_int_equal(a->st.events, b->st.events);
	assert_int_equal(a->st.heap_bytes, b->st.heap_bytes);
	assert_int_equal(a->st.heap.count, b->st.heap.count);
	assert_int_equal(a->st.mmap_bytes, b->st.mmap_bytes);
	assert_int_equal(a->st.total_allocated_bytes,
			 b->st.total_allocated_bytes);
	assert_int_equal(a->st.total_allocations, b->st.total_allocations);
	assert_int_equal(a->st.unmatched_frees, b->st.unmatched_frees);
	assert_int_equal(a->st.replaced_allocs, b->st.replaced_allocs);
	assert_memory_equal(&a->st.peak_heap, &b->st.peak_heap,
			    sizeof(a->st.peak_heap));
	assert_int_equal(a->st.last_seq, b->st.last_seq);
	assert_int_equal(a->st.last_time_ns, b->st.last_time_ns);
	assert_int_equal(a->st.threads, b->st.threads);
	{
		const struct vms_alloc *x;
		for (size_t it = 0; (x = vms_heapmap_next(&a->st.heap, &it));) {
			const struct vms_alloc *y =
				vms_heapmap_find(&b->st.heap, x->addr);
			assert_non_null(y);
			assert_memory_equal(x, y, sizeof(*x));
		}
	}
}

static void heap_trace_release(struct heap_trace *h)
{
	free(h->t.v);
	vms_state_release(&h->st);
}

/* Random interleaved lanes: runs of one lane and lanes taking turns, equal
 * seqs in different lanes, stacks defined (and one redefined) along the
 * way, TIME and SKIP between heap records, full and compact headers,
 * realloc halves (in place, moving, to 0), frees of other lanes' blocks,
 * mmaps and thread records, a lane damaged midway, one damaged in a heap
 * record's body and an empty lane: the replay with the heap events in
 * short form gives the same events in the same order, with the same
 * stacks, the same damage and the same state as the general one, with
 * one thread and with two. */
static void replay_heap_same(void **state)
{
	enum { LANES = 6, STEPS = 60000 };
	struct synth_log l[LANES];
	struct heap_trace gen, lean, lean2;
	static const uint8_t bad[3] = { VMS_REC_FREE, 0x88, 0x27 };
	/* a compact MALLOC whose stack id is undefined */
	static const uint8_t bad_body[5] = { 0x84, 0x01, 0x7f, 0x02, 0x10 };
	char *dir = synth_tmpdir();
	uint64_t seq = 1, last[LANES] = { 0 }, defined[LANES] = { 0 };
	uint64_t live[LANES][16] = { { 0 } }, next_addr = 0x100000;
	uint64_t x = 88172645463325252ull;
	uint32_t lane = 0;
	(void)state;

	synth_meta(dir, PID);
	for (uint32_t i = 0; i < LANES; i++)
		synth_log_init(&l[i], i, PID);
	for (int k = 0; k < STEPS; k++) {
		uint64_t r, s, id;
		unsigned what, slot;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x;
		/* runs: the same lane again most of the time */
		if (r % 8 < 3)
			lane = (uint32_t)(r >> 8) % 4;
		if (k == STEPS / 3)
			lane = 5; /* lane 5: one heap record, then damage */
		seq += (r >> 12) % 3 == 0; /* equal seqs across lanes */
		s = seq > last[lane] ? seq : last[lane] + 1;
		last[lane] = s;
		id = 1 + (r >> 20) % (defined[lane] + 3);
		if (id > 200)
			id = 200;
		for (; defined[lane] < id; defined[lane]++) {
			uint64_t d = defined[lane] + 1;
			uint64_t frames[3] = { 0x400000 + d % 25, 0x401000,
					       0x402000 + lane * (d & 1) };
			synth_stack(&l[lane], d, frames, 3);
		}
		if (k == STEPS / 2) {
			uint64_t frames[2] = { 0x500000, 0x500010 + lane };
			synth_stack(&l[lane], 1, frames, 2); /* redefined */
		}
		if ((r >> 28) % 61 == 0)
			synth_time(&l[lane], 1000000 + s);
		if ((r >> 28) % 97 == 1)
			synth_skip(&l[lane], 3);
		if (k == STEPS * 2 / 3)
			synth_raw(&l[3], bad, sizeof(bad)); /* lane 3 ends */
		what = (unsigned)((r >> 34) % 32);
		slot = (unsigned)((r >> 40) % 16);
		if (what == 0) {
			synth_thread_begin(&l[lane], s, 1000 + s);
		} else if (what == 1) {
			synth_mmap(&l[lane], s, VMS_API_MMAP, id, 0x7f0000000000ull
				   + (s % 64) * 4096, 4096, 3, 0x22, -1, 0, "",
				   0, 0);
		} else if (what == 2) {
			synth_munmap(&l[lane], s, VMS_API_MUNMAP, id,
				     0x7f0000000000ull + (s % 64) * 4096, 4096);
		} else if (what < 6 && live[lane][slot]) {
			/* a realloc: FREE half, ALLOC half (in place, moving,
			 * or realloc(p, 0): no ALLOC half) */
			uint64_t old = live[lane][slot];
			unsigned api = what == 5 ? VMS_API_REALLOCARRAY
						 : VMS_API_REALLOC;
			synth_free(&l[lane], s, api, old);
			if (what != 3) {
				uint64_t to = what == 4 ? old : (next_addr += 64);
				last[lane] = ++s;
				synth_alloc(&l[lane], s, api, id, to,
					    1 + r % 777, 0, old);
				live[lane][slot] = to;
			} else {
				live[lane][slot] = 0;
			}
		} else if (what < 14) {
			/* a free, now and then of another lane's block, or
			 * of one never seen */
			uint32_t o = what == 13 ? (lane + 1) % 4 : lane;
			uint64_t a = live[o][slot] ? live[o][slot] : 0x42;
			synth_free(&l[lane], s, VMS_API_FREE, a);
			live[o][slot] = 0;
		} else {
			uint64_t a = (next_addr += 64);
			if (what < 26)
				synth_alloc(&l[lane], s, VMS_API_MALLOC, id, a,
					    1 + r % 999, 0, 0);
			else if (what < 29)
				synth_alloc_long(&l[lane], s, VMS_API_MALLOC,
						 id, a, 1 + r % 999, 0, 0);
			else
				synth_alloc(&l[lane], s, VMS_API_CALLOC, 0, a,
					    16, what == 31 ? 64 : 0, 0);
			live[lane][slot] = a;
		}
		if (k == STEPS / 3)
			synth_raw(&l[5], bad_body, sizeof(bad_body));
	}
	for (uint32_t i = 0; i < LANES; i++) {
		synth_log_save(&l[i], dir);
		synth_log_release(&l[i]);
	}

	heap_replay(dir, false, "1", &gen);
	heap_replay(dir, true, "1", &lean);
	heap_replay(dir, true, "2", &lean2);
	assert_true(gen.t.n > 10 * (STEPS / 2));
	assert_true(gen.st.calls[VMS_API_REALLOC] > 1000);
	assert_true(gen.st.replaced_allocs + gen.st.unmatched_frees > 100);
	heap_trace_same(&gen, &lean);
	heap_trace_same(&gen, &lean2);
	heap_trace_release(&gen);
	heap_trace_release(&lean);
	heap_trace_release(&lean2);
	synth_rmdir(dir);
}

/* ---- live state ---- */

static void realloc_in_place_and_moving(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l, o;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_log_init(&o, 1, PID);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 100, 0, 0);
	/* in place: 100 -> 150 at 0x1000, another lane interleaved */
	synth_free(&l, 2, VMS_API_REALLOC, 0x1000);
	synth_alloc(&o, 3, VMS_API_MALLOC, 0, 0x8000, 1, 0, 0);
	synth_alloc(&l, 4, VMS_API_REALLOC, 0, 0x1000, 150, 0, 0x1000);
	/* moving: 0x1000 -> 0x2000, 300 bytes */
	synth_free(&l, 5, VMS_API_REALLOC, 0x1000);
	synth_alloc(&l, 6, VMS_API_REALLOC, 0, 0x2000, 300, 0, 0x1000);
	/* realloc(NULL, 7) */
	synth_alloc(&l, 7, VMS_API_REALLOC, 0, 0x3000, 7, 0, 0);
	/* realloc(p, 0) frees */
	synth_free(&l, 8, VMS_API_REALLOC, 0x3000);
	/* reallocarray moving */
	synth_free(&l, 9, VMS_API_REALLOCARRAY, 0x2000);
	synth_alloc(&l, 10, VMS_API_REALLOCARRAY, 0, 0x4000, 400, 0, 0x2000);
	synth_log_save(&l, dir);
	synth_log_save(&o, dir);
	synth_log_release(&l);
	synth_log_release(&o);

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.st.calls[VMS_API_MALLOC], 2);
	assert_int_equal(c.st.calls[VMS_API_REALLOC], 4);
	assert_int_equal(c.st.calls[VMS_API_REALLOCARRAY], 1);
	assert_int_equal(c.st.calls[VMS_API_FREE], 0);
	assert_int_equal(c.st.heap.count, 2);
	assert_int_equal(c.st.heap_bytes, 401);
	assert_int_equal(vms_heapmap_find(&c.st.heap, 0x4000)->size, 400);
	assert_null(vms_heapmap_find(&c.st.heap, 0x1000));
	assert_int_equal(c.st.unmatched_frees, 0);
	assert_int_equal(c.st.peak_heap.bytes, 401);
	assert_int_equal(c.st.total_allocated_bytes,
			 100 + 1 + 150 + 300 + 7 + 400);
	done(&rec, &rp, &c, dir);
}

static void mmap_split_fixed_mremap(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	const uint64_t A = 0x7f0000000000, P = 4096;
	const struct vms_region *r;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	/* file mapping of 4 pages at offset 8192 */
	synth_mmap(&l, 1, VMS_API_MMAP, 0, A, 4 * P, PROT_READ, MAP_PRIVATE,
		   5, 8192, "/data/f", 0, 0);
	/* unmap page 1 -> [A, A+P) and [A+2P, A+4P) */
	synth_munmap(&l, 2, VMS_API_MUNMAP, 0, A + P, 100 /* rounds up */);
	/* anonymous 2 pages, then MAP_FIXED over its second page */
	synth_mmap(&l, 3, VMS_API_MMAP64, 0, A + 16 * P, 2 * P,
		   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0,
		   "", 0, 0);
	synth_mmap(&l, 4, VMS_API_MMAP, 0, A + 17 * P, P, PROT_READ,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, "", 0, 0);
	synth_log_save(&l, dir);
	synth_log_release(&l);

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.st.regions.n, 4);
	r = vms_regions_find(&c.st.regions, A);
	assert_non_null(r);
	assert_true(r->start == A && r->end == A + P);
	assert_int_equal(r->offset, 8192);
	assert_null(vms_regions_find(&c.st.regions, A + P));
	r = vms_regions_find(&c.st.regions, A + 3 * P);
	assert_true(r->start == A + 2 * P && r->end == A + 4 * P);
	assert_int_equal(r->offset, 8192 + 2 * P);
	assert_int_equal(r->fd, 5);
	assert_memory_equal(r->path, "/data/f", 7);
	r = vms_regions_find(&c.st.regions, A + 17 * P);
	assert_int_equal(r->seq, 4);
	assert_int_equal(r->prot, PROT_READ);
	assert_null(r->path);
	assert_int_equal(c.st.mmap_bytes, 5 * P);
	assert_int_equal(c.st.peak_mmap.bytes, 5 * P);
	assert_int_equal(c.st.peak_mmap.seq, 3);
	assert_int_equal(c.st.calls[VMS_API_MMAP], 2);
	assert_int_equal(c.st.calls[VMS_API_MMAP64], 1);
	assert_int_equal(c.st.calls[VMS_API_MUNMAP], 1);
	done(&rec, &rp, &c, dir);
}

static void mremap_moves_and_shm(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	const uint64_t A = 0x7f0000000000, B = 0x7f1000000000, P = 4096;
	const struct vms_region *r;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_mmap(&l, 1, VMS_API_MMAP, 0, A, 2 * P, PROT_READ | PROT_WRITE,
		   MAP_SHARED, 7, 0, "/dev/shm/pool", 0, 0);
	synth_munmap(&l, 2, VMS_API_MREMAP, 0, A, 2 * P);
	synth_mmap(&l, 3, VMS_API_MREMAP, 0, B, 8 * P, 0, 0, -1, 0, "", A,
		   2 * P);
	/* SysV attach 3 pages, detach it */
	synth_seq(&l, 4);
	synth_u(&l, 0);
	synth_u(&l, 17);           /* shmid */
	synth_u(&l, A + 64 * P);   /* addr */
	synth_u(&l, 3 * P - 10);   /* size */
	synth_u(&l, 0);            /* shmflg */
	synth_u(&l, 0xabc);        /* key */
	synth_end(&l, VMS_REC_SHMAT);
	synth_seq(&l, 5);
	synth_u(&l, 0);
	synth_u(&l, A + 64 * P);
	synth_end(&l, VMS_REC_SHMDT);
	synth_log_save(&l, dir);
	synth_log_release(&l);

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.st.calls[VMS_API_MREMAP], 1);
	assert_int_equal(c.st.regions.n, 1);
	r = vms_regions_find(&c.st.regions, B);
	assert_non_null(r);
	assert_int_equal(r->end - r->start, 8 * P);
	assert_int_equal(r->kind, VMS_REGION_SHM);
	assert_int_equal(r->prot, PROT_READ | PROT_WRITE);
	assert_int_equal(r->api, VMS_API_MREMAP);
	assert_int_equal(c.st.shm_bytes, 8 * P);
	assert_int_equal(c.st.mmap_bytes, 0);
	assert_int_equal(c.st.peak_shm.bytes, 11 * P);
	assert_int_equal(c.st.peak_shm.seq, 4);
	assert_int_equal(c.st.calls[VMS_API_SHMAT], 1);
	assert_int_equal(c.st.calls[VMS_API_SHMDT], 1);
	done(&rec, &rp, &c, dir);
}

static void peaks_and_unmatched(void **state)
{
	struct vms_recording rec;
	struct vms_replay rp;
	struct synth_log l;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_log_init(&l, 0, PID);
	synth_time(&l, 1000000000 + 100);
	synth_alloc(&l, 1, VMS_API_MALLOC, 0, 0x1000, 100, 0, 0);
	synth_time(&l, 1000000000 + 200);
	synth_alloc(&l, 2, VMS_API_MALLOC, 0, 0x2000, 200, 0, 0);
	synth_time(&l, 1000000000 + 300);
	synth_free(&l, 3, VMS_API_FREE, 0x1000);
	synth_free(&l, 4, VMS_API_FREE, 0xdead0);
	synth_alloc(&l, 5, VMS_API_MALLOC, 0, 0x3000, 50, 0, 0);
	synth_log_save(&l, dir);
	synth_log_release(&l);

	replay_dir(dir, &rec, &rp, &c);
	assert_int_equal(c.st.peak_heap.bytes, 300);
	assert_int_equal(c.st.peak_heap.seq, 2);
	assert_int_equal(c.st.peak_heap.time_ns, 1000000000 + 200);
	assert_int_equal(c.st.heap_bytes, 250);
	assert_int_equal(c.st.unmatched_frees, 1);
	assert_int_equal(c.st.calls[VMS_API_FREE], 2);
	assert_false(c.st.exited);
	done(&rec, &rp, &c, dir);
}

/* ---- snapshots ---- */

static void snapshot_parsed(void **state)
{
	struct vms_recording rec;
	const struct vms_snapshot *s;
	char *dir = synth_tmpdir();
	(void)state;

	synth_meta(dir, PID);
	synth_text(dir, "snap.0",
		"vmspy-snapshot 1\nseq 12\ntime_ns 3000\nreason user\n"
		"label after\\tload\n"
		"module 7f0000000000 abcdef01 /lib/libc.so.6\n"
		"segment 7f0000000000 7f0000028000 r--\n"
		"segment 7f0000028000 7f000019d000 r-x\n"
		"module 0 - /path with spaces\n"
		"pagemap 1000 3000 2\n"
		"smaps\n"
		"55d0c0a4e000-55d0c0a50000 r--p 00002000 fd:01 1234567"
		"                    /usr/bin/my prog (deleted)\n"
		"Size:                  8 kB\nKernelPageSize:        4 kB\n"
		"Rss:                   8 kB\nPss:                   4 kB\n"
		"Pss_Dirty:             0 kB\nPrivate_Dirty:         4 kB\n"
		"AnonHugePages:      2048 kB\nSwap:                 12 kB\n"
		"THPeligible:    1\nVmFlags: rd mr mw me sd \n"
		"7ffd1000-7ffd2000 rw-p 00000000 00:00 0 \n"
		"Size:                  4 kB\n");
	assert_int_equal(vms_recording_open(&rec, dir), 0);
	s = vms_recording_snapshot(&rec, 0, false);
	assert_non_null(s);
	assert_int_equal(s->seq, 12);
	assert_int_equal(s->reason, VMS_SNAP_USER);
	assert_string_equal(s->label, "after\tload");
	assert_int_equal(s->nr_modules, 2);
	assert_string_equal(s->modules[0].build_id, "abcdef01");
	assert_int_equal(s->modules[0].nr_segments, 2);
	assert_int_equal(s->segments[1].prot, PROT_READ | PROT_EXEC);
	assert_null(s->modules[1].build_id);
	assert_string_equal(s->modules[1].path, "/path with spaces");
	assert_int_equal(s->nr_pagemap, 1);
	assert_false(s->has_smaps);
	s = vms_recording_snapshot(&rec, 0, true);
	assert_non_null(s);
	assert_true(s->has_smaps);
	assert_int_equal(s->nr_regions, 2);
	assert_true(s->regions[0].start == 0x55d0c0a4e000);
	assert_string_equal(s->regions[0].perms, "r--p");
	assert_int_equal(s->regions[0].offset, 0x2000);
	assert_int_equal(s->regions[0].dev_major, 0xfd);
	assert_int_equal(s->regions[0].inode, 1234567);
	assert_string_equal(s->regions[0].path, "/usr/bin/my prog (deleted)");
	assert_int_equal(s->regions[0].rss, 8192);
	assert_int_equal(s->regions[0].pss, 4096);
	assert_int_equal(s->regions[0].private_dirty, 4096);
	assert_int_equal(s->regions[0].anon_huge_pages, 2048 * 1024);
	assert_int_equal(s->regions[0].swap, 12 * 1024);
	assert_int_equal(s->regions[0].thp_eligible, 1);
	assert_string_equal(s->regions[0].vm_flags, "rd mr mw me sd");
	assert_string_equal(s->regions[1].path, "");
	assert_int_equal(s->regions[1].thp_eligible, -1);
	/* the last region has no VmFlags: the writer was interrupted */
	assert_true(s->interrupted);
	vms_recording_release(&rec);
	synth_rmdir(dir);
}

static void snapshot_rejected(void **state)
{
	static const char *const bad[] = {
		"vmspy-snapshot 2\n",
		"vmspy-snapshot 1\nsegment 1 2 r--\n",
		"vmspy-snapshot 1\nmodule zz - /x\n",
		"vmspy-snapshot 1\nsmaps\nSize: 4 kB\n",
		"vmspy-snapshot 1\nsmaps\n1000-2000 rw-p 0 00:00 0\n"
		"Rss: 4 MB\n",
		"vmspy-snapshot 1\nsmaps\n2000-1000 rw-p 0 00:00 0\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vms_recording rec;
		char *dir = synth_tmpdir();
		synth_meta(dir, PID);
		synth_text(dir, "snap.0", bad[i]);
		assert_int_equal(vms_recording_open(&rec, dir), 0);
		assert_null(vms_recording_snapshot(&rec, 0, true));
		vms_recording_release(&rec);
		synth_rmdir(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(meta_parsed),
		cmocka_unit_test(meta_rejected),
		cmocka_unit_test(files_found_and_sorted),
		cmocka_unit_test(decode_delta_state),
		cmocka_unit_test(decode_stacks_time_skip),
		cmocka_unit_test(zero_header_ends_log),
		cmocka_unit_test(end_of_file_ends_log),
		cmocka_unit_test(damage_cases),
		cmocka_unit_test(bad_header),
		cmocka_unit_test(stack_id_jump_rejected),
		cmocka_unit_test(framing_round_trip),
		cmocka_unit_test(truncated_at_every_byte),
		cmocka_unit_test(short_bodies_rejected),
		cmocka_unit_test(skip_padded_length),
		cmocka_unit_test(event_fields_cleared),
		cmocka_unit_test(merge_three_lanes),
		cmocka_unit_test(merge_reused_address),
		cmocka_unit_test(damage_keeps_other_lanes),
		cmocka_unit_test(replay_threads_same),
		cmocka_unit_test(replay_heap_same),
		cmocka_unit_test(realloc_in_place_and_moving),
		cmocka_unit_test(mmap_split_fixed_mremap),
		cmocka_unit_test(mremap_moves_and_shm),
		cmocka_unit_test(peaks_and_unmatched),
		cmocka_unit_test(snapshot_parsed),
		cmocka_unit_test(snapshot_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
