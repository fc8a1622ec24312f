/*
 * What a wait on a Lock inside threading.py is for, by the function that
 * waits: one rule for the shim (in-process, --profile) and for attach
 * --profile's sampler (from outside).
 */
#include <string.h>

#include "tracer/python/py_reader.h"

enum py_wait_for py_threading_wait(const char *function)
{
	if (!strcmp(function, "wait") || !strcmp(function, "wait_for"))
		return PY_WAIT_NOTIFY;	/* Condition.wait: its waiter lock */
	if (!strcmp(function, "join") || !strcmp(function, "_wait_for_tstate_lock"))
		return PY_WAIT_THREAD_END;	/* Thread.join */
	return PY_WAIT_LOCK;
}
