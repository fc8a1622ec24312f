/*
 * Many live synchronisation objects: stress_objects N KIND END.
 * KIND: mutex (pthread mutexes), sem (semaphores of value 1, used as
 * locks), counting (semaphores of value 0, posted then waited for).
 * All N are initialised first (all alive at once), then each is locked
 * and unlocked (posted and waited for), checked free, and at the END
 * destroyed (destroy) or left as they are (keep).  Prints exact counts,
 * "ok", then the peak resident set (VmHWM of /proc/self/status, kB).
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long vmhwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	long n, inits = 0, ops = 0, free_after = 0, destroyed = 0;
	int destroy, kind;
	pthread_mutex_t *m = NULL;
	sem_t *s = NULL;

	if (argc != 4 || (strcmp(argv[2], "mutex") && strcmp(argv[2], "sem") &&
			  strcmp(argv[2], "counting")) ||
	    (strcmp(argv[3], "destroy") && strcmp(argv[3], "keep"))) {
		fprintf(stderr, "usage: stress_objects N mutex|sem|counting destroy|keep\n");
		return 2;
	}
	n = atol(argv[1]);
	kind = argv[2][0];
	destroy = !strcmp(argv[3], "destroy");
	if (kind == 'm')
		m = malloc(n * sizeof(*m));
	else
		s = malloc(n * sizeof(*s));
	if (!m && !s)
		return 1;
	for (long i = 0; i < n; i++)
		if (kind == 'm' ? pthread_mutex_init(&m[i], NULL) == 0 :
		    sem_init(&s[i], 0, kind == 's' ? 1 : 0) == 0)
			inits++;
	for (long i = 0; i < n; i++) {
		int v = -1;

		switch (kind) {
		case 'm':
			if (pthread_mutex_lock(&m[i]) == 0 &&
			    pthread_mutex_unlock(&m[i]) == 0)
				ops++;
			if (pthread_mutex_trylock(&m[i]) == 0) {
				free_after++;
				pthread_mutex_unlock(&m[i]);
			}
			break;
		case 's':
			if (sem_wait(&s[i]) == 0 && sem_post(&s[i]) == 0)
				ops++;
			if (sem_getvalue(&s[i], &v) == 0 && v == 1)
				free_after++;
			break;
		default:
			if (sem_post(&s[i]) == 0 && sem_wait(&s[i]) == 0)
				ops++;
			if (sem_getvalue(&s[i], &v) == 0 && v == 0)
				free_after++;
			break;
		}
	}
	if (destroy)
		for (long i = 0; i < n; i++)
			if (kind == 'm' ? pthread_mutex_destroy(&m[i]) == 0 :
			    sem_destroy(&s[i]) == 0)
				destroyed++;
	printf("objects %ld\nops %ld\nfree %ld\ndestroyed %ld\n", inits, ops,
	       free_after, destroyed);
	puts(inits == n && ops == n && free_after == n &&
	     destroyed == (destroy ? n : 0) ? "ok" : "BROKEN");
	printf("vmhwm_kb %ld\n", vmhwm_kb());
	return 0;
}
