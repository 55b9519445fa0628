/* encode.c - batches of images or texts to embeddings (encode.h): inputs
 * prepared on OpenMP threads into the batch's pixel or token buffer, the
 * good ones packed to the front, one forward pass on the backend, rows put
 * back in input order. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/encode.h"
#include "base/error.h"
#include "data/image.h"
#include "data/image_siglip.h"
#include "data/preprocess.h"
#include "base/io.h"
#include "base/log.h"
#include "data/record.h"
#include "data/tokenizer_id.h"
#include "base/thread.h"

struct rc_encoder {
	const struct rc_clip *m;
	const struct rc_bpe *bpe;
	struct rc_backend *be;
	int batch, nthreads;
	int S, D, ctx;
	uint8_t *pixels;             /* [batch,S,S,3] preprocessed RGB */
	int32_t *tokens;             /* [batch,ctx] */
	float *emb;                  /* [batch,D] the model's rows, in host memory */
	uint8_t *good;               /* [batch] image usable; text valid UTF-8 */
	char (*why)[160];            /* [batch] */
	struct rc_bpe_state **states; /* [nthreads] */
	const struct rc_spm *spm;    /* a SigLIP model's tokenizer (rc_encoder_use_spm) */
	struct rc_spm_state **spm_states; /* [nthreads] */
	uint64_t truncated;
	rc_encode_bad_fn on_invalid; /* rc_encoder_on_invalid */
	void *invalid_ctx;
	int32_t bad_id;              /* rc_encoder_bad_token */
	int bad_pos;
};

/* images 0: no image tower on the backend and no pixels (rc_encoder_new_texts). */
static int encoder_new(struct rc_encoder **out, const struct rc_device *dev, struct rc_clip *m,
	const struct rc_bpe *bpe, int batch, int nthreads, int images)
{
	*out = NULL;
	if (batch < 1 || nthreads < 1)
		return rc_log_error(RC_E_ARG, "encoder: batch %d and threads %d must be >= 1", batch,
			nthreads);
	struct rc_encoder *e = rc_calloc(1, sizeof *e);
	if (!e)
		return RC_E_NOMEM;
	e->m = m;
	e->bpe = bpe;
	e->batch = batch;
	e->nthreads = nthreads;
	e->S = m->cfg.vision.image_size;
	e->D = m->cfg.projection_dim;
	e->ctx = m->cfg.text.max_position;
	struct rc_backend_opts bo = { .device = dev ? *dev : (struct rc_device){ 0, 0, 0 },
		.threads = nthreads,
		.max_images = images ? batch : 0, .max_texts = bpe ? batch : 0 };
	int rc = rc_backend_new(&e->be, m, &bo);
	if (rc < 0)
		goto fail;
	rc = RC_E_NOMEM;
	size_t plane = (size_t)3 * (size_t)e->S * (size_t)e->S;
	if ((images && !(e->pixels = rc_malloc((size_t)batch * plane))) ||
	    !(e->emb = rc_malloc((size_t)batch * (size_t)e->D * sizeof *e->emb)) ||
	    !(e->good = rc_malloc((size_t)batch)) ||
	    !(e->why = rc_malloc((size_t)batch * sizeof *e->why)))
		goto fail;
	if (bpe) {
		if (!(e->tokens = rc_malloc((size_t)batch * (size_t)e->ctx * sizeof *e->tokens)) ||
		    !(e->states = rc_calloc((size_t)nthreads, sizeof *e->states)))
			goto fail;
		for (int t = 0; t < nthreads; t++)
			if (!(e->states[t] = rc_bpe_state_new(bpe)))
				goto fail;
	}
	*out = e;
	return 0;
fail:
	rc_encoder_free(e);
	return rc;
}

int rc_encoder_new(struct rc_encoder **out, const struct rc_device *dev, struct rc_clip *m,
	const struct rc_bpe *bpe, int batch, int nthreads)
{
	return encoder_new(out, dev, m, bpe, batch, nthreads, 1);
}

int rc_encoder_new_texts(struct rc_encoder **out, const struct rc_device *dev,
	struct rc_clip *m, const struct rc_bpe *bpe, int batch, int nthreads)
{
	*out = NULL;
	if (!bpe)
		return rc_log_error(RC_E_ARG, "encoder: texts need a tokenizer");
	return encoder_new(out, dev, m, bpe, batch, nthreads, 0);
}

int rc_encoder_load_spm(struct rc_spm **out, const char *model)
{
	*out = NULL;
	char dir[4096] = ".", want[128];   /* "." for a name that is no path */
	rc_tokenizer_model_dir(model, dir, sizeof dir);
	if (!rc_spm_dir_kind(dir)) {
		rc_log_error(RC_E_NOTFOUND, "%s: a SigLIP model, and no SigLIP tokenizer beside it "
			"(spiece.model, tokenizer.model or tokenizer.json)", model);
		rc_log_hint("give the model as its Hugging Face directory, or copy its tokenizer "
			"files into %s", dir);
		return RC_E_NOTFOUND;
	}
	/* an rclip checkpoint names the tokenizer it was trained on: the
	 * files beside it must be that one, or its texts would be ids of
	 * another vocabulary */
	int named = rc_tokenizer_checkpoint(model, want, sizeof want);
	int rc = named < 0 ? named : rc_spm_load_dir(out, dir);
	if (rc == 0 && named && !rc_tokenizer_agree(rc_spm_id(*out), want)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: trained on the ids of %s, and the tokenizer "
			"beside it is %s", model, want, rc_spm_id(*out));
		rc_log_hint("copy the tokenizer files of the model it was trained from beside it");
		rc_spm_free(*out);
		*out = NULL;
	}
	return rc;
}

int rc_encoder_use_spm(struct rc_encoder *e, const struct rc_spm *spm)
{
	if (!e->tokens)
		return rc_log_error(RC_E_ARG, "encoder: made without texts");
	if (rc_spm_vocab_size(spm) > (size_t)e->m->cfg.text.vocab_size)
		return rc_log_error(RC_E_FORMAT, "the tokenizer's %zu ids do not fit the model's "
			"vocabulary of %d", rc_spm_vocab_size(spm), e->m->cfg.text.vocab_size);
	if (!(e->spm_states = rc_calloc((size_t)e->nthreads, sizeof *e->spm_states)))
		return RC_E_NOMEM;
	for (int t = 0; t < e->nthreads; t++)
		if (!(e->spm_states[t] = rc_spm_state_new(spm)))
			return RC_E_NOMEM;
	e->spm = spm;
	return 0;
}

void rc_encoder_free(struct rc_encoder *e)
{
	if (!e)
		return;
	if (e->spm_states)
		for (int t = 0; t < e->nthreads; t++)
			rc_spm_state_free(e->spm_states[t]);
	free(e->spm_states);
	if (e->states)
		for (int t = 0; t < e->nthreads; t++)
			rc_bpe_state_free(e->states[t]);
	free(e->states);
	free(e->tokens);
	free(e->why);
	free(e->good);
	free(e->emb);
	free(e->pixels);
	rc_backend_free(e->be);
	free(e);
}

uint64_t rc_encoder_truncated(const struct rc_encoder *e)
{
	return e->truncated;
}

struct rc_backend *rc_encoder_backend(struct rc_encoder *e)
{
	return e->be;
}

void rc_encoder_on_invalid(struct rc_encoder *e, rc_encode_bad_fn fn, void *ctx)
{
	e->on_invalid = fn;
	e->invalid_ctx = ctx;
}

void rc_encoder_bad_token(const struct rc_encoder *e, int32_t *id, int *pos)
{
	*id = e->bad_id;
	*pos = e->bad_pos;
}

/* ---------------------------------------------------------------- images */

/* The bytes of a file, without logging (a missing image is the caller's
 * to report). Returns 0, or -1 with a reason in why. */
static int read_image_file(const char *path, uint8_t **data, size_t *len, char *why, size_t n)
{
	*data = NULL;
	/* O_NONBLOCK: a FIFO opens at once, and fstat refuses it */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
	struct stat sb;
	const char *err = NULL;
	if (fd >= 0 && !f)
		close(fd);
	if (!f || fstat(fileno(f), &sb) < 0)
		err = strerror(errno);
	else if (!S_ISREG(sb.st_mode))
		err = "not a regular file";
	if (err) {
		snprintf(why, n, "cannot read image %s: %s", path, err);
		if (f)
			fclose(f);
		return -1;
	}
	size_t size = (size_t)sb.st_size;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf || fread(buf, 1, size, f) != size) {
		snprintf(why, n, "cannot read image %s: %s", path,
			buf ? "read error" : "out of memory");
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*data = buf;
	*len = size;
	return 0;
}

/* Image i of the batch into slot k: pixels, or good = 0 and a reason. */
static void prepare_image(struct rc_encoder *e, const struct rc_encode_image *in, int k)
{
	size_t plane = (size_t)3 * (size_t)e->S * (size_t)e->S;
	uint8_t *px = e->pixels + (size_t)k * plane;
	char *why = e->why[k];
	size_t nwhy = sizeof e->why[k];
	e->good[k] = 0;
	if (in->bad)
		return;
	if (!in->path && !in->source && in->store == RC_STORE_RAW) {
		if (in->len != (size_t)e->S * (size_t)e->S * 3) {
			snprintf(why, nwhy, "%zu bytes of pixels, not %dx%dx3", in->len, e->S, e->S);
			return;
		}
		memcpy(px, in->data, plane);
		e->good[k] = 1;
		return;
	}
	uint8_t *file = NULL;
	const uint8_t *data = in->data;
	size_t len = in->len;
	if (in->path) {
		if (read_image_file(in->path, &file, &len, why, nwhy) < 0)
			return;
		data = file;
	}
	struct rc_image im;
	char reason[128];
	if (rc_image_decode(data, len, NULL, &im, reason, sizeof reason) < 0) {
		if (in->path)
			snprintf(why, nwhy, "%s: %s", in->path, reason);
		else
			snprintf(why, nwhy, "%s", reason);
		free(file);
		return;
	}
	free(file);
	if (in->path || in->source) {
		/* a SigLIP model's whole-image resize, else CLIP's crop */
		int kind = e->m->cfg.family == RC_FAMILY_SIGLIP ? RC_PREPROCESS_SIGLIP :
			RC_PREPROCESS_CLIP;
		if (rc_image_preprocess(&im, kind, e->S, px) == 0)
			e->good[k] = 1;
		else
			snprintf(why, nwhy, "%s: cannot %s a %dx%d image to %d",
				in->path ? in->path : "embedded image",
				kind == RC_PREPROCESS_SIGLIP ? "resize" : "crop", im.w, im.h, e->S);
	} else if (im.w != e->S || im.h != e->S) {
		snprintf(why, nwhy, "the stored image is %dx%d, not %dx%d", im.w, im.h, e->S, e->S);
	} else {
		memcpy(px, im.rgb, plane);
		e->good[k] = 1;
	}
	rc_image_free(&im);
}

/* rows_finite - the n rows of D values hold no NaN or Inf. */
static int rows_finite(const float *x, size_t n, size_t D)
{
	for (size_t i = 0; i < n * D; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

int rc_encoder_images(struct rc_encoder *e, const struct rc_encode_image *in, size_t n,
	float *emb, uint8_t *ok, rc_encode_bad_fn bad, void *ctx, struct rc_progress *p)
{
	size_t plane = (size_t)3 * (size_t)e->S * (size_t)e->S, D = (size_t)e->D;
	if (!e->pixels)
		return rc_log_error(RC_E_ARG, "encoder: made for texts only");
	for (size_t b0 = 0; b0 < n; b0 += (size_t)e->batch) {
		int nb = (int)(n - b0 < (size_t)e->batch ? n - b0 : (size_t)e->batch);
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->nthreads)
		for (int k = 0; k < nb; k++)
			prepare_image(e, &in[b0 + (size_t)k], k);
		int g = 0;
		for (int k = 0; k < nb; k++) {
			if (!e->good[k]) {
				const char *why = in[b0 + (size_t)k].bad;
				if (bad)
					bad(ctx, b0 + (size_t)k, why ? why : e->why[k]);
				continue;
			}
			if (g != k)
				memcpy(e->pixels + (size_t)g * plane, e->pixels + (size_t)k * plane,
					plane);
			g++;
		}
		if (g > 0) {
			const float *rows;
			int rc = rc_backend_encode_images(e->be, e->pixels, g, &rows);
			if (rc < 0 || (rc = rc_backend_download(e->be, e->emb, rows, (size_t)g * D)) < 0)
				return rc;
		}
		for (int k = 0, q = 0; k < nb; k++) {
			float *row = emb + (b0 + (size_t)k) * D;
			if (e->good[k])
				memcpy(row, e->emb + (size_t)q++ * D, D * sizeof *row);
			/* a NaN or Inf from the model is a bad image, never a row */
			if (e->good[k] && !rows_finite(row, 1, D)) {
				e->good[k] = 0;
				if (bad)
					bad(ctx, b0 + (size_t)k, "the embedding is not finite (NaN or "
						"Inf from the model)");
			}
			ok[b0 + (size_t)k] = e->good[k];
			if (!e->good[k])
				memset(row, 0, D * sizeof *row);
		}
		if (p)
			rc_progress_update(p, (uint64_t)nb);
	}
	return 0;
}

/* ---------------------------------------------------------------- texts */

/* The batch cut after its rows' last pooled token (rc_clip_text_cut). */
static int encode_tokens(struct rc_encoder *e, int n, float *out)
{
	const float *rows;
	int T = rc_clip_text_cut(&e->m->cfg, e->tokens, n, e->ctx);
	int rc = rc_backend_encode_texts(e->be, e->tokens, n, T, &rows);
	return rc < 0 ? rc : rc_backend_download(e->be, out, rows, (size_t)n * e->D);
}

int rc_encoder_texts(struct rc_encoder *e, const char *const *s, const uint32_t *len,
	size_t n, float *emb, size_t *bad_index, struct rc_progress *p)
{
	if (!e->bpe)
		return rc_log_error(RC_E_ARG, "encoder: made without a tokenizer");
	if (e->m->cfg.family == RC_FAMILY_SIGLIP && !e->spm) {
		rc_log_error(RC_E_UNSUPPORTED, "a SigLIP model's texts need its own tokenizer, "
			"and none was given");
		rc_log_hint("give the model as its Hugging Face directory, with spiece.model or "
			"tokenizer.json");
		return RC_E_UNSUPPORTED;
	}
	size_t V = (size_t)e->m->cfg.text.vocab_size, ctx = (size_t)e->ctx;
	for (size_t b0 = 0; b0 < n; b0 += (size_t)e->batch) {
		int nb = (int)(n - b0 < (size_t)e->batch ? n - b0 : (size_t)e->batch);
		int fail = 0;
		uint64_t trunc = 0;
#pragma omp parallel for schedule(dynamic, 4) num_threads(e->nthreads) reduction(+ : trunc) \
	reduction(| : fail)
		for (int k = 0; k < nb; k++) {
			const int32_t *ids;
			size_t m;
			int t = 0;
			int32_t *row = e->tokens + (size_t)k * ctx;
			if (e->spm) {
				/* the whole context, padded with the pad id: SigLIP pools
				 * the last position, as its training pads */
				struct rc_spm_state *st = e->spm_states[rc_thread_id()];
				if (rc_spm_encode(st, s[b0 + (size_t)k], len[b0 + (size_t)k], &ids, &m) < 0) {
					fail = 1;
					continue;
				}
				e->good[k] = rc_spm_state_invalid(st) == 0;
				rc_spm_pack(e->spm, ids, m, row, ctx, &t);
			} else {
				struct rc_bpe_state *st = e->states[rc_thread_id()];
				if (rc_bpe_encode(st, s[b0 + (size_t)k], len[b0 + (size_t)k], &ids, &m) < 0) {
					fail = 1;
					continue;
				}
				e->good[k] = rc_bpe_state_invalid(st) == 0;
				rc_bpe_pack(e->bpe, ids, m, row, ctx, 0, &t);
			}
			trunc += (uint64_t)t;
		}
		if (fail)
			return RC_E_NOMEM;
		e->truncated += trunc;
		for (int k = 0; k < nb; k++) {
			const int32_t *row = e->tokens + (size_t)k * ctx;
			for (size_t q = 0; q < ctx; q++)
				if (row[q] < 0 || (size_t)row[q] >= V) {
					if (bad_index)
						*bad_index = b0 + (size_t)k;
					e->bad_id = row[q];
					e->bad_pos = (int)q;
					return RC_E_RANGE;
				}
			if (!e->good[k] && e->on_invalid)
				e->on_invalid(e->invalid_ctx, b0 + (size_t)k,
					"invalid UTF-8 replaced with U+FFFD");
		}
		int rc = encode_tokens(e, nb, emb + b0 * (size_t)e->D);
		if (rc < 0)
			return rc;
		for (int k = 0; k < nb; k++)
			if (!rows_finite(emb + (b0 + (size_t)k) * (size_t)e->D, 1, (size_t)e->D)) {
				if (bad_index)
					*bad_index = b0 + (size_t)k;
				return RC_E_FORMAT;
			}
		if (p)
			rc_progress_update(p, (uint64_t)nb);
	}
	return 0;
}
