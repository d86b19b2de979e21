/* SPDX-License-Identifier: MIT */
/*
 * The k-way merge of log lanes by sequence number (replay.h).  Each lane
 * holds exactly one decoded event ahead (its head); the binary heap orders
 * the lanes by that event's seq.  Taking the top lane's event and decoding
 * that lane's next one is one step of the merge; the global stack table
 * learns a lane's STACK records during that decoding, so its ids depend
 * only on the recording.
 *
 * With a helper thread, the helper runs the merge and writes the merged
 * stream into a ring (see "two threads" below); the caller's thread reads
 * the ring and runs the callback.  A damaged lane puts a marker event
 * (type VMS_REC_NONE, str = the message) into the ring where the inline
 * merge would have noted the damage.  Both sides batch their index updates
 * and sleep on a futex only after spinning a while, woken when half the
 * ring is ready: no lock, no syscall per event.
 */
#include "replay.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* ---- the merge -------------------------------------------------------- */

/* Heap events decoded ahead per lane by vms_replay_run_heap
 * (vms_logreader_heap_batch): the most one call of its heap_fn gets. */
#define AHEAD 32

/* Lane i's events decoded ahead: batch[i * AHEAD + next .. + n).  With
 * n == 0 the lane's head is the whole event in pool[i]. */
struct ahead {
	uint32_t next, n;
};

/* Zeroed memory for n elements on cache lines of its own: with a helper
 * thread, what one thread writes for every event must not share a line
 * with anything the other touches (malloc packs small blocks together). */
static void *lines_calloc(size_t n, size_t size)
{
	size_t bytes;
	void *p;

	if (!n)
		n = 1;
	if (__builtin_mul_overflow(n, size, &bytes) || bytes > SIZE_MAX - 63)
		vms_die("out of memory");
	bytes = (bytes + 63) & ~(size_t)63;
	if (posix_memalign(&p, 64, bytes))
		vms_die("out of memory (%zu bytes)", bytes);
	return memset(p, 0, bytes);
}

/* The merge's state.  It lives on cache lines of its own (lines_calloc),
 * away from the caller's data next to struct vms_replay, because with a
 * helper thread the helper reads and writes it for every event while the
 * caller's thread writes its own state. */
struct vms_replay_merge {
	size_t n;                    /* lanes */
	struct vms_logreader *readers; /* = rp->readers */
	struct vms_logfile *logs;    /* the readers' copies of rec->logs */
	struct vms_event *pool;      /* lane -> its next event */
	uint64_t *head_seq;          /* lane -> that event's seq */
	size_t *heap;                /* lane indices, min seq first */
	size_t heap_len;
	/* vms_replay_run_heap: heap events decoded ahead, per lane */
	struct ahead *ahead;
	struct vms_heap_event *batch; /* lane i's: batch[i * AHEAD ...] */
};

void vms_replay_init(struct vms_replay *rp, struct vms_recording *rec)
{
	size_t n = rec->nr_logs;
	struct vms_replay_merge *m = lines_calloc(1, sizeof(*m));

	memset(rp, 0, sizeof(*rp));
	rp->rec = rec;
	rp->merge = m;
	vms_stacks_init(&rp->stacks);
	m->n = n;
	m->readers = rp->readers = lines_calloc(n, sizeof(*rp->readers));
	m->logs = lines_calloc(n, sizeof(*m->logs));
	m->pool = lines_calloc(n, sizeof(*m->pool));
	m->head_seq = lines_calloc(n, sizeof(*m->head_seq));
	m->heap = lines_calloc(n, sizeof(*m->heap));
	m->ahead = lines_calloc(n, sizeof(*m->ahead));
	m->batch = lines_calloc(n * AHEAD, sizeof(*m->batch));
	for (size_t i = 0; i < n; i++) {
		m->logs[i] = rec->logs[i];
		vms_logreader_init(&rp->readers[i], &m->logs[i], &rp->stacks,
				   rec->meta.pid);
	}
}

void vms_replay_release(struct vms_replay *rp)
{
	struct vms_replay_merge *m = rp->merge;

	for (size_t i = 0; rp->readers && i < rp->rec->nr_logs; i++)
		vms_logreader_release(&rp->readers[i]);
	for (size_t i = 0; i < rp->nr_damage; i++)
		free(rp->damage[i].message);
	free(rp->damage);
	free(rp->readers);
	if (m) {
		free(m->logs);
		free(m->pool);
		free(m->head_seq);
		free(m->heap);
		free(m->ahead);
		free(m->batch);
		free(m);
	}
	vms_stacks_release(&rp->stacks);
	memset(rp, 0, sizeof(*rp));
}

static inline bool before(const struct vms_replay_merge *m, size_t a, size_t b)
{
	uint64_t sa = m->head_seq[a], sb = m->head_seq[b];
	return sa < sb || (sa == sb && a < b);
}

static void sift_down(struct vms_replay_merge *m, size_t i)
{
	size_t *h = m->heap, n = m->heap_len;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, k = i, t;
		if (l < n && before(m, h[l], h[k]))
			k = l;
		if (r < n && before(m, h[r], h[k]))
			k = r;
		if (k == i)
			return;
		t = h[i];
		h[i] = h[k];
		h[k] = t;
		i = k;
	}
}

/* What is left when lane i's reader stopped: NULL at its normal end, a
 * message (for the caller to own) when it stopped on corrupt data. */
static char *lane_damage(const struct vms_replay_merge *m, size_t i)
{
	const struct vms_logreader *r = &m->readers[i];
	struct vms_strbuf b = VMS_STRBUF_INIT;

	if (!r->error)
		return NULL;
	vms_strbuf_addstr(&b, r->error);
	if (r->events)
		vms_strbuf_addf(&b, "; read %llu events before it",
				(unsigned long long)r->events);
	return b.s;
}

/* Decode lane i's next event into its head, m->pool[i].  false when the
 * lane is finished; *damage is then lane_damage(). */
static inline bool decode_head(struct vms_replay_merge *m, size_t i,
			       char **damage)
{
	struct vms_event *ev = &m->pool[i];

	if (__builtin_expect(vms_logreader_next(&m->readers[i], ev) > 0, 1)) {
		m->head_seq[i] = ev->seq;
		return true;
	}
	*damage = lane_damage(m, i);
	return false;
}

static void add_damage(struct vms_replay *rp, uint32_t lane, char *message)
{
	VMS_GROW(rp->damage, rp->alloc_damage, rp->nr_damage + 1);
	rp->damage[rp->nr_damage++] =
		(struct vms_replay_damage){ .lane = lane, .message = message };
}

/* After the top lane's head was taken and a new one decoded (or not):
 * restore the heap.  Threads allocate in bursts, so the top lane often
 * stays on top: that costs two comparisons here, not a sift. */
static inline void after_step(struct vms_replay_merge *m, bool more)
{
	size_t *h = m->heap, n;

	if (!more)
		h[0] = h[--m->heap_len];
	n = m->heap_len;
	if (n > 1 && (!before(m, h[0], h[1]) ||
		      (n > 2 && !before(m, h[0], h[2]))))
		sift_down(m, 0);
}

static void heapify(struct vms_replay_merge *m)
{
	for (size_t i = m->heap_len / 2; i-- > 0;)
		sift_down(m, i);
}

/* ---- progress --------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Progress on stderr, when it is a terminal and the replay has run for a
 * second: how much of the logs has been read.  Checked every 64k events,
 * by the thread that runs the merge. */
struct progress {
	bool on;
	double start, last;
	size_t total;
	bool shown;
};

static void progress_init(struct progress *p, const struct vms_replay *rp)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(2) && !getenv("VMSPY_NO_PROGRESS");
	p->start = p->last = now_s();
	for (size_t i = 0; i < rp->rec->nr_logs; i++)
		p->total += rp->rec->logs[i].size;
}

static void progress_tick(struct progress *p, const struct vms_replay *rp,
			  uint64_t events)
{
	double t = now_s();
	if (t - p->start < 1.0 || t - p->last < 0.25)
		return;
	size_t done = 0;
	for (size_t i = 0; i < rp->rec->nr_logs; i++)
		done += rp->readers[i].pos;
	fprintf(stderr, "\rvmspy: reading %s: %3.0f%%, %llu events",
		vms_recording_name(rp->rec),
		p->total ? 100.0 * (double)done / (double)p->total : 100.0,
		(unsigned long long)events);
	p->last = t;
	p->shown = true;
}

static void progress_done(const struct progress *p)
{
	if (p->shown)
		fprintf(stderr, "\r\033[K");
}

/* ---- one thread ---------------------------------------------------------- */

/* Each event goes to the callback from its lane's head slot, and the
 * lane's next event is decoded into the same slot: one slot per lane. */
static int run_inline(struct vms_replay *rp, vms_replay_fn fn, void *ctx)
{
	struct vms_replay_merge *m = rp->merge;
	struct progress prog;
	char *damage;
	int r = 0;

	progress_init(&prog, rp);
	for (size_t i = 0; i < m->n; i++) {
		if (decode_head(m, i, &damage))
			m->heap[m->heap_len++] = i;
		else if (damage)
			add_damage(rp, m->logs[i].lane, damage);
	}
	heapify(m);
	while (m->heap_len > 1) {
		size_t lane = m->heap[0];

		rp->events++;
		if (__builtin_expect(prog.on, 0) && !(rp->events & 0xffff))
			progress_tick(&prog, rp, rp->events);
		r = fn(&m->pool[lane], ctx);
		if (r)
			goto out;
		if (decode_head(m, lane, &damage)) {
			after_step(m, true);
			continue;
		}
		if (damage)
			add_damage(rp, m->logs[lane].lane, damage);
		after_step(m, false);
	}
	/* One lane left (or from the start): nothing to merge. */
	if (m->heap_len) {
		size_t lane = m->heap[0];
		struct vms_logreader *rd = &m->readers[lane];
		struct vms_event *ev = &m->pool[lane];

		do {
			rp->events++;
			if (__builtin_expect(prog.on, 0) &&
			    !(rp->events & 0xffff))
				progress_tick(&prog, rp, rp->events);
			r = fn(ev, ctx);
			if (r)
				goto out;
		} while (vms_logreader_next(rd, ev) > 0);
		if ((damage = lane_damage(m, lane)))
			add_damage(rp, m->logs[lane].lane, damage);
		m->heap_len = 0;
	}
out:
	progress_done(&prog);
	return r;
}

/* ---- two threads: the stream between merge and callback ------------------
 *
 * What crosses between the threads is kept small, because moving cache
 * lines from one core to another is what such a pipeline pays for.  A
 * malloc or free record is decoded with only its type's fields set, all
 * others 0 (logreader.h): when the last event sent whole for its lane was
 * such a record too, with the same thread and time, the two differ only in
 * COMPACT_FIELDS, and the ring record carries just those -- one cache line
 * -- for the consumer to write into its copy of the lane's event.  Any
 * other event is sent whole, in a slot of a pool, the slot's number in the
 * ring record.
 */

#define RING VMS_REPLAY_WINDOW /* events decoded ahead: a power of two */
#define BATCH 32               /* index updates published every BATCH */
#define SPIN_NS 200000         /* spinning before sleeping: 200 us */
#define PREFETCH_AHEAD 16      /* ring records claimed ahead for writing */
#define PAGE_RECORDS 64        /* ring records in a 4 KiB page */

/* The fields of a compact record: what changes between two malloc or free
 * records of one lane. */
#define COMPACT_FIELDS(X) \
	X(type) X(api) X(seq) X(offset) X(stack) X(gstack) X(addr) X(size) \
	X(align) X(old_addr)

/* One ring record: a compact event, or the slot of a whole one. */
struct crec {
	uint32_t tag;         /* lane index << 1 | 1 when whole */
	uint8_t type, api;    /* a compact event's (both < 256) */
	uint16_t unused;
	uint32_t stack;       /* whole: the slot */
	uint32_t gstack;
	uint64_t seq, offset, addr, size, align, old_addr;
};
#define EV_SIZE(f) sizeof(((struct vms_event *)0)->f)
_Static_assert(sizeof(struct crec) == 64, "a ring record is a cache line");
_Static_assert(RING >= 8 * PAGE_RECORDS, "the ring spans pages");
_Static_assert(EV_SIZE(stack) == 4 && EV_SIZE(gstack) == 4 &&
	       EV_SIZE(seq) == 8 && EV_SIZE(offset) == 8 &&
	       EV_SIZE(addr) == 8 && EV_SIZE(size) == 8 &&
	       EV_SIZE(align) == 8 && EV_SIZE(old_addr) == 8,
	       "struct crec holds the compact fields of struct vms_event");

struct side {
	uint32_t waiting;  /* 1: asleep (or about to be) on evt */
	uint32_t want;     /* ... until the other side's counter reaches it */
	uint32_t evt;      /* futex word: bumped to wake */
};

struct vms_replay_pipe {
	struct vms_replay *rp;
	struct vms_replay_merge *m;   /* rp->merge */
	struct crec *ring;            /* RING records, in merge order */
	struct vms_event *whole;      /* RING + 1 slots for whole events */
	vms_replay_fn fn;
	void *ctx;
	int result;                   /* the callback's non-zero value */
	/* producer -> consumer */
	__attribute__((aligned(64))) uint32_t tail;
	uint32_t finished;
	/* consumer -> producer */
	__attribute__((aligned(64))) uint32_t head;
	__attribute__((aligned(64))) uint32_t stop;
	__attribute__((aligned(64))) struct side cons;
	__attribute__((aligned(64))) struct side prod;

	/* producer only */
	__attribute__((aligned(64))) uint32_t ptail, phead;
	uint32_t wholes;              /* whole events sent */
	struct lane_sent *sent;       /* per lane: its last whole event */
	/* consumer only: nothing it writes per event may share a cache line
	 * with what the producer reads (struct vms_replay included) */
	__attribute__((aligned(64))) uint32_t chead, ctail;
	uint64_t events;              /* delivered: rp->events at the end */
	struct vms_event *cur;        /* per lane: the event as delivered */
	vms_replay_hint_fn hint;      /* copies of rp's */
	void *hint_ctx;
};

/* What the producer remembers of the last event it sent whole for a
 * lane: whether it was a malloc or free record, and its thread and time. */
struct lane_sent {
	bool heap;
	uint64_t tid, time_ns;
};

static bool is_heap_record(uint32_t type)
{
	return type == VMS_REC_ALLOC || type == VMS_REC_FREE;
}

static uint32_t load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

/* Get a cache line in a writable state ahead of the stores to it (a read
 * prefetch would leave the other core's copy to invalidate at the store).
 * PREFETCHW is a no-op on x86-64 processors without it. */
static inline void prefetch_for_write(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Wake side s if it sleeps and `have` (the counter it waits on) has
 * reached what it wants, or in any case when `always`. */
static void wake(struct side *s, uint32_t have, bool always)
{
	if (!load(&s->waiting))
		return;
	if (!always && (int32_t)(have - load(&s->want)) < 0)
		return;
	__atomic_fetch_add(&s->evt, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &s->evt, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep until ready(p) holds.  The flag and the counter make the
 * check-then-sleep race free: the waker bumps evt after changing what
 * ready() reads, so either ready() sees the change or FUTEX_WAIT
 * returns at once. */
static void sleep_until(struct vms_replay_pipe *p, struct side *s,
			uint32_t want, bool (*ready)(struct vms_replay_pipe *))
{
	/* Spin first: the other side usually has what we wait for within
	 * microseconds, and a futex wake costs the waker a system call and
	 * the sleeper a trip through the scheduler (much more in a VM, where
	 * an idle CPU halts).  Helpers are only used when a CPU is idle. */
	uint64_t until = 0;
	for (unsigned i = 0;; i++) {
		if (ready(p))
			return;
		cpu_relax();
		if (i % 64 == 0) {
			struct timespec ts;
			uint64_t now;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = (uint64_t)ts.tv_sec * 1000000000u +
			      (uint64_t)ts.tv_nsec;
			if (!until)
				until = now + SPIN_NS;
			else if (now >= until)
				break;
		}
	}
	store(&s->want, want);
	store(&s->waiting, 1);
	for (;;) {
		uint32_t e = load(&s->evt);
		if (ready(p))
			break;
		syscall(SYS_futex, &s->evt, FUTEX_WAIT_PRIVATE, e, NULL, NULL,
			0);
	}
	store(&s->waiting, 0);
}

/* ---- consumer: the callback ---------------------------------------------- */

/* Deliver ring positions [chead, end), hinting all of them first: their
 * lookups are then in flight together.  false when the callback said stop
 * (p->result). */
static bool deliver(struct vms_replay_pipe *p, uint32_t end)
{
	int r;

	if (p->hint)
		for (uint32_t i = p->chead; i != end; i++) {
			const struct crec *c = &p->ring[i % RING];
			if (!(c->tag & 1))
				p->hint(c->type, c->addr, p->hint_ctx);
			else
				p->hint(p->whole[c->stack].type,
					p->whole[c->stack].addr, p->hint_ctx);
		}
	for (; p->chead != end; p->chead++) {
		const struct crec *c = &p->ring[p->chead % RING];
		struct vms_event *ev = &p->cur[c->tag >> 1];

		if (!(c->tag & 1)) {
#define COPY(f) ev->f = c->f;
			COMPACT_FIELDS(COPY)
#undef COPY
		} else if (p->whole[c->stack].type == VMS_REC_NONE) {
			ev = &p->whole[c->stack];
			add_damage(p->rp, ev->lane, (char *)ev->str);
			continue;
		} else {
			*ev = p->whole[c->stack];
		}
		p->events++;
		r = p->fn(ev, p->ctx);
		if (r) {
			p->result = r;
			return false;
		}
	}
	return true;
}

static void publish_head(struct vms_replay_pipe *p)
{
	store(&p->head, p->chead);
	wake(&p->prod, p->chead, false);
}

static bool has_events(struct vms_replay_pipe *p)
{
	p->ctail = load(&p->tail);
	return p->ctail - p->chead >= RING / 2 || load(&p->finished);
}

/* How far the consumer may read: all of it once the producer is done,
 * else up to a page of records short of the page the producer writes in
 * (a hardware prefetcher does not cross a page, and one that ran into the
 * producer's page would take its lines away from under its stores). */
static uint32_t read_limit(struct vms_replay_pipe *p)
{
	bool fin = load(&p->finished);
	uint32_t t;

	p->ctail = load(&p->tail);
	if (fin)
		return p->ctail;
	t = p->ctail / PAGE_RECORDS * PAGE_RECORDS - PAGE_RECORDS;
	return (int32_t)(t - p->chead) > 0 ? t : p->chead;
}

/* The caller's side. */
static void consume(struct vms_replay_pipe *p)
{
	for (;;) {
		uint32_t limit = read_limit(p), end;

		if (limit == p->chead) {
			if (load(&p->finished) && p->chead == load(&p->tail))
				return;
			publish_head(p);
			sleep_until(p, &p->cons, p->chead + RING / 2,
				    has_events);
			continue;
		}
		/* In steps of BATCH, publishing how far it got. */
		while (p->chead != limit) {
			end = limit - p->chead > BATCH ? p->chead + BATCH
						       : limit;
			if (!deliver(p, end)) {
				store(&p->stop, 1);
				wake(&p->prod, 0, true);
				return;
			}
			publish_head(p);
		}
	}
}

/* ---- producer: the merge ------------------------------------------------- */

/* Learn how far the consumer got. */
static void refresh_head(struct vms_replay_pipe *p)
{
	p->phead = load(&p->head);
}

static void publish_tail(struct vms_replay_pipe *p)
{
	store(&p->tail, p->ptail);
	wake(&p->cons, p->ptail, false);
}

static bool has_space(struct vms_replay_pipe *p)
{
	refresh_head(p);
	return p->ptail - p->phead < RING || load(&p->stop);
}

/* The next ring record to fill, or NULL when the consumer said stop. */
static struct crec *next_rec(struct vms_replay_pipe *p)
{
	if (p->ptail - p->phead >= RING && !has_space(p)) {
		publish_tail(p);
		sleep_until(p, &p->prod, p->ptail - RING / 2, has_space);
		if (p->ptail - p->phead >= RING)
			return NULL; /* woken by stop */
	}
	/* The consumer read the records of the last lap: ask for their lines
	 * back ahead of need, or every record waits for one. */
	prefetch_for_write(&p->ring[(p->ptail + PREFETCH_AHEAD) % RING]);
	return &p->ring[p->ptail % RING];
}

static bool rec_done(struct vms_replay_pipe *p)
{
	p->ptail++;
	if (!(p->ptail % BATCH)) {
		publish_tail(p);
		if (load(&p->stop))
			return false;
	}
	return true;
}

/* The slot for the next whole event.  Slots are taken in turn: the one
 * taken RING + 1 whole events ago went into a ring record at least RING + 1
 * records back, which the consumer has passed (next_rec saw to it that at
 * most RING are unread). */
static uint32_t take_slot(struct vms_replay_pipe *p)
{
	return p->wholes++ % (RING + 1);
}

/* Put lane's head event into the stream; false when the consumer said
 * stop. */
static bool emit(struct vms_replay_pipe *p, size_t lane)
{
	const struct vms_event *ev = &p->m->pool[lane];
	struct crec *c = next_rec(p);
	uint32_t slot;

	if (!c)
		return false;
	struct lane_sent *ls = &p->sent[lane];

	if (ls->heap && is_heap_record(ev->type) && ev->api < 256 &&
	    ev->tid == ls->tid && ev->time_ns == ls->time_ns) {
		c->tag = (uint32_t)lane << 1;
#define COPY(f) c->f = ev->f;
		COMPACT_FIELDS(COPY)
#undef COPY
	} else {
		slot = take_slot(p);
		p->whole[slot] = *ev;
		*ls = (struct lane_sent){ is_heap_record(ev->type), ev->tid,
					  ev->time_ns };
		c->tag = (uint32_t)lane << 1 | 1;
		c->stack = slot;
	}
	return rec_done(p);
}

/* A lane ended: its damage, if any, goes into the stream as a marker. */
static bool lane_ended(struct vms_replay_pipe *p, size_t lane, char *damage)
{
	struct crec *c;
	uint32_t slot;

	if (!damage)
		return true;
	c = next_rec(p);
	if (!c) {
		free(damage);
		return false;
	}
	slot = take_slot(p);
	memset(&p->whole[slot], 0, sizeof(p->whole[slot]));
	p->whole[slot].type = VMS_REC_NONE;
	p->whole[slot].lane = p->m->logs[lane].lane;
	p->whole[slot].str = damage;
	c->tag = (uint32_t)lane << 1 | 1;
	c->stack = slot;
	return rec_done(p);
}

static void *produce(void *arg)
{
	struct vms_replay_pipe *p = arg;
	struct vms_replay_merge *m = p->m;
	struct progress prog;
	uint64_t emitted = 0;
	char *damage;

	progress_init(&prog, p->rp);
	for (size_t i = 0; i < m->n; i++) {
		if (decode_head(m, i, &damage))
			m->heap[m->heap_len++] = i;
		else if (!lane_ended(p, i, damage))
			goto out;
	}
	heapify(m);
	while (m->heap_len) {
		size_t lane = m->heap[0];
		bool more;

		if (!emit(p, lane))
			goto out;
		emitted++;
		if (prog.on && !(emitted & 0xffff))
			progress_tick(&prog, p->rp, emitted);
		more = decode_head(m, lane, &damage);
		if (!more && !lane_ended(p, lane, damage))
			goto out;
		after_step(m, more);
	}
out:
	progress_done(&prog);
	store(&p->tail, p->ptail);
	store(&p->finished, 1);
	wake(&p->cons, 0, true);
	return NULL;
}

/* ---- running it ---------------------------------------------------------- */

/* CPUs this process may run on that nothing else is running on right now:
 * the allowed CPUs less the runnable tasks (ourselves included) that
 * /proc/loadavg counts at this instant. */
static long idle_cpus(void)
{
	cpu_set_t set;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), running, total;
	FILE *f;

	if (!sched_getaffinity(0, sizeof(set), &set))
		cpus = CPU_COUNT(&set);
	f = fopen("/proc/loadavg", "r");
	if (!f)
		return cpus - 1;
	if (fscanf(f, "%*s %*s %*s %ld/%ld", &running, &total) != 2)
		running = 1;
	fclose(f);
	return cpus - running;
}

bool vms_replay_threads_allowed(void)
{
	const char *env = getenv("VMSPY_ANALYZER_THREADS");

	if (env && !strcmp(env, "1"))
		return false;
	if (env && !strcmp(env, "2"))
		return true;
	/* Two threads on one free CPU are slower than one. */
	return idle_cpus() >= 1;
}

/* Whether to decode on a helper thread: only when asked for with
 * VMSPY_ANALYZER_THREADS=2.  Measured on a 2-CPU VM with the present
 * decoder, the two-thread pipeline was slower than one thread on every
 * benchmark recording, even with the machine otherwise idle: the decoding
 * thread alone takes about as long as the whole one-thread replay, and
 * what the threads hand each other costs more than the callback work moved
 * off it.  It stays for when decoding gets cheaper. */
static bool want_helper(const struct vms_replay *rp)
{
	const char *env = getenv("VMSPY_ANALYZER_THREADS");

	return rp->rec->nr_logs && env && !strcmp(env, "2");
}

static void pipe_release(struct vms_replay_pipe *p)
{
	/* Markers the callback did not reach (it said stop) own their
	 * messages. */
	for (uint32_t i = p->chead; i != p->ptail; i++) {
		const struct crec *c = &p->ring[i % RING];
		if ((c->tag & 1) && p->whole[c->stack].type == VMS_REC_NONE)
			free((char *)p->whole[c->stack].str);
	}
	free(p->ring);
	free(p->whole);
	free(p->sent);
	free(p->cur);
	free(p);
}

/* Two threads; false when the helper cannot be started. */
static bool run_threaded(struct vms_replay *rp, vms_replay_fn fn, void *ctx,
			 int *result)
{
	size_t n = rp->rec->nr_logs;
	struct vms_replay_pipe *p;
	sigset_t all, old;
	pthread_t tid;
	int err;

	if (n > UINT32_MAX / 4 || posix_memalign((void **)&p, 64, sizeof(*p)))
		return false;
	memset(p, 0, sizeof(*p));
	p->rp = rp;
	p->m = rp->merge;
	p->fn = fn;
	p->ctx = ctx;
	p->hint = rp->hint;
	p->hint_ctx = rp->hint_ctx;
	if (posix_memalign((void **)&p->ring, 4096, RING * sizeof(*p->ring)))
		vms_die("out of memory");
	memset(p->ring, 0, RING * sizeof(*p->ring));
	p->whole = lines_calloc(RING + 1, sizeof(*p->whole));
	p->sent = lines_calloc(n, sizeof(*p->sent));
	p->cur = lines_calloc(n, sizeof(*p->cur));

	/* Signals stay with the caller's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, NULL, produce, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pipe_release(p);
		return false;
	}
	consume(p);
	pthread_join(tid, NULL);
	rp->events = p->events;
	*result = p->result;
	pipe_release(p);
	return true;
}

/* ---- heap events in short form (vms_replay_run_heap) ----------------------
 *
 * Each lane's head is the next of its heap events decoded ahead, or, when
 * it has none, a whole event in its pool slot.  A lane's next batch is
 * decoded right after its last head was delivered: the same point of the
 * merge at which decode_head would have decoded that lane's next event, so
 * the stack table learns the same stacks in the same order, and a lane's
 * end (its damage) is found at the same point too.
 */

/* Refill lane i after its head was delivered (or at the start).  false
 * when the lane is finished; *damage is then lane_damage(). */
static bool refill(struct vms_replay_merge *m, size_t i, char **damage)
{
	struct ahead *a = &m->ahead[i];
	struct vms_heap_event *b = &m->batch[i * AHEAD];
	uint32_t n;

	n = (uint32_t)vms_logreader_heap_batch(&m->readers[i], b, AHEAD);
	a->next = 0;
	a->n = n;
	if (n) {
		m->head_seq[i] = b[0].seq;
		return true;
	}
	return decode_head(m, i, damage);
}

/* How many of lane's decoded-ahead events, from its head on, come before
 * every other lane's head: the run one heap_fn call gets. */
static inline uint32_t run_length(const struct vms_replay_merge *m,
				  size_t lane)
{
	const struct ahead *a = &m->ahead[lane];
	const struct vms_heap_event *b = &m->batch[lane * AHEAD];
	const size_t *h = m->heap;
	uint32_t k = a->next + 1;
	uint64_t os;
	size_t o;

	if (m->heap_len < 2)
		return a->n - a->next;
	o = h[1];
	if (m->heap_len > 2 && before(m, h[2], o))
		o = h[2];
	os = m->head_seq[o];
	/* (seq, lane) order: on a tie the lower lane goes first */
	while (k < a->n && (b[k].seq < os || (b[k].seq == os && lane < o)))
		k++;
	return k - a->next;
}

static int run_heap_inline(struct vms_replay *rp, vms_replay_fn fn,
			   vms_replay_heap_fn heap_fn, void *ctx)
{
	struct vms_replay_merge *m = rp->merge;
	struct progress prog;
	uint64_t tick = 0x10000;
	char *damage = NULL;
	int r = 0;

	progress_init(&prog, rp);
	for (size_t i = 0; i < m->n; i++) {
		if (refill(m, i, &damage))
			m->heap[m->heap_len++] = i;
		else if (damage)
			add_damage(rp, m->logs[i].lane, damage);
	}
	heapify(m);
	while (m->heap_len) {
		size_t lane = m->heap[0];
		struct ahead *a = &m->ahead[lane];
		bool more;

		if (a->n) {
			uint32_t k = run_length(m, lane);

			rp->events += k;
			r = heap_fn(&m->batch[lane * AHEAD + a->next], k,
				    m->logs[lane].lane, ctx);
			if (r)
				goto out;
			a->next += k;
			if (a->next < a->n) {
				m->head_seq[lane] =
					m->batch[lane * AHEAD + a->next].seq;
				more = true;
			} else {
				more = refill(m, lane, &damage);
			}
		} else {
			rp->events++;
			r = fn(&m->pool[lane], ctx);
			if (r)
				goto out;
			more = refill(m, lane, &damage);
		}
		if (__builtin_expect(rp->events >= tick, 0)) {
			tick = (rp->events | 0xffff) + 1;
			if (prog.on)
				progress_tick(&prog, rp, rp->events);
		}
		if (!more && damage)
			add_damage(rp, m->logs[lane].lane, damage);
		after_step(m, more);
	}
out:
	progress_done(&prog);
	return r;
}

/* With a helper thread: the whole events of the pipe, the heap ones
 * turned into the short form one by one. */
struct heap_split {
	vms_replay_fn fn;
	vms_replay_heap_fn heap_fn;
	void *ctx;
};

static int split_event(const struct vms_event *ev, void *ctx)
{
	const struct heap_split *hs = ctx;
	struct vms_heap_event h;

	if (!is_heap_record(ev->type))
		return hs->fn(ev, hs->ctx);
	h = (struct vms_heap_event){
		.seq = ev->seq,
		.addr = ev->addr,
		.size = ev->size,
		.align = ev->align,
		.old_addr = ev->old_addr,
		.time_ns = ev->time_ns,
		.offset = ev->offset,
		.gstack = ev->gstack,
		.stack = ev->stack,
		.type = (uint8_t)ev->type,
		.api = (uint8_t)ev->api,
	};
	return hs->heap_fn(&h, 1, ev->lane, hs->ctx);
}

int vms_replay_run_heap(struct vms_replay *rp, vms_replay_fn fn,
			vms_replay_heap_fn heap_fn, void *ctx)
{
	struct heap_split hs = { fn, heap_fn, ctx };
	int r;

	if (rp->ran++)
		return 0;
	if (want_helper(rp) && run_threaded(rp, split_event, &hs, &r))
		return r;
	return run_heap_inline(rp, fn, heap_fn, ctx);
}

int vms_replay_run(struct vms_replay *rp, vms_replay_fn fn, void *ctx)
{
	int r;

	if (rp->ran++)
		return 0;
	if (want_helper(rp) && run_threaded(rp, fn, ctx, &r))
		return r;
	return run_inline(rp, fn, ctx);
}

vms_stack_id vms_replay_lane_stack(const struct vms_replay *rp, uint64_t lane,
				   uint64_t id)
{
	for (size_t i = 0; i < rp->rec->nr_logs; i++)
		if (rp->rec->logs[i].lane == lane)
			return vms_logreader_stack(&rp->readers[i], id);
	return 0;
}
