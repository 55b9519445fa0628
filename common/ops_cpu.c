/* ops_cpu.c - fp32 transformer ops on OpenBLAS and OpenMP (ops_cpu.h).
 * Linear layers and the two products of attention are sgemm calls; the
 * elementwise and row ops are loops split over rows by OpenMP. */
#include "ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "clip_config.h"
#include "log.h"
#include "thread.h"

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

void rc_ops_quick_gelu(float *out, const float *inp, size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		float x = inp[i];
		out[i] = x * (1.0f / (1.0f + expf(-(1.702f * x))));
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

void rc_ops_act(float *out, const float *inp, size_t n, int act)
{
	if (act == RC_ACT_QUICK_GELU)
		rc_ops_quick_gelu(out, inp, n);
	else
		rc_ops_gelu(out, inp, n);
}

/* ---------------------------------------------------------------- softmax */

/* softmax_row - y[0..n) = softmax(x[0..n)), y[n..C) = 0. */
static void softmax_row(float *y, const float *x, int n, int C)
{
	float mx = -INFINITY;
	for (int j = 0; j < n; j++)
		mx = x[j] > mx ? x[j] : mx;
	double s = 0;
	for (int j = 0; j < n; j++) {
		y[j] = expf(x[j] - mx);
		s += y[j];
	}
	float inv = (float)(1.0 / s);
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
	rc_assert(B > 0 && P > 0 && S % P == 0);
	const int g = S / P, K = 3 * P * P;
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
