/*
 * run --lock-order: every blocking acquisition made while holding other
 * locks adds the orders "held -> taken" to the runtime's lock-order
 * tables (runtime/lockorder.h); at the process's end (or exec), the
 * loops among them are written for run, which prints them once for the
 * whole program.  With --on-deadlock=abort given, the first loop ends
 * the program at once.
 *
 * Cost: nothing for an acquisition made while holding nothing; otherwise
 * a table probe per held lock, and the text of both sites the first time
 * an order is seen.  Native sites are named at the end (dladdr may take
 * the loader's lock, never to be waited for inside a lock call).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/supervisor_signals.h"
#include "runtime/lockorder.h"
#include "tracer/shim/shim.h"
#include "tracer/shim/shim_env.h"
#include "tracer/shim/shim_text.h"

#define ORDER_STACK 8		/* Python frames kept of a taking stack */
#define ORDER_TEXT 4096		/* one site's or stack's text */
#define ORDER_RECORD (64 * 1024)	/* one loop's record for run */

/* A class's key: a Python maker (code, offset), or these in k2 */
#define KEY_NATIVE (1ull << 62)		/* k1: the native site that made it */
#define KEY_STATIC (1ull << 63)		/* k1: its address (never made) */
#define KEY_OWN (3ull << 62)		/* the interpreter's own locks */

bool shim_order;
static struct lockorder *lo;	/* with --lock-order or --profile */
static bool at_once;		/* --on-deadlock=abort given: end at once */
static int report_fd = -1;	/* run's memfd, in the supervisor */
static char *suppressions;	/* the file's text, or NULL */
/* the process that wrote its records: a vfork child that ends with
 * _exit() shares our memory, and must not count as us */
static _Atomic pid_t flushed_by;

static void suppressions_load(const char *path)
{
	char *buf;
	ssize_t n = 0, r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;	/* run has read it: gone since, nothing suppressed */
	buf = mmap(NULL, LO_SUPPRESSIONS_MAX, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf != MAP_FAILED) {
		while (n < LO_SUPPRESSIONS_MAX - 1 &&
		       (r = read(fd, buf + n, LO_SUPPRESSIONS_MAX - 1 - n)) > 0)
			n += r;
		buf[n] = '\0';
		suppressions = buf;
	}
	close(fd);
}

void shim_order_init(void)
{
	const char *fd = shim_env_get("PYDEADLOCK_RECORDS");
	const char *order = shim_env_get("PYDEADLOCK_LOCK_ORDER");
	const char *how = shim_env_get("PYDEADLOCK_LOCK_ORDER_NOW");
	const char *sup = shim_env_get("PYDEADLOCK_SUPPRESSIONS");

	if (!fd || !(lo = lockorder_create()))
		return;
	report_fd = atoi(fd);
	if (!order)
		return;		/* the classes only, for --profile */
	at_once = how && !strcmp(how, "1");
	if (sup && *sup)
		suppressions_load(sup);
	shim_order = true;
}

struct lockorder *shim_order_tables(void)
{
	return lo;
}

static void said_full(void)
{
	if (atomic_load(&lo->full))
		shim_say_once(NOTE_ORDER,
			      "too many locks or lock orders to remember; some orders are not checked");
}

/*
 * The class of a lock made where the caller runs: its Python line, else
 * its native site.  A Python lock made where no line of the program runs
 * (the interpreter's import lock, a thread's state lock, which a thread
 * holds all its life and join() waits for) is the interpreter's own: it
 * takes no part in the orders.
 */
static uint32_t class_here(uint64_t site, bool python_lock)
{
	uint64_t code = 0;
	int64_t lasti = 0;
	bool fresh;
	int c;

	if (python_lock && shim_python_present() &&
	    !shim_python_maker(&code, &lasti)) {
		c = lockorder_class(lo, 0, KEY_OWN, &fresh);
		if (c >= 0 && fresh) {
			atomic_fetch_or(&lo->classes[c].flags, LO_CLASS_OWN);
			lockorder_class_ready(lo, c, "the interpreter's own", "");
		}
	} else if (code) {
		c = lockorder_class(lo, code, (uint64_t)lasti, &fresh);
		if (c >= 0 && fresh) {
			char where[ORDER_TEXT], name[ORDER_TEXT + 16], at[ORDER_TEXT];

			shim_python_where(code, lasti, where, sizeof(where), at,
					  sizeof(at));
			snprintf(name, sizeof(name), "made at %s", where);
			lockorder_class_ready(lo, c, name, at);
		}
	} else {
		c = lockorder_class(lo, site, KEY_NATIVE, &fresh);
		if (c >= 0 && fresh)	/* named at the end */
			lockorder_class_ready(lo, c, "", "");
	}
	return c < 0 ? 0 : (uint32_t)c;
}

/* The live lock at addr, known from now on when first seen here. */
static bool instance_of(uint64_t addr, uint32_t *id, uint32_t *cls)
{
	bool fresh;
	int c;

	if (lockorder_instance(lo, addr, id, cls))
		return true;
	c = lockorder_class(lo, addr, KEY_STATIC, &fresh);
	if (c < 0)
		return false;
	if (fresh)
		lockorder_class_ready(lo, c, "", "");
	*cls = (uint32_t)c;
	return (*id = lockorder_instance_new(lo, addr, *cls)) != 0;
}

void shim_order_made(const void *obj, uint64_t site, bool python_lock)
{
	if (!lo)
		return;
	(void)lockorder_instance_new(lo, (uint64_t)(uintptr_t)obj,
				     class_here(site, python_lock));
}

void shim_order_gone(const void *obj)
{
	if (lo)
		lockorder_instance_end(lo, (uint64_t)(uintptr_t)obj);
}

void shim_order_signal(const void *obj)
{
	uint32_t id, cls;

	if (shim_order && lockorder_instance(lo, (uint64_t)(uintptr_t)obj, &id, &cls))
		atomic_fetch_or(&lo->classes[cls].flags, LO_CLASS_SIGNAL);
}

/* Can a held entry (or the object taken) be half of an order? */
static bool orderable(uint64_t addr, uint32_t kind, uint32_t flags)
{
	if (flags & (HELD_SHARED | HELD_READ) || shim_is_gil((void *)(uintptr_t)addr))
		return false;
	if (kind == REG_SEMLOCK)
		return !(registry_fact(shim_registry, addr) &
			 (FACT_COUNTING | FACT_SHARED | FACT_SIGNAL));
	return kind == REG_MUTEX || kind == REG_RWLOCK || kind == REG_CUSTOM;
}

static void loop_found(const struct lockorder *l, bool same,
		       const struct lo_edge *const *loop, int n, void *arg);

#define ORDER_SKIP 4	/* held locks remembered as no half of an order */

/*
 * Held locks that are no half of any order, remembered per thread until
 * a lock is made or destroyed: a Python thread holds its own state lock
 * all its life (the interpreter's), and every acquisition would look it
 * up again.
 */
static __thread __attribute__((tls_model("initial-exec"))) struct {
	uint64_t gen, addr[ORDER_SKIP];
	unsigned next;
} skip;

/* Is held entry h (not the lock being taken) the first half of an
 * order?  Its instance and class then. */
static bool held_orderable(const struct registry_held *h, uint64_t a,
			   uint32_t *id, uint32_t *cls)
{
	uint64_t gen = atomic_load_explicit(&lo->generation, memory_order_acquire);

	if (gen != skip.gen) {
		memset(&skip, 0, sizeof(skip));
		skip.gen = gen;
	}
	for (unsigned i = 0; i < ORDER_SKIP; i++)
		if (skip.addr[i] == a)
			return false;
	if (orderable(a, h->kind, h->flags) && instance_of(a, id, cls) &&
	    !(atomic_load(&lo->classes[*cls].flags) & (LO_CLASS_SIGNAL | LO_CLASS_OWN)))
		return true;
	skip.addr[skip.next++ % ORDER_SKIP] = a;
	return false;
}

/* Python's acquire() tries first, then blocks: was this try a blocking
 * acquire()?  A with statement, or acquire() with no argument. */
static bool python_blocks(void)
{
	uint64_t code = 0;
	int64_t lasti = 0;
	bool by_with = false;

	return shim_python_site(&code, &lasti, &by_with) &&
	       (by_with || shim_python_blocking_call(code, lasti));
}

/* Order j of a new acquisition, seen for the first time: its sites. */
static __attribute__((noinline)) void order_fill(struct lo_edge *e,
						 const struct registry_slot *s,
						 const struct registry_held *from,
						 uint64_t site, char **stack)
{
	char held_at[ORDER_TEXT];

	e->tid = atomic_load(&s->tid);
	e->held_pc = from->site;
	e->taken_pc = site;
	if (from->py_code &&
	    shim_python_where(from->py_code, from->py_lasti, held_at,
			      sizeof(held_at), NULL, 0))
		e->held_at = lockorder_text(lo, held_at);
	if (!*stack) {
		*stack = mmap(NULL, ORDER_TEXT, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (*stack == MAP_FAILED)
			*stack = NULL;
		else if (!shim_python_stack_text(*stack, ORDER_TEXT, ORDER_STACK))
			(*stack)[0] = '\0';
	}
	if (*stack && (*stack)[0])
		e->taken_at = lockorder_text(lo, *stack);
}

void shim_order_taken(struct registry_slot *s, const void *obj, uint32_t kind,
		      enum order_blocking blocking, uint64_t site)
{
	uint64_t addr = (uint64_t)(uintptr_t)obj;
	uint32_t n = atomic_load_explicit(&s->n_held, memory_order_relaxed);
	uint32_t ids[REGISTRY_MAX_HELD], cls[REGISTRY_MAX_HELD];
	const struct registry_held *from[REGISTRY_MAX_HELD];
	uint32_t to_id, to_cls;
	char *stack = NULL;
	int k = 0;

	if (!n)
		return;		/* the common case: nothing held */
	if (n > REGISTRY_MAX_HELD)
		n = REGISTRY_MAX_HELD;
	/* a Lock taken again by its holder waits for another thread's
	 * release: a signal, as a Condition's waiter lock is */
	if (kind == REG_SEMLOCK)
		for (uint32_t i = 0; i < n; i++)
			if (atomic_load_explicit(&s->held[i].addr,
						 memory_order_relaxed) == addr) {
				shim_order_signal(obj);
				return;
			}
	if (blocking == ORDER_TRY || !orderable(addr, kind, 0))
		return;
	for (uint32_t i = 0; i < n; i++) {
		const struct registry_held *h = &s->held[i];
		uint64_t a = atomic_load_explicit(&h->addr, memory_order_relaxed);

		if (a && a != addr && held_orderable(h, a, &ids[k], &cls[k]))
			from[k++] = h;
	}
	if (!k || (blocking == ORDER_PYTHON && !python_blocks()) ||
	    !instance_of(addr, &to_id, &to_cls) ||
	    (atomic_load(&lo->classes[to_cls].flags) &
	     (LO_CLASS_SIGNAL | LO_CLASS_OWN)))
		return;
	for (int j = 0; j < k; j++) {
		bool same = cls[j] == to_cls, fresh;
		struct lo_edge *e = lockorder_edge(lo, same, same ? ids[j] : cls[j],
						   same ? to_id : to_cls, ids, k,
						   &fresh);

		if (!e) {
			said_full();
			continue;
		}
		if (!fresh)
			continue;
		e->from_class = cls[j];
		e->to_class = to_cls;
		order_fill(e, s, from[j], site, &stack);
		lockorder_edge_ready(e);
		if (at_once)
			lockorder_loops(lo, same, e, loop_found, NULL);
	}
	if (stack)
		munmap(stack, ORDER_TEXT);
}

/* ---- the record for run: a key, the JSON, the text ---- */

/* A native pc as "function+0x1a (module)", and what suppressions name. */
static void native_where(uint64_t pc, char *out, size_t size, char *site,
			 size_t site_size)
{
	Dl_info di;
	const char *mod;

	if (!pc || !dladdr((void *)(uintptr_t)pc, &di) || !di.dli_fname) {
		snprintf(out, size, "%#llx", (unsigned long long)pc);
		snprintf(site, site_size, "%#llx", (unsigned long long)pc);
		return;
	}
	mod = strrchr(di.dli_fname, '/');
	mod = mod ? mod + 1 : di.dli_fname;
	if (!*mod)
		mod = "the program";
	if (di.dli_sname) {
		snprintf(out, size, "%s+%#llx (%s)", di.dli_sname,
			 (unsigned long long)(pc - (uint64_t)(uintptr_t)di.dli_saddr),
			 mod);
		snprintf(site, site_size, "%s", di.dli_sname);
	} else {
		snprintf(out, size, "%s+%#llx", mod,
			 (unsigned long long)(pc - (uint64_t)(uintptr_t)di.dli_fbase));
		snprintf(site, site_size, "%s", out);
	}
}

static void class_text(const struct lockorder *l, uint32_t c, char *name,
		       size_t size, char *site, size_t site_size);

void shim_order_class_name(uint32_t c, char *name, size_t size)
{
	char site[ORDER_TEXT];

	class_text(lo, c, name, size, site, sizeof(site));
}

/* A class's description and site (native ones named now). */
static void class_text(const struct lockorder *l, uint32_t c, char *name,
		       size_t size, char *site, size_t site_size)
{
	const struct lo_class *k = &l->classes[c];
	char where[ORDER_TEXT];

	if (k->name && *lockorder_str(l, k->name)) {
		snprintf(name, size, "%s", lockorder_str(l, k->name));
		snprintf(site, site_size, "%s", lockorder_str(l, k->site));
	} else if (k->k2 == KEY_NATIVE) {
		native_where(k->k1, where, sizeof(where), site, site_size);
		snprintf(name, size, "made at %.1000s", where);
	} else {
		native_where(k->k1, where, sizeof(where), site, site_size);
		snprintf(name, size, "at %#llx (%.1000s), never initialised by a call",
			 (unsigned long long)k->k1, where);
	}
}

/* Letter of node id among the loop's locks (A, B, ...). */
static char letter(const struct lo_edge *const *loop, int n, uint32_t id)
{
	for (int i = 0; i < n; i++)
		if (loop[i]->from == id)
			return (char)('A' + i);
	return '?';
}

static uint64_t text_hash(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

void shim_record_send(const char *buf, size_t len)
{
	char path[64];
	pid_t sup = shim_report_supervisor();
	int fd;

	if (!sup)
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)sup, report_fd);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)syscall(SYS_write, fd, buf, len);
	close(fd);
}

/* One loop: its record for run, unless suppressed. */
static void loop_found(const struct lockorder *l, bool same,
		       const struct lo_edge *const *loop, int n, void *arg)
{
	char names[LO_MAX_LOOP][ORDER_TEXT], sites[LO_MAX_LOOP][ORDER_TEXT];
	const char *site_list[LO_MAX_LOOP];
	char comm[17] = "";
	struct shim_text r = { 0 };
	uint64_t key = 0xcbf29ce484222325ull;
	int n_sites = 0;

	(void)arg;
	for (int i = 0; i < n; i++) {
		bool dup = false;

		class_text(l, loop[i]->from_class, names[i], sizeof(names[i]),
			   sites[i], sizeof(sites[i]));
		for (int j = 0; j < n_sites && !dup; j++)
			dup = !strcmp(site_list[j], sites[i]);
		if (!dup)
			site_list[n_sites++] = sites[i];
		key = text_hash(key, names[i]);
		key = text_hash(key, lockorder_str(l, loop[i]->held_at));
	}
	if (suppressions && lockorder_suppressed(suppressions, site_list, n_sites))
		return;
	r.size = ORDER_RECORD;
	r.buf = mmap(NULL, r.size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.buf == MAP_FAILED)
		return;
	prctl(PR_GET_NAME, comm);
	shim_text_put(&r, "K%016llx\nJ{\"kind\": \"lock-order\", \"certain\": false, \"pid\": %d, \"locks\": [",
	    (unsigned long long)key, (int)getpid());
	for (int i = 0; i < n; i++) {
		shim_text_put(&r, "%s{\"name\": \"%c\", \"class\": ", i ? ", " : "", 'A' + i);
		shim_text_json(&r, names[i]);
		shim_text_put(&r, ", \"site\": ");
		shim_text_json(&r, sites[i]);
		shim_text_put(&r, "}");
	}
	shim_text_put(&r, "], \"orders\": [");
	for (int i = 0; i < n; i++) {
		const struct lo_edge *e = loop[i];
		char where[ORDER_TEXT], ignored[ORDER_TEXT];
		const char *p = lockorder_str(l, e->taken_at);

		shim_text_put(&r, "%s{\"tid\": %d, \"holds\": \"%c\", \"takes\": \"%c\", \"held_at\": ",
		    i ? ", " : "", e->tid, letter(loop, n, e->from),
		    letter(loop, n, e->to));
		if (e->held_at)
			snprintf(where, sizeof(where), "%s", lockorder_str(l, e->held_at));
		else
			native_where(e->held_pc, where, sizeof(where), ignored,
				     sizeof(ignored));
		shim_text_json(&r, where);
		shim_text_put(&r, ", \"stack\": [");
		if (!*p) {
			native_where(e->taken_pc, where, sizeof(where), ignored,
				     sizeof(ignored));
			shim_text_json(&r, where);
		}
		for (bool first = true; *p; first = false) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			snprintf(where, sizeof(where), "%.*s", (int)len, p);
			shim_text_put(&r, "%s", first ? "" : ", ");
			shim_text_json(&r, where);
			p += len + (nl != NULL);
		}
		shim_text_put(&r, "]}");
	}
	shim_text_put(&r, "]}\n");
	/* the text */
	shim_text_put(&r, "pydeadlock: potential deadlock in process %d (%s): %d locks taken in orders that form a loop%s\n",
	    (int)getpid(), comm, n, same ? " (locks of one class)" : "");
	for (int i = 0; i < n; i++)
		shim_text_put(&r, "  lock %c: %s%s\n", 'A' + i, same ? "one of the locks " : "",
		    names[i]);
	for (int i = 0; i < n; i++) {
		const struct lo_edge *e = loop[i];
		char where[ORDER_TEXT], ignored[ORDER_TEXT];
		const char *p = lockorder_str(l, e->taken_at);

		if (e->held_at)
			snprintf(where, sizeof(where), "%s", lockorder_str(l, e->held_at));
		else
			native_where(e->held_pc, where, sizeof(where), ignored,
				     sizeof(ignored));
		shim_text_put(&r, "  thread %d held %c (taken at %s) when it took %c at:\n",
		    e->tid, letter(loop, n, e->from), where, letter(loop, n, e->to));
		if (!*p) {
			native_where(e->taken_pc, where, sizeof(where), ignored,
				     sizeof(ignored));
			shim_text_put(&r, "      %s\n", where);
		}
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			shim_text_put(&r, "      %.*s\n", (int)len, p);
			p += len + (nl != NULL);
		}
	}
	shim_text_put(&r, "  accepted? a suppressions file line silences it: lock-order");
	for (int i = 0; i < n_sites; i++)
		shim_text_put(&r, " %s", site_list[i]);
	shim_text_put(&r, "\n");
	r.buf[r.len] = '\0';
	shim_record_send(r.buf, r.len + 1);	/* with its NUL */
	munmap(r.buf, r.size);
	if (at_once && atomic_exchange(&flushed_by, getpid()) != getpid()) {
		pid_t sup = shim_report_supervisor();
		union sigval v = { .sival_int = getpid() };

		shim_profile_flush();

		if (sup)
			(void)sigqueue(sup, supervisor_signal(SUPERVISOR_ORDER), v);
		_exit(EXIT_LOCK_ORDER);
	}
}

void shim_order_flush(void)
{
	if (!shim_order || atomic_exchange(&flushed_by, getpid()) == getpid())
		return;
	said_full();
	lockorder_loops(lo, false, NULL, loop_found, NULL);
	lockorder_loops(lo, true, NULL, loop_found, NULL);
}
