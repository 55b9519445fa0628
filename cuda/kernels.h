/* kernels.h - the host launchers of the CUDA kernel families (cuda/NAME.cu),
 * callable from C. Each launcher checks its shapes, sizes the grid,
 * launches on the given stream and checks the launch; the work itself is
 * asynchronous. Each family has a CPU twin in model/ops_cpu.h with the
 * same semantics, and a test (tests/cuda/) that compares the two, through
 * the CUDA emulation (cuda/emu.h) and on a GPU when there is one.
 *
 *     // one pre-LN block's first norm, bf16 activations, fp32 statistics
 *     rc_cuda_layernorm_forward(ln1, mean, rstd, x, w, b, B * T, C, 1e-5f,
 *             RC_CUDA_BF16, stream);
 *     ...
 *     rc_cuda_layernorm_backward(dx, dw, db, scratch, dln1, x, w, mean, rstd,
 *             B * T, C, RC_CUDA_BF16, stream);
 *
 * Memory: every pointer is device memory, laid out as the CPU twin's
 * (row-major, packed). Activations (inputs, outputs, their gradients) and
 * the weights they meet are of the dtype given; statistics (mean, rstd)
 * and parameter gradients are fp32. Backward launchers ADD into their
 * gradient buffers, as the CPU ops do.
 *
 * Errors: 0, or a negative RC_E_* code, logged: RC_E_ARG for a shape, a
 * pointer or a variant the launcher does not take, RC_E_NOMEM / RC_E_ARG /
 * RC_E_UNSUPPORTED for a launch the runtime refused (common.cuh). A kernel
 * that faults later is reported by the next synchronising call.
 *
 * Variants: each family has kernels of different shapes (a warp per row, a
 * block per row); the plain launcher picks one, the _v launchers run a
 * given one at a given block size (a multiple of 32, at most 1024), for
 * the tests, which check every variant at every block size.
 */
#ifndef RCLIP_CUDA_KERNELS_H
#define RCLIP_CUDA_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st; /* cudaStream_t, without the CUDA headers */

enum rc_cuda_dtype {
	RC_CUDA_F32 = 0,
	RC_CUDA_BF16 = 1,
};

/* ---------------------------------------------------------------- layernorm */

enum rc_cuda_ln_variant {
	RC_CUDA_LN_WARP = 0,   /* one warp per row, rows re-read from L1/L2 */
	RC_CUDA_LN_BLOCK = 1,  /* one block per row; forward keeps the row in
	                          shared memory (C <= 12288) */
	RC_CUDA_LN_VARIANTS = 2,
};

/* rc_cuda_layernorm_forward - out[N,C] = (x - mean)·rstd·w + b per row, as
 * rc_ops_layernorm: the biased variance of the row, by two passes in
 * fp32, rstd = 1/sqrt(var + eps). inp, out, w, b of dtype; mean[N] and
 * rstd[N] fp32, either may be NULL. out may equal inp. */
int rc_cuda_layernorm_forward(void *out, float *mean, float *rstd, const void *inp,
	const void *w, const void *b, int N, int C, float eps, int dtype,
	struct CUstream_st *stream);

/* rc_cuda_layernorm_backward - for rc_cuda_layernorm_forward, as
 * rc_ops_layernorm_backward: dinp[N,C] += the input gradient, dw[C] +=
 * Σ_rows n·dout, db[C] += Σ_rows dout (n = (x - mean)·rstd). dinp, dout,
 * inp, w of dtype; mean, rstd, dw, db fp32; dw and db may be NULL.
 * scratch: device memory of rc_cuda_layernorm_backward_scratch(N, C)
 * bytes for the per-block partial sums of dw and db, which are added in a
 * fixed order: the result does not depend on timing (deterministic). */
int rc_cuda_layernorm_backward(void *dinp, float *dw, float *db, float *scratch,
	const void *dout, const void *inp, const void *w, const float *mean, const float *rstd,
	int N, int C, int dtype, struct CUstream_st *stream);
size_t rc_cuda_layernorm_backward_scratch(int N, int C);

int rc_cuda_layernorm_forward_v(int variant, int block, void *out, float *mean, float *rstd,
	const void *inp, const void *w, const void *b, int N, int C, float eps, int dtype,
	struct CUstream_st *stream);
int rc_cuda_layernorm_backward_v(int variant, int block, void *dinp, float *dw, float *db,
	float *scratch, const void *dout, const void *inp, const void *w, const float *mean,
	const float *rstd, int N, int C, int dtype, struct CUstream_st *stream);

/* ---------------------------------------------------------------- attention */

/* Variants: the head width the kernels are built for; a head of d = C/H
 * columns runs on any variant at least as wide (the rest is padded with
 * zeros, the work of the full width). The plain launchers take the
 * narrowest. Block sizes: 32 to 256 threads, 16 rows (queries or keys)
 * per warp. */
enum rc_cuda_att_variant {
	RC_CUDA_ATT_D16 = 0,   /* d <= 16 */
	RC_CUDA_ATT_D32 = 1,   /* d <= 32 */
	RC_CUDA_ATT_D64 = 2,   /* d <= 64: CLIP's heads */
	RC_CUDA_ATT_D128 = 3,  /* d <= 128 */
	RC_CUDA_ATT_VARIANTS = 4,
};

/* rc_cuda_attention_forward - multi-head self-attention without the
 * projections, as rc_ops_attention: qkv[B,T,3C] holds q, k, v side by
 * side in each row (head h at columns h·C/H of each third); out[B,T,C] =
 * softmax(q·kᵀ·scale [+ causal mask])·v per (b, h), heads side by side,
 * scale = (C/H)^-½ applied to the product. Fused (flash attention): the
 * T×T probabilities are never stored. Where the CPU op keeps them
 * (att[B,H,T,T]) for its backward, this keeps lse[B,H,T] (fp32), the
 * natural log of each row's sum of exp(scores), from which
 * rc_cuda_attention_backward recomputes them; lse may be NULL (no
 * backward to follow). qkv and out of dtype, distinct buffers; C/H <= 128.
 * Shared memory over 48 KiB is requested from the runtime where a block
 * needs it (cudaFuncSetAttribute). */
int rc_cuda_attention_forward(void *out, float *lse, const void *qkv, int B, int T, int C,
	int H, int causal, int dtype, struct CUstream_st *stream);

/* rc_cuda_attention_backward - for rc_cuda_attention_forward, as
 * rc_ops_attention_backward: dqkv[B,T,3C] += the gradients of q, k and v
 * (laid out as qkv) given dout[B,T,C], the forward's qkv, out and lse,
 * and causal as there (masked scores get no gradient). dqkv, dout, qkv,
 * out of dtype; lse fp32. scratch: device memory of
 * rc_cuda_attention_backward_scratch(B, T, H) bytes (D = rowsum(dout ∘
 * out) per row, fp32). Two kernels, each writing its own part of dqkv (no
 * atomics): the same inputs give the same bits. */
int rc_cuda_attention_backward(void *dqkv, float *scratch, const void *dout, const void *qkv,
	const void *out, const float *lse, int B, int T, int C, int H, int causal, int dtype,
	struct CUstream_st *stream);
size_t rc_cuda_attention_backward_scratch(int B, int T, int H);

int rc_cuda_attention_forward_v(int variant, int block, void *out, float *lse, const void *qkv,
	int B, int T, int C, int H, int causal, int dtype, struct CUstream_st *stream);
int rc_cuda_attention_backward_v(int variant, int block, void *dqkv, float *scratch,
	const void *dout, const void *qkv, const void *out, const float *lse, int B, int T, int C,
	int H, int causal, int dtype, struct CUstream_st *stream);

#ifdef __cplusplus
}
#endif

#endif
