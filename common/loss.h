/* loss.h - training losses on embeddings, forward and backward, on the
 * CPU. For now the CLIP contrastive loss, as transformers' CLIPModel
 * computes it with return_loss=True and as the training recipes use it
 * (DESIGN.md §5): for B images and B texts where image i and text i are
 * the positive pair and every other pairing a negative,
 *
 *     L[i,j] = exp(s) · txt[i]·img[j]        logits_per_text [B,B]
 *     CE(X)  = mean_i (logsumexp_j X[i,j] - X[i,i])
 *     loss   = ½ · (CE(L) + CE(Lᵀ))          text→image and image→text
 *
 * with s = logit_scale, the parameter, which is stored as a log. The
 * embeddings are the L2-normalised ones (model.h's ws->vision.emb). The
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
 * The loss over a global batch gathered from all ranks, with gradients
 * for the local rows only, and SigLIP's sigmoid loss will join this
 * module with the same forward/backward shape.
 */
#ifndef RCLIP_LOSS_H
#define RCLIP_LOSS_H

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

/* rc_loss_clip_logits - the last forward's logits_per_text [B,B]
 * (row = text, column = image; logits_per_image is its transpose). The
 * memory belongs to lc and changes with the next call. */
const float *rc_loss_clip_logits(const struct rc_loss_clip *lc);

#endif
