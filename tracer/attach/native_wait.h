/*
 * What a native thread is doing, from its registers, the words around its
 * futex and its symbolised stack: running, in a system call, sleeping, in
 * I/O, or waiting on a glibc mutex, condition variable, semaphore, rwlock or
 * join, with the owner where glibc records one.
 */
#ifndef PD_NATIVE_WAIT_H
#define PD_NATIVE_WAIT_H

#include "common/model.h"
#include "tracer/attach/snapshot.h"

/* glibc 2.x x86_64 layouts (bits/struct_mutex.h, bits/struct_rwlock.h) */
#define GLIBC_MUTEX_OWNER_OFFSET 8	/* int __owner */
#define GLIBC_MUTEX_KIND_OFFSET 16	/* int __kind */
#define FUTEX_TID_MASK_BITS 0x3fffffff	/* PI futex word: owner TID */

/* Name of an x86_64 system call, or NULL. */
const char *syscall_name(long nr);

/* Fill tm's state, state_detail and wait from the snapshot and tm->frames. */
void native_wait_classify(const struct thread_snapshot *t,
			  struct thread_model *tm);

#endif
