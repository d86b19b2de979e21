/* SPDX-License-Identifier: MIT */
/*
 * One analysis of one recording: open it, replay every event in seq order
 * into a live state (state.h), and feed the modules that DLOPEN records name
 * to the symbolizer.  The reports (summary, leaks, the `vmspy run` headline)
 * all start like this; a report adds its own per-event work with a callback.
 *
 *	struct vms_analysis a;
 *	if (vms_analysis_open(&a, path, true))
 *		return VMS_EXIT_USAGE;          // message already printed
 *	vms_analysis_run(&a, my_fn, &ctx);      // my_fn may be NULL
 *	... a.state, a.replay.stacks, a.replay.damage, a.syms
 *	vms_analysis_release(&a);
 */
#ifndef VMSPY_ANALYSIS_H
#define VMSPY_ANALYSIS_H

#include <stdbool.h>

#include "recording.h"
#include "replay.h"
#include "state.h"
#include "symbolize.h"

struct vms_analysis {
	struct vms_recording rec;
	struct vms_replay replay;
	struct vms_state state;
	/* NULL when not asked for, or when a snapshot could not be parsed
	 * (then frames are shown as raw addresses) */
	struct vms_symbolizer *syms;
	/* Set before vms_analysis_run when the report will look up symbols
	 * after the replay, in the first prewarm_depth frames of its stacks
	 * (0: all): their modules are then prepared meanwhile on a helper
	 * thread (big recordings, a second CPU). */
	bool prewarm_symbols;
	size_t prewarm_depth;
	/* Set before vms_analysis_run for per-stack totals of every ALLOC
	 * event (calloc, realloc... and realloc to 0 included): sites[id] for
	 * global stack id `id` < nr_sites (0: no stack recorded); ids at or
	 * above nr_sites had none. */
	bool count_sites;
	struct vms_site_total *sites;
	size_t nr_sites, alloc_sites;
	vms_replay_fn fn;
	void *ctx;
};

struct vms_site_total {
	uint64_t bytes;
	uint64_t count;
};

/* Open the recording at path (and build a symbolizer when want_symbols).
 * -1 after a one-line vms_error; a then needs no release. */
int vms_analysis_open(struct vms_analysis *a, const char *path,
		      bool want_symbols);

/* Replay to the end: every event goes to vms_state_apply, then to fn (when
 * not NULL) unless it is a heap event (ALLOC or FREE): those only go into
 * the state and the site totals.  A damaged lane is not an error (see
 * a->replay.damage).
 * Returns vms_replay_run's value. */
int vms_analysis_run(struct vms_analysis *a, vms_replay_fn fn, void *ctx);

void vms_analysis_release(struct vms_analysis *a);

/* All damage messages of the replay in one string ("; " between them), or
 * NULL when every lane was read to its end.  The caller frees it. */
char *vms_analysis_damage_text(const struct vms_analysis *a);

#endif /* VMSPY_ANALYSIS_H */
