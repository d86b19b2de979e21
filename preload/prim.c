/* SPDX-License-Identifier: MIT */
/*
 * Raw system calls and small helpers for the recorder (contracts in prim.h).
 * Runs inside the host's hooks: no allocation, no locks, no stdio, and no
 * call through a symbol that vmspy itself interposes.
 */
#include "prim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *vms_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		   off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int vms_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

void *vms_sys_mremap(void *old, size_t old_len, size_t new_len, int flags,
		     void *new_addr)
{
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags,
			       new_addr);
}

int vms_sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

int vms_sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

int vms_sys_open(const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int vms_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

ssize_t vms_sys_read(int fd, void *buf, size_t len)
{
	ssize_t n;
	do
		n = syscall(SYS_read, fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

int vms_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = syscall(SYS_write, fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vms_sys_mkdir(const char *path, int mode)
{
	return (int)syscall(SYS_mkdirat, AT_FDCWD, path, mode);
}

ssize_t vms_sys_readlink(const char *path, char *buf, size_t len)
{
	return syscall(SYS_readlinkat, AT_FDCWD, path, buf, len);
}

int vms_sys_fstat_ids(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	if (syscall(SYS_fstat, fd, &st))
		return -1;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

pid_t vms_sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

pid_t vms_sys_getpid(void)
{
	return (pid_t)syscall(SYS_getpid);
}

pid_t vms_sys_getppid(void)
{
	return (pid_t)syscall(SYS_getppid);
}

int vms_thread_is_dead(pid_t pid, pid_t tid)
{
	int saved = errno;
	int dead = syscall(SYS_tgkill, pid, tid, 0) < 0 && errno == ESRCH;
	errno = saved;
	return dead;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t vms_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t vms_now_coarse_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

uint64_t vms_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void vms_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (syscall(SYS_nanosleep, &ts, &ts) < 0 && errno == EINTR)
		;
}

void vms_note(const char *first, ...)
{
	char line[512];
	struct vms_buf b = { line, 0, sizeof(line) - 1, 0 };
	int saved = errno;
	va_list ap;
	vms_buf_str(&b, "vmspy: ");
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		vms_buf_str(&b, s);
	va_end(ap);
	line[b.len++] = '\n';
	(void)vms_write_all(2, line, b.len);
	errno = saved;
}

size_t vms_fmt_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

size_t vms_fmt_hex(char *p, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0;
	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

void vms_buf_add(struct vms_buf *b, const char *s, size_t n)
{
	if (n > b->cap - b->len) {
		n = b->cap - b->len;
		b->overflow = 1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void vms_buf_str(struct vms_buf *b, const char *s)
{
	vms_buf_add(b, s, strlen(s));
}

void vms_buf_u64(struct vms_buf *b, uint64_t v)
{
	char tmp[20];
	vms_buf_add(b, tmp, vms_fmt_u64(tmp, v));
}

void vms_buf_hex(struct vms_buf *b, uint64_t v)
{
	char tmp[16];
	vms_buf_add(b, tmp, vms_fmt_hex(tmp, v));
}

void vms_buf_escaped(struct vms_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			vms_buf_add(b, "\\\\", 2);
		else if (*s == '\n')
			vms_buf_add(b, "\\n", 2);
		else if (*s == '\t')
			vms_buf_add(b, "\\t", 2);
		else
			vms_buf_add(b, s, 1);
	}
}

int vms_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

ssize_t vms_read_small(const char *path, char *buf, size_t cap)
{
	int fd = vms_sys_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t n = vms_sys_read(fd, buf, cap - 1);
	vms_sys_close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return n;
}

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

int vms_punch_hole(int fd, uint64_t off, uint64_t len)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)off, (off_t)len);
}

int vms_read_number(const char *path, const char *key, uint64_t *out)
{
	char buf[4096];
	if (vms_read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	size_t klen = strlen(key);
	for (const char *line = buf; line && *line;) {
		if (!strncmp(line, key, klen) &&
		    (line[klen] == ' ' || line[klen] == '\t')) {
			const char *t = line + klen;
			uint64_t v = 0;
			while (*t == ' ' || *t == '\t')
				t++;
			if (*t < '0' || *t > '9')
				return -1;
			for (; *t >= '0' && *t <= '9'; t++)
				v = v * 10 + (uint64_t)(*t - '0');
			*out = v;
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

static int parse_hex(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *q = *p;
	for (; q < end; q++) {
		unsigned d;
		if (*q >= '0' && *q <= '9')
			d = (unsigned)(*q - '0');
		else if (*q >= 'a' && *q <= 'f')
			d = (unsigned)(*q - 'a' + 10);
		else
			break;
		v = v << 4 | d;
	}
	if (q == *p)
		return -1;
	*p = q;
	*out = v;
	return 0;
}

int vms_maps_next(const char **p, const char *end, struct vms_maps_entry *e)
{
	const char *line = *p;
	if (line >= end)
		return -1;
	const char *eol = memchr(line, '\n', (size_t)(end - line));
	if (!eol)
		eol = end;
	*p = eol < end ? eol + 1 : end;
	const char *q = line;
	/* "lo-hi perms offset dev inode   path" */
	if (parse_hex(&q, eol, &e->lo) || q >= eol || *q++ != '-' ||
	    parse_hex(&q, eol, &e->hi) || eol - q < 5 || *q++ != ' ' ||
	    e->hi <= e->lo)
		return 0;
	memcpy(e->perms, q, 4);
	for (int field = 0; field < 4 && q < eol; field++) {
		while (q < eol && *q != ' ')
			q++;
		while (q < eol && *q == ' ')
			q++;
	}
	e->path = q;
	e->path_len = (size_t)(eol - q);
	return 1;
}
