/* Inlined frames: built with -O2; park() is always inlined into main. */
#include <stdio.h>
#include <unistd.h>

static inline __attribute__((always_inline)) void park(void)
{
	for (;;)
		pause();	/* LINE_PARK */
}

int main(void)
{
	puts("ready");
	fflush(stdout);
	park();	/* LINE_CALL */
	return 0;
}
