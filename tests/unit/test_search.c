/* test_search.c - Check suite for search.h: top-k against a brute-force
 * sort of every score, exactly on integer data (whose dot products are
 * exact in float, with many ties), within rounding on random unit rows;
 * block boundaries, query blocks shrunk by the memory budget, k > N and
 * 1..3 threads giving the same answer; the non-finite row check; and the
 * mapped .npy view (npy.h) the gallery is read through.
 */
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/npy.h"
#include "eval/search.h"
#include "model/backend.h"
#include "base/thread.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct rc_backend *be;   /* the CPU backend without a model: search only */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* uniform in [-1, 1) */
static float uni(void)
{
	return (float)next() / 2147483648.0f - 1.0f;
}

/* n × d values in {-3, ..., 3}: every dot product of d <= 64 is an exact
 * integer in float, in any summation order. */
static float *ints(size_t n, size_t d)
{
	float *x = malloc(n * d * sizeof *x + 1);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n * d; i++)
		x[i] = (float)((int)(next() % 7) - 3);
	return x;
}

static float *units(size_t n, size_t d)
{
	float *x = malloc(n * d * sizeof *x + 1);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t k = 0; k < d; k++) {
			x[i * d + k] = uni();
			s += (double)x[i * d + k] * x[i * d + k];
		}
		for (size_t k = 0; k < d; k++)
			x[i * d + k] = (float)(x[i * d + k] / sqrt(s));
	}
	return x;
}

struct ref {
	double s;
	int64_t i;
};

static int ref_cmp(const void *pa, const void *pb)
{
	const struct ref *a = pa, *b = pb;
	if (a->s != b->s)
		return a->s > b->s ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

/* Every score of query qi, in double, sorted by the documented order. */
static struct ref *brute(const float *g, size_t n, size_t d, const float *qr)
{
	struct ref *r = malloc(n * sizeof *r + 1);
	ck_assert_ptr_nonnull(r);
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t k = 0; k < d; k++)
			s += (double)qr[k] * g[i * d + k];
		r[i] = (struct ref){s, (int64_t)i};
	}
	qsort(r, n, sizeof *r, ref_cmp);
	return r;
}

struct result {
	float *score;
	int64_t *index;
	size_t kk;
};

static struct result run(const float *g, size_t n, size_t d, const float *q, size_t nq,
	struct rc_topk_opts o)
{
	struct result r = {.kk = rc_search_hits(o.k, n)};
	r.score = calloc(nq * r.kk + 1, sizeof *r.score);
	r.index = calloc(nq * r.kk + 1, sizeof *r.index);
	ck_assert_ptr_nonnull(r.score);
	ck_assert_ptr_nonnull(r.index);
	ck_assert_int_eq(rc_backend_topk(be, g, n, d, q, nq, &o, r.score, r.index), 0);
	return r;
}

static void result_free(struct result *r)
{
	free(r->score);
	free(r->index);
}

/* Integer data: the answer is exactly the first kk of the brute-force
 * order, ties (many here) by the lower index. */
static void check_exact(size_t n, size_t d, size_t nq, struct rc_topk_opts o)
{
	float *g = ints(n, d), *q = ints(nq, d);
	struct result r = run(g, n, d, q, nq, o);
	ck_assert_uint_eq(r.kk, o.k < n ? o.k : n);
	for (size_t i = 0; i < nq; i++) {
		struct ref *b = brute(g, n, d, q + i * d);
		for (size_t k = 0; k < r.kk; k++) {
			if (r.index[i * r.kk + k] != b[k].i || r.score[i * r.kk + k] != (float)b[k].s)
				ck_abort_msg("n %zu q %zu k %zu blocks %zux%zu: query %zu rank %zu: "
					"%lld (%g), expected %lld (%g)", n, nq, o.k, o.query_block,
					o.gallery_block, i, k, (long long)r.index[i * r.kk + k],
					(double)r.score[i * r.kk + k], (long long)b[k].i, b[k].s);
		}
		free(b);
	}
	result_free(&r);
	free(g);
	free(q);
}

START_TEST(test_exact_with_ties)
{
	static const size_t ns[] = {1, 2, 7, 100, 1000, 2049};
	static const size_t ks[] = {1, 3, 10, 100};
	for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
		for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++)
			check_exact(ns[a], 24, 9, (struct rc_topk_opts){.k = ks[b]});
}
END_TEST

/* Tiles that cut the gallery and the queries anywhere: blocks of 1, of a
 * prime, of exactly N, more than N; query blocks of 1 and 4. */
START_TEST(test_block_boundaries)
{
	static const size_t gbs[] = {1, 7, 64, 499, 500, 4096};
	static const size_t qbs[] = {1, 4, 0};
	for (size_t a = 0; a < sizeof gbs / sizeof gbs[0]; a++)
		for (size_t b = 0; b < sizeof qbs / sizeof qbs[0]; b++)
			check_exact(500, 16, 11, (struct rc_topk_opts){.k = 5,
				.gallery_block = gbs[a], .query_block = qbs[b]});
	/* a budget too small for one tile: one query row at a time */
	check_exact(300, 16, 5, (struct rc_topk_opts){.k = 4, .max_bytes = 1});
}
END_TEST

START_TEST(test_k_above_n)
{
	check_exact(5, 8, 3, (struct rc_topk_opts){.k = 6});
	check_exact(5, 8, 3, (struct rc_topk_opts){.k = 1000});
	check_exact(1, 8, 3, (struct rc_topk_opts){.k = 2});
	/* every row comes once */
	float *g = ints(40, 8), *q = ints(2, 8);
	struct result r = run(g, 40, 8, q, 2, (struct rc_topk_opts){.k = 50});
	ck_assert_uint_eq(r.kk, 40);
	for (size_t i = 0; i < 2; i++) {
		int seen[40] = {0};
		for (size_t k = 0; k < 40; k++)
			seen[r.index[i * 40 + k]]++;
		for (size_t k = 0; k < 40; k++)
			ck_assert_int_eq(seen[k], 1);
	}
	result_free(&r);
	free(g);
	free(q);
}
END_TEST

/* All scores equal: the lowest indices, in order, whatever the threads. */
START_TEST(test_all_ties)
{
	size_t n = 1000, d = 4;
	float *g = calloc(n * d, sizeof *g), q[4] = {1, 0, 0, 0};
	ck_assert_ptr_nonnull(g);
	for (size_t i = 0; i < n; i++)
		g[i * d] = 0.5f;
	for (int t = 1; t <= 3; t++) {
		rc_thread_set(t);
		struct result r = run(g, n, d, q, 1, (struct rc_topk_opts){.k = 7,
			.gallery_block = 3});
		for (size_t k = 0; k < 7; k++) {
			ck_assert_int_eq(r.index[k], (int64_t)k);
			ck_assert_float_eq(r.score[k], 0.5f);
		}
		result_free(&r);
	}
	free(g);
}
END_TEST

START_TEST(test_threads_same_answer)
{
	size_t n = 3001, d = 32, nq = 17;
	float *g = ints(n, d), *q = ints(nq, d);
	rc_thread_set(1);
	struct result one = run(g, n, d, q, nq, (struct rc_topk_opts){.k = 10});
	for (int t = 2; t <= 3; t++) {
		rc_thread_set(t);
		struct result r = run(g, n, d, q, nq, (struct rc_topk_opts){.k = 10,
			.gallery_block = 100});
		ck_assert_mem_eq(r.index, one.index, nq * 10 * sizeof *r.index);
		ck_assert_mem_eq(r.score, one.score, nq * 10 * sizeof *r.score);
		result_free(&r);
	}
	result_free(&one);
	free(g);
	free(q);
	/* float data too, bit for bit: whole blocks per thread */
	float *gu = units(n, d), *qu = units(nq, d);
	rc_thread_set(1);
	struct result u1 = run(gu, n, d, qu, nq, (struct rc_topk_opts){.k = 10,
		.gallery_block = 700});
	rc_thread_set(3);
	struct result u3 = run(gu, n, d, qu, nq, (struct rc_topk_opts){.k = 10,
		.gallery_block = 700});
	ck_assert_mem_eq(u3.index, u1.index, nq * 10 * sizeof *u1.index);
	ck_assert_mem_eq(u3.score, u1.score, nq * 10 * sizeof *u1.score);
	result_free(&u1);
	result_free(&u3);
	free(gu);
	free(qu);
	for (int t = 1; t <= 3; t++) {
		rc_thread_set(t);
		check_exact(777, 16, 6, (struct rc_topk_opts){.k = 9, .gallery_block = 50});
	}
}
END_TEST

/* Random unit rows: each hit's score is its dot product within float
 * rounding, and each rank's score is the brute force's at that rank
 * within the same rounding (near-equal scores may swap). */
START_TEST(test_random_units)
{
	size_t n = 5000, d = 64, nq = 20, k = 10;
	float *g = units(n, d), *q = units(nq, d);
	rc_thread_set(2);
	struct result r = run(g, n, d, q, nq, (struct rc_topk_opts){.k = k,
		.gallery_block = 333});
	size_t same = 0;
	for (size_t i = 0; i < nq; i++) {
		struct ref *b = brute(g, n, d, q + i * d);
		for (size_t j = 0; j < k; j++) {
			int64_t gi = r.index[i * k + j];
			double exact = 0;
			for (size_t c = 0; c < d; c++)
				exact += (double)q[i * d + c] * g[gi * d + c];
			ck_assert_double_le(fabs(r.score[i * k + j] - exact), 1e-6);
			ck_assert_double_le(fabs(r.score[i * k + j] - b[j].s), 2e-6);
			if (j > 0)
				ck_assert(r.score[i * k + j] <= r.score[i * k + j - 1]);
			same += gi == b[j].i;
		}
		free(b);
	}
	/* swaps need two scores within 2e-6: rare among 5000 */
	ck_assert_uint_ge(same, nq * k - 4);
	result_free(&r);
	free(g);
	free(q);
}
END_TEST

START_TEST(test_args)
{
	float g[4] = {1, 2, 3, 4}, s[4];
	int64_t ix[4] = {-5, -5, -5, -5};
	struct rc_topk_opts o = {.k = 0};
	capture_begin();
	ck_assert_int_eq(rc_backend_topk(be, g, 2, 2, g, 1, &o, s, ix), RC_E_ARG);
	o.k = 1;
	ck_assert_int_eq(rc_backend_topk(be, g, 2, 0, g, 1, &o, s, ix), RC_E_ARG);
	capture_end();
	/* nothing to search: nothing written */
	ck_assert_int_eq(rc_backend_topk(be, g, 0, 2, g, 1, &o, s, ix), 0);
	ck_assert_int_eq(rc_backend_topk(be, g, 2, 2, g, 0, &o, s, ix), 0);
	ck_assert_int_eq(ix[0], -5);
	ck_assert_uint_eq(rc_search_hits(10, 3), 3);
	ck_assert_uint_eq(rc_search_hits(3, 10), 3);
}
END_TEST

START_TEST(test_nonfinite_row)
{
	size_t n = 300, d = 5;
	float *x = units(n, d);
	rc_thread_set(2);
	ck_assert_int_eq(rc_search_nonfinite_row(x, n, d), -1);
	ck_assert_int_eq(rc_search_nonfinite_row(x, 0, d), -1);
	x[250 * d + 4] = -INFINITY;
	ck_assert_int_eq(rc_search_nonfinite_row(x, n, d), 250);
	x[37 * d + 2] = NAN;
	ck_assert_int_eq(rc_search_nonfinite_row(x, n, d), 37);
	x[0] = INFINITY;
	ck_assert_int_eq(rc_search_nonfinite_row(x, n, d), 0);
	/* the largest and the subnormal floats are finite */
	float y[3] = {3.4028235e38f, -1e-45f, 0.0f};
	ck_assert_int_eq(rc_search_nonfinite_row(y, 1, 3), -1);
	free(x);
}
END_TEST

/* ---------------------------------------------------------------- npy map */

static char tmpdir[4096];

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "search");
	rc_thread_set(2);
}

static void teardown(void)
{
	rc_test_rmdir(tmpdir);
}

static void write_npy(const char *path, const float *x, size_t n, size_t d)
{
	struct rc_npy_writer *w;
	ck_assert_int_eq(rc_npy_writer_open(&w, path, d), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, x, n), 0);
	ck_assert_int_eq(rc_npy_writer_close(w), 0);
}

START_TEST(test_npy_map)
{
	const char *p = rc_test_join(tmpdir, "g.npy");
	float *x = units(129, 7);
	write_npy(p, x, 129, 7);
	struct rc_npy_map m;
	ck_assert_int_eq(rc_npy_map_f32(p, &m), 0);
	ck_assert_uint_eq(m.n, 129);
	ck_assert_uint_eq(m.d, 7);
	ck_assert_ptr_nonnull(m.base); /* mapped, not copied */
	ck_assert_ptr_null(m.owned);
	ck_assert_mem_eq(m.data, x, sizeof(float) * 129 * 7);
	rc_npy_unmap(&m);
	ck_assert_ptr_null(m.data);
	rc_npy_unmap(&m); /* twice is harmless */

	/* no rows: a valid empty view */
	const char *e = rc_test_join(tmpdir, "e.npy");
	write_npy(e, x, 0, 7);
	ck_assert_int_eq(rc_npy_map_f32(e, &m), 0);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_uint_eq(m.d, 7);
	ck_assert_ptr_nonnull(m.data);
	rc_npy_unmap(&m);

	/* a truncated file is refused as the reader refuses it */
	FILE *f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	char buf[4096];
	size_t got = fread(buf, 1, sizeof buf, f);
	fclose(f);
	const char *t = rc_test_join(tmpdir, "t.npy");
	rc_test_write_file(t, buf, got - 4);
	capture_begin();
	ck_assert_int_eq(rc_npy_map_f32(t, &m), RC_E_TRUNCATED);
	const char *err = capture_end();
	ck_assert_ptr_nonnull(strstr(err, "t.npy: truncated"));
	ck_assert_ptr_null(m.data);
	capture_begin();
	ck_assert_int_eq(rc_npy_map_f32(rc_test_join(tmpdir, "none.npy"), &m), RC_E_IO);
	capture_end();
	free(x);
}
END_TEST

/* Searching the mapped file gives what searching the copy gives. */
START_TEST(test_search_mapped)
{
	const char *p = rc_test_join(tmpdir, "g.npy");
	float *x = ints(1000, 16), *q = ints(3, 16);
	write_npy(p, x, 1000, 16);
	struct rc_npy_map m;
	ck_assert_int_eq(rc_npy_map_f32(p, &m), 0);
	struct rc_topk_opts o = {.k = 8};
	struct result a = run(m.data, m.n, m.d, q, 3, o), b = run(x, 1000, 16, q, 3, o);
	ck_assert_mem_eq(a.index, b.index, 3 * 8 * sizeof *a.index);
	result_free(&a);
	result_free(&b);
	rc_npy_unmap(&m);
	free(x);
	free(q);
}
END_TEST

static Suite *search_suite(void)
{
	Suite *s = suite_create("search");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exact_with_ties);
	tcase_add_test(tc, test_block_boundaries);
	tcase_add_test(tc, test_k_above_n);
	tcase_add_test(tc, test_all_ties);
	tcase_add_test(tc, test_threads_same_answer);
	tcase_add_test(tc, test_random_units);
	tcase_add_test(tc, test_args);
	tcase_add_test(tc, test_nonfinite_row);
	tcase_add_test(tc, test_npy_map);
	tcase_add_test(tc, test_search_mapped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	rc_log_init("test_search");
	struct rc_backend_opts bo = { .device = { RC_BACKEND_CPU, 0 }, .threads = 2 };
	if (rc_backend_new(&be, NULL, &bo) < 0)
		return 1;
	int rc = rc_test_run(search_suite());
	rc_backend_free(be);
	return rc;
}
