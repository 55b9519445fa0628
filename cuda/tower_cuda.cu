/* tower_cuda.cu - the CUDA backend's towers: the device workspace of
 * activations and gradients, and the forward and backward passes of both
 * towers of a CLIP or SigLIP model (SigLIP's pooling head in
 * siglip_cuda.cu), composed of the kernel families' launchers in the
 * order of the CPU's forward.c and backward.c, so that the two read
 * alike. */
#include "cuda/backend_cuda.h"

#include <string.h>

extern "C" {
#include "base/io.h"
#include "model/model.h"
}

/* ---------------------------------------------------------------- workspace */

static void layer_bytes(struct cu_carve *cv, struct cu_layer *la, const struct cu_tower *t,
	size_t e, int train)
{
	const size_t BT = (size_t)t->max_b * t->max_t, C = t->C, I = t->I;
	la->ln1 = cu_take(cv, BT * C * e);
	la->ln1_mean = cu_takef(cv, BT);
	la->ln1_rstd = cu_takef(cv, BT);
	la->qkv = cu_take(cv, BT * 3 * C * e);
	la->atty = cu_take(cv, BT * C * e);
	la->lse = cu_takef(cv, (size_t)t->max_b * t->H * t->max_t);
	la->res2 = cu_take(cv, BT * C * e);
	la->ln2 = cu_take(cv, BT * C * e);
	la->ln2_mean = cu_takef(cv, BT);
	la->ln2_rstd = cu_takef(cv, BT);
	la->fch = cu_take(cv, BT * I * e);
	la->fch_act = train ? cu_take(cv, BT * I * e) : la->fch;
	la->res3 = cu_take(cv, BT * C * e);
}

/* The layers' buffers. Inference: one set for all (forward() order allows
 * it). Training: a set per layer, or with recompute one set for all and
 * only each layer's output (res3, the next layer's input) of its own; the
 * backward then runs each layer's forward again from that input before
 * going back through it (encoder_backward). */
size_t cu_tower_bytes(struct cuda_be *c, int text, int max_b, int train, char *base)
{
	const int recompute = train && c->recompute;
	const struct rc_clip_config *cfg = &c->be.m->cfg;
	const struct rc_clip_tower_config *tc = text ? &cfg->text : &cfg->vision;
	struct cu_tower *t = text ? &c->text : &c->vision;
	struct cu_layer *layers = c->layers + (text ? cfg->vision.layers : 0);
	int32_t *host_ids = t->host_ids;
	struct cu_carve cv = { base, 0 };
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	memset(t, 0, sizeof *t);
	t->layer = layers, t->host_ids = host_ids, t->text = text;
	t->siglip = siglip;
	if (max_b == 0)
		return 0;
	t->max_b = max_b;
	t->max_t = text ? tc->max_position : rc_clip_config_image_tokens(cfg);
	t->C = tc->hidden, t->I = tc->intermediate, t->H = tc->heads, t->L = tc->layers;
	t->D = cfg->projection_dim;
	const size_t e = c->esize, B = (size_t)max_b, T = (size_t)t->max_t, C = (size_t)t->C;
	const size_t D = (size_t)t->D;
	if (text) {
		t->ids = (int32_t *)cu_take(&cv, B * T * sizeof(int32_t));
		t->pool_idx = (int32_t *)cu_take(&cv, B * sizeof(int32_t));
		t->embed = cu_take(&cv, B * T * C * e);
		t->lnf = cu_take(&cv, B * T * C * e);
		t->lnf_mean = cu_takef(&cv, B * T);
		t->lnf_rstd = cu_takef(&cv, B * T);
	} else {
		/* SigLIP: no class token, no pre_layrnorm; post_layernorm on
		 * every token, then the pooling head */
		const size_t S = (size_t)tc->image_size, P = (size_t)tc->patch_size;
		const size_t N = siglip ? T : T - 1;
		t->rgb = (uint8_t *)cu_take(&cv, B * S * S * 3);
		t->patches = cu_take(&cv, B * N * 3 * P * P * e);
		t->patch_out = cu_take(&cv, B * N * C * e);
		t->embed = cu_take(&cv, B * T * C * e);
		if (siglip) {
			t->lnf = cu_take(&cv, B * T * C * e);
			t->lnf_mean = cu_takef(&cv, B * T);
			t->lnf_rstd = cu_takef(&cv, B * T);
			cu_map_bytes(c, t, &cv, 0);
		} else {
			t->pre = cu_take(&cv, B * T * C * e);
			t->pre_mean = cu_takef(&cv, B * T);
			t->pre_rstd = cu_takef(&cv, B * T);
			t->pool_in = cu_take(&cv, B * C * e);
			t->pool_mean = cu_takef(&cv, B);
			t->pool_rstd = cu_takef(&cv, B);
		}
	}
	for (int l = 0; l < t->L; l++) {
		if ((train && !recompute) || l == 0)
			layer_bytes(&cv, &layers[l], t, e, train);
		else
			layers[l] = layers[0];
		if (recompute && l > 0)
			layers[l].res3 = cu_take(&cv, (size_t)max_b * t->max_t * C * e);
	}
	t->pooled = cu_take(&cv, B * C * e);
	t->proj = cu_takef(&cv, B * D);
	t->emb = cu_takef(&cv, B * D);
	t->norm = cu_takef(&cv, B);
	return cv.off;
}

/* the larger of a and b */
static size_t mx(size_t a, size_t b)
{
	return a > b ? a : b;
}

size_t cu_grads_bytes(struct cuda_be *c, char *base)
{
	const struct cu_tower *tw[2] = { &c->vision, &c->text };
	size_t btc = 0, bti = 0, bc = 0, bd = 0, scratch = 0, work = 0;
	for (int i = 0; i < 2; i++) {
		const struct cu_tower *t = tw[i];
		if (!t->max_b)
			continue;
		const size_t B = (size_t)t->max_b, T = (size_t)t->max_t, C = (size_t)t->C;
		const int BT = t->max_b * t->max_t;
		btc = mx(btc, B * T * C), bti = mx(bti, B * T * (size_t)t->I);
		bc = mx(bc, B * C), bd = mx(bd, B * (size_t)t->D);
		scratch = mx(scratch, rc_cuda_layernorm_backward_scratch(BT, t->C));
		scratch = mx(scratch, rc_cuda_matmul_backward_scratch(BT, mx(3 * C, t->I)));
		scratch = mx(scratch, rc_cuda_attention_backward_scratch(t->max_b, t->max_t, t->H));
		if (t->text)
			work = rc_cuda_embed_tokens_backward_work(t->max_b, t->max_t, t->C);
	}
	const size_t e = c->esize;
	struct cu_grads *g = &c->g;
	struct cu_carve cv = { base, 0 };
	g->dx = cu_take(&cv, btc * e);
	g->dc = cu_take(&cv, btc * e);
	g->dqkv = cu_take(&cv, 3 * btc * e);
	g->dh = cu_take(&cv, bti * e);
	g->dha = cu_take(&cv, bti * e);
	g->dpooled = cu_take(&cv, bc * e);
	g->dpool_in = cu_take(&cv, bc * e);
	g->dproj = cu_takef(&cv, bd);
	g->dproj_c = c->dtype == RC_CUDA_F32 ? (void *)g->dproj : cu_take(&cv, bd * e);
	g->scratch = cu_take(&cv, scratch);
	g->scratch_bytes = scratch;
	g->tok_work = work ? cu_take(&cv, work) : NULL;
	if (c->vision.max_b && c->vision.siglip)
		cu_map_bytes(c, &c->vision, &cv, 1);
	return cv.off;
}

/* ---------------------------------------------------------------- forward */

/* encoder - the L pre-LN blocks on x[B·T, C]; returns the last output.
 * Without training the layers share one set of buffers, which the order
 * allows (forward.c): x is last read by the first residual add, before
 * fc2 writes res3. */
/* layer - block l of the encoder on x into la (its output la->res3). */
static int layer(struct cuda_be *c, struct cu_tower *t, const struct rc_clip_tower_config *tc,
	const struct rc_clip_tower_weights *w, int l, const void *x, struct cu_layer *la,
	int causal)
{
	const int B = t->B, T = t->T, C = tc->hidden, I = tc->intermediate, BT = B * T;
	const float eps = (float)tc->layer_norm_eps;
	const int dt = c->dtype;
	cudaStream_t s = c->stream;
	{
		const size_t lc = (size_t)l * C, li = (size_t)l * I;
		const int train = la->fch_act != la->fch;
		RC(rc_cuda_layernorm_forward(la->ln1, la->ln1_mean, la->ln1_rstd, x,
			cu_w(c, w->ln1_w + lc), cu_w(c, w->ln1_b + lc), BT, C, eps, dt, s));
		RC(rc_cuda_matmul_forward(c->blas, la->qkv, NULL, la->ln1, cu_w(c, w->qkv_w + 3 * lc * C),
			cu_w(c, w->qkv_b + 3 * lc), BT, C, 3 * C, RC_CUDA_ACT_NONE, dt));
		RC(rc_cuda_attention_forward(la->atty, la->lse, la->qkv, B, T, C, tc->heads, causal, dt,
			s));
		RC(rc_cuda_matmul_forward(c->blas, la->res2, NULL, la->atty, cu_w(c, w->out_w + lc * C),
			cu_w(c, w->out_b + lc), BT, C, C, RC_CUDA_ACT_NONE, dt));
		RC(rc_cuda_add(la->res2, x, la->res2, (size_t)BT * C, dt, s));
		RC(rc_cuda_layernorm_forward(la->ln2, la->ln2_mean, la->ln2_rstd, la->res2,
			cu_w(c, w->ln2_w + lc), cu_w(c, w->ln2_b + lc), BT, C, eps, dt, s));
		RC(rc_cuda_matmul_forward(c->blas, la->fch_act, train ? la->fch : NULL, la->ln2,
			cu_w(c, w->fc1_w + li * C), cu_w(c, w->fc1_b + li), BT, C, I, tc->act, dt));
		RC(rc_cuda_matmul_forward(c->blas, la->res3, NULL, la->fch_act,
			cu_w(c, w->fc2_w + lc * I), cu_w(c, w->fc2_b + lc), BT, I, C, RC_CUDA_ACT_NONE,
			dt));
		RC(rc_cuda_add(la->res3, la->res2, la->res3, (size_t)BT * C, dt, s));
	}
	return 0;
}

static int encoder(struct cuda_be *c, struct cu_tower *t, const struct rc_clip_tower_config *tc,
	const struct rc_clip_tower_weights *w, const void *x, int causal, const void **out)
{
	for (int l = 0; l < tc->layers; l++) {
		RC(layer(c, t, tc, w, l, x, &t->layer[l], causal));
		x = t->layer[l].res3;
	}
	*out = x;
	return 0;
}

/* head - the projection of the pooled rows, in fp32 out of the compute
 * dtype (a GEMM with fp32 output; SigLIP's text head with its bias, the
 * fp32 master as the output's type), and the L2 normalisation in fp32.
 * SigLIP's image tower has no projection: its pooled rows, in fp32, are
 * the embedding before the normalisation. */
static int head(struct cuda_be *c, struct cu_tower *t, const struct rc_clip_tower_weights *w)
{
	if (w->proj) {
		struct rc_cuda_gemm_args g;
		memset(&g, 0, sizeof g);
		/* proj[B,D] = pooled[B,C] · proj_w[D,C]ᵀ (+ proj_b) */
		g.M = t->B, g.N = t->D, g.K = t->C, g.batch = 1, g.transb = 1;
		g.A = t->pooled, g.lda = t->C, g.B = cu_w(c, w->proj), g.ldb = t->C;
		g.C = t->proj, g.ldc = t->D, g.alpha = 1.0f, g.beta = 0.0f;
		g.bias = w->proj_b ? cu_p(c, w->proj_b) : NULL;
		g.ab_dtype = c->dtype, g.c_dtype = RC_CUDA_F32;
		RC(rc_cuda_gemm(c->blas, &g));
	} else {
		RC(rc_cuda_cast(t->proj, RC_CUDA_F32, t->pooled, c->dtype, (size_t)t->B * t->D,
			c->stream));
	}
	return rc_cuda_l2norm(t->emb, t->norm, t->proj, t->B, t->D, RC_CUDA_F32, c->stream);
}

int cu_encode_images(struct cuda_be *c, const uint8_t *rgb, int B)
{
	const struct rc_clip_tower_config *tc = &c->be.m->cfg.vision;
	const struct rc_clip_tower_weights *w = &c->be.m->w.vision;
	struct cu_tower *t = &c->vision;
	const int S = tc->image_size, P = tc->patch_size, C = tc->hidden;
	const int T = t->max_t, N = T - !t->siglip, dt = c->dtype;
	const float eps = (float)tc->layer_norm_eps;
	cudaStream_t s = c->stream;
	t->B = B, t->T = T;
	/* the upload on the copy stream once the last batch's patches have
	 * read t->rgb, while the compute stream finishes what is queued on it
	 * (the last step's optimizer); the host waits for the copy only, so
	 * that rgb is free again on return, as the seam promises */
	CU(cudaStreamWaitEvent(c->copy, c->rgb_free, 0));
	CU(cudaMemcpyAsync(t->rgb, rgb, (size_t)B * S * S * 3, cudaMemcpyHostToDevice, c->copy));
	CU(cudaEventRecord(c->uploaded, c->copy));
	CU(cudaStreamWaitEvent(s, c->uploaded, 0));
	/* HF's CLIPVisionEmbeddings: the conv as im2col + a GEMM, the class
	 * token first, the positions added; then pre_layrnorm.
	 * SiglipVisionEmbeddings: the conv with its bias, the positions, no
	 * class token, no pre_layrnorm */
	RC(rc_cuda_patches(t->patches, t->rgb, B, S, P, c->be.m->cfg.family, dt, s));
	CU(cudaEventRecord(c->rgb_free, s));
	CU(cudaEventSynchronize(c->uploaded));
	RC(rc_cuda_matmul_forward(c->blas, t->patch_out, NULL, t->patches, cu_w(c, w->patch_w),
		w->patch_b ? cu_w(c, w->patch_b) : NULL, B * N, 3 * P * P, C, RC_CUDA_ACT_NONE, dt));
	RC(rc_cuda_embed_patches(t->embed, t->patch_out, w->cls ? cu_w(c, w->cls) : NULL,
		cu_w(c, w->pos), B, T, C, dt, s));
	const void *x;
	if (t->siglip) {
		RC(encoder(c, t, tc, w, t->embed, 0, &x));
		RC(rc_cuda_layernorm_forward(t->lnf, t->lnf_mean, t->lnf_rstd, x, cu_w(c, w->lnf_w),
			cu_w(c, w->lnf_b), B * T, C, eps, dt, s));
		RC(cu_map_forward(c, t));
		return head(c, t, w);
	}
	RC(rc_cuda_layernorm_forward(t->pre, t->pre_mean, t->pre_rstd, t->embed, cu_w(c, w->pre_w),
		cu_w(c, w->pre_b), B * T, C, eps, dt, s));
	RC(encoder(c, t, tc, w, t->pre, 0, &x));
	/* pooler_output = post_layernorm(last_hidden_state[:, 0, :]) */
	RC(rc_cuda_pool(t->pool_in, x, NULL, B, T, C, dt, s));
	RC(rc_cuda_layernorm_forward(t->pooled, t->pool_mean, t->pool_rstd, t->pool_in,
		cu_w(c, w->lnf_w), cu_w(c, w->lnf_b), B, C, eps, dt, s));
	return head(c, t, w);
}

int cu_encode_texts(struct cuda_be *c, const int32_t *ids, int B, int T)
{
	const struct rc_clip_tower_config *tc = &c->be.m->cfg.text;
	const struct rc_clip_tower_weights *w = &c->be.m->w.text;
	struct cu_tower *t = &c->text;
	const int C = tc->hidden, dt = c->dtype;
	cudaStream_t s = c->stream;
	t->B = B, t->T = T;
	/* the pooled positions on the host, as rc_clip_encode_text takes them
	 * (SigLIP: the last; its text attends both ways) */
	const int siglip = c->be.m->cfg.family == RC_FAMILY_SIGLIP;
	int32_t *pool = t->host_ids + (size_t)t->max_b * t->max_t;
	memcpy(t->host_ids, ids, (size_t)B * T * sizeof *ids);
	for (int b = 0; b < B; b++)
		pool[b] = siglip ? T - 1 : rc_clip_pool_position(ids + (size_t)b * T, T,
			tc->eos_token_id);
	CU(cudaMemcpyAsync(t->ids, t->host_ids, (size_t)B * T * sizeof *ids,
		cudaMemcpyHostToDevice, s));
	CU(cudaMemcpyAsync(t->pool_idx, pool, (size_t)B * sizeof *pool, cudaMemcpyHostToDevice, s));
	RC(rc_cuda_embed_tokens(t->embed, t->ids, cu_w(c, w->tok), cu_w(c, w->pos), B, T, C,
		tc->vocab_size, dt, s));
	const void *x;
	RC(encoder(c, t, tc, w, t->embed, !siglip, &x));
	RC(rc_cuda_layernorm_forward(t->lnf, t->lnf_mean, t->lnf_rstd, x, cu_w(c, w->lnf_w),
		cu_w(c, w->lnf_b), B * T, C, (float)tc->layer_norm_eps, dt, s));
	RC(rc_cuda_pool(t->pooled, t->lnf, t->pool_idx, B, T, C, dt, s));
	/* the host copies are read by the copies queued above: they must stay
	 * until those have run, which the next host wait guarantees; the
	 * next encode waits here first */
	CU(cudaStreamSynchronize(s));
	return head(c, t, w);
}

/* ---------------------------------------------------------------- backward */

static int zero(struct cuda_be *c, void *p, size_t bytes)
{
	CU(cudaMemsetAsync(p, 0, bytes, c->stream));
	return 0;
}

/* encoder_backward - encoder() in reverse: on entry g->dx holds the
 * gradient of the last layer's output, on return that of x0. The
 * residual adds need no op: dx carries the stream's gradient and each
 * branch's layernorm backward adds into it. */
static int encoder_backward(struct cuda_be *c, struct cu_tower *t,
	const struct rc_clip_tower_config *tc, const struct rc_clip_tower_weights *w,
	const void *x0, int causal)
{
	const int B = t->B, T = t->T, C = tc->hidden, I = tc->intermediate, BT = B * T;
	const size_t e = c->esize, btc = (size_t)BT * C * e, bti = (size_t)BT * I * e;
	const int dt = c->dtype;
	struct cu_grads *g = &c->g;
	float *sc = (float *)g->scratch;
	cudaStream_t s = c->stream;
	for (int l = tc->layers - 1; l >= 0; l--) {
		struct cu_layer *la = &t->layer[l];
		const void *x = l ? t->layer[l - 1].res3 : x0;
		const size_t lc = (size_t)l * C, li = (size_t)l * I;
		/* the shared set holds the last layer's activations: run this one
		 * again (the same kernels on the same input: the same bits) */
		if (c->recompute && l < tc->layers - 1)
			RC(layer(c, t, tc, w, l, x, la, causal));
		/* res3 = res2 + fc2(act(fc1(ln2(res2)))) */
		RC(zero(c, g->dha, bti));
		RC(rc_cuda_matmul_backward(c->blas, g->dha, cu_g(c, w->fc2_w + lc * I),
			cu_g(c, w->fc2_b + lc), sc, g->dx, la->fch_act, cu_w(c, w->fc2_w + lc * I), BT, I,
			C, dt));
		RC(zero(c, g->dh, bti));
		RC(rc_cuda_act_backward(g->dh, la->fch, g->dha, (size_t)BT * I, tc->act, dt, s));
		RC(zero(c, g->dc, btc));
		RC(rc_cuda_matmul_backward(c->blas, g->dc, cu_g(c, w->fc1_w + li * C),
			cu_g(c, w->fc1_b + li), sc, g->dh, la->ln2, cu_w(c, w->fc1_w + li * C), BT, C, I,
			dt));
		RC(rc_cuda_layernorm_backward(g->dx, cu_g(c, w->ln2_w + lc), cu_g(c, w->ln2_b + lc), sc,
			g->dc, la->res2, cu_w(c, w->ln2_w + lc), la->ln2_mean, la->ln2_rstd, BT, C, dt, s));
		/* res2 = x + out_proj(attention(qkv(ln1(x)))) */
		RC(zero(c, g->dc, btc));
		RC(rc_cuda_matmul_backward(c->blas, g->dc, cu_g(c, w->out_w + lc * C),
			cu_g(c, w->out_b + lc), sc, g->dx, la->atty, cu_w(c, w->out_w + lc * C), BT, C, C,
			dt));
		RC(zero(c, g->dqkv, 3 * btc));
		RC(rc_cuda_attention_backward(g->dqkv, sc, g->dc, la->qkv, la->atty, la->lse, B, T, C,
			tc->heads, causal, dt, s));
		RC(zero(c, g->dc, btc));
		RC(rc_cuda_matmul_backward(c->blas, g->dc, cu_g(c, w->qkv_w + 3 * lc * C),
			cu_g(c, w->qkv_b + 3 * lc), sc, g->dqkv, la->ln1, cu_w(c, w->qkv_w + 3 * lc * C),
			BT, C, 3 * C, dt));
		RC(rc_cuda_layernorm_backward(g->dx, cu_g(c, w->ln1_w + lc), cu_g(c, w->ln1_b + lc), sc,
			g->dc, x, cu_w(c, w->ln1_w + lc), la->ln1_mean, la->ln1_rstd, BT, C, dt, s));
	}
	return 0;
}

/* head_backward - through the L2 normalisation (fp32) and the projection:
 * the gradient of the pooled rows into g->dpooled. */
static int head_backward(struct cuda_be *c, const struct cu_tower *t,
	const struct rc_clip_tower_weights *w, const float *demb)
{
	struct cu_grads *g = &c->g;
	const int B = t->B, C = t->C, D = t->D, dt = c->dtype;
	RC(zero(c, g->dproj, (size_t)B * D * sizeof(float)));
	RC(rc_cuda_l2norm_backward(g->dproj, demb, t->emb, t->norm, B, D, RC_CUDA_F32, c->stream));
	if (dt != RC_CUDA_F32)
		RC(rc_cuda_cast(g->dproj_c, dt, g->dproj, RC_CUDA_F32, (size_t)B * D, c->stream));
	if (!w->proj)        /* SigLIP's image embedding is the pooled row (D = C) */
		return rc_cuda_cast(g->dpooled, dt, g->dproj, RC_CUDA_F32, (size_t)B * C, c->stream);
	RC(zero(c, g->dpooled, (size_t)B * C * c->esize));
	return rc_cuda_matmul_backward(c->blas, g->dpooled, cu_g(c, w->proj),
		w->proj_b ? cu_g(c, w->proj_b) : NULL, (float *)g->scratch, g->dproj_c, t->pooled,
		cu_w(c, w->proj), B, C, D, dt);
}

/* siglip_vision_backward - a SigLIP image tower's forward in reverse: the
 * pooling head, post_layernorm on every token, the encoder, positions and
 * the conv with its bias (embed is the patch rows: their gradient is
 * dx itself). */
static int siglip_vision_backward(struct cuda_be *c)
{
	const struct rc_clip_tower_config *tc = &c->be.m->cfg.vision;
	const struct rc_clip_tower_weights *w = &c->be.m->w.vision;
	struct cu_tower *t = &c->vision;
	struct cu_grads *g = &c->g;
	const int B = t->B, T = t->T, C = tc->hidden, P = tc->patch_size, dt = c->dtype;
	const size_t btc = (size_t)B * T * C * c->esize;
	float *sc = (float *)g->scratch;
	cudaStream_t s = c->stream;
	RC(zero(c, g->dc, btc));
	RC(cu_map_backward(c, t, g->dc));
	RC(zero(c, g->dx, btc));
	RC(rc_cuda_layernorm_backward(g->dx, cu_g(c, w->lnf_w), cu_g(c, w->lnf_b), sc, g->dc,
		t->layer[tc->layers - 1].res3, cu_w(c, w->lnf_w), t->lnf_mean, t->lnf_rstd, B * T, C,
		dt, s));
	RC(encoder_backward(c, t, tc, w, t->embed, 0));
	RC(rc_cuda_embed_patches_backward(NULL, NULL, cu_g(c, w->pos), g->dx, B, T, C, dt, s));
	return rc_cuda_matmul_backward(c->blas, NULL, cu_g(c, w->patch_w), cu_g(c, w->patch_b), sc,
		g->dx, t->patches, cu_w(c, w->patch_w), B * T, 3 * P * P, C, dt);
}

static int vision_backward(struct cuda_be *c, const float *demb)
{
	const struct rc_clip_tower_config *tc = &c->be.m->cfg.vision;
	const struct rc_clip_tower_weights *w = &c->be.m->w.vision;
	struct cu_tower *t = &c->vision;
	struct cu_grads *g = &c->g;
	const int B = t->B, T = t->T, C = tc->hidden, N = T - 1, P = tc->patch_size, dt = c->dtype;
	const size_t e = c->esize;
	float *sc = (float *)g->scratch;
	cudaStream_t s = c->stream;
	RC(head_backward(c, t, w, demb));
	if (t->siglip)
		return siglip_vision_backward(c);
	/* pooled = post_layernorm(pool_in), pool_in the class token rows */
	RC(zero(c, g->dpool_in, (size_t)B * C * e));
	RC(rc_cuda_layernorm_backward(g->dpool_in, cu_g(c, w->lnf_w), cu_g(c, w->lnf_b), sc,
		g->dpooled, t->pool_in, cu_w(c, w->lnf_w), t->pool_mean, t->pool_rstd, B, C, dt, s));
	RC(zero(c, g->dx, (size_t)B * T * C * e));
	RC(rc_cuda_pool_backward(g->dx, g->dpool_in, NULL, B, T, C, dt, s));
	RC(encoder_backward(c, t, tc, w, t->pre, 0));
	/* pre_layrnorm, then [class; patches] + positions, then the conv */
	RC(zero(c, g->dc, (size_t)B * T * C * e));
	RC(rc_cuda_layernorm_backward(g->dc, cu_g(c, w->pre_w), cu_g(c, w->pre_b), sc, g->dx,
		t->embed, cu_w(c, w->pre_w), t->pre_mean, t->pre_rstd, B * T, C, dt, s));
	RC(zero(c, g->dx, (size_t)B * N * C * e));
	RC(rc_cuda_embed_patches_backward(g->dx, cu_g(c, w->cls), cu_g(c, w->pos), g->dc, B, T, C,
		dt, s));
	return rc_cuda_matmul_backward(c->blas, NULL, cu_g(c, w->patch_w), NULL, sc, g->dx,
		t->patches, cu_w(c, w->patch_w), B * N, 3 * P * P, C, dt);
}

static int text_backward(struct cuda_be *c, const float *demb)
{
	const struct rc_clip_tower_config *tc = &c->be.m->cfg.text;
	const struct rc_clip_tower_weights *w = &c->be.m->w.text;
	struct cu_tower *t = &c->text;
	struct cu_grads *g = &c->g;
	const int B = t->B, T = t->T, C = tc->hidden, dt = c->dtype;
	const size_t btc = (size_t)B * T * C * c->esize;
	cudaStream_t s = c->stream;
	RC(head_backward(c, t, w, demb));
	/* pooled = final_layer_norm(h)[b, pool_idx[b]]: only the pooled rows
	 * get a gradient */
	RC(zero(c, g->dc, btc));
	RC(rc_cuda_pool_backward(g->dc, g->dpooled, t->pool_idx, B, T, C, dt, s));
	RC(zero(c, g->dx, btc));
	RC(rc_cuda_layernorm_backward(g->dx, cu_g(c, w->lnf_w), cu_g(c, w->lnf_b),
		(float *)g->scratch, g->dc, t->layer[tc->layers - 1].res3, cu_w(c, w->lnf_w),
		t->lnf_mean, t->lnf_rstd, B * T, C, dt, s));
	RC(encoder_backward(c, t, tc, w, t->embed, c->be.m->cfg.family != RC_FAMILY_SIGLIP));
	return rc_cuda_embed_tokens_backward(cu_g(c, w->tok), cu_g(c, w->pos), g->tok_work, g->dx,
		t->host_ids, B, T, C, tc->vocab_size, dt, s);
}

/* tower_piece - the range of the gradient buffer that holds the
 * parameters of the vision (text 0) or text tower with its projection:
 * *off and the count, 0 when they are not one contiguous run. */
static size_t tower_piece(const struct rc_clip *m, int text, size_t *off)
{
	const char *a = text ? "text_model." : "vision_model.";
	const char *b = text ? "text_projection." : "visual_projection.";
	size_t lo = (size_t)-1, hi = 0, sum = 0;
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		if (strncmp(p->name, a, strlen(a)) && strncmp(p->name, b, strlen(b)))
			continue;
		const size_t o = (size_t)(p->data - m->params);
		lo = o < lo ? o : lo;
		hi = o + p->numel > hi ? o + p->numel : hi;
		sum += p->numel;
	}
	*off = lo;
	return sum && hi - lo == sum ? sum : 0;
}

/* hand - give the sink [off, off+n) of the gradients (n > 0). */
static int hand(struct cuda_be *c, const struct rc_grads_sink *sink, size_t off, size_t n)
{
	return sink->fn(sink->ctx, c->grads + off, n, (void *)c->stream);
}

int cu_backward(struct cuda_be *c, const float *dimg, const float *dtxt,
	const struct rc_grads_sink *sink)
{
	if ((dimg && c->vision.B < 1) || (dtxt && c->text.B < 1))
		return rc_log_error(RC_E_ARG, "backward: no forward of the %s tower to go back "
			"through", dimg && c->vision.B < 1 ? "image" : "text");
	/* each tower's piece as soon as its backward is queued (nothing
	 * later in the pass writes it), then what lies around them */
	const struct rc_clip *m = c->be.m;
	size_t off[2] = { 0, 0 }, n[2] = { 0, 0 };
	for (int t = 0; t < 2; t++) {
		if (sink && (t ? dtxt : dimg))
			n[t] = tower_piece(m, t, &off[t]);
		if (t ? dtxt : dimg)
			RC(t ? text_backward(c, dtxt) : vision_backward(c, dimg));
		if (n[t])
			RC(hand(c, sink, off[t], n[t]));
	}
	if (!sink)
		return 0;
	int first = n[1] && (!n[0] || off[1] < off[0]);   /* the earlier of the two */
	size_t at = 0;
	for (int k = 0; k < 2; k++) {
		const int t = k ? !first : first;
		if (!n[t])
			continue;
		if (off[t] > at)
			RC(hand(c, sink, at, off[t] - at));
		at = off[t] + n[t];
	}
	if (m->nparams > at)
		RC(hand(c, sink, at, m->nparams - at));
	return sink->fn(sink->ctx, NULL, 0, (void *)c->stream);
}
