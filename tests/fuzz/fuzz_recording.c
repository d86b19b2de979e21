/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the analyzer's reader: a recording is hostile input
 * (format.h, issue 7).  One fuzz input is a whole recording packed as
 *
 *	entry*      entry = tag (1 byte), length (LEB128 varint), bytes
 *
 * where tag % 12 picks the file: 0 meta, 1 log.0, 2 log.1, 3 log.2,
 * 4 snap.0, 5 snap.1, 6 leaks, 7 log.3, 8..11 the sidecars log.0.z ..
 * log.3.z of compressed chunks (a later entry with the same tag
 * replaces the earlier one; a length past the end of the input is cut to
 * what is left).  tests/fuzz/pack.py turns a real recording into such an
 * input (the committed corpus is made that way).
 *
 * Each input is written into a private temporary directory and read the way
 * the reports read it: vms_recording_open, every snapshot parsed with its
 * smaps, the leaks file, a full replay into the live state (on one thread,
 * with the helper thread, and with the heap events in short form: the
 * three must agree), then the
 * commands themselves (summary --json and text, leaks --json, maps --json,
 * timeline --csv, flame, diff of the recording against itself) with stdout
 * sent to /dev/null.  Symbolization is cut off at vms_symtab_new (linked
 * with -Wl,--wrap=vms_symtab_new): it would open whatever host files the
 * snapshot names, which is slow and not what is fuzzed here.
 *
 * Must never: crash, read out of bounds, leak, hang, or allocate without a
 * bound (libFuzzer's -rss_limit_mb / -malloc_limit_mb catch that).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "commands.h"
#include "leakfile.h"
#include "recording.h"
#include "replay.h"
#include "state.h"
#include "symbols.h"

#define NR_FILES 12
static const char *const file_names[NR_FILES] = {
	"meta", "log.0", "log.1", "log.2", "snap.0", "snap.1", "leaks", "log.3",
	"log.0.z", "log.1.z", "log.2.z", "log.3.z",
};

static char dir[256];

struct vms_symtab;
struct vms_symtab *__wrap_vms_symtab_new(const struct vms_module_desc *mods,
					 size_t n);
struct vms_symtab *__wrap_vms_symtab_new(const struct vms_module_desc *mods,
					 size_t n)
{
	(void)mods;
	(void)n;
	return NULL;
}

static void cleanup(void)
{
	char p[512];
	for (int i = 0; i < NR_FILES; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, file_names[i]);
		unlink(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("FUZZ_TMPDIR");
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/vmspy-fuzz.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		perror("fuzz_recording: mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	/* The reports print; the fuzzer only cares that they survive. */
	int fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		fflush(stdout);
		dup2(fd, 1);
		close(fd);
	}
	return 0;
}

static size_t get_varint(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	unsigned shift = 0;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
	}
	return v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

static void write_file(const char *name, const uint8_t *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w <= 0)
			abort();
		data += w;
		len -= (size_t)w;
	}
	close(fd);
}

static int on_event(const struct vms_event *ev, void *ctx)
{
	vms_state_apply(ctx, ev);
	return 0;
}

static int on_heap(const struct vms_heap_event *ev, size_t n, uint32_t lane,
		   void *ctx)
{
	for (size_t i = 0; i < n; i++)
		vms_state_apply_heap(ctx, &ev[i], lane);
	return 0;
}

static void read_directly(void)
{
	struct vms_recording rec;
	if (vms_recording_open(&rec, dir))
		return;
	for (size_t i = 0; i < rec.nr_snaps; i++) {
		vms_recording_snapshot(&rec, i, false);
		vms_recording_snapshot(&rec, i, true);
	}
	struct vms_leakfile lf;
	memset(&lf, 0, sizeof(lf));
	if (vms_leakfile_read(&lf, &rec) == 0 && lf.nr)
		vms_leakfile_lookup(&lf, lf.entries[0].addr + 1);
	vms_leakfile_release(&lf);

	/* The replay on one thread, with a helper thread, and with the heap
	 * events in short form must agree. */
	struct vms_replay rp[3];
	struct vms_state st[3];
	for (int t = 0; t < 3; t++) {
		setenv("VMSPY_ANALYZER_THREADS", t == 1 ? "2" : "1", 1);
		vms_replay_init(&rp[t], &rec);
		vms_state_init(&st[t], rec.meta.page_size, rec.meta.pid);
		if (t == 2)
			vms_replay_run_heap(&rp[t], on_event, on_heap, &st[t]);
		else
			vms_replay_run(&rp[t], on_event, &st[t]);
	}
	unsetenv("VMSPY_ANALYZER_THREADS");
	for (int t = 1; t < 3; t++) {
		if (rp[0].events != rp[t].events ||
		    rp[0].nr_damage != rp[t].nr_damage ||
		    vms_stacks_count(&rp[0].stacks) !=
			    vms_stacks_count(&rp[t].stacks) ||
		    st[0].heap_bytes != st[t].heap_bytes ||
		    st[0].heap.count != st[t].heap.count ||
		    st[0].mmap_bytes != st[t].mmap_bytes ||
		    st[0].peak_heap.seq != st[t].peak_heap.seq ||
		    st[0].last_time_ns != st[t].last_time_ns ||
		    memcmp(st[0].calls, st[t].calls, sizeof(st[0].calls)))
			abort();
		for (size_t i = 0; i < rp[0].nr_damage; i++)
			if (rp[0].damage[i].lane != rp[t].damage[i].lane ||
			    strcmp(rp[0].damage[i].message,
				   rp[t].damage[i].message))
				abort();
	}
	for (int t = 0; t < 3; t++) {
		vms_state_release(&st[t]);
		vms_replay_release(&rp[t]);
	}
	vms_recording_release(&rec);
}

static void run_cmd(int (*fn)(int, char **), const char *a0, const char *a1,
		    const char *a2, const char *a3)
{
	char *argv[6] = { (char *)a0, dir, (char *)a1, (char *)a2,
			  (char *)a3, NULL };
	int argc = 2 + !!a1 + !!a2 + !!a3;
	fn(argc, argv);
	fflush(stdout);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	const uint8_t *file[NR_FILES] = { 0 };
	size_t len[NR_FILES] = { 0 };
	bool present[NR_FILES] = { 0 };

	while (p < end) {
		unsigned tag = *p++ % NR_FILES;
		size_t n = get_varint(&p, end);
		if (n > (size_t)(end - p))
			n = (size_t)(end - p);
		file[tag] = p;
		len[tag] = n;
		present[tag] = true;
		p += n;
	}
	cleanup();
	if (mkdir(dir, 0700))
		abort();
	for (int i = 0; i < NR_FILES; i++)
		if (present[i])
			write_file(file_names[i], file[i], len[i]);

	read_directly();
	run_cmd(cmd_summary, "summary", "--json", NULL, NULL);
	run_cmd(cmd_summary, "summary", NULL, NULL, NULL);
	run_cmd(cmd_leaks, "leaks", "--json", "--show-reachable", NULL);
	run_cmd(cmd_maps, "maps", "--json", NULL, NULL);
	run_cmd(cmd_maps, "maps", "--by", "site", NULL);
	run_cmd(cmd_timeline, "timeline", "--csv", NULL, NULL);
	run_cmd(cmd_flame, "flame", "--metric", "leaked", NULL);
	{
		char *argv[] = { "diff", dir, dir, "--json", NULL };
		cmd_diff(4, argv);
		fflush(stdout);
	}
	return 0;
}
