#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "tracer/attach/snapshot.h"
#include "tracer/attach/target_mem.h"

static struct thread_snapshot *find_thread(struct process_snapshot *ps,
					   pid_t tid)
{
	for (int i = 0; i < ps->n_threads; i++)
		if (ps->threads[i].tid == tid)
			return &ps->threads[i];
	return NULL;
}

/* Clock ticks a second, the unit of /proc's CPU times. */
static unsigned long long clock_ticks(void)
{
	static long ticks;

	if (!ticks)
		ticks = sysconf(_SC_CLK_TCK);
	return ticks > 0 ? (unsigned long long)ticks : 100;
}

/*
 * The CPUs tid may run on, as a list ("0,2-3"), or "" when it may run on
 * every CPU online (the usual case, not worth a word in the report).
 */
static void thread_affinity(pid_t tid, char *out, size_t size)
{
	cpu_set_t set;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	size_t len = 0;
	int count;

	out[0] = '\0';
	if (sched_getaffinity(tid, sizeof(set), &set) < 0)
		return;
	count = CPU_COUNT(&set);
	if (online > 0 && count >= online)
		return;
	for (int c = 0; c < CPU_SETSIZE && len + 16 < size; c++) {
		int end = c;

		if (!CPU_ISSET(c, &set))
			continue;
		while (end + 1 < CPU_SETSIZE && CPU_ISSET(end + 1, &set))
			end++;
		len += (size_t)snprintf(out + len, size - len, "%s%d", len ? "," : "", c);
		if (end > c)
			len += (size_t)snprintf(out + len, size - len, "-%d", end);
		c = end;
	}
}

static struct thread_snapshot *add_thread(struct process_snapshot *ps,
					  pid_t tid)
{
	struct thread_snapshot *t;

	if (ps->n_threads == ps->cap_threads) {
		ps->cap_threads = ps->cap_threads ? 2 * ps->cap_threads : 32;
		ps->threads = xrealloc(ps->threads, ps->cap_threads,
				       sizeof(*ps->threads));
	}
	t = &ps->threads[ps->n_threads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	return t;
}

static int cap_sys_ptrace(void)
{
	struct proc_status self;

	if (procfs_status(getpid(), 0, &self) < 0)
		return 0;
	return (self.cap_effective >> 19) & 1;	/* CAP_SYS_PTRACE is 19 */
}

void snapshot_explain_eperm(pid_t pid, pid_t tid, char *buf, size_t size)
{
	struct proc_status st;
	struct stat proc_dir;
	char path[64], *yama;
	int scope = 0;

	if (procfs_status(pid, tid, &st) < 0) {
		snprintf(buf, size, "process %d exited while being attached", pid);
		return;
	}
	if (st.tracer_pid && st.tracer_pid != getpid()) {
		char comm[PROC_COMM_MAX];

		procfs_comm(st.tracer_pid, st.tracer_pid, comm, sizeof(comm));
		snprintf(buf, size,
			 "process %d is already traced by process %d (%s): detach that debugger first",
			 pid, st.tracer_pid, comm[0] ? comm : "?");
		return;
	}
	if (st.uid_real != geteuid() && !cap_sys_ptrace()) {
		snprintf(buf, size,
			 "permission denied: process %d belongs to uid %u and pydeadlock runs as uid %u without CAP_SYS_PTRACE; run it as uid %u or as root",
			 pid, (unsigned)st.uid_real, (unsigned)geteuid(),
			 (unsigned)st.uid_real);
		return;
	}
	yama = procfs_read("/proc/sys/kernel/yama/ptrace_scope");
	if (yama) {
		scope = atoi(yama);
		free(yama);
	}
	if (scope >= 1 && !cap_sys_ptrace()) {
		snprintf(buf, size,
			 "permission denied: kernel.yama.ptrace_scope is %d, which forbids attaching to a process that is not a child; run as root or, if acceptable, 'sysctl kernel.yama.ptrace_scope=0'",
			 scope);
		return;
	}
	if (scope == 3) {
		snprintf(buf, size,
			 "permission denied: kernel.yama.ptrace_scope is 3, which forbids ptrace attach for everyone until reboot");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &proc_dir) == 0 && proc_dir.st_uid != st.uid_effective &&
	    !cap_sys_ptrace()) {
		snprintf(buf, size,
			 "permission denied: process %d is not dumpable (prctl PR_SET_DUMPABLE 0 or a set-uid program); only root with CAP_SYS_PTRACE may attach",
			 pid);
		return;
	}
	snprintf(buf, size,
		 "ptrace refused for process %d although permissions look right: a security policy forbids it (container seccomp profile, SELinux, AppArmor); allow ptrace, e.g. run the container with --cap-add=SYS_PTRACE",
		 pid);
}

pid_t snapshot_exited_pid;
int snapshot_exited_status;

/* Interpret one waitpid status of a seized thread.  Returns -1 on exec. */
static int note_stop(struct thread_snapshot *t, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->gone = true;
		snapshot_exited_pid = t->tid;
		snapshot_exited_status = status;
		return 0;
	}
	if (!WIFSTOPPED(status))
		return 0;
	int event = (unsigned)status >> 16, sig = WSTOPSIG(status);

	if (event == PTRACE_EVENT_EXEC) {
		t->stopped = true;
		return -1;
	}
	t->stopped = true;
	if (event == PTRACE_EVENT_STOP) {
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
		    sig == SIGTTOU)
			t->group_stopped = true;
	} else if (event == 0) {
		/* signal-delivery-stop: the signal is delivered on detach */
		t->pending_signal = sig;
	}
	return 0;
}

/*
 * Wait until every seized thread has stopped or gone, polling so that a
 * thread stuck in uninterruptible sleep cannot hang us.  Returns -1 when
 * the process exec'd meanwhile.
 */
static int wait_stopped(struct process_snapshot *ps, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	int rc = 0;

	for (;;) {
		int pending = 0;

		for (int i = 0; i < ps->n_threads; i++) {
			struct thread_snapshot *t = &ps->threads[i];
			int status;
			pid_t r;

			if (!t->seized || t->stopped || t->gone)
				continue;
			r = waitpid(t->tid, &status, __WALL | WNOHANG);
			if (r == 0) {
				pending++;
				continue;
			}
			if (r < 0) {
				if (errno == EINTR) {
					pending++;
					continue;
				}
				t->gone = true;	/* ECHILD: reaped, gone */
				continue;
			}
			if (note_stop(t, status) < 0)
				rc = -1;
		}
		if (!pending || now_ns() > deadline)
			return rc;
		struct timespec nap = { 0, 20000 };	/* 20 us */
		nanosleep(&nap, NULL);
	}
}

#define RELEASE_WAIT_MS 50	/* for threads interrupted but not yet stopped */

/* Let every thread go.  Safe to call on any partial state. */
static void release_all(struct process_snapshot *ps)
{
	/*
	 * A thread interrupted just before an error (EPERM on the next one,
	 * an exec) stops a moment later; detach it then, or it would sit
	 * in its trap until we exit.  One in uninterruptible sleep is left
	 * to the kernel, which releases it when we exit.
	 */
	(void)wait_stopped(ps, RELEASE_WAIT_MS);
	for (int i = 0; i < ps->n_threads; i++) {
		struct thread_snapshot *t = &ps->threads[i];

		if (!t->seized || t->gone)
			continue;
		/*
		 * A thread that never stopped (uninterruptible sleep) cannot
		 * be detached now; the kernel releases it when we exit.
		 */
		if (t->stopped && !t->gone)
			ptrace(PTRACE_DETACH, t->tid, 0,
			       (void *)(long)t->pending_signal);
		t->seized = false;
	}
}

static void copy_registers(pid_t pid, struct process_snapshot *ps,
			   struct thread_snapshot *t)
{
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->regs) < 0) {
		t->stopped = false;
		return;
	}
	snapshot_fill_thread(pid, ps, t);
}

void snapshot_fill_thread(pid_t pid, struct process_snapshot *ps,
			  struct thread_snapshot *t)
{
	const struct user_regs_struct *r = &t->regs;
	const struct map_entry *m;

	/* orig_rax is -1 unless the thread entered the kernel by syscall */
	t->in_syscall = (long)r->orig_rax >= 0;
	t->syscall_nr = (long)r->orig_rax;
	t->syscall_args[0] = r->rdi;
	t->syscall_args[1] = r->rsi;
	t->syscall_args[2] = r->rdx;
	t->syscall_args[3] = r->r10;
	t->syscall_args[4] = r->r8;
	t->syscall_args[5] = r->r9;

	m = maps_find(&ps->maps, r->rsp);
	if (m) {
		uint64_t lo = r->rsp - SNAPSHOT_RED_ZONE, hi = m->end;

		if (lo < m->start)
			lo = m->start;
		if (hi - lo > SNAPSHOT_STACK_MAX) {
			hi = lo + SNAPSHOT_STACK_MAX;
			t->stack_truncated = true;
		}
		t->stack = xmalloc(hi - lo);
		if (target_read(pid, lo, t->stack, hi - lo) == 0) {
			t->stack_addr = lo;
			t->stack_len = hi - lo;
		} else {
			free(t->stack);
			t->stack = NULL;
		}
	}
	if (t->in_syscall && t->syscall_nr == SYS_futex) {
		uint64_t at = t->syscall_args[0] - FUTEX_AREA_BEFORE;

		t->futex_area_addr = at;
		t->futex_area_ok = target_read(pid, at, t->futex_area,
					       FUTEX_AREA_SIZE) == 0;
	}
}

/*
 * The kernel refuses to attach (EPERM) to a thread that has begun to exit;
 * such a thread is gone for our purposes, not forbidden.
 */
static bool thread_exiting(pid_t pid, pid_t tid)
{
	struct proc_stat st;

	return procfs_stat(pid, tid, &st) < 0 || st.state == 'Z' ||
	       st.state == 'X' || st.state == 'x';
}

/*
 * System calls that an interruption may end early with a partial result
 * instead of restarting them: a write, a send that has moved some
 * bytes returns that count.  A thread asleep in one is not stopped.
 */
static bool call_cut_short(long nr)
{
	switch (nr) {
	case SYS_write: case SYS_writev: case SYS_pwrite64: case SYS_pwritev:
	case SYS_pwritev2: case SYS_sendto: case SYS_sendmsg:
	case SYS_sendmmsg: case SYS_sendfile: case SYS_splice: case SYS_tee:
	case SYS_vmsplice: case SYS_copy_file_range:
		return true;
	}
	return false;
}

/* A thread in a call that must not be cut short: its call from /proc. */
static bool spare(pid_t pid, struct thread_snapshot *t)
{
	char *text = procfs_read("/proc/%d/task/%d/syscall", (int)pid, (int)t->tid);
	unsigned long long a[8];
	long nr;
	bool yes;

	yes = text && sscanf(text, "%ld %llx %llx %llx %llx %llx %llx %llx %llx",
			     &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5],
			     &a[6], &a[7]) == 9 && call_cut_short(nr);
	free(text);
	if (!yes)
		return false;
	t->spared = true;
	t->in_syscall = true;
	t->syscall_nr = nr;
	for (int i = 0; i < 6; i++)
		t->syscall_args[i] = a[i];
	t->regs.rsp = a[6];
	t->regs.rip = a[7];
	return true;
}

/*
 * Seize and interrupt the threads not seen before; count them.  Their
 * /proc state and name are read first, for all of them, so that no thread
 * already stopped waits on those reads.
 */
static int seize_new(pid_t pid, struct process_snapshot *ps, char *err,
		     size_t err_size, uint64_t *first_ns)
{
	pid_t *tids = NULL;
	int n = procfs_tasks(pid, &tids), fresh = 0, first_new;

	if (n < 0) {
		snprintf(err, err_size, "process %d exited while being attached",
			 pid);
		return -1;
	}
	first_new = ps->n_threads;
	for (int i = 0; i < n; i++) {
		struct thread_snapshot *t;
		struct proc_stat st;

		if (find_thread(ps, tids[i]))
			continue;
		if (procfs_stat(pid, tids[i], &st) < 0)
			continue;	/* exited since the listing */
		t = add_thread(ps, tids[i]);
		t->pre_state = st.state;
		t->cpu_ns = (st.utime + st.stime) * (1000000000ull / clock_ticks());
		t->last_cpu = st.processor;
		thread_affinity(tids[i], t->affinity, sizeof(t->affinity));
		procfs_comm(pid, tids[i], t->comm, sizeof(t->comm));
	}
	free(tids);
	for (int i = first_new; i < ps->n_threads; i++) {
		struct thread_snapshot *t = &ps->threads[i];

		if (t->pre_state == 'S' && spare(pid, t))
			continue;
		if (ptrace(PTRACE_SEIZE, t->tid, 0,
			   (void *)(long)PTRACE_O_TRACEEXEC) < 0) {
			if (errno == ESRCH || thread_exiting(pid, t->tid)) {
				t->gone = true;
				continue;
			}
			if (errno == EPERM)
				snapshot_explain_eperm(pid, t->tid, err,
						       err_size);
			else
				snprintf(err, err_size,
					 "cannot attach to process %d: ptrace: %s",
					 pid, strerror(errno));
			return -1;
		}
		t->seized = true;
		if (!*first_ns)
			*first_ns = now_ns();
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 && errno == ESRCH)
			t->gone = true;
		fresh++;
	}
	return fresh;
}

int snapshot_stop(pid_t pid, struct process_snapshot *ps, char *err,
		  size_t err_size)
{
	int round, fresh = 0, live = 0;

	memset(ps, 0, sizeof(*ps));
	ps->pid = pid;
	for (round = 0; round < SNAPSHOT_ROUNDS; round++) {
		fresh = seize_new(pid, ps, err, err_size, &ps->first_ns);
		if (fresh < 0)
			goto fail;
		/* nothing new: no second wait for a thread that never stops */
		if (round > 0 && !fresh)
			break;
		if (wait_stopped(ps, SNAPSHOT_STOP_TIMEOUT_MS) < 0) {
			snprintf(err, err_size,
				 "process %d called exec while being read; attach again",
				 pid);
			goto fail;
		}
		if (!fresh)
			break;
	}
	ps->stop_latency_ns = ps->first_ns ? now_ns() - ps->first_ns : 0;
	for (int i = 0; i < ps->n_threads; i++)
		live += (ps->threads[i].stopped || ps->threads[i].spared) &&
			!ps->threads[i].gone;
	if (!live) {
		for (int i = 0; i < ps->n_threads; i++)
			debug_msg("thread %d: seized %d stopped %d gone %d",
				  ps->threads[i].tid, ps->threads[i].seized,
				  ps->threads[i].stopped, ps->threads[i].gone);
		snprintf(err, err_size, "process %d exited while being attached",
			 pid);
		goto fail;
	}
	debug_msg("stopped %d threads of %d in %d rounds", live, pid, round + 1);
	return 0;
fail:
	release_all(ps);
	return -1;
}

int snapshot_copy(struct process_snapshot *ps, char *err, size_t err_size)
{
	if (procfs_maps(ps->pid, &ps->maps) < 0) {
		snprintf(err, err_size, "cannot read /proc/%d/maps: %s", ps->pid,
			 strerror(errno));
		return -1;
	}
	for (int i = 0; i < ps->n_threads; i++) {
		struct thread_snapshot *t = &ps->threads[i];

		if (t->stopped && !t->gone)
			copy_registers(ps->pid, ps, t);
	}
	return 0;
}

void snapshot_release(struct process_snapshot *ps)
{
	release_all(ps);
	ps->stopped_ns = ps->first_ns ? now_ns() - ps->first_ns : 0;
	debug_msg("process %d stopped for %.3f ms", ps->pid,
		  ps->stopped_ns / 1e6);
}

int snapshot_take(pid_t pid, struct process_snapshot *ps,
		  snapshot_capture_fn capture, void *ctx,
		  char *err, size_t err_size)
{
	if (snapshot_stop(pid, ps, err, err_size) < 0)
		return -1;
	if (snapshot_copy(ps, err, err_size) < 0) {
		release_all(ps);
		return -1;
	}
	if (capture)
		capture(ps, ctx);
	snapshot_release(ps);
	return 0;
}

void snapshot_free(struct process_snapshot *ps)
{
	for (int i = 0; i < ps->n_threads; i++)
		free(ps->threads[i].stack);
	free(ps->threads);
	maps_free(&ps->maps);
	memset(ps, 0, sizeof(*ps));
}
