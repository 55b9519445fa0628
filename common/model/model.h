/* model.h - a CLIP model's parameters: the tensors of a Hugging Face
 * CLIPModel in one float32 allocation, with the training extras (stage
 * 2's category heads, SigLIP's logit bias) in the same allocation and
 * the same name table; loading them from safetensors, and a model from
 * random numbers. Computing with a model goes through a backend
 * (backend.h); this header is what every backend and every file format
 * share.
 *
 * Parameters are one float32 array, m->params; m->w points into it by
 * kind (all layers of a kind side by side, as llm.c: qkv_w is [L,3C,C]),
 * and a table gives every tensor under its Hugging Face name with its
 * shape (weights [out, in], the Conv2d patch weight [C,3,P,P], logit_scale
 * a scalar) and its offset in the array. The q, k and v projections of a
 * layer are adjacent, so the three are one matmul. The CLIPModel tensors
 * come first (m->nclip of them); the extras follow in the order
 * text_head.weight, text_head.bias, image_head.weight, image_head.bias,
 * logit_bias.
 *
 * A SigLIP model (cfg.family RC_FAMILY_SIGLIP) has SiglipModel's tensors
 * instead, its logit_bias among them (right after logit_scale, both of
 * shape [1]): it always carries RC_CLIP_LOGIT_BIAS, and only the heads
 * are an extra.
 *
 *     struct rc_clip *m;
 *     if (rc_clip_load_hf(&m, "clip-vit-base-patch32") < 0)    // logged
 *             return 1;
 *     const struct rc_clip_param *p = rc_clip_find_param(m, "logit_scale");
 *     printf("%s: %g\n", p->name, m->params[p->offset]);
 *     rc_clip_free(m);
 */
#ifndef RCLIP_MODEL_H
#define RCLIP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model/clip_config.h"

/* One tensor of the table. data points into the model's params. */
struct rc_clip_param {
	char name[72];     /* Hugging Face name, "text_model.final_layer_norm.weight" */
	float *data;
	int ndim;          /* 0 for logit_scale */
	int64_t shape[4];
	size_t numel;
	size_t offset;     /* in floats from the start of params */
};

/* Views of one tower's parameters. Per-layer kinds hold all L layers:
 * layer l of qkv_w is qkv_w + l·3C·C, and so on. */
struct rc_clip_tower_weights {
	float *patch_w;          /* vision [C,3,P,P] embeddings.patch_embedding */
	float *cls;              /* vision [C] embeddings.class_embedding */
	float *tok;              /* text [V,C] embeddings.token_embedding */
	float *pos;              /* [T,C] embeddings.position_embedding */
	float *pre_w, *pre_b;    /* vision [C] pre_layrnorm */
	float *ln1_w, *ln1_b;    /* [L,C] */
	float *qkv_w, *qkv_b;    /* [L,3C,C], [L,3C]: q_proj, k_proj, v_proj */
	float *out_w, *out_b;    /* [L,C,C], [L,C] self_attn.out_proj */
	float *ln2_w, *ln2_b;    /* [L,C] */
	float *fc1_w, *fc1_b;    /* [L,I,C], [L,I] mlp.fc1 */
	float *fc2_w, *fc2_b;    /* [L,C,I], [L,C] mlp.fc2 */
	float *lnf_w, *lnf_b;    /* [C] post_layernorm / final_layer_norm */
	float *proj;             /* [D,C] visual_projection / text_projection;
	                            SigLIP text: head.weight; SigLIP vision: NULL */
	/* SigLIP only (NULL in a CLIP model) */
	float *patch_b;          /* vision [C] embeddings.patch_embedding.bias */
	float *proj_b;           /* text [D] head.bias */
	/* vision: the attention-pooling head, vision_model.head.* */
	float *probe;            /* [C] probe ([1,1,C] in the file) */
	float *map_qkv_w, *map_qkv_b;  /* [3C,C], [3C] attention.in_proj_weight, _bias */
	float *map_out_w, *map_out_b;  /* [C,C], [C] attention.out_proj */
	float *map_ln_w, *map_ln_b;    /* [C] layernorm */
	float *map_fc1_w, *map_fc1_b;  /* [I,C], [I] mlp.fc1 */
	float *map_fc2_w, *map_fc2_b;  /* [C,I], [C] mlp.fc2 */
};

/* The extras a model may carry (rc_clip_set_extras). */
#define RC_CLIP_HEADS 1          /* text_head, image_head: Linear(D, 5) each */
#define RC_CLIP_LOGIT_BIAS 2     /* logit_bias: SigLIP's learned bias */
#define RC_CLIP_HEAD_CLASSES 5   /* the reasoning categories S A H T P */

struct rc_clip_weights {
	struct rc_clip_tower_weights vision, text;
	float *logit_scale;      /* [] the log of the logit scale ([1] in SigLIP) */
	/* the extras; NULL when the model does not carry them */
	float *text_head_w, *text_head_b;    /* [K,D], [K] on the text embedding */
	float *image_head_w, *image_head_b;  /* [K,D], [K] on the image embedding */
	float *logit_bias;                   /* [] */
};

struct rc_clip {
	struct rc_clip_config cfg;
	float *params;                  /* every parameter, nparams floats */
	size_t nparams;
	struct rc_clip_weights w;       /* views into params */
	struct rc_clip_param *tensors;  /* the table, ntensors entries */
	size_t ntensors;
	size_t nclip;                   /* the CLIPModel tensors: the first nclip */
	int extras;                     /* RC_CLIP_HEADS | RC_CLIP_LOGIT_BIAS */
};

/* ---------------------------------------------------------------- parameters */

/* rc_clip_new - a model of config cfg (copied) with zeroed parameters and
 * no extras. Returns 0 and *out (free with rc_clip_free), or RC_E_RANGE
 * (an invalid config, logged by rc_clip_config_validate) or RC_E_NOMEM
 * (logged). */
int rc_clip_new(struct rc_clip **out, const struct rc_clip_config *cfg);

/* rc_clip_free - release the model; m may be NULL. */
void rc_clip_free(struct rc_clip *m);

/* rc_clip_set_extras - give m exactly the extras in the mask extras
 * (RC_CLIP_HEADS, RC_CLIP_LOGIT_BIAS): the parameters move to a new
 * allocation (views, table entries and data pointers change), the CLIP
 * tensors and the extras it keeps keep their values, and new ones are 0.
 * *added (may be NULL) gets the extras that are new. Returns 0, or
 * RC_E_NOMEM (logged; m is unchanged). */
int rc_clip_set_extras(struct rc_clip *m, int extras, int *added);

/* rc_clip_extra_of - the extra (RC_CLIP_HEADS, RC_CLIP_LOGIT_BIAS) that a
 * tensor name belongs to, or 0 for any other name. */
int rc_clip_extra_of(const char *name);

/* rc_clip_param_count - the number of parameters (floats), extras
 * included: 151,277,313 for ViT-B/32 without extras. */
size_t rc_clip_param_count(const struct rc_clip *m);

/* rc_clip_param_count_config - a model of cfg without extras: the same
 * without a model. */
size_t rc_clip_param_count_config(const struct rc_clip_config *cfg);

/* rc_clip_tensor_count, rc_clip_tensor - iterate over the table, i in
 * [0, count): vision_model.*, visual_projection, text_model.*,
 * text_projection, logit_scale, then the extras. Entries belong to m. */
size_t rc_clip_tensor_count(const struct rc_clip *m);
const struct rc_clip_param *rc_clip_tensor(const struct rc_clip *m, size_t i);

/* rc_clip_find_param - the tensor named name, or NULL (not logged). */
const struct rc_clip_param *rc_clip_find_param(const struct rc_clip *m, const char *name);

/* rc_clip_point - fill w with views of base, a buffer of
 * rc_clip_param_count(m) floats laid out as m's parameters (gradients,
 * optimizer moments). Never fails. */
void rc_clip_point(const struct rc_clip *m, float *base, struct rc_clip_weights *w);

/* rc_clip_init_random - draw every CLIPModel parameter as transformers'
 * CLIPModel initialises a new model (normal weights with its per-kind
 * standard deviations, LayerNorms 1 and 0, zero biases, logit_scale from
 * the config; a SigLIP model: its head likewise, logit_scale ln 10 and
 * logit_bias -10 as big_vision starts), from a seeded generator: the same
 * seed gives the same model. Never fails. */
void rc_clip_init_random(struct rc_clip *m, uint64_t seed);

/* rc_clip_init_extras - initialise the extras in the mask extras that m
 * carries: the heads as torch.nn.Linear(D, 5) draws them, U(±1/√D) for
 * weights and biases alike, from a generator seeded with seed; the logit
 * bias to logit_bias. Never fails. */
void rc_clip_init_extras(struct rc_clip *m, int extras, uint64_t seed, float logit_bias);

/* rc_clip_text_cut - the columns a batch of ids[B,ctx] needs: one past
 * the last pooled position of its rows (the first eos, or the argmax
 * under the legacy eos = 2 rule: the later of the two covers both). The
 * text tower is causal, so nothing after a row's pooled token changes its
 * embedding, and captions fill a fraction of the context: the rows are
 * moved to the shorter stride in place (ids becomes [B,T]). Returns T;
 * ctx for SigLIP, whose text attends both ways and pools at the last
 * position. */
int rc_clip_text_cut(const struct rc_clip_config *cfg, int32_t *ids, int B, int ctx);

/* rc_clip_pool_position - the position of a text row ids[T] whose state
 * the text tower pools, as HF's CLIPTextModel: with eos_token_id 2
 * (configs before transformers PR #24773) the argmax of the ids (the
 * first maximum), with any other the first eos_token_id, 0 when no id is
 * eos. */
int rc_clip_pool_position(const int32_t *ids, int T, int eos);

/* rc_clip_check_ids - 0 when every id of ids[B,T] is in the vocabulary,
 * else RC_E_RANGE, logged: "text B, position T: id X is outside the
 * vocabulary (V)". */
int rc_clip_check_ids(const struct rc_clip_config *cfg, const int32_t *ids, int B, int T);

/* ---------------------------------------------------------------- loading */

/* rc_clip_load_hf - a model from a Hugging Face CLIPModel directory:
 * DIR/config.json and DIR/model.safetensors, or the shards that
 * DIR/model.safetensors.index.json lists. Returns 0 and *out (free with
 * rc_clip_free), or the codes of rc_clip_config_load and
 * rc_clip_load_safetensors, or RC_E_NOTFOUND when the directory has no
 * weights (logged, with a hint). */
int rc_clip_load_hf(struct rc_clip **out, const char *dir);

/* rc_clip_load_safetensors - read every CLIPModel tensor of m from path:
 * a safetensors file, or a model.safetensors.index.json (its "weight_map"
 * names the shards, in the same directory). F32, F16 and BF16 are
 * converted to float32. Every tensor must be present with the shape the
 * config gives. Extras the file holds (all four head tensors, or
 * logit_bias) are read too: m gets them (rc_clip_set_extras). Other
 * tensors (text_model.embeddings.position_ids) are ignored with a debug
 * message. Returns 0, or RC_E_NOTFOUND (a missing tensor: "FILE: missing
 * tensor NAME [shape]"), RC_E_FORMAT (a shape that differs: "FILE: NAME:
 * shape [a, b] in the file, [c, d] in the config"; some of the heads
 * without the others; a bad index), RC_E_UNSUPPORTED (another dtype),
 * RC_E_IO or RC_E_NOMEM, logged; up to 8 bad tensors are named before
 * giving up. On error the parameters are partly read. */
int rc_clip_load_safetensors(struct rc_clip *m, const char *path);

#endif
