/* test_ops.c - every op of common/ops_cpu.c against a plain reference loop
 * in double on small random inputs, odd sizes included, with a tolerance
 * per op (|got - ref| <= atol + rtol·|ref|); the largest differences are
 * printed. Also what the ops promise beyond the numbers: in-place use,
 * exact zeros under the causal mask, the same result with and without
 * kept attention probabilities. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip_config.h"
#include "ops_cpu.h"

#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static float normal(void)
{
	double u = uniform() + 1e-12, v = uniform();
	return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static float *randn(size_t n, float scale)
{
	float *p = malloc(n * sizeof *p);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = normal() * scale;
	return p;
}

static double *dalloc(size_t n)
{
	double *p = calloc(n, sizeof *p);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* expect_close - every got[i] within atol + rtol·|ref[i]|; prints the
 * largest absolute difference. */
static void expect_close(const char *what, const float *got, const double *ref, size_t n,
	double atol, double rtol)
{
	double worst = 0, excess = 0;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(got[i] - ref[i]);
		ck_assert_msg(isfinite(got[i]), "%s: [%zu] is %g", what, i, got[i]);
		worst = d > worst ? d : worst;
		if (d - (atol + rtol * fabs(ref[i])) > excess)
			excess = d - (atol + rtol * fabs(ref[i])), at = i;
	}
	fprintf(stderr, "%-28s n=%-6zu max |diff| %.3g\n", what, n, worst);
	ck_assert_msg(excess == 0, "%s: [%zu] = %.9g, reference %.9g", what, at, got[at], ref[at]);
}

/* ---------------------------------------------------------------- matmul */

static void check_matmul(int N, int C, int OC, int with_bias)
{
	float *x = randn((size_t)N * C, 1), *w = randn((size_t)OC * C, 1), *b = randn(OC, 1);
	float *out = malloc((size_t)N * OC * sizeof *out);
	double *ref = dalloc((size_t)N * OC);
	for (int i = 0; i < N; i++)
		for (int o = 0; o < OC; o++) {
			double s = with_bias ? b[o] : 0;
			for (int c = 0; c < C; c++)
				s += (double)x[i * C + c] * w[o * C + c];
			ref[i * OC + o] = s;
		}
	rc_ops_matmul(out, x, w, with_bias ? b : NULL, N, C, OC);
	char what[64];
	snprintf(what, sizeof what, "matmul %dx%dx%d%s", N, C, OC, with_bias ? " +b" : "");
	/* fp32 sums of C products of N(0,1) values: error ~ sqrt(C)·eps·C. */
	expect_close(what, out, ref, (size_t)N * OC, 2e-6 * C, 1e-5);
	free(x), free(w), free(b), free(out), free(ref);
}

START_TEST(test_matmul)
{
	check_matmul(1, 1, 1, 1);
	check_matmul(7, 13, 5, 1);
	check_matmul(7, 13, 5, 0);
	check_matmul(50, 96, 3 * 96, 1);
	check_matmul(131, 257, 67, 1);
}
END_TEST

/* ---------------------------------------------------------------- layernorm */

static void check_layernorm(int N, int C, float eps, float offset)
{
	float *x = randn((size_t)N * C, 2), *w = randn(C, 0.3f), *b = randn(C, 0.1f);
	for (int i = 0; i < C; i++)
		w[i] += 1;
	for (size_t i = 0; i < (size_t)N * C; i++)
		x[i] += offset;
	float *out = malloc((size_t)N * C * sizeof *out), *mean = malloc(N * sizeof *mean),
	      *rstd = malloc(N * sizeof *rstd);
	double *ref = dalloc((size_t)N * C), *rm = dalloc(N), *rr = dalloc(N);
	for (int i = 0; i < N; i++) {
		double m = 0, v = 0;
		for (int c = 0; c < C; c++)
			m += x[i * C + c];
		m /= C;
		for (int c = 0; c < C; c++)
			v += (x[i * C + c] - m) * (x[i * C + c] - m);
		v /= C;
		rm[i] = m, rr[i] = 1 / sqrt(v + eps);
		for (int c = 0; c < C; c++)
			ref[i * C + c] = (x[i * C + c] - m) * rr[i] * w[c] + b[c];
	}
	rc_ops_layernorm(out, mean, rstd, x, w, b, N, C, eps);
	char what[64];
	snprintf(what, sizeof what, "layernorm %dx%d%s", N, C, offset ? " offset" : "");
	/* An offset costs the float input its low bits, not the op. */
	expect_close(what, out, ref, (size_t)N * C, offset ? 1e-4 : 2e-6, 2e-6);
	expect_close("  mean", mean, rm, N, 1e-6, 1e-6);
	expect_close("  rstd", rstd, rr, N, 0, 2e-6);
	/* in place */
	rc_ops_layernorm(x, NULL, NULL, x, w, b, N, C, eps);
	ck_assert_int_eq(memcmp(x, out, (size_t)N * C * sizeof *x), 0);
	free(x), free(w), free(b), free(out), free(mean), free(rstd), free(ref), free(rm), free(rr);
}

START_TEST(test_layernorm)
{
	check_layernorm(1, 1, 1e-5f, 0);
	check_layernorm(5, 33, 1e-5f, 0);
	check_layernorm(77, 512, 1e-5f, 0);
	check_layernorm(9, 24, 1e-6f, 0);
	check_layernorm(4, 64, 1e-5f, 300);
}
END_TEST

/* ---------------------------------------------------------------- activations */

START_TEST(test_activations)
{
	const size_t n = 2001;
	float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
	double *ref = dalloc(n);
	for (size_t i = 0; i < n; i++)
		x[i] = -10.0f + 20.0f * i / (n - 1);
	x[0] = -30, x[n - 1] = 30;

	for (size_t i = 0; i < n; i++)
		ref[i] = x[i] / (1 + exp(-1.702 * x[i]));
	rc_ops_quick_gelu(y, x, n);
	expect_close("quick_gelu", y, ref, n, 1e-7, 1e-6);
	rc_ops_act(y, x, n, RC_ACT_QUICK_GELU);
	expect_close("act(quick_gelu)", y, ref, n, 1e-7, 1e-6);

	for (size_t i = 0; i < n; i++)
		ref[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
	rc_ops_gelu(y, x, n);
	expect_close("gelu", y, ref, n, 1e-7, 1e-6);
	ck_assert(y[0] == 0.0f && y[n - 1] == 30.0f);
	/* in place */
	rc_ops_act(x, x, n, RC_ACT_GELU);
	ck_assert_int_eq(memcmp(x, y, n * sizeof *x), 0);
	free(x), free(y), free(ref);
}
END_TEST

/* ---------------------------------------------------------------- softmax */

static void softmax_ref(double *ref, const float *x, int N, int C, int causal)
{
	for (int i = 0; i < N; i++) {
		int n = causal ? i % C + 1 : C;
		double mx = -INFINITY, s = 0;
		for (int j = 0; j < n; j++)
			mx = fmax(mx, x[i * C + j]);
		for (int j = 0; j < n; j++)
			s += exp(x[i * C + j] - mx);
		for (int j = 0; j < C; j++)
			ref[i * C + j] = j < n ? exp(x[i * C + j] - mx) / s : 0;
	}
}

START_TEST(test_softmax)
{
	const int N = 22, C = 11;
	float *x = randn((size_t)N * C, 4), *y = malloc((size_t)N * C * sizeof *y);
	double *ref = dalloc((size_t)N * C);
	x[3] = 80, x[4] = -80;      /* a large spread stays finite */
	for (int causal = 0; causal < 2; causal++) {
		softmax_ref(ref, x, N, C, causal);
		rc_ops_softmax(y, x, N, C, causal);
		expect_close(causal ? "softmax causal" : "softmax", y, ref, (size_t)N * C, 1e-7, 1e-6);
		for (int i = 0; causal && i < N; i++)
			for (int j = i % C + 1; j < C; j++)
				ck_assert(y[i * C + j] == 0.0f);
	}
	rc_ops_softmax(x, x, N, C, 1);
	ck_assert_int_eq(memcmp(x, y, (size_t)N * C * sizeof *x), 0);
	free(x), free(y), free(ref);
}
END_TEST

/* ---------------------------------------------------------------- attention */

static void attention_ref(double *out, double *att, const float *qkv, int B, int T, int C,
	int H, int causal)
{
	int hd = C / H;
	double scale = 1 / sqrt(hd), *s = dalloc(T);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < H; h++)
			for (int i = 0; i < T; i++) {
				const float *q = qkv + ((size_t)b * T + i) * 3 * C + h * hd;
				int n = causal ? i + 1 : T;
				double mx = -INFINITY, sum = 0;
				for (int j = 0; j < n; j++) {
					const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hd;
					double d = 0;
					for (int e = 0; e < hd; e++)
						d += (double)q[e] * k[e];
					s[j] = d * scale;
					mx = fmax(mx, s[j]);
				}
				for (int j = 0; j < n; j++)
					sum += (s[j] = exp(s[j] - mx));
				double *a = att + (((size_t)b * H + h) * T + i) * T;
				for (int j = 0; j < T; j++)
					a[j] = j < n ? s[j] / sum : 0;
				for (int e = 0; e < hd; e++) {
					double y = 0;
					for (int j = 0; j < n; j++)
						y += a[j] * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hd + e];
					out[((size_t)b * T + i) * C + h * hd + e] = y;
				}
			}
	free(s);
}

static void check_attention(int B, int T, int C, int H, int causal)
{
	size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * H * T * T;
	float *qkv = randn(nq, 1), *out = malloc(no * sizeof *out), *out2 = malloc(no * sizeof *out);
	float *att = malloc(na * sizeof *att), *scratch = malloc(3 * (size_t)T * T * sizeof *att);
	double *ref = dalloc(no), *ratt = dalloc(na);
	attention_ref(ref, ratt, qkv, B, T, C, H, causal);
	rc_ops_attention(out, att, qkv, B, T, C, H, causal, NULL, 0);
	char what[64];
	snprintf(what, sizeof what, "attention B%d T%d C%d H%d%s", B, T, C, H, causal ? " causal" : "");
	expect_close(what, out, ref, no, 2e-6, 1e-5);
	expect_close("  probabilities", att, ratt, na, 1e-7, 1e-5);
	/* Without kept probabilities, in per-thread scratch: the same bits. */
	rc_ops_attention(out2, NULL, qkv, B, T, C, H, causal, scratch, 3);
	ck_assert_int_eq(memcmp(out, out2, no * sizeof *out), 0);
	free(qkv), free(out), free(out2), free(att), free(scratch), free(ref), free(ratt);
}

START_TEST(test_attention)
{
	check_attention(1, 1, 4, 1, 1);
	check_attention(2, 7, 12, 3, 0);
	check_attention(2, 7, 12, 3, 1);
	check_attention(3, 13, 15, 5, 1);     /* head_dim 3 */
	check_attention(2, 17, 32, 4, 0);
	check_attention(2, 77, 64, 2, 1);
}
END_TEST

/* ---------------------------------------------------------------- patches */

START_TEST(test_patch_embedding)
{
	/* im2col + matmul is Conv2d(3, C, P, stride P, no bias). */
	const int B = 2, S = 12, P = 4, C = 5, g = S / P, N = g * g, K = 3 * P * P;
	float *px = randn((size_t)B * 3 * S * S, 1), *w = randn((size_t)C * K, 0.2f);
	float *patches = malloc((size_t)B * N * K * sizeof *patches);
	float *out = malloc((size_t)B * N * C * sizeof *out);
	double *ref = dalloc((size_t)B * N * C);
	for (int b = 0; b < B; b++)
		for (int gy = 0; gy < g; gy++)
			for (int gx = 0; gx < g; gx++)
				for (int o = 0; o < C; o++) {
					double s = 0;
					for (int c = 0; c < 3; c++)
						for (int ky = 0; ky < P; ky++)
							for (int kx = 0; kx < P; kx++)
								s += (double)w[((o * 3 + c) * P + ky) * P + kx] *
									px[(((size_t)b * 3 + c) * S + gy * P + ky) * S +
									gx * P + kx];
					ref[((size_t)b * N + gy * g + gx) * C + o] = s;
				}
	rc_ops_im2col(patches, px, B, S, P);
	rc_ops_matmul(out, patches, w, NULL, B * N, K, C);
	expect_close("im2col + matmul = conv", out, ref, (size_t)B * N * C, 1e-5, 1e-5);
	free(px), free(w), free(patches), free(out), free(ref);
}
END_TEST

/* ---------------------------------------------------------------- the rest */

START_TEST(test_l2norm_add_embed)
{
	const int N = 3, D = 17;
	float *x = randn((size_t)N * D, 3), *y = malloc((size_t)N * D * sizeof *y), nrm[3];
	double *ref = dalloc((size_t)N * D), rn[3];
	for (int i = 0; i < N; i++) {
		double s = 0;
		for (int j = 0; j < D; j++)
			s += (double)x[i * D + j] * x[i * D + j];
		rn[i] = sqrt(s);
		for (int j = 0; j < D; j++)
			ref[i * D + j] = x[i * D + j] / rn[i];
	}
	rc_ops_l2norm(y, nrm, x, N, D);
	expect_close("l2norm", y, ref, (size_t)N * D, 1e-7, 1e-6);
	expect_close("  norm", nrm, rn, N, 0, 1e-6);

	float *z = malloc((size_t)N * D * sizeof *z);
	rc_ops_add(z, x, y, (size_t)N * D);
	for (int i = 0; i < N * D; i++)
		ck_assert(z[i] == x[i] + y[i]);

	const int B = 2, T = 3, C = 5, V = 7;
	int32_t ids[6] = { 0, 6, 3, 3, 1, 6 };
	float *wte = randn((size_t)V * C, 1), *wpe = randn((size_t)T * C, 1);
	float *e = malloc((size_t)B * T * C * sizeof *e);
	rc_ops_embed_tokens(e, ids, wte, wpe, B, T, C, V);
	for (int bt = 0; bt < B * T; bt++)
		for (int c = 0; c < C; c++)
			ck_assert(e[bt * C + c] == wte[ids[bt] * C + c] + wpe[(bt % T) * C + c]);
	free(x), free(y), free(ref), free(z), free(wte), free(wpe), free(e);
}
END_TEST

int main(void)
{
	rc_ops_set_threads(0);
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("cpu");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_matmul);
	tcase_add_test(tc, test_layernorm);
	tcase_add_test(tc, test_activations);
	tcase_add_test(tc, test_softmax);
	tcase_add_test(tc, test_attention);
	tcase_add_test(tc, test_patch_embedding);
	tcase_add_test(tc, test_l2norm_add_embed);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
