/* vmath.c - exp and tanh over arrays on SLEEF's vector functions
 * (vmath.h). Each path is compiled for its instruction set with a target
 * attribute and chosen at run time, so the library builds for any x86-64
 * and uses AVX-512 where the CPU has it. A partial last vector is loaded
 * and stored under a mask (AVX-512) or through a padded copy (AVX2), so a
 * value's result does not depend on its position. */
#include "model/vmath.h"

#include <math.h>
#include <string.h>

enum { ISA_SCALAR, ISA_AVX2, ISA_AVX512 };
static const char *const isa_names[] = { "scalar", "avx2", "avx512" };

static int limit_ = ISA_AVX512;

/* ---------------------------------------------------------------- scalar */

static void exp_scalar(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = expf(x[i]);
}

static void tanh_scalar(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = tanhf(x[i]);
}

static float max_scalar(const float *x, size_t n)
{
	float mx = -INFINITY;
	for (size_t i = 0; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	return mx;
}

static double exp_sum_scalar(float *y, const float *x, float shift, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		y[i] = expf(x[i] - shift);
		s += y[i];
	}
	return s;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* SLEEF declares its 256- and 512-bit functions only where the compiler
 * targets those instruction sets: declare them for the paths below. */
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f")
#include <sleef.h>
#pragma GCC pop_options
#define HAVE_VECTOR 1

#define AVX512 __attribute__((target("avx2,fma,avx512f")))
#define AVX2 __attribute__((target("avx2,fma")))

/* ---------------------------------------------------------------- AVX-512 */

static inline AVX512 __mmask16 tail16(size_t left)
{
	return (__mmask16)((1u << left) - 1);
}

static AVX512 void map16(float *y, const float *x, size_t n, __m512 (*f)(__m512))
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
	if (i < n) {
		__mmask16 m = tail16(n - i);
		_mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
	}
}

static AVX512 float max16(const float *x, size_t n)
{
	/* max_ps(a, b) gives b where a is NaN: NaNs are skipped, as the
	 * scalar loop skips them. */
	__m512 acc = _mm512_set1_ps(-INFINITY);
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		acc = _mm512_max_ps(_mm512_loadu_ps(x + i), acc);
	if (i < n) {
		__mmask16 m = tail16(n - i);
		acc = _mm512_mask_max_ps(acc, m, _mm512_maskz_loadu_ps(m, x + i), acc);
	}
	return _mm512_reduce_max_ps(acc);
}

static AVX512 void add16(__m512d *lo, __m512d *hi, __m512 e)
{
	*lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
	*hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm256_castpd_ps(
		_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
}

static AVX512 double exp_sum16(float *y, const float *x, float shift, size_t n)
{
	const __m512 sh = _mm512_set1_ps(shift);
	__m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 e = Sleef_expf16_u10(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
		_mm512_storeu_ps(y + i, e);
		add16(&lo, &hi, e);
	}
	if (i < n) {
		__mmask16 m = tail16(n - i);
		__m512 e = Sleef_expf16_u10(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh));
		e = _mm512_maskz_mov_ps(m, e);
		_mm512_mask_storeu_ps(y + i, m, e);
		add16(&lo, &hi, e);
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

/* ---------------------------------------------------------------- AVX2 */

/* load8 / store8 - n < 8 values through a padded copy (the pad is 0). */
static inline AVX2 __m256 load8(const float *x, size_t n)
{
	float buf[8] = { 0 };
	memcpy(buf, x, n * sizeof *x);
	return _mm256_loadu_ps(buf);
}

static inline AVX2 void store8(float *y, __m256 v, size_t n)
{
	float buf[8];
	_mm256_storeu_ps(buf, v);
	memcpy(y, buf, n * sizeof *y);
}

static AVX2 void map8(float *y, const float *x, size_t n, __m256 (*f)(__m256))
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
	if (i < n)
		store8(y + i, f(load8(x + i, n - i)), n - i);
}

static AVX2 float max8(const float *x, size_t n)
{
	__m256 acc = _mm256_set1_ps(-INFINITY);
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		acc = _mm256_max_ps(_mm256_loadu_ps(x + i), acc);
	float lanes[8], mx = max_scalar(x + i, n - i);
	_mm256_storeu_ps(lanes, acc);
	for (int k = 0; k < 8; k++)
		mx = lanes[k] > mx ? lanes[k] : mx;
	return mx;
}

static AVX2 void add8(__m256d *lo, __m256d *hi, __m256 e)
{
	*lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
	*hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

static AVX2 double exp_sum8(float *y, const float *x, float shift, size_t n)
{
	const __m256 sh = _mm256_set1_ps(shift);
	__m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 e = Sleef_expf8_u10(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
		_mm256_storeu_ps(y + i, e);
		add8(&lo, &hi, e);
	}
	if (i < n) {
		float buf[8] = { 0 };     /* the pad's lanes stay 0, out of the sum */
		store8(buf, Sleef_expf8_u10(_mm256_sub_ps(load8(x + i, n - i), sh)), n - i);
		memcpy(y + i, buf, (n - i) * sizeof *y);
		add8(&lo, &hi, _mm256_loadu_ps(buf));
	}
	double s[4];
	_mm256_storeu_pd(s, _mm256_add_pd(lo, hi));
	return (s[0] + s[1]) + (s[2] + s[3]);
}
#endif

/* ---------------------------------------------------------------- dispatch */

static int isa(void)
{
#ifdef HAVE_VECTOR
	if (limit_ >= ISA_AVX512 && __builtin_cpu_supports("avx512f"))
		return ISA_AVX512;
	if (limit_ >= ISA_AVX2 && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma"))
		return ISA_AVX2;
#endif
	return ISA_SCALAR;
}

void rc_vexp(float *y, const float *x, size_t n)
{
#ifdef HAVE_VECTOR
	switch (isa()) {
	case ISA_AVX512: map16(y, x, n, Sleef_expf16_u10); return;
	case ISA_AVX2: map8(y, x, n, Sleef_expf8_u10); return;
	}
#endif
	exp_scalar(y, x, n);
}

void rc_vtanh(float *y, const float *x, size_t n)
{
#ifdef HAVE_VECTOR
	switch (isa()) {
	case ISA_AVX512: map16(y, x, n, Sleef_tanhf16_u10); return;
	case ISA_AVX2: map8(y, x, n, Sleef_tanhf8_u10); return;
	}
#endif
	tanh_scalar(y, x, n);
}

float rc_vmax(const float *x, size_t n)
{
#ifdef HAVE_VECTOR
	switch (isa()) {
	case ISA_AVX512: return max16(x, n);
	case ISA_AVX2: return max8(x, n);
	}
#endif
	return max_scalar(x, n);
}

double rc_vexp_sum(float *y, const float *x, float shift, size_t n)
{
#ifdef HAVE_VECTOR
	switch (isa()) {
	case ISA_AVX512: return exp_sum16(y, x, shift, n);
	case ISA_AVX2: return exp_sum8(y, x, shift, n);
	}
#endif
	return exp_sum_scalar(y, x, shift, n);
}

const char *rc_vmath_isa(void)
{
	return isa_names[isa()];
}

int rc_vmath_limit(const char *name)
{
	if (!name) {
		limit_ = ISA_AVX512;
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, isa_names[i])) {
			limit_ = i;
			return 0;
		}
	return -1;
}
