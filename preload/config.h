/* SPDX-License-Identifier: MIT */
/*
 * Recorder configuration from VMSPY_* environment variables, read once at
 * start-up (never from a hook).  A bad value gives one line on stderr and
 * the default; the host keeps running.
 */
#ifndef VMS_CONFIG_H
#define VMS_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "prim.h"

struct vms_config {
	char out[PATH_MAX];  /* VMSPY_OUT, made absolute; "" = default name */
	unsigned depth;      /* VMSPY_DEPTH, 1..256, default 64 */
	unsigned interval_ms; /* VMSPY_INTERVAL_MS, 0 = off, default 1000 */
	int snap_skip;        /* VMSPY_SNAP_SKIP: skip interval snapshots
			       * when statm did not move (snapshot.c) */
	int follow;          /* VMSPY_FOLLOW, default 1 */
	int quiet;           /* VMSPY_QUIET, default 0 */
	int leak_scan;       /* VMSPY_LEAK_SCAN, default 1 */
	int redact_argv;     /* VMSPY_REDACT_ARGV, default 0 */
	size_t chunk_size;   /* VMSPY_CHUNK_KB * 1024, default 256 KiB */
	uint64_t sample_bytes; /* VMSPY_SAMPLE_BYTES, 0 = record everything */
	int compress;        /* VMSPY_COMPRESS: 0 raw, 1 sealed chunks that
			      * compress well (default), 2 every one */
	int compress_level;  /* VMSPY_COMPRESS_LEVEL, zstd level -100..9 */
};

/* The default zstd level for sealed chunks, chosen by measurement (see
 * README, "Recording size"). */
#define VMS_COMPRESS_LEVEL 1

extern struct vms_config vms_config VMS_HIDDEN;

/* Fills vms_config from the environment. */
VMS_HIDDEN void vms_config_load(void);

#endif /* VMS_CONFIG_H */
