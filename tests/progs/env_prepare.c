/*
 * Prepare the environment as 'pydeadlock run' does, then run a command
 * in it: env_prepare SHIM PYTHON_DIR|- CMD [ARG...].  Status 2 with the
 * reason when preload_env_prepare refuses, 127 when CMD cannot run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/preload_env.h"

int main(int argc, char **argv)
{
	char err[512];

	if (argc < 4) {
		fprintf(stderr, "usage: env_prepare SHIM PYTHON_DIR|- CMD [ARG...]\n");
		return 2;
	}
	if (preload_env_prepare(argv[1], strcmp(argv[2], "-") ? argv[2] : NULL,
				err, sizeof(err)) < 0) {
		fprintf(stderr, "env_prepare: %s\n", err);
		return 2;
	}
	execvp(argv[3], argv + 3);
	fprintf(stderr, "env_prepare: %s: %s\n", argv[3], strerror(errno));
	return 127;
}
