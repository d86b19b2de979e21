/* SPDX-License-Identifier: MIT */
/*
 * The table of vmspy's own mappings (contract in ownmaps.h).  A slot is
 * claimed by a compare-and-swap on its start address; its end is published
 * last, so a reader never sees a half-written entry as valid.
 */
#include "ownmaps.h"

#define SLOTS 512

struct slot {
	uintptr_t lo;       /* 0: free */
	uintptr_t hi;       /* 0: being written or removed */
	const char *what;
};

static struct slot slots[SLOTS];

void vms_own_add(const void *addr, size_t len, const char *what)
{
	uintptr_t lo = (uintptr_t)addr;
	if (!lo || !len)
		return;
	for (int i = 0; i < SLOTS; i++) {
		uintptr_t expect = 0;
		if (vms_atomic_load_relaxed(&slots[i].lo) ||
		    !vms_atomic_cas_acq_rel(&slots[i].lo, &expect, lo))
			continue;
		slots[i].what = what;
		vms_atomic_store_release(&slots[i].hi, lo + len);
		return;
	}
}

void vms_own_remove(const void *addr)
{
	uintptr_t lo = (uintptr_t)addr;
	for (int i = 0; i < SLOTS; i++) {
		if (vms_atomic_load_acquire(&slots[i].lo) != lo ||
		    !vms_atomic_load_acquire(&slots[i].hi))
			continue;
		vms_atomic_store_release(&slots[i].hi, 0);
		vms_atomic_store_release(&slots[i].lo, 0);
		return;
	}
}

void vms_own_foreach(void (*fn)(uintptr_t, uintptr_t, const char *, void *),
		     void *arg)
{
	for (int i = 0; i < SLOTS; i++) {
		uintptr_t lo = vms_atomic_load_acquire(&slots[i].lo);
		uintptr_t hi = vms_atomic_load_acquire(&slots[i].hi);
		if (lo && hi > lo)
			fn(lo, hi, slots[i].what, arg);
	}
}
