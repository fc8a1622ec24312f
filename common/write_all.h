/* Writing all of a buffer to a descriptor whatever signals do. */
#ifndef PD_WRITE_ALL_H
#define PD_WRITE_ALL_H

#include <stddef.h>

/*
 * write(2) all of buf to fd, again after EINTR and short writes.  A
 * reader gone is an error (EPIPE), never this process's death: SIGPIPE
 * is held back meanwhile and a SIGPIPE the write raised is dropped.
 * Returns 0, or -1 with errno set.
 */
int write_all(int fd, const void *buf, size_t len);

#endif
