/*
 * The preload shim (libpydeadlock.so): shared state of its parts.  The
 * interposers (shim.c) keep each thread's slot in the runtime's registry;
 * the reporter (shim_report.c) acts when a wait closes a cycle.
 */
#ifndef PD_SHIM_H
#define PD_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/registry.h"

#define EXIT_DEADLOCK 86	/* DESIGN.md: the program was ended because of a deadlock */

enum shim_policy { POLICY_ABORT, POLICY_REPORT };

extern struct registry *shim_registry;

/* Configure the reporter from the environment (once, at start-up). */
void shim_report_init(void);

/*
 * A wait by the thread of slot me closed the cycle tids[n]: say so at
 * once, have pydeadlock write the full report, then end the process with
 * status 86 (policy abort) or return so that the thread waits on (report).
 */
void shim_deadlock(struct registry_slot *me, const pid_t *tids, int n);

/*
 * The calling thread's Python position (code object, bytecode offset in
 * bytes), when it runs Python and holds the GIL; false otherwise.
 */
bool shim_python_site(uint64_t *code, int64_t *lasti);

/* Say once on stderr that a limit was reached and tracking degrades. */
void shim_say_once(const char *what);

#endif
