// SPDX-License-Identifier: MIT
/*
 * stress_exact: exactness under load (issue 7).
 *
 *   stress_exact [THREADS [OPS]]     (defaults 8 and 1000000)
 *
 * THREADS threads start together (a barrier) and each makes OPS
 * malloc + free pairs: it keeps 64 slots, every operation frees the slot an
 * LCG picks (when used) and mallocs into it a block of 2000..2511 bytes;
 * at the end every slot is freed.  Thread t (0-based) also leaks
 * LEAKS(t) = 100 * (t + 1) + t blocks of exactly 3000 + t bytes, spread
 * over its run (one every OPS / LEAKS(t) operations), by dropping every
 * pointer to them: they are definitely lost.
 *
 * Ground truth (exact to the block):
 *   sizes 2000..2511: THREADS * OPS allocations, none live at exit;
 *   size 3000 + t:    LEAKS(t) allocations, all live at exit, lost;
 *   malloc calls = THREADS * OPS + sum LEAKS(t) from the workers;
 *   free calls   = THREADS * OPS.
 * With the defaults: 8 threads, 8000000 malloc/free pairs, 3628 leaked
 * blocks of 10900940 bytes in total.
 * No stdio; output "stress_exact ok THREADS OPS LEAKED_BLOCKS LEAKED_BYTES\n".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 64
#define MAX_THREADS 64

static long nthreads = 8;
static long ops = 1000000;
static pthread_barrier_t start;

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static long leaks_of(long t)
{
	return 100 * (t + 1) + t;
}

/* Allocates a block and forgets it: no pointer to it survives in memory
 * this function's caller can see (the volatile store is overwritten). */
volatile uintptr_t leak_sink;

static __attribute__((noinline)) void leak_one(size_t size)
{
	char *p = malloc(size);
	if (!p)
		die("stress_exact: malloc failed");
	/* No stale heap pointers inside (they would make other lost blocks
	 * indirectly lost). */
	memset(p, 0x11, size);
	leak_sink = (uintptr_t)p ^ 0x5a5a5a5a5a5aull;
	leak_sink = 0;
}

static void *worker(void *arg)
{
	long t = (long)(intptr_t)arg;
	void *slot[SLOTS] = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1);
	long nleak = leaks_of(t), every = ops / nleak, leaked = 0;
	if (every < 1)
		every = 1;
	pthread_barrier_wait(&start);
	for (long i = 0; i < ops; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		unsigned k = (unsigned)(x >> 33) % SLOTS;
		free(slot[k]);
		slot[k] = malloc(2000 + (size_t)((x >> 13) % 512));
		if (!slot[k])
			die("stress_exact: malloc failed");
		if (leaked < nleak && i % every == 0) {
			leak_one(3000 + (size_t)t);
			leaked++;
		}
	}
	while (leaked < nleak) {
		leak_one(3000 + (size_t)t);
		leaked++;
	}
	/* Every slot is used after SLOTS operations; with fewer ops some
	 * are empty: free(NULL) is not a call anyone records. */
	for (int k = 0; k < SLOTS; k++)
		free(slot[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	if (argc > 1)
		nthreads = atol(argv[1]);
	if (argc > 2)
		ops = atol(argv[2]);
	if (nthreads < 1 || nthreads > MAX_THREADS || ops < SLOTS)
		die("usage: stress_exact [THREADS(1-64) [OPS(>=64)]]");
	if (pthread_barrier_init(&start, NULL, (unsigned)nthreads))
		die("stress_exact: barrier");
	for (long t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t))
			die("stress_exact: pthread_create failed");
	long blocks = 0, bytes = 0;
	for (long t = 0; t < nthreads; t++) {
		pthread_join(th[t], NULL);
		blocks += leaks_of(t);
		bytes += leaks_of(t) * (3000 + t);
	}
	char line[128];
	int n = snprintf(line, sizeof(line), "stress_exact ok %ld %ld %ld %ld\n",
			 nthreads, ops, blocks, bytes);
	write(1, line, (size_t)n);
	return 0;
}
