#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "tracer/attach/inline_index.h"
#include "tracer/attach/procfs.h"
#include "tracer/attach/symbols.h"

#define SYMBOL_CACHE_SIZE 4096	/* distinct PCs remembered; more just re-resolve */

/* One function at a PC: the innermost inlined one first. */
struct symbol_level {
	char *function, *file;
	int line;
};

struct symbol_entry {
	uint64_t addr;		/* looked-up address, 0 = empty */
	char *module;
	int n_levels;
	struct symbol_level levels[SYMBOLS_MAX_INLINE + 1];
};

struct symbolizer {
	pid_t pid;
	Dwfl *dwfl;
	struct inline_index *inlines;
	char *maps;		/* the file mappings its modules came from */
	dev_t root_dev;		/* ... as seen from this root directory */
	ino_t root_ino;
	bool kept, in_use;
	uint64_t used;		/* when last got, in gets */
	int warmed;		/* functions symbolizer_warm() found, -1: not yet */
	struct symbol_entry cache[SYMBOL_CACHE_SIZE];
};

/*
 * Symbolizers kept while symbolizer_keep() is on: pydeadlock run's
 * supervisor looks at the same processes again and again, and the DWARF
 * libdw loaded for a module (libpython's eval loop alone is most of an
 * attach's time) stays loaded while it is mapped.  One serves every
 * process with the same files mapped at the same addresses (a fork's
 * children: a pool of workers costs one).
 */
#define KEPT_MAX 8
static struct symbolizer *kept[KEPT_MAX];
static bool keeping;
static uint64_t gets;

static void entry_clear(struct symbol_entry *e)
{
	for (int i = 0; i < e->n_levels; i++) {
		free(e->levels[i].function);
		free(e->levels[i].file);
	}
	free(e->module);
	memset(e, 0, sizeof(*e));
}

/*
 * Modules whose frames get no file:line.  Their separate debug information
 * (libc6-dbg) is tens of MB of compressed DWARF: inflating it costs about
 * 40 ms per attach, 80% of the whole run, for lines inside glibc that no
 * user acts on.  Their function names still come from the symbol table.
 */
static const char *const no_lines_modules[] = {
	"libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6", "libpthread.so.0",
};

/*
 * Separate debug information is found by build ID under /usr/lib/debug;
 * a module's own DWARF is used without asking.  Not
 * dwfl_standard_find_debuginfo: it loads the debuginfod client, which
 * costs a dlopen per run and could reach the network.
 */
static char *debuginfo_path;

/*
 * A module's file as the target sees it: through /proc/PID/root, so that
 * a process in a container or chroot, whose libraries exist only in its
 * own mount namespace, gets its symbols and lines too (the same file as
 * the path itself for any other process).  Then libdwfl's own way: the
 * path, or the target's memory for the vDSO and deleted files.
 */
static int find_elf_in_root(Dwfl_Module *mod, void **userdata,
			    const char *modname, Dwarf_Addr base,
			    char **file_name, Elf **elfp)
{
	const struct symbolizer *s = *userdata;
	char path[PATH_MAX + 32];
	int fd;

	if (s && modname[0] == '/' &&
	    (size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", (int)s->pid,
			     modname) < sizeof(path) &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		*file_name = strdup(path);
		if (*file_name)
			return fd;
		close(fd);
	}
	return dwfl_linux_proc_find_elf(mod, userdata, modname, base,
					file_name, elfp);
}

/* Each module knows its symbolizer, for find_elf_in_root. */
static int module_owner(Dwfl_Module *mod, void **userdata, const char *name,
			Dwarf_Addr start, void *arg)
{
	(void)mod;
	(void)name;
	(void)start;
	*userdata = arg;
	return DWARF_CB_OK;
}

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = find_elf_in_root,
	.find_debuginfo = dwfl_build_id_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* maps as /proc/PID/maps text, for libdwfl's reader: false if none.
 * modules: only the mappings of files and the vDSO, what libdwfl makes
 * modules of (threads' stacks and the heap come and go under them). */
static bool maps_string(const struct maps *m, bool modules, char **buf, size_t *len)
{
	FILE *f;

	*buf = NULL;
	*len = 0;
	if (!m || !m->n || !(f = open_memstream(buf, len)))
		return false;
	for (int i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];

		if (modules && !e->inode && !(e->path && !strcmp(e->path, "[vdso]")))
			continue;
		fprintf(f, "%" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " %02lx:%02lx %lu %s\n",
			e->start, e->end, e->perms, e->offset, e->dev >> 20,
			e->dev & 0xfffff, e->inode, e->path ? e->path : "");
	}
	if (fclose(f) || !*len) {
		free(*buf);
		*buf = NULL;
		return false;
	}
	return true;
}

/*
 * Is every line of old also in new?  Both list mappings in address order,
 * one a line, so one pass over each.
 */
static bool lines_kept(const char *old, const char *new)
{
	while (*old) {
		size_t n = strcspn(old, "\n") + 1;

		while (*new && strncmp(new, old, n))
			new += strcspn(new, "\n") + 1;
		if (!*new)
			return false;
		old += n;
		new += n;
	}
	return true;
}

/*
 * (Re)report s's modules from maps (or /proc/PID/maps).  libdwfl keeps a
 * module reported again with the same name and range, and what it loaded
 * for it.  Unless every module is still there (modules added only, as by
 * an import), the PCs and inline trees remembered here are dropped, as a
 * module gone may leave its addresses to another; sig: the new modules.
 */
static int report_modules(struct symbolizer *s, char *text, size_t len,
			  const char *sig)
{
	FILE *f = text ? fmemopen(text, len, "r") : NULL;
	int rc;

	if (!s->maps || !sig || !lines_kept(s->maps, sig)) {
		for (int i = 0; i < SYMBOL_CACHE_SIZE; i++)
			entry_clear(&s->cache[i]);
		inline_index_free(s->inlines);
		s->inlines = inline_index_new();
		s->warmed = -1;
	}
	dwfl_report_begin(s->dwfl);
	/* the mappings the stop read: the process may have ended since */
	rc = f ? dwfl_linux_proc_maps_report(s->dwfl, f)
	       : dwfl_linux_proc_report(s->dwfl, s->pid);
	if (f)
		fclose(f);
	if (rc != 0) {
		dwfl_report_end(s->dwfl, NULL, NULL);
		return -1;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0)
		return -1;
	dwfl_getmodules(s->dwfl, module_owner, s, 0);
	return 0;
}

static struct symbolizer *symbolizer_build(pid_t pid, char *text, size_t len)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));

	s->pid = pid;
	s->dwfl = dwfl_begin(&proc_callbacks);
	if (!s->dwfl || report_modules(s, text, len, NULL) < 0) {
		debug_msg("libdwfl: %s", dwfl_errmsg(-1));
		symbolizer_free(s);
		return NULL;
	}
	return s;
}

struct symbolizer *symbolizer_new(pid_t pid, const struct maps *maps)
{
	char *text = NULL;
	size_t len = 0;
	struct symbolizer *s = maps_string(maps, false, &text, &len)
			       ? symbolizer_build(pid, text, len)
			       : symbolizer_build(pid, NULL, 0);

	free(text);
	return s;
}

/* The process's root directory (a container's differs): its files are
 * read through it. */
static bool root_of(pid_t pid, dev_t *dev, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
	if (stat(path, &st) < 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

static void kept_free(int i)
{
	symbolizer_free(kept[i]);
	kept[i] = NULL;
}

void symbolizer_keep(bool on)
{
	keeping = on;
	for (int i = 0; !on && i < KEPT_MAX; i++)
		if (kept[i] && !kept[i]->in_use)
			kept_free(i);
}

/*
 * The kept symbolizer for these modules (sig) under this root, else a
 * slot to put one in: a free one, else the one unused longest, whose
 * modules libdwfl keeps where they are the same; -1 when all are in use.
 */
static int kept_find(const char *sig, dev_t dev, ino_t ino, bool *same)
{
	int slot = -1;

	*same = false;
	for (int i = 0; i < KEPT_MAX; i++)
		if (kept[i] && !kept[i]->in_use && kept[i]->root_dev == dev &&
		    kept[i]->root_ino == ino && !strcmp(kept[i]->maps, sig)) {
			*same = true;
			return i;
		}
	for (int i = 0; i < KEPT_MAX; i++) {
		if (!kept[i])
			return i;
		if (!kept[i]->in_use && (slot < 0 || kept[i]->used < kept[slot]->used))
			slot = i;
	}
	if (slot >= 0 && (kept[slot]->root_dev != dev || kept[slot]->root_ino != ino))
		kept_free(slot);	/* another root: nothing to share */
	return slot;
}

struct symbolizer *symbolizer_get(pid_t pid, const struct maps *maps)
{
	struct maps now = { 0 };
	char *text = NULL, *sig = NULL;
	size_t len = 0, sig_len;
	struct symbolizer *s = NULL;
	bool same;
	dev_t dev;
	ino_t ino;
	int slot;

	if (!keeping || !root_of(pid, &dev, &ino))
		return symbolizer_new(pid, maps);
	/* no stop's maps: the process's own, now */
	if ((!maps || !maps->n) && procfs_maps(pid, &now) > 0)
		maps = &now;
	if (!maps_string(maps, true, &sig, &sig_len) ||
	    !maps_string(maps, false, &text, &len) ||
	    (slot = kept_find(sig, dev, ino, &same)) < 0)
		goto out;
	s = kept[slot];
	if (s) {
		s->pid = pid;	/* whose root its files are read through */
		if (!same && report_modules(s, text, len, sig) < 0) {
			kept_free(slot);
			s = NULL;
		}
	}
	if (!s && (s = symbolizer_build(pid, text, len))) {
		kept[slot] = s;
		s->kept = true;	/* warmed: -1, as report_modules left it */
		s->root_dev = dev;
		s->root_ino = ino;
	}
	if (s) {
		if (!same) {
			free(s->maps);
			s->maps = sig;
			sig = NULL;
		}
		s->in_use = true;
		s->used = ++gets;
	}
out:
	free(sig);
	free(text);
	maps_free(&now);
	return s ? s : symbolizer_new(pid, maps);
}

void symbolizer_put(struct symbolizer *s)
{
	if (s && s->kept)
		s->in_use = false;
	else
		symbolizer_free(s);
}

static const Dwfl_Callbacks core_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_build_id_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

struct symbolizer *symbolizer_new_core(void *core_elf, const char *exe)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));

	s->inlines = inline_index_new();
	s->dwfl = dwfl_begin(&core_callbacks);
	if (!s->dwfl)
		goto fail;
	dwfl_report_begin(s->dwfl);
	if (dwfl_core_file_report(s->dwfl, core_elf, exe) < 0) {
		dwfl_report_end(s->dwfl, NULL, NULL);
		goto fail;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0)
		goto fail;
	/* the threads' registers, for dwfl_getthread_frames */
	if (dwfl_core_file_attach(s->dwfl, core_elf) < 0)
		debug_msg("libdwfl: no thread state in the core: %s", dwfl_errmsg(-1));
	return s;
fail:
	debug_msg("libdwfl: %s", dwfl_errmsg(-1));
	symbolizer_free(s);
	return NULL;
}

void *symbolizer_dwfl(struct symbolizer *s)
{
	return s ? s->dwfl : NULL;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (int i = 0; i < SYMBOL_CACHE_SIZE; i++)
		entry_clear(&s->cache[i]);
	if (s->dwfl)
		dwfl_end(s->dwfl);
	inline_index_free(s->inlines);
	free(s->maps);
	free(s);
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static bool wants_lines(const char *module)
{
	for (size_t i = 0; i < sizeof(no_lines_modules) / sizeof(*no_lines_modules); i++)
		if (module && !strcmp(module, no_lines_modules[i]))
			return false;
	return true;
}

/* The name of a subprogram or inlined subroutine DIE (through its origin). */
static const char *scope_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
	return name;
}

/*
 * Split the PC into its inline levels: level 0 is the innermost inlined
 * function at the line the line table gives; each inlined subroutine's
 * call site is the line of the level that encloses it.
 */
static void resolve_inlines(struct symbolizer *s, Dwfl_Module *mod,
			    uint64_t addr, struct symbol_entry *e,
			    const char *file, int line)
{
	struct inline_level chain[SYMBOLS_MAX_INLINE + 1];
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
	Dwarf_Files *files = NULL;
	size_t n_files = 0;
	int n;

	if (!cu)
		return;
	n = inline_index_levels(s->inlines, cu, addr - bias, chain,
				SYMBOLS_MAX_INLINE + 1);
	dwarf_getsrcfiles(cu, &files, &n_files);
	for (int i = 0; i < n; i++) {
		struct symbol_level *lv = &e->levels[e->n_levels++];
		Dwarf_Die die;

		lv->function = dwarf_offdie(dwarf_cu_getdwarf(cu->cu),
					    chain[i].die, &die)
			       ? xstrdup(scope_name(&die)) : NULL;
		lv->file = xstrdup(file);
		lv->line = line;
		/* the enclosing level runs at this inlined call's site */
		file = NULL;
		line = 0;
		if (chain[i].inlined && files &&
		    (size_t)chain[i].call_file < n_files) {
			file = dwarf_filesrc(files, chain[i].call_file, NULL, NULL);
			line = chain[i].call_line;
		}
	}
}

static void resolve(struct symbolizer *s, uint64_t addr, struct symbol_entry *e)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	const char *name, *file = NULL;
	int lineno = 0;
	GElf_Off off;
	GElf_Sym sym;
	Dwfl_Line *line;

	e->addr = addr;
	if (!mod)
		return;
	e->module = xstrdup(base_name(dwfl_module_info(mod, NULL, NULL, NULL,
						       NULL, NULL, NULL, NULL)));
	if (wants_lines(e->module)) {
		line = dwfl_module_getsrc(mod, addr);
		if (line)
			file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
		if (!file || lineno <= 0) {
			file = NULL;
			lineno = 0;
		}
		resolve_inlines(s, mod, addr, e, file, lineno);
	}
	/*
	 * DWARF names the functions it covers; the symbol table (whose first
	 * use sorts every symbol of the module, 40% of an attach to a
	 * Python with debug info) only the rest.
	 */
	if (e->n_levels && e->levels[e->n_levels - 1].function)
		return;
	name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	if (e->n_levels) {
		e->levels[e->n_levels - 1].function = xstrdup(name);
		return;
	}
	e->n_levels = 1;
	e->levels[0].function = xstrdup(name);
	e->levels[0].file = xstrdup(file);
	e->levels[0].line = lineno;
}

void symbolizer_add_frames(struct symbolizer *s, uint64_t pc, bool is_return,
			   struct thread_model *t)
{
	uint64_t addr = is_return && pc ? pc - 1 : pc;
	struct symbol_entry *e = &s->cache[(addr * 0x9e3779b97f4a7c15ull) >> 52];

	if (e->addr != addr || !addr) {
		entry_clear(e);
		resolve(s, addr, e);
	}
	for (int i = 0; i < (e->n_levels ? e->n_levels : 1); i++) {
		struct frame *f = model_add_frame(t);

		f->pc = pc;
		f->module = xstrdup(e->module);
		if (!e->n_levels)
			break;
		f->function = xstrdup(e->levels[i].function);
		f->file = xstrdup(e->levels[i].file);
		f->line = e->levels[i].line;
		f->inlined = i < e->n_levels - 1;
	}
}

/* What symbolizer_warm() reads ahead, for the module being walked. */
struct warm_walk {
	struct symbolizer *s;
	const struct symbol_warmth *w;
};

static bool name_listed(const char *name, const char *const *list, bool prefix)
{
	for (; name && *list; list++)
		if (prefix ? !strncmp(name, *list, strlen(*list)) : !strcmp(name, *list))
			return true;
	return false;
}

static int warm_module(Dwfl_Module *mod, void **userdata, const char *name,
		       Dwarf_Addr start, void *arg)
{
	struct warm_walk *walk = arg;
	int n = dwfl_module_getsymtab(mod);
	struct symbol_entry e;
	GElf_Off off;
	GElf_Sym sym;

	(void)userdata;
	if (!name_listed(base_name(name), walk->w->modules, true))
		return DWARF_CB_OK;
	/* a first lookup sorts the module's symbols */
	(void)dwfl_module_addrinfo(mod, start, &off, &sym, NULL, NULL, NULL);
	for (int i = 1; i < n; i++) {
		GElf_Addr addr;
		const char *fn = dwfl_module_getsym_info(mod, i, &sym, &addr,
							 NULL, NULL, NULL);

		if (!fn || GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size ||
		    !name_listed(fn, walk->w->functions, false))
			continue;
		memset(&e, 0, sizeof(e));
		resolve(walk->s, addr, &e);
		entry_clear(&e);
		walk->s->warmed++;
	}
	return DWARF_CB_OK;
}

int symbolizer_warm(pid_t pid, const struct symbol_warmth *w)
{
	struct symbolizer *s = keeping ? symbolizer_get(pid, NULL) : NULL;
	struct warm_walk walk = { s, w };
	int found;

	if (!s)
		return -1;
	if (s->warmed < 0) {	/* not yet, for these modules */
		s->warmed = 0;
		dwfl_getmodules(s->dwfl, warm_module, &walk, 0);
	}
	found = s->warmed;
	symbolizer_put(s);
	return found;
}
