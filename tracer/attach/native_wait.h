/*
 * What a native thread is doing, from its registers, the words around its
 * futex and its symbolised stack: running, in a system call, sleeping, in
 * I/O, or waiting on a glibc mutex, condition variable, semaphore, rwlock or
 * join, with the owner where glibc records one.
 */
#ifndef PD_NATIVE_WAIT_H
#define PD_NATIVE_WAIT_H

#include "common/glibc_layout.h"
#include "common/model.h"
#include "tracer/attach/snapshot.h"

/* Name of an x86_64 system call, or NULL. */
const char *syscall_name(long nr);

/*
 * The state of a thread asleep in system call nr with these arguments,
 * as far as the call tells: sleeping, in I/O, waiting (a futex), or in
 * another call.
 */
enum thread_state native_call_state(long nr, const uint64_t *args);

/* Fill tm's state, state_detail and wait from the snapshot and tm->frames. */
void native_wait_classify(const struct thread_snapshot *t,
			  struct thread_model *tm);

#endif
