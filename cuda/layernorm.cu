/* layernorm.cu - layer normalisation over the channels of each row, forward
 * and backward, for fp32 or bf16 activations with fp32 statistics; the CPU
 * twins are rc_ops_layernorm and rc_ops_layernorm_backward (model/ops_cpu.h).
 * Launchers are declared in cuda/kernels.h.
 *
 * Shapes: rows N (= B·T), channels C. Forward: mean and variance by two
 * passes in fp32 (as exact as the CPU's one-pass-in-double for CLIP's
 * activations, and free of E[x²] - E[x]²'s cancellation). Backward: the
 * input gradient per row (two reductions, then the three terms), and the
 * weight and bias gradients by columns: partial sums over groups of rows
 * into a scratch buffer, then one sum per column in a fixed order, so the
 * result has the same bits from run to run (no float atomics).
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"

/* ---------------------------------------------------------------- kernels */

/* ln_forward_warp - one warp per row, blockDim.x / 32 rows per block. The
 * row is read three times; the second and third reads hit L1/L2. */
template <class T>
__global__ void ln_forward_warp(T *out, float *mean, float *rstd, const T *inp,
	const T *__restrict__ w, const T *__restrict__ b, int N, int C, float eps)
{
	const int lane = threadIdx.x % 32;
	const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	if (row >= N)
		return; /* the whole warp: no block barrier below */
	const T *x = inp + (size_t)row * C;
	float s = 0.0f;
	for (int c = lane; c < C; c += 32)
		s += rc_load(x + c);
	const float m = rc_warp_sum(s) / C;
	float v = 0.0f;
	for (int c = lane; c < C; c += 32) {
		const float d = rc_load(x + c) - m;
		v += d * d;
	}
	const float r = rsqrtf(rc_warp_sum(v) / C + eps);
	T *y = out + (size_t)row * C;
	for (int c = lane; c < C; c += 32)
		rc_store(y + c, (rc_load(x + c) - m) * r * rc_load(w + c) + rc_load(b + c));
	if (lane == 0) {
		if (mean)
			mean[row] = m;
		if (rstd)
			rstd[row] = r;
	}
}

/* ln_forward_block - one block per row; each thread keeps the channels it
 * reads in dynamic shared memory (C floats), so the row is read once. */
template <class T>
__global__ void ln_forward_block(T *out, float *mean, float *rstd, const T *inp,
	const T *__restrict__ w, const T *__restrict__ b, int C, float eps)
{
	RC_DYNAMIC_SHARED(float, xs);
	const int row = blockIdx.x;
	const T *x = inp + (size_t)row * C;
	float s = 0.0f;
	for (int c = threadIdx.x; c < C; c += blockDim.x) {
		xs[c] = rc_load(x + c);
		s += xs[c];
	}
	const float m = rc_block_sum(s) / C;
	float v = 0.0f;
	for (int c = threadIdx.x; c < C; c += blockDim.x) {
		const float d = xs[c] - m; /* this thread's own channels */
		v += d * d;
	}
	const float r = rsqrtf(rc_block_sum(v) / C + eps);
	T *y = out + (size_t)row * C;
	for (int c = threadIdx.x; c < C; c += blockDim.x)
		rc_store(y + c, (xs[c] - m) * r * rc_load(w + c) + rc_load(b + c));
	if (threadIdx.x == 0) {
		if (mean)
			mean[row] = m;
		if (rstd)
			rstd[row] = r;
	}
}

/* ln_dx_row - dinp += rstd·(g - mean(g) - n·mean(g·n)) for one row, g =
 * w·dout, n = (x - mean)·rstd. The threads that share the row are a warp
 * or (Block) the block; step is their number. */
template <class T, bool Block>
__device__ __forceinline__ void ln_dx_row(T *dx, const T *dy, const T *x,
	const T *__restrict__ w, float m, float r, int C, int first, int step)
{
	float sg = 0.0f, sgn = 0.0f;
	for (int c = first; c < C; c += step) {
		const float g = rc_load(w + c) * rc_load(dy + c);
		sg += g;
		sgn += g * ((rc_load(x + c) - m) * r);
	}
	const float mg = (Block ? rc_block_sum(sg) : rc_warp_sum(sg)) / C;
	const float mgn = (Block ? rc_block_sum(sgn) : rc_warp_sum(sgn)) / C;
	for (int c = first; c < C; c += step) {
		const float g = rc_load(w + c) * rc_load(dy + c);
		const float n = (rc_load(x + c) - m) * r;
		rc_store(dx + c, rc_load(dx + c) + r * (g - mg - n * mgn));
	}
}

template <class T>
__global__ void ln_dx_warp(T *dinp, const T *dout, const T *inp, const T *__restrict__ w,
	const float *mean, const float *rstd, int N, int C)
{
	const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	if (row >= N)
		return; /* the whole warp */
	const size_t o = (size_t)row * C;
	ln_dx_row<T, false>(dinp + o, dout + o, inp + o, w, mean[row], rstd[row], C,
		threadIdx.x % 32, 32);
}

template <class T>
__global__ void ln_dx_block(T *dinp, const T *dout, const T *inp, const T *__restrict__ w,
	const float *mean, const float *rstd, int C)
{
	const int row = blockIdx.x;
	const size_t o = (size_t)row * C;
	ln_dx_row<T, true>(dinp + o, dout + o, inp + o, w, mean[row], rstd[row], C,
		threadIdx.x, blockDim.x);
}

/* ln_dwdb_part - block (32, Y) of grid (C/32, G): column c = 32·blockIdx.x
 * + threadIdx.x over the rows of group blockIdx.y, thread row y taking
 * every Y-th row; the Y partial sums meet in shared memory and are added
 * in order of y. part[g·C + c] gets dw's sum, part[(G + g)·C + c] db's. */
template <class T>
__global__ void ln_dwdb_part(float *part, const T *dout, const T *inp, const float *mean,
	const float *rstd, int N, int C, int rows)
{
	__shared__ float sw[32][32], sb[32][32];
	const int c = blockIdx.x * 32 + threadIdx.x;
	const int r0 = blockIdx.y * rows, r1 = min(N, r0 + rows);
	float aw = 0.0f, ab = 0.0f;
	if (c < C) /* no return: every thread reaches the barrier */
		for (int i = r0 + threadIdx.y; i < r1; i += blockDim.y) {
			const float dy = rc_load(dout + (size_t)i * C + c);
			aw += (rc_load(inp + (size_t)i * C + c) - mean[i]) * rstd[i] * dy;
			ab += dy;
		}
	sw[threadIdx.y][threadIdx.x] = aw;
	sb[threadIdx.y][threadIdx.x] = ab;
	__syncthreads();
	if (threadIdx.y == 0 && c < C) {
		for (int y = 1; y < (int)blockDim.y; y++) {
			aw += sw[y][threadIdx.x];
			ab += sb[y][threadIdx.x];
		}
		part[(size_t)blockIdx.y * C + c] = aw;
		part[(size_t)(gridDim.y + blockIdx.y) * C + c] = ab;
	}
}

/* ln_dwdb_sum - dw[c] += Σ_g part[g][c], db likewise, g in order. */
__global__ void ln_dwdb_sum(float *dw, float *db, const float *part, int G, int C)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	float sw = 0.0f, sb = 0.0f;
	for (int g = 0; g < G; g++) {
		sw += part[(size_t)g * C + c];
		sb += part[(size_t)(G + g) * C + c];
	}
	if (dw)
		dw[c] += sw;
	if (db)
		db[c] += sb;
}

/* ---------------------------------------------------------------- launchers */

/* The backward's groups of rows: at most 64, of at least 32 rows; a
 * function of N alone, so that the sums' order (and bits) is too. */
static int ln_groups(int N)
{
	const int g = rc_ceil_div(N, 32);
	return g < 64 ? g : 64;
}

static int ln_args(const char *fn, int variant, int block, int N, int C, int dtype)
{
	if (N <= 0 || C <= 0)
		return rc_log_error(RC_E_ARG, "%s: N = %d, C = %d: not positive", fn, N, C);
	if (dtype != RC_CUDA_F32 && dtype != RC_CUDA_BF16)
		return rc_log_error(RC_E_ARG, "%s: dtype %d: not fp32 or bf16", fn, dtype);
	if (variant < 0 || variant >= RC_CUDA_LN_VARIANTS)
		return rc_log_error(RC_E_ARG, "%s: no variant %d", fn, variant);
	if (block < 32 || block > 1024 || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 "
			"up to 1024", fn, block);
	return 0;
}

template <class T>
static int ln_forward(int variant, int block, T *out, float *mean, float *rstd, const T *inp,
	const T *w, const T *b, int N, int C, float eps, cudaStream_t s)
{
	if (variant == RC_CUDA_LN_WARP)
		RC_LAUNCH(ln_forward_warp<T>, rc_ceil_div(N, block / 32), block, 0, s, out, mean,
			rstd, inp, w, b, N, C, eps);
	else
		RC_LAUNCH(ln_forward_block<T>, N, block, C * sizeof(float), s, out, mean, rstd,
			inp, w, b, C, eps);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

template <class T>
static int ln_backward(int variant, int block, T *dinp, float *dw, float *db, float *scratch,
	const T *dout, const T *inp, const T *w, const float *mean, const float *rstd, int N,
	int C, cudaStream_t s)
{
	if (variant == RC_CUDA_LN_WARP)
		RC_LAUNCH(ln_dx_warp<T>, rc_ceil_div(N, block / 32), block, 0, s, dinp, dout, inp,
			w, mean, rstd, N, C);
	else
		RC_LAUNCH(ln_dx_block<T>, N, block, 0, s, dinp, dout, inp, w, mean, rstd, C);
	RC_CUDA_CHECK(cudaGetLastError());
	if (!dw && !db)
		return 0;
	const int G = ln_groups(N);
	RC_LAUNCH(ln_dwdb_part<T>, dim3(rc_ceil_div(C, 32), G), dim3(32, block / 32), 0, s,
		scratch, dout, inp, mean, rstd, N, C, rc_ceil_div(N, G));
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(ln_dwdb_sum, rc_ceil_div(C, block), block, 0, s, dw, db, scratch, G, C);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_layernorm_forward_v(int variant, int block, void *out, float *mean, float *rstd,
	const void *inp, const void *w, const void *b, int N, int C, float eps, int dtype,
	struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_layernorm_forward";
	int rc = ln_args(fn, variant, block, N, C, dtype);
	if (rc < 0)
		return rc;
	if (!out || !inp || !w || !b)
		return rc_log_error(RC_E_ARG, "%s: out, inp, w and b may not be NULL", fn);
	if (!(eps >= 0.0f))
		return rc_log_error(RC_E_ARG, "%s: eps %g: not >= 0", fn, (double)eps);
	if (variant == RC_CUDA_LN_BLOCK && (size_t)C * sizeof(float) > 48 << 10)
		return rc_log_error(RC_E_ARG, "%s: C = %d: over the block variant's 12288 "
			"channels", fn, C);
	if (dtype == RC_CUDA_F32)
		return ln_forward(variant, block, (float *)out, mean, rstd, (const float *)inp,
			(const float *)w, (const float *)b, N, C, eps, stream);
	return ln_forward(variant, block, (rc_bf16 *)out, mean, rstd, (const rc_bf16 *)inp,
		(const rc_bf16 *)w, (const rc_bf16 *)b, N, C, eps, stream);
}

int rc_cuda_layernorm_backward_v(int variant, int block, void *dinp, float *dw, float *db,
	float *scratch, const void *dout, const void *inp, const void *w, const float *mean,
	const float *rstd, int N, int C, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_layernorm_backward";
	int rc = ln_args(fn, variant, block, N, C, dtype);
	if (rc < 0)
		return rc;
	if (!dinp || !dout || !inp || !w || !mean || !rstd || ((dw || db) && !scratch))
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer (only dw and db may be NULL, "
			"scratch when both are)", fn);
	if (dtype == RC_CUDA_F32)
		return ln_backward(variant, block, (float *)dinp, dw, db, scratch,
			(const float *)dout, (const float *)inp, (const float *)w, mean, rstd, N, C,
			stream);
	return ln_backward(variant, block, (rc_bf16 *)dinp, dw, db, scratch,
		(const rc_bf16 *)dout, (const rc_bf16 *)inp, (const rc_bf16 *)w, mean, rstd, N, C,
		stream);
}

size_t rc_cuda_layernorm_backward_scratch(int N, int C)
{
	return N > 0 && C > 0 ? 2 * (size_t)ln_groups(N) * C * sizeof(float) : 0;
}

/* The default variants: a warp per row up to C = 2048 (at most 64
 * channels per lane), a block per row above, while the row fits in
 * shared memory. Chosen without a GPU at hand: tune on one. */
static int ln_variant(int C)
{
	return C > 2048 && C <= 12288 ? RC_CUDA_LN_BLOCK : RC_CUDA_LN_WARP;
}

int rc_cuda_layernorm_forward(void *out, float *mean, float *rstd, const void *inp,
	const void *w, const void *b, int N, int C, float eps, int dtype,
	struct CUstream_st *stream)
{
	const int v = ln_variant(C);
	return rc_cuda_layernorm_forward_v(v, v == RC_CUDA_LN_WARP ? 256 : 512, out, mean, rstd,
		inp, w, b, N, C, eps, dtype, stream);
}

int rc_cuda_layernorm_backward(void *dinp, float *dw, float *db, float *scratch,
	const void *dout, const void *inp, const void *w, const float *mean, const float *rstd,
	int N, int C, int dtype, struct CUstream_st *stream)
{
	const int v = ln_variant(C);
	return rc_cuda_layernorm_backward_v(v, v == RC_CUDA_LN_WARP ? 256 : 512, dinp, dw, db,
		scratch, dout, inp, w, mean, rstd, N, C, dtype, stream);
}
