/* model_io.h - CLIP models in and out of rclip: open_clip state dicts and
 * configs, Hugging Face directories (a whole CLIPModel, or the vision tower
 * that multimodal LLMs load), and the checksum and tensor-by-tensor
 * comparison that `rclip-export --check` reports.
 *
 *     struct rc_clip_config cfg;
 *     struct rc_clip *m, *back;
 *     if (rc_clip_config_builtin(&cfg, "ViT-L-14-336") < 0 ||
 *         rc_clip_load_open_clip(&m, "open_clip_model.safetensors", &cfg) < 0)
 *             return 1;                                  // logged
 *     if (rc_clip_save_hf(m, "clip-l-336", 0) < 0)        // a new directory
 *             goto out;
 *     struct rc_hash128 h;
 *     rc_clip_checksum(m, RC_CLIP_ALL, &h);
 *     rc_clip_load_hf(&back, "clip-l-336");
 *     struct rc_clip_diff d;
 *     if (rc_clip_compare(m, back, RC_CLIP_ALL, &d) == 0 && d.ndiff == 0)
 *             ...                                         // bit for bit
 *
 * Every output is a directory written under a temporary name beside its
 * final one and renamed when complete, so a directory under the final name
 * is always whole. An existing output is an error unless
 * RC_CLIP_SAVE_FORCE, and even then only a directory of plain files (an
 * earlier export) is replaced; an empty directory is always taken.
 *
 * Text pooling across formats: open_clip pools at argmax(ids) by default,
 * Hugging Face at the first eos_token_id (or argmax when eos_token_id is
 * the legacy 2). With vocab_size V, argmax(ids) is the first position of
 * the id V-1 whenever the row holds it, which CLIP's tokenizers guarantee
 * (the end token 49407 = V-1 is the largest id and ends every row, padding
 * with 0 or with the end token alike). So open_clip's "argmax" is read as
 * eos_token_id V-1 (bos V-2, pad open_clip's pad_id), and HF's V-1 and the
 * legacy 2 are both written as "argmax"; any other eos_token_id becomes
 * open_clip's pool_type "eos" with that eos_id.
 */
#ifndef RCLIP_MODEL_IO_H
#define RCLIP_MODEL_IO_H

#include <stddef.h>

#include "model/clip_config.h"
#include "base/hash.h"
#include "model/model.h"

/* Parts of a model, for checksums and comparisons: each tensor of the
 * table belongs to exactly one. */
enum {
	RC_CLIP_VISION = 1,        /* vision_model.* */
	RC_CLIP_VISUAL_PROJ = 2,   /* visual_projection.weight */
	RC_CLIP_TEXT = 4,          /* text_model.* */
	RC_CLIP_TEXT_PROJ = 8,     /* text_projection.weight */
	RC_CLIP_LOGIT_SCALE = 16,  /* logit_scale */
	RC_CLIP_ALL = 31,
};

/* The formats rclip reads and writes. */
enum rc_clip_format {
	RC_CLIP_FMT_HF = 1,        /* CLIPModel directory */
	RC_CLIP_FMT_HF_VISION,     /* CLIPVisionModel(WithProjection) directory */
	RC_CLIP_FMT_OPEN_CLIP,     /* open_clip state dict (+ open_clip_config.json) */
	RC_CLIP_FMT_CHECKPOINT,    /* an rclip-train checkpoint (read only) */
};

/* Flags of the savers. */
#define RC_CLIP_SAVE_FORCE 1       /* replace an earlier export under that name */
#define RC_CLIP_SAVE_PROJECTION 2  /* hf-vision: CLIPVisionModelWithProjection */

/* rc_clip_format_name - "hf", "hf-vision", "open_clip", "checkpoint" ("?"
 * otherwise). rc_clip_format_parse knows the first three: the formats
 * rclip writes as models. */
const char *rc_clip_format_name(int fmt);

/* rc_clip_format_parse - the format named s (the names above). Returns it,
 * or 0 for an unknown name (not logged). */
int rc_clip_format_parse(const char *s);

/* rc_clip_tensor_part - the RC_CLIP_* part a Hugging Face name belongs to,
 * or 0 for a name outside CLIPModel. */
int rc_clip_tensor_part(const char *name);

/* rc_clip_model_part - the same for a tensor of m: a SigLIP model's
 * logit_bias (SiglipModel's own, an extra of a CLIP model) goes with
 * logit_scale, and its heads (vision_model.head.*, text_model.head.*) with
 * their towers. */
int rc_clip_model_part(const struct rc_clip *m, const char *name);

/* ---------------------------------------------------------------- configs */

/* rc_clip_open_clip_config_parse - an open_clip model config (the format
 * of the JSON files in open_clip's model_configs: embed_dim, quick_gelu, vision_cfg
 * {image_size, layers, width, head_width, mlp_ratio, patch_size, ...},
 * text_cfg {context_length, vocab_size, width, heads, layers, mlp_ratio,
 * pool_type, eos_id, pad_id, ...}), or a hub open_clip_config.json whose
 * "model_cfg" holds one, in len bytes of json; what names it in messages.
 * Absent keys take open_clip's defaults (CLIPVisionCfg, CLIPTextCfg);
 * vision heads are width / head_width, MLP widths int(width · mlp_ratio),
 * norm_kwargs {"eps": x} sets layer_norm_eps, quick_gelu picks the
 * activation of both towers. Keys that change the architecture away from
 * CLIP's (a ResNet or timm or HF tower, attentional pooling, layer scale,
 * no ln_pre, a projection bias, a logit bias, custom attention blocks, ...)
 * give RC_E_UNSUPPORTED naming the key; unknown keys are warned about.
 * Returns 0, RC_E_FORMAT (not JSON, no embed_dim, a value of the wrong
 * type), RC_E_UNSUPPORTED, RC_E_RANGE (rc_clip_config_validate) or
 * RC_E_NOMEM, logged. */
int rc_clip_open_clip_config_parse(struct rc_clip_config *cfg, const char *json, size_t len,
	const char *what);

/* rc_clip_config_load_any - a config file of either kind: an open_clip
 * config (embed_dim or model_cfg at the top) or a Hugging Face config.json.
 * *is_open_clip (may be NULL) says which. Returns the codes of the two
 * parsers, or RC_E_IO. */
int rc_clip_config_load_any(struct rc_clip_config *cfg, const char *path, int *is_open_clip);

/* rc_clip_open_clip_config_to_json - cfg as an open_clip model config
 * (hub == 0) or as a hub open_clip_config.json {"model_cfg": ...,
 * "preprocess_cfg": ...} (hub == 1), sorted keys, a final newline.
 * Returns 0 and *out (caller frees), RC_E_UNSUPPORTED (logged: the two
 * towers use different activations, which open_clip cannot express) or
 * RC_E_NOMEM. */
int rc_clip_open_clip_config_to_json(const struct rc_clip_config *cfg, int hub, char **out);

/* rc_clip_config_name - the built-in name whose config equals cfg in the
 * towers that parts touch (shapes, activations, eps, pooling rule), or
 * NULL. Static. */
const char *rc_clip_config_name(const struct rc_clip_config *cfg, int parts);

/* rc_clip_config_describe - a one-line summary of the towers of cfg that
 * parts touch, in buf: "vision 768w 12L 12H mlp 3072 quick_gelu image
 * 224/32, text 512w 12L 8H mlp 2048 quick_gelu vocab 49408 context 77,
 * dim 512". Returns buf. */
char *rc_clip_config_describe(const struct rc_clip_config *cfg, int parts, char *buf, size_t n);

/* rc_clip_config_compare - check that b describes the same computation as
 * a for the given parts (sizes, heads, activations, eps, pooling rule;
 * eos_token_id V-1 and the legacy 2 count as the same rule). what names b.
 * Returns 0 or RC_E_FORMAT, logging the first difference ("what:
 * text_config.num_attention_heads: 8 here, 12 in the source"). */
int rc_clip_config_compare(const struct rc_clip_config *a, const struct rc_clip_config *b,
	int parts, const char *what);

/* ---------------------------------------------------------------- loading */

/* rc_clip_load_open_clip - a model from an open_clip state dict: path is a
 * safetensors file, or a directory holding open_clip_model.safetensors (or
 * open_clip_pytorch_model.safetensors). cfg gives the architecture; NULL
 * takes the file's __metadata__ "open_clip_config", else the
 * open_clip_config.json beside the file. A "module." prefix on every name
 * (a DDP checkpoint) is accepted; F32, F16 and BF16 are read. Every tensor
 * the config needs must be there with its shape, and no other (a tensor
 * the model does not have means the architecture is wrong). Returns 0 and
 * *out (free with rc_clip_free), or RC_E_NOTFOUND (no config, no weights,
 * a missing tensor: "FILE: missing tensor visual.ln_pre.weight [768]"),
 * RC_E_FORMAT (a shape: "FILE: visual.proj: shape [a, b] in the file,
 * [c, d] in the config"; an extra tensor), RC_E_UNSUPPORTED (a logit_bias:
 * SigLIP; another dtype), RC_E_IO or RC_E_NOMEM, logged. */
int rc_clip_load_open_clip(struct rc_clip **out, const char *path,
	const struct rc_clip_config *cfg);

/* rc_clip_load_hf_vision - the vision tower from a CLIPVisionModel or
 * CLIPVisionModelWithProjection directory (config.json with model_type
 * "clip_vision_model", model.safetensors), or a SiglipVisionModel one
 * (model_type "siglip_vision_model": a SigLIP model, no projection). visual_projection is read when
 * the file has it (*has_proj, may be NULL, says so) and left zero
 * otherwise; the text tower is a placeholder of a few zero floats (text
 * config hidden 1, vocabulary 3, context 1). Returns 0 and *out, or the
 * codes of rc_clip_load_safetensors, RC_E_FORMAT (not a vision config),
 * RC_E_NOTFOUND, RC_E_IO, RC_E_NOMEM, logged. */
int rc_clip_load_hf_vision(struct rc_clip **out, const char *dir, int *has_proj);

/* rc_clip_detect - what path holds: a directory with config.json
 * (RC_CLIP_FMT_HF, or RC_CLIP_FMT_HF_VISION when its model_type is
 * clip_vision_model), a directory with open_clip_config.json and its
 * weights, or a .safetensors file with open_clip names (visual.conv1.weight)
 * (RC_CLIP_FMT_OPEN_CLIP), or a .safetensors file whose metadata says
 * "format": "rclip-checkpoint" (RC_CLIP_FMT_CHECKPOINT, rclip-train's
 * ckpt-N.safetensors and final.safetensors). Returns 0 and *fmt, or RC_E_NOTFOUND /
 * RC_E_FORMAT (logged, with a hint). */
int rc_clip_detect(const char *path, int *fmt);

/* rc_clip_load_any - rc_clip_detect, then the loader of that format; cfg
 * is for open_clip inputs only (NULL: found as rc_clip_load_open_clip
 * says; giving it for another format is RC_E_ARG). *fmt (may be NULL)
 * gets the format. Then rc_clip_check_finite. Returns 0 and *out, or the
 * loader's codes, or RC_E_FORMAT (a value not finite; *out NULL). */
int rc_clip_load_any(struct rc_clip **out, const char *path, const struct rc_clip_config *cfg,
	int *fmt);

/* rc_clip_check_finite - every value of every tensor of m is finite:
 * 0, or RC_E_FORMAT logged as "PATH: tensor NAME holds a NaN at index I"
 * (the first one) with a hint. After rc_clip_set_finite_check(0) (a
 * tool's --skip-finite-check; the default is 1) it checks nothing. */
int rc_clip_check_finite(const struct rc_clip *m, const char *path);
void rc_clip_set_finite_check(int on);

/* The tokenizer a model takes (rc_clip_tokenizer). */
struct rc_clip_tok {
	char id[128];       /* its ids, as data/tokenizer_id.h names them, or "" */
	char dir[4096];     /* the directory of a SentencePiece-family tokenizer
	                       beside the model that is this one, or "" */
	int pad_left;       /* with dir: it pads on the left (rc_spm_pad_left) */
};

/* rc_clip_tokenizer - which tokenizer's ids the model at path (of family,
 * its config's RC_FAMILY_*) takes, into t->id: an rclip checkpoint's
 * "tokenizer" metadata (written by rclip-train for a model not trained on
 * CLIP BPE), else the SentencePiece-family tokenizer in the model's
 * directory (rc_spm_id, not lowercased), else CLIP BPE for a CLIP model
 * or a directory with CLIP's merges.txt. When such a tokenizer sits in
 * the model's directory and is that one (rc_tokenizer_agree), t->dir and
 * t->pad_left say where and how it pads; it is read once. Returns 1 with
 * t->id set, 0 when the model names none (a SigLIP model without
 * tokenizer files, a built-in config), or the errors of reading the
 * tokenizer or the checkpoint, logged. */
int rc_clip_tokenizer(const char *path, int family, struct rc_clip_tok *t);

/* rc_clip_tokenizer_files - each file of a SentencePiece-family
 * tokenizer in directory dir (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, spiece.model, tokenizer.model,
 * added_tokens.json) that is there, read and handed to put(ctx, name,
 * data, len), which returns 0 or an RC_E_* code. Returns how many, or
 * the errors of reading them (logged) or of put. */
int rc_clip_tokenizer_files(const char *dir, int (*put)(void *ctx, const char *name,
	const char *data, size_t len), void *ctx);

/* rc_clip_copy_tokenizer - those files of directory src into directory
 * dst, each replaced atomically. Returns how many, or the errors of
 * reading and writing, logged. */
int rc_clip_copy_tokenizer(const char *src, const char *dst);

/* rc_clip_load_checkpoint - the model of an rclip-train checkpoint: the
 * config from its "config" metadata, every CLIPModel tensor under its
 * Hugging Face name (the optimizer's tensors and the heads are left
 * alone). Returns 0 and *out, or RC_E_FORMAT (no config: "not an rclip
 * checkpoint") and the codes of rc_clip_load_safetensors, logged. */
int rc_clip_load_checkpoint(struct rc_clip **out, const char *path);

/* ---------------------------------------------------------------- saving */

/* rc_clip_save_hf - a Hugging Face CLIPModel directory at dir:
 * config.json (rc_clip_config_to_json), model.safetensors (every tensor
 * under its HF name, F32, __metadata__ {"format": "pt"}: byte for byte
 * what save_pretrained writes), the CLIP tokenizer (vocab.json and
 * merges.txt built from the shipped merges, tokenizer_config.json,
 * special_tokens_map.json) and preprocessor_config.json
 * (CLIPImageProcessor at the model's image size), so that
 * CLIPModel.from_pretrained and CLIPProcessor.from_pretrained load it.
 * flags: RC_CLIP_SAVE_FORCE. A text vocabulary other than CLIP's 49408
 * is warned about (the tokenizer files are CLIP's). Returns 0, or RC_E_ARG
 * (dir exists: "DIR: exists"; not replaceable), RC_E_NOTFOUND (no merges
 * file), RC_E_IO or RC_E_NOMEM, logged; on error nothing is left under
 * dir and an older dir is untouched. */
int rc_clip_save_hf(const struct rc_clip *m, const char *dir, int flags);

/* rc_clip_save_hf_from - rc_clip_save_hf; for a SigLIP model a
 * SiglipModel directory: config.json (model_type siglip), model.safetensors,
 * preprocessor_config.json (SiglipImageProcessor: the whole image resized
 * to S×S, bicubic, mean and std 0.5) and the tokenizer files that the
 * directory src holds (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, spiece.model, tokenizer.model, copied as they
 * are; src may be NULL or hold none: then a warning says the output has no
 * tokenizer). Same returns as rc_clip_save_hf. */
int rc_clip_save_hf_from(const struct rc_clip *m, const char *dir, int flags, const char *src);

/* rc_clip_save_hf_vision - the vision tower as a CLIPVisionModel
 * directory (a SigLIP model's as a SiglipVisionModel one, model_type
 * siglip_vision_model, its pooling head included, no projection):
 * config.json (model_type clip_vision_model, the vision config
 * and projection_dim), model.safetensors (vision_model.* only; with
 * RC_CLIP_SAVE_PROJECTION also visual_projection.weight, and the
 * architecture CLIPVisionModelWithProjection) and preprocessor_config.json.
 * This is what LLaVA-style loaders read with CLIPVisionModel.from_pretrained
 * and CLIPImageProcessor.from_pretrained. Same returns as rc_clip_save_hf. */
int rc_clip_save_hf_vision(const struct rc_clip *m, const char *dir, int flags);

/* rc_clip_save_open_clip - an open_clip directory in the layout of its
 * hub repositories: open_clip_model.safetensors (the state dict of
 * open_clip.CLIP, F32, with the config also in __metadata__
 * "open_clip_config") and open_clip_config.json ({"model_cfg",
 * "preprocess_cfg"}), which open_clip.create_model_and_transforms(
 * "local-dir:DIR") loads. Same returns as rc_clip_save_hf, and
 * RC_E_UNSUPPORTED (rc_clip_open_clip_config_to_json). */
int rc_clip_save_open_clip(const struct rc_clip *m, const char *dir, int flags);

/* rc_clip_save_check - what the savers check before writing dir, for a
 * caller that wants to fail before a long load: 0 when dir is absent or an
 * empty directory, or with RC_CLIP_SAVE_FORCE a directory of plain files;
 * else RC_E_ARG ("DIR: exists", "DIR: exists and is not a directory", ...)
 * or RC_E_IO, logged. */
int rc_clip_save_check(const char *dir, int flags);

/* rc_clip_save - the saver of fmt; src (may be NULL) is where the model
 * came from: a SigLIP model's tokenizer files are copied from it
 * (rc_clip_save_hf_from). */
int rc_clip_save(const struct rc_clip *m, int fmt, const char *dir, int flags, const char *src);

/* rc_clip_save_parts - the parts (RC_CLIP_*) a save of fmt writes. */
int rc_clip_save_parts(int fmt, int flags);

/* ---------------------------------------------------------------- checks */

/* rc_clip_checksum - XXH3-128 of the tensors of the given parts as
 * little-endian float32, concatenated in name order (strcmp): for all
 * parts, the data section of the model.safetensors that rc_clip_save_hf
 * writes, so `xxh128sum` of that section gives the same. Returns 0 and
 * *out, or RC_E_NOMEM (logged). */
int rc_clip_checksum(const struct rc_clip *m, int parts, struct rc_hash128 *out);

/* rc_clip_parts_count - parameters (floats) and tensors in those parts. */
size_t rc_clip_parts_count(const struct rc_clip *m, int parts, size_t *ntensors);

/* The result of a comparison. */
struct rc_clip_diff {
	size_t ntensors;        /* tensors compared */
	size_t ndiff;           /* tensors that differ in at least one bit */
	double max_abs;         /* the largest |a - b| (inf for NaN against a number) */
	char worst[72];         /* the tensor holding it ("" when all are equal) */
};

/* rc_clip_compare - compare every tensor of a in the given parts with the
 * tensor of the same name in b, element by element; a tensor that differs
 * is logged at info level with its largest difference. Returns 0 with *d
 * filled in (the tensors are equal when d->ndiff is 0), or RC_E_FORMAT
 * when a tensor is missing from b or has another shape (logged, naming
 * the tensor and both shapes). */
int rc_clip_compare(const struct rc_clip *a, const struct rc_clip *b, int parts,
	struct rc_clip_diff *d);

#endif
