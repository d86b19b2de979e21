/* SPDX-License-Identifier: MIT */
/*
 * Test-only recording writer: builds meta, log.<n> and snap.<n> files per
 * include/vmspy/format.h, so unit tests can feed the analyzer exact,
 * hand-made (and hand-broken) input.  Independent of preload/ on purpose:
 * a second reading of the format catches misreadings of the first.
 *
 *	struct synth_log l;
 *	synth_log_init(&l, 0, 1234);
 *	synth_stack(&l, 1, frames, 3);
 *	synth_alloc(&l, 10, VMS_API_MALLOC, 1, 0x1000, 64, 0, 0);
 *	synth_log_save(&l, dir);          // writes dir/log.0
 *	synth_log_release(&l);
 */
#ifndef VMSPY_TEST_SYNTH_H
#define VMSPY_TEST_SYNTH_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmspy/format.h"

struct synth_log {
	uint8_t *buf;
	size_t len, alloc;
	uint8_t body[4096];
	size_t body_len;
	uint32_t lane;
	uint64_t seq, addr;       /* running delta state */
	/* Variations every synth_end applies, for tests of the framing:
	 * full_len > 0 writes a full header whose length takes at least
	 * full_len bytes; extra bytes of 0xab go after every body. */
	size_t full_len, extra;
};

static inline void synth_reserve(struct synth_log *l, size_t n)
{
	if (l->len + n <= l->alloc)
		return;
	while (l->alloc < l->len + n)
		l->alloc = l->alloc ? l->alloc * 2 : 4096;
	l->buf = realloc(l->buf, l->alloc);
	if (!l->buf)
		abort();
}

static inline void synth_raw(struct synth_log *l, const void *p, size_t n)
{
	synth_reserve(l, n);
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

static inline void synth_log_init(struct synth_log *l, uint32_t lane,
				  uint64_t pid)
{
	struct vms_log_header h;

	memset(l, 0, sizeof(*l));
	l->lane = lane;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, VMS_LOG_MAGIC, 8);
	h.version = VMS_FORMAT_VERSION;
	h.lane = lane;
	h.chunk_size = 1 << 20;
	h.pid = pid;
	synth_raw(l, &h, sizeof(h));
}

static inline void synth_log_release(struct synth_log *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

/* ---- one record: synth_u()/synth_str()... then synth_end(type) ----
 *
 * synth_end writes the header the recorder would (unless l->full_len):
 * compact for the heap types when the body fits 31 bytes, else full with
 * the shortest length; synth_end_full forces a full header with the length
 * in at least `lenbytes` bytes (a padded varint, 0 = shortest). */

static inline void synth_u(struct synth_log *l, uint64_t v)
{
	if (l->body_len + VMS_VARINT_MAX > sizeof(l->body))
		abort();
	l->body_len += vms_varint_put(l->body + l->body_len, v);
}

static inline void synth_str(struct synth_log *l, const char *s)
{
	size_t n = strlen(s);
	if (l->body_len + VMS_VARINT_MAX + n > sizeof(l->body))
		abort();
	l->body_len += vms_string_put(l->body + l->body_len, s, n);
}

static inline void synth_seq(struct synth_log *l, uint64_t seq)
{
	synth_u(l, seq - l->seq);
	l->seq = seq;
}

static inline void synth_daddr(struct synth_log *l, uint64_t addr)
{
	synth_u(l, vms_zigzag((int64_t)(addr - l->addr)));
	l->addr = addr;
}

static inline void synth_end_full(struct synth_log *l, unsigned type,
				  size_t lenbytes)
{
	uint8_t head[1 + VMS_VARINT_MAX];
	size_t need = 0;

	if (l->body_len + l->extra > sizeof(l->body))
		abort();
	memset(l->body + l->body_len, 0xab, l->extra);
	l->body_len += l->extra;
	for (uint64_t v = l->body_len; need == 0 || v; v >>= 7)
		need++;
	if (lenbytes < need)
		lenbytes = need;
	head[0] = (uint8_t)type;
	/* LEB128, padded: continuation bits on every byte but the last. */
	for (size_t i = 0; i < lenbytes; i++)
		head[1 + i] = (uint8_t)(((l->body_len >> (7 * i)) & 0x7f) |
					(i + 1 < lenbytes ? 0x80 : 0));
	synth_raw(l, head, 1 + lenbytes);
	synth_raw(l, l->body, l->body_len);
	l->body_len = 0;
}

static inline void synth_end(struct synth_log *l, unsigned type)
{
	static const unsigned compact[] = { VMS_REC_MALLOC, VMS_REC_FREE_PLAIN,
					    VMS_REC_ALLOC, VMS_REC_FREE };

	if (l->full_len) {
		synth_end_full(l, type, l->full_len);
		return;
	}
	for (unsigned code = 0; code < 4; code++) {
		if (compact[code] != type || l->body_len + l->extra > 31)
			continue;
		if (l->body_len + l->extra > sizeof(l->body))
			abort();
		memset(l->body + l->body_len, 0xab, l->extra);
		l->body_len += l->extra;
		uint8_t h = (uint8_t)(0x80 | code << 5 | l->body_len);
		synth_raw(l, &h, 1);
		synth_raw(l, l->body, l->body_len);
		l->body_len = 0;
		return;
	}
	synth_end_full(l, type, 0);
}

/* ---- whole records ---- */

static inline void synth_skip(struct synth_log *l, size_t n)
{
	memset(l->body, 0xee, n);
	l->body_len = n;
	synth_end(l, VMS_REC_SKIP);
}

static inline void synth_time(struct synth_log *l, uint64_t ns)
{
	synth_u(l, ns);
	synth_end(l, VMS_REC_TIME);
}

static inline void synth_stack(struct synth_log *l, uint64_t id,
			       const uint64_t *frames, size_t n)
{
	uint64_t prev = 0;
	synth_u(l, id);
	synth_u(l, n);
	for (size_t i = 0; i < n; i++) {
		synth_u(l, vms_zigzag((int64_t)(frames[i] - prev)));
		prev = frames[i];
	}
	synth_end(l, VMS_REC_STACK);
}

/* An ALLOC record, always the long form. */
static inline void synth_alloc_long(struct synth_log *l, uint64_t seq,
				    unsigned api, uint64_t stack,
				    uint64_t addr, uint64_t size,
				    uint64_t align, uint64_t old_addr)
{
	synth_seq(l, seq);
	synth_u(l, api);
	synth_u(l, stack);
	synth_daddr(l, addr);
	synth_u(l, size);
	synth_u(l, align);
	if (api == VMS_API_REALLOC || api == VMS_API_REALLOCARRAY)
		synth_u(l, vms_zigzag((int64_t)(old_addr - addr)));
	synth_end(l, VMS_REC_ALLOC);
}

/* An allocation as the recorder writes it: MALLOC for malloc with align
 * 0, else ALLOC. */
static inline void synth_alloc(struct synth_log *l, uint64_t seq,
			       unsigned api, uint64_t stack, uint64_t addr,
			       uint64_t size, uint64_t align,
			       uint64_t old_addr)
{
	if (api != VMS_API_MALLOC || align) {
		synth_alloc_long(l, seq, api, stack, addr, size, align,
				 old_addr);
		return;
	}
	synth_seq(l, seq);
	synth_u(l, stack);
	synth_daddr(l, addr);
	synth_u(l, size);
	synth_end(l, VMS_REC_MALLOC);
}

/* A FREE record, always the long form. */
static inline void synth_free_long(struct synth_log *l, uint64_t seq,
				   unsigned api, uint64_t addr)
{
	synth_seq(l, seq);
	synth_u(l, api);
	synth_daddr(l, addr);
	synth_end(l, VMS_REC_FREE);
}

/* A release as the recorder writes it: FREE_PLAIN for free, else FREE. */
static inline void synth_free(struct synth_log *l, uint64_t seq, unsigned api,
			      uint64_t addr)
{
	if (api != VMS_API_FREE) {
		synth_free_long(l, seq, api, addr);
		return;
	}
	synth_seq(l, seq);
	synth_daddr(l, addr);
	synth_end(l, VMS_REC_FREE_PLAIN);
}

static inline void synth_mmap(struct synth_log *l, uint64_t seq, unsigned api,
			      uint64_t stack, uint64_t addr, uint64_t len,
			      uint64_t prot, uint64_t flags, int64_t fd,
			      uint64_t offset, const char *path,
			      uint64_t old_addr, uint64_t old_len)
{
	synth_seq(l, seq);
	synth_u(l, api);
	synth_u(l, stack);
	synth_u(l, addr);
	synth_u(l, len);
	synth_u(l, prot);
	synth_u(l, flags);
	synth_u(l, (uint64_t)fd);
	synth_u(l, offset);
	synth_u(l, 0x801);  /* dev */
	synth_u(l, 4242);   /* ino */
	synth_str(l, path);
	synth_u(l, old_addr);
	synth_u(l, old_len);
	synth_end(l, VMS_REC_MMAP);
}

static inline void synth_munmap(struct synth_log *l, uint64_t seq,
				unsigned api, uint64_t stack, uint64_t addr,
				uint64_t len)
{
	synth_seq(l, seq);
	synth_u(l, api);
	synth_u(l, stack);
	synth_u(l, addr);
	synth_u(l, len);
	synth_end(l, VMS_REC_MUNMAP);
}

static inline void synth_thread_begin(struct synth_log *l, uint64_t seq,
				      uint64_t tid)
{
	synth_seq(l, seq);
	synth_u(l, tid);
	synth_u(l, 0x7f0000000000);  /* stack_lo */
	synth_u(l, 0x7f0000800000);  /* stack_hi */
	synth_u(l, 4096);            /* guard */
	synth_u(l, 0);               /* creator lane */
	synth_u(l, 0);               /* creator stack */
	synth_u(l, 0x7f0000801000);  /* handle */
	synth_end(l, VMS_REC_THREAD_BEGIN);
}

static inline void synth_exit(struct synth_log *l, uint64_t seq,
			      uint64_t status, uint64_t dropped)
{
	synth_seq(l, seq);
	synth_u(l, status);
	synth_u(l, dropped);
	synth_end(l, VMS_REC_EXIT);
}

/* ---- files ---- */

static inline int synth_write_file(const char *dir, const char *name,
				   const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

/* Write the log plus `zero_tail` zero bytes (the recorder's fallocated
 * space after the last record). */
static inline int synth_log_save_tail(struct synth_log *l, const char *dir,
				      size_t zero_tail)
{
	char name[32];
	size_t len = l->len;
	int r;

	synth_reserve(l, zero_tail);
	memset(l->buf + len, 0, zero_tail);
	snprintf(name, sizeof(name), "log.%u", l->lane);
	r = synth_write_file(dir, name, l->buf, len + zero_tail);
	return r;
}

static inline int synth_log_save(struct synth_log *l, const char *dir)
{
	return synth_log_save_tail(l, dir, 256);
}

/* A meta file: pid, exe, argv "prog", start_monotonic_ns 1e9. */
static inline int synth_meta(const char *dir, uint64_t pid)
{
	char text[1024];
	int n = snprintf(text, sizeof(text),
			 "vmspy-recording %d\n"
			 "vmspy_version %s\n"
			 "pid %llu\nppid 1\n"
			 "exe /usr/bin/prog\n"
			 "argc 2\nargv 0 prog\nargv 1 --flag\\twith tab\n"
			 "start_monotonic_ns 1000000000\n"
			 "page_size 4096\n",
			 VMS_FORMAT_VERSION, VMS_VERSION_STRING,
			 (unsigned long long)pid);
	return synth_write_file(dir, "meta", text, (size_t)n);
}

static inline int synth_text(const char *dir, const char *name,
			     const char *text)
{
	return synth_write_file(dir, name, text, strlen(text));
}

/* A fresh empty directory under $TMPDIR (or /tmp); caller frees. */
static inline char *synth_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *d = malloc(4096);
	if (!d)
		abort();
	snprintf(d, 4096, "%s/vmspy-test-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(d))
		abort();
	return d;
}

/* rm -rf of a synth_tmpdir() directory (flat: only files inside). */
static inline void synth_rmdir(char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		abort();
	free(dir);
}

#endif /* VMSPY_TEST_SYNTH_H */
