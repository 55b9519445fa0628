/* loss.c - the CLIP contrastive loss (loss.h): logits by sgemm, the two
 * cross entropies in double from the row and column log-sum-exps, and
 * the backward through the logits back to both embeddings and the
 * logit scale. */
#include "model/loss.h"

#include <math.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "model/ops_cpu.h"
#include "base/thread.h"

struct rc_loss_clip {
	int max_b;
	int B, D;                 /* the last forward */
	float scale;              /* exp(logit_scale) */
	const float *img, *txt;   /* the last forward's inputs (not owned) */
	float *logits;            /* [B,B] logits_per_text */
	float *dlogits;           /* [B,B] backward scratch */
	double *lse_row, *lse_col; /* [B] log-sum-exp of each row / column */
};

int rc_loss_clip_new(struct rc_loss_clip **out, int max_b)
{
	*out = NULL;
	if (max_b < 1)
		return rc_log_error(RC_E_ARG, "clip loss: batch of %d", max_b);
	struct rc_loss_clip *lc = rc_calloc(1, sizeof *lc);
	if (!lc)
		return RC_E_NOMEM;
	const size_t bb = (size_t)max_b * max_b;
	lc->max_b = max_b;
	lc->logits = rc_malloc(2 * bb * sizeof *lc->logits);
	lc->lse_row = rc_malloc(2 * (size_t)max_b * sizeof *lc->lse_row);
	if (!lc->logits || !lc->lse_row) {
		rc_loss_clip_free(lc);
		return RC_E_NOMEM;
	}
	lc->dlogits = lc->logits + bb;
	lc->lse_col = lc->lse_row + max_b;
	*out = lc;
	return 0;
}

void rc_loss_clip_free(struct rc_loss_clip *lc)
{
	if (!lc)
		return;
	free(lc->logits);
	free(lc->lse_row);
	free(lc);
}

/* lse - log Σ_j exp(x[j·stride]) over n values, in double. */
static double lse(const float *x, int n, size_t stride)
{
	double mx = -INFINITY, s = 0;
	for (int j = 0; j < n; j++)
		mx = fmax(mx, x[j * stride]);
	for (int j = 0; j < n; j++)
		s += exp(x[j * stride] - mx);
	return mx + log(s);
}

double rc_loss_clip_forward(struct rc_loss_clip *lc, const float *img, const float *txt, int B,
	int D, float logit_scale)
{
	rc_assert(B >= 1 && B <= lc->max_b && D >= 1);
	lc->B = B, lc->D = D, lc->img = img, lc->txt = txt;
	lc->scale = expf(logit_scale);
	/* logits_per_text = (txt · imgᵀ) · exp(s), the product first */
	float *L = lc->logits;
	rc_ops_matmul(L, txt, img, NULL, B, D, B);
	for (size_t i = 0; i < (size_t)B * B; i++)
		L[i] *= lc->scale;
	double ct = 0, ci = 0;
	for (int i = 0; i < B; i++) {
		lc->lse_row[i] = lse(L + (size_t)i * B, B, 1);  /* text i over images */
		lc->lse_col[i] = lse(L + i, B, (size_t)B);      /* image i over texts */
		ct += lc->lse_row[i] - L[(size_t)i * B + i];
		ci += lc->lse_col[i] - L[(size_t)i * B + i];
	}
	return 0.5 * (ct / B + ci / B);
}

void rc_loss_clip_backward(struct rc_loss_clip *lc, float dloss, float *dimg, float *dtxt,
	float *dlogit_scale)
{
	rc_loss_clip_backward_rows(lc, dloss, 0, lc->B, dimg, dtxt, dlogit_scale);
}

void rc_loss_clip_backward_rows(struct rc_loss_clip *lc, float dloss, int lo, int n,
	float *dimg, float *dtxt, float *dlogit_scale)
{
	const int B = lc->B;
	rc_assert(B >= 1 && lo >= 0 && n >= 1 && lo + n <= B);
	const float *L = lc->logits;
	float *G = lc->dlogits;
	/* ∂loss/∂L[i,j] = (softmax_row(L)[i,j] + softmax_col(L)[i,j] - 2δij) / 2B;
	 * the logits are exp(s)·P with P = txt·imgᵀ, so ∂/∂P = exp(s)·∂/∂L and
	 * ∂/∂s = Σ ∂/∂L ⊙ L. Row i is text i's (its rank's term), column j
	 * image j's: where only one of them is this rank's, only its term
	 * stays (rc_loss_clip_backward_rows); i = j is both or neither. */
	const double k = (double)dloss / (2.0 * B);
	double ds = 0;
	for (int i = 0; i < B; i++) {
		const int ri = i >= lo && i < lo + n;
		for (int j = 0; j < B; j++) {
			const size_t o = (size_t)i * B + j;
			const int rj = j >= lo && j < lo + n;
			double g = exp(L[o] - lc->lse_row[i]) + exp(L[o] - lc->lse_col[j]) -
				(i == j ? 2.0 : 0.0);
			g *= k;
			ds += g * L[o];
			if (ri != rj)
				g = k * (ri ? exp(L[o] - lc->lse_row[i]) : exp(L[o] - lc->lse_col[j]));
			G[o] = (float)(g * lc->scale);
		}
	}
	if (dlogit_scale)
		*dlogit_scale += (float)ds;
	/* P[B,B] = txt[B,D] · img[B,D]ᵀ is a matmul with txt as input and img
	 * as weight: dtxt += G·img, dimg += Gᵀ·txt. */
	if (dimg || dtxt)
		rc_ops_matmul_backward(dtxt, dimg, NULL, G, lc->txt, lc->img, B, lc->D, B);
}

const float *rc_loss_clip_logits(const struct rc_loss_clip *lc)
{
	return lc->logits;
}

/* ================================================================ SigLIP */

struct rc_loss_siglip {
	int max_b;
	int B, D;
	float scale, bias;
	const float *img, *txt;
	float *z;                 /* [B,B] z[i,j] = exp(s)·txt[i]·img[j] + b */
	float *dz;                /* [B,B] backward scratch */
};

int rc_loss_siglip_new(struct rc_loss_siglip **out, int max_b)
{
	*out = NULL;
	if (max_b < 1)
		return rc_log_error(RC_E_ARG, "siglip loss: batch of %d", max_b);
	struct rc_loss_siglip *ls = rc_calloc(1, sizeof *ls);
	if (!ls)
		return RC_E_NOMEM;
	ls->max_b = max_b;
	ls->z = rc_malloc(2 * (size_t)max_b * max_b * sizeof *ls->z);
	if (!ls->z) {
		free(ls);
		return RC_E_NOMEM;
	}
	ls->dz = ls->z + (size_t)max_b * max_b;
	*out = ls;
	return 0;
}

void rc_loss_siglip_free(struct rc_loss_siglip *ls)
{
	if (!ls)
		return;
	free(ls->z);
	free(ls);
}

/* log σ(x) in double without overflow. */
static double log_sigmoid(double x)
{
	return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

double rc_loss_siglip_forward(struct rc_loss_siglip *ls, const float *img, const float *txt,
	int B, int D, float logit_scale, float logit_bias)
{
	rc_assert(B >= 1 && B <= ls->max_b && D >= 1);
	ls->B = B, ls->D = D, ls->img = img, ls->txt = txt;
	ls->scale = expf(logit_scale), ls->bias = logit_bias;
	float *z = ls->z;
	rc_ops_matmul(z, txt, img, NULL, B, D, B);
	double sum = 0;
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++) {
			const size_t o = (size_t)i * B + j;
			z[o] = z[o] * ls->scale + ls->bias;
			sum += log_sigmoid(i == j ? z[o] : -(double)z[o]);
		}
	return -sum / B;
}

void rc_loss_siglip_backward(struct rc_loss_siglip *ls, float dloss, float *dimg, float *dtxt,
	float *dlogit_scale, float *dlogit_bias)
{
	rc_loss_siglip_backward_rows(ls, dloss, 0, ls->B, dimg, dtxt, dlogit_scale, dlogit_bias);
}

void rc_loss_siglip_backward_rows(struct rc_loss_siglip *ls, float dloss, int lo, int n,
	float *dimg, float *dtxt, float *dlogit_scale, float *dlogit_bias)
{
	const int B = ls->B;
	rc_assert(B >= 1 && lo >= 0 && n >= 1 && lo + n <= B);
	/* ∂loss/∂z = -(1/B)·y·σ(-y·z); z = exp(s)·P + b, so ∂/∂P = exp(s)·∂/∂z,
	 * ∂/∂b = Σ ∂/∂z and ∂/∂s = Σ ∂/∂z ⊙ (z - b). Column j is image j's:
	 * the rank-local form keeps this rank's columns. */
	double ds = 0, db = 0;
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++) {
			const size_t o = (size_t)i * B + j;
			const double y = i == j ? 1.0 : -1.0;
			const double g = -(double)dloss / B * y / (1.0 + exp(y * ls->z[o]));
			db += g;
			ds += g * ((double)ls->z[o] - ls->bias);
			ls->dz[o] = j >= lo && j < lo + n ? (float)(g * ls->scale) : 0.0f;
		}
	if (dlogit_scale)
		*dlogit_scale += (float)ds;
	if (dlogit_bias)
		*dlogit_bias += (float)db;
	if (dimg || dtxt)
		rc_ops_matmul_backward(dtxt, dimg, NULL, ls->dz, ls->txt, ls->img, B, ls->D, B);
}

/* ================================================================ heads */

double rc_loss_softmax_ce(const float *x, const uint8_t *y, int n, int K, int norm, float dloss,
	float *dx)
{
	double sum = 0;
	for (int r = 0; r < n; r++) {
		const float *row = x + (size_t)r * K;
		const double l = lse(row, K, 1);
		sum += l - row[y[r]];
		if (dx)
			for (int k = 0; k < K; k++)
				dx[(size_t)r * K + k] += (float)((double)dloss *
					(exp(row[k] - l) - (k == y[r])) / norm);
	}
	return sum / norm;
}

double rc_loss_bce_logits(const float *x, const float *t, int n, int K, int norm, float dloss,
	float *dx)
{
	double sum = 0;
	const double den = (double)norm * K;
	for (size_t i = 0; i < (size_t)n * K; i++) {
		const double v = x[i], tv = t[i];
		sum += fmax(v, 0) - v * tv + log1p(exp(-fabs(v)));
		if (dx)
			dx[i] += (float)((double)dloss * (1.0 / (1.0 + exp(-v)) - tv) / den);
	}
	return sum / den;
}

/* ================================================================ L2 */

enum { L2_CHUNKS = 64 };

double rc_loss_l2_anchor(const float *p, const float *p0, size_t n, float beta, float *grad)
{
	double part[L2_CHUNKS];
	#pragma omp parallel for schedule(static)
	for (int c = 0; c < L2_CHUNKS; c++) {
		size_t lo, hi;
		rc_thread_chunk(n, L2_CHUNKS, c, &lo, &hi);
		double s = 0;
		for (size_t i = lo; i < hi; i++) {
			const float d = p[i] - p0[i];
			s += (double)d * d;
			if (grad)
				grad[i] += 2.0f * beta * d;
		}
		part[c] = s;
	}
	double s = 0;
	for (int c = 0; c < L2_CHUNKS; c++)
		s += part[c];
	return beta * s;
}
