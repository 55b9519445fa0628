/* loss.h - the training losses on embeddings, forward and backward, on
 * the CPU: the CLIP contrastive loss, SigLIP's sigmoid loss, the stage-2
 * heads' cross entropies and the L2 pull toward the starting weights.
 * Private to the CPU backend (backend_cpu.c) and its tests; the recipe
 * reaches them through backend.h.
 *
 * The CLIP contrastive loss, as transformers' CLIPModel computes it with
 * return_loss=True and as the training recipes use it (DESIGN.md §5): for
 * B images and B texts where image i and text i are the positive pair and
 * every other pairing a negative,
 *
 *     L[i,j] = exp(s) · txt[i]·img[j]        logits_per_text [B,B]
 *     CE(X)  = mean_i (logsumexp_j X[i,j] - X[i,i])
 *     loss   = ½ · (CE(L) + CE(Lᵀ))          text→image and image→text
 *
 * with s = logit_scale, the parameter, which is stored as a log. The
 * embeddings are the L2-normalised ones (cpu.h's ws->vision.emb). The
 * forward keeps the logits and the log-sum-exps of the rows and columns;
 * the backward ADDS dloss times the gradients into dimg, dtxt and
 * dlogit_scale, so that a weighted sum of losses (stage 1's
 * w·CLIP(img, tb) + (1-w)·CLIP(img, trl)) is two forward/backward pairs
 * with dloss = w and 1-w into the same buffers.
 *
 *     struct rc_loss_clip *lc;
 *     if (rc_loss_clip_new(&lc, 32) < 0)
 *             return RC_E_NOMEM;                          // logged
 *     double loss = rc_loss_clip_forward(lc, img, txt, 32, 512, *m->w.logit_scale);
 *     memset(dimg, 0, ...), memset(dtxt, 0, ...);         // [32, 512] each
 *     rc_loss_clip_backward(lc, 1.0f, dimg, dtxt, &g.logit_scale[0]);
 *     rc_loss_clip_free(lc);
 *
 * Numerics: the logits are an sgemm in float times exp(s) (product first,
 * as transformers), the cross entropies are accumulated in double.
 * Memory: 2·B² floats (the logits and their gradient) and 2·B doubles.
 * Over a global batch gathered from several ranks, every rank runs the
 * loss on all B rows and keeps the gradient rows of its own slice: with
 * rc_loss_clip_backward those of the whole batch's loss (the exact
 * gradient), with rc_loss_clip_backward_rows those the official training
 * code gets (below).
 */
#ifndef RCLIP_LOSS_H
#define RCLIP_LOSS_H

#include <stddef.h>
#include <stdint.h>

struct rc_loss_clip;

/* rc_loss_clip_new - a CLIP loss for batches of up to max_b pairs.
 * Returns 0 and *out (free with rc_loss_clip_free), or RC_E_ARG
 * (max_b < 1) or RC_E_NOMEM, logged. */
int rc_loss_clip_new(struct rc_loss_clip **out, int max_b);

/* rc_loss_clip_free - release lc; lc may be NULL. */
void rc_loss_clip_free(struct rc_loss_clip *lc);

/* rc_loss_clip_forward - the loss of img[B,D] against txt[B,D] (rows i
 * paired) with the logit scale exp(logit_scale). Keeps pointers to img
 * and txt: they must stay unchanged until the backward. 1 ≤ B ≤ max_b is
 * the caller's contract (rc_assert). Returns the loss (B = 1 gives 0). */
double rc_loss_clip_forward(struct rc_loss_clip *lc, const float *img, const float *txt, int B,
	int D, float logit_scale);

/* rc_loss_clip_backward - after a forward: dimg[B,D] += dloss·∂loss/∂img,
 * dtxt[B,D] += dloss·∂loss/∂txt and *dlogit_scale += dloss·∂loss/∂s (the
 * gradient with respect to the log). Any of the three may be NULL. */
void rc_loss_clip_backward(struct rc_loss_clip *lc, float dloss, float *dimg, float *dtxt,
	float *dlogit_scale);

/* rc_loss_clip_backward_rows - the backward as the official training
 * code takes it over ranks, for the rank whose rows are [lo, lo+n): that
 * code gathers the other ranks' embeddings without gradient and gives
 * each rank the loss ½(CE(its images against all texts) + CE(its texts
 * against all images)), a mean over its n rows, which DDP averages. The
 * gradient this rank's embeddings get is then the whole loss's gradient
 * with, in ∂loss/∂L[t,i] = (softmax_row(L)[t,i] − δ + softmax_col(L)[t,i]
 * − δ)/2B, the row term kept for its texts t only and the column term for
 * its images i only: rows [lo, lo+n) of dimg and dtxt get dloss times
 * that gradient added; their other rows get values that mean nothing (the
 * caller keeps its own rows). *dlogit_scale gets the whole loss's scale
 * gradient (DDP's average of the ranks' parts is that sum). With lo = 0,
 * n = B it is rc_loss_clip_backward, bit for bit. */
void rc_loss_clip_backward_rows(struct rc_loss_clip *lc, float dloss, int lo, int n,
	float *dimg, float *dtxt, float *dlogit_scale);

/* rc_loss_clip_logits - the last forward's logits_per_text [B,B]
 * (row = text, column = image; logits_per_image is its transpose). The
 * memory belongs to lc and changes with the next call. */
const float *rc_loss_clip_logits(const struct rc_loss_clip *lc);

/* ---------------------------------------------------------------- SigLIP */

/* SigLIP's sigmoid loss (Zhai et al. 2023, as open_clip's SigLipLoss):
 *
 *     z[i,j]  = exp(s) · txt[i]·img[j] + b
 *     loss    = -(1/B) Σ_ij log σ(y[i,j] · z[i,j]),   y = +1 on the diagonal, -1 off it
 *
 * with s the logit scale (a log) and b the learned logit bias. The
 * returned value is that loss; the backward ADDS dloss times the
 * gradients into dimg, dtxt, *dlogit_scale and *dlogit_bias (any may be
 * NULL). Memory: 2·B² floats. */
struct rc_loss_siglip;

int rc_loss_siglip_new(struct rc_loss_siglip **out, int max_b);
void rc_loss_siglip_free(struct rc_loss_siglip *ls);
double rc_loss_siglip_forward(struct rc_loss_siglip *ls, const float *img, const float *txt,
	int B, int D, float logit_scale, float logit_bias);
void rc_loss_siglip_backward(struct rc_loss_siglip *ls, float dloss, float *dimg, float *dtxt,
	float *dlogit_scale, float *dlogit_bias);

/* rc_loss_siglip_backward_rows - the official code's form over ranks for
 * the rank of rows [lo, lo+n): its images against all the gathered
 * texts, the sum divided by its n rows, DDP averaging: ∂loss/∂z[t,i] kept
 * for its images i only. Rows [lo, lo+n) of dimg and dtxt get dloss times
 * that gradient added (the other rows: values that mean nothing); the
 * scale and bias gradients are the whole loss's. With lo = 0, n = B it is
 * rc_loss_siglip_backward, bit for bit. */
void rc_loss_siglip_backward_rows(struct rc_loss_siglip *ls, float dloss, int lo, int n,
	float *dimg, float *dtxt, float *dlogit_scale, float *dlogit_bias);

/* ---------------------------------------------------------------- heads */

/* rc_loss_softmax_ce - Σ over the n rows of x[n,K] of the cross entropy
 * -log softmax(x[r])[y[r]], divided by norm (the global batch: n rows may
 * be one rank's part of it), accumulated in double; when dx is not NULL
 * it ADDS dloss·∂/∂x: dloss·(softmax(x[r]) - onehot(y[r]))/norm. Labels
 * are 0..K-1 (the caller's contract). Returns the loss part. */
double rc_loss_softmax_ce(const float *x, const uint8_t *y, int n, int K, int norm, float dloss,
	float *dx);

/* rc_loss_bce_logits - Σ over x[n,K] of the binary cross entropy of
 * σ(x) against the targets t[n,K] (0 or 1, or in between), in the stable
 * form max(x,0) - x·t + log(1 + exp(-|x|)), divided by norm·K (PyTorch's
 * BCEWithLogitsLoss with mean reduction over a global batch of norm
 * rows); dx += dloss·(σ(x) - t)/(norm·K) when dx is not NULL. */
double rc_loss_bce_logits(const float *x, const float *t, int n, int K, int norm, float dloss,
	float *dx);

/* rc_loss_l2_anchor - beta · Σ (p[i] - p0[i])² over n values (summed in
 * double, in fixed chunks so the result does not depend on the thread
 * count); grad += 2·beta·(p - p0) when grad is not NULL. */
double rc_loss_l2_anchor(const float *p, const float *p0, size_t n, float beta, float *grad);

#endif
