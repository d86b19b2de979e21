/* SPDX-License-Identifier: MIT */
/*
 * Replay: all log lanes of a recording merged into one stream in global
 * sequence order (a k-way merge over a min-heap of lanes, streaming: one
 * decoded event per lane in memory), handed to a callback.  Typical use:
 *
 *	struct vms_replay rp;
 *	struct vms_state st;
 *	vms_replay_init(&rp, &rec);
 *	vms_state_init(&st, rec.meta.page_size, rec.meta.pid);
 *	vms_replay_run(&rp, my_event_fn, &ctx);  // fn calls vms_state_apply
 *	... rp.damage[] says which lanes were cut short, rp.stacks has frames
 *	vms_state_release(&st);
 *	vms_replay_release(&rp);
 *
 * A corrupt lane stops at its first bad record; the other lanes go on, and
 * the problem is kept in `damage` for the report to print.
 *
 * Two threads.  With VMSPY_ANALYZER_THREADS=2 the decoding and merging run
 * on a helper thread, at most VMS_REPLAY_WINDOW events ahead of the
 * callback, which runs on the caller's thread (by default everything runs
 * on the caller's thread: see want_helper in replay.c for why).  The
 * callback sees the same events in the same order either way, with the
 * same global stack ids (a lane's stacks are interned at the same point of
 * the merge), and finds the same damage afterwards: the two ways give
 * identical reports.  During the callback, rp->stacks may be read
 * (vms_stacks_get of any id an event carried) but the readers may not:
 * they belong to the helper until vms_replay_run returns.
 */
#ifndef VMSPY_REPLAY_H
#define VMSPY_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logreader.h"
#include "recording.h"
#include "stacks.h"

/* Events decoded ahead of the callback at most, with a helper thread. */
#define VMS_REPLAY_WINDOW 1024

struct vms_replay_damage {
	uint32_t lane;
	/* "log 'log.2' corrupt at offset 1234: record length 99999 past end
	 * of file; read 812 events before it" (no "vmspy:" prefix) */
	char *message;
};

/* Return 0 to go on, anything else to stop the replay with that value. */
typedef int (*vms_replay_fn)(const struct vms_event *ev, void *ctx);
/* A hint that an event of this type (enum vms_rec_type) and address will
 * be handed to the callback soon (e.g. to prefetch what it will touch).
 * Must not change anything the callback sees. */
typedef void (*vms_replay_hint_fn)(uint32_t type, uint64_t addr, void *ctx);

struct vms_replay_pipe;
struct vms_replay_merge;

struct vms_replay {
	struct vms_recording *rec;
	struct vms_stacks stacks;          /* global stack ids of all lanes */
	struct vms_logreader *readers;     /* one per rec->logs[i] */
	struct vms_replay_damage *damage;
	size_t nr_damage, alloc_damage;
	uint64_t events;                   /* events delivered */
	int ran;
	vms_replay_hint_fn hint;           /* optional, see above */
	void *hint_ctx;

	struct vms_replay_merge *merge;    /* private */
};

void vms_replay_init(struct vms_replay *rp, struct vms_recording *rec);
void vms_replay_release(struct vms_replay *rp);

/* Deliver every event of every lane in seq order (ties: lower lane
 * first).  Returns 0 when all lanes were read to their end (damaged ones
 * up to their damage), or the callback's non-zero value.  Runs once. */
int vms_replay_run(struct vms_replay *rp, vms_replay_fn fn, void *ctx);

/* Whether the analysis may use a helper thread (symbolize.c's preparing
 * of debug info): VMSPY_ANALYZER_THREADS=1 never, =2 always; by default
 * when a CPU is idle right now (fewer runnable tasks than CPUs in
 * /proc/loadavg). */
bool vms_replay_threads_allowed(void);

/* A run of heap events (ALLOC or FREE, logreader.h's short form) of log
 * lane `lane`: the next n events of the merged order.  Return 0 to go on,
 * anything else to stop the replay with that value. */
typedef int (*vms_replay_heap_fn)(const struct vms_heap_event *ev, size_t n,
				  uint32_t lane, void *ctx);

/* vms_replay_run, but the heap events go to heap_fn in short form, in runs
 * of one lane's events (as many as come one after another in the merged
 * order, up to a batch), and only the other events go to fn.  The order,
 * the global stack ids and the damage are the same as vms_replay_run's.
 * rp->hint is not used.  Runs once (either this or vms_replay_run). */
int vms_replay_run_heap(struct vms_replay *rp, vms_replay_fn fn,
			vms_replay_heap_fn heap_fn, void *ctx);

/* Global id of lane `lane`'s stack id `id` as defined so far in that lane
 * (e.g. THREAD_BEGIN.creator_stack); 0 when unknown.  Not from inside the
 * callback of vms_replay_run. */
vms_stack_id vms_replay_lane_stack(const struct vms_replay *rp, uint64_t lane,
				   uint64_t id);

#endif /* VMSPY_REPLAY_H */
