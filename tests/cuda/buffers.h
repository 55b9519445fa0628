/* buffers.h - device buffers of fp32 or bf16 values for the kernel tests
 * of the elementwise and GEMM families (test_act.cc, test_gemm.cc), on top
 * of harness.h: a buffer that knows its dtype, may start one element off
 * 16-byte alignment, and is filled from and read back as floats.
 *
 *     buf x(rc_test_input(n, -1.0f, 1.0f, 1, dtype), dtype);   // uploaded
 *     buf y(n, dtype, 1);         // n values one element off alignment
 *     ... launch ...
 *     std::vector<float> got = y.get();
 */
#ifndef RCLIP_TESTS_CUDA_BUFFERS_H
#define RCLIP_TESTS_CUDA_BUFFERS_H

#include "tests/cuda/harness.h"

static inline size_t rc_test_esize(int dtype)
{
	return dtype == RC_CUDA_BF16 ? 2 : 4;
}

/* A device buffer of n values of dtype, `off` elements past an aligned
 * start: left as cudaMalloc leaves it, or holding v. */
struct buf {
	rc_dev<char> mem;
	void *p;
	size_t n;
	int dtype;
	buf(size_t count, int dt, int off = 0)
		: mem((count + off) * rc_test_esize(dt)), p(mem.p + off * rc_test_esize(dt)),
		  n(count), dtype(dt)
	{
	}
	buf(const std::vector<float> &v, int dt, int off = 0) : buf(v.size(), dt, off)
	{
		rc_test_upload(p, v, dtype);
	}
	std::vector<float> get() const { return rc_test_download(p, n, dtype); }
};

/* rc_test_input - n values uniform in [lo, hi), rounded to bf16 for a
 * bf16 kernel (the reference then runs on what the kernel reads) */
static inline std::vector<float> rc_test_input(size_t n, float lo, float hi, uint64_t seed,
	int dtype)
{
	std::vector<float> v = rc_test_random(n, lo, hi, seed);
	return dtype == RC_CUDA_BF16 ? rc_test_round_bf16(v) : v;
}

#endif
