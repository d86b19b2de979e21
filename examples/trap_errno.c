// SPDX-License-Identifier: MIT
/*
 * trap_errno: the hooks must not change what the host sees.  Asserts, and
 * prints one line per check (run.sh compares the output with and without
 * the preload, so a difference in a value glibc chooses shows up too):
 *   - errno is kept across successful malloc/calloc/realloc/free/mmap/
 *     munmap/mprotect/madvise/posix_memalign, and set as glibc sets it by
 *     failing malloc, calloc, realloc, mmap, munmap, mremap, mprotect,
 *     madvise, shmat, shm_unlink, brk;
 *   - alignment of memalign, posix_memalign, aligned_alloc (16 .. 64 KiB),
 *     valloc and pvalloc;
 *   - realloc keeps the content when growing (into an mmapped chunk) and
 *     shrinking; realloc(NULL, n) allocates; realloc(p, 0) frees and
 *     returns NULL (glibc); calloc memory is zero; malloc_usable_size >= n;
 *   - sbrk(0) follows brk().
 * Exit 0 when every check passed, 1 otherwise.  No stdio.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

static int failed;
static volatile size_t huge = SIZE_MAX;

static void out(const char *s)
{
	write(1, s, strlen(s));
}

static void out_num(long v)
{
	char buf[24];
	int n = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	do
		buf[sizeof(buf) - 1 - n++] = (char)('0' + u % 10);
	while ((u /= 10));
	if (v < 0)
		buf[sizeof(buf) - 1 - n++] = '-';
	write(1, buf + sizeof(buf) - n, (size_t)n);
}

static void check(const char *what, int ok, int err)
{
	out(ok ? "ok   " : "FAIL ");
	out(what);
	out(" errno=");
	out_num(err);
	out("\n");
	if (!ok)
		failed = 1;
}

#define KEEP 4242 /* an errno value no call here sets */

/* Runs expr with errno = KEEP; it must still be KEEP afterwards. */
#define KEEPS(name, expr)                                  \
	do {                                               \
		errno = KEEP;                              \
		expr;                                      \
		int e_ = errno;                            \
		check("keeps errno: " name, e_ == KEEP, e_); \
	} while (0)

/* Runs expr (which must fail, cond) with errno = 0; prints errno. */
#define SETS(name, cond, want)                                      \
	do {                                                        \
		errno = 0;                                          \
		int ok_ = (cond);                                   \
		int e_ = errno;                                     \
		check("fails, sets errno: " name, ok_ && e_ == (want), e_); \
	} while (0)

static int aligned(const void *p, size_t a)
{
	return p && ((uintptr_t)p & (a - 1)) == 0;
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p = NULL, *q = NULL;
	char *c;

	KEEPS("malloc", p = malloc(100));
	KEEPS("free", free(p));
	KEEPS("calloc", p = calloc(10, 10));
	KEEPS("realloc grow", p = realloc(p, 100000));
	KEEPS("realloc shrink", p = realloc(p, 10));
	KEEPS("free after realloc", free(p));
	KEEPS("free(NULL)", free(NULL));
	KEEPS("posix_memalign", check("posix_memalign returns 0",
				      posix_memalign(&p, 64, 100) == 0, 0));
	KEEPS("free memaligned", free(p));
	KEEPS("mmap", p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	KEEPS("mprotect", mprotect(p, (size_t)pg, PROT_READ));
	KEEPS("madvise", madvise(p, (size_t)pg, MADV_DONTNEED));
	KEEPS("munmap", munmap(p, (size_t)pg));

	SETS("malloc(SIZE_MAX)", malloc(huge) == NULL, ENOMEM);
	SETS("calloc overflow", calloc(huge / 2, 3) == NULL, ENOMEM);
	p = malloc(10);
	SETS("realloc(p, SIZE_MAX)", realloc(p, huge) == NULL, ENOMEM);
	free(p);
	SETS("mmap(len 0)", mmap(NULL, 0, PROT_READ, MAP_PRIVATE |
				 MAP_ANONYMOUS, -1, 0) == MAP_FAILED, EINVAL);
	SETS("mmap(bad fd)", mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE,
				  -1, 0) == MAP_FAILED, EBADF);
	SETS("munmap(unaligned)", munmap((void *)1, 1) == -1, EINVAL);
	SETS("mremap(unaligned)", mremap((void *)1, 1, 2, 0) == MAP_FAILED,
	     EINVAL);
	SETS("mprotect(unaligned)", mprotect((void *)1, 1, PROT_READ) == -1,
	     EINVAL);
	SETS("madvise(bad advice)", madvise(NULL, 0, 12345) == -1, EINVAL);
	SETS("shmat(bad id)", shmat(-1, NULL, 0) == (void *)-1, EINVAL);
	SETS("shm_unlink(missing)", shm_unlink("/vmspy-no-such-shm") == -1,
	     ENOENT);
	/* Far above the heap, across the libraries and the stack. */
	SETS("brk(too far)", brk((void *)0x7ffffffff000) == -1, ENOMEM);
	errno = 0;
	int rc = posix_memalign(&p, 3, 10);
	check("posix_memalign(align 3) returns EINVAL", rc == EINVAL, errno);
	errno = 0;
	rc = posix_memalign(&p, 16, huge);
	check("posix_memalign(SIZE_MAX) returns ENOMEM", rc == ENOMEM, errno);

	for (size_t a = 16; a <= 65536; a *= 4) {
		p = memalign(a, 100);
		check("memalign aligned", aligned(p, a), 0);
		free(p);
		check("posix_memalign aligned",
		      posix_memalign(&p, a, 100) == 0 && aligned(p, a), 0);
		free(p);
		p = aligned_alloc(a, a * 2);
		check("aligned_alloc aligned", aligned(p, a), 0);
		free(p);
	}
	p = valloc(100);
	check("valloc page aligned", aligned(p, (size_t)pg), 0);
	free(p);
	p = pvalloc(100);
	check("pvalloc page aligned", aligned(p, (size_t)pg) &&
					      malloc_usable_size(p) >= (size_t)pg,
	      0);
	free(p);

	c = malloc(100);
	for (int i = 0; i < 100; i++)
		c[i] = (char)i;
	c = realloc(c, 1 << 20); /* above the mmap threshold: moves */
	int same = c != NULL;
	for (int i = 0; same && i < 100; i++)
		same = c[i] == (char)i;
	check("realloc grow keeps content", same, 0);
	c = realloc(c, 50);
	for (int i = 0; c && i < 50; i++)
		same &= c[i] == (char)i;
	check("realloc shrink keeps content", c && same, 0);
	check("malloc_usable_size >= size", malloc_usable_size(c) >= 50, 0);
	errno = KEEP;
	q = realloc(c, 0);
	check("realloc(p, 0) returns NULL", q == NULL, errno);
	p = realloc(NULL, 77);
	check("realloc(NULL, n) allocates", p != NULL, 0);
	free(p);

	c = malloc(4000);
	memset(c, 0xa5, 4000);
	free(c);
	c = calloc(1, 4000);
	int zero = c != NULL;
	for (int i = 0; zero && i < 4000; i++)
		zero = c[i] == 0;
	check("calloc memory is zero", zero, 0);
	free(c);

	char *cur = sbrk(0);
	check("brk up", brk(cur + pg) == 0, 0);
	check("sbrk(0) follows brk", sbrk(0) == cur + pg, 0);
	check("brk back", brk(cur) == 0 && sbrk(0) == cur, 0);

	out(failed ? "trap_errno FAILED\n" : "trap_errno ok\n");
	return failed;
}
