/*
 * A core file (gcore PID, or a crash's dump) as a stopped process: its
 * threads' registers, its memory and its mapped files, read with libelf.
 * While open it is the target source of its PID (target_mem.h), so the
 * snapshot's copies, the unwinder and the Python reader read the dump as
 * they would read the process.  x86-64 ELF cores only.
 */
#ifndef PD_CORE_H
#define PD_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/attach/snapshot.h"

struct core;

/*
 * Open path, check it is an x86-64 core with at least one thread, and
 * set it as the target source of its PID.  Returns it, or NULL with a
 * one-line reason in err.
 */
struct core *core_open(const char *path, char *err, size_t err_size);
/* Unset the source, close the file. */
void core_close(struct core *c);

pid_t core_pid(const struct core *c);
pid_t core_ppid(const struct core *c);
/* The program's name (the kernel's comm) and its arguments, as dumped. */
const char *core_comm(const struct core *c);
const char *core_args(const struct core *c);
/* The executable's path, from the mapped files; NULL when unknown. */
const char *core_exe(const struct core *c);
/* The libelf handle of the dump (for libdwfl). */
void *core_elf(const struct core *c);

/* Every thread of the dump, as a snapshot of stopped threads. */
int core_snapshot(struct core *c, struct process_snapshot *ps);

#endif
