#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"

const char *program_name = "pydeadlock";
bool debug_enabled;

#define MSG_MAX 1024	/* one line; longer ones are cut */

/*
 * One line on stderr in one write: the programs pydeadlock run watches
 * write there too, and lines must not mix.
 */
static void vmsg(const char *kind, int err, const char *fmt, va_list ap)
{
	char line[MSG_MAX];
	int n = snprintf(line, sizeof(line), "%s: %s", program_name, kind);

	if (n >= 0 && n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (err && n >= 0 && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fflush(stderr);
	(void)!write(2, line, n);
}

void error_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", 0, fmt, ap);
	va_end(ap);
}

void perror_msg(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg("", err, fmt, ap);
	va_end(ap);
}

void error_msg_and_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", 0, fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

void debug_msg(const char *fmt, ...)
{
	struct timespec ts;
	char kind[48];
	va_list ap;

	if (!debug_enabled)
		return;
	/* stamped with CLOCK_MONOTONIC (as Python's time.monotonic()), to
	 * time the tool's steps against each other and the program's */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(kind, sizeof(kind), "debug: [%lld.%06ld] ", (long long)ts.tv_sec,
		 ts.tv_nsec / 1000);
	va_start(ap, fmt);
	vmsg(kind, 0, fmt, ap);
	va_end(ap);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		error_msg_and_die("out of memory (%zu bytes)", size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		error_msg_and_die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		error_msg_and_die("out of memory (%zu x %zu bytes)", n, size);
	p = realloc(p, n && size ? n * size : 1);
	if (!p)
		error_msg_and_die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

char *xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		error_msg_and_die("out of memory");
	return d;
}
