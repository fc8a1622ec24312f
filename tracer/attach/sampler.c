/*
 * attach --profile: sampling a live process from outside
 * (tracer/attach/sampler.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "tracer/attach/procfs.h"
#include "tracer/attach/sampler.h"
#include "tracer/python/py_reader.h"

const char *const sample_state_names[SAMPLE_STATES] = {
	[SAMPLE_RUNNING] = "running", [SAMPLE_GIL] = "gil",
	[SAMPLE_LOCK] = "lock", [SAMPLE_COND] = "condition",
	[SAMPLE_JOIN] = "join", [SAMPLE_IO] = "io", [SAMPLE_SLEEP] = "sleep",
	[SAMPLE_OTHER] = "other",
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The system call a blocked thread is in, and its first argument: 0, or
 * -1 when it runs (or the file cannot be read). */
static int thread_syscall(pid_t pid, pid_t tid, long *nr, unsigned long *arg0)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return sscanf(buf, "%ld %lx", nr, arg0) == 2 && *nr >= 0 ? 0 : -1;
}

/* What a blocked thread waits for, by its system call (x86_64). */
static enum sample_state by_syscall(long nr, unsigned long arg0,
				    unsigned long gil)
{
	switch (nr) {
	case SYS_futex:
		return gil && arg0 >= gil && arg0 < gil + PY_GIL_STATE_SIZE
		       ? SAMPLE_GIL : SAMPLE_LOCK;
	case SYS_select:
	case SYS_pselect6:
	case SYS_poll:
	case SYS_ppoll:
		/* no descriptor: how Python 3.9 and 3.10 sleep */
		return arg0 == 0 ? SAMPLE_SLEEP : SAMPLE_IO;
	case SYS_read: case SYS_pread64: case SYS_readv: case SYS_write:
	case SYS_writev: case SYS_recvfrom: case SYS_recvmsg: case SYS_sendto:
	case SYS_sendmsg: case SYS_accept: case SYS_accept4: case SYS_connect:
	case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_wait4:
	case SYS_waitid:
		return SAMPLE_IO;
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
		return SAMPLE_SLEEP;
	}
	return SAMPLE_OTHER;
}

static struct sample_thread *thread_of(struct profile_samples *p, pid_t tid)
{
	for (int i = 0; i < p->n_threads; i++)
		if (p->threads[i].tid == tid)
			return &p->threads[i];
	if (p->n_threads == SAMPLE_THREADS) {
		p->lost_threads++;
		return NULL;
	}
	p->threads[p->n_threads] = (struct sample_thread){ .tid = tid };
	return &p->threads[p->n_threads++];
}

static void site_count(struct profile_samples *p, const char *where,
		       enum sample_state st)
{
	for (int i = 0; i < p->n_sites; i++)
		if (p->sites[i].state == st && !strcmp(p->sites[i].where, where)) {
			p->sites[i].count++;
			return;
		}
	if (p->n_sites < SAMPLE_SITES)
		p->sites[p->n_sites++] = (struct sample_site){ xstrdup(where), st, 1 };
}

/* The Python thread of tid in this round's capture, or NULL. */
static const struct py_thread *py_thread_of(const struct py_process *pp, pid_t tid)
{
	for (int i = 0; pp && i < pp->n_threads; i++)
		if (pp->threads[i].native_tid == tid)
			return &pp->threads[i];
	return NULL;
}

/* The frame a report names: the program's own innermost line. */
static const struct py_frame *own_frame(const struct py_thread *t)
{
	for (int i = 0; i < t->n_frames; i++)
		if (t->frames[i].file && !py_file_in_library(t->frames[i].file))
			return &t->frames[i];
	return t->n_frames ? &t->frames[0] : NULL;
}

/* A futex wait of a Python thread, told apart by threading.py's frame. */
static enum sample_state python_wait(const struct py_thread *t)
{
	const struct py_frame *f = t->n_frames ? &t->frames[0] : NULL;
	size_t n;

	if (!f || !f->file || !f->function || (n = strlen(f->file)) < 13 ||
	    strcmp(f->file + n - 13, "/threading.py"))
		return SAMPLE_LOCK;
	switch (py_threading_wait(f->function)) {
	case PY_WAIT_NOTIFY:
		return SAMPLE_COND;
	case PY_WAIT_THREAD_END:
		return SAMPLE_JOIN;
	default:
		return SAMPLE_LOCK;
	}
}

/* One round: every thread's state, and where the waiting ones wait. */
static void sample_once(struct profile_samples *p, struct py_locator *loc)
{
	struct py_process pp = { 0 };
	char *why = NULL;
	bool have_py = loc && py_capture(loc, &pp, &why) == 0;
	pid_t *tids = NULL;
	int n = procfs_tasks(p->pid, &tids);

	free(why);
	for (int i = 0; i < n; i++) {
		struct sample_thread *t = thread_of(p, tids[i]);
		const struct py_thread *pt = have_py ? py_thread_of(&pp, tids[i]) : NULL;
		enum sample_state st = SAMPLE_OTHER;
		struct proc_stat ps;
		unsigned long arg0 = 0;
		long nr = -1;

		if (!t || procfs_stat(p->pid, tids[i], &ps) < 0)
			continue;
		if (ps.state == 'R' || thread_syscall(p->pid, tids[i], &nr, &arg0) < 0)
			st = ps.state == 'R' ? SAMPLE_RUNNING : SAMPLE_OTHER;
		else
			st = by_syscall(nr, arg0, have_py ? pp.gil_addr : 0);
		if (st == SAMPLE_LOCK && pt)
			st = python_wait(pt);
		t->samples++;
		t->count[st]++;
		p->running_sum += st == SAMPLE_RUNNING;
		if (pt && pt->name && (!t->name || !t->python_name)) {
			free(t->name);
			t->name = xstrdup(pt->name);
			t->python_name = true;
		}
		if (!t->name) {
			char comm[32];

			procfs_comm(p->pid, tids[i], comm, sizeof(comm));
			t->name = xstrdup(comm);
		}
		if (st != SAMPLE_RUNNING && st != SAMPLE_OTHER && pt) {
			const struct py_frame *f = own_frame(pt);
			char where[512];

			if (f) {
				snprintf(where, sizeof(where), "%s:%d in %s", f->file,
					 f->line, f->function ? f->function : "?");
				site_count(p, where, st);
			}
		}
	}
	free(tids);
	if (have_py)
		py_process_free(&pp);
}

static unsigned long long process_ticks(pid_t pid, bool *gone)
{
	struct proc_stat ps;

	if (procfs_stat(pid, 0, &ps) < 0 || ps.state == 'Z' || ps.state == 'X') {
		*gone = true;
		return 0;
	}
	return ps.utime + ps.stime;
}

int sampler_run(pid_t pid, double seconds, struct profile_samples *out,
		char *err, size_t size)
{
	struct py_locator *loc = NULL;
	struct proc_stat ps;
	struct maps maps = { 0 };
	unsigned long long t0, t1 = 0;
	double start, next, end;
	char *why = NULL;
	bool gone = false;
	long nr;
	unsigned long arg0;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	if (pid == getpid()) {
		snprintf(err, size, "attach: %d is pydeadlock itself", pid);
		return -1;
	}
	if (procfs_stat(pid, 0, &ps) < 0) {
		snprintf(err, size, "attach: no process %d", pid);
		return -1;
	}
	if (ps.state == 'Z') {
		snprintf(err, size, "attach: process %d is a zombie: it has ended, its parent has not reaped it", pid);
		return -1;
	}
	if (procfs_maps(pid, &maps) < 0 || maps.n == 0) {
		maps_free(&maps);
		snprintf(err, size, errno == EACCES || errno == EPERM
			 ? "attach: not permitted to read process %d (another user's? run as its user, or as root)"
			 : "attach: process %d has no memory to read (a kernel thread?)", pid);
		return -1;
	}
	if (thread_syscall(pid, pid, &nr, &arg0) < 0 && errno == EACCES) {
		maps_free(&maps);
		snprintf(err, size, "attach: not permitted to read process %d's state (ptrace access: Yama, or another user)", pid);
		return -1;
	}
	snprintf(out->comm, sizeof(out->comm), "%s", ps.comm);
	loc = py_locate(pid, &maps, &why);
	maps_free(&maps);
	free(why);
	if (loc)
		snprintf(out->python, sizeof(out->python), "%s", py_locator_version(loc));
	out->threads = xmalloc(SAMPLE_THREADS * sizeof(*out->threads));
	out->sites = xmalloc(SAMPLE_SITES * sizeof(*out->sites));
	out->tick = 1.0 / (double)sysconf(_SC_CLK_TCK);
	t0 = t1 = process_ticks(pid, &gone);
	start = next = now_s();
	end = start + seconds;
	while (!gone && next < end) {
		struct timespec nap;
		double now;

		/* not Python yet (still starting, or about to exec it) */
		if (!loc && out->samples % 10 == 0 && procfs_maps(pid, &maps) == 0) {
			if ((loc = py_locate(pid, &maps, &why))) {
				snprintf(out->python, sizeof(out->python), "%s",
					 py_locator_version(loc));
				procfs_stat(pid, 0, &ps);
				snprintf(out->comm, sizeof(out->comm), "%s", ps.comm);
			}
			maps_free(&maps);
			free(why);
			why = NULL;
		}
		sample_once(out, loc);
		out->samples++;
		{
			unsigned long long t = process_ticks(pid, &gone);

			if (!gone)	/* an ended process counts no more */
				t1 = t;
		}
		next += 1.0 / SAMPLE_HZ;
		now = now_s();
		if (next > now) {
			nap.tv_sec = (time_t)(next - now);
			nap.tv_nsec = (long)((next - now - (double)nap.tv_sec) * 1e9);
			nanosleep(&nap, NULL);
		}
	}
	out->ended = gone;
	out->seconds = now_s() - start;
	out->cpu_seconds = t1 > t0 ? (double)(t1 - t0) * out->tick : 0;
	if (loc)
		py_locator_free(loc);
	return 0;
}

void sampler_free(struct profile_samples *p)
{
	for (int i = 0; i < p->n_threads; i++)
		free(p->threads[i].name);
	for (int i = 0; i < p->n_sites; i++)
		free(p->sites[i].where);
	free(p->threads);
	free(p->sites);
	memset(p, 0, sizeof(*p));
}
