// SPDX-License-Identifier: MIT
/*
 * crash: allocates known blocks, then dies without exiting.
 *
 *   crash [kill]   SIGKILLs itself (exit status 128 + 9 in a shell)
 *   crash segv     writes through a null pointer (SIGSEGV)
 *   crash abort    abort() (SIGABRT)
 *   crash MODE N   first makes N malloc(N % 509 + 16) + free pairs (enough
 *                  events to fill many log chunks), then as MODE
 *
 * Before dying it has made (and never freed) 10 mallocs of 10000 bytes and
 * 1 calloc of 3 x 3333 bytes = 109999 heap bytes in 11 blocks, and one
 * anonymous mmap of 1 MiB (touched).  No stdio; it writes
 * "crash: ready\n" to stdout just before dying.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *blocks[11];

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "kill";
	long pairs = argc > 2 ? atol(argv[2]) : 0;
	for (long i = 0; i < pairs; i++) {
		void *volatile p = malloc((size_t)(i % 509) + 16);
		free(p);
	}
	for (int i = 0; i < 10; i++) {
		blocks[i] = malloc(10000);
		if (!blocks[i])
			return 1;
		memset(blocks[i], i, 10000);
	}
	blocks[10] = calloc(3, 3333);
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!blocks[10] || m == MAP_FAILED)
		return 1;
	memset(m, 7, 1 << 20);
	write(1, "crash: ready\n", 13);
	if (!strcmp(mode, "segv"))
		*(volatile int *)(uintptr_t)argc = 0; /* argc is tiny: unmapped */
	else if (!strcmp(mode, "abort"))
		abort();
	kill(getpid(), SIGKILL);
	pause();
	return 1;
}
