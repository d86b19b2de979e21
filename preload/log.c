/* SPDX-License-Identifier: MIT */
/*
 * Log lanes: chunked MAP_SHARED files (contract in log.h).  Only chunk
 * growth makes system calls; it runs at most once per chunk.
 */
#include "log.h"

#include "compress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Zeros written through the page cache (zero_fill). */
static const uint8_t zeros[64 * 1024];

/* Writes zeros over [off, off + len) of fd with pwritev.  The page cache
 * then holds the pages, allocated in large folios by the write path; a
 * fault on a page of a reserved but unwritten extent costs about three
 * times as much (ext4: 4.1 vs 1.2 us per 4 KiB page, which is some 5 ns
 * per heap event).  Only ever over a range no record is in.  Best effort:
 * on failure the pages fault in as before. */
static void zero_fill(int fd, uint64_t off, size_t len)
{
	struct iovec iov[64];
	while (len) {
		size_t n = 0, bytes = 0;
		for (; n < 64 && bytes < len; n++) {
			size_t k = len - bytes < sizeof(zeros) ? len - bytes
							       : sizeof(zeros);
			iov[n].iov_base = (void *)(uintptr_t)zeros;
			iov[n].iov_len = k;
			bytes += k;
		}
		long w = syscall(SYS_pwritev, fd, iov, (long)n, (long)off, 0L);
		if (w <= 0)
			return;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
}

/* A lane's first chunk is reserved in steps, from FIRST_RESERVE bytes
 * doubling up to the whole chunk: a thread that logs little takes little
 * disk.  Later chunks are reserved whole at once. */
#define FIRST_RESERVE 4096

/* Reserves the blocks of [off, off + len), where no record is yet:
 * ENOSPC here, not SIGBUS on a store later (posix_fallocate does not
 * allocate memory); puts zeros in the page cache and faults the pages of
 * map in for writing. */
static int reserve(int fd, uint8_t *map, uint64_t off, size_t len)
{
	int err = posix_fallocate(fd, (off_t)off, (off_t)len);
	if (err) {
		errno = err;
		return -1;
	}
	zero_fill(fd, off, len);
	/* Fault every page in for writing now, once, instead of one write
	 * fault per page on the hot path (MAP_POPULATE only maps shared
	 * file pages for reading).  Kernels before 5.14 say EINVAL: the
	 * pages then fault in as they are written. */
	if (map)
		(void)vms_sys_madvise(map, len, MADV_POPULATE_WRITE);
	return 0;
}

/* Maps the chunk at file offset off with its first len bytes reserved
 * (the file is extended to the chunk's end); does not switch to it.
 * Returns the mapping or NULL with errno. */
static uint8_t *map_chunk(const struct vms_lane *l, int fd, uint64_t off,
			  size_t len)
{
	if (reserve(fd, NULL, off, len))
		return NULL;
	if (len < l->chunk_size &&
	    ftruncate(fd, (off_t)(off + l->chunk_size)))
		return NULL;
	void *p = vms_sys_mmap(NULL, l->chunk_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return NULL;
	(void)vms_sys_madvise(p, len, MADV_POPULATE_WRITE);
	return p;
}

static void switch_chunk(struct vms_lane *l, uint8_t *p, uint64_t off,
			 size_t reserved)
{
	if (l->chunk)
		vms_sys_munmap(l->chunk, l->chunk_size);
	l->chunk = p;
	l->chunk_off = off;
	l->pos = 0;
	l->reserved = reserved;
	l->limit = reserved - VMS_LOG_TAIL_RESERVE;
}

int vms_lane_create(struct vms_lane *l, const char *dir, uint32_t index,
		    size_t chunk_size, pid_t pid)
{
	char path[PATH_MAX];
	l->dir = dir;
	l->index = index;
	vms_lane_path(l, path, sizeof(path));
	if (!path[0]) {
		errno = ENAMETOOLONG;
		return -1;
	}
	l->chunk_size = chunk_size;
	l->chunk = NULL;
	l->disabled = 0;
	l->prev_seq = l->prev_addr = l->last_time = l->clock = 0;
	l->records = 0;
	l->sealed = l->zdone = 0;
	l->zoff = 0;
	l->zskip = 0;
	int fd = vms_sys_open(path,
			      O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_CLOEXEC,
			      0600);
	if (fd < 0)
		return -1;
	size_t first = FIRST_RESERVE < chunk_size ? FIRST_RESERVE : chunk_size;
	uint8_t *p = map_chunk(l, fd, 0, first);
	int saved = errno;
	vms_sys_close(fd);
	if (!p) {
		/* An empty lane file would only confuse the reader. */
		unlink(path);
		errno = saved;
		return -1;
	}
	switch_chunk(l, p, 0, first);
	struct vms_log_header *h = (struct vms_log_header *)(void *)l->chunk;
	memcpy(h->magic, VMS_LOG_MAGIC, 8);
	h->version = VMS_FORMAT_VERSION;
	h->lane = index;
	h->chunk_size = chunk_size;
	h->pid = (uint64_t)pid;
	l->pos = VMS_LOG_HEADER_SIZE;
	return 0;
}

void vms_lane_path(const struct vms_lane *l, char *buf, size_t cap)
{
	struct vms_buf b = { buf, 0, cap - 1, 0 };
	vms_buf_str(&b, l->dir ? l->dir : "");
	vms_buf_str(&b, "/log.");
	vms_buf_u64(&b, l->index);
	buf[b.overflow ? 0 : b.len] = 0;
}

void vms_lane_forget(struct vms_lane *l)
{
	if (l->chunk)
		vms_sys_munmap(l->chunk, l->chunk_size);
	l->chunk = NULL;
	vms_intern_reset(&l->intern);
}

/* Ends the current chunk and switches to p, the next one (at off, its
 * first reserved bytes reserved). */
static void move_on(struct vms_lane *l, uint8_t *p, uint64_t off,
		    size_t reserved)
{
	/* Fill what is left of this chunk with a SKIP record, so the file
	 * stays one stream of records.  The tail reserve leaves room for its
	 * header: left >= VMS_LOG_TAIL_RESERVE, and the length takes at most
	 * as many bytes as left does. */
	size_t left = l->chunk_size - l->pos;
	size_t n = vms_varint_size(left);
	vms_varint_put_padded(l->chunk + l->pos + 1, left - 1 - n, n);
	vms_atomic_store_release(l->chunk + l->pos, (uint8_t)VMS_REC_SKIP);
	switch_chunk(l, p, off, reserved);
	/* The old chunk is unmapped: nothing writes it any more. */
	vms_atomic_store_release(&l->sealed, off / l->chunk_size);
	vms_compress_kick();
}

uint8_t *vms_lane_grow(struct vms_lane *l, size_t room, size_t max)
{
	if (l->disabled || !l->chunk || max > VMS_LOG_MAX_RECORD)
		return NULL;
	uint64_t off = l->chunk_off + l->chunk_size;
	char path[PATH_MAX];
	vms_lane_path(l, path, sizeof(path));
	int fd = vms_sys_open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	uint8_t *p = NULL;
	int grown = 0;
	if (fd >= 0 && l->reserved < l->chunk_size) {
		/* Room is still to be reserved in this chunk: double it
		 * until the record fits. */
		size_t want = l->pos + vms_lane_need(max) + VMS_LOG_TAIL_RESERVE;
		size_t to = l->reserved;
		while (to < want && to < l->chunk_size)
			to = to * 2 < l->chunk_size ? to * 2 : l->chunk_size;
		if (!reserve(fd, l->chunk + l->reserved,
			     l->chunk_off + l->reserved, to - l->reserved)) {
			l->reserved = to;
			l->limit = to - VMS_LOG_TAIL_RESERVE;
			grown = l->pos + vms_lane_need(max) <= l->limit;
		}
	}
	if (fd >= 0 && !grown)
		p = map_chunk(l, fd, off, l->chunk_size);
	int err = errno;
	if (fd >= 0)
		vms_sys_close(fd);
	if (grown)
		return l->chunk + l->pos + room;
	if (!p) {
		static int noted;
		vms_lane_disable(l, l->prev_seq, err);
		if (!vms_atomic_add_relaxed(&noted, 1))
			vms_note("cannot extend '", path, "': ",
				 strerror(err),
				 "; recording stops for this thread (and any other that fills its log)",
				 (char *)NULL);
		return NULL;
	}
	move_on(l, p, off, l->chunk_size);
	return l->chunk + l->pos + room;
}

void vms_lane_disable(struct vms_lane *l, uint64_t seq, int err)
{
	if (l->disabled || !l->chunk)
		return;
	/* The tail reserve guarantees room for this record (2 + 20 bytes). */
	uint8_t *p = l->chunk + l->pos +
		     vms_lane_head_room(VMS_REC_DISABLED, 2 * VMS_VARINT_MAX);
	size_t n = 0;
	n += vms_varint_put(p + n, seq - l->prev_seq);
	n += vms_varint_put(p + n, (uint64_t)err);
	l->prev_seq = seq;
	vms_lane_commit(l, VMS_REC_DISABLED, p, n);
	l->disabled = 1;
}

void vms_lane_trim(struct vms_lane *l, size_t slack)
{
	const size_t blk = 4096;
	if (l->disabled || !l->chunk)
		return;
	size_t from = l->pos + VMS_LOG_TAIL_RESERVE + slack;
	from = (from + blk - 1) & ~(blk - 1);
	if (from >= l->reserved)
		return;
	char path[PATH_MAX];
	vms_lane_path(l, path, sizeof(path));
	int fd = vms_sys_open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* Records written from now on stop before the hole: past the new
	 * limit the lane moves on to a fresh (reserved) chunk, so no store
	 * ever needs a block the file system may not have. */
	if (!vms_punch_hole(fd, l->chunk_off + from, l->chunk_size - from)) {
		l->reserved = from;
		l->limit = from - VMS_LOG_TAIL_RESERVE;
	}
	vms_sys_close(fd);
}

int vms_lane_seal(struct vms_lane *l)
{
	const size_t blk = 4096;
	if (l->disabled || !l->chunk)
		return -1;
	char path[PATH_MAX];
	vms_lane_path(l, path, sizeof(path));
	int fd = vms_sys_open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	uint64_t old = l->chunk_off, off = old + l->chunk_size;
	size_t first = FIRST_RESERVE < l->chunk_size ? FIRST_RESERVE
						      : l->chunk_size;
	uint8_t *p = map_chunk(l, fd, off, first);
	if (!p) {
		vms_sys_close(fd);
		return -1;
	}
	size_t end = (l->pos + VMS_LOG_TAIL_RESERVE + blk - 1) & ~(blk - 1);
	move_on(l, p, off, first);
	/* Past the SKIP record's header the sealed chunk is zeros nobody
	 * reads: its blocks go back now, whether it is compressed or not. */
	if (end < l->chunk_size)
		(void)vms_punch_hole(fd, old + end, l->chunk_size - end);
	vms_sys_close(fd);
	return 0;
}
