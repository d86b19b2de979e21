/* SPDX-License-Identifier: MIT */
/*
 * Compression of sealed log chunks, off the host's hot path (format:
 * include/vmspy/format.h, "Compressed chunks").
 *
 * When a lane moves on to its next chunk (log.c), the previous chunk is
 * sealed and vms_compress_kick() wakes the recorder's background thread
 * (the sampler, snapshot.c), which compresses it with zstd, appends it as a
 * frame to "log.<n>.z" and only then punches the chunk's blocks out of
 * "log.<n>".  The chunk being written always stays raw, so a crash loses
 * nothing: every record is in the raw chunk or in a complete frame.
 *
 * Fail soft: when anything goes wrong (no memory, a zstd error, a full
 * disk, a file system without hole punching) the chunk simply stays raw.
 * Memory comes from raw anonymous mmaps (never the host's malloc); the zstd
 * contexts live in them (static contexts).  Call with the guard set.
 *
 * Also here: reading a lane's frames back (vms_zsrc), for the exit-time
 * leak scan, which replays the logs inside the host.
 */
#ifndef VMS_COMPRESS_H
#define VMS_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "prim.h"

/* A chunk of lane l was sealed (l->sealed was just published): wake the
 * compressor.  One futex wake; a no-op when compression is off. */
VMS_HIDDEN void vms_compress_kick(void);

/* The background thread's wait: compresses sealed chunks as they come,
 * returns after ms milliseconds (ms 0: never returns).  With compression
 * off, a plain sleep. */
VMS_HIDDEN void vms_compress_wait_ms(unsigned ms);

/* 1 when compression is configured on (the background thread is needed
 * even with VMSPY_INTERVAL_MS=0). */
VMS_HIDDEN int vms_compress_enabled(void);

/* At exit: makes sure the background thread compresses nothing from now
 * on (waits for the chunk in progress, if any).  Returns 0, or -1 when the
 * thread did not let go within seconds (then chunks may still change under
 * a reader).  The caller then owns the compressor: see vms_compress_drain. */
VMS_HIDDEN int vms_compress_stop(void);

/* After a successful vms_compress_stop: compresses the chunks sealed and
 * not yet compressed, for at most budget_ms milliseconds (the rest stay
 * raw). */
VMS_HIDDEN void vms_compress_drain(unsigned budget_ms);

/* In a fork child: no background thread, nothing in progress. */
VMS_HIDDEN void vms_compress_reset(void);

/* ---- reading frames back (the leak scan) ------------------------------- */

/* The frames of one lane's sidecar, indexed by chunk. */
struct vms_zsrc {
	int64_t *at;        /* chunk -> offset of its frame header, -1: none */
	size_t nchunks;
	size_t at_len;      /* bytes mapped for at */
	uint8_t *buf;       /* one compressed frame */
	size_t buf_cap;
	void *dctx_mem;     /* the static zstd decompression context */
	size_t dctx_len;
	int fd;             /* the sidecar, -1 when absent */
	size_t chunk_size;
	size_t frames;
};

/* Opens the sidecar of lane l (whose log file is log_size bytes long) and
 * indexes its complete frames.  Returns 0 (also when there is no sidecar:
 * then no chunk has a frame) or -1 when out of memory. */
VMS_HIDDEN int vms_zsrc_open(struct vms_zsrc *z, const struct vms_lane *l,
			     size_t chunk_size, size_t log_size);

/* 1 when chunk k has a frame. */
static inline int vms_zsrc_has(const struct vms_zsrc *z, size_t k)
{
	return k < z->nchunks && z->at[k] >= 0;
}

/* Decompresses chunk k's frame into dst (chunk_size bytes).  Returns 0, or
 * -1 when the frame cannot be read or does not decompress to exactly one
 * chunk (dst is then undefined). */
VMS_HIDDEN int vms_zsrc_fetch(struct vms_zsrc *z, size_t k, uint8_t *dst);

VMS_HIDDEN void vms_zsrc_close(struct vms_zsrc *z);

#endif /* VMS_COMPRESS_H */
