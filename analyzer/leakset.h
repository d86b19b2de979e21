/* SPDX-License-Identifier: MIT */
/*
 * The unfreed heap blocks of a replayed recording, each with its leak kind,
 * grouped into sites (kind, call stack).  Shared by `vmspy leaks` (which
 * prints the sites) and the `vmspy run` headline (which prints the totals).
 *
 * How a block live at the end of the replay gets its kind:
 *   - the recording has a complete leaks file (a clean exit with the scan):
 *     a block allocated before the scan's seq takes the category the scan
 *     gave its address;
 *   - a block the scan did not classify (allocated after the scan started:
 *     at-exit code such as libc's own destructors and stdio; or, rarely, a
 *     block whose record was still being written by another thread when the
 *     scan replayed the logs) is counted as still reachable, and also in
 *     `unscanned`, so reports can say so.  Exit-time code allocates what
 *     the process drops a moment later, like libc's buffers that memcheck
 *     calls still reachable; calling it lost would fail CI gates on clean
 *     programs, calling it unfreed would claim the process did not exit;
 *   - no complete leaks file (crash, SIGKILL, VMSPY_LEAK_SCAN=0, a scan cut
 *     short): every live block is VMS_KIND_UNFREED, reachability unknown.
 */
#ifndef VMSPY_LEAKSET_H
#define VMSPY_LEAKSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "leakfile.h"

/* Report order (most serious first). */
enum vms_leak_kind {
	VMS_KIND_DEFINITE = 0,
	VMS_KIND_INDIRECT,
	VMS_KIND_POSSIBLE,
	VMS_KIND_REACHABLE,
	VMS_KIND_UNFREED,
	VMS_KIND__COUNT
};

/* "definitely_lost", ... (the JSON keys) and memcheck's words
 * ("definitely lost", ..., "unfreed"). */
extern const char *const vms_leak_kind_keys[VMS_KIND__COUNT];
extern const char *const vms_leak_kind_words[VMS_KIND__COUNT];

struct vms_leak_total {
	uint64_t bytes, blocks;
};

struct vms_leak_site {
	enum vms_leak_kind kind;
	vms_stack_id stack;       /* global stack id (0 = no stack recorded) */
	uint64_t bytes, blocks;
};

struct vms_leakset {
	bool scanned;             /* a complete leaks file was used */
	bool scan_interrupted;    /* a leaks file without its "end" line */
	uint64_t scan_seq;
	struct vms_leak_total totals[VMS_KIND__COUNT];
	struct vms_leak_total unscanned; /* included in REACHABLE */
	struct vms_leak_site *sites;     /* bytes descending, then kind,
					  * then stack id */
	size_t nr_sites;
};

/* Classify the blocks live at the end of a's replay (run it first).  Reads
 * the recording's leaks file; a corrupt one is an error: -1 after
 * vms_error, ls then needs no release.  An interrupted one is ignored
 * (scan_interrupted, every block unfreed). */
int vms_leakset_build(struct vms_leakset *ls, struct vms_analysis *a);
void vms_leakset_release(struct vms_leakset *ls);

/* Bytes and blocks that are lost for sure: definitely + indirectly. */
struct vms_leak_total vms_leakset_lost(const struct vms_leakset *ls);

#endif /* VMSPY_LEAKSET_H */
