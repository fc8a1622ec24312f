/*
 * Who could end the waits that cross a process's bounds, for every
 * process of a program model, from /proc: a pipe (the processes that
 * hold its other end), waitpid (the children), a process-shared object
 * (the processes that map it), and a signal handler (which may end any
 * wait of its process).  What lies outside the model (another process,
 * a socket, a terminal) is named as such: it makes a deadlock potential.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "common/error.h"
#include "tracer/attach/procfs.h"
#include "tracer/attach/program_view.h"
#include "tracer/attach/target_mem.h"
#include "tracer/python/py_reader.h"

#define PV_POLL_FDS 64		/* descriptors of one poll() looked at */
#define PV_SELECT_FDS 1024	/* FD_SETSIZE */
#define PV_EXTERNAL_MAX 160	/* a reason's length */

/* One end of a pipe in some process. */
struct pipe_end {
	unsigned long inode;
	pid_t pid;
	bool reads, writes;
};

struct pv_state {
	struct process_model *pm;
	bool look_outside;	/* scan every process for other holders */
	struct pipe_end *ends;
	int n_ends, cap_ends;
	bool model_pipes;	/* the model's processes scanned */
	bool outside_pipes;	/* processes outside the model scanned */
	struct maps *maps;	/* per process of the model, read on demand */
	bool *maps_read;
	bool *maps_borrowed;	/* ... or the stop's, not ours to free */
	const pid_t *stopped_pids;	/* the processes stopped, and ... */
	const struct maps *const *stopped_maps;	/* ... their mappings then */
	int n_stopped;
};

static bool in_model(const struct process_model *pm, pid_t pid)
{
	for (int i = 0; i < pm->n_procs; i++)
		if (pm->procs[i].pid == pid)
			return true;
	return false;
}

/* The inode of a pipe descriptor, 0 when fd is no pipe. */
static unsigned long pipe_inode(pid_t pid, int fd)
{
	char target[128];
	unsigned long inode;

	if (procfs_fd_target(pid, fd, target, sizeof(target)) < 0 ||
	    sscanf(target, "pipe:[%lu]", &inode) != 1)
		return 0;
	return inode;
}

static void pipes_of(struct pv_state *st, pid_t pid)
{
	char dir[64];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name), flags;
		unsigned long inode;
		struct pipe_end *e;

		if (de->d_name[0] == '.' || !(inode = pipe_inode(pid, fd)) ||
		    (flags = procfs_fd_flags(pid, fd)) < 0)
			continue;
		if (st->n_ends == st->cap_ends) {
			st->cap_ends = st->cap_ends ? 2 * st->cap_ends : 64;
			st->ends = xrealloc(st->ends, st->cap_ends, sizeof(*st->ends));
		}
		e = &st->ends[st->n_ends++];
		e->inode = inode;
		e->pid = pid;
		e->reads = (flags & 3) != 1;	/* O_RDONLY or O_RDWR */
		e->writes = (flags & 3) != 0;
	}
	closedir(d);
}

/* Every other process's pipes: who outside the model holds an end. */
static void pipes_outside(struct pv_state *st)
{
	struct dirent *de;
	DIR *d;

	if (!st->model_pipes) {
		st->model_pipes = true;
		for (int i = 0; i < st->pm->n_procs; i++)
			pipes_of(st, st->pm->procs[i].pid);
	}
	if (st->outside_pipes || !st->look_outside)
		return;
	st->outside_pipes = true;
	if (!(d = opendir("/proc")))
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (!*end && pid > 0 && !in_model(st->pm, (pid_t)pid))
			pipes_of(st, (pid_t)pid);
	}
	closedir(d);
}

static void set_external(struct wait_info *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_external(struct wait_info *w, const char *fmt, ...)
{
	char buf[PV_EXTERNAL_MAX];
	va_list ap;

	if (w->external)
		return;	/* the first reason stands */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	w->external = xstrdup(buf);
}

/*
 * The processes that could make the pipe inode ready for this side
 * (readers wait for writers and the other way round) become wakers;
 * one outside the model makes the wait external.  False when nobody
 * holds the other end (the call returns at once: EOF, EPIPE).
 */
static bool pipe_wakers(struct pv_state *st, unsigned long inode, bool reading,
			struct wait_info *w)
{
	bool any = false;

	pipes_outside(st);
	for (int i = 0; i < st->n_ends; i++) {
		const struct pipe_end *e = &st->ends[i];

		if (e->inode != inode || !(reading ? e->writes : e->reads))
			continue;
		any = true;
		if (in_model(st->pm, e->pid)) {
			wait_add_waker(w, e->pid, 0);
		} else if (st->look_outside) {
			char comm[PROC_COMM_MAX];

			procfs_comm(e->pid, e->pid, comm, sizeof(comm));
			set_external(w, "process %d (%s), outside the program, holds the pipe's other end",
				     (int)e->pid, comm);
		}
	}
	if (!st->look_outside) {
		set_external(w, PROGRAM_VIEW_UNCHECKED);
		st->pm->outside_unchecked = true;
		return true;	/* an outside holder would not be known */
	}
	return any;
}

/* Where t waits when its wait has no line yet: its innermost Python
 * frame, else its innermost native frame with a line. */
static void site_from_frames(const struct thread_model *t, struct site *site)
{
	const struct frame *best = NULL;

	if (site->file || site->function)
		return;
	for (int i = 0; i < t->n_frames && !best; i++)
		if (t->frames[i].python && !py_file_in_library(t->frames[i].file))
			best = &t->frames[i];
	for (int i = 0; i < t->n_frames && !best; i++)
		if (t->frames[i].python)
			best = &t->frames[i];
	for (int i = 0; i < t->n_frames && !best; i++)
		if (t->frames[i].file && t->frames[i].line)
			best = &t->frames[i];
	if (!best)
		return;
	site->file = xstrdup(best->file);
	site->function = xstrdup(best->function);
	site->line = best->line;
}

/* A wait on descriptors (read, write, poll, select), seen as pipe waits. */
struct fd_wait {
	int fd;
	bool reading;
};

static void wait_on_fds(struct pv_state *st, struct thread_model *t,
			const struct fd_wait *fds, int n, const char *call)
{
	struct wait_info w = { 0 };
	char detail[96];
	int pipes = 0;

	for (int i = 0; i < n; i++) {
		unsigned long inode = pipe_inode(t->pid, fds[i].fd);

		if (!inode) {
			char target[128];

			if (procfs_fd_target(t->pid, fds[i].fd, target,
					     sizeof(target)) < 0)
				strcpy(target, "?");
			set_external(&w, "descriptor %d (%s) is not a pipe of the program",
				     fds[i].fd, target);
			continue;
		}
		if (pipe_wakers(st, inode, fds[i].reading, &w))
			pipes++;
		else
			return;	/* EOF or EPIPE: it returns now */
		if (!w.id)
			w.id = inode;
	}
	if (!pipes) {
		free(w.external);
		return;	/* a socket, a terminal: I/O, not a wait */
	}
	free(t->wait.detail);
	free(t->wait.external);
	w.kind = WAIT_PIPE;
	snprintf(detail, sizeof(detail), "%s on pipe:[%llu]%s", call,
		 (unsigned long long)w.id, n > 1 ? " and more" : "");
	w.detail = xstrdup(detail);
	w.site = t->wait.site;
	w.pytype = t->wait.pytype;
	w.note = t->wait.note;
	site_from_frames(t, &w.site);
	t->wait = w;	/* the thread stays in I/O: it waits on the pipe */
}

static void poll_wait(struct pv_state *st, struct thread_model *t)
{
	struct { int fd; short events, revents; } pfd[PV_POLL_FDS];
	struct fd_wait fds[PV_POLL_FDS];
	uint64_t n = t->syscall_args[1];
	int k = 0;

	if (!n || n > PV_POLL_FDS ||
	    target_read(t->pid, t->syscall_args[0], pfd, n * sizeof(pfd[0])) < 0)
		return;
	for (uint64_t i = 0; i < n; i++) {
		if (pfd[i].fd < 0)
			continue;
		if (pfd[i].events & 1)	/* POLLIN */
			fds[k++] = (struct fd_wait){ pfd[i].fd, true };
		else if (pfd[i].events & 4)	/* POLLOUT */
			fds[k++] = (struct fd_wait){ pfd[i].fd, false };
	}
	wait_on_fds(st, t, fds, k, "poll");
}

static void select_wait(struct pv_state *st, struct thread_model *t)
{
	uint64_t nfds = t->syscall_args[0];
	uint8_t set[2][PV_SELECT_FDS / 8];
	struct fd_wait fds[PV_POLL_FDS];
	int k = 0;

	if (!nfds || nfds > PV_SELECT_FDS)
		return;
	for (int s = 0; s < 2; s++) {
		memset(set[s], 0, sizeof(set[s]));
		if (t->syscall_args[1 + s] &&
		    target_read(t->pid, t->syscall_args[1 + s], set[s],
				(nfds + 7) / 8) < 0)
			return;
	}
	for (uint64_t fd = 0; fd < nfds && k < PV_POLL_FDS; fd++)
		for (int s = 0; s < 2 && k < PV_POLL_FDS; s++)
			if (set[s][fd / 8] & (1 << (fd % 8)))
				fds[k++] = (struct fd_wait){ (int)fd, s == 0 };
	wait_on_fds(st, t, fds, k, "select");
}

/* The children of pid in the model, as wakers of a waitpid(want). */
static void child_wait(struct pv_state *st, struct thread_model *t, long want)
{
	struct process_model *pm = st->pm;
	struct wait_info w = { 0 };
	char detail[64];

	for (int i = 0; i < pm->n_procs; i++) {
		const struct process_info *p = &pm->procs[i];

		if (p->ppid == t->pid && (want <= 0 || p->pid == want))
			wait_add_waker(&w, p->pid, 0);
	}
	if (!w.n_wakers)
		return;	/* no child of ours is known: leave it as a call */
	free(t->wait.detail);
	/* any one of the children named ends it, by its own end */
	w.kind = WAIT_CHILD;
	w.id = want > 0 ? (uint64_t)want : 0;
	snprintf(detail, sizeof(detail), "waitpid(%ld)", want);
	w.detail = xstrdup(detail);
	w.site = t->wait.site;
	w.pytype = t->wait.pytype;
	w.note = t->wait.note;
	site_from_frames(t, &w.site);
	t->wait = w;	/* in its system call still, waiting for the child */
}

/* A thread asleep in read, write, poll, select, wait4 or waitid. */
static void classify_call(struct pv_state *st, struct thread_model *t)
{
	const uint64_t *a = t->syscall_args;

	if (!t->in_syscall || t->state == THREAD_WAITING ||
	    t->state == THREAD_RUNNING || t->wait.kind != WAIT_NONE)
		return;
	switch (t->syscall_nr) {
	case SYS_read: case SYS_readv: {
		struct fd_wait f = { (int)a[0], true };

		wait_on_fds(st, t, &f, 1, "read");
		break;
	}
	case SYS_write: case SYS_writev: {
		struct fd_wait f = { (int)a[0], false };

		wait_on_fds(st, t, &f, 1, "write");
		break;
	}
	case SYS_poll:
		if ((int)a[2] < 0)	/* no timeout */
			poll_wait(st, t);
		break;
	case SYS_ppoll:
		if (!a[2])
			poll_wait(st, t);
		break;
	case SYS_select: case SYS_pselect6:
		if (!a[4])
			select_wait(st, t);
		break;
	case SYS_wait4:
		if (!(a[2] & 1))	/* not WNOHANG */
			child_wait(st, t, (long)(int)a[0]);
		break;
	case SYS_waitid:
		if (!(a[3] & 1))
			child_wait(st, t, a[0] == 1 ? (long)(int)a[1] : -1);
		break;
	}
}

static struct maps *maps_of(struct pv_state *st, int proc)
{
	if (!st->maps_read[proc]) {
		pid_t pid = st->pm->procs[proc].pid;

		st->maps_read[proc] = true;
		for (int i = 0; i < st->n_stopped; i++)
			if (st->stopped_pids[i] == pid && st->stopped_maps[i]->n) {
				st->maps[proc] = *st->stopped_maps[i];
				st->maps_borrowed[proc] = true;
				return &st->maps[proc];
			}
		if (procfs_maps(pid, &st->maps[proc]) < 0)
			memset(&st->maps[proc], 0, sizeof(st->maps[proc]));
	}
	return &st->maps[proc];
}

/*
 * The same file?  By device and inode, not by name: a named semaphore is
 * made under a temporary name (the creator's mapping keeps that one,
 * deleted) and linked to its own, which the others open.
 */
static bool same_file(const struct map_entry *a, const struct map_entry *b)
{
	return a->inode && a->inode == b->inode && a->dev == b->dev;
}

static bool same_inode(const struct stat *st, const struct map_entry *m)
{
	return st->st_ino == m->inode &&
	       ((unsigned long)major(st->st_dev) << 20 | minor(st->st_dev)) == m->dev;
}

/*
 * Has the mapped file a name still?  Then any process may open and map
 * it (sem_open by name: multiprocessing's spawn and forkserver children
 * do, after the wait began), not only those that map it now.  The maps
 * path may be a temporary name, deleted (sem_open links the file under
 * its own name then): the inode is looked for in that name's directory.
 * Its name into name.
 */
static bool file_named(const struct map_entry *m, char *name, size_t size)
{
	static const char deleted[] = " (deleted)";
	size_t len = strlen(m->path), dl = sizeof(deleted) - 1;
	const char *slash;
	struct dirent *de;
	struct stat st;
	char dir[512];
	bool found = false;
	DIR *d;

	if (m->path[0] != '/')
		return false;
	if (len > dl && !strcmp(m->path + len - dl, deleted)) {
		len -= dl;
	} else if (stat(m->path, &st) == 0 && same_inode(&st, m)) {
		snprintf(name, size, "%s", m->path);
		return true;
	}
	slash = memrchr(m->path, '/', len);
	snprintf(dir, sizeof(dir), "%.*s", slash > m->path ? (int)(slash - m->path) : 1,
		 m->path);
	if (!(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d)))
		if (de->d_ino == m->inode &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    same_inode(&st, m)) {
			snprintf(name, size, "%s/%s", strcmp(dir, "/") ? dir : "",
				 de->d_name);
			found = true;
		}
	closedir(d);
	return found;
}

/* Does some process outside the model map this file? */
static pid_t mapped_outside(struct pv_state *st, const struct map_entry *file)
{
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	if (!(d = opendir("/proc")))
		return -1;
	while (!found && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		struct maps m;

		if (*end || pid <= 0 || in_model(st->pm, (pid_t)pid) ||
		    procfs_maps((pid_t)pid, &m) < 0)
			continue;
		for (int i = 0; i < m.n && !found; i++)
			if (same_file(&m.v[i], file))
				found = (pid_t)pid;
		maps_free(&m);
	}
	closedir(d);
	return found;
}

/*
 * A wait on a process-shared object: the processes of the model that
 * map the same memory may end it; one outside makes it external.  An
 * object in memory no other process can map is the process's own.
 */
static void shared_wait(struct pv_state *st, int proc, struct thread_model *t)
{
	struct wait_info *w = &t->wait;
	const struct maps *own = maps_of(st, proc);
	const struct map_entry *m = maps_find(own, w->sync_addr);
	char name[800];
	pid_t outside;

	if (!own->n) {	/* its mappings unreadable (exiting): cannot tell */
		set_external(w, "process %d's mappings could not be read: who else maps it is unknown",
			     (int)t->pid);
		return;
	}
	if (!m || !m->inode || !m->path) {
		w->shared = false;	/* private memory: nobody else sees it */
		return;
	}
	wait_add_waker(w, t->pid, 0);
	for (int i = 0; i < st->pm->n_procs; i++) {
		const struct maps *o = maps_of(st, i);

		for (int k = 0; k < o->n; k++)
			if (same_file(&o->v[k], m)) {
				wait_add_waker(w, st->pm->procs[i].pid, 0);
				break;
			}
	}
	if (file_named(m, name, sizeof(name))) {
		set_external(w, "it lies in a file any process may open and map (%s)",
			     name);
		return;
	}
	if (!st->look_outside) {
		set_external(w, PROGRAM_VIEW_UNCHECKED);
		st->pm->outside_unchecked = true;
		return;
	}
	outside = mapped_outside(st, m);
	if (outside)
		set_external(w, "process %d, outside the program, maps %s too",
			     (int)outside, m->path);
}

/* Signals a handler of which may end a wait, in a short list. */
static void signal_list(uint64_t mask, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int sig = 1; sig <= 64 && len + 16 < size; sig++)
		if (mask & (1ull << (sig - 1))) {
			const char *name = sigabbrev_np(sig);

			len += snprintf(buf + len, size - len, "%sSIG%s",
					len ? "," : "", name ? name : "?");
		}
}

/* Is tid a thread of process pid in the model? */
static bool thread_of(const struct process_model *pm, pid_t tid, pid_t pid)
{
	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].tid == tid)
			return pm->threads[i].pid == pid;
	return false;
}

/*
 * An owned lock whose owner is no thread of the waiter's process: after
 * a fork, the owner left a private copy behind (orphaned: nobody can
 * release it here); a shared object's owner may be in another process
 * (a waker there, or outside).  Joins are not: a joined thread that has
 * just exited is gone before glibc clears its TID.
 */
static void foreign_owner(struct pv_state *st, struct thread_model *t)
{
	struct wait_info *w = &t->wait;

	if (!w->owned || !w->n_owners || w->orphaned ||
	    (w->kind != WAIT_MUTEX && w->kind != WAIT_LOCK &&
	     w->kind != WAIT_RLOCK && w->kind != WAIT_RWLOCK))
		return;
	for (int k = 0; k < w->n_owners; k++) {
		pid_t owner = w->owner_tids[k];

		if (thread_of(st->pm, owner, t->pid))
			continue;
		if (!w->shared) {
			w->orphaned = true;
			return;
		}
		if (!model_thread(st->pm, owner))
			set_external(w, "its owner, thread %d, is in a process outside the program",
				     (int)owner);
	}
}

void program_view_apply(struct process_model *pm, bool look_outside)
{
	program_view_apply_stopped(pm, look_outside, NULL, NULL, 0);
}

void program_view_apply_stopped(struct process_model *pm, bool look_outside,
				const pid_t *pids, const struct maps *const *maps,
				int n)
{
	struct pv_state st = { .pm = pm, .look_outside = look_outside,
			       .stopped_pids = pids, .stopped_maps = maps,
			       .n_stopped = n };

	pm->outside_unchecked = false;
	st.maps = xcalloc(pm->n_procs + 1, sizeof(*st.maps));
	st.maps_read = xcalloc(pm->n_procs + 1, sizeof(bool));
	st.maps_borrowed = xcalloc(pm->n_procs + 1, sizeof(bool));
	for (int i = 0; i < pm->n_threads; i++) {
		struct thread_model *t = &pm->threads[i];
		int proc = -1;

		for (int k = 0; k < pm->n_procs; k++)
			if (pm->procs[k].pid == t->pid)
				proc = k;
		if (proc < 0)
			continue;
		classify_call(&st, t);
		foreign_owner(&st, t);
		if (t->state == THREAD_WAITING && t->wait.shared)
			shared_wait(&st, proc, t);
		/*
		 * A handler may release or signal anything, interrupt a read
		 * or a waitpid; and in the thread it runs in it may end even
		 * an owned wait (raise out of it, longjmp).  Python runs its
		 * handlers in the main thread only.
		 */
		uint64_t wake = t->wait.pytype && pm->procs[proc].python
				? pm->procs[proc].python_wake_signals
				: pm->procs[proc].wake_signals;

		if (t->wait.kind != WAIT_NONE && wake &&
		    (!t->wait.owned || !pm->procs[proc].python ||
		     t->tid == t->pid)) {
			char sigs[128];

			signal_list(wake, sigs, sizeof(sigs));
			set_external(&t->wait, "process %d handles %s: a handler may end it",
				     (int)t->pid, sigs);
		}
	}
	for (int i = 0; i < pm->n_procs; i++)
		if (st.maps_read[i] && !st.maps_borrowed[i])
			maps_free(&st.maps[i]);
	free(st.maps);
	free(st.maps_read);
	free(st.maps_borrowed);
	free(st.ends);
}

uint64_t program_view_wake_signals(pid_t pid, bool python)
{
	const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
			       SIGABRT, SIGSYS };
	struct proc_status st;
	uint64_t mask;

	if (procfs_status(pid, 0, &st) < 0)
		return 0;
	mask = st.sig_caught;
	/* a fault's handler reports or cleans up; it hands out nothing */
	for (size_t i = 0; i < sizeof(faults) / sizeof(*faults); i++)
		mask &= ~(1ull << (faults[i] - 1));
	/* glibc's own (32, 33: thread cancellation, set*id), sent by the
	 * process's own threads only */
	for (int sig = 32; sig < SIGRTMIN; sig++)
		mask &= ~(1ull << (sig - 1));
	/* CPython's own SIGINT handler (KeyboardInterrupt) interrupts, it
	 * does not wake; from outside it cannot be told from a program's */
	if (python)
		mask &= ~(1ull << (SIGINT - 1));
	return mask;
}
