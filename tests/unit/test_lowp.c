/* test_lowp.c - the CPU backend's bf16 and int8 inference (lowp_cpu.h),
 * against its contract:
 * - a product is exactly what the header says: bf16-rounded inputs and
 *   weights summed in fp32 (within fp32 summation error of a double
 *   reference), or int8 quantised rows and channels summed exactly in
 *   int32 and scaled;
 * - embeddings of the CLIP parity fixtures (tests/fixtures/clip) and of
 *   the eval fixture's model stay within cosine 0.9995 (bf16) and 0.995
 *   (int8) of fp32 and of transformers' fp32 outputs;
 * - on the eval fixtures, the decisions and ranks of every rclip-eval task
 *   that change are counted and printed (rclip-eval --compare's figures).
 * Skips (77) when this rclip has no oneDNN or this CPU lacks the
 * instructions for either precision. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/thread.h"
#include "model/backend.h"
#include "model/clip_config.h"
#include "model/cpu.h"
#include "model/lowp_cpu.h"
#include "model/model.h"
#include "model/ops_cpu.h"

#include "clip_fixtures.h"
#include "eval_fixtures.h"
#include "testutil.h"

/* The contract: the smallest cosine of a row to its fp32 embedding. */
static const double min_cos[] = { [RC_PRECISION_BF16] = 0.9995, [RC_PRECISION_INT8] = 0.995 };

static uint64_t rng = 0x9e3779b97f4a7c15u;

static double unif(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (rng >> 11) * (1.0 / 9007199254740992.0);
}

/* fill - n values in [lo, hi). */
static float *fill(size_t n, double lo, double hi)
{
	float *x = malloc(n * sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(lo + (hi - lo) * unif());
	return x;
}

/* ---------------------------------------------------------------- bf16 rounding */

static float bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

START_TEST(round_bf16)
{
	ck_assert(rc_lowp_round_bf16(1.0f) == 1.0f);
	/* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1). */
	ck_assert(rc_lowp_round_bf16(1.0f + 0x1p-8f) == 1.0f);
	/* 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to 1 + 2^-6. */
	ck_assert(rc_lowp_round_bf16(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
	/* just above halfway rounds up, just below down */
	ck_assert(rc_lowp_round_bf16(bits(0x3f808001u)) == bits(0x3f810000u));
	ck_assert(rc_lowp_round_bf16(bits(0x3f807fffu)) == 1.0f);
	ck_assert(rc_lowp_round_bf16(-2.5f) == -2.5f);
	ck_assert(isinf(rc_lowp_round_bf16(INFINITY)));
	ck_assert(isnan(rc_lowp_round_bf16(NAN)));
	/* the largest float rounds to infinity, as torch's bfloat16 cast */
	ck_assert(isinf(rc_lowp_round_bf16(bits(0x7f7fffffu))));
}
END_TEST

/* ref_act - the activation as PyTorch computes it (quick_gelu's 1.702·x a
 * float), the rest in double. */
static double ref_act(float x, int act)
{
	if (act == RC_ACT_GELU)
		return 0.5 * x * (1 + erf(x / sqrt(2.0)));
	return x / (1 + exp(-(double)(1.702f * x)));
}

/* The activation of the fused path: quick_gelu within a few ulp of its
 * definition (its exp is rclip's own), over the range of exp's clamps and
 * beyond; exact GELU the fp32 path's, bit for bit (libm's erff in both). */
START_TEST(activation)
{
	enum { N = 20001 };
	static float x[N], y[N], z[N];
	for (int i = 0; i < N; i++)
		x[i] = -100.0f + 200.0f * i / (N - 1);
	rc_lowp_act(y, x, N, RC_ACT_QUICK_GELU);
	double worst = 0;
	for (int i = 0; i < N; i++) {
		double ref = ref_act(x[i], RC_ACT_QUICK_GELU);
		/* where it matters: below 1e-30 (x < -40), fp32's own sigmoid
		 * underflows to 0 where the true value is still a float */
		if (fabs(ref) > 1e-30 && fabs(y[i] - ref) / fabs(ref) > worst)
			worst = fabs(y[i] - ref) / fabs(ref);
	}
	ck_assert_msg(worst < 4 * 0x1p-24, "quick_gelu: relative error %.3g", worst);
	rc_lowp_act(y, x, N, RC_ACT_GELU);
	rc_ops_gelu(z, x, N);
	ck_assert(!memcmp(y, z, sizeof y));
}
END_TEST

/* ---------------------------------------------------------------- products */

/* quant - the header's int8 quantisation of a row, for the reference. */
static float quant(int8_t *q, const float *x, int n)
{
	float amax = 0;
	for (int i = 0; i < n; i++)
		amax = fmaxf(amax, fabsf(x[i]));
	const float inv = amax > 0 ? 127.0f / amax : 0.0f;
	for (int i = 0; i < n; i++)
		q[i] = (int8_t)lrintf(fminf(fmaxf(x[i] * inv, -127.0f), 127.0f));
	return amax / 127.0f;
}

/* check_product - rc_lowp_matmul (act -1) or rc_lowp_matmul_act on N rows
 * against the reference of its contract, for values in [lo, hi). */
static void check_product(int prec, int max_rows, int N, int C, int OC, int with_bias, double lo,
	double hi, int act)
{
	struct rc_lowp *lp;
	ck_assert_int_eq(rc_lowp_new(&lp, prec, max_rows), 0);
	float *x = fill((size_t)N * C, lo, hi), *w = fill((size_t)OC * C, lo, hi);
	float *bias = with_bias ? fill((size_t)OC, -1, 1) : NULL;
	float *out = malloc((size_t)N * OC * sizeof *out);
	ck_assert_int_eq(rc_lowp_pack(lp, w, OC, C), 0);
	float *x0 = malloc((size_t)N * C * sizeof *x0);
	memcpy(x0, x, (size_t)N * C * sizeof *x0);
	ck_assert_int_eq(rc_lowp_matmul_act(lp, out, x, act, w, bias, N, C, OC), 0);
	ck_assert_msg(!memcmp(x0, x, (size_t)N * C * sizeof *x), "the input changed");
	free(x0);
	if (act >= 0)
		for (size_t i = 0; i < (size_t)N * C; i++)
			x[i] = (float)ref_act(x[i], act);
	int8_t *qx = malloc((size_t)C), *qw = malloc((size_t)OC * C);
	float *sw = malloc((size_t)OC * sizeof *sw);
	for (int o = 0; o < OC; o++)
		sw[o] = quant(qw + (size_t)o * C, w + (size_t)o * C, C);
	double worst = 0;
	for (int i = 0; i < N; i++) {
		const float *xi = x + (size_t)i * C;
		const float sx = prec == RC_PRECISION_INT8 ? quant(qx, xi, C) : 0;
		for (int o = 0; o < OC; o++) {
			const float *wo = w + (size_t)o * C;
			double ref, mag;
			if (prec == RC_PRECISION_INT8) {
				int64_t acc = 0, sum = 0;
				for (int k = 0; k < C; k++) {
					acc += qx[k] * qw[(size_t)o * C + k];
					sum += abs(qx[k] * qw[(size_t)o * C + k]);
				}
				ref = (double)acc * (sx * sw[o]);
				mag = (double)sum * (sx * sw[o]);
			} else {
				ref = mag = 0;
				for (int k = 0; k < C; k++) {
					double t = (double)rc_lowp_round_bf16(xi[k]) *
						rc_lowp_round_bf16(wo[k]);
					ref += t, mag += fabs(t);
				}
			}
			ref += bias ? bias[o] : 0;
			/* fp32 sums (bf16) or fp32 scaling (int8) */
			double err = fabs(out[(size_t)i * OC + o] - ref) / (mag + 1e-3);
			worst = err > worst ? err : worst;
		}
	}
	ck_assert_msg(worst < 1e-5, "%s %dx%dx%d, activation %d: relative error %.3g",
		rc_precision_name(prec), N, C, OC, act, worst);
	free(sw), free(qw), free(qx), free(out), free(bias), free(w), free(x);
	rc_lowp_free(lp);
}

START_TEST(products)
{
	const int precs[] = { RC_PRECISION_BF16, RC_PRECISION_INT8 };
	for (int p = 0; p < 2; p++) {
		/* the batch the weights were packed for, fewer rows, one row, odd sizes */
		check_product(precs[p], 64, 64, 768, 96, 1, -1, 1, -1);
		check_product(precs[p], 64, 13, 768, 96, 1, -1, 1, -1);
		check_product(precs[p], 64, 1, 256, 40, 0, -1, 1, -1);
		check_product(precs[p], 30, 29, 18, 40, 1, -2, 3, -1);
		/* positive values: a rounding bias would add up here */
		check_product(precs[p], 50, 50, 512, 64, 0, 0.5, 1, -1);
		/* fc2's input: the activation on the way in (values reaching
		 * exp's clamps too) */
		check_product(precs[p], 50, 50, 3072, 64, 1, -6, 6, RC_ACT_QUICK_GELU);
		check_product(precs[p], 50, 7, 40, 24, 1, -60, 60, RC_ACT_QUICK_GELU);
		check_product(precs[p], 50, 50, 1024, 64, 1, -4, 4, RC_ACT_GELU);
	}
}
END_TEST

START_TEST(not_packed)
{
	struct rc_lowp *lp;
	ck_assert_int_eq(rc_lowp_new(&lp, RC_PRECISION_BF16, 8), 0);
	float w[4 * 8] = { 0 }, other[4 * 8] = { 0 }, x[2 * 8] = { 0 }, out[2 * 4];
	out[0] = 42;
	ck_assert_int_eq(rc_lowp_pack(lp, w, 4, 8), 0);
	ck_assert_int_eq(rc_lowp_matmul(lp, out, x, other, NULL, 2, 8, 4), 1);
	ck_assert(out[0] == 42);
	ck_assert_int_eq(rc_lowp_pack(lp, w, 4, 8), RC_E_ARG);
	ck_assert_uint_ge(rc_lowp_bytes(lp), 4 * 8 * 2);
	rc_lowp_free(lp);
}
END_TEST

/* ---------------------------------------------------------------- embeddings */

/* worst_cos - the smallest cosine between rows of a and b ([n,D], unit). */
static double worst_cos(const float *a, const float *b, int n, int D)
{
	double worst = 1;
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < D; j++)
			s += (double)a[(size_t)i * D + j] * b[(size_t)i * D + j];
		worst = s < worst ? s : worst;
	}
	return worst;
}

/* One parity fixture: its inputs through fp32 and through each precision;
 * the cosines to rclip's fp32 and to transformers' outputs. */
static void fixture_cosines(const char *fix)
{
	struct rc_clip *m;
	struct rc_st *in, *out;
	ck_assert_int_eq(rc_clip_load_hf(&m, fixture(fix, NULL)), 0);
	ck_assert_int_eq(rc_st_open(&in, fixture(fix, "inputs.safetensors")), 0);
	ck_assert_int_eq(rc_st_open(&out, fixture(fix, "outputs.safetensors")), 0);
	int B, T;
	size_t n;
	int32_t *ids = read_ids(in, &B, &T);
	float *px = read_f32(in, "pixel_values", &n);
	const struct rc_clip_config *c = &m->cfg;
	const int S = c->vision.image_size, D = c->projection_dim;
	const int Bi = (int)(n / (3 * (size_t)S * S));
	float *hf_img = read_f32(out, "image_embeds", &n), *hf_txt = read_f32(out, "text_embeds", &n);
	float *img = malloc((size_t)Bi * D * sizeof *img), *txt = malloc((size_t)B * D * sizeof *txt);
	float *img0 = malloc((size_t)Bi * D * sizeof *img), *txt0 = malloc((size_t)B * D * sizeof *txt);
	struct rc_clip_ws *ws;
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, Bi, B, 0), 0);
	ck_assert_int_eq(rc_clip_encode_image(m, ws, px, Bi, img0), 0);
	ck_assert_int_eq(rc_clip_encode_text(m, ws, ids, B, T, txt0), 0);
	const int precs[] = { RC_PRECISION_BF16, RC_PRECISION_INT8 };
	for (int p = 0; p < 2; p++) {
		struct rc_lowp *lp;
		const int rows = Bi * rc_clip_config_image_tokens(c) > B * T ?
			Bi * rc_clip_config_image_tokens(c) : B * T;
		ck_assert_int_eq(rc_lowp_new(&lp, precs[p], rows), 0);
		ck_assert_int_eq(rc_lowp_pack_clip(lp, m, 1, 1), 0);
		ws->lowp = lp;
		ck_assert_int_eq(rc_clip_encode_image(m, ws, px, Bi, img), 0);
		ck_assert_int_eq(rc_clip_encode_text(m, ws, ids, B, T, txt), 0);
		ws->lowp = NULL;
		rc_lowp_free(lp);
		double ci = worst_cos(img, img0, Bi, D), ct = worst_cos(txt, txt0, B, D);
		double hi = worst_cos(img, hf_img, Bi, D), ht = worst_cos(txt, hf_txt, B, D);
		printf("%s %s: smallest cosine to fp32: images %.7f, texts %.7f; to transformers: "
			"%.7f, %.7f\n", fix, rc_precision_name(precs[p]), ci, ct, hi, ht);
		const double want = min_cos[precs[p]];
		ck_assert_msg(ci >= want && ct >= want && hi >= want && ht >= want,
			"%s %s: cosine below %g", fix, rc_precision_name(precs[p]), want);
		/* not fp32 in disguise: the products did change */
		ck_assert_msg(ci < 1 - 1e-9 || ct < 1 - 1e-9, "%s %s: the same as fp32", fix,
			rc_precision_name(precs[p]));
	}
	rc_clip_ws_free(ws);
	free(img), free(txt), free(img0), free(txt0), free(hf_img), free(hf_txt), free(px), free(ids);
	rc_st_close(in);
	rc_st_close(out);
	rc_clip_free(m);
}

START_TEST(parity_fixtures)
{
	const char *fixtures[] = { "tiny-quickgelu", "tiny-gelu", "tiny-oddheads", "tiny-img64" };
	for (int i = 0; i < 4; i++) {
		if (!fixture_present(fixtures[i]))
			ck_abort_msg("tests/fixtures/clip/%s is missing", fixtures[i]);
		fixture_cosines(fixtures[i]);
	}
}
END_TEST

/* The backend refuses to train in bf16 or int8, in one logged line. */
START_TEST(no_training)
{
	struct rc_clip *m;
	ck_assert_int_eq(rc_clip_load_hf(&m, fixture("tiny-quickgelu", NULL)), 0);
	int *group = calloc(m->ntensors, sizeof *group);
	struct rc_backend_opts bo = { .device = { RC_BACKEND_CPU, 0, RC_PRECISION_BF16 },
		.threads = 2, .max_images = 2, .max_texts = 2, .train = 1, .loss_rows = 2,
		.ngroups = 1, .group = group };
	struct rc_backend *be;
	ck_assert_int_eq(rc_backend_new(&be, m, &bo), RC_E_UNSUPPORTED);
	bo.train = 0;
	bo.device.precision = RC_PRECISION_INT8;
	ck_assert_int_eq(rc_backend_new(&be, m, &bo), 0);
	rc_backend_free(be);
	free(group);
	rc_clip_free(m);
}
END_TEST

/* ---------------------------------------------------------------- eval fixtures */

static json_t *run_eval(const char *prec, const char *args)
{
	char a[4096];
	snprintf(a, sizeof a, "--device cpu --precision %s %s", prec, args);
	return rc_test_eval_json("eval", a);
}

/* changes - items of b whose field key differs from a's (the same items in
 * the same order, or the test fails). */
static int changes(json_t *a, json_t *b, const char *key)
{
	json_t *ia = json_object_get(a, "items"), *ib = json_object_get(b, "items");
	ck_assert(json_is_array(ia) && json_is_array(ib));
	ck_assert_uint_eq(json_array_size(ia), json_array_size(ib));
	int n = 0;
	for (size_t i = 0; i < json_array_size(ia); i++) {
		json_t *x = json_array_get(ia, i), *y = json_array_get(ib, i);
		ck_assert_str_eq(json_string_value(json_object_get(x, "id")),
			json_string_value(json_object_get(y, "id")));
		n += !json_equal(json_object_get(x, key), json_object_get(y, key));
	}
	return n;
}

START_TEST(eval_fixtures)
{
	static const struct { const char *args, *key, *what; } tasks[] = {
		{ "sets sets.jsonl", "choice", "choices" },
		{ "rclip-retrieval sets.jsonl", "rank", "ranks" },
		{ "retrieval retrieval.jsonl", "rank", "ranks" },
		{ "zeroshot --classes classes.txt --templates templates.txt zeroshot.jsonl", "pred",
		  "predictions" },
	};
	for (size_t t = 0; t < sizeof tasks / sizeof *tasks; t++) {
		json_t *ref = run_eval("fp32", tasks[t].args);
		const char *precs[] = { "bf16", "int8" };
		for (int p = 0; p < 2; p++) {
			json_t *r = run_eval(precs[p], tasks[t].args);
			int n = changes(ref, r, tasks[t].key);
			printf("eval %s, %s: %d of %zu %s differ from fp32\n", tasks[t].args, precs[p], n,
				json_array_size(json_object_get(ref, "items")), tasks[t].what);
			json_decref(r);
		}
		json_decref(ref);
	}
}
END_TEST

static Suite *lowp_suite(void)
{
	Suite *s = suite_create("lowp");
	TCase *tc = tcase_create("contract");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_bf16);
	tcase_add_test(tc, activation);
	tcase_add_test(tc, products);
	tcase_add_test(tc, not_packed);
	tcase_add_test(tc, parity_fixtures);
	tcase_add_test(tc, no_training);
	tcase_add_test(tc, eval_fixtures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	rc_ops_set_threads(2);
	rc_log_set_level(RC_LOG_ERROR);
	if (rc_lowp_check(RC_PRECISION_BF16) < 0 || rc_lowp_check(RC_PRECISION_INT8) < 0)
		return 77; /* said why, on stderr */
	return rc_test_run(lowp_suite());
}
