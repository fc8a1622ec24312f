/*
 * Another debugger: PTRACE_SEIZE the process argv[1] (which does not stop
 * it), print "ready", and hold it until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid = argc > 1 ? atoi(argv[1]) : 0;

	if (pid <= 0 || ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) {
		perror("ptrace_holder: PTRACE_SEIZE");
		return 1;
	}
	puts("ready");
	fflush(stdout);
	for (;;)
		pause();
}
