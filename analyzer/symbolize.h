/* SPDX-License-Identifier: MIT */
/*
 * Symbols for a whole recording: one symtab (symbols.h) built from every
 * module the recording saw — the modules of every snapshot, plus those that
 * DLOPEN records name (a library loaded and closed between two snapshots) —
 * and a helper that expands a recorded stack into symbolized frames.
 *
 * The reports (summary, leaks, maps, diff) share this so that "which frame
 * is shown first" is decided in one place.
 */
#ifndef VMSPY_SYMBOLIZE_H
#define VMSPY_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

#include "recording.h"
#include "stacks.h"
#include "symbols.h"

struct vms_symbolizer;

/* Collects the modules of every snapshot of rec (headers only, no smaps).
 * Never fails on missing binaries; NULL only when a snapshot cannot be
 * parsed at all (after vms_error).  The symtab itself is built on the first
 * lookup. */
struct vms_symbolizer *vms_symbolizer_new(struct vms_recording *rec);
void vms_symbolizer_free(struct vms_symbolizer *s);

/* Adds a module named by a DLOPEN record (before the first lookup). */
void vms_symbolizer_add_module(struct vms_symbolizer *s, const char *path,
			       uint64_t bias, const char *build_id_hex);

/* While a replay interns stacks into `stacks`, prepare on a helper thread
 * the modules their first `depth` frames (0: all) fall in (see
 * symbolize.c), so that the first lookups after the replay find them
 * ready.  Nothing changes in what
 * lookups return.  `stacks` must stay valid until the first lookup or
 * vms_symbolizer_free.  Does nothing when the thread cannot be started or
 * the symtab exists already. */
void vms_symbolizer_prewarm(struct vms_symbolizer *s,
			    const struct vms_stacks *stacks, size_t depth);

/* Expands frames[0..n) (return addresses, innermost first, as recorded:
 * frame 0 is the allocator's caller) into at most max symbolized frames,
 * inlined frames included, innermost first.  Returns the number written.
 * The frames point into the symtab's cache: valid until _free. */
size_t vms_symbolize_stack(struct vms_symbolizer *s, const uint64_t *frames,
			   size_t n, struct vms_sym_frame *out, size_t max);

/* One frame of frames[] as "function (file:line)" etc., into buf. */
void vms_symbolize_one(struct vms_symbolizer *s, uint64_t addr, char *buf,
		       size_t len);

#endif /* VMSPY_SYMBOLIZE_H */
