/* Correct program: system() and popen() semantics the shim re-implements. */
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile int chld;
static void on_chld(int s) { chld++; }
int main(void)
{
	char buf[64];
	FILE *f;
	signal(SIGCHLD, on_chld);
	printf("system(NULL)=%d\n", system(NULL));
	printf("system(exit 3)=%#x\n", system("exit 3"));
	printf("system(kill self)=%#x\n", system("kill -TERM $$"));
	printf("system(nonexistent)=%#x\n", system("/nonexistent/x 2>/dev/null"));
	printf("sigchld after system: %d\n", chld);
	f = popen("echo hello; exit 5", "r");
	fgets(buf, sizeof buf, f);
	printf("popen read=%s", buf);
	printf("pclose=%#x\n", pclose(f));
	f = popen("cat >/dev/null", "w");
	fputs("x\n", f);
	printf("pclose(w)=%#x\n", pclose(f));
	errno = 0;
	f = popen("true", "rw");
	printf("popen(rw)=%p errno=%d\n", (void *)f, errno);
	sleep(1);
	printf("sigchld total: %d\n", chld);
	return 0;
}
