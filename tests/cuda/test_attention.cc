/* test_attention.cc - cuda/attention.cu against its CPU twin
 * (rc_ops_attention, rc_ops_attention_backward): every variant (head
 * width) that holds the head at every block size, fp32 and bf16, causal
 * and not, forward (out, and lse against the log-sum-exp of the CPU's
 * scores in double) and backward (dqkv added to what the buffer held,
 * from the reference out and lse), in the three thread orders of the
 * emulation, or once on the GPU.
 *
 * Shapes: CLIP's head of 64 at T = 1, 2, 7, 50 (ViT-B/32), 77 (text), 97
 * and 257 (ViT-L/14); the test fixtures' heads of 8 and 16, 32, an odd 5
 * and 80 (on the 128 variant only); B·H of 1 to 4; one case with scores
 * up to ~180, where the softmax is almost one-hot and exp(score)
 * overflows: the running maximum must keep it finite.
 *
 * Tolerances. fp32: |d| <= 1e-5 + 1e-5·|ref|, the brief's, for out, lse
 * and the gradients: the kernels sum in another order than the CPU's
 * sgemm (per tile, with the online rescaling) and the softmax sum in fp32
 * where the CPU uses double; the worst cases are printed at the end
 * (about 1e-6). bf16 out: 1e-4 + 2^-7·|ref|, one bf16 ulp (as
 * test_layernorm: the reference runs on the same bf16 inputs, so a bf16
 * output differs from it by its rounding and by fp32 noise that may tip
 * it). bf16 dqkv: each value is bf16(dqkv0 + g), rounded once (2^-7·|ref|
 * covers it), but the backward also reads out in bf16: D = rowsum(dout ∘
 * out) carries out's rounding (2^-9 relative per element) where the CPU's
 * D is exact, and moves dq and dk by scale·δD·|k| (or |q|). An absolute
 * term of 2^-8 of the tensor's largest reference value covers that with
 * a margin of 3 (measured: 0.3 of the bound at most); it is 0.4 % of the
 * largest gradient, where llm.c allows its bf16 kernels 8 % relative.
 * lse of a bf16 run keeps fp32's bound.
 *
 * The sharp case's scores (up to ~180) are known to either side only to a
 * few of their ulps (1.5e-5), and lse to its own, which exp turns into
 * relative errors of the probabilities; with |q|, |k| up to 12 its
 * gradients get 1e-4 + 1e-4·|ref| in fp32 and 2^-6 of the largest value
 * in bf16. Its forward keeps the common bounds: what it checks is that
 * the online maximum keeps exp from overflowing.
 */
#include "tests/cuda/harness.h"

#include "cuda/attention.cu"
#include "model/ops_cpu.h"

static const rc_tol tol_f32 = { 1e-5, 1e-5 };
static const rc_tol tol_bf16 = { 1e-4, 1.0 / 128 };
static const int blocks[] = { 32, 64, 96, 128, 256 };
static const char *const dtype_name[] = { "f32", "bf16" };
static const char *const variant_name[] = { "d16", "d32", "d64", "d128" };

struct shape {
	int B, T, C, H;
	float range; /* q and k uniform in ±range */
};

/* one case's inputs (bf16-rounded for bf16) and the CPU's results */
struct reference {
	shape s;
	int causal, dtype;
	std::vector<float> qkv, dout, dqkv0; /* inputs; backward adds to dqkv0 */
	std::vector<float> out, lse, dqkv;   /* CPU results */
};

static size_t n_qkv(const shape &s)
{
	return (size_t)s.B * s.T * 3 * s.C;
}
static size_t n_out(const shape &s)
{
	return (size_t)s.B * s.T * s.C;
}

/* lse[b,h,r] = log Σ_t exp(scores) of the CPU's scores, in double */
static std::vector<float> reference_lse(const shape &s, int causal, const std::vector<float> &qkv)
{
	const int d = s.C / s.H;
	const float scale = (float)pow((double)d, -0.5);
	std::vector<float> lse((size_t)s.B * s.H * s.T);
	std::vector<double> sc(s.T);
	for (int b = 0; b < s.B; b++)
		for (int h = 0; h < s.H; h++)
			for (int r = 0; r < s.T; r++) {
				const float *q = &qkv[((size_t)b * s.T + r) * 3 * s.C + (size_t)h * d];
				const int n = causal ? r + 1 : s.T;
				double m = -INFINITY, sum = 0;
				for (int t = 0; t < n; t++) {
					const float *k = &qkv[((size_t)b * s.T + t) * 3 * s.C + s.C +
						(size_t)h * d];
					double dot = 0;
					for (int c = 0; c < d; c++)
						dot += (double)q[c] * k[c];
					sc[t] = scale * dot;
					m = sc[t] > m ? sc[t] : m;
				}
				for (int t = 0; t < n; t++)
					sum += exp(sc[t] - m);
				lse[((size_t)b * s.H + h) * s.T + r] = (float)(m + log(sum));
			}
	return lse;
}

static reference make_reference(shape s, int causal, int dtype)
{
	reference R;
	R.s = s;
	R.causal = causal;
	R.dtype = dtype;
	const size_t nq = n_qkv(s), no = n_out(s);
	R.qkv = rc_test_random(nq, -1.0f, 1.0f, 11);
	/* q and k (the first two thirds of each row) at their range */
	for (size_t i = 0; i < nq; i++)
		if (i % (3 * s.C) < 2 * (size_t)s.C)
			R.qkv[i] *= s.range;
	R.dout = rc_test_random(no, -1.0f, 1.0f, 12);
	R.dqkv0 = rc_test_random(nq, -0.5f, 0.5f, 13);
	if (dtype == RC_CUDA_BF16)
		for (std::vector<float> *v : { &R.qkv, &R.dout, &R.dqkv0 })
			*v = rc_test_round_bf16(*v);

	std::vector<float> att((size_t)s.B * s.H * s.T * s.T), scratch((size_t)s.T * s.T);
	R.out.resize(no);
	rc_ops_attention(R.out.data(), att.data(), R.qkv.data(), s.B, s.T, s.C, s.H, causal, NULL,
		0);
	R.lse = reference_lse(s, causal, R.qkv);
	R.dqkv = R.dqkv0;
	rc_ops_attention_backward(R.dqkv.data(), R.dout.data(), R.qkv.data(), att.data(), s.B, s.T,
		s.C, s.H, causal, scratch.data(), 1);
	return R;
}

/* the gradient tolerance of one reference: see the top */
static rc_tol grad_tol(const reference &R)
{
	const bool sharp = R.s.range > 4;
	if (R.dtype == RC_CUDA_F32)
		return sharp ? rc_tol{ 1e-4, 1e-4 } : tol_f32;
	float mx = 0.0f;
	for (float v : R.dqkv)
		mx = fabsf(v) > mx ? fabsf(v) : mx;
	return { mx / (sharp ? 64.0 : 256.0), 1.0 / 128 };
}

/* device copies of one reference's inputs */
struct device_case {
	size_t es;
	rc_dev<char> qkv, out, dout, dqkv, ref_out;
	rc_dev<float> lse, ref_lse, scratch;
	explicit device_case(const reference &R)
		: es(R.dtype == RC_CUDA_BF16 ? 2 : 4), qkv(n_qkv(R.s) * es), out(n_out(R.s) * es),
		  dout(n_out(R.s) * es), dqkv(n_qkv(R.s) * es), ref_out(n_out(R.s) * es),
		  lse(R.lse.size()), ref_lse(R.lse.size()),
		  scratch(rc_cuda_attention_backward_scratch(R.s.B, R.s.T, R.s.H) / sizeof(float))
	{
		rc_test_upload(qkv.p, R.qkv, R.dtype);
		rc_test_upload(dout.p, R.dout, R.dtype);
		rc_test_upload(ref_out.p, R.out, R.dtype);
		rc_test_upload(ref_lse.p, R.lse, RC_CUDA_F32);
	}
};

static std::string describe(const reference &R, int variant, int block, const char *order)
{
	char what[200];
	snprintf(what, sizeof what, "B=%d T=%d C=%d H=%d%s%s %s %d threads, %s order", R.s.B,
		R.s.T, R.s.C, R.s.H, R.causal ? " causal" : "", R.s.range > 4 ? " sharp" : "",
		variant_name[variant], block, order);
	return what;
}

static void check_forward(const reference &R, device_case &D, int variant, int block,
	const rc_test_order &o)
{
	const std::string what = describe(R, variant, block, o.name);
	cudaMemset(D.out.p, 0xff, D.out.n); /* NaN: a value not written shows */
	cudaMemset(D.lse.p, 0xff, D.lse.n * sizeof(float));
	int rc = rc_cuda_attention_forward_v(variant, block, D.out.p, D.lse.p, D.qkv.p, R.s.B,
		R.s.T, R.s.C, R.s.H, R.causal, R.dtype, NULL);
	if (rc < 0) {
		rc_test_fail("forward %s: %s", what.c_str(), rc_strerror(rc));
		return;
	}
	const std::string key = std::string("forward ") + dtype_name[R.dtype] + " " +
		variant_name[variant] + (R.s.range > 4 ? " sharp" : "");
	rc_test_close(key + " out", what, rc_test_download(D.out.p, R.out.size(), R.dtype).data(),
		R.out.data(), R.out.size(), R.dtype == RC_CUDA_BF16 ? tol_bf16 : tol_f32);
	rc_test_close(key + " lse", what,
		rc_test_download(D.lse.p, R.lse.size(), RC_CUDA_F32).data(), R.lse.data(),
		R.lse.size(), tol_f32);
}

static void check_backward(const reference &R, device_case &D, int variant, int block,
	const rc_test_order &o)
{
	const std::string what = describe(R, variant, block, o.name);
	rc_test_upload(D.dqkv.p, R.dqkv0, R.dtype);
	cudaMemset(D.scratch.p, 0xff, D.scratch.n * sizeof(float));
	int rc = rc_cuda_attention_backward_v(variant, block, D.dqkv.p, D.scratch.p, D.dout.p,
		D.qkv.p, D.ref_out.p, D.ref_lse.p, R.s.B, R.s.T, R.s.C, R.s.H, R.causal, R.dtype,
		NULL);
	if (rc < 0) {
		rc_test_fail("backward %s: %s", what.c_str(), rc_strerror(rc));
		return;
	}
	const std::string key = std::string("backward ") + dtype_name[R.dtype] + " " +
		variant_name[variant] + (R.s.range > 4 ? " sharp" : "") + " dqkv";
	rc_test_close(key, what, rc_test_download(D.dqkv.p, R.dqkv.size(), R.dtype).data(),
		R.dqkv.data(), R.dqkv.size(), grad_tol(R));
}

/* the launchers refuse what they do not take */
static void check_arguments(void)
{
	rc_dev<float> a(3 * 64 * 2), l(2);
	struct {
		int variant, block, B, T, C, H, dtype;
	} bad[] = {
		{ RC_CUDA_ATT_D64, 48, 1, 2, 64, 1, RC_CUDA_F32 },   /* not a multiple of 32 */
		{ RC_CUDA_ATT_D64, 512, 1, 2, 64, 1, RC_CUDA_F32 },  /* over 8 warps */
		{ RC_CUDA_ATT_VARIANTS, 64, 1, 2, 64, 1, RC_CUDA_F32 },
		{ RC_CUDA_ATT_D32, 64, 1, 2, 64, 1, RC_CUDA_F32 },   /* head of 64 on 32 */
		{ RC_CUDA_ATT_D128, 64, 1, 2, 258, 2, RC_CUDA_F32 }, /* head of 129 */
		{ RC_CUDA_ATT_D64, 64, 1, 2, 64, 3, RC_CUDA_F32 },   /* C % H */
		{ RC_CUDA_ATT_D64, 64, 0, 2, 64, 1, RC_CUDA_F32 },
		{ RC_CUDA_ATT_D64, 64, 1, 0, 64, 1, RC_CUDA_F32 },
		{ RC_CUDA_ATT_D64, 64, 1, 2, 64, 1, 7 },
	};
	const size_t nbad = sizeof bad / sizeof bad[0];
	fprintf(stderr, "test_attention: %zu refusals expected:\n", 2 * nbad + 2);
	for (auto &c : bad) {
		if (rc_cuda_attention_forward_v(c.variant, c.block, a.p, l.p, a.p, c.B, c.T, c.C, c.H,
			    0, c.dtype, NULL) != RC_E_ARG)
			rc_test_fail("forward variant %d block %d B %d T %d C %d H %d dtype %d: not "
				"refused", c.variant, c.block, c.B, c.T, c.C, c.H, c.dtype);
		if (rc_cuda_attention_backward_v(c.variant, c.block, a.p, l.p, a.p, a.p, a.p, l.p,
			    c.B, c.T, c.C, c.H, 0, c.dtype, NULL) != RC_E_ARG)
			rc_test_fail("backward variant %d block %d B %d T %d C %d H %d dtype %d: not "
				"refused", c.variant, c.block, c.B, c.T, c.C, c.H, c.dtype);
	}
	if (rc_cuda_attention_forward(NULL, l.p, a.p, 1, 2, 64, 1, 0, RC_CUDA_F32, NULL) != RC_E_ARG)
		rc_test_fail("forward without out: not refused");
	if (rc_cuda_attention_backward(a.p, NULL, a.p, a.p, a.p, l.p, 1, 2, 64, 1, 0, RC_CUDA_F32,
		    NULL) != RC_E_ARG)
		rc_test_fail("backward without scratch: not refused");
}

/* the default launchers, twice each on a text-like causal case: the
 * results match the reference, and the second run has the same bits;
 * then the forward without lse */
static void check_defaults(void)
{
	const reference R = make_reference({ 3, 77, 128, 2, 2.0f }, 1, RC_CUDA_F32);
	device_case D(R);
	std::vector<float> first;
	for (int run = 0; run < 2; run++) {
		rc_test_upload(D.dqkv.p, R.dqkv0, RC_CUDA_F32);
		if (rc_cuda_attention_forward(D.out.p, D.lse.p, D.qkv.p, R.s.B, R.s.T, R.s.C, R.s.H,
			    1, RC_CUDA_F32, NULL) < 0 ||
			rc_cuda_attention_backward(D.dqkv.p, D.scratch.p, D.dout.p, D.qkv.p, D.out.p,
				D.lse.p, R.s.B, R.s.T, R.s.C, R.s.H, 1, RC_CUDA_F32, NULL) < 0) {
			rc_test_fail("the default launchers failed");
			return;
		}
		std::vector<float> g = rc_test_download(D.dqkv.p, R.dqkv.size(), RC_CUDA_F32);
		rc_test_close("default f32 out", "B=3 T=77 causal",
			rc_test_download(D.out.p, R.out.size(), RC_CUDA_F32).data(), R.out.data(),
			R.out.size(), tol_f32);
		rc_test_close("default f32 dqkv", "B=3 T=77 causal, from the kernel's out and lse",
			g.data(), R.dqkv.data(), g.size(), tol_f32);
		if (run == 0)
			first = g;
		else if (memcmp(first.data(), g.data(), g.size() * sizeof(float)))
			rc_test_fail("the default backward: two runs, different bits");
	}
	/* without lse (inference): the same out */
	cudaMemset(D.out.p, 0xff, D.out.n);
	if (rc_cuda_attention_forward(D.out.p, NULL, D.qkv.p, R.s.B, R.s.T, R.s.C, R.s.H, 1,
		    RC_CUDA_F32, NULL) < 0)
		rc_test_fail("the default forward without lse failed");
	rc_test_close("default f32 out", "B=3 T=77 causal, without lse",
		rc_test_download(D.out.p, R.out.size(), RC_CUDA_F32).data(), R.out.data(),
		R.out.size(), tol_f32);
}

int main(void)
{
	rc_test_start("test_attention");
	rc_ops_set_threads(1);
	/* the variants each shape runs on (bit v: variant v), at every block
	 * size: a head on its own variant, and on wider ones for the padding;
	 * together every variant meets heads of its full width and narrower */
	const unsigned D16 = 1u << RC_CUDA_ATT_D16, D32 = 1u << RC_CUDA_ATT_D32;
	const unsigned D64 = 1u << RC_CUDA_ATT_D64, D128 = 1u << RC_CUDA_ATT_D128;
	const struct {
		shape s;
		unsigned variants;
	} cases[] = {
		{ { 1, 1, 128, 2, 2.0f }, D64 },
		{ { 2, 2, 128, 2, 2.0f }, D64 },
		{ { 1, 7, 128, 2, 2.0f }, D64 },
		{ { 2, 50, 128, 2, 2.0f }, D64 | D128 }, /* ViT-B/32 */
		{ { 1, 77, 128, 2, 2.0f }, D64 },        /* text */
		{ { 1, 97, 128, 2, 2.0f }, D64 },
		{ { 1, 257, 64, 1, 2.0f }, D64 },        /* ViT-L/14 */
		{ { 1, 77, 32, 2, 2.0f }, D16 | D32 },   /* the tiny config's text head of 16 */
		{ { 1, 50, 64, 2, 2.0f }, D32 },         /* 32 */
		{ { 1, 50, 32, 4, 2.0f }, D16 },         /* the fixtures' heads of 8 */
		{ { 2, 7, 10, 2, 2.0f }, D16 },          /* 5: odd */
		{ { 1, 50, 160, 2, 2.0f }, D128 },       /* 80 */
		{ { 1, 77, 64, 1, 12.0f }, D64 },        /* sharp: scores up to ~180 */
	};
	for (const auto &c : cases)
		for (int causal = 0; causal < 2; causal++)
			for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 }) {
				const reference R = make_reference(c.s, causal, dtype);
				device_case D(R);
				for (const rc_test_order &o : rc_test_orders()) {
					rc_test_set_order(o);
					for (int v = 0; v < RC_CUDA_ATT_VARIANTS; v++)
						if (c.variants >> v & 1)
							for (int block : blocks) {
								check_forward(R, D, v, block, o);
								check_backward(R, D, v, block, o);
							}
				}
			}
	check_arguments();
	check_defaults();
	return rc_test_end();
}
