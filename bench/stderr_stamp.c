/*
 * bench/shim.sh's reader: runs CMD with its stdout and stderr on pipes,
 * timestamps (CLOCK_MONOTONIC) the read that brings the first stderr line
 * starting "pydeadlock: deadlock", and takes "t0 NS" from CMD's stdout.
 * Copies everything CMD writes to LOG (-o).  After TIMEOUT ms (-t, default
 * 10000) it sends CMD's process group SIGTERM, then SIGKILL 2 s later.
 * Prints one line:
 *   latency_ns N|- exit CODE|signal N elapsed_ms N timed_out 0|1
 * Usage: stderr_stamp [-t MS] [-o LOG] -- CMD [ARG...]
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARK "pydeadlock: deadlock"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long timeout_ms = 10000;
	const char *log_path = NULL;
	int out[2], err[2], c, status, open_fds = 2, timed_out = 0;
	char obuf[4096], ebuf[4096];	/* the start of each stream */
	size_t olen = 0, elen = 0;
	long long start, t0 = -1, t1 = -1, killed_at = 0;
	FILE *log = NULL;
	pid_t child;

	while ((c = getopt(argc, argv, "+t:o:")) != -1) {
		if (c == 't')
			timeout_ms = atol(optarg);
		else if (c == 'o')
			log_path = optarg;
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: stderr_stamp [-t MS] [-o LOG] -- CMD [ARG...]\n");
		return 2;
	}
	if (log_path && !(log = fopen(log_path, "w"))) {
		perror(log_path);
		return 2;
	}
	if (pipe(out) || pipe(err)) {
		perror("pipe");
		return 2;
	}
	start = now_ns();
	child = fork();
	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0) {
		setpgid(0, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]); close(out[1]); close(err[0]); close(err[1]);
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	setpgid(child, child);
	close(out[1]);
	close(err[1]);
	struct pollfd fds[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };

	while (open_fds) {
		long long now = now_ns();
		long wait_ms = 100;

		if (!killed_at && now - start > timeout_ms * 1000000LL) {
			timed_out = 1;
			killed_at = now;
			kill(-child, SIGTERM);
		} else if (killed_at && now - killed_at > 2000000000LL) {
			kill(-child, SIGKILL);
			killed_at = now;	/* again every 2 s until EOF */
		}
		if (poll(fds, 2, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			return 2;
		}
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t n;

			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(fds[i].fd, buf, sizeof(buf));
			now = now_ns();
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			if (log) {
				fwrite(buf, 1, n, log);
				fflush(log);
			}
			if (i == 0 && olen < sizeof(obuf) - 1) {
				size_t k = (size_t)n < sizeof(obuf) - 1 - olen ? (size_t)n : sizeof(obuf) - 1 - olen;

				memcpy(obuf + olen, buf, k);
				olen += k;
				obuf[olen] = '\0';
				if (t0 < 0) {
					char *p = strstr(obuf, "t0 ");

					if (p && (p == obuf || p[-1] == '\n') && strchr(p, '\n'))
						t0 = atoll(p + 3);
				}
			}
			if (i == 1 && elen < sizeof(ebuf) - 1) {
				size_t k = (size_t)n < sizeof(ebuf) - 1 - elen ? (size_t)n : sizeof(ebuf) - 1 - elen;

				memcpy(ebuf + elen, buf, k);
				elen += k;
				ebuf[elen] = '\0';
				if (t1 < 0) {
					char *p = strstr(ebuf, MARK);

					if (p && (p == ebuf || p[-1] == '\n'))
						t1 = now;
				}
			}
		}
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (t0 >= 0 && t1 >= 0)
		printf("latency_ns %lld", t1 - t0);
	else
		printf("latency_ns -");
	if (WIFSIGNALED(status))
		printf(" signal %d", WTERMSIG(status));
	else
		printf(" exit %d", WEXITSTATUS(status));
	printf(" elapsed_ms %lld timed_out %d\n", (now_ns() - start) / 1000000, timed_out);
	if (log)
		fclose(log);
	return 0;
}
