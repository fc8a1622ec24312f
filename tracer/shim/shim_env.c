/*
 * The shim's side of the environment contract (shim_env.h): the
 * configuration kept at start-up, the program's own view given back, and
 * an interposer for every way a process starts another program.
 *
 * exec* may run in a vfork() child that shares its memory with a
 * multithreaded parent (posix_spawn, Python's subprocess): from an
 * interposer to the real call nothing allocates, locks or uses stdio.
 * A child's environment is built on the stack, sized to what it holds.
 * glibc's execvp, execl*, system and popen reach its exec and spawn
 * internally, where a preload cannot follow: hence one interposer per
 * public function, and system and popen written again on posix_spawn.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/preload_env.h"
#include "tracer/shim/shim.h"
#include "tracer/shim/shim_env.h"

#define EXPORT __attribute__((visibility("default")))

#define CONFIG_MAX 32		/* PYDEADLOCK_* variables kept (run sets
				 * fewer than ten); one bit each in a mask */
#define CONFIG_TEXT_MAX 16384	/* their "NAME=value" text: room for a few
				 * paths of PATH_MAX */
#define CHILD_ENV_MAX 4096	/* entries of a child's environment copied
				 * on the stack (8 bytes each, a thread's
				 * stack may be small); more pass on
				 * unchanged */
#define CHILD_TEXT_MAX 32768	/* bytes written for a child (LD_PRELOAD
				 * and the two ORIG variables); more pass on
				 * unchanged */
#define PYTHONPATH_MAX 8192	/* a Python process's PYTHONPATH remembered
				 * to tell run's part from its own; longer:
				 * children see run's part too */
#define POPEN_MAX 256		/* popen streams open at once; more are
				 * glibc's, their child without the shim */
#define SHELL_PATH "/bin/sh"	/* what POSIX system() and popen() run */

_Static_assert(CONFIG_MAX <= 64, "a child's config names are a uint64_t mask");

extern char **environ;

/* Written by shim_env_init() alone, before main; read-only afterwards. */
static char config_text[CONFIG_TEXT_MAX];
static const char *config[CONFIG_MAX];	/* "NAME=value" in config_text */
static size_t config_name_len[CONFIG_MAX];
static int n_config;
static char self_path[PATH_MAX];
static const char *self_name = "";	/* the base name of self_path */
static uintptr_t self_lo, self_hi;	/* where the shim's code is mapped */
static bool disabled;
static atomic_bool ready;
/* In a Python process: the PYTHONPATH it started with, as an ENC, and
 * the one the shim left in environ, run's directories first ("": none) */
static char python_own[PYTHONPATH_MAX];
static char python_made[PYTHONPATH_MAX];

static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);
static int (*real_execveat)(int, const char *, char *const[], char *const[],
			    int);
static int (*real_posix_spawn)(pid_t *, const char *,
			       const posix_spawn_file_actions_t *,
			       const posix_spawnattr_t *, char *const[],
			       char *const[]);
static int (*real_posix_spawnp)(pid_t *, const char *,
				const posix_spawn_file_actions_t *,
				const posix_spawnattr_t *, char *const[],
				char *const[]);
static int (*real_system)(const char *);
static FILE *(*real_popen)(const char *, const char *);
static int (*real_pclose)(FILE *);
static int (*real_fclose)(FILE *);

/* the shim's own locks and signal changes: the real calls, which its
 * interposers would record as the program's */
static int (*real_mutex_lock)(pthread_mutex_t *);
static int (*real_mutex_unlock)(pthread_mutex_t *);
static int (*real_sigaction)(int, const struct sigaction *,
			     struct sigaction *);
/* can system and popen be ours (all the real calls they need found)? */
static bool spawn_own;

#define RESOLVE(var, name) (var = (__typeof__(var))dlsym(RTLD_NEXT, name))

/*
 * Find the real functions, once.  Normally from shim_env_init(); from an
 * interposer only if another library's constructor starts a program
 * before ours ran.  A missing one stays NULL and is checked at each use.
 */
static void reals_resolve(void)
{
	static atomic_bool done;

	if (atomic_load_explicit(&done, memory_order_acquire))
		return;
	RESOLVE(real_execve, "execve");
	RESOLVE(real_execvpe, "execvpe");
	RESOLVE(real_fexecve, "fexecve");
	RESOLVE(real_execveat, "execveat");	/* glibc 2.34 and later */
	RESOLVE(real_posix_spawn, "posix_spawn");
	RESOLVE(real_posix_spawnp, "posix_spawnp");
	RESOLVE(real_system, "system");
	RESOLVE(real_popen, "popen");
	RESOLVE(real_pclose, "pclose");
	RESOLVE(real_fclose, "fclose");
	RESOLVE(real_mutex_lock, "pthread_mutex_lock");
	RESOLVE(real_mutex_unlock, "pthread_mutex_unlock");
	RESOLVE(real_sigaction, "sigaction");
	spawn_own = real_posix_spawn && real_mutex_lock && real_mutex_unlock &&
		    real_sigaction;
	atomic_store_explicit(&done, true, memory_order_release);
}

/* Does the string e define the variable name ("NAME=...")? */
static bool env_is(const char *e, const char *name, size_t len)
{
	return !strncmp(e, name, len) && e[len] == '=';
}

/* ---- start-up: the configuration, the program's own view ---- */

/* The kept configuration variable name[0..len), or -1. */
static int config_find(const char *name, size_t len)
{
	for (int i = 0; i < n_config; i++)
		if (config_name_len[i] == len && !memcmp(config[i], name, len))
			return i;
	return -1;
}

/* Keep every PYDEADLOCK_* variable but the ORIG ones (first wins). */
static void config_keep(char **env)
{
	size_t used = 0;

	for (; env && *env; env++) {
		const char *e = *env, *eq = strchr(e, '=');
		size_t len = strlen(e) + 1;

		if (!eq || strncmp(e, PRELOAD_ENV_PREFIX,
				   sizeof(PRELOAD_ENV_PREFIX) - 1) ||
		    !strncmp(e, PRELOAD_ENV_ORIG_PREFIX,
			     sizeof(PRELOAD_ENV_ORIG_PREFIX) - 1) ||
		    config_find(e, eq - e) >= 0)
			continue;
		if (n_config == CONFIG_MAX ||
		    used + len > sizeof(config_text)) {
			shim_say_once(NOTE_ENV, "too many or too long PYDEADLOCK_* variables; some are ignored");
			continue;
		}
		memcpy(config_text + used, e, len);
		config[n_config] = config_text + used;
		config_name_len[n_config++] = eq - e;
		used += len;
	}
}

/* Give name back the value ENC says it had (state: 0 unset, 1 set). */
static void view_restore_var(const char *name, int state, const char *value)
{
	if (state == 0)
		unsetenv(name);
	else if (state == 1)
		setenv(name, value, 1);	/* on ENOMEM it stays as it is */
}

/* Take every PYDEADLOCK_* variable out of environ, in place. */
static void view_drop_config(void)
{
	char **src, **dst;

	if (!environ)
		return;
	for (src = dst = environ; *src; src++)
		if (strncmp(*src, PRELOAD_ENV_PREFIX,
			    sizeof(PRELOAD_ENV_PREFIX) - 1))
			*dst++ = *src;
	*dst = NULL;
}

/*
 * A Python process has run's directories first on PYTHONPATH: CPython
 * reads it after this constructor, and must find the pydeadlock package
 * there, also when its parent was no Python process (a shell) or passed
 * an environment of its own.  Remember which part is the process's own
 * (state and value, as decoded from its ENC) for its children.
 */
static void python_path_keep(int state, const char *own)
{
	const char *dirs = shim_env_get(PRELOAD_ENV_PYTHON_DIR);
	const char *now = getenv("PYTHONPATH");
	char *path = NULL;

	if (!dirs || state < 0)
		return;
	if (!preload_env_path_starts(now, dirs) &&
	    asprintf(&path, "%s%s%s", dirs, now && *now ? ":" : "",
		     now && *now ? now : "") > 0)
		setenv("PYTHONPATH", path, 1);
	free(path);
	now = getenv("PYTHONPATH");
	if (!now || snprintf(python_own, sizeof(python_own), "%s%s",
			     state ? PRELOAD_ENV_SET : PRELOAD_ENV_UNSET,
			     state ? own : "") >= (int)sizeof(python_own) ||
	    strlen(now) >= sizeof(python_made))
		return;	/* too long to tell: children get it all */
	strcpy(python_made, now);
}

/*
 * The program's own view, when run prepared the environment: no tool
 * variable, LD_PRELOAD and PYTHONPATH as they were, but PYTHONPATH in a
 * Python process (python_path_keep).
 */
static void view_restore(void)
{
	const char *ld_enc = getenv(PRELOAD_ENV_ORIG_LD_PRELOAD);
	const char *pp_enc = getenv(PRELOAD_ENV_ORIG_PYTHONPATH);
	const char *ld = NULL, *pp = NULL;
	int ld_state, pp_state;

	if (!ld_enc && !pp_enc)
		return;	/* preloaded by hand: nothing to give back */
	ld_state = preload_env_orig_decode(ld_enc, &ld);
	pp_state = preload_env_orig_decode(pp_enc, &pp);
	/* the values point into environ's strings, which setenv, unsetenv
	 * and the compaction below leave in place */
	view_restore_var("LD_PRELOAD", ld_state, ld);
	if (!dlsym(RTLD_DEFAULT, "Py_Initialize"))
		view_restore_var("PYTHONPATH", pp_state, pp);
	else
		python_path_keep(pp_state, pp);
	view_drop_config();
}

/* From dl_iterate_phdr: the extent of the object loaded at *data. */
static int self_extent(struct dl_phdr_info *info, size_t size, void *data)
{
	if (info->dlpi_addr != *(uintptr_t *)data)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (!self_lo || lo < self_lo)
			self_lo = lo;
		if (lo + ph->p_memsz > self_hi)
			self_hi = lo + ph->p_memsz;
	}
	return 1;
}

/* The shim's own file, absolute, for children's LD_PRELOAD; its extent. */
static void self_find(void)
{
	Dl_info info;
	uintptr_t base;
	char *abs;
	const char *path, *slash;

	if (!dladdr((void *)shim_env_init, &info) || !info.dli_fname)
		return;
	base = (uintptr_t)info.dli_fbase;
	dl_iterate_phdr(self_extent, &base);
	abs = realpath(info.dli_fname, NULL);
	path = abs ? abs : info.dli_fname;
	/* a relative path would not be found from another directory */
	if (path[0] == '/' && strlen(path) < sizeof(self_path) &&
	    !strpbrk(path, ": "))
		strcpy(self_path, path);
	free(abs);
	slash = strrchr(self_path, '/');
	self_name = slash ? slash + 1 : self_path;
}

/* One-time fork child handler: the locks' holders are gone. */
static void locks_reset(void);

void shim_env_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	reals_resolve();
	self_find();
	config_keep(environ);
	disabled = shim_env_get("PYDEADLOCK_DISABLE") != NULL;
	if (!disabled) {
		view_restore();
		pthread_atfork(NULL, NULL, locks_reset);
	}
	atomic_store_explicit(&ready, true, memory_order_release);
}

const char *shim_env_get(const char *name)
{
	size_t len = strlen(name);
	int i = config_find(name, len);

	return i < 0 ? NULL : config[i] + len + 1;
}

const char *shim_env_self_path(void)
{
	return self_path;
}

/* ---- a child's environment, on the stack ---- */

/* What a child's environment needs (computed without writing). */
struct child_env_plan {
	char *const *envp;
	size_t n;		/* entries of envp */
	const char *preload;	/* envp's LD_PRELOAD, or NULL */
	const char *pythonpath;	/* envp's PYTHONPATH, or NULL */
	const char *python_own;	/* its ENC, if it is the one we made */
	bool add_preload;	/* the shim is not on its LD_PRELOAD yet */
	uint64_t config_given;	/* bit i: envp names config[i] already */
	size_t text;		/* bytes of the strings to write */
};

/* The size of "NAME=ENC" with its NUL, as put_orig writes it. */
static size_t orig_size(const char *name, const char *value, const char *enc)
{
	size_t len = enc ? strlen(enc) :
		     value ? sizeof(PRELOAD_ENV_SET) - 1 + strlen(value) :
		     sizeof(PRELOAD_ENV_UNSET) - 1;

	return strlen(name) + 1 + len + 1;
}

/* Mark the configuration variable that e names, if any. */
static void plan_config_given(struct child_env_plan *p, const char *e)
{
	for (int i = 0; i < n_config; i++)
		if (!strncmp(e, config[i], config_name_len[i] + 1))
			p->config_given |= (uint64_t)1 << i;
}

/*
 * Can envp be extended, and by what?  False: pass it on unchanged (the
 * shim's path is unknown, envp was prepared by a run already, or it is
 * too large for the stack).
 */
static bool child_env_plan(struct child_env_plan *p, char *const envp[])
{
	static const char ld[] = "LD_PRELOAD", pp[] = "PYTHONPATH";
	size_t self_len = strlen(self_path), ld_len, pp_len;

	memset(p, 0, sizeof(*p));
	p->envp = envp;
	if (!self_len)
		return false;
	for (; envp && envp[p->n]; p->n++) {
		const char *e = envp[p->n];

		if (p->n == CHILD_ENV_MAX)
			return false;
		if (!p->preload && env_is(e, ld, sizeof(ld) - 1))
			p->preload = e + sizeof(ld);
		else if (!p->pythonpath && env_is(e, pp, sizeof(pp) - 1))
			p->pythonpath = e + sizeof(pp);
		else if (!strncmp(e, PRELOAD_ENV_ORIG_PREFIX,
				  sizeof(PRELOAD_ENV_ORIG_PREFIX) - 1))
			return false;
		else if (!strncmp(e, PRELOAD_ENV_PREFIX,
				  sizeof(PRELOAD_ENV_PREFIX) - 1))
			plan_config_given(p, e);
	}
	p->add_preload = !preload_env_list_has(p->preload, self_name);
	/* the PYTHONPATH a Python process got from us, passed on as it is:
	 * run's part is not the child's own (a C child restores without) */
	if (python_made[0] && p->pythonpath &&
	    !strcmp(p->pythonpath, python_made))
		p->python_own = python_own;
	ld_len = p->preload ? strlen(p->preload) : 0;
	pp_len = p->pythonpath ? strlen(p->pythonpath) : 0;
	if (ld_len > CHILD_TEXT_MAX || pp_len > CHILD_TEXT_MAX)
		return false;
	/* what child_env_build writes, each string with its NUL */
	p->text = orig_size(PRELOAD_ENV_ORIG_LD_PRELOAD, p->preload, NULL) +
		  orig_size(PRELOAD_ENV_ORIG_PYTHONPATH, p->pythonpath,
			    p->python_own);
	if (p->add_preload)	/* LD_PRELOAD=SELF:OLD */
		p->text += sizeof("LD_PRELOAD=") + self_len + 1 + ld_len;
	return p->text <= CHILD_TEXT_MAX;
}

/* Copy s to dst without its NUL; the end of the copy. */
static char *put(char *dst, const char *s)
{
	size_t len = strlen(s);

	memcpy(dst, s, len);
	return dst + len;
}

/* "NAME=ENC" at text, ENC "unset" or "set:VALUE" (value NULL or not),
 * or enc itself if not NULL; the byte after its NUL. */
static char *put_orig(char *text, const char *name, const char *value,
		      const char *enc)
{
	text = put(text, name);
	*text++ = '=';
	if (enc) {
		text = put(text, enc);
	} else if (value) {
		text = put(text, PRELOAD_ENV_SET);
		text = put(text, value);
	} else {
		text = put(text, PRELOAD_ENV_UNSET);
	}
	*text++ = '\0';
	return text;
}

/* "LD_PRELOAD=SELF[:OLD]" at text; the byte after its NUL. */
static char *put_preload(char *text, const char *old)
{
	text = put(text, "LD_PRELOAD=");
	text = put(text, self_path);
	if (old && *old) {
		*text++ = ':';
		text = put(text, old);
	}
	*text++ = '\0';
	return text;
}

/*
 * Fill vec (n + n_config + 4 entries) and text (p->text bytes): envp
 * with the shim first on LD_PRELOAD (where LD_PRELOAD was, so that the
 * child's shim keeps the order; a second LD_PRELOAD is dropped), the
 * configuration it does not name, and its own LD_PRELOAD and PYTHONPATH
 * described for the child's shim.
 */
static void child_env_build(const struct child_env_plan *p, char **vec,
			    char *text)
{
	bool ld_put = !p->add_preload;
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++) {
		const char *e = p->envp[i];

		if (!p->add_preload || !env_is(e, "LD_PRELOAD", 10)) {
			vec[k++] = (char *)e;
		} else if (!ld_put) {
			vec[k++] = text;
			text = put_preload(text, p->preload);
			ld_put = true;
		}
	}
	for (int i = 0; i < n_config; i++)
		if (!(p->config_given & ((uint64_t)1 << i)))
			vec[k++] = (char *)config[i];
	if (!ld_put) {
		vec[k++] = text;
		text = put_preload(text, NULL);
	}
	vec[k++] = text;
	text = put_orig(text, PRELOAD_ENV_ORIG_LD_PRELOAD, p->preload, NULL);
	vec[k++] = text;
	put_orig(text, PRELOAD_ENV_ORIG_PYTHONPATH, p->pythonpath,
		 p->python_own);
	vec[k] = NULL;
}

/* ---- starting a program ---- */

enum start_how {
	START_EXECVE, START_EXECVPE, START_FEXECVE, START_EXECVEAT,
	START_SPAWN, START_SPAWNP,
};

/* One call that starts a program, all but its environment. */
struct child_start {
	enum start_how how;
	const void *caller;	/* the interposer's return address */
	const char *path;
	char *const *argv;
	int fd, flags;		/* fexecve, execveat */
	pid_t *pid;		/* posix_spawn */
	const posix_spawn_file_actions_t *actions;
	const posix_spawnattr_t *attr;
};

/*
 * Pass the call through as it is: before start-up, when disabled, and
 * for the shim's own children (the reporter must not run under it).
 */
static bool pass_through(const void *caller)
{
	reals_resolve();
	return !atomic_load_explicit(&ready, memory_order_acquire) ||
	       disabled ||
	       ((uintptr_t)caller >= self_lo && (uintptr_t)caller < self_hi);
}

/* The real call with environment envp; its return value and errno. */
static int start_real(const struct child_start *s, char *const envp[])
{
	switch (s->how) {
	case START_EXECVE:
		if (real_execve)
			return real_execve(s->path, s->argv, envp);
		return syscall(SYS_execve, s->path, s->argv, envp);
	case START_EXECVPE:
		if (real_execvpe)
			return real_execvpe(s->path, s->argv, envp);
		break;
	case START_FEXECVE:
		if (real_fexecve)
			return real_fexecve(s->fd, s->argv, envp);
		break;
	case START_EXECVEAT:
		if (real_execveat)
			return real_execveat(s->fd, s->path, s->argv, envp,
					     s->flags);
		return syscall(SYS_execveat, s->fd, s->path, s->argv, envp,
			       s->flags);
	case START_SPAWN:
		return real_posix_spawn ?
			real_posix_spawn(s->pid, s->path, s->actions, s->attr,
					 s->argv, envp) : ENOSYS;
	case START_SPAWNP:
		return real_posix_spawnp ?
			real_posix_spawnp(s->pid, s->path, s->actions, s->attr,
					  s->argv, envp) : ENOSYS;
	}
	errno = ENOSYS;
	return -1;
}

/*
 * Start the program of s with envp as the child's shim needs it (see
 * shim_env.h).  Stack: 8 bytes per entry and the written strings.
 */
static int start_child(const struct child_start *s, char *const envp[])
{
	struct child_env_plan p;

	if (pass_through(s->caller) || !child_env_plan(&p, envp))
		return start_real(s, envp);
	{
		char *vec[p.n + n_config + 4];
		char text[p.text];

		child_env_build(&p, vec, text);
		return start_real(s, vec);
	}
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct child_start s = { .how = START_EXECVE, .path = path,
				 .argv = argv,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	struct child_start s = { .how = START_EXECVE, .path = path,
				 .argv = argv,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, environ);
}

/* glibc's execvp is its execvpe with environ: the same PATH search. */
EXPORT int execvp(const char *file, char *const argv[])
{
	struct child_start s = { .how = START_EXECVPE, .path = file,
				 .argv = argv,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct child_start s = { .how = START_EXECVPE, .path = file,
				 .argv = argv,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct child_start s = { .how = START_FEXECVE, .fd = fd, .argv = argv,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, envp);
}

#if __GLIBC_PREREQ(2, 34)
EXPORT int execveat(int dirfd, const char *path, char *const argv[],
		    char *const envp[], int flags)
{
	struct child_start s = { .how = START_EXECVEAT, .fd = dirfd,
				 .path = path, .argv = argv, .flags = flags,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, envp);
}
#endif

/* ---- execl, execlp, execle: their arguments as an array ---- */

/*
 * Start s with the arguments arg, ... up to a NULL, then (with_envp) the
 * environment that follows the NULL, else environ.  The array is on the
 * stack, as in glibc; E2BIG when there are INT_MAX arguments or more.
 */
static int start_child_va(struct child_start *s, const char *arg,
			  va_list ap, bool with_envp)
{
	va_list count;
	long n = 0;

	va_copy(count, ap);
	for (const char *a = arg; a; a = va_arg(count, const char *))
		if (++n == INT_MAX) {
			va_end(count);
			errno = E2BIG;
			return -1;
		}
	va_end(count);
	{
		char *argv[n + 1];
		char *const *envp = environ;

		argv[0] = (char *)arg;
		for (long i = 1; i < n; i++)
			argv[i] = va_arg(ap, char *);
		if (n > 0)
			(void)va_arg(ap, char *);	/* the NULL */
		argv[n] = NULL;
		if (with_envp)
			envp = va_arg(ap, char *const *);
		s->argv = argv;
		return start_child(s, envp);
	}
}

EXPORT int execl(const char *path, const char *arg, ...)
{
	struct child_start s = { .how = START_EXECVE, .path = path,
				 .caller = __builtin_return_address(0) };
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = start_child_va(&s, arg, ap, false);
	va_end(ap);
	return rc;
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	struct child_start s = { .how = START_EXECVPE, .path = file,
				 .caller = __builtin_return_address(0) };
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = start_child_va(&s, arg, ap, false);
	va_end(ap);
	return rc;
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	struct child_start s = { .how = START_EXECVE, .path = path,
				 .caller = __builtin_return_address(0) };
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = start_child_va(&s, arg, ap, true);
	va_end(ap);
	return rc;
}

/* ---- posix_spawn ---- */

EXPORT int posix_spawn(pid_t *pid, const char *path,
		       const posix_spawn_file_actions_t *actions,
		       const posix_spawnattr_t *attr, char *const argv[],
		       char *const envp[])
{
	struct child_start s = { .how = START_SPAWN, .pid = pid, .path = path,
				 .actions = actions, .attr = attr,
				 .argv = argv,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file,
			const posix_spawn_file_actions_t *actions,
			const posix_spawnattr_t *attr, char *const argv[],
			char *const envp[])
{
	struct child_start s = { .how = START_SPAWNP, .pid = pid,
				 .path = file, .actions = actions,
				 .attr = attr, .argv = argv,
				 .caller = __builtin_return_address(0) };

	return start_child(&s, envp);
}

/* ---- system ---- */

/* SIGINT and SIGQUIT are ignored while any system() runs (POSIX). */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_users;
static struct sigaction system_intr, system_quit;	/* as they were */

/* The last system() to end gives SIGINT and SIGQUIT back. */
static void system_release(void)
{
	real_mutex_lock(&system_lock);
	if (--system_users == 0) {
		real_sigaction(SIGINT, &system_intr, NULL);
		real_sigaction(SIGQUIT, &system_quit, NULL);
	}
	real_mutex_unlock(&system_lock);
}

/* Cancelled while waiting: the shell goes too, as in glibc. */
static void system_cancelled(void *arg)
{
	pid_t pid = *(pid_t *)arg;

	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	system_release();
}

/*
 * POSIX system(line) on the real posix_spawn: sh -c -- line with
 * SIGINT and SIGQUIT ignored and SIGCHLD blocked in the caller until the
 * shell ends; the child gets the caller's mask and default SIGINT and
 * SIGQUIT (unless they were ignored).  Returns the wait status, 127 << 8
 * (errno set) when the shell cannot be started, -1 when waiting fails.
 */
static int system_run(const char *line, const void *caller)
{
	char *argv[] = { "sh", "-c", "--", (char *)line, NULL };
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	struct child_start s = { .how = START_SPAWN, .path = SHELL_PATH,
				 .argv = argv, .caller = caller };
	posix_spawnattr_t attr;
	sigset_t chld, omask, reset;
	int status = -1, err;
	pid_t pid;

	sigemptyset(&ignore.sa_mask);
	real_mutex_lock(&system_lock);
	if (system_users++ == 0) {
		real_sigaction(SIGINT, &ignore, &system_intr);
		real_sigaction(SIGQUIT, &ignore, &system_quit);
	}
	real_mutex_unlock(&system_lock);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &omask);
	sigemptyset(&reset);
	if (system_intr.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGINT);
	if (system_quit.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGQUIT);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &omask);
	posix_spawnattr_setsigdefault(&attr, &reset);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
					POSIX_SPAWN_SETSIGMASK);
	s.pid = &pid;
	s.attr = &attr;
	err = start_child(&s, environ);
	posix_spawnattr_destroy(&attr);
	if (err == 0) {
		pid_t w;

		pthread_cleanup_push(system_cancelled, &pid);
		while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (w != pid)
			status = -1;
		pthread_cleanup_pop(0);
	} else {
		status = W_EXITCODE(127, 0);	/* as if the shell did */
	}
	system_release();
	sigprocmask(SIG_SETMASK, &omask, NULL);
	if (err)
		errno = err;
	return status;
}

EXPORT int system(const char *line)
{
	const void *caller = __builtin_return_address(0);

	if (pass_through(caller) || !spawn_own) {
		if (real_system)
			return real_system(line);
		errno = ENOSYS;
		return -1;
	}
	if (!line)	/* is there a shell? (it may be gone after chroot) */
		return system_run("exit 0", caller) == 0;
	return system_run(line, caller);
}

/* ---- popen, pclose ---- */

/* Our open streams, so that pclose finds the child and popen closes the
 * others' descriptors in a new child (POSIX).  fp NULL: a free entry. */
struct popen_entry {
	FILE *fp;
	pid_t pid;
	int fd;
};
static struct popen_entry popen_table[POPEN_MAX];
static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int popen_open;	/* entries in use (fclose looks if any) */

static void locks_reset(void)
{
	pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;

	system_lock = unlocked;
	popen_lock = unlocked;
}

/* Close every other stream of ours in the child, but its own end. */
static int popen_close_others(posix_spawn_file_actions_t *fa, int child_fd)
{
	for (int i = 0; i < POPEN_MAX; i++) {
		int err;

		if (!popen_table[i].fp || popen_table[i].fd == child_fd)
			continue;
		err = posix_spawn_file_actions_addclose(fa, popen_table[i].fd);
		if (err)
			return err;
	}
	return 0;
}

/* A free entry of popen_table (popen_lock held), or -1. */
static int popen_slot(void)
{
	for (int i = 0; i < POPEN_MAX; i++)
		if (!popen_table[i].fp)
			return i;
	return -1;
}

/*
 * Spawn sh -c -- command with fp's pipe as its stdin or stdout and record
 * it, under popen_lock so that no other popen's child inherits our end.
 * Returns 0, a posix_spawn error, or -1 when the table is full.
 */
static int popen_spawn(FILE *fp, int parent_end, int child_end, int child_fd,
		       const char *command, const void *caller)
{
	char *argv[] = { "sh", "-c", "--", (char *)command, NULL };
	struct child_start s = { .how = START_SPAWN, .path = SHELL_PATH,
				 .argv = argv, .caller = caller };
	posix_spawn_file_actions_t fa;
	int err, slot;
	pid_t pid;

	err = posix_spawn_file_actions_init(&fa);
	if (err)
		return err;
	err = posix_spawn_file_actions_adddup2(&fa, child_end, child_fd);
	real_mutex_lock(&popen_lock);
	if (!err && (slot = popen_slot()) < 0)
		err = -1;
	if (!err)
		err = popen_close_others(&fa, child_fd);
	if (!err) {
		s.pid = &pid;
		s.actions = &fa;
		err = start_child(&s, environ);
	}
	if (!err) {
		popen_table[slot].pid = pid;
		popen_table[slot].fd = parent_end;
		popen_table[slot].fp = fp;
		atomic_fetch_add_explicit(&popen_open, 1, memory_order_release);
	}
	real_mutex_unlock(&popen_lock);
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

/*
 * POSIX popen on the real posix_spawn, as glibc does it: mode "r" or
 * "w", with "e" the caller's end is close-on-exec; NULL with errno on
 * failure.
 */
static FILE *popen_run(const char *command, const char *mode, bool rd,
		       bool cloexec, const void *caller)
{
	int fds[2], parent_end, child_end, child_fd = rd ? 1 : 0, err;
	FILE *fp;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return NULL;
	parent_end = rd ? fds[0] : fds[1];
	child_end = rd ? fds[1] : fds[0];
	if (child_end == child_fd) {
		/* dup2 onto itself would keep close-on-exec: move it */
		int moved = fcntl(child_end, F_DUPFD_CLOEXEC, 0);

		err = errno;
		close(child_end);
		child_end = moved;
		if (moved < 0) {
			close(parent_end);
			errno = err;
			return NULL;
		}
	}
	fp = fdopen(parent_end, rd ? "r" : "w");
	if (!fp) {
		err = errno;
		close(parent_end);
		close(child_end);
		errno = err;
		return NULL;
	}
	err = popen_spawn(fp, parent_end, child_end, child_fd, command,
			  caller);
	close(child_end);
	if (err) {
		fclose(fp);
		if (err > 0) {
			errno = err;
			return NULL;
		}
		shim_say_once(NOTE_ENV, "more popen streams than it tracks; the rest run without the shim");
		return real_popen ? real_popen(command, mode) : NULL;
	}
	if (!cloexec)
		fcntl(parent_end, F_SETFD, 0);
	return fp;
}

EXPORT FILE *popen(const char *command, const char *mode)
{
	const void *caller = __builtin_return_address(0);
	bool rd = false, wr = false, cloexec = false;

	if (pass_through(caller) || !spawn_own) {
		if (real_popen)
			return real_popen(command, mode);
		errno = ENOSYS;
		return NULL;
	}
	/* as glibc reads it: r, w, e in any order, exactly one of r and w */
	for (const char *m = mode; *m; m++) {
		switch (*m) {
		case 'r':
			rd = true;
			break;
		case 'w':
			wr = true;
			break;
		case 'e':
			cloexec = true;
			break;
		default:
			errno = EINVAL;
			return NULL;
		}
	}
	if (rd == wr) {
		errno = EINVAL;
		return NULL;
	}
	return popen_run(command, mode, rd, cloexec, caller);
}

/* Take fp out of popen_table: the pid of its shell, or 0 if not ours. */
static pid_t popen_take(FILE *fp)
{
	pid_t pid = 0;

	if (!fp || !atomic_load_explicit(&popen_open, memory_order_acquire))
		return 0;
	real_mutex_lock(&popen_lock);
	for (int i = 0; i < POPEN_MAX; i++)
		if (popen_table[i].fp == fp) {
			pid = popen_table[i].pid;
			popen_table[i].fp = NULL;
			atomic_fetch_sub_explicit(&popen_open, 1,
						  memory_order_relaxed);
			break;
		}
	real_mutex_unlock(&popen_lock);
	return pid;
}

/* Close our popen stream fp, wait for its shell: the wait status, or -1. */
static int popen_close(FILE *fp, pid_t pid)
{
	pid_t w;
	int status;

	if (real_fclose)
		real_fclose(fp);
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	return w < 0 ? -1 : status;
}

/*
 * Close a stream of our popen and wait for its shell: the wait status,
 * or -1 with errno.  Any other stream is glibc's.
 */
EXPORT int pclose(FILE *fp)
{
	pid_t pid = popen_take(fp);

	if (pid)
		return popen_close(fp, pid);
	reals_resolve();
	if (real_pclose)
		return real_pclose(fp);
	errno = ENOSYS;
	return -1;
}

/*
 * glibc's fclose of a popen stream is its pclose: it waits for the shell.
 * Ours too.  Cost for any other stream: one atomic load while no popen
 * stream is open, else a look through popen_table under its lock.
 */
EXPORT int fclose(FILE *fp)
{
	pid_t pid = popen_take(fp);

	if (pid)
		return popen_close(fp, pid);
	reals_resolve();
	if (real_fclose)
		return real_fclose(fp);
	errno = ENOSYS;
	return EOF;
}
