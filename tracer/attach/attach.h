/*
 * pydeadlock attach: from a PID to a process model (threads, states,
 * waits, owners, stacks).  The verdict is analysis/'s business.
 */
#ifndef PD_ATTACH_H
#define PD_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/model.h"

/*
 * Check that pid can be attached to, stop it for a snapshot, let it go,
 * and describe it in pm.  Returns 0, or -1 with a one-line reason (and
 * where there is one, the fix) in err; the process is never left stopped.
 */
int attach_process(pid_t pid, struct process_model *pm, char *err,
		   size_t err_size);
/*
 * The same for pid and, with children, every process below it, all
 * stopped together (one consistent moment) and described in one model.
 * A descendant that cannot be read is left out (--debug says why).
 */
int attach_program(pid_t pid, bool children, struct process_model *pm,
		   char *err, size_t err_size);
/* The same for a list of processes; errors about pids[0] fail it. */
int attach_processes(const pid_t *pids, int n, struct process_model *pm,
		     char *err, size_t err_size);

/*
 * The same from a core file (gcore PID, a crash's dump) of an x86-64
 * process, read where it was taken (its mapped files on this disk).
 * What only a live process tells is missing: thread names other than
 * Python's, CPU times, descriptors (pipe waits), C signal handlers.
 */
int attach_core(const char *path, struct process_model *pm, char *err,
		size_t err_size);

/* When >= 0: a byte is written there, and it is closed, once the process
 * has been let go after its snapshot (the shim waits for this to break a
 * deadlock only after the report has seen it). */
extern int attach_snapshot_fd;

/* Parse a PID argument strictly; returns it or -1. */
pid_t attach_parse_pid(const char *arg);

#endif
