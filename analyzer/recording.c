/* SPDX-License-Identifier: MIT */
/*
 * Opening a recording directory: parse `meta`, find `log.<n>` and `snap.<n>`,
 * map every log read-only and check its header.  Records inside the logs
 * are decoded by logreader.c; snapshots are parsed by snapshot.c on demand.
 */
#include "recording.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define META_MAX (16u << 20)
#define SNAP_MAX (1u << 30)
#define ARGV_MAX (1u << 20)

/* Read a whole regular file below dirfd into a NUL-terminated buffer. */
static int read_file_at(const struct vms_recording *rec, const char *name,
			size_t max, char **out, size_t *len)
{
	struct stat st;
	size_t n = 0, alloc;
	char *buf;
	int fd;

	/* O_NONBLOCK: a FIFO planted in a recording must not hang the open
	 * (the S_ISREG check below then rejects it). */
	fd = openat(rec->dirfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && !strcmp(name, "meta"))
		return vms_error("recording '%s': no 'meta' file (not a vmspy "
				 "recording?)", rec->path);
	if (fd < 0)
		return vms_error("recording '%s': cannot open '%s': %s",
				 rec->path, name, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return vms_error("recording '%s': '%s' is not a regular file",
				 rec->path, name);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return vms_error("recording '%s': '%s' is too large (%lld bytes)",
				 rec->path, name, (long long)st.st_size);
	}
	alloc = (size_t)st.st_size + 1;
	buf = xmalloc(alloc);
	for (;;) {
		ssize_t r = read(fd, buf + n, alloc - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return vms_error("recording '%s': cannot read '%s': %s",
					 rec->path, name, strerror(e));
		}
		if (r == 0 || (n += (size_t)r) == alloc - 1)
			break;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int meta_fail(const struct vms_recording *rec, size_t at,
		     const char *what)
{
	return vms_error("recording '%s': 'meta' corrupt at offset %zu: %s",
			 rec->path, at, what);
}

static int meta_number(const struct vms_recording *rec, size_t at,
		       const char *value, uint64_t *out)
{
	if (vms_parse_number(value, out))
		return meta_fail(rec, at, "bad number");
	return 0;
}

static int meta_line(struct vms_recording *rec, size_t at, const char *key,
		     char *value)
{
	struct vms_meta *m = &rec->meta;
	char **str = NULL;
	uint64_t *num = NULL, v;

	if (!strcmp(key, "vmspy_version"))
		str = &m->vmspy_version;
	else if (!strcmp(key, "exe"))
		str = &m->exe;
	else if (!strcmp(key, "parent"))
		str = &m->parent;
	else if (!strcmp(key, "predecessor"))
		str = &m->predecessor;
	else if (!strcmp(key, "pid"))
		num = &m->pid;
	else if (!strcmp(key, "ppid"))
		num = &m->ppid;
	else if (!strcmp(key, "start_realtime_ns"))
		num = &m->start_realtime_ns;
	else if (!strcmp(key, "start_monotonic_ns"))
		num = &m->start_monotonic_ns;
	else if (!strcmp(key, "page_size"))
		num = &m->page_size;
	else if (!strcmp(key, "depth"))
		num = &m->depth;
	else if (!strcmp(key, "interval_ms"))
		num = &m->interval_ms;
	else if (!strcmp(key, "sample_bytes"))
		num = &m->sample_bytes;

	if (str) {
		free(*str);
		*str = value;
		return 0;
	}
	if (num) {
		int r = meta_number(rec, at, value, num);
		free(value);
		return r;
	}
	if (!strcmp(key, "compress")) {
		m->compress = true;
		free(value);
		return 0;
	}
	if (!strcmp(key, "argv_redacted")) {
		int r = meta_number(rec, at, value, &v);
		free(value);
		m->argv_redacted = v != 0;
		return r;
	}
	if (!strcmp(key, "argc") || !strcmp(key, "argv")) {
		char *text = value, *sp;
		bool is_argv = !strcmp(key, "argv");

		if (is_argv) {
			sp = strchr(value, ' ');
			if (!sp) {
				free(value);
				return meta_fail(rec, at, "bad argv line");
			}
			*sp = '\0';
			text = sp + 1;
		}
		if (vms_parse_number(value, &v) || v >= ARGV_MAX) {
			free(value);
			return meta_fail(rec, at, is_argv ? "bad argv index"
							  : "bad argc");
		}
		if (v + is_argv > m->argc) {
			m->argv = xrealloc_array(m->argv, v + is_argv,
						 sizeof(*m->argv));
			memset(m->argv + m->argc, 0,
			       (v + is_argv - m->argc) * sizeof(*m->argv));
			m->argc = v + is_argv;
		}
		if (is_argv) {
			free(m->argv[v]);
			m->argv[v] = xstrdup(text);
		}
	}
	/* Unknown keys are room for later versions: ignored. */
	free(value);
	return 0;
}

static int parse_meta(struct vms_recording *rec)
{
	const char *first = "vmspy-recording ";
	char *text, *line, *nl;
	size_t len, pos;
	uint64_t version;

	if (read_file_at(rec, "meta", META_MAX, &text, &len))
		return -1;
	rec->meta.page_size = 4096;
	nl = memchr(text, '\n', len);
	if (!nl || strncmp(text, first, strlen(first))) {
		free(text);
		return vms_error("recording '%s': 'meta' does not start with "
				 "'vmspy-recording %d' (not a vmspy recording?)",
				 rec->path, VMS_FORMAT_VERSION);
	}
	*nl = '\0';
	if (vms_parse_number(text + strlen(first), &version) ||
	    version != VMS_FORMAT_VERSION) {
		char *shown = vms_printable(text + strlen(first),
					    strlen(text + strlen(first)));
		vms_error("recording '%s': 'meta' has format version '%s', "
			  "this vmspy reads %d", rec->path, shown,
			  VMS_FORMAT_VERSION);
		free(shown);
		free(text);
		return -1;
	}
	/* A last line without '\n' was cut short while it was written. */
	for (pos = (size_t)(nl - text) + 1;
	     pos < len && (nl = memchr(text + pos, '\n', len - pos));
	     pos = (size_t)(nl - text) + 1) {
		char *sp, *value;
		size_t bad;

		line = text + pos;
		*nl = '\0';
		if (memchr(line, '\0', (size_t)(nl - line)))
			goto bad_nul;
		if (!*line)
			continue;
		sp = strchr(line, ' ');
		if (sp)
			*sp = '\0';
		value = vms_unescape(sp ? sp + 1 : "", sp ? strlen(sp + 1) : 0,
				     &bad);
		if (!value) {
			meta_fail(rec, (size_t)(sp + 1 - text) + bad,
				  "bad escape");
			free(text);
			return -1;
		}
		if (meta_line(rec, pos, line, value)) {
			free(text);
			return -1;
		}
	}
	free(text);
	if (!rec->meta.page_size ||
	    (rec->meta.page_size & (rec->meta.page_size - 1)))
		return vms_error("recording '%s': 'meta' has page_size %llu, "
				 "not a power of two", rec->path,
				 (unsigned long long)rec->meta.page_size);
	return 0;
bad_nul:
	meta_fail(rec, pos, "NUL byte in a line");
	free(text);
	return -1;
}

/* "log.<n>" / "snap.<n>" with n decimal without leading zeros, fits u32. */
static bool numbered_name(const char *name, const char *prefix, uint32_t *n)
{
	size_t pl = strlen(prefix);
	uint64_t v;

	if (strncmp(name, prefix, pl))
		return false;
	name += pl;
	if (!*name || (name[0] == '0' && name[1]) || *name < '0' ||
	    *name > '9' || vms_parse_number(name, &v) || v > UINT32_MAX)
		return false;
	*n = (uint32_t)v;
	return true;
}

static int cmp_log(const void *a, const void *b)
{
	const struct vms_logfile *x = a, *y = b;
	return (x->lane > y->lane) - (x->lane < y->lane);
}

static int cmp_snap(const void *a, const void *b)
{
	const struct vms_snapfile *x = a, *y = b;
	return (x->index > y->index) - (x->index < y->index);
}

static int scan_dir(struct vms_recording *rec)
{
	size_t alloc_logs = 0, alloc_snaps = 0;
	struct dirent *de;
	DIR *dir;
	int fd;
	uint32_t n;

	fd = dup(rec->dirfd);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return vms_error("recording '%s': cannot list: %s", rec->path,
				 strerror(errno));
	}
	while ((de = readdir(dir))) {
		if (numbered_name(de->d_name, "log.", &n)) {
			VMS_GROW(rec->logs, alloc_logs, rec->nr_logs + 1);
			memset(&rec->logs[rec->nr_logs], 0, sizeof(*rec->logs));
			rec->logs[rec->nr_logs].lane = n;
			snprintf(rec->logs[rec->nr_logs].name,
				 sizeof(rec->logs->name), "log.%u", n);
			rec->nr_logs++;
		} else if (numbered_name(de->d_name, "snap.", &n)) {
			VMS_GROW(rec->snaps, alloc_snaps, rec->nr_snaps + 1);
			memset(&rec->snaps[rec->nr_snaps], 0,
			       sizeof(*rec->snaps));
			rec->snaps[rec->nr_snaps].index = n;
			snprintf(rec->snaps[rec->nr_snaps].name,
				 sizeof(rec->snaps->name), "snap.%u", n);
			rec->nr_snaps++;
		} else if (!strcmp(de->d_name, "leaks")) {
			rec->has_leaks_file = true;
		}
	}
	closedir(dir);
	if (rec->nr_logs)
		qsort(rec->logs, rec->nr_logs, sizeof(*rec->logs), cmp_log);
	if (rec->nr_snaps)
		qsort(rec->snaps, rec->nr_snaps, sizeof(*rec->snaps), cmp_snap);
	return 0;
}

static void log_error(struct vms_logfile *log, const char *fmt, ...)
	VMS_PRINTF(2, 3);
static void log_error(struct vms_logfile *log, const char *fmt, ...)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	va_list ap;

	vms_strbuf_addf(&b, "log '%s' ", log->name);
	va_start(ap, fmt);
	vms_strbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(log->error);
	log->error = b.s;
}

static void map_log(struct vms_recording *rec, struct vms_logfile *log)
{
	struct vms_log_header *h = &log->header;
	struct stat st;
	void *p;
	int fd;

	fd = openat(rec->dirfd, log->name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		log_error(log, "cannot be opened: %s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		log_error(log, "is not a regular file");
		return;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		log_error(log, "is too large");
		return;
	}
	log->size = (size_t)st.st_size;
	if (log->size) {
		p = mmap(NULL, log->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			log_error(log, "cannot be mapped: %s", strerror(errno));
			log->size = 0;
			return;
		}
		log->data = p;
	}
	close(fd);
	if (log->size < VMS_LOG_HEADER_SIZE) {
		log_error(log, "truncated at offset %zu: the header needs %d "
			  "bytes", log->size, VMS_LOG_HEADER_SIZE);
		return;
	}
	memcpy(h, log->data, sizeof(*h));
	if (memcmp(h->magic, VMS_LOG_MAGIC, sizeof(h->magic)))
		log_error(log, "corrupt at offset 0: bad magic (not a vmspy "
			  "log)");
	else if (h->version != VMS_FORMAT_VERSION)
		log_error(log, "corrupt at offset %zu: format version %u, this "
			  "vmspy reads %d",
			  offsetof(struct vms_log_header, version), h->version,
			  VMS_FORMAT_VERSION);
	else if (h->lane != log->lane)
		log_error(log, "corrupt at offset %zu: header says lane %u",
			  offsetof(struct vms_log_header, lane), h->lane);
	else if (rec->meta.pid && h->pid != rec->meta.pid)
		log_error(log, "corrupt at offset %zu: header says pid %llu, "
			  "meta says %llu",
			  offsetof(struct vms_log_header, pid),
			  (unsigned long long)h->pid,
			  (unsigned long long)rec->meta.pid);
	else
		vms_chunks_open(log, rec->dirfd, rec->meta.compress);
}

int vms_recording_open(struct vms_recording *rec, const char *path)
{
	memset(rec, 0, sizeof(*rec));
	rec->path = xstrdup(path);
	rec->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rec->dirfd < 0) {
		int e = errno;
		vms_error("recording '%s': %s", path,
			  e == ENOTDIR ? "not a directory" : strerror(e));
		free(rec->path);
		return -1;
	}
	if (parse_meta(rec) || scan_dir(rec)) {
		vms_recording_release(rec);
		return -1;
	}
	for (size_t i = 0; i < rec->nr_logs; i++)
		map_log(rec, &rec->logs[i]);
	return 0;
}

void vms_recording_release(struct vms_recording *rec)
{
	for (size_t i = 0; i < rec->nr_logs; i++) {
		vms_chunks_release(&rec->logs[i]);
		if (rec->logs[i].data)
			munmap((void *)rec->logs[i].data, rec->logs[i].size);
		free(rec->logs[i].error);
	}
	for (size_t i = 0; i < rec->nr_snaps; i++)
		vms_snapshot_release(&rec->snaps[i].snap);
	for (size_t i = 0; i < rec->meta.argc; i++)
		free(rec->meta.argv[i]);
	free(rec->meta.argv);
	free(rec->meta.vmspy_version);
	free(rec->meta.exe);
	free(rec->meta.parent);
	free(rec->meta.predecessor);
	free(rec->logs);
	free(rec->snaps);
	free(rec->snapz_text);
	if (rec->dirfd >= 0)
		close(rec->dirfd);
	free(rec->path);
	memset(rec, 0, sizeof(*rec));
	rec->dirfd = -1;
}

/* A compressed snapshot's reference chain is at most this long (the
 * recorder starts a new chain every 64 snapshots). */
#define SNAPZ_CHAIN_MAX 4096

struct zlink {
	size_t at;       /* index into rec->snaps */
	char *data;      /* the file */
	size_t len;
	size_t frame_at; /* 0: plain text */
};

static void drop_snapz(struct vms_recording *rec)
{
	free(rec->snapz_text);
	rec->snapz_text = NULL;
	rec->snapz_len = 0;
}

static long find_snap(const struct vms_recording *rec, uint32_t index)
{
	size_t lo = 0, hi = rec->nr_snaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rec->snaps[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rec->nr_snaps && rec->snaps[lo].index == index ? (long)lo
								     : -1;
}

/* The text of snaps[i]: *text is the file itself (*owned, free it) or,
 * for a compressed one, rec->snapz_text (decoded with its chain of
 * references, which stays there for the next).  *truncated: a compressed
 * file cut short.  Returns 0, or -1 after vms_error (quietly when a file
 * it depends on was found unreadable before); every file of the chain
 * found unreadable is marked failed. */
static int snap_text(struct vms_recording *rec, size_t i, char **text,
		     size_t *len, bool *owned, bool *truncated)
{
	struct zlink *chain = NULL;
	size_t nr = 0, alloc = 0;
	size_t at = i;
	const char *prefix = NULL;
	size_t prefix_len = 0;
	int ret = -1;
	char *err;

	*truncated = false;
	*owned = false;
	for (;;) {
		struct zlink z = { at, NULL, 0, 0 };
		int64_t ref;
		long r;

		if (rec->snapz_text && rec->snapz_at == at) {
			if (!nr) {
				*text = rec->snapz_text;
				*len = rec->snapz_len;
				*truncated = rec->snapz_cut;
				ret = 0;
				goto out;
			}
			if (rec->snapz_cut) {
				vms_error("recording '%s': snapshot '%s' is "
					  "compressed against '%s', which was "
					  "cut short", rec->path,
					  rec->snaps[chain[nr - 1].at].name,
					  rec->snaps[at].name);
				rec->snaps[chain[nr - 1].at].failed = true;
				goto out;
			}
			prefix = rec->snapz_text;
			prefix_len = rec->snapz_len;
			break;
		}
		if (read_file_at(rec, rec->snaps[at].name, SNAP_MAX, &z.data,
				 &z.len))
			goto out;
		VMS_GROW(chain, alloc, nr + 1);
		chain[nr++] = z;
		if (!vms_snapshot_is_compressed(z.data, z.len)) {
			if (nr == 1) {
				/* plain text: the file is the text */
				*text = z.data;
				*len = z.len;
				*owned = true;
				chain[0].data = NULL;
				ret = 0;
				goto out;
			}
			break;
		}
		if (vms_snapshot_zinfo(rec->snaps[at].name, z.data, z.len,
				       &ref, &chain[nr - 1].frame_at, &err)) {
			vms_error("recording '%s': %s", rec->path, err);
			free(err);
			rec->snaps[at].failed = true;
			goto out;
		}
		if (ref < 0)
			break;
		r = find_snap(rec, (uint32_t)ref);
		if (r >= 0 && rec->snaps[r].failed) {
			/* said already, for the one it depends on */
			rec->snaps[at].failed = true;
			goto out;
		}
		if ((uint64_t)ref >= rec->snaps[at].index || r < 0) {
			vms_error("recording '%s': snapshot '%s' is compressed "
				  "against snapshot %lld, which %s",
				  rec->path, rec->snaps[at].name,
				  (long long)ref,
				  r < 0 ? "does not exist"
					: "does not come before it");
			rec->snaps[at].failed = true;
			goto out;
		}
		if (nr >= SNAPZ_CHAIN_MAX) {
			vms_error("recording '%s': snapshot '%s': more than %d "
				  "references in a row", rec->path,
				  rec->snaps[i].name, SNAPZ_CHAIN_MAX);
			goto out;
		}
		at = (size_t)r;
	}
	/* Decode from the oldest: each text is the next one's reference. */
	for (size_t k = nr; k-- > 0;) {
		struct zlink *z = &chain[k];
		char *out;
		size_t out_len;
		bool cut;

		if (!z->frame_at) {
			/* a plain text reference */
			drop_snapz(rec);
			rec->snapz_text = z->data;
			rec->snapz_len = z->len;
			rec->snapz_at = z->at;
			rec->snapz_cut = false;
			z->data = NULL;
			prefix = rec->snapz_text;
			prefix_len = rec->snapz_len;
			continue;
		}
		if (vms_snapshot_decompress(rec->snaps[z->at].name, z->data,
					    z->len, z->frame_at, prefix,
					    prefix_len, SNAP_MAX, &out,
					    &out_len, &cut, &err)) {
			vms_error("recording '%s': %s", rec->path, err);
			free(err);
			rec->snaps[z->at].failed = true;
			goto out;
		}
		if (cut && k) {
			free(out);
			vms_error("recording '%s': snapshot '%s' is compressed "
				  "against '%s', which was cut short",
				  rec->path, rec->snaps[chain[k - 1].at].name,
				  rec->snaps[z->at].name);
			rec->snaps[chain[k - 1].at].failed = true;
			goto out;
		}
		*truncated = cut;
		drop_snapz(rec);
		rec->snapz_text = out;
		rec->snapz_len = out_len;
		rec->snapz_at = z->at;
		rec->snapz_cut = cut;
		prefix = out;
		prefix_len = out_len;
	}
	*text = rec->snapz_text;
	*len = rec->snapz_len;
	ret = 0;
out:
	for (size_t k = 0; k < nr; k++)
		free(chain[k].data);
	free(chain);
	return ret;
}

const struct vms_snapshot *vms_recording_snapshot(struct vms_recording *rec,
						  size_t i, bool want_smaps)
{
	struct vms_snapfile *sf = &rec->snaps[i];
	int want = want_smaps ? 2 : 1;
	char *text, *err;
	size_t len;
	bool owned, truncated;

	if (sf->loaded >= want)
		return &sf->snap;
	if (sf->failed)
		return NULL;
	vms_snapshot_release(&sf->snap);
	sf->loaded = 0;
	if (snap_text(rec, i, &text, &len, &owned, &truncated)) {
		sf->failed = true;
		return NULL;
	}
	if (vms_snapshot_parse(&sf->snap, sf->name, text, len, want_smaps,
			       &err)) {
		if (truncated)
			vms_error("recording '%s': snapshot '%s' is compressed "
				  "and cut short before its first lines (the "
				  "process was stopped while writing it)",
				  rec->path, sf->name);
		else
			vms_error("recording '%s': %s", rec->path, err);
		free(err);
		if (owned)
			free(text);
		sf->failed = true;
		return NULL;
	}
	if (owned)
		free(text);
	/* A compressed file cut short: what it holds is a prefix. */
	if (truncated)
		sf->snap.interrupted = true;
	sf->snap.index = sf->index;
	sf->loaded = want;
	return &sf->snap;
}
