/* SPDX-License-Identifier: MIT */
/*
 * The attribution engine behind `vmspy maps` (and later `vmspy diff`): one
 * snapshot's smaps regions joined with the live state replayed up to that
 * snapshot, giving every byte of the address space an origin.
 *
 * Input: the parsed snapshot (with smaps), the state (live allocations, the
 * app's own mappings), and what the state does not keep: thread stack
 * ranges, the app's brk growth, live madvise calls.  Output: a sorted list
 * of attributed regions.  A smaps region that covers several origins (the
 * kernel merges adjacent anonymous VMAs) is split at the recorded ranges;
 * the pieces share its counters, Rss by the pagemap residency bitmap where
 * there is one, else by size, so the pieces' sums are the region's.
 *
 * Rules, strongest evidence first (a piece takes the first that covers it):
 *   path [heap] [stack] [vdso] [vvar*] [vsyscall]   heap / stack / kernel
 *   file inside a module's PT_LOAD range           module text/rodata/data/
 *                                                  relro (by perms+segment)
 *   /dev/shm/NAME, /SYSV<key>                      shm-posix / shm-sysv
 *   a log chunk of this recording, libvmspy.so     vmspy
 *   other files                                    file (frames if mapped
 *                                                  by a recorded mmap)
 *   anonymous, in priority order:
 *     1 the app's recorded mmap/mremap ranges      mmap
 *     2 live thread stacks [lo - guard, hi)        thread-stack
 *       the recorder_thread stack and its guard    vmspy
 *     3 inside a module's PT_LOAD range            module bss
 *     4 [page(ptr - 16), page_up(ptr + size + 8))  malloc-mmap (a live
 *       of a live block outside [heap]/arenas       block glibc mapped)
 *     5 64 MiB-aligned MAP_NORESERVE heap ('nr')   malloc-arena, with its
 *       and the rest of its 64 MiB                  PROT_NONE reserve
 *     6 stacks of exited threads whose guard page  thread-stack (cached)
 *       is still a PROT_NONE region
 *     7 contains the main thread's thread pointer  loader: static TLS+TCB
 *     8 VmFlags 'wf' (MADV_WIPEONFORK)             vmspy: fork-detection
 *     9 present in the start snapshot too          loader: start-up
 *    10 within the recorder's own budget           vmspy: recorder-internal
 *    11 anything else                              unattributed + reason
 *
 * Library code: no printing, no exit.
 */
#ifndef VMSPY_ATTRIBUTE_H
#define VMSPY_ATTRIBUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "state.h"
#include "stacks.h"

enum vms_attr_kind {
	VMS_ATTR_MODULE = 0,
	VMS_ATTR_FILE,
	VMS_ATTR_HEAP,
	VMS_ATTR_MALLOC_MMAP,
	VMS_ATTR_MALLOC_ARENA,
	VMS_ATTR_MMAP,
	VMS_ATTR_THREAD_STACK,
	VMS_ATTR_SHM_POSIX,
	VMS_ATTR_SHM_SYSV,
	VMS_ATTR_STACK,
	VMS_ATTR_VDSO,
	VMS_ATTR_VVAR,
	VMS_ATTR_VSYSCALL,
	VMS_ATTR_LOADER,       /* ld.so's own anonymous memory (main TLS...) */
	VMS_ATTR_VMSPY,        /* the recorder's own mappings */
	VMS_ATTR_UNATTRIBUTED,
	VMS_ATTR__KINDS
};

/* "module", "file", "heap", "malloc-mmap", ... (the names of issue 4). */
extern const char *const vms_attr_kind_names[VMS_ATTR__KINDS];

/* A thread known from THREAD_BEGIN (and THREAD_END) up to the snapshot. */
struct vms_attr_thread {
	uint64_t tid;
	uint64_t stack_lo, stack_hi, guard; /* 0 when unknown (main) */
	vms_stack_id creator;               /* pthread_create's stack */
	bool alive;                         /* no THREAD_END before it */
};

/* An app brk/sbrk growth still in place: [start, end) and who grew it. */
struct vms_attr_brk {
	uint64_t start, end;
	vms_stack_id stack;
};

/* A madvise call whose range was not unmapped since. */
struct vms_attr_madvise {
	uint64_t start, end;
	uint64_t advice;
	uint64_t seq;
	vms_stack_id stack;
};

struct vms_attr_input {
	const struct vms_snapshot *snap;   /* with smaps */
	const struct vms_snapshot *start;  /* the start snapshot (with smaps)
					    * or NULL */
	const struct vms_state *state;     /* replayed up to snap->seq */
	const struct vms_attr_thread *threads;
	size_t nr_threads;
	const struct vms_attr_brk *brks;
	size_t nr_brks;
	const struct vms_attr_madvise *madvise;
	size_t nr_madvise;
	uint64_t main_tp;                  /* main thread's pthread_self() */
	/* Log chunk files of the recording: dev (major << 32 | minor) and
	 * inode, and the recording directory's real path (either may be
	 * empty / NULL). */
	const uint64_t (*log_files)[2];
	size_t nr_log_files;
	const char *rec_dir;
	/* Bytes of anonymous memory the recorder may hold unrecorded
	 * (vms_attr_recorder_budget), 0 for none. */
	uint64_t recorder_budget;
	/* Per region of snap: its counters are not smaps' (a reconstructed
	 * map, see vms_attr_reconstruct); NULL when all are. */
	const bool *estimated;
};

#define VMS_ATTR_TOP_SITES 5

struct vms_attr_site {
	vms_stack_id stack;
	uint64_t bytes, count;
};

struct vms_attr_region {
	uint64_t start, end;
	size_t smaps_index;      /* the snapshot region it is part of */
	bool split;              /* a piece of a larger smaps region */
	char perms[5];
	uint64_t size, rss, pss, swap, anon_huge, swap_pss;
	const char *vm_flags;    /* of the smaps region */
	enum vms_attr_kind kind;
	char *name;              /* path, shm name, module, ... never NULL */
	char *detail;            /* "text", "bss", "guard page", ... or NULL */
	char *reason;            /* kind unattributed: why */
	vms_stack_id stack;      /* origin call stack, 0 none */
	size_t *madvise;         /* indices into input madvise */
	size_t nr_madvise;
	struct vms_attr_site sites[VMS_ATTR_TOP_SITES]; /* live malloc sites
							 * inside, by bytes */
	size_t nr_sites;
	uint64_t live_bytes, live_blocks; /* all live blocks inside */
	bool estimated;          /* counters unknown (0): reconstructed */
};

struct vms_attr_total {
	uint64_t size, rss, pss, swap, regions;
};

/* Per call site (--by site): live allocations plus app mappings. */
struct vms_attr_site_usage {
	vms_stack_id stack;
	uint64_t virt;           /* bytes asked for (blocks) / mapped */
	uint64_t resident;       /* resident bytes of those */
	uint64_t blocks, mappings;
};

struct vms_attribution {
	struct vms_attr_region *v; /* sorted by start, no overlaps */
	size_t n, alloc;
	struct vms_attr_total totals[VMS_ATTR__KINDS];
	struct vms_attr_total all;
	uint64_t smaps_size, smaps_rss; /* straight sums of the snapshot */
	uint64_t unattributed_bytes;
	uint64_t recorder_budget_used;
};

/* Attribute in->snap.  Returns 0, or -1 after vms_error when the snapshot
 * has no smaps.  *out is zeroed first; release it with _release. */
int vms_attribute(const struct vms_attr_input *in, struct vms_attribution *out);
void vms_attribution_release(struct vms_attribution *a);

/* Resident bytes per call site at the snapshot, by the pagemap residency
 * bitmaps.  A page shared by several blocks is split between them by the
 * bytes each has in it (so the sum over sites never exceeds the resident
 * pages); blocks in a region without a bitmap get the region's Rss share by
 * size; app mappings get their pieces' Rss.  Per region the total handed out
 * is capped at the region's Rss.  Returns an array sorted by resident bytes
 * (then virtual), count in *n; free() it. */
struct vms_attr_site_usage *vms_attr_by_site(const struct vms_attr_input *in,
					     const struct vms_attribution *a,
					     size_t *n);

/* Anonymous memory the recorder keeps without recording it, estimated from
 * what it did: its snapshot buffer, libunwind's per-thread caches of the
 * live threads, and each lane's stack-intern tables (sized from the stacks
 * and frames of that lane). */
uint64_t vms_attr_recorder_budget(size_t nr_lanes, const uint64_t *lane_stacks,
				  const uint64_t *lane_frames,
				  size_t live_threads);

/* The map at the last event of a recording that died after its last
 * snapshot: the snapshot's smaps regions with the address-space events
 * after it applied in seq order, then a region for every live block of the
 * end state that no region covers (glibc mapped it, or grew [heap] or an
 * arena, without a hooked call).
 *
 * Events: MMAP (replaces what it overlaps), MUNMAP, the two halves of an
 * MREMAP (the new range keeps the old one's path and permissions),
 * MPROTECT, BRK ([heap] grows or shrinks), SHMAT, SHMDT, THREAD_BEGIN
 * (glibc maps the stack itself) and FREE of a block glibc had mapped: the
 * caller sets a FREE's `size` to the freed block's size (0 unknown) and
 * may drop FREEs of blocks under VMS_ATTR_MMAP_THRESHOLD (glibc keeps
 * those in [heap] or an arena).  Other types are skipped.
 * pre: ev sorted by seq, all after base->seq; end = the state after them.
 *
 * A region an event made or cut, and every block region, has its counters
 * 0 and estimated[i] set; one holding a block allocated after the snapshot
 * keeps the snapshot's counters (the last known) and is marked too; the
 * others keep the snapshot's, unmarked.  A live block of
 * VMS_ATTR_MMAP_THRESHOLD or more gets the mapping rule 4 would find for
 * it; a smaller one grows [heap] when it lies less than 2 GiB above
 * [heap] or the executable (brk is randomized up to 1 GiB above it), else
 * a 64 MiB-aligned arena heap ('nr', as rule 5 wants). */
#define VMS_ATTR_MMAP_THRESHOLD (128u * 1024) /* glibc's smallest */

struct vms_attr_reconstruction {
	struct vms_snapshot snap; /* owns its regions and their strings;
				   * modules, pagemaps... are the base's:
				   * never vms_snapshot_release it */
	bool *estimated;          /* per region of snap */
	size_t alloc_estimated;
	uint64_t events;          /* events that changed the map */
	uint64_t uncovered_blocks; /* live blocks outside every region */
};

void vms_attr_reconstruct(const struct vms_snapshot *base,
			  const struct vms_event *ev, size_t n,
			  const struct vms_state *end,
			  struct vms_attr_reconstruction *out);
void vms_attr_reconstruction_release(struct vms_attr_reconstruction *rc);

/* Name of a madvise advice ("MADV_HUGEPAGE"), or NULL when unknown. */
const char *vms_madvise_name(uint64_t advice);

#endif /* VMSPY_ATTRIBUTE_H */
