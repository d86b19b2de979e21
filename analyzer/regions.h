/* SPDX-License-Identifier: MIT */
/*
 * The mappings the application made itself (mmap, mremap, shmat), as an
 * interval map: a sorted array of non-overlapping [start, end) regions that
 * supports partial unmapping (splits), MAP_FIXED overwrite and permission
 * changes.  Live bytes are kept per kind.
 *
 * Cost: lookups are O(log n), changes O(n) in the number of live regions
 * (an array shift); the kernel caps a process at ~65530 mappings.
 */
#ifndef VMSPY_REGIONS_H
#define VMSPY_REGIONS_H

#include <stddef.h>
#include <stdint.h>

#include "stacks.h"

enum vms_region_kind {
	VMS_REGION_MMAP = 0, /* anonymous or file mapping made by the app */
	VMS_REGION_SHM,      /* shmat, or MAP_SHARED of a /dev/shm file */
	VMS_REGION__KINDS
};

struct vms_region {
	uint64_t start, end;  /* page-aligned as the kernel would map it */
	uint64_t seq;         /* of the call that created the mapping */
	uint64_t time_ns;
	vms_stack_id stack;   /* global stack id */
	uint32_t lane;
	uint32_t api;         /* mmap, mmap64, mremap or shmat */
	uint32_t kind;        /* enum vms_region_kind */
	uint32_t prot, flags; /* current protection (after mprotect), mmap
			       * flags */
	int64_t fd;           /* -1 for anonymous */
	uint64_t offset;      /* file offset of `start` */
	uint64_t dev, ino;
	const char *path;     /* points into the recording's log (valid while
			       * it is open); NULL when anonymous */
	size_t path_len;
	uint64_t shmid;       /* shmat */
	int64_t key;          /* shmat */
};

struct vms_regions {
	struct vms_region *v; /* sorted by start */
	size_t n, alloc;
	uint64_t bytes[VMS_REGION__KINDS];
};

void vms_regions_init(struct vms_regions *rs);
void vms_regions_release(struct vms_regions *rs);

/* Add r (start < end); whatever it overlaps is unmapped first, as with
 * MAP_FIXED. */
void vms_regions_map(struct vms_regions *rs, const struct vms_region *r);
/* Remove [start, end), splitting regions that straddle its ends.  Returns
 * the number of bytes removed. */
uint64_t vms_regions_unmap(struct vms_regions *rs, uint64_t start,
			   uint64_t end);
/* Set prot on the parts of [start, end) that are mapped (splitting). */
void vms_regions_protect(struct vms_regions *rs, uint64_t start, uint64_t end,
			 uint32_t prot);
/* The region containing addr, or NULL. */
const struct vms_region *vms_regions_find(const struct vms_regions *rs,
					  uint64_t addr);
/* Index of the first region with end > addr (rs->n when none). */
size_t vms_regions_lower(const struct vms_regions *rs, uint64_t addr);

#endif /* VMSPY_REGIONS_H */
