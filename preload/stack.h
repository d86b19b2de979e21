/* SPDX-License-Identifier: MIT */
/*
 * Call stack capture with libunwind (unw_backtrace, per-thread cache).
 * Called with the thread's guard set: libunwind's own mmaps and pipe are
 * then never recorded.  Never unwinds when the caller is ld.so (libunwind's
 * TLS access would re-enter the loader: the double free DESIGN.md records).
 */
#ifndef VMS_STACK_H
#define VMS_STACK_H

#include <stdint.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "prim.h"
#include "recorder.h"

#define VMS_MAX_DEPTH 256
#define VMS_STACK_SLACK 16

/* One-time set-up (caching policy); call with the guard set. */
VMS_HIDDEN void vms_stack_init(void);

/* Fills frames[0..) with return addresses, innermost first, vmspy's own
 * frames dropped, at most max (<= VMS_MAX_DEPTH); frames must have room for
 * max + VMS_STACK_SLACK entries.  ra is the hook's return
 * address: when it lies in ld.so, only ra is returned.  Returns the count.
 *
 * Always inlined, and so should its callers be on the hot path: every
 * frame of vmspy's between the hook and unw_backtrace is one more step
 * for the unwinder (~15 ns each), only to be dropped. */
static inline __attribute__((always_inline)) uint32_t
vms_stack_capture(uint64_t *frames, uint32_t max, const void *ra)
{
	uintptr_t r = (uintptr_t)ra;
	if (r >= vms_ranges.ldso_lo && r < vms_ranges.ldso_hi) {
		frames[0] = r;
		return 1;
	}
	/* frames has room for max + VMS_STACK_SLACK entries: vmspy's own
	 * frames are captured too and then dropped. */
	int n = unw_backtrace((void **)(void *)frames,
			      (int)(max + VMS_STACK_SLACK));
	int skip = 0;
	while (skip < n && frames[skip] >= vms_ranges.self_lo &&
	       frames[skip] < vms_ranges.self_hi)
		skip++;
	uint32_t out = (uint32_t)(n - skip);
	if (out > max)
		out = max;
	if (!out) {
		/* The unwinder failed: keep at least the caller. */
		frames[0] = r;
		return 1;
	}
	if (skip)
		memmove(frames, frames + skip, out * sizeof(*frames));
	return out;
}

#endif /* VMS_STACK_H */
