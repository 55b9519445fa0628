/* pool.cu - the heads' ends of the CLIP towers: pooling one row per
 * sequence (the vision class token, the text's pooled position) and the
 * L2 normalisation of the embeddings, forward and backward. The CPU twins:
 * the gathers of rc_clip_encode_image / rc_clip_encode_text (forward.c),
 * rc_ops_pool_backward, rc_ops_l2norm, rc_ops_l2norm_backward. Launchers
 * are declared in cuda/kernels.h.
 *
 * Numerics: pooling copies and adds, as the CPU. The L2 norms sum squares
 * (and the backward out·dout) in double, as the CPU: every product of two
 * floats is exact in double and the sums' rounding errors, about D·2^-53,
 * are far below a float ulp, so the float norm is the CPU's but for a sum
 * within that distance of a rounding boundary. The rest is the CPU's
 * float operations in its order, products kept apart from adds
 * (__fmul_rn: no FMA contraction), so fp32 results have the CPU's bits.
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>

/* ---------------------------------------------------------------- kernels */

/* pool_rows - one thread per value of pooled[B,C]: the forward
 * pooled[b,c] = x[b, idx[b], c] (dst pooled, src x; idx NULL: position
 * 0), or the backward dx[b, idx[b], c] += dpooled[b,c] (dst dx, src
 * dpooled). An index outside [0, T) (the caller checks them) gives NaN
 * forward and nothing backward, not an access out of bounds. */
template <class A, bool Backward>
__global__ void pool_rows(A *dst, const A *src, const int32_t *__restrict__ idx, int B, int T,
	int C)
{
	const int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= B * C)
		return;
	const int b = i / C, t = idx ? idx[b] : 0;
	const size_t r = ((size_t)b * T + t) * C + i % C;
	if (t < 0 || t >= T) {
		if (!Backward)
			rc_store(dst + i, NAN);
	} else if (Backward) {
		rc_store(dst + r, rc_load(dst + r) + rc_load(src + i));
	} else {
		dst[i] = src[r];
	}
}

/* pool_warp_sum - rc_warp_sum in double. */
static __device__ __forceinline__ double pool_warp_sum(double v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

/* pool_l2norm - one warp per row: out = inp / sqrt(Σ inp²), norm kept. A
 * lane writes only the values it read: out may be inp. */
template <class A>
__global__ void pool_l2norm(A *out, float *norm, const A *inp, int N, int D)
{
	const int lane = threadIdx.x % 32;
	const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	if (row >= N)
		return; /* the whole warp */
	const A *x = inp + (size_t)row * D;
	double s = 0.0;
	for (int j = lane; j < D; j += 32) {
		const double v = rc_load(x + j);
		s += v * v;
	}
	const float nrm = sqrtf((float)pool_warp_sum(s));
	A *y = out + (size_t)row * D;
	for (int j = lane; j < D; j += 32)
		rc_store(y + j, rc_load(x + j) / nrm);
	if (lane == 0 && norm)
		norm[row] = nrm;
}

/* pool_l2norm_backward - one warp per row: dinp += (dout - out·(out·dout))·(1/norm),
 * the CPU's operations in its order. */
template <class A>
__global__ void pool_l2norm_backward(A *dinp, const A *dout, const A *out, const float *norm, int N,
	int D)
{
	const int lane = threadIdx.x % 32;
	const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	if (row >= N)
		return; /* the whole warp */
	const size_t o = (size_t)row * D;
	double s = 0.0;
	for (int j = lane; j < D; j += 32)
		s += (double)rc_load(out + o + j) * rc_load(dout + o + j);
	const float dot = (float)pool_warp_sum(s), inv = 1.0f / norm[row];
	for (int j = lane; j < D; j += 32) {
		const float t = rc_load(dout + o + j) - __fmul_rn(rc_load(out + o + j), dot);
		rc_store(dinp + o + j, rc_load(dinp + o + j) + __fmul_rn(t, inv));
	}
}

/* ---------------------------------------------------------------- host */

/* pool_check - dtype, block size, rows × columns positive and within int
 * (a grid's last block may reach a block past the end). */
static int pool_check(const char *fn, int block, int dtype, int rows, int T, int cols)
{
	if (dtype != RC_CUDA_F32 && dtype != RC_CUDA_BF16)
		return rc_log_error(RC_E_ARG, "%s: dtype %d: not fp32 or bf16", fn, dtype);
	if (block < 32 || block > 1024 || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 "
			"up to 1024", fn, block);
	if (rows <= 0 || T <= 0 || cols <= 0 || (double)rows * T * cols > INT_MAX - 1024)
		return rc_log_error(RC_E_ARG, "%s: %d × %d × %d: not positive or over %d values", fn,
			rows, T, cols, INT_MAX - 1024);
	return 0;
}

/* pool_launch - the forward (dst pooled, src x) or the backward (dst dx,
 * src dpooled) for storage A. */
template <class A>
static int pool_launch(bool backward, int block, void *dst, const void *src, const int32_t *idx,
	int B, int T, int C, cudaStream_t s)
{
	const int grid = rc_ceil_div(B * C, block);
	if (backward)
		RC_LAUNCH((pool_rows<A, true>), grid, block, 0, s, (A *)dst, (const A *)src, idx, B,
			T, C);
	else
		RC_LAUNCH((pool_rows<A, false>), grid, block, 0, s, (A *)dst, (const A *)src, idx, B,
			T, C);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_pool_v(int block, void *pooled, const void *x, const int32_t *idx, int B, int T,
	int C, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_pool";
	int rc = pool_check(fn, block, dtype, B, T, C);
	if (rc < 0)
		return rc;
	if (!pooled || !x)
		return rc_log_error(RC_E_ARG, "%s: pooled and x may not be NULL", fn);
	return dtype == RC_CUDA_F32
		? pool_launch<float>(false, block, pooled, x, idx, B, T, C, stream)
		: pool_launch<rc_bf16>(false, block, pooled, x, idx, B, T, C, stream);
}

int rc_cuda_pool_backward_v(int block, void *dx, const void *dpooled, const int32_t *idx, int B,
	int T, int C, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_pool_backward";
	int rc = pool_check(fn, block, dtype, B, T, C);
	if (rc < 0)
		return rc;
	if (!dx || !dpooled)
		return rc_log_error(RC_E_ARG, "%s: dx and dpooled may not be NULL", fn);
	return dtype == RC_CUDA_F32
		? pool_launch<float>(true, block, dx, dpooled, idx, B, T, C, stream)
		: pool_launch<rc_bf16>(true, block, dx, dpooled, idx, B, T, C, stream);
}

int rc_cuda_l2norm_v(int block, void *out, float *norm, const void *inp, int N, int D, int dtype,
	struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_l2norm";
	int rc = pool_check(fn, block, dtype, N, 1, D);
	if (rc < 0)
		return rc;
	if (!out || !inp)
		return rc_log_error(RC_E_ARG, "%s: out and inp may not be NULL", fn);
	const int grid = rc_ceil_div(N, block / 32);
	if (dtype == RC_CUDA_F32)
		RC_LAUNCH(pool_l2norm<float>, grid, block, 0, stream, (float *)out, norm,
			(const float *)inp, N, D);
	else
		RC_LAUNCH(pool_l2norm<rc_bf16>, grid, block, 0, stream, (rc_bf16 *)out, norm,
			(const rc_bf16 *)inp, N, D);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_l2norm_backward_v(int block, void *dinp, const void *dout, const void *out,
	const float *norm, int N, int D, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_l2norm_backward";
	int rc = pool_check(fn, block, dtype, N, 1, D);
	if (rc < 0)
		return rc;
	if (!dinp || !dout || !out || !norm)
		return rc_log_error(RC_E_ARG, "%s: dinp, dout, out and norm may not be NULL", fn);
	const int grid = rc_ceil_div(N, block / 32);
	if (dtype == RC_CUDA_F32)
		RC_LAUNCH(pool_l2norm_backward<float>, grid, block, 0, stream, (float *)dinp,
			(const float *)dout, (const float *)out, norm, N, D);
	else
		RC_LAUNCH(pool_l2norm_backward<rc_bf16>, grid, block, 0, stream, (rc_bf16 *)dinp,
			(const rc_bf16 *)dout, (const rc_bf16 *)out, norm, N, D);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

/* ---------------------------------------------------------------- defaults */

/* 256 threads: 256 values or 8 rows a block. Chosen without a GPU at
 * hand: tune on one. */
#define POOL_BLOCK 256

int rc_cuda_pool(void *pooled, const void *x, const int32_t *idx, int B, int T, int C,
	int dtype, struct CUstream_st *stream)
{
	return rc_cuda_pool_v(POOL_BLOCK, pooled, x, idx, B, T, C, dtype, stream);
}

int rc_cuda_pool_backward(void *dx, const void *dpooled, const int32_t *idx, int B, int T,
	int C, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_pool_backward_v(POOL_BLOCK, dx, dpooled, idx, B, T, C, dtype, stream);
}

int rc_cuda_l2norm(void *out, float *norm, const void *inp, int N, int D, int dtype,
	struct CUstream_st *stream)
{
	return rc_cuda_l2norm_v(POOL_BLOCK, out, norm, inp, N, D, dtype, stream);
}

int rc_cuda_l2norm_backward(void *dinp, const void *dout, const void *out, const float *norm,
	int N, int D, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_l2norm_backward_v(POOL_BLOCK, dinp, dout, out, norm, N, D, dtype, stream);
}
