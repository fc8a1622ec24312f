/*
 * The serial trace's parser (format in trace.h and doc/trace.md).  Every
 * line is checked whole; the first bad one ends the parse with its
 * number.  Counted first, then filled: two passes, two allocations.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/trace.h"

#define TRACE_MAX_BYTES (256u << 20)

const char *const trace_event_names[TE_COUNT] = {
	[TE_START] = "start", [TE_EXIT] = "exit", [TE_LOCK] = "lock",
	[TE_UNLOCK] = "unlock", [TE_SEM] = "sem", [TE_POST] = "post",
	[TE_WAIT] = "wait", [TE_NOTIFY] = "notify", [TE_JOIN] = "join",
	[TE_SLEEP] = "sleep", [TE_YIELD] = "yield", [TE_IO] = "io",
	[TE_GIL] = "gil", [TE_BACK] = "back",
};

static void *calloc1(size_t n)
{
	return calloc(1, n);
}

static void *(*alloc)(size_t) = calloc1;
static void (*release)(void *) = free;

void trace_set_allocator(void *(*a)(size_t), void (*r)(void *))
{
	alloc = a;
	release = r;
}

struct cursor {
	const char *p, *end;
	uint32_t lineno;
	char *err;
	size_t err_size;
};

static int bad(struct cursor *c, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->err_size, "line %u: ", c->lineno);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->err_size)
		vsnprintf(c->err + n, c->err_size - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next word of the line (up to a space or the line's end). */
static bool word(struct cursor *c, const char **w, size_t *len)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
	*w = c->p;
	while (c->p < c->end && *c->p != ' ' && *c->p != '\n')
		c->p++;
	*len = (size_t)(c->p - *w);
	return *len > 0;
}

static bool is(const char *w, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(w, lit, len);
}

/* A decimal number of w (whole), at most max. */
static bool number(const char *w, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!len || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		if (x > (UINT64_MAX - (uint64_t)(w[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(w[i] - '0');
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

static int want_number(struct cursor *c, const char *what, uint64_t max,
		       uint64_t *v)
{
	const char *w;
	size_t len;

	if (!word(c, &w, &len))
		return bad(c, "missing %s", what);
	if (!number(w, len, max, v))
		return bad(c, "%s '%.*s' is not a number up to %llu", what,
			   (int)(len > 40 ? 40 : len), w, (unsigned long long)max);
	return 0;
}

static int want_word(struct cursor *c, const char *lit)
{
	const char *w;
	size_t len;

	if (!word(c, &w, &len) || !is(w, len, lit))
		return bad(c, "'%s' expected", lit);
	return 0;
}

static int line_end(struct cursor *c)
{
	const char *w;
	size_t len;

	if (word(c, &w, &len))
		return bad(c, "unexpected '%.*s' at the end", (int)(len > 40 ? 40 : len), w);
	return 0;
}

/* "0,2!,3~": count them, and with out, store them. */
static int cands(struct cursor *c, const char *w, size_t len,
		 struct trace_cand *out, uint32_t *n)
{
	size_t i = 0;

	*n = 0;
	while (i < len) {
		size_t j = i;
		uint64_t id;
		char mark = 0;

		while (j < len && w[j] >= '0' && w[j] <= '9')
			j++;
		if (!number(w + i, j - i, TRACE_MAX_THREAD, &id))
			return bad(c, "thread list '%.*s' is not numbers joined by commas",
				   (int)(len > 40 ? 40 : len), w);
		if (j < len && (w[j] == '!' || w[j] == '~'))
			mark = w[j++];
		if (j < len && w[j] != ',')
			return bad(c, "thread list '%.*s': '%c' after a number",
				   (int)(len > 40 ? 40 : len), w, w[j]);
		if (j + 1 == len)
			return bad(c, "thread list ends with a comma");
		if (out) {
			out[*n].thread = (uint16_t)id;
			out[*n].mark = mark;
		}
		(*n)++;
		i = j + 1;
	}
	if (!*n)
		return bad(c, "empty thread list");
	return 0;
}

static int event(struct cursor *c, uint8_t *ev)
{
	const char *w;
	size_t len;

	if (!word(c, &w, &len))
		return bad(c, "missing the kind of point");
	for (int i = 0; i < TE_COUNT; i++)
		if (is(w, len, trace_event_names[i])) {
			*ev = (uint8_t)i;
			return 0;
		}
	return bad(c, "unknown kind of point '%.*s'", (int)(len > 40 ? 40 : len), w);
}

/*
 * One pass over the lines: with fill false it counts lines and
 * candidates; with fill true it stores them (t->lines, t->cands sized).
 */
static int pass(struct cursor *c, struct trace *t, bool fill)
{
	bool seen_header = false, seen_end = false;
	uint64_t last_step = 0;
	bool seen_thread[TRACE_MAX_THREAD + 1] = { [0] = true };

	t->n_lines = t->n_cands = 0;
	for (c->lineno = 1; c->p < c->end; c->lineno++) {
		const char *eol = memchr(c->p, '\n', (size_t)(c->end - c->p));
		const char *w;
		size_t len;
		uint64_t v;

		if (!eol)
			return bad(c, "truncated (no newline at the end)");
		if (*c->p == '#' || c->p == eol) {	/* a comment, an empty line */
			c->p = eol + 1;
			continue;
		}
		for (const char *q = c->p; q < eol; q++)
			if ((unsigned char)*q < ' ' || (unsigned char)*q > '~')
				return bad(c, "a byte that is not printable text");
		if (!word(c, &w, &len))
			return bad(c, "a line of spaces");
		if (!seen_header) {
			if (!is(w, len, "pydeadlock-trace"))
				return bad(c, "not a pydeadlock trace (no 'pydeadlock-trace %d' first)",
					   TRACE_VERSION);
			if (want_number(c, "the version", 1000000, &v) < 0)
				return -1;
			if (v != TRACE_VERSION)
				return bad(c, "trace version %llu; this pydeadlock reads version %d",
					   (unsigned long long)v, TRACE_VERSION);
			seen_header = true;
		} else if (seen_end) {
			return bad(c, "a line after 'end'");
		} else if (is(w, len, "seed")) {
			if (want_number(c, "the seed", UINT64_MAX, &t->seed) < 0)
				return -1;
		} else if (is(w, len, "depth")) {
			if (want_number(c, "the depth", 1000, &v) < 0)
				return -1;
			t->depth = (int)v;
		} else if (is(w, len, "interval")) {
			if (want_number(c, "the interval", 1000000, &v) < 0)
				return -1;
			t->interval = (int)v;
		} else if (is(w, len, "steps")) {
			if (want_number(c, "the steps", UINT64_MAX, &t->steps) < 0)
				return -1;
		} else if (is(w, len, "exe")) {
			if (!word(c, &w, &len) || len >= sizeof(t->exe))
				return bad(c, "the executable's path is missing or too long");
			if (fill)
				snprintf(t->exe, sizeof(t->exe), "%.*s", (int)len, w);
		} else if (is(w, len, "policy")) {
			if (!word(c, &w, &len) ||
			    !(is(w, len, "abort") || is(w, len, "report") || is(w, len, "break")))
				return bad(c, "the policy must be abort, report or break");
			if (fill)
				snprintf(t->policy, sizeof(t->policy), "%.*s", (int)len, w);
		} else if (is(w, len, "end")) {
			const char *rest = c->p;

			while (rest < eol && *rest == ' ')
				rest++;
			if (fill)
				snprintf(t->end, sizeof(t->end), "%.*s",
					 (int)(eol - rest), rest);
			seen_end = true;
			c->p = eol;
		} else if (is(w, len, "thread")) {
			uint64_t id, parent;

			if (want_number(c, "the thread", TRACE_MAX_THREAD, &id) < 0 ||
			    want_word(c, "parent") < 0 ||
			    want_number(c, "the parent", TRACE_MAX_THREAD, &parent) < 0)
				return -1;
			if (seen_thread[id])
				return bad(c, "thread %llu made twice", (unsigned long long)id);
			if (!seen_thread[parent])
				return bad(c, "parent %llu not made yet", (unsigned long long)parent);
			seen_thread[id] = true;
			if (fill) {
				struct trace_line *l = &t->lines[t->n_lines];

				*l = (struct trace_line){ .kind = TRACE_THREAD,
					.step = last_step, .thread = (int)id,
					.parent = (int)parent, .lineno = c->lineno };
			}
			t->n_lines++;
		} else if (is(w, len, "spin")) {
			uint64_t step, id;

			if (want_number(c, "the step", UINT64_MAX, &step) < 0 ||
			    want_word(c, "thread") < 0 ||
			    want_number(c, "the thread", TRACE_MAX_THREAD, &id) < 0)
				return -1;
			if (step < last_step)
				return bad(c, "step %llu after step %llu",
					   (unsigned long long)step, (unsigned long long)last_step);
			last_step = step;
			if (fill)
				t->lines[t->n_lines] = (struct trace_line){
					.kind = TRACE_SPIN, .step = step,
					.thread = (int)id, .lineno = c->lineno };
			t->n_lines++;
		} else if (is(w, len, "at")) {
			uint64_t step, id;
			uint32_t n = 0;
			uint8_t ev = 0;
			bool listed = false;
			struct trace_cand *out = fill ? t->cands + t->n_cands : NULL;

			if (want_number(c, "the step", UINT64_MAX, &step) < 0 ||
			    want_word(c, "run") < 0 ||
			    want_number(c, "the thread", TRACE_MAX_THREAD, &id) < 0 ||
			    want_word(c, "of") < 0)
				return -1;
			if (!word(c, &w, &len))
				return bad(c, "missing the threads that could run");
			if (cands(c, w, len, out, &n) < 0 ||
			    want_word(c, "after") < 0 || event(c, &ev) < 0)
				return -1;
			if (step < last_step)
				return bad(c, "step %llu after step %llu",
					   (unsigned long long)step, (unsigned long long)last_step);
			last_step = step;
			if (fill) {
				for (uint32_t i = 0; i < n; i++)
					listed |= out[i].thread == id;
				if (!listed)
					return bad(c, "thread %llu runs but is not among those that could",
						   (unsigned long long)id);
				t->lines[t->n_lines] = (struct trace_line){
					.kind = TRACE_AT, .step = step, .thread = (int)id,
					.event = ev, .first = t->n_cands, .n = n,
					.lineno = c->lineno };
			}
			t->n_cands += n;
			t->n_lines++;
		} else {
			return bad(c, "unknown line '%.*s'", (int)(len > 40 ? 40 : len), w);
		}
		if (line_end(c) < 0)
			return -1;
		c->p = eol + 1;
	}
	if (!seen_header)
		return bad(c, "empty: not a pydeadlock trace");
	return 0;
}

int trace_parse(const char *text, size_t len, struct trace *t,
		char *err, size_t err_size)
{
	struct cursor c = { .err = err, .err_size = err_size };

	memset(t, 0, sizeof(*t));
	t->interval = -1;
	while (len && !text[len - 1])	/* the unwritten end of a mapped trace */
		len--;
	if (memchr(text, '\0', len)) {
		snprintf(err, err_size, "a NUL byte inside: not a pydeadlock trace");
		return -1;
	}
	c.p = text;
	c.end = text + len;
	if (pass(&c, t, false) < 0)
		return -1;
	t->lines = alloc((t->n_lines ? t->n_lines : 1) * sizeof(*t->lines));
	t->cands = alloc((t->n_cands ? t->n_cands : 1) * sizeof(*t->cands));
	if (!t->lines || !t->cands) {
		trace_free(t);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	c.p = text;
	if (pass(&c, t, true) < 0) {
		trace_free(t);
		return -1;
	}
	return 0;
}

void trace_free(struct trace *t)
{
	if (release) {
		release(t->lines);
		release(t->cands);
	}
	t->lines = NULL;
	t->cands = NULL;
	t->n_lines = t->n_cands = 0;
}

int trace_load(const char *path, struct trace *t, char *err, size_t err_size)
{
	struct stat st;
	char *text;
	ssize_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	char why[200];

	if (fd < 0) {
		snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > TRACE_MAX_BYTES) {
		snprintf(err, err_size, "%s: not a regular file of at most %u MiB",
			 path, TRACE_MAX_BYTES >> 20);
		close(fd);
		return -1;
	}
	text = alloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		snprintf(err, err_size, "%s: out of memory", path);
		return -1;
	}
	while (got < st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)(st.st_size - got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	rc = trace_parse(text, (size_t)got, t, why, sizeof(why));
	if (release)
		release(text);
	if (rc < 0)
		snprintf(err, err_size, "%s: %s", path, why);
	return rc;
}
