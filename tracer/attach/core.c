/*
 * Reading an ELF core file.  Its program headers are the process's
 * mappings (PT_LOAD: the dumped bytes; a file-backed mapping the kernel
 * or gcore left out has file size 0) and its notes (PT_NOTE) the rest:
 * NT_PRSTATUS per thread (TID, registers), NT_PRPSINFO (name, arguments,
 * parent), NT_FILE (which file is mapped where).  What a dump left out
 * is read from the mapped file itself: code, read-only data, unwind
 * tables (found on this machine's disk: a core is read where it was
 * taken, or where the same files are).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "tracer/attach/core.h"
#include "tracer/attach/target_mem.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

struct core_segment {
	uint64_t vaddr, memsz, filesz, offset;
};

struct core_thread {
	pid_t tid;
	struct user_regs_struct regs;
};

struct core {
	int fd;
	Elf *elf;
	uint64_t file_size;
	struct core_segment *segs;
	int n_segs;
	struct maps files;	/* NT_FILE: path, start, end, offset */
	struct core_thread *threads;
	int n_threads;
	pid_t pid, ppid;
	char comm[17], args[81];
	char *exe;
};

/* Read from the dump's own bytes. */
static int dump_read(struct core *c, uint64_t offset, void *buf, size_t len)
{
	ssize_t n;

	if (offset > c->file_size || len > c->file_size - offset)
		return -1;	/* a truncated dump */
	n = pread(c->fd, buf, len, (off_t)offset);
	return n == (ssize_t)len ? 0 : -1;
}

/* Read from the file mapped at addr, where the dump left it out. */
static int file_read(const struct map_entry *m, uint64_t addr, void *buf,
		     size_t len)
{
	/* a hostile dump may name a FIFO or a terminal: regular files only */
	int fd = open(m->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	n = pread(fd, buf, len, (off_t)(m->offset + (addr - m->start)));
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* One piece of a read that stays in one segment or mapping. */
static ssize_t read_piece(struct core *c, uint64_t addr, void *buf, size_t len)
{
	for (int i = 0; i < c->n_segs; i++) {
		const struct core_segment *s = &c->segs[i];
		uint64_t n;

		if (addr < s->vaddr || addr >= s->vaddr + s->memsz)
			continue;
		if (addr < s->vaddr + s->filesz) {
			n = s->vaddr + s->filesz - addr;
			if (n > len)
				n = len;
			return dump_read(c, s->offset + (addr - s->vaddr), buf, n)
				       ? -1 : (ssize_t)n;
		}
		break;	/* not dumped: the file has it, if one is mapped */
	}
	const struct map_entry *m = maps_find(&c->files, addr);
	uint64_t n;

	if (!m || !m->path)
		return -1;
	n = m->end - addr;
	if (n > len)
		n = len;
	return file_read(m, addr, buf, n) ? -1 : (ssize_t)n;
}

static int core_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		ssize_t n = read_piece(ctx, addr, out, len);

		if (n <= 0) {
			errno = EFAULT;
			return -1;
		}
		out += n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct map_entry *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The dump's mappings: the mapped files, and the anonymous segments. */
static int core_maps(void *ctx, struct maps *out)
{
	struct core *c = ctx;
	int n = 0;

	out->v = xcalloc(c->files.n + c->n_segs + 1, sizeof(*out->v));
	for (int i = 0; i < c->files.n; i++) {
		out->v[n] = c->files.v[i];
		out->v[n++].path = xstrdup(c->files.v[i].path);
	}
	for (int i = 0; i < c->n_segs; i++) {
		const struct core_segment *s = &c->segs[i];

		if (maps_find(&c->files, s->vaddr))
			continue;
		out->v[n].start = s->vaddr;
		out->v[n].end = s->vaddr + s->memsz;
		strcpy(out->v[n++].perms, "rw-p");
	}
	qsort(out->v, n, sizeof(*out->v), entry_cmp);
	out->n = n;
	return 0;
}

/* NT_FILE: count, page size, count (start, end, page offset), names. */
static void parse_files(struct core *c, const uint8_t *d, size_t size)
{
	const uint64_t *w = (const uint64_t *)d;
	uint64_t count, page;
	const char *name;

	if (size < 16 || c->files.v)	/* one NT_FILE: a second is ignored */
		return;
	count = w[0];
	page = w[1];
	if (count > (size - 16) / 24)
		return;
	name = (const char *)(w + 2 + 3 * count);
	c->files.v = xcalloc(count + 1, sizeof(*c->files.v));
	for (uint64_t i = 0; i < count; i++) {
		struct map_entry *e = &c->files.v[c->files.n];
		size_t left = (size_t)((const char *)d + size - name);
		size_t len = strnlen(name, left);

		if (len == left)
			break;
		e->start = w[2 + 3 * i];
		e->end = w[3 + 3 * i];
		e->offset = w[4 + 3 * i] * page;
		strcpy(e->perms, "r--p");
		e->path = xstrdup(name);
		/* the executable: the first file mapped at offset 0 */
		if (!c->exe && !e->offset)
			c->exe = xstrdup(name);
		c->files.n++;
		name += len + 1;
	}
	qsort(c->files.v, c->files.n, sizeof(*c->files.v), entry_cmp);
}

static void parse_notes(struct core *c, const GElf_Phdr *ph)
{
	Elf_Data *data = elf_getdata_rawchunk(c->elf, (int64_t)ph->p_offset,
					      ph->p_filesz, ELF_T_NHDR);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data)
		return;
	while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;

		if (nh.n_type == NT_PRSTATUS &&
		    nh.n_descsz >= sizeof(struct elf_prstatus)) {
			const struct elf_prstatus *st = (const void *)desc;
			struct core_thread *t;

			c->threads = xrealloc(c->threads, c->n_threads + 1,
					      sizeof(*c->threads));
			t = &c->threads[c->n_threads++];
			t->tid = st->pr_pid;
			memcpy(&t->regs, &st->pr_reg, sizeof(t->regs));
		} else if (nh.n_type == NT_PRPSINFO &&
			   nh.n_descsz >= sizeof(struct elf_prpsinfo)) {
			const struct elf_prpsinfo *ps = (const void *)desc;

			c->pid = ps->pr_pid;
			c->ppid = ps->pr_ppid;
			snprintf(c->comm, sizeof(c->comm), "%.*s",
				 (int)sizeof(ps->pr_fname), ps->pr_fname);
			snprintf(c->args, sizeof(c->args), "%.*s",
				 (int)sizeof(ps->pr_psargs), ps->pr_psargs);
		} else if (nh.n_type == NT_FILE) {
			parse_files(c, desc, nh.n_descsz);
		}
	}
}

struct core *core_open(const char *path, char *err, size_t err_size)
{
	struct core *c = xcalloc(1, sizeof(*c));
	struct target_source src;
	GElf_Ehdr eh;
	struct stat st;
	size_t phnum;

	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		snprintf(err, err_size, "cannot open core file %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	if (fstat(c->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "%s is not a core file (not a regular file)", path);
		goto fail;
	}
	c->file_size = (uint64_t)st.st_size;
	elf_version(EV_CURRENT);
	c->elf = elf_begin(c->fd, ELF_C_READ_MMAP, NULL);
	if (!c->elf || elf_kind(c->elf) != ELF_K_ELF || !gelf_getehdr(c->elf, &eh) ||
	    eh.e_type != ET_CORE) {
		snprintf(err, err_size, "%s is not a core file (make one with 'gcore PID')",
			 path);
		goto fail;
	}
	if (eh.e_machine != EM_X86_64 || gelf_getclass(c->elf) != ELFCLASS64) {
		snprintf(err, err_size, "%s is a core file of another machine: pydeadlock reads x86-64 ones",
			 path);
		goto fail;
	}
	if (elf_getphdrnum(c->elf, &phnum) < 0)
		phnum = 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(c->elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_NOTE && ph.p_offset + ph.p_filesz <= c->file_size) {
			parse_notes(c, &ph);
		} else if (ph.p_type == PT_LOAD) {
			c->segs = xrealloc(c->segs, c->n_segs + 1, sizeof(*c->segs));
			c->segs[c->n_segs++] = (struct core_segment){
				ph.p_vaddr, ph.p_memsz, ph.p_filesz, ph.p_offset };
		}
	}
	if (!c->n_threads) {
		snprintf(err, err_size, "%s holds no thread (truncated, or not a process's core)",
			 path);
		goto fail;
	}
	if (!c->pid)
		c->pid = c->threads[0].tid;
	if (!c->comm[0])
		snprintf(c->comm, sizeof(c->comm), "?");
	src = (struct target_source){ c->pid, core_read, core_maps, c };
	target_source_set(&src);
	return c;
fail:
	core_close(c);
	return NULL;
}

void core_close(struct core *c)
{
	if (!c)
		return;
	if (target_source_of(c->pid) && target_source_of(c->pid)->ctx == c)
		target_source_set(NULL);
	if (c->elf)
		elf_end(c->elf);
	if (c->fd >= 0)
		close(c->fd);
	maps_free(&c->files);
	free(c->segs);
	free(c->threads);
	free(c->exe);
	free(c);
}

pid_t core_pid(const struct core *c)
{
	return c->pid;
}

pid_t core_ppid(const struct core *c)
{
	return c->ppid;
}

const char *core_comm(const struct core *c)
{
	return c->comm;
}

const char *core_args(const struct core *c)
{
	return c->args;
}

const char *core_exe(const struct core *c)
{
	return c->exe;
}

void *core_elf(const struct core *c)
{
	return c->elf;
}

int core_snapshot(struct core *c, struct process_snapshot *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->pid = c->pid;
	if (core_maps(c, &ps->maps) < 0)
		return -1;
	ps->threads = xcalloc(c->n_threads, sizeof(*ps->threads));
	ps->cap_threads = c->n_threads;
	for (int i = 0; i < c->n_threads; i++) {
		struct thread_snapshot *t = &ps->threads[ps->n_threads++];

		t->tid = c->threads[i].tid;
		t->regs = c->threads[i].regs;
		snprintf(t->comm, sizeof(t->comm), "%s", c->comm);
		t->seized = t->stopped = true;
		t->last_cpu = -1;
		snapshot_fill_thread(c->pid, ps, t);
		t->pre_state = t->in_syscall ? 'S' : 'R';
	}
	return 0;
}
