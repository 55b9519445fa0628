/* lowp_cpu.h - the CPU backend's linear layers in bf16 or int8, on oneDNN's
 * matmul (AMX or AVX512 kernels chosen by oneDNN for this CPU at run time).
 * Private to the CPU backend (backend_cpu.c, forward.c) and its tests.
 *
 * A struct rc_lowp holds a packed copy of some of the model's weight
 * matrices, each found by the address of its fp32 tensor, so the forward
 * pass asks "is this weight packed?" as it reaches each linear layer:
 *
 *     struct rc_lowp *lp;
 *     if (rc_lowp_new(&lp, RC_PRECISION_BF16, 1600) < 0)    // logged
 *             return rc;
 *     rc_lowp_pack(lp, w_fc1, I, C);                         // w[I,C] fp32
 *     ...
 *     rc_lowp_matmul(lp, out, x, w_fc1, b_fc1, N, C, I);     // 1: not packed
 *     rc_lowp_free(lp);
 *
 * Arithmetic, per precision (the accuracy contract is in rclip-eval(1)):
 * - bf16: the weights rounded to bf16 once, each input row rounded to
 *   bf16 (to nearest even) before the product; products summed in fp32;
 *   the bias added in fp32. What torch.autocast("cpu", bfloat16) does for
 *   a Linear, except that the weights are converted once, not per call.
 * - int8: the weights quantised per output channel (symmetric, scale =
 *   max|w|/127), each input row quantised at run time (symmetric, scale =
 *   max|x|/127: "dynamic" quantisation), products summed in int32, then
 *   out = sum·row scale·channel scale + bias in fp32.
 * Everything else of the forward pass (layer norms, softmax, attention's
 * two products, GELU, residuals) stays fp32.
 */
#ifndef RCLIP_LOWP_CPU_H
#define RCLIP_LOWP_CPU_H

#include <stddef.h>

struct rc_lowp;

/* rc_lowp_check - 0 when this rclip and this CPU can compute in precision
 * (enum rc_precision: RC_PRECISION_BF16 or RC_PRECISION_INT8), else
 * RC_E_UNSUPPORTED, logged with what is missing (oneDNN in the build, or
 * the CPU's instructions: AVX512-BF16 or AMX for bf16, AVX512-VNNI,
 * AVX-VNNI or AMX for int8, as oneDNN sees them, so ONEDNN_MAX_CPU_ISA
 * can stand in for a lesser CPU) and a hint. */
int rc_lowp_check(int precision);

/* rc_lowp_isa - oneDNN's name for the instructions it uses here ("AMX",
 * "AVX512-BF16", ...), or "none" without oneDNN. */
const char *rc_lowp_isa(void);

/* rc_lowp_new - an empty set of packed weights for products of up to
 * max_rows input rows. Returns 0 and *out (free with rc_lowp_free), or
 * RC_E_UNSUPPORTED (rc_lowp_check's) or RC_E_NOMEM, logged. */
int rc_lowp_new(struct rc_lowp **out, int precision, int max_rows);

/* rc_lowp_free - release lp and its packed weights; NULL does nothing. */
void rc_lowp_free(struct rc_lowp *lp);

/* rc_lowp_pack - add a packed copy of w[OC,C] (fp32, nn.Linear's layout),
 * found later by the address w. Returns 0, or RC_E_ARG (w already
 * packed), RC_E_UNSUPPORTED (oneDNN has no kernel for the shape) or
 * RC_E_NOMEM, logged. */
int rc_lowp_pack(struct rc_lowp *lp, const float *w, int OC, int C);

/* rc_lowp_pack_clip - rc_lowp_pack of the linear layers of m's encoders
 * (attention's qkv and out, the MLP's fc1 and fc2) and the patch embedding,
 * of the image tower when images is set and of the text tower when texts
 * is; the projections stay fp32 (one row per input: too small to gain).
 * Returns 0 or rc_lowp_pack's errors. */
struct rc_clip;
int rc_lowp_pack_clip(struct rc_lowp *lp, const struct rc_clip *m, int images, int texts);

/* rc_lowp_bytes - the memory of the packed weights. */
size_t rc_lowp_bytes(const struct rc_lowp *lp);

/* rc_lowp_matmul - out[N,OC] = inp[N,C]·w[OC,C]ᵀ + bias[OC] (bias may be
 * NULL) with the packed copy of w, in lp's precision; N ≤ max_rows. inp is
 * only read. Returns 0, 1 when w is not packed (nothing done: the caller
 * computes in fp32), or RC_E_UNSUPPORTED / RC_E_NOMEM (a product oneDNN
 * cannot make for N rows), logged. Not thread-safe: one product at a time
 * per lp, itself parallel over the OpenMP threads. */
int rc_lowp_matmul(struct rc_lowp *lp, float *out, const float *inp, const float *w,
	const float *bias, int N, int C, int OC);

/* rc_lowp_matmul_act - rc_lowp_matmul of act(inp) (enum rc_act of
 * clip_config.h; -1: none), the activation computed in fp32 row by row as
 * the input is converted, so that the MLP's wide hidden layer is read
 * once: out = act(inp)·wᵀ + bias; inp is left as it was. quick_gelu's exp
 * is a vectorized one within 2 ulp of libm's; exact GELU uses libm's erff.
 * Returns as rc_lowp_matmul. */
int rc_lowp_matmul_act(struct rc_lowp *lp, float *out, const float *inp, int act,
	const float *w, const float *bias, int N, int C, int OC);

/* rc_lowp_matmul_ln - rc_lowp_matmul of layernorm(inp) with weight ln_w,
 * bias ln_b and eps (rc_ops_layernorm's arithmetic, row by row as the input
 * is converted: the normalised rows are never stored). Returns as
 * rc_lowp_matmul. */
int rc_lowp_matmul_ln(struct rc_lowp *lp, float *out, const float *inp, const float *ln_w,
	const float *ln_b, float eps, const float *w, const float *bias, int N, int C, int OC);

/* rc_lowp_act - y[n] = act(x[n]) as rc_lowp_matmul_act computes it, for
 * the tests (y and x must not overlap). */
void rc_lowp_act(float *y, const float *x, int n, int act);

/* rc_lowp_round_bf16 - x rounded to bf16 (to nearest, ties to even) and
 * back to fp32: the rounding rc_lowp_matmul applies to inputs and bf16
 * weights, for the tests. */
float rc_lowp_round_bf16(float x);

#endif
