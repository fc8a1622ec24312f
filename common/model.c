#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/model.h"

static const char *const wait_kind_names[WAIT_KIND_COUNT] = {
	[WAIT_NONE] = "none",		[WAIT_LOCK] = "lock",
	[WAIT_RLOCK] = "rlock",		[WAIT_SEMAPHORE] = "semaphore",
	[WAIT_CONDITION] = "condition",	[WAIT_EVENT] = "event",
	[WAIT_QUEUE] = "queue",		[WAIT_JOIN] = "join",
	[WAIT_FUTURE] = "future",	[WAIT_GIL] = "gil",
	[WAIT_MUTEX] = "mutex",		[WAIT_RWLOCK] = "rwlock",
	[WAIT_COND] = "cond",		[WAIT_SEM] = "sem",
	[WAIT_FUTEX] = "futex",		[WAIT_PIPE] = "pipe",
	[WAIT_CHILD] = "child",		[WAIT_BARRIER] = "barrier",
	[WAIT_IMPORT] = "import",
};

static const char *const thread_state_names[THREAD_STATE_COUNT] = {
	[THREAD_RUNNING] = "running",	[THREAD_WAITING] = "waiting",
	[THREAD_SLEEPING] = "sleeping",	[THREAD_IO] = "io",
	[THREAD_SYSCALL] = "syscall",
	[THREAD_UNKNOWN] = "unknown",
};

const char *wait_kind_name(enum wait_kind kind)
{
	return kind < WAIT_KIND_COUNT ? wait_kind_names[kind] : "?";
}

const char *thread_state_name(enum thread_state state)
{
	return state < THREAD_STATE_COUNT ? thread_state_names[state] : "?";
}

const char *deadlock_kind_name(enum deadlock_kind kind)
{
	switch (kind) {
	case DEADLOCK_CYCLE:
		return "cycle";
	case DEADLOCK_ALL_BLOCKED:
		return "all-blocked";
	case DEADLOCK_ORPHANED:
		return "orphaned";
	}
	return "?";
}

struct thread_model *model_thread(struct process_model *pm, pid_t tid)
{
	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].tid == tid)
			return &pm->threads[i];
	return NULL;
}

struct process_info *model_process(struct process_model *pm, pid_t pid)
{
	for (int i = 0; i < pm->n_procs; i++)
		if (pm->procs[i].pid == pid)
			return &pm->procs[i];
	return NULL;
}

struct process_info *model_add_process(struct process_model *pm, pid_t pid)
{
	struct process_info *p = model_process(pm, pid);

	if (p)
		return p;
	pm->procs = xrealloc(pm->procs, pm->n_procs + 1, sizeof(*pm->procs));
	p = &pm->procs[pm->n_procs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

void wait_add_waker(struct wait_info *w, pid_t pid, pid_t tid)
{
	for (int i = 0; i < w->n_wakers; i++)
		if (w->wakers[i].pid == pid && w->wakers[i].tid == tid)
			return;
	if (w->n_wakers == WAIT_MAX_WAKERS)
		return;
	w->wakers[w->n_wakers].pid = pid;
	w->wakers[w->n_wakers++].tid = tid;
}

struct frame *model_add_frame(struct thread_model *t)
{
	struct frame *f;

	t->frames = xrealloc(t->frames, t->n_frames + 1, sizeof(*t->frames));
	f = &t->frames[t->n_frames++];
	memset(f, 0, sizeof(*f));
	return f;
}

static void site_copy(struct site *dst, const struct site *src)
{
	dst->file = src ? xstrdup(src->file) : NULL;
	dst->line = src ? src->line : 0;
	dst->function = src ? xstrdup(src->function) : NULL;
}

struct held *model_add_held(struct thread_model *t, enum wait_kind kind,
			    uint64_t id, bool owned, const struct site *site)
{
	struct held *h;

	for (int i = 0; i < t->n_holds; i++)
		if (t->holds[i].id == id || (t->holds[i].native &&
					     t->holds[i].native == id)) {
			t->holds[i].owned |= owned;
			return &t->holds[i];
		}
	t->holds = xrealloc(t->holds, t->n_holds + 1, sizeof(*t->holds));
	h = &t->holds[t->n_holds++];
	h->kind = kind;
	h->id = id;
	h->native = 0;
	h->owned = owned;
	site_copy(&h->site, site);
	return h;
}

void model_add_deadlock(struct deadlock **list, int *n,
			enum deadlock_kind kind, const pid_t *tids,
			int n_tids, bool certain, const char *why)
{
	struct deadlock *d;

	*list = xrealloc(*list, *n + 1, sizeof(**list));
	d = &(*list)[(*n)++];
	d->kind = kind;
	d->n_tids = n_tids;
	d->tids = xcalloc(n_tids, sizeof(pid_t));
	memcpy(d->tids, tids, n_tids * sizeof(pid_t));
	d->certain = certain;
	d->why = why;
}

static void site_free(struct site *s)
{
	free(s->file);
	free(s->function);
}

static void thread_free(struct thread_model *t)
{
	free(t->name);
	free(t->comm);
	free(t->state_detail);
	free(t->affinity);
	free(t->wait.pytype);
	free(t->wait.detail);
	free(t->wait.note);
	free(t->wait.external);
	site_free(&t->wait.site);
	for (int i = 0; i < t->n_holds; i++)
		site_free(&t->holds[i].site);
	free(t->holds);
	for (int i = 0; i < t->n_frames; i++) {
		free(t->frames[i].function);
		free(t->frames[i].module);
		free(t->frames[i].file);
	}
	free(t->frames);
	free(t->frames_why);
}

void model_drop_thread(struct process_model *pm, int i)
{
	thread_free(&pm->threads[i]);
	memmove(&pm->threads[i], &pm->threads[i + 1],
		(size_t)(pm->n_threads - i - 1) * sizeof(pm->threads[0]));
	pm->n_threads--;
}

static void deadlocks_free(struct deadlock *d, int n)
{
	for (int i = 0; i < n; i++)
		free(d[i].tids);
	free(d);
}

void model_free(struct process_model *pm)
{
	for (int i = 0; i < pm->n_threads; i++)
		thread_free(&pm->threads[i]);
	free(pm->threads);
	deadlocks_free(pm->deadlocks, pm->n_deadlocks);
	deadlocks_free(pm->potential, pm->n_potential);
	free(pm->comm);
	free(pm->exe);
	free(pm->python_version);
	free(pm->python_why);
	free(pm->core);
	for (int i = 0; i < pm->n_procs; i++) {
		free(pm->procs[i].comm);
		free(pm->procs[i].exe);
		free(pm->procs[i].python_version);
		free(pm->procs[i].python_why);
	}
	free(pm->procs);
	memset(pm, 0, sizeof(*pm));
}
