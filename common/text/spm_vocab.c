/* spm_vocab.c - the tables of a SentencePiece-family tokenizer: its
 * pieces (and every prefix of one, for the unigram lattice), the BPE
 * merges, the added tokens; and the growable buffers the encoder uses. */
#include <stdlib.h>
#include <string.h>

#include "text/spm.h"
#include "text/spm_impl.h"
#include "base/error.h"
#include "base/io.h"

struct rc_spm *spm_new(void)
{
	struct rc_spm *s = rc_calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->unk = s->pad = s->bos = s->eos = -1;
	for (int i = 0; i < 256; i++)
		s->byte_id[i] = -1;
	return s;
}

int spm_add_piece(struct rc_spm *s, const char *p, size_t len, float score, int type)
{
	size_t cap = s->n;
	if ((s->n & (s->n - 1)) == 0 || s->n == 0) {
		cap = s->n ? 2 * s->n : 1024;
		uint32_t *o = rc_reallocarray(s->off, cap, sizeof *o);
		if (!o)
			return RC_E_NOMEM;
		s->off = o;
		uint32_t *l = rc_reallocarray(s->len, cap, sizeof *l);
		if (!l)
			return RC_E_NOMEM;
		s->len = l;
		float *sc = rc_reallocarray(s->score, cap, sizeof *sc);
		if (!sc)
			return RC_E_NOMEM;
		s->score = sc;
		uint8_t *t = rc_reallocarray(s->type, cap, 1);
		if (!t)
			return RC_E_NOMEM;
		s->type = t;
	}
	if (rc_grow((void **)&s->blob, &s->capblob, s->nblob + len + 1, 1) < 0)
		return RC_E_NOMEM;
	memcpy(s->blob + s->nblob, p, len);
	s->blob[s->nblob + len] = 0;
	s->off[s->n] = (uint32_t)s->nblob;
	s->len[s->n] = (uint32_t)len;
	s->score[s->n] = score;
	s->type[s->n] = (uint8_t)type;
	s->nblob += len + 1;
	s->n++;
	return 0;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x7fb5d329728ea185ull;
	h ^= h >> 27;
	return h | 1; /* 0 marks an empty slot */
}

/* The raw hash of a key; the table stores mix() of it. */
static uint64_t raw_hash(const char *p, size_t len)
{
	uint64_t h = SPM_HASH0;
	for (size_t i = 0; i < len; i++)
		h = spm_hash_step(h, (unsigned char)p[i]);
	return h;
}

static struct spm_slot *slot_for(struct rc_spm *s, const char *p, size_t len, int *fresh)
{
	uint64_t h = mix(raw_hash(p, len));
	for (size_t i = h & s->tab_mask;; i = (i + 1) & s->tab_mask) {
		struct spm_slot *e = &s->tab[i];
		if (!e->h) {
			*fresh = 1;
			e->h = h;
			return e;
		}
		if (e->h == h && e->len == len && !memcmp(s->blob + e->off, p, len)) {
			*fresh = 0;
			return e;
		}
	}
}

const struct spm_slot *spm_lookup(const struct rc_spm *s, const char *p, size_t len)
{
	return spm_lookup_h(s, p, len, raw_hash(p, len));
}

const struct spm_slot *spm_lookup_h(const struct rc_spm *s, const char *p, size_t len, uint64_t h)
{
	h = mix(h);
	for (size_t i = h & s->tab_mask;; i = (i + 1) & s->tab_mask) {
		const struct spm_slot *e = &s->tab[i];
		if (!e->h)
			return NULL;
		if (e->h == h && e->len == len && !memcmp(s->blob + e->off, p, len))
			return e;
	}
}

int32_t spm_find(const struct rc_spm *s, const char *p, size_t len)
{
	const struct spm_slot *e = spm_lookup(s, p, len);
	return e ? e->id : -1;
}

/* The piece table holds every piece and, for a unigram model, every
 * proper prefix of one that ends on a character boundary (id -1), so that
 * the lattice can stop at the first miss. */
int spm_finish(struct rc_spm *s)
{
	size_t want = 1024;
	size_t total = 0;
	for (size_t i = 0; i < s->n; i++)
		total += s->kind == RC_SPM_BPE || !s->len[i] ? 1 : s->len[i];
	while (want < 2 * total + 16)
		want *= 2;
	s->tab = rc_calloc(want, sizeof *s->tab);
	if (!s->tab)
		return RC_E_NOMEM;
	s->tab_mask = want - 1;
	s->min_score = 3.402823466e+38F;
	s->max_score = 1.175494351e-38F; /* FLT_MIN, as SentencePiece starts it */
	for (size_t i = 0; i < s->n; i++) {
		const char *p = s->blob + s->off[i];
		size_t len = s->len[i];
		int fresh;
		if (s->type[i] == SPM_USER && len) {
			int32_t *u = rc_reallocarray(s->user, s->nuser + 1, sizeof *u);
			if (!u)
				return RC_E_NOMEM;
			s->user = u;
			u[s->nuser++] = (int32_t)i;
		}
		if (s->type[i] == SPM_NORMAL) {
			if (s->score[i] < s->min_score)
				s->min_score = s->score[i];
			if (s->score[i] > s->max_score)
				s->max_score = s->score[i];
		}
		if (s->type[i] == SPM_BYTE || (len == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>')) {
			unsigned v = (unsigned)strtoul(p + 3, NULL, 16);
			if (v < 256 && s->byte_id[v] < 0)
				s->byte_id[v] = (int32_t)i;
		}
		if (!len)
			continue;
		struct spm_slot *e = slot_for(s, p, len, &fresh);
		if (fresh || e->id < 0) {
			e->off = s->off[i];
			e->len = (uint32_t)len;
			e->id = (int32_t)i;
		}
		for (size_t k = 1; s->kind != RC_SPM_BPE && k < len; k++) {
			if (((unsigned char)p[k] & 0xC0) == 0x80)
				continue;
			e = slot_for(s, p, k, &fresh);
			if (fresh) {
				e->off = s->off[i];
				e->len = (uint32_t)k;
				e->id = -1;
			}
		}
	}
	return 0;
}

int spm_add_merge(struct rc_spm *s, int32_t a, int32_t b, uint32_t rank, int32_t result)
{
	if (!s->pairs) {
		size_t want = 1024;
		while (want < 2 * s->n + 16)
			want *= 2;
		if (!(s->pairs = rc_calloc(want, sizeof *s->pairs)))
			return RC_E_NOMEM;
		s->pair_mask = want - 1;
	}
	uint64_t key = (uint64_t)(uint32_t)(a + 1) << 32 | (uint32_t)(b + 1);
	uint64_t h = mix(key);
	for (size_t i = h & s->pair_mask;; i = (i + 1) & s->pair_mask) {
		struct spm_pair *e = &s->pairs[i];
		if (!e->key) {
			*e = (struct spm_pair){key, rank, result};
			return 0;
		}
		if (e->key == key)
			return 0; /* the first (best ranked) merge of a pair wins */
	}
}

const struct spm_pair *spm_merge(const struct rc_spm *s, int32_t a, int32_t b)
{
	if (!s->pairs)
		return NULL;
	uint64_t key = (uint64_t)(uint32_t)(a + 1) << 32 | (uint32_t)(b + 1);
	uint64_t h = mix(key);
	for (size_t i = h & s->pair_mask;; i = (i + 1) & s->pair_mask) {
		const struct spm_pair *e = &s->pairs[i];
		if (!e->key)
			return NULL;
		if (e->key == key)
			return e;
	}
}

int spm_add_special(struct rc_spm *s, const char *tok, size_t len, int32_t id, int lstrip, int rstrip)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < s->nadded; i++)
		if (s->added[i].len == len && !memcmp(s->added[i].s, tok, len))
			return 0;
	struct spm_added *a = rc_reallocarray(s->added, s->nadded + 1, sizeof *a);
	if (!a)
		return RC_E_NOMEM;
	s->added = a;
	char *c = rc_malloc(len + 1);
	if (!c)
		return RC_E_NOMEM;
	memcpy(c, tok, len);
	c[len] = 0;
	a[s->nadded++] = (struct spm_added){c, len, id, (uint8_t)lstrip, (uint8_t)rstrip};
	return 0;
}

void rc_spm_free(struct rc_spm *s)
{
	if (!s)
		return;
	free(s->off);
	free(s->len);
	free(s->score);
	free(s->type);
	free(s->blob);
	free(s->tab);
	free(s->user);
	free(s->pairs);
	free(s->charsmap);
	for (int i = 0; i < s->nhf; i++) {
		free(s->hf_arg[i][0]);
		free(s->hf_arg[i][1]);
	}
	free(s->split_on);
	for (size_t i = 0; i < s->nadded; i++)
		free(s->added[i].s);
	free(s->added);
	free(s);
}

/* The identity changes with the lowercasing: lowercased texts give other
 * ids, and shards of the two must not pass for each other. */
void spm_set_id(struct rc_spm *s)
{
	snprintf(s->id, sizeof s->id, "%s:%016llx%s", s->name,
		(unsigned long long)s->files_hash, s->lower ? ":lower" : "");
}

void rc_spm_set_lower(struct rc_spm *s, int on)
{
	s->lower = on;
	spm_set_id(s);
}

const char *rc_spm_name(const struct rc_spm *s) { return s->name; }
const char *rc_spm_id(const struct rc_spm *s) { return s->id; }
size_t rc_spm_vocab_size(const struct rc_spm *s) { return s->n; }
int32_t rc_spm_pad(const struct rc_spm *s) { return s->pad; }
int rc_spm_pad_left(const struct rc_spm *s) { return s->pad_left; }

int spm_buf_put(struct spm_buf *b, const char *s, size_t n)
{
	if (rc_grow((void **)&b->p, &b->cap, b->n + n + 1, 1) < 0)
		return RC_E_NOMEM;
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

int spm_ids_put(struct spm_ids *v, int32_t id)
{
	if (v->n == v->cap && rc_grow((void **)&v->p, &v->cap, v->n + 1, sizeof *v->p) < 0)
		return RC_E_NOMEM;
	v->p[v->n++] = id;
	return 0;
}

