/* test_embed.cc - cuda/embed.cu against its CPU twins: pixels to patches
 * (rc_clip_pixels_for, CLIP's and SigLIP's, then rc_ops_im2col), the
 * vision embeddings with a class token and without (rc_clip_encode_image's
 * loop, rc_ops_embed_patches_backward) and the
 * text embeddings (rc_ops_embed_tokens, rc_ops_embed_tokens_backward),
 * fp32 and bf16, at every block size, in the three thread orders of the
 * emulation, or once on the GPU. Backward launchers add to buffers that
 * hold values already.
 *
 * Tolerances. The kernels do the CPU's float operations (a lookup of a
 * table made by the CPU's expression, one add, batch sums in double in
 * the CPU's order), so they are checked for equality: fp32 outputs with
 * the CPU's bits, bf16 outputs with the bf16 rounding of the CPU's fp32
 * result on the same (bf16) inputs, fp32 gradients (dcls, dpos, dwpe)
 * with the CPU's bits in both dtypes. One exception: dwte for an id of
 * more than 32 positions, which the kernel sums in runs of 32 and the CPU
 * in one chain, both in fp32: each of the k ≤ 300 adds rounds by at most
 * half an ulp of a partial sum below 16 here, so |d| ≤ 300·2^-24·16 ≈
 * 3e-4 in the worst case and about √300 times an ulp in practice; the
 * bound is atol 2e-5, rtol 1e-5, about the fp32 kernels' 1e-5.
 */
#include "tests/cuda/harness.h"
#include "tests/cuda/test_dtype.h"

#include "cuda/embed.cu"
#include "model/ops_cpu.h"
extern "C" {
#include "model/cpu.h"
}

static const rc_tol tol_chain = { 2e-5, 1e-5 };
static const int V = 1000; /* vocabulary of most text tests */

/* ---------------------------------------------------------------- patches */

struct image_shape {
	int B, S, P, family;
};

static void check_patches(image_shape s, int dtype, int block, const rc_test_order &o)
{
	struct rc_clip_config cfg = {};
	cfg.family = s.family;
	const int g = s.S / s.P, K = 3 * s.P * s.P;
	const size_t npix = (size_t)s.S * s.S * 3, n = (size_t)s.B * g * g * K;
	std::vector<uint8_t> rgb(s.B * npix);
	std::vector<float> r = rc_test_random(rgb.size(), 0.0f, 256.0f, 11);
	for (size_t i = 0; i < rgb.size(); i++)
		rgb[i] = (uint8_t)r[i];
	rgb[0] = 0, rgb[1] = 255; /* both ends of the table */
	std::vector<float> pixels(rgb.size()), ref(n);
	for (int b = 0; b < s.B; b++)
		rc_clip_pixels_for(&cfg, rgb.data() + b * npix, s.S, pixels.data() + b * npix);
	rc_ops_im2col(ref.data(), pixels.data(), s.B, s.S, s.P);

	rc_dev<uint8_t> drgb(rgb.size());
	rc_dev<char> dp(n * rc_test_esize(dtype));
	cudaMemcpy(drgb.p, rgb.data(), rgb.size(), cudaMemcpyHostToDevice);
	char what[160];
	snprintf(what, sizeof what, "B=%d S=%d P=%d%s %d threads, %s order", s.B, s.S, s.P,
		s.family ? " siglip" : "", block, o.name);
	int rc = rc_cuda_patches_v(block, dp.p, drgb.p, s.B, s.S, s.P, s.family, dtype, NULL);
	if (rc < 0) {
		rc_test_fail("patches %s: %s", what, rc_strerror(rc));
		return;
	}
	rc_test_close_dev(rc_test_key(s.family ? "patches siglip" : "patches", dtype, "out"), what,
		dp.p, dtype, ref, rc_test_exact);
}

/* ---------------------------------------------------------------- vision */

struct seq_shape {
	int B, T, C;
};

/* the vision embeddings with a class token (ncls 1, CLIP) or without
 * (SigLIP: the patches' gradient is dembed itself, only dpos is wanted) */
static void check_vision(seq_shape s, int ncls, int dtype, int block, const rc_test_order &o)
{
	const int B = s.B, T = s.T, C = s.C;
	const size_t n = (size_t)B * T * C, np = (size_t)B * (T - ncls) * C;
	const std::vector<float> pout = rc_test_as_dtype(rc_test_random(np, -2, 2, 21), dtype);
	const std::vector<float> cls = rc_test_as_dtype(rc_test_random(C, -1, 1, 22), dtype);
	const std::vector<float> pos =
		rc_test_as_dtype(rc_test_random((size_t)T * C, -1, 1, 23), dtype);
	const std::vector<float> dembed = rc_test_as_dtype(rc_test_random(n, -1, 1, 24), dtype);
	const std::vector<float> dpatch0 = rc_test_as_dtype(rc_test_random(np, -1, 1, 25), dtype);
	const std::vector<float> dcls0 = rc_test_random(C, -1, 1, 26);
	const std::vector<float> dpos0 = rc_test_random((size_t)T * C, -1, 1, 27);

	/* the forward as rc_clip_encode_image's loop */
	std::vector<float> embed(n);
	for (int bt = 0; bt < B * T; bt++) {
		const int b = bt / T, t = bt % T;
		for (int c = 0; c < C; c++)
			embed[(size_t)bt * C + c] = (t >= ncls ? pout[((size_t)b * (T - ncls) + t -
				ncls) * C + c] : cls[c]) + pos[(size_t)t * C + c];
	}
	std::vector<float> dpatch = dpatch0, dcls = dcls0, dpos = dpos0;
	rc_ops_embed_patches_backward(ncls ? dpatch.data() : NULL, ncls ? dcls.data() : NULL,
		dpos.data(), dembed.data(), B, T, C);

	const size_t es = rc_test_esize(dtype);
	rc_dev<char> dout(n * es), dpo(np * es), dcl(C * es), dps((size_t)T * C * es);
	rc_dev<char> ddemb(n * es), ddpatch(np * es);
	rc_dev<float> ddcls(C), ddpos((size_t)T * C);
	rc_test_upload(dpo.p, pout, dtype);
	rc_test_upload(dcl.p, cls, dtype);
	rc_test_upload(dps.p, pos, dtype);
	rc_test_upload(ddemb.p, dembed, dtype);
	rc_test_upload(ddpatch.p, dpatch0, dtype);
	rc_test_upload(ddcls.p, dcls0, RC_CUDA_F32);
	rc_test_upload(ddpos.p, dpos0, RC_CUDA_F32);
	char what[160];
	snprintf(what, sizeof what, "B=%d T=%d C=%d%s %d threads, %s order", B, T, C,
		ncls ? "" : " no class", block, o.name);
	int rc = rc_cuda_embed_patches_v(block, dout.p, dpo.p, ncls ? dcl.p : NULL, dps.p, B, T, C,
		dtype, NULL);
	if (rc >= 0)
		rc = rc_cuda_embed_patches_backward_v(block, ncls ? ddpatch.p : NULL,
			ncls ? ddcls.p : NULL, ddpos.p, ddemb.p, B, T, C, dtype, NULL);
	if (rc < 0) {
		rc_test_fail("vision embeddings %s: %s", what, rc_strerror(rc));
		return;
	}
	const rc_tol t = rc_test_exact;
	const char *fw = ncls ? "vision" : "vision no class";
	const char *bw = ncls ? "vision backward" : "vision no class backward";
	rc_test_close_dev(rc_test_key(fw, dtype, "embed"), what, dout.p, dtype, embed, t);
	rc_test_close_dev(rc_test_key(bw, dtype, "dpatch"), what, ddpatch.p, dtype, dpatch, t);
	rc_test_close_dev(rc_test_key(bw, dtype, "dcls"), what, ddcls.p, RC_CUDA_F32, dcls, t);
	rc_test_close_dev(rc_test_key(bw, dtype, "dpos"), what, ddpos.p, RC_CUDA_F32, dpos, t);
}

/* ---------------------------------------------------------------- text */

/* ids like a tokenizer's: a start id, words from a small range (they
 * repeat) and some from the whole vocabulary v, an end id, then padding
 * 0: the pad id of a long batch has more than 32 positions. With one_id,
 * every position holds the same id (runs of 32 exactly and a remainder). */
static std::vector<int32_t> make_ids(int B, int T, int v, bool one_id, uint64_t seed)
{
	std::vector<int32_t> ids((size_t)B * T, one_id ? v / 2 : 0);
	std::vector<float> r = rc_test_random((size_t)B * T + B, 0, 1, seed);
	for (int b = 0; b < B && !one_id; b++) {
		int32_t *row = ids.data() + (size_t)b * T;
		const int len = 1 + (int)(r[(size_t)B * T + b] * (T - 1) * 0.6f);
		row[0] = v - 2;
		for (int t = 1; t < len && t < T; t++) {
			const float u = r[(size_t)b * T + t];
			row[t] = (int32_t)(u < 0.7f ? u * 40 : (u - 0.7f) / 0.3f * (v - 2));
		}
		if (len < T)
			row[len] = v - 1;
	}
	return ids;
}

static void check_tokens(seq_shape s, int V, bool one_id, int dtype, int block,
	const rc_test_order &o)
{
	const int B = s.B, T = s.T, C = s.C;
	const size_t n = (size_t)B * T * C, nv = (size_t)V * C, np = (size_t)T * C;
	const std::vector<int32_t> ids = make_ids(B, T, V, one_id, 31 + T);
	const std::vector<float> wte = rc_test_as_dtype(rc_test_random(nv, -1, 1, 32), dtype);
	const std::vector<float> wpe = rc_test_as_dtype(rc_test_random(np, -1, 1, 33), dtype);
	const std::vector<float> dy = rc_test_as_dtype(rc_test_random(n, -1, 1, 34), dtype);
	const std::vector<float> dwte0 = rc_test_random(nv, -1, 1, 35);
	const std::vector<float> dwpe0 = rc_test_random(np, -1, 1, 36);
	std::vector<float> out(n), dwte = dwte0, dwpe = dwpe0;
	rc_ops_embed_tokens(out.data(), ids.data(), wte.data(), wpe.data(), B, T, C, V);
	rc_ops_embed_tokens_backward(dwte.data(), dwpe.data(), dy.data(), ids.data(), B, T, C);

	const size_t es = rc_test_esize(dtype);
	rc_dev<int32_t> dids(ids.size());
	rc_dev<char> dout(n * es), dwt(nv * es), dwp(np * es), ddy(n * es);
	rc_dev<float> ddwte(nv), ddwpe(np);
	rc_dev<char> work(rc_cuda_embed_tokens_backward_work(B, T, C));
	cudaMemcpy(dids.p, ids.data(), ids.size() * sizeof(int32_t), cudaMemcpyHostToDevice);
	rc_test_upload(dwt.p, wte, dtype);
	rc_test_upload(dwp.p, wpe, dtype);
	rc_test_upload(ddy.p, dy, dtype);
	rc_test_upload(ddwte.p, dwte0, RC_CUDA_F32);
	rc_test_upload(ddwpe.p, dwpe0, RC_CUDA_F32);
	char what[160];
	snprintf(what, sizeof what, "B=%d T=%d C=%d V=%d%s %d threads, %s order", B, T, C, V,
		one_id ? " one id" : "", block, o.name);
	int rc = rc_cuda_embed_tokens_v(block, dout.p, dids.p, dwt.p, dwp.p, B, T, C, V, dtype,
		NULL);
	if (rc >= 0)
		rc = rc_cuda_embed_tokens_backward_v(block, ddwte.p, ddwpe.p, work.p, ddy.p,
			ids.data(), B, T, C, V, dtype, NULL);
	if (rc < 0) {
		rc_test_fail("text embeddings %s: %s", what, rc_strerror(rc));
		return;
	}
	rc_test_close_dev(rc_test_key("text", dtype, "out"), what, dout.p, dtype, out,
		rc_test_exact);
	rc_test_close_dev(rc_test_key("text backward", dtype, "dwpe"), what, ddwpe.p, RC_CUDA_F32,
		dwpe, rc_test_exact);
	/* dwte: the rows of ids of at most 32 positions (absent ones too)
	 * exactly, the others within tol_chain */
	std::vector<int> count(V, 0);
	for (int32_t id : ids)
		count[id]++;
	const std::vector<float> got = rc_test_download(ddwte.p, nv, RC_CUDA_F32);
	std::vector<float> g1, r1, g2, r2;
	for (int v = 0; v < V; v++) {
		std::vector<float> &g = count[v] > 32 ? g2 : g1, &r = count[v] > 32 ? r2 : r1;
		g.insert(g.end(), got.begin() + (size_t)v * C, got.begin() + (size_t)(v + 1) * C);
		r.insert(r.end(), dwte.begin() + (size_t)v * C, dwte.begin() + (size_t)(v + 1) * C);
	}
	rc_test_close(rc_test_key("text backward", dtype, "dwte, ids <= 32 rows"), what,
		g1.data(), r1.data(), g1.size(), rc_test_exact);
	if (!g2.empty())
		rc_test_close(rc_test_key("text backward", dtype, "dwte, ids > 32 rows"), what,
			g2.data(), r2.data(), g2.size(), tol_chain);
}

/* ---------------------------------------------------------------- the rest */

/* the launchers refuse what they do not take; an id outside the
 * vocabulary stops the token backward before it launches anything */
static void check_arguments(void)
{
	rc_dev<float> a(4096), w(4096);
	rc_dev<uint8_t> px(3 * 32 * 32);
	rc_dev<int32_t> ids(8);
	rc_dev<char> work(rc_cuda_embed_tokens_backward_work(1, 8, 64) + 16);
	fprintf(stderr, "test_embed: 15 refusals expected:\n");
	const int refusals[] = {
		rc_cuda_patches_v(48, a.p, px.p, 1, 32, 8, RC_FAMILY_CLIP, RC_CUDA_F32, NULL),
		rc_cuda_patches_v(64, a.p, px.p, 1, 32, 7, RC_FAMILY_CLIP, RC_CUDA_F32, NULL),
		rc_cuda_patches_v(64, a.p, px.p, 1, 32, 8, RC_FAMILY_CLIP, 7, NULL),
		rc_cuda_patches_v(64, a.p, px.p, 1, 32, 8, 2, RC_CUDA_F32, NULL),
		rc_cuda_patches_v(64, a.p, px.p, 1, 8, 9, RC_FAMILY_SIGLIP, RC_CUDA_F32, NULL),
		rc_cuda_embed_patches_v(64, a.p, a.p, NULL, a.p, 2, 0, 64, RC_CUDA_F32, NULL),
		rc_cuda_embed_patches_v(2048, a.p, a.p, a.p, a.p, 2, 5, 64, RC_CUDA_F32, NULL),
		rc_cuda_embed_patches_v(64, a.p, a.p, a.p, a.p, 2, 1, 64, RC_CUDA_F32, NULL),
		rc_cuda_embed_patches_backward_v(64, a.p, w.p, w.p, a.p, 0, 5, 64, RC_CUDA_F32,
			NULL),
		rc_cuda_embed_tokens_v(64, a.p, ids.p, a.p, a.p, 1, 8, 64, 0, RC_CUDA_F32, NULL),
		rc_cuda_embed_tokens_v(64, a.p, ids.p, a.p, a.p, 1 << 16, 77, 1024, V, RC_CUDA_F32,
			NULL),
		rc_cuda_embed_tokens_backward_v(64, w.p, NULL, NULL, a.p, NULL, 1, 8, 64, V,
			RC_CUDA_F32, NULL),
		rc_cuda_embed_tokens_backward_v(64, w.p, NULL, work.p + 4, a.p, ids.p, 1, 8, 64, V,
			RC_CUDA_F32, NULL),
	};
	for (size_t i = 0; i < sizeof refusals / sizeof(int); i++)
		if (refusals[i] != RC_E_ARG)
			rc_test_fail("refusal %zu: returned %d, not RC_E_ARG", i, refusals[i]);

	const int32_t bad[8] = { 1, 2, 3, V, 5, 6, 7, 8 };
	const std::vector<float> zero(8 * 64, 0.0f), dy(8 * 64, 1.0f);
	rc_test_upload(w.p, zero, RC_CUDA_F32);
	rc_test_upload(a.p, dy, RC_CUDA_F32);
	if (rc_cuda_embed_tokens_backward(a.p, w.p, work.p, a.p, bad, 1, 8, 64, V, RC_CUDA_F32,
		    NULL) != RC_E_RANGE)
		rc_test_fail("token backward with id %d of %d: not RC_E_RANGE", V, V);
	rc_test_close_dev("text backward, refused: dwpe untouched", "id out of range", w.p,
		RC_CUDA_F32, zero, rc_test_exact);
}

/* the default launchers once, and the token forward's NaN for an id
 * outside the vocabulary (the reference's NaN: the same bits) */
static void check_defaults(void)
{
	const int B = 2, T = 9, C = 64;
	const char *what = "B=2 T=9 C=64";
	std::vector<int32_t> ids = make_ids(B, T, V, false, 41);
	ids[3] = V; /* outside */
	const std::vector<float> wte = rc_test_random((size_t)V * C, -1, 1, 42);
	const std::vector<float> wpe = rc_test_random((size_t)T * C, -1, 1, 43);
	rc_dev<int32_t> dids(ids.size());
	rc_dev<float> wte_d((size_t)V * C), wpe_d((size_t)T * C), out((size_t)B * T * C);
	cudaMemcpy(dids.p, ids.data(), ids.size() * sizeof(int32_t), cudaMemcpyHostToDevice);
	rc_test_upload(wte_d.p, wte, RC_CUDA_F32);
	rc_test_upload(wpe_d.p, wpe, RC_CUDA_F32);
	if (rc_cuda_embed_tokens(out.p, dids.p, wte_d.p, wpe_d.p, B, T, C, V, RC_CUDA_F32,
		    NULL) < 0)
		rc_test_fail("rc_cuda_embed_tokens failed");
	std::vector<float> ref((size_t)B * T * C);
	ids[3] = 0;
	rc_ops_embed_tokens(ref.data(), ids.data(), wte.data(), wpe.data(), B, T, C, V);
	std::fill(ref.begin() + 3 * C, ref.begin() + 4 * C, NAN);
	rc_test_close_dev("text f32 default out", what, out.p, RC_CUDA_F32, ref, rc_test_exact);

	/* dpatch and dcls not wanted; dwte not wanted (no ids, no work) */
	const std::vector<float> dy = rc_test_random((size_t)B * T * C, -1, 1, 44);
	std::vector<float> dpos(wpe), dwpe(wpe);
	rc_dev<float> ddy(dy.size()), grad((size_t)T * C);
	rc_test_upload(ddy.p, dy, RC_CUDA_F32);
	rc_test_upload(grad.p, wpe, RC_CUDA_F32);
	if (rc_cuda_embed_patches_backward(NULL, NULL, grad.p, ddy.p, B, T, C, RC_CUDA_F32,
		    NULL) < 0)
		rc_test_fail("rc_cuda_embed_patches_backward without dpatch, dcls failed");
	rc_ops_embed_patches_backward(NULL, NULL, dpos.data(), dy.data(), B, T, C);
	rc_test_close_dev("vision backward f32 default dpos", what, grad.p, RC_CUDA_F32, dpos,
		rc_test_exact);
	rc_test_upload(grad.p, wpe, RC_CUDA_F32);
	if (rc_cuda_embed_tokens_backward(NULL, grad.p, NULL, ddy.p, NULL, B, T, C, V,
		    RC_CUDA_F32, NULL) < 0)
		rc_test_fail("rc_cuda_embed_tokens_backward without dwte failed");
	rc_ops_embed_tokens_backward(NULL, dwpe.data(), dy.data(), ids.data(), B, T, C);
	rc_test_close_dev("text backward f32 default dwpe", what, grad.p, RC_CUDA_F32, dwpe,
		rc_test_exact);
}

int main(void)
{
	rc_test_start("test_embed");
	rc_ops_set_threads(1);
	/* ViT-B/32-like and ViT-L/14-like patches scaled down; S = 40 and 28
	 * are no multiple of a warp, a patch row of 588 values is none either */
	const image_shape images[] = { { 2, 32, 8, 0 }, { 1, 32, 16, 0 }, { 3, 40, 8, 0 },
		{ 1, 28, 14, 0 }, { 2, 32, 8, 1 }, { 1, 30, 7, 1 } };
	/* T = (S/P)² + 1 of those images; C a multiple of 32 or not */
	const seq_shape vision[] = { { 2, 17, 64 }, { 3, 5, 100 }, { 1, 26, 128 } };
	/* T from 1 to the context of 77; B·T = 308 holds ids of > 32 rows */
	const seq_shape text[] = { { 1, 1, 64 }, { 3, 7, 100 }, { 4, 77, 128 } };
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (int block : rc_test_blocks) {
				for (image_shape s : images)
					check_patches(s, dtype, block, o);
				for (seq_shape s : vision)
					for (int ncls : { 1, 0 })
						check_vision(s, ncls, dtype, block, o);
				for (seq_shape s : text)
					check_tokens(s, V, false, dtype, block, o);
				/* one run of 32; runs of 32, 32, 2 */
				check_tokens({ 1, 32, 64 }, V, true, dtype, block, o);
				check_tokens({ 2, 33, 64 }, V, true, dtype, block, o);
			}
		/* ids over 16 bits: two passes of the radix sort */
		check_tokens({ 3, 20, 32 }, 70000, false, RC_CUDA_F32, 128, o);
	}
	check_arguments();
	check_defaults();
	return rc_test_end();
}
