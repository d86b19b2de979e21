/* SPDX-License-Identifier: MIT */
/*
 * Small helpers for the standalone SVG files the reports write (timeline,
 * flame graph): XML-safe text, axis ticks in round human units, output
 * files.  The SVGs need nothing else: no scripts, no external fonts or
 * stylesheets, so they open in any browser and convert with rsvg-convert.
 */
#ifndef VMSPY_SVG_H
#define VMSPY_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* Append s as XML character data / attribute text: & < > " ' escaped,
 * control bytes and invalid UTF-8 replaced by '?' (an XML parser rejects
 * both), so any recorded name gives a well-formed file. */
void vms_svg_escape(struct vms_strbuf *b, const char *s);
void vms_svg_escapen(struct vms_strbuf *b, const char *s, size_t len);

/* A tick step for an axis from 0 to max with at most max_ticks steps:
 * bytes: a power of two (so labels are round KiB / MiB / GiB);
 * other values: 1, 2 or 5 times a power of ten.  max 0 gives 1. */
uint64_t vms_svg_bytes_step(uint64_t max, int max_ticks);
double vms_svg_step(double max, int max_ticks);

/* "0", "512 KiB", "1.5 MiB": like vms_human_size without a useless ".0". */
char *vms_svg_bytes_label(char *buf, size_t len, uint64_t bytes);

/* Open path for writing ("-" is stdout).  NULL after vms_error. */
FILE *vms_svg_open(const char *path);
/* Close what vms_svg_open returned; -1 after vms_error when a write
 * failed. */
int vms_svg_close(FILE *f, const char *path);

#endif /* VMSPY_SVG_H */
