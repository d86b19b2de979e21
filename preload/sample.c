/* SPDX-License-Identifier: MIT */
/*
 * The sampling countdown (contract in sample.h): per thread, the bytes
 * left until the next sampled allocation, drawn from an exponential
 * distribution with mean vms_sample_bytes.
 */
#include "sample.h"

#include "recorder.h"

uint64_t vms_sample_bytes;
uint64_t vms_sample_secret;

void vms_sample_init(uint64_t n)
{
	uint64_t s = vms_realtime_ns() ^ ((uint64_t)vms_sys_getpid() << 32) ^
		     (uint64_t)(uintptr_t)&s;
	/* splitmix64 finaliser: any bit of the inputs moves them all */
	s += 0x9e3779b97f4a7c15ull;
	s = (s ^ (s >> 30)) * 0xbf58476d1ce4e5b9ull;
	s = (s ^ (s >> 27)) * 0x94d049bb133111ebull;
	vms_sample_secret = (s ^ (s >> 31)) | 1;
	vms_sample_bytes = n;
}

/* -ln(u) for u uniform in (0, 1], from 53 random bits: log2 by the
 * exponent and a short series on the mantissa; a few parts in 10^5 are
 * plenty for choosing sample points. */
static double neg_ln_uniform(uint64_t bits)
{
	uint64_t m = (bits >> 11) | 1; /* 1 .. 2^53-1 */
	int e = 0;
	while (!(m >> 52)) {
		m <<= 1;
		e++;
	}
	double x = (double)m / 4503599627370496.0; /* [1, 2) */
	double t = (x - 1) / (x + 1), t2 = t * t;
	double ln_x = 2 * t * (1 + t2 / 3 + t2 * t2 / 5 + t2 * t2 * t2 / 7);
	double ln_u = ln_x - (double)(e + 1) * 0.6931471805599453;
	return -ln_u;
}

static uint64_t next_random(void)
{
	/* xorshift64*, per thread, seeded from the tid and the secret */
	uint64_t x = vms_tls.sample_rng;
	if (!x)
		x = vms_sample_secret ^ ((uint64_t)vms_sys_gettid() << 17) ^
		    0x2545f4914f6cdd1dull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	vms_tls.sample_rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

int vms_sample_draw(size_t n)
{
	double gap = (double)vms_sample_bytes * neg_ln_uniform(next_random());
	vms_tls.sample_left = (int64_t)gap + 1;
	/* A thread's first allocation only starts its countdown. */
	if (!vms_tls.sample_started) {
		vms_tls.sample_started = 1;
		return vms_sample_due(n);
	}
	return 1;
}
