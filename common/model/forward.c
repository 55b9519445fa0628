/* forward.c - the workspace of activations and the forward pass of
 * both CLIP towers (HF's CLIPVisionModel and CLIPTextModel, then the
 * projections, the L2 normalisation and the logits), composed of the ops
 * of ops_cpu.h. */
#include "model/cpu.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "model/lowp_cpu.h"
#include "model/ops_cpu.h"
#include "base/thread.h"

/* ---------------------------------------------------------------- workspace */

/* layer_acts - one layer's buffers for B rows of T tokens. */
static void layer_acts(struct rc_carve *cv, struct rc_clip_layer_acts *la,
	const struct rc_clip_acts *a, int train)
{
	const size_t BT = (size_t)a->max_b * a->max_t, C = a->C, I = a->inter;
	la->ln1 = rc_carve(cv, BT * C);
	la->ln1_mean = rc_carve(cv, BT);
	la->ln1_rstd = rc_carve(cv, BT);
	la->qkv = rc_carve(cv, BT * 3 * C);
	la->att = train ? rc_carve(cv, BT * a->max_t * a->H) : NULL;
	la->atty = rc_carve(cv, BT * C);
	la->res2 = rc_carve(cv, BT * C);
	la->ln2 = rc_carve(cv, BT * C);
	la->ln2_mean = rc_carve(cv, BT);
	la->ln2_rstd = rc_carve(cv, BT);
	la->fch = rc_carve(cv, BT * I);
	la->fch_act = train ? rc_carve(cv, BT * I) : la->fch;
	la->res3 = rc_carve(cv, BT * C);
}

/* tower_acts - carve one tower's buffers (a->layer must hold L entries). */
static void tower_acts(struct rc_carve *cv, struct rc_clip_acts *a, const struct rc_clip *m,
	int text, int max_b, int train)
{
	const struct rc_clip_tower_config *t = text ? &m->cfg.text : &m->cfg.vision;
	struct rc_clip_layer_acts *layers = a->layer;
	memset(a, 0, sizeof *a);
	a->layer = layers;
	if (max_b == 0)
		return;
	a->max_b = max_b;
	a->max_t = text ? t->max_position : rc_clip_config_image_tokens(&m->cfg);
	a->C = t->hidden, a->inter = t->intermediate, a->H = t->heads, a->L = t->layers;
	a->D = m->cfg.projection_dim;
	const size_t B = max_b, T = a->max_t, C = a->C, D = a->D, I = a->inter;
	const int siglip = m->cfg.family == RC_FAMILY_SIGLIP;
	if (text) {
		int32_t *p = (int32_t *)rc_carve(cv, B * T + B);
		a->ids = p;
		a->pool_idx = p ? p + B * T : NULL;
		a->embed = rc_carve(cv, B * T * C);
	} else {
		size_t N = siglip ? T : T - 1, P = t->patch_size;
		a->patches = rc_carve(cv, B * N * 3 * P * P);
		a->patch_out = rc_carve(cv, B * N * C);
		a->embed = rc_carve(cv, B * T * C);
		if (!siglip) {
			a->pre = rc_carve(cv, B * T * C);
			a->pre_mean = rc_carve(cv, B * T);
			a->pre_rstd = rc_carve(cv, B * T);
		}
	}
	for (int l = 0; l < a->L; l++) {
		if (train || l == 0)
			layer_acts(cv, &layers[l], a, train);
		else
			layers[l] = layers[0];
	}
	if (text || siglip) {
		a->lnf = rc_carve(cv, B * T * C);
		a->lnf_mean = rc_carve(cv, B * T);
		a->lnf_rstd = rc_carve(cv, B * T);
	}
	if (!text && siglip) {
		a->map_kv = rc_carve(cv, B * T * 2 * C);
		a->map_q = rc_carve(cv, C);
		a->map_att = rc_carve(cv, B * a->H * T);
		a->map_o = rc_carve(cv, B * C);
		a->map_h = rc_carve(cv, B * C);
		a->map_ln = rc_carve(cv, B * C);
		a->map_ln_mean = rc_carve(cv, B);
		a->map_ln_rstd = rc_carve(cv, B);
		a->map_fc = rc_carve(cv, B * I);
		a->map_fc_act = rc_carve(cv, B * I);
	}
	a->pooled = rc_carve(cv, B * C);
	a->pool_mean = rc_carve(cv, B);
	a->pool_rstd = rc_carve(cv, B);
	a->proj = rc_carve(cv, B * D);
	a->emb = rc_carve(cv, B * D);
	a->norm = rc_carve(cv, B);
	if (!train) {
		a->nscratch = rc_thread_max();
		a->scratch = rc_carve(cv, (size_t)a->nscratch * T * T);
	}
}

int rc_clip_ws_new(struct rc_clip_ws **out, const struct rc_clip *m, int max_images,
	int max_texts, int flags)
{
	*out = NULL;
	if (max_images < 0 || max_texts < 0)
		return rc_log_error(RC_E_ARG, "workspace: negative batch size (%d images, %d texts)",
			max_images, max_texts);
	/* Rows (B·T) are ints in the ops. */
	if ((long long)max_images * rc_clip_config_image_tokens(&m->cfg) > INT_MAX ||
	    (long long)max_texts * m->cfg.text.max_position > INT_MAX)
		return rc_log_error(RC_E_RANGE, "workspace: batch too large (%d images, %d texts)",
			max_images, max_texts);
	const int train = (flags & RC_CLIP_WS_TRAIN) != 0;
	const int Lv = m->cfg.vision.layers, Lt = m->cfg.text.layers;
	struct rc_clip_ws *ws = rc_calloc(1, sizeof *ws);
	if (!ws)
		return RC_E_NOMEM;
	ws->flags = flags;
	ws->layers = rc_calloc((size_t)Lv + Lt, sizeof *ws->layers);
	if (!ws->layers) {
		rc_clip_ws_free(ws);
		return RC_E_NOMEM;
	}
	/* Count, allocate, carve again for real. */
	for (int pass = 0; pass < 2; pass++) {
		struct rc_carve cv = { ws->mem, 0, 16 };   /* 64-byte lines */
		ws->vision.layer = ws->layers;
		ws->text.layer = ws->layers + Lv;
		tower_acts(&cv, &ws->vision, m, 0, max_images, train);
		tower_acts(&cv, &ws->text, m, 1, max_texts, train);
		if (pass == 0) {
			ws->nfloats = cv.off;
			rc_log_debug("workspace: %.1f MiB for %d images and %d texts%s",
				cv.off * 4.0 / (1 << 20), max_images, max_texts,
				train ? " (training)" : "");
			if (!(ws->mem = rc_malloc(cv.off * sizeof *ws->mem))) {
				rc_log_hint("a smaller batch needs less memory");
				rc_clip_ws_free(ws);
				return RC_E_NOMEM;
			}
		}
	}
	*out = ws;
	return 0;
}

void rc_clip_ws_free(struct rc_clip_ws *ws)
{
	if (!ws)
		return;
	free(ws->mem);
	free(ws->layers);
	free(ws);
}

size_t rc_clip_ws_bytes(const struct rc_clip_ws *ws)
{
	return ws->nfloats * sizeof(float);
}

/* ---------------------------------------------------------------- encoder */

/* linear - rc_ops_matmul, or its bf16 / int8 form when lp packed w.
 * Returns 0 or lp's error (logged). */
static int linear(struct rc_lowp *lp, float *out, const float *inp, const float *w,
	const float *bias, int N, int C, int OC)
{
	int rc = lp ? rc_lowp_matmul(lp, out, inp, w, bias, N, C, OC) : 1;
	if (rc == 1)
		rc_ops_matmul(out, inp, w, bias, N, C, OC);
	return rc < 0 ? rc : 0;
}

/* norm_linear - a block's layer norm k (1 or 2: ln1, ln2 of la) and the
 * linear layer after it; in bf16 / int8 the norm is done on the way into
 * the product and la's ln buffers are left as they were. */
static int norm_linear(struct rc_lowp *lp, struct rc_clip_layer_acts *la, int k, const float *x,
	const float *ln_w, const float *ln_b, float eps, float *out, const float *w,
	const float *bias, int N, int C, int OC)
{
	int rc = lp ? rc_lowp_matmul_ln(lp, out, x, ln_w, ln_b, eps, w, bias, N, C, OC) : 1;
	if (rc != 1)
		return rc;
	float *ln = k == 1 ? la->ln1 : la->ln2;
	rc_ops_layernorm(ln, k == 1 ? la->ln1_mean : la->ln2_mean,
		k == 1 ? la->ln1_rstd : la->ln2_rstd, x, ln_w, ln_b, N, C, eps);
	rc_ops_matmul(out, ln, w, bias, N, C, OC);
	return 0;
}

/* encoder - the L pre-LN blocks of HF's CLIPEncoderLayer on x[B,T,C]; *out
 * gets the last layer's res3. When the layers share buffers (not
 * training) x is that res3 from layer 1 on, which the order below allows:
 * x is last read by the first residual add, before fc2 writes res3.
 * Returns 0 or linear's error. */
static int encoder(const struct rc_clip_tower_config *t, const struct rc_clip_tower_weights *w,
	struct rc_clip_acts *a, struct rc_lowp *lp, const float *x, int causal, const float **out)
{
	const int B = a->B, T = a->T, C = t->hidden, I = t->intermediate, BT = B * T;
	const float eps = (float)t->layer_norm_eps;
	int rc = 0;
	for (int l = 0; l < t->layers; l++) {
		struct rc_clip_layer_acts *la = &a->layer[l];
		const size_t lc = (size_t)l * C, li = (size_t)l * I;
		if ((rc = norm_linear(lp, la, 1, x, w->ln1_w + lc, w->ln1_b + lc, eps, la->qkv,
		    w->qkv_w + 3 * lc * C, w->qkv_b + 3 * lc, BT, C, 3 * C)) < 0)
			break;
		rc_ops_attention(la->atty, la->att, la->qkv, B, T, C, t->heads, causal, a->scratch,
			a->nscratch);
		if ((rc = linear(lp, la->res2, la->atty, w->out_w + lc * C, w->out_b + lc, BT, C,
		    C)) < 0)
			break;
		rc_ops_add(la->res2, x, la->res2, (size_t)BT * C);
		if ((rc = norm_linear(lp, la, 2, la->res2, w->ln2_w + lc, w->ln2_b + lc, eps, la->fch,
		    w->fc1_w + li * C, w->fc1_b + li, BT, C, I)) < 0)
			break;
		/* bf16 / int8: the activation inside fc2's input conversion */
		rc = lp ? rc_lowp_matmul_act(lp, la->res3, la->fch, t->act, w->fc2_w + lc * I,
			w->fc2_b + lc, BT, I, C) : 1;
		if (rc == 1) {
			rc_ops_act(la->fch_act, la->fch, (size_t)BT * I, t->act);
			rc = linear(lp, la->res3, la->fch_act, w->fc2_w + lc * I, w->fc2_b + lc, BT, I, C);
		}
		if (rc < 0)
			break;
		rc_ops_add(la->res3, la->res2, la->res3, (size_t)BT * C);
		x = la->res3;
	}
	*out = x;
	return rc;
}

/* head - projection and normalisation of the pooled rows (SigLIP's image
 * tower has no projection: its pooling head's output is the embedding;
 * its text head has a bias). */
static void head(const struct rc_clip_tower_weights *w, struct rc_clip_acts *a, float *emb)
{
	if (w->proj)
		rc_ops_matmul(a->proj, a->pooled, w->proj, w->proj_b, a->B, a->C, a->D);
	else
		memcpy(a->proj, a->pooled, (size_t)a->B * a->D * sizeof *a->proj);
	rc_ops_l2norm(a->emb, a->norm, a->proj, a->B, a->D);
	if (emb)
		memcpy(emb, a->emb, (size_t)a->B * a->D * sizeof *emb);
}

/* ---------------------------------------------------------------- vision */

/* siglip_image - SiglipVisionModel after the embeddings: the encoder,
 * post_layernorm on every token (HF's last_hidden_state), the
 * attention-pooling head; its output normalised is the embedding. */
static int siglip_image(const struct rc_clip *m, struct rc_clip_ws *ws, float *emb)
{
	const struct rc_clip_tower_config *t = &m->cfg.vision;
	const struct rc_clip_tower_weights *w = &m->w.vision;
	struct rc_clip_acts *a = &ws->vision;
	const int B = a->B, T = a->T, C = t->hidden;
	const float *x;
	int rc = encoder(t, w, a, ws->lowp, a->embed, 0, &x);
	if (rc < 0)
		return rc;
	rc_ops_layernorm(a->lnf, a->lnf_mean, a->lnf_rstd, x, w->lnf_w, w->lnf_b, B * T, C,
		(float)t->layer_norm_eps);
	a->last_hidden = a->lnf;
	rc_siglip_map_forward(t, w, a);
	head(w, a, emb);
	return 0;
}

int rc_clip_encode_image(const struct rc_clip *m, struct rc_clip_ws *ws, const float *pixels,
	int B, float *emb)
{
	const struct rc_clip_tower_config *t = &m->cfg.vision;
	const struct rc_clip_tower_weights *w = &m->w.vision;
	struct rc_clip_acts *a = &ws->vision;
	if (B < 1 || B > a->max_b)
		return rc_log_error(RC_E_ARG, "encode images: batch of %d (the workspace takes "
			"1 to %d)", B, a->max_b);
	const int S = t->image_size, P = t->patch_size, C = t->hidden;
	const int siglip = m->cfg.family == RC_FAMILY_SIGLIP;
	const int T = a->max_t, ncls = !siglip, N = T - ncls;
	a->B = B, a->T = T;

	/* HF's CLIPVisionEmbeddings: conv (im2col + matmul), class token
	 * first, position embeddings added; then pre_layrnorm. SiglipVision-
	 * Embeddings: the conv with its bias, positions, no class token. */
	rc_ops_im2col(a->patches, pixels, B, S, P);
	int rc = linear(ws->lowp, a->patch_out, a->patches, w->patch_w, w->patch_b, B * N,
		3 * P * P, C);
	if (rc < 0)
		return rc;
	#pragma omp parallel for schedule(static)
	for (int bt = 0; bt < B * T; bt++) {
		int b = bt / T, i = bt % T;
		const float *src = i >= ncls ? a->patch_out + ((size_t)b * N + i - ncls) * C : w->cls;
		const float *pos = w->pos + (size_t)i * C;
		float *dst = a->embed + (size_t)bt * C;
		for (int c = 0; c < C; c++)
			dst[c] = src[c] + pos[c];
	}
	if (siglip)
		return siglip_image(m, ws, emb);
	rc_ops_layernorm(a->pre, a->pre_mean, a->pre_rstd, a->embed, w->pre_w, w->pre_b, B * T, C,
		(float)t->layer_norm_eps);

	const float *x;
	if ((rc = encoder(t, w, a, ws->lowp, a->pre, 0, &x)) < 0)
		return rc;
	a->last_hidden = (float *)x;

	/* pooler_output = post_layernorm(last_hidden_state[:, 0, :]) */
	for (int b = 0; b < B; b++)
		memcpy(a->pooled + (size_t)b * C, x + (size_t)b * T * C, (size_t)C * sizeof *x);
	rc_ops_layernorm(a->pooled, a->pool_mean, a->pool_rstd, a->pooled, w->lnf_w, w->lnf_b, B,
		C, (float)t->layer_norm_eps);
	head(w, a, emb);
	return 0;
}

/* ---------------------------------------------------------------- text */

int rc_clip_encode_text(const struct rc_clip *m, struct rc_clip_ws *ws, const int32_t *ids,
	int B, int T, float *emb)
{
	const struct rc_clip_tower_config *t = &m->cfg.text;
	const struct rc_clip_tower_weights *w = &m->w.text;
	struct rc_clip_acts *a = &ws->text;
	if (B < 1 || B > a->max_b)
		return rc_log_error(RC_E_ARG, "encode texts: batch of %d (the workspace takes "
			"1 to %d)", B, a->max_b);
	if (T < 1 || T > a->max_t)
		return rc_log_error(RC_E_ARG, "encode texts: %d tokens (the context is %d)", T,
			a->max_t);
	int rc = rc_clip_check_ids(&m->cfg, ids, B, T);
	if (rc < 0)
		return rc;
	const int C = t->hidden;
	a->B = B, a->T = T;
	memcpy(a->ids, ids, (size_t)B * T * sizeof *ids);

	/* SigLIP: no mask, and the pooled state is the last position's */
	const int siglip = m->cfg.family == RC_FAMILY_SIGLIP;
	rc_ops_embed_tokens(a->embed, a->ids, w->tok, w->pos, B, T, C, t->vocab_size);
	const float *x;
	if ((rc = encoder(t, w, a, ws->lowp, a->embed, !siglip, &x)) < 0)
		return rc;
	rc_ops_layernorm(a->lnf, a->lnf_mean, a->lnf_rstd, x, w->lnf_w, w->lnf_b, B * T, C,
		(float)t->layer_norm_eps);
	a->last_hidden = a->lnf;
	for (int b = 0; b < B; b++) {
		int i = siglip ? T - 1 : rc_clip_pool_position(a->ids + (size_t)b * T, T,
			t->eos_token_id);
		a->pool_idx[b] = i;
		memcpy(a->pooled + (size_t)b * C, a->lnf + ((size_t)b * T + i) * C,
			(size_t)C * sizeof *a->pooled);
	}
	head(w, a, emb);
	return 0;
}

/* ---------------------------------------------------------------- logits */

void rc_clip_logits(const struct rc_clip *m, const float *img, const float *txt, int Bi, int Bt,
	float *logits)
{
	const int D = m->cfg.projection_dim;
	/* HF: (text · imageᵀ) · exp(logit_scale), the product first;
	 * SigLIP adds logit_bias. */
	const float scale = expf(m->w.logit_scale[0]);
	const float bias = m->cfg.family == RC_FAMILY_SIGLIP ? m->w.logit_bias[0] : 0.0f;
	rc_ops_matmul(logits, img, txt, NULL, Bi, D, Bt);
	for (size_t i = 0; i < (size_t)Bi * Bt; i++)
		logits[i] = logits[i] * scale + bias;
}

/* ---------------------------------------------------------------- pixels */

/* lut_pixels - out[3,S,S] from rgb[S,S,3] through a table per channel. */
static void lut_pixels(const uint8_t *rgb, int S, float lut[3][256], float *out)
{
	const size_t n = (size_t)S * S;
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			out[c * n + i] = lut[c][rgb[3 * i + c]];
}

void rc_clip_pixels_from_rgb(const uint8_t *rgb, int S, float *out)
{
	float lut[3][256];
	/* CLIPImageProcessor: rescale in float64 (x · (1/255)) cast to float32,
	 * then normalize in float32. */
	for (int c = 0; c < 3; c++) {
		const float mean = (float)rc_clip_image_mean[c], std = (float)rc_clip_image_std[c];
		for (int v = 0; v < 256; v++)
			lut[c][v] = ((float)(v * (1.0 / 255.0)) - mean) / std;
	}
	lut_pixels(rgb, S, lut, out);
}

void rc_clip_pixels_for(const struct rc_clip_config *cfg, const uint8_t *rgb, int S, float *out)
{
	if (cfg->family != RC_FAMILY_SIGLIP) {
		rc_clip_pixels_from_rgb(rgb, S, out);
		return;
	}
	/* transformers 5's SiglipImageProcessor fuses the rescale into the
	 * normalisation: (x - 255·mean) / (255·std) in float32, 127.5 both */
	float lut[3][256];
	const double *mean, *std;
	rc_clip_config_image_norm(cfg, &mean, &std);
	for (int c = 0; c < 3; c++) {
		const float m255 = (float)(mean[c] * 255.0), s255 = (float)(std[c] * 255.0);
		for (int v = 0; v < 256; v++)
			lut[c][v] = ((float)v - m255) / s255;
	}
	lut_pixels(rgb, S, lut, out);
}
