/* backend_cpu.c - the CPU backend (backend.h): fp32 on the forward and
 * backward passes of cpu.h, the losses of loss.h and the optimizer of
 * optim_cpu.h, in host memory, the model's parameters used in place. The
 * reference the other backends are checked against. For inference in
 * bf16 or int8 it packs the linear layers' weights (lowp_cpu.h). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/thread.h"
#include "model/backend.h"
#include "model/cpu.h"
#include "model/loss.h"
#include "model/lowp_cpu.h"
#include "model/ops_cpu.h"
#include "model/optim_cpu.h"
#include "model/topk_cpu.h"

struct cpu {
	struct rc_backend be;            /* first: the backend is a struct cpu */
	struct rc_clip_ws *ws;
	struct rc_lowp *lp;              /* bf16 or int8: the packed weights */
	struct rc_clip_grad_ws *gw;
	float *pixels;                   /* [max_images,3,S,S] normalised */
	float *grads;                    /* [nparams], laid out as the parameters */
	float *anchor;                   /* [nparams] θ₀, or NULL */
	struct rc_optim_tensor *t;       /* [ntensors] the table as AdamW sees it */
	struct rc_adamw *opt;            /* its moments laid out as the parameters */
	struct rc_loss_clip *lc;
	struct rc_loss_siglip *ls;
	float *hx, *dhx;                 /* [head_rows,5] head logits, their gradient */
	int *group;                      /* [ntensors] */
};

static struct cpu *cpu_of(struct rc_backend *be)
{
	return (struct cpu *)be;
}

static void cpu_destroy(struct rc_backend *be)
{
	struct cpu *c = cpu_of(be);
	rc_loss_clip_free(c->lc);
	rc_loss_siglip_free(c->ls);
	rc_adamw_free(c->opt);
	rc_clip_grad_ws_free(c->gw);
	rc_clip_ws_free(c->ws);
	rc_lowp_free(c->lp);
	free(c->t);
	free(c->group);
	free(c->hx);
	free(c->anchor);
	free(c->grads);
	free(c->pixels);
	free(c);
}

/* ---------------------------------------------------------------- memory */

static float *cpu_alloc(struct rc_backend *be, size_t n)
{
	return rc_calloc(n ? n : 1, sizeof(float));
}

static void cpu_release(struct rc_backend *be, float *p)
{
	free(p);
}

static void cpu_zero(struct rc_backend *be, float *p, size_t n)
{
	memset(p, 0, n * sizeof *p);
}

static void cpu_copy(struct rc_backend *be, float *dst, const float *src, size_t n)
{
	if (dst != src)
		memmove(dst, src, n * sizeof *dst);
}

static int cpu_move(struct rc_backend *be, float *dst, const float *src, size_t n)
{
	cpu_copy(be, dst, src, n);
	return 0;
}

static float *cpu_buffer(struct rc_backend *be, int buf)
{
	struct cpu *c = cpu_of(be);
	switch (buf) {
	case RC_BUF_PARAMS: return be->m->params;
	case RC_BUF_GRADS: return c->grads;
	case RC_BUF_EXP_AVG: return c->opt ? c->opt->m : NULL;
	case RC_BUF_EXP_AVG_SQ: return c->opt ? c->opt->v : NULL;
	case RC_BUF_ANCHOR: return c->anchor;
	default: return NULL;
	}
}

/* The buffers are host memory: the copy is the buffer itself. */
static int cpu_commit(struct rc_backend *be, int buf)
{
	return 0;
}

/* ---------------------------------------------------------------- forward */

static int cpu_encode_images(struct rc_backend *be, const uint8_t *rgb, int B,
	const float **emb)
{
	struct cpu *c = cpu_of(be);
	const int S = be->m->cfg.vision.image_size;
	const size_t in = (size_t)S * S * 3, out = (size_t)3 * S * S;
	#pragma omp parallel for schedule(static)
	for (int b = 0; b < B; b++)
		rc_clip_pixels_for(&be->m->cfg, rgb + (size_t)b * in, S, c->pixels + (size_t)b * out);
	int rc = rc_clip_encode_image(be->m, c->ws, c->pixels, B, NULL);
	*emb = c->ws->vision.emb;
	return rc;
}

static int cpu_encode_texts(struct rc_backend *be, const int32_t *ids, int B, int T,
	const float **emb)
{
	struct cpu *c = cpu_of(be);
	int rc = rc_clip_encode_text(be->m, c->ws, ids, B, T, NULL);
	*emb = c->ws->text.emb;
	return rc;
}

static int cpu_scores(struct rc_backend *be, float *out, const float *a, size_t na,
	const float *b, size_t nb, size_t D)
{
	rc_ops_matmul(out, a, b, NULL, (int)na, (int)D, (int)nb);
	return 0;
}

static int cpu_topk(struct rc_backend *be, const float *gallery, size_t n, size_t d,
	const float *queries, size_t q, const struct rc_topk_opts *o, float *score,
	int64_t *index)
{
	return rc_topk_cpu(gallery, n, d, queries, q, o, score, index);
}

/* ---------------------------------------------------------------- training */

/* The pass, then (sink) the whole gradient buffer as one piece: the
 * CPU's cores are busy with the pass, so there is nothing to overlap. */
static int cpu_backward(struct rc_backend *be, const float *dimg, const float *dtxt,
	const struct rc_grads_sink *sink)
{
	struct cpu *c = cpu_of(be);
	int rc = rc_clip_backward(be->m, c->ws, c->gw, dimg, dtxt, c->grads);
	if (rc < 0 || !sink)
		return rc;
	if ((rc = sink->fn(sink->ctx, c->grads, be->m->nparams, NULL)) < 0)
		return rc;
	return sink->fn(sink->ctx, NULL, 0, NULL);
}

/* scale_grad - the gradient of scalar parameter p (the logit scale or
 * bias) in the gradient buffer. */
static float *scale_grad(struct cpu *c, const float *p)
{
	return c->grads + (p - c->be.m->params);
}

/* cpu_loss_clip_rows - the CLIP loss with the gradient of rows
 * [lo, lo+n) in the rank-local form (all rows: the whole loss's). */
static double cpu_loss_clip_rows(struct rc_backend *be, const float *img, const float *txt,
	int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale)
{
	struct cpu *c = cpu_of(be);
	const struct rc_clip_weights *w = &be->m->w;
	float ds = 0;
	double l = rc_loss_clip_forward(c->lc, img, txt, B, be->D, *w->logit_scale);
	rc_loss_clip_backward_rows(c->lc, dloss, lo, n, dimg, dtxt, &ds);
	if (grad_scale)
		*scale_grad(c, w->logit_scale) += ds;
	return l;
}

static double cpu_loss_clip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale)
{
	return cpu_loss_clip_rows(be, img, txt, B, 0, B, dloss, dimg, dtxt, grad_scale);
}

static double cpu_loss_siglip_rows(struct rc_backend *be, const float *img, const float *txt,
	int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale)
{
	struct cpu *c = cpu_of(be);
	const struct rc_clip_weights *w = &be->m->w;
	float ds = 0, db = 0;
	double l = rc_loss_siglip_forward(c->ls, img, txt, B, be->D, *w->logit_scale,
		*w->logit_bias);
	rc_loss_siglip_backward_rows(c->ls, dloss, lo, n, dimg, dtxt, &ds, &db);
	if (grad_scale) {
		*scale_grad(c, w->logit_scale) += ds;
		*scale_grad(c, w->logit_bias) += db;
	}
	return l;
}

static double cpu_loss_siglip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale)
{
	return cpu_loss_siglip_rows(be, img, txt, B, 0, B, dloss, dimg, dtxt, grad_scale);
}

/* cpu_heads - the linear heads on the normalised embeddings, forward and
 * backward: Linear(D, 5) as an addmm, the loss's gradient of its logits,
 * then the gradients of the weights, bias and embeddings. */
static void cpu_heads(struct rc_backend *be, const float *txt, const float *img, int n,
	const uint8_t *cls, const float *multi, int norm, float dloss, float *dtxt, float *dimg,
	double part[2])
{
	struct cpu *c = cpu_of(be);
	const int D = be->D, K = RC_CLIP_HEAD_CLASSES;
	const struct rc_clip_weights *w = &be->m->w;
	struct rc_clip_weights g;
	rc_clip_point(be->m, c->grads, &g);
	rc_ops_matmul(c->hx, txt, w->text_head_w, w->text_head_b, n, D, K);
	memset(c->dhx, 0, (size_t)n * K * sizeof *c->dhx);
	part[0] = rc_loss_softmax_ce(c->hx, cls, n, K, norm, dloss, c->dhx);
	rc_ops_matmul_backward(dtxt, g.text_head_w, g.text_head_b, c->dhx, txt, w->text_head_w,
		n, D, K);
	rc_ops_matmul(c->hx, img, w->image_head_w, w->image_head_b, n, D, K);
	memset(c->dhx, 0, (size_t)n * K * sizeof *c->dhx);
	part[1] = rc_loss_bce_logits(c->hx, multi, n, K, norm, dloss, c->dhx);
	rc_ops_matmul_backward(dimg, g.image_head_w, g.image_head_b, c->dhx, img,
		w->image_head_w, n, D, K);
}

static double cpu_l2(struct rc_backend *be, float beta, unsigned groups)
{
	struct cpu *c = cpu_of(be);
	double s = 0;
	for (size_t i = 0; i < be->m->ntensors; i++) {
		const struct rc_clip_param *p = &be->m->tensors[i];
		if (groups & (1u << c->group[i]))
			s += rc_loss_l2_anchor(p->data, c->anchor + p->offset, p->numel, beta,
				c->grads + p->offset);
	}
	return s;
}

static double cpu_grad_norm(struct rc_backend *be)
{
	struct cpu *c = cpu_of(be);
	return rc_grad_norm(c->t, be->m->ntensors);
}

static long cpu_grad_nonfinite(struct rc_backend *be)
{
	struct cpu *c = cpu_of(be);
	size_t bad;
	return rc_grad_finite(c->t, be->m->ntensors, &bad) ? -1 : (long)bad;
}

static void cpu_grad_scale(struct rc_backend *be, float k)
{
	struct cpu *c = cpu_of(be);
	rc_grad_scale_all(c->t, be->m->ntensors, k);
}

static void cpu_adamw(struct rc_backend *be, const float *lr, const float *wd)
{
	struct cpu *c = cpu_of(be);
	c->opt->step = be->adamw_steps - 1;    /* rc_adamw_step counts it up */
	rc_adamw_step(c->opt, lr, wd);
}

static void cpu_clamp(struct rc_backend *be, size_t i, float max)
{
	float *p = be->m->tensors[i].data;
	if (*p > max)
		*p = max;
}

static const struct rc_backend_ops cpu_ops = {
	.name = "cpu",
	.destroy = cpu_destroy,
	.alloc = cpu_alloc,
	.release = cpu_release,
	.zero = cpu_zero,
	.copy = cpu_copy,
	.upload = cpu_move,
	.download = cpu_move,
	.buffer = cpu_buffer,
	.host = cpu_buffer,
	.commit = cpu_commit,
	.encode_images = cpu_encode_images,
	.encode_texts = cpu_encode_texts,
	.scores = cpu_scores,
	.topk = cpu_topk,
	.backward = cpu_backward,
	.loss_clip = cpu_loss_clip,
	.loss_siglip = cpu_loss_siglip,
	.heads = cpu_heads,
	.l2 = cpu_l2,
	.grad_norm = cpu_grad_norm,
	.grad_nonfinite = cpu_grad_nonfinite,
	.grad_scale = cpu_grad_scale,
	.adamw = cpu_adamw,
	.clamp = cpu_clamp,
	.loss_clip_rows = cpu_loss_clip_rows,
	.loss_siglip_rows = cpu_loss_siglip_rows,
};

/* ---------------------------------------------------------------- setup */

/* train_setup - gradients, the optimizer over the table in its order (so
 * that its moments are laid out as the parameters), the loss, the heads'
 * scratch and the anchor. */
static int train_setup(struct cpu *c, const struct rc_backend_opts *o)
{
	const struct rc_clip *m = c->be.m;
	int rc;
	if ((rc = rc_clip_grad_ws_new(&c->gw, m, c->ws)) < 0)
		return rc;
	if (!(c->grads = rc_calloc(m->nparams, sizeof *c->grads)) ||
	    !(c->t = rc_calloc(m->ntensors, sizeof *c->t)) ||
	    !(c->group = rc_malloc(m->ntensors * sizeof *c->group)))
		return RC_E_NOMEM;
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		c->group[i] = o->group[i];
		c->t[i] = (struct rc_optim_tensor){ p->name, p->data, c->grads + p->offset, p->numel,
			o->group[i], p->offset };
	}
	c->be.o.group = c->group;
	if ((rc = rc_adamw_new(&c->opt, c->t, m->ntensors, o->ngroups)) < 0)
		return rc;
	rc = o->siglip ? rc_loss_siglip_new(&c->ls, o->loss_rows) :
		rc_loss_clip_new(&c->lc, o->loss_rows);
	if (rc < 0)
		return rc;
	if (o->head_rows > 0 && !(c->hx = rc_calloc(2 * (size_t)o->head_rows *
	    RC_CLIP_HEAD_CLASSES, sizeof *c->hx)))
		return RC_E_NOMEM;
	c->dhx = c->hx ? c->hx + (size_t)o->head_rows * RC_CLIP_HEAD_CLASSES : NULL;
	if (o->anchor) {
		if (!(c->anchor = rc_malloc(m->nparams * sizeof *c->anchor)))
			return RC_E_NOMEM;
		memcpy(c->anchor, m->params, m->nparams * sizeof *c->anchor);
	}
	return 0;
}

/* lowp_setup - the packed weights of an inference backend in bf16 or int8,
 * for the largest product of either tower. */
static int lowp_setup(struct cpu *c, const struct rc_backend_opts *o)
{
	const struct rc_clip *m = c->be.m;
	const long long vi = (long long)o->max_images * rc_clip_config_image_tokens(&m->cfg);
	const long long tx = (long long)o->max_texts * m->cfg.text.max_position;
	int rc = rc_lowp_new(&c->lp, o->device.precision, (int)(vi > tx ? vi : tx));
	if (rc < 0)
		return rc;
	if ((rc = rc_lowp_pack_clip(c->lp, m, o->max_images > 0, o->max_texts > 0)) < 0)
		return rc;
	c->ws->lowp = c->lp;
	rc_log_debug("cpu: %s weights, %.1f MiB, on %s",
		o->device.precision == RC_PRECISION_INT8 ? "int8" : "bf16",
		rc_lowp_bytes(c->lp) / 1048576.0, rc_lowp_isa());
	return 0;
}

int rc_backend_cpu_threads(int n)
{
	return rc_ops_set_threads(n);
}

/* rc_backend_cpu_new - backend.c's constructor for RC_BACKEND_CPU, on
 * checked options. */
int rc_backend_cpu_new(struct rc_backend **out, struct rc_clip *m,
	const struct rc_backend_opts *o);

int rc_backend_cpu_new(struct rc_backend **out, struct rc_clip *m,
	const struct rc_backend_opts *o)
{
	struct cpu *c = rc_calloc(1, sizeof *c);
	if (!c)
		return RC_E_NOMEM;
	c->be.ops = &cpu_ops;
	c->be.m = m;
	c->be.o = *o;
	c->be.o.group = NULL;
	c->be.host_memory = 1;
	c->be.o.threads = rc_ops_set_threads(o->threads);
	if (o->recompute)
		rc_log_warn("cpu: recomputation is a device's; the CPU keeps every activation");
	int rc = 0;
	if (m) {
		const int S = m->cfg.vision.image_size;
		c->be.D = m->cfg.projection_dim;
		if ((rc = rc_clip_ws_new(&c->ws, m, o->max_images, o->max_texts,
		    o->train ? RC_CLIP_WS_TRAIN : 0)) < 0)
			goto fail;
		rc = RC_E_NOMEM;
		if (o->max_images > 0 && !(c->pixels = rc_malloc((size_t)o->max_images * 3 * S * S *
		    sizeof *c->pixels)))
			goto fail;
		if (o->train && (rc = train_setup(c, o)) < 0)
			goto fail;
		if (!o->train && (o->device.precision == RC_PRECISION_BF16 ||
		    o->device.precision == RC_PRECISION_INT8) && (rc = lowp_setup(c, o)) < 0)
			goto fail;
	}
	*out = &c->be;
	return 0;
fail:
	cpu_destroy(&c->be);
	return rc;
}
