/* lowp_cpu.c - linear layers in bf16 or int8 on oneDNN's matmul
 * (lowp_cpu.h). Each weight is packed once in the layout oneDNN chooses
 * for the largest batch; a product for N rows is a matmul primitive made
 * at the first call with that N and kept (a forward pass meets a handful
 * of shapes). Without oneDNN in the build every entry point says so. */
#include "model/lowp_cpu.h"

#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/thread.h"
#include "model/backend.h"
#include "model/clip_config.h"
#include "model/model.h"

float rc_lowp_round_bf16(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		u |= 0x00400000u;               /* a NaN stays a (quiet) NaN */
	else
		u += 0x7fffu + ((u >> 16) & 1); /* to nearest, ties to even */
	u &= 0xffff0000u;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* pack_tower - the linear layers of one tower's encoder and, for the
 * image tower, the patch embedding, into lp. The projections stay fp32
 * (a row per input: too small to gain). */
static int pack_tower(struct rc_lowp *lp, const struct rc_clip_tower_config *t,
	const struct rc_clip_tower_weights *w, int vision)
{
	const size_t C = t->hidden, I = t->intermediate;
	int rc = 0;
	if (vision)
		rc = rc_lowp_pack(lp, w->patch_w, (int)C, 3 * t->patch_size * t->patch_size);
	for (int l = 0; l < t->layers && rc >= 0; l++) {
		const size_t lc = (size_t)l * C, li = (size_t)l * I;
		if ((rc = rc_lowp_pack(lp, w->qkv_w + 3 * lc * C, (int)(3 * C), (int)C)) < 0 ||
		    (rc = rc_lowp_pack(lp, w->out_w + lc * C, (int)C, (int)C)) < 0 ||
		    (rc = rc_lowp_pack(lp, w->fc1_w + li * C, (int)I, (int)C)) < 0)
			break;
		rc = rc_lowp_pack(lp, w->fc2_w + lc * I, (int)C, (int)I);
	}
	return rc;
}

int rc_lowp_pack_clip(struct rc_lowp *lp, const struct rc_clip *m, int images, int texts)
{
	int rc = 0;
	if (images)
		rc = pack_tower(lp, &m->cfg.vision, &m->w.vision, 1);
	if (texts && rc >= 0)
		rc = pack_tower(lp, &m->cfg.text, &m->w.text, 0);
	return rc;
}

static const char *precision_name(int precision)
{
	return precision == RC_PRECISION_INT8 ? "int8" : "bf16";
}

#ifndef HAVE_ONEDNN

const char *rc_lowp_isa(void)
{
	return "none";
}

int rc_lowp_check(int precision)
{
	rc_log_error(RC_E_UNSUPPORTED, "cpu: %s: this rclip is built without oneDNN",
		precision_name(precision));
	rc_log_hint("install libdnnl-dev (build-aux/install-deps.sh) and run configure again, "
		"or use --precision fp32");
	return RC_E_UNSUPPORTED;
}

int rc_lowp_new(struct rc_lowp **out, int precision, int max_rows)
{
	*out = NULL;
	return rc_lowp_check(precision);
}

void rc_lowp_free(struct rc_lowp *lp)
{
}

int rc_lowp_pack(struct rc_lowp *lp, const float *w, int OC, int C)
{
	return RC_E_UNSUPPORTED;
}

size_t rc_lowp_bytes(const struct rc_lowp *lp)
{
	return 0;
}

int rc_lowp_matmul(struct rc_lowp *lp, float *out, const float *inp, const float *w,
	const float *bias, int N, int C, int OC)
{
	return 1;
}

#else

#include <oneapi/dnnl/dnnl.h>

struct weight {
	const float *key;        /* the fp32 tensor it stands for */
	int OC, C;
	dnnl_memory_desc_t md;   /* oneDNN's packed layout of the [C,OC] matrix */
	dnnl_memory_t mem;       /* the packed values */
	size_t bytes;
	float *scale;            /* int8: [OC] per output channel */
};

/* A matmul primitive for N rows of one weight shape, with or without bias. */
struct prim {
	int N, C, OC, bias;
	dnnl_primitive_t p;
};

struct rc_lowp {
	int precision;
	int max_rows;
	dnnl_engine_t eng;
	dnnl_stream_t st;
	struct weight *w;
	size_t nw, wcap;
	struct prim *p;
	size_t np, pcap;
	void *src;               /* the input rows in bf16 or int8 */
	size_t src_cap;          /* bytes */
	float *row_scale;        /* int8: [max_rows] */
	int32_t *acc;            /* int8: the products' sums */
	size_t acc_cap;          /* elements */
	float *act;              /* a row of the activation per thread */
	size_t act_cap;          /* bytes */
};

/* The ISAs of oneDNN 2.x are bit sets: a larger one contains a smaller. */
static int has_isa(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t want)
{
	return ((unsigned)isa & (unsigned)want) == (unsigned)want;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
	static const struct { dnnl_cpu_isa_t isa; const char *name; } names[] = {
		{ dnnl_cpu_isa_avx512_core_amx, "AMX" },
		{ dnnl_cpu_isa_avx512_core_bf16, "AVX512-BF16" },
		{ dnnl_cpu_isa_avx512_core_vnni, "AVX512-VNNI" },
		{ dnnl_cpu_isa_avx2_vnni, "AVX-VNNI" },
		{ dnnl_cpu_isa_avx512_core, "AVX512" },
		{ dnnl_cpu_isa_avx2, "AVX2" },
		{ dnnl_cpu_isa_avx, "AVX" },
		{ dnnl_cpu_isa_sse41, "SSE4.1" },
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (has_isa(isa, names[i].isa))
			return names[i].name;
	return "no vector extension";
}

const char *rc_lowp_isa(void)
{
	return isa_name(dnnl_get_effective_cpu_isa());
}

int rc_lowp_check(int precision)
{
	const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	int ok;
	const char *need;
	if (precision == RC_PRECISION_INT8) {
		ok = has_isa(isa, dnnl_cpu_isa_avx512_core_vnni) ||
			has_isa(isa, dnnl_cpu_isa_avx2_vnni);
		need = "AVX512-VNNI, AVX-VNNI or AMX";
	} else {
		ok = has_isa(isa, dnnl_cpu_isa_avx512_core_bf16);
		need = "AVX512-BF16 or AMX";
	}
	if (ok)
		return 0;
	rc_log_error(RC_E_UNSUPPORTED, "cpu: %s needs %s, and this CPU has %s",
		precision_name(precision), need, isa_name(isa));
	rc_log_hint("use --precision fp32, which runs on any CPU");
	return RC_E_UNSUPPORTED;
}

/* dnnl - a oneDNN status as an rclip error, logged with what failed. */
static int dnnl(dnnl_status_t s, const char *what)
{
	if (s == dnnl_success)
		return 0;
	if (s == dnnl_out_of_memory)
		return rc_log_error(RC_E_NOMEM, "cpu: oneDNN: %s: out of memory", what);
	return rc_log_error(RC_E_UNSUPPORTED, "cpu: oneDNN: %s: status %d%s", what, (int)s,
		s == dnnl_unimplemented ? " (no kernel for it)" : "");
}

int rc_lowp_new(struct rc_lowp **out, int precision, int max_rows)
{
	*out = NULL;
	int rc = rc_lowp_check(precision);
	if (rc < 0)
		return rc;
	if (max_rows < 1)
		return rc_log_error(RC_E_ARG, "cpu: %s products of %d rows", precision_name(precision),
			max_rows);
	struct rc_lowp *lp = rc_calloc(1, sizeof *lp);
	if (!lp)
		return RC_E_NOMEM;
	lp->precision = precision;
	lp->max_rows = max_rows;
	if ((rc = dnnl(dnnl_engine_create(&lp->eng, dnnl_cpu, 0), "engine")) < 0 ||
	    (rc = dnnl(dnnl_stream_create(&lp->st, lp->eng, dnnl_stream_default_flags),
	    "stream")) < 0 ||
	    (precision == RC_PRECISION_INT8 &&
	    !(lp->row_scale = rc_malloc((size_t)max_rows * sizeof *lp->row_scale)))) {
		rc_lowp_free(lp);
		return rc < 0 ? rc : RC_E_NOMEM;
	}
	*out = lp;
	return 0;
}

void rc_lowp_free(struct rc_lowp *lp)
{
	if (!lp)
		return;
	for (size_t i = 0; i < lp->np; i++)
		dnnl_primitive_destroy(lp->p[i].p);
	for (size_t i = 0; i < lp->nw; i++) {
		dnnl_memory_destroy(lp->w[i].mem);
		free(lp->w[i].scale);
	}
	if (lp->st)
		dnnl_stream_destroy(lp->st);
	if (lp->eng)
		dnnl_engine_destroy(lp->eng);
	free(lp->p);
	free(lp->w);
	free(lp->src);
	free(lp->row_scale);
	free(lp->acc);
	free(lp->act);
	free(lp);
}

size_t rc_lowp_bytes(const struct rc_lowp *lp)
{
	size_t n = 0;
	for (size_t i = 0; lp && i < lp->nw; i++)
		n += lp->w[i].bytes + (lp->w[i].scale ? lp->w[i].OC * sizeof(float) : 0);
	return n;
}

/* ---------------------------------------------------------------- primitives */

static dnnl_data_type_t in_type(const struct rc_lowp *lp)
{
	return lp->precision == RC_PRECISION_INT8 ? dnnl_s8 : dnnl_bf16;
}

/* matmul_pd - the primitive descriptor of out[N,OC] = inp[N,C]·W (W the
 * [C,OC] matrix in layout wmd; NULL: oneDNN's choice). */
static int matmul_pd(const struct rc_lowp *lp, dnnl_primitive_desc_t *pd, int N, int C, int OC,
	int bias, const dnnl_memory_desc_t *wmd)
{
	const int int8 = lp->precision == RC_PRECISION_INT8;
	dnnl_memory_desc_t src, wany, b, dst;
	dnnl_dims_t sd = { N, C }, wd = { C, OC }, bd = { 1, OC }, dd = { N, OC };
	int rc;
	if ((rc = dnnl(dnnl_memory_desc_init_by_tag(&src, 2, sd, in_type(lp), dnnl_ab),
	    "source")) < 0 ||
	    (rc = dnnl(dnnl_memory_desc_init_by_tag(&wany, 2, wd, in_type(lp),
	    dnnl_format_tag_any), "weights")) < 0 ||
	    (rc = dnnl(dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_f32, dnnl_ab), "bias")) < 0 ||
	    (rc = dnnl(dnnl_memory_desc_init_by_tag(&dst, 2, dd, int8 ? dnnl_s32 : dnnl_f32,
	    dnnl_ab), "destination")) < 0)
		return rc;
	dnnl_matmul_desc_t md;
	if ((rc = dnnl(dnnl_matmul_desc_init(&md, &src, wmd ? wmd : &wany, bias ? &b : NULL, &dst),
	    "matmul")) < 0)
		return rc;
	char what[96];
	snprintf(what, sizeof what, "%s matmul of %d×%d by %d×%d", precision_name(lp->precision),
		N, C, C, OC);
	return dnnl(dnnl_primitive_desc_create(pd, &md, NULL, lp->eng, NULL), what);
}

/* prim_get - the primitive for N rows of w, made at the first call. */
static int prim_get(struct rc_lowp *lp, const struct weight *w, int N, int bias,
	dnnl_primitive_t *out)
{
	for (size_t i = 0; i < lp->np; i++) {
		const struct prim *p = &lp->p[i];
		if (p->N == N && p->C == w->C && p->OC == w->OC && p->bias == bias) {
			*out = p->p;
			return 0;
		}
	}
	if (lp->np == lp->pcap) {
		size_t cap = lp->pcap ? 2 * lp->pcap : 16;
		struct prim *np = rc_realloc(lp->p, cap * sizeof *np);
		if (!np)
			return RC_E_NOMEM;
		lp->p = np, lp->pcap = cap;
	}
	dnnl_primitive_desc_t pd;
	int rc = matmul_pd(lp, &pd, N, w->C, w->OC, bias, &w->md);
	if (rc < 0)
		return rc;
	const char *impl = "?";
	dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
	rc_log_debug("cpu: %s matmul %d×%d by %d×%d%s: %s", precision_name(lp->precision), N,
		w->C, w->C, w->OC, bias ? " + bias" : "", impl);
	dnnl_primitive_t p;
	rc = dnnl(dnnl_primitive_create(&p, pd), "matmul primitive");
	dnnl_primitive_desc_destroy(pd);
	if (rc < 0)
		return rc;
	lp->p[lp->np++] = (struct prim){ N, w->C, w->OC, bias, p };
	*out = p;
	return 0;
}

/* grow - *buf to at least n bytes. */
static int grow(void **buf, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	void *p = rc_realloc(*buf, n);
	if (!p)
		return RC_E_NOMEM;
	*buf = p, *cap = n;
	return 0;
}

/* The loops over a row: built twice, for AVX512 and for any x86-64, and
 * chosen when the program starts (the same arithmetic either way). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ROWS_VECTOR __attribute__((target_clones("avx512f", "default")))
#else
#define ROWS_VECTOR
#endif

/* exp_row - y = exp(y) in fp32, in place, vectorizable: 2^k·e^r with k = round(x/ln 2)
 * (by adding and taking away 1.5·2^23), r = x - k·ln 2 in two parts (Cody
 * and Waite), e^r by its Taylor series to r^7 (|r| <= ln 2 / 2: a relative
 * error below 1e-8, then float rounding: within 2 ulp of libm's expf); x is
 * clamped to [-86.5, 88.72] (e^x from 2.7e-38 to just below FLT_MAX), where
 * 2^(k-1), the factor built from its bits, stays a normal float. */
ROWS_VECTOR
static void exp_row(float *y, int n)
{
	#pragma omp simd
	for (int i = 0; i < n; i++) {
		const float v = y[i] < -86.5f ? -86.5f : y[i] > 88.72f ? 88.72f : y[i];
		const float k = (v * 1.44269504f + 12582912.0f) - 12582912.0f;
		const float r = (v - k * 0.693145752f) - k * 1.42860677e-6f;
		float p = 1.0f / 5040;
		p = p * r + 1.0f / 720;
		p = p * r + 1.0f / 120;
		p = p * r + 1.0f / 24;
		p = p * r + 1.0f / 6;
		p = p * r + 0.5f;
		p = p * r + 1.0f;
		p = p * r + 1.0f;
		union { int32_t i; float f; } s = { ((int32_t)k + 126) * (1 << 23) };
		y[i] = (p + p) * s.f;
	}
}

/* act_row - y = act(x) on a row, fp32: quick_gelu as x / (1 + exp(-1.702x))
 * with exp_row, exact GELU with libm's erff. */
ROWS_VECTOR
static void act_row(float *restrict y, const float *restrict x, int n, int act)
{
	if (act == RC_ACT_GELU) {
		for (int i = 0; i < n; i++)
			y[i] = x[i] * 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
		return;
	}
	#pragma omp simd
	for (int i = 0; i < n; i++)
		y[i] = -1.702f * x[i];
	exp_row(y, n);
	#pragma omp simd
	for (int i = 0; i < n; i++)
		y[i] = x[i] / (1.0f + y[i]);
}

/* ln_row - y = (x - mean)·rstd·w + b over a row of n, rc_ops_layernorm's
 * arithmetic (mean and variance summed in double, the affine step as
 * PyTorch orders it), in loops the compiler vectorizes. */
ROWS_VECTOR
static void ln_row(float *restrict y, const float *restrict x, const float *restrict w,
	const float *restrict b, int n, float eps)
{
	double s = 0, v = 0;
	#pragma omp simd reduction(+:s)
	for (int i = 0; i < n; i++)
		s += x[i];
	const float m = (float)(s / n);
	#pragma omp simd reduction(+:v)
	for (int i = 0; i < n; i++) {
		const double d = (double)x[i] - (double)m;
		v += d * d;
	}
	const float r = 1.0f / sqrtf((float)(v / n) + eps), nb = -m * r;
	#pragma omp simd
	for (int i = 0; i < n; i++)
		y[i] = (x[i] * r + nb) * w[i] + b[i];
}

void rc_lowp_act(float *y, const float *x, int n, int act)
{
	act_row(y, x, n, act);
}

/* to_bf16 - n floats to bf16 bits as rc_lowp_round_bf16 rounds them,
 * written so that the compiler vectorizes it (no branch, no memcpy). */
ROWS_VECTOR
static void to_bf16(uint16_t *restrict h, const float *restrict x, size_t n)
{
	#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		union { float f; uint32_t u; } v = { x[i] };
		const uint32_t u = v.u, nan = (u & 0x7fffffffu) > 0x7f800000u;
		h[i] = (uint16_t)(nan ? (u >> 16) | 0x40u : (u + 0x7fffu + ((u >> 16) & 1)) >> 16);
	}
}

/* quantize_row - q[n] = round(x / s) with s = max|x|/127 (0 for a zero
 * row), rounded to nearest even as lrintf: adding and taking away 1.5·2^23
 * rounds a float of magnitude below 2^22 in the current (nearest) mode,
 * which the compiler can vectorize. Returns s. */
ROWS_VECTOR
static float quantize_row(int8_t *restrict q, const float *restrict x, size_t n)
{
	float amax = 0;
	#pragma omp simd reduction(max:amax)
	for (size_t i = 0; i < n; i++) {
		const float a = fabsf(x[i]);
		amax = a > amax ? a : amax;
	}
	const float inv = amax > 0 ? 127.0f / amax : 0.0f, magic = 12582912.0f;
	#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float v = x[i] * inv;
		v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
		q[i] = (int8_t)(int)((v + magic) - magic);
	}
	return amax / 127.0f;
}

/* ---------------------------------------------------------------- packing */

int rc_lowp_pack(struct rc_lowp *lp, const float *w, int OC, int C)
{
	rc_assert(OC > 0 && C > 0);
	for (size_t i = 0; i < lp->nw; i++)
		if (lp->w[i].key == w)
			return rc_log_error(RC_E_ARG, "cpu: a weight packed twice");
	if (lp->nw == lp->wcap) {
		size_t cap = lp->wcap ? 2 * lp->wcap : 64;
		struct weight *nw = rc_realloc(lp->w, cap * sizeof *nw);
		if (!nw)
			return RC_E_NOMEM;
		lp->w = nw, lp->wcap = cap;
	}
	struct weight *wt = &lp->w[lp->nw];
	*wt = (struct weight){ .key = w, .OC = OC, .C = C };
	const int int8 = lp->precision == RC_PRECISION_INT8;
	const size_t n = (size_t)OC * C, es = int8 ? 1 : 2;
	dnnl_primitive_desc_t pd = NULL, rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_memory_t plain = NULL;
	void *tmp = rc_malloc(n * es);
	int rc = RC_E_NOMEM;
	if (!tmp || (int8 && !(wt->scale = rc_malloc((size_t)OC * sizeof *wt->scale))))
		goto out;
	/* The values in the precision, as [OC,C] rows: the [C,OC] matrix
	 * oneDNN multiplies by, in its "ba" layout. */
	if (int8) {
		#pragma omp parallel for schedule(static)
		for (int o = 0; o < OC; o++)
			wt->scale[o] = quantize_row((int8_t *)tmp + (size_t)o * C, w + (size_t)o * C,
				(size_t)C);
	} else {
		#pragma omp parallel for schedule(static)
		for (int o = 0; o < OC; o++)
			to_bf16((uint16_t *)tmp + (size_t)o * C, w + (size_t)o * C, (size_t)C);
	}
	/* oneDNN's layout for the largest batch, which serves the others. */
	if ((rc = matmul_pd(lp, &pd, lp->max_rows, C, OC, 1, NULL)) < 0)
		goto out;
	wt->md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	wt->bytes = dnnl_memory_desc_get_size(&wt->md);
	dnnl_memory_desc_t pmd;
	dnnl_dims_t wd = { C, OC };
	if ((rc = dnnl(dnnl_memory_desc_init_by_tag(&pmd, 2, wd, in_type(lp), dnnl_ba),
	    "weights")) < 0 ||
	    (rc = dnnl(dnnl_memory_create(&plain, &pmd, lp->eng, tmp), "weights")) < 0 ||
	    (rc = dnnl(dnnl_memory_create(&wt->mem, &wt->md, lp->eng, DNNL_MEMORY_ALLOCATE),
	    "packed weights")) < 0 ||
	    (rc = dnnl(dnnl_reorder_primitive_desc_create(&rpd, &pmd, lp->eng, &wt->md, lp->eng,
	    NULL), "weight packing")) < 0 ||
	    (rc = dnnl(dnnl_primitive_create(&reorder, rpd), "weight packing")) < 0)
		goto out;
	dnnl_exec_arg_t args[] = { { DNNL_ARG_FROM, plain }, { DNNL_ARG_TO, wt->mem } };
	if ((rc = dnnl(dnnl_primitive_execute(reorder, lp->st, 2, args), "weight packing")) < 0 ||
	    (rc = dnnl(dnnl_stream_wait(lp->st), "weight packing")) < 0)
		goto out;
	lp->nw++;
	rc = 0;
out:
	if (rc < 0) {
		if (wt->mem)
			dnnl_memory_destroy(wt->mem);
		free(wt->scale);
	}
	if (reorder)
		dnnl_primitive_destroy(reorder);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (plain)
		dnnl_memory_destroy(plain);
	free(tmp);
	return rc;
}

/* ---------------------------------------------------------------- products */

/* What happens to an input row on its way in: an activation (act >= 0)
 * or a layer norm (ln_w not NULL), or nothing. */
struct prologue {
	int act;
	const float *ln_w, *ln_b;
	float eps;
};

static int matmul(struct rc_lowp *lp, float *out, const float *inp, const struct prologue *pre,
	const float *w, const float *bias, int N, int C, int OC);

int rc_lowp_matmul(struct rc_lowp *lp, float *out, const float *inp, const float *w,
	const float *bias, int N, int C, int OC)
{
	const struct prologue none = { -1, NULL, NULL, 0 };
	return matmul(lp, out, inp, &none, w, bias, N, C, OC);
}

int rc_lowp_matmul_act(struct rc_lowp *lp, float *out, const float *inp, int act,
	const float *w, const float *bias, int N, int C, int OC)
{
	const struct prologue pre = { act, NULL, NULL, 0 };
	return matmul(lp, out, inp, &pre, w, bias, N, C, OC);
}

int rc_lowp_matmul_ln(struct rc_lowp *lp, float *out, const float *inp, const float *ln_w,
	const float *ln_b, float eps, const float *w, const float *bias, int N, int C, int OC)
{
	const struct prologue pre = { -1, ln_w, ln_b, eps };
	return matmul(lp, out, inp, &pre, w, bias, N, C, OC);
}

static int matmul(struct rc_lowp *lp, float *out, const float *inp, const struct prologue *pre,
	const float *w, const float *bias, int N, int C, int OC)
{
	const struct weight *wt = NULL;
	for (size_t i = 0; i < lp->nw && !wt; i++)
		if (lp->w[i].key == w)
			wt = &lp->w[i];
	if (!wt)
		return 1;
	rc_assert(wt->OC == OC && wt->C == C && N > 0 && N <= lp->max_rows);
	const int int8 = lp->precision == RC_PRECISION_INT8;
	dnnl_primitive_t p;
	int rc;
	/* int8 adds the bias in its own epilogue. */
	if ((rc = prim_get(lp, wt, N, bias && !int8, &p)) < 0 ||
	    (rc = grow(&lp->src, &lp->src_cap, (size_t)N * C * (int8 ? 1 : 2))) < 0)
		return rc;
	if (int8 && lp->acc_cap < (size_t)N * OC) {
		void *a = lp->acc;
		size_t bytes = lp->acc_cap * sizeof *lp->acc;
		if ((rc = grow(&a, &bytes, (size_t)N * OC * sizeof *lp->acc)) < 0)
			return rc;
		lp->acc = a, lp->acc_cap = (size_t)N * OC;
	}
	const int nt = rc_thread_max(), row = pre->act >= 0 || pre->ln_w;
	if (row) {
		void *a = lp->act;
		if ((rc = grow(&a, &lp->act_cap, (size_t)nt * C * sizeof *lp->act)) < 0)
			return rc;
		lp->act = a;
	}
	/* The input rows in the precision (the prologue first, in a row of
	 * the thread's: one pass over the input). */
	#pragma omp parallel for schedule(static) num_threads(nt)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (size_t)i * C;
		if (row) {
			float *y = lp->act + (size_t)rc_thread_id() * C;
			if (pre->ln_w)
				ln_row(y, x, pre->ln_w, pre->ln_b, C, pre->eps);
			else
				act_row(y, x, C, pre->act);
			x = y;
		}
		if (int8)
			lp->row_scale[i] = quantize_row((int8_t *)lp->src + (size_t)i * C, x, (size_t)C);
		else
			to_bf16((uint16_t *)lp->src + (size_t)i * C, x, (size_t)C);
	}
	dnnl_memory_desc_t smd, dmd, bmd;
	dnnl_dims_t sd = { N, C }, dd = { N, OC }, bd = { 1, OC };
	dnnl_memory_t ms = NULL, md = NULL, mb = NULL;
	if ((rc = dnnl(dnnl_memory_desc_init_by_tag(&smd, 2, sd, in_type(lp), dnnl_ab),
	    "source")) < 0 ||
	    (rc = dnnl(dnnl_memory_desc_init_by_tag(&dmd, 2, dd, int8 ? dnnl_s32 : dnnl_f32,
	    dnnl_ab), "destination")) < 0 ||
	    (rc = dnnl(dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab), "bias")) < 0 ||
	    (rc = dnnl(dnnl_memory_create(&ms, &smd, lp->eng, lp->src), "source")) < 0 ||
	    (rc = dnnl(dnnl_memory_create(&md, &dmd, lp->eng, int8 ? (void *)lp->acc :
	    (void *)out), "destination")) < 0 ||
	    (bias && !int8 && (rc = dnnl(dnnl_memory_create(&mb, &bmd, lp->eng, (void *)bias),
	    "bias")) < 0))
		goto out;
	dnnl_exec_arg_t args[] = { { DNNL_ARG_SRC, ms }, { DNNL_ARG_WEIGHTS, wt->mem },
		{ DNNL_ARG_DST, md }, { DNNL_ARG_BIAS, mb } };
	if ((rc = dnnl(dnnl_primitive_execute(p, lp->st, mb ? 4 : 3, args), "matmul")) < 0 ||
	    (rc = dnnl(dnnl_stream_wait(lp->st), "matmul")) < 0)
		goto out;
	if (int8) {
		#pragma omp parallel for schedule(static)
		for (int i = 0; i < N; i++) {
			const int32_t *a = lp->acc + (size_t)i * OC;
			const float rs = lp->row_scale[i];
			float *o = out + (size_t)i * OC;
			for (int j = 0; j < OC; j++)
				o[j] = (float)a[j] * (rs * wt->scale[j]) + (bias ? bias[j] : 0.0f);
		}
	}
out:
	if (ms)
		dnnl_memory_destroy(ms);
	if (md)
		dnnl_memory_destroy(md);
	if (mb)
		dnnl_memory_destroy(mb);
	return rc;
}

#endif
