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

#include "tracer/python/py_layout.h"

#define PY_STABLE_OBJECTS \
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
	},
};

const struct py_layout *py_layout_find(uint32_t hexversion)
{
	for (size_t i = 0; i < sizeof(py_layouts) / sizeof(py_layouts[0]); i++)
		if (hexversion >= py_layouts[i].hex_min &&
		    hexversion <= py_layouts[i].hex_max)
			return &py_layouts[i];
	return NULL;
}
