/* SPDX-License-Identifier: MIT */
/*
 * `vmspy diff OLD NEW [--json] [--fail-over BYTES|PCT] [--depth N]
 * [--top N]`: compare two recordings, typically of two builds of one
 * program.  Totals per category (heap, mmap, shm): peak live bytes, bytes
 * live at exit, bytes allocated, calls.  Call sites are matched by their
 * symbolized frames (sites.h says how a site is keyed), never by address,
 * and listed by the largest change of their own peak.  With --fail-over it
 * is a CI gate: exit 1 when NEW's peak of any category grew by more than
 * the threshold.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "json.h"
#include "sites.h"
#include "util.h"

#define USAGE "diff OLD NEW [--json] [--fail-over BYTES|PCT] [--depth N] " \
	      "[--top N]"
#define DEFAULT_DEPTH 8
#define DEFAULT_TOP 20
#define TEXT_FRAMES 4

enum metric { M_PEAK, M_EXIT, M_ALLOC, M_CALLS, M__COUNT };
static const char *const metric_names[M__COUNT] = { "peak", "at_exit",
						     "allocated", "calls" };
static const char *const metric_text[M__COUNT] = { "peak", "at exit",
						    "allocated", "calls" };

struct row {
	const struct vms_site *old, *new; /* either may be NULL */
	int64_t peak_delta[VMS_CAT__COUNT];
	uint64_t order;                    /* max |peak delta| */
	uint64_t order2;                   /* other changes, for ties */
};

struct threshold {
	bool set, pct;
	double value;      /* percent, or bytes */
	const char *text;
};

static uint64_t metric(const struct vms_site_stats *s, enum metric m)
{
	switch (m) {
	case M_PEAK: return s->peak;
	case M_EXIT: return s->live;
	case M_ALLOC: return s->allocated;
	default: return s->calls;
	}
}

static int64_t sdelta(uint64_t o, uint64_t n)
{
	return (int64_t)(n - o);
}

static uint64_t uabs(int64_t v)
{
	return v < 0 ? (uint64_t)-v : (uint64_t)v;
}

static const struct vms_site_stats *stats(const struct vms_site *s,
					  unsigned c)
{
	static const struct vms_site_stats zero;
	return s ? &s->cat[c] : &zero;
}

/* "+2.0 MiB", "-512 B", "0" */
static char *signed_size(char *buf, size_t len, int64_t d)
{
	char h[VMS_HUMAN_SIZE_MAX];
	if (!d)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%c%s", d < 0 ? '-' : '+',
			 vms_human_size(h, sizeof(h), uabs(d)));
	return buf;
}

/* ---- matching ------------------------------------------------------------ */

static int cmp_key(const void *a, const void *b)
{
	const struct vms_site *x = *(const struct vms_site *const *)a;
	const struct vms_site *y = *(const struct vms_site *const *)b;
	return strcmp(x->key, y->key);
}

static const struct vms_site **sorted(const struct vms_sites *ss)
{
	const struct vms_site **v = xcalloc(ss->n ? ss->n : 1, sizeof(*v));
	for (size_t i = 0; i < ss->n; i++)
		v[i] = &ss->v[i];
	qsort(v, ss->n, sizeof(*v), cmp_key);
	return v;
}

static void fill_row(struct row *r)
{
	r->order = r->order2 = 0;
	for (unsigned c = 0; c < VMS_CAT__COUNT; c++) {
		const struct vms_site_stats *o = stats(r->old, c);
		const struct vms_site_stats *n = stats(r->new, c);
		r->peak_delta[c] = sdelta(o->peak, n->peak);
		if (uabs(r->peak_delta[c]) > r->order)
			r->order = uabs(r->peak_delta[c]);
		r->order2 += uabs(sdelta(o->live, n->live)) +
			     uabs(sdelta(o->allocated, n->allocated)) +
			     uabs(sdelta(o->calls, n->calls));
	}
}

static const char *row_key(const struct row *r)
{
	return r->old ? r->old->key : r->new->key;
}

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->order != y->order)
		return x->order < y->order ? 1 : -1;
	if (x->order2 != y->order2)
		return x->order2 < y->order2 ? 1 : -1;
	return strcmp(row_key(x), row_key(y));
}

static struct row *match(const struct vms_sites *o, const struct vms_sites *n,
			 size_t *nr)
{
	const struct vms_site **a = sorted(o), **b = sorted(n);
	struct row *rows = xcalloc(o->n + n->n + 1, sizeof(*rows));
	size_t i = 0, j = 0, k = 0;

	while (i < o->n || j < n->n) {
		int c = i == o->n ? 1 : j == n->n ? -1
				  : strcmp(a[i]->key, b[j]->key);
		if (c <= 0)
			rows[k].old = a[i++];
		if (c >= 0)
			rows[k].new = b[j++];
		fill_row(&rows[k++]);
	}
	qsort(rows, k, sizeof(*rows), cmp_row);
	free(a);
	free(b);
	*nr = k;
	return rows;
}

/* ---- threshold ------------------------------------------------------------- */

static int parse_threshold(struct threshold *t, const char *s)
{
	char *end;
	double v, mult = 1;

	t->text = s;
	v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return -1;
	if (!strcmp(end, "%")) {
		t->pct = true;
	} else {
		static const struct { const char *suffix; double mult; } u[] = {
			{ "", 1 }, { "b", 1 }, { "k", 1024 }, { "kib", 1024 },
			{ "kb", 1024 }, { "m", 1048576 }, { "mib", 1048576 },
			{ "mb", 1048576 }, { "g", 1073741824 },
			{ "gib", 1073741824 }, { "gb", 1073741824 },
		};
		size_t i;
		for (i = 0; i < VMS_ARRAY_SIZE(u); i++)
			if (!strcasecmp(end, u[i].suffix))
				break;
		if (i == VMS_ARRAY_SIZE(u))
			return -1;
		mult = u[i].mult;
	}
	t->value = v * mult;
	t->set = true;
	return 0;
}

/* Did the peak grow by more than the threshold? */
static bool over(const struct threshold *t, uint64_t old, uint64_t new)
{
	if (!t->set || new <= old)
		return false;
	if (t->pct)
		return old == 0 ||
		       (double)(new - old) > (double)old * t->value / 100.0;
	return (double)(new - old) > t->value;
}

/* ---- text ------------------------------------------------------------------ */

struct diff {
	struct vms_sites_run old, new;
	struct row *rows;
	size_t nr_rows;
	struct threshold thr;
	bool over[VMS_CAT__COUNT];
	bool any_over;
	size_t depth;
};

static void print_rec_line(const char *what, const struct vms_sites_run *r)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	vms_strbuf_add_printable(&b, r->rec.path, strlen(r->rec.path));
	printf("%-4s %s", what, b.s);
	vms_strbuf_reset(&b);
	if (r->rec.meta.exe) {
		const char *e = strrchr(r->rec.meta.exe, '/');
		e = e ? e + 1 : r->rec.meta.exe;
		vms_strbuf_add_printable(&b, e, strlen(e));
		printf("  (%s, pid %" PRIu64 "%s)", b.s, r->rec.meta.pid,
		       r->state.exited ? "" : ", did not exit cleanly");
	}
	printf("\n");
	vms_strbuf_release(&b);
}

static void warn_damage(const char *what, const struct vms_sites_run *r)
{
	for (size_t i = 0; i < r->replay.nr_damage; i++)
		vms_warning("%s recording: %s", what,
			    r->replay.damage[i].message);
}

static void print_total(const struct diff *d, unsigned c)
{
	const struct vms_site_stats *o = &d->old.sites.total[c];
	const struct vms_site_stats *n = &d->new.sites.total[c];
	char a[VMS_HUMAN_SIZE_MAX], b[VMS_HUMAN_SIZE_MAX], s[24];

	printf("%s%s\n", vms_cat_names[c],
	       d->over[c] ? "  ** peak grew over the threshold **" : "");
	for (int m = 0; m < M__COUNT; m++) {
		uint64_t ov = metric(o, (enum metric)m);
		uint64_t nv = metric(n, (enum metric)m);
		int64_t dv = sdelta(ov, nv);
		char pct[24] = "";
		if (dv && ov)
			snprintf(pct, sizeof(pct), "  (%+.1f%%)",
				 (double)dv * 100.0 / (double)ov);
		else if (dv)
			snprintf(pct, sizeof(pct), "  (new)");
		if (m == M_CALLS && dv)
			printf("  %-10s %12" PRIu64 " %12" PRIu64 " %+12" PRId64
			       "%s\n", metric_text[m], ov, nv, dv, pct);
		else if (m == M_CALLS)
			printf("  %-10s %12" PRIu64 " %12" PRIu64 " %12s\n",
			       metric_text[m], ov, nv, "0");
		else
			printf("  %-10s %12s %12s %12s%s\n", metric_text[m],
			       vms_human_size(a, sizeof(a), ov),
			       vms_human_size(b, sizeof(b), nv),
			       signed_size(s, sizeof(s), dv), pct);
	}
}

/* Innermost frames first, up to max, and never past main: the C start-up
 * frames outside it are the same for every site. */
static void site_frames(struct vms_strbuf *b, const struct vms_site *s,
			size_t max)
{
	size_t n = s->nr_frames;
	for (size_t f = 0; f < n; f++)
		if (!strcmp(s->names[f], "main"))
			n = f + 1;
	for (size_t f = 0; f < n && f < max; f++) {
		if (f)
			vms_strbuf_addstr(b, " < ");
		vms_strbuf_addstr(b, s->names[f]);
	}
	if (n > max)
		vms_strbuf_addstr(b, " < ...");
}

static void print_text(const struct diff *d, size_t top)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	size_t changed = 0, shown = 0, both = 0;

	print_rec_line("old", &d->old);
	print_rec_line("new", &d->new);
	printf("\n%-12s %12s %12s %12s\n", "", "old", "new", "delta");
	for (unsigned c = 0; c < VMS_CAT__COUNT; c++)
		print_total(d, c);

	for (size_t i = 0; i < d->nr_rows; i++) {
		changed += d->rows[i].order != 0;
		both += d->rows[i].old && d->rows[i].new;
	}
	printf("\nsites: %zu in old, %zu in new, %zu in both (matched by "
	       "function names, %zu frames)\n", d->old.sites.n,
	       d->new.sites.n, both, d->depth);
	printf("by largest change of their peak: %zu changed "
	       "(innermost frame first)\n", changed);
	if (changed)
		printf("  %10s %10s %10s  %s\n", "heap", "mmap", "shm",
		       "site");
	for (size_t i = 0; i < d->nr_rows && shown < top; i++) {
		const struct row *r = &d->rows[i];
		const struct vms_site *s = r->new ? r->new : r->old;
		char x[3][24];
		if (!r->order)
			break;
		shown++;
		vms_strbuf_reset(&b);
		site_frames(&b, s, TEXT_FRAMES);
		printf("  %10s %10s %10s  %s%s\n",
		       signed_size(x[0], 24, r->peak_delta[VMS_CAT_HEAP]),
		       signed_size(x[1], 24, r->peak_delta[VMS_CAT_MMAP]),
		       signed_size(x[2], 24, r->peak_delta[VMS_CAT_SHM]),
		       b.s, !r->old ? "  (new site)"
			    : !r->new ? "  (gone)" : "");
		/* What it was and is, for the categories that changed. */
		vms_strbuf_reset(&b);
		for (unsigned c = 0; c < VMS_CAT__COUNT; c++) {
			char a[VMS_HUMAN_SIZE_MAX], z[VMS_HUMAN_SIZE_MAX];
			if (!r->peak_delta[c])
				continue;
			vms_strbuf_addf(&b, "%s%s peak %s -> %s",
					b.len ? ", " : "", vms_cat_names[c],
					vms_human_size(a, sizeof(a),
						       stats(r->old, c)->peak),
					vms_human_size(z, sizeof(z),
						       stats(r->new, c)->peak));
		}
		printf("  %32s  %s\n", "", b.s);
	}
	if (changed > shown)
		printf("  ... %zu more (--top N, or --json for all)\n",
		       changed - shown);
	if (!changed)
		printf("  (no site's peak changed)\n");

	if (d->thr.set) {
		printf("\nfail-over %s: ", d->thr.text);
		if (!d->any_over)
			printf("ok, no category's peak grew by more\n");
		else {
			const char *sep = "";
			printf("exceeded by the peak of ");
			for (unsigned c = 0; c < VMS_CAT__COUNT; c++)
				if (d->over[c]) {
					printf("%s%s", sep, vms_cat_names[c]);
					sep = ", ";
				}
			printf("\n");
		}
	}
	vms_strbuf_release(&b);
}

/* ---- json ------------------------------------------------------------------ */

static void json_rec(struct vms_json *j, const char *key,
		     const struct vms_sites_run *r)
{
	vms_json_object_begin(j, key);
	vms_json_string(j, "recording", r->rec.path);
	if (r->rec.meta.exe)
		vms_json_string(j, "exe", r->rec.meta.exe);
	else
		vms_json_null(j, "exe");
	vms_json_u64(j, "pid", r->rec.meta.pid);
	vms_json_bool(j, "clean_exit", r->state.exited);
	vms_json_u64(j, "sites", r->sites.n);
	vms_json_array_begin(j, "damage");
	for (size_t i = 0; i < r->replay.nr_damage; i++)
		vms_json_string(j, NULL, r->replay.damage[i].message);
	vms_json_array_end(j);
	vms_json_object_end(j);
}

static void json_ond(struct vms_json *j, const char *key, uint64_t o,
		     uint64_t n)
{
	vms_json_object_begin(j, key);
	vms_json_u64(j, "old", o);
	vms_json_u64(j, "new", n);
	vms_json_i64(j, "delta", sdelta(o, n));
	vms_json_object_end(j);
}

static int print_json(const struct diff *d)
{
	struct vms_json j;
	char key[32];

	vms_json_init(&j, stdout);
	vms_json_object_begin(&j, NULL);
	json_rec(&j, "old", &d->old);
	json_rec(&j, "new", &d->new);
	vms_json_u64(&j, "depth", d->depth);

	/* totals.<cat>: old/new/delta are the peak; the other metrics are
	 * objects of their own. */
	vms_json_object_begin(&j, "totals");
	for (unsigned c = 0; c < VMS_CAT__COUNT; c++) {
		const struct vms_site_stats *o = &d->old.sites.total[c];
		const struct vms_site_stats *n = &d->new.sites.total[c];
		vms_json_object_begin(&j, vms_cat_names[c]);
		vms_json_u64(&j, "old", o->peak);
		vms_json_u64(&j, "new", n->peak);
		vms_json_i64(&j, "delta", sdelta(o->peak, n->peak));
		for (int m = 0; m < M__COUNT; m++)
			json_ond(&j, metric_names[m], metric(o, (enum metric)m),
				 metric(n, (enum metric)m));
		vms_json_bool(&j, "over_threshold", d->over[c]);
		vms_json_object_end(&j);
	}
	vms_json_object_end(&j);

	vms_json_array_begin(&j, "sites");
	for (size_t i = 0; i < d->nr_rows; i++) {
		const struct row *r = &d->rows[i];
		const struct vms_site *s = r->new ? r->new : r->old;
		vms_json_object_begin(&j, NULL);
		vms_json_array_begin(&j, "frames");
		for (size_t f = 0; f < s->nr_frames; f++)
			vms_json_string(&j, NULL, s->names[f]);
		vms_json_array_end(&j);
		vms_json_array_begin(&j, "files");
		for (size_t f = 0; f < s->nr_frames; f++)
			if (s->files[f])
				vms_json_string(&j, NULL, s->files[f]);
			else
				vms_json_null(&j, NULL);
		vms_json_array_end(&j);
		vms_json_string(&j, "in", r->old && r->new ? "both"
					  : r->old	   ? "old"
							   : "new");
		for (unsigned c = 0; c < VMS_CAT__COUNT; c++) {
			snprintf(key, sizeof(key), "%s_delta",
				 vms_cat_names[c]);
			vms_json_i64(&j, key, r->peak_delta[c]);
		}
		for (unsigned c = 0; c < VMS_CAT__COUNT; c++) {
			const struct vms_site_stats *o = stats(r->old, c);
			const struct vms_site_stats *n = stats(r->new, c);
			vms_json_object_begin(&j, vms_cat_names[c]);
			for (int m = 0; m < M__COUNT; m++)
				json_ond(&j, metric_names[m],
					 metric(o, (enum metric)m),
					 metric(n, (enum metric)m));
			vms_json_object_end(&j);
		}
		vms_json_object_end(&j);
	}
	vms_json_array_end(&j);

	if (d->thr.set) {
		vms_json_object_begin(&j, "fail_over");
		vms_json_string(&j, "threshold", d->thr.text);
		vms_json_bool(&j, "exceeded", d->any_over);
		vms_json_array_begin(&j, "categories");
		for (unsigned c = 0; c < VMS_CAT__COUNT; c++)
			if (d->over[c])
				vms_json_string(&j, NULL, vms_cat_names[c]);
		vms_json_array_end(&j);
		vms_json_object_end(&j);
	} else {
		vms_json_null(&j, "fail_over");
	}
	vms_json_object_end(&j);
	return vms_json_finish(&j);
}

static int parse_count(const char *s, size_t *out)
{
	uint64_t v;
	if (vms_parse_number(s, &v) || v > 100000)
		return -1;
	*out = (size_t)v;
	return 0;
}

int cmd_diff(int argc, char **argv)
{
	struct diff d;
	const char *paths[2] = { NULL, NULL };
	size_t npaths = 0, top = DEFAULT_TOP;
	bool json = false;
	int ret;

	memset(&d, 0, sizeof(d));
	d.depth = DEFAULT_DEPTH;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: vmspy %s\n\n"
			       "Compare two recordings (two builds or two runs "
			       "of a program): heap, mmap\nand shm totals, and "
			       "call sites matched by function names (not "
			       "addresses).\n"
			       "  --json             the same as a JSON object\n"
			       "  --fail-over T      exit 1 when NEW's peak of "
			       "heap, mmap or shm grew by\n"
			       "                     more than T: bytes (1048576,"
			       " 512K, 4MiB) or percent (10%%)\n"
			       "  --depth N          frames that identify a site "
			       "(default %d, 0 = all)\n"
			       "  --top N            sites listed in text "
			       "(default %d)\n"
			       "A site is the chain of function names of its "
			       "stack, inlined frames included,\ninnermost "
			       "first, each with its source file; lines, "
			       "addresses and inlining\ndo not matter.\n",
			       USAGE, DEFAULT_DEPTH, DEFAULT_TOP);
			return VMS_EXIT_OK;
		} else if (!strcmp(a, "--fail-over") ||
			   !strncmp(a, "--fail-over=", 12)) {
			const char *v = a[11] == '=' ? a + 12
				      : i + 1 < argc ? argv[++i] : NULL;
			if (!v)
				return vms_usage_error(USAGE, "diff: "
						       "--fail-over needs a "
						       "value");
			if (parse_threshold(&d.thr, v))
				return vms_usage_error(USAGE, "diff: bad "
						       "--fail-over '%s' "
						       "(bytes or percent)",
						       v);
		} else if (!strcmp(a, "--depth") || !strcmp(a, "--top")) {
			size_t *out = a[2] == 'd' ? &d.depth : &top;
			if (i + 1 >= argc || parse_count(argv[i + 1], out))
				return vms_usage_error(USAGE, "diff: %s needs "
						       "a number", a);
			i++;
		} else if (a[0] == '-' && a[1]) {
			return vms_usage_error(USAGE, "diff: unknown option "
					       "'%s'", a);
		} else if (npaths == 2) {
			return vms_usage_error(USAGE, "diff: unexpected "
					       "argument '%s'", a);
		} else {
			paths[npaths++] = a;
		}
	}
	if (npaths != 2)
		return vms_usage_error(USAGE, "diff: two recordings needed, "
				       "OLD and NEW");

	if (vms_sites_run_load(&d.old, paths[0], d.depth))
		return VMS_EXIT_USAGE;
	if (vms_sites_run_load(&d.new, paths[1], d.depth)) {
		vms_sites_run_release(&d.old);
		return VMS_EXIT_USAGE;
	}
	warn_damage("old", &d.old);
	warn_damage("new", &d.new);
	d.rows = match(&d.old.sites, &d.new.sites, &d.nr_rows);
	for (unsigned c = 0; c < VMS_CAT__COUNT; c++) {
		d.over[c] = over(&d.thr, d.old.sites.total[c].peak,
				 d.new.sites.total[c].peak);
		d.any_over |= d.over[c];
	}

	if (json) {
		ret = print_json(&d) ? VMS_EXIT_USAGE : VMS_EXIT_OK;
	} else {
		print_text(&d, top);
		ret = fflush(stdout) ? VMS_EXIT_USAGE : VMS_EXIT_OK;
	}
	if (ret == VMS_EXIT_OK && d.any_over)
		ret = VMS_EXIT_FOUND;

	free(d.rows);
	vms_sites_run_release(&d.old);
	vms_sites_run_release(&d.new);
	return ret;
}
