#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "common/clock.h"
#include "common/error.h"
#include "supervisor/watch.h"
#include "tracer/attach/native_wait.h"
#include "tracer/attach/procfs.h"
#include "tracer/attach/program_view.h"
#include "tracer/attach/registry_remote.h"
#include "tracer/attach/registry_view.h"
#include "tracer/attach/target_mem.h"

void watch_init(struct watch *w, pid_t root)
{
	memset(w, 0, sizeof(*w));
	w->root = root;
	w->copy = mmap(NULL, sizeof(*w->copy), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w->copy == MAP_FAILED)
		w->copy = NULL;
	watch_add(w, root);
}

void watch_fini(struct watch *w)
{
	if (w->copy)
		munmap(w->copy, sizeof(*w->copy));
	free(w->procs);
	memset(w, 0, sizeof(*w));
}

static void add(struct watch *w, pid_t pid, bool announced)
{
	for (int i = 0; i < w->n_procs; i++)
		if (w->procs[i].pid == pid) {
			w->procs[i].registry = 0;	/* a fork child: new */
			if (announced) {	/* ... or an exec */
				w->procs[i].seen_ns = now_ns();
				w->procs[i].warm = false;
			}
			return;
		}
	if (w->n_procs == WATCH_MAX_PROCS)
		return;
	w->procs = xrealloc(w->procs, w->n_procs + 1, sizeof(*w->procs));
	w->procs[w->n_procs++] = (struct watch_proc){ .pid = pid, .seen_ns = now_ns() };
}

void watch_add(struct watch *w, pid_t pid)
{
	add(w, pid, true);
}

static bool alive(pid_t pid)
{
	struct proc_stat st;

	return procfs_stat(pid, 0, &st) == 0 && st.state != 'Z' &&
	       st.state != 'X';
}

void watch_rescan_tree(struct watch *w)
{
	pid_t *tree = NULL;
	int n = procfs_descendants(w->root, &tree), k = 0;

	for (int i = 0; i < w->n_procs; i++)
		if (alive(w->procs[i].pid))
			w->procs[k++] = w->procs[i];
	w->n_procs = k;
	for (int i = 0; i < n; i++)
		add(w, tree[i], false);
	free(tree);
}

/* "nr a0 a1 a2 a3 a4 a5 sp pc" of /proc/P/task/T/syscall; false when
 * the thread is running or the file says nothing. */
static bool read_syscall(pid_t pid, pid_t tid, long *nr, uint64_t *args)
{
	char *text = procfs_read("/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	unsigned long long a[6];
	bool ok;

	ok = text && sscanf(text, "%ld %llx %llx %llx %llx %llx %llx", nr,
			    &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) == 7;
	for (int i = 0; ok && i < 6; i++)
		args[i] = a[i];
	free(text);
	return ok && *nr >= 0;
}

/* How many times the thread has been scheduled (schedstat), or 0. */
static uint64_t times_run(pid_t pid, pid_t tid)
{
	char *text = procfs_read("/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	unsigned long long run, wait, slices = 0;

	if (text && sscanf(text, "%llu %llu %llu", &run, &wait, &slices) != 3)
		slices = 0;
	free(text);
	return slices;
}

/* A futex wait as the call shows it: timed or not, private or not, and
 * whether its word already changed (the thread is being woken). */
static void futex_wait(struct thread_model *t)
{
	int op = (int)t->syscall_args[1] & 127;	/* FUTEX_CMD_MASK */
	uint32_t word;

	if (op != 0 && op != 9 && op != 6 && op != 11) {	/* no wait */
		t->state = THREAD_SYSCALL;
		return;
	}
	t->state = THREAD_WAITING;
	t->wait.kind = WAIT_FUTEX;
	t->wait.id = t->wait.sync_addr = t->syscall_args[0];
	t->wait.timed = t->syscall_args[3] != 0;
	t->wait.shared = !(t->syscall_args[1] & 128);	/* FUTEX_PRIVATE_FLAG */
	t->wait.owner_why = "a bare futex records no owner";
	if ((op == 0 || op == 9) &&
	    target_read(t->pid, t->syscall_args[0], &word, sizeof(word)) == 0 &&
	    word != (uint32_t)t->syscall_args[2])
		t->waking = true;
}

static void look_thread(pid_t pid, pid_t tid, struct thread_model *t)
{
	struct proc_stat st;
	char comm[PROC_COMM_MAX];

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->tid = tid;
	t->state = THREAD_UNKNOWN;
	t->last_cpu = -1;
	if (procfs_stat(pid, tid, &st) < 0)
		return;
	t->last_cpu = st.processor;
	procfs_comm(pid, tid, comm, sizeof(comm));
	t->comm = xstrdup(comm);
	t->name = xstrdup(comm);
	t->progress = times_run(pid, tid);
	switch (st.state) {
	case 'R':
		/* running, or about to: whatever a registry slot says */
		t->state = THREAD_RUNNING;
		t->waking = true;
		return;
	case 'T': case 't':
		t->job_stopped = true;
		return;	/* it goes on when continued: unknown */
	case 'S':
		break;
	default:
		return;	/* D: in the kernel a moment; Z, X: gone */
	}
	if (!(t->in_syscall = read_syscall(pid, tid, &t->syscall_nr,
					   t->syscall_args)))
		return;
	if (t->syscall_nr == SYS_futex)
		futex_wait(t);
	else
		t->state = native_call_state(t->syscall_nr, t->syscall_args);
}

#define GIL_WAIT_PROGRESS 0x4749	/* "GI": a GIL waiter's rounds do nothing */

/*
 * For waits the shim slices, the slot's generation tells progress, not
 * the times the thread ran.  A thread waiting for the GIL goes round
 * every 5 ms, each round a wait of its own (and the GIL's mutex taken
 * again), doing nothing else: it stays as it is while its holder does,
 * and a still holder is what proves it stuck.
 */
static void slot_progress(const struct registry *r, struct thread_model *t)
{
	const struct registry_slot *s = registry_slot_of(r, t->tid);

	if (!s || !atomic_load(&s->wait_addr) ||
	    (atomic_load(&s->wait_flags) & REG_WAIT_TIMED))
		return;
	if (atomic_load(&s->wait_kind) == REG_GIL) {
		t->progress = GIL_WAIT_PROGRESS;
	} else {
		t->progress = atomic_load(&s->gen) ^ (s->acquired << 32);
		t->wait_serial = s->wait_since_ns;
	}
}

static void look_process(struct watch *w, struct watch_proc *wp,
			 struct process_model *pm)
{
	struct process_info *proc;
	struct proc_stat st;
	struct registry *r = NULL;
	pid_t *tids = NULL;
	int n;

	if (procfs_stat(wp->pid, 0, &st) < 0 || (n = procfs_tasks(wp->pid, &tids)) < 0)
		return;
	proc = model_add_process(pm, wp->pid);
	proc->ppid = st.ppid;
	proc->comm = xstrdup(st.comm);
	if (!wp->registry)
		wp->registry = registry_find(wp->pid);
	if (wp->registry && w->copy &&
	    registry_fetch(wp->pid, wp->registry, w->copy) == 0)
		r = w->copy;
	else
		wp->registry = 0;	/* exec'd, or a fork child not ready */
	/* every handler the process has; the shim says whose SIGINT's is */
	proc->wake_signals = program_view_wake_signals(wp->pid, false);
	pm->threads = xrealloc(pm->threads, pm->n_threads + n + 1,
			       sizeof(*pm->threads));
	for (int i = 0; i < n; i++) {
		struct thread_model *t = &pm->threads[pm->n_threads];

		look_thread(wp->pid, tids[i], t);
		if (t->state == THREAD_UNKNOWN && !t->comm) {
			free(t->name);
			continue;	/* gone since the listing */
		}
		if (r)
			slot_progress(r, t);
		pm->n_threads++;
	}
	free(tids);
	if (r) {
		registry_view_waits(r, pm, wp->pid, NULL);
		registry_view_owners(r, pm, wp->pid, NULL, NULL);
	}
}

int watch_look(struct watch *w, struct process_model *pm, bool look_outside)
{
	memset(pm, 0, sizeof(*pm));
	for (int i = 0; i < w->n_procs; i++)
		look_process(w, &w->procs[i], pm);
	if (!pm->n_procs)
		return -1;
	program_view_apply(pm, look_outside);
	pm->pid = pm->procs[0].pid;
	pm->comm = xstrdup(pm->procs[0].comm);
	return 0;
}

bool watch_thread_still(const struct thread_model *now,
			const struct process_model *before)
{
	const struct thread_model *was =
		model_thread((struct process_model *)before, now->tid);

	return was && was->pid == now->pid && was->state == now->state &&
	       was->progress == now->progress &&
	       was->wait.kind == now->wait.kind &&
	       was->wait.id == now->wait.id &&
	       was->syscall_nr == now->syscall_nr &&
	       was->syscall_args[0] == now->syscall_args[0];
}
