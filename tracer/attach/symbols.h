/*
 * Symbols for native program counters with elfutils' libdwfl: function,
 * module and, where debug information exists, file and line, with the
 * functions inlined at that PC as frames of their own.
 */
#ifndef PD_SYMBOLS_H
#define PD_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/model.h"

#define SYMBOLS_MAX_INLINE 16	/* deeper inline chains keep the outer 16 */

struct symbolizer;

struct maps;

/* Reports the modules of pid from maps (read during a stop), or from
 * /proc/PID/maps when maps is NULL or empty; NULL on failure. */
struct symbolizer *symbolizer_new(pid_t pid, const struct maps *maps);
/* The modules of a core file (core_elf: its libelf Elf *), the
 * executable's path given when known; NULL on failure. */
struct symbolizer *symbolizer_new_core(void *core_elf, const char *exe);
void symbolizer_free(struct symbolizer *s);

/*
 * While on, symbolizer_get() keeps one symbolizer per live process, so
 * that what libdw loaded stays loaded for the next look at it; off frees
 * those not in use.  For a tool that looks at its processes many times.
 */
void symbolizer_keep(bool on);
/* Like symbolizer_new, but the kept one of pid when there is one (its
 * modules brought up to date with maps); give it back with _put. */
struct symbolizer *symbolizer_get(pid_t pid, const struct maps *maps);
void symbolizer_put(struct symbolizer *s);
/* What to read ahead: NULL-ended lists of module name prefixes (only
 * those modules are walked) and of function names in them. */
struct symbol_warmth {
	const char *const *modules;
	const char *const *functions;
};

/*
 * Load ahead, into pid's kept symbolizer (symbolizer_keep on), the
 * symbols of w's modules and the debug information of w's functions,
 * while nothing waits for it, so that the first look at a stuck program
 * costs a few ms, not tens.  Once per set of modules; how many such
 * functions it found, -1 when it could not.
 */
int symbolizer_warm(pid_t pid, const struct symbol_warmth *w);
/* libdwfl's session (a Dwfl *), for unwinding a core's threads. */
void *symbolizer_dwfl(struct symbolizer *s);

/*
 * Append to t the frames of pc: the functions inlined there, innermost
 * first, then the function that holds the code; each with module and,
 * where known, file and line.  A return address (every frame but the
 * innermost) is looked up at pc - 1 so that the line is the call's.
 */
void symbolizer_add_frames(struct symbolizer *s, uint64_t pc, bool is_return,
			   struct thread_model *t);

#endif
