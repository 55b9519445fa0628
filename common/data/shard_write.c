/* shard_write.c - the writer of shard formats v1 and v2 (rclip-shard(5):
 * v1 for 2-byte token ids, so that such a shard is the bytes it always
 * was; v2 for 4-byte ones): a zeroed
 * header and the metadata block first, then each record encoded in one
 * buffer and appended; close appends the index, writes the final header
 * over the zeros and renames the temporary into place (io.h's atomic
 * file), so a shard under its final name is always whole.
 */
#include "data/shard.h"

#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "data/preprocess.h"
#include "data/shard_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rc_shard_writer {
	struct rc_atomic_file af;
	char *path;           /* the final name, for messages */
	struct rc_shard_info info;
	uint64_t meta_size;
	uint64_t pos;         /* bytes written: header, metadata, records */
	uint64_t *offs;       /* record offsets: the index */
	size_t noffs, offcap;
	uint8_t *buf;         /* one encoded record */
	size_t bufcap;
	int failed;           /* an I/O or memory error: the shard is lost */
};

static const char *const writer_keys[] = {
	RC_SHARD_META_FORMAT, RC_SHARD_META_VERSION, RC_SHARD_META_SCHEMA,
	RC_SHARD_META_IMAGE_SIZE, RC_SHARD_META_STORAGE, RC_SHARD_META_TEXT_CTX,
};

/* The metadata object: the writer's keys from info, then the caller's. */
static int build_meta(const char *path, const struct rc_shard_info *in,
		      const char *const *kv, size_t nmeta, json_t **out)
{
	char num[2][24];
	snprintf(num[0], sizeof num[0], "%" PRIu32, in->image_size);
	snprintf(num[1], sizeof num[1], "%" PRIu32, in->text_ctx);
	const char *vals[] = { "rclip-shard", in->version == 1 ? "1" : "2",
			       rc_shard_schema_name((int)in->schema),
			       num[0], rc_shard_store_name((int)in->store), num[1] };
	json_t *o = json_object();
	if (!o)
		return rc_log_error(RC_E_NOMEM, "out of memory (metadata)");
	for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
		if (json_object_set_new(o, writer_keys[i], json_string(vals[i])) < 0)
			goto nomem;
	/* Only when not CLIP's crop: a CLIP shard stays what v1 writers wrote. */
	if (in->preprocess != RC_PREPROCESS_CLIP &&
	    json_object_set_new(o, RC_SHARD_META_PREPROCESS,
		    json_string(rc_preprocess_name((int)in->preprocess))) < 0)
		goto nomem;
	for (size_t i = 0; i < nmeta; i++) {
		const char *k = kv[2 * i], *v = kv[2 * i + 1];
		const char *why = NULL;
		if (!k || !*k || !v)
			why = "a key is empty or a value is missing";
		for (size_t j = 0; !why && j < sizeof writer_keys / sizeof *writer_keys; j++)
			if (strcmp(k, writer_keys[j]) == 0)
				why = "the key is set by the writer";
		if (!why && !strcmp(k, RC_SHARD_META_PREPROCESS))
			why = "the key is set by the writer";
		if (!why && json_object_get(o, k))
			why = "the key is given twice";
		json_t *s = why ? NULL : json_string(v);
		if (!why && (!s || json_object_set_new(o, k, s) < 0))
			why = "invalid UTF-8";
		if (why) {
			json_decref(o);
			return rc_log_error(RC_E_ARG, "%s: metadata \"%s\": %s", path,
					    k ? k : "(null)", why);
		}
	}
	*out = o;
	return 0;
nomem:
	json_decref(o);
	return rc_log_error(RC_E_NOMEM, "out of memory (metadata)");
}

static int check_info(const char *path, const struct rc_shard_info *in)
{
	const char *bad = shard_info_bad(in);
	if (bad)
		return rc_log_error(RC_E_ARG, "%s: bad shard %s", path, bad);
	return 0;
}

int rc_shard_writer_open(struct rc_shard_writer **out, const char *path,
			 const struct rc_shard_info *info, const char *const *meta_kv,
			 size_t nmeta)
{
	struct rc_shard_writer *w = NULL;
	json_t *meta = NULL;
	char *js = NULL;
	int rc;

	*out = NULL;
	if (strcmp(path, "-") == 0)
		return rc_log_error(RC_E_ARG, "%s: a shard cannot be written to a "
				    "stream (its header comes last)", path);
	struct rc_shard_info in = *info;
	/* 2-byte ids: format v1, as every writer before v2 wrote it */
	in.token_bytes = in.token_bytes ? in.token_bytes : 2;
	in.version = in.token_bytes == 2 ? 1 : 2;
	if ((rc = check_info(path, &in)) < 0 ||
	    (rc = build_meta(path, &in, meta_kv, nmeta, &meta)) < 0)
		return rc;
	if (!(js = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = rc_log_error(RC_E_NOMEM, "out of memory (metadata)");
		goto fail;
	}
	size_t jlen = strlen(js);
	uint64_t msize = shard_pad8(M_JSON + jlen) + 8;
	if (msize > RC_SHARD_META_MAX) {
		rc = rc_log_error(RC_E_ARG, "%s: metadata is %" PRIu64 " bytes, more "
				  "than %u", path, msize, RC_SHARD_META_MAX);
		goto fail;
	}
	if (!(w = rc_calloc(1, sizeof *w)) || !(w->path = rc_strdup(path)) ||
	    !(w->buf = rc_calloc(1, RC_SHARD_HEADER_SIZE + msize))) {
		rc = RC_E_NOMEM;
		goto fail;
	}
	w->bufcap = RC_SHARD_HEADER_SIZE + msize;
	w->info = in;
	w->meta_size = msize;
	if ((rc = rc_atomic_open(&w->af, path)) < 0)
		goto fail;
	if (!w->af.tmp) {
		rc = rc_log_error(RC_E_ARG, "%s: not a regular file (a shard's "
				  "header is written last)", path);
		goto fail;
	}
	/* The header stays zero (no magic) until close. */
	uint8_t *m = w->buf + RC_SHARD_HEADER_SIZE;
	shard_put32(m + M_JSON_LEN, (uint32_t)jlen);
	memcpy(m + M_JSON, js, jlen);
	shard_put64(m + msize - 8, rc_hash64(m, msize - 8));
	if ((rc = rc_io_write_all(w->af.f, w->buf, RC_SHARD_HEADER_SIZE + msize,
				  w->af.tmp)) < 0)
		goto fail;
	w->pos = RC_SHARD_HEADER_SIZE + msize;
	free(js);
	json_decref(meta);
	*out = w;
	return 0;
fail:
	free(js);
	json_decref(meta);
	rc_shard_writer_abort(w);
	return rc;
}

/* Why rec cannot be stored in w, or NULL; *size gets its encoded size. */
static const char *check_record(const struct rc_shard_writer *w,
				const struct rc_record *rec, uint64_t *size)
{
	const struct rc_shard_info *in = &w->info;
	if (rec->schema < RC_SCHEMA_DESC || rec->schema > RC_SCHEMA_SETS)
		return "bad schema";
	if (in->schema && rec->schema != in->schema)
		return "its schema is not the shard's";
	if (rec->ntexts > RC_RECORD_MAX_TEXTS || rec->nlabels > RC_RECORD_MAX_LABELS)
		return "too many texts or labels";
	if ((!rec->key && rec->key_len) || (!rec->image && rec->image_len) ||
	    (!rec->texts && rec->ntexts) || (!rec->labels && rec->nlabels))
		return "a NULL pointer with a non-zero length";
	if (in->store == RC_STORE_RAW &&
	    rec->image_len != (uint64_t)in->image_size * in->image_size * 3)
		return "raw image is not S*S*3 bytes";
	uint64_t n = R_HEAD + shard_pad8(rec->key_len) + shard_pad8(rec->image_len);
	for (uint32_t i = 0; i < rec->ntexts; i++) {
		const struct rc_text *t = &rec->texts[i];
		if (t->role < RC_ROLE_CAPTION || t->role > RC_ROLE_NEG)
			return "a text has a bad role";
		if ((!t->s && t->len) || (!t->tokens && t->ntokens))
			return "a text has a NULL pointer with a non-zero length";
		if (in->text_ctx && t->ntokens > in->text_ctx)
			return "a text has more token ids than the context length";
		if (t->token_bytes && t->token_bytes != 2 && t->token_bytes != 4)
			return "a text has ids of a bad width";
		if (in->token_bytes == 2 && t->token_bytes == 4)
			for (uint16_t k = 0; k < t->ntokens; k++)
				if (rc_text_token(t, k) > UINT16_MAX)
					return "a token id is over 65535 in a shard of 16-bit ids";
		n += shard_pad8(T_HEAD + (uint64_t)in->token_bytes * t->ntokens + t->len);
	}
	n += shard_pad8(rec->nlabels) + 8;
	*size = n;
	if (n > UINT32_MAX)
		return "record is larger than 4 GiB";
	return NULL;
}

/* The ids of t at dst, each width bytes (2 or 4; checked to fit by
 * check_record), little-endian; returns the bytes written. */
static uint64_t put_ids(uint8_t *dst, const struct rc_text *t, uint32_t width)
{
	int same = (t->token_bytes ? t->token_bytes : 2) == width;
	if (same && t->ntokens) /* little-endian host (shard_impl.h): as they are */
		memcpy(dst, t->tokens, (size_t)width * t->ntokens);
	for (uint16_t k = 0; !same && k < t->ntokens; k++) {
		if (width == 2)
			shard_put16(dst + 2 * (size_t)k, (uint16_t)rc_text_token(t, k));
		else
			shard_put32(dst + 4 * (size_t)k, rc_text_token(t, k));
	}
	return (uint64_t)width * t->ntokens;
}

/* Copy n bytes to w->buf at *q and pad with zeros to a multiple of 8. */
static void put_padded(uint8_t *buf, uint64_t *q, const void *src, size_t n)
{
	if (n)
		memcpy(buf + *q, src, n);
	uint64_t to = shard_pad8(*q + n);
	memset(buf + *q + n, 0, to - *q - n);
	*q = to;
}

int rc_shard_writer_add(struct rc_shard_writer *w, const struct rc_record *rec)
{
	uint64_t size = 0;
	int rc;
	if (w->failed)
		return w->failed;
	const char *why = check_record(w, rec, &size);
	if (why)
		return rc_log_error(size > UINT32_MAX ? RC_E_RANGE : RC_E_ARG,
				    "%s: record %zu: %s", w->path, w->noffs, why);
	if ((rc = rc_grow((void **)&w->buf, &w->bufcap, size, 1)) < 0 ||
	    (rc = rc_grow((void **)&w->offs, &w->offcap, w->noffs + 1, sizeof *w->offs)) < 0)
		goto fail;
	uint8_t *b = w->buf;
	memset(b, 0, R_HEAD);
	shard_put32(b + R_LENGTH, (uint32_t)size);
	b[R_SCHEMA] = rec->schema;
	b[R_NTEXTS] = (uint8_t)rec->ntexts;
	b[R_NLABELS] = (uint8_t)rec->nlabels;
	shard_put32(b + R_KEY_LEN, rec->key_len);
	shard_put32(b + R_IMAGE_LEN, rec->image_len);
	uint64_t q = R_HEAD;
	put_padded(b, &q, rec->key, rec->key_len);
	put_padded(b, &q, rec->image, rec->image_len);
	for (uint32_t i = 0; i < rec->ntexts; i++) {
		const struct rc_text *t = &rec->texts[i];
		uint8_t *e = b + q;
		e[T_ROLE] = t->role;
		e[T_GROUP] = t->group;
		shard_put16(e + T_NTOKENS, t->ntokens);
		shard_put32(e + T_LEN, t->len);
		q += T_HEAD;
		q += put_ids(b + q, t, w->info.token_bytes);
		put_padded(b, &q, t->s, t->len);
	}
	put_padded(b, &q, rec->labels, rec->nlabels);
	rc_assert(q + 8 == size);
	shard_put64(b + q, rc_hash64(b, q));
	if ((rc = rc_io_write_all(w->af.f, b, size, w->af.tmp)) < 0)
		goto fail;
	w->offs[w->noffs++] = w->pos;
	w->pos += size;
	return 0;
fail:
	w->failed = rc;
	return rc;
}

uint64_t rc_shard_writer_count(const struct rc_shard_writer *w)
{
	return w->noffs;
}

uint64_t rc_shard_writer_bytes(const struct rc_shard_writer *w)
{
	return w->pos + 8 * (uint64_t)w->noffs + 8;
}

/* The xxh3-64 of the whole temporary, read back through its descriptor. */
static int hash_back(struct rc_shard_writer *w, uint64_t size, uint64_t *xxh3)
{
	struct rc_hash_state st;
	int rc, fd = fileno(w->af.f);
	if ((rc = rc_hash_init(&st, 0)) < 0)
		return rc;
	size_t cap = 1u << 20;
	uint8_t *b = rc_malloc(cap);
	if (!b) {
		rc_hash_free(&st);
		return RC_E_NOMEM;
	}
	for (uint64_t off = 0; off < size && rc == 0;) {
		ssize_t got = pread(fd, b, size - off < cap ? (size_t)(size - off) : cap,
				    (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			rc = rc_log_error(RC_E_IO, "%s: reading it back: %s", w->af.tmp,
					  got < 0 ? strerror(errno) : "file is short");
		else
			rc_hash_update(&st, b, (size_t)got), off += (uint64_t)got;
	}
	if (rc == 0)
		*xxh3 = rc_hash_digest64(&st);
	free(b);
	rc_hash_free(&st);
	return rc;
}

int rc_shard_writer_close(struct rc_shard_writer *w, uint64_t *xxh3)
{
	int rc = w->failed;
	if (rc < 0)
		goto fail;
	/* The index: offsets as little-endian u64 (the host's order). */
	uint64_t n = w->noffs, sum = rc_hash64(w->offs, 8 * n);
	uint8_t h[RC_SHARD_HEADER_SIZE] = { 0 }, c[8];
	shard_put64(c, sum);
	if ((n && (rc = rc_io_write_all(w->af.f, w->offs, 8 * n, w->af.tmp)) < 0) ||
	    (rc = rc_io_write_all(w->af.f, c, 8, w->af.tmp)) < 0)
		goto fail;
	uint64_t rec_off = RC_SHARD_HEADER_SIZE + w->meta_size;
	uint64_t index_off = w->pos, fs = w->pos + 8 * n + 8;
	memcpy(h + H_MAGIC, RC_SHARD_MAGIC, 8);
	shard_put32(h + H_VERSION, w->info.version);
	if (w->info.version > 1)
		shard_put32(h + H_TOKEN_BYTES, w->info.token_bytes);
	shard_put32(h + H_HEADER_SIZE, RC_SHARD_HEADER_SIZE);
	shard_put64(h + H_FILE_SIZE, fs);
	shard_put64(h + H_RECORDS, n);
	shard_put32(h + H_SCHEMA, w->info.schema);
	shard_put32(h + H_STORE, w->info.store);
	shard_put32(h + H_IMAGE_SIZE, w->info.image_size);
	shard_put32(h + H_TEXT_CTX, w->info.text_ctx);
	shard_put64(h + H_META_OFF, RC_SHARD_HEADER_SIZE);
	shard_put64(h + H_META_SIZE, w->meta_size);
	shard_put64(h + H_REC_OFF, rec_off);
	shard_put64(h + H_REC_SIZE, index_off - rec_off);
	shard_put64(h + H_INDEX_OFF, index_off);
	shard_put64(h + H_INDEX_SIZE, 8 * n + 8);
	shard_put64(h + H_CHECKSUM, rc_hash64(h, H_CHECKSUM));
	if ((rc = rc_io_flush(w->af.f, w->af.tmp)) < 0)
		goto fail;
	if (fseek(w->af.f, 0, SEEK_SET) != 0) {
		rc = rc_log_error(RC_E_IO, "%s: seek: %s", w->af.tmp, strerror(errno));
		goto fail;
	}
	if ((rc = rc_io_write_all(w->af.f, h, sizeof h, w->af.tmp)) < 0 ||
	    (rc = rc_io_flush(w->af.f, w->af.tmp)) < 0 ||
	    (xxh3 && (rc = hash_back(w, fs, xxh3)) < 0))
		goto fail;
	rc = rc_atomic_commit(&w->af);
	rc_shard_writer_abort(w); /* frees; the atomic file is already released */
	return rc;
fail:
	rc_shard_writer_abort(w);
	return rc;
}

void rc_shard_writer_abort(struct rc_shard_writer *w)
{
	if (!w)
		return;
	rc_atomic_abort(&w->af);
	free(w->offs);
	free(w->buf);
	free(w->path);
	free(w);
}
