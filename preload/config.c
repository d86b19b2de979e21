/* SPDX-License-Identifier: MIT */
/*
 * VMSPY_* environment parsing (contract in config.h).  Runs once, in the
 * library constructor, before any event is recorded.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vms_config vms_config;

static unsigned num(const char *name, unsigned def, unsigned lo, unsigned hi)
{
	const char *s = getenv(name);
	uint64_t v;
	if (!s || !*s)
		return def;
	if (vms_parse_u64(s, &v) || v < lo || v > hi) {
		char a[24], b[24], d[24];
		a[vms_fmt_u64(a, lo)] = 0;
		b[vms_fmt_u64(b, hi)] = 0;
		d[vms_fmt_u64(d, def)] = 0;
		vms_note(name, "='", s, "' is not a number in ", a, "..", b,
			 "; using ", d, (char *)NULL);
		return def;
	}
	return (unsigned)v;
}

/* A signed number in lo..hi (VMSPY_COMPRESS_LEVEL: zstd's fast levels are
 * negative). */
static int snum(const char *name, int def, int lo, int hi)
{
	const char *s = getenv(name);
	uint64_t v;
	if (!s || !*s)
		return def;
	int neg = s[0] == '-';
	if (vms_parse_u64(s + neg, &v) ||
	    v > (neg ? (uint64_t)-(int64_t)lo : (uint64_t)hi)) {
		char a[24], b[24], d[24];
		size_t n = 0;
		if (lo < 0)
			a[n++] = '-';
		a[n + vms_fmt_u64(a + n, lo < 0 ? (uint64_t)-(int64_t)lo
						: (uint64_t)lo)] = 0;
		b[vms_fmt_u64(b, (uint64_t)hi)] = 0;
		n = 0;
		if (def < 0)
			d[n++] = '-';
		d[n + vms_fmt_u64(d + n, def < 0 ? (uint64_t)-(int64_t)def
						 : (uint64_t)def)] = 0;
		vms_note(name, "='", s, "' is not a number in ", a, "..", b,
			 "; using ", d, (char *)NULL);
		return def;
	}
	return neg ? -(int)v : (int)v;
}

static int flag(const char *name, int def)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true"))
		return 1;
	if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false"))
		return 0;
	vms_note(name, "='", s, "' is not 0 or 1; using ",
		 def ? "1" : "0", (char *)NULL);
	return def;
}

void vms_config_load(void)
{
	struct vms_config *c = &vms_config;
	c->depth = num("VMSPY_DEPTH", 64, 1, 256);
	c->interval_ms = num("VMSPY_INTERVAL_MS", 1000, 0, 3600000);
	c->snap_skip = flag("VMSPY_SNAP_SKIP", 1);
	c->follow = flag("VMSPY_FOLLOW", 1);
	c->quiet = flag("VMSPY_QUIET", 0);
	c->leak_scan = flag("VMSPY_LEAK_SCAN", 1);
	c->redact_argv = flag("VMSPY_REDACT_ARGV", 0);
	c->chunk_size = (size_t)num("VMSPY_CHUNK_KB", 256, 64, 65536) * 1024;
	c->sample_bytes = num("VMSPY_SAMPLE_BYTES", 0, 0, 1u << 30);
	c->compress = (int)num("VMSPY_COMPRESS", 1, 0, 2);
	c->compress_level = snum("VMSPY_COMPRESS_LEVEL", VMS_COMPRESS_LEVEL,
				 -100, 9);

	c->out[0] = 0;
	const char *out = getenv("VMSPY_OUT");
	if (!out || !*out)
		return;
	struct vms_buf b = { c->out, 0, sizeof(c->out) - 1, 0 };
	if (out[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			vms_note("VMSPY_OUT='", out,
				 "' is relative and the current directory is unknown; using the default name",
				 (char *)NULL);
			return;
		}
		vms_buf_str(&b, cwd);
		vms_buf_str(&b, "/");
	}
	vms_buf_str(&b, out);
	while (b.len > 1 && c->out[b.len - 1] == '/')
		b.len--;
	c->out[b.len] = 0;
	if (b.overflow) {
		vms_note("VMSPY_OUT='", out,
			 "' is too long; using the default name", (char *)NULL);
		c->out[0] = 0;
	}
}
