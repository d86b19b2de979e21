/* SPDX-License-Identifier: MIT */
/*
 * Reader of the `leaks` file (contract in leakfile.h, format in format.h).
 * Every read is bounds-checked against the file size; the file is mapped
 * read-only and only the entries are copied.
 */
#include "leakfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MAGIC "vmspy-leaks "
#define TRAILER "end\n"
#define ENTRY_SIZE 9
#define MAX_LINE 128 /* header lines are short; longer ones are garbage */

struct cursor {
	const uint8_t *data;
	size_t size, pos;
	const char *what;
};

/* The next '\n'-terminated line at c->pos, without its newline, in *line
 * (NUL-terminated, at most MAX_LINE - 1 bytes).  -1 after vms_error. */
static int next_line(struct cursor *c, char line[MAX_LINE])
{
	const uint8_t *nl;
	size_t len;

	nl = memchr(c->data + c->pos, '\n', c->size - c->pos);
	len = nl ? (size_t)(nl - (c->data + c->pos)) : c->size - c->pos;
	if (!nl || len >= MAX_LINE)
		return vms_error("%s corrupt at offset %zu: header line %s",
				 c->what, c->pos,
				 nl ? "too long" : "not terminated");
	if (memchr(c->data + c->pos, 0, len))
		return vms_error("%s corrupt at offset %zu: NUL byte in the "
				 "header", c->what, c->pos);
	memcpy(line, c->data + c->pos, len);
	line[len] = 0;
	return 0;
}

/* A plain decimal number (no sign, no spaces, no hex). */
static int parse_decimal(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct vms_leak_entry *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int vms_leakfile_parse(struct vms_leakfile *lf, const uint8_t *data,
		       size_t size, const char *what)
{
	struct cursor c = { data, size, 0, what };
	char line[MAX_LINE];
	bool have_seq = false, have_blocks = false, sorted = true;
	uint64_t count = 0, version;
	size_t n;

	memset(lf, 0, sizeof(*lf));
	if (!size) {
		/* Created, nothing written: the scan was cut short. */
		lf->interrupted = true;
		return 0;
	}
	/* Anything that does not even start like a leaks file is foreign,
	 * however short: an interrupted write still begins with the magic. */
	if (memcmp(data, MAGIC, size < strlen(MAGIC) ? size : strlen(MAGIC)))
		return vms_error("%s corrupt at offset 0: not a vmspy leaks "
				 "file", what);
	if (size < strlen(MAGIC) + strlen(TRAILER) ||
	    memcmp(data + size - strlen(TRAILER), TRAILER, strlen(TRAILER))) {
		lf->interrupted = true;
		return 0;
	}

	if (next_line(&c, line))
		return -1;
	if (parse_decimal(line + strlen(MAGIC), &version))
		return vms_error("%s corrupt at offset 0: bad first line",
				 what);
	if (version != 1)
		return vms_error("%s: format version %llu, this vmspy reads 1",
				 what, (unsigned long long)version);
	c.pos += strlen(line) + 1;

	/* "key value" lines up to "data"; unknown keys are skipped (room for
	 * later fields), known ones must appear once and parse. */
	for (;;) {
		size_t at = c.pos;
		char *sp;
		if (next_line(&c, line))
			return -1;
		c.pos += strlen(line) + 1;
		if (!strcmp(line, "data"))
			break;
		sp = strchr(line, ' ');
		if (!sp || sp == line)
			return vms_error("%s corrupt at offset %zu: header line "
					 "is not 'key value'", what, at);
		*sp++ = 0;
		if (!strcmp(line, "seq") || !strcmp(line, "blocks")) {
			bool is_seq = line[0] == 's';
			bool *have = is_seq ? &have_seq : &have_blocks;
			uint64_t v;
			if (*have)
				return vms_error("%s corrupt at offset %zu: "
						 "second '%s' line", what, at,
						 line);
			if (parse_decimal(sp, &v))
				return vms_error("%s corrupt at offset %zu: bad "
						 "%s value", what, at, line);
			*have = true;
			if (is_seq)
				lf->seq = v;
			else
				count = v;
		}
	}
	if (!have_seq || !have_blocks)
		return vms_error("%s corrupt at offset %zu: no '%s' line before "
				 "'data'", what, c.pos, have_seq ? "blocks"
								 : "seq");
	if (count > VMS_LEAKFILE_MAX_BLOCKS)
		return vms_error("%s corrupt: block count %llu is not "
				 "plausible", what, (unsigned long long)count);
	/* c.pos <= size - 4 is not known yet: the trailer may overlap the
	 * header in a hostile file. */
	if (c.pos > size - strlen(TRAILER) ||
	    (size - strlen(TRAILER) - c.pos) / ENTRY_SIZE != count ||
	    (size - strlen(TRAILER) - c.pos) % ENTRY_SIZE)
		return vms_error("%s corrupt: %llu blocks declared, but %zu "
				 "bytes of data at offset %zu (%u per block)",
				 what, (unsigned long long)count,
				 c.pos <= size - strlen(TRAILER)
					 ? size - strlen(TRAILER) - c.pos : 0,
				 c.pos, ENTRY_SIZE);

	n = (size_t)count;
	lf->entries = xrealloc_array(NULL, n ? n : 1, sizeof(*lf->entries));
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = data + c.pos + i * ENTRY_SIZE;
		struct vms_leak_entry *e = &lf->entries[i];
		e->addr = get_le64(p);
		e->cat = p[8];
		if (e->cat <= VMS_LEAK_NONE || e->cat >= VMS_LEAK__COUNT) {
			vms_leakfile_release(lf);
			return vms_error("%s corrupt at offset %zu: block %zu "
					 "has category %u", what,
					 c.pos + i * ENTRY_SIZE + 8, i,
					 p[8]);
		}
		if (!e->addr) {
			vms_leakfile_release(lf);
			return vms_error("%s corrupt at offset %zu: block %zu "
					 "at address 0", what,
					 c.pos + i * ENTRY_SIZE, i);
		}
		if (i && e->addr <= e[-1].addr)
			sorted = false;
	}
	/* The recorder writes them sorted; sort only if it did not. */
	if (!sorted)
		qsort(lf->entries, n, sizeof(*lf->entries), cmp_entry);
	for (size_t i = 1; i < n; i++) {
		if (lf->entries[i].addr == lf->entries[i - 1].addr) {
			uint64_t a = lf->entries[i].addr;
			vms_leakfile_release(lf);
			return vms_error("%s corrupt: block 0x%llx listed twice",
					 what, (unsigned long long)a);
		}
	}
	lf->nr = n;
	lf->present = true;
	return 0;
}

int vms_leakfile_read(struct vms_leakfile *lf, struct vms_recording *rec)
{
	struct vms_strbuf what = VMS_STRBUF_INIT;
	struct stat st;
	void *p = NULL;
	int fd, ret;

	memset(lf, 0, sizeof(*lf));
	fd = openat(rec->dirfd, "leaks",
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 0;
	vms_strbuf_addstr(&what, "recording '");
	vms_strbuf_add_printable(&what, rec->path, strlen(rec->path));
	vms_strbuf_addstr(&what, "': leaks file 'leaks'");
	if (fd < 0) {
		ret = vms_error("%s cannot be opened: %s", what.s,
				strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		ret = vms_error("%s is not a regular file", what.s);
		goto out;
	}
	if (!st.st_size) {
		ret = vms_leakfile_parse(lf, NULL, 0, what.s);
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		p = NULL;
		ret = vms_error("%s cannot be mapped: %s", what.s,
				strerror(errno));
		goto out;
	}
	ret = vms_leakfile_parse(lf, p, (size_t)st.st_size, what.s);
out:
	if (p)
		munmap(p, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	vms_strbuf_release(&what);
	return ret;
}

void vms_leakfile_release(struct vms_leakfile *lf)
{
	free(lf->entries);
	memset(lf, 0, sizeof(*lf));
}

enum vms_leak_cat vms_leakfile_lookup(const struct vms_leakfile *lf,
				      uint64_t addr)
{
	size_t lo = 0, hi = lf->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lf->entries[mid].addr < addr)
			lo = mid + 1;
		else if (lf->entries[mid].addr > addr)
			hi = mid;
		else
			return (enum vms_leak_cat)lf->entries[mid].cat;
	}
	return VMS_LEAK_NONE;
}
