/* model_io.c - what the importers and exporters share: format names and
 * detection, the checkpoint and vision-only loaders, and the checksum and
 * comparisons behind `rclip-export --check`. The formats themselves are in
 * model_save_hf.c and model_open_clip*.c, the plumbing in model_io_files.c,
 * the choice of a loader or saver by format in model_io_any.c; those call
 * this file, and it calls none of them. */
#include "convert/model_io.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io_impl.h"
#include "data/safetensors.h"

/* ---------------------------------------------------------------- names */

const char *rc_clip_format_name(int fmt)
{
	switch (fmt) {
	case RC_CLIP_FMT_HF: return "hf";
	case RC_CLIP_FMT_HF_VISION: return "hf-vision";
	case RC_CLIP_FMT_OPEN_CLIP: return "open_clip";
	case RC_CLIP_FMT_CHECKPOINT: return "checkpoint";
	default: return "?";
	}
}

int rc_clip_format_parse(const char *s)
{
	for (int f = RC_CLIP_FMT_HF; f <= RC_CLIP_FMT_OPEN_CLIP; f++)
		if (strcmp(s, rc_clip_format_name(f)) == 0)
			return f;
	return 0;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int rc_clip_tensor_part(const char *name)
{
	if (starts_with(name, "vision_model."))
		return RC_CLIP_VISION;
	if (starts_with(name, "text_model."))
		return RC_CLIP_TEXT;
	if (strcmp(name, "visual_projection.weight") == 0)
		return RC_CLIP_VISUAL_PROJ;
	if (strcmp(name, "text_projection.weight") == 0)
		return RC_CLIP_TEXT_PROJ;
	if (strcmp(name, "logit_scale") == 0)
		return RC_CLIP_LOGIT_SCALE;
	return 0;
}

int rc_clip_model_part(const struct rc_clip *m, const char *name)
{
	if (m->cfg.family == RC_FAMILY_SIGLIP && !strcmp(name, "logit_bias"))
		return RC_CLIP_LOGIT_SCALE;       /* SiglipModel's own */
	return rc_clip_tensor_part(name);
}

int rc_clip_save_parts(int fmt, int flags)
{
	if (fmt != RC_CLIP_FMT_HF_VISION)
		return RC_CLIP_ALL;
	return RC_CLIP_VISION | (flags & RC_CLIP_SAVE_PROJECTION ? RC_CLIP_VISUAL_PROJ : 0);
}

/* ---------------------------------------------------------------- checksum */

static int by_name(const void *a, const void *b)
{
	const struct rc_clip_param *p = *(const struct rc_clip_param *const *)a;
	const struct rc_clip_param *q = *(const struct rc_clip_param *const *)b;
	return strcmp(p->name, q->name);
}

size_t rc_clip_parts_count(const struct rc_clip *m, int parts, size_t *ntensors)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < m->ntensors; i++)
		if (rc_clip_model_part(m, m->tensors[i].name) & parts) {
			n += m->tensors[i].numel;
			k++;
		}
	if (ntensors)
		*ntensors = k;
	return n;
}

int rc_clip_checksum(const struct rc_clip *m, int parts, struct rc_hash128 *out)
{
	const struct rc_clip_param **t = rc_calloc(m->ntensors ? m->ntensors : 1, sizeof *t);
	struct rc_hash_state hs = { 0 };
	size_t k = 0;
	int rc;
	if (!t)
		return RC_E_NOMEM;
	for (size_t i = 0; i < m->ntensors; i++)
		if (rc_clip_model_part(m, m->tensors[i].name) & parts)
			t[k++] = &m->tensors[i];
	qsort(t, k, sizeof *t, by_name);
	if ((rc = rc_hash_init(&hs, 0)) < 0)
		goto out;
	for (size_t i = 0; i < k; i++)
		rc_hash_update(&hs, t[i]->data, t[i]->numel * sizeof *t[i]->data);
	*out = rc_hash_digest128(&hs);
out:
	rc_hash_free(&hs);
	free(t);
	return rc;
}

/* ---------------------------------------------------------------- compare */

int rc_clip_compare(const struct rc_clip *a, const struct rc_clip *b, int parts,
	struct rc_clip_diff *d)
{
	memset(d, 0, sizeof *d);
	for (size_t i = 0; i < a->ntensors; i++) {
		const struct rc_clip_param *p = &a->tensors[i];
		if (!(rc_clip_model_part(a, p->name) & parts))
			continue;
		const struct rc_clip_param *q = rc_clip_find_param(b, p->name);
		char sa[96], sb[96];
		rc_shape_str(sa, sizeof sa, p->ndim, p->shape);
		if (!q)
			return rc_log_error(RC_E_FORMAT, "%s %s: missing from the copy", p->name, sa);
		rc_shape_str(sb, sizeof sb, q->ndim, q->shape);
		if (strcmp(sa, sb) != 0)
			return rc_log_error(RC_E_FORMAT, "%s: shape %s in the source, %s in the copy",
				p->name, sa, sb);
		d->ntensors++;
		if (memcmp(p->data, q->data, p->numel * sizeof *p->data) == 0)
			continue;
		double mx = 0;
		for (size_t j = 0; j < p->numel; j++) {
			double e = fabs((double)p->data[j] - (double)q->data[j]);
			if (isnan(e) && memcmp(&p->data[j], &q->data[j], sizeof(float)) != 0)
				e = INFINITY;
			if (e > mx)
				mx = e;
		}
		rc_log_info("%s: differs, max |a - b| %.3g", p->name, mx);
		if (!d->ndiff || mx > d->max_abs) {
			d->max_abs = mx;
			snprintf(d->worst, sizeof d->worst, "%s", p->name);
		}
		d->ndiff++;
	}
	return 0;
}

/* ---------------------------------------------------------------- configs */

/* The pooling rule: -1 for argmax(ids), else the end token looked for. */
static int pool_rule(const struct rc_clip_tower_config *t)
{
	return t->eos_token_id == 2 || t->eos_token_id == t->vocab_size - 1 ? -1 : t->eos_token_id;
}

static int differ(int quiet, const char *what, const char *key, double here, double src)
{
	if (!quiet)
		rc_log_error(RC_E_FORMAT, "%s: %s: %g here, %g in the source", what, key, here, src);
	return RC_E_FORMAT;
}

static int compare_tower(const struct rc_clip_tower_config *a, const struct rc_clip_tower_config *b,
	int text, const char *what, int quiet)
{
	char key[64];
	const char *tw = text ? "text_config" : "vision_config";
#define SAME(field, name) \
	do { \
		if (a->field != b->field) { \
			snprintf(key, sizeof key, "%s.%s", tw, name); \
			return differ(quiet, what, key, b->field, a->field); \
		} \
	} while (0)
	SAME(hidden, "hidden_size");
	SAME(layers, "num_hidden_layers");
	SAME(heads, "num_attention_heads");
	SAME(intermediate, "intermediate_size");
	SAME(act, "hidden_act (0 quick_gelu, 1 gelu, 2 tanh)");
	SAME(layer_norm_eps, "layer_norm_eps");
	if (text) {
		SAME(vocab_size, "vocab_size");
		SAME(max_position, "max_position_embeddings");
		if (pool_rule(a) != pool_rule(b)) {
			snprintf(key, sizeof key, "%s.eos_token_id (pooling)", tw);
			return differ(quiet, what, key, b->eos_token_id, a->eos_token_id);
		}
	} else {
		SAME(image_size, "image_size");
		SAME(patch_size, "patch_size");
	}
#undef SAME
	return 0;
}

static int compare_config(const struct rc_clip_config *a, const struct rc_clip_config *b,
	int parts, const char *what, int quiet)
{
	int rc;
	if (a->family != b->family) {
		if (!quiet)
			rc_log_error(RC_E_FORMAT, "%s: a %s model here, %s in the source", what,
				rc_clip_family_name(b->family), rc_clip_family_name(a->family));
		return RC_E_FORMAT;
	}
	if ((parts & (RC_CLIP_VISION | RC_CLIP_VISUAL_PROJ)) &&
	    (rc = compare_tower(&a->vision, &b->vision, 0, what, quiet)) < 0)
		return rc;
	if ((parts & (RC_CLIP_TEXT | RC_CLIP_TEXT_PROJ)) &&
	    (rc = compare_tower(&a->text, &b->text, 1, what, quiet)) < 0)
		return rc;
	if ((parts & (RC_CLIP_VISUAL_PROJ | RC_CLIP_TEXT_PROJ)) &&
	    a->projection_dim != b->projection_dim)
		return differ(quiet, what, "projection_dim", b->projection_dim, a->projection_dim);
	return 0;
}

int rc_clip_config_compare(const struct rc_clip_config *a, const struct rc_clip_config *b,
	int parts, const char *what)
{
	return compare_config(a, b, parts, what, 0);
}

const char *rc_clip_config_name(const struct rc_clip_config *cfg, int parts)
{
	const char *name;
	for (int i = 0; (name = rc_clip_config_builtin_name(i)); i++) {
		struct rc_clip_config b;
		if (rc_clip_config_builtin(&b, name) == 0 &&
		    compare_config(&b, cfg, parts, name, 1) == 0)
			return name;
	}
	return NULL;
}

char *rc_clip_config_describe(const struct rc_clip_config *cfg, int parts, char *buf, size_t n)
{
	const struct rc_clip_tower_config *v = &cfg->vision, *t = &cfg->text;
	size_t k = 0;
	buf[0] = 0;
	if (cfg->family == RC_FAMILY_SIGLIP)
		k += (size_t)snprintf(buf, n, "SigLIP ");
	if (k < n && (parts & (RC_CLIP_VISION | RC_CLIP_VISUAL_PROJ)))
		k += (size_t)snprintf(buf + k, n - k, "vision %dw %dL %dH mlp %d %s image %d/%d", v->hidden,
			v->layers, v->heads, v->intermediate, rc_clip_act_name(v->act), v->image_size,
			v->patch_size);
	if (k < n && (parts & (RC_CLIP_TEXT | RC_CLIP_TEXT_PROJ)))
		k += (size_t)snprintf(buf + k, n - k, "%stext %dw %dL %dH mlp %d %s vocab %d "
			"context %d", k ? ", " : "", t->hidden, t->layers, t->heads, t->intermediate,
			rc_clip_act_name(t->act), t->vocab_size, t->max_position);
	if (k < n && (parts & (RC_CLIP_VISUAL_PROJ | RC_CLIP_TEXT_PROJ)))
		snprintf(buf + k, n - k, ", dim %d", cfg->projection_dim);
	return buf;
}

/* ---------------------------------------------------------------- detection */

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The model_type of DIR/config.json, or NULL; *rc gets a read error. */
static char *model_type(const char *config, int *rc)
{
	json_error_t err;
	json_t *j = json_load_file(config, 0, &err);
	*rc = 0;
	if (!j) {
		*rc = rc_log_error(RC_E_FORMAT, "%s:%d: %s", config, err.line, err.text);
		return NULL;
	}
	const char *s = json_string_value(json_object_get(j, "model_type"));
	char *t = s ? rc_strdup(s) : NULL;
	json_decref(j);
	return t;
}

int rc_clip_detect(const char *path, int *fmt)
{
	struct stat st;
	char buf[4200];
	*fmt = 0;
	if (stat(path, &st) != 0)
		return rc_log_error(RC_E_NOTFOUND, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		snprintf(buf, sizeof buf, "%s/config.json", path);
		if (is_file(buf)) {
			int rc;
			char *type = model_type(buf, &rc);
			if (rc < 0)
				return rc;
			*fmt = type && (!strcmp(type, "clip_vision_model") ||
				!strcmp(type, "siglip_vision_model")) ? RC_CLIP_FMT_HF_VISION :
				RC_CLIP_FMT_HF;
			free(type);
			return 0;
		}
		const char *oc[] = { "open_clip_config.json", "open_clip_model.safetensors",
			"open_clip_pytorch_model.safetensors" };
		for (size_t i = 0; i < 3; i++) {
			snprintf(buf, sizeof buf, "%s/%s", path, oc[i]);
			if (is_file(buf)) {
				*fmt = RC_CLIP_FMT_OPEN_CLIP;
				return 0;
			}
		}
		rc_log_error(RC_E_NOTFOUND, "%s: no config.json (Hugging Face) or "
			"open_clip_config.json (open_clip) in it", path);
		rc_log_hint("give a model directory, or an open_clip .safetensors file");
		return RC_E_NOTFOUND;
	}
	if (!rc_ends_with(path, ".safetensors")) {
		rc_log_error(RC_E_UNSUPPORTED, "%s: not a directory or a .safetensors file", path);
		rc_log_hint("convert a PyTorch checkpoint with safetensors.torch.save_file(state_dict, "
			"'model.safetensors')");
		return RC_E_UNSUPPORTED;
	}
	struct rc_st *s;
	int rc = rc_st_open(&s, path);
	if (rc < 0)
		return rc;
	const char *format = rc_st_meta(s, "format");
	if (format && !strcmp(format, "rclip-checkpoint")) {
		*fmt = RC_CLIP_FMT_CHECKPOINT;
	} else if (rc_st_find(s, "visual.conv1.weight") ||
	    rc_st_find(s, "module.visual.conv1.weight")) {
		*fmt = RC_CLIP_FMT_OPEN_CLIP;
	} else if (rc_st_find(s, "vision_model.embeddings.patch_embedding.weight")) {
		rc = rc_log_error(RC_E_UNSUPPORTED, "%s: Hugging Face tensor names: give the "
			"directory that holds it and its config.json", path);
	} else {
		rc = rc_log_error(RC_E_FORMAT, "%s: no CLIP vision tower in it (neither "
			"visual.conv1.weight nor vision_model.embeddings.patch_embedding.weight)", path);
	}
	rc_st_close(s);
	return rc;
}

int rc_clip_load_checkpoint(struct rc_clip **out, const char *path)
{
	*out = NULL;
	struct rc_st *s;
	int rc = rc_st_open(&s, path);
	if (rc < 0)
		return rc;
	const char *format = rc_st_meta(s, "format"), *json = rc_st_meta(s, "config");
	struct rc_clip_config cfg;
	if (!format || strcmp(format, "rclip-checkpoint") != 0 || !json) {
		rc = rc_log_error(RC_E_FORMAT, "%s: not an rclip checkpoint (no \"format\": "
			"\"rclip-checkpoint\" and \"config\" in its metadata)", path);
	} else if ((rc = rc_clip_config_parse(&cfg, json, strlen(json), path)) == 0 &&
	    (rc = rc_clip_new(out, &cfg)) == 0 &&
	    (rc = rc_clip_load_safetensors(*out, path)) < 0) {
		rc_clip_free(*out);
		*out = NULL;
	}
	rc_st_close(s);
	return rc;
}

/* ---------------------------------------------------------------- vision-only */

/* vision_config - a CLIPVisionConfig (config.json of clip_vision_model) as
 * a CLIP config whose text tower is a placeholder; a SiglipVisionConfig
 * (siglip_vision_model) likewise as a SigLIP config, the placeholder's
 * head as wide as the vision tower. */
static int vision_config(struct rc_clip_config *cfg, const char *path)
{
	json_error_t err;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		return rc_log_error(RC_E_FORMAT, "%s:%d: %s", path, err.line, err.text);
	int rc = RC_E_NOMEM;
	json_t *root = json_object(), *t = json_object();
	const char *type = json_string_value(json_object_get(v, "model_type"));
	const int siglip = type && !strcmp(type, "siglip_vision_model");
	if (!json_is_object(v) || !type || (strcmp(type, "clip_vision_model") != 0 && !siglip)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: model_type is not \"clip_vision_model\" or "
			"\"siglip_vision_model\"", path);
		goto out;
	}
	json_t *width = json_object_get(v, "hidden_size");
	if (siglip && (json_object_set_new(root, "model_type", json_string("siglip")) ||
	    json_object_set_new(t, "projection_size", width ? json_incref(width) :
		json_integer(768))))
		goto out;
	if (!root || !t || json_object_set(root, "vision_config", v) ||
	    json_object_set_new(t, "hidden_size", json_integer(1)) ||
	    json_object_set_new(t, "intermediate_size", json_integer(1)) ||
	    json_object_set_new(t, "num_hidden_layers", json_integer(1)) ||
	    json_object_set_new(t, "num_attention_heads", json_integer(1)) ||
	    json_object_set_new(t, "vocab_size", json_integer(3)) ||
	    json_object_set_new(t, "max_position_embeddings", json_integer(1)) ||
	    json_object_set_new(t, "eos_token_id", json_integer(2)) ||
	    json_object_set_new(t, "bos_token_id", json_integer(0)) ||
	    json_object_set_new(t, "pad_token_id", json_integer(1)) ||
	    json_object_set(root, "text_config", t))
		goto out;
	json_t *pd = json_object_get(v, "projection_dim");
	if (pd && json_object_set(root, "projection_dim", pd))
		goto out;
	char *s = json_dumps(root, JSON_COMPACT);
	if (!s)
		goto out;
	rc = rc_clip_config_parse(cfg, s, strlen(s), path);
	free(s);
out:
	json_decref(t);
	json_decref(root);
	json_decref(v);
	return rc;
}

int rc_clip_load_hf_vision(struct rc_clip **out, const char *dir, int *has_proj)
{
	struct rc_clip_config cfg;
	char path[4200];
	struct rc_clip *m = NULL;
	struct rc_st *st = NULL;
	*out = NULL;
	if (has_proj)
		*has_proj = 0;
	snprintf(path, sizeof path, "%s/config.json", dir);
	int rc = vision_config(&cfg, path);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if ((rc = rc_clip_new(&m, &cfg)) < 0 || (rc = rc_st_open(&st, path)) < 0)
		goto out;
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		int part = rc_clip_model_part(m, p->name);
		if (!(part & (RC_CLIP_VISION | RC_CLIP_VISUAL_PROJ)))
			continue;
		const struct rc_st_tensor *t = rc_st_find(st, p->name);
		char a[96], b[96];
		rc_shape_str(b, sizeof b, p->ndim, p->shape);
		if (!t && part == RC_CLIP_VISUAL_PROJ)
			continue;
		if (!t) {
			rc = rc_log_error(RC_E_NOTFOUND, "%s: missing tensor %s %s", path, p->name, b);
			goto out;
		}
		rc_shape_str(a, sizeof a, t->ndim, t->shape);
		if (strcmp(a, b) != 0) {
			rc = rc_log_error(RC_E_FORMAT, "%s: %s: shape %s in the file, %s in the config",
				path, p->name, a, b);
			goto out;
		}
		if ((rc = rc_st_read_f32(st, t, p->data, p->numel)) < 0)
			goto out;
		if (part == RC_CLIP_VISUAL_PROJ && has_proj)
			*has_proj = 1;
	}
	*out = m;
	m = NULL;
out:
	rc_st_close(st);
	rc_clip_free(m);
	return rc;
}
