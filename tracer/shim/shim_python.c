/*
 * Where in Python the calling thread is: the code object and bytecode
 * offset of its current frame, read in-process from its thread state with
 * the per-version layouts of tracer/python.  Used to record the Python
 * line at which each lock was acquired.  Only valid while the thread
 * holds the GIL (the thread state is NULL otherwise); never calls into
 * Python.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tracer/python/py_layout.h"
#include "tracer/shim/shim.h"

typedef void *(*tstate_get_fn)(void);

static _Atomic int state;	/* 0: not looked, 1: usable, 2: no Python */
static tstate_get_fn tstate_get;
static const struct py_layout *layout;

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
	tstate_get = (tstate_get_fn)dlsym(RTLD_DEFAULT, "PyThreadState_GetUnchecked");
	if (!tstate_get)
		tstate_get = (tstate_get_fn)dlsym(RTLD_DEFAULT,
						  "_PyThreadState_UncheckedGet");
	if (!tstate_get)
		return false;	/* not loaded yet: look again next time */
	layout = py_layout_find(python_hexversion());
	atomic_store_explicit(&state, layout ? 1 : 2, memory_order_release);
	return layout != NULL;
}

static uint64_t word_at(uint64_t addr, uint32_t off)
{
	uint64_t v;

	memcpy(&v, (const void *)(uintptr_t)(addr + off), sizeof(v));
	return v;
}

bool shim_python_site(uint64_t *code, int64_t *lasti)
{
	uint64_t tstate, frame;
	int32_t i32;

	if (!python_ready() || !(tstate = (uint64_t)(uintptr_t)tstate_get()))
		return false;
	frame = layout->tstate_cframe
		? word_at(word_at(tstate, layout->tstate_cframe),
			  layout->cframe_current_frame)
		: word_at(tstate, layout->tstate_frame);
	if (!frame)
		return false;
	*code = word_at(frame, layout->frame_code);
	switch (layout->lasti_kind) {
	case PY_LASTI_BYTES:
	case PY_LASTI_UNITS:
		memcpy(&i32, (const void *)(uintptr_t)(frame + layout->frame_lasti),
		       sizeof(i32));
		*lasti = layout->lasti_kind == PY_LASTI_UNITS ? (int64_t)i32 * 2 : i32;
		break;
	case PY_LASTI_PTR:
		*lasti = (int64_t)(word_at(frame, layout->frame_lasti) -
				   (*code + layout->code_adaptive));
		break;
	}
	return *code != 0;
}
