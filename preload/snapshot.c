/* SPDX-License-Identifier: MIT */
/*
 * smaps + module snapshots and the interval sampler (contract in
 * snapshot.h).  Off the hot path, but may run inside a hook (dlopen) or
 * while another thread holds malloc's lock: raw syscalls only, no malloc.
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "compress.h"
#include "config.h"
#include "ownmaps.h"
#include "real.h"
#include "recorder.h"

#define BUF_SIZE (256 * 1024)

static uint32_t snap_count;
static volatile int snapshots_failed;
static uintptr_t sampler_lo, sampler_hi;
#define SAMPLER_STACK (256 * 1024)
static void *sampler_stack; /* its mapping, guard page first */
static size_t sampler_stack_len;

/* Only when no thread runs on it. */
static void sampler_stack_free(void)
{
	if (sampler_stack)
		vms_sys_munmap(sampler_stack, sampler_stack_len);
	sampler_stack = NULL;
	sampler_lo = sampler_hi = 0;
}
static int sampler_started;
/* Snapshots in progress, and the switch that lets no new one start (see
 * vms_snapshot_close): seq_cst both, so a snapshot that starts either sees
 * the switch or is seen by the closer. */
static int snaps_busy, snaps_closed;

/* ---- build-ids ---------------------------------------------------------- */

static void hex_bytes(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

static void build_id_of(const struct dl_phdr_info *info,
			char out[VMS_BUILD_ID_HEX])
{
	out[0] = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr +
						     ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const void *)p;
			size_t name = (nh->n_namesz + 3) & ~3u;
			size_t desc = (nh->n_descsz + 3) & ~3u;
			const uint8_t *d = p + sizeof(*nh) + name;
			if (d + nh->n_descsz > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID &&
			    nh->n_namesz == 4 &&
			    !memcmp(p + sizeof(*nh), "GNU", 4) &&
			    nh->n_descsz <= 64) {
				hex_bytes(out, d, nh->n_descsz);
				return;
			}
			p = d + desc;
		}
	}
}

struct find_bias {
	uintptr_t bias;
	char *out;
};

static int find_bias_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct find_bias *f = data;
	if (info->dlpi_addr != f->bias)
		return 0;
	build_id_of(info, f->out);
	return 1;
}

void vms_module_build_id(uintptr_t bias, char out[VMS_BUILD_ID_HEX])
{
	struct find_bias f = { bias, out };
	out[0] = 0;
	dl_iterate_phdr(find_bias_cb, &f);
}

/* ---- snapshot files ----------------------------------------------------- */

/* The text is built in one buffer.  Streaming (grow 0): a full buffer is
 * written to the file as plain text.  Compressing (grow 1): the buffer
 * grows instead and holds the whole text, compressed at the end; when it
 * cannot grow, the writer falls back to streaming plain text. */
struct writer {
	int fd;
	int failed;
	int grow;
	struct vms_buf b;
	size_t map_len;     /* bytes mapped at b.p */
};

static void flush(struct writer *w)
{
	if (w->grow) {
		size_t len = w->map_len * 2;
		void *p = vms_sys_mremap(w->b.p, w->map_len, len,
					 MREMAP_MAYMOVE, NULL);
		if (p != MAP_FAILED) {
			vms_own_remove(w->b.p);
			vms_own_add(p, len, "snapshot buffer");
			w->b.p = p;
			w->b.cap = len;
			w->map_len = len;
			return;
		}
		w->grow = 0; /* plain text from here on, the same bytes */
	}
	if (w->b.len && !w->failed && vms_write_all(w->fd, w->b.p, w->b.len))
		w->failed = 1;
	w->b.len = 0;
	w->b.overflow = 0;
}

/* Keeps at least need bytes free in the buffer. */
static void need(struct writer *w, size_t n)
{
	if (w->b.cap - w->b.len < n)
		flush(w);
}

static int module_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct writer *w = data;
	const char *path = info->dlpi_name;
	char build_id[VMS_BUILD_ID_HEX];
	if (!path || !*path)
		path = vms_self.exe; /* the main program */
	build_id_of(info, build_id);
	need(w, 2 * PATH_MAX + 256 + 64 * (size_t)info->dlpi_phnum);
	vms_buf_str(&w->b, "module ");
	vms_buf_hex(&w->b, info->dlpi_addr);
	vms_buf_str(&w->b, " ");
	vms_buf_str(&w->b, build_id[0] ? build_id : "-");
	vms_buf_str(&w->b, " ");
	vms_buf_escaped(&w->b, path);
	vms_buf_str(&w->b, "\n");
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		char perms[3] = { ph->p_flags & PF_R ? 'r' : '-',
				  ph->p_flags & PF_W ? 'w' : '-',
				  ph->p_flags & PF_X ? 'x' : '-' };
		vms_buf_str(&w->b, "segment ");
		vms_buf_hex(&w->b, lo);
		vms_buf_str(&w->b, " ");
		vms_buf_hex(&w->b, lo + ph->p_memsz);
		vms_buf_str(&w->b, " ");
		vms_buf_add(&w->b, perms, 3);
		vms_buf_str(&w->b, "\n");
	}
	return 0;
}

/* ---- page residency ---------------------------------------------------- */

/* Pages of [lo, hi) that are present or swapped, from /proc/self/pagemap,
 * as a "pagemap" line with a bitmap. */
static void write_residency(struct writer *w, int pm, uint64_t lo,
			    uint64_t hi, uint64_t *ents, size_t cap)
{
	const uint64_t page = 4096;
	uint64_t npages = (hi - lo) / page, resident = 0;
	/* First pass counts, second writes the bitmap: the line's count
	 * comes before the bitmap. */
	for (int pass = 0; pass < 2; pass++) {
		unsigned nib = 0, nbits = 0;
		for (uint64_t done = 0; done < npages;) {
			size_t n = npages - done < cap ? npages - done : cap;
			off_t off = (off_t)((lo / page + done) * 8);
			ssize_t got = pread(pm, ents, n * 8, off);
			if (got <= 0)
				return;
			n = (size_t)got / 8;
			for (size_t i = 0; i < n; i++) {
				int present = (ents[i] >> 62) & 3 ? 1 : 0;
				if (!pass) {
					resident += (uint64_t)present;
					continue;
				}
				nib |= (unsigned)present << nbits;
				if (++nbits == 4) {
					need(w, 2);
					vms_buf_add(&w->b, &"0123456789abcdef"[nib], 1);
					nib = nbits = 0;
				}
			}
			done += n;
		}
		if (!pass) {
			need(w, 128);
			vms_buf_str(&w->b, "pagemap ");
			vms_buf_hex(&w->b, lo);
			vms_buf_str(&w->b, " ");
			vms_buf_hex(&w->b, hi);
			vms_buf_str(&w->b, " ");
			vms_buf_u64(&w->b, resident);
			vms_buf_str(&w->b, " ");
		} else {
			if (nbits) {
				need(w, 2);
				vms_buf_add(&w->b, &"0123456789abcdef"[nib], 1);
			}
			need(w, 2);
			vms_buf_str(&w->b, "\n");
		}
	}
}

/* A "pagemap" line for every private anonymous writable region and the
 * brk heap: where per-call-site resident memory comes from. */
static void write_pagemaps(struct writer *w)
{
	size_t maps_cap = 4 << 20, ents_cap = 64 * 1024;
	char *maps = vms_sys_mmap(NULL, maps_cap + ents_cap * 8,
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (maps == MAP_FAILED)
		return;
	uint64_t *ents = (uint64_t *)(void *)(maps + maps_cap);
	vms_own_add(maps, maps_cap + ents_cap * 8, "snapshot buffer");
	int fd = vms_sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	int pm = vms_sys_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	size_t len = 0;
	if (fd >= 0) {
		ssize_t n;
		while (len < maps_cap - 1 &&
		       (n = vms_sys_read(fd, maps + len, maps_cap - 1 - len)) > 0)
			len += (size_t)n;
	}
	struct vms_maps_entry e;
	const char *at = maps;
	int r;
	while (pm >= 0 && (r = vms_maps_next(&at, maps + len, &e)) >= 0) {
		int rw = r && e.perms[0] == 'r' && e.perms[1] == 'w' &&
			 e.perms[3] == 'p';
		if (rw && (!e.path_len || (e.path_len == 6 &&
					   !memcmp(e.path, "[heap]", 6))))
			write_residency(w, pm, e.lo, e.hi, ents, ents_cap);
	}
	if (fd >= 0)
		vms_sys_close(fd);
	if (pm >= 0)
		vms_sys_close(pm);
	vms_own_remove(maps);
	vms_sys_munmap(maps, maps_cap + ents_cap * 8);
}

static void copy_file(struct writer *w, const char *path)
{
	int fd = vms_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		w->failed = 1;
		return;
	}
	for (;;) {
		if (w->b.cap - w->b.len < 4096)
			flush(w);
		ssize_t n = vms_sys_read(fd, w->b.p + w->b.len,
					 w->b.cap - w->b.len);
		if (n <= 0)
			break;
		w->b.len += (size_t)n;
	}
	vms_sys_close(fd);
}

static void own_line(uintptr_t lo, uintptr_t hi, const char *what, void *arg)
{
	struct vms_buf *b = arg;
	vms_buf_str(b, "recorder_map ");
	vms_buf_hex(b, lo);
	vms_buf_str(b, " ");
	vms_buf_hex(b, hi);
	vms_buf_str(b, " ");
	vms_buf_str(b, what);
	vms_buf_str(b, "\n");
}

/* ---- compression ---------------------------------------------------------
 *
 * A snapshot is compressed against the text of the one before it (zstd's
 * reference prefix): smaps hardly changes between two snapshots, so a
 * second one costs a kilobyte or two instead of ~10 (format.h, "Compressed
 * snapshots").  One snapshot at a time does so: a snapshot that finds
 * another one in progress waits for it (one takes ~2 ms) for at most
 * ZS_WAIT_MS, then writes plain text; the text of the last one written
 * stays mapped as the next one's reference. */

/* Every KEY_EVERY-th compressed snapshot has no reference: a reader that
 * wants one snapshot decompresses at most that many. */
#define KEY_EVERY 64
#define SNAP_ZLEVEL 1 /* as small as 3 with a reference, 1.5x faster */
#define SNAP_WINDOW_LOG_MAX 27 /* what a decoder accepts by default */

static struct {
	int lock;
	void *work;         /* the compression context's workspace */
	size_t work_len;
	char *ref;          /* the text of snapshot ref_index, NULL: none */
	size_t ref_len, ref_map;
	uint32_t ref_index;
	uint32_t chain;     /* references since the last snapshot without */
} zs;

#define ZS_WAIT_MS 20

static int zs_try_lock(void)
{
	int free_ = 0;
	return vms_atomic_cas_acq_rel(&zs.lock, &free_, 1);
}

/* Bounded: the holder may be this very thread (a snapshot asked from a
 * signal handler that interrupted one). */
static int zs_lock(void)
{
	for (unsigned i = 0; i < ZS_WAIT_MS; i++) {
		if (zs_try_lock())
			return 1;
		vms_sleep_ms(1);
	}
	return zs_try_lock();
}

static void zs_drop_ref(void)
{
	if (zs.ref) {
		vms_own_remove(zs.ref);
		vms_sys_munmap(zs.ref, zs.ref_map);
	}
	zs.ref = NULL;
	zs.ref_len = zs.ref_map = 0;
	zs.chain = 0;
}

static unsigned log2_up(uint64_t v)
{
	unsigned l = 0;
	while (l < 63 && ((uint64_t)1 << l) < v)
		l++;
	return l;
}

/* Writes text[0, len) to fd as a compressed snapshot: a skippable frame
 * naming the reference, then one zstd frame.  Returns 0, or -1 with
 * nothing written (then the caller writes plain text). */
static int write_compressed(int fd, uint32_t index, const char *text,
			    size_t len, int *write_failed)
{
	const char *ref = NULL;
	size_t ref_len = 0;
	if (zs.ref && zs.chain + 1 < KEY_EVERY && zs.ref_index < index) {
		ref = zs.ref;
		ref_len = zs.ref_len;
	}
	/* The largest tables of the level (those of an unknown size), with a
	 * window over the reference and the text: zstd shrinks both to what
	 * it needs, never grows them past this workspace. */
	unsigned wlog = log2_up((uint64_t)len + ref_len);
	if (wlog < ZSTD_WINDOWLOG_MIN)
		wlog = ZSTD_WINDOWLOG_MIN;
	if (wlog > SNAP_WINDOW_LOG_MAX)
		wlog = SNAP_WINDOW_LOG_MAX;
	size_t pg = 4096;
	if (!zs.work) {
		/* Made once and kept (its pages fault in once, not at every
		 * snapshot): the largest tables of the level (those of an
		 * unknown size) and the largest window.  zstd shrinks both
		 * to what a snapshot needs, never grows them past this. */
		ZSTD_compressionParameters cp = ZSTD_getCParams(
			SNAP_ZLEVEL, ZSTD_CONTENTSIZE_UNKNOWN, 0);
		cp.windowLog = SNAP_WINDOW_LOG_MAX;
		size_t work = (ZSTD_estimateCCtxSize_usingCParams(cp) + pg -
			       1) & ~(pg - 1);
		void *w = vms_sys_mmap(NULL, work, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS |
					       MAP_NORESERVE,
				       -1, 0);
		if (w == MAP_FAILED)
			return -1;
		vms_own_add(w, work, "snapshot compressor");
		zs.work = w;
		zs.work_len = work;
	}
	size_t head = 8 + VMS_SNAPZ_INFO_MAX;
	size_t bound = ZSTD_compressBound(len);
	size_t map = (head + bound + pg - 1) & ~(pg - 1);
	uint8_t *m = vms_sys_mmap(NULL, map, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				  -1, 0);
	if (m == MAP_FAILED)
		return -1;
	vms_own_add(m, map, "snapshot buffer");
	int ret = -1;
	uint8_t *out = m;
	ZSTD_CCtx *c = ZSTD_initStaticCCtx(zs.work, zs.work_len);
	if (!c ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel,
						SNAP_ZLEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog,
						(int)wlog)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag,
						1)) ||
	    (ref && ZSTD_isError(ZSTD_CCtx_refPrefix(c, ref, ref_len))))
		goto out;
	/* The skippable frame: "vmspy-snapshot-z 1\nref <n>|-\n". */
	struct vms_buf info = { (char *)out + 8, 0, VMS_SNAPZ_INFO_MAX, 0 };
	vms_buf_str(&info, VMS_SNAPZ_MAGIC_LINE "\nref ");
	if (ref)
		vms_buf_u64(&info, zs.ref_index);
	else
		vms_buf_str(&info, "-");
	vms_buf_str(&info, "\n");
	if (info.overflow)
		goto out;
	uint32_t v = VMS_SNAPZ_SKIPPABLE;
	memcpy(out, &v, 4);
	v = (uint32_t)info.len;
	memcpy(out + 4, &v, 4);
	size_t n = ZSTD_compress2(c, out + 8 + info.len, bound, text, len);
	if (ZSTD_isError(n))
		goto out;
	ret = 0;
	if (vms_write_all(fd, out, 8 + info.len + n))
		*write_failed = 1;
	else
		zs.chain = ref ? zs.chain + 1 : 0;
out:
	vms_own_remove(m);
	vms_sys_munmap(m, map);
	return ret;
}

/* ---- when a periodic snapshot is worth it -------------------------------
 *
 * An interval snapshot is skipped when /proc/self/statm says nothing moved
 * since the last snapshot taken (of any reason): virtual size, resident
 * and shared resident memory each within max(1 MiB, 1%) of what they
 * were.  At most SKIP_MAX in a row are skipped.  Start, exit and
 * vmspy_snapshot() snapshots are always taken. */
#define SKIP_MAX 59
#define SKIP_MIN_PAGES 256

static struct {
	uint64_t v[3];      /* statm size, resident, shared (pages) */
	int valid;
	uint32_t skipped;
} last_statm;

static int read_statm(uint64_t v[3])
{
	char buf[256];
	ssize_t n = vms_read_small("/proc/self/statm", buf, sizeof(buf));
	if (n < 0)
		return -1;
	const char *p = buf, *end = buf + n;
	for (int i = 0; i < 3; i++) {
		uint64_t x = 0;
		if (p >= end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9')
			x = x * 10 + (uint64_t)(*p++ - '0');
		v[i] = x;
		if (p < end && *p == ' ')
			p++;
	}
	return 0;
}

static int moved(uint64_t was, uint64_t now)
{
	uint64_t d = now > was ? now - was : was - now;
	uint64_t thr = was / 100 > SKIP_MIN_PAGES ? was / 100 : SKIP_MIN_PAGES;
	return d >= thr;
}

/* 1 when an interval snapshot now would add nothing (and counts it). */
static int skip_interval(void)
{
	uint64_t v[3];
	if (!last_statm.valid || last_statm.skipped >= SKIP_MAX ||
	    read_statm(v))
		return 0;
	for (int i = 0; i < 3; i++)
		if (moved(last_statm.v[i], v[i]))
			return 0;
	last_statm.skipped++;
	return 1;
}

static void note_statm(void)
{
	uint64_t v[3];
	if (read_statm(v)) {
		last_statm.valid = 0;
		return;
	}
	memcpy(last_statm.v, v, sizeof(v));
	last_statm.valid = 1;
	last_statm.skipped = 0;
}

void vms_take_snapshot(unsigned reason, const char *label)
{
	if (!vms_recorder_ready() || snapshots_failed ||
	    reason >= VMS_SNAP__COUNT)
		return;
	__atomic_add_fetch(&snaps_busy, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&snaps_closed, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&snaps_busy, 1, __ATOMIC_SEQ_CST);
		return;
	}
	int saved = errno;
	/* Only the sampler thread takes interval snapshots: last_statm is
	 * its own (the others only write it, a race that costs at most one
	 * snapshot more or less). */
	if (reason == VMS_SNAP_INTERVAL && vms_config.snap_skip &&
	    skip_interval())
		goto out;
	note_statm();
	uint64_t seq = vms_seq_barrier();
	uint64_t now = vms_now_ns();
	uint32_t idx = vms_atomic_add_relaxed(&snap_count, 1);
	char path[PATH_MAX + 32];
	struct vms_buf pb = { path, 0, sizeof(path) - 1, 0 };
	vms_buf_str(&pb, vms_self.dir);
	vms_buf_str(&pb, "/snap.");
	vms_buf_u64(&pb, idx);
	path[pb.len] = 0;
	int zlocked = vms_config.compress && zs_lock();
	/* Compressed, the file is written under a temporary name and renamed
	 * when complete: a reader sees all of it or nothing (a frame cut
	 * short would hide everything in it, unlike plain text). */
	char part[PATH_MAX + 40];
	memcpy(part, path, pb.len);
	memcpy(part + pb.len, ".part", 6);
	void *mem = vms_sys_mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		goto unlock;
	struct writer w = { -1, 0, zlocked, { mem, 0, BUF_SIZE, 0 }, BUF_SIZE };
	w.fd = vms_sys_open(zlocked ? part : path,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
	if (w.fd < 0) {
		vms_sys_munmap(mem, BUF_SIZE);
		goto unlock;
	}
	struct vms_buf *b = &w.b;
	vms_buf_str(b, "vmspy-snapshot 1\nseq ");
	vms_buf_u64(b, seq);
	vms_buf_str(b, "\ntime_ns ");
	vms_buf_u64(b, now);
	vms_buf_str(b, "\nreason ");
	vms_buf_str(b, vms_snap_reason_names[reason]);
	vms_buf_str(b, "\n");
	if (label) {
		char l[201];
		size_t n = strnlen(label, sizeof(l) - 1);
		memcpy(l, label, n);
		l[n] = 0;
		vms_buf_str(b, "label ");
		vms_buf_escaped(b, l);
		vms_buf_str(b, "\n");
	}
	vms_own_add(mem, BUF_SIZE, "snapshot buffer");
	vms_own_foreach(own_line, b);
	if (sampler_hi) {
		vms_buf_str(b, "recorder_thread ");
		vms_buf_hex(b, sampler_lo);
		vms_buf_str(b, " ");
		vms_buf_hex(b, sampler_hi);
		vms_buf_str(b, "\n");
	}
	dl_iterate_phdr(module_cb, &w);
	write_pagemaps(&w);
	need(&w, 16);
	vms_buf_str(b, "smaps\n");
	copy_file(&w, "/proc/self/smaps");
	int keep = 0;
	size_t text_len = w.b.len;
	if (w.grow && !w.failed) {
		/* The whole text is in the buffer: compressed, or written
		 * plain when the compressor cannot have it. */
		w.grow = 0;
		if (write_compressed(w.fd, idx, w.b.p, text_len, &w.failed)) {
			zs.chain = 0;
			flush(&w);
		}
		/* This text is the next one's reference, even written
		 * plain: a reader has it either way. */
		keep = !w.failed;
	} else {
		w.grow = 0;
		flush(&w);
	}
	vms_sys_close(w.fd);
	if (zlocked) {
		if (w.failed || rename(part, path)) {
			(void)unlink(part);
			keep = 0;
		}
	}
	if (keep) {
		zs_drop_ref();
		zs.ref = w.b.p;
		zs.ref_len = text_len;
		zs.ref_map = w.map_len;
		zs.ref_index = idx;
		vms_own_remove(zs.ref);
		vms_own_add(zs.ref, zs.ref_map, "snapshot reference");
	} else {
		vms_own_remove(w.b.p);
		vms_sys_munmap(w.b.p, w.map_len);
	}
	if (w.failed) {
		/* Disk full or similar: a partial plain file is kept (the
		 * reader sees it has no smaps section; a compressed one is
		 * removed), no more are attempted. */
		snapshots_failed = 1;
	}
unlock:
	if (zlocked)
		vms_atomic_store_release(&zs.lock, 0);
out:
	errno = saved;
	__atomic_sub_fetch(&snaps_busy, 1, __ATOMIC_SEQ_CST);
}

void vms_snapshot_reset(void)
{
	snaps_busy = snaps_closed = 0;
	snap_count = 0;
	snapshots_failed = 0;
	/* The parent's reference text belongs to its own recording (and a
	 * parent thread may have been in the middle of a snapshot). */
	zs.lock = 0;
	zs_drop_ref();
	if (zs.work) {
		vms_own_remove(zs.work);
		vms_sys_munmap(zs.work, zs.work_len);
		zs.work = NULL;
	}
	last_statm.valid = 0;
	/* A fork child: the thread that ran on the parent's sampler stack
	 * is not here. */
	sampler_stack_free();
	sampler_started = 0;
}

int vms_snapshot_close(void)
{
	__atomic_store_n(&snaps_closed, 1, __ATOMIC_SEQ_CST);
	/* A snapshot takes milliseconds; five seconds means it is stuck. */
	for (int i = 0; i < 5000; i++) {
		if (!__atomic_load_n(&snaps_busy, __ATOMIC_SEQ_CST))
			return 0;
		vms_sleep_ms(1);
	}
	return -1;
}

/* ---- the sampler thread ------------------------------------------------- */

static void *sampler_main(void *arg)
{
	(void)arg;
	/* The guard stays set for the thread's whole life: nothing it does
	 * is an event of the host's. */
	vms_tls.guard = 1;
	/* Between snapshots the thread compresses sealed log chunks
	 * (compress.h); with VMSPY_INTERVAL_MS=0 that is all it does. */
	for (;;) {
		vms_compress_wait_ms(vms_config.interval_ms);
		if (vms_config.interval_ms)
			vms_take_snapshot(VMS_SNAP_INTERVAL, NULL);
	}
	return NULL;
}

int vms_sampler_running(void)
{
	return sampler_started;
}

void vms_sampler_start(void)
{
	sampler_started = 0;
	if ((!vms_config.interval_ms && !vms_compress_enabled()) ||
	    !vms_real.pthread_create)
		return;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The thread's stack is ours, so its range is known without asking
	 * (pthread_getattr_np mallocs: glibc would then give the thread an
	 * arena of its own, 64 MiB of address space in the host's maps). */
	long sc = sysconf(_SC_PAGESIZE);
	size_t pg = sc > 0 ? (size_t)sc : 4096;
	sampler_stack_len = SAMPLER_STACK + pg;
	sampler_stack = vms_sys_mmap(NULL, sampler_stack_len,
				     PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
				     -1, 0);
	if (sampler_stack == MAP_FAILED) {
		sampler_stack = NULL;
		pthread_attr_setstacksize(&attr, SAMPLER_STACK);
	} else {
		(void)vms_sys_mprotect(sampler_stack, pg, PROT_NONE);
		sampler_lo = (uintptr_t)sampler_stack + pg;
		sampler_hi = (uintptr_t)sampler_stack + sampler_stack_len;
		pthread_attr_setstack(&attr, (void *)sampler_lo, SAMPLER_STACK);
	}
	/* Signals meant for the host must never run on this thread (a
	 * handler that longjmps would jump across threads): it starts with
	 * every signal blocked, inherited from this mask, with no window. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (vms_real.pthread_create(&t, &attr, sampler_main, NULL)) {
		vms_note("cannot start the snapshot thread; only start and exit snapshots are taken, log chunks are compressed at exit only",
			 (char *)NULL);
		sampler_stack_free();
	} else {
		sampler_started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}
