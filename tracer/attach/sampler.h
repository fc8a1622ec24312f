/*
 * attach --profile=SECONDS: what a process's threads do, sampled from
 * outside at SAMPLE_HZ without stopping it (as py-spy's non-blocking
 * mode reads): each thread's state and system call from /proc, and its
 * Python stack read with process_vm_readv.  A wait on a futex inside the
 * GIL's state is a wait for the GIL.  CPU time comes from the kernel's
 * counts, over the whole window.
 */
#ifndef PD_SAMPLER_H
#define PD_SAMPLER_H

#include <stdbool.h>
#include <sys/types.h>

#define SAMPLE_HZ 100		/* samples a second */
#define SAMPLE_THREADS 4096	/* threads followed; more are counted */
#define SAMPLE_SITES 1024	/* lines that waited, kept */

enum sample_state {
	SAMPLE_RUNNING,		/* on a CPU, or ready to run */
	SAMPLE_GIL, SAMPLE_LOCK, SAMPLE_COND, SAMPLE_JOIN, SAMPLE_IO,
	SAMPLE_SLEEP,
	SAMPLE_OTHER,		/* another system call, stopped, in the kernel */
	SAMPLE_STATES
};
extern const char *const sample_state_names[SAMPLE_STATES];

struct sample_thread {
	pid_t tid;
	char *name;		/* threading name, or the thread's comm */
	bool python_name;	/* ... the former */
	unsigned samples;	/* in how many it was seen */
	unsigned count[SAMPLE_STATES];
};

struct sample_site {
	char *where;		/* "app.py:20 in work", or a native call */
	enum sample_state state;
	unsigned count;
};

struct profile_samples {
	pid_t pid;
	char comm[64];
	char python[16];	/* "3.11.7", or "" */
	double seconds;		/* the window, as sampled */
	unsigned samples;	/* rounds taken */
	double cpu_seconds;	/* the process's CPU time over the window */
	double tick;		/* ... counted in ticks of this many seconds */
	unsigned long running_sum;	/* threads running, summed over rounds */
	bool ended;		/* the process ended during the window */
	struct sample_thread *threads;
	int n_threads, lost_threads;
	struct sample_site *sites;
	int n_sites;
};

/*
 * Sample pid for seconds.  Returns 0, or -1 with a one-line reason in
 * err (no such process, not permitted, a zombie or kernel thread, ...).
 */
int sampler_run(pid_t pid, double seconds, struct profile_samples *out,
		char *err, size_t size);
void sampler_free(struct profile_samples *p);

#endif
