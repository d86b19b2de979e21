/* SPDX-License-Identifier: MIT */
/*
 * churn: malloc/free churn with mixed sizes, the workload of issue 6.
 *
 *   churn THREADS OPS        OPS operations per thread
 *
 * Each thread owns 4096 slots.  An operation picks a slot with a per-thread
 * LCG, reads and frees what is there and puts a new block in it.  Sizes
 * follow a skewed mix like a real program's: 60% 8..128 bytes, 30%
 * 129..1024, 8% 1025..8192, 2% 8193..65536 (below malloc's mmap
 * threshold, so no system calls).  The new block comes from malloc (90%),
 * calloc (5%) or a realloc of the old block (5%).  The first 64 bytes and
 * the last byte of every block are written and read back, as a program
 * would.  With THREADS = 1 the main thread does the work (no thread is
 * created); otherwise THREADS threads run side by side, each with its own
 * OPS.  Output: one line with a checksum of the data read.
 */
#include <pthread.h>
#include <string.h>

#include "common.h"

#define SLOTS 4096

struct job {
	uint64_t seed;
	long ops;
	uint64_t sum;
};

static size_t pick_size(uint64_t *s)
{
	uint32_t r = rng_next(s) % 100;
	if (r < 60)
		return rng_range(s, 8, 128);
	if (r < 90)
		return rng_range(s, 129, 1024);
	if (r < 98)
		return rng_range(s, 1025, 8192);
	return rng_range(s, 8193, 65536);
}

struct slot {
	unsigned char *p;
	size_t n;
};

static uint64_t consume(const struct slot *sl)
{
	if (!sl->p)
		return 0;
	uint64_t h = sl->p[sl->n - 1];
	for (size_t i = 0; i < 64 && i < sl->n; i += 8)
		h = h * 31 + sl->p[i];
	return h;
}

static void fill(struct slot *sl, long i)
{
	size_t m = sl->n < 64 ? sl->n : 64;
	memset(sl->p, (int)(i & 0xff), m);
	sl->p[sl->n - 1] = (unsigned char)(i >> 8);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct slot *slot = calloc(SLOTS, sizeof(*slot));
	if (!slot)
		die("churn: calloc");
	uint64_t s = j->seed, sum = 0;
	for (long i = 0; i < j->ops; i++) {
		struct slot *sl = &slot[rng_next(&s) % SLOTS];
		size_t n = pick_size(&s);
		uint32_t how = rng_next(&s) % 100;
		sum += consume(sl);
		if (how < 5 && sl->p) {
			unsigned char *p = realloc(sl->p, n);
			if (!p)
				die("churn: realloc");
			sl->p = p;
		} else {
			free(sl->p);
			sl->p = how < 10 ? calloc(1, n) : malloc(n);
			if (!sl->p)
				die("churn: malloc");
		}
		sl->n = n;
		fill(sl, i);
	}
	for (int k = 0; k < SLOTS; k++) {
		sum += consume(&slot[k]);
		free(slot[k].p);
	}
	free(slot);
	j->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = arg_long(argc, argv, 1, 1);
	long ops = arg_long(argc, argv, 2, 3000000);
	if (threads < 1 || threads > 64 || ops < 0) {
		fprintf(stderr, "usage: churn THREADS(1..64) OPS\n");
		return 2;
	}
	struct job jobs[64];
	pthread_t t[64];
	for (long i = 0; i < threads; i++)
		jobs[i] = (struct job){ .seed = 0x9e3779b97f4a7c15ull * (i + 1),
					.ops = ops };
	if (threads == 1) {
		worker(&jobs[0]);
	} else {
		for (long i = 0; i < threads; i++)
			if (pthread_create(&t[i], NULL, worker, &jobs[i]))
				die("churn: pthread_create");
		for (long i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
	}
	uint64_t sum = 0;
	for (long i = 0; i < threads; i++)
		sum = sum * 1000003 + jobs[i].sum;
	printf("churn threads=%ld ops=%ld sum=%016llx\n", threads, ops,
	       (unsigned long long)sum);
	return 0;
}
