/* perm.h - a seeded permutation of [0, n) that is computed, not stored:
 * item i of a shuffled epoch is rc_perm_at(p, i), in constant memory
 * whatever n, so that the loader can draw the batches of an epoch through
 * a random permutation of all its items (as a PyTorch RandomSampler
 * does), seek anywhere in it at once (resume) and set aside a seeded
 * subset (the held-out images) without holding an array of n indices.
 *
 * The permutation is a balanced Feistel network of 6 rounds on the
 * smallest even number of bits that covers n, each round's function a
 * keyed splitmix64 finaliser, restricted to [0, n) by cycle walking
 * (values at or above n are encrypted again; fewer than 4 times on
 * average). Any seed gives a bijection; its statistics are those of a
 * random permutation for shuffling purposes (it is not cryptographic).
 *
 *     struct rc_perm p;
 *     rc_perm_init(&p, n, seed);
 *     for (uint64_t i = 0; i < n; i++)
 *             visit(rc_perm_at(&p, i));     // every value of [0, n) once
 */
#ifndef RCLIP_PERM_H
#define RCLIP_PERM_H

#include <stdint.h>

#define RC_PERM_ROUNDS 6

struct rc_perm {
	uint64_t n;
	int half;                       /* bits per half */
	uint64_t mask;                  /* (1 << half) - 1 */
	uint64_t key[RC_PERM_ROUNDS];
};

/* rc_perm_init - the permutation of [0, n) for seed (n up to 2^62). */
void rc_perm_init(struct rc_perm *p, uint64_t n, uint64_t seed);

/* rc_perm_at - the image of i (i < n; the caller's contract). */
uint64_t rc_perm_at(const struct rc_perm *p, uint64_t i);

#endif
