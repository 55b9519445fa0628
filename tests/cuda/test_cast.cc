/* test_cast.cc - cuda/cast.cu against the host's conversions: fp32 to
 * bf16 bit for bit with __float2bfloat16_rn (round to nearest even; ties,
 * subnormals, infinities and NaN included), bf16 to fp32 exactly, and the
 * same-type copy, at several block sizes and sizes, in the three thread
 * orders (or once on the GPU). */
#include "tests/cuda/harness.h"

#include "cuda/cast.cu"

static const int blocks[] = { 32, 96, 256, 1024 };

/* values that test the rounding: ties to even, subnormals, the largest
 * finite floats, infinities, NaN, then random ones */
static std::vector<float> values(size_t n)
{
	std::vector<float> v = rc_test_random(n, -3.0f, 3.0f, 11);
	const uint32_t bits[] = { 0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x00000001u, 0x80400000u,
		0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00001u, 0x00000000u,
		0x80000000u, 0x3f7fffffu };
	for (size_t i = 0; i < sizeof bits / sizeof *bits && i < n; i++)
		memcpy(&v[i], &bits[i], sizeof(float));
	return v;
}

static void check(size_t n, int block, const rc_test_order &o)
{
	const std::vector<float> x = values(n);
	rc_dev<float> f(n), back(n);
	rc_dev<rc_bf16> h(n);
	cudaMemcpy(f.p, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
	std::string where = std::string(o.name) + " n=" + std::to_string(n) + " block=" +
		std::to_string(block);
	if (rc_cuda_cast_v(block, h.p, RC_CUDA_BF16, f.p, RC_CUDA_F32, n, NULL) ||
	    rc_cuda_cast_v(block, back.p, RC_CUDA_F32, h.p, RC_CUDA_BF16, n, NULL)) {
		rc_test_fail("%s: a launch failed", where.c_str());
		return;
	}
	std::vector<rc_bf16> got(n);
	std::vector<float> got32(n);
	cudaDeviceSynchronize();
	cudaMemcpy(got.data(), h.p, n * sizeof(rc_bf16), cudaMemcpyDeviceToHost);
	cudaMemcpy(got32.data(), back.p, n * sizeof(float), cudaMemcpyDeviceToHost);
	std::vector<float> a(n), r(n), r32(n);
	long bad = 0;
	for (size_t i = 0; i < n; i++) {
		const rc_bf16 want = __float2bfloat16_rn(x[i]);
		uint16_t gb, wb;
		memcpy(&gb, &got[i], 2), memcpy(&wb, &want, 2);
		r32[i] = __bfloat162float(want);
		if (gb != wb && !(isnan(x[i]) && (gb & 0x7f80) == 0x7f80 && (gb & 0x7f)))
			if (bad++ < 5)
				rc_test_fail("%s: [%zu] %a to bf16 0x%04x, expected 0x%04x", where.c_str(), i,
					(double)x[i], gb, wb);
	}
	(void)a, (void)r;
	rc_test_close("bf16 to f32", where, got32.data(), r32.data(), n, { 0, 0 });
	/* the same type: a copy */
	rc_dev<float> copy(n);
	rc_cuda_cast_v(block, copy.p, RC_CUDA_F32, f.p, RC_CUDA_F32, n, NULL);
	std::vector<float> c = rc_test_download(copy.p, n, RC_CUDA_F32);
	if (memcmp(c.data(), x.data(), n * sizeof(float)))
		rc_test_fail("%s: the fp32 copy differs", where.c_str());
}

int main(void)
{
	rc_test_start("test_cast");
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		for (int block : blocks)
			for (size_t n : { (size_t)1, (size_t)13, (size_t)1000, (size_t)70001 })
				check(n, block, o);
	}
	/* refused: a bad block, a bad dtype */
	rc_dev<float> a(4), b(4);
	if (rc_cuda_cast_v(33, a.p, RC_CUDA_F32, b.p, RC_CUDA_BF16, 4, NULL) != RC_E_ARG ||
	    rc_cuda_cast(a.p, 7, b.p, RC_CUDA_F32, 4, NULL) != RC_E_ARG)
		rc_test_fail("bad arguments were not refused");
	return rc_test_end();
}
