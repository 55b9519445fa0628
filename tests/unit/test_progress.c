/* test_progress.c - Check suite for progress.h: the pure formatters (human
 * units, h:mm:ss, the whole bar line with and without a total) and the
 * thread-safe counter.
 */
#include "base/progress.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *count(double v)
{
	static char buf[32];
	rc_progress_format_count(buf, sizeof buf, v);
	return buf;
}

static const char *duration(double s)
{
	static char buf[32];
	rc_progress_format_duration(buf, sizeof buf, s);
	return buf;
}

START_TEST(test_count_units)
{
	ck_assert_str_eq(count(0), "0");
	ck_assert_str_eq(count(7), "7");
	ck_assert_str_eq(count(999), "999");
	ck_assert_str_eq(count(1000), "1.00k");
	ck_assert_str_eq(count(1234), "1.23k");
	ck_assert_str_eq(count(12345), "12.3k");
	ck_assert_str_eq(count(123456), "123k");
	/* Rounding must not produce "1000k": it carries into the next unit. */
	ck_assert_str_eq(count(999499), "999k");
	ck_assert_str_eq(count(999999), "1.00M");
	ck_assert_str_eq(count(1234567), "1.23M");
	ck_assert_str_eq(count(58e6), "58.0M");
	ck_assert_str_eq(count(5e9), "5.00G");
	ck_assert_str_eq(count(2.5e12), "2.50T");
	ck_assert_str_eq(count(18446744073709551615.0), "18.4E");
}
END_TEST

START_TEST(test_count_fractions)
{
	/* Rates are not whole numbers. */
	ck_assert_str_eq(count(2.5), "2.50");
	ck_assert_str_eq(count(0.25), "0.25");
	ck_assert_str_eq(count(12.5), "12.5");
	ck_assert_str_eq(count(250.4), "250");
	ck_assert_str_eq(count(9.999), "10.0");
	ck_assert_str_eq(count(999.7), "1.00k");
	ck_assert_str_eq(count(-1), "--");
	ck_assert_str_eq(count(NAN), "--");
}
END_TEST

START_TEST(test_duration)
{
	ck_assert_str_eq(duration(0), "0:00:00");
	ck_assert_str_eq(duration(7.9), "0:00:07");
	ck_assert_str_eq(duration(59), "0:00:59");
	ck_assert_str_eq(duration(60), "0:01:00");
	ck_assert_str_eq(duration(3725), "1:02:05");
	ck_assert_str_eq(duration(45296), "12:34:56");
	ck_assert_str_eq(duration(100 * 3600), "100:00:00");
	ck_assert_str_eq(duration(-1), "-:--:--");
	ck_assert_str_eq(duration(INFINITY), "-:--:--");
	ck_assert_str_eq(duration(NAN), "-:--:--");
	ck_assert_str_eq(duration(1e12), "-:--:--");
}
END_TEST

static const char *bar(const char *label, uint64_t done, uint64_t total,
		       double elapsed)
{
	static char buf[256];
	size_t n = rc_progress_format(buf, sizeof buf, label, done, total,
				      elapsed);
	ck_assert_uint_eq(n, strlen(buf));
	return buf;
}

START_TEST(test_format_known_total)
{
	/* 500 of 1000 in 2 s: 250/s, 500 left = 2 s. */
	ck_assert_str_eq(bar("tok", 500, 1000, 2.0),
			 "tok [##########          ]  50% 500/1.00k 250/s eta 0:00:02");
	/* 4500 of 10000 in 3.65 s: 1232.9/s, 5500 left = 4.46 s. */
	ck_assert_str_eq(bar("tokenize", 4500, 10000, 3.65),
			 "tokenize [#########           ]  45% 4.50k/10.0k 1.23k/s eta 0:00:04");
	/* 58M records at 20k/s: 48 min done, 1 h 12 min 30 s to go. */
	ck_assert_str_eq(bar("shard", 58000000ull, 145000000ull, 2900.0),
			 "shard [########            ]  40% 58.0M/145M 20.0k/s eta 1:12:30");
}
END_TEST

START_TEST(test_format_edges)
{
	/* Nothing done yet and no time passed: no rate, no ETA. */
	ck_assert_str_eq(bar("x", 0, 100, 0.0),
			 "x [                    ]   0% 0/100 --/s eta -:--:--");
	/* Done: the bar is full and the ETA is zero. */
	ck_assert_str_eq(bar("x", 100, 100, 4.0),
			 "x [####################] 100% 100/100 25/s eta 0:00:00");
	/* More than the total (a total that was an estimate): capped. */
	ck_assert_str_eq(bar("x", 150, 100, 10.0),
			 "x [####################] 100% 150/100 15/s eta 0:00:00");
	/* No label. */
	ck_assert_str_eq(bar(NULL, 1, 3, 1.0),
			 "[######              ]  33% 1/3 1/s eta 0:00:02");
	ck_assert_str_eq(bar("", 1, 3, 1.0),
			 "[######              ]  33% 1/3 1/s eta 0:00:02");
}
END_TEST

START_TEST(test_format_unknown_total)
{
	/* Without a total: count, rate and the elapsed time. */
	ck_assert_str_eq(bar("read", 1234567, 0, 61.0),
			 "read 1.23M 20.2k/s 0:01:01");
	ck_assert_str_eq(bar(NULL, 12, 0, 0.5), "12 24/s 0:00:00");
	ck_assert_str_eq(bar("read", 0, 0, 0.0), "read 0 --/s 0:00:00");
}
END_TEST

START_TEST(test_format_truncates)
{
	char buf[10];
	memset(buf, 'z', sizeof buf);
	size_t n = rc_progress_format(buf, sizeof buf, "tok", 500, 1000, 2.0);
	ck_assert_uint_eq(n, strlen("tok [##########          ]  50% 500/1.00k 250/s eta 0:00:02"));
	ck_assert_str_eq(buf, "tok [####");
	/* n = 0 writes nothing and still reports the length. */
	ck_assert_uint_eq(rc_progress_format(NULL, 0, NULL, 5, 0, 1.0),
			  strlen("5 5/s 0:00:01"));
}
END_TEST

START_TEST(test_counter_threads)
{
	/* stderr is not a terminal under make check: nothing is drawn, but
	 * every update must be counted, from any number of threads. */
	struct rc_progress p;
	rc_progress_begin(&p, "count", 400000);
#ifdef _OPENMP
#pragma omp parallel for
#endif
	for (int i = 0; i < 400000; i++)
		rc_progress_update(&p, 1);
	rc_progress_update(&p, 5);
	ck_assert_uint_eq(rc_progress_count(&p), 400005);
	rc_progress_set_total(&p, 500000);
	ck_assert_uint_eq(atomic_load(&p.total), 500000);
	rc_progress_end(&p);
}
END_TEST

static Suite *progress_suite(void)
{
	Suite *s = suite_create("progress");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, test_count_units);
	tcase_add_test(tc, test_count_fractions);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_format_known_total);
	tcase_add_test(tc, test_format_edges);
	tcase_add_test(tc, test_format_unknown_total);
	tcase_add_test(tc, test_format_truncates);
	suite_add_tcase(s, tc);
	tc = tcase_create("counter");
	tcase_add_test(tc, test_counter_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(progress_suite());
}
