/* test_loss.cc - cuda/loss.cu against its CPU twins (model/loss.h): the
 * CLIP and SigLIP losses at every variant and block size, the heads and
 * the L2 pull at every block size, in the three thread orders of the
 * emulation (or once on the GPU).
 *
 * The contrastive losses get P = txt·imgᵀ from rc_ops_matmul, as the
 * twins compute it, and are checked on what the twins give (the loss, the
 * scale and bias gradients, and dimg, dtxt: the kernels' dP through the
 * twin's own rc_ops_matmul_backward) and on what they keep inside (the
 * log-sum-exps, dP), recomputed here in double by the twins' formulas.
 * Every output must also have the same bits in every thread order (on a
 * GPU: in two runs), as sums in a fixed order do: a float atomic in a
 * sum fails that while it passes the tolerances.
 *
 * Tolerances, |d| <= atol + rtol·|ref|:
 *   - the losses, the log-sum-exps, the heads' dx: rtol 1e-5 (fp32
 *     kernels; the twins work in double), atol 1e-6 for the values that
 *     can be near 0 (a loss of a confident model);
 *   - CLIP's dP: rtol 1e-5 plus atol 4·ε·max|lse|·u, u = |dloss|·e^s/(2B)
 *     the gradient's unit (ε = FLT_EPSILON): the log-sum-exps are fp32,
 *     each within an ulp or two of |lse| <= 100 + log B, which moves every
 *     probability by that much relative; on the diagonal of a confident
 *     model the gradient is the difference of probabilities near 1, so
 *     its error is that much of u, not of its own (small) size;
 *   - SigLIP's dP: rtol 1e-5 plus atol 1e-7·u, u = |dloss|·e^s/B: there
 *     is no log-sum-exp; where y·z > 88.7 expf overflows and the kernel's
 *     σ(-y·z) is 0, the twin's a denormal;
 *   - dimg, dtxt (the kernels' dP through the twin's GEMM): rtol 1e-5 plus
 *     atol 1e-5·max|ref|, the fp32 GEMM's sums relative to the largest;
 *   - the scale and bias gradients: atol 1e-5·Σ|terms|, the sum's own
 *     scale: they are sums of terms of both signs that cancel;
 *   - the L2 pull's gradient: 0 (the CPU's roundings); its loss rtol 1e-9
 *     (both sum in double, in other orders).
 */
#include "tests/cuda/harness.h"
#include "tests/cuda/same_bits.h"

#include <float.h>

#include "cuda/loss.cu"
#include "model/ops_cpu.h"
extern "C" {
#include "model/loss.h"
}

static const int blocks[] = { 32, 64, 96, 128, 256, 512, 1024 };
static const char *const variant_name[] = { "warp", "block" };

struct bb_case {
	int B, D;
	float logit_scale, logit_bias;
	bool confident;  /* texts close to their images: probabilities near 1 */
	int block_max;   /* the block variant's largest block for this case */
};

/* B = 1, below a warp, not a multiple of 32, over a block of 32 with
 * three row groups in the column pass. The block variant runs a block of
 * threads per row, B·block fibers a launch in the emulation: the larger
 * rows stop at a block of 256 or 128 (the small ones cover the larger
 * blocks, mostly idle threads and empty warps either way). */
static const bb_case cases[] = {
	{ 1, 8, 2.659f, -10.0f, false, 1024 },
	{ 5, 8, 2.659f, -10.0f, false, 1024 },
	{ 37, 16, 4.6052f, -3.0f, true, 256 },   /* the clamp ln 100 */
	{ 70, 24, 2.659f, 0.5f, false, 128 },
};

/* unit rows, as the towers' normalised embeddings */
static std::vector<float> unit_rows(std::vector<float> v, int D)
{
	for (size_t r = 0; r < v.size() / D; r++) {
		double s = 0;
		for (int d = 0; d < D; d++)
			s += (double)v[r * D + d] * v[r * D + d];
		for (int d = 0; d < D; d++)
			v[r * D + d] = (float)(v[r * D + d] / sqrt(s));
	}
	return v;
}

struct bb_inputs {
	std::vector<float> img, txt, P, dimg0, dtxt0;
};

static bb_inputs make_bb(const bb_case &c)
{
	const size_t n = (size_t)c.B * c.D;
	bb_inputs in;
	in.img = unit_rows(rc_test_random(n, -1.0f, 1.0f, 41), c.D);
	in.txt = rc_test_random(n, -1.0f, 1.0f, 42);
	if (c.confident)
		for (size_t i = 0; i < n; i++)
			in.txt[i] = in.img[i] + 0.5f * in.txt[i];
	in.txt = unit_rows(in.txt, c.D);
	in.P.resize((size_t)c.B * c.B);
	rc_ops_matmul(in.P.data(), in.txt.data(), in.img.data(), NULL, c.B, c.D, c.B);
	in.dimg0 = rc_test_random(n, -0.01f, 0.01f, 43); /* the backward adds to these */
	in.dtxt0 = rc_test_random(n, -0.01f, 0.01f, 44);
	return in;
}

static double max_abs(const std::vector<float> &v)
{
	double m = 0;
	for (float x : v)
		m = fmax(m, fabs(x));
	return m;
}

static rc_tol grad_tol(const std::vector<float> &ref)
{
	return { 1e-5 * max_abs(ref), 1e-5 };
}

static float download1(const float *p)
{
	return rc_test_download(p, 1, RC_CUDA_F32)[0];
}

/* dimg, dtxt from the kernel's dP through the twin's own matmul backward */
static void check_embedding_grads(const std::string &key, const char *what, const bb_case &c,
	const bb_inputs &in, const std::vector<float> &dP, const std::vector<float> &dimg,
	const std::vector<float> &dtxt)
{
	std::vector<float> gi = in.dimg0, gt = in.dtxt0;
	rc_ops_matmul_backward(gt.data(), gi.data(), NULL, dP.data(), in.txt.data(), in.img.data(),
		c.B, c.D, c.B);
	rc_test_close(key + " dimg", what, gi.data(), dimg.data(), gi.size(), grad_tol(dimg));
	rc_test_close(key + " dtxt", what, gt.data(), dtxt.data(), gt.size(), grad_tol(dtxt));
}

/* ---------------------------------------------------------------- CLIP */

/* lo, n: the rank's rows (0, B: the whole loss's backward) */
static void check_clip(const bb_case &c, int variant, int block, bool inplace,
	const rc_test_order &o, int lo = 0, int n = 0)
{
	const int B = c.B;
	if (n == 0)
		n = B;
	const size_t bb = (size_t)B * B;
	const float dloss = 0.7f;
	const bb_inputs in = make_bb(c);

	/* the twin, and what it keeps inside, in double */
	struct rc_loss_clip *lc;
	if (rc_loss_clip_new(&lc, B) < 0) {
		rc_test_fail("rc_loss_clip_new");
		return;
	}
	const float loss = (float)rc_loss_clip_forward(lc, in.img.data(), in.txt.data(), B, c.D,
		c.logit_scale);
	std::vector<float> dimg = in.dimg0, dtxt = in.dtxt0;
	float ds = 0;
	rc_loss_clip_backward_rows(lc, dloss, lo, n, dimg.data(), dtxt.data(), &ds);
	const float *L = rc_loss_clip_logits(lc);
	const float scale = expf(c.logit_scale);
	std::vector<double> lr(B), lcol(B);
	for (int i = 0; i < B; i++) {
		double mr = -INFINITY, mc = -INFINITY, sr = 0, sc = 0;
		for (int j = 0; j < B; j++)
			mr = fmax(mr, L[(size_t)i * B + j]), mc = fmax(mc, L[(size_t)j * B + i]);
		for (int j = 0; j < B; j++)
			sr += exp(L[(size_t)i * B + j] - mr), sc += exp(L[(size_t)j * B + i] - mc);
		lr[i] = mr + log(sr), lcol[i] = mc + log(sc);
	}
	std::vector<float> lse(2 * B), dP(bb);
	double ds_scale = 0;
	for (int i = 0; i < B; i++) {
		lse[i] = (float)lr[i], lse[B + i] = (float)lcol[i];
		for (int j = 0; j < B; j++) {
			const size_t k = (size_t)i * B + j;
			const double er = exp(L[k] - lr[i]) - (i == j), ec = exp(L[k] - lcol[j]) - (i == j);
			const double g = (er + ec) * dloss / (2.0 * B);
			const bool ri = i >= lo && i < lo + n, rj = j >= lo && j < lo + n;
			dP[k] = (float)((ri == rj ? g : (ri ? er : ec) * dloss / (2.0 * B)) * scale);
			ds_scale += fabs(g * L[k]);
		}
	}
	rc_loss_clip_free(lc);

	rc_dev<float> dP_d(bb), dPout(bb), dlse(2 * B), dloss_d(1), dls(1), dparam(1);
	rc_dev<char> scratch(rc_cuda_loss_clip_scratch(B));
	rc_test_upload(dP_d.p, in.P, RC_CUDA_F32);
	rc_test_upload(dparam.p, { c.logit_scale }, RC_CUDA_F32);
	rc_test_upload(dls.p, { 0.25f }, RC_CUDA_F32); /* the backward adds to it */
	char what[160];
	snprintf(what, sizeof what, "B=%d rows [%d,%d) %s %d threads%s, %s order", B, lo, lo + n,
		variant_name[variant], block, inplace ? " in place" : "", o.name);
	const std::string key = std::string("clip ") + variant_name[variant];
	float *out = inplace ? dP_d.p : dPout.p;
	if (rc_cuda_loss_clip_forward_v(variant, block, dloss_d.p, dlse.p, scratch.p, dP_d.p,
		    dparam.p, B, NULL) < 0 ||
	    rc_cuda_loss_clip_backward_v(variant, block, out, dls.p, scratch.p, dP_d.p, dlse.p,
		    dparam.p, B, lo, n, dloss, NULL) < 0) {
		rc_test_fail("clip %s: a launcher failed", what);
		return;
	}
	const float ls_ref = 0.25f + ds;
	const rc_tol tol_loss = { 1e-6, 1e-5 };
	const float got_loss = download1(dloss_d.p);
	check_close(key + " loss", what, &got_loss, &loss, 1, tol_loss);
	check_close(key + " lse", what, rc_test_download(dlse.p, 2 * B, RC_CUDA_F32).data(),
		lse.data(), 2 * B, tol_loss);
	const std::vector<float> got = rc_test_download(out, bb, RC_CUDA_F32);
	double lmax = 0;
	for (float v : lse)
		lmax = fmax(lmax, fabs(v));
	const double u = fabs(dloss) * scale / (2.0 * B);
	check_close(key + " dP", what, got.data(), dP.data(), bb, { 4 * FLT_EPSILON * lmax * u,
		1e-5 });
	const float got_ls = download1(dls.p);
	check_close(key + " dlogit_scale", what, &got_ls, &ls_ref, 1,
		{ 1e-5 * ds_scale, 1e-5 });
	check_embedding_grads(key, what, c, in, got, dimg, dtxt);
}

/* ---------------------------------------------------------------- SigLIP */

static void check_siglip(const bb_case &c, int variant, int block, bool inplace,
	const rc_test_order &o, int lo = 0, int n = 0)
{
	const int B = c.B;
	if (n == 0)
		n = B;
	const size_t bb = (size_t)B * B;
	const float dloss = 0.3f;
	const bb_inputs in = make_bb(c);

	struct rc_loss_siglip *ls;
	if (rc_loss_siglip_new(&ls, B) < 0) {
		rc_test_fail("rc_loss_siglip_new");
		return;
	}
	const float loss = (float)rc_loss_siglip_forward(ls, in.img.data(), in.txt.data(), B, c.D,
		c.logit_scale, c.logit_bias);
	std::vector<float> dimg = in.dimg0, dtxt = in.dtxt0;
	float ds = 0, db = 0;
	rc_loss_siglip_backward_rows(ls, dloss, lo, n, dimg.data(), dtxt.data(), &ds, &db);
	rc_loss_siglip_free(ls);
	const float scale = expf(c.logit_scale);
	std::vector<float> dP(bb);
	double sum_s = 0, sum_b = 0;
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++) {
			const size_t k = (size_t)i * B + j;
			const float z = in.P[k] * scale + c.logit_bias;
			const double y = i == j ? 1.0 : -1.0;
			const double g = -(double)dloss / B * y / (1.0 + exp(y * z));
			dP[k] = j >= lo && j < lo + n ? (float)(g * scale) : 0.0f;
			sum_b += fabs(g), sum_s += fabs(g * ((double)z - c.logit_bias));
		}

	rc_dev<float> dP_d(bb), dPout(bb), dloss_d(1), dls(1), dlb(1), dscale(1), dbias(1);
	rc_dev<char> scratch(rc_cuda_loss_siglip_scratch(B));
	rc_test_upload(dP_d.p, in.P, RC_CUDA_F32);
	rc_test_upload(dscale.p, { c.logit_scale }, RC_CUDA_F32);
	rc_test_upload(dbias.p, { c.logit_bias }, RC_CUDA_F32);
	rc_test_upload(dls.p, { -0.5f }, RC_CUDA_F32);
	rc_test_upload(dlb.p, { 0.125f }, RC_CUDA_F32);
	char what[160];
	snprintf(what, sizeof what, "B=%d rows [%d,%d) %s %d threads%s, %s order", B, lo, lo + n,
		variant_name[variant], block, inplace ? " in place" : "", o.name);
	const std::string key = std::string("siglip ") + variant_name[variant];
	float *out = inplace ? dP_d.p : dPout.p;
	if (rc_cuda_loss_siglip_forward_v(variant, block, dloss_d.p, scratch.p, dP_d.p, dscale.p,
		    dbias.p, B, NULL) < 0 ||
	    rc_cuda_loss_siglip_backward_v(variant, block, out, dls.p, dlb.p, scratch.p, dP_d.p,
		    dscale.p, dbias.p, B, lo, n, dloss, NULL) < 0) {
		rc_test_fail("siglip %s: a launcher failed", what);
		return;
	}
	const float got_loss = download1(dloss_d.p);
	check_close(key + " loss", what, &got_loss, &loss, 1, { 1e-6, 1e-5 });
	const std::vector<float> got = rc_test_download(out, bb, RC_CUDA_F32);
	check_close(key + " dP", what, got.data(), dP.data(), bb,
		{ 1e-7 * fabs(dloss) * scale / B, 1e-5 });
	const float ls_ref = -0.5f + ds, lb_ref = 0.125f + db;
	const float got_ls = download1(dls.p), got_lb = download1(dlb.p);
	check_close(key + " dlogit_scale", what, &got_ls, &ls_ref, 1, { 1e-5 * sum_s, 1e-5 });
	check_close(key + " dlogit_bias", what, &got_lb, &lb_ref, 1, { 1e-5 * sum_b, 1e-5 });
	check_embedding_grads(key, what, c, in, got, dimg, dtxt);
}

/* ---------------------------------------------------------------- heads */

static void check_heads(int n, int K, int block, const rc_test_order &o)
{
	const size_t nk = (size_t)n * K;
	const int norm = n + 3; /* the global batch: other ranks' rows too */
	const float dloss = 0.05f;
	std::vector<float> x = rc_test_random(nk, -4.0f, 4.0f, 51);
	std::vector<float> t = rc_test_random(nk, 0.0f, 1.0f, 52);
	std::vector<float> dx0 = rc_test_random(nk, -0.01f, 0.01f, 53);
	std::vector<unsigned char> y(n);
	for (int r = 0; r < n; r++) {
		y[r] = (unsigned char)((r * 7 + 3) % K);
		t[(size_t)r * K + r % K] = (float)(r % 2); /* targets of 0 and 1 as well */
	}
	std::vector<float> dce = dx0, dbce = dx0;
	const float ce = (float)rc_loss_softmax_ce(x.data(), y.data(), n, K, norm, dloss,
		dce.data());
	const float bce = (float)rc_loss_bce_logits(x.data(), t.data(), n, K, norm, dloss,
		dbce.data());

	rc_dev<float> dx(nk), dt(nk), ddx(nk), dloss_d(1);
	rc_dev<unsigned char> dy(n);
	rc_dev<char> scratch(rc_cuda_loss_heads_scratch(n, K));
	rc_test_upload(dx.p, x, RC_CUDA_F32);
	rc_test_upload(dt.p, t, RC_CUDA_F32);
	cudaMemcpy(dy.p, y.data(), n, cudaMemcpyHostToDevice);
	char what[120];
	snprintf(what, sizeof what, "n=%d K=%d %d threads, %s order", n, K, block, o.name);
	const rc_tol tol = { 1e-6, 1e-5 };

	rc_test_upload(ddx.p, dx0, RC_CUDA_F32);
	if (rc_cuda_loss_softmax_ce_v(block, dloss_d.p, ddx.p, scratch.p, dx.p, dy.p, n, K, norm,
		    dloss, NULL) < 0)
		rc_test_fail("softmax ce %s: failed", what);
	float got = download1(dloss_d.p);
	check_close("softmax ce loss", what, &got, &ce, 1, tol);
	check_close("softmax ce dx", what, rc_test_download(ddx.p, nk, RC_CUDA_F32).data(),
		dce.data(), nk, tol);

	rc_test_upload(ddx.p, dx0, RC_CUDA_F32);
	if (rc_cuda_loss_bce_logits_v(block, dloss_d.p, ddx.p, scratch.p, dx.p, dt.p, n, K, norm,
		    dloss, NULL) < 0)
		rc_test_fail("bce %s: failed", what);
	got = download1(dloss_d.p);
	check_close("bce loss", what, &got, &bce, 1, tol);
	check_close("bce dx", what, rc_test_download(ddx.p, nk, RC_CUDA_F32).data(),
		dbce.data(), nk, tol);

	/* the loss alone (dx NULL) */
	if (rc_cuda_loss_softmax_ce_v(block, dloss_d.p, NULL, scratch.p, dx.p, dy.p, n, K, norm,
		    dloss, NULL) < 0)
		rc_test_fail("softmax ce without dx %s: failed", what);
	got = download1(dloss_d.p);
	check_close("softmax ce loss", what, &got, &ce, 1, tol);
}

/* ---------------------------------------------------------------- L2 */

static void check_l2(int block, const rc_test_order &o)
{
	/* odd sizes, groups in runs and alone; the pull on groups 0 and 1 */
	const size_t sizes[] = { 1, 9, 130, 3, 17001, 5, 1023, 2, 64 };
	const int groups[] = { 3, 0, 0, 2, 1, 1, 0, 4, 2 };
	const int nt = sizeof sizes / sizeof sizes[0];
	const unsigned mask = 1u << 0 | 1u << 1;
	const float beta = 1e-5f;
	std::vector<rc_cuda_tensor> table;
	size_t N = 0;
	for (int i = 0; i < nt; i++) {
		table.push_back({ N, sizes[i], groups[i] });
		N += sizes[i];
	}
	std::vector<float> p = rc_test_random(N, -1.0f, 1.0f, 61);
	std::vector<float> p0 = rc_test_random(N, -0.01f, 0.01f, 62);
	for (size_t i = 0; i < N; i++)
		p0[i] += p[i];
	std::vector<float> g0 = rc_test_random(N, -1e-3f, 1e-3f, 63), g = g0;
	double sum = 0;
	for (int i = 0; i < nt; i++)
		if (mask >> groups[i] & 1)
			sum += rc_loss_l2_anchor(p.data() + table[i].offset, p0.data() + table[i].offset,
				sizes[i], beta, g.data() + table[i].offset);
	const float loss = (float)sum;

	rc_dev<float> dp(N), dp0(N), dg(N), dloss(1);
	rc_dev<rc_cuda_tensor> dt(nt);
	rc_dev<char> scratch(rc_cuda_loss_l2_scratch(N));
	rc_test_upload(dp.p, p, RC_CUDA_F32);
	rc_test_upload(dp0.p, p0, RC_CUDA_F32);
	rc_test_upload(dg.p, g0, RC_CUDA_F32);
	cudaMemcpy(dt.p, table.data(), nt * sizeof(rc_cuda_tensor), cudaMemcpyHostToDevice);
	char what[120];
	snprintf(what, sizeof what, "N=%zu %d threads, %s order", N, block, o.name);
	if (rc_cuda_loss_l2_anchor_v(block, dloss.p, dg.p, scratch.p, dp.p, dp0.p, dt.p, nt, N,
		    mask, beta, NULL) < 0)
		rc_test_fail("l2 %s: failed", what);
	const float got = download1(dloss.p);
	check_close("l2 loss", what, &got, &loss, 1, { 0, 1e-9 });
	check_close("l2 grad", what, rc_test_download(dg.p, N, RC_CUDA_F32).data(), g.data(), N,
		{ 0, 0 });
}

/* ---------------------------------------------------------------- arguments */

static void check_arguments(void)
{
	rc_dev<float> a(64);
	rc_dev<rc_cuda_tensor> dt(1);
	const unsigned char y[1] = { 0 };
	fprintf(stderr, "test_loss: 9 refusals expected:\n");
	if (rc_cuda_loss_clip_forward_v(RC_CUDA_LOSS_VARIANTS, 64, a.p, a.p, a.p, a.p, a.p, 4,
		    NULL) != RC_E_ARG)
		rc_test_fail("clip forward: no such variant, not refused");
	if (rc_cuda_loss_clip_forward_v(RC_CUDA_LOSS_WARP, 40, a.p, a.p, a.p, a.p, a.p, 4,
		    NULL) != RC_E_ARG)
		rc_test_fail("clip forward: block 40 not refused");
	if (rc_cuda_loss_clip_backward_v(RC_CUDA_LOSS_BLOCK, 64, a.p, a.p, a.p, a.p, a.p, a.p, 0,
		    0, 1, 1.0f, NULL) != RC_E_ARG)
		rc_test_fail("clip backward: B = 0 not refused");
	if (rc_cuda_loss_clip_backward_v(RC_CUDA_LOSS_WARP, 64, a.p, a.p, a.p, a.p, a.p, a.p, 4,
		    3, 2, 1.0f, NULL) != RC_E_ARG)
		rc_test_fail("clip backward: rows [3,5) of 4 not refused");
	if (rc_cuda_loss_siglip_forward_v(RC_CUDA_LOSS_WARP, 64, a.p, a.p, a.p, a.p, NULL, 4,
		    NULL) != RC_E_ARG)
		rc_test_fail("siglip forward: no bias not refused");
	if (rc_cuda_loss_siglip_backward_v(RC_CUDA_LOSS_WARP, 2048, a.p, a.p, a.p, a.p, a.p, a.p,
		    a.p, 4, 0, 4, 1.0f, NULL) != RC_E_ARG)
		rc_test_fail("siglip backward: block 2048 not refused");
	if (rc_cuda_loss_softmax_ce_v(64, a.p, a.p, a.p, a.p, (const unsigned char *)a.p, 4, 5, 0,
		    1.0f, NULL) != RC_E_ARG)
		rc_test_fail("softmax ce: norm 0 not refused");
	if (rc_cuda_loss_bce_logits_v(64, a.p, a.p, NULL, a.p, a.p, 4, 5, 4, 1.0f, NULL) !=
	    RC_E_ARG)
		rc_test_fail("bce: no scratch not refused");
	if (rc_cuda_loss_l2_anchor_v(64, a.p, a.p, a.p, a.p, a.p, dt.p, 0, 64, 1, 1e-5f, NULL) !=
	    RC_E_ARG)
		rc_test_fail("l2: empty table not refused");
	(void)y;
}

/* the default launchers, once each on the CLIP and SigLIP case of B = 37 */
static void check_defaults(void)
{
	const bb_case &c = cases[2];
	const bb_inputs in = make_bb(c);
	struct rc_loss_clip *lc;
	struct rc_loss_siglip *ls;
	if (rc_loss_clip_new(&lc, c.B) < 0 || rc_loss_siglip_new(&ls, c.B) < 0)
		return rc_test_fail("twins");
	const float lclip = (float)rc_loss_clip_forward(lc, in.img.data(), in.txt.data(), c.B, c.D,
		c.logit_scale);
	const float lsig = (float)rc_loss_siglip_forward(ls, in.img.data(), in.txt.data(), c.B,
		c.D, c.logit_scale, c.logit_bias);
	rc_loss_clip_free(lc);
	rc_loss_siglip_free(ls);
	const size_t bb = (size_t)c.B * c.B;
	rc_dev<float> P(bb), lse(2 * c.B), loss(2), s(1), b(1);
	rc_dev<char> scratch(rc_cuda_loss_clip_scratch(c.B) + rc_cuda_loss_siglip_scratch(c.B));
	rc_test_upload(P.p, in.P, RC_CUDA_F32);
	rc_test_upload(s.p, { c.logit_scale }, RC_CUDA_F32);
	rc_test_upload(b.p, { c.logit_bias }, RC_CUDA_F32);
	if (rc_cuda_loss_clip_forward(loss.p, lse.p, scratch.p, P.p, s.p, c.B, NULL) < 0 ||
	    rc_cuda_loss_siglip_forward(loss.p + 1, scratch.p, P.p, s.p, b.p, c.B, NULL) < 0 ||
	    rc_cuda_loss_clip_backward(P.p, NULL, scratch.p, P.p, lse.p, s.p, c.B, 1.0f, NULL) < 0)
		rc_test_fail("the default launchers failed");
	const std::vector<float> got = rc_test_download(loss.p, 2, RC_CUDA_F32);
	rc_test_close("default clip loss", "B=37", &got[0], &lclip, 1, { 1e-6, 1e-5 });
	rc_test_close("default siglip loss", "B=37", &got[1], &lsig, 1, { 1e-6, 1e-5 });
}

/* every check in thread order o */
static void check_all(const rc_test_order &o)
{
	for (int v = 0; v < RC_CUDA_LOSS_VARIANTS; v++)
		for (int block : blocks)
			for (const bb_case &c : cases) {
				if (v == RC_CUDA_LOSS_BLOCK && block > c.block_max)
					continue;
				check_clip(c, v, block, false, o);
				check_siglip(c, v, block, false, o);
			}
	for (int v = 0; v < RC_CUDA_LOSS_VARIANTS; v++) {
		check_clip(cases[3], v, 64, true, o);
		check_siglip(cases[3], v, 64, true, o);
		/* the official gather's rank-local form: a middle rank, the first
		 * of one row, the last rank's half */
		check_clip(cases[2], v, 64, false, o, 10, 9);
		check_siglip(cases[2], v, 64, false, o, 10, 9);
		check_clip(cases[1], v, 32, false, o, 0, 1);
		check_siglip(cases[1], v, 32, false, o, 0, 1);
		check_clip(cases[3], v, 64, true, o, 35, 35);
		check_siglip(cases[3], v, 64, true, o, 35, 35);
	}
	for (int block : blocks) {
		check_heads(1, 5, block, o);
		check_heads(37, 5, block, o);
		check_heads(300, 5, block, o);
		check_heads(9, 1, block, o);
		check_heads(20, 13, block, o);
		check_l2(block, o);
	}
}

int main(void)
{
	rc_test_start("test_loss");
	rc_ops_set_threads(1);
	for (int pass = 0; pass < rc_test_passes; pass++)
		for (const rc_test_order &o : rc_test_orders()) {
			rc_test_set_order(o);
			check_all(o);
		}
#ifndef RC_CUDA_EMU
	/* on a GPU only (too slow emulated): a batch over 2048, where the
	 * column pass has its most groups (64) */
	const bb_case big = { 4099, 32, 4.6052f, -10.0f, false, 1024 };
	for (int v = 0; v < RC_CUDA_LOSS_VARIANTS; v++)
		for (int block : { 256, 1024 }) {
			check_clip(big, v, block, false, rc_test_orders()[0]);
			check_siglip(big, v, block, false, rc_test_orders()[0]);
		}
#endif
	check_arguments();
	check_defaults();
	return rc_test_end();
}
