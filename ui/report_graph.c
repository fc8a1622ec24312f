/*
 * The wait-for graph as a picture: Graphviz's DOT language, written
 * as is (FILE.dot, FILE.gv) or given to Graphviz's `dot` for the other
 * formats (FILE.svg, .png, .pdf).
 *
 * Threads are nodes (name, TID, the line they wait at); a wait whose
 * owners are known is an edge to each owner, labelled with the object
 * and where the owner took it; a wait with no known owner is an edge to
 * a box for the object.  A deadlock's threads and edges are red (orange
 * for a potential one), the rest is grey.  One cluster per process when
 * the program has several.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/write_all.h"
#include "ui/report.h"

extern char **environ;

#define DRAW_ALL_MAX 64		/* more threads: only those waiting or waited for */
#define ENV_MAX 1024

#define RED "#d62728"
#define ORANGE "#e07b00"
#define GREY "#a0a0a0"
#define GREY_TEXT "#808080"

/* The format the file's name asks for: "dot", "svg", ..., or NULL. */
static const char *graph_format(const char *path)
{
	static const char *const formats[] = { "dot", "gv", "svg", "png", "pdf" };
	const char *dot = strrchr(path, '.');

	if (!dot || strchr(dot, '/'))
		return NULL;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(dot + 1, formats[i]))
			return formats[i];
	return NULL;
}

static bool needs_dot(const char *format)
{
	return strcmp(format, "dot") && strcmp(format, "gv");
}

/* Graphviz's `dot` on PATH, into buf; false when there is none. */
static bool find_dot(char *buf, size_t size)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		struct stat st;

		if (len && (size_t)snprintf(buf, size, "%.*s/dot", (int)len, path) < size &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

int report_graph_check(const char *path, char *err, size_t size)
{
	const char *format = graph_format(path);
	char dot[4096];

	if (!format) {
		snprintf(err, size, "--graph wants a file ending in .svg, .png, .pdf, .dot or .gv, not '%s'",
			 path);
		return -1;
	}
	if (needs_dot(format) && !find_dot(dot, sizeof(dot))) {
		snprintf(err, size, "--graph=%s needs Graphviz's 'dot', not found on PATH (apt-get install graphviz), or ask for a .dot file",
			 path);
		return -1;
	}
	return 0;
}

/* s as a DOT string's contents: quotes and backslashes escaped, no
 * control characters (a thread may name itself anything). */
static void dot_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fputc('\\', out);
		fputc(c < 0x20 ? '?' : c, out);
	}
}

static void dot_site(FILE *out, const struct site *s)
{
	if (!s->file) {
		fputs("an unknown line", out);
		return;
	}
	/* the file's name only: the picture is read at a glance, the text
	 * report has the path */
	dot_text(out, strrchr(s->file, '/') ? strrchr(s->file, '/') + 1 : s->file);
	if (s->line)
		fprintf(out, ":%d", s->line);
	if (s->function) {
		fputs(" in ", out);
		dot_text(out, s->function);
	}
}

/* Where t waits: the wait's own line, else its innermost Python frame. */
static void dot_wait_site(FILE *out, const struct thread_model *t)
{
	if (t->wait.site.file) {
		dot_site(out, &t->wait.site);
		return;
	}
	for (int i = 0; i < t->n_frames; i++) {
		const struct frame *f = &t->frames[i];

		if (f->python && f->file) {
			struct site s = { f->file, f->line, f->function };

			dot_site(out, &s);
			return;
		}
	}
	dot_site(out, &t->wait.site);
}

/* report_wait_object's words, as DOT text */
static void dot_object(FILE *out, const struct wait_info *w)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem)
		return;
	report_wait_object(mem, w);
	fclose(mem);
	dot_text(out, text);
	free(text);
}

/* The hold of owner that w waits for, or NULL. */
static const struct held *held_for(const struct thread_model *owner,
				   const struct wait_info *w)
{
	for (int h = 0; owner && h < owner->n_holds; h++) {
		const struct held *held = &owner->holds[h];

		if (held->id == w->id ||
		    (w->sync_addr && held->native == w->sync_addr))
			return held;
	}
	return NULL;
}

/* How a thread or an edge is drawn: by the deadlock it is part of. */
enum mark { MARK_NONE, MARK_POTENTIAL, MARK_CERTAIN };

static enum mark thread_mark(const struct process_model *pm, pid_t tid)
{
	for (int d = 0; d < pm->n_deadlocks; d++)
		for (int k = 0; k < pm->deadlocks[d].n_tids; k++)
			if (pm->deadlocks[d].tids[k] == tid)
				return MARK_CERTAIN;
	for (int d = 0; d < pm->n_potential; d++)
		for (int k = 0; k < pm->potential[d].n_tids; k++)
			if (pm->potential[d].tids[k] == tid)
				return MARK_POTENTIAL;
	return MARK_NONE;
}

static const char *mark_colour(enum mark m)
{
	return m == MARK_CERTAIN ? RED : m == MARK_POTENTIAL ? ORANGE : GREY;
}

/* Is the edge from -> to one of a cycle's, in a deadlock of the list? */
static bool cycle_edge(const struct deadlock *list, int n, pid_t from, pid_t to)
{
	for (int d = 0; d < n; d++) {
		const struct deadlock *dl = &list[d];

		if (dl->kind != DEADLOCK_CYCLE)
			continue;
		for (int k = 0; k < dl->n_tids; k++)
			if (dl->tids[k] == from &&
			    dl->tids[(k + 1) % dl->n_tids] == to)
				return true;
	}
	return false;
}

static enum mark edge_mark(const struct process_model *pm, pid_t from,
			   pid_t to)
{
	if (cycle_edge(pm->deadlocks, pm->n_deadlocks, from, to))
		return MARK_CERTAIN;
	if (cycle_edge(pm->potential, pm->n_potential, from, to))
		return MARK_POTENTIAL;
	/* all-blocked: an edge between two of the same deadlock's threads */
	enum mark a = thread_mark(pm, from), b = thread_mark(pm, to);

	return a < b ? a : b;
}

/* Does any thread wait for something t holds (or for t's exit)? */
static bool waited_for(const struct process_model *pm, pid_t tid)
{
	for (int i = 0; i < pm->n_threads; i++)
		for (int k = 0; k < pm->threads[i].wait.n_owners; k++)
			if (pm->threads[i].wait.owner_tids[k] == tid)
				return true;
	return false;
}

static bool drawn(const struct process_model *pm, const struct thread_model *t)
{
	return pm->n_threads <= DRAW_ALL_MAX || t->wait.kind != WAIT_NONE ||
	       thread_mark(pm, t->tid) != MARK_NONE || waited_for(pm, t->tid);
}

/* The first thread of process pid that is drawn, or NULL. */
static const struct thread_model *first_drawn(const struct process_model *pm,
					      pid_t pid)
{
	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].pid == pid && drawn(pm, &pm->threads[i]))
			return &pm->threads[i];
	return NULL;
}

static void dot_thread(FILE *out, const struct process_model *pm,
		       const struct thread_model *t)
{
	enum mark m = thread_mark(pm, t->tid);

	fprintf(out, "    t%d [label=\"", t->tid);
	dot_text(out, t->name ? t->name : "?");
	fprintf(out, "\\nthread %d", t->tid);
	if (t->wait.kind != WAIT_NONE) {
		fputs("\\nwaits at ", out);
		dot_wait_site(out, t);
	} else {
		fprintf(out, "\\n%s", thread_state_name(t->state));
	}
	if (t->holds_gil)
		fputs("\\nholds the GIL", out);
	fprintf(out, "\", color=\"%s\", fontcolor=\"%s\"%s];\n", mark_colour(m),
		m == MARK_NONE ? GREY_TEXT : "black",
		m == MARK_CERTAIN ? ", penwidth=2.5" : "");
}

/* The edges of t's wait: to each owner, or to a box for the object. */
static void dot_wait_edges(FILE *out, const struct process_model *pm,
			   const struct thread_model *t)
{
	const struct wait_info *w = &t->wait;

	if (w->kind == WAIT_NONE)
		return;
	for (int k = 0; k < w->n_owners; k++) {
		const struct thread_model *o =
			model_thread((struct process_model *)pm, w->owner_tids[k]);
		const struct held *held = held_for(o, w);
		enum mark m = edge_mark(pm, t->tid, w->owner_tids[k]);

		if (!o || !drawn(pm, o))
			continue;
		fprintf(out, "  t%d -> t%d [label=\"", t->tid, o->tid);
		if (w->kind == WAIT_JOIN)
			fputs("join: its exit", out);
		else
			dot_object(out, w);
		if (held && held->site.file) {
			fputs("\\ntaken at ", out);
			dot_site(out, &held->site);
		}
		fprintf(out, "\", color=\"%s\", fontcolor=\"%s\"%s];\n",
			mark_colour(m), m == MARK_NONE ? GREY_TEXT : "black",
			m == MARK_CERTAIN ? ", penwidth=2.5" : "");
	}
	if (w->n_owners)
		return;
	/* no owner known: the object itself, and who could end the wait */
	enum mark m = thread_mark(pm, t->tid);

	fprintf(out, "  o%d [shape=box, style=rounded, label=\"", t->tid);
	dot_object(out, w);
	if (w->owner_why && w->kind != WAIT_PIPE && w->kind != WAIT_CHILD) {
		fputs("\\nowner unknown: ", out);
		dot_text(out, w->owner_why);
	}
	if (w->external) {
		fputs("\\nfrom outside: ", out);
		dot_text(out, w->external);
	}
	fprintf(out, "\", color=\"%s\", fontcolor=\"%s\"];\n", mark_colour(m),
		m == MARK_NONE ? GREY_TEXT : "black");
	fprintf(out, "  t%d -> o%d [color=\"%s\"];\n", t->tid, t->tid,
		mark_colour(m));
	for (int k = 0; k < w->n_wakers; k++) {
		const struct waker *wk = &w->wakers[k];
		const struct thread_model *o = wk->tid ?
			model_thread((struct process_model *)pm, wk->tid) :
			pm->n_procs > 1 ? first_drawn(pm, wk->pid) : NULL;

		if (!o || !drawn(pm, o))
			continue;
		fprintf(out, "  o%d -> t%d [style=dashed, color=\"%s\", label=\"could end it\", fontcolor=\"%s\"",
			t->tid, o->tid, mark_colour(m), GREY_TEXT);
		/* any thread of a process: to its cluster */
		if (!wk->tid)
			fprintf(out, ", lhead=cluster_%d", wk->pid);
		fputs("];\n", out);
	}
}

static void dot_title(FILE *out, const struct process_model *pm, int hidden)
{
	fprintf(out, "  label=\"pydeadlock: ");
	if (pm->n_deadlocks)
		fprintf(out, "%d deadlock%s", pm->n_deadlocks,
			pm->n_deadlocks == 1 ? "" : "s");
	else if (pm->n_potential)
		fprintf(out, "no certain deadlock, %d potential", pm->n_potential);
	else
		fprintf(out, "no deadlock");
	fprintf(out, " in process %d (", pm->pid);
	dot_text(out, pm->comm ? pm->comm : "?");
	fputc(')', out);
	if (pm->python_version) {
		fputs(", Python ", out);
		dot_text(out, pm->python_version);
	}
	if (hidden)
		fprintf(out, "\\n%d threads neither waiting nor waited for are not drawn",
			hidden);
	fprintf(out, "\";\n  labelloc=t;\n  compound=true;\n");
}

void report_graph(FILE *out, const struct process_model *pm)
{
	int hidden = 0;

	for (int i = 0; i < pm->n_threads; i++)
		hidden += !drawn(pm, &pm->threads[i]);
	fprintf(out, "digraph waitfor {\n");
	dot_title(out, pm, hidden);
	fprintf(out, "  graph [fontname=\"Helvetica\"];\n  node [shape=ellipse, fontname=\"Helvetica\", fontsize=11];\n"
		     "  edge [fontname=\"Helvetica\", fontsize=9];\n");
	for (int p = 0; p < pm->n_procs; p++) {
		const struct process_info *proc = &pm->procs[p];

		/* one process: the title names it */
		fprintf(out, "  subgraph %s%d {\n", pm->n_procs > 1 ? "cluster_" : "p",
			proc->pid);
		if (pm->n_procs > 1) {
			fprintf(out, "    label=\"process %d (", proc->pid);
			dot_text(out, proc->comm ? proc->comm : "?");
			fprintf(out, ")\";\n    color=\"%s\";\n", GREY);
		}
		for (int i = 0; i < pm->n_threads; i++)
			if (pm->threads[i].pid == proc->pid &&
			    drawn(pm, &pm->threads[i]))
				dot_thread(out, pm, &pm->threads[i]);
		fprintf(out, "  }\n");
	}
	for (int i = 0; i < pm->n_threads; i++)
		if (drawn(pm, &pm->threads[i]))
			dot_wait_edges(out, pm, &pm->threads[i]);
	fprintf(out, "}\n");
}

/* The environment for dot: the run's shim and settings left out. */
static char **dot_environment(void)
{
	static char *env[ENV_MAX];
	int n = 0;

	for (char **e = environ; e && *e && n < ENV_MAX - 1; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "PYDEADLOCK_", 11))
			env[n++] = *e;
	env[n] = NULL;
	return env;
}

/* Pipe the graph into `dot -TFORMAT -o PATH`; 0, or -1 (said). */
static int render(const char *path, const char *format,
		  const struct process_model *pm)
{
	char dot[4096], tflag[16];
	char *argv[] = { "dot", tflag, "-o", (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int fds[2], status;
	char *text;
	size_t len;
	pid_t child;
	FILE *mem;

	if (!find_dot(dot, sizeof(dot))) {
		error_msg("cannot draw %s: Graphviz's 'dot' is not on PATH (apt-get install graphviz)",
			  path);
		return -1;
	}
	snprintf(tflag, sizeof(tflag), "-T%s", format);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror_msg("cannot draw %s: pipe", path);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	/* dot gets default signals, none blocked (run blocks and ignores
	 * some for itself): a Ctrl-C ends it too */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	errno = posix_spawn(&child, dot, &fa, &attr, argv, dot_environment());
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	if (errno) {
		perror_msg("cannot draw %s: %s", path, dot);
		close(fds[1]);
		return -1;
	}
	/* dot may die before reading it all: a write error, not SIGPIPE */
	text = NULL;
	mem = open_memstream(&text, &len);
	if (mem) {
		report_graph(mem, pm);
		fclose(mem);
		(void)write_all(fds[1], text, len);
		free(text);
	}
	close(fds[1]);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			perror_msg("cannot draw %s: waitpid", path);
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		error_msg("cannot draw %s: Graphviz's dot failed (status %d)", path,
			  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return -1;
	}
	return 0;
}

int report_graph_to(const char *path, const struct process_model *pm)
{
	const char *format = graph_format(path);
	FILE *f;

	if (!format) {
		error_msg("cannot draw %s: not a .svg, .png, .pdf, .dot or .gv file",
			  path);
		return -1;
	}
	if (needs_dot(format))
		return render(path, format, pm);
	f = fopen(path, "w");
	if (!f) {
		perror_msg("cannot write %s", path);
		return -1;
	}
	report_graph(f, pm);
	return fclose(f) == 0 ? 0 : -1;
}
