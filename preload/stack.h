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

#include "prim.h"

#define VMS_MAX_DEPTH 256
#define VMS_STACK_SLACK 16

/* One-time set-up (caching policy); call with the guard set. */
VMS_HIDDEN void vms_stack_init(void);

/* Fills frames[0..) with return addresses, innermost first, vmspy's own
 * frames dropped, at most max (<= VMS_MAX_DEPTH); frames must have room for
 * max + VMS_STACK_SLACK entries.  ra is the hook's return
 * address: when it lies in ld.so, only ra is returned.  Returns the count. */
VMS_HIDDEN uint32_t vms_stack_capture(uint64_t *frames, uint32_t max,
				      const void *ra);

#endif /* VMS_STACK_H */
