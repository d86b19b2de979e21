// SPDX-License-Identifier: MIT
/*
 * leaks: one leak of each kind the leak report must classify, each made in
 * its own noinline function so the report can be checked per function.
 * No stdio (its buffer would be one more still-reachable block).
 *
 * Expected (memcheck --leak-check=full --show-leak-kinds=all agrees):
 *   definitely lost  1065305 bytes in 7 blocks
 *       leak_malloc           1111      malloc
 *       leak_calloc           2222      calloc(2, 1111)
 *       leak_realloc_chain    3333      malloc(100) -> realloc 200 -> 3333
 *       leak_posix_memalign   4444      posix_memalign(64)
 *       leak_thread_body      5555      malloc in a thread (joined)
 *       leak_big           1048576      malloc(1 MiB): above the mmap
 *                                       threshold, glibc maps it itself
 *       leak_list               64      the head node of a 4-node list
 *   indirectly lost      192 bytes in 3 blocks (leak_list: nodes 2..4)
 *   possibly lost       6666 bytes in 1 block  (hold_interior: only a
 *                                       pointer 16 bytes into it is kept)
 *   still reachable     7777 bytes in 1 block  (hold_reachable: a global)
 * Output: "leaks ok\n", exit 0.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

struct node {
	struct node *next;
	char pad[56]; /* 64 bytes per node */
};

char *interior;    /* points 16 bytes into a 6666-byte block */
void *reachable;   /* points to the start of a 7777-byte block */

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

/* Every leak function ends with its pointer overwritten: no copy of it may
 * survive in a register or in this function's (dead) frame. */
NOINLINE void leak_malloc(void)
{
	char *volatile p = malloc(1111);
	if (!p)
		die("malloc");
	p[0] = 1;
	p = NULL;
}

NOINLINE void leak_calloc(void)
{
	char *volatile p = calloc(2, 1111);
	if (!p)
		die("calloc");
	p = NULL;
}

NOINLINE void leak_realloc_chain(void)
{
	char *volatile p = malloc(100);
	p = realloc(p, 200);
	p = realloc(p, 3333);
	if (!p)
		die("realloc");
	p = NULL;
}

NOINLINE void leak_posix_memalign(void)
{
	void *volatile p = NULL;
	if (posix_memalign((void **)&p, 64, 4444))
		die("posix_memalign");
	p = NULL;
}

NOINLINE void *leak_thread_body(void *arg)
{
	char *volatile p = malloc(5555);
	if (!p)
		die("thread malloc");
	p = NULL;
	return arg;
}

NOINLINE void leak_in_thread(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, leak_thread_body, NULL))
		die("pthread_create");
	pthread_join(t, NULL);
}

NOINLINE void leak_big(void)
{
	char *volatile p = malloc(1 << 20);
	if (!p)
		die("big malloc");
	p[0] = 1;
	p = NULL;
}

NOINLINE void leak_list(void)
{
	struct node *volatile head = NULL;
	for (int i = 0; i < 4; i++) {
		struct node *n = malloc(sizeof(*n));
		if (!n)
			die("node malloc");
		n->next = head;
		head = n;
		n = NULL;
	}
	head = NULL;
}

NOINLINE void hold_interior(void)
{
	char *p = malloc(6666);
	if (!p)
		die("interior malloc");
	interior = p + 16;
}

NOINLINE void hold_reachable(void)
{
	reachable = malloc(7777);
	if (!reachable)
		die("reachable malloc");
}

/* Wipes the dead stack below main's frame, where the leak functions' frames
 * were: a stale copy of a pointer there would make a lost block look
 * reachable to a conservative scan that looks below the stack pointer. */
NOINLINE void scrub_stack(void)
{
	volatile char buf[64 * 1024];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = 0;
}

int main(void)
{
	leak_malloc();
	leak_calloc();
	leak_realloc_chain();
	leak_posix_memalign();
	leak_in_thread();
	leak_big();
	leak_list();
	hold_interior();
	hold_reachable();
	scrub_stack();
	write(1, "leaks ok\n", 9);
	return 0;
}
