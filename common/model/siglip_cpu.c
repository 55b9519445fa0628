/* siglip_cpu.c - the attention-pooling head of SigLIP's image tower
 * (HF's SiglipMultiheadAttentionPoolingHead) forward and backward on the
 * CPU (cpu.h): one learned query, the probe, attends over every token of
 * the post-layernormed last hidden state; what the towers share with CLIP
 * is in forward.c and backward.c. */
#include "model/cpu.h"

#include <math.h>
#include <string.h>

#include "base/arena.h"
#include "model/ops_cpu.h"

/* attend - for row b, head h: the probe's scores over the T keys, their
 * softmax into p[T], and o[hd] = Σ p·v. nn.MultiheadAttention scales the
 * query (q · (hd)^-½ in float) before the product. */
static void attend(const float *q, float scale, const float *kv, int T, int C, int hd, float *p,
	float *o)
{
	float mx = -INFINITY;
	for (int t = 0; t < T; t++) {
		const float *k = kv + (size_t)t * 2 * C;
		double s = 0;
		for (int d = 0; d < hd; d++)
			s += (double)(q[d] * scale) * k[d];
		p[t] = (float)s;
		mx = p[t] > mx ? p[t] : mx;
	}
	double sum = 0;
	for (int t = 0; t < T; t++) {
		p[t] = expf(p[t] - mx);
		sum += p[t];
	}
	const float inv = (float)(1.0 / sum);
	for (int t = 0; t < T; t++)
		p[t] *= inv;
	for (int d = 0; d < hd; d++) {
		double s = 0;
		for (int t = 0; t < T; t++)
			s += (double)p[t] * kv[(size_t)t * 2 * C + C + d];
		o[d] = (float)s;
	}
}

void rc_siglip_attend(float *o, float *p, const float *q, const float *kv, int B, int T, int C,
	int H)
{
	const int hd = C / H;
	const float scale = (float)sqrt(1.0 / hd);
	#pragma omp parallel for schedule(static)
	for (int bh = 0; bh < B * H; bh++) {
		int b = bh / H, h = bh % H;
		attend(q + (size_t)h * hd, scale, kv + (size_t)b * T * 2 * C + (size_t)h * hd, T, C,
			hd, p + (size_t)bh * T, o + (size_t)b * C + (size_t)h * hd);
	}
}

/* o = softmax(q·kᵀ)·v per (b, h), q scaled: dk = ds·q, dv = p·do, and
 * the query's gradient summed over the batch. Each (b, h) writes its own
 * columns of dkv; dq's sums are per h. */
void rc_siglip_attend_backward(float *dkv, float *dq, const float *dout, const float *q,
	const float *kv, const float *att, int B, int T, int C, int H, float *scratch)
{
	const int hd = C / H;
	const float scale = (float)sqrt(1.0 / hd);
	float *dsc = scratch;
	#pragma omp parallel for schedule(static)
	for (int bh = 0; bh < B * H; bh++) {
		int b = bh / H, h = bh % H;
		const float *p = att + (size_t)bh * T, *qh = q + (size_t)h * hd;
		const float *kvh = kv + (size_t)b * T * 2 * C + (size_t)h * hd;
		const float *go = dout + (size_t)b * C + (size_t)h * hd;
		float *gkv = dkv + (size_t)b * T * 2 * C + (size_t)h * hd;
		double pdp = 0;
		for (int s = 0; s < T; s++) {
			double dp = 0;
			for (int d = 0; d < hd; d++)
				dp += (double)go[d] * kvh[(size_t)s * 2 * C + C + d];
			pdp += p[s] * dp;
		}
		for (int s = 0; s < T; s++) {
			const float *vs = kvh + (size_t)s * 2 * C + C;
			double dp = 0;
			for (int d = 0; d < hd; d++)
				dp += (double)go[d] * vs[d];
			float ds = (float)(p[s] * (dp - pdp));
			dsc[(size_t)bh * T + s] = ds;
			for (int d = 0; d < hd; d++) {
				gkv[(size_t)s * 2 * C + d] += ds * (qh[d] * scale);
				gkv[(size_t)s * 2 * C + C + d] += p[s] * go[d];
			}
		}
	}
	/* the unscaled query's gradient: scale · Σ_b Σ_s ds·k, per column */
	#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		const int h = c / hd;
		double s = 0;
		for (int b = 0; b < B; b++) {
			const float *ds = dsc + ((size_t)b * H + h) * T;
			const float *k = kv + (size_t)b * T * 2 * C + c;
			for (int u = 0; u < T; u++)
				s += (double)ds[u] * k[(size_t)u * 2 * C];
		}
		dq[c] += (float)(s * scale);
	}
}

void rc_siglip_map_forward(const struct rc_clip_tower_config *t,
	const struct rc_clip_tower_weights *w, struct rc_clip_acts *a)
{
	const int B = a->B, T = a->T, C = t->hidden, H = t->heads, I = t->intermediate;

	/* in_proj: rows [0,C) of the weight make the query, [C,3C) keys and values */
	rc_ops_matmul(a->map_kv, a->lnf, w->map_qkv_w + (size_t)C * C, w->map_qkv_b + C, B * T, C,
		2 * C);
	rc_ops_matmul(a->map_q, w->probe, w->map_qkv_w, w->map_qkv_b, 1, C, C);
	rc_siglip_attend(a->map_o, a->map_att, a->map_q, a->map_kv, B, T, C, H);
	rc_ops_matmul(a->map_h, a->map_o, w->map_out_w, w->map_out_b, B, C, C);
	rc_ops_layernorm(a->map_ln, a->map_ln_mean, a->map_ln_rstd, a->map_h, w->map_ln_w,
		w->map_ln_b, B, C, (float)t->layer_norm_eps);
	rc_ops_matmul(a->map_fc, a->map_ln, w->map_fc1_w, w->map_fc1_b, B, C, I);
	rc_ops_act(a->map_fc_act, a->map_fc, (size_t)B * I, t->act);
	rc_ops_matmul(a->pooled, a->map_fc_act, w->map_fc2_w, w->map_fc2_b, B, I, C);
	rc_ops_add(a->pooled, a->pooled, a->map_h, (size_t)B * C);
}

size_t rc_siglip_map_scratch(size_t B, size_t T, size_t C, size_t I)
{
	/* dh, dln, do [B,C]; dfa, dfc [B,I]; dkv [B,T,2C]; ds [B,H ≤ C,T];
	 * dq [C]; 16-float alignment of each */
	return 3 * (B * C + 16) + 2 * (B * I + 16) + (B * T * 2 * C + 16) + (B * C * T + 16) +
		C + 16;
}

void rc_siglip_map_backward(const struct rc_clip_tower_config *t,
	const struct rc_clip_tower_weights *w, const struct rc_clip_tower_weights *g,
	const struct rc_clip_acts *a, const float *dpooled, float *dlnf, float *scratch)
{
	const int B = a->B, T = a->T, C = t->hidden, H = t->heads, I = t->intermediate;
	const size_t bc = (size_t)B * C, bi = (size_t)B * I;
	struct rc_carve cv = { scratch, 0, 16 };
	float *dh = rc_carve(&cv, bc), *dln = rc_carve(&cv, bc), *dout = rc_carve(&cv, bc);
	float *dfa = rc_carve(&cv, bi), *dfc = rc_carve(&cv, bi);
	float *dkv = rc_carve(&cv, (size_t)B * T * 2 * C), *dsc = rc_carve(&cv, (size_t)B * H * T);
	float *dq = rc_carve(&cv, C);

	/* pooled = h + fc2(act(fc1(ln(h)))) */
	memcpy(dh, dpooled, bc * sizeof *dh);
	memset(dfa, 0, bi * sizeof *dfa);
	rc_ops_matmul_backward(dfa, g->map_fc2_w, g->map_fc2_b, dpooled, a->map_fc_act,
		w->map_fc2_w, B, I, C);
	memset(dfc, 0, bi * sizeof *dfc);
	rc_ops_act_backward(dfc, a->map_fc, dfa, bi, t->act);
	memset(dln, 0, bc * sizeof *dln);
	rc_ops_matmul_backward(dln, g->map_fc1_w, g->map_fc1_b, dfc, a->map_ln, w->map_fc1_w, B,
		C, I);
	rc_ops_layernorm_backward(dh, g->map_ln_w, g->map_ln_b, dln, a->map_h, w->map_ln_w,
		a->map_ln_mean, a->map_ln_rstd, B, C);

	/* h = out_proj(o) */
	memset(dout, 0, bc * sizeof *dout);
	rc_ops_matmul_backward(dout, g->map_out_w, g->map_out_b, dh, a->map_o, w->map_out_w, B, C,
		C);

	memset(dkv, 0, (size_t)B * T * 2 * C * sizeof *dkv);
	memset(dq, 0, (size_t)C * sizeof *dq);
	rc_siglip_attend_backward(dkv, dq, dout, a->map_q, a->map_kv, a->map_att, B, T, C, H, dsc);

	/* keys and values from lnf, the query from the probe */
	rc_ops_matmul_backward(dlnf, g->map_qkv_w + (size_t)C * C, g->map_qkv_b + C, dkv, a->lnf,
		w->map_qkv_w + (size_t)C * C, B * T, C, 2 * C);
	rc_ops_matmul_backward(g->probe, g->map_qkv_w, g->map_qkv_b, dq, w->probe, w->map_qkv_w, 1,
		C, C);
}
