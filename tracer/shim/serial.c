/*
 * pydeadlock run --serial: the shim's side of the serial scheduler
 * (runtime/sched.c).  The lock, semaphore, condition and join
 * interposers (shim.c) block through the scheduler instead of the
 * kernel; here are the other synchronisation points: thread start and
 * end, notify, sleep, sched_yield, every call that may block on I/O or
 * a child, and the clock, which reads virtual time.
 *
 * When serial mode is off every interposer here is the real call behind
 * one predictable branch.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sched.h"
#include "tracer/shim/shim.h"
#include "tracer/shim/shim_env.h"

#define EXPORT __attribute__((visibility("default")))
#define RECORD_BYTES (64u << 20)	/* the mapped trace file's size */
/*
 * The trace's memory, recorded or replayed, at one fixed place far below
 * where the kernel places mappings: so that a replay lays out the
 * program's memory as the recording did (a set of objects iterates in
 * address order), which memory from malloc or a mapping placed by the
 * kernel would shift.  The recorded file first, then what a replay reads.
 */
#define AREA ((char *)0x3f0000000000ULL)
#define AREA_BYTES (512u << 20)
static size_t area_used = RECORD_BYTES;

static void *area_alloc(size_t n)
{
	void *p;

	n = (n + 63) & ~(size_t)63;
	if (n > AREA_BYTES - area_used)
		return NULL;
	p = mmap(AREA + area_used, n, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	area_used += (n + 4095) & ~(size_t)4095;
	return p;
}

bool shim_serial;

static int (*real_create)(pthread_t *, const pthread_attr_t *,
			  void *(*)(void *), void *);
static void (*real_pthread_exit)(void *) __attribute__((noreturn));
static int (*real_cond_signal)(pthread_cond_t *);
static int (*real_cond_broadcast)(pthread_cond_t *);
static int (*real_nanosleep)(const struct timespec *, struct timespec *);
static int (*real_clock_nanosleep)(clockid_t, int, const struct timespec *,
				   struct timespec *);
static int (*real_usleep)(useconds_t);
static unsigned (*real_sleep)(unsigned);
static int (*real_sched_yield)(void);
static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_gettimeofday)(struct timeval *, void *);
static time_t (*real_time)(time_t *);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *,
				socklen_t *);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int,
			      const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_ppoll)(struct pollfd *, nfds_t, const struct timespec *,
			 const sigset_t *);
static int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
static int (*real_pselect)(int, fd_set *, fd_set *, fd_set *,
			   const struct timespec *, const sigset_t *);
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);
static int (*real_epoll_pwait)(int, struct epoll_event *, int, int,
			       const sigset_t *);
static pid_t (*real_waitpid)(pid_t, int *, int);
static pid_t (*real_wait4)(pid_t, int *, int, struct rusage *);
static int (*real_waitid)(idtype_t, id_t, siginfo_t *, int);

#define RESOLVE(var, name) (var = (__typeof__(var))dlsym(RTLD_NEXT, name))

static _Atomic int serial_resolved;

/* The real calls, found once (lazily: a library's constructor may call
 * one of them before ours ran). */
static void serial_resolve(void)
{
	if (atomic_load_explicit(&serial_resolved, memory_order_acquire))
		return;
	RESOLVE(real_create, "pthread_create");
	RESOLVE(real_pthread_exit, "pthread_exit");
	RESOLVE(real_cond_signal, "pthread_cond_signal");
	RESOLVE(real_cond_broadcast, "pthread_cond_broadcast");
	RESOLVE(real_nanosleep, "nanosleep");
	RESOLVE(real_clock_nanosleep, "clock_nanosleep");
	RESOLVE(real_usleep, "usleep");
	RESOLVE(real_sleep, "sleep");
	RESOLVE(real_sched_yield, "sched_yield");
	RESOLVE(real_clock_gettime, "clock_gettime");
	RESOLVE(real_gettimeofday, "gettimeofday");
	RESOLVE(real_time, "time");
	RESOLVE(real_read, "read");
	RESOLVE(real_write, "write");
	RESOLVE(real_readv, "readv");
	RESOLVE(real_writev, "writev");
	RESOLVE(real_recv, "recv");
	RESOLVE(real_recvfrom, "recvfrom");
	RESOLVE(real_recvmsg, "recvmsg");
	RESOLVE(real_send, "send");
	RESOLVE(real_sendto, "sendto");
	RESOLVE(real_sendmsg, "sendmsg");
	RESOLVE(real_accept, "accept");
	RESOLVE(real_accept4, "accept4");
	RESOLVE(real_connect, "connect");
	RESOLVE(real_poll, "poll");
	RESOLVE(real_ppoll, "ppoll");
	RESOLVE(real_select, "select");
	RESOLVE(real_pselect, "pselect");
	RESOLVE(real_epoll_wait, "epoll_wait");
	RESOLVE(real_epoll_pwait, "epoll_pwait");
	RESOLVE(real_waitpid, "waitpid");
	RESOLVE(real_wait4, "wait4");
	RESOLVE(real_waitid, "waitid");
	atomic_store_explicit(&serial_resolved, 1, memory_order_release);
}

#define REAL(f) (__builtin_expect(!atomic_load_explicit(&serial_resolved, \
		memory_order_acquire), 0) ? serial_resolve() : (void)0, real_##f)

/* Is the calling thread's call a synchronisation point of the schedule? */
static inline bool here(void)
{
	if (__builtin_expect(!shim_serial, 1) || shim_inside() || !sched_mine())
		return false;
	sched_settle();
	return true;
}

/* ---- time ---- */

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static bool virtual_clock(clockid_t c)
{
	return c == CLOCK_MONOTONIC || c == CLOCK_REALTIME ||
	       c == CLOCK_MONOTONIC_COARSE || c == CLOCK_REALTIME_COARSE ||
	       c == CLOCK_BOOTTIME || c == CLOCK_MONOTONIC_RAW;
}

EXPORT int clock_gettime(clockid_t c, struct timespec *t)
{
	int rc = REAL(clock_gettime)(c, t);
	int64_t skew;

	if (__builtin_expect(shim_serial, 0) && rc == 0 && virtual_clock(c) &&
	    (skew = sched_skew_ns())) {
		int64_t ns = ts_ns(t) + skew;

		t->tv_sec = ns / 1000000000;
		t->tv_nsec = ns % 1000000000;
	}
	return rc;
}

EXPORT int gettimeofday(struct timeval *tv, void *tz)
{
	int rc = REAL(gettimeofday)(tv, tz);
	int64_t skew;

	if (__builtin_expect(shim_serial, 0) && rc == 0 &&
	    (skew = sched_skew_ns())) {
		int64_t us = (int64_t)tv->tv_sec * 1000000 + tv->tv_usec + skew / 1000;

		tv->tv_sec = us / 1000000;
		tv->tv_usec = us % 1000000;
	}
	return rc;
}

EXPORT time_t time(time_t *out)
{
	time_t t = REAL(time)(NULL);

	if (__builtin_expect(shim_serial, 0))
		t += (time_t)(sched_skew_ns() / 1000000000);
	if (out)
		*out = t;
	return t;
}

int64_t shim_serial_remaining(clockid_t clock, const struct timespec *abs)
{
	struct timespec now;

	if (!abs)
		return -1;
	clock_gettime(clock, &now);	/* virtual, as the program's */
	return ts_ns(abs) > ts_ns(&now) ? ts_ns(abs) - ts_ns(&now) : 0;
}

/* A sleep of ns under the schedule: virtual time; always sleeps whole. */
static void sleep_ns(int64_t ns)
{
	(void)sched_block(TE_SLEEP, NULL, ns > 0 ? ns : 0, false);
}

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!here() || !req || req->tv_nsec < 0 || req->tv_nsec >= 1000000000)
		return PROFILED(PROF_SLEEP, REAL(nanosleep)(req, rem));
	sleep_ns(ts_ns(req));
	return 0;
}

EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec *req,
			   struct timespec *rem)
{
	if (!here() || !req || !virtual_clock(c) || req->tv_nsec < 0 ||
	    req->tv_nsec >= 1000000000)
		return PROFILED(PROF_SLEEP, REAL(clock_nanosleep)(c, flags, req, rem));
	sleep_ns(flags & TIMER_ABSTIME ? shim_serial_remaining(c, req) : ts_ns(req));
	return 0;
}

EXPORT int usleep(useconds_t us)
{
	if (!here())
		return PROFILED(PROF_SLEEP, REAL(usleep)(us));
	sleep_ns((int64_t)us * 1000);
	return 0;
}

EXPORT unsigned sleep(unsigned s)
{
	if (!here())
		return PROFILED(PROF_SLEEP, REAL(sleep)(s));
	sleep_ns((int64_t)s * 1000000000);
	return 0;
}

EXPORT int sched_yield(void)
{
	if (!here())
		return REAL(sched_yield)();
	sched_point(TE_YIELD);
	return 0;
}

/* ---- threads ---- */

struct start {
	void *(*fn)(void *);
	void *arg;
	int id;
};

static void *started(void *p)
{
	struct start s = *(struct start *)p;
	void *ret;

	free(p);
	sched_thread_begin(s.id);
	ret = s.fn(s.arg);
	sched_thread_end();
	return ret;
}

EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *a,
			  void *(*fn)(void *), void *arg)
{
	struct start *s;
	int id, rc;

	if (!here())
		return REAL(create)(t, a, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return EAGAIN;
	id = sched_thread_new();
	if (id < 0) {
		free(s);
		return REAL(create)(t, a, fn, arg);
	}
	*s = (struct start){ fn, arg, id };
	rc = REAL(create)(t, a, started, s);
	if (rc) {
		free(s);
		sched_thread_cancel(id);
		return rc;
	}
	sched_thread_named(id, (uint64_t)*t);
	sched_point(TE_START);
	return 0;
}

EXPORT void pthread_exit(void *v)
{
	if (here())
		sched_thread_end();
	REAL(pthread_exit)(v);
}

/* ---- notify: the modelled waiters of a condition ---- */

/* After the real notify of c (its result rc): its modelled waiters */
static int notified(pthread_cond_t *c, bool all, int rc)
{
	if (here()) {
		sched_wake(c, all);
		if (!shim_is_gil(c))
			sched_point(TE_NOTIFY);
	}
	return rc;
}

EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	return notified(c, false, REAL(cond_signal)(c));
}

EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	return notified(c, true, REAL(cond_broadcast)(c));
}

/* ---- calls that may block outside the process ---- */

/* Would an I/O call on fd block now?  Not when ready, or non-blocking. */
static bool would_block(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int fl;

	if (REAL(poll)(&p, 1, 0) != 0)
		return false;
	fl = fcntl(fd, F_GETFL);
	return fl >= 0 && !(fl & O_NONBLOCK);
}

/*
 * The call: with the turn when it cannot block (then a point of the
 * schedule after it), else outside.  errno as the call left it.
 */
#define AROUND(fd, events, call)					\
	do {								\
		if (!here())						\
			return PROFILED(PROF_IO, call);			\
		if (!would_block(fd, events)) {				\
			__typeof__(call) rc_ = call;			\
			int err_ = errno;				\
			sched_point(TE_IO);				\
			errno = err_;					\
			return rc_;					\
		}							\
		return SERIAL_OUTSIDE(call);				\
	} while (0)

#define OUTSIDE(call) return SERIAL_OUTSIDE(call)

EXPORT ssize_t read(int fd, void *b, size_t n)
{
	AROUND(fd, POLLIN, REAL(read)(fd, b, n));
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
	AROUND(fd, POLLOUT, REAL(write)(fd, b, n));
}

EXPORT ssize_t readv(int fd, const struct iovec *v, int n)
{
	AROUND(fd, POLLIN, REAL(readv)(fd, v, n));
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int n)
{
	AROUND(fd, POLLOUT, REAL(writev)(fd, v, n));
}

EXPORT ssize_t recv(int fd, void *b, size_t n, int f)
{
	AROUND(fd, POLLIN, REAL(recv)(fd, b, n, f));
}

EXPORT ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a,
			socklen_t *l)
{
	AROUND(fd, POLLIN, REAL(recvfrom)(fd, b, n, f, a, l));
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int f)
{
	AROUND(fd, POLLIN, REAL(recvmsg)(fd, m, f));
}

EXPORT ssize_t send(int fd, const void *b, size_t n, int f)
{
	AROUND(fd, POLLOUT, REAL(send)(fd, b, n, f));
}

EXPORT ssize_t sendto(int fd, const void *b, size_t n, int f,
		      const struct sockaddr *a, socklen_t l)
{
	AROUND(fd, POLLOUT, REAL(sendto)(fd, b, n, f, a, l));
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int f)
{
	AROUND(fd, POLLOUT, REAL(sendmsg)(fd, m, f));
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *l)
{
	AROUND(fd, POLLIN, REAL(accept)(fd, a, l));
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *l, int f)
{
	AROUND(fd, POLLIN, REAL(accept4)(fd, a, l, f));
}

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t l)
{
	if (!here())
		return PROFILED(PROF_IO, REAL(connect)(fd, a, l));
	OUTSIDE(REAL(connect)(fd, a, l));
}

/*
 * poll, select, epoll: first without waiting, with the turn; then, when
 * they would wait, outside (for real time: what they wait for is outside
 * too), or, waiting for no descriptor at all, a virtual sleep.
 */
EXPORT int poll(struct pollfd *p, nfds_t n, int ms)
{
	int rc;

	if (!here() || ms == 0)
		return PROFILED(n == 0 ? PROF_SLEEP : PROF_IO, REAL(poll)(p, n, ms));
	if (n == 0 && ms > 0) {
		sleep_ns((int64_t)ms * 1000000);
		return 0;
	}
	rc = REAL(poll)(p, n, 0);
	if (rc != 0)
		return rc;
	OUTSIDE(REAL(poll)(p, n, ms));
}

EXPORT int ppoll(struct pollfd *p, nfds_t n, const struct timespec *t,
		 const sigset_t *m)
{
	static const struct timespec zero;
	int rc;

	if (!here() || (t && !t->tv_sec && !t->tv_nsec))
		return PROFILED(n == 0 ? PROF_SLEEP : PROF_IO, REAL(ppoll)(p, n, t, m));
	rc = REAL(ppoll)(p, n, &zero, m);
	if (rc != 0)
		return rc;
	if (n == 0 && t) {
		sleep_ns(ts_ns(t));
		return 0;
	}
	OUTSIDE(REAL(ppoll)(p, n, t, m));
}

EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	fd_set r0, w0, e0;
	struct timeval zero = { 0, 0 };
	int rc;

	if (!here() || (t && !t->tv_sec && !t->tv_usec))
		return PROFILED(n == 0 ? PROF_SLEEP : PROF_IO, REAL(select)(n, r, w, e, t));
	if (n == 0 && t) {	/* how Python 3.9 and 3.10 sleep */
		sleep_ns((int64_t)t->tv_sec * 1000000000 + (int64_t)t->tv_usec * 1000);
		t->tv_sec = t->tv_usec = 0;
		return 0;
	}
	if (r)
		r0 = *r;
	if (w)
		w0 = *w;
	if (e)
		e0 = *e;
	rc = REAL(select)(n, r, w, e, &zero);
	if (rc != 0)
		return rc;
	if (r)
		*r = r0;
	if (w)
		*w = w0;
	if (e)
		*e = e0;
	OUTSIDE(REAL(select)(n, r, w, e, t));
}

EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e,
		   const struct timespec *t, const sigset_t *m)
{
	if (!here() || (t && !t->tv_sec && !t->tv_nsec))
		return PROFILED(n == 0 ? PROF_SLEEP : PROF_IO, REAL(pselect)(n, r, w, e, t, m));
	if (n == 0 && t) {
		sleep_ns(ts_ns(t));
		return 0;
	}
	OUTSIDE(REAL(pselect)(n, r, w, e, t, m));
}

EXPORT int epoll_wait(int fd, struct epoll_event *ev, int n, int ms)
{
	int rc;

	if (!here() || ms == 0)
		return PROFILED(PROF_IO, REAL(epoll_wait)(fd, ev, n, ms));
	rc = REAL(epoll_wait)(fd, ev, n, 0);
	if (rc != 0)
		return rc;
	OUTSIDE(REAL(epoll_wait)(fd, ev, n, ms));
}

EXPORT int epoll_pwait(int fd, struct epoll_event *ev, int n, int ms,
		       const sigset_t *m)
{
	int rc;

	if (!here() || ms == 0)
		return PROFILED(PROF_IO, REAL(epoll_pwait)(fd, ev, n, ms, m));
	rc = REAL(epoll_pwait)(fd, ev, n, 0, m);
	if (rc != 0)
		return rc;
	OUTSIDE(REAL(epoll_pwait)(fd, ev, n, ms, m));
}

/* waits for a child: at once when one is done, else outside */
EXPORT pid_t waitpid(pid_t pid, int *status, int opt)
{
	pid_t rc;

	if (!here() || (opt & WNOHANG))
		return PROFILED(PROF_IO, REAL(waitpid)(pid, status, opt));
	rc = REAL(waitpid)(pid, status, opt | WNOHANG);
	if (rc != 0)
		return rc;
	OUTSIDE(REAL(waitpid)(pid, status, opt));
}

EXPORT pid_t wait4(pid_t pid, int *status, int opt, struct rusage *ru)
{
	pid_t rc;

	if (!here() || (opt & WNOHANG))
		return PROFILED(PROF_IO, REAL(wait4)(pid, status, opt, ru));
	rc = REAL(wait4)(pid, status, opt | WNOHANG, ru);
	if (rc != 0)
		return rc;
	OUTSIDE(REAL(wait4)(pid, status, opt, ru));
}

EXPORT int waitid(idtype_t type, id_t id, siginfo_t *si, int opt)
{
	int rc;

	if (!here() || (opt & WNOHANG) || !si)
		return PROFILED(PROF_IO, REAL(waitid)(type, id, si, opt));
	si->si_pid = 0;
	rc = REAL(waitid)(type, id, si, opt | WNOHANG);
	if (rc != 0 || si->si_pid != 0)
		return rc;
	OUTSIDE(REAL(waitid)(type, id, si, opt));
}

/* ---- start-up ---- */

static void say(const char *what)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "pydeadlock: %s\n", what);

	shim_write_all(2, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
}

static void diverged(const char *why)
{
	char line[768];
	int n = snprintf(line, sizeof(line),
			 "pydeadlock: replay diverged from the trace: %s\n", why);

	shim_write_all(2, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	_exit(EXIT_DIVERGED);
}

static void own(int tid)
{
	if (shim_registry)
		atomic_store(&shim_registry->sched_tid, tid);
}

/* Is this process the one run started (not a child of it, nor an exec
 * of one)?  Only that one records or replays. */
static bool the_program(void)
{
	const char *sup = shim_env_get("PYDEADLOCK_SUPERVISOR");

	return sup && atol(sup) == (long)getppid();
}

/*
 * The trace file run made (64 MiB of zeros), mapped.  An image the
 * program exec'd (a launcher's script, pyenv's shim, that execs the
 * interpreter) starts it again: its threads are gone, the trace is the
 * new image's.  NULL when it cannot be mapped.
 */
static char *record_map(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	char *m, *end;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size != RECORD_BYTES) {
		close(fd);
		return NULL;
	}
	m = mmap(AREA, RECORD_BYTES, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	end = memchr(m, '\0', RECORD_BYTES);	/* what an earlier image wrote */
	memset(m, 0, end ? (size_t)(end - m) : RECORD_BYTES);
	return m;
}

/* This image's executable, for the trace: a replay follows the trace in
 * the image that made it, not in a launcher that execs it. */
static void self_exe(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf; *p; p++)	/* one word of printable text */
		if (*p <= ' ' || *p > '~')
			*p = '?';
}

void shim_serial_init(void)
{
	const char *cfg = shim_env_get("PYDEADLOCK_SERIAL");
	const char *record = shim_env_get("PYDEADLOCK_SERIAL_RECORD");
	const char *replay = shim_env_get("PYDEADLOCK_SERIAL_REPLAY");
	static struct trace trace;
	struct sched_options o = { .hooks = { shim_serial_stuck, diverged, say, own } };
	unsigned long long seed = 0, steps = 0;
	int depth = 3, interval = -1;
	char err[300];
	static char exe[256];

	serial_resolve();
	if (!cfg || sscanf(cfg, "%llu %d %llu %d", &seed, &depth, &steps, &interval) < 1)
		return;
	o.interval = interval;
	o.seed = seed;
	o.depth = depth;
	o.policy = shim_env_get("PYDEADLOCK_ON_DEADLOCK");
	o.clock = real_clock_gettime;
	o.steps_hint = steps;
	self_exe(exe, sizeof(exe));
	o.exe = exe;
	if (the_program() && replay && *replay) {
		trace_set_allocator(area_alloc, NULL);
		if (trace_load(replay, &trace, err, sizeof(err)) < 0) {
			say(err);
			_exit(EXIT_USAGE);
		}
		/* a launcher before the traced image runs on unreplayed */
		if (!trace.exe[0] || !strcmp(trace.exe, exe))
			o.replay = &trace;
	}
	if (the_program() && record && *record) {
		o.record = record_map(record);
		o.record_size = o.record ? RECORD_BYTES : 0;
		if (!o.record)
			say("serial: cannot map the trace file; this run is not recorded");
	}
	shim_serial_layout_check();
	shim_serial = true;
	sched_start(&o);
}
