// SPDX-License-Identifier: MIT
/*
 * trap_stack_reuse: regression for "glibc caches and reuses thread stacks:
 * a new thread may get an old stack with no mmap at all" (DESIGN.md).
 * 100 rounds of: create 2 threads, join both.  Each thread mallocs 2718
 * and 3141 bytes and frees both.  Every event must be recorded.
 * Ground truth: pthread_create 200, threads 201; malloc of 2718 and of 3141
 * bytes: 200 each, all freed.  Output: "trap_stack_reuse ok\n".
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 100

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static void *body(void *arg)
{
	char *a = malloc(2718), *b = malloc(3141);
	if (!a || !b)
		die("trap_stack_reuse: malloc");
	a[0] = b[0] = 1;
	free(b);
	free(a);
	return arg;
}

int main(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		pthread_t t1, t2;
		if (pthread_create(&t1, NULL, body, NULL) ||
		    pthread_create(&t2, NULL, body, NULL))
			die("trap_stack_reuse: pthread_create");
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
	}
	write(1, "trap_stack_reuse ok\n", 20);
	return 0;
}
