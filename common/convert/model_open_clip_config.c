/* model_open_clip_config.c - open_clip's model config (the JSON of its
 * model_configs and of hub open_clip_config.json files) to and from
 * rclip's config: defaults of CLIPVisionCfg and CLIPTextCfg, heads from
 * head_width, MLP widths from mlp_ratio, the pooling rule (model_io.h),
 * and the keys that would make a model other than CLIP refused. Facts
 * from open_clip 3.3 (model.py, transformer.py). */
#include "convert/model_io.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io_impl.h"

/* ---------------------------------------------------------------- config in */

struct ocp {
	const char *what;   /* the file */
	const char *sect;   /* "", "vision_cfg." or "text_cfg." */
};

static int bad_type(const struct ocp *p, const char *key, const char *want)
{
	return rc_log_error(RC_E_FORMAT, "%s: %s%s: expected %s", p->what, p->sect, key, want);
}

static int get_int(const struct ocp *p, json_t *o, const char *key, int *dst)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1 << 30)
		return bad_type(p, key, "a non-negative integer");
	*dst = (int)json_integer_value(v);
	return 0;
}

/* get_square - an int, or [h, w] with h == w (image_size may be either). */
static int get_square(const struct ocp *p, json_t *o, const char *key, int *dst)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_array(v))
		return get_int(p, o, key, dst);
	json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
	if (json_array_size(v) != 2 || !json_is_integer(a) || !json_is_integer(b))
		return bad_type(p, key, "an integer or [height, width]");
	if (json_integer_value(a) != json_integer_value(b))
		return rc_log_error(RC_E_UNSUPPORTED, "%s: %s%s: only square sizes are supported",
			p->what, p->sect, key);
	*dst = (int)json_integer_value(a);
	return 0;
}

static int get_num(const struct ocp *p, json_t *o, const char *key, double *dst)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return bad_type(p, key, "a number");
	*dst = json_number_value(v);
	return 0;
}

static int get_bool(const struct ocp *p, json_t *o, const char *key, int *dst)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad_type(p, key, "true or false");
	*dst = json_is_true(v);
	return 0;
}

/* off - a key that changes the architecture when set: it must be absent,
 * null, false, 0, or the string want (NULL: no string is right). */
static int off(const struct ocp *p, json_t *o, const char *key, const char *want, const char *why)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v) || json_is_false(v) ||
	    (json_is_number(v) && json_number_value(v) == 0) ||
	    (want && json_is_string(v) && strcmp(json_string_value(v), want) == 0))
		return 0;
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	rc_log_error(RC_E_UNSUPPORTED, "%s: %s%s: %s is not supported (%s)", p->what, p->sect, key,
		s ? s : "this value", why);
	free(s);
	return RC_E_UNSUPPORTED;
}

static int known(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

static void warn_unknown(const struct ocp *p, json_t *o, const char *const *list)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
		if (!known(k, list))
			rc_log_warn("%s: %s%s: unknown key, ignored", p->what, p->sect, k);
}

/* Custom attention blocks (open_clip's CustomResidualAttentionBlock) have
 * other parameters. */
static int plain_blocks(const struct ocp *p, json_t *o)
{
	static const char *const flags[] = { "qk_norm", "scaled_cosine_attn", "scale_heads",
		"scale_attn_inner", "scale_attn", "scale_fc", NULL };
	int rc;
	if ((rc = off(p, o, "block_type", "default", "only CLIP's residual attention blocks")) < 0 ||
	    (rc = off(p, o, "ls_init_value", NULL, "layer scale")) < 0 ||
	    (rc = off(p, o, "act_kwargs", NULL, "activation arguments")) < 0)
		return rc;
	for (int i = 0; flags[i]; i++)
		if ((rc = off(p, o, flags[i], NULL, "only CLIP's residual attention blocks")) < 0)
			return rc;
	return 0;
}

/* norm_eps - norm_kwargs {"eps": x}: the LayerNorm eps. */
static int norm_eps(const struct ocp *p, json_t *o, double *eps)
{
	json_t *v = json_object_get(o, "norm_kwargs");
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return bad_type(p, "norm_kwargs", "an object");
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) {
		if (strcmp(k, "eps") != 0)
			return rc_log_error(RC_E_UNSUPPORTED, "%s: %snorm_kwargs.%s is not supported "
				"(only eps)", p->what, p->sect, k);
		if (!json_is_number(x))
			return bad_type(p, "norm_kwargs.eps", "a number");
		*eps = json_number_value(x);
	}
	return 0;
}

/* mlp - int(width · mlp_ratio), as open_clip sizes c_fc. */
static int mlp(const struct ocp *p, json_t *o, int width, int *out)
{
	double r = 4.0;
	int rc = get_num(p, o, "mlp_ratio", &r);
	if (rc < 0)
		return rc;
	double x = width * r;
	if (!(x >= 1 && x < 1 << 30))
		return rc_log_error(RC_E_RANGE, "%s: %smlp_ratio %g gives an MLP width of %g", p->what,
			p->sect, r, x);
	*out = (int)x;
	return 0;
}

static const char *const vision_keys[] = { "image_size", "layers", "width", "head_width",
	"mlp_ratio", "patch_size", "ls_init_value", "patch_dropout", "attentional_pool",
	"attn_pooler_queries", "attn_pooler_heads", "no_ln_pre", "pos_embed_type",
	"final_ln_after_pool", "pool_type", "output_tokens", "act_kwargs", "norm_kwargs",
	"block_type", "qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner",
	"scale_attn", "scale_fc", "timm_model_name", "timm_model_pretrained", "timm_pool",
	"timm_proj", "timm_proj_bias", "timm_drop", "timm_drop_path", NULL };

static int parse_vision(const struct ocp *p, json_t *o, int quick, struct rc_clip_tower_config *v)
{
	int rc, head_width = 64, width = 768;
	if (!o || json_is_null(o))
		o = NULL;
	else if (!json_is_object(o))
		return bad_type(p, "", "an object");
	v->image_size = 224, v->patch_size = 16, v->layers = 12;
	if (o) {
		json_t *layers = json_object_get(o, "layers");
		if (json_is_array(layers))
			return rc_log_error(RC_E_UNSUPPORTED, "%s: vision_cfg.layers: a list is a "
				"ResNet tower, not supported (ViT only)", p->what);
		warn_unknown(p, o, vision_keys);
		if ((rc = off(p, o, "timm_model_name", NULL, "timm towers")) < 0 ||
		    (rc = off(p, o, "attentional_pool", NULL, "attentional pooling")) < 0 ||
		    (rc = off(p, o, "no_ln_pre", NULL, "CLIP has ln_pre")) < 0 ||
		    (rc = off(p, o, "pos_embed_type", "learnable", "learned positions only")) < 0 ||
		    (rc = off(p, o, "pool_type", "tok", "class-token pooling only")) < 0 ||
		    (rc = plain_blocks(p, o)) < 0 ||
		    (rc = get_square(p, o, "image_size", &v->image_size)) < 0 ||
		    (rc = get_square(p, o, "patch_size", &v->patch_size)) < 0 ||
		    (rc = get_int(p, o, "layers", &v->layers)) < 0 ||
		    (rc = get_int(p, o, "width", &width)) < 0 ||
		    (rc = get_int(p, o, "head_width", &head_width)) < 0 ||
		    (rc = norm_eps(p, o, &v->layer_norm_eps)) < 0)
			return rc;
	}
	if (head_width <= 0 || width % head_width != 0)
		return rc_log_error(RC_E_RANGE, "%s: vision_cfg: width %d is not a multiple of "
			"head_width %d", p->what, width, head_width);
	v->hidden = width;
	v->heads = width / head_width;
	v->act = quick ? RC_ACT_QUICK_GELU : RC_ACT_GELU;
	return mlp(p, o, width, &v->intermediate);
}

static const char *const text_keys[] = { "context_length", "vocab_size", "hf_tokenizer_name",
	"tokenizer_mode", "tokenizer_kwargs", "width", "heads", "layers", "mlp_ratio",
	"ls_init_value", "embed_cls", "pad_id", "eos_id", "no_causal_mask",
	"final_ln_after_pool", "pool_type", "proj_bias", "proj_type", "output_tokens",
	"act_kwargs", "norm_kwargs", "block_type", "qk_norm", "scaled_cosine_attn", "scale_heads",
	"scale_attn_inner", "scale_attn", "scale_fc", "hf_model_name", "hf_model_pretrained",
	"hf_proj_type", "hf_pooler_type", NULL };

static int parse_text(const struct ocp *p, json_t *o, int quick, struct rc_clip_tower_config *t)
{
	int rc, eos_id = 2, pad_id = 0;
	const char *pool = "argmax";
	if (!o || json_is_null(o))
		o = NULL;
	else if (!json_is_object(o))
		return bad_type(p, "", "an object");
	t->max_position = 77, t->vocab_size = 49408, t->hidden = 512, t->heads = 8, t->layers = 12;
	if (o) {
		warn_unknown(p, o, text_keys);
		json_t *pt = json_object_get(o, "pool_type");
		if (pt && !json_is_null(pt)) {
			pool = json_string_value(pt);
			if (!pool || (strcmp(pool, "argmax") && strcmp(pool, "eos")))
				return off(p, o, "pool_type", "argmax", "argmax or eos pooling only");
		}
		if (json_is_string(json_object_get(o, "hf_tokenizer_name")))
			rc_log_warn("%s: text_cfg.hf_tokenizer_name: rclip tokenizes with CLIP's BPE",
				p->what);
		if ((rc = off(p, o, "hf_model_name", NULL, "Hugging Face text towers")) < 0 ||
		    (rc = off(p, o, "embed_cls", NULL, "CLIP has no text class token")) < 0 ||
		    (rc = off(p, o, "no_causal_mask", NULL, "CLIP's text tower is causal")) < 0 ||
		    (rc = off(p, o, "proj_bias", NULL, "CLIP's projection has no bias")) < 0 ||
		    (rc = off(p, o, "proj_type", "linear", "a linear projection only")) < 0 ||
		    (rc = plain_blocks(p, o)) < 0 ||
		    (rc = get_int(p, o, "context_length", &t->max_position)) < 0 ||
		    (rc = get_int(p, o, "vocab_size", &t->vocab_size)) < 0 ||
		    (rc = get_int(p, o, "width", &t->hidden)) < 0 ||
		    (rc = get_int(p, o, "heads", &t->heads)) < 0 ||
		    (rc = get_int(p, o, "layers", &t->layers)) < 0 ||
		    (rc = get_int(p, o, "eos_id", &eos_id)) < 0 ||
		    (rc = get_int(p, o, "pad_id", &pad_id)) < 0 ||
		    (rc = norm_eps(p, o, &t->layer_norm_eps)) < 0)
			return rc;
	}
	t->act = quick ? RC_ACT_QUICK_GELU : RC_ACT_GELU;
	/* Pooling (model_io.h): argmax is the first V-1, CLIP's end token. */
	t->eos_token_id = strcmp(pool, "eos") == 0 ? eos_id : t->vocab_size - 1;
	t->bos_token_id = t->eos_token_id > 0 ? t->eos_token_id - 1 : 0;
	t->pad_token_id = pad_id;
	return mlp(p, o, t->hidden, &t->intermediate);
}

static const char *const top_keys[] = { "embed_dim", "quick_gelu", "vision_cfg", "text_cfg",
	"custom_text", "init_logit_scale", "init_logit_bias", "nonscalar_logit_scale",
	"multimodal_cfg", "cast_dtype", "output_dict", NULL };

static int same3(json_t *a, const double *want)
{
	if (!json_is_array(a) || json_array_size(a) != 3)
		return 0;
	for (int i = 0; i < 3; i++)
		if (fabs(json_number_value(json_array_get(a, i)) - want[i]) > 1e-9)
			return 0;
	return 1;
}

static int parse_root(struct rc_clip_config *cfg, json_t *root, const char *what)
{
	struct ocp p = { what, "" };
	int rc, quick = 0;
	json_t *model = json_object_get(root, "model_cfg");
	if (json_is_object(model)) {
		/* A hub open_clip_config.json: the model and its preprocessing. */
		json_t *pre = json_object_get(root, "preprocess_cfg");
		json_t *mean = json_object_get(pre, "mean"), *std = json_object_get(pre, "std");
		if ((mean && !same3(mean, rc_clip_image_mean)) || (std && !same3(std, rc_clip_image_std)))
			rc_log_warn("%s: preprocess_cfg: mean/std differ from CLIP's, which rclip's "
				"preprocessing and exports use", what);
		root = model;
	}
	if (!json_is_object(root))
		return rc_log_error(RC_E_FORMAT, "%s: expected a JSON object", what);
	if (!json_is_integer(json_object_get(root, "embed_dim")))
		return rc_log_error(RC_E_FORMAT, "%s: no \"embed_dim\": not an open_clip model config",
			what);
	warn_unknown(&p, root, top_keys);
	rc_clip_config_default(cfg);
	if ((rc = off(&p, root, "custom_text", NULL, "CLIP's own text tower only")) < 0 ||
	    (rc = off(&p, root, "multimodal_cfg", NULL, "CoCa")) < 0 ||
	    (rc = off(&p, root, "init_logit_bias", NULL, "a logit bias: SigLIP")) < 0 ||
	    (rc = off(&p, root, "nonscalar_logit_scale", NULL, "a scalar logit_scale only")) < 0 ||
	    (rc = get_int(&p, root, "embed_dim", &cfg->projection_dim)) < 0 ||
	    (rc = get_num(&p, root, "init_logit_scale", &cfg->logit_scale_init)) < 0 ||
	    (rc = get_bool(&p, root, "quick_gelu", &quick)) < 0)
		return rc;
	p.sect = "vision_cfg.";
	if ((rc = parse_vision(&p, json_object_get(root, "vision_cfg"), quick, &cfg->vision)) < 0)
		return rc;
	p.sect = "text_cfg.";
	if ((rc = parse_text(&p, json_object_get(root, "text_cfg"), quick, &cfg->text)) < 0)
		return rc;
	return rc_clip_config_validate(cfg, what);
}

int rc_clip_open_clip_config_parse(struct rc_clip_config *cfg, const char *json, size_t len,
	const char *what)
{
	json_error_t err;
	what = what ? what : "open_clip config";
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return rc_log_error(RC_E_FORMAT, "%s:%d: %s", what, err.line, err.text);
	int rc = parse_root(cfg, root, what);
	json_decref(root);
	return rc;
}

int rc_clip_config_load_any(struct rc_clip_config *cfg, const char *path, int *is_open_clip)
{
	char *data;
	size_t len;
	json_error_t err;
	int rc = rc_io_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		rc = rc_log_error(RC_E_FORMAT, "%s:%d: %s", path, err.line, err.text);
	} else if (json_object_get(root, "model_cfg") || json_object_get(root, "embed_dim")) {
		if (is_open_clip)
			*is_open_clip = 1;
		rc = parse_root(cfg, root, path);
	} else {
		if (is_open_clip)
			*is_open_clip = 0;
		rc = rc_clip_config_parse(cfg, data, len, path);
	}
	json_decref(root);
	free(data);
	return rc;
}

/* ---------------------------------------------------------------- config out */

/* ratio - an mlp_ratio r with int(width · r) == inter, as open_clip
 * computes it (the plain quotient can fall one short). */
static double ratio(int inter, int width)
{
	double r = (double)inter / width;
	while ((int)(width * r) < inter)
		r = nextafter(r, INFINITY);
	while ((int)(width * r) > inter)
		r = nextafter(r, 0);
	return r;
}

static json_t *tower_json(const struct rc_clip_config *cfg, int text)
{
	const struct rc_clip_tower_config *t = text ? &cfg->text : &cfg->vision;
	json_t *o = json_pack("{s:i, s:i, s:f}", "layers", t->layers, "width", t->hidden,
		"mlp_ratio", ratio(t->intermediate, t->hidden));
	int bad = !o;
	if (!bad && text) {
		bad |= json_object_set_new(o, "context_length", json_integer(t->max_position));
		bad |= json_object_set_new(o, "vocab_size", json_integer(t->vocab_size));
		bad |= json_object_set_new(o, "heads", json_integer(t->heads));
		if (!(t->eos_token_id == 2 || t->eos_token_id == t->vocab_size - 1)) {
			bad |= json_object_set_new(o, "pool_type", json_string("eos"));
			bad |= json_object_set_new(o, "eos_id", json_integer(t->eos_token_id));
		}
		if (t->pad_token_id != 0)
			bad |= json_object_set_new(o, "pad_id", json_integer(t->pad_token_id));
	} else if (!bad) {
		bad |= json_object_set_new(o, "image_size", json_integer(t->image_size));
		bad |= json_object_set_new(o, "patch_size", json_integer(t->patch_size));
		bad |= json_object_set_new(o, "head_width", json_integer(t->hidden / t->heads));
	}
	if (!bad && t->layer_norm_eps != 1e-5)
		bad |= json_object_set_new(o, "norm_kwargs",
			json_pack("{s:f}", "eps", t->layer_norm_eps));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *three(const double *v)
{
	return json_pack("[f, f, f]", v[0], v[1], v[2]);
}

static json_t *model_cfg_json(const struct rc_clip_config *cfg)
{
	if (cfg->vision.act != cfg->text.act) {
		rc_log_error(RC_E_UNSUPPORTED, "open_clip has one activation for both towers; this "
			"model uses %s for vision and %s for text", rc_clip_act_name(cfg->vision.act),
			rc_clip_act_name(cfg->text.act));
		return NULL;
	}
	json_t *o = json_pack("{s:i, s:b, s:o, s:o}", "embed_dim", cfg->projection_dim,
		"quick_gelu", cfg->vision.act == RC_ACT_QUICK_GELU,
		"vision_cfg", tower_json(cfg, 0), "text_cfg", tower_json(cfg, 1));
	/* Only an initial value, but kept so that a round trip keeps config.json. */
	if (o && cfg->logit_scale_init != 2.6592 &&
	    json_object_set_new(o, "init_logit_scale", json_real(cfg->logit_scale_init))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int rc_clip_open_clip_config_to_json(const struct rc_clip_config *cfg, int hub, char **out)
{
	*out = NULL;
	if (cfg->vision.act != cfg->text.act) {
		model_cfg_json(cfg); /* logs */
		return RC_E_UNSUPPORTED;
	}
	json_t *o = model_cfg_json(cfg);
	if (o && hub)
		o = json_pack("{s:o, s:{s:i, s:s, s:o, s:o, s:s, s:s, s:i}}", "model_cfg", o,
			"preprocess_cfg", "size", cfg->vision.image_size, "mode", "RGB",
			"mean", three(rc_clip_image_mean), "std", three(rc_clip_image_std),
			"interpolation", "bicubic", "resize_mode", "shortest", "fill_color", 0);
	return rc_json_text(o, out);
}
