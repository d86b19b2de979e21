/* SPDX-License-Identifier: MIT */
/*
 * `vmspy flame REC [--metric peak|leaked|allocated|calls] [--category C]
 * [--svg FILE]`: call stacks weighted by memory, as folded stacks (one line
 * per stack, "outer;...;inner value", what flamegraph.pl, inferno and
 * speedscope read) or as a standalone SVG flame graph.
 *
 * Stacks are the sites of sites.h at full depth: function names (inlined
 * frames included, compiler clone suffixes removed), "module+0xoffset"
 * when the function is unknown.  A ';' inside a name would split the frame
 * in every folded-stack reader, so it is written as ':'.
 *
 * Metrics (bytes, or calls; heap + mmap + shm unless --category):
 *   peak       live at the recording's overall peak (heap + mmap + shm
 *              highest): what to cut to lower the high-water mark
 *   leaked     live at exit (or when a crashed recording ends)
 *   allocated  acquired in total
 *   calls      acquiring calls
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "sites.h"
#include "svg.h"
#include "util.h"

#define USAGE "flame REC [--metric peak|leaked|allocated|calls] " \
	      "[--category heap|mmap|shm|all] [--svg FILE]"

enum metric { M_PEAK, M_LEAKED, M_ALLOCATED, M_CALLS, M__COUNT };
static const char *const metric_names[M__COUNT] = { "peak", "leaked",
						     "allocated", "calls" };
static const char *const metric_desc[M__COUNT] = {
	"bytes live at the overall peak", "bytes live at exit",
	"bytes allocated in total", "allocating calls" };

struct flame {
	struct vms_sites_run run;
	enum metric metric;
	int category; /* enum vms_cat, or -1 for all */
};

static uint64_t site_value(const struct flame *fl, const struct vms_site *s)
{
	uint64_t v = 0;
	for (int c = 0; c < VMS_CAT__COUNT; c++) {
		const struct vms_site_stats *st = &s->cat[c];
		if (fl->category >= 0 && c != fl->category)
			continue;
		switch (fl->metric) {
		case M_PEAK: v += st->at_peak; break;
		case M_LEAKED: v += st->live; break;
		case M_ALLOCATED: v += st->allocated; break;
		default: v += st->calls; break;
		}
	}
	return v;
}

/* A frame name as a folded-stack field. */
static void add_frame(struct vms_strbuf *b, const char *name)
{
	for (const char *p = name; *p; p++)
		vms_strbuf_addc(b, *p == ';' ? ':' : *p);
}

struct line {
	char *stack;
	uint64_t value;
	const struct vms_site *site;
};

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->stack,
		      ((const struct line *)b)->stack);
}

/* One line per site with a value, outermost frame first, sorted. */
static struct line *fold(const struct flame *fl, size_t *nr)
{
	const struct vms_sites *ss = &fl->run.sites;
	struct line *v = xcalloc(ss->n ? ss->n : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < ss->n; i++) {
		const struct vms_site *s = &ss->v[i];
		struct vms_strbuf b = VMS_STRBUF_INIT;
		uint64_t val = site_value(fl, s);
		if (!val)
			continue;
		for (size_t f = s->nr_frames; f-- > 0;) {
			add_frame(&b, s->names[f]);
			if (f)
				vms_strbuf_addc(&b, ';');
		}
		v[n++] = (struct line){ b.s ? b.s : xstrdup(""), val, s };
	}
	qsort(v, n, sizeof(*v), cmp_line);
	*nr = n;
	return v;
}

/* ---- the flame graph ----------------------------------------------------- */

struct node {
	const char *name;   /* points into a site's names */
	uint64_t value;
	size_t first, next; /* child / sibling indices, 0 = none */
};

struct tree {
	struct node *v;
	size_t n, alloc;
	size_t depth;       /* deepest level (root = 0) */
};

/* The child of parent called name, added at the end of its list when
 * new.  Indices, not pointers: adding a node may move t->v. */
static size_t child(struct tree *t, size_t parent, const char *name)
{
	size_t last = 0;
	for (size_t i = t->v[parent].first; i; i = t->v[i].next) {
		if (!strcmp(t->v[i].name, name))
			return i;
		last = i;
	}
	VMS_GROW(t->v, t->alloc, t->n + 1);
	t->v[t->n] = (struct node){ name, 0, 0, 0 };
	if (last)
		t->v[last].next = t->n;
	else
		t->v[parent].first = t->n;
	return t->n++;
}

static void build(struct tree *t, const struct line *lines, size_t n)
{
	VMS_GROW(t->v, t->alloc, 1);
	t->v[0] = (struct node){ "all", 0, 0, 0 };
	t->n = 1;
	for (size_t i = 0; i < n; i++) {
		const struct vms_site *s = lines[i].site;
		size_t at = 0, level = 0;
		t->v[0].value += lines[i].value;
		for (size_t f = s->nr_frames; f-- > 0;) {
			at = child(t, at, s->names[f]);
			t->v[at].value += lines[i].value;
			level++;
		}
		if (level > t->depth)
			t->depth = level;
	}
}

#define FW 1200.0
#define FRAME_H 17.0
#define PAD 10.0
#define TOP 58.0
#define CHAR_W 6.6

static void value_text(const struct flame *fl, char *buf, size_t len,
		       uint64_t v)
{
	if (fl->metric == M_CALLS)
		snprintf(buf, len, "%" PRIu64 " call%s", v, v == 1 ? "" : "s");
	else
		vms_human_size(buf, len, v);
}

/* Warm colors per name, stable across runs (flamegraph.pl's idea). */
static void color(const char *name, char *buf, size_t len)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	snprintf(buf, len, "rgb(%u,%u,%u)", 205 + (h & 0xff) * 50 / 255,
		 (h >> 8 & 0xff) * 200 / 255, (h >> 16 & 0xff) * 55 / 255);
}

static void draw(FILE *f, const struct flame *fl, const struct tree *t,
		 size_t id, size_t level, double x, double height)
{
	const struct node *nd = &t->v[id];
	double total = (double)t->v[0].value;
	double w = (FW - 2 * PAD) * (double)nd->value / total;
	double y = height - PAD - (double)(level + 1) * FRAME_H;
	struct vms_strbuf name = VMS_STRBUF_INIT;
	char v[48], fill[32];
	double cx = x;

	if (w < 0.3)
		return;
	vms_svg_escape(&name, nd->name);
	value_text(fl, v, sizeof(v), nd->value);
	color(nd->name, fill, sizeof(fill));
	fprintf(f, "<g class=\"frame\"><title>%s: %s (%.2f%%)</title>"
		"<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
		"rx=\"2\" fill=\"%s\" data-name=\"%s\" data-value=\"%" PRIu64
		"\" data-depth=\"%zu\"/>", name.s, v,
		100.0 * (double)nd->value / total, x, y, w, FRAME_H - 1,
		id ? fill : "rgb(230,230,230)", name.s, nd->value, level);
	if (w > 3 * CHAR_W) {
		size_t fit = (size_t)((w - 6) / CHAR_W);
		size_t len = strlen(nd->name);
		vms_strbuf_reset(&name);
		if (len <= fit) {
			vms_svg_escape(&name, nd->name);
		} else {
			vms_svg_escapen(&name, nd->name, fit - 2);
			vms_strbuf_addstr(&name, "..");
		}
		fprintf(f, "<text x=\"%.2f\" y=\"%.1f\">%s</text>", x + 3,
			y + FRAME_H - 5, name.s);
	}
	fprintf(f, "</g>\n");
	vms_strbuf_release(&name);
	for (size_t c = nd->first; c; c = t->v[c].next) {
		draw(f, fl, t, c, level + 1, cx, height);
		cx += (FW - 2 * PAD) * (double)t->v[c].value / total;
	}
}

static int print_svg(const struct flame *fl, const struct line *lines,
		     size_t n, const char *path)
{
	struct tree t = { 0 };
	struct vms_strbuf b = VMS_STRBUF_INIT;
	const struct vms_recording *rec = &fl->run.rec;
	const char *exe = rec->meta.exe ? rec->meta.exe : "(unknown)";
	const char *base = strrchr(exe, '/');
	double height;
	char v[48];
	FILE *f;

	build(&t, lines, n);
	height = TOP + (double)(t.depth + 1) * FRAME_H + 2 * PAD + 8;
	if (height < 140)
		height = 140;
	f = vms_svg_open(path);
	if (!f) {
		free(t.v);
		return -1;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" "
		"font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" "
		"fill=\"#fdfdf6\"/>\n", FW, height, FW, height);
	vms_strbuf_addstr(&b, "vmspy flame graph: ");
	vms_svg_escape(&b, base ? base + 1 : exe);
	vms_strbuf_addf(&b, " (pid %" PRIu64 "), %s", rec->meta.pid,
			metric_names[fl->metric]);
	if (fl->category >= 0)
		vms_strbuf_addf(&b, ", %s only", vms_cat_names[fl->category]);
	fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"17\" "
		"font-weight=\"bold\" fill=\"#222\">%s</text>\n", PAD, b.s);
	vms_strbuf_reset(&b);
	value_text(fl, v, sizeof(v), t.v[0].value);
	vms_strbuf_addf(&b, "width = %s (total %s)", metric_desc[fl->metric],
			v);
	if (fl->metric == M_PEAK && fl->run.sites.peak_bytes) {
		uint64_t start = rec->meta.start_monotonic_ns;
		uint64_t pt = fl->run.sites.peak_time_ns;
		vms_strbuf_addf(&b, ", peak at %.3f s",
				pt > start ? (double)(pt - start) / 1e9 : 0.0);
	}
	vms_strbuf_addstr(&b, "; hover a frame for its value; recording ");
	vms_svg_escape(&b, rec->path);
	fprintf(f, "<text x=\"%.0f\" y=\"44\" font-size=\"12\" "
		"fill=\"#666\">%s</text>\n", PAD, b.s);
	if (!t.v[0].value)
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" "
			"fill=\"#666\">nothing to show: the metric is 0 for "
			"every stack</text>\n", PAD, TOP + 30);
	else
		draw(f, fl, &t, 0, 0, PAD, height);
	fprintf(f, "</svg>\n");
	vms_strbuf_release(&b);
	free(t.v);
	return vms_svg_close(f, path);
}

int cmd_flame(int argc, char **argv)
{
	struct flame fl;
	const char *path = NULL, *svg = NULL;
	struct line *lines;
	size_t n;
	int ret = VMS_EXIT_OK;

	memset(&fl, 0, sizeof(fl));
	fl.metric = M_PEAK;
	fl.category = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--metric") || !strcmp(a, "--category") ||
		    !strcmp(a, "--svg")) {
			const char *v = i + 1 < argc ? argv[++i] : NULL;
			int k, found = -1;
			if (!v)
				return vms_usage_error(USAGE, "flame: %s needs "
						       "a value", a);
			if (a[2] == 's') {
				svg = v;
				continue;
			}
			for (k = 0; a[2] == 'm' && k < M__COUNT; k++)
				if (!strcmp(v, metric_names[k]))
					found = k;
			for (k = 0; a[2] == 'c' && k < VMS_CAT__COUNT; k++)
				if (!strcmp(v, vms_cat_names[k]))
					found = k;
			if (a[2] == 'c' && !strcmp(v, "all"))
				found = VMS_CAT__COUNT;
			if (found < 0)
				return vms_usage_error(USAGE, "flame: bad %s "
						       "'%s'", a, v);
			if (a[2] == 'm')
				fl.metric = (enum metric)found;
			else
				fl.category = found == VMS_CAT__COUNT ? -1
								      : found;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: vmspy %s\n\n"
			       "Call stacks weighted by memory: folded stacks "
			       "(\"outer;...;inner value\",\nfor flamegraph.pl,"
			       " inferno, speedscope) on stdout, or an SVG "
			       "flame graph.\n"
			       "  --metric peak       bytes live at the overall "
			       "peak (default)\n"
			       "           leaked     bytes live at exit\n"
			       "           allocated  bytes allocated in total\n"
			       "           calls      allocating calls\n"
			       "  --category C        heap, mmap, shm or all "
			       "(default)\n"
			       "  --svg FILE          write a standalone flame "
			       "graph ('-' for stdout)\n"
			       "Frames are function names, inlined ones "
			       "included; module+0xoffset when\nunknown; ';' "
			       "in a name is written ':'.\n", USAGE);
			return VMS_EXIT_OK;
		} else if (a[0] == '-' && a[1]) {
			return vms_usage_error(USAGE, "flame: unknown option "
					       "'%s'", a);
		} else if (path) {
			return vms_usage_error(USAGE, "flame: unexpected "
					       "argument '%s'", a);
		} else {
			path = a;
		}
	}
	if (!path)
		return vms_usage_error(USAGE, "flame: no recording given");

	if (vms_sites_run_load(&fl.run, path, 0))
		return VMS_EXIT_USAGE;
	for (size_t i = 0; i < fl.run.replay.nr_damage; i++)
		vms_warning("%s", fl.run.replay.damage[i].message);
	lines = fold(&fl, &n);
	if (svg) {
		if (print_svg(&fl, lines, n, svg))
			ret = VMS_EXIT_USAGE;
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s %" PRIu64 "\n", lines[i].stack,
			       lines[i].value);
		if (fflush(stdout))
			ret = VMS_EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i].stack);
	free(lines);
	vms_sites_run_release(&fl.run);
	return ret;
}
