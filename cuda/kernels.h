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

/* ---------------------------------------------------------------- losses */
/* cuda/loss.cu; CPU twins in model/loss.h. Everything is fp32 on the
 * device: logits, their gradients, log-sum-exps, the scalars out.
 *
 * The contrastive losses take the raw products P[B,B] = txt·imgᵀ (row i a
 * text, column j an image), which the caller's GEMM computes with alpha
 * 1, and the parameters by device pointer: logit_scale s (a log; the
 * kernels scale by expf(s) themselves, so the scale stays on the device
 * and needs no synchronisation) and SigLIP's logit_bias b. The backward
 * writes dP[B,B], the gradient of the loss with respect to P (exp(s) is
 * in it), so that the caller's GEMMs finish it: dtxt += dP·img, dimg +=
 * dPᵀ·txt. dP may be P itself (in place: B² floats saved).
 *
 *     // one CLIP stream of a step, all on stream s; P, lse, scratch and
 *     // the loss slot are the backend's
 *     gemm(P = txt·imgᵀ, alpha 1);                       // [B,B] fp32
 *     rc_cuda_loss_clip_forward(&slot[k], lse, scratch, P, &params[ls], B, s);
 *     rc_cuda_loss_clip_backward(P, &grads[ls], scratch, P, lse, &params[ls],
 *             B, w, s);                                   // dP in place
 *     gemm(dtxt += P·img), gemm(dimg += Pᵀ·txt);
 *     ...                                                 // later, once
 *     cudaMemcpyAsync(host, slot, ..., s), cudaStreamSynchronize(s);
 *
 * Scalars: a loss is WRITTEN (as a float) to a device float the caller
 * names; gradients of the scalar parameters are ADDED (dlogit_scale,
 * dlogit_bias: device floats, e.g. in the gradient buffer), as the CPU
 * backend does. Nothing here synchronises: the caller downloads a loss
 * when it needs it (cudaMemcpyAsync on the same stream, then
 * cudaStreamSynchronize), so several can be fetched at once.
 *
 * Sums: every sum over elements goes through per-row or per-block parts
 * in a scratch buffer (the *_scratch functions give its size in bytes),
 * added by one block in a fixed order, in double: the same launch gives
 * the same bits run after run. Scratch may be shared by the launches of
 * one stream; it holds nothing between them.
 */

struct rc_cuda_tensor; /* the parameter table, in the optimizer's section */

enum rc_cuda_loss_variant {
	RC_CUDA_LOSS_WARP = 0,   /* the B×B row passes: one warp per row */
	RC_CUDA_LOSS_BLOCK = 1,  /* one block per row */
	RC_CUDA_LOSS_VARIANTS = 2,
};

/* rc_cuda_loss_clip_forward - the CLIP loss ½(CE(L) + CE(Lᵀ)) of the
 * logits L = expf(s)·P, as rc_loss_clip_forward: lse[0..B) gets the
 * log-sum-exp of each row of L (text i over the images), lse[B..2B) of
 * each column (image j over the texts), in fp32 (a running maximum and
 * sum); both are kept for the backward. *loss = the loss (0 for B = 1).
 * Rows are read along the row, columns in row order by threads of
 * consecutive columns (coalesced both ways), in groups of rows (at most
 * 64, a function of B) whose partial maxima and sums meet in scratch. */
int rc_cuda_loss_clip_forward(float *loss, float *lse, void *scratch, const float *P,
	const float *logit_scale, int B, struct CUstream_st *stream);

/* rc_cuda_loss_clip_backward - after the forward (lse as it left it):
 * dP[B,B] = dloss·∂loss/∂P = expf(s)·dloss·(softmax_row(L) +
 * softmax_col(L) - 2·I)/(2B), and *dlogit_scale += dloss·∂loss/∂s =
 * Σ (∂loss/∂L)⊙L (dlogit_scale may be NULL). */
int rc_cuda_loss_clip_backward(float *dP, float *dlogit_scale, void *scratch, const float *P,
	const float *lse, const float *logit_scale, int B, float dloss,
	struct CUstream_st *stream);
size_t rc_cuda_loss_clip_scratch(int B);

/* rc_cuda_loss_siglip_forward - SigLIP's loss -(1/B)·Σ log σ(y·z), z =
 * expf(s)·P + b, y = +1 on the diagonal and -1 off it, as
 * rc_loss_siglip_forward: *loss. */
int rc_cuda_loss_siglip_forward(float *loss, void *scratch, const float *P,
	const float *logit_scale, const float *logit_bias, int B, struct CUstream_st *stream);

/* rc_cuda_loss_siglip_backward - dP[B,B] = dloss·∂loss/∂P; *dlogit_scale
 * and *dlogit_bias += dloss·∂loss/∂s, ∂loss/∂b (either may be NULL). */
int rc_cuda_loss_siglip_backward(float *dP, float *dlogit_scale, float *dlogit_bias,
	void *scratch, const float *P, const float *logit_scale, const float *logit_bias, int B,
	float dloss, struct CUstream_st *stream);
size_t rc_cuda_loss_siglip_scratch(int B);

/* rc_cuda_loss_softmax_ce - the stage-2 text head, as rc_loss_softmax_ce:
 * *loss = Σ_r (logsumexp(x[r]) - x[r,y[r]]) / norm over x[n,K] (fp32)
 * with labels y[n] (uint8, 0..K-1; another label gives a NaN loss); dx
 * (may be NULL) += dloss·(softmax(x[r]) - onehot(y[r]))/norm. One
 * thread per row: K is small (the heads' 5 classes). */
int rc_cuda_loss_softmax_ce(float *loss, float *dx, void *scratch, const float *x,
	const unsigned char *y, int n, int K, int norm, float dloss, struct CUstream_st *stream);

/* rc_cuda_loss_bce_logits - the stage-2 image head, as
 * rc_loss_bce_logits: *loss = Σ (max(x,0) - x·t + log(1 + exp(-|x|))) /
 * (norm·K) over x[n,K] against targets t[n,K]; dx (may be NULL) +=
 * dloss·(σ(x) - t)/(norm·K). */
int rc_cuda_loss_bce_logits(float *loss, float *dx, void *scratch, const float *x,
	const float *t, int n, int K, int norm, float dloss, struct CUstream_st *stream);
size_t rc_cuda_loss_heads_scratch(int n, int K);

/* rc_cuda_loss_l2_anchor - the L2 pull toward the starting weights over
 * the tensors of the table (struct rc_cuda_tensor below, in device
 * memory) whose group is in the bit mask groups: *loss = beta·Σ (p -
 * p0)² (each difference in fp32, the squares summed in double, as
 * rc_loss_l2_anchor), and grad (may be NULL) += 2·beta·(p - p0) with the
 * CPU's roundings (the same bits). p, p0, grad: the buffers laid out as
 * the parameters, N floats. */
int rc_cuda_loss_l2_anchor(float *loss, float *grad, void *scratch, const float *p,
	const float *p0, const struct rc_cuda_tensor *table, int nt, size_t N, unsigned groups,
	float beta, struct CUstream_st *stream);
size_t rc_cuda_loss_l2_scratch(size_t N);

/* The _v forms run a given variant (the B×B losses) at a given block
 * size, for the tests; the heads and the L2 pull have one variant. */
int rc_cuda_loss_clip_forward_v(int variant, int block, float *loss, float *lse,
	void *scratch, const float *P, const float *logit_scale, int B,
	struct CUstream_st *stream);
int rc_cuda_loss_clip_backward_v(int variant, int block, float *dP, float *dlogit_scale,
	void *scratch, const float *P, const float *lse, const float *logit_scale, int B,
	float dloss, struct CUstream_st *stream);
int rc_cuda_loss_siglip_forward_v(int variant, int block, float *loss, void *scratch,
	const float *P, const float *logit_scale, const float *logit_bias, int B,
	struct CUstream_st *stream);
int rc_cuda_loss_siglip_backward_v(int variant, int block, float *dP, float *dlogit_scale,
	float *dlogit_bias, void *scratch, const float *P, const float *logit_scale,
	const float *logit_bias, int B, float dloss, struct CUstream_st *stream);
int rc_cuda_loss_softmax_ce_v(int block, float *loss, float *dx, void *scratch,
	const float *x, const unsigned char *y, int n, int K, int norm, float dloss,
	struct CUstream_st *stream);
int rc_cuda_loss_bce_logits_v(int block, float *loss, float *dx, void *scratch,
	const float *x, const float *t, int n, int K, int norm, float dloss,
	struct CUstream_st *stream);
int rc_cuda_loss_l2_anchor_v(int block, float *loss, float *grad, void *scratch,
	const float *p, const float *p0, const struct rc_cuda_tensor *table, int nt, size_t N,
	unsigned groups, float beta, struct CUstream_st *stream);

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
