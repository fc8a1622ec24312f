/*
 * attach --profile's report: the shares of samples each thread spent
 * running and waiting, the lines that waited, with their sampling error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/attach/sampler.h"
#include "ui/json_writer.h"
#include "ui/report.h"

#define PROFILE_SHOWN 15	/* rows of the text tables */
#define Z95 1.96		/* a normal 95% interval */

/* The 95% interval's half-width of a share p of n samples. */
static double margin(double p, unsigned n)
{
	return n ? Z95 * sqrt(p * (1 - p) / n) : 1;
}

static int by_count(const void *a, const void *b)
{
	const struct sample_site *x = a, *y = b;

	return (int)y->count - (int)x->count;
}

static void profile_text(FILE *out, struct profile_samples *p)
{
	double interval = 1.0 / SAMPLE_HZ;

	fprintf(out, "pydeadlock: profile of process %d (%s) from outside: %.2f s, %u samples (%d a second)%s%s%s\n",
		p->pid, p->comm, p->seconds, p->samples, SAMPLE_HZ,
		p->python[0] ? ", Python " : "", p->python,
		p->ended ? "; the process ended meanwhile" : "");
	fprintf(out, "  effective parallelism %.2f: CPU time %.2f s over %.2f s (the kernel's count, in %.0f ms ticks: +-%.2f)\n",
		p->seconds > 0 ? p->cpu_seconds / p->seconds : 0, p->cpu_seconds,
		p->seconds, p->tick * 1e3,
		p->seconds > 0 ? 2 * p->tick / p->seconds : 0);
	fprintf(out, "  threads running or ready to run, on average: %.2f\n",
		p->samples ? (double)p->running_sum / p->samples : 0);
	fprintf(out, "  %-30s %8s", "threads (share of samples)", "samples");
	for (int st = 0; st < SAMPLE_STATES; st++)
		fprintf(out, " %9s", sample_state_names[st]);
	fputc('\n', out);
	for (int i = 0; i < p->n_threads && i < PROFILE_SHOWN * 4; i++) {
		const struct sample_thread *t = &p->threads[i];
		char label[64];

		snprintf(label, sizeof(label), "%d \"%s\"", t->tid, t->name ? t->name : "");
		fprintf(out, "    %-28.28s %8u", label, t->samples);
		for (int st = 0; st < SAMPLE_STATES; st++)
			fprintf(out, " %8.0f%%", t->samples ? 100.0 * t->count[st] / t->samples : 0);
		fputc('\n', out);
	}
	if (p->n_threads > PROFILE_SHOWN * 4)
		fprintf(out, "    (%d more threads in the JSON)\n", p->n_threads - PROFILE_SHOWN * 4);
	qsort(p->sites, (size_t)p->n_sites, sizeof(*p->sites), by_count);
	fprintf(out, "  %-60s %9s %8s %14s\n", "waits, by the line that waited", "kind",
		"samples", "time (est.)");
	for (int i = 0; i < p->n_sites && i < PROFILE_SHOWN; i++) {
		const struct sample_site *s = &p->sites[i];

		/* c samples of several threads: a count, +-1.96 sqrt(c) */
		fprintf(out, "    %-58.58s %9s %8u %7.2f s +-%.2f\n", s->where,
			sample_state_names[s->state], s->count, s->count * interval,
			Z95 * sqrt((double)s->count) * interval);
	}
	if (!p->n_sites)
		fprintf(out, "    (none seen)\n");
	fprintf(out, "  sampling error: a share p of n samples is within +-%.2f*sqrt(p(1-p)/n) of the true share 95%% of the time (e.g. +-%.0f%% for p=50%% of %u samples); a line's time is its samples / %d, +-1.96*sqrt(samples) / %d.\n",
		Z95, 100 * margin(0.5, p->samples), p->samples, SAMPLE_HZ, SAMPLE_HZ);
}

static void profile_json(FILE *out, const struct profile_samples *p)
{
	struct json_writer j;

	json_init(&j, out);
	json_begin_object(&j);
	json_key(&j, "pid");
	json_int(&j, p->pid);
	json_key(&j, "python");
	if (p->python[0])
		json_string(&j, p->python);
	else
		json_null(&j);
	json_key(&j, "seconds");
	json_double(&j, p->seconds);
	json_key(&j, "samples");
	json_int(&j, p->samples);
	json_key(&j, "rate_hz");
	json_int(&j, SAMPLE_HZ);
	json_key(&j, "cpu_seconds");
	json_double(&j, p->cpu_seconds);
	json_key(&j, "parallelism");
	json_double(&j, p->seconds > 0 ? p->cpu_seconds / p->seconds : 0);
	json_key(&j, "mean_running");
	json_double(&j, p->samples ? (double)p->running_sum / p->samples : 0);
	json_key(&j, "ended");
	json_bool(&j, p->ended);
	json_key(&j, "threads");
	json_begin_array(&j);
	for (int i = 0; i < p->n_threads; i++) {
		const struct sample_thread *t = &p->threads[i];

		json_begin_object(&j);
		json_key(&j, "tid");
		json_int(&j, t->tid);
		json_key(&j, "name");
		json_string(&j, t->name ? t->name : "");
		json_key(&j, "samples");
		json_int(&j, t->samples);
		for (int st = 0; st < SAMPLE_STATES; st++) {
			json_key(&j, sample_state_names[st]);
			json_int(&j, t->count[st]);
		}
		json_end_object(&j);
	}
	json_end_array(&j);
	json_key(&j, "wait_sites");
	json_begin_array(&j);
	for (int i = 0; i < p->n_sites; i++) {
		json_begin_object(&j);
		json_key(&j, "site");
		json_string(&j, p->sites[i].where);
		json_key(&j, "kind");
		json_string(&j, sample_state_names[p->sites[i].state]);
		json_key(&j, "samples");
		json_int(&j, p->sites[i].count);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	fputc('\n', out);
}

void report_profile(FILE *out, struct profile_samples *p, bool json)
{
	if (json)
		profile_json(out, p);
	else
		profile_text(out, p);
}
