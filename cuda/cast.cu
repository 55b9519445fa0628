/* cast.cu - values from one storage type to the other: fp32 to bf16
 * (round to nearest even, as __float2bfloat16_rn and torch's .to()) and
 * bf16 to fp32 (exact), or a copy when the types agree. The CUDA backend
 * moves between its fp32 parts (masters, embeddings, losses) and its
 * compute dtype with it. CPU twin: the host's own __float2bfloat16_rn
 * from cuda_bf16.h, which the test compares with bit for bit. */
#include "cuda/common.cuh"
#include "cuda/kernels.h"

template <class D, class S>
__global__ void cast_kernel(D *dst, const S *src, size_t n)
{
	const size_t step = (size_t)gridDim.x * blockDim.x;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
		rc_store(dst + i, rc_load(src + i));
}

/* launch - a grid of at most 1024 blocks striding over n. */
template <class D, class S>
static int launch(int block, void *dst, const void *src, size_t n, cudaStream_t s)
{
	const size_t want = (n + (size_t)block - 1) / (size_t)block;
	const int grid = want < 1024 ? (int)want : 1024;
	RC_LAUNCH((cast_kernel<D, S>), grid, block, 0, s, (D *)dst, (const S *)src, n);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

extern "C" int rc_cuda_cast_v(int block, void *dst, int dst_dtype, const void *src,
	int src_dtype, size_t n, struct CUstream_st *stream)
{
	if (block < 32 || block > 1024 || block % 32 || !dst || !src ||
	    (dst_dtype != RC_CUDA_F32 && dst_dtype != RC_CUDA_BF16) ||
	    (src_dtype != RC_CUDA_F32 && src_dtype != RC_CUDA_BF16))
		return rc_log_error(RC_E_ARG, "cast: block %d, dtypes %d <- %d", block, dst_dtype,
			src_dtype);
	if (!n)
		return 0;
	if (dst_dtype == src_dtype) {
		RC_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * (dst_dtype == RC_CUDA_F32 ? 4 : 2),
			cudaMemcpyDeviceToDevice, stream));
		return 0;
	}
	if (dst_dtype == RC_CUDA_BF16)
		return launch<rc_bf16, float>(block, dst, src, n, stream);
	return launch<float, rc_bf16>(block, dst, src, n, stream);
}

extern "C" int rc_cuda_cast(void *dst, int dst_dtype, const void *src, int src_dtype, size_t n,
	struct CUstream_st *stream)
{
	return rc_cuda_cast_v(256, dst, dst_dtype, src, src_dtype, n, stream);
}
