// SPDX-License-Identifier: MIT
/*
 * trap_dlopen_tls: regression for the DESIGN.md trap "double free with
 * threads doing dlopen/dlclose of a library with TLS" (ld.so frees inside
 * _dl_update_slotinfo; unwinding there re-entered ld.so).
 *
 *   trap_dlopen_tls [LIB [SYMBOL]]
 *
 * 4 threads each dlopen LIB (default libelf.so.1), call SYMBOL (default
 * elf_errno; it reads the library's TLS) and dlclose it, 200 times; the
 * main thread does the same meanwhile.  Ground truth: dlopen and dlclose
 * 1000 calls each, pthread_create 4.  It must finish (no crash, no hang)
 * and print "trap_dlopen_tls ok\n".
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 200

static const char *lib = "libelf.so.1";
static const char *sym = "elf_errno";

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static void *cycle(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h)
			die("trap_dlopen_tls: dlopen failed");
		uintptr_t (*f)(void) = (uintptr_t (*)(void))dlsym(h, sym);
		if (!f)
			die("trap_dlopen_tls: dlsym failed");
		f();
		/* Some heap traffic in between, as a real program has. */
		free(malloc(64 + (size_t)i));
		if (dlclose(h))
			die("trap_dlopen_tls: dlclose failed");
	}
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];
	if (argc > 1)
		lib = argv[1];
	if (argc > 2)
		sym = argv[2];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, cycle, NULL))
			die("trap_dlopen_tls: pthread_create");
	cycle(NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	write(1, "trap_dlopen_tls ok\n", 19);
	return 0;
}
