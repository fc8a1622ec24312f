/*
 * What pydeadlock reads inside glibc's objects on x86_64, one place for
 * each fact.  The build checks each against the installed glibc headers
 * (the static assertions below); glibc has kept these layouts on x86_64
 * since 2.3, the start of NPTL.
 */
#ifndef PD_GLIBC_LAYOUT_H
#define PD_GLIBC_LAYOUT_H

#include <pthread.h>
#include <stddef.h>

#define GLIBC_MUTEX_OWNER_OFFSET 8	/* pthread_mutex_t: int __owner (a TID) */
#define GLIBC_MUTEX_KIND_OFFSET 16	/* pthread_mutex_t: int __kind */
#define GLIBC_MUTEX_PSHARED 128		/* __kind: PTHREAD_MUTEX_PSHARED_BIT */
#define GLIBC_COND_WREFS_OFFSET 36	/* pthread_cond_t: unsigned __wrefs */
#define GLIBC_COND_PSHARED 1		/* __wrefs: __PTHREAD_COND_SHARED_MASK */
#define GLIBC_COND_MONOTONIC 2		/* __wrefs: its clock is CLOCK_MONOTONIC
					 * (bit 1, __PTHREAD_COND_CLOCK_MONOTONIC_MASK) */
#define GLIBC_RWLOCK_SHARED_OFFSET 28	/* pthread_rwlock_t: unsigned char __shared */
#define GLIBC_FUTEX_TID_MASK 0x3fffffff	/* a PI futex word: its owner's TID */
/*
 * sem_t is opaque (char __size[32]): struct new_sem (glibc's
 * sysdeps/nptl/internaltypes.h, 64-bit) begins uint64_t data; int
 * private, which sem_init and sem_open set to FUTEX_PRIVATE (LLL_PRIVATE,
 * 0) for a semaphore of one process, FUTEX_SHARED (LLL_SHARED, 128) for
 * a process-shared one (every sem_open'd one).  Measured on 2.36; no
 * header to check it against: the shim checks it on two semaphores of
 * its own at start.
 */
#define GLIBC_SEM_PRIVATE_OFFSET 8
#define GLIBC_SEM_SHARED 128
/*
 * struct pthread (what pthread_self() points to): pid_t tid.  Private to
 * glibc (nptl/descr.h; measured on 2.36), so no build-time check: a
 * reader checks each value against /proc (a target may run another
 * glibc, in a container).
 */
#define GLIBC_PTHREAD_TID_OFFSET 0x2d0

_Static_assert(offsetof(pthread_mutex_t, __data.__owner) == GLIBC_MUTEX_OWNER_OFFSET,
	       "glibc's mutex owner moved");
_Static_assert(offsetof(pthread_mutex_t, __data.__kind) == GLIBC_MUTEX_KIND_OFFSET,
	       "glibc's mutex kind moved");
_Static_assert(offsetof(pthread_cond_t, __data.__wrefs) == GLIBC_COND_WREFS_OFFSET,
	       "glibc's condvar __wrefs moved");
_Static_assert(offsetof(pthread_rwlock_t, __data.__shared) == GLIBC_RWLOCK_SHARED_OFFSET,
	       "glibc's rwlock __shared moved");

#endif
