/* shard_check.c - what makes shard format v1 and v2 bytes valid (rclip-shard(5),
 * CHECKS): the header, the metadata block (and the lookups in it), the
 * index and each record, for the readers of shard.c. Nothing read from the
 * file is trusted before it is checked; each failure is logged once,
 * naming the file and the record.
 */
#include "data/shard.h"

#include "base/arena.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "data/preprocess.h"
#include "data/shard_impl.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rc_shard_schema_name(int schema)
{
	switch (schema) {
	case RC_SCHEMA_NONE: return "mixed";
	case RC_SCHEMA_DESC: return "descriptive";
	case RC_SCHEMA_LITE: return "reasonlite";
	case RC_SCHEMA_PRO:  return "reasonpro";
	case RC_SCHEMA_SETS: return "sets";
	}
	return NULL;
}

const char *shard_info_bad(const struct rc_shard_info *in)
{
	if (!rc_shard_schema_name((int)in->schema))
		return "schema";
	if (!rc_shard_store_name((int)in->store))
		return "image storage";
	if (in->image_size < 1 || in->image_size > RC_SHARD_IMAGE_SIZE_MAX)
		return "image size";
	if (in->text_ctx > UINT16_MAX)
		return "text context length";
	if (!rc_preprocess_name((int)in->preprocess))
		return "preprocessing";
	if (in->token_bytes && in->token_bytes != 2 && in->token_bytes != 4)
		return "token width";
	return NULL;
}

const char *rc_shard_store_name(int store)
{
	switch (store) {
	case RC_STORE_RAW:  return "raw";
	case RC_STORE_JPEG: return "jpeg";
	}
	return NULL;
}

/* ---------------------------------------------------------------- header */

/* Check the header h (have bytes of it were available); actual is the
 * file's size, or UINT64_MAX when it is not known (a stream). */
int shard_check_header(struct rc_shard *r, const uint8_t *h, size_t have,
		       uint64_t actual)
{
	const char *n = r->name;
	size_t m = have < 8 ? have : 8;
	if (memcmp(h, RC_SHARD_MAGIC, m) != 0)
		return rc_log_error(RC_E_FORMAT, "%s: not an rclip shard (bad magic)", n);
	if (have < RC_SHARD_HEADER_SIZE)
		return rc_log_error(RC_E_TRUNCATED, "%s: file ends inside the "
				    "header (%zu bytes)", n, have);
	uint32_t version = shard_get32(h + H_VERSION);
	if (version < RC_SHARD_VERSION_MIN || version > RC_SHARD_VERSION)
		return rc_log_error(RC_E_VERSION, "%s: shard format version %" PRIu32
				    ", this build reads versions %d to %d", n, version,
				    RC_SHARD_VERSION_MIN, RC_SHARD_VERSION);
	uint64_t want = shard_get64(h + H_CHECKSUM), got = rc_hash64(h, H_CHECKSUM);
	if (want != got)
		return rc_log_error(RC_E_CHECKSUM, "%s: header checksum mismatch "
				    "(stored %016" PRIx64 ", computed %016" PRIx64 ")",
				    n, want, got);
	for (int i = H_RESERVED; i < H_CHECKSUM; i++)
		if (h[i])
			return rc_log_error(RC_E_FORMAT, "%s: header: reserved byte "
					    "%d is not zero", n, i);

	uint64_t fs = shard_get64(h + H_FILE_SIZE);
	if (actual != UINT64_MAX && actual < fs)
		return rc_log_error(RC_E_TRUNCATED, "%s: file is %" PRIu64 " bytes, "
				    "its header says %" PRIu64, n, actual, fs);
	if (actual != UINT64_MAX && actual > fs)
		return rc_log_error(RC_E_FORMAT, "%s: %" PRIu64 " bytes after the end "
				    "of the shard", n, actual - fs);
	struct rc_shard_info *in = &r->info;
	in->version = version;
	in->file_size = fs;
	in->records = shard_get64(h + H_RECORDS);
	in->schema = shard_get32(h + H_SCHEMA);
	in->store = shard_get32(h + H_STORE);
	in->image_size = shard_get32(h + H_IMAGE_SIZE);
	in->text_ctx = shard_get32(h + H_TEXT_CTX);
	/* v1 has no such field (its bytes are reserved, zero): 2-byte ids */
	uint32_t tb = shard_get32(h + H_TOKEN_BYTES);
	in->token_bytes = version == 1 ? 2 : tb;
	r->meta_off = shard_get64(h + H_META_OFF);
	r->meta_size = shard_get64(h + H_META_SIZE);
	r->rec_off = shard_get64(h + H_REC_OFF);
	r->rec_size = shard_get64(h + H_REC_SIZE);
	r->index_off = shard_get64(h + H_INDEX_OFF);
	uint64_t isz = shard_get64(h + H_INDEX_SIZE);

	const char *bad = NULL;
	if (shard_get32(h + H_HEADER_SIZE) != RC_SHARD_HEADER_SIZE)
		bad = "header size";
	else if (version == 1 ? tb != 0 : tb != 2 && tb != 4)
		bad = "token width";
	else if ((bad = shard_info_bad(in)) != NULL)
		;
	else if (r->meta_off != RC_SHARD_HEADER_SIZE || r->meta_size < M_JSON + 8 ||
		 r->meta_size > RC_SHARD_META_MAX || r->meta_size % 8)
		bad = "metadata offset or size";
	else if (r->rec_off != r->meta_off + r->meta_size || r->rec_off > fs ||
		 r->rec_size > fs - r->rec_off || r->rec_size % 8 ||
		 in->records > r->rec_size / R_MIN ||
		 (in->records == 0) != (r->rec_size == 0))
		bad = "records offset, size or count";
	else if (r->index_off != r->rec_off + r->rec_size ||
		 isz != 8 * in->records + 8 || isz > fs ||
		 r->index_off != fs - isz)
		bad = "index offset or size";
	if (bad)
		return rc_log_error(RC_E_FORMAT, "%s: header: bad %s", n, bad);
	return 0;
}

/* ---------------------------------------------------------------- metadata */

/* The metadata lookups live beside the check that builds r->kv, so that
 * the check can use them without calling back into shard.c. */
const char *rc_shard_meta(const struct rc_shard *r, const char *key)
{
	for (size_t i = 0; i < r->nmeta; i++)
		if (strcmp(r->kv[2 * i], key) == 0)
			return r->kv[2 * i + 1];
	return NULL;
}

size_t rc_shard_meta_count(const struct rc_shard *r)
{
	return r->nmeta;
}

void rc_shard_meta_at(const struct rc_shard *r, size_t i, const char **key,
		      const char **value)
{
	rc_assert(i < r->nmeta);
	*key = r->kv[2 * i];
	*value = r->kv[2 * i + 1];
}

/* Does the metadata value of key equal want? */
static int meta_is(const struct rc_shard *r, const char *key, const char *want)
{
	const char *v = rc_shard_meta(r, key);
	return v && want && strcmp(v, want) == 0;
}

int shard_check_meta(struct rc_shard *r, const uint8_t *p, uint64_t size)
{
	const char *n = r->name;
	uint64_t want = shard_get64(p + size - 8), got = rc_hash64(p, size - 8);
	if (want != got)
		return rc_log_error(RC_E_CHECKSUM, "%s: metadata checksum mismatch "
				    "(stored %016" PRIx64 ", computed %016" PRIx64 ")",
				    n, want, got);
	uint64_t jlen = shard_get32(p + M_JSON_LEN);
	if (shard_get32(p + M_RESERVED) || shard_pad8(M_JSON + jlen) + 8 != size)
		return rc_log_error(RC_E_FORMAT, "%s: metadata: bad block length", n);
	for (uint64_t i = M_JSON + jlen; i < size - 8; i++)
		if (p[i])
			return rc_log_error(RC_E_FORMAT, "%s: metadata: padding is "
					    "not zero", n);
	json_error_t jerr;
	json_t *o = json_loadb((const char *)p + M_JSON, jlen, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return rc_log_error(RC_E_FORMAT, "%s: metadata: %s", n, jerr.text);
	int rc = 0;
	size_t bytes = 0, k = 0;
	const char *key;
	json_t *v;
	if (!json_is_object(o)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: metadata: not a JSON object", n);
		goto out;
	}
	json_object_foreach(o, key, v) {
		if (!json_is_string(v) || !*key) {
			rc = rc_log_error(RC_E_FORMAT, "%s: metadata: \"%s\" is not "
					  "a string", n, key);
			goto out;
		}
		bytes += strlen(key) + json_string_length(v) + 2;
	}
	/* The pointers, then the strings, in one allocation. */
	r->nmeta = json_object_size(o);
	char **kv = rc_malloc(2 * r->nmeta * sizeof *kv + bytes);
	if (!kv) {
		rc = RC_E_NOMEM;
		goto out;
	}
	r->kv = kv;
	char *s = (char *)(kv + 2 * r->nmeta);
	json_object_foreach(o, key, v) {
		size_t kl = strlen(key) + 1, vl = json_string_length(v) + 1;
		kv[k++] = memcpy(s, key, kl);
		s += kl;
		kv[k++] = memcpy(s, json_string_value(v), vl);
		s += vl;
	}
	/* The header's own fields, repeated for people, must agree. */
	char num[3][24];
	snprintf(num[0], sizeof num[0], "%" PRIu32, r->info.image_size);
	snprintf(num[1], sizeof num[1], "%" PRIu32, r->info.text_ctx);
	snprintf(num[2], sizeof num[2], "%" PRIu32, r->info.version);
	const char *disagree = NULL;
	if (!meta_is(r, RC_SHARD_META_FORMAT, "rclip-shard"))
		disagree = RC_SHARD_META_FORMAT;
	else if (!meta_is(r, RC_SHARD_META_VERSION, num[2]))
		disagree = RC_SHARD_META_VERSION;
	else if (!meta_is(r, RC_SHARD_META_SCHEMA, rc_shard_schema_name((int)r->info.schema)))
		disagree = RC_SHARD_META_SCHEMA;
	else if (!meta_is(r, RC_SHARD_META_STORAGE, rc_shard_store_name((int)r->info.store)))
		disagree = RC_SHARD_META_STORAGE;
	else if (!meta_is(r, RC_SHARD_META_IMAGE_SIZE, num[0]))
		disagree = RC_SHARD_META_IMAGE_SIZE;
	else if (!meta_is(r, RC_SHARD_META_TEXT_CTX, num[1]))
		disagree = RC_SHARD_META_TEXT_CTX;
	if (disagree) {
		rc = rc_log_error(RC_E_FORMAT, "%s: metadata: \"%s\" is missing or "
				  "disagrees with the header", n, disagree);
		goto out;
	}
	/* Not in the header: shards without the key hold CLIP crops. */
	const char *pp = rc_shard_meta(r, RC_SHARD_META_PREPROCESS);
	int kind = pp ? rc_preprocess_parse(pp) : RC_PREPROCESS_CLIP;
	if (kind < 0)
		rc = rc_log_error(RC_E_FORMAT, "%s: metadata: preprocess \"%s\" is not one "
				  "this build knows (clip, siglip)", n, pp);
	else
		r->info.preprocess = (uint32_t)kind;
out:
	json_decref(o);
	return rc;
}

/* ---------------------------------------------------------------- index */

uint64_t shard_record_end(const struct rc_shard *r, uint64_t i)
{
	const uint8_t *idx = r->data + r->index_off;
	return i + 1 < r->info.records ? shard_get64(idx + 8 * (i + 1)) : r->index_off;
}

int shard_check_index(struct rc_shard *r)
{
	const uint8_t *idx = r->data + r->index_off;
	uint64_t count = r->info.records;
	uint64_t want = shard_get64(idx + 8 * count), got = rc_hash64(idx, 8 * count);
	if (want != got)
		return rc_log_error(RC_E_CHECKSUM, "%s: index checksum mismatch "
				    "(stored %016" PRIx64 ", computed %016" PRIx64 ")",
				    r->name, want, got);
	/* Records lie back to back from rec_off to index_off. */
	uint64_t expect = r->rec_off;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t off = shard_get64(idx + 8 * i);
		uint64_t end = shard_record_end(r, i);
		if (off != expect || end > r->index_off || end < off ||
		    end - off < R_MIN || (end - off) % 8 || end - off > UINT32_MAX)
			return rc_log_error(RC_E_FORMAT, "%s: index: record %" PRIu64
					    ": bad offset %" PRIu64, r->name, i, off);
		expect = end;
	}
	return 0;
}

/* ---------------------------------------------------------------- records */

/* Skip the zero padding after an item that ended at *q; 0 or -1. */
static int skip_pad(const uint8_t *p, uint64_t *q, uint64_t end)
{
	uint64_t to = shard_pad8(*q);
	if (to > end)
		return -1;
	for (; *q < to; ++*q)
		if (p[*q])
			return -1;
	return 0;
}

/* Parse record index from the len bytes at p (8-aligned; len is at least
 * R_MIN and a multiple of 8, as the index or the stream reader made sure).
 * Fills rec with pointers into p. */
int shard_parse_record(struct rc_shard *r, uint64_t index, const uint8_t *p,
		       uint64_t len, struct rc_record *rec, struct rc_arena *arena)
{
	const char *n = r->name;
	uint64_t want = shard_get64(p + len - 8), got = rc_hash64(p, len - 8);
	if (want != got)
		return rc_log_error(RC_E_CHECKSUM, "%s: record %" PRIu64 ": checksum "
				    "mismatch (stored %016" PRIx64 ", computed %016"
				    PRIx64 ")", n, index, want, got);
	const char *bad = NULL;
	uint64_t end = len - 8, q = R_HEAD;
	unsigned schema = p[R_SCHEMA], ntexts = p[R_NTEXTS], nlabels = p[R_NLABELS];
	uint32_t key_len = shard_get32(p + R_KEY_LEN);
	uint32_t image_len = shard_get32(p + R_IMAGE_LEN);
	const struct rc_shard_info *in = &r->info;

	if (shard_get32(p + R_LENGTH) != len)
		bad = "its length disagrees with the index";
	else if (schema < RC_SCHEMA_DESC || schema > RC_SCHEMA_SETS ||
		 (in->schema && schema != in->schema))
		bad = "bad schema";
	else if (p[R_RESERVED])
		bad = "reserved byte is not zero";
	else if (in->store == RC_STORE_RAW &&
		 image_len != (uint64_t)in->image_size * in->image_size * 3)
		bad = "raw image size is not S*S*3";
	if (bad)
		goto fail;
	rec->schema = (uint8_t)schema;
	rec->key = (const char *)p + q;
	rec->key_len = key_len;
	if (end - q < key_len || (q += key_len, skip_pad(p, &q, end) < 0)) {
		bad = "key runs past the record";
		goto fail;
	}
	rec->image = p + q;
	rec->image_len = image_len;
	if (end - q < image_len || (q += image_len, skip_pad(p, &q, end) < 0)) {
		bad = "image runs past the record";
		goto fail;
	}
	struct rc_text *t = NULL;
	if (ntexts && !(t = arena ? rc_arena_alloc(arena, ntexts * sizeof *t) : r->scratch)) {
		memset(rec, 0, sizeof *rec);
		return RC_E_NOMEM;
	}
	for (unsigned i = 0; i < ntexts; i++) {
		if (end - q < T_HEAD) {
			bad = "texts run past the record";
			goto fail;
		}
		const uint8_t *e = p + q;
		t[i].role = e[T_ROLE];
		t[i].group = e[T_GROUP];
		t[i].ntokens = shard_get16(e + T_NTOKENS);
		t[i].len = shard_get32(e + T_LEN);
		if (t[i].role < RC_ROLE_CAPTION || t[i].role > RC_ROLE_NEG) {
			bad = "a text has a bad role";
			goto fail;
		}
		if (in->text_ctx && t[i].ntokens > in->text_ctx) {
			bad = "a text has more token ids than the context length";
			goto fail;
		}
		q += T_HEAD;
		/* Aligned: the mapping, q and T_HEAD are multiples of 8. */
		uint64_t idb = (uint64_t)in->token_bytes * t[i].ntokens;
		t[i].token_bytes = (uint8_t)in->token_bytes;
		t[i].tokens = t[i].ntokens ? (const void *)(p + q) : NULL;
		uint64_t need = idb + t[i].len;
		t[i].s = (const char *)p + q + idb;
		if (end - q < need || (q += need, skip_pad(p, &q, end) < 0)) {
			bad = "a text runs past the record";
			goto fail;
		}
	}
	rec->texts = t;
	rec->ntexts = ntexts;
	rec->labels = p + q;
	rec->nlabels = nlabels;
	if (end - q < nlabels || (q += nlabels, skip_pad(p, &q, end) < 0)) {
		bad = "labels run past the record";
		goto fail;
	}
	if (q != end) {
		bad = "bytes left after the labels";
		goto fail;
	}
	return 0;
fail:
	memset(rec, 0, sizeof *rec);
	return rc_log_error(RC_E_FORMAT, "%s: record %" PRIu64 ": %s", n, index, bad);
}
