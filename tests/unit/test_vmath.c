/* test_vmath.c - common/model/vmath.c on each path this CPU has (AVX-512,
 * AVX2, scalar; the ones it lacks are said and left out): exp, tanh, the
 * shifted exp with its sum and the maximum against libm in double, at
 * every length 0..70 (full vectors and partial ones), special values, in
 * place, and a value's result the same wherever it sits in the array. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/vmath.h"

#include "testutil.h"

static const char *const paths[] = { "avx512", "avx2", "scalar" };

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(double lo, double hi)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return lo + (hi - lo) * ((double)(rng >> 11) / 9007199254740992.0);
}

/* ulps - how many floats apart got is from the exact value ref (in
 * units of the float spacing at ref); 0 when both are the same infinity
 * or both NaN. */
static double ulps(float got, double ref)
{
	if (isnan(ref) || isnan(got))
		return isnan(ref) && isnan(got) ? 0 : INFINITY;
	if (fabs(ref) > 3.4028234663852886e38)   /* beyond FLT_MAX: rounds to inf */
		ref = copysign(INFINITY, ref);
	if (isinf(ref) || isinf(got))
		return (double)got == ref ? 0 : INFINITY;
	if (ref == 0)
		return got == 0 ? 0 : fabs(got) / 1.4e-45;
	int e;
	frexp(ref, &e);
	double spacing = ldexp(1.0, (e - 24 > -149 ? e - 24 : -149));
	return fabs(got - ref) / spacing;
}

/* use - set the path; 0 when this CPU has it. */
static int use(const char *p)
{
	ck_assert_int_eq(rc_vmath_limit(p), 0);
	if (strcmp(rc_vmath_isa(), p)) {
		printf("vmath: no %s on this CPU; that path left out\n", p);
		return -1;
	}
	return 0;
}

START_TEST(test_unknown_path)
{
	ck_assert_int_eq(rc_vmath_limit("sse9"), -1);
	ck_assert_int_eq(rc_vmath_limit(NULL), 0);
}
END_TEST

START_TEST(test_exp_tanh)
{
	const char *p = paths[_i];
	if (use(p) < 0)
		return;
	enum { N = 4096 };
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *t = malloc(N * sizeof *t);
	ck_assert(x && y && t);
	for (int i = 0; i < N; i++)
		x[i] = (float)(i % 3 ? uniform(-104, 89) : uniform(-10, 10));
	double worst_e = 0, worst_t = 0;
	for (int n = 0; n <= 70; n++) {   /* lengths around 8 and 16 */
		rc_vexp(y, x, (size_t)n);
		rc_vtanh(t, x, (size_t)n);
		for (int i = 0; i < n; i++) {
			worst_e = fmax(worst_e, ulps(y[i], exp((double)x[i])));
			worst_t = fmax(worst_t, ulps(t[i], tanh((double)x[i])));
		}
	}
	rc_vexp(y, x, N);
	rc_vtanh(t, x, N);
	for (int i = 0; i < N; i++) {
		worst_e = fmax(worst_e, ulps(y[i], exp((double)x[i])));
		worst_t = fmax(worst_t, ulps(t[i], tanh((double)x[i])));
	}
	/* SLEEF's u10 functions: 1 ulp; glibc's tanhf: 2 */
	const double bound_t = strcmp(p, "scalar") ? 1.0 : 2.0;
	printf("vmath %s: exp within %.2f ulp, tanh within %.2f ulp\n", p, worst_e, worst_t);
	ck_assert_msg(worst_e <= 1.0 && worst_t <= bound_t, "%s: exp %.2f ulp, tanh %.2f ulp", p,
		worst_e, worst_t);

	/* in place, and each value the same wherever it sits */
	memcpy(t, x, N * sizeof *x);
	rc_vexp(t, t, N);
	ck_assert(!memcmp(t, y, N * sizeof *y));
	for (int i = 0; i < 40; i++) {
		float one;
		rc_vexp(&one, x + i, 1);
		ck_assert_msg(!memcmp(&one, y + i, sizeof one), "%s: exp of x[%d] alone differs", p, i);
	}

	/* special values */
	const float sp[] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 100.0f, -200.0f, 88.7f,
		-87.3f, 1e-30f, -1e-30f, 20.0f, -20.0f };
	const int ns = (int)(sizeof sp / sizeof *sp);
	float e[13], th[13];
	rc_vexp(e, sp, (size_t)ns);
	rc_vtanh(th, sp, (size_t)ns);
	for (int i = 0; i < ns; i++) {
		ck_assert_msg(ulps(e[i], exp((double)sp[i])) <= 1.0, "%s: exp(%g) = %g", p,
			(double)sp[i], (double)e[i]);
		ck_assert_msg(ulps(th[i], tanh((double)sp[i])) <= bound_t, "%s: tanh(%g) = %g", p,
			(double)sp[i], (double)th[i]);
	}
	free(x), free(y), free(t);
}
END_TEST

START_TEST(test_softmax_parts)
{
	const char *p = paths[_i];
	if (use(p) < 0)
		return;
	float x[70], y[70];
	for (int n = 0; n <= 70; n++) {
		for (int i = 0; i < n; i++)
			x[i] = (float)uniform(-30, 5);
		/* the maximum, NaNs skipped */
		if (n > 3)
			x[n / 2] = NAN;
		float ref = -INFINITY;
		for (int i = 0; i < n; i++)
			ref = x[i] > ref ? x[i] : ref;
		ck_assert_msg(rc_vmax(x, (size_t)n) == ref, "%s: max of %d values", p, n);
		if (n > 3)
			x[n / 2] = -1.0f;
		/* a negative shift: a pad lane counted in the sum would add
		 * exp(7), more than every value here */
		const float shift = -7.0f;
		for (int i = 0; i < 70; i++)
			y[i] = -1.0f;
		double s = rc_vexp_sum(y, x, shift, (size_t)n), sref = 0;
		for (int i = 0; i < n; i++) {
			ck_assert_msg(ulps(y[i], exp((double)(x[i] - shift))) <= 1.0,
				"%s: exp(x[%d] - shift) = %g", p, i, (double)y[i]);
			sref += y[i];
		}
		for (int i = n; i < 70; i++)
			ck_assert_msg(y[i] == -1.0f, "%s: y[%d] written past n = %d", p, i, n);
		ck_assert_msg(fabs(s - sref) <= 1e-12 * (1 + sref), "%s: sum of %d: %.17g, want %.17g",
			p, n, s, sref);
	}
	ck_assert(isinf(rc_vmax(x, 0)) && rc_vmax(x, 0) < 0);
	/* in place */
	for (int i = 0; i < 37; i++)
		x[i] = (float)uniform(-5, 5), y[i] = x[i];
	double a = rc_vexp_sum(y, y, 1.0f, 37), b = rc_vexp_sum(x + 40, x, 1.0f, 0);
	ck_assert(b == 0);
	for (int i = 0; i < 37; i++)
		ck_assert(ulps(y[i], exp((double)(x[i] - 1.0f))) <= 1.0);
	ck_assert(a > 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmath");
	TCase *tc = tcase_create("paths");
	tcase_add_test(tc, test_unknown_path);
	tcase_add_loop_test(tc, test_exp_tanh, 0, 3);
	tcase_add_loop_test(tc, test_softmax_parts, 0, 3);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
