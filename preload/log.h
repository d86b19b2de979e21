/* SPDX-License-Identifier: MIT */
/*
 * A log lane: one file "log.<n>" of a recording, written by one thread at a
 * time through MAP_SHARED chunks (format: include/vmspy/format.h).
 *
 * Writing a record is a few memory stores: reserve room, fill the body,
 * publish the header byte with a release store.  The only slow path is
 * chunk growth (once per chunk): the file is extended with posix_fallocate,
 * so a full disk is an error here and never a SIGBUS later, and the new
 * chunk is mapped with MAP_POPULATE so its pages are not faulted in on the
 * hot path.  Because the mapping is shared, every published record is in the
 * page cache the moment it is written: a crash or SIGKILL loses only the
 * record in flight.
 *
 * Never allocates, never locks; single writer per lane.
 */
#ifndef VMS_LOG_H
#define VMS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <vmspy/format.h>

#include "intern.h"
#include "prim.h"

/* Room kept at the end of every chunk for a final DISABLED record. */
#define VMS_LOG_TAIL_RESERVE 32
/* The largest record body the recorder ever writes (a STACK of 256 frames,
 * or a DLOPEN with two PATH_MAX paths, plus varints). */
#define VMS_LOG_MAX_RECORD 16384

enum vms_lane_state { VMS_LANE_UNUSED = 0, VMS_LANE_OWNED, VMS_LANE_RETIRED };

/* An allocator call made by ld.so while this thread was unwinding for
 * another event (libunwind's TLS access can make the loader update the
 * thread's DTV, which allocates and frees): it happened, so it is recorded,
 * right after the event being written. */
struct vms_deferred {
	uint8_t type;       /* VMS_REC_ALLOC or VMS_REC_FREE */
	uint8_t api;
	uint64_t seq;
	uint64_t addr, size, old, ra;
};
#define VMS_MAX_DEFERRED 16

struct vms_lane {
	uint32_t index;
	int state;          /* enum vms_lane_state, atomic */
	pid_t owner_tid;
	uint64_t stack_lo, stack_hi; /* the owner's stack, 0 if unknown */
	int disabled;       /* set on a write error: nothing more is written */
	uint8_t *chunk;     /* current chunk mapping, or NULL */
	size_t pos;         /* next record offset in the chunk */
	size_t limit;       /* end of usable room in the chunk */
	size_t reserved;    /* bytes of the chunk with blocks reserved */
	uint64_t chunk_off; /* file offset of the chunk */
	size_t chunk_size;
	uint64_t prev_seq;  /* delta state, see format.h */
	uint64_t clock;     /* the last seq its owners took (recorder.c) */
	uint64_t prev_addr;
	uint64_t last_time; /* coarse ns of the last TIME record */
	uint64_t records;
	/* Chunks 0 .. sealed-1 are sealed (never written again): published
	 * with a release store after the switch to the next chunk.  The
	 * compressor (compress.h) owns zdone, the next chunk it looks at, and
	 * zoff, set when it gave up on this lane. */
	uint64_t sealed;
	uint64_t zdone;
	int zoff;
	uint32_t zskip;     /* sealed chunks to leave raw (compress.c) */
	struct vms_intern intern;
	struct vms_deferred deferred[VMS_MAX_DEFERRED];
	uint32_t ndeferred;
	const char *dir;    /* the recording directory (log.<index> in it) */
	/* Scratch for the owner's stack capture and file names: kept here,
	 * not on the stack, because hooks may run on a small signal stack. */
	uint64_t frames[256 + 16];
	char name[4096];
};

/* The lane's file name into buf ("" if it does not fit). */
VMS_HIDDEN void vms_lane_path(const struct vms_lane *l, char *buf, size_t cap);

/* Creates the lane's file (O_EXCL, 0600, never through a symlink), writes
 * the file header and maps the first chunk.  Returns 0, or -1 with errno. */
VMS_HIDDEN int vms_lane_create(struct vms_lane *l, const char *dir,
			       uint32_t index, size_t chunk_size, pid_t pid);

/* Drops the lane's mappings (after fork: the parent's file is not ours). */
VMS_HIDDEN void vms_lane_forget(struct vms_lane *l);

/* Header bytes in front of a body of at most max bytes: the header byte,
 * then for a type without a compact header the length, padded to the size
 * of max.  A type with a compact header gets 1: its body is written right
 * behind the header byte, and moved in the rare case that it turns out
 * longer than a compact header allows (vms_lane_commit). */
static inline size_t vms_lane_head_room(unsigned type, size_t max)
{
	return vms_rec_compact_code(type) >= 0 ? 1 : 1 + vms_varint_size(max);
}

/* Room a record needs in the chunk, whatever its header turns out to be. */
static inline size_t vms_lane_need(size_t max)
{
	return 1 + vms_varint_size(max) + max;
}

/* Returns room for a record of this type with a body of up to max bytes,
 * or NULL when the lane is disabled or cannot grow (it is then disabled,
 * with one note on stderr).  The body goes at the returned pointer; then
 * vms_lane_commit with the same type and pointer.  Nothing else may be
 * written to the lane in between. */
VMS_HIDDEN uint8_t *vms_lane_grow(struct vms_lane *l, size_t room,
				  size_t max);
static inline uint8_t *vms_lane_reserve(struct vms_lane *l, unsigned type,
					size_t max)
{
	size_t room = vms_lane_head_room(type, max);
	if (VMS_LIKELY(l->chunk && l->pos + vms_lane_need(max) <= l->limit))
		return l->chunk + l->pos + room;
	return vms_lane_grow(l, room, max);
}

/* Publishes the record whose body (len bytes) was written at body, the
 * pointer vms_lane_reserve returned: a full header's length first, then
 * the header byte (a compact one holds the length) with a release store. */
static inline void vms_lane_commit(struct vms_lane *l, unsigned type,
				   uint8_t *body, size_t len)
{
	uint8_t *h = l->chunk + l->pos;
	size_t room = (size_t)(body - h);
	int code = vms_rec_compact_code(type);
	uint8_t byte = (uint8_t)type;
	if (code >= 0) {
		if (VMS_LIKELY(len <= VMS_REC_COMPACT_MAX)) {
			byte = VMS_REC_COMPACT_HDR(code, len);
		} else {
			/* Too long for a compact header: make room for the
			 * length.  vms_lane_reserve kept room for it. */
			room = 1 + vms_varint_size(len);
			memmove(h + room, body, len);
			vms_varint_put(h + 1, len);
		}
	} else {
		vms_varint_put_padded(h + 1, len, room - 1);
	}
	vms_atomic_store_release(h, byte);
	l->pos += room + len;
	l->records++;
}

/* Writes a DISABLED record into the tail reserve and disables the lane. */
VMS_HIDDEN void vms_lane_disable(struct vms_lane *l, uint64_t seq, int err);

/* At exit: gives the reserved blocks of the current chunk back to the file
 * system past the last record plus slack bytes (rounded up to 4 KiB), and
 * lowers the lane's limit so that later records go before the hole or to
 * a new chunk.  Only the lane's writer may call it: its owner thread, or
 * whoever took a lane no live thread owns. */
VMS_HIDDEN void vms_lane_trim(struct vms_lane *l, size_t slack);

/* At exit: seals the current chunk (so the compressor can take it) and
 * moves the lane on to a new one with a page reserved; the sealed chunk's
 * zero tail is given back.  Same callers as vms_lane_trim.  0, or -1 with
 * nothing changed. */
VMS_HIDDEN int vms_lane_seal(struct vms_lane *l);

#endif /* VMS_LOG_H */
