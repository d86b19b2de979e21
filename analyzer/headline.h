/* SPDX-License-Identifier: MIT */
/*
 * The few lines `vmspy run` prints after the program ends: where the
 * recording is, then peak heap, peak mmap and leaks.  Uses the same replay
 * and leak classification as `vmspy summary` and `vmspy leaks`.
 */
#ifndef VMSPY_HEADLINE_H
#define VMSPY_HEADLINE_H

#include <stdio.h>

/* The unescaped value of `key` in rec_path/meta (first 16 KiB), or NULL
 * when the file or the key is missing.  The caller frees it. */
char *vms_meta_value(const char *rec_path, const char *key);

/* The recording of the image that the process of rec_path exec'd into:
 * a sibling recording (same directory, same name up to ".<pid>...") whose
 * meta names rec_path as its predecessor.  A malloc'd path, or NULL. */
char *vms_exec_successor(const char *rec_path);

/* Print the headline of the recording at rec_path to f, every line
 * prefixed "vmspy: ".  When the program exec'd (a wrapper script, a
 * launcher), the headline is about the last image of the exec chain.
 * A recording that cannot be read gives one line
 * saying why.  Returns 0, or -1 when the recording could not be read. */
int vms_print_headline(FILE *f, const char *rec_path);

#endif /* VMSPY_HEADLINE_H */
