/*
 * run --lock-order, the supervisor's side: every process of the program
 * appends, as it ends, the loops of lock orders it found to a memfd of
 * run's (opened through /proc/RUN/fd/N, so the program holds no
 * descriptor of ours).  Each record is "K<key>\nJ<json>\n<text>\0"; the
 * same loop found by a parent and by its fork children is one key.
 */
#ifndef PD_ORDER_REPORTS_H
#define PD_ORDER_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ORDER_REPORTS_MAX 256	/* distinct loops kept; more are counted */

struct order_reports {
	int fd;			/* the memfd, -1: not asked */
	off_t read;		/* what was read of it */
	unsigned long long keys[ORDER_REPORTS_MAX];
	char *json[ORDER_REPORTS_MAX];
	int n;
	int more;		/* loops beyond ORDER_REPORTS_MAX */
};

/* Make the memfd; 0, or -1 (said). */
int order_reports_open(struct order_reports *o);
/* Read the records written since the last call; print each new loop's
 * text on stderr.  Returns the number of new loops. */
int order_reports_collect(struct order_reports *o);
/*
 * Put the loops in the JSON report path: into its "potential" list when
 * a deadlock report is there already, else as a report of their own
 * (pid: the program's).  0, or -1 (said).
 */
int order_reports_json(const struct order_reports *o, const char *path,
		       pid_t pid);
void order_reports_close(struct order_reports *o);

/* Is the suppressions file at path well formed?  0, or -1 (said). */
int order_suppressions_check(const char *path);

#endif
