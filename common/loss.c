/* loss.c - the CLIP contrastive loss (loss.h): logits by sgemm, the two
 * cross entropies in double from the row and column log-sum-exps, and
 * the backward through the logits back to both embeddings and the
 * logit scale. */
#include "loss.h"

#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "io.h"
#include "log.h"
#include "ops_cpu.h"

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
	const int B = lc->B;
	rc_assert(B >= 1);
	const float *L = lc->logits;
	float *G = lc->dlogits;
	/* ∂loss/∂L[i,j] = (softmax_row(L)[i,j] + softmax_col(L)[i,j] - 2δij) / 2B;
	 * the logits are exp(s)·P with P = txt·imgᵀ, so ∂/∂P = exp(s)·∂/∂L and
	 * ∂/∂s = Σ ∂/∂L ⊙ L. */
	const double k = (double)dloss / (2.0 * B);
	double ds = 0;
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++) {
			const size_t o = (size_t)i * B + j;
			double g = exp(L[o] - lc->lse_row[i]) + exp(L[o] - lc->lse_col[j]) -
				(i == j ? 2.0 : 0.0);
			g *= k;
			ds += g * L[o];
			G[o] = (float)(g * lc->scale);
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
