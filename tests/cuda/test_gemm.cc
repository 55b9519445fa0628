/* test_gemm.cc - cuda/gemm.cu against its CPU twins: the linear layer's
 * forward (rc_ops_matmul, then rc_ops_act) with and without bias, with
 * each activation, the product kept or not; its backward
 * (rc_ops_matmul_backward: dinp, dw, dbias added to what they held, and
 * with some of them NULL); the bias gradient's two variants at every
 * block size; the general rc_cuda_gemm (every transpose, padded leading
 * dimensions, strided batches, alpha and beta, bf16 into fp32, a
 * misaligned operand, q·kᵀ inside a qkv buffer) against a loop in
 * double. Shapes: square, tall, wide, sizes that are no multiple of
 * 8/16/32, OC = 1, C = 1, 1×1×1, and a ViT block's MLP scaled down.
 * Then what is refused: by rc_cuda_gemm's checks (leading dimensions,
 * transposes that do not fit, types, strides), and, under the emulation,
 * by cuBLASLt's (gemm_emu.h) when a descriptor is wrong: leading
 * dimension, transpose, shapes, types, batch stride, alignment; and a
 * handle on a machine without a GPU. In the three thread orders of the
 * emulation (the kernels: activation, bias gradient), or once on the GPU.
 *
 * Tolerances. fp32: |d| <= 1e-5 + 1e-5·|ref|. The products are sums of
 * K <= 256 terms of size <= 1 (results up to ~10) in fp32, in k order
 * here, in OpenBLAS's blocked FMA order on the CPU and in cuBLAS's own on
 * a GPU; such sums differ by about u·√K·|partial sums| ≈ 1e-6, and the
 * atol leaves a factor of ten. bf16 outputs: 1e-4 + 2^-7·|ref|, one bf16
 * ulp, the inputs being bf16 numbers and the reference fp32 on them (see
 * test_layernorm.cc); the atol covers the fp32 noise where a result
 * cancels to ~0. An activation after a bf16 product is checked against
 * the activation of the product the GPU kept (rounded to bf16 before the
 * activation, as the kernel reads it), so the same one ulp applies; in
 * place it must equal, bit for bit, the result with the product kept.
 * Gradients in fp32 (dw, dbias) keep the fp32 tolerance.
 */
#include <cublasLt.h>

#include "tests/cuda/buffers.h"

#include "cuda/act.cu"
#include "cuda/gemm.cu"
#include "model/ops_cpu.h"

static const rc_tol tol_f32 = { 1e-5, 1e-5 };
static const rc_tol tol_bf16 = { 1e-4, 1.0 / 128 };
static const rc_tol tol_same = { 0, 0 };
static const int blocks[] = { 32, 64, 96, 128, 256, 512, 1024 };
static const char *const dtype_name[] = { "f32", "bf16" };
static const char *const act_label[] = { "none", "quick_gelu", "gelu", "gelu_tanh" }; /* act + 1 */

static rc_tol tol(int dtype)
{
	return dtype == RC_CUDA_BF16 ? tol_bf16 : tol_f32;
}

struct shape {
	int N, C, OC;
};

static std::string where(shape s, const char *extra, const rc_test_order &o)
{
	char w[160];
	snprintf(w, sizeof w, "N=%d C=%d OC=%d%s, %s order", s.N, s.C, s.OC, extra, o.name);
	return w;
}

/* ---------------------------------------------------------------- the linear layer */

static void check_forward(rc_cuda_blas *h, shape s, int dtype, bool with_bias, int act,
	const rc_test_order &o)
{
	const size_t no = (size_t)s.N * s.OC;
	const std::vector<float> x = rc_test_input((size_t)s.N * s.C, -1.0f, 1.0f, 1, dtype);
	const std::vector<float> w = rc_test_input((size_t)s.OC * s.C, -1.0f, 1.0f, 2, dtype);
	const std::vector<float> b = rc_test_input(s.OC, -1.0f, 1.0f, 3, dtype);
	std::vector<float> pre(no);
	rc_ops_matmul(pre.data(), x.data(), w.data(), with_bias ? b.data() : NULL, s.N, s.C, s.OC);

	buf bx(x, dtype), bw(w, dtype), bb(b, dtype), bout(no, dtype), bpre(no, dtype);
	const std::string key = std::string("forward ") + dtype_name[dtype] + " " +
		act_label[act + 1];
	const std::string what = where(s, with_bias ? " bias" : "", o);
	/* out and pre hold NaN (cudaMalloc's bytes here): beta = 0 must not read them */
	if (rc_cuda_matmul_forward(h, bout.p, act == RC_CUDA_ACT_NONE ? NULL : bpre.p, bx.p, bw.p,
		    with_bias ? bb.p : NULL, s.N, s.C, s.OC, act, dtype) < 0) {
		rc_test_fail("%s %s: failed", key.c_str(), what.c_str());
		return;
	}
	if (act == RC_CUDA_ACT_NONE) {
		rc_test_close(key + " out", what, bout.get().data(), pre.data(), no, tol(dtype));
		return;
	}
	const std::vector<float> kept = bpre.get();
	rc_test_close(key + " pre", what, kept.data(), pre.data(), no, tol(dtype));
	std::vector<float> out(no);
	rc_ops_act(out.data(), dtype == RC_CUDA_BF16 ? kept.data() : pre.data(), no, act);
	const std::vector<float> got = bout.get();
	rc_test_close(key + " out", what, got.data(), out.data(), no, tol(dtype));

	buf bin(no, dtype);
	if (rc_cuda_matmul_forward(h, bin.p, NULL, bx.p, bw.p, with_bias ? bb.p : NULL, s.N, s.C,
		    s.OC, act, dtype) < 0)
		rc_test_fail("%s %s in place: failed", key.c_str(), what.c_str());
	rc_test_close(key + " in place", what, bin.get().data(), got.data(), no, tol_same);
}

/* want: bit 0 dinp, bit 1 dw, bit 2 dbias */
static void check_backward(rc_cuda_blas *h, shape s, int dtype, int want, const rc_test_order &o)
{
	const size_t ni = (size_t)s.N * s.C, no = (size_t)s.N * s.OC, nw = (size_t)s.OC * s.C;
	const std::vector<float> x = rc_test_input(ni, -1.0f, 1.0f, 1, dtype);
	const std::vector<float> w = rc_test_input(nw, -1.0f, 1.0f, 2, dtype);
	const std::vector<float> dy = rc_test_input(no, -1.0f, 1.0f, 4, dtype);
	const std::vector<float> dx0 = rc_test_input(ni, -0.5f, 0.5f, 5, dtype);
	const std::vector<float> dw0 = rc_test_random(nw, -0.5f, 0.5f, 6);
	const std::vector<float> db0 = rc_test_random(s.OC, -0.5f, 0.5f, 7);
	std::vector<float> dx = dx0, dw = dw0, db = db0;
	rc_ops_matmul_backward(want & 1 ? dx.data() : NULL, want & 2 ? dw.data() : NULL,
		want & 4 ? db.data() : NULL, dy.data(), x.data(), w.data(), s.N, s.C, s.OC);

	buf bx(x, dtype), bw(w, dtype), bdy(dy, dtype), bdx(dx0, dtype);
	buf bdw(dw0, RC_CUDA_F32), bdb(db0, RC_CUDA_F32);
	rc_dev<char> scratch(rc_cuda_matmul_backward_scratch(s.N, s.OC));
	char extra[40];
	snprintf(extra, sizeof extra, "%s%s%s", want & 1 ? " dinp" : "", want & 2 ? " dw" : "",
		want & 4 ? " dbias" : "");
	const std::string what = where(s, extra, o);
	const std::string key = std::string("backward ") + dtype_name[dtype];
	if (rc_cuda_matmul_backward(h, want & 1 ? bdx.p : NULL, want & 2 ? (float *)bdw.p : NULL,
		    want & 4 ? (float *)bdb.p : NULL, (float *)scratch.p, bdy.p, bx.p, bw.p, s.N,
		    s.C, s.OC, dtype) < 0) {
		rc_test_fail("%s %s: failed", key.c_str(), what.c_str());
		return;
	}
	rc_test_close(key + " dinp", what, bdx.get().data(), dx.data(), ni, tol(dtype));
	rc_test_close(key + " dw", what, bdw.get().data(), dw.data(), nw, tol_f32);
	rc_test_close(key + " dbias", what, bdb.get().data(), db.data(), s.OC, tol_f32);
}

/* the bias gradient by each variant at each block size (packs where OC
 * is a multiple of a pack; check_refusals sees them refused otherwise) */
static void check_dbias(shape s, int dtype, const rc_test_order &o)
{
	const std::vector<float> dy = rc_test_input((size_t)s.N * s.OC, -1.0f, 1.0f, 4, dtype);
	const std::vector<float> db0 = rc_test_random(s.OC, -0.5f, 0.5f, 7);
	std::vector<float> db = db0;
	rc_ops_matmul_backward(NULL, NULL, db.data(), dy.data(), NULL, NULL, s.N, 1, s.OC);
	buf bdy(dy, dtype);
	rc_dev<char> scratch(rc_cuda_matmul_backward_scratch(s.N, s.OC));
	const int V = 16 / (int)rc_test_esize(dtype);
	for (int v = 0; v < (s.OC % V ? 1 : RC_CUDA_EW_VARIANTS); v++)
		for (int block : blocks) {
			buf bdb(db0, RC_CUDA_F32);
			char extra[40];
			snprintf(extra, sizeof extra, " %s %d threads", v ? "vec" : "scalar", block);
			if (rc_cuda_matmul_dbias_v(v, block, (float *)bdb.p, (float *)scratch.p, bdy.p,
				    s.N, s.OC, dtype, NULL) < 0)
				rc_test_fail("dbias %s: failed", where(s, extra, o).c_str());
			rc_test_close(std::string("dbias ") + dtype_name[dtype] + (v ? " vec" : " scalar"),
				where(s, extra, o), bdb.get().data(), db.data(), s.OC, tol_f32);
		}
}

/* ---------------------------------------------------------------- rc_cuda_gemm */

/* C = alpha·op(A)·op(B) + beta·C (+ bias) per batch entry, in double,
 * over row-major buffers as rc_cuda_gemm reads them; C's padding stays. */
static void gemm_ref(const rc_cuda_gemm_args &g, const std::vector<float> &A,
	const std::vector<float> &B, const float *bias, std::vector<float> &C)
{
	for (int e = 0; e < g.batch; e++)
		for (int i = 0; i < g.M; i++)
			for (int j = 0; j < g.N; j++) {
				double s = 0;
				for (int k = 0; k < g.K; k++) {
					const size_t ia = e * g.stride_a +
						(g.transa ? (size_t)k * g.lda + i : (size_t)i * g.lda + k);
					const size_t ib = e * g.stride_b +
						(g.transb ? (size_t)j * g.ldb + k : (size_t)k * g.ldb + j);
					s += (double)A[ia] * B[ib];
				}
				float &c = C[e * g.stride_c + (size_t)i * g.ldc + j];
				double v = g.alpha * s + (g.beta != 0.0f ? g.beta * (double)c : 0.0);
				c = (float)(v + (bias ? bias[j] : 0.0));
			}
}

/* the extent of a batched operand: rows of `cols` values ld apart */
static size_t extent(int batch, long long stride, int rows, int ld)
{
	return (size_t)(batch - 1) * stride + (size_t)rows * ld;
}

/* one general product: g's shapes, transposes, leading dimensions,
 * strides, scalars and types; its pointers are filled here. offa moves A
 * one element off its alignment. */
static void check_gemm(rc_cuda_blas *h, rc_cuda_gemm_args g, bool with_bias, int offa,
	const char *label, const rc_test_order &o)
{
	const int ab = g.ab_dtype, cd = g.c_dtype;
	const size_t na = extent(g.batch, g.stride_a, g.transa ? g.K : g.M, g.lda);
	const size_t nb = extent(g.batch, g.stride_b, g.transb ? g.N : g.K, g.ldb);
	const size_t nc = extent(g.batch, g.stride_c, g.M, g.ldc);
	const std::vector<float> A = rc_test_input(na, -1.0f, 1.0f, 11, ab);
	const std::vector<float> B = rc_test_input(nb, -1.0f, 1.0f, 12, ab);
	const std::vector<float> bias = rc_test_input(g.N, -1.0f, 1.0f, 13, cd);
	std::vector<float> C0 = rc_test_input(nc, -1.0f, 1.0f, 14, cd);
	if (g.beta == 0.0f) /* not read: NaN where the product goes, numbers in the padding */
		for (int e = 0; e < g.batch; e++)
			for (int i = 0; i < g.M; i++)
				for (int j = 0; j < g.N; j++)
					C0[e * g.stride_c + (size_t)i * g.ldc + j] = NAN;
	std::vector<float> C = C0;
	gemm_ref(g, A, B, with_bias ? bias.data() : NULL, C);

	buf ba(A, ab, offa), bb(B, ab), bbias(bias, cd), bc(C0, cd);
	g.A = ba.p, g.B = bb.p, g.C = bc.p, g.bias = with_bias ? bbias.p : NULL;
	char what[200];
	snprintf(what, sizeof what, "%s: M=%d N=%d K=%d trans %d%d ld %d %d %d batch %d alpha %g "
		"beta %g%s%s, %s order", label, g.M, g.N, g.K, g.transa, g.transb, g.lda, g.ldb,
		g.ldc, g.batch, (double)g.alpha, (double)g.beta, with_bias ? " bias" : "",
		offa ? " A off by one" : "", o.name);
	if (rc_cuda_gemm(h, &g) < 0) {
		rc_test_fail("gemm %s: failed", what);
		return;
	}
	const std::string key = std::string("gemm ") + dtype_name[ab] + " -> " + dtype_name[cd];
	rc_test_close(key, what, bc.get().data(), C.data(), nc, tol(cd));
}

static void check_gemms(rc_cuda_blas *h, const rc_test_order &o)
{
	const int modes[3][2] = { { RC_CUDA_F32, RC_CUDA_F32 }, { RC_CUDA_BF16, RC_CUDA_BF16 },
		{ RC_CUDA_BF16, RC_CUDA_F32 } };
	const int dims[2][3] = { { 5, 7, 9 }, { 33, 17, 40 } }; /* M, N, K all different */
	for (auto &m : modes)
		for (auto &d : dims)
			for (int t = 0; t < 4; t++)
				for (int batch : { 1, 3 }) {
					rc_cuda_gemm_args g = {};
					g.M = d[0], g.N = d[1], g.K = d[2], g.batch = batch;
					g.transa = t & 1, g.transb = t >> 1;
					/* rows padded by 3 elements; batch entries 5 elements apart */
					g.lda = (g.transa ? g.M : g.K) + 3;
					g.ldb = (g.transb ? g.K : g.N) + 3;
					g.ldc = g.N + 3;
					g.stride_a = (long long)(g.transa ? g.K : g.M) * g.lda + 5;
					g.stride_b = (long long)(g.transb ? g.N : g.K) * g.ldb + 5;
					g.stride_c = (long long)g.M * g.ldc + 5;
					g.alpha = 0.5f, g.beta = batch == 1 ? 0.0f : 1.5f;
					g.ab_dtype = m[0], g.c_dtype = m[1];
					check_gemm(h, g, batch == 1, 0, "padded", o);
				}
	/* one B for every batch entry (stride 0), and A one element off */
	rc_cuda_gemm_args g = {};
	g.M = 6, g.N = 10, g.K = 12, g.batch = 2;
	g.lda = 12, g.ldb = 10, g.ldc = 10;
	g.stride_a = 6 * 12, g.stride_b = 0, g.stride_c = 6 * 10;
	g.alpha = 1.0f, g.beta = 0.0f, g.ab_dtype = g.c_dtype = RC_CUDA_F32;
	check_gemm(h, g, false, 1, "shared B", o);
	/* attention's q·kᵀ for head 1 inside qkv[B,T,3C] (B 2, T 7, C 12, 3
	 * heads of 4): rows 3C apart, batch entries T·3C apart */
	rc_cuda_gemm_args q = {};
	q.M = 7, q.N = 7, q.K = 4, q.batch = 2, q.transb = 1;
	q.lda = q.ldb = 36, q.ldc = 7;
	q.stride_a = q.stride_b = 7 * 36, q.stride_c = 49;
	q.alpha = 0.5f, q.beta = 0.0f, q.ab_dtype = q.c_dtype = RC_CUDA_BF16;
	check_gemm(h, q, false, 0, "q·kᵀ in qkv", o);
}

/* ---------------------------------------------------------------- refusals */

static void check_refusals(rc_cuda_blas *h)
{
	rc_dev<float> a(4096), b(4096), c(4096);
	rc_cuda_gemm_args ok = {};
	ok.M = 8, ok.N = 6, ok.K = 5, ok.batch = 1;
	ok.A = a.p, ok.lda = 5, ok.B = b.p, ok.ldb = 6, ok.C = c.p, ok.ldc = 6;
	ok.alpha = 1.0f, ok.ab_dtype = ok.c_dtype = RC_CUDA_F32;
	struct {
		const char *what;
		void (*change)(rc_cuda_gemm_args &);
	} bad[] = {
		{ "lda < K", [](rc_cuda_gemm_args &g) { g.lda = 4; } },
		/* A [M,K] passed as if stored K×M: lda 5 < M 8 */
		{ "transa on an M×K A", [](rc_cuda_gemm_args &g) { g.transa = 1; } },
		{ "ldb < N", [](rc_cuda_gemm_args &g) { g.ldb = 5; } },
		{ "transb on a K×N B", [](rc_cuda_gemm_args &g) { g.transb = 1, g.ldb = 4; } },
		{ "ldc < N", [](rc_cuda_gemm_args &g) { g.ldc = 5; } },
		{ "M = 0", [](rc_cuda_gemm_args &g) { g.M = 0; } },
		{ "batch 0", [](rc_cuda_gemm_args &g) { g.batch = 0; } },
		{ "fp32 into bf16", [](rc_cuda_gemm_args &g) { g.c_dtype = RC_CUDA_BF16; } },
		{ "dtype 7", [](rc_cuda_gemm_args &g) { g.ab_dtype = 7; } },
		{ "A NULL", [](rc_cuda_gemm_args &g) { g.A = NULL; } },
		{ "C's batch entries overlap",
			[](rc_cuda_gemm_args &g) { g.batch = 2, g.stride_a = g.stride_b = 0,
				g.stride_c = 6 * 8 - 1; } },
	};
	const size_t nbad = sizeof bad / sizeof bad[0];
	fprintf(stderr, "test_gemm: %zu refusals expected:\n", nbad + 7);
	for (auto &t : bad) {
		rc_cuda_gemm_args g = ok;
		t.change(g);
		if (rc_cuda_gemm(h, &g) != RC_E_ARG)
			rc_test_fail("rc_cuda_gemm with %s: not refused", t.what);
	}
	if (rc_cuda_gemm(h, &ok) < 0)
		rc_test_fail("rc_cuda_gemm: the valid arguments of the refusal tests failed");
	if (rc_cuda_matmul_forward(h, c.p, NULL, a.p, b.p, NULL, 4, 4, 4, 5, RC_CUDA_F32) != RC_E_ARG)
		rc_test_fail("forward with act 5: not refused");
	if (rc_cuda_matmul_forward(h, c.p, c.p, a.p, b.p, NULL, 4, 4, 4, RC_CUDA_ACT_NONE,
		    RC_CUDA_F32) != RC_E_ARG)
		rc_test_fail("forward with pre and no activation: not refused");
	if (rc_cuda_matmul_backward(h, NULL, NULL, c.p, NULL, a.p, NULL, NULL, 4, 4, 4,
		    RC_CUDA_F32) != RC_E_ARG)
		rc_test_fail("backward, dbias without scratch: not refused");
	if (rc_cuda_matmul_dbias_v(RC_CUDA_EW_VEC, 64, c.p, b.p, a.p + 1, 4, 8, RC_CUDA_F32,
		    NULL) != RC_E_ARG)
		rc_test_fail("dbias, packs from a misaligned dout: not refused");
	if (rc_cuda_matmul_dbias_v(RC_CUDA_EW_VEC, 64, c.p, b.p, a.p, 4, 6, RC_CUDA_F32, NULL) !=
	    RC_E_ARG)
		rc_test_fail("dbias, packs over OC = 6 floats: not refused");
	if (rc_cuda_matmul_dbias_v(RC_CUDA_EW_SCALAR, 48, c.p, b.p, a.p, 4, 8, RC_CUDA_F32,
		    NULL) != RC_E_ARG)
		rc_test_fail("dbias, 48 threads: not refused");
	if (rc_cuda_gemm(NULL, &ok) != RC_E_ARG)
		rc_test_fail("rc_cuda_gemm without a handle: not refused");
}

#ifdef RC_CUDA_EMU
/* Descriptors that are wrong reach the emulated cuBLASLt and fail there,
 * as on a GPU, instead of computing something: lt_run takes a correct
 * problem (gemm_to_lt) with one thing broken. C must stay as it was. */
static void check_descriptors(rc_cuda_blas *h)
{
	const int M = 6, N = 9, K = 4; /* all different: a flip shows */
	rc_dev<float> a(M * K), b(K * N), c(2 * M * N + 8);
	rc_test_upload(a.p, rc_test_random(M * K, -1, 1, 1), RC_CUDA_F32);
	rc_test_upload(b.p, rc_test_random(K * N, -1, 1, 2), RC_CUDA_F32);
	const std::vector<float> c0 = rc_test_random(2 * M * N + 8, -1, 1, 3);
	rc_test_upload(c.p, c0, RC_CUDA_F32);
	rc_cuda_gemm_args g = {};
	g.M = M, g.N = N, g.K = K, g.batch = 1;
	g.A = a.p, g.lda = K, g.B = b.p, g.ldb = N, g.C = c.p, g.ldc = N;
	g.alpha = 1.0f, g.beta = 1.0f, g.ab_dtype = g.c_dtype = RC_CUDA_F32;
	const lt_gemm good = gemm_to_lt(&g);
	struct {
		const char *what;
		void (*change)(lt_gemm &);
	} bad[] = {
		{ "ld of A < its rows", [](lt_gemm &l) { l.a.ld = (int64_t)l.a.rows - 1; } },
		{ "ld of C < its rows", [](lt_gemm &l) { l.c.ld = (int64_t)l.c.rows - 1; } },
		{ "transa flipped", [](lt_gemm &l) { l.ta = CUBLAS_OP_T; } },
		{ "transb flipped", [](lt_gemm &l) { l.tb = CUBLAS_OP_T; } },
		{ "A laid out transposed", [](lt_gemm &l) { std::swap(l.a.rows, l.a.cols); } },
		{ "C laid out transposed",
			[](lt_gemm &l) { std::swap(l.c.rows, l.c.cols), l.c.ld = l.c.rows; } },
		{ "A bf16, B fp32", [](lt_gemm &l) { l.a.type = CUDA_R_16BF; } },
		{ "batch entries of C overlapping",
			[](lt_gemm &l) { l.batch = 2, l.a.stride = l.b.stride = 0, l.c.stride = 1; } },
	};
	const size_t nbad = sizeof bad / sizeof bad[0];
	fprintf(stderr, "test_gemm: %zu cuBLASLt refusals and 2 of a machine without a GPU "
		"expected:\n", nbad + 1);
	for (auto &t : bad) {
		lt_gemm l = good;
		t.change(l);
		if (lt_run(h, l) >= 0)
			rc_test_fail("emulated cuBLASLt with %s: not refused", t.what);
		rc_test_close("descriptor refused: C untouched", t.what,
			rc_test_download(c.p, c0.size(), RC_CUDA_F32).data(), c0.data(), c0.size(),
			tol_same);
	}
	if (lt_run(h, good) < 0)
		rc_test_fail("emulated cuBLASLt: the valid problem of the refusal tests failed");

	/* an algorithm picked for 16-byte aligned A cannot take an A that is
	 * not (the preference's default promises 256 bytes) */
	lt_plan p;
	cublasLtMatmulHeuristicResult_t res;
	int found = 0;
	const float one = 1.0f, zero = 0.0f;
	bool ok = cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F) == 0 &&
		cublasLtMatrixLayoutCreate(&p.a, CUDA_R_32F, 4, 4, 4) == 0 &&
		cublasLtMatmulPreferenceCreate(&p.pref) == 0 &&
		cublasLtMatmulAlgoGetHeuristic(h->lt, p.op, p.a, p.a, p.a, p.a, p.pref, 1, &res,
			&found) == 0 && found == 1;
	if (!ok || cublasLtMatmul(h->lt, p.op, &one, a.p + 1, p.a, b.p, p.a, &zero, c.p, p.a, c.p,
			   p.a, &res.algo, NULL, 0, NULL) != CUBLAS_STATUS_INVALID_VALUE)
		rc_test_fail("emulated cuBLASLt: a misaligned A for a 256-byte algorithm not refused");

	/* a machine without a GPU: cublasLtCreate fails, and so does the handle */
	rc_emu_lt_create_status = CUBLAS_STATUS_NOT_INITIALIZED;
	rc_cuda_blas *none = h;
	if (rc_cuda_blas_create(&none, NULL) != RC_E_UNSUPPORTED || none)
		rc_test_fail("rc_cuda_blas_create without a GPU: not RC_E_UNSUPPORTED and NULL");
	rc_emu_lt_create_status = CUBLAS_STATUS_SUCCESS;
}
#endif

int main(void)
{
	rc_test_start("test_gemm");
	rc_ops_set_threads(1);
	rc_cuda_blas *h;
	if (rc_cuda_blas_create(&h, NULL) < 0)
		return rc_test_fail("rc_cuda_blas_create failed"), rc_test_end();
	/* square; tall; wide; no multiple of 8; OC = 1; C = 1; 1×1×1; a ViT
	 * MLP (T = 50, C = 64, 4C) scaled down, both layers */
	const shape shapes[] = { { 32, 32, 32 }, { 67, 24, 16 }, { 3, 40, 130 }, { 37, 29, 45 },
		{ 17, 33, 1 }, { 5, 1, 7 }, { 1, 1, 1 }, { 50, 64, 256 }, { 50, 256, 64 } };
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		for (int dtype : { RC_CUDA_F32, RC_CUDA_BF16 })
			for (shape s : shapes) {
				for (int act : { RC_CUDA_ACT_NONE, (int)RC_ACT_QUICK_GELU, (int)RC_ACT_GELU,
					     (int)RC_ACT_GELU_TANH })
					for (bool bias : { false, true })
						check_forward(h, s, dtype, bias, act, o);
				for (int want : { 7, 6, 1 }) /* all; no dinp (patches); dinp only */
					check_backward(h, s, dtype, want, o);
				check_dbias(s, dtype, o);
			}
		check_gemms(h, o);
	}
	check_refusals(h);
#ifdef RC_CUDA_EMU
	check_descriptors(h);
#endif
	rc_cuda_blas_destroy(h);
	return rc_test_end();
}
