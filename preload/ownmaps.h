/* SPDX-License-Identifier: MIT */
/*
 * vmspy's own anonymous mappings in the host (stack tables, the fork
 * detection page, snapshot buffers, libunwind's caches), so that every
 * snapshot can list them and the analyzer attributes them to vmspy exactly
 * instead of guessing.
 *
 * A fixed table with lock-free slot claims: callable from any thread, from
 * inside hooks, never allocates.  When the table is full, a mapping simply
 * goes unlisted.
 */
#ifndef VMS_OWNMAPS_H
#define VMS_OWNMAPS_H

#include <stddef.h>
#include <stdint.h>

#include "prim.h"

/* what: a string with static storage duration. */
VMS_HIDDEN void vms_own_add(const void *addr, size_t len, const char *what);
/* Forgets the entry that starts at addr (any length). */
VMS_HIDDEN void vms_own_remove(const void *addr);

/* Calls fn for every listed mapping. */
VMS_HIDDEN void vms_own_foreach(void (*fn)(uintptr_t lo, uintptr_t hi,
					   const char *what, void *arg),
				void *arg);

#endif /* VMS_OWNMAPS_H */
