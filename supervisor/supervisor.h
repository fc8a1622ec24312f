/*
 * pydeadlock run's supervisor: starts the program under the preload
 * shim, waits for it (its end is seen at once, through SIGCHLD), answers
 * the shim's requests for a full report, and watches the whole process
 * tree from outside for what no single process can see from inside: a
 * deadlock of waits that every thread able to end them shares (queues,
 * futures, conditions, self-waits), across processes (pipes, waitpid,
 * shared semaphores), through the GIL.  It acts only on a proof; what
 * only something outside the program could end is reported as potential.
 */
#ifndef PD_SUPERVISOR_H
#define PD_SUPERVISOR_H

#include <stdbool.h>

enum run_policy { RUN_ABORT, RUN_REPORT, RUN_BREAK };

struct run_options {
	enum run_policy policy;
	const char *policy_name;	/* as given: "abort", "report", "break" */
	const char *victim;		/* newest, oldest, fewest-locks */
	const char *json;		/* --json-report=FILE, or NULL */
	const char *graph;		/* --graph=FILE, or NULL */
	bool abort_on_uncaught;		/* Python: an uncaught exception ends it */
	int potential_after_ms;		/* a potential deadlock still this long: say so */
	bool act_on_potential;		/* ... and act on it by the policy */
	bool quiet;			/* reports without the stacks */
	/* run --serial, replay: the scheduler proves what every thread
	 * waiting means; a thread waiting for its turn is not blocked, and
	 * the watch from outside, which cannot tell, does not act */
	bool serial;
	/* --ending-fd: the write end of a pipe the program reads; told,
	 * before the program is ended for a deadlock, which then has
	 * RUN_ENDING_GRACE_MS to end by itself.  -1: none */
	int ending_fd;
	unsigned long ending_pipe;	/* its inode: the program's readers of it
					 * are run's listeners, not the program */
	/* --lock-order: the orders of lock acquisitions, checked for loops
	 * at each process's end; with --on-deadlock=abort given, at once */
	bool lock_order, order_at_once;
	const char *suppressions;	/* their suppressions file, or NULL */
	/* --profile[=FILE.svg]: where the threads waited, at each process's
	 * end; the timeline drawn into profile_svg (or NULL) */
	bool profile;
	const char *profile_svg;
	char *const *argv;		/* the program and its arguments */
};

#define RUN_TERM_GRACE_MS 10000	/* after one SIGINT/SIGTERM: then SIGKILL */
#define RUN_ENDING_GRACE_MS 15000	/* after the ending line: then SIGKILL
					 * (pytest-xdist ends its workers in 10) */

/*
 * Run the program to its end.  Returns its exit status (128+N when
 * killed by signal N), EXIT_DEADLOCK when it was ended because of a
 * deadlock, EXIT_USAGE when it could not be started.
 */
int supervise(const struct run_options *o);

#endif
