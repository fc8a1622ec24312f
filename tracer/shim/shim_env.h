/*
 * The shim's side of the environment contract (common/preload_env.h):
 * the program sees its own environment, not the tool's, and every
 * program it starts runs under the shim again.
 *
 * At start-up shim_env_init() keeps the PYDEADLOCK_* configuration for
 * the shim and, when run prepared the environment (a PYDEADLOCK_ORIG_*
 * variable is present), gives the program back its own view in environ:
 * no PYDEADLOCK_* variable, LD_PRELOAD and PYTHONPATH as they were.
 * Except in a Python process (Py_Initialize is linked in): CPython reads
 * PYTHONPATH after our constructor, so it keeps run's directories
 * (PYDEADLOCK_PYTHON_DIR) first on it, and gets them there if its parent
 * passed an environment without them; os.environ shows them.
 *
 * Every way to start a program is interposed: execve, execv, execvp,
 * execvpe, execl, execlp, execle, fexecve, execveat, posix_spawn,
 * posix_spawnp, system, popen (with pclose, and fclose, which is pclose
 * for a popen stream in glibc).  Each gives the child the environment it
 * would have got, plus: the shim first on LD_PRELOAD (unless a
 * libpydeadlock.so is on it already), the configuration (a PYDEADLOCK_*
 * name the child's environment has already keeps its value), and
 * PYDEADLOCK_ORIG_LD_PRELOAD / _PYTHONPATH describing that environment's
 * own values, so that the child's shim restores exactly what the program
 * passed; an empty environment stays empty in the child's view.  The
 * PYTHONPATH a Python process got from us, passed on unchanged, is
 * described by that process's own original: run's part of it is not the
 * child's.  PYTHONPATH itself is never added to a child's environment.
 *
 * An environment that carries a PYDEADLOCK_ORIG_* variable already was
 * prepared by a run (pydeadlock run under pydeadlock run) and passes on
 * unchanged; so does one too large for the bounded copy on the stack,
 * silently, and its program then runs without the shim.  The shim's own
 * children (the reporter) are started as the shim asks, without it.
 *
 * Limits (what the platform does not allow):
 * - /proc/PID/environ shows the environment the process was started
 *   with, as the kernel keeps it: it is never rewritten.
 * - Programs started without libc's functions (raw execve system calls,
 *   static binaries), set-user-ID programs and programs of another ELF
 *   class do not load the shim; the first two see the tool's variables.
 *
 * PYDEADLOCK_DISABLE set: nothing changes in environ and every interposer
 * calls the real function with the program's own arguments.
 */
#ifndef PD_SHIM_ENV_H
#define PD_SHIM_ENV_H

/*
 * Called first in the shim's constructor, before main, single-threaded;
 * runs once (later calls return at once).  Copies the configuration,
 * restores the program's view, finds the real exec and spawn functions.
 */
void shim_env_init(void);

/*
 * The value of the configuration variable name (a full name, such as
 * "PYDEADLOCK_ON_DEADLOCK"), as the shim's process was given it; NULL when
 * absent or before shim_env_init().  Any thread, no lock, no allocation;
 * the string lives as long as the process.
 */
const char *shim_env_get(const char *name);

/*
 * The shim's own file, an absolute path as ld.so loaded it; "" when it
 * cannot be known or cannot go on LD_PRELOAD (then children are started
 * without the shim).
 */
const char *shim_env_self_path(void);

#endif
