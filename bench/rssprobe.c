/* SPDX-License-Identifier: MIT */
/*
 * rssprobe: a tiny LD_PRELOAD library for the benchmark.  At exit it
 * appends "<pid> <VmHWM KiB> <exe>" to the file named by $BENCH_RSS_FILE,
 * so bench.py learns the peak RSS of the profiled program itself:
 *  - under heaptrack, whose script runs the app as a grandchild beside its
 *    interpreter and compressor, wait4's rusage gives the biggest process
 *    of that tree;
 *  - ru_maxrss is not reset by exec: a child forked (or vforked) by the
 *    ~20 MiB Python driver starts with the driver's RSS as its floor.
 *    VmHWM belongs to the address space, which exec replaces.
 * Loaded in every mode, native included, so the three runs stay alike.
 * No allocation: plain system calls into stack buffers.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* VmHWM from /proc/self/status in KiB, or -1. */
static long vm_hwm_kb(void)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	const char *p = strstr(buf, "\nVmHWM:");
	return p ? strtol(p + 7, NULL, 10) : -1;
}

__attribute__((destructor)) static void rssprobe_report(void)
{
	const char *path = getenv("BENCH_RSS_FILE");
	if (!path)
		return;
	long kb = vm_hwm_kb();
	if (kb < 0)
		return;
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	char line[640];
	int len = snprintf(line, sizeof(line), "%d %ld %s\n", (int)getpid(),
			   kb, exe);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (len > 0 && write(fd, line, (size_t)len) < 0) {
		/* nothing to do: the benchmark falls back to wait4's rusage */
	}
	close(fd);
}
