/* test_arena.c - Check suite for arena.h: alignment, many small and some
 * large allocations that must not overlap, reset reusing the blocks, and
 * free on empty, used and zero-filled arenas.
 */
#include "base/arena.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int aligned(const void *p)
{
	return ((uintptr_t)p % RC_ARENA_ALIGN) == 0;
}

START_TEST(test_alignment)
{
	struct rc_arena a;
	rc_arena_init(&a, 1024);
	for (size_t n = 0; n < 300; n++) {
		void *p = rc_arena_alloc(&a, n % 37);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg(aligned(p), "allocation %zu at %p is not aligned",
			      n, p);
	}
	ck_assert(aligned(rc_arena_strdup(&a, "x")));
	ck_assert(aligned(rc_arena_alloc(&a, 5000))); /* large */
	rc_arena_free(&a);
}
END_TEST

START_TEST(test_zero_size_distinct)
{
	struct rc_arena a;
	rc_arena_init(&a, 0);
	char *p = rc_arena_alloc(&a, 0);
	char *q = rc_arena_alloc(&a, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_ne(p, q);
	rc_arena_free(&a);
}
END_TEST

/* Fill allocation i with a byte pattern derived from i, then check them
 * all: an overlap would overwrite an earlier pattern. */
START_TEST(test_many_no_overlap)
{
	enum { N = 20000 };
	struct rc_arena a;
	rc_arena_init(&a, 4096);
	static unsigned char *ptr[N];
	static size_t len[N];
	for (size_t i = 0; i < N; i++) {
		/* Mostly small, every 97th larger than a quarter block. */
		len[i] = i % 97 == 0 ? 1500 + i % 5000 : 1 + (i * 7919) % 200;
		ptr[i] = rc_arena_alloc(&a, len[i]);
		ck_assert_ptr_nonnull(ptr[i]);
		memset(ptr[i], (int)(i * 31 % 251), len[i]);
	}
	for (size_t i = 0; i < N; i++) {
		/* One assertion per allocation: per byte is slow under ASan. */
		size_t j = 0;
		while (j < len[i] && ptr[i][j] == (unsigned char)(i * 31 % 251))
			j++;
		ck_assert_msg(j == len[i], "allocation %zu byte %zu overwritten",
			      i, j);
	}
	ck_assert_uint_ge(rc_arena_reserved(&a), 1000000);
	rc_arena_free(&a);
	ck_assert_uint_eq(rc_arena_reserved(&a), 0);
}
END_TEST

START_TEST(test_large)
{
	struct rc_arena a;
	rc_arena_init(&a, 4096);
	char *small = rc_arena_alloc(&a, 100);
	size_t before = rc_arena_reserved(&a);
	/* Bigger than a block: a block of its own, exactly the size. */
	size_t big = 10 * 1000 * 1000;
	char *p = rc_arena_alloc(&a, big);
	ck_assert_ptr_nonnull(p);
	ck_assert(aligned(p));
	memset(p, 0xab, big);
	ck_assert_uint_eq(rc_arena_reserved(&a) - before, big);
	/* The block in use keeps its free space for small allocations. */
	char *small2 = rc_arena_alloc(&a, 100);
	ck_assert_ptr_eq(small2, small + 112);
	ck_assert_uint_eq(rc_arena_reserved(&a) - before, big);
	ck_assert_uint_eq((unsigned char)p[big - 1], 0xab);
	rc_arena_free(&a);
}
END_TEST

START_TEST(test_reset_reuses)
{
	struct rc_arena a;
	rc_arena_init(&a, 4096);
	char *first = NULL;
	size_t reserved = 0;
	/* The same pattern of allocations, round after round: after the first
	 * round the arena must stop growing. */
	for (int round = 0; round < 10; round++) {
		char *p = rc_arena_alloc(&a, 64);
		ck_assert_ptr_nonnull(p);
		if (round == 0)
			first = p;
		for (int i = 0; i < 500; i++)
			ck_assert_ptr_nonnull(rc_arena_alloc(&a, 48));
		ck_assert_ptr_nonnull(rc_arena_alloc(&a, 3000)); /* large */
		ck_assert_ptr_nonnull(rc_arena_alloc(&a, 20000)); /* larger */
		if (round == 2)
			reserved = rc_arena_reserved(&a);
		if (round > 2)
			ck_assert_uint_eq(rc_arena_reserved(&a), reserved);
		rc_arena_reset(&a);
	}
	ck_assert_ptr_nonnull(first);
	rc_arena_free(&a);
}
END_TEST

START_TEST(test_reset_same_address)
{
	struct rc_arena a;
	rc_arena_init(&a, 0);
	char *p = rc_arena_alloc(&a, 10);
	rc_arena_alloc(&a, 1000);
	char *big1 = rc_arena_alloc(&a, 100000);
	char *big2 = rc_arena_alloc(&a, 200000);
	size_t r = rc_arena_reserved(&a);
	rc_arena_reset(&a);
	ck_assert_uint_eq(rc_arena_reserved(&a), r);
	ck_assert_ptr_eq(rc_arena_alloc(&a, 10), p);
	/* Large blocks come back in order, also for smaller requests. */
	ck_assert_ptr_eq(rc_arena_alloc(&a, 100000), big1);
	ck_assert_ptr_eq(rc_arena_alloc(&a, 150000), big2);
	/* A third one is new. */
	ck_assert_ptr_nonnull(rc_arena_alloc(&a, 100000));
	ck_assert_uint_eq(rc_arena_reserved(&a), r + 100000);
	rc_arena_reset(&a);
	/* Too small for the request: replaced, and the old size no longer
	 * counted. */
	ck_assert_ptr_nonnull(rc_arena_alloc(&a, 300000));
	ck_assert_uint_eq(rc_arena_reserved(&a), r + 300000);
	rc_arena_free(&a);
}
END_TEST

START_TEST(test_strings_and_calloc)
{
	struct rc_arena a;
	rc_arena_init(&a, 64);
	char *s = rc_arena_strdup(&a, "a caption");
	char *t = rc_arena_strndup(&a, "truncated", 5);
	char *e = rc_arena_strdup(&a, "");
	ck_assert_str_eq(s, "a caption");
	ck_assert_str_eq(t, "trunc");
	ck_assert_str_eq(e, "");
	/* Long strings cross the (tiny) block size. */
	char longs[1000];
	memset(longs, 'q', sizeof longs - 1);
	longs[sizeof longs - 1] = '\0';
	ck_assert_str_eq(rc_arena_strdup(&a, longs), longs);

	int *z = rc_arena_calloc(&a, 1000, sizeof *z);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(z[i], 0);
	ck_assert_ptr_null(rc_arena_calloc(&a, SIZE_MAX / 2, 4));
	rc_arena_free(&a);
}
END_TEST

START_TEST(test_free_safe)
{
	struct rc_arena a;
	memset(&a, 0, sizeof a);
	rc_arena_free(&a);           /* zero-filled: nothing to free */
	rc_arena_free(NULL);
	ck_assert_ptr_nonnull(rc_arena_alloc(&a, 10)); /* default block */
	ck_assert_uint_eq(rc_arena_reserved(&a), RC_ARENA_DEFAULT_BLOCK);
	rc_arena_free(&a);
	rc_arena_free(&a);           /* twice */
	rc_arena_reset(&a);          /* reset of an empty arena */
	ck_assert_ptr_nonnull(rc_arena_alloc(&a, 10)); /* reusable */
	rc_arena_free(&a);
}
END_TEST

static Suite *arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_alignment);
	tcase_add_test(tc, test_zero_size_distinct);
	tcase_add_test(tc, test_many_no_overlap);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_reset_reuses);
	tcase_add_test(tc, test_reset_same_address);
	tcase_add_test(tc, test_strings_and_calloc);
	tcase_add_test(tc, test_free_safe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(arena_suite());
}
