/*
 * The shim's registry laid over the model of a process that runs under
 * pydeadlock run: exact holds (plain Python Locks included) with where
 * they were acquired, the owner of every wait, and the wait of a thread
 * that is inside the shim rather than in the kernel.
 */
#ifndef PD_REGISTRY_VIEW_H
#define PD_REGISTRY_VIEW_H

#include "common/model.h"
#include "tracer/attach/symbols.h"

#include "runtime/registry.h"
#include "tracer/python/py_reader.h"

/*
 * Before the Python view: the waits of threads the kernel shows running
 * (inside the shim, about to block), so that Python can name them too.
 */
void registry_view_waits(const struct registry *r, struct process_model *pm,
			 struct symbolizer *sym);

/*
 * After it: exact holds with where they were acquired (the Python line,
 * read with py when given, or the native call), and the owner of every
 * wait.
 */
void registry_view_owners(const struct registry *r, struct process_model *pm,
			  struct symbolizer *sym, struct py_locator *py);

#endif
