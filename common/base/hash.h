/* hash.h - xxh3 hashes (libxxhash) for checksums of records, headers and
 * files: one-shot 64- and 128-bit hashes, a streaming state, and the hex
 * form that `xxhsum -H3` / `xxh128sum` print.
 *
 *     uint64_t h = rc_hash64(rec, len);              // record checksum
 *
 *     struct rc_hash_state st;
 *     if ((rc = rc_hash_init(&st, 0)) < 0)
 *             return rc;
 *     while (more)
 *             rc_hash_update(&st, buf, n);
 *     char hex[RC_HASH128_HEX_SIZE];
 *     puts(rc_hash128_hex(rc_hash_digest128(&st), hex));
 *     rc_hash_free(&st);
 *
 * Hashes are values, not bytes: store them little-endian like every other
 * integer in rclip's files. The hex form is the canonical one (most
 * significant byte first), so it matches the xxhsum tools.
 */
#ifndef RCLIP_HASH_H
#define RCLIP_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A 128-bit hash: hi is the more significant half. */
struct rc_hash128 {
	uint64_t lo;
	uint64_t hi;
};

/* Buffer sizes for the hex forms, the terminating NUL included. */
#define RC_HASH64_HEX_SIZE 17
#define RC_HASH128_HEX_SIZE 33

/* rc_hash64 - XXH3_64bits of n bytes at buf (buf may be NULL when n is 0). */
uint64_t rc_hash64(const void *buf, size_t n);

/* rc_hash64_seed - XXH3_64bits_withSeed; seed 0 equals rc_hash64. */
uint64_t rc_hash64_seed(const void *buf, size_t n, uint64_t seed);

/* rc_hash128 - XXH3_128bits (XXH128) of n bytes. */
struct rc_hash128 rc_hash128(const void *buf, size_t n);

/* rc_hash128_seed - XXH3_128bits_withSeed; seed 0 equals rc_hash128. */
struct rc_hash128 rc_hash128_seed(const void *buf, size_t n, uint64_t seed);

/* A streaming hash over data that arrives in pieces. The state is
 * allocated by rc_hash_init and released by rc_hash_free. */
struct rc_hash_state {
	void *xxh; /* XXH3_state_t, private */
};

/* rc_hash_init - start a streaming hash with a seed (0 = unseeded). Both
 * digests below can be taken from the same state. Returns 0 or RC_E_NOMEM
 * (logged). */
int rc_hash_init(struct rc_hash_state *st, uint64_t seed);

/* rc_hash_update - add n bytes. Returns 0, or RC_E_ARG for a state that
 * was not initialised. */
int rc_hash_update(struct rc_hash_state *st, const void *buf, size_t n);

/* rc_hash_digest64 / rc_hash_digest128 - the hash of everything added so
 * far; the state may be updated further. Equal to rc_hash64_seed /
 * rc_hash128_seed over the concatenated input. The state must have been
 * initialised (an assertion). */
uint64_t rc_hash_digest64(const struct rc_hash_state *st);
struct rc_hash128 rc_hash_digest128(const struct rc_hash_state *st);

/* rc_hash_free - release the state; safe to call twice or after a failed
 * init. */
void rc_hash_free(struct rc_hash_state *st);

/* rc_hash64_hex - h as 16 lowercase hex digits (as `xxhsum -H3` prints
 * it) into out (RC_HASH64_HEX_SIZE bytes). Returns out. */
char *rc_hash64_hex(uint64_t h, char out[RC_HASH64_HEX_SIZE]);

/* rc_hash128_hex - h as 32 lowercase hex digits, hi then lo (as
 * `xxh128sum` prints it) into out (RC_HASH128_HEX_SIZE bytes). Returns
 * out. */
char *rc_hash128_hex(struct rc_hash128 h, char out[RC_HASH128_HEX_SIZE]);

/* rc_hash64_parse - read exactly 16 hex digits (either case, nothing
 * before or after). Returns 0 with *h set, or RC_E_FORMAT (not logged: the
 * caller knows where the text came from). */
int rc_hash64_parse(const char *hex, uint64_t *h);

#endif
