/*
 * The environment contract between run and the shim (preload_env.h).
 * preload_env_prepare runs in run; the three helpers after it also in
 * the shim, on the way to exec (maybe in a vfork child): they allocate
 * nothing and call nothing that could.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/preload_env.h"

/* Can path be one entry of LD_PRELOAD?  Else say why in err. */
static int shim_path_ok(const char *path, char *err, size_t err_size)
{
	if (!*path) {
		snprintf(err, err_size, "the shim's path is empty");
		return -1;
	}
	if (strpbrk(path, ": ")) {
		snprintf(err, err_size,
			 "the shim's path '%s' holds ':' or ' ', which separate LD_PRELOAD's entries; move it to a path without them",
			 path);
		return -1;
	}
	return 0;
}

/* Is dirs a PYTHONPATH list without an empty entry (the cwd to Python)? */
static int python_dirs_ok(const char *dirs, char *err, size_t err_size)
{
	if (!*dirs || *dirs == ':' || dirs[strlen(dirs) - 1] == ':' ||
	    strstr(dirs, "::")) {
		snprintf(err, err_size,
			 "the Python package directories '%s' hold an empty entry, which Python would read as the working directory",
			 dirs);
		return -1;
	}
	return 0;
}

/* setenv(name, value), or -1 with the reason in err */
static int set_or_say(const char *name, const char *value, char *err,
		      size_t err_size)
{
	if (setenv(name, value, 1) == 0)
		return 0;
	snprintf(err, err_size, "cannot set %s: %s", name, strerror(errno));
	return -1;
}

/* Record in orig_name what name is now (the ENC of preload_env.h). */
static int record_orig(const char *name, const char *orig_name, char *err,
		       size_t err_size)
{
	const char *old = getenv(name);
	char *enc;
	int rc;

	if (!old)
		return set_or_say(orig_name, PRELOAD_ENV_UNSET, err, err_size);
	enc = malloc(sizeof(PRELOAD_ENV_SET) + strlen(old));
	if (!enc) {
		snprintf(err, err_size, "cannot set %s: %s", orig_name,
			 strerror(ENOMEM));
		return -1;
	}
	sprintf(enc, "%s%s", PRELOAD_ENV_SET, old);
	rc = set_or_say(orig_name, enc, err, err_size);
	free(enc);
	return rc;
}

/* Put first on the list in variable name. */
static int prepend(const char *name, const char *first, char *err,
		   size_t err_size)
{
	const char *old = getenv(name);
	char *list;
	int rc;

	if (!old || !*old)	/* no empty component: to Python, the cwd */
		return set_or_say(name, first, err, err_size);
	list = malloc(strlen(first) + 1 + strlen(old) + 1);
	if (!list) {
		snprintf(err, err_size, "cannot set %s: %s", name,
			 strerror(ENOMEM));
		return -1;
	}
	sprintf(list, "%s:%s", first, old);
	rc = set_or_say(name, list, err, err_size);
	free(list);
	return rc;
}

int preload_env_prepare(const char *shim_path, const char *python_dirs,
			char *err, size_t err_size)
{
	if (shim_path_ok(shim_path, err, err_size) < 0 ||
	    (python_dirs && python_dirs_ok(python_dirs, err, err_size) < 0))
		return -1;
	if (record_orig("LD_PRELOAD", PRELOAD_ENV_ORIG_LD_PRELOAD, err,
			err_size) < 0 ||
	    record_orig("PYTHONPATH", PRELOAD_ENV_ORIG_PYTHONPATH, err,
			err_size) < 0 ||
	    prepend("LD_PRELOAD", shim_path, err, err_size) < 0)
		return -1;
	if (!python_dirs)
		return 0;
	if (prepend("PYTHONPATH", python_dirs, err, err_size) < 0 ||
	    set_or_say(PRELOAD_ENV_PYTHON_DIR, python_dirs, err, err_size) < 0)
		return -1;
	return 0;
}

int preload_env_orig_decode(const char *enc, const char **value)
{
	if (!enc)
		return -1;
	if (!strcmp(enc, PRELOAD_ENV_UNSET))
		return 0;
	if (strncmp(enc, PRELOAD_ENV_SET, sizeof(PRELOAD_ENV_SET) - 1))
		return -1;
	*value = enc + sizeof(PRELOAD_ENV_SET) - 1;
	return 1;
}

bool preload_env_list_has(const char *list, const char *file_name)
{
	size_t name_len = strlen(file_name);
	const char *p = list;

	if (!list || !name_len)
		return false;
	while (*p) {
		size_t len = strcspn(p, ": ");

		/* the entry p[0..len): file_name itself, or ".../file_name" */
		if (len >= name_len &&
		    !memcmp(p + len - name_len, file_name, name_len) &&
		    (len == name_len || p[len - name_len - 1] == '/'))
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

bool preload_env_path_starts(const char *list, const char *dirs)
{
	size_t len = strlen(dirs);

	return list && !strncmp(list, dirs, len) &&
	       (list[len] == '\0' || list[len] == ':');
}
