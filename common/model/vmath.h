/* vmath.h - exp and tanh over arrays of floats, on the widest vectors the
 * CPU has: SLEEF's 1-ulp functions (the library PyTorch's CPU kernels use)
 * on AVX-512 or AVX2 with FMA, else libm one value at a time. The ops of
 * ops_cpu.c call them for softmax and the activations, where libm's expf
 * and tanhf took a third of a SigLIP image encoding.
 *
 *     float mx = rc_vmax(x, n);
 *     double s = rc_vexp_sum(y, x, mx, n);        // y = exp(x - mx)
 *
 * Each value is within 1 ulp of the exact result (libm's expf: 0.5, tanhf:
 * 2);
 * results do not depend on where a value sits in the array, so they do not
 * depend on how a caller splits its work. A path is chosen once per call
 * from the CPU's features; rc_vmath_limit lowers it (tests). Thread-safe
 * except rc_vmath_limit. */
#ifndef RC_MODEL_VMATH_H
#define RC_MODEL_VMATH_H

#include <stddef.h>

/* rc_vexp - y[i] = exp(x[i]) for i < n; y may be x. */
void rc_vexp(float *y, const float *x, size_t n);

/* rc_vtanh - y[i] = tanh(x[i]) for i < n; y may be x. */
void rc_vtanh(float *y, const float *x, size_t n);

/* rc_vmax - the largest of x[0..n), NaNs ignored; -inf when n is 0 or
 * every value is NaN. */
float rc_vmax(const float *x, size_t n);

/* rc_vexp_sum - y[i] = exp(x[i] - shift) (the difference in float) for
 * i < n, and their sum, added in double; y may be x. */
double rc_vexp_sum(float *y, const float *x, float shift, size_t n);

/* rc_vmath_isa - the path in use: "avx512", "avx2" or "scalar". */
const char *rc_vmath_isa(void);

/* rc_vmath_limit - use at most ISA ("avx512", "avx2" or "scalar") from now
 * on, never more than the CPU has; NULL lifts the limit. For tests: call
 * it while no other thread uses these functions. Returns 0, or -1 for an
 * unknown name. */
int rc_vmath_limit(const char *isa);

#endif
