// SPDX-License-Identifier: MIT
/*
 * hostile_lifecycle: the process lifecycle cases forks.c and crash.c do not
 * cover (issue 7).  One mode per run; each writes one line to stdout (no
 * stdio buffers: write(2)) and has an exact ground truth:
 *
 *   fork-mt      4 threads malloc(64)/free in a loop while main fork()s 3
 *                children, one after the other; each child mallocs
 *                7 x 777 bytes (never freed) and exit(0)s; the parent
 *                waits for them, stops the threads, exit 0.
 *                Parent: 3 forks, 777 never allocated.  Each child: a
 *                recording of its own, 7 x 777 live, clean exit.
 *   daemon       double fork: the child setsid()s, forks the daemon and
 *                _exit(0)s at once; the daemon mallocs 3 x 3333 (never
 *                freed), writes "daemon ok\n" to a pipe and exit(0)s; the
 *                first process reads the pipe to its end and prints the
 *                line.  Three recordings: parent, child (no clean exit),
 *                daemon (3 x 3333 live, clean exit).
 *   thread-exit  main starts a thread and pthread_exit()s; the thread
 *                mallocs 5 x 5555 (never freed) and exit(3)s.
 *   _exit        mallocs 4 x 4444 and _exit(5)s: no atexit, no scan.
 *   segv-handler mallocs 6 x 6666, installs its own SIGSEGV handler that
 *                writes "segv-handler caught\n" and _exit(42)s, then
 *                writes through a null pointer.
 *   spawn        posix_spawn()s itself with "spawned" (the child mallocs
 *                2 x 2222, never freed, exit 0) with a file action, waits;
 *                the parent mallocs 1 x 1111 (live).  The child's 2222s
 *                must be in its own recording, never in the parent's.
 *   spawned      (the child of spawn)
 *   cat          copies stdin to stdout through one malloc(8888) buffer,
 *                freed at the end (the reader of a pipeline).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void *volatile sink[16];

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

static void alloc_n(int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		sink[i] = malloc(size);
		if (!sink[i])
			die("hostile_lifecycle: malloc failed");
		memset(sink[i], i, size);
	}
}

/* ---- fork-mt ------------------------------------------------------------ */

static atomic_int stop;

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *p = malloc(64);
		if (!p)
			die("hostile_lifecycle: malloc failed");
		free(p);
	}
	return NULL;
}

static int fork_mt(void)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&th[i], NULL, busy, NULL))
			die("hostile_lifecycle: pthread_create failed");
	for (int k = 0; k < 3; k++) {
		usleep(2000);
		pid_t pid = fork();
		if (pid < 0)
			die("hostile_lifecycle: fork failed");
		if (pid == 0) {
			alloc_n(7, 777);
			exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			die("hostile_lifecycle: fork child failed");
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	say("fork-mt ok\n");
	return 0;
}

/* ---- daemon ------------------------------------------------------------- */

static int daemon_mode(void)
{
	int fd[2];
	if (pipe(fd))
		die("hostile_lifecycle: pipe failed");
	pid_t pid = fork();
	if (pid < 0)
		die("hostile_lifecycle: fork failed");
	if (pid == 0) {
		close(fd[0]);
		setsid();
		pid_t d = fork();
		if (d < 0)
			die("hostile_lifecycle: second fork failed");
		if (d > 0)
			_exit(0);
		/* The daemon: its parent is gone before it does anything. */
		usleep(20000);
		alloc_n(3, 3333);
		write(fd[1], "daemon ok\n", 10);
		exit(0);
	}
	close(fd[1]);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("hostile_lifecycle: first child failed");
	char buf[64];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd[0], buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	/* EOF: the daemon closed the pipe by exiting; give it a moment to
	 * finish its exit-time work before the test looks at its files. */
	usleep(100000);
	write(1, buf, n);
	return n == 10 ? 0 : 1;
}

/* ---- thread-exit -------------------------------------------------------- */

static void *exiter(void *arg)
{
	(void)arg;
	usleep(10000);
	alloc_n(5, 5555);
	say("thread-exit ok\n");
	exit(3);
}

static int thread_exit(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, exiter, NULL))
		die("hostile_lifecycle: pthread_create failed");
	pthread_exit(NULL);
}

/* ---- segv-handler ------------------------------------------------------- */

static void on_segv(int sig)
{
	(void)sig;
	static const char m[] = "segv-handler caught\n";
	write(1, m, sizeof(m) - 1);
	_exit(42);
}

static int segv_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	alloc_n(6, 6666);
	*(volatile int *)(uintptr_t)sink[15] = 1; /* sink[15] is NULL */
	return 1;
}

/* ---- spawn -------------------------------------------------------------- */

static int spawn(const char *self)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	char *argv[] = { (char *)self, "spawned", NULL };
	int st;

	alloc_n(1, 1111);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawn(&pid, self, &fa, NULL, argv, environ))
		die("hostile_lifecycle: posix_spawn failed");
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("hostile_lifecycle: spawned child failed");
	say("spawn ok\n");
	return 0;
}

/* ---- cat ---------------------------------------------------------------- */

static int cat(void)
{
	char *buf = malloc(8888);
	if (!buf)
		die("hostile_lifecycle: malloc failed");
	for (;;) {
		ssize_t r = read(0, buf, 8888);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		write(1, buf, (size_t)r);
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "fork-mt"))
		return fork_mt();
	if (!strcmp(m, "daemon"))
		return daemon_mode();
	if (!strcmp(m, "thread-exit"))
		return thread_exit();
	if (!strcmp(m, "_exit")) {
		alloc_n(4, 4444);
		say("_exit ok\n");
		_exit(5);
	}
	if (!strcmp(m, "segv-handler"))
		return segv_handler();
	if (!strcmp(m, "spawn"))
		return spawn(argv[0]);
	if (!strcmp(m, "spawned")) {
		alloc_n(2, 2222);
		return 0;
	}
	if (!strcmp(m, "cat"))
		return cat();
	die("usage: hostile_lifecycle fork-mt|daemon|thread-exit|_exit|"
	    "segv-handler|spawn|cat");
	return 2;
}
