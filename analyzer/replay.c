/* SPDX-License-Identifier: MIT */
/*
 * The k-way merge of log lanes by sequence number (replay.h).  Each lane
 * holds exactly one decoded event ahead; the binary heap orders the lanes by
 * that event's seq.
 */
#include "replay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void vms_replay_init(struct vms_replay *rp, struct vms_recording *rec)
{
	size_t n = rec->nr_logs;

	memset(rp, 0, sizeof(*rp));
	rp->rec = rec;
	vms_stacks_init(&rp->stacks);
	rp->readers = xcalloc(n, sizeof(*rp->readers));
	rp->heads = xcalloc(n, sizeof(*rp->heads));
	rp->heap = xcalloc(n, sizeof(*rp->heap));
	for (size_t i = 0; i < n; i++)
		vms_logreader_init(&rp->readers[i], &rec->logs[i], &rp->stacks,
				   rec->meta.pid);
}

void vms_replay_release(struct vms_replay *rp)
{
	for (size_t i = 0; rp->readers && i < rp->rec->nr_logs; i++)
		vms_logreader_release(&rp->readers[i]);
	for (size_t i = 0; i < rp->nr_damage; i++)
		free(rp->damage[i].message);
	free(rp->damage);
	free(rp->readers);
	free(rp->heads);
	free(rp->heap);
	vms_stacks_release(&rp->stacks);
	memset(rp, 0, sizeof(*rp));
}

static bool before(const struct vms_replay *rp, size_t a, size_t b)
{
	uint64_t sa = rp->heads[a].seq, sb = rp->heads[b].seq;
	return sa < sb || (sa == sb && a < b);
}

static void sift_down(struct vms_replay *rp, size_t i)
{
	size_t *h = rp->heap, n = rp->heap_len;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i, t;
		if (l < n && before(rp, h[l], h[m]))
			m = l;
		if (r < n && before(rp, h[r], h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Read lane i's next event; false when the lane is finished. */
static bool advance(struct vms_replay *rp, size_t i)
{
	struct vms_logreader *r = &rp->readers[i];
	struct vms_replay_damage *d;
	struct vms_strbuf b = VMS_STRBUF_INIT;
	int ret = vms_logreader_next(r, &rp->heads[i]);

	if (ret > 0)
		return true;
	if (ret < 0) {
		vms_strbuf_addstr(&b, r->error);
		if (r->events)
			vms_strbuf_addf(&b, "; read %llu events before it",
				     (unsigned long long)r->events);
		VMS_GROW(rp->damage, rp->alloc_damage, rp->nr_damage + 1);
		d = &rp->damage[rp->nr_damage++];
		d->lane = r->log->lane;
		d->message = b.s;
	}
	return false;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Progress on stderr, when it is a terminal and the replay has run for a
 * second: how much of the logs has been read.  Checked every 64k events. */
struct progress {
	bool on;
	double start, last;
	size_t total;
	bool shown;
};

static void progress_init(struct progress *p, const struct vms_replay *rp)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(2) && !getenv("VMSPY_NO_PROGRESS");
	p->start = p->last = now_s();
	for (size_t i = 0; i < rp->rec->nr_logs; i++)
		p->total += rp->rec->logs[i].size;
}

static void progress_tick(struct progress *p, const struct vms_replay *rp)
{
	double t = now_s();
	if (t - p->start < 1.0 || t - p->last < 0.25)
		return;
	size_t done = 0;
	for (size_t i = 0; i < rp->rec->nr_logs; i++)
		done += rp->readers[i].pos;
	fprintf(stderr, "\rvmspy: reading %s: %3.0f%%, %llu events",
		vms_recording_name(rp->rec),
		p->total ? 100.0 * (double)done / (double)p->total : 100.0,
		(unsigned long long)rp->events);
	p->last = t;
	p->shown = true;
}

static void progress_done(const struct progress *p)
{
	if (p->shown)
		fprintf(stderr, "\r\033[K");
}

int vms_replay_run(struct vms_replay *rp, vms_replay_fn fn, void *ctx)
{
	struct progress prog;

	if (rp->ran++)
		return 0;
	progress_init(&prog, rp);
	for (size_t i = 0; i < rp->rec->nr_logs; i++)
		if (advance(rp, i))
			rp->heap[rp->heap_len++] = i;
	for (size_t i = rp->heap_len / 2; i-- > 0;)
		sift_down(rp, i);
	while (rp->heap_len) {
		size_t lane = rp->heap[0];
		int r;

		rp->events++;
		if (prog.on && !(rp->events & 0xffff))
			progress_tick(&prog, rp);
		r = fn(&rp->heads[lane], ctx);
		if (r) {
			progress_done(&prog);
			return r;
		}
		if (!advance(rp, lane))
			rp->heap[0] = rp->heap[--rp->heap_len];
		sift_down(rp, 0);
	}
	progress_done(&prog);
	return 0;
}

vms_stack_id vms_replay_lane_stack(const struct vms_replay *rp, uint64_t lane,
				   uint64_t id)
{
	for (size_t i = 0; i < rp->rec->nr_logs; i++)
		if (rp->rec->logs[i].lane == lane)
			return vms_logreader_stack(&rp->readers[i], id);
	return 0;
}
