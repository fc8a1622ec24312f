/* Correct program: a process-shared mutex in MAP_SHARED memory is held by
 * a helper thread of the parent when main forks; the child locks it and
 * waits until the helper unlocks it 1 s later (the memory is shared, so
 * the parent's unlock is the child's too). */
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
static pthread_mutex_t *m;
static volatile int held;
static void *helper(void *arg)
{
	pthread_mutex_lock(m);
	held = 1;
	sleep(1);
	pthread_mutex_unlock(m);
	return NULL;
}
int main(void)
{
	pthread_mutexattr_t a;
	pthread_t t;
	int status;
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(m, &a);
	pthread_create(&t, NULL, helper, NULL);
	while (!held)
		usleep(1000);
	pid_t c = fork();
	if (c == 0) {
		pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
		printf("child ok\n");
		_exit(0);
	}
	pthread_join(t, NULL);
	waitpid(c, &status, 0);
	printf("ok %d\n", WEXITSTATUS(status));
	return 0;
}
