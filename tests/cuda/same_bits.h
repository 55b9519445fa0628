/* same_bits.h - for the kernel tests (tests/cuda/): the same launch must
 * give the same bits in every thread order of the emulation, and in two
 * runs on a GPU, as sums in a fixed order do. Include after harness.h,
 * where it belongs (it is here while harness.h is shared work).
 *
 *     for (int pass = 0; pass < rc_test_passes; pass++)
 *             for (const rc_test_order &o : rc_test_orders()) ...
 *                     check_close("op out", what, got, ref, n, tol);
 *
 * what must end with ", <order> order" (the part that may differ).
 */
#ifndef RCLIP_TESTS_CUDA_SAME_BITS_H
#define RCLIP_TESTS_CUDA_SAME_BITS_H

#include "tests/cuda/harness.h"

/* the emulation's three orders repeat every launch; a GPU runs all twice */
#ifdef RC_CUDA_EMU
static const int rc_test_passes = 1;
#else
static const int rc_test_passes = 2;
#endif

/* the outputs seen, by key and "what" less the order */
static std::map<std::string, std::vector<float>> seen_bits;

/* same_bits - keep the first output of a launch; fail a later one of the
 * same launch (another order, another run) whose bits differ */
static void same_bits(const std::string &key, const std::string &what, const float *got,
	size_t n)
{
	const std::string tag = key + " " + what.substr(0, what.rfind(", "));
	auto it = seen_bits.find(tag);
	if (it == seen_bits.end()) {
		seen_bits[tag].assign(got, got + n);
		return;
	}
	rc_test_stats["same bits in every order"].checks++;
	if (it->second.size() != n || memcmp(it->second.data(), got, n * sizeof *got))
		rc_test_fail("%s %s: not the bits of the same launch in another order or run",
			key.c_str(), what.c_str());
}

/* check_close - rc_test_close, and the same bits as before */
static long check_close(const std::string &key, const std::string &what, const float *got,
	const float *ref, size_t n, rc_tol tol)
{
	same_bits(key, what, got, n);
	return rc_test_close(key, what, got, ref, n, tol);
}

#endif
