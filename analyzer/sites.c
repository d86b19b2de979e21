/* SPDX-License-Identifier: MIT */
/*
 * Per-call-site accounting (contract in sites.h).
 *
 * How an event is charged: before it is applied to the live state, the
 * bytes it can touch (the heap blocks at its addresses, the mapped pages in
 * its ranges) are looked up and taken off their sites; after it was
 * applied, the same places are looked up again and put back on whatever
 * site now owns them.  So realloc, mremap, MAP_FIXED over an old mapping,
 * partial munmap and shmdt are charged exactly as state.c modelled them,
 * without a second copy of its rules.
 */
#include "sites.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const vms_cat_names[VMS_CAT__COUNT] = { "heap", "mmap", "shm" };

/* Key separators: between a frame's name and its file, between frames. */
#define SEP_FILE '\x1f'
#define SEP_FRAME '\x1e'
#define MAX_SYM_FRAMES 1024

struct vms_sites_delta {
	uint32_t site;
	uint32_t cat;
	int64_t bytes;
};

void vms_sites_init(struct vms_sites *ss, struct vms_symbolizer *syms,
		    size_t depth)
{
	memset(ss, 0, sizeof(*ss));
	ss->syms = syms;
	ss->depth = depth;
	ss->table_size = 256;
	ss->table = xcalloc(ss->table_size, sizeof(*ss->table));
}

void vms_sites_release(struct vms_sites *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		struct vms_site *s = &ss->v[i];
		for (size_t f = 0; f < s->nr_frames; f++) {
			free(s->names[f]);
			free(s->files[f]);
		}
		free(s->names);
		free(s->files);
		free(s->key);
	}
	free(ss->v);
	free(ss->table);
	free(ss->of_stack);
	free(ss->deltas);
	free(ss->scratch);
	memset(ss, 0, sizeof(*ss));
}

/* ---- names and keys ------------------------------------------------------ */

size_t vms_sites_base_name_len(const char *fn)
{
	static const char *const tags[] = { "constprop", "isra", "part",
					    "cold", "lto_priv", "localalias",
					    "clone", "llvm" };
	const char *c = strstr(fn, " [clone .");
	size_t n = c ? (size_t)(c - fn) : strlen(fn);

	/* C symbols carry the suffix in the name itself: "f.isra.0". */
	for (const char *p = memchr(fn, '.', n); p && p > fn;
	     p = memchr(p + 1, '.', n - (size_t)(p + 1 - fn))) {
		for (size_t t = 0; t < VMS_ARRAY_SIZE(tags); t++) {
			size_t tl = strlen(tags[t]);
			if (!strncmp(p + 1, tags[t], tl) &&
			    (p[1 + tl] == '.' || p[1 + tl] == 0 ||
			     p[1 + tl] == ' '))
				return (size_t)(p - fn);
		}
		if (p + 1 >= fn + n)
			break;
	}
	return n;
}

char *vms_sites_frame_name(const struct vms_sym_frame *f, char *buf,
			   size_t len)
{
	if (f->function) {
		size_t n = vms_sites_base_name_len(f->function);
		snprintf(buf, len, "%.*s", (int)n, f->function);
	} else if (f->module) {
		snprintf(buf, len, "%s+0x%" PRIx64, f->module,
			 f->module_offset);
	} else {
		snprintf(buf, len, "[unknown]");
	}
	return buf;
}

static const char *file_base(const char *p)
{
	const char *s;
	if (!p || !*p)
		return NULL;
	s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static void table_grow(struct vms_sites *ss)
{
	size_t size = ss->table_size * 2;
	uint32_t *t = xcalloc(size, sizeof(*t));

	for (size_t i = 0; i < ss->n; i++) {
		size_t j = str_hash(ss->v[i].key) & (size - 1);
		while (t[j])
			j = (j + 1) & (size - 1);
		t[j] = (uint32_t)i + 1;
	}
	free(ss->table);
	ss->table = t;
	ss->table_size = size;
}

/* Names are sanitized for every output: no control bytes (they would break
 * folded lines and the key separators). */
static char *clean_dup(const char *s)
{
	char *d = xstrdup(s);
	for (char *p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return d;
}

size_t vms_sites_intern(struct vms_sites *ss, const char *const *names,
			const char *const *files, size_t n)
{
	struct vms_strbuf key = VMS_STRBUF_INIT;
	struct vms_site *s;
	size_t j;

	if (ss->depth && n > ss->depth)
		n = ss->depth;
	vms_strbuf_addstr(&key, "");
	for (size_t i = 0; i < n; i++) {
		const char *file = files ? file_base(files[i]) : NULL;
		char *name = clean_dup(names[i]);
		if (i)
			vms_strbuf_addc(&key, SEP_FRAME);
		vms_strbuf_addstr(&key, name);
		free(name);
		if (file) {
			char *f = clean_dup(file);
			vms_strbuf_addc(&key, SEP_FILE);
			vms_strbuf_addstr(&key, f);
			free(f);
		}
	}

	for (j = str_hash(key.s) & (ss->table_size - 1); ss->table[j];
	     j = (j + 1) & (ss->table_size - 1))
		if (!strcmp(ss->v[ss->table[j] - 1].key, key.s)) {
			vms_strbuf_release(&key);
			return ss->table[j] - 1;
		}
	if (ss->n >= UINT32_MAX - 1)
		vms_die("too many call sites");

	VMS_GROW(ss->v, ss->alloc, ss->n + 1);
	s = &ss->v[ss->n];
	memset(s, 0, sizeof(*s));
	s->key = key.s;
	s->nr_frames = n;
	s->names = xcalloc(n ? n : 1, sizeof(*s->names));
	s->files = xcalloc(n ? n : 1, sizeof(*s->files));
	for (size_t i = 0; i < n; i++) {
		const char *file = files ? file_base(files[i]) : NULL;
		s->names[i] = clean_dup(names[i]);
		s->files[i] = file ? clean_dup(file) : NULL;
	}
	ss->table[j] = (uint32_t)ss->n + 1;
	ss->n++;
	if (ss->n * 2 > ss->table_size)
		table_grow(ss);
	return ss->n - 1;
}

/* The site of a global stack id, symbolized once per id. */
static size_t site_of_stack(struct vms_sites *ss,
			    const struct vms_stacks *stacks, vms_stack_id id)
{
	const uint64_t *pcs;
	size_t n, nf, site;
	char **names;
	const char **files;

	if (id < ss->nr_of_stack && ss->of_stack[id])
		return ss->of_stack[id] - 1;

	pcs = vms_stacks_get(stacks, id, &n);
	if (ss->syms) {
		size_t max = n * 8 < MAX_SYM_FRAMES ? n * 8 : MAX_SYM_FRAMES;
		VMS_GROW(ss->scratch, ss->alloc_scratch, max ? max : 1);
		nf = vms_symbolize_stack(ss->syms, pcs, n, ss->scratch, max);
	} else {
		nf = n;
		VMS_GROW(ss->scratch, ss->alloc_scratch, nf ? nf : 1);
		for (size_t i = 0; i < n; i++)
			ss->scratch[i] = (struct vms_sym_frame){
				.address = pcs[i] };
	}
	names = xcalloc(nf ? nf : 1, sizeof(*names));
	files = xcalloc(nf ? nf : 1, sizeof(*files));
	for (size_t i = 0; i < nf; i++) {
		char buf[512];
		const struct vms_sym_frame *f = &ss->scratch[i];
		if (!ss->syms)
			snprintf(buf, sizeof(buf), "0x%" PRIx64, f->address);
		else
			vms_sites_frame_name(f, buf, sizeof(buf));
		names[i] = xstrdup(buf);
		files[i] = f->function ? f->file : NULL;
	}
	if (!nf) {
		names[0] = xstrdup("[no stack]");
		nf = 1;
	}
	site = vms_sites_intern(ss, (const char *const *)names, files, nf);
	for (size_t i = 0; i < nf; i++)
		free(names[i]);
	free(names);
	free(files);

	if (id >= ss->nr_of_stack) {
		size_t old = ss->nr_of_stack, want = (size_t)id + 1;
		size_t alloc = old;
		VMS_GROW(ss->of_stack, alloc, want);
		memset(ss->of_stack + old, 0,
		       (alloc - old) * sizeof(*ss->of_stack));
		ss->nr_of_stack = alloc;
	}
	ss->of_stack[id] = (uint32_t)site + 1;
	return site;
}

/* ---- charging events ------------------------------------------------------ */

static void add_delta(struct vms_sites *ss, size_t site, unsigned cat,
		      int64_t bytes)
{
	for (size_t i = 0; i < ss->nr_deltas; i++)
		if (ss->deltas[i].site == site && ss->deltas[i].cat == cat) {
			ss->deltas[i].bytes += bytes;
			return;
		}
	VMS_GROW(ss->deltas, ss->alloc_deltas, ss->nr_deltas + 1);
	ss->deltas[ss->nr_deltas++] =
		(struct vms_sites_delta){ (uint32_t)site, cat, bytes };
}

static unsigned region_cat(const struct vms_region *r)
{
	return r->kind == VMS_REGION_SHM ? VMS_CAT_SHM : VMS_CAT_MMAP;
}

static void charge_block(struct vms_sites *ss, const struct vms_state *st,
			 const struct vms_stacks *stacks, uint64_t addr,
			 int sign)
{
	const struct vms_alloc *a;
	if (!addr || !(a = vms_heapmap_find(&st->heap, addr)))
		return;
	add_delta(ss, site_of_stack(ss, stacks, a->stack), VMS_CAT_HEAP,
		  sign * (int64_t)a->size);
}

static void charge_range(struct vms_sites *ss, const struct vms_state *st,
			 const struct vms_stacks *stacks, uint64_t lo,
			 uint64_t hi, int sign)
{
	const struct vms_regions *rs = &st->regions;
	for (size_t i = vms_regions_lower(rs, lo); i < rs->n; i++) {
		const struct vms_region *r = &rs->v[i];
		uint64_t a, b;
		if (r->start >= hi)
			break;
		a = r->start > lo ? r->start : lo;
		b = r->end < hi ? r->end : hi;
		if (b > a)
			add_delta(ss, site_of_stack(ss, stacks, r->stack),
				  region_cat(r), sign * (int64_t)(b - a));
	}
}

/* [addr, addr + len) rounded to pages as state.c maps it; hi == lo when
 * it overflows (state.c then ignores the call). */
static uint64_t range_end(const struct vms_state *st, uint64_t addr,
			  uint64_t len)
{
	uint64_t mask = st->page_size - 1, end;
	if (len > UINT64_MAX - mask)
		return addr;
	len = (len + mask) & ~mask;
	if (__builtin_add_overflow(addr, len, &end))
		return addr;
	return end;
}

/* The whole attachment shmdt(addr) removes (state.c's rule). */
static uint64_t shmdt_end(const struct vms_state *st, uint64_t addr)
{
	const struct vms_region *r = vms_regions_find(&st->regions, addr);
	size_t i;
	uint64_t end;

	if (!r || r->start != addr || r->api != VMS_API_SHMAT)
		return addr;
	i = (size_t)(r - st->regions.v);
	end = r->end;
	while (i + 1 < st->regions.n &&
	       st->regions.v[i + 1].seq == r->seq &&
	       st->regions.v[i + 1].start == end &&
	       st->regions.v[i + 1].api == VMS_API_SHMAT)
		end = st->regions.v[++i].end;
	return end;
}

/* The places ev can change, before (sign -1) or after (+1) applying it. */
static void charge(struct vms_sites *ss, const struct vms_state *st,
		   const struct vms_stacks *stacks,
		   const struct vms_event *ev, int sign, uint64_t shm_end)
{
	switch (ev->type) {
	case VMS_REC_ALLOC:
		charge_block(ss, st, stacks, ev->addr, sign);
		if (ev->old_addr && ev->old_addr != ev->addr)
			charge_block(ss, st, stacks, ev->old_addr, sign);
		break;
	case VMS_REC_FREE:
		charge_block(ss, st, stacks, ev->addr, sign);
		break;
	case VMS_REC_MMAP: {
		uint64_t lo = ev->addr, hi = range_end(st, ev->addr, ev->len);
		if (ev->api == VMS_API_MREMAP && ev->old_addr) {
			uint64_t olo = ev->old_addr;
			uint64_t ohi = range_end(st, olo, ev->old_len);
			/* In place (or overlapping): one range, or its pages
			 * would count twice. */
			if (olo <= hi && lo <= ohi) {
				lo = olo < lo ? olo : lo;
				hi = ohi > hi ? ohi : hi;
			} else {
				charge_range(ss, st, stacks, olo, ohi, sign);
			}
		}
		charge_range(ss, st, stacks, lo, hi, sign);
		break;
	}
	case VMS_REC_MUNMAP:
		charge_range(ss, st, stacks, ev->addr,
			     range_end(st, ev->addr, ev->len), sign);
		break;
	case VMS_REC_SHMAT:
		charge_range(ss, st, stacks, ev->addr,
			     range_end(st, ev->addr, ev->size), sign);
		break;
	case VMS_REC_SHMDT:
		charge_range(ss, st, stacks, ev->addr, shm_end, sign);
		break;
	default:
		break;
	}
}

static void save_for_peak(struct vms_sites *ss, struct vms_site *s)
{
	if (s->saved_epoch == ss->epoch)
		return;
	s->saved_epoch = ss->epoch;
	for (int c = 0; c < VMS_CAT__COUNT; c++)
		s->saved[c] = s->cat[c].live;
}

static void add_live(struct vms_site_stats *st, int64_t d)
{
	/* A negative total below zero cannot happen when the deltas come
	 * from the state; clamp rather than wrap if it ever does. */
	if (d < 0 && (uint64_t)-d > st->live)
		st->live = 0;
	else
		st->live += (uint64_t)d;
	if (st->live > st->peak)
		st->peak = st->live;
}

void vms_sites_apply(struct vms_sites *ss, struct vms_state *st,
		     const struct vms_stacks *stacks,
		     const struct vms_event *ev)
{
	uint64_t shm_end = 0, sum = 0;
	int64_t net[VMS_CAT__COUNT] = { 0 };

	ss->nr_deltas = 0;
	if (ev->type == VMS_REC_SHMDT)
		shm_end = shmdt_end(st, ev->addr);
	charge(ss, st, stacks, ev, -1, shm_end);
	vms_state_apply(st, ev);
	charge(ss, st, stacks, ev, +1, shm_end);

	/* The acquisition itself: bytes and a call for the caller's site. */
	if (ev->type == VMS_REC_ALLOC || ev->type == VMS_REC_MMAP ||
	    ev->type == VMS_REC_SHMAT) {
		size_t site = site_of_stack(ss, stacks, ev->gstack);
		unsigned cat = VMS_CAT_HEAP;
		uint64_t bytes = ev->size;
		if (ev->type != VMS_REC_ALLOC) {
			const struct vms_region *r =
				vms_regions_find(&st->regions, ev->addr);
			uint64_t len = ev->type == VMS_REC_MMAP ? ev->len
								: ev->size;
			bytes = range_end(st, ev->addr, len) - ev->addr;
			cat = r ? region_cat(r)
				: ev->type == VMS_REC_SHMAT ? VMS_CAT_SHM
							    : VMS_CAT_MMAP;
		}
		ss->v[site].cat[cat].allocated += bytes;
		ss->v[site].cat[cat].calls++;
		ss->total[cat].allocated += bytes;
		ss->total[cat].calls++;
	}

	/* One net change per site and category (add_delta merged them);
	 * the totals only after all of them, so that bytes moving from one
	 * site to another never count twice at a peak. */
	for (size_t i = 0; i < ss->nr_deltas; i++) {
		const struct vms_sites_delta *d = &ss->deltas[i];
		struct vms_site *s = &ss->v[d->site];
		if (!d->bytes)
			continue;
		save_for_peak(ss, s);
		add_live(&s->cat[d->cat], d->bytes);
		net[d->cat] += d->bytes;
	}
	for (int c = 0; c < VMS_CAT__COUNT; c++) {
		add_live(&ss->total[c], net[c]);
		sum += ss->total[c].live;
	}
	if (sum > ss->peak_bytes) {
		ss->peak_bytes = sum;
		ss->peak_seq = ev->seq;
		ss->peak_time_ns = ev->time_ns;
		ss->epoch++;
		for (int c = 0; c < VMS_CAT__COUNT; c++)
			ss->total[c].at_peak = ss->total[c].live;
	}
}

void vms_sites_finish(struct vms_sites *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		struct vms_site *s = &ss->v[i];
		for (int c = 0; c < VMS_CAT__COUNT; c++)
			s->cat[c].at_peak = s->saved_epoch == ss->epoch
						    ? s->saved[c]
						    : s->cat[c].live;
	}
}

/* ---- a whole recording ------------------------------------------------- */

/* Modules named by DLOPEN records must reach the symbolizer before its
 * first lookup; a library loaded and closed between two snapshots is in
 * no snapshot.  One decoding pass over the logs finds them. */
static void add_dlopen_modules(struct vms_recording *rec,
			       struct vms_symbolizer *syms)
{
	struct vms_stacks stacks;

	vms_stacks_init(&stacks);
	for (size_t i = 0; i < rec->nr_logs; i++) {
		struct vms_logreader r;
		struct vms_event ev;
		vms_logreader_init(&r, &rec->logs[i], &stacks, rec->meta.pid);
		while (vms_logreader_next(&r, &ev) > 0) {
			char *path, *id;
			if (ev.type != VMS_REC_DLOPEN || !ev.real_path_len)
				continue;
			path = xstrndup(ev.real_path, ev.real_path_len);
			id = xstrndup(ev.build_id, ev.build_id_len);
			vms_symbolizer_add_module(syms, path, ev.bias, id);
			free(path);
			free(id);
		}
		vms_logreader_release(&r);
	}
	vms_stacks_release(&stacks);
}

static int run_event(const struct vms_event *ev, void *ctx)
{
	struct vms_sites_run *run = ctx;
	vms_sites_apply(&run->sites, &run->state, &run->replay.stacks, ev);
	return 0;
}

int vms_sites_run_load(struct vms_sites_run *run, const char *path,
		       size_t depth)
{
	memset(run, 0, sizeof(*run));
	if (vms_recording_open(&run->rec, path))
		return -1;
	run->syms = vms_symbolizer_new(&run->rec);
	if (!run->syms) {
		vms_recording_release(&run->rec);
		return -1;
	}
	add_dlopen_modules(&run->rec, run->syms);
	vms_replay_init(&run->replay, &run->rec);
	vms_state_init(&run->state, run->rec.meta.page_size,
		       run->rec.meta.pid);
	run->state.sample_bytes = run->rec.meta.sample_bytes;
	vms_sites_init(&run->sites, run->syms, depth);
	run->replay.hint = vms_state_hint;
	run->replay.hint_ctx = &run->state;
	vms_replay_run(&run->replay, run_event, run);
	vms_sites_finish(&run->sites);
	return 0;
}

void vms_sites_run_release(struct vms_sites_run *run)
{
	vms_sites_release(&run->sites);
	vms_symbolizer_free(run->syms);
	vms_state_release(&run->state);
	vms_replay_release(&run->replay);
	vms_recording_release(&run->rec);
}
