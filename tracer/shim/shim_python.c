/*
 * Where in Python the calling thread is: the code object and bytecode
 * offset of its current frame, read in-process from its thread state with
 * the per-version layouts of tracer/python.  Used to record the Python
 * line at which each lock was acquired.  Reads only the calling thread's
 * own frames; never calls into Python.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tracer/python/py_layout.h"
#include "tracer/python/py_private.h"
#include "tracer/python/py_reader.h"
#include "tracer/shim/shim.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

typedef void *(*tstate_get_fn)(void);

static _Atomic int state;	/* 0: not looked, 1: usable, 2: no Python */

static tstate_get_fn tstate_get;
static const struct py_layout *layout;
static struct py_layout checked;	/* 3.13+: the entry, as the table says */
static uint64_t runtime_addr;	/* _PyRuntime */

#define PY_OWNED_BY_CSTACK 3	/* 3.12+: an eval loop's entry marker frame */

/* The running CPython's PY_VERSION_HEX, or 0. */
static uint32_t python_hexversion(void)
{
	const uint32_t *v = dlsym(RTLD_DEFAULT, "Py_Version");	/* 3.11+ */
	const char *(*get)(void);
	unsigned major, minor, micro;

	if (v)
		return *v;
	get = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
	if (!get || sscanf(get(), "%u.%u.%u", &major, &minor, &micro) != 3)
		return 0;
	return major << 24 | minor << 16 | micro << 8 | 0xf0;
}

/*
 * The layout of this interpreter: the table's entry for its version and
 * build.  From 3.13 _PyRuntime starts with _Py_DebugOffsets, which says
 * whether the build is free-threaded and corrects the entry, exactly as
 * attach reads it from outside (static data: valid from the start).
 */
static const struct py_layout *python_layout(uint32_t hex, uint64_t runtime)
{
	struct py_debug_offsets d = { 0 };
	const struct py_layout *l;

	if (hex >= PY_DEBUG_MIN_HEX && runtime)
		memcpy(&d, (const void *)(uintptr_t)runtime, sizeof(d));
	if (!py_debug_offsets_valid(&d))
		return py_layout_find(hex, false);
	if (!(l = py_layout_find(hex, d.free_threaded != 0)))
		return NULL;
	checked = *l;
	return py_layout_merge_debug_offsets(&checked, &d) < 0 ? NULL : &checked;
}

/* Look for Python once it may be there; false when it is not (yet). */
static bool python_ready(void)
{
	int s = atomic_load_explicit(&state, memory_order_acquire);

	if (__builtin_expect(s == 1, 1))
		return true;
	if (s == 2)
		return false;
	/*
	 * This thread's own state, with or without the GIL (its frames are
	 * its own: nobody else changes them while it is in here).  Not
	 * _PyThreadState_UncheckedGet: up to 3.11 that is the GIL holder's,
	 * another thread's whose frames change under the read.
	 */
	tstate_get = (tstate_get_fn)dlsym(RTLD_DEFAULT,
					  "PyGILState_GetThisThreadState");
	if (!tstate_get) {
		/* decided once, at start-up: no dlsym on the lock paths */
		atomic_store_explicit(&state, 2, memory_order_release);
		return false;
	}
	runtime_addr = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "_PyRuntime");
	layout = python_layout(python_hexversion(), runtime_addr);
	atomic_store_explicit(&state, layout ? 1 : 2, memory_order_release);
	return layout != NULL;
}

static uint64_t word_at(uint64_t addr, uint32_t off)
{
	uint64_t v;

	memcpy(&v, (const void *)(uintptr_t)(addr + off), sizeof(v));
	return v;
}

static uint8_t byte_at(uint64_t addr)
{
	return *(const uint8_t *)(uintptr_t)addr;
}

/* The frame this thread's state says it runs, or 0. */
static uint64_t current_frame(uint64_t tstate)
{
	if (layout->tstate_cframe)
		return word_at(word_at(tstate, layout->tstate_cframe),
			       layout->cframe_current_frame);
	return word_at(tstate, layout->tstate_frame);
}

/* The frame's bytecode offset, in bytes. */
static int64_t frame_lasti(uint64_t frame, uint64_t code)
{
	int32_t i32;

	switch (layout->lasti_kind) {
	case PY_LASTI_BYTES:
	case PY_LASTI_UNITS:
		memcpy(&i32, (const void *)(uintptr_t)(frame + layout->frame_lasti),
		       sizeof(i32));
		return layout->lasti_kind == PY_LASTI_UNITS ? (int64_t)i32 * 2 : i32;
	case PY_LASTI_PTR:
		return (int64_t)(word_at(frame, layout->frame_lasti) -
				 (code + layout->code_adaptive));
	}
	return -1;
}

#define PY_EXTENDED_ARG_310 144	/* 3.9, 3.10: a prefix lasti may stop at */
#define PY_EXTENDED_ARG_MAX 3	/* prefixes before one instruction */

/*
 * The opcode a frame executes now (at lasti), or -1.  Up to 3.10 an
 * instruction with a large argument (SETUP_WITH of a long block) has
 * EXTENDED_ARG prefixes, and lasti stays at the first of them.
 */
static int frame_opcode(uint64_t code, int64_t lasti)
{
	uint64_t bytes;
	int64_t size;
	int op = -1;

	if (lasti < 0)
		return -1;
	if (layout->lasti_kind == PY_LASTI_PTR)
		return byte_at(code + layout->code_adaptive + lasti);
	bytes = word_at(code, layout->code_code);
	if (!bytes)
		return -1;
	size = (int64_t)word_at(bytes, layout->bytes_size);
	for (int k = 0; k <= PY_EXTENDED_ARG_MAX && lasti < size; k++, lasti += 2) {
		op = byte_at(bytes + layout->bytes_data + lasti);
		if (op != PY_EXTENDED_ARG_310)
			return op;
	}
	return -1;
}

/* Is this 3.12+'s entry marker frame (no program code)? */
static bool entry_marker(uint64_t frame)
{
	return layout->frame_interp &&
	       byte_at(frame + layout->frame_owner) == PY_OWNED_BY_CSTACK;
}

/* The frame that called this one, skipping 3.12+'s entry markers. */
static uint64_t frame_caller(uint64_t frame)
{
	for (int hops = 0; hops < 2; hops++) {
		frame = word_at(frame, layout->frame_back);
		if (!frame || !entry_marker(frame))
			return frame;
	}
	return 0;
}

/* A frame's code object; 0 for an entry marker. */
static uint64_t frame_code(uint64_t frame)
{
	return entry_marker(frame) ? 0 : word_at(frame, layout->frame_code);
}

/* Is this code object's name "__enter__" (a compact ASCII str)? */
static bool code_is_enter(uint64_t code)
{
	static const char enter[] = "__enter__";
	uint64_t name = word_at(code, layout->code_name);
	uint8_t bits;

	if (!name || word_at(name, layout->unicode_length) != sizeof(enter) - 1)
		return false;
	bits = byte_at(name + layout->unicode_state);
	if (!((bits >> 5) & 1) || !((bits >> 6) & 1))	/* compact, ASCII */
		return false;
	return !memcmp((const void *)(uintptr_t)(name + layout->unicode_ascii_size),
		       enter, sizeof(enter) - 1);
}

bool shim_python_site(uint64_t *code, int64_t *lasti, bool *by_with)
{
	uint64_t tstate, frame, caller;
	int op;

	if (!python_ready() || !(tstate = (uint64_t)(uintptr_t)tstate_get()))
		return false;
	frame = current_frame(tstate);
	if (!frame || !(*code = word_at(frame, layout->frame_code)))
		return false;
	*lasti = frame_lasti(frame, *code);
	if (!by_with)
		return true;
	/*
	 * Taken by a `with` statement: the frame executes the opcode that
	 * enters a with block (the lock's own __enter__ is C), or a Python
	 * __enter__ (Condition's, a program's own context manager) that a
	 * with statement called.  Its holder will release it when the block
	 * ends, most likely; yet any thread may release a Lock, so this is
	 * a lead for the supervisor, never an owner.
	 */
	op = frame_opcode(*code, *lasti);
	*by_with = op == layout->op_with;
	if (!*by_with && code_is_enter(*code) && (caller = frame_caller(frame))) {
		uint64_t ccode = word_at(caller, layout->frame_code);

		*by_with = ccode && frame_opcode(ccode, frame_lasti(caller, ccode)) ==
				    layout->op_with;
	}
	return true;
}

/* Does the str object begin with prefix (a compact ASCII str)? */
static bool str_starts(uint64_t str, const char *prefix)
{
	size_t n = strlen(prefix);
	uint8_t bits;

	if (!str || word_at(str, layout->unicode_length) < n)
		return false;
	bits = byte_at(str + layout->unicode_state);
	if (!((bits >> 5) & 1) || !((bits >> 6) & 1))	/* compact, ASCII */
		return false;
	return !memcmp((const void *)(uintptr_t)(str + layout->unicode_ascii_size),
		       prefix, n);
}

bool shim_python_bootstrap(void)
{
	uint64_t tstate, frame, code;

	if (!python_ready() || !(tstate = (uint64_t)(uintptr_t)tstate_get()))
		return false;
	frame = current_frame(tstate);
	if (!frame || !(code = word_at(frame, layout->frame_code)))
		return true;	/* no Python code runs: the interpreter's own */
	return str_starts(word_at(code, layout->code_filename), "<frozen ");
}

bool shim_python_present(void)
{
	return python_ready();
}

uint64_t shim_python_tstate(void)
{
	if (!python_ready())
		return 0;
	return (uint64_t)(uintptr_t)tstate_get();
}

/* ---- lock order: where locks are made and taken, as text ---- */

#define ORDER_FRAMES_SKIPPED 16	/* threading.py frames over a lock's maker */
#define ORDER_TABLE_MAX 65536	/* line table bytes read */

/*
 * Read n bytes at addr of this process, or fail where nothing is mapped:
 * a code object remembered earlier may have been freed since.
 */
static bool safe_read(uint64_t addr, void *buf, size_t n)
{
	struct iovec local = { buf, n }, remote = { (void *)(uintptr_t)addr, n };

	return addr && syscall(SYS_process_vm_readv, getpid(), &local, 1,
			       &remote, 1, 0) == (ssize_t)n;
}

static uint64_t safe_word(uint64_t addr)
{
	uint64_t v = 0;

	return safe_read(addr, &v, sizeof(v)) ? v : 0;
}

/* A compact ASCII str into out ("?" otherwise). */
static void safe_str(uint64_t str, char *out, size_t size)
{
	uint64_t len = safe_word(str + layout->unicode_length);
	uint8_t bits = 0;

	snprintf(out, size, "?");
	if (!len || !safe_read(str + layout->unicode_state, &bits, 1) ||
	    !((bits >> 5) & 1) || !((bits >> 6) & 1))
		return;
	if (len > size - 1)
		len = size - 1;
	if (safe_read(str + layout->unicode_ascii_size, out, len))
		out[len] = '\0';
	else
		snprintf(out, size, "?");
}

/* The line of lasti in code (safe reads), or 0. */
static int safe_line(uint64_t code, int64_t lasti)
{
	int32_t first = 0;
	uint64_t table = safe_word(code + layout->code_linetable), len;
	uint8_t *bytes;
	int line = 0;

	if (!safe_read(code + layout->code_firstlineno, &first, sizeof(first)))
		return 0;
	if (lasti < 0 || !table)
		return first > 0 ? first : 0;
	len = safe_word(table + layout->bytes_size);
	if (!len)	/* 3.9: a code object all on its first line */
		return first > 0 ? first : 0;
	if (len > ORDER_TABLE_MAX)
		return 0;
	bytes = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bytes == MAP_FAILED)
		return 0;
	if (safe_read(table + layout->bytes_data, bytes, len)) {
		switch (layout->lines_kind) {
		case PY_LINES_LNOTAB:
			line = py_lines_lnotab(bytes, len, first, lasti);
			break;
		case PY_LINES_LINETABLE:
			line = py_lines_linetable(bytes, len, first, lasti);
			break;
		case PY_LINES_LOCATIONS:
			line = py_lines_locations(bytes, len, first, lasti);
			break;
		}
	}
	munmap(bytes, len);
	return line;
}

bool shim_python_where(uint64_t code, int64_t lasti, char *where, size_t size,
		       char *site, size_t site_size)
{
	char file[256], name[128];
	int line;

	if (!python_ready() || !code)
		return false;
	safe_str(safe_word(code + layout->code_filename), file, sizeof(file));
	safe_str(safe_word(code + layout->code_name), name, sizeof(name));
	line = safe_line(code, lasti);
	snprintf(where, size, "%s:%d in %s", file, line, name);
	if (site)
		snprintf(site, site_size, "%s:%d", file, line);
	return strcmp(file, "?") != 0;
}

/* Does the str end with suffix (a compact ASCII str)? */
static bool str_ends(uint64_t str, const char *suffix)
{
	size_t n = strlen(suffix);
	uint64_t len;
	uint8_t bits;

	if (!str || (len = word_at(str, layout->unicode_length)) < n)
		return false;
	bits = byte_at(str + layout->unicode_state);
	if (!((bits >> 5) & 1) || !((bits >> 6) & 1))
		return false;
	return !memcmp((const void *)(uintptr_t)(str + layout->unicode_ascii_size +
						 len - n),
		       suffix, n);
}

bool shim_python_maker(uint64_t *code, int64_t *lasti)
{
	uint64_t tstate, frame;

	if (!python_ready() || !(tstate = (uint64_t)(uintptr_t)tstate_get()))
		return false;
	frame = current_frame(tstate);
	for (int hops = 0; frame && hops < ORDER_FRAMES_SKIPPED; hops++) {
		uint64_t c = frame_code(frame);

		if (c) {
			/* threading's factories make the locks of Condition,
			 * Event, Semaphore...: the class is their caller's */
			if (!str_ends(word_at(c, layout->code_filename), "/threading.py")) {
				*code = c;
				*lasti = frame_lasti(frame, c);
				return true;
			}
		}
		frame = word_at(frame, layout->frame_back);
	}
	return false;
}

int shim_python_stack_text(char *out, size_t size, int max)
{
	uint64_t tstate, frame;
	size_t used = 0;
	int n = 0;

	out[0] = '\0';
	if (!python_ready() || !(tstate = (uint64_t)(uintptr_t)tstate_get()))
		return 0;
	frame = current_frame(tstate);
	for (int hops = 0; frame && n < max && hops < 4 * max; hops++) {
		uint64_t c = frame_code(frame);
		char where[512];

		if (c && shim_python_where(c, frame_lasti(frame, c), where, sizeof(where),
				      NULL, 0)) {
			int k = snprintf(out + used, size - used, "%s%s",
					 n ? "\n" : "", where);

			if (k < 0 || (size_t)k >= size - used)
				break;
			used += (size_t)k;
			n++;
		}
		frame = word_at(frame, layout->frame_back);
	}
	return n;
}

bool shim_python_entry(char *out, size_t size)
{
	uint64_t tstate, frame, entry = 0;

	if (!python_ready() || !(tstate = (uint64_t)(uintptr_t)tstate_get()))
		return false;
	frame = current_frame(tstate);
	for (int hops = 0; frame && hops < 1024; hops++) {
		uint64_t c = frame_code(frame);
		uint64_t file = c ? word_at(c, layout->code_filename) : 0;

		/* not threading's frames, nor the import machinery's (a main
		 * thread's first waits are in its start-up imports) */
		if (c && !str_ends(file, "/threading.py") && !str_starts(file, "<frozen "))
			entry = c;	/* the outermost so far */
		frame = word_at(frame, layout->frame_back);
	}
	if (!entry)
		return false;
	safe_str(safe_word(entry + layout->code_name), out, size);
	return strcmp(out, "?") != 0;
}

int shim_python_wait_kind(void)
{
	uint64_t tstate, frame, code, name, len;
	char fn[32];

	if (!python_ready() || !(tstate = (uint64_t)(uintptr_t)tstate_get()) ||
	    !(frame = current_frame(tstate)) ||
	    !(code = word_at(frame, layout->frame_code)) ||
	    !str_ends(word_at(code, layout->code_filename), "/threading.py"))
		return PY_WAIT_LOCK;
	/* the running frame's code is alive: its name read directly */
	name = word_at(code, layout->code_name);
	if (!name || (len = word_at(name, layout->unicode_length)) >= sizeof(fn) ||
	    !str_starts(name, ""))	/* a compact ASCII str */
		return PY_WAIT_LOCK;
	memcpy(fn, (const void *)(uintptr_t)(name + layout->unicode_ascii_size), len);
	fn[len] = '\0';
	return py_threading_wait(fn);
}

bool shim_python_blocking_call(uint64_t code, int64_t lasti)
{
	int op = frame_opcode(code, lasti);
	int64_t at = lasti;

	if (op < 0)
		return false;
	if (op == layout->op_with)
		return true;
	/* the call's argument count: acquire() with none blocks; with
	 * blocking=False or a timeout it may not, and adds no order */
	if (layout->lasti_kind == PY_LASTI_PTR)
		return byte_at(code + layout->code_adaptive + at + 1) == 0;
	{
		uint64_t bytes = word_at(code, layout->code_code);

		for (int k = 0; bytes && k <= PY_EXTENDED_ARG_MAX; k++, at += 2)
			if (byte_at(bytes + layout->bytes_data + at) != PY_EXTENDED_ARG_310)
				return byte_at(bytes + layout->bytes_data + at + 1) == 0;
	}
	return false;
}

/* sizeof(struct _gil_runtime_state), and where its cond and mutexes end */
#define GIL_STATE_SIZE 208

bool shim_python_gil(struct registry_gil *gil)
{
	static _Atomic uint64_t found;
	uint64_t runtime, interp, addr = atomic_load(&found);

	if (!addr && python_ready() && runtime_addr) {
		runtime = runtime_addr;
		if (layout->runtime_gil) {
			addr = runtime + layout->runtime_gil;
		} else if (layout->interp_ceval_gil) {
			/* 3.12+: the main interpreter's, once it exists */
			interp = word_at(runtime, layout->runtime_interpreters_head);
			addr = interp ? word_at(interp, layout->interp_ceval_gil) : 0;
		}
		if (addr)
			atomic_store(&found, addr);
	}
	if (!addr)
		return false;
	gil->addr = addr;
	gil->locked_off = layout->gil_locked;
	gil->holder_off = layout->gil_last_holder;
	gil->ident_off = layout->tstate_thread_id;
	gil->mutex_off = layout->gil_mutex;
	gil->size = GIL_STATE_SIZE;
	return true;
}

/* ---- failing a Python lock's wait: DeadlockError at the waiting line ---- */

/*
 * CPython's lock acquire, told EINTR by the semaphore, takes the GIL back
 * and runs its pending calls through the PLT (the shared libpython of the
 * pyenv builds): Py_MakePendingCalls up to 3.11, _PyEval_MakePendingCalls
 * from 3.12.  Interposed here, they raise DeadlockError in the victim
 * thread, and lock.acquire() / `with lock:` raises it at its line.
 */
static TLS int python_victim;	/* this thread's lock wait was failed */
static TLS const void *failed_sem;	/* ... that semaphore's */
static TLS char python_victim_why[192];

typedef void *pyobj;
struct python_api {
	pyobj (*import)(const char *);
	pyobj (*getattr)(pyobj, const char *);
	void (*set_string)(pyobj, const char *);
	void (*clear)(void);
	pyobj (*new_exception)(const char *, pyobj, pyobj);
	pyobj *runtime_error;
	int (*add_pending)(int (*)(void *), void *);
};

static struct python_api api;	/* looked up once, at start-up */
static bool api_ok;

static bool python_api_lookup(struct python_api *a)
{
	a->import = (pyobj (*)(const char *))dlsym(RTLD_DEFAULT, "PyImport_ImportModule");
	a->getattr = (pyobj (*)(pyobj, const char *))dlsym(RTLD_DEFAULT, "PyObject_GetAttrString");
	a->set_string = (void (*)(pyobj, const char *))dlsym(RTLD_DEFAULT, "PyErr_SetString");
	a->clear = (void (*)(void))dlsym(RTLD_DEFAULT, "PyErr_Clear");
	a->new_exception = (pyobj (*)(const char *, pyobj, pyobj))dlsym(RTLD_DEFAULT, "PyErr_NewException");
	a->runtime_error = dlsym(RTLD_DEFAULT, "PyExc_RuntimeError");
	a->add_pending = (int (*)(int (*)(void *), void *))dlsym(RTLD_DEFAULT, "Py_AddPendingCall");
	return a->import && a->getattr && a->set_string && a->clear &&
	       a->new_exception && a->runtime_error && a->add_pending;
}

/* The API found at start-up: no dlsym while failing a wait. */
static bool python_api(struct python_api *a)
{
	*a = api;
	return api_ok;
}

/*
 * Raise pydeadlock.DeadlockError (the class of the pydeadlock package that
 * pydeadlock run puts on PYTHONPATH; made here if it cannot be imported).
 * Called with the GIL held; returns -1 as the pending calls do on error.
 */
static int raise_deadlock_error(const char *why)
{
	static pyobj made;	/* the fallback class, made once */
	struct python_api a;
	pyobj mod, cls = NULL;

	if (!python_api(&a))
		return -1;
	mod = a.import("pydeadlock");
	if (mod)
		cls = a.getattr(mod, "DeadlockError");
	if (!cls) {
		a.clear();
		if (!made)
			made = a.new_exception("pydeadlock.DeadlockError",
					       *a.runtime_error, NULL);
		cls = made ? made : *a.runtime_error;
	}
	a.set_string(cls, why);
	shim_break_delivered();
	return -1;
}

/*
 * A statically linked interpreter (Debian's python3.11) calls its own
 * pending-calls functions directly: we cannot interpose them.  But its
 * lock acquire, told EINTR, runs them in whatever thread waited, and they
 * run the queued calls only where _Py_IsMainThread(): where
 * PyThread_get_thread_ident(), a pthread_self() that such a binary takes
 * from libc through its PLT, equals the main thread's.  So the victim
 * thread queues a call that raises, and pretends to be the main thread
 * (pthread_self below) until that call runs in it.  The call, should
 * another thread (main) run it first, puts itself back in the queue; it
 * does nothing once the victim gave up (its next wait began).  One victim
 * at a time.  Checked once, at the first need, by asking the interpreter
 * who is pretending: PyThread_get_thread_ident() must answer main's.
 */
static pthread_t main_thread;		/* pthread_self() at start-up */
/* libc's, once found; before that (other libraries' constructors), the
 * thread pointer, which is what glibc returns on x86_64 */
static pthread_t (*real_pthread_self)(void);
static TLS bool pretend_main;		/* this thread's pthread_self lies */
static _Atomic pid_t static_victim;	/* the thread the call is for, 0 */

static int pending_raise(void *arg)
{
	pid_t me = (pid_t)syscall(SYS_gettid), victim = atomic_load(&static_victim);
	struct python_api a;

	(void)arg;
	if (!victim)
		return 0;	/* the victim gave up: nothing to raise */
	if (victim != me) {	/* not here: put back for the victim */
		if (python_api(&a))
			(void)a.add_pending(pending_raise, NULL);
		return 0;
	}
	pretend_main = false;
	failed_sem = NULL;
	atomic_store(&static_victim, 0);
	return raise_deadlock_error(python_victim_why);
}

/* Does this interpreter take pthread_self() from us (through its PLT)? */
static bool pretend_route(void)
{
	static _Atomic int known;	/* 0 unknown, 1 yes, 2 no */
	unsigned long (*ident)(void);
	bool was = pretend_main, ok;

	if (atomic_load(&known))
		return atomic_load(&known) == 1;
	ident = (unsigned long (*)(void))dlsym(RTLD_DEFAULT,
					       "PyThread_get_thread_ident");
	pretend_main = true;
	ok = ident && main_thread && ident() == (unsigned long)main_thread;
	pretend_main = was;
	atomic_store(&known, ok ? 1 : 2);
	return ok;
}

/* The calling thread blocks on sem: if that is the semaphore whose wait
 * failed, its caller retried without running pending calls, and the
 * raise it asked for is not coming.  (Other semaphores, such as the lock
 * of the pending calls' queue, come between a failure and its raise.) */
void shim_python_wait_begins(const void *sem)
{
	pid_t me;

	if (__builtin_expect(sem != failed_sem, 1))
		return;
	failed_sem = NULL;
	python_victim = 0;
	if (!pretend_main)
		return;
	pretend_main = false;
	me = (pid_t)syscall(SYS_gettid);
	atomic_compare_exchange_strong(&static_victim, &me, 0);
}

/* Where the pending-calls function lives: libpython (interposable) or not */
static bool pending_calls_interposable(void)
{
	static _Atomic int known;	/* 0 unknown, 1 yes, 2 no */
	void *f;
	Dl_info info;

	if (atomic_load(&known))
		return atomic_load(&known) == 1;
	/*
	 * The definition after ours: libpython's when it is a shared library
	 * (ours is then the one its PLT calls); none when the executable
	 * holds the interpreter, whose own calls never reach us.
	 */
	f = dlsym(RTLD_NEXT, "Py_MakePendingCalls");
	atomic_store(&known, f && dladdr(f, &info) && info.dli_fname &&
			     strstr(info.dli_fname, "libpython") ? 1 : 2);
	return atomic_load(&known) == 1;
}

void shim_python_init(void)
{
	real_pthread_self = (pthread_t (*)(void))dlsym(RTLD_NEXT, "pthread_self");
	main_thread = pthread_self();	/* a constructor: the main thread */
	/* look once, outside any intercepted call: dlsym takes the loader's
	 * lock and may allocate (a Python dlopen'ed later is not seen) */
	python_ready();
	if (atomic_load(&state) == 1) {
		pending_calls_interposable();
		api_ok = python_api_lookup(&api);
	}
}

bool shim_python_can_fail(pid_t tid)
{
	if (!python_ready())
		return true;	/* not Python: C waits fail with EDEADLK */
	return pending_calls_interposable() || tid == getpid() ||
	       pretend_route();
}

bool shim_python_fail_wait(const char *why, const void *sem)
{
	struct python_api a;

	if (!python_ready())
		return false;
	pid_t me = (pid_t)syscall(SYS_gettid), none = 0;

	snprintf(python_victim_why, sizeof(python_victim_why), "%s", why);
	failed_sem = sem;
	if (pending_calls_interposable()) {
		python_victim = 1;
		return true;
	}
	/* a static interpreter: a call queued for this thread, which runs
	 * the queue as the main thread would (see pending_raise) */
	if ((me != getpid() && !pretend_route()) || !python_api(&a) ||
	    !atomic_compare_exchange_strong(&static_victim, &none, me))
		return false;
	pretend_main = me != getpid();
	if (a.add_pending(pending_raise, NULL) != 0) {
		pretend_main = false;
		atomic_store(&static_victim, 0);
		return false;
	}
	return true;
}

#define EXPORT __attribute__((visibility("default")))

EXPORT int Py_MakePendingCalls(void);
EXPORT int _PyEval_MakePendingCalls(void *tstate);
EXPORT int _PyParkingLot_Park(const void *addr, const void *expected,
			      size_t size, int64_t timeout_ns, void *arg,
			      int detach);

/*
 * 3.13.1+ parks a thread that waits for a Lock (a PyMutex), an event (a
 * join), a SimpleQueue or an internal mutex here, through the PLT of a
 * shared libpython.  The address parked on is kept for the semaphore wait
 * inside (shim_python_parked).  A victim's failed park that its caller
 * does not turn into an exception (it parks again) must not leave the
 * raise pending for a later, unrelated wait: it is dropped at the next
 * park.
 */
static TLS const void *parked_on;
static TLS bool parked_mutex;	/* on a PyMutex */

/* Python/lock.c (3.13): a PyMutex waiter parks on its one byte, expecting
 * it locked with waiters (_Py_LOCKED | _Py_HAS_PARKED), with its own
 * entry as the park's argument.  An event expects _Py_HAS_PARKED alone,
 * a SimpleQueue 1 with an argument, a once-flag 3 with none. */
#define PY_MUTEX_LOCKED_PARKED 3

static bool park_is_mutex(const void *expected, size_t size, const void *arg)
{
	return size == 1 && arg &&
	       *(const uint8_t *)expected == PY_MUTEX_LOCKED_PARKED;
}

EXPORT int _PyParkingLot_Park(const void *addr, const void *expected,
			      size_t size, int64_t timeout_ns, void *arg,
			      int detach)
{
	static int (*real)(const void *, const void *, size_t, int64_t,
			   void *, int);
	const void *outer = parked_on;
	bool outer_mutex = parked_mutex;
	int rc;

	if (!real)
		real = (int (*)(const void *, const void *, size_t, int64_t,
				void *, int))dlsym(RTLD_NEXT, "_PyParkingLot_Park");
	if (!real)
		abort();	/* only libpython calls this, and defines it */
	python_victim = 0;
	parked_on = addr;
	parked_mutex = park_is_mutex(expected, size, arg);
	rc = real(addr, expected, size, timeout_ns, arg, detach);
	parked_on = outer;
	parked_mutex = outer_mutex;
	return rc;
}

/* struct wait_entry (Python/parking_lot.c, 3.13): park_arg, addr, sema */
#define PARK_ADDR_BEFORE_SEMA 8

bool shim_python_parked_mutex(const void *sem)
{
	return parked_mutex && shim_python_parked(sem);
}

bool shim_python_parked(const void *sem)
{
	uintptr_t addr;

	if (!parked_on)
		return false;
	memcpy(&addr, (const char *)sem - PARK_ADDR_BEFORE_SEMA, sizeof(addr));
	return addr == (uintptr_t)parked_on;
}

EXPORT pthread_t pthread_self(void);

EXPORT pthread_t pthread_self(void)
{
	if (__builtin_expect(pretend_main, 0))
		return main_thread;
	if (__builtin_expect(real_pthread_self != NULL, 1))
		return real_pthread_self();
	return (pthread_t)__builtin_thread_pointer();
}

EXPORT int Py_MakePendingCalls(void)
{
	static int (*real)(void);

	if (python_victim) {
		python_victim = 0;
		return raise_deadlock_error(python_victim_why);
	}
	if (!real)
		real = (int (*)(void))dlsym(RTLD_NEXT, "Py_MakePendingCalls");
	return real ? real() : 0;
}

EXPORT int _PyEval_MakePendingCalls(void *tstate)
{
	static int (*real)(void *);

	if (python_victim) {
		python_victim = 0;
		return raise_deadlock_error(python_victim_why);
	}
	if (!real)
		real = (int (*)(void *))dlsym(RTLD_NEXT, "_PyEval_MakePendingCalls");
	return real ? real(tstate) : 0;
}
