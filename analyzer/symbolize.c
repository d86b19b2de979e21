/* SPDX-License-Identifier: MIT */
/*
 * Symbols for a whole recording (contract in symbolize.h).
 */
#include "symbolize.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot.h"
#include "util.h"

struct prewarm;

struct vms_symbolizer {
	struct vms_module_desc *mods;
	size_t nr, alloc;
	char **owned;          /* strings we allocated for mods */
	size_t nr_owned, alloc_owned;
	struct vms_symtab *tab;
	struct prewarm *pw;    /* the preparing thread, until the first lookup */
};

/* ---- preparing modules while the replay runs -----------------------------
 *
 * The first lookup in a module with separate, compressed debug info (libc's,
 * say) costs tens of milliseconds: elfutils decompresses every debug section
 * up front.  The replay does not use symbols, so a helper thread can do it
 * meanwhile, in a symtab of its own (the "donor") built from the
 * snapshots' modules: it follows the stacks as the replay interns them and
 * prepares each module one of their frames falls in.  The first lookup
 * builds the real symtab (which also knows the DLOPEN modules) and adopts
 * the modules the donor finished; it never waits for the helper, which
 * drops whatever it is still doing and frees the donor itself.
 */
#define PREWARM_FRAMES 256 /* frames of one stack looked at */

struct prewarm {
	struct vms_module_desc *mods;  /* copies: the owner's array grows */
	char **strs;
	size_t nr, nr_strs;
	const struct vms_stacks *stacks;
	size_t depth;                  /* frames per stack, innermost first */
	struct vms_symtab *donor;      /* atomic: published once built */
	uint32_t stop;                 /* atomic: the owner is done with us */
	uint32_t in_stacks;            /* atomic: reading the stack table */
	uint32_t refs;                 /* atomic: owner and thread */
};

static void prewarm_unref(struct prewarm *pw)
{
	if (__atomic_sub_fetch(&pw->refs, 1, __ATOMIC_ACQ_REL))
		return;
	vms_symtab_free(pw->donor);
	for (size_t i = 0; i < pw->nr_strs; i++)
		free(pw->strs[i]);
	free(pw->strs);
	free(pw->mods);
	free(pw);
}

static bool stopped(struct prewarm *pw)
{
	return __atomic_load_n(&pw->stop, __ATOMIC_SEQ_CST);
}

/* Copy the frames of stack id, unless the owner said stop: after it did,
 * the stack table may be gone. */
static size_t copy_frames(struct prewarm *pw, vms_stack_id id, uint64_t *out)
{
	const uint64_t *fr;
	size_t n = 0;

	__atomic_store_n(&pw->in_stacks, 1, __ATOMIC_SEQ_CST);
	if (!stopped(pw)) {
		fr = vms_stacks_get(pw->stacks, id, &n);
		if (n > pw->depth)
			n = pw->depth;
		if (n)
			memcpy(out, fr, n * sizeof(*out));
	}
	__atomic_store_n(&pw->in_stacks, 0, __ATOMIC_SEQ_CST);
	return n;
}

static void *prewarm_main(void *arg)
{
	struct prewarm *pw = arg;
	uint64_t frames[PREWARM_FRAMES];
	struct vms_symtab *donor = vms_symtab_new(pw->mods, pw->nr);
	vms_stack_id next = 1;

	__atomic_store_n(&pw->donor, donor, __ATOMIC_RELEASE);
	while (donor && !stopped(pw)) {
		size_t count = 0;

		__atomic_store_n(&pw->in_stacks, 1, __ATOMIC_SEQ_CST);
		if (!stopped(pw))
			count = vms_stacks_count(pw->stacks);
		__atomic_store_n(&pw->in_stacks, 0, __ATOMIC_SEQ_CST);
		if (next > count) {
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		for (; next <= count && !stopped(pw); next++) {
			size_t n = copy_frames(pw, next, frames);
			for (size_t i = 0; i < n && !stopped(pw); i++)
				vms_symtab_prepare(donor, frames[i]);
		}
	}
	prewarm_unref(pw);
	return NULL;
}

void vms_symbolizer_prewarm(struct vms_symbolizer *s,
			    const struct vms_stacks *stacks, size_t depth)
{
	struct prewarm *pw;
	sigset_t all, old;
	pthread_t tid;
	int err;

	if (!s || s->tab || s->pw)
		return;
	pw = xcalloc(1, sizeof(*pw));
	pw->mods = xcalloc(s->nr ? s->nr : 1, sizeof(*pw->mods));
	pw->strs = xcalloc(2 * s->nr + 1, sizeof(*pw->strs));
	for (size_t i = 0; i < s->nr; i++) {
		pw->mods[i] = s->mods[i];
		if (s->mods[i].path)
			pw->mods[i].path = pw->strs[pw->nr_strs++] =
				xstrdup(s->mods[i].path);
		if (s->mods[i].build_id_hex)
			pw->mods[i].build_id_hex = pw->strs[pw->nr_strs++] =
				xstrdup(s->mods[i].build_id_hex);
	}
	pw->nr = s->nr;
	pw->stacks = stacks;
	pw->depth = depth && depth < PREWARM_FRAMES ? depth : PREWARM_FRAMES;
	pw->refs = 2;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, NULL, prewarm_main, pw);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pw->refs = 1;
		prewarm_unref(pw);
		return;
	}
	pthread_detach(tid);
	s->pw = pw;
}

/* Take what the helper finished into tab (may be NULL), tell it to stop,
 * and wait until it no longer reads the stack table. */
static void prewarm_end(struct vms_symbolizer *s, struct vms_symtab *tab)
{
	struct prewarm *pw = s->pw;
	struct vms_symtab *donor;

	if (!pw)
		return;
	s->pw = NULL;
	donor = __atomic_load_n(&pw->donor, __ATOMIC_ACQUIRE);
	if (donor && tab)
		vms_symtab_adopt(tab, donor);
	__atomic_store_n(&pw->stop, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&pw->in_stacks, __ATOMIC_SEQ_CST))
		sched_yield(); /* a copy of one stack's frames: short */
	prewarm_unref(pw);
}

static const char *keep(struct vms_symbolizer *s, const char *str)
{
	if (!str)
		return NULL;
	VMS_GROW(s->owned, s->alloc_owned, s->nr_owned + 1);
	return s->owned[s->nr_owned++] = xstrdup(str);
}

static void add(struct vms_symbolizer *s, const char *path, uint64_t bias,
		const char *build_id, uint64_t start, uint64_t end)
{
	VMS_GROW(s->mods, s->alloc, s->nr + 1);
	s->mods[s->nr++] = (struct vms_module_desc){
		.path = keep(s, path),
		.bias = bias,
		.build_id_hex = keep(s, build_id),
		.start = start,
		.end = end,
	};
}

struct vms_symbolizer *vms_symbolizer_new(struct vms_recording *rec)
{
	struct vms_symbolizer *s = xcalloc(1, sizeof(*s));
	for (size_t i = 0; i < rec->nr_snaps; i++) {
		const struct vms_snapshot *snap =
			vms_recording_snapshot(rec, i, false);
		if (!snap) {
			vms_symbolizer_free(s);
			return NULL;
		}
		for (size_t m = 0; m < snap->nr_modules; m++) {
			const struct vms_snap_module *mod = &snap->modules[m];
			uint64_t lo = 0, hi = 0;
			for (size_t k = 0; k < mod->nr_segments; k++) {
				const struct vms_snap_segment *seg =
					&snap->segments[mod->first_segment + k];
				if (!lo || seg->start < lo)
					lo = seg->start;
				if (seg->end > hi)
					hi = seg->end;
			}
			add(s, mod->path, mod->bias, mod->build_id, lo, hi);
		}
	}
	return s;
}

void vms_symbolizer_add_module(struct vms_symbolizer *s, const char *path,
			       uint64_t bias, const char *build_id_hex)
{
	if (s->tab || !path || !*path)
		return;
	add(s, path, bias, build_id_hex && *build_id_hex ? build_id_hex : NULL,
	    0, 0);
}

void vms_symbolizer_free(struct vms_symbolizer *s)
{
	if (!s)
		return;
	prewarm_end(s, NULL);
	if (s->tab)
		vms_symtab_free(s->tab);
	for (size_t i = 0; i < s->nr_owned; i++)
		free(s->owned[i]);
	free(s->owned);
	free(s->mods);
	free(s);
}

static struct vms_symtab *tab(struct vms_symbolizer *s)
{
	if (!s->tab) {
		s->tab = vms_symtab_new(s->mods, s->nr);
		prewarm_end(s, s->tab);
	}
	return s->tab;
}

size_t vms_symbolize_stack(struct vms_symbolizer *s, const uint64_t *frames,
			   size_t n, struct vms_sym_frame *out, size_t max)
{
	size_t k = 0;
	struct vms_symtab *t = tab(s);
	for (size_t i = 0; i < n && k < max; i++) {
		const struct vms_sym_frame *f;
		size_t m = t ? vms_symtab_lookup(t, frames[i], &f) : 0;
		if (!m) {
			out[k++] = (struct vms_sym_frame){ .address = frames[i] };
			continue;
		}
		for (size_t j = 0; j < m && k < max; j++)
			out[k++] = f[j];
	}
	return k;
}

void vms_symbolize_one(struct vms_symbolizer *s, uint64_t addr, char *buf,
		       size_t len)
{
	struct vms_symtab *t = tab(s);
	const struct vms_sym_frame *f;
	if (t && vms_symtab_lookup(t, addr, &f)) {
		/* The outermost of the inline chain is the real function:
		 * show the innermost, it is the line that was running. */
		vms_sym_frame_format(&f[0], buf, len);
		return;
	}
	struct vms_sym_frame raw = { .address = addr };
	vms_sym_frame_format(&raw, buf, len);
}
