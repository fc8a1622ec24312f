/*
 * Finding the interpreter: the ELF file (libpython or the executable)
 * that defines _PyRuntime, its load address, the version, and the
 * layout for that version.  Reads only /proc and the files.
 */
#include <fcntl.h>
#include <limits.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "tracer/python/py_debug_offsets.h"
#include "tracer/python/py_private.h"

#define PY_PAGE_MASK (~(uint64_t)0xfff)
#define PY_WHY_MAX 128		/* a one-line reason */

/* The symbols we look up in the ELF file, by name. */
enum py_symbol {
	SYM_RUNTIME, SYM_VERSION, SYM_CODE, SYM_UNICODE, SYM_LONG, SYM_DICT,
	SYM_MODULE, SYM_CFUNCTION, SYM_METHOD, SYM_BYTES, SYM_NONE,
	SYM_HANDLERS, SYM_COUNT
};

/* SYM_HANDLERS: Modules/signalmodule.c's static table (up to 3.11), a
 * local symbol: only in a build that keeps its .symtab */
static const char *const py_symbol_names[SYM_COUNT] = {
	"_PyRuntime", "Py_Version", "PyCode_Type", "PyUnicode_Type",
	"PyLong_Type", "PyDict_Type", "PyModule_Type", "PyCFunction_Type",
	"PyMethod_Type", "PyBytes_Type", "_Py_NoneStruct", "Handlers",
};

/* An ELF file that may hold the interpreter, and what we found in it. */
struct py_elf {
	const char *path;	/* as mapped */
	uint64_t sym[SYM_COUNT];	/* link-time addresses, 0 = absent */
	uint64_t first_load;	/* p_vaddr of the first PT_LOAD */
	bool dynamic;		/* ET_DYN: needs the load bias */
	char rodata_version[16];	/* "3.9.18" found in .rodata */
	uint64_t bss, bss_size;		/* link-time .bss, 0 if no sections */
	int minor;		/* X of python3.X in the name, -1 */
};

/* Looks for "3.<minor>.<patch>" as a whole string in data. */
static void py_find_version_string(const char *data, size_t len, int minor,
				   char *out, size_t out_size)
{
	char needle[16];
	size_t nlen = snprintf(needle, sizeof(needle), "3.%d.", minor);
	const char *p = data, *end = data + len;

	while ((p = memmem(p, end - p, needle, nlen))) {
		const char *q = p + nlen;

		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (q > p + nlen && q < end && !*q && (p == data ||
		    (p[-1] != '.' && (p[-1] < '0' || p[-1] > '9'))) &&
		    (size_t)(q - p) < out_size) {
			memcpy(out, p, q - p);
			out[q - p] = '\0';
			return;
		}
		p += nlen;
	}
}

/* Reads the symbols, first PT_LOAD and (<= 3.10) version of one file. */
static int py_elf_scan(pid_t pid, struct py_elf *e)
{
	char path[PATH_MAX + 32];
	Elf_Scn *scn = NULL;
	GElf_Ehdr ehdr;
	size_t phnum, shstrndx;
	int fd, found = -1;
	Elf *elf;

	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, e->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open(e->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || !gelf_getehdr(elf, &ehdr) || elf_getphdrnum(elf, &phnum) ||
	    elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	e->dynamic = ehdr.e_type == ET_DYN;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD) {
			e->first_load = ph.p_vaddr;
			break;
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".bss")) {
			e->bss = sh.sh_addr;
			e->bss_size = sh.sh_size;
		}
		if (e->minor >= 0 && name && !strcmp(name, ".rodata") &&
		    (data = elf_getdata(scn, NULL)) && data->d_buf)
			py_find_version_string(data->d_buf, data->d_size,
					       e->minor, e->rodata_version,
					       sizeof(e->rodata_version));
		if ((sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(data, i, &sym) || !sym.st_value ||
			    sym.st_shndx == SHN_UNDEF ||
			    !(s = elf_strptr(elf, sh.sh_link, sym.st_name)))
				continue;
			for (int k = 0; k < SYM_COUNT; k++)
				if (!e->sym[k] && !strcmp(s, py_symbol_names[k]))
					e->sym[k] = sym.st_value;
		}
	}
	found = e->sym[SYM_RUNTIME] ? 0 : -1;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

/* X of "python3.X" in a file name, or -1. */
static int py_name_minor(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *p = strstr(base ? base : path, "python3.");

	return p && p[8] >= '0' && p[8] <= '9' ? atoi(p + 8) : -1;
}

static bool py_candidate(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return (!strncmp(base, "python", 6) || !strncmp(base, "libpython", 9))
		&& !strstr(base, " (deleted)");
}

/* The first ELF file in maps that defines _PyRuntime; its load bias. */
static int py_find_runtime_file(pid_t pid, const struct maps *maps,
				struct py_elf *e, uint64_t *bias,
				bool *saw_python)
{
	for (int i = 0; i < maps->n; i++) {
		const struct map_entry *m = &maps->v[i];

		if (!m->path || m->offset || !py_candidate(m->path))
			continue;
		*saw_python = true;
		memset(e, 0, sizeof(*e));
		e->path = m->path;
		e->minor = py_name_minor(m->path);
		if (py_elf_scan(pid, e))
			continue;
		*bias = e->dynamic ? m->start - (e->first_load & PY_PAGE_MASK)
				   : 0;
		return 0;
	}
	return -1;
}

/* A new one-line reason: before, the version, after. */
static char *py_why(const char *before, const char *version, const char *after)
{
	char *why = xmalloc(PY_WHY_MAX);

	snprintf(why, PY_WHY_MAX, "%s%s%s", before, version, after);
	return why;
}

/* The version: Py_Version (3.11+), the debug offsets, or .rodata. */
static void py_version_find(struct py_locator *loc, const struct py_elf *e,
			    uint64_t bias)
{
	uint32_t hex = 0;
	unsigned int maj = 0, min = 0, patch = 0;

	if (e->sym[SYM_VERSION] &&
	    !py_read(loc, bias + e->sym[SYM_VERSION], &hex, sizeof(hex)))
		loc->hexversion = hex;
	else if (!py_debug_offsets_version(loc, &hex, NULL))
		loc->hexversion = hex;
	else if (e->rodata_version[0] &&
		 sscanf(e->rodata_version, "%u.%u.%u", &maj, &min, &patch) == 3)
		loc->hexversion = maj << 24 | min << 16 | patch << 8 | 0xf0;
	else if (e->minor >= 0)
		loc->hexversion = 3 << 24 | e->minor << 16;
	hex = loc->hexversion;
	snprintf(loc->version, sizeof(loc->version), "%u.%u.%u", hex >> 24,
		 (hex >> 16) & 0xff, (hex >> 8) & 0xff);
}

struct py_locator *py_locate(pid_t pid, const struct maps *maps, char **why)
{
	struct py_locator *loc;
	const struct py_layout *layout;
	struct py_elf e;
	uint64_t bias = 0, interp = 0;
	bool saw_python = false, free_threaded = false;
	uint32_t hex;

	*why = NULL;
	if (py_find_runtime_file(pid, maps, &e, &bias, &saw_python)) {
		/* not Python at all: no reason to give, the native view is all */
		*why = saw_python ? xstrdup("unsupported Python (no _PyRuntime)")
				  : NULL;
		return NULL;
	}
	loc = xcalloc(1, sizeof(*loc));
	loc->pid = pid;
	loc->runtime = bias + e.sym[SYM_RUNTIME];
	loc->types.code = e.sym[SYM_CODE] ? bias + e.sym[SYM_CODE] : 0;
	loc->types.unicode = e.sym[SYM_UNICODE] ? bias + e.sym[SYM_UNICODE] : 0;
	loc->types.long_ = e.sym[SYM_LONG] ? bias + e.sym[SYM_LONG] : 0;
	loc->types.dict = e.sym[SYM_DICT] ? bias + e.sym[SYM_DICT] : 0;
	loc->types.module = e.sym[SYM_MODULE] ? bias + e.sym[SYM_MODULE] : 0;
	loc->types.cfunction = e.sym[SYM_CFUNCTION] ?
			       bias + e.sym[SYM_CFUNCTION] : 0;
	loc->types.method = e.sym[SYM_METHOD] ? bias + e.sym[SYM_METHOD] : 0;
	loc->types.bytes = e.sym[SYM_BYTES] ? bias + e.sym[SYM_BYTES] : 0;
	loc->none = e.sym[SYM_NONE] ? bias + e.sym[SYM_NONE] : 0;
	loc->signal_handlers = e.sym[SYM_HANDLERS] ?
			       bias + e.sym[SYM_HANDLERS] : 0;
	loc->bss = e.bss ? bias + e.bss : 0;
	loc->bss_size = e.bss_size;
	py_version_find(loc, &e, bias);
	(void)py_debug_offsets_version(loc, &hex, &free_threaded);
	layout = py_layout_find(loc->hexversion, free_threaded);
	if (!layout) {
		*why = py_why("unsupported Python ", loc->hexversion ?
			      loc->version : "(version unknown)",
			      free_threaded ? " (free-threaded)" : "");
		goto fail;
	}
	loc->layout = *layout;
	if (py_debug_offsets_apply(loc)) {
		*why = py_why("unsupported Python ", loc->version,
			      " (its _Py_DebugOffsets disagree with its build)");
		goto fail;
	}
	if (py_read_ptr(loc, loc->runtime +
			loc->layout.runtime_interpreters_head, &interp)) {
		*why = py_why("Python ", loc->version, ": runtime unreadable");
		goto fail;
	}
	if (!interp) {
		*why = xstrdup("Python is still starting up");
		goto fail;
	}
	debug_msg("python: %s runtime %#llx in %s", loc->version,
		  (unsigned long long)loc->runtime, e.path);
	return loc;
fail:
	free(loc);
	return NULL;
}

const char *py_locator_version(const struct py_locator *loc)
{
	return loc->version;
}

void py_locator_free(struct py_locator *loc)
{
	if (!loc)
		return;
	py_code_cache_clear(loc);
	free(loc);
}
