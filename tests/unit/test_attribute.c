/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the attribution engine (analyzer/attribute.c): a hand-made
 * snapshot (smaps text, modules, pagemap bitmaps) and a state fed with
 * hand-made events; every region of it must come out with the expected
 * kind, name, detail and origin stack, and the counters must add up.
 * Then the same snapshot with events after it: the map rebuilt at the last
 * event (vms_attr_reconstruct).
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

#include "attribute.h"
#include "snapshot.h"
#include "state.h"
#include "util.h"

/* ---- building the snapshot ------------------------------------------------ */

static struct vms_strbuf text;

static void smaps_region(uint64_t lo, uint64_t hi, const char *perms,
			 const char *path, uint64_t rss_kb, uint64_t huge_kb,
			 const char *flags)
{
	vms_strbuf_addf(&text, "%llx-%llx %s 00000000 %s %s %s\n",
			(unsigned long long)lo, (unsigned long long)hi, perms,
			path[0] && path[0] != '[' ? "08:01" : "00:00",
			path[0] && path[0] != '[' ? "4242" : "0", path);
	vms_strbuf_addf(&text,
			"Size: %llu kB\nRss: %llu kB\nPss: %llu kB\n"
			"Swap: 0 kB\nAnonHugePages: %llu kB\nVmFlags: %s\n",
			(unsigned long long)(hi - lo) / 1024,
			(unsigned long long)rss_kb, (unsigned long long)rss_kb,
			(unsigned long long)huge_kb, flags);
}

#define ANON_FLAGS "rd wr mr mw me ac"

static const char header[] =
	"vmspy-snapshot 1\n"
	"seq 1000\n"
	"time_ns 5\n"
	"reason user\n"
	"label t\n"
	"recorder_thread 7f0000c01000 7f0000c41000\n"
	"module 555555554000 - /bin/app\n"
	"segment 555555554000 555555554800 r--\n"
	"segment 555555555000 555555555800 r-x\n"
	"segment 555555556000 555555556800 r--\n"
	"segment 555555557d00 55555555a100 rw-\n"
	"module 7f0000800000 - /lib64/ld-linux-x86-64.so.2\n"
	"segment 7f0000800000 7f0000801000 r--\n"
	/* 258 pages: pages 0 and 1 resident */
	"pagemap 7f0000200000 7f0000302000 2 3"
	"0000000000000000000000000000000000000000000000000000000000000000\n"
	"pagemap 555555600000 555555700000 2 1000000000000000000000000000000"
	"000000000000000000000000000000001\n"
	"smaps\n";

static void build_snapshot(struct vms_snapshot *s)
{
	char *err = NULL;

	vms_strbuf_reset(&text);
	vms_strbuf_addstr(&text, header);
	/* the executable: rodata, text, rodata, relro, data, bss */
	smaps_region(0x555555554000, 0x555555555000, "r--p", "/bin/app", 4, 0,
		     "rd mr mw me");
	smaps_region(0x555555555000, 0x555555556000, "r-xp", "/bin/app", 4, 0,
		     "rd ex mr mw me");
	smaps_region(0x555555556000, 0x555555557000, "r--p", "/bin/app", 4, 0,
		     "rd mr mw me");
	smaps_region(0x555555557000, 0x555555558000, "r--p", "/bin/app", 4, 0,
		     "rd mr mw me ac");
	smaps_region(0x555555558000, 0x555555559000, "rw-p", "/bin/app", 4, 0,
		     "rd wr mr mw me ac");
	smaps_region(0x555555559000, 0x55555555b000, "rw-p", "", 8, 0,
		     ANON_FLAGS);
	/* [heap]: malloc's part, then the app's own sbrk */
	smaps_region(0x555555600000, 0x555555700000, "rw-p", "[heap]", 8, 0,
		     ANON_FLAGS);
	/* a file the app mapped */
	smaps_region(0x7f0000100000, 0x7f0000110000, "r--s", "/tmp/data.bin",
		     64, 0, "rd sh mr mw me ms");
	/* one app page merged by the kernel with a 1 MiB malloc-mmap block */
	smaps_region(0x7f0000200000, 0x7f0000302000, "rw-p", "", 8, 0,
		     ANON_FLAGS);
	/* MAP_FIXED over page 2 of a 4-page mapping */
	smaps_region(0x7f0000400000, 0x7f0000401000, "rw-p", "", 4, 0,
		     ANON_FLAGS);
	smaps_region(0x7f0000401000, 0x7f0000402000, "r--p", "", 0, 0,
		     "rd mr mw me");
	smaps_region(0x7f0000402000, 0x7f0000404000, "rw-p", "", 8, 0,
		     ANON_FLAGS);
	/* 8 pages, pages 3-4 unmapped */
	smaps_region(0x7f0000500000, 0x7f0000503000, "rw-p", "", 12, 0,
		     ANON_FLAGS);
	smaps_region(0x7f0000505000, 0x7f0000508000, "rw-p", "", 12, 0,
		     ANON_FLAGS);
	/* moved by mremap, then MADV_HUGEPAGE */
	smaps_region(0x7f0000700000, 0x7f0000900000, "rw-p", "", 2048, 2048,
		     ANON_FLAGS " hg");
	/* posix and SysV shm */
	smaps_region(0x7f0000900000, 0x7f0000920000, "rw-s", "/dev/shm/foo",
		     128, 0, "rd wr sh mr mw me ms");
	smaps_region(0x7f0000a00000, 0x7f0000a40000, "rw-s",
		     "/SYSV00001234 (deleted)", 256, 0, "rd wr sh mr mw me ms");
	/* the recorder thread and its guard */
	smaps_region(0x7f0000c00000, 0x7f0000c01000, "---p", "", 0, 0,
		     "mr mw me nh");
	smaps_region(0x7f0000c01000, 0x7f0000c41000, "rw-p", "", 8, 0,
		     ANON_FLAGS " nh");
	/* main thread TLS (ld.so) and one unexplained page */
	smaps_region(0x7f0000d00000, 0x7f0000d02000, "rw-p", "", 8, 0,
		     ANON_FLAGS);
	smaps_region(0x7f0000e00000, 0x7f0000e10000, "rw-p", "", 64, 0,
		     ANON_FLAGS);
	/* a live thread's stack and an exited (cached) one */
	smaps_region(0x7f0001000000, 0x7f0001001000, "---p", "", 0, 0,
		     "mr mw me nh");
	smaps_region(0x7f0001001000, 0x7f0001801000, "rw-p", "", 16, 0,
		     ANON_FLAGS " nh");
	smaps_region(0x7f0002000000, 0x7f0002001000, "---p", "", 0, 0,
		     "mr mw me nh");
	smaps_region(0x7f0002001000, 0x7f0002801000, "rw-p", "", 8, 0,
		     ANON_FLAGS " nh");
	/* a thread arena: 64 MiB-aligned, MAP_NORESERVE */
	smaps_region(0x7f0004000000, 0x7f0004021000, "rw-p", "", 8, 0,
		     "rd wr mr mw me nr");
	smaps_region(0x7f0004021000, 0x7f0008000000, "---p", "", 0, 0,
		     "mr mw me nr");
	/* the kernel's */
	smaps_region(0x7ffd00000000, 0x7ffd00021000, "rw-p", "[stack]", 16, 0,
		     "rd wr mr mw me gd ac");
	smaps_region(0x7ffd00100000, 0x7ffd00104000, "r--p", "[vvar]", 0, 0,
		     "rd mr pf io de dd");
	smaps_region(0x7ffd00104000, 0x7ffd00106000, "r-xp", "[vdso]", 4, 0,
		     "rd ex mr mw me de");
	smaps_region(0xffffffffff600000, 0xffffffffff601000, "--xp",
		     "[vsyscall]", 0, 0, "ex");
	memset(s, 0, sizeof(*s));
	if (vms_snapshot_parse(s, "snap.t", text.s, text.len, true, &err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
}

/* ---- building the state ------------------------------------------------------ */

static uint64_t seq;

static void apply(struct vms_state *st, struct vms_event ev)
{
	ev.seq = ++seq;
	vms_state_apply(st, &ev);
}

static void ev_mmap(struct vms_state *st, uint64_t addr, uint64_t len,
		    unsigned prot, unsigned flags, const char *path,
		    vms_stack_id stack)
{
	apply(st, (struct vms_event){ .type = VMS_REC_MMAP,
				      .api = VMS_API_MMAP, .addr = addr,
				      .len = len, .prot = prot,
				      .flags = flags, .fd = path ? 3 : -1,
				      .str = path,
				      .str_len = path ? strlen(path) : 0,
				      .gstack = stack });
}

static void ev_munmap(struct vms_state *st, uint64_t addr, uint64_t len,
		      enum vms_api api)
{
	apply(st, (struct vms_event){ .type = VMS_REC_MUNMAP, .api = api,
				      .addr = addr, .len = len });
}

static void ev_malloc(struct vms_state *st, uint64_t addr, uint64_t size,
		      vms_stack_id stack)
{
	apply(st, (struct vms_event){ .type = VMS_REC_ALLOC,
				      .api = VMS_API_MALLOC, .addr = addr,
				      .size = size, .gstack = stack });
}

static void build_state(struct vms_state *st)
{
	seq = 0;
	vms_state_init(st, 4096, 1000);
	ev_mmap(st, 0x7f0000100000, 0x10000, PROT_READ, MAP_SHARED,
		"/tmp/data.bin", 11);
	ev_mmap(st, 0x7f0000200000, 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, NULL, 14);
	ev_malloc(st, 0x7f0000201010, 0x100000, 24);
	ev_mmap(st, 0x7f0000400000, 4 * 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, NULL, 15);
	ev_mmap(st, 0x7f0000401000, 4096, PROT_READ,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 16);
	ev_mmap(st, 0x7f0000500000, 8 * 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, NULL, 17);
	ev_munmap(st, 0x7f0000503000, 2 * 4096, VMS_API_MUNMAP);
	ev_mmap(st, 0x7f0000600000, 2 * 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, NULL, 18);
	ev_munmap(st, 0x7f0000600000, 2 * 4096, VMS_API_MREMAP);
	apply(st, (struct vms_event){ .type = VMS_REC_MMAP,
				      .api = VMS_API_MREMAP,
				      .addr = 0x7f0000700000, .len = 2 << 20,
				      .old_addr = 0x7f0000600000,
				      .old_len = 2 * 4096, .gstack = 19 });
	ev_mmap(st, 0x7f0000900000, 0x20000, PROT_READ | PROT_WRITE,
		MAP_SHARED, "/dev/shm/foo", 22);
	apply(st, (struct vms_event){ .type = VMS_REC_SHMAT,
				      .api = VMS_API_SHMAT,
				      .addr = 0x7f0000a00000, .size = 0x40000,
				      .key = 0x1234, .shmid = 7,
				      .gstack = 23 });
	ev_malloc(st, 0x555555600010, 100, 13);
	ev_malloc(st, 0x555555600080, 200, 13);
	ev_malloc(st, 0x7f00040008c0, 1000, 20);
}

/* ---- checks ------------------------------------------------------------------------ */

static const struct vms_attr_region *at(const struct vms_attribution *a,
					uint64_t addr)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].start <= addr && addr < a->v[i].end)
			return &a->v[i];
	fail_msg("no region at %#llx", (unsigned long long)addr);
	return NULL;
}

#define KIND(a, addr, k) \
	assert_string_equal(vms_attr_kind_names[at(a, addr)->kind], k)

struct fixture {
	struct vms_snapshot snap;
	struct vms_state st;
	struct vms_attr_thread threads[3];
	struct vms_attr_brk brk;
	struct vms_attr_madvise madv;
	struct vms_attr_input in;
	struct vms_attribution a;
};

static struct fixture *setup_fixture(uint64_t budget)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	build_snapshot(&f->snap);
	build_state(&f->st);
	f->threads[0] = (struct vms_attr_thread){ 1000, 0, 0, 0, 0, true };
	f->threads[1] = (struct vms_attr_thread){
		1001, 0x7f0001001000, 0x7f0001801000, 4096, 21, true };
	f->threads[2] = (struct vms_attr_thread){
		1002, 0x7f0002001000, 0x7f0002801000, 4096, 25, false };
	f->brk = (struct vms_attr_brk){ 0x555555680000, 0x555555700000, 12 };
	f->madv = (struct vms_attr_madvise){ 0x7f0000700000, 0x7f0000900000,
					     MADV_HUGEPAGE, 50, 26 };
	f->in = (struct vms_attr_input){
		.snap = &f->snap,
		.state = &f->st,
		.threads = f->threads,
		.nr_threads = 3,
		.brks = &f->brk,
		.nr_brks = 1,
		.madvise = &f->madv,
		.nr_madvise = 1,
		.main_tp = 0x7f0000d00f00,
		.recorder_budget = budget,
	};
	assert_int_equal(vms_attribute(&f->in, &f->a), 0);
	return f;
}

static void free_fixture(struct fixture *f)
{
	vms_attribution_release(&f->a);
	vms_state_release(&f->st);
	vms_snapshot_release(&f->snap);
	free(f);
}

static void kinds(void **state)
{
	struct fixture *f = setup_fixture(0);
	const struct vms_attribution *a = &f->a;
	const struct vms_attr_region *r;
	(void)state;

	/* module parts by permissions and segment */
	assert_string_equal(at(a, 0x555555554000)->detail, "rodata");
	assert_string_equal(at(a, 0x555555555000)->detail, "text");
	assert_string_equal(at(a, 0x555555557000)->detail, "relro");
	assert_string_equal(at(a, 0x555555558000)->detail, "data");
	r = at(a, 0x555555559000);
	assert_string_equal(vms_attr_kind_names[r->kind], "module");
	assert_string_equal(r->detail, "bss");
	assert_string_equal(r->name, "/bin/app");

	/* [heap]: malloc's part with its sites, the app's sbrk part */
	r = at(a, 0x555555600000);
	KIND(a, 0x555555600000, "heap");
	assert_int_equal(r->end, 0x555555680000);
	assert_int_equal(r->nr_sites, 1);
	assert_int_equal(r->sites[0].stack, 13);
	assert_int_equal(r->sites[0].bytes, 300);
	assert_int_equal(r->sites[0].count, 2);
	r = at(a, 0x555555680000);
	KIND(a, 0x555555680000, "heap");
	assert_int_equal(r->stack, 12);
	assert_string_equal(r->detail, "brk/sbrk by the app");

	r = at(a, 0x7f0000100000);
	KIND(a, 0x7f0000100000, "file");
	assert_string_equal(r->name, "/tmp/data.bin");
	assert_int_equal(r->stack, 11);

	/* the merged region is split: app page, then the malloc block */
	r = at(a, 0x7f0000200000);
	KIND(a, 0x7f0000200000, "mmap");
	assert_int_equal(r->end, 0x7f0000201000);
	assert_int_equal(r->stack, 14);
	assert_true(r->split);
	assert_int_equal(r->rss, 4096); /* page 0 resident, by the bitmap */
	r = at(a, 0x7f0000201000);
	KIND(a, 0x7f0000201000, "malloc-mmap");
	assert_int_equal(r->end, 0x7f0000302000);
	assert_int_equal(r->stack, 24);
	assert_int_equal(r->rss, 4096);
	assert_int_equal(r->nr_sites, 1);

	/* MAP_FIXED overwrite: rw | r | rw with their own stacks */
	assert_int_equal(at(a, 0x7f0000400000)->stack, 15);
	assert_int_equal(at(a, 0x7f0000401000)->stack, 16);
	assert_int_equal(at(a, 0x7f0000402000)->stack, 15);
	KIND(a, 0x7f0000401000, "mmap");
	/* partial munmap: both halves from the same call */
	assert_int_equal(at(a, 0x7f0000500000)->stack, 17);
	assert_int_equal(at(a, 0x7f0000505000)->stack, 17);
	/* mremap move: the mremap's stack, madvise joined */
	r = at(a, 0x7f0000700000);
	KIND(a, 0x7f0000700000, "mmap");
	assert_int_equal(r->stack, 19);
	assert_int_equal(r->nr_madvise, 1);
	assert_int_equal(r->anon_huge, 2048 * 1024);
	assert_string_equal(vms_madvise_name(f->madv.advice), "MADV_HUGEPAGE");

	r = at(a, 0x7f0000900000);
	KIND(a, 0x7f0000900000, "shm-posix");
	assert_string_equal(r->name, "/foo");
	assert_int_equal(r->stack, 22);
	r = at(a, 0x7f0000a00000);
	KIND(a, 0x7f0000a00000, "shm-sysv");
	assert_non_null(strstr(r->name, "key 0x1234"));
	assert_int_equal(r->stack, 23);

	KIND(a, 0x7f0000c00000, "vmspy");
	KIND(a, 0x7f0000c01000, "vmspy");
	r = at(a, 0x7f0000d00000);
	KIND(a, 0x7f0000d00000, "loader");
	assert_non_null(strstr(r->detail, "TLS"));
	r = at(a, 0x7f0000e00000);
	KIND(a, 0x7f0000e00000, "unattributed");
	assert_non_null(r->reason);

	/* thread stacks: live (with guard), and glibc's cached one */
	r = at(a, 0x7f0001000000);
	KIND(a, 0x7f0001000000, "thread-stack");
	assert_string_equal(r->detail, "guard page");
	assert_int_equal(r->stack, 21);
	KIND(a, 0x7f0001001000, "thread-stack");
	r = at(a, 0x7f0002001000);
	KIND(a, 0x7f0002001000, "thread-stack");
	assert_non_null(strstr(r->detail, "cached"));

	/* the arena and its reserve */
	r = at(a, 0x7f0004000000);
	KIND(a, 0x7f0004000000, "malloc-arena");
	assert_int_equal(r->nr_sites, 1);
	assert_int_equal(r->sites[0].stack, 20);
	KIND(a, 0x7f0004021000, "malloc-arena");

	KIND(a, 0x7ffd00000000, "stack");
	KIND(a, 0x7ffd00100000, "vvar");
	KIND(a, 0x7ffd00104000, "vdso");
	KIND(a, 0xffffffffff600000, "vsyscall");

	/* the sums are smaps' sums */
	assert_int_equal(a->all.rss, a->smaps_rss);
	assert_int_equal(a->all.size, a->smaps_size);
	assert_int_equal(a->unattributed_bytes, 0x10000);
	free_fixture(f);
}

static void budget_and_sites(void **state)
{
	struct fixture *f = setup_fixture(1 << 20);
	struct vms_attr_site_usage *u;
	size_t n;
	bool seen_block = false;
	(void)state;

	KIND(&f->a, 0x7f0000e00000, "vmspy");
	assert_int_equal(f->a.unattributed_bytes, 0);
	assert_int_equal(f->a.recorder_budget_used, 0x10000);

	u = vms_attr_by_site(&f->in, &f->a, &n);
	assert_non_null(u);
	for (size_t i = 0; i < n; i++) {
		if (u[i].stack == 24) {
			/* 1 MiB asked, only page 1 resident: the block's
			 * bytes on it, 0x1010..0x2000 */
			assert_int_equal(u[i].virt, 0x100000);
			assert_int_equal(u[i].resident, 0x2000 - 0x1010);
			seen_block = true;
		}
		if (i)
			assert_true(u[i - 1].resident >= u[i].resident);
	}
	assert_true(seen_block);
	free(u);
	free_fixture(f);
}

/* ---- the map at the last event ------------------------------------------- */

static struct vms_event after_ev[16];
static size_t nr_after;

/* An event after the snapshot (seq 1000): applied and kept. */
static void after(struct vms_state *st, struct vms_event ev)
{
	ev.seq = ++seq;
	vms_state_apply(st, &ev);
	assert_true(nr_after < VMS_ARRAY_SIZE(after_ev));
	after_ev[nr_after++] = ev;
}

static bool mapped(const struct vms_attribution *a, uint64_t addr)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].start <= addr && addr < a->v[i].end)
			return true;
	return false;
}

static void reconstructed(void **state)
{
	struct fixture *f = setup_fixture(0);
	struct vms_attr_reconstruction rc;
	struct vms_attr_brk brks[2];
	struct vms_attribution a;
	const struct vms_attr_region *r;
	(void)state;

	seq = 1000;
	nr_after = 0;
	/* a new mapping; the last page of the MAP_FIXED example unmapped */
	after(&f->st, (struct vms_event){ .type = VMS_REC_MMAP,
					  .api = VMS_API_MMAP,
					  .addr = 0x7f0000b00000, .len = 0x4000,
					  .prot = PROT_READ | PROT_WRITE,
					  .flags = MAP_PRIVATE | MAP_ANONYMOUS,
					  .fd = -1, .gstack = 30 });
	after(&f->st, (struct vms_event){ .type = VMS_REC_MUNMAP,
					  .api = VMS_API_MUNMAP,
					  .addr = 0x7f0000402000,
					  .len = 4096 });
	/* the 2 MiB MADV_HUGEPAGE mapping moved by mremap */
	after(&f->st, (struct vms_event){ .type = VMS_REC_MUNMAP,
					  .api = VMS_API_MREMAP,
					  .addr = 0x7f0000700000,
					  .len = 2 << 20 });
	after(&f->st, (struct vms_event){ .type = VMS_REC_MMAP,
					  .api = VMS_API_MREMAP,
					  .addr = 0x7f0003000000,
					  .len = 2 << 20,
					  .old_addr = 0x7f0000700000,
					  .old_len = 2 << 20, .gstack = 31 });
	after(&f->st, (struct vms_event){ .type = VMS_REC_BRK,
					  .api = VMS_API_SBRK,
					  .old_brk = 0x555555700000,
					  .new_brk = 0x555555710000,
					  .gstack = 32 });
	/* glibc maps a 2 MiB block and unmaps the 1 MiB one (the caller
	 * gives a FREE its block's size) */
	after(&f->st, (struct vms_event){ .type = VMS_REC_ALLOC,
					  .api = VMS_API_MALLOC,
					  .addr = 0x7f0010000010,
					  .size = 0x200000, .gstack = 33 });
	after(&f->st, (struct vms_event){ .type = VMS_REC_FREE,
					  .api = VMS_API_FREE,
					  .addr = 0x7f0000201010,
					  .size = 0x100000 });
	/* small blocks glibc put where no region was: [heap] grew past the
	 * app's sbrk, and a new thread's arena */
	after(&f->st, (struct vms_event){ .type = VMS_REC_ALLOC,
					  .api = VMS_API_MALLOC,
					  .addr = 0x555555720010, .size = 100,
					  .gstack = 34 });
	after(&f->st, (struct vms_event){ .type = VMS_REC_ALLOC,
					  .api = VMS_API_MALLOC,
					  .addr = 0x7f00140008c0, .size = 1000,
					  .gstack = 35 });

	vms_attr_reconstruct(&f->snap, after_ev, nr_after, &f->st, &rc);
	assert_int_equal(rc.events, 6); /* not the ALLOCs */
	assert_int_equal(rc.uncovered_blocks, 3);
	brks[0] = f->brk;
	brks[1] = (struct vms_attr_brk){ 0x555555700000, 0x555555710000, 32 };
	f->in.snap = &rc.snap;
	f->in.estimated = rc.estimated;
	f->in.brks = brks;
	f->in.nr_brks = 2;
	f->in.nr_madvise = 0;
	assert_int_equal(vms_attribute(&f->in, &a), 0);

	r = at(&a, 0x7f0000b00000);
	KIND(&a, 0x7f0000b00000, "mmap");
	assert_int_equal(r->end, 0x7f0000b04000);
	assert_int_equal(r->stack, 30);
	assert_true(r->estimated);
	assert_int_equal(r->rss, 0);

	/* partial munmap: the cut piece is estimated, its neighbour not */
	assert_false(mapped(&a, 0x7f0000402000));
	r = at(&a, 0x7f0000403000);
	assert_int_equal(r->start, 0x7f0000403000);
	assert_int_equal(r->stack, 15);
	assert_true(r->estimated);
	r = at(&a, 0x7f0000400000);
	assert_int_equal(r->stack, 15);
	assert_false(r->estimated);
	assert_int_equal(r->rss, 4096);

	/* the moved mapping keeps its origin and permissions */
	assert_false(mapped(&a, 0x7f0000700000));
	r = at(&a, 0x7f0003000000);
	KIND(&a, 0x7f0003000000, "mmap");
	assert_int_equal(r->end, 0x7f0003200000);
	assert_string_equal(r->perms, "rw-p");
	assert_int_equal(r->stack, 31);
	assert_true(r->estimated);

	/* [heap] grown by sbrk: a new piece after the snapshot's */
	r = at(&a, 0x555555700000);
	KIND(&a, 0x555555700000, "heap");
	assert_int_equal(r->end, 0x555555710000);
	assert_int_equal(r->stack, 32);
	assert_true(r->estimated);
	assert_false(at(&a, 0x555555600000)->estimated); /* no new block */

	/* the big malloc gets the mapping glibc made; the freed one is gone
	 * and the app page it was merged with stays */
	r = at(&a, 0x7f0010000000);
	KIND(&a, 0x7f0010000000, "malloc-mmap");
	assert_int_equal(r->end, 0x7f0010201000);
	assert_int_equal(r->stack, 33);
	assert_true(r->estimated);
	assert_int_equal(r->nr_sites, 1);
	assert_false(mapped(&a, 0x7f0000201000));
	r = at(&a, 0x7f0000200000);
	KIND(&a, 0x7f0000200000, "mmap");
	assert_int_equal(r->end, 0x7f0000201000);
	assert_int_equal(r->stack, 14);

	r = at(&a, 0x555555720010);
	KIND(&a, 0x555555720010, "heap");
	assert_int_equal(r->start, 0x555555710000);
	assert_int_equal(r->end, 0x555555721000);
	assert_int_equal(r->sites[0].stack, 34);
	r = at(&a, 0x7f00140008c0);
	KIND(&a, 0x7f00140008c0, "malloc-arena");
	assert_int_equal(r->start, 0x7f0014000000);
	assert_int_equal(r->sites[0].stack, 35);

	/* a region that got new blocks keeps its counters, marked */
	ev_malloc(&f->st, 0x555555600200, 50, 36);
	vms_attribution_release(&a);
	vms_attr_reconstruction_release(&rc);
	vms_attr_reconstruct(&f->snap, after_ev, nr_after, &f->st, &rc);
	f->in.snap = &rc.snap;
	f->in.estimated = rc.estimated;
	assert_int_equal(vms_attribute(&f->in, &a), 0);
	r = at(&a, 0x555555600000);
	assert_true(r->estimated);
	assert_int_equal(r->rss, 4096); /* its share of [heap]'s 8 KiB */

	/* untouched regions keep smaps' counters */
	r = at(&a, 0x7f0000900000);
	KIND(&a, 0x7f0000900000, "shm-posix");
	assert_false(r->estimated);
	assert_int_equal(r->rss, 128 * 1024);
	KIND(&a, 0x7f0004000000, "malloc-arena");

	vms_attribution_release(&a);
	vms_attr_reconstruction_release(&rc);
	free_fixture(f);
}

static void pagemap_bitmap(void **state)
{
	struct vms_snapshot s;
	char *err = NULL;
	static const char t[] = "vmspy-snapshot 1\nseq 1\n"
				"pagemap 1000 9000 3 a1\n"
				"pagemap 9000 a000 1\n"
				"smaps\n";
	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(vms_snapshot_parse(&s, "t", t, sizeof(t) - 1, true,
					    &err), 0);
	assert_int_equal(s.nr_pagemap, 2);
	/* 'a' = 1010: pages 1 and 3; '1' = page 4 */
	assert_int_equal(vms_snap_pagemap_page(&s.pagemap[0], 0), 0);
	assert_int_equal(vms_snap_pagemap_page(&s.pagemap[0], 1), 1);
	assert_int_equal(vms_snap_pagemap_page(&s.pagemap[0], 3), 1);
	assert_int_equal(vms_snap_pagemap_page(&s.pagemap[0], 4), 1);
	assert_int_equal(vms_snap_pagemap_page(&s.pagemap[0], 5), 0);
	assert_int_equal(vms_snap_pagemap_page(&s.pagemap[0], 8), -1);
	assert_int_equal(vms_snap_pagemap_page(&s.pagemap[1], 0), -1);
	vms_snapshot_release(&s);

	static const char bad[] = "vmspy-snapshot 1\npagemap 0 1000 1 xz\n";
	memset(&s, 0, sizeof(s));
	assert_int_equal(vms_snapshot_parse(&s, "t", bad, sizeof(bad) - 1,
					    true, &err), -1);
	assert_non_null(strstr(err, "bitmap"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kinds),
		cmocka_unit_test(budget_and_sites),
		cmocka_unit_test(reconstructed),
		cmocka_unit_test(pagemap_bitmap),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	vms_strbuf_release(&text);
	return r;
}
