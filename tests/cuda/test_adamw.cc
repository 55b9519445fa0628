/* test_adamw.cc - cuda/adamw.cu against its CPU twins (rc_adamw_step,
 * rc_grad_norm, rc_grad_finite, rc_grad_scale_all): every block size,
 * the three thread orders of the emulation (or once on the GPU), over a
 * table of tensors of odd sizes in five groups, so that tensors and
 * groups change inside a float4 and N is no multiple of 4 or of a block.
 *
 * Tolerances. AdamW, its bf16 copy and the scaling: 0, the same bits (the
 * kernels repeat the CPU's roundings, adamw.cu). The norm: 1.2e-7
 * relative, a float ulp: both sum squares in double, in different orders
 * (a difference near 1e-16 relative), and the kernel rounds the root to
 * float once, with the same bits in every thread order (on a GPU: in two
 * runs). The non-finite check: the exact tensor index.
 */
#include "tests/cuda/harness.h"
#include "tests/cuda/same_bits.h"

#include "cuda/adamw.cu"
extern "C" {
#include "model/optim_cpu.h"
}

static const rc_tol tol_exact = { 0, 0 };
static const rc_tol tol_norm = { 0, 1.2e-7 };
static const int blocks[] = { 32, 64, 96, 128, 256, 512, 1024 };

/* the table: sizes that are odd, tiny (the logit scale) and large enough
 * for several parts of the norm (RC_FLAT_MIN floats each); groups in runs
 * and alone, as the model's */
static const struct {
	size_t n;
	int group;
} spec[] = {
	{ 1, 3 }, { 5, 0 }, { 33, 0 }, { 130, 1 }, { 7, 1 }, { 1001, 2 }, { 3, 4 },
	{ 20001, 0 }, { 64, 2 }, { 1, 3 }, { 2, 4 }, { 513, 1 },
};
enum { NT = sizeof spec / sizeof spec[0], NGROUPS = 5 };

struct table {
	std::vector<rc_cuda_tensor> t;
	size_t N = 0;
};

static table make_table(void)
{
	table tb;
	for (auto &s : spec) {
		tb.t.push_back({ tb.N, s.n, s.group });
		tb.N += s.n;
	}
	return tb;
}

/* the CPU's view of the same table over host buffers p and g */
static std::vector<rc_optim_tensor> cpu_table(const table &tb, float *p, float *g)
{
	std::vector<rc_optim_tensor> t;
	for (const rc_cuda_tensor &d : tb.t)
		t.push_back({ "t", p + d.offset, g + d.offset, d.n, d.group, d.offset });
	return t;
}

static void upload_table(const table &tb, rc_dev<rc_cuda_tensor> &dt)
{
	cudaMemcpy(dt.p, tb.t.data(), tb.t.size() * sizeof(rc_cuda_tensor), cudaMemcpyHostToDevice);
}

/* three AdamW steps with fresh gradients and changing learning rates;
 * after each, p, m, v and the bf16 copy against the CPU's */
static void check_adamw(const table &tb, int block, const rc_test_order &o)
{
	const size_t N = tb.N;
	std::vector<float> p = rc_test_random(N, -1.0f, 1.0f, 11);
	std::vector<float> g(N);
	rc_dev<float> dp(N), dm(N), dv(N), dg(N);
	rc_dev<rc_bf16> d16(N);
	rc_dev<rc_cuda_tensor> dt(NT);
	upload_table(tb, dt);
	rc_test_upload(dp.p, p, RC_CUDA_F32);
	cudaMemset(dm.p, 0, N * sizeof(float));
	cudaMemset(dv.p, 0, N * sizeof(float));
	std::vector<rc_optim_tensor> t = cpu_table(tb, p.data(), g.data());
	struct rc_adamw *opt;
	if (rc_adamw_new(&opt, t.data(), NT, NGROUPS) < 0) {
		rc_test_fail("rc_adamw_new failed");
		return;
	}
	char what[120];
	for (long step = 1; step <= 3; step++) {
		const std::vector<float> fresh = rc_test_random(N, -0.02f, 0.02f, 100 + step);
		std::copy(fresh.begin(), fresh.end(), g.begin()); /* t points into g */
		g[7] = 3.0f; /* a large one, and an exact zero */
		g[8] = 0.0f;
		rc_test_upload(dg.p, g, RC_CUDA_F32);
		const float lr[NGROUPS] = { 1e-5f * step, 3e-5f * step, 1e-4f, 1e-4f / step, 1.5e-3f };
		const float wd[NGROUPS] = { 0.0f, 0.05f, 0.05f, 0.0f, 0.1f };
		opt->step = step - 1;
		rc_adamw_step(opt, lr, wd);
		snprintf(what, sizeof what, "N=%zu block %d step %ld, %s order", N, block, step,
			o.name);
		int rc = rc_cuda_adamw_step_v(block, dp.p, step == 2 ? NULL : d16.p, dm.p, dv.p, dg.p,
			dt.p, NT, N, NGROUPS, lr, wd, step, 0.9f, 0.999f, 1e-8f, NULL);
		if (rc < 0) {
			rc_test_fail("adamw %s: %s", what, rc_strerror(rc));
			break;
		}
		rc_test_close("adamw p", what, rc_test_download(dp.p, N, RC_CUDA_F32).data(),
			p.data(), N, tol_exact);
		rc_test_close("adamw m", what, rc_test_download(dm.p, N, RC_CUDA_F32).data(),
			opt->m, N, tol_exact);
		rc_test_close("adamw v", what, rc_test_download(dv.p, N, RC_CUDA_F32).data(),
			opt->v, N, tol_exact);
		if (step != 2)
			rc_test_close("adamw p bf16", what,
				rc_test_download(d16.p, N, RC_CUDA_BF16).data(),
				rc_test_round_bf16(p).data(), N, tol_exact);
	}
	rc_adamw_free(opt);
}

/* the norm, the scaling and the non-finite check on one set of gradients */
static void check_grads(const table &tb, int block, const rc_test_order &o)
{
	const size_t N = tb.N;
	std::vector<float> g = rc_test_random(N, -0.5f, 0.5f, 21), p(N);
	std::vector<rc_optim_tensor> t = cpu_table(tb, p.data(), g.data());
	rc_dev<float> dg(N), dnorm(1);
	rc_dev<int> dbad(1);
	rc_dev<char> scratch(rc_cuda_grad_scratch(N));
	rc_dev<rc_cuda_tensor> dt(NT);
	upload_table(tb, dt);
	rc_test_upload(dg.p, g, RC_CUDA_F32);
	char what[120];
	snprintf(what, sizeof what, "N=%zu block %d, %s order", N, block, o.name);

	const float norm = (float)rc_grad_norm(t.data(), NT);
	if (rc_cuda_grad_norm_v(block, dnorm.p, scratch.p, dg.p, N, NULL) < 0)
		rc_test_fail("norm %s: failed", what);
	check_close("grad norm", what, rc_test_download(dnorm.p, 1, RC_CUDA_F32).data(), &norm,
		1, tol_norm);

	rc_grad_scale_all(t.data(), NT, 0.37f);
	if (rc_cuda_grad_scale_all_v(block, dg.p, N, 0.37f, NULL) < 0)
		rc_test_fail("scale %s: failed", what);
	rc_test_close("grad scale", what, rc_test_download(dg.p, N, RC_CUDA_F32).data(), g.data(),
		N, tol_exact);

	/* none, then NaNs and infinities where the first tensor holding one
	 * is not the first to be found by every block: an infinity in the
	 * large tensor's tail, a NaN in a float4 shared by two tensors, one
	 * in the last float (the one-by-one tail) */
	struct {
		size_t at;
		float v;
	} bad[] = { { N - 1, NAN }, { tb.t[7].offset + 19999, INFINITY },
		    { tb.t[4].offset, -INFINITY }, { tb.t[3].offset, NAN } };
	for (int k = 0; k <= 4; k++) {
		if (k > 0) {
			g[bad[k - 1].at] = bad[k - 1].v;
			rc_test_upload(dg.p, g, RC_CUDA_F32);
		}
		size_t first = 0;
		const int want = rc_grad_finite(t.data(), NT, &first) ? -1 : (int)first;
		if (rc_cuda_grad_finite_v(block, dbad.p, scratch.p, dg.p, dt.p, NT, N, NULL) < 0)
			rc_test_fail("finite %s: failed", what);
		int got = 0;
		cudaDeviceSynchronize();
		cudaMemcpy(&got, dbad.p, sizeof got, cudaMemcpyDeviceToHost);
		rc_test_stats["grad finite"].checks++;
		if (got != want)
			rc_test_fail("finite %s, %d bad values: tensor %d, expected %d", what, k, got,
				want);
		if (k == 1) { /* the norm of a NaN */
			rc_cuda_grad_norm_v(block, dnorm.p, scratch.p, dg.p, N, NULL);
			if (!isnan(rc_test_download(dnorm.p, 1, RC_CUDA_F32)[0]))
				rc_test_fail("norm %s: finite with a NaN", what);
		}
	}
}

/* the launchers and the table check refuse what they do not take */
static void check_arguments(const table &tb)
{
	rc_dev<float> a(8);
	rc_dev<rc_cuda_tensor> dt(1);
	const float lr[1] = { 1e-3f }, wd[1] = { 0 };
	fprintf(stderr, "test_adamw: 9 refusals expected:\n");
	if (rc_cuda_adamw_step_v(48, a.p, NULL, a.p, a.p, a.p, dt.p, 1, 8, 1, lr, wd, 1, 0.9f,
		    0.999f, 1e-8f, NULL) != RC_E_ARG)
		rc_test_fail("adamw: block 48 not refused");
	if (rc_cuda_adamw_step_v(64, a.p, NULL, a.p, a.p, a.p, dt.p, 1, 8, 1, lr, wd, 0, 0.9f,
		    0.999f, 1e-8f, NULL) != RC_E_ARG)
		rc_test_fail("adamw: step 0 not refused");
	if (rc_cuda_adamw_step_v(64, a.p, NULL, a.p, a.p, a.p, dt.p, 1, 8, 9, lr, wd, 1, 0.9f,
		    0.999f, 1e-8f, NULL) != RC_E_ARG)
		rc_test_fail("adamw: 9 groups not refused");
	if (rc_cuda_grad_norm_v(2048, a.p, a.p, a.p, 8, NULL) != RC_E_ARG)
		rc_test_fail("norm: block 2048 not refused");
	if (rc_cuda_grad_finite_v(64, NULL, a.p, a.p, dt.p, 1, 8, NULL) != RC_E_ARG)
		rc_test_fail("finite: NULL output not refused");
	std::vector<rc_cuda_tensor> t = tb.t;
	size_t N = 0;
	if (rc_cuda_tensor_table_check(t.data(), NT, NGROUPS, &N) != 0 || N != tb.N)
		rc_test_fail("table check: the test's table refused");
	if (rc_cuda_tensor_table_check(t.data(), NT, 4, &N) != RC_E_ARG)
		rc_test_fail("table check: group 4 of 4 not refused");
	std::swap(t[1], t[2]);
	if (rc_cuda_tensor_table_check(t.data(), NT, NGROUPS, &N) != RC_E_ARG)
		rc_test_fail("table check: unsorted table not refused");
	t = tb.t;
	t[5].n++;
	if (rc_cuda_tensor_table_check(t.data(), NT, NGROUPS, &N) != RC_E_ARG)
		rc_test_fail("table check: overlap not refused");
	if (rc_cuda_tensor_table_check(t.data(), 0, NGROUPS, &N) != RC_E_ARG)
		rc_test_fail("table check: empty table not refused");
}

int main(void)
{
	rc_test_start("test_adamw");
	const table tb = make_table();
	for (int pass = 0; pass < rc_test_passes; pass++)
		for (const rc_test_order &o : rc_test_orders()) {
			rc_test_set_order(o);
			for (int block : blocks) {
				check_adamw(tb, block, o);
				check_grads(tb, block, o);
			}
		}
	check_arguments(tb);
	/* the default launchers, once */
	{
		const size_t N = tb.N;
		std::vector<float> p = rc_test_random(N, -1.0f, 1.0f, 31), g = rc_test_random(N,
			-0.1f, 0.1f, 32);
		std::vector<rc_optim_tensor> t = cpu_table(tb, p.data(), g.data());
		rc_dev<float> dp(N), dm(N), dv(N), dg(N), dnorm(1);
		rc_dev<rc_cuda_tensor> dt(NT);
		rc_dev<char> scratch(rc_cuda_grad_scratch(N));
		upload_table(tb, dt);
		rc_test_upload(dp.p, p, RC_CUDA_F32);
		rc_test_upload(dg.p, g, RC_CUDA_F32);
		cudaMemset(dm.p, 0, N * sizeof(float));
		cudaMemset(dv.p, 0, N * sizeof(float));
		const float norm = (float)rc_grad_norm(t.data(), NT);
		const float lr[NGROUPS] = { 1e-4f, 2e-4f, 3e-4f, 4e-4f, 5e-4f };
		const float wd[NGROUPS] = { 0.1f, 0.0f, 0.05f, 0.0f, 0.05f };
		struct rc_adamw *opt;
		if (rc_adamw_new(&opt, t.data(), NT, NGROUPS) < 0)
			return 99;
		rc_adamw_step(opt, lr, wd);
		if (rc_cuda_grad_norm(dnorm.p, scratch.p, dg.p, N, NULL) < 0 ||
		    rc_cuda_adamw_step(dp.p, NULL, dm.p, dv.p, dg.p, dt.p, NT, N, NGROUPS, lr, wd, 1,
			    0.9f, 0.999f, 1e-8f, NULL) < 0)
			rc_test_fail("the default launchers failed");
		rc_test_close("default grad norm", "", rc_test_download(dnorm.p, 1, RC_CUDA_F32).data(),
			&norm, 1, tol_norm);
		rc_test_close("default adamw p", "", rc_test_download(dp.p, N, RC_CUDA_F32).data(),
			p.data(), N, tol_exact);
		rc_adamw_free(opt);
	}
	return rc_test_end();
}
