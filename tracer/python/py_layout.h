/*
 * Where CPython keeps things, per version: byte offsets into the
 * runtime, interpreter, thread state, frame, code and object structs.
 * Measured by compiling against each version's internal headers with
 * Py_BUILD_CORE (tests/python/layout_offsets.c prints an entry).
 * A new version is one more entry in py_layouts.c.
 */
#ifndef PD_PY_LAYOUT_H
#define PD_PY_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

/* How a frame records its position in the bytecode. */
enum py_lasti_kind {
	PY_LASTI_BYTES,		/* 3.9: int f_lasti, a byte offset */
	PY_LASTI_UNITS,		/* 3.10: int f_lasti, in 2-byte code units */
	PY_LASTI_PTR,		/* 3.11+: pointer into co_code_adaptive */
};

/* How a code object maps bytecode offsets to lines. */
enum py_lines_kind {
	PY_LINES_LNOTAB,	/* 3.9: co_lnotab */
	PY_LINES_LINETABLE,	/* 3.10: co_linetable (start, line) pairs */
	PY_LINES_LOCATIONS,	/* 3.11+: co_linetable location entries */
};

/* How an instance keeps its attributes. */
enum py_attrs_kind {
	PY_ATTRS_DICTOFFSET,	/* <= 3.10: a dict at tp_dictoffset */
	PY_ATTRS_MANAGED_311,	/* values at obj-32, dict at obj-24 */
	PY_ATTRS_MANAGED_312,	/* obj-24: dict, or values - 1 (odd) */
	PY_ATTRS_INLINE_313,	/* values after the header, dict at obj-24 */
};

/* How a dict's keys object is laid out. */
enum py_dict_kind {
	PY_DICT_310,		/* dk_size, dk_lookup; 24-byte entries */
	PY_DICT_311,		/* log2 sizes, dk_kind: unicode entries */
};

struct py_layout {
	const char *name;	/* "3.11" */
	uint32_t hex_min, hex_max;	/* PY_VERSION_HEX range it fits */
	/*
	 * A free-threaded build (--disable-gil, 3.13t): every object has a
	 * 32-byte header (ob_tid, flags, ob_mutex, gc bits, local and shared
	 * counts, ob_type), the GIL's state starts with `enabled`, and the
	 * managed dict sits just before the object.
	 */
	bool free_threaded;
	uint32_t ob_type;	/* PyObject.ob_type: 8, or 24 free-threaded */
	int32_t managed_dict;	/* 3.11+: the managed dict pointer, from
				 * the object: -24, or -8 free-threaded */

	/* _PyRuntime */
	uint32_t runtime_interpreters_head;
	uint32_t runtime_gil;	/* 3.9-3.11: &_PyRuntime.ceval.gil; 0 */

	/* PyInterpreterState */
	uint32_t interp_next;
	uint32_t interp_threads_head;
	uint32_t interp_modules;	/* sys.modules */
	uint32_t interp_ceval_gil;	/* 3.12+: pointer to the GIL; 0 */

	/* struct _gil_runtime_state: locked is followed by switch_number
	 * and the condition variable, then the mutex (3.9 to 3.13) */
#define GIL_MUTEX_AFTER_LOCKED (8 + 8 + 48)
	uint32_t gil_locked;
	uint32_t gil_last_holder;
	uint32_t gil_mutex;	/* its pthread mutex: held while it changes hands */

	/* PyThreadState */
	uint32_t tstate_size;
	uint32_t tstate_next;
	uint32_t tstate_interp;
	uint32_t tstate_frame;	/* current frame, when not via cframe */
	uint32_t tstate_cframe;	/* 3.11-3.12: _PyCFrame *; 0 */
	uint32_t cframe_current_frame;
	uint32_t tstate_thread_id;
	uint32_t tstate_native_thread_id;	/* 0: field absent (<=3.10) */

	/* PyFrameObject (<=3.10) or _PyInterpreterFrame (3.11+) */
	bool frame_interp;	/* frames are _PyInterpreterFrame */
	uint32_t frame_size;	/* bytes before the locals */
	uint32_t frame_back;
	uint32_t frame_code;
	uint32_t frame_lasti;
	enum py_lasti_kind lasti_kind;
	uint32_t frame_localsplus;
	uint32_t frame_valuestack;	/* <= 3.10 */
	uint32_t frame_owner;		/* 3.11+ */
	uint32_t frame_is_entry;	/* 3.11 only; 0 */

	/* PyCodeObject */
	uint32_t code_size;	/* bytes read: up to the bytecode */
	uint32_t code_filename;
	uint32_t code_name;
	uint32_t code_firstlineno;
	uint32_t code_stacksize;
	uint32_t code_nlocalsplus;	/* <= 3.10: co_nlocals */
	uint32_t code_linetable;
	enum py_lines_kind lines_kind;
	uint32_t code_firsttraceable;	/* 3.11+ */
	uint32_t code_adaptive;		/* 3.11+: the bytecode itself */
	uint32_t code_code;		/* <= 3.10: co_code, a bytes object */
	uint8_t op_with;	/* the opcode that enters a `with` block:
				 * SETUP_WITH (<= 3.10), BEFORE_WITH (3.11+) */
	uint8_t op_with_except_start;	/* first opcode of a with's handler
					 * (<= 3.10), second (3.11+) */
	uint8_t op_setup_finally;	/* <= 3.10: b_type of a with block */
	uint8_t op_extended_arg;	/* <= 3.10: prefix of a long oparg */
	uint8_t op_push_exc_info;	/* 3.11+: first opcode of a handler */
	uint32_t code_exceptiontable;	/* 3.11+: co_exceptiontable, bytes */

	/* <= 3.10: the frame's block stack (PyTryBlock f_blockstack[]) */
	uint32_t frame_iblock;
	uint32_t frame_blockstack;

	/* objects */
	uint32_t type_name;
	uint32_t type_basicsize;
	uint32_t type_flags;
	uint32_t type_dictoffset;
	uint32_t type_cached_keys;	/* 3.11+: ht_cached_keys */
	uint32_t unicode_state;
	uint32_t unicode_length;
	uint32_t unicode_ascii_size;	/* data of a compact ASCII string */
	uint32_t unicode_compact_size;	/* data of other compact strings */
	uint32_t bytes_size;
	uint32_t bytes_data;
	bool long_tagged;	/* 3.12+: lv_tag, not a signed ob_size */
	uint32_t long_size;
	uint32_t long_digit;
	uint32_t dict_keys;
	uint32_t dict_values;
	enum py_dict_kind dict_kind;
	uint32_t dict_values_items;	/* 3.13: PyDictValues has a header */
	enum py_attrs_kind attrs_kind;
	uint32_t module_dict;
	uint32_t cfunction_self;
	uint32_t cfunction_ml;		/* PyMethodDef *, ml_name first */
	uint32_t method_self;
	uint32_t method_func;
	uint32_t function_code;
	uint32_t weakref_object;	/* PyWeakReference.wr_object */
	uint32_t var_size;		/* PyVarObject.ob_size: list length */
	uint32_t interp_sysdict;	/* the sys module's dict */

	/* _thread.lock and _thread.RLock (Modules/_threadmodule.c) */
	uint32_t lock_lock;	/* PyThread_type_lock lock_lock */
	bool lock_is_mutex;	/* 3.13.1+: lock_lock is a PyMutex in place */
	uint32_t rlock_lock;
	uint32_t rlock_owner;
	uint32_t rlock_count;

	/*
	 * Private structs of extension modules, measured from the pyenv
	 * builds' DWARF (gdb -batch -ex 'ptype /o buffered' libpython3.X.so):
	 * struct buffered (Modules/_io/bufferedio.c), textio (textio.c),
	 * SemLockObject (Modules/_multiprocessing/semaphore.c),
	 * simplequeueobject (Modules/_queuemodule.c).
	 */
	uint32_t buffered_lock;		/* PyThread_type_lock: sem_t * */
	uint32_t buffered_owner;	/* ident of the holder, 0 when free */
	uint32_t textio_buffer;		/* TextIOWrapper's buffered stream */
	uint32_t semlock_handle;	/* SEM_HANDLE: a sem_t * */
	uint32_t semlock_last_tid;	/* ident of the last acquirer */
	uint32_t semlock_count;		/* int: last_tid's acquisitions */
	uint32_t semlock_maxvalue;	/* int */
	uint32_t semlock_kind;		/* int: RECURSIVE_MUTEX 0, SEMAPHORE 1
					 */
	uint32_t simplequeue_lock;	/* <= 3.12: PyThread_type_lock; 0 */
	uint32_t simplequeue_park;	/* 3.13: has_threads_waiting, the
					 * address its getters park on; 0 */

	/*
	 * 3.13 parking lot (Python/parking_lot.c, DWARF): a parked thread
	 * sleeps on the sem_t in its struct wait_entry, whose addr field
	 * is the address it parks on (a PyMutex, an event, a queue).
	 */
	uint32_t wait_entry_addr;	/* 0: no parking lot */
	uint32_t wait_entry_sema;

	/* 3.12+: _PyRuntime.signals.handlers; 0: the static Handlers[] of
	 * Modules/signalmodule.c (found by symbol, or by its shape) */
	uint32_t runtime_signal_handlers;
};

/* The entry for hexversion (PY_VERSION_HEX) and build, or NULL when
 * unsupported. */
const struct py_layout *py_layout_find(uint32_t hexversion,
				       bool free_threaded);

/*
 * _Py_DebugOffsets, the table CPython 3.13 keeps at the start of
 * _PyRuntime for out-of-process readers (Include/internal/
 * pycore_runtime.h).  The fields are all uint64_t; this mirrors 3.13's
 * order.  A later version that reorders them has another PY_VERSION_HEX
 * and does not reach the overlay until PY_DEBUG_MAX_HEX says it may.
 */
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

/* Does d start with the cookie and a version it can have? */
bool py_debug_offsets_valid(const struct py_debug_offsets *d);
/*
 * Overlays what the table d says onto l, where its offsets are
 * plausible; l keeps the rest.  Returns how many offsets differed, or
 * -1 when d is not a table of l's kind (no table, a version past
 * PY_DEBUG_MAX_HEX, or free-threaded where l is not, or the reverse).
 */
int py_layout_merge_debug_offsets(struct py_layout *l,
				  const struct py_debug_offsets *d);

#endif
