/*
 * run --lock-order: the loops the program's processes found, once each
 * (supervisor/order_reports.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "common/write_all.h"
#include "runtime/lockorder.h"
#include "supervisor/order_reports.h"

#define ORDER_SUPPRESSIONS_MAX (256 * 1024)	/* as the shim reads it */

int order_reports_open(struct order_reports *o)
{
	memset(o, 0, sizeof(*o));
	o->fd = memfd_create("pydeadlock-lock-order", MFD_CLOEXEC);
	if (o->fd < 0) {
		perror_msg("run: memfd_create");
		return -1;
	}
	return 0;
}

/* One record: new?  Then keep its JSON and print its text. */
static int record_take(struct order_reports *o, char *rec)
{
	unsigned long long key;
	char *json, *text;

	if (rec[0] != 'K' || sscanf(rec + 1, "%llx", &key) != 1 ||
	    !(json = strstr(rec, "\nJ")) || !(text = strchr(json + 2, '\n')))
		return 0;
	for (int i = 0; i < o->n; i++)
		if (o->keys[i] == key)
			return 0;
	if (o->n == ORDER_REPORTS_MAX) {
		o->more++;
		return 0;
	}
	*text++ = '\0';
	o->keys[o->n] = key;
	o->json[o->n++] = xstrdup(json + 2);
	(void)write_all(2, text, strlen(text));
	return 1;
}

int order_reports_collect(struct order_reports *o)
{
	off_t end;
	char *buf, *p;
	int found = 0;

	if (o->fd < 0 || (end = lseek(o->fd, 0, SEEK_END)) <= o->read)
		return 0;
	buf = xmalloc((size_t)(end - o->read) + 1);
	if (pread(o->fd, buf, (size_t)(end - o->read), o->read) !=
	    end - o->read) {
		free(buf);
		return 0;
	}
	buf[end - o->read] = '\0';
	/* whole records only: one still being written is read next time */
	for (p = buf; p < buf + (end - o->read);) {
		char *nul = memchr(p, '\0', (size_t)(buf + (end - o->read) - p));

		if (!nul)
			break;
		found += record_take(o, p);
		o->read += nul + 1 - p;
		p = nul + 1;
	}
	free(buf);
	return found;
}

/* The JSON report of a deadlock ends "...]}\n": put the loops in its
 * last list, "potential". */
static char *merged(const char *old, const struct order_reports *o)
{
	const char *close = strrchr(old, ']');
	size_t n = 0, cap;
	char *out;
	bool empty;

	if (!close)
		return NULL;
	empty = close > old && close[-1] == '[';
	cap = strlen(old) + 16;
	for (int i = 0; i < o->n; i++)
		cap += strlen(o->json[i]) + 2;
	out = xmalloc(cap);
	memcpy(out, old, (size_t)(close - old));
	n = (size_t)(close - old);
	for (int i = 0; i < o->n; i++)
		n += (size_t)sprintf(out + n, "%s%s", empty && i == 0 ? "" : ", ",
				     o->json[i]);
	strcpy(out + n, close);
	return out;
}

int order_reports_json(const struct order_reports *o, const char *path,
		       pid_t pid)
{
	FILE *f = fopen(path, "r");
	char *old = NULL, *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (!o->n)
		return 0;
	if (f) {
		if (getdelim(&old, &len, '\0', f) > 0)
			text = merged(old, o);
		fclose(f);
	}
	if (!(f = fopen(path, "w"))) {
		perror_msg("cannot write %s", path);
		free(old);
		free(text);
		return -1;
	}
	if (text) {
		fputs(text, f);
	} else {
		fprintf(f, "{\"pid\": %d, \"python\": null, \"threads\": [], \"deadlocks\": [], \"potential\": [",
			(int)pid);
		for (int i = 0; i < o->n; i++)
			fprintf(f, "%s%s", i ? ", " : "", o->json[i]);
		fputs("]}\n", f);
	}
	if (fclose(f) != 0)
		rc = -1;
	free(old);
	free(text);
	return rc;
}

void order_reports_close(struct order_reports *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	for (int i = 0; i < o->n; i++)
		free(o->json[i]);
	o->n = 0;
}

int order_suppressions_check(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	char err[256];
	int line;

	if (!f) {
		perror_msg("run: --suppressions=%s", path);
		return -1;
	}
	text = xmalloc(ORDER_SUPPRESSIONS_MAX + 1);
	n = fread(text, 1, ORDER_SUPPRESSIONS_MAX + 1, f);
	fclose(f);
	if (n > ORDER_SUPPRESSIONS_MAX) {
		error_msg("run: %s: larger than %d KiB", path,
			  ORDER_SUPPRESSIONS_MAX / 1024);
		free(text);
		return -1;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		error_msg("run: %s: not a text file", path);
		free(text);
		return -1;
	}
	line = lockorder_suppressions_check(text, err, sizeof(err));
	free(text);
	if (line) {
		error_msg("run: %s:%d: %s", path, line, err);
		return -1;
	}
	return 0;
}
