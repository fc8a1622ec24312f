/* One error idiom for the whole program (after strace). */
#ifndef PD_ERROR_H
#define PD_ERROR_H

#include <stdbool.h>
#include <stddef.h>

/* The name printed before every message ("pydeadlock"). */
extern const char *program_name;
/* Set by --debug (or PYDEADLOCK_DEBUG=1); gates debug_msg(). */
extern bool debug_enabled;

void error_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void perror_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void error_msg_and_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void debug_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that cannot fail: dies with a message (CLI only, never shim). */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

#include "common/exit_status.h"	/* EXIT_USAGE and the others */

#endif
