/* SPDX-License-Identifier: MIT */
/*
 * `vmspy leaks REC`: what was still allocated at the end of the recording,
 * by leak kind and call site, biggest first, symbolized, in memcheck's
 * words; LeakSanitizer-style suppressions; an exit code for CI gates.
 *
 * The kinds come from leakset.h (the recorder's exit-time scan joined with
 * the replay).  With suppressions, every site, shown or not, is symbolized
 * once to match them; without, only the sites the report lists (a site
 * nobody sees may sit in a library whose debug info costs more to read
 * than the rest of the report).  The symtab caches each address, so a big
 * recording costs one lookup per distinct return address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "commands.h"
#include "headline.h"
#include "json.h"
#include "leakset.h"
#include "util.h"

#define USAGE                                                               \
	"leaks REC [--json] [--suppressions FILE] [--min-bytes N] "         \
	"[--show-reachable] [--error-exitcode N] [--no-default-suppressions]"
#define MAX_FRAMES 1024 /* symbolized frames per site, inlined included */
#define TEXT_FRAMES 16  /* shown per site in text (memcheck shows 12) */

struct suppression {
	char *text;       /* as written after "leak:", for reports */
	char *glob;       /* '*' wildcards only; anchors turned into '*' */
	const char *file; /* the suppressions file, for messages */
	size_t line;
	struct vms_leak_total hits;
};

struct shown_site {
	const struct vms_leak_site *site;
	struct vms_sym_frame *frames; /* owned copy of the frame array */
	size_t nr_frames;
	bool suppressed;
};

struct leaks {
	struct vms_analysis a;
	struct vms_leakset ls;
	struct suppression *supps;
	size_t nr_supps, alloc_supps;
	/* The built-in rule (unless --no-default-suppressions): blocks the
	 * dynamic loader allocated for itself and that are only possibly
	 * lost.  ld.so keeps interior pointers into its own tables
	 * (_dl_find_object_update keeps an aligned-up pointer into its
	 * segment array), so these are never the program's leaks; memcheck
	 * has a default suppression for them too. */
	struct suppression loader;
	bool loader_rule;
	struct shown_site *sites;
	/* totals without the suppressed sites */
	struct vms_leak_total totals[VMS_KIND__COUNT];
	struct vms_leak_total suppressed;
	uint64_t min_bytes;
	bool show_reachable;
	char *successor;  /* recording of the image this one exec'd, or NULL */
};

/* ---- suppressions ---------------------------------------------------------- */

/* '*' matches any run of bytes (greedy with backtracking to the last star:
 * linear in practice, never exponential); everything else matches itself. */
static bool glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

/* LeakSanitizer's pattern semantics: a substring match, with '*' as a
 * wildcard, '^' anchoring the start and '$' the end. */
static char *pattern_glob(const char *pat)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	size_t len = strlen(pat);
	bool start = pat[0] == '^';
	bool end = len > (size_t)start && pat[len - 1] == '$';

	if (!start)
		vms_strbuf_addc(&b, '*');
	vms_strbuf_add(&b, pat + start, len - start - end);
	if (!end)
		vms_strbuf_addc(&b, '*');
	return b.s;
}

static int load_suppressions(struct leaks *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, nr = 0;
	ssize_t len;
	int ret = 0;

	if (!f)
		return vms_error("cannot read suppressions '%s': %s", path,
				 strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *s = line, *e = line + len;
		nr++;
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' ||
				 e[-1] == ' ' || e[-1] == '\t'))
			*--e = 0;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		if ((size_t)(e - s) != strlen(s)) {
			ret = vms_error("suppressions '%s' line %zu: NUL byte",
					path, nr);
			break;
		}
		if (strncmp(s, "leak:", 5)) {
			char *colon = strchr(s, ':');
			char *what = vms_printable(s, colon ? (size_t)(colon - s)
							    : strlen(s));
			ret = vms_error("suppressions '%s' line %zu: %s '%s' "
					"(only 'leak:<pattern>' lines are "
					"known)", path, nr,
					colon ? "unknown type" : "not a "
								 "suppression",
					what);
			free(what);
			break;
		}
		s += 5;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || !strcmp(s, "^") || !strcmp(s, "$") ||
		    !strcmp(s, "^$")) {
			ret = vms_error("suppressions '%s' line %zu: empty "
					"pattern", path, nr);
			break;
		}
		VMS_GROW(l->supps, l->alloc_supps, l->nr_supps + 1);
		l->supps[l->nr_supps++] = (struct suppression){
			.text = xstrdup(s),
			.glob = pattern_glob(s),
			.file = path,
			.line = nr,
		};
	}
	if (!ret && ferror(f))
		ret = vms_error("cannot read suppressions '%s': %s", path,
				strerror(errno));
	free(line);
	fclose(f);
	return ret;
}

/* The first suppression that matches a function, source file or module
 * name of any frame, or NULL. */
static struct suppression *suppressed_by(struct leaks *l,
					 const struct vms_sym_frame *fr,
					 size_t n)
{
	for (size_t k = 0; k < l->nr_supps; k++) {
		const char *g = l->supps[k].glob;
		for (size_t i = 0; i < n; i++) {
			if ((fr[i].function && glob_match(g, fr[i].function)) ||
			    (fr[i].file && glob_match(g, fr[i].file)) ||
			    (fr[i].module && glob_match(g, fr[i].module)))
				return &l->supps[k];
		}
	}
	return NULL;
}

/* Whether frame f (the allocation's caller) is in the dynamic loader. */
static bool in_loader(const struct vms_sym_frame *f)
{
	const char *m = f->module, *slash;
	if (!m)
		return false;
	slash = strrchr(m, '/');
	if (slash)
		m = slash + 1;
	return !strncmp(m, "ld-linux", 8) || !strncmp(m, "ld64.so", 7) ||
	       !strncmp(m, "ld-musl", 7) || !strcmp(m, "ld.so");
}

/* ---- symbolize and filter -------------------------------------------------- */

static void add_total(struct vms_leak_total *t, const struct vms_leak_site *s)
{
	t->bytes += s->bytes;
	t->blocks += s->blocks;
}

/* Sites listed in detail (what a suppression did not hide). */
static bool listed(const struct leaks *l, const struct vms_leak_site *site,
		   bool json)
{
	if (site->bytes < l->min_bytes)
		return false;
	/* Like memcheck without --show-leak-kinds=all; tools get all. */
	return json || l->show_reachable || site->kind != VMS_KIND_REACHABLE;
}

/* Symbolize the sites: all of them when there are suppressions to match,
 * else only those the report lists (symbols of a big library's debug info
 * cost more than the rest of a report). */
static void resolve_sites(struct leaks *l, bool json)
{
	static struct vms_sym_frame buf[MAX_FRAMES];

	l->sites = xcalloc(l->ls.nr_sites ? l->ls.nr_sites : 1,
			   sizeof(*l->sites));
	for (size_t i = 0; i < l->ls.nr_sites; i++) {
		const struct vms_leak_site *site = &l->ls.sites[i];
		struct shown_site *sh = &l->sites[i];
		struct suppression *sup;
		size_t n = 0, nraw;
		const uint64_t *raw = vms_stacks_get(&l->a.replay.stacks,
						     site->stack, &nraw);

		sh->site = site;
		if (!l->nr_supps && !listed(l, site, json)) {
			add_total(&l->totals[site->kind], site);
			continue;
		}
		if (l->a.syms) {
			n = vms_symbolize_stack(l->a.syms, raw, nraw, buf,
						MAX_FRAMES);
		} else {
			for (; n < nraw && n < MAX_FRAMES; n++)
				buf[n] = (struct vms_sym_frame){
					.address = raw[n] };
		}
		sh->nr_frames = n;
		sh->frames = xrealloc_array(NULL, n ? n : 1, sizeof(*buf));
		memcpy(sh->frames, buf, n * sizeof(*buf));
		sup = suppressed_by(l, buf, n);
		if (!sup && l->loader_rule && site->kind == VMS_KIND_POSSIBLE &&
		    n && in_loader(&buf[0]))
			sup = &l->loader;
		if (sup) {
			sh->suppressed = true;
			add_total(&sup->hits, site);
			add_total(&l->suppressed, site);
		} else {
			add_total(&l->totals[site->kind], site);
		}
	}
}

static bool detailed(const struct leaks *l, const struct shown_site *sh,
		     bool json)
{
	return !sh->suppressed && listed(l, sh->site, json);
}

/* Why there is no scan, for "unfreed (no scan: ...)". */
static const char *no_scan_reason(const struct leaks *l)
{
	if (l->ls.scan_interrupted)
		return "the leak scan at exit was interrupted";
	if (!l->a.state.exited && l->successor)
		return "the process replaced this image with exec";
	if (!l->a.state.exited)
		return "the process did not exit cleanly: crash, kill or _exit";
	return "the recording has no leak scan (VMSPY_LEAK_SCAN=0, or the "
	       "scan failed)";
}

/* ---- text ------------------------------------------------------------------ */

/* 1234567 -> "1,234,567" (memcheck's style). */
static const char *commas(char *buf, size_t size, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	size_t o = 0;
	for (int i = 0; i < n && o + 1 < size; i++) {
		if (i && (n - i) % 3 == 0 && o + 2 < size)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

static void print_frame(const struct vms_sym_frame *f, bool first)
{
	char buf[1024];
	vms_sym_frame_format(f, buf, sizeof(buf));
	printf("    %s %s%s\n", first ? "at" : "by", buf,
	       f->inlined ? " [inlined]" : "");
}

static void print_site(const struct shown_site *sh)
{
	char b[32], n[32];
	const struct vms_leak_site *s = sh->site;

	if (s->kind == VMS_KIND_UNFREED)
		printf("%s bytes in %s blocks are unfreed\n",
		       commas(b, sizeof(b), s->bytes),
		       commas(n, sizeof(n), s->blocks));
	else
		printf("%s bytes in %s blocks are %s\n",
		       commas(b, sizeof(b), s->bytes),
		       commas(n, sizeof(n), s->blocks),
		       vms_leak_kind_words[s->kind]);
	if (!sh->nr_frames)
		printf("    (no stack recorded)\n");
	for (size_t i = 0; i < sh->nr_frames; i++) {
		const struct vms_sym_frame *f = &sh->frames[i];
		if (i == TEXT_FRAMES) {
			printf("    ... %zu more frames\n",
			       sh->nr_frames - TEXT_FRAMES);
			break;
		}
		print_frame(f, i == 0);
		/* What runs main (libc's start code) says nothing: stop
		 * there, like memcheck's default --show-below-main=no. */
		if (f->function && !f->inlined && !strcmp(f->function, "main"))
			break;
	}
	printf("\n");
}

static void total_line(const char *words, const struct vms_leak_total *t,
		       const char *rest)
{
	char b[32], n[32];
	printf("  %17s: %s bytes in %s blocks%s\n", words,
	       commas(b, sizeof(b), t->bytes), commas(n, sizeof(n), t->blocks),
	       rest);
}

static void print_text(struct leaks *l)
{
	const struct vms_state *st = &l->a.state;
	const struct vms_meta *m = &l->a.rec.meta;
	struct vms_strbuf b = VMS_STRBUF_INIT;
	size_t hidden_small = 0, hidden_reachable = 0, shown = 0;
	char rest[256];

	for (size_t i = 0; i < l->a.replay.nr_damage; i++)
		printf("warning: %s\n", l->a.replay.damage[i].message);
	if (st->disabled_lanes)
		printf("warning: the recorder stopped writing %llu log(s): "
		       "blocks freed later look unfreed\n",
		       (unsigned long long)st->disabled_lanes);

	vms_strbuf_add_printable(&b, l->a.rec.path, strlen(l->a.rec.path));
	printf("recording %s", b.s);
	vms_strbuf_reset(&b);
	if (m->exe) {
		vms_strbuf_add_printable(&b, m->exe, strlen(m->exe));
		printf(" (%s, pid %llu)", b.s, (unsigned long long)m->pid);
	}
	if (st->exited && l->ls.scanned)
		printf(": exited (status %lld), leak scan at exit\n\n",
		       (long long)st->exit_status);
	else if (st->exited)
		printf(": exited (status %lld), no leak scan\n\n",
		       (long long)st->exit_status);
	else if (l->successor) {
		vms_strbuf_reset(&b);
		vms_strbuf_add_printable(&b, l->successor,
					 strlen(l->successor));
		printf(": exec'd another image, recorded in %s\n\n", b.s);
	} else
		printf(": did not exit cleanly (crashed, killed or still "
		       "running)%s\n\n",
		       l->ls.scanned ? "; leak scan at exit" : "");
	vms_strbuf_release(&b);

	for (size_t i = 0; i < l->ls.nr_sites; i++) {
		const struct shown_site *sh = &l->sites[i];
		if (detailed(l, sh, false)) {
			print_site(sh);
			shown++;
		} else if (!sh->suppressed && sh->site->bytes < l->min_bytes) {
			hidden_small++;
		} else if (!sh->suppressed) {
			hidden_reachable++;
		}
	}
	if (!shown)
		printf("no %s\n\n", l->ls.scanned ? "leaks" : "unfreed blocks");

	printf("LEAK SUMMARY\n");
	if (l->ls.scanned) {
		for (int k = VMS_KIND_DEFINITE; k <= VMS_KIND_REACHABLE; k++) {
			rest[0] = 0;
			if (k == VMS_KIND_REACHABLE && l->ls.unscanned.blocks) {
				char bb[32], nb[32];
				snprintf(rest, sizeof(rest),
					 " (%s bytes in %s blocks allocated "
					 "after the scan, by exit-time code)",
					 commas(bb, sizeof(bb),
						l->ls.unscanned.bytes),
					 commas(nb, sizeof(nb),
						l->ls.unscanned.blocks));
			}
			total_line(vms_leak_kind_words[k], &l->totals[k], rest);
		}
	}
	if (!l->ls.scanned || l->totals[VMS_KIND_UNFREED].blocks) {
		snprintf(rest, sizeof(rest), " (no scan: %s)",
			 no_scan_reason(l));
		total_line("unfreed", &l->totals[VMS_KIND_UNFREED], rest);
	}
	total_line("suppressed", &l->suppressed, "");

	if (hidden_reachable)
		printf("%zu still reachable site%s not shown "
		       "(--show-reachable lists them)\n", hidden_reachable,
		       hidden_reachable == 1 ? "" : "s");
	if (hidden_small)
		printf("%zu site%s under %llu bytes not shown (--min-bytes)\n",
		       hidden_small, hidden_small == 1 ? "" : "s",
		       (unsigned long long)l->min_bytes);
	for (size_t k = 0; k < l->nr_supps; k++) {
		const struct suppression *s = &l->supps[k];
		char bb[32], nb[32];
		if (!s->hits.blocks)
			continue;
		vms_strbuf_reset(&b);
		vms_strbuf_add_printable(&b, s->text, strlen(s->text));
		printf("used suppression leak:%s (%s:%zu): %s bytes in %s "
		       "blocks\n", b.s, s->file, s->line,
		       commas(bb, sizeof(bb), s->hits.bytes),
		       commas(nb, sizeof(nb), s->hits.blocks));
	}
	if (l->loader.hits.blocks) {
		char bb[32], nb[32];
		printf("used built-in suppression (%s): %s bytes in %s blocks "
		       "(--no-default-suppressions shows them)\n",
		       l->loader.text,
		       commas(bb, sizeof(bb), l->loader.hits.bytes),
		       commas(nb, sizeof(nb), l->loader.hits.blocks));
	}
	vms_strbuf_release(&b);
	if (!l->ls.scanned && l->totals[VMS_KIND_UNFREED].blocks &&
	    !l->a.state.exited && l->successor)
		printf("not leaks (exit status 0): exec discards the whole "
		       "address space\n");
	else if (!l->ls.scanned && l->totals[VMS_KIND_UNFREED].blocks)
		printf("not counted as leaks (exit status 0): without a scan "
		       "at a clean exit, vmspy cannot tell which of them were "
		       "still in use\n");
}

/* ---- json ------------------------------------------------------------------ */

static void json_total(struct vms_json *j, const char *key,
		       const struct vms_leak_total *t)
{
	vms_json_object_begin(j, key);
	vms_json_u64(j, "bytes", t->bytes);
	vms_json_u64(j, "blocks", t->blocks);
	vms_json_object_end(j);
}

static void json_str(struct vms_json *j, const char *key, const char *s)
{
	if (s)
		vms_json_string(j, key, s);
	else
		vms_json_null(j, key);
}

static int print_json(struct leaks *l)
{
	const struct vms_state *st = &l->a.state;
	struct vms_json j;

	vms_json_init(&j, stdout);
	vms_json_object_begin(&j, NULL);
	vms_json_string(&j, "recording", l->a.rec.path);
	json_str(&j, "exe", l->a.rec.meta.exe);
	vms_json_u64(&j, "pid", l->a.rec.meta.pid);
	vms_json_bool(&j, "clean_exit", st->exited);
	if (st->exited)
		vms_json_i64(&j, "exit_status", st->exit_status);
	else
		vms_json_null(&j, "exit_status");
	vms_json_bool(&j, "scanned", l->ls.scanned);
	vms_json_bool(&j, "scan_interrupted", l->ls.scan_interrupted);
	json_str(&j, "exec_successor", l->successor);
	if (l->ls.scanned)
		vms_json_u64(&j, "scan_seq", l->ls.scan_seq);
	else
		vms_json_null(&j, "scan_seq");
	for (int k = 0; k < VMS_KIND__COUNT; k++)
		json_total(&j, vms_leak_kind_keys[k], &l->totals[k]);
	json_total(&j, "suppressed", &l->suppressed);
	/* Blocks the scan did not classify (allocated after it): counted in
	 * still_reachable. */
	json_total(&j, "unscanned", &l->ls.unscanned);

	vms_json_array_begin(&j, "suppressions");
	for (size_t k = 0; k < l->nr_supps; k++) {
		vms_json_object_begin(&j, NULL);
		vms_json_string(&j, "pattern", l->supps[k].text);
		vms_json_string(&j, "file", l->supps[k].file);
		vms_json_u64(&j, "line", l->supps[k].line);
		vms_json_u64(&j, "bytes", l->supps[k].hits.bytes);
		vms_json_u64(&j, "blocks", l->supps[k].hits.blocks);
		vms_json_object_end(&j);
	}
	if (l->loader_rule) {
		vms_json_object_begin(&j, NULL);
		vms_json_string(&j, "pattern", l->loader.text);
		vms_json_null(&j, "file");
		vms_json_null(&j, "line");
		vms_json_u64(&j, "bytes", l->loader.hits.bytes);
		vms_json_u64(&j, "blocks", l->loader.hits.blocks);
		vms_json_object_end(&j);
	}
	vms_json_array_end(&j);

	vms_json_array_begin(&j, "sites");
	for (size_t i = 0; i < l->ls.nr_sites; i++) {
		const struct shown_site *sh = &l->sites[i];
		if (!detailed(l, sh, true))
			continue;
		vms_json_object_begin(&j, NULL);
		vms_json_string(&j, "category",
				vms_leak_kind_keys[sh->site->kind]);
		vms_json_u64(&j, "bytes", sh->site->bytes);
		vms_json_u64(&j, "blocks", sh->site->blocks);
		vms_json_array_begin(&j, "frames");
		for (size_t f = 0; f < sh->nr_frames; f++) {
			const struct vms_sym_frame *fr = &sh->frames[f];
			vms_json_object_begin(&j, NULL);
			json_str(&j, "function", fr->function);
			json_str(&j, "file", fr->file);
			if (fr->line)
				vms_json_i64(&j, "line", fr->line);
			else
				vms_json_null(&j, "line");
			json_str(&j, "module", fr->module);
			if (fr->module)
				vms_json_u64(&j, "module_offset",
					     fr->module_offset);
			else
				vms_json_null(&j, "module_offset");
			vms_json_u64(&j, "address", fr->address);
			vms_json_bool(&j, "inlined", fr->inlined);
			vms_json_object_end(&j);
		}
		vms_json_array_end(&j);
		vms_json_object_end(&j);
	}
	vms_json_array_end(&j);

	vms_json_array_begin(&j, "damage");
	for (size_t i = 0; i < l->a.replay.nr_damage; i++)
		vms_json_string(&j, NULL, l->a.replay.damage[i].message);
	vms_json_array_end(&j);
	vms_json_object_end(&j);
	return vms_json_finish(&j);
}

/* ---- command --------------------------------------------------------------- */

static void help(void)
{
	printf("usage: vmspy %s\n\n"
	       "Heap blocks still allocated at the end of a recording, by "
	       "call site,\nbiggest first.  After a clean exit the recorder's "
	       "reachability scan\nsorts them like valgrind memcheck: "
	       "definitely, indirectly or possibly\nlost, or still reachable. "
	       " Without it (crash, kill, VMSPY_LEAK_SCAN=0)\nthey are "
	       "'unfreed', reachability unknown.\n\n"
	       "  --json              a JSON object (all kinds, every site)\n"
	       "  --suppressions FILE LeakSanitizer format: 'leak:<pattern>' "
	       "lines, '#'\n"
	       "                      comments; a pattern matches a "
	       "function, source file\n"
	       "                      or module name of any frame "
	       "(substring, '*' wildcard,\n"
	       "                      '^' and '$' anchors); may be repeated\n"
	       "  --min-bytes N       hide sites under N bytes (totals still "
	       "count them)\n"
	       "  --show-reachable    list still reachable sites too\n"
	       "  --error-exitcode N  exit status when definitely or "
	       "indirectly lost\n"
	       "                      blocks remain (default 1)\n"
	       "  --no-default-suppressions\n"
	       "                      also report possibly lost blocks "
	       "the dynamic loader\n"
	       "                      allocated for itself (hidden by "
	       "default)\n\n"
	       "exit: 0 no lost blocks (unfreed blocks of an unclean exit are "
	       "not called\nleaks), 1 (or N) lost blocks, 2 usage or input "
	       "error\n", USAGE);
}

/* "--opt VALUE" or "--opt=VALUE": the value, or NULL when argv[*i] is not
 * opt.  Sets *missing when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt,
			     bool *missing)
{
	size_t n = strlen(opt);
	if (strncmp(argv[*i], opt, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

int cmd_leaks(int argc, char **argv)
{
	struct leaks l;
	const char *path = NULL;
	const char **supp_files = NULL;
	size_t nr_supp_files = 0, alloc_supp_files = 0;
	uint64_t exitcode = VMS_EXIT_FOUND;
	bool json = false, no_default = false;
	int ret = VMS_EXIT_USAGE;

	memset(&l, 0, sizeof(l));
	for (int i = 1; i < argc; i++) {
		const char *v;
		bool missing = false;
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--show-reachable")) {
			l.show_reachable = true;
		} else if (!strcmp(argv[i], "--no-default-suppressions")) {
			no_default = true;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			help();
			free(supp_files);
			return VMS_EXIT_OK;
		} else if ((v = opt_value(argc, argv, &i, "--suppressions",
					  &missing))) {
			VMS_GROW(supp_files, alloc_supp_files,
				 nr_supp_files + 1);
			supp_files[nr_supp_files++] = v;
		} else if ((v = opt_value(argc, argv, &i, "--min-bytes",
					  &missing))) {
			if (vms_parse_number(v, &l.min_bytes)) {
				free(supp_files);
				return vms_usage_error(USAGE, "leaks: bad "
						       "--min-bytes '%s'", v);
			}
		} else if ((v = opt_value(argc, argv, &i, "--error-exitcode",
					  &missing))) {
			if (vms_parse_number(v, &exitcode) || exitcode > 255) {
				free(supp_files);
				return vms_usage_error(USAGE, "leaks: bad "
						       "--error-exitcode '%s' "
						       "(0-255)", v);
			}
		} else if (missing) {
			free(supp_files);
			return vms_usage_error(USAGE, "leaks: %s needs a value",
					       argv[i]);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			free(supp_files);
			return vms_usage_error(USAGE, "leaks: unknown option "
					       "'%s'", argv[i]);
		} else if (path) {
			free(supp_files);
			return vms_usage_error(USAGE, "leaks: unexpected "
					       "argument '%s'", argv[i]);
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		free(supp_files);
		return vms_usage_error(USAGE, "leaks: no recording given");
	}
	for (size_t k = 0; k < nr_supp_files; k++)
		if (load_suppressions(&l, supp_files[k]))
			goto out_supps;
	l.loader_rule = !no_default;
	l.loader.text = (char *)"possibly lost, allocated by the dynamic loader";

	if (vms_analysis_open(&l.a, path, true))
		goto out_supps;
	l.a.prewarm_symbols = true;
	vms_analysis_run(&l.a, NULL, NULL);
	if (vms_leakset_build(&l.ls, &l.a))
		goto out_analysis;
	resolve_sites(&l, json);
	if (!l.a.state.exited && !l.ls.scanned)
		l.successor = vms_exec_successor(path);

	if (json) {
		if (print_json(&l))
			goto out_all;
	} else {
		print_text(&l);
		if (fflush(stdout)) {
			vms_error("cannot write the report: %s",
				  strerror(errno));
			goto out_all;
		}
	}
	ret = l.totals[VMS_KIND_DEFINITE].blocks ||
			      l.totals[VMS_KIND_INDIRECT].blocks
		      ? (int)exitcode
		      : VMS_EXIT_OK;

out_all:
	free(l.successor);
	for (size_t i = 0; i < l.ls.nr_sites; i++)
		free(l.sites[i].frames);
	free(l.sites);
	vms_leakset_release(&l.ls);
out_analysis:
	vms_analysis_release(&l.a);
out_supps:
	for (size_t k = 0; k < l.nr_supps; k++) {
		free(l.supps[k].text);
		free(l.supps[k].glob);
	}
	free(l.supps);
	free(supp_files);
	return ret;
}
