/* init.c - a CLIP model from random numbers, as transformers'
 * CLIPPreTrainedModel._init_weights draws it (initializer_range 0.02,
 * initializer_factor 1), for training from scratch: the base model of
 * the synthetic world, and tests. */
#include <math.h>
#include <string.h>

#include "model/model.h"
#include "base/rng.h"

/* normal - n draws of N(0, std²) (Box-Muller on 53-bit uniforms). */
static void normal(float *x, size_t n, double std, uint64_t *s)
{
	for (size_t i = 0; i < n; i += 2) {
		double u1 = (double)((rc_rng_next(s) >> 11) + 1) * 0x1.0p-53;   /* (0, 1] */
		double u2 = rc_rng_unit(s);
		double r = sqrt(-2.0 * log(u1)) * std;
		x[i] = (float)(r * cos(2 * M_PI * u2));
		if (i + 1 < n)
			x[i + 1] = (float)(r * sin(2 * M_PI * u2));
	}
}

static void fill(float *x, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		x[i] = v;
}

static void tower(const struct rc_clip_tower_config *c, struct rc_clip_tower_weights *w,
	int vision, int T, uint64_t *s)
{
	const size_t C = (size_t)c->hidden, I = (size_t)c->intermediate, L = (size_t)c->layers;
	const double in_std = pow((double)C, -0.5) * pow(2.0 * (double)L, -0.5);
	const double out_std = pow((double)C, -0.5), fc_std = pow(2.0 * (double)C, -0.5);
	if (vision && !w->cls) {           /* SigLIP: no class token, no pre-LN */
		const size_t P = (size_t)c->patch_size;
		normal(w->patch_w, C * 3 * P * P, 0.02, s);
		fill(w->patch_b, C, 0);
		normal(w->pos, (size_t)T * C, pow((double)C, -0.5), s);
	} else if (vision) {
		const size_t P = (size_t)c->patch_size;
		normal(w->cls, C, pow((double)C, -0.5), s);
		normal(w->patch_w, C * 3 * P * P, 0.02, s);
		normal(w->pos, (size_t)T * C, 0.02, s);
		fill(w->pre_w, C, 1), fill(w->pre_b, C, 0);
	} else {
		normal(w->tok, (size_t)c->vocab_size * C, 0.02, s);
		normal(w->pos, (size_t)T * C, 0.01, s);
	}
	fill(w->ln1_w, L * C, 1), fill(w->ln1_b, L * C, 0);
	fill(w->ln2_w, L * C, 1), fill(w->ln2_b, L * C, 0);
	normal(w->qkv_w, L * 3 * C * C, in_std, s), fill(w->qkv_b, L * 3 * C, 0);
	normal(w->out_w, L * C * C, out_std, s), fill(w->out_b, L * C, 0);
	normal(w->fc1_w, L * I * C, fc_std, s), fill(w->fc1_b, L * I, 0);
	normal(w->fc2_w, L * C * I, in_std, s), fill(w->fc2_b, L * C, 0);
	fill(w->lnf_w, C, 1), fill(w->lnf_b, C, 0);
	if (w->probe) {                    /* SigLIP's pooling head */
		normal(w->probe, C, pow((double)C, -0.5), s);
		normal(w->map_qkv_w, 3 * C * C, out_std, s), fill(w->map_qkv_b, 3 * C, 0);
		normal(w->map_out_w, C * C, out_std, s), fill(w->map_out_b, C, 0);
		fill(w->map_ln_w, C, 1), fill(w->map_ln_b, C, 0);
		normal(w->map_fc1_w, I * C, fc_std, s), fill(w->map_fc1_b, I, 0);
		normal(w->map_fc2_w, C * I, in_std, s), fill(w->map_fc2_b, C, 0);
	}
}

void rc_clip_init_random(struct rc_clip *m, uint64_t seed)
{
	const struct rc_clip_config *cfg = &m->cfg;
	uint64_t s = seed ^ 0x636c6970ull;   /* "clip" */
	tower(&cfg->vision, &m->w.vision, 1, rc_clip_config_image_tokens(cfg), &s);
	tower(&cfg->text, &m->w.text, 0, cfg->text.max_position, &s);
	if (m->w.vision.proj)
		normal(m->w.vision.proj, (size_t)cfg->projection_dim * cfg->vision.hidden,
			pow((double)cfg->vision.hidden, -0.5), &s);
	normal(m->w.text.proj, (size_t)cfg->projection_dim * cfg->text.hidden,
		pow((double)cfg->text.hidden, -0.5), &s);
	if (m->w.text.proj_b)
		fill(m->w.text.proj_b, (size_t)cfg->projection_dim, 0);
	*m->w.logit_scale = (float)cfg->logit_scale_init;
	if (cfg->family == RC_FAMILY_SIGLIP) {
		/* big_vision's start for the sigmoid loss: t = ln 10, b = -10 */
		*m->w.logit_scale = (float)log(10.0);
		*m->w.logit_bias = -10.0f;
	}
}

/* uniform - n draws of U(-bound, bound). */
static void uniform(float *x, size_t n, float bound, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((rc_rng_unit(s) * 2.0 - 1.0) * bound);
}

void rc_clip_init_extras(struct rc_clip *m, int extras, uint64_t seed, float logit_bias)
{
	const struct rc_clip_weights *w = &m->w;
	extras &= m->extras;
	if (extras & RC_CLIP_HEADS) {
		/* one stream over text_head.{weight,bias}, image_head.{weight,bias} */
		const size_t K = RC_CLIP_HEAD_CLASSES, D = (size_t)m->cfg.projection_dim;
		const float bound = 1.0f / sqrtf((float)D);
		uint64_t s = seed ^ 0x68656164ull;   /* "head" */
		uniform(w->text_head_w, K * D, bound, &s);
		uniform(w->text_head_b, K, bound, &s);
		uniform(w->image_head_w, K * D, bound, &s);
		uniform(w->image_head_b, K, bound, &s);
	}
	if (extras & RC_CLIP_LOGIT_BIAS)
		*w->logit_bias = logit_bias;
}
