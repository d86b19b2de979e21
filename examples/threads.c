// SPDX-License-Identifier: MIT
/*
 * threads: four workers run at once (released together by a barrier), each
 * does 250 malloc/free pairs of 48 + t bytes and leaks 3 blocks of
 * 1000 * (t + 1) + 1 bytes; after they are joined a fifth, late thread
 * (which gets a cached stack of an exited one) does 100 pairs of 61 bytes
 * and leaks one block of 777 bytes.  No stdio.
 *
 * Ground truth (the program's own calls; glibc adds a few callocs and
 * frees of its own for thread TLS):
 *   pthread_create 5, threads 6 (main + 5)
 *   malloc 1113 = 4 x (250 + 3) + 100 + 1, free 1100
 *   sizes only this program uses: 48, 49, 50, 51 (250 each, all freed),
 *   61 (100, freed), 1001, 2001, 3001, 4001 (3 each, leaked), 777 (1)
 *   leaked by the program: 30789 bytes in 13 blocks
 * Output: "threads ok\n", exit 0.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 4
#define PAIRS 250
#define LEAKS 3

static pthread_barrier_t start;
static void *volatile sink;

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static void churn(size_t size, int pairs)
{
	for (int i = 0; i < pairs; i++) {
		char *p = malloc(size);
		if (!p)
			die("threads: malloc failed");
		p[0] = (char)i;
		sink = p;
		free(p);
	}
	sink = NULL;
}

static void *worker(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	pthread_barrier_wait(&start);
	churn(48 + t, PAIRS);
	for (int i = 0; i < LEAKS; i++)
		if (!(sink = malloc(1000 * (t + 1) + 1)))
			die("threads: leak malloc failed");
	sink = NULL;
	return NULL;
}

static void *late(void *arg)
{
	(void)arg;
	churn(61, 100);
	if (!(sink = malloc(777)))
		die("threads: late malloc failed");
	sink = NULL;
	return NULL;
}

int main(void)
{
	pthread_t th[WORKERS + 1];
	if (pthread_barrier_init(&start, NULL, WORKERS))
		die("threads: barrier");
	for (uintptr_t t = 0; t < WORKERS; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)t))
			die("threads: pthread_create");
	for (int t = 0; t < WORKERS; t++)
		pthread_join(th[t], NULL);
	if (pthread_create(&th[WORKERS], NULL, late, NULL))
		die("threads: pthread_create late");
	pthread_join(th[WORKERS], NULL);
	pthread_barrier_destroy(&start);
	write(1, "threads ok\n", 11);
	return 0;
}
