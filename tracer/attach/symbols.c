#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/attach/symbols.h"

#define SYMBOL_CACHE_SIZE 4096	/* distinct PCs remembered; more just re-resolve */

struct symbol_entry {
	uint64_t addr;		/* looked-up address, 0 = empty */
	char *function, *module, *file;
	int line;
};

struct symbolizer {
	Dwfl *dwfl;
	struct symbol_entry cache[SYMBOL_CACHE_SIZE];
};

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
static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_build_id_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

struct symbolizer *symbolizer_new(pid_t pid)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));

	s->dwfl = dwfl_begin(&proc_callbacks);
	if (!s->dwfl)
		goto fail;
	dwfl_report_begin(s->dwfl);
	if (dwfl_linux_proc_report(s->dwfl, pid) != 0) {
		dwfl_report_end(s->dwfl, NULL, NULL);
		goto fail;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0)
		goto fail;
	return s;
fail:
	debug_msg("libdwfl: %s", dwfl_errmsg(-1));
	symbolizer_free(s);
	return NULL;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (int i = 0; i < SYMBOL_CACHE_SIZE; i++) {
		free(s->cache[i].function);
		free(s->cache[i].module);
		free(s->cache[i].file);
	}
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s);
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static void resolve(struct symbolizer *s, uint64_t addr, struct symbol_entry *e)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	const char *name, *modname;
	GElf_Off off;
	GElf_Sym sym;
	Dwfl_Line *line;

	e->addr = addr;
	if (!mod)
		return;
	modname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL,
				   NULL);
	e->module = xstrdup(base_name(modname));
	name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	e->function = xstrdup(name);
	for (size_t i = 0; i < sizeof(no_lines_modules) / sizeof(*no_lines_modules); i++)
		if (e->module && !strcmp(e->module, no_lines_modules[i]))
			return;
	line = dwfl_module_getsrc(mod, addr);
	if (line) {
		int lineno = 0;
		const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL,
						 NULL, NULL);

		if (file && lineno > 0) {
			e->file = xstrdup(file);
			e->line = lineno;
		}
	}
}

void symbolizer_describe(struct symbolizer *s, uint64_t pc, bool is_return,
			 struct frame *f)
{
	uint64_t addr = is_return && pc ? pc - 1 : pc;
	struct symbol_entry *e = &s->cache[(addr * 0x9e3779b97f4a7c15ull) >> 52];

	f->pc = pc;
	if (e->addr != addr) {
		free(e->function);
		free(e->module);
		free(e->file);
		memset(e, 0, sizeof(*e));
		resolve(s, addr, e);
	}
	f->function = xstrdup(e->function);
	f->module = xstrdup(e->module);
	f->file = xstrdup(e->file);
	f->line = e->line;
}
