/* SPDX-License-Identifier: MIT */
/*
 * deep: allocations under deep call stacks.
 *
 *   deep DESCENTS
 *
 * A descent recurses through 40 distinct noinline functions f0 .. f39,
 * each called through a table (so nothing is inlined or tail-called).
 * Every level allocates a node (16 + 8*level bytes), writes it, and frees
 * it on the way back up, like a recursive-descent parser building a tree;
 * the innermost level also does 4 malloc/free operations on a table of
 * 256 slots with mixed sizes.  Stacks are 5 to 45 frames deep (main and
 * libc's start frames included).  At levels 5, 15, 25 and 35 the next
 * level is called from one of two call sites picked by the LCG, so the
 * deepest stacks come in 16 variants (about 230 distinct allocation stacks
 * in all), as in a real program where the same leaf is reached by a few
 * paths.  Output: one checksum line.
 */
#include <string.h>

#include "common.h"

#define DEPTH 40
#define LEAF_SLOTS 256

typedef uint64_t (*level_fn)(uint64_t *s);

static level_fn chain[DEPTH + 1];
static unsigned char *leaf_slot[LEAF_SLOTS];
static size_t leaf_len[LEAF_SLOTS];

static __attribute__((noinline)) uint64_t leaf(uint64_t *s)
{
	uint64_t h = 0;
	for (int k = 0; k < 4; k++) {
		uint32_t i = rng_next(s) % LEAF_SLOTS;
		if (leaf_slot[i])
			h = h * 31 + leaf_slot[i][leaf_len[i] - 1];
		free(leaf_slot[i]);
		uint32_t r = rng_next(s) % 100;
		size_t n = r < 70 ? rng_range(s, 8, 256) : rng_range(s, 257, 4096);
		if (!(leaf_slot[i] = malloc(n)))
			die("deep: malloc");
		memset(leaf_slot[i], (int)r, n < 32 ? n : 32);
		leaf_slot[i][n - 1] = (unsigned char)k;
		leaf_len[i] = n;
	}
	return h;
}

/* One level: a node of its own, then the next level from one of two call
 * sites on the levels that branch. */
#define LEVEL(i)                                                         \
	static __attribute__((noinline)) uint64_t f##i(uint64_t *s)      \
	{                                                                \
		size_t n = 16 + 8 * (i);                                 \
		unsigned char *node = malloc(n);                         \
		if (!node)                                               \
			die("deep: malloc");                             \
		node[0] = (unsigned char)(i);                            \
		node[n - 1] = (unsigned char)*s;                         \
		uint64_t r;                                              \
		if ((i) % 10 == 5 && (rng_next(s) & 1))                  \
			r = chain[(i) + 1](s) * 3;                       \
		else                                                     \
			r = chain[(i) + 1](s);                           \
		r = r * 7 + node[0] + node[n - 1];                       \
		free(node);                                              \
		return r;                                                \
	}

LEVEL(0) LEVEL(1) LEVEL(2) LEVEL(3) LEVEL(4) LEVEL(5) LEVEL(6) LEVEL(7)
LEVEL(8) LEVEL(9) LEVEL(10) LEVEL(11) LEVEL(12) LEVEL(13) LEVEL(14)
LEVEL(15) LEVEL(16) LEVEL(17) LEVEL(18) LEVEL(19) LEVEL(20) LEVEL(21)
LEVEL(22) LEVEL(23) LEVEL(24) LEVEL(25) LEVEL(26) LEVEL(27) LEVEL(28)
LEVEL(29) LEVEL(30) LEVEL(31) LEVEL(32) LEVEL(33) LEVEL(34) LEVEL(35)
LEVEL(36) LEVEL(37) LEVEL(38) LEVEL(39)

int main(int argc, char **argv)
{
	long descents = arg_long(argc, argv, 1, 100000);
	level_fn levels[DEPTH + 1] = {
		f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13,
		f14, f15, f16, f17, f18, f19, f20, f21, f22, f23, f24, f25,
		f26, f27, f28, f29, f30, f31, f32, f33, f34, f35, f36, f37,
		f38, f39, leaf,
	};
	memcpy(chain, levels, sizeof(levels));
	uint64_t s = 42, sum = 0;
	for (long d = 0; d < descents; d++)
		sum = sum * 1000003 + chain[0](&s);
	for (int i = 0; i < LEAF_SLOTS; i++)
		free(leaf_slot[i]);
	printf("deep descents=%ld sum=%016llx\n", descents,
	       (unsigned long long)sum);
	return 0;
}
