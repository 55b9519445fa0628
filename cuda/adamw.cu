/* adamw.cu - what a training step does after the gradients, on the GPU:
 * one fused AdamW launch over all the parameters with per-group learning
 * rate and weight decay, the global gradient norm, the non-finite check
 * and the scaling for clipping. CPU twins: rc_adamw_step, rc_grad_norm,
 * rc_grad_finite, rc_grad_scale_all (model/optim_cpu.h); launchers in
 * cuda/kernels.h.
 *
 * Layout: parameters, gradients and moments are each one fp32 buffer of N
 * floats laid out as the parameters; a device copy of the tensor table
 * (offset, size, group; sorted, covering [0, N)) gives every element its
 * group. Kernels read and write float4s (N need not be a multiple of 4:
 * the tail goes one by one).
 *
 * Numerics. AdamW repeats the CPU's operations in its order with explicit
 * roundings (__fmul_rn, __fadd_rn: nvcc may not contract them into FMAs;
 * IEEE division and square root), and its constants (bias corrections by
 * powf, 1 - lr·wd, lr/bc1) are computed on the host as the CPU computes
 * them: the results are the CPU's bits, not just close. The norm sums
 * squares in double (sm_80/sm_90 run fp64 at half the fp32 rate, and the
 * pass is bound by memory anyway) in fixed parts, then the parts in order.
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/params.cuh"

#include <math.h>

/* IEEE division that fast-math flags leave alone (the emulation's host
 * division is IEEE already; emu.h lacks __fdiv_rn) */
#ifdef RC_CUDA_EMU
#define rc_fdiv_rn(a, b) ((a) / (b))
#else
#define rc_fdiv_rn(a, b) __fdiv_rn((a), (b))
#endif

/* ---------------------------------------------------------------- AdamW */

/* the step's constants, computed on the host */
struct adamw_consts {
	float decay[RC_CUDA_MAX_GROUPS];  /* 1 - lr·wd */
	float step[RC_CUDA_MAX_GROUPS];   /* -lr/bc1 */
	float omb1, b2, omb2;             /* 1 - β1, β2, 1 - β2 */
	float bc2_sqrt, eps;              /* √(1 - β2ᵗ) */
};

/* adamw_one - optim_cpu.c's loop body, rounding for rounding */
__device__ __forceinline__ float adamw_one(float p, float g, float &m, float &v, int grp,
	const adamw_consts &c)
{
	p = __fmul_rn(p, c.decay[grp]);
	m = __fadd_rn(m, __fmul_rn(__fsub_rn(g, m), c.omb1));
	v = __fadd_rn(__fmul_rn(v, c.b2), __fmul_rn(__fmul_rn(g, g), c.omb2));
	const float denom = __fadd_rn(rc_fdiv_rn(__fsqrt_rn(v), c.bc2_sqrt), c.eps);
	return __fadd_rn(p, __fmul_rn(c.step[grp], rc_fdiv_rn(m, denom)));
}

struct alignas(8) bf16x4 {
	rc_bf16 h[4];
};

enum { ADAMW_ITERS = 4 }; /* float4s per thread per block */

/* adamw_kernel - block b updates the ADAMW_ITERS·4·blockDim floats from
 * b times that; each thread a float4 at a time, coalesced across the
 * block, walking the table forward for the groups. */
__global__ void adamw_kernel(float *p, rc_bf16 *p16, float *m, float *v, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, adamw_consts c)
{
	const size_t per = (size_t)ADAMW_ITERS * 4 * blockDim.x;
	const size_t lo = blockIdx.x * per, hi = rc_min_z(N, lo + per);
	size_t k = lo + 4 * (size_t)threadIdx.x;
	if (k >= hi)
		return; /* no barriers below */
	rc_tensor_walk w(table, nt, k);
	for (; k < hi; k += 4 * (size_t)blockDim.x) {
		if (k + 4 <= hi) {
			float4 pv = rc_load4(p + k), mv = rc_load4(m + k), vv = rc_load4(v + k);
			float4 gv = rc_load4(g + k);
			#pragma unroll
			for (int e = 0; e < 4; e++)
				rc_at(pv, e) = adamw_one(rc_at(pv, e), rc_at(gv, e),
					rc_at(mv, e), rc_at(vv, e), w.group(k + e), c);
			rc_store4(p + k, pv);
			rc_store4(m + k, mv);
			rc_store4(v + k, vv);
			if (p16) {
				bf16x4 h;
				#pragma unroll
				for (int e = 0; e < 4; e++)
					h.h[e] = __float2bfloat16_rn(rc_at(pv, e));
				*reinterpret_cast<bf16x4 *>(p16 + k) = h;
			}
		} else {
			for (size_t i = k; i < hi; i++) {
				p[i] = adamw_one(p[i], g[i], m[i], v[i], w.group(i), c);
				if (p16)
					p16[i] = __float2bfloat16_rn(p[i]);
			}
		}
	}
}

/* ---------------------------------------------------------------- norm, finite, scale */

/* grad_norm_part - part[b] = Σ g² over flat part b, in double */
__global__ void grad_norm_part(double *part, const float *g, size_t N)
{
	size_t lo, hi;
	rc_flat_range(N, blockIdx.x, &lo, &hi);
	double s = 0.0;
	for (size_t k = lo + 4 * (size_t)threadIdx.x; k < hi; k += 4 * (size_t)blockDim.x) {
		if (k + 4 <= hi) {
			const float4 x = rc_load4(g + k);
			s += (double)x.x * x.x + (double)x.y * x.y + (double)x.z * x.z +
				(double)x.w * x.w;
		} else {
			for (size_t i = k; i < hi; i++)
				s += (double)g[i] * g[i];
		}
	}
	s = rc_block_sum_d(s);
	if (threadIdx.x == 0)
		part[blockIdx.x] = s;
}

/* grad_norm_finish - one block: *norm = √Σ part, the parts in order */
__global__ void grad_norm_finish(float *norm, const double *part, int n)
{
	double s = 0.0;
	for (int i = threadIdx.x; i < n; i += blockDim.x)
		s += part[i];
	s = rc_block_sum_d(s);
	if (threadIdx.x == 0)
		*norm = (float)sqrt(s);
}

/* a NaN or an infinity: all exponent bits set (fast-math proof) */
__device__ __forceinline__ bool nonfinite(float x)
{
	return (__float_as_uint(x) & 0x7f800000u) == 0x7f800000u;
}

/* rc_block_min_u64 - the minimum of v over the block, in every thread */
__device__ __forceinline__ unsigned long long rc_block_min_u64(unsigned long long v)
{
	__shared__ unsigned long long part_u[32];
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
	for (int o = 16; o > 0; o >>= 1) {
		const unsigned long long u = __shfl_xor_sync(0xffffffffu, v, o);
		v = u < v ? u : v;
	}
	__syncthreads();
	if (lane == 0)
		part_u[warp] = v;
	__syncthreads();
	v = lane < (int)(blockDim.x / 32) ? part_u[lane] : ~0ull;
	for (int o = 16; o > 0; o >>= 1) {
		const unsigned long long u = __shfl_xor_sync(0xffffffffu, v, o);
		v = u < v ? u : v;
	}
	return v;
}

/* grad_finite_part - part[b] = the first element of flat part b that is not
 * finite, or N (stored in the scratch's 8-byte slots) */
__global__ void grad_finite_part(unsigned long long *part, const float *g, size_t N)
{
	size_t lo, hi;
	rc_flat_range(N, blockIdx.x, &lo, &hi);
	unsigned long long first = N;
	for (size_t k = lo + 4 * (size_t)threadIdx.x; k < hi && first == N;
	     k += 4 * (size_t)blockDim.x) {
		if (k + 4 <= hi) {
			float4 x = rc_load4(g + k);
			#pragma unroll
			for (int e = 3; e >= 0; e--) /* the lowest last */
				if (nonfinite(rc_at(x, e)))
					first = k + e;
		} else {
			for (size_t i = hi; i-- > k;)
				if (nonfinite(g[i]))
					first = i;
		}
	}
	first = rc_block_min_u64(first);
	if (threadIdx.x == 0)
		part[blockIdx.x] = first;
}

/* grad_finite_finish - one block: the first bad element of all, its tensor */
__global__ void grad_finite_finish(int *bad, const unsigned long long *part, int n,
	const struct rc_cuda_tensor *table, int nt, size_t N)
{
	unsigned long long first = N;
	for (int i = threadIdx.x; i < n; i += blockDim.x)
		first = part[i] < first ? part[i] : first;
	first = rc_block_min_u64(first);
	if (threadIdx.x == 0)
		*bad = first < N ? rc_tensor_find(table, nt, first) : -1;
}

__global__ void grad_scale_kernel(float *g, size_t N, float c)
{
	const size_t stride = 4 * (size_t)gridDim.x * blockDim.x;
	for (size_t k = 4 * ((size_t)blockIdx.x * blockDim.x + threadIdx.x); k < N; k += stride) {
		if (k + 4 <= N) {
			float4 x = rc_load4(g + k);
			x.x = __fmul_rn(x.x, c), x.y = __fmul_rn(x.y, c);
			x.z = __fmul_rn(x.z, c), x.w = __fmul_rn(x.w, c);
			rc_store4(g + k, x);
		} else {
			for (size_t i = k; i < N; i++)
				g[i] = __fmul_rn(g[i], c);
		}
	}
}

/* ---------------------------------------------------------------- launchers */

static int block_ok(const char *fn, int block)
{
	if (block < 32 || block > 1024 || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 "
			"up to 1024", fn, block);
	return 0;
}

int rc_cuda_tensor_table_check(const struct rc_cuda_tensor *t, int nt, int ngroups, size_t *N)
{
	const char *fn = "rc_cuda_tensor_table_check";
	if (nt < 1 || !t)
		return rc_log_error(RC_E_ARG, "%s: a table of %d tensors", fn, nt);
	if (ngroups < 1 || ngroups > RC_CUDA_MAX_GROUPS)
		return rc_log_error(RC_E_ARG, "%s: %d groups: not 1..%d", fn, ngroups,
			RC_CUDA_MAX_GROUPS);
	size_t end = 0;
	for (int i = 0; i < nt; i++) {
		if (t[i].offset != end)
			return rc_log_error(RC_E_ARG, "%s: tensor %d starts at %zu, not at %zu: the "
				"table must be sorted, without gaps or overlaps", fn, i, t[i].offset, end);
		if (t[i].group < 0 || t[i].group >= ngroups)
			return rc_log_error(RC_E_ARG, "%s: tensor %d: group %d of %d", fn, i,
				t[i].group, ngroups);
		end += t[i].n;
	}
	if (N)
		*N = end;
	return 0;
}

int rc_cuda_adamw_step_v(int block, float *p, void *p16, float *m, float *v, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, int ngroups, const float *lr,
	const float *wd, long step, float beta1, float beta2, float eps,
	struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_adamw_step";
	int rc = block_ok(fn, block);
	if (rc < 0)
		return rc;
	if (!p || !m || !v || !g || !table || !lr || !wd || nt < 1)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer or an empty table (only p16 "
			"may be NULL)", fn);
	if (ngroups < 1 || ngroups > RC_CUDA_MAX_GROUPS || step < 1)
		return rc_log_error(RC_E_ARG, "%s: %d groups, step %ld", fn, ngroups, step);
	if (N == 0)
		return 0;
	/* as rc_adamw_step, on the host */
	adamw_consts c;
	const float bc1 = 1.0f - powf(beta1, (float)step);
	const float bc2 = 1.0f - powf(beta2, (float)step);
	for (int k = 0; k < RC_CUDA_MAX_GROUPS; k++) {
		const float a = k < ngroups ? lr[k] : 0.0f, d = k < ngroups ? wd[k] : 0.0f;
		c.decay[k] = 1.0f - a * d;
		c.step[k] = -(a / bc1);
	}
	c.omb1 = 1.0f - beta1, c.b2 = beta2, c.omb2 = 1.0f - beta2;
	c.bc2_sqrt = sqrtf(bc2), c.eps = eps;
	const size_t per = (size_t)ADAMW_ITERS * 4 * block;
	const size_t blocks = (N + per - 1) / per;
	if (blocks > 0x7fffffff)
		return rc_log_error(RC_E_ARG, "%s: %zu floats: too many", fn, N);
	RC_LAUNCH(adamw_kernel, (unsigned)blocks, block, 0, stream, p, (rc_bf16 *)p16, m, v, g,
		table, nt, N, c);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_grad_norm_v(int block, float *norm, void *scratch, const float *g, size_t N,
	struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_grad_norm";
	int rc = block_ok(fn, block);
	if (rc < 0)
		return rc;
	if (!norm || !scratch || (!g && N))
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer", fn);
	const int parts = rc_flat_parts(N);
	RC_LAUNCH(grad_norm_part, parts, block, 0, stream, (double *)scratch, g, N);
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(grad_norm_finish, 1, block, 0, stream, norm, (const double *)scratch, parts);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_grad_finite_v(int block, int *bad, void *scratch, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_grad_finite";
	int rc = block_ok(fn, block);
	if (rc < 0)
		return rc;
	if (!bad || !scratch || !table || nt < 1 || (!g && N))
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer or an empty table", fn);
	const int parts = rc_flat_parts(N);
	RC_LAUNCH(grad_finite_part, parts, block, 0, stream, (unsigned long long *)scratch, g, N);
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(grad_finite_finish, 1, block, 0, stream, bad, (const unsigned long long *)scratch,
		parts, table, nt, N);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_grad_scale_all_v(int block, float *g, size_t N, float c, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_grad_scale_all";
	int rc = block_ok(fn, block);
	if (rc < 0)
		return rc;
	if (!g && N)
		return rc_log_error(RC_E_ARG, "%s: g is NULL", fn);
	if (N == 0)
		return 0;
	/* a float4 per thread per step; enough blocks to fill a GPU, no more */
	const size_t quads = (N + 3) / 4, want = (quads + block - 1) / block;
	const int blocks = want < 4096 ? (int)want : 4096;
	RC_LAUNCH(grad_scale_kernel, blocks, block, 0, stream, g, N, c);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

size_t rc_cuda_grad_scratch(size_t N)
{
	return (size_t)rc_flat_parts(N) * sizeof(double);
}

/* The default block sizes: chosen without a GPU at hand; tune on one. */
int rc_cuda_adamw_step(float *p, void *p16, float *m, float *v, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, int ngroups, const float *lr,
	const float *wd, long step, float beta1, float beta2, float eps,
	struct CUstream_st *stream)
{
	return rc_cuda_adamw_step_v(256, p, p16, m, v, g, table, nt, N, ngroups, lr, wd, step,
		beta1, beta2, eps, stream);
}

int rc_cuda_grad_norm(float *norm, void *scratch, const float *g, size_t N,
	struct CUstream_st *stream)
{
	return rc_cuda_grad_norm_v(512, norm, scratch, g, N, stream);
}

int rc_cuda_grad_finite(int *bad, void *scratch, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, struct CUstream_st *stream)
{
	return rc_cuda_grad_finite_v(512, bad, scratch, g, table, nt, N, stream);
}

int rc_cuda_grad_scale_all(float *g, size_t N, float c, struct CUstream_st *stream)
{
	return rc_cuda_grad_scale_all_v(256, g, N, c, stream);
}
