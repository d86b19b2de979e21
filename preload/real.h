/* SPDX-License-Identifier: MIT */
/*
 * The real functions behind the interposed ones, resolved once with
 * dlsym(RTLD_NEXT) at start-up (or at the first hook, whichever comes
 * first).  While they are being resolved, allocations are served from a
 * small static pool (dlsym may calloc).
 */
#ifndef VMS_REAL_H
#define VMS_REAL_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "prim.h"

struct vms_real {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void (*free)(void *);
	size_t (*malloc_usable_size)(void *);
	void *(*libc_malloc)(size_t); /* glibc's own, to tell if malloc is */
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	int (*brk)(void *);
	void *(*sbrk)(intptr_t);
	int (*shm_open)(const char *, int, mode_t);
	int (*shm_unlink)(const char *);
	int (*shmget)(key_t, size_t, int);
	void *(*shmat)(int, const void *, int);
	int (*shmdt)(const void *);
	int (*pthread_create)(pthread_t *, const pthread_attr_t *,
			      void *(*)(void *), void *);
	void *(*dlopen)(const char *, int);
	int (*dlclose)(void *);
	pid_t (*fork)(void);
	pid_t (*fork_nohandlers)(void); /* _Fork */
};

extern struct vms_real vms_real VMS_HIDDEN;

/* 1 once every real function is resolved. */
extern volatile int vms_real_ready VMS_HIDDEN;

/* Resolves every real function.  Returns 1 when done, 0 while in progress
 * (a nested call from inside dlsym, which the caller serves from its
 * bootstrap pool) or when the real malloc cannot be found. */
VMS_HIDDEN int vms_real_resolve(void);

#endif /* VMS_REAL_H */
