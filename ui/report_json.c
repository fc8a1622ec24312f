#include "common/error.h"
#include "ui/json_writer.h"
#include "ui/report.h"

static void site_json(struct json_writer *j, const struct site *s)
{
	if (!s->file && !s->function) {
		json_null(j);
		return;
	}
	json_begin_object(j);
	json_key(j, "file");
	json_string(j, s->file);
	json_key(j, "line");
	if (s->line)
		json_int(j, s->line);
	else
		json_null(j);
	json_key(j, "function");
	json_string(j, s->function);
	json_end_object(j);
}

static void wait_json(struct json_writer *j, const struct wait_info *w)
{
	if (w->kind == WAIT_NONE) {
		json_null(j);
		return;
	}
	json_begin_object(j);
	json_key(j, "kind");
	json_string(j, wait_kind_name(w->kind));
	json_key(j, "id");
	json_address(j, w->id);
	json_key(j, "type");
	json_string(j, w->pytype);
	json_key(j, "timed");
	json_bool(j, w->timed);
	json_key(j, "owner_tids");
	if (w->n_owners) {
		json_begin_array(j);
		for (int k = 0; k < w->n_owners; k++)
			json_int(j, w->owner_tids[k]);
		json_end_array(j);
	} else {
		json_null(j);
	}
	json_key(j, "owned");
	json_bool(j, w->owned);
	json_key(j, "orphaned");
	json_bool(j, w->orphaned);
	json_key(j, "owner_unknown_why");
	json_string(j, w->n_owners ? NULL : w->owner_why);
	json_key(j, "shared");
	json_bool(j, w->shared);
	json_key(j, "wakers");
	json_begin_array(j);
	for (int k = 0; k < w->n_wakers; k++) {
		json_begin_object(j);
		json_key(j, "pid");
		json_int(j, w->wakers[k].pid);
		json_key(j, "tid");
		if (w->wakers[k].tid)
			json_int(j, w->wakers[k].tid);
		else
			json_null(j);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "external");
	json_string(j, w->external);
	json_key(j, "note");
	json_string(j, w->note);
	json_key(j, "site");
	site_json(j, &w->site);
	json_key(j, "detail");
	json_string(j, w->detail);
	json_end_object(j);
}

static void frame_json(struct json_writer *j, const struct frame *f)
{
	json_begin_object(j);
	json_key(j, "python");
	json_bool(j, f->python);
	if (!f->python) {
		json_key(j, "pc");
		json_address(j, f->pc);
		json_key(j, "inlined");
		json_bool(j, f->inlined);
	}
	json_key(j, "function");
	json_string(j, f->function);
	if (!f->python) {
		json_key(j, "module");
		json_string(j, f->module);
	}
	json_key(j, "file");
	json_string(j, f->file);
	json_key(j, "line");
	if (f->line)
		json_int(j, f->line);
	else
		json_null(j);
	json_end_object(j);
}

static void thread_json(struct json_writer *j, const struct thread_model *t)
{
	json_begin_object(j);
	json_key(j, "pid");
	json_int(j, t->pid);
	json_key(j, "tid");
	json_int(j, t->tid);
	json_key(j, "name");
	json_string(j, t->name);
	json_key(j, "comm");
	json_string(j, t->comm);
	json_key(j, "state");
	json_string(j, thread_state_name(t->state));
	json_key(j, "state_detail");
	json_string(j, t->state_detail);
	json_key(j, "job_stopped");
	json_bool(j, t->job_stopped);
	json_key(j, "cpu_us");		/* CPU time used, user and system */
	json_int(j, (long long)(t->cpu_ns / 1000));
	json_key(j, "last_cpu");
	if (t->last_cpu >= 0)
		json_int(j, t->last_cpu);
	else
		json_null(j);
	json_key(j, "affinity");	/* CPUs it may run on; null: all */
	json_string(j, t->affinity);
	json_key(j, "holds_gil");
	json_bool(j, t->holds_gil);
	json_key(j, "waits_for");
	wait_json(j, &t->wait);
	json_key(j, "holds");
	json_begin_array(j);
	for (int h = 0; h < t->n_holds; h++) {
		json_begin_object(j);
		json_key(j, "kind");
		json_string(j, wait_kind_name(t->holds[h].kind));
		json_key(j, "id");
		json_address(j, t->holds[h].id);
		json_key(j, "owned");
		json_bool(j, t->holds[h].owned);
		json_key(j, "site");
		site_json(j, &t->holds[h].site);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "frames");
	json_begin_array(j);
	for (int i = 0; i < t->n_frames; i++)
		frame_json(j, &t->frames[i]);
	json_end_array(j);
	json_key(j, "frames_incomplete_why");
	json_string(j, t->frames_why);
	json_end_object(j);
}

static void deadlocks_json(struct json_writer *j, const struct deadlock *d,
			   int n)
{
	json_begin_array(j);
	for (int i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "kind");
		json_string(j, deadlock_kind_name(d[i].kind));
		json_key(j, "tids");
		json_begin_array(j);
		for (int k = 0; k < d[i].n_tids; k++)
			json_int(j, d[i].tids[k]);
		json_end_array(j);
		json_key(j, "certain");
		json_bool(j, d[i].certain);
		json_key(j, "why");
		json_string(j, d[i].why);
		json_end_object(j);
	}
	json_end_array(j);
}

void report_json(FILE *out, const struct process_model *pm)
{
	struct json_writer j;

	json_init(&j, out);
	json_begin_object(&j);
	json_key(&j, "pid");
	json_int(&j, pm->pid);
	json_key(&j, "comm");
	json_string(&j, pm->comm);
	json_key(&j, "python");
	json_string(&j, pm->python_version);
	json_key(&j, "python_why");
	json_string(&j, pm->python_why);
	json_key(&j, "free_threaded");
	json_bool(&j, pm->python_build != PYTHON_GIL);
	json_key(&j, "gil");
	if (pm->python_version)
		json_bool(&j, pm->python_build != PYTHON_FREE_NO_GIL);
	else
		json_null(&j);
	json_key(&j, "core");
	json_string(&j, pm->core);
	json_key(&j, "stopped_us");
	json_int(&j, (long long)(pm->stopped_ns / 1000));
	json_key(&j, "processes");
	json_begin_array(&j);
	for (int i = 0; i < pm->n_procs; i++) {
		const struct process_info *p = &pm->procs[i];

		json_begin_object(&j);
		json_key(&j, "pid");
		json_int(&j, p->pid);
		json_key(&j, "ppid");
		json_int(&j, p->ppid);
		json_key(&j, "comm");
		json_string(&j, p->comm);
		json_key(&j, "python");
		json_string(&j, p->python_version);
		json_key(&j, "under_run");
		json_bool(&j, p->from_registry);
		json_key(&j, "fork_parent");
		if (p->fork_parent)
			json_int(&j, p->fork_parent);
		else
			json_null(&j);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_key(&j, "threads");
	json_begin_array(&j);
	for (int i = 0; i < pm->n_threads; i++)
		thread_json(&j, &pm->threads[i]);
	json_end_array(&j);
	json_key(&j, "deadlocks");
	deadlocks_json(&j, pm->deadlocks, pm->n_deadlocks);
	json_key(&j, "potential");
	deadlocks_json(&j, pm->potential, pm->n_potential);
	json_end_object(&j);
	fputc('\n', out);
}

int report_json_to(const char *path, const struct process_model *pm)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror_msg("cannot write %s", path);
		return -1;
	}
	report_json(f, pm);
	return fclose(f) == 0 ? 0 : -1;
}
