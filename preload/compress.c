/* SPDX-License-Identifier: MIT */
/*
 * Compression of sealed log chunks (contract in compress.h).  Runs on the
 * recorder's background thread, or at exit on the exiting thread; never on
 * an event's path (the hot path only bumps a futex word, once per chunk).
 * Raw syscalls, memory from anonymous mmaps, no locks shared with the host.
 */
#include "compress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "config.h"
#include "ownmaps.h"
#include "recorder.h"


static struct {
	int lock;          /* 1 while someone compresses (CAS) */
	int stop;          /* set at exit: the thread compresses no more */
	int off;           /* gave up for good (no memory, no hole punching) */
	uint32_t kick;     /* futex word, bumped when a chunk is sealed */
	/* One mapping: the context's workspace, then in, then out. */
	uint8_t *mem;
	size_t mem_len;
	ZSTD_CCtx *cctx;
	uint8_t *in, *out;
	size_t out_cap;
	size_t chunk_size;
} z;

static long page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? p : 4096;
}

int vms_compress_enabled(void)
{
	return vms_config.compress && !z.off;
}

void vms_compress_kick(void)
{
	if (!vms_config.compress)
		return;
	vms_atomic_add_relaxed(&z.kick, 1);
	syscall(SYS_futex, &z.kick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int try_lock(void)
{
	int free_ = 0;
	return vms_atomic_cas_acq_rel(&z.lock, &free_, 1);
}

static void unlock(void)
{
	vms_atomic_store_release(&z.lock, 0);
}

/* The buffers and the context, made once (by whoever holds the lock). */
static int setup(size_t chunk_size)
{
	if (z.cctx && z.chunk_size == chunk_size)
		return 0;
	if (z.mem) {
		vms_own_remove(z.mem);
		vms_sys_munmap(z.mem, z.mem_len);
		z.mem = NULL;
		z.cctx = NULL;
	}
	size_t pg = (size_t)page_size();
	size_t work = ZSTD_estimateCCtxSize(vms_config.compress_level);
	size_t out_cap = ZSTD_compressBound(chunk_size);
	work = (work + pg - 1) & ~(pg - 1);
	size_t len = work + chunk_size + VMS_ZFRAME_HEADER_SIZE + out_cap;
	len = (len + pg - 1) & ~(pg - 1);
	void *m = vms_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
	if (m == MAP_FAILED)
		return -1;
	ZSTD_CCtx *c = ZSTD_initStaticCCtx(m, work);
	if (!c ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel,
						vms_config.compress_level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag,
						1))) {
		vms_sys_munmap(m, len);
		return -1;
	}
	vms_own_add(m, len, "compression buffers");
	z.mem = m;
	z.mem_len = len;
	z.cctx = c;
	z.in = z.mem + work;
	z.out = z.in + chunk_size;
	z.out_cap = out_cap;
	z.chunk_size = chunk_size;
	return 0;
}

static void give_up(const char *why, int err)
{
	if (z.off)
		return;
	z.off = 1;
	vms_note("log chunks are left uncompressed: ", why,
		 err ? ": " : "", err ? strerror(err) : "", (char *)NULL);
}

/* A chunk that compresses less than ZMIN_RATIO times makes its lane skip
 * the next ZSKIP sealed chunks. */
#define ZMIN_RATIO 2
#define ZSKIP 15

/* Reads all of [off, off + len) of fd into buf: 0, or -1. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Compresses chunk k of lane l into its sidecar, then punches it out of
 * the log.  Any failure leaves the chunk raw.  Caller holds the lock. */
static void compress_chunk(struct vms_lane *l, uint64_t k)
{
	size_t cs = l->chunk_size;
	char path[PATH_MAX + 8];
	vms_lane_path(l, path, PATH_MAX);
	size_t plen = strlen(path);
	if (!plen)
		return;
	if (setup(cs)) {
		give_up("no memory for the compressor", errno);
		return;
	}
	int fd = vms_sys_open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	off_t off = (off_t)(k * cs);
	int whole = !read_at(fd, z.in, cs, (uint64_t)off);
	/* Chunk 0 keeps its first page raw: the file header. */
	size_t keep = k ? 0 : (size_t)page_size();
	size_t n = whole ? ZSTD_compress2(z.cctx,
					      z.out + VMS_ZFRAME_HEADER_SIZE,
					      z.out_cap, z.in, cs)
			     : 0;
	/* Little to gain from this lane's records (churn of random
	 * addresses compresses ~1.3x, for ~60 ns of CPU per event): leave
	 * the next ZSKIP chunks raw, then try again. */
	if (vms_config.compress == 1 && n && !ZSTD_isError(n) &&
	    n + VMS_ZFRAME_HEADER_SIZE > cs / ZMIN_RATIO)
		l->zskip = ZSKIP;
	/* Nothing to gain: leave it raw. */
	if (!n || ZSTD_isError(n) || n + VMS_ZFRAME_HEADER_SIZE >= cs - keep ||
	    n > UINT32_MAX)
		goto out;
	struct vms_zframe h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, VMS_ZFRAME_MAGIC, 4);
	h.lane = l->index;
	h.chunk = k;
	h.raw_len = (uint32_t)cs;
	h.comp_len = (uint32_t)n;
	h.check = vms_zframe_sum(&h, offsetof(struct vms_zframe, check));
	memcpy(z.out, &h, sizeof(h));
	/* A frame takes space before its chunk gives more back: on a nearly
	 * full disk leave the chunk raw, and the last free space to the
	 * writers and to the exit-time files (snapshot, leaks). */
	struct statvfs sv;
	if (!fstatvfs(fd, &sv) &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < 2 * (uint64_t)cs + (1u << 20))
		goto out;
	memcpy(path + plen, ".z", 3);
	int zfd = vms_sys_open(path,
			       O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
				       O_CLOEXEC,
			       0600);
	if (zfd < 0) {
		l->zoff = 1;
		goto out;
	}
	off_t end = lseek(zfd, 0, SEEK_END);
	if (end < 0 ||
	    vms_write_all(zfd, z.out, VMS_ZFRAME_HEADER_SIZE + n)) {
		/* A frame cut short must not stay in front of the next one:
		 * take it back, or stop writing frames to this sidecar. */
		if (end < 0 || ftruncate(zfd, end))
			l->zoff = 1;
		vms_sys_close(zfd);
		goto out;
	}
	vms_sys_close(zfd);
	/* The frame is complete: only now may the raw chunk go. */
	if (vms_punch_hole(fd, (uint64_t)off + keep, cs - keep)) {
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			give_up("the file system cannot punch holes", errno);
	}
out:
	vms_sys_close(fd);
}

/* Compresses what is sealed, lane by lane, oldest first.  Returns when
 * nothing is left, when deadline (CLOCK_MONOTONIC ns, 0 = none) passed, or
 * (thread only) when stopped.  Caller holds the lock unless is_thread. */
static void pass(int is_thread, uint64_t deadline)
{
	uint32_t nl = vms_lane_count();
	for (uint32_t i = 0; i < nl && !z.off; i++) {
		struct vms_lane *l = vms_lane_at(i);
		if (vms_atomic_load_acquire(&l->state) == VMS_LANE_UNUSED)
			continue;
		for (;;) {
			if (is_thread && vms_atomic_load_relaxed(&z.stop))
				return;
			uint64_t sealed = vms_atomic_load_acquire(&l->sealed);
			if (l->zoff || z.off || l->zdone >= sealed)
				break;
			if (deadline && vms_now_ns() >= deadline)
				return;
			if (is_thread) {
				if (!try_lock())
					return;
				/* stop may have come while we took it */
				if (vms_atomic_load_relaxed(&z.stop)) {
					unlock();
					return;
				}
			}
			if (l->zskip)
				l->zskip--;
			else
				compress_chunk(l, l->zdone);
			l->zdone++;
			if (is_thread)
				unlock();
		}
	}
}

void vms_compress_wait_ms(unsigned ms)
{
	uint64_t deadline = ms ? vms_now_ns() + (uint64_t)ms * 1000000u : 0;
	if (!vms_config.compress) {
		vms_sleep_ms(ms ? ms : 3600000);
		return;
	}
	for (;;) {
		uint32_t seen = vms_atomic_load_acquire(&z.kick);
		if (!vms_atomic_load_relaxed(&z.stop))
			pass(1, 0);
		uint64_t now = vms_now_ns();
		if (deadline && now >= deadline)
			return;
		/* Woken by the next sealed chunk; at most a second asleep
		 * (a wake between our pass and the wait is not lost: the
		 * futex compares kick with seen). */
		uint64_t left = deadline ? deadline - now : 1000000000u;
		if (left > 1000000000u)
			left = 1000000000u;
		struct timespec ts = { (time_t)(left / 1000000000u),
				       (long)(left % 1000000000u) };
		syscall(SYS_futex, &z.kick, FUTEX_WAIT_PRIVATE, seen, &ts,
			NULL, 0);
	}
}

int vms_compress_stop(void)
{
	vms_atomic_store_release(&z.stop, 1);
	/* The thread holds the lock for one chunk at a time: a millisecond
	 * or so.  Five seconds means it is stuck (a hung file system). */
	for (int i = 0; i < 5000; i++) {
		if (try_lock())
			return 0;
		vms_sleep_ms(1);
	}
	return -1;
}

void vms_compress_drain(unsigned budget_ms)
{
	if (!vms_config.compress)
		return;
	pass(0, vms_now_ns() + (uint64_t)budget_ms * 1000000u);
}

void vms_compress_reset(void)
{
	/* The parent's thread may have been in the middle of a chunk: its
	 * context is in an unknown state here.  The buffers stay (the same
	 * mapping exists in the child); the context is made again. */
	z.lock = 0;
	z.stop = 0;
	z.kick = 0;
	z.cctx = NULL;
	z.chunk_size = 0;
	if (z.mem) {
		vms_own_remove(z.mem);
		vms_sys_munmap(z.mem, z.mem_len);
		z.mem = NULL;
	}
}

/* ---- reading frames back ------------------------------------------------ */

static void *anon(size_t len)
{
	void *p = vms_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			       0);
	return p == MAP_FAILED ? NULL : p;
}

int vms_zsrc_open(struct vms_zsrc *zs, const struct vms_lane *l,
		  size_t chunk_size, size_t log_size)
{
	memset(zs, 0, sizeof(*zs));
	zs->fd = -1;
	zs->chunk_size = chunk_size;
	char path[PATH_MAX + 8];
	vms_lane_path(l, path, PATH_MAX);
	size_t plen = strlen(path);
	if (!plen || !chunk_size)
		return 0;
	memcpy(path + plen, ".z", 3);
	zs->fd = vms_sys_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (zs->fd < 0)
		return 0;
	off_t size = lseek(zs->fd, 0, SEEK_END);
	zs->nchunks = log_size / chunk_size;
	zs->at_len = (zs->nchunks ? zs->nchunks : 1) * sizeof(*zs->at);
	zs->at = anon(zs->at_len);
	zs->buf_cap = ZSTD_compressBound(chunk_size);
	zs->buf = anon(zs->buf_cap);
	zs->dctx_len = ZSTD_estimateDCtxSize();
	zs->dctx_mem = anon(zs->dctx_len);
	if (size < 0 || !zs->at || !zs->buf || !zs->dctx_mem) {
		vms_zsrc_close(zs);
		return -1;
	}
	memset(zs->at, 0xff, zs->nchunks * sizeof(*zs->at));
	/* Our own sidecar: frames back to back; an incomplete or damaged
	 * one ends the index (its chunk and those after are still raw). */
	uint64_t pos = 0;
	while (pos + VMS_ZFRAME_HEADER_SIZE <= (uint64_t)size) {
		struct vms_zframe h;
		int incomplete;
		if (read_at(zs->fd, &h, sizeof(h), pos) ||
		    vms_zframe_check(&h, l->index, chunk_size, log_size,
				     (uint64_t)size - pos -
					     VMS_ZFRAME_HEADER_SIZE,
				     &incomplete) ||
		    h.comp_len > zs->buf_cap)
			break;
		if (zs->at[h.chunk] < 0)
			zs->at[h.chunk] = (int64_t)pos;
		zs->frames++;
		pos += VMS_ZFRAME_HEADER_SIZE + h.comp_len;
	}
	return 0;
}

int vms_zsrc_fetch(struct vms_zsrc *zs, size_t k, uint8_t *dst)
{
	struct vms_zframe h;
	if (!vms_zsrc_has(zs, k) ||
	    read_at(zs->fd, &h, sizeof(h), (uint64_t)zs->at[k]) ||
	    h.comp_len > zs->buf_cap ||
	    read_at(zs->fd, zs->buf, h.comp_len,
		    (uint64_t)zs->at[k] + VMS_ZFRAME_HEADER_SIZE))
		return -1;
	ZSTD_DCtx *d = ZSTD_initStaticDCtx(zs->dctx_mem, zs->dctx_len);
	if (!d)
		return -1;
	size_t n = ZSTD_decompressDCtx(d, dst, zs->chunk_size, zs->buf,
				       h.comp_len);
	return !ZSTD_isError(n) && n == zs->chunk_size ? 0 : -1;
}

void vms_zsrc_close(struct vms_zsrc *zs)
{
	if (zs->fd >= 0)
		vms_sys_close(zs->fd);
	if (zs->at)
		vms_sys_munmap(zs->at, zs->at_len);
	if (zs->buf)
		vms_sys_munmap(zs->buf, zs->buf_cap);
	if (zs->dctx_mem)
		vms_sys_munmap(zs->dctx_mem, zs->dctx_len);
	memset(zs, 0, sizeof(*zs));
	zs->fd = -1;
}
