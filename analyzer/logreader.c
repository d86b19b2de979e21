/* SPDX-License-Identifier: MIT */
/*
 * Record decoding for one log (logreader.h).  The field order of every
 * record type is a table below, transcribed from format.h; the decoder
 * walks it with bounds-checked varint reads.  Nothing here is allowed to
 * trust the file: lengths, ids and api numbers are all checked.
 */
#include "logreader.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

enum fkind {
	F_END = 0,
	F_SEQ,   /* seq = prev_seq + varint */
	F_API,   /* api, checked against the record type */
	F_STACK, /* lane-local stack id, must be defined */
	F_DADDR, /* addr = prev_addr + unzigzag(varint) */
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
#define DADDR { F_DADDR, 0 }
#define U(m) { F_U64, offsetof(struct vms_event, m) }
#define I(m) { F_INT, offsetof(struct vms_event, m) }
#define STR { F_STR, 0 }
#define MAX_FIELDS 16

static const struct field layouts[VMS_REC__COUNT][MAX_FIELDS] = {
	[VMS_REC_ALLOC] = { SEQ, API, STK, DADDR, U(size), U(align) },
	[VMS_REC_FREE] = { SEQ, API, DADDR },
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
	"FORK", "SNAPSHOT", "EXIT", "DISABLED", "CREATE",
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

/* memset(ev, 0, sizeof(*ev)), but with plain vector stores: GCC turns a
 * 400-byte memset into "rep stos", whose start-up cost was a fifth of the
 * analyzer's time per event. */
static inline void clear_event(struct vms_event *ev)
{
	typedef uint64_t v4 __attribute__((vector_size(32), aligned(8)));
	v4 *w = (v4 *)(void *)ev;
	size_t i;
	for (i = 0; i < sizeof(*ev) / sizeof(v4); i++) {
		w[i] = (v4){ 0, 0, 0, 0 };
		/* keeps GCC from turning the loop back into a memset */
		__asm__("" ::: "memory");
	}
	memset((char *)ev + i * sizeof(v4), 0, sizeof(*ev) - i * sizeof(v4));
}

static int decode(struct vms_logreader *r, unsigned type, const uint8_t *p,
		  const uint8_t *end, size_t at, struct vms_event *ev)
{
	const struct field *f = layouts[type];
	const char *tn = type_names[type];
	const uint8_t *start = p;
	uint64_t v;

	clear_event(ev);
	ev->type = type;
	ev->api = implied_api[type] ? implied_api[type] : VMS_API__COUNT;
	ev->lane = r->log->lane;
	ev->offset = at;
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
		case F_DADDR:
			r->addr += (uint64_t)vms_unzigzag(v);
			ev->addr = r->addr;
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
	if (type == VMS_REC_ALLOC && (ev->api == VMS_API_REALLOC ||
				      ev->api == VMS_API_REALLOCARRAY)) {
		if (vms_varint_get(&p, end, &ev->old_addr))
			goto short_body;
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
	ev->tid = type == VMS_REC_THREAD_END ? ev->tid : r->tid;
	ev->time_ns = r->time_ns;
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

int vms_logreader_next(struct vms_logreader *r, struct vms_event *ev)
{
	const struct vms_logfile *log = r->log;

	trim(r);

	while (!r->done) {
		size_t at = r->pos, body, len;
		const uint8_t *p, *end;
		uint32_t word;
		unsigned type;
		char *why;

		if (log->size < 4 || at > log->size - 4) {
			r->done = true;
			break;
		}
		if (vms_logfile_need(log, at, &why)) {
			corrupt(r, at, "%s", why);
			free(why);
			return -1;
		}
		memcpy(&word, log->data + at, 4);
		word = le32toh(word);
		if (!word) {
			if (vms_chunks_check_end(log, at, &why)) {
				corrupt(r, at, "%s", why);
				free(why);
				return -1;
			}
			r->done = true;
			break;
		}
		type = VMS_REC_TYPE(word);
		len = VMS_REC_LEN(word);
		body = at + 4;
		if (len > log->size - body)
			return corrupt(r, at, "record length %zu past end of "
				       "file", len);
		if (type == VMS_REC_NONE || type >= VMS_REC__COUNT)
			return corrupt(r, at, "unknown record type %u", type);
		p = log->data + body;
		end = p + len;
		/* Padding to 4 bytes may be missing at the very end. */
		r->pos = body + len + (VMS_ALIGN4(len) - len);
		switch (type) {
		case VMS_REC_SKIP:
			continue;
		case VMS_REC_TIME:
			if (vms_varint_get(&p, end, &r->time_ns))
				return corrupt(r, at, "TIME body too short");
			continue;
		case VMS_REC_STACK:
			if (read_stack(r, p, end, at))
				return -1;
			continue;
		}
		if (decode(r, type, p, end, at, ev))
			return -1;
		r->events++;
		return 1;
	}
	return r->error ? -1 : 0;
}
