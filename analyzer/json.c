/* SPDX-License-Identifier: MIT */
/*
 * The JSON writer declared in json.h: formatting and escaping only, no
 * knowledge of what the reports contain.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "util.h"

void vms_json_init(struct vms_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->has_items[0] = false;
}

static void indent(struct vms_json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void put_string(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c == '\r') {
			fputs("\\r", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c >= 0x80) {
			n = utf8_len(s + i, len - i);
			if (!n) {
				/* Not UTF-8: keep the byte as a Latin-1 code. */
				fprintf(f, "\\u%04x", c);
			} else {
				fwrite(s + i, 1, n, f);
				i += n;
				continue;
			}
		} else {
			fputc(c, f);
		}
		i++;
	}
	fputc('"', f);
}

/* Comma, newline, indentation and key before any value. */
static void begin_value(struct vms_json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->has_items[j->depth])
			fputc(',', j->f);
		j->has_items[j->depth] = true;
		indent(j);
	}
	if (key) {
		put_string(j->f, key, strlen(key));
		fputs(": ", j->f);
	}
}

static void open_container(struct vms_json *j, const char *key, char c)
{
	begin_value(j, key);
	fputc(c, j->f);
	if (j->depth + 1 >= VMS_JSON_MAX_DEPTH)
		vms_die("internal error: JSON nested too deeply");
	j->has_items[++j->depth] = false;
}

static void close_container(struct vms_json *j, char c)
{
	bool had = j->has_items[j->depth];
	if (j->depth == 0)
		vms_die("internal error: unbalanced JSON");
	j->depth--;
	if (had)
		indent(j);
	fputc(c, j->f);
}

void vms_json_object_begin(struct vms_json *j, const char *key)
{
	open_container(j, key, '{');
}

void vms_json_object_end(struct vms_json *j)
{
	close_container(j, '}');
}

void vms_json_array_begin(struct vms_json *j, const char *key)
{
	open_container(j, key, '[');
}

void vms_json_array_end(struct vms_json *j)
{
	close_container(j, ']');
}

void vms_json_string(struct vms_json *j, const char *key, const char *s)
{
	vms_json_stringn(j, key, s, strlen(s));
}

void vms_json_stringn(struct vms_json *j, const char *key, const char *s,
		      size_t len)
{
	begin_value(j, key);
	put_string(j->f, s, len);
}

void vms_json_u64(struct vms_json *j, const char *key, uint64_t v)
{
	begin_value(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void vms_json_i64(struct vms_json *j, const char *key, int64_t v)
{
	begin_value(j, key);
	fprintf(j->f, "%lld", (long long)v);
}

void vms_json_double(struct vms_json *j, const char *key, double v)
{
	begin_value(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.17g", v);
	else
		fputs("null", j->f);
}

void vms_json_bool(struct vms_json *j, const char *key, bool v)
{
	begin_value(j, key);
	fputs(v ? "true" : "false", j->f);
}

void vms_json_null(struct vms_json *j, const char *key)
{
	begin_value(j, key);
	fputs("null", j->f);
}

int vms_json_finish(struct vms_json *j)
{
	if (j->depth != 0)
		vms_die("internal error: unbalanced JSON");
	fputc('\n', j->f);
	if (fflush(j->f) || ferror(j->f))
		return vms_error("cannot write JSON output: %s",
				 strerror(errno ? errno : EIO));
	return 0;
}
