/*
 * What the program's processes tell run as they end: loops of lock
 * orders, once each, and profiles (supervisor/records.h).
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
#include "supervisor/records.h"

int records_open(struct run_records *o)
{
	memset(o, 0, sizeof(*o));
	o->fd = memfd_create("pydeadlock-lock-order", MFD_CLOEXEC);
	if (o->fd < 0) {
		perror_msg("run: memfd_create");
		return -1;
	}
	return 0;
}

/* A loop's record: new?  Then keep its JSON and print its text. */
static int loop_take(struct run_records *o, char *rec)
{
	unsigned long long key;
	char *json, *text;

	if (sscanf(rec + 1, "%llx", &key) != 1 ||
	    !(json = strstr(rec, "\nJ")) || !(text = strchr(json + 2, '\n')))
		return 0;
	for (int i = 0; i < o->n; i++)
		if (o->keys[i] == key)
			return 0;
	if (o->n == RECORDS_MAX) {
		o->more++;
		return 0;
	}
	*text++ = '\0';
	o->keys[o->n] = key;
	o->json[o->n++] = xstrdup(json + 2);
	(void)write_all(2, text, strlen(text));
	return 1;
}

/* A profile's record: keep its JSON and timeline, print its table. */
static void profile_take(struct run_records *o, char *rec)
{
	char *h = strstr(rec, "\nH"), *json = strstr(rec, "\nJ"), *text, *svg;

	if (!h || !json || !(text = strchr(json + 2, '\n')) ||
	    o->n_profiles == RECORDS_MAX)
		return;
	*text++ = '\0';
	if ((svg = strchr(text, '\001')))
		*svg++ = '\0';
	o->svg_height[o->n_profiles] = atoi(h + 2);
	o->svg[o->n_profiles] = xstrdup(svg ? svg : "");
	o->profile[o->n_profiles++] = xstrdup(json + 2);
	(void)write_all(2, text, strlen(text));
}

int records_collect(struct run_records *o)
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
		if (p[0] == 'K')
			found += loop_take(o, p);
		else if (p[0] == 'P')
			profile_take(o, p);
		o->read += nul + 1 - p;
		p = nul + 1;
	}
	free(buf);
	return found;
}

/* The items joined: ", " between them. */
static size_t joined_len(char *const *items, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += strlen(items[i]) + 2;
	return len;
}

static void join_into(char *out, size_t *at, char *const *items, int n,
		      bool first)
{
	for (int i = 0; i < n; i++)
		*at += (size_t)sprintf(out + *at, "%s%s", first && i == 0 ? "" : ", ",
				       items[i]);
}

/*
 * A deadlock's JSON report ends "... "potential": [...]}\n": the loops
 * go into that list, the profiles into a "profile" list after it.
 */
static char *merged(const char *old, const struct run_records *o)
{
	const char *close = strrchr(old, ']');
	size_t n, cap;
	char *out;

	if (!close)
		return NULL;
	cap = strlen(old) + 32 + joined_len(o->json, o->n) +
	      joined_len(o->profile, o->n_profiles);
	out = xmalloc(cap);
	n = (size_t)(close - old);
	memcpy(out, old, n);
	join_into(out, &n, o->json, o->n, close > old && close[-1] == '[');
	out[n++] = ']';
	if (o->n_profiles) {
		n += (size_t)sprintf(out + n, ", \"profile\": [");
		join_into(out, &n, o->profile, o->n_profiles, true);
		out[n++] = ']';
	}
	strcpy(out + n, close + 1);
	return out;
}

int records_json(const struct run_records *o, const char *path, pid_t pid)
{
	FILE *f = fopen(path, "r");
	char *old = NULL, *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (!o->n && !o->n_profiles)
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
		fputs("]", f);
		if (o->n_profiles) {
			fputs(", \"profile\": [", f);
			for (int i = 0; i < o->n_profiles; i++)
				fprintf(f, "%s%s", i ? ", " : "", o->profile[i]);
			fputs("]", f);
		}
		fputs("}\n", f);
	}
	if (fclose(f) != 0)
		rc = -1;
	free(old);
	free(text);
	return rc;
}

#define SVG_WIDTH 1000
#define SVG_LEGEND 24

int records_svg(const struct run_records *o, const char *path)
{
	static const struct {
		const char *name, *colour;
	} legend[] = {
		{ "not waiting (running or runnable)", "#8fd18f" },
		{ "GIL", "#e8a33d" }, { "lock", "#d9534f" },
		{ "condition, event, queue", "#9b7fd1" }, { "join", "#999999" },
		{ "I/O", "#4a90d9" }, { "sleep", "#cccccc" },
	};
	FILE *f = fopen(path, "w");
	int height = SVG_LEGEND, y = SVG_LEGEND, x = 4;

	if (!f) {
		perror_msg("cannot write %s", path);
		return -1;
	}
	for (int i = 0; i < o->n_profiles; i++)
		height += o->svg_height[i];
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n"
		"<title>pydeadlock run --profile: what each thread waited for</title>\n",
		SVG_WIDTH, height);
	for (size_t i = 0; i < sizeof(legend) / sizeof(legend[0]); i++) {
		fprintf(f, "<rect x=\"%d\" y=\"6\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"15\">%s</text>\n",
			x, legend[i].colour, x + 13, legend[i].name);
		x += 24 + 6 * (int)strlen(legend[i].name);
	}
	for (int i = 0; i < o->n_profiles; i++) {
		fprintf(f, "<g transform=\"translate(0,%d)\">\n%s</g>\n", y, o->svg[i]);
		y += o->svg_height[i];
	}
	fputs("</svg>\n", f);
	return fclose(f) == 0 ? 0 : -1;
}

void records_close(struct run_records *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	for (int i = 0; i < o->n; i++)
		free(o->json[i]);
	for (int i = 0; i < o->n_profiles; i++) {
		free(o->profile[i]);
		free(o->svg[i]);
	}
	o->n = o->n_profiles = 0;
}

int records_suppressions_check(const char *path)
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
	text = xmalloc(LO_SUPPRESSIONS_MAX + 1);
	n = fread(text, 1, LO_SUPPRESSIONS_MAX + 1, f);
	fclose(f);
	if (n > LO_SUPPRESSIONS_MAX) {
		error_msg("run: %s: larger than %d KiB", path,
			  LO_SUPPRESSIONS_MAX / 1024);
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
