/* harness.h - what the kernel tests share. A test is one C++ file that
 * includes this header and the kernel file it tests (cuda/<family>.cu),
 * and compares every variant at every block size with the CPU twin. It is
 * built twice: by the host compiler with RC_CUDA_EMU (the kernels run in
 * the emulation, cuda/emu.h, once in each thread order) and, where nvcc
 * is found, by nvcc (the kernels run on the GPU; without one the test
 * exits 77).
 *
 *     rc_test_start("test_op");
 *     for (const rc_test_order &o : rc_test_orders()) {
 *             rc_test_set_order(o);
 *             ... launch, download, rc_test_close("op out", got, ref, n, tol, o) ...
 *     }
 *     return rc_test_end();
 *
 * Tolerance: |got - ref| <= atol + rtol·|ref| for every element, a
 * non-finite value where the reference is finite failing too.
 */
#ifndef RCLIP_TESTS_CUDA_HARNESS_H
#define RCLIP_TESTS_CUDA_HARNESS_H

#include "cuda/common.cuh"
#include "cuda/kernels.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <map>
#include <string>
#include <vector>

struct rc_test_order {
	const char *name;
	int mode;
};

struct rc_tol {
	double atol, rtol;
};

/* the worst error seen under one name, over orders and block sizes */
struct rc_test_stat {
	double max_abs = 0, max_ratio = 0; /* |d|, |d| / (atol + rtol·|ref|) */
	rc_tol tol = { 0, 0 };
	long checks = 0;
};

static const char *rc_test_name = "test";
static long rc_test_failures;
static std::map<std::string, rc_test_stat> rc_test_stats;
static unsigned long long rc_test_seed = 20240601;
static struct timespec rc_test_t0;

static inline std::vector<rc_test_order> rc_test_orders(void)
{
#ifdef RC_CUDA_EMU
	return { { "forward", RC_EMU_FORWARD }, { "reverse", RC_EMU_REVERSE },
		{ "random", RC_EMU_RANDOM } };
#else
	return { { "gpu", 0 } };
#endif
}

/* rc_test_set_order - threads and blocks in order o (the random order
 * restarts from the same seed each time: a failure can be rerun). */
static inline void rc_test_set_order(const rc_test_order &o)
{
#ifdef RC_CUDA_EMU
	rc_emu_set_order(o.mode, o.mode, rc_test_seed);
#else
	(void)o;
#endif
}

/* rc_test_start - name the test; without a GPU, the nvcc build exits 77. */
static inline void rc_test_start(const char *name)
{
	rc_test_name = name;
	rc_log_init(name);
	if (const char *s = getenv("RC_EMU_SEED"))
		rc_test_seed = strtoull(s, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &rc_test_t0);
#ifndef RC_CUDA_EMU
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n == 0) {
		fprintf(stderr, "%s: no GPU (%s): not run here; the emulated build runs the kernels\n",
			name, e != cudaSuccess ? cudaGetErrorName(e) : "no device");
		exit(77);
	}
#endif
}

/* rc_test_end - print the worst errors and the time; the exit status. */
static inline int rc_test_end(void)
{
	for (auto &kv : rc_test_stats)
		printf("%s: %-34s max |d| %.3g  max |d|/tol %.3f  (atol %.1g rtol %.3g, %ld checks)\n",
			rc_test_name, kv.first.c_str(), kv.second.max_abs, kv.second.max_ratio,
			kv.second.tol.atol, kv.second.tol.rtol, kv.second.checks);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s: %s, %.2f s, %ld failure%s\n", rc_test_name,
#ifdef RC_CUDA_EMU
		"emulated",
#else
		"on the GPU",
#endif
		(double)(t1.tv_sec - rc_test_t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - rc_test_t0.tv_nsec),
		rc_test_failures, rc_test_failures == 1 ? "" : "s");
	return rc_test_failures ? 1 : 0;
}

/* rc_test_fail - count a failure and say what it was. */
static inline void rc_test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void rc_test_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: FAIL: ", rc_test_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	rc_test_failures++;
}

/* rc_test_close - compare n values with the reference; key names the
 * output for the summary, what says where (variant, block, order). Prints
 * the first mismatches; returns how many there were. */
static inline long rc_test_close(const std::string &key, const std::string &what,
	const float *got, const float *ref, size_t n, rc_tol tol)
{
	rc_test_stat &st = rc_test_stats[key];
	st.tol = tol;
	st.checks++;
	long bad = 0;
	for (size_t i = 0; i < n; i++) {
		const double d = fabs((double)got[i] - (double)ref[i]);
		const double lim = tol.atol + tol.rtol * fabs((double)ref[i]);
		const bool ok = isfinite(ref[i]) ? isfinite(got[i]) && d <= lim
						 : memcmp(&got[i], &ref[i], sizeof(float)) == 0;
		if (isfinite(d)) {
			st.max_abs = d > st.max_abs ? d : st.max_abs;
			st.max_ratio = d / lim > st.max_ratio ? d / lim : st.max_ratio;
		}
		if (!ok && bad++ < 5)
			fprintf(stderr, "%s: %s %s[%zu] = %.9g, expected %.9g (|d| %.3g > %.3g)\n",
				rc_test_name, what.c_str(), key.c_str(), i, got[i], ref[i], d, lim);
	}
	if (bad)
		rc_test_fail("%s %s: %ld of %zu values out of tolerance", what.c_str(), key.c_str(),
			bad, n);
	return bad;
}

/* ---------------------------------------------------------------- data */

/* rc_test_random - n values uniform in [lo, hi), reproducible. */
static inline std::vector<float> rc_test_random(size_t n, float lo, float hi, uint64_t seed)
{
	std::vector<float> v(n);
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		v[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
	}
	return v;
}

/* rc_test_round_bf16 - v rounded to bf16 and back (what a bf16 kernel
 * reads: the reference runs on the same numbers). */
static inline std::vector<float> rc_test_round_bf16(std::vector<float> v)
{
	for (float &x : v)
		x = __bfloat162float(__float2bfloat16_rn(x));
	return v;
}

/* A device buffer of n elements of T, freed with it. */
template <class T> struct rc_dev {
	T *p = nullptr;
	size_t n = 0;
	explicit rc_dev(size_t count) : n(count)
	{
		if (cudaMalloc((void **)&p, n * sizeof(T) + !n) != cudaSuccess) {
			fprintf(stderr, "%s: cudaMalloc of %zu bytes failed\n", rc_test_name, n * sizeof(T));
			exit(99);
		}
	}
	~rc_dev() { cudaFree(p); }
	rc_dev(const rc_dev &) = delete;
	rc_dev &operator=(const rc_dev &) = delete;
};

/* rc_test_upload - host floats into a device buffer of fp32 or bf16. */
static inline void rc_test_upload(void *dst, const std::vector<float> &src, int dtype)
{
	if (dtype == RC_CUDA_F32) {
		cudaMemcpy(dst, src.data(), src.size() * sizeof(float), cudaMemcpyHostToDevice);
		return;
	}
	std::vector<rc_bf16> h(src.size());
	for (size_t i = 0; i < src.size(); i++)
		h[i] = __float2bfloat16_rn(src[i]);
	cudaMemcpy(dst, h.data(), h.size() * sizeof(rc_bf16), cudaMemcpyHostToDevice);
}

/* rc_test_download - n values of a device buffer of dtype, as floats. */
static inline std::vector<float> rc_test_download(const void *src, size_t n, int dtype)
{
	std::vector<float> out(n);
	if (cudaDeviceSynchronize() != cudaSuccess)
		rc_test_fail("cudaDeviceSynchronize: %s", cudaGetErrorString(cudaGetLastError()));
	if (dtype == RC_CUDA_F32) {
		cudaMemcpy(out.data(), src, n * sizeof(float), cudaMemcpyDeviceToHost);
		return out;
	}
	std::vector<rc_bf16> h(n);
	cudaMemcpy(h.data(), src, n * sizeof(rc_bf16), cudaMemcpyDeviceToHost);
	for (size_t i = 0; i < n; i++)
		out[i] = __bfloat162float(h[i]);
	return out;
}

#endif
