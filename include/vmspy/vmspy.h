/* SPDX-License-Identifier: MIT */
/*
 * Optional API an application may call while it runs under vmspy.
 *
 * Everything here is safe to call without the preload: the symbols are weak
 * references, so a program built against this header runs unchanged (the
 * calls do nothing) when libvmspy.so is not loaded.
 */
#ifndef VMSPY_VMSPY_H
#define VMSPY_VMSPY_H

#ifdef __cplusplus
extern "C" {
#endif

/* Take a labelled snapshot of /proc/self/smaps and the loaded modules now.
 * The label (up to 200 bytes are kept) names the snapshot in `vmspy maps
 * --label` and in timelines.  A no-op without the preload. */
extern void vmspy_snapshot(const char *label) __attribute__((weak));
#define vmspy_snapshot(label) \
	(vmspy_snapshot ? vmspy_snapshot(label) : (void)0)

#ifdef __cplusplus
}
#endif

#endif /* VMSPY_VMSPY_H */
