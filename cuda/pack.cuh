/* pack.cuh - V values of fp32 or bf16 storage moved as one 16-byte load or
 * store (V = 16 / sizeof(T): 4 floats, 8 bf16) or, with V = 1, as one
 * scalar, with fp32 arithmetic, so that one kernel template serves the
 * vector path (every pointer 16-byte aligned) and the scalar path (any
 * alignment, and the tail of a vector path), and the argument checks of
 * such kernels' launchers. Used by the elementwise kernels (act.cu) and
 * the bias gradient (gemm.cu).
 *
 *     rc_pack<T, V> x;
 *     x.load(inp + i);               // i a multiple of V
 *     for (int k = 0; k < V; k++)
 *             x.v[k] *= 2.0f;
 *     x.store(out + i);
 */
#ifndef RCLIP_CUDA_PACK_CUH
#define RCLIP_CUDA_PACK_CUH

#include "cuda/common.cuh"
#include "cuda/kernels.h"

#include <stdint.h>

/* rc_pack_width - the values of T in 16 bytes */
template <class T> struct rc_pack_width {
	static constexpr int value = (int)(16 / sizeof(T));
};

/* The bytes of a pack: an aligned aggregate of T (reading T through it is
 * allowed aliasing), copied whole, which nvcc emits as one 128-bit access. */
template <class T, int V> struct alignas(V * sizeof(T)) rc_pack_raw {
	T e[V];
};

template <class T, int V> struct rc_pack {
	static_assert(V == 1 || V * sizeof(T) == 16, "a pack is one value or 16 bytes");
	float v[V];

	__device__ __forceinline__ void load(const T *p)
	{
		const rc_pack_raw<T, V> r = *reinterpret_cast<const rc_pack_raw<T, V> *>(p);
		for (int k = 0; k < V; k++)
			v[k] = rc_load(r.e + k);
	}
	__device__ __forceinline__ void store(T *p) const
	{
		rc_pack_raw<T, V> r;
		for (int k = 0; k < V; k++)
			rc_store(r.e + k, v[k]);
		*reinterpret_cast<rc_pack_raw<T, V> *>(p) = r;
	}
};

/* rc_aligned16 - whether p may be read by 16-byte packs (NULL passes: an
 * absent optional buffer) */
static inline bool rc_aligned16(const void *p)
{
	return (uintptr_t)p % 16 == 0;
}

/* rc_ew_check - the checks every launcher of a packed kernel makes: the
 * dtype, the variant (enum rc_cuda_ew_variant) and the block size; 0 or
 * RC_E_ARG, logged under fn. */
static inline int rc_ew_check(const char *fn, int variant, int block, int dtype)
{
	if (dtype != RC_CUDA_F32 && dtype != RC_CUDA_BF16)
		return rc_log_error(RC_E_ARG, "%s: dtype %d: not fp32 or bf16", fn, dtype);
	if (variant < 0 || variant >= RC_CUDA_EW_VARIANTS)
		return rc_log_error(RC_E_ARG, "%s: no variant %d", fn, variant);
	if (block < 32 || block > 1024 || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 "
			"up to 1024", fn, block);
	return 0;
}

#endif
