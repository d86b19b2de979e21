/* SPDX-License-Identifier: MIT */
/*
 * `vmspy run [-o REC] -- cmd args...`: run a command under the recorder.
 *
 * Finds libvmspy.so (next to this binary, or in ../lib/vmspy/), runs the
 * command with LD_PRELOAD and VMSPY_OUT set, keeps its stdin/stdout/stderr
 * and its exit status (a command killed by a signal kills vmspy with the
 * same signal), and then prints where the recording is and a short
 * headline on stderr.  It says plainly when the command cannot be recorded
 * (statically linked, 32-bit, setuid).
 *
 * The recording directory is the recorder's business: when the path is
 * taken (a rerun with the same -o, a leftover of a reused pid) the recorder
 * writes a sibling "<path>.<pid>[.<n>]"; we find the one our child made by
 * the pid in its meta.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "headline.h"
#include "util.h"

static const char run_usage[] = "run [-o REC] [--] cmd [args...]";

#define MAX_SIBLINGS 1000 /* the recorder tries as many names */

/* The preload library that belongs to this vmspy binary, or NULL. */
static char *find_preload(void)
{
	const char *env = getenv("VMSPY_LIB");
	if (env && *env)
		return access(env, R_OK) == 0 ? xstrdup(env) : NULL;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	static const char *const rel[] = { "/libvmspy.so",
					   "/../lib/vmspy/libvmspy.so",
					   "/../lib/libvmspy.so" };
	for (size_t i = 0; i < VMS_ARRAY_SIZE(rel); i++) {
		struct vms_strbuf b = VMS_STRBUF_INIT;
		vms_strbuf_addf(&b, "%s%s", self, rel[i]);
		if (access(b.s, R_OK) == 0)
			return b.s;
		vms_strbuf_release(&b);
	}
	return NULL;
}

static bool is_executable(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

/* The file execvp would run for cmd, or NULL. */
static char *resolve_command(const char *cmd)
{
	if (strchr(cmd, '/'))
		return is_executable(cmd) ? xstrdup(cmd) : NULL;
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		struct vms_strbuf b = VMS_STRBUF_INIT;
		if (end == path)
			vms_strbuf_addstr(&b, ".");
		else
			vms_strbuf_add(&b, path, (size_t)(end - path));
		vms_strbuf_addf(&b, "/%s", cmd);
		if (is_executable(b.s))
			return b.s;
		vms_strbuf_release(&b);
		path = *end ? end + 1 : end;
	}
	return NULL;
}

/* Why LD_PRELOAD cannot record the program at path, or NULL if it can (or
 * we cannot tell: scripts, unreadable files). */
static const char *unrecordable(const char *path)
{
	struct stat st;
	if (stat(path, &st))
		return NULL;
	if (((st.st_mode & S_ISUID) && st.st_uid != getuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getgid()))
		return "it is setuid/setgid, and the loader ignores LD_PRELOAD in secure-execution mode";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	Elf64_Ehdr eh;
	const char *why = NULL;
	/* eh is read twice: the class decides how much of it is valid. */
	if (pread(fd, &eh, sizeof(eh), 0) >= EI_NIDENT &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS32) {
		why = "it is a 32-bit program, and libvmspy.so is 64-bit";
	} else if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phnum < 4096 &&
	    eh.e_phentsize == sizeof(Elf64_Phdr)) {
		int interp = 0;
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof(ph),
				  (off_t)(eh.e_phoff + i * sizeof(ph))) !=
			    (ssize_t)sizeof(ph))
				break;
			if (ph.p_type == PT_INTERP)
				interp = 1;
		}
		if (!interp)
			why = "it is statically linked, so there is no dynamic loader to preload libvmspy.so";
	}
	close(fd);
	return why;
}

/* LD_PRELOAD with lib first, keeping what the user had. */
static char *preload_value(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	struct vms_strbuf b = VMS_STRBUF_INIT;
	vms_strbuf_addstr(&b, lib);
	if (old && *old)
		vms_strbuf_addf(&b, ":%s", old);
	return b.s;
}

/* VMSPY_OUT for the child: absolute (the program may chdir), without
 * trailing slashes (the recorder strips them too). */
static char *output_root(const char *out, const char *cmd)
{
	struct vms_strbuf b = VMS_STRBUF_INIT;
	char cwd[PATH_MAX];

	if ((!out || out[0] != '/') && getcwd(cwd, sizeof(cwd)))
		vms_strbuf_addf(&b, "%s/", strcmp(cwd, "/") ? cwd : "");
	if (out) {
		vms_strbuf_addstr(&b, out);
	} else {
		/* The recorder's own default, with vmspy's pid: the child's
		 * is not known yet.  Taken names get the child's pid. */
		const char *base = strrchr(cmd, '/');
		base = base ? base + 1 : cmd;
		vms_strbuf_addf(&b, "vmspy.%s.%d", *base ? base : "app",
				(int)getpid());
	}
	while (b.len > 1 && b.s[b.len - 1] == '/')
		b.s[--b.len] = 0;
	return b.s;
}

/* Whether the recording at path was made by process pid as its first
 * image (an exec'd image names a predecessor). */
static bool made_by(const char *path, pid_t pid)
{
	char *p = vms_meta_value(path, "pid");
	char *pred = vms_meta_value(path, "predecessor");
	uint64_t v;
	bool yes = p && !vms_parse_number(p, &v) && v == (uint64_t)pid &&
		   !pred;
	free(p);
	free(pred);
	return yes;
}

/* The recording the child made: root, or the sibling the recorder picked
 * when root was taken (recorder.c make_dir), or NULL. */
static char *find_recording(const char *root, pid_t pid)
{
	if (made_by(root, pid))
		return xstrdup(root);
	for (unsigned n = 0; n < MAX_SIBLINGS; n++) {
		struct vms_strbuf b = VMS_STRBUF_INIT;
		struct stat st;
		vms_strbuf_addf(&b, "%s.%d", root, (int)pid);
		if (n)
			vms_strbuf_addf(&b, ".%u", n);
		if (stat(b.s, &st)) {
			vms_strbuf_release(&b);
			break;
		}
		if (made_by(b.s, pid))
			return b.s;
		vms_strbuf_release(&b);
	}
	return NULL;
}

static void help(void)
{
	printf("usage: vmspy %s\n\n"
	       "Run cmd with libvmspy.so preloaded (found next to the vmspy "
	       "binary, or in\n../lib/vmspy/; VMSPY_LIB overrides), keeping "
	       "its stdin, stdout, stderr\nand exit status, then print on "
	       "stderr where the recording is, peak heap,\npeak mmap and "
	       "leaks.  VMSPY_* variables of the environment apply.\n\n"
	       "  -o REC  the recording directory (default "
	       "./vmspy.<cmd>.<pid>; when it\n"
	       "          exists, the recorder writes REC.<pid> next to "
	       "it)\n\n"
	       "exit: the command's status (127 when it cannot be run); a "
	       "command killed\nby a signal kills vmspy with the same "
	       "signal; 2 for a usage error\n", run_usage);
}

int cmd_run(int argc, char **argv)
{
	const char *out = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help();
			return VMS_EXIT_OK;
		}
		if (!strcmp(argv[i], "-o")) {
			if (++i == argc)
				return vms_usage_error(run_usage,
						       "run: -o needs a recording "
						       "path");
			out = argv[i];
		} else if (!strncmp(argv[i], "-o", 2)) {
			out = argv[i] + 2;
		} else if (argv[i][0] == '-') {
			return vms_usage_error(run_usage, "run: unknown option "
					       "'%s'", argv[i]);
		} else {
			break;
		}
	}
	if (i >= argc)
		return vms_usage_error(run_usage, "run: no command to run");
	if (out && !*out)
		return vms_usage_error(run_usage, "run: empty -o path");
	char **cmd = argv + i;

	char *exe = resolve_command(cmd[0]);
	if (!exe) {
		vms_error("cannot run '%s': command not found", cmd[0]);
		return 127;
	}
	const char *why = unrecordable(exe);
	char *lib = why ? NULL : find_preload();
	if (!why && !lib)
		why = "libvmspy.so was not found next to the vmspy binary (set VMSPY_LIB)";
	if (why)
		vms_warning("'%s' runs without recording: %s", cmd[0], why);
	char *root = lib ? output_root(out, cmd[0]) : NULL;
	char *preload = lib ? preload_value(lib) : NULL;

	/* Like system(): the terminal's ^C and ^\ go to the command; we stay
	 * to report.  SIGCHLD must not be ignored, or the child is reaped
	 * behind our back and its status lost. */
	struct sigaction ign = { .sa_handler = SIG_IGN };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct sigaction old_int, old_quit, old_chld;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGCHLD, &dfl, &old_chld);

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		vms_error("cannot fork: %s", strerror(errno));
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		sigaction(SIGCHLD, &old_chld, NULL);
		free(root);
		free(preload);
		free(lib);
		free(exe);
		return VMS_EXIT_USAGE;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		sigaction(SIGCHLD, &old_chld, NULL);
		if (lib) {
			setenv("LD_PRELOAD", preload, 1);
			setenv("VMSPY_OUT", root, 1);
			setenv("VMSPY_QUIET", "1", 1);
		}
		execv(exe, cmd);
		fprintf(stderr, "vmspy: cannot run '%s': %s\n", cmd[0],
			strerror(errno));
		_exit(127);
	}
	int status = 0;
	pid_t w;
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
	if (w < 0) {
		vms_error("cannot wait for '%s': %s", cmd[0], strerror(errno));
		status = VMS_EXIT_USAGE << 8;
	}

	if (lib) {
		char *rec = find_recording(root, pid);
		if (rec)
			vms_print_headline(stderr, rec);
		else
			fprintf(stderr, "vmspy: nothing was recorded at %s "
				"(the command did not start, or recording "
				"failed: see above)\n", root);
		free(rec);
	}
	free(root);
	free(preload);
	free(lib);
	free(exe);
	if (WIFSIGNALED(status)) {
		/* Die the same way, without a core file of our own. */
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		sigset_t set;
		signal(WTERMSIG(status), SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, WTERMSIG(status));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		fflush(NULL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : VMS_EXIT_USAGE;
}
