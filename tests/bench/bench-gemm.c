/* bench-gemm.c - the GEMM libraries the CPU backend could use for its
 * linear layers, on the encoders' shapes: OpenBLAS sgemm (fp32), OpenBLAS
 * cblas_sbgemm (bf16 inputs, fp32 sums: the input rows converted at each
 * call, the weights once), oneDNN through rc_lowp_matmul (bf16, and int8
 * with the rows quantised at each call), each given the same threads.
 * Prints GFLOP/s, the median of -k timed runs after one warm-up, for each
 * layer of a ViT-B/32 image tower at batch -b (rows = batch·50) and the
 * total. Informative: exits 0 unless its own setup fails; a library this
 * build or CPU lacks is left out with a line on stderr (Debian 12's
 * OpenBLAS 0.3.21 declares cblas_sbgemm but is built without it: it is
 * looked up at run time).
 *
 * usage: bench-gemm [-b BATCH] [-j THREADS] [-k RUNS]
 */
#include "config.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "model/backend.h"
#include "model/lowp_cpu.h"
#include "model/ops_cpu.h"

/* OpenBLAS's own calls (its cblas.h declares them) */
void openblas_set_num_threads(int n);

/* cblas_sbgemm, where the OpenBLAS loaded has it */
typedef void sbgemm_fn(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
	blasint, blasint, float, const uint16_t *, blasint, const uint16_t *, blasint, float,
	float *, blasint);
static sbgemm_fn *sbgemm;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static float frand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 - 0.5f;
}

/* bf16 by round to nearest even, as the CPU backend rounds */
static uint16_t to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

struct layer {
	const char *name;
	int C, OC;
};

enum { LIB_SGEMM, LIB_SBGEMM, LIB_DNNL_BF16, LIB_DNNL_INT8, NLIB };
static const char *lib_name[NLIB] = { "OpenBLAS sgemm fp32", "OpenBLAS sbgemm bf16",
	"oneDNN bf16", "oneDNN int8" };

/* run - seconds of one product of library lib for layer l over N rows */
static double run(int lib, struct rc_lowp *lp, const struct layer *l, int N, const float *x,
	const float *w, const uint16_t *wb, uint16_t *xb, const float *b, float *out)
{
	const double t0 = now();
	switch (lib) {
	case LIB_SGEMM:
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, l->OC, l->C, 1.0f, x, l->C, w,
			l->C, 0.0f, out, l->OC);
		break;
	case LIB_SBGEMM:
		for (size_t i = 0; i < (size_t)N * l->C; i++)
			xb[i] = to_bf16(x[i]);
		sbgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, l->OC, l->C, 1.0f, xb, l->C, wb,
			l->C, 0.0f, out, l->OC);
		break;
	default:
		if (rc_lowp_matmul(lp, out, x, w, b, N, l->C, l->OC) != 0)
			return NAN;
	}
	return now() - t0;
}

int main(int argc, char **argv)
{
	int batch = 32, threads = 1, runs = 5, c;
	while ((c = getopt(argc, argv, "b:j:k:")) != -1) {
		switch (c) {
		case 'b': batch = atoi(optarg); break;
		case 'j': threads = atoi(optarg); break;
		case 'k': runs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench-gemm [-b BATCH] [-j THREADS] [-k RUNS]\n");
			return 2;
		}
	}
	if (batch < 1 || threads < 1 || runs < 1 || runs > 100) {
		fprintf(stderr, "bench-gemm: -b, -j and -k must be positive (-k at most 100)\n");
		return 2;
	}
	rc_log_set_level(RC_LOG_ERROR);
	rc_ops_set_threads(threads);
	openblas_set_num_threads(threads);
	static const struct layer layers[] = {
		{ "qkv 768->2304", 768, 2304 },
		{ "out 768->768", 768, 768 },
		{ "fc1 768->3072", 768, 3072 },
		{ "fc2 3072->768", 3072, 768 },
	};
	const int nl = (int)(sizeof layers / sizeof *layers), N = batch * 50;
	const size_t maxc = 3072, maxoc = 3072;
	float *x = malloc((size_t)N * maxc * sizeof *x), *out = malloc((size_t)N * maxoc *
		sizeof *out);
	uint16_t *xb = malloc((size_t)N * maxc * sizeof *xb);
	float *w[4], *b[4];
	uint16_t *wb[4];
	if (!x || !out || !xb)
		return 1;
	uint64_t seed = 1;
	for (size_t i = 0; i < (size_t)N * maxc; i++)
		x[i] = frand(&seed);
	struct rc_lowp *lp[NLIB] = { NULL };
	int have[NLIB] = { 1, 0, 0, 0 };
	*(void **)&sbgemm = dlsym(RTLD_DEFAULT, "cblas_sbgemm");
	if (sbgemm)
		have[LIB_SBGEMM] = 1;
	else
		fprintf(stderr, "bench-gemm: %s left out: the OpenBLAS loaded has no cblas_sbgemm "
			"(built without BUILD_BFLOAT16)\n", lib_name[LIB_SBGEMM]);
	for (int p = LIB_DNNL_BF16; p <= LIB_DNNL_INT8; p++) {
		const int prec = p == LIB_DNNL_BF16 ? RC_PRECISION_BF16 : RC_PRECISION_INT8;
		if (rc_lowp_check(prec) == 0 && rc_lowp_new(&lp[p], prec, N) == 0)
			have[p] = 1;
		else
			fprintf(stderr, "bench-gemm: %s left out\n", lib_name[p]);
	}
	for (int i = 0; i < nl; i++) {
		const size_t n = (size_t)layers[i].C * layers[i].OC;
		w[i] = malloc(n * sizeof *w[i]), wb[i] = malloc(n * sizeof *wb[i]);
		b[i] = calloc(layers[i].OC, sizeof *b[i]);
		if (!w[i] || !wb[i] || !b[i])
			return 1;
		for (size_t k = 0; k < n; k++)
			w[i][k] = 0.05f * frand(&seed), wb[i][k] = to_bf16(w[i][k]);
		for (int p = LIB_DNNL_BF16; p <= LIB_DNNL_INT8; p++)
			if (have[p] && rc_lowp_pack(lp[p], w[i], layers[i].OC, layers[i].C) < 0)
				return 1;
	}
	printf("GEMMs of a ViT-B/32 image tower's layer, %d rows (batch %d), %d thread%s, "
		"GFLOP/s, median of %d runs\n", N, batch, threads, threads > 1 ? "s" : "", runs);
	printf("%-16s", "layer");
	for (int p = 0; p < NLIB; p++)
		if (have[p])
			printf(" %22s", lib_name[p]);
	printf("\n");
	double total[NLIB] = { 0 }, flops_all = 0;
	for (int i = 0; i < nl; i++) {
		const double flops = 2.0 * N * layers[i].C * layers[i].OC;
		flops_all += flops;
		printf("%-16s", layers[i].name);
		for (int p = 0; p < NLIB; p++) {
			if (!have[p])
				continue;
			double t[100];
			run(p, lp[p], &layers[i], N, x, w[i], wb[i], xb, b[i], out);
			for (int r = 0; r < runs; r++)
				t[r] = run(p, lp[p], &layers[i], N, x, w[i], wb[i], xb, b[i], out);
			qsort(t, runs, sizeof *t, cmp_double);
			total[p] += t[runs / 2];
			printf(" %22.1f", flops / t[runs / 2] * 1e-9);
		}
		printf("\n");
	}
	printf("%-16s", "all four");
	for (int p = 0; p < NLIB; p++)
		if (have[p])
			printf(" %22.1f", flops_all / total[p] * 1e-9);
	printf("\n");
	for (int p = 0; p < NLIB; p++)
		rc_lowp_free(lp[p]);
	for (int i = 0; i < nl; i++)
		free(w[i]), free(wb[i]), free(b[i]);
	free(x), free(xb), free(out);
	return 0;
}
