/* backward.c - the backward pass of both CLIP towers (cpu.h): from
 * the gradients of the normalised embeddings back through the
 * projections, the pooling and every encoder layer to the embeddings,
 * composed of the backward ops of ops_cpu.h on the activations that a
 * training workspace kept; and one training step's loss and gradient
 * (cpu.h). */
#include "model/cpu.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "model/loss.h"
#include "model/ops_cpu.h"
#include "base/thread.h"

/* The gradients of one layer's activations, reused layer after layer and
 * by both towers (sized for the larger), and the small buffers of the
 * heads. Every buffer is zeroed before an op accumulates into it. */
struct rc_clip_grad_ws {
	int max_images, max_texts;     /* the workspace's capacity */
	float *dx;         /* [BT,C] the residual stream's gradient */
	float *dc;         /* [BT,C] a branch's gradient (attention out, ln) */
	float *dqkv;       /* [BT,3C] */
	float *dh, *dha;   /* [BT,I] fc1's output and the activation's */
	float *dproj;      /* [B,D] the projection before normalising */
	float *dpooled;    /* [B,C] */
	float *cls_in, *dcls_in;  /* [B,C] vision: post_layernorm's input rows */
	float *dimg, *dtxt;       /* [B,D] rc_clip_loss_and_grad's embedding gradients */
	float *scratch;    /* attention, nscratch × T × T */
	int nscratch;
	float *map;        /* SigLIP's pooling head (rc_siglip_map_scratch) */
	float *mem;        /* the one allocation */
	size_t nfloats;
	struct rc_loss_clip *loss;
	struct rc_loss_siglip *sloss;  /* a SigLIP model's: SiglipModel's loss */
};

/* ---------------------------------------------------------------- scratch */

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* layout - carve gw's buffers from base for the capacities of ws. */
static size_t layout(struct rc_clip_grad_ws *gw, float *base, const struct rc_clip_ws *ws)
{
	struct rc_carve cv = { base, 0, 16 };
	const struct rc_clip_acts *t[2] = { &ws->vision, &ws->text };
	size_t btc = 0, bti = 0, bc = 0, bd = 0, tt = 0;
	for (int i = 0; i < 2; i++) {
		const size_t B = t[i]->max_b, T = t[i]->max_t;
		if (!B)
			continue;
		btc = max_size(btc, B * T * t[i]->C);
		bti = max_size(bti, B * T * t[i]->inter);
		bc = max_size(bc, B * t[i]->C);
		bd = max_size(bd, B * t[i]->D);
		tt = max_size(tt, T * T);
	}
	gw->dx = rc_carve(&cv, btc);
	gw->dc = rc_carve(&cv, btc);
	gw->dqkv = rc_carve(&cv, 3 * btc);
	gw->dh = rc_carve(&cv, bti);
	gw->dha = rc_carve(&cv, bti);
	gw->dproj = rc_carve(&cv, bd);
	gw->dpooled = rc_carve(&cv, bc);
	gw->cls_in = rc_carve(&cv, bc);
	gw->dcls_in = rc_carve(&cv, bc);
	gw->dimg = rc_carve(&cv, bd);
	gw->dtxt = rc_carve(&cv, bd);
	gw->scratch = rc_carve(&cv, (size_t)gw->nscratch * tt);
	const struct rc_clip_acts *v = &ws->vision;
	gw->map = v->max_b && v->map_kv ? rc_carve(&cv, rc_siglip_map_scratch(v->max_b, v->max_t,
		v->C, v->inter)) : NULL;
	return cv.off;
}

int rc_clip_grad_ws_new(struct rc_clip_grad_ws **out, const struct rc_clip *m,
	const struct rc_clip_ws *ws)
{
	*out = NULL;
	if (!(ws->flags & RC_CLIP_WS_TRAIN))
		return rc_log_error(RC_E_ARG, "backward: the workspace keeps no activations "
			"(made without RC_CLIP_WS_TRAIN)");
	if ((ws->vision.max_b && ws->vision.C != m->cfg.vision.hidden) ||
	    (ws->text.max_b && ws->text.C != m->cfg.text.hidden))
		return rc_log_error(RC_E_ARG, "backward: the workspace was made for another model");
	struct rc_clip_grad_ws *gw = rc_calloc(1, sizeof *gw);
	if (!gw)
		return RC_E_NOMEM;
	gw->max_images = ws->vision.max_b;
	gw->max_texts = ws->text.max_b;
	gw->nscratch = rc_thread_max();
	gw->nfloats = layout(gw, NULL, ws);
	rc_log_debug("backward: %.1f MiB of scratch", gw->nfloats * 4.0 / (1 << 20));
	int pairs = gw->max_images < gw->max_texts ? gw->max_images : gw->max_texts;
	const int siglip = m->cfg.family == RC_FAMILY_SIGLIP;
	if (!(gw->mem = rc_malloc(max_size(gw->nfloats, 1) * sizeof *gw->mem)) ||
	    (pairs > 0 && rc_loss_clip_new(&gw->loss, pairs) < 0) ||
	    (pairs > 0 && siglip && rc_loss_siglip_new(&gw->sloss, pairs) < 0)) {
		rc_clip_grad_ws_free(gw);
		return RC_E_NOMEM;
	}
	layout(gw, gw->mem, ws);
	*out = gw;
	return 0;
}

void rc_clip_grad_ws_free(struct rc_clip_grad_ws *gw)
{
	if (!gw)
		return;
	rc_loss_clip_free(gw->loss);
	rc_loss_siglip_free(gw->sloss);
	free(gw->mem);
	free(gw);
}

size_t rc_clip_grad_ws_bytes(const struct rc_clip_grad_ws *gw)
{
	return gw->nfloats * sizeof(float);
}

/* zero - n floats to 0, in parallel: the [BT,I] buffers are tens of MB. */
static void zero(float *p, size_t n)
{
	const size_t chunk = (size_t)1 << 16;
	const long nchunks = (long)((n + chunk - 1) / chunk);
	#pragma omp parallel for schedule(static) if (nchunks > 1)
	for (long k = 0; k < nchunks; k++) {
		size_t i0 = (size_t)k * chunk, len = n - i0 < chunk ? n - i0 : chunk;
		memset(p + i0, 0, len * sizeof *p);
	}
}

/* ---------------------------------------------------------------- encoder */

/* encoder_backward - the layers of encoder() in forward.c in
 * reverse. On entry gw->dx holds the gradient of the last layer's
 * output; on return that of x0, the first layer's input. The residual
 * adds need no op: dx carries the stream's gradient and each branch's
 * layernorm backward adds into it. */
static void encoder_backward(const struct rc_clip_tower_config *t,
	const struct rc_clip_tower_weights *w, const struct rc_clip_tower_weights *g,
	const struct rc_clip_acts *a, const float *x0, int causal, struct rc_clip_grad_ws *gw)
{
	const int B = a->B, T = a->T, C = t->hidden, I = t->intermediate, BT = B * T;
	const size_t btc = (size_t)BT * C, bti = (size_t)BT * I;
	float *dx = gw->dx, *dc = gw->dc;
	for (int l = t->layers - 1; l >= 0; l--) {
		const struct rc_clip_layer_acts *la = &a->layer[l];
		const float *x = l ? a->layer[l - 1].res3 : x0;
		const size_t lc = (size_t)l * C, li = (size_t)l * I;

		/* res3 = res2 + fc2(act(fc1(ln2(res2)))) */
		zero(gw->dha, bti);
		rc_ops_matmul_backward(gw->dha, g->fc2_w + lc * I, g->fc2_b + lc, dx, la->fch_act,
			w->fc2_w + lc * I, BT, I, C);
		zero(gw->dh, bti);
		rc_ops_act_backward(gw->dh, la->fch, gw->dha, bti, t->act);
		zero(dc, btc);
		rc_ops_matmul_backward(dc, g->fc1_w + li * C, g->fc1_b + li, gw->dh, la->ln2,
			w->fc1_w + li * C, BT, C, I);
		rc_ops_layernorm_backward(dx, g->ln2_w + lc, g->ln2_b + lc, dc, la->res2,
			w->ln2_w + lc, la->ln2_mean, la->ln2_rstd, BT, C);

		/* res2 = x + out_proj(attention(qkv(ln1(x)))) */
		zero(dc, btc);
		rc_ops_matmul_backward(dc, g->out_w + lc * C, g->out_b + lc, dx, la->atty,
			w->out_w + lc * C, BT, C, C);
		zero(gw->dqkv, 3 * btc);
		rc_ops_attention_backward(gw->dqkv, dc, la->qkv, la->att, B, T, C, t->heads, causal,
			gw->scratch, gw->nscratch);
		zero(dc, btc);
		rc_ops_matmul_backward(dc, g->qkv_w + 3 * lc * C, g->qkv_b + 3 * lc, gw->dqkv,
			la->ln1, w->qkv_w + 3 * lc * C, BT, C, 3 * C);
		rc_ops_layernorm_backward(dx, g->ln1_w + lc, g->ln1_b + lc, dc, x, w->ln1_w + lc,
			la->ln1_mean, la->ln1_rstd, BT, C);
	}
}

/* head_backward - through the L2 normalisation and the projection: the
 * gradient of the pooled rows into gw->dpooled. */
static void head_backward(const struct rc_clip_tower_weights *w,
	const struct rc_clip_tower_weights *g, const struct rc_clip_acts *a, const float *demb,
	struct rc_clip_grad_ws *gw)
{
	const int B = a->B, C = a->C, D = a->D;
	zero(gw->dproj, (size_t)B * D);
	rc_ops_l2norm_backward(gw->dproj, demb, a->emb, a->norm, B, D);
	zero(gw->dpooled, (size_t)B * C);
	if (w->proj)
		rc_ops_matmul_backward(gw->dpooled, g->proj, g->proj_b, gw->dproj, a->pooled,
			w->proj, B, C, D);
	else            /* SigLIP's image embedding is the pooled row (D = C) */
		memcpy(gw->dpooled, gw->dproj, (size_t)B * C * sizeof *gw->dpooled);
}

/* ---------------------------------------------------------------- towers */

/* siglip_vision_backward - siglip_image of forward.c in reverse: the
 * pooling head, post_layernorm on every token, the encoder, positions
 * and the conv with its bias. */
static void siglip_vision_backward(const struct rc_clip *m, const struct rc_clip_acts *a,
	const struct rc_clip_tower_weights *g, struct rc_clip_grad_ws *gw)
{
	const struct rc_clip_tower_config *t = &m->cfg.vision;
	const struct rc_clip_tower_weights *w = &m->w.vision;
	const int B = a->B, T = a->T, C = t->hidden, P = t->patch_size;
	const size_t btc = (size_t)B * T * C;

	zero(gw->dc, btc);
	rc_siglip_map_backward(t, w, g, a, gw->dpooled, gw->dc, gw->map);
	zero(gw->dx, btc);
	rc_ops_layernorm_backward(gw->dx, g->lnf_w, g->lnf_b, gw->dc, a->layer[t->layers - 1].res3,
		w->lnf_w, a->lnf_mean, a->lnf_rstd, B * T, C);

	encoder_backward(t, w, g, a, a->embed, 0, gw);

	/* embed = patches + positions: every row is a patch */
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < T * C; i++) {
		double s = 0;
		for (int b = 0; b < B; b++)
			s += gw->dx[(size_t)b * T * C + i];
		g->pos[i] += (float)s;
	}
	rc_ops_matmul_backward(NULL, g->patch_w, g->patch_b, gw->dx, a->patches, w->patch_w, B * T,
		3 * P * P, C);
}

static void vision_backward(const struct rc_clip *m, const struct rc_clip_acts *a,
	const struct rc_clip_tower_weights *g, const float *demb, struct rc_clip_grad_ws *gw)
{
	const struct rc_clip_tower_config *t = &m->cfg.vision;
	const struct rc_clip_tower_weights *w = &m->w.vision;
	const int B = a->B, T = a->T, C = t->hidden, N = T - 1, P = t->patch_size;
	const size_t btc = (size_t)B * T * C;

	head_backward(w, g, a, demb, gw);
	if (m->cfg.family == RC_FAMILY_SIGLIP) {
		siglip_vision_backward(m, a, g, gw);
		return;
	}
	/* pooled = post_layernorm(last_hidden[:, 0]): the forward normalised
	 * a copy of the class token rows; gather them again as its input. */
	for (int b = 0; b < B; b++)
		memcpy(gw->cls_in + (size_t)b * C, a->last_hidden + (size_t)b * T * C,
			(size_t)C * sizeof *gw->cls_in);
	zero(gw->dcls_in, (size_t)B * C);
	rc_ops_layernorm_backward(gw->dcls_in, g->lnf_w, g->lnf_b, gw->dpooled, gw->cls_in,
		w->lnf_w, a->pool_mean, a->pool_rstd, B, C);
	zero(gw->dx, btc);
	rc_ops_pool_backward(gw->dx, gw->dcls_in, NULL, B, T, C);

	encoder_backward(t, w, g, a, a->pre, 0, gw);

	/* pre_layrnorm, then [class; patches] + positions, then the conv */
	zero(gw->dc, btc);
	rc_ops_layernorm_backward(gw->dc, g->pre_w, g->pre_b, gw->dx, a->embed, w->pre_w,
		a->pre_mean, a->pre_rstd, B * T, C);
	zero(gw->dx, (size_t)B * N * C);
	rc_ops_embed_patches_backward(gw->dx, g->cls, g->pos, gw->dc, B, T, C);
	rc_ops_matmul_backward(NULL, g->patch_w, NULL, gw->dx, a->patches, w->patch_w, B * N,
		3 * P * P, C);
}

static void text_backward(const struct rc_clip *m, const struct rc_clip_acts *a,
	const struct rc_clip_tower_weights *g, const float *demb, struct rc_clip_grad_ws *gw)
{
	const struct rc_clip_tower_config *t = &m->cfg.text;
	const struct rc_clip_tower_weights *w = &m->w.text;
	const int B = a->B, T = a->T, C = t->hidden;
	const size_t btc = (size_t)B * T * C;

	head_backward(w, g, a, demb, gw);
	/* pooled = final_layer_norm(h)[b, pool_idx[b]]: only the pooled rows
	 * get a gradient; the layernorm backward over all rows gives the
	 * others exactly 0. */
	zero(gw->dc, btc);
	rc_ops_pool_backward(gw->dc, gw->dpooled, a->pool_idx, B, T, C);
	zero(gw->dx, btc);
	rc_ops_layernorm_backward(gw->dx, g->lnf_w, g->lnf_b, gw->dc, a->layer[t->layers - 1].res3,
		w->lnf_w, a->lnf_mean, a->lnf_rstd, B * T, C);

	encoder_backward(t, w, g, a, a->embed, m->cfg.family != RC_FAMILY_SIGLIP, gw);

	rc_ops_embed_tokens_backward(g->tok, g->pos, gw->dx, a->ids, B, T, C);
}

/* ---------------------------------------------------------------- entry points */

int rc_clip_backward(const struct rc_clip *m, const struct rc_clip_ws *ws,
	struct rc_clip_grad_ws *gw, const float *dimg, const float *dtxt, float *grads)
{
	if (!(ws->flags & RC_CLIP_WS_TRAIN))
		return rc_log_error(RC_E_ARG, "backward: the workspace keeps no activations "
			"(made without RC_CLIP_WS_TRAIN)");
	if (gw->max_images != ws->vision.max_b || gw->max_texts != ws->text.max_b)
		return rc_log_error(RC_E_ARG, "backward: scratch made for %d images and %d texts, "
			"the workspace takes %d and %d", gw->max_images, gw->max_texts,
			ws->vision.max_b, ws->text.max_b);
	if ((dimg && ws->vision.B < 1) || (dtxt && ws->text.B < 1))
		return rc_log_error(RC_E_ARG, "backward: no forward of the %s tower to go back "
			"through", dimg && ws->vision.B < 1 ? "image" : "text");
	struct rc_clip_weights g;
	rc_clip_point(m, grads, &g);
	if (dimg)
		vision_backward(m, &ws->vision, &g.vision, dimg, gw);
	if (dtxt)
		text_backward(m, &ws->text, &g.text, dtxt, gw);
	return 0;
}

int rc_clip_loss_and_grad(const struct rc_clip *m, struct rc_clip_ws *ws,
	struct rc_clip_grad_ws *gw, const float *pixels, const int32_t *ids, int B, int T,
	float *loss, float *grads)
{
	int rc;
	if ((rc = rc_clip_encode_image(m, ws, pixels, B, NULL)) < 0 ||
	    (rc = rc_clip_encode_text(m, ws, ids, B, T, NULL)) < 0)
		return rc;
	if (!gw->loss || gw->max_images != ws->vision.max_b || gw->max_texts != ws->text.max_b)
		return rc_log_error(RC_E_ARG, "loss and gradient: scratch made for another "
			"workspace");
	const int D = m->cfg.projection_dim;
	struct rc_clip_weights g;
	rc_clip_point(m, grads, &g);
	zero(gw->dimg, (size_t)B * D);
	zero(gw->dtxt, (size_t)B * D);
	if (gw->sloss) {
		*loss = (float)rc_loss_siglip_forward(gw->sloss, ws->vision.emb, ws->text.emb, B, D,
			m->w.logit_scale[0], m->w.logit_bias[0]);
		rc_loss_siglip_backward(gw->sloss, 1.0f, gw->dimg, gw->dtxt, g.logit_scale,
			g.logit_bias);
	} else {
		*loss = (float)rc_loss_clip_forward(gw->loss, ws->vision.emb, ws->text.emb, B, D,
			m->w.logit_scale[0]);
		rc_loss_clip_backward(gw->loss, 1.0f, gw->dimg, gw->dtxt, g.logit_scale);
	}
	return rc_clip_backward(m, ws, gw, gw->dimg, gw->dtxt, grads);
}
