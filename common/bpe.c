/* bpe.c - CLIP byte-level BPE: vocabulary loading, open_clip's pre-token
 * pattern, merging by rank with a heap, a per-thread word cache, packing
 * rows as open_clip.tokenize and decoding. See bpe.h. */
#include "bpe.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "error.h"
#include "io.h"
#include "log.h"
#include "textclean.h"
#include "texttab.h"
#include "utf8.h"

#define MERGES_NAME "bpe_simple_vocab_16e6.txt.gz"

/* A symbol: the bytes it stands for, and whether it ends a word ("</w>"). */
struct sym {
	uint32_t off;
	uint32_t len;
	uint8_t eow;
};

/* Open addressing tables; a zero key marks an empty slot. */
struct pair_slot {
	uint64_t key; /* (left + 1) << 32 | (right + 1) */
	uint32_t rank;
	uint32_t result;
};

struct rc_bpe {
	struct sym *syms;      /* byte symbols, byte+eow, one per merge */
	size_t nsyms;
	char *bytes;           /* storage of the symbols' bytes */
	size_t nbytes, capbytes;
	int32_t *out_id;       /* symbol → token id */
	uint32_t *sym_of_id;   /* token id → symbol (UINT32_MAX: special) */
	size_t vocab_size;
	struct pair_slot *pairs;
	size_t pair_mask;
	uint32_t *symtab;      /* hash of (bytes, eow) → symbol + 1 */
	size_t symtab_mask;
	size_t nmerges;
	int32_t sot, eot;
	uint8_t byte_sym[256];  /* byte → its symbol (index in CLIP's order) */
	uint16_t unicode_of_byte[256];
	uint8_t cls[0x10000];   /* CLS_* of the BMP */
};

enum { CLS_L = 1, CLS_N = 2, CLS_O = 4 }; /* letter, number, other */

/* ---------------------------------------------------------------- cache */

struct cache_slot {
	uint64_t hash;  /* 0: empty */
	uint32_t key_off, ids_off;
	uint16_t key_len, nids;
};

#define CACHE_SLOTS (1u << 16)       /* per thread */
#define CACHE_MAX_KEY 48             /* longer pieces are not cached */
#define CACHE_POOL (CACHE_SLOTS * 8) /* bytes and ids each */

struct heap_item {
	uint32_t rank, pos;
};

struct rc_bpe_state {
	const struct rc_bpe *bpe;
	struct rc_textclean *tc;
	int32_t *ids;
	size_t nids, capids;
	char *piece;         /* UTF-8 of the current piece */
	size_t cappiece;
	/* word merging scratch */
	uint32_t *sym, *prev, *next;
	struct heap_item *heap;
	size_t capword, caphp;
	/* cache */
	struct cache_slot *slots;
	char *key_pool;
	int32_t *id_pool;
	size_t key_used, id_used, nslots_used;
};

/* ---------------------------------------------------------------- tables */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t sym_hash(const char *b, size_t len, int eow)
{
	return XXH3_64bits_withSeed(b, len, (uint64_t)eow + 1);
}

static uint32_t symtab_find(const struct rc_bpe *bpe, const char *b, size_t len, int eow)
{
	size_t i = sym_hash(b, len, eow) & bpe->symtab_mask;
	for (;;) {
		uint32_t s = bpe->symtab[i];
		if (!s)
			return UINT32_MAX;
		const struct sym *y = &bpe->syms[s - 1];
		if (y->len == len && y->eow == eow && !memcmp(bpe->bytes + y->off, b, len))
			return s - 1;
		i = (i + 1) & bpe->symtab_mask;
	}
}

static void symtab_insert(struct rc_bpe *bpe, uint32_t id)
{
	const struct sym *y = &bpe->syms[id];
	size_t i = sym_hash(bpe->bytes + y->off, y->len, y->eow) & bpe->symtab_mask;
	while (bpe->symtab[i])
		i = (i + 1) & bpe->symtab_mask;
	bpe->symtab[i] = id + 1;
}

static inline uint64_t pair_key(uint32_t a, uint32_t b)
{
	return ((uint64_t)(a + 1) << 32) | (b + 1);
}

static const struct pair_slot *pair_find(const struct rc_bpe *bpe, uint32_t a, uint32_t b)
{
	uint64_t key = pair_key(a, b);
	size_t i = mix64(key) & bpe->pair_mask;
	for (;;) {
		const struct pair_slot *p = &bpe->pairs[i];
		if (p->key == key)
			return p;
		if (!p->key)
			return NULL;
		i = (i + 1) & bpe->pair_mask;
	}
}

/* Returns 0, or 1 when the pair was already there: the later rank
 * replaces it, as in open_clip's dict of ranks. */
static int pair_insert(struct rc_bpe *bpe, uint32_t a, uint32_t b, uint32_t rank, uint32_t result)
{
	uint64_t key = pair_key(a, b);
	size_t i = mix64(key) & bpe->pair_mask;
	while (bpe->pairs[i].key) {
		if (bpe->pairs[i].key == key) {
			bpe->pairs[i].rank = rank;
			return 1;
		}
		i = (i + 1) & bpe->pair_mask;
	}
	bpe->pairs[i] = (struct pair_slot){key, rank, result};
	return 0;
}

static int add_bytes(struct rc_bpe *bpe, const char *b, size_t len, uint32_t *off)
{
	if (bpe->nbytes + len > bpe->capbytes) {
		size_t cap = bpe->capbytes ? bpe->capbytes * 2 : 1 << 16;
		while (cap < bpe->nbytes + len)
			cap *= 2;
		char *p = rc_realloc(bpe->bytes, cap);
		if (!p)
			return RC_E_NOMEM;
		bpe->bytes = p;
		bpe->capbytes = cap;
	}
	memcpy(bpe->bytes + bpe->nbytes, b, len);
	*off = (uint32_t)bpe->nbytes;
	bpe->nbytes += len;
	return 0;
}

/* CLIP's printable remapping of bytes: printable Latin-1 bytes stand for
 * themselves and come first, in order; the others map to 256, 257, ... */
static void byte_tables(struct rc_bpe *bpe)
{
	int printable[256] = {0};
	for (int b = '!'; b <= '~'; b++) printable[b] = 1;
	for (int b = 0xA1; b <= 0xAC; b++) printable[b] = 1;
	for (int b = 0xAE; b <= 0xFF; b++) printable[b] = 1;
	int k = 0, extra = 0;
	for (int b = 0; b < 256; b++)
		if (printable[b]) {
			bpe->byte_sym[b] = (uint8_t)k++;
			bpe->unicode_of_byte[b] = (uint16_t)b;
		}
	for (int b = 0; b < 256; b++)
		if (!printable[b]) {
			bpe->byte_sym[b] = (uint8_t)k++;
			bpe->unicode_of_byte[b] = (uint16_t)(256 + extra++);
		}
}

static void class_table(struct rc_bpe *bpe)
{
	memset(bpe->cls, 0, sizeof bpe->cls);
	const struct { const struct rc_range *r; size_t n; uint8_t bit; } t[] = {
		{rc_tt_letter, rc_tt_letter_n, CLS_L},
		{rc_tt_number, rc_tt_number_n, CLS_N},
		{rc_tt_other, rc_tt_other_n, CLS_O},
	};
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < t[k].n && t[k].r[i].lo < 0x10000; i++)
			for (uint32_t c = t[k].r[i].lo; c <= t[k].r[i].hi && c < 0x10000; c++)
				bpe->cls[c] |= t[k].bit;
}

static inline unsigned cp_class(const struct rc_bpe *bpe, uint32_t c)
{
	if (c < 0x10000)
		return bpe->cls[c];
	unsigned k = 0;
	if (rc_tt_in(rc_tt_letter, rc_tt_letter_n, c)) k |= CLS_L;
	if (rc_tt_in(rc_tt_number, rc_tt_number_n, c)) k |= CLS_N;
	if (rc_tt_in(rc_tt_other, rc_tt_other_n, c)) k |= CLS_O;
	return k;
}

/* ---------------------------------------------------------------- load */

const char *rc_bpe_find_merges(void)
{
	static char path[4096];
	const char *dirs[3] = {getenv("RCLIP_DATA_DIR"), RCLIP_DATADIR, RCLIP_SRCDATADIR};
	for (int i = 0; i < 3; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		snprintf(path, sizeof path, "%s/%s", dirs[i], MERGES_NAME);
		if (access(path, R_OK) == 0)
			return path;
	}
	rc_log_error(RC_E_NOTFOUND, "cannot find %s (looked in $RCLIP_DATA_DIR, %s, %s)",
		MERGES_NAME, RCLIP_DATADIR, RCLIP_SRCDATADIR);
	rc_log_hint("install rclip (make install), set RCLIP_DATA_DIR, or pass --merges FILE");
	return NULL;
}

/* Parse one side of a merge line into bytes (in buf) and the eow flag.
 * Returns the byte count or -1 for a character that is no byte symbol. */
static long parse_symbol(const uint8_t *rev, const char *s, size_t len, char *buf, int *eow)
{
	*eow = 0;
	if (len >= 4 && !memcmp(s + len - 4, "</w>", 4)) {
		*eow = 1;
		len -= 4;
	}
	size_t i = 0, n = 0;
	while (i < len) {
		uint32_t cp = rc_utf8_next(s, len, &i);
		if (cp >= 512 || rev[cp] == 0)
			return -1;
		buf[n++] = (char)(rev[cp] - 1);
	}
	return (long)n;
}

static int new_sym(struct rc_bpe *bpe, const char *b, size_t len, int eow, uint32_t *id)
{
	struct sym y = {0, (uint32_t)len, (uint8_t)eow};
	int rc = add_bytes(bpe, b, len, &y.off);
	if (rc < 0)
		return rc;
	*id = (uint32_t)bpe->nsyms;
	bpe->syms[bpe->nsyms++] = y;
	symtab_insert(bpe, *id);
	return 0;
}

static int load_merges(struct rc_bpe *bpe, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int rc = rc_io_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	/* rev[unicode] = byte + 1, for the byte symbols */
	uint8_t rev[512] = {0};
	for (int b = 0; b < 256; b++)
		rev[bpe->unicode_of_byte[b]] = (uint8_t)(b + 1);

	size_t maxsyms = 512 + RC_BPE_CLIP_MERGES + 2;
	bpe->syms = rc_calloc(maxsyms, sizeof *bpe->syms);
	bpe->symtab_mask = (1u << 17) - 1;
	bpe->symtab = rc_calloc(bpe->symtab_mask + 1, sizeof *bpe->symtab);
	bpe->pair_mask = (1u << 17) - 1;
	bpe->pairs = rc_calloc(bpe->pair_mask + 1, sizeof *bpe->pairs);
	if (!bpe->syms || !bpe->symtab || !bpe->pairs) {
		free(data);
		return RC_E_NOMEM;
	}
	/* 256 byte symbols in CLIP's order, then the same ending a word. */
	for (int eow = 0; eow < 2; eow++)
		for (int k = 0; k < 256; k++)
			for (int b = 0; b < 256; b++)
				if (bpe->byte_sym[b] == k) {
					char c = (char)b;
					uint32_t id;
					if ((rc = new_sym(bpe, &c, 1, eow, &id)) < 0)
						goto out;
				}

	char *line = data, *end = data + len;
	size_t lineno = 0;
	char lb[1024], rb[1024];
	while (line < end && bpe->nmerges < RC_BPE_CLIP_MERGES) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
		char *next = nl ? nl + 1 : end;
		lineno++;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (lineno == 1) { /* a version header, skipped as the references do */
			line = next;
			continue;
		}
		if (ll == 0 && !nl) /* a last empty line */
			break;
		char *sp = memchr(line, ' ', ll);
		int leow, reow;
		long ln = -1, rn = -1;
		if (sp && sp > line && (size_t)(sp - line) < sizeof lb &&
		    ll - (size_t)(sp - line) - 1 < sizeof rb) {
			ln = parse_symbol(rev, line, (size_t)(sp - line), lb, &leow);
			rn = parse_symbol(rev, sp + 1, ll - (size_t)(sp - line) - 1, rb, &reow);
		}
		if (ln <= 0 || rn <= 0 || leow) {
			rc = rc_log_error(RC_E_FORMAT, "%s:%zu: not a merge line (\"left right\" of byte symbols)",
				path, lineno);
			goto out;
		}
		uint32_t a = symtab_find(bpe, lb, (size_t)ln, 0);
		uint32_t b = symtab_find(bpe, rb, (size_t)rn, reow);
		if (a == UINT32_MAX || b == UINT32_MAX) {
			rc = rc_log_error(RC_E_FORMAT, "%s:%zu: merge of a symbol not defined before", path, lineno);
			goto out;
		}
		memcpy(lb + ln, rb, (size_t)rn);
		uint32_t r = symtab_find(bpe, lb, (size_t)(ln + rn), reow);
		/* A repeated result string keeps one symbol; open_clip's encoder
		 * maps the string to its last index (set below). */
		if (r == UINT32_MAX && (rc = new_sym(bpe, lb, (size_t)(ln + rn), reow, &r)) < 0)
			goto out;
		pair_insert(bpe, a, b, (uint32_t)bpe->nmerges, r);
		bpe->nmerges++;
		line = next;
	}
	if (bpe->nmerges == 0)
		rc = rc_log_error(RC_E_FORMAT, "%s: no merges", path);
out:
	free(data);
	return rc;
}

/* Ids by CLIP's construction: vocabulary index of each string, the last
 * index where a string repeats. */
static int ids_by_construction(struct rc_bpe *bpe, const char *path)
{
	bpe->vocab_size = 512 + bpe->nmerges + 2;
	bpe->out_id = rc_calloc(bpe->nsyms, sizeof *bpe->out_id);
	bpe->sym_of_id = rc_calloc(bpe->vocab_size, sizeof *bpe->sym_of_id);
	if (!bpe->out_id || !bpe->sym_of_id)
		return RC_E_NOMEM;
	for (size_t i = 0; i < bpe->vocab_size; i++)
		bpe->sym_of_id[i] = i < 512 ? (uint32_t)i : UINT32_MAX - 1;
	for (size_t i = 0; i < 512; i++)
		bpe->out_id[i] = (int32_t)i;
	/* Replay the merges: merge r produced the symbol of pair with rank r. */
	for (size_t s = 0; s <= bpe->pair_mask; s++) {
		const struct pair_slot *p = &bpe->pairs[s];
		if (!p->key)
			continue;
		int32_t id = (int32_t)(512 + p->rank);
		if (bpe->out_id[p->result] < id)
			bpe->out_id[p->result] = id;
		bpe->sym_of_id[id] = p->result;
	}
	/* An id whose string comes again later has no token of its own (as
	 * in open_clip's decoder); ids of repeated merge lines neither. */
	size_t holes = 0;
	for (size_t id = 512; id < 512 + bpe->nmerges; id++)
		if (bpe->sym_of_id[id] == UINT32_MAX - 1 || bpe->out_id[bpe->sym_of_id[id]] != (int32_t)id) {
			bpe->sym_of_id[id] = UINT32_MAX - 1;
			holes++;
		}
	if (holes)
		rc_log_warn("%s: %zu merges repeat a token made before (their ids are unused)", path, holes);
	bpe->sot = (int32_t)(512 + bpe->nmerges);
	bpe->eot = bpe->sot + 1;
	bpe->sym_of_id[bpe->sot] = UINT32_MAX;
	bpe->sym_of_id[bpe->eot] = UINT32_MAX;
	return 0;
}

/* The vocabulary string of a symbol: its bytes as byte symbols, "</w>". */
static size_t sym_string(const struct rc_bpe *bpe, uint32_t s, char *out)
{
	const struct sym *y = &bpe->syms[s];
	size_t n = 0;
	for (uint32_t i = 0; i < y->len; i++)
		n += rc_utf8_encode1(bpe->unicode_of_byte[(uint8_t)bpe->bytes[y->off + i]], out + n);
	if (y->eow) {
		memcpy(out + n, "</w>", 4);
		n += 4;
	}
	out[n] = 0;
	return n;
}

static int ids_from_vocab(struct rc_bpe *bpe, const char *path)
{
	json_error_t err;
	char *data;
	size_t len;
	int rc = rc_io_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	json_t *v = json_loadb(data, len, 0, &err);
	free(data);
	if (!v)
		return rc_log_error(RC_E_FORMAT, "%s:%d: %s", path, err.line, err.text);
	if (!json_is_object(v)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: not a JSON object of token ids", path);
		goto out;
	}
	bpe->vocab_size = json_object_size(v);
	bpe->out_id = rc_calloc(bpe->nsyms, sizeof *bpe->out_id);
	if (!bpe->out_id) {
		rc = RC_E_NOMEM;
		goto out;
	}
	char buf[4096];
	size_t maxid = 0;
	for (size_t s = 0; s < bpe->nsyms; s++) {
		if (bpe->syms[s].len * 2 + 8 > sizeof buf) {
			rc = rc_log_error(RC_E_FORMAT, "%s: a merged token is too long", path);
			goto out;
		}
		sym_string(bpe, (uint32_t)s, buf);
		json_t *id = json_object_get(v, buf);
		if (!json_is_integer(id) || json_integer_value(id) < 0 ||
		    json_integer_value(id) > INT32_MAX) {
			rc = rc_log_error(RC_E_NOTFOUND, "%s: token \"%s\" of the merges has no id", path, buf);
			goto out;
		}
		bpe->out_id[s] = (int32_t)json_integer_value(id);
		if ((size_t)bpe->out_id[s] > maxid)
			maxid = (size_t)bpe->out_id[s];
	}
	const char *names[2][2] = {{"<|startoftext|>", "<start_of_text>"}, {"<|endoftext|>", "<end_of_text>"}};
	int32_t special[2];
	for (int k = 0; k < 2; k++) {
		json_t *id = json_object_get(v, names[k][0]);
		if (!id)
			id = json_object_get(v, names[k][1]);
		if (!json_is_integer(id)) {
			rc = rc_log_error(RC_E_NOTFOUND, "%s: no id for %s", path, names[k][0]);
			goto out;
		}
		special[k] = (int32_t)json_integer_value(id);
		if ((size_t)special[k] > maxid)
			maxid = (size_t)special[k];
	}
	bpe->sot = special[0];
	bpe->eot = special[1];
	if (maxid + 1 > bpe->vocab_size)
		bpe->vocab_size = maxid + 1;
	bpe->sym_of_id = rc_malloc(bpe->vocab_size * sizeof *bpe->sym_of_id);
	if (!bpe->sym_of_id) {
		rc = RC_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < bpe->vocab_size; i++)
		bpe->sym_of_id[i] = UINT32_MAX - 1; /* unknown */
	for (size_t s = 0; s < bpe->nsyms; s++)
		bpe->sym_of_id[bpe->out_id[s]] = (uint32_t)s;
	bpe->sym_of_id[bpe->sot] = UINT32_MAX;
	bpe->sym_of_id[bpe->eot] = UINT32_MAX;
out:
	json_decref(v);
	return rc;
}

int rc_bpe_load(struct rc_bpe **out, const char *merges, const char *vocab_json)
{
	*out = NULL;
	if (!merges && !(merges = rc_bpe_find_merges()))
		return RC_E_NOTFOUND;
	struct rc_bpe *bpe = rc_calloc(1, sizeof *bpe);
	if (!bpe)
		return RC_E_NOMEM;
	byte_tables(bpe);
	class_table(bpe);
	int rc = load_merges(bpe, merges);
	if (rc == 0)
		rc = vocab_json ? ids_from_vocab(bpe, vocab_json) : ids_by_construction(bpe, merges);
	if (rc < 0) {
		rc_bpe_free(bpe);
		return rc;
	}
	*out = bpe;
	return 0;
}

void rc_bpe_free(struct rc_bpe *bpe)
{
	if (!bpe)
		return;
	free(bpe->syms);
	free(bpe->bytes);
	free(bpe->out_id);
	free(bpe->sym_of_id);
	free(bpe->pairs);
	free(bpe->symtab);
	free(bpe);
}

int32_t rc_bpe_sot(const struct rc_bpe *bpe) { return bpe->sot; }
int32_t rc_bpe_eot(const struct rc_bpe *bpe) { return bpe->eot; }
size_t rc_bpe_vocab_size(const struct rc_bpe *bpe) { return bpe->vocab_size; }
size_t rc_bpe_merges(const struct rc_bpe *bpe) { return bpe->nmerges; }

const char *rc_bpe_token_bytes(const struct rc_bpe *bpe, int32_t id, size_t *len, int *eow)
{
	static const char *spec[2] = {"<start_of_text>", "<end_of_text>"};
	if (id < 0 || (size_t)id >= bpe->vocab_size)
		return NULL;
	uint32_t s = bpe->sym_of_id[id];
	if (s == UINT32_MAX) {
		const char *t = spec[id == bpe->eot];
		*len = strlen(t);
		*eow = 0;
		return t;
	}
	if (s >= bpe->nsyms)
		return NULL;
	*len = bpe->syms[s].len;
	*eow = bpe->syms[s].eow;
	return bpe->bytes + bpe->syms[s].off;
}

/* ---------------------------------------------------------------- state */

struct rc_bpe_state *rc_bpe_state_new(const struct rc_bpe *bpe)
{
	struct rc_bpe_state *st = rc_calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->bpe = bpe;
	st->tc = rc_textclean_new();
	st->slots = rc_calloc(CACHE_SLOTS, sizeof *st->slots);
	st->key_pool = rc_malloc(CACHE_POOL);
	st->id_pool = rc_malloc(CACHE_POOL * sizeof *st->id_pool);
	if (!st->tc || !st->slots || !st->key_pool || !st->id_pool) {
		rc_bpe_state_free(st);
		return NULL;
	}
	return st;
}

void rc_bpe_state_free(struct rc_bpe_state *st)
{
	if (!st)
		return;
	rc_textclean_free(st->tc);
	free(st->ids);
	free(st->piece);
	free(st->sym);
	free(st->prev);
	free(st->next);
	free(st->heap);
	free(st->slots);
	free(st->key_pool);
	free(st->id_pool);
	free(st);
}

size_t rc_bpe_state_invalid(const struct rc_bpe_state *st) { return rc_textclean_invalid(st->tc); }

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 256;
	while (c < need)
		c *= 2;
	void *q = rc_realloc(*p, c * elem);
	if (!q)
		return RC_E_NOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static int emit(struct rc_bpe_state *st, int32_t id)
{
	if (st->nids == st->capids &&
	    grow((void **)&st->ids, &st->capids, st->nids + 1, sizeof *st->ids) < 0)
		return RC_E_NOMEM;
	st->ids[st->nids++] = id;
	return 0;
}

/* Heap of (rank, position): the lowest rank first, the leftmost among
 * equals, which is the order open_clip merges in (all occurrences of the
 * best pair, left to right; a merge's own result only forms pairs of
 * higher rank). */
static inline int heap_less(struct heap_item a, struct heap_item b)
{
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(struct heap_item *h, size_t *n, struct heap_item it)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(it, h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = it;
}

static struct heap_item heap_pop(struct heap_item *h, size_t *n)
{
	struct heap_item top = h[0], last = h[--(*n)];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && heap_less(h[c + 1], h[c]))
			c++;
		if (!heap_less(h[c], last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

#define NONE UINT32_MAX

/* BPE of one piece of raw bytes; appends its ids. */
static int merge_word(struct rc_bpe_state *st, const unsigned char *b, size_t n)
{
	const struct rc_bpe *bpe = st->bpe;
	if (n == 1)
		return emit(st, bpe->out_id[256 + bpe->byte_sym[b[0]]]);
	if (grow((void **)&st->sym, &st->capword, n, sizeof *st->sym) < 0)
		return RC_E_NOMEM;
	size_t cap = st->capword;
	uint32_t *p = rc_realloc(st->prev, cap * sizeof *p);
	if (!p)
		return RC_E_NOMEM;
	st->prev = p;
	p = rc_realloc(st->next, cap * sizeof *p);
	if (!p)
		return RC_E_NOMEM;
	st->next = p;
	/* Each merge adds at most two heap items; n-1 to start. */
	if (grow((void **)&st->heap, &st->caphp, 3 * n, sizeof *st->heap) < 0)
		return RC_E_NOMEM;
	uint32_t *sym = st->sym, *prev = st->prev, *next = st->next;
	for (size_t i = 0; i < n; i++) {
		sym[i] = bpe->byte_sym[b[i]];
		prev[i] = i ? (uint32_t)i - 1 : NONE;
		next[i] = i + 1 < n ? (uint32_t)i + 1 : NONE;
	}
	sym[n - 1] += 256; /* the last byte ends the word */
	size_t hn = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		const struct pair_slot *ps = pair_find(bpe, sym[i], sym[i + 1]);
		if (ps)
			heap_push(st->heap, &hn, (struct heap_item){ps->rank, (uint32_t)i});
	}
	while (hn) {
		struct heap_item it = heap_pop(st->heap, &hn);
		uint32_t i = it.pos, j = next[i];
		if (sym[i] == NONE || j == NONE)
			continue;
		const struct pair_slot *ps = pair_find(bpe, sym[i], sym[j]);
		if (!ps || ps->rank != it.rank)
			continue; /* stale: a neighbour changed */
		sym[i] = ps->result;
		sym[j] = NONE;
		next[i] = next[j];
		if (next[j] != NONE)
			prev[next[j]] = i;
		if (prev[i] != NONE && (ps = pair_find(bpe, sym[prev[i]], sym[i])))
			heap_push(st->heap, &hn, (struct heap_item){ps->rank, prev[i]});
		if (next[i] != NONE && (ps = pair_find(bpe, sym[i], sym[next[i]])))
			heap_push(st->heap, &hn, (struct heap_item){ps->rank, i});
	}
	for (uint32_t i = 0; i != NONE; i = next[i])
		if (emit(st, bpe->out_id[sym[i]]) < 0)
			return RC_E_NOMEM;
	return 0;
}

static void cache_clear(struct rc_bpe_state *st)
{
	memset(st->slots, 0, CACHE_SLOTS * sizeof *st->slots);
	st->key_used = st->id_used = st->nslots_used = 0;
}

/* A piece through the cache. */
static int encode_piece(struct rc_bpe_state *st, const char *b, size_t n)
{
	if (n > CACHE_MAX_KEY)
		return merge_word(st, (const unsigned char *)b, n);
	uint64_t h = XXH3_64bits(b, n) | 1;
	size_t i = h & (CACHE_SLOTS - 1);
	for (;;) {
		struct cache_slot *s = &st->slots[i];
		if (!s->hash)
			break;
		if (s->hash == h && s->key_len == n && !memcmp(st->key_pool + s->key_off, b, n)) {
			if (grow((void **)&st->ids, &st->capids, st->nids + s->nids, sizeof *st->ids) < 0)
				return RC_E_NOMEM;
			memcpy(st->ids + st->nids, st->id_pool + s->ids_off, s->nids * sizeof *st->ids);
			st->nids += s->nids;
			return 0;
		}
		i = (i + 1) & (CACHE_SLOTS - 1);
	}
	size_t start = st->nids;
	int rc = merge_word(st, (const unsigned char *)b, n);
	if (rc < 0)
		return rc;
	size_t k = st->nids - start;
	if (st->nslots_used * 4 >= CACHE_SLOTS * 3 || st->key_used + n > CACHE_POOL ||
	    st->id_used + k > CACHE_POOL) {
		cache_clear(st);
		i = h & (CACHE_SLOTS - 1);
	}
	struct cache_slot *s = &st->slots[i];
	*s = (struct cache_slot){h, (uint32_t)st->key_used, (uint32_t)st->id_used,
		(uint16_t)n, (uint16_t)k};
	memcpy(st->key_pool + st->key_used, b, n);
	memcpy(st->id_pool + st->id_used, st->ids + start, k * sizeof *st->ids);
	st->key_used += n;
	st->id_used += k;
	st->nslots_used++;
	return 0;
}

int rc_bpe_word(struct rc_bpe_state *st, const char *piece, size_t len,
	const int32_t **ids, size_t *n)
{
	st->nids = 0;
	int rc = len ? encode_piece(st, piece, len) : 0;
	*ids = st->ids;
	*n = st->nids;
	return rc;
}

/* ---------------------------------------------------------------- split */

/* The pattern's literals match case-insensitively: an ASCII character, its
 * other case, or a code point that folds to it (U+017F long s → s). */
static inline int ci_is(uint32_t c, char want)
{
	if (c == (uint32_t)want)
		return 1;
	if (c < 0x80)
		return want >= 'a' && want <= 'z' && c == (uint32_t)(want - 32);
	const char *f = rc_tt_cpmap_find(rc_tt_fold_ascii, rc_tt_fold_ascii_n, c);
	return f && f[0] == want;
}

static size_t match_ci(const uint32_t *s, size_t n, const char *lit)
{
	size_t k = 0;
	for (; lit[k]; k++)
		if (k >= n || !ci_is(s[k], lit[k]))
			return 0;
	return k;
}

/* Length of the contraction at s ('s 't 're 've 'm 'll 'd), or 0. */
static size_t contraction(const uint32_t *s, size_t n)
{
	static const char *forms[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		size_t m = match_ci(s, n, forms[i]);
		if (m)
			return m;
	}
	return 0;
}

static int piece(struct rc_bpe_state *st, const uint32_t *s, size_t n)
{
	if (grow((void **)&st->piece, &st->cappiece, 4 * n, 1) < 0)
		return RC_E_NOMEM;
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x80)
			st->piece[len++] = (char)s[i];
		else
			len += rc_utf8_encode1(s[i], st->piece + len);
	}
	return encode_piece(st, st->piece, len);
}

int rc_bpe_encode(struct rc_bpe_state *st, const char *text, size_t len,
	const int32_t **ids, size_t *nids)
{
	static const char *specials[2] = {"<start_of_text>", "<end_of_text>"};
	const struct rc_bpe *bpe = st->bpe;
	const uint32_t *s;
	size_t n;
	st->nids = 0;
	int rc = rc_textclean_run(st->tc, text, len, &s, &n);
	if (rc < 0)
		return rc;
	size_t i = 0;
	while (i < n && rc == 0) {
		uint32_t c = s[i];
		unsigned k = cp_class(bpe, c);
		size_t m;
		if (c == '<') {
			int sp;
			for (sp = 0; sp < 2; sp++)
				if ((m = match_ci(s + i, n - i, specials[sp])))
					break;
			if (sp < 2) {
				/* The exact spelling is the special token; a
				 * folded one (with U+017F) is BPE'd whole. */
				size_t exact = 0;
				while (exact < m && s[i + exact] == (uint32_t)specials[sp][exact])
					exact++;
				rc = exact == m ? emit(st, sp ? bpe->eot : bpe->sot) : piece(st, s + i, m);
				i += m;
				continue;
			}
		}
		if (c == '\'' && (m = contraction(s + i, n - i))) {
			rc = piece(st, s + i, m);
			i += m;
			continue;
		}
		if (k & CLS_L) {
			m = 1;
			while (i + m < n && (cp_class(bpe, s[i + m]) & CLS_L))
				m++;
		} else if (k & CLS_N) {
			m = 1;
		} else if (k & CLS_O) {
			m = 1;
			while (i + m < n && (cp_class(bpe, s[i + m]) & CLS_O))
				m++;
		} else { /* whitespace, or in no class: no piece */
			i++;
			continue;
		}
		rc = piece(st, s + i, m);
		i += m;
	}
	*ids = st->ids;
	*nids = st->nids;
	return rc;
}

/* ---------------------------------------------------------------- rows */

size_t rc_bpe_pack(const struct rc_bpe *bpe, const int32_t *ids, size_t n,
	int32_t *row, size_t ctx, int32_t pad, int *truncated)
{
	size_t keep = n, k = 0;
	int trunc = 0;
	if (ctx < 2)
		ctx = 2;
	if (keep > ctx - 2) {
		keep = ctx - 2;
		trunc = 1;
	}
	row[k++] = bpe->sot;
	memcpy(row + k, ids, keep * sizeof *row);
	k += keep;
	row[k++] = bpe->eot;
	for (size_t i = k; i < ctx; i++)
		row[i] = pad;
	if (truncated)
		*truncated = trunc;
	return k;
}

int rc_bpe_decode(const struct rc_bpe *bpe, const int32_t *ids, size_t n,
	char **out, size_t *bad_index)
{
	*out = NULL;
	size_t cap = 64, len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t tl;
		int eow;
		if (!rc_bpe_token_bytes(bpe, ids[i], &tl, &eow)) {
			if (bad_index)
				*bad_index = i;
			return RC_E_RANGE;
		}
		cap += tl + 4;
	}
	char *raw = rc_malloc(cap);
	if (!raw)
		return RC_E_NOMEM;
	size_t start = 0;
	if (n && ids[0] == bpe->sot)
		start = 1;
	for (size_t i = start; i < n; i++) {
		if (ids[i] == bpe->eot)
			break; /* the end token and the padding after it */
		if (ids[i] == bpe->sot)
			continue;
		size_t tl;
		int eow;
		const char *t = rc_bpe_token_bytes(bpe, ids[i], &tl, &eow);
		memcpy(raw + len, t, tl);
		len += tl;
		if (eow) {
			memcpy(raw + len, "</w>", 4);
			len += 4;
		}
	}
	/* Decode with replacement, then "</w>" → " " (after decoding, as
	 * open_clip does, so a literal "</w>" in the bytes goes too). */
	char *txt = rc_malloc(3 * len + 1);
	if (!txt) {
		free(raw);
		return RC_E_NOMEM;
	}
	size_t i = 0, k = 0;
	while (i < len) {
		if (len - i >= 4 && !memcmp(raw + i, "</w>", 4)) {
			txt[k++] = ' ';
			i += 4;
			continue;
		}
		if ((unsigned char)raw[i] < 0x80) {
			txt[k++] = raw[i++];
			continue;
		}
		k += rc_utf8_encode1(rc_utf8_next(raw, len, &i), txt + k);
	}
	while (k > 0 && txt[k - 1] == ' ')
		k--;
	txt[k] = 0;
	free(raw);
	*out = txt;
	return 0;
}
