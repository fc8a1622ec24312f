/*
 * pydeadlock's runtime, for C programs and extensions that build their own
 * synchronisation (spinlocks, futex locks, lock-free handoffs): tell the
 * runtime what you hold and what you wait for, and deadlocks through your
 * primitives are found like those through pthread mutexes.
 *
 * The functions live in the preload shim (pydeadlock run); they are weak
 * here, so a program built with these calls runs unchanged without it,
 * where each call costs one test of a null pointer.
 *
 *	pydeadlock_wait_begin(lock);	   about to block on lock
 *	spin_or_sleep_until_acquired(lock);
 *	pydeadlock_wait_end();
 *	pydeadlock_acquired(lock);	   now held by this thread
 *	...
 *	pydeadlock_released(lock);	   before releasing it
 */
#ifndef PYDEADLOCK_H
#define PYDEADLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* pydeadlock_wait_begin's flags */
#define PYDEADLOCK_WAIT_TIMED 1	/* the wait gives up by itself: never a deadlock */

extern void pydeadlock_acquired(const void *obj) __attribute__((weak));
extern void pydeadlock_released(const void *obj) __attribute__((weak));
/*
 * Returns 0.  When this wait closes a cycle the runtime reports it and,
 * under the default policy, ends the process with status 86.
 */
extern int pydeadlock_wait_begin(const void *obj, int flags) __attribute__((weak));
extern void pydeadlock_wait_end(void) __attribute__((weak));

static inline void pydeadlock_note_acquired(const void *obj)
{
	if (pydeadlock_acquired)
		pydeadlock_acquired(obj);
}

static inline void pydeadlock_note_released(const void *obj)
{
	if (pydeadlock_released)
		pydeadlock_released(obj);
}

static inline int pydeadlock_note_wait(const void *obj, int flags)
{
	return pydeadlock_wait_begin ? pydeadlock_wait_begin(obj, flags) : 0;
}

static inline void pydeadlock_note_wait_end(void)
{
	if (pydeadlock_wait_end)
		pydeadlock_wait_end();
}

#ifdef __cplusplus
}
#endif

#endif
