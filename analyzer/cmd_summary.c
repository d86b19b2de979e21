/* SPDX-License-Identifier: MIT */
/*
 * `vmspy summary REC [--json]`: one screen about a recording: what ran, how
 * it ended, calls per API, heap / mmap / shm totals and peaks with their
 * time, threads, snapshots, and the top allocation sites.  A damaged log is
 * reported, not fatal: everything read before the damage is summarized.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "commands.h"
#include "json.h"
#include "util.h"

#define USAGE "summary REC [--json]"
#define TOP_SITES 5
#define SITE_FRAMES 3 /* frames shown per site in text */

struct summary {
	struct vms_analysis a;
	uint64_t snapshot_records;
	vms_stack_id top[TOP_SITES];
	size_t nr_top;
};

static int on_event(const struct vms_event *ev, void *ctx)
{
	struct summary *s = ctx;

	/* (the sites are counted by the analysis: a.sites) */
	if (ev->type == VMS_REC_SNAPSHOT)
		s->snapshot_records++;
	return 0;
}

/* The TOP_SITES stacks with the most bytes allocated (stack 0, "no stack
 * recorded", included: it is still a place memory came from). */
static void pick_top(struct summary *s)
{
	const struct vms_site_total *sites = s->a.sites;

	for (size_t id = 0; id < s->a.nr_sites; id++) {
		size_t i;
		if (!sites[id].count)
			continue;
		for (i = s->nr_top; i > 0 &&
		     sites[s->top[i - 1]].bytes < sites[id].bytes; i--)
			if (i < TOP_SITES)
				s->top[i] = s->top[i - 1];
		if (i < TOP_SITES) {
			s->top[i] = (vms_stack_id)id;
			if (s->nr_top < TOP_SITES)
				s->nr_top++;
		}
	}
}

/* How a return address is shown: function (file:line), or module+offset
 * when the binary is gone, or the raw address. */
static void describe_frame(struct summary *s, struct vms_strbuf *b,
			   uint64_t pc)
{
	char buf[512];
	if (!s->a.syms) {
		vms_strbuf_addf(b, "0x%llx", (unsigned long long)pc);
		return;
	}
	vms_symbolize_one(s->a.syms, pc, buf, sizeof(buf));
	vms_strbuf_addstr(b, buf);
}

static double seconds_since_start(const struct summary *s, uint64_t t)
{
	uint64_t start = s->a.rec.meta.start_monotonic_ns;
	return t >= start ? (double)(t - start) / 1e9 : 0;
}

/* End of the run: the latest time any lane or snapshot reported. */
static uint64_t duration_ns(struct summary *s)
{
	uint64_t end = s->a.state.last_time_ns;
	uint64_t start = s->a.rec.meta.start_monotonic_ns;

	for (size_t i = 0; i < s->a.rec.nr_snaps; i++) {
		const struct vms_snapfile *sf = &s->a.rec.snaps[i];
		if (sf->loaded && sf->snap.time_ns > end)
			end = sf->snap.time_ns;
	}
	return start && end > start ? end - start : 0;
}

static const char *snap_reason(const struct vms_snapfile *sf)
{
	if (!sf->loaded)
		return "unreadable";
	return sf->snap.reason_name[0] ? sf->snap.reason_name : "unknown";
}

static void load_snapshot_headers(struct summary *s)
{
	for (size_t i = 0; i < s->a.rec.nr_snaps; i++)
		vms_recording_snapshot(&s->a.rec, i, false);
}

/* ---- text ---------------------------------------------------------------- */

static void line_size(const char *what, uint64_t bytes, const char *rest)
{
	char h[VMS_HUMAN_SIZE_MAX];
	printf("  %-15s %10s%s\n", what, vms_human_size(h, sizeof(h), bytes),
	       rest);
}

static void print_peak(const struct summary *s, const char *what,
		       const struct vms_peak *p)
{
	char when[64] = "";

	if (p->bytes && p->time_ns)
		snprintf(when, sizeof(when), "  at %.3f s",
			 seconds_since_start(s, p->time_ns));
	else if (p->bytes)
		snprintf(when, sizeof(when), "  at event seq %llu",
			 (unsigned long long)p->seq);
	line_size(what, p->bytes, when);
}

static void print_text(struct summary *s)
{
	const struct vms_meta *m = &s->a.rec.meta;
	const struct vms_state *st = &s->a.state;
	struct vms_strbuf b = VMS_STRBUF_INIT;
	char h[VMS_HUMAN_SIZE_MAX], rest[96];
	uint64_t dur = duration_ns(s);
	int col = 0;

	for (size_t i = 0; i < s->a.replay.nr_damage; i++)
		printf("warning: %s\n", s->a.replay.damage[i].message);
	if (!s->a.rec.nr_logs)
		printf("warning: the recording has no logs\n");
	if (s->a.state.disabled_lanes)
		printf("warning: the recorder stopped writing %llu log%s "
		       "(disk full?): later events of %s are lost\n",
		       (unsigned long long)s->a.state.disabled_lanes,
		       s->a.state.disabled_lanes == 1 ? "" : "s",
		       s->a.state.disabled_lanes == 1 ? "that thread" : "those "
								     "threads");

	vms_strbuf_add_printable(&b, s->a.rec.path, strlen(s->a.rec.path));
	printf("%-11s %s\n", "recording", b.s);
	vms_strbuf_reset(&b);
	if (m->exe)
		vms_strbuf_add_printable(&b, m->exe, strlen(m->exe));
	printf("%-11s %s\n", "exe", m->exe ? b.s : "(unknown)");
	printf("%-11s %llu", "pid", (unsigned long long)m->pid);
	if (m->ppid)
		printf(" (parent %llu)", (unsigned long long)m->ppid);
	printf("\n");
	vms_strbuf_reset(&b);
	for (size_t i = 0; i < m->argc; i++) {
		if (i)
			vms_strbuf_addc(&b, ' ');
		if (m->argv[i])
			vms_strbuf_add_printable(&b, m->argv[i],
					      strlen(m->argv[i]));
		else
			vms_strbuf_addstr(&b, "?");
	}
	printf("%-11s %s%s\n", "argv", b.s ? b.s : "",
	       m->argv_redacted ? " (redacted)" : "");
	if (dur)
		printf("%-11s %.3f s\n", "duration", (double)dur / 1e9);
	else
		printf("%-11s unknown\n", "duration");
	if (st->exited)
		printf("%-11s clean (status %lld)\n", "exit",
		       (long long)st->exit_status);
	else
		printf("%-11s the process did not exit cleanly: crashed, "
		       "killed, or still running\n", "exit");
	printf("%-11s %llu in %zu log%s, %llu dropped\n", "events",
	       (unsigned long long)st->events, s->a.rec.nr_logs,
	       s->a.rec.nr_logs == 1 ? "" : "s",
	       (unsigned long long)st->dropped);
	printf("%-11s %llu\n", "threads", (unsigned long long)st->threads);
	if (m->sample_bytes)
		printf("%-11s 1 allocation per %llu bytes on average; heap "
		       "bytes are estimates, calls are the sampled ones\n",
		       "sampled", (unsigned long long)m->sample_bytes);

	vms_strbuf_reset(&b);
	for (size_t i = 0, run; i < s->a.rec.nr_snaps; i += run) {
		const struct vms_snapfile *sf = &s->a.rec.snaps[i];
		/* Runs of unlabelled snapshots of one reason: "interval x12". */
		for (run = 1; i + run < s->a.rec.nr_snaps && !sf->snap.label &&
			      !s->a.rec.snaps[i + run].snap.label &&
			      !strcmp(snap_reason(sf),
				      snap_reason(&s->a.rec.snaps[i + run]));
		     run++)
			;
		vms_strbuf_addstr(&b, i ? ", " : ": ");
		vms_strbuf_addstr(&b, snap_reason(sf));
		if (run > 1)
			vms_strbuf_addf(&b, " x%zu", run);
		if (sf->loaded && sf->snap.label) {
			vms_strbuf_addstr(&b, " '");
			vms_strbuf_add_printable(&b, sf->snap.label,
					      strlen(sf->snap.label));
			vms_strbuf_addc(&b, '\'');
		}
		if (sf->loaded && sf->snap.interrupted)
			vms_strbuf_addstr(&b, " (interrupted)");
	}
	printf("%-11s %zu%s\n", "snapshots", s->a.rec.nr_snaps, b.s ? b.s : "");

	printf("\nheap\n");
	snprintf(rest, sizeof(rest), "  in %llu allocations",
		 (unsigned long long)st->total_allocations);
	line_size("allocated", st->total_allocated_bytes, rest);
	print_peak(s, "peak", &st->peak_heap);
	snprintf(rest, sizeof(rest), "  in %zu allocations", st->heap.count);
	line_size("live at end", st->heap_bytes, rest);
	if (st->unmatched_frees)
		printf("  %-15s %10llu  (freed memory allocated before the "
		       "recording or unseen)\n", "unmatched frees",
		       (unsigned long long)st->unmatched_frees);
	printf("mmap\n");
	print_peak(s, "peak", &st->peak_mmap);
	snprintf(rest, sizeof(rest), "  in %zu regions", st->regions.n);
	line_size("live at end", st->mmap_bytes, rest);
	if (st->peak_shm.bytes) {
		printf("shm\n");
		print_peak(s, "peak", &st->peak_shm);
		line_size("live at end", st->shm_bytes, "");
	}
	if (st->brk_known) {
		printf("brk\n");
		line_size("growth", st->brk_cur > st->brk_start
						? st->brk_cur - st->brk_start
						: 0, "  (the app's own brk/sbrk)");
	}

	printf("\ncalls\n");
	for (int api = 0; api < VMS_API__COUNT; api++) {
		if (!st->calls[api])
			continue;
		printf("  %-15s %10llu%s", vms_api_names[api],
		       (unsigned long long)st->calls[api],
		       ++col % 3 ? "" : "\n");
	}
	if (!col)
		printf("  (none)");
	if (col % 3 || !col)
		printf("\n");

	printf("\ntop allocation sites (bytes allocated; innermost frame "
	       "first)\n");
	if (!s->nr_top)
		printf("  (none)\n");
	for (size_t i = 0; i < s->nr_top; i++) {
		const struct vms_site_total *site = &s->a.sites[s->top[i]];
		size_t n;
		const uint64_t *fr = vms_stacks_get(&s->a.replay.stacks,
						    s->top[i], &n);
		vms_strbuf_reset(&b);
		for (size_t f = 0; f < n && f < SITE_FRAMES; f++) {
			if (f)
				vms_strbuf_addstr(&b, " < ");
			describe_frame(s, &b, fr[f]);
		}
		if (n > SITE_FRAMES)
			vms_strbuf_addstr(&b, " < ...");
		if (!n)
			vms_strbuf_addstr(&b, "(no stack recorded)");
		printf("  %zu. %10s %8llu calls  %s\n", i + 1,
		       vms_human_size(h, sizeof(h), site->bytes),
		       (unsigned long long)site->count, b.s);
	}
	vms_strbuf_release(&b);
}

/* ---- json ---------------------------------------------------------------- */

static void json_peak(struct vms_json *j, const struct summary *s,
		      const char *name, const struct vms_peak *p)
{
	char key[64];
	snprintf(key, sizeof(key), "peak_%s_bytes", name);
	vms_json_u64(j, key, p->bytes);
	snprintf(key, sizeof(key), "peak_%s_seq", name);
	vms_json_u64(j, key, p->seq);
	snprintf(key, sizeof(key), "peak_%s_time_ns", name);
	if (p->time_ns && p->time_ns >= s->a.rec.meta.start_monotonic_ns)
		vms_json_u64(j, key, p->time_ns - s->a.rec.meta.start_monotonic_ns);
	else
		vms_json_null(j, key);
}

static int print_json(struct summary *s)
{
	const struct vms_meta *m = &s->a.rec.meta;
	const struct vms_state *st = &s->a.state;
	struct vms_json j;
	char hex[24];

	vms_json_init(&j, stdout);
	vms_json_object_begin(&j, NULL);
	vms_json_string(&j, "recording", s->a.rec.path);
	if (m->exe)
		vms_json_string(&j, "exe", m->exe);
	else
		vms_json_null(&j, "exe");
	vms_json_u64(&j, "pid", m->pid);
	vms_json_u64(&j, "ppid", m->ppid);
	vms_json_array_begin(&j, "argv");
	for (size_t i = 0; i < m->argc; i++)
		if (m->argv[i])
			vms_json_string(&j, NULL, m->argv[i]);
		else
			vms_json_null(&j, NULL);
	vms_json_array_end(&j);
	vms_json_bool(&j, "argv_redacted", m->argv_redacted);
	vms_json_u64(&j, "duration_ns", duration_ns(s));
	vms_json_bool(&j, "clean_exit", st->exited);
	if (st->exited)
		vms_json_i64(&j, "exit_status", st->exit_status);
	else
		vms_json_null(&j, "exit_status");
	vms_json_u64(&j, "events", st->events);
	vms_json_u64(&j, "sample_bytes", m->sample_bytes);
	vms_json_bool(&j, "sampled", m->sample_bytes != 0);
	vms_json_u64(&j, "dropped", st->dropped);
	vms_json_u64(&j, "logs", s->a.rec.nr_logs);
	vms_json_u64(&j, "disabled_logs", st->disabled_lanes);
	vms_json_u64(&j, "threads", st->threads);

	vms_json_object_begin(&j, "calls");
	for (int api = 0; api < VMS_API__COUNT; api++)
		vms_json_u64(&j, vms_api_names[api], st->calls[api]);
	vms_json_object_end(&j);

	vms_json_u64(&j, "total_allocated_bytes", st->total_allocated_bytes);
	vms_json_u64(&j, "total_allocations", st->total_allocations);
	json_peak(&j, s, "heap", &st->peak_heap);
	json_peak(&j, s, "mmap", &st->peak_mmap);
	json_peak(&j, s, "shm", &st->peak_shm);
	vms_json_u64(&j, "heap_live_bytes_at_end", st->heap_bytes);
	vms_json_u64(&j, "heap_live_allocations_at_end", st->heap.count);
	vms_json_u64(&j, "mmap_live_bytes_at_end", st->mmap_bytes);
	vms_json_u64(&j, "shm_live_bytes_at_end", st->shm_bytes);
	vms_json_u64(&j, "unmatched_frees", st->unmatched_frees);

	vms_json_u64(&j, "snapshots", s->a.rec.nr_snaps);
	vms_json_array_begin(&j, "snapshot_list");
	for (size_t i = 0; i < s->a.rec.nr_snaps; i++) {
		const struct vms_snapfile *sf = &s->a.rec.snaps[i];
		vms_json_object_begin(&j, NULL);
		vms_json_u64(&j, "index", sf->index);
		vms_json_string(&j, "reason", snap_reason(sf));
		if (sf->loaded && sf->snap.label)
			vms_json_string(&j, "label", sf->snap.label);
		if (sf->loaded) {
			vms_json_u64(&j, "seq", sf->snap.seq);
			vms_json_bool(&j, "interrupted", sf->snap.interrupted);
		}
		vms_json_object_end(&j);
	}
	vms_json_array_end(&j);

	vms_json_array_begin(&j, "top_sites");
	for (size_t i = 0; i < s->nr_top; i++) {
		size_t n;
		const uint64_t *fr = vms_stacks_get(&s->a.replay.stacks,
						    s->top[i], &n);
		vms_json_object_begin(&j, NULL);
		vms_json_u64(&j, "bytes", s->a.sites[s->top[i]].bytes);
		vms_json_u64(&j, "count", s->a.sites[s->top[i]].count);
		vms_json_array_begin(&j, "frames");
		for (size_t f = 0; f < n; f++) {
			snprintf(hex, sizeof(hex), "0x%llx",
				 (unsigned long long)fr[f]);
			vms_json_string(&j, NULL, hex);
		}
		vms_json_array_end(&j);
		vms_json_object_end(&j);
	}
	vms_json_array_end(&j);

	/* "damaged": all messages in one string (absent when the logs are
	 * intact); "damage": the same, one message per damaged log. */
	if (s->a.replay.nr_damage) {
		char *d = vms_analysis_damage_text(&s->a);
		vms_json_string(&j, "damaged", d);
		free(d);
	}
	vms_json_array_begin(&j, "damage");
	for (size_t i = 0; i < s->a.replay.nr_damage; i++)
		vms_json_string(&j, NULL, s->a.replay.damage[i].message);
	vms_json_array_end(&j);
	vms_json_object_end(&j);
	return vms_json_finish(&j);
}

int cmd_summary(int argc, char **argv)
{
	struct summary s;
	const char *path = NULL;
	bool json = false;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: vmspy %s\n\n"
			       "Totals, peak heap / mmap / shm and when, calls "
			       "per API, threads,\nsnapshots and the top "
			       "allocation sites of a recording.\n"
			       "  --json  the same as a JSON object\n", USAGE);
			return VMS_EXIT_OK;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return vms_usage_error(USAGE, "summary: unknown option "
					       "'%s'", argv[i]);
		} else if (path) {
			return vms_usage_error(USAGE, "summary: unexpected "
					       "argument '%s'", argv[i]);
		} else {
			path = argv[i];
		}
	}
	if (!path)
		return vms_usage_error(USAGE, "summary: no recording given");

	memset(&s, 0, sizeof(s));
	if (vms_analysis_open(&s.a, path, true))
		return VMS_EXIT_USAGE;
	s.a.prewarm_symbols = !json; /* the text names the top sites' frames */
	s.a.prewarm_depth = SITE_FRAMES;
	s.a.count_sites = true;
	vms_analysis_run(&s.a, on_event, &s);
	load_snapshot_headers(&s);
	pick_top(&s);

	if (json)
		ret = print_json(&s) ? VMS_EXIT_USAGE : VMS_EXIT_OK;
	else {
		print_text(&s);
		ret = fflush(stdout) ? VMS_EXIT_USAGE : VMS_EXIT_OK;
	}

	vms_analysis_release(&s.a);
	return ret;
}
