/* bpe_vocab.c - the CLIP BPE vocabulary: byte symbols in CLIP's order,
 * the merges file (gzip'd or plain, OpenAI's or Hugging Face's), ids by
 * CLIP's construction or from a vocab.json, and the class table of the
 * pre-tokenizer. See bpe.h. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "text/bpe_impl.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/utf8.h"

#define MERGES_NAME "bpe_simple_vocab_16e6.txt.gz"

/* ---------------------------------------------------------------- tables */
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
/* Returns 0, or 1 when the pair was already there: the later rank
 * replaces it, as in open_clip's dict of ranks. */
static int pair_insert(struct rc_bpe *bpe, uint32_t a, uint32_t b, uint32_t rank, uint32_t result)
{
	uint64_t key = rc_bpe_pair_key(a, b);
	size_t i = rc_bpe_mix64(key) & bpe->pair_mask;
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

void rc_bpe_set_semantics(struct rc_bpe *bpe, int sem) { bpe->semantics = sem; }
int rc_bpe_semantics(const struct rc_bpe *bpe) { return bpe->semantics; }

const char *rc_bpe_semantics_name(int sem)
{
	return sem == RC_BPE_OPEN_CLIP ? "open_clip" : sem == RC_BPE_HF ? "hf" : NULL;
}

int rc_bpe_semantics_parse(const char *s)
{
	if (!strcmp(s, "open_clip") || !strcmp(s, "open-clip") || !strcmp(s, "openclip"))
		return RC_BPE_OPEN_CLIP;
	if (!strcmp(s, "hf") || !strcmp(s, "huggingface"))
		return RC_BPE_HF;
	return RC_E_ARG;
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

/* is_file - dir/name is a regular file; its path in buf. */
static int is_file(const char *dir, const char *name, char *buf, size_t n)
{
	struct stat sb;
	return snprintf(buf, n, "%s/%s", dir, name) < (int)n && stat(buf, &sb) == 0 &&
		S_ISREG(sb.st_mode);
}

int rc_bpe_load_model(struct rc_bpe **out, const char *path)
{
	char merges[4352], vocab[4352], config[4352];
	int rc;
	if (is_file(path, "merges.txt", merges, sizeof merges) &&
	    is_file(path, "vocab.json", vocab, sizeof vocab)) {
		rc_log_info("tokenizer: %s and %s", merges, vocab);
		rc = rc_bpe_load(out, merges, vocab);
	} else {
		rc = rc_bpe_load(out, NULL, NULL);
	}
	/* a Hugging Face model directory (config.json) is tokenized as
	 * transformers does it; an open_clip one or a file as open_clip */
	if (rc == 0 && is_file(path, "config.json", config, sizeof config))
		rc_bpe_set_semantics(*out, RC_BPE_HF);
	if (rc == 0)
		rc_log_info("tokenizer semantics: %s", rc_bpe_semantics_name(rc_bpe_semantics(*out)));
	return rc;
}
