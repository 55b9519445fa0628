/* siglip_cuda.cu - the CUDA backend's SigLIP pooling head (HF's
 * SiglipMultiheadAttentionPoolingHead): the probe's attention over every
 * post-layernormed token, out_proj, then pooled = h + MLP(LN(h)); its
 * buffers, forward and backward, in the order of the CPU's
 * siglip_cpu.c. The rest of a SigLIP tower is in tower_cuda.cu. */
#include "cuda/backend_cuda.h"

extern "C" {
#include "model/model.h"
}

void cu_map_bytes(struct cuda_be *c, struct cu_tower *t, struct cu_carve *cv, int grads)
{
	const size_t e = c->esize, B = (size_t)t->max_b, T = (size_t)t->max_t;
	const size_t C = (size_t)t->C, I = (size_t)t->I;
	if (grads) {
		struct cu_grads *g = &c->g;
		g->dmh = cu_take(cv, B * C * e);
		g->dmln = cu_take(cv, B * C * e);
		g->dmo = cu_take(cv, B * C * e);
		g->dmfa = cu_take(cv, B * I * e);
		g->dmfc = cu_take(cv, B * I * e);
		g->dmq = cu_take(cv, C * e);
		g->map_scratch = (float *)cu_take(cv, rc_cuda_attnpool_backward_scratch(t->max_b,
			t->C));
		return;
	}
	t->map_kv = cu_take(cv, B * T * 2 * C * e);
	t->map_q = cu_take(cv, C * e);
	t->map_att = cu_takef(cv, B * (size_t)t->H * T);
	t->map_o = cu_take(cv, B * C * e);
	t->map_h = cu_take(cv, B * C * e);
	t->map_ln = cu_take(cv, B * C * e);
	t->map_ln_mean = cu_takef(cv, B);
	t->map_ln_rstd = cu_takef(cv, B);
	t->map_fc = cu_take(cv, B * I * e);
	t->map_fc_act = cu_take(cv, B * I * e);
}

int cu_map_forward(struct cuda_be *c, struct cu_tower *t)
{
	const struct rc_clip_tower_config *tc = &c->be.m->cfg.vision;
	const struct rc_clip_tower_weights *w = &c->be.m->w.vision;
	const int B = t->B, T = t->T, C = t->C, I = t->I, dt = c->dtype;
	const size_t cc = (size_t)C * C;
	cudaStream_t s = c->stream;
	/* in_proj: rows [0,C) of the weight make the query, [C,3C) keys and values */
	RC(rc_cuda_matmul_forward(c->blas, t->map_kv, NULL, t->lnf, cu_w(c, w->map_qkv_w + cc),
		cu_w(c, w->map_qkv_b + C), B * T, C, 2 * C, RC_CUDA_ACT_NONE, dt));
	RC(rc_cuda_matmul_forward(c->blas, t->map_q, NULL, cu_w(c, w->probe), cu_w(c, w->map_qkv_w),
		cu_w(c, w->map_qkv_b), 1, C, C, RC_CUDA_ACT_NONE, dt));
	RC(rc_cuda_attnpool_forward(t->map_o, t->map_att, t->map_q, t->map_kv, B, T, C, t->H, dt,
		s));
	RC(rc_cuda_matmul_forward(c->blas, t->map_h, NULL, t->map_o, cu_w(c, w->map_out_w),
		cu_w(c, w->map_out_b), B, C, C, RC_CUDA_ACT_NONE, dt));
	RC(rc_cuda_layernorm_forward(t->map_ln, t->map_ln_mean, t->map_ln_rstd, t->map_h,
		cu_w(c, w->map_ln_w), cu_w(c, w->map_ln_b), B, C, (float)tc->layer_norm_eps, dt, s));
	RC(rc_cuda_matmul_forward(c->blas, t->map_fc_act, t->map_fc, t->map_ln,
		cu_w(c, w->map_fc1_w), cu_w(c, w->map_fc1_b), B, C, I, tc->act, dt));
	RC(rc_cuda_matmul_forward(c->blas, t->pooled, NULL, t->map_fc_act, cu_w(c, w->map_fc2_w),
		cu_w(c, w->map_fc2_b), B, I, C, RC_CUDA_ACT_NONE, dt));
	return rc_cuda_add(t->pooled, t->pooled, t->map_h, (size_t)B * C, dt, s);
}

static int zero(struct cuda_be *c, void *p, size_t bytes)
{
	CU(cudaMemsetAsync(p, 0, bytes, c->stream));
	return 0;
}

int cu_map_backward(struct cuda_be *c, struct cu_tower *t, void *dlnf)
{
	const struct rc_clip_tower_config *tc = &c->be.m->cfg.vision;
	const struct rc_clip_tower_weights *w = &c->be.m->w.vision;
	struct cu_grads *g = &c->g;
	const int B = t->B, T = t->T, C = t->C, I = t->I, dt = c->dtype;
	const size_t e = c->esize, bc = (size_t)B * C * e, bi = (size_t)B * I * e;
	const size_t cc = (size_t)C * C;
	float *sc = (float *)g->scratch;
	cudaStream_t s = c->stream;

	/* pooled = h + fc2(act(fc1(ln(h)))) */
	CU(cudaMemcpyAsync(g->dmh, g->dpooled, bc, cudaMemcpyDeviceToDevice, s));
	RC(zero(c, g->dmfa, bi));
	RC(rc_cuda_matmul_backward(c->blas, g->dmfa, cu_g(c, w->map_fc2_w), cu_g(c, w->map_fc2_b),
		sc, g->dpooled, t->map_fc_act, cu_w(c, w->map_fc2_w), B, I, C, dt));
	RC(zero(c, g->dmfc, bi));
	RC(rc_cuda_act_backward(g->dmfc, t->map_fc, g->dmfa, (size_t)B * I, tc->act, dt, s));
	RC(zero(c, g->dmln, bc));
	RC(rc_cuda_matmul_backward(c->blas, g->dmln, cu_g(c, w->map_fc1_w), cu_g(c, w->map_fc1_b),
		sc, g->dmfc, t->map_ln, cu_w(c, w->map_fc1_w), B, C, I, dt));
	RC(rc_cuda_layernorm_backward(g->dmh, cu_g(c, w->map_ln_w), cu_g(c, w->map_ln_b), sc,
		g->dmln, t->map_h, cu_w(c, w->map_ln_w), t->map_ln_mean, t->map_ln_rstd, B, C, dt,
		s));

	/* h = out_proj(o), o the probe's attention */
	RC(zero(c, g->dmo, bc));
	RC(rc_cuda_matmul_backward(c->blas, g->dmo, cu_g(c, w->map_out_w), cu_g(c, w->map_out_b),
		sc, g->dmh, t->map_o, cu_w(c, w->map_out_w), B, C, C, dt));
	RC(zero(c, g->dqkv, (size_t)B * T * 2 * C * e));
	RC(zero(c, g->dmq, (size_t)C * e));
	RC(rc_cuda_attnpool_backward(g->dqkv, g->dmq, g->map_scratch, g->dmo, t->map_q, t->map_kv,
		t->map_att, B, T, C, t->H, dt, s));

	/* keys and values from lnf, the query from the probe: the probe's
	 * gradient (fp32, a parameter's) by its own GEMM, dq·Wq */
	RC(rc_cuda_matmul_backward(c->blas, dlnf, cu_g(c, w->map_qkv_w + cc),
		cu_g(c, w->map_qkv_b + C), sc, g->dqkv, t->lnf, cu_w(c, w->map_qkv_w + cc), B * T, C,
		2 * C, dt));
	RC(rc_cuda_matmul_backward(c->blas, NULL, cu_g(c, w->map_qkv_w), cu_g(c, w->map_qkv_b), sc,
		g->dmq, cu_w(c, w->probe), cu_w(c, w->map_qkv_w), 1, C, C, dt));
	struct rc_cuda_gemm_args a;
	memset(&a, 0, sizeof a);
	a.M = 1, a.N = C, a.K = C, a.batch = 1;
	a.A = g->dmq, a.lda = C, a.B = cu_w(c, w->map_qkv_w), a.ldb = C;
	a.C = cu_g(c, w->probe), a.ldc = C, a.alpha = 1.0f, a.beta = 1.0f;
	a.ab_dtype = dt, a.c_dtype = RC_CUDA_F32;
	return rc_cuda_gemm(c->blas, &a);
}
