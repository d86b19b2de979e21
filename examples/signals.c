// SPDX-License-Identifier: MIT
/*
 * signals: a SIGALRM interval timer (every 200 us) whose handler maps,
 * touches and unmaps a page and, when the main loop is not itself inside
 * malloc/free, mallocs and frees; meanwhile the main loop mallocs, frees,
 * mmaps and munmaps.  Under the preload a signal lands inside a hook (guard
 * set, maybe inside the unwinder): the handler's calls must pass through,
 * never deadlock, never corrupt the log.
 *
 * The handler's malloc is skipped while the main loop is in malloc/free
 * because glibc's malloc is not async-signal-safe even without vmspy;
 * mmap/munmap are plain system calls, so those run on every signal.
 * Ground truth: the main loop does exactly 20000 malloc(40) + free and
 * 2000 mmap + munmap of 2 pages; the handler's own calls (malloc(24),
 * one-page mmaps) come on top, their number depends on timing.
 * Output: "signals ok\n"; the test runs it under timeout.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define LOOPS 20000

static volatile sig_atomic_t in_alloc;
static volatile sig_atomic_t handled;
static void *volatile sink;

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		m[0] = 1;
		munmap(m, 4096);
	}
	if (!in_alloc) {
		void *p = malloc(24);
		sink = p;
		free(p);
	}
	handled++;
	errno = saved;
}

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		die("signals: sigaction");
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	if (setitimer(ITIMER_REAL, &it, NULL))
		die("signals: setitimer");

	for (int i = 0; i < LOOPS; i++) {
		in_alloc = 1;
		char *p = malloc(40);
		in_alloc = 0;
		if (!p)
			die("signals: malloc");
		p[0] = (char)i;
		in_alloc = 1;
		free(p);
		in_alloc = 0;
		if (i % 10 == 0) {
			char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				die("signals: mmap");
			m[0] = 1;
			if (munmap(m, 8192))
				die("signals: munmap");
		}
	}
	/* Make sure at least a few signals arrived, however fast the loop. */
	while (handled < 20)
		pause();
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	write(1, "signals ok\n", 11);
	return 0;
}
