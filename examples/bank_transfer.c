/*
 * A deadlocking program to try pydeadlock on: two tellers move money
 * between two accounts, each locking the source account first.  Teller
 * "north" moves savings -> checking, teller "south" checking -> savings;
 * sooner or later each holds one account and waits for the other.
 *
 *   ./bank_transfer &  pydeadlock attach $!
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

struct account {
	const char *name;
	pthread_mutex_t lock;
	long balance;
};

static struct account savings = { "savings", PTHREAD_MUTEX_INITIALIZER, 1000 };
static struct account checking = { "checking", PTHREAD_MUTEX_INITIALIZER, 1000 };

static void transfer(struct account *from, struct account *to, long amount)
{
	pthread_mutex_lock(&from->lock);
	pthread_mutex_lock(&to->lock);	/* the other teller may hold it */
	from->balance -= amount;
	to->balance += amount;
	pthread_mutex_unlock(&to->lock);
	pthread_mutex_unlock(&from->lock);
}

static void *north(void *arg)
{
	for (;;)
		transfer(&savings, &checking, 1);
	return NULL;
}

static void *south(void *arg)
{
	for (;;)
		transfer(&checking, &savings, 1);
	return NULL;
}

int main(void)
{
	pthread_t n, s;

	pthread_create(&n, NULL, north, NULL);
	pthread_setname_np(n, "north");
	pthread_create(&s, NULL, south, NULL);
	pthread_setname_np(s, "south");
	printf("tellers started; attach with: pydeadlock attach %d\n", (int)getpid());
	fflush(stdout);
	pthread_join(n, NULL);
	return 0;
}
