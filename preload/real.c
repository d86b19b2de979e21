/* SPDX-License-Identifier: MIT */
/*
 * Resolution of the real functions behind the interposed ones (contract in
 * real.h).  dlsym may allocate while it runs: the hooks then serve those
 * requests from their bootstrap pool, never from here.
 */
#include "real.h"

#include <dlfcn.h>

struct vms_real vms_real;
volatile int vms_real_ready;
static volatile int resolving;

#define RESOLVE(field, name) \
	(*(void **)(&vms_real.field) = dlsym(RTLD_NEXT, name))

int vms_real_resolve(void)
{
	if (vms_real_ready)
		return 1;
	if (resolving)
		return 0;
	resolving = 1;
	vms_barrier();
	RESOLVE(malloc, "malloc");
	RESOLVE(calloc, "calloc");
	RESOLVE(realloc, "realloc");
	RESOLVE(reallocarray, "reallocarray");
	RESOLVE(posix_memalign, "posix_memalign");
	RESOLVE(aligned_alloc, "aligned_alloc");
	RESOLVE(memalign, "memalign");
	RESOLVE(valloc, "valloc");
	RESOLVE(pvalloc, "pvalloc");
	RESOLVE(brk, "brk");
	RESOLVE(sbrk, "sbrk");
	RESOLVE(shm_open, "shm_open");
	RESOLVE(shm_unlink, "shm_unlink");
	RESOLVE(shmget, "shmget");
	RESOLVE(shmat, "shmat");
	RESOLVE(shmdt, "shmdt");
	RESOLVE(pthread_create, "pthread_create");
	RESOLVE(dlopen, "dlopen");
	RESOLVE(dlclose, "dlclose");
	RESOLVE(fork, "fork");
	RESOLVE(fork_nohandlers, "_Fork");
	RESOLVE(free, "free");
	RESOLVE(malloc_usable_size, "malloc_usable_size");
	RESOLVE(libc_malloc, "__libc_malloc");
	vms_barrier();
	vms_real_ready = vms_real.malloc && vms_real.free && vms_real.calloc &&
		   vms_real.realloc;
	resolving = 0;
	if (!vms_real_ready)
		vms_note("cannot find the real malloc; not recording",
			 (char *)NULL);
	return vms_real_ready;
}

