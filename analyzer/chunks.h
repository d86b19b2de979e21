/* SPDX-License-Identifier: MIT */
/*
 * Where a log's chunk bytes come from: the raw log file, or the frame of
 * its sidecar "log.<n>.z" when the recorder compressed the chunk and
 * punched it out of the log (format.h, "Compressed chunks").
 *
 * The log stays one read-only mapping addressed by file offset (the record
 * decoder does not know chunks exist): when a reader enters a compressed
 * chunk, the frame is decompressed into anonymous memory that is moved over
 * the chunk's place in the mapping.  One such chunk is kept per log (the
 * previous one is given back when the next is fetched), so memory stays one
 * chunk per log however large the recording.  Consequence: two readers of
 * one log must not be interleaved (none are: every pass reads a log start
 * to end before the next).
 *
 * The sidecar is hostile input like everything else: frames are checked
 * (header checksum, lane, lengths, a zstd frame of exactly one chunk with
 * its content checksum), damaged ones are skipped, and a chunk whose frame
 * and raw bytes disagree stops the log with a message.
 */
#ifndef VMSPY_CHUNKS_H
#define VMSPY_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vms_logfile;

struct vms_zentry {
	uint64_t chunk;
	uint64_t at;            /* offset of the frame header in the sidecar */
};

struct vms_chunks {
	int dirfd;              /* the recording's (borrowed) */
	char name[32];          /* "log.<n>.z" */
	const uint8_t *data;    /* the sidecar, read-only; NULL if empty */
	size_t size;
	size_t chunk_size;
	struct vms_zentry *frames; /* sorted by chunk, then offset */
	size_t nr_frames;
	size_t win_lo, win_hi;  /* file offsets that need no fetch */
	size_t live;            /* chunk whose frame is in the mapping, or
				 * SIZE_MAX */
	char *note;             /* the first problem met in the sidecar */
	bool live_copy;         /* a chunk read raw is read from a private
				 * copy: a recorder still running may punch
				 * it out */
	void *dctx;
	uint8_t *raw;           /* scratch for comparing with raw bytes */
	/* The memory of the chunk before the live one, kept for the next
	 * (its pages are there already: no page faults, no zeroing), or
	 * NULL */
	uint8_t *spare;
	size_t spare_len;
};

/* Sets up log->chunks for a log whose header was accepted: indexes the
 * sidecar when there is one.  Never fails: a sidecar that cannot be used
 * is noted (and its chunks are then missing if they were punched out).
 * may_compress: the recording says its chunks may be compressed (meta
 * "compress"): then a chunk read raw is first copied, so that a recorder
 * still running cannot punch it out from under the reader. */
void vms_chunks_open(struct vms_logfile *log, int dirfd, bool may_compress);
void vms_chunks_release(struct vms_logfile *log);

/* Makes the bytes at file offset `at` of the log readable as they were
 * written.  Returns 0, or -1 with *why set (malloc'd, e.g. "chunk 3 is a
 * hole and 'log.0.z' has no frame for it") when that chunk is lost or its
 * frame and raw bytes disagree: the log cannot be read past it. */
int vms_chunks_fetch(const struct vms_logfile *log, size_t at, char **why);

/* The records of the log end at file offset `at` (an all-zero word).
 * Returns 0 when that is a genuine end, or -1 with *why (malloc'd) when a
 * chunk was lost there (punched out, no usable frame) while later chunks
 * still have records. */
int vms_chunks_check_end(const struct vms_logfile *log, size_t at, char **why);

#endif /* VMSPY_CHUNKS_H */
