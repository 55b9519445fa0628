/* test_attnpool.cc - cuda/attnpool.cu against its CPU twin
 * (rc_siglip_attend, rc_siglip_attend_backward): at every block size,
 * fp32 and bf16, forward (out, and the probabilities att) and backward
 * from the kernel's own att (dkv and dq added to what the buffers held),
 * in the three thread orders of the emulation, or once on the GPU.
 *
 * Shapes: heads of 4 (an odd 5 of them), 8, 16 (3 heads), 72 (SigLIP
 * so400m's: two lanes' columns and a part of a third), 128 (the most);
 * T = 1 (a single key), 7, 50, 196 (SigLIP-B/16 at 224) and 257; B of 1
 * to 4; one case with scores up to ~100, where the softmax is almost
 * one-hot: the maximum must keep exp finite.
 *
 * Tolerances. fp32: |d| <= 1e-5 + 1e-5·|ref|: the kernel sums the scores
 * and products in fp32 along the head and over warps, the CPU in double.
 * bf16 out, dkv, dq: 1e-4 + 2^-7·|ref|, one bf16 ulp: the reference runs
 * in fp32 on the same bf16 inputs, and each output is rounded once. The
 * probabilities are fp32 in both dtypes and keep fp32's bound. The sharp
 * case's scores are known to either side to a few of their ulps (1e-5),
 * which exp turns into relative errors of the probabilities: 1e-4 +
 * 1e-4·|ref| there (bf16 outputs keep their one ulp).
 */
#include "tests/cuda/harness.h"

#include "cuda/attnpool.cu"
extern "C" {
#include "model/cpu.h"
}

static const rc_tol tol_f32 = { 1e-5, 1e-5 };
static const rc_tol tol_bf16 = { 1e-4, 1.0 / 128 };
static const rc_tol tol_sharp = { 1e-4, 1e-4 };
static const int blocks[] = { 32, 64, 96, 128, 256, 512, 1024 };
static const char *const dtype_name[] = { "f32", "bf16" };

struct shape {
	int B, T, C, H;
	float range; /* q and k uniform in ±range */
};

static std::vector<float> input(size_t n, float r, uint64_t seed, int dtype)
{
	std::vector<float> v = rc_test_random(n, -r, r, seed);
	return dtype == RC_CUDA_BF16 ? rc_test_round_bf16(v) : v;
}

static void check(const shape &s, int dtype, int block, const rc_test_order &o)
{
	const int B = s.B, T = s.T, C = s.C, H = s.H;
	const size_t nkv = (size_t)B * T * 2 * C, nat = (size_t)B * H * T;
	const std::vector<float> q = input(C, s.range, 1 + T, dtype);
	std::vector<float> kv = input(nkv, 1.0f, 2 + T, dtype);
	const std::vector<float> keys = input((size_t)B * T * C, s.range, 6 + T, dtype);
	for (int r = 0; r < B * T; r++) /* the keys in ±range, the values in ±1 */
		for (int c = 0; c < C; c++)
			kv[(size_t)r * 2 * C + c] = keys[(size_t)r * C + c];
	const std::vector<float> dout = input((size_t)B * C, 1.0f, 3 + T, dtype);
	const std::vector<float> dkv0 = input(nkv, 1.0f, 4 + T, dtype);
	const std::vector<float> dq0 = input(C, 1.0f, 5 + T, dtype);

	std::vector<float> out((size_t)B * C), att(nat), dkv = dkv0, dq = dq0, scratch(nat);
	rc_siglip_attend(out.data(), att.data(), q.data(), kv.data(), B, T, C, H);
	rc_siglip_attend_backward(dkv.data(), dq.data(), dout.data(), q.data(), kv.data(),
		att.data(), B, T, C, H, scratch.data());

	const size_t es = dtype == RC_CUDA_BF16 ? 2 : 4;
	rc_dev<char> dq_d(C * es), dkv_d(nkv * es), dout_d((size_t)B * C * es), out_d((size_t)B * C * es);
	rc_dev<char> gkv_d(nkv * es), gq_d(C * es);
	rc_dev<float> att_d(nat);
	rc_dev<char> scr(rc_cuda_attnpool_backward_scratch(B, C));
	rc_test_upload(dq_d.p, q, dtype);
	rc_test_upload(dkv_d.p, kv, dtype);
	rc_test_upload(dout_d.p, dout, dtype);
	rc_test_upload(gkv_d.p, dkv0, dtype);
	rc_test_upload(gq_d.p, dq0, dtype);
	char what[160];
	snprintf(what, sizeof what, "B=%d T=%d C=%d H=%d%s %d threads, %s order", B, T, C, H,
		s.range > 2 ? " sharp" : "", block, o.name);
	int rc = rc_cuda_attnpool_forward_v(block, out_d.p, att_d.p, dq_d.p, dkv_d.p, B, T, C, H,
		dtype, NULL);
	if (rc >= 0)
		rc = rc_cuda_attnpool_backward_v(block, gkv_d.p, gq_d.p, (float *)scr.p, dout_d.p,
			dq_d.p, dkv_d.p, att_d.p, B, T, C, H, dtype, NULL);
	if (rc < 0) {
		rc_test_fail("attnpool %s: %s", what, rc_strerror(rc));
		return;
	}
	const bool sharp = s.range > 2;
	const rc_tol t = dtype == RC_CUDA_BF16 ? tol_bf16 : sharp ? tol_sharp : tol_f32;
	const std::string key = std::string(dtype_name[dtype]) + (sharp ? " sharp " : " ");
	rc_test_close("attnpool " + key + "out", what,
		rc_test_download(out_d.p, out.size(), dtype).data(),
		(dtype == RC_CUDA_BF16 ? rc_test_round_bf16(out) : out).data(), out.size(), t);
	rc_test_close("attnpool " + key + "att", what,
		rc_test_download(att_d.p, nat, RC_CUDA_F32).data(), att.data(), nat,
		sharp ? tol_sharp : tol_f32);
	rc_test_close("attnpool backward " + key + "dkv", what,
		rc_test_download(gkv_d.p, nkv, dtype).data(), dkv.data(), nkv, t);
	rc_test_close("attnpool backward " + key + "dq", what,
		rc_test_download(gq_d.p, C, dtype).data(), dq.data(), C, t);
}

/* what the launchers refuse; the default launchers once */
static void check_arguments(void)
{
	rc_dev<float> a(4096), s(4096);
	fprintf(stderr, "test_attnpool: 6 refusals expected:\n");
	const int refusals[] = {
		rc_cuda_attnpool_forward_v(48, a.p, s.p, a.p, a.p, 1, 4, 16, 2, RC_CUDA_F32, NULL),
		rc_cuda_attnpool_forward_v(64, a.p, s.p, a.p, a.p, 1, 4, 15, 2, RC_CUDA_F32, NULL),
		rc_cuda_attnpool_forward_v(64, a.p, s.p, a.p, a.p, 1, 4, 258, 1, RC_CUDA_F32, NULL),
		rc_cuda_attnpool_forward_v(64, a.p, NULL, a.p, a.p, 1, 4, 16, 2, RC_CUDA_F32, NULL),
		rc_cuda_attnpool_backward_v(64, a.p, a.p, NULL, a.p, a.p, a.p, s.p, 1, 4, 16, 2,
			RC_CUDA_F32, NULL),
		rc_cuda_attnpool_backward_v(64, a.p, a.p, s.p, a.p, a.p, a.p, s.p, 0, 4, 16, 2, 7,
			NULL),
	};
	for (size_t i = 0; i < sizeof refusals / sizeof(int); i++)
		if (refusals[i] != RC_E_ARG)
			rc_test_fail("refusal %zu: returned %d, not RC_E_ARG", i, refusals[i]);

	const int B = 2, T = 9, C = 24, H = 3;
	const std::vector<float> q = rc_test_random(C, -1, 1, 61);
	const std::vector<float> kv = rc_test_random((size_t)B * T * 2 * C, -1, 1, 62);
	std::vector<float> out((size_t)B * C), att((size_t)B * H * T);
	rc_siglip_attend(out.data(), att.data(), q.data(), kv.data(), B, T, C, H);
	rc_dev<float> qd(C), kvd(kv.size()), od(out.size()), atd(att.size());
	rc_test_upload(qd.p, q, RC_CUDA_F32);
	rc_test_upload(kvd.p, kv, RC_CUDA_F32);
	if (rc_cuda_attnpool_forward(od.p, atd.p, qd.p, kvd.p, B, T, C, H, RC_CUDA_F32, NULL) < 0)
		rc_test_fail("rc_cuda_attnpool_forward failed");
	rc_test_close("attnpool f32 default out", "B=2 T=9 C=24 H=3",
		rc_test_download(od.p, out.size(), RC_CUDA_F32).data(), out.data(), out.size(),
		tol_f32);
}

int main(void)
{
	rc_test_start("test_attnpool");
	const shape shapes[] = { { 1, 1, 8, 1, 1 }, { 2, 7, 20, 5, 1 }, { 3, 50, 48, 3, 1 },
		{ 2, 196, 72, 1, 1 }, { 1, 257, 128, 1, 1 }, { 4, 7, 32, 4, 1 },
		{ 2, 50, 64, 2, 10 } };
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (int block : blocks)
				for (const shape &s : shapes)
					check(s, dtype, block, o);
	}
	check_arguments();
	return rc_test_end();
}
