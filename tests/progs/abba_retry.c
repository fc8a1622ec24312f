/*
 * Transfers between two accounts in opposite lock orders, again and again:
 * they deadlock often.  Under pydeadlock run --on-deadlock=break the
 * victim's pthread_mutex_lock returns EDEADLK; it lets go of the lock it
 * holds, yields, and retries.  Prints the totals: money is neither made
 * nor lost, every transfer happened once, nobody ever held a lock it was
 * refused.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#define TRANSFERS 5000

struct account {
	pthread_mutex_t lock;
	long balance;
	int holder;	/* who holds lock: checks mutual exclusion */
};

static struct account acct[2] = {
	{ PTHREAD_MUTEX_INITIALIZER, 1000000, 0 },
	{ PTHREAD_MUTEX_INITIALIZER, 1000000, 0 },
};
static long backoffs[2], broken_exclusion;
static pthread_barrier_t first_round;	/* the first transfer deadlocks for sure */

static void take(struct account *a, int me)
{
	if (a->holder)
		broken_exclusion++;
	a->holder = me;
}

static void *teller(void *arg)
{
	int me = (int)(long)arg, from = me - 1, to = !from;

	for (int i = 0; i < TRANSFERS; i++) {
		for (int attempt = 0;; attempt++) {
			pthread_mutex_lock(&acct[from].lock);
			take(&acct[from], me);
			if (i == 0 && attempt == 0)
				pthread_barrier_wait(&first_round);
			sched_yield();	/* let the other teller take its first lock */
			int rc = pthread_mutex_lock(&acct[to].lock);
			if (rc == 0)
				break;
			if (rc != EDEADLK) {
				fprintf(stderr, "pthread_mutex_lock: %d\n", rc);
				exit(3);
			}
			backoffs[from]++;	/* the victim: back off, retry */
			acct[from].holder = 0;
			pthread_mutex_unlock(&acct[from].lock);
			sched_yield();
		}
		take(&acct[to], me);
		acct[from].balance -= 7;
		acct[to].balance += 7;
		acct[to].holder = 0;
		pthread_mutex_unlock(&acct[to].lock);
		acct[from].holder = 0;
		pthread_mutex_unlock(&acct[from].lock);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[2];

	pthread_barrier_init(&first_round, NULL, 2);
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, teller, (void *)(i + 1));
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("balances %ld %ld\nbackoffs %ld\nexclusion broken %ld\n",
	       acct[0].balance, acct[1].balance, backoffs[0] + backoffs[1],
	       broken_exclusion);
	puts(acct[0].balance + acct[1].balance == 2000000 &&
	     acct[0].balance == 1000000 && !broken_exclusion ? "ok" : "BROKEN");
	return 0;
}
