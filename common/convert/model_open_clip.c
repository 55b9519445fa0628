/* model_open_clip.c - open_clip state dicts in and out: its names, with
 * q/k/v fused into in_proj and the projections stored transposed, to and
 * from the parameters, and the hub directory layout. The config is in
 * model_open_clip_config.c. Facts from open_clip 3.3 (model.py,
 * transformer.py, factory.py). */
#include "convert/model_io.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io_impl.h"
#include "data/safetensors.h"

#define MAX_REPORTED 8

/* ---------------------------------------------------------------- names */

/* One open_clip tensor and where its numbers live in the model. */
struct octensor {
	char name[112];
	float *data;          /* q's data for a fused in_proj */
	int ndim;
	int64_t shape[4];
	size_t numel;
	int transpose;        /* a projection: [C, D] here, [D, C] in the model */
	int seen;
};

/* HF name pieces and their open_clip spelling: a piece ending in '.' is
 * a prefix, the others whole names; NULL: part of the fused in_proj. */
static const char *const top_map[][2] = {
	{ "vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight" },
	{ "vision_model.embeddings.class_embedding", "visual.class_embedding" },
	{ "vision_model.embeddings.position_embedding.weight", "visual.positional_embedding" },
	{ "vision_model.pre_layrnorm.", "visual.ln_pre." },
	{ "vision_model.post_layernorm.", "visual.ln_post." },
	{ "vision_model.encoder.layers.", "visual.transformer.resblocks." },
	{ "text_model.embeddings.token_embedding.weight", "token_embedding.weight" },
	{ "text_model.embeddings.position_embedding.weight", "positional_embedding" },
	{ "text_model.final_layer_norm.", "ln_final." },
	{ "text_model.encoder.layers.", "transformer.resblocks." },
	{ "visual_projection.weight", "visual.proj" },
	{ "text_projection.weight", "text_projection" },
	{ "logit_scale", "logit_scale" },
};

static const char *const layer_map[][2] = {
	{ "layer_norm1.", "ln_1." },
	{ "layer_norm2.", "ln_2." },
	{ "self_attn.out_proj.", "attn.out_proj." },
	{ "mlp.fc1.", "mlp.c_fc." },
	{ "mlp.fc2.", "mlp.c_proj." },
	{ "self_attn.q_proj.weight", "attn.in_proj_weight" },
	{ "self_attn.q_proj.bias", "attn.in_proj_bias" },
	{ "self_attn.k_proj.", NULL },
	{ "self_attn.v_proj.", NULL },
};

/* rewrite - hf through map into out; returns 1, 0 (a k/v piece: no
 * tensor of its own) or -1 (no rule). */
static int rewrite(const char *hf, const char *const (*map)[2], size_t n, char *out, size_t cap,
	int *layered)
{
	for (size_t i = 0; i < n; i++) {
		const char *from = map[i][0], *to = map[i][1];
		size_t len = strlen(from);
		int prefix = from[len - 1] == '.';
		if (prefix ? strncmp(hf, from, len) != 0 : strcmp(hf, from) != 0)
			continue;
		if (!to)
			return 0;
		if (layered)
			*layered = strstr(from, ".layers.") != NULL;
		snprintf(out, cap, "%s%s", to, prefix ? hf + len : "");
		return 1;
	}
	return -1;
}

/* oc_name - the open_clip name of HF tensor hf; returns as rewrite. */
static int oc_name(const char *hf, char *out, size_t cap)
{
	char mid[112];
	int layered = 0;
	int r = rewrite(hf, top_map, sizeof top_map / sizeof top_map[0], mid, sizeof mid, &layered);
	if (r <= 0 || !layered) {
		snprintf(out, cap, "%s", mid);
		return r;
	}
	/* "...resblocks.{i}.REST": rewrite REST. */
	const char *rb = strstr(mid, "resblocks.") + strlen("resblocks.");
	const char *dot = strchr(rb, '.');
	if (!dot)
		return -1;
	char rest[64];
	r = rewrite(dot + 1, layer_map, sizeof layer_map / sizeof layer_map[0], rest, sizeof rest,
		NULL);
	if (r <= 0)
		return r;
	if (snprintf(out, cap, "%.*s%s", (int)(dot + 1 - mid), mid, rest) >= (int)cap)
		return -1;
	return 1;
}

/* oc_table - the open_clip tensors of m, in the model's table order.
 * Returns 0 and *out (caller frees), *n; or RC_E_NOMEM. */
static int oc_table(const struct rc_clip *m, struct octensor **out, size_t *n)
{
	struct octensor *t = rc_calloc(m->nclip, sizeof *t);
	size_t k = 0;
	if (!t)
		return RC_E_NOMEM;
	for (size_t i = 0; i < m->nclip; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		struct octensor *e = &t[k];
		int r = oc_name(p->name, e->name, sizeof e->name);
		rc_assert(r >= 0);
		if (r == 0)
			continue;
		e->data = p->data;
		e->ndim = p->ndim;
		e->numel = p->numel;
		memcpy(e->shape, p->shape, sizeof e->shape);
		if (strstr(e->name, "in_proj_")) {
			/* q, k and v are adjacent in the parameters: one [3C, C]. */
			e->shape[0] *= 3;
			e->numel *= 3;
		} else if (!strcmp(e->name, "visual.proj") || !strcmp(e->name, "text_projection")) {
			e->transpose = 1;
			e->shape[0] = p->shape[1];
			e->shape[1] = p->shape[0];
		}
		k++;
	}
	*out = t;
	*n = k;
	return 0;
}

static void transpose(const float *src, float *dst, int64_t rows, int64_t cols)
{
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c = 0; c < cols; c++)
			dst[c * rows + r] = src[r * cols + c];
}

/* ---------------------------------------------------------------- load */

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* weights_path - path itself, or the weights file of an open_clip
 * directory. */
static int weights_path(const char *path, char *buf, size_t n)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		static const char *const names[] = { "open_clip_model.safetensors",
			"open_clip_pytorch_model.safetensors" };
		for (int i = 0; i < 2; i++) {
			snprintf(buf, n, "%s/%s", path, names[i]);
			if (is_file(buf))
				return 0;
		}
		rc_log_error(RC_E_NOTFOUND, "%s: no open_clip_model.safetensors in it", path);
		snprintf(buf, n, "%s/open_clip_pytorch_model.bin", path);
		if (is_file(buf))
			rc_log_hint("only safetensors are read: convert open_clip_pytorch_model.bin "
				"with safetensors.torch.save_file(torch.load(...), ...)");
		return RC_E_NOTFOUND;
	}
	if (snprintf(buf, n, "%s", path) >= (int)n)
		return rc_log_error(RC_E_ARG, "%s: path too long", path);
	return 0;
}

/* find_config - the architecture of weights file path when none is given:
 * its __metadata__ "open_clip_config", else STEM_config.json or
 * open_clip_config.json beside it. */
static int find_config(struct rc_clip_config *cfg, const struct rc_st *st, const char *path)
{
	const char *meta = rc_st_meta(st, "open_clip_config");
	if (meta) {
		char what[4300];
		snprintf(what, sizeof what, "%s: __metadata__.open_clip_config", path);
		return rc_clip_open_clip_config_parse(cfg, meta, strlen(meta), what);
	}
	char buf[4200];
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) + 1 : 0;
	size_t len = strlen(path);
	if (len > 12 && strcmp(path + len - 12, ".safetensors") == 0) {
		snprintf(buf, sizeof buf, "%.*s_config.json", (int)(len - 12), path);
		if (is_file(buf))
			return rc_clip_config_load_any(cfg, buf, NULL);
	}
	snprintf(buf, sizeof buf, "%.*sopen_clip_config.json", dirlen, path);
	if (is_file(buf))
		return rc_clip_config_load_any(cfg, buf, NULL);
	rc_log_error(RC_E_NOTFOUND, "%s: no architecture: no open_clip_config in its metadata and "
		"no open_clip_config.json beside it", path);
	return RC_E_NOTFOUND;
}

/* Names in open_clip files that are not parameters: OpenAI's original
 * state dicts carry these three. */
static int harmless(const char *name)
{
	return !strcmp(name, "input_resolution") || !strcmp(name, "context_length") ||
		!strcmp(name, "vocab_size");
}

static int read_all(struct rc_clip *m, struct rc_st *st, const char *path, const char *prefix)
{
	struct octensor *t;
	size_t n, bad = 0;
	int rc = oc_table(m, &t, &n), first = 0;
	if (rc < 0)
		return rc;
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < n; i++) {
		struct octensor *e = &t[i];
		char full[128], a[96], b[96];
		snprintf(full, sizeof full, "%s%s", prefix, e->name);
		const struct rc_st_tensor *f = rc_st_find(st, full);
		int quiet = bad >= MAX_REPORTED;
		rc_shape_str(b, sizeof b, e->ndim, e->shape);
		rc = 0;
		if (!f) {
			rc = RC_E_NOTFOUND;
			if (!quiet)
				rc_log_error(rc, "%s: missing tensor %s %s", path, full, b);
		} else {
			rc_shape_str(a, sizeof a, f->ndim, f->shape);
			if (strcmp(a, b) != 0) {
				rc = RC_E_FORMAT;
				if (!quiet)
					rc_log_error(rc, "%s: %s: shape %s in the file, %s in the config",
						path, full, a, b);
			} else if (!bad && !e->transpose) {
				rc = rc_st_read_f32(st, f, e->data, e->numel);
			} else if (!bad) {
				float *tmp = rc_malloc(e->numel * sizeof *tmp);
				rc = tmp ? rc_st_read_f32(st, f, tmp, e->numel) : RC_E_NOMEM;
				if (!rc)
					transpose(tmp, e->data, e->shape[0], e->shape[1]);
				free(tmp);
			}
			e->seen = 1;
		}
		if (rc == RC_E_NOMEM || rc == RC_E_IO) {
			first = rc;
			goto out;
		}
		if (rc < 0) {
			first = first ? first : rc;
			bad++;
		}
	}
	if (bad > MAX_REPORTED)
		rc_log_error(first, "%s: and %zu more bad tensors", path, bad - MAX_REPORTED);
	/* A tensor the model does not have means another architecture. */
	size_t extra = 0;
	for (size_t j = 0; !first && j < rc_st_count(st); j++) {
		const char *name = rc_st_at(st, j)->name;
		if (strncmp(name, prefix, plen) == 0)
			name += plen;
		if (harmless(name))
			continue;
		int found = 0;
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(t[i].name, name) == 0;
		if (found)
			continue;
		if (!strcmp(name, "logit_bias")) {
			first = rc_log_error(RC_E_UNSUPPORTED, "%s: logit_bias: a SigLIP model, not "
				"supported", path);
			goto out;
		}
		if (extra++ < MAX_REPORTED)
			rc_log_error(RC_E_FORMAT, "%s: tensor %s is not part of the model the config "
				"describes", path, rc_st_at(st, j)->name);
	}
	if (extra) {
		if (extra > MAX_REPORTED)
			rc_log_error(RC_E_FORMAT, "%s: and %zu more", path, extra - MAX_REPORTED);
		first = first ? first : RC_E_FORMAT;
	}
out:
	free(t);
	return first;
}

int rc_clip_load_open_clip(struct rc_clip **out, const char *path, const struct rc_clip_config *cfg)
{
	char wpath[4200];
	struct rc_clip_config c;
	struct rc_st *st = NULL;
	struct rc_clip *m = NULL;
	*out = NULL;
	int rc = weights_path(path, wpath, sizeof wpath);
	if (rc < 0 || (rc = rc_st_open(&st, wpath)) < 0)
		return rc;
	if (cfg)
		c = *cfg;
	else if ((rc = find_config(&c, st, wpath)) < 0)
		goto out;
	if ((rc = rc_clip_new(&m, &c)) < 0)
		goto out;
	const char *prefix = !rc_st_find(st, "visual.conv1.weight") &&
		rc_st_find(st, "module.visual.conv1.weight") ? "module." : "";
	rc_log_debug("%s: %zu parameters in %zu tensors", wpath, m->nparams, m->ntensors);
	if ((rc = read_all(m, st, wpath, prefix)) < 0)
		goto out;
	*out = m;
	m = NULL;
out:
	rc_clip_free(m);
	rc_st_close(st);
	return rc;
}

/* ---------------------------------------------------------------- save */

int rc_clip_save_open_clip(const struct rc_clip *m, const char *dir, int flags)
{
	struct octensor *t = NULL;
	struct rc_st_writer *w = NULL;
	struct rc_outdir d = { 0 };
	float *scratch = NULL;
	char *hub = NULL, *meta = NULL, path[4200];
	size_t n = 0, nt = 0;
	int rc = rc_clip_open_clip_config_to_json(&m->cfg, 1, &hub);
	if (rc < 0)
		return rc;
	/* The metadata copy, compact: what the fixtures' files carry. */
	char *plain = NULL;
	if ((rc = rc_clip_open_clip_config_to_json(&m->cfg, 0, &plain)) < 0)
		goto out;
	json_t *mc = json_loads(plain, 0, NULL);
	free(plain);
	meta = mc ? json_dumps(mc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(mc);
	if (!meta || (rc = oc_table(m, &t, &n)) < 0 || (rc = rc_st_writer_new(&w)) < 0) {
		rc = rc < 0 ? rc : RC_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		nt += t[i].transpose ? t[i].numel : 0;
	if (!(scratch = rc_malloc((nt ? nt : 1) * sizeof *scratch))) {
		rc = RC_E_NOMEM;
		goto out;
	}
	float *s = scratch;
	for (size_t i = 0; i < n && !rc; i++) {
		const void *data = t[i].data;
		if (t[i].transpose) {
			/* The model's [D, C] as open_clip's [C, D]. */
			transpose(t[i].data, s, t[i].shape[1], t[i].shape[0]);
			data = s;
			s += t[i].numel;
		}
		rc = rc_st_writer_add(w, t[i].name, RC_ST_F32, t[i].ndim, t[i].shape, data);
	}
	if (rc < 0 || (rc = rc_st_writer_meta(w, "format", "pt")) < 0 ||
	    (rc = rc_st_writer_meta(w, "open_clip_config", meta)) < 0 ||
	    (rc = rc_outdir_open(&d, dir, flags)) < 0)
		goto out;
	rc_outdir_file(&d, "open_clip_model.safetensors", path, sizeof path);
	if ((rc = rc_st_writer_write(w, path)) < 0 ||
	    (rc = rc_outdir_write(&d, "open_clip_config.json", hub, strlen(hub))) < 0)
		goto out;
	rc = rc_outdir_commit(&d);
out:
	rc_outdir_abort(&d);
	rc_st_writer_free(w);
	free(scratch);
	free(t);
	free(meta);
	free(hub);
	return rc;
}
