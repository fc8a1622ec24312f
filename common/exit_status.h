/*
 * The exit statuses of pydeadlock (DESIGN.md, doc/pydeadlock.1): one
 * place for each, shared by the command line, run's supervisor and the
 * shim that ends a program.
 */
#ifndef PD_EXIT_STATUS_H
#define PD_EXIT_STATUS_H

/* attach */
#define EXIT_NO_DEADLOCK 0	/* no deadlock found */
#define EXIT_FOUND 1		/* a deadlock found */
/* every command */
#define EXIT_USAGE 2		/* usage error, or the process cannot be read */
/* run: the program was ended because of a deadlock */
#define EXIT_DEADLOCK 86
/* run --lock-order: the program ended well (or was ended at once), yet
 * it took locks in orders that could deadlock */
#define EXIT_LOCK_ORDER 85
/* replay: the program left the trace (another input, an uncontrolled
 * source of nondeterminism); the message names the first step */
#define EXIT_DIVERGED 87
/* run --abort-on-uncaught: a thread died of an uncaught exception */
#define EXIT_UNCAUGHT 1

#endif
