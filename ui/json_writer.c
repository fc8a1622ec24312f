#include <inttypes.h>

#include "ui/json_writer.h"

void json_init(struct json_writer *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

/* Before any value or key: the comma that separates it from the last. */
static void separate(struct json_writer *j)
{
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
}

static void write_escaped(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

void json_key(struct json_writer *j, const char *key)
{
	separate(j);
	write_escaped(j->out, key);
	fputc(':', j->out);
	j->need_comma[j->depth] = false;	/* the value follows, no comma */
}

static void after_value(struct json_writer *j)
{
	j->need_comma[j->depth] = true;
}

static void begin(struct json_writer *j, char c)
{
	separate(j);
	fputc(c, j->out);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void end(struct json_writer *j, char c)
{
	fputc(c, j->out);
	if (j->depth > 0)
		j->depth--;
	after_value(j);
}

void json_begin_object(struct json_writer *j) { begin(j, '{'); }
void json_end_object(struct json_writer *j) { end(j, '}'); }
void json_begin_array(struct json_writer *j) { begin(j, '['); }
void json_end_array(struct json_writer *j) { end(j, ']'); }

void json_string(struct json_writer *j, const char *s)
{
	separate(j);
	if (s)
		write_escaped(j->out, s);
	else
		fputs("null", j->out);
}

void json_int(struct json_writer *j, long long v)
{
	separate(j);
	fprintf(j->out, "%lld", v);
}

void json_double(struct json_writer *j, double v)
{
	separate(j);
	if (v != v || v > 1e300 || v < -1e300)	/* NaN, infinities: not JSON */
		fputs("null", j->out);
	else
		fprintf(j->out, "%.6g", v);
}

void json_bool(struct json_writer *j, bool v)
{
	separate(j);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json_writer *j)
{
	separate(j);
	fputs("null", j->out);
}

void json_address(struct json_writer *j, uint64_t addr)
{
	separate(j);
	fprintf(j->out, "\"0x%" PRIx64 "\"", addr);
}
