/* ops_cpu.c - fp32 transformer ops on OpenBLAS and OpenMP (ops_cpu.h).
 * Linear layers and the two products of attention are sgemm calls; the
 * elementwise and row ops are loops split over rows by OpenMP. */
#include "model/ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/clip_config.h"
#include "model/vmath.h"
#include "base/log.h"
#include "base/thread.h"

/* OpenBLAS runs single-threaded: every op is split by OpenMP. Two thread
 * pools on the same cores (OpenBLAS's pthreads and OpenMP's) spin while
 * the other works; measured, that costs 25-40 % of a forward pass. */
static void blas_serial(void)
{
	static int done;
	if (!done) {
		openblas_set_num_threads(1);
		done = 1;
	}
}

int rc_ops_set_threads(int n)
{
	blas_serial();
	return rc_thread_set(n);
}

/* ---------------------------------------------------------------- linear */

/* grid - split an N×OC output among nt threads as tr row blocks × tc
 * column blocks (tr·tc = nt) that minimise what each thread packs: its
 * N/tr input rows and OC/tc weight rows, C floats each. */
static void grid(int N, int OC, int nt, int *tr, int *tc)
{
	double best = -1;
	for (int r = 1; r <= nt; r++) {
		if (nt % r)
			continue;
		int c = nt / r;
		if (r > N || c > OC)
			continue;
		double cost = (double)(N + r - 1) / r + (double)(OC + c - 1) / c;
		if (best < 0 || cost < best)
			best = cost, *tr = r, *tc = c;
	}
	if (best < 0)
		*tr = 1, *tc = 1;
}

void rc_ops_matmul(float *out, const float *inp, const float *w, const float *bias,
	int N, int C, int OC)
{
	rc_assert(N > 0 && C > 0 && OC > 0);
	blas_serial();
	/* Small products are not worth waking the threads. */
	int nt = (double)N * C * OC < 1 << 18 ? 1 : rc_thread_max(), tr, tc;
	grid(N, OC, nt, &tr, &tc);
	#pragma omp parallel for schedule(static, 1) num_threads(tr * tc)
	for (int t = 0; t < tr * tc; t++) {
		size_t r0, r1, c0, c1;
		rc_thread_chunk((size_t)N, tr, t / tc, &r0, &r1);
		rc_thread_chunk((size_t)OC, tc, t % tc, &c0, &c1);
		if (r0 == r1 || c0 == c1)
			continue;
		float *o = out + r0 * OC + c0;
		if (bias) {
			/* torch.addmm: the output starts as the bias, gemm adds. */
			for (size_t i = r0; i < r1; i++)
				memcpy(out + i * OC + c0, bias + c0, (c1 - c0) * sizeof *out);
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)(c1 - c0),
			C, 1.0f, inp + r0 * C, C, w + c0 * C, C, bias ? 1.0f : 0.0f, o, OC);
	}
}

/* ---------------------------------------------------------------- layernorm */

void rc_ops_layernorm(float *out, float *mean, float *rstd, const float *inp,
	const float *w, const float *b, int N, int C, float eps)
{
	rc_assert(N > 0 && C > 0);
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (size_t)i * C;
		float *y = out + (size_t)i * C;
		double s = 0, v = 0;
		for (int c = 0; c < C; c++)
			s += x[c];
		float m = (float)(s / C);
		for (int c = 0; c < C; c++) {
			double d = (double)x[c] - (double)m;
			v += d * d;
		}
		float var = (float)(v / C);
		float r = 1.0f / sqrtf(var + eps);
		float nb = -m * r;
		for (int c = 0; c < C; c++)
			y[c] = (x[c] * r + nb) * w[c] + b[c];
		if (mean)
			mean[i] = m;
		if (rstd)
			rstd[i] = r;
	}
}

/* ---------------------------------------------------------------- activations */

/* The activations run in blocks of VBLOCK values: the exp or tanh of a
 * block on vectors (vmath.h), the arithmetic around it in loops. */
#define VBLOCK 512

static size_t block_len(size_t b, size_t n)
{
	return n - b < VBLOCK ? n - b : VBLOCK;
}

/* exp_neg1702 - e[i] = exp(-(1.702·x[i])) for i < m: quick_gelu's
 * sigmoid is 1/(1 + e). */
static void exp_neg1702(float *e, const float *x, size_t m)
{
	for (size_t i = 0; i < m; i++)
		e[i] = -(1.702f * x[i]);
	rc_vexp(e, e, m);
}

void rc_ops_quick_gelu(float *out, const float *inp, size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t b = 0; b < n; b += VBLOCK) {
		const size_t m = block_len(b, n);
		const float *x = inp + b;
		float e[VBLOCK];
		exp_neg1702(e, x, m);
		for (size_t i = 0; i < m; i++)
			out[b + i] = x[i] * (1.0f / (1.0f + e[i]));
	}
}

void rc_ops_gelu(float *out, const float *inp, size_t n)
{
	const float a = (float)M_SQRT1_2;
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		float x = inp[i];
		out[i] = x * 0.5f * (1.0f + erff(x * a));
	}
}

/* PyTorch's constants of gelu(approximate="tanh"): √2·(2/√π)·½ = √(2/π). */
#define GELU_TANH_BETA ((float)(M_SQRT2 * M_2_SQRTPI * 0.5))
#define GELU_TANH_KAPPA 0.044715f

void rc_ops_gelu_tanh(float *out, const float *inp, size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t b = 0; b < n; b += VBLOCK) {
		const size_t m = block_len(b, n);
		const float *x = inp + b;
		float th[VBLOCK];
		for (size_t i = 0; i < m; i++)
			th[i] = GELU_TANH_BETA * (x[i] + GELU_TANH_KAPPA * (x[i] * x[i] * x[i]));
		rc_vtanh(th, th, m);
		for (size_t i = 0; i < m; i++)
			out[b + i] = 0.5f * x[i] * (1.0f + th[i]);
	}
}

void rc_ops_act(float *out, const float *inp, size_t n, int act)
{
	if (act == RC_ACT_QUICK_GELU)
		rc_ops_quick_gelu(out, inp, n);
	else if (act == RC_ACT_GELU_TANH)
		rc_ops_gelu_tanh(out, inp, n);
	else
		rc_ops_gelu(out, inp, n);
}

/* ---------------------------------------------------------------- softmax */

/* softmax_row - y[0..n) = softmax(x[0..n)), y[n..C) = 0; y may be x. */
static void softmax_row(float *y, const float *x, int n, int C)
{
	const float mx = rc_vmax(x, (size_t)n);
	const float inv = (float)(1.0 / rc_vexp_sum(y, x, mx, (size_t)n));
	for (int j = 0; j < n; j++)
		y[j] *= inv;
	for (int j = n; j < C; j++)
		y[j] = 0.0f;
}

void rc_ops_softmax(float *out, const float *inp, int N, int C, int causal)
{
	rc_assert(N > 0 && C > 0);
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++)
		softmax_row(out + (size_t)i * C, inp + (size_t)i * C, causal ? i % C + 1 : C, C);
}

/* ---------------------------------------------------------------- attention */

void rc_ops_attention(float *out, float *att, const float *qkv, int B, int T, int C, int H,
	int causal, float *scratch, int nscratch)
{
	rc_assert(B > 0 && T > 0 && H > 0 && C % H == 0);
	rc_assert(att || (scratch && nscratch > 0));
	const int hd = C / H, C3 = 3 * C;
	/* HF: scale = head_dim ** -0.5 in Python (double), used as a float. */
	const float scale = (float)pow((double)hd, -0.5);
	int nthreads = att ? rc_thread_max() : nscratch;
	blas_serial();
	/* One (b, h) pair per thread at a time. */
	#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
	for (int bh = 0; bh < B * H; bh++) {
		int b = bh / H, h = bh % H;
		const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hd;
		const float *k = q + C, *v = q + 2 * C;
		float *a = att ? att + (size_t)bh * T * T : scratch + (size_t)rc_thread_id() * T * T;
		/* scores[T,T] = scale · q[T,hd] · k[T,hd]ᵀ, rows of stride 3C */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q, C3, k, C3,
			0.0f, a, T);
		for (int i = 0; i < T; i++)
			softmax_row(a + (size_t)i * T, a + (size_t)i * T, causal ? i + 1 : T, T);
		/* out[T, hd] (row stride C) = probs[T,T] · v[T,hd] */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, a, T, v, C3,
			0.0f, out + (size_t)b * T * C + (size_t)h * hd, C);
	}
}

/* ---------------------------------------------------------------- the rest */

void rc_ops_add(float *out, const float *a, const float *b, size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void rc_ops_im2col(float *patches, const float *pixels, int B, int S, int P)
{
	rc_assert(B > 0 && P > 0 && S >= P);
	const int g = S / P, K = 3 * P * P;   /* a remainder is left out, as a Conv2d */
	#pragma omp parallel for schedule(static)
	for (int bp = 0; bp < B * g * g; bp++) {
		int b = bp / (g * g), gy = bp % (g * g) / g, gx = bp % g;
		float *row = patches + (size_t)bp * K;
		for (int c = 0; c < 3; c++) {
			const float *img = pixels + ((size_t)b * 3 + c) * S * S;
			for (int ky = 0; ky < P; ky++)
				memcpy(row + (c * P + ky) * P,
					img + (size_t)(gy * P + ky) * S + (size_t)gx * P,
					(size_t)P * sizeof *row);
		}
	}
}

void rc_ops_l2norm(float *out, float *norm, const float *inp, int N, int D)
{
	rc_assert(N > 0 && D > 0);
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (size_t)i * D;
		double s = 0;
		for (int j = 0; j < D; j++)
			s += (double)x[j] * x[j];
		float nrm = sqrtf((float)s);
		for (int j = 0; j < D; j++)
			out[(size_t)i * D + j] = x[j] / nrm;
		if (norm)
			norm[i] = nrm;
	}
}

void rc_ops_embed_tokens(float *out, const int32_t *ids, const float *wte, const float *wpe,
	int B, int T, int C, int V)
{
	#pragma omp parallel for schedule(static)
	for (int bt = 0; bt < B * T; bt++) {
		int id = ids[bt];
		rc_assert(id >= 0 && id < V);
		const float *e = wte + (size_t)id * C, *p = wpe + (size_t)(bt % T) * C;
		float *y = out + (size_t)bt * C;
		for (int c = 0; c < C; c++)
			y[c] = e[c] + p[c];
	}
}

/* ================================================================ backward */

/* Reductions over rows (bias and layernorm weight gradients, batch sums)
 * run over strips of COLS columns, one strip per thread at a time, with
 * double accumulators on the stack: no two threads write one float and
 * the sums do not depend on the thread count. */
#define COLS 64

static int min_int(int a, int b)
{
	return a < b ? a : b;
}

/* colsum_add - acc[C] += Σ_i x[i,C] over N rows. */
static void colsum_add(float *acc, const float *x, int N, int C)
{
	const int nstrips = (C + COLS - 1) / COLS;
	#pragma omp parallel for schedule(static) if ((double)N * C > 1 << 14)
	for (int k = 0; k < nstrips; k++) {
		const int c0 = k * COLS, n = min_int(COLS, C - c0);
		double s[COLS] = { 0 };
		for (int i = 0; i < N; i++) {
			const float *row = x + (size_t)i * C + c0;
			for (int c = 0; c < n; c++)
				s[c] += row[c];
		}
		for (int c = 0; c < n; c++)
			acc[c0 + c] += (float)s[c];
	}
}

/* ---------------------------------------------------------------- linear */

void rc_ops_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
	const float *inp, const float *w, int N, int C, int OC)
{
	rc_assert(N > 0 && C > 0 && OC > 0);
	blas_serial();
	const int nt = (double)N * C * OC < 1 << 18 ? 1 : rc_thread_max();
	int tr, tc;
	if (dinp) {
		/* dinp[N,C] += dout[N,OC] · w[OC,C]: blocks of rows × columns */
		grid(N, C, nt, &tr, &tc);
		#pragma omp parallel for schedule(static, 1) num_threads(tr * tc)
		for (int t = 0; t < tr * tc; t++) {
			size_t r0, r1, c0, c1;
			rc_thread_chunk((size_t)N, tr, t / tc, &r0, &r1);
			rc_thread_chunk((size_t)C, tc, t % tc, &c0, &c1);
			if (r0 == r1 || c0 == c1)
				continue;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0),
				(int)(c1 - c0), OC, 1.0f, dout + r0 * OC, OC, w + c0, C, 1.0f,
				dinp + r0 * C + c0, C);
		}
	}
	if (dw) {
		/* dw[OC,C] += dout[N,OC]ᵀ · inp[N,C]: blocks of output rows ×
		 * columns, each a full sum over the N rows (no reduction
		 * between threads). */
		grid(OC, C, nt, &tr, &tc);
		#pragma omp parallel for schedule(static, 1) num_threads(tr * tc)
		for (int t = 0; t < tr * tc; t++) {
			size_t o0, o1, c0, c1;
			rc_thread_chunk((size_t)OC, tr, t / tc, &o0, &o1);
			rc_thread_chunk((size_t)C, tc, t % tc, &c0, &c1);
			if (o0 == o1 || c0 == c1)
				continue;
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(o1 - o0),
				(int)(c1 - c0), N, 1.0f, dout + o0, OC, inp + c0, C, 1.0f,
				dw + o0 * C + c0, C);
		}
	}
	if (dbias)
		colsum_add(dbias, dout, N, OC);
}

/* ---------------------------------------------------------------- layernorm */

void rc_ops_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
	const float *inp, const float *w, const float *mean, const float *rstd, int N, int C)
{
	rc_assert(N > 0 && C > 0);
	/* dinp per row: two reductions (mean of g = w·dout, mean of g·n), then
	 * the three terms. */
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
		float *dx = dinp + (size_t)i * C;
		const float m = mean[i], r = rstd[i];
		double sg = 0, sgn = 0;
		for (int c = 0; c < C; c++) {
			float g = w[c] * dy[c];
			sg += g;
			sgn += (double)g * ((x[c] - m) * r);
		}
		const float mg = (float)(sg / C), mgn = (float)(sgn / C);
		for (int c = 0; c < C; c++)
			dx[c] += r * (w[c] * dy[c] - mg - (x[c] - m) * r * mgn);
	}
	if (!dw && !db)
		return;
	/* dw and db: sums over rows, by strips of columns. */
	const int nstrips = (C + COLS - 1) / COLS;
	#pragma omp parallel for schedule(static) if ((double)N * C > 1 << 14)
	for (int k = 0; k < nstrips; k++) {
		const int c0 = k * COLS, n = min_int(COLS, C - c0);
		double sw[COLS] = { 0 }, sb[COLS] = { 0 };
		for (int i = 0; i < N; i++) {
			const float *x = inp + (size_t)i * C + c0, *dy = dout + (size_t)i * C + c0;
			const float m = mean[i], r = rstd[i];
			for (int c = 0; c < n; c++) {
				sw[c] += (double)((x[c] - m) * r) * dy[c];
				sb[c] += dy[c];
			}
		}
		for (int c = 0; c < n; c++) {
			if (dw)
				dw[c0 + c] += (float)sw[c];
			if (db)
				db[c0 + c] += (float)sb[c];
		}
	}
}

/* ---------------------------------------------------------------- activations */

void rc_ops_quick_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t b = 0; b < n; b += VBLOCK) {
		const size_t m = block_len(b, n);
		const float *x = inp + b;
		float e[VBLOCK];
		exp_neg1702(e, x, m);
		for (size_t i = 0; i < m; i++) {
			float sg = 1.0f / (1.0f + e[i]);
			dinp[b + i] += dout[b + i] * (sg + 1.702f * x[i] * sg * (1.0f - sg));
		}
	}
}

void rc_ops_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	/* Φ(x) = ½(1 + erf(x/√2)), φ(x) = exp(-x²/2)/√(2π) */
	const float a = (float)M_SQRT1_2, k = (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		float x = inp[i];
		float cdf = 0.5f * (1.0f + erff(x * a)), pdf = k * expf(-0.5f * x * x);
		dinp[i] += dout[i] * (cdf + x * pdf);
	}
}

void rc_ops_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t b = 0; b < n; b += VBLOCK) {
		const size_t m = block_len(b, n);
		const float *x = inp + b;
		float th[VBLOCK];
		for (size_t i = 0; i < m; i++)
			th[i] = GELU_TANH_BETA * (x[i] + GELU_TANH_KAPPA * (x[i] * x[i]) * x[i]);
		rc_vtanh(th, th, m);
		for (size_t i = 0; i < m; i++) {
			float x2 = x[i] * x[i], left = 0.5f * x[i], dleft = 0.5f * (1.0f + th[i]);
			float dright = left * (1.0f - th[i] * th[i]) * GELU_TANH_BETA *
				(1.0f + 3.0f * GELU_TANH_KAPPA * x2);
			dinp[b + i] += dout[b + i] * (dleft + dright);
		}
	}
}

void rc_ops_act_backward(float *dinp, const float *inp, const float *dout, size_t n, int act)
{
	if (act == RC_ACT_QUICK_GELU)
		rc_ops_quick_gelu_backward(dinp, inp, dout, n);
	else if (act == RC_ACT_GELU_TANH)
		rc_ops_gelu_tanh_backward(dinp, inp, dout, n);
	else
		rc_ops_gelu_backward(dinp, inp, dout, n);
}

/* ---------------------------------------------------------------- softmax */

/* dot - Σ y·dy over n values, in double. */
static double dot(const float *y, const float *dy, int n)
{
	double s = 0;
	for (int j = 0; j < n; j++)
		s += (double)y[j] * dy[j];
	return s;
}

void rc_ops_softmax_backward(float *dinp, const float *dout, const float *out, int N, int C,
	int causal)
{
	rc_assert(N > 0 && C > 0);
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		const size_t o = (size_t)i * C;
		const int n = causal ? i % C + 1 : C;
		const float s = (float)dot(out + o, dout + o, n);
		for (int j = 0; j < n; j++)
			dinp[o + j] += out[o + j] * (dout[o + j] - s);
	}
}

/* ---------------------------------------------------------------- attention */

void rc_ops_attention_backward(float *dqkv, const float *dout, const float *qkv,
	const float *att, int B, int T, int C, int H, int causal, float *scratch, int nscratch)
{
	rc_assert(B > 0 && T > 0 && H > 0 && C % H == 0 && scratch && nscratch > 0);
	const int hd = C / H, C3 = 3 * C;
	const float scale = (float)pow((double)hd, -0.5);   /* as the forward */
	const int nthreads = min_int(nscratch, rc_thread_max());
	blas_serial();
	/* One (b, h) pair per thread at a time; pairs write disjoint columns
	 * of dqkv. */
	#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
	for (int bh = 0; bh < B * H; bh++) {
		const int b = bh / H, h = bh % H;
		const size_t row0 = (size_t)b * T * C3 + (size_t)h * hd;
		const float *q = qkv + row0, *k = q + C, *v = q + 2 * C;
		float *dq = dqkv + row0, *dk = dq + C, *dv = dq + 2 * C;
		const float *dy = dout + (size_t)b * T * C + (size_t)h * hd;
		const float *a = att + (size_t)bh * T * T;
		float *d = scratch + (size_t)rc_thread_id() * T * T;
		/* datt[T,T] = dy[T,hd] · v[T,hd]ᵀ; dv[T,hd] += attᵀ · dy */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dy, C, v, C3,
			0.0f, d, T);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, a, T, dy, C,
			1.0f, dv, C3);
		/* softmax backward in place: d = att·(datt - Σ att·datt); masked
		 * scores (att exactly 0) get 0. */
		for (int i = 0; i < T; i++) {
			float *di = d + (size_t)i * T;
			const float *ai = a + (size_t)i * T;
			const int n = causal ? i + 1 : T;
			const float s = (float)dot(ai, di, n);
			for (int j = 0; j < n; j++)
				di[j] = ai[j] * (di[j] - s);
			for (int j = n; j < T; j++)
				di[j] = 0.0f;
		}
		/* scores = scale · q·kᵀ: dq += scale · d · k, dk += scale · dᵀ · q */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, d, T, k, C3,
			1.0f, dq, C3);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, d, T, q, C3,
			1.0f, dk, C3);
	}
}

/* ---------------------------------------------------------------- the rest */

void rc_ops_add_backward(float *da, float *db, const float *dout, size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		if (da)
			da[i] += dout[i];
		if (db)
			db[i] += dout[i];
	}
}

void rc_ops_embed_patches_backward(float *dpatch, float *dcls, float *dpos, const float *dembed,
	int B, int T, int C)
{
	rc_assert(B > 0 && T > 1 && C > 0);
	const int nstrips = (C + COLS - 1) / COLS, N = T - 1;
	/* One (position, strip) pair per iteration: the batch sum of that
	 * position goes to dpos (and dcls at 0), its rows to dpatch. */
	#pragma omp parallel for schedule(static) if ((double)B * T * C > 1 << 14)
	for (int tk = 0; tk < T * nstrips; tk++) {
		const int t = tk / nstrips, c0 = tk % nstrips * COLS, n = min_int(COLS, C - c0);
		double s[COLS] = { 0 };
		for (int b = 0; b < B; b++) {
			const float *g = dembed + ((size_t)b * T + t) * C + c0;
			for (int c = 0; c < n; c++)
				s[c] += g[c];
			if (t > 0 && dpatch) {
				float *dp = dpatch + ((size_t)b * N + t - 1) * C + c0;
				for (int c = 0; c < n; c++)
					dp[c] += g[c];
			}
		}
		for (int c = 0; c < n; c++) {
			if (dpos)
				dpos[(size_t)t * C + c0 + c] += (float)s[c];
			if (t == 0 && dcls)
				dcls[c0 + c] += (float)s[c];
		}
	}
}

void rc_ops_embed_tokens_backward(float *dwte, float *dwpe, const float *dout,
	const int32_t *ids, int B, int T, int C)
{
	rc_assert(B > 0 && T > 0 && C > 0);
	const int nstrips = (C + COLS - 1) / COLS;
	#pragma omp parallel for schedule(static) if ((double)B * T * C > 1 << 14)
	for (int k = 0; k < nstrips; k++) {
		const int c0 = k * COLS, n = min_int(COLS, C - c0);
		/* scatter-add in token order: a strip of every row */
		for (int bt = 0; dwte && bt < B * T; bt++) {
			float *e = dwte + (size_t)ids[bt] * C + c0;
			const float *g = dout + (size_t)bt * C + c0;
			for (int c = 0; c < n; c++)
				e[c] += g[c];
		}
		for (int t = 0; dwpe && t < T; t++) {
			double s[COLS] = { 0 };
			for (int b = 0; b < B; b++) {
				const float *g = dout + ((size_t)b * T + t) * C + c0;
				for (int c = 0; c < n; c++)
					s[c] += g[c];
			}
			for (int c = 0; c < n; c++)
				dwpe[(size_t)t * C + c0 + c] += (float)s[c];
		}
	}
}

void rc_ops_l2norm_backward(float *dinp, const float *dout, const float *out,
	const float *norm, int N, int D)
{
	rc_assert(N > 0 && D > 0);
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		const size_t o = (size_t)i * D;
		const float s = (float)dot(out + o, dout + o, D), inv = 1.0f / norm[i];
		for (int j = 0; j < D; j++)
			dinp[o + j] += (dout[o + j] - out[o + j] * s) * inv;
	}
}

void rc_ops_pool_backward(float *dx, const float *dpooled, const int32_t *idx, int B, int T,
	int C)
{
	for (int b = 0; b < B; b++) {
		const int t = idx ? idx[b] : 0;
		rc_assert(t >= 0 && t < T);
		float *d = dx + ((size_t)b * T + t) * C;
		const float *g = dpooled + (size_t)b * C;
		for (int c = 0; c < C; c++)
			d[c] += g[c];
	}
}
