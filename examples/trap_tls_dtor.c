// SPDX-License-Identifier: MIT
/*
 * trap_tls_dtor: regression for "libc frees after TLS destructors have run"
 * (DESIGN.md): memory freed by a thread's TLS and pthread-key destructors,
 * i.e. after the recorder's own per-thread exit hook may have run, must
 * still be recorded, and must not crash.
 *
 * 8 threads, one after the other (so later ones can take over the log lane
 * of an exited one), each:
 *   - mallocs 3001 bytes, freed by a thread_local-style destructor
 *     (__cxa_thread_atexit_impl, what C++ thread_local uses);
 *   - mallocs 3002 bytes, freed by a pthread key destructor, which on its
 *     first round also mallocs 3003 bytes and sets the key again, so a
 *     second destructor round frees that one.
 * Ground truth: malloc of 3001, 3002, 3003 bytes: 8 each, all freed (none
 * live at exit); pthread_create 8, threads 9.  Output: "trap_tls_dtor
 * ok\n".
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8

int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);
extern void *__dso_handle;

static pthread_key_t key;
static int rounds[THREADS];

static void die(const char *what)
{
	write(2, what, strlen(what));
	write(2, "\n", 1);
	exit(1);
}

static void tls_dtor(void *p)
{
	free(p);
}

struct held {
	int *round;
	void *block;
};

static void key_dtor(void *arg)
{
	struct held *h = arg;
	free(h->block);
	if (++*h->round == 1) {
		/* A destructor that allocates again: glibc runs another round. */
		h->block = malloc(3003);
		if (!h->block)
			die("trap_tls_dtor: malloc in destructor");
		pthread_setspecific(key, h);
	}
}

static void *body(void *arg)
{
	static __thread struct held held;
	void *a = malloc(3001);
	if (!a || __cxa_thread_atexit_impl(tls_dtor, a, __dso_handle))
		die("trap_tls_dtor: thread_atexit");
	held.round = arg;
	held.block = malloc(3002);
	if (!held.block || pthread_setspecific(key, &held))
		die("trap_tls_dtor: setspecific");
	return NULL;
}

int main(void)
{
	if (pthread_key_create(&key, key_dtor))
		die("trap_tls_dtor: key");
	for (int i = 0; i < THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, body, &rounds[i]))
			die("trap_tls_dtor: pthread_create");
		pthread_join(t, NULL);
		if (rounds[i] != 2)
			die("trap_tls_dtor: destructor rounds");
	}
	write(1, "trap_tls_dtor ok\n", 17);
	return 0;
}
