/*
 * The supervisor's look at the program, without stopping it: every
 * process (what the shim announced, and their children), every thread's
 * state and system call from /proc, how often it has run, and the shim's
 * registries; the same model as attach builds, without stacks or Python
 * frames.  Cheap enough to take ten times a second.
 */
#ifndef PD_WATCH_H
#define PD_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/model.h"

#define WATCH_MAX_PROCS 4096	/* processes of one program followed */

struct watch_proc {
	pid_t pid;
	uint64_t registry;	/* where its registry is, 0: none (yet) */
	uint64_t seen_ns;	/* when it announced itself or was found */
	bool warm;		/* its symbols loaded ahead (symbolizer_warm) */
};

struct watch {
	pid_t root;		/* the program's first process */
	struct watch_proc *procs;
	int n_procs;
	struct registry *copy;	/* one buffer for every registry read */
};

void watch_init(struct watch *w, pid_t root);
void watch_fini(struct watch *w);

/* A process of the program that announced itself (the shim's hello). */
void watch_add(struct watch *w, pid_t pid);

/*
 * Find the program's processes again (the ones known, and every live
 * process below the root), dropping the dead.  Reads every /proc/N/stat
 * of the machine: not at every look.
 */
void watch_rescan_tree(struct watch *w);

/*
 * The model of the program as it is now (states, waits, owners, holds,
 * who could end each wait; look_outside: as program_view_apply).
 * Returns 0, or -1 when no process of the program is left.
 */
int watch_look(struct watch *w, struct process_model *pm, bool look_outside);

/*
 * Did thread t (of the model now) stay exactly as it was in before:
 * the same wait, not run since (the shim's slices and the GIL's rounds
 * excepted: its registry slot must not have changed)?
 */
bool watch_thread_still(const struct thread_model *now,
			const struct process_model *before);

#endif
