/*
 * Who could end the waits that cross a process's bounds (pipes,
 * waitpid, process-shared objects, signal handlers), for every process
 * of a program model; see program_view.c.
 */
#ifndef PD_PROGRAM_VIEW_H
#define PD_PROGRAM_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/model.h"

/* What a wait says from outside when nobody looked there (cheap views) */
#define PROGRAM_VIEW_UNCHECKED "processes outside the program were not looked at"

/*
 * Call once the model has every process (procs, with ppid and
 * wake_signals) and thread (state, wait, syscall): turns pipe and child
 * waits into waits with their wakers, names the wakers of shared
 * objects, and marks what outside the model could end a wait.  Without
 * look_outside, no other process of the machine is read (every one of
 * them would be): such waits say PROGRAM_VIEW_UNCHECKED, and
 * pm->outside_unchecked is set.
 */
void program_view_apply(struct process_model *pm, bool look_outside);
/*
 * The same, with the mappings of processes that were stopped (maps[i] of
 * pids[i], read during the stop) instead of /proc's now: a process that
 * ended since has none left there, and its shared objects would pass for
 * private ones.
 */
void program_view_apply_stopped(struct process_model *pm, bool look_outside,
				const pid_t *pids, const struct maps *const *maps,
				int n);

/*
 * The signals of pid whose handler may end a wait (bit sig-1), from
 * /proc (SigCgt): not faults; for Python not SIGINT, whose default
 * handler only interrupts.  Under run the shim knows better.
 */
uint64_t program_view_wake_signals(pid_t pid, bool python);

#endif
