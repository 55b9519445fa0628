/* test_pool.cc - cuda/pool.cu against its CPU twins: pooling (the gathers
 * of rc_clip_encode_image and rc_clip_encode_text, rc_ops_pool_backward)
 * and the L2 normalisation (rc_ops_l2norm, rc_ops_l2norm_backward), fp32
 * and bf16, at every block size, in the three thread orders of the
 * emulation, or once on the GPU. Backward launchers add to buffers that
 * hold values already.
 *
 * Tolerances. Pooling copies and adds as the CPU: equality (fp32 with the
 * CPU's bits, bf16 with the rounding of the CPU's fp32 result on the same
 * inputs). The L2 norms do the CPU's float operations in its order but
 * sum in double in another order: the float norm (or out·dout) differs
 * from the CPU's only when the sum lies within ~D·2^-53 of a rounding
 * boundary, by one ulp: norm rtol 2^-23, out and dinp rtol 2^-22 (a
 * quotient by a norm one ulp off), dinp atol 1e-6 for an ulp of s in
 * dout - out·s where the two cancel (|out|·ulp(s)/norm <=
 * 2^-23·‖dout‖/‖x‖, about 1e-7 for these data). bf16 outputs: against the
 * bf16 rounding of the reference, one bf16 ulp (2^-7 relative) for an
 * fp32 difference that tips the rounding. The emulation (no FMA, the same
 * orders) should measure 0 for all of them.
 */
#include "tests/cuda/harness.h"
#include "tests/cuda/test_dtype.h"

#include "cuda/pool.cu"
#include "model/ops_cpu.h"

static const rc_tol tol_norm = { 0, 1.0 / (1 << 23) };
static const rc_tol tol_f32 = { 1e-6, 1.0 / (1 << 22) };
static const rc_tol tol_bf16 = { 1e-6, 1.0 / 128 };

/* ---------------------------------------------------------------- pooling */

struct seq_shape {
	int B, T, C;
};

/* pooled rows of x[B,T,C] at idx (NULL: position 0) and the backward */
static void check_pool(seq_shape s, bool text, int dtype, int block, const rc_test_order &o)
{
	const int B = s.B, T = s.T, C = s.C;
	const size_t n = (size_t)B * T * C, nb = (size_t)B * C;
	std::vector<int32_t> idx(B);
	const std::vector<float> r = rc_test_random(B, 0, (float)T, 51);
	for (int b = 0; b < B; b++)
		idx[b] = text ? (int32_t)r[b] : 0;
	if (text)
		idx[B - 1] = T - 1; /* the last position too */
	const std::vector<float> x = rc_test_as_dtype(rc_test_random(n, -2, 2, 52), dtype);
	const std::vector<float> dpooled = rc_test_as_dtype(rc_test_random(nb, -1, 1, 53), dtype);
	const std::vector<float> dx0 = rc_test_as_dtype(rc_test_random(n, -1, 1, 54), dtype);
	std::vector<float> pooled(nb), dx = dx0;
	for (int b = 0; b < B; b++) /* as forward.c: a copy of row idx[b] */
		memcpy(pooled.data() + (size_t)b * C, x.data() + ((size_t)b * T + idx[b]) * C,
			C * sizeof(float));
	rc_ops_pool_backward(dx.data(), dpooled.data(), text ? idx.data() : NULL, B, T, C);

	const size_t es = rc_test_esize(dtype);
	rc_dev<char> dxin(n * es), dpool(nb * es), ddp(nb * es), ddx(n * es);
	rc_dev<int32_t> didx(B);
	cudaMemcpy(didx.p, idx.data(), B * sizeof(int32_t), cudaMemcpyHostToDevice);
	rc_test_upload(dxin.p, x, dtype);
	rc_test_upload(ddp.p, dpooled, dtype);
	rc_test_upload(ddx.p, dx0, dtype);
	char what[160];
	snprintf(what, sizeof what, "B=%d T=%d C=%d idx %s, %d threads, %s order", B, T, C,
		text ? "given" : "NULL", block, o.name);
	const int32_t *i = text ? didx.p : NULL;
	int rc = rc_cuda_pool_v(block, dpool.p, dxin.p, i, B, T, C, dtype, NULL);
	if (rc >= 0)
		rc = rc_cuda_pool_backward_v(block, ddx.p, ddp.p, i, B, T, C, dtype, NULL);
	if (rc < 0) {
		rc_test_fail("pool %s: %s", what, rc_strerror(rc));
		return;
	}
	rc_test_close_dev(rc_test_key("pool", dtype, "pooled"), what, dpool.p, dtype, pooled,
		rc_test_exact);
	rc_test_close_dev(rc_test_key("pool backward", dtype, "dx"), what, ddx.p, dtype, dx,
		rc_test_exact);
}

/* ---------------------------------------------------------------- l2 norm */

struct rows_shape {
	int N, D;
};

static void check_l2norm(rows_shape s, int dtype, int block, bool inplace,
	const rc_test_order &o)
{
	const int N = s.N, D = s.D;
	const size_t n = (size_t)N * D;
	const std::vector<float> x = rc_test_as_dtype(rc_test_random(n, -1, 1.2f, 61), dtype);
	const std::vector<float> dy = rc_test_as_dtype(rc_test_random(n, -1, 1, 62), dtype);
	const std::vector<float> dx0 = rc_test_as_dtype(rc_test_random(n, -1, 1, 63), dtype);
	std::vector<float> out(n), norm(N);
	rc_ops_l2norm(out.data(), norm.data(), x.data(), N, D);
	/* the backward reads out as the kernel stored it */
	const std::vector<float> out_k = rc_test_as_dtype(out, dtype);
	std::vector<float> dx = dx0;
	rc_ops_l2norm_backward(dx.data(), dy.data(), out_k.data(), norm.data(), N, D);

	const size_t es = rc_test_esize(dtype);
	rc_dev<char> dxin(n * es), dout(n * es), ddy(n * es), ddx(n * es), dok(n * es);
	rc_dev<float> dnorm(N), dnorm_ref(N);
	rc_test_upload(dxin.p, x, dtype);
	rc_test_upload(ddy.p, dy, dtype);
	rc_test_upload(ddx.p, dx0, dtype);
	rc_test_upload(dok.p, out_k, dtype);
	rc_test_upload(dnorm_ref.p, norm, RC_CUDA_F32);
	char what[160];
	snprintf(what, sizeof what, "N=%d D=%d %d threads%s, %s order", N, D, block,
		inplace ? " in place" : "", o.name);
	void *y = inplace ? dxin.p : dout.p;
	int rc = rc_cuda_l2norm_v(block, y, dnorm.p, dxin.p, N, D, dtype, NULL);
	if (rc >= 0 && !inplace)
		rc = rc_cuda_l2norm_backward_v(block, ddx.p, ddy.p, dok.p, dnorm_ref.p, N, D, dtype,
			NULL);
	if (rc < 0) {
		rc_test_fail("l2norm %s: %s", what, rc_strerror(rc));
		return;
	}
	const rc_tol t = dtype == RC_CUDA_BF16 ? tol_bf16 : tol_f32;
	rc_test_close_dev(rc_test_key("l2norm", dtype, "out"), what, y, dtype, out, t);
	rc_test_close_dev(rc_test_key("l2norm", dtype, "norm"), what, dnorm.p, RC_CUDA_F32, norm,
		tol_norm);
	if (!inplace)
		rc_test_close_dev(rc_test_key("l2norm backward", dtype, "dinp"), what, ddx.p, dtype,
			dx, t);
}

/* ---------------------------------------------------------------- the rest */

static void check_arguments(void)
{
	rc_dev<float> a(1024);
	fprintf(stderr, "test_pool: 8 refusals expected:\n");
	const int refusals[] = {
		rc_cuda_pool_v(33, a.p, a.p, NULL, 2, 3, 64, RC_CUDA_F32, NULL),
		rc_cuda_pool_v(64, a.p, a.p, NULL, 2, 0, 64, RC_CUDA_F32, NULL),
		rc_cuda_pool_backward_v(64, a.p, NULL, NULL, 2, 3, 64, RC_CUDA_F32, NULL),
		rc_cuda_pool_backward_v(64, a.p, a.p, NULL, 2, 3, 64, 2, NULL),
		rc_cuda_l2norm_v(64, a.p, NULL, a.p, 0, 64, RC_CUDA_F32, NULL),
		rc_cuda_l2norm_v(64, a.p, NULL, a.p, 1 << 16, 1 << 16, RC_CUDA_F32, NULL),
		rc_cuda_l2norm_backward_v(64, a.p, a.p, a.p, NULL, 2, 64, RC_CUDA_F32, NULL),
		rc_cuda_l2norm_backward_v(2048, a.p, a.p, a.p, a.p, 2, 64, RC_CUDA_F32, NULL),
	};
	for (size_t i = 0; i < sizeof refusals / sizeof(int); i++)
		if (refusals[i] != RC_E_ARG)
			rc_test_fail("refusal %zu: returned %d, not RC_E_ARG", i, refusals[i]);
}

/* the default launchers once; an index outside [0, T) gives NaN forward
 * and nothing backward */
static void check_defaults(void)
{
	const int B = 3, T = 5, C = 64, D = 512;
	const std::vector<int32_t> idx = { 4, T, 0 };
	const std::vector<float> x = rc_test_random((size_t)B * T * C, -1, 1, 71);
	rc_dev<float> dx(x.size()), pooled((size_t)B * C);
	rc_dev<int32_t> didx(B);
	cudaMemcpy(didx.p, idx.data(), B * sizeof(int32_t), cudaMemcpyHostToDevice);
	rc_test_upload(dx.p, x, RC_CUDA_F32);
	if (rc_cuda_pool(pooled.p, dx.p, didx.p, B, T, C, RC_CUDA_F32, NULL) < 0 ||
	    rc_cuda_pool_backward(dx.p, pooled.p, didx.p, B, T, C, RC_CUDA_F32, NULL) < 0)
		rc_test_fail("rc_cuda_pool or rc_cuda_pool_backward failed");
	std::vector<float> p = rc_test_download(pooled.p, (size_t)B * C, RC_CUDA_F32);
	std::vector<float> ref = x, pref(p);
	for (int c = 0; c < C; c++) {
		pref[c] = x[(size_t)4 * C + c];
		pref[C + c] = NAN;
		pref[2 * C + c] = x[(size_t)2 * T * C + c];
		ref[(size_t)4 * C + c] *= 2;
		ref[(size_t)2 * T * C + c] *= 2;
	}
	rc_test_close("pool f32 default pooled", "an index out of range", p.data(), pref.data(),
		p.size(), rc_test_exact);
	rc_test_close_dev("pool backward f32 default dx", "an index out of range", dx.p,
		RC_CUDA_F32, ref, rc_test_exact);

	const std::vector<float> v = rc_test_random((size_t)B * D, -1, 1, 72);
	std::vector<float> out(v.size()), norm(B);
	rc_ops_l2norm(out.data(), norm.data(), v.data(), B, D);
	rc_dev<float> dv(v.size());
	rc_test_upload(dv.p, v, RC_CUDA_F32);
	if (rc_cuda_l2norm(dv.p, NULL, dv.p, B, D, RC_CUDA_F32, NULL) < 0)
		rc_test_fail("rc_cuda_l2norm failed");
	rc_test_close_dev("l2norm f32 default out", "N=3 D=512 in place, no norm", dv.p,
		RC_CUDA_F32, out, tol_f32);
}

int main(void)
{
	rc_test_start("test_pool");
	rc_ops_set_threads(1);
	/* a vision class token (idx NULL) and text positions, T up to 77, C
	 * a multiple of 32 or not */
	const seq_shape pools[] = { { 1, 1, 64 }, { 3, 17, 100 }, { 5, 77, 128 } };
	/* D below a warp, not a multiple of 32, a real projection width; N
	 * leaves the last block of warps part full */
	const rows_shape rows[] = { { 3, 7 }, { 1, 64 }, { 5, 100 }, { 9, 512 } };
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (int block : rc_test_blocks) {
				for (seq_shape s : pools) {
					check_pool(s, false, dtype, block, o);
					check_pool(s, true, dtype, block, o);
				}
				for (rows_shape s : rows)
					check_l2norm(s, dtype, block, false, o);
			}
		check_l2norm(rows[2], RC_CUDA_F32, 64, true, o);
		check_l2norm(rows[2], RC_CUDA_BF16, 64, true, o);
	}
	check_arguments();
	check_defaults();
	return rc_test_end();
}
