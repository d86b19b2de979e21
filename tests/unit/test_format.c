/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the encoding primitives of include/vmspy/format.h: varints
 * (also padded), zigzag, strings and record headers, round trips at the
 * 64-bit extremes and rejection of truncated or overlong input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vmspy/format.h"

static const uint64_t values[] = {
	0, 1, 2, 63, 64, 127, 128, 129, 255, 256, 16383, 16384,
	(1ull << 32) - 1, 1ull << 32, (1ull << 56) - 1, 1ull << 56,
	(1ull << 63) - 1, 1ull << 63, UINT64_MAX - 1, UINT64_MAX,
};

static void varint_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		uint8_t buf[VMS_VARINT_MAX + 4];
		const uint8_t *p = buf;
		uint64_t out = 12345;
		size_t n = vms_varint_put(buf, values[i]);

		assert_true(n >= 1 && n <= VMS_VARINT_MAX);
		assert_int_equal(vms_varint_get(&p, buf + n, &out), 0);
		assert_true(out == values[i]);
		assert_ptr_equal(p, buf + n);

		/* Every proper prefix is truncated input. */
		for (size_t cut = 0; cut < n; cut++) {
			p = buf;
			assert_int_equal(vms_varint_get(&p, buf + cut, &out),
					 -1);
			assert_ptr_equal(p, buf);
		}
	}
}

static void varint_sizes(void **state)
{
	uint8_t buf[VMS_VARINT_MAX];
	(void)state;
	assert_int_equal(vms_varint_put(buf, 0), 1);
	assert_int_equal(vms_varint_put(buf, 127), 1);
	assert_int_equal(vms_varint_put(buf, 128), 2);
	assert_int_equal(vms_varint_put(buf, UINT64_MAX), 10);
	assert_int_equal(buf[9], 1);
}

static void varint_rejects_overflow(void **state)
{
	uint8_t eleven[11], big10[10];
	const uint8_t *p;
	uint64_t out;
	(void)state;

	/* Eleven bytes: more than 64 bits. */
	memset(eleven, 0x80, sizeof(eleven));
	eleven[10] = 0;
	p = eleven;
	assert_int_equal(vms_varint_get(&p, eleven + 11, &out), -1);

	/* Ten bytes whose last one carries more than bit 63. */
	memset(big10, 0xff, sizeof(big10));
	big10[9] = 0x02;
	p = big10;
	assert_int_equal(vms_varint_get(&p, big10 + 10, &out), -1);
	big10[9] = 0x01;
	p = big10;
	assert_int_equal(vms_varint_get(&p, big10 + 10, &out), 0);
	assert_true(out == UINT64_MAX);

	/* Empty input. */
	p = big10;
	assert_int_equal(vms_varint_get(&p, big10, &out), -1);
}

static void zigzag_round_trip(void **state)
{
	static const int64_t v[] = { 0, 1, -1, 2, -2, 63, -64, 64, -65,
				     INT32_MAX, INT32_MIN, INT64_MAX,
				     INT64_MIN, INT64_MAX - 1, INT64_MIN + 1 };
	(void)state;
	assert_true(vms_zigzag(0) == 0);
	assert_true(vms_zigzag(-1) == 1);
	assert_true(vms_zigzag(1) == 2);
	assert_true(vms_zigzag(INT64_MAX) == UINT64_MAX - 1);
	assert_true(vms_zigzag(INT64_MIN) == UINT64_MAX);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t buf[VMS_VARINT_MAX];
		const uint8_t *p = buf;
		uint64_t u = 0;
		size_t n = vms_varint_put(buf, vms_zigzag(v[i]));

		assert_int_equal(vms_varint_get(&p, buf + n, &u), 0);
		assert_true(vms_unzigzag(u) == v[i]);
	}
}

/* Address deltas wrap: any two 64-bit addresses are one zigzag apart. */
static void address_delta_extremes(void **state)
{
	static const uint64_t a[] = { 0, 1, 0x7fffffffffffull,
				      0xffffffffffffffffull,
				      0x8000000000000000ull };
	(void)state;
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 5; j++) {
			uint64_t d = vms_zigzag((int64_t)(a[j] - a[i]));
			assert_true(a[i] + (uint64_t)vms_unzigzag(d) == a[j]);
		}
}

static void string_round_trip(void **state)
{
	static const char *const s[] = { "", "a", "/dev/shm/name with spaces",
					  "\n\t\\\"" };
	uint8_t buf[600];
	char long_s[300];
	(void)state;

	for (size_t i = 0; i < 4; i++) {
		const uint8_t *p = buf;
		const char *out;
		size_t len, n = vms_string_put(buf, s[i], strlen(s[i]));

		assert_int_equal(vms_string_get(&p, buf + n, &out, &len), 0);
		assert_int_equal(len, strlen(s[i]));
		assert_memory_equal(out, s[i], len);
		assert_ptr_equal(p, buf + n);
		/* Cut anywhere: rejected, never read past the end. */
		for (size_t cut = 0; cut < n; cut++) {
			p = buf;
			assert_int_equal(
				vms_string_get(&p, buf + cut, &out, &len), -1);
		}
	}
	memset(long_s, 'x', sizeof(long_s));
	{
		const uint8_t *p = buf;
		const char *out;
		size_t len, n = vms_string_put(buf, long_s, sizeof(long_s));
		assert_int_equal(n, 2 + sizeof(long_s));
		assert_int_equal(vms_string_get(&p, buf + n, &out, &len), 0);
		assert_int_equal(len, sizeof(long_s));
	}
}

static void string_huge_length(void **state)
{
	uint8_t buf[16];
	const uint8_t *p = buf;
	const char *out;
	size_t len, n = vms_varint_put(buf, UINT64_MAX);
	(void)state;
	buf[n] = 'x';
	assert_int_equal(vms_string_get(&p, buf + n + 1, &out, &len), -1);
}

static void varint_padded(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		size_t need = vms_varint_size(values[i]);
		uint8_t buf[VMS_VARINT_MAX];

		assert_int_equal(need, vms_varint_put(buf, values[i]));
		for (size_t n = need; n <= VMS_VARINT_MAX; n++) {
			const uint8_t *p = buf;
			uint64_t out = 0;

			memset(buf, 0xcc, sizeof(buf));
			vms_varint_put_padded(buf, values[i], n);
			assert_int_equal(vms_varint_get(&p, buf + n, &out), 0);
			assert_true(out == values[i]);
			assert_ptr_equal(p, buf + n);
		}
	}
	{
		/* 5 in two bytes: 0x85 0x00 */
		uint8_t buf[2];
		vms_varint_put_padded(buf, 5, 2);
		assert_int_equal(buf[0], 0x85);
		assert_int_equal(buf[1], 0);
	}
}

static void record_headers(void **state)
{
	(void)state;
	/* Full headers name the type; compact ones need bit 7. */
	assert_true(VMS_REC__COUNT - 1 <= VMS_REC_FULL_MAX);
	for (unsigned code = 0; code < 4; code++) {
		unsigned type = vms_rec_compact_types[code];
		for (unsigned len = 0; len <= VMS_REC_COMPACT_MAX; len++) {
			uint8_t h = VMS_REC_COMPACT_HDR(code, len);
			assert_true(h & VMS_REC_COMPACT);
			assert_int_equal(VMS_REC_COMPACT_CODE(h), code);
			assert_int_equal(VMS_REC_COMPACT_LEN(h), len);
		}
		assert_int_equal(vms_rec_compact_code(type), (int)code);
	}
	assert_int_equal(vms_rec_compact_code(VMS_REC_MMAP), -1);
	assert_int_equal(vms_rec_compact_code(VMS_REC_SKIP), -1);
	assert_int_equal(sizeof(struct vms_log_header), VMS_LOG_HEADER_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(varint_round_trip),
		cmocka_unit_test(varint_sizes),
		cmocka_unit_test(varint_rejects_overflow),
		cmocka_unit_test(zigzag_round_trip),
		cmocka_unit_test(address_delta_extremes),
		cmocka_unit_test(string_round_trip),
		cmocka_unit_test(string_huge_length),
		cmocka_unit_test(varint_padded),
		cmocka_unit_test(record_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
