/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of analyzer/symbols.c.  The test symbolizes itself: it lists
 * its own modules with dl_iterate_phdr exactly as the recorder does (path,
 * load bias, build-id from the PT_NOTE in memory, PT_LOAD range) and looks
 * up return addresses taken in known functions of this file, whose lines
 * are computed with __LINE__ on the line of the call.  Built with -O2 -g,
 * as the Makefile builds every unit test: the inlining checks rely on it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <search.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbols.h"

/* Keep a function whole and where it is: not inlined, cloned or turned
 * into a tail call of what it calls. */
#ifdef __clang__
#define NOIPA __attribute__((noinline, optnone))
#else
#define NOIPA __attribute__((noipa))
#endif
#define MAX_MODS 64

/* ---- the module list, as the recorder writes it ------------------------- */

struct mods {
	struct vms_module_desc d[MAX_MODS];
	char path[MAX_MODS][PATH_MAX];
	char id[MAX_MODS][2 * 64 + 1];
	size_t n;
};

static struct mods mods;

static void note_build_id(const struct dl_phdr_info *info,
			  const ElfW(Phdr) *ph, char *out)
{
	size_t align = ph->p_align == 8 ? 8 : 4;
	const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
	const char *end = p + ph->p_memsz;
	while (p + sizeof(ElfW(Nhdr)) <= end) {
		const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
		const char *name = p + sizeof(*nh);
		const unsigned char *desc = (const unsigned char *)name +
			((nh->n_namesz + align - 1) & ~(align - 1));
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
		    !memcmp(name, "GNU", 4) && nh->n_descsz <= 64) {
			for (size_t i = 0; i < nh->n_descsz; i++)
				sprintf(out + 2 * i, "%02x", desc[i]);
			return;
		}
		p = (const char *)desc +
		    ((nh->n_descsz + align - 1) & ~(align - 1));
	}
}

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mods *m = arg;
	(void)size;
	if (m->n == MAX_MODS)
		return 1;
	size_t i = m->n;
	if (info->dlpi_name[0]) {
		snprintf(m->path[i], PATH_MAX, "%s", info->dlpi_name);
	} else {
		ssize_t len = readlink("/proc/self/exe", m->path[i],
				       PATH_MAX - 1);
		m->path[i][len > 0 ? len : 0] = '\0';
	}
	strcpy(m->id[i], "-");
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int k = 0; k < info->dlpi_phnum; k++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
		if (ph->p_type == PT_NOTE && !strcmp(m->id[i], "-"))
			note_build_id(info, ph, m->id[i]);
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t s = info->dlpi_addr + ph->p_vaddr;
		if (s < lo)
			lo = s;
		if (s + ph->p_memsz > hi)
			hi = s + ph->p_memsz;
	}
	m->d[i] = (struct vms_module_desc){ m->path[i], info->dlpi_addr,
					    m->id[i], lo, hi };
	m->n++;
	return 0;
}

static const struct vms_module_desc *find_mod(const char *base)
{
	for (size_t i = 0; i < mods.n; i++) {
		const char *s = strrchr(mods.d[i].path, '/');
		if (!strcmp(s ? s + 1 : mods.d[i].path, base))
			return &mods.d[i];
	}
	return NULL;
}

static const char *self_name(void)
{
	static char buf[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	buf[len > 0 ? len : 0] = '\0';
	const char *s = strrchr(buf, '/');
	return s ? s + 1 : buf;
}

static const char *base(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p;
}

static int setup(void **state)
{
	(void)state;
	memset(&mods, 0, sizeof(mods));
	dl_iterate_phdr(add_module, &mods);
	return mods.n ? 0 : -1;
}

/* ---- known code ------------------------------------------------------------ */

static NOIPA uintptr_t return_address(void)
{
	return (uintptr_t)__builtin_return_address(0);
}

static NOIPA uintptr_t known_caller(int *line)
{
	uintptr_t ra = return_address(); *line = __LINE__;
	return ra;
}

static inline __attribute__((always_inline)) uintptr_t
inlined_helper(int *line)
{
	uintptr_t ra = return_address(); *line = __LINE__;
	return ra;
}

static NOIPA uintptr_t inline_host(int *inner, int *outer)
{
	uintptr_t ra = inlined_helper(inner); *outer = __LINE__;
	return ra;
}

static uintptr_t libc_ra;

/* A comparison function that remembers where libc called it from. */
static int cmp_int(const void *a, const void *b)
{
	if (!libc_ra)
		libc_ra = (uintptr_t)__builtin_return_address(0);
	return *(const int *)a - *(const int *)b;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_own_function(void **state)
{
	(void)state;
	int line = 0;
	uintptr_t ra = known_caller(&line);
	struct vms_symtab *st = vms_symtab_new(mods.d, mods.n);
	assert_non_null(st);
	const struct vms_sym_frame *f;
	size_t n = vms_symtab_lookup(st, ra, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "known_caller");
	assert_non_null(f[0].file);
	assert_string_equal(base(f[0].file), "test_symbols.c");
	assert_int_equal(f[0].line, line);
	assert_int_equal(f[0].inlined, 0);
	assert_string_equal(f[0].module, self_name());
	assert_int_equal(f[0].address, ra);
	assert_int_equal(f[0].module_offset,
			 ra - find_mod(self_name())->bias);

	char buf[256], want[256];
	vms_sym_frame_format(&f[0], buf, sizeof(buf));
	snprintf(want, sizeof(want), "known_caller (test_symbols.c:%d)", line);
	assert_string_equal(buf, want);
	vms_symtab_free(st);
}

static void test_inlined(void **state)
{
	(void)state;
	int inner = 0, outer = 0;
	uintptr_t ra = inline_host(&inner, &outer);
	struct vms_symtab *st = vms_symtab_new(mods.d, mods.n);
	assert_non_null(st);
	const struct vms_sym_frame *f;
	size_t n = vms_symtab_lookup(st, ra, &f);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].function, "inlined_helper");
	assert_int_equal(f[0].line, inner);
	assert_int_equal(f[0].inlined, 1);
	assert_string_equal(base(f[0].file), "test_symbols.c");
	assert_string_equal(f[1].function, "inline_host");
	assert_int_equal(f[1].line, outer);
	assert_int_equal(f[1].inlined, 0);
	assert_string_equal(base(f[1].file), "test_symbols.c");
	/* Both frames are the same instruction. */
	assert_int_equal(f[0].address, ra);
	assert_int_equal(f[1].address, ra);
	assert_string_equal(f[1].module, self_name());
	vms_symtab_free(st);
}

static void test_libc(void **state)
{
	(void)state;
	const struct vms_module_desc *libc = find_mod("libc.so.6");
	assert_non_null(libc);
	struct vms_symtab *st = vms_symtab_new(mods.d, mods.n);
	assert_non_null(st);

	/* A function entry: pid_t getpid(void) is exported, so the name is
	 * known with or without debug info (DWARF calls it __getpid). */
	uintptr_t a = (uintptr_t)&getpid + 1;
	const struct vms_sym_frame *f;
	size_t n = vms_symtab_lookup(st, a, &f);
	assert_true(n >= 1);
	assert_non_null(f[n - 1].function);
	assert_non_null(strstr(f[n - 1].function, "getpid"));
	assert_string_equal(f[n - 1].module, "libc.so.6");
	assert_int_equal(f[n - 1].module_offset, a - libc->bias);

	/* A real return address inside libc: lfind calling us back (not
	 * qsort: ASan's qsort interceptor wraps the comparison function). */
	int v[] = { 3, 1, 2 }, key = 2;
	size_t nmemb = 3;
	libc_ra = 0;
	assert_ptr_equal(lfind(&key, v, &nmemb, sizeof(v[0]), cmp_int), &v[2]);
	assert_true(libc_ra != 0);
	n = vms_symtab_lookup(st, libc_ra, &f);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(f[i].module, "libc.so.6");
		assert_int_equal(f[i].inlined, i + 1 < n);
	}
	/* With libc6-dbg the internal function is known by its DWARF name. */
	char dbg[256];
	snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug",
		 libc->build_id_hex, libc->build_id_hex + 2);
	if (access(dbg, R_OK) == 0) {
		assert_non_null(f[n - 1].function);
		assert_string_equal(f[n - 1].function, "lfind");
		assert_non_null(f[n - 1].file);
		assert_true(f[n - 1].line > 0);
	}
	vms_symtab_free(st);
}

/* A symtab prepared by vms_symtab_prepare (as symbolize.c's helper thread
 * does) and adopted by a fresh one answers exactly as one that did all the
 * work itself; modules the donor did not finish are not taken. */
static void test_prepare_adopt(void **state)
{
	(void)state;
	int line = 0, inner = 0, outer = 0, v[] = { 3, 1, 2 }, key = 2;
	size_t nmemb = 3;
	uintptr_t ras[4];

	libc_ra = 0;
	assert_ptr_equal(lfind(&key, v, &nmemb, sizeof(v[0]), cmp_int), &v[2]);
	ras[0] = known_caller(&line);
	ras[1] = inline_host(&inner, &outer);
	ras[2] = libc_ra;
	ras[3] = (uintptr_t)&getpid + 1;

	struct vms_symtab *plain = vms_symtab_new(mods.d, mods.n);
	struct vms_symtab *donor = vms_symtab_new(mods.d, mods.n);
	struct vms_symtab *st = vms_symtab_new(mods.d, mods.n);
	assert_non_null(plain);
	assert_non_null(donor);
	assert_non_null(st);
	assert_true(vms_symtab_prepare(donor, ras[0]));
	assert_false(vms_symtab_prepare(donor, ras[1])); /* same module */
	assert_true(vms_symtab_prepare(donor, ras[2]));
	assert_false(vms_symtab_prepare(donor, 16)); /* in no module */
	assert_int_equal(vms_symtab_adopt(st, donor), 2);
	/* the donor is a husk now, and frees cleanly */
	vms_symtab_free(donor);

	for (size_t i = 0; i < 4; i++) {
		const struct vms_sym_frame *a, *b;
		size_t na = vms_symtab_lookup(plain, ras[i], &a);
		size_t nb = vms_symtab_lookup(st, ras[i], &b);
		assert_int_equal(na, nb);
		for (size_t k = 0; k < na; k++) {
			char fa[512], fb[512];
			vms_sym_frame_format(&a[k], fa, sizeof(fa));
			vms_sym_frame_format(&b[k], fb, sizeof(fb));
			assert_string_equal(fa, fb);
			assert_int_equal(a[k].line, b[k].line);
			assert_int_equal(a[k].inlined, b[k].inlined);
			assert_int_equal(a[k].module_offset, b[k].module_offset);
		}
	}
	vms_symtab_free(plain);
	vms_symtab_free(st);
}

static void test_outside_any_module(void **state)
{
	(void)state;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	uintptr_t a = (uintptr_t)p + 0x10;
	struct vms_symtab *st = vms_symtab_new(mods.d, mods.n);
	assert_non_null(st);
	const struct vms_sym_frame *f;
	assert_int_equal(vms_symtab_lookup(st, a, &f), 1);
	assert_null(f[0].function);
	assert_null(f[0].module);
	assert_null(f[0].file);
	assert_int_equal(f[0].address, a);
	char buf[64], want[64];
	vms_sym_frame_format(&f[0], buf, sizeof(buf));
	snprintf(want, sizeof(want), "0x%lx", (unsigned long)a);
	assert_string_equal(buf, want);
	vms_symtab_free(st);
	munmap(p, 4096);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct vms_module_desc d = { "/nonexistent/dir/libgone.so.1",
				     0x10000000, "-", 0x10000000,
				     0x10100000 };
	struct vms_symtab *st = vms_symtab_new(&d, 1);
	assert_non_null(st);
	const struct vms_sym_module *m;
	assert_int_equal(vms_symtab_modules(st, &m), 1);
	assert_int_equal(m[0].status, VMS_SYM_MISSING);
	assert_null(m[0].elf_file);
	assert_string_equal(m[0].name, "libgone.so.1");

	const struct vms_sym_frame *f;
	assert_int_equal(vms_symtab_lookup(st, 0x10001234, &f), 1);
	assert_null(f[0].function);
	assert_string_equal(f[0].module, "libgone.so.1");
	assert_int_equal(f[0].module_offset, 0x1234);
	char buf[64];
	vms_sym_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "libgone.so.1+0x1234");
	/* Right after the end: pc = addr - 1 is still inside. */
	assert_int_equal(vms_symtab_lookup(st, 0x10100000, &f), 1);
	assert_non_null(f[0].module);
	assert_int_equal(vms_symtab_lookup(st, 0x10100001, &f), 1);
	assert_null(f[0].module);
	vms_symtab_free(st);
}

static void test_rebuilt_binary(void **state)
{
	(void)state;
	const struct vms_module_desc *self = find_mod(self_name());
	assert_non_null(self);
	struct vms_module_desc d = *self;
	d.build_id_hex = "0123456789abcdef0123456789abcdef01234567";
	int line;
	uintptr_t ra = known_caller(&line);
	struct vms_symtab *st = vms_symtab_new(&d, 1);
	assert_non_null(st);
	const struct vms_sym_module *m;
	assert_int_equal(vms_symtab_modules(st, &m), 1);
	assert_int_equal(m[0].status, VMS_SYM_MISMATCH);
	const struct vms_sym_frame *f;
	assert_int_equal(vms_symtab_lookup(st, ra, &f), 1);
	assert_null(f[0].function);
	assert_null(f[0].file);
	assert_string_equal(f[0].module, self_name());
	assert_int_equal(f[0].module_offset, ra - self->bias);
	vms_symtab_free(st);

	/* Without a recorded range, a rebuilt binary cannot give one. */
	d.start = d.end = 0;
	st = vms_symtab_new(&d, 1);
	assert_non_null(st);
	assert_int_equal(vms_symtab_modules(st, &m), 1);
	assert_int_equal(m[0].status, VMS_SYM_MISMATCH);
	assert_int_equal(m[0].end, 0);
	assert_int_equal(vms_symtab_lookup(st, ra, &f), 1);
	assert_null(f[0].module);
	vms_symtab_free(st);

	/* The right build-id (upper case is accepted) and no range: the
	 * range comes from the file. */
	char upper[2 * 64 + 1];
	snprintf(upper, sizeof(upper), "%s", self->build_id_hex);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	d.build_id_hex = upper;
	st = vms_symtab_new(&d, 1);
	assert_non_null(st);
	assert_int_equal(vms_symtab_modules(st, &m), 1);
	assert_int_equal(m[0].status, VMS_SYM_OK);
	assert_true(m[0].start <= ra && ra < m[0].end);
	assert_int_equal(vms_symtab_lookup(st, ra, &f), 1);
	assert_string_equal(f[0].function, "known_caller");
	vms_symtab_free(st);
}

static void test_debug_file_only(void **state)
{
	(void)state;
	const struct vms_module_desc *libc = find_mod("libc.so.6");
	assert_non_null(libc);
	char dbg[256];
	snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug",
		 libc->build_id_hex, libc->build_id_hex + 2);
	if (access(dbg, R_OK) != 0)
		skip(); /* libc6-dbg not installed */
	struct vms_module_desc d = *libc;
	d.path = "/nonexistent/libc.so.6";
	struct vms_symtab *st = vms_symtab_new(&d, 1);
	assert_non_null(st);
	const struct vms_sym_module *m;
	assert_int_equal(vms_symtab_modules(st, &m), 1);
	assert_int_equal(m[0].status, VMS_SYM_DEBUG_ONLY);
	assert_string_equal(m[0].elf_file, dbg);
	const struct vms_sym_frame *f;
	size_t n = vms_symtab_lookup(st, (uintptr_t)&getpid + 1, &f);
	assert_non_null(strstr(f[n - 1].function, "getpid"));
	assert_non_null(f[n - 1].file);
	assert_string_equal(f[n - 1].module, "libc.so.6");
	vms_symtab_free(st);
}

/* clang emits no .debug_aranges by default; elfutils 0.188 then finds no
 * CU for an address by itself.  A copy of this test without the section
 * must symbolize the same. */
static void test_no_aranges(void **state)
{
	(void)state;
	const struct vms_module_desc *self = find_mod(self_name());
	assert_non_null(self);
	char dir[] = "/tmp/vmspy-test-symbols.XXXXXX", copy[2 * PATH_MAX],
		cmd[4 * PATH_MAX];
	assert_non_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/%s", dir, self_name());
	snprintf(cmd, sizeof(cmd),
		 "objcopy --remove-section=.debug_aranges '%s' '%s' "
		 "2>/dev/null", self->path, copy);
	if (system(cmd) != 0) {
		rmdir(dir);
		skip(); /* no binutils */
	}
	struct vms_module_desc d = *self;
	d.path = copy;
	int line, inner, outer;
	uintptr_t a = known_caller(&line), b = inline_host(&inner, &outer);
	struct vms_symtab *st = vms_symtab_new(&d, 1);
	assert_non_null(st);
	const struct vms_sym_module *m;
	assert_int_equal(vms_symtab_modules(st, &m), 1);
	assert_int_equal(m[0].status, VMS_SYM_OK);
	const struct vms_sym_frame *f;
	assert_int_equal(vms_symtab_lookup(st, a, &f), 1);
	assert_string_equal(f[0].function, "known_caller");
	assert_int_equal(f[0].line, line);
	assert_int_equal(vms_symtab_lookup(st, b, &f), 2);
	assert_string_equal(f[0].function, "inlined_helper");
	assert_int_equal(f[1].line, outer);
	vms_symtab_free(st);
	unlink(copy);
	rmdir(dir);
}

static void test_cache(void **state)
{
	(void)state;
	int line, inner, outer;
	uintptr_t a = known_caller(&line), b = inline_host(&inner, &outer);
	struct vms_symtab *st = vms_symtab_new(mods.d, mods.n);
	assert_non_null(st);
	const struct vms_sym_frame *f1, *f2, *g;
	size_t n1 = vms_symtab_lookup(st, a, &f1);
	vms_symtab_lookup(st, b, &g);
	/* Enough other addresses to make the cache grow and rehash. */
	const struct vms_module_desc *libc = find_mod("libc.so.6");
	for (uint64_t k = 0; k < 20000; k++) {
		const struct vms_sym_frame *x;
		vms_symtab_lookup(st, libc->start + k * 97, &x);
	}
	size_t n2 = vms_symtab_lookup(st, a, &f2);
	assert_ptr_equal(f1, f2);
	assert_int_equal(n1, n2);
	assert_true(f1 != g);
	vms_symtab_lookup(st, b, &f2);
	assert_ptr_equal(g, f2);
	/* Strings are interned. */
	int l2;
	assert_int_equal(vms_symtab_lookup(st, known_caller(&l2), &f2), 1);
	assert_ptr_equal(f1[0].file, f2[0].file);
	vms_symtab_free(st);
}

static void test_dedupe_and_skips(void **state)
{
	(void)state;
	size_t n = mods.n;
	struct vms_module_desc *d = calloc(3 * n + 4, sizeof(*d));
	assert_non_null(d);
	/* Three snapshots' worth of the same modules, plus junk entries. */
	for (size_t k = 0; k < 3; k++)
		memcpy(d + k * n, mods.d, n * sizeof(*d));
	d[3 * n] = (struct vms_module_desc){ "[vdso]", 0x1000, "-", 0x1000,
					     0x2000 };
	d[3 * n + 1] = (struct vms_module_desc){ "", 0x3000, NULL, 0x3000,
						 0x4000 };
	d[3 * n + 2] = (struct vms_module_desc){ NULL, 0x5000, NULL, 0, 0 };
	/* Overlaps the main program: dropped. */
	const struct vms_module_desc *self = find_mod(self_name());
	d[3 * n + 3] = (struct vms_module_desc){ "/nonexistent/overlap.so",
						 self->bias, "-",
						 self->start + 16,
						 self->end + 16 };
	struct vms_symtab *st = vms_symtab_new(d, 3 * n + 4);
	assert_non_null(st);
	const struct vms_sym_module *m;
	size_t nm = vms_symtab_modules(st, &m);
	assert_int_equal(nm, n);
	for (size_t i = 1; i < nm; i++)
		assert_true(m[i - 1].end <= m[i].start || m[i].end == 0);
	for (size_t i = 0; i < nm; i++)
		assert_string_not_equal(m[i].name, "overlap.so");
	int line;
	const struct vms_sym_frame *f;
	vms_symtab_lookup(st, known_caller(&line), &f);
	assert_string_equal(f[0].function, "known_caller");
	vms_symtab_free(st);
	free(d);
}

static void test_empty(void **state)
{
	(void)state;
	struct vms_symtab *st = vms_symtab_new(NULL, 0);
	assert_non_null(st);
	const struct vms_sym_frame *f;
	assert_int_equal(vms_symtab_lookup(st, 0, &f), 1);
	assert_null(f[0].module);
	char buf[32];
	vms_sym_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "0x0");
	vms_symtab_free(st);
	vms_symtab_free(NULL);
}

static void test_format(void **state)
{
	(void)state;
	char buf[64];
	struct vms_sym_frame f = { .function = "fn", .file = "/src/a/b.c",
				   .line = 12, .module = "libx.so",
				   .module_offset = 0x1234,
				   .address = 0x7f0000001234 };
	vms_sym_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fn (b.c:12)");
	f.line = 0;
	vms_sym_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fn (b.c)");
	f.file = NULL;
	vms_sym_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fn (libx.so)");
	f.function = NULL;
	vms_sym_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "libx.so+0x1234");
	f.module = NULL;
	vms_sym_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "0x7f0000001234");
	/* Truncation keeps a terminated string; len 0 writes nothing. */
	vms_sym_frame_format(&f, buf, 5);
	assert_string_equal(buf, "0x7f");
	buf[0] = 'x';
	vms_sym_frame_format(&f, buf, 0);
	assert_int_equal(buf[0], 'x');
}

static void test_demangle(void **state)
{
	(void)state;
	assert_null(vms_sym_demangle("main"));
	assert_null(vms_sym_demangle(NULL));
	assert_null(vms_sym_demangle("_Znotvalid"));
	char *s = vms_sym_demangle("_ZN3foo3barEi");
	if (!s)
		skip(); /* no libstdc++.so.6 on this machine */
	assert_string_equal(s, "foo::bar(int)");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_function),
		cmocka_unit_test(test_inlined),
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_prepare_adopt),
		cmocka_unit_test(test_outside_any_module),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_rebuilt_binary),
		cmocka_unit_test(test_debug_file_only),
		cmocka_unit_test(test_no_aranges),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_dedupe_and_skips),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_demangle),
	};
	return cmocka_run_group_tests_name("symbols", tests, setup, NULL);
}
