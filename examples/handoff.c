// SPDX-License-Identifier: MIT
/*
 * handoff: blocks allocated by one thread and freed by another, whose
 * addresses then come back to either thread (the order the leak scan and
 * the analyzer must get right across logs).
 *
 *   handoff [PAIRS [ITEMS]]     (defaults 2 and 200000)
 *
 * PAIRS producer/consumer pairs run at once.  A producer mallocs ITEMS
 * blocks of 16..527 bytes and hands each to its consumer through a small
 * ring (mutex + condition variables); the consumer frees it and then
 * mallocs and frees a block of its own of the same size, which glibc most
 * often serves from the address it just freed (its tcache).  Both sides
 * leak on purpose, dropping every pointer: a producer leaks one block of
 * 3333 bytes every 1000 items, a consumer, every 1000 items, keeps its own
 * block (of the handed-over block's size, so often at an address that was
 * the producer's) and leaks one block of 5555 bytes.
 *
 * Ground truth (exact to the block), per pair, n = ITEMS / 1000:
 *   definitely lost: n blocks of 3333 B, n of 5555 B and n kept consumer
 *   blocks whose sizes the program adds up and prints.
 * Output: "handoff ok PAIRS ITEMS LOST_BLOCKS LOST_BYTES\n".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RING 64
#define MAX_PAIRS 16

struct pair {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	void *ring[RING];
	size_t size[RING];
	unsigned head, count;
	long items;
	uint64_t kept_bytes; /* the consumer's kept blocks */
	uint64_t seed;
};

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

volatile uintptr_t leak_sink;

/* Drops p: no pointer to it survives where the scan would see it. */
static __attribute__((noinline)) void drop(void *p, size_t size)
{
	/* No stale heap pointers inside (they would make other lost
	 * blocks indirectly lost). */
	memset(p, 0x22, size);
	leak_sink = (uintptr_t)p ^ 0x5a5a5a5a5a5aull;
	leak_sink = 0;
}

static __attribute__((noinline)) void leak_new(size_t size)
{
	char *p = malloc(size);
	if (!p)
		die("handoff: malloc failed");
	drop(p, size);
}

static void *producer(void *arg)
{
	struct pair *q = arg;
	uint64_t x = q->seed;
	for (long i = 0; i < q->items; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t n = 16 + (size_t)((x >> 33) % 512);
		char *p = malloc(n);
		if (!p)
			die("handoff: malloc failed");
		memset(p, 0x33, n);
		if (i % 1000 == 999)
			leak_new(3333);
		pthread_mutex_lock(&q->mu);
		while (q->count == RING)
			pthread_cond_wait(&q->not_full, &q->mu);
		unsigned k = (q->head + q->count) % RING;
		q->ring[k] = p;
		q->size[k] = n;
		q->count++;
		pthread_cond_signal(&q->not_empty);
		pthread_mutex_unlock(&q->mu);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *q = arg;
	for (long i = 0; i < q->items; i++) {
		pthread_mutex_lock(&q->mu);
		while (!q->count)
			pthread_cond_wait(&q->not_empty, &q->mu);
		void *p = q->ring[q->head];
		size_t n = q->size[q->head];
		q->ring[q->head] = NULL; /* no stale pointer in the ring */
		q->head = (q->head + 1) % RING;
		q->count--;
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->mu);
		free(p);
		char *mine = malloc(n); /* often p's address again */
		if (!mine)
			die("handoff: malloc failed");
		if (i % 1000 == 999) {
			drop(mine, n);
			q->kept_bytes += n;
			leak_new(5555);
		} else {
			free(mine);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct pair pairs[MAX_PAIRS];
	pthread_t th[2 * MAX_PAIRS];
	long npairs = argc > 1 ? atol(argv[1]) : 2;
	long items = argc > 2 ? atol(argv[2]) : 200000;
	if (npairs < 1 || npairs > MAX_PAIRS || items < 1000)
		die("usage: handoff [PAIRS(1-16) [ITEMS(>=1000)]]");
	for (long i = 0; i < npairs; i++) {
		struct pair *q = &pairs[i];
		pthread_mutex_init(&q->mu, NULL);
		pthread_cond_init(&q->not_empty, NULL);
		pthread_cond_init(&q->not_full, NULL);
		q->items = items;
		q->seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		if (pthread_create(&th[2 * i], NULL, producer, q) ||
		    pthread_create(&th[2 * i + 1], NULL, consumer, q))
			die("handoff: pthread_create failed");
	}
	uint64_t blocks = 0, bytes = 0;
	for (long i = 0; i < npairs; i++) {
		pthread_join(th[2 * i], NULL);
		pthread_join(th[2 * i + 1], NULL);
		long n = items / 1000;
		blocks += 3 * (uint64_t)n;
		bytes += (uint64_t)n * (3333 + 5555) + pairs[i].kept_bytes;
	}
	char line[128];
	int len = snprintf(line, sizeof(line), "handoff ok %ld %ld %llu %llu\n",
			   npairs, items, (unsigned long long)blocks,
			   (unsigned long long)bytes);
	write(1, line, (size_t)len);
	return 0;
}
