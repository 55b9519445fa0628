/* ingest.c - a record's image read, decoded, preprocessed and stored, its
 * texts tokenized (see ingest.h). */
#include "data/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "data/image.h"
#include "data/image_siglip.h"
#include "data/preprocess.h"
#include "base/io.h"

/* An image file larger than this is not read: no image worth decoding is
 * that big, and it would be held in memory whole. */
#define MAX_IMAGE_FILE ((off_t)1 << 30)

struct rc_ingest_worker {
	const struct rc_bpe *bpe;
	const struct rc_ingest_opts *o;
	struct rc_bpe_state *st;
	struct rc_spm_state *spm; /* with o->spm */
	uint8_t *pixels; /* S×S×3 */
	int32_t *row;    /* text_ctx */
	uint8_t *file;   /* the image file's bytes */
	size_t filecap;
};

const char *rc_ingest_status_name(int status)
{
	static const char *names[RC_INGEST_NSTATUS] = {
		"ok", "missing image", "unreadable image", "image size", "error",
	};
	return status >= 0 && status < RC_INGEST_NSTATUS ? names[status] : "unknown";
}

struct rc_ingest_worker *rc_ingest_worker_new(const struct rc_bpe *bpe,
	const struct rc_ingest_opts *o)
{
	struct rc_ingest_worker *w = rc_calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->bpe = bpe;
	w->o = o;
	if (o->spm)
		w->spm = rc_spm_state_new(o->spm);
	else
		w->st = rc_bpe_state_new(bpe);
	w->pixels = rc_malloc((size_t)o->image_size * (size_t)o->image_size * 3);
	/* rc_spm_frame writes up to two special tokens beyond the context */
	w->row = rc_malloc((size_t)(o->text_ctx > 2 ? o->text_ctx + 2 : 4) * sizeof *w->row);
	if ((!w->st && !w->spm) || !w->pixels || !w->row) {
		rc_ingest_worker_free(w);
		return NULL;
	}
	return w;
}

void rc_ingest_worker_free(struct rc_ingest_worker *w)
{
	if (!w)
		return;
	rc_bpe_state_free(w->st);
	rc_spm_state_free(w->spm);
	free(w->pixels);
	free(w->row);
	free(w->file);
	free(w);
}

void rc_ingest_item_free(struct rc_ingest_item *it)
{
	free(it->payload);
	free(it->texts);
	free(it->tokens);
	memset(it, 0, sizeof *it);
}

static int fail(struct rc_ingest_item *it, int status, int code, const char *fmt, const char *a,
	const char *b)
{
	it->status = status;
	snprintf(it->why, sizeof it->why, fmt, a, b);
	return code;
}

/* Text t's row, cut to ctx, into w->row: its length, or RC_E_NOMEM. */
static long encode_row(struct rc_ingest_worker *w, const struct rc_text *t, size_t ctx,
	int *trunc)
{
	const int32_t *ids;
	size_t n;
	if (w->spm) {
		if (rc_spm_encode(w->spm, t->s, t->len, &ids, &n) < 0)
			return RC_E_NOMEM;
		return (long)rc_spm_frame(w->o->spm, ids, n, w->row, ctx, trunc);
	}
	if (rc_bpe_encode(w->st, t->s, t->len, &ids, &n) < 0)
		return RC_E_NOMEM;
	return (long)rc_bpe_pack(w->bpe, ids, n, w->row, ctx, 0, trunc);
}

int rc_ingest_tokenize(struct rc_ingest_worker *w, const struct rc_record *rec,
	struct rc_ingest_item *it)
{
	size_t ctx = (size_t)(w->o->text_ctx > 2 ? w->o->text_ctx : 2);
	it->texts = rc_calloc(rec->ntexts ? rec->ntexts : 1, sizeof *it->texts);
	it->tokens = rc_malloc((rec->ntexts ? rec->ntexts : 1) * ctx * sizeof *it->tokens);
	if (!it->texts || !it->tokens)
		return fail(it, RC_INGEST_ERROR, RC_E_NOMEM, "out of memory%s%s", "", "");
	uint32_t *tok = it->tokens;
	for (uint32_t i = 0; i < rec->ntexts; i++) {
		int trunc = 0;
		long k = encode_row(w, &rec->texts[i], ctx, &trunc);
		if (k < 0)
			return fail(it, RC_INGEST_ERROR, RC_E_NOMEM, "out of memory%s%s", "", "");
		for (long j = 0; j < k; j++)
			tok[j] = (uint32_t)w->row[j];
		it->texts[i] = rec->texts[i];
		it->texts[i].tokens = tok;
		it->texts[i].token_bytes = 4;
		it->texts[i].ntokens = (uint16_t)k;
		it->truncated += (uint32_t)trunc;
		tok += k;
	}
	return 0;
}

int rc_ingest_bytes(struct rc_ingest_worker *w, const struct rc_record *rec,
	const uint8_t *image, size_t len, struct rc_ingest_item *it)
{
	const struct rc_ingest_opts *o = w->o;
	memset(it, 0, sizeof *it);
	it->source_hash = rc_hash128(image, len);

	struct rc_image_limits lim = {o->max_pixels};
	struct rc_image im;
	char why[160];
	int rc = rc_image_decode(image, len, &lim, &im, why, sizeof why);
	if (rc < 0) {
		int status = rc == RC_E_RANGE ? RC_INGEST_IMAGE_SIZE :
			rc == RC_E_NOMEM ? RC_INGEST_ERROR : RC_INGEST_BAD_IMAGE;
		return fail(it, status, rc, "%s%s", why, "");
	}
	int iw = im.w, ih = im.h;
	rc = rc_image_preprocess(&im, o->preprocess, o->image_size, w->pixels);
	rc_image_free(&im);
	if (rc == RC_E_NOMEM)
		return fail(it, RC_INGEST_ERROR, rc, "out of memory%s%s", "", "");
	if (rc < 0) { /* a shape the resize refuses, e.g. 1×2000000 */
		it->status = RC_INGEST_IMAGE_SIZE;
		if (o->preprocess == RC_PREPROCESS_SIGLIP)
			snprintf(it->why, sizeof it->why, "cannot resize a %dx%d image to %dx%d",
				iw, ih, o->image_size, o->image_size);
		else
			snprintf(it->why, sizeof it->why, "cannot resize a %dx%d image to %d on "
				"its short side", iw, ih, o->image_size);
		return RC_E_RANGE;
	}

	size_t plen = (size_t)o->image_size * (size_t)o->image_size * 3;
	if (o->store == RC_STORE_RAW) {
		if (!(it->payload = rc_malloc(plen)))
			return fail(it, RC_INGEST_ERROR, RC_E_NOMEM, "out of memory%s%s", "", "");
		memcpy(it->payload, w->pixels, plen);
	} else {
		rc = rc_image_encode_jpeg(w->pixels, o->image_size, o->image_size, o->quality,
			&it->payload, &plen);
		if (rc < 0)
			return fail(it, RC_INGEST_ERROR, rc, "cannot encode JPEG: %s%s", rc_strerror(rc), "");
	}
	if ((rc = rc_ingest_tokenize(w, rec, it)) < 0)
		return rc;
	it->rec = *rec;
	it->rec.image = it->payload;
	it->rec.image_len = (uint32_t)plen;
	it->rec.texts = it->texts;
	it->status = RC_INGEST_OK;
	return 0;
}

/* Read a whole image file into the worker's buffer, without logging. */
static int read_image(struct rc_ingest_worker *w, const char *path, size_t *len,
	struct rc_ingest_item *it)
{
	/* O_NONBLOCK: a FIFO here opens at once and is refused below */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return fail(it, RC_INGEST_NO_IMAGE, RC_E_NOTFOUND, "cannot read image %s: %s", path,
			strerror(e));
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > MAX_IMAGE_FILE) {
		close(fd);
		return fail(it, RC_INGEST_NO_IMAGE, RC_E_NOTFOUND, "cannot read image %s: %s", path,
			S_ISREG(sb.st_mode) ? "larger than 1 GiB" : "not a regular file");
	}
	size_t size = (size_t)sb.st_size, got = 0;
	if (rc_grow((void **)&w->file, &w->filecap, size ? size : 1, 1) < 0) {
		close(fd);
		return fail(it, RC_INGEST_ERROR, RC_E_NOMEM, "out of memory%s%s", "", "");
	}
	while (got < size) {
		ssize_t r = read(fd, w->file + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			return fail(it, RC_INGEST_NO_IMAGE, RC_E_NOTFOUND, "cannot read image %s: %s",
				path, r < 0 ? strerror(e) : "the file shrank while read");
		}
		got += (size_t)r;
	}
	close(fd);
	*len = size;
	return 0;
}

int rc_ingest_file(struct rc_ingest_worker *w, const struct rc_record *rec,
	const char *path, struct rc_ingest_item *it)
{
	size_t len;
	memset(it, 0, sizeof *it);
	int rc = read_image(w, path, &len, it);
	if (rc < 0)
		return rc;
	return rc_ingest_bytes(w, rec, w->file, len, it);
}
