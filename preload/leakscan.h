/* SPDX-License-Identifier: MIT */
/*
 * The exit-time reachability scan (memcheck / LeakSanitizer semantics):
 * which heap blocks still live at a clean exit are reachable, possibly
 * reachable, indirectly or definitely lost.  Result: the "leaks" file of the
 * recording (format: include/vmspy/format.h).
 *
 * Runs in the host process, possibly while other threads still allocate:
 * never allocates through malloc (raw anonymous mmaps only), never reads
 * memory that may have gone away except through a system call that fails
 * instead of faulting (process_vm_readv on ourselves), never crashes the
 * host; an internal failure is one note on stderr and no leaks file.
 */
#ifndef VMS_LEAKSCAN_H
#define VMS_LEAKSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "prim.h"

/* A heap block: [addr, addr + size) as the allocator returned it.  cat is
 * an enum vms_leak_cat, filled in by vms_leak_classify; flags is private to
 * the scan (callers pass 0). */
struct vms_leak_block {
	uint64_t addr;
	uint64_t size;
	uint32_t cat;
	uint32_t flags;
};

/* A root: memory [lo, hi) whose aligned words are scanned for pointers.
 * VMS_LEAK_ROOT_START_ONLY: only pointers to a block's first byte count
 * (used for the allocator's own data, whose free-list and top-chunk
 * pointers land inside live blocks but hold nothing of the program's). */
#define VMS_LEAK_ROOT_START_ONLY 1u
struct vms_leak_root {
	uint64_t lo, hi;
	uint32_t flags;
};

/* Classifies blocks[0..n) by reachability from roots[0..nroots):
 *   REACHABLE  a chain of pointers to blocks' starts leads from a root;
 *   POSSIBLE   reached from a root, but some link is an interior pointer;
 *   INDIRECT   not reached from roots, but from another unreached block;
 *   DEFINITE   the rest (memcheck's clique leaders).
 * A pointer is an 8-byte aligned word; block contents are read only inside
 * [addr, addr + size).  Memory that cannot be read (unmapped meanwhile)
 * counts as holding no pointers.
 * pre: blocks do not overlap (overlapping ones are clipped for scanning).
 * post: blocks are sorted by address, every cat is set.
 * Cost O(n + bytes of blocks + bytes of roots).  Returns 0, or -1 with errno
 * (out of memory) and cats unset. */
VMS_HIDDEN int vms_leak_classify(struct vms_leak_block *blocks, size_t n,
				 const struct vms_leak_root *roots,
				 size_t nroots);

/* The whole scan: replays this process's log lanes up to a sequence number
 * taken now (the live set), gathers roots (writable module segments except
 * libvmspy's, live threads' stacks and registers, the main thread's static
 * TLS), classifies and writes "<recording>/leaks".  At most once per
 * process.  Call with the thread's guard set (vms_fini does, before the
 * EXIT record). */
VMS_HIDDEN void vms_leak_scan(void);

#endif /* VMS_LEAKSCAN_H */
