/* SPDX-License-Identifier: MIT */
/*
 * SVG helpers (contract in svg.h).
 */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (of n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

void vms_svg_escapen(struct vms_strbuf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		switch (c) {
		case '&': vms_strbuf_addstr(b, "&amp;"); i++; continue;
		case '<': vms_strbuf_addstr(b, "&lt;"); i++; continue;
		case '>': vms_strbuf_addstr(b, "&gt;"); i++; continue;
		case '"': vms_strbuf_addstr(b, "&quot;"); i++; continue;
		case '\'': vms_strbuf_addstr(b, "&apos;"); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			vms_strbuf_addc(b, '?');
			i++;
			continue;
		}
		n = utf8_len(p + i, len - i);
		if (!n) {
			vms_strbuf_addc(b, '?');
			i++;
			continue;
		}
		vms_strbuf_add(b, p + i, n);
		i += n;
	}
}

void vms_svg_escape(struct vms_strbuf *b, const char *s)
{
	vms_svg_escapen(b, s, strlen(s));
}

uint64_t vms_svg_bytes_step(uint64_t max, int max_ticks)
{
	uint64_t step = 1;
	if (max_ticks < 1)
		max_ticks = 1;
	while (step < (UINT64_C(1) << 62) &&
	       (max + step - 1) / step > (uint64_t)max_ticks)
		step <<= 1;
	return step;
}

double vms_svg_step(double max, int max_ticks)
{
	static const double m[] = { 1, 2, 5 };
	double p;

	if (!(max > 0) || !isfinite(max))
		return 1;
	if (max_ticks < 1)
		max_ticks = 1;
	p = pow(10, floor(log10(max / max_ticks)));
	for (;; p *= 10)
		for (size_t i = 0; i < VMS_ARRAY_SIZE(m); i++)
			if (max / (m[i] * p) <= max_ticks + 1e-9)
				return m[i] * p;
}

char *vms_svg_bytes_label(char *buf, size_t len, uint64_t bytes)
{
	char *dot;
	if (!bytes) {
		snprintf(buf, len, "0");
		return buf;
	}
	vms_human_size(buf, len, bytes);
	/* "2.0 MiB" -> "2 MiB" */
	dot = strstr(buf, ".0 ");
	if (dot)
		memmove(dot, dot + 2, strlen(dot + 2) + 1);
	return buf;
}

FILE *vms_svg_open(const char *path)
{
	FILE *f;
	if (!strcmp(path, "-"))
		return stdout;
	f = fopen(path, "w");
	if (!f)
		vms_error("cannot write '%s': %s", path, strerror(errno));
	return f;
}

int vms_svg_close(FILE *f, const char *path)
{
	int bad = ferror(f);
	if (f == stdout)
		bad |= fflush(f);
	else
		bad |= fclose(f);
	if (bad)
		return vms_error("cannot write '%s': %s", path,
				 strerror(errno));
	return 0;
}
