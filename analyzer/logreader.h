/* SPDX-License-Identifier: MIT */
/*
 * Decoding one thread log (format.h "Records") into events.
 *
 * The reader keeps the log's running state: the delta-coded seq and
 * allocation address, the lane's current thread (THREAD_BEGIN) and time
 * (TIME), and the lane's stack ids, interned into a global struct
 * vms_stacks.  STACK, TIME and SKIP records are consumed here; every other
 * record comes out as one struct vms_event.
 *
 * The log is hostile input: nothing is read outside the mapping, and the
 * first malformed record stops the reader with a message naming the log and
 * the offset.  Everything returned before that stays valid, so a report can
 * show what was read and say what was wrong.
 */
#ifndef VMSPY_LOGREADER_H
#define VMSPY_LOGREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recording.h"
#include "stacks.h"

/* One decoded record.  Only the fields of its type are set (format.h lists
 * them); all others are 0.  Addresses are absolute (deltas resolved).
 * Signed C values (fd, key, status, result) are decoded from either a
 * 32-bit or a 64-bit two's complement varint.  The short record types come
 * out as what they abbreviate: a MALLOC record as an ALLOC event (api
 * malloc, align 0), a FREE_PLAIN record as a FREE event (api free).
 *
 * The fields every event sets come first (through old_addr): the reader
 * writes just those for the common ALLOC and FREE events. */
struct vms_event {
	enum vms_rec_type type;
	/* The hooked function: from the record's api field, or implied by the
	 * type (MPROTECT, MADVISE, SHM_*, DLOPEN, DLCLOSE, CREATE);
	 * VMS_API__COUNT for THREAD_BEGIN/END, SNAPSHOT, EXIT, DISABLED. */
	enum vms_api api;
	uint32_t lane;
	uint32_t stack;        /* lane-local stack id, 0 = none */
	vms_stack_id gstack;   /* the same stack in the global table */
	bool rest_set;         /* the reader's: fields after old_addr may be
				* non-zero */
	uint64_t seq;
	uint64_t tid;          /* thread owning the lane at this record */
	uint64_t time_ns;      /* last TIME of the lane, 0 before the first */
	size_t offset;         /* of the record in its log file */

	uint64_t addr;         /* ALLOC FREE MMAP MUNMAP MPROTECT MADVISE SHMAT
				* SHMDT */
	uint64_t size;         /* ALLOC SHMGET SHMAT */
	uint64_t align;        /* ALLOC */
	uint64_t old_addr;     /* ALLOC (realloc*), MMAP (mremap) */

	/* The other types' fields. */
	uint64_t old_len;      /* MMAP (mremap) */
	uint64_t len;          /* MMAP MUNMAP MPROTECT MADVISE */
	uint64_t prot;         /* MMAP MPROTECT */
	uint64_t flags;        /* MMAP DLOPEN */
	int64_t fd;            /* MMAP SHM_OPEN (-1 for none) */
	uint64_t file_offset;  /* MMAP */
	uint64_t dev, ino;     /* MMAP */
	const char *str;       /* MMAP path, SHM_OPEN/SHM_UNLINK name, DLOPEN
				* path: points into the log, not NUL-terminated */
	size_t str_len;
	uint64_t advice;       /* MADVISE */
	uint64_t old_brk, new_brk; /* BRK */
	uint64_t oflag, mode;  /* SHM_OPEN */
	int64_t key;           /* SHMGET SHMAT */
	uint64_t shmflg, shmid; /* SHMGET SHMAT */
	uint64_t stack_lo, stack_hi, guard_size; /* THREAD_BEGIN */
	uint64_t creator_lane, creator_stack;    /* THREAD_BEGIN (lane-local
						  * id in creator_lane) */
	uint64_t handle;       /* THREAD_BEGIN DLOPEN DLCLOSE CREATE */
	int64_t result;        /* DLCLOSE */
	uint64_t child_pid;    /* FORK */
	uint64_t index, reason; /* SNAPSHOT */
	int64_t status;        /* EXIT */
	uint64_t dropped;      /* EXIT */
	uint64_t err;          /* DISABLED (errno) */
	uint64_t bias;         /* DLOPEN: load bias of the module */
	const char *build_id;  /* DLOPEN: hex, may be empty */
	size_t build_id_len;
	const char *real_path; /* DLOPEN: the file the loader opened */
	size_t real_path_len;
};

/* A heap event (ALLOC or FREE) in short form: the fields of struct
 * vms_event through old_addr that differ between two heap events of one
 * lane (lane and tid do not change within a batch, see
 * vms_logreader_heap_batch).  vms_logreader_expand() makes the struct
 * vms_event vms_logreader_next would have returned. */
struct vms_heap_event {
	uint64_t seq;
	uint64_t addr;
	uint64_t size;
	uint64_t align;
	uint64_t old_addr;
	uint64_t time_ns;
	uint64_t offset;
	vms_stack_id gstack;
	uint32_t stack;
	uint8_t type;          /* VMS_REC_ALLOC or VMS_REC_FREE */
	uint8_t api;
};

struct vms_logreader {
	const struct vms_logfile *log;
	struct vms_stacks *stacks;
	size_t pos;            /* offset of the next record */
	uint64_t seq, addr, time_ns, tid;
	vms_stack_id *ids;     /* lane id -> global id, 0 = undefined */
	size_t nr_ids, alloc_ids;
	size_t nr_defined;     /* STACK records read */
	uint64_t *frames;      /* scratch for decoding one STACK */
	size_t alloc_frames;
	uint64_t events;       /* events returned so far */
	/* The event whose fields after old_addr this reader cleared, or
	 * NULL (see vms_logreader_next) */
	const struct vms_event *clean;
	bool done;
	size_t trimmed;        /* pages before this offset were given back */
	char *error;           /* set once the reader failed */
	size_t error_offset;
};

/* Start reading `log`.  Lane 0's first thread is the main thread, whose tid
 * is `pid`; other lanes have tid 0 until their THREAD_BEGIN.  A log whose
 * header was rejected (log->error) gives a reader that fails at once. */
void vms_logreader_init(struct vms_logreader *r, const struct vms_logfile *log,
			struct vms_stacks *stacks, uint64_t pid);
void vms_logreader_release(struct vms_logreader *r);

/* Decode the next event into *ev.  Returns 1 for an event, 0 at the normal
 * end (a zero header byte or the end of the file), -1 when the log is
 * corrupt: r->error then holds a message such as "log 'log.2' corrupt at
 * offset 1234: record length 99999 past end of file" (no "vmspy:" prefix)
 * and r->events says how many events were read before it.  After 0 or -1
 * every further call returns the same.
 *
 * Between two calls with the same ev, *ev belongs to the reader: it leaves
 * fields that are already zero as they are, so the caller reads the event
 * but never writes into it (it copies it to keep or change it). */
int vms_logreader_next(struct vms_logreader *r, struct vms_event *ev);

/* The fast way through the heap records (nearly all of a log): decode up
 * to max events ahead into out[], as long as they are heap events (ALLOC,
 * MALLOC, FREE, FREE_PLAIN), with the TIME and SKIP records between them.
 * Stops before any other event, and before a STACK record unless it is
 * the first thing it meets: the global stack table then learns a lane's
 * stacks at the same point of a merge as with vms_logreader_next, when
 * the batch is taken right after the lane's previous event was used.
 * Also stops before the end of the log and anything corrupt, but for a
 * heap record whose body is corrupt (then the reader has failed as
 * vms_logreader_next would have).  Returns the number of events in out[];
 * 0 means: call vms_logreader_next for what comes next (another event,
 * the end, or the damage), which gives exactly what it would have given
 * without the batch.  The events in out[] hold no pointer into the log. */
size_t vms_logreader_heap_batch(struct vms_logreader *r,
				struct vms_heap_event *out, size_t max);

/* Private: zeroes ev's fields after old_addr (see vms_logreader_expand). */
void vms_logreader_clear_rest(struct vms_logreader *r, struct vms_event *ev);

/* The event vms_logreader_next would have returned for h, a batch event
 * of this reader, into *ev (with the same ownership rule: *ev is only
 * written by this reader's vms_logreader_next and _expand calls).  pre:
 * no non-heap event of the lane was decoded since h. */
static inline void vms_logreader_expand(struct vms_logreader *r,
					const struct vms_heap_event *h,
					struct vms_event *ev)
{
	if (__builtin_expect(r->clean != ev || ev->rest_set, 0))
		vms_logreader_clear_rest(r, ev);
	ev->type = (enum vms_rec_type)h->type;
	ev->api = (enum vms_api)h->api;
	ev->lane = r->log->lane;
	ev->stack = h->stack;
	ev->gstack = h->gstack;
	ev->seq = h->seq;
	ev->tid = r->tid;
	ev->time_ns = h->time_ns;
	ev->offset = (size_t)h->offset;
	ev->addr = h->addr;
	ev->size = h->size;
	ev->align = h->align;
	ev->old_addr = h->old_addr;
}

/* Global id of this lane's stack `id` as defined so far, 0 if undefined. */
vms_stack_id vms_logreader_stack(const struct vms_logreader *r, uint64_t id);

/* "ALLOC", "MMAP", ... for messages; "type 77" style for unknown types is
 * up to the caller (returns NULL). */
const char *vms_rec_type_name(unsigned type);

#endif /* VMSPY_LOGREADER_H */
