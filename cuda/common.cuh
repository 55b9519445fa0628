/* common.cuh - what every kernel file includes: the CUDA headers under
 * nvcc or the emulation (cuda/emu.h) when RC_CUDA_EMU is defined, and the
 * helpers the kernel families share: bf16/fp32 loads and stores with fp32
 * arithmetic, warp and block sums, ceil_div, and RC_CUDA_CHECK for host
 * launchers, which turns a CUDA error into a logged RC_E_* code (the
 * library never exits).
 *
 *     int rc_cuda_op(float *out, const float *in, int n, cudaStream_t s)
 *     {
 *             if (n <= 0)
 *                     return rc_log_error(RC_E_ARG, "op: n = %d", n);
 *             RC_LAUNCH(op_kernel, rc_ceil_div(n, 256), 256, 0, s, out, in, n);
 *             RC_CUDA_CHECK(cudaGetLastError());
 *             return 0;
 *     }
 */
#ifndef RCLIP_CUDA_COMMON_CUH
#define RCLIP_CUDA_COMMON_CUH

#if defined(RC_CUDA_EMU) && !defined(__CUDACC__)
#include "cuda/emu.h"
#else
#include <cuda_bf16.h>
#include <cuda_runtime.h>
/* The emulation's forms of the launch and of dynamic shared memory (one
 * buffer per kernel, typed by the kernel). */
#define RC_LAUNCH(kernel, grid, block, shmem, stream, ...) \
	kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)
#define RC_DYNAMIC_SHARED(type, name) \
	extern __shared__ __align__(16) unsigned char rc_dynamic_shared_[]; \
	type *name = reinterpret_cast<type *>(rc_dynamic_shared_)
#endif

#include <stddef.h>

extern "C" {
#include "base/error.h"
#include "base/log.h"
}

typedef __nv_bfloat16 rc_bf16;

/* ---------------------------------------------------------------- types */
/* Kernels are templates over the storage type of activations (float or
 * rc_bf16); arithmetic is always fp32: load widens, store rounds to
 * nearest even. */

__device__ __forceinline__ float rc_load(const float *p) { return *p; }
__device__ __forceinline__ float rc_load(const rc_bf16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void rc_store(float *p, float v) { *p = v; }
__device__ __forceinline__ void rc_store(rc_bf16 *p, float v) { *p = __float2bfloat16_rn(v); }

static inline __host__ __device__ int rc_ceil_div(int a, int b)
{
	return (a + b - 1) / b;
}

/* ---------------------------------------------------------------- reductions */

/* rc_warp_sum - the sum of v over the 32 lanes of a full warp, in every
 * lane (a butterfly: the same order in every lane, so all agree). */
__device__ __forceinline__ float rc_warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

/* rc_block_sum - the sum of v over a one-dimensional block whose size is
 * a multiple of 32, in every thread. Every thread of the block must call
 * it (it holds two __syncthreads); calls may follow each other. */
__device__ __forceinline__ float rc_block_sum(float v)
{
	__shared__ float part[32];
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
	v = rc_warp_sum(v);
	__syncthreads(); /* a previous call may still read part[] */
	if (lane == 0)
		part[warp] = v;
	__syncthreads();
	v = lane < (int)(blockDim.x / 32) ? part[lane] : 0.0f;
	return rc_warp_sum(v);
}

/* ---------------------------------------------------------------- host */

/* rc_cuda_status - log a failed CUDA call and map it to an RC_E_* code:
 * out of memory is RC_E_NOMEM, a bad argument or launch configuration
 * RC_E_ARG, anything else (a failed kernel, no device) RC_E_UNSUPPORTED. */
static inline int rc_cuda_status(cudaError_t e, const char *call, const char *file, int line)
{
	int code = e == cudaErrorMemoryAllocation ? RC_E_NOMEM
		: e == cudaErrorInvalidValue || e == cudaErrorInvalidConfiguration ? RC_E_ARG
		: RC_E_UNSUPPORTED;
	return rc_log_error(code, "%s:%d: %s: %s", file, line, call, cudaGetErrorString(e));
}

#define RC_CUDA_CHECK(call) \
	do { \
		cudaError_t rc_e_ = (call); \
		if (rc_e_ != cudaSuccess) \
			return rc_cuda_status(rc_e_, #call, __FILE__, __LINE__); \
	} while (0)

#endif
