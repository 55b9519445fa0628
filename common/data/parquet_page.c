/* parquet_page.c - the byte-level work of reading Parquet pages: the
 * codecs (snappy, gzip and zstd through Debian's libsnappy, zlib and
 * libzstd; a page must come out at exactly the size its header says) and
 * the RLE / bit-packed hybrid that holds levels, dictionary indices and
 * RLE booleans (Encodings.md).
 */
#include "data/parquet_impl.h"

#include <snappy-c.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/error.h"

const char *pq_codec_name(int codec)
{
	static const char *const names[] = {
		"uncompressed", "snappy", "gzip", "lzo", "brotli", "lz4", "zstd", "lz4_raw",
	};
	return codec >= 0 && codec < 8 ? names[codec] : "unknown";
}

const char *pq_encoding_name(int enc)
{
	static const char *const names[] = {
		"plain", "group_var_int", "plain_dictionary", "rle", "bit_packed",
		"delta_binary_packed", "delta_length_byte_array", "delta_byte_array",
		"rle_dictionary", "byte_stream_split",
	};
	return enc >= 0 && enc < 10 ? names[enc] : "unknown";
}

static int gunzip(const uint8_t *src, size_t slen, uint8_t *dst, size_t dlen, char *why,
	size_t nwhy)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		snprintf(why, nwhy, "gzip: cannot start zlib");
		return RC_E_NOMEM;
	}
	size_t in = 0, out = 0;
	int rc = Z_OK;
	/* zlib counts in uInt: feed and drain in pieces. */
	while (rc != Z_STREAM_END) {
		size_t ci = slen - in, co = dlen - out;
		z.next_in = (Bytef *)(src + in);
		z.avail_in = (uInt)(ci > (1u << 30) ? (1u << 30) : ci);
		z.next_out = dst + out;
		z.avail_out = (uInt)(co > (1u << 30) ? (1u << 30) : co);
		uInt ai = z.avail_in, ao = z.avail_out;
		rc = inflate(&z, Z_NO_FLUSH);
		in += ai - z.avail_in;
		out += ao - z.avail_out;
		if (rc == Z_STREAM_END)
			break;
		if (rc != Z_OK || (ai == z.avail_in && ao == z.avail_out)) {
			inflateEnd(&z);
			if (out == dlen && rc == Z_OK)
				snprintf(why, nwhy, "gzip data longer than the page size %zu", dlen);
			else
				snprintf(why, nwhy, "gzip: %s", rc == Z_OK || rc == Z_BUF_ERROR ?
					"data ends early" : z.msg ? z.msg : "corrupt data");
			return RC_E_FORMAT;
		}
	}
	inflateEnd(&z);
	if (out != dlen) {
		snprintf(why, nwhy, "gzip data is %zu bytes, the page header says %zu", out, dlen);
		return RC_E_FORMAT;
	}
	return 0;
}

int pq_decompress(int codec, const uint8_t *src, size_t slen, uint8_t *dst, size_t dlen,
	char *why, size_t nwhy)
{
	switch (codec) {
	case PQ_CODEC_NONE:
		if (slen != dlen) {
			snprintf(why, nwhy, "uncompressed page of %zu bytes, the header says %zu",
				slen, dlen);
			return RC_E_FORMAT;
		}
		if (dlen)
			memcpy(dst, src, dlen);
		return 0;
	case PQ_CODEC_SNAPPY: {
		size_t n = 0;
		if (snappy_uncompressed_length((const char *)src, slen, &n) != SNAPPY_OK ||
		    n != dlen) {
			snprintf(why, nwhy, "snappy: corrupt length (the header says %zu)", dlen);
			return RC_E_FORMAT;
		}
		n = dlen;
		if (snappy_uncompress((const char *)src, slen, (char *)dst, &n) != SNAPPY_OK ||
		    n != dlen) {
			snprintf(why, nwhy, "snappy: corrupt data");
			return RC_E_FORMAT;
		}
		return 0;
	}
	case PQ_CODEC_GZIP:
		return gunzip(src, slen, dst, dlen, why, nwhy);
	case PQ_CODEC_ZSTD: {
		size_t n = ZSTD_decompress(dst, dlen, src, slen);
		if (ZSTD_isError(n)) {
			snprintf(why, nwhy, "zstd: %s", ZSTD_getErrorName(n));
			return RC_E_FORMAT;
		}
		if (n != dlen) {
			snprintf(why, nwhy, "zstd data is %zu bytes, the page header says %zu", n,
				dlen);
			return RC_E_FORMAT;
		}
		return 0;
	}
	}
	snprintf(why, nwhy, "%s compression is not supported (snappy, gzip, zstd or none)",
		pq_codec_name(codec));
	return RC_E_UNSUPPORTED;
}

int pq_bit_width(uint32_t max)
{
	int w = 0;
	while (max) {
		w++;
		max >>= 1;
	}
	return w;
}

int pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n, char *why,
	size_t nwhy)
{
	const uint8_t *end = p + len;
	size_t k = 0;
	if (bw < 0 || bw > 32) {
		snprintf(why, nwhy, "bit width %d", bw);
		return RC_E_FORMAT;
	}
	while (k < n) {
		uint64_t h = 0;
		int shift = 0;
		for (;;) {
			if (p >= end || shift > 35) {
				snprintf(why, nwhy, "rle data ends after %zu of %zu values", k, n);
				return RC_E_FORMAT;
			}
			uint8_t b = *p++;
			h |= (uint64_t)(b & 0x7f) << shift;
			shift += 7;
			if (!(b & 0x80))
				break;
		}
		if (h & 1) { /* bit-packed: groups of 8 values, LSB first */
			uint64_t groups = h >> 1;
			uint64_t bytes = groups * (uint64_t)bw;
			if (bytes > (uint64_t)(end - p)) {
				snprintf(why, nwhy, "bit-packed run of %llu bytes runs past the data",
					(unsigned long long)bytes);
				return RC_E_FORMAT;
			}
			uint64_t count = groups * 8, bit = 0;
			for (uint64_t i = 0; i < count && k < n; i++) {
				uint64_t v = 0;
				for (int b = 0; b < bw; b++, bit++)
					v |= (uint64_t)((p[bit >> 3] >> (bit & 7)) & 1) << b;
				out[k++] = (uint32_t)v;
			}
			p += bytes;
		} else { /* a run: the value in ceil(bw/8) bytes */
			uint64_t run = h >> 1;
			int nb = (bw + 7) / 8;
			if (nb > end - p) {
				snprintf(why, nwhy, "rle run value runs past the data");
				return RC_E_FORMAT;
			}
			uint32_t v = 0;
			for (int b = 0; b < nb; b++)
				v |= (uint32_t)p[b] << (8 * b);
			p += nb;
			if (run == 0) {
				snprintf(why, nwhy, "rle run of length 0");
				return RC_E_FORMAT;
			}
			for (uint64_t i = 0; i < run && k < n; i++)
				out[k++] = v;
		}
	}
	return 0;
}
