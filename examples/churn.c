// SPDX-License-Identifier: MIT
/*
 * churn: malloc/free churn for benchmarks.
 *
 *   churn [THREADS [OPS]]      (defaults 4 and 1000000 operations per thread)
 *
 * Each thread keeps 512 slots; every operation frees a slot chosen by a
 * per-thread LCG (if used) and mallocs into it a size from a skewed mix:
 * 70% 16..256 bytes, 25% 257..4096, 5% 4097..65536 (every 1024th op a
 * realloc instead of a malloc).  Deterministic: the same arguments make
 * the same calls.  At the end every slot is freed.  Ground truth per
 * thread: OPS allocations (malloc or realloc), OPS frees + the final ones;
 * no leaks.  Output: "churn ok\n".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 512

static long ops = 1000000;

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static uint32_t next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

static size_t pick_size(uint64_t *s)
{
	uint32_t r = next(s) % 100;
	if (r < 70)
		return 16 + next(s) % 241;
	if (r < 95)
		return 257 + next(s) % 3840;
	return 4097 + next(s) % 61440;
}

static void *worker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	char *slot[SLOTS] = { 0 };
	for (long i = 0; i < ops; i++) {
		unsigned k = next(&seed) % SLOTS;
		size_t n = pick_size(&seed);
		if ((i & 1023) == 1023 && slot[k]) {
			char *p = realloc(slot[k], n);
			if (!p)
				die("churn: realloc");
			slot[k] = p;
		} else {
			free(slot[k]);
			if (!(slot[k] = malloc(n)))
				die("churn: malloc");
		}
		slot[k][0] = (char)i;
	}
	for (int k = 0; k < SLOTS; k++)
		free(slot[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = argc > 1 ? strtol(argv[1], NULL, 10) : 4;
	if (argc > 2)
		ops = strtol(argv[2], NULL, 10);
	if (threads < 1 || threads > 1024 || ops < 0)
		die("usage: churn [THREADS 1..1024 [OPS]]");
	pthread_t *t = calloc((size_t)threads, sizeof(*t));
	if (!t)
		die("churn: calloc");
	for (long i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i))
			die("churn: pthread_create");
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	free(t);
	write(1, "churn ok\n", 9);
	return 0;
}
