/* A known call chain: main -> level_one -> level_two -> level_three -> pause. */
#include <stdio.h>
#include <unistd.h>

void level_three(void);
void level_two(void);
void level_one(void);

void level_three(void)
{
	puts("ready");
	fflush(stdout);
	for (;;)
		pause();	/* LINE_PAUSE */
}

void level_two(void)
{
	level_three();	/* LINE_TWO */
}

void level_one(void)
{
	level_two();	/* LINE_ONE */
}

int main(void)
{
	level_one();	/* LINE_MAIN */
	return 0;
}
