/* test_eval.c - the metrics of eval.h on small hand-made embeddings (ties,
 * ranks, class embeddings, rank statistics, bootstrap, McNemar), and the
 * reference check of issue 6: rclip-eval run on tests/fixtures/eval must
 * give the counts that gen_eval.py computed with transformers from the
 * definitions, exactly. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "eval/eval.h"
#include "eval/eval_data.h"
#include "model/backend.h"
#include "eval_fixtures.h"
#include "testutil.h"

static struct rc_backend *be;   /* scores only: the CPU backend without a model */

/* Unit vectors in 2-D at the given angles (degrees). */
static void at(float *out, const double *deg, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = (float)cos(deg[i] * M_PI / 180);
		out[2 * i + 1] = (float)sin(deg[i] * M_PI / 180);
	}
}

START_TEST(choice_ties_count_as_correct)
{
	float img[2] = {1, 0}, cand[10];
	double same[5] = {30, 30, -30, 90, 180}; /* 1 ties with 0; 2 equal by symmetry */
	at(cand, same, 5);
	float sc[5];
	int choice = -1;
	ck_assert_int_eq(rc_eval_choice(img, cand, 5, 2, sc, &choice), 1);
	ck_assert_int_eq(choice, 0);
	ck_assert_float_eq(sc[0], sc[1]);
	double worse[5] = {40, 50, 10, 10, 170}; /* 2 and 3 tie above the truth */
	at(cand, worse, 5);
	ck_assert_int_eq(rc_eval_choice(img, cand, 5, 2, sc, &choice), 0);
	ck_assert_int_eq(choice, 2);
}
END_TEST

START_TEST(ranks_by_hand)
{
	/* images at 0 and 90 degrees; captions at 10 (image 0), 80 (image 1),
	 * 45 (image 0), 100 (image 1), 135 (image 0) */
	float img[4], txt[10];
	double ia[2] = {0, 90}, ta[5] = {10, 80, 45, 100, 135};
	at(img, ia, 2);
	at(txt, ta, 5);
	uint32_t owner[5] = {0, 1, 0, 1, 0}, i2t[2], t2i[5];
	ck_assert_int_eq(rc_eval_ranks(be, img, 2, txt, 5, 2, owner, i2t, t2i), 0);
	/* image 0's best own is 10 deg: nothing closer; image 1's best own is
	 * 80 or 100 (both 10 deg off; equal scores): nothing strictly closer */
	ck_assert_uint_eq(i2t[0], 1);
	ck_assert_uint_eq(i2t[1], 1);
	/* caption 45 is equally close to both images: a tie counts for it;
	 * caption 135 is closer to image 1 (45 deg) than to image 0 (135) */
	uint32_t want[5] = {1, 1, 1, 1, 2};
	for (int j = 0; j < 5; j++)
		ck_assert_uint_eq(t2i[j], want[j]);
	ck_assert_uint_eq(rc_eval_hits(t2i, 5, 1), 4);
	owner[4] = 2;
	ck_assert_int_eq(rc_eval_ranks(be, img, 2, txt, 5, 2, owner, i2t, t2i), RC_E_ARG);
}
END_TEST

START_TEST(ranks_many_blocks)
{
	/* more rows than a block: image i at angle i/2 deg, its caption at the
	 * same angle (rank 1), and image 0 has no caption (rank 0, left out) */
	enum { N = RC_EVAL_BLOCK + 37 };
	float *img = malloc(2 * N * sizeof *img), *txt = malloc(2 * N * sizeof *txt);
	uint32_t *owner = malloc(N * sizeof *owner), *i2t = malloc(N * sizeof *i2t),
		 *t2i = malloc(N * sizeof *t2i);
	for (int i = 0; i < N; i++) {
		double a = i * 0.5;
		at(img + 2 * i, &a, 1);
		a = (i + 1) * 0.5;
		at(txt + 2 * i, &a, 1);
		owner[i] = (uint32_t)(i + 1 < N ? i + 1 : 0);
	}
	ck_assert_int_eq(rc_eval_ranks(be, img, N, txt, N - 1, 2, owner, i2t, t2i), 0);
	ck_assert_uint_eq(i2t[0], 0);
	ck_assert_uint_eq(rc_eval_hits(i2t, N, 1), N - 1);
	ck_assert_uint_eq(rc_eval_hits(t2i, N - 1, 1), N - 1);
	double mean, median;
	ck_assert_int_eq(rc_eval_rank_stats(i2t, N, RC_EVAL_MEDIAN_UPPER, &mean, &median), 0);
	ck_assert_double_eq(mean, 1);
	free(img);
	free(txt);
	free(owner);
	free(i2t);
	free(t2i);
}
END_TEST

START_TEST(labels_and_classes)
{
	float img[6], cls[8];
	double ia[3] = {0, 50, 180}, ca[4] = {0, 45, 90, 135};
	at(img, ia, 3);
	at(cls, ca, 4);
	uint32_t label[3] = {0, 2, 3}, rank[3], pred[3];
	ck_assert_int_eq(rc_eval_label_ranks(be, img, 3, cls, 4, 2, label, rank, pred), 0);
	ck_assert_uint_eq(rank[0], 1);
	ck_assert_uint_eq(pred[0], 0);
	ck_assert_uint_eq(rank[1], 2);  /* 45 is closer to 50 than 90 */
	ck_assert_uint_eq(pred[1], 1);
	ck_assert_uint_eq(rank[2], 1);  /* 135 is the closest to 180 */
	label[0] = 4;
	ck_assert_int_eq(rc_eval_label_ranks(be, img, 3, cls, 4, 2, label, rank, pred), RC_E_ARG);

	float t[4], out[2];
	double ta[2] = {0, 90};
	at(t, ta, 2);
	rc_eval_class_embed(t, 2, 2, out);
	ck_assert_float_eq_tol(out[0], (float)M_SQRT1_2, 1e-7);
	ck_assert_float_eq_tol(out[1], (float)M_SQRT1_2, 1e-7);
	float opp[4] = {1, 0, -1, 0};
	rc_eval_class_embed(opp, 2, 2, out);
	ck_assert_float_eq(out[0], 0);
}
END_TEST

START_TEST(nan_is_a_miss)
{
	/* one NaN coordinate: every score with it is NaN, and every comparison
	 * false; a NaN is counted as a miss everywhere, never a hit */
	float img[4], txt[10], cls[8];
	double ia[2] = {0, 90}, ta[5] = {10, 80, 45, 100, 135}, ca[4] = {0, 45, 90, 135};
	at(img, ia, 2);
	at(txt, ta, 5);
	at(cls, ca, 4);
	float nimg[2] = {NAN, 0};
	int choice = -1;
	ck_assert_int_eq(rc_eval_choice(nimg, txt, 5, 2, NULL, &choice), 0);
	ck_assert_int_ne(choice, 0);
	float cand[10];
	memcpy(cand, txt, sizeof cand);
	cand[4] = NAN;                      /* a NaN false caption */
	ck_assert_int_eq(rc_eval_choice(img, cand, 5, 2, NULL, &choice), 0);
	ck_assert_int_eq(choice, 2);
	uint32_t owner[5] = {0, 1, 0, 1, 0}, i2t[2], t2i[5];
	img[0] = NAN;                       /* image 0 poisoned */
	ck_assert_int_eq(rc_eval_ranks(be, img, 2, txt, 5, 2, owner, i2t, t2i), 0);
	ck_assert_uint_eq(i2t[0], 5);       /* the last of 5 */
	ck_assert_uint_eq(i2t[1], 1);       /* image 1 is whole */
	for (int j = 0; j < 5; j++)         /* image 0's NaN is above every truth */
		ck_assert_uint_eq(t2i[j], 2);
	uint32_t label[2] = {0, 2}, rank[2], pred[2];
	ck_assert_int_eq(rc_eval_label_ranks(be, img, 2, cls, 4, 2, label, rank, pred), 0);
	ck_assert_uint_eq(rank[0], 4);
	ck_assert_uint_ne(pred[0], 0);
	ck_assert_uint_eq(rank[1], 1);      /* image 1 is whole */
}
END_TEST

START_TEST(rank_stats_median)
{
	uint32_t r[6] = {3, 0, 1, 10, 2, 4};
	double mean, median;
	for (int how = RC_EVAL_MEDIAN_UPPER; how <= RC_EVAL_MEDIAN_MEAN; how++) {
		ck_assert_int_eq(rc_eval_rank_stats(r, 6, how, &mean, &median), 0);
		ck_assert_double_eq_tol(mean, 4.0, 1e-12); /* (3+1+10+2+4)/5, the 0 left out */
		ck_assert_double_eq(median, 3);
		ck_assert_int_eq(rc_eval_rank_stats(r, 4, how, &mean, &median), 0);
		ck_assert_double_eq(median, 3);            /* 1 3 10: odd */
	}
	uint32_t e[4] = {4, 1, 2, 8};
	ck_assert_int_eq(rc_eval_rank_stats(e, 4, RC_EVAL_MEDIAN_MEAN, &mean, &median), 0);
	ck_assert_double_eq(median, 3);               /* numpy.median: (2 + 4) / 2 */
	ck_assert_int_eq(rc_eval_rank_stats(e, 4, RC_EVAL_MEDIAN_UPPER, &mean, &median), 0);
	ck_assert_double_eq(median, 4);               /* sorted(e)[4 // 2] */
	ck_assert_uint_eq(rc_eval_hits(e, 4, 2), 2);
}
END_TEST

/* The official COCO/Flickr captions: the first 5, a shorter list repeated
 * cyclically (3 → c0 c1 c2 c0 c1, 1 → five times), 6 and 7 cut to 5. */
START_TEST(captions_per_image)
{
	static const int counts[] = {3, 7, 1, 6, 5, 2};
	struct rc_eval_data d = {0};
	rc_arena_init(&d.arena, 0);
	char buf[6][8][8];
	for (uint32_t i = 0; i < 6; i++)
		for (int k = 0; k < counts[i]; k++) {
			snprintf(buf[i][k], sizeof buf[i][k], "%u.%d", i, k);
			ck_assert_int_eq(rc_eval_data_add_text(&d, buf[i][k], (uint32_t)strlen(buf[i][k]), i), 0);
		}
	ck_assert_int_eq(rc_eval_data_cap_captions(&d, 0), 0);
	ck_assert_uint_eq(d.nt, 24);
	ck_assert_int_eq(rc_eval_data_cap_captions(&d, 5), 0);
	ck_assert_uint_eq(d.nt, 30);
	for (uint32_t i = 0; i < 6; i++)
		for (int k = 0; k < 5; k++) {
			char want[8];
			snprintf(want, sizeof want, "%u.%d", i, k % counts[i]);
			ck_assert_uint_eq(d.owner[i * 5 + (uint32_t)k], i);
			ck_assert_str_eq(d.txt[i * 5 + (uint32_t)k], want);
		}
	rc_eval_data_free(&d);
}
END_TEST

START_TEST(bootstrap_interval)
{
	uint8_t hit[200];
	for (int i = 0; i < 200; i++)
		hit[i] = i % 2;
	double lo, hi, lo2, hi2;
	ck_assert_int_eq(rc_eval_bootstrap(hit, 200, 2000, 7, &lo, &hi), 0);
	/* the normal approximation: 0.5 ± 1.96·sqrt(.25/200) = ±0.069 */
	ck_assert_double_gt(lo, 0.40);
	ck_assert_double_lt(lo, 0.46);
	ck_assert_double_gt(hi, 0.54);
	ck_assert_double_lt(hi, 0.60);
	ck_assert_int_eq(rc_eval_bootstrap(hit, 200, 2000, 7, &lo2, &hi2), 0);
	ck_assert_double_eq(lo, lo2);
	ck_assert_double_eq(hi, hi2);
	/* the seed matters: a few resamples give different intervals */
	int differ = 0;
	ck_assert_int_eq(rc_eval_bootstrap(hit, 200, 3, 1, &lo, &hi), 0);
	for (uint64_t seed = 2; seed < 12; seed++) {
		ck_assert_int_eq(rc_eval_bootstrap(hit, 200, 3, seed, &lo2, &hi2), 0);
		differ += lo2 != lo || hi2 != hi;
	}
	ck_assert_int_gt(differ, 0);
	memset(hit, 1, sizeof hit);
	ck_assert_int_eq(rc_eval_bootstrap(hit, 200, 100, 7, &lo, &hi), 0);
	ck_assert_double_eq(lo, 1);
	ck_assert_double_eq(hi, 1);
	ck_assert_int_eq(rc_eval_bootstrap(hit, 0, 100, 7, &lo, &hi), 0);
	ck_assert_int_eq(rc_eval_bootstrap(hit, 10, 0, 7, &lo, &hi), RC_E_ARG);
}
END_TEST

START_TEST(mcnemar_values)
{
	struct rc_eval_mcnemar t;
	/* b = 10, c = 2: P(X <= 2), X ~ Bin(12, 1/2) = (1 + 12 + 66) / 4096;
	 * chi2 = (8 - 1)^2 / 12 */
	rc_eval_mcnemar(10, 2, &t);
	ck_assert_double_eq_tol(t.p_exact, 2 * 79.0 / 4096, 1e-12);
	ck_assert_double_eq_tol(t.chi2, 49.0 / 12, 1e-12);
	ck_assert_double_eq_tol(t.p_chi2, 0.04331, 5e-5); /* chi2.sf(4.0833, 1) */
	rc_eval_mcnemar(2, 10, &t);
	ck_assert_double_eq_tol(t.p_exact, 2 * 79.0 / 4096, 1e-12);
	rc_eval_mcnemar(5, 5, &t);
	ck_assert_double_eq(t.p_exact, 1);
	ck_assert_double_eq(t.chi2, 0);
	rc_eval_mcnemar(0, 0, &t);
	ck_assert_double_eq(t.p_exact, 1);
	rc_eval_mcnemar(0, 1000, &t); /* far in the tail: no overflow */
	ck_assert_double_lt(t.p_exact, 1e-250);
	ck_assert_double_ge(t.p_exact, 0);
}
END_TEST

/* ---------------------------------------------------------------- reference */

static json_t *run_eval(const char *args)
{
	return rc_test_eval_json("eval", args);
}

static json_t *expected(const char *task)
{
	return rc_test_eval_expected("eval", task);
}

static void same_real(json_t *metrics, const char *name, json_t *want)
{
	double got = json_real_value(json_object_get(metrics, name));
	ck_assert_msg(fabs(got - json_number_value(want)) < 1e-9, "%s: %.17g, reference %.17g",
		name, got, json_number_value(want));
}

START_TEST(reference_sets)
{
	json_t *r = run_eval("sets sets.jsonl"), *x = expected("sets");
	json_t *m = json_object_get(r, "metrics");
	rc_test_same_sets(m, x);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "skipped_images")),
		json_integer_value(json_object_get(x, "skipped_images")));
	json_decref(r);
	json_decref(x);
}
END_TEST

static void check_retrieval(const char *args, const char *task)
{
	json_t *r = run_eval(args), *x = expected(task);
	ck_assert_int_eq(json_object_size(x), 10);
	ck_assert_int_eq(rc_test_same_ranks(json_object_get(r, "metrics"), x), 10);
	json_decref(r);
	json_decref(x);
}

START_TEST(reference_rclip_retrieval)
{
	check_retrieval("rclip-retrieval sets.jsonl", "rclip-retrieval");
}
END_TEST

START_TEST(reference_retrieval)
{
	check_retrieval("retrieval --captions-per-image all retrieval.jsonl", "retrieval");
}
END_TEST

START_TEST(reference_zeroshot)
{
	json_t *r = run_eval("zeroshot --classes classes.txt --templates templates.txt "
		"zeroshot.jsonl"), *x = expected("zeroshot");
	json_t *m = json_object_get(r, "metrics");
	rc_test_same_count(m, "top-1", json_object_get(x, "top-1"));
	rc_test_same_count(m, "top-5", json_object_get(x, "top-5"));
	same_real(m, "mean per-class recall", json_object_get(x, "mean per-class recall"));
	ck_assert_int_eq(json_integer_value(json_object_get(m, "classes present")),
		json_integer_value(json_object_get(x, "classes present")));
	json_decref(r);
	json_decref(x);
}
END_TEST

static Suite *eval_suite(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = tcase_create("metrics");
	tcase_add_test(tc, choice_ties_count_as_correct);
	tcase_add_test(tc, ranks_by_hand);
	tcase_add_test(tc, ranks_many_blocks);
	tcase_add_test(tc, nan_is_a_miss);
	tcase_add_test(tc, labels_and_classes);
	tcase_add_test(tc, rank_stats_median);
	tcase_add_test(tc, captions_per_image);
	tcase_add_test(tc, bootstrap_interval);
	tcase_add_test(tc, mcnemar_values);
	suite_add_tcase(s, tc);
	tc = tcase_create("reference");
	tcase_add_test(tc, reference_sets);
	tcase_add_test(tc, reference_rclip_retrieval);
	tcase_add_test(tc, reference_retrieval);
	tcase_add_test(tc, reference_zeroshot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct rc_backend_opts bo = { .device = { RC_BACKEND_CPU, 0 }, .threads = 2 };
	if (rc_backend_new(&be, NULL, &bo) < 0)
		return 1;
	int rc = rc_test_run(eval_suite());
	rc_backend_free(be);
	return rc;
}
