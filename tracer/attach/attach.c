#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "tracer/attach/attach.h"
#include "tracer/attach/native_wait.h"
#include "tracer/attach/python_view.h"
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
	if (t->stack_truncated && why && n == UNWIND_MAX_FRAMES)
		why = "stack deeper than pydeadlock reads";
	tm->frames_truncated = why != NULL;
	tm->frames_why = xstrdup(why);
	native_wait_classify(t, tm);
}

/* What is read while the process is stopped, besides the snapshot. */
struct attach_capture {
	struct python_view *pv;
	const struct registry *live;	/* the shim's registry, mapped */
	struct registry *copy;		/* ... as it was during the stop */
};

static void capture_stopped(struct process_snapshot *ps, void *ctx)
{
	struct attach_capture *c = ctx;

	if (c->live)
		c->copy = registry_copy(c->live);
	c->pv->registry = c->copy;
	if (c->pv->loc)
		python_view_capture(ps, c->pv);
}

int attach_process(pid_t pid, struct process_model *pm, char *err,
		   size_t err_size)
{
	struct process_snapshot ps;
	struct python_view pv;
	struct attach_capture cap = { &pv, NULL, NULL };
	struct unwinder *uw;
	struct symbolizer *sym;
	struct proc_stat st;
	char *exe;

	memset(pm, 0, sizeof(*pm));
	pid = check_target(pid, err, err_size);
	if (pid < 0)
		return -1;
	python_view_locate(&pv, pid);
	cap.live = registry_open(pid);	/* under pydeadlock run */
	if (snapshot_take(pid, &ps, capture_stopped, &cap, err, err_size) < 0) {
		python_view_free(&pv);
		registry_close(cap.live);
		registry_copy_free(cap.copy);
		return -1;
	}
	registry_close(cap.live);
	if (attach_snapshot_fd >= 0) {
		(void)!write(attach_snapshot_fd, "s", 1);
		close(attach_snapshot_fd);
		attach_snapshot_fd = -1;
	}

	pm->pid = pid;
	pm->stopped_ns = ps.stopped_ns;
	if (procfs_stat(pid, 0, &st) == 0)
		pm->comm = xstrdup(st.comm);
	exe = procfs_read("/proc/%d/cmdline", pid);
	pm->exe = exe;	/* argv[0]: up to the first NUL */

	uw = unwinder_new(&ps);
	sym = symbolizer_new(pid);
	if (!sym)
		debug_msg("no symbols for process %d", pid);
	pm->threads = xcalloc(ps.n_threads, sizeof(*pm->threads));
	for (int i = 0; i < ps.n_threads; i++) {
		const struct thread_snapshot *t = &ps.threads[i];

		if (t->gone)
			continue;
		describe_thread(uw, sym, t, &pm->threads[pm->n_threads++]);
	}
	registry_view_waits(pv.registry, pm, sym);
	python_view_apply(&pv, &ps, pm);
	registry_view_owners(pv.registry, pm, sym, pv.loc);
	if (pv.why)
		pm->python_why = xstrdup(pv.why);
	python_view_free(&pv);
	registry_copy_free(cap.copy);
	symbolizer_free(sym);
	unwinder_free(uw);
	snapshot_free(&ps);
	return 0;
}
