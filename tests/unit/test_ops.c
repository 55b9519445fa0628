/* test_ops.c - every op of common/model/ops_cpu.c against a plain reference loop
 * in double on small random inputs, odd sizes included, with a tolerance
 * per op (|got - ref| <= atol + rtol·|ref|); the largest differences are
 * printed. Also what the ops promise beyond the numbers: in-place use,
 * exact zeros under the causal mask, the same result with and without
 * kept attention probabilities. Every backward op is checked against
 * central differences of a double forward (the second half), and that
 * it accumulates into its gradient buffers. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/clip_config.h"
#include "model/ops_cpu.h"

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

/* gelu_tanh_ref - PyTorch's gelu(approximate="tanh") in double. */
static double gelu_tanh_ref(double x)
{
	return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

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

	for (size_t i = 0; i < n; i++)
		ref[i] = gelu_tanh_ref(x[i]);
	/* 1 + tanh(u) cancels where tanh is near -1: a tanh within 1 ulp
	 * (SLEEF's, as PyTorch's) leaves up to ½|x|·2⁻²⁴ there, 3e-7 at
	 * |x| = 10 */
	rc_ops_gelu_tanh(y, x, n);
	expect_close("gelu_tanh", y, ref, n, 3e-7, 1e-6);
	ck_assert(y[0] == 0.0f && y[n - 1] == 30.0f);
	rc_ops_act(y, x, n, RC_ACT_GELU_TANH);
	expect_close("act(gelu_tanh)", y, ref, n, 3e-7, 1e-6);

	/* in place, for each: the same bits as out of place */
	for (int act = 0; act < 3; act++) {
		float *z = malloc(n * sizeof *z);
		ck_assert_ptr_nonnull(z);
		memcpy(z, x, n * sizeof *x);
		rc_ops_act(y, x, n, act);
		rc_ops_act(z, z, n, act);
		ck_assert_int_eq(memcmp(z, y, n * sizeof *z), 0);
		free(z);
	}
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

/* ================================================================ backward
 *
 * Every backward op against central differences of a double-precision
 * forward: with f = Σ r·y for the op's output y and random r, the
 * gradient of each input is the op's backward with dout = r. The
 * difference quotient (f(x+h) - f(x-h)) / 2h is taken in double for
 * every element of every input (tiny shapes), so its error (~1e-10) is
 * far below the float backward's; the test bounds the largest
 * |analytic - numeric| relative to the tensor's largest numeric value.
 * Gradient buffers start at PRE, not 0, to check that ops accumulate. */

#define PRE 0.25f

struct fd_ctx {
	int B, T, C, H, N, D, V, OC, S, P;
	int causal, act, bias;
	float eps;
	const float *r;           /* dout */
	const int32_t *ids;       /* tokens, pool positions */
	const float *pixels;
};

typedef double (*fd_fn)(double *const *in, const struct fd_ctx *c);

struct fd_input {
	const char *name;
	const float *x;           /* the point */
	size_t n;
	float *grad;              /* the op's gradient, PRE + ∂f/∂x */
};

static float *prefilled(size_t n)
{
	float *p = malloc(n * sizeof *p);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = PRE;
	return p;
}

/* fd_check - compare every input's gradient with central differences of
 * f; rtol bounds max |analytic - numeric| / max |numeric| per input. */
static void fd_check(const char *op, const struct fd_input *in, int nin, fd_fn f,
	const struct fd_ctx *c, double rtol)
{
	double *d[8];
	ck_assert(nin <= 8);
	for (int k = 0; k < nin; k++) {
		d[k] = dalloc(in[k].n);
		for (size_t i = 0; i < in[k].n; i++)
			d[k][i] = in[k].x[i];
	}
	for (int k = 0; k < nin; k++) {
		double worst = 0, scale = 0;
		size_t at = 0;
		double *num = dalloc(in[k].n);
		for (size_t i = 0; i < in[k].n; i++) {
			double x = d[k][i], h = 1e-5 * fmax(1.0, fabs(x));
			d[k][i] = x + h;
			double fp = f(d, c);
			d[k][i] = x - h;
			double fm = f(d, c);
			d[k][i] = x;
			num[i] = (fp - fm) / (2 * h);
			scale = fmax(scale, fabs(num[i]));
		}
		for (size_t i = 0; i < in[k].n; i++) {
			double g = (double)in[k].grad[i] - PRE, e = fabs(g - num[i]);
			ck_assert_msg(isfinite(g), "%s: d%s[%zu] is %g", op, in[k].name, i, g);
			if (e > worst)
				worst = e, at = i;
		}
		double rel = scale > 0 ? worst / scale : worst;
		fprintf(stderr, "fd %-26s d%-6s n=%-5zu max |grad| %-9.3g rel err %.2e\n", op,
			in[k].name, in[k].n, scale, rel);
		ck_assert_msg(scale > 0, "%s: d%s is zero everywhere: a useless check", op,
			in[k].name);
		ck_assert_msg(rel <= rtol, "%s: d%s[%zu] = %.9g, numeric %.9g (rel err %.3g > %.3g)",
			op, in[k].name, at, in[k].grad[at] - PRE, num[at], rel, rtol);
		free(num);
	}
	for (int k = 0; k < nin; k++)
		free(d[k]);
}

/* ---------------------------------------------------------------- matmul */

static double f_matmul(double *const *in, const struct fd_ctx *c)
{
	const double *x = in[0], *w = in[1], *b = c->bias ? in[2] : NULL;
	double f = 0;
	for (int n = 0; n < c->N; n++)
		for (int o = 0; o < c->OC; o++) {
			double y = b ? b[o] : 0;
			for (int i = 0; i < c->C; i++)
				y += x[n * c->C + i] * w[o * c->C + i];
			f += c->r[n * c->OC + o] * y;
		}
	return f;
}

static void fd_matmul(int N, int C, int OC, int bias)
{
	struct fd_ctx c = { .N = N, .C = C, .OC = OC, .bias = bias };
	float *x = randn((size_t)N * C, 1), *w = randn((size_t)OC * C, 1), *b = randn(OC, 1);
	float *r = randn((size_t)N * OC, 1);
	float *dx = prefilled((size_t)N * C), *dw = prefilled((size_t)OC * C), *db = prefilled(OC);
	c.r = r;
	rc_ops_matmul_backward(dx, dw, bias ? db : NULL, r, x, w, N, C, OC);
	struct fd_input in[3] = { { "inp", x, (size_t)N * C, dx }, { "w", w, (size_t)OC * C, dw },
		{ "bias", b, OC, db } };
	char what[64];
	snprintf(what, sizeof what, "matmul %dx%dx%d%s", N, C, OC, bias ? " +b" : "");
	fd_check(what, in, bias ? 3 : 2, f_matmul, &c, 1e-5);
	/* NULL gradients are skipped; dw alone is the same. */
	float *dw2 = prefilled((size_t)OC * C);
	rc_ops_matmul_backward(NULL, dw2, NULL, r, x, w, N, C, OC);
	ck_assert_int_eq(memcmp(dw, dw2, (size_t)OC * C * sizeof *dw), 0);
	free(x), free(w), free(b), free(r), free(dx), free(dw), free(db), free(dw2);
}

START_TEST(test_fd_matmul)
{
	fd_matmul(1, 1, 1, 1);
	fd_matmul(7, 13, 5, 1);
	fd_matmul(6, 9, 4, 0);
	/* large enough to be split over threads, and bias sums over strips */
	fd_matmul(40, 70, 50, 1);
}
END_TEST

/* ---------------------------------------------------------------- layernorm */

static double f_layernorm(double *const *in, const struct fd_ctx *c)
{
	const double *x = in[0], *w = in[1], *b = in[2];
	double f = 0;
	for (int n = 0; n < c->N; n++) {
		const double *xr = x + (size_t)n * c->C;
		double m = 0, v = 0;
		for (int i = 0; i < c->C; i++)
			m += xr[i];
		m /= c->C;
		for (int i = 0; i < c->C; i++)
			v += (xr[i] - m) * (xr[i] - m);
		double rs = 1 / sqrt(v / c->C + (double)c->eps);
		for (int i = 0; i < c->C; i++)
			f += c->r[n * c->C + i] * ((xr[i] - m) * rs * w[i] + b[i]);
	}
	return f;
}

static void fd_layernorm(int N, int C, float eps)
{
	struct fd_ctx c = { .N = N, .C = C, .eps = eps };
	float *x = randn((size_t)N * C, 2), *w = randn(C, 0.3f), *b = randn(C, 0.1f);
	float *r = randn((size_t)N * C, 1), *y = malloc((size_t)N * C * sizeof *y);
	float *mean = malloc(N * sizeof *mean), *rstd = malloc(N * sizeof *rstd);
	float *dx = prefilled((size_t)N * C), *dw = prefilled(C), *db = prefilled(C);
	for (int i = 0; i < C; i++)
		w[i] += 1;
	c.r = r;
	rc_ops_layernorm(y, mean, rstd, x, w, b, N, C, eps);
	rc_ops_layernorm_backward(dx, dw, db, r, x, w, mean, rstd, N, C);
	struct fd_input in[3] = { { "inp", x, (size_t)N * C, dx }, { "w", w, C, dw },
		{ "b", b, C, db } };
	char what[64];
	snprintf(what, sizeof what, "layernorm %dx%d eps %g", N, C, eps);
	fd_check(what, in, 3, f_layernorm, &c, 2e-5);
	free(x), free(w), free(b), free(r), free(y), free(mean), free(rstd);
	free(dx), free(dw), free(db);
}

START_TEST(test_fd_layernorm)
{
	fd_layernorm(1, 3, 1e-5f);
	fd_layernorm(5, 33, 1e-5f);
	fd_layernorm(9, 24, 1e-6f);
	fd_layernorm(60, 70, 1e-5f);   /* strips of columns over threads */
}
END_TEST

/* ---------------------------------------------------------------- activations */

static double f_act(double *const *in, const struct fd_ctx *c)
{
	double f = 0;
	for (int i = 0; i < c->N; i++) {
		double x = in[0][i];
		double y = c->act == RC_ACT_QUICK_GELU ? x / (1 + exp(-1.702 * x)) :
			c->act == RC_ACT_GELU_TANH ? gelu_tanh_ref(x) :
			0.5 * x * (1 + erf(x / sqrt(2.0)));
		f += c->r[i] * y;
	}
	return f;
}

START_TEST(test_fd_activations)
{
	const int n = 301;
	float *x = malloc(n * sizeof *x), *r = randn(n, 1);
	for (int i = 0; i < n; i++)
		x[i] = -8.0f + 16.0f * i / (n - 1) + 0.01f * normal();
	x[0] = -40, x[1] = 40;   /* saturated: σ(1.702x) under- and overflows */
	static const char *const name[] = { "quick_gelu", "gelu", "gelu_tanh" };
	for (int act = 0; act < 3; act++) {
		struct fd_ctx c = { .N = n, .act = act, .r = r };
		float *dx = prefilled(n), *dx2 = prefilled(n);
		if (act == RC_ACT_QUICK_GELU)
			rc_ops_quick_gelu_backward(dx, x, r, n);
		else if (act == RC_ACT_GELU_TANH)
			rc_ops_gelu_tanh_backward(dx, x, r, n);
		else
			rc_ops_gelu_backward(dx, x, r, n);
		rc_ops_act_backward(dx2, x, r, n, act);
		ck_assert_int_eq(memcmp(dx, dx2, n * sizeof *dx), 0);
		struct fd_input in[1] = { { "inp", x, n, dx } };
		fd_check(name[act], in, 1, f_act, &c, 1e-5);
		free(dx), free(dx2);
	}
	free(x), free(r);
}
END_TEST

/* ---------------------------------------------------------------- softmax, attention */

static double f_softmax(double *const *in, const struct fd_ctx *c)
{
	double f = 0;
	for (int i = 0; i < c->N; i++) {
		const double *x = in[0] + (size_t)i * c->C;
		int n = c->causal ? i % c->C + 1 : c->C;
		double mx = -INFINITY, s = 0;
		for (int j = 0; j < n; j++)
			mx = fmax(mx, x[j]);
		for (int j = 0; j < n; j++)
			s += exp(x[j] - mx);
		for (int j = 0; j < n; j++)
			f += c->r[i * c->C + j] * exp(x[j] - mx) / s;
	}
	return f;
}

START_TEST(test_fd_softmax)
{
	const int N = 14, C = 7;
	float *x = randn((size_t)N * C, 2), *y = malloc((size_t)N * C * sizeof *y);
	float *r = randn((size_t)N * C, 1);
	for (int causal = 0; causal < 2; causal++) {
		struct fd_ctx c = { .N = N, .C = C, .causal = causal, .r = r };
		float *dx = prefilled((size_t)N * C);
		rc_ops_softmax(y, x, N, C, causal);
		rc_ops_softmax_backward(dx, r, y, N, C, causal);
		/* masked entries get nothing */
		for (int i = 0; causal && i < N; i++)
			for (int j = i % C + 1; j < C; j++)
				ck_assert(dx[i * C + j] == PRE);
		struct fd_input in[1] = { { "inp", x, (size_t)N * C, dx } };
		fd_check(causal ? "softmax causal" : "softmax", in, 1, f_softmax, &c, 1e-5);
		free(dx);
	}
	free(x), free(y), free(r);
}
END_TEST

static double f_attention(double *const *in, const struct fd_ctx *c)
{
	const int B = c->B, T = c->T, C = c->C, H = c->H;
	/* attention_ref above takes float input: the same in double */
	const int hd = C / H;
	const double scale = 1 / sqrt(hd);
	double f = 0, *s = dalloc(T);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < H; h++)
			for (int i = 0; i < T; i++) {
				const double *q = in[0] + ((size_t)b * T + i) * 3 * C + h * hd;
				const double *kv = in[0] + (size_t)b * T * 3 * C + C + h * hd;
				int n = c->causal ? i + 1 : T;
				double mx = -INFINITY, sum = 0;
				for (int j = 0; j < n; j++) {
					const double *k = kv + (size_t)j * 3 * C;
					double d = 0;
					for (int e = 0; e < hd; e++)
						d += q[e] * k[e];
					s[j] = d * scale;
					mx = fmax(mx, s[j]);
				}
				for (int j = 0; j < n; j++)
					sum += (s[j] = exp(s[j] - mx));
				for (int e = 0; e < hd; e++) {
					double y = 0;
					for (int j = 0; j < n; j++)
						y += s[j] / sum * kv[(size_t)j * 3 * C + C + e];
					f += c->r[((size_t)b * T + i) * C + h * hd + e] * y;
				}
			}
	free(s);
	return f;
}

static void fd_attention(int B, int T, int C, int H, int causal)
{
	struct fd_ctx c = { .B = B, .T = T, .C = C, .H = H, .causal = causal };
	size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * H * T * T;
	float *qkv = randn(nq, 1), *r = randn(no, 1), *out = malloc(no * sizeof *out);
	float *att = malloc(na * sizeof *att), *scratch = malloc(4 * (size_t)T * T * sizeof *att);
	float *dqkv = prefilled(nq);
	c.r = r;
	rc_ops_attention(out, att, qkv, B, T, C, H, causal, NULL, 0);
	rc_ops_attention_backward(dqkv, r, qkv, att, B, T, C, H, causal, scratch, 4);
	struct fd_input in[1] = { { "qkv", qkv, nq, dqkv } };
	char what[64];
	snprintf(what, sizeof what, "attention B%d T%d C%d H%d%s", B, T, C, H,
		causal ? " causal" : "");
	fd_check(what, in, 1, f_attention, &c, 2e-5);
	/* one thread of scratch: the same bits */
	float *dqkv1 = prefilled(nq);
	rc_ops_attention_backward(dqkv1, r, qkv, att, B, T, C, H, causal, scratch, 1);
	ck_assert_int_eq(memcmp(dqkv, dqkv1, nq * sizeof *dqkv), 0);
	free(qkv), free(r), free(out), free(att), free(scratch), free(dqkv), free(dqkv1);
}

START_TEST(test_fd_attention)
{
	fd_attention(1, 1, 4, 1, 1);
	fd_attention(2, 5, 12, 3, 0);
	fd_attention(2, 5, 12, 3, 1);
	fd_attention(2, 6, 9, 3, 1);     /* head_dim 3 */
	fd_attention(3, 9, 16, 2, 0);
	fd_attention(1, 17, 8, 2, 1);
}
END_TEST

/* ---------------------------------------------------------------- the rest */

static double f_add(double *const *in, const struct fd_ctx *c)
{
	double f = 0;
	for (int i = 0; i < c->N; i++)
		f += c->r[i] * (in[0][i] + in[1][i]);
	return f;
}

/* conv_at - one output of Conv2d(3, C, P, stride P) for filter w[3,P,P]
 * at patch (gy, gx) of image b of pixels[B,3,S,S]. */
static double conv_at(const double *w, const float *pixels, int b, int gy, int gx, int S, int P)
{
	double y = 0;
	for (int ch = 0; ch < 3; ch++)
		for (int ky = 0; ky < P; ky++) {
			const float *row = pixels + (((size_t)b * 3 + ch) * S + gy * P + ky) * S + gx * P;
			for (int kx = 0; kx < P; kx++)
				y += w[(ch * P + ky) * P + kx] * row[kx];
		}
	return y;
}

/* The vision embeddings: conv (im2col + matmul, no bias) of fixed
 * pixels, the class token in front, positions added. */
static double f_vision_embed(double *const *in, const struct fd_ctx *c)
{
	const double *w = in[0], *cls = in[1], *pos = in[2];
	const int B = c->B, C = c->C, S = c->S, P = c->P, g = S / P, T = g * g + 1;
	double f = 0;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int o = 0; o < C; o++) {
				double y = pos[t * C + o];
				if (t == 0) {
					y += cls[o];
				} else {
					int gy = (t - 1) / g, gx = (t - 1) % g;
					y += conv_at(w + (size_t)o * 3 * P * P, c->pixels, b, gy,
						gx, S, P);
				}
				f += c->r[((size_t)b * T + t) * C + o] * y;
			}
	return f;
}

static double f_embed_tokens(double *const *in, const struct fd_ctx *c)
{
	double f = 0;
	for (int bt = 0; bt < c->B * c->T; bt++)
		for (int i = 0; i < c->C; i++)
			f += c->r[bt * c->C + i] *
				(in[0][c->ids[bt] * c->C + i] + in[1][(bt % c->T) * c->C + i]);
	return f;
}

static double f_l2norm(double *const *in, const struct fd_ctx *c)
{
	double f = 0;
	for (int n = 0; n < c->N; n++) {
		const double *x = in[0] + (size_t)n * c->D;
		double s = 0;
		for (int j = 0; j < c->D; j++)
			s += x[j] * x[j];
		for (int j = 0; j < c->D; j++)
			f += c->r[n * c->D + j] * x[j] / sqrt(s);
	}
	return f;
}

static double f_pool(double *const *in, const struct fd_ctx *c)
{
	double f = 0;
	for (int b = 0; b < c->B; b++)
		for (int i = 0; i < c->C; i++)
			f += c->r[b * c->C + i] *
				in[0][((size_t)b * c->T + (c->ids ? c->ids[b] : 0)) * c->C + i];
	return f;
}

START_TEST(test_fd_add_embed_norm_pool)
{
	/* residual */
	{
		const int n = 37;
		float *a = randn(n, 1), *b = randn(n, 1), *r = randn(n, 1);
		float *da = prefilled(n), *db = prefilled(n), *dn = prefilled(n);
		struct fd_ctx c = { .N = n, .r = r };
		rc_ops_add_backward(da, db, r, n);
		rc_ops_add_backward(NULL, dn, r, n);
		ck_assert_int_eq(memcmp(db, dn, n * sizeof *db), 0);
		struct fd_input in[2] = { { "a", a, n, da }, { "b", b, n, db } };
		fd_check("add (residual)", in, 2, f_add, &c, 1e-6);
		free(a), free(b), free(r), free(da), free(db), free(dn);
	}
	/* vision embeddings: patches, class token, positions, conv weight */
	for (int big = 0; big < 2; big++) {
		const int B = 2, S = big ? 32 : 12, P = 4, C = big ? 40 : 5, g = S / P, N = g * g;
		const int T = N + 1, K = 3 * P * P;
		float *px = randn((size_t)B * 3 * S * S, 1), *w = randn((size_t)C * K, 0.2f);
		float *cls = randn(C, 1), *pos = randn((size_t)T * C, 1);
		float *r = randn((size_t)B * T * C, 1);
		float *patches = malloc((size_t)B * N * K * sizeof *patches);
		float *dpatch = calloc((size_t)B * N * C, sizeof *dpatch);
		float *dw = prefilled((size_t)C * K), *dcls = prefilled(C);
		float *dpos = prefilled((size_t)T * C);
		struct fd_ctx c = { .B = B, .C = C, .S = S, .P = P, .r = r, .pixels = px };
		rc_ops_im2col(patches, px, B, S, P);
		rc_ops_embed_patches_backward(dpatch, dcls, dpos, r, B, T, C);
		rc_ops_matmul_backward(NULL, dw, NULL, dpatch, patches, w, B * N, K, C);
		struct fd_input in[3] = { { "conv_w", w, (size_t)C * K, dw },
			{ "cls", cls, C, dcls }, { "pos", pos, (size_t)T * C, dpos } };
		fd_check(big ? "vision embeddings 32/4 C40" : "vision embeddings 12/4 C5", in, 3,
			f_vision_embed, &c, 1e-5);
		free(px), free(w), free(cls), free(pos), free(r), free(patches), free(dpatch);
		free(dw), free(dcls), free(dpos);
	}
	/* token + position embeddings, repeated ids */
	for (int big = 0; big < 2; big++) {
		const int B = 3, T = big ? 20 : 4, C = big ? 70 : 5, V = 9;
		int32_t *ids = malloc((size_t)B * T * sizeof *ids);
		for (int i = 0; i < B * T; i++)
			ids[i] = (int32_t)(uniform() * V) % V;
		ids[0] = ids[1] = ids[B * T - 1] = 4;
		float *wte = randn((size_t)V * C, 1), *wpe = randn((size_t)T * C, 1);
		float *r = randn((size_t)B * T * C, 1);
		float *dwte = prefilled((size_t)V * C), *dwpe = prefilled((size_t)T * C);
		struct fd_ctx c = { .B = B, .T = T, .C = C, .V = V, .r = r, .ids = ids };
		rc_ops_embed_tokens_backward(dwte, dwpe, r, ids, B, T, C);
		struct fd_input in[2] = { { "wte", wte, (size_t)V * C, dwte },
			{ "wpe", wpe, (size_t)T * C, dwpe } };
		fd_check(big ? "embed tokens B3 T20 C70" : "embed tokens B3 T4 C5", in, 2,
			f_embed_tokens, &c, 1e-5);
		free(ids), free(wte), free(wpe), free(r), free(dwte), free(dwpe);
	}
	/* L2 normalisation */
	{
		const int N = 4, D = 13;
		float *x = randn((size_t)N * D, 2), *y = malloc((size_t)N * D * sizeof *y), nrm[4];
		float *r = randn((size_t)N * D, 1), *dx = prefilled((size_t)N * D);
		struct fd_ctx c = { .N = N, .D = D, .r = r };
		rc_ops_l2norm(y, nrm, x, N, D);
		rc_ops_l2norm_backward(dx, r, y, nrm, N, D);
		struct fd_input in[1] = { { "inp", x, (size_t)N * D, dx } };
		fd_check("l2norm", in, 1, f_l2norm, &c, 1e-5);
		free(x), free(y), free(r), free(dx);
	}
	/* pooling: at given positions (text) and at 0 (class token) */
	for (int cls = 0; cls < 2; cls++) {
		const int B = 3, T = 6, C = 4;
		int32_t idx[3] = { 5, 0, 2 };
		float *x = randn((size_t)B * T * C, 1), *r = randn((size_t)B * C, 1);
		float *dx = prefilled((size_t)B * T * C);
		struct fd_ctx c = { .B = B, .T = T, .C = C, .r = r, .ids = cls ? NULL : idx };
		rc_ops_pool_backward(dx, r, cls ? NULL : idx, B, T, C);
		struct fd_input in[1] = { { "x", x, (size_t)B * T * C, dx } };
		fd_check(cls ? "pool (class token)" : "pool (positions)", in, 1, f_pool, &c, 1e-6);
		free(x), free(r), free(dx);
	}
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
	tcase_add_test(tc, test_fd_matmul);
	tcase_add_test(tc, test_fd_layernorm);
	tcase_add_test(tc, test_fd_activations);
	tcase_add_test(tc, test_fd_softmax);
	tcase_add_test(tc, test_fd_attention);
	tcase_add_test(tc, test_fd_add_embed_norm_pool);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
