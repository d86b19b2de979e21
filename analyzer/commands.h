/* SPDX-License-Identifier: MIT */
/*
 * The vmspy subcommands.  Each one is `int cmd_<name>(int argc, char **argv)`
 * in analyzer/cmd_<name>.c; argv[0] is the command name, the return value is
 * the process exit code (VMS_EXIT_*).  Adding a command is one line in
 * VMS_COMMANDS below (plus its file); main.c builds its table from it.
 */
#ifndef VMSPY_COMMANDS_H
#define VMSPY_COMMANDS_H

/* Exit codes, shown by `vmspy --help`. */
#define VMS_EXIT_OK 0      /* done, nothing to report */
#define VMS_EXIT_FOUND 1   /* the report found a problem (leaks, threshold) */
#define VMS_EXIT_USAGE 2   /* usage or input error */

/* X(name, arguments, one-line description) */
#define VMS_COMMANDS(X)                                                     \
	X(run, "[-o REC] -- cmd [args]",                                    \
	  "run cmd under the recorder, then print a headline")              \
	X(summary, "REC [--json]",                                          \
	  "totals, peaks and when, calls per API, top allocation sites")    \
	X(leaks, "REC [--json] [options]",                                  \
	  "unfreed blocks at exit by site: lost / reachable, CI exit code") \
	X(maps, "REC [--label L] [--by site]",                              \
	  "every region of the address space at a snapshot, with its origin") \
	X(diff, "OLD NEW [--fail-over T]",                                  \
	  "compare two builds: heap / mmap / shm by call site")             \
	X(timeline, "REC [--svg FILE] [--csv]",                             \
	  "memory over time: heap, mmap, shm, Rss; peaks, snapshot labels") \
	X(flame, "REC [--metric M] [--svg F]",                              \
	  "folded stacks / flame graph by peak, leaked, allocated or calls")

#define VMS_DECLARE_COMMAND(name, args, help) \
	int cmd_##name(int argc, char **argv);
VMS_COMMANDS(VMS_DECLARE_COMMAND)
#undef VMS_DECLARE_COMMAND

#endif /* VMSPY_COMMANDS_H */
