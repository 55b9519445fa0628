/* cpu.h - the CPU backend's model-level functions: the workspace of
 * activations, the forward pass of both towers to normalised embeddings
 * and logits, and the backward pass for training, in fp32 on the ops of
 * ops_cpu.h. Private to the CPU backend (backend_cpu.c) and its tests:
 * everything else computes through backend.h (tests/layers.sh checks
 * who includes this header).
 *
 * Activations live in a workspace (struct rc_clip_ws), one allocation
 * sized for a largest batch and reused by every call; made with
 * RC_CLIP_WS_TRAIN it keeps every layer's activations for backward,
 * otherwise all layers share one set.
 *
 *     struct rc_clip_ws *ws;
 *     if (rc_clip_ws_new(&ws, m, 32, 32, 0) < 0)             // logged
 *             goto out;
 *     float *px = rc_malloc(32 * 3 * 224 * 224 * sizeof *px);
 *     for (int b = 0; b < 32; b++)                            // shard pixels
 *             rc_clip_pixels_from_rgb(rgb[b], 224, px + b * 3 * 224 * 224);
 *     rc_clip_encode_image(m, ws, px, 32, NULL);              // ws->vision.emb
 *     rc_clip_encode_text(m, ws, ids, 8, 77, NULL);           // int32 [8, 77]
 *     rc_clip_logits(m, ws->vision.emb, ws->text.emb, 32, 8, lg);
 *     ...
 *     rc_clip_ws_free(ws);
 *
 * The forward functions are numerically HF's (eager attention, fp32) up to
 * the order of sums inside sgemm: embeddings agree to about 1e-6. With a
 * workspace's lowp set (inference only), its packed linear layers run in
 * bf16 or int8 instead. They are
 * not thread-safe with each other on one workspace; parallelism is inside
 * them (OpenMP, see ops_cpu.h).
 */
#ifndef RCLIP_CPU_H
#define RCLIP_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* What one encoder layer keeps: [B,T,…] rows packed for the batch of the
 * last call. att is NULL unless training; fch_act equals fch (in place)
 * unless training. */
struct rc_clip_layer_acts {
	float *ln1, *ln1_mean, *ln1_rstd; /* [B,T,C], [B,T], [B,T] */
	float *qkv;                       /* [B,T,3C] */
	float *att;                       /* [B,H,T,T] softmax probabilities */
	float *atty;                      /* [B,T,C] attention before out_proj */
	float *res2;                      /* [B,T,C] x + attention */
	float *ln2, *ln2_mean, *ln2_rstd;
	float *fch, *fch_act;             /* [B,T,I] fc1 output, activation */
	float *res3;                      /* [B,T,C] the layer's output */
};

/* One tower's activations. The outputs of the last call are pooled (HF's
 * pooler_output), proj (image_embeds / text_embeds before normalising),
 * emb (normalised) and last_hidden (HF's last_hidden_state: the last
 * layer's output for vision, after final_layer_norm for text). */
struct rc_clip_acts {
	int max_b, max_t;        /* capacity */
	int B, T;                /* the last call */
	int C, inter, H, L, D;   /* inter: I, the MLP width */
	float *patches;          /* vision [B,N,3PP] im2col of the pixels, N = T-1 */
	float *patch_out;        /* vision [B,N,C] */
	int32_t *ids;            /* text [B,T] a copy of the input ids */
	int32_t *pool_idx;       /* text [B] the pooled position */
	float *embed;            /* [B,T,C] embeddings + positions */
	float *pre, *pre_mean, *pre_rstd;  /* vision pre_layrnorm [B,T,C], [B,T] */
	struct rc_clip_layer_acts *layer;  /* [L] */
	float *lnf, *lnf_mean, *lnf_rstd;  /* text final_layer_norm, SigLIP vision
	                                      post_layernorm [B,T,C], [B,T] */
	/* SigLIP vision: the attention-pooling head (siglip_cpu.c) */
	float *map_kv;           /* [B,T,2C] keys and values of lnf */
	float *map_q;            /* [C] the probe's query (unscaled) */
	float *map_att;          /* [B,H,T] its attention probabilities */
	float *map_o;            /* [B,C] attention before out_proj */
	float *map_h;            /* [B,C] out_proj: the head's residual */
	float *map_ln, *map_ln_mean, *map_ln_rstd;  /* [B,C], [B], [B] */
	float *map_fc, *map_fc_act;        /* [B,I] */
	float *last_hidden;      /* [B,T,C] */
	float *pooled, *pool_mean, *pool_rstd; /* [B,C]; vision post_layernorm [B] */
	float *proj;             /* [B,D] */
	float *emb, *norm;       /* [B,D], [B] */
	float *scratch;          /* attention scratch, nscratch × T × T */
	int nscratch;
};

#define RC_CLIP_WS_TRAIN 1   /* keep every layer's activations */

struct rc_lowp;

struct rc_clip_ws {
	int flags;
	struct rc_clip_acts vision, text;
	struct rc_lowp *lowp;    /* not owned; not NULL: the linear layers whose
	                            weights it packed run in its precision
	                            (lowp_cpu.h), the others in fp32 */
	float *mem;              /* the one allocation */
	size_t nfloats;
	struct rc_clip_layer_acts *layers;  /* vision then text */
};

/* rc_clip_ws_new - a workspace for m: at most max_images images and
 * max_texts texts per call (either may be 0: that tower cannot run),
 * texts of up to the config's context. flags: RC_CLIP_WS_TRAIN or 0.
 * Without RC_CLIP_WS_TRAIN, attention works in per-thread scratch for
 * rc_thread_max() threads as they are now (later calls use no more).
 * Returns 0 and *out (free with rc_clip_ws_free), or RC_E_ARG (negative
 * sizes), RC_E_RANGE (more than INT_MAX rows of tokens) or RC_E_NOMEM
 * (logged, with the size). */
int rc_clip_ws_new(struct rc_clip_ws **out, const struct rc_clip *m, int max_images,
	int max_texts, int flags);
void rc_clip_ws_free(struct rc_clip_ws *ws);

/* rc_clip_ws_bytes - the size of a workspace's activation memory. */
size_t rc_clip_ws_bytes(const struct rc_clip_ws *ws);

/* ---------------------------------------------------------------- forward */

/* rc_clip_encode_image - the image tower on pixels[B,3,S,S] (normalised as
 * rc_clip_pixels_from_rgb does): emb[B,D] gets the L2-normalised image
 * embeddings (emb may be NULL: ws->vision.emb has them). Returns 0 or
 * RC_E_ARG (B < 1, B > the workspace's max_images; logged). */
int rc_clip_encode_image(const struct rc_clip *m, struct rc_clip_ws *ws, const float *pixels,
	int B, float *emb);

/* rc_clip_encode_text - the text tower on ids[B,T] (T ≤ the context;
 * without padding mask, as HF without attention_mask): emb[B,D] gets the
 * normalised text embeddings (emb may be NULL). The pooled position is
 * HF's: with eos_token_id 2 the argmax of the ids, else the first
 * eos_token_id (position 0 when there is none). Returns 0, RC_E_ARG (B or
 * T out of range) or RC_E_RANGE (an id outside the vocabulary: "text B,
 * position T: id X is outside the vocabulary (V)"), logged. */
int rc_clip_encode_text(const struct rc_clip *m, struct rc_clip_ws *ws, const int32_t *ids,
	int B, int T, float *emb);

/* rc_clip_logits - logits[Bi,Bt] = exp(logit_scale) · img[Bi,D] ·
 * txt[Bt,D]ᵀ: HF's logits_per_image (its transpose is logits_per_text).
 * Never fails. */
void rc_clip_logits(const struct rc_clip *m, const float *img, const float *txt, int Bi, int Bt,
	float *logits);

/* rc_clip_pixels_from_rgb - S×S×3 uint8 RGB (rclip-shard's pixels) to
 * normalised CHW floats out[3,S,S] exactly as CLIPImageProcessor: x·(1/255)
 * in double rounded to float, then (x - mean) / std in float with CLIP's
 * mean and std (rc_clip_image_mean, rc_clip_image_std in clip_config.h). */
void rc_clip_pixels_from_rgb(const uint8_t *rgb, int S, float *out);

/* rc_clip_pixels_for - the same for cfg's family: CLIP's above, SigLIP's
 * as transformers 5's SiglipImageProcessor, (x - 127.5) / 127.5 in float
 * (its rescale and normalisation fused; mean and std 0.5). */
void rc_clip_pixels_for(const struct rc_clip_config *cfg, const uint8_t *rgb, int S, float *out);

/* ---------------------------------------------------------------- SigLIP
 *
 * The attention-pooling head of a SigLIP image tower (siglip_cpu.c), on
 * a->lnf (post_layernorm of every token) into a->pooled: HF's
 * SiglipMultiheadAttentionPoolingHead, the probe's query against keys and
 * values of every token (nn.MultiheadAttention: the query scaled by
 * (C/H)^-½ before the product), out_proj, then pooled = h + MLP(LN(h)). */
void rc_siglip_map_forward(const struct rc_clip_tower_config *t,
	const struct rc_clip_tower_weights *w, struct rc_clip_acts *a);

/* rc_siglip_attend - the head's attention, its own op (the CUDA twin is
 * rc_cuda_attnpool_forward): per row b and head h of H, the query q[C]
 * (the projected probe, unscaled: scaled here by (C/H)^-½ in float, as
 * nn.MultiheadAttention) against the keys and values kv[B,T,2C] (keys in
 * columns [0,C), values in [C,2C)): p[B,H,T] = softmax(q·kᵀ) (scores and
 * products in double), o[B,C] = Σ_t p·v, heads side by side. */
void rc_siglip_attend(float *o, float *p, const float *q, const float *kv, int B, int T, int C,
	int H);

/* rc_siglip_attend_backward - for rc_siglip_attend with its p: dkv
 * [B,T,2C] += the keys' and values' gradients given dout[B,C], and dq[C]
 * += the unscaled query's, summed over the batch (in double, b in
 * order). scratch holds B·H·T floats. */
void rc_siglip_attend_backward(float *dkv, float *dq, const float *dout, const float *q,
	const float *kv, const float *p, int B, int T, int C, int H, float *scratch);

/* rc_siglip_map_backward - its gradient: given dpooled[B,C], adds the
 * head's parameter gradients into g and the gradient of a->lnf into
 * dlnf[B,T,C] (+=). scratch holds rc_siglip_map_scratch(B, T, C, I)
 * floats. */
void rc_siglip_map_backward(const struct rc_clip_tower_config *t,
	const struct rc_clip_tower_weights *w, const struct rc_clip_tower_weights *g,
	const struct rc_clip_acts *a, const float *dpooled, float *dlnf, float *scratch);
size_t rc_siglip_map_scratch(size_t B, size_t T, size_t C, size_t I);

/* ================================================================ backward
 *
 * Gradients for training. After a forward of both towers on a workspace
 * made with RC_CLIP_WS_TRAIN, rc_clip_backward takes the gradients of the
 * normalised embeddings and ADDS the gradient of every parameter into
 * grads, a buffer of rc_clip_param_count(m) floats in the parameters'
 * layout (rc_clip_point gives its views by kind; a table entry's offset
 * finds a tensor by name). The caller zeroes grads once per optimizer
 * step, so micro-batches accumulate. Scratch for one layer of the larger
 * tower lives in a struct rc_clip_grad_ws, made once for a workspace.
 *
 *     struct rc_clip_ws *ws;
 *     struct rc_clip_grad_ws *gw;
 *     float *grads = calloc(rc_clip_param_count(m), sizeof *grads);
 *     rc_clip_ws_new(&ws, m, 32, 32, RC_CLIP_WS_TRAIN);
 *     rc_clip_grad_ws_new(&gw, m, ws);
 *     float loss;
 *     rc_clip_loss_and_grad(m, ws, gw, pixels, ids, 32, 77, &loss, grads);
 *     ...                                     // clip, AdamW, zero grads
 *     rc_clip_grad_ws_free(gw);
 *
 * or, with another loss (loss.h) on ws->vision.emb and ws->text.emb:
 *
 *     rc_clip_encode_image(m, ws, pixels, B, NULL);
 *     rc_clip_encode_text(m, ws, ids, B, T, NULL);
 *     ...                                     // dimg[B,D], dtxt[B,D]
 *     rc_clip_backward(m, ws, gw, dimg, dtxt, grads);
 *
 * Numerically the gradients are transformers' (loss.backward() in fp32)
 * up to the order of sums: within 1e-5 of each tensor's largest value
 * on the test fixtures.
 */

struct rc_clip_grad_ws;

/* rc_clip_grad_ws_new - backward scratch for ws (made for m with
 * RC_CLIP_WS_TRAIN): one layer's activation gradients for the larger
 * tower, attention scratch for rc_thread_max() threads as they are now,
 * and a CLIP loss (loss.h) for rc_clip_loss_and_grad. Returns 0 and *out
 * (free with rc_clip_grad_ws_free), or RC_E_ARG (ws not made for
 * training, or for another model) or RC_E_NOMEM, logged. */
int rc_clip_grad_ws_new(struct rc_clip_grad_ws **out, const struct rc_clip *m,
	const struct rc_clip_ws *ws);

/* rc_clip_grad_ws_free - release gw; gw may be NULL. */
void rc_clip_grad_ws_free(struct rc_clip_grad_ws *gw);

/* rc_clip_grad_ws_bytes - the size of gw's memory. */
size_t rc_clip_grad_ws_bytes(const struct rc_clip_grad_ws *gw);

/* rc_clip_backward - backward through the towers of the last forward on
 * ws: dimg[B,D] and dtxt[B,D] are the gradients of the normalised
 * embeddings (ws->vision.emb, ws->text.emb; B as that forward's); either
 * may be NULL to leave that tower out. Adds every parameter's gradient
 * of the towers and projections into grads (the logit scale's gradient
 * comes from the loss: grads' logit_scale is untouched). ws is only
 * read. Returns 0, or RC_E_ARG (ws not made for training, a tower with a
 * gradient but no forward, gw made for another workspace), logged. */
int rc_clip_backward(const struct rc_clip *m, const struct rc_clip_ws *ws,
	struct rc_clip_grad_ws *gw, const float *dimg, const float *dtxt, float *grads);

/* rc_clip_loss_and_grad - one training step's gradient: forward of
 * pixels[B,3,S,S] and ids[B,T] (image i and text i a pair), the CLIP loss
 * (loss.h; HF's CLIPModel loss, logit scale unclamped; for a SigLIP model
 * the sigmoid loss, SiglipModel's) into *loss, and
 * its gradient with respect to every parameter, the logit scale
 * included, added into grads. Returns 0, or the errors of
 * rc_clip_encode_image, rc_clip_encode_text and rc_clip_backward
 * (logged); on error grads may hold part of the gradient. */
int rc_clip_loss_and_grad(const struct rc_clip *m, struct rc_clip_ws *ws,
	struct rc_clip_grad_ws *gw, const float *pixels, const int32_t *ids, int B, int T,
	float *loss, float *grads);

#endif
