/* clip_config.h - the shape of a CLIP model: the two transformer towers,
 * the projection and the logit scale, as Hugging Face's CLIPConfig.
 *
 * A config comes from a built-in name (OpenAI's ViT-B/32, ViT-B/16,
 * ViT-L/14, ViT-L/14-336, and "tiny" for tests and demos) or from a
 * Hugging Face config.json (CLIPModel: "text_config" and "vision_config"
 * objects; a key that is absent takes transformers' default, as
 * CLIPConfig.from_pretrained would). It can be written back as a
 * config.json that transformers loads.
 *
 *     struct rc_clip_config cfg;
 *     int rc = rc_clip_config_load(&cfg, "model/config.json");
 *     if (rc < 0)
 *             return rc;                  // logged: the file and the key
 *     printf("%d tokens of %d\n", rc_clip_config_image_tokens(&cfg),
 *             cfg.vision.hidden);
 *     rc = rc_clip_config_builtin(&cfg, "ViT-L-14");
 *     rc = rc_clip_config_save(&cfg, "out/config.json");
 *
 * Both towers share one struct; the fields that belong to one tower only
 * are 0 in the other. Shapes in comments: B batch, T tokens, C hidden,
 * H heads, P patch, S image side, D projection.
 */
#ifndef RCLIP_CLIP_CONFIG_H
#define RCLIP_CLIP_CONFIG_H

#include <stddef.h>

/* The MLP activation ("hidden_act"). HF's "gelu" is the exact erf form. */
enum rc_act {
	RC_ACT_QUICK_GELU = 0, /* x·σ(1.702x): OpenAI checkpoints */
	RC_ACT_GELU = 1,       /* 0.5·x·(1 + erf(x/√2)) */
	RC_ACT_GELU_TANH = 2,  /* "gelu_pytorch_tanh": 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) */
};

/* The model family: which embeddings, pooling, heads and mask the two
 * towers have around the same pre-LN blocks.
 *   CLIP: class token, pre_layrnorm, pooled class token, causal text
 *     pooled at the end token, bias-free projections (CLIPModel);
 *   SigLIP: no class token and no pre-LN, a conv with bias, post_layernorm
 *     on every token and the attention-pooling head (a probe, one
 *     nn.MultiheadAttention, layernorm, MLP, residual) as the image
 *     embedding; text without a mask pooled at the last position, then a
 *     linear head with bias; logit_bias (SiglipModel, and SigLIP2's
 *     fixed-resolution checkpoints, which load as SiglipModel). */
enum rc_family {
	RC_FAMILY_CLIP = 0,
	RC_FAMILY_SIGLIP = 1,
};

struct rc_clip_tower_config {
	int hidden;          /* C, hidden_size */
	int layers;          /* num_hidden_layers */
	int heads;           /* H, num_attention_heads */
	int intermediate;    /* I, intermediate_size (MLP width) */
	int act;             /* enum rc_act, hidden_act */
	double layer_norm_eps;
	/* vision only */
	int image_size;      /* S */
	int patch_size;      /* P; S % P == 0 (SigLIP: (S/P)² whole patches, the
	                        rest of the image unused, as its Conv2d) */
	/* text only */
	int vocab_size;
	int max_position;    /* max_position_embeddings: the context, 77 */
	int eos_token_id;    /* 2 means HF's legacy rule: pool at argmax(ids) */
	int bos_token_id;
	int pad_token_id;
};

struct rc_clip_config {
	struct rc_clip_tower_config vision;
	struct rc_clip_tower_config text;
	int projection_dim;        /* D; SigLIP: the text head's projection_size,
	                              which must equal the vision width */
	double logit_scale_init;   /* logit_scale_init_value, ln(1/0.07) */
	int family;                /* enum rc_family */
};

/* rc_clip_config_default - transformers' CLIPConfig() (ViT-B/32 with
 * text eos 49407). Never fails. */
void rc_clip_config_default(struct rc_clip_config *cfg);

/* rc_clip_config_builtin - the config named name: "ViT-B-32", "ViT-B-16",
 * "ViT-L-14", "ViT-L-14-336" (OpenAI CLIP, quick_gelu, as open_clip's
 * model configs and the openai/clip-vit-* repositories), the SigLIP bases
 * "SigLIP-B-16-224", "SigLIP-So400M-14-384" (google/siglip-*: vocabulary
 * 32000), "SigLIP2-So400M-14-384" and "SigLIP2-Giant-Opt-16-384"
 * (google/siglip2-*: Gemma's vocabulary of 256000), all with context 64,
 * "tiny" (image 32, patch 8, hidden 64, 2 layers, 4 heads, text vocab
 * 49408 of width 32: for tests and demos), or "tiny-siglip" (its towers
 * as a SiglipModel: gelu_pytorch_tanh, SigLIP's vocabulary of 32000 and
 * context 64, the text head 32 -> 64). "/" is accepted for "-"
 * (ViT-B/32) and case is ignored. Returns 0, or RC_E_NOTFOUND (logged
 * with the list of names). */
int rc_clip_config_builtin(struct rc_clip_config *cfg, const char *name);

/* rc_clip_config_builtin_name - the i-th built-in name, or NULL past the
 * last one (static strings). */
const char *rc_clip_config_builtin_name(int i);

/* rc_clip_config_parse - read a Hugging Face CLIPModel config.json held in
 * json (len bytes; need not be NUL-terminated). what names the input in
 * messages. Missing keys take transformers' defaults (CLIPConfig,
 * CLIPTextConfig, CLIPVisionConfig); "text_config_dict" and
 * "vision_config_dict" override the sub-configs as transformers does.
 * model_type "siglip" is a SiglipModel config (family RC_FAMILY_SIGLIP,
 * SiglipConfig's defaults, the text's projection_size as projection_dim;
 * vision_use_head false is RC_E_UNSUPPORTED).
 * The result is validated (rc_clip_config_validate). Returns 0, or
 * RC_E_FORMAT (not JSON, a key of the wrong type: "what: text_config.
 * hidden_size: expected an integer"), RC_E_UNSUPPORTED (an activation
 * other than quick_gelu and gelu, num_channels other than 3, a non-square
 * image or patch, an eos_token_id list), RC_E_RANGE (see validate) or
 * RC_E_NOMEM, logged; *cfg is unspecified on error. */
int rc_clip_config_parse(struct rc_clip_config *cfg, const char *json, size_t len,
	const char *what);

/* rc_clip_config_load - rc_clip_config_parse() of the file at path.
 * Returns the same codes, or RC_E_IO (logged) when it cannot be read. */
int rc_clip_config_load(struct rc_clip_config *cfg, const char *path);

/* rc_clip_config_validate - check what the model needs: every size > 0,
 * hidden % heads == 0 in both towers, image_size % patch_size == 0
 * (CLIP; SigLIP patch_size ≤ image_size),
 * 0 < eps < 1, eos_token_id in [0, vocab_size) unless it is the legacy 2,
 * sizes within generous limits (widths up to 65536, 512 layers, images up
 * to 8192 with at most 65535 patches). what names the config (NULL:
 * "config"). Returns 0 or RC_E_RANGE
 * (logged, naming the key and the values: "what: vision_config:
 * hidden_size 100 is not a multiple of num_attention_heads 12"). */
int rc_clip_config_validate(const struct rc_clip_config *cfg, const char *what);

/* rc_clip_config_to_json - cfg as a config.json that transformers loads as
 * a CLIPModel (architectures, model_type, both sub-configs with every key
 * rclip knows, projection_dim also inside them), or for SigLIP as a
 * SiglipModel (model_type siglip, the text's projection_size), pretty-printed with
 * sorted keys and a final newline. Returns 0 and *out (NUL-terminated,
 * caller frees with free()), or RC_E_NOMEM (logged). */
int rc_clip_config_to_json(const struct rc_clip_config *cfg, char **out);

/* rc_clip_config_save - rc_clip_config_to_json() written atomically to path
 * ("-" is stdout). Returns 0, RC_E_IO or RC_E_NOMEM (logged). */
int rc_clip_config_save(const struct rc_clip_config *cfg, const char *path);

/* CLIP's image normalisation (CLIPImageProcessor's image_mean and
 * image_std, OpenAI's values), per channel R, G, B. Every CLIP config
 * rclip reads uses them; the exporters write them. */
extern const double rc_clip_image_mean[3], rc_clip_image_std[3];

/* rc_clip_config_image_norm - the normalisation the family's image
 * processor uses: CLIP's mean and std above, SigLIP's 0.5 and 0.5.
 * Static arrays of 3. */
void rc_clip_config_image_norm(const struct rc_clip_config *cfg, const double **mean,
	const double **std);

/* rc_clip_family_name - "clip" or "siglip" (static). */
const char *rc_clip_family_name(int family);

/* rc_clip_config_image_tokens - T of the vision tower: (S/P)² + 1 (the
 * class token), SigLIP (S/P)². */
int rc_clip_config_image_tokens(const struct rc_clip_config *cfg);

/* rc_clip_act_name - "quick_gelu", "gelu" or "gelu_pytorch_tanh" as
 * config.json spells them ("unknown" otherwise; static). */
const char *rc_clip_act_name(int act);

/* rc_json_digits - the fewest significant digits (%.*g) that read back as
 * x, as Python's repr writes floats. */
int rc_json_digits(double x);

#endif
