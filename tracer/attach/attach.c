#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "tracer/attach/attach.h"
#include "tracer/attach/core.h"
#include "tracer/attach/native_wait.h"
#include "tracer/attach/program_view.h"
#include "tracer/attach/python_view.h"
#include "tracer/attach/registry_remote.h"
#include "tracer/attach/registry_view.h"
#include "tracer/attach/snapshot.h"
#include "tracer/attach/symbols.h"
#include "tracer/attach/unwind.h"

int attach_snapshot_fd = -1;

pid_t attach_parse_pid(const char *arg)
{
	char *end;
	long v;

	if (!arg || !*arg)
		return -1;
	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || v <= 0 || v > INT_MAX)
		return -1;
	return (pid_t)v;
}

/* Every task of pid a zombie?  Then there is nothing left to read. */
static int all_tasks_zombie(pid_t pid)
{
	pid_t *tids = NULL;
	int n = procfs_tasks(pid, &tids), zombie = 1;

	for (int i = 0; i < n && zombie; i++) {
		struct proc_stat st;

		if (procfs_stat(pid, tids[i], &st) == 0 && st.state != 'Z' &&
		    st.state != 'X')
			zombie = 0;
	}
	free(tids);
	return zombie;
}

/* The checks that need no ptrace.  Returns the thread group id or -1. */
static pid_t check_target(pid_t pid, char *err, size_t err_size)
{
	struct proc_stat st;
	struct proc_status status;

	if (pid == getpid()) {
		snprintf(err, err_size,
			 "cannot attach to itself (PID %d): give the PID of the process to inspect",
			 pid);
		return -1;
	}
	if (procfs_stat(pid, 0, &st) < 0 || procfs_status(pid, 0, &status) < 0) {
		snprintf(err, err_size, "no such process: %d", pid);
		return -1;
	}
	if (status.tgid != pid) {
		/* a thread ID: /proc accepts it; work on its process */
		debug_msg("%d is a thread of process %d", pid, status.tgid);
		return check_target(status.tgid, err, err_size);
	}
	if (st.flags & PF_KTHREAD_FLAG) {
		snprintf(err, err_size,
			 "process %d (%s) is a kernel thread: it has no user-space stack to read",
			 pid, st.comm);
		return -1;
	}
	if ((st.state == 'Z' || st.state == 'X') && all_tasks_zombie(pid)) {
		snprintf(err, err_size,
			 "process %d (%s) is a zombie: it has exited and waits for its parent (PID %d) to reap it; there is nothing to read",
			 pid, st.comm, st.ppid);
		return -1;
	}
	if (status.tracer_pid) {
		snapshot_explain_eperm(pid, 0, err, err_size);
		return -1;
	}
	return pid;
}

static void describe_thread(struct unwinder *uw, struct symbolizer *sym,
			    const struct thread_snapshot *t,
			    struct thread_model *tm)
{
	uint64_t pcs[UNWIND_MAX_FRAMES];
	const char *why = NULL;
	int n = 0;

	tm->tid = t->tid;
	tm->comm = xstrdup(t->comm);
	tm->name = xstrdup(t->comm);
	tm->cpu_ns = t->cpu_ns;
	tm->last_cpu = t->last_cpu;
	tm->affinity = t->affinity[0] ? xstrdup(t->affinity) : NULL;
	if (t->stopped && uw)
		n = unwinder_unwind(uw, t, pcs, UNWIND_MAX_FRAMES, &why);
	for (int i = 0; i < n; i++) {
		if (sym)
			symbolizer_add_frames(sym, pcs[i], i > 0, tm);
		else
			model_add_frame(tm)->pc = pcs[i];
	}
	if (t->stopped && !uw)
		why = "no unwinder for this process";
	if (t->spared)
		why = "left running in its write: stopping it would cut the write short";
	if (t->stack_truncated && why && n == UNWIND_MAX_FRAMES)
		why = "stack deeper than pydeadlock reads";
	tm->frames_truncated = why != NULL;
	tm->frames_why = xstrdup(why);
	native_wait_classify(t, tm);
}

/* One process being attached to, and what its stop captured. */
struct attach_target {
	pid_t pid;
	bool stopped;
	struct process_snapshot ps;
	struct python_view pv;
	uint64_t registry_addr;	/* the shim's registry, 0: none */
	struct registry *registry;	/* ... copied during the stop */
	struct core *core;	/* read from a core file, not a live process */
};

/* While every process is stopped: registers, stacks, registry, Python. */
static int capture_stopped(struct attach_target *t, char *err, size_t err_size)
{
	if (snapshot_copy(&t->ps, err, err_size) < 0)
		return -1;
	if (t->registry_addr)
		t->registry = registry_read(t->pid, NULL);
	t->pv.registry = t->registry;
	if (t->pv.loc)
		python_view_capture(&t->ps, &t->pv);
	return 0;
}

/* The model of one stopped process: its threads, then its views. */
static void describe_process(struct attach_target *t, struct process_model *pm)
{
	struct process_info *proc = model_add_process(pm, t->pid);
	struct symbolizer *sym = t->core ? symbolizer_new_core(core_elf(t->core),
							       core_exe(t->core))
					 : symbolizer_get(t->pid, &t->ps.maps);
	struct unwinder *uw = t->core ? unwinder_new_core(&t->ps, symbolizer_dwfl(sym))
				      : unwinder_new(&t->ps);
	struct proc_stat st;

	if (t->core) {	/* /proc of that PID is another process's now */
		proc->comm = xstrdup(core_comm(t->core));
		proc->ppid = core_ppid(t->core);
		proc->exe = xstrdup(core_args(t->core));
	} else {
		if (procfs_stat(t->pid, 0, &st) == 0) {
			proc->comm = xstrdup(st.comm);
			proc->ppid = st.ppid;
		}
		proc->exe = procfs_read("/proc/%d/cmdline", t->pid);	/* argv[0] */
	}
	if (!sym)
		debug_msg("no symbols for process %d", t->pid);
	pm->threads = xrealloc(pm->threads, pm->n_threads + t->ps.n_threads + 1,
			       sizeof(*pm->threads));
	for (int i = 0; i < t->ps.n_threads; i++) {
		const struct thread_snapshot *ts = &t->ps.threads[i];
		struct thread_model *tm;

		if (ts->gone)
			continue;
		tm = &pm->threads[pm->n_threads++];
		memset(tm, 0, sizeof(*tm));
		tm->pid = t->pid;
		describe_thread(uw, sym, ts, tm);
	}
	registry_view_waits(t->registry, pm, t->pid, sym);
	python_view_apply(&t->pv, &t->ps, pm);
	proc = model_process(pm, t->pid);
	proc->python = proc->python_version != NULL;
	/* every handler the process has (sigset() and static code around
	 * the shim included); the registry and Python's view refine SIGINT */
	proc->wake_signals = t->core ? 0 : program_view_wake_signals(t->pid, proc->python);
	registry_view_owners(t->registry, pm, t->pid, sym, t->pv.loc);
	/* a SIGINT whose Python handler only interrupts (the default one,
	 * asyncio.run's) wakes nothing, whatever C saw installed */
	proc = model_process(pm, t->pid);
	if (t->pv.signals_known &&
	    !(t->pv.custom_signals & (1ull << (SIGINT - 1))))
		proc->wake_signals &= ~(1ull << (SIGINT - 1));
	proc->python_wake_signals = t->pv.signals_known
				    ? proc->wake_signals & t->pv.custom_signals
				    : proc->wake_signals;
	/* a core keeps no table of C handlers; Python's is in its memory */
	if (t->core && t->pv.signals_known)
		proc->wake_signals = proc->python_wake_signals = t->pv.custom_signals;
	if (t->pv.why)
		proc->python_why = xstrdup(t->pv.why);
	if (t->ps.stopped_ns > pm->stopped_ns)
		pm->stopped_ns = t->ps.stopped_ns;
	if (t->core)
		symbolizer_free(sym);
	else
		symbolizer_put(sym);
	unwinder_free(uw);
}

/* The first process's facts are the model's. */
static void model_header(struct process_model *pm)
{
	const struct process_info *first = &pm->procs[0];

	pm->pid = first->pid;
	pm->comm = xstrdup(first->comm);
	pm->exe = xstrdup(first->exe);
	pm->python_version = xstrdup(first->python_version);
	pm->python_why = xstrdup(first->python_why);
	pm->python_build = first->python_build;
	pm->from_registry = first->from_registry;
}

static void targets_free(struct attach_target *targets, int n)
{
	for (int i = 0; i < n; i++) {
		python_view_free(&targets[i].pv);
		registry_copy_free(targets[i].registry);
		snapshot_free(&targets[i].ps);
	}
	free(targets);
}

int attach_processes(const pid_t *pids, int n, struct process_model *pm,
		     char *err, size_t err_size)
{
	struct attach_target *targets;
	int rc = -1;

	memset(pm, 0, sizeof(*pm));
	if (n < 1 || check_target(pids[0], err, err_size) != pids[0])
		return -1;
	targets = xcalloc(n, sizeof(*targets));
	for (int i = 0; i < n; i++) {
		targets[i].pid = pids[i];
		python_view_locate(&targets[i].pv, pids[i]);
		targets[i].registry_addr = registry_find(pids[i]);
	}
	/* every process stopped before anything is read: one moment */
	for (int i = 0; i < n; i++) {
		char why[512];

		if (snapshot_stop(pids[i], &targets[i].ps, i ? why : err,
				  i ? sizeof(why) : err_size) == 0)
			targets[i].stopped = true;
		else if (i == 0)
			goto release;
		else
			debug_msg("process %d left out: %s", pids[i], why);
	}
	for (int i = 0; i < n; i++) {
		char why[512];

		if (targets[i].stopped &&
		    capture_stopped(&targets[i], i ? why : err,
				    i ? sizeof(why) : err_size) < 0) {
			if (i == 0)
				goto release;
			targets[i].stopped = false;
		}
	}
	rc = 0;
release:
	for (int i = 0; i < n; i++)
		if (targets[i].ps.n_threads)
			snapshot_release(&targets[i].ps);
	if (attach_snapshot_fd >= 0) {
		(void)!write(attach_snapshot_fd, "s", 1);
		close(attach_snapshot_fd);
		attach_snapshot_fd = -1;
	}
	if (rc < 0) {
		targets_free(targets, n);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (targets[i].stopped)
			describe_process(&targets[i], pm);
	{
		pid_t *stopped = xcalloc(n, sizeof(*stopped));
		const struct maps **maps = xcalloc(n, sizeof(*maps));
		int k = 0;

		for (int i = 0; i < n; i++)
			if (targets[i].stopped) {
				stopped[k] = targets[i].pid;
				maps[k++] = &targets[i].ps.maps;
			}
		program_view_apply_stopped(pm, true, stopped, maps, k);
		free(stopped);
		free(maps);
	}
	model_header(pm);
	targets_free(targets, n);
	return 0;
}

int attach_core(const char *path, struct process_model *pm, char *err,
		size_t err_size)
{
	struct attach_target *t = xcalloc(1, sizeof(*t));
	struct core *c;

	memset(pm, 0, sizeof(*pm));
	c = core_open(path, err, err_size);
	if (!c) {
		free(t);
		return -1;
	}
	t->core = c;
	t->pid = core_pid(c);
	python_view_locate(&t->pv, t->pid);	/* the core's mappings */
	if (core_snapshot(c, &t->ps) < 0) {
		snprintf(err, err_size, "cannot read the threads of core file %s", path);
		targets_free(t, 1);
		core_close(c);
		return -1;
	}
	/* a process under pydeadlock run: its registry is in the dump too */
	t->registry_addr = registry_find(t->pid);
	if (t->registry_addr)
		t->registry = registry_read(t->pid, NULL);
	t->pv.registry = t->registry;
	if (t->pv.loc)
		python_view_capture(&t->ps, &t->pv);
	describe_process(t, pm);
	model_header(pm);
	pm->core = xstrdup(path);
	targets_free(t, 1);
	core_close(c);
	return 0;
}

int attach_program(pid_t pid, bool children, struct process_model *pm,
		   char *err, size_t err_size)
{
	pid_t *pids = NULL;
	int n, rc;

	memset(pm, 0, sizeof(*pm));
	pid = check_target(pid, err, err_size);
	if (pid < 0)
		return -1;
	n = children ? procfs_descendants(pid, &pids) : -1;
	if (n < 1) {
		free(pids);
		pids = xmalloc(sizeof(*pids));
		pids[0] = pid;
		n = 1;
	}
	rc = attach_processes(pids, n, pm, err, err_size);
	free(pids);
	return rc;
}

int attach_process(pid_t pid, struct process_model *pm, char *err,
		   size_t err_size)
{
	return attach_program(pid, false, pm, err, err_size);
}
