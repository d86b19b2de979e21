/* SPDX-License-Identifier: MIT */
/*
 * The interposed symbols: the malloc family, the mapping calls, brk/sbrk,
 * POSIX and SysV shm, madvise/mprotect, pthread_create, dlopen/dlclose and
 * fork.  Each hook calls the real function and hands the result to the
 * recorder (recorder.h): it returns exactly what the real call returned and
 * keeps its errno.  Releases take their sequence number before the real
 * call, acquisitions after (DESIGN.md, ordering).
 *
 * Must never: allocate through the host's malloc, recurse (the guard makes
 * anything called from inside a hook pass straight through), or record a
 * call that failed.
 */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ownmaps.h"
#include "recorder.h"
#include "sample.h"

#define RA __builtin_return_address(0)


VMS_HIDDEN const int vms_hooks_linked = 1;

/* ---- bootstrap pool ------------------------------------------------------
 * dlsym may calloc before the real allocator is known.  Those few blocks
 * come from here; free() of one is ignored, realloc() moves it out. */

#define POOL_SIZE (256 * 1024)
static _Alignas(64) uint8_t pool[POOL_SIZE];
static size_t pool_used;

struct pool_hdr {
	size_t size;
	size_t pad;
};

static void *pool_alloc(size_t n, size_t align)
{
	if (align < 16)
		align = 16;
	for (;;) {
		size_t used = vms_atomic_load_relaxed(&pool_used);
		size_t start = (used + sizeof(struct pool_hdr) + align - 1) &
			       ~(align - 1);
		if (n > POOL_SIZE || start + n > POOL_SIZE) {
			errno = ENOMEM;
			return NULL;
		}
		if (vms_atomic_cas_acq_rel(&pool_used, &used, start + n)) {
			struct pool_hdr *h = (void *)(pool + start - sizeof(*h));
			h->size = n;
			return pool + start;
		}
	}
}

static inline int in_pool(const void *p)
{
	return (const uint8_t *)p >= pool && (const uint8_t *)p < pool + POOL_SIZE;
}

static size_t pool_size(const void *p)
{
	return ((const struct pool_hdr *)p - 1)->size;
}

static inline int ready(void)
{
	return VMS_LIKELY(vms_real_ready) || vms_real_resolve();
}

/* ---- the malloc family -------------------------------------------------- */

/* Common tail of every allocating hook: record a success, keep errno. */
static inline void *alloc_done(unsigned api, const void *ra, void *p,
			       size_t size, size_t align)
{
	if (VMS_LIKELY(p != NULL)) {
		int e = errno;
		vms_record_alloc(api, ra, p, size, align, NULL);
		errno = e;
	}
	vms_guard_leave();
	return p;
}

/* ---- sampling mode (sample.h) -------------------------------------------
 * With VMSPY_SAMPLE_BYTES set, an allocation the countdown does not pick
 * goes straight to the real function: no guard, no record. */

#define SAMPLING() VMS_UNLIKELY(vms_sample_bytes != 0)

/* 1 when this allocation of n bytes is to be sampled. */
static inline int sample_now(size_t n)
{
	return !vms_tls.guard && vms_active && vms_sample_due(n);
}

/* A sampled block: tagged, recorded as n bytes, room bytes usable (more
 * than n for pvalloc).  align 0 means malloc's own (16); zero asks for
 * zeroed memory.  pre: align is 0 or a power of two. */
static void *sampled_new(unsigned api, const void *ra, size_t n, size_t room,
			 size_t align, int zero)
{
	size_t off = align > VMS_SAMPLE_HEADER ? align : VMS_SAMPLE_HEADER;
	size_t total;
	if (__builtin_add_overflow(room, off, &total) || off > (1u << 26)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!vms_guard_enter())
		return NULL; /* cannot happen: sample_now checked */
	void *q = align > VMS_SAMPLE_HEADER ? vms_real.memalign(align, total)
		  : zero		    ? vms_real.calloc(1, total)
					    : vms_real.malloc(total);
	return alloc_done(api, ra, q ? vms_sample_tag(q, off) : NULL, n, align);
}

static VMS_NOINLINE void sampled_free_tagged(unsigned api, void *p,
					     size_t off)
{
	if (vms_guard_enter()) {
		int e = errno;
		vms_record_free(api, vms_seq_heap(p), p);
		errno = e;
		vms_guard_leave();
	}
	vms_real.free(vms_sample_untag(p, off));
}

static inline void sampled_free(unsigned api, void *p)
{
	size_t off = vms_sample_offset(p);
	if (VMS_LIKELY(!off))
		vms_real.free(p);
	else
		sampled_free_tagged(api, p, off);
}

static void *sampled_realloc(unsigned api, const void *ra, void *old,
			     size_t n)
{
	size_t off = old ? vms_sample_offset(old) : 0;
	if (old && !n) {
		sampled_free(api, old);
		return NULL;
	}
	if (off == VMS_SAMPLE_HEADER && vms_guard_enter()) {
		/* A sampled block stays sampled: the real realloc on the
		 * real block (it may grow in place or be moved by mremap),
		 * then a new tag at the new address.  The old tag is cleared
		 * first, so freed memory never holds a valid-looking one. */
		uint64_t seq = vms_seq_heap(old);
		void *q = vms_real.realloc(vms_sample_untag(old, off),
					  n + VMS_SAMPLE_HEADER);
		int e = errno;
		void *p = NULL;
		if (q) {
			p = vms_sample_tag(q, VMS_SAMPLE_HEADER);
			vms_record_free(api, seq, old);
			vms_record_alloc(api, ra, p, n, 0, old);
		} else {
			/* It failed: the old block is still the program's. */
			vms_sample_tag((char *)old - off, off);
		}
		errno = e;
		vms_guard_leave();
		return p;
	}
	/* The countdown is charged with what the resize adds, as a
	 * malloc of the difference would be. */
	size_t have = off ? 0 : old ? vms_real.malloc_usable_size(old) : 0;
	if (!off && !sample_now(n > have ? n - have : 0))
		return vms_real.realloc(old, n);
	/* A block sampled now (or an aligned sampled one): a new sampled
	 * block, the old contents moved into it. */
	size_t keep = old ? (off ? vms_real.malloc_usable_size(
					  (char *)old - off) - off
				 : have)
			  : 0;
	void *p = sampled_new(api, ra, n, n, 0, 0);
	if (!p)
		return NULL;
	if (old) {
		memcpy(p, old, keep < n ? keep : n);
		if (off)
			sampled_free(api, old);
		else
			vms_real.free(old);
	}
	return p;
}

VMS_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (VMS_UNLIKELY(in_pool(p)))
		return pool_size(p);
	if (VMS_UNLIKELY(!ready()) || !vms_real.malloc_usable_size)
		return 0;
	size_t off = SAMPLING() ? vms_sample_offset(p) : 0;
	if (off)
		return vms_real.malloc_usable_size((char *)p - off) - off;
	return vms_real.malloc_usable_size(p);
}

/* The guard is set and ld.so is the caller, while this thread captures a
 * stack: a real allocator call of the loader's (see vms_defer_alloc). */
#define NESTED_LOADER_CALL(ra) \
	(VMS_UNLIKELY(vms_tls.capturing) && vms_from_ldso(ra))

VMS_EXPORT void *malloc(size_t n)
{
	if (SAMPLING())
		return VMS_UNLIKELY(sample_now(n))
			       ? sampled_new(VMS_API_MALLOC, RA, n, n, 0, 0)
			       : vms_real.malloc(n);
	if (VMS_UNLIKELY(!ready()))
		return pool_alloc(n, 16);
	if (!vms_guard_enter()) {
		void *p = vms_real.malloc(n);
		if (NESTED_LOADER_CALL(RA) && p)
			vms_defer_alloc(VMS_API_MALLOC, RA, p, n, NULL);
		return p;
	}
	return alloc_done(VMS_API_MALLOC, RA, vms_real.malloc(n), n, 0);
}

VMS_EXPORT void *calloc(size_t nmemb, size_t size)
{
	if (VMS_UNLIKELY(!ready())) {
		size_t total;
		if (__builtin_mul_overflow(nmemb, size, &total)) {
			errno = ENOMEM;
			return NULL;
		}
		return pool_alloc(total, 16); /* static memory is zero */
	}
	if (SAMPLING()) {
		size_t total;
		if (__builtin_mul_overflow(nmemb, size, &total) ||
		    !sample_now(total))
			return vms_real.calloc(nmemb, size);
		return sampled_new(VMS_API_CALLOC, RA, total, total, 0, 1);
	}
	if (!vms_guard_enter()) {
		void *p = vms_real.calloc(nmemb, size);
		if (NESTED_LOADER_CALL(RA) && p)
			vms_defer_alloc(VMS_API_CALLOC, RA, p, nmemb * size,
					NULL);
		return p;
	}
	return alloc_done(VMS_API_CALLOC, RA, vms_real.calloc(nmemb, size),
			  nmemb * size, 0);
}

VMS_EXPORT void free(void *p)
{
	if (!p || VMS_UNLIKELY(in_pool(p)))
		return;
	if (SAMPLING()) { /* only ever set once the real functions are known */
		sampled_free(VMS_API_FREE, p);
		return;
	}
	if (VMS_UNLIKELY(!ready()))
		return; /* cannot happen: p came from somewhere real */
	if (!vms_guard_enter()) {
		if (NESTED_LOADER_CALL(RA))
			vms_defer_free(VMS_API_FREE, p);
		vms_real.free(p);
		return;
	}
	int e = errno;
	vms_record_free(VMS_API_FREE, vms_seq_heap(p), p);
	errno = e;
	vms_real.free(p);
	vms_guard_leave();
}

static void *realloc_common(unsigned api, const void *ra, void *old,
			    size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (VMS_UNLIKELY(in_pool(old) || !ready())) {
		/* Move a bootstrap block into the real heap (or the pool). */
		void *p = ready() ? malloc(n) : pool_alloc(n, 16);
		if (p && old) {
			size_t o = pool_size(old);
			memcpy(p, old, o < n ? o : n);
		}
		return p;
	}
	if (SAMPLING())
		return sampled_realloc(api, ra, old, n);
	if (!vms_guard_enter()) {
		if (NESTED_LOADER_CALL(ra) && api == VMS_API_REALLOC) {
			if (old)
				vms_defer_free(api, old);
			void *p = vms_real.realloc(old, n);
			if (p)
				vms_defer_alloc(api, ra, p, n, old);
			return p;
		}
		return api == VMS_API_REALLOC
			       ? vms_real.realloc(old, n)
			       : vms_real.reallocarray(old, nmemb, size);
	}
	uint64_t seq = old ? vms_seq_heap(old) : 0;
	void *p = api == VMS_API_REALLOC ? vms_real.realloc(old, n)
					 : vms_real.reallocarray(old, nmemb,
								 size);
	int e = errno;
	/* glibc: realloc(p, 0) frees p and returns NULL; a failed realloc
	 * leaves p alone. */
	if (old && (p || n == 0))
		vms_record_free(api, seq, old);
	if (p)
		vms_record_alloc(api, ra, p, n, 0, old);
	errno = e;
	vms_guard_leave();
	return p;
}

VMS_EXPORT void *realloc(void *old, size_t n)
{
	return realloc_common(VMS_API_REALLOC, RA, old, 1, n);
}

VMS_EXPORT void *reallocarray(void *old, size_t nmemb, size_t size)
{
	if (VMS_UNLIKELY(!ready()) || !vms_real.reallocarray)
		return realloc_common(VMS_API_REALLOC, RA, old, nmemb, size);
	return realloc_common(VMS_API_REALLOCARRAY, RA, old, nmemb, size);
}

VMS_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (VMS_UNLIKELY(!ready())) {
		if (!align || (align & (align - 1)) || align % sizeof(void *))
			return EINVAL;
		void *p = pool_alloc(n, align);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	if (SAMPLING() && !(align & (align - 1)) && align % sizeof(void *) == 0 &&
	    sample_now(n)) {
		void *p = sampled_new(VMS_API_POSIX_MEMALIGN, RA, n, n, align, 0);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	if (SAMPLING() || !vms_guard_enter())
		return vms_real.posix_memalign(out, align, n);
	int rc = vms_real.posix_memalign(out, align, n);
	alloc_done(VMS_API_POSIX_MEMALIGN, RA, rc ? NULL : *out, n, align);
	return rc;
}

/* size_expr: the size recorded (what the program asked for); room_expr:
 * what the block must hold (pvalloc rounds up to pages). */
#define ALIGNED_HOOK(name, api, params, args, size_expr, room_expr,         \
		     align_expr)                                            \
	VMS_EXPORT void *name params                                        \
	{                                                                   \
		if (VMS_UNLIKELY(!ready()))                                 \
			return pool_alloc(room_expr, align_expr);           \
		if (SAMPLING() && align_expr && !((align_expr) &            \
						  ((align_expr) - 1)) &&   \
		    sample_now(size_expr))                                  \
			return sampled_new(api, RA, size_expr, room_expr,   \
					   align_expr, 0);                  \
		if (SAMPLING() || !vms_guard_enter())                       \
			return vms_real.name args;                          \
		return alloc_done(api, RA, vms_real.name args, size_expr,   \
				  align_expr);                              \
	}

ALIGNED_HOOK(aligned_alloc, VMS_API_ALIGNED_ALLOC, (size_t align, size_t n),
	     (align, n), n, n, align)
ALIGNED_HOOK(memalign, VMS_API_MEMALIGN, (size_t align, size_t n),
	     (align, n), n, n, align)
ALIGNED_HOOK(valloc, VMS_API_VALLOC, (size_t n), (n), n, n,
	     (size_t)sysconf(_SC_PAGESIZE))
/* pvalloc rounds the size up to whole pages (an absurd size is left as it
 * is: the allocation then fails, as it would). */
#define PAGE_ROUND(n)                                                       \
	((n) > SIZE_MAX / 2 ? (n)                                            \
			    : (((n) ? (n) : 1) + (size_t)sysconf(_SC_PAGESIZE) - \
			       1) & ~((size_t)sysconf(_SC_PAGESIZE) - 1))
ALIGNED_HOOK(pvalloc, VMS_API_PVALLOC, (size_t n), (n), n, PAGE_ROUND(n),
	     (size_t)sysconf(_SC_PAGESIZE))

/* ---- mappings ----------------------------------------------------------
 * Raw syscalls: glibc's wrappers add nothing we need, and the raw call can
 * never come back into a hook. */

static void *mmap_common(unsigned api, const void *ra, void *addr, size_t len,
			 int prot, int flags, int fd, off_t off)
{
	void *p = vms_sys_mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return p;
	if (vms_from_recorder(ra)) {
		vms_own_add(p, len, "libunwind cache");
		return p;
	}
	if (!vms_guard_enter())
		return p;
	int e = errno;
	vms_record_mmap(api, ra, p, len, prot, flags, fd, off, NULL, 0);
	errno = e;
	vms_guard_leave();
	return p;
}

VMS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	return mmap_common(VMS_API_MMAP, RA, addr, len, prot, flags, fd, off);
}

VMS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
			off_t off)
{
	return mmap_common(VMS_API_MMAP64, RA, addr, len, prot, flags, fd,
			   off);
}

VMS_EXPORT int munmap(void *addr, size_t len)
{
	if (vms_from_recorder(RA))
		vms_own_remove(addr);
	if (vms_from_recorder(RA) || !vms_guard_enter())
		return vms_sys_munmap(addr, len);
	uint64_t seq = vms_seq_next();
	int rc = vms_sys_munmap(addr, len);
	int e = errno;
	if (rc == 0)
		vms_record_munmap(VMS_API_MUNMAP, RA, seq, addr, len);
	errno = e;
	vms_guard_leave();
	return rc;
}

VMS_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags,
			...)
{
	void *want = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		want = va_arg(ap, void *);
		va_end(ap);
	}
	if (vms_from_recorder(RA) || !vms_guard_enter())
		return vms_sys_mremap(old, old_len, new_len, flags, want);
	uint64_t seq = vms_seq_next();
	void *p = vms_sys_mremap(old, old_len, new_len, flags, want);
	int e = errno;
	if (p != MAP_FAILED) {
		/* The release half carries the early sequence number; the
		 * new range is an acquisition after the call. */
		vms_record_munmap(VMS_API_MREMAP, RA, seq, old, old_len);
		vms_record_mmap(VMS_API_MREMAP, RA, p, new_len, 0, flags, -1,
				0, old, old_len);
	}
	errno = e;
	vms_guard_leave();
	return p;
}

VMS_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	int rc = vms_sys_mprotect(addr, len, prot);
	if (rc || vms_from_recorder(RA) || !vms_guard_enter())
		return rc;
	int e = errno;
	vms_record_mprotect(RA, addr, len, prot);
	errno = e;
	vms_guard_leave();
	return rc;
}

VMS_EXPORT int madvise(void *addr, size_t len, int advice)
{
	int rc = vms_sys_madvise(addr, len, advice);
	if (rc || vms_from_recorder(RA) || !vms_guard_enter())
		return rc;
	int e = errno;
	vms_record_madvise(RA, addr, len, advice);
	errno = e;
	vms_guard_leave();
	return rc;
}

/* ---- brk / sbrk: glibc's own, so its cached break stays right ---------- */

VMS_EXPORT int brk(void *addr)
{
	if (!ready() || !vms_real.brk) {
		errno = ENOMEM;
		return -1;
	}
	if (!vms_guard_enter())
		return vms_real.brk(addr);
	void *old = vms_real.sbrk(0);
	/* Shrinking releases memory: its number is taken before. */
	uint64_t seq = (uintptr_t)addr < (uintptr_t)old ? vms_seq_next() : 0;
	int rc = vms_real.brk(addr);
	int e = errno;
	if (rc == 0)
		vms_record_brk(VMS_API_BRK, RA, seq, old, addr);
	errno = e;
	vms_guard_leave();
	return rc;
}

VMS_EXPORT void *sbrk(intptr_t inc)
{
	if (!ready() || !vms_real.sbrk) {
		errno = ENOMEM;
		return (void *)-1;
	}
	if (!vms_guard_enter())
		return vms_real.sbrk(inc);
	uint64_t seq = inc < 0 ? vms_seq_next() : 0;
	void *old = vms_real.sbrk(inc);
	int e = errno;
	if (old != (void *)-1)
		vms_record_brk(VMS_API_SBRK, RA, seq, old,
			       (uint8_t *)old + inc);
	errno = e;
	vms_guard_leave();
	return old;
}

/* ---- shared memory ------------------------------------------------------ */

VMS_EXPORT int shm_open(const char *name, int oflag, mode_t mode)
{
	if (!ready() || !vms_real.shm_open) {
		errno = ENOSYS;
		return -1;
	}
	if (!vms_guard_enter())
		return vms_real.shm_open(name, oflag, mode);
	int fd = vms_real.shm_open(name, oflag, mode);
	int e = errno;
	if (fd >= 0)
		vms_record_shm_open(RA, fd, oflag, (int)mode, name);
	errno = e;
	vms_guard_leave();
	return fd;
}

VMS_EXPORT int shm_unlink(const char *name)
{
	if (!ready() || !vms_real.shm_unlink) {
		errno = ENOSYS;
		return -1;
	}
	if (!vms_guard_enter())
		return vms_real.shm_unlink(name);
	uint64_t seq = vms_seq_next();
	int rc = vms_real.shm_unlink(name);
	int e = errno;
	if (rc == 0)
		vms_record_shm_unlink(RA, seq, name);
	errno = e;
	vms_guard_leave();
	return rc;
}

VMS_EXPORT int shmget(key_t key, size_t size, int shmflg)
{
	if (!ready() || !vms_real.shmget) {
		errno = ENOSYS;
		return -1;
	}
	if (!vms_guard_enter())
		return vms_real.shmget(key, size, shmflg);
	int id = vms_real.shmget(key, size, shmflg);
	int e = errno;
	if (id >= 0)
		vms_record_shmget(RA, key, size, shmflg, id);
	errno = e;
	vms_guard_leave();
	return id;
}

VMS_EXPORT void *shmat(int shmid, const void *addr, int shmflg)
{
	if (!ready() || !vms_real.shmat) {
		errno = ENOSYS;
		return (void *)-1;
	}
	if (!vms_guard_enter())
		return vms_real.shmat(shmid, addr, shmflg);
	void *p = vms_real.shmat(shmid, addr, shmflg);
	int e = errno;
	if (p != (void *)-1)
		vms_record_shmat(RA, shmid, p, shmflg);
	errno = e;
	vms_guard_leave();
	return p;
}

VMS_EXPORT int shmdt(const void *addr)
{
	if (!ready() || !vms_real.shmdt) {
		errno = ENOSYS;
		return -1;
	}
	if (!vms_guard_enter())
		return vms_real.shmdt(addr);
	uint64_t seq = vms_seq_next();
	int rc = vms_real.shmdt(addr);
	int e = errno;
	if (rc == 0)
		vms_record_shmdt(RA, seq, addr);
	errno = e;
	vms_guard_leave();
	return rc;
}

/* ---- threads ------------------------------------------------------------ */

struct start {
	void *(*fn)(void *);
	void *arg;
	uint32_t lane, stack;
};

static void *start_thread(void *p)
{
	struct start s = *(struct start *)p;
	vms_tls.guard = 1;
	vms_barrier();
	vms_real.free(p);
	vms_thread_begin(s.lane, s.stack);
	vms_barrier();
	vms_tls.guard = 0;
	return s.fn(s.arg);
}

VMS_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr,
			      void *(*fn)(void *), void *arg)
{
	if (!ready() || !vms_real.pthread_create)
		return EAGAIN;
	if (!vms_guard_enter())
		return vms_real.pthread_create(t, attr, fn, arg);
	struct start *s = vms_real.malloc(sizeof(*s));
	int rc;
	if (!s) {
		rc = vms_real.pthread_create(t, attr, fn, arg);
	} else {
		s->fn = fn;
		s->arg = arg;
		vms_stack_here(RA, &s->lane, &s->stack);
		rc = vms_real.pthread_create(t, attr, start_thread, s);
		if (rc)
			vms_real.free(s);
		else
			vms_record_create(s->lane, s->stack, (uint64_t)*t);
	}
	vms_guard_leave();
	return rc;
}

/* ---- modules ------------------------------------------------------------ */

VMS_EXPORT void *dlopen(const char *path, int flags)
{
	if (!ready() || !vms_real.dlopen)
		return NULL;
	/* No guard around the real call: the library's constructors run
	 * inside it and their allocations are the host's. */
	void *h = vms_real.dlopen(path, flags);
	if (!h || !vms_guard_enter())
		return h;
	int e = errno;
	vms_record_dlopen(RA, path ? path : "", flags, h);
	errno = e;
	vms_guard_leave();
	return h;
}

VMS_EXPORT int dlclose(void *handle)
{
	if (!ready() || !vms_real.dlclose)
		return -1;
	/* The library's destructors run inside the real call and may
	 * allocate: their records must come first in this thread's log, so
	 * the number is taken after (nothing dlclose releases is handed out
	 * again by a recorded call). */
	int rc = vms_real.dlclose(handle);
	if (!vms_guard_enter())
		return rc;
	int e = errno;
	vms_record_dlclose(RA, vms_seq_next(), handle, rc);
	errno = e;
	vms_guard_leave();
	return rc;
}

/* ---- processes ---------------------------------------------------------- */

static pid_t fork_common(unsigned api, const void *ra, pid_t (*real)(void))
{
	if (!ready() || !real) {
		errno = ENOSYS;
		return -1;
	}
	/* A fork child forking in turn starts its own recording first, so
	 * that its children name it as their parent. */
	if (!vms_tls.guard)
		(void)vms_recorder_ready();
	/* atfork handlers run inside the real call and may allocate: the
	 * number is taken after, like every record's in this thread. */
	pid_t pid = real();
	if (pid == 0) {
		vms_after_fork_child();
		return 0;
	}
	if (pid > 0 && vms_guard_enter()) {
		int e = errno;
		vms_record_fork(api, ra, vms_seq_next(), pid);
		errno = e;
		vms_guard_leave();
	}
	return pid;
}

VMS_EXPORT pid_t fork(void)
{
	return fork_common(VMS_API_FORK, RA, vms_real.fork);
}

VMS_EXPORT pid_t _Fork(void)
{
	return fork_common(VMS_API_FORK, RA, vms_real.fork_nohandlers);
}

/* A vfork child runs on the parent's memory and thread state: hooks there
 * would write the parent's log.  fork() is a correct replacement for every
 * program that uses vfork as POSIX allows (exec or _exit next). */
VMS_EXPORT pid_t vfork(void)
{
	return fork_common(VMS_API_VFORK, RA, vms_real.fork);
}

/* ---- the public API (include/vmspy/vmspy.h) ---------------------------- */

VMS_EXPORT void vmspy_snapshot(const char *label)
{
	if (!vms_guard_enter())
		return;
	vms_take_snapshot(VMS_SNAP_USER, label ? label : "");
	vms_guard_leave();
}
