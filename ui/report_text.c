#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui/report.h"

static bool style_colour, style_quiet;

void report_text_style(bool colour, bool quiet)
{
	style_colour = colour;
	style_quiet = quiet;
}

bool report_colour_for(int fd)
{
	const char *term = getenv("TERM");

	return isatty(fd) && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
}

/* An ANSI colour around what follows, when colour is on; "" otherwise. */
#define COLOUR(code) (style_colour ? "\033[" code "m" : "")
#define RED COLOUR("1;31")
#define YELLOW COLOUR("1;33")
#define GREEN COLOUR("32")
#define BOLD COLOUR("1")
#define PLAIN COLOUR("0")

static const char *or_unknown(const char *s)
{
	return s ? s : "??";
}

static void print_site(FILE *out, const struct site *s)
{
	if (s->file && s->line)
		fprintf(out, "%s:%d", s->file, s->line);
	else if (s->file)
		fprintf(out, "%s", s->file);
	else
		fprintf(out, "an unknown line");
	if (s->function)
		fprintf(out, " in %s", s->function);
}

static void print_thread_ref(FILE *out, const struct process_model *pm,
			     pid_t tid)
{
	const struct thread_model *t = model_thread((struct process_model *)pm, tid);

	if (t && t->pid != pm->pid)
		fprintf(out, "thread %d \"%s\" of process %d", tid, t->name, t->pid);
	else if (t)
		fprintf(out, "thread %d \"%s\"", tid, t->name);
	else
		fprintf(out, "thread %d (not a thread of this process)", tid);
}

/* "process 12 (python3)" */
static void print_process_ref(FILE *out, const struct process_model *pm,
			      pid_t pid)
{
	const struct process_info *p = model_process((struct process_model *)pm, pid);

	fprintf(out, "process %d", pid);
	if (p && p->comm)
		fprintf(out, " (%s)", p->comm);
}

void report_wait_object(FILE *out, const struct wait_info *w)
{
	if (w->kind == WAIT_PIPE)
		fprintf(out, "pipe:[%" PRIu64 "]", w->id);
	else if (w->kind == WAIT_GIL)
		fprintf(out, "the GIL");
	else if (w->kind == WAIT_CHILD && w->id)
		fprintf(out, "the end of child process %" PRIu64, w->id);
	else if (w->kind == WAIT_CHILD)
		fprintf(out, "the end of a child process");
	else
		fprintf(out, "%s 0x%" PRIx64, wait_kind_name(w->kind), w->id);
	if (w->pytype)
		fprintf(out, " (%s)", w->pytype);
	if (w->timed)
		fprintf(out, " with a timeout");
}

/* "mutex 0x55d0 (_thread.lock) held by thread 12 "beta"" */
static void print_wait(FILE *out, const struct process_model *pm,
		       const struct wait_info *w)
{
	report_wait_object(out, w);
	if (w->n_owners) {
		fprintf(out, w->kind == WAIT_JOIN ? ", the exit of " : " held by ");
		for (int k = 0; k < w->n_owners; k++) {
			if (k)
				fprintf(out, ", ");
			print_thread_ref(out, pm, w->owner_tids[k]);
		}
	} else if (w->owner_why && w->kind != WAIT_PIPE && w->kind != WAIT_CHILD) {
		fprintf(out, ", owner unknown: %s", w->owner_why);
	}
}

/* Who alone could end the wait of t, as the verdict saw it. */
static void print_enders(FILE *out, const struct process_model *pm,
			 const struct thread_model *t)
{
	const struct wait_info *w = &t->wait;

	if (w->owned && w->orphaned)
		fprintf(out, "      nobody can end it: its owner %s\n",
			w->n_owners ? "does not exist in this process"
				    : "is gone");
	else if (w->owned && w->n_owners)
		fprintf(out, "      only %s can end it\n",
			w->kind == WAIT_JOIN ? "the exit of that thread"
					     : "its holder, by releasing it,");
	else if (w->n_wakers) {
		fprintf(out, "      only these could end it: ");
		for (int k = 0; k < w->n_wakers; k++) {
			if (k)
				fprintf(out, ", ");
			if (w->wakers[k].tid)
				print_thread_ref(out, pm, w->wakers[k].tid);
			else
				print_process_ref(out, pm, w->wakers[k].pid);
		}
		fputc('\n', out);
	} else {
		fprintf(out, "      any thread of ");
		print_process_ref(out, pm, t->pid);
		fprintf(out, " could end it%s\n",
			w->n_owners ? " (any thread may release a Lock, not only its holder)"
				    : "");
	}
	if (w->external)
		fprintf(out, "      from outside: %s\n", w->external);
	if (w->note)
		fprintf(out, "      note: %s\n", w->note);
}

static void print_frame(FILE *out, int i, const struct frame *f)
{
	if (f->python) {
		fprintf(out, "    #%-3d py  %s (%s:%d)\n", i,
			or_unknown(f->function), or_unknown(f->file), f->line);
		return;
	}
	if (f->inlined)
		fprintf(out, "    #%-3d %-18s %s", i, "(inlined)",
			or_unknown(f->function));
	else
		fprintf(out, "    #%-3d 0x%016" PRIx64 " %s", i, f->pc,
			or_unknown(f->function));
	if (f->file && f->line)
		fprintf(out, " at %s:%d", f->file, f->line);
	if (f->module)
		fprintf(out, " (%s)", f->module);
	fputc('\n', out);
}

#define RUNNING_NAMED 8	/* running threads named on the Python line */

/*
 * The Python line.  A free-threaded build says whether it has a GIL: with
 * none, threads run Python at the same moment, and those that were
 * running when the process was stopped are named.
 */
static void print_python(FILE *out, const struct process_model *pm)
{
	int running = 0;

	fprintf(out, "Python %s", pm->python_version);
	if (pm->python_build == PYTHON_FREE_GIL)
		fprintf(out, " (free-threaded, with its GIL enabled at run time)");
	if (pm->python_build != PYTHON_FREE_NO_GIL) {
		fputc('\n', out);
		return;
	}
	fprintf(out, " (free-threaded: no GIL, threads run Python at the same time");
	for (int i = 0; i < pm->n_threads; i++) {
		const struct thread_model *t = &pm->threads[i];

		if (t->pid != pm->pid || t->state != THREAD_RUNNING)
			continue;
		if (running < RUNNING_NAMED)
			fprintf(out, "%s %d \"%s\"", running ? "," :
				"; running when stopped:", t->tid,
				t->name ? t->name : "");
		running++;
	}
	if (running > RUNNING_NAMED)
		fprintf(out, " and %d more", running - RUNNING_NAMED);
	else if (!running)
		fprintf(out, "; none running when stopped");
	fprintf(out, ")\n");
}

static void print_thread(FILE *out, const struct process_model *pm,
			 const struct thread_model *t)
{
	fprintf(out, "%sThread %d \"%s\"%s", BOLD, t->tid, t->name ? t->name : "",
		PLAIN);
	if (t->comm && t->name && strcmp(t->comm, t->name))
		fprintf(out, " [%s]", t->comm);
	if (pm->n_procs > 1)
		fprintf(out, " (process %d)", t->pid);
	fprintf(out, ": %s", thread_state_name(t->state));
	if (t->job_stopped)
		fprintf(out, " (job-stopped)");
	if (t->wait.kind != WAIT_NONE) {
		fprintf(out, " for ");
		print_wait(out, pm, &t->wait);
	}
	if (t->holds_gil)
		fprintf(out, "; holds the GIL");
	if (t->wait.detail)
		fprintf(out, " [%s]", t->wait.detail);
	else if (t->state_detail)
		fprintf(out, " [%s]", t->state_detail);
	fputc('\n', out);
	if (t->last_cpu >= 0) {
		fprintf(out, "    %.3f s of CPU, last on CPU %d", t->cpu_ns / 1e9,
			t->last_cpu);
		if (t->affinity)
			fprintf(out, ", may run on CPUs %s only", t->affinity);
		fputc('\n', out);
	}
	for (int i = 0; i < t->n_frames; i++)
		print_frame(out, i, &t->frames[i]);
	if (t->frames_why)
		fprintf(out, "    (stack incomplete: %s)\n", t->frames_why);
	else if (!t->n_frames)
		fprintf(out, "    (no frames)\n");
}

static void print_deadlock_thread(FILE *out, const struct process_model *pm,
				  pid_t tid)
{
	const struct thread_model *t = NULL;

	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].tid == tid)
			t = &pm->threads[i];
	if (!t)
		return;
	fprintf(out, "  ");
	print_thread_ref(out, pm, tid);
	fprintf(out, " waits for ");
	print_wait(out, pm, &t->wait);
	fprintf(out, "\n      waiting at ");
	print_site(out, &t->wait.site);
	fputc('\n', out);
	print_enders(out, pm, t);
	for (int h = 0; h < t->n_holds; h++) {
		const struct held *held = &t->holds[h];

		fprintf(out, "      holds %s 0x%" PRIx64 ", acquired at ",
			wait_kind_name(held->kind), held->id);
		if (held->site.file || held->site.function)
			print_site(out, &held->site);
		else if (pm->from_registry)
			fprintf(out, "a place the shim did not see (taken around it, through ctypes or a static call)");
		else
			fprintf(out, "a place attach cannot see ('pydeadlock run' records it)");
		fputc('\n', out);
	}
}

static void print_deadlocks(FILE *out, const struct process_model *pm,
			    const struct deadlock *list, int n, bool potential)
{
	for (int d = 0; d < n; d++) {
		const struct deadlock *dl = &list[d];

		if (potential)
			fprintf(out, "\n%sPotential deadlock %d: %s of %d thread%s%s, unless: %s\n",
				YELLOW, d + 1, deadlock_kind_name(dl->kind),
				dl->n_tids, dl->n_tids == 1 ? "" : "s", PLAIN,
				dl->why ? dl->why : "something outside ends it");
		else
			fprintf(out, "\n%sDeadlock %d: %s of %d thread%s:%s\n", RED,
				d + 1, deadlock_kind_name(dl->kind), dl->n_tids,
				dl->n_tids == 1 ? "" : "s", PLAIN);
		for (int k = 0; k < dl->n_tids; k++)
			print_deadlock_thread(out, pm, dl->tids[k]);
	}
}

void report_text(FILE *out, const struct process_model *pm)
{
	const char *comm = pm->comm ? pm->comm : "?";

	if (pm->n_deadlocks) {
		const struct deadlock *d = &pm->deadlocks[0];

		fprintf(out, "%spydeadlock: deadlock in process %d (%s): ", RED,
			pm->pid, comm);
		if (pm->n_procs > 1)
			fprintf(out, "(a program of %d processes) ", pm->n_procs);
		if (pm->n_deadlocks > 1)
			fprintf(out, "%d deadlocks%s\n", pm->n_deadlocks, PLAIN);
		else
			fprintf(out, "%s of %d thread%s%s\n", deadlock_kind_name(d->kind),
				d->n_tids, d->n_tids == 1 ? "" : "s", PLAIN);
	} else if (pm->n_potential) {
		fprintf(out, "%spydeadlock: no certain deadlock in process %d (%s), %d potential%s\n",
			YELLOW, pm->pid, comm, pm->n_potential, PLAIN);
	} else {
		fprintf(out, "%spydeadlock: no deadlock in process %d (%s), %d thread%s%s\n",
			GREEN, pm->pid, comm, pm->n_threads,
			pm->n_threads == 1 ? "" : "s", PLAIN);
	}
	if (pm->core)
		fprintf(out, "From core file %s (%s): the process as it was dumped\n",
			pm->core, pm->exe && *pm->exe ? pm->exe : "?");
	if (pm->python_version)
		print_python(out, pm);
	else if (pm->python_why)
		fprintf(out, "Python: %s\n", pm->python_why);
	print_deadlocks(out, pm, pm->deadlocks, pm->n_deadlocks, false);
	print_deadlocks(out, pm, pm->potential, pm->n_potential, true);
	fprintf(out, "\n");
	if (style_quiet)
		return;
	for (int i = 0; i < pm->n_threads; i++) {
		print_thread(out, pm, &pm->threads[i]);
		fputc('\n', out);
	}
}
