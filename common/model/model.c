/* model.c - the parameters of a CLIP model: one float32 allocation, views
 * by kind (rc_clip_point) and the table of Hugging Face names and shapes
 * that loading, export and the optimizer walk. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

/* ---------------------------------------------------------------- layout */

/* take - the next n floats of the layout: base + *off, or NULL when only
 * counting (base NULL). */
static float *take(float *base, size_t *off, size_t n)
{
	float *p = base ? base + *off : NULL;
	*off += n;
	return p;
}

static void point_tower(const struct rc_clip_config *cfg, int text, float *base, size_t *off,
	struct rc_clip_tower_weights *w)
{
	const struct rc_clip_tower_config *t = text ? &cfg->text : &cfg->vision;
	const size_t C = t->hidden, I = t->intermediate, L = t->layers, D = cfg->projection_dim;
	memset(w, 0, sizeof *w);
	if (text) {
		w->tok = take(base, off, (size_t)t->vocab_size * C);
		w->pos = take(base, off, (size_t)t->max_position * C);
	} else {
		size_t P = t->patch_size, T = rc_clip_config_image_tokens(cfg);
		w->patch_w = take(base, off, C * 3 * P * P);
		w->cls = take(base, off, C);
		w->pos = take(base, off, T * C);
		w->pre_w = take(base, off, C);
		w->pre_b = take(base, off, C);
	}
	w->ln1_w = take(base, off, L * C);
	w->ln1_b = take(base, off, L * C);
	w->qkv_w = take(base, off, L * 3 * C * C);
	w->qkv_b = take(base, off, L * 3 * C);
	w->out_w = take(base, off, L * C * C);
	w->out_b = take(base, off, L * C);
	w->ln2_w = take(base, off, L * C);
	w->ln2_b = take(base, off, L * C);
	w->fc1_w = take(base, off, L * I * C);
	w->fc1_b = take(base, off, L * I);
	w->fc2_w = take(base, off, L * C * I);
	w->fc2_b = take(base, off, L * C);
	w->lnf_w = take(base, off, C);
	w->lnf_b = take(base, off, C);
	w->proj = take(base, off, D * C);
}

/* layout - point w at base (NULL: count only); returns the float count. */
static size_t layout(const struct rc_clip_config *cfg, float *base, struct rc_clip_weights *w)
{
	size_t off = 0;
	point_tower(cfg, 0, base, &off, &w->vision);
	point_tower(cfg, 1, base, &off, &w->text);
	w->logit_scale = take(base, &off, 1);
	return off;
}

size_t rc_clip_param_count_config(const struct rc_clip_config *cfg)
{
	struct rc_clip_weights w;
	return layout(cfg, NULL, &w);
}

void rc_clip_point(const struct rc_clip_config *cfg, float *base, struct rc_clip_weights *w)
{
	layout(cfg, base, w);
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
	char pre[64];

	snprintf(pre, sizeof pre, "%sembeddings.", tm);
	if (text) {
		add(tb, w->tok, pre, "token_embedding.weight", 2, t->vocab_size, C, 0, 0);
		add(tb, w->pos, pre, "position_embedding.weight", 2, t->max_position, C, 0, 0);
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
	add(tb, w->proj, text ? "text_projection." : "visual_projection.", "weight", 2, D, C, 0, 0);
}

static void table(struct table *tb, const struct rc_clip_config *cfg,
	const struct rc_clip_weights *w)
{
	table_tower(tb, cfg, 0, &w->vision);
	table_tower(tb, cfg, 1, &w->text);
	add(tb, w->logit_scale, "", "logit_scale", 0, 0, 0, 0, 0);
}

/* ---------------------------------------------------------------- the model */

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
	m->nparams = rc_clip_param_count_config(cfg);
	m->params = rc_calloc(m->nparams, sizeof *m->params);
	struct table tb = { NULL, 0, NULL };
	table(&tb, cfg, &m->w);     /* counts only: m->w is all NULL */
	m->tensors = rc_calloc(tb.n, sizeof *m->tensors);
	if (!m->params || !m->tensors) {
		rc_clip_free(m);
		return RC_E_NOMEM;
	}
	layout(cfg, m->params, &m->w);
	tb = (struct table){ m->tensors, 0, m->params };
	table(&tb, cfg, &m->w);
	m->ntensors = tb.n;
	/* The table covers the parameters exactly once. */
	size_t sum = 0;
	for (size_t i = 0; i < m->ntensors; i++)
		sum += m->tensors[i].numel;
	rc_assert(sum == m->nparams);
	*out = m;
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
