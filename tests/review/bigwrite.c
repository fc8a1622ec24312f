/* Correct program: one write(2) of 4 MiB to stdout (a pipe whose reader
 * starts reading after a few seconds).  A blocking pipe write writes
 * everything; it only returns short when interrupted.  Prints to stderr
 * what write returned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
int main(void)
{
	size_t n = 4 << 20;
	char *buf = malloc(n);
	memset(buf, 'x', n);
	ssize_t w = write(1, buf, n);
	fprintf(stderr, "bigwrite: write returned %zd of %zu (%s)\n", w, n,
		w == (ssize_t)n ? "ok" : strerror(errno));
	return w == (ssize_t)n ? 0 : 1;
}
