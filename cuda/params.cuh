/* params.cuh - what the kernels over the buffers laid out as the
 * parameters share (adamw.cu: AdamW, the gradient norm, the non-finite
 * check, the scaling; loss.cu: the L2 pull): sums in double, the fixed
 * partition of a flat buffer into parts, and the walk along the tensor
 * table that gives each element its tensor and group. Included after
 * cuda/common.cuh; the double sums would belong beside rc_block_sum there.
 *
 * Determinism: a part's elements are summed by its block in a fixed order
 * (each thread its own elements in turn, then a fixed tree), the parts'
 * sums by one block likewise; the partition is a function of the length
 * alone. The same launch (length, block size) gives the same bits.
 */
#ifndef RCLIP_CUDA_PARAMS_CUH
#define RCLIP_CUDA_PARAMS_CUH

#include "cuda/common.cuh"
#include "cuda/kernels.h"

/* ---------------------------------------------------------------- sums */

/* rc_warp_sum_d, rc_block_sum_d - rc_warp_sum and rc_block_sum in double
 * (same rules: a full warp; every thread of a block whose size is a
 * multiple of 32). */
__device__ __forceinline__ double rc_warp_sum_d(double v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ double rc_block_sum_d(double v)
{
	__shared__ double part_d[32];
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
	v = rc_warp_sum_d(v);
	__syncthreads(); /* a previous call may still read part_d[] */
	if (lane == 0)
		part_d[warp] = v;
	__syncthreads();
	v = lane < (int)(blockDim.x / 32) ? part_d[lane] : 0.0;
	return rc_warp_sum_d(v);
}

/* ---------------------------------------------------------------- partition */

/* A flat buffer of n floats is cut into rc_flat_parts(n) parts of equal
 * length (a multiple of 4, so float4 loads stay aligned; the last ones may
 * be short or empty): at least 8192 floats each, at most 1024 parts, so
 * that the second stage is one block's work. */
enum { RC_FLAT_MIN = 8192, RC_FLAT_MAX_PARTS = 1024 };

static inline __host__ __device__ int rc_flat_parts(size_t n)
{
	const size_t p = (n + RC_FLAT_MIN - 1) / RC_FLAT_MIN;
	return p < 1 ? 1 : p > RC_FLAT_MAX_PARTS ? RC_FLAT_MAX_PARTS : (int)p;
}

/* the smaller of two sizes (CUDA's min overloads differ by platform) */
__host__ __device__ __forceinline__ size_t rc_min_z(size_t a, size_t b)
{
	return a < b ? a : b;
}

__device__ __forceinline__ void rc_flat_range(size_t n, int b, size_t *lo, size_t *hi)
{
	const int parts = rc_flat_parts(n);
	const size_t len = ((n + parts - 1) / parts + 3) & ~(size_t)3;
	*lo = rc_min_z(n, (size_t)b * len);
	*hi = rc_min_z(n, *lo + len);
}

/* float4 access to 4 aligned floats (the caller keeps k a multiple of 4) */
__device__ __forceinline__ float4 rc_load4(const float *p)
{
	return *reinterpret_cast<const float4 *>(p);
}
__device__ __forceinline__ void rc_store4(float *p, float4 v)
{
	*reinterpret_cast<float4 *>(p) = v;
}
__device__ __forceinline__ float &rc_at(float4 &v, int e)
{
	return e == 0 ? v.x : e == 1 ? v.y : e == 2 ? v.z : v.w;
}

/* ---------------------------------------------------------------- tensors */

static_assert((RC_CUDA_MAX_GROUPS & (RC_CUDA_MAX_GROUPS - 1)) == 0,
	"a group is masked to 0 .. RC_CUDA_MAX_GROUPS-1");

/* rc_tensor_find - the tensor of the table (sorted by offset, from 0,
 * without gaps: rc_cuda_tensor_table_check) that holds element k. */
__device__ __forceinline__ int rc_tensor_find(const struct rc_cuda_tensor *t, int nt, size_t k)
{
	int lo = 0, hi = nt - 1;
	while (lo < hi) {
		const int mid = (lo + hi + 1) / 2;
		if (t[mid].offset <= k)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* rc_tensor_walk - the group of elements visited in increasing order by
 * one thread: a binary search for the first, then a step to the next
 * tensor whenever an element passes the end of the current one. */
struct rc_tensor_walk {
	const struct rc_cuda_tensor *t;
	int nt, cur, grp;
	size_t end;

	__device__ __forceinline__ rc_tensor_walk(const struct rc_cuda_tensor *table, int n, size_t k)
		: t(table), nt(n)
	{
		cur = rc_tensor_find(t, nt, k);
		end = t[cur].offset + t[cur].n;
		grp = t[cur].group;
	}
	__device__ __forceinline__ int group(size_t k)
	{
		while (k >= end && cur + 1 < nt) {
			cur++;
			end = t[cur].offset + t[cur].n;
			grp = t[cur].group;
		}
		return grp & (RC_CUDA_MAX_GROUPS - 1); /* a bad table reads no further */
	}
};

#endif
