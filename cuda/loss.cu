/* loss.cu - the training losses on the GPU, forward and backward: the
 * CLIP contrastive loss and SigLIP's sigmoid loss on the logits of a
 * global batch, the stage-2 heads' softmax and binary cross entropies,
 * and the L2 pull toward the starting weights. CPU twins in model/loss.h;
 * launchers and the API's conventions in cuda/kernels.h.
 *
 * The contrastive losses work on P[B,B] = txt·imgᵀ from the caller's GEMM
 * and scale it by expf(logit_scale) as they read it (the scale and bias
 * are read from device memory: no host round trip). B is up to 32768, so
 * P is up to 4 GiB and the passes over it are bound by memory and expf:
 *   - rows (a warp or a block per row): a running maximum and sum per
 *     thread, merged across the threads in a fixed tree;
 *   - columns: threads of consecutive columns walk a group of rows, so a
 *     warp reads 32 consecutive floats of a row at a time (coalesced);
 *     each (group, column) keeps its maximum and sum in scratch, and one
 *     thread per column merges the groups in order;
 *   - the backward reads P and the two log-sum-exps once and writes dP
 *     (in place if the caller wants), with each row's share of the scale
 *     gradient in scratch.
 * Log-sum-exps and gradients are fp32; sums of many terms that become one
 * scalar (the losses, the scale and bias gradients) are accumulated in
 * double through per-row or per-block parts added in a fixed order: the
 * same launch gives the same bits, with no float atomics.
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/params.cuh"

#include <math.h>

/* ---------------------------------------------------------------- helpers */

/* A running log-sum-exp: the maximum m and Σ exp(x - m). */
struct lse_acc {
	float m, s;
};

__device__ __forceinline__ lse_acc lse_empty(void)
{
	return { -INFINITY, 0.0f };
}

__device__ __forceinline__ void lse_add(lse_acc &a, float x)
{
	if (x > a.m) {
		a.s = a.s * expf(a.m - x) + 1.0f;
		a.m = x;
	} else if (x != -INFINITY) { /* a NaN goes here and stays in the sum */
		a.s += expf(x - a.m);
	}
}

/* lse_merge - both parts in one; the products are rounded before the sum
 * (no FMA) so that merge(a, b) and merge(b, a) agree to the bit. */
__device__ __forceinline__ lse_acc lse_merge(lse_acc a, lse_acc b)
{
	const float m = fmaxf(a.m, b.m);
	if (m == -INFINITY)
		return a; /* both empty */
	return { m, __fmul_rn(a.s, expf(a.m - m)) + __fmul_rn(b.s, expf(b.m - m)) };
}

__device__ __forceinline__ lse_acc lse_warp(lse_acc a)
{
	for (int o = 16; o > 0; o >>= 1) {
		const lse_acc b = { __shfl_xor_sync(0xffffffffu, a.m, o),
			__shfl_xor_sync(0xffffffffu, a.s, o) };
		a = lse_merge(a, b);
	}
	return a;
}

/* lse_block - the whole block's, in every thread: the warps' parts merged
 * in warp order */
__device__ __forceinline__ lse_acc lse_block(lse_acc a)
{
	__shared__ float pm[32], ps[32];
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
	a = lse_warp(a);
	__syncthreads(); /* a previous call may still read pm[], ps[] */
	if (lane == 0)
		pm[warp] = a.m, ps[warp] = a.s;
	__syncthreads();
	a = lse_empty();
	for (int w = 0; w < (int)(blockDim.x / 32); w++)
		a = lse_merge(a, { pm[w], ps[w] });
	return a;
}

/* The threads that share a row of a B×B pass: a warp (blockDim.x / 32
 * rows per block) or the block (one row per block). */
template <bool Block> struct row_threads {
	int row, first, step;
	__device__ __forceinline__ row_threads()
		: row(Block ? (int)blockIdx.x : (int)(blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32)),
		  first(Block ? (int)threadIdx.x : (int)(threadIdx.x % 32)),
		  step(Block ? (int)blockDim.x : 32)
	{
	}
};

template <bool Block> __device__ __forceinline__ double row_sum_d(double v)
{
	return Block ? rc_block_sum_d(v) : rc_warp_sum_d(v);
}

/* loss_parts_finish - one block: out0 = mul·Σ part[0..n), out1 = mul·Σ
 * part[n..2n) (or += with add), each rounded to float once; a NULL output
 * is skipped. The second stage of every scalar here. */
__global__ void loss_parts_finish(float *out0, float *out1, const double *part, int n, double mul,
	int add)
{
	float *out[2] = { out0, out1 };
	for (int k = 0; k < 2; k++) {
		if (!out[k]) /* the same in every thread: no barrier is skipped by some */
			continue;
		double s = 0.0;
		for (int i = threadIdx.x; i < n; i += blockDim.x)
			s += part[(size_t)k * n + i];
		s = rc_block_sum_d(s);
		if (threadIdx.x == 0)
			*out[k] = add ? *out[k] + (float)(mul * s) : (float)(mul * s);
	}
}

/* ---------------------------------------------------------------- CLIP */

/* clip_row_lse - lse[i] = log Σ_j exp(L[i,j]), L = expf(s)·P */
template <bool Block>
__global__ void clip_row_lse(float *lse, const float *P, const float *logit_scale, int B)
{
	const row_threads<Block> r;
	if (r.row >= B)
		return; /* the whole warp (the block variant has B blocks) */
	const float scale = expf(*logit_scale);
	const float *x = P + (size_t)r.row * B;
	lse_acc a = lse_empty();
	for (int j = r.first; j < B; j += r.step)
		lse_add(a, scale * x[j]);
	a = Block ? lse_block(a) : lse_warp(a);
	if (r.first == 0)
		lse[r.row] = a.m + logf(a.s);
}

/* clip_col_part - grid (columns / blockDim.x, groups): part[g·B + j] =
 * column j's maximum and sum over the rows of group g */
__global__ void clip_col_part(float2 *part, const float *P, const float *logit_scale, int B,
	int rows)
{
	const int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= B)
		return;
	const float scale = expf(*logit_scale);
	const int r0 = blockIdx.y * rows, r1 = min(B, r0 + rows);
	lse_acc a = lse_empty();
	for (int i = r0; i < r1; i++)
		lse_add(a, scale * P[(size_t)i * B + j]);
	part[(size_t)blockIdx.y * B + j] = make_float2(a.m, a.s);
}

/* clip_col_lse - lse_col[j] from the groups' parts, merged in order */
__global__ void clip_col_lse(float *lse_col, const float2 *part, int G, int B)
{
	const int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= B)
		return;
	lse_acc a = lse_empty();
	for (int g = 0; g < G; g++) {
		const float2 q = part[(size_t)g * B + j];
		a = lse_merge(a, { q.x, q.y });
	}
	lse_col[j] = a.m + logf(a.s);
}

/* clip_loss_finish - one block: ½·Σ_i (lse_row[i] + lse_col[i] - 2·L[i,i]) / B */
__global__ void clip_loss_finish(float *loss, const float *lse, const float *P,
	const float *logit_scale, int B)
{
	const float scale = expf(*logit_scale);
	double s = 0.0;
	for (int i = threadIdx.x; i < B; i += blockDim.x) {
		const double d = scale * P[(size_t)i * B + i];
		s += ((double)lse[i] - d) + ((double)lse[B + i] - d);
	}
	s = rc_block_sum_d(s);
	if (threadIdx.x == 0)
		*loss = (float)(0.5 * s / B);
}

/* clip_backward - row i of dP = k·(softmax_row + softmax_col - 2·I)·scale,
 * k = dloss/(2B); part[i] = row i's Σ k·(...)·L (for ∂/∂s). On the
 * diagonal the probabilities' distance to 1 comes from expm1f, which
 * keeps its digits when the model is confident. The rank-local form (rows
 * [lo, hi) the rank's; lo = 0, hi = B: the whole loss's): where only one
 * of text i and image j is the rank's, only its term stays in dP (the
 * row's softmax for its text, the column's for its image); ∂/∂s is the
 * whole loss's. dP may be P. */
template <bool Block>
__global__ void clip_backward(float *dP, double *part, const float *P, const float *lse,
	const float *logit_scale, int B, float k, int lo, int hi)
{
	const row_threads<Block> r;
	if (r.row >= B)
		return;
	const float scale = expf(*logit_scale), lr = lse[r.row];
	const float *lc = lse + B;
	const size_t o = (size_t)r.row * B;
	const bool ri = r.row >= lo && r.row < hi;
	double ds = 0.0;
	for (int j = r.first; j < B; j += r.step) {
		const float x = scale * P[o + j];
		const float er = j == r.row ? expm1f(x - lr) : expf(x - lr),
			    ec = j == r.row ? expm1f(x - lc[j]) : expf(x - lc[j]);
		const float g = k * (er + ec);
		ds += (double)g * x;
		const bool rj = j >= lo && j < hi;
		dP[o + j] = (ri == rj ? g : k * (ri ? er : ec)) * scale;
	}
	ds = row_sum_d<Block>(ds);
	if (r.first == 0)
		part[r.row] = ds;
}

/* ---------------------------------------------------------------- SigLIP */

/* z = P·scale + bias rounded as the CPU does (no FMA) */
__device__ __forceinline__ float siglip_z(float p, float scale, float bias)
{
	return __fadd_rn(__fmul_rn(p, scale), bias);
}

__device__ __forceinline__ float log_sigmoid(float x)
{
	return x >= 0.0f ? -log1pf(expf(-x)) : x - log1pf(expf(x));
}

/* siglip_forward - part[i] = Σ_j log σ(y·z[i,j]) */
template <bool Block>
__global__ void siglip_forward(double *part, const float *P, const float *logit_scale,
	const float *logit_bias, int B)
{
	const row_threads<Block> r;
	if (r.row >= B)
		return;
	const float scale = expf(*logit_scale), bias = *logit_bias;
	const size_t o = (size_t)r.row * B;
	double s = 0.0;
	for (int j = r.first; j < B; j += r.step) {
		const float z = siglip_z(P[o + j], scale, bias);
		s += log_sigmoid(j == r.row ? z : -z);
	}
	s = row_sum_d<Block>(s);
	if (r.first == 0)
		part[r.row] = s;
}

/* siglip_backward - g = -k·y·σ(-y·z), k = dloss/B: dP = g·scale,
 * part[i] = row i's Σ g·(z - b) (for ∂/∂s), part[B + i] its Σ g (∂/∂b).
 * The rank-local form keeps dP in the rank's columns [lo, hi) only (its
 * images against all texts) and zero elsewhere; the scale and bias sums
 * are the whole loss's. dP may be P. */
template <bool Block>
__global__ void siglip_backward(float *dP, double *part, const float *P,
	const float *logit_scale, const float *logit_bias, int B, float k, int lo, int hi)
{
	const row_threads<Block> r;
	if (r.row >= B)
		return;
	const float scale = expf(*logit_scale), bias = *logit_bias;
	const size_t o = (size_t)r.row * B;
	double ds = 0.0, db = 0.0;
	for (int j = r.first; j < B; j += r.step) {
		const float z = siglip_z(P[o + j], scale, bias);
		const float y = j == r.row ? 1.0f : -1.0f;
		const float g = -k * y / (1.0f + expf(y * z));
		db += g;
		ds += (double)g * ((double)z - bias);
		dP[o + j] = j >= lo && j < hi ? g * scale : 0.0f;
	}
	ds = row_sum_d<Block>(ds);
	db = row_sum_d<Block>(db);
	if (r.first == 0)
		part[r.row] = ds, part[B + r.row] = db;
}

/* ---------------------------------------------------------------- heads */

/* softmax_ce_kernel - a thread per row of x[n,K]; part[block] = the
 * block's Σ of the rows' cross entropies */
__global__ void softmax_ce_kernel(double *part, float *dx, const float *x,
	const unsigned char *y, int n, int K, float coef)
{
	const int r = blockIdx.x * blockDim.x + threadIdx.x;
	double l = 0.0;
	if (r < n) { /* no return: every thread reaches the block sum */
		const float *row = x + (size_t)r * K;
		float m = -INFINITY, s = 0.0f;
		for (int k = 0; k < K; k++)
			m = fmaxf(m, row[k]);
		for (int k = 0; k < K; k++)
			s += expf(row[k] - m);
		const float lse = m + logf(s);
		const int c = y[r];
		l = c < K ? (double)lse - row[c] : (double)NAN;
		if (dx)
			for (int k = 0; k < K; k++)
				dx[(size_t)r * K + k] += coef * (expf(row[k] - lse) - (k == c ? 1.0f : 0.0f));
	}
	l = rc_block_sum_d(l);
	if (threadIdx.x == 0)
		part[blockIdx.x] = l;
}

/* bce_kernel - a thread per element of x[n,K] */
__global__ void bce_kernel(double *part, float *dx, const float *x, const float *t, size_t nk,
	float coef)
{
	const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	double l = 0.0;
	if (i < nk) {
		const float v = x[i], tv = t[i];
		l = (double)(fmaxf(v, 0.0f) - v * tv) + log1pf(expf(-fabsf(v)));
		if (dx)
			dx[i] += coef * (1.0f / (1.0f + expf(-v)) - tv);
	}
	l = rc_block_sum_d(l);
	if (threadIdx.x == 0)
		part[blockIdx.x] = l;
}

/* ---------------------------------------------------------------- L2 */

/* l2_part - flat part b: part[b] = Σ (p - p0)² over the elements of the
 * chosen groups, grad += twob·(p - p0) there, rounded as the CPU. */
__global__ void l2_part(double *part, float *grad, const float *p, const float *p0,
	const struct rc_cuda_tensor *table, int nt, size_t N, unsigned groups, float twob)
{
	size_t lo, hi;
	rc_flat_range(N, blockIdx.x, &lo, &hi);
	double s = 0.0;
	size_t k = lo + 4 * (size_t)threadIdx.x;
	if (k < hi) { /* no return: every thread reaches the block sum */
		rc_tensor_walk w(table, nt, k);
		for (; k < hi; k += 4 * (size_t)blockDim.x) {
			if (k + 4 <= hi) {
				float4 a = rc_load4(p + k), b = rc_load4(p0 + k);
				float4 gv = grad ? rc_load4(grad + k) : make_float4(0, 0, 0, 0);
				bool any = false;
				#pragma unroll
				for (int e = 0; e < 4; e++) {
					if (!(groups >> w.group(k + e) & 1u))
						continue;
					const float d = __fsub_rn(rc_at(a, e), rc_at(b, e));
					s += (double)d * d;
					rc_at(gv, e) = __fadd_rn(rc_at(gv, e), __fmul_rn(twob, d));
					any = true;
				}
				if (grad && any)
					rc_store4(grad + k, gv);
			} else {
				for (size_t i = k; i < hi; i++) {
					if (!(groups >> w.group(i) & 1u))
						continue;
					const float d = __fsub_rn(p[i], p0[i]);
					s += (double)d * d;
					if (grad)
						grad[i] = __fadd_rn(grad[i], __fmul_rn(twob, d));
				}
			}
		}
	}
	s = rc_block_sum_d(s);
	if (threadIdx.x == 0)
		part[blockIdx.x] = s;
}

/* ---------------------------------------------------------------- launchers */

/* The column pass's groups of rows: at most 64, of at least 32 rows; a
 * function of B alone, so that the order of the column sums is too. */
static int clip_groups(int B)
{
	const int g = rc_ceil_div(B, 32);
	return g < 64 ? g : 64;
}

static int block_ok(const char *fn, int block)
{
	if (block < 32 || block > 1024 || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 "
			"up to 1024", fn, block);
	return 0;
}

static int bb_args(const char *fn, int variant, int block, int B)
{
	if (variant < 0 || variant >= RC_CUDA_LOSS_VARIANTS)
		return rc_log_error(RC_E_ARG, "%s: no variant %d", fn, variant);
	if (B < 1)
		return rc_log_error(RC_E_ARG, "%s: B = %d: not positive", fn, B);
	return block_ok(fn, block);
}

/* rows_ok - the rank's rows [lo, lo+n) lie in the batch */
static int rows_ok(const char *fn, int B, int lo, int n)
{
	if (lo < 0 || n < 1 || lo > B - n)
		return rc_log_error(RC_E_ARG, "%s: rows [%d, %d+%d) outside the batch of %d", fn, lo,
			lo, n, B);
	return 0;
}

/* launches a row kernel of the variant: B rows, a warp or a block each */
#define ROW_LAUNCH(kernel, variant, block, B, s, ...) \
	do { \
		if ((variant) == RC_CUDA_LOSS_WARP) \
			RC_LAUNCH(kernel<false>, rc_ceil_div((B), (block) / 32), (block), 0, (s), \
				__VA_ARGS__); \
		else \
			RC_LAUNCH(kernel<true>, (B), (block), 0, (s), __VA_ARGS__); \
		RC_CUDA_CHECK(cudaGetLastError()); \
	} while (0)

int rc_cuda_loss_clip_forward_v(int variant, int block, float *loss, float *lse, void *scratch,
	const float *P, const float *logit_scale, int B, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_loss_clip_forward";
	int rc = bb_args(fn, variant, block, B);
	if (rc < 0)
		return rc;
	if (!loss || !lse || !scratch || !P || !logit_scale)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer", fn);
	const int G = clip_groups(B);
	ROW_LAUNCH(clip_row_lse, variant, block, B, stream, lse, P, logit_scale, B);
	RC_LAUNCH(clip_col_part, dim3(rc_ceil_div(B, block), G), block, 0, stream,
		(float2 *)scratch, P, logit_scale, B, rc_ceil_div(B, G));
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(clip_col_lse, rc_ceil_div(B, block), block, 0, stream, lse + B,
		(const float2 *)scratch, G, B);
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(clip_loss_finish, 1, block, 0, stream, loss, lse, P, logit_scale, B);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_loss_clip_backward_v(int variant, int block, float *dP, float *dlogit_scale,
	void *scratch, const float *P, const float *lse, const float *logit_scale, int B, int lo,
	int n, float dloss, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_loss_clip_backward";
	int rc = bb_args(fn, variant, block, B);
	if (rc < 0 || (rc = rows_ok(fn, B, lo, n)) < 0)
		return rc;
	if (!dP || !scratch || !P || !lse || !logit_scale)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer (only dlogit_scale may be NULL)",
			fn);
	const float k = (float)((double)dloss / (2.0 * B));
	ROW_LAUNCH(clip_backward, variant, block, B, stream, dP, (double *)scratch, P, lse,
		logit_scale, B, k, lo, lo + n);
	if (dlogit_scale) {
		RC_LAUNCH(loss_parts_finish, 1, block, 0, stream, dlogit_scale, (float *)NULL,
			(const double *)scratch, B, 1.0, 1);
		RC_CUDA_CHECK(cudaGetLastError());
	}
	return 0;
}

size_t rc_cuda_loss_clip_scratch(int B)
{
	/* the forward's column parts; the backward's row parts fit in them */
	return B > 0 ? (size_t)clip_groups(B) * B * sizeof(float2) : 0;
}

int rc_cuda_loss_siglip_forward_v(int variant, int block, float *loss, void *scratch,
	const float *P, const float *logit_scale, const float *logit_bias, int B,
	struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_loss_siglip_forward";
	int rc = bb_args(fn, variant, block, B);
	if (rc < 0)
		return rc;
	if (!loss || !scratch || !P || !logit_scale || !logit_bias)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer", fn);
	ROW_LAUNCH(siglip_forward, variant, block, B, stream, (double *)scratch, P, logit_scale,
		logit_bias, B);
	RC_LAUNCH(loss_parts_finish, 1, block, 0, stream, loss, (float *)NULL, (const double *)scratch,
		B, -1.0 / B, 0);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_loss_siglip_backward_v(int variant, int block, float *dP, float *dlogit_scale,
	float *dlogit_bias, void *scratch, const float *P, const float *logit_scale,
	const float *logit_bias, int B, int lo, int n, float dloss, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_loss_siglip_backward";
	int rc = bb_args(fn, variant, block, B);
	if (rc < 0 || (rc = rows_ok(fn, B, lo, n)) < 0)
		return rc;
	if (!dP || !scratch || !P || !logit_scale || !logit_bias)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer (only dlogit_scale and "
			"dlogit_bias may be NULL)", fn);
	const float k = (float)((double)dloss / B);
	ROW_LAUNCH(siglip_backward, variant, block, B, stream, dP, (double *)scratch, P,
		logit_scale, logit_bias, B, k, lo, lo + n);
	if (dlogit_scale || dlogit_bias) {
		RC_LAUNCH(loss_parts_finish, 1, block, 0, stream, dlogit_scale, dlogit_bias,
			(const double *)scratch, B, 1.0, 1);
		RC_CUDA_CHECK(cudaGetLastError());
	}
	return 0;
}

size_t rc_cuda_loss_siglip_scratch(int B)
{
	return B > 0 ? 2 * (size_t)B * sizeof(double) : 0;
}

static int heads_args(const char *fn, int block, const float *loss, const void *scratch,
	const float *x, const void *y, int n, int K, int norm)
{
	int rc = block_ok(fn, block);
	if (rc < 0)
		return rc;
	if (n < 1 || K < 1 || norm < 1 || (size_t)n * K > (size_t)0x7fffffff * 32)
		return rc_log_error(RC_E_ARG, "%s: n = %d, K = %d, norm = %d", fn, n, K, norm);
	if (!loss || !scratch || !x || !y)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer (only dx may be NULL)", fn);
	return 0;
}

int rc_cuda_loss_softmax_ce_v(int block, float *loss, float *dx, void *scratch, const float *x,
	const unsigned char *y, int n, int K, int norm, float dloss, struct CUstream_st *stream)
{
	int rc = heads_args("rc_cuda_loss_softmax_ce", block, loss, scratch, x, y, n, K, norm);
	if (rc < 0)
		return rc;
	const int blocks = rc_ceil_div(n, block);
	RC_LAUNCH(softmax_ce_kernel, blocks, block, 0, stream, (double *)scratch, dx, x, y, n, K,
		(float)((double)dloss / norm));
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(loss_parts_finish, 1, block, 0, stream, loss, (float *)NULL, (const double *)scratch,
		blocks, 1.0 / norm, 0);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_loss_bce_logits_v(int block, float *loss, float *dx, void *scratch, const float *x,
	const float *t, int n, int K, int norm, float dloss, struct CUstream_st *stream)
{
	int rc = heads_args("rc_cuda_loss_bce_logits", block, loss, scratch, x, t, n, K, norm);
	if (rc < 0)
		return rc;
	const size_t nk = (size_t)n * K;
	const double den = (double)norm * K;
	const int blocks = (int)((nk + block - 1) / block);
	RC_LAUNCH(bce_kernel, blocks, block, 0, stream, (double *)scratch, dx, x, t, nk,
		(float)(dloss / den));
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(loss_parts_finish, 1, block, 0, stream, loss, (float *)NULL, (const double *)scratch,
		blocks, 1.0 / den, 0);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

size_t rc_cuda_loss_heads_scratch(int n, int K)
{
	return n > 0 && K > 0 ? ((size_t)n * K + 31) / 32 * sizeof(double) : 0;
}

int rc_cuda_loss_l2_anchor_v(int block, float *loss, float *grad, void *scratch, const float *p,
	const float *p0, const struct rc_cuda_tensor *table, int nt, size_t N, unsigned groups,
	float beta, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_loss_l2_anchor";
	int rc = block_ok(fn, block);
	if (rc < 0)
		return rc;
	if (!loss || !scratch || !p || !p0 || !table || nt < 1)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer or an empty table (only grad "
			"may be NULL)", fn);
	const int parts = rc_flat_parts(N);
	RC_LAUNCH(l2_part, parts, block, 0, stream, (double *)scratch, grad, p, p0, table, nt, N,
		groups, 2.0f * beta);
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(loss_parts_finish, 1, block, 0, stream, loss, (float *)NULL, (const double *)scratch,
		parts, (double)beta, 0);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

size_t rc_cuda_loss_l2_scratch(size_t N)
{
	return (size_t)rc_flat_parts(N) * sizeof(double);
}

/* ---------------------------------------------------------------- defaults */

/* A warp per row up to B = 8192 (256 logits per lane), a block per row
 * above. Chosen without a GPU at hand: tune on one. */
static int bb_variant(int B)
{
	return B <= 8192 ? RC_CUDA_LOSS_WARP : RC_CUDA_LOSS_BLOCK;
}

int rc_cuda_loss_clip_forward(float *loss, float *lse, void *scratch, const float *P,
	const float *logit_scale, int B, struct CUstream_st *stream)
{
	return rc_cuda_loss_clip_forward_v(bb_variant(B), 256, loss, lse, scratch, P, logit_scale,
		B, stream);
}

int rc_cuda_loss_clip_backward(float *dP, float *dlogit_scale, void *scratch, const float *P,
	const float *lse, const float *logit_scale, int B, float dloss,
	struct CUstream_st *stream)
{
	return rc_cuda_loss_clip_backward_v(bb_variant(B), 256, dP, dlogit_scale, scratch, P, lse,
		logit_scale, B, 0, B, dloss, stream);
}

int rc_cuda_loss_clip_backward_rows(float *dP, float *dlogit_scale, void *scratch,
	const float *P, const float *lse, const float *logit_scale, int B, int lo, int n,
	float dloss, struct CUstream_st *stream)
{
	return rc_cuda_loss_clip_backward_v(bb_variant(B), 256, dP, dlogit_scale, scratch, P, lse,
		logit_scale, B, lo, n, dloss, stream);
}

int rc_cuda_loss_siglip_forward(float *loss, void *scratch, const float *P,
	const float *logit_scale, const float *logit_bias, int B, struct CUstream_st *stream)
{
	return rc_cuda_loss_siglip_forward_v(bb_variant(B), 256, loss, scratch, P, logit_scale,
		logit_bias, B, stream);
}

int rc_cuda_loss_siglip_backward(float *dP, float *dlogit_scale, float *dlogit_bias,
	void *scratch, const float *P, const float *logit_scale, const float *logit_bias, int B,
	float dloss, struct CUstream_st *stream)
{
	return rc_cuda_loss_siglip_backward_v(bb_variant(B), 256, dP, dlogit_scale, dlogit_bias,
		scratch, P, logit_scale, logit_bias, B, 0, B, dloss, stream);
}

int rc_cuda_loss_siglip_backward_rows(float *dP, float *dlogit_scale, float *dlogit_bias,
	void *scratch, const float *P, const float *logit_scale, const float *logit_bias, int B,
	int lo, int n, float dloss, struct CUstream_st *stream)
{
	return rc_cuda_loss_siglip_backward_v(bb_variant(B), 256, dP, dlogit_scale, dlogit_bias,
		scratch, P, logit_scale, logit_bias, B, lo, n, dloss, stream);
}

int rc_cuda_loss_softmax_ce(float *loss, float *dx, void *scratch, const float *x,
	const unsigned char *y, int n, int K, int norm, float dloss, struct CUstream_st *stream)
{
	return rc_cuda_loss_softmax_ce_v(256, loss, dx, scratch, x, y, n, K, norm, dloss, stream);
}

int rc_cuda_loss_bce_logits(float *loss, float *dx, void *scratch, const float *x,
	const float *t, int n, int K, int norm, float dloss, struct CUstream_st *stream)
{
	return rc_cuda_loss_bce_logits_v(256, loss, dx, scratch, x, t, n, K, norm, dloss, stream);
}

int rc_cuda_loss_l2_anchor(float *loss, float *grad, void *scratch, const float *p,
	const float *p0, const struct rc_cuda_tensor *table, int nt, size_t N, unsigned groups,
	float beta, struct CUstream_st *stream)
{
	return rc_cuda_loss_l2_anchor_v(512, loss, grad, scratch, p, p0, table, nt, N, groups,
		beta, stream);
}
