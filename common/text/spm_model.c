/* spm_model.c - read a SentencePiece model file (spiece.model,
 * tokenizer.model): the protobuf ModelProto of sentencepiece_model.proto,
 * of which rclip needs the pieces (1: piece, score, type), the trainer
 * spec (model_type 3, byte_fallback 35, unk/bos/eos/pad ids 40..43) and
 * the normaliser spec (precompiled_charsmap 2, add_dummy_prefix 3,
 * remove_extra_whitespaces 4, escape_whitespaces 5). A small reader of
 * the wire format: varints, fixed32/64 and length-delimited fields. */
#include <stdlib.h>
#include <string.h>

#include "text/spm_impl.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

struct pb {
	const uint8_t *p, *end;
};

static int pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p == b->end)
			return -1;
		uint8_t c = *b->p++;
		x |= (uint64_t)(c & 0x7F) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* The next field: its number, wire type and value (a varint or fixed
 * value in *v; a length-delimited one in *sub). */
static int pb_field(struct pb *b, uint32_t *num, int *wt, uint64_t *v, struct pb *sub)
{
	uint64_t key;
	if (pb_varint(b, &key) < 0)
		return -1;
	*num = (uint32_t)(key >> 3);
	*wt = (int)(key & 7);
	switch (*wt) {
	case 0:
		return pb_varint(b, v);
	case 1:
		if (b->end - b->p < 8)
			return -1;
		memcpy(v, b->p, 8);
		b->p += 8;
		return 0;
	case 5: {
		uint32_t x;
		if (b->end - b->p < 4)
			return -1;
		memcpy(&x, b->p, 4);
		b->p += 4;
		*v = x;
		return 0;
	}
	case 2: {
		uint64_t n;
		if (pb_varint(b, &n) < 0 || n > (uint64_t)(b->end - b->p))
			return -1;
		sub->p = b->p;
		sub->end = b->p + n;
		b->p += n;
		return 0;
	}
	default:
		return -1;
	}
}

/* One field at a time: 1 with f filled, 0 at the end, -1 when malformed. */
struct pbf {
	uint32_t num;
	int wt;
	uint64_t v;
	struct pb sub;
};

static int pb_next(struct pb *b, struct pbf *f)
{
	if (b->p >= b->end)
		return 0;
	f->v = 0;
	return pb_field(b, &f->num, &f->wt, &f->v, &f->sub) < 0 ? -1 : 1;
}

static int read_piece(struct rc_spm *s, struct pb m)
{
	const uint8_t *str = NULL;
	size_t len = 0;
	float score = 0;
	int type = SPM_NORMAL;
	struct pbf f;
	int more;
	while ((more = pb_next(&m, &f)) > 0) {
		uint32_t num = f.num;
		uint64_t v = f.v;
		if (num == 1 && f.wt == 2) {
			str = f.sub.p;
			len = (size_t)(f.sub.end - f.sub.p);
		} else if (num == 2 && f.wt == 5) {
			uint32_t x = (uint32_t)v;
			memcpy(&score, &x, 4);
		} else if (num == 3 && f.wt == 0)
			type = (int)v;
	}
	if (more < 0 || !str)
		return RC_E_FORMAT;
	return spm_add_piece(s, (const char *)str, len, score, type);
}

static int read_trainer(struct rc_spm *s, struct pb m)
{
	s->kind = RC_SPM_UNIGRAM;
	s->unk = 0;
	s->bos = 1;
	s->eos = 2;
	s->pad = -1;
	struct pbf f;
	int more;
	while ((more = pb_next(&m, &f)) > 0) {
		uint32_t num = f.num;
		uint64_t v = f.v;
		if (f.wt != 0)
			continue;
		switch (num) {
		case 3: s->kind = (int)v; break;
		case 35: s->byte_fallback = v != 0; break;
		case 40: s->unk = (int32_t)(int64_t)v; break;
		case 41: s->bos = (int32_t)(int64_t)v; break;
		case 42: s->eos = (int32_t)(int64_t)v; break;
		case 43: s->pad = (int32_t)(int64_t)v; break;
		}
	}
	return more < 0 ? RC_E_FORMAT : 0;
}

static int read_normalizer(struct rc_spm *s, struct pb m)
{
	s->add_dummy_prefix = s->remove_extra_ws = s->escape_ws = 1;
	struct pbf f;
	int more;
	while ((more = pb_next(&m, &f)) > 0) {
		uint32_t num = f.num;
		uint64_t v = f.v;
		if (num == 2 && f.wt == 2 && f.sub.end > f.sub.p) {
			size_t n = (size_t)(f.sub.end - f.sub.p);
			free(s->charsmap);
			if (!(s->charsmap = rc_malloc(n + 1)))
				return RC_E_NOMEM;
			memcpy(s->charsmap, f.sub.p, n);
			s->ncharsmap = n;
		} else if (f.wt == 0 && num == 3)
			s->add_dummy_prefix = v != 0;
		else if (f.wt == 0 && num == 4)
			s->remove_extra_ws = v != 0;
		else if (f.wt == 0 && num == 5)
			s->escape_ws = v != 0;
	}
	return more < 0 ? RC_E_FORMAT : 0;
}

/* The charsmap: a little-endian u32 trie size in bytes, the trie's u32
 * units, then the replacement strings. */
static int split_charsmap(struct rc_spm *s, const char *path)
{
	if (!s->charsmap)
		return 0;
	uint32_t tsize;
	if (s->ncharsmap < 4)
		goto bad;
	memcpy(&tsize, s->charsmap, 4);
	if (tsize % 4 || tsize > s->ncharsmap - 4 || tsize < 4)
		goto bad;
	/* the units are read in place: copy them to aligned memory */
	uint32_t *units = rc_malloc(tsize);
	if (!units)
		return RC_E_NOMEM;
	memcpy(units, s->charsmap + 4, tsize);
	size_t rest = s->ncharsmap - 4 - tsize;
	uint8_t *all = rc_malloc(tsize + rest + 1);
	if (!all) {
		free(units);
		return RC_E_NOMEM;
	}
	memcpy(all, units, tsize);
	memcpy(all + tsize, s->charsmap + 4 + tsize, rest);
	all[tsize + rest] = 0;
	free(units);
	free(s->charsmap);
	s->charsmap = all;
	s->trie = (const uint32_t *)(void *)all;
	s->ntrie = tsize / 4;
	s->normstr = (const char *)all + tsize;
	s->nnormstr = rest;
	return 0;
bad:
	return rc_log_error(RC_E_FORMAT, "%s: the precompiled charsmap is malformed", path);
}

int spm_read_model(struct rc_spm *s, const char *path)
{
	char *data;
	size_t len;
	int rc = rc_io_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	struct pb b = {(const uint8_t *)data, (const uint8_t *)data + len};
	int have_trainer = 0;
	s->add_dummy_prefix = s->remove_extra_ws = s->escape_ws = 1;
	s->kind = RC_SPM_UNIGRAM;
	struct pbf f;
	int more;
	while (rc == 0 && (more = pb_next(&b, &f)) > 0) {
		if (f.wt != 2)
			continue;
		if (f.num == 1)
			rc = read_piece(s, f.sub);
		else if (f.num == 2) {
			rc = read_trainer(s, f.sub);
			have_trainer = 1;
		} else if (f.num == 3)
			rc = read_normalizer(s, f.sub);
	}
	if (rc == 0 && more < 0)
		rc = RC_E_FORMAT;
	free(data);
	if (rc == RC_E_FORMAT || (rc == 0 && (!s->n || !have_trainer)))
		return rc_log_error(RC_E_FORMAT, "%s: not a SentencePiece model (a protobuf ModelProto "
			"with pieces and a trainer spec)", path);
	if (rc < 0)
		return rc;
	if (s->kind != RC_SPM_UNIGRAM && s->kind != RC_SPM_BPE)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: SentencePiece model type %d (word or char) "
			"is not supported", path, s->kind);
	if ((rc = split_charsmap(s, path)) < 0)
		return rc;
	if (s->unk < 0 || (size_t)s->unk >= s->n)
		return rc_log_error(RC_E_FORMAT, "%s: the unknown piece id %d is not a piece", path, s->unk);
	return spm_finish(s);
}
