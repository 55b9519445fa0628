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
#include <stdint.h>

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

/* ---------------------------------------------------------------- embeddings, pooling
 *
 * The two ends of the towers (cuda/embed.cu, cuda/pool.cu). Pixels come as
 * uint8, ids and pooled positions as int32 (device memory, but for the
 * token backward's host_ids); activations and the weights they meet (cls,
 * pos, wte, wpe) are of the dtype given; parameter gradients are fp32. One
 * kernel shape each: the _v forms take the block size (a multiple of 32,
 * at most 1024) first. The largest tensor of a call may hold at most
 * INT_MAX - 1024 values (RC_E_ARG beyond).
 *
 *     // vision: pixels to patches, the conv as a GEMM, then the embeddings
 *     rc_cuda_patches(patches, rgb, B, S, P, RC_CUDA_BF16, stream);
 *     ... patch_out[B·(T-1), C] = patches · conv_wᵀ ...
 *     rc_cuda_embed_patches(embed, patch_out, cls, pos, B, T, C, RC_CUDA_BF16, stream);
 *     // text
 *     rc_cuda_embed_tokens(embed, ids, wte, wpe, B, T, C, V, RC_CUDA_BF16, stream);
 *     ...
 *     rc_cuda_embed_tokens_backward(dwte, dwpe, work, dembed, host_ids, B, T, C, V,
 *             RC_CUDA_BF16, stream);
 */

/* rc_cuda_patches - B uint8 RGB images rgb[B,S,S,3] (HWC, as shards store
 * them) as normalised patch rows patches[B, (S/P)², 3·P·P] of dtype: patch
 * (gy, gx) at row gy·(S/P) + gx, each row ordered channel, row, column (a
 * Conv2d weight's order), each value normalised as the family's image
 * processor (family an enum rc_family, model/clip_config.h): CLIP's
 * ((float)(v·(1/255)) - mean[c]) / std[c], SigLIP's (v - 127.5) / 127.5:
 * what rc_clip_pixels_for then rc_ops_im2col give, bit for bit in fp32,
 * rounded in bf16. CLIP: S a positive multiple of P; SigLIP: S >= P, the
 * remainder left out as its Conv2d does. */
int rc_cuda_patches(void *patches, const uint8_t *rgb, int B, int S, int P, int family,
	int dtype, struct CUstream_st *stream);

/* rc_cuda_embed_patches - HF's vision embeddings: embed[B,T,C] = [cls;
 * patch_out[b]] + pos, the class token cls[C] at position 0 and the patch
 * rows patch_out[B,T-1,C] at 1..T-1, pos[T,C] added (T >= 2); the fp32
 * sum of the two, as rc_clip_encode_image's loop. With cls NULL (SigLIP:
 * no class token) the T rows of patch_out[B,T,C] + pos (T >= 1). */
int rc_cuda_embed_patches(void *embed, const void *patch_out, const void *cls, const void *pos,
	int B, int T, int C, int dtype, struct CUstream_st *stream);

/* rc_cuda_embed_patches_backward - as rc_ops_embed_patches_backward:
 * dpatch[B,T-1,C] (dtype) += the patch rows of dembed[B,T,C], dcls[C] +=
 * Σ_b dembed[b,0], dpos[T,C] += Σ_b dembed[b]: batch sums in double, b in
 * order (the CPU's bits), deterministic. Any of dpatch, dcls, dpos may be
 * NULL. Without a class token (SigLIP) dembed is the patch rows'
 * gradient itself: dpos alone (dpatch and dcls NULL) is the backward. */
int rc_cuda_embed_patches_backward(void *dpatch, float *dcls, float *dpos, const void *dembed,
	int B, int T, int C, int dtype, struct CUstream_st *stream);

/* rc_cuda_embed_tokens - out[B,T,C] = wte[ids[b,t]] + wpe[t], as
 * rc_ops_embed_tokens; wte[V,C], wpe[>=T,C]. ids must be in [0, V) (the
 * caller checks them, as rc_clip_check_ids): the kernel writes NaN for
 * one outside rather than read out of bounds. */
int rc_cuda_embed_tokens(void *out, const int32_t *ids, const void *wte, const void *wpe, int B,
	int T, int C, int V, int dtype, struct CUstream_st *stream);

/* rc_cuda_embed_tokens_backward - as rc_ops_embed_tokens_backward:
 * dwte[ids[b,t]] += dout[b,t] (repeated ids add up) and dwpe[t] +=
 * Σ_b dout[b,t] (in double, b in order: the CPU's bits). Only the rows of
 * dwte[V,C] whose ids occur are touched. host_ids: the ids in HOST memory
 * (the forward's, checked here: RC_E_RANGE for one outside [0, V), before
 * any launch). On the host the launcher groups the positions by id, in
 * position order, and cuts each group into runs of at most 32 rows, and
 * copies that plan into work (device memory of
 * rc_cuda_embed_tokens_backward_work(B, T, C) bytes, aligned to 16 as
 * cudaMalloc's; the copy is from pageable memory: the call returns once
 * it is staged). Each run is
 * summed by one warp in fp32, in order: an id of at most 32 positions
 * from dwte's value, as the CPU (its bits); a longer one in partial rows
 * of work that are then added to dwte in order. No float atomics: the
 * same ids and dout give the same bits. dwte or dwpe may be NULL (then
 * host_ids and work may be NULL with dwte). One work buffer per stream
 * that runs this concurrently. */
int rc_cuda_embed_tokens_backward(float *dwte, float *dwpe, void *work, const void *dout,
	const int32_t *host_ids, int B, int T, int C, int V, int dtype, struct CUstream_st *stream);
size_t rc_cuda_embed_tokens_backward_work(int B, int T, int C);

/* rc_cuda_pool - pooled[B,C] = x[b, idx[b]] of x[B,T,C]: the text's pooled
 * positions idx[B] (device memory, computed by the caller as
 * rc_clip_encode_text does), or with idx NULL position 0, the vision
 * class token. An index outside [0, T) gives a row of NaN. */
int rc_cuda_pool(void *pooled, const void *x, const int32_t *idx, int B, int T, int C,
	int dtype, struct CUstream_st *stream);

/* rc_cuda_pool_backward - as rc_ops_pool_backward: dx[b, idx[b]] +=
 * dpooled[b] (idx NULL: position 0); the other rows are not touched; an
 * index outside [0, T) adds nothing. */
int rc_cuda_pool_backward(void *dx, const void *dpooled, const int32_t *idx, int B, int T,
	int C, int dtype, struct CUstream_st *stream);

/* rc_cuda_l2norm - out[N,D] = inp / ‖inp‖ per row, as rc_ops_l2norm: the
 * sum of squares in double, its float square root kept in norm[N] (fp32,
 * may be NULL); fp32 gives the CPU's bits (see pool.cu). A zero row gives
 * NaNs. out may equal inp. */
int rc_cuda_l2norm(void *out, float *norm, const void *inp, int N, int D, int dtype,
	struct CUstream_st *stream);

/* rc_cuda_l2norm_backward - as rc_ops_l2norm_backward, with the forward's
 * out and norm: dinp += (dout - out·(out·dout)) / norm, the dot product in
 * double. */
int rc_cuda_l2norm_backward(void *dinp, const void *dout, const void *out, const float *norm,
	int N, int D, int dtype, struct CUstream_st *stream);

int rc_cuda_patches_v(int block, void *patches, const uint8_t *rgb, int B, int S, int P,
	int family, int dtype, struct CUstream_st *stream);
int rc_cuda_embed_patches_v(int block, void *embed, const void *patch_out, const void *cls,
	const void *pos, int B, int T, int C, int dtype, struct CUstream_st *stream);
int rc_cuda_embed_patches_backward_v(int block, void *dpatch, float *dcls, float *dpos,
	const void *dembed, int B, int T, int C, int dtype, struct CUstream_st *stream);
int rc_cuda_embed_tokens_v(int block, void *out, const int32_t *ids, const void *wte,
	const void *wpe, int B, int T, int C, int V, int dtype, struct CUstream_st *stream);
int rc_cuda_embed_tokens_backward_v(int block, float *dwte, float *dwpe, void *work,
	const void *dout, const int32_t *host_ids, int B, int T, int C, int V, int dtype,
	struct CUstream_st *stream);
int rc_cuda_pool_v(int block, void *pooled, const void *x, const int32_t *idx, int B, int T,
	int C, int dtype, struct CUstream_st *stream);
int rc_cuda_pool_backward_v(int block, void *dx, const void *dpooled, const int32_t *idx, int B,
	int T, int C, int dtype, struct CUstream_st *stream);
int rc_cuda_l2norm_v(int block, void *out, float *norm, const void *inp, int N, int D, int dtype,
	struct CUstream_st *stream);
int rc_cuda_l2norm_backward_v(int block, void *dinp, const void *dout, const void *out,
	const float *norm, int N, int D, int dtype, struct CUstream_st *stream);

/* ---------------------------------------------------------------- cast (cast.cu) */

/* rc_cuda_cast - dst[n] of dst_dtype = src[n] of src_dtype: fp32 to bf16
 * rounds to nearest even (__float2bfloat16_rn), bf16 to fp32 is exact,
 * the same types copy. Returns 0 or RC_E_ARG (a dtype), logged. */
int rc_cuda_cast(void *dst, int dst_dtype, const void *src, int src_dtype, size_t n,
	struct CUstream_st *stream);
int rc_cuda_cast_v(int block, void *dst, int dst_dtype, const void *src, int src_dtype,
	size_t n, struct CUstream_st *stream);
/* ---------------------------------------------------------------- elementwise (act.cu) */

/* The variants of the elementwise kernels and of the bias gradient: one
 * value per thread access, or 16-byte packs (4 floats, 8 bf16), which
 * need every buffer 16-byte aligned (the _v launchers refuse others with
 * RC_E_ARG; the plain ones take the packs where the buffers allow). */
enum rc_cuda_ew_variant {
	RC_CUDA_EW_SCALAR = 0,
	RC_CUDA_EW_VEC = 1,
	RC_CUDA_EW_VARIANTS = 2,
};

/* rc_cuda_act_forward - out[n] = act(inp) as rc_ops_act: act is an enum
 * rc_act (model/clip_config.h): RC_ACT_QUICK_GELU (0) x·σ(1.702x),
 * RC_ACT_GELU (1), the exact erf GELU, or RC_ACT_GELU_TANH (2), SigLIP's
 * gelu_pytorch_tanh. out may equal inp; n = 0 does nothing. */
int rc_cuda_act_forward(void *out, const void *inp, size_t n, int act, int dtype,
	struct CUstream_st *stream);

/* rc_cuda_act_backward - dinp[n] += dout·act'(inp), as rc_ops_act_backward
 * (inp is the activation's input, the pre-activation). */
int rc_cuda_act_backward(void *dinp, const void *inp, const void *dout, size_t n, int act,
	int dtype, struct CUstream_st *stream);

/* rc_cuda_add - out[n] = a + b, as rc_ops_add (the residual); out may
 * equal a or b. */
int rc_cuda_add(void *out, const void *a, const void *b, size_t n, int dtype,
	struct CUstream_st *stream);

/* rc_cuda_add_backward - da += dout and db += dout, as rc_ops_add_backward;
 * either may be NULL. */
int rc_cuda_add_backward(void *da, void *db, const void *dout, size_t n, int dtype,
	struct CUstream_st *stream);

int rc_cuda_act_forward_v(int variant, int block, void *out, const void *inp, size_t n, int act,
	int dtype, struct CUstream_st *stream);
int rc_cuda_act_backward_v(int variant, int block, void *dinp, const void *inp, const void *dout,
	size_t n, int act, int dtype, struct CUstream_st *stream);
int rc_cuda_add_v(int variant, int block, void *out, const void *a, const void *b, size_t n,
	int dtype, struct CUstream_st *stream);
int rc_cuda_add_backward_v(int variant, int block, void *da, void *db, const void *dout, size_t n,
	int dtype, struct CUstream_st *stream);

/* ---------------------------------------------------------------- gemm (gemm.cu) */

/* struct rc_cuda_blas - what the GEMMs run with: a cuBLASLt handle, a
 * 32 MiB workspace and the stream they are queued on. One per host
 * thread (a GEMM uses the workspace until it completes on the stream).
 * rc_cuda_blas_create returns 0, RC_E_UNSUPPORTED where cuBLASLt cannot
 * start (no GPU or driver: cublasLtCreate's CUBLAS_STATUS_NOT_INITIALIZED)
 * or RC_E_NOMEM, logged; *h is NULL on error. destroy(NULL) is a no-op. */
struct rc_cuda_blas;
int rc_cuda_blas_create(struct rc_cuda_blas **h, struct CUstream_st *stream);
void rc_cuda_blas_destroy(struct rc_cuda_blas *h);
void rc_cuda_blas_set_stream(struct rc_cuda_blas *h, struct CUstream_st *stream);

/* rc_cuda_gemm - C = alpha·op(A)·op(B) + beta·C [+ bias] in row-major
 * terms, for each of batch matrices: C is M×N with rows ldc elements
 * apart; op(A) is M×K, A itself stored M×K (lda >= K) or, with transa,
 * K×M (lda >= M), Aᵀ being used; op(B) is K×N, B stored K×N (ldb >= N)
 * or, with transb, N×K (ldb >= K). Batch entry i starts stride_x elements
 * after entry i-1 (0 repeats one A or B; C's entries may not overlap).
 * bias: NULL or N values of C's type, added to every row before C is
 * stored. beta = 0 does not read C (it may hold NaN).
 * Types: ab_dtype for A and B, c_dtype for C and bias: fp32 → fp32,
 * bf16 → bf16 or bf16 → fp32 (a weight gradient); the products are summed
 * in fp32 either way (CUBLAS_COMPUTE_32F: no TF32), and any split of K is
 * reduced in fp32.
 * Returns 0, or RC_E_ARG for a shape, leading dimension, stride or type
 * this does not take (logged: which), RC_E_UNSUPPORTED where cuBLASLt
 * has no algorithm or fails. */
struct rc_cuda_gemm_args {
	int M, N, K, batch;
	int transa, transb;
	const void *A;
	int lda;
	long long stride_a;
	const void *B;
	int ldb;
	long long stride_b;
	void *C;
	int ldc;
	long long stride_c;
	const void *bias;
	float alpha, beta;
	int ab_dtype, c_dtype;
};
int rc_cuda_gemm(struct rc_cuda_blas *h, const struct rc_cuda_gemm_args *g);

#define RC_CUDA_ACT_NONE (-1)

/* rc_cuda_matmul_forward - the linear layer, as rc_ops_matmul:
 * out[N,OC] = inp[N,C]·w[OC,C]ᵀ + bias[OC] (bias may be NULL), then
 * act: RC_CUDA_ACT_NONE, or an enum rc_act applied by rc_cuda_act_forward
 * (cuBLASLt's GELU epilogue is the tanh approximation, and it has no
 * quick_gelu). With an activation, pre[N,OC] receives the product (the
 * backward's input) and out the activation; pre NULL computes in out and
 * applies the activation in place. out, pre, inp, w, bias of dtype. */
int rc_cuda_matmul_forward(struct rc_cuda_blas *h, void *out, void *pre, const void *inp,
	const void *w, const void *bias, int N, int C, int OC, int act, int dtype);

/* rc_cuda_matmul_backward - as rc_ops_matmul_backward: dinp[N,C] +=
 * dout·w, dw[OC,C] += doutᵀ·inp (GEMMs with beta = 1), dbias[OC] += the
 * column sums of dout (a kernel of this file: partial sums over groups
 * of rows, added in a fixed order, so the bits do not depend on timing).
 * dinp, dout, inp, w of dtype; dw, dbias fp32; any of dinp, dw, dbias may
 * be NULL. scratch: rc_cuda_matmul_backward_scratch(N, OC) bytes of
 * device memory when dbias is wanted. */
int rc_cuda_matmul_backward(struct rc_cuda_blas *h, void *dinp, float *dw, float *dbias,
	float *scratch, const void *dout, const void *inp, const void *w, int N, int C, int OC,
	int dtype);
size_t rc_cuda_matmul_backward_scratch(int N, int OC);

/* rc_cuda_matmul_dbias_v - dbias[OC] += the column sums of dout[N,OC] by
 * a given variant (enum rc_cuda_ew_variant: a column per thread, or 16
 * bytes of columns, which needs OC·sizeof(dtype) a multiple of 16 and
 * dout aligned) at a given block size; for the tests. */
int rc_cuda_matmul_dbias_v(int variant, int block, float *dbias, float *scratch,
	const void *dout, int N, int OC, int dtype, struct CUstream_st *stream);
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

/* rc_cuda_loss_clip_backward_rows - the same in the official code's
 * rank-local form for the rank of rows [lo, lo+n) (0 ≤ lo, 1 ≤ n, lo + n
 * ≤ B), as rc_loss_clip_backward_rows: where only one of text i and image
 * j is the rank's, dP[i,j] keeps only that one's softmax term; the scale
 * gradient is the whole loss's. lo = 0, n = B is the plain backward, bit
 * for bit. */
int rc_cuda_loss_clip_backward_rows(float *dP, float *dlogit_scale, void *scratch,
	const float *P, const float *lse, const float *logit_scale, int B, int lo, int n,
	float dloss, struct CUstream_st *stream);
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

/* rc_cuda_loss_siglip_backward_rows - the rank-local form for the rank
 * of images [lo, lo+n), as rc_loss_siglip_backward_rows: dP kept in those
 * columns, zero in the others; the scale and bias gradients the whole
 * loss's. lo = 0, n = B is the plain backward, bit for bit. */
int rc_cuda_loss_siglip_backward_rows(float *dP, float *dlogit_scale, float *dlogit_bias,
	void *scratch, const float *P, const float *logit_scale, const float *logit_bias, int B,
	int lo, int n, float dloss, struct CUstream_st *stream);
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
	void *scratch, const float *P, const float *lse, const float *logit_scale, int B, int lo,
	int n, float dloss, struct CUstream_st *stream);
int rc_cuda_loss_siglip_forward_v(int variant, int block, float *loss, void *scratch,
	const float *P, const float *logit_scale, const float *logit_bias, int B,
	struct CUstream_st *stream);
int rc_cuda_loss_siglip_backward_v(int variant, int block, float *dP, float *dlogit_scale,
	float *dlogit_bias, void *scratch, const float *P, const float *logit_scale,
	const float *logit_bias, int B, int lo, int n, float dloss, struct CUstream_st *stream);
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

/* ---------------------------------------------------------------- attention pooling */
/* cuda/attnpool.cu: the attention of SigLIP's pooling head, one query
 * for the whole batch; CPU twins rc_siglip_attend and
 * rc_siglip_attend_backward (model/cpu.h). One kernel shape: the _v forms
 * take the block size (a multiple of 32, at most 1024). */

/* rc_cuda_attnpool_forward - per image b and head h of H: the query q[C]
 * (the projected probe, unscaled: the kernel scales it by (C/H)^-½ in
 * fp32) against keys and values kv[B,T,2C] (keys in columns [0,C), values
 * in [C,2C) of each row): att[B,H,T] = softmax(q·kᵀ) (fp32, kept for the
 * backward), out[B,C] = Σ_t att·v, heads side by side. q, kv, out of
 * dtype; C/H <= 128. */
int rc_cuda_attnpool_forward(void *out, float *att, const void *q, const void *kv, int B, int T,
	int C, int H, int dtype, struct CUstream_st *stream);

/* rc_cuda_attnpool_backward - for it, given dout[B,C] and its att: dkv
 * [B,T,2C] += the keys' and values' gradients, dq[C] += the unscaled
 * query's summed over the batch (per image into scratch, then added over
 * b in order, in double). dkv, dq, dout, q, kv of dtype. scratch: device
 * memory of rc_cuda_attnpool_backward_scratch(B, C) bytes. No atomics:
 * the same inputs give the same bits. */
int rc_cuda_attnpool_backward(void *dkv, void *dq, float *scratch, const void *dout,
	const void *q, const void *kv, const float *att, int B, int T, int C, int H, int dtype,
	struct CUstream_st *stream);
size_t rc_cuda_attnpool_backward_scratch(int B, int C);

int rc_cuda_attnpool_forward_v(int block, void *out, float *att, const void *q, const void *kv,
	int B, int T, int C, int H, int dtype, struct CUstream_st *stream);
int rc_cuda_attnpool_backward_v(int block, void *dkv, void *dq, float *scratch, const void *dout,
	const void *q, const void *kv, const float *att, int B, int T, int C, int H, int dtype,
	struct CUstream_st *stream);

#ifdef __cplusplus
}
#endif

#endif
