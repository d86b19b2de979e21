/* SPDX-License-Identifier: MIT */
/*
 * Parser for snapshot files (format.h, "Snapshot files"): header lines,
 * modules, segments, pagemap lines, then the raw smaps text split into
 * regions.  Input is hostile: spans are never assumed NUL-terminated, every
 * number is range-checked, and an error names the file and the byte offset.
 */
#include "snapshot.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

#include "vmspy/format.h"
#include "util.h"

struct span {
	const char *p;
	size_t n;
};

struct parser {
	struct vms_snapshot *snap;
	const char *name;
	const char *text;
	size_t len;
	size_t pos;        /* start of the next line */
	size_t line_at;    /* offset of the current line */
	char **err;
};

static int fail(struct parser *ps, size_t at, const char *what)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	vms_strbuf_addf(&b, "snapshot '%s' corrupt at offset %zu: %s", ps->name,
		     at, what);
	*ps->err = b.s;
	return -1;
}

/* Next line without its '\n'.  Returns 0 at end of text, -1 for a last line
 * without a newline (the file was cut short), 1 otherwise. */
static int next_line(struct parser *ps, struct span *line)
{
	const char *start, *nl;

	if (ps->pos >= ps->len)
		return 0;
	start = ps->text + ps->pos;
	nl = memchr(start, '\n', ps->len - ps->pos);
	ps->line_at = ps->pos;
	if (!nl) {
		ps->pos = ps->len;
		return -1;
	}
	line->p = start;
	line->n = (size_t)(nl - start);
	ps->pos += line->n + 1;
	return 1;
}

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && !memcmp(s.p, lit, n);
}

/* Split off the next space-separated word (leading spaces skipped). */
static struct span take_word(struct span *s)
{
	struct span w;
	while (s->n && *s->p == ' ') {
		s->p++;
		s->n--;
	}
	w.p = s->p;
	while (s->n && *s->p != ' ') {
		s->p++;
		s->n--;
	}
	w.n = (size_t)(s->p - w.p);
	return w;
}

static void skip_spaces(struct span *s)
{
	while (s->n && (*s->p == ' ' || *s->p == '\t')) {
		s->p++;
		s->n--;
	}
}

static int digit_value(char c, unsigned base)
{
	int v = c >= '0' && c <= '9' ? c - '0'
		: c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
	return v < (int)base ? v : -1;
}

static int parse_num(struct span s, unsigned base, uint64_t *out)
{
	uint64_t v = 0;
	if (!s.n)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		int d = digit_value(s.p[i], base);
		if (d < 0 || __builtin_mul_overflow(v, base, &v) ||
		    __builtin_add_overflow(v, (uint64_t)d, &v))
			return -1;
	}
	*out = v;
	return 0;
}

static int word_num(struct span *s, unsigned base, uint64_t *out)
{
	return parse_num(take_word(s), base, out);
}

static int parse_perms3(struct span w, unsigned *prot)
{
	if (w.n != 3 || (w.p[0] != 'r' && w.p[0] != '-') ||
	    (w.p[1] != 'w' && w.p[1] != '-') ||
	    (w.p[2] != 'x' && w.p[2] != '-'))
		return -1;
	*prot = (w.p[0] == 'r' ? PROT_READ : 0) |
		(w.p[1] == 'w' ? PROT_WRITE : 0) |
		(w.p[2] == 'x' ? PROT_EXEC : 0);
	return 0;
}

static char *unescape_span(struct parser *ps, struct span s)
{
	size_t bad;
	char *r = vms_unescape(s.p, s.n, &bad);
	if (!r)
		fail(ps, (size_t)(s.p - ps->text) + bad, "bad escape");
	return r;
}

static int parse_module(struct parser *ps, struct span rest)
{
	struct vms_snapshot *sn = ps->snap;
	struct vms_snap_module *m;
	struct span id;
	uint64_t bias;

	if (word_num(&rest, 16, &bias))
		return fail(ps, ps->line_at, "bad module line");
	id = take_word(&rest);
	if (!id.n || !rest.n || *rest.p != ' ')
		return fail(ps, ps->line_at, "bad module line");
	for (size_t i = 0; !span_eq(id, "-") && i < id.n; i++)
		if (digit_value(id.p[i], 16) < 0)
			return fail(ps, ps->line_at, "bad build-id");
	rest.p++;
	rest.n--;
	VMS_GROW(sn->modules, sn->alloc_modules, sn->nr_modules + 1);
	m = &sn->modules[sn->nr_modules];
	memset(m, 0, sizeof(*m));
	m->bias = bias;
	m->first_segment = sn->nr_segments;
	m->path = unescape_span(ps, rest);
	if (!m->path)
		return -1;
	m->build_id = span_eq(id, "-") ? NULL : xstrndup(id.p, id.n);
	sn->nr_modules++;
	return 0;
}

static int parse_segment(struct parser *ps, struct span rest)
{
	struct vms_snapshot *sn = ps->snap;
	struct vms_snap_segment seg;

	if (!sn->nr_modules)
		return fail(ps, ps->line_at, "segment line before any module");
	if (word_num(&rest, 16, &seg.start) || word_num(&rest, 16, &seg.end) ||
	    parse_perms3(take_word(&rest), &seg.prot) || seg.end < seg.start)
		return fail(ps, ps->line_at, "bad segment line");
	VMS_GROW(sn->segments, sn->alloc_segments, sn->nr_segments + 1);
	sn->segments[sn->nr_segments++] = seg;
	sn->modules[sn->nr_modules - 1].nr_segments++;
	return 0;
}

static int parse_pagemap(struct parser *ps, struct span rest)
{
	struct vms_snapshot *sn = ps->snap;
	struct vms_snap_pagemap pm;

	struct span bits;

	if (word_num(&rest, 16, &pm.start) || word_num(&rest, 16, &pm.end) ||
	    word_num(&rest, 10, &pm.resident_pages) || pm.end < pm.start)
		return fail(ps, ps->line_at, "bad pagemap line");
	/* The bitmap is optional (older recorders wrote only the count). */
	bits = take_word(&rest);
	for (size_t i = 0; i < bits.n; i++)
		if (digit_value(bits.p[i], 16) < 0)
			return fail(ps, ps->line_at, "bad pagemap bitmap");
	pm.bitmap = bits.n ? xstrndup(bits.p, bits.n) : NULL;
	pm.bitmap_len = bits.n;
	VMS_GROW(sn->pagemap, sn->alloc_pagemap, sn->nr_pagemap + 1);
	sn->pagemap[sn->nr_pagemap++] = pm;
	return 0;
}

/* Header lines up to "smaps".  Returns 1 when the smaps line was seen, 0 at
 * an (interrupted) end, -1 on error. */
static int parse_header(struct parser *ps)
{
	struct vms_snapshot *sn = ps->snap;
	struct span line, key;
	uint64_t v;
	int r;

	r = next_line(ps, &line);
	if (r <= 0 || !span_eq(line, "vmspy-snapshot 1"))
		return fail(ps, 0, "first line is not 'vmspy-snapshot 1'");
	while ((r = next_line(ps, &line)) > 0) {
		key = take_word(&line);
		if (line.n && *line.p == ' ') {
			line.p++;
			line.n--;
		}
		if (span_eq(key, "smaps"))
			return 1;
		if (span_eq(key, "seq") || span_eq(key, "time_ns")) {
			if (parse_num(line, 10, &v))
				return fail(ps, ps->line_at, "bad number");
			*(span_eq(key, "seq") ? &sn->seq : &sn->time_ns) = v;
		} else if (span_eq(key, "reason")) {
			free(sn->reason_name);
			sn->reason_name = xstrndup(line.p, line.n);
			sn->reason = -1;
			for (int i = 0; i < VMS_SNAP__COUNT; i++)
				if (span_eq(line, vms_snap_reason_names[i]))
					sn->reason = i;
		} else if (span_eq(key, "label")) {
			free(sn->label);
			sn->label = unescape_span(ps, line);
			if (!sn->label)
				return -1;
		} else if (span_eq(key, "module")) {
			if (parse_module(ps, line))
				return -1;
		} else if (span_eq(key, "segment")) {
			if (parse_segment(ps, line))
				return -1;
		} else if (span_eq(key, "recorder_thread")) {
			if (word_num(&line, 16, &sn->recorder_lo) ||
			    word_num(&line, 16, &sn->recorder_hi) ||
			    sn->recorder_hi < sn->recorder_lo)
				return fail(ps, ps->line_at,
					    "bad recorder_thread line");
		} else if (span_eq(key, "recorder_map")) {
			struct vms_snap_own o;
			struct span what;
			if (word_num(&line, 16, &o.start) ||
			    word_num(&line, 16, &o.end) || o.end < o.start)
				return fail(ps, ps->line_at,
					    "bad recorder_map line");
			/* the rest of the line: "libunwind cache" */
			what = line;
			while (what.n && (*what.p == ' ' || *what.p == '\t')) {
				what.p++;
				what.n--;
			}
			o.what = xstrndup(what.p, what.n);
			VMS_GROW(sn->own, sn->alloc_own, sn->nr_own + 1);
			sn->own[sn->nr_own++] = o;
		} else if (span_eq(key, "pagemap")) {
			if (parse_pagemap(ps, line))
				return -1;
		}
		/* Unknown keys are room for later versions: ignored. */
	}
	sn->interrupted = true;
	return 0;
}

#define FIELD(name, member) { name, offsetof(struct vms_smaps_region, member) }
static const struct {
	const char *name;
	size_t offset;
} kb_fields[] = {
	FIELD("Size", size),
	FIELD("Rss", rss),
	FIELD("Pss", pss),
	FIELD("Pss_Dirty", pss_dirty),
	FIELD("Shared_Clean", shared_clean),
	FIELD("Shared_Dirty", shared_dirty),
	FIELD("Private_Clean", private_clean),
	FIELD("Private_Dirty", private_dirty),
	FIELD("Anonymous", anonymous),
	FIELD("AnonHugePages", anon_huge_pages),
	FIELD("Swap", swap),
	FIELD("SwapPss", swap_pss),
	FIELD("Locked", locked),
};
#undef FIELD

/* "start-end perms offset major:minor inode   path" */
static int parse_region_line(struct parser *ps, struct span line)
{
	struct vms_snapshot *sn = ps->snap;
	struct vms_smaps_region *r;
	struct span range, perms, dev;
	const char *dash, *colon;
	uint64_t maj, min;

	VMS_GROW(sn->regions, sn->alloc_regions, sn->nr_regions + 1);
	r = &sn->regions[sn->nr_regions];
	memset(r, 0, sizeof(*r));
	r->thp_eligible = -1;

	range = take_word(&line);
	dash = memchr(range.p, '-', range.n);
	if (!dash ||
	    parse_num((struct span){ range.p, (size_t)(dash - range.p) }, 16,
		      &r->start) ||
	    parse_num((struct span){ dash + 1,
				     range.n - (size_t)(dash - range.p) - 1 },
		      16, &r->end) ||
	    r->end < r->start)
		return fail(ps, ps->line_at, "bad smaps address range");
	perms = take_word(&line);
	if (perms.n != 4)
		return fail(ps, ps->line_at, "bad smaps permissions");
	memcpy(r->perms, perms.p, 4);
	r->perms[4] = '\0';
	if (word_num(&line, 16, &r->offset))
		return fail(ps, ps->line_at, "bad smaps offset");
	dev = take_word(&line);
	colon = memchr(dev.p, ':', dev.n);
	if (!colon ||
	    parse_num((struct span){ dev.p, (size_t)(colon - dev.p) }, 16,
		      &maj) ||
	    parse_num((struct span){ colon + 1,
				     dev.n - (size_t)(colon - dev.p) - 1 },
		      16, &min) ||
	    maj > 0xffffffffu || min > 0xffffffffu)
		return fail(ps, ps->line_at, "bad smaps device");
	r->dev_major = (unsigned)maj;
	r->dev_minor = (unsigned)min;
	if (word_num(&line, 10, &r->inode))
		return fail(ps, ps->line_at, "bad smaps inode");
	skip_spaces(&line);
	r->path = xstrndup(line.p, line.n);
	r->vm_flags = NULL;
	sn->nr_regions++;
	return 0;
}

static int parse_field_line(struct parser *ps, struct span key,
			    struct span rest)
{
	struct vms_smaps_region *r;
	struct span num, unit;
	uint64_t v;

	if (!ps->snap->nr_regions)
		return fail(ps, ps->line_at, "smaps field before any region");
	r = &ps->snap->regions[ps->snap->nr_regions - 1];
	key.n--; /* the ':' */
	if (span_eq(key, "VmFlags")) {
		skip_spaces(&rest);
		while (rest.n && rest.p[rest.n - 1] == ' ')
			rest.n--;
		free(r->vm_flags);
		r->vm_flags = xstrndup(rest.p, rest.n);
		return 0;
	}
	if (span_eq(key, "THPeligible")) {
		if (word_num(&rest, 10, &v) || v > 1)
			return fail(ps, ps->line_at, "bad THPeligible value");
		r->thp_eligible = (int)v;
		return 0;
	}
	for (size_t i = 0; i < VMS_ARRAY_SIZE(kb_fields); i++) {
		if (!span_eq(key, kb_fields[i].name))
			continue;
		num = take_word(&rest);
		unit = take_word(&rest);
		if (parse_num(num, 10, &v) || !span_eq(unit, "kB") ||
		    __builtin_mul_overflow(v, 1024, &v))
			return fail(ps, ps->line_at, "bad smaps field value");
		memcpy((char *)r + kb_fields[i].offset, &v, sizeof(v));
		return 0;
	}
	return 0; /* a field we do not use */
}

static int parse_smaps(struct parser *ps)
{
	struct vms_snapshot *sn = ps->snap;
	struct span line, first;
	int r;

	sn->has_smaps = true;
	while ((r = next_line(ps, &line)) > 0) {
		struct span rest = line;
		first = take_word(&rest);
		if (first.n > 1 && first.p[first.n - 1] == ':') {
			if (parse_field_line(ps, first, rest))
				return -1;
		} else if (parse_region_line(ps, line)) {
			return -1;
		}
	}
	if (r < 0)
		sn->interrupted = true;
	/* The kernel ends every region with VmFlags: a region without it
	 * was being written when the process died. */
	if (sn->nr_regions && !sn->regions[sn->nr_regions - 1].vm_flags)
		sn->interrupted = true;
	for (size_t i = 0; i < sn->nr_regions; i++)
		if (!sn->regions[i].vm_flags)
			sn->regions[i].vm_flags = xstrdup("");
	return 0;
}

int vms_snapshot_parse(struct vms_snapshot *snap, const char *name,
		       const char *text, size_t len, bool want_smaps,
		       char **err)
{
	struct parser ps = { snap, name, text, len, 0, 0, err };
	int r;

	snap->reason = -1;
	snap->reason_name = xstrdup("");
	*err = NULL;
	r = parse_header(&ps);
	if (r == 1 && want_smaps)
		r = parse_smaps(&ps);
	if (r < 0) {
		vms_snapshot_release(snap);
		return -1;
	}
	return 0;
}

int vms_snap_pagemap_page(const struct vms_snap_pagemap *pm, uint64_t index)
{
	int d;
	if (index / 4 >= pm->bitmap_len)
		return -1;
	d = digit_value(pm->bitmap[index / 4], 16);
	return d < 0 ? -1 : (d >> (index % 4)) & 1;
}

void vms_snapshot_release(struct vms_snapshot *snap)
{
	for (size_t i = 0; i < snap->nr_modules; i++) {
		free(snap->modules[i].build_id);
		free(snap->modules[i].path);
	}
	for (size_t i = 0; i < snap->nr_regions; i++) {
		free(snap->regions[i].path);
		free(snap->regions[i].vm_flags);
	}
	for (size_t i = 0; i < snap->nr_pagemap; i++)
		free(snap->pagemap[i].bitmap);
	for (size_t i = 0; i < snap->nr_own; i++)
		free(snap->own[i].what);
	free(snap->own);
	free(snap->modules);
	free(snap->segments);
	free(snap->pagemap);
	free(snap->regions);
	free(snap->reason_name);
	free(snap->label);
	memset(snap, 0, sizeof(*snap));
}

/* ---- compressed snapshot files ------------------------------------------ */

static int zfail(const char *name, size_t at, const char *what,
		 const char *detail, char **err)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	vms_strbuf_addf(&b, "snapshot '%s' corrupt at offset %zu: %s%s%s", name,
			at, what, detail ? ": " : "", detail ? detail : "");
	*err = b.s;
	return -1;
}

static uint32_t get_u32le(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
	       (uint32_t)u[3] << 24;
}

bool vms_snapshot_is_compressed(const char *data, size_t len)
{
	return len >= 4 && get_u32le(data) == VMS_SNAPZ_SKIPPABLE;
}

int vms_snapshot_zinfo(const char *name, const char *data, size_t len,
		       int64_t *ref, size_t *frame_at, char **err)
{
	struct span info, line, key;
	uint32_t ilen;
	bool have_ref = false, first = true;

	*err = NULL;
	*ref = -1;
	if (len < 8 || !vms_snapshot_is_compressed(data, len))
		return zfail(name, 0, "no compressed snapshot header", NULL,
			     err);
	ilen = get_u32le(data + 4);
	if (ilen > len - 8)
		return zfail(name, 4, "info frame longer than the file", NULL,
			     err);
	info.p = data + 8;
	info.n = ilen;
	while (info.n) {
		const char *nl = memchr(info.p, '\n', info.n);
		size_t at = (size_t)(info.p - data);
		uint64_t v;
		if (!nl)
			return zfail(name, at, "unterminated info line", NULL,
				     err);
		line.p = info.p;
		line.n = (size_t)(nl - info.p);
		info.p = nl + 1;
		info.n -= line.n + 1;
		if (first) {
			if (!span_eq(line, VMS_SNAPZ_MAGIC_LINE))
				return zfail(name, at, "info does not start "
					     "with '" VMS_SNAPZ_MAGIC_LINE "'",
					     NULL, err);
			first = false;
			continue;
		}
		key = take_word(&line);
		if (!span_eq(key, "ref"))
			continue; /* room for later versions */
		if (line.n && *line.p == ' ') {
			line.p++;
			line.n--;
		}
		if (span_eq(line, "-")) {
			*ref = -1;
		} else if (parse_num(line, 10, &v) || v > UINT32_MAX) {
			return zfail(name, at, "bad ref line", NULL, err);
		} else {
			*ref = (int64_t)v;
		}
		have_ref = true;
	}
	if (first || !have_ref)
		return zfail(name, 8, first ? "empty info frame"
					    : "info frame without a ref line",
			     NULL, err);
	*frame_at = 8 + (size_t)ilen;
	return 0;
}

int vms_snapshot_decompress(const char *name, const char *data, size_t len,
			    size_t frame_at, const char *ref, size_t ref_len,
			    size_t max, char **out, size_t *out_len,
			    bool *truncated, char **err)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { data + frame_at, len - frame_at, 0 };
	size_t cap = 256 * 1024, n = 0, r = 1;
	char *buf = NULL;
	int ret = -1;

	*err = NULL;
	*truncated = false;
	if (!d)
		vms_die("out of memory");
	/* The content size in the frame header is a hint only (the input is
	 * hostile): the buffer grows with what really comes out. */
	if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27)) ||
	    (ref && ZSTD_isError(ZSTD_DCtx_refPrefix(d, ref, ref_len)))) {
		zfail(name, frame_at, "cannot set up the decompressor", NULL,
		      err);
		goto out;
	}
	buf = xmalloc(cap + 1);
	while (r) {
		ZSTD_outBuffer o = { buf, cap, n };
		size_t before = in.pos;
		r = ZSTD_decompressStream(d, &o, &in);
		n = o.pos;
		if (ZSTD_isError(r)) {
			zfail(name, frame_at + before, "compressed data",
			      ZSTD_getErrorName(r), err);
			goto out;
		}
		if (n == cap) {
			if (cap >= max) {
				zfail(name, frame_at, "decompresses to more "
				      "than the snapshot size limit", NULL,
				      err);
				goto out;
			}
			cap = cap * 2 < max ? cap * 2 : max;
			buf = xrealloc(buf, cap + 1);
			continue;
		}
		if (r && in.pos == in.size) {
			/* All input used, the frame not finished: the
			 * recorder was stopped while writing the file. */
			*truncated = true;
			break;
		}
	}
	if (!*truncated && in.pos != in.size) {
		zfail(name, frame_at + in.pos, "bytes after the compressed frame",
		      NULL, err);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	ZSTD_freeDCtx(d);
	return ret;
}
