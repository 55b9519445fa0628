/* test_act.cc - cuda/act.cu against its CPU twins (rc_ops_act,
 * rc_ops_act_backward, rc_ops_add, rc_ops_add_backward): both variants
 * (scalar, 16-byte packs) at every block size, fp32 and bf16, the three
 * activations (quick_gelu, erf GELU, SigLIP's tanh GELU), in place too, at sizes that are not multiples of a pack
 * (4 floats, 8 bf16) so that the tail runs, from aligned buffers and
 * (scalar) buffers one element off, with the grid capped at 3 blocks once
 * so that the grid-stride loop runs; in the three thread orders of the
 * emulation, or once on the GPU.
 *
 * Tolerances. fp32: |d| <= 1e-6 + 1e-5·|ref|. The kernels compute the
 * CPU's expression term for term; on a GPU expf, erff and tanhf differ from
 * glibc's by an ulp or two (and nvcc contracts to FMA), a relative 1e-7
 * or so, except where 1 + erf(x) cancels (x < -3): there the difference
 * is absolute, at most 0.5·|x|·2 ulp(1) ≈ 6e-7 for |x| <= 5, hence the
 * atol. bf16 outputs: 1e-6 + 2^-7·|ref|, one bf16 ulp: the reference
 * runs in fp32 on the same bf16 inputs, so the kernel's result differs by
 * its final rounding (half an ulp) and by fp32 noise that may tip it (the
 * other half); the atol covers that noise where the result is ~0.
 */
#include "tests/cuda/buffers.h"

#include "cuda/act.cu"
#include "model/ops_cpu.h"

static const rc_tol tol_f32 = { 1e-6, 1e-5 };
static const rc_tol tol_bf16 = { 1e-6, 1.0 / 128 };
static const int blocks[] = { 32, 64, 96, 128, 256, 512, 1024 };
static const char *const variant_name[] = { "scalar", "vec" };
static const char *const dtype_name[] = { "f32", "bf16" };
static const char *const act_name[] = { "quick_gelu", "gelu", "gelu_tanh" };

struct where {
	int dtype, variant, block, off;
	size_t n;
	const rc_test_order *o;
	std::string what(const char *extra) const
	{
		char s[160];
		snprintf(s, sizeof s, "n=%zu %s %d threads%s%s, %s order", n, variant_name[variant],
			block, off ? " off by one" : "", extra, o->name);
		return s;
	}
	std::string key(const char *op) const
	{
		return std::string(op) + " " + dtype_name[dtype] + " " + variant_name[variant];
	}
	rc_tol tol() const { return dtype == RC_CUDA_BF16 ? tol_bf16 : tol_f32; }
};

/* forward (out of place and in place) and backward of one activation */
static void check_act(const where &c, int act)
{
	const size_t n = c.n;
	const std::vector<float> x = rc_test_input(n, -5.0f, 5.0f, 1, c.dtype);
	const std::vector<float> dy = rc_test_input(n, -1.0f, 1.0f, 2, c.dtype);
	const std::vector<float> dx0 = rc_test_input(n, -0.5f, 0.5f, 3, c.dtype);
	std::vector<float> y(n), dx = dx0;
	rc_ops_act(y.data(), x.data(), n, act);
	rc_ops_act_backward(dx.data(), x.data(), dy.data(), n, act);
	const std::string key = c.key("act") + " " + act_name[act];

	buf bx(x, c.dtype, c.off), by(n, c.dtype, c.off);
	buf bdy(dy, c.dtype, c.off), bdx(dx0, c.dtype, c.off);
	if (rc_cuda_act_forward_v(c.variant, c.block, by.p, bx.p, n, act, c.dtype, NULL) < 0 ||
	    rc_cuda_act_backward_v(c.variant, c.block, bdx.p, bx.p, bdy.p, n, act, c.dtype,
		    NULL) < 0) {
		rc_test_fail("%s %s: refused", key.c_str(), c.what("").c_str());
		return;
	}
	rc_test_close(key + " forward", c.what(""), by.get().data(), y.data(), n, c.tol());
	rc_test_close(key + " backward", c.what(""), bdx.get().data(), dx.data(), n, c.tol());
	if (rc_cuda_act_forward_v(c.variant, c.block, bx.p, bx.p, n, act, c.dtype, NULL) < 0)
		rc_test_fail("%s %s: in place refused", key.c_str(), c.what("").c_str());
	rc_test_close(key + " forward", c.what(" in place"), bx.get().data(), y.data(), n,
		c.tol());
}

/* out = a + b (into a third buffer, into a, into b) and its backward
 * (into both, da only, db only) */
static void check_add(const where &c)
{
	const size_t n = c.n;
	const std::vector<float> a = rc_test_input(n, -2.0f, 2.0f, 4, c.dtype);
	const std::vector<float> b = rc_test_input(n, -2.0f, 2.0f, 5, c.dtype);
	std::vector<float> sum(n);
	rc_ops_add(sum.data(), a.data(), b.data(), n);
	for (int into = 0; into < 3; into++) {
		buf ba(a, c.dtype, c.off), bb(b, c.dtype, c.off), bo(n, c.dtype, c.off);
		const buf &dst = into == 0 ? bo : into == 1 ? ba : bb;
		const char *how = into == 0 ? "" : into == 1 ? " into a" : " into b";
		if (rc_cuda_add_v(c.variant, c.block, dst.p, ba.p, bb.p, n, c.dtype, NULL) < 0)
			rc_test_fail("add %s: refused", c.what(how).c_str());
		rc_test_close(c.key("add"), c.what(how), dst.get().data(), sum.data(), n, c.tol());
	}
	const std::vector<float> dy = rc_test_input(n, -1.0f, 1.0f, 6, c.dtype);
	for (int which = 0; which < 3; which++) {
		std::vector<float> da = a, db = b;
		rc_ops_add_backward(which != 2 ? da.data() : NULL, which != 1 ? db.data() : NULL,
			dy.data(), n);
		buf ba(a, c.dtype, c.off), bb(b, c.dtype, c.off), bdy(dy, c.dtype, c.off);
		const char *how = which == 0 ? "" : which == 1 ? " da only" : " db only";
		if (rc_cuda_add_backward_v(c.variant, c.block, which != 2 ? ba.p : NULL,
			    which != 1 ? bb.p : NULL, bdy.p, n, c.dtype, NULL) < 0)
			rc_test_fail("add backward %s: refused", c.what(how).c_str());
		rc_test_close(c.key("add backward") + " da", c.what(how), ba.get().data(), da.data(),
			n, c.tol());
		rc_test_close(c.key("add backward") + " db", c.what(how), bb.get().data(), db.data(),
			n, c.tol());
	}
}

/* what the launchers refuse, and the plain ones' choice of variant */
static void check_arguments(void)
{
	const std::vector<float> v = rc_test_random(40, -1.0f, 1.0f, 7);
	buf al(v, RC_CUDA_F32, 0), off(v, RC_CUDA_F32, 1);
	struct {
		int variant, block, act, dtype;
		bool aligned;
	} bad[] = {
		{ RC_CUDA_EW_VEC, 64, RC_ACT_GELU, RC_CUDA_F32, false }, /* packs, one off */
		{ RC_CUDA_EW_SCALAR, 48, RC_ACT_GELU, RC_CUDA_F32, true },
		{ RC_CUDA_EW_SCALAR, 2048, RC_ACT_GELU, RC_CUDA_F32, true },
		{ RC_CUDA_EW_VARIANTS, 64, RC_ACT_GELU, RC_CUDA_F32, true },
		{ RC_CUDA_EW_SCALAR, 64, 3, RC_CUDA_F32, true },         /* no such act */
		{ RC_CUDA_EW_SCALAR, 64, RC_ACT_GELU, 7, true },
	};
	const size_t nbad = sizeof bad / sizeof bad[0];
	fprintf(stderr, "test_act: %zu refusals expected:\n", nbad + 5);
	for (auto &c : bad) {
		void *p = c.aligned ? al.p : off.p;
		if (rc_cuda_act_forward_v(c.variant, c.block, p, p, 40, c.act, c.dtype, NULL) !=
		    RC_E_ARG)
			rc_test_fail("act forward variant %d block %d act %d dtype %d: not refused",
				c.variant, c.block, c.act, c.dtype);
	}
	if (rc_cuda_act_backward_v(RC_CUDA_EW_VEC, 64, al.p, off.p, al.p, 40, RC_ACT_GELU,
		    RC_CUDA_F32, NULL) != RC_E_ARG)
		rc_test_fail("act backward, packs from a misaligned inp: not refused");
	if (rc_cuda_add_v(RC_CUDA_EW_VEC, 64, al.p, al.p, off.p, 40, RC_CUDA_F32, NULL) != RC_E_ARG)
		rc_test_fail("add, packs from a misaligned b: not refused");
	if (rc_cuda_add_backward_v(RC_CUDA_EW_VEC, 64, NULL, off.p, al.p, 40, RC_CUDA_F32,
		    NULL) != RC_E_ARG)
		rc_test_fail("add backward, packs into a misaligned db: not refused");
	if (rc_cuda_act_forward(NULL, al.p, 40, RC_ACT_GELU, RC_CUDA_F32, NULL) != RC_E_ARG)
		rc_test_fail("act forward into NULL: not refused");
	if (rc_cuda_add(al.p, al.p, NULL, 40, RC_CUDA_F32, NULL) != RC_E_ARG)
		rc_test_fail("add of NULL: not refused");

	/* the plain launchers take packs where they can and not where they
	 * cannot: both give the CPU's answer */
	std::vector<float> y(40);
	rc_ops_gelu(y.data(), v.data(), 40);
	buf yo(v, RC_CUDA_F32, 1), ya(v, RC_CUDA_F32, 0);
	if (rc_cuda_act_forward(yo.p, off.p, 40, RC_ACT_GELU, RC_CUDA_F32, NULL) < 0 ||
	    rc_cuda_act_forward(ya.p, al.p, 40, RC_ACT_GELU, RC_CUDA_F32, NULL) < 0)
		rc_test_fail("rc_cuda_act_forward refused");
	rc_test_close("act f32 default gelu", "n=40 off by one", yo.get().data(), y.data(), 40,
		tol_f32);
	rc_test_close("act f32 default gelu", "n=40 aligned", ya.get().data(), y.data(), 40,
		tol_f32);
}

int main(void)
{
	rc_test_start("test_act");
	rc_ops_set_threads(1);
	/* under, at and over a pack; a few packs and a tail; several blocks */
	const size_t sizes[] = { 1, 7, 8, 9, 37, 1027 };
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (int v = 0; v < RC_CUDA_EW_VARIANTS; v++)
				for (int block : blocks)
					for (size_t n : sizes) {
						const where c = { dtype, v, block, 0, n, &o };
						for (int act : { RC_ACT_QUICK_GELU, RC_ACT_GELU,
							     RC_ACT_GELU_TANH })
							check_act(c, act);
						check_add(c);
					}
		/* buffers one element off: the scalar variant only */
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (size_t n : { (size_t)9, (size_t)300 }) {
				const where c = { dtype, RC_CUDA_EW_SCALAR, 64, 1, n, &o };
				check_act(c, RC_ACT_GELU);
				check_act(c, RC_ACT_GELU_TANH);
				check_add(c);
			}
		/* a grid of 3 blocks striding over 1027 values */
		ew_max_grid = 3;
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (int v = 0; v < RC_CUDA_EW_VARIANTS; v++) {
				const where c = { dtype, v, 32, 0, 1027, &o };
				check_act(c, RC_ACT_QUICK_GELU);
				check_add(c);
			}
		ew_max_grid = 1 << 16;
	}
	check_arguments();
	return rc_test_end();
}
