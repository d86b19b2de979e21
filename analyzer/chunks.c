/* SPDX-License-Identifier: MIT */
/*
 * Chunk bytes from the raw log or from the sidecar's frames (chunks.h).
 * Nothing read from the sidecar is trusted: every frame is checked before
 * it is indexed, and again (its zstd frame, its content checksum) before
 * its bytes replace a chunk.
 */
#include "chunks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "recording.h"
#include "util.h"

#define PAGE 4096u
/* Chunk sizes a recorder writes: VMSPY_CHUNK_KB 64 .. 65536. */
#define CHUNK_MIN (4u << 10)
#define CHUNK_MAX (1u << 30)

static void note(struct vms_chunks *c, const char *fmt, ...) VMS_PRINTF(2, 3);
static void note(struct vms_chunks *c, const char *fmt, ...)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	va_list ap;

	if (c->note)
		return;
	va_start(ap, fmt);
	vms_strbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	c->note = b.s;
}

static char *fmt(const char *fmt, ...) VMS_PRINTF(1, 2);
static char *fmt(const char *fmt, ...)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	vms_strbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	return b.s;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct vms_zentry *x = a, *y = b;
	if (x->chunk != y->chunk)
		return x->chunk < y->chunk ? -1 : 1;
	return (x->at > y->at) - (x->at < y->at);
}

/* The next offset after pos where a frame header with a good checksum
 * starts, or SIZE_MAX. */
static size_t next_header(const struct vms_chunks *c, size_t pos)
{
	while (pos + VMS_ZFRAME_HEADER_SIZE <= c->size) {
		const uint8_t *m = memmem(c->data + pos, c->size - pos,
					  VMS_ZFRAME_MAGIC, 4);
		struct vms_zframe h;
		if (!m || (size_t)(m - c->data) + VMS_ZFRAME_HEADER_SIZE >
				  c->size)
			return SIZE_MAX;
		pos = (size_t)(m - c->data);
		memcpy(&h, m, sizeof(h));
		if (h.check == vms_zframe_sum(&h, offsetof(struct vms_zframe,
							   check)))
			return pos;
		pos++;
	}
	return SIZE_MAX;
}

/* Indexes the frames of the sidecar.  A damaged frame is skipped by
 * looking for the next header that checks out; an incomplete last frame
 * (the recorder died writing it) is ignored silently. */
static void index_frames(struct vms_chunks *c, const struct vms_logfile *log,
			 int fd)
{
	size_t alloc = 0, pos = 0;

	while (pos != SIZE_MAX && c->size >= VMS_ZFRAME_HEADER_SIZE &&
	       pos <= c->size - VMS_ZFRAME_HEADER_SIZE) {
		struct vms_zframe h;
		const char *bad;
		int incomplete;
		size_t next;

		/* pread, not the mapping: touching one page per frame would
		 * map its neighbours too (fault-around), the whole sidecar. */
		if (pread(fd, &h, sizeof(h), (off_t)pos) != (ssize_t)sizeof(h))
			memcpy(&h, c->data + pos, sizeof(h));
		bad = vms_zframe_check(&h, log->lane, c->chunk_size, log->size,
				       c->size - pos - VMS_ZFRAME_HEADER_SIZE,
				       &incomplete);
		if (!bad) {
			VMS_GROW(c->frames, alloc, c->nr_frames + 1);
			c->frames[c->nr_frames].chunk = h.chunk;
			c->frames[c->nr_frames].at = pos;
			c->nr_frames++;
			pos += VMS_ZFRAME_HEADER_SIZE + h.comp_len;
			continue;
		}
		next = next_header(c, pos + 1);
		/* Cut short at the very end: the recorder died writing it.
		 * With another frame after it, its length lied. */
		if (incomplete && next == SIZE_MAX)
			break;
		note(c, "'%s' corrupt at offset %zu: %s", c->name, pos, bad);
		pos = next;
	}
	if (c->nr_frames > 1)
		qsort(c->frames, c->nr_frames, sizeof(*c->frames), cmp_entry);
	for (size_t i = 1; i < c->nr_frames; i++)
		if (c->frames[i].chunk == c->frames[i - 1].chunk) {
			note(c, "'%s' has two frames for chunk %llu (offsets "
			     "%llu and %llu)", c->name,
			     (unsigned long long)c->frames[i].chunk,
			     (unsigned long long)c->frames[i - 1].at,
			     (unsigned long long)c->frames[i].at);
			break;
		}
}

/* (Re)reads the sidecar's frame index. */
static void load_sidecar(struct vms_chunks *c, const struct vms_logfile *log)
{
	struct stat st;
	int fd;

	if (c->data)
		munmap((void *)(uintptr_t)c->data, c->size);
	c->data = NULL;
	c->size = 0;
	free(c->frames);
	c->frames = NULL;
	c->nr_frames = 0;
	fd = openat(c->dirfd, c->name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			note(c, "cannot open '%s': %s", c->name,
			     strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		note(c, "'%s' is not a regular file", c->name);
	} else if (st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ,
			       MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			note(c, "cannot map '%s': %s", c->name,
			     strerror(errno));
		} else {
			c->data = p;
			c->size = (size_t)st.st_size;
		}
	}
	if (c->data)
		index_frames(c, log, fd);
	close(fd);
	if (c->data) {
		/* Pages are read again when a frame is used, and given back
		 * after it: memory follows one chunk, not the sidecar. */
		madvise((void *)(uintptr_t)c->data, c->size, MADV_DONTNEED);
	}
}

void vms_chunks_open(struct vms_logfile *log, int dirfd, bool may_compress)
{
	struct vms_chunks *c;
	uint64_t cs = log->header.chunk_size;

	if (cs < CHUNK_MIN || cs > CHUNK_MAX || cs % PAGE)
		return; /* raw reading only, as before compression existed */
	c = xcalloc(1, sizeof(*c));
	c->dirfd = dirfd;
	c->chunk_size = (size_t)cs;
	c->live = SIZE_MAX;
	snprintf(c->name, sizeof(c->name), "%s.z", log->name);
	log->chunks = c;
	load_sidecar(c, log);
	c->live_copy = may_compress || c->data;
}

void vms_chunks_release(struct vms_logfile *log)
{
	struct vms_chunks *c = log->chunks;

	if (!c)
		return;
	if (c->data)
		munmap((void *)(uintptr_t)c->data, c->size);
	if (c->dctx)
		ZSTD_freeDCtx(c->dctx);
	free(c->frames);
	free(c->note);
	free(c->raw);
	if (c->spare)
		munmap(c->spare, c->spare_len);
	free(c);
	log->chunks = NULL;
}

/* The first frame index for chunk k, or nr_frames. */
static size_t find(const struct vms_chunks *c, uint64_t k)
{
	size_t lo = 0, hi = c->nr_frames;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->frames[mid].chunk < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Decompresses frame e into dst (one chunk).  NULL or why not. */
static const char *decompress(struct vms_chunks *c, const struct vms_zentry *e,
			      uint8_t *dst)
{
	struct vms_zframe h;
	const uint8_t *src = c->data + e->at + VMS_ZFRAME_HEADER_SIZE;
	ZSTD_frameHeader zh;
	size_t n;

	memcpy(&h, c->data + e->at, sizeof(h));
	if (ZSTD_getFrameHeader(&zh, src, h.comp_len) != 0 ||
	    zh.frameType != ZSTD_frame)
		return "not a zstd frame";
	if (zh.frameContentSize != c->chunk_size)
		return "zstd frame of another size";
	if (!zh.checksumFlag)
		return "zstd frame without a checksum";
	if (ZSTD_findFrameCompressedSize(src, h.comp_len) != h.comp_len)
		return "frame length does not match its zstd frame";
	if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
		vms_die("out of memory");
	n = ZSTD_decompressDCtx(c->dctx, dst, c->chunk_size, src, h.comp_len);
	if (ZSTD_isError(n))
		return ZSTD_getErrorName(n);
	if (n != c->chunk_size)
		return "zstd frame of another size";
	{
		uintptr_t lo = (uintptr_t)src & ~(uintptr_t)(PAGE - 1);
		uintptr_t hi = (uintptr_t)src + h.comp_len;
		hi &= ~(uintptr_t)(PAGE - 1);
		if (hi > lo)
			madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	return NULL;
}

static int page_is_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zero[PAGE];
	return !memcmp(p, zero, n);
}

/* pread until len bytes or the end of the file (or an error): the count. */
static size_t pread_full(int fd, uint8_t *buf, size_t len, size_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Reads [off, off + len) of the raw log file into buf.  -1 on error. */
static int read_raw(const struct vms_chunks *c, const struct vms_logfile *log,
		    uint8_t *buf, size_t off, size_t len, int *has_data)
{
	int fd = openat(c->dirfd, log->name,
			O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	size_t got = 0;
	off_t d;

	if (fd < 0)
		return -1;
	/* A hole (the usual case: the chunk was punched out) needs no
	 * reading; where SEEK_DATA is not supported, everything is data. */
	d = lseek(fd, (off_t)off, SEEK_DATA);
	*has_data = !(d < 0 && errno == ENXIO) &&
		    !(d >= 0 && (size_t)d >= off + len);
	if (*has_data)
		got = pread_full(fd, buf, len, off);
	close(fd);
	if (got < len)
		memset(buf + got, 0, len - got);
	return 0;
}

/* Writable memory for a chunk of maplen bytes (a multiple of the page
 * size): the spare one when it fits, else new, or MAP_FAILED. */
static uint8_t *chunk_memory(struct vms_chunks *c, size_t maplen)
{
	uint8_t *mem = c->spare;

	if (mem && c->spare_len == maplen &&
	    !mprotect(mem, maplen, PROT_READ | PROT_WRITE)) {
		c->spare = NULL;
		return mem;
	}
	return mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Puts chunk k's frame in place.  0, 1 when no frame is usable, -1 when
 * frame and raw bytes disagree (*why set). */
static int materialize(const struct vms_logfile *log, struct vms_chunks *c,
		       uint64_t k, char **why)
{
	size_t cs = c->chunk_size, off = (size_t)k * cs, i;
	uint8_t *mem, *at = (uint8_t *)(uintptr_t)log->data + off;
	const char *bad = NULL;
	int has_data = 1;

	mem = chunk_memory(c, cs);
	if (mem == MAP_FAILED)
		vms_die("out of memory (%s)", strerror(errno));
	for (i = find(c, k); i < c->nr_frames && c->frames[i].chunk == k;
	     i++) {
		bad = decompress(c, &c->frames[i], mem);
		if (!bad)
			break;
		note(c, "'%s' frame at offset %llu (chunk %llu): %s", c->name,
		     (unsigned long long)c->frames[i].at,
		     (unsigned long long)k, bad);
	}
	if (bad || i == c->nr_frames || c->frames[i].chunk != k) {
		munmap(mem, cs);
		return 1;
	}
	/* Raw bytes still there (the recorder died between writing the
	 * frame and punching the chunk, or could not punch): they must be
	 * the same, page by page.  The header page of chunk 0 always is. */
	if (!c->raw)
		c->raw = xmalloc(cs);
	if (read_raw(c, log, c->raw, off, cs, &has_data))
		has_data = 0;
	for (size_t p = 0; has_data && p < cs; p += PAGE) {
		size_t n = cs - p < PAGE ? cs - p : PAGE;
		if (page_is_zero(c->raw + p, n) ||
		    !memcmp(c->raw + p, mem + p, n))
			continue;
		munmap(mem, cs);
		*why = fmt("chunk %llu differs from its frame in '%s' at "
			   "offset %zu", (unsigned long long)k, c->name,
			   off + p);
		return -1;
	}
	mprotect(mem, cs, PROT_READ);
	if (mremap(mem, cs, cs, MREMAP_MAYMOVE | MREMAP_FIXED, at) ==
	    MAP_FAILED)
		vms_die("cannot map a decompressed chunk (%s)", strerror(errno));
	return 0;
}

/* Replaces the mapped chunk k ([lo, lo + len)) with a private copy of its
 * raw bytes.  0, or -1 (the mapping is left as it was). */
static int copy_raw(const struct vms_logfile *log, struct vms_chunks *c,
		    size_t lo, size_t len)
{
	size_t maplen = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
	uint8_t *mem = chunk_memory(c, maplen);
	int fd, ok = 0;
	size_t got = 0;

	if (mem == MAP_FAILED)
		return -1;
	fd = openat(c->dirfd, log->name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0) {
		got = pread_full(fd, mem, len, lo);
		close(fd);
	}
	/* A file that shrank reads as zeros past its end, as the mapping
	 * would (SIGBUS aside); reused memory holds the previous chunk. */
	memset(mem + got, 0, maplen - got);
	ok = fd >= 0;
	if (ok) {
		mprotect(mem, maplen, PROT_READ);
		ok = mremap(mem, maplen, maplen, MREMAP_MAYMOVE | MREMAP_FIXED,
			    (uint8_t *)(uintptr_t)log->data + lo) != MAP_FAILED;
	}
	if (!ok)
		munmap(mem, maplen);
	return ok ? 0 : -1;
}

/* Gives back the memory of the live chunk: the file is mapped there
 * again (or, failing that, the pages are dropped and read as zeros). */
static void drop(const struct vms_logfile *log, struct vms_chunks *c)
{
	size_t cs = c->chunk_size, lo = c->live * cs;
	size_t len = lo + cs <= log->size ? cs : log->size - lo;
	uint8_t *at = (uint8_t *)(uintptr_t)log->data + lo;
	int fd = openat(c->dirfd, log->name,
			O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	len = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
	/* The chunk's memory moves out of the way, to be the next chunk's
	 * (into a placeholder mapping: mremap moves only to a given place),
	 * when the file can be mapped in its place. */
	if (fd >= 0 && !c->spare) {
		void *p = mmap(NULL, len, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED &&
		    mremap(at, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, p) ==
			    MAP_FAILED) {
			munmap(p, len);
			p = MAP_FAILED;
		}
		if (p != MAP_FAILED) {
			c->spare = p;
			c->spare_len = len;
		}
	}
	if (fd < 0 || mmap(at, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
			   (off_t)lo) == MAP_FAILED) {
		/* zeros where the memory was moved away, else dropped */
		if (mmap(at, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED, -1, 0) == MAP_FAILED)
			madvise(at, len, MADV_DONTNEED);
	}
	if (fd >= 0)
		close(fd);
}

/* 1 when the sidecar is not the size it had when it was indexed. */
static bool sidecar_changed(const struct vms_chunks *c)
{
	struct stat st;
	if (fstatat(c->dirfd, c->name, &st, AT_SYMLINK_NOFOLLOW))
		return false;
	return (uint64_t)st.st_size != c->size;
}

int vms_chunks_fetch(const struct vms_logfile *log, size_t at, char **why)
{
	struct vms_chunks *c = log->chunks;
	size_t cs = c->chunk_size;
	uint64_t k = at / cs;
	size_t lo = (size_t)k * cs;
	int r;

	*why = NULL;
	if (!log->data || lo >= log->size) {
		c->win_lo = c->win_hi = 0;
		return 0;
	}
	/* One decompressed (or copied) chunk per log: the previous one goes,
	 * and the file shows through again. */
	if (c->live != SIZE_MAX && c->live != k) {
		drop(log, c);
		c->live = SIZE_MAX;
	}
	r = c->live == k ? 0 : 1;
	for (int again = 0; r && again < 2; again++) {
		size_t first = k ? lo : VMS_LOG_HEADER_SIZE;
		uint32_t word = 0;

		if (lo + cs <= log->size && c->nr_frames) {
			r = materialize(log, c, k, why);
			if (r < 0)
				return -1;
			if (!r) {
				c->live = k;
				break;
			}
		}
		if (c->live_copy &&
		    !copy_raw(log, c, lo, lo + cs < log->size ? cs
							      : log->size - lo)) {
			c->live = k;
			/* Copied while the recorder punched it?  Then its
			 * frame was complete before: index again, once. */
			if (!again && sidecar_changed(c)) {
				load_sidecar(c, log);
				continue;
			}
		}
		if (lo + cs >= log->size)
			break;
		/* Not from a frame, and not the last chunk: a chunk that was
		 * written starts with a record (chunk 0 after the header). */
		if (first + 4 <= log->size)
			memcpy(&word, log->data + first, 4);
		if (word)
			break;
		/* A recording still being written: the chunk may have been
		 * punched since the sidecar was indexed (its frame came
		 * first).  Index again, once.  (A chunk lost for good is
		 * reported where its records end: vms_chunks_check_end.) */
		if (!again) {
			load_sidecar(c, log);
			continue;
		}
	}
	c->win_lo = lo;
	c->win_hi = lo + cs < log->size ? lo + cs : log->size;
	return 0;
}

int vms_chunks_check_end(const struct vms_logfile *log, size_t at, char **why)
{
	const struct vms_chunks *c = log->chunks;
	size_t cs, k, next;
	uint32_t word = 0;

	*why = NULL;
	if (!c || !log->data)
		return 0;
	cs = c->chunk_size;
	k = at / cs;
	/* Records of a sealed chunk run to its end (a SKIP fills the tail).
	 * Ending inside chunk k is normal when k is the last chunk, or when
	 * the chunks after it were reserved but never written (a crash while
	 * moving on).  When a later chunk has records (or a frame), chunk k
	 * lost its own. */
	if (find(c, k + 1) < c->nr_frames)
		word = 1;
	for (next = (k + 1) * cs; !word && next + 4 <= log->size; next += cs)
		memcpy(&word, log->data + next, 4);
	if (!word)
		return 0;
	*why = fmt("chunk %zu was lost: its records stop at offset %zu and "
		   "later chunks have records; it was compressed and '%s' has "
		   "no usable frame for it%s%s",
		   k, at, c->name, c->note ? " (" : "",
		   c->note ? c->note : "");
	if (c->note) {
		char *w = fmt("%s)", *why);
		free(*why);
		*why = w;
	}
	return -1;
}
