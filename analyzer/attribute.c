/* SPDX-License-Identifier: MIT */
/*
 * The attribution engine (contract and rules in attribute.h).  Everything
 * here works on the parsed snapshot and the replayed state only: no files
 * are read, nothing is printed.
 *
 * Shape: every smaps region is cut at the boundaries of the evidence that
 * overlaps it (recorded mappings, thread stacks, module ranges, malloc
 * blocks, arena heaps); each elementary piece takes the strongest evidence
 * covering it, or the fallback rules; equal neighbours are merged again;
 * the region's counters are shared out between its pieces.
 */
#include "attribute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "util.h"

#define PAGE 4096ull
#define ARENA_HEAP (64ull << 20) /* glibc HEAP_MAX_SIZE on 64-bit */
#define KIB 1024ull

const char *const vms_attr_kind_names[VMS_ATTR__KINDS] = {
	"module", "file", "heap", "malloc-mmap", "malloc-arena", "mmap",
	"thread-stack", "shm-posix", "shm-sysv", "stack", "vdso", "vvar",
	"vsyscall", "loader", "vmspy", "unattributed",
};

static const char *const madv_names[] = {
	[0] = "MADV_NORMAL", [1] = "MADV_RANDOM", [2] = "MADV_SEQUENTIAL",
	[3] = "MADV_WILLNEED", [4] = "MADV_DONTNEED", [8] = "MADV_FREE",
	[9] = "MADV_REMOVE", [10] = "MADV_DONTFORK", [11] = "MADV_DOFORK",
	[12] = "MADV_MERGEABLE", [13] = "MADV_UNMERGEABLE",
	[14] = "MADV_HUGEPAGE", [15] = "MADV_NOHUGEPAGE",
	[16] = "MADV_DONTDUMP", [17] = "MADV_DODUMP",
	[18] = "MADV_WIPEONFORK", [19] = "MADV_KEEPONFORK", [20] = "MADV_COLD",
	[21] = "MADV_PAGEOUT", [22] = "MADV_POPULATE_READ",
	[23] = "MADV_POPULATE_WRITE", [24] = "MADV_DONTNEED_LOCKED",
	[25] = "MADV_COLLAPSE",
};

const char *vms_madvise_name(uint64_t advice)
{
	if (advice == 100)
		return "MADV_HWPOISON";
	if (advice == 101)
		return "MADV_SOFT_OFFLINE";
	return advice < VMS_ARRAY_SIZE(madv_names) ? madv_names[advice] : NULL;
}

static uint64_t page_down(uint64_t a)
{
	return a & ~(PAGE - 1);
}

static uint64_t page_up(uint64_t a)
{
	return a > UINT64_MAX - (PAGE - 1) ? UINT64_MAX & ~(PAGE - 1)
					   : (a + PAGE - 1) & ~(PAGE - 1);
}

static uint64_t pow2_at_least(uint64_t v, uint64_t min)
{
	uint64_t p = min;
	while (p < v && p < (1ull << 62))
		p *= 2;
	return p;
}

uint64_t vms_attr_recorder_budget(size_t nr_lanes, const uint64_t *lane_stacks,
				  const uint64_t *lane_frames,
				  size_t live_threads)
{
	/* preload/snapshot.c: one 256 KiB write buffer during the snapshot;
	 * libunwind: ~270 KiB on first use, 256 KiB per unwinding thread;
	 * preload/intern.c: per lane, 24-byte slots (>= 1024, at most half
	 * full) and an 8-byte-a-frame arena (>= 16384 frames). */
	uint64_t b = 256 * KIB + 64 * KIB + 256 * KIB * (uint64_t)live_threads;
	for (size_t i = 0; i < nr_lanes; i++) {
		b += 24 * pow2_at_least(2 * (lane_stacks[i] + 1), 1024);
		b += 8 * pow2_at_least(lane_frames[i], 16384);
	}
	return b;
}

/* ---- evidence ------------------------------------------------------------ */

enum prio {
	P_APP = 1,        /* the app's own recorded mapping */
	P_THREAD = 2,     /* live thread stacks, the recorder thread */
	P_MODULE = 3,     /* inside a module's PT_LOAD range */
	P_MALLOC = 4,     /* pages of a live block outside heap and arenas */
	P_ARENA = 5,
	P_CACHED = 6,     /* stacks of exited threads */
	P_NONE = 100,
};

struct evidence {
	uint64_t start, end;
	int prio;
	enum vms_attr_kind kind;
	char *name;            /* owned */
	char *detail;          /* owned, or NULL */
	vms_stack_id stack;
};

struct evlist {
	struct evidence *v;
	size_t n, alloc;
	uint64_t *max_end;     /* prefix maximum of end, after sorting */
};

static void ev_add(struct evlist *l, uint64_t start, uint64_t end, int prio,
		   enum vms_attr_kind kind, const char *name,
		   const char *detail, vms_stack_id stack)
{
	if (end <= start)
		return;
	VMS_GROW(l->v, l->alloc, l->n + 1);
	l->v[l->n++] = (struct evidence){
		start, end, prio, kind, xstrdup(name ? name : ""),
		detail ? xstrdup(detail) : NULL, stack,
	};
}

static int ev_cmp(const void *a, const void *b)
{
	const struct evidence *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->prio - y->prio;
}

static void ev_sort(struct evlist *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), ev_cmp);
	l->max_end = xcalloc(l->n ? l->n : 1, sizeof(*l->max_end));
	for (size_t i = 0; i < l->n; i++)
		l->max_end[i] = i && l->max_end[i - 1] > l->v[i].end
					? l->max_end[i - 1]
					: l->v[i].end;
}

static void ev_release(struct evlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].detail);
	}
	free(l->v);
	free(l->max_end);
}

/* Indices of the evidence overlapping [lo, hi), appended to *out. */
static size_t ev_overlapping(const struct evlist *l, uint64_t lo, uint64_t hi,
			     size_t **out, size_t *alloc)
{
	size_t a = 0, b = l->n, n = 0;
	while (a < b) { /* first with start >= hi */
		size_t m = a + (b - a) / 2;
		if (l->v[m].start < hi)
			a = m + 1;
		else
			b = m;
	}
	for (size_t i = a; i-- > 0 && l->max_end[i] > lo;) {
		if (l->v[i].end > lo) {
			VMS_GROW(*out, *alloc, n + 1);
			(*out)[n++] = i;
		}
	}
	return n;
}

/* ---- snapshot helpers ---------------------------------------------------- */

static bool is_anon(const struct vms_smaps_region *r)
{
	return !r->path[0];
}

static bool has_flag(const char *flags, const char *f)
{
	size_t n = strlen(f);
	for (const char *p = flags; (p = strstr(p, f)); p += n)
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* Index of the smaps region containing addr, or -1. */
static long region_at(const struct vms_snapshot *s, uint64_t addr)
{
	size_t a = 0, b = s->nr_regions;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (s->regions[m].end <= addr)
			a = m + 1;
		else
			b = m;
	}
	if (a < s->nr_regions && s->regions[a].start <= addr)
		return (long)a;
	return -1;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static bool is_vmspy_module(const char *path)
{
	return !strncmp(base_name(path), "libvmspy.so", 11);
}

static bool is_loader_path(const char *path)
{
	return strstr(base_name(path), "ld-linux") != NULL ||
	       !strncmp(base_name(path), "ld-", 3);
}

/* Pagemap entries sorted by start, for lookups. */
struct pagemaps {
	const struct vms_snap_pagemap **v;
	size_t n;
};

static int pm_cmp(const void *a, const void *b)
{
	const struct vms_snap_pagemap *x = *(const struct vms_snap_pagemap *const *)a;
	const struct vms_snap_pagemap *y = *(const struct vms_snap_pagemap *const *)b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void pagemaps_init(struct pagemaps *p, const struct vms_snapshot *s)
{
	p->n = s->nr_pagemap;
	p->v = xcalloc(p->n ? p->n : 1, sizeof(*p->v));
	for (size_t i = 0; i < p->n; i++)
		p->v[i] = &s->pagemap[i];
	if (p->n)
		qsort(p->v, p->n, sizeof(*p->v), pm_cmp);
}

static const struct vms_snap_pagemap *pagemap_at(const struct pagemaps *p,
						 uint64_t addr)
{
	size_t a = 0, b = p->n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (p->v[m]->end <= addr)
			a = m + 1;
		else
			b = m;
	}
	if (a < p->n && p->v[a]->start <= addr && p->v[a]->bitmap_len)
		return p->v[a];
	return NULL;
}

/* Resident pages of [lo, hi) by the bitmaps; -1 if any page is unknown. */
static int64_t resident_pages(const struct pagemaps *p, uint64_t lo,
			      uint64_t hi)
{
	int64_t n = 0;
	for (uint64_t a = page_down(lo); a < hi; a += PAGE) {
		const struct vms_snap_pagemap *pm = pagemap_at(p, a);
		int r = pm ? vms_snap_pagemap_page(pm, (a - pm->start) / PAGE)
			   : -1;
		if (r < 0)
			return -1;
		n += r;
	}
	return n;
}

/* ---- output -------------------------------------------------------------- */

struct piece {
	uint64_t start, end;
	const struct evidence *ev;   /* NULL: fallback */
	enum vms_attr_kind kind;     /* for fallbacks */
	const char *name, *detail;   /* for fallbacks (static strings) */
	int leftover;                /* candidate for the recorder budget */
};

static struct vms_attr_region *out_add(struct vms_attribution *a)
{
	VMS_GROW(a->v, a->alloc, a->n + 1);
	memset(&a->v[a->n], 0, sizeof(a->v[0]));
	return &a->v[a->n++];
}

static uint64_t share(uint64_t total, uint64_t w, uint64_t wsum)
{
	if (!wsum)
		return 0;
	return (uint64_t)((unsigned __int128)total * w / wsum);
}

/* Shares total among n pieces by weight, never giving a piece more than
 * its cap (its size: a piece cannot have more resident bytes than it
 * spans, even when the pagemap bitmap and smaps were read a moment apart
 * and disagree).  What rounding and caps leave goes to pieces with room,
 * first to last. */
static void share_capped(uint64_t total, const uint64_t *w, uint64_t wsum,
			 const uint64_t *cap, size_t n, uint64_t *out)
{
	uint64_t given = 0;
	for (size_t i = 0; i < n; i++) {
		out[i] = share(total, w[i], wsum);
		if (out[i] > cap[i])
			out[i] = cap[i];
		given += out[i];
	}
	for (size_t i = 0; i < n && given < total; i++) {
		uint64_t room = cap[i] - out[i], add = total - given;
		if (add > room)
			add = room;
		out[i] += add;
		given += add;
	}
	if (given < total && n) /* cannot happen while total <= sum of caps */
		out[n - 1] += total - given;
}

/* Append region r's pieces to out, sharing its counters. */
static void emit_pieces(struct vms_attribution *out,
			const struct vms_snapshot *s, size_t ri,
			const struct piece *pc, size_t n,
			const struct pagemaps *pms)
{
	const struct vms_smaps_region *r = &s->regions[ri];
	uint64_t *w = xcalloc(n, sizeof(*w)), wsum = 0;
	bool by_pages = n > 1 && r->rss;
	uint64_t left_rss = r->rss, left_pss = r->pss, left_swap = r->swap,
		 left_huge = r->anon_huge_pages, left_swpss = r->swap_pss;

	for (size_t i = 0; by_pages && i < n; i++) {
		int64_t k = resident_pages(pms, pc[i].start, pc[i].end);
		if (k < 0)
			by_pages = false;
		else
			w[i] = (uint64_t)k;
	}
	for (size_t i = 0; i < n; i++) {
		if (!by_pages)
			w[i] = pc[i].end - pc[i].start;
		wsum += w[i];
	}
	if (by_pages && !wsum) { /* bitmap says nothing is resident */
		for (size_t i = 0; i < n; i++)
			wsum += w[i] = pc[i].end - pc[i].start;
	}
	/* Rss first, capped by each piece's size; the other counters follow
	 * the Rss shares (or the size when nothing is resident). */
	uint64_t *cap = xcalloc(n, sizeof(*cap)), *rss = xcalloc(n, sizeof(*rss));
	for (size_t i = 0; i < n; i++)
		cap[i] = pc[i].end - pc[i].start;
	share_capped(r->rss, w, wsum, cap, n, rss);
	if (r->rss) {
		wsum = 0;
		for (size_t i = 0; i < n; i++)
			wsum += w[i] = rss[i];
	}
	for (size_t i = 0; i < n; i++) {
		struct vms_attr_region *o = out_add(out);
		const struct evidence *e = pc[i].ev;
		bool last = i + 1 == n;

		o->start = pc[i].start;
		o->end = pc[i].end;
		o->smaps_index = ri;
		o->split = n > 1;
		memcpy(o->perms, r->perms, sizeof(o->perms));
		o->size = o->end - o->start;
		o->vm_flags = r->vm_flags;
#define SHARE(field, left) \
	(last ? left : share(r->field, w[i], wsum))
		o->rss = rss[i];
		o->pss = SHARE(pss, left_pss);
		o->swap = SHARE(swap, left_swap);
		o->anon_huge = SHARE(anon_huge_pages, left_huge);
		o->swap_pss = SHARE(swap_pss, left_swpss);
#undef SHARE
		left_rss -= o->rss;
		left_pss -= o->pss;
		left_swap -= o->swap;
		left_huge -= o->anon_huge;
		left_swpss -= o->swap_pss;
		if (e) {
			o->kind = e->kind;
			o->name = xstrdup(e->name);
			o->detail = e->detail ? xstrdup(e->detail) : NULL;
			o->stack = e->stack;
		} else {
			o->kind = pc[i].kind;
			o->name = xstrdup(pc[i].name ? pc[i].name : "");
			o->detail = pc[i].detail ? xstrdup(pc[i].detail) : NULL;
			/* leftovers are decided later (budget) */
			o->reason = pc[i].leftover ? xstrdup("?") : NULL;
		}
	}
	free(w);
	free(cap);
	free(rss);
}

/* ---- rules ----------------------------------------------------------------- */

struct ctx {
	const struct vms_attr_input *in;
	const struct vms_snapshot *s;
	struct evlist ev;
	struct pagemaps pms;
	const char *loader_name;
	uint64_t *arenas;      /* 64 MiB-aligned heap bases, sorted */
	size_t nr_arenas, alloc_arenas;
};

static bool in_arena(const struct ctx *c, uint64_t addr)
{
	uint64_t base = addr & ~(ARENA_HEAP - 1);
	size_t a = 0, b = c->nr_arenas;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (c->arenas[m] < base)
			a = m + 1;
		else
			b = m;
	}
	return a < c->nr_arenas && c->arenas[a] == base;
}

static bool guard_region_at(const struct vms_snapshot *s, uint64_t lo,
			    uint64_t guard)
{
	long i;
	if (!guard)
		return true;
	i = region_at(s, lo - 1);
	return i >= 0 && s->regions[i].end == lo &&
	       !strncmp(s->regions[i].perms, "---", 3);
}

static void collect_evidence(struct ctx *c)
{
	const struct vms_attr_input *in = c->in;
	const struct vms_snapshot *s = c->s;
	const struct vms_regions *rs = &in->state->regions;
	char buf[128];

	/* 1: the app's own anonymous mappings (file ones are matched by
	 * address when their file region is classified). */
	for (size_t i = 0; i < rs->n; i++) {
		const struct vms_region *r = &rs->v[i];
		if (r->path || r->api == VMS_API_SHMAT)
			continue;
		ev_add(&c->ev, r->start, r->end, P_APP, VMS_ATTR_MMAP,
		       (r->flags & MAP_SHARED) ? "anon shared" : "anon",
		       r->api == VMS_API_MREMAP ? "moved/resized by mremap"
						: NULL,
		       r->stack);
	}

	/* 2 and 6: thread stacks; the latest thread on a range wins. */
	for (size_t i = in->nr_threads; i-- > 0;) {
		const struct vms_attr_thread *t = &in->threads[i];
		bool dup = false;
		if (!t->stack_hi || t->stack_hi <= t->stack_lo)
			continue;
		for (size_t j = i + 1; j < in->nr_threads && !dup; j++)
			dup = in->threads[j].stack_lo == t->stack_lo &&
			      in->threads[j].stack_hi == t->stack_hi;
		if (dup)
			continue;
		if (!t->alive && !guard_region_at(s, t->stack_lo, t->guard))
			continue; /* unmapped by glibc since */
		snprintf(buf, sizeof(buf), "thread %llu%s",
			 (unsigned long long)t->tid,
			 t->alive ? "" : " (exited)");
		ev_add(&c->ev, t->stack_lo - t->guard, t->stack_lo,
		       t->alive ? P_THREAD : P_CACHED, VMS_ATTR_THREAD_STACK,
		       buf, "guard page", t->creator);
		ev_add(&c->ev, t->stack_lo, t->stack_hi,
		       t->alive ? P_THREAD : P_CACHED, VMS_ATTR_THREAD_STACK,
		       buf, t->alive ? "stack" : "stack cached by glibc",
		       t->creator);
	}
	for (size_t i = 0; i < s->nr_own; i++)
		ev_add(&c->ev, s->own[i].start, s->own[i].end, P_THREAD,
		       VMS_ATTR_VMSPY, "vmspy", s->own[i].what, 0);
	if (s->recorder_hi > s->recorder_lo) {
		ev_add(&c->ev, s->recorder_lo, s->recorder_hi, P_THREAD,
		       VMS_ATTR_VMSPY, "vmspy", "recorder thread stack", 0);
		if (guard_region_at(s, s->recorder_lo, PAGE))
			ev_add(&c->ev, s->recorder_lo - PAGE, s->recorder_lo,
			       P_THREAD, VMS_ATTR_VMSPY, "vmspy",
			       "recorder thread guard page", 0);
	}

	/* 3: module ranges: anonymous pieces in them are the .bss tail. */
	for (size_t m = 0; m < s->nr_modules; m++) {
		const struct vms_snap_module *mod = &s->modules[m];
		uint64_t lo = UINT64_MAX, hi = 0;
		if (!mod->path[0] || mod->path[0] == '[' ||
		    !strncmp(mod->path, "linux-vdso", 10))
			continue;
		for (size_t k = 0; k < mod->nr_segments; k++) {
			const struct vms_snap_segment *g =
				&s->segments[mod->first_segment + k];
			if (g->start < lo)
				lo = g->start;
			if (g->end > hi)
				hi = g->end;
		}
		if (lo >= hi)
			continue;
		ev_add(&c->ev, page_down(lo), page_up(hi), P_MODULE,
		       is_vmspy_module(mod->path) ? VMS_ATTR_VMSPY
						  : VMS_ATTR_MODULE,
		       mod->path, "bss", 0);
	}

	/* 5: arena heaps: 64 MiB-aligned, MAP_NORESERVE ('nr'). */
	for (size_t i = 0; i < s->nr_regions; i++) {
		const struct vms_smaps_region *r = &s->regions[i];
		if (!is_anon(r) || r->start % ARENA_HEAP ||
		    !has_flag(r->vm_flags, "nr"))
			continue;
		VMS_GROW(c->arenas, c->alloc_arenas, c->nr_arenas + 1);
		c->arenas[c->nr_arenas++] = r->start;
		snprintf(buf, sizeof(buf), "arena heap %#llx",
			 (unsigned long long)r->start);
		ev_add(&c->ev, r->start, r->start + ARENA_HEAP, P_ARENA,
		       VMS_ATTR_MALLOC_ARENA, buf, NULL, 0);
	}

	/* 4: live blocks outside [heap] and arena heaps: glibc mapped them
	 * (the chunk header is 16 bytes before the pointer, the mapping is
	 * the chunk rounded up to pages). */
	{
		const struct vms_alloc *b;
		for (size_t it = 0;
		     (b = vms_heapmap_next(&in->state->heap, &it));) {
			long ri = region_at(s, b->addr);
			if (ri < 0 || !is_anon(&s->regions[ri]) ||
			    in_arena(c, b->addr))
				continue;
			ev_add(&c->ev, page_down(b->addr - 16),
			       page_up(b->addr + b->size + 8), P_MALLOC,
			       VMS_ATTR_MALLOC_MMAP, "malloc",
			       "large block mapped by glibc malloc",
			       b->stack);
		}
	}
	ev_sort(&c->ev);
}

/* Fallback rules 7-9 for an anonymous piece no evidence covers. */
static void fallback(struct ctx *c, const struct vms_smaps_region *r,
		     struct piece *p)
{
	const struct vms_snapshot *st = c->in->start;

	p->ev = NULL;
	p->leftover = 0;
	if (c->in->main_tp >= p->start && c->in->main_tp < p->end) {
		p->kind = VMS_ATTR_LOADER;
		p->name = c->loader_name;
		p->detail = "main thread static TLS and TCB (thread pointer)";
		return;
	}
	if (has_flag(r->vm_flags, "wf")) {
		p->kind = VMS_ATTR_VMSPY;
		p->name = "vmspy";
		p->detail = "fork-detection page (MADV_WIPEONFORK)";
		return;
	}
	if (st && st != c->s) {
		long i = region_at(st, p->start);
		if (i < 0 && st->nr_regions) {
			/* first region starting inside the piece */
			size_t a = 0, b = st->nr_regions;
			while (a < b) {
				size_t m = a + (b - a) / 2;
				if (st->regions[m].start < p->start)
					a = m + 1;
				else
					b = m;
			}
			if (a < st->nr_regions && st->regions[a].start < p->end)
				i = (long)a;
		}
		if (i >= 0 && is_anon(&st->regions[i])) {
			p->kind = VMS_ATTR_LOADER;
			p->name = c->loader_name;
			p->detail = "anonymous memory present at start-up, "
				    "before main (ld.so: link maps, TLS, dtv)";
			return;
		}
	}
	p->kind = VMS_ATTR_UNATTRIBUTED;
	p->name = "anon";
	p->detail = NULL;
	p->leftover = 1;
}

static int uint64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Cut region ri at the evidence boundaries and classify the pieces. */
static void split_region(struct ctx *c, struct vms_attribution *out,
			 size_t ri, bool heap)
{
	const struct vms_smaps_region *r = &c->s->regions[ri];
	size_t *idx = NULL, alloc_idx = 0, ne;
	uint64_t *cuts;
	size_t nc = 0;
	struct piece *pc;
	size_t np = 0;

	ne = heap ? 0 : ev_overlapping(&c->ev, r->start, r->end, &idx,
				       &alloc_idx);
	cuts = xcalloc(2 * ne + 2 + 2 * c->in->nr_brks, sizeof(*cuts));
	cuts[nc++] = r->start;
	cuts[nc++] = r->end;
	for (size_t i = 0; i < ne; i++) {
		const struct evidence *e = &c->ev.v[idx[i]];
		if (e->start > r->start && e->start < r->end)
			cuts[nc++] = e->start;
		if (e->end > r->start && e->end < r->end)
			cuts[nc++] = e->end;
	}
	if (heap) {
		for (size_t i = 0; i < c->in->nr_brks; i++) {
			const struct vms_attr_brk *b = &c->in->brks[i];
			if (b->start > r->start && b->start < r->end)
				cuts[nc++] = b->start;
			if (b->end > r->start && b->end < r->end)
				cuts[nc++] = b->end;
		}
	}
	qsort(cuts, nc, sizeof(*cuts), uint64_cmp);
	pc = xcalloc(nc, sizeof(*pc));
	for (size_t k = 0; k + 1 < nc; k++) {
		struct piece p = { .start = cuts[k], .end = cuts[k + 1] };
		const struct evidence *best = NULL;
		if (p.start == p.end)
			continue;
		for (size_t i = 0; i < ne; i++) {
			const struct evidence *e = &c->ev.v[idx[i]];
			if (e->start <= p.start && e->end >= p.end &&
			    (!best || e->prio < best->prio))
				best = e;
		}
		p.ev = best;
		if (heap) {
			p.kind = VMS_ATTR_HEAP;
			p.name = "[heap]";
			p.detail = "malloc main arena (brk)";
			for (size_t i = 0; i < c->in->nr_brks; i++) {
				const struct vms_attr_brk *b = &c->in->brks[i];
				if (b->start <= p.start && b->end >= p.end)
					p.detail = "brk/sbrk by the app";
			}
		} else if (!best) {
			fallback(c, r, &p);
		}
		/* merge with an equal left neighbour */
		if (np && pc[np - 1].end == p.start && pc[np - 1].ev == p.ev &&
		    (p.ev || (pc[np - 1].kind == p.kind &&
			      pc[np - 1].detail == p.detail))) {
			pc[np - 1].end = p.end;
			continue;
		}
		pc[np++] = p;
	}
	emit_pieces(out, c->s, ri, pc, np, &c->pms);
	/* The app's brk pieces carry the BRK call's stack. */
	if (heap) {
		for (size_t k = out->n - np; k < out->n; k++)
			for (size_t i = 0; i < c->in->nr_brks; i++)
				if (c->in->brks[i].start <= out->v[k].start &&
				    c->in->brks[i].end >= out->v[k].end)
					out->v[k].stack = c->in->brks[i].stack;
	}
	free(pc);
	free(cuts);
	free(idx);
}

/* Detail of a file region inside module m: which part of the ELF. */
static const char *module_part(const struct vms_snapshot *s,
			       const struct vms_snap_module *m,
			       const struct vms_smaps_region *r)
{
	if (r->perms[2] == 'x')
		return "text";
	if (r->perms[1] == 'w')
		return "data";
	if (r->perms[0] != 'r')
		return "gap (PROT_NONE)";
	for (size_t k = 0; k < m->nr_segments; k++) {
		const struct vms_snap_segment *g =
			&s->segments[m->first_segment + k];
		/* read-only now, inside a writable PT_LOAD: PT_GNU_RELRO */
		if ((g->prot & PROT_WRITE) && page_down(g->start) < r->end &&
		    page_up(g->end) > r->start)
			return "relro";
	}
	return "rodata";
}

static const struct vms_snap_module *module_at(const struct vms_snapshot *s,
					       uint64_t lo, uint64_t hi)
{
	for (size_t m = 0; m < s->nr_modules; m++) {
		const struct vms_snap_module *mod = &s->modules[m];
		uint64_t a = UINT64_MAX, b = 0;
		for (size_t k = 0; k < mod->nr_segments; k++) {
			const struct vms_snap_segment *g =
				&s->segments[mod->first_segment + k];
			a = g->start < a ? g->start : a;
			b = g->end > b ? g->end : b;
		}
		if (a < b && page_down(a) <= lo && page_up(b) >= hi)
			return mod;
	}
	return NULL;
}

static bool is_log_chunk(const struct ctx *c, const struct vms_smaps_region *r)
{
	const char *slash;
	uint64_t dev = (uint64_t)r->dev_major << 32 | r->dev_minor;

	for (size_t i = 0; i < c->in->nr_log_files; i++)
		if (c->in->log_files[i][0] == dev &&
		    c->in->log_files[i][1] == r->inode && r->inode)
			return true;
	if (!c->in->rec_dir || !(slash = strrchr(r->path, '/')))
		return false;
	return (size_t)(slash - r->path) == strlen(c->in->rec_dir) &&
	       !strncmp(r->path, c->in->rec_dir, (size_t)(slash - r->path)) &&
	       !strncmp(slash + 1, "log.", 4);
}

/* A region with a path: kernel, file, module, shm, log chunk. */
static void classify_named(struct ctx *c, struct vms_attribution *out,
			   size_t ri)
{
	const struct vms_smaps_region *r = &c->s->regions[ri];
	const char *p = r->path;
	struct piece pc = { .start = r->start, .end = r->end };
	const struct vms_region *app =
		vms_regions_find(&c->in->state->regions, r->start);
	const struct vms_snap_module *mod;
	char buf[160];
	vms_stack_id stack = app ? app->stack : 0;
	char *name = NULL;

	pc.name = p;
	if (!strcmp(p, "[stack]")) {
		pc.kind = VMS_ATTR_STACK;
		pc.detail = "main thread";
	} else if (!strcmp(p, "[vdso]")) {
		pc.kind = VMS_ATTR_VDSO;
	} else if (!strncmp(p, "[vvar", 5)) {
		pc.kind = VMS_ATTR_VVAR;
	} else if (!strcmp(p, "[vsyscall]")) {
		pc.kind = VMS_ATTR_VSYSCALL;
	} else if (p[0] == '[') {
		pc.kind = VMS_ATTR_UNATTRIBUTED;
		pc.detail = "kernel region of an unknown name";
	} else if (is_log_chunk(c, r)) {
		pc.kind = VMS_ATTR_VMSPY;
		pc.name = "vmspy";
		pc.detail = "log chunk of this recording";
		stack = 0;
	} else if (!strncmp(p, "/dev/shm/", 9)) {
		pc.kind = VMS_ATTR_SHM_POSIX;
		name = xstrdup(p + 8);
		if (strstr(name, " (deleted)"))
			*strstr(name, " (deleted)") = '\0';
	} else if (!strncmp(p, "/SYSV", 5)) {
		pc.kind = VMS_ATTR_SHM_SYSV;
		if (app && app->api == VMS_API_SHMAT)
			snprintf(buf, sizeof(buf), "key %#llx shmid %llu",
				 (unsigned long long)(uint32_t)app->key,
				 (unsigned long long)app->shmid);
		else
			snprintf(buf, sizeof(buf), "key 0x%.8s", p + 5);
		name = xstrdup(buf);
	} else if ((mod = module_at(c->s, r->start, r->end))) {
		pc.kind = is_vmspy_module(mod->path) ? VMS_ATTR_VMSPY
						     : VMS_ATTR_MODULE;
		pc.name = mod->path;
		pc.detail = module_part(c->s, mod, r);
		stack = 0;
	} else if (!strncmp(p, "/dev/zero", 9) && app) {
		pc.kind = VMS_ATTR_MMAP;
		pc.detail = "shared anonymous";
	} else {
		pc.kind = VMS_ATTR_FILE;
		pc.detail = app ? "mapped by the app"
				: "mapped without a hooked call (ld.so, "
				  "glibc or before recording)";
	}
	if (name)
		pc.name = name;
	emit_pieces(out, c->s, ri, &pc, 1, &c->pms);
	out->v[out->n - 1].stack = stack;
	if (pc.kind == VMS_ATTR_UNATTRIBUTED)
		out->v[out->n - 1].reason = xstrdup(pc.detail);
	free(name);
}

/* Rule 10: leftovers, smallest first, go to the recorder's budget. */
static int left_cmp(const void *a, const void *b, void *arg)
{
	const struct vms_attribution *o = arg;
	const struct vms_attr_region *x = &o->v[*(const size_t *)a];
	const struct vms_attr_region *y = &o->v[*(const size_t *)b];
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->start < y->start ? -1 : 1;
}

static void spend_budget(const struct vms_attr_input *in,
			 struct vms_attribution *o)
{
	size_t *left = NULL, n = 0, alloc = 0;
	uint64_t used = 0;

	for (size_t i = 0; i < o->n; i++) {
		if (o->v[i].kind == VMS_ATTR_UNATTRIBUTED && o->v[i].reason &&
		    !strcmp(o->v[i].reason, "?")) {
			VMS_GROW(left, alloc, n + 1);
			left[n++] = i;
		}
	}
	if (n)
		qsort_r(left, n, sizeof(*left), left_cmp, o);
	for (size_t k = 0; k < n; k++) {
		struct vms_attr_region *r = &o->v[left[k]];
		free(r->reason);
		r->reason = NULL;
		if (used + r->size <= in->recorder_budget) {
			used += r->size;
			r->kind = VMS_ATTR_VMSPY;
			free(r->name);
			r->name = xstrdup("vmspy");
			free(r->detail);
			r->detail = xstrdup(
				"recorder-internal: unrecorded anonymous "
				"mapping within vmspy's own budget (libunwind "
				"caches, stack tables, snapshot buffer)");
		} else {
			r->reason = xstrdup(
				"anonymous mapping with no recorded origin: "
				"no hooked mmap, live block, thread stack, "
				"arena or module covers it");
		}
	}
	o->recorder_budget_used = used;
	free(left);
}

static size_t piece_at(const struct vms_attribution *o, uint64_t addr)
{
	size_t a = 0, b = o->n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (o->v[m].end <= addr)
			a = m + 1;
		else
			b = m;
	}
	return a < o->n && o->v[a].start <= addr ? a : SIZE_MAX;
}

static bool malloc_kind(enum vms_attr_kind k)
{
	return k == VMS_ATTR_HEAP || k == VMS_ATTR_MALLOC_ARENA ||
	       k == VMS_ATTR_MALLOC_MMAP;
}

/* (piece, stack) -> bytes, count: an open-addressing table. */
struct pair_slot {
	uint64_t key; /* piece << 32 | stack, +1; 0 empty */
	uint64_t bytes, count;
};

struct pairs {
	struct pair_slot *v;
	size_t size, used;
};

static struct pair_slot *pairs_get(struct pairs *t, uint64_t key)
{
	size_t mask, i;
	if ((t->used + 1) * 2 > t->size) {
		struct pairs n = { xcalloc(t->size ? t->size * 2 : 256,
					   sizeof(*t->v)),
				   t->size ? t->size * 2 : 256, 0 };
		for (size_t j = 0; j < t->size; j++)
			if (t->v[j].key)
				*pairs_get(&n, t->v[j].key) = t->v[j];
		free(t->v);
		*t = n;
	}
	mask = t->size - 1;
	for (i = (key * 0x9e3779b97f4a7c15ull) >> 20 & mask;
	     t->v[i].key && t->v[i].key != key; i = (i + 1) & mask)
		;
	if (!t->v[i].key) {
		t->v[i].key = key;
		t->used++;
	}
	return &t->v[i];
}

static void add_sites(const struct vms_attr_input *in,
		      struct vms_attribution *o)
{
	struct pairs t = { 0 };
	const struct vms_alloc *b;

	for (size_t it = 0; (b = vms_heapmap_next(&in->state->heap, &it));) {
		size_t p = piece_at(o, b->addr);
		struct pair_slot *s;
		if (p == SIZE_MAX)
			continue;
		o->v[p].live_bytes += b->size;
		o->v[p].live_blocks++;
		if (!malloc_kind(o->v[p].kind))
			continue;
		s = pairs_get(&t, ((uint64_t)p << 32 | b->stack) + 1);
		s->bytes += b->size;
		s->count++;
	}
	for (size_t j = 0; j < t.size; j++) {
		struct vms_attr_region *r;
		struct vms_attr_site site;
		size_t k;
		if (!t.v[j].key)
			continue;
		r = &o->v[(t.v[j].key - 1) >> 32];
		site = (struct vms_attr_site){
			(vms_stack_id)((t.v[j].key - 1) & 0xffffffffu),
			t.v[j].bytes, t.v[j].count };
		for (k = r->nr_sites; k > 0 && (r->sites[k - 1].bytes <
						site.bytes ||
					       (r->sites[k - 1].bytes ==
							site.bytes &&
						r->sites[k - 1].stack >
							site.stack));
		     k--)
			if (k < VMS_ATTR_TOP_SITES)
				r->sites[k] = r->sites[k - 1];
		if (k < VMS_ATTR_TOP_SITES) {
			r->sites[k] = site;
			if (r->nr_sites < VMS_ATTR_TOP_SITES)
				r->nr_sites++;
		}
	}
	free(t.v);
}

static void add_madvise(const struct vms_attr_input *in,
			struct vms_attribution *o)
{
	for (size_t i = 0; i < o->n; i++) {
		struct vms_attr_region *r = &o->v[i];
		for (size_t k = 0; k < in->nr_madvise; k++) {
			const struct vms_attr_madvise *m = &in->madvise[k];
			if (m->start >= r->end || m->end <= r->start)
				continue;
			r->madvise = xrealloc_array(r->madvise,
						    r->nr_madvise + 1,
						    sizeof(*r->madvise));
			r->madvise[r->nr_madvise++] = k;
		}
	}
}

int vms_attribute(const struct vms_attr_input *in, struct vms_attribution *out)
{
	struct ctx c = { .in = in, .s = in->snap, .loader_name = "ld.so" };

	memset(out, 0, sizeof(*out));
	if (!in->snap || !in->snap->has_smaps)
		return vms_error("snapshot %u has no smaps to attribute",
				 in->snap ? in->snap->index : 0);
	for (size_t m = 0; m < c.s->nr_modules; m++)
		if (is_loader_path(c.s->modules[m].path))
			c.loader_name = c.s->modules[m].path;
	pagemaps_init(&c.pms, c.s);
	collect_evidence(&c);

	for (size_t i = 0; i < c.s->nr_regions; i++) {
		const struct vms_smaps_region *r = &c.s->regions[i];
		out->smaps_size += r->size;
		out->smaps_rss += r->rss;
		if (r->end <= r->start)
			continue;
		size_t first = out->n;
		if (!strcmp(r->path, "[heap]"))
			split_region(&c, out, i, true);
		else if (is_anon(r))
			split_region(&c, out, i, false);
		else
			classify_named(&c, out, i);
		for (size_t k = first; in->estimated && k < out->n; k++)
			out->v[k].estimated = in->estimated[i];
	}
	spend_budget(in, out);
	add_sites(in, out);
	add_madvise(in, out);

	for (size_t i = 0; i < out->n; i++) {
		struct vms_attr_region *r = &out->v[i];
		struct vms_attr_total *t[2] = { &out->totals[r->kind],
						&out->all };
		for (int k = 0; k < 2; k++) {
			t[k]->size += r->size;
			t[k]->rss += r->rss;
			t[k]->pss += r->pss;
			t[k]->swap += r->swap;
			t[k]->regions++;
		}
		if (r->kind == VMS_ATTR_UNATTRIBUTED)
			out->unattributed_bytes += r->size;
	}
	ev_release(&c.ev);
	free(c.pms.v);
	free(c.arenas);
	return 0;
}

void vms_attribution_release(struct vms_attribution *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].detail);
		free(a->v[i].reason);
		free(a->v[i].madvise);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* ---- per call site ---------------------------------------------------------- */

struct site_table {
	struct vms_attr_site_usage *v; /* indexed by stack id */
	size_t n, alloc;
};

static struct vms_attr_site_usage *site_of(struct site_table *t,
					   vms_stack_id id)
{
	if (id >= t->n) {
		VMS_GROW(t->v, t->alloc, (size_t)id + 1);
		memset(t->v + t->n, 0, ((size_t)id + 1 - t->n) * sizeof(*t->v));
		t->n = (size_t)id + 1;
	}
	t->v[id].stack = id;
	return &t->v[id];
}

/* Resident bytes of block [a, a + size) by the bitmaps: the bytes of it
 * that lie on resident pages; -1 when no bitmap covers it. */
static int64_t block_resident(const struct pagemaps *p, uint64_t a,
			      uint64_t size)
{
	uint64_t end = a + size, got = 0;
	for (uint64_t pg = page_down(a); pg < end; pg += PAGE) {
		const struct vms_snap_pagemap *pm = pagemap_at(p, pg);
		int r = pm ? vms_snap_pagemap_page(pm, (pg - pm->start) / PAGE)
			   : -1;
		uint64_t lo = pg > a ? pg : a, hi = pg + PAGE < end ? pg + PAGE
								    : end;
		if (r < 0)
			return -1;
		if (r)
			got += hi - lo;
	}
	return (int64_t)got;
}

static int usage_cmp(const void *a, const void *b)
{
	const struct vms_attr_site_usage *x = a, *y = b;
	if (x->resident != y->resident)
		return x->resident > y->resident ? -1 : 1;
	if (x->virt != y->virt)
		return x->virt > y->virt ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

struct vms_attr_site_usage *vms_attr_by_site(const struct vms_attr_input *in,
					     const struct vms_attribution *a,
					     size_t *n)
{
	struct site_table t = { 0 };
	struct pagemaps pms;
	uint64_t *given = xcalloc(a->n ? a->n : 1, sizeof(*given));
	const struct vms_alloc *b;
	size_t k = 0;

	pagemaps_init(&pms, in->snap);
	/* Pass 1: what each region would hand out, to cap it at its Rss. */
	for (size_t it = 0; (b = vms_heapmap_next(&in->state->heap, &it));) {
		size_t p = piece_at(a, b->addr);
		int64_t r;
		if (p == SIZE_MAX)
			continue;
		r = block_resident(&pms, b->addr, b->size);
		given[p] += r >= 0 ? (uint64_t)r
				   : share(a->v[p].rss, b->size, a->v[p].size);
	}
	for (size_t it = 0; (b = vms_heapmap_next(&in->state->heap, &it));) {
		size_t p = piece_at(a, b->addr);
		struct vms_attr_site_usage *u = site_of(&t, b->stack);
		int64_t r;
		uint64_t res;
		u->virt += b->size;
		u->blocks++;
		if (p == SIZE_MAX)
			continue;
		r = block_resident(&pms, b->addr, b->size);
		res = r >= 0 ? (uint64_t)r
			     : share(a->v[p].rss, b->size, a->v[p].size);
		if (given[p] > a->v[p].rss)
			res = share(res, a->v[p].rss, given[p]);
		u->resident += res;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct vms_attr_region *r = &a->v[i];
		struct vms_attr_site_usage *u;
		if (!r->stack || malloc_kind(r->kind) ||
		    r->kind == VMS_ATTR_THREAD_STACK)
			continue;
		u = site_of(&t, r->stack);
		u->virt += r->size;
		u->resident += r->rss;
		u->mappings++;
	}
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].blocks || t.v[i].mappings)
			t.v[k++] = t.v[i];
	if (k)
		qsort(t.v, k, sizeof(*t.v), usage_cmp);
	free(given);
	free(pms.v);
	*n = k;
	if (!k) {
		free(t.v);
		return NULL;
	}
	return t.v;
}

/* ---- reconstruction: the map after the last snapshot -------------------- */

/* x86-64 starts brk up to 1 GiB above the executable, and it grows
 * without gaps; the mmap area (arenas) is far above. */
#define BRK_NEAR (2ull << 30)
#define ARENA_FLAGS "rd wr mr mw me nr" /* MAP_NORESERVE: rule 5 */

static void rc_forget(struct vms_smaps_region *r)
{
	free(r->path);
	free(r->vm_flags);
}

/* Index of the first region with end > addr. */
static size_t rc_lower(const struct vms_attr_reconstruction *rc, uint64_t addr)
{
	size_t a = 0, b = rc->snap.nr_regions;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (rc->snap.regions[m].end <= addr)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* Insert r at index i; the list takes its strings. */
static void rc_insert(struct vms_attr_reconstruction *rc, size_t i,
		      const struct vms_smaps_region *r, bool estimated)
{
	struct vms_snapshot *s = &rc->snap;
	VMS_GROW(s->regions, s->alloc_regions, s->nr_regions + 1);
	VMS_GROW(rc->estimated, rc->alloc_estimated, s->nr_regions + 1);
	memmove(&s->regions[i + 1], &s->regions[i],
		(s->nr_regions - i) * sizeof(*s->regions));
	memmove(&rc->estimated[i + 1], &rc->estimated[i],
		(s->nr_regions - i) * sizeof(*rc->estimated));
	s->regions[i] = *r;
	rc->estimated[i] = estimated;
	s->nr_regions++;
}

static void rc_remove(struct vms_attr_reconstruction *rc, size_t i)
{
	struct vms_snapshot *s = &rc->snap;
	rc_forget(&s->regions[i]);
	s->nr_regions--;
	memmove(&s->regions[i], &s->regions[i + 1],
		(s->nr_regions - i) * sizeof(*s->regions));
	memmove(&rc->estimated[i], &rc->estimated[i + 1],
		(s->nr_regions - i) * sizeof(*rc->estimated));
}

/* Region i was cut or changed: smaps' counters for it are gone. */
static void rc_changed(struct vms_attr_reconstruction *rc, size_t i)
{
	struct vms_smaps_region *r = &rc->snap.regions[i];
	r->size = r->end - r->start;
	r->rss = r->pss = r->pss_dirty = r->anonymous = r->locked = 0;
	r->shared_clean = r->shared_dirty = 0;
	r->private_clean = r->private_dirty = 0;
	r->anon_huge_pages = r->swap = r->swap_pss = 0;
	rc->estimated[i] = true;
}

/* Cut the region that strictly contains addr in two. */
static void rc_split(struct vms_attr_reconstruction *rc, uint64_t addr)
{
	size_t i = rc_lower(rc, addr);
	struct vms_smaps_region right;

	if (i == rc->snap.nr_regions || rc->snap.regions[i].start >= addr)
		return;
	right = rc->snap.regions[i];
	right.path = xstrdup(right.path);
	right.vm_flags = xstrdup(right.vm_flags);
	right.offset += addr - right.start;
	right.start = addr;
	rc->snap.regions[i].end = addr;
	rc_changed(rc, i);
	rc_insert(rc, i + 1, &right, true);
	rc_changed(rc, i + 1);
}

/* The regions inside [lo, hi) are [*a, *b) once the ends are cut. */
static void rc_range(struct vms_attr_reconstruction *rc, uint64_t lo,
		     uint64_t hi, size_t *a, size_t *b)
{
	rc_split(rc, lo);
	rc_split(rc, hi);
	*a = rc_lower(rc, lo);
	*b = rc_lower(rc, hi);
}

static void rc_unmap(struct vms_attr_reconstruction *rc, uint64_t lo,
		     uint64_t hi)
{
	size_t a, b;
	rc_range(rc, lo, hi, &a, &b);
	while (b-- > a)
		rc_remove(rc, a);
}

/* Map the holes of [lo, hi) as new regions (growing an adjacent new one of
 * the same kind, as the kernel merges them). */
static void rc_fill(struct vms_attr_reconstruction *rc, uint64_t lo,
		    uint64_t hi, const char *perms, const char *path,
		    const char *flags)
{
	while (lo < hi) {
		size_t i = rc_lower(rc, lo);
		struct vms_smaps_region *v = rc->snap.regions, *prev, r;
		uint64_t end = hi;

		if (i < rc->snap.nr_regions && v[i].start <= lo) {
			lo = v[i].end;
			continue;
		}
		if (i < rc->snap.nr_regions && v[i].start < hi)
			end = v[i].start;
		prev = i ? &v[i - 1] : NULL;
		if (prev && prev->end == lo && rc->estimated[i - 1] &&
		    !strcmp(prev->perms, perms) && !strcmp(prev->path, path) &&
		    !strcmp(prev->vm_flags, flags)) {
			prev->end = end;
			prev->size = end - prev->start;
		} else {
			r = (struct vms_smaps_region){
				.start = lo, .end = end, .size = end - lo,
				.path = xstrdup(path),
				.vm_flags = xstrdup(flags),
				.thp_eligible = -1 };
			snprintf(r.perms, sizeof(r.perms), "%s", perms);
			rc_insert(rc, i, &r, true);
		}
		lo = end;
	}
}

static bool rc_apply(struct vms_attr_reconstruction *rc,
		     const struct vms_event *ev, struct vms_smaps_region *moved)
{
	uint64_t hi = ev->addr + page_up(ev->len);
	size_t i = rc_lower(rc, ev->addr), a, b;
	const struct vms_smaps_region *at =
		i < rc->snap.nr_regions && rc->snap.regions[i].start <= ev->addr
			? &rc->snap.regions[i]
			: NULL;
	char perms[5], *path;

	switch (ev->type) {
	case VMS_REC_MMAP:
		rc_unmap(rc, ev->addr, hi);
		if (ev->api == VMS_API_MREMAP) { /* what the MUNMAP half had */
			rc_fill(rc, ev->addr, hi, moved->perms,
				moved->path ? moved->path : "",
				moved->vm_flags ? moved->vm_flags : "");
			break;
		}
		snprintf(perms, sizeof(perms), "%c%c%c%c",
			 ev->prot & PROT_READ ? 'r' : '-',
			 ev->prot & PROT_WRITE ? 'w' : '-',
			 ev->prot & PROT_EXEC ? 'x' : '-',
			 ev->flags & MAP_SHARED ? 's' : 'p');
		path = xstrndup(ev->str ? ev->str : "", ev->str_len);
		rc_fill(rc, ev->addr, hi, perms, path, "");
		free(path);
		break;
	case VMS_REC_MUNMAP:
		if (ev->api == VMS_API_MREMAP) { /* for the MMAP half */
			rc_forget(moved);
			*moved = at ? *at : (struct vms_smaps_region){
				.perms = "rw-p" };
			moved->path = xstrdup(at ? at->path : "");
			moved->vm_flags = xstrdup(at ? at->vm_flags : "");
		}
		rc_unmap(rc, ev->addr, hi);
		break;
	case VMS_REC_MPROTECT:
		rc_range(rc, ev->addr, hi, &a, &b);
		for (; a < b; a++) {
			struct vms_smaps_region *r = &rc->snap.regions[a];
			r->perms[0] = ev->prot & PROT_READ ? 'r' : '-';
			r->perms[1] = ev->prot & PROT_WRITE ? 'w' : '-';
			r->perms[2] = ev->prot & PROT_EXEC ? 'x' : '-';
			rc_changed(rc, a);
		}
		break;
	case VMS_REC_BRK:
		if (ev->new_brk > ev->old_brk)
			rc_fill(rc, page_up(ev->old_brk), page_up(ev->new_brk),
				"rw-p", "[heap]", "");
		else
			rc_unmap(rc, page_up(ev->new_brk),
				 page_up(ev->old_brk));
		break;
	case VMS_REC_SHMAT: {
		char name[32];
		hi = ev->addr + page_up(ev->size);
		snprintf(name, sizeof(name), "/SYSV%08x",
			 (unsigned)(uint32_t)ev->key);
		rc_unmap(rc, ev->addr, hi);
		rc_fill(rc, ev->addr, hi,
			ev->shmflg & SHM_RDONLY ? "r--s" : "rw-s", name, "");
		break;
	}
	case VMS_REC_SHMDT:
		/* the segment's pieces from addr on */
		if (!at || at->start != ev->addr ||
		    strncmp(at->path, "/SYSV", 5))
			return false;
		path = xstrdup(at->path);
		for (hi = ev->addr; i < rc->snap.nr_regions &&
				    rc->snap.regions[i].start == hi &&
				    !strcmp(rc->snap.regions[i].path, path);) {
			hi = rc->snap.regions[i].end;
			rc_remove(rc, i);
		}
		free(path);
		break;
	case VMS_REC_THREAD_BEGIN: /* glibc mapped the stack itself */
		if (ev->stack_hi <= ev->stack_lo ||
		    ev->guard_size > ev->stack_lo)
			return false;
		rc_fill(rc, ev->stack_lo - ev->guard_size, ev->stack_lo,
			"---p", "", "");
		rc_fill(rc, ev->stack_lo, ev->stack_hi, "rw-p", "", "");
		break;
	case VMS_REC_FREE: /* glibc unmaps a block it had mapped */
		if (ev->size < VMS_ATTR_MMAP_THRESHOLD || !at || !is_anon(at) ||
		    has_flag(at->vm_flags, "nr"))
			return false;
		rc_unmap(rc, page_down(ev->addr - 16),
			 page_up(ev->addr + ev->size + 8));
		break;
	default:
		return false;
	}
	return true;
}

static int block_cmp(const void *a, const void *b)
{
	const struct vms_alloc *x = *(const struct vms_alloc *const *)a;
	const struct vms_alloc *y = *(const struct vms_alloc *const *)b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* A live block no region covers: glibc mapped it, or grew [heap] (it lies
 * less than BRK_NEAR above [heap] or the executable) or an arena heap. */
static void rc_block(struct vms_attr_reconstruction *rc,
		     const struct vms_alloc *b, uint64_t exe_lo,
		     uint64_t exe_hi)
{
	uint64_t lo = page_down(b->addr - 16);
	uint64_t hi = page_up(b->addr + b->size + 8);
	uint64_t base = b->addr & ~(ARENA_HEAP - 1);
	size_t i = rc_lower(rc, b->addr);
	const struct vms_smaps_region *below =
		i ? &rc->snap.regions[i - 1] : NULL;
	bool near = below && b->addr - below->end < BRK_NEAR;

	if (i < rc->snap.nr_regions && rc->snap.regions[i].start <= b->addr)
		return; /* a block region added before covers it */
	if (b->size >= VMS_ATTR_MMAP_THRESHOLD)
		rc_fill(rc, lo, hi, "rw-p", "", "");
	else if (near && !strcmp(below->path, "[heap]"))
		rc_fill(rc, below->end, hi, "rw-p", "[heap]", "");
	else if (near && below->start >= exe_lo && below->end <= exe_hi)
		rc_fill(rc, lo, hi, "rw-p", "[heap]", "");
	else if (below && below->start >= base &&
		 has_flag(below->vm_flags, "nr")) /* the arena grew */
		rc_fill(rc, below->end, hi, "rw-p", "", ARENA_FLAGS);
	else if (!below || below->end <= base)
		rc_fill(rc, base, hi, "rw-p", "", ARENA_FLAGS);
	else
		rc_fill(rc, lo, hi, "rw-p", "", "");
}

static void rc_blocks(struct vms_attr_reconstruction *rc,
		      const struct vms_state *end)
{
	const struct vms_alloc *b, **v = NULL;
	size_t n = 0, alloc = 0;
	uint64_t exe_lo = UINT64_MAX, exe_hi = 0;

	for (size_t it = 0; (b = vms_heapmap_next(&end->heap, &it));) {
		size_t i = rc_lower(rc, b->addr);
		if (i < rc->snap.nr_regions &&
		    rc->snap.regions[i].start <= b->addr) {
			/* new blocks in it: its Rss is not the snapshot's */
			if (b->seq > rc->snap.seq)
				rc->estimated[i] = true;
			continue;
		}
		VMS_GROW(v, alloc, n + 1);
		v[n++] = b;
	}
	rc->uncovered_blocks = n;
	if (n)
		qsort(v, n, sizeof(*v), block_cmp);
	/* the executable: the lowest module; [heap] starts above it */
	for (size_t m = 0; m < rc->snap.nr_modules; m++) {
		const struct vms_snap_module *mod = &rc->snap.modules[m];
		uint64_t lo = UINT64_MAX, hi = 0;
		if (mod->path[0] == '[' ||
		    !strncmp(mod->path, "linux-vdso", 10))
			continue;
		for (size_t k = 0; k < mod->nr_segments; k++) {
			const struct vms_snap_segment *g =
				&rc->snap.segments[mod->first_segment + k];
			lo = g->start < lo ? g->start : lo;
			hi = g->end > hi ? g->end : hi;
		}
		if (lo < hi && lo < exe_lo) {
			exe_lo = page_down(lo);
			exe_hi = page_up(hi);
		}
	}
	for (size_t k = 0; k < n; k++)
		rc_block(rc, v[k], exe_lo, exe_hi);
	free(v);
}

void vms_attr_reconstruct(const struct vms_snapshot *base,
			  const struct vms_event *ev, size_t n,
			  const struct vms_state *end,
			  struct vms_attr_reconstruction *out)
{
	struct vms_smaps_region moved = { .perms = "rw-p" };

	memset(out, 0, sizeof(*out));
	out->snap = *base;
	out->snap.regions = NULL;
	out->snap.nr_regions = out->snap.alloc_regions = 0;
	for (size_t i = 0; i < base->nr_regions; i++) {
		struct vms_smaps_region r = base->regions[i];
		r.path = xstrdup(r.path);
		r.vm_flags = xstrdup(r.vm_flags);
		rc_insert(out, i, &r, false);
	}
	for (size_t i = 0; i < n; i++)
		out->events += rc_apply(out, &ev[i], &moved);
	rc_forget(&moved);
	rc_blocks(out, end);
}

void vms_attr_reconstruction_release(struct vms_attr_reconstruction *rc)
{
	for (size_t i = 0; i < rc->snap.nr_regions; i++)
		rc_forget(&rc->snap.regions[i]);
	free(rc->snap.regions);
	free(rc->estimated);
	memset(rc, 0, sizeof(*rc));
}
