/*
 * The verdict on a program model (one process or several): which threads
 * can be proved never to act again, and how their waits read: owner
 * cycles, orphans (the owner cannot act: gone, or in another process
 * after a fork) and all-blocked (every thread that could end the waits
 * waits too).  What only something outside the program (a signal
 * handler, another process) or a timeout could end is potential.  The
 * rules are in verdict.c and doc/pydeadlock.1.
 */
#ifndef PD_VERDICT_H
#define PD_VERDICT_H

#include "common/model.h"

/* Fill pm->deadlocks, pm->potential and each thread's holds.  0 or -1. */
int verdict_compute(struct process_model *pm);

#endif
