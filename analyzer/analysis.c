/* SPDX-License-Identifier: MIT */
/*
 * One analysis of one recording (contract in analysis.h).
 */
#include "analysis.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int vms_analysis_open(struct vms_analysis *a, const char *path,
		      bool want_symbols)
{
	memset(a, 0, sizeof(*a));
	if (vms_recording_open(&a->rec, path))
		return -1;
	vms_replay_init(&a->replay, &a->rec);
	if (want_symbols)
		a->syms = vms_symbolizer_new(&a->rec);
	vms_state_init(&a->state, a->rec.meta.page_size, a->rec.meta.pid);
	a->state.sample_bytes = a->rec.meta.sample_bytes;
	return 0;
}

static int on_event(const struct vms_event *ev, void *ctx)
{
	struct vms_analysis *a = ctx;

	vms_state_apply(&a->state, ev);
	/* A library loaded and closed between two snapshots is in no
	 * snapshot's module list: only its DLOPEN record names it. */
	if (ev->type == VMS_REC_DLOPEN && a->syms && ev->real_path_len) {
		char *path = xstrndup(ev->real_path, ev->real_path_len);
		char *id = xstrndup(ev->build_id, ev->build_id_len);
		vms_symbolizer_add_module(a->syms, path, ev->bias, id);
		free(path);
		free(id);
	}
	return a->fn ? a->fn(ev, a->ctx) : 0;
}

/* The sites table covers every stack id defined so far (ids only grow). */
static void grow_sites(struct vms_analysis *a)
{
	size_t n = vms_stacks_count(&a->replay.stacks) + 1;

	if (n <= a->nr_sites)
		return;
	VMS_GROW(a->sites, a->alloc_sites, n);
	memset(a->sites + a->nr_sites, 0,
	       (n - a->nr_sites) * sizeof(*a->sites));
	a->nr_sites = n;
}

/* The heap events, nearly all of a recording: no struct vms_event, no
 * call per event. */
static int on_heap(const struct vms_heap_event *h, size_t n, uint32_t lane,
		   void *ctx)
{
	struct vms_analysis *a = ctx;
	struct vms_state *st = &a->state;

	/* The map lookups of the whole run in flight together. */
	for (size_t i = 0; i < n; i++)
		vms_heapmap_prefetch(&st->heap, h[i].addr);
	if (!a->count_sites) {
		for (size_t i = 0; i < n; i++)
			vms_state_apply_heap(st, &h[i], lane);
		return 0;
	}
	/* Every id in the run was defined before it was decoded. */
	grow_sites(a);
	for (size_t i = 0; i < n; i++) {
		vms_state_apply_heap(st, &h[i], lane);
		if (h[i].type == VMS_REC_ALLOC) {
			a->sites[h[i].gstack].bytes += h[i].size;
			a->sites[h[i].gstack].count++;
		}
	}
	return 0;
}

/* Symbols are prepared alongside a replay of at least this many bytes of
 * logs: below, the replay ends before much could be done. */
#define PREWARM_MIN_BYTES (1u << 20)

int vms_analysis_run(struct vms_analysis *a, vms_replay_fn fn, void *ctx)
{
	size_t bytes = 0;

	for (size_t i = 0; i < a->rec.nr_logs; i++)
		bytes += a->rec.logs[i].size;
	if (a->prewarm_symbols && a->syms && bytes >= PREWARM_MIN_BYTES &&
	    vms_replay_threads_allowed())
		vms_symbolizer_prewarm(a->syms, &a->replay.stacks,
				       a->prewarm_depth);
	a->fn = fn;
	a->ctx = ctx;
	a->replay.hint = vms_state_hint;
	a->replay.hint_ctx = &a->state;
	return vms_replay_run_heap(&a->replay, on_event, on_heap, a);
}

void vms_analysis_release(struct vms_analysis *a)
{
	free(a->sites);
	vms_symbolizer_free(a->syms);
	vms_state_release(&a->state);
	vms_replay_release(&a->replay);
	vms_recording_release(&a->rec);
	memset(a, 0, sizeof(*a));
}

char *vms_analysis_damage_text(const struct vms_analysis *a)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	for (size_t i = 0; i < a->replay.nr_damage; i++) {
		if (i)
			vms_strbuf_addstr(&b, "; ");
		vms_strbuf_addstr(&b, a->replay.damage[i].message);
	}
	return b.s;
}
