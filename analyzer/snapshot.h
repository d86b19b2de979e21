/* SPDX-License-Identifier: MIT */
/*
 * Parsed snapshot files ("snap.<n>", see format.h): the header lines, the
 * module list with its PT_LOAD segments, optional pagemap summaries, and the
 * raw /proc/self/smaps text split into regions with their counters.
 *
 * The parser treats the file as hostile: every problem is one message that
 * names the file and the byte offset.  A file cut short (no "smaps" line, an
 * unterminated last line, a last region without VmFlags) is not an error: it
 * is marked `interrupted` and keeps everything read before the cut.
 */
#ifndef VMSPY_SNAPSHOT_H
#define VMSPY_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vms_snap_segment {
	uint64_t start, end;  /* absolute addresses */
	unsigned prot;        /* PROT_READ | PROT_WRITE | PROT_EXEC */
};

struct vms_snap_module {
	uint64_t bias;        /* load bias */
	char *build_id;       /* lowercase hex, NULL when recorded as '-' */
	char *path;           /* unescaped */
	size_t first_segment; /* index into vms_snapshot.segments */
	size_t nr_segments;
};

/* A "pagemap" line: which 4 KiB pages of [start, end) were present in RAM
 * or swapped.  bitmap holds the hex digits as written (4 pages a digit,
 * lowest page in the lowest bit of the first digit), NOT NUL-terminated;
 * bitmap_len may be 0 (an older recorder), then only resident_pages is
 * known.  Query it with vms_snap_pagemap_page(). */
struct vms_snap_pagemap {
	uint64_t start, end;
	uint64_t resident_pages;
	char *bitmap;
	size_t bitmap_len;
};

#define VMS_SNAP_PAGEMAP_PAGE 4096ull

/* 1 when page `index` (from pm->start, in 4 KiB pages) was resident, 0 when
 * not, -1 when the bitmap does not say (absent or too short). */
int vms_snap_pagemap_page(const struct vms_snap_pagemap *pm, uint64_t index);

/* One smaps region.  All counters are in bytes (smaps says kB). */
struct vms_smaps_region {
	uint64_t start, end;
	char perms[5];        /* "rw-p" */
	uint64_t offset;
	unsigned dev_major, dev_minor;
	uint64_t inode;
	char *path;           /* as printed by the kernel (may end in
			       * " (deleted)", may be "[heap]"); "" if none */
	uint64_t size, rss, pss, pss_dirty;
	uint64_t shared_clean, shared_dirty, private_clean, private_dirty;
	uint64_t anonymous, anon_huge_pages, swap, swap_pss, locked;
	int thp_eligible;     /* 0, 1, or -1 when the field was absent */
	char *vm_flags;       /* e.g. "rd wr mr mw me ac sd"; "" if absent */
};

/* An anonymous mapping the recorder made for itself ("recorder_map"). */
struct vms_snap_own {
	uint64_t start, end;
	char *what;           /* e.g. "stack table", "libunwind cache" */
};

struct vms_snapshot {
	uint32_t index;       /* n of snap.<n> */
	uint64_t seq;
	uint64_t time_ns;     /* CLOCK_MONOTONIC */
	int reason;           /* enum vms_snap_reason, -1 when unknown */
	char *reason_name;    /* as written ("" when absent) */
	char *label;          /* unescaped, NULL unless reason user */

	struct vms_snap_module *modules;
	size_t nr_modules, alloc_modules;
	struct vms_snap_segment *segments;
	size_t nr_segments, alloc_segments;
	struct vms_snap_pagemap *pagemap;
	size_t nr_pagemap, alloc_pagemap;

	uint64_t recorder_lo, recorder_hi; /* "recorder_thread" stack, 0 when
					    * absent */
	struct vms_snap_own *own;  /* "recorder_map" lines: vmspy's own */
	size_t nr_own, alloc_own;  /* anonymous mappings */

	bool has_smaps;       /* smaps regions were parsed */
	struct vms_smaps_region *regions;
	size_t nr_regions, alloc_regions;

	bool interrupted;     /* cut short while it was written */
};

/* Parse a snapshot from memory.  `name` is used in messages (e.g.
 * "snap.3"); with `want_smaps` false, parsing stops at the "smaps" line.
 * On error returns -1 and sets *err to an allocated one-line message like
 * "snapshot 'snap.3' corrupt at offset 120: bad module line" (no "vmspy:"
 * prefix); the caller frees it.  snap is then released.
 * pre: snap is zeroed. */
int vms_snapshot_parse(struct vms_snapshot *snap, const char *name,
		       const char *text, size_t len, bool want_smaps,
		       char **err);
void vms_snapshot_release(struct vms_snapshot *snap);

/* Compressed snapshot files (format.h, "Compressed snapshots"). */

/* True when the file data starts like a compressed snapshot. */
bool vms_snapshot_is_compressed(const char *data, size_t len);

/* Reads the info frame of a compressed snapshot: *ref is the number of
 * the snapshot whose text is the reference, -1 for none; *frame_at is the
 * offset of the zstd frame.  Returns 0, or -1 with *err set as for
 * vms_snapshot_parse. */
int vms_snapshot_zinfo(const char *name, const char *data, size_t len,
		       int64_t *ref, size_t *frame_at, char **err);

/* Decompresses the zstd frame at data + frame_at (the rest of the file)
 * with ref[0, ref_len) as its reference prefix (ref NULL: none) into a
 * malloc'd, NUL-terminated *out of *out_len bytes, at most max.  A frame
 * cut short is not an error: *truncated is set and *out holds what was
 * decoded.  Returns 0, or -1 with *err set (corrupt data, a wrong
 * reference, trailing bytes, more than max). */
int vms_snapshot_decompress(const char *name, const char *data, size_t len,
			    size_t frame_at, const char *ref, size_t ref_len,
			    size_t max, char **out, size_t *out_len,
			    bool *truncated, char **err);

#endif /* VMSPY_SNAPSHOT_H */
