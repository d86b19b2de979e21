// SPDX-License-Identifier: MIT
/*
 * regions: makes one region of every kind `vmspy maps` must attribute, each
 * from its own noinline function, then calls vmspy_snapshot("all-regions")
 * while all of them exist.  Addresses vary; what the map at that snapshot
 * must show (kind, name, origin function):
 *
 *   mmap          2 MiB anon rw                        map_anon
 *   file          64 KiB of a temp file "vmspy-regions-*" (deleted after
 *                 the snapshot)                        map_file
 *   mmap x3       4 pages anon rw, page 2 replaced by a MAP_FIXED read-only
 *                 anon page: rw | r | rw (2 pages)     map_fixed_over
 *   mmap x2       8 pages anon, pages 3-4 munmapped: 3 + 3 pages
 *                                                      map_split
 *   mmap          16 pages, moved there by mremap(MAYMOVE|FIXED) from a
 *                 2-page mapping                       map_moved
 *   heap          64 KiB added to the break by sbrk     grow_brk
 *   shm-posix     128 KiB of /dev/shm/vmspy-regions-<pid>   map_posix_shm
 *   shm-sysv      256 KiB IPC_PRIVATE segment          map_sysv_shm
 *   mmap          4 MiB, 2 MiB aligned, MADV_HUGEPAGE, fully touched (THP
 *                 is in madvise mode here: AnonHugePages > 0 expected
 *                 when the kernel has huge pages to give) map_huge
 *   thread-stack  2 live threads (blocked) + the cached stack of 1 exited
 *   malloc-arena  the live threads' arenas (each mallocs 1000 bytes)
 *   module        libz.so.1, dlopen'ed by open_library
 *   malloc-mmap   5 MiB malloc, first MiB touched       big_malloc
 *   heap          malloc'd blocks of 100 bytes x 50    small_mallocs
 *
 *   regions [DIR]   DIR for the temp file (default /tmp)
 * Output: "regions ok\n", exit 0.  Everything is released at the end.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include <vmspy/vmspy.h>

#define NOINLINE __attribute__((noinline))
#define KIB 1024ul
#define MIB (1024ul * 1024ul)

static long pg;
static void die(const char *what)
{
	write(2, "regions: ", 9);
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

/* A macro, not a function: the mmap's caller (frame 0 of its origin) is
 * then the function that wants the region. */
#define anon(len, prot)                                                      \
	({                                                                   \
		void *p_ = mmap(NULL, (len), (prot),                         \
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);         \
		if (p_ == MAP_FAILED)                                        \
			die("mmap");                                         \
		p_;                                                          \
	})

NOINLINE static char *map_anon(void)
{
	char *p = anon(2 * MIB, PROT_READ | PROT_WRITE);
	memset(p, 1, 2 * MIB);
	return p;
}

static char file_path[4096];

NOINLINE static char *map_file(const char *dir)
{
	size_t n = strlen(dir);
	if (n > sizeof(file_path) - 32)
		die("directory name too long");
	memcpy(file_path, dir, n);
	strcpy(file_path + n, "/vmspy-regions-XXXXXX");
	int fd = mkstemp(file_path);
	if (fd < 0)
		die("mkstemp");
	static char buf[64 * KIB];
	memset(buf, 'f', sizeof(buf));
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		die("write temp file");
	char *p = mmap(NULL, 64 * KIB, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED || p[0] != 'f')
		die("file mmap");
	return p;
}

NOINLINE static char *map_fixed_over(void)
{
	char *p = anon(4 * (size_t)pg, PROT_READ | PROT_WRITE);
	memset(p, 2, 4 * (size_t)pg);
	if (mmap(p + pg, (size_t)pg, PROT_READ,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p + pg)
		die("MAP_FIXED");
	return p;
}

NOINLINE static char *map_split(void)
{
	char *p = anon(8 * (size_t)pg, PROT_READ | PROT_WRITE);
	memset(p, 3, 8 * (size_t)pg);
	if (munmap(p + 3 * pg, 2 * (size_t)pg))
		die("partial munmap");
	return p;
}

NOINLINE static char *map_moved(void)
{
	char *p = anon(2 * (size_t)pg, PROT_READ | PROT_WRITE);
	p[0] = 4;
	char *to = anon(16 * (size_t)pg, PROT_NONE);
	char *q = mremap(p, 2 * (size_t)pg, 16 * (size_t)pg,
			 MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (q != to || q[0] != 4)
		die("mremap");
	memset(q, 4, 16 * (size_t)pg);
	return q;
}

NOINLINE static char *grow_brk(void)
{
	char *p = sbrk(64 * KIB);
	if (p == (void *)-1)
		die("sbrk");
	memset(p, 5, 64 * KIB);
	return p;
}

static char shm_name[64];

NOINLINE static char *map_posix_shm(void)
{
	char digits[16];
	int n = 0;
	for (unsigned v = (unsigned)getpid(); v; v /= 10)
		digits[n++] = (char)('0' + v % 10);
	strcpy(shm_name, "/vmspy-regions-");
	size_t len = strlen(shm_name);
	while (n)
		shm_name[len++] = digits[--n];
	shm_name[len] = 0;
	int fd = shm_open(shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 128 * KIB))
		die("shm_open");
	char *p = mmap(NULL, 128 * KIB, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		die("shm mmap");
	memset(p, 6, 128 * KIB);
	return p;
}

static int shm_id;

NOINLINE static char *map_sysv_shm(void)
{
	shm_id = shmget(IPC_PRIVATE, 256 * KIB, IPC_CREAT | 0600);
	if (shm_id < 0)
		die("shmget");
	char *p = shmat(shm_id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	/* Removed now, destroyed at the last detach: nothing is left behind
	 * even if we die early. */
	shmctl(shm_id, IPC_RMID, NULL);
	memset(p, 7, 256 * KIB);
	return p;
}

static char *huge_base;

NOINLINE static char *map_huge(void)
{
	huge_base = anon(8 * MIB, PROT_READ | PROT_WRITE);
	char *p = (char *)(((uintptr_t)huge_base + 2 * MIB - 1) &
			   ~(uintptr_t)(2 * MIB - 1));
	if (madvise(p, 4 * MIB, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	memset(p, 8, 4 * MIB);
	return p;
}

static pthread_barrier_t ready;
static int release_pipe[2];

static void *live_thread(void *arg)
{
	char c;
	char *volatile mine = malloc(1000); /* in this thread's arena */
	if (!mine)
		die("thread malloc");
	pthread_barrier_wait(&ready);
	if (read(release_pipe[0], &c, 1) != 1)
		die("read release pipe");
	free(mine);
	return arg;
}

static void *exiting_thread(void *arg)
{
	free(malloc(500));
	return arg;
}

NOINLINE static void start_threads(pthread_t t[2])
{
	pthread_t e;
	if (pthread_create(&e, NULL, exiting_thread, NULL))
		die("pthread_create");
	pthread_join(e, NULL);
	if (pipe(release_pipe) || pthread_barrier_init(&ready, NULL, 3))
		die("pipe/barrier");
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, live_thread, NULL))
			die("pthread_create");
	pthread_barrier_wait(&ready);
}

NOINLINE static void *open_library(void)
{
	void *h = dlopen("libz.so.1", RTLD_NOW);
	if (!h)
		die("dlopen libz.so.1");
	return h;
}

NOINLINE static char *big_malloc(void)
{
	char *p = malloc(5 * MIB);
	if (!p)
		die("big malloc");
	memset(p, 9, MIB);
	return p;
}

NOINLINE static void small_mallocs(void *out[50])
{
	for (int i = 0; i < 50; i++)
		if (!(out[i] = malloc(100)))
			die("malloc");
}

int main(int argc, char **argv)
{
	pg = sysconf(_SC_PAGESIZE);
	pthread_t t[2];
	void *small[50];

	char *a = map_anon();
	char *f = map_file(argc > 1 ? argv[1] : "/tmp");
	char *fx = map_fixed_over();
	char *sp = map_split();
	char *mv = map_moved();
	char *brk_top = grow_brk() + 64 * KIB;
	char *ps = map_posix_shm();
	char *sv = map_sysv_shm();
	map_huge();
	start_threads(t);
	void *lib = open_library();
	char *big = big_malloc();
	small_mallocs(small);

	vmspy_snapshot("all-regions");

	for (int i = 0; i < 2; i++)
		if (write(release_pipe[1], "x", 1) != 1)
			die("write release pipe");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 50; i++)
		free(small[i]);
	free(big);
	dlclose(lib);
	munmap(huge_base, 8 * MIB);
	shmdt(sv);
	munmap(ps, 128 * KIB);
	shm_unlink(shm_name);
	/* Give the break back only if malloc has not grown the heap past it
	 * meanwhile (cutting its top chunk would corrupt it). */
	if (sbrk(0) == brk_top)
		sbrk(-(intptr_t)(64 * KIB));
	munmap(mv, 16 * (size_t)pg);
	munmap(sp, 3 * (size_t)pg);
	munmap(sp + 5 * pg, 3 * (size_t)pg);
	munmap(fx, 4 * (size_t)pg);
	munmap(f, 64 * KIB);
	unlink(file_path);
	munmap(a, 2 * MIB);
	pthread_barrier_destroy(&ready);
	write(1, "regions ok\n", 11);
	return 0;
}
