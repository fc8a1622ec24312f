/*
 * Python-level signal handlers.  CPython keeps one entry per signal,
 * {int tripped; PyObject *func}, 16 bytes, Py_NSIG (65) of them: the
 * static Handlers[] of Modules/signalmodule.c up to 3.11,
 * _PyRuntime.signals.handlers from 3.12.  func is the int SIG_DFL or
 * SIG_IGN, signal.default_int_handler (SIGINT's at start-up), None for
 * a handler installed from C that Python did not set, or the Python
 * callable that signal.signal() installed.
 *
 * A stripped build (Debian's static python3.11) has no symbol for the
 * static table.  It is then found by its shape in the interpreter's
 * .bss: 65 entries whose tripped words are 0 or 1, whose entry 0 is
 * empty and whose funcs are all set, most of them the same int, 0
 * (SIG_DFL).  That shape has exactly one match in the builds measured.
 */
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_NSIG 65		/* Py_NSIG on Linux: signals 1 to 64 */
#define PY_HANDLER_SIZE 16	/* int tripped (padded), PyObject *func */
#define PY_HANDLERS_SIZE (PY_NSIG * PY_HANDLER_SIZE)
#define PY_OBJ_HEAD 48		/* header, a PyCFunction's m_ml */
/* the table's shape: at least this many signals share SIG_DFL's int
 * (on Linux 64 signals, of which Python sets only SIGPIPE, SIGXFSZ,
 * SIGINT, and a program rarely more than a few) */
#define PY_HANDLERS_MIN_DEFAULT 40
#define PY_BSS_MAX (64 << 20)	/* larger .bss: not searched */
#define PY_DEFAULT_INT_HANDLER "default_int_handler"

static uint64_t word(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* Does the table shape start at p? Sets *dfl to the common func. */
static bool py_handlers_shape(const uint8_t *p, uint64_t *dfl)
{
	uint64_t func[PY_NSIG];
	int best = 0;

	if (word(p, 0) || word(p, 8))
		return false;	/* entry 0 is never set */
	for (int s = 1; s < PY_NSIG; s++) {
		uint64_t tripped = word(p, s * PY_HANDLER_SIZE);

		func[s] = word(p, s * PY_HANDLER_SIZE + 8);
		if (tripped > 1 || !func[s] || (func[s] & 7))
			return false;
	}
	for (int s = 1; s < PY_NSIG && best < PY_HANDLERS_MIN_DEFAULT; s++) {
		int n = 0;

		for (int k = s; k < PY_NSIG; k++)
			n += func[k] == func[s];
		if (n > best) {
			best = n;
			*dfl = func[s];
		}
	}
	return best >= PY_HANDLERS_MIN_DEFAULT;
}

/* Is obj the int 0 (SIG_DFL)? */
static bool py_is_int_zero(struct py_locator *loc, uint64_t obj)
{
	uint8_t num[PY_LONG_HEAD];
	uint64_t v;

	return !py_read(loc, obj, num, sizeof(num)) &&
	       !py_long_decode(loc, num, sizeof(num), &v) && v == 0;
}

/* Stripped builds up to 3.11: the one place in .bss with the shape. */
static uint64_t py_handlers_search(struct py_locator *loc)
{
	uint64_t found = 0, dfl = 0;
	uint8_t *bss;
	int matches = 0;

	if (!loc->bss || loc->bss_size < PY_HANDLERS_SIZE ||
	    loc->bss_size > PY_BSS_MAX || !loc->types.long_)
		return 0;
	bss = xmalloc(loc->bss_size);
	if (py_read(loc, loc->bss, bss, loc->bss_size)) {
		free(bss);
		return 0;
	}
	for (uint64_t off = 0; off + PY_HANDLERS_SIZE <= loc->bss_size;
	     off += 8) {
		if (py_handlers_shape(bss + off, &dfl) &&
		    py_is_int_zero(loc, dfl)) {
			found = loc->bss + off;
			matches++;
			off += PY_HANDLERS_SIZE - 8;
		}
	}
	free(bss);
	if (matches != 1) {
		debug_msg("python: %d places look like the signal handler "
			  "table", matches);
		return 0;
	}
	return found;
}

/* The address of the handler table, 0 when unknown. */
static uint64_t py_handlers_address(struct py_locator *loc)
{
	const struct py_layout *l = &loc->layout;

	if (l->runtime_signal_handlers)
		return loc->runtime + l->runtime_signal_handlers;
	if (!loc->signal_handlers && !loc->signal_handlers_searched) {
		loc->signal_handlers_searched = true;
		loc->signal_handlers = py_handlers_search(loc);
	}
	return loc->signal_handlers;
}

#define PY_PARTIAL_FN 8		/* functools.partial: PyObject *fn, first
				 * after ob_type */


/* The tp_name of the type at type, into name; false when unreadable. */
static bool py_type_named(struct py_locator *loc, uint64_t type,
			  const char *want)
{
	char name[PY_TYPE_NAME_MAX] = { 0 };
	uint64_t tp_name;

	return !py_read_ptr(loc, type + loc->layout.type_name, &tp_name) &&
	       !py_read(loc, tp_name, name, sizeof(name) - 1) &&
	       !strcmp(name, want);
}

/*
 * Is obj (header h) asyncio.run's own SIGINT handler (3.11+:
 * functools.partial(runner._on_sigint, main_task=...), which cancels the
 * main task, then on a second SIGINT raises KeyboardInterrupt)?  Like
 * the default one it interrupts; it wakes nothing.
 */
static bool py_is_asyncio_runner_handler(struct py_locator *loc, uint64_t obj,
					 const uint8_t *h)
{
	uint64_t fn, fn_type, self, self_type;

	uint32_t ob_type = loc->layout.ob_type;

	return py_type_named(loc, word(h, ob_type), "functools.partial") &&
	       !py_read_ptr(loc, obj + ob_type + PY_PARTIAL_FN, &fn) && fn &&
	       !py_read_ptr(loc, fn + ob_type, &fn_type) &&
	       fn_type == loc->types.method &&
	       !py_read_ptr(loc, fn + loc->layout.method_self, &self) && self &&
	       !py_read_ptr(loc, self + ob_type, &self_type) &&
	       py_type_named(loc, self_type, "Runner");
}

/* Is the object with header h signal.default_int_handler? */
static bool py_is_default_int_handler(struct py_locator *loc,
				      const uint8_t *h)
{
	char name[sizeof(PY_DEFAULT_INT_HANDLER)];
	uint64_t ml_name;

	if (word(h, loc->layout.ob_type) != loc->types.cfunction ||
	    py_read_ptr(loc, word(h, loc->layout.cfunction_ml), &ml_name) ||
	    py_read(loc, ml_name, name, sizeof(name)))
		return false;
	return !memcmp(name, PY_DEFAULT_INT_HANDLER, sizeof(name));
}

int py_signal_handlers(struct py_locator *loc, uint64_t *custom_mask)
{
	uint64_t table = py_handlers_address(loc), func[PY_NSIG];
	uint8_t entries[PY_HANDLERS_SIZE], heads[PY_NSIG][PY_OBJ_HEAD];
	bool ok[PY_NSIG];

	*custom_mask = 0;
	if (!table || py_read(loc, table, entries, sizeof(entries)))
		return -1;
	for (int s = 0; s < PY_NSIG; s++)
		func[s] = s ? word(entries, s * PY_HANDLER_SIZE + 8) : 0;
	py_read_many(loc, func, PY_OBJ_HEAD, &heads[0][0], ok, PY_NSIG);
	for (int s = 1; s < PY_NSIG; s++) {
		uint64_t type = ok[s] ? word(heads[s], loc->layout.ob_type) : 0;

		if (!func[s] || func[s] == loc->none)
			continue;	/* unset, or C's business */
		if (!ok[s])
			return -1;	/* a table we misread */
		if (type == loc->types.long_ ||
		    py_is_default_int_handler(loc, heads[s]))
			continue;	/* SIG_DFL, SIG_IGN, the default */
		if (s == SIGINT &&
		    py_is_asyncio_runner_handler(loc, func[s], heads[s]))
			continue;	/* asyncio.run's: interrupts too */
		*custom_mask |= 1ULL << (s - 1);
	}
	return 0;
}
