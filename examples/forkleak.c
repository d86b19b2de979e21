/* SPDX-License-Identifier: MIT */
/*
 * A forked child's leak report.  Ground truth: the parent leaks nothing
 * (its block stays referenced from a global); the child allocates a block
 * referenced only from the parent's (inherited) block — not a leak — and
 * loses one block of 100 bytes: definitely lost 100 bytes in 1 block.
 */
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
struct node { struct node *next; char pad[56]; };
struct node *keep;   /* parent's block, inherited */
int main(void) {
	keep = malloc(sizeof *keep);   /* allocated by the parent */
	pid_t p = fork();
	if (p == 0) {
		keep->next = malloc(sizeof *keep); /* child block, referenced only from the inherited one */
		void *lost = malloc(100); lost = 0; (void)lost;   /* a real leak: 100 bytes */
		exit(0);
	}
	waitpid(p, 0, 0);
	return 0;
}
