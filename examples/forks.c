// SPDX-License-Identifier: MIT
/*
 * forks: every way a process makes another, for the one-recording-per-
 * process rule.  Run with no arguments; in order it
 *   1. fork()s: the child mallocs 5 x 12345 bytes (never freed), exit(0);
 *   2. vfork()s: the child execs this program with "--exec-child", which
 *      mallocs 2 x 4242 bytes (never freed) and exits 0;
 *   3. posix_spawn()s /bin/true;
 *   4. waits for all three (each must exit 0), then execs itself with
 *      "--after-exec" (same pid, a new image), which mallocs 1 x 5151
 *      bytes and exits 0.
 * Under the preload with VMSPY_OUT=P that gives recordings
 *   P                 the first image: fork 1, vfork 1; no clean exit
 *                     (it exec'd)
 *   P.<fork child>    parent P, ppid = P's pid, 5 x 12345 live at exit
 *   P.<vfork child>   its exec'd image (the child between vfork and
 *                     exec records nothing, so it leaves no recording):
 *                     parent P, argv[1] "--exec-child", 2 x 4242 live
 *   P.<spawn child>   parent P, exe /usr/bin/true
 *   P.<P's pid>       the image after exec: predecessor P, argv[1]
 *                     "--after-exec", 1 x 5151 live at exit
 * No stdio; output: "forks: fork ok\n", "forks: vfork ok\n",
 * "forks: spawn ok\n", "forks: exec ok\n"; exit 0.
 */
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static void *volatile sink;

static void say(const char *s)
{
	write(1, s, strlen(s));
}

static void die(const char *s)
{
	write(2, s, strlen(s));
	write(2, "\n", 1);
	exit(1);
}

static void alloc_n(int n, size_t size)
{
	for (int i = 0; i < n; i++)
		if (!(sink = malloc(size)))
			die("forks: malloc");
}

static void wait_ok(pid_t pid, const char *what)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die(what);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--exec-child")) {
		alloc_n(2, 4242);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--after-exec")) {
		alloc_n(1, 5151);
		say("forks: exec ok\n");
		return 0;
	}

	pid_t a = fork();
	if (a < 0)
		die("forks: fork");
	if (a == 0) {
		alloc_n(5, 12345);
		exit(0);
	}
	wait_ok(a, "forks: fork child failed");
	say("forks: fork ok\n");

	char *child_argv[] = { argv[0], "--exec-child", NULL };
	pid_t b = vfork();
	if (b < 0)
		die("forks: vfork");
	if (b == 0) {
		execve("/proc/self/exe", child_argv, environ);
		_exit(127);
	}
	wait_ok(b, "forks: vfork child failed");
	say("forks: vfork ok\n");

	pid_t c;
	char *true_argv[] = { "true", NULL };
	if (posix_spawn(&c, "/bin/true", NULL, NULL, true_argv, environ))
		die("forks: posix_spawn");
	wait_ok(c, "forks: spawned child failed");
	say("forks: spawn ok\n");

	char *again[] = { argv[0], "--after-exec", NULL };
	execve("/proc/self/exe", again, environ);
	die("forks: exec");
	return 1;
}
