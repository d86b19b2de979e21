/* SPDX-License-Identifier: MIT */
/*
 * vmspy's entry point: global options, the command table, help text.  Every
 * report lives in its own cmd_<name>.c; nothing here reads a recording.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "util.h"
#include "vmspy/format.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

#define VMS_TABLE_ENTRY(name, args, help) { #name, cmd_##name, args, help },
static const struct command commands[] = { VMS_COMMANDS(VMS_TABLE_ENTRY) };
#undef VMS_TABLE_ENTRY

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < VMS_ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmspy <command> [args]\n"
		"       vmspy --help | --version\n"
		"\n"
		"Where did my memory go, and who asked for it?  Record a program\n"
		"with LD_PRELOAD=libvmspy.so, then read the recording.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < VMS_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n  %-9s   %s\n", commands[i].name,
			commands[i].args, "", commands[i].help);
	fprintf(f,
		"\n"
		"recording (environment of the recorded program):\n"
		"  VMSPY_OUT          recording directory (default "
		"vmspy.<exe>.<pid>)\n"
		"  VMSPY_DEPTH        call stack depth limit (default 64)\n"
		"  VMSPY_INTERVAL_MS  smaps snapshot interval in ms (default 1000)\n"
		"  VMSPY_FOLLOW       record forked / exec'd children (default 1)\n"
		"  VMSPY_QUIET        no note on stderr when recording starts\n"
		"  VMSPY_LEAK_SCAN    scan for reachable blocks at exit (default 1)\n"
		"  VMSPY_REDACT_ARGV  do not store the program's arguments\n"
		"  VMSPY_SAMPLE_BYTES record one allocation per N bytes on average\n"
		"                     (default 0: every allocation)\n"
		"  VMSPY_CHUNK_KB     log chunk size per thread (default 256)\n"
		"  VMSPY_COMPRESS     1 = compress sealed log chunks with zstd\n"
		"                     (default 1; 0 = raw logs)\n"
		"  VMSPY_COMPRESS_LEVEL  zstd level, -100..9 (default 1)\n"
		"  Bad values: one line on stderr, the default is used.\n"
		"\n"
		"analysis:\n"
		"  DEBUGINFOD_URLS    unset by vmspy unless VMSPY_DEBUGINFOD=1, so\n"
		"                     symbols never wait on the network\n"
		"  VMSPY_NO_PROGRESS  no progress line on a terminal (shown when\n"
		"                     reading a recording takes over a second)\n"
		"  VMSPY_ANALYZER_THREADS  1: one thread; 2: also decode a big recording\n"
		"                     on a helper thread (default: read debug info on\n"
		"                     a helper thread when a CPU is idle)\n"
		"\n"
		"exit codes:\n"
		"  0  ok\n"
		"  1  the report found a problem (leaks, threshold exceeded)\n"
		"  2  usage or input error\n");
}

int main(int argc, char **argv)
{
	const struct command *c;
	const char *name;

	/* elfutils would fetch missing debug info over the network: a report
	 * must not hang on that unless asked to. */
	if (!getenv("VMSPY_DEBUGINFOD") || strcmp(getenv("VMSPY_DEBUGINFOD"), "1"))
		unsetenv("DEBUGINFOD_URLS");

	if (argc < 2) {
		usage(stderr);
		return VMS_EXIT_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") ||
	    (!strcmp(name, "help") && argc == 2)) {
		usage(stdout);
		return VMS_EXIT_OK;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("vmspy %s (recording format %d)\n", VMS_VERSION_STRING,
		       VMS_FORMAT_VERSION);
		return VMS_EXIT_OK;
	}
	if (!strcmp(name, "help")) {
		/* "vmspy help summary" is "vmspy summary --help". */
		char *help_argv[] = { argv[2], "--help", NULL };
		if (!(c = find_command(argv[2]))) {
			vms_error("unknown command '%s' (see 'vmspy --help')",
				  argv[2]);
			return VMS_EXIT_USAGE;
		}
		return c->fn(2, help_argv);
	}
	if (name[0] == '-') {
		vms_error("unknown option '%s' (see 'vmspy --help')", name);
		return VMS_EXIT_USAGE;
	}
	c = find_command(name);
	if (!c) {
		vms_error("unknown command '%s' (see 'vmspy --help')", name);
		return VMS_EXIT_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}
