/* SPDX-License-Identifier: MIT */
/*
 * The `vmspy run` headline (contract in headline.h).  Totals only: no
 * symbols are loaded, so it stays fast on big recordings.
 */
#include "headline.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis.h"
#include "leakset.h"
#include "util.h"

#define MAX_EXEC_CHAIN 64

/* Split a recording path into its directory ("." when none) and its root
 * name: the basename without trailing ".<digits>" components, the part the
 * recorder's sibling names "<root>.<pid>[.<n>]" share. */
static void split_root(const char *path, char **dir, char **root)
{
	const char *slash = strrchr(path, '/');
	char *r, *dot;

	if (slash)
		*dir = slash == path ? xstrdup("/")
				     : xstrndup(path, (size_t)(slash - path));
	else
		*dir = xstrdup(".");
	r = xstrdup(slash ? slash + 1 : path);
	while ((dot = strrchr(r, '.')) && dot != r && dot[1] &&
	       strspn(dot + 1, "0123456789") == strlen(dot + 1))
		*dot = 0;
	*root = r;
}

char *vms_meta_value(const char *rec_path, const char *key)
{
	char buf[16384], *line, *val = NULL;
	struct vms_strbuf path = VMS_STRBUF_INIT;
	size_t klen = strlen(key);
	ssize_t n;
	int fd;

	vms_strbuf_addf(&path, "%s/meta", rec_path);
	fd = open(path.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	vms_strbuf_release(&path);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	for (line = buf; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			size_t len = strcspn(line + klen + 1, "\n"), bad;
			val = vms_unescape(line + klen + 1, len, &bad);
			break;
		}
	}
	return val;
}

static bool same_file(const char *a, const struct stat *b)
{
	struct stat st;
	return !stat(a, &st) && st.st_dev == b->st_dev && st.st_ino == b->st_ino;
}

char *vms_exec_successor(const char *rec_path)
{
	char *dir, *root, *found = NULL;
	struct stat self;
	struct dirent *d;
	size_t rlen;
	DIR *dp;

	if (stat(rec_path, &self))
		return NULL;
	split_root(rec_path, &dir, &root);
	rlen = strlen(root);
	dp = opendir(dir);
	while (dp && !found && (d = readdir(dp))) {
		struct vms_strbuf b = VMS_STRBUF_INIT;
		char *pred, *cand;
		if (strncmp(d->d_name, root, rlen) || d->d_name[rlen] != '.' ||
		    d->d_name[rlen + 1] < '0' || d->d_name[rlen + 1] > '9')
			continue;
		cand = NULL;
		vms_strbuf_addf(&b, "%s/%s", dir, d->d_name);
		if (!(pred = vms_meta_value(b.s, "predecessor"))) {
			vms_strbuf_release(&b);
			continue;
		}
		if (same_file(pred, &self)) {
			cand = b.s;
			/* Not ourselves (a corrupt meta naming itself). */
			if (!same_file(cand, &self))
				found = cand;
			else
				free(cand);
		} else {
			vms_strbuf_release(&b);
		}
		free(pred);
	}
	if (dp)
		closedir(dp);
	free(dir);
	free(root);
	return found;
}

/* Other recordings of the same run (forked children, exec'd images):
 * "<root>.<pid>[.<n>]" next to rec_path. */
static size_t count_others(const char *rec_path)
{
	char *dir, *root;
	struct stat self;
	struct dirent *d;
	size_t n = 0, rlen;
	DIR *dp;

	if (stat(rec_path, &self))
		return 0;
	split_root(rec_path, &dir, &root);
	rlen = strlen(root);
	dp = opendir(dir);
	while (dp && (d = readdir(dp))) {
		struct vms_strbuf b = VMS_STRBUF_INIT;
		if (strncmp(d->d_name, root, rlen) || d->d_name[rlen] != '.' ||
		    d->d_name[rlen + 1] < '0' || d->d_name[rlen + 1] > '9')
			continue;
		vms_strbuf_addf(&b, "%s/%s/meta", dir, d->d_name);
		if (!access(b.s, F_OK)) {
			vms_strbuf_reset(&b);
			vms_strbuf_addf(&b, "%s/%s", dir, d->d_name);
			n += !same_file(b.s, &self);
		}
		vms_strbuf_release(&b);
	}
	if (dp)
		closedir(dp);
	free(dir);
	free(root);
	return n;
}

static void size_line(FILE *f, const char *what, const struct vms_peak *p,
		      const struct vms_analysis *a)
{
	char h[VMS_HUMAN_SIZE_MAX];
	uint64_t start = a->rec.meta.start_monotonic_ns;

	fprintf(f, "vmspy:   %-10s %s", what, vms_human_size(h, sizeof(h),
							      p->bytes));
	if (p->bytes && p->time_ns && start && p->time_ns >= start)
		fprintf(f, " at %.3f s", (double)(p->time_ns - start) / 1e9);
	fprintf(f, "\n");
}

int vms_print_headline(FILE *f, const char *rec_path)
{
	struct vms_analysis a;
	struct vms_leakset ls;
	struct vms_leak_total lost;
	char h[VMS_HUMAN_SIZE_MAX];
	char *shown = vms_printable(rec_path, strlen(rec_path));
	char *last = xstrdup(rec_path), *next;
	size_t children, execs = 0;

	if (vms_analysis_open(&a, rec_path, false)) {
		fprintf(f, "vmspy: no readable recording at %s\n", shown);
		free(shown);
		free(last);
		return -1;
	}
	/* A launcher that exec'd the real program (a shell wrapper, pyenv's
	 * shims): the headline is about the program. */
	while (execs < MAX_EXEC_CHAIN && (next = vms_exec_successor(last))) {
		free(last);
		last = next;
		execs++;
	}
	children = count_others(rec_path);
	fprintf(f, "vmspy: recording %s", shown);
	if (execs) {
		char *s = vms_printable(last, strlen(last));
		vms_analysis_release(&a);
		if (vms_analysis_open(&a, last, false)) {
			fprintf(f, "\nvmspy: no readable recording at %s\n", s);
			free(s);
			free(shown);
			free(last);
			return -1;
		}
		fprintf(f, "; after %zu exec%s: %s", execs,
			execs == 1 ? "" : "s", s);
		free(s);
	}
	if (children)
		fprintf(f, " (+%zu more of child processes and execs: %s.*)",
			children, shown);
	fprintf(f, "\n");
	vms_analysis_run(&a, NULL, NULL);
	if (a.replay.nr_damage)
		fprintf(f, "vmspy:   (%zu damaged log%s: 'vmspy summary' says "
			"more)\n", a.replay.nr_damage,
			a.replay.nr_damage == 1 ? "" : "s");
	size_line(f, "peak heap", &a.state.peak_heap, &a);
	size_line(f, "peak mmap", &a.state.peak_mmap, &a);

	if (vms_leakset_build(&ls, &a)) {
		fprintf(f, "vmspy:   %-10s unknown (bad leaks file)\n", "leaks");
	} else if (ls.scanned) {
		lost = vms_leakset_lost(&ls);
		fprintf(f, "vmspy:   %-10s ", "leaks");
		if (lost.blocks)
			fprintf(f, "%s lost in %llu block%s (definitely + "
				"indirectly)",
				vms_human_size(h, sizeof(h), lost.bytes),
				(unsigned long long)lost.blocks,
				lost.blocks == 1 ? "" : "s");
		else
			fprintf(f, "none lost");
		if (ls.totals[VMS_KIND_POSSIBLE].blocks)
			fprintf(f, ", %s possibly lost",
				vms_human_size(h, sizeof(h),
					       ls.totals[VMS_KIND_POSSIBLE]
						       .bytes));
		fprintf(f, "; details: vmspy leaks %s\n", last);
	} else {
		const struct vms_leak_total *u = &ls.totals[VMS_KIND_UNFREED];
		fprintf(f, "vmspy:   %-10s unknown, no scan (%s); %s unfreed in "
			"%llu block%s\n", "leaks",
			a.state.exited ? "VMSPY_LEAK_SCAN=0 or scan failed"
				       : "no clean exit: crash, kill or _exit",
			vms_human_size(h, sizeof(h), u->bytes),
			(unsigned long long)u->blocks,
			u->blocks == 1 ? "" : "s");
	}
	vms_leakset_release(&ls);
	vms_analysis_release(&a);
	free(shown);
	free(last);
	return 0;
}
