/* SPDX-License-Identifier: MIT */
/*
 * The recorder core (contract in recorder.h): start-up, the recording
 * directory, log lanes per thread, the sequence numbers (Lamport clocks), event
 * encoding, thread and process lifecycle.
 *
 * The vms_record_* functions run inside the host's malloc/mmap hooks with
 * the thread's guard set: no malloc, no locks, no stdio; the host's errno is
 * saved by the hooks.  A failure here switches recording off (for a lane or
 * the whole process) with one line on stderr and never reaches the host.
 */
#include "recorder.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compress.h"
#include "config.h"
#include "leakscan.h"
#include "ownmaps.h"
#include "sample.h"
#include "real.h"
#include "snapshot.h"
#include "stack.h"

#define MAX_LANES 4096

__thread struct vms_tls vms_tls __attribute__((tls_model("initial-exec")));
volatile int vms_active;
struct vms_ranges vms_ranges;

/* The lane of a thread that could not get one: it is disabled, so every
 * event of that thread is counted as dropped, without retrying. */
static struct vms_lane no_lane = { .disabled = 1 };
static int lane_failure_noted;
static volatile int lanes_closed; /* set when a lane could not be created */

/* A fork child whose recording is not started yet (see start_forked). */
static volatile int fork_pending;
static char fork_parent[PATH_MAX];

static struct vms_lane lanes[MAX_LANES];
static uint32_t nlanes;
static uint64_t dropped;
static pid_t my_pid;
static pthread_key_t exit_key;
static int exit_key_ok;
/* A page marked MADV_WIPEONFORK: it reads as zero in a child of fork or
 * _Fork, so a hook can tell cheaply that it now runs in a new process. */
static int alive_fallback = 1;
static volatile int *alive = &alive_fallback;

struct vms_self vms_self;

static void count_dropped(void)
{
	vms_atomic_add_relaxed(&dropped, 1);
}

static inline void check_new_process(void);
static int start_forked(void);

/* ---- sequence numbers ----------------------------------------------------
 *
 * Not one global counter: with two threads allocating, the cache line of a
 * shared counter bounced between the cores on every event and cost more
 * than everything else the recorder does (churn, 2 threads: 314 vs 241
 * ns/event).  Instead, Lamport clocks:
 *
 *  - every lane keeps the last number its owner took (l->clock), so
 *    numbers only grow within a lane;
 *  - a heap event (malloc family) ticks the clock cell of its address's
 *    1 MiB granule (one of SEQ_STRIPES cache lines, hashed): the new
 *    number is one more than both the cell and the lane's clock, and is
 *    stored back into the cell with a compare-and-swap.  Two events on the
 *    same address tick the same cell, so a release that returned before an
 *    acquisition of its memory (the malloc's own synchronization orders
 *    them) gets the smaller number: the rule of format.h.  Threads that
 *    work in different granules (glibc gives each thread its own arena)
 *    share no cache line;
 *  - every other event (mmap family, brk, shm, threads, dlopen, fork,
 *    exit) ticks one cell of its own, and then raises the floor: a
 *    process-wide value that every event reads (a read of a line that
 *    rarely changes is cheap) and starts above.  So an acquisition that
 *    follows a mapping change in any thread comes after it;
 *  - a lane raises the floor to its clock, and its clock to the floor,
 *    whenever it writes a TIME record (when the coarse clock ticks, a few
 *    ms apart): the lanes' numbers stay within a few ms of each other, so
 *    the merged order is also the order in time at that resolution;
 *  - a barrier (snapshot, leak scan) takes a number above every number
 *    handed out so far and raises the floor to it: every event that
 *    starts after it comes after it.
 * Numbers are unique within a lane, not across lanes (readers break ties
 * by lane).  The cells are relaxed atomics: all read-modify-writes of one
 * cell are totally ordered, consistently with happens-before, which is all
 * the argument above needs. */
#define SEQ_STRIPES 512
#define SEQ_GRANULE_SHIFT 20

struct seq_cell {
	uint64_t v;
} __attribute__((aligned(64)));

static struct seq_cell seq_cells[SEQ_STRIPES];
static struct seq_cell seq_map_cell; /* the non-heap events' cell */
static struct seq_cell seq_floor;

/* Sets *cell to max(*cell, floor) + 1 and returns that. */
static inline uint64_t seq_tick(uint64_t *cell, uint64_t floor)
{
	uint64_t cur = vms_atomic_load_relaxed(cell);
	for (;;) {
		uint64_t next = (cur > floor ? cur : floor) + 1;
		if (__atomic_compare_exchange_n(cell, &cur, next, 1,
						__ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return next;
	}
}

/* Sets *cell to max(*cell, v) and returns the new value. */
static inline uint64_t seq_raise(uint64_t *cell, uint64_t v)
{
	uint64_t cur = vms_atomic_load_relaxed(cell);
	while (cur < v &&
	       !__atomic_compare_exchange_n(cell, &cur, v, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
	return cur > v ? cur : v;
}

static inline struct vms_lane *lane_get(void);

/* The lane whose clock the caller's next number continues, or NULL. */
static inline struct vms_lane *seq_lane(void)
{
	/* A number taken in a new process, before its recording exists,
	 * would come before that recording's first records. */
	check_new_process();
	if (VMS_UNLIKELY(fork_pending))
		(void)start_forked();
	return lane_get();
}

static inline uint64_t seq_take(struct vms_lane *l, uint64_t *cell)
{
	uint64_t floor = vms_atomic_load_relaxed(&seq_floor.v);
	if (l && l->clock > floor)
		floor = l->clock;
	uint64_t s = seq_tick(cell, floor);
	if (l)
		l->clock = s;
	return s;
}

uint64_t vms_seq_heap(const void *addr)
{
	struct vms_lane *l = seq_lane();
	uint64_t g = (uint64_t)(uintptr_t)addr >> SEQ_GRANULE_SHIFT;
	size_t i = (size_t)((g * 0x9e3779b97f4a7c15ull) >> 55) % SEQ_STRIPES;
	return seq_take(l, &seq_cells[i].v);
}

uint64_t vms_seq_next(void)
{
	struct vms_lane *l = seq_lane();
	uint64_t s = seq_take(l, &seq_map_cell.v);
	seq_raise(&seq_floor.v, s);
	return s;
}

uint64_t vms_seq_barrier(void)
{
	uint64_t m = vms_atomic_load_relaxed(&seq_floor.v);
	uint64_t v = vms_atomic_load_relaxed(&seq_map_cell.v);
	if (v > m)
		m = v;
	for (size_t i = 0; i < SEQ_STRIPES; i++) {
		v = vms_atomic_load_relaxed(&seq_cells[i].v);
		if (v > m)
			m = v;
	}
	return seq_raise(&seq_floor.v, m + 1);
}

/* At a TIME record: the lane and the floor meet (see above). */
static inline void seq_sync(struct vms_lane *l)
{
	uint64_t f = seq_raise(&seq_floor.v, l->clock);
	if (f > l->clock)
		l->clock = f;
}

static void seq_reset(void)
{
	memset(seq_cells, 0, sizeof(seq_cells));
	seq_map_cell.v = 0;
	seq_floor.v = 0;
}

uint32_t vms_lane_count(void)
{
	uint32_t n = vms_atomic_load_acquire(&nlanes);
	return n > MAX_LANES ? MAX_LANES : n;
}

struct vms_lane *vms_lane_at(uint32_t i)
{
	return &lanes[i];
}

uint64_t vms_dropped_events(void)
{
	return vms_atomic_load_relaxed(&dropped);
}

/* ---- encoding ----------------------------------------------------------- */

struct enc {
	uint8_t *p;
	size_t n;
};

static inline void put(struct enc *e, uint64_t v)
{
	e->n += vms_varint_put(e->p + e->n, v);
}

static inline void put_str(struct enc *e, const char *s, size_t max)
{
	size_t len = s ? strnlen(s, max) : 0;
	e->n += vms_string_put(e->p + e->n, s ? s : "", len);
}

static inline void put_seq(struct enc *e, struct vms_lane *l, uint64_t seq)
{
	put(e, seq - l->prev_seq);
	l->prev_seq = seq;
}

static inline void put_addr(struct enc *e, struct vms_lane *l, uint64_t a)
{
	put(e, vms_zigzag((int64_t)(a - l->prev_addr)));
	l->prev_addr = a;
}

/* A value written relative to another of the same record (old_addr). */
static inline void put_rel(struct enc *e, uint64_t v, uint64_t base)
{
	put(e, vms_zigzag((int64_t)(v - base)));
}

/* Writes a TIME record when the coarse clock moved since the last one. */
static void stamp_time(struct vms_lane *l)
{
	uint64_t now = vms_now_coarse_ns();
	if (VMS_LIKELY(now == l->last_time))
		return;
	uint8_t *p = vms_lane_reserve(l, VMS_REC_TIME, VMS_VARINT_MAX);
	if (!p)
		return;
	l->last_time = now;
	vms_lane_commit(l, VMS_REC_TIME, p, vms_varint_put(p, vms_now_ns()));
	seq_sync(l);
}

/* ---- lanes and threads ------------------------------------------------- */

static struct vms_lane *thread_attach(uint32_t creator_lane,
				      uint32_t creator_stack);

static inline void check_new_process(void)
{
	if (VMS_UNLIKELY(!*alive))
		vms_after_fork_child();
}

/* The calling thread's lane, attaching the thread on its first event.
 * NULL when nothing can be recorded for this thread. */
static inline struct vms_lane *lane_get(void)
{
	check_new_process();
	struct vms_lane *l = vms_tls.lane;
	if (VMS_LIKELY(l))
		return l->disabled ? NULL : l;
	if (!vms_recorder_ready())
		return NULL;
	l = vms_tls.lane ? vms_tls.lane : thread_attach(0, 0);
	return l && !l->disabled ? l : NULL;
}

static struct vms_lane *lane_acquire(pid_t tid)
{
	uint32_t n = vms_atomic_load_acquire(&nlanes);
	if (n > MAX_LANES)
		n = MAX_LANES;
	/* Reuse the lane of a thread that is really gone: its owner may
	 * still free memory after its TLS destructors ran, so "retired" is
	 * not enough. */
	for (uint32_t i = 0; i < n; i++) {
		struct vms_lane *l = &lanes[i];
		int st = VMS_LANE_RETIRED;
		if (vms_atomic_load_acquire(&l->state) != VMS_LANE_RETIRED)
			continue;
		if (l->owner_tid != tid && !vms_thread_is_dead(my_pid,
							       l->owner_tid))
			continue;
		if (vms_atomic_cas_acq_rel(&l->state, &st, VMS_LANE_OWNED)) {
			l->owner_tid = tid;
			return l;
		}
	}
	if (lanes_closed)
		return NULL;
	uint32_t idx = vms_atomic_add_acq_rel(&nlanes, 1);
	if (idx >= MAX_LANES) {
		if (!vms_atomic_add_relaxed(&lane_failure_noted, 1))
			vms_note("more than 4096 threads at once; the others are not recorded",
				 (char *)NULL);
		return NULL;
	}
	struct vms_lane *l = &lanes[idx];
	if (vms_lane_create(l, vms_self.dir, idx, vms_config.chunk_size,
			    my_pid)) {
		int err = errno;
		/* No room for one more lane: stop starting new ones (and
		 * snapshots); lanes that exist go on until their chunk is
		 * full.  One line, however many threads follow. */
		lanes_closed = 1;
		if (!vms_atomic_add_relaxed(&lane_failure_noted, 1))
			vms_note("cannot create a log in '", vms_self.dir, "': ",
				 strerror(err),
				 "; recording stops for new threads",
				 (char *)NULL);
		return NULL;
	}
	l->owner_tid = tid;
	vms_atomic_store_release(&l->state, VMS_LANE_OWNED);
	return l;
}

static uint32_t intern_here(struct vms_lane *l, const uint64_t *frames,
			    uint32_t n)
{
	int is_new;
	uint32_t id = vms_intern_stack(&l->intern, frames, n, &is_new);
	if (!is_new)
		return id;
	uint8_t *p = vms_lane_reserve(l, VMS_REC_STACK,
				      (2 + (size_t)n) * VMS_VARINT_MAX);
	if (!p)
		return 0;
	struct enc e = { p, 0 };
	put(&e, id);
	put(&e, n);
	uint64_t prev = 0;
	for (uint32_t i = 0; i < n; i++) {
		put(&e, vms_zigzag((int64_t)(frames[i] - prev)));
		prev = frames[i];
	}
	vms_lane_commit(l, VMS_REC_STACK, e.p, e.n);
	return id;
}

/* Captures the current call stack and interns it in lane l.  Inlined: one
 * frame less for the unwinder to walk (stack.h). */
static inline __attribute__((always_inline)) uint32_t capture(struct vms_lane *l, const void *ra)
{
	uint64_t *frames = l->frames;
	uint32_t n;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	_Static_assert(sizeof(l->frames) / sizeof(l->frames[0]) >=
			       VMS_MAX_DEPTH + VMS_STACK_SLACK,
		       "lane frame scratch too small");
	if (l->stack_hi && (sp < l->stack_lo || sp >= l->stack_hi)) {
		/* Not on the thread's own stack: a signal handler on an
		 * alternate stack, or a coroutine.  The unwinder needs
		 * kilobytes of stack we cannot know are there: keep the
		 * caller only. */
		frames[0] = (uintptr_t)ra;
		n = 1;
	} else {
		vms_tls.capturing = 1;
		vms_barrier();
		n = vms_stack_capture(frames, vms_config.depth, ra);
		vms_barrier();
		vms_tls.capturing = 0;
	}
	return intern_here(l, frames, n);
}

static void thread_exit_cb(void *arg)
{
	struct vms_lane *l = arg;
	int was = vms_tls.guard;
	vms_tls.guard = 1;
	vms_barrier();
	if (vms_tls.lane == l && !l->disabled && *alive) {
		uint8_t *p = vms_lane_reserve(l, VMS_REC_THREAD_END,
						2 * VMS_VARINT_MAX);
		if (p) {
			struct enc e = { p, 0 };
			put_seq(&e, l, vms_seq_next());
			put(&e, (uint64_t)vms_tls.tid);
			vms_lane_commit(l, VMS_REC_THREAD_END, e.p, e.n);
		}
		/* The thread may still free memory after this (libc does,
		 * after TLS destructors): it keeps writing to l until it is
		 * gone, and lane_acquire checks that before reusing it. */
		vms_atomic_store_release(&l->state, VMS_LANE_RETIRED);
	}
	vms_barrier();
	vms_tls.guard = was;
}

static struct vms_lane *thread_attach(uint32_t creator_lane,
				      uint32_t creator_stack)
{
	pid_t tid = vms_sys_gettid();
	vms_tls.tid = tid;
	struct vms_lane *l = lane_acquire(tid);
	if (!l) {
		vms_tls.lane = &no_lane;
		count_dropped();
		return NULL;
	}
	vms_tls.lane = l;
	if (exit_key_ok)
		pthread_setspecific(exit_key, l);

	uint64_t lo = 0, hi = 0, guard = 0;
	{
		/* pthread_getattr_np mallocs: we run under the guard, so that
		 * goes untracked to the real allocator. */
		pthread_attr_t attr;
		if (!pthread_getattr_np(pthread_self(), &attr)) {
			void *addr;
			size_t size, gs;
			if (!pthread_attr_getstack(&attr, &addr, &size)) {
				lo = (uint64_t)(uintptr_t)addr;
				hi = lo + size;
			}
			if (!pthread_attr_getguardsize(&attr, &gs))
				guard = gs;
			pthread_attr_destroy(&attr);
		}
	}
	l->stack_lo = lo;
	l->stack_hi = hi;
	/* The main thread's range is its rlimit, not a mapping: the
	 * analyzer knows it as [stack]; only the lane keeps it. */
	if (tid == my_pid)
		lo = hi = guard = 0;
	stamp_time(l);
	uint8_t *p = vms_lane_reserve(l, VMS_REC_THREAD_BEGIN,
					8 * VMS_VARINT_MAX);
	if (!p)
		return l;
	struct enc e = { p, 0 };
	put_seq(&e, l, vms_seq_next());
	put(&e, (uint64_t)tid);
	put(&e, lo);
	put(&e, hi);
	put(&e, guard);
	put(&e, creator_lane);
	put(&e, creator_stack);
	put(&e, (uint64_t)pthread_self());
	vms_lane_commit(l, VMS_REC_THREAD_BEGIN, e.p, e.n);
	return l;
}

void vms_thread_begin(uint32_t creator_lane, uint32_t creator_stack)
{
	check_new_process();
	if (!vms_tls.lane && vms_recorder_ready() && !vms_tls.lane)
		thread_attach(creator_lane, creator_stack);
}

/* ---- events ------------------------------------------------------------- */

static void flush_deferred(struct vms_lane *l);

/* Publishes an event record, then whatever ld.so did while its stack was
 * being captured: those took their sequence numbers after this event's. */
static inline void commit(struct vms_lane *l, unsigned type, uint8_t *body,
			  size_t len)
{
	vms_lane_commit(l, type, body, len);
	if (VMS_UNLIKELY(l->ndeferred))
		flush_deferred(l);
}

/* Common prologue: the thread's lane and a TIME record when due.  Room for
 * the body is reserved later (room()), after the stack is interned. */
static inline struct vms_lane *begin(void)
{
	struct vms_lane *l = lane_get();
	if (VMS_UNLIKELY(!l)) {
		count_dropped();
		return NULL;
	}
	stamp_time(l);
	return l;
}

static inline uint8_t *room(struct vms_lane *l, unsigned type, size_t max)
{
	uint8_t *p = vms_lane_reserve(l, type, max);
	if (VMS_UNLIKELY(!p))
		count_dropped();
	return p;
}

/* Always inlined into the hooks (with the LTO build): one frame fewer for
 * the unwinder to walk, and no call (churn 1t: ~17 ns per event). */
__attribute__((always_inline)) inline void
vms_record_alloc(unsigned api, const void *ra, const void *ptr, size_t size,
		 size_t align, const void *old)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint64_t seq = vms_seq_heap(ptr);
	uint32_t sid = capture(l, ra);
	if (VMS_LIKELY(api == VMS_API_MALLOC && !align)) {
		uint8_t *p = room(l, VMS_REC_MALLOC, 4 * VMS_VARINT_MAX);
		if (!p)
			return;
		struct enc e = { p, 0 };
		put_seq(&e, l, seq);
		put(&e, sid);
		put_addr(&e, l, (uintptr_t)ptr);
		put(&e, size);
		commit(l, VMS_REC_MALLOC, e.p, e.n);
		return;
	}
	uint8_t *p = room(l, VMS_REC_ALLOC, 7 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, api);
	put(&e, sid);
	put_addr(&e, l, (uintptr_t)ptr);
	put(&e, size);
	put(&e, align);
	if (api == VMS_API_REALLOC || api == VMS_API_REALLOCARRAY)
		put_rel(&e, (uintptr_t)old, (uintptr_t)ptr);
	commit(l, VMS_REC_ALLOC, e.p, e.n);
}

void vms_record_free(unsigned api, uint64_t seq, const void *ptr)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	if (VMS_LIKELY(api == VMS_API_FREE)) {
		uint8_t *p = room(l, VMS_REC_FREE_PLAIN, 2 * VMS_VARINT_MAX);
		if (!p)
			return;
		struct enc e = { p, 0 };
		put_seq(&e, l, seq);
		put_addr(&e, l, (uintptr_t)ptr);
		commit(l, VMS_REC_FREE_PLAIN, e.p, e.n);
		return;
	}
	uint8_t *p = room(l, VMS_REC_FREE, 3 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, api);
	put_addr(&e, l, (uintptr_t)ptr);
	commit(l, VMS_REC_FREE, e.p, e.n);
}

/* The identity of a mapped file: device, inode and path (from
 * /proc/self/fd, so it is the file really mapped). */
static void file_identity(int fd, uint64_t *dev, uint64_t *ino, char *path,
			  size_t cap)
{
	*dev = *ino = 0;
	path[0] = 0;
	if (fd < 0)
		return;
	(void)vms_sys_fstat_ids(fd, dev, ino);
	char link[64];
	struct vms_buf b = { link, 0, sizeof(link) - 1, 0 };
	vms_buf_str(&b, "/proc/self/fd/");
	vms_buf_u64(&b, (uint64_t)fd);
	link[b.len] = 0;
	ssize_t n = vms_sys_readlink(link, path, cap - 1);
	path[n > 0 ? n : 0] = 0;
}

void vms_record_mmap(unsigned api, const void *ra, const void *addr,
		     size_t len, int prot, int flags, int fd, off_t off,
		     const void *old, size_t old_len)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint64_t seq = vms_seq_next();
	uint64_t dev, ino;
	char *path = l->name;
	file_identity((flags & MAP_ANONYMOUS) ? -1 : fd, &dev, &ino, path,
		      sizeof(l->name));
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, VMS_REC_MMAP,
			  14 * VMS_VARINT_MAX + sizeof(l->name));
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, api);
	put(&e, sid);
	put(&e, (uintptr_t)addr);
	put(&e, len);
	put(&e, (unsigned)prot);
	put(&e, (unsigned)flags);
	put(&e, (uint64_t)(int64_t)fd);
	put(&e, (uint64_t)off);
	put(&e, dev);
	put(&e, ino);
	put_str(&e, path, sizeof(l->name));
	put(&e, (uintptr_t)old);
	put(&e, old_len);
	commit(l, VMS_REC_MMAP, e.p, e.n);
}

void vms_record_munmap(unsigned api, const void *ra, uint64_t seq,
		       const void *addr, size_t len)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint32_t sid = api == VMS_API_MREMAP ? 0 : capture(l, ra);
	uint8_t *p = room(l, VMS_REC_MUNMAP, 5 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, api);
	put(&e, sid);
	put(&e, (uintptr_t)addr);
	put(&e, len);
	commit(l, VMS_REC_MUNMAP, e.p, e.n);
}

/* Records with the shape: seq, stack, then up to four absolute values. */
static void record_simple(unsigned type, const void *ra, uint64_t seq,
			  int nvals, uint64_t a, uint64_t b, uint64_t c,
			  uint64_t d)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	if (!seq)
		seq = vms_seq_next();
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, type, 6 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	uint64_t v[4] = { a, b, c, d };
	put_seq(&e, l, seq);
	put(&e, sid);
	for (int i = 0; i < nvals; i++)
		put(&e, v[i]);
	commit(l, type, e.p, e.n);
}

void vms_record_mprotect(const void *ra, const void *addr, size_t len,
			 int prot)
{
	record_simple(VMS_REC_MPROTECT, ra, 0, 3, (uintptr_t)addr, len,
		      (unsigned)prot, 0);
}

void vms_record_madvise(const void *ra, const void *addr, size_t len,
			int advice)
{
	record_simple(VMS_REC_MADVISE, ra, 0, 3, (uintptr_t)addr, len,
		      (unsigned)advice, 0);
}

void vms_record_brk(unsigned api, const void *ra, uint64_t seq,
		    const void *old_brk, const void *new_brk)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	if (!seq)
		seq = vms_seq_next();
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, VMS_REC_BRK, 5 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, api);
	put(&e, sid);
	put(&e, (uintptr_t)old_brk);
	put(&e, (uintptr_t)new_brk);
	commit(l, VMS_REC_BRK, e.p, e.n);
}

void vms_record_shm_open(const void *ra, int fd, int oflag, int mode,
			 const char *name)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint64_t seq = vms_seq_next();
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, VMS_REC_SHM_OPEN,
			  6 * VMS_VARINT_MAX + NAME_MAX + 1);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, sid);
	put(&e, (uint64_t)fd);
	put(&e, (unsigned)oflag);
	put(&e, (unsigned)mode);
	put_str(&e, name, NAME_MAX + 1);
	commit(l, VMS_REC_SHM_OPEN, e.p, e.n);
}

void vms_record_shm_unlink(const void *ra, uint64_t seq, const char *name)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, VMS_REC_SHM_UNLINK,
			  3 * VMS_VARINT_MAX + NAME_MAX + 1);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, sid);
	put_str(&e, name, NAME_MAX + 1);
	commit(l, VMS_REC_SHM_UNLINK, e.p, e.n);
}

void vms_record_shmget(const void *ra, long key, size_t size, int shmflg,
		       int shmid)
{
	record_simple(VMS_REC_SHMGET, ra, 0, 4, (uint64_t)key, size,
		      (unsigned)shmflg, (uint64_t)shmid);
}

void vms_record_shmat(const void *ra, int shmid, const void *addr,
		      int shmflg)
{
	struct shmid_ds ds;
	uint64_t size = 0, key = 0;
	if (syscall(SYS_shmctl, shmid, IPC_STAT, &ds) == 0) {
		size = ds.shm_segsz;
		key = (uint32_t)ds.shm_perm.__key;
	}
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint64_t seq = vms_seq_next();
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, VMS_REC_SHMAT, 7 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, sid);
	put(&e, (uint64_t)shmid);
	put(&e, (uintptr_t)addr);
	put(&e, size);
	put(&e, (unsigned)shmflg);
	put(&e, key);
	commit(l, VMS_REC_SHMAT, e.p, e.n);
}

void vms_record_shmdt(const void *ra, uint64_t seq, const void *addr)
{
	record_simple(VMS_REC_SHMDT, ra, seq, 1, (uintptr_t)addr, 0, 0, 0);
}

void vms_record_dlopen(const void *ra, const char *path, int flags,
		       void *handle)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint64_t seq = vms_seq_next();
	uint64_t bias = 0;
	char build_id[VMS_BUILD_ID_HEX];
	const char *real_path = "";
	struct link_map *lm = NULL;
	build_id[0] = 0;
	if (!dlinfo(handle, RTLD_DI_LINKMAP, &lm) && lm) {
		bias = lm->l_addr;
		real_path = lm->l_name ? lm->l_name : "";
		vms_module_build_id(bias, build_id);
	}
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, VMS_REC_DLOPEN, 8 * VMS_VARINT_MAX + 2 * PATH_MAX +
				     VMS_BUILD_ID_HEX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, sid);
	put(&e, (unsigned)flags);
	put(&e, (uintptr_t)handle);
	put_str(&e, path, PATH_MAX);
	put(&e, bias);
	put_str(&e, build_id, sizeof(build_id));
	put_str(&e, real_path, PATH_MAX);
	commit(l, VMS_REC_DLOPEN, e.p, e.n);
}

void vms_record_dlclose(const void *ra, uint64_t seq, void *handle,
			int result)
{
	record_simple(VMS_REC_DLCLOSE, ra, seq, 2, (uintptr_t)handle,
		      (uint64_t)(int64_t)result, 0, 0);
}

void vms_record_fork(unsigned api, const void *ra, uint64_t seq, pid_t child)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint32_t sid = capture(l, ra);
	uint8_t *p = room(l, VMS_REC_FORK, 4 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, seq);
	put(&e, api);
	put(&e, sid);
	put(&e, (uint64_t)child);
	commit(l, VMS_REC_FORK, e.p, e.n);
}

void vms_stack_here(const void *ra, uint32_t *lane_out, uint32_t *stack_out)
{
	*lane_out = *stack_out = 0;
	struct vms_lane *l = begin();
	if (!l)
		return;
	*lane_out = l->index;
	*stack_out = capture(l, ra);
}

void vms_record_create(uint32_t lane, uint32_t stack, uint64_t handle)
{
	struct vms_lane *l = begin();
	/* The stack id belongs to the lane it was interned in. */
	if (!l || l->index != lane)
		return;
	uint8_t *p = room(l, VMS_REC_CREATE, 3 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, vms_seq_next());
	put(&e, stack);
	put(&e, handle);
	commit(l, VMS_REC_CREATE, e.p, e.n);
}

void vms_record_exit(uint64_t status)
{
	struct vms_lane *l = begin();
	if (!l)
		return;
	uint8_t *p = room(l, VMS_REC_EXIT, 3 * VMS_VARINT_MAX);
	if (!p)
		return;
	struct enc e = { p, 0 };
	put_seq(&e, l, vms_seq_next());
	put(&e, status);
	put(&e, vms_dropped_events());
	vms_lane_commit(l, VMS_REC_EXIT, e.p, e.n);
}

static struct vms_deferred *defer_slot(void)
{
	struct vms_lane *l = vms_tls.lane;
	if (!l || l->disabled || l->ndeferred >= VMS_MAX_DEFERRED) {
		count_dropped();
		return NULL;
	}
	return &l->deferred[l->ndeferred++];
}

void vms_defer_alloc(unsigned api, const void *ra, const void *p, size_t size,
		     const void *old)
{
	struct vms_deferred *d = defer_slot();
	if (d)
		*d = (struct vms_deferred){ VMS_REC_ALLOC, (uint8_t)api,
					    vms_seq_heap(p), (uintptr_t)p, size,
					    (uintptr_t)old, (uintptr_t)ra };
}

void vms_defer_free(unsigned api, const void *p)
{
	struct vms_deferred *d = defer_slot();
	if (d)
		*d = (struct vms_deferred){ VMS_REC_FREE, (uint8_t)api,
					    vms_seq_heap(p), (uintptr_t)p, 0, 0,
					    0 };
}

static void flush_deferred(struct vms_lane *l)
{
	for (uint32_t i = 0; i < l->ndeferred; i++) {
		const struct vms_deferred *d = &l->deferred[i];
		/* The loader's own frame is the whole stack: unwinding here
		 * is what got us into this. */
		uint32_t sid = 0;
		if (d->type == VMS_REC_ALLOC)
			sid = intern_here(l, &d->ra, 1);
		uint8_t *p = room(l, d->type, 7 * VMS_VARINT_MAX);
		if (!p)
			break;
		struct enc e = { p, 0 };
		put_seq(&e, l, d->seq);
		put(&e, d->api);
		if (d->type == VMS_REC_ALLOC) {
			put(&e, sid);
			put_addr(&e, l, d->addr);
			put(&e, d->size);
			put(&e, 0);
			if (d->api == VMS_API_REALLOC ||
			    d->api == VMS_API_REALLOCARRAY)
				put_rel(&e, d->old, d->addr);
		} else {
			put_addr(&e, l, d->addr);
		}
		vms_lane_commit(l, d->type, e.p, e.n);
	}
	l->ndeferred = 0;
}

/* ---- the recording directory ------------------------------------------ */

/* The pid in the meta file of recording dir, or 0. */
static pid_t recording_pid(const char *dir)
{
	char path[PATH_MAX + 8];
	struct vms_buf b = { path, 0, sizeof(path) - 1, 0 };
	uint64_t v = 0;
	vms_buf_str(&b, dir);
	vms_buf_str(&b, "/meta");
	path[b.len] = 0;
	return vms_read_number(path, "pid", &v) ? 0 : (pid_t)v;
}

static void set_path(char *dst, const char *src)
{
	size_t n = strnlen(src, PATH_MAX - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* Picks and creates the recording directory.  root is VMSPY_OUT or the
 * default name; parent_dir is the recording of the process we were forked
 * from ("" if none).  Returns 0, or -1 (recording stays off). */
static int make_dir(const char *root, const char *parent_dir, int is_child)
{
	struct vms_self *r = &vms_self;
	r->parent[0] = r->predecessor[0] = 0;
	if (parent_dir[0])
		set_path(r->parent, parent_dir);
	if (!is_child && vms_sys_mkdir(root, 0700) == 0) {
		set_path(r->dir, root);
		return 0;
	}
	if (!is_child && errno != EEXIST) {
		vms_note("cannot create recording '", root, "': ",
			 strerror(errno), "; not recording", (char *)NULL);
		return -1;
	}
	int related = is_child;
	if (!is_child) {
		pid_t owner = recording_pid(root);
		if (owner == my_pid) {
			set_path(r->predecessor, root);
			related = 1;
		} else if (owner && owner == vms_sys_getppid()) {
			set_path(r->parent, root);
			related = 1;
		}
	}
	if (related && !vms_config.follow)
		return -1;
	for (unsigned n = 0; n < 1000; n++) {
		char cand[PATH_MAX];
		struct vms_buf b = { cand, 0, sizeof(cand) - 1, 0 };
		vms_buf_str(&b, root);
		vms_buf_str(&b, ".");
		vms_buf_u64(&b, (uint64_t)my_pid);
		if (n) {
			vms_buf_str(&b, ".");
			vms_buf_u64(&b, n);
		}
		cand[b.len] = 0;
		if (b.overflow)
			break;
		if (vms_sys_mkdir(cand, 0700) == 0) {
			set_path(r->dir, cand);
			return 0;
		}
		if (errno != EEXIST)
			break;
		if (recording_pid(cand) == my_pid)
			set_path(r->predecessor, cand);
	}
	vms_note("cannot create a recording next to '", root, "': ",
		 strerror(errno), "; not recording", (char *)NULL);
	return -1;
}

static int write_meta(int argc, char **argv)
{
	struct vms_self *r = &vms_self;
	char path[PATH_MAX + 8];
	struct vms_buf pb = { path, 0, sizeof(path) - 1, 0 };
	vms_buf_str(&pb, r->dir);
	vms_buf_str(&pb, "/meta");
	path[pb.len] = 0;
	int fd = vms_sys_open(path,
			      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_CLOEXEC,
			      0600);
	if (fd < 0)
		return -1;
	void *mem = vms_sys_mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		vms_sys_close(fd);
		return -1;
	}
	struct vms_buf b = { mem, 0, (1 << 20) - 1, 0 };
#define KV(k, v) (vms_buf_str(&b, k " "), vms_buf_u64(&b, (v)), vms_buf_str(&b, "\n"))
#define KS(k, v) (vms_buf_str(&b, k " "), vms_buf_escaped(&b, (v)), vms_buf_str(&b, "\n"))
	vms_buf_str(&b, "vmspy-recording ");
	vms_buf_u64(&b, VMS_FORMAT_VERSION);
	vms_buf_str(&b, "\n");
	KS("vmspy_version", VMS_VERSION_STRING);
	KV("pid", (uint64_t)my_pid);
	KV("ppid", (uint64_t)vms_sys_getppid());
	KS("exe", r->exe);
	if (r->parent[0])
		KS("parent", r->parent);
	if (r->predecessor[0])
		KS("predecessor", r->predecessor);
	KV("start_realtime_ns", r->start_realtime);
	KV("start_monotonic_ns", r->start_monotonic);
	KV("page_size", (uint64_t)sysconf(_SC_PAGESIZE));
	KV("depth", vms_config.depth);
	KV("interval_ms", vms_config.interval_ms);
	KV("chunk_size", vms_config.chunk_size);
	KV("sample_bytes", vms_config.sample_bytes);
	if (vms_config.compress) {
		/* Sealed chunks may turn into frames of log.<n>.z. */
		vms_buf_str(&b, "compress zstd ");
		if (vms_config.compress_level < 0)
			vms_buf_str(&b, "-");
		vms_buf_u64(&b, (uint64_t)(vms_config.compress_level < 0
						   ? -vms_config.compress_level
						   : vms_config.compress_level));
		vms_buf_str(&b, "\n");
	}
	KV("argv_redacted", (uint64_t)vms_config.redact_argv);
	KV("argc", (uint64_t)(argc > 0 ? argc : 0));
	for (int i = 0; i < argc && argv && argv[i]; i++) {
		vms_buf_str(&b, "argv ");
		vms_buf_u64(&b, (uint64_t)i);
		vms_buf_str(&b, " ");
		vms_buf_escaped(&b, vms_config.redact_argv && i ? "<redacted>"
								 : argv[i]);
		vms_buf_str(&b, "\n");
	}
#undef KV
#undef KS
	int rc = vms_write_all(fd, mem, b.len);
	vms_sys_close(fd);
	vms_sys_munmap(mem, 1 << 20);
	return rc;
}

/* The default recording name: vmspy.<exe basename>.<pid> in the current
 * directory. */
static void default_root(char *out, size_t cap)
{
	const char *base = strrchr(vms_self.exe, '/');
	base = base ? base + 1 : vms_self.exe;
	char cwd[PATH_MAX];
	struct vms_buf b = { out, 0, cap - 1, 0 };
	if (getcwd(cwd, sizeof(cwd))) {
		vms_buf_str(&b, cwd);
		vms_buf_str(&b, "/");
	}
	vms_buf_str(&b, "vmspy.");
	vms_buf_str(&b, *base ? base : "app");
	vms_buf_str(&b, ".");
	vms_buf_u64(&b, (uint64_t)my_pid);
	out[b.len] = 0;
}

static int start_recording(const char *parent_dir, int is_child, int argc,
			   char **argv)
{
	struct vms_self *r = &vms_self;
	my_pid = vms_sys_getpid();
	r->start_realtime = vms_realtime_ns();
	r->start_monotonic = vms_now_ns();
	if (vms_config.out[0])
		set_path(r->root, vms_config.out);
	else if (!is_child)
		default_root(r->root, sizeof(r->root));
	if (make_dir(r->root, parent_dir, is_child))
		return -1;
	if (write_meta(argc, argv)) {
		vms_note("cannot write '", r->dir, "/meta': ", strerror(errno),
			 "; not recording", (char *)NULL);
		return -1;
	}
	vms_atomic_store_release(&vms_active, 1);
	if (!thread_attach(0, 0)) {
		vms_active = 0;
		return -1;
	}
	vms_take_snapshot(VMS_SNAP_START, NULL);
	return 0;
}

/* ---- process lifecycle -------------------------------------------------- */

static int find_ranges(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	uintptr_t self = (uintptr_t)data;
	uintptr_t ldso_base = (uintptr_t)getauxval(AT_BASE);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		uintptr_t hi = lo + ph->p_memsz;
		if (self >= lo && self < hi) {
			vms_ranges.self_lo = lo;
			vms_ranges.self_hi = hi;
		}
		if (ldso_base && info->dlpi_addr == ldso_base) {
			vms_ranges.ldso_lo = lo;
			vms_ranges.ldso_hi = hi;
		}
		uintptr_t unw = (uintptr_t)&unw_backtrace;
		if (unw >= lo && unw < hi) {
			vms_ranges.unw_lo = lo;
			vms_ranges.unw_hi = hi;
		}
	}
	return 0;
}

static void make_alive_page(void)
{
	void *p = vms_sys_mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED && vms_sys_madvise(p, 4096, MADV_WIPEONFORK) == 0) {
		alive = p;
		*alive = 1;
		vms_own_add(p, 4096, "fork detection page");
		return;
	}
	if (p != MAP_FAILED)
		vms_sys_munmap(p, 4096);
	alive = &alive_fallback;
}

void vms_after_fork_child(void)
{
	/* We are the only thread of a new process.  Every lane and mapping
	 * we inherited belongs to the parent's recording: drop them (the
	 * parent's files are untouched) and start a sibling recording. */
	int was = vms_tls.guard;
	vms_tls.guard = 1;
	vms_barrier();
	*alive = 1;
	vms_active = 0;
	uint32_t n = vms_atomic_load_relaxed(&nlanes);
	if (n > MAX_LANES)
		n = MAX_LANES;
	for (uint32_t i = 0; i < n; i++) {
		vms_lane_forget(&lanes[i]);
		lanes[i].state = VMS_LANE_UNUSED;
	}
	nlanes = 0;
	lanes_closed = 0;
	lane_failure_noted = 0;
	vms_tls.lane = NULL;
	seq_reset();
	dropped = 0;
	vms_snapshot_reset();
	vms_compress_reset();
	vms_self.forked = 1;
	/* The child's recording starts with its first event: a child that
	 * only execs (a shell's fork + exec) leaves no empty recording and
	 * pays no snapshot. */
	if (vms_config.follow && vms_self.dir[0]) {
		set_path(fork_parent, vms_self.dir);
		fork_pending = 1;
		vms_active = 1;
	}
	vms_barrier();
	vms_tls.guard = was;
}

/* The fork child's first event: start its recording now. */
static VMS_NOINLINE int start_forked(void)
{
	fork_pending = 0;
	if (start_recording(fork_parent, 1, vms_self.argc, vms_self.argv)) {
		vms_active = 0;
		return 0;
	}
	vms_sampler_start();
	return 1;
}

int vms_recorder_ready(void)
{
	if (!vms_active)
		return 0;
	if (VMS_UNLIKELY(fork_pending))
		return start_forked();
	return 1;
}

/* Defined in hooks.c only: a binary that links the recorder core without
 * the hooks (the unit tests) does not start recording by itself. */
extern const int vms_hooks_linked __attribute__((weak));

__attribute__((constructor)) static void vms_init(int argc, char **argv)
{
	if (&vms_hooks_linked)
		vms_recorder_init(argc, argv);
}

/* The EXIT record carries exit()'s argument (or main's return value):
 * glibc hands it to on_exit handlers.  Ours is registered before ld.so
 * registers its destructor runner, so it runs after every destructor,
 * vms_fini included: the EXIT record is written here, last. */
static int on_exit_ok;

static void record_exit_status(int status, void *arg)
{
	(void)arg;
	if (!vms_active || !*alive || fork_pending)
		return;
	int was = vms_tls.guard;
	vms_tls.guard = 1;
	vms_barrier();
	vms_record_exit((uint64_t)(int64_t)status);
	vms_barrier();
	vms_tls.guard = was;
}

void vms_recorder_init(int argc, char **argv)
{
	vms_tls.guard = 1;
	vms_barrier();
	make_alive_page();
	vms_real_resolve();
	dl_iterate_phdr(find_ranges, (void *)(uintptr_t)&find_ranges);
	vms_config_load();
	vms_stack_init();
	if (vms_config.sample_bytes) {
		/* The tag test in free() reads the 16 bytes below a block:
		 * safe over glibc's malloc only (sample.h). */
		if (vms_real.malloc && vms_real.malloc == vms_real.libc_malloc) {
			vms_sample_init(vms_config.sample_bytes);
			/* Unsampled blocks are invisible: reachability would
			 * be wrong. */
			vms_config.leak_scan = 0;
		} else {
			vms_note("VMSPY_SAMPLE_BYTES needs glibc's malloc; this program has another allocator, recording every allocation",
				 (char *)NULL);
			vms_config.sample_bytes = 0;
		}
	}
	if (getauxval(AT_SECURE)) {
		vms_note("secure-execution mode (setuid or capabilities): not recording",
			 (char *)NULL);
		goto out;
	}
	ssize_t n = vms_sys_readlink("/proc/self/exe", vms_self.exe,
				     sizeof(vms_self.exe) - 1);
	vms_self.exe[n > 0 ? n : 0] = 0;
	vms_self.argc = argc;
	vms_self.argv = argv;
	exit_key_ok = pthread_key_create(&exit_key, thread_exit_cb) == 0;
	on_exit_ok = on_exit(record_exit_status, NULL) == 0;
	if (start_recording("", 0, argc, argv) == 0) {
		/* One line from the first process only: its children and
		 * exec'd images record next to it, quietly. */
		if (!vms_config.quiet && !vms_self.parent[0] &&
		    !vms_self.predecessor[0] &&
		    !strcmp(vms_self.dir, vms_self.root))
			vms_note("recording to '", vms_self.dir, "'",
				 (char *)NULL);
		vms_sampler_start();
	}
out:
	vms_barrier();
	vms_tls.guard = 0;
}

/* At exit, each log's current chunk stops taking disk it does not use,
 * for the lanes nobody can write to concurrently: this thread's own (with
 * room for the frees libc does after us), and those whose thread is gone,
 * taken meanwhile so that no new thread takes them over halfway
 * (lane_acquire).  With compression on, a chunk with more than SEAL_MIN
 * bytes of records is sealed for the compressor (vms_lane_seal); otherwise
 * its reserved zero tail is punched (vms_lane_trim). */
#define TRIM_SLACK_OWN 8192
#define SEAL_MIN (16 * 1024)
static void finish_lane(struct vms_lane *l, int seal, size_t slack)
{
	if (!seal || l->pos < SEAL_MIN || vms_lane_seal(l))
		vms_lane_trim(l, slack);
}

static void finish_lanes(int seal)
{
	struct vms_lane *own = vms_tls.lane;
	uint32_t n = vms_atomic_load_acquire(&nlanes);
	if (n > MAX_LANES)
		n = MAX_LANES;
	if (own)
		finish_lane(own, seal, TRIM_SLACK_OWN);
	for (uint32_t i = 0; i < n; i++) {
		struct vms_lane *l = &lanes[i];
		int st = VMS_LANE_RETIRED;
		if (l == own ||
		    vms_atomic_load_acquire(&l->state) != VMS_LANE_RETIRED ||
		    !vms_thread_is_dead(my_pid, l->owner_tid) ||
		    !vms_atomic_cas_acq_rel(&l->state, &st, VMS_LANE_OWNED))
			continue;
		finish_lane(l, seal, 0);
		vms_atomic_store_release(&l->state, VMS_LANE_RETIRED);
	}
}

__attribute__((destructor)) static void vms_fini(void)
{
	/* A fork child that recorded nothing has no recording to finish. */
	if (!vms_active || !*alive || fork_pending)
		return;
	int was = vms_tls.guard;
	vms_tls.guard = 1;
	vms_barrier();
	vms_take_snapshot(VMS_SNAP_EXIT, NULL);
	/* The background thread compresses no more: the leak scan reads the
	 * logs, and chunks must not turn into frames under it. */
	int still = vms_compress_stop();
	/* Nor may the sampler map and unmap snapshot buffers while the scan
	 * reads memory (a fault in the host at exit). */
	still |= vms_snapshot_close();
	if (vms_config.leak_scan && !still)
		vms_leak_scan();
	else if (vms_config.leak_scan)
		vms_note("the background thread did not stop; no leak scan",
			 (char *)NULL);
	/* What was sealed and not compressed yet (usually a chunk or two):
	 * compressed now, within a bounded time; the rest stays raw. */
	finish_lanes(!still && vms_compress_enabled());
	if (!still)
		vms_compress_drain(1000);
	if (!on_exit_ok)
		vms_record_exit(0);
	/* Recording stays on: libc frees after this (stdio, TLS). */
	vms_barrier();
	vms_tls.guard = was;
}
