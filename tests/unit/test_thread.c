/* test_thread.c - Check suite for thread.h: thread counts and the chunk
 * split, which must cover [0, n) exactly once for any n and chunk count,
 * also when the chunks are taken by the threads of a parallel region.
 */
#include "base/thread.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

START_TEST(test_count)
{
	ck_assert_int_eq(rc_thread_count(1), 1);
	ck_assert_int_eq(rc_thread_count(4), 4);
	ck_assert_int_eq(rc_thread_count(513), 513);
	int all = rc_thread_count(0);
	ck_assert_int_ge(all, 1);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (online > 0)
		ck_assert_int_le(all, online);
	ck_assert_int_eq(rc_thread_count(-3), all);
}
END_TEST

START_TEST(test_set)
{
#ifdef _OPENMP
	ck_assert_int_eq(rc_thread_set(3), 3);
	ck_assert_int_eq(rc_thread_max(), 3);
	int seen = 0;
#pragma omp parallel
	{
#pragma omp single
		seen = rc_thread_num();
	}
	ck_assert_int_le(seen, 3);
	ck_assert_int_eq(rc_thread_set(0), rc_thread_count(0));
#else
	ck_assert_int_eq(rc_thread_set(3), 1);
	ck_assert_int_eq(rc_thread_max(), 1);
#endif
	/* Outside a parallel region: one thread, number 0. */
	ck_assert_int_eq(rc_thread_num(), 1);
	ck_assert_int_eq(rc_thread_id(), 0);
}
END_TEST

/* Check that the chunks of [0, n) are contiguous, in order, cover it
 * exactly, and differ in size by at most one. */
static void check_split(size_t n, int k)
{
	size_t expect = 0, minsz = (size_t)-1, maxsz = 0;
	for (int i = 0; i < k; i++) {
		size_t b, e;
		rc_thread_chunk(n, k, i, &b, &e);
		ck_assert_msg(b == expect, "n=%zu k=%d chunk %d starts at %zu, "
			      "expected %zu", n, k, i, b, expect);
		ck_assert_msg(e >= b && e <= n, "n=%zu k=%d chunk %d = [%zu,%zu)",
			      n, k, i, b, e);
		if (e - b < minsz)
			minsz = e - b;
		if (e - b > maxsz)
			maxsz = e - b;
		expect = e;
	}
	ck_assert_msg(expect == n, "n=%zu k=%d covers only [0,%zu)", n, k,
		      expect);
	ck_assert_msg(maxsz - minsz <= 1, "n=%zu k=%d unbalanced: %zu..%zu",
		      n, k, minsz, maxsz);
}

START_TEST(test_chunk_split)
{
	static const size_t ns[] = { 0, 1, 2, 3, 7, 10, 63, 64, 65, 1000,
				     1000003 };
	for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
		for (int k = 1; k <= 17; k++)
			check_split(ns[a], k);
	check_split((size_t)-1, 7); /* no overflow at the top of the range */
	check_split(5, 64);         /* more chunks than items */
}
END_TEST

START_TEST(test_chunk_values)
{
	/* 10 items in 3 chunks: the first gets the extra one. */
	size_t b, e;
	rc_thread_chunk(10, 3, 0, &b, &e);
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(e, 4);
	rc_thread_chunk(10, 3, 1, &b, &e);
	ck_assert_uint_eq(b, 4);
	ck_assert_uint_eq(e, 7);
	rc_thread_chunk(10, 3, 2, &b, &e);
	ck_assert_uint_eq(b, 7);
	ck_assert_uint_eq(e, 10);
	/* Out-of-range chunk numbers and counts. */
	rc_thread_chunk(10, 3, 3, &b, &e);
	ck_assert_uint_eq(b, 10);
	ck_assert_uint_eq(e, 10);
	rc_thread_chunk(10, 3, -1, &b, &e);
	ck_assert_uint_eq(b, e);
	rc_thread_chunk(10, 0, 0, &b, &e);
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(e, 10);
}
END_TEST

START_TEST(test_chunk_parallel)
{
	/* Each thread marks its own chunk; every item must be marked once. */
	enum { N = 100003 };
	static unsigned char mark[N];
	memset(mark, 0, sizeof mark);
	rc_thread_set(4);
	int bad_id = 0;
#ifdef _OPENMP
#pragma omp parallel reduction(+ : bad_id)
#endif
	{
		int id = rc_thread_id(), nt = rc_thread_num();
		if (id < 0 || id >= nt)
			bad_id++;
		size_t lo, hi;
		rc_thread_chunk(N, nt, id, &lo, &hi);
		for (size_t i = lo; i < hi; i++)
			mark[i]++;
	}
	ck_assert_int_eq(bad_id, 0);
	for (size_t i = 0; i < N; i++)
		ck_assert_msg(mark[i] == 1, "item %zu marked %d times", i,
			      mark[i]);
}
END_TEST

static Suite *thread_suite(void)
{
	Suite *s = suite_create("thread");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_chunk_split);
	tcase_add_test(tc, test_chunk_values);
	tcase_add_test(tc, test_chunk_parallel);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(thread_suite());
}
