/* glibc answers these with EDEADLK itself; the shim must pass that on. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
int main(void) {
	pthread_mutexattr_t a; pthread_mutex_t m; pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
	pthread_mutexattr_init(&a); pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&m, &a);
	pthread_mutex_lock(&m);
	printf("errorcheck relock: %s\n", strerror(pthread_mutex_lock(&m)));
	pthread_rwlock_wrlock(&l);
	printf("wrlock twice: %s\n", strerror(pthread_rwlock_wrlock(&l)));
	printf("join self: %s\n", strerror(pthread_join(pthread_self(), NULL)));
	return 0;
}
