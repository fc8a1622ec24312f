/*
 * A ptrace snapshot of a live process: every thread stopped together,
 * its registers, the live part of its stack and the words around the futex
 * it sleeps on copied out, then every thread let go.  Everything else
 * (unwinding, symbols, analysis) works on the copy after the process runs
 * again, so the target is stopped only for the copy.
 */
#ifndef PD_SNAPSHOT_H
#define PD_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "tracer/attach/procfs.h"

#define SNAPSHOT_STACK_MAX (512 * 1024)	/* deeper stacks end "truncated" */
#define SNAPSHOT_RED_ZONE 128		/* x86_64 ABI: below %rsp, still live */
#define SNAPSHOT_STOP_TIMEOUT_MS 1000	/* a thread in D state may not stop */
#define SNAPSHOT_ROUNDS 64		/* rescans for threads born meanwhile */
#define FUTEX_AREA_BEFORE 16		/* bytes kept before a futex word */
#define FUTEX_AREA_SIZE 64		/* covers a pthread mutex or rwlock */

struct thread_snapshot {
	pid_t tid;
	char comm[PROC_COMM_MAX];
	char pre_state;		/* /proc state letter just before the stop */
	uint64_t cpu_ns;	/* CPU time used, user and system */
	int last_cpu;		/* the CPU it last ran on */
	char affinity[64];	/* the CPUs it may run on, "" when all */
	bool seized, stopped, gone;
	/* left running: stopping it would cut its system call short (a
	 * write that has moved some bytes returns that count when
	 * interrupted); its call is read from /proc instead */
	bool spared;
	bool group_stopped;	/* was job-control stopped: stays so */
	int pending_signal;	/* caught while stopping; re-sent on detach */
	struct user_regs_struct regs;
	bool in_syscall;	/* stopped inside a system call */
	long syscall_nr;
	uint64_t syscall_args[6];
	uint64_t stack_addr;	/* target address of stack[0] */
	uint8_t *stack;
	size_t stack_len;
	bool stack_truncated;
	uint64_t futex_area_addr;
	uint8_t futex_area[FUTEX_AREA_SIZE];
	bool futex_area_ok;
};

struct process_snapshot;
/* Called while every thread is stopped, to copy more (e.g. Python state). */
typedef void (*snapshot_capture_fn)(struct process_snapshot *ps, void *ctx);

struct process_snapshot {
	pid_t pid;
	struct thread_snapshot *threads;
	int n_threads, cap_threads;
	struct maps maps;		/* read while stopped */
	uint64_t stopped_ns;		/* first interrupt to last detach */
	uint64_t stop_latency_ns;	/* first interrupt to all stopped */
	uint64_t first_ns;		/* CLOCK_MONOTONIC of the first interrupt */
};

/*
 * Stop every thread of pid, copy what the snapshot holds, call capture (if
 * not NULL) and let every thread go, leaving the process as it was.  On
 * failure returns -1 with a one-line reason in err, and the process is
 * running (or job-stopped) as before.
 */
/*
 * From t's registers (and ps->maps): the system call it is in, a copy of
 * its stack and of the words around the futex it sleeps on, read with
 * target_read(pid, ...).  The live snapshot's step after PTRACE_GETREGS,
 * and a core file's (tracer/attach/core.c).
 */
void snapshot_fill_thread(pid_t pid, struct process_snapshot *ps,
			  struct thread_snapshot *t);

/*
 * A snapshot waits for its threads by TID; when one is a process's first
 * thread and that process is also our child (pydeadlock run's program),
 * the wait may take its exit status.  The last one taken, for the parent
 * to count as reaped (0: none).
 */
extern pid_t snapshot_exited_pid;
extern int snapshot_exited_status;

int snapshot_take(pid_t pid, struct process_snapshot *ps,
		  snapshot_capture_fn capture, void *ctx,
		  char *err, size_t err_size);
void snapshot_free(struct process_snapshot *ps);

/*
 * The same in three steps, for stopping several processes together (a
 * program's whole tree: one consistent moment): stop every thread of
 * pid (-1 with err, the process let go); copy registers, stacks and
 * futex words (-1 with err: call snapshot_release); let every thread go.
 */
int snapshot_stop(pid_t pid, struct process_snapshot *ps, char *err,
		  size_t err_size);
int snapshot_copy(struct process_snapshot *ps, char *err, size_t err_size);
void snapshot_release(struct process_snapshot *ps);

/* Why ptrace refused pid/tid with EPERM, as one line with the fix. */
void snapshot_explain_eperm(pid_t pid, pid_t tid, char *buf, size_t size);

#endif
