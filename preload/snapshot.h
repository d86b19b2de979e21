/* SPDX-License-Identifier: MIT */
/*
 * Snapshots: copies of /proc/self/smaps plus the loaded modules (path, load
 * bias, build-id, PT_LOAD segments) into "snap.<n>" files of the recording
 * (format: include/vmspy/format.h), at start, every VMSPY_INTERVAL_MS from a
 * sampler thread, at exit and on vmspy_snapshot().
 *
 * Never on the event hot path.  Uses only raw syscalls and a private
 * anonymous buffer: it may run while the host holds its malloc lock.  Call
 * with the thread's guard set.
 */
#ifndef VMS_SNAPSHOT_H
#define VMS_SNAPSHOT_H

#include <stdint.h>

#include "prim.h"

#define VMS_BUILD_ID_HEX 129 /* 64 bytes of build-id as hex + NUL */

/* Writes the build-id (hex) of the module loaded at bias, or "" if none. */
VMS_HIDDEN void vms_module_build_id(uintptr_t bias, char out[VMS_BUILD_ID_HEX]);

/* Starts the recorder's background thread: interval snapshots and the
 * compression of sealed log chunks (no-op when VMSPY_INTERVAL_MS=0 and
 * VMSPY_COMPRESS=0). */
VMS_HIDDEN void vms_sampler_start(void);

/* 1 when the background thread was started in this process. */
VMS_HIDDEN int vms_sampler_running(void);

/* No snapshot starts after this, and the ones in progress have ended
 * (their buffers unmapped) when it returns 0; -1 after 5 s of waiting.
 * For the exit-time leak scan, which reads memory the sampler maps. */
VMS_HIDDEN int vms_snapshot_close(void);

/* Forgets snapshot numbering after fork (the child starts at snap.0). */
VMS_HIDDEN void vms_snapshot_reset(void);

#endif /* VMS_SNAPSHOT_H */
