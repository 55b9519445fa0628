/* act.cu - elementwise kernels for fp32 or bf16 activations with fp32
 * arithmetic: the MLP activations (quick_gelu, exact GELU, SigLIP's
 * tanh GELU) forward and backward, and the residual add and its backward. CPU twins: rc_ops_act,
 * rc_ops_act_backward, rc_ops_add, rc_ops_add_backward (model/ops_cpu.h);
 * launchers in cuda/kernels.h.
 *
 * Every kernel walks its n values in packs (cuda/pack.cuh): 16 bytes per
 * operand per thread (4 floats, 8 bf16) where all pointers are 16-byte
 * aligned, one value otherwise; the n % V values after the last whole pack
 * go one by one to the first threads of the grid. These kernels only move
 * memory, so a 128-bit access per operand is what makes them fast. The
 * grid is capped and strides over the rest, so any n fits in one launch.
 *
 * The formulas are the CPU's, term for term (expf, erff and tanhf, not the
 * fast intrinsics): x·(1/(1 + e^(-1.702x))), (x·0.5)·(1 + erf(x·√½)) and
 * 0.5·x·(1 + tanh(β·(x + κ·x³))) with PyTorch's β = √(2/π), κ = 0.044715. The
 * exact GELU is the reason this file exists beside cuBLASLt, whose GELU
 * epilogue is the tanh approximation (gemm.cu).
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/pack.cuh"

#include <initializer_list>

extern "C" {
#include "model/clip_config.h"
}

/* ---------------------------------------------------------------- math */

static constexpr float act_sqrt1_2 = 0.70710678118654752440f;     /* √½ */
static constexpr float act_inv_sqrt_2pi = 0.39894228040143267794f; /* 1/√(2π) */
/* gelu(approximate="tanh"): β = √2·(2/√π)·½ = √(2/π) as the CPU's
 * (float)(M_SQRT2 · M_2_SQRTPI · 0.5), κ = 0.044715 */
static constexpr float act_tanh_beta = (float)(1.41421356237309504880 * 1.12837916709551257390 * 0.5);
static constexpr float act_tanh_kappa = 0.044715f;

__device__ __forceinline__ float act_f(float x, int act)
{
	if (act == RC_ACT_QUICK_GELU)
		return x * (1.0f / (1.0f + expf(-(1.702f * x))));
	if (act == RC_ACT_GELU_TANH)
		return 0.5f * x * (1.0f + tanhf(act_tanh_beta * (x + act_tanh_kappa * (x * x * x))));
	return x * 0.5f * (1.0f + erff(x * act_sqrt1_2));
}

/* act_df - the derivative: s + 1.702·x·s·(1 - s) with s = σ(1.702x);
 * ½(1 + th) + ½x·(1 - th²)·β·(1 + 3κx²) with th = tanh(β(x + κx³)); or
 * Φ(x) + x·φ(x) */
__device__ __forceinline__ float act_df(float x, int act)
{
	if (act == RC_ACT_QUICK_GELU) {
		const float s = 1.0f / (1.0f + expf(-(1.702f * x)));
		return s + 1.702f * x * s * (1.0f - s);
	}
	if (act == RC_ACT_GELU_TANH) {
		const float x2 = x * x;
		const float th = tanhf(act_tanh_beta * (x + act_tanh_kappa * x2 * x));
		const float left = 0.5f * x, dleft = 0.5f * (1.0f + th);
		return dleft + left * (1.0f - th * th) * act_tanh_beta *
			(1.0f + 3.0f * act_tanh_kappa * x2);
	}
	const float cdf = 0.5f * (1.0f + erff(x * act_sqrt1_2));
	const float pdf = act_inv_sqrt_2pi * expf(-0.5f * x * x);
	return cdf + x * pdf;
}

/* ---------------------------------------------------------------- kernels */

template <int W> struct ew_width {
	static constexpr int value = W;
};

/* ew_for - f(i, ew_width<W>) for the values i .. i+W-1 of n: whole packs
 * of V first, then the n % V left over with W = 1; a grid-stride loop. */
template <int V, class F> __device__ __forceinline__ void ew_for(size_t n, F f)
{
	const size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	const size_t step = (size_t)gridDim.x * blockDim.x;
	const size_t whole = n / V * V;
	for (size_t i = t * V; i < whole; i += step * V)
		f(i, ew_width<V>());
	if (V > 1)
		for (size_t i = whole + t; i < n; i += step)
			f(i, ew_width<1>());
}

/* out = act(inp); out may be inp (each thread reads its pack first) */
template <class T, int V>
__global__ void act_forward_kernel(T *out, const T *inp, size_t n, int act)
{
	ew_for<V>(n, [&](size_t i, auto w) {
		constexpr int W = decltype(w)::value;
		rc_pack<T, W> x;
		x.load(inp + i);
		for (int k = 0; k < W; k++)
			x.v[k] = act_f(x.v[k], act);
		x.store(out + i);
	});
}

/* dinp += dout·act'(inp) */
template <class T, int V>
__global__ void act_backward_kernel(T *dinp, const T *inp, const T *dout, size_t n, int act)
{
	ew_for<V>(n, [&](size_t i, auto w) {
		constexpr int W = decltype(w)::value;
		rc_pack<T, W> x, dy, dx;
		x.load(inp + i);
		dy.load(dout + i);
		dx.load(dinp + i);
		for (int k = 0; k < W; k++)
			dx.v[k] += dy.v[k] * act_df(x.v[k], act);
		dx.store(dinp + i);
	});
}

/* out = a + b; out may be a or b */
template <class T, int V>
__global__ void add_kernel(T *out, const T *a, const T *b, size_t n)
{
	ew_for<V>(n, [&](size_t i, auto w) {
		constexpr int W = decltype(w)::value;
		rc_pack<T, W> x, y;
		x.load(a + i);
		y.load(b + i);
		for (int k = 0; k < W; k++)
			x.v[k] += y.v[k];
		x.store(out + i);
	});
}

/* da += dout, db += dout; either may be NULL (the same for every thread) */
template <class T, int V>
__global__ void add_backward_kernel(T *da, T *db, const T *dout, size_t n)
{
	ew_for<V>(n, [&](size_t i, auto w) {
		constexpr int W = decltype(w)::value;
		rc_pack<T, W> dy, g;
		dy.load(dout + i);
		T *const grads[2] = { da, db };
		for (T *d : grads) {
			if (!d)
				continue;
			g.load(d + i);
			for (int k = 0; k < W; k++)
				g.v[k] += dy.v[k];
			g.store(d + i);
		}
	});
}

/* ---------------------------------------------------------------- launchers */

/* The grid: enough blocks for one pack (or tail value) per thread, at
 * most ew_max_grid of them; the kernels stride over the rest (the test
 * lowers the cap to take that path at small n). */
static int ew_max_grid = 1 << 16;

static int ew_grid(size_t n, int variant, int dtype, int block)
{
	const size_t V = variant == RC_CUDA_EW_VEC ? 16 / (dtype == RC_CUDA_BF16 ? 2 : 4) : 1;
	size_t threads = n / V > n % V ? n / V : n % V;
	size_t g = (threads + block - 1) / block;
	return g < (size_t)ew_max_grid ? (int)g : ew_max_grid;
}

/* ew_args - the checks all the launchers make; ptrs are the buffers the
 * vector variant reads or writes with 16-byte accesses (NULL entries are
 * absent optional buffers). */
static int ew_args(const char *fn, int variant, int block, int dtype,
	std::initializer_list<const void *> ptrs)
{
	const int rc = rc_ew_check(fn, variant, block, dtype);
	if (rc < 0)
		return rc;
	if (variant == RC_CUDA_EW_VEC)
		for (const void *p : ptrs)
			if (!rc_aligned16(p))
				return rc_log_error(RC_E_ARG, "%s: %p: not 16-byte aligned, as the "
					"vector variant needs", fn, p);
	return 0;
}

/* ew_variant - the vector variant where every buffer allows it */
static int ew_variant(std::initializer_list<const void *> ptrs)
{
	for (const void *p : ptrs)
		if (!rc_aligned16(p))
			return RC_CUDA_EW_SCALAR;
	return RC_CUDA_EW_VEC;
}

static const int ew_block = 256;

/* EW_DISPATCH(kernel, T, ...) - launch kernel<T, V> with V by the variant
 * (variant, block, n, dtype and stream s in scope) and check the launch */
#define EW_DISPATCH(kernel, T, ...) \
	do { \
		const int g_ = ew_grid(n, variant, dtype, block); \
		if (variant == RC_CUDA_EW_VEC) \
			RC_LAUNCH((kernel<T, rc_pack_width<T>::value>), g_, block, 0, s, __VA_ARGS__); \
		else \
			RC_LAUNCH((kernel<T, 1>), g_, block, 0, s, __VA_ARGS__); \
		RC_CUDA_CHECK(cudaGetLastError()); \
	} while (0)

int rc_cuda_act_forward_v(int variant, int block, void *out, const void *inp, size_t n, int act,
	int dtype, struct CUstream_st *s)
{
	const char *fn = "rc_cuda_act_forward";
	int rc = ew_args(fn, variant, block, dtype, { out, inp });
	if (rc < 0)
		return rc;
	if (act != RC_ACT_QUICK_GELU && act != RC_ACT_GELU && act != RC_ACT_GELU_TANH)
		return rc_log_error(RC_E_ARG, "%s: act %d: not quick_gelu (0), gelu (1) or "
			"gelu_pytorch_tanh (2)", fn, act);
	if (!out || !inp)
		return rc_log_error(RC_E_ARG, "%s: out and inp may not be NULL", fn);
	if (n == 0)
		return 0;
	if (dtype == RC_CUDA_F32)
		EW_DISPATCH(act_forward_kernel, float, (float *)out, (const float *)inp, n, act);
	else
		EW_DISPATCH(act_forward_kernel, rc_bf16, (rc_bf16 *)out, (const rc_bf16 *)inp, n, act);
	return 0;
}

int rc_cuda_act_backward_v(int variant, int block, void *dinp, const void *inp, const void *dout,
	size_t n, int act, int dtype, struct CUstream_st *s)
{
	const char *fn = "rc_cuda_act_backward";
	int rc = ew_args(fn, variant, block, dtype, { dinp, inp, dout });
	if (rc < 0)
		return rc;
	if (act != RC_ACT_QUICK_GELU && act != RC_ACT_GELU && act != RC_ACT_GELU_TANH)
		return rc_log_error(RC_E_ARG, "%s: act %d: not quick_gelu (0), gelu (1) or "
			"gelu_pytorch_tanh (2)", fn, act);
	if (!dinp || !inp || !dout)
		return rc_log_error(RC_E_ARG, "%s: dinp, inp and dout may not be NULL", fn);
	if (n == 0)
		return 0;
	if (dtype == RC_CUDA_F32)
		EW_DISPATCH(act_backward_kernel, float, (float *)dinp, (const float *)inp,
			(const float *)dout, n, act);
	else
		EW_DISPATCH(act_backward_kernel, rc_bf16, (rc_bf16 *)dinp, (const rc_bf16 *)inp,
			(const rc_bf16 *)dout, n, act);
	return 0;
}

int rc_cuda_add_v(int variant, int block, void *out, const void *a, const void *b, size_t n,
	int dtype, struct CUstream_st *s)
{
	const char *fn = "rc_cuda_add";
	int rc = ew_args(fn, variant, block, dtype, { out, a, b });
	if (rc < 0)
		return rc;
	if (!out || !a || !b)
		return rc_log_error(RC_E_ARG, "%s: out, a and b may not be NULL", fn);
	if (n == 0)
		return 0;
	if (dtype == RC_CUDA_F32)
		EW_DISPATCH(add_kernel, float, (float *)out, (const float *)a, (const float *)b, n);
	else
		EW_DISPATCH(add_kernel, rc_bf16, (rc_bf16 *)out, (const rc_bf16 *)a,
			(const rc_bf16 *)b, n);
	return 0;
}

int rc_cuda_add_backward_v(int variant, int block, void *da, void *db, const void *dout, size_t n,
	int dtype, struct CUstream_st *s)
{
	const char *fn = "rc_cuda_add_backward";
	int rc = ew_args(fn, variant, block, dtype, { da, db, dout });
	if (rc < 0)
		return rc;
	if (!dout)
		return rc_log_error(RC_E_ARG, "%s: dout may not be NULL", fn);
	if (n == 0 || (!da && !db))
		return 0;
	if (dtype == RC_CUDA_F32)
		EW_DISPATCH(add_backward_kernel, float, (float *)da, (float *)db, (const float *)dout,
			n);
	else
		EW_DISPATCH(add_backward_kernel, rc_bf16, (rc_bf16 *)da, (rc_bf16 *)db,
			(const rc_bf16 *)dout, n);
	return 0;
}

/* The plain launchers: 16-byte packs where the buffers allow, 256
 * threads (chosen without a GPU at hand: tune on one). */

int rc_cuda_act_forward(void *out, const void *inp, size_t n, int act, int dtype,
	struct CUstream_st *s)
{
	return rc_cuda_act_forward_v(ew_variant({ out, inp }), ew_block, out, inp, n, act, dtype,
		s);
}

int rc_cuda_act_backward(void *dinp, const void *inp, const void *dout, size_t n, int act,
	int dtype, struct CUstream_st *s)
{
	return rc_cuda_act_backward_v(ew_variant({ dinp, inp, dout }), ew_block, dinp, inp, dout,
		n, act, dtype, s);
}

int rc_cuda_add(void *out, const void *a, const void *b, size_t n, int dtype,
	struct CUstream_st *s)
{
	return rc_cuda_add_v(ew_variant({ out, a, b }), ew_block, out, a, b, n, dtype, s);
}

int rc_cuda_add_backward(void *da, void *db, const void *dout, size_t n, int dtype,
	struct CUstream_st *s)
{
	return rc_cuda_add_backward_v(ew_variant({ da, db, dout }), ew_block, da, db, dout, n,
		dtype, s);
}
