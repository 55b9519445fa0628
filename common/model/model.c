/* model.c - the parameters of a CLIP model: one float32 allocation, views
 * by kind (rc_clip_point) and the table of Hugging Face names and shapes
 * that loading, export and the optimizer walk; the extras (stage 2's
 * heads, SigLIP's bias) at the end of both. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

/* ---------------------------------------------------------------- layout */

static void point_tower(const struct rc_clip_config *cfg, int text, struct rc_carve *cv,
	struct rc_clip_tower_weights *w)
{
	const struct rc_clip_tower_config *t = text ? &cfg->text : &cfg->vision;
	const size_t C = t->hidden, I = t->intermediate, L = t->layers, D = cfg->projection_dim;
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	memset(w, 0, sizeof *w);
	if (text) {
		w->tok = rc_carve(cv, (size_t)t->vocab_size * C);
		w->pos = rc_carve(cv, (size_t)t->max_position * C);
	} else if (siglip) {
		size_t P = t->patch_size, T = rc_clip_config_image_tokens(cfg);
		w->patch_w = rc_carve(cv, C * 3 * P * P);
		w->patch_b = rc_carve(cv, C);
		w->pos = rc_carve(cv, T * C);
	} else {
		size_t P = t->patch_size, T = rc_clip_config_image_tokens(cfg);
		w->patch_w = rc_carve(cv, C * 3 * P * P);
		w->cls = rc_carve(cv, C);
		w->pos = rc_carve(cv, T * C);
		w->pre_w = rc_carve(cv, C);
		w->pre_b = rc_carve(cv, C);
	}
	w->ln1_w = rc_carve(cv, L * C);
	w->ln1_b = rc_carve(cv, L * C);
	w->qkv_w = rc_carve(cv, L * 3 * C * C);
	w->qkv_b = rc_carve(cv, L * 3 * C);
	w->out_w = rc_carve(cv, L * C * C);
	w->out_b = rc_carve(cv, L * C);
	w->ln2_w = rc_carve(cv, L * C);
	w->ln2_b = rc_carve(cv, L * C);
	w->fc1_w = rc_carve(cv, L * I * C);
	w->fc1_b = rc_carve(cv, L * I);
	w->fc2_w = rc_carve(cv, L * C * I);
	w->fc2_b = rc_carve(cv, L * C);
	w->lnf_w = rc_carve(cv, C);
	w->lnf_b = rc_carve(cv, C);
	if (!siglip) {
		w->proj = rc_carve(cv, D * C);
	} else if (text) {
		w->proj = rc_carve(cv, D * C);
		w->proj_b = rc_carve(cv, D);
	} else {
		w->probe = rc_carve(cv, C);
		w->map_qkv_w = rc_carve(cv, 3 * C * C);
		w->map_qkv_b = rc_carve(cv, 3 * C);
		w->map_out_w = rc_carve(cv, C * C);
		w->map_out_b = rc_carve(cv, C);
		w->map_ln_w = rc_carve(cv, C);
		w->map_ln_b = rc_carve(cv, C);
		w->map_fc1_w = rc_carve(cv, I * C);
		w->map_fc1_b = rc_carve(cv, I);
		w->map_fc2_w = rc_carve(cv, C * I);
		w->map_fc2_b = rc_carve(cv, C);
	}
}

/* layout - point w at base (NULL: count only), the CLIPModel tensors
 * packed, then the extras; returns the float count. */
static size_t layout(const struct rc_clip_config *cfg, int extras, float *base,
	struct rc_clip_weights *w)
{
	const size_t K = RC_CLIP_HEAD_CLASSES, D = (size_t)cfg->projection_dim;
	struct rc_carve cv = { base, 0, 1 };
	memset(w, 0, sizeof *w);
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	point_tower(cfg, 0, &cv, &w->vision);
	point_tower(cfg, 1, &cv, &w->text);
	w->logit_scale = rc_carve(&cv, 1);
	if (siglip)          /* SiglipModel's own, before the extras */
		w->logit_bias = rc_carve(&cv, 1);
	if (extras & RC_CLIP_HEADS) {
		w->text_head_w = rc_carve(&cv, K * D);
		w->text_head_b = rc_carve(&cv, K);
		w->image_head_w = rc_carve(&cv, K * D);
		w->image_head_b = rc_carve(&cv, K);
	}
	if ((extras & RC_CLIP_LOGIT_BIAS) && !siglip)
		w->logit_bias = rc_carve(&cv, 1);
	return cv.off;
}

size_t rc_clip_param_count_config(const struct rc_clip_config *cfg)
{
	struct rc_clip_weights w;
	return layout(cfg, 0, NULL, &w);
}

void rc_clip_point(const struct rc_clip *m, float *base, struct rc_clip_weights *w)
{
	layout(&m->cfg, m->extras, base, w);
}

/* ---------------------------------------------------------------- the table */

struct table {
	struct rc_clip_param *p;
	size_t n;
	const float *base;
};

static void add(struct table *tb, float *data, const char *prefix, const char *name,
	int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	struct rc_clip_param *e = tb->p ? &tb->p[tb->n] : NULL;
	tb->n++;
	if (!e)
		return;
	int k = snprintf(e->name, sizeof e->name, "%s%s", prefix, name);
	rc_assert(k > 0 && (size_t)k < sizeof e->name);
	int64_t d[4] = { d0, d1, d2, d3 };
	e->data = data;
	e->ndim = ndim;
	e->numel = 1;
	for (int i = 0; i < 4; i++) {
		e->shape[i] = i < ndim ? d[i] : 0;
		if (i < ndim)
			e->numel *= (size_t)d[i];
	}
	e->offset = (size_t)(data - tb->base);
}

/* A view at index i of a per-layer kind: NULL stays NULL when counting. */
#define AT(p, i) ((p) ? (p) + (i) : NULL)

static void table_tower(struct table *tb, const struct rc_clip_config *cfg, int text,
	const struct rc_clip_tower_weights *w)
{
	const struct rc_clip_tower_config *t = text ? &cfg->text : &cfg->vision;
	const char *tm = text ? "text_model." : "vision_model.";
	const int64_t C = t->hidden, I = t->intermediate, D = cfg->projection_dim;
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	char pre[64];

	snprintf(pre, sizeof pre, "%sembeddings.", tm);
	if (text) {
		add(tb, w->tok, pre, "token_embedding.weight", 2, t->vocab_size, C, 0, 0);
		add(tb, w->pos, pre, "position_embedding.weight", 2, t->max_position, C, 0, 0);
	} else if (siglip) {
		int64_t P = t->patch_size, T = rc_clip_config_image_tokens(cfg);
		add(tb, w->patch_w, pre, "patch_embedding.weight", 4, C, 3, P, P);
		add(tb, w->patch_b, pre, "patch_embedding.bias", 1, C, 0, 0, 0);
		add(tb, w->pos, pre, "position_embedding.weight", 2, T, C, 0, 0);
	} else {
		int64_t P = t->patch_size, T = rc_clip_config_image_tokens(cfg);
		add(tb, w->patch_w, pre, "patch_embedding.weight", 4, C, 3, P, P);
		add(tb, w->cls, pre, "class_embedding", 1, C, 0, 0, 0);
		add(tb, w->pos, pre, "position_embedding.weight", 2, T, C, 0, 0);
		add(tb, w->pre_w, tm, "pre_layrnorm.weight", 1, C, 0, 0, 0);
		add(tb, w->pre_b, tm, "pre_layrnorm.bias", 1, C, 0, 0, 0);
	}
	for (int64_t l = 0; l < t->layers; l++) {
		snprintf(pre, sizeof pre, "%sencoder.layers.%d.", tm, (int)l);
		const char *qkv[3][2] = {
			{ "self_attn.q_proj.weight", "self_attn.q_proj.bias" },
			{ "self_attn.k_proj.weight", "self_attn.k_proj.bias" },
			{ "self_attn.v_proj.weight", "self_attn.v_proj.bias" },
		};
		for (int j = 0; j < 3; j++) {
			add(tb, AT(w->qkv_w, (l * 3 + j) * C * C), pre, qkv[j][0], 2, C, C, 0, 0);
			add(tb, AT(w->qkv_b, (l * 3 + j) * C), pre, qkv[j][1], 1, C, 0, 0, 0);
		}
		add(tb, AT(w->out_w, l * C * C), pre, "self_attn.out_proj.weight", 2, C, C, 0, 0);
		add(tb, AT(w->out_b, l * C), pre, "self_attn.out_proj.bias", 1, C, 0, 0, 0);
		add(tb, AT(w->ln1_w, l * C), pre, "layer_norm1.weight", 1, C, 0, 0, 0);
		add(tb, AT(w->ln1_b, l * C), pre, "layer_norm1.bias", 1, C, 0, 0, 0);
		add(tb, AT(w->fc1_w, l * I * C), pre, "mlp.fc1.weight", 2, I, C, 0, 0);
		add(tb, AT(w->fc1_b, l * I), pre, "mlp.fc1.bias", 1, I, 0, 0, 0);
		add(tb, AT(w->fc2_w, l * C * I), pre, "mlp.fc2.weight", 2, C, I, 0, 0);
		add(tb, AT(w->fc2_b, l * C), pre, "mlp.fc2.bias", 1, C, 0, 0, 0);
		add(tb, AT(w->ln2_w, l * C), pre, "layer_norm2.weight", 1, C, 0, 0, 0);
		add(tb, AT(w->ln2_b, l * C), pre, "layer_norm2.bias", 1, C, 0, 0, 0);
	}
	const char *lnf = text ? "final_layer_norm." : "post_layernorm.";
	snprintf(pre, sizeof pre, "%s%s", tm, lnf);
	add(tb, w->lnf_w, pre, "weight", 1, C, 0, 0, 0);
	add(tb, w->lnf_b, pre, "bias", 1, C, 0, 0, 0);
	if (!siglip) {
		add(tb, w->proj, text ? "text_projection." : "visual_projection.", "weight", 2, D,
			C, 0, 0);
	} else if (text) {
		add(tb, w->proj, tm, "head.weight", 2, D, C, 0, 0);
		add(tb, w->proj_b, tm, "head.bias", 1, D, 0, 0, 0);
	} else {
		snprintf(pre, sizeof pre, "%shead.", tm);
		add(tb, w->probe, pre, "probe", 3, 1, 1, C, 0);
		add(tb, w->map_qkv_w, pre, "attention.in_proj_weight", 2, 3 * C, C, 0, 0);
		add(tb, w->map_qkv_b, pre, "attention.in_proj_bias", 1, 3 * C, 0, 0, 0);
		add(tb, w->map_out_w, pre, "attention.out_proj.weight", 2, C, C, 0, 0);
		add(tb, w->map_out_b, pre, "attention.out_proj.bias", 1, C, 0, 0, 0);
		add(tb, w->map_ln_w, pre, "layernorm.weight", 1, C, 0, 0, 0);
		add(tb, w->map_ln_b, pre, "layernorm.bias", 1, C, 0, 0, 0);
		add(tb, w->map_fc1_w, pre, "mlp.fc1.weight", 2, I, C, 0, 0);
		add(tb, w->map_fc1_b, pre, "mlp.fc1.bias", 1, I, 0, 0, 0);
		add(tb, w->map_fc2_w, pre, "mlp.fc2.weight", 2, C, I, 0, 0);
		add(tb, w->map_fc2_b, pre, "mlp.fc2.bias", 1, C, 0, 0, 0);
	}
}

/* table - the entries of w's tensors; *nclip gets those of CLIPModel. */
static void table(struct table *tb, const struct rc_clip_config *cfg, int extras,
	const struct rc_clip_weights *w, size_t *nclip)
{
	const int64_t K = RC_CLIP_HEAD_CLASSES, D = cfg->projection_dim;
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	table_tower(tb, cfg, 0, &w->vision);
	table_tower(tb, cfg, 1, &w->text);
	if (siglip) {        /* nn.Parameter(torch.randn(1)) each */
		add(tb, w->logit_scale, "", "logit_scale", 1, 1, 0, 0, 0);
		add(tb, w->logit_bias, "", "logit_bias", 1, 1, 0, 0, 0);
	} else {
		add(tb, w->logit_scale, "", "logit_scale", 0, 0, 0, 0, 0);
	}
	*nclip = tb->n;
	if (extras & RC_CLIP_HEADS) {
		add(tb, w->text_head_w, "text_head.", "weight", 2, K, D, 0, 0);
		add(tb, w->text_head_b, "text_head.", "bias", 1, K, 0, 0, 0);
		add(tb, w->image_head_w, "image_head.", "weight", 2, K, D, 0, 0);
		add(tb, w->image_head_b, "image_head.", "bias", 1, K, 0, 0, 0);
	}
	if ((extras & RC_CLIP_LOGIT_BIAS) && !siglip)
		add(tb, w->logit_bias, "", "logit_bias", 0, 0, 0, 0, 0);
}

int rc_clip_extra_of(const char *name)
{
	if (!strncmp(name, "text_head.", 10) || !strncmp(name, "image_head.", 11))
		return RC_CLIP_HEADS;
	return strcmp(name, "logit_bias") == 0 ? RC_CLIP_LOGIT_BIAS : 0;
}

/* ---------------------------------------------------------------- the model */

/* build - m->params, m->w and the table for m->cfg with extras: a new
 * allocation (the old one is the caller's). Returns 0 or RC_E_NOMEM. */
static int build(struct rc_clip *m, int extras)
{
	struct rc_clip_weights w;
	size_t nclip, n = layout(&m->cfg, extras, NULL, &w);
	struct table tb = { NULL, 0, NULL };
	table(&tb, &m->cfg, extras, &w, &nclip);     /* counts only: w is all NULL */
	float *params = rc_calloc(n, sizeof *params);
	struct rc_clip_param *tensors = rc_calloc(tb.n, sizeof *tensors);
	if (!params || !tensors) {
		free(params);
		free(tensors);
		return RC_E_NOMEM;
	}
	m->params = params, m->nparams = n, m->extras = extras;
	layout(&m->cfg, extras, params, &m->w);
	tb = (struct table){ tensors, 0, params };
	table(&tb, &m->cfg, extras, &m->w, &m->nclip);
	m->tensors = tensors, m->ntensors = tb.n;
	/* The table covers the parameters exactly once. */
	size_t sum = 0;
	for (size_t i = 0; i < m->ntensors; i++)
		sum += m->tensors[i].numel;
	rc_assert(sum == m->nparams);
	return 0;
}

int rc_clip_new(struct rc_clip **out, const struct rc_clip_config *cfg)
{
	*out = NULL;
	int rc = rc_clip_config_validate(cfg, "model config");
	if (rc < 0)
		return rc;
	struct rc_clip *m = rc_calloc(1, sizeof *m);
	if (!m)
		return RC_E_NOMEM;
	m->cfg = *cfg;
	if (build(m, cfg->family == RC_FAMILY_SIGLIP ? RC_CLIP_LOGIT_BIAS : 0) < 0) {
		free(m);
		return RC_E_NOMEM;
	}
	*out = m;
	return 0;
}

int rc_clip_set_extras(struct rc_clip *m, int extras, int *added)
{
	extras &= RC_CLIP_HEADS | RC_CLIP_LOGIT_BIAS;
	if (m->cfg.family == RC_FAMILY_SIGLIP)     /* its own tensor: always there */
		extras |= RC_CLIP_LOGIT_BIAS;
	if (added)
		*added = extras & ~m->extras;
	if (extras == m->extras)
		return 0;
	struct rc_clip old = *m;
	if (build(m, extras) < 0) {
		*m = old;
		return RC_E_NOMEM;
	}
	/* the CLIP tensors are the same prefix in both layouts */
	memcpy(m->params, old.params, rc_clip_param_count_config(&m->cfg) * sizeof *m->params);
	for (size_t i = old.nclip; i < old.ntensors; i++) {
		const struct rc_clip_param *p = rc_clip_find_param(m, old.tensors[i].name);
		if (p)
			memcpy(p->data, old.tensors[i].data, p->numel * sizeof *p->data);
	}
	free(old.params);
	free(old.tensors);
	return 0;
}

void rc_clip_free(struct rc_clip *m)
{
	if (!m)
		return;
	free(m->params);
	free(m->tensors);
	free(m);
}

size_t rc_clip_param_count(const struct rc_clip *m)
{
	return m->nparams;
}

size_t rc_clip_tensor_count(const struct rc_clip *m)
{
	return m->ntensors;
}

const struct rc_clip_param *rc_clip_tensor(const struct rc_clip *m, size_t i)
{
	return i < m->ntensors ? &m->tensors[i] : NULL;
}

const struct rc_clip_param *rc_clip_find_param(const struct rc_clip *m, const char *name)
{
	for (size_t i = 0; i < m->ntensors; i++)
		if (strcmp(m->tensors[i].name, name) == 0)
			return &m->tensors[i];
	return NULL;
}

/* ---------------------------------------------------------------- text rows */

int rc_clip_pool_position(const int32_t *ids, int T, int eos)
{
	int best = 0;
	if (eos == 2) {
		for (int i = 1; i < T; i++)
			best = ids[i] > ids[best] ? i : best;
		return best;
	}
	for (int i = 0; i < T; i++)
		if (ids[i] == eos)
			return i;
	return 0;
}

int rc_clip_check_ids(const struct rc_clip_config *cfg, const int32_t *ids, int B, int T)
{
	const int V = cfg->text.vocab_size;
	for (int b = 0; b < B; b++)
		for (int i = 0; i < T; i++) {
			int32_t id = ids[(size_t)b * T + i];
			if (id < 0 || id >= V)
				return rc_log_error(RC_E_RANGE, "text %d, position %d: id %ld is "
					"outside the vocabulary (%d)", b, i, (long)id, V);
		}
	return 0;
}

int rc_clip_text_cut(const struct rc_clip_config *cfg, int32_t *ids, int B, int ctx)
{
	if (cfg->family == RC_FAMILY_SIGLIP)
		return ctx;
	int T = 1;
	for (int b = 0; b < B; b++) {
		const int32_t *row = ids + (size_t)b * (size_t)ctx;
		int first_eos = -1, argmax = 0;
		for (int t = 0; t < ctx; t++) {
			if (first_eos < 0 && row[t] == cfg->text.eos_token_id)
				first_eos = t;
			if (row[t] > row[argmax])
				argmax = t;
		}
		int last = first_eos > argmax ? first_eos : argmax;
		if (last + 1 > T)
			T = last + 1;
	}
	for (int b = 1; T < ctx && b < B; b++)
		memmove(ids + (size_t)b * (size_t)T, ids + (size_t)b * (size_t)ctx,
			(size_t)T * sizeof *ids);
	return T;
}
