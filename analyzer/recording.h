/* SPDX-License-Identifier: MIT */
/*
 * An opened recording directory (format.h): its parsed `meta`, its thread
 * logs mapped read-only with validated headers, and its snapshot files,
 * parsed lazily on request.
 *
 * Opening fails (-1 after vms_error) only when nothing can be trusted: not a
 * directory, no readable `meta`, a `meta` of another format.  A damaged log
 * does not make the open fail: the log is kept with `error` set, so reports
 * can still use the other lanes and say what was wrong.
 */
#ifndef VMSPY_RECORDING_H
#define VMSPY_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmspy/format.h"
#include "chunks.h"
#include "snapshot.h"

struct vms_meta {
	char *vmspy_version;        /* NULL when absent (same for strings below) */
	uint64_t pid, ppid;
	char *exe;
	size_t argc;                /* entries in argv */
	char **argv;                /* argv[i] NULL when that index is absent */
	bool argv_redacted;
	uint64_t start_realtime_ns, start_monotonic_ns;
	uint64_t page_size;         /* 4096 when absent */
	char *parent, *predecessor;
	uint64_t depth, interval_ms;
	uint64_t sample_bytes;      /* VMSPY_SAMPLE_BYTES; 0: every call */
	bool compress;              /* "compress" line: chunks may be
				     * compressed (and punched) */
};

struct vms_logfile {
	uint32_t lane;              /* n of log.<n> */
	char name[24];              /* "log.<n>" */
	const uint8_t *data;        /* whole file, read-only; NULL if empty */
	size_t size;
	struct vms_log_header header; /* valid when !error */
	/* NULL, or why the log cannot be read at all, e.g. "log 'log.3'
	 * truncated at offset 0: 12 bytes, the header needs 64" */
	char *error;
	/* Where chunk bytes come from (chunks.h): NULL when the log is read
	 * raw only (no usable chunk size). */
	struct vms_chunks *chunks;
};

/* Makes the log's bytes at file offset `at` readable (they may be in a
 * compressed frame, chunks.h): 0, or -1 with *why (malloc'd) when the
 * chunk holding them is lost.  Call before reading a record at `at`. */
static inline int vms_logfile_need(const struct vms_logfile *log, size_t at,
				   char **why)
{
	const struct vms_chunks *c = log->chunks;
	if (!c || (at >= c->win_lo && at < c->win_hi))
		return 0;
	return vms_chunks_fetch(log, at, why);
}

struct vms_snapfile {
	uint32_t index;             /* n of snap.<n> */
	char name[24];
	int loaded;                 /* 0 no, 1 header only, 2 with smaps */
	bool failed;                /* unreadable, said once */
	struct vms_snapshot snap;
};

struct vms_recording {
	char *path;                 /* as given */
	int dirfd;
	struct vms_meta meta;
	struct vms_logfile *logs;   /* sorted by lane; lanes may have gaps */
	size_t nr_logs;
	struct vms_snapfile *snaps; /* sorted by index */
	size_t nr_snaps;
	bool has_leaks_file;
	/* The text of the last compressed snapshot decoded (the reference of
	 * the next one): snaps[snapz_at], snapz_len bytes; NULL: none. */
	char *snapz_text;
	size_t snapz_len;
	size_t snapz_at;
	bool snapz_cut;             /* that file was cut short */
};

/* Open the recording at `path`.  On failure: -1 after a one-line vms_error
 * naming the recording, and *rec needs no release. */
int vms_recording_open(struct vms_recording *rec, const char *path);
void vms_recording_release(struct vms_recording *rec);

/* Parse snaps[i] (once; results are cached in rec->snaps[i].snap).  With
 * want_smaps false only the header, modules, segments and pagemap lines
 * are parsed.  Returns the snapshot, or NULL after vms_error naming the
 * recording, the file and the byte offset (said once: later calls for the
 * same file return NULL quietly). */
const struct vms_snapshot *vms_recording_snapshot(struct vms_recording *rec,
						  size_t i, bool want_smaps);

/* Printable name of the recording for messages (its path). */
static inline const char *vms_recording_name(const struct vms_recording *rec)
{
	return rec->path;
}

#endif /* VMSPY_RECORDING_H */
