#include <inttypes.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "common/error.h"
#include "tracer/attach/native_wait.h"

static const char *const syscall_names[] = {
#include "tracer/attach/syscall_names.h"
};

const char *syscall_name(long nr)
{
	if (nr < 0 || nr >= (long)(sizeof(syscall_names) / sizeof(*syscall_names)))
		return NULL;
	return syscall_names[nr];
}

/* How many innermost frames may belong to the libc call that blocks. */
#define LIBC_WAIT_FRAMES 8

struct libc_wait {
	const char *needle;	/* substring of the glibc function name */
	enum wait_kind kind;
};

/* Checked in order, innermost frame first; the first match decides. */
static const struct libc_wait libc_waits[] = {
	{ "pthread_mutex_", WAIT_MUTEX },
	{ "pthread_cond_", WAIT_COND },
	{ "pthread_rwlock_", WAIT_RWLOCK },
	{ "sem_wait", WAIT_SEM },
	{ "sem_timedwait", WAIT_SEM },
	{ "sem_clockwait", WAIT_SEM },
	{ "pthread_join", WAIT_JOIN },
	{ "pthread_clockjoin", WAIT_JOIN },
	{ "pthread_timedjoin", WAIT_JOIN },
	{ "pthread_tryjoin", WAIT_JOIN },
};

/* The kind of libc wait on the stack and the index of its frame, or -1. */
static int libc_wait_frame(const struct thread_model *tm, enum wait_kind *kind)
{
	for (int i = 0; i < tm->n_frames && i < LIBC_WAIT_FRAMES; i++) {
		const char *fn = tm->frames[i].function;

		if (!fn)
			continue;
		for (size_t k = 0; k < sizeof(libc_waits) / sizeof(*libc_waits); k++)
			if (strstr(fn, libc_waits[k].needle)) {
				*kind = libc_waits[k].kind;
				return i;
			}
	}
	return -1;
}

static int32_t futex_area_int(const struct thread_snapshot *t, int offset)
{
	int32_t v;

	memcpy(&v, t->futex_area + FUTEX_AREA_BEFORE + offset, sizeof(v));
	return v;
}

static const char *futex_cmd_name(int cmd)
{
	switch (cmd) {
	case FUTEX_WAIT: return "FUTEX_WAIT";
	case FUTEX_WAIT_BITSET: return "FUTEX_WAIT_BITSET";
	case FUTEX_LOCK_PI: return "FUTEX_LOCK_PI";
	case FUTEX_WAIT_REQUEUE_PI: return "FUTEX_WAIT_REQUEUE_PI";
#ifdef FUTEX_LOCK_PI2
	case FUTEX_LOCK_PI2: return "FUTEX_LOCK_PI2";
#endif
	}
	return NULL;
}

/* pydeadlock's own preload shim: its interposers are nobody's wait site */
#define SHIM_MODULE "libpydeadlock.so"

/* The first frame past the libc wait: where the program waits. */
static void wait_site(struct thread_model *tm, int libc_frame)
{
	for (int i = libc_frame + 1; i < tm->n_frames; i++) {
		struct frame *f = &tm->frames[i];

		if (f->module && !strcmp(f->module, SHIM_MODULE))
			continue;
		if (f->function) {
			tm->wait.site.function = xstrdup(f->function);
			tm->wait.site.file = xstrdup(f->file);
			tm->wait.site.line = f->line;
			return;
		}
	}
}

static void classify_futex(const struct thread_snapshot *t,
			   struct thread_model *tm)
{
	int op = (int)t->syscall_args[1];
	int cmd = op & FUTEX_CMD_MASK;
	const char *cmd_name = futex_cmd_name(cmd);
	uint64_t uaddr = t->syscall_args[0];
	struct wait_info *w = &tm->wait;
	enum wait_kind kind = WAIT_FUTEX;
	char detail[96];
	int frame;

	if (!cmd_name) {	/* FUTEX_WAKE etc.: not a wait */
		tm->state = THREAD_SYSCALL;
		return;
	}
	/*
	 * FUTEX_WAIT sleeps only while the word holds the value passed in;
	 * a word that changed means a waker got there first and this thread
	 * is on its way out (a joined thread that just exited, a mutex just
	 * handed over).  Not blocked, so never a deadlock edge.
	 */
	if ((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) &&
	    t->futex_area_ok &&
	    futex_area_int(t, 0) != (int32_t)t->syscall_args[2]) {
		tm->state = THREAD_SYSCALL;
		tm->waking = true;
		free(tm->state_detail);
		tm->state_detail = xstrdup("futex, being woken");
		return;
	}
	tm->state = THREAD_WAITING;
	w->id = uaddr;
	w->sync_addr = uaddr;
	w->timed = t->syscall_args[3] != 0;
	/* a futex without the private flag may be woken by other processes */
	w->shared = !(op & FUTEX_PRIVATE_FLAG);
	snprintf(detail, sizeof(detail), "futex(0x%" PRIx64 ", %s%s)", uaddr,
		 cmd_name, op & FUTEX_PRIVATE_FLAG ? "_PRIVATE" : "");
	w->detail = xstrdup(detail);

	frame = libc_wait_frame(tm, &kind);
	w->kind = kind;
	wait_site(tm, frame);
	switch (kind) {
	case WAIT_MUTEX: {
		int32_t owner;

		if (!t->futex_area_ok) {
			w->owner_why = "the mutex could not be read";
			break;
		}
		owner = cmd == FUTEX_LOCK_PI
			? futex_area_int(t, 0) & GLIBC_FUTEX_TID_MASK
			: futex_area_int(t, GLIBC_MUTEX_OWNER_OFFSET);
		if (owner > 0) {
			w->owner_tids[0] = owner;
			w->n_owners = 1;
			w->owned = true;
		} else {
			w->owner_why = "the mutex records no owner (it is being handed over)";
		}
		break;
	}
	case WAIT_JOIN:
		/* glibc sleeps on the joined thread's tid word until it is 0 */
		if (t->futex_area_ok && futex_area_int(t, 0) > 0) {
			w->owner_tids[0] = futex_area_int(t, 0);
			w->n_owners = 1;
			w->owned = true;
		} else {
			w->owner_why = "the joined thread could not be read";
		}
		break;
	case WAIT_COND:
		w->owner_why = "a condition variable has no owner: any thread may signal it";
		break;
	case WAIT_SEM:
		w->owner_why = "a semaphore has no owner: any thread may post it";
		break;
	case WAIT_RWLOCK:
		w->owner_why = "attach does not resolve rwlock holders (readers are not recorded)";
		break;
	default:
		w->owner_why = "a bare futex records no owner";
		break;
	}
}

void native_wait_classify(const struct thread_snapshot *t,
			  struct thread_model *tm)
{
	const char *name;

	if (t->spared) {
		/* asleep in a write: what /proc says of its call */
		tm->in_syscall = true;
		tm->syscall_nr = t->syscall_nr;
		memcpy(tm->syscall_args, t->syscall_args, sizeof(tm->syscall_args));
		tm->state_detail = xstrdup(syscall_name(t->syscall_nr));
		tm->state = native_call_state(t->syscall_nr, t->syscall_args);
		return;
	}
	if (!t->stopped) {
		tm->state = THREAD_UNKNOWN;
		tm->state_detail = xstrdup("did not stop in time (uninterruptible sleep?)");
		return;
	}
	/* a job-stopped thread still sits in the call it will go back to */
	tm->job_stopped = t->group_stopped;
	tm->in_syscall = t->in_syscall;
	tm->syscall_nr = t->syscall_nr;
	memcpy(tm->syscall_args, t->syscall_args, sizeof(tm->syscall_args));
	if (!t->in_syscall) {
		tm->state = THREAD_RUNNING;
		return;
	}
	name = syscall_name(t->syscall_nr);
	tm->state_detail = xstrdup(name ? name : "unknown syscall");
	if (t->syscall_nr == SYS_futex)
		classify_futex(t, tm);
	else
		tm->state = native_call_state(t->syscall_nr, t->syscall_args);
}

enum thread_state native_call_state(long nr, const uint64_t *args)
{
	switch (nr) {
	case SYS_futex:
		return THREAD_WAITING;
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
		return THREAD_SLEEPING;
	case SYS_select: case SYS_pselect6:
		/* no descriptors: a sleep (Python 3.9's time.sleep, usleep) */
		return args[0] ? THREAD_IO : THREAD_SLEEPING;
	case SYS_poll: case SYS_ppoll:
		return args[1] ? THREAD_IO : THREAD_SLEEPING;
	case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
	case SYS_pread64: case SYS_pwrite64: case SYS_preadv: case SYS_pwritev:
	case SYS_recvfrom: case SYS_recvmsg: case SYS_recvmmsg:
	case SYS_sendto: case SYS_sendmsg: case SYS_sendmmsg:
	case SYS_accept: case SYS_accept4: case SYS_connect:
	case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2:
	case SYS_io_getevents: case SYS_io_uring_enter: case SYS_openat:
	case SYS_open: case SYS_flock: case SYS_fcntl:
		return THREAD_IO;
	default:
		return THREAD_SYSCALL;
	}
}
