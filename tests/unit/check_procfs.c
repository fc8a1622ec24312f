/* Unit tests of the /proc parsers on fixed texts, odd ones included. */
#include <check.h>
#include <stdlib.h>
#include <unistd.h>

#include "tracer/attach/procfs.h"

START_TEST(test_stat_plain)
{
	struct proc_stat st;
	const char *text = "1234 (python3) S 1 1234 1234 34816 1234 4194560 "
		"1000 0 0 0 5 3 0 0 20 0 4 0 987654 1000000 2000 "
		"18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0\n";

	ck_assert_int_eq(procfs_parse_stat(text, &st), 0);
	ck_assert_int_eq(st.pid, 1234);
	ck_assert_str_eq(st.comm, "python3");
	ck_assert_int_eq(st.state, 'S');
	ck_assert_int_eq(st.ppid, 1);
	ck_assert_uint_eq(st.flags, 4194560);
	ck_assert_uint_eq(st.utime, 5);
	ck_assert_uint_eq(st.stime, 3);
	ck_assert_uint_eq(st.starttime, 987654);
	ck_assert_int_eq(st.processor, 1);
}
END_TEST

/* comm with spaces and parentheses: it runs to the last ')'. */
START_TEST(test_stat_evil_comm)
{
	struct proc_stat st;
	const char *text = "77 (a) b (c)) Z 5 77 77 0 -1 4194564 0 0 0 0 0 0 0 0 "
		"20 0 1 0 42 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0\n";

	ck_assert_int_eq(procfs_parse_stat(text, &st), 0);
	ck_assert_str_eq(st.comm, "a) b (c)");
	ck_assert_int_eq(st.state, 'Z');
	ck_assert_int_eq(st.ppid, 5);
	ck_assert_uint_eq(st.starttime, 42);
}
END_TEST

START_TEST(test_stat_kthread_flag)
{
	struct proc_stat st;
	const char *text = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 "
		"20 0 1 0 25 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 1\n";

	ck_assert_int_eq(procfs_parse_stat(text, &st), 0);
	ck_assert(st.flags & PF_KTHREAD_FLAG);
}
END_TEST

START_TEST(test_stat_garbage)
{
	struct proc_stat st;

	ck_assert_int_eq(procfs_parse_stat("", &st), -1);
	ck_assert_int_eq(procfs_parse_stat("12 (x", &st), -1);
	ck_assert_int_eq(procfs_parse_stat("12 (x) S 1", &st), -1);
	ck_assert_int_eq(procfs_parse_stat("abc (x) S 1 2 3 4 5 6", &st), -1);
}
END_TEST

START_TEST(test_status)
{
	struct proc_status st;
	const char *text =
		"Name:\tmy worker\nUmask:\t0022\nState:\tS (sleeping)\n"
		"Tgid:\t300\nNgid:\t0\nPid:\t301\nPPid:\t1\nTracerPid:\t999\n"
		"Uid:\t1000\t1001\t1000\t1000\nGid:\t0\t0\t0\t0\n"
		"CapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";

	ck_assert_int_eq(procfs_parse_status(text, &st), 0);
	ck_assert_str_eq(st.name, "my worker");
	ck_assert_int_eq(st.state, 'S');
	ck_assert_int_eq(st.tgid, 300);
	ck_assert_int_eq(st.tracer_pid, 999);
	ck_assert_int_eq(st.uid_real, 1000);
	ck_assert_int_eq(st.uid_effective, 1001);
	ck_assert(st.cap_effective & (1ull << 19));
}
END_TEST

START_TEST(test_status_missing_fields)
{
	struct proc_status st;

	ck_assert_int_eq(procfs_parse_status("Name:\tx\nState:\tR\n", &st), -1);
	ck_assert_int_eq(procfs_parse_status("", &st), -1);
}
END_TEST

START_TEST(test_maps)
{
	struct maps m;
	const char *text =
		"55d0c0000000-55d0c0001000 r--p 00000000 fd:00 1234   /usr/bin/prog\n"
		"55d0c0001000-55d0c0002000 r-xp 00001000 fd:00 1234   /usr/bin/prog\n"
		"7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000200000 r-xp 00000000 fd:00 77     /lib/with space.so (deleted)\n"
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]\n";

	ck_assert_int_eq(procfs_parse_maps(text, &m), 5);
	ck_assert_uint_eq(m.v[1].start, 0x55d0c0001000ull);
	ck_assert_uint_eq(m.v[1].offset, 0x1000);
	ck_assert_str_eq(m.v[1].perms, "r-xp");
	ck_assert_str_eq(m.v[1].path, "/usr/bin/prog");
	ck_assert_ptr_null(m.v[2].path);
	ck_assert_str_eq(m.v[3].path, "/lib/with space.so (deleted)");
	ck_assert_str_eq(m.v[4].path, "[stack]");
	ck_assert_ptr_eq(maps_find(&m, 0x55d0c0001800ull), &m.v[1]);
	ck_assert_ptr_eq(maps_find(&m, 0x7ffd00020fffull), &m.v[4]);
	ck_assert_ptr_null(maps_find(&m, 0x7ffd00021000ull));
	ck_assert_ptr_null(maps_find(&m, 0x10));
	maps_free(&m);
}
END_TEST

START_TEST(test_maps_garbage)
{
	struct maps m;

	ck_assert_int_eq(procfs_parse_maps("", &m), 0);
	maps_free(&m);
	ck_assert_int_eq(procfs_parse_maps("zzzz-yyyy r-xp\n", &m), -1);
	ck_assert_int_eq(procfs_parse_maps("2000-1000 r-xp 0 00:00 0\n", &m), -1);
}
END_TEST

/* The readers on this very process. */
START_TEST(test_readers_self)
{
	struct proc_stat st;
	struct proc_status status;
	struct maps m;
	pid_t *tids = NULL;

	ck_assert_int_eq(procfs_stat(getpid(), 0, &st), 0);
	ck_assert_int_eq(st.pid, getpid());
	ck_assert_int_eq(procfs_status(getpid(), getpid(), &status), 0);
	ck_assert_int_eq(status.tgid, getpid());
	ck_assert_int_ge(procfs_maps(getpid(), &m), 1);
	ck_assert_ptr_nonnull(maps_find(&m, (uint64_t)(uintptr_t)&st));
	maps_free(&m);
	ck_assert_int_ge(procfs_tasks(getpid(), &tids), 1);
	free(tids);
	ck_assert_int_eq(procfs_stat(2147483647, 0, &st), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procfs");
	TCase *tc = tcase_create("parsers");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_stat_plain);
	tcase_add_test(tc, test_stat_evil_comm);
	tcase_add_test(tc, test_stat_kthread_flag);
	tcase_add_test(tc, test_stat_garbage);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_status_missing_fields);
	tcase_add_test(tc, test_maps);
	tcase_add_test(tc, test_maps_garbage);
	tcase_add_test(tc, test_readers_self);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
