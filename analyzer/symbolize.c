/* SPDX-License-Identifier: MIT */
/*
 * Symbols for a whole recording (contract in symbolize.h).
 */
#include "symbolize.h"

#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "util.h"

struct vms_symbolizer {
	struct vms_module_desc *mods;
	size_t nr, alloc;
	char **owned;          /* strings we allocated for mods */
	size_t nr_owned, alloc_owned;
	struct vms_symtab *tab;
};

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
	if (!s->tab)
		s->tab = vms_symtab_new(s->mods, s->nr);
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
