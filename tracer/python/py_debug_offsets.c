/*
 * Reading _Py_DebugOffsets (3.13.0: Include/internal/pycore_runtime.h).
 * The fields are all uint64_t; we mirror the 3.13 order.  A later
 * version that reorders them has another PY_VERSION_HEX, so it does not
 * reach the overlay unless its layout entry says it may.
 */
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_debug_offsets.h"
#include "tracer/python/py_private.h"

#define PY_DEBUG_COOKIE "xdebugpy"
#define PY_DEBUG_MIN_HEX 0x030d0000	/* the table appeared in 3.13 */
#define PY_DEBUG_MAX_HEX 0x030dffff	/* the order below is 3.13's */
#define PY_DEBUG_MAX_OFFSET (1 << 16)	/* larger is not an offset */

struct py_debug_offsets {
	char cookie[8];
	uint64_t version, free_threaded;
	struct { uint64_t size, finalizing, interpreters_head; } runtime;
	struct {
		uint64_t size, id, next, threads_head, gc, imports_modules,
			 sysdict, builtins, ceval_gil, gil_runtime_state,
			 gil_runtime_state_enabled, gil_runtime_state_locked,
			 gil_runtime_state_holder;
	} interp;
	struct {
		uint64_t size, prev, next, interp, current_frame, thread_id,
			 native_thread_id, datastack_chunk, status;
	} tstate;
	struct {
		uint64_t size, previous, executable, instr_ptr, localsplus,
			 owner;
	} frame;
	struct {
		uint64_t size, filename, name, qualname, linetable,
			 firstlineno, argcount, localsplusnames,
			 localspluskinds, co_code_adaptive;
	} code;
	struct { uint64_t size, ob_type; } pyobject;
	struct { uint64_t size, tp_name, tp_repr, tp_flags; } type;
	struct { uint64_t size, ob_item, ob_size; } tuple, list;
	struct { uint64_t size, ma_keys, ma_values; } dict;
	struct { uint64_t size, ob_fval; } float_;
	struct { uint64_t size, lv_tag, ob_digit; } long_;
	struct { uint64_t size, ob_size, ob_sval; } bytes;
	struct { uint64_t size, state, length, asciiobject_size; } unicode;
	struct { uint64_t size, collecting; } gc;
};

static int py_debug_offsets_read(struct py_locator *loc,
				 struct py_debug_offsets *d)
{
	if (py_read(loc, loc->runtime, d, sizeof(*d)) ||
	    memcmp(d->cookie, PY_DEBUG_COOKIE, sizeof(d->cookie)) ||
	    d->version < PY_DEBUG_MIN_HEX)
		return -1;
	return 0;
}

int py_debug_offsets_version(struct py_locator *loc, uint32_t *hex)
{
	struct py_debug_offsets d;

	if (py_debug_offsets_read(loc, &d))
		return -1;
	*hex = d.version;
	return 0;
}

/* Sets *field to value when it is a plausible offset; counts changes. */
static void py_take(uint32_t *field, uint64_t value, int *changed)
{
	if (value >= PY_DEBUG_MAX_OFFSET)
		return;
	if (*field != value)
		(*changed)++;
	*field = value;
}

int py_debug_offsets_apply(struct py_locator *loc)
{
	struct py_layout *l = &loc->layout;
	struct py_debug_offsets d;
	int changed = 0;

	if (loc->hexversion < PY_DEBUG_MIN_HEX ||
	    loc->hexversion > PY_DEBUG_MAX_HEX ||
	    py_debug_offsets_read(loc, &d) || d.version != loc->hexversion)
		return 0;
	if (d.free_threaded)
		return -1;	/* objects differ: needs its own entry */
	py_take(&l->runtime_interpreters_head, d.runtime.interpreters_head,
		&changed);
	py_take(&l->interp_next, d.interp.next, &changed);
	py_take(&l->interp_threads_head, d.interp.threads_head, &changed);
	py_take(&l->interp_modules, d.interp.imports_modules, &changed);
	py_take(&l->interp_sysdict, d.interp.sysdict, &changed);
	py_take(&l->interp_ceval_gil, d.interp.ceval_gil, &changed);
	if (d.interp.gil_runtime_state_locked >= d.interp.gil_runtime_state &&
	    d.interp.gil_runtime_state_holder >= d.interp.gil_runtime_state) {
		py_take(&l->gil_locked, d.interp.gil_runtime_state_locked -
			d.interp.gil_runtime_state, &changed);
		py_take(&l->gil_last_holder, d.interp.gil_runtime_state_holder -
			d.interp.gil_runtime_state, &changed);
		py_take(&l->gil_mutex, d.interp.gil_runtime_state_locked -
			d.interp.gil_runtime_state + GIL_MUTEX_AFTER_LOCKED,
			&changed);
	}
	py_take(&l->tstate_size, d.tstate.size, &changed);
	py_take(&l->tstate_next, d.tstate.next, &changed);
	py_take(&l->tstate_interp, d.tstate.interp, &changed);
	py_take(&l->tstate_frame, d.tstate.current_frame, &changed);
	py_take(&l->tstate_thread_id, d.tstate.thread_id, &changed);
	py_take(&l->tstate_native_thread_id, d.tstate.native_thread_id,
		&changed);
	py_take(&l->frame_back, d.frame.previous, &changed);
	py_take(&l->frame_code, d.frame.executable, &changed);
	py_take(&l->frame_lasti, d.frame.instr_ptr, &changed);
	py_take(&l->frame_localsplus, d.frame.localsplus, &changed);
	py_take(&l->frame_size, d.frame.localsplus, &changed);
	py_take(&l->frame_owner, d.frame.owner, &changed);
	py_take(&l->code_filename, d.code.filename, &changed);
	py_take(&l->code_name, d.code.name, &changed);
	py_take(&l->code_linetable, d.code.linetable, &changed);
	py_take(&l->code_firstlineno, d.code.firstlineno, &changed);
	py_take(&l->code_adaptive, d.code.co_code_adaptive, &changed);
	py_take(&l->code_size, d.code.co_code_adaptive, &changed);
	py_take(&l->type_name, d.type.tp_name, &changed);
	py_take(&l->type_flags, d.type.tp_flags, &changed);
	py_take(&l->dict_keys, d.dict.ma_keys, &changed);
	py_take(&l->dict_values, d.dict.ma_values, &changed);
	py_take(&l->long_size, d.long_.lv_tag, &changed);
	py_take(&l->long_digit, d.long_.ob_digit, &changed);
	py_take(&l->bytes_size, d.bytes.ob_size, &changed);
	py_take(&l->bytes_data, d.bytes.ob_sval, &changed);
	py_take(&l->unicode_state, d.unicode.state, &changed);
	py_take(&l->unicode_length, d.unicode.length, &changed);
	py_take(&l->unicode_ascii_size, d.unicode.asciiobject_size, &changed);
	debug_msg("python: _Py_DebugOffsets used, %d offsets differ from "
		  "the %s table entry", changed, l->name);
	return 0;
}
