/* SPDX-License-Identifier: MIT */
/*
 * Shared analyzer helpers: messages on stderr, allocation that dies on OOM,
 * human sizes, and struct vms_strbuf.  Nothing here knows about recordings.
 */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int vms_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("vmspy: ", fmt, ap);
	va_end(ap);
	return -1;
}

void vms_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("vmspy: warning: ", fmt, ap);
	va_end(ap);
}

void vms_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("vmspy: ", fmt, ap);
	va_end(ap);
	exit(2);
}

int vms_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("vmspy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (usage: vmspy %s)\n", usage);
	return 2;
}

static void *check(void *p, size_t size)
{
	if (!p && size)
		vms_die("out of memory (%zu bytes)", size);
	return p;
}

void *xmalloc(size_t size)
{
	return check(malloc(size ? size : 1), size);
}

void *xcalloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *xrealloc(void *p, size_t size)
{
	return check(realloc(p, size ? size : 1), size);
}

void *xrealloc_array(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		vms_die("out of memory (%zu * %zu bytes)", n, size);
	return xrealloc(p, total);
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void vms_grow(void **array, size_t *alloc, size_t need, size_t elem_size)
{
	size_t n;
	if (need <= *alloc)
		return;
	n = *alloc < 8 ? 8 : *alloc;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			vms_die("out of memory (array of %zu elements)", need);
		n *= 2;
	}
	*array = xrealloc_array(*array, n, elem_size);
	*alloc = n;
}

char *vms_human_size(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
					     "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, size, "%u B", (unsigned)bytes);
		return buf;
	}
	v /= 1024;
	/* Move up a unit when rounding to one decimal would print 1024.0. */
	while (v >= 1023.95 && u + 1 < VMS_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

void vms_strbuf_init(struct vms_strbuf *b)
{
	b->s = NULL;
	b->len = 0;
	b->alloc = 0;
}

void vms_strbuf_release(struct vms_strbuf *b)
{
	free(b->s);
	vms_strbuf_init(b);
}

void vms_strbuf_reset(struct vms_strbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

static void reserve(struct vms_strbuf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		vms_die("out of memory (string of %zu bytes)", b->len);
	VMS_GROW(b->s, b->alloc, b->len + extra + 1);
}

void vms_strbuf_add(struct vms_strbuf *b, const void *data, size_t len)
{
	reserve(b, len);
	if (len)
		memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void vms_strbuf_addc(struct vms_strbuf *b, char c)
{
	vms_strbuf_add(b, &c, 1);
}

void vms_strbuf_addstr(struct vms_strbuf *b, const char *s)
{
	vms_strbuf_add(b, s, strlen(s));
}

void vms_strbuf_vaddf(struct vms_strbuf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	reserve(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void vms_strbuf_addf(struct vms_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vms_strbuf_vaddf(b, fmt, ap);
	va_end(ap);
}

void vms_strbuf_add_printable(struct vms_strbuf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'' || c == '"')
			vms_strbuf_addf(b, "\\%c", c);
		else if (c == '\n')
			vms_strbuf_addstr(b, "\\n");
		else if (c == '\t')
			vms_strbuf_addstr(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			vms_strbuf_addf(b, "\\x%02x", c);
		else
			vms_strbuf_addc(b, (char)c);
	}
	if (!b->s)
		vms_strbuf_add(b, "", 0);
}

char *vms_printable(const char *s, size_t len)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	vms_strbuf_add_printable(&b, s, len);
	return b.s;
}

int vms_parse_number(const char *s, uint64_t *out)
{
	char *end;
	int base = 10;
	unsigned long long v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	}
	/* strtoull accepts a sign and leading spaces: we do not. */
	if (!((*s >= '0' && *s <= '9') ||
	      (base == 16 && ((*s >= 'a' && *s <= 'f') ||
			      (*s >= 'A' && *s <= 'F')))))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

char *vms_unescape(const char *s, size_t len, size_t *bad_at)
{
	char *d = xmalloc(len + 1), *o = d;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		if (i + 1 < len && s[i + 1] == 'n')
			*o++ = '\n';
		else if (i + 1 < len && s[i + 1] == 't')
			*o++ = '\t';
		else if (i + 1 < len && s[i + 1] == '\\')
			*o++ = '\\';
		else {
			free(d);
			*bad_at = i;
			return NULL;
		}
		i++;
	}
	*o = '\0';
	return d;
}
