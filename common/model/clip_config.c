/* clip_config.c - CLIP configs: transformers' defaults, the built-in OpenAI
 * shapes, config.json in (jansson, defaults for absent keys) and out. */
#include "model/clip_config.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

const double rc_clip_image_mean[3] = { 0.48145466, 0.4578275, 0.40821073 };
const double rc_clip_image_std[3] = { 0.26862954, 0.26130258, 0.27577711 };
static const double siglip_half[3] = { 0.5, 0.5, 0.5 };

void rc_clip_config_image_norm(const struct rc_clip_config *cfg, const double **mean,
	const double **std)
{
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	*mean = siglip ? siglip_half : rc_clip_image_mean;
	*std = siglip ? siglip_half : rc_clip_image_std;
}

const char *rc_clip_family_name(int family)
{
	return family == RC_FAMILY_SIGLIP ? "siglip" : "clip";
}

/* Limits that keep every row index and tensor size well inside int and
 * the parameter names inside their buffer; far beyond any CLIP. */
#define MAX_WIDTH 65536
#define MAX_LAYERS 512
#define MAX_IMAGE 8192
#define MAX_VOCAB (1 << 24)
#define MAX_CONTEXT 65536

/* ---------------------------------------------------------------- defaults */

/* The defaults of transformers 5's CLIPTextConfig and CLIPVisionConfig. */
static void text_default(struct rc_clip_tower_config *t)
{
	memset(t, 0, sizeof *t);
	t->vocab_size = 49408;
	t->hidden = 512;
	t->intermediate = 2048;
	t->layers = 12;
	t->heads = 8;
	t->max_position = 77;
	t->act = RC_ACT_QUICK_GELU;
	t->layer_norm_eps = 1e-5;
	t->pad_token_id = 1;
	t->bos_token_id = 49406;
	t->eos_token_id = 49407;
}

static void vision_default(struct rc_clip_tower_config *v)
{
	memset(v, 0, sizeof *v);
	v->hidden = 768;
	v->intermediate = 3072;
	v->layers = 12;
	v->heads = 12;
	v->image_size = 224;
	v->patch_size = 32;
	v->act = RC_ACT_QUICK_GELU;
	v->layer_norm_eps = 1e-5;
}

void rc_clip_config_default(struct rc_clip_config *cfg)
{
	text_default(&cfg->text);
	vision_default(&cfg->vision);
	cfg->projection_dim = 512;
	cfg->logit_scale_init = 2.6592;
	cfg->family = RC_FAMILY_CLIP;
}

/* siglip_default - transformers 5's SiglipConfig(): both towers B/16 at
 * 224 with gelu_pytorch_tanh and eps 1e-6, vocabulary 32000, context 64;
 * the text head's projection_size defaults to the text width. The logit
 * scale and bias are parameters without an init value (0 and 0). */
static void siglip_default(struct rc_clip_config *cfg)
{
	struct rc_clip_tower_config *v = &cfg->vision, *t = &cfg->text;
	rc_clip_config_default(cfg);
	cfg->family = RC_FAMILY_SIGLIP;
	cfg->logit_scale_init = 0;
	v->hidden = t->hidden = 768;
	v->intermediate = t->intermediate = 3072;
	v->layers = t->layers = 12;
	v->heads = t->heads = 12;
	v->act = t->act = RC_ACT_GELU_TANH;
	v->layer_norm_eps = t->layer_norm_eps = 1e-6;
	v->image_size = 224, v->patch_size = 16;
	t->vocab_size = 32000, t->max_position = 64;
	t->pad_token_id = 1, t->bos_token_id = 49406, t->eos_token_id = 49407;
	cfg->projection_dim = 0;    /* the text width unless given */
}

/* ---------------------------------------------------------------- built-ins */

/* OpenAI CLIP as open_clip's model_configs (*.json) give it: vision heads
 * are width / 64 (head_width), MLPs 4 × width, quick_gelu; the text tower
 * is 12 layers of width 512 (B) or 768 (L). */
struct builtin {
	const char *name;
	int image, patch, vwidth, vlayers, twidth, theads, dim;
};

static const struct builtin builtins[] = {
	{ "ViT-B-32", 224, 32, 768, 12, 512, 8, 512 },
	{ "ViT-B-16", 224, 16, 768, 12, 512, 8, 512 },
	{ "ViT-L-14", 224, 14, 1024, 24, 768, 12, 768 },
	{ "ViT-L-14-336", 336, 14, 1024, 24, 768, 12, 768 },
};
#define NBUILTIN (sizeof builtins / sizeof builtins[0])

/* The SigLIP bases: their published configs (google/siglip-*,
 * google/siglip2-* and open_clip's ViT-*-SigLIP*.json): text width 1152
 * (768 for B) with an MLP of 4304, 27 layers, 16 heads; Gemma's 256000
 * ids for SigLIP2; the vision MLP 4304 (So400M) or 4 × width. Then
 * "tiny-siglip", "tiny"'s towers as a SiglipModel (SigLIP's vocabulary
 * and context), for tests and smoke runs. */
struct siglip_builtin {
	const char *name;
	int image, patch, vwidth, vinter, vlayers, vheads;
	int twidth, tinter, tlayers, theads, vocab;
};

static const struct siglip_builtin siglip_builtins[] = {
	{ "SigLIP-B-16-224", 224, 16, 768, 3072, 12, 12, 768, 3072, 12, 12, 32000 },
	{ "SigLIP-So400M-14-384", 384, 14, 1152, 4304, 27, 16, 1152, 4304, 27, 16, 32000 },
	{ "SigLIP2-So400M-14-384", 384, 14, 1152, 4304, 27, 16, 1152, 4304, 27, 16, 256000 },
	{ "SigLIP2-Giant-Opt-16-384", 384, 16, 1536, 6144, 40, 16, 1152, 4304, 27, 16, 256000 },
	{ "tiny-siglip", 32, 8, 64, 256, 2, 4, 32, 128, 2, 2, 32000 },
};
#define NSIGLIP (sizeof siglip_builtins / sizeof siglip_builtins[0])

static int same_name(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '/' ? '-' : (char)tolower((unsigned char)*a);
		char y = *b == '/' ? '-' : (char)tolower((unsigned char)*b);
		if (x != y)
			return 0;
	}
	return *a == *b;
}

const char *rc_clip_config_builtin_name(int i)
{
	if (i < 0)
		return NULL;
	if ((size_t)i < NBUILTIN)
		return builtins[i].name;
	if ((size_t)i == NBUILTIN)
		return "tiny";
	return (size_t)i <= NBUILTIN + NSIGLIP ? siglip_builtins[i - NBUILTIN - 1].name : NULL;
}

static int siglip_builtin(struct rc_clip_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < NSIGLIP; i++) {
		const struct siglip_builtin *b = &siglip_builtins[i];
		if (!same_name(name, b->name))
			continue;
		struct rc_clip_tower_config *v = &cfg->vision, *t = &cfg->text;
		siglip_default(cfg);
		v->image_size = b->image, v->patch_size = b->patch;
		v->hidden = b->vwidth, v->intermediate = b->vinter;
		v->layers = b->vlayers, v->heads = b->vheads;
		t->hidden = b->twidth, t->intermediate = b->tinter;
		t->layers = b->tlayers, t->heads = b->theads;
		t->vocab_size = b->vocab;
		if (b->vocab == 256000)     /* Gemma's ids */
			t->pad_token_id = 0, t->eos_token_id = 1, t->bos_token_id = 2;
		else
			t->pad_token_id = 1, t->eos_token_id = 1, t->bos_token_id = 0;
		cfg->projection_dim = b->vwidth;
		return 1;
	}
	return 0;
}

int rc_clip_config_builtin(struct rc_clip_config *cfg, const char *name)
{
	rc_clip_config_default(cfg);
	if (name && same_name(name, "tiny")) {
		struct rc_clip_tower_config *v = &cfg->vision, *t = &cfg->text;
		v->image_size = 32, v->patch_size = 8, v->hidden = 64;
		v->layers = 2, v->heads = 4, v->intermediate = 256;
		t->hidden = 32, t->layers = 2, t->heads = 2, t->intermediate = 128;
		cfg->projection_dim = 32;
		return 0;
	}
	for (size_t i = 0; name && i < NBUILTIN; i++) {
		const struct builtin *b = &builtins[i];
		if (!same_name(name, b->name))
			continue;
		struct rc_clip_tower_config *v = &cfg->vision, *t = &cfg->text;
		v->image_size = b->image, v->patch_size = b->patch;
		v->hidden = b->vwidth, v->layers = b->vlayers;
		v->heads = b->vwidth / 64, v->intermediate = 4 * b->vwidth;
		t->hidden = b->twidth, t->heads = b->theads, t->layers = 12;
		t->intermediate = 4 * b->twidth;
		cfg->projection_dim = b->dim;
		return 0;
	}
	if (siglip_builtin(cfg, name))
		return 0;
	rc_log_error(RC_E_NOTFOUND, "%s: no such model config", name ? name : "(null)");
	rc_log_hint("built-in configs: ViT-B-32, ViT-B-16, ViT-L-14, ViT-L-14-336, "
		"SigLIP-B-16-224, SigLIP-So400M-14-384, SigLIP2-So400M-14-384, "
		"SigLIP2-Giant-Opt-16-384, tiny, tiny-siglip");
	return RC_E_NOTFOUND;
}

const char *rc_clip_act_name(int act)
{
	switch (act) {
	case RC_ACT_QUICK_GELU: return "quick_gelu";
	case RC_ACT_GELU: return "gelu";
	case RC_ACT_GELU_TANH: return "gelu_pytorch_tanh";
	default: return "unknown";
	}
}

int rc_clip_config_image_tokens(const struct rc_clip_config *cfg)
{
	int g = cfg->vision.image_size / cfg->vision.patch_size;
	return g * g + (cfg->family != RC_FAMILY_SIGLIP);
}

/* ---------------------------------------------------------------- validate */

static int check_size(const char *what, const char *tower, const char *key, int v, int max)
{
	if (v > 0 && v <= max)
		return 0;
	return rc_log_error(RC_E_RANGE, "%s: %s: %s %d is out of range (1..%d)", what, tower,
		key, v, max);
}

static int check_tower(const char *what, const char *tower, const struct rc_clip_tower_config *t)
{
	int rc;
	if ((rc = check_size(what, tower, "hidden_size", t->hidden, MAX_WIDTH)) < 0 ||
	    (rc = check_size(what, tower, "num_hidden_layers", t->layers, MAX_LAYERS)) < 0 ||
	    (rc = check_size(what, tower, "num_attention_heads", t->heads, MAX_WIDTH)) < 0 ||
	    (rc = check_size(what, tower, "intermediate_size", t->intermediate, MAX_WIDTH)) < 0)
		return rc;
	if (t->hidden % t->heads != 0)
		return rc_log_error(RC_E_RANGE, "%s: %s: hidden_size %d is not a multiple of "
			"num_attention_heads %d", what, tower, t->hidden, t->heads);
	if (t->act != RC_ACT_QUICK_GELU && t->act != RC_ACT_GELU && t->act != RC_ACT_GELU_TANH)
		return rc_log_error(RC_E_RANGE, "%s: %s: unknown activation %d", what, tower, t->act);
	if (!(t->layer_norm_eps > 0 && t->layer_norm_eps < 1))
		return rc_log_error(RC_E_RANGE, "%s: %s: layer_norm_eps %g is out of range (0..1)",
			what, tower, t->layer_norm_eps);
	return 0;
}

static int check_token(const char *what, const char *key, int id, int vocab)
{
	if (id >= 0 && id < vocab)
		return 0;
	return rc_log_error(RC_E_RANGE, "%s: text_config: %s %d is outside the vocabulary "
		"(vocab_size %d)", what, key, id, vocab);
}

int rc_clip_config_validate(const struct rc_clip_config *cfg, const char *what)
{
	const struct rc_clip_tower_config *v = &cfg->vision, *t = &cfg->text;
	int rc;
	if (!what)
		what = "config";
	if ((rc = check_tower(what, "vision_config", v)) < 0 ||
	    (rc = check_tower(what, "text_config", t)) < 0 ||
	    (rc = check_size(what, "vision_config", "image_size", v->image_size, MAX_IMAGE)) < 0 ||
	    (rc = check_size(what, "vision_config", "patch_size", v->patch_size, MAX_IMAGE)) < 0 ||
	    (rc = check_size(what, "text_config", "vocab_size", t->vocab_size, MAX_VOCAB)) < 0 ||
	    (rc = check_size(what, "text_config", "max_position_embeddings", t->max_position,
		MAX_CONTEXT)) < 0 ||
	    (rc = check_size(what, "config", "projection_dim", cfg->projection_dim, MAX_WIDTH)) < 0)
		return rc;
	/* SigLIP's convolution drops the pixels past the last whole patch
	 * (So400M/14 at 384: 27 patches of 14) */
	if (v->image_size % v->patch_size != 0 && cfg->family != RC_FAMILY_SIGLIP)
		return rc_log_error(RC_E_RANGE, "%s: vision_config: image_size %d is not a multiple "
			"of patch_size %d", what, v->image_size, v->patch_size);
	if (v->patch_size > v->image_size)
		return rc_log_error(RC_E_RANGE, "%s: vision_config: patch_size %d is larger than "
			"image_size %d", what, v->patch_size, v->image_size);
	/* The largest activation row count, B aside: tokens of one image. */
	long long g = v->image_size / v->patch_size;
	if (g * g + 1 > MAX_CONTEXT)
		return rc_log_error(RC_E_RANGE, "%s: vision_config: %lld patches are too many "
			"(at most %d)", what, g * g, MAX_CONTEXT - 1);
	/* SigLIP pools at the last position: its eos id is not used */
	if (cfg->family != RC_FAMILY_SIGLIP && t->eos_token_id != 2 &&
	    (rc = check_token(what, "eos_token_id", t->eos_token_id, t->vocab_size)) < 0)
		return rc;
	if (cfg->family != RC_FAMILY_CLIP && cfg->family != RC_FAMILY_SIGLIP)
		return rc_log_error(RC_E_RANGE, "%s: unknown model family %d", what, cfg->family);
	if (cfg->family == RC_FAMILY_SIGLIP && cfg->projection_dim != v->hidden)
		return rc_log_error(RC_E_RANGE, "%s: text_config: projection_size %d differs from "
			"the vision hidden_size %d (SigLIP compares the two)", what,
			cfg->projection_dim, v->hidden);
	if (!isfinite(cfg->logit_scale_init))
		return rc_log_error(RC_E_RANGE, "%s: logit_scale_init_value is not finite", what);
	return 0;
}

/* ---------------------------------------------------------------- parse */

struct parser {
	const char *what;
	const char *tower;  /* "text_config", "vision_config" or "config" */
};

static int bad_type(const struct parser *p, const char *key, const char *want)
{
	return rc_log_error(RC_E_FORMAT, "%s: %s.%s: expected %s", p->what, p->tower, key, want);
}

/* get_int - *dst = obj[key] when present (an integer, or a real with an
 * integral value as Python may write 1e5); absent or null keeps *dst. */
static int get_int(const struct parser *p, json_t *obj, const char *key, int *dst)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x < -2147483647 || x > 2147483647)
			return rc_log_error(RC_E_RANGE, "%s: %s.%s: %lld is out of range", p->what,
				p->tower, key, (long long)x);
		*dst = (int)x;
		return 0;
	}
	return bad_type(p, key, "an integer");
}

static int get_num(const struct parser *p, json_t *obj, const char *key, double *dst)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return bad_type(p, key, "a number");
	*dst = json_number_value(v);
	return 0;
}

/* get_square - image_size and patch_size may be an int or [h, w]. */
static int get_square(const struct parser *p, json_t *obj, const char *key, int *dst)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_array(v))
		return get_int(p, obj, key, dst);
	json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
	if (json_array_size(v) != 2 || !json_is_integer(a) || !json_is_integer(b))
		return bad_type(p, key, "an integer or [height, width]");
	json_int_t h = json_integer_value(a), w = json_integer_value(b);
	if (h != w)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: %s.%s: only square sizes are "
			"supported (got [%lld, %lld])", p->what, p->tower, key, (long long)h,
			(long long)w);
	if (h < 0 || h > 2147483647)
		return rc_log_error(RC_E_RANGE, "%s: %s.%s: %lld is out of range", p->what,
			p->tower, key, (long long)h);
	*dst = (int)h;
	return 0;
}

static int get_act(const struct parser *p, json_t *obj, int *dst)
{
	json_t *v = json_object_get(obj, "hidden_act");
	if (!v || json_is_null(v))
		return 0;
	const char *s = json_string_value(v);
	if (!s)
		return bad_type(p, "hidden_act", "a string");
	if (strcmp(s, "quick_gelu") == 0)
		*dst = RC_ACT_QUICK_GELU;
	else if (strcmp(s, "gelu") == 0)
		*dst = RC_ACT_GELU;
	else if (strcmp(s, "gelu_pytorch_tanh") == 0)
		*dst = RC_ACT_GELU_TANH;
	else
		return rc_log_error(RC_E_UNSUPPORTED, "%s: %s.hidden_act: \"%s\" is not supported "
			"(quick_gelu, gelu or gelu_pytorch_tanh)", p->what, p->tower, s);
	return 0;
}

/* get_token - a token id: an integer, null (keeps the default), or a list
 * of one (transformers allows lists for eos). */
static int get_token(const struct parser *p, json_t *obj, const char *key, int *dst)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_array(v)) {
		if (json_array_size(v) != 1 || !json_is_integer(json_array_get(v, 0)))
			return rc_log_error(RC_E_UNSUPPORTED, "%s: %s.%s: a list of %zu ids is not "
				"supported (one id)", p->what, p->tower, key, json_array_size(v));
		*dst = (int)json_integer_value(json_array_get(v, 0));
		return 0;
	}
	return get_int(p, obj, key, dst);
}

/* tower - the keys common to both towers, then those of one. */
static int parse_tower(const struct parser *p, json_t *o, struct rc_clip_tower_config *t, int text)
{
	int rc, channels = 3;
	if (!json_is_object(o))
		return rc_log_error(RC_E_FORMAT, "%s: %s: expected an object", p->what, p->tower);
	if ((rc = get_int(p, o, "hidden_size", &t->hidden)) < 0 ||
	    (rc = get_int(p, o, "num_hidden_layers", &t->layers)) < 0 ||
	    (rc = get_int(p, o, "num_attention_heads", &t->heads)) < 0 ||
	    (rc = get_int(p, o, "intermediate_size", &t->intermediate)) < 0 ||
	    (rc = get_num(p, o, "layer_norm_eps", &t->layer_norm_eps)) < 0 ||
	    (rc = get_act(p, o, &t->act)) < 0)
		return rc;
	if (text) {
		if ((rc = get_int(p, o, "vocab_size", &t->vocab_size)) < 0 ||
		    (rc = get_int(p, o, "max_position_embeddings", &t->max_position)) < 0 ||
		    (rc = get_token(p, o, "eos_token_id", &t->eos_token_id)) < 0 ||
		    (rc = get_token(p, o, "bos_token_id", &t->bos_token_id)) < 0 ||
		    (rc = get_token(p, o, "pad_token_id", &t->pad_token_id)) < 0)
			return rc;
		return 0;
	}
	if ((rc = get_square(p, o, "image_size", &t->image_size)) < 0 ||
	    (rc = get_square(p, o, "patch_size", &t->patch_size)) < 0 ||
	    (rc = get_int(p, o, "num_channels", &channels)) < 0)
		return rc;
	if (channels != 3)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: vision_config.num_channels: %d channels "
			"are not supported (3)", p->what, channels);
	return 0;
}

static int parse_sub(const char *what, json_t *root, const char *key, const char *dict_key,
	struct rc_clip_tower_config *t, int text)
{
	struct parser p = { what, key };
	json_t *o = json_object_get(root, key);
	int rc;
	if (o && !json_is_null(o) && (rc = parse_tower(&p, o, t, text)) < 0)
		return rc;
	/* Old configs: "text_config_dict" wins over "text_config". */
	o = json_object_get(root, dict_key);
	if (o && !json_is_null(o)) {
		p.tower = dict_key;
		if ((rc = parse_tower(&p, o, t, text)) < 0)
			return rc;
	}
	return 0;
}

/* siglip_keys - what SiglipConfig has beyond the towers: the text head's
 * projection_size (the text width when absent) and vision_use_head,
 * which SiglipModel needs true. */
static int siglip_keys(const struct parser *p0, json_t *root, struct rc_clip_config *cfg)
{
	struct parser p = { p0->what, "text_config" };
	json_t *t = json_object_get(root, "text_config"), *v = json_object_get(root, "vision_config");
	int rc;
	cfg->projection_dim = cfg->text.hidden;
	if (json_is_object(t) && (rc = get_int(&p, t, "projection_size", &cfg->projection_dim)) < 0)
		return rc;
	json_t *head = json_is_object(v) ? json_object_get(v, "vision_use_head") : NULL;
	if (head && json_is_false(head))
		return rc_log_error(RC_E_UNSUPPORTED, "%s: vision_config.vision_use_head: a SigLIP "
			"vision tower without its pooling head has no image embedding", p.what);
	return 0;
}

int rc_clip_config_parse(struct rc_clip_config *cfg, const char *json, size_t len,
	const char *what)
{
	json_error_t err;
	struct parser p = { what ? what : "config.json", "config" };
	int rc;

	rc_clip_config_default(cfg);
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	int siglip = 0;
	if (!root)
		return rc_log_error(RC_E_FORMAT, "%s:%d: %s", p.what, err.line, err.text);
	if (!json_is_object(root)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: expected a JSON object", p.what);
		goto out;
	}
	const char *type = json_string_value(json_object_get(root, "model_type"));
	if (type && !strcmp(type, "siglip")) {
		siglip = 1;
		siglip_default(cfg);
	} else if (type && strcmp(type, "clip") != 0) {
		rc_log_warn("%s: model_type is \"%s\", reading it as a CLIP config", p.what, type);
	}
	if ((rc = get_int(&p, root, "projection_dim", &cfg->projection_dim)) < 0 ||
	    (rc = get_num(&p, root, "logit_scale_init_value", &cfg->logit_scale_init)) < 0 ||
	    (rc = parse_sub(p.what, root, "text_config", "text_config_dict", &cfg->text, 1)) < 0 ||
	    (rc = parse_sub(p.what, root, "vision_config", "vision_config_dict", &cfg->vision, 0)) < 0)
		goto out;
	if (siglip && (rc = siglip_keys(&p, root, cfg)) < 0)
		goto out;
	rc = rc_clip_config_validate(cfg, p.what);
out:
	json_decref(root);
	return rc;
}

int rc_clip_config_load(struct rc_clip_config *cfg, const char *path)
{
	char *data;
	size_t len;
	int rc = rc_io_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	rc = rc_clip_config_parse(cfg, data, len, path);
	free(data);
	return rc;
}

/* ---------------------------------------------------------------- write */

static int put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

/* tower_json - a sub-config; SigLIP's with only the keys its dataclasses
 * know (the text head's projection_size, vision_use_head). */
static json_t *tower_json(const struct rc_clip_config *cfg, int text)
{
	const struct rc_clip_tower_config *t = text ? &cfg->text : &cfg->vision;
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	json_t *o = json_object();
	int bad = !o;
	if (bad)
		return NULL;
	char type[32];
	snprintf(type, sizeof type, "%s_%s_model", rc_clip_family_name(cfg->family),
		text ? "text" : "vision");
	bad |= put(o, "model_type", json_string(type));
	bad |= put(o, "hidden_size", json_integer(t->hidden));
	bad |= put(o, "intermediate_size", json_integer(t->intermediate));
	bad |= put(o, "num_hidden_layers", json_integer(t->layers));
	bad |= put(o, "num_attention_heads", json_integer(t->heads));
	bad |= put(o, "hidden_act", json_string(rc_clip_act_name(t->act)));
	bad |= put(o, "layer_norm_eps", json_real(t->layer_norm_eps));
	bad |= put(o, "attention_dropout", json_real(0.0));
	if (!siglip) {
		bad |= put(o, "projection_dim", json_integer(cfg->projection_dim));
		bad |= put(o, "initializer_factor", json_real(1.0));
		bad |= put(o, "initializer_range", json_real(0.02));
	}
	if (text) {
		bad |= put(o, "vocab_size", json_integer(t->vocab_size));
		bad |= put(o, "max_position_embeddings", json_integer(t->max_position));
		bad |= put(o, "eos_token_id", json_integer(t->eos_token_id));
		bad |= put(o, "bos_token_id", json_integer(t->bos_token_id));
		bad |= put(o, "pad_token_id", json_integer(t->pad_token_id));
		if (siglip)
			bad |= put(o, "projection_size", json_integer(cfg->projection_dim));
	} else {
		bad |= put(o, "image_size", json_integer(t->image_size));
		bad |= put(o, "patch_size", json_integer(t->patch_size));
		bad |= put(o, "num_channels", json_integer(3));
		if (siglip)
			bad |= put(o, "vision_use_head", json_true());
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int rc_json_digits(double x)
{
	char buf[40];
	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, x);
		if (strtod(buf, NULL) == x)
			return p;
	}
	return 17;
}

int rc_clip_config_to_json(const struct rc_clip_config *cfg, char **out)
{
	*out = NULL;
	const int siglip = cfg->family == RC_FAMILY_SIGLIP;
	json_t *o = json_object(), *arch = json_array();
	int bad = !o || !arch || json_array_append_new(arch, json_string(siglip ? "SiglipModel" :
		"CLIPModel")) != 0;
	if (!bad) {
		bad |= put(o, "architectures", arch);
		arch = NULL;
		bad |= put(o, "model_type", json_string(rc_clip_family_name(cfg->family)));
		bad |= put(o, "dtype", json_string("float32"));
		bad |= put(o, "initializer_factor", json_real(1.0));
		if (!siglip) {
			bad |= put(o, "logit_scale_init_value", json_real(cfg->logit_scale_init));
			bad |= put(o, "projection_dim", json_integer(cfg->projection_dim));
		}
		bad |= put(o, "text_config", tower_json(cfg, 1));
		bad |= put(o, "vision_config", tower_json(cfg, 0));
	}
	/* One precision for the whole file: enough for every real in it. */
	int prec = rc_json_digits(cfg->logit_scale_init);
	int pv = rc_json_digits(cfg->vision.layer_norm_eps), pt = rc_json_digits(cfg->text.layer_norm_eps);
	prec = prec > pv ? prec : pv;
	prec = prec > pt ? prec : pt;
	char *s = bad ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS |
		JSON_REAL_PRECISION(prec));
	json_decref(arch);
	json_decref(o);
	if (!s)
		return rc_log_error(RC_E_NOMEM, "out of memory writing a config.json");
	size_t n = strlen(s);
	char *t = rc_malloc(n + 2);
	if (!t) {
		free(s);
		return RC_E_NOMEM;
	}
	memcpy(t, s, n);
	t[n] = '\n', t[n + 1] = '\0';
	free(s);
	*out = t;
	return 0;
}

int rc_clip_config_save(const struct rc_clip_config *cfg, const char *path)
{
	char *s;
	int rc = rc_clip_config_to_json(cfg, &s);
	if (rc < 0)
		return rc;
	rc = rc_atomic_write_file(path, s, strlen(s));
	free(s);
	return rc;
}
