// SPDX-License-Identifier: MIT
/*
 * counts: exact call counts for every hooked API, single-threaded, no stdio
 * (stdio mallocs behind our back), so a recording of it must show exactly:
 *
 *   malloc 17         14 x 100 B freed, 1 x 3 MiB freed, leaks 1000 + 2000 B
 *   calloc 7          7 x (10 x 32) B, freed
 *   realloc 11        one block grown 64, 128, ... 65536 B (from NULL), freed
 *   reallocarray 3    (NULL,10,8) (p,20,8) (p,40,8), freed
 *   posix_memalign 5  align 64, 200 B, freed
 *   aligned_alloc 4   align 128, 256 B, freed
 *   memalign 6        align 256, 300 B, freed
 *   valloc 2          5000 B, freed
 *   pvalloc 3         100 B, freed
 *   free 44           (free(NULL) x 5 and every failed call are not counted)
 *   mmap 11           8 MiB anon (alone: the mmap peak), 5 x 64 KiB anon,
 *                     1 page of our own executable, 1 page grown by mremap,
 *                     2 reserved pages (mremap target), the POSIX shm
 *                     object, 4 pages for mprotect/madvise
 *   mmap64 2          16 KiB anon each
 *   munmap 12         all of the above except the mremap target
 *   mremap 3          grow 1 -> 2 pages (MAYMOVE), move onto the reserve
 *                     (MAYMOVE|FIXED), shrink to 1 page
 *   mprotect 4, madvise 3
 *   sbrk 3            sbrk(0), sbrk(4096), sbrk(-4096)
 *   brk 2             brk(cur + 8192), brk(cur)
 *   shm_open 2, shm_unlink 1 (one name, opened twice, mapped once)
 *   shmget 1, shmat 2, shmdt 2 (IPC_PRIVATE 64 KiB, removed with IPC_RMID)
 *   everything else 0; threads 1
 *
 *   peak_heap_bytes        3000 + 3145728 = 3148728
 *   peak_mmap_bytes        8388608
 *   heap_live_bytes_at_end 3000 (2 blocks)
 *   total_allocated_bytes  3298060 (every successful request, realloc's
 *                          new sizes included)
 *
 * Output: "counts ok\n", exit 0; a failed self-check prints what failed
 * and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#define KIB 1024
#define MIB (1024 * 1024)

static void *volatile leak1, *volatile leak2;
/* volatile: keeps GCC from rejecting the deliberately failing sizes */
static volatile size_t huge = SIZE_MAX;

static void fail(const char *what)
{
	write(2, "counts: ", 8);
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static void check(int ok, const char *what)
{
	if (!ok)
		fail(what);
}

static void heap_calls(void)
{
	void *p[16];
	void *volatile null = NULL;

	leak1 = malloc(1000);
	leak2 = malloc(2000);
	check(leak1 && leak2, "leak malloc");

	void *big = malloc(3 * MIB);
	check(big != NULL, "big malloc");
	memset(big, 1, 3 * MIB);
	free(big);

	for (int i = 0; i < 14; i++)
		check((p[i] = malloc(100)) != NULL, "malloc");
	for (int i = 0; i < 14; i++)
		free(p[i]);

	for (int i = 0; i < 7; i++)
		check((p[i] = calloc(10, 32)) != NULL, "calloc");
	for (int i = 0; i < 7; i++)
		free(p[i]);

	void *r = NULL;
	for (int i = 0; i < 11; i++)
		check((r = realloc(r, (size_t)64 << i)) != NULL, "realloc");
	free(r);

	r = reallocarray(NULL, 10, 8);
	r = reallocarray(r, 20, 8);
	r = reallocarray(r, 40, 8);
	check(r != NULL, "reallocarray");
	free(r);

	for (int i = 0; i < 5; i++)
		check(posix_memalign(&p[i], 64, 200) == 0, "posix_memalign");
	for (int i = 0; i < 5; i++)
		free(p[i]);
	for (int i = 0; i < 4; i++)
		check((p[i] = aligned_alloc(128, 256)) != NULL,
		      "aligned_alloc");
	for (int i = 0; i < 4; i++)
		free(p[i]);
	for (int i = 0; i < 6; i++)
		check((p[i] = memalign(256, 300)) != NULL, "memalign");
	for (int i = 0; i < 6; i++)
		free(p[i]);
	for (int i = 0; i < 2; i++)
		check((p[i] = valloc(5000)) != NULL, "valloc");
	for (int i = 0; i < 2; i++)
		free(p[i]);
	for (int i = 0; i < 3; i++)
		check((p[i] = pvalloc(100)) != NULL, "pvalloc");
	for (int i = 0; i < 3; i++)
		free(p[i]);

	/* Not counted: free(NULL) and calls that fail. */
	for (int i = 0; i < 5; i++)
		free(null);
	check(malloc(huge) == NULL, "malloc(SIZE_MAX) failed");
	check(calloc(huge / 2, 4) == NULL, "calloc overflow failed");
	check(posix_memalign(&p[0], 3, 16) == EINVAL, "posix_memalign(3)");
	void *keep = leak1;
	check(realloc(keep, huge) == NULL && leak1 == keep,
	      "realloc(SIZE_MAX) failed");
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(p != MAP_FAILED, "mmap anon");
	return p;
}

static void map_calls(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	/* The mmap peak: nothing else of ours is mapped now. */
	char *big = map_anon(8 * MIB);
	memset(big, 2, 8 * MIB);
	check(munmap(big, 8 * MIB) == 0, "munmap big");

	void *m[5];
	for (int i = 0; i < 5; i++)
		m[i] = map_anon(64 * KIB);
	for (int i = 0; i < 5; i++)
		check(munmap(m[i], 64 * KIB) == 0, "munmap 64k");

	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	check(fd >= 0, "open self");
	char *f = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, fd, 0);
	check(f != MAP_FAILED && !memcmp(f, "\177ELF", 4), "file mmap");
	close(fd);
	check(munmap(f, (size_t)pg) == 0, "munmap file");

	for (int i = 0; i < 2; i++) {
		void *q = mmap64(NULL, 16 * KIB, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		check(q != MAP_FAILED, "mmap64");
		check(munmap(q, 16 * KIB) == 0, "munmap mmap64");
	}

	/* mremap: grow, move onto a reserved range, shrink. */
	char *g = map_anon((size_t)pg);
	g[0] = 'x';
	void *target = mmap(NULL, 2 * (size_t)pg, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(target != MAP_FAILED, "mmap target");
	g = mremap(g, (size_t)pg, 2 * (size_t)pg, MREMAP_MAYMOVE);
	check(g != MAP_FAILED && g[0] == 'x', "mremap grow");
	g = mremap(g, 2 * (size_t)pg, 2 * (size_t)pg,
		   MREMAP_MAYMOVE | MREMAP_FIXED, target);
	check(g == target && g[0] == 'x', "mremap move");
	g = mremap(g, 2 * (size_t)pg, (size_t)pg, 0);
	check(g == target, "mremap shrink");
	check(munmap(g, (size_t)pg) == 0, "munmap mremapped");

	char *a = map_anon(4 * (size_t)pg);
	check(mprotect(a, (size_t)pg, PROT_READ) == 0, "mprotect 1");
	check(mprotect(a + pg, (size_t)pg, PROT_NONE) == 0, "mprotect 2");
	check(mprotect(a, 2 * (size_t)pg, PROT_READ | PROT_WRITE) == 0,
	      "mprotect 3");
	check(mprotect(a, 4 * (size_t)pg, PROT_READ) == 0, "mprotect 4");
	check(madvise(a, 4 * (size_t)pg, MADV_DONTNEED) == 0, "madvise 1");
	check(madvise(a, 4 * (size_t)pg, MADV_WILLNEED) == 0, "madvise 2");
	check(madvise(a, 4 * (size_t)pg, MADV_NORMAL) == 0, "madvise 3");
	/* Not counted: failures. */
	check(mprotect((void *)1, 1, PROT_READ) == -1, "bad mprotect failed");
	check(madvise((void *)1, 1, MADV_NORMAL) == -1, "bad madvise failed");
	check(munmap((void *)1, 1) == -1, "bad munmap failed");
	check(munmap(a, 4 * (size_t)pg) == 0, "munmap a");
}

static void brk_calls(void)
{
	char *cur = sbrk(0);
	check(cur != (void *)-1, "sbrk(0)");
	check(sbrk(4096) == cur, "sbrk(+)");
	check(sbrk(-4096) == cur + 4096, "sbrk(-)");
	check(brk(cur + 8192) == 0, "brk up");
	check(brk(cur) == 0, "brk down");
}

/* "/vmspy-counts-<pid>" without stdio. */
static void shm_name(char *out)
{
	char digits[16];
	int n = 0;
	for (unsigned v = (unsigned)getpid(); v; v /= 10)
		digits[n++] = (char)('0' + v % 10);
	strcpy(out, "/vmspy-counts-");
	size_t len = strlen(out);
	while (n)
		out[len++] = digits[--n];
	out[len] = 0;
}

static void shm_calls(void)
{
	char name[64];
	shm_name(name);
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	check(fd >= 0, "shm_open create");
	check(ftruncate(fd, 64 * KIB) == 0, "ftruncate shm");
	int fd2 = shm_open(name, O_RDWR, 0);
	check(fd2 >= 0, "shm_open again");
	char *p = mmap(NULL, 64 * KIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       0);
	check(p != MAP_FAILED, "mmap shm");
	p[0] = 'y';
	close(fd);
	close(fd2);
	check(munmap(p, 64 * KIB) == 0, "munmap shm");
	check(shm_unlink(name) == 0, "shm_unlink");
	check(shm_unlink(name) == -1, "second shm_unlink failed");

	int id = shmget(IPC_PRIVATE, 64 * KIB, IPC_CREAT | 0600);
	check(id >= 0, "shmget");
	char *s1 = shmat(id, NULL, 0);
	char *s2 = shmat(id, NULL, SHM_RDONLY);
	check(s1 != (void *)-1 && s2 != (void *)-1, "shmat");
	s1[0] = 'z';
	check(s2[0] == 'z', "shm shared");
	check(shmdt(s1) == 0 && shmdt(s2) == 0, "shmdt");
	check(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID");
}

int main(void)
{
	map_calls();
	heap_calls();
	brk_calls();
	shm_calls();
	write(1, "counts ok\n", 10);
	return 0;
}
