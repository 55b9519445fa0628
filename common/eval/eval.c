/* eval.c - the metrics of DESIGN.md §6 on normalised embeddings, and the
 * bootstrap and McNemar statistics (eval.h). Score matrices are made by
 * blocks of rows on the backend; the counting loops run on OpenMP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "eval/eval.h"
#include "base/io.h"
#include "base/rng.h"

/* above - x counts against a reference score: strictly greater, or NaN
 * (a NaN score is a miss, never a hit: every comparison with it is false,
 * so it would otherwise rank below everything). */
static inline uint32_t above(float x, float ref)
{
	return x > ref || x != x;
}

int rc_eval_choice(const float *img, const float *cand, int k, size_t D, float *scores,
	int *choice)
{
	float best = 0;
	int arg = 0, nan = -1;
	for (int j = 0; j < k; j++) {
		float s = 0;
		const float *c = cand + (size_t)j * D;
		for (size_t d = 0; d < D; d++)
			s += img[d] * c[d];
		if (scores)
			scores[j] = s;
		if (s != s && nan < 0)
			nan = j;
		if (j == 0)
			best = s;
		else if (s > best) {
			best = s;
			arg = j;
		}
	}
	/* arg moves off 0 only for a strictly higher score: a tie stays 0; a
	 * NaN anywhere is a miss, the choice the first NaN (or 1) */
	if (nan >= 0)
		arg = nan > 0 || k < 2 ? nan : 1;
	if (choice)
		*choice = arg;
	return arg == 0;
}


int rc_eval_ranks(struct rc_backend *be, const float *img, size_t ni, const float *txt,
	size_t nt, size_t D, const uint32_t *owner, uint32_t *i2t, uint32_t *t2i)
{
	for (size_t j = 0; j < nt; j++)
		if (owner[j] >= ni)
			return RC_E_ARG;
	size_t wide = ni > nt ? ni : nt;
	float *S = rc_malloc((size_t)RC_EVAL_BLOCK * (wide ? wide : 1) * sizeof *S);
	/* captions of each image: start[i] .. start[i+1] in cap[] */
	size_t *start = rc_calloc(ni + 1, sizeof *start);
	uint32_t *cap = rc_malloc((nt ? nt : 1) * sizeof *cap);
	if (!S || !start || !cap) {
		free(S);
		free(start);
		free(cap);
		return RC_E_NOMEM;
	}
	for (size_t j = 0; j < nt; j++)
		start[owner[j] + 1]++;
	for (size_t i = 0; i < ni; i++)
		start[i + 1] += start[i];
	for (size_t j = 0; j < nt; j++)
		cap[start[owner[j]]++] = (uint32_t)j;
	for (size_t i = ni; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;

	int rc = 0;
	if (i2t)
		for (size_t b0 = 0; b0 < ni && !rc; b0 += RC_EVAL_BLOCK) {
			size_t nb = ni - b0 < RC_EVAL_BLOCK ? ni - b0 : RC_EVAL_BLOCK;
			if ((rc = rc_backend_scores(be, S, img + b0 * D, nb, txt, nt, D)) < 0)
				break;
#pragma omp parallel for schedule(static)
			for (size_t r = 0; r < nb; r++) {
				size_t i = b0 + r;
				const float *row = S + r * nt;
				if (start[i] == start[i + 1]) {
					i2t[i] = 0;
					continue;
				}
				float best = row[cap[start[i]]];
				for (size_t q = start[i] + 1; q < start[i + 1]; q++)
					if (row[cap[q]] > best || best != best)
						best = row[cap[q]];
				uint32_t n = 0;
				for (size_t k = 0; k < nt; k++)
					n += above(row[k], best);
				i2t[i] = best != best ? (uint32_t)nt : n + 1;
			}
		}
	if (t2i)
		for (size_t b0 = 0; b0 < nt && !rc; b0 += RC_EVAL_BLOCK) {
			size_t nb = nt - b0 < RC_EVAL_BLOCK ? nt - b0 : RC_EVAL_BLOCK;
			if ((rc = rc_backend_scores(be, S, txt + b0 * D, nb, img, ni, D)) < 0)
				break;
#pragma omp parallel for schedule(static)
			for (size_t r = 0; r < nb; r++) {
				const float *row = S + r * ni;
				float own = row[owner[b0 + r]];
				uint32_t n = 0;
				for (size_t k = 0; k < ni; k++)
					n += above(row[k], own);
				t2i[b0 + r] = own != own ? (uint32_t)ni : n + 1;
			}
		}
	free(S);
	free(start);
	free(cap);
	return rc;
}

int rc_eval_label_ranks(struct rc_backend *be, const float *img, size_t ni, const float *cls,
	size_t nc, size_t D, const uint32_t *label, uint32_t *rank, uint32_t *pred)
{
	for (size_t i = 0; i < ni; i++)
		if (label[i] >= nc)
			return RC_E_ARG;
	float *S = rc_malloc((size_t)RC_EVAL_BLOCK * (nc ? nc : 1) * sizeof *S);
	if (!S)
		return RC_E_NOMEM;
	int rc = 0;
	for (size_t b0 = 0; b0 < ni; b0 += RC_EVAL_BLOCK) {
		size_t nb = ni - b0 < RC_EVAL_BLOCK ? ni - b0 : RC_EVAL_BLOCK;
		if ((rc = rc_backend_scores(be, S, img + b0 * D, nb, cls, nc, D)) < 0)
			break;
#pragma omp parallel for schedule(static)
		for (size_t r = 0; r < nb; r++) {
			const float *row = S + r * nc;
			uint32_t y = label[b0 + r], n = 0, arg = y;
			for (size_t k = 0; k < nc; k++) {
				n += above(row[k], row[y]);
				if (row[k] > row[arg]) /* scanning up: the first maximum */
					arg = (uint32_t)k;
			}
			if (row[y] != row[y] && arg == y && nc > 1)
				arg = (y + 1) % (uint32_t)nc;   /* a NaN is never a hit */
			rank[b0 + r] = row[y] != row[y] ? (uint32_t)nc : n + 1;
			if (pred)
				pred[b0 + r] = arg;
		}
	}
	free(S);
	return rc;
}

void rc_eval_class_embed(const float *tmpl, size_t n, size_t D, float *out)
{
	double norm = 0;
	for (size_t d = 0; d < D; d++) {
		double s = 0;
		for (size_t t = 0; t < n; t++)
			s += tmpl[t * D + d];
		s /= n ? (double)n : 1.0;
		out[d] = (float)s;
		norm += s * s;
	}
	norm = sqrt(norm);
	for (size_t d = 0; d < D; d++)
		out[d] = norm > 0 ? (float)(out[d] / norm) : 0.0f;
}

size_t rc_eval_hits(const uint32_t *rank, size_t n, uint32_t k)
{
	size_t h = 0;
	for (size_t i = 0; i < n; i++)
		h += rank[i] >= 1 && rank[i] <= k;
	return h;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int rc_eval_rank_stats(const uint32_t *rank, size_t n, int how, double *mean, double *median)
{
	*mean = *median = 0;
	uint32_t *v = rc_malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return RC_E_NOMEM;
	size_t m = 0;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		if (rank[i]) {
			v[m++] = rank[i];
			sum += rank[i];
		}
	if (m) {
		qsort(v, m, sizeof *v, cmp_u32);
		*mean = sum / (double)m;
		/* eval_RCLIP_retrieval.py: sorted(ranks)[n // 2]; eval_retrieval.py:
		 * numpy.median, the mean of the middle two of an even count */
		*median = how == RC_EVAL_MEDIAN_UPPER || m % 2 ? v[m / 2]
			: 0.5 * ((double)v[m / 2 - 1] + (double)v[m / 2]);
	}
	free(v);
	return 0;
}

/* ---------------------------------------------------------------- statistics */

/* A uniform index in [0, n) (rng.h). */
static size_t uniform(uint64_t *s, size_t n)
{
	return (size_t)rc_rng_below(s, n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* numpy.percentile's default (linear) on sorted v[n], q in [0, 1]. */
static double percentile(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)floor(pos);
	if (i + 1 >= n)
		return v[n - 1];
	double f = pos - (double)i;
	return v[i] + f * (v[i + 1] - v[i]);
}

int rc_eval_bootstrap(const uint8_t *hit, size_t n, int B, uint64_t seed, double *lo,
	double *hi)
{
	*lo = *hi = 0;
	if (B < 1)
		return RC_E_ARG;
	if (!n)
		return 0;
	double *m = rc_malloc((size_t)B * sizeof *m);
	if (!m)
		return RC_E_NOMEM;
	uint64_t s = seed;
	for (int b = 0; b < B; b++) {
		size_t h = 0;
		for (size_t k = 0; k < n; k++)
			h += hit[uniform(&s, n)] != 0;
		m[b] = (double)h / (double)n;
	}
	qsort(m, (size_t)B, sizeof *m, cmp_double);
	*lo = percentile(m, (size_t)B, 0.025);
	*hi = percentile(m, (size_t)B, 0.975);
	free(m);
	return 0;
}

void rc_eval_mcnemar(uint64_t b, uint64_t c, struct rc_eval_mcnemar *t)
{
	t->b = b;
	t->c = c;
	uint64_t n = b + c, k = b < c ? b : c;
	if (!n) {
		t->p_exact = t->p_chi2 = 1;
		t->chi2 = 0;
		return;
	}
	/* P(X <= k) for X ~ Bin(n, 1/2), terms in log space */
	double tail = 0, ln2n = (double)n * log(2.0);
	for (uint64_t i = 0; i <= k; i++)
		tail += exp(lgamma((double)n + 1) - lgamma((double)i + 1) -
			lgamma((double)(n - i) + 1) - ln2n);
	t->p_exact = 2 * tail < 1 ? 2 * tail : 1;
	double d = fabs((double)b - (double)c) - 1;
	if (d < 0)
		d = 0;
	t->chi2 = d * d / (double)n;
	t->p_chi2 = erfc(sqrt(t->chi2 / 2));
}
