/*
 * The shim's registry laid over the model of a process that runs under
 * pydeadlock run: exact holds (plain Python Locks included) with where
 * they were acquired and whether only their holder releases them, the
 * owner of every wait, what a fork child's parent held at the fork, the
 * program's own signal handlers, and the wait of a thread that is
 * inside the shim rather than in the kernel.
 */
#ifndef PD_REGISTRY_VIEW_H
#define PD_REGISTRY_VIEW_H

#include "common/model.h"
#include "tracer/attach/symbols.h"
#include "runtime/registry.h"
#include "tracer/python/py_reader.h"

/*
 * Before the Python view: the waits of process pid's threads that the
 * kernel shows running (inside the shim, about to block), so that Python
 * can name them too.  sym may be NULL (no native sites).
 */
void registry_view_waits(const struct registry *r, struct process_model *pm,
			 pid_t pid, struct symbolizer *sym);
/*
 * After it: exact holds with where they were acquired (the Python line,
 * read with py when given, or the native call), and the owner of every
 * wait.  sym and py may be NULL.
 */
void registry_view_owners(const struct registry *r, struct process_model *pm,
			  pid_t pid, struct symbolizer *sym,
			  struct py_locator *py);

#endif
