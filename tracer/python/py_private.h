/*
 * Private to tracer/python: the locator, its caches, and the readers of
 * remote Python objects that the capture, the frame walk and the lock
 * finder share.
 */
#ifndef PD_PY_PRIVATE_H
#define PD_PY_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/python/py_layout.h"
#include "tracer/python/py_reader.h"

#define PY_CODE_CACHE_SIZE 4096	/* distinct code objects; power of 2 */
#define PY_TYPE_CACHE_SIZE 256	/* distinct types met; power of 2 */
#define PY_MAX_STRING 4096	/* longer names are cut */
#define PY_MAX_LINETABLE (1 << 20)	/* larger tables: line unknown */
#define PY_MAX_INTERPRETERS 256	/* subinterpreters read per process */

/* The builtin types whose addresses py_locate() found in the ELF. */
struct py_types {
	uint64_t code, unicode, long_, dict, module, cfunction, method, bytes;
};

/* What we know of one code object, read once per capture. */
struct py_code {
	uint64_t addr;		/* 0 = empty slot */
	char *file, *function;
	int firstlineno;
	int nlocalsplus, stacksize, firsttraceable;
	uint8_t *lines;		/* the line table bytes, NULL if unread */
	uint32_t lines_len;
	/* read on demand by py_code_body(): what `with` analysis needs */
	uint64_t code_bytes;	/* <= 3.10: co_code, a bytes object */
	uint64_t exctable;	/* 3.11+: co_exceptiontable, a bytes object */
	uint64_t n_units;	/* 3.11+: Py_SIZE(code), 2-byte code units */
	bool body_tried;
	uint8_t *bytecode;	/* NULL when unread */
	uint32_t bytecode_len;	/* in bytes */
	uint8_t *exc;		/* 3.11+: the exception table, NULL if unread */
	uint32_t exc_len;
};

/* What a type is to us: a lock, a bound method, or anything else. */
enum py_type_kind {
	PY_TYPE_OTHER,
	PY_TYPE_LOCK,		/* _thread.lock */
	PY_TYPE_RLOCK,		/* _thread.RLock */
	PY_TYPE_SEMLOCK,	/* _multiprocessing.SemLock */
	PY_TYPE_BUFFERED,	/* _io.BufferedWriter, -Reader, -Random */
	PY_TYPE_TEXTIO,		/* _io.TextIOWrapper */
	PY_TYPE_SIMPLEQUEUE,	/* _queue.SimpleQueue */
	PY_TYPE_CFUNCTION,
	PY_TYPE_METHOD,
};

struct py_type {
	uint64_t addr;		/* 0 = empty slot */
	enum py_type_kind kind;
	uint64_t flags, basicsize, dictoffset, cached_keys;
	char name[PY_TYPE_NAME_MAX];	/* tp_name, "" if unreadable */
	const char *known_name;	/* kind != OTHER: tp_name, static text */
};

struct py_locator {
	pid_t pid;
	uint64_t runtime;	/* address of _PyRuntime */
	uint32_t hexversion;
	char version[16];
	struct py_layout layout;	/* the table entry, debug offsets applied */
	unsigned long reads;	/* process_vm_readv calls, for --debug */
	struct py_types types;
	uint64_t none;		/* Py_None, 0 if not found */
	/* up to 3.11: the static Handlers[] of signalmodule.c, from the
	 * symbol table or (stripped) found in .bss on first use; 0 */
	uint64_t signal_handlers;
	bool signal_handlers_searched;
	uint64_t bss, bss_size;	/* the interpreter file's .bss, loaded */
	struct py_code codes[PY_CODE_CACHE_SIZE];
	struct py_type type_cache[PY_TYPE_CACHE_SIZE];
	struct {		/* last attribute found in a shared keys table */
		uint64_t keys;
		char name[32];
		int64_t index;
	} keys_memo;
};

/* Remote reads (py_object.c).  All return 0, or -1 when unreadable. */
int py_read(struct py_locator *loc, uint64_t addr, void *buf, size_t len);
int py_read_ptr(struct py_locator *loc, uint64_t addr, uint64_t *out);
/* Many pieces in few reads (target_read_many); ok[i] says which were read. */
void py_read_many(struct py_locator *loc, const uint64_t *addr, size_t len,
		  uint8_t *bufs, bool *ok, size_t n);
/* A str object as a new UTF-8 string, or NULL. */
char *py_str_read(struct py_locator *loc, uint64_t str);
/* Decodes a str from its first bytes (header and data) already read. */
char *py_str_decode(struct py_locator *loc, uint64_t str,
		    const uint8_t *head, size_t head_len);
/* A bytes object's contents into a new buffer of *len bytes, or NULL. */
uint8_t *py_bytes_read(struct py_locator *loc, uint64_t bytes, size_t max,
		       uint32_t *len);
/* An int object that fits 64 bits, from its first len bytes. */
int py_long_decode(struct py_locator *loc, const uint8_t *buf, size_t len,
		   uint64_t *out);
#define PY_LONG_HEAD 56		/* header (32 bytes free-threaded) and 3
				 * digits: any thread ident */
/* The type cache entry of the type at addr, reading it on first use. */
const struct py_type *py_type_get(struct py_locator *loc, uint64_t addr);

/* Dicts (py_dict.c). */
/* Value for a str key equal to name; 0 when absent or unreadable. */
uint64_t py_dict_get_str(struct py_locator *loc, uint64_t dict,
			 const char *name);
/* Calls fn for each (key, value) of dict; at most max entries. */
int py_dict_each(struct py_locator *loc, uint64_t dict, int max,
		 void (*fn)(void *ctx, uint64_t key, uint64_t value),
		 void *ctx);
/* Index of name in a (shared) keys table, remembered; -1 if absent. */
int64_t py_shared_index(struct py_locator *loc, uint64_t keys,
			const char *name);

/* Code objects (py_code.c): cached per capture. */
const struct py_code *py_code_get(struct py_locator *loc, uint64_t code);
void py_code_cache_clear(struct py_locator *loc);
/*
 * The same, with the bytecode and (3.11+) the exception table read too,
 * once per capture; check ->bytecode and ->exc, either may be NULL.
 */
const struct py_code *py_code_body(struct py_locator *loc, uint64_t code);
/* Line of a code unit offset, from the code's line table; 0 unknown. */
int py_code_line(const struct py_locator *loc, const struct py_code *code,
		 int64_t lasti_bytes);

/* One entry of a 3.11+ exception table (py_exctable.c), in code units. */
struct py_exc_entry {
	int64_t start, end;	/* the instructions covered: [start, end) */
	int64_t target;		/* the handler */
	int depth;		/* the stack depth the handler starts from */
	bool lasti;		/* the handler also gets the offset */
};

/* The entry covering code unit offset: 0 and *out, or -1 when none. */
int py_exc_find(const uint8_t *table, size_t len, int64_t offset,
		struct py_exc_entry *out);
/* The lowest start of the entries that jump to target, or -1. */
int64_t py_exc_first_start(const uint8_t *table, size_t len, int64_t target);

/* Where a live `with` block keeps its __exit__ (py_with.c). */
struct py_with_slot {
	uint64_t addr;		/* the value stack slot */
	int frame;		/* index in the thread's frames */
	int line;		/* the with statement's line; 0 unknown */
};

struct py_with_slots {
	struct py_with_slot *v;	/* innermost frame and block first */
	int n, cap;
};

/* The live with blocks of t's frames into w (free w->v); 0, or -1. */
int py_with_slots(struct py_locator *loc, const struct py_thread *t,
		  struct py_with_slots *w);

/* Line table decoders (py_linetable.c); offsets in bytes. */
int py_lines_lnotab(const uint8_t *t, size_t len, int first, int64_t addr);
int py_lines_linetable(const uint8_t *t, size_t len, int first, int64_t addr);
int py_lines_locations(const uint8_t *t, size_t len, int first, int64_t addr);

/* The bytecode offset (bytes) of a frame, from its header; -1 unknown. */
int64_t py_frame_lasti(const struct py_layout *l, const uint8_t *head,
		       uint64_t code);
/* The first local of a frame (self, in a method): 0, or -1. */
int py_frame_self(struct py_locator *loc, uint64_t frame, uint64_t *self);
/* Frames (py_frames.c): the stacks of n threads from their first frames. */
void py_frames_read(struct py_locator *loc, struct py_thread *threads,
		    const uint64_t *first, int n);

/* Thread names (py_names.c): fills t[i].name from threading._active. */
void py_names_read(struct py_locator *loc, uint64_t interp,
		   struct py_thread *t, int n);
/*
 * Instance attributes (py_names.c), on every layout: value[i] is the
 * object that attribute name of objs[i] refers to, 0 when objs[i] is 0,
 * lacks it or cannot be read.  Three process_vm_readv for all n, plus a
 * lookup per instance whose attributes sit in a combined dict.
 */
void py_attrs_get(struct py_locator *loc, const uint64_t *objs, int n,
		  const char *name, uint64_t *value);
/* The same for one instance: the attribute's object, or 0. */
uint64_t py_attr_get(struct py_locator *loc, uint64_t obj, const char *name);

/* Cycle detection for linked lists (Brent): true once addr repeats. */
struct py_loop_guard {
	uint64_t saved;
	unsigned long power, steps;
};

static inline void py_loop_init(struct py_loop_guard *g)
{
	g->saved = 0;
	g->power = 1;
	g->steps = 0;
}

static inline bool py_loop_seen(struct py_loop_guard *g, uint64_t addr)
{
	if (addr == g->saved)
		return true;
	if (++g->steps == g->power) {
		g->saved = addr;
		g->power *= 2;
		g->steps = 0;
	}
	return false;
}

#endif
