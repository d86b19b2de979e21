/* SPDX-License-Identifier: MIT */
/*
 * realloc: buffers that grow by realloc, as string builders and vectors do.
 *
 *   realloc BUILDERS
 *
 * Up to 64 builders are live at a time, in a ring: starting a new one frees
 * the oldest.  A builder appends pieces of 1..64 bytes until it reaches a
 * final length of 64 B .. 256 KiB (log-uniform).  Half of the builders
 * grow their capacity by 1.5x (a vector), the other half to exactly the
 * new length rounded up to 16 bytes (a naive string builder, one realloc
 * per append).  Large buffers cross malloc's mmap threshold and are moved
 * with mremap inside glibc.  Output: one checksum line over the contents.
 */
#include <string.h>

#include "common.h"

#define RING 64

struct builder {
	unsigned char *p;
	size_t len, cap;
};

static uint64_t finish(struct builder *b)
{
	uint64_t h = b->len;
	for (size_t i = 0; i < b->len; i += 4096)
		h = h * 31 + b->p[i];
	if (b->len)
		h = h * 31 + b->p[b->len - 1];
	free(b->p);
	*b = (struct builder){ 0 };
	return h;
}

int main(int argc, char **argv)
{
	long builders = arg_long(argc, argv, 1, 20000);
	struct builder ring[RING] = { { 0 } };
	uint64_t s = 7, sum = 0, reallocs = 0;
	for (long k = 0; k < builders; k++) {
		struct builder *b = &ring[k % RING];
		sum = sum * 1000003 + finish(b);
		size_t target = (size_t)64 << (rng_next(&s) % 13); /* 64..256K */
		target += rng_next(&s) % target;
		int vector = rng_next(&s) & 1;
		while (b->len < target) {
			size_t piece = rng_range(&s, 1, 64);
			if (b->len + piece > b->cap) {
				size_t cap = vector ? (b->cap ? b->cap + b->cap / 2 : 32)
						    : ((b->len + piece + 15) & ~(size_t)15);
				if (cap < b->len + piece)
					cap = b->len + piece;
				unsigned char *p = realloc(b->p, cap);
				if (!p)
					die("realloc: realloc");
				b->p = p;
				b->cap = cap;
				reallocs++;
			}
			memset(b->p + b->len, (int)(piece + k), piece);
			b->len += piece;
		}
	}
	for (int i = 0; i < RING; i++)
		sum = sum * 1000003 + finish(&ring[i]);
	printf("realloc builders=%ld reallocs=%llu sum=%016llx\n", builders,
	       (unsigned long long)reallocs, (unsigned long long)sum);
	return 0;
}
