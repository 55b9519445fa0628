/* perm.c - the seeded Feistel permutation (perm.h). */
#include "train/perm.h"

#include "base/log.h"
#include "base/rng.h"

void rc_perm_init(struct rc_perm *p, uint64_t n, uint64_t seed)
{
	int bits = 2;
	while (bits < 62 && (n - 1) >> bits)
		bits++;
	bits += bits & 1;
	p->n = n, p->half = bits / 2, p->mask = ((uint64_t)1 << p->half) - 1;
	uint64_t s = seed ^ 0x5851f42d4c957f2dull;
	for (int k = 0; k < RC_PERM_ROUNDS; k++)
		p->key[k] = rc_rng_next(&s);
}

/* round_f - the round function: the splitmix64 finaliser of r under key. */
static uint64_t round_f(uint64_t r, uint64_t key)
{
	uint64_t z = r + key;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t encrypt(const struct rc_perm *p, uint64_t x)
{
	uint64_t l = x >> p->half, r = x & p->mask;
	for (int k = 0; k < RC_PERM_ROUNDS; k++) {
		const uint64_t t = l ^ (round_f(r, p->key[k]) & p->mask);
		l = r, r = t;
	}
	return l << p->half | r;
}

uint64_t rc_perm_at(const struct rc_perm *p, uint64_t i)
{
	rc_assert(i < p->n);
	uint64_t x = encrypt(p, i);
	while (x >= p->n)        /* cycle walking: the cycle through i returns to [0, n) */
		x = encrypt(p, x);
	return x;
}
