/* SPDX-License-Identifier: MIT */
/*
 * Small shared helpers for the analyzer: error messages, checked allocation,
 * human-readable sizes and a growable string buffer.
 *
 * Library code reports a problem with vms_error() and returns -1; only main()
 * and the cmd_*() functions decide to exit.  vms_die() is for the places where
 * going on is impossible (out of memory) and is the only exit below cmd_*.
 */
#ifndef VMSPY_UTIL_H
#define VMSPY_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define VMS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VMS_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Print "vmspy: <message>" and a newline on stderr.  Returns -1 so that
 * library code can write `return vms_error("...")`. */
int vms_error(const char *fmt, ...) VMS_PRINTF(1, 2);
/* Print "vmspy: warning: <message>" on stderr. */
void vms_warning(const char *fmt, ...) VMS_PRINTF(1, 2);
/* Print "vmspy: <message>" and exit(2).  For impossible-to-continue cases. */
__attribute__((noreturn)) void vms_die(const char *fmt, ...) VMS_PRINTF(1, 2);

/* For the cmd_*() argument parsers: print one line, "vmspy: <message>
 * (usage: vmspy <usage>)", and return 2 (VMS_EXIT_USAGE). */
int vms_usage_error(const char *usage, const char *fmt, ...) VMS_PRINTF(2, 3);

/* Allocation that never returns NULL: out of memory is fatal (vms_die).
 * xrealloc_array(p, n, size) checks n * size for overflow. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xrealloc_array(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Grow *array (of *alloc elements of elem_size bytes) so that it holds at
 * least `need` elements.  Growth is geometric. */
void vms_grow(void **array, size_t *alloc, size_t need, size_t elem_size);
#define VMS_GROW(array, alloc, need) \
	vms_grow((void **)&(array), &(alloc), (need), sizeof(*(array)))

/* Format a byte count for humans: "512 B", "12.4 KiB", "3.0 GiB".  Writes at
 * most `size` bytes (16 is always enough) and returns buf. */
char *vms_human_size(char *buf, size_t size, uint64_t bytes);
#define VMS_HUMAN_SIZE_MAX 16

/* A growable NUL-terminated string.  VMS_STRBUF_INIT or vms_strbuf_init() first;
 * vms_strbuf_release() frees it.  `s` is always a valid C string. */
struct vms_strbuf {
	char *s;
	size_t len;
	size_t alloc;
};
#define VMS_STRBUF_INIT { NULL, 0, 0 }

void vms_strbuf_init(struct vms_strbuf *b);
void vms_strbuf_release(struct vms_strbuf *b);
void vms_strbuf_reset(struct vms_strbuf *b);
void vms_strbuf_add(struct vms_strbuf *b, const void *data, size_t len);
void vms_strbuf_addc(struct vms_strbuf *b, char c);
void vms_strbuf_addstr(struct vms_strbuf *b, const char *s);
void vms_strbuf_addf(struct vms_strbuf *b, const char *fmt, ...) VMS_PRINTF(2, 3);
void vms_strbuf_vaddf(struct vms_strbuf *b, const char *fmt, va_list ap);
/* Append `s` (len bytes, may contain anything) printable: control bytes,
 * quotes and backslashes become C escapes, so a hostile file name cannot
 * garble a terminal or a one-line message. */
void vms_strbuf_add_printable(struct vms_strbuf *b, const char *s, size_t len);
/* Same as a freshly allocated C string (for messages). */
char *vms_printable(const char *s, size_t len);

/* Unescape a format.h text value (\n, \\ and \t) into a new string.
 * Returns NULL on any other escape or a trailing backslash, with *bad_at =
 * the index of that backslash. */
char *vms_unescape(const char *s, size_t len, size_t *bad_at);

/* Parse a whole decimal (or 0x-prefixed hex) string as uint64; -1 if it is
 * empty, has trailing junk, or overflows. */
int vms_parse_number(const char *s, uint64_t *out);

#endif /* VMSPY_UTIL_H */
