/* SPDX-License-Identifier: MIT */
/*
 * Offline symbolization with elfutils: one Dwfl per recorded module
 * (opened on first use, so overlapping or repeated modules never meet in
 * one address space), a per-compilation-unit index of function and
 * inlined-instance address ranges built on first use, a sorted copy of
 * each module's ELF symbol table, and a cache from address to frames.
 *
 * Why an index instead of dwarf_getscopes(): getscopes walks the DIE tree
 * of the CU for every address (twice when inlining is involved), and a
 * large C++ CU has 10^5 DIEs or more.  The index walks each CU once, keeps
 * only subprograms and inlined subroutines, and answers a lookup with one
 * binary search and a walk up the enclosing functions.  Likewise
 * dwfl_module_addrinfo() scans the whole symbol table per call.
 *
 * Everything handed out (frames, strings) lives in an arena owned by the
 * symtab.  This file never prints and never exits: what cannot be resolved
 * degrades to less information (module+offset, then a bare address).
 */
#include "symbols.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEBUG_ROOT "/usr/lib/debug"
#define MAX_BUILD_ID 64       /* bytes; sha1 ids are 20 */
#define MAX_DIE_DEPTH 128     /* nesting we follow when indexing a CU */
#define MAX_FRAMES 256        /* inlining depth we report for one address */
#define ARENA_CHUNK (64 * 1024)

/* ---- arena: everything handed out lives until vms_symtab_free ---------- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	struct chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		/* A big block gets its own chunk behind the current one, so
		 * the current chunk's free space is not wasted. */
		if (cap != ARENA_CHUNK && a->head) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_release(struct arena *a)
{
	struct chunk *c = a->head;
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

/* ---- interned strings: one copy of each name and path ----------------- */

struct strset {
	const char **slots;
	uint32_t *hashes;
	size_t cap, n; /* cap is 0 or a power of two */
};

static uint32_t str_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static int strset_grow(struct strset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 1024;
	const char **slots = calloc(cap, sizeof(*slots));
	uint32_t *hashes = calloc(cap, sizeof(*hashes));
	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -1;
	}
	for (size_t i = 0; i < set->cap; i++) {
		if (!set->slots[i])
			continue;
		size_t j = set->hashes[i] & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = set->slots[i];
		hashes[j] = set->hashes[i];
	}
	free(set->slots);
	free(set->hashes);
	set->slots = slots;
	set->hashes = hashes;
	set->cap = cap;
	return 0;
}

/* Return the interned copy of s[0..len), or NULL when out of memory. */
static const char *intern_n(struct strset *set, struct arena *a,
			    const char *s, size_t len)
{
	if (set->n * 2 >= set->cap && strset_grow(set))
		return NULL;
	uint32_t h = str_hash(s, len);
	size_t j = h & (set->cap - 1);
	for (; set->slots[j]; j = (j + 1) & (set->cap - 1)) {
		if (set->hashes[j] == h && !strncmp(set->slots[j], s, len) &&
		    set->slots[j][len] == '\0')
			return set->slots[j];
	}
	char *copy = arena_alloc(a, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	set->slots[j] = copy;
	set->hashes[j] = h;
	set->n++;
	return copy;
}

static const char *intern(struct strset *set, struct arena *a, const char *s)
{
	return s ? intern_n(set, a, s, strlen(s)) : NULL;
}

static void strset_release(struct strset *set)
{
	free(set->slots);
	free(set->hashes);
	memset(set, 0, sizeof(*set));
}

/* ---- C++ demangling through libstdc++, loaded on demand ---------------- */

typedef char *(*cxa_demangle_fn)(const char *, char *, size_t *, int *);
static cxa_demangle_fn cxa_demangle;
static pthread_once_t demangle_once = PTHREAD_ONCE_INIT;

static void demangle_load(void)
{
	/* The handle is kept for the life of the process on purpose. */
	void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (h)
		cxa_demangle = (cxa_demangle_fn)dlsym(h, "__cxa_demangle");
}

char *vms_sym_demangle(const char *name)
{
	if (!name || name[0] != '_' || name[1] != 'Z')
		return NULL;
	pthread_once(&demangle_once, demangle_load);
	if (!cxa_demangle)
		return NULL;
	int status = -1;
	char *out = cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- per-CU index of functions and inlined instances ------------------- */

/* A subprogram or inlined subroutine that has code. */
struct fnode {
	Dwarf_Die die;
	int32_t parent;       /* enclosing fnode, -1 for none */
	uint32_t piece_off;   /* its address ranges: pieces[piece_off..+n) */
	uint32_t npieces;
	uint32_t depth;       /* DIE nesting depth, for ordering */
	int call_line;        /* inlined only: the call site in the parent */
	int64_t call_file;    /* index in the CU's file table, -1 none */
	bool inlined;
	bool name_done;       /* name below was looked up (may be NULL) */
	const char *name;
};

struct piece {
	Dwarf_Addr lo, hi;    /* [lo, hi) in DWARF addresses */
	uint32_t node;
	uint32_t depth;
};

struct cu_index {
	Dwarf_Off off;
	Dwarf_Die cudie;
	struct fnode *nodes;
	size_t nnodes, cap_nodes;
	struct piece *pieces; /* grouped by node, in DIE order */
	size_t npieces, cap_pieces;
	struct piece *sorted; /* the same, sorted by lo then depth */
	Dwarf_Files *files;   /* loaded on first call_file lookup */
	size_t nfiles;
	bool files_done;
};

static void cu_index_free(struct cu_index *cu)
{
	if (!cu)
		return;
	free(cu->nodes);
	free(cu->pieces);
	free(cu->sorted);
	free(cu);
}

static int push_piece(struct cu_index *cu, Dwarf_Addr lo, Dwarf_Addr hi,
		      uint32_t node, uint32_t depth)
{
	if (cu->npieces == cu->cap_pieces) {
		size_t cap = cu->cap_pieces ? cu->cap_pieces * 2 : 64;
		struct piece *p = realloc(cu->pieces, cap * sizeof(*p));
		if (!p)
			return -1;
		cu->pieces = p;
		cu->cap_pieces = cap;
	}
	cu->pieces[cu->npieces++] = (struct piece){ lo, hi, node, depth };
	return 0;
}

/* Add DIE as a function node under parent if it has code.  Returns the new
 * node's index, -1 when it has no code, -2 when out of memory. */
static int64_t add_fnode(struct cu_index *cu, Dwarf_Die *die, int32_t parent,
			 uint32_t depth, bool inlined)
{
	if (cu->nnodes == cu->cap_nodes) {
		size_t cap = cu->cap_nodes ? cu->cap_nodes * 2 : 32;
		struct fnode *p = realloc(cu->nodes, cap * sizeof(*p));
		if (!p)
			return -2;
		cu->nodes = p;
		cu->cap_nodes = cap;
	}
	uint32_t idx = (uint32_t)cu->nnodes;
	size_t first = cu->npieces;
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		/* lo == 0 is where linkers leave code they discarded
		 * (--gc-sections): no real function of an ELF file with
		 * headers starts at 0. */
		if (lo == 0 || hi <= lo)
			continue;
		if (push_piece(cu, lo, hi, idx, depth))
			return -2;
	}
	if (cu->npieces == first)
		return -1;

	struct fnode *n = &cu->nodes[idx];
	memset(n, 0, sizeof(*n));
	n->die = *die;
	n->parent = parent;
	n->piece_off = (uint32_t)first;
	n->npieces = (uint32_t)(cu->npieces - first);
	n->depth = depth;
	n->inlined = inlined;
	n->call_file = -1;
	if (inlined) {
		Dwarf_Attribute attr;
		Dwarf_Word w;
		if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr),
				    &w) == 0 && w <= INT64_MAX)
			n->call_file = (int64_t)w;
		if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr),
				    &w) == 0 && w <= INT32_MAX)
			n->call_line = (int)w;
	}
	cu->nnodes++;
	return idx;
}

static int index_walk(struct cu_index *cu, Dwarf_Die *parent_die,
		      int32_t parent, uint32_t depth)
{
	Dwarf_Die child;
	if (depth > MAX_DIE_DEPTH)
		return 0;
	int r = dwarf_child(parent_die, &child);
	while (r == 0) {
		int32_t me = parent;
		bool descend = false;
		int64_t idx;
		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_entry_point:
			idx = add_fnode(cu, &child, parent, depth,
					dwarf_tag(&child) ==
						DW_TAG_inlined_subroutine);
			if (idx == -2)
				return -1;
			/* Without code (a declaration or an abstract
			 * instance) nothing inside has code either. */
			if (idx >= 0) {
				me = (int32_t)idx;
				descend = true;
			}
			break;
		case DW_TAG_lexical_block:
		case DW_TAG_namespace:
		case DW_TAG_module:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			descend = true;
			break;
		default:
			break; /* types, variables, ...: no code inside */
		}
		if (descend && dwarf_haschildren(&child) > 0 &&
		    index_walk(cu, &child, me, depth + 1))
			return -1;
		r = dwarf_siblingof(&child, &child);
	}
	return 0; /* r < 0 is corrupt DWARF: keep what was read */
}

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	/* Equal starts: the deeper (inner) one last, so the binary search
	 * for "last start <= pc" lands on the innermost. */
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

static struct cu_index *cu_index_build(Dwarf_Die *cudie)
{
	struct cu_index *cu = calloc(1, sizeof(*cu));
	if (!cu)
		return NULL;
	cu->off = dwarf_dieoffset(cudie);
	cu->cudie = *cudie;
	if (index_walk(cu, cudie, -1, 1))
		goto fail;
	if (cu->npieces) {
		cu->sorted = malloc(cu->npieces * sizeof(*cu->sorted));
		if (!cu->sorted)
			goto fail;
		memcpy(cu->sorted, cu->pieces,
		       cu->npieces * sizeof(*cu->sorted));
		qsort(cu->sorted, cu->npieces, sizeof(*cu->sorted), piece_cmp);
	}
	return cu;
fail:
	cu_index_free(cu);
	return NULL;
}

static bool node_contains(const struct cu_index *cu, int32_t n, Dwarf_Addr a)
{
	const struct fnode *f = &cu->nodes[n];
	for (uint32_t i = 0; i < f->npieces; i++) {
		const struct piece *p = &cu->pieces[f->piece_off + i];
		if (p->lo <= a && a < p->hi)
			return true;
	}
	return false;
}

/* The innermost function node whose code contains a, or -1.  Ranges of a
 * CU nest: the piece starting last at or before a is either inside the
 * innermost node containing a or is that node, so that node is found
 * among the enclosing nodes of the piece's own node. */
static int32_t cu_find(const struct cu_index *cu, Dwarf_Addr a)
{
	size_t lo = 0, hi = cu->npieces;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cu->sorted[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	for (int32_t n = (int32_t)cu->sorted[lo - 1].node; n >= 0;
	     n = cu->nodes[n].parent) {
		if (node_contains(cu, n, a))
			return n;
	}
	return -1;
}

/* ---- modules ------------------------------------------------------------ */

/* An ELF function symbol; the name belongs to libelf. */
struct esym {
	uint64_t addr, size;    /* absolute addresses */
	const char *name;
	int rank;               /* lower is the better name for an address */
};

/* The address ranges of one compilation unit. */
struct cu_range {
	Dwarf_Addr lo, hi;      /* [lo, hi) in DWARF addresses */
	Dwarf_Die die;
};

struct module {
	Dwfl *dwfl;             /* NULL: module+offset only */
	Dwfl_Module *mod;
	struct cu_range *curanges; /* sorted by lo */
	size_t ncuranges;
	Dwarf_Addr dwbias;      /* run-time address - DWARF address */
	bool cus_done;
	struct cu_index **cus;  /* open addressing by CU offset */
	size_t ncus, cap_cus;
	struct esym *syms;      /* sorted by addr, one per address */
	size_t nsyms;
	bool syms_done;
	bool tried;             /* module_ready ran */
	uint32_t ready;         /* atomic: vms_symtab_prepare is done with it */
};

struct vms_symtab {
	struct vms_sym_module *pub; /* sorted by start */
	struct module *mods;        /* same order */
	size_t nmods;
	size_t nranged;             /* [0, nranged) have a range */

	struct arena arena;
	struct strset strings;

	struct entry {
		uint64_t addr;
		struct vms_sym_frame *frames; /* NULL: free slot */
		size_t n;
	} *cache;
	size_t cache_n, cache_cap;

	struct vms_sym_frame *scratch;  /* frames of the lookup under way */
	struct vms_sym_frame fallback;  /* result when out of memory */
};

/* The path that elfutils searches for separate debug files: next to the
 * file, in .debug/ beside it, and under /usr/lib/debug by build-id and by
 * path.  Pinned here so the result does not depend on elfutils' default. */
static char debuginfo_path_str[] = ":.debug:" DEBUG_ROOT;
static char *debuginfo_path = debuginfo_path_str;

/* Modules are always reported with their file: there is nothing to find. */
static int no_find_elf(Dwfl_Module *mod, void **userdata, const char *name,
		       Dwarf_Addr base, char **file_name, Elf **elfp)
{
	(void)mod, (void)userdata, (void)name, (void)base;
	(void)file_name, (void)elfp;
	return -1;
}

static bool exists(const char *dir, const char *sub, const char *name)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s%s%s%s%s", dir,
			 sub ? "/" : "", sub ? sub : "", name ? "/" : "",
			 name ? name : "");
	/* Too long to check: say yes, the standard search will tell. */
	return n < 0 || (size_t)n >= sizeof(path) || !access(path, F_OK);
}

/* Whether dwfl_standard_find_debuginfo could find a local debug file for
 * a module's main file: every place its search looks.  That is the
 * build-id directory, then the debuglink name (the file's name + ".debug"
 * when there is none) next to the file, in .debug/ beside it, and under
 * DEBUG_ROOT followed by each tail of the file's directory, where the
 * file's own name is tried too when there is no debuglink.  Errs on the
 * side of yes. */
static bool local_debuginfo_possible(Dwfl_Module *mod, const char *file_name,
				     const char *debuglink_file)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &bits, &vaddr);
	const char *base, *names[2];
	char dotdebug[1024], dir[2048];

	if (len > 0) {
		char id[2 * MAX_BUILD_ID + 1];
		char sub[sizeof(".build-id/xx")];
		if (len > MAX_BUILD_ID)
			return true;
		for (int i = 1; i < len; i++)
			snprintf(id + 2 * (i - 1), 3, "%02x", bits[i]);
		snprintf(id + 2 * (len - 1), sizeof(id) - 2 * (len - 1),
			 ".debug");
		snprintf(sub, sizeof(sub), ".build-id/%02x", bits[0]);
		if (exists(DEBUG_ROOT, sub, id))
			return true;
	}
	if (!file_name || file_name[0] != '/' ||
	    (debuglink_file && strchr(debuglink_file, '/')))
		return true;
	base = strrchr(file_name, '/') + 1;
	if ((size_t)snprintf(dotdebug, sizeof(dotdebug), "%s.debug", base) >=
		    sizeof(dotdebug) ||
	    (size_t)(base - file_name) >= sizeof(dir))
		return true;
	memcpy(dir, file_name, (size_t)(base - 1 - file_name));
	dir[base - 1 - file_name] = 0;
	names[0] = debuglink_file ? debuglink_file : dotdebug;
	names[1] = debuglink_file ? NULL : base;
	if (exists(dir, NULL, names[0]) || exists(dir, ".debug", names[0]))
		return true;
	for (int k = 0; k < 2 && names[k]; k++) {
		if (exists(DEBUG_ROOT, NULL, names[k]))
			return true;
		for (const char *t = strchr(dir, '/'); t; t = strchr(t + 1, '/'))
			if (t[1] && exists(DEBUG_ROOT, t + 1, names[k]))
				return true;
	}
	return false;
}

/* The debug sections no lookup of ours reads: variable locations and
 * macros.  libdw (0.188) decompresses every compressed debug section of a
 * file when it opens it, needed or not. */
static bool unread_section(const char *name)
{
	static const char *const names[] = {
		".debug_loc", ".debug_loclists", ".debug_macro",
		".debug_macinfo",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* The module's debug file in the build-id directory, when it is there,
 * has the module's build id, and has compressed sections that no lookup
 * reads: a copy of it in memory where those are SHT_NOBITS (libdw skips
 * them, so they stay compressed), its name in *name.  -1 otherwise (then
 * the standard search goes on, which finds the same file if it is
 * right). */
static int slim_build_id_debuginfo(Dwfl_Module *mod, char **name)
{
	const unsigned char *bits;
	const void *fbits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &bits, &vaddr);
	char path[sizeof(DEBUG_ROOT) + 16 + 2 * MAX_BUILD_ID + 8];
	uint32_t patch[8];
	size_t nr = 0, shnum, shstrndx, shentsize = 0;
	uint64_t shoff = 0;
	bool msb = false;
	struct stat st;
	Elf *elf;
	int fd, copy = -1;

	if (len < 2 || len > MAX_BUILD_ID)
		return -1;
	int at = snprintf(path, sizeof(path), "%s/.build-id/%02x/", DEBUG_ROOT,
			  bits[0]);
	for (int i = 1; i < len; i++)
		at += snprintf(path + at, sizeof(path) - (size_t)at, "%02x",
			       bits[i]);
	snprintf(path + at, sizeof(path) - (size_t)at, ".debug");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF &&
	    dwelf_elf_gnu_build_id(elf, &fbits) == len &&
	    !memcmp(fbits, bits, (size_t)len) &&
	    !elf_getshdrnum(elf, &shnum) && !elf_getshdrstrndx(elf, &shstrndx)) {
		GElf_Ehdr eh;
		Elf_Scn *scn = NULL;
		if (gelf_getehdr(elf, &eh)) {
			shoff = eh.e_shoff;
			shentsize = eh.e_shentsize;
			msb = eh.e_ident[EI_DATA] == ELFDATA2MSB;
		}
		while (shoff && (scn = elf_nextscn(elf, scn)) != NULL) {
			GElf_Shdr sh;
			const char *sn;
			if (!gelf_getshdr(scn, &sh) ||
			    !(sh.sh_flags & SHF_COMPRESSED) ||
			    sh.sh_type == SHT_NOBITS)
				continue;
			sn = elf_strptr(elf, shstrndx, sh.sh_name);
			if (sn && unread_section(sn) &&
			    nr < sizeof(patch) / sizeof(*patch))
				patch[nr++] = (uint32_t)elf_ndxscn(scn);
		}
	}
	elf_end(elf);
	if (nr)
		copy = memfd_create("vmspy-debuginfo", MFD_CLOEXEC);
	if (copy >= 0 && ftruncate(copy, st.st_size))
		goto fail;
	for (off_t o = 0; copy >= 0 && o < st.st_size;)
		if (sendfile(copy, fd, &o, (size_t)(st.st_size - o)) <= 0)
			goto fail;
	/* sh_type: the second 32-bit word of a section header (ELF32 and
	 * ELF64 alike), in the file's byte order */
	for (size_t i = 0; copy >= 0 && i < nr; i++) {
		unsigned char t[4] = { 0 };
		t[msb ? 3 : 0] = SHT_NOBITS;
		if (pwrite(copy, t, 4, (off_t)(shoff + patch[i] * shentsize +
					       4)) != 4)
			goto fail;
	}
	close(fd);
	if (copy >= 0)
		*name = strdup(path);
	return copy;
fail:
	close(copy);
	close(fd);
	return -1;
}

/* dwfl_standard_find_debuginfo, but when no local file can match and no
 * debuginfod server is configured, "not found" at once: elfutils 0.188
 * would otherwise dlopen libdebuginfod and its ~25 dependencies (10-20 ms,
 * more than the rest of a small report) only to learn that there is no
 * server.  A call with a debuglink name but no CRC may be the search for
 * a dwz alternate file: that one always goes the standard way. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata,
			  const char *modname, GElf_Addr base,
			  const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	int fd;

	/* (a debuglink name without a CRC may be the search for a dwz
	 * alternate file) */
	if (!(debuglink_file && !debuglink_crc) &&
	    (fd = slim_build_id_debuginfo(mod, debuginfo_file_name)) >= 0)
		return fd;
	if ((!urls || !*urls) && !(debuglink_file && !debuglink_crc) &&
	    !local_debuginfo_possible(mod, file_name, debuglink_file)) {
		errno = ENOENT;
		return -1;
	}
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base,
					    file_name, debuglink_file,
					    debuglink_crc,
					    debuginfo_file_name);
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = no_find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* Parse a hex build-id.  Returns its length in bytes, 0 when unknown or
 * malformed. */
static size_t parse_build_id(const char *hex, unsigned char *out)
{
	if (!hex || !strcmp(hex, "-"))
		return 0;
	size_t len = strlen(hex);
	if (len == 0 || len % 2 || len / 2 > MAX_BUILD_ID)
		return 0;
	for (size_t i = 0; i < len; i += 2) {
		unsigned v = 0;
		for (size_t k = 0; k < 2; k++) {
			char c = hex[i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return 0;
		}
		out[i / 2] = (unsigned char)v;
	}
	return len / 2;
}

/* Read the GNU build-id note of an ELF file.  Returns 0 and sets *len (0
 * when the file has no build-id), or -1 when the file cannot be opened or
 * is not ELF. */
static int file_build_id(const char *file, unsigned char *id, size_t *len)
{
	/* O_NONBLOCK: a hostile recording may name a FIFO. */
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	int ret = -1;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		const void *bits;
		ssize_t n = dwelf_elf_gnu_build_id(elf, &bits);
		*len = 0;
		if (n > 0 && n <= MAX_BUILD_ID) {
			memcpy(id, bits, (size_t)n);
			*len = (size_t)n;
		}
		ret = 0;
	}
	elf_end(elf);
	close(fd);
	return ret;
}

static bool same_id(const unsigned char *a, size_t alen,
		    const unsigned char *b, size_t blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

/* Report file to a new Dwfl as module name at bias.  Returns 0, or -1 when
 * elfutils does not accept the file. */
static int module_open(struct module *m, const char *name, const char *file,
		       uint64_t bias)
{
	m->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!m->dwfl)
		return -1;
	dwfl_report_begin(m->dwfl);
	/* add_p_vaddr: bias is where p_vaddr 0 lands (dlpi_addr); ignored
	 * for ET_EXEC, where it is 0 anyway. */
	m->mod = dwfl_report_elf(m->dwfl, name, file, -1, bias, true);
	if (dwfl_report_end(m->dwfl, NULL, NULL) != 0 || !m->mod) {
		dwfl_end(m->dwfl);
		m->dwfl = NULL;
		m->mod = NULL;
		return -1;
	}
	return 0;
}

static void module_release(struct module *m)
{
	for (size_t i = 0; i < m->cap_cus; i++)
		cu_index_free(m->cus[i]);
	free(m->cus);
	free(m->curanges);
	free(m->syms);
	if (m->dwfl)
		dwfl_end(m->dwfl);
	memset(m, 0, sizeof(*m));
}

/* Decide which file to read for a module: sets pub->status and
 * pub->elf_file.  Only the build-id note is read here; elfutils opens the
 * file on first use (module_ready), so that a recording with a thousand
 * modules does not hold a thousand descriptors for the few it needs. */
static void module_resolve(struct vms_symtab *st, struct vms_sym_module *pub,
			   const char *build_id_hex)
{
	unsigned char want[MAX_BUILD_ID], have[MAX_BUILD_ID];
	size_t want_len = parse_build_id(build_id_hex, want), have_len = 0;

	pub->status = VMS_SYM_MISSING;
	if (file_build_id(pub->path, have, &have_len) == 0) {
		if (want_len && !same_id(want, want_len, have, have_len)) {
			pub->status = VMS_SYM_MISMATCH;
		} else {
			pub->status = VMS_SYM_OK;
			pub->elf_file = pub->path;
			return;
		}
	}
	if (!want_len)
		return;

	/* The binary is gone or was rebuilt: the debug file with the
	 * recorded build-id has the symbols, line tables and program headers
	 * (no code, which we do not need). */
	char dbg[sizeof(DEBUG_ROOT) + 16 + 2 * MAX_BUILD_ID];
	int k = snprintf(dbg, sizeof(dbg), DEBUG_ROOT "/.build-id/%02x/",
			 want[0]);
	for (size_t i = 1; i < want_len; i++)
		k += snprintf(dbg + k, sizeof(dbg) - (size_t)k, "%02x",
			      want[i]);
	snprintf(dbg + k, sizeof(dbg) - (size_t)k, ".debug");
	if (file_build_id(dbg, have, &have_len) == 0 &&
	    same_id(want, want_len, have, have_len)) {
		pub->status = VMS_SYM_DEBUG_ONLY;
		pub->elf_file = intern(&st->strings, &st->arena, dbg);
		if (!pub->elf_file)
			pub->status = VMS_SYM_MISSING;
	}
}

/* Open the module's file with elfutils on first use.  Returns whether
 * there is something to read symbols from. */
static bool module_ready(struct vms_sym_module *pub, struct module *m)
{
	if (!m->tried) {
		m->tried = true;
		if (pub->elf_file && module_open(m, pub->path, pub->elf_file,
						 pub->bias)) {
			pub->status = VMS_SYM_MISSING;
			pub->elf_file = NULL;
		}
	}
	return m->mod != NULL;
}

/* Candidate module while vms_symtab_new sorts things out. */
struct cand {
	const struct vms_module_desc *d;
	size_t index;  /* position in the caller's array */
};

static int strcmp_null(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cand_key_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = strcmp(x->d->path, y->d->path);
	if (c)
		return c;
	if (x->d->bias != y->d->bias)
		return x->d->bias < y->d->bias ? -1 : 1;
	if ((c = strcmp_null(x->d->build_id_hex, y->d->build_id_hex)))
		return c;
	if (x->d->start != y->d->start)
		return x->d->start < y->d->start ? -1 : 1;
	if (x->d->end != y->d->end)
		return x->d->end < y->d->end ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static bool cand_same(const struct cand *x, const struct cand *y)
{
	return !strcmp(x->d->path, y->d->path) && x->d->bias == y->d->bias &&
	       !strcmp_null(x->d->build_id_hex, y->d->build_id_hex) &&
	       x->d->start == y->d->start && x->d->end == y->d->end;
}

struct kept {
	struct vms_sym_module pub;
	struct module mod;
	size_t index;
};

static int kept_cmp(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;
	if (x->pub.start != y->pub.start)
		return x->pub.start < y->pub.start ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static bool skip_path(const char *p)
{
	return !p || !*p || *p == '[';
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

struct vms_symtab *vms_symtab_new(const struct vms_module_desc *mods, size_t n)
{
	struct vms_symtab *st = calloc(1, sizeof(*st));
	struct cand *c = calloc(n ? n : 1, sizeof(*c));
	struct kept *k = calloc(n ? n : 1, sizeof(*k));
	size_t nc = 0, nk = 0;
	if (!st || !c || !k)
		goto oom;
	elf_version(EV_CURRENT);

	for (size_t i = 0; i < n; i++) {
		if (!skip_path(mods[i].path))
			c[nc++] = (struct cand){ &mods[i], i };
	}
	qsort(c, nc, sizeof(*c), cand_key_cmp);

	for (size_t i = 0; i < nc; i++) {
		const struct vms_module_desc *d = c[i].d;
		if (i > 0 && cand_same(&c[i - 1], &c[i]))
			continue;
		struct kept *e = &k[nk];
		memset(e, 0, sizeof(*e));
		e->index = c[i].index;
		e->pub.path = intern(&st->strings, &st->arena, d->path);
		if (!e->pub.path)
			goto oom;
		e->pub.name = base_name(e->pub.path);
		e->pub.bias = d->bias;
		module_resolve(st, &e->pub, d->build_id_hex);
		if (d->end > d->start) {
			e->pub.start = d->start;
			e->pub.end = d->end;
		} else if (module_ready(&e->pub, &e->mod)) {
			Dwarf_Addr lo = 0, hi = 0;
			dwfl_module_info(e->mod.mod, NULL, &lo, &hi, NULL,
					 NULL, NULL, NULL);
			e->pub.start = lo;
			e->pub.end = hi;
		}
		if (e->pub.end <= e->pub.start)
			e->pub.start = e->pub.end = 0;
		nk++;
	}

	/* Overlaps: keep the lower start, then the earlier entry. */
	qsort(k, nk, sizeof(*k), kept_cmp);
	st->pub = calloc(nk ? nk : 1, sizeof(*st->pub));
	st->mods = calloc(nk ? nk : 1, sizeof(*st->mods));
	if (!st->pub || !st->mods)
		goto oom;
	uint64_t last_end = 0;
	for (size_t i = 0; i < nk; i++) {
		if (k[i].pub.end == 0)
			continue;
		if (st->nmods == 0 || k[i].pub.start >= last_end) {
			st->pub[st->nmods] = k[i].pub;
			st->mods[st->nmods] = k[i].mod;
			st->nmods++;
			last_end = k[i].pub.end;
		} else {
			module_release(&k[i].mod);
		}
	}
	/* Listed for diagnostics after the others, never looked up. */
	st->nranged = st->nmods;
	for (size_t i = 0; i < nk; i++) {
		if (k[i].pub.end == 0) {
			st->pub[st->nmods] = k[i].pub;
			st->mods[st->nmods] = k[i].mod;
			st->nmods++;
		}
	}
	free(c);
	free(k);
	return st;

oom:
	for (size_t i = 0; i < nk; i++)
		module_release(&k[i].mod);
	free(c);
	free(k);
	vms_symtab_free(st);
	errno = ENOMEM;
	return NULL;
}

void vms_symtab_free(struct vms_symtab *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nmods; i++)
		module_release(&st->mods[i]);
	free(st->mods);
	free(st->pub);
	free(st->cache);
	free(st->scratch);
	strset_release(&st->strings);
	arena_release(&st->arena);
	free(st);
}

size_t vms_symtab_modules(const struct vms_symtab *st,
			  const struct vms_sym_module **mods_out)
{
	*mods_out = st->pub;
	return st->nmods;
}

/* ---- lookup ------------------------------------------------------------- */

static struct module *find_module(struct vms_symtab *st, uint64_t pc,
				  size_t *index)
{
	size_t lo = 0, hi = st->nranged;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->pub[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || pc >= st->pub[lo - 1].end)
		return NULL;
	*index = lo - 1;
	return &st->mods[lo - 1];
}

static struct cu_index *module_cu(struct module *m, Dwarf_Die *cudie)
{
	Dwarf_Off off = dwarf_dieoffset(cudie);
	if (m->ncus * 2 >= m->cap_cus) {
		size_t cap = m->cap_cus ? m->cap_cus * 2 : 64;
		struct cu_index **t = calloc(cap, sizeof(*t));
		if (!t)
			return NULL;
		for (size_t i = 0; i < m->cap_cus; i++) {
			if (!m->cus[i])
				continue;
			size_t j = (m->cus[i]->off * 0x9e3779b97f4a7c15ull) >>
				   32 & (cap - 1);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = m->cus[i];
		}
		free(m->cus);
		m->cus = t;
		m->cap_cus = cap;
	}
	size_t j = (off * 0x9e3779b97f4a7c15ull) >> 32 & (m->cap_cus - 1);
	for (; m->cus[j]; j = (j + 1) & (m->cap_cus - 1)) {
		if (m->cus[j]->off == off)
			return m->cus[j];
	}
	struct cu_index *cu = cu_index_build(cudie);
	if (cu) {
		m->cus[j] = cu;
		m->ncus++;
	}
	return cu;
}

/* ---- which CU covers an address ---------------------------------------------
 *
 * Not dwfl_module_addrdie(): elfutils 0.188 finds CUs only through
 * .debug_aranges, which clang does not emit by default.  The CUs' own
 * DW_AT_ranges / low_pc+high_pc are always there. */

static int cu_range_cmp(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static void module_load_cus(struct module *m)
{
	m->cus_done = true;
	if (!dwfl_module_getdwarf(m->mod, &m->dwbias))
		return;
	size_t cap = 0;
	Dwarf_Addr bias;
	for (Dwarf_Die *cu = dwfl_module_nextcu(m->mod, NULL, &bias); cu;
	     cu = dwfl_module_nextcu(m->mod, cu, &bias)) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;
		while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0) {
			if (lo == 0 || hi <= lo) /* see add_fnode */
				continue;
			if (m->ncuranges == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				struct cu_range *r = realloc(
					m->curanges, ncap * sizeof(*r));
				if (!r)
					goto done;
				m->curanges = r;
				cap = ncap;
			}
			m->curanges[m->ncuranges++] =
				(struct cu_range){ lo, hi, *cu };
		}
	}
done:
	qsort(m->curanges, m->ncuranges, sizeof(*m->curanges), cu_range_cmp);
}

/* The CU whose code contains the run-time address pc, or NULL. */
static Dwarf_Die *module_cu_die(struct module *m, uint64_t pc)
{
	if (!m->cus_done)
		module_load_cus(m);
	Dwarf_Addr a = pc - m->dwbias;
	size_t lo = 0, hi = m->ncuranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->curanges[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* CUs do not overlap; a few steps back in case a producer's do. */
	for (size_t i = lo, steps = 0; i > 0 && steps < 4; i--, steps++) {
		if (a < m->curanges[i - 1].hi)
			return &m->curanges[i - 1].die;
	}
	return NULL;
}

/* Intern a symbol name, demangled when it is a C++ one. */
static const char *intern_symbol(struct vms_symtab *st, const char *name)
{
	char *d = vms_sym_demangle(name);
	const char *s = intern(&st->strings, &st->arena, d ? d : name);
	free(d);
	return s;
}

static const char *die_string(Dwarf_Die *die, unsigned name)
{
	Dwarf_Attribute attr;
	const char *s = dwarf_formstring(dwarf_attr_integrate(die, name, &attr));
	return s && *s ? s : NULL;
}

static const char *node_name(struct vms_symtab *st, struct fnode *n)
{
	if (n->name_done)
		return n->name;
	/* A C++ linkage name demangles to the full name (namespace, class,
	 * parameters) where DW_AT_name would only say "push_back".  A C one
	 * is an asm label at best (glibc's "__GI___libc_malloc"), so there
	 * DW_AT_name is the better name.  All are found through
	 * abstract_origin / specification. */
	const char *link = die_string(&n->die, DW_AT_linkage_name);
	if (!link)
		link = die_string(&n->die, DW_AT_MIPS_linkage_name);
	const char *plain = die_string(&n->die, DW_AT_name);
	char *d = link ? vms_sym_demangle(link) : NULL;
	const char *use = d ? d : plain ? plain : link;
	n->name = intern(&st->strings, &st->arena, use);
	free(d);
	/* Out of memory leaves it to be tried again next time. */
	n->name_done = !use || n->name;
	return n->name;
}

static const char *cu_file(struct vms_symtab *st, struct cu_index *cu,
			   int64_t idx)
{
	if (!cu->files_done) {
		cu->files_done = true;
		if (dwarf_getsrcfiles(&cu->cudie, &cu->files, &cu->nfiles))
			cu->files = NULL;
	}
	if (!cu->files || idx < 0 || (uint64_t)idx >= cu->nfiles)
		return NULL;
	const char *s = dwarf_filesrc(cu->files, (size_t)idx, NULL, NULL);
	/* libdw's placeholder for DWARF < 5 file 0, "no file" */
	if (!s || !strcmp(s, "???"))
		return NULL;
	return intern(&st->strings, &st->arena, s);
}

/* ---- ELF symbol tables ---------------------------------------------------
 *
 * elfutils' dwfl_module_addrinfo scans the whole symbol table on every
 * call (~10^4 symbols for libc, 10^5 for a C++ library); this sorted copy
 * answers in a binary search. */

static int esym_rank(const GElf_Sym *sym, const char *name)
{
	/* Of several names for one address (glibc: malloc, __libc_malloc,
	 * __GI___libc_malloc) prefer the global one, then the one with the
	 * fewest leading underscores, then the shortest. */
	int bind = GELF_ST_BIND(sym->st_info);
	int r = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
	int us = 0;
	while (name[us] == '_' && us < 7)
		us++;
	size_t len = strlen(name);
	return r << 16 | us << 12 | (int)(len < 4095 ? len : 4095);
}

static int esym_cmp(const void *a, const void *b)
{
	const struct esym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void module_load_syms(struct module *m)
{
	m->syms_done = true;
	int n = dwfl_module_getsymtab(m->mod);
	if (n <= 1)
		return;
	m->syms = malloc((size_t)n * sizeof(*m->syms));
	if (!m->syms)
		return;
	size_t k = 0;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &addr,
							   &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info);
		if (!name || !*name || addr == 0 || shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		m->syms[k++] = (struct esym){ addr, sym.st_size, name,
					      esym_rank(&sym, name) };
	}
	qsort(m->syms, k, sizeof(*m->syms), esym_cmp);
	/* Keep the best name of each address (sorted first), and the
	 * largest size among its aliases. */
	size_t out = 0;
	for (size_t i = 0; i < k; i++) {
		if (out && m->syms[out - 1].addr == m->syms[i].addr) {
			if (m->syms[i].size > m->syms[out - 1].size)
				m->syms[out - 1].size = m->syms[i].size;
			continue;
		}
		m->syms[out++] = m->syms[i];
	}
	m->nsyms = out;
}

/* The function symbol containing pc, or NULL.  A symbol without a size
 * (hand-written assembly) covers everything up to the next symbol. */
static const char *module_sym_name(struct module *m, uint64_t pc)
{
	if (!m->syms_done)
		module_load_syms(m);
	size_t lo = 0, hi = m->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->syms[mid].addr <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A few steps back for a symbol that encloses smaller ones. */
	for (size_t i = lo, steps = 0; i > 0 && steps < 8; i--, steps++) {
		const struct esym *e = &m->syms[i - 1];
		if (pc - e->addr < e->size || (e->size == 0 && i == lo))
			return e->name;
	}
	return NULL;
}

static struct vms_sym_frame *scratch_frame(struct vms_symtab *st, size_t i)
{
	if (!st->scratch) {
		st->scratch = malloc(MAX_FRAMES * sizeof(*st->scratch));
		if (!st->scratch)
			return NULL;
	}
	return i < MAX_FRAMES ? &st->scratch[i] : NULL;
}

/* Fill the scratch frames for addr in module m.  Returns the count (>= 1),
 * 0 when out of memory before the first frame. */
static size_t resolve(struct vms_symtab *st, struct vms_sym_module *pub,
		      struct module *m, const struct vms_sym_frame *base,
		      uint64_t pc)
{
	struct vms_sym_frame *f = scratch_frame(st, 0);
	if (!f)
		return 0;
	*f = *base;
	if (!module_ready(pub, m))
		return 1;

	Dwarf_Die *cudie = module_cu_die(m, pc);
	Dwarf_Addr dwbias = m->dwbias;
	struct cu_index *cu = NULL;
	int32_t node = -1;
	if (cudie) {
		Dwarf_Line *line = dwarf_getsrc_die(cudie, pc - dwbias);
		int lineno = 0;
		if (line && dwarf_lineno(line, &lineno) == 0 && lineno > 0) {
			f->file = intern(&st->strings, &st->arena,
					 dwarf_linesrc(line, NULL, NULL));
			f->line = f->file ? lineno : 0;
		}
		cu = module_cu(m, cudie);
		if (cu)
			node = cu_find(cu, pc - dwbias);
	}

	size_t n = 1;
	while (node >= 0) {
		struct fnode *fn = &cu->nodes[node];
		f->function = node_name(st, fn);
		if (!fn->inlined || fn->parent < 0)
			break;
		struct vms_sym_frame *next = scratch_frame(st, n);
		if (!next)
			break;
		f->inlined = 1;
		*next = *base;
		next->file = cu_file(st, cu, fn->call_file);
		next->line = next->file ? fn->call_line : 0;
		f = next;
		n++;
		node = fn->parent;
	}
	if (!f->function) {
		/* No DWARF for this code (or no name in it): the ELF symbol
		 * table, .symtab when present, else .dynsym. */
		const char *s = module_sym_name(m, pc);
		if (s)
			f->function = intern_symbol(st, s);
	}
	return n;
}

static size_t cache_slot(const struct vms_symtab *st, uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 20) &
	       (st->cache_cap - 1);
}

static int cache_grow(struct vms_symtab *st)
{
	size_t cap = st->cache_cap ? st->cache_cap * 2 : 4096;
	struct entry *old = st->cache;
	size_t old_cap = st->cache_cap;
	st->cache = calloc(cap, sizeof(*st->cache));
	if (!st->cache) {
		st->cache = old;
		return -1;
	}
	st->cache_cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].frames)
			continue;
		size_t j = cache_slot(st, old[i].addr);
		while (st->cache[j].frames)
			j = (j + 1) & (cap - 1);
		st->cache[j] = old[i];
	}
	free(old);
	return 0;
}

size_t vms_symtab_lookup(struct vms_symtab *st, uint64_t addr,
			 const struct vms_sym_frame **frames_out)
{
	if (st->cache_cap) {
		for (size_t j = cache_slot(st, addr); st->cache[j].frames;
		     j = (j + 1) & (st->cache_cap - 1)) {
			if (st->cache[j].addr == addr) {
				*frames_out = st->cache[j].frames;
				return st->cache[j].n;
			}
		}
	}

	/* A return address follows the call: the call itself is at
	 * addr - 1, and is in the same function, line and module. */
	uint64_t pc = addr ? addr - 1 : 0;
	struct vms_sym_frame base = { .address = addr };
	size_t mi = 0;
	struct module *m = find_module(st, pc, &mi);
	if (m) {
		base.module = st->pub[mi].name;
		base.module_offset = addr - st->pub[mi].bias;
	}
	size_t n = m ? resolve(st, &st->pub[mi], m, &base, pc) : 0;
	if (n == 0) {
		if (!m) {
			struct vms_sym_frame *f = scratch_frame(st, 0);
			if (f) {
				*f = base;
				n = 1;
			}
		}
		if (n == 0) {
			st->fallback = base;
			*frames_out = &st->fallback;
			return 1;
		}
	}

	struct vms_sym_frame *keep = NULL;
	if ((st->cache_n + 1) * 2 <= st->cache_cap || cache_grow(st) == 0)
		keep = arena_alloc(&st->arena, n * sizeof(*keep));
	if (!keep) {
		*frames_out = st->scratch;
		return n;
	}
	memcpy(keep, st->scratch, n * sizeof(*keep));
	size_t j = cache_slot(st, addr);
	while (st->cache[j].frames)
		j = (j + 1) & (st->cache_cap - 1);
	st->cache[j] = (struct entry){ addr, keep, n };
	st->cache_n++;
	*frames_out = keep;
	return n;
}

/* ---- preparing on another thread ------------------------------------------ */

bool vms_symtab_prepare(struct vms_symtab *st, uint64_t addr)
{
	size_t mi;
	struct module *m = find_module(st, addr ? addr - 1 : 0, &mi);

	if (!m || __atomic_load_n(&m->ready, __ATOMIC_ACQUIRE))
		return false;
	if (module_ready(&st->pub[mi], m)) {
		if (!m->cus_done)
			module_load_cus(m);
		if (!m->syms_done)
			module_load_syms(m);
	}
	__atomic_store_n(&m->ready, 1, __ATOMIC_RELEASE);
	return true;
}

size_t vms_symtab_adopt(struct vms_symtab *st, struct vms_symtab *donor)
{
	size_t taken = 0;

	for (size_t i = 0; i < donor->nranged; i++) {
		const struct vms_sym_module *dp = &donor->pub[i];
		struct module *dm = &donor->mods[i], *m;
		size_t j;

		if (!__atomic_load_n(&dm->ready, __ATOMIC_ACQUIRE) || !dm->mod)
			continue;
		m = find_module(st, dp->start, &j);
		if (!m || m->tried || st->pub[j].start != dp->start ||
		    st->pub[j].end != dp->end || st->pub[j].bias != dp->bias ||
		    st->pub[j].status != dp->status ||
		    strcmp(st->pub[j].path, dp->path) ||
		    strcmp_null(st->pub[j].elf_file, dp->elf_file))
			continue;
		*m = *dm;
		m->ready = 1;
		/* The donor keeps an empty husk: its ready flag stays set, so
		 * its thread never looks at the rest again. */
		dm->dwfl = NULL;
		dm->mod = NULL;
		dm->curanges = NULL;
		dm->ncuranges = 0;
		dm->cus = NULL;
		dm->ncus = dm->cap_cus = 0;
		dm->syms = NULL;
		dm->nsyms = 0;
		taken++;
	}
	return taken;
}

/* ---- formatting ---------------------------------------------------------- */

void vms_sym_frame_format(const struct vms_sym_frame *f, char *buf,
			  size_t len)
{
	if (!len)
		return;
	if (f->function && f->file && f->line > 0)
		snprintf(buf, len, "%s (%s:%d)", f->function,
			 base_name(f->file), f->line);
	else if (f->function && f->file)
		snprintf(buf, len, "%s (%s)", f->function, base_name(f->file));
	else if (f->function && f->module)
		snprintf(buf, len, "%s (%s)", f->function, f->module);
	else if (f->function)
		snprintf(buf, len, "%s", f->function);
	else if (f->module)
		snprintf(buf, len, "%s+0x%" PRIx64, f->module,
			 f->module_offset);
	else
		snprintf(buf, len, "0x%" PRIx64, f->address);
}
