/* test_layernorm.cc - cuda/layernorm.cu against its CPU twin
 * (rc_ops_layernorm, rc_ops_layernorm_backward): every variant at every
 * block size, fp32 and bf16, forward (out, mean, rstd; in place too) and
 * backward (dinp, dw, db added to what the buffers held), in the three
 * thread orders of the emulation, or once on the GPU.
 *
 * Tolerances. fp32: |d| <= 1e-5 + 1e-5·|ref|: the kernels sum in fp32 in
 * tree order where the CPU sums in double, over C <= 800 channels of
 * values of order 1. bf16 outputs (out, dinp): 1e-4 + 2^-7·|ref|, one
 * bf16 ulp: the inputs are bf16 numbers and the reference runs on the same
 * numbers in fp32, so a bf16 output differs from it only by its own
 * rounding (half an ulp) and by fp32 noise that may tip that rounding
 * over (the other half). llm.c bounds bf16 kernels at 0.08 relative
 * because its reference runs on unrounded inputs; here that slack would
 * hide real errors. The fp32 outputs of bf16 kernels (mean, rstd, dw, db)
 * keep the fp32 tolerance.
 */
#include "tests/cuda/harness.h"

#include "cuda/layernorm.cu"
#include "model/ops_cpu.h"

static const rc_tol tol_f32 = { 1e-5, 1e-5 };
static const rc_tol tol_bf16 = { 1e-4, 1.0 / 128 };
static const int blocks[] = { 32, 64, 96, 128, 256, 512, 1024 };
static const char *const variant_name[] = { "warp", "block" };
static const char *const dtype_name[] = { "f32", "bf16" };

struct shape {
	int N, C;
};

/* inputs of one case, as the kernels read them (bf16-rounded for bf16) */
struct inputs {
	std::vector<float> x, w, b, dy, dx0, dw0, db0;
};

static inputs make_inputs(shape s, int dtype)
{
	const size_t n = (size_t)s.N * s.C;
	inputs in;
	in.x = rc_test_random(n, -1.5f, 2.5f, 1);  /* a mean away from 0 */
	in.w = rc_test_random(s.C, 0.5f, 1.5f, 2);
	in.b = rc_test_random(s.C, -0.3f, 0.3f, 3);
	in.dy = rc_test_random(n, -1.0f, 1.0f, 4);
	in.dx0 = rc_test_random(n, -0.5f, 0.5f, 5); /* backward adds to these */
	in.dw0 = rc_test_random(s.C, -0.5f, 0.5f, 6);
	in.db0 = rc_test_random(s.C, -0.5f, 0.5f, 7);
	if (dtype == RC_CUDA_BF16)
		for (std::vector<float> *v : { &in.x, &in.w, &in.b, &in.dy, &in.dx0 })
			*v = rc_test_round_bf16(*v);
	return in;
}

/* one forward at one variant and block size; inplace: out is inp */
static void check_forward(shape s, int dtype, int variant, int block, bool inplace,
	const rc_test_order &o)
{
	const size_t n = (size_t)s.N * s.C, es = dtype == RC_CUDA_BF16 ? 2 : 4;
	const inputs in = make_inputs(s, dtype);
	std::vector<float> out(n), mean(s.N), rstd(s.N);
	rc_ops_layernorm(out.data(), mean.data(), rstd.data(), in.x.data(), in.w.data(),
		in.b.data(), s.N, s.C, 1e-5f);

	rc_dev<char> dx(n * es), dout(n * es), dw(s.C * es), db(s.C * es);
	rc_dev<float> dmean(s.N), drstd(s.N);
	rc_test_upload(dx.p, in.x, dtype);
	rc_test_upload(dw.p, in.w, dtype);
	rc_test_upload(db.p, in.b, dtype);
	void *y = inplace ? dx.p : dout.p;
	char what[160];
	snprintf(what, sizeof what, "N=%d C=%d %s %d threads%s, %s order", s.N, s.C,
		variant_name[variant], block, inplace ? " in place" : "", o.name);
	int rc = rc_cuda_layernorm_forward_v(variant, block, y, dmean.p, drstd.p, dx.p, dw.p,
		db.p, s.N, s.C, 1e-5f, dtype, NULL);
	if (rc < 0) {
		rc_test_fail("forward %s: %s", what, rc_strerror(rc));
		return;
	}
	const std::string key = std::string("forward ") + dtype_name[dtype] + " " +
		variant_name[variant];
	const rc_tol t = dtype == RC_CUDA_BF16 ? tol_bf16 : tol_f32;
	rc_test_close(key + " out", what, rc_test_download(y, n, dtype).data(), out.data(), n, t);
	rc_test_close(key + " mean", what, rc_test_download(dmean.p, s.N, RC_CUDA_F32).data(),
		mean.data(), s.N, tol_f32);
	rc_test_close(key + " rstd", what, rc_test_download(drstd.p, s.N, RC_CUDA_F32).data(),
		rstd.data(), s.N, tol_f32);
}

/* one backward at one variant and block size, from the CPU forward's
 * statistics */
static void check_backward(shape s, int dtype, int variant, int block, const rc_test_order &o)
{
	const size_t n = (size_t)s.N * s.C, es = dtype == RC_CUDA_BF16 ? 2 : 4;
	const inputs in = make_inputs(s, dtype);
	std::vector<float> out(n), mean(s.N), rstd(s.N);
	rc_ops_layernorm(out.data(), mean.data(), rstd.data(), in.x.data(), in.w.data(),
		in.b.data(), s.N, s.C, 1e-5f);
	std::vector<float> dx = in.dx0, dw = in.dw0, db = in.db0;
	rc_ops_layernorm_backward(dx.data(), dw.data(), db.data(), in.dy.data(), in.x.data(),
		in.w.data(), mean.data(), rstd.data(), s.N, s.C);

	rc_dev<char> ddx(n * es), ddy(n * es), dxin(n * es), dwt(s.C * es);
	rc_dev<float> dmean(s.N), drstd(s.N), ddw(s.C), ddb(s.C);
	rc_dev<char> scratch(rc_cuda_layernorm_backward_scratch(s.N, s.C));
	rc_test_upload(ddx.p, in.dx0, dtype);
	rc_test_upload(ddy.p, in.dy, dtype);
	rc_test_upload(dxin.p, in.x, dtype);
	rc_test_upload(dwt.p, in.w, dtype);
	rc_test_upload(dmean.p, mean, RC_CUDA_F32);
	rc_test_upload(drstd.p, rstd, RC_CUDA_F32);
	rc_test_upload(ddw.p, in.dw0, RC_CUDA_F32);
	rc_test_upload(ddb.p, in.db0, RC_CUDA_F32);
	char what[160];
	snprintf(what, sizeof what, "N=%d C=%d %s %d threads, %s order", s.N, s.C,
		variant_name[variant], block, o.name);
	int rc = rc_cuda_layernorm_backward_v(variant, block, ddx.p, ddw.p, ddb.p,
		(float *)scratch.p, ddy.p, dxin.p, dwt.p, dmean.p, drstd.p, s.N, s.C, dtype, NULL);
	if (rc < 0) {
		rc_test_fail("backward %s: %s", what, rc_strerror(rc));
		return;
	}
	const std::string key = std::string("backward ") + dtype_name[dtype] + " " +
		variant_name[variant];
	rc_test_close(key + " dinp", what, rc_test_download(ddx.p, n, dtype).data(), dx.data(), n,
		dtype == RC_CUDA_BF16 ? tol_bf16 : tol_f32);
	rc_test_close(key + " dw", what, rc_test_download(ddw.p, s.C, RC_CUDA_F32).data(),
		dw.data(), s.C, tol_f32);
	rc_test_close(key + " db", what, rc_test_download(ddb.p, s.C, RC_CUDA_F32).data(),
		db.data(), s.C, tol_f32);
}

/* the launchers refuse what they do not take */
static void check_arguments(void)
{
	rc_dev<float> a(64), m(2), r(2);
	struct {
		int variant, block, N, C, dtype;
	} bad[] = {
		{ RC_CUDA_LN_WARP, 48, 2, 32, RC_CUDA_F32 },    /* not a multiple of 32 */
		{ RC_CUDA_LN_WARP, 2048, 2, 32, RC_CUDA_F32 },  /* over 1024 */
		{ RC_CUDA_LN_VARIANTS, 64, 2, 32, RC_CUDA_F32 },
		{ RC_CUDA_LN_WARP, 64, 0, 32, RC_CUDA_F32 },
		{ RC_CUDA_LN_WARP, 64, 2, -1, RC_CUDA_F32 },
		{ RC_CUDA_LN_WARP, 64, 2, 32, 7 },
		{ RC_CUDA_LN_BLOCK, 64, 2, 20000, RC_CUDA_F32 }, /* the row does not fit */
	};
	fprintf(stderr, "test_layernorm: %zu refusals expected:\n", sizeof bad / sizeof bad[0] + 1);
	for (auto &c : bad)
		if (rc_cuda_layernorm_forward_v(c.variant, c.block, a.p, m.p, r.p, a.p, a.p, a.p, c.N,
			    c.C, 1e-5f, c.dtype, NULL) != RC_E_ARG)
			rc_test_fail("forward variant %d block %d N %d C %d dtype %d: not refused",
				c.variant, c.block, c.N, c.C, c.dtype);
	if (rc_cuda_layernorm_backward(a.p, m.p, r.p, NULL, a.p, a.p, a.p, m.p, r.p, 2, 32,
		    RC_CUDA_F32, NULL) != RC_E_ARG)
		rc_test_fail("backward without scratch: not refused");
}

int main(void)
{
	rc_test_start("test_layernorm");
	rc_ops_set_threads(1);
	/* C below a warp, not a multiple of 32, and above the largest block;
	 * N leaves the last block of the warp variant part full */
	const shape shapes[] = { { 7, 20 }, { 5, 200 }, { 3, 1100 } };
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (int v = 0; v < RC_CUDA_LN_VARIANTS; v++)
				for (int block : blocks)
					for (shape s : shapes) {
						check_forward(s, dtype, v, block, false, o);
						check_backward(s, dtype, v, block, o);
					}
		for (int v = 0; v < RC_CUDA_LN_VARIANTS; v++)
			check_forward(shapes[1], RC_CUDA_F32, v, 64, true, o);
	}
	check_arguments();
	/* the default launchers, once */
	{
		shape s = { 9, 768 };
		const inputs in = make_inputs(s, RC_CUDA_F32);
		rc_dev<float> x(s.N * s.C), y(s.N * s.C), w(s.C), b(s.C);
		rc_test_upload(x.p, in.x, RC_CUDA_F32);
		rc_test_upload(w.p, in.w, RC_CUDA_F32);
		rc_test_upload(b.p, in.b, RC_CUDA_F32);
		std::vector<float> out(s.N * s.C);
		rc_ops_layernorm(out.data(), NULL, NULL, in.x.data(), in.w.data(), in.b.data(), s.N,
			s.C, 1e-5f);
		if (rc_cuda_layernorm_forward(y.p, NULL, NULL, x.p, w.p, b.p, s.N, s.C, 1e-5f,
			    RC_CUDA_F32, NULL) < 0)
			rc_test_fail("rc_cuda_layernorm_forward failed");
		rc_test_close("forward f32 default out", "N=9 C=768",
			rc_test_download(y.p, out.size(), RC_CUDA_F32).data(), out.data(), out.size(),
			tol_f32);
	}
	return rc_test_end();
}
