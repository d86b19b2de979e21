/* SPDX-License-Identifier: MIT */
/*
 * Per-call-site accounting keyed by what the code is, not where it was
 * loaded: the reports that compare builds (diff) or draw stacks (flame)
 * group a recording's events by symbolized frames.
 *
 * The site key.  A recorded stack (return addresses, innermost first) is
 * symbolized with its inlined frames expanded; each frame becomes a name:
 *   - the function name, without the suffixes compilers add to clones
 *     ("f.constprop.0", "f.isra.0", "f.part.0", "f.cold", "f.lto_priv.0",
 *     "f [clone .constprop.0]" -> "f");
 *   - "module+0xoffset" when the function is unknown (its module is);
 *   - "[unknown]" when no module covers the address (JIT code);
 * plus the basename of the frame's source file when the debug info has one.
 * Whether a frame was inlined, its line number and its address are not part
 * of the key: -O0 and -O2 builds of one program give the same key for the
 * same call chain, even when -O2 inlined the helpers.  The key is the first
 * `depth` of these frames (innermost first; 0 = all of them): stacks that
 * differ only further out are one site.  What it cannot see: a frame that
 * one build removed altogether (a tail call turned into a jump) makes a
 * different site.
 *
 * Per site and per category (heap = malloc family; mmap = the mappings the
 * app made with mmap/mmap64/mremap; shm = shmat and MAP_SHARED mappings of
 * /dev/shm files) it keeps: bytes live now, the site's own peak of live
 * bytes over time, bytes live at the moment of the recording's overall peak
 * (heap + mmap + shm highest), bytes acquired in total and the number of
 * acquiring calls.  Memory grows with the number of distinct stacks and
 * sites, not with the number of events.
 */
#ifndef VMSPY_SITES_H
#define VMSPY_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "logreader.h"
#include "recording.h"
#include "replay.h"
#include "state.h"
#include "symbolize.h"

enum vms_cat { VMS_CAT_HEAP = 0, VMS_CAT_MMAP, VMS_CAT_SHM, VMS_CAT__COUNT };

/* "heap", "mmap", "shm" */
extern const char *const vms_cat_names[VMS_CAT__COUNT];

struct vms_site_stats {
	uint64_t live;      /* bytes live now; after the replay: at exit (or
			     * at the end of a recording cut short) */
	uint64_t peak;      /* highest `live` ever */
	uint64_t at_peak;   /* live at the recording's overall peak; set by
			     * vms_sites_finish */
	uint64_t allocated; /* bytes acquired in total (realloc and mremap
			     * count their new size) */
	uint64_t calls;     /* acquiring calls */
};

struct vms_site {
	char *key;          /* the frames' names and files, NUL-free
			     * separators; equal keys = the same site */
	size_t nr_frames;
	char **names;       /* innermost first, as described above */
	char **files;       /* basename of the source file, or NULL */
	struct vms_site_stats cat[VMS_CAT__COUNT];
	/* Private: the live bytes at the latest overall peak, copied before
	 * the first change after that peak. */
	uint64_t saved_epoch;
	uint64_t saved[VMS_CAT__COUNT];
};

struct vms_sites_delta;

struct vms_sites {
	struct vms_site *v;       /* in order of first use */
	size_t n, alloc;
	/* Totals of all sites. */
	struct vms_site_stats total[VMS_CAT__COUNT];
	uint64_t peak_bytes;      /* highest heap + mmap + shm */
	uint64_t peak_seq, peak_time_ns;

	/* private */
	struct vms_symbolizer *syms; /* NULL: frames named by address */
	size_t depth;
	uint64_t epoch;
	uint32_t *table;          /* open addressing: site index + 1 */
	size_t table_size;
	uint32_t *of_stack;       /* global stack id -> site index + 1 */
	size_t nr_of_stack;
	struct vms_sites_delta *deltas; /* of the event being applied */
	size_t nr_deltas, alloc_deltas;
	struct vms_sym_frame *scratch;
	size_t alloc_scratch;
};

/* syms may be NULL: every frame is then named "0x<address>" (tests).
 * depth: frames per key, 0 = all. */
void vms_sites_init(struct vms_sites *ss, struct vms_symbolizer *syms,
		    size_t depth);
void vms_sites_release(struct vms_sites *ss);

/* Apply ev to st (vms_state_apply) and account it to its site.  stacks is
 * the replay's global table (ev->gstack is looked up there).
 * pre: events in replay order; st was only changed through this. */
void vms_sites_apply(struct vms_sites *ss, struct vms_state *st,
		     const struct vms_stacks *stacks,
		     const struct vms_event *ev);

/* After the last event: fills every at_peak. */
void vms_sites_finish(struct vms_sites *ss);

/* The site for an explicit list of frame names (innermost first) and files
 * (NULL or per-frame NULL for none), created when new.  Returns its index.
 * The depth limit applies.  For tests and for callers that build their own
 * frames. */
size_t vms_sites_intern(struct vms_sites *ss, const char *const *names,
			const char *const *files, size_t n);

/* Name a symbolized frame as the key does (rules above) into buf; returns
 * buf.  len >= 2 */
char *vms_sites_frame_name(const struct vms_sym_frame *f, char *buf,
			   size_t len);

/* Length of fn without a compiler clone suffix ("f.constprop.0" -> 1). */
size_t vms_sites_base_name_len(const char *fn);

/* ---- a whole recording --------------------------------------------------- */

/* Everything a site report needs about one recording, replayed. */
struct vms_sites_run {
	struct vms_recording rec;
	struct vms_replay replay;
	struct vms_state state;
	struct vms_symbolizer *syms;
	struct vms_sites sites;
};

/* Open the recording at path, collect the modules of its snapshots and of
 * its DLOPEN records, replay it into run->state and run->sites, and finish.
 * Returns 0, or -1 after vms_error when the recording cannot be opened or
 * its snapshots cannot be read (run then needs no release).  A damaged log
 * is not a failure: run->replay.damage says what was lost. */
int vms_sites_run_load(struct vms_sites_run *run, const char *path,
		       size_t depth);
void vms_sites_run_release(struct vms_sites_run *run);

#endif /* VMSPY_SITES_H */
