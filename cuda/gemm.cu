/* gemm.cu - matrix products, the one file that calls cuBLASLt: the
 * general rc_cuda_gemm (row-major, strided batches, a bias) and the linear
 * layer built on it, forward (out = inp·wᵀ + bias, then the activation)
 * and backward (dinp and dw by GEMMs that add, dbias by a kernel of this
 * file). CPU twins: rc_ops_matmul, rc_ops_matmul_backward
 * (model/ops_cpu.h); launchers in cuda/kernels.h.
 *
 * Precision: CUBLAS_COMPUTE_32F for both modes, so fp32 GEMMs stay fp32
 * (no TF32) and bf16 ones sum in fp32; the heuristic may only pick a
 * split of k that is reduced in fp32 (CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
 * INPLACE and OUTPUT_TYPE would add the parts in bf16). Activations are
 * not epilogues: cublasLt.h says only "x := GELU(x)" of its GELU
 * epilogues, which are the tanh approximation that llm.c and Transformer
 * Engine fuse with them (not checked here: no GPU), not the exact erf
 * form of the models (rc_ops_gelu); and there is no quick_gelu. So
 * act.cu applies both after the product, a second pass over the output.
 *
 * Row-major callers, column-major cuBLAS: C = op(A)·op(B) in row-major is
 * Cᵀ = op(B)ᵀ·op(A)ᵀ in column-major, and a row-major matrix read
 * column-major with the same leading dimension is its transpose, so
 * gemm_to_lt swaps A and B and keeps the transposes (lt_gemm below).
 *
 * Without a GPU (RC_CUDA_EMU) the same code runs against gemm_emu.h: the
 * descriptors are built by the real library, and the handle, heuristic
 * and matmul are stand-ins that check them and compute on the CPU.
 */
#include <cublasLt.h>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/pack.cuh"

#ifdef RC_CUDA_EMU
#include "cuda/gemm_emu.h"
#endif

#include <stdint.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- kernels */

/* dbias_part - block (32, Y) of grid (OC / 32V, G): thread x owns the V
 * columns from c0 = (32·blockIdx.x + x)·V, thread row y every Y-th row of
 * group blockIdx.y; the Y partial sums meet in shared memory s[y][k][x]
 * and one thread row per column k adds them in order of y into
 * part[g·OC + c]. */
template <class T, int V>
__global__ void dbias_part(float *part, const T *dout, int N, int OC, int rows)
{
	RC_DYNAMIC_SHARED(float, s);
	const int c0 = (blockIdx.x * 32 + threadIdx.x) * V;
	const int r0 = blockIdx.y * rows, r1 = min(N, r0 + rows);
	float acc[V];
	for (int k = 0; k < V; k++)
		acc[k] = 0.0f;
	if (c0 < OC) /* no return: every thread reaches the barrier */
		for (int i = r0 + threadIdx.y; i < r1; i += blockDim.y) {
			rc_pack<T, V> x;
			x.load(dout + (size_t)i * OC + c0);
			for (int k = 0; k < V; k++)
				acc[k] += x.v[k];
		}
	for (int k = 0; k < V; k++)
		s[(threadIdx.y * V + k) * 32 + threadIdx.x] = acc[k];
	__syncthreads();
	if (c0 < OC)
		for (int k = threadIdx.y; k < V; k += blockDim.y) {
			float sum = 0.0f;
			for (int y = 0; y < (int)blockDim.y; y++)
				sum += s[(y * V + k) * 32 + threadIdx.x];
			part[(size_t)blockIdx.y * OC + c0 + k] = sum;
		}
}

/* dbias_sum - dbias[c] += Σ_g part[g][c], g in order */
__global__ void dbias_sum(float *dbias, const float *part, int G, int OC)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= OC)
		return;
	float sum = 0.0f;
	for (int g = 0; g < G; g++)
		sum += part[(size_t)g * OC + c];
	dbias[c] += sum;
}

/* ---------------------------------------------------------------- cuBLASLt */

struct rc_cuda_blas {
	cublasLtHandle_t lt;
	void *workspace;
	size_t workspace_size;
	cudaStream_t stream;
};

static const size_t lt_workspace_size = 32 << 20; /* as llm.c: enough for any split */

/* lt_status - log a failed cuBLASLt call and map it to an RC_E_* code */
static int lt_status(cublasStatus_t st, const char *call, const char *file, int line)
{
	const int code = st == CUBLAS_STATUS_ALLOC_FAILED ? RC_E_NOMEM
		: st == CUBLAS_STATUS_INVALID_VALUE ? RC_E_ARG
		: RC_E_UNSUPPORTED;
	rc_log_error(code, "%s:%d: %s: %s (%s)", file, line, call, cublasLtGetStatusName(st),
		cublasLtGetStatusString(st));
	if (st == CUBLAS_STATUS_NOT_INITIALIZED)
		rc_log_hint("cuBLASLt needs a GPU and its driver (nvidia-smi lists them)");
	return code;
}

#define RC_LT_CHECK(call) \
	do { \
		cublasStatus_t rc_st_ = (call); \
		if (rc_st_ != CUBLAS_STATUS_SUCCESS) \
			return lt_status(rc_st_, #call, __FILE__, __LINE__); \
	} while (0)

/* One operand as cuBLASLt sees it: column-major rows × cols, columns ld
 * elements apart, batch entries stride elements apart. */
struct lt_mat {
	const void *p;
	cudaDataType_t type;
	uint64_t rows, cols;
	int64_t ld, stride;
};

/* D = alpha·op(A)·op(B) + beta·C (+ bias[rows]) for batch entries; D is
 * C (in place). cuBLASLt takes m, n, k from the layouts. */
struct lt_gemm {
	cublasOperation_t ta, tb;
	lt_mat a, b, c;
	int batch;
	float alpha, beta;
	const void *bias;
};

/* The descriptors of one call, destroyed on every way out. */
struct lt_plan {
	cublasLtMatmulDesc_t op = nullptr;
	cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
	cublasLtMatmulPreference_t pref = nullptr;
	~lt_plan()
	{
		if (pref)
			cublasLtMatmulPreferenceDestroy(pref);
		for (cublasLtMatrixLayout_t l : { a, b, c })
			if (l)
				cublasLtMatrixLayoutDestroy(l);
		if (op)
			cublasLtMatmulDescDestroy(op);
	}
};

template <class V>
static cublasStatus_t lt_set(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, V v)
{
	return cublasLtMatmulDescSetAttribute(d, a, &v, sizeof v);
}

template <class V>
static cublasStatus_t lt_set(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t a, V v)
{
	return cublasLtMatrixLayoutSetAttribute(l, a, &v, sizeof v);
}

template <class V>
static cublasStatus_t lt_set(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t a,
	V v)
{
	return cublasLtMatmulPreferenceSetAttribute(p, a, &v, sizeof v);
}

static int lt_layout(cublasLtMatrixLayout_t *l, const lt_mat &m, int batch)
{
	RC_LT_CHECK(cublasLtMatrixLayoutCreate(l, m.type, m.rows, m.cols, m.ld));
	if (batch > 1) {
		RC_LT_CHECK(lt_set(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, (int32_t)batch));
		RC_LT_CHECK(lt_set(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, m.stride));
	}
	return 0;
}

/* lt_align - the alignment every batch entry of m has (at most 256, the
 * most the heuristic asks about) */
static uint32_t lt_align(const lt_mat &m, int batch)
{
	uint64_t bits = (uintptr_t)m.p;
	if (batch > 1)
		bits |= (uint64_t)m.stride * (m.type == CUDA_R_32F ? 4 : 2);
	uint32_t a = 256;
	while (a > 1 && bits % a)
		a >>= 1;
	return a;
}

/* lt_run - describe g to cuBLASLt, pick an algorithm for it and queue it */
static int lt_run(struct rc_cuda_blas *h, const lt_gemm &g)
{
	lt_plan p;
	RC_LT_CHECK(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	RC_LT_CHECK(lt_set(p.op, CUBLASLT_MATMUL_DESC_TRANSA, (int32_t)g.ta));
	RC_LT_CHECK(lt_set(p.op, CUBLASLT_MATMUL_DESC_TRANSB, (int32_t)g.tb));
	if (g.bias) {
		RC_LT_CHECK(lt_set(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE,
			(uint32_t)CUBLASLT_EPILOGUE_BIAS));
		RC_LT_CHECK(lt_set(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, g.bias));
		RC_LT_CHECK(lt_set(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, (int32_t)g.c.type));
	}
	int rc;
	if ((rc = lt_layout(&p.a, g.a, g.batch)) < 0 || (rc = lt_layout(&p.b, g.b, g.batch)) < 0 ||
	    (rc = lt_layout(&p.c, g.c, g.batch)) < 0)
		return rc;

	RC_LT_CHECK(cublasLtMatmulPreferenceCreate(&p.pref));
	RC_LT_CHECK(lt_set(p.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
		(uint64_t)h->workspace_size));
	RC_LT_CHECK(lt_set(p.pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
		(uint32_t)CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE));
	RC_LT_CHECK(lt_set(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, lt_align(g.a, g.batch)));
	RC_LT_CHECK(lt_set(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, lt_align(g.b, g.batch)));
	RC_LT_CHECK(lt_set(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, lt_align(g.c, g.batch)));
	RC_LT_CHECK(lt_set(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, lt_align(g.c, g.batch)));

	/* The heuristic runs for every call, as in llm.c: a few µs of host
	 * time; a cache by shape would save them. */
	cublasLtMatmulHeuristicResult_t res;
	int found = 0;
	const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(h->lt, p.op, p.a, p.b, p.c, p.c,
		p.pref, 1, &res, &found);
	if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && found == 0))
		return rc_log_error(RC_E_UNSUPPORTED, "cuBLASLt has no algorithm for m %llu, n %llu, "
			"k %llu (transposes %d %d, types %d %d, batch %d)",
			(unsigned long long)g.c.rows, (unsigned long long)g.c.cols,
			(unsigned long long)(g.ta == CUBLAS_OP_N ? g.a.cols : g.a.rows), g.ta, g.tb,
			g.a.type, g.c.type, g.batch);
	if (st != CUBLAS_STATUS_SUCCESS)
		return lt_status(st, "cublasLtMatmulAlgoGetHeuristic", __FILE__, __LINE__);
	RC_LT_CHECK(cublasLtMatmul(h->lt, p.op, &g.alpha, g.a.p, p.a, g.b.p, p.b, &g.beta, g.c.p,
		p.c, const_cast<void *>(g.c.p), p.c, &res.algo, h->workspace, h->workspace_size,
		h->stream));
	return 0;
}

int rc_cuda_blas_create(struct rc_cuda_blas **out, struct CUstream_st *stream)
{
	*out = nullptr;
	rc_cuda_blas *h = static_cast<rc_cuda_blas *>(calloc(1, sizeof *h));
	if (!h)
		return rc_log_error(RC_E_NOMEM, "rc_cuda_blas_create: out of memory");
	const cublasStatus_t st = cublasLtCreate(&h->lt);
	if (st != CUBLAS_STATUS_SUCCESS) {
		free(h);
		return lt_status(st, "cublasLtCreate", __FILE__, __LINE__);
	}
	const cudaError_t e = cudaMalloc(&h->workspace, lt_workspace_size);
	if (e != cudaSuccess) {
		cublasLtDestroy(h->lt);
		free(h);
		return rc_cuda_status(e, "cudaMalloc (the cuBLASLt workspace)", __FILE__, __LINE__);
	}
	h->workspace_size = lt_workspace_size;
	h->stream = stream;
	*out = h;
	return 0;
}

void rc_cuda_blas_destroy(struct rc_cuda_blas *h)
{
	if (!h)
		return;
	cudaFree(h->workspace);
	cublasLtDestroy(h->lt);
	free(h);
}

void rc_cuda_blas_set_stream(struct rc_cuda_blas *h, struct CUstream_st *stream)
{
	h->stream = stream;
}

/* ---------------------------------------------------------------- rc_cuda_gemm */

static int gemm_check(const char *fn, const struct rc_cuda_gemm_args *g)
{
	if (g->M < 1 || g->N < 1 || g->K < 1 || g->batch < 1)
		return rc_log_error(RC_E_ARG, "%s: M %d, N %d, K %d, batch %d: not positive", fn,
			g->M, g->N, g->K, g->batch);
	const int ab = g->ab_dtype, c = g->c_dtype;
	if ((ab != RC_CUDA_F32 && ab != RC_CUDA_BF16) || (c != RC_CUDA_F32 && c != RC_CUDA_BF16) ||
	    (ab == RC_CUDA_F32 && c == RC_CUDA_BF16))
		return rc_log_error(RC_E_ARG, "%s: A, B of dtype %d, C of dtype %d: not fp32 -> "
			"fp32, bf16 -> bf16 or bf16 -> fp32", fn, ab, c);
	if (!g->A || !g->B || !g->C)
		return rc_log_error(RC_E_ARG, "%s: A, B and C may not be NULL", fn);
	/* the length of a stored row: op(A) is M×K, A stored M×K or K×M */
	const int arow = g->transa ? g->M : g->K, brow = g->transb ? g->K : g->N;
	if (g->lda < arow)
		return rc_log_error(RC_E_ARG, "%s: lda %d < %d, the rows of A stored %s", fn, g->lda,
			arow, g->transa ? "K×M (transa)" : "M×K");
	if (g->ldb < brow)
		return rc_log_error(RC_E_ARG, "%s: ldb %d < %d, the rows of B stored %s", fn, g->ldb,
			brow, g->transb ? "N×K (transb)" : "K×N");
	if (g->ldc < g->N)
		return rc_log_error(RC_E_ARG, "%s: ldc %d < N %d", fn, g->ldc, g->N);
	if (g->batch > 1 && (g->stride_a < 0 || g->stride_b < 0 ||
			    g->stride_c < (long long)g->ldc * g->M))
		return rc_log_error(RC_E_ARG, "%s: batch strides %lld, %lld, %lld: negative, or "
			"C's under ldc·M = %lld (entries of C would overlap)", fn, g->stride_a,
			g->stride_b, g->stride_c, (long long)g->ldc * g->M);
	return 0;
}

static cudaDataType_t lt_type(int dtype)
{
	return dtype == RC_CUDA_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

/* gemm_to_lt - the row-major problem as cuBLASLt's column-major one:
 * cuBLAS's A is our B (op(B)ᵀ, N×K), its B our A (op(A)ᵀ, K×M), its D
 * our C read as N×M. */
static lt_gemm gemm_to_lt(const struct rc_cuda_gemm_args *g)
{
	const cudaDataType_t ab = lt_type(g->ab_dtype);
	const uint64_t M = g->M, N = g->N, K = g->K;
	lt_gemm l;
	l.ta = g->transb ? CUBLAS_OP_T : CUBLAS_OP_N;
	l.a = { g->B, ab, g->transb ? K : N, g->transb ? N : K, g->ldb, g->stride_b };
	l.tb = g->transa ? CUBLAS_OP_T : CUBLAS_OP_N;
	l.b = { g->A, ab, g->transa ? M : K, g->transa ? K : M, g->lda, g->stride_a };
	l.c = { g->C, lt_type(g->c_dtype), N, M, g->ldc, g->stride_c };
	l.batch = g->batch;
	l.alpha = g->alpha;
	l.beta = g->beta;
	l.bias = g->bias;
	return l;
}

int rc_cuda_gemm(struct rc_cuda_blas *h, const struct rc_cuda_gemm_args *g)
{
	if (!h || !g)
		return rc_log_error(RC_E_ARG, "rc_cuda_gemm: no handle or no arguments");
	int rc = gemm_check("rc_cuda_gemm", g);
	return rc < 0 ? rc : lt_run(h, gemm_to_lt(g));
}

/* ---------------------------------------------------------------- the linear layer */

int rc_cuda_matmul_forward(struct rc_cuda_blas *h, void *out, void *pre, const void *inp,
	const void *w, const void *bias, int N, int C, int OC, int act, int dtype)
{
	const char *fn = "rc_cuda_matmul_forward";
	if (!h || !out)
		return rc_log_error(RC_E_ARG, "%s: no handle or no out", fn);
	if (act != RC_CUDA_ACT_NONE && act != 0 && act != 1 && act != 2)
		return rc_log_error(RC_E_ARG, "%s: act %d: not none (-1), quick_gelu (0), gelu (1) "
			"or gelu_pytorch_tanh (2)", fn, act);
	if (act == RC_CUDA_ACT_NONE && pre)
		return rc_log_error(RC_E_ARG, "%s: pre without an activation", fn);
	/* out[N,OC] = inp[N,C]·w[OC,C]ᵀ: w stored OC×C, used transposed */
	rc_cuda_gemm_args g = {};
	g.M = N, g.N = OC, g.K = C, g.batch = 1;
	g.A = inp, g.lda = C;
	g.B = w, g.ldb = C, g.transb = 1;
	g.C = pre ? pre : out, g.ldc = OC;
	g.bias = bias;
	g.alpha = 1.0f, g.beta = 0.0f;
	g.ab_dtype = g.c_dtype = dtype;
	int rc = rc_cuda_gemm(h, &g);
	if (rc < 0 || act == RC_CUDA_ACT_NONE)
		return rc;
	return rc_cuda_act_forward(out, g.C, (size_t)N * OC, act, dtype, h->stream);
}

/* The bias gradient's groups of rows: at most 64, of at least 32 rows; a
 * function of N alone, so that the sums' order (and bits) is too. */
static int dbias_groups(int N)
{
	const int g = rc_ceil_div(N, 32);
	return g < 64 ? g : 64;
}

size_t rc_cuda_matmul_backward_scratch(int N, int OC)
{
	return N > 0 && OC > 0 ? (size_t)dbias_groups(N) * OC * sizeof(float) : 0;
}

template <class T, int V>
static int dbias_launch(int block, float *dbias, float *scratch, const T *dout, int N, int OC,
	cudaStream_t s)
{
	const int G = dbias_groups(N), Y = block / 32;
	RC_LAUNCH((dbias_part<T, V>), dim3(rc_ceil_div(OC, 32 * V), G), dim3(32, Y),
		(size_t)Y * V * 32 * sizeof(float), s, scratch, dout, N, OC, rc_ceil_div(N, G));
	RC_CUDA_CHECK(cudaGetLastError());
	RC_LAUNCH(dbias_sum, rc_ceil_div(OC, block), block, 0, s, dbias, scratch, G, OC);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_matmul_dbias_v(int variant, int block, float *dbias, float *scratch,
	const void *dout, int N, int OC, int dtype, struct CUstream_st *s)
{
	const char *fn = "rc_cuda_matmul_dbias";
	if (N <= 0 || OC <= 0)
		return rc_log_error(RC_E_ARG, "%s: N = %d, OC = %d: not positive", fn, N, OC);
	const int rc = rc_ew_check(fn, variant, block, dtype);
	if (rc < 0)
		return rc;
	if (!dbias || !scratch || !dout)
		return rc_log_error(RC_E_ARG, "%s: dbias, scratch and dout may not be NULL", fn);
	const int V = dtype == RC_CUDA_BF16 ? rc_pack_width<rc_bf16>::value
					    : rc_pack_width<float>::value;
	if (variant == RC_CUDA_EW_VEC && (OC % V || !rc_aligned16(dout)))
		return rc_log_error(RC_E_ARG, "%s: OC = %d, dout %p: the vector variant needs OC "
			"a multiple of %d and dout 16-byte aligned", fn, OC, dout, V);
	if (dtype == RC_CUDA_F32)
		return variant == RC_CUDA_EW_VEC
			? dbias_launch<float, 4>(block, dbias, scratch, (const float *)dout, N, OC, s)
			: dbias_launch<float, 1>(block, dbias, scratch, (const float *)dout, N, OC, s);
	return variant == RC_CUDA_EW_VEC
		? dbias_launch<rc_bf16, 8>(block, dbias, scratch, (const rc_bf16 *)dout, N, OC, s)
		: dbias_launch<rc_bf16, 1>(block, dbias, scratch, (const rc_bf16 *)dout, N, OC, s);
}

int rc_cuda_matmul_backward(struct rc_cuda_blas *h, void *dinp, float *dw, float *dbias,
	float *scratch, const void *dout, const void *inp, const void *w, int N, int C, int OC,
	int dtype)
{
	const char *fn = "rc_cuda_matmul_backward";
	if (!h || !dout || (dinp && !w) || (dw && !inp) || (dbias && !scratch))
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer (no handle or dout; dinp "
			"without w, dw without inp or dbias without scratch)", fn);
	int rc;
	if (dinp) {
		/* dinp[N,C] += dout[N,OC]·w[OC,C] */
		rc_cuda_gemm_args g = {};
		g.M = N, g.N = C, g.K = OC, g.batch = 1;
		g.A = dout, g.lda = OC;
		g.B = w, g.ldb = C;
		g.C = dinp, g.ldc = C;
		g.alpha = 1.0f, g.beta = 1.0f;
		g.ab_dtype = g.c_dtype = dtype;
		if ((rc = rc_cuda_gemm(h, &g)) < 0)
			return rc;
	}
	if (dw) {
		/* dw[OC,C] += dout[N,OC]ᵀ·inp[N,C], into fp32 */
		rc_cuda_gemm_args g = {};
		g.M = OC, g.N = C, g.K = N, g.batch = 1;
		g.A = dout, g.lda = OC, g.transa = 1;
		g.B = inp, g.ldb = C;
		g.C = dw, g.ldc = C;
		g.alpha = 1.0f, g.beta = 1.0f;
		g.ab_dtype = dtype, g.c_dtype = RC_CUDA_F32;
		if ((rc = rc_cuda_gemm(h, &g)) < 0)
			return rc;
	}
	if (!dbias)
		return 0;
	const int V = dtype == RC_CUDA_BF16 ? 8 : 4;
	const int variant = OC % V == 0 && rc_aligned16(dout) ? RC_CUDA_EW_VEC : RC_CUDA_EW_SCALAR;
	return rc_cuda_matmul_dbias_v(variant, 256, dbias, scratch, dout, N, OC, dtype, h->stream);
}
