/* SPDX-License-Identifier: MIT */
/*
 * Sampling mode (VMSPY_SAMPLE_BYTES=N): record on average one allocation
 * per N bytes allocated, chosen by a Poisson process like tcmalloc's heap
 * sampler, so a program can be profiled in production at little cost.
 *
 * The cost that matters is free(): it must tell a sampled block from an
 * unsampled one without a lookup.  A sampled block is allocated 16 bytes
 * (or its alignment) larger and carries a tag just below the pointer the
 * program gets: the pointer xor a per-process secret, then the offset to
 * the real block.  For an unsampled block those 16 bytes are glibc's chunk
 * header (prev_size, size), always mapped, and equal the tag only if the
 * program stores that exact secret-derived value there: never in practice.
 * So sampling is enabled only over glibc's own malloc.
 *
 * Runs on the hot path: no locks, no syscalls, no allocation.
 */
#ifndef VMS_SAMPLE_H
#define VMS_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "prim.h"

#define VMS_SAMPLE_HEADER 16

extern uint64_t vms_sample_bytes VMS_HIDDEN;  /* 0: record everything */
extern uint64_t vms_sample_secret VMS_HIDDEN;

/* Turns sampling on for mean interval n bytes (called once at start-up,
 * before any thread but the main one exists). */
VMS_HIDDEN void vms_sample_init(uint64_t n);

/* The countdown ran out: draws the next interval; returns 1 when this
 * allocation is to be sampled. */
VMS_HIDDEN int vms_sample_draw(size_t n);

/* The offset between a tagged block and the real one, or 0 when p is not
 * a sampled block.  pre: p came from the real malloc family. */
static inline size_t vms_sample_offset(const void *p)
{
	const uint64_t *w = (const uint64_t *)p - 2;
	if (VMS_LIKELY(w[0] != ((uint64_t)(uintptr_t)p ^ vms_sample_secret)))
		return 0;
	/* 16, or an alignment: a power of two up to 64 MiB */
	if (w[1] < VMS_SAMPLE_HEADER || w[1] > (1u << 26) ||
	    (w[1] & (w[1] - 1)))
		return 0;
	return (size_t)w[1];
}

/* Tags the block at real address q (off >= 16 bytes of room before the
 * program's part) and returns the program's pointer. */
static inline void *vms_sample_tag(void *q, size_t off)
{
	uint8_t *p = (uint8_t *)q + off;
	uint64_t *w = (uint64_t *)(void *)p - 2;
	w[0] = (uint64_t)(uintptr_t)p ^ vms_sample_secret;
	w[1] = off;
	return p;
}

/* Removes the tag of p (before the real block is freed) and returns the
 * real block. */
static inline void *vms_sample_untag(void *p, size_t off)
{
	uint64_t *w = (uint64_t *)p - 2;
	w[0] = 0;
	return (uint8_t *)p - off;
}

#endif /* VMS_SAMPLE_H */
