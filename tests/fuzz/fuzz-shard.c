/* fuzz-shard.c - libFuzzer target for the shard reader (shard.h): any
 * bytes opened in memory and as a stream, every record read by index, in
 * order and verified. Each input runs twice: as it is, and with every
 * checksum it holds recomputed, so that mutations get past the checksums
 * to the header, index, metadata and record parsers. Aborts when a read
 * record points outside the input or breaks the format's rules, or when
 * verify and the reads disagree.
 * Build: `make fuzz`; run: tests/fuzz/fuzz-shard -close_fd_mask=2 CORPUS_DIR
 * (the reader logs every error it finds on stderr; the mask drops that).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/log.h"
#include "data/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* Does [p, p + n) lie inside [lo, lo + size)? */
static int inside(const void *p, uint64_t n, const uint8_t *lo, size_t size)
{
	const uint8_t *q = p;
	return n == 0 || (q >= lo && q <= lo + size && n <= (uint64_t)(lo + size - q));
}

static void check_record(const struct rc_record *rec, const struct rc_shard_info *in,
			 const uint8_t *buf, size_t size)
{
	int stream = buf == NULL;
	if (rec->schema < RC_SCHEMA_DESC || rec->schema > RC_SCHEMA_SETS ||
	    (in->schema && rec->schema != in->schema) ||
	    rec->ntexts > RC_RECORD_MAX_TEXTS || rec->nlabels > RC_RECORD_MAX_LABELS)
		abort();
	if (in->store == RC_STORE_RAW &&
	    rec->image_len != (uint64_t)in->image_size * in->image_size * 3)
		abort();
	if (!stream && (!inside(rec->key, rec->key_len, buf, size) ||
			!inside(rec->image, rec->image_len, buf, size) ||
			!inside(rec->labels, rec->nlabels, buf, size)))
		abort();
	volatile uint8_t sink = 0;
	for (uint32_t i = 0; i < rec->ntexts; i++) {
		const struct rc_text *t = &rec->texts[i];
		if (t->role < RC_ROLE_CAPTION || t->role > RC_ROLE_NEG ||
		    (in->text_ctx && t->ntokens > in->text_ctx) ||
		    (t->ntokens == 0) != (t->tokens == NULL) ||
		    t->token_bytes != in->token_bytes ||
		    ((uintptr_t)t->tokens & (t->token_bytes - 1u)))
			abort();
		if (!stream && (!inside(t->s, t->len, buf, size) ||
				!inside(t->tokens, (uint64_t)t->token_bytes * t->ntokens, buf, size)))
			abort();
		/* Touch every byte: ASan checks the stream's buffer. */
		for (uint32_t k = 0; k < t->len; k++)
			sink ^= (uint8_t)t->s[k];
		for (uint32_t k = 0; k < t->ntokens; k++)
			sink ^= (uint8_t)rc_text_token(t, k);
	}
	for (uint32_t k = 0; k < rec->key_len; k++)
		sink ^= (uint8_t)rec->key[k];
	for (uint32_t k = 0; k < rec->image_len; k++)
		sink ^= rec->image[k];
	for (uint32_t k = 0; k < rec->nlabels; k++)
		sink ^= rec->labels[k];
	(void)sink;
}

/* Both readers must agree on whether the whole file is good. */
static void exercise(const uint8_t *buf, size_t size)
{
	struct rc_shard *r;
	struct rc_record rec;
	int mem_ok = 0, stream_ok = 0;
	if (rc_shard_open_mem(&r, buf, size, "fuzz.rcs") == 0) {
		const struct rc_shard_info *in = rc_shard_info(r);
		if (in->version < RC_SHARD_VERSION_MIN || in->version > RC_SHARD_VERSION ||
		    in->file_size != size || in->token_bytes != (in->version == 1 ? 2u : in->token_bytes))
			abort();
		for (size_t i = 0; i < rc_shard_meta_count(r); i++) {
			const char *k, *v;
			rc_shard_meta_at(r, i, &k, &v);
			if (rc_shard_meta(r, k) != v)
				abort();
		}
		int bad_reads = 0;
		for (uint64_t i = 0; i < rc_shard_count(r); i++) {
			if (rc_shard_read(r, i, &rec, NULL) == 0)
				check_record(&rec, in, buf, size);
			else
				bad_reads++;
		}
		int n = 0, rc;
		while ((rc = rc_shard_next(r, &rec, NULL)) != 0)
			if (rc > 0) {
				check_record(&rec, in, buf, size);
				n++;
			}
		uint64_t bad = 0, h;
		rc = rc_shard_verify(r, &bad);
		if ((rc < 0) != (bad_reads > 0) || (rc < 0 && bad >= rc_shard_count(r)) ||
		    n + bad_reads != (int)rc_shard_count(r))
			abort();
		if (rc_shard_read(r, rc_shard_count(r), &rec, NULL) != RC_E_RANGE ||
		    rc_shard_hash(r, &h) != 0 || h != rc_hash64(buf, size))
			abort();
		mem_ok = rc == 0;
		rc_shard_close(r);
	}
	if (size == 0)
		return; /* fmemopen needs a byte; and the empty file is no shard */
	FILE *f = fmemopen((void *)buf, size, "rb");
	if (!f)
		abort();
	if (rc_shard_open_stream(&r, f, "fuzz.rcs") == 0) {
		const struct rc_shard_info *in = rc_shard_info(r);
		int rc;
		while ((rc = rc_shard_next(r, &rec, NULL)) > 0)
			check_record(&rec, in, NULL, 0);
		stream_ok = rc == 0;
		rc_shard_close(r);
	}
	fclose(f);
	if (mem_ok != stream_ok)
		abort();
}

/* Recompute every checksum the input has where its offsets allow: the
 * metadata's, the index's, each record's (as the index delimits them),
 * then the header's, with the file size set to the input's. */
static void reseal(uint8_t *b, size_t size)
{
	if (size < RC_SHARD_HEADER_SIZE)
		return;
	uint64_t count = get64(b + 24), moff = get64(b + 48), msize = get64(b + 56);
	uint64_t ioff = get64(b + 80);
	put64(b + 16, size);
	if (moff <= size && msize >= 8 && msize <= size - moff)
		put64(b + moff + msize - 8, rc_hash64(b + moff, msize - 8));
	if (ioff <= size && count <= (size - ioff) / 8 && 8 * count + 8 <= size - ioff) {
		const uint8_t *idx = b + ioff;
		for (uint64_t i = 0; i < count; i++) {
			uint64_t off = get64(idx + 8 * i);
			uint64_t end = i + 1 < count ? get64(idx + 8 * (i + 1)) : ioff;
			if (off < end && end <= ioff && end - off >= 24)
				put64(b + end - 8, rc_hash64(b + off, end - off - 8));
		}
		put64(b + ioff + 8 * count, rc_hash64(idx, 8 * count));
	}
	put64(b + 120, rc_hash64(b, 120));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		rc_log_init("fuzz-shard");
		init = 1;
	}
	/* An 8-aligned copy, as rc_shard_open_mem requires. */
	uint8_t *b = malloc(size ? size : 1);
	if (!b)
		abort();
	memcpy(b, data, size);
	exercise(b, size);
	reseal(b, size);
	exercise(b, size);
	free(b);
	return 0;
}
