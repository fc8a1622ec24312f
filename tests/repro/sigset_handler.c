/* Correct program: main waits on a semaphore that a SIGUSR1 handler posts;
 * the handler is installed with sigset() (System V API; glibc implements
 * it with its internal __sigaction, not through the PLT).  A child process
 * sends SIGUSR1 after 1 s. */
#define _XOPEN_SOURCE 700
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
static sem_t s;
static void on_usr1(int sig) { sem_post(&s); }
int main(int argc, char **argv)
{
	pid_t parent = getpid(), c;
	sem_init(&s, 0, 0);
	sigset(SIGUSR1, on_usr1);
	if ((c = fork()) == 0) {
		sleep(1);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	while (sem_wait(&s) != 0)
		;
	waitpid(c, NULL, 0);
	printf("ok\n");
	return 0;
}
