/* SPDX-License-Identifier: MIT */
/*
 * mmapchurn: anonymous mmap/munmap churn, as an allocator or a buffer pool
 * that maps its own memory does.
 *
 *   mmapchurn OPS
 *
 * 64 slots; an operation unmaps what is in a slot (reading it first) and
 * maps 1..32 pages there, private anonymous, read-write.  Every 8th
 * mapping is grown with mremap (MREMAP_MAYMOVE) to twice its size, every
 * 16th gets an mprotect to read-only before it is read and unmapped.
 * The first and last page of each mapping are written, so the kernel
 * really backs them.  Output: one checksum line.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "common.h"

#define SLOTS 64
#define PAGE 4096

struct map {
	unsigned char *p;
	size_t len;
};

int main(int argc, char **argv)
{
	long ops = arg_long(argc, argv, 1, 200000);
	struct map slot[SLOTS] = { { 0 } };
	uint64_t s = 99, sum = 0;
	for (long i = 0; i <= ops; i++) {
		struct map *m = &slot[rng_next(&s) % SLOTS];
		if (i == ops) /* the last round only unmaps */
			break;
		if (m->p) {
			sum = sum * 31 + m->p[0] + m->p[m->len - 1];
			if (munmap(m->p, m->len))
				die("mmapchurn: munmap");
		}
		m->len = (size_t)rng_range(&s, 1, 32) * PAGE;
		m->p = mmap(NULL, m->len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m->p == MAP_FAILED)
			die("mmapchurn: mmap");
		m->p[0] = (unsigned char)i;
		m->p[m->len - 1] = (unsigned char)(i >> 8);
		if (i % 8 == 7) {
			void *q = mremap(m->p, m->len, 2 * m->len, MREMAP_MAYMOVE);
			if (q == MAP_FAILED)
				die("mmapchurn: mremap");
			m->p = q;
			m->len *= 2;
			m->p[m->len - 1] = (unsigned char)i;
		}
		if (i % 16 == 15 && mprotect(m->p, m->len, PROT_READ))
			die("mmapchurn: mprotect");
	}
	for (int k = 0; k < SLOTS; k++)
		if (slot[k].p) {
			sum = sum * 31 + slot[k].p[0];
			munmap(slot[k].p, slot[k].len);
		}
	printf("mmapchurn ops=%ld sum=%016llx\n", ops, (unsigned long long)sum);
	return 0;
}
