/*
 * What the program's processes tell run as they end (run --lock-order,
 * --profile): each appends records to a memfd of run's, opened through
 * /proc/RUN/fd/N, so the program holds no descriptor of ours.
 *
 *   "K<key>\nJ<json>\n<text>\0"            a loop of lock orders; the same
 *                                          loop found by a parent and its
 *                                          fork children is one key
 *   "P<pid>\nH<height>\nJ<json>\n<text>\1<svg>\0"
 *                                          a process's profile, and its
 *                                          timeline (an SVG group)
 */
#ifndef PD_RECORDS_H
#define PD_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RECORDS_MAX 256	/* loops, and profiles, kept; more are counted */

struct run_records {
	int fd;			/* the memfd, -1: not asked */
	off_t read;		/* what was read of it */
	unsigned long long keys[RECORDS_MAX];
	char *json[RECORDS_MAX];	/* the loops */
	int n;
	int more;		/* loops beyond RECORDS_MAX */
	char *profile[RECORDS_MAX];	/* the profiles' JSON */
	char *svg[RECORDS_MAX];		/* ... and their timelines */
	int svg_height[RECORDS_MAX];
	int n_profiles;
};

/* Make the memfd; 0, or -1 (said). */
int records_open(struct run_records *o);
/* Read the records written since the last call; print each new loop's
 * and each profile's text on stderr.  Returns the number of new loops. */
int records_collect(struct run_records *o);
/*
 * Put the loops in the JSON report path's "potential" list and the
 * profiles in its "profile" list: added to a deadlock's report when one
 * is there already, else a report of their own (pid: the program's).
 * 0, or -1 (said).
 */
int records_json(const struct run_records *o, const char *path, pid_t pid);
/* The profiles' timelines, one under the other, as an SVG file. */
int records_svg(const struct run_records *o, const char *path);
void records_close(struct run_records *o);

/* Is the suppressions file at path well formed?  0, or -1 (said). */
int records_suppressions_check(const char *path);

#endif
