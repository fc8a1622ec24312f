/*
 * Where in Python the calling thread is: the code object and bytecode
 * offset of its current frame, read in-process from its thread state with
 * the per-version layouts of tracer/python.  Used to record the Python
 * line at which each lock was acquired.  Reads only the calling thread's
 * own frames; never calls into Python.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracer/python/py_layout.h"
#include "tracer/shim/shim.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

typedef void *(*tstate_get_fn)(void);

static _Atomic int state;	/* 0: not looked, 1: usable, 2: no Python */

static tstate_get_fn tstate_get;
static const struct py_layout *layout;
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
	layout = py_layout_find(python_hexversion());
	runtime_addr = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "_PyRuntime");
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

/* The frame that called this one, skipping 3.12+'s entry markers. */
static uint64_t frame_caller(uint64_t frame)
{
	for (int hops = 0; hops < 2; hops++) {
		frame = word_at(frame, layout->frame_back);
		if (!frame || !layout->frame_interp ||
		    byte_at(frame + layout->frame_owner) != PY_OWNED_BY_CSTACK)
			return frame;
	}
	return 0;
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
	return -1;
}

static int pending_raise(void *arg)
{
	return raise_deadlock_error(python_victim_why);
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
	return pending_calls_interposable() || tid == getpid();
}

bool shim_python_fail_wait(const char *why)
{
	struct python_api a;

	if (!python_ready())
		return false;
	snprintf(python_victim_why, sizeof(python_victim_why), "%s", why);
	if (pending_calls_interposable()) {
		python_victim = 1;
		return true;
	}
	/* a static interpreter: the main thread runs pending calls itself */
	if (syscall(SYS_gettid) == getpid() && python_api(&a) &&
	    a.add_pending(pending_raise, NULL) == 0)
		return true;
	return false;
}

#define EXPORT __attribute__((visibility("default")))

EXPORT int Py_MakePendingCalls(void);
EXPORT int _PyEval_MakePendingCalls(void *tstate);

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
