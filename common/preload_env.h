/*
 * The environment contract between 'pydeadlock run' and the preload shim
 * (tracer/shim/shim_env.h is the shim's side).
 *
 * run, before it starts the program, calls preload_env_prepare(), which
 * leaves in its own environment (inherited by the program):
 *
 *   LD_PRELOAD=SHIM[:ORIGINAL]      the shim first; ":ORIGINAL" only when
 *                                   the original was set and not empty
 *   PYTHONPATH=DIRS[:ORIGINAL]      DIRS hold the 'pydeadlock' package
 *                                   (and whatever else run's Python side
 *                                   needs); same rule: an empty entry
 *                                   would put the working directory on
 *                                   Python's path
 *   PYDEADLOCK_ORIG_LD_PRELOAD=ENC  what LD_PRELOAD was before
 *   PYDEADLOCK_ORIG_PYTHONPATH=ENC  what PYTHONPATH was before
 *   PYDEADLOCK_PYTHON_DIR=DIRS      for the shim: what every Python
 *                                   process of the program's tree must
 *                                   find first on its PYTHONPATH
 *
 * ENC tells unset from set-to-empty:
 *
 *   "unset"       the variable was not in the environment
 *   "set:VALUE"   it was, with VALUE (possibly empty: "set:")
 *
 * Anything else is malformed and read as "nothing known": the shim then
 * leaves that variable as it finds it.  The presence of either ORIG
 * variable is what tells the shim that run prepared the environment.
 *
 * Every variable whose name starts with PYDEADLOCK_ is the tool's
 * configuration (run sets PYDEADLOCK_ON_DEADLOCK, PYDEADLOCK_VICTIM,
 * PYDEADLOCK_BIN, PYDEADLOCK_JSON_REPORT, PYDEADLOCK_SUPERVISOR, ...;
 * set them before or after preload_env_prepare, but before the exec).
 * The shim keeps them all for itself (shim_env_get), removes them from
 * the program's view and passes them on to every program the process
 * starts.  The PYDEADLOCK_ORIG_ ones are not configuration: they describe
 * one process's own environment, and the shim computes them afresh for
 * each child.
 */
#ifndef PD_PRELOAD_ENV_H
#define PD_PRELOAD_ENV_H

#include <stdbool.h>
#include <stddef.h>

#define PRELOAD_ENV_PREFIX "PYDEADLOCK_"		/* configuration */
#define PRELOAD_ENV_ORIG_PREFIX "PYDEADLOCK_ORIG_"	/* per process */
#define PRELOAD_ENV_ORIG_LD_PRELOAD "PYDEADLOCK_ORIG_LD_PRELOAD"
#define PRELOAD_ENV_ORIG_PYTHONPATH "PYDEADLOCK_ORIG_PYTHONPATH"
#define PRELOAD_ENV_PYTHON_DIR "PYDEADLOCK_PYTHON_DIR"
#define PRELOAD_ENV_UNSET "unset"		/* ENC: was not set */
#define PRELOAD_ENV_SET "set:"			/* ENC: "set:" VALUE */

/*
 * In the calling process (run, before fork and exec of the program): put
 * shim_path first on LD_PRELOAD and python_dirs (one directory or a
 * ':'-separated list, or NULL for none) first on PYTHONPATH and in
 * PYDEADLOCK_PYTHON_DIR, and record both originals as above.  Returns 0;
 * or -1 with a one-line reason in err when shim_path is empty or holds
 * ':' or ' ' (LD_PRELOAD's separators), python_dirs has an empty entry,
 * or setenv fails; the environment may then be partly changed.
 */
int preload_env_prepare(const char *shim_path, const char *python_dirs,
			char *err, size_t err_size);

/*
 * Decode ENC: 1 and *value (pointing into enc) when it says set, 0 when
 * it says unset, -1 when enc is NULL or malformed.
 */
int preload_env_orig_decode(const char *enc, const char **value);

/*
 * Is a file named file_name (a base name, "libpydeadlock.so") on the
 * LD_PRELOAD list (separated by ':' or ' ', as ld.so reads it), by
 * that name or as the last part of a path?  Allocates nothing.
 */
bool preload_env_list_has(const char *list, const char *file_name);

/*
 * Does the path list (PYTHONPATH) begin with the entries dirs, whole
 * ("/a:/b" begins "/a:/b:/c", not "/a:/bc")?  NULL list: no.
 */
bool preload_env_path_starts(const char *list, const char *dirs);

#endif
