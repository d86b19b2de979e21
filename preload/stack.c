/* SPDX-License-Identifier: MIT */
/*
 * Stack capture set-up (contract in stack.h; the capture itself is inline
 * there, to keep vmspy's frames between a hook and the unwinder few).
 */
#include "stack.h"

#include "recorder.h"

void vms_stack_init(void)
{
	/* Must run with the guard set: libunwind holds its init lock while
	 * it mmaps, and an unguarded mmap hook would unwind and take the
	 * same lock (the start-up deadlock in DESIGN.md). */
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}
