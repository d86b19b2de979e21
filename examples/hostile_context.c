// SPDX-License-Identifier: MIT
/*
 * hostile_context: programs that run code where a profiler does not expect
 * it (issue 7).  One mode per run:
 *
 *   coro      8 makecontext/swapcontext coroutines on small (64 KiB, with
 *             a PROT_NONE guard page below) mmap'd stacks, scheduled round
 *             robin 20000 times in all; at each step coroutine c mallocs
 *             700 + c bytes, and frees the block it made one step before.
 *             Ground truth: 2500 malloc(700 + c) per coroutine, none live
 *             at exit; mmap 8 stacks, munmap 8.
 *   altstack  a SIGUSR1 handler running on a sigaltstack (SIGSTKSZ bytes,
 *             malloc'd) mmaps and munmaps a page (async-signal-safe) and
 *             mallocs 1357 bytes and frees them; main raise()s SIGUSR1
 *             2000 times between its own malloc(2468)/free pairs (never
 *             inside malloc: raise is synchronous).  Whatever the hooks
 *             do on the alternate stack must fit in it: an overflow
 *             corrupts the heap chunk below it (free() of it aborts).
 *             Ground truth: malloc(1357) 2000, malloc(2468) 2000, none
 *             live; mmap 2000, munmap 2000; the alternate stack is freed
 *             at the end.
 *   longjmp   an ITIMER_REAL timer (every 50 us) whose SIGALRM handler
 *             siglongjmp()s back to the main loop every third time, while
 *             the main loop mmaps and munmaps pages (plain system calls,
 *             safe to leave with longjmp natively).  Under the preload the
 *             jump sometimes leaves a hook in the middle: README "Known
 *             limitations" says recording may stop for that thread; the
 *             program must still run to its end, exit 0 and print the
 *             same.  Runs 20000 loop steps; prints "longjmp ok".
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

static void say(const char *s)
{
	write(1, s, strlen(s));
}

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	_exit(1);
}

/* ---- coro --------------------------------------------------------------- */

#define NCORO 8
#define STEPS 20000
#define CORO_STACK (64 * 1024)

static ucontext_t sched_ctx, coro_ctx[NCORO];
static int coro_done[NCORO];

static void coro_main(int c)
{
	void *prev = NULL;
	for (int i = 0; i < STEPS / NCORO; i++) {
		void *p = malloc(700 + (size_t)c);
		if (!p)
			die("hostile_context: malloc failed");
		memset(p, c, 700 + (size_t)c);
		free(prev);
		prev = p;
		swapcontext(&coro_ctx[c], &sched_ctx);
	}
	free(prev);
	coro_done[c] = 1;
}

static int coro(void)
{
	char *stacks[NCORO];
	for (int c = 0; c < NCORO; c++) {
		stacks[c] = mmap(NULL, CORO_STACK + 4096, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stacks[c] == MAP_FAILED)
			die("hostile_context: mmap failed");
		mprotect(stacks[c], 4096, PROT_NONE); /* guard */
		getcontext(&coro_ctx[c]);
		coro_ctx[c].uc_stack.ss_sp = stacks[c] + 4096;
		coro_ctx[c].uc_stack.ss_size = CORO_STACK;
		coro_ctx[c].uc_link = &sched_ctx;
		makecontext(&coro_ctx[c], (void (*)(void))coro_main, 1, c);
	}
	for (int live = NCORO; live;) {
		live = 0;
		for (int c = 0; c < NCORO; c++) {
			if (coro_done[c])
				continue;
			swapcontext(&sched_ctx, &coro_ctx[c]);
			live += !coro_done[c];
		}
	}
	for (int c = 0; c < NCORO; c++)
		munmap(stacks[c], CORO_STACK + 4096);
	say("coro ok\n");
	return 0;
}

/* ---- altstack ----------------------------------------------------------- */

static volatile sig_atomic_t on_alt_ok = 1, handled;

static void on_usr1(int sig)
{
	(void)sig;
	stack_t cur;
	if (sigaltstack(NULL, &cur) || !(cur.ss_flags & SS_ONSTACK))
		on_alt_ok = 0;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("hostile_context: mmap in handler failed");
	munmap(m, 4096);
	void *p = malloc(1357);
	if (!p)
		die("hostile_context: malloc in handler failed");
	memset(p, 1, 1357);
	free(p);
	handled++;
}

static int altstack(void)
{
	stack_t ss;
	ss.ss_size = SIGSTKSZ;
	ss.ss_sp = malloc(ss.ss_size);
	ss.ss_flags = 0;
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		die("hostile_context: sigaltstack failed");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < 2000; i++) {
		void *p = malloc(2468);
		if (!p)
			die("hostile_context: malloc failed");
		raise(SIGUSR1);
		free(p);
	}
	stack_t off = { .ss_flags = SS_DISABLE };
	sigaltstack(&off, NULL);
	free(ss.ss_sp);
	if (handled != 2000 || !on_alt_ok)
		die("hostile_context: handler not run on the alternate stack");
	say("altstack ok\n");
	return 0;
}

/* ---- longjmp ------------------------------------------------------------ */

static sigjmp_buf jump_env;
static volatile sig_atomic_t ticks, jumps;

static void on_alarm(int sig)
{
	(void)sig;
	if (++ticks % 3 == 0) {
		jumps++;
		siglongjmp(jump_env, 1);
	}
}

static int longjmp_mode(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	setitimer(ITIMER_REAL, &it, NULL);
	volatile int i = 0;
	sigsetjmp(jump_env, 1);
	for (; i < 20000; i++) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			*(volatile char *)p = 1;
			munmap(p, 4096);
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	/* Allocation still works after the jumps. */
	void *p = malloc(100);
	if (!p)
		die("hostile_context: malloc after the jumps failed");
	free(p);
	say("longjmp ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "coro"))
		return coro();
	if (!strcmp(m, "altstack"))
		return altstack();
	if (!strcmp(m, "longjmp"))
		return longjmp_mode();
	die("usage: hostile_context coro|altstack|longjmp");
	return 2;
}
