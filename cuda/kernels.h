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

/* ---------------------------------------------------------------- optimizer */
/* cuda/adamw.cu; CPU twins in model/optim_cpu.h. The parameters, their
 * gradients, AdamW's moments (and the L2 anchor) are each one fp32
 * allocation of N floats laid out as the parameters; a table of the
 * tensors, in device memory, gives each its offset, size and group. */

#define RC_CUDA_MAX_GROUPS 8    /* = RC_OPTIM_MAX_GROUPS */

/* One tensor of the table: n floats from offset in every buffer laid out
 * as the parameters. The table is sorted by offset and covers [0, N)
 * without gaps or overlaps (rc_cuda_tensor_table_check says so). */
struct rc_cuda_tensor {
	size_t offset, n;
	int group;              /* 0 .. ngroups-1 */
};

/* rc_cuda_tensor_table_check - check a host copy of a table before it is
 * uploaded: sorted, from 0, no gaps or overlaps, groups in 0..ngroups-1
 * (ngroups <= RC_CUDA_MAX_GROUPS). Returns 0 and *N (the floats it
 * covers), or RC_E_ARG, logged. */
int rc_cuda_tensor_table_check(const struct rc_cuda_tensor *t, int nt, int ngroups, size_t *N);

/* rc_cuda_adamw_step - one AdamW update of all N parameters in one
 * launch, as rc_adamw_step (torch.optim.AdamW's single-tensor update in
 * float): with a = lr[group], p ← p·(1 - a·wd[group]); m ← m + (1-β1)(g -
 * m); v ← β2·v + (1-β2)·g²; p ← p - a/(1-β1ᵗ)·m/(√v/√(1-β2ᵗ) + eps), t =
 * step (this update's number, from 1). The bias corrections and the
 * per-group factors are computed on the host as the CPU does, and every
 * operation is rounded as there (no FMA contraction): the result has the
 * CPU's bits. p16 (may be NULL): a bf16 copy of the updated parameters
 * (round to nearest even) for the forward pass. lr, wd: host arrays of
 * ngroups. */
int rc_cuda_adamw_step(float *p, void *p16, float *m, float *v, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, int ngroups, const float *lr,
	const float *wd, long step, float beta1, float beta2, float eps,
	struct CUstream_st *stream);

/* rc_cuda_grad_norm - *norm = √(Σ g²) over the N gradients, summed in
 * double (per-part sums, then the parts in order) and rounded to float
 * once: the CPU's rc_grad_norm to the float. A NaN or an infinity makes
 * it non-finite. */
int rc_cuda_grad_norm(float *norm, void *scratch, const float *g, size_t N,
	struct CUstream_st *stream);
size_t rc_cuda_grad_scratch(size_t N);

/* rc_cuda_grad_finite - *bad = the index in the table of the first tensor
 * whose gradient holds a NaN or an infinity, or -1 (rc_grad_finite). */
int rc_cuda_grad_finite(int *bad, void *scratch, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, struct CUstream_st *stream);

/* rc_cuda_grad_scale_all - g *= c over the N gradients (rc_grad_scale_all,
 * the clipping: c = max_norm/(norm + 1e-6) when that is below 1). */
int rc_cuda_grad_scale_all(float *g, size_t N, float c, struct CUstream_st *stream);

int rc_cuda_adamw_step_v(int block, float *p, void *p16, float *m, float *v,
	const float *g, const struct rc_cuda_tensor *table, int nt, size_t N, int ngroups,
	const float *lr, const float *wd, long step, float beta1, float beta2, float eps,
	struct CUstream_st *stream);
int rc_cuda_grad_norm_v(int block, float *norm, void *scratch, const float *g, size_t N,
	struct CUstream_st *stream);
int rc_cuda_grad_finite_v(int block, int *bad, void *scratch, const float *g,
	const struct rc_cuda_tensor *table, int nt, size_t N, struct CUstream_st *stream);
int rc_cuda_grad_scale_all_v(int block, float *g, size_t N, float c,
	struct CUstream_st *stream);

#ifdef __cplusplus
}
#endif

#endif
