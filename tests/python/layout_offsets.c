/*
 * Prints a py_layouts.c entry for the CPython whose headers are on the
 * include path: gcc -I$PREFIX/include/python3.X layout_offsets.c
 * (internal headers needed; not part of the build).  How the offsets in
 * tracer/python/py_layouts.c were measured; the structs private to one
 * C file (_io's buffered, textio; SemLockObject; simplequeueobject;
 * 3.13's struct wait_entry) come from DWARF instead, see py_layouts.c.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_code.h"
#include "internal/pycore_moduleobject.h"
#else
#include "frameobject.h"
#endif
#include "structmember.h"
#if PY_VERSION_HEX >= 0x030D0000
#include "opcode_ids.h"
#else
#include "opcode.h"
#endif
#define P(name, expr) \
	printf("\t.%s = %zu,\n", name, (size_t)(expr))
#define O(name, type, field) P(name, offsetof(type, field))
int main(void)
{
	printf("/* %s */\n", PY_VERSION);
	O("runtime_interpreters_head", _PyRuntimeState, interpreters.head);
#if PY_VERSION_HEX < 0x030C0000
	O("runtime_gil", _PyRuntimeState, ceval.gil);
	O("runtime_gilstate_current", _PyRuntimeState, gilstate.tstate_current);
#endif
	P("gil_locked", offsetof(struct _gil_runtime_state, locked));
	P("gil_last_holder", offsetof(struct _gil_runtime_state, last_holder));
	O("interp_next", PyInterpreterState, next);
#if PY_VERSION_HEX < 0x030B0000
	O("interp_threads_head", PyInterpreterState, tstate_head);
	O("interp_modules", PyInterpreterState, modules);
#elif PY_VERSION_HEX < 0x030C0000
	O("interp_threads_head", PyInterpreterState, threads.head);
	O("interp_modules", PyInterpreterState, modules);
#else
	O("interp_threads_head", PyInterpreterState, threads.head);
	O("interp_modules", PyInterpreterState, imports.modules);
	O("interp_ceval_gil", PyInterpreterState, ceval.gil);
#endif
	P("tstate_size", sizeof(PyThreadState));
	O("tstate_next", PyThreadState, next);
	O("tstate_interp", PyThreadState, interp);
#if PY_VERSION_HEX < 0x030B0000
	O("tstate_frame", PyThreadState, frame);
#elif PY_VERSION_HEX < 0x030D0000
	O("tstate_cframe", PyThreadState, cframe);
	P("cframe_current_frame", offsetof(_PyCFrame, current_frame));
#else
	O("tstate_frame", PyThreadState, current_frame);
#endif
	O("tstate_thread_id", PyThreadState, thread_id);
#if PY_VERSION_HEX >= 0x030B0000
	O("tstate_native_thread_id", PyThreadState, native_thread_id);
#endif
#if PY_VERSION_HEX < 0x030B0000
	P("frame_size", offsetof(PyFrameObject, f_localsplus));
	O("frame_back", PyFrameObject, f_back);
	O("frame_code", PyFrameObject, f_code);
	O("frame_lasti", PyFrameObject, f_lasti);
	O("frame_localsplus", PyFrameObject, f_localsplus);
	O("frame_valuestack", PyFrameObject, f_valuestack);
	O("frame_iblock", PyFrameObject, f_iblock);
	O("frame_blockstack", PyFrameObject, f_blockstack);
	P("frame_block_size", sizeof(PyTryBlock));
	P("frame_block_max", CO_MAXBLOCKS);
#else
	P("frame_size", offsetof(_PyInterpreterFrame, localsplus));
	O("frame_back", _PyInterpreterFrame, previous);
#if PY_VERSION_HEX < 0x030D0000
	O("frame_code", _PyInterpreterFrame, f_code);
	O("frame_lasti", _PyInterpreterFrame, prev_instr);
#else
	O("frame_code", _PyInterpreterFrame, f_executable);
	O("frame_lasti", _PyInterpreterFrame, instr_ptr);
#endif
	O("frame_localsplus", _PyInterpreterFrame, localsplus);
	O("frame_owner", _PyInterpreterFrame, owner);
#if PY_VERSION_HEX < 0x030C0000
	O("frame_is_entry", _PyInterpreterFrame, is_entry);
#endif
#endif
	O("code_filename", PyCodeObject, co_filename);
	O("code_name", PyCodeObject, co_name);
	O("code_firstlineno", PyCodeObject, co_firstlineno);
	O("code_stacksize", PyCodeObject, co_stacksize);
#if PY_VERSION_HEX < 0x030A0000
	O("code_linetable", PyCodeObject, co_lnotab);
#else
	O("code_linetable", PyCodeObject, co_linetable);
#endif
#if PY_VERSION_HEX < 0x030B0000
	O("code_nlocalsplus", PyCodeObject, co_nlocals);
	O("code_cellvars", PyCodeObject, co_cellvars);
	O("code_freevars", PyCodeObject, co_freevars);
	O("code_code", PyCodeObject, co_code);
	P("op_with", SETUP_WITH);
	P("op_setup_finally", SETUP_FINALLY);
	P("op_with_except_start", WITH_EXCEPT_START);
	P("op_extended_arg", EXTENDED_ARG);
	P("code_size", sizeof(PyCodeObject));
#else
	O("code_nlocalsplus", PyCodeObject, co_nlocalsplus);
	O("code_qualname", PyCodeObject, co_qualname);
	O("code_firsttraceable", PyCodeObject, _co_firsttraceable);
	O("code_adaptive", PyCodeObject, co_code_adaptive);
	P("op_with", BEFORE_WITH);
	P("op_push_exc_info", PUSH_EXC_INFO);
	P("op_with_except_start", WITH_EXCEPT_START);
	O("code_exceptiontable", PyCodeObject, co_exceptiontable);
	P("code_size", offsetof(PyCodeObject, co_code_adaptive));
#endif
	O("type_name", PyTypeObject, tp_name);
	O("type_basicsize", PyTypeObject, tp_basicsize);
	O("type_flags", PyTypeObject, tp_flags);
	O("type_dictoffset", PyTypeObject, tp_dictoffset);
#if PY_VERSION_HEX >= 0x030B0000
	O("type_cached_keys", PyHeapTypeObject, ht_cached_keys);
#endif
	P("unicode_ascii_size", sizeof(PyASCIIObject));
	P("unicode_compact_size", sizeof(PyCompactUnicodeObject));
	O("unicode_length", PyASCIIObject, length);
	O("unicode_state", PyASCIIObject, state);
	{ PyASCIIObject a; memset(&a, 0, sizeof a); a.state.kind = 7; unsigned char *s=(unsigned char*)&a.state; printf("/* kindbits %02x", s[0]);
	memset(&a, 0, sizeof a); a.state.compact = 1; printf(" compact %02x", s[0]);
	memset(&a, 0, sizeof a); a.state.ascii = 1; printf(" ascii %02x */\n", s[0]); }
	O("bytes_size", PyVarObject, ob_size);
	O("bytes_data", PyBytesObject, ob_sval);
#if PY_VERSION_HEX < 0x030C0000
	O("long_size", PyVarObject, ob_size);
#else
	P("long_size", offsetof(PyLongObject, long_value.lv_tag));
#endif
#if PY_VERSION_HEX < 0x030C0000
	O("long_digit", PyLongObject, ob_digit);
#else
	P("long_digit", offsetof(PyLongObject, long_value.ob_digit));
#endif
	O("dict_keys", PyDictObject, ma_keys);
	O("dict_values", PyDictObject, ma_values);
#if PY_VERSION_HEX >= 0x030B0000
	O("module_dict", PyModuleObject, md_dict);
#endif
	O("cfunc_self", PyCFunctionObject, m_self);
	O("method_self", PyMethodObject, im_self);
	O("cfunction_ml", PyCFunctionObject, m_ml);
	O("method_func", PyMethodObject, im_func);
	O("function_code", PyFunctionObject, func_code);
	O("weakref_object", PyWeakReference, wr_object);
	O("var_size", PyVarObject, ob_size);
	O("interp_sysdict", PyInterpreterState, sysdict);
#if PY_VERSION_HEX >= 0x030C0000
	O("runtime_signal_handlers", _PyRuntimeState, signals.handlers);
#endif
	O("tuple_size", PyVarObject, ob_size);
	O("tuple_items", PyTupleObject, ob_item);
#if PY_VERSION_HEX >= 0x030B0000
	P("keys_indices", offsetof(PyDictKeysObject, dk_indices));
	P("keys_nentries", offsetof(PyDictKeysObject, dk_nentries));
	P("keys_kind", offsetof(PyDictKeysObject, dk_kind));
#endif
	P("sizeof_gc_head", sizeof(PyGC_Head));
#if PY_VERSION_HEX >= 0x030D0000
	P("debug_cookie_off", offsetof(_PyRuntimeState, debug_offsets));
	P("interp_gil_runtime", offsetof(PyInterpreterState, _gil));
#endif
	return 0;
}
