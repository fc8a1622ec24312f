/*
 * pydeadlock attach --break: fail one wait of a deadlock found in a
 * process that runs under pydeadlock run (--on-deadlock=report or break),
 * through its registry, as the shim itself would.
 */
#ifndef PD_ATTACH_BREAK_H
#define PD_ATTACH_BREAK_H

#include <stddef.h>

#include "common/model.h"
#include "runtime/registry.h"

#define BREAK_WAIT_MS 1000	/* for the victim to leave its wait */

/*
 * Break pm's first deadlock: ask its newest waiter to fail its wait (the
 * next, should one refuse: a thread whose wait cannot safely fail keeps
 * waiting).  Returns the victim's TID, or -1 with the reason in why.
 */
pid_t attach_break(const struct process_model *pm, char *why, size_t size);
/* The same for deadlock d of pm, choosing the victim by policy; how
 * names who breaks it (the message). */
pid_t attach_break_deadlock(const struct process_model *pm,
			    const struct deadlock *d, enum registry_victim policy,
			    const char *how, char *why, size_t size);

#endif
