/*
 * run --profile: where the program's threads wait, and for whom.  Each
 * thread counts its own acquisitions by lock and sums its own waits by
 * kind (the GIL, locks, conditions, joins, I/O, sleep) in a block of its
 * own; a wait that was contended also goes, with atomics, to its lock's
 * class (where the lock was made), to the line that waited and to the
 * line where the holder took the lock.  At the process's end the table,
 * the JSON and a timeline of the threads (an SVG group) go to run.
 *
 * Cost: a probe of the thread's own table per acquisition; two clock
 * reads around each wait, I/O call and sleep, which block anyway.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "runtime/lockorder.h"
#include "tracer/shim/shim.h"
#include "tracer/shim/shim_env.h"
#include "tracer/shim/shim_text.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

#define PROF_THREADS 4096	/* threads profiled; later ones are counted */
#define PROF_SPANS 2048		/* waits kept per thread for the timeline */
#define PROF_SPAN_MIN_NS 50000	/* shorter waits are summed, not drawn */
#define PROF_LOCKS 256		/* classes a thread's acquisitions are counted by */
#define PROF_SITES 4096		/* lines that waited, lines that held */
#define PROF_SHOWN 10		/* rows of each table in the text */
#define PROF_RECORD (8u << 20)	/* one process's record for run */
#define PROF_SVG_ROW 18		/* pixels per thread in the timeline */
#define PROF_SVG_WIDTH 1000
#define PROF_NAME_TRIES 64	/* waits at which a thread's Python function is looked for */

struct span {
	uint64_t start, end;
	uint32_t state;
};

struct prof_thread {
	int32_t tid;
	char name[16];
	char function[48];	/* where its Python began (a Thread's target) */
	uint32_t function_tries;
	uint64_t born, died, cpu;
	uint64_t cpu0;		/* its CPU time when first seen */
	uint64_t wait[PROF_STATES];
	uint32_t n_spans, lost_spans;
	struct span spans[PROF_SPANS];
	struct {
		uint32_t cls_1;	/* class + 1; 0: empty */
		uint64_t count;
	} acq[PROF_LOCKS];
	uint64_t acq_other;
	/* the last lock taken and its count's entry: a loop that takes one
	 * lock again and again skips the lookups (while no lock is made or
	 * destroyed in the process, which could reuse the address) */
	uint64_t last_addr, last_gen;
	uint32_t last_k;
};

/* a line that waited, or the line where a holder took what was waited for */
struct prof_site {
	_Atomic uint64_t key;	/* 0: empty */
	_Atomic uint32_t state;	/* 1 being filled, 2 ready */
	uint32_t state_kind;	/* what was waited for (PROF_*) */
	char text[200];
	_Atomic uint64_t waits, ns, max;
};

struct prof_class {
	_Atomic uint64_t acquired, contended, ns, max;
};

struct profile {
	uint64_t start;
	_Atomic uint32_t n_threads, lost_threads;
	struct prof_thread threads[PROF_THREADS];
	struct prof_site waited[PROF_SITES], held[PROF_SITES];
	struct prof_class classes[LO_CLASSES];
};

bool shim_profile;
static struct profile *prof;
static TLS struct prof_thread *my_prof;
/* A line: a code object and offset (Python), else a native pc; here,
 * where the holder of this thread's wait took what it waits for. */
static TLS struct where {
	uint64_t code, pc;
	int64_t lasti;
} holder;

static const char *const state_names[PROF_STATES] = {
	[PROF_GIL] = "gil", [PROF_LOCK] = "lock", [PROF_COND] = "condition",
	[PROF_JOIN] = "join", [PROF_IO] = "io", [PROF_SLEEP] = "sleep",
};
static const char *const state_colours[PROF_STATES] = {
	[PROF_GIL] = "#e8a33d", [PROF_LOCK] = "#d9534f", [PROF_COND] = "#9b7fd1",
	[PROF_JOIN] = "#999999", [PROF_IO] = "#4a90d9", [PROF_SLEEP] = "#cccccc",
};

uint64_t shim_profile_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static struct profile *profile_map(void)
{
	struct profile *p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	p->start = shim_profile_now();
	return p;
}

void shim_profile_init(void)
{
	const char *on = shim_env_get("PYDEADLOCK_PROFILE");

	if (!on || !shim_order_tables() || !(prof = profile_map()))
		return;
	shim_profile = true;
}

/* A fork child's profile is its own: it begins now. */
void shim_profile_after_fork(void)
{
	if (!shim_profile)
		return;
	munmap(prof, sizeof(*prof));
	my_prof = NULL;
	if (!(prof = profile_map()))
		shim_profile = false;
}

static uint64_t cpu_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* This thread's block, taken on first use; NULL when all are taken. */
static struct prof_thread *me(void)
{
	uint32_t i;

	if (__builtin_expect(my_prof != NULL, 1))
		return my_prof;
	i = atomic_fetch_add(&prof->n_threads, 1);
	if (i >= PROF_THREADS) {
		atomic_fetch_add(&prof->lost_threads, 1);
		return NULL;
	}
	my_prof = &prof->threads[i];
	my_prof->tid = (int32_t)gettid();
	my_prof->born = shim_profile_now();
	my_prof->cpu0 = cpu_now();
	prctl(PR_GET_NAME, my_prof->name);
	return my_prof;
}

/* Counted by class as they happen: at the end most locks are gone. */
void shim_profile_acquired(uint64_t addr)
{
	struct prof_thread *t = me();
	const struct lockorder *lo = shim_order_tables();
	uint32_t h, id, cls;
	uint64_t gen;

	if (!t)
		return;
	gen = atomic_load_explicit(&lo->generation, memory_order_acquire);
	if (addr == t->last_addr && gen == t->last_gen) {
		t->acq[t->last_k].count++;
		return;
	}
	t->last_addr = 0;
	if (!lockorder_instance(lo, addr, &id, &cls)) {
		t->acq_other++;
		return;
	}
	h = (cls * 0x9e3779b1u) >> 24;
	for (uint32_t i = 0; i < 8; i++) {
		uint32_t k = (h + i) & (PROF_LOCKS - 1);

		if (t->acq[k].cls_1 == cls + 1 || !t->acq[k].cls_1) {
			t->acq[k].cls_1 = cls + 1;
			t->acq[k].count++;
			t->last_addr = addr;
			t->last_gen = gen;
			t->last_k = k;
			return;
		}
	}
	t->acq_other++;
}

/* Count a wait of the calling thread (and keep it for the timeline). */
static void account(struct prof_thread *t, enum prof_state st, uint64_t start,
		    uint64_t end)
{
	/* named by its Python function, once it has run one (threading's
	 * own frames come first) */
	if (!t->function[0] && t->function_tries < PROF_NAME_TRIES) {
		t->function_tries++;
		if (!shim_python_entry(t->function, sizeof(t->function)))
			t->function[0] = '\0';
	}
	t->wait[st] += end - start;
	if (end - start < PROF_SPAN_MIN_NS)
		return;
	if (t->n_spans == PROF_SPANS) {
		t->lost_spans++;
		return;
	}
	t->spans[t->n_spans++] = (struct span){ start, end, st };
}

void shim_profile_span(enum prof_state st, uint64_t start)
{
	struct prof_thread *t = me();

	if (t)
		account(t, st, start, shim_profile_now());
}

static uint64_t where_key(const struct where *w)
{
	return w->code ? w->code * 31 + (uint64_t)w->lasti : w->pc | 1ull << 63;
}

/*
 * The site table's entry for w, its text written by its first user
 * only: decoding a line reads the code object, a few system calls,
 * paid once per line, not once per wait.
 */
static struct prof_site *site_of(struct prof_site *table, uint64_t key,
				 const struct where *w, enum prof_state st)
{
	uint32_t h = (uint32_t)((key ^ (key >> 31)) * 0x9e3779b1u);

	for (uint32_t i = 0; i < 64; i++) {
		struct prof_site *e = &table[(h + i) & (PROF_SITES - 1)];
		uint64_t k = atomic_load(&e->key);

		if (!k && atomic_compare_exchange_strong(&e->key, &k, key)) {
			if (!w->code || !shim_python_where(w->code, w->lasti, e->text,
							   sizeof(e->text), NULL, 0))
				snprintf(e->text, sizeof(e->text), "%#llx",
					 (unsigned long long)w->pc);
			e->state_kind = st;
			atomic_store(&e->state, 2);
			return e;
		}
		if (k == key)
			return atomic_load(&e->state) == 2 ? e : NULL;
	}
	return NULL;
}

static void site_add(struct prof_site *e, uint64_t ns)
{
	uint64_t m = atomic_load(&e->max);

	atomic_fetch_add(&e->waits, 1);
	atomic_fetch_add(&e->ns, ns);
	while (ns > m && !atomic_compare_exchange_weak(&e->max, &m, ns))
		;
}

void shim_profile_wait_begins(uint64_t addr, uint32_t kind)
{
	const struct registry_held *h = NULL;

	holder = (struct where){ 0 };
	if (kind != REG_MUTEX && kind != REG_SEMLOCK && kind != REG_RWLOCK &&
	    kind != REG_CUSTOM)
		return;
	if (!registry_owner(shim_registry, addr, NULL, &h) || !h)
		return;
	holder = (struct where){ h->py_code, h->site, h->py_lasti };
}

void shim_profile_wait_ends(struct registry_slot *s, enum prof_state st,
			    uint64_t addr, uint64_t since, uint64_t site)
{
	struct prof_thread *t = me();
	uint64_t now = shim_profile_now(), ns = now - since;
	struct where w = { .pc = site };
	struct prof_site *e;
	uint32_t id, cls;

	(void)s;
	if (!t)
		return;
	account(t, st, since, now);
	if (st != PROF_LOCK && st != PROF_COND && st != PROF_JOIN)
		return;
	/* the line that waited: the first outside threading.py */
	if (!shim_python_maker(&w.code, &w.lasti))
		w.code = 0;
	if ((e = site_of(prof->waited, where_key(&w) * 8 + st, &w, st)))
		site_add(e, ns);
	if (st == PROF_LOCK && (holder.code || holder.pc) &&
	    (e = site_of(prof->held, where_key(&holder), &holder, st)))
		site_add(e, ns);
	holder = (struct where){ 0 };
	if (st == PROF_LOCK && lockorder_instance(shim_order_tables(), addr, &id, &cls)) {
		struct prof_class *c = &prof->classes[cls];
		uint64_t m = atomic_load(&c->max);

		atomic_fetch_add(&c->contended, 1);
		atomic_fetch_add(&c->ns, ns);
		while (ns > m && !atomic_compare_exchange_weak(&c->max, &m, ns))
			;
	}
}

/* CPU time of a thread by its pthread_t (0 when it cannot be read). */
static uint64_t cpu_of(pthread_t t)
{
	struct timespec ts;
	clockid_t c;

	if (pthread_getcpuclockid(t, &c) || clock_gettime(c, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void shim_profile_thread_ends(void)
{
	uint64_t cpu;

	if (!shim_profile || !my_prof)
		return;
	cpu = cpu_now();
	my_prof->cpu = cpu > my_prof->cpu0 ? cpu - my_prof->cpu0 : 0;
	my_prof->died = shim_profile_now();
	my_prof = NULL;
}

/* ---- the record for run ---- */

/* s escaped for XML text */
static void put_xml_str(struct shim_text *o, const char *s)
{
	for (; *s; s++)
		shim_text_put(o, "%s", *s == '<' ? "&lt;" : *s == '>' ? "&gt;" :
			     *s == '&' ? "&amp;" : *s == '"' ? "&quot;" :
			     (char[]){ *s, 0 });
}

/* The last n characters of s, "..." first when cut (static: one at a time). */
static const char *tail(const char *s, size_t n)
{
	static char buf[256];
	size_t len = strlen(s);

	if (len <= n || n < 4 || n >= sizeof(buf))
		return s;
	snprintf(buf, sizeof(buf), "...%s", s + len - (n - 3));
	return buf;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* The classes' acquisitions from every thread's counts by lock. */
static void classes_count(const struct lockorder *lo, uint64_t *unknown)
{
	uint32_t n = atomic_load(&prof->n_threads);

	for (uint32_t i = 0; i < n && i < PROF_THREADS; i++) {
		const struct prof_thread *t = &prof->threads[i];

		*unknown += t->acq_other;
		for (uint32_t k = 0; k < PROF_LOCKS; k++)
			if (t->acq[k].cls_1 &&
			    !(atomic_load(&lo->classes[t->acq[k].cls_1 - 1].flags) & LO_CLASS_OWN))
				atomic_fetch_add(&prof->classes[t->acq[k].cls_1 - 1].acquired,
						 t->acq[k].count);
	}
}

/* Index of the largest value not yet taken (taken[] marks), or -1. */
static int next_largest(const uint64_t *v, bool *taken, int n)
{
	int best = -1;

	for (int i = 0; i < n; i++)
		if (!taken[i] && v[i] && (best < 0 || v[i] > v[best]))
			best = i;
	if (best >= 0)
		taken[best] = true;
	return best;
}

static void sites_out(struct shim_text *text, struct shim_text *json, const char *title,
		      const char *key, const struct prof_site *table)
{
	static uint64_t ns[PROF_SITES];
	static bool taken[PROF_SITES];
	int shown = 0, i;

	for (i = 0; i < PROF_SITES; i++) {
		ns[i] = atomic_load(&table[i].state) == 2 ? atomic_load(&table[i].ns) : 0;
		taken[i] = false;
	}
	shim_text_put(json, ", \"%s\": [", key);
	shim_text_put(text, "  %-52s %9s %11s %10s %10s\n", title, "waits", "total ms",
	    "mean ms", "max ms");
	while ((i = next_largest(ns, taken, PROF_SITES)) >= 0 && shown < 50) {
		const struct prof_site *e = &table[i];
		uint64_t w = atomic_load(&e->waits);

		if (shown < PROF_SHOWN)
			shim_text_put(text, "    %-50s %9llu %11.1f %10.3f %10.1f  %s\n",
			    tail(e->text, 50), (unsigned long long)w, ms(ns[i]),
			    ms(ns[i]) / (double)(w ? w : 1), ms(atomic_load(&e->max)),
			    state_names[e->state_kind]);
		shim_text_put(json, "%s{\"site\": ", shown ? ", " : "");
		shim_text_json(json, e->text);
		shim_text_put(json, ", \"kind\": \"%s\", \"waits\": %llu, \"wait_ns\": %llu, \"max_ns\": %llu}",
		    state_names[e->state_kind], (unsigned long long)w,
		    (unsigned long long)ns[i], (unsigned long long)atomic_load(&e->max));
		shown++;
	}
	if (!shown)
		shim_text_put(text, "    (none)\n");
	shim_text_put(json, "]");
}

static void svg_out(struct shim_text *svg, uint64_t start, uint64_t end, int rows)
{
	double scale = (double)(PROF_SVG_WIDTH - 220) / (double)(end - start ? end - start : 1);
	uint32_t n = atomic_load(&prof->n_threads);
	int row = 0;
	char comm[17] = "";

	prctl(PR_GET_NAME, comm);
	shim_text_put(svg, "<text x=\"4\" y=\"14\" font-weight=\"bold\">process %d (", (int)getpid());
	put_xml_str(svg, comm);
	shim_text_put(svg, "), %.1f ms</text>\n", ms(end - start));
	for (uint32_t i = 0; i < n && i < PROF_THREADS && row < rows; i++, row++) {
		const struct prof_thread *t = &prof->threads[i];
		double y = 22 + row * PROF_SVG_ROW;
		uint64_t b = t->born > start ? t->born : start;
		uint64_t d = t->died ? t->died : end;

		shim_text_put(svg, "<text x=\"4\" y=\"%.0f\">%d ", y + 12, t->tid);
		put_xml_str(svg, t->function[0] ? t->function : t->name);
		shim_text_put(svg, "</text>\n<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%d\" fill=\"#8fd18f\"><title>not waiting</title></rect>\n",
		    210 + (double)(b - start) * scale, y,
		    (double)(d > b ? d - b : 0) * scale, PROF_SVG_ROW - 4);
		for (uint32_t k = 0; k < t->n_spans; k++) {
			const struct span *sp = &t->spans[k];

			shim_text_put(svg, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" fill=\"%s\"><title>%s %.3f ms</title></rect>\n",
			    210 + (double)(sp->start - start) * scale, y,
			    (double)(sp->end - sp->start) * scale + 0.5, PROF_SVG_ROW - 4,
			    state_colours[sp->state], state_names[sp->state],
			    ms(sp->end - sp->start));
		}
	}
}

void shim_profile_flush(void)
{
	static _Atomic pid_t done_by;
	const struct lockorder *lo = shim_order_tables();
	uint64_t end, unknown = 0, cpu_all = 0;
	static uint64_t acq[LO_CLASSES];
	static bool taken[LO_CLASSES];
	struct shim_text text = { 0 }, json = { 0 }, svg = { 0 }, rec = { 0 };
	uint32_t n;
	int shown = 0, waited = 0, c, rows;
	uint64_t quiet = 0, quiet_acq = 0;	/* lock places never waited for */
	char comm[17] = "";
	char *mem;

	if (!shim_profile || atomic_exchange(&done_by, getpid()) == getpid())
		return;
	end = shim_profile_now();
	shim_profile_thread_ends();	/* the ending thread's own CPU time */
	n = atomic_load(&prof->n_threads);
	if (n > PROF_THREADS)
		n = PROF_THREADS;
	if (n < 2)
		return;		/* one thread: nothing to contend with */
	rows = (int)n;
	mem = mmap(NULL, 4 * (size_t)PROF_RECORD, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return;
	text = (struct shim_text){ mem, 0, PROF_RECORD };
	json = (struct shim_text){ mem + PROF_RECORD, 0, PROF_RECORD };
	svg = (struct shim_text){ mem + 2 * (size_t)PROF_RECORD, 0, PROF_RECORD };
	rec = (struct shim_text){ mem + 3 * (size_t)PROF_RECORD, 0, PROF_RECORD };
	prctl(PR_GET_NAME, comm);
	classes_count(lo, &unknown);

	/* threads: CPU time (live ones read now), waits by kind */
	for (uint32_t i = 0; i < n; i++) {
		struct prof_thread *t = &prof->threads[i];

		if (!t->died) {
			struct registry_slot *s = registry_slot_of(shim_registry, t->tid);

			uint64_t cpu = s ? cpu_of((pthread_t)s->self) : 0;

			t->cpu = cpu > t->cpu0 ? cpu - t->cpu0 : 0;
		}
		cpu_all += t->cpu;
	}
	shim_text_put(&text, "pydeadlock: profile of process %d (%s): %.1f ms, %u threads, effective parallelism %.2f (CPU time of all threads / wall time) on %ld CPUs\n",
	    (int)getpid(), comm, ms(end - prof->start), n,
	    (double)cpu_all / (double)(end - prof->start), sysconf(_SC_NPROCESSORS_ONLN));
	shim_text_put(&json, "{\"pid\": %d, \"wall_ns\": %llu, \"cpu_ns\": %llu, \"parallelism\": %.3f, \"threads\": [",
	    (int)getpid(), (unsigned long long)(end - prof->start),
	    (unsigned long long)cpu_all, (double)cpu_all / (double)(end - prof->start));

	/* locks by where they were made */
	for (c = 0; c < (int)LO_CLASSES; c++) {
		acq[c] = atomic_load(&prof->classes[c].ns) ? atomic_load(&prof->classes[c].ns)
			 : atomic_load(&prof->classes[c].acquired) ? 1 : 0;
		taken[c] = false;
	}
	{
		struct shim_text locks = { mem + 3 * (size_t)PROF_RECORD + PROF_RECORD / 2, 0,
				     PROF_RECORD / 2 };

		shim_text_put(&text, "  %-52s %10s %9s %11s %10s %10s\n",
		    "locks, by where they were made", "acquired", "waits", "total ms",
		    "mean ms", "max ms");
		shim_text_put(&locks, "], \"locks\": [");
		while ((c = next_largest(acq, taken, LO_CLASSES)) >= 0 && shown < 50) {
			const struct prof_class *k = &prof->classes[c];
			uint64_t w = atomic_load(&k->contended), ns = atomic_load(&k->ns);
			char name[256];

			shim_order_class_name((uint32_t)c, name, sizeof(name));
			if (w && waited < PROF_SHOWN) {	/* the rest: counted below */
				waited++;
				shim_text_put(&text, "    %-50s %10llu %9llu %11.1f %10.3f %10.1f\n",
				    tail(name, 50), (unsigned long long)atomic_load(&k->acquired),
				    (unsigned long long)w, ms(ns), ms(ns) / (double)(w ? w : 1),
				    ms(atomic_load(&k->max)));
			}
			shim_text_put(&locks, "%s{\"class\": ", shown ? ", " : "");
			shim_text_json(&locks, name);
			shim_text_put(&locks, ", \"acquired\": %llu, \"waits\": %llu, \"wait_ns\": %llu, \"max_ns\": %llu}",
			    (unsigned long long)atomic_load(&k->acquired),
			    (unsigned long long)w, (unsigned long long)ns,
			    (unsigned long long)atomic_load(&k->max));
			shown++;
		}
		if (!shown)
			shim_text_put(&text, "    (none)\n");
		else if (!waited)
			shim_text_put(&text, "    (no thread waited for any)\n");
		for (c = 0; c < (int)LO_CLASSES; c++)
			if (atomic_load(&prof->classes[c].acquired) &&
			    !atomic_load(&prof->classes[c].contended)) {
				quiet++;
				quiet_acq += atomic_load(&prof->classes[c].acquired);
			}
		if (quiet)
			shim_text_put(&text, "    (and %llu places whose locks no thread waited for, %llu acquisitions)\n",
			    (unsigned long long)quiet, (unsigned long long)quiet_acq);
		if (unknown)
			shim_text_put(&text, "    (and %llu acquisitions of locks made before the profile, or beyond its tables)\n",
			    (unsigned long long)unknown);
		shim_text_put(&locks, "]");
		sites_out(&text, &locks, "waits, by the line that waited", "wait_sites",
			  prof->waited);
		sites_out(&text, &locks, "holders others waited for, by where they took it",
			  "holder_sites", prof->held);
		/* threads */
		shim_text_put(&text, "  %-24s %9s %9s %9s %9s %9s %9s %9s %9s  (ms)\n", "threads",
		    "alive", "running", "gil", "lock", "condition", "join", "io", "sleep");
		for (uint32_t i = 0; i < n; i++) {
			const struct prof_thread *t = &prof->threads[i];
			uint64_t alive = (t->died ? t->died : end) - t->born;

			if (i < 2 * PROF_SHOWN)
				shim_text_put(&text, "    %-8d %-13.13s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n",
				    t->tid, t->function[0] ? t->function : t->name, ms(alive), ms(t->cpu), ms(t->wait[PROF_GIL]),
				    ms(t->wait[PROF_LOCK]), ms(t->wait[PROF_COND]),
				    ms(t->wait[PROF_JOIN]), ms(t->wait[PROF_IO]),
				    ms(t->wait[PROF_SLEEP]));
			shim_text_put(&json, "%s{\"tid\": %d, \"name\": ", i ? ", " : "", t->tid);
			shim_text_json(&json, t->name);
			shim_text_put(&json, ", \"function\": ");
			if (t->function[0])
				shim_text_json(&json, t->function);
			else
				shim_text_put(&json, "null");
			shim_text_put(&json, ", \"alive_ns\": %llu, \"cpu_ns\": %llu",
			    (unsigned long long)alive, (unsigned long long)t->cpu);
			for (int st = 0; st < PROF_STATES; st++)
				shim_text_put(&json, ", \"%s_ns\": %llu", state_names[st],
				    (unsigned long long)t->wait[st]);
			shim_text_put(&json, "}");
		}
		if (n > 2 * PROF_SHOWN)
			shim_text_put(&text, "    (%u more threads in the JSON report)\n", n - 2 * PROF_SHOWN);
		if (atomic_load(&prof->lost_threads))
			shim_text_put(&text, "    (%u threads beyond %d not profiled)\n",
			    atomic_load(&prof->lost_threads), PROF_THREADS);
		shim_text_put(&json, "%s}", locks.buf);
	}
	svg_out(&svg, prof->start, end, rows);
	shim_text_put(&rec, "P%016llx\nH%d\nJ", (unsigned long long)getpid(),
	    22 + rows * PROF_SVG_ROW + 8);
	shim_text_put(&rec, "%s\n%s", json.buf, text.buf);
	if (rec.len + 2 + svg.len < rec.size) {
		rec.buf[rec.len++] = '\001';
		memcpy(rec.buf + rec.len, svg.buf, svg.len);
		rec.len += svg.len;
	}
	rec.buf[rec.len] = '\0';
	shim_record_send(rec.buf, rec.len + 1);
	munmap(mem, 4 * (size_t)PROF_RECORD);
}
