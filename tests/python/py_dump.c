/*
 * py_dump PID: prints what tracer/python reads from a live Python
 * process, for tests/python/run-py-dump.sh.  No ptrace: the process is
 * held with SIGSTOP around the capture (--no-stop reads it running).
 * For each thread blocked in futex(2) (seen in /proc/PID/task/TID/
 * syscall before the stop) it also asks py_find_lock() for the lock,
 * and for each thread py_join_target() for the thread it joins.
 *
 * For every thread it also prints the locks its `with` blocks hold
 * (py_with_held) and the module lock it waits for
 * (py_module_lock_wait); once, the module locks owned (py_module_locks)
 * and the signals with a Python handler (py_signal_handlers).
 *
 * Output, one item a line:
 *   python 3.11.7
 *   gil locked=1 holder=0x... free_threaded=0|1 disabled=0|1
 *   signals custom=0x... | signals unknown
 *   thread tid=N ident=0x... tstate=0x... name=NAME gil=0|1 frames=N
 *          [truncated=WHY]
 *   frame FILE:LINE FUNCTION [entry]
 *   lock tid=N type=_thread.RLock object=0x... owner=0x... count=N
 *        native=0x... known=0|1 found=WHERE shared=0|1 signal=0|1
 *        maxvalue=N kind=N
 *   held tid=N type=TYPE object=0x... native=0x... via=0x... via_type=T
 *        frame=I line=N from=with|frame shared=0|1
 *   modowned owner=0x... module=NAME count=N object=0x... | modules unknown
 *   modwait tid=N owner=0x... module=NAME
 *   join tid=N target=0x...	(the joined thread's ident)
 *   time capture_us=N dump_us=N
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "tracer/attach/procfs.h"
#include "tracer/python/py_reader.h"

#define DUMP_MAX_TIDS 8192	/* threads whose futex we note */
#define DUMP_MAX_HELD 64	/* with-held locks printed per thread */
#define DUMP_MAX_MODULES 64	/* module locks printed per thread */
#define SYS_FUTEX 202		/* x86_64 */

struct futex_wait {
	pid_t tid;
	uint64_t addr;
};

/* Notes each thread of pid that sits in futex(2), and the futex word. */
static int futex_waits(pid_t pid, struct futex_wait *out, int max)
{
	pid_t *tids;
	int n = procfs_tasks(pid, &tids), k = 0;

	for (int i = 0; i < n && k < max; i++) {
		char *text = procfs_read("/proc/%d/task/%d/syscall", pid,
					 tids[i]);
		long nr;
		unsigned long long addr;

		if (text && sscanf(text, "%ld %llx", &nr, &addr) == 2 &&
		    nr == SYS_FUTEX) {
			out[k].tid = tids[i];
			out[k++].addr = addr;
		}
		free(text);
	}
	free(n > 0 ? tids : NULL);
	return k;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void dump_lock(const struct py_thread *t, const struct py_lock_info *lk)
{
	printf("lock tid=%d type=%s object=%#" PRIx64 " owner=%#" PRIx64
	       " count=%" PRIu64 " native=%#" PRIx64 " known=%d found=%s"
	       " shared=%d signal=%d maxvalue=%d kind=%d\n", t->native_tid,
	       lk->type, lk->object, lk->owner_ident, lk->count, lk->native,
	       lk->owner_known, lk->found, lk->process_shared, lk->signal,
	       lk->maxvalue, lk->semlock_kind);
}

static void dump_held(struct py_locator *loc, const struct py_thread *t)
{
	struct py_held_lock held[DUMP_MAX_HELD];
	int n = py_with_held(loc, t, held, DUMP_MAX_HELD);

	if (n < 0)
		printf("held tid=%d unreadable\n", t->native_tid);
	for (int i = 0; i < n; i++)
		printf("held tid=%d type=%s object=%#" PRIx64 " native=%#"
		       PRIx64 " via=%#" PRIx64 " via_type=%s frame=%d line=%d"
		       " from=%s shared=%d\n", t->native_tid, held[i].type,
		       held[i].object, held[i].native, held[i].via,
		       held[i].via_type[0] ? held[i].via_type : "-",
		       held[i].frame, held[i].line,
		       held[i].line_is_frame ? "frame" : "with",
		       held[i].process_shared);
}

static void dump_module_wait(struct py_locator *loc, const struct py_thread *t)
{
	uint64_t owner;
	char *module;

	if (!py_module_lock_wait(loc, t, &owner, &module)) {
		printf("modwait tid=%d owner=%#" PRIx64 " module=%s\n",
		       t->native_tid, owner, module);
		free(module);
	}
}

static void dump_modules(struct py_locator *loc, const struct py_process *p)
{
	struct py_module_lock owned[DUMP_MAX_MODULES];
	int n = py_module_locks(loc, p, owned, DUMP_MAX_MODULES);

	if (n < 0)
		printf("modules unknown\n");
	for (int i = 0; i < n; i++) {
		printf("modowned owner=%#" PRIx64 " module=%s count=%" PRIu64
		       " object=%#" PRIx64 "\n", owned[i].owner_ident,
		       owned[i].module ? owned[i].module : "?",
		       owned[i].count, owned[i].object);
		free(owned[i].module);
	}
}

static void dump(struct py_locator *loc, const struct py_process *p,
		 const struct futex_wait *w, int n_w, bool all_frames)
{
	uint64_t custom;

	printf("python %s\n", p->version);
	printf("gil locked=%d holder=%#" PRIx64 " free_threaded=%d disabled=%d\n",
	       p->gil_locked, p->gil_holder_tstate, p->free_threaded,
	       p->gil_disabled);
	if (py_signal_handlers(loc, &custom))
		printf("signals unknown\n");
	else
		printf("signals custom=%#" PRIx64 "\n", custom);
	dump_modules(loc, p);
	for (int i = 0; i < p->n_threads; i++) {
		const struct py_thread *t = &p->threads[i];
		struct py_lock_info lk;
		uint64_t joined;

		printf("thread tid=%d ident=%#" PRIx64 " tstate=%#" PRIx64
		       " name=%s gil=%d frames=%d", t->native_tid, t->ident,
		       t->tstate,
		       t->name ? t->name : "(none)", t->holds_gil, t->n_frames);
		if (t->truncated)
			printf(" truncated=%s", t->why);
		printf("\n");
		for (int j = 0; j < t->n_frames; j++) {
			const struct py_frame *f = &t->frames[j];

			if (!all_frames && j >= 8 && j < t->n_frames - 4)
				continue;
			printf("frame %s:%d %s%s\n", f->file, f->line,
			       f->function, f->entry ? " entry" : "");
		}
		for (int j = 0; j < n_w; j++) {
			if (w[j].tid != t->native_tid)
				continue;
			if (py_find_lock(loc, t, w[j].addr, &lk))
				printf("lock tid=%d none futex=%#" PRIx64 "\n",
				       t->native_tid, w[j].addr);
			else
				dump_lock(t, &lk);
		}
		dump_held(loc, t);
		dump_module_wait(loc, t);
		if (!py_join_target(loc, t, &joined))
			printf("join tid=%d target=%#" PRIx64 "\n",
			       t->native_tid, joined);
	}
}

int main(int argc, char **argv)
{
	static struct futex_wait waits[DUMP_MAX_TIDS];
	bool stop = true, all_frames = false;
	struct py_locator *loc;
	struct py_process p;
	struct maps maps;
	double t0, t1, best = 1e18;
	int repeat = 1, n_w, rc = 0, argi = 1;
	char *why = NULL;
	pid_t pid;

	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--no-stop"))
			stop = false;
		else if (!strcmp(argv[argi], "--all-frames"))
			all_frames = true;
		else if (!strncmp(argv[argi], "--repeat=", 9))
			repeat = atoi(argv[argi] + 9);
		else if (!strcmp(argv[argi], "--debug"))
			debug_enabled = true;
	}
	if (argi != argc - 1)
		error_msg_and_die("usage: py_dump [--no-stop] [--all-frames] "
				  "[--repeat=N] [--debug] PID");
	pid = atoi(argv[argi]);
	if (procfs_maps(pid, &maps) < 0)
		error_msg_and_die("cannot read maps of %d", pid);
	loc = py_locate(pid, &maps, &why);
	maps_free(&maps);
	if (!loc) {
		printf("unsupported %s\n", why ? why : "not a Python process");
		free(why);
		return 1;
	}
	n_w = futex_waits(pid, waits, DUMP_MAX_TIDS);
	if (stop)
		kill(pid, SIGSTOP);
	for (int i = 0; i < repeat; i++) {
		if (i)
			py_process_free(&p);
		t0 = now_us();
		rc = py_capture(loc, &p, &why);
		t1 = now_us();
		if (t1 - t0 < best)
			best = t1 - t0;
		if (rc)
			break;
	}
	if (!rc) {
		t0 = now_us();
		dump(loc, &p, waits, n_w, all_frames);
		t1 = now_us();
	}
	if (stop)
		kill(pid, SIGCONT);
	if (rc) {
		printf("error %s\n", why);
		free(why);
	} else {
		/* dump: the lock, with, module, join and signal reads too */
		printf("time capture_us=%.0f dump_us=%.0f\n", best, t1 - t0);
		py_process_free(&p);
	}
	py_locator_free(loc);
	return rc ? 1 : 0;
}
