/* A parent that never reaps: prints its exited child's PID, then pauses. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	sleep(1);	/* let the child die */
	printf("ready %d\n", child);
	fflush(stdout);
	for (;;)
		pause();
}
