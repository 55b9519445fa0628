/* ops_cpu.h - the transformer ops of the CPU backend, in fp32: linear
 * layers on OpenBLAS sgemm, the rest as loops parallel over rows with
 * OpenMP. Each op computes what PyTorch computes for CLIP, in the same
 * order where the order changes the rounding; the CUDA ops are checked
 * against these.
 *
 *     // one pre-LN transformer block, activations kept for backward
 *     rc_ops_layernorm(ln1, mean1, rstd1, x, w_ln1, b_ln1, B * T, C, eps);
 *     rc_ops_matmul(qkv, ln1, w_qkv, b_qkv, B * T, C, 3 * C);
 *     rc_ops_attention(y, att, qkv, B, T, C, H, causal, NULL, 0);
 *     rc_ops_matmul(x2, y, w_out, b_out, B * T, C, C);
 *     rc_ops_add(x2, x2, x, B * T * C);
 *     ...
 *
 * Layouts are row-major and packed; weights are [out, in] as PyTorch's
 * nn.Linear stores them. Shapes: B batch, T tokens, C channels, H heads,
 * P patch, S image side. The ops return nothing: sizes are the caller's
 * contract and are checked with rc_assert (a broken one aborts). No op
 * allocates. Outputs may not alias inputs unless an op says so.
 *
 * Threads: every op splits its work with OpenMP (thread.h decides how
 * many threads); OpenBLAS is set to one thread at the first op and each
 * thread calls it on its own block, so that one pool of threads does the
 * work (OpenBLAS's pthreads and OpenMP's threads spinning on the same
 * cores cost 25-40 % of a forward pass). OpenBLAS stays single-threaded
 * in the process from then on.
 *
 * Backward ops (the second half of this header) follow llm.c: each takes
 * the gradient of an op's output (dout) and what the forward kept (its
 * input, layernorm's mean and rstd, attention's probabilities) and ADDS
 * the gradients of the inputs and parameters into the buffers it is
 * given (+=), which the caller zeroes once per step. Accumulating makes a
 * residual branch, a weight shared by several uses and gradient
 * accumulation over micro-batches need no extra code. A gradient pointer
 * may be NULL where the op says so (a gradient nobody needs); gradient
 * buffers never alias each other or the forward's buffers.
 */
#ifndef RCLIP_OPS_CPU_H
#define RCLIP_OPS_CPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* for the C++ kernel tests (tests/cuda/) */
#endif

/* rc_ops_set_threads - use n threads (rc_thread_count(n): 0 = all cores)
 * for the ops, OpenBLAS itself single-threaded. Returns the number set. */
int rc_ops_set_threads(int n);

/* rc_ops_matmul - out[N,OC] = inp[N,C] · w[OC,C]ᵀ + bias[OC], as
 * torch.addmm (out is filled with bias, then sgemm adds the product);
 * bias may be NULL. The output is split in blocks of rows and columns,
 * one sgemm per thread. */
void rc_ops_matmul(float *out, const float *inp, const float *w, const float *bias,
	int N, int C, int OC);

/* rc_ops_layernorm - out[N,C] = (x - mean)·rstd·w + b per row, with the
 * biased variance, rstd = 1/sqrt(var + eps), mean and variance
 * accumulated in double. mean[N] and rstd[N] are kept for backward (either
 * may be NULL). As PyTorch, the affine step is (x·rstd + (-mean·rstd))·w
 * + b. out may equal inp. */
void rc_ops_layernorm(float *out, float *mean, float *rstd, const float *inp,
	const float *w, const float *b, int N, int C, float eps);

/* rc_ops_quick_gelu - out = x·σ(1.702x) = x / (1 + exp(-1.702x)), as
 * HF's QuickGELUActivation. out may equal inp. */
void rc_ops_quick_gelu(float *out, const float *inp, size_t n);

/* rc_ops_gelu - exact GELU, out = (x·0.5)·(1 + erf(x·√½)), as PyTorch's
 * gelu(approximate="none"). out may equal inp. */
void rc_ops_gelu(float *out, const float *inp, size_t n);

/* rc_ops_gelu_tanh - GELU's tanh form, out = 0.5·x·(1 + tanh(β(x +
 * 0.044715x³))), β = √(2/π), as PyTorch's gelu(approximate="tanh") and
 * HF's gelu_pytorch_tanh (SigLIP). out may equal inp. */
void rc_ops_gelu_tanh(float *out, const float *inp, size_t n);

/* rc_ops_act - rc_ops_quick_gelu, rc_ops_gelu or rc_ops_gelu_tanh by enum
 * rc_act. */
void rc_ops_act(float *out, const float *inp, size_t n, int act);

/* rc_ops_softmax - softmax of each row of inp[N,C] into out: max, exp(x -
 * max), sum (in double), times 1/sum. With causal set, row r sees only
 * columns 0 .. r % C (the others are 0): N = blocks × C stacks T×T
 * attention matrices. out may equal inp. */
void rc_ops_softmax(float *out, const float *inp, int N, int C, int causal);

/* rc_ops_attention - multi-head self-attention without projections:
 * qkv[B,T,3C] holds q, k, v side by side in each row (head h at columns
 * h·C/H of each); out[B,T,C] gets softmax(q·kᵀ·scale [+ causal mask])·v
 * per (b, h), heads side by side, scale = (C/H)^-½ applied to the
 * product as HF's eager attention does (sgemm alpha). att[B,H,T,T]
 * receives the probabilities when not NULL (kept for backward; masked
 * entries 0); with att NULL each thread works in scratch, which must hold
 * nscratch × T × T floats, and at most nscratch threads run. */
void rc_ops_attention(float *out, float *att, const float *qkv, int B, int T, int C, int H,
	int causal, float *scratch, int nscratch);

/* rc_ops_add - out = a + b elementwise (out may equal a or b). */
void rc_ops_add(float *out, const float *a, const float *b, size_t n);

/* rc_ops_im2col - the patches of B images pixels[B,3,S,S] as rows:
 * patches[B, (S/P)², 3·P·P], patch (gy, gx) at row gy·(S/P) + gx, each row
 * ordered channel, row, column, the order of a Conv2d weight [C,3,P,P], so
 * that patch embedding is rc_ops_matmul(out, patches, w, NULL, ...). When
 * P does not divide S the last S % P rows and columns are left out, as
 * the stride-P Conv2d does (S/P rounded down patches a side). */
void rc_ops_im2col(float *patches, const float *pixels, int B, int S, int P);

/* rc_ops_l2norm - out[N,D] = inp / ‖inp‖ per row, as HF's CLIPModel:
 * the norm is sqrt of the sum of squares (accumulated in double, rounded
 * to float) and each value is divided by it. norm[N] keeps the norms for
 * backward (may be NULL). A zero row gives NaNs, as in PyTorch. out may
 * equal inp. */
void rc_ops_l2norm(float *out, float *norm, const float *inp, int N, int D);

/* rc_ops_embed_tokens - out[B,T,C] = wte[ids[b,t]] + wpe[t]; ids must be in
 * [0, V) (the caller checks them: rc_assert here). */
void rc_ops_embed_tokens(float *out, const int32_t *ids, const float *wte, const float *wpe,
	int B, int T, int C, int V);

/* ---------------------------------------------------------------- backward */

/* rc_ops_matmul_backward - for out[N,OC] = inp[N,C]·w[OC,C]ᵀ + bias:
 * dinp[N,C] += dout·w, dw[OC,C] += doutᵀ·inp, dbias[OC] += the column
 * sums of dout (summed in double). Any of the three may be NULL (patch
 * embedding: the pixels need no gradient, the conv has no bias). Each
 * product is split in blocks over threads, one sgemm per block. */
void rc_ops_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
	const float *inp, const float *w, int N, int C, int OC);

/* rc_ops_layernorm_backward - for out = (inp - mean)·rstd·w + b per row of
 * inp[N,C], with mean[N] and rstd[N] as rc_ops_layernorm kept them:
 * dinp += rstd·(g - mean(g) - n·mean(g·n)) with g = w·dout and n the
 * normalised input, dw[C] += Σ_rows n·dout, db[C] += Σ_rows dout (row
 * reductions in double). dw and db may be NULL (not wanted). */
void rc_ops_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
	const float *inp, const float *w, const float *mean, const float *rstd, int N, int C);

/* rc_ops_quick_gelu_backward - dinp += dout·(s + 1.702·x·s·(1 - s)) with
 * s = σ(1.702x), x = inp: the derivative of rc_ops_quick_gelu. */
void rc_ops_quick_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* rc_ops_gelu_backward - dinp += dout·(Φ(x) + x·φ(x)), the derivative of
 * exact GELU (Φ, φ the normal CDF and density). */
void rc_ops_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* rc_ops_gelu_tanh_backward - dinp += dout·(½(1 + th) + ½x(1 - th²)·β(1 +
 * 3·0.044715x²)), th = tanh(β(x + 0.044715x³)): PyTorch's formula. */
void rc_ops_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* rc_ops_act_backward - one of the three by enum rc_act. */
void rc_ops_act_backward(float *dinp, const float *inp, const float *dout, size_t n, int act);

/* rc_ops_softmax_backward - for out = rc_ops_softmax(inp) (out[N,C] the
 * probabilities): dinp += out·(dout - Σ_j out·dout) per row, summed in
 * double; with causal set, row r only over columns 0 .. r % C (the
 * masked entries get nothing). */
void rc_ops_softmax_backward(float *dinp, const float *dout, const float *out, int N, int C,
	int causal);

/* rc_ops_attention_backward - the gradient of rc_ops_attention: given
 * dout[B,T,C], the forward's input qkv[B,T,3C] and its probabilities
 * att[B,H,T,T], dqkv[B,T,3C] += the gradients of q, k and v (laid out as
 * qkv). Per (b, h): datt = dout·vᵀ, dv += attᵀ·dout, softmax backward
 * (the causal mask: masked scores get no gradient), dq += scale·ds·k,
 * dk += scale·dsᵀ·q with the forward's scale (C/H)^-½. Each thread works
 * in scratch, nscratch × T × T floats; at most nscratch threads run. */
void rc_ops_attention_backward(float *dqkv, const float *dout, const float *qkv,
	const float *att, int B, int T, int C, int H, int causal, float *scratch, int nscratch);

/* rc_ops_add_backward - for out = a + b (a residual): da += dout and
 * db += dout; either may be NULL. */
void rc_ops_add_backward(float *da, float *db, const float *dout, size_t n);

/* rc_ops_embed_patches_backward - for HF's vision embeddings
 * embed[B,T,C] = [cls; patch_out[b]] + pos (class token at position 0,
 * patches 1..T-1): dpatch[B,T-1,C] += the patch rows of dembed,
 * dcls[C] += Σ_b dembed[b,0], dpos[T,C] += Σ_b dembed[b] (batch sums in
 * double); any of the three may be NULL. The conv's weight gradient is then rc_ops_matmul_backward(NULL,
 * dw, NULL, dpatch, patches, w, B·(T-1), 3·P·P, C) on the kept im2col
 * patches. */
void rc_ops_embed_patches_backward(float *dpatch, float *dcls, float *dpos, const float *dembed,
	int B, int T, int C);

/* rc_ops_embed_tokens_backward - for rc_ops_embed_tokens:
 * dwte[ids[b,t]] += dout[b,t] (a scatter-add: repeated ids add up) and
 * dwpe[t] += Σ_b dout[b,t]. Parallel over channels, so no two threads
 * touch one float and the result does not depend on the thread count.
 * dwte or dwpe may be NULL. */
void rc_ops_embed_tokens_backward(float *dwte, float *dwpe, const float *dout,
	const int32_t *ids, int B, int T, int C);

/* rc_ops_l2norm_backward - for out = inp/‖inp‖ per row of [N,D], with the
 * forward's out and norm[N]: dinp += (dout - out·(out·dout)) / norm. */
void rc_ops_l2norm_backward(float *dinp, const float *dout, const float *out,
	const float *norm, int N, int D);

/* rc_ops_pool_backward - for pooled[b] = x[b, idx[b]] with x[B,T,C] (the
 * text's end token; idx NULL: position 0, the class token):
 * dx[b, idx[b]] += dpooled[b]; the other rows get nothing. */
void rc_ops_pool_backward(float *dx, const float *dpooled, const int32_t *idx, int B, int T,
	int C);

#ifdef __cplusplus
}
#endif

#endif
