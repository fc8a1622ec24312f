#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/verdict.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/preload_env.h"
#include "common/supervisor_signals.h"
#include "common/write_all.h"
#include "supervisor/records.h"
#include "supervisor/supervisor.h"
#include "supervisor/watch.h"
#include "tracer/attach/attach.h"
#include "tracer/attach/attach_break.h"
#include "tracer/attach/procfs.h"
#include "tracer/attach/registry_remote.h"
#include "tracer/attach/snapshot.h"
#include "tracer/attach/symbols.h"
#include "ui/report.h"

#ifndef PYDEADLOCK_PKGLIBDIR
#define PYDEADLOCK_PKGLIBDIR "/usr/local/lib/pydeadlock"
#endif
#ifndef PYDEADLOCK_PKGDATADIR
#define PYDEADLOCK_PKGDATADIR "/usr/local/share/pydeadlock"
#endif
#ifndef PYDEADLOCK_SRCDIR
#define PYDEADLOCK_SRCDIR "."
#endif
#define SHIM_NAME "libpydeadlock.so"

#define LOOK_MIN_MS 100		/* the program is looked at this often at most */
#define LOOK_CONFIRM_MS 10	/* ... but a deadlock seen is looked at again soon:
				 * still then, nobody of it ran in between */
#define CONFIRM_LOOKS 20	/* ... at most this many in a row */
#define FOLLOWED_MAX 16		/* potential deadlocks followed at once */
#define LOOK_COST_SHARE 20	/* ... and at most 1/20 of the time is spent looking */
#define VICTIMS_MAX 32		/* victims named in the summary */
#define NUDGE_LOOKS 3		/* a nudge: a look now, and again if need be */
#define NUDGE_GAP_US 1000	/* ... this soon: the shim saw a cycle form */
#define PARKED_FIRST_SHARE 4	/* parked waits still for 1/4 of --potential-after
				 * get a full view (not before PARKED_FIRST_MS), */
#define PARKED_FIRST_MS 100
#define PARKED_MAX_MS 10000	/* then again at doubling gaps up to this */
#define TREE_RESCAN_MS 1000	/* every process of the machine read this often */
#define WARM_AFTER_MS 1000	/* a process this old gets its symbols loaded ahead */
#define KILL_ROUNDS 50		/* the tree is killed until nothing is left */

struct sup {
	const struct run_options *o;
	struct run_records orders;	/* --lock-order's loops, --profile's */
	pid_t child;
	int sigfd;
	bool child_done;
	int child_status;
	int ending;		/* EXIT_DEADLOCK once the program is being ended */
	int term_signals;	/* SIGINT/SIGTERM/SIGHUP/SIGQUIT received */
	uint64_t term_deadline;
	uint64_t ending_deadline;	/* told the program it ends: until then */
	int ending_fd;			/* --ending-fd, -1 once told */
	struct watch watch;
	struct process_model prev;	/* the last look */
	bool have_prev;
	uint64_t next_look, next_tree, look_cost;
	char *acted;		/* the last certain deadlock acted on */
	/* the potential deadlocks followed: each by its threads and what
	 * they wait for, since when it was seen still, whether it was said */
	struct followed {
		uint64_t key, since;
		bool said, present;
	} followed[FOLLOWED_MAX];
	int n_followed;
	char *parked;		/* the parked waits seen still ... */
	uint64_t parked_since;	/* ... since then */
	uint64_t parked_next;	/* when the full view looks at them next */
	uint64_t parked_gap;	/* and the gap after that, doubling */
	/* the shim's last cycle the full view did not prove (its waits), and
	 * when it gets a full view again */
	uint64_t unproved_key, unproved_next, unproved_gap;
	char *parked_said;	/* the last potential said of them */
	int confirms;		/* looks in a row LOOK_CONFIRM_MS apart */
	int nudged;		/* looks left, NUDGE_GAP_US apart, that the
				 * shim asked for */
	uint64_t nudged_at;	/* when it last asked */
	/* under break: the deadlocks reported in full (their waits' objects),
	 * and the victims, for the summary at the end */
	struct registry_seen reported;
	struct victim_count {
		pid_t tid;
		char *name;
		int breaks;
	} victims[VICTIMS_MAX];
	int n_victims, breaks;
};

/* The shim: $PYDEADLOCK_SHIM, next to a build tree's binary, or installed. */
static int find_shim(const char *exe, char *out, size_t size)
{
	const char *env = getenv("PYDEADLOCK_SHIM");
	const char *slash = strrchr(exe, '/');

	if (env)
		return snprintf(out, size, "%s", env) < (int)size &&
		       access(out, R_OK) == 0 ? 0 : -1;
	if (slash &&
	    snprintf(out, size, "%.*s/tracer/shim/.libs/%s", (int)(slash - exe),
		     exe, SHIM_NAME) < (int)size &&
	    access(out, R_OK) == 0)
		return 0;
	/* an install moved as a whole (a virtual environment's pip install):
	 * PREFIX/bin/pydeadlock beside PREFIX/lib/pydeadlock */
	if (slash &&
	    snprintf(out, size, "%.*s/../lib/pydeadlock/%s", (int)(slash - exe),
		     exe, SHIM_NAME) < (int)size &&
	    access(out, R_OK) == 0)
		return 0;
	snprintf(out, size, "%s/%s", PYDEADLOCK_PKGLIBDIR, SHIM_NAME);
	return access(out, R_OK) == 0 ? 0 : -1;
}

/* The folder of the pydeadlock package the program imports: the source
 * tree's for a build tree's shim, PREFIX/share/pydeadlock/python beside
 * an installed one (wherever the install was moved), or the configured. */
static void find_python_dir(const char *shim, char *out, size_t size)
{
	const char *lib = strstr(shim, "/lib/pydeadlock/");

	if (strstr(shim, "/.libs/")) {
		snprintf(out, size, "%s/python", PYDEADLOCK_SRCDIR);
		return;
	}
	if (lib && snprintf(out, size, "%.*s/share/pydeadlock/python",
			    (int)(lib - shim), shim) < (int)size &&
	    access(out, R_OK) == 0)
		return;
	snprintf(out, size, "%s/python", PYDEADLOCK_PKGDATADIR);
}

static int setenv_checked(const char *name, const char *value)
{
	if (setenv(name, value, 1) == 0)
		return 0;
	perror_msg("run: setenv %s", name);
	return -1;
}

/*
 * The program's environment: the shim preloaded, the pydeadlock package
 * importable (and, for --abort-on-uncaught, the sitecustomize that sets
 * it up first), the shim's configuration, and who the supervisor is.
 */
static int prepare_environment(const struct run_options *o, int order_fd)
{
	char order[16];

	char exe[PATH_MAX], shim[PATH_MAX], pydir[PATH_MAX], err[256];
	char supervisor[64], site[2 * PATH_MAX + 16];
	struct proc_stat self;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0) {
		perror_msg("run: /proc/self/exe");
		return -1;
	}
	exe[n] = '\0';
	if (find_shim(exe, shim, sizeof(shim)) < 0) {
		error_msg("run: cannot find %s (set PYDEADLOCK_SHIM, or 'make install')",
			  SHIM_NAME);
		return -1;
	}
	find_python_dir(shim, pydir, sizeof(pydir));
	/* --abort-on-uncaught: the sitecustomize that sets it up, first */
	if (o->abort_on_uncaught)
		snprintf(site, sizeof(site), "%s/uncaught:%s", pydir, pydir);
	else
		snprintf(site, sizeof(site), "%s", pydir);
	if (preload_env_prepare(shim, site, err, sizeof(err)) < 0) {
		error_msg("run: %s", err);
		return -1;
	}
	if (procfs_stat(getpid(), 0, &self) < 0)
		return -1;
	snprintf(supervisor, sizeof(supervisor), "%d:%llu", (int)getpid(),
		 self.starttime);
	if (setenv_checked("PYDEADLOCK_VICTIM", o->victim) ||
	    setenv_checked("PYDEADLOCK_BIN", exe) ||
	    setenv_checked("PYDEADLOCK_ON_DEADLOCK", o->policy_name) ||
	    setenv_checked("PYDEADLOCK_SUPERVISOR", supervisor) ||
	    (o->json && setenv_checked("PYDEADLOCK_JSON_REPORT", o->json)) ||
	    (o->graph && setenv_checked("PYDEADLOCK_GRAPH", o->graph)))
		return -1;
	snprintf(order, sizeof(order), "%d", order_fd);
	if ((o->lock_order || o->profile) &&
	    setenv_checked("PYDEADLOCK_RECORDS", order))
		return -1;
	if (o->profile && setenv_checked("PYDEADLOCK_PROFILE", "1"))
		return -1;
	if (o->lock_order) {
		char sup_path[PATH_MAX];

		if (setenv_checked("PYDEADLOCK_LOCK_ORDER", "1") ||
		    (o->order_at_once &&
		     setenv_checked("PYDEADLOCK_LOCK_ORDER_NOW", "1")))
			return -1;
		if (o->suppressions) {
			if (!realpath(o->suppressions, sup_path)) {
				perror_msg("run: %s", o->suppressions);
				return -1;
			}
			if (setenv_checked("PYDEADLOCK_SUPPRESSIONS", sup_path))
				return -1;
		}
	}
	return 0;
}

/* Signals the supervisor takes through its signalfd. */
static void supervisor_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, supervisor_signal(SUPERVISOR_HELLO));
	sigaddset(set, supervisor_signal(SUPERVISOR_DEADLOCK));
	sigaddset(set, supervisor_signal(SUPERVISOR_LOOK));
	sigaddset(set, supervisor_signal(SUPERVISOR_ORDER));
}

/* Kill every process below the supervisor (the program's tree: as a
 * subreaper it keeps even the orphans), until none is left. */
static void kill_tree(void)
{
	for (int round = 0; round < KILL_ROUNDS; round++) {
		pid_t *tree = NULL;
		int n = procfs_descendants(getpid(), &tree);

		for (int i = 1; i < n; i++)
			kill(tree[i], SIGKILL);
		free(tree);
		if (n <= 1)
			return;
		struct timespec nap = { 0, 2000000 };
		nanosleep(&nap, NULL);
	}
}

/*
 * Reap every child that ended; note the program's end.  A thread that
 * a snapshot seized but that stopped only after it was let go (it was
 * in uninterruptible sleep) reports its stop here: let it go too.
 */
static void reap(struct sup *s)
{
	int status;
	pid_t p;

	while ((p = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
		if (WIFSTOPPED(status)) {
			int event = (unsigned)status >> 16, sig = WSTOPSIG(status);

			/* a signal-delivery stop hands the signal back */
			ptrace(PTRACE_DETACH, p, 0,
			       (void *)(long)(event == 0 ? sig : 0));
			continue;
		}
		if (p == s->child) {
			s->child_done = true;
			s->child_status = status;
		}
	}
	/* a snapshot's wait for a thread may have taken the program's end */
	if (snapshot_exited_pid && snapshot_exited_pid == s->child) {
		s->child_done = true;
		s->child_status = snapshot_exited_status;
	}
}

/*
 * Write the report of pm: text on stderr in one write (the program's
 * shims write their own lines there too, and lines must not mix), JSON
 * to the file asked for.
 */
static void report(struct sup *s, const struct process_model *pm)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (mem) {
		report_text(mem, pm);
		fclose(mem);
		(void)write_all(2, text, len);
		free(text);
	}
	if (s->o->json)
		report_json_to(s->o->json, pm);
	if (s->o->graph)
		report_graph_to(s->o->graph, pm);
}

/*
 * End the program.  With --ending-fd, the program is told first (one
 * line, "deadlock: WHY") and given RUN_ENDING_GRACE_MS to end by itself:
 * a test runner records the failure, a service logs it.
 */
static void end_program(struct sup *s, const char *why)
{
	error_msg("ending the program (exit status %d): %s", EXIT_DEADLOCK, why);
	s->ending = EXIT_DEADLOCK;
	if (s->ending_fd >= 0) {
		char line[1024];
		int n = snprintf(line, sizeof(line), "deadlock: %s\n", why);

		(void)write_all(s->ending_fd, line, n < (int)sizeof(line) ? (size_t)n
									 : sizeof(line) - 1);
		close(s->ending_fd);
		s->ending_fd = -1;
		s->ending_deadline = now_ns() +
				     (uint64_t)RUN_ENDING_GRACE_MS * 1000000u;
		return;
	}
	if (!s->ending_deadline)
		kill_tree();
}

/*
 * Threads of the program that read the --ending-fd pipe are run's own
 * listeners: they act only once told the program ends, so they are no
 * part of its verdict (counted, they could end every wait of their
 * process, and no deadlock there would ever be proved).
 */
static void drop_listeners(const struct sup *s, struct process_model *pm)
{
	for (int i = pm->n_threads - 1; s->o->ending_pipe && i >= 0; i--)
		if (pm->threads[i].wait.kind == WAIT_PIPE &&
		    pm->threads[i].wait.id == s->o->ending_pipe)
			model_drop_thread(pm, i);
}

/* Set a 32-bit field of pid's registry at addr to value. */
static void poke_u32(pid_t pid, uint64_t addr, size_t offset, uint32_t value)
{
	(void)registry_poke(pid, addr, offset, &value, sizeof(value));
}

/* The waits of a registry (who waits for what), order aside. */
static uint64_t registry_waits_key(const struct registry *r)
{
	uint32_t n = atomic_load(&r->high_water);
	uint64_t key = 0;

	for (uint32_t i = 0; i < n && i < REGISTRY_MAX_THREADS; i++) {
		const struct registry_slot *sl = &r->slots[i];
		uint64_t addr = atomic_load(&sl->wait_addr);

		if (atomic_load(&sl->tid) && addr)
			key = registry_key_add(key, addr ^
					       ((uint64_t)atomic_load(&sl->tid) << 40));
	}
	return key;
}

/*
 * The full view of the shim's cycle, of its own process; when only
 * another process of the program could end it, of all of them.  True
 * when it proves a deadlock (reported then).
 */
static bool prove_shim_cycle(struct sup *s, pid_t pid, uint64_t addr,
			     uint32_t seq)
{
	pid_t pids[WATCH_MAX_PROCS];
	struct process_model pm;
	char err[512];
	bool proved;
	int n = 0;

	if (attach_processes(&pid, 1, &pm, err, sizeof(err)) < 0) {
		poke_u32(pid, addr, offsetof(struct registry, report_ack), seq);
		error_msg("cannot write the full report: %s", err);
		return true;	/* the shim's word alone, as without run */
	}
	poke_u32(pid, addr, offsetof(struct registry, report_ack), seq);
	drop_listeners(s, &pm);
	proved = verdict_compute(&pm) == 0 && pm.n_deadlocks;
	pids[n++] = pid;
	for (int i = 0; i < s->watch.n_procs && n < WATCH_MAX_PROCS; i++)
		if (s->watch.procs[i].pid != pid)
			pids[n++] = s->watch.procs[i].pid;
	if (!proved && pm.n_potential && n > 1) {
		model_free(&pm);
		if (attach_processes(pids, n, &pm, err, sizeof(err)) < 0)
			return false;
		drop_listeners(s, &pm);
		proved = verdict_compute(&pm) == 0 && pm.n_deadlocks;
	}
	if (proved)
		report(s, &pm);
	model_free(&pm);
	return proved;
}

#define UNPROVED_FIRST_MS 100	/* the same waits not proved: looked at again */
#define UNPROVED_MAX_MS 10000	/* at doubling gaps up to this */

/*
 * The shim of process pid found a cycle and asks for the full report:
 * take the snapshot, tell it so (it may break the cycle now), write the
 * report, tell it that too.  Under abort the program then ends.  A cycle
 * the full view did not prove (another thread may release a Lock) is
 * asked about again at each of the shim's slices: the same waits get
 * the same answer without a snapshot until their gap has passed.
 */
static void shim_deadlock(struct sup *s, pid_t pid)
{
	uint64_t addr = 0, key, now = now_ns();
	struct registry *r = registry_read(pid, &addr);
	uint32_t seq;
	bool proved;

	if (!r)
		return;
	seq = atomic_load(&r->report_seq);
	key = registry_waits_key(r) ^ (uint64_t)pid;
	registry_copy_free(r);
	if (key == s->unproved_key && now < s->unproved_next) {
		proved = false;
		poke_u32(pid, addr, offsetof(struct registry, report_ack), seq);
	} else {
		proved = prove_shim_cycle(s, pid, addr, seq);
		if (!proved) {
			s->unproved_gap = key == s->unproved_key ? s->unproved_gap * 2
				: (uint64_t)UNPROVED_FIRST_MS * 1000000u;
			if (s->unproved_gap > (uint64_t)UNPROVED_MAX_MS * 1000000u)
				s->unproved_gap = (uint64_t)UNPROVED_MAX_MS * 1000000u;
			s->unproved_key = key;
			s->unproved_next = now_ns() + s->unproved_gap;
		}
	}
	poke_u32(pid, addr, offsetof(struct registry, report_proved), proved);
	poke_u32(pid, addr, offsetof(struct registry, report_done), seq);
	if (proved && s->o->policy == RUN_ABORT)
		end_program(s, "a deadlock (--on-deadlock=report leaves it hung, =break fails one wait)");
}

/* A signal for the supervisor. */
static void on_signal(struct sup *s, const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;

	if (sig == SIGCHLD) {
		reap(s);
	} else if (sig == supervisor_signal(SUPERVISOR_HELLO)) {
		watch_add(&s->watch, si->ssi_int);
	} else if (sig == supervisor_signal(SUPERVISOR_DEADLOCK)) {
		shim_deadlock(s, si->ssi_int);
	} else if (sig == supervisor_signal(SUPERVISOR_ORDER)) {
		/* --lock-order, --on-deadlock=abort: a loop ends the program */
		records_collect(&s->orders);
		if (!s->ending) {
			error_msg("ending the program (exit status %d): locks taken in orders that can deadlock",
				  EXIT_LOCK_ORDER);
			s->ending = EXIT_LOCK_ORDER;
			kill_tree();
		}
	} else if (sig == supervisor_signal(SUPERVISOR_LOOK)) {
		/* now, and soon again: the thread that asked may not sleep
		 * in the kernel yet */
		s->next_look = 0;
		s->nudged = NUDGE_LOOKS;
		s->nudged_at = now_ns();
	} else if (++s->term_signals == 1) {
		/* a terminal's signal reached the whole process group, the
		 * program too; one sent to us alone is passed on */
		if (si->ssi_code != SI_KERNEL)
			kill(s->child, sig);
		s->term_deadline = now_ns() + (uint64_t)RUN_TERM_GRACE_MS * 1000000u;
	} else {
		error_msg("ending the program: a second %s", strsignal(sig));
		kill_tree();
	}
}

/* Does a thread of d wait with a timeout (the loop undoes itself)? */
static bool deadlock_timed(const struct process_model *pm,
			   const struct deadlock *d)
{
	for (int k = 0; k < d->n_tids; k++) {
		const struct thread_model *t =
			model_thread((struct process_model *)pm, d->tids[k]);

		if (t && t->wait.timed)
			return true;
	}
	return false;
}

/*
 * Would --act-on-potential act on d?  Only on waits for locks, no timeout
 * among them: a thread idle in a Condition, an Event, a Queue, a pipe or
 * for a signal is how a correct program waits for work, however long.
 */
static bool actionable(const struct process_model *pm, const struct deadlock *d)
{
	if (deadlock_timed(pm, d))
		return false;
	for (int k = 0; k < d->n_tids; k++) {
		const struct thread_model *t =
			model_thread((struct process_model *)pm, d->tids[k]);

		if (!t)
			return false;
		switch (t->wait.kind) {
		case WAIT_LOCK: case WAIT_RLOCK: case WAIT_MUTEX:
		case WAIT_RWLOCK: case WAIT_IMPORT:
			break;
		default:
			return false;
		}
	}
	return true;
}

/* The first potential deadlock --act-on-potential acts on, or NULL. */
static const struct deadlock *actionable_potential(const struct process_model *pm)
{
	for (int k = 0; k < pm->n_potential; k++)
		if (actionable(pm, &pm->potential[k]))
			return &pm->potential[k];
	return NULL;
}

static bool deadlock_still(const struct sup *s, const struct process_model *pm,
			   const struct deadlock *d);

/* Did any potential deadlock of pm stay still since the last look? */
static bool potential_still(const struct sup *s, const struct process_model *pm)
{
	for (int k = 0; k < pm->n_potential; k++)
		if (deadlock_still(s, pm, &pm->potential[k]))
			return true;
	return false;
}

/*
 * "tid:object:call:wait ..." of the threads the verdict found stuck: the
 * same deadlock again.  Every such thread, not only those a deadlock
 * lists: a victim's next wait may join one listed as another.  Not how
 * often they ran: a snapshot's stop makes them run, and the deadlock it
 * looked at would seem new at every look.  But a wait that failed and
 * began again on the same object (a victim's handler, an exit handler
 * taking the lock once more) is new.
 */
static char *deadlock_signature(const struct process_model *pm)
{
	size_t cap = 64 + 100 * (size_t)pm->n_threads, len = 0;
	char *sig = xmalloc(cap);

	sig[0] = '\0';
	for (int i = 0; i < pm->n_threads; i++) {
		const struct thread_model *t = &pm->threads[i];

		if (t->stuck)
			len += snprintf(sig + len, cap - len, "%d:%llx:%ld:%llx ",
					(int)t->tid,
					(unsigned long long)t->wait.id,
					t->syscall_nr,
					(unsigned long long)t->wait_serial);
	}
	return sig;
}

/* Forget *sig unless pm still has it: a deadlock that ends and forms
 * again is new (a victim that came back). */
static void forget_unless(char **sig, const struct process_model *pm)
{
	char *now;

	if (!*sig)
		return;
	now = pm->n_deadlocks ? deadlock_signature(pm) : NULL;
	if (!now || strcmp(now, *sig)) {
		free(*sig);
		*sig = NULL;
	}
	free(now);
}

/* Has every thread of d stayed as it was at the last look? */
static bool deadlock_still(const struct sup *s, const struct process_model *pm,
			   const struct deadlock *d)
{
	if (!s->have_prev)
		return false;
	for (int i = 0; i < d->n_tids; i++) {
		const struct thread_model *t =
			model_thread((struct process_model *)pm, d->tids[i]);

		if (!t || !watch_thread_still(t, &s->prev))
			return false;
	}
	return true;
}

static void act_on(struct sup *s, struct process_model *pm,
		   const struct deadlock *d);
static void look_parked(struct sup *s, const struct process_model *pm,
			uint64_t now);

static bool pid_listed(const pid_t *pids, int n, pid_t pid)
{
	for (int k = 0; k < n; k++)
		if (pids[k] == pid)
			return true;
	return false;
}

/*
 * The processes the full view of d needs: those of its threads, and,
 * until nothing is added, those of everyone who could end a wait of a
 * thread of theirs (a waitpid's child, a pipe's other end, an owner in
 * another process).  Oldest first.
 */
static int deadlock_processes(const struct process_model *pm,
			      const struct deadlock *d, pid_t *pids, int max)
{
	int n = 0, done = 0;

	for (int i = 0; i < d->n_tids; i++) {
		const struct thread_model *t =
			model_thread((struct process_model *)pm, d->tids[i]);

		if (t && n < max && !pid_listed(pids, n, t->pid))
			pids[n++] = t->pid;
	}
	for (; done < n; done++)
		for (int i = 0; i < pm->n_threads; i++) {
			const struct thread_model *t = &pm->threads[i];
			const struct wait_info *w = &t->wait;

			if (t->pid != pids[done])
				continue;
			for (int k = 0; k < w->n_wakers && n < max; k++)
				if (!pid_listed(pids, n, w->wakers[k].pid) &&
				    model_process((struct process_model *)pm,
						  w->wakers[k].pid))
					pids[n++] = w->wakers[k].pid;
			for (int k = 0; k < w->n_owners && n < max; k++) {
				const struct thread_model *o = model_thread(
					(struct process_model *)pm, w->owner_tids[k]);

				if (o && !pid_listed(pids, n, o->pid))
					pids[n++] = o->pid;
			}
		}
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && pids[k] < pids[k - 1]; k--) {
			pid_t p = pids[k];

			pids[k] = pids[k - 1];
			pids[k - 1] = p;
		}
	return n;
}

/*
 * What the look saw and that stayed still, d (certain or potential):
 * stop its processes for the full model (stacks, Python's own signal
 * handlers, locks held by with blocks, owners CPython records), which
 * must prove a deadlock before it is reported and acted on by the
 * policy.  Unproved, a potential one is said when say is set.
 */
static void act(struct sup *s, const struct process_model *seen,
		const struct deadlock *d, bool say)
{
	pid_t pids[WATCH_MAX_PROCS];
	int n;
	struct process_model pm;
	char err[512];

	if (s->o->serial)
		return;
	n = deadlock_processes(seen, d, pids, WATCH_MAX_PROCS);
	if (!n || attach_processes(pids, n, &pm, err, sizeof(err)) < 0)
		return;
	drop_listeners(s, &pm);
	if (verdict_compute(&pm) == 0 && pm.n_deadlocks)
		act_on(s, &pm, &pm.deadlocks[0]);
	else if (say && s->o->act_on_potential && actionable_potential(&pm))
		act_on(s, &pm, actionable_potential(&pm));
	else if (say && pm.n_potential)
		report(s, &pm);
	model_free(&pm);
}

/*
 * A deadlock's key, order aside: the objects its threads wait on; with
 * each_wait, which thread waits and which wait it is too (a victim that
 * waits again is another).
 */
static uint64_t deadlock_key(const struct process_model *pm,
			     const struct deadlock *d, bool each_wait)
{
	uint64_t key = 0;

	for (int i = 0; i < d->n_tids; i++) {
		const struct thread_model *t =
			model_thread((struct process_model *)pm, d->tids[i]);
		uint64_t id = t ? t->wait.id : 0;

		if (each_wait)
			key = registry_key_add(registry_key_add(key,
				((uint64_t)d->tids[i] << 40) ^ id),
				t ? t->wait_serial : 0);
		else
			key = registry_key_add(key, id);
	}
	return key;
}

/* Under break, a deadlock on the objects of one reported before (a
 * program that backs off and retries) is told by its break's line alone,
 * not again in full.  True when pm's is such a one. */
static bool reported_before(struct sup *s, const struct process_model *pm,
			    const struct deadlock *d)
{
	uint64_t key = deadlock_key(pm, d, false);

	if (registry_seen_has(&s->reported, key))
		return true;
	registry_seen_add(&s->reported, key);
	return false;
}

/* One line for a break: the victim, what it waited for, and where. */
static void say_break(struct sup *s, const struct process_model *pm,
		      pid_t victim, const char *policy, bool again)
{
	const struct thread_model *t = model_thread((struct process_model *)pm, victim);
	const struct wait_info *w = t ? &t->wait : NULL;
	const char *file = w && w->site.file ? strrchr(w->site.file, '/') : NULL;
	struct victim_count *v = NULL;

	if (w)
		error_msg("breaking %s: thread %d \"%s\" fails its wait for %s 0x%llx%s%s%s at %s:%d (victim: %s)",
			  again ? "the same deadlock again" : "it",
			  (int)victim, t->name ? t->name : "",
			  wait_kind_name(w->kind), (unsigned long long)w->id,
			  w->pytype ? " (" : "", w->pytype ? w->pytype : "",
			  w->pytype ? ")" : "",
			  file ? file + 1 : w->site.file ? w->site.file : "?",
			  w->site.line, policy);
	else
		error_msg("breaking it: thread %d's wait fails (victim: %s)",
			  (int)victim, policy);
	s->breaks++;
	for (int i = 0; i < s->n_victims; i++)
		if (s->victims[i].tid == victim)
			v = &s->victims[i];
	if (!v && s->n_victims < VICTIMS_MAX) {
		v = &s->victims[s->n_victims++];
		v->tid = victim;
		v->name = xstrdup(t && t->name ? t->name : "");
	}
	if (v)
		v->breaks++;
}

/* At the end, under break: how many deadlocks were broken here, and
 * whose waits failed.  (A loop of owned waits that the shim breaks itself,
 * C mutexes, has its own line per break and is not counted.) */
static void say_breaks(struct sup *s)
{
	char line[1024];
	size_t len;

	if (!s->breaks)
		return;
	len = (size_t)snprintf(line, sizeof(line), "%d deadlock%s broken; victims:",
			       s->breaks, s->breaks == 1 ? "" : "s");
	for (int i = 0; i < s->n_victims && len < sizeof(line) - 64; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					"%s thread %d \"%s\" (%d)", i ? "," : "",
					(int)s->victims[i].tid, s->victims[i].name,
					s->victims[i].breaks);
	error_msg("%s", line);
	for (int i = 0; i < s->n_victims; i++)
		free(s->victims[i].name);
}

/*
 * Report deadlock d of pm (certain, or potential and still for
 * --potential-after under --act-on-potential) and act on it by the
 * policy.
 */
static void act_on(struct sup *s, struct process_model *pm,
		   const struct deadlock *d)
{
	char err[512];

	bool again = s->o->policy == RUN_BREAK && reported_before(s, pm, d);

	if (!again)	/* one already reported: its break's line says so */
		report(s, pm);
	if (!d->certain)
		error_msg("acting on a potential deadlock, still for %.1f s (--act-on-potential)",
			  s->o->potential_after_ms / 1000.0);
	if (s->o->policy == RUN_ABORT) {
		end_program(s, d->certain ? "a deadlock (--on-deadlock=report leaves it hung, =break fails one wait)"
				: "a potential deadlock, still for --potential-after (--act-on-potential)");
	} else if (s->o->policy == RUN_BREAK) {
		enum registry_victim v = registry_victim_parse(s->o->victim);
		pid_t victim = attach_break_deadlock(pm, d, v,
						     "pydeadlock run --on-deadlock=break",
						     err, sizeof(err));

		if (victim > 0)
			say_break(s, pm, victim, registry_victim_names[v], again);
		else {
			char why[700];

			snprintf(why, sizeof(why), "the deadlock cannot be broken: %s", err);
			end_program(s, why);
		}
	}
}

/*
 * Is d the shim's to act on?  When its process is reporting one; and,
 * under break and report, when it is a loop of owned waits of one
 * process under the shim: its waiting threads look again every 100 ms
 * (under abort they block for good, and a loop they missed is ours).
 */
static bool shim_has_it(const struct sup *s, const struct process_model *pm,
			const struct deadlock *d)
{
	bool shim_sees = d->kind == DEADLOCK_CYCLE && s->o->policy != RUN_ABORT;
	pid_t pid = 0;

	for (int i = 0; i < d->n_tids; i++) {
		const struct thread_model *t =
			model_thread((struct process_model *)pm, d->tids[i]);
		const struct process_info *p =
			t ? model_process((struct process_model *)pm, t->pid) : NULL;

		if (p && p->reporting)
			return true;
		shim_sees &= t && p && p->from_registry && t->wait.owned &&
			     (!pid || pid == t->pid);
		pid = t ? t->pid : pid;
	}
	return shim_sees;
}

static struct followed *followed_of(struct sup *s, uint64_t key)
{
	for (int i = 0; i < s->n_followed; i++)
		if (s->followed[i].key == key)
			return &s->followed[i];
	return NULL;
}

/*
 * Follow each potential deadlock of this look: one seen still for the
 * first time gets the full view at once (which may prove it: a loop no
 * timeout undoes), one still there after --potential-after is said (or,
 * under --act-on-potential, acted on) once.  One gone is forgotten: if it
 * comes back, it is new.  At most one full view per look.
 */
static void follow_potential(struct sup *s, const struct process_model *pm,
			     uint64_t now)
{
	const struct deadlock *act_d = NULL;
	bool act_say = false;

	for (int i = 0; i < s->n_followed; i++)
		s->followed[i].present = false;
	for (int k = 0; k < pm->n_potential; k++) {
		const struct deadlock *d = &pm->potential[k];
		uint64_t key = deadlock_key(pm, d, true);
		struct followed *f = followed_of(s, key);

		if (!f) {
			if (!deadlock_still(s, pm, d) || s->n_followed == FOLLOWED_MAX)
				continue;
			f = &s->followed[s->n_followed++];
			*f = (struct followed){ .key = key, .since = now };
			/* new, and still: what does the full view prove?
			 * (nothing, where a timeout undoes it) */
			if (!act_d && !deadlock_timed(pm, d))
				act_d = d;
		} else if (!f->said && deadlock_still(s, pm, d) &&
			   now - f->since >= (uint64_t)s->o->potential_after_ms * 1000000u &&
			   (!act_d || !act_say)) {
			f->said = true;
			act_d = d;
			act_say = true;
		}
		f->present = true;
	}
	for (int i = s->n_followed - 1; i >= 0; i--)
		if (!s->followed[i].present)
			s->followed[i] = s->followed[--s->n_followed];
	if (act_d)
		act(s, pm, act_d, act_say);
}

/*
 * What a look at a stuck program under the shim reads first: the
 * interpreter (libpython, or a static python executable), the C library
 * and the shim, and in them the functions on the stacks of CPython's
 * threads, running or waiting, and the shim's waits (their compilation
 * units: the eval loop's is libpython's largest).  Not every module: one
 * large library (a machine-learning framework's is hundreds of MB) would
 * hold the supervisor for seconds.
 */
static const char *const warm_modules[] = {
	"libpython", "python", "libc.so", "libpydeadlock", NULL,
};
static const char *const warm_functions[] = {
	"_PyEval_EvalFrameDefault", "PyThread_acquire_lock_timed", "take_gil",
	"acquire_timed", "_PySemaphore_Wait", "_PyMutex_LockTimed",
	"_PyObject_Call", "method_vectorcall_VARARGS_KEYWORDS",
	"run_eval_code_obj", "pymain_run_python", "pythread_wrapper",
	"sem_wait", "pthread_mutex_lock", NULL,
};

/*
 * While nothing is stuck, load ahead the symbols of one process that has
 * lived WARM_AFTER_MS: a deadlock that forms later is then reported in
 * about 10 ms, not 20 to 25 (libdw reading libpython's eval loop), and a
 * short program pays nothing.
 */
static void warm_one(struct sup *s, uint64_t now)
{
	static const struct symbol_warmth warmth = { warm_modules, warm_functions };

	if (s->o->serial)
		return;		/* nothing is attached to */
	for (int i = 0; i < s->watch.n_procs; i++) {
		struct watch_proc *p = &s->watch.procs[i];
		int found;

		if (p->warm || now - p->seen_ns < (uint64_t)WARM_AFTER_MS * 1000000u)
			continue;
		p->warm = true;
		found = symbolizer_warm(p->pid, &warmth);
		debug_msg("warm: process %d, %d functions read ahead (%.3f ms)",
			  (int)p->pid, found, (now_ns() - now) / 1e6);
		return;
	}
}

/* One look at the program, and what follows from it; true when it saw a
 * deadlock (certain or potential) worth looking at again soon. */
static bool look(struct sup *s)
{
	struct process_model pm;
	uint64_t start = now_ns();

	if (start >= s->next_tree) {
		watch_rescan_tree(&s->watch);
		s->next_tree = start + (uint64_t)TREE_RESCAN_MS * 1000000u;
	}
	bool seen;

	if (watch_look(&s->watch, &pm, false) < 0)
		return false;
	s->look_cost = now_ns() - start;	/* the look alone, not what follows */
	drop_listeners(s, &pm);
	if (verdict_compute(&pm) == 0 && pm.outside_unchecked &&
	    (pm.n_potential || pm.n_deadlocks)) {
		/* worth reading every process of the machine now */
		model_free(&pm);
		watch_rescan_tree(&s->watch);
		if (watch_look(&s->watch, &pm, true) < 0)
			return false;
		drop_listeners(s, &pm);
		if (verdict_compute(&pm) < 0)
			return false;
	}
	/* seen, and not yet known to be still: look again soon */
	seen = (pm.n_deadlocks && !deadlock_still(s, &pm, &pm.deadlocks[0])) ||
	       (pm.n_potential && !pm.n_deadlocks && !potential_still(s, &pm));
	/* ... but what keeps moving (a Condition.wait(timeout) loop) is not
	 * looked at every LOOK_CONFIRM_MS for ever */
	s->confirms = seen ? s->confirms + 1 : 0;
	if (s->confirms > CONFIRM_LOOKS)
		seen = false;
	debug_msg("look: %d processes, %d threads: %d deadlocks, %d potential (%.3f ms)",
		  pm.n_procs, pm.n_threads, pm.n_deadlocks, pm.n_potential,
		  (now_ns() - start) / 1e6);
	for (int d = 0; debug_enabled && d < pm.n_potential; d++) {
		char tids[256];
		size_t len = 0;

		tids[0] = '\0';
		for (int k = 0; k < pm.potential[d].n_tids && len < sizeof(tids) - 12; k++)
			len += (size_t)snprintf(tids + len, sizeof(tids) - len, " %d",
						(int)pm.potential[d].tids[k]);
		debug_msg("look: potential %s of%s%s: %s", deadlock_kind_name(pm.potential[d].kind),
			  tids, deadlock_still(s, &pm, &pm.potential[d]) ? " (still)" : "",
			  pm.potential[d].why ? pm.potential[d].why : "");
	}
	forget_unless(&s->acted, &pm);
	if (pm.n_deadlocks && !shim_has_it(s, &pm, &pm.deadlocks[0]) &&
	    deadlock_still(s, &pm, &pm.deadlocks[0])) {
		char *sig = deadlock_signature(&pm);

		if (!s->acted || strcmp(sig, s->acted)) {
			free(s->acted);
			s->acted = sig;
			act(s, &pm, &pm.deadlocks[0], false);
		} else {
			debug_msg("look: acted on already: %s", sig);
			free(sig);
		}
	} else if (!pm.n_deadlocks && pm.n_potential) {
		follow_potential(s, &pm, start);
	} else if (!pm.n_deadlocks && !pm.n_potential) {
		look_parked(s, &pm, start);
		warm_one(s, start);
	}
	if (s->have_prev)
		model_free(&s->prev);
	s->prev = pm;
	s->have_prev = true;
	return seen;
}

/*
 * 3.13.1+ takes a free Lock without any call the shim sees: the registry
 * has the waits on it (parked on its PyMutex) but not its holders, and
 * the look above proves nothing.  While a thread still runs,
 * any of them could release a Lock: such a cycle is only ever potential,
 * and a deadlock where every thread is stuck the look above finds without
 * holders.  So untimed parked waits that stay still for a quarter of
 * --potential-after get the full view, which finds the holders of `with`
 * blocks and the threads joined: a deadlock it proves is acted on, a
 * potential one said after --potential-after.  The same waits are looked
 * at again at doubling gaps (a full view stops the process for a few ms);
 * an idle Condition.wait(), a Lock wait too, costs no more than that.
 */
static void look_parked(struct sup *s, const struct process_model *pm,
			uint64_t now)
{
	size_t cap = 64 + 60 * (size_t)pm->n_threads, len = 0;
	pid_t *tids = xmalloc((pm->n_threads + 1) * sizeof(*tids));
	char *sig = xmalloc(cap);
	/* the full view is of every process: who may end a parked wait is
	 * what it must find out, and any process of the program may */
	struct deadlock d = { .kind = DEADLOCK_ALL_BLOCKED, .tids = tids };
	int parked = 0;
	bool say;

	sig[0] = '\0';
	for (int i = 0; i < pm->n_threads; i++) {
		const struct thread_model *t = &pm->threads[i];

		tids[d.n_tids++] = t->tid;
		if (t->state != THREAD_WAITING || !t->wait.parked ||
		    t->wait.timed || !s->have_prev ||
		    !watch_thread_still(t, &s->prev))
			continue;
		parked++;
		len += snprintf(sig + len, cap - len, "%d:%llx:%llx ",
				(int)t->tid, (unsigned long long)t->wait.id,
				(unsigned long long)t->wait_serial);
	}
	if (!parked) {
		free(s->parked);
		s->parked = NULL;
		goto out;
	}
	if (!s->parked || strcmp(sig, s->parked)) {
		free(s->parked);
		s->parked = xstrdup(sig);
		s->parked_since = now;
		s->parked_gap = (uint64_t)s->o->potential_after_ms * 1000000u /
				PARKED_FIRST_SHARE;
		if (s->parked_gap < (uint64_t)PARKED_FIRST_MS * 1000000u)
			s->parked_gap = (uint64_t)PARKED_FIRST_MS * 1000000u;
		s->parked_next = now + s->parked_gap;
		goto out;
	}
	say = now - s->parked_since >=
	      (uint64_t)s->o->potential_after_ms * 1000000u &&
	      (!s->parked_said || strcmp(sig, s->parked_said));
	if (now < s->parked_next && !say)
		goto out;
	if (say) {
		free(s->parked_said);
		s->parked_said = xstrdup(sig);
	}
	s->parked_gap *= 2;
	if (s->parked_gap > (uint64_t)PARKED_MAX_MS * 1000000u)
		s->parked_gap = (uint64_t)PARKED_MAX_MS * 1000000u;
	s->parked_next = now + s->parked_gap;
	debug_msg("look: %d parked waits still: the full view", parked);
	act(s, pm, &d, say);
out:
	free(sig);
	free(tids);
}

/* The child: the program, with the signals as run found them. */
static void exec_program(const struct run_options *o, const sigset_t *mask,
			 const struct sigaction *pipe_action)
{
	/* the program does not outlive run, even if run is SIGKILLed */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(127);	/* run died before the line above */
	sigaction(SIGPIPE, pipe_action, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(o->argv[0], o->argv);
	error_msg("run: cannot run '%s': %s", o->argv[0], strerror(errno));
	_exit(127);
}

static int exit_status(const struct sup *s)
{
	if (s->ending)
		return s->ending;
	if (WIFSIGNALED(s->child_status))
		return 128 + WTERMSIG(s->child_status);
	return WEXITSTATUS(s->child_status);
}

int supervise(const struct run_options *o)
{
	struct sup s = { .o = o, .sigfd = -1, .ending_fd = o->ending_fd };
	struct sigaction ignore = { .sa_handler = SIG_IGN }, pipe_action;
	sigset_t set, old;

	s.orders.fd = -1;
	if ((o->lock_order || o->profile) && records_open(&s.orders) < 0)
		return EXIT_USAGE;
	if (prepare_environment(o, s.orders.fd) < 0)
		return EXIT_USAGE;
	report_text_style(report_colour_for(2), o->quiet);	/* reports: stderr */
	if (o->json)
		unlink(o->json);	/* present afterwards only if something was found */
	if (o->graph)
		unlink(o->graph);
	/* a reader of our stderr gone (run ... | head) must not kill run:
	 * the program would lose its supervisor and its children their end */
	sigaction(SIGPIPE, &ignore, &pipe_action);
	supervisor_sigset(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	s.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.sigfd < 0) {
		perror_msg("run: signalfd");
		return EXIT_USAGE;
	}
	/* orphans of the program become ours: reaped, and ended with it */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	s.child = fork();
	if (s.child < 0) {
		perror_msg("run: fork");
		return EXIT_USAGE;
	}
	if (s.child == 0)
		exec_program(o, &old, &pipe_action);
	watch_init(&s.watch, s.child);
	symbolizer_keep(true);	/* the same processes are looked at again and again */
	s.next_look = now_ns() + (uint64_t)LOOK_MIN_MS * 1000000u;
	while (!s.child_done) {
		struct pollfd pfd = { s.sigfd, POLLIN, 0 };
		struct signalfd_siginfo si;
		uint64_t now = now_ns(), wake = s.next_look;
		int timeout;

		/* ending: no more looks, only the deadlines */
		if (s.ending)
			wake = now + (uint64_t)LOOK_MIN_MS * 1000000u;
		if (s.term_deadline && s.term_deadline < wake)
			wake = s.term_deadline;
		if (s.ending_deadline && s.ending_deadline < wake)
			wake = s.ending_deadline;
		timeout = wake > now ? (int)((wake - now) / 1000000u) + 1 : 0;
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
			break;
		while (read(s.sigfd, &si, sizeof(si)) == sizeof(si))
			on_signal(&s, &si);
		if (snapshot_exited_pid == s.child)
			reap(&s);	/* a snapshot took its end: SIGCHLD was read */
		now = now_ns();
		if (s.term_deadline && now >= s.term_deadline && !s.child_done) {
			error_msg("ending the program: it did not end %d s after it was asked to",
				  RUN_TERM_GRACE_MS / 1000);
			s.term_deadline = 0;
			kill_tree();
		}
		if (s.ending_deadline && now >= s.ending_deadline && !s.child_done) {
			error_msg("ending the program: it did not end %d s after it was told",
				  RUN_ENDING_GRACE_MS / 1000);
			s.ending_deadline = 0;
			kill_tree();
		}
		if (!s.child_done && !s.ending && now >= s.next_look) {
			bool again = look(&s);
			uint64_t gap = s.look_cost * LOOK_COST_SHARE;

			if (gap < (uint64_t)LOOK_MIN_MS * 1000000u)
				gap = (uint64_t)LOOK_MIN_MS * 1000000u;
			/* a deadlock seen that may be forming: still there? */
			if (s.nudged > 0) {
				s.nudged--;
				gap = (uint64_t)NUDGE_GAP_US * 1000u;
			} else if (again) {
				/* seen at the end of a nudge's looks (the shim
				 * asked as the cycle's first wait began): the
				 * nudge's pace still */
				gap = now_ns() - s.nudged_at < (uint64_t)LOOK_CONFIRM_MS * 1000000u
				      ? (uint64_t)NUDGE_GAP_US * 1000u
				      : (uint64_t)LOOK_CONFIRM_MS * 1000000u;
			}
			s.next_look = now_ns() + gap;
		}
	}
	if (s.ending)
		kill_tree();
	reap(&s);
	say_breaks(&s);
	if (o->lock_order || o->profile) {
		records_collect(&s.orders);
		if (s.orders.more)
			error_msg("%d more loops of lock orders not shown",
				  s.orders.more);
		if (o->json)
			records_json(&s.orders, o->json, s.child);
		if (o->profile_svg)
			records_svg(&s.orders, o->profile_svg);
	}
	watch_fini(&s.watch);
	symbolizer_keep(false);
	if (s.have_prev)
		model_free(&s.prev);
	free(s.acted);
	free(s.parked);
	free(s.parked_said);
	close(s.sigfd);
	{
		int status = exit_status(&s);

		/* a program that ended well, with loops of lock orders */
		if (status == 0 && s.orders.n)
			status = EXIT_LOCK_ORDER;
		records_close(&s.orders);
		return status;
	}
}
