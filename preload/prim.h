/* SPDX-License-Identifier: MIT */
/*
 * The recorder's one seam to the platform: raw system calls, the clock, the
 * thread id, small formatting helpers and atomics whose names say their
 * memory order.
 *
 * Everything here may run inside the host's malloc or mmap: it never
 * allocates, never takes a lock, never uses stdio, and never goes through a
 * symbol vmspy interposes (so it cannot recurse into the hooks).  Functions
 * return -errno style results only where stated; the others set errno like
 * the libc call they stand for, and callers that must keep the host's errno
 * save and restore it themselves.
 */
#ifndef VMS_PRIM_H
#define VMS_PRIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VMS_LIKELY(x) __builtin_expect(!!(x), 1)
#define VMS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VMS_HIDDEN __attribute__((visibility("hidden")))
#define VMS_EXPORT __attribute__((visibility("default")))
#define VMS_NOINLINE __attribute__((noinline))
#define vms_barrier() __asm__ __volatile__("" ::: "memory")

/* Atomics, named after their order. */
#define vms_atomic_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define vms_atomic_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define vms_atomic_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define vms_atomic_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define vms_atomic_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define vms_atomic_add_acq_rel(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define vms_atomic_cas_acq_rel(p, expp, v) \
	__atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQ_REL, \
				    __ATOMIC_ACQUIRE)

/* Raw memory syscalls.  vms_sys_mmap returns MAP_FAILED and sets errno on
 * failure, like mmap(2); the others return -1 and set errno. */
VMS_HIDDEN void *vms_sys_mmap(void *addr, size_t len, int prot, int flags,
			      int fd, off_t off);
VMS_HIDDEN int vms_sys_munmap(void *addr, size_t len);
VMS_HIDDEN void *vms_sys_mremap(void *old, size_t old_len, size_t new_len,
				int flags, void *new_addr);
VMS_HIDDEN int vms_sys_mprotect(void *addr, size_t len, int prot);
VMS_HIDDEN int vms_sys_madvise(void *addr, size_t len, int advice);

/* Files.  Same results as the syscalls (-1 + errno). */
VMS_HIDDEN int vms_sys_open(const char *path, int flags, int mode);
VMS_HIDDEN int vms_sys_close(int fd);
VMS_HIDDEN ssize_t vms_sys_read(int fd, void *buf, size_t len);
/* Writes all of buf unless an error other than EINTR occurs: returns 0 or -1. */
VMS_HIDDEN int vms_write_all(int fd, const void *buf, size_t len);
VMS_HIDDEN int vms_sys_mkdir(const char *path, int mode);
VMS_HIDDEN ssize_t vms_sys_readlink(const char *path, char *buf, size_t len);
VMS_HIDDEN int vms_sys_fstat_ids(int fd, uint64_t *dev, uint64_t *ino);

/* Process and thread identity, uncached. */
VMS_HIDDEN pid_t vms_sys_gettid(void);
VMS_HIDDEN pid_t vms_sys_getpid(void);
VMS_HIDDEN pid_t vms_sys_getppid(void);
/* 1 when thread tid of this process is gone (tgkill says ESRCH), else 0. */
VMS_HIDDEN int vms_thread_is_dead(pid_t pid, pid_t tid);

/* Clocks in nanoseconds. */
VMS_HIDDEN uint64_t vms_now_ns(void);        /* CLOCK_MONOTONIC */
VMS_HIDDEN uint64_t vms_now_coarse_ns(void); /* CLOCK_MONOTONIC_COARSE */
VMS_HIDDEN uint64_t vms_realtime_ns(void);   /* CLOCK_REALTIME */
VMS_HIDDEN void vms_sleep_ms(unsigned ms);

/* A one-line message on stderr ("vmspy: " + parts), written with one
 * write(2).  Never allocates.  The list of parts ends with NULL. */
VMS_HIDDEN void vms_note(const char *first, ...) __attribute__((sentinel));

/* Formatting into a caller's buffer: each returns the number of bytes
 * written (no NUL).  pre: room for 20 (dec) / 16 (hex) bytes. */
VMS_HIDDEN size_t vms_fmt_u64(char *p, uint64_t v);
VMS_HIDDEN size_t vms_fmt_hex(char *p, uint64_t v);

/* A tiny append buffer over caller memory; overflow truncates silently and
 * sets .overflow. */
struct vms_buf {
	char *p;
	size_t len, cap;
	int overflow;
};
VMS_HIDDEN void vms_buf_add(struct vms_buf *b, const char *s, size_t n);
VMS_HIDDEN void vms_buf_str(struct vms_buf *b, const char *s);
VMS_HIDDEN void vms_buf_u64(struct vms_buf *b, uint64_t v);
VMS_HIDDEN void vms_buf_hex(struct vms_buf *b, uint64_t v);
/* Appends s with '\\', '\n' and '\t' escaped (the meta/snapshot escaping). */
VMS_HIDDEN void vms_buf_escaped(struct vms_buf *b, const char *s);

/* Reads a small file (a /proc text file) into buf, NUL-terminated: at
 * most cap - 1 bytes, in one read; never follows a symlink at the last
 * component.  Returns the length (> 0), or -1. */
VMS_HIDDEN ssize_t vms_read_small(const char *path, char *buf, size_t cap);

/* Gives back the blocks of [off, off + len) of fd, the file size kept
 * (FALLOC_FL_PUNCH_HOLE).  Returns 0, or -1 with errno. */
VMS_HIDDEN int vms_punch_hole(int fd, uint64_t off, uint64_t len);

/* Reads the number after "key" (then blanks) on a line of a small text
 * file (the first 4 KiB: /proc/self/status, a recording's meta).  Never
 * follows a symlink at the last component.  Returns 0 and *out, or -1. */
VMS_HIDDEN int vms_read_number(const char *path, const char *key,
			       uint64_t *out);

/* One line of /proc/self/maps. */
struct vms_maps_entry {
	uint64_t lo, hi;
	char perms[4];       /* "rw-p" */
	const char *path;    /* after the inode field; path_len 0 if none */
	size_t path_len;
};

/* Parses the /proc/self/maps line at [*p, end) and moves *p past it.
 * Returns 1 for a well-formed line, 0 for a malformed one (skip it), -1 at
 * the end of the text. */
VMS_HIDDEN int vms_maps_next(const char **p, const char *end,
			     struct vms_maps_entry *e);

/* Parses a decimal unsigned integer that must fill the whole string.
 * Returns 0 and *out, or -1. */
VMS_HIDDEN int vms_parse_u64(const char *s, uint64_t *out);

#endif /* VMS_PRIM_H */
