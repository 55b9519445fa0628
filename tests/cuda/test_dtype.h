/* test_dtype.h - what the kernel tests of embed.cu and pool.cu share
 * beyond harness.h (each a candidate for it): the block sizes, a
 * reference as a kernel of a dtype stores it, and the comparison of a
 * device buffer of that dtype with it under a summary key that names
 * the op, the dtype and the output.
 */
#ifndef RCLIP_TESTS_CUDA_TEST_DTYPE_H
#define RCLIP_TESTS_CUDA_TEST_DTYPE_H

#include "tests/cuda/harness.h"

static const int rc_test_blocks[] = { 32, 64, 96, 128, 256, 512, 1024 };
static const rc_tol rc_test_exact = { 0, 0 };

/* rc_test_esize - the bytes of one value of dtype */
static inline size_t rc_test_esize(int dtype)
{
	return dtype == RC_CUDA_BF16 ? 2 : 4;
}

/* rc_test_as_dtype - v as a kernel of dtype stores it: fp32 as it is,
 * bf16 rounded */
static inline std::vector<float> rc_test_as_dtype(std::vector<float> v, int dtype)
{
	return dtype == RC_CUDA_BF16 ? rc_test_round_bf16(v) : v;
}

/* rc_test_key - "op f32 out" */
static inline std::string rc_test_key(const char *op, int dtype, const char *out)
{
	return std::string(op) + (dtype == RC_CUDA_BF16 ? " bf16 " : " f32 ") + out;
}

/* rc_test_close_dev - the ref.size() values of dev, of dtype, against ref
 * as that dtype stores it (rc_test_as_dtype) */
static inline long rc_test_close_dev(const std::string &key, const char *what, const void *dev,
	int dtype, const std::vector<float> &ref, rc_tol tol)
{
	return rc_test_close(key, what, rc_test_download(dev, ref.size(), dtype).data(),
		rc_test_as_dtype(ref, dtype).data(), ref.size(), tol);
}

#endif
