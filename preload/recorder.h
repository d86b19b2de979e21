/* SPDX-License-Identifier: MIT */
/*
 * The recorder core: a plain C API that the interposed symbols (hooks.c)
 * call after the real function has run.  It could be driven by something
 * other than LD_PRELOAD (the unit tests do).
 *
 * Rules for callers: call with the thread's guard set (vms_guard_enter), so
 * that anything the recorder does internally is never recorded; take a
 * release's sequence number with vms_seq_next() *before* the real call and
 * pass it in; acquisitions take theirs inside, after the real call.
 * Nothing here allocates through malloc, takes a lock on the event path,
 * or changes errno.
 */
#ifndef VMS_RECORDER_H
#define VMS_RECORDER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "prim.h"

/* Per-thread state, initial-exec TLS, zero until the thread's first event. */
struct vms_tls {
	struct vms_lane *lane;
	volatile int guard; /* volatile: GCC deleted a plain flag around
			     * __THROW functions such as dlsym */
	volatile int capturing; /* inside unw_backtrace (see vms_defer_*) */
	pid_t tid;
	int sample_started;     /* sample.c: the countdown was drawn */
	int64_t sample_left;    /* sample.c: bytes to the next sample */
	uint64_t sample_rng;
};
extern __thread struct vms_tls vms_tls
	__attribute__((tls_model("initial-exec"))) VMS_HIDDEN;

/* Sampling mode (sample.h): counts n bytes against this thread's
 * countdown; 1 when this allocation is to be sampled. */
VMS_HIDDEN int vms_sample_draw(size_t n);
static inline int vms_sample_due(size_t n)
{
	int64_t left = vms_tls.sample_left - (int64_t)n;
	vms_tls.sample_left = left;
	return VMS_UNLIKELY(left <= 0) ? vms_sample_draw(n) : 0;
}

/* Recording on (1) or off (0); checked by every hook. */
extern volatile int vms_active VMS_HIDDEN;

static inline int vms_guard_enter(void)
{
	if (vms_tls.guard || !vms_active)
		return 0;
	vms_tls.guard = 1;
	vms_barrier();
	return 1;
}

static inline void vms_guard_leave(void)
{
	vms_barrier();
	vms_tls.guard = 0;
}

/* 1 when ra lies in the dynamic loader's text. */
static inline int vms_from_ldso(const void *ra);

/* An allocator call from ld.so that reached a hook while this thread was
 * capturing a stack (guard set): recorded right after the event being
 * written, with a sequence number taken now. */
VMS_HIDDEN void vms_defer_alloc(unsigned api, const void *ra, const void *p,
				size_t size, const void *old);
VMS_HIDDEN void vms_defer_free(unsigned api, const void *p);

/* 1 when ra lies in code of vmspy's own helpers (libunwind): calls from
 * there are the recorder's, not the host's, even outside a hook (libunwind
 * unmaps its per-thread cache from a TLS destructor). */
static inline int vms_from_recorder(const void *ra);

/* Sequence numbers (recorder.c explains the scheme).  A heap event
 * (malloc family) takes vms_seq_heap(its address); every other event
 * vms_seq_next(); a snapshot or the leak scan vms_seq_barrier(), a number
 * above every one handed out so far. */
VMS_HIDDEN uint64_t vms_seq_heap(const void *addr);
VMS_HIDDEN uint64_t vms_seq_next(void);
VMS_HIDDEN uint64_t vms_seq_barrier(void);

/* ra: the hook's return address (the allocator's caller). */
VMS_HIDDEN void vms_record_alloc(unsigned api, const void *ra, const void *ptr,
				 size_t size, size_t align, const void *old);
VMS_HIDDEN void vms_record_free(unsigned api, uint64_t seq, const void *ptr);
VMS_HIDDEN void vms_record_mmap(unsigned api, const void *ra, const void *addr,
				size_t len, int prot, int flags, int fd,
				off_t off, const void *old, size_t old_len);
VMS_HIDDEN void vms_record_munmap(unsigned api, const void *ra, uint64_t seq,
				  const void *addr, size_t len);
VMS_HIDDEN void vms_record_mprotect(const void *ra, const void *addr,
				    size_t len, int prot);
VMS_HIDDEN void vms_record_madvise(const void *ra, const void *addr,
				   size_t len, int advice);
VMS_HIDDEN void vms_record_brk(unsigned api, const void *ra, uint64_t seq,
			       const void *old_brk, const void *new_brk);
VMS_HIDDEN void vms_record_shm_open(const void *ra, int fd, int oflag,
				    int mode, const char *name);
VMS_HIDDEN void vms_record_shm_unlink(const void *ra, uint64_t seq,
				      const char *name);
VMS_HIDDEN void vms_record_shmget(const void *ra, long key, size_t size,
				  int shmflg, int shmid);
VMS_HIDDEN void vms_record_shmat(const void *ra, int shmid, const void *addr,
				 int shmflg);
VMS_HIDDEN void vms_record_shmdt(const void *ra, uint64_t seq,
				 const void *addr);
VMS_HIDDEN void vms_record_dlopen(const void *ra, const char *path, int flags,
				  void *handle);
VMS_HIDDEN void vms_record_dlclose(const void *ra, uint64_t seq, void *handle,
				   int result);
VMS_HIDDEN void vms_record_fork(unsigned api, const void *ra, uint64_t seq,
				pid_t child);
/* Interns the current stack in this thread's lane (for a thread about to
 * be created); then, once pthread_create succeeded, vms_record_create. */
VMS_HIDDEN void vms_stack_here(const void *ra, uint32_t *lane_out,
			       uint32_t *stack_out);
VMS_HIDDEN void vms_record_create(uint32_t lane, uint32_t stack,
				  uint64_t handle);

VMS_HIDDEN void vms_record_exit(uint64_t status);

/* The events lost so far. */
VMS_HIDDEN uint64_t vms_dropped_events(void);

/* The lanes created so far: lanes 0..count-1 (some may be unusable: no
 * chunk).  For the exit-time scan, which runs while other threads may
 * still write. */
VMS_HIDDEN uint32_t vms_lane_count(void);
VMS_HIDDEN struct vms_lane *vms_lane_at(uint32_t i);

/* Thread lifecycle.  vms_thread_begin runs first thing in a new thread
 * (from the pthread_create wrapper) with the creator's lane and stack id. */
VMS_HIDDEN void vms_thread_begin(uint32_t creator_lane, uint32_t creator_stack);

/* 1 when events can be recorded now: recording is on and, in a fork child,
 * its recording has been started (on its first event). */
VMS_HIDDEN int vms_recorder_ready(void);

/* Process lifecycle.  vms_recorder_init starts recording from the
 * VMSPY_* environment; the library constructor calls it (tests may too). */
VMS_HIDDEN void vms_recorder_init(int argc, char **argv);
VMS_HIDDEN void vms_after_fork_child(void);
VMS_HIDDEN void vms_take_snapshot(unsigned reason, const char *label);

/* This process's recording. */
struct vms_self {
	char root[PATH_MAX];        /* VMSPY_OUT or the default name */
	char dir[PATH_MAX];         /* where this process records */
	char parent[PATH_MAX];      /* recording of the parent, or "" */
	char predecessor[PATH_MAX]; /* recording of the image before exec */
	char exe[PATH_MAX];
	uint64_t start_realtime, start_monotonic;
	int argc;
	char **argv;
	int forked;                 /* a child of fork(): its heap holds
				     * blocks its parent allocated */
};
extern struct vms_self vms_self VMS_HIDDEN;

/* Resolved once at start-up: the text ranges of libvmspy and of ld.so. */
struct vms_ranges {
	uintptr_t self_lo, self_hi;
	uintptr_t ldso_lo, ldso_hi;
	uintptr_t unw_lo, unw_hi;   /* libunwind */
};
extern struct vms_ranges vms_ranges VMS_HIDDEN;

static inline int vms_from_ldso(const void *ra)
{
	uintptr_t a = (uintptr_t)ra;
	return a >= vms_ranges.ldso_lo && a < vms_ranges.ldso_hi;
}

static inline int vms_from_recorder(const void *ra)
{
	uintptr_t a = (uintptr_t)ra;
	return a >= vms_ranges.unw_lo && a < vms_ranges.unw_hi;
}

#endif /* VMS_RECORDER_H */
