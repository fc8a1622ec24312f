/* Unit tests of the JSON writer: nesting, commas, escapes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "ui/json_writer.h"

static char *render(void (*build)(struct json_writer *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer j;

	json_init(&j, f);
	build(&j);
	fclose(f);
	return buf;
}

static void build_nested(struct json_writer *j)
{
	json_begin_object(j);
	json_key(j, "a");
	json_int(j, -1);
	json_key(j, "list");
	json_begin_array(j);
	json_int(j, 1);
	json_begin_object(j);
	json_end_object(j);
	json_begin_array(j);
	json_end_array(j);
	json_null(j);
	json_end_array(j);
	json_key(j, "addr");
	json_address(j, 0x7f00deadbeefull);
	json_key(j, "t");
	json_bool(j, true);
	json_key(j, "s");
	json_string(j, NULL);
	json_end_object(j);
}

START_TEST(test_nesting_and_commas)
{
	char *s = render(build_nested);

	ck_assert_str_eq(s, "{\"a\":-1,\"list\":[1,{},[],null],"
			 "\"addr\":\"0x7f00deadbeef\",\"t\":true,\"s\":null}");
	free(s);
}
END_TEST

static void build_escapes(struct json_writer *j)
{
	json_begin_array(j);
	json_string(j, "q\"b\\n\nt\tc\x01 \xc3\xa9");
	json_end_array(j);
}

START_TEST(test_escapes)
{
	char *s = render(build_escapes);

	ck_assert_str_eq(s, "[\"q\\\"b\\\\n\\nt\\tc\\u0001 \xc3\xa9\"]");
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("writer");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_nesting_and_commas);
	tcase_add_test(tc, test_escapes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
