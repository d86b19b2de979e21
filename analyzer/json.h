/* SPDX-License-Identifier: MIT */
/*
 * A tiny streaming JSON writer for the --json forms of the reports.
 *
 * Calls nest like the document: every value takes a key, which must be NULL
 * inside arrays and at the top level and non-NULL inside objects.  Commas,
 * indentation (two spaces) and string escaping are handled here; strings are
 * written as valid JSON even when they hold arbitrary bytes (control bytes
 * and invalid UTF-8 become \u00XX escapes).  Nothing is allocated.
 */
#ifndef VMSPY_JSON_H
#define VMSPY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VMS_JSON_MAX_DEPTH 32

struct vms_json {
	FILE *f;
	int depth;
	bool has_items[VMS_JSON_MAX_DEPTH];
};

void vms_json_init(struct vms_json *j, FILE *f);
void vms_json_object_begin(struct vms_json *j, const char *key);
void vms_json_object_end(struct vms_json *j);
void vms_json_array_begin(struct vms_json *j, const char *key);
void vms_json_array_end(struct vms_json *j);
void vms_json_string(struct vms_json *j, const char *key, const char *s);
void vms_json_stringn(struct vms_json *j, const char *key, const char *s,
		      size_t len);
void vms_json_u64(struct vms_json *j, const char *key, uint64_t v);
void vms_json_i64(struct vms_json *j, const char *key, int64_t v);
void vms_json_double(struct vms_json *j, const char *key, double v);
void vms_json_bool(struct vms_json *j, const char *key, bool v);
void vms_json_null(struct vms_json *j, const char *key);
/* End the document with a newline.  Returns -1 (after vms_error) when the
 * stream had a write error, else 0. */
int vms_json_finish(struct vms_json *j);

#endif /* VMSPY_JSON_H */
