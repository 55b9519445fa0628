/* hash.c - thin wrappers of hash.h over libxxhash's XXH3, and the
 * canonical (big-endian) hex form of its hashes.
 */
#include "base/hash.h"

#include "base/error.h"
#include "base/log.h"

#include <xxhash.h>

uint64_t rc_hash64(const void *buf, size_t n)
{
	return XXH3_64bits(buf, n);
}

uint64_t rc_hash64_seed(const void *buf, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(buf, n, seed);
}

static struct rc_hash128 from_xxh(XXH128_hash_t h)
{
	struct rc_hash128 r = { .lo = h.low64, .hi = h.high64 };
	return r;
}

struct rc_hash128 rc_hash128(const void *buf, size_t n)
{
	return from_xxh(XXH3_128bits(buf, n));
}

struct rc_hash128 rc_hash128_seed(const void *buf, size_t n, uint64_t seed)
{
	return from_xxh(XXH3_128bits_withSeed(buf, n, seed));
}

int rc_hash_init(struct rc_hash_state *st, uint64_t seed)
{
	XXH3_state_t *x = XXH3_createState();
	st->xxh = x;
	if (!x)
		return rc_log_error(RC_E_NOMEM, "out of memory (hash state)");
	/* The 64- and 128-bit variants share the state and the update; the
	 * 128-bit reset is the same as the 64-bit one (xxHash >= 0.8.0), and
	 * test_hash checks that both digests match the one-shot hashes. */
	if (XXH3_128bits_reset_withSeed(x, seed) != XXH_OK) {
		rc_hash_free(st);
		return rc_log_error(RC_E_ARG, "hash: reset failed");
	}
	return 0;
}

int rc_hash_update(struct rc_hash_state *st, const void *buf, size_t n)
{
	if (!st->xxh || XXH3_128bits_update(st->xxh, buf, n) != XXH_OK)
		return RC_E_ARG;
	return 0;
}

uint64_t rc_hash_digest64(const struct rc_hash_state *st)
{
	rc_assert(st->xxh);
	return XXH3_64bits_digest(st->xxh);
}

struct rc_hash128 rc_hash_digest128(const struct rc_hash_state *st)
{
	rc_assert(st->xxh);
	return from_xxh(XXH3_128bits_digest(st->xxh));
}

void rc_hash_free(struct rc_hash_state *st)
{
	XXH3_freeState(st->xxh);
	st->xxh = NULL;
}

static void put_hex64(uint64_t h, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--) {
		out[i] = digits[h & 0xf];
		h >>= 4;
	}
}

char *rc_hash64_hex(uint64_t h, char out[RC_HASH64_HEX_SIZE])
{
	put_hex64(h, out);
	out[16] = '\0';
	return out;
}

char *rc_hash128_hex(struct rc_hash128 h, char out[RC_HASH128_HEX_SIZE])
{
	put_hex64(h.hi, out);
	put_hex64(h.lo, out + 16);
	out[32] = '\0';
	return out;
}

int rc_hash64_parse(const char *hex, uint64_t *h)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = hex[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return RC_E_FORMAT;
		v = v << 4 | d;
	}
	if (hex[16] != '\0')
		return RC_E_FORMAT;
	*h = v;
	return 0;
}
