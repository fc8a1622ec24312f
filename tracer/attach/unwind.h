/*
 * Native stack unwinding of a snapshot thread with libunwind.  Unwind
 * tables are found by libunwind-ptrace from the target's ELF files; the
 * registers and stack come from the snapshot, other memory from the live
 * process through a page cache, so no thread needs to stay stopped.
 */
#ifndef PD_UNWIND_H
#define PD_UNWIND_H

#include <stdint.h>

#include "tracer/attach/snapshot.h"

#define UNWIND_MAX_FRAMES 512	/* deeper stacks are reported as truncated */

struct unwinder;

struct unwinder *unwinder_new(struct process_snapshot *ps);
/* A core's threads, unwound by libdwfl (dwfl: the core's Dwfl *, owned
 * by its symbolizer); NULL without one. */
struct unwinder *unwinder_new_core(struct process_snapshot *ps, void *dwfl);
void unwinder_free(struct unwinder *u);

/*
 * Fill pcs[] (innermost first) for thread t; returns the count.  *why is
 * set to a static reason when the walk ended early (NULL when the stack
 * ended normally).
 */
int unwinder_unwind(struct unwinder *u, const struct thread_snapshot *t,
		    uint64_t *pcs, int max, const char **why);

#endif
