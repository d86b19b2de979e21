/* SPDX-License-Identifier: MIT */
/*
 * The exit-time reachability scan (contract in leakscan.h).
 *
 * Steps: replay the ALLOC/FREE records of every log lane, merged by
 * sequence number, into an open-addressing hash (the live set); sort the
 * blocks (radix) and index them by 4 KiB page; mark from the roots with an
 * explicit worklist, then run memcheck's clique pass over what stayed
 * unreached; write the leaks file.
 *
 * Memory comes only from raw anonymous mmaps, and every one of them is
 * registered: roots never include our own tables, which hold every block's
 * address.  When this is the program's only thread left (the usual exit),
 * nothing can be unmapped under us: memory is read with plain loads, and
 * only from blocks and roots inside readable mappings of /proc/self/maps.
 * Otherwise memory that another thread may unmap while we read it (a block
 * freed meanwhile, the stack of an exiting thread, a dlclosed module) is
 * read with process_vm_readv on ourselves, which fails with EFAULT instead
 * of faulting; where that syscall is refused (seccomp), mincore first says
 * whether the pages are still mapped.  No malloc, no stdio, no locks.
 */
#include "leakscan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vmspy/format.h>

#include "compress.h"
#include "config.h"
#include "log.h"
#include "real.h"
#include "recorder.h"
#include "snapshot.h"

#define PAGE 4096u
#define PAGE_SHIFT 12
#define BUF_SIZE (1u << 20)
#define MAX_IOV 1024 /* UIO_MAXIOV */
#define MAX_OWN 32
#define MAX_ROOTS 65536
#define PENDING 1u
#define NOREAD 2u /* not in readable memory at scan start: never read */
#define UNREACHED VMS_LEAK_NONE
#define HASH_MUL 0x9E3779B97F4A7C15ull

/* ---- our own memory ------------------------------------------------------ */

/* Every live mapping of the scan, so that no root range covers one.  The
 * kernel merges adjacent anonymous mappings: a table of ours may sit in the
 * same VMA as the main thread's TLS. */
static struct {
	uintptr_t lo, hi;
} own[MAX_OWN];

static void *mem_get(size_t len)
{
	len = len ? (len + PAGE - 1) & ~(size_t)(PAGE - 1) : PAGE;
	void *p = vms_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Big tables are accessed at random: fewer TLB misses. */
	if (len >= (4u << 20))
		(void)vms_sys_madvise(p, len, MADV_HUGEPAGE);
	for (unsigned i = 0; i < MAX_OWN; i++) {
		if (!own[i].hi) {
			own[i].lo = (uintptr_t)p;
			own[i].hi = (uintptr_t)p + len;
			return p;
		}
	}
	vms_sys_munmap(p, len);
	errno = ENOMEM;
	return NULL;
}

static void mem_put(void *p)
{
	for (unsigned i = 0; p && i < MAX_OWN; i++) {
		if (own[i].lo == (uintptr_t)p && own[i].hi) {
			vms_sys_munmap(p, own[i].hi - own[i].lo);
			own[i].lo = own[i].hi = 0;
			return;
		}
	}
}

/* ---- reading memory that may go away ------------------------------------ */

/* READ_DIRECT: plain loads, when no other thread can unmap anything
 * (vms_leak_scan found itself alone); READ_SYSCALL: process_vm_readv;
 * READ_PROBE: mincore, then plain loads (process_vm_readv refused). */
enum { READ_DIRECT = 1, READ_SYSCALL, READ_PROBE };
static int read_mode;
static int read_alone; /* set by scan_all around vms_leak_classify */
static pid_t read_pid;

static void reader_init(void)
{
	read_pid = vms_sys_getpid();
	if (read_alone) {
		read_mode = READ_DIRECT;
		return;
	}
	uint64_t x = 0x5ca1ab1e, y = 0;
	struct iovec l = { &y, sizeof(y) }, r = { &x, sizeof(x) };
	int saved = errno;
	long n = syscall(SYS_process_vm_readv, read_pid, &l, 1, &r, 1, 0);
	errno = saved;
	read_mode = n == (long)sizeof(y) && y == x ? READ_SYSCALL : READ_PROBE;
}

/* Copies a prefix of [src, src + len) to dst; returns its length (0 when
 * the first byte cannot be read). */
static size_t read_some(void *dst, uintptr_t src, size_t len)
{
	if (read_mode == READ_SYSCALL) {
		struct iovec l = { dst, len }, r = { (void *)src, len };
		long n = syscall(SYS_process_vm_readv, read_pid, &l, 1, &r, 1,
				 0);
		return n > 0 ? (size_t)n : 0;
	}
	if (read_mode == READ_DIRECT) {
		memcpy(dst, (const void *)src, len);
		return len;
	}
	/* Without process_vm_readv: read only pages that are still mapped
	 * (mincore fails with ENOMEM on a hole).  A page unmapped between
	 * the probe and the copy would still fault: the window is tiny. */
	uintptr_t pg = src & ~(uintptr_t)(PAGE - 1);
	size_t pages = (src + len - pg + PAGE - 1) / PAGE;
	unsigned char vec[256];
	if (pages > sizeof(vec)) {
		pages = sizeof(vec);
		len = pg + pages * PAGE - src;
	}
	if (syscall(SYS_mincore, pg, pages * PAGE, vec)) {
		if (pages == 1 || syscall(SYS_mincore, pg, PAGE, vec))
			return 0;
		len = pg + PAGE - src;
	}
	memcpy(dst, (const void *)src, len);
	return len;
}

/* Copies [src, src + len) to dst; what cannot be read reads as zero. */
static void read_mem(void *dst, uintptr_t src, size_t len)
{
	uint8_t *d = dst;
	int saved = errno;
	while (len) {
		size_t n = read_some(d, src, len);
		if (!n) {
			n = PAGE - (src & (PAGE - 1));
			if (n > len)
				n = len;
			memset(d, 0, n);
		}
		d += n;
		src += n;
		len -= n;
	}
	errno = saved;
}

/* ---- sorting -------------------------------------------------------------- */

static int sort_blocks(struct vms_leak_block *b, size_t n)
{
	size_t i;
	for (i = 1; i < n && b[i - 1].addr <= b[i].addr; i++)
		;
	if (i >= n)
		return 0;
	if (n < 64) {
		for (i = 1; i < n; i++) {
			struct vms_leak_block t = b[i];
			size_t j = i;
			for (; j && b[j - 1].addr > t.addr; j--)
				b[j] = b[j - 1];
			b[j] = t;
		}
		return 0;
	}
	/* LSD radix sort, 16-bit digits: O(n) per pass, 3 passes for user
	 * space addresses. */
	uint64_t all = 0;
	for (i = 0; i < n; i++)
		all |= b[i].addr;
	unsigned passes = 0;
	while (passes < 4 && (all >> (16 * passes)))
		passes++;
	struct vms_leak_block *tmp = mem_get(n * sizeof(*b));
	size_t *cnt = mem_get(65536 * sizeof(size_t));
	if (!tmp || !cnt) {
		mem_put(tmp);
		mem_put(cnt);
		return -1;
	}
	struct vms_leak_block *src = b, *dst = tmp;
	for (unsigned p = 0; p < passes; p++) {
		unsigned shift = 16 * p;
		memset(cnt, 0, 65536 * sizeof(size_t));
		for (i = 0; i < n; i++)
			cnt[(src[i].addr >> shift) & 0xffff]++;
		size_t sum = 0;
		for (i = 0; i < 65536; i++) {
			size_t c = cnt[i];
			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[cnt[(src[i].addr >> shift) & 0xffff]++] = src[i];
		struct vms_leak_block *t = src;
		src = dst;
		dst = t;
	}
	if (src != b)
		memcpy(b, src, n * sizeof(*b));
	mem_put(tmp);
	mem_put(cnt);
	return 0;
}

/* ---- marking -------------------------------------------------------------- */

/* Page index: for every 4 KiB page that a block touches, the first block
 * (in address order) touching it and how many do. */
struct pent {
	uint64_t key; /* page number + 1; 0 = empty slot */
	uint32_t first, count;
};

/* Blocks read together with one process_vm_readv. */
struct batch {
	uint8_t *buf;       /* BUF_SIZE bytes of copied memory */
	struct iovec *loc;  /* MAX_IOV pieces of buf */
	struct iovec *rem;  /* MAX_IOV blocks' aligned words */
	uint32_t *idx;      /* MAX_IOV block indices */
	size_t k, used;
};

struct ctx {
	struct vms_leak_block *b;
	size_t n;
	uint64_t lo, span; /* every block lies in [lo, lo + span) */
	struct pent *pages;
	size_t pmask;
	unsigned pshift;
	uint32_t *work; /* worklist: indices of PENDING blocks */
	size_t nwork;
	int clique;     /* 0: marking from roots; 1: the clique pass */
	size_t leader;
	struct batch wbatch; /* for the worklist, and roots (buf only) */
	struct batch lbatch; /* clique leaders, read ahead */
};

static inline size_t hash_slot(uint64_t key, unsigned shift)
{
	return (size_t)((key * HASH_MUL) >> shift);
}

/* The extent a block takes for lookups: a zero-size block still owns its
 * address. */
static inline uint64_t block_end(const struct vms_leak_block *b)
{
	return b->addr + (b->size ? b->size : 1);
}

static int index_build(struct ctx *c)
{
	size_t total = 0;
	uint64_t hi = 0;
	for (size_t i = 0; i < c->n; i++) {
		uint64_t end = block_end(&c->b[i]);
		total += ((end - 1) >> PAGE_SHIFT) -
			 (c->b[i].addr >> PAGE_SHIFT) + 1;
		if (end > hi)
			hi = end;
	}
	unsigned bits = 4;
	while (((size_t)1 << bits) < 2 * total)
		bits++;
	if (bits > 40) {
		errno = ENOMEM;
		return -1;
	}
	c->pages = mem_get(sizeof(struct pent) << bits);
	if (!c->pages)
		return -1;
	c->pmask = ((size_t)1 << bits) - 1;
	c->pshift = 64 - bits;
	c->lo = c->b[0].addr;
	c->span = hi - c->lo;
	for (size_t i = 0; i < c->n; i++) {
		uint64_t first = c->b[i].addr >> PAGE_SHIFT;
		uint64_t last = (block_end(&c->b[i]) - 1) >> PAGE_SHIFT;
		for (uint64_t pg = first; pg <= last; pg++) {
			uint64_t key = pg + 1;
			size_t s = hash_slot(key, c->pshift);
			while (c->pages[s].key && c->pages[s].key != key)
				s = (s + 1) & c->pmask;
			if (c->pages[s].key) {
				c->pages[s].count++;
			} else {
				c->pages[s].key = key;
				c->pages[s].first = (uint32_t)i;
				c->pages[s].count = 1;
			}
		}
	}
	return 0;
}

/* The block that w points into, or -1; *start: w is its first byte. */
static inline long find(const struct ctx *c, uint64_t w, int *start)
{
	if (w - c->lo >= c->span)
		return -1;
	uint64_t key = (w >> PAGE_SHIFT) + 1;
	size_t s = hash_slot(key, c->pshift);
	for (;; s = (s + 1) & c->pmask) {
		const struct pent *e = &c->pages[s];
		if (!e->key)
			return -1;
		if (e->key != key)
			continue;
		size_t lo = e->first, hi = lo + e->count;
		if (c->b[lo].addr > w)
			return -1;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (c->b[mid].addr <= w)
				lo = mid;
			else
				hi = mid;
		}
		const struct vms_leak_block *b = &c->b[lo];
		*start = w == b->addr;
		return *start || w - b->addr < b->size ? (long)lo : -1;
	}
}

static inline void push(struct ctx *c, size_t i)
{
	if (c->b[i].flags & PENDING)
		return;
	c->b[i].flags |= PENDING;
	c->work[c->nwork++] = (uint32_t)i;
}

/* prior_def: the words come from a root or a REACHABLE block, so a start
 * pointer makes its target REACHABLE too (memcheck's is_prior_definite). */
static void scan_words(struct ctx *c, const uint64_t *w, size_t nw,
		       int prior_def, int start_only)
{
	for (size_t k = 0; k < nw; k++) {
		int start;
		long i = find(c, w[k], &start);
		if (i < 0 || (!start && start_only))
			continue;
		struct vms_leak_block *b = &c->b[i];
		if (c->clique) {
			/* Any pointer from the clique makes an unreached block
			 * part of it, a former clique leader included. */
			if (b->cat == UNREACHED && (size_t)i != c->leader) {
				b->cat = VMS_LEAK_INDIRECT;
				push(c, (size_t)i);
			}
			continue;
		}
		uint32_t cat = start && prior_def ? VMS_LEAK_REACHABLE
						  : VMS_LEAK_POSSIBLE;
		if (cat > b->cat) {
			b->cat = cat;
			push(c, (size_t)i);
		}
	}
}

/* Scans the aligned words of [lo, hi). */
static void scan_mem(struct ctx *c, uint64_t lo, uint64_t hi, int prior_def,
		     int start_only)
{
	lo = (lo + 7) & ~7ull;
	hi &= ~7ull;
	while (lo < hi) {
		size_t len = hi - lo > BUF_SIZE ? BUF_SIZE : (size_t)(hi - lo);
		read_mem(c->wbatch.buf, lo, len);
		scan_words(c, (const uint64_t *)(void *)c->wbatch.buf, len / 8,
			   prior_def, start_only);
		lo += len;
	}
}

/* The aligned words of block b: [*lo, *lo + return value). */
static size_t block_words(const struct vms_leak_block *b, uint64_t *lo)
{
	uint64_t hi = (b->addr + b->size) & ~7ull;
	*lo = (b->addr + 7) & ~7ull;
	return hi > *lo && !(b->flags & NOREAD) ? (size_t)(hi - *lo) : 0;
}

/* Adds block i to the batch if it fits: 1 when added (or empty), 0 when
 * the batch is full. */
static int batch_add(const struct ctx *c, struct batch *bt, uint32_t i)
{
	uint64_t lo;
	size_t len = block_words(&c->b[i], &lo);
	if (bt->k == MAX_IOV || bt->used + len > BUF_SIZE)
		return 0;
	bt->loc[bt->k].iov_base = bt->buf + bt->used;
	bt->loc[bt->k].iov_len = len;
	bt->rem[bt->k].iov_base = (void *)(uintptr_t)lo;
	bt->rem[bt->k].iov_len = len;
	bt->idx[bt->k++] = i;
	bt->used += len;
	return 1;
}

/* Reads the batch's blocks, with one system call when possible. */
static void batch_read(struct batch *bt)
{
	if (read_mode == READ_SYSCALL) {
		int saved = errno;
		long n = syscall(SYS_process_vm_readv, read_pid, bt->loc,
				 bt->k, bt->rem, bt->k, 0);
		errno = saved;
		if (n == (long)bt->used)
			return;
	}
	if (read_mode == READ_DIRECT) {
		for (size_t j = 0; j < bt->k; j++)
			memcpy(bt->loc[j].iov_base, bt->rem[j].iov_base,
			       bt->loc[j].iov_len);
		return;
	}
	/* Something was unmapped meanwhile: one block at a time. */
	for (size_t j = 0; j < bt->k; j++)
		read_mem(bt->loc[j].iov_base, (uintptr_t)bt->rem[j].iov_base,
			 bt->loc[j].iov_len);
}

/* Scans pending blocks until the worklist is empty, many small blocks per
 * read. */
static void drain(struct ctx *c)
{
	struct batch *bt = &c->wbatch;
	while (c->nwork) {
		bt->k = bt->used = 0;
		while (c->nwork) {
			uint32_t i = c->work[c->nwork - 1];
			struct vms_leak_block *b = &c->b[i];
			uint64_t lo;
			size_t len = block_words(b, &lo);
			if (len > BUF_SIZE) {
				if (bt->k)
					break;
				c->nwork--;
				b->flags &= ~PENDING;
				scan_mem(c, lo, lo + len,
					 b->cat == VMS_LEAK_REACHABLE, 0);
				break;
			}
			if (!batch_add(c, bt, i))
				break;
			c->nwork--;
			b->flags &= ~PENDING;
		}
		if (!bt->k)
			continue;
		batch_read(bt);
		/* A block's category is read when its words are scanned: if
		 * an earlier one of the batch upgraded it, it is pending
		 * again and will be scanned again. */
		for (size_t j = 0; j < bt->k; j++)
			scan_words(c, bt->loc[j].iov_base,
				   bt->loc[j].iov_len / 8,
				   c->b[bt->idx[j]].cat == VMS_LEAK_REACHABLE,
				   0);
	}
}

/* memcheck's clique pass: every unreached block not yet found from
 * another one leads a clique; what it reaches is INDIRECT, and it stays
 * DEFINITE unless a later clique reaches it.  Leaders are read ahead in
 * batches (their contents do not depend on the order). */
static void cliques(struct ctx *c)
{
	struct batch *bt = &c->lbatch;
	c->clique = 1;
	for (size_t i = 0; i < c->n;) {
		bt->k = bt->used = 0;
		for (; i < c->n; i++) {
			if (c->b[i].cat != UNREACHED)
				continue;
			uint64_t lo;
			if (block_words(&c->b[i], &lo) > BUF_SIZE) {
				if (bt->k)
					break;
				c->leader = i;
				push(c, i);
				drain(c);
				continue;
			}
			if (!batch_add(c, bt, (uint32_t)i))
				break;
		}
		if (!bt->k)
			continue;
		batch_read(bt);
		for (size_t j = 0; j < bt->k; j++) {
			/* Reached by an earlier clique of this batch. */
			if (c->b[bt->idx[j]].cat != UNREACHED)
				continue;
			c->leader = bt->idx[j];
			scan_words(c, bt->loc[j].iov_base,
				   bt->loc[j].iov_len / 8, 0, 0);
			drain(c);
		}
	}
}

static int batch_init(struct batch *bt)
{
	bt->buf = mem_get(BUF_SIZE);
	bt->loc = mem_get(2 * MAX_IOV * sizeof(struct iovec) +
			  MAX_IOV * sizeof(uint32_t));
	if (!bt->buf || !bt->loc)
		return -1;
	bt->rem = bt->loc + MAX_IOV;
	bt->idx = (uint32_t *)(void *)(bt->rem + MAX_IOV);
	return 0;
}

static void batch_release(struct batch *bt)
{
	mem_put(bt->buf);
	mem_put(bt->loc);
}

static void ctx_release(struct ctx *c)
{
	mem_put(c->pages);
	mem_put(c->work);
	batch_release(&c->wbatch);
	batch_release(&c->lbatch);
}

int vms_leak_classify(struct vms_leak_block *blocks, size_t n,
		      const struct vms_leak_root *roots, size_t nroots)
{
	if (n > UINT32_MAX) {
		errno = ENOMEM;
		return -1;
	}
	reader_init();
	for (size_t i = 0; i < n; i++) {
		blocks[i].cat = UNREACHED;
		blocks[i].flags &= NOREAD;
	}
	if (!n)
		return 0;
	if (sort_blocks(blocks, n))
		return -1;
	/* Overlaps mean a release the logs missed: never let one block's
	 * scan run into the next. */
	for (size_t i = 0; i + 1 < n; i++)
		if (blocks[i].size > blocks[i + 1].addr - blocks[i].addr)
			blocks[i].size = blocks[i + 1].addr - blocks[i].addr;
	if (blocks[n - 1].size > UINT64_MAX - blocks[n - 1].addr)
		blocks[n - 1].size = UINT64_MAX - blocks[n - 1].addr;

	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.b = blocks;
	c.n = n;
	c.work = mem_get(n * sizeof(uint32_t));
	if (!c.work || batch_init(&c.wbatch) || batch_init(&c.lbatch) ||
	    index_build(&c)) {
		int e = errno;
		ctx_release(&c);
		errno = e;
		return -1;
	}

	for (size_t r = 0; r < nroots; r++) {
		if (roots[r].hi > roots[r].lo)
			scan_mem(&c, roots[r].lo, roots[r].hi, 1,
				 !!(roots[r].flags & VMS_LEAK_ROOT_START_ONLY));
		drain(&c);
	}
	cliques(&c);
	for (size_t i = 0; i < n; i++) {
		if (blocks[i].cat == UNREACHED)
			blocks[i].cat = VMS_LEAK_DEFINITE;
		blocks[i].flags = 0;
	}
	ctx_release(&c);
	return 0;
}

/* ---- the live set: replay of the lanes ------------------------------------ */

#define BATCH 64u

struct cursor {
	const uint8_t *p, *end;
	uint8_t *map;
	size_t map_len;
	uint64_t seq, addr; /* the lane's delta state (format.h) */
	/* The next events, decoded a batch at a time. */
	struct lev {
		uint64_t seq, addr, size;
		uint64_t free;
	} ev[BATCH];
	unsigned head, count;
	int done; /* the lane has no more events */
	size_t trimmed; /* pages before this offset were given back */
	/* Chunks compressed into the lane's sidecar (compress.h) are read
	 * from their frames: decompressed, one at a time as the cursor
	 * enters them, into anonymous memory mapped over the chunk. */
	struct vms_zsrc z;
	size_t chunk_size;
	const uint8_t *chunk_end; /* end of the chunk c->p is in */
};

/* c->p entered a new chunk: if it has a frame, put the frame's bytes in
 * place of the raw chunk (a hole).  A frame that cannot be read leaves the
 * raw bytes, which then end the lane if they are gone. */
static void cursor_chunk(struct cursor *c)
{
	size_t k = (size_t)(c->p - c->map) / c->chunk_size;
	uint8_t *at = c->map + k * c->chunk_size;
	c->chunk_end = at + c->chunk_size;
	if (!vms_zsrc_has(&c->z, k) || at + c->chunk_size > c->end)
		return;
	/* Decompressed aside, then moved over the chunk: a frame that does
	 * not decompress leaves the raw bytes in place. */
	uint8_t *m = vms_sys_mmap(NULL, c->chunk_size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return;
	if (vms_zsrc_fetch(&c->z, k, m) ||
	    vms_sys_mremap(m, c->chunk_size, c->chunk_size,
			   MREMAP_MAYMOVE | MREMAP_FIXED, at) == MAP_FAILED)
		vms_sys_munmap(m, c->chunk_size);
}

/* Gives back the pages already read, in 1 MiB steps: the log is read once,
 * and mapping it whole would add the whole recording to the program's Rss
 * at exit.  (A read-only file mapping re-reads a dropped page if needed.) */
static void cursor_trim(struct cursor *c)
{
	size_t off = (size_t)(c->p - c->map) & ~(size_t)((1u << 20) - 1);
	if (off > c->trimmed) {
		vms_sys_madvise(c->map + c->trimmed, off - c->trimmed,
				MADV_DONTNEED);
		c->trimmed = off;
	}
}

/* The replay's table: for every address, its latest event so far, by seq
 * (an allocation, or a release: a tombstone).  Lanes are replayed one
 * after another through a window of seqs, not merged event by event:
 * whatever the order, an address ends with the event of highest seq,
 * which is the truth (its events are ordered by seq, format.h).  Once
 * every lane is past a window, its tombstones can block nothing more and
 * go. */
#define TOMB (1ull << 63) /* in size: the latest event is a release */

struct live {
	struct {
		uint64_t addr, size, seq; /* addr 0 = empty slot */
	} *e;
	size_t count, mask;
	unsigned shift;
	uint64_t *tombs; /* addresses made tombstones in this window */
	size_t ntombs;
};

#define VMA_R 1u
#define VMA_HEAP 2u
#define VMA_STACK 4u
#define VMA_PRIVATE_W 8u /* writable and private: the program's own data */
#define MAX_MODULES 1024

struct scan {
	pid_t pid, tid;
	uint64_t main_tp; /* the main thread's pthread_self, from its lane */
	struct live live;
	struct vms_leak_block *blocks;
	size_t n;
	struct {
		uint64_t lo, hi;
		unsigned flags;
	} *vma;
	size_t nvma;
	struct vms_leak_root *roots;
	size_t nroots;
	uintptr_t self_text, alloc_text;
	uint64_t self_lo, self_hi; /* vmspy's own module, .bss included */
	struct {
		uint64_t lo, hi;
	} mods[MAX_MODULES]; /* every module's span: scanned by segment */
	size_t nmods;
};


static int live_init(struct live *t, unsigned bits)
{
	t->e = mem_get(sizeof(*t->e) << bits);
	if (!t->e)
		return -1;
	t->mask = ((size_t)1 << bits) - 1;
	t->shift = 64 - bits;
	t->count = 0;
	return 0;
}

static int live_grow(struct live *t)
{
	struct live old = *t;
	if (live_init(t, 64 - old.shift + 1)) {
		*t = old;
		return -1;
	}
	for (size_t i = 0; i <= old.mask; i++) {
		if (!old.e[i].addr)
			continue;
		size_t s = hash_slot(old.e[i].addr, t->shift);
		while (t->e[s].addr)
			s = (s + 1) & t->mask;
		t->e[s] = old.e[i];
		t->count++;
	}
	mem_put(old.e);
	return 0;
}

#define LIVE_DENSE ((size_t)1 << 20) /* slots */
#define MAX_TOMBS ((size_t)1 << 20)
#define WINDOW 32768 /* seqs a window spans */

/* The slot of addr, or of the empty slot where it would go. */
static inline size_t live_find(const struct live *t, uint64_t addr)
{
	size_t i = hash_slot(addr, t->shift);
	while (t->e[i].addr && t->e[i].addr != addr)
		i = (i + 1) & t->mask;
	return i;
}

static void live_del_at(struct live *t, size_t i)
{
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (size_t j = (i + 1) & t->mask; t->e[j].addr;
	     j = (j + 1) & t->mask) {
		size_t home = hash_slot(t->e[j].addr, t->shift);
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->e[i] = t->e[j];
			i = j;
		}
	}
	t->e[i].addr = 0;
	t->count--;
}

/* Applies one event.  With one lane left (!window), a release removes the
 * address at once: no other lane can bring an older event for it. */
static int live_apply(struct live *t, const struct lev *ev, int window)
{
	size_t i = live_find(t, ev->addr);
	if (t->e[i].addr) {
		if (t->e[i].seq > ev->seq)
			return 0; /* a later event is already in */
		if (ev->free && !window) {
			live_del_at(t, i);
			return 0;
		}
	} else {
		if (ev->free && !window)
			return 0; /* not ours: the bootstrap pool, or lost */
		/* At most a quarter full while the table is small (short
		 * probe chains: the replay's cost is in them), half full
		 * beyond that. */
		size_t cap = (t->mask + 1) >> (t->mask < LIVE_DENSE ? 2 : 1);
		if (t->count + 1 > cap) {
			if (live_grow(t))
				return -1;
			i = live_find(t, ev->addr);
		}
		t->e[i].addr = ev->addr;
		t->count++;
	}
	t->e[i].seq = ev->seq;
	t->e[i].size = ev->free ? TOMB : ev->size;
	if (ev->free && t->ntombs < MAX_TOMBS)
		t->tombs[t->ntombs++] = ev->addr;
	return 0;
}

/* The end of a window: every lane is past seq w. */
static void live_purge(struct live *t, uint64_t w)
{
	for (size_t k = 0; k < t->ntombs; k++) {
		size_t i = live_find(t, t->tombs[k]);
		if (t->e[i].addr && t->e[i].size == TOMB && t->e[i].seq <= w)
			live_del_at(t, i);
	}
	t->ntombs = 0;
}

/* One varint of the record body [q, end) into v, else the lane ends. */
#define GET(v)                                                     \
	do {                                                       \
		if (vms_varint_get_in(&q, end, fend, &(v)))        \
			goto out;                                  \
	} while (0)

/* Refills c's batch (c->count == 0) with the lane's next allocations
 * (ALLOC, MALLOC) and releases (FREE, FREE_PLAIN) with seq <= limit, up to
 * BATCH of them.  The lane ends (c->done) at a zero header byte, a
 * truncated or unknown record, or the first record after limit (seqs only
 * grow within a lane).  One call decodes a whole batch with the delta
 * state in registers: the replay's cost is this loop. */
static void cursor_refill(struct scan *s, struct cursor *c, uint64_t limit)
{
	const uint8_t *p = c->p, *fend = c->end, *chunk_end = c->chunk_end;
	uint64_t seq = c->seq, addr = c->addr, daddr, unused;
	unsigned n = 0;
	cursor_trim(c);
	while (n < BATCH) {
		if (VMS_UNLIKELY(p >= chunk_end)) {
			if (p >= fend)
				goto out;
			/* A chunk that has a frame: decompressed in place. */
			c->p = p;
			cursor_chunk(c);
			chunk_end = c->chunk_end;
		}
		/* Pairs with the writer's release store of the header byte:
		 * the body of a published record is complete. */
		unsigned h = vms_atomic_load_acquire(p);
		const uint8_t *q = p + 1, *end;
		unsigned type;
		uint64_t len, d, v[7];
		struct lev *ev = &c->ev[n];
		if (h & VMS_REC_COMPACT) {
			type = vms_rec_compact_types[VMS_REC_COMPACT_CODE(h)];
			len = VMS_REC_COMPACT_LEN(h);
		} else {
			type = h;
			if (!h || vms_varint_get(&q, fend, &len))
				goto out;
		}
		if (len > (uint64_t)(fend - q))
			goto out;
		end = q + len;
		p = end;
		if (type == VMS_REC_SKIP || type == VMS_REC_STACK ||
		    type == VMS_REC_TIME || type == VMS_REC_SNAPSHOT)
			continue;
		if (type >= VMS_REC__COUNT)
			goto out;
		GET(d);
		seq += d;
		if (seq > limit)
			goto out;
		switch (type) {
		case VMS_REC_MALLOC: /* stack, addr, size */
			GET(unused);
			GET(daddr);
			GET(ev->size);
			ev->free = 0;
			break;
		case VMS_REC_FREE_PLAIN: /* addr */
			GET(daddr);
			ev->free = 1;
			break;
		case VMS_REC_ALLOC: /* api, stack, addr, size */
			GET(unused);
			GET(unused);
			GET(daddr);
			GET(ev->size);
			ev->free = 0;
			break;
		case VMS_REC_FREE: /* api, addr */
			GET(unused);
			GET(daddr);
			ev->free = 1;
			break;
		case VMS_REC_THREAD_BEGIN: {
			/* tid, stack_lo, stack_hi, guard, creator_lane,
			 * creator_stack, handle */
			int k = 0;
			for (; k < 7; k++)
				if (vms_varint_get(&q, end, &v[k]))
					break;
			if (k == 7 && v[0] == (uint64_t)s->pid)
				s->main_tp = v[6];
			continue;
		}
		default:
			continue;
		}
		addr += (uint64_t)vms_unzigzag(daddr);
		ev->seq = seq;
		ev->addr = addr;
		n++;
	}
	c->p = p;
	c->seq = seq;
	c->addr = addr;
	c->head = 0;
	c->count = n;
	return;
out:
	c->p = c->end;
	c->head = 0;
	c->count = n;
	c->done = 1;
}

#undef GET

static inline uint64_t head_seq(const struct cursor *c)
{
	return c->ev[c->head].seq;
}

static int cursor_open(struct cursor *c, const struct vms_lane *l)
{
	char path[PATH_MAX];
	vms_lane_path(l, path, sizeof(path));
	int fd = vms_sys_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* The file only grows (chunks are reserved with posix_fallocate
	 * before use), so the whole current size can be mapped. */
	long size = syscall(SYS_lseek, fd, 0L, SEEK_END);
	void *m = MAP_FAILED;
	if (size > VMS_LOG_HEADER_SIZE)
		m = vms_sys_mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd,
				 0);
	vms_sys_close(fd);
	if (m == MAP_FAILED)
		return -1;
	c->map = m;
	c->map_len = (size_t)size;
	if (memcmp(m, VMS_LOG_MAGIC, 8)) {
		vms_sys_munmap(m, (size_t)size);
		c->map = NULL;
		return -1;
	}
	c->p = c->map + VMS_LOG_HEADER_SIZE;
	c->end = c->map + size;
	c->trimmed = 0;
	c->chunk_size = l->chunk_size;
	c->chunk_end = c->map;
	if (vms_zsrc_open(&c->z, l, l->chunk_size, (size_t)size)) {
		vms_sys_munmap(m, (size_t)size);
		c->map = NULL;
		return -1;
	}
	return 0;
}

/* The blocks live at seq limit: s->blocks[0..s->n). */
static int replay(struct scan *s, uint64_t limit)
{
	uint32_t nl = vms_lane_count();
	struct cursor *cur = mem_get((nl ? nl : 1) * sizeof(*cur));
	uint32_t *h = mem_get((nl ? nl : 1) * sizeof(uint32_t));
	int rc = -1;
	s->live.tombs = mem_get(MAX_TOMBS * sizeof(uint64_t));
	if (!cur || !h || !s->live.tombs || live_init(&s->live, 12))
		goto out;
	size_t nh = 0;
	for (uint32_t i = 0; i < nl; i++) {
		const struct vms_lane *l = vms_lane_at(i);
		if (vms_atomic_load_acquire(&l->state) == VMS_LANE_UNUSED ||
		    cursor_open(&cur[i], l))
			continue;
		cursor_refill(s, &cur[i], limit);
		if (cur[i].count)
			h[nh++] = i;
	}
	while (nh) {
		/* The window: the lowest next seq of any lane + WINDOW. */
		uint64_t w = UINT64_MAX;
		for (size_t k = 0; k < nh; k++)
			if (head_seq(&cur[h[k]]) < w)
				w = head_seq(&cur[h[k]]);
		w = w > UINT64_MAX - WINDOW ? UINT64_MAX : w + WINDOW;
		int window = nh > 1;
		for (size_t k = 0; k < nh;) {
			struct cursor *c = &cur[h[k]];
			while (c->count) {
				const struct lev *ev = &c->ev[c->head];
				if (ev->seq > w)
					break;
				if (ev->addr && live_apply(&s->live, ev, window))
					goto out;
				c->head++;
				if (!--c->count && !c->done)
					cursor_refill(s, c, limit);
			}
			if (c->count)
				k++;
			else
				h[k] = h[--nh];
		}
		live_purge(&s->live, w);
	}
	s->blocks = mem_get((s->live.count ? s->live.count : 1) *
			    sizeof(*s->blocks));
	if (!s->blocks)
		goto out;
	for (size_t i = 0; i <= s->live.mask; i++)
		if (s->live.e[i].addr && s->live.e[i].size != TOMB) {
			s->blocks[s->n].addr = s->live.e[i].addr;
			s->blocks[s->n].size = s->live.e[i].size;
			s->n++;
		}
	rc = 0;
out:
	for (uint32_t i = 0; cur && i < nl; i++)
		if (cur[i].map) {
			vms_sys_munmap(cur[i].map, cur[i].map_len);
			vms_zsrc_close(&cur[i].z);
		}
	mem_put(s->live.e);
	s->live.e = NULL;
	mem_put(s->live.tombs);
	s->live.tombs = NULL;
	mem_put(cur);
	mem_put(h);
	return rc;
}

/* ---- roots ---------------------------------------------------------------- */

/* /proc/self/maps, read with raw syscalls into our own memory. */
static int maps_read(struct scan *s)
{
	size_t cap = 1u << 20;
	char *buf;
	size_t len;
	for (;;) {
		buf = mem_get(cap);
		if (!buf)
			return -1;
		int fd = vms_sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC,
				      0);
		if (fd < 0) {
			mem_put(buf);
			return -1;
		}
		ssize_t n = 1;
		for (len = 0; len < cap && n > 0; len += (size_t)n)
			n = vms_sys_read(fd, buf + len, cap - len);
		vms_sys_close(fd);
		if (n < 0) {
			mem_put(buf);
			return -1;
		}
		if (len < cap)
			break;
		mem_put(buf);
		cap *= 4;
	}
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	s->vma = mem_get((lines + 1) * sizeof(*s->vma));
	if (!s->vma) {
		mem_put(buf);
		return -1;
	}
	const char *p = buf;
	struct vms_maps_entry e;
	int r;
	while ((r = vms_maps_next(&p, buf + len, &e)) >= 0) {
		if (!r)
			continue;
		unsigned f = e.perms[0] == 'r' ? VMA_R : 0;
		if (e.perms[0] == 'r' && e.perms[1] == 'w' && e.perms[3] == 'p')
			f |= VMA_PRIVATE_W;
		if (e.path_len == 6 && !memcmp(e.path, "[heap]", 6))
			f |= VMA_HEAP;
		if (e.path_len == 7 && !memcmp(e.path, "[stack]", 7))
			f |= VMA_STACK;
		s->vma[s->nvma].lo = e.lo;
		s->vma[s->nvma].hi = e.hi;
		s->vma[s->nvma].flags = f;
		s->nvma++;
	}
	mem_put(buf);
	return 0;
}

/* The index of the first VMA that ends above a, or nvma. */
static size_t vma_from(const struct scan *s, uint64_t a)
{
	size_t lo = 0, hi = s->nvma;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->vma[mid].hi <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static long vma_at(const struct scan *s, uint64_t a)
{
	size_t i = vma_from(s, a);
	return i < s->nvma && s->vma[i].lo <= a ? (long)i : -1;
}

/* Adds [a, b) minus our own mappings. */
static void root_piece(struct scan *s, uint64_t a, uint64_t b, unsigned fl)
{
	/* Our own module's memory, wherever a root range comes from: its
	 * .bss (the lanes, whose delta state holds the last address each
	 * recorded) is anonymous memory the kernel may merge with the next
	 * mapping, e.g. the main thread's TLS block (tls_roots). */
	if (s->self_hi > a && s->self_lo < b) {
		if (s->self_lo > a)
			root_piece(s, a, s->self_lo, fl);
		if (s->self_hi >= b)
			return;
		a = s->self_hi;
	}
again:
	for (unsigned k = 0; k < MAX_OWN; k++) {
		if (!own[k].hi || own[k].hi <= a || own[k].lo >= b)
			continue;
		if (own[k].lo > a)
			root_piece(s, a, own[k].lo, fl);
		a = own[k].hi;
		if (a >= b)
			return;
		goto again;
	}
	if (s->nroots < MAX_ROOTS) {
		s->roots[s->nroots].lo = a;
		s->roots[s->nroots].hi = b;
		s->roots[s->nroots].flags = fl;
		s->nroots++;
	}
}

/* Adds the readable parts of [lo, hi) as roots. */
static void root_add(struct scan *s, uint64_t lo, uint64_t hi, unsigned fl)
{
	for (size_t i = vma_from(s, lo); i < s->nvma && s->vma[i].lo < hi;
	     i++) {
		if (!(s->vma[i].flags & VMA_R))
			continue;
		uint64_t a = lo > s->vma[i].lo ? lo : s->vma[i].lo;
		uint64_t b = hi < s->vma[i].hi ? hi : s->vma[i].hi;
		if (a < b)
			root_piece(s, a, b, fl);
	}
}

static int module_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *s = data;
	int self = 0, alloc = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		uintptr_t hi = lo + ph->p_memsz;
		self |= s->self_text >= lo && s->self_text < hi;
		alloc |= s->alloc_text && s->alloc_text >= lo &&
			 s->alloc_text < hi;
	}
	uint64_t mlo = UINT64_MAX, mhi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;
		uint64_t hi = (lo + ph->p_memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		mlo = lo < mlo ? lo : mlo;
		mhi = hi > mhi ? hi : mhi;
	}
	if (mhi > mlo && s->nmods < MAX_MODULES) {
		s->mods[s->nmods].lo = mlo & ~(uint64_t)(PAGE - 1);
		s->mods[s->nmods].hi = mhi;
		s->nmods++;
	}
	/* Our own static data must not keep the program's blocks alive. */
	if (self) {
		s->self_lo = mlo & ~(uint64_t)(PAGE - 1);
		s->self_hi = mhi;
		return 0;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;
		/* Up to the end of the page: ld.so's early allocations
		 * (link maps) live in the tail of its last data page. */
		uint64_t hi = (lo + ph->p_memsz + PAGE - 1) &
			      ~(uint64_t)(PAGE - 1);
		root_add(s, lo, hi, alloc ? VMS_LEAK_ROOT_START_ONLY : 0);
	}
	return 0;
}

/* The last block starting at or below a, or -1 (s->blocks sorted). */
static long block_below(const struct scan *s, uint64_t a)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->blocks[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/* [lo, hi) minus the live blocks in it. */
static void root_add_gaps(struct scan *s, uint64_t lo, uint64_t hi)
{
	uint64_t a = lo;
	long first = block_below(s, lo);
	for (size_t i = first < 0 ? 0 : (size_t)first; i < s->n; i++) {
		const struct vms_leak_block *k = &s->blocks[i];
		if (k->addr >= hi)
			break;
		if (k->addr + k->size <= a)
			continue;
		if (k->addr > a)
			root_add(s, a, k->addr, 0);
		a = k->addr + k->size;
	}
	if (a < hi)
		root_add(s, a, hi, 0);
}

/* The main thread's static TLS: the mapping that holds its thread
 * pointer, less any live block in it (the kernel merges a malloc'd mmap
 * chunk with ld.so's TLS block: measured), or, if the pointer is in the
 * brk heap, only the gap between live blocks around it. */
static void tls_roots(struct scan *s, uint64_t tp)
{
	long v = vma_at(s, tp);
	if (v < 0 || (s->vma[v].flags & VMA_STACK))
		return;
	uint64_t lo = s->vma[v].lo, hi = s->vma[v].hi;
	long b = block_below(s, tp);
	if (b >= 0 && tp - s->blocks[b].addr < s->blocks[b].size)
		return; /* inside a block: scanned as one */
	if (s->vma[v].flags & VMA_HEAP) {
		if (b >= 0 && s->blocks[b].addr + s->blocks[b].size > lo)
			lo = s->blocks[b].addr + s->blocks[b].size;
		if ((size_t)(b + 1) < s->n && s->blocks[b + 1].addr < hi)
			hi = s->blocks[b + 1].addr;
		if (tp - lo > 65536)
			lo = tp - 65536;
		if (hi - tp > 65536)
			hi = tp + 65536;
		root_add(s, lo, hi, 0);
		return;
	}
	root_add_gaps(s, lo, hi);
}

#define ARENA_ALIGN (64ull << 20)

/* The rest of the program's private writable memory, as memcheck scans
 * it: its own mmaps (an interpreter's object arenas hold pointers to
 * malloc'd blocks) and loader memory, less the live blocks themselves.
 * Not: modules (scanned by segment above), the brk heap and glibc's
 * 64 MiB-aligned arena heaps (their free chunks keep stale pointers),
 * thread stacks (live ones are scanned above; a cached stack of an exited
 * thread is dead memory, as memcheck sees it: a mapping right above a
 * PROT_NONE guard page), this thread's stack (below the stack pointer is
 * dead), shared mappings (vmspy's own logs), and vmspy's tables
 * (root_piece). */
static void other_roots(struct scan *s, uintptr_t sp)
{
	for (size_t i = 0; i < s->nvma; i++) {
		uint64_t lo = s->vma[i].lo, hi = s->vma[i].hi;
		unsigned f = s->vma[i].flags;
		/* A fork child's heap holds its parent's blocks, which are
		 * not in its own log: scan the heap between its own blocks
		 * (stale pointers there can only hide a leak, never invent
		 * one). */
		int forked = vms_self.forked;
		if (!(f & VMA_PRIVATE_W) || (f & VMA_STACK) ||
		    ((f & VMA_HEAP) && !forked))
			continue;
		if (sp >= lo && sp < hi)
			continue;
		if (i > 0 && s->vma[i - 1].hi == lo &&
		    !(s->vma[i - 1].flags & VMA_R) &&
		    s->vma[i - 1].hi - s->vma[i - 1].lo <= 64 * 1024)
			continue;
		int in_module = 0;
		for (size_t m = 0; m < s->nmods && !in_module; m++)
			in_module = s->mods[m].lo < hi && s->mods[m].hi > lo;
		if (in_module)
			continue;
		/* An arena heap starts on a 64 MiB boundary and holds
		 * blocks: leave it out from there. */
		uint64_t a = (lo + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
		if (a < hi && !forked) {
			long b = block_below(s, hi - 1);
			if (b >= 0 && s->blocks[b].addr >= a)
				hi = a;
		}
		if (lo < hi)
			root_add_gaps(s, lo, hi);
	}
}

static void gather_roots(struct scan *s, uintptr_t sp)
{
	s->self_text = (uintptr_t)&vms_leak_scan;
	s->alloc_text = (uintptr_t)vms_real.malloc;
	dl_iterate_phdr(module_cb, s);

	/* This thread: from the frame holding its registers up. */
	struct vms_lane *mine = vms_tls.lane;
	long v = vma_at(s, sp);
	if (mine && mine->stack_hi && sp >= mine->stack_lo &&
	    sp < mine->stack_hi)
		root_add(s, sp, mine->stack_hi, 0);
	else if (v >= 0)
		root_add(s, sp, s->vma[v].hi, 0);

	/* Other threads still alive: their whole stack (we cannot know
	 * their stack pointer), static TLS included (it sits at the top). */
	uint32_t nl = vms_lane_count();
	for (uint32_t i = 0; i < nl; i++) {
		const struct vms_lane *l = vms_lane_at(i);
		if (vms_atomic_load_acquire(&l->state) != VMS_LANE_OWNED)
			continue;
		pid_t tid = vms_atomic_load_relaxed(&l->owner_tid);
		uint64_t lo = l->stack_lo, hi = l->stack_hi;
		if (tid == s->tid || vms_thread_is_dead(s->pid, tid))
			continue;
		if (hi > lo) {
			root_add(s, lo, hi, 0);
		} else if (tid == s->pid) {
			for (size_t k = 0; k < s->nvma; k++)
				if (s->vma[k].flags & VMA_STACK)
					root_add(s, s->vma[k].lo, s->vma[k].hi,
						 0);
		}
	}

	uint64_t tp = s->tid == s->pid
			      ? (uint64_t)(uintptr_t)__builtin_thread_pointer()
			      : s->main_tp;
	if (tp)
		tls_roots(s, tp);
	other_roots(s, sp);
}

/* 1 when no thread but this one (and vmspy's sampler, which never touches
 * the program's memory) can run: then nothing can be unmapped under us. */
static int alone(const struct scan *s)
{
	uint64_t threads = 0;
	if (vms_read_number("/proc/self/status", "Threads:", &threads))
		return 0;
	if (threads == 1)
		return 1;
	if (threads != 2 || !vms_sampler_running())
		return 0;
	/* Two: is the other one a thread of the program's? */
	uint32_t nl = vms_lane_count();
	for (uint32_t i = 0; i < nl; i++) {
		const struct vms_lane *l = vms_lane_at(i);
		pid_t tid = vms_atomic_load_relaxed(&l->owner_tid);
		if (vms_atomic_load_acquire(&l->state) != VMS_LANE_UNUSED &&
		    tid != s->tid && !vms_thread_is_dead(s->pid, tid))
			return 0;
	}
	return 1;
}

/* Blocks outside readable memory (a release the logs missed, then the
 * memory unmapped) are never read. */
static void mark_unreadable(struct scan *s)
{
	size_t v = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct vms_leak_block *b = &s->blocks[i];
		uint64_t end = b->addr + b->size;
		while (v < s->nvma && s->vma[v].hi <= b->addr)
			v++;
		/* A block may span adjacent VMAs (merged or split). */
		size_t k = v;
		uint64_t a = b->addr;
		while (k < s->nvma && s->vma[k].lo <= a &&
		       (s->vma[k].flags & VMA_R) && s->vma[k].hi < end)
			a = s->vma[k++].hi;
		if (!(k < s->nvma && s->vma[k].lo <= a &&
		      (s->vma[k].flags & VMA_R)))
			b->flags |= NOREAD;
	}
}

/* ---- the leaks file --------------------------------------------------------- */

static int write_leaks(const struct vms_leak_block *b, size_t n,
		       uint64_t seq)
{
	char path[PATH_MAX + 8];
	struct vms_buf pb = { path, 0, sizeof(path) - 1, 0 };
	vms_buf_str(&pb, vms_self.dir);
	vms_buf_str(&pb, "/leaks");
	path[pb.len] = 0;
	if (pb.overflow) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *mem = mem_get(BUF_SIZE);
	if (!mem)
		return -1;
	int fd = vms_sys_open(path,
			      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_CLOEXEC,
			      0600);
	int rc = -1;
	if (fd < 0)
		goto out;
	struct vms_buf w = { mem, 0, BUF_SIZE, 0 };
	vms_buf_str(&w, "vmspy-leaks 1\nseq ");
	vms_buf_u64(&w, seq);
	vms_buf_str(&w, "\nblocks ");
	vms_buf_u64(&w, n);
	vms_buf_str(&w, "\ndata\n");
	for (size_t i = 0; i < n; i++) {
		if (w.len + 9 > w.cap) {
			if (vms_write_all(fd, mem, w.len))
				goto out;
			w.len = 0;
		}
		uint8_t *q = (uint8_t *)mem + w.len;
		for (int k = 0; k < 8; k++)
			q[k] = (uint8_t)(b[i].addr >> (8 * k));
		q[8] = (uint8_t)b[i].cat;
		w.len += 9;
	}
	if (w.len + 4 > w.cap) {
		if (vms_write_all(fd, mem, w.len))
			goto out;
		w.len = 0;
	}
	vms_buf_str(&w, "end\n");
	rc = vms_write_all(fd, mem, w.len);
out:
	if (fd >= 0) {
		int e = errno;
		vms_sys_close(fd);
		errno = e;
	}
	mem_put(mem);
	return rc;
}

/* ---- the whole scan ---------------------------------------------------------- */

static VMS_NOINLINE int scan_all(uintptr_t sp, pid_t pid)
{
	struct scan s;
	memset(&s, 0, sizeof(s));
	s.pid = pid;
	s.tid = vms_sys_gettid();
	uint64_t seq = vms_seq_barrier();
	int rc = -1;
	if (replay(&s, seq) || maps_read(&s) || sort_blocks(s.blocks, s.n))
		goto out;
	s.roots = mem_get(MAX_ROOTS * sizeof(*s.roots));
	if (!s.roots)
		goto out;
	gather_roots(&s, sp);
	mark_unreadable(&s);
	read_alone = alone(&s);
	int bad = vms_leak_classify(s.blocks, s.n, s.roots, s.nroots);
	read_alone = 0;
	if (!bad)
		rc = write_leaks(s.blocks, s.n, seq);
out:;
	int e = errno;
	mem_put(s.blocks);
	mem_put(s.vma);
	mem_put(s.roots);
	errno = e;
	return rc;
}

VMS_NOINLINE void vms_leak_scan(void)
{
	static pid_t done_pid;
	pid_t pid = vms_sys_getpid();
	if (done_pid == pid || !vms_self.dir[0])
		return;
	done_pid = pid;
	int saved = errno;
	/* The callee-saved registers go to this frame (spilled by
	 * __builtin_unwind_init in the prologue, copied by setjmp), which is
	 * scanned as the bottom of this thread's stack.  Frames below it are
	 * the scan's own and hold block addresses: never scanned. */
	jmp_buf regs;
	__builtin_unwind_init();
	/* setjmp leaves the signal mask part unwritten: stale words of
	 * earlier calls there would be taken for pointers. */
	memset(&regs, 0, sizeof(regs));
	if (setjmp(regs) == 0 && scan_all((uintptr_t)&regs, pid))
		vms_note("leak scan failed: ", strerror(errno),
			 "; no leaks file written", (char *)NULL);
	errno = saved;
}
