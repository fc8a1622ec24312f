/*
 * A process that execs itself over and over: generation N sleeps a little,
 * then execs generation N+1, until argv[1] generations ran; the last one
 * prints "done N".  Attaching during an exec must not disturb the chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int last = argc > 1 ? atoi(argv[1]) : 100;
	int gen = argc > 2 ? atoi(argv[2]) : 0;
	struct timespec nap = { 0, 2000000 };	/* 2 ms */
	char next[16];

	if (gen == 0) {
		puts("ready");
		fflush(stdout);
	}
	nanosleep(&nap, NULL);
	if (gen >= last) {
		printf("done %d\n", gen);
		return 0;
	}
	snprintf(next, sizeof(next), "%d", gen + 1);
	execl("/proc/self/exe", argv[0], argv[1], next, (char *)NULL);
	perror("exec_chain: execl");
	return 1;
}
