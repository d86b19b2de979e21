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
 */
#ifndef VMSPY_REPLAY_H
#define VMSPY_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "logreader.h"
#include "recording.h"
#include "stacks.h"

struct vms_replay_damage {
	uint32_t lane;
	/* "log 'log.2' corrupt at offset 1234: record length 99999 past end
	 * of file; read 812 events before it" (no "vmspy:" prefix) */
	char *message;
};

struct vms_replay {
	struct vms_recording *rec;
	struct vms_stacks stacks;          /* global stack ids of all lanes */
	struct vms_logreader *readers;     /* one per rec->logs[i] */
	struct vms_event *heads;           /* next event of each lane */
	size_t *heap;                      /* lane indices, min seq first */
	size_t heap_len;
	struct vms_replay_damage *damage;
	size_t nr_damage, alloc_damage;
	uint64_t events;                   /* events delivered */
	int ran;
};

/* Return 0 to go on, anything else to stop the replay with that value. */
typedef int (*vms_replay_fn)(const struct vms_event *ev, void *ctx);

void vms_replay_init(struct vms_replay *rp, struct vms_recording *rec);
void vms_replay_release(struct vms_replay *rp);

/* Deliver every event of every lane in seq order (ties: lower lane
 * first).  Returns 0 when all lanes were read to their end (damaged ones
 * up to their damage), or the callback's non-zero value.  Runs once. */
int vms_replay_run(struct vms_replay *rp, vms_replay_fn fn, void *ctx);

/* Global id of lane `lane`'s stack id `id` as defined so far in that lane
 * (e.g. THREAD_BEGIN.creator_stack); 0 when unknown. */
vms_stack_id vms_replay_lane_stack(const struct vms_replay *rp, uint64_t lane,
				   uint64_t id);

#endif /* VMSPY_REPLAY_H */
