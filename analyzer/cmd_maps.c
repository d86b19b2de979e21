/* SPDX-License-Identifier: MIT */
/*
 * `vmspy maps REC [--snapshot N | --at SECONDS | --label NAME] [--by site]
 * [--json] [--top N]`: every region of the address space at one snapshot,
 * attributed to its origin (attribute.h does the work): kind, name, the
 * call stack that made it, Rss/Pss/Swap/THP, madvise calls on it, the live
 * malloc sites inside heap-like regions; totals by kind, checked against
 * the snapshot's own sums.  `--by site` adds resident memory per call site.
 * A recording that died after its last snapshot gets the map at its last
 * event instead (vms_attr_reconstruct), marked reconstructed, unless a
 * snapshot was asked for.
 *
 * Only this file prints; the engine is a library.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "attribute.h"
#include "commands.h"
#include "json.h"
#include "recording.h"
#include "replay.h"
#include "state.h"
#include "symbolize.h"
#include "util.h"

#define USAGE "maps REC [--snapshot N | --at SECONDS | --label NAME] " \
	      "[--by site] [--json] [--top N]"
#define MAX_FRAMES 64
#define TEXT_FRAMES 3
#define DEFAULT_TOP 40

struct maps {
	struct vms_recording rec;
	struct vms_replay replay;
	struct vms_state state;
	struct vms_symbolizer *syms;
	const struct vms_snapshot *snap;
	const struct vms_snapshot *start;
	uint64_t seq;                 /* the snapshot's */
	uint64_t events_after;        /* not applied: after the snapshot */
	bool clean_exit;              /* an EXIT record, before or after */
	bool is_last;                 /* the snapshot is the last one */
	bool to_end;                  /* replay everything, keep `after` */
	bool reconstructed;           /* in.snap is rc.snap */
	struct vms_event *after;      /* address-space events after snap */
	size_t nr_after, alloc_after;
	uint64_t last_time_ns;        /* of the last event after snap */
	struct vms_attr_reconstruction rc;

	struct vms_attr_thread *threads;
	size_t nr_threads, alloc_threads;
	uint64_t *thread_lane, *thread_cstack; /* creator lane / lane id */
	size_t alloc_tl, alloc_tc;
	struct vms_attr_brk *brks;
	size_t nr_brks, alloc_brks;
	struct vms_attr_madvise *madv;
	size_t nr_madv, alloc_madv;
	uint64_t main_tp;
	uint64_t (*log_files)[2];
	size_t nr_log_files;
	char *rec_dir;

	struct vms_attr_input in;
	struct vms_attribution attr;
};

/* ---- replay ---------------------------------------------------------------- */

/* Remove [lo, hi) from a list of ranges (trimming the ones it cuts). */
#define CUT_RANGES(arr, n, lo, hi)                                          \
	do {                                                                \
		size_t k_ = 0;                                              \
		for (size_t i_ = 0; i_ < (n); i_++) {                       \
			__typeof__((arr)[0]) r_ = (arr)[i_];                \
			if (r_.end <= (lo) || r_.start >= (hi)) {           \
				(arr)[k_++] = r_;                           \
				continue;                                   \
			}                                                   \
			if (r_.start < (lo)) { /* keep the left part */     \
				r_.end = (lo);                              \
				(arr)[k_++] = r_;                           \
			} else if (r_.end > (hi)) {                         \
				r_.start = (hi);                            \
				(arr)[k_++] = r_;                           \
			}                                                   \
		}                                                           \
		(n) = k_;                                                   \
	} while (0)

static uint64_t page_up(uint64_t v)
{
	return v > UINT64_MAX - 4095 ? UINT64_MAX & ~4095ull
				     : (v + 4095) & ~4095ull;
}

/* Keep what vms_attr_reconstruct uses of an event after the snapshot. */
static void keep_after(struct maps *m, const struct vms_event *ev)
{
	struct vms_event e = *ev;
	const struct vms_alloc *b;

	if (ev->time_ns > m->last_time_ns)
		m->last_time_ns = ev->time_ns;
	switch (ev->type) {
	case VMS_REC_FREE: /* only a block glibc mapped changes the map */
		b = vms_heapmap_find(&m->state.heap, ev->addr);
		if (!b || b->size < VMS_ATTR_MMAP_THRESHOLD)
			return;
		e.size = b->size;
		break;
	case VMS_REC_MMAP:
	case VMS_REC_MUNMAP:
	case VMS_REC_MPROTECT:
	case VMS_REC_BRK:
	case VMS_REC_SHMAT:
	case VMS_REC_SHMDT:
	case VMS_REC_THREAD_BEGIN:
		break;
	default:
		return;
	}
	VMS_GROW(m->after, m->alloc_after, m->nr_after + 1);
	m->after[m->nr_after++] = e;
}

static int on_event(const struct vms_event *ev, void *ctx)
{
	struct maps *m = ctx;

	if (ev->type == VMS_REC_DLOPEN && m->syms && ev->real_path_len) {
		char *path = xstrndup(ev->real_path, ev->real_path_len);
		char *id = xstrndup(ev->build_id, ev->build_id_len);
		vms_symbolizer_add_module(m->syms, path, ev->bias, id);
		free(path);
		free(id);
	}
	if (ev->type == VMS_REC_EXIT)
		m->clean_exit = true;
	if (ev->seq >= m->seq) {
		m->events_after++;
		if (!m->to_end)
			return 0;
		keep_after(m, ev);
	}
	vms_state_apply(&m->state, ev);
	switch (ev->type) {
	case VMS_REC_THREAD_BEGIN: {
		size_t i = m->nr_threads;
		if (ev->lane == 0 && !m->main_tp && ev->tid == m->rec.meta.pid)
			m->main_tp = ev->handle;
		VMS_GROW(m->threads, m->alloc_threads, i + 1);
		VMS_GROW(m->thread_lane, m->alloc_tl, i + 1);
		VMS_GROW(m->thread_cstack, m->alloc_tc, i + 1);
		m->threads[i] = (struct vms_attr_thread){
			ev->tid, ev->stack_lo, ev->stack_hi, ev->guard_size, 0,
			true };
		m->thread_lane[i] = ev->creator_lane;
		m->thread_cstack[i] = ev->creator_stack;
		m->nr_threads++;
		break;
	}
	case VMS_REC_THREAD_END:
		for (size_t i = m->nr_threads; i-- > 0;)
			if (m->threads[i].tid == ev->tid && m->threads[i].alive) {
				m->threads[i].alive = false;
				break;
			}
		break;
	case VMS_REC_BRK:
		if (ev->new_brk > ev->old_brk) {
			VMS_GROW(m->brks, m->alloc_brks, m->nr_brks + 1);
			m->brks[m->nr_brks++] = (struct vms_attr_brk){
				ev->old_brk, ev->new_brk, ev->gstack };
		} else if (ev->new_brk < ev->old_brk) {
			CUT_RANGES(m->brks, m->nr_brks, ev->new_brk,
				   ev->old_brk);
		}
		break;
	case VMS_REC_MADVISE:
		VMS_GROW(m->madv, m->alloc_madv, m->nr_madv + 1);
		m->madv[m->nr_madv++] = (struct vms_attr_madvise){
			ev->addr, ev->addr + page_up(ev->len), ev->advice,
			ev->seq, ev->gstack };
		break;
	case VMS_REC_MUNMAP:
		CUT_RANGES(m->madv, m->nr_madv, ev->addr,
			   ev->addr + page_up(ev->len));
		break;
	case VMS_REC_MMAP:
		if (ev->api != VMS_API_MREMAP)
			CUT_RANGES(m->madv, m->nr_madv, ev->addr,
				   ev->addr + page_up(ev->len));
		break;
	default:
		break;
	}
	return 0;
}

/* ---- choosing the snapshot ----------------------------------------------- */

static long pick_snapshot(struct maps *m, long want_index, const char *label,
			  double at, bool have_at)
{
	long best = -1;
	for (size_t i = 0; i < m->rec.nr_snaps; i++) {
		const struct vms_snapshot *s =
			vms_recording_snapshot(&m->rec, i, false);
		if (!s)
			return -2;
		if (want_index >= 0) {
			if (s->index == (uint64_t)want_index)
				return (long)i;
			continue;
		}
		if (label) {
			if (s->label && !strcmp(s->label, label))
				best = (long)i; /* the last one of that name */
			continue;
		}
		if (have_at) {
			double t = (double)(s->time_ns -
					    m->rec.meta.start_monotonic_ns) /
				   1e9;
			if (s->time_ns >= m->rec.meta.start_monotonic_ns &&
			    t <= at)
				best = (long)i;
			else if (best < 0)
				best = (long)i;
			continue;
		}
		best = (long)i;
	}
	return best;
}

/* ---- inputs for the engine ----------------------------------------------- */

static void find_log_files(struct maps *m)
{
	char real[PATH_MAX];
	m->log_files = xcalloc(m->rec.nr_logs ? m->rec.nr_logs : 1,
			       sizeof(*m->log_files));
	for (size_t i = 0; i < m->rec.nr_logs; i++) {
		struct stat st;
		if (fstatat(m->rec.dirfd, m->rec.logs[i].name, &st, 0))
			continue;
		m->log_files[m->nr_log_files][0] =
			(uint64_t)major(st.st_dev) << 32 | minor(st.st_dev);
		m->log_files[m->nr_log_files][1] = st.st_ino;
		m->nr_log_files++;
	}
	if (realpath(m->rec.path, real))
		m->rec_dir = xstrdup(real);
}

static uint64_t budget(struct maps *m)
{
	size_t n = m->replay.rec->nr_logs, live = 0;
	uint64_t *stacks = xcalloc(n ? n : 1, sizeof(*stacks));
	uint64_t *frames = xcalloc(n ? n : 1, sizeof(*frames));
	uint64_t b;

	for (size_t i = 0; i < n; i++) {
		const struct vms_logreader *r = &m->replay.readers[i];
		stacks[i] = r->nr_defined;
		for (size_t k = 1; k < r->nr_ids; k++) {
			size_t nf = 0;
			if (r->ids[k])
				vms_stacks_get(&m->replay.stacks, r->ids[k],
					       &nf);
			frames[i] += nf;
		}
	}
	for (size_t i = 0; i < m->nr_threads; i++)
		live += m->threads[i].alive;
	if (!m->nr_threads)
		live = 1;
	b = vms_attr_recorder_budget(n, stacks, frames, live);
	free(stacks);
	free(frames);
	return b;
}

/* ---- output helpers -------------------------------------------------------- */

static char *hs(char *buf, uint64_t v)
{
	return vms_human_size(buf, VMS_HUMAN_SIZE_MAX, v);
}

static const char *kind_name(enum vms_attr_kind k)
{
	return vms_attr_kind_names[k];
}

/* "fn (file:line) < fn2 (...)", at most `max` frames. */
static void frames_text(struct maps *m, struct vms_strbuf *b,
			vms_stack_id id, size_t max)
{
	size_t n;
	const uint64_t *fr = vms_stacks_get(&m->replay.stacks, id, &n);
	char buf[512];
	for (size_t f = 0; f < n && f < max; f++) {
		if (f)
			vms_strbuf_addstr(b, " < ");
		if (m->syms)
			vms_symbolize_one(m->syms, fr[f], buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "0x%llx",
				 (unsigned long long)fr[f]);
		vms_strbuf_add_printable(b, buf, strlen(buf));
	}
	if (n > max)
		vms_strbuf_addstr(b, " < ...");
}

static void json_frames(struct maps *m, struct vms_json *j, const char *key,
			vms_stack_id id)
{
	size_t n, k = 0;
	const uint64_t *fr = vms_stacks_get(&m->replay.stacks, id, &n);
	struct vms_sym_frame out[MAX_FRAMES];
	char hex[24];

	if (m->syms)
		k = vms_symbolize_stack(m->syms, fr, n, out, MAX_FRAMES);
	vms_json_array_begin(j, key);
	for (size_t i = 0; i < (m->syms ? k : n); i++) {
		vms_json_object_begin(j, NULL);
		snprintf(hex, sizeof(hex), "0x%llx",
			 (unsigned long long)(m->syms ? out[i].address
						      : fr[i]));
		vms_json_string(j, "address", hex);
		if (m->syms && out[i].function)
			vms_json_string(j, "function", out[i].function);
		else
			vms_json_null(j, "function");
		if (m->syms && out[i].file) {
			vms_json_string(j, "file", out[i].file);
			vms_json_i64(j, "line", out[i].line);
		}
		if (m->syms && out[i].module) {
			vms_json_string(j, "module", out[i].module);
			snprintf(hex, sizeof(hex), "0x%llx",
				 (unsigned long long)out[i].module_offset);
			vms_json_string(j, "offset", hex);
		}
		if (m->syms && out[i].inlined)
			vms_json_bool(j, "inlined", true);
		vms_json_object_end(j);
	}
	vms_json_array_end(j);
}

static bool huge_pages(const struct vms_attr_region *r)
{
	const char *f = r->vm_flags;
	bool hg = false;
	for (const char *p = f; (p = strstr(p, "hg")); p += 2)
		if ((p == f || p[-1] == ' ') && (p[2] == ' ' || !p[2]))
			hg = true;
	return r->anon_huge > 0 && hg;
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 100.0;
}

/* ---- text ------------------------------------------------------------------- */

static int rss_cmp(const void *a, const void *b)
{
	const struct vms_attr_region *x = *(const struct vms_attr_region *const *)a;
	const struct vms_attr_region *y = *(const struct vms_attr_region *const *)b;
	if (x->rss != y->rss)
		return x->rss > y->rss ? -1 : 1;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->start < y->start ? -1 : 1;
}

/* Nanoseconds since the recording started (0 before). */
static uint64_t since_start(const struct maps *m, uint64_t ns)
{
	return ns >= m->rec.meta.start_monotonic_ns
		       ? ns - m->rec.meta.start_monotonic_ns
		       : 0;
}

/* The last event's time (its lane's last TIME record), or the
 * snapshot's when no event after it carries one. */
static uint64_t end_time_ns(const struct maps *m)
{
	return m->last_time_ns > m->snap->time_ns ? m->last_time_ns
						  : m->snap->time_ns;
}

static uint64_t estimated_regions(const struct vms_attribution *a)
{
	uint64_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].estimated;
	return n;
}

/* The snapshot's own smaps sums (the map may be reconstructed). */
static void smaps_sums(const struct vms_snapshot *s, uint64_t *size,
		       uint64_t *rss)
{
	*size = *rss = 0;
	for (size_t i = 0; i < s->nr_regions; i++) {
		*size += s->regions[i].size;
		*rss += s->regions[i].rss;
	}
}

static void print_header(struct maps *m)
{
	const struct vms_snapshot *s = m->snap;
	struct vms_strbuf b = VMS_STRBUF_INIT;
	double t = (double)since_start(m, s->time_ns) / 1e9;

	vms_strbuf_add_printable(&b, m->rec.path, strlen(m->rec.path));
	printf("recording  %s\n", b.s);
	vms_strbuf_reset(&b);
	if (s->label) {
		vms_strbuf_addstr(&b, " '");
		vms_strbuf_add_printable(&b, s->label, strlen(s->label));
		vms_strbuf_addc(&b, '\'');
	}
	printf("snapshot   %u (%s%s) at %.3f s, seq %llu%s\n", s->index,
	       s->reason_name[0] ? s->reason_name : "unknown", b.s ? b.s : "",
	       t, (unsigned long long)s->seq,
	       s->interrupted ? " (interrupted)" : "");
	vms_strbuf_release(&b);
	for (size_t i = 0; i < m->replay.nr_damage; i++)
		printf("warning: %s\n", m->replay.damage[i].message);
	if (m->reconstructed)
		printf("note: the process did not exit cleanly: map "
		       "reconstructed at the last event (t=%.3f s): the last "
		       "snapshot (t=%.3f s) plus %llu later event%s; Rss of "
		       "changed regions unknown (~: last known)\n",
		       (double)since_start(m, end_time_ns(m)) / 1e9, t,
		       (unsigned long long)m->events_after,
		       m->events_after == 1 ? "" : "s");
	else if (!m->clean_exit && m->is_last && !m->events_after)
		printf("note: the process did not exit cleanly; no event came "
		       "after its last snapshot\n");
	else if (!m->clean_exit && m->is_last)
		printf("note: the process did not exit cleanly: this is the map "
		       "at its last snapshot; %llu later event%s (up to the "
		       "end of the logs) %s not reflected\n",
		       (unsigned long long)m->events_after,
		       m->events_after == 1 ? "" : "s",
		       m->events_after == 1 ? "is" : "are");
}

static void print_totals(struct maps *m)
{
	const struct vms_attribution *a = &m->attr;
	char h1[16], h2[16], h3[16], h4[16];
	int order[VMS_ATTR__KINDS], n = 0;

	for (int k = 0; k < VMS_ATTR__KINDS; k++)
		if (a->totals[k].regions)
			order[n++] = k;
	for (int i = 1; i < n; i++) /* by Rss, then size */
		for (int j = i; j > 0; j--) {
			const struct vms_attr_total *x = &a->totals[order[j]];
			const struct vms_attr_total *y =
				&a->totals[order[j - 1]];
			if (x->rss > y->rss ||
			    (x->rss == y->rss && x->size > y->size)) {
				int t = order[j];
				order[j] = order[j - 1];
				order[j - 1] = t;
			}
		}
	printf("\n%-14s %7s %11s %11s %11s %11s\n", "kind", "regions", "size",
	       "rss", "pss", "swap");
	for (int i = 0; i < n; i++) {
		const struct vms_attr_total *t = &a->totals[order[i]];
		printf("%-14s %7llu %11s %11s %11s %11s\n",
		       kind_name((enum vms_attr_kind)order[i]),
		       (unsigned long long)t->regions, hs(h1, t->size),
		       hs(h2, t->rss), hs(h3, t->pss), hs(h4, t->swap));
	}
	printf("%-14s %7llu %11s %11s %11s %11s\n", "total",
	       (unsigned long long)a->all.regions, hs(h1, a->all.size),
	       hs(h2, a->all.rss), hs(h3, a->all.pss), hs(h4, a->all.swap));
	if (m->reconstructed) {
		uint64_t size, rss;
		smaps_sums(m->snap, &size, &rss);
		printf("%-14s %7zu %11s %11s   %s\n", "snapshot had",
		       m->snap->nr_regions, hs(h1, size), hs(h2, rss),
		       "(not checked against smaps: the map is reconstructed)");
	} else {
		printf("%-14s %7zu %11s %11s   %s\n", "smaps says",
		       m->snap->nr_regions, hs(h1, a->smaps_size),
		       hs(h2, a->smaps_rss),
		       a->smaps_rss == a->all.rss &&
				       a->smaps_size == a->all.size
			       ? "(sums match)"
			       : "MISMATCH: the regions do not add up to "
				 "smaps");
	}
	printf("attributed     %.2f%% of size, %.2f%% of rss",
	       pct(a->all.size - a->unattributed_bytes, a->all.size),
	       pct(a->all.rss - a->totals[VMS_ATTR_UNATTRIBUTED].rss,
		   a->all.rss));
	if (a->unattributed_bytes)
		printf("  (%s unattributed)", hs(h1, a->unattributed_bytes));
	printf("\n");
}

static void print_region(struct maps *m, const struct vms_attr_region *r)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	char h1[16], h2[16], rss[20];

	snprintf(rss, sizeof(rss), "%s%s", r->estimated ? "~" : "",
		 hs(h2, r->rss));
	vms_strbuf_add_printable(&b, r->name, strlen(r->name));
	if (r->detail) {
		vms_strbuf_addstr(&b, b.len ? "  (" : "(");
		vms_strbuf_addstr(&b, r->detail);
		vms_strbuf_addc(&b, ')');
	}
	printf("%012llx-%012llx %s %10s %10s  %-13s %s\n",
	       (unsigned long long)r->start, (unsigned long long)r->end,
	       r->perms, hs(h1, r->size), rss, kind_name(r->kind),
	       b.s ? b.s : "");
	if (r->reason)
		printf("%56s why: %s\n", "", r->reason);
	if (r->stack) {
		vms_strbuf_reset(&b);
		frames_text(m, &b, r->stack, TEXT_FRAMES);
		printf("%56s by %s\n", "", b.s ? b.s : "?");
	}
	for (size_t i = 0; i < r->nr_sites; i++) {
		vms_strbuf_reset(&b);
		frames_text(m, &b, r->sites[i].stack, TEXT_FRAMES);
		printf("%56s %10s in %llu block%s: %s\n", "",
		       hs(h1, r->sites[i].bytes),
		       (unsigned long long)r->sites[i].count,
		       r->sites[i].count == 1 ? "" : "s",
		       r->sites[i].stack ? b.s : "(no stack recorded)");
	}
	for (size_t i = 0; i < r->nr_madvise; i++) {
		const struct vms_attr_madvise *md = &m->madv[r->madvise[i]];
		const char *name = vms_madvise_name(md->advice);
		vms_strbuf_reset(&b);
		frames_text(m, &b, md->stack, TEXT_FRAMES);
		printf("%56s madvise %s", "", name ? name : "?");
		if (!name)
			printf("(%llu)", (unsigned long long)md->advice);
		if (md->advice == MADV_HUGEPAGE)
			printf(" -> %s", huge_pages(r)
					       ? "got huge pages"
					       : "no huge pages");
		printf(" by %s\n", b.s ? b.s : "?");
	}
	vms_strbuf_release(&b);
}

static void print_by_site(struct maps *m, const struct vms_attr_site_usage *u,
			  size_t n, size_t top)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	char h1[16], h2[16];

	printf("\nresident memory per call site (live blocks and app mappings;"
	       " a page shared by blocks is split by bytes)\n");
	printf("%10s %10s %8s  %s\n", "resident", "virtual", "share",
	       "site (innermost first)");
	for (size_t i = 0; i < n && (!top || i < top); i++) {
		vms_strbuf_reset(&b);
		if (u[i].stack)
			frames_text(m, &b, u[i].stack, TEXT_FRAMES);
		else
			vms_strbuf_addstr(&b, "(no stack recorded)");
		printf("%10s %10s %7.1f%%  %s  [%llu block%s, %llu mapping%s]\n",
		       hs(h1, u[i].resident), hs(h2, u[i].virt),
		       pct(u[i].resident, u[i].virt), b.s,
		       (unsigned long long)u[i].blocks,
		       u[i].blocks == 1 ? "" : "s",
		       (unsigned long long)u[i].mappings,
		       u[i].mappings == 1 ? "" : "s");
	}
	if (top && n > top)
		printf("  ... %zu more (--top 0 shows all)\n", n - top);
	vms_strbuf_release(&b);
}

static void print_text(struct maps *m, bool by_site, size_t top)
{
	const struct vms_attribution *a = &m->attr;
	const struct vms_attr_region **v =
		xcalloc(a->n ? a->n : 1, sizeof(*v));

	print_header(m);
	print_totals(m);
	for (size_t i = 0; i < a->n; i++)
		v[i] = &a->v[i];
	if (a->n)
		qsort(v, a->n, sizeof(*v), rss_cmp);
	printf("\nregions by rss%s\n%-25s %s %10s %10s  %-13s %s\n",
	       top && a->n > top ? "" : " (all)", "address", "perm", "size",
	       "rss", "kind", "name (detail)");
	for (size_t i = 0; i < a->n && (!top || i < top); i++)
		print_region(m, v[i]);
	if (top && a->n > top)
		printf("  ... %zu more regions (--top 0 shows all)\n",
		       a->n - top);
	/* Unattributed regions are bugs: always show them. */
	for (size_t i = top; top && i < a->n; i++)
		if (v[i]->kind == VMS_ATTR_UNATTRIBUTED)
			print_region(m, v[i]);
	free(v);
	if (by_site) {
		size_t n;
		struct vms_attr_site_usage *u = vms_attr_by_site(&m->in, a, &n);
		print_by_site(m, u, n, top);
		free(u);
	}
}

/* ---- json -------------------------------------------------------------------- */

static void json_total(struct vms_json *j, const char *key,
		       const struct vms_attr_total *t)
{
	vms_json_object_begin(j, key);
	vms_json_u64(j, "regions", t->regions);
	vms_json_u64(j, "size", t->size);
	vms_json_u64(j, "rss", t->rss);
	vms_json_u64(j, "pss", t->pss);
	vms_json_u64(j, "swap", t->swap);
	vms_json_object_end(j);
}

static int print_json(struct maps *m, bool by_site)
{
	const struct vms_attribution *a = &m->attr;
	const struct vms_snapshot *s = m->snap;
	struct vms_json j;
	uint64_t size, rss;

	vms_json_init(&j, stdout);
	vms_json_object_begin(&j, NULL);
	vms_json_string(&j, "recording", m->rec.path);
	vms_json_object_begin(&j, "snapshot");
	vms_json_u64(&j, "index", s->index);
	vms_json_string(&j, "reason", s->reason_name);
	if (s->label)
		vms_json_string(&j, "label", s->label);
	else
		vms_json_null(&j, "label");
	vms_json_u64(&j, "seq", s->seq);
	vms_json_u64(&j, "time_ns", since_start(m, s->time_ns));
	vms_json_bool(&j, "interrupted", s->interrupted);
	vms_json_object_end(&j);
	vms_json_bool(&j, "clean_exit", m->clean_exit);
	vms_json_u64(&j, "events_after_snapshot", m->events_after);
	vms_json_bool(&j, "reconstructed", m->reconstructed);
	if (m->reconstructed) {
		vms_json_object_begin(&j, "reconstruction");
		vms_json_u64(&j, "time_ns", since_start(m, end_time_ns(m)));
		vms_json_u64(&j, "events_after_snapshot", m->events_after);
		vms_json_u64(&j, "events_applied", m->rc.events);
		vms_json_u64(&j, "uncovered_blocks", m->rc.uncovered_blocks);
		vms_json_u64(&j, "estimated_regions", estimated_regions(a));
		vms_json_bool(&j, "rss_checked_against_smaps", false);
		vms_json_object_end(&j);
	} else {
		vms_json_null(&j, "reconstruction");
	}

	vms_json_array_begin(&j, "regions");
	for (size_t i = 0; i < a->n; i++) {
		const struct vms_attr_region *r = &a->v[i];
		vms_json_object_begin(&j, NULL);
		vms_json_u64(&j, "start", r->start);
		vms_json_u64(&j, "end", r->end);
		vms_json_string(&j, "perms", r->perms);
		vms_json_u64(&j, "size", r->size);
		vms_json_u64(&j, "rss", r->rss);
		vms_json_u64(&j, "pss", r->pss);
		vms_json_u64(&j, "swap", r->swap);
		vms_json_u64(&j, "anon_huge", r->anon_huge);
		vms_json_string(&j, "vm_flags", r->vm_flags);
		vms_json_string(&j, "kind", kind_name(r->kind));
		vms_json_string(&j, "name", r->name);
		if (r->detail)
			vms_json_string(&j, "detail", r->detail);
		else
			vms_json_null(&j, "detail");
		vms_json_bool(&j, "split", r->split);
		vms_json_bool(&j, "estimated", r->estimated);
		json_frames(m, &j, "frames", r->stack);
		vms_json_array_begin(&j, "madvise");
		for (size_t k = 0; k < r->nr_madvise; k++) {
			const struct vms_attr_madvise *md =
				&m->madv[r->madvise[k]];
			const char *name = vms_madvise_name(md->advice);
			vms_json_object_begin(&j, NULL);
			vms_json_u64(&j, "advice", md->advice);
			if (name)
				vms_json_string(&j, "name", name);
			else
				vms_json_null(&j, "name");
			vms_json_u64(&j, "start", md->start);
			vms_json_u64(&j, "end", md->end);
			if (md->advice == MADV_HUGEPAGE)
				vms_json_bool(&j, "huge_pages", huge_pages(r));
			json_frames(m, &j, "frames", md->stack);
			vms_json_object_end(&j);
		}
		vms_json_array_end(&j);
		if (r->reason)
			vms_json_string(&j, "unattributed_reason", r->reason);
		else
			vms_json_null(&j, "unattributed_reason");
		vms_json_u64(&j, "live_bytes", r->live_bytes);
		vms_json_u64(&j, "live_blocks", r->live_blocks);
		vms_json_array_begin(&j, "sites");
		for (size_t k = 0; k < r->nr_sites; k++) {
			vms_json_object_begin(&j, NULL);
			vms_json_u64(&j, "bytes", r->sites[k].bytes);
			vms_json_u64(&j, "count", r->sites[k].count);
			json_frames(m, &j, "frames", r->sites[k].stack);
			vms_json_object_end(&j);
		}
		vms_json_array_end(&j);
		vms_json_object_end(&j);
	}
	vms_json_array_end(&j);

	vms_json_object_begin(&j, "totals");
	for (int k = 0; k < VMS_ATTR__KINDS; k++)
		if (a->totals[k].regions)
			json_total(&j, kind_name((enum vms_attr_kind)k),
				   &a->totals[k]);
	vms_json_object_end(&j);
	json_total(&j, "total", &a->all);
	smaps_sums(s, &size, &rss); /* the snapshot's, even when rebuilt */
	vms_json_object_begin(&j, "smaps_total");
	vms_json_u64(&j, "regions", s->nr_regions);
	vms_json_u64(&j, "size", size);
	vms_json_u64(&j, "rss", rss);
	vms_json_object_end(&j);
	if (m->reconstructed) /* nothing to check against */
		vms_json_null(&j, "rss_matches_smaps");
	else
		vms_json_bool(&j, "rss_matches_smaps",
			      rss == a->all.rss && size == a->all.size);
	vms_json_u64(&j, "unattributed_bytes", a->unattributed_bytes);
	vms_json_u64(&j, "unattributed_rss", a->totals[VMS_ATTR_UNATTRIBUTED].rss);
	vms_json_object_begin(&j, "attributed_share");
	vms_json_double(&j, "size",
			pct(a->all.size - a->unattributed_bytes, a->all.size) /
				100);
	vms_json_double(&j, "rss",
			pct(a->all.rss - a->totals[VMS_ATTR_UNATTRIBUTED].rss,
			    a->all.rss) /
				100);
	vms_json_object_end(&j);
	vms_json_u64(&j, "recorder_budget", m->in.recorder_budget);
	vms_json_u64(&j, "recorder_budget_used", a->recorder_budget_used);

	if (by_site) {
		size_t n;
		struct vms_attr_site_usage *u = vms_attr_by_site(&m->in, a, &n);
		vms_json_array_begin(&j, "by_site");
		for (size_t i = 0; i < n; i++) {
			vms_json_object_begin(&j, NULL);
			vms_json_u64(&j, "resident", u[i].resident);
			vms_json_u64(&j, "virtual", u[i].virt);
			vms_json_u64(&j, "blocks", u[i].blocks);
			vms_json_u64(&j, "mappings", u[i].mappings);
			json_frames(m, &j, "frames", u[i].stack);
			vms_json_object_end(&j);
		}
		vms_json_array_end(&j);
		free(u);
	}
	vms_json_array_begin(&j, "damage");
	for (size_t i = 0; i < m->replay.nr_damage; i++)
		vms_json_string(&j, NULL, m->replay.damage[i].message);
	vms_json_array_end(&j);
	vms_json_object_end(&j);
	return vms_json_finish(&j);
}

/* ---- command ------------------------------------------------------------------ */

static void maps_release(struct maps *m)
{
	vms_attribution_release(&m->attr);
	vms_attr_reconstruction_release(&m->rc);
	free(m->after);
	free(m->threads);
	free(m->thread_lane);
	free(m->thread_cstack);
	free(m->brks);
	free(m->madv);
	free(m->log_files);
	free(m->rec_dir);
	vms_symbolizer_free(m->syms);
	vms_state_release(&m->state);
	vms_replay_release(&m->replay);
	vms_recording_release(&m->rec);
}

static int help(void)
{
	printf("usage: vmspy %s\n\n"
	       "Every region of the address space at one snapshot, with its "
	       "origin: module,\nfile, heap, malloc-mmap, malloc-arena, mmap "
	       "(with the call stack), thread-stack,\nshm-posix, shm-sysv, "
	       "stack, vdso, vvar, vsyscall, loader, vmspy, or unattributed\n"
	       "with the reason.  Rss/Pss/Swap/THP per region, madvise calls, "
	       "live malloc sites\ninside heap regions, totals by kind checked "
	       "against smaps.\nFor a process that died after its last "
	       "snapshot, the default is the map at its\nlast event: the "
	       "snapshot plus the events after it (Rss of changed regions\n"
	       "unknown: ~ marks the last known value, 0 for new regions).\n"
	       "  --snapshot N   snapshot snap.N (default: the last complete "
	       "one)\n"
	       "  --at SECONDS   the last snapshot taken by then\n"
	       "  --label NAME   the (last) snapshot of vmspy_snapshot(NAME)\n"
	       "  --by site      resident memory per call site, from the "
	       "pagemap bitmaps\n"
	       "  --top N        regions / sites shown in text (default %d, 0 "
	       "all)\n"
	       "  --json         the map as a JSON object\n",
	       USAGE, DEFAULT_TOP);
	return VMS_EXIT_OK;
}

int cmd_maps(int argc, char **argv)
{
	static struct maps m;
	const char *path = NULL, *label = NULL;
	long want_index = -1, idx;
	double at = 0;
	bool have_at = false, json = false, by_site = false;
	size_t top = DEFAULT_TOP;
	uint64_t v;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			return help();
		} else if (!strcmp(a, "--by-site") || !strcmp(a, "--by=site")) {
			by_site = true;
		} else if (!strcmp(a, "--by")) {
			if (!val || strcmp(val, "site"))
				return vms_usage_error(USAGE, "maps: --by takes "
						       "'site'");
			by_site = true;
			i++;
		} else if (!strcmp(a, "--snapshot")) {
			if (!val || vms_parse_number(val, &v) || v > LONG_MAX)
				return vms_usage_error(USAGE, "maps: --snapshot "
						       "takes a snapshot "
						       "number");
			want_index = (long)v;
			i++;
		} else if (!strcmp(a, "--label")) {
			if (!val)
				return vms_usage_error(USAGE, "maps: --label "
						       "takes a name");
			label = val;
			i++;
		} else if (!strcmp(a, "--at")) {
			char *end;
			if (!val || (at = strtod(val, &end), *end) || at < 0)
				return vms_usage_error(USAGE, "maps: --at takes "
						       "seconds");
			have_at = true;
			i++;
		} else if (!strcmp(a, "--top")) {
			if (!val || vms_parse_number(val, &v))
				return vms_usage_error(USAGE, "maps: --top "
						       "takes a number");
			top = (size_t)v;
			i++;
		} else if (a[0] == '-' && a[1]) {
			return vms_usage_error(USAGE, "maps: unknown option "
					       "'%s'", a);
		} else if (path) {
			return vms_usage_error(USAGE, "maps: unexpected "
					       "argument '%s'", a);
		} else {
			path = a;
		}
	}
	if (!path)
		return vms_usage_error(USAGE, "maps: no recording given");
	if ((want_index >= 0) + (label != NULL) + have_at > 1)
		return vms_usage_error(USAGE, "maps: give one of --snapshot, "
				       "--at and --label");

	memset(&m, 0, sizeof(m));
	if (vms_recording_open(&m.rec, path))
		return VMS_EXIT_USAGE;
	idx = pick_snapshot(&m, want_index, label, at, have_at);
	if (idx == -2) {
		vms_recording_release(&m.rec);
		return VMS_EXIT_USAGE;
	}
	if (idx < 0) {
		if (want_index >= 0)
			vms_error("recording '%s': no snapshot %ld", path,
				  want_index);
		else if (label)
			vms_error("recording '%s': no snapshot labelled '%s'",
				  path, label);
		else
			vms_error("recording '%s': no snapshots", path);
		vms_recording_release(&m.rec);
		return VMS_EXIT_USAGE;
	}
	m.snap = vms_recording_snapshot(&m.rec, (size_t)idx, true);
	/* The default is the last snapshot with its smaps complete. */
	while (m.snap && want_index < 0 && !label && !have_at &&
	       (!m.snap->has_smaps || m.snap->interrupted) && idx > 0) {
		vms_warning("recording '%s': snapshot %u was interrupted; "
			    "using the one before", path, m.snap->index);
		m.snap = vms_recording_snapshot(&m.rec, (size_t)--idx, true);
	}
	if (!m.snap || !m.snap->has_smaps) {
		if (m.snap)
			vms_error("recording '%s': snapshot %u has no smaps "
				  "(interrupted)", path, m.snap->index);
		vms_recording_release(&m.rec);
		return VMS_EXIT_USAGE;
	}
	m.seq = m.snap->seq;
	m.is_last = (size_t)idx + 1 == m.rec.nr_snaps;
	/* The recorder takes the exit snapshot before the EXIT record: with
	 * none, the process died, and by default we replay to its end. */
	m.to_end = want_index < 0 && !label && !have_at;
	for (size_t i = 0; i < m.rec.nr_snaps; i++) {
		const struct vms_snapshot *s =
			vms_recording_snapshot(&m.rec, i, false);
		if (s && s->reason == VMS_SNAP_EXIT)
			m.to_end = false;
		if (s && s->reason == VMS_SNAP_START && (long)i != idx &&
		    !m.start)
			m.start = vms_recording_snapshot(&m.rec, i, true);
	}
	/* snapshot pointers stay valid: rec->snaps is not reallocated */
	vms_replay_init(&m.replay, &m.rec);
	m.syms = vms_symbolizer_new(&m.rec);
	vms_state_init(&m.state, m.rec.meta.page_size, m.rec.meta.pid);
	m.replay.hint = vms_state_hint;
	m.replay.hint_ctx = &m.state;
	vms_replay_run(&m.replay, on_event, &m);
	for (size_t i = 0; i < m.nr_threads; i++)
		m.threads[i].creator = vms_replay_lane_stack(
			&m.replay, m.thread_lane[i], m.thread_cstack[i]);
	find_log_files(&m);
	m.reconstructed = m.to_end && m.events_after;
	if (m.reconstructed)
		vms_attr_reconstruct(m.snap, m.after, m.nr_after, &m.state,
				     &m.rc);

	m.in = (struct vms_attr_input){
		.snap = m.reconstructed ? &m.rc.snap : m.snap,
		.estimated = m.reconstructed ? m.rc.estimated : NULL,
		.start = m.start,
		.state = &m.state,
		.threads = m.threads,
		.nr_threads = m.nr_threads,
		.brks = m.brks,
		.nr_brks = m.nr_brks,
		.madvise = m.madv,
		.nr_madvise = m.nr_madv,
		.main_tp = m.main_tp,
		.log_files = (const uint64_t(*)[2])m.log_files,
		.nr_log_files = m.nr_log_files,
		.rec_dir = m.rec_dir,
		.recorder_budget = budget(&m),
	};
	if (vms_attribute(&m.in, &m.attr)) {
		maps_release(&m);
		return VMS_EXIT_USAGE;
	}
	if (json) {
		ret = print_json(&m, by_site) ? VMS_EXIT_USAGE : VMS_EXIT_OK;
	} else {
		print_text(&m, by_site, top);
		ret = fflush(stdout) ? VMS_EXIT_USAGE : VMS_EXIT_OK;
	}
	maps_release(&m);
	return ret;
}
