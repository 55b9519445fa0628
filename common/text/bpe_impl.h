/* bpe_impl.h - the inside of struct rc_bpe, shared by bpe_vocab.c (which
 * builds it) and bpe.c (which encodes with it). Not a public header. */
#ifndef RCLIP_BPE_IMPL_H
#define RCLIP_BPE_IMPL_H

#include <stdint.h>

#include "text/bpe.h"
#include "text/texttab.h"

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
	int semantics;          /* enum rc_bpe_semantics */
	uint8_t byte_sym[256];  /* byte → its symbol (index in CLIP's order) */
	uint16_t unicode_of_byte[256];
	uint8_t cls[0x10000];   /* CLS_* of the BMP */
};

enum { CLS_L = 1, CLS_N = 2, CLS_O = 4 }; /* letter, number, other */

static inline uint64_t rc_bpe_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t rc_bpe_pair_key(uint32_t a, uint32_t b)
{
	return ((uint64_t)(a + 1) << 32) | (b + 1);
}

static inline const struct pair_slot *rc_bpe_pair_find(const struct rc_bpe *bpe, uint32_t a, uint32_t b)
{
	uint64_t key = rc_bpe_pair_key(a, b);
	size_t i = rc_bpe_mix64(key) & bpe->pair_mask;
	for (;;) {
		const struct pair_slot *p = &bpe->pairs[i];
		if (p->key == key)
			return p;
		if (!p->key)
			return NULL;
		i = (i + 1) & bpe->pair_mask;
	}
}

static inline unsigned rc_bpe_class(const struct rc_bpe *bpe, uint32_t c)
{
	if (c < 0x10000)
		return bpe->cls[c];
	unsigned k = 0;
	if (rc_tt_in(rc_tt_letter, rc_tt_letter_n, c)) k |= CLS_L;
	if (rc_tt_in(rc_tt_number, rc_tt_number_n, c)) k |= CLS_N;
	if (rc_tt_in(rc_tt_other, rc_tt_other_n, c)) k |= CLS_O;
	return k;
}

#endif
