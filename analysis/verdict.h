/*
 * The verdict on a process model: derive what each thread holds from the
 * owners others wait on, find owner cycles (certain deadlocks), cycles
 * through timed waits (potential), waits on owners that no longer exist
 * (orphaned), and the state where every thread waits untimed on something
 * only another thread of the process could release (all-blocked).
 */
#ifndef PD_VERDICT_H
#define PD_VERDICT_H

#include "common/model.h"

/* Fill pm->deadlocks, pm->potential and each thread's holds.  0 or -1. */
int verdict_compute(struct process_model *pm);

/* True when this wait is for an object only this process can release. */
bool verdict_wait_in_process(const struct wait_info *w);

#endif
