/*
 * How a shimmed process speaks to pydeadlock run's supervisor: a
 * real-time signal whose value is the sender's PID (sigqueue), the
 * details in the sender's registry.  Sent to the supervisor only, never
 * to the program.
 */
#ifndef PD_SUPERVISOR_SIGNALS_H
#define PD_SUPERVISOR_SIGNALS_H

#include <signal.h>

enum supervisor_message {
	SUPERVISOR_HELLO = 1,	/* a process of the program started (or forked) */
	SUPERVISOR_DEADLOCK = 2,	/* report the deadlock of my registry */
	SUPERVISOR_LOOK = 3,	/* a deadlock may be forming: look now */
	SUPERVISOR_ORDER = 4,	/* run --lock-order: a loop of lock orders was
				 * written; end the program (at once) */
};

static inline int supervisor_signal(enum supervisor_message m)
{
	return SIGRTMIN + (int)m;
}

#endif
