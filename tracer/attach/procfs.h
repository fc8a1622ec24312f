/*
 * Reading /proc.  The parsers take the file's text so the unit tests can
 * feed them any content; the readers are thin wrappers around them.
 * All return 0 (or a count) on success and -1 on failure, errno set.
 */
#ifndef PD_PROCFS_H
#define PD_PROCFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_COMM_MAX 64	/* the kernel's TASK_COMM_LEN is 16; room to spare */
#define PF_KTHREAD_FLAG 0x00200000	/* include/linux/sched.h: PF_KTHREAD */

struct proc_stat {
	pid_t pid;
	char comm[PROC_COMM_MAX];
	char state;		/* R S D Z T t X I ... */
	pid_t ppid;
	unsigned long flags;	/* PF_* */
	unsigned long long utime, stime;	/* CPU time, clock ticks */
	unsigned long long starttime;
	int processor;		/* the CPU it last ran on */
};

struct proc_status {
	char name[PROC_COMM_MAX];
	char state;
	pid_t tgid;
	pid_t tracer_pid;
	uid_t uid_real, uid_effective;
	uint64_t cap_effective;
	uint64_t sig_caught;	/* SigCgt: signals with a handler (bit sig-1) */
};

struct map_entry {
	uint64_t start, end, offset;
	char perms[5];		/* "r-xp" */
	unsigned long dev;	/* major << 20 | minor of the file's device */
	unsigned long inode;
	char *path;		/* NULL for anonymous mappings */
};

struct maps {
	struct map_entry *v;
	int n;
};

int procfs_parse_stat(const char *text, struct proc_stat *out);
int procfs_parse_status(const char *text, struct proc_status *out);
/* Parses /proc/PID/maps text; out->v is allocated, free with maps_free(). */
int procfs_parse_maps(const char *text, struct maps *out);
void maps_free(struct maps *m);
/* The mapping that contains addr, or NULL. */
const struct map_entry *maps_find(const struct maps *m, uint64_t addr);

/* Reads a whole /proc file into a new NUL-terminated buffer, or NULL. */
char *procfs_read(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int procfs_stat(pid_t pid, pid_t tid, struct proc_stat *out);
int procfs_status(pid_t pid, pid_t tid, struct proc_status *out);
int procfs_maps(pid_t pid, struct maps *out);
/* The thread's comm without the trailing newline; "" when unreadable. */
void procfs_comm(pid_t pid, pid_t tid, char *buf, size_t size);
/* Lists /proc/PID/task into a new array; returns the count or -1. */
int procfs_tasks(pid_t pid, pid_t **tids);
/* pid and every live process below it, parents first; count or -1. */
int procfs_descendants(pid_t pid, pid_t **out);
/* What descriptor fd of pid is ("pipe:[123]", a path); 0 or -1. */
int procfs_fd_target(pid_t pid, int fd, char *buf, size_t size);
/* The open flags of descriptor fd of pid (fdinfo), or -1. */
int procfs_fd_flags(pid_t pid, int fd);

#endif
