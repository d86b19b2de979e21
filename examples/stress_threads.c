// SPDX-License-Identifier: MIT
/*
 * stress_threads: thread churn (issue 7).
 *
 *   stress_threads [THREADS [BATCH]]     (defaults 10000 and 8)
 *
 * Starts THREADS short-lived threads, BATCH at a time (start BATCH, join
 * them, start the next BATCH).  Every thread i:
 *   p = malloc(1234); q = malloc(4321); free(p); writes q; free(q)
 * and returns at once: its free(q) is the last thing it does, so a
 * recorder that loses a thread's last moments shows 4321-byte blocks live
 * at exit.  The thread of index THREADS-1 leaks one block of 999 bytes
 * (held by a global: still reachable) so a recording of a run is never
 * empty of live blocks.
 *
 * Ground truth: pthread_create THREADS; malloc(1234) and malloc(4321)
 * THREADS times each, none live at exit; malloc(999) once, live; at most
 * BATCH worker threads alive at a time, so a recorder that reuses the logs
 * of dead threads needs about BATCH + 2 logs, not THREADS.
 * No stdio; output "stress_threads ok THREADS\n".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long nthreads = 10000;
static long batch = 8;
static void *volatile keep;

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static void *worker(void *arg)
{
	long i = (long)(intptr_t)arg;
	char *p = malloc(1234), *q = malloc(4321);
	if (!p || !q)
		die("stress_threads: malloc failed");
	p[0] = (char)i;
	free(p);
	memset(q, (int)i, 4321);
	if (i == nthreads - 1)
		keep = malloc(999);
	free(q);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		nthreads = atol(argv[1]);
	if (argc > 2)
		batch = atol(argv[2]);
	if (nthreads < 1 || batch < 1 || batch > 256)
		die("usage: stress_threads [THREADS [BATCH(1-256)]]");
	pthread_t th[256];
	for (long i = 0; i < nthreads; i += batch) {
		long n = nthreads - i < batch ? nthreads - i : batch;
		for (long k = 0; k < n; k++)
			if (pthread_create(&th[k], NULL, worker,
					   (void *)(intptr_t)(i + k)))
				die("stress_threads: pthread_create failed");
		for (long k = 0; k < n; k++)
			pthread_join(th[k], NULL);
	}
	char line[64];
	int n = snprintf(line, sizeof(line), "stress_threads ok %ld\n",
			 nthreads);
	write(1, line, (size_t)n);
	return 0;
}
