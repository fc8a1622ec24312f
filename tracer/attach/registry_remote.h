/*
 * The registry of another process (the shim's, runtime/registry.h), read
 * and poked from outside: found by its name in /proc/PID/maps, copied
 * with process_vm_readv, a victim's break flag set with
 * process_vm_writev.  Needs the same permission as reading the memory.
 */
#ifndef PD_REGISTRY_REMOTE_H
#define PD_REGISTRY_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/registry.h"

/* Where pid's registry is mapped; 0 when it has none (not shimmed). */
uint64_t registry_find(pid_t pid);

/*
 * Copy the registry at addr in pid (header, orphans, the slots in use;
 * not the facts) into copy, a buffer of sizeof(struct registry) whose
 * unread slots are left as they were.  0, or -1 when it cannot be read
 * or is not a registry of pid (a fork child's stale copy).
 */
int registry_fetch(pid_t pid, uint64_t addr, struct registry *copy);

/* Find and copy pid's registry into a new buffer; NULL when none. */
struct registry *registry_read(pid_t pid, uint64_t *addr);
void registry_copy_free(struct registry *copy);

/* Write len bytes at offset into pid's registry at addr; 0 or -1. */
int registry_poke(pid_t pid, uint64_t addr, size_t offset, const void *val,
		  size_t len);

/*
 * Ask thread tid (slot slot_index of the copy) of pid to fail its wait,
 * with why as the DeadlockError's message.  0 or -1.
 */
int registry_break_thread(pid_t pid, uint64_t addr, uint32_t slot_index,
			  const char *why);

#endif
