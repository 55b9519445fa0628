/* gemm_emu.h - cuBLASLt's handle, heuristic and matmul for the CUDA
 * emulation (RC_CUDA_EMU), so that gemm.cu runs unchanged without a GPU.
 * gemm.cu includes it after <cublasLt.h>; the macros at the end send its
 * calls here. The descriptors stay the library's own (creating and
 * setting them works without a GPU): these stand-ins read them back with
 * the GetAttribute calls and compute D = alpha·op(A)·op(B) + beta·C
 * (+ bias) on the CPU with cuBLAS's column-major semantics, after the
 * checks the real calls make, so that a descriptor that would fail or
 * compute the wrong thing on a GPU fails here:
 *   - D's rows and columns are m and n; op(A) must be m×k, op(B) k×n, C
 *     as D (an in-place C = D with the same leading dimension);
 *   - every layout column-major with ld >= rows, the same batch count,
 *     and D's batch entries apart (ours: on a GPU they would race);
 *   - the types gemm.cu uses: CUBLAS_COMPUTE_32F with fp32 scale, A and
 *     B both fp32 or both bf16, C and D alike, fp32 A only to fp32 D;
 *   - epilogue DEFAULT or BIAS (the bias pointer set, of D's type);
 *   - the heuristic records the alignments the preference promised and
 *     matmul refuses pointers (and batch strides) that break them, as a
 *     kernel picked for 16-byte loads would fault; element alignment
 *     always.
 * A failed check logs why and returns the status cuBLASLt documents
 * (CUBLAS_STATUS_INVALID_VALUE for a conflict, NOT_SUPPORTED for a
 * configuration not emulated). The sums are fp32 in k order; cuBLAS
 * splits and orders them differently, so results agree to rounding.
 * Out of reach here: the real kernels' numerics, their speed, and
 * anything the heuristic does beyond the alignment it was promised.
 */
#ifndef RCLIP_CUDA_GEMM_EMU_H
#define RCLIP_CUDA_GEMM_EMU_H

#include <cublasLt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What the emulated cublasLtCreate returns: a test sets it to
 * CUBLAS_STATUS_NOT_INITIALIZED to take the path of a machine without a
 * GPU. */
static cublasStatus_t rc_emu_lt_create_status = CUBLAS_STATUS_SUCCESS;

static const uint64_t rc_emu_lt_algo_tag = 0x726340656d75ull; /* an emulated algo */

static cublasStatus_t rc_emu_lt_create(cublasLtHandle_t *h)
{
	static int token;
	if (!h)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (rc_emu_lt_create_status != CUBLAS_STATUS_SUCCESS)
		return rc_emu_lt_create_status;
	*h = reinterpret_cast<cublasLtHandle_t>(&token);
	return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t rc_emu_lt_destroy(cublasLtHandle_t h)
{
	return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

/* ---------------------------------------------------------------- reading descriptors */

struct rc_emu_mat {
	int32_t type, order, batch;
	uint64_t rows, cols;
	int64_t ld, stride;
};

struct rc_emu_problem {
	int32_t ta, tb, compute, scale, pointer_mode, bias_type;
	uint32_t epilogue;
	const void *bias;
	rc_emu_mat a, b, c, d;
	uint64_t m, n, k;
};

/* rc_emu_bad - log why a call fails and return its status */
static cublasStatus_t rc_emu_bad(cublasStatus_t st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static cublasStatus_t rc_emu_bad(cublasStatus_t st, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rc_log_error(RC_E_ARG, "emulated cuBLASLt: %s: %s", msg, cublasLtGetStatusName(st));
	return st;
}

template <class V>
static bool rc_emu_desc_get(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t a, V *v)
{
	size_t w = 0;
	return cublasLtMatmulDescGetAttribute(op, a, v, sizeof *v, &w) == CUBLAS_STATUS_SUCCESS &&
		w == sizeof *v;
}

template <class V>
static bool rc_emu_layout_get(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t a, V *v)
{
	size_t w = 0;
	return cublasLtMatrixLayoutGetAttribute(l, a, v, sizeof *v, &w) == CUBLAS_STATUS_SUCCESS &&
		w == sizeof *v;
}

static cublasStatus_t rc_emu_read_layout(cublasLtMatrixLayout_t l, const char *name, rc_emu_mat *m)
{
	if (!l)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "layout of %s: NULL", name);
	if (!rc_emu_layout_get(l, CUBLASLT_MATRIX_LAYOUT_TYPE, &m->type) ||
	    !rc_emu_layout_get(l, CUBLASLT_MATRIX_LAYOUT_ORDER, &m->order) ||
	    !rc_emu_layout_get(l, CUBLASLT_MATRIX_LAYOUT_ROWS, &m->rows) ||
	    !rc_emu_layout_get(l, CUBLASLT_MATRIX_LAYOUT_COLS, &m->cols) ||
	    !rc_emu_layout_get(l, CUBLASLT_MATRIX_LAYOUT_LD, &m->ld) ||
	    !rc_emu_layout_get(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &m->batch) ||
	    !rc_emu_layout_get(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &m->stride))
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "layout of %s: unreadable", name);
	if (m->order != CUBLASLT_ORDER_COL)
		return rc_emu_bad(CUBLAS_STATUS_NOT_SUPPORTED, "%s: order %d: only column-major "
			"is emulated", name, m->order);
	if (m->rows < 1 || m->cols < 1 || m->batch < 1)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "%s: %llu x %llu, batch %d", name,
			(unsigned long long)m->rows, (unsigned long long)m->cols, m->batch);
	if (m->ld < (int64_t)m->rows)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "%s: leading dimension %lld < its "
			"%llu rows (column-major)", name, (long long)m->ld,
			(unsigned long long)m->rows);
	if (m->batch > 1 && m->stride < 0)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "%s: batch stride %lld", name,
			(long long)m->stride);
	return CUBLAS_STATUS_SUCCESS;
}

static size_t rc_emu_elem_size(int32_t type)
{
	return type == CUDA_R_32F ? 4 : 2;
}

/* rc_emu_read - the problem the descriptors describe, checked */
static cublasStatus_t rc_emu_read(cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t A,
	cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
	rc_emu_problem *p)
{
	cublasStatus_t st;
	if (!op)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "matmul descriptor: NULL");
	if (!rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, &p->compute) ||
	    !rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_SCALE_TYPE, &p->scale) ||
	    !rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_POINTER_MODE, &p->pointer_mode) ||
	    !rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_TRANSA, &p->ta) ||
	    !rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_TRANSB, &p->tb) ||
	    !rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &p->epilogue) ||
	    !rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p->bias) ||
	    !rc_emu_desc_get(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &p->bias_type))
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "matmul descriptor: unreadable");
	if (p->compute != CUBLAS_COMPUTE_32F || p->scale != CUDA_R_32F)
		return rc_emu_bad(CUBLAS_STATUS_NOT_SUPPORTED, "compute type %d, scale type %d: "
			"only CUBLAS_COMPUTE_32F with CUDA_R_32F scale is emulated", p->compute,
			p->scale);
	if (p->pointer_mode != CUBLASLT_POINTER_MODE_HOST)
		return rc_emu_bad(CUBLAS_STATUS_NOT_SUPPORTED, "pointer mode %d: only host alpha "
			"and beta are emulated", p->pointer_mode);
	for (int32_t t : { p->ta, p->tb })
		if (t != CUBLAS_OP_N && t != CUBLAS_OP_T && t != CUBLAS_OP_C)
			return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "transpose %d", t);
	/* real matrices: the conjugate transpose is the transpose */
	p->ta = p->ta == CUBLAS_OP_N ? CUBLAS_OP_N : CUBLAS_OP_T;
	p->tb = p->tb == CUBLAS_OP_N ? CUBLAS_OP_N : CUBLAS_OP_T;
	if ((st = rc_emu_read_layout(A, "A", &p->a)) || (st = rc_emu_read_layout(B, "B", &p->b)) ||
	    (st = rc_emu_read_layout(C, "C", &p->c)) || (st = rc_emu_read_layout(D, "D", &p->d)))
		return st;

	const bool ab32 = p->a.type == CUDA_R_32F && p->b.type == CUDA_R_32F;
	const bool ab16 = p->a.type == CUDA_R_16BF && p->b.type == CUDA_R_16BF;
	const bool d_ok = p->d.type == CUDA_R_32F || (ab16 && p->d.type == CUDA_R_16BF);
	if (!(ab32 || ab16) || !d_ok || p->c.type != p->d.type)
		return rc_emu_bad(CUBLAS_STATUS_NOT_SUPPORTED, "types A %d, B %d, C %d, D %d: "
			"only fp32 -> fp32 and bf16 -> bf16 or fp32 are emulated", p->a.type,
			p->b.type, p->c.type, p->d.type);

	/* m, n from D; k from op(A) */
	p->m = p->d.rows;
	p->n = p->d.cols;
	const uint64_t ar = p->ta == CUBLAS_OP_N ? p->a.rows : p->a.cols;
	p->k = p->ta == CUBLAS_OP_N ? p->a.cols : p->a.rows;
	const uint64_t br = p->tb == CUBLAS_OP_N ? p->b.rows : p->b.cols;
	const uint64_t bc = p->tb == CUBLAS_OP_N ? p->b.cols : p->b.rows;
	if (ar != p->m || br != p->k || bc != p->n || p->c.rows != p->m || p->c.cols != p->n)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "op(A) %llux%llu (transa %d), "
			"op(B) %llux%llu (transb %d), C %llux%llu, D %llux%llu do not fit",
			(unsigned long long)ar, (unsigned long long)p->k, p->ta,
			(unsigned long long)br, (unsigned long long)bc, p->tb,
			(unsigned long long)p->c.rows, (unsigned long long)p->c.cols,
			(unsigned long long)p->m, (unsigned long long)p->n);
	if (p->a.batch != p->d.batch || p->b.batch != p->d.batch || p->c.batch != p->d.batch)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "batch counts A %d, B %d, C %d, "
			"D %d", p->a.batch, p->b.batch, p->c.batch, p->d.batch);
	if (p->d.batch > 1 && p->d.stride < p->d.ld * (int64_t)p->d.cols)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "D's batch stride %lld < ld %lld "
			"x %llu columns: the entries overlap (a race on a GPU)",
			(long long)p->d.stride, (long long)p->d.ld, (unsigned long long)p->d.cols);

	if (p->epilogue != CUBLASLT_EPILOGUE_DEFAULT && p->epilogue != CUBLASLT_EPILOGUE_BIAS)
		return rc_emu_bad(CUBLAS_STATUS_NOT_SUPPORTED, "epilogue %u: only DEFAULT and "
			"BIAS are emulated", p->epilogue);
	if (p->epilogue == CUBLASLT_EPILOGUE_BIAS) {
		if (!p->bias)
			return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "epilogue BIAS without "
				"CUBLASLT_MATMUL_DESC_BIAS_POINTER");
		if (p->bias_type != -1 && p->bias_type != p->d.type)
			return rc_emu_bad(CUBLAS_STATUS_NOT_SUPPORTED, "bias type %d with D of "
				"type %d", p->bias_type, p->d.type);
		if ((uintptr_t)p->bias % rc_emu_elem_size(p->d.type))
			return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "bias %p: not aligned to "
				"its elements", p->bias);
	}
	return CUBLAS_STATUS_SUCCESS;
}

/* ---------------------------------------------------------------- the calls */

template <class V>
static bool rc_emu_pref_get(cublasLtMatmulPreference_t pref,
	cublasLtMatmulPreferenceAttributes_t a, V *v)
{
	size_t w = 0;
	return cublasLtMatmulPreferenceGetAttribute(pref, a, v, sizeof *v, &w) ==
		CUBLAS_STATUS_SUCCESS && w == sizeof *v;
}

/* The emulated heuristic: one algorithm for any problem that passes the
 * checks, which keeps the alignments the preference promised (algo.data
 * [1..4] for A, B, C, D), needs no workspace and does not split k (any
 * reduction scheme mask allows it). */
static cublasStatus_t rc_emu_lt_heuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t op,
	cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C,
	cublasLtMatrixLayout_t D, cublasLtMatmulPreference_t pref, int requested,
	cublasLtMatmulHeuristicResult_t *res, int *count)
{
	if (!h)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!pref || requested < 1 || !res || !count)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "heuristic arguments");
	*count = 0;
	rc_emu_problem p;
	cublasStatus_t st = rc_emu_read(op, A, B, C, D, &p);
	if (st)
		return st;
	uint32_t align[4];
	const cublasLtMatmulPreferenceAttributes_t align_attr[4] = {
		CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
		CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
	};
	for (int i = 0; i < 4; i++)
		if (!rc_emu_pref_get(pref, align_attr[i], &align[i]))
			return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "preference: unreadable");
	memset(res, 0, sizeof *res);
	res->algo.data[0] = rc_emu_lt_algo_tag;
	for (int i = 0; i < 4; i++)
		res->algo.data[1 + i] = align[i];
	res->workspaceSize = 0;
	res->state = CUBLAS_STATUS_SUCCESS;
	res->wavesCount = 1.0f;
	*count = 1;
	return CUBLAS_STATUS_SUCCESS;
}

static float rc_emu_get(const void *p, int32_t type, int64_t i)
{
	return type == CUDA_R_32F ? static_cast<const float *>(p)[i]
				  : __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
}

static void rc_emu_put(void *p, int32_t type, int64_t i, float v)
{
	if (type == CUDA_R_32F)
		static_cast<float *>(p)[i] = v;
	else
		static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16_rn(v);
}

/* rc_emu_aligned - whether every batch entry of m at p is aligned to a */
static bool rc_emu_aligned(const void *p, const rc_emu_mat &m, uint64_t a)
{
	uint64_t bits = (uintptr_t)p;
	if (m.batch > 1)
		bits |= (uint64_t)m.stride * rc_emu_elem_size(m.type);
	return a <= 1 || bits % a == 0;
}

static cublasStatus_t rc_emu_lt_matmul(cublasLtHandle_t h, cublasLtMatmulDesc_t op,
	const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc, const void *B,
	cublasLtMatrixLayout_t Bdesc, const void *beta, const void *C,
	cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc,
	const cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspace_size,
	cudaStream_t stream)
{
	(void)workspace, (void)workspace_size, (void)stream;
	if (!h)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	rc_emu_problem p;
	cublasStatus_t st = rc_emu_read(op, Adesc, Bdesc, Cdesc, Ddesc, &p);
	if (st)
		return st;
	if (!alpha || !beta)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "alpha or beta: NULL");
	const float al = *static_cast<const float *>(alpha), be = *static_cast<const float *>(beta);
	if (!A || !B || !D || (be != 0.0f && !C))
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "A %p, B %p, C %p, D %p", A, B, C, D);
	if (C == D && (p.c.ld != p.d.ld || p.c.stride != p.d.stride))
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "C = D in place with other "
			"layouts (ld %lld and %lld)", (long long)p.c.ld, (long long)p.d.ld);
	const void *ptr[4] = { A, B, C, D };
	const rc_emu_mat *mat[4] = { &p.a, &p.b, &p.c, &p.d };
	const char *name = "ABCD";
	if (algo && algo->data[0] != rc_emu_lt_algo_tag)
		return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "algo: not from the heuristic");
	for (int i = 0; i < 4; i++) {
		const uint64_t need = algo ? algo->data[1 + i] : 1;
		const uint64_t es = rc_emu_elem_size(mat[i]->type);
		if (ptr[i] && !rc_emu_aligned(ptr[i], *mat[i], need > es ? need : es))
			return rc_emu_bad(CUBLAS_STATUS_INVALID_VALUE, "%c at %p (batch stride "
				"%lld): the algorithm was chosen for %llu-byte alignment", name[i],
				ptr[i], (long long)mat[i]->stride, (unsigned long long)need);
	}

	for (int32_t e = 0; e < p.d.batch; e++) {
		const char *a = static_cast<const char *>(A) + e * p.a.stride * rc_emu_elem_size(p.a.type);
		const char *b = static_cast<const char *>(B) + e * p.b.stride * rc_emu_elem_size(p.b.type);
		const char *c = be != 0.0f ? static_cast<const char *>(C) +
			e * p.c.stride * rc_emu_elem_size(p.c.type) : nullptr;
		char *d = static_cast<char *>(D) + e * p.d.stride * rc_emu_elem_size(p.d.type);
		for (uint64_t j = 0; j < p.n; j++)
			for (uint64_t i = 0; i < p.m; i++) {
				float s = 0.0f;
				for (uint64_t l = 0; l < p.k; l++) {
					const int64_t ia = p.ta == CUBLAS_OP_N ? i + l * p.a.ld : l + i * p.a.ld;
					const int64_t ib = p.tb == CUBLAS_OP_N ? l + j * p.b.ld : j + l * p.b.ld;
					s += rc_emu_get(a, p.a.type, ia) * rc_emu_get(b, p.b.type, ib);
				}
				float v = al * s;
				if (c)
					v += be * rc_emu_get(c, p.c.type, i + j * p.c.ld);
				if (p.epilogue == CUBLASLT_EPILOGUE_BIAS)
					v += rc_emu_get(p.bias, p.d.type, i);
				rc_emu_put(d, p.d.type, i + j * p.d.ld, v);
			}
	}
	return CUBLAS_STATUS_SUCCESS;
}

#define cublasLtCreate rc_emu_lt_create
#define cublasLtDestroy rc_emu_lt_destroy
#define cublasLtMatmulAlgoGetHeuristic rc_emu_lt_heuristic
#define cublasLtMatmul rc_emu_lt_matmul

#endif
