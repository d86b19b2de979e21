/* SPDX-License-Identifier: MIT */
/*
 * Offline symbolization of recorded return addresses: a symbol table built
 * from the module list of a recording (path, load bias, build-id, address
 * range), answering "which function, file and line, with which inlined
 * frames" for an address, using elfutils libdwfl/libdw.
 *
 * The binaries are looked up at analysis time and may have changed since
 * the recording: a module is only used when its build-id matches the
 * recorded one (when one was recorded).  A missing, unreadable or rebuilt
 * binary is never an error: its frames degrade to "module+0xoffset".
 * Separate debug info is found by build-id under /usr/lib/debug/.build-id
 * (Debian -dbg / -dbgsym packages) and by .gnu_debuglink; when only the
 * debug file is left, it is used on its own.
 *
 * Not thread-safe: one symtab is used by one thread at a time.  Nothing
 * here prints or exits.
 */
#ifndef VMSPY_SYMBOLS_H
#define VMSPY_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One module (executable or shared object) as recorded in a snapshot's
 * "module" line and the "segment" lines below it. */
struct vms_module_desc {
	const char *path;         /* as recorded; NULL, "" or "[...]" (vdso,
				   * vsyscall) are skipped */
	uint64_t bias;            /* load bias (dl_iterate_phdr dlpi_addr;
				   * 0 for a non-PIE executable) */
	const char *build_id_hex; /* lower- or upper-case hex, or NULL / "-"
				   * when unknown (then the file at path is
				   * trusted as is) */
	uint64_t start, end;      /* [start, end): lowest segment start and
				   * highest segment end at run time; both 0
				   * when unknown (then taken from the file;
				   * a missing or rebuilt file then leaves
				   * the module unusable) */
};

/* How a module was resolved, for diagnostics ("symbols missing for ..."). */
enum vms_sym_status {
	VMS_SYM_OK = 0,         /* the binary at path: build-id matching, or
				 * none recorded */
	VMS_SYM_DEBUG_ONLY,     /* path missing or rebuilt, but the debug file
				 * with the recorded build-id was found and
				 * is used instead */
	VMS_SYM_MISSING,        /* path cannot be opened or is not ELF:
				 * module+offset only */
	VMS_SYM_MISMATCH,       /* path has another build-id than recorded
				 * (rebuilt since): module+offset only */
};

struct vms_sym_module {
	const char *path;       /* as given */
	const char *name;       /* basename of path */
	const char *elf_file;   /* the file symbols are read from, or NULL */
	uint64_t bias, start, end;
	enum vms_sym_status status; /* decided by vms_symtab_new from the
				     * build-ids; turns to VMS_SYM_MISSING
				     * if elfutils then cannot read the file
				     * on first use */
};

struct vms_symtab; /* opaque */

/* Build a symbol table over mods[0..n).  Duplicate entries (same path, bias
 * and build-id, e.g. from many snapshots) are merged; when two different
 * modules' ranges overlap, the one starting lower (then the earlier in mods)
 * is kept and the other dropped.  The strings in mods are copied.  Build-ids
 * are checked here; a module's file and debug info are opened on the first
 * lookup that needs them (or here, for a module without a recorded range).
 * A malformed build_id_hex counts as unknown.
 * Returns NULL only when out of memory (errno ENOMEM); missing or mismatching
 * files are not failures. */
struct vms_symtab *vms_symtab_new(const struct vms_module_desc *mods, size_t n);

/* Release everything, including all frames and strings handed out.
 * NULL is accepted. */
void vms_symtab_free(struct vms_symtab *st);

/* One frame of a symbolized address.  Strings are owned by the symtab and
 * live as long as it does; equal strings are the same pointer. */
struct vms_sym_frame {
	const char *function;   /* demangled name, or NULL when unknown */
	const char *file;       /* source path as in the debug info (absolute
				 * or relative to the compilation directory),
				 * or NULL */
	int line;               /* 0 when unknown */
	const char *module;     /* basename of the module path, or NULL when
				 * the address is in no module */
	uint64_t module_offset; /* address - load bias (the module's ELF
				 * virtual address, what addr2line -e wants);
				 * 0 when module is NULL */
	uint64_t address;       /* the address as passed to lookup */
	int inlined;            /* 1: this frame was inlined into the next */
};

/* Expand one recorded return address into its frames, innermost first:
 * the inlined frames, then the real function.  The lookup is done at
 * addr - 1, so the line is that of the call instruction; address and
 * module_offset report addr itself.  Always writes at least one frame: an
 * unknown address gives one frame with function NULL (and module NULL when
 * no module covers it).  *frames_out points into the symtab's cache: a
 * second lookup of the same address returns the same pointer.  Returns the
 * number of frames.  On out-of-memory the result is still valid until the
 * next lookup, but is not cached. */
size_t vms_symtab_lookup(struct vms_symtab *st, uint64_t addr,
			 const struct vms_sym_frame **frames_out);

/* The modules kept by vms_symtab_new: those with an address range sorted
 * by start, then those without one (start == end == 0: no range was
 * recorded and no usable file gave one; no address is matched to them).
 * Duplicates and modules dropped for overlapping are not listed. */
size_t vms_symtab_modules(const struct vms_symtab *st,
			  const struct vms_sym_module **mods_out);

/* For a thread that prepares a symtab ahead of its use (symbolize.c): open
 * the module that covers return address addr and read what its first
 * lookup would (its DWARF unit ranges -- decompressing the debug sections,
 * the slow part -- and its ELF symbol table).  Interns no string.  Returns
 * whether it did anything (false: no module there, or prepared already).
 * May run while another thread runs vms_symtab_adopt with this symtab as
 * the donor; nothing else may use the symtab meanwhile. */
bool vms_symtab_prepare(struct vms_symtab *st, uint64_t addr);

/* Move into st the modules that vms_symtab_prepare finished in donor and
 * that st has too, unused (same path, bias, range, file and status); the
 * donor keeps empty husks.  Returns how many were taken.  The donor's
 * thread may go on preparing other modules meanwhile. */
size_t vms_symtab_adopt(struct vms_symtab *st, struct vms_symtab *donor);

/* Demangle a C++ (Itanium ABI, "_Z...") symbol name.  Returns a malloc'd
 * string for the caller to free, or NULL when name is not mangled, cannot
 * be demangled, or the demangler is unavailable: it is libstdc++'s
 * __cxa_demangle, loaded with dlopen on first use, so that the analyzer
 * does not link libstdc++. */
char *vms_sym_demangle(const char *name);

/* Format one frame for humans into buf (always NUL-terminated when
 * len > 0, truncated to fit):
 *   "func (file.c:12)"   function and source line (file basename)
 *   "func (libfoo.so)"   function from the symbol table only
 *   "libfoo.so+0x1234"   module known, function not
 *   "0x7f0012345678"     no module covers the address */
void vms_sym_frame_format(const struct vms_sym_frame *f, char *buf,
			  size_t len);

#endif /* VMSPY_SYMBOLS_H */
