/* SPDX-License-Identifier: MIT */
/*
 * Reader of a recording's `leaks` file (format.h): the category the
 * recorder's exit-time reachability scan gave each heap block live when the
 * scan started.
 *
 * The file is hostile input.  Nothing is read outside it; a malformed file
 * is rejected with a one-line message naming the recording, the file and
 * the byte offset.  A file without its final "end" line (the scan was
 * interrupted, e.g. the process was killed meanwhile) is not an error: the
 * format says to ignore it, and the reader says so with `interrupted`.
 */
#ifndef VMSPY_LEAKFILE_H
#define VMSPY_LEAKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recording.h"

/* Largest block count accepted: a sanity bound far above any real process
 * (2^40 blocks of 16 bytes = 16 TiB of heap). */
#define VMS_LEAKFILE_MAX_BLOCKS (1ull << 40)

struct vms_leak_entry {
	uint64_t addr;
	uint8_t cat;              /* enum vms_leak_cat, 1..VMS_LEAK__COUNT-1 */
};

struct vms_leakfile {
	bool present;             /* the recording has a complete leaks file */
	bool interrupted;         /* a leaks file without "end": ignored */
	uint64_t seq;             /* seq taken when the scan started */
	struct vms_leak_entry *entries; /* sorted by addr, no duplicates */
	size_t nr;
};

/* Parse data[0..size) (the whole file; `what` names it in messages, e.g.
 * "recording 'r': leaks file 'leaks'").  Returns 0 with lf filled (present,
 * or interrupted with nr == 0), or -1 after vms_error, lf then empty.
 * lf needs vms_leakfile_release in both cases. */
int vms_leakfile_parse(struct vms_leakfile *lf, const uint8_t *data,
		       size_t size, const char *what);

/* Read rec's "leaks" file.  No file: 0 with present == false.  Otherwise as
 * vms_leakfile_parse. */
int vms_leakfile_read(struct vms_leakfile *lf, struct vms_recording *rec);

void vms_leakfile_release(struct vms_leakfile *lf);

/* Category of the block at addr, or VMS_LEAK_NONE when the scan did not
 * list it.  O(log nr). */
enum vms_leak_cat vms_leakfile_lookup(const struct vms_leakfile *lf,
				      uint64_t addr);

#endif /* VMSPY_LEAKFILE_H */
