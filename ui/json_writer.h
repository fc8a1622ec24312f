/* A streaming JSON writer: keys, values, nesting and commas, escaped right. */
#ifndef PD_JSON_WRITER_H
#define PD_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32	/* the report nests 5 deep */

struct json_writer {
	FILE *out;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

void json_init(struct json_writer *j, FILE *out);
void json_key(struct json_writer *j, const char *key);
void json_begin_object(struct json_writer *j);
void json_end_object(struct json_writer *j);
void json_begin_array(struct json_writer *j);
void json_end_array(struct json_writer *j);
/* A string value; NULL writes null. */
void json_string(struct json_writer *j, const char *s);
void json_int(struct json_writer *j, long long v);
/* A number with 6 significant digits; null for NaN or infinity. */
void json_double(struct json_writer *j, double v);
void json_bool(struct json_writer *j, bool v);
void json_null(struct json_writer *j);
/* An address as the string "0x..." (JSON numbers lose 64-bit precision). */
void json_address(struct json_writer *j, uint64_t addr);

#endif
