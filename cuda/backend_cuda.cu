/* backend_cuda.cu - the CUDA backend (model/backend.h): one GPU, one
 * stream; the model's parameters as fp32 masters on the device with the
 * compute copy the GEMMs read (fp32, or bf16 that AdamW refreshes), the
 * gradients, AdamW's moments and the L2 anchor laid out as the
 * parameters; the losses, heads and optimizer on the kernel families of
 * cuda/kernels.h; the towers in tower_cuda.cu. */
#include "cuda/backend_cuda.h"

#include <stdlib.h>

extern "C" {
#include "base/io.h"
#include "model/model.h"
}

#define SMALL 64   /* floats of small results: losses, the norm */

/* ---------------------------------------------------------------- memory */

static float *cu_alloc(struct rc_backend *be, size_t n)
{
	float *p = NULL;
	cudaError_t e = cudaMalloc((void **)&p, (n ? n : 1) * sizeof *p);
	if (e != cudaSuccess) {
		rc_log_error(RC_E_NOMEM, "cuda: %zu MiB of device memory: %s",
			(n * sizeof *p) >> 20, cudaGetErrorString(e));
		return NULL;
	}
	if (cudaMemsetAsync(p, 0, n * sizeof *p, cu_of(be)->stream) != cudaSuccess) {
		cudaFree(p);
		return NULL;
	}
	be->device_peak += n * sizeof *p;   /* the recipe's buffers live as long as the run */
	return p;
}

static void cu_release(struct rc_backend *be, float *p)
{
	cudaFree(p);
}

static void cu_zero(struct rc_backend *be, float *p, size_t n)
{
	cudaMemsetAsync(p, 0, n * sizeof *p, cu_of(be)->stream);
}

static void cu_copy(struct rc_backend *be, float *dst, const float *src, size_t n)
{
	if (dst != src)
		cudaMemcpyAsync(dst, src, n * sizeof *dst, cudaMemcpyDeviceToDevice,
			cu_of(be)->stream);
}

static int cu_upload(struct rc_backend *be, float *dst, const float *host, size_t n)
{
	CU(cudaMemcpyAsync(dst, host, n * sizeof *dst, cudaMemcpyHostToDevice, cu_of(be)->stream));
	CU(cudaStreamSynchronize(cu_of(be)->stream));
	return 0;
}

static int cu_download(struct rc_backend *be, float *host, const float *src, size_t n)
{
	CU(cudaMemcpyAsync(host, src, n * sizeof *host, cudaMemcpyDeviceToHost,
		cu_of(be)->stream));
	CU(cudaStreamSynchronize(cu_of(be)->stream));
	return 0;
}

static float *cu_buffer(struct rc_backend *be, int buf)
{
	struct cuda_be *c = cu_of(be);
	switch (buf) {
	case RC_BUF_PARAMS: return c->params;
	case RC_BUF_GRADS: return c->grads;
	case RC_BUF_EXP_AVG: return c->exp_avg;
	case RC_BUF_EXP_AVG_SQ: return c->exp_avg_sq;
	case RC_BUF_ANCHOR: return c->anchor;
	default: return NULL;
	}
}

static float *cu_host(struct rc_backend *be, int buf)
{
	struct cuda_be *c = cu_of(be);
	const size_t n = be->m->nparams;
	if (!c->host[buf] && !(c->host[buf] = (float *)rc_malloc(n * sizeof(float))))
		return NULL;
	return cu_download(be, c->host[buf], cu_buffer(be, buf), n) < 0 ? NULL : c->host[buf];
}

/* refresh - the compute copy of the weights from the masters (bf16). */
static int refresh(struct cuda_be *c)
{
	if (c->wc == (void *)c->params)
		return 0;
	return rc_cuda_cast(c->wc, c->dtype, c->params, RC_CUDA_F32, c->be.m->nparams, c->stream);
}

static int cu_commit(struct rc_backend *be, int buf)
{
	struct cuda_be *c = cu_of(be);
	if (!c->host[buf])
		return rc_log_error(RC_E_ARG, "cuda: commit of buffer %d without its host copy", buf);
	RC(cu_upload(be, cu_buffer(be, buf), c->host[buf], be->m->nparams));
	return buf == RC_BUF_PARAMS ? refresh(c) : 0;
}

/* page-locked: the images' upload is a DMA on the copy stream */
static void *cu_pinned_alloc(struct rc_backend *be, size_t bytes)
{
	void *p;
	(void)be;
	return cudaMallocHost(&p, bytes ? bytes : 1) == cudaSuccess ? p : NULL;
}

static void cu_pinned_free(struct rc_backend *be, void *p)
{
	(void)be;
	cudaFreeHost(p);
}

/* ---------------------------------------------------------------- forward */

static int cu_images(struct rc_backend *be, const uint8_t *rgb, int B, const float **emb)
{
	struct cuda_be *c = cu_of(be);
	RC(cu_encode_images(c, rgb, B));
	*emb = c->vision.emb;
	return 0;
}

static int cu_texts(struct rc_backend *be, const int32_t *ids, int B, int T, const float **emb)
{
	struct cuda_be *c = cu_of(be);
	RC(cu_encode_texts(c, ids, B, T));
	*emb = c->text.emb;
	return 0;
}

/* gemm_f32 - C[M,N] = A[M,K]·B[N,K]ᵀ (beta 0) or += (beta 1), fp32. */
static int gemm_f32(struct cuda_be *c, float *C, const float *A, const float *B, int M, int N,
	int K, float beta, int transa, int transb)
{
	struct rc_cuda_gemm_args g;
	memset(&g, 0, sizeof g);
	g.M = M, g.N = N, g.K = K, g.batch = 1, g.transa = transa, g.transb = transb;
	g.A = A, g.lda = transa ? M : K, g.B = B, g.ldb = transb ? K : N;
	g.C = C, g.ldc = N, g.alpha = 1.0f, g.beta = beta;
	g.ab_dtype = g.c_dtype = RC_CUDA_F32;
	return rc_cuda_gemm(c->blas, &g);
}

/* cu_scores - host embeddings: upload, one GEMM, download, in blocks of
 * rows that fit the loss's buffer. */
static int cu_scores(struct rc_backend *be, float *out, const float *a, size_t na,
	const float *b, size_t nb, size_t D)
{
	struct cuda_be *c = cu_of(be);
	float *da = NULL, *db = NULL, *dc = NULL;
	cudaError_t e;
	int rc = 0;
	if ((e = cudaMalloc((void **)&da, na * D * sizeof *da)) != cudaSuccess ||
	    (e = cudaMalloc((void **)&db, nb * D * sizeof *db)) != cudaSuccess ||
	    (e = cudaMalloc((void **)&dc, na * nb * sizeof *dc)) != cudaSuccess) {
		rc = rc_log_error(RC_E_NOMEM, "cuda: scores of %zu x %zu: %s", na, nb,
			cudaGetErrorString(e));
		goto out;
	}
	if ((rc = cu_upload(be, da, a, na * D)) < 0 || (rc = cu_upload(be, db, b, nb * D)) < 0 ||
	    (rc = gemm_f32(c, dc, da, db, (int)na, (int)nb, (int)D, 0.0f, 0, 1)) < 0)
		goto out;
	rc = cu_download(be, out, dc, na * nb);
out:
	cudaFree(da), cudaFree(db), cudaFree(dc);
	return rc;
}

/* cu_topk - no search on the device yet: rclip-retrieve searches with the
 * CPU backend, whose tiles and heaps read the mapped gallery directly. */
static int cu_topk(struct rc_backend *be, const float *gallery, size_t n, size_t d,
	const float *queries, size_t q, const struct rc_topk_opts *o, float *score,
	int64_t *index)
{
	return rc_log_error(RC_E_UNSUPPORTED, "cuda: search is not on the GPU yet; search with "
		"--device cpu");
}

/* ---------------------------------------------------------------- training */

static int cu_back(struct rc_backend *be, const float *dimg, const float *dtxt,
	const struct rc_grads_sink *sink)
{
	return cu_backward(cu_of(be), dimg, dtxt, sink);
}

/* read_small - n floats of the small results buffer, after the stream. */
static int read_small(struct cuda_be *c, float *out, int n)
{
	return cu_download(&c->be, out, c->small, (size_t)n);
}

/* scalar_grad - where the gradient of the scalar parameter at host view p
 * goes: its gradient, or a sink when this rank does not count it. */
static float *scalar_grad(struct cuda_be *c, const float *p, int keep)
{
	return keep ? cu_g(c, p) : c->small + SMALL - 1;   /* a sink */
}

/* A contrastive loss on the device: P = txt·imgᵀ [B,B] (the dot
 * products: the loss kernels scale them by exp(logit_scale) themselves),
 * the loss's forward into small[0] and backward into dP, then dimg +=
 * dPᵀ·txt and dtxt += dP·img. */
static int products(struct cuda_be *c, const float *img, const float *txt, int B)
{
	return gemm_f32(c, c->P, txt, img, B, B, c->be.D, 0.0f, 0, 1);
}

static double spread(struct cuda_be *c, const float *img, const float *txt, int B, float *dimg,
	float *dtxt)
{
	float loss = NAN;
	const int D = c->be.D;
	if (gemm_f32(c, dtxt, c->dP, img, B, D, B, 1.0f, 0, 0) < 0 ||
	    gemm_f32(c, dimg, c->dP, txt, B, D, B, 1.0f, 1, 0) < 0 || read_small(c, &loss, 1) < 0)
		return NAN;
	return loss;
}

/* cu_loss_clip_rows - the CLIP loss of the gathered batch with the
 * gradient of rows [lo, lo+n) in the rank-local form (all rows: the whole
 * loss's), as cpu_loss_clip_rows */
static double cu_loss_clip_rows(struct rc_backend *be, const float *img, const float *txt, int B,
	int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale)
{
	struct cuda_be *c = cu_of(be);
	const float *s = cu_p(c, be->m->w.logit_scale);
	if (products(c, img, txt, B) < 0 ||
	    rc_cuda_loss_clip_forward(c->small, c->lse, c->loss_scratch, c->P, s, B, c->stream) < 0 ||
	    rc_cuda_loss_clip_backward_rows(c->dP, scalar_grad(c, be->m->w.logit_scale, grad_scale),
		c->loss_scratch, c->P, c->lse, s, B, lo, n, dloss, c->stream) < 0)
		return NAN;
	return spread(c, img, txt, B, dimg, dtxt);
}

static double cu_loss_clip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale)
{
	return cu_loss_clip_rows(be, img, txt, B, 0, B, dloss, dimg, dtxt, grad_scale);
}

static double cu_loss_siglip_rows(struct rc_backend *be, const float *img, const float *txt,
	int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale)
{
	struct cuda_be *c = cu_of(be);
	const struct rc_clip_weights *w = &be->m->w;
	const float *s = cu_p(c, w->logit_scale), *bias = cu_p(c, w->logit_bias);
	if (products(c, img, txt, B) < 0 ||
	    rc_cuda_loss_siglip_forward(c->small, c->loss_scratch, c->P, s, bias, B, c->stream) < 0 ||
	    rc_cuda_loss_siglip_backward_rows(c->dP, scalar_grad(c, w->logit_scale, grad_scale),
		scalar_grad(c, w->logit_bias, grad_scale), c->loss_scratch, c->P, s, bias, B, lo, n,
		dloss, c->stream) < 0)
		return NAN;
	return spread(c, img, txt, B, dimg, dtxt);
}

static double cu_loss_siglip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale)
{
	return cu_loss_siglip_rows(be, img, txt, B, 0, B, dloss, dimg, dtxt, grad_scale);
}

/* one head: hx = emb·Wᵀ + b, its loss into small[k], then the gradients
 * of W, b and emb (fp32 throughout: the heads are Linear(D, 5)) */
static int head(struct cuda_be *c, int k, const float *emb, const float *W, const float *b,
	int n, const uint8_t *cls, const float *multi, int norm, float dloss, float *demb)
{
	const int D = c->be.D, K = RC_CLIP_HEAD_CLASSES;
	RC(rc_cuda_matmul_forward(c->blas, c->hx, NULL, emb, cu_p(c, W), cu_p(c, b), n, D, K,
		RC_CUDA_ACT_NONE, RC_CUDA_F32));
	CU(cudaMemsetAsync(c->dhx, 0, (size_t)n * K * sizeof *c->dhx, c->stream));
	if (cls)
		RC(rc_cuda_loss_softmax_ce(c->small + k, c->dhx, c->loss_scratch, c->hx, cls, n, K,
			norm, dloss, c->stream));
	else
		RC(rc_cuda_loss_bce_logits(c->small + k, c->dhx, c->loss_scratch, c->hx, multi, n, K,
			norm, dloss, c->stream));
	return rc_cuda_matmul_backward(c->blas, demb, cu_g(c, W), cu_g(c, b),
		(float *)c->g.scratch, c->dhx, emb, cu_p(c, W), n, D, K, RC_CUDA_F32);
}

static void cu_heads(struct rc_backend *be, const float *txt, const float *img, int n,
	const uint8_t *cls, const float *multi, int norm, float dloss, float *dtxt, float *dimg,
	double part[2])
{
	struct cuda_be *c = cu_of(be);
	const struct rc_clip_weights *w = &be->m->w;
	float got[2] = { NAN, NAN };
	part[0] = part[1] = NAN;
	if (cudaMemcpyAsync(c->cls, cls, (size_t)n, cudaMemcpyHostToDevice, c->stream) ||
	    cudaMemcpyAsync(c->multi, multi, (size_t)n * RC_CLIP_HEAD_CLASSES * sizeof *multi,
		cudaMemcpyHostToDevice, c->stream) ||
	    head(c, 1, txt, w->text_head_w, w->text_head_b, n, c->cls, NULL, norm, dloss, dtxt) < 0 ||
	    head(c, 2, img, w->image_head_w, w->image_head_b, n, NULL, c->multi, norm, dloss,
		dimg) < 0 ||
	    cu_download(be, got, c->small + 1, 2) < 0)
		return;
	part[0] = got[0], part[1] = got[1];
}

static double cu_l2(struct rc_backend *be, float beta, unsigned groups)
{
	struct cuda_be *c = cu_of(be);
	float l = NAN;
	if (rc_cuda_loss_l2_anchor(c->small + 3, c->grads, c->loss_scratch, c->params, c->anchor,
	    c->table_d, (int)be->m->ntensors, be->m->nparams, groups, beta, c->stream) < 0 ||
	    cu_download(be, &l, c->small + 3, 1) < 0)
		return NAN;
	return l;
}

static double cu_grad_norm(struct rc_backend *be)
{
	struct cuda_be *c = cu_of(be);
	float norm = NAN;
	if (rc_cuda_grad_norm(c->small + 4, c->loss_scratch, c->grads, be->m->nparams,
	    c->stream) < 0 || cu_download(be, &norm, c->small + 4, 1) < 0)
		return NAN;
	return norm;
}

static long cu_grad_nonfinite(struct rc_backend *be)
{
	struct cuda_be *c = cu_of(be);
	int bad = 0;
	if (rc_cuda_grad_finite(c->flag, c->loss_scratch, c->grads, c->table_d,
	    (int)be->m->ntensors, be->m->nparams, c->stream) < 0 ||
	    cudaMemcpy(&bad, c->flag, sizeof bad, cudaMemcpyDeviceToHost) != cudaSuccess)
		return 0;
	return bad < 0 ? -1 : c->order[bad];   /* the first bad tensor in memory order */
}

static void cu_grad_scale(struct rc_backend *be, float k)
{
	struct cuda_be *c = cu_of(be);
	rc_cuda_grad_scale_all(c->grads, be->m->nparams, k, c->stream);
}

static void cu_adamw(struct rc_backend *be, const float *lr, const float *wd)
{
	struct cuda_be *c = cu_of(be);
	rc_cuda_adamw_step(c->params, c->wc == (void *)c->params ? NULL : c->wc, c->exp_avg,
		c->exp_avg_sq, c->grads, c->table_d, (int)be->m->ntensors, be->m->nparams,
		be->o.ngroups, lr, wd, be->adamw_steps, 0.9f, 0.999f, 1e-8f, c->stream);
}

static void cu_clamp(struct rc_backend *be, size_t i, float max)
{
	struct cuda_be *c = cu_of(be);
	const struct rc_clip_param *p = &be->m->tensors[i];
	float v;
	if (cu_download(be, &v, c->params + p->offset, 1) < 0 || !(v > max))
		return;
	cu_upload(be, c->params + p->offset, &max, 1);
	if (c->wc != (void *)c->params)
		rc_cuda_cast((char *)c->wc + p->offset * c->esize, c->dtype, c->params + p->offset,
			RC_CUDA_F32, 1, c->stream);
}

/* ---------------------------------------------------------------- setup */

static void cu_destroy(struct rc_backend *be)
{
	struct cuda_be *c = cu_of(be);
	if (c->stream)
		cudaStreamSynchronize(c->stream);
	rc_cuda_blas_destroy(c->blas);
	cudaFree(c->params), cudaFree(c->grads), cudaFree(c->exp_avg), cudaFree(c->exp_avg_sq);
	cudaFree(c->anchor), cudaFree(c->act), cudaFree(c->P), cudaFree(c->small);
	cudaFree(c->loss_scratch), cudaFree(c->hx), cudaFree(c->cls), cudaFree(c->multi);
	cudaFree(c->flag), cudaFree(c->table_d);
	if (c->wc != (void *)c->params)
		cudaFree(c->wc);
	for (int k = 1; k < RC_BUF_COUNT; k++)
		free(c->host[k]);
	free(c->table);
	free(c->order);
	free(c->layers);
	free(c->vision.host_ids);
	free(c->text.host_ids);
	if (c->copy)
		cudaStreamSynchronize(c->copy), cudaStreamDestroy(c->copy);
	if (c->rgb_free)
		cudaEventDestroy(c->rgb_free);
	if (c->uploaded)
		cudaEventDestroy(c->uploaded);
	if (c->stream)
		cudaStreamDestroy(c->stream);
	free(c);
}

static const struct rc_backend_ops cuda_ops = {
	.name = "cuda",
	.destroy = cu_destroy,
	.alloc = cu_alloc,
	.release = cu_release,
	.zero = cu_zero,
	.copy = cu_copy,
	.upload = cu_upload,
	.download = cu_download,
	.buffer = cu_buffer,
	.host = cu_host,
	.commit = cu_commit,
	.pinned_alloc = cu_pinned_alloc,
	.pinned_free = cu_pinned_free,
	.encode_images = cu_images,
	.encode_texts = cu_texts,
	.scores = cu_scores,
	.topk = cu_topk,
	.backward = cu_back,
	.loss_clip = cu_loss_clip,
	.loss_siglip = cu_loss_siglip,
	.heads = cu_heads,
	.l2 = cu_l2,
	.grad_norm = cu_grad_norm,
	.grad_nonfinite = cu_grad_nonfinite,
	.grad_scale = cu_grad_scale,
	.adamw = cu_adamw,
	.clamp = cu_clamp,
	.loss_clip_rows = cu_loss_clip_rows,
	.loss_siglip_rows = cu_loss_siglip_rows,
};

/* dmalloc - n bytes of device memory into *p, zeroed. */
static int dmalloc(struct cuda_be *c, void **p, size_t n)
{
	cudaError_t e = cudaMalloc(p, n ? n : 1);
	if (e != cudaSuccess) {
		*p = NULL;
		rc_log_error(RC_E_NOMEM, "cuda: %zu MiB of device memory: %s", n >> 20,
			cudaGetErrorString(e));
		rc_log_hint("a smaller --batch, or --precision bf16, needs less");
		return RC_E_NOMEM;
	}
	CU(cudaMemsetAsync(*p, 0, n ? n : 1, c->stream));
	c->be.device_peak += n;
	return 0;
}

static int by_offset(const void *a, const void *b, void *ctx)
{
	const struct rc_clip *m = (const struct rc_clip *)ctx;
	const size_t x = m->tensors[*(const int *)a].offset, y = m->tensors[*(const int *)b].offset;
	return (x > y) - (x < y);
}

/* model_setup - the parameters on the device (masters, compute copy), the
 * table the optimizer and the L2 pull read. */
static int model_setup(struct cuda_be *c, const struct rc_backend_opts *o)
{
	const struct rc_clip *m = c->be.m;
	const size_t n = m->nparams;
	RC(dmalloc(c, (void **)&c->params, n * sizeof(float)));
	CU(cudaMemcpyAsync(c->params, m->params, n * sizeof(float), cudaMemcpyHostToDevice,
		c->stream));
	if (c->dtype == RC_CUDA_F32)
		c->wc = c->params;
	else {
		RC(dmalloc(c, &c->wc, n * c->esize));
		RC(refresh(c));
	}
	c->host[RC_BUF_PARAMS] = m->params;
	if (!o->train)
		return 0;
	/* the kernels walk the table in memory order; the model lists tensors
	 * by layer while they lie by kind */
	if (!(c->table = (struct rc_cuda_tensor *)rc_calloc(m->ntensors, sizeof *c->table)) ||
	    !(c->order = (int *)rc_malloc(m->ntensors * sizeof *c->order)))
		return RC_E_NOMEM;
	for (size_t i = 0; i < m->ntensors; i++)
		c->order[i] = (int)i;
	qsort_r(c->order, m->ntensors, sizeof *c->order, by_offset, (void *)m);
	for (size_t k = 0; k < m->ntensors; k++) {
		const struct rc_clip_param *p = &m->tensors[c->order[k]];
		c->table[k] = (struct rc_cuda_tensor){ p->offset, p->numel, o->group[c->order[k]] };
	}
	size_t N;
	RC(rc_cuda_tensor_table_check(c->table, (int)m->ntensors, o->ngroups, &N));
	RC(dmalloc(c, (void **)&c->table_d, m->ntensors * sizeof *c->table));
	CU(cudaMemcpyAsync(c->table_d, c->table, m->ntensors * sizeof *c->table,
		cudaMemcpyHostToDevice, c->stream));
	RC(dmalloc(c, (void **)&c->grads, n * sizeof(float)));
	RC(dmalloc(c, (void **)&c->exp_avg, n * sizeof(float)));
	RC(dmalloc(c, (void **)&c->exp_avg_sq, n * sizeof(float)));
	if (o->anchor) {
		RC(dmalloc(c, (void **)&c->anchor, n * sizeof(float)));
		CU(cudaMemcpyAsync(c->anchor, c->params, n * sizeof(float),
			cudaMemcpyDeviceToDevice, c->stream));
	}
	return 0;
}

/* work_setup - the activations (and, training, the backward's scratch and
 * the losses' buffers). */
static int work_setup(struct cuda_be *c, const struct rc_backend_opts *o)
{
	const struct rc_clip_config *cfg = &c->be.m->cfg;
	if (!(c->layers = (struct cu_layer *)rc_calloc((size_t)cfg->vision.layers +
	    cfg->text.layers, sizeof *c->layers)))
		return RC_E_NOMEM;
	if (o->max_texts && !(c->text.host_ids = (int32_t *)rc_malloc(((size_t)o->max_texts *
	    cfg->text.max_position + o->max_texts) * sizeof(int32_t))))
		return RC_E_NOMEM;
	int32_t *keep = c->text.host_ids;
	size_t nv = cu_tower_bytes(c, 0, o->max_images, o->train, NULL);
	c->text.host_ids = keep;
	size_t nt = cu_tower_bytes(c, 1, o->max_texts, o->train, NULL);
	size_t ng = o->train ? cu_grads_bytes(c, NULL) : 0;
	rc_log_debug("cuda: %.1f MiB of activations, %.1f MiB of backward scratch",
		(double)(nv + nt) / 1048576.0, (double)ng / 1048576.0);
	RC(dmalloc(c, &c->act, nv + nt + ng));
	cu_tower_bytes(c, 0, o->max_images, o->train, (char *)c->act);
	c->text.host_ids = keep;
	cu_tower_bytes(c, 1, o->max_texts, o->train, (char *)c->act + nv);
	if (o->train)
		cu_grads_bytes(c, (char *)c->act + nv + nt);
	RC(dmalloc(c, (void **)&c->small, SMALL * sizeof(float)));
	RC(dmalloc(c, (void **)&c->flag, sizeof(int)));
	if (!o->train)
		return 0;
	const size_t B = (size_t)o->loss_rows, n = (size_t)(o->head_rows ? o->head_rows : 1);
	size_t ls = rc_cuda_loss_clip_scratch(o->loss_rows);
	ls = ls > rc_cuda_loss_siglip_scratch(o->loss_rows) ? ls :
		rc_cuda_loss_siglip_scratch(o->loss_rows);
	ls = ls > rc_cuda_loss_heads_scratch((int)n, RC_CLIP_HEAD_CLASSES) ? ls :
		rc_cuda_loss_heads_scratch((int)n, RC_CLIP_HEAD_CLASSES);
	ls = ls > rc_cuda_loss_l2_scratch(c->be.m->nparams) ? ls :
		rc_cuda_loss_l2_scratch(c->be.m->nparams);
	ls = ls > rc_cuda_grad_scratch(c->be.m->nparams) ? ls :
		rc_cuda_grad_scratch(c->be.m->nparams);
	RC(dmalloc(c, (void **)&c->P, (2 * B * B + 2 * B) * sizeof(float)));
	c->dP = c->P + B * B;
	c->lse = c->dP + B * B;
	RC(dmalloc(c, &c->loss_scratch, ls));
	RC(dmalloc(c, (void **)&c->hx, 2 * n * RC_CLIP_HEAD_CLASSES * sizeof(float)));
	c->dhx = c->hx + n * RC_CLIP_HEAD_CLASSES;
	RC(dmalloc(c, (void **)&c->cls, n));
	RC(dmalloc(c, (void **)&c->multi, n * RC_CLIP_HEAD_CLASSES * sizeof(float)));
	return 0;
}

extern "C" int rc_cuda_device_count(void)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		cudaGetLastError();   /* no driver: not an error to keep */
		return 0;
	}
	return n;
}

/* rc_backend_cuda_new - backend.c's constructor for RC_BACKEND_CUDA, on
 * checked options. The compute dtype: bf16 unless o->device.precision asks for
 * fp32 (the parity mode). */
extern "C" int rc_backend_cuda_new(struct rc_backend **out, struct rc_clip *m,
	const struct rc_backend_opts *o)
{
	*out = NULL;
	const int ngpu = rc_cuda_device_count();
	if (o->device.index >= ngpu)
		return rc_log_error(RC_E_UNSUPPORTED, "cuda:%d: %s", o->device.index, ngpu ?
			"no such GPU" : "no GPU (or no driver) on this machine");
	struct cuda_be *c = (struct cuda_be *)rc_calloc(1, sizeof *c);
	if (!c)
		return RC_E_NOMEM;
	c->be.ops = &cuda_ops;
	c->be.m = m;
	c->be.o = *o;
	c->be.o.group = NULL;
	c->be.host_memory = 0;
	c->be.D = m ? m->cfg.projection_dim : 0;
	c->gpu = o->device.index;
	c->dtype = o->device.precision == RC_PRECISION_FP32 ? RC_CUDA_F32 : RC_CUDA_BF16;
	c->recompute = o->train && o->recompute;
	c->esize = c->dtype == RC_CUDA_F32 ? sizeof(float) : sizeof(rc_bf16);
	int rc = RC_E_UNSUPPORTED;
	cudaError_t e;
	if ((e = cudaSetDevice(c->gpu)) != cudaSuccess ||
	    (e = cudaStreamCreate(&c->stream)) != cudaSuccess ||
	    (e = cudaStreamCreateWithFlags(&c->copy, cudaStreamNonBlocking)) != cudaSuccess ||
	    (e = cudaEventCreateWithFlags(&c->rgb_free, cudaEventDisableTiming)) != cudaSuccess ||
	    (e = cudaEventCreateWithFlags(&c->uploaded, cudaEventDisableTiming)) != cudaSuccess ||
	    (e = cudaEventRecord(c->rgb_free, c->stream)) != cudaSuccess) {
		rc_log_error(rc, "cuda:%d: %s", c->gpu, cudaGetErrorString(e));
		goto fail;
	}
	if ((rc = rc_cuda_blas_create(&c->blas, c->stream)) < 0)
		goto fail;
	c->be.device_peak += (size_t)32 << 20;   /* cuBLASLt's workspace (gemm.cu) */
	if (m && ((rc = model_setup(c, o)) < 0 || (rc = work_setup(c, o)) < 0))
		goto fail;
	if ((e = cudaStreamSynchronize(c->stream)) != cudaSuccess) {
		rc = rc_log_error(RC_E_UNSUPPORTED, "cuda:%d: %s", c->gpu, cudaGetErrorString(e));
		goto fail;
	}
	*out = &c->be;
	return 0;
fail:
	cu_destroy(&c->be);
	return rc;
}
