/* model_save_hf.c - Hugging Face directories out of rclip: a CLIPModel
 * (config, weights, the CLIP tokenizer, the image processor) that
 * transformers' CLIPModel and CLIPProcessor load, and the vision tower
 * alone as CLIPVisionModel for multimodal LLMs. */
#include "convert/model_io.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/bpe.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io_impl.h"
#include "data/safetensors.h"
#include "base/utf8.h"

/* ---------------------------------------------------------------- weights */

/* write_weights - model.safetensors of the tensors in parts, F32 under
 * their HF names, metadata {"format": "pt"} as save_pretrained writes. */
static int write_weights(const struct rc_outdir *d, const struct rc_clip *m, int parts)
{
	struct rc_st_writer *w;
	char path[4200];
	int rc = rc_st_writer_new(&w);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < m->ntensors && !rc; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		if (rc_clip_model_part(m, p->name) & parts)
			rc = rc_st_writer_add(w, p->name, RC_ST_F32, p->ndim, p->shape, p->data);
	}
	if (!rc)
		rc = rc_st_writer_meta(w, "format", "pt");
	if (!rc && !rc_outdir_file(d, "model.safetensors", path, sizeof path))
		rc = rc_log_error(RC_E_ARG, "%s: path too long", d->tmp);
	if (!rc)
		rc = rc_st_writer_write(w, path);
	rc_st_writer_free(w);
	return rc;
}

/* ---------------------------------------------------------------- image processor */

static json_t *three(const double *v)
{
	json_t *a = json_array();
	for (int i = 0; a && i < 3; i++)
		if (json_array_append_new(a, json_real(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* SiglipImageProcessor as the google/siglip-* repositories configure it:
 * the whole image resized to S×S (bicubic), x/255, mean and std 0.5. */
static int siglip_preprocessor_json(const struct rc_clip_config *cfg, int processor, char **out)
{
	int S = cfg->vision.image_size;
	const double *mean, *std;
	rc_clip_config_image_norm(cfg, &mean, &std);
	json_t *o = json_pack("{s:b, s:b, s:b, s:b, s:o, s:s, s:o, s:i, s:f, s:{s:i,s:i}}",
		"do_convert_rgb", 1, "do_normalize", 1, "do_rescale", 1, "do_resize", 1,
		"image_mean", three(mean),
		"image_processor_type", "SiglipImageProcessor",
		"image_std", three(std),
		"resample", 3,
		"rescale_factor", 1.0 / 255.0,
		"size", "height", S, "width", S);
	if (o && processor && json_object_set_new(o, "processor_class",
	    json_string("SiglipProcessor"))) {
		json_decref(o);
		o = NULL;
	}
	return rc_json_text(o, out);
}

/* CLIPImageProcessor as the openai/clip-vit-* repositories configure it:
 * resize the shortest edge to S with bicubic (PIL resample 3), centre
 * crop S×S, x/255, normalise with CLIP's mean and std. processor says
 * whether the directory also has a tokenizer (CLIPProcessor). */
static int preprocessor_json(const struct rc_clip_config *cfg, int processor, char **out)
{
	int S = cfg->vision.image_size;
	if (cfg->family == RC_FAMILY_SIGLIP)
		return siglip_preprocessor_json(cfg, processor, out);
	json_t *o = json_pack("{s:{s:i,s:i}, s:b, s:b, s:b, s:b, s:b, s:o, s:s, s:o, s:i, s:f, "
		"s:{s:i}}",
		"crop_size", "height", S, "width", S,
		"do_center_crop", 1, "do_convert_rgb", 1, "do_normalize", 1, "do_rescale", 1,
		"do_resize", 1,
		"image_mean", three(rc_clip_image_mean),
		"image_processor_type", "CLIPImageProcessor",
		"image_std", three(rc_clip_image_std),
		"resample", 3,
		"rescale_factor", 1.0 / 255.0,
		"size", "shortest_edge", S);
	if (o && processor && json_object_set_new(o, "processor_class", json_string("CLIPProcessor"))) {
		json_decref(o);
		o = NULL;
	}
	return rc_json_text(o, out);
}

static int write_json(const struct rc_outdir *d, const char *name, json_t *o)
{
	char *s;
	int rc = rc_json_text(o, &s);
	if (rc < 0)
		return rc;
	rc = rc_outdir_write(d, name, s, strlen(s));
	free(s);
	return rc;
}

static int write_preprocessor(const struct rc_outdir *d, const struct rc_clip_config *cfg,
	int processor)
{
	char *s;
	int rc = preprocessor_json(cfg, processor, &s);
	if (rc < 0)
		return rc;
	rc = rc_outdir_write(d, "preprocessor_config.json", s, strlen(s));
	free(s);
	return rc;
}

/* ---------------------------------------------------------------- tokenizer */

/* Hugging Face spells CLIP's special tokens with bars. */
#define HF_SOT "<|startoftext|>"
#define HF_EOT "<|endoftext|>"

/* CLIP's byte symbols: printable Latin-1 bytes stand for themselves, the
 * others for 256, 257, ... in byte order. */
static void byte_symbols(uint32_t sym[256])
{
	uint32_t extra = 0;
	for (int b = 0; b < 256; b++) {
		int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
		sym[b] = printable ? (uint32_t)b : 256 + extra++;
	}
}

/* vocab_json - {token: id} for every id of bpe, in id order: each token's
 * bytes as byte symbols in UTF-8, "</w>" when it ends a word. */
static int vocab_json(const struct rc_bpe *bpe, json_t **out)
{
	uint32_t sym[256];
	byte_symbols(sym);
	json_t *o = json_object();
	char *buf = NULL;
	size_t cap = 0;
	int rc = o ? 0 : RC_E_NOMEM;
	for (size_t id = 0; !rc && id < rc_bpe_vocab_size(bpe); id++) {
		size_t len, k = 0;
		int eow;
		const char *t = rc_bpe_token_bytes(bpe, (int32_t)id, &len, &eow);
		if (!t) {
			rc = rc_log_error(RC_E_FORMAT, "CLIP vocabulary: no token for id %zu", id);
			break;
		}
		if ((rc = rc_grow((void **)&buf, &cap, 4 * len + 8, 1)) < 0)
			break;
		if ((int32_t)id == rc_bpe_sot(bpe) || (int32_t)id == rc_bpe_eot(bpe)) {
			k = (size_t)snprintf(buf, cap, "%s", (int32_t)id == rc_bpe_sot(bpe) ? HF_SOT : HF_EOT);
		} else {
			for (size_t i = 0; i < len; i++)
				k += rc_utf8_encode1(sym[(uint8_t)t[i]], buf + k);
			if (eow) {
				memcpy(buf + k, "</w>", 4);
				k += 4;
			}
		}
		buf[k] = 0;
		if (json_object_get(o, buf))
			rc = rc_log_error(RC_E_FORMAT, "CLIP vocabulary: token \"%s\" twice (id %zu)", buf, id);
		else if (json_object_set_new(o, buf, json_integer((json_int_t)id)) != 0)
			rc = RC_E_NOMEM;
	}
	free(buf);
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* merges_txt - "#version: 0.2" and the merges CLIP uses, from the merges
 * file at path (its own first line is a version header too). */
static int merges_txt(const char *path, size_t nmerges, char **out, size_t *outlen)
{
	char *data;
	size_t len;
	int rc = rc_io_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	static const char head[] = "#version: 0.2\n";
	const char *p = memchr(data, '\n', len), *end = data + len;
	const char *start = p ? p + 1 : end;
	size_t lines = 0;
	for (p = start; p < end && lines < nmerges; lines++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	if (lines < nmerges) {
		free(data);
		return rc_log_error(RC_E_FORMAT, "%s: %zu merges, expected %zu", path, lines, nmerges);
	}
	size_t body = (size_t)(p - start);
	char *s = rc_malloc(sizeof head + body + 1);
	if (!s) {
		free(data);
		return RC_E_NOMEM;
	}
	memcpy(s, head, sizeof head - 1);
	memcpy(s + sizeof head - 1, start, body);
	size_t n = sizeof head - 1 + body;
	if (s[n - 1] != '\n')
		s[n++] = '\n';
	free(data);
	*out = s;
	*outlen = n;
	return 0;
}

static json_t *added_token(const char *content)
{
	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b}", "content", content, "lstrip", 0,
		"normalized", 1, "rstrip", 0, "single_word", 0, "special", 1);
}

static int write_tokenizer(const struct rc_outdir *d, const struct rc_clip_config *cfg)
{
	const char *merges = rc_bpe_find_merges();
	struct rc_bpe *bpe = NULL;
	json_t *vocab = NULL;
	char *txt = NULL, *s = NULL;
	size_t len = 0;
	int rc;
	if (!merges)
		return RC_E_NOTFOUND;
	if ((rc = rc_bpe_load(&bpe, merges, NULL)) < 0)
		return rc;
	if ((size_t)cfg->text.vocab_size != rc_bpe_vocab_size(bpe))
		rc_log_warn("text vocab_size %d is not the CLIP tokenizer's %zu; the tokenizer "
			"files written are CLIP's", cfg->text.vocab_size, rc_bpe_vocab_size(bpe));
	/* vocab.json compact, in id order, as the hub's files are. */
	if ((rc = vocab_json(bpe, &vocab)) < 0)
		goto out;
	if (!(s = json_dumps(vocab, JSON_COMPACT))) {
		rc = rc_log_error(RC_E_NOMEM, "out of memory writing vocab.json");
		goto out;
	}
	if ((rc = rc_outdir_write(d, "vocab.json", s, strlen(s))) < 0 ||
	    (rc = merges_txt(merges, rc_bpe_merges(bpe), &txt, &len)) < 0 ||
	    (rc = rc_outdir_write(d, "merges.txt", txt, len)) < 0)
		goto out;
	char sot[16], eot[16];
	snprintf(sot, sizeof sot, "%d", (int)rc_bpe_sot(bpe));
	snprintf(eot, sizeof eot, "%d", (int)rc_bpe_eot(bpe));
	json_t *tc = json_pack("{s:b, s:{s:o, s:o}, s:s, s:b, s:b, s:s, s:s, s:i, s:s, s:s, "
		"s:s, s:s}",
		"add_prefix_space", 0,
		"added_tokens_decoder", sot, added_token(HF_SOT), eot, added_token(HF_EOT),
		"bos_token", HF_SOT,
		"clean_up_tokenization_spaces", 0,
		"do_lower_case", 1,
		"eos_token", HF_EOT,
		"errors", "replace",
		"model_max_length", cfg->text.max_position,
		"pad_token", HF_EOT,
		"processor_class", "CLIPProcessor",
		"tokenizer_class", "CLIPTokenizer",
		"unk_token", HF_EOT);
	if ((rc = write_json(d, "tokenizer_config.json", tc)) < 0)
		goto out;
	json_t *sp = json_pack("{s:s, s:s, s:s, s:s}", "bos_token", HF_SOT, "eos_token", HF_EOT,
		"pad_token", HF_EOT, "unk_token", HF_EOT);
	rc = write_json(d, "special_tokens_map.json", sp);
out:
	free(s);
	free(txt);
	json_decref(vocab);
	rc_bpe_free(bpe);
	return rc;
}

/* ---------------------------------------------------------------- directories */

static int put_outdir(void *ctx, const char *name, const char *data, size_t len)
{
	return rc_outdir_write(ctx, name, data, len);
}

/* copy_tokenizer - the tokenizer files of the source src into d, as they
 * are (a SigLIP model's SentencePiece or Gemma tokenizer is not rclip's
 * to write): those of src when it is a directory, those beside it when
 * it is a checkpoint and they are the tokenizer it was trained on. */
static int copy_tokenizer(const struct rc_outdir *d, const struct rc_clip *m, const char *src)
{
	struct rc_clip_tok t;
	struct stat sb;
	int n = 0;
	if (src && stat(src, &sb) == 0 && S_ISDIR(sb.st_mode))
		snprintf(t.dir, sizeof t.dir, "%s", src);
	else if (!src)
		t.dir[0] = '\0';
	else if ((n = rc_clip_tokenizer(src, m->cfg.family, &t)) < 0)
		return n;
	if (t.dir[0] && (n = rc_clip_tokenizer_files(t.dir, put_outdir, (void *)d)) < 0)
		return n;
	if (!t.dir[0] || !n)
		rc_log_warn("%s: no tokenizer files to copy (tokenizer.json, spiece.model, ...): "
			"the SigLIP directory written has none", src ? src : "the source");
	return 0;
}

int rc_clip_save_hf_from(const struct rc_clip *m, const char *dir, int flags, const char *src)
{
	struct rc_outdir d;
	char *cfg = NULL;
	int rc = rc_outdir_open(&d, dir, flags);
	if (rc < 0)
		return rc;
	if ((rc = rc_clip_config_to_json(&m->cfg, &cfg)) < 0 ||
	    (rc = rc_outdir_write(&d, "config.json", cfg, strlen(cfg))) < 0 ||
	    (rc = write_weights(&d, m, RC_CLIP_ALL)) < 0 ||
	    (rc = m->cfg.family == RC_FAMILY_SIGLIP ? copy_tokenizer(&d, m, src) :
		write_tokenizer(&d, &m->cfg)) < 0 ||
	    (rc = write_preprocessor(&d, &m->cfg, 1)) < 0)
		goto fail;
	free(cfg);
	return rc_outdir_commit(&d);
fail:
	free(cfg);
	rc_outdir_abort(&d);
	return rc;
}

int rc_clip_save_hf(const struct rc_clip *m, const char *dir, int flags)
{
	return rc_clip_save_hf_from(m, dir, flags, NULL);
}

/* vision_config_json - the vision_config of the CLIPModel config.json as a
 * config of its own (model_type clip_vision_model, projection_dim inside),
 * with the architecture. */
static int vision_config_json(const struct rc_clip_config *cfg, int proj, char **out)
{
	char *s;
	json_error_t err;
	int rc = rc_clip_config_to_json(cfg, &s);
	if (rc < 0)
		return rc;
	json_t *root = json_loads(s, 0, &err);
	free(s);
	json_t *v = json_object_get(root, "vision_config");
	json_t *arch = json_pack("[s]", cfg->family == RC_FAMILY_SIGLIP ? "SiglipVisionModel" :
		proj ? "CLIPVisionModelWithProjection" : "CLIPVisionModel");
	if (!v || !arch || json_object_set_new(v, "architectures", arch) ||
	    json_object_set_new(v, "dtype", json_string("float32"))) {
		json_decref(root);
		return rc_log_error(RC_E_NOMEM, "out of memory writing config.json");
	}
	json_incref(v);
	json_decref(root);
	return rc_json_text(v, out);
}

int rc_clip_save_hf_vision(const struct rc_clip *m, const char *dir, int flags)
{
	struct rc_outdir d;
	char *cfg = NULL;
	int proj = !!(flags & RC_CLIP_SAVE_PROJECTION);
	int rc = rc_outdir_open(&d, dir, flags);
	if (rc < 0)
		return rc;
	if ((rc = vision_config_json(&m->cfg, proj, &cfg)) < 0 ||
	    (rc = rc_outdir_write(&d, "config.json", cfg, strlen(cfg))) < 0 ||
	    (rc = write_weights(&d, m, rc_clip_save_parts(RC_CLIP_FMT_HF_VISION, flags))) < 0 ||
	    (rc = write_preprocessor(&d, &m->cfg, 0)) < 0)
		goto fail;
	free(cfg);
	return rc_outdir_commit(&d);
fail:
	free(cfg);
	rc_outdir_abort(&d);
	return rc;
}
