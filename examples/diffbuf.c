// SPDX-License-Identifier: MIT
/*
 * diffbuf: a program with exact, build-independent memory use per call
 * site, for `vmspy diff`, `vmspy timeline` and `vmspy flame`.  Build it
 * twice (-O0 and -O2: the static helpers are then inlined, call sites move)
 * and once with -DUSE_MMAP, which moves the one big buffer from malloc to
 * mmap.  Single-threaded, no stdio (stdio mallocs behind our back).
 *
 * Phases (each ends with a 30 ms sleep, so a timeline has steps):
 *   1 make_table     4 x 64 KiB malloc            heap 262144
 *     snapshot "table"
 *   2 big_buffer     2 MiB: malloc (default) or mmap (-DUSE_MMAP)
 *   3 scratch_map    256 KiB anonymous mmap
 *   4 shm_buffers    128 KiB MAP_SHARED of a /dev/shm file (shm_open) and
 *                    a 64 KiB SysV segment (shmat)
 *     snapshot "peak"
 *   5 everything above released, in reverse order
 *   6 leak_some      3 x 1000 B malloc, never freed
 *     snapshot "end"
 *
 * Ground truth (sizes in bytes):
 *                default build               -DUSE_MMAP
 *   heap  peak   2359296 (table + big)       262144 (table)
 *         exit   3000                        3000
 *         alloc  2362296 in 8 calls          265144 in 7 calls
 *   mmap  peak   262144 (scratch)            2359296 (big + scratch)
 *         exit   0                           0
 *         alloc  262144 in 1 call            2359296 in 2 calls
 *   shm   peak   196608, exit 0, alloc 196608 in 2 calls (both builds)
 * Sites (innermost first, by function name): table_alloc < make_table <
 * main, big_buffer < main, scratch_map < main, shm_buffers < main (its
 * mmap and its shmat: one site, 2 calls), leak_some < main.
 *
 * Output: "diffbuf ok\n" on stdout, exit 0; a failed call prints what
 * failed and exits 1.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include <vmspy/vmspy.h>

#define KIB 1024ul
#define MIB (1024ul * 1024ul)
#define NOINLINE __attribute__((noinline))

/* Pointers escape here, so -O2 cannot drop a malloc/free pair. */
static void *volatile keep[16];

static void die(const char *what)
{
	write(2, "diffbuf: ", 9);
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static void pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* Inlined at -O2: the sites must still match the -O0 build's. */
static void *table_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("malloc");
	memset(p, 0x11, n);
	return p;
}

static void make_table(void)
{
	for (int i = 0; i < 4; i++)
		keep[i] = table_alloc(64 * KIB);
}

static void *big_buffer(size_t n)
{
#ifdef USE_MMAP
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
#else
	void *p = malloc(n);
	if (!p)
		die("malloc");
#endif
	memset(p, 0x22, n);
	return p;
}

static void big_release(void *p, size_t n)
{
#ifdef USE_MMAP
	if (munmap(p, n))
		die("munmap");
#else
	(void)n;
	free(p);
#endif
}

NOINLINE static void *scratch_map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 0x33, n);
	return p;
}

static char shm_name[64];
static int shm_id = -1;

static void shm_buffers(void **posix, void **sysv)
{
	unsigned pid = (unsigned)getpid();
	char *q = shm_name + sizeof(shm_name) - 1;
	strcpy(shm_name, "/vmspy-diffbuf-");
	/* No snprintf: it could malloc. */
	*q = 0;
	do
		*--q = (char)('0' + pid % 10);
	while (pid /= 10);
	memmove(shm_name + strlen(shm_name), q, strlen(q) + 1);

	int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("shm_open");
	if (ftruncate(fd, (off_t)(128 * KIB)))
		die("ftruncate");
	*posix = mmap(NULL, 128 * KIB, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	close(fd);
	if (*posix == MAP_FAILED)
		die("mmap /dev/shm");
	memset(*posix, 0x44, 128 * KIB);

	shm_id = shmget(IPC_PRIVATE, 64 * KIB, IPC_CREAT | 0600);
	if (shm_id < 0)
		die("shmget");
	*sysv = shmat(shm_id, NULL, 0);
	if (*sysv == (void *)-1)
		die("shmat");
	memset(*sysv, 0x55, 64 * KIB);
}

static void leak_some(void)
{
	for (int i = 0; i < 3; i++) {
		char *p = malloc(1000);
		if (!p)
			die("malloc");
		p[0] = (char)i;
		keep[8 + i] = p;
		keep[8 + i] = NULL; /* lost: a leak */
	}
}

int main(void)
{
	void *posix, *sysv;

	make_table();
	pause_ms(30);
	vmspy_snapshot("table");

	keep[4] = big_buffer(2 * MIB);
	pause_ms(30);
	keep[5] = scratch_map(256 * KIB);
	pause_ms(30);
	shm_buffers(&posix, &sysv);
	pause_ms(30);
	vmspy_snapshot("peak");

	if (shmdt(sysv) || shmctl(shm_id, IPC_RMID, NULL))
		die("shmdt");
	if (munmap(posix, 128 * KIB) || shm_unlink(shm_name))
		die("munmap /dev/shm");
	if (munmap(keep[5], 256 * KIB))
		die("munmap");
	big_release(keep[4], 2 * MIB);
	pause_ms(30);
	for (int i = 0; i < 4; i++)
		free(keep[i]);
	pause_ms(30);

	leak_some();
	pause_ms(30);
	vmspy_snapshot("end");
	write(1, "diffbuf ok\n", 11);
	return 0;
}
