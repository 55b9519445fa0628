/* rng.h - the small seeded generator behind rclip's reproducible choices
 * (shuffling, bootstrap resamples, random initialisation): splitmix64
 * (Steele, Lea and Flood 2014), one 64-bit state, the same numbers on every
 * machine. Not for anything that must be unpredictable.
 *
 *     uint64_t s = seed;
 *     uint64_t x = rc_rng_next(&s);          // 64 random bits
 *     size_t i = rc_rng_below(&s, n);        // uniform in [0, n), n >= 1
 *     double u = rc_rng_unit(&s);            // uniform in [0, 1), 53 bits
 */
#ifndef RCLIP_RNG_H
#define RCLIP_RNG_H

#include <stdint.h>

static inline uint64_t rc_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* rc_rng_below - the high half of a 64×64-bit product (Lemire): a bias of
 * at most n/2^64, far below anything measurable. */
static inline uint64_t rc_rng_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rc_rng_next(s) * n) >> 64);
}

static inline double rc_rng_unit(uint64_t *s)
{
	return (double)(rc_rng_next(s) >> 11) * 0x1.0p-53;
}

#endif
