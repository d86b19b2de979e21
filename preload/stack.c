/* SPDX-License-Identifier: MIT */
/*
 * Stack capture (contract in stack.h).  Runs on the hot path of every
 * allocation: one unw_backtrace call, then a scan that drops the frames
 * that belong to libvmspy itself.
 */
#define UNW_LOCAL_ONLY
#include "stack.h"

#include <libunwind.h>
#include <string.h>

#include "recorder.h"

void vms_stack_init(void)
{
	/* Must run with the guard set: libunwind holds its init lock while
	 * it mmaps, and an unguarded mmap hook would unwind and take the
	 * same lock (the start-up deadlock in DESIGN.md). */
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

static int in_range(uintptr_t a, uintptr_t lo, uintptr_t hi)
{
	return a >= lo && a < hi;
}

uint32_t vms_stack_capture(uint64_t *frames, uint32_t max, const void *ra)
{
	uintptr_t r = (uintptr_t)ra;
	if (in_range(r, vms_ranges.ldso_lo, vms_ranges.ldso_hi)) {
		frames[0] = r;
		return 1;
	}
	/* frames has room for max + VMS_STACK_SLACK entries: vmspy's own
	 * frames are captured too and then dropped. */
	int n = unw_backtrace((void **)(void *)frames,
			      (int)(max + VMS_STACK_SLACK));
	int skip = 0;
	while (skip < n && in_range((uintptr_t)frames[skip], vms_ranges.self_lo,
				    vms_ranges.self_hi))
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
