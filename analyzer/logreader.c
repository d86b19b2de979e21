/* SPDX-License-Identifier: MIT */
/*
 * Record decoding for one log (logreader.h).  The heap records (ALLOC,
 * MALLOC, FREE, FREE_PLAIN: nearly all of a log) have their own decoders;
 * the field order of every other record type is a table below, transcribed
 * from format.h, walked with the same bounds-checked varint reads.  Nothing
 * here is allowed to trust the file: lengths, ids and api numbers are all
 * checked.
 */
#include "logreader.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "chunks.h"
#include "util.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

enum fkind {
	F_END = 0,
	F_SEQ,   /* seq = prev_seq + varint */
	F_API,   /* api, checked against the record type */
	F_STACK, /* lane-local stack id, must be defined */
	F_U64,   /* absolute unsigned */
	F_INT,   /* a C int or long: 32- or 64-bit two's complement */
	F_STR,   /* string: str, str_len */
};

struct field {
	unsigned char kind;
	unsigned short off; /* offset in struct vms_event, for F_U64/F_INT */
};

#define SEQ { F_SEQ, 0 }
#define API { F_API, 0 }
#define STK { F_STACK, 0 }
#define U(m) { F_U64, offsetof(struct vms_event, m) }
#define I(m) { F_INT, offsetof(struct vms_event, m) }
#define STR { F_STR, 0 }
#define MAX_FIELDS 16

/* ALLOC, MALLOC, FREE and FREE_PLAIN: decode_heap(). */
static const struct field layouts[VMS_REC__COUNT][MAX_FIELDS] = {
	[VMS_REC_MMAP] = { SEQ, API, STK, U(addr), U(len), U(prot), U(flags),
			   I(fd), U(file_offset), U(dev), U(ino), STR,
			   U(old_addr), U(old_len) },
	[VMS_REC_MUNMAP] = { SEQ, API, STK, U(addr), U(len) },
	[VMS_REC_MPROTECT] = { SEQ, STK, U(addr), U(len), U(prot) },
	[VMS_REC_MADVISE] = { SEQ, STK, U(addr), U(len), U(advice) },
	[VMS_REC_BRK] = { SEQ, API, STK, U(old_brk), U(new_brk) },
	[VMS_REC_SHM_OPEN] = { SEQ, STK, I(fd), U(oflag), U(mode), STR },
	[VMS_REC_SHM_UNLINK] = { SEQ, STK, STR },
	[VMS_REC_SHMGET] = { SEQ, STK, I(key), U(size), U(shmflg), U(shmid) },
	[VMS_REC_SHMAT] = { SEQ, STK, U(shmid), U(addr), U(size), U(shmflg),
			    I(key) },
	[VMS_REC_SHMDT] = { SEQ, STK, U(addr) },
	[VMS_REC_THREAD_BEGIN] = { SEQ, U(tid), U(stack_lo), U(stack_hi),
				   U(guard_size), U(creator_lane),
				   U(creator_stack), U(handle) },
	[VMS_REC_THREAD_END] = { SEQ, U(tid) },
	[VMS_REC_DLOPEN] = { SEQ, STK, U(flags), U(handle), STR },
	[VMS_REC_DLCLOSE] = { SEQ, STK, U(handle), I(result) },
	[VMS_REC_FORK] = { SEQ, API, STK, U(child_pid) },
	[VMS_REC_SNAPSHOT] = { SEQ, U(index), U(reason) },
	[VMS_REC_EXIT] = { SEQ, I(status), U(dropped) },
	[VMS_REC_DISABLED] = { SEQ, U(err) },
	[VMS_REC_CREATE] = { SEQ, STK, U(handle) },
};

/* The api a record type implies when it has no api field. */
static const enum vms_api implied_api[VMS_REC__COUNT] = {
	[VMS_REC_MPROTECT] = VMS_API_MPROTECT,
	[VMS_REC_MADVISE] = VMS_API_MADVISE,
	[VMS_REC_SHM_OPEN] = VMS_API_SHM_OPEN,
	[VMS_REC_SHM_UNLINK] = VMS_API_SHM_UNLINK,
	[VMS_REC_SHMGET] = VMS_API_SHMGET,
	[VMS_REC_SHMAT] = VMS_API_SHMAT,
	[VMS_REC_SHMDT] = VMS_API_SHMDT,
	[VMS_REC_DLOPEN] = VMS_API_DLOPEN,
	[VMS_REC_DLCLOSE] = VMS_API_DLCLOSE,
	[VMS_REC_CREATE] = VMS_API_PTHREAD_CREATE,
};

static const char *const type_names[VMS_REC__COUNT] = {
	"NONE", "SKIP", "STACK", "TIME", "ALLOC", "FREE", "MMAP", "MUNMAP",
	"MPROTECT", "MADVISE", "BRK", "SHM_OPEN", "SHM_UNLINK", "SHMGET",
	"SHMAT", "SHMDT", "THREAD_BEGIN", "THREAD_END", "DLOPEN", "DLCLOSE",
	"FORK", "SNAPSHOT", "EXIT", "DISABLED", "CREATE", "MALLOC",
	"FREE_PLAIN",
};

const char *vms_rec_type_name(unsigned type)
{
	return type < VMS_REC__COUNT ? type_names[type] : NULL;
}

static bool api_fits(unsigned type, uint64_t api)
{
	switch (type) {
	case VMS_REC_ALLOC:
		return api <= VMS_API_PVALLOC && api != VMS_API_FREE;
	case VMS_REC_FREE:
		return api == VMS_API_FREE || api == VMS_API_REALLOC ||
		       api == VMS_API_REALLOCARRAY;
	case VMS_REC_MMAP:
		return api == VMS_API_MMAP || api == VMS_API_MMAP64 ||
		       api == VMS_API_MREMAP;
	case VMS_REC_MUNMAP:
		return api == VMS_API_MUNMAP || api == VMS_API_MREMAP;
	case VMS_REC_BRK:
		return api == VMS_API_BRK || api == VMS_API_SBRK;
	case VMS_REC_FORK:
		return api == VMS_API_FORK || api == VMS_API_VFORK;
	default:
		return false;
	}
}

void vms_logreader_init(struct vms_logreader *r, const struct vms_logfile *log,
			struct vms_stacks *stacks, uint64_t pid)
{
	memset(r, 0, sizeof(*r));
	r->log = log;
	r->stacks = stacks;
	r->pos = VMS_LOG_HEADER_SIZE;
	r->tid = log->lane == 0 ? pid : 0;
	if (log->error) {
		r->error = xstrdup(log->error);
		r->done = true;
	}
}

void vms_logreader_release(struct vms_logreader *r)
{
	free(r->ids);
	free(r->frames);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

vms_stack_id vms_logreader_stack(const struct vms_logreader *r, uint64_t id)
{
	return id < r->nr_ids ? r->ids[id] : 0;
}

static int corrupt(struct vms_logreader *r, size_t at, const char *fmt, ...)
	VMS_PRINTF(3, 4);
static int corrupt(struct vms_logreader *r, size_t at, const char *fmt, ...)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	va_list ap;

	vms_strbuf_addf(&b, "log '%s' corrupt at offset %zu: ", r->log->name, at);
	va_start(ap, fmt);
	vms_strbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	r->error = b.s;
	r->error_offset = at;
	r->done = true;
	return -1;
}

static int64_t as_int(uint64_t v)
{
	/* A negative int written as an unsigned 32-bit value (e.g. fd -1 as
	 * 0xffffffff) or sign-extended to 64 bits decodes the same. */
	return v <= UINT32_MAX ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
}

/* STACK: id, n, frames delta-coded from 0. */
static int read_stack(struct vms_logreader *r, const uint8_t *p,
		      const uint8_t *end, size_t at)
{
	uint64_t id, n, v, prev = 0;

	if (vms_varint_get(&p, end, &id) || vms_varint_get(&p, end, &n))
		return corrupt(r, at, "STACK body too short");
	if (!id)
		return corrupt(r, at, "STACK defines id 0");
	/* Ids come in order; allowing gaps but not far jumps keeps the id
	 * table linear in the number of stacks even for hostile input. */
	if (id > 2 * (uint64_t)r->nr_defined + 64)
		return corrupt(r, at, "STACK id %llu out of order (%zu defined)",
			       (unsigned long long)id, r->nr_defined);
	if (n > (uint64_t)(end - p))
		return corrupt(r, at, "STACK of %llu frames longer than its body",
			       (unsigned long long)n);
	VMS_GROW(r->frames, r->alloc_frames, n);
	for (uint64_t i = 0; i < n; i++) {
		if (vms_varint_get(&p, end, &v))
			return corrupt(r, at, "STACK body too short");
		prev += (uint64_t)vms_unzigzag(v);
		r->frames[i] = prev;
	}
	if (id >= r->nr_ids) {
		VMS_GROW(r->ids, r->alloc_ids, id + 1);
		memset(r->ids + r->nr_ids, 0,
		       (id + 1 - r->nr_ids) * sizeof(*r->ids));
		r->nr_ids = id + 1;
	}
	/* A redefinition (a new thread taking the lane over may restart its
	 * ids) replaces the old meaning for the records after it. */
	r->ids[id] = vms_stacks_intern(r->stacks, r->frames, n);
	r->nr_defined++;
	return 0;
}

/* Zeroes the fields of *ev after old_addr.  memset with plain vector
 * stores: GCC turns a large memset into "rep stos", whose start-up cost was
 * a fifth of the analyzer's time per event. */
void vms_logreader_clear_rest(struct vms_logreader *r, struct vms_event *ev)
{
	typedef uint64_t v4 __attribute__((vector_size(32), aligned(8)));
	const size_t from = offsetof(struct vms_event, old_len);
	const size_t n = sizeof(*ev) - from;
	char *base = (char *)ev + from;
	size_t i;

	for (i = 0; i + sizeof(v4) <= n; i += sizeof(v4)) {
		*(v4 *)(void *)(base + i) = (v4){ 0, 0, 0, 0 };
		/* keeps GCC from turning the loop back into a memset */
		__asm__("" ::: "memory");
	}
	memset(base + i, 0, n - i);
	ev->rest_set = false;
	r->clean = ev;
}

/* vms_logreader_clear_rest, unless this reader knows the fields are zero
 * already. */
static inline void clear_rest(struct vms_logreader *r, struct vms_event *ev)
{
	if (r->clean == ev && !ev->rest_set)
		return;
	vms_logreader_clear_rest(r, ev);
}

/* The fields of the first part of struct vms_event, all of them. */
static inline void set_head(struct vms_logreader *r, struct vms_event *ev,
			    unsigned type, enum vms_api api, size_t at)
{
	ev->type = type;
	ev->api = api;
	ev->lane = r->log->lane;
	ev->stack = 0;
	ev->gstack = 0;
	ev->seq = r->seq;
	ev->tid = r->tid;
	ev->time_ns = r->time_ns;
	ev->offset = at;
	ev->addr = 0;
	ev->size = 0;
	ev->align = 0;
	ev->old_addr = 0;
}

static __attribute__((noinline, cold)) int
short_body(struct vms_logreader *r, unsigned type, size_t at, size_t len)
{
	return corrupt(r, at, "%s body too short (%zu bytes)",
		       type_names[type], len);
}

/* One varint of the body into v, or a "body too short" error. */
#define GET(v)                                                          \
	do {                                                            \
		if (UNLIKELY(vms_varint_get_in(&q, end, lim, &(v))))    \
			return short_body(r, type, at, (size_t)(end - body)), \
			       -1;                                      \
	} while (0)

/* ALLOC, MALLOC, FREE, FREE_PLAIN: the records nearly every event is, with
 * the fields of each written out; inlined once per type.  Returns 0 with
 * the event in *h, or -1 (corrupt). */
static inline __attribute__((always_inline)) int
decode_heap(struct vms_logreader *r, unsigned type, const uint8_t *body,
	    const uint8_t *end, const uint8_t *lim, size_t at,
	    struct vms_heap_event *h)
{
	const uint8_t *q = body;
	uint64_t dseq, api, stack = 0, daddr, size = 0, align = 0, old = 0;
	bool is_realloc = false;

	GET(dseq);
	switch (type) {
	case VMS_REC_MALLOC:
		api = VMS_API_MALLOC;
		GET(stack);
		GET(daddr);
		GET(size);
		break;
	case VMS_REC_FREE_PLAIN:
		api = VMS_API_FREE;
		GET(daddr);
		break;
	case VMS_REC_FREE:
		GET(api);
		GET(daddr);
		if (UNLIKELY(!api_fits(type, api)))
			goto bad_api;
		break;
	default: /* VMS_REC_ALLOC */
		GET(api);
		GET(stack);
		GET(daddr);
		GET(size);
		GET(align);
		if (UNLIKELY(!api_fits(type, api)))
			goto bad_api;
		is_realloc = api == VMS_API_REALLOC ||
			     api == VMS_API_REALLOCARRAY;
		if (is_realloc)
			GET(old);
		break;
	}
	/* Trailing bytes are room for later fields: ignored. */
	if (UNLIKELY(r->seq + dseq < r->seq))
		return corrupt(r, at, "sequence number goes backwards"), -1;
	if (stack && UNLIKELY(stack >= r->nr_ids || !r->ids[stack]))
		return corrupt(r, at, "%s uses undefined stack id %llu",
			       type_names[type], (unsigned long long)stack), -1;
	r->seq += dseq;
	r->addr += (uint64_t)vms_unzigzag(daddr);
	h->seq = r->seq;
	h->addr = r->addr;
	h->size = size;
	h->align = align;
	h->old_addr = is_realloc ? r->addr + (uint64_t)vms_unzigzag(old) : 0;
	h->time_ns = r->time_ns;
	h->offset = at;
	h->stack = (uint32_t)stack;
	h->gstack = stack ? r->ids[stack] : 0;
	h->type = type == VMS_REC_MALLOC || type == VMS_REC_ALLOC
			  ? VMS_REC_ALLOC
			  : VMS_REC_FREE;
	h->api = (uint8_t)api;
	return 0;
bad_api:
	return corrupt(r, at, "api %llu not valid in a %s record",
		       (unsigned long long)api, type_names[type]), -1;
}

/* decode_heap() into the struct vms_event vms_logreader_next returns. */
static inline __attribute__((always_inline)) int
decode_heap_event(struct vms_logreader *r, unsigned type, const uint8_t *body,
		  const uint8_t *end, const uint8_t *lim, size_t at,
		  struct vms_event *ev)
{
	struct vms_heap_event h;

	if (decode_heap(r, type, body, end, lim, at, &h))
		return -1;
	vms_logreader_expand(r, &h, ev);
	return 0;
}

#undef GET

/* Every other event type, by its table. */
static int decode(struct vms_logreader *r, unsigned type, const uint8_t *p,
		  const uint8_t *end, size_t at, struct vms_event *ev)
{
	const struct field *f = layouts[type];
	const char *tn = type_names[type];
	const uint8_t *start = p;
	uint64_t v;

	clear_rest(r, ev);
	set_head(r, ev, type,
		 implied_api[type] ? implied_api[type] : VMS_API__COUNT, at);
	ev->rest_set = true;
	for (; f->kind != F_END; f++) {
		if (f->kind == F_STR) {
			if (vms_string_get(&p, end, &ev->str, &ev->str_len))
				goto short_body;
			continue;
		}
		if (vms_varint_get(&p, end, &v))
			goto short_body;
		switch (f->kind) {
		case F_SEQ:
			if (r->seq + v < r->seq)
				return corrupt(r, at, "sequence number goes "
					       "backwards");
			r->seq += v;
			ev->seq = r->seq;
			break;
		case F_API:
			if (!api_fits(type, v))
				return corrupt(r, at, "api %llu not valid in a "
					       "%s record",
					       (unsigned long long)v, tn);
			ev->api = (enum vms_api)v;
			break;
		case F_STACK:
			if (v && (v >= r->nr_ids || !r->ids[v]))
				return corrupt(r, at, "%s uses undefined stack "
					       "id %llu", tn,
					       (unsigned long long)v);
			ev->stack = (uint32_t)v;
			ev->gstack = v ? r->ids[v] : 0;
			break;
		case F_U64:
			memcpy((char *)ev + f->off, &v, sizeof(v));
			break;
		case F_INT: {
			int64_t s = as_int(v);
			memcpy((char *)ev + f->off, &s, sizeof(s));
			break;
		}
		}
	}
	/* DLOPEN's module fields came later: optional, all or none. */
	if (type == VMS_REC_DLOPEN && p < end) {
		if (vms_varint_get(&p, end, &ev->bias) ||
		    vms_string_get(&p, end, &ev->build_id, &ev->build_id_len) ||
		    vms_string_get(&p, end, &ev->real_path,
				   &ev->real_path_len))
			goto short_body;
	}
	/* Trailing bytes are room for later fields: ignored. */
	if (type == VMS_REC_THREAD_BEGIN)
		r->tid = ev->tid;
	if (type != VMS_REC_THREAD_END)
		ev->tid = r->tid;
	return 0;
short_body:
	return corrupt(r, at, "%s body too short (%zu bytes)", tn,
		       (size_t)(end - start));
}

/* Logs are read once, front to back: give the pages already read back to
 * the kernel, so the analyzer's memory follows live state, not the size
 * of the recording.  The mapping is of a read-only file: a page that is
 * needed again (an event's string) is simply read again. */
static void trim(struct vms_logreader *r)
{
	const size_t step = 4u << 20;
	size_t off = r->pos & ~(step - 1);
	if (off > r->trimmed && r->log->data) {
		madvise((void *)(uintptr_t)(r->log->data + r->trimmed),
			off - r->trimmed, MADV_DONTNEED);
		r->trimmed = off;
	}
}

/* A record with a full header, at r->pos (the slow path of
 * vms_logreader_next): 1 for an event in *ev, 0 for a record that is none
 * (SKIP, TIME, STACK), 2 at the end of the log, -1 when corrupt. */
static int next_full(struct vms_logreader *r, struct vms_event *ev)
{
	const struct vms_logfile *log = r->log;
	const uint8_t *lim = log->data + log->size;
	size_t at = r->pos;
	const uint8_t *q = log->data + at, *end;
	unsigned type = *q++;
	uint64_t len;

	if (!type)
		return 2;
	if (vms_varint_get(&q, lim, &len))
		return corrupt(r, at, lim - q < VMS_VARINT_MAX
					      ? "record length past end of file"
					      : "record length over 64 bits");
	if (len > (uint64_t)(lim - q))
		return corrupt(r, at, "record length %llu past end of file",
			       (unsigned long long)len);
	if (type >= VMS_REC__COUNT)
		return corrupt(r, at, "unknown record type %u", type);
	end = q + len;
	r->pos = (size_t)(end - log->data);
	switch (type) {
	case VMS_REC_MALLOC:
		return decode_heap_event(r, VMS_REC_MALLOC, q, end, lim, at, ev) ?: 1;
	case VMS_REC_FREE_PLAIN:
		return decode_heap_event(r, VMS_REC_FREE_PLAIN, q, end, lim,
					 at, ev) ?: 1;
	case VMS_REC_ALLOC:
		return decode_heap_event(r, VMS_REC_ALLOC, q, end, lim, at, ev) ?: 1;
	case VMS_REC_FREE:
		return decode_heap_event(r, VMS_REC_FREE, q, end, lim, at, ev) ?: 1;
	case VMS_REC_SKIP:
		return 0;
	case VMS_REC_TIME:
		if (vms_varint_get(&q, end, &r->time_ns))
			return corrupt(r, at, "TIME body too short");
		return 0;
	case VMS_REC_STACK:
		return read_stack(r, q, end, at);
	default:
		return decode(r, type, q, end, at, ev) ?: 1;
	}
}

int vms_logreader_next(struct vms_logreader *r, struct vms_event *ev)
{
	const struct vms_logfile *log = r->log;

	trim(r);

	while (!r->done) {
		size_t at = r->pos;
		const uint8_t *q, *lim;
		unsigned h, len;
		int ret;
		char *why;

		/* (data is NULL for an empty file) */
		if (UNLIKELY(at >= log->size))
			break;
		/* The chunk may be in a compressed frame (chunks.h). */
		if (UNLIKELY(vms_logfile_need(log, at, &why))) {
			corrupt(r, at, "%s", why);
			free(why);
			return -1;
		}
		q = log->data + at;
		lim = log->data + log->size;
		h = *q++;
		if (UNLIKELY(!(h & VMS_REC_COMPACT))) {
			if (!h) {
				/* The end: unless a later chunk has records
				 * (a chunk was lost). */
				if (vms_chunks_check_end(log, at, &why)) {
					corrupt(r, at, "%s", why);
					free(why);
					return -1;
				}
				break;
			}
			ret = next_full(r, ev);
			if (ret == 2)
				break;
			if (ret < 0)
				return -1;
			if (!ret)
				continue;
			r->events++;
			return 1;
		}
		/* A compact header: one of the four heap records. */
		len = VMS_REC_COMPACT_LEN(h);
		if (UNLIKELY(len > (size_t)(lim - q)))
			return corrupt(r, at, "record length %u past end of "
				       "file", len);
		r->pos = at + 1 + len;
		switch (VMS_REC_COMPACT_CODE(h)) {
		case 0:
			ret = decode_heap_event(r, VMS_REC_MALLOC, q, q + len,
						lim, at, ev);
			break;
		case 1:
			ret = decode_heap_event(r, VMS_REC_FREE_PLAIN, q,
						q + len, lim, at, ev);
			break;
		case 2:
			ret = decode_heap_event(r, VMS_REC_ALLOC, q, q + len,
						lim, at, ev);
			break;
		default:
			ret = decode_heap_event(r, VMS_REC_FREE, q, q + len,
						lim, at, ev);
			break;
		}
		if (UNLIKELY(ret))
			return -1;
		r->events++;
		return 1;
	}
	r->done = true;
	return r->error ? -1 : 0;
}

/* The record at at when it has a full header and no error: its type, body
 * and body end.  false for anything else (vms_logreader_next handles
 * it). */
static inline bool peek_full(const struct vms_logfile *log, size_t at,
			     unsigned *type, const uint8_t **body,
			     const uint8_t **end)
{
	const uint8_t *lim = log->data + log->size;
	const uint8_t *q = log->data + at;
	uint64_t len;

	*type = *q++;
	if (!*type || *type >= VMS_REC__COUNT ||
	    vms_varint_get(&q, lim, &len) || len > (uint64_t)(lim - q))
		return false;
	*body = q;
	*end = q + len;
	return true;
}

/* vms_logreader_heap_batch, one record after the other through the
 * reader's state: for whatever the fast loop below does not do itself. */
static size_t heap_batch_slow(struct vms_logreader *r,
			      struct vms_heap_event *out, size_t max)
{
	const struct vms_logfile *log = r->log;
	const uint8_t *lim;
	size_t n = 0;

	/* (an empty file has no mapping: vms_logreader_next ends it) */
	if (!log->data)
		return 0;
	lim = log->data + log->size;
	trim(r);
	while (n < max && !r->done) {
		size_t at = r->pos;
		const uint8_t *q, *end;
		unsigned h, len, type;
		int ret;
		char *why;

		if (UNLIKELY(at >= log->size))
			break;
		if (UNLIKELY(vms_logfile_need(log, at, &why))) {
			corrupt(r, at, "%s", why);
			free(why);
			break;
		}
		q = log->data + at;
		h = *q++;
		if (LIKELY(h & VMS_REC_COMPACT)) {
			len = VMS_REC_COMPACT_LEN(h);
			if (UNLIKELY(len > (size_t)(lim - q)))
				break;
			r->pos = at + 1 + len;
			switch (VMS_REC_COMPACT_CODE(h)) {
			case 0:
				ret = decode_heap(r, VMS_REC_MALLOC, q, q + len,
						  lim, at, &out[n]);
				break;
			case 1:
				ret = decode_heap(r, VMS_REC_FREE_PLAIN, q,
						  q + len, lim, at, &out[n]);
				break;
			case 2:
				ret = decode_heap(r, VMS_REC_ALLOC, q, q + len,
						  lim, at, &out[n]);
				break;
			default:
				ret = decode_heap(r, VMS_REC_FREE, q, q + len,
						  lim, at, &out[n]);
				break;
			}
			if (UNLIKELY(ret))
				break;
			n++;
			r->events++;
			continue;
		}
		if (!peek_full(log, at, &type, &q, &end))
			break;
		switch (type) {
		case VMS_REC_MALLOC:
		case VMS_REC_FREE_PLAIN:
		case VMS_REC_ALLOC:
		case VMS_REC_FREE:
			r->pos = (size_t)(end - log->data);
			if (decode_heap(r, type, q, end, lim, at, &out[n]))
				return n;
			n++;
			r->events++;
			continue;
		case VMS_REC_SKIP:
			r->pos = (size_t)(end - log->data);
			continue;
		case VMS_REC_TIME:
		case VMS_REC_STACK:
			/* A STACK only first: see logreader.h.  A corrupt one
			 * fails the reader with vms_logreader_next's message
			 * (next_full is its code). */
			if (type == VMS_REC_STACK && n)
				return n;
			if (next_full(r, NULL) < 0)
				return n;
			continue;
		default:
			return n;
		}
	}
	return n;
}

/* One varint of a compact body, or stop the fast loop. */
#define FGET(v)                                                         \
	do {                                                            \
		if (UNLIKELY(vms_varint_get_in(&q, end, lim, &(v))))    \
			goto done;                                      \
	} while (0)

/* The compact heap records (nearly all of a log) with the reader's delta
 * state in locals: the stores into out[] could alias the reader's fields,
 * which would then be loaded and stored again for every record.  Anything
 * else (a full header, a chunk to fetch, a record that is not right)
 * ends the batch, or, first thing, goes to heap_batch_slow, which does it
 * the way vms_logreader_next would. */
size_t vms_logreader_heap_batch(struct vms_logreader *r,
				struct vms_heap_event *out, size_t max)
{
	const struct vms_logfile *log = r->log;
	const struct vms_chunks *c = log->chunks;
	const uint8_t *data = log->data, *lim;
	const vms_stack_id *ids = r->ids;
	size_t pos = r->pos, nr_ids = r->nr_ids, n = 0;
	size_t win_lo = c ? c->win_lo : 0, win_hi = c ? c->win_hi : log->size;
	uint64_t seq = r->seq, addr = r->addr, time_ns = r->time_ns;

	/* (an empty file has no mapping: vms_logreader_next ends it) */
	if (r->done || !data)
		return 0;
	lim = data + log->size;
	while (n < max) {
		const uint8_t *q, *end;
		uint64_t dseq, api, stack = 0, daddr, size = 0, align = 0;
		uint64_t old = 0;
		unsigned h, code;
		struct vms_heap_event *e = &out[n];

		if (UNLIKELY(pos < win_lo || pos >= win_hi || pos >= log->size))
			break;
		q = data + pos;
		h = *q++;
		if (UNLIKELY(!(h & VMS_REC_COMPACT)))
			break;
		end = q + VMS_REC_COMPACT_LEN(h);
		if (UNLIKELY(end > lim))
			break;
		code = VMS_REC_COMPACT_CODE(h);
		FGET(dseq);
		switch (code) {
		case 0: /* MALLOC */
			api = VMS_API_MALLOC;
			FGET(stack);
			FGET(daddr);
			FGET(size);
			break;
		case 1: /* FREE_PLAIN */
			api = VMS_API_FREE;
			FGET(daddr);
			break;
		case 2: /* ALLOC */
			FGET(api);
			FGET(stack);
			FGET(daddr);
			FGET(size);
			FGET(align);
			if (UNLIKELY(!api_fits(VMS_REC_ALLOC, api)))
				goto done;
			if (api == VMS_API_REALLOC ||
			    api == VMS_API_REALLOCARRAY)
				FGET(old);
			break;
		default: /* FREE */
			FGET(api);
			FGET(daddr);
			if (UNLIKELY(!api_fits(VMS_REC_FREE, api)))
				goto done;
			break;
		}
		if (UNLIKELY(seq + dseq < seq) ||
		    (stack && UNLIKELY(stack >= nr_ids || !ids[stack])))
			goto done;
		seq += dseq;
		addr += (uint64_t)vms_unzigzag(daddr);
		e->seq = seq;
		e->addr = addr;
		e->size = size;
		e->align = align;
		e->old_addr = code == 2 && (api == VMS_API_REALLOC ||
					    api == VMS_API_REALLOCARRAY)
				      ? addr + (uint64_t)vms_unzigzag(old)
				      : 0;
		e->time_ns = time_ns;
		e->offset = pos;
		e->stack = (uint32_t)stack;
		e->gstack = stack ? ids[stack] : 0;
		e->type = code == 0 || code == 2 ? VMS_REC_ALLOC : VMS_REC_FREE;
		e->api = (uint8_t)api;
		pos = (size_t)(end - data);
		n++;
	}
done:
	if (!n)
		return heap_batch_slow(r, out, max);
	r->pos = pos;
	r->seq = seq;
	r->addr = addr;
	r->events += n;
	trim(r);
	return n;
}

#undef FGET
