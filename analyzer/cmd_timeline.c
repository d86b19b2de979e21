/* SPDX-License-Identifier: MIT */
/*
 * `vmspy timeline REC [--svg FILE] [--csv]`: memory over time.  heap, mmap
 * and shm live bytes come from the events (replayed into the live state);
 * Rss is the sum of the smaps Rss of every region at each snapshot.
 *
 * Events carry the recorder's coarse clock (a few ms per tick), so a time
 * point is one clock tick: the value live at the end of the tick, and the
 * highest value within it (a spike allocated and freed inside one tick still
 * shows).  Memory kept: one point per tick that changed something.
 *
 * Text (default): peaks and when, at exit, an ASCII strip per series and
 * the snapshots.  --csv: one row per time point, for spreadsheets.
 * --svg FILE: a standalone chart (axes in s and KiB/MiB/GiB, legend, peaks
 * marked, labelled vmspy_snapshot() calls).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "recording.h"
#include "replay.h"
#include "state.h"
#include "svg.h"
#include "util.h"

#define USAGE "timeline REC [--svg FILE] [--csv]"
#define NSER 3 /* heap, mmap, shm: from events */
#define STRIP 50

static const char *const ser_names[NSER] = { "heap", "mmap", "shm" };
static const char *const ser_colors[NSER] = { "#d62728", "#1f77b4",
					      "#2ca02c" };
#define RSS_COLOR "#555555"

struct point {
	uint64_t t;            /* ns since the start of the recording */
	uint64_t last[NSER];   /* live at the end of the tick */
	uint64_t max[NSER];    /* highest within the tick */
};

struct snap_point {
	uint64_t t;
	bool has_rss;
	uint64_t rss;
	const struct vms_snapshot *snap; /* NULL when unreadable */
	size_t index;
};

struct timeline {
	struct vms_recording rec;
	struct vms_replay replay;
	struct vms_state state;
	struct point *pts;
	size_t n, alloc;
	struct snap_point *snaps;
	size_t nr_snaps;
	uint64_t start;        /* CLOCK_MONOTONIC ns of the start */
	uint64_t end;          /* ns since start of the last thing seen */
	uint64_t peak_rss, peak_rss_t;
	bool have_rss;
};

static uint64_t rel(const struct timeline *tl, uint64_t mono)
{
	return mono > tl->start ? mono - tl->start : 0;
}

static int on_event(const struct vms_event *ev, void *ctx)
{
	struct timeline *tl = ctx;
	const struct vms_state *st = &tl->state;
	uint64_t cur[NSER], t;
	struct point *p;

	vms_state_apply(&tl->state, ev);
	cur[0] = st->heap_bytes;
	cur[1] = st->mmap_bytes;
	cur[2] = st->shm_bytes;
	p = &tl->pts[tl->n - 1];
	if (!memcmp(cur, p->last, sizeof(cur)))
		return 0;
	/* Lanes stamp time independently: keep the series monotonic. */
	t = ev->time_ns ? rel(tl, ev->time_ns) : 0;
	if (t < p->t)
		t = p->t;
	if (t != p->t) {
		VMS_GROW(tl->pts, tl->alloc, tl->n + 1);
		p = &tl->pts[tl->n++];
		p->t = t;
		memset(p->max, 0, sizeof(p->max));
	}
	for (int s = 0; s < NSER; s++) {
		p->last[s] = cur[s];
		if (cur[s] > p->max[s])
			p->max[s] = cur[s];
	}
	if (t > tl->end)
		tl->end = t;
	return 0;
}

static void load_snapshots(struct timeline *tl)
{
	tl->snaps = xcalloc(tl->rec.nr_snaps ? tl->rec.nr_snaps : 1,
			    sizeof(*tl->snaps));
	for (size_t i = 0; i < tl->rec.nr_snaps; i++) {
		const struct vms_snapshot *s =
			vms_recording_snapshot(&tl->rec, i, true);
		struct snap_point *sp = &tl->snaps[tl->nr_snaps++];
		sp->index = i;
		sp->snap = s;
		if (!s)
			continue; /* vms_error said why; the rest still counts */
		sp->t = rel(tl, s->time_ns);
		if (sp->t > tl->end)
			tl->end = sp->t;
		if (s->has_smaps) {
			sp->has_rss = true;
			for (size_t r = 0; r < s->nr_regions; r++)
				sp->rss += s->regions[r].rss;
			if (!tl->have_rss || sp->rss > tl->peak_rss) {
				tl->peak_rss = sp->rss;
				tl->peak_rss_t = sp->t;
			}
			tl->have_rss = true;
		}
	}
}

static const struct vms_peak *ser_peak(const struct timeline *tl, int s)
{
	return s == 0 ? &tl->state.peak_heap
	       : s == 1 ? &tl->state.peak_mmap
			: &tl->state.peak_shm;
}

/* When the series reached its peak: from the points (the peak's own time
 * stamp may be 0 when it came before the lane's first TIME record). */
static uint64_t peak_time(const struct timeline *tl, int s)
{
	uint64_t want = ser_peak(tl, s)->bytes;
	for (size_t i = 0; i < tl->n; i++)
		if (tl->pts[i].max[s] >= want)
			return tl->pts[i].t;
	return 0;
}

static uint64_t live_at_exit(const struct timeline *tl, int s)
{
	return tl->pts[tl->n - 1].last[s];
}

static const char *snap_name(const struct snap_point *sp)
{
	if (!sp->snap)
		return "unreadable";
	if (sp->snap->label)
		return sp->snap->label;
	return sp->snap->reason_name[0] ? sp->snap->reason_name : "snapshot";
}

static const char *exe_base(const struct timeline *tl)
{
	const char *e = tl->rec.meta.exe;
	const char *s;
	if (!e)
		return "(unknown)";
	s = strrchr(e, '/');
	return s ? s + 1 : e;
}

/* ---- text ------------------------------------------------------------------ */

static void strip(const struct timeline *tl, int s, char *out)
{
	static const char levels[] = " .:-=+*#%@";
	uint64_t peak = ser_peak(tl, s)->bytes, dur = tl->end ? tl->end : 1;
	uint64_t col[STRIP] = { 0 };
	size_t i = 0;

	for (int c = 0; c < STRIP; c++) {
		/* The value entering the column, then every point in it. */
		uint64_t from = (uint64_t)((double)dur * c / STRIP);
		uint64_t to = (uint64_t)((double)dur * (c + 1) / STRIP);
		col[c] = i ? tl->pts[i - 1].last[s] : 0;
		while (i < tl->n && (tl->pts[i].t < to || c == STRIP - 1)) {
			if (tl->pts[i].t >= from && tl->pts[i].max[s] > col[c])
				col[c] = tl->pts[i].max[s];
			i++;
		}
		if (i && tl->pts[i - 1].last[s] > col[c] &&
		    tl->pts[i - 1].t < to)
			col[c] = tl->pts[i - 1].last[s];
	}
	for (int c = 0; c < STRIP; c++) {
		int lv = 0;
		if (peak && col[c])
			lv = 1 + (int)((double)col[c] * 8.999 / (double)peak);
		out[c] = levels[lv > 9 ? 9 : lv];
	}
	out[STRIP] = 0;
}

static void print_text(const struct timeline *tl)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	char h1[VMS_HUMAN_SIZE_MAX], h2[VMS_HUMAN_SIZE_MAX], line[STRIP + 1];

	for (size_t i = 0; i < tl->replay.nr_damage; i++)
		printf("warning: %s\n", tl->replay.damage[i].message);
	vms_strbuf_add_printable(&b, tl->rec.path, strlen(tl->rec.path));
	printf("timeline  %s  (%s, pid %" PRIu64 "), %.3f s%s\n\n", b.s,
	       exe_base(tl), tl->rec.meta.pid, (double)tl->end / 1e9,
	       tl->state.exited ? "" : ", did not exit cleanly");
	printf("%-5s %10s %10s %10s   %s\n", "", "peak", "at", "at exit",
	       "over time (highest in each 1/50 of the run)");
	for (int s = 0; s < NSER; s++) {
		strip(tl, s, line);
		printf("%-5s %10s %8.3f s %10s   |%s|\n", ser_names[s],
		       vms_human_size(h1, sizeof(h1), ser_peak(tl, s)->bytes),
		       (double)peak_time(tl, s) / 1e9,
		       vms_human_size(h2, sizeof(h2), live_at_exit(tl, s)),
		       line);
	}
	if (tl->have_rss) {
		const struct snap_point *last = NULL;
		for (size_t i = 0; i < tl->nr_snaps; i++)
			if (tl->snaps[i].has_rss)
				last = &tl->snaps[i];
		printf("%-5s %10s %8.3f s %10s   (smaps, %zu snapshots)\n",
		       "rss", vms_human_size(h1, sizeof(h1), tl->peak_rss),
		       (double)tl->peak_rss_t / 1e9,
		       vms_human_size(h2, sizeof(h2), last->rss),
		       tl->nr_snaps);
	}
	printf("\nsnapshots");
	if (!tl->nr_snaps)
		printf("  (none)");
	for (size_t i = 0; i < tl->nr_snaps; i++) {
		const struct snap_point *sp = &tl->snaps[i];
		const char *name = snap_name(sp);
		vms_strbuf_reset(&b);
		vms_strbuf_add_printable(&b, name, strlen(name));
		printf("%s  %.3f s %s%s%s", i % 4 ? "," : i ? ",\n         " : "",
		       (double)sp->t / 1e9,
		       sp->snap && sp->snap->label ? "'" : "", b.s,
		       sp->snap && sp->snap->label ? "'" : "");
	}
	printf("\n");
	vms_strbuf_release(&b);
}

/* ---- csv ------------------------------------------------------------------- */

static void csv_text(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
	}
	putchar('"');
}

static void print_csv(const struct timeline *tl)
{
	size_t i = 0, k = 0;

	printf("time_s,heap_bytes,mmap_bytes,shm_bytes,rss_bytes,"
	       "heap_max_bytes,mmap_max_bytes,shm_max_bytes,snapshot\n");
	/* Event points and snapshots merged by time; a snapshot at the time
	 * of a point shares its row. */
	while (i < tl->n || k < tl->nr_snaps) {
		const struct point *p = NULL, *before;
		const struct snap_point *sp = NULL;
		uint64_t t;

		if (i < tl->n &&
		    (k == tl->nr_snaps || tl->pts[i].t <= tl->snaps[k].t))
			p = &tl->pts[i++];
		if (k < tl->nr_snaps &&
		    (!p || tl->snaps[k].t == p->t))
			sp = &tl->snaps[k++];
		t = p ? p->t : sp->t;
		before = p ? p : &tl->pts[i - 1];
		printf("%.6f", (double)t / 1e9);
		for (int s = 0; s < NSER; s++)
			printf(",%" PRIu64, before->last[s]);
		if (sp && sp->has_rss)
			printf(",%" PRIu64, sp->rss);
		else
			printf(",");
		for (int s = 0; s < NSER; s++)
			printf(",%" PRIu64, p ? p->max[s] : before->last[s]);
		printf(",");
		if (sp)
			csv_text(snap_name(sp));
		printf("\n");
	}
}

/* ---- svg ------------------------------------------------------------------- */

#define W 1000
#define H 560
#define PL 86.0   /* plot left */
#define PR 970.0  /* plot right */
#define PT 96.0   /* plot top */
#define PB 500.0  /* plot bottom */

struct chart {
	double tmax;   /* s at the right edge */
	double ymax;   /* bytes at the top */
};

static double xpos(const struct chart *c, uint64_t t_ns)
{
	return PL + (PR - PL) * ((double)t_ns / 1e9) / c->tmax;
}

static double ypos(const struct chart *c, uint64_t bytes)
{
	return PB - (PB - PT) * (double)bytes / c->ymax;
}

static void svg_text(FILE *f, double x, double y, const char *attrs,
		     const char *text)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	vms_svg_escape(&b, text);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" %s>%s</text>\n", x, y, attrs,
		b.s ? b.s : "");
	vms_strbuf_release(&b);
}

/* One series as a step path, at most one step per pixel column: per
 * column the line goes up to the highest value in it, then to the value
 * live at its end. */
static void svg_series(FILE *f, const struct timeline *tl,
		       const struct chart *c, int s)
{
	char h[VMS_HUMAN_SIZE_MAX];
	double col_x = -1, x;
	uint64_t col_max = 0, col_last = 0;
	bool open = false;

	fprintf(f, "<path class=\"series\" id=\"series-%s\" fill=\"none\" "
		"stroke=\"%s\" stroke-width=\"1.8\" stroke-linejoin=\"round\" "
		"d=\"M%.1f,%.1f", ser_names[s], ser_colors[s], PL, PB);
	for (size_t i = 0; i < tl->n; i++) {
		const struct point *p = &tl->pts[i];
		x = floor(xpos(c, p->t) * 2) / 2; /* half-pixel columns */
		if (open && x != col_x) {
			fprintf(f, " H%.1f V%.1f V%.1f", col_x,
				ypos(c, col_max), ypos(c, col_last));
			open = false;
		}
		if (!open) {
			col_x = x;
			col_max = 0;
			open = true;
		}
		if (p->max[s] > col_max)
			col_max = p->max[s];
		col_last = p->last[s];
	}
	if (open)
		fprintf(f, " H%.1f V%.1f V%.1f", col_x, ypos(c, col_max),
			ypos(c, col_last));
	fprintf(f, " H%.1f\"><title>%s: peak %s</title></path>\n",
		xpos(c, tl->end), ser_names[s],
		vms_human_size(h, sizeof(h), ser_peak(tl, s)->bytes));
}

struct marker {
	double x, y;       /* of the point */
	double ly;         /* of its label */
	const char *color;
	char text[96];
	const char *series;
	uint64_t bytes, t;
};

static int cmp_marker(const void *a, const void *b)
{
	const struct marker *x = a, *y = b;
	return x->y < y->y ? -1 : x->y > y->y;
}

static void svg_markers(FILE *f, struct marker *m, size_t n)
{
	/* Labels above their point, pushed down when they would overlap
	 * the one above them. */
	qsort(m, n, sizeof(*m), cmp_marker);
	for (size_t i = 0; i < n; i++) {
		m[i].ly = m[i].y - 8;
		if (m[i].ly < PT + 12)
			m[i].ly = m[i].y + 16;
		for (size_t j = 0; j < i; j++)
			if (fabs(m[j].ly - m[i].ly) < 14 &&
			    fabs(m[j].x - m[i].x) < 190)
				m[i].ly = m[j].ly + 14;
	}
	for (size_t i = 0; i < n; i++) {
		/* Left of the point when it would run off the chart. */
		bool left = m[i].x + 12 + 7.2 * (double)strlen(m[i].text) >
			    W - 4;
		char attrs[160];
		fprintf(f, "<circle class=\"peak\" data-series=\"%s\" "
			"data-bytes=\"%" PRIu64 "\" data-time-ns=\"%" PRIu64
			"\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" "
			"stroke=\"white\" stroke-width=\"1.5\"><title>%s"
			"</title></circle>\n", m[i].series, m[i].bytes,
			m[i].t, m[i].x, m[i].y, m[i].color, m[i].text);
		snprintf(attrs, sizeof(attrs),
			 "class=\"peak-label\" fill=\"%s\" font-size=\"12\" "
			 "font-weight=\"bold\" text-anchor=\"%s\" "
			 "stroke=\"white\" stroke-width=\"3\" "
			 "paint-order=\"stroke\"",
			 m[i].color, left ? "end" : "start");
		/* A backdrop, so a label over a line stays readable. */
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"15\" fill=\"white\" "
			"fill-opacity=\"0.85\"/>\n",
			left ? m[i].x - 9 - 7.2 * (double)strlen(m[i].text)
			     : m[i].x + 5,
			m[i].ly - 12, 7.2 * (double)strlen(m[i].text) + 4);
		svg_text(f, m[i].x + (left ? -7 : 7), m[i].ly, attrs,
			 m[i].text);
	}
}

static int print_svg(const struct timeline *tl, const char *path)
{
	struct chart c;
	struct marker mk[NSER + 1];
	size_t nmk = 0;
	uint64_t top = 0, ystep;
	double tstep;
	int decimals;
	char h[VMS_HUMAN_SIZE_MAX], buf[256];
	struct vms_strbuf b = VMS_STRBUF_INIT;
	FILE *f = vms_svg_open(path);
	const char *rss_dash;

	if (!f)
		return -1;
	for (int s = 0; s < NSER; s++)
		if (ser_peak(tl, s)->bytes > top)
			top = ser_peak(tl, s)->bytes;
	if (tl->peak_rss > top)
		top = tl->peak_rss;
	ystep = vms_svg_bytes_step(top + top / 12 + 1, 8);
	c.ymax = (double)(((top + top / 12) / ystep + 1) * ystep);
	tstep = vms_svg_step((double)(tl->end ? tl->end : 1) / 1e9, 10);
	c.tmax = ceil((double)(tl->end ? tl->end : 1) / 1e9 / tstep - 1e-9) *
		 tstep;
	decimals = tstep >= 1 ? 0 : (int)ceil(-log10(tstep) - 1e-9);

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n",
		W, H, W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");

	/* Title and subtitle. */
	vms_strbuf_addf(&b, "vmspy timeline: %s (pid %" PRIu64 ")",
			exe_base(tl), tl->rec.meta.pid);
	svg_text(f, PL, 26, "font-size=\"18\" font-weight=\"bold\" "
		 "fill=\"#222\"", b.s);
	vms_strbuf_reset(&b);
	vms_strbuf_addf(&b, "%.3f s%s, %" PRIu64 " events; recording %s",
			(double)tl->end / 1e9,
			tl->state.exited ? "" : " (did not exit cleanly)",
			tl->state.events, tl->rec.path);
	svg_text(f, PL, 46, "font-size=\"12\" fill=\"#666\"", b.s);

	/* Legend. */
	{
		double x = PL;
		for (int s = 0; s <= NSER; s++) {
			const char *name = s < NSER ? ser_names[s] : "Rss";
			const char *color = s < NSER ? ser_colors[s] : RSS_COLOR;
			if (s == NSER && !tl->have_rss)
				break;
			fprintf(f, "<line class=\"legend\" data-series=\"%s\" "
				"x1=\"%.1f\" y1=\"70\" x2=\"%.1f\" y2=\"70\" "
				"stroke=\"%s\" stroke-width=\"3\"%s/>\n",
				s < NSER ? name : "rss", x, x + 22, color,
				s < NSER ? "" : " stroke-dasharray=\"5,3\"");
			snprintf(buf, sizeof(buf), "%s%s", name,
				 s < NSER ? (s == 0 ? " (malloc)"
					     : s == 1 ? " (mmap)"
						      : " (shmat, /dev/shm)")
					  : " (smaps, at snapshots)");
			svg_text(f, x + 28, 74, "font-size=\"12\" fill=\"#222\"",
				 buf);
			x += 28 + 6.8 * (double)strlen(buf) + 30;
		}
	}

	/* Grid and axes. */
	fprintf(f, "<g class=\"y-axis\" font-size=\"11\" fill=\"#444\">\n");
	for (uint64_t v = 0; (double)v <= c.ymax + 0.5; v += ystep) {
		double y = ypos(&c, v);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"/>\n", PL,
			y, PR, y, v ? "#e6e6e6" : "#888");
		svg_text(f, PL - 6, y + 4, "class=\"y-tick\" "
			 "text-anchor=\"end\"",
			 vms_svg_bytes_label(h, sizeof(h), v));
	}
	fprintf(f, "</g>\n<g class=\"x-axis\" font-size=\"11\" "
		"fill=\"#444\">\n");
	for (int i = 0; i * tstep <= c.tmax + tstep * 1e-6; i++) {
		double x = PL + (PR - PL) * i * tstep / c.tmax;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"/>\n", x,
			PT, x, PB + 4, i ? "#f0f0f0" : "#888");
		snprintf(buf, sizeof(buf), "%.*f", decimals, i * tstep);
		svg_text(f, x, PB + 18, "class=\"x-tick\" "
			 "text-anchor=\"middle\"", buf);
	}
	fprintf(f, "</g>\n");
	svg_text(f, (PL + PR) / 2, PB + 40, "font-size=\"12\" fill=\"#222\" "
		 "text-anchor=\"middle\"", "time since start (s)");
	snprintf(buf, sizeof(buf), "translate(18,%.1f) rotate(-90)",
		 (PT + PB) / 2);
	fprintf(f, "<text transform=\"%s\" font-size=\"12\" fill=\"#222\" "
		"text-anchor=\"middle\">bytes live</text>\n", buf);

	/* Labelled snapshots: a dashed line and the label along it. */
	for (size_t i = 0; i < tl->nr_snaps; i++) {
		const struct snap_point *sp = &tl->snaps[i];
		double x;
		if (!sp->snap || !sp->snap->label)
			continue;
		x = xpos(&c, sp->t);
		fprintf(f, "<line class=\"snapshot\" x1=\"%.1f\" y1=\"%.1f\" "
			"x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9467bd\" "
			"stroke-width=\"1\" stroke-dasharray=\"3,3\"/>\n", x,
			PT, x, PB);
		vms_strbuf_reset(&b);
		vms_svg_escape(&b, sp->snap->label);
		fprintf(f, "<text class=\"snapshot-label\" "
			"data-time-ns=\"%" PRIu64 "\" transform=\"translate("
			"%.1f,%.1f) rotate(-90)\" text-anchor=\"end\" "
			"font-size=\"11\" fill=\"#9467bd\">%s</text>\n",
			sp->t, x - 4, PT + 6, b.s);
	}

	/* The series, Rss under the event series. */
	if (tl->have_rss) {
		bool first = true;
		rss_dash = "stroke-dasharray=\"6,4\"";
		fprintf(f, "<path class=\"series\" id=\"series-rss\" "
			"fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" %s "
			"d=\"", RSS_COLOR, rss_dash);
		for (size_t i = 0; i < tl->nr_snaps; i++) {
			const struct snap_point *sp = &tl->snaps[i];
			if (!sp->has_rss)
				continue;
			fprintf(f, "%s%.1f,%.1f", first ? "M" : " L",
				xpos(&c, sp->t), ypos(&c, sp->rss));
			first = false;
		}
		fprintf(f, "\"><title>Rss (sum over smaps regions)</title>"
			"</path>\n");
		for (size_t i = 0; i < tl->nr_snaps; i++) {
			const struct snap_point *sp = &tl->snaps[i];
			const char *name = snap_name(sp);
			if (!sp->has_rss)
				continue;
			vms_strbuf_reset(&b);
			vms_svg_escape(&b, name);
			fprintf(f, "<circle class=\"rss\" data-bytes=\"%" PRIu64
				"\" data-time-ns=\"%" PRIu64 "\" cx=\"%.1f\" "
				"cy=\"%.1f\" r=\"3\" fill=\"white\" "
				"stroke=\"%s\" stroke-width=\"1.5\"><title>"
				"snapshot %zu (%s) at %.3f s: Rss %s</title>"
				"</circle>\n", sp->rss, sp->t,
				xpos(&c, sp->t), ypos(&c, sp->rss), RSS_COLOR,
				sp->index, b.s, (double)sp->t / 1e9,
				vms_human_size(h, sizeof(h), sp->rss));
		}
	}
	for (int s = NSER - 1; s >= 0; s--)
		svg_series(f, tl, &c, s);

	/* Peaks. */
	for (int s = 0; s < NSER; s++) {
		uint64_t pk = ser_peak(tl, s)->bytes, t = peak_time(tl, s);
		if (!pk)
			continue;
		mk[nmk] = (struct marker){ xpos(&c, t), ypos(&c, pk), 0,
					   ser_colors[s], "", ser_names[s],
					   pk, t };
		snprintf(mk[nmk].text, sizeof(mk[nmk].text),
			 "%s peak %s at %.3f s", ser_names[s],
			 vms_human_size(h, sizeof(h), pk), (double)t / 1e9);
		nmk++;
	}
	if (tl->have_rss && tl->peak_rss) {
		mk[nmk] = (struct marker){ xpos(&c, tl->peak_rss_t),
					   ypos(&c, tl->peak_rss), 0,
					   RSS_COLOR, "", "rss",
					   tl->peak_rss, tl->peak_rss_t };
		snprintf(mk[nmk].text, sizeof(mk[nmk].text),
			 "Rss peak %s at %.3f s",
			 vms_human_size(h, sizeof(h), tl->peak_rss),
			 (double)tl->peak_rss_t / 1e9);
		nmk++;
	}
	svg_markers(f, mk, nmk);

	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"fill=\"none\" stroke=\"#888\"/>\n</svg>\n", PL, PT, PR - PL,
		PB - PT);
	vms_strbuf_release(&b);
	return vms_svg_close(f, path);
}

int cmd_timeline(int argc, char **argv)
{
	struct timeline tl;
	const char *path = NULL, *svg = NULL;
	bool csv = false;
	int ret = VMS_EXIT_OK;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--csv")) {
			csv = true;
		} else if (!strcmp(a, "--svg")) {
			if (i + 1 >= argc)
				return vms_usage_error(USAGE, "timeline: --svg "
						       "needs a file name");
			svg = argv[++i];
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: vmspy %s\n\n"
			       "Memory over time: heap, mmap and shm live bytes "
			       "from the events, Rss from\nthe snapshots; peaks "
			       "and vmspy_snapshot() labels.\n"
			       "  (default)   peaks, when, at exit, one ASCII "
			       "strip per series\n"
			       "  --svg FILE  a standalone SVG chart ('-' for "
			       "stdout)\n"
			       "  --csv       one row per time point (clock tick):"
			       " live at its end,\n"
			       "              highest within it (*_max_bytes), "
			       "Rss at snapshots\n", USAGE);
			return VMS_EXIT_OK;
		} else if (a[0] == '-' && a[1]) {
			return vms_usage_error(USAGE, "timeline: unknown "
					       "option '%s'", a);
		} else if (path) {
			return vms_usage_error(USAGE, "timeline: unexpected "
					       "argument '%s'", a);
		} else {
			path = a;
		}
	}
	if (!path)
		return vms_usage_error(USAGE, "timeline: no recording given");
	if (csv && svg && !strcmp(svg, "-"))
		return vms_usage_error(USAGE, "timeline: --csv and --svg - "
				       "both want stdout");

	memset(&tl, 0, sizeof(tl));
	if (vms_recording_open(&tl.rec, path))
		return VMS_EXIT_USAGE;
	tl.start = tl.rec.meta.start_monotonic_ns;
	VMS_GROW(tl.pts, tl.alloc, 1);
	memset(&tl.pts[0], 0, sizeof(tl.pts[0]));
	tl.n = 1;
	vms_replay_init(&tl.replay, &tl.rec);
	vms_state_init(&tl.state, tl.rec.meta.page_size, tl.rec.meta.pid);
	tl.state.sample_bytes = tl.rec.meta.sample_bytes;
	tl.replay.hint = vms_state_hint;
	tl.replay.hint_ctx = &tl.state;
	vms_replay_run(&tl.replay, on_event, &tl);
	load_snapshots(&tl);

	if (svg && print_svg(&tl, svg))
		ret = VMS_EXIT_USAGE;
	if (csv)
		print_csv(&tl);
	else if (!svg || strcmp(svg, "-"))
		print_text(&tl);
	if (fflush(stdout))
		ret = VMS_EXIT_USAGE;

	free(tl.pts);
	free(tl.snaps);
	vms_state_release(&tl.state);
	vms_replay_release(&tl.replay);
	vms_recording_release(&tl.rec);
	return ret;
}
