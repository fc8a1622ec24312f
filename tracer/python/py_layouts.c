/*
 * The per-version layouts.  Offsets measured on x86_64 against the
 * installed internal headers (tests/python/layout_offsets.c); Debian's
 * 3.11.2 gives the same numbers as 3.11.7.  Fields that have not moved
 * since 3.9 are in PY_STABLE_OBJECTS.
 *
 * Measured from the pyenv builds' DWARF instead (the structs are private
 * to one C file): buffered_*, textio_buffer (Modules/_io), semlock_*
 * (_multiprocessing), simplequeue_* (_queue), wait_entry_* (3.13's
 * Python/parking_lot.c), e.g. gdb -batch -ex 'ptype /o buffered'
 * libpython3.X.so.  All but simplequeue_* are the same on 3.9 to 3.13.
 * Debian's stripped 3.11.2 was checked by reading known objects (the
 * objects case of tests/python/run-py-dump.sh).
 */
#include <stddef.h>
#include <string.h>

#include "tracer/python/py_layout.h"

#define PY_STABLE_OBJECTS \
	.ob_type = 8, \
	.managed_dict = -24, \
	.gil_locked = 16, \
	.gil_last_holder = 8, \
	.gil_mutex = 16 + GIL_MUTEX_AFTER_LOCKED, \
	.tstate_next = 8, \
	.tstate_interp = 16, \
	.type_name = 24, \
	.type_basicsize = 32, \
	.type_flags = 168, \
	.type_dictoffset = 288, \
	.unicode_state = 32, \
	.unicode_length = 16, \
	.bytes_size = 16, \
	.bytes_data = 32, \
	.long_size = 16, \
	.long_digit = 24, \
	.dict_keys = 32, \
	.dict_values = 40, \
	.module_dict = 16, \
	.cfunction_self = 24, \
	.method_self = 24, \
	.lock_lock = 16, \
	.rlock_lock = 16, \
	.rlock_owner = 24, \
	.rlock_count = 32, \
	.cfunction_ml = 16, \
	.method_func = 16, \
	.weakref_object = 16, \
	.var_size = 16, \
	.buffered_lock = 104, \
	.buffered_owner = 112, \
	.textio_buffer = 32, \
	.semlock_handle = 16, \
	.semlock_last_tid = 24, \
	.semlock_count = 32, \
	.semlock_maxvalue = 36, \
	.semlock_kind = 40

#define PY_313_LAYOUT \
	PY_STABLE_OBJECTS, \
	.runtime_interpreters_head = 632, \
	.interp_next = 7264, \
	.interp_threads_head = 7344, \
	.interp_modules = 7656, \
	.interp_ceval_gil = 16, \
	.tstate_size = 304, \
	.tstate_frame = 72, \
	.tstate_thread_id = 152, \
	.tstate_native_thread_id = 160, \
	.frame_interp = true, \
	.frame_size = 72, \
	.frame_back = 8, \
	.frame_code = 0, \
	.frame_lasti = 56, \
	.lasti_kind = PY_LASTI_PTR, \
	.frame_localsplus = 72, \
	.frame_owner = 70, \
	.code_size = 200, \
	.code_filename = 112, \
	.code_name = 120, \
	.code_firstlineno = 68, \
	.code_stacksize = 64, \
	.code_nlocalsplus = 72, \
	.code_linetable = 136, \
	.lines_kind = PY_LINES_LOCATIONS, \
	.code_firsttraceable = 184, \
	.code_adaptive = 200, \
	.op_with = 2, \
	.op_push_exc_info = 33, \
	.op_with_except_start = 44, \
	.code_exceptiontable = 40, \
	.function_code = 48, \
	.interp_sysdict = 7640, \
	.simplequeue_park = 16, \
	.wait_entry_addr = 8, \
	.wait_entry_sema = 16, \
	.runtime_signal_handlers = 1080, \
	.type_cached_keys = 880, \
	.unicode_ascii_size = 40, \
	.unicode_compact_size = 56, \
	.long_tagged = true, \
	.dict_kind = PY_DICT_311, \
	.dict_values_items = 8, \
	.attrs_kind = PY_ATTRS_INLINE_313

/* The free-threaded entry is the GIL build's with what moved said after
 * it: a later designator overrides an earlier one (C11 6.7.9). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct py_layout py_layouts[] = {
	{
		.name = "3.9", .hex_min = 0x03090000, .hex_max = 0x0309ffff,
		PY_STABLE_OBJECTS,
		.runtime_interpreters_head = 32,
		.runtime_gil = 352,
		.interp_next = 0,
		.interp_threads_head = 8,
		.interp_modules = 856,
		.tstate_size = 264,
		.tstate_frame = 24,
		.tstate_thread_id = 176,
		.frame_size = 112,
		.frame_back = 24,
		.frame_code = 32,
		.frame_lasti = 104,
		.lasti_kind = PY_LASTI_BYTES,
		.frame_localsplus = 360,
		.frame_valuestack = 64,
		.code_size = 128,
		.code_filename = 104,
		.code_name = 112,
		.code_firstlineno = 40,
		.code_stacksize = 32,
		.code_nlocalsplus = 28,
		.code_linetable = 120,
		.lines_kind = PY_LINES_LNOTAB,
		.code_code = 48,
		.op_with = 143,
		.op_with_except_start = 49,
		.op_setup_finally = 122,
		.op_extended_arg = 144,
		.frame_iblock = 112,
		.frame_blockstack = 120,
		.function_code = 16,
		.interp_sysdict = 872,
		.simplequeue_lock = 16,
		.unicode_ascii_size = 48,
		.unicode_compact_size = 72,
		.dict_kind = PY_DICT_310,
		.attrs_kind = PY_ATTRS_DICTOFFSET,
	}, {
		.name = "3.10", .hex_min = 0x030a0000, .hex_max = 0x030affff,
		PY_STABLE_OBJECTS,
		.runtime_interpreters_head = 32,
		.runtime_gil = 352,
		.interp_next = 0,
		.interp_threads_head = 8,
		.interp_modules = 856,
		.tstate_size = 280,
		.tstate_frame = 24,
		.tstate_thread_id = 176,
		.frame_size = 104,
		.frame_back = 24,
		.frame_code = 32,
		.frame_lasti = 96,
		.lasti_kind = PY_LASTI_UNITS,
		.frame_localsplus = 352,
		.frame_valuestack = 64,
		.code_size = 128,
		.code_filename = 104,
		.code_name = 112,
		.code_firstlineno = 40,
		.code_stacksize = 32,
		.code_nlocalsplus = 28,
		.code_linetable = 120,
		.lines_kind = PY_LINES_LINETABLE,
		.code_code = 48,
		.op_with = 143,
		.op_with_except_start = 49,
		.op_setup_finally = 122,
		.op_extended_arg = 144,
		.frame_iblock = 104,
		.frame_blockstack = 112,
		.function_code = 48,
		.interp_sysdict = 872,
		.simplequeue_lock = 16,
		.unicode_ascii_size = 48,
		.unicode_compact_size = 72,
		.dict_kind = PY_DICT_310,
		.attrs_kind = PY_ATTRS_DICTOFFSET,
	}, {
		.name = "3.11", .hex_min = 0x030b0000, .hex_max = 0x030bffff,
		PY_STABLE_OBJECTS,
		.runtime_interpreters_head = 40,
		.runtime_gil = 360,
		.interp_next = 0,
		.interp_threads_head = 16,
		.interp_modules = 888,
		.tstate_size = 360,
		.tstate_cframe = 56,
		.cframe_current_frame = 8,
		.tstate_thread_id = 152,
		.tstate_native_thread_id = 160,
		.frame_interp = true,
		.frame_size = 72,
		.frame_back = 48,
		.frame_code = 32,
		.frame_lasti = 56,
		.lasti_kind = PY_LASTI_PTR,
		.frame_localsplus = 72,
		.frame_owner = 69,
		.frame_is_entry = 68,
		.code_size = 184,
		.code_filename = 112,
		.code_name = 120,
		.code_firstlineno = 72,
		.code_stacksize = 68,
		.code_nlocalsplus = 76,
		.code_linetable = 136,
		.lines_kind = PY_LINES_LOCATIONS,
		.code_firsttraceable = 168,
		.code_adaptive = 184,
		.op_with = 53,
		.op_push_exc_info = 35,
		.op_with_except_start = 49,
		.code_exceptiontable = 40,
		.function_code = 48,
		.interp_sysdict = 904,
		.simplequeue_lock = 16,
		.type_cached_keys = 872,
		.unicode_ascii_size = 48,
		.unicode_compact_size = 72,
		.dict_kind = PY_DICT_311,
		.attrs_kind = PY_ATTRS_MANAGED_311,
	}, {
		.name = "3.12", .hex_min = 0x030c0000, .hex_max = 0x030cffff,
		PY_STABLE_OBJECTS,
		.runtime_interpreters_head = 40,
		.interp_next = 0,
		.interp_threads_head = 72,
		.interp_modules = 944,
		.interp_ceval_gil = 384,
		.tstate_size = 288,
		.tstate_cframe = 56,
		.cframe_current_frame = 0,
		.tstate_thread_id = 136,
		.tstate_native_thread_id = 144,
		.frame_interp = true,
		.frame_size = 72,
		.frame_back = 8,
		.frame_code = 0,
		.frame_lasti = 56,
		.lasti_kind = PY_LASTI_PTR,
		.frame_localsplus = 72,
		.frame_owner = 70,
		.code_size = 192,
		.code_filename = 112,
		.code_name = 120,
		.code_firstlineno = 68,
		.code_stacksize = 64,
		.code_nlocalsplus = 72,
		.code_linetable = 136,
		.lines_kind = PY_LINES_LOCATIONS,
		.code_firsttraceable = 176,
		.code_adaptive = 192,
		.op_with = 53,
		.op_push_exc_info = 35,
		.op_with_except_start = 49,
		.code_exceptiontable = 40,
		.function_code = 48,
		.interp_sysdict = 352,
		.simplequeue_lock = 16,
		.runtime_signal_handlers = 464,
		.type_cached_keys = 880,
		.unicode_ascii_size = 40,
		.unicode_compact_size = 56,
		.long_tagged = true,
		.dict_kind = PY_DICT_311,
		.attrs_kind = PY_ATTRS_MANAGED_312,
	}, {
		/* _Py_DebugOffsets in _PyRuntime overrides what it covers */
		.name = "3.13.0", .hex_min = 0x030d0000, .hex_max = 0x030d00ff,
		PY_313_LAYOUT,
	}, {
		/* 3.13.1 made _thread.lock a PyMutex inside the object */
		.name = "3.13", .hex_min = 0x030d0100, .hex_max = 0x030dffff,
		PY_313_LAYOUT,
		.lock_is_mutex = true,
	}, {
		/*
		 * Free-threaded 3.13 (3.13.5t measured): the GIL build's
		 * structs behind a 32-byte object header, so every object
		 * field is 16 bytes on; the code object, the type object and
		 * the private structs likewise (the last from DWARF, as
		 * above).  3.13.0t's Lock is no PyMutex: not covered.
		 */
		.name = "3.13t", .hex_min = 0x030d0100, .hex_max = 0x030dffff,
		PY_313_LAYOUT,
		.free_threaded = true,
		.lock_is_mutex = true,
		.ob_type = 24,
		.managed_dict = -8,
		.gil_locked = 24,
		.gil_last_holder = 16,
		.gil_mutex = 24 + GIL_MUTEX_AFTER_LOCKED,
		.interp_modules = 7664,
		.interp_sysdict = 7648,
		.code_size = 216,
		.code_filename = 128,
		.code_name = 136,
		.code_firstlineno = 84,
		.code_stacksize = 80,
		.code_nlocalsplus = 88,
		.code_linetable = 152,
		.code_firsttraceable = 200,
		.code_adaptive = 216,
		.code_exceptiontable = 56,
		.type_name = 40,
		.type_basicsize = 48,
		.type_flags = 184,
		.type_dictoffset = 304,
		.type_cached_keys = 896,
		.unicode_state = 48,
		.unicode_length = 32,
		.unicode_ascii_size = 56,
		.unicode_compact_size = 72,
		.bytes_size = 32,
		.bytes_data = 48,
		.long_size = 32,
		.long_digit = 40,
		.dict_keys = 48,
		.dict_values = 56,
		.module_dict = 32,
		.cfunction_self = 40,
		.cfunction_ml = 32,
		.method_self = 40,
		.method_func = 32,
		.function_code = 64,
		.weakref_object = 32,
		.var_size = 32,
		.lock_lock = 32,
		.rlock_lock = 32,
		.rlock_owner = 40,
		.rlock_count = 48,
		.buffered_lock = 120,
		.buffered_owner = 128,
		.textio_buffer = 48,
		.semlock_handle = 32,
		.semlock_last_tid = 40,
		.semlock_count = 48,
		.semlock_maxvalue = 52,
		.semlock_kind = 56,
		.simplequeue_park = 32,
	},
};
#pragma GCC diagnostic pop

const struct py_layout *py_layout_find(uint32_t hexversion,
				       bool free_threaded)
{
	for (size_t i = 0; i < sizeof(py_layouts) / sizeof(py_layouts[0]); i++)
		if (hexversion >= py_layouts[i].hex_min &&
		    hexversion <= py_layouts[i].hex_max &&
		    py_layouts[i].free_threaded == free_threaded)
			return &py_layouts[i];
	return NULL;
}

/* ---- _Py_DebugOffsets (3.13: Include/internal/pycore_runtime.h) ---- */

bool py_debug_offsets_valid(const struct py_debug_offsets *d)
{
	return !memcmp(d->cookie, PY_DEBUG_COOKIE, sizeof(d->cookie)) &&
	       d->version >= PY_DEBUG_MIN_HEX;
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

int py_layout_merge_debug_offsets(struct py_layout *l,
				  const struct py_debug_offsets *d)
{
	int changed = 0;

	if (!py_debug_offsets_valid(d) || d->version > PY_DEBUG_MAX_HEX ||
	    !d->free_threaded != !l->free_threaded)
		return -1;
	py_take(&l->runtime_interpreters_head, d->runtime.interpreters_head,
		&changed);
	py_take(&l->interp_next, d->interp.next, &changed);
	py_take(&l->interp_threads_head, d->interp.threads_head, &changed);
	py_take(&l->interp_modules, d->interp.imports_modules, &changed);
	py_take(&l->interp_sysdict, d->interp.sysdict, &changed);
	py_take(&l->interp_ceval_gil, d->interp.ceval_gil, &changed);
	if (d->interp.gil_runtime_state_locked >= d->interp.gil_runtime_state &&
	    d->interp.gil_runtime_state_holder >= d->interp.gil_runtime_state) {
		py_take(&l->gil_locked, d->interp.gil_runtime_state_locked -
			d->interp.gil_runtime_state, &changed);
		py_take(&l->gil_last_holder, d->interp.gil_runtime_state_holder -
			d->interp.gil_runtime_state, &changed);
		py_take(&l->gil_mutex, d->interp.gil_runtime_state_locked -
			d->interp.gil_runtime_state + GIL_MUTEX_AFTER_LOCKED,
			&changed);
	}
	py_take(&l->tstate_size, d->tstate.size, &changed);
	py_take(&l->tstate_next, d->tstate.next, &changed);
	py_take(&l->tstate_interp, d->tstate.interp, &changed);
	py_take(&l->tstate_frame, d->tstate.current_frame, &changed);
	py_take(&l->tstate_thread_id, d->tstate.thread_id, &changed);
	py_take(&l->tstate_native_thread_id, d->tstate.native_thread_id,
		&changed);
	py_take(&l->frame_back, d->frame.previous, &changed);
	py_take(&l->frame_code, d->frame.executable, &changed);
	py_take(&l->frame_lasti, d->frame.instr_ptr, &changed);
	py_take(&l->frame_localsplus, d->frame.localsplus, &changed);
	py_take(&l->frame_size, d->frame.localsplus, &changed);
	py_take(&l->frame_owner, d->frame.owner, &changed);
	py_take(&l->code_filename, d->code.filename, &changed);
	py_take(&l->code_name, d->code.name, &changed);
	py_take(&l->code_linetable, d->code.linetable, &changed);
	py_take(&l->code_firstlineno, d->code.firstlineno, &changed);
	py_take(&l->code_adaptive, d->code.co_code_adaptive, &changed);
	py_take(&l->code_size, d->code.co_code_adaptive, &changed);
	py_take(&l->type_name, d->type.tp_name, &changed);
	py_take(&l->type_flags, d->type.tp_flags, &changed);
	py_take(&l->dict_keys, d->dict.ma_keys, &changed);
	py_take(&l->dict_values, d->dict.ma_values, &changed);
	py_take(&l->long_size, d->long_.lv_tag, &changed);
	py_take(&l->long_digit, d->long_.ob_digit, &changed);
	py_take(&l->bytes_size, d->bytes.ob_size, &changed);
	py_take(&l->bytes_data, d->bytes.ob_sval, &changed);
	py_take(&l->unicode_state, d->unicode.state, &changed);
	py_take(&l->unicode_length, d->unicode.length, &changed);
	py_take(&l->unicode_ascii_size, d->unicode.asciiobject_size, &changed);
	return changed;
}
