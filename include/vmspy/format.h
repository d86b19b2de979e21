/* SPDX-License-Identifier: MIT */
/*
 * The vmspy recording format: the one contract between the recorder
 * (preload/, which writes it from inside the host process) and the analyzer
 * (analyzer/, which reads it offline and must treat it as hostile input).
 *
 * A recording is a directory (mode 0700) holding:
 *
 *   meta        text, written once at start-up: "key value" lines, the first
 *               line is "vmspy-recording <VMS_FORMAT_VERSION>".  Keys: see
 *               VMS_META_* below.  Values are escaped with \n, \\ and \t.
 *   log.<n>     one per log lane (n = 0, 1, ...).  A lane belongs to one live
 *               thread at a time; when a thread has died its lane may be
 *               taken over by a new thread (a THREAD_BEGIN record says so).
 *               File = struct vms_log_header, then records.
 *   log.<n>.z   optional sidecar of log.<n>: its sealed chunks, compressed
 *               (see "Compressed chunks" below).
 *   snap.<n>    smaps + module snapshots (n = 0, 1, ...), text, see below.
 *   leaks       optional, written by the exit-time reachability scan
 *               (format below).
 *
 * Records.  A log is a stream of records with no alignment and no padding.
 * Every record starts with one header byte h:
 *
 *   h == 0          the end of the log (the file space after the last
 *                   record is zero: reserved with posix_fallocate)
 *   1 <= h <= 127   a full header: the record type is h, then comes the
 *                   body length L as a varint, then the body (L bytes).
 *                   The writer may spend more bytes on L than it needs
 *                   (a padded varint, e.g. 0x85 0x00 for 5): readers
 *                   accept any varint of at most 10 bytes
 *   h >= 128        a compact header, for the common small records: the
 *                   record type is vms_rec_compact_types[(h >> 5) & 3],
 *                   the body length is h & 31, the body follows at once
 *
 * A compact header is only a shorter spelling: any record of a type in
 * vms_rec_compact_types may also come with a full header (the writer uses
 * one when the body is longer than 31 bytes), and a reader decodes the body
 * the same way whatever its header.  A type a reader does not know, in
 * either header, is corrupt input.
 *
 * Crash safety.  The writer stores the body (and a full header's length)
 * first and publishes the header byte last, with a release store; a single
 * byte store is atomic.  A reader that meets a zero header byte stops
 * there.  So a process killed at any instruction leaves a log whose
 * readable prefix is exactly the records published before it died: a
 * record in flight has a zero header byte, whatever part of its body is
 * already written behind it.  Records never span chunks: a VMS_REC_SKIP
 * record (full header, body ignored) fills the tail of a chunk that the
 * next record did not fit, so the file stays one stream of records.
 *
 * Bodies are sequences of LEB128 varints (unsigned) and strings (varint
 * length, then bytes, no NUL).  Within one log, these fields are deltas
 * against the log's running state (reset to zero at the start of the file):
 *   seq   : seq = prev_seq + varint            (sequence numbers only grow)
 *   addr  : addr = prev_addr + unzigzag(varint) (allocation addresses only:
 *           the addr of ALLOC, MALLOC, FREE and FREE_PLAIN)
 * ALLOC's old_addr is relative to the same record's addr
 * (old_addr = addr + unzigzag(varint)): a realloc in place costs one byte.
 * All other fields are absolute.  The field order per type is listed next to
 * each type below; readers must ignore extra trailing bytes in a body (room
 * for later fields) but reject bodies shorter than the listed fields.
 *
 * Sequence numbers are Lamport clocks, not one global counter (the
 * recorder's seq section in preload/recorder.c has the scheme).  They grow
 * strictly within a log; across logs a number may repeat, and readers order
 * records by (seq, log number).  An acquisition takes its number after the
 * real call returned, a release before the real call, and two events on the
 * same address draw from the same clock: sorting all records of all logs
 * that way gives an order in which an address is never handed out twice
 * without a release between.  Mapping events (mmap family, brk, shm,
 * threads, dlopen, fork, exit) are totally ordered among themselves, and
 * every event that starts after one of them sorts after it.  A snapshot's
 * or the leak scan's seq is above every number handed out before it.
 * Records without a seq (STACK, TIME, SKIP) apply to the records after them
 * in their own log.
 *
 * Stack ids are per log lane: id 0 means "no stack recorded"; ids 1, 2, ...
 * are defined by STACK records in the same log before their first use.  A
 * thread taking over a lane keeps using the lane's ids.  A THREAD_BEGIN's
 * creator_stack is defined in the creator's lane before its CREATE record,
 * which may come later in seq order: resolve it after reading everything.
 *
 * Signed values (fd, key, status, result) are stored as the unsigned
 * varint of their 64-bit two's complement.  A failed call is never
 * recorded (a failed realloc writes neither its FREE nor its ALLOC).
 *
 * Snapshot files ("snap.<n>") are text:
 *   vmspy-snapshot 1
 *   seq <seq taken when the snapshot started>
 *   time_ns <CLOCK_MONOTONIC ns>
 *   reason start|interval|exit|user|dlopen|dlclose
 *   label <escaped text>            (reason user only)
 *   module <load-bias hex> <build-id hex or -> <escaped path>
 *   segment <start hex> <end hex> <r|-><w|-><x|->   (PT_LOAD of the module above)
 *   ...
 *   pagemap <start hex> <end hex> <resident pages decimal> <bitmap>
 *               (optional, for private anonymous rw regions and [heap]):
 *               bitmap = hex digits, 4 pages per digit, the lowest page in
 *               the lowest bit of the first digit; bit set = page present
 *               in RAM or swapped (from /proc/self/pagemap bits 63/62)
 *   smaps
 *   <raw /proc/self/smaps text up to end of file>
 * A snapshot file without its "smaps" line, or cut short, was interrupted.
 *
 * Compressed snapshots.  A snapshot file may instead hold that text
 * compressed; it then starts with the 4 bytes of VMS_SNAPZ_SKIPPABLE
 * (little-endian: a zstd skippable frame) and is:
 *   skippable frame: magic (4 bytes), info length L (u32 LE), then L bytes
 *     of info text: "vmspy-snapshot-z 1\nref <n>\n" or "...\nref -\n"
 *     (more lines may follow: readers skip unknown ones)
 *   one zstd frame with its content size and content checksum, whose
 *     content is the snapshot text above, byte for byte.
 * With "ref <n>" the frame was compressed with the whole text of snapshot
 * n (n < this file's number; itself plain or compressed) as a zstd
 * reference prefix (ZSTD_CCtx_refPrefix): decompress with
 * ZSTD_DCtx_refPrefix of that text, or `zstd -d --patch-from=<text of n>`.
 * Nothing follows the frame.  The recorder writes a compressed snapshot as
 * "snap.<n>.part" and renames it when complete (a partial one is removed:
 * its number is then missing), so a reader normally never meets a frame
 * cut short; if it does, what decodes is an interrupted snapshot, and any
 * other zstd error is corruption.  The recorder writes snapshots
 * compressed whenever log compression is on (VMSPY_COMPRESS), plain text
 * when it is off, the compressor stays busy for 20 ms, or it fails; a
 * reader accepts both in any mix, and ignores "snap.<n>.part" files.
 *
 * Skipped snapshots.  Interval snapshots are skipped while the process's
 * size, resident and shared memory (/proc/self/statm) each stay within
 * max(1 MiB, 1%) of the last snapshot's, at most 59 in a row (so a quiet
 * process still gets one a minute at the default interval).  Start, exit,
 * user (vmspy_snapshot) snapshots are always taken.  A skipped snapshot
 * takes no number.
 * Other header lines a reader may meet (and must skip if unknown):
 *   recorder_thread <lo hex> <hi hex>   stack of vmspy's sampler thread
 *   recorder_map <lo hex> <hi hex> <what...>   an anonymous mapping vmspy
 *               made for itself (stack tables, libunwind caches, buffers)
 *
 * Compressed chunks.  A log is a sequence of chunks of header.chunk_size
 * bytes; chunk k starts at file offset k * chunk_size (chunk 0 with the file
 * header).  Once a lane has moved on to its next chunk, the previous one is
 * sealed: never written again.  The recorder may then compress a sealed
 * chunk into the sidecar "log.<n>.z" and give the chunk's disk blocks back
 * (a hole punched with FALLOC_FL_KEEP_SIZE: the file keeps its size and the
 * hole reads as zeros).  The sidecar is a sequence of frames, back to back:
 *   struct vms_zframe (32 bytes, below), then comp_len bytes: one zstd frame
 *   with its content size (= raw_len) and content checksum, whose content is
 *   the whole chunk, byte for byte.
 * Frames are appended in the order the chunks were compressed (ascending
 * per lane, with gaps where a chunk was left raw).  A frame is written
 * completely before its chunk's hole is punched, so at every instant each
 * record is in the raw chunk, in a complete frame, or both (then the same
 * bytes).  Readers:
 *   - take a chunk from its frame when one is valid, else from the log;
 *   - ignore an incomplete last frame (the process died while writing it:
 *     its chunk is still raw);
 *   - in chunk 0, the first page (the file header) is never punched;
 *   - a chunk whose raw bytes are not zero must agree with its frame, page
 *     by page (the recorder died between writing a frame and punching);
 *   - a chunk that is a hole with no valid frame lost its data: the log is
 *     damaged from there (a chunk that was never written also reads as
 *     zeros, but only the last chunk of a log can be that).
 * The last chunk of a lane (the one being written) always stays raw.
 *
 * The "leaks" file (reachability of every block live at a clean exit):
 *   vmspy-leaks 1\n
 *   seq <seq taken when the scan started>\n
 *   blocks <count>\n
 *   data\n
 *   count entries of 9 bytes: the block's address (u64 little-endian, as
 *   returned by the allocator) and its category (u8, enum vms_leak_cat)
 *   end\n
 * A file without the final "end" line was interrupted: ignore it.
 */
#ifndef VMSPY_FORMAT_H
#define VMSPY_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VMS_FORMAT_VERSION 2
#define VMS_VERSION_STRING "0.1.0"

/* ---- meta keys (one per line, "key value") ------------------------------ */
/* vmspy_version, pid, ppid, exe, argc, argv <i> <text>, start_realtime_ns,
 * start_monotonic_ns, page_size, parent (recording of the parent process,
 * when known), predecessor (recording of the image this one exec'd from,
 * same pid), depth, interval_ms, argv_redacted 0|1, compress zstd <level>
 * (present when sealed chunks may be compressed: "Compressed chunks") */

/* ---- thread log file header (64 bytes) --------------------------------- */
#define VMS_LOG_MAGIC "VMSPYLG1"
#define VMS_LOG_HEADER_SIZE 64

struct vms_log_header {
	char magic[8];        /* VMS_LOG_MAGIC */
	uint32_t version;     /* VMS_FORMAT_VERSION */
	uint32_t lane;        /* n of log.<n> */
	uint64_t chunk_size;  /* bytes per chunk (records never span chunks) */
	uint64_t pid;
	uint8_t reserved[32];
};

/* ---- compressed chunk frames (sidecar "log.<n>.z") ---------------------- */
#define VMS_ZFRAME_MAGIC "VMSZ"
#define VMS_ZFRAME_HEADER_SIZE 32

struct vms_zframe {
	char magic[4];        /* VMS_ZFRAME_MAGIC */
	uint32_t lane;        /* n of log.<n> */
	uint64_t chunk;       /* chunk index: file offset chunk * chunk_size */
	uint32_t raw_len;     /* the log's chunk_size */
	uint32_t comp_len;    /* bytes of the zstd frame after this header */
	uint32_t reserved;    /* 0 */
	uint32_t check;       /* vms_zframe_sum() of the 28 bytes before */
};

/* FNV-1a (32 bit) of n bytes: the frame header's check. */
static inline uint32_t vms_zframe_sum(const void *p, size_t n)
{
	const uint8_t *b = (const uint8_t *)p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* Checks a frame header read from a sidecar of lane `lane` whose log has
 * chunks of chunk_size bytes and is log_size bytes long, with `avail`
 * bytes of the sidecar following the header.  Returns NULL when the frame
 * is usable, else why not (a constant string).  *incomplete is set when
 * the header is sound but its payload runs past the end of the sidecar
 * (a frame cut short by the process dying: not damage). */
static inline const char *vms_zframe_check(const struct vms_zframe *f,
					   uint32_t lane, uint64_t chunk_size,
					   uint64_t log_size, uint64_t avail,
					   int *incomplete)
{
	*incomplete = 0;
	if (memcmp(f->magic, VMS_ZFRAME_MAGIC, 4))
		return "bad frame magic";
	if (f->check != vms_zframe_sum(f, offsetof(struct vms_zframe, check)))
		return "bad frame header checksum";
	if (f->lane != lane)
		return "frame of another lane";
	if (!chunk_size || f->raw_len != chunk_size)
		return "frame length differs from the log's chunk size";
	if (f->chunk >= log_size / chunk_size)
		return "frame of a chunk past the end of the log";
	if (!f->comp_len)
		return "empty frame";
	if (f->comp_len > avail) {
		*incomplete = 1;
		return "frame cut short";
	}
	return NULL;
}

/* ---- record headers (see "Records" above) ------------------------------ */
#define VMS_REC_FULL_MAX 127u     /* largest type with a full header */
#define VMS_REC_COMPACT 0x80u     /* header bit: a compact header */
#define VMS_REC_COMPACT_MAX 31u   /* largest body of a compact header */
#define VMS_REC_COMPACT_HDR(code, len) \
	((uint8_t)(VMS_REC_COMPACT | (unsigned)(code) << 5 | (unsigned)(len)))
#define VMS_REC_COMPACT_CODE(h) (((unsigned)(h) >> 5) & 3u)
#define VMS_REC_COMPACT_LEN(h) ((unsigned)(h) & VMS_REC_COMPACT_MAX)

enum vms_rec_type {
	VMS_REC_NONE = 0,   /* never written: a zero header byte ends a log */
	/* varint fields in order: */
	VMS_REC_SKIP = 1,   /* (none): ignore the body, go on after it */
	VMS_REC_STACK = 2,  /* id, n, then n frames: frame[i] = frame[i-1] +
			     * unzigzag(v) with frame[-1] = 0 (return
			     * addresses, innermost first) */
	VMS_REC_TIME = 3,   /* monotonic_ns (absolute) */
	VMS_REC_ALLOC = 4,  /* seq, api, stack, addr, size, align; for
			     * VMS_API_REALLOC/REALLOCARRAY also old_addr
			     * (relative to addr, see above; old_addr 0 for
			     * realloc(NULL, n)).  malloc with align 0 is
			     * written as the shorter MALLOC */
	VMS_REC_FREE = 5,   /* seq, api, addr (api = realloc/reallocarray for
			     * the release half of a moving realloc or
			     * realloc(p, 0); free is written as FREE_PLAIN) */
	VMS_REC_MMAP = 6,   /* seq, api, stack, addr, len, prot, flags, fd,
			     * offset, dev, ino, path(string), old_addr,
			     * old_len (mremap only, else 0).  For mremap:
			     * prot 0, fd -1, flags = the MREMAP_* flags;
			     * the region keeps what the old one had */
	VMS_REC_MUNMAP = 7, /* seq, api, stack, addr, len (api = munmap, or
			     * mremap for the release half of an mremap) */
	VMS_REC_MPROTECT = 8, /* seq, stack, addr, len, prot */
	VMS_REC_MADVISE = 9,  /* seq, stack, addr, len, advice */
	VMS_REC_BRK = 10,     /* seq, api, stack, old_brk, new_brk */
	VMS_REC_SHM_OPEN = 11,  /* seq, stack, fd, oflag, mode, name(string) */
	VMS_REC_SHM_UNLINK = 12, /* seq, stack, name(string) */
	VMS_REC_SHMGET = 13,  /* seq, stack, key, size, shmflg, shmid */
	VMS_REC_SHMAT = 14,   /* seq, stack, shmid, addr, size, shmflg, key */
	VMS_REC_SHMDT = 15,   /* seq, stack, addr */
	VMS_REC_THREAD_BEGIN = 16, /* seq, tid, stack_lo, stack_hi, guard_size,
				    * creator_lane, creator_stack (0 = main
				    * thread / unknown creator: creator_lane
				    * is then 0 and creator_stack 0),
				    * pthread handle */
	VMS_REC_THREAD_END = 17,   /* seq, tid */
	VMS_REC_DLOPEN = 18,  /* seq, stack, flags, handle, path(string) as
			       * passed, bias, build_id(string, hex or ""),
			       * real_path(string: the loaded file) */
	VMS_REC_DLCLOSE = 19, /* seq, stack, handle, result */
	VMS_REC_FORK = 20,    /* seq, api, stack, child_pid */
	VMS_REC_SNAPSHOT = 21, /* reserved (snapshots are only in snap.<n>) */
	VMS_REC_EXIT = 22,    /* seq, status (exit() argument when known, else
			       * 0), dropped (events lost by the recorder) */
	VMS_REC_DISABLED = 23, /* seq, errno: the recorder stopped writing this
				* log (e.g. disk full), records after it lost */
	VMS_REC_CREATE = 24,  /* seq, stack, handle: pthread_create returned in
			       * the creating thread */
	VMS_REC_MALLOC = 25,  /* seq, stack, addr, size: an ALLOC with api
			       * malloc and align 0 */
	VMS_REC_FREE_PLAIN = 26, /* seq, addr: a FREE with api free */
	VMS_REC__COUNT
};

/* The record types a compact header can name, by its code
 * (VMS_REC_COMPACT_CODE). */
static const uint8_t vms_rec_compact_types[4] = {
	VMS_REC_MALLOC, VMS_REC_FREE_PLAIN, VMS_REC_ALLOC, VMS_REC_FREE,
};

/* The compact header code of a record type, or -1 when it has none. */
static inline int vms_rec_compact_code(unsigned type)
{
	switch (type) {
	case VMS_REC_MALLOC: return 0;
	case VMS_REC_FREE_PLAIN: return 1;
	case VMS_REC_ALLOC: return 2;
	case VMS_REC_FREE: return 3;
	default: return -1;
	}
}

/* API ids: which hooked function produced a record.  Also the key order of
 * "calls" in `vmspy summary --json`. */
enum vms_api {
	VMS_API_MALLOC = 0,
	VMS_API_CALLOC,
	VMS_API_REALLOC,
	VMS_API_REALLOCARRAY,
	VMS_API_FREE,
	VMS_API_POSIX_MEMALIGN,
	VMS_API_ALIGNED_ALLOC,
	VMS_API_MEMALIGN,
	VMS_API_VALLOC,
	VMS_API_PVALLOC,
	VMS_API_MMAP,
	VMS_API_MMAP64,
	VMS_API_MUNMAP,
	VMS_API_MREMAP,
	VMS_API_MPROTECT,
	VMS_API_BRK,
	VMS_API_SBRK,
	VMS_API_SHM_OPEN,
	VMS_API_SHM_UNLINK,
	VMS_API_SHMGET,
	VMS_API_SHMAT,
	VMS_API_SHMDT,
	VMS_API_MADVISE,
	VMS_API_PTHREAD_CREATE,
	VMS_API_DLOPEN,
	VMS_API_DLCLOSE,
	VMS_API_FORK,
	VMS_API_VFORK,
	VMS_API__COUNT
};

/* Reachability categories, with memcheck's meaning. */
enum vms_leak_cat {
	VMS_LEAK_NONE = 0,
	VMS_LEAK_DEFINITE = 1, /* no pointer to the block anywhere */
	VMS_LEAK_INDIRECT = 2, /* reachable only from lost blocks */
	VMS_LEAK_POSSIBLE = 3, /* reachable only through interior pointers */
	VMS_LEAK_REACHABLE = 4, /* a pointer to its start from a root chain */
	VMS_LEAK__COUNT
};

/* Compressed snapshot files (see "Compressed snapshots" above). */
#define VMS_SNAPZ_SKIPPABLE 0x184D2A5Bu   /* zstd skippable frame magic */
#define VMS_SNAPZ_MAGIC_LINE "vmspy-snapshot-z 1"
#define VMS_SNAPZ_INFO_MAX 256

/* Snapshot reasons (VMS_REC_SNAPSHOT.reason and "reason" in snap.<n>). */
enum vms_snap_reason {
	VMS_SNAP_START = 0,
	VMS_SNAP_INTERVAL,
	VMS_SNAP_EXIT,
	VMS_SNAP_USER,
	VMS_SNAP_DLOPEN,
	VMS_SNAP_DLCLOSE,
	VMS_SNAP__COUNT
};

static const char *const vms_api_names[VMS_API__COUNT] = {
	"malloc", "calloc", "realloc", "reallocarray", "free",
	"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
	"mmap", "mmap64", "munmap", "mremap", "mprotect", "brk", "sbrk",
	"shm_open", "shm_unlink", "shmget", "shmat", "shmdt", "madvise",
	"pthread_create", "dlopen", "dlclose", "fork", "vfork",
};

static const char *const vms_snap_reason_names[VMS_SNAP__COUNT] = {
	"start", "interval", "exit", "user", "dlopen", "dlclose",
};

/* ---- varints ----------------------------------------------------------- */

#define VMS_VARINT_MAX 10 /* bytes for a 64-bit value */

/* Encode v at p; returns the number of bytes written (1..10).
 * pre: p has VMS_VARINT_MAX bytes of room. */
static inline size_t vms_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* The number of bytes vms_varint_put writes for v (1..10). */
static inline size_t vms_varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Encode v in exactly n bytes: a varint padded with continuation bytes
 * (0x80 | 0 bits), which every varint reader decodes to v.
 * pre: vms_varint_size(v) <= n <= VMS_VARINT_MAX. */
static inline void vms_varint_put_padded(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		p[i] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n - 1] = (uint8_t)v;
}

/* Decode a varint from [*p, end).  Returns 0 and advances *p on success,
 * -1 when the input ends first or the value does not fit 64 bits. */
static inline int vms_varint_get(const uint8_t **p, const uint8_t *end,
				 uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const uint8_t *q = *p;
	/* Fast paths: most values fit one byte; with ten bytes left no
	 * bounds check is needed inside the loop. */
	if (__builtin_expect(q < end && q[0] < 0x80, 1)) {
		*out = q[0];
		*p = q + 1;
		return 0;
	}
	if (end - q >= 2 && q[1] < 0x80) {
		*out = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
		*p = q + 2;
		return 0;
	}
	if (end - q >= VMS_VARINT_MAX) {
		for (unsigned i = 0; i < VMS_VARINT_MAX; i++) {
			uint8_t b = q[i];
			v |= (uint64_t)(b & 0x7f) << (7 * i);
			if (!(b & 0x80)) {
				if (i == VMS_VARINT_MAX - 1 && b > 1)
					return -1;
				*out = v;
				*p = q + i + 1;
				return 0;
			}
		}
		return -1;
	}
	while (q < end) {
		uint8_t b = *q++;
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*out = v;
			return 0;
		}
		shift += 7;
		if (shift > 63)
			return -1;
	}
	return -1;
}

/* vms_varint_get for a varint that must end before end, when the memory
 * up to lim (lim >= end) may be read: with ten bytes readable it decodes
 * without a bounds check per byte, then checks the end once.  For the
 * fields of a record body: end = the body's end, lim = the file's. */
static inline __attribute__((always_inline)) int
vms_varint_get_in(const uint8_t **p, const uint8_t *end, const uint8_t *lim,
		  uint64_t *out)
{
	const uint8_t *q = *p;
	uint64_t v;

	if (__builtin_expect(q < end && q[0] < 0x80, 1)) {
		*out = q[0];
		*p = q + 1;
		return 0;
	}
	if (lim - q < VMS_VARINT_MAX)
		return vms_varint_get(p, end, out);
	v = q[0] & 0x7f;
	for (unsigned i = 1; i < VMS_VARINT_MAX; i++) {
		uint64_t b = q[i];
		v |= (b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if ((i == VMS_VARINT_MAX - 1 && b > 1) || q + i >= end)
				return -1;
			*out = v;
			*p = q + i + 1;
			return 0;
		}
	}
	return -1;
}

static inline uint64_t vms_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t vms_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Encode a string (varint length, bytes).  pre: room for
 * VMS_VARINT_MAX + len bytes.  Returns bytes written. */
static inline size_t vms_string_put(uint8_t *p, const char *s, size_t len)
{
	size_t n = vms_varint_put(p, len);
	memcpy(p + n, s, len);
	return n + len;
}

/* Decode a string: *s points into the input (not NUL-terminated).
 * Returns 0 or -1 when the input is too short. */
static inline int vms_string_get(const uint8_t **p, const uint8_t *end,
				 const char **s, size_t *len)
{
	uint64_t n;
	if (vms_varint_get(p, end, &n) || n > (uint64_t)(end - *p))
		return -1;
	*s = (const char *)*p;
	*len = (size_t)n;
	*p += n;
	return 0;
}

#endif /* VMSPY_FORMAT_H */
