/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the benchmark workloads: a deterministic PRNG and
 * fatal errors.  Every workload makes the same calls for the same
 * arguments and prints a checksum that depends only on the data written,
 * never on addresses, so run.sh can compare native, vmspy and heaptrack
 * runs.
 */
#ifndef VMSPY_BENCH_COMMON_H
#define VMSPY_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline uint32_t rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* A value in [lo, hi]. */
static inline uint32_t rng_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + rng_next(s) % (hi - lo + 1);
}

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

static inline long arg_long(int argc, char **argv, int i, long def)
{
	return argc > i ? strtol(argv[i], NULL, 10) : def;
}

#endif
