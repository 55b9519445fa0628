/* image.c - JPEG/PNG/WebP decoding to the pixels of Pillow's
 * convert("RGB"), and JPEG encoding as Pillow's save (image.h). Decoders:
 * TurboJPEG, libspng, libwebp; GIF, BMP and TIFF are in image_more.c, the
 * resampler in image_resize.c. */
#include "data/image.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spng.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/image_impl.h"

/* ---------------------------------------------------------------- formats */

int rc_image_detect(const void *data, size_t len)
{
	const uint8_t *p = data;
	if (!p)
		return RC_IMAGE_UNKNOWN;
	if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
		return RC_IMAGE_JPEG;
	if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return RC_IMAGE_PNG;
	if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return RC_IMAGE_WEBP;
	if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return RC_IMAGE_GIF;
	if (len >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4)))
		return RC_IMAGE_TIFF;
	/* "BM" and a DIB header size BMP has (Pillow's test) */
	if (len >= 18 && p[0] == 'B' && p[1] == 'M' &&
	    (p[14] == 12 || p[14] == 40 || p[14] == 52 || p[14] == 56 || p[14] == 64 ||
	     p[14] == 108 || p[14] == 124) && !p[15] && !p[16] && !p[17])
		return RC_IMAGE_BMP;
	return RC_IMAGE_UNKNOWN;
}

const char *rc_image_format_name(int format)
{
	switch (format) {
	case RC_IMAGE_JPEG: return "JPEG";
	case RC_IMAGE_PNG:  return "PNG";
	case RC_IMAGE_WEBP: return "WebP";
	case RC_IMAGE_GIF:  return "GIF";
	case RC_IMAGE_BMP:  return "BMP";
	case RC_IMAGE_TIFF: return "TIFF";
	}
	return "unknown";
}

/* other_format - the name of a format we recognise but do not decode. */
static const char *other_format(const uint8_t *p, size_t len)
{
	static const struct {
		size_t off, n;
		const char *magic, *name;
	} tab[] = {
		{0, 4, "GIF8", "GIF"},
		{0, 2, "BM", "BMP"},
		{4, 8, "ftypavif", "AVIF"},
		{4, 8, "ftypheic", "HEIC"},
		{4, 8, "ftypheix", "HEIC"},
		{4, 8, "ftypmif1", "HEIF"},
		{0, 12, "\0\0\0\x0cjP  \r\n\x87\n", "JPEG 2000"},
		{0, 4, "\xff\x4f\xff\x51", "JPEG 2000"},
		{0, 2, "\xff\x0a", "JPEG XL"},
		{0, 12, "\0\0\0\x0cJXL \r\n\x87\n", "JPEG XL"},
		{0, 4, "\0\0\1\0", "ICO"},
		{0, 4, "8BPS", "PSD"},
		{0, 4, "qoif", "QOI"},
		{0, 4, "%PDF", "PDF"},
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (len >= tab[i].off + tab[i].n &&
			!memcmp(p + tab[i].off, tab[i].magic, tab[i].n))
			return tab[i].name;
	if (len >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7')
		return "PNM";
	return NULL;
}

/* ---------------------------------------------------------------- JPEG */

/* Pillow reads every 4-component JPEG as Adobe-inverted CMYK ("CMYK;I")
 * and converts with cmyk2rgb: with c, k the inverted samples, nk = 255 - k,
 * out = nk - muldiv255(c, nk), muldiv255(a, b) = (t + (t >> 8)) >> 8,
 * t = a * b + 128. libjpeg hands over the stored (non-inverted) samples.
 * In place: pixel i reads bytes 4i..4i+3 before writing 3i..3i+2. */
static void cmyk_to_rgb(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *s = buf + 4 * i;
		int nk = s[3];  /* 255 - (255 - stored k) */
		int c[3] = {255 - s[0], 255 - s[1], 255 - s[2]};
		uint8_t *d = buf + 3 * i;
		for (int j = 0; j < 3; j++) {
			int t = c[j] * nk + 128;
			int v = nk - (((t >> 8) + t) >> 8);
			d[j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

/* Grayscale samples at the start of buf become RGB, in place, backwards. */
static void gray_to_rgb(uint8_t *buf, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		uint8_t v = buf[i];
		buf[3 * i] = buf[3 * i + 1] = buf[3 * i + 2] = v;
	}
}

/* jpeg_warning - what TurboJPEG's last message was: 1 a libjpeg warning
 * about corrupt data, which libjpeg (and Pillow, which ignores warnings)
 * decodes through; 2 the end of the data inside the image (libjpeg warns
 * and fills in gray, Pillow refuses the file); 0 an error. Only the text
 * tells: TurboJPEG 2.x's tjGetErrorCode() says "warning" for a fatal
 * error that came after a warning, and a fatal error is always the last
 * message. The texts are libjpeg's JWRN_* messages. */
static int jpeg_warning(const char *msg)
{
	static const char *const warn[] = {"Corrupt JPEG data", "Inconsistent progression",
		"Unknown Adobe color transform", "Warning: unknown JFIF",
		"Invalid SOS parameters for sequential JPEG"};
	if (!strncmp(msg, "Premature end of JPEG file", 26))
		return 2;
	for (size_t i = 0; i < sizeof warn / sizeof warn[0]; i++)
		if (!strncmp(msg, warn[i], strlen(warn[i])))
			return 1;
	return 0;
}

static int decode_jpeg(const uint8_t *p, size_t len, uint64_t maxpx,
	struct rc_image *out, char *why, size_t whylen)
{
	tjhandle tj = tjInitDecompress();
	if (!tj)
		return rc_image_fail(rc_log_error(RC_E_NOMEM, "out of memory (TurboJPEG)"), why,
			whylen, "out of memory");
	int w = 0, h = 0, subsamp = 0, cs = 0, rc = 0;
	uint8_t *buf = NULL;
	if (tjDecompressHeader3(tj, p, (unsigned long)len, &w, &h, &subsamp, &cs) < 0 &&
		jpeg_warning(tjGetErrorStr2(tj)) != 1) {
		/* (a warning here, junk between markers, is met again below) */
		const char *msg = tjGetErrorStr2(tj);
		if (strstr(msg, "subsampling"))
			rc = rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "JPEG: %s", msg);
		else if (strstr(msg, "Premature end"))
			rc = rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated JPEG data");
		else
			rc = rc_image_fail(RC_E_FORMAT, why, whylen, "corrupt JPEG data: %s", msg);
		goto done;
	}
	if (w <= 0 || h <= 0) {
		/* TurboJPEG "succeeds" without a frame header when the data
		 * ends inside the header (libjpeg inserts an EOI) */
		rc = rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated JPEG data (no frame header)");
		goto done;
	}
	if ((rc = rc_image_check_size((uint64_t)w, (uint64_t)h, maxpx, "JPEG", why, whylen)) < 0)
		goto done;

	int pf = TJPF_RGB;
	const char *mode = "RGB";
	size_t npx = (size_t)w * (size_t)h, bytes = npx * 3;
	if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
		pf = TJPF_CMYK;
		mode = "CMYK";
		bytes = npx * 4;
	} else if (cs == TJCS_GRAY) {
		pf = TJPF_GRAY;
		mode = "L";
	}
	if (!(buf = rc_malloc(bytes))) {
		rc = rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
		goto done;
	}
	/* Pillow's settings: the accurate integer IDCT and fancy upsampling
	 * (TurboJPEG's defaults when decompressing). LIMITSCANS refuses
	 * progressive files with hundreds of scans (a CPU bomb). */
	if (tjDecompress2(tj, p, (unsigned long)len, buf, w, 0, h, pf,
			TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS) < 0) {
		const char *msg = tjGetErrorStr2(tj);
		int kind = jpeg_warning(msg);
		if (kind == 2) {
			/* libjpeg fills the rest with gray; Pillow refuses it */
			rc = rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated JPEG data");
			goto done;
		}
		if (kind == 0) {
			rc = rc_image_fail(RC_E_FORMAT, why, whylen, "corrupt JPEG data: %s", msg);
			goto done;
		}
		/* other warnings (extraneous bytes, a bad Huffman code):
		 * decoded anyway, as Pillow accepts them */
		out->warnings = 1;
		rc_log_debug("JPEG decoded with a warning: %s", msg);
	}
	if (pf == TJPF_CMYK) {
		cmyk_to_rgb(buf, npx);
		uint8_t *shrunk = realloc(buf, npx * 3);
		if (shrunk)
			buf = shrunk;
	} else if (pf == TJPF_GRAY) {
		gray_to_rgb(buf, npx);
	}
	out->rgb = buf;
	buf = NULL;
	out->w = w;
	out->h = h;
	out->format = RC_IMAGE_JPEG;
	snprintf(out->mode, sizeof out->mode, "%s", mode);
done:
	free(buf);
	tjDestroy(tj);
	return rc;
}

/* ---------------------------------------------------------------- PNG */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int png_error(int e, char *why, size_t whylen)
{
	switch (e) {
	case SPNG_IO_EOF:
	case SPNG_EOF:
	case SPNG_EIDAT_TOO_SHORT:
		return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated PNG data");
	case SPNG_EMEM:
		return rc_image_fail(rc_log_error(RC_E_NOMEM, "out of memory (libspng)"), why,
			whylen, "out of memory");
	}
	return rc_image_fail(RC_E_FORMAT, why, whylen, "corrupt PNG data: %s", spng_strerror(e));
}

/* The samples of pixel x of a row in SPNG_FMT_PNG layout (16-bit samples
 * host-endian, depths under 8 packed high bits first). */
static unsigned sub_byte(const uint8_t *row, uint32_t x, int depth)
{
	unsigned per = 8u / (unsigned)depth, shift = 8u - (unsigned)depth * (x % per + 1);
	return (row[x / per] >> shift) & ((1u << depth) - 1);
}

/* convert_png - native PNG samples (rows of rowbytes at buf) to RGB in
 * the same buffer, as Pillow's PNG modes convert("RGB"):
 *   gray 1/2/4/8 bit: "1" (0/255), "L" with 2-bit ×85, 4-bit ×17;
 *   gray 16 bit: "I;16", values above 255 clip to 255;
 *   RGB/RGBA/gray+alpha 16 bit: the high byte ("RGB;16B" etc.);
 *   palette: the PLTE entry, black past its end; alpha and tRNS dropped.
 * Pixels that grow (1 byte and 2 bytes a pixel) are written backwards,
 * those that shrink forwards, so no sample is overwritten before it is
 * read. */
static void convert_png(uint8_t *buf, size_t rowbytes, uint32_t w, uint32_t h,
	int ct, int depth, const struct spng_plte *plte)
{
	int bpp = 0; /* bytes a pixel at depth >= 8 */
	switch (ct) {
	case SPNG_COLOR_TYPE_GRAYSCALE: bpp = 1; break;
	case SPNG_COLOR_TYPE_TRUECOLOR: bpp = 3; break;
	case SPNG_COLOR_TYPE_INDEXED: bpp = 1; break;
	case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: bpp = 2; break;
	case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: bpp = 4; break;
	}
	if (depth == 16)
		bpp *= 2;
	int grows = depth < 8 || bpp < 3;
	for (uint32_t yi = 0; yi < h; yi++) {
		uint32_t y = grows ? h - 1 - yi : yi;
		const uint8_t *row = buf + (size_t)y * rowbytes;
		for (uint32_t xi = 0; xi < w; xi++) {
			uint32_t x = grows ? w - 1 - xi : xi;
			uint8_t px[3];
			if (depth < 8) {
				unsigned v = sub_byte(row, x, depth);
				if (ct == SPNG_COLOR_TYPE_INDEXED) {
					if (v < plte->n_entries) {
						px[0] = plte->entries[v].red;
						px[1] = plte->entries[v].green;
						px[2] = plte->entries[v].blue;
					} else {
						px[0] = px[1] = px[2] = 0;
					}
				} else {
					v = depth == 1 ? v * 255 : depth == 2 ? v * 85 : v * 17;
					px[0] = px[1] = px[2] = (uint8_t)v;
				}
			} else {
				const uint8_t *s = row + (size_t)x * (size_t)bpp;
				if (depth == 8) {
					switch (ct) {
					case SPNG_COLOR_TYPE_GRAYSCALE:
					case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
						px[0] = px[1] = px[2] = s[0];
						break;
					case SPNG_COLOR_TYPE_INDEXED:
						if (s[0] < plte->n_entries) {
							px[0] = plte->entries[s[0]].red;
							px[1] = plte->entries[s[0]].green;
							px[2] = plte->entries[s[0]].blue;
						} else {
							px[0] = px[1] = px[2] = 0;
						}
						break;
					default:
						px[0] = s[0];
						px[1] = s[1];
						px[2] = s[2];
					}
				} else {
					uint16_t v[3];
					memcpy(v, s, ct == SPNG_COLOR_TYPE_GRAYSCALE ||
						ct == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ? 2 : 6);
					if (ct == SPNG_COLOR_TYPE_GRAYSCALE) {
						px[0] = px[1] = px[2] = (uint8_t)(v[0] > 255 ? 255 : v[0]);
					} else if (ct == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA) {
						px[0] = px[1] = px[2] = (uint8_t)(v[0] >> 8);
					} else {
						px[0] = (uint8_t)(v[0] >> 8);
						px[1] = (uint8_t)(v[1] >> 8);
						px[2] = (uint8_t)(v[2] >> 8);
					}
				}
			}
			memcpy(buf + ((size_t)y * w + x) * 3, px, 3);
		}
	}
}

static const char *png_mode(int ct, int depth)
{
	switch (ct) {
	case SPNG_COLOR_TYPE_GRAYSCALE:
		return depth == 1 ? "1" : depth == 16 ? "I;16" : "L";
	case SPNG_COLOR_TYPE_TRUECOLOR: return "RGB";
	case SPNG_COLOR_TYPE_INDEXED: return "P";
	case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: return depth == 16 ? "RGBA" : "LA";
	}
	return "RGBA";
}

static int decode_png(const uint8_t *p, size_t len, uint64_t maxpx,
	struct rc_image *out, char *why, size_t whylen)
{
	/* The IHDR is read here first: the size check comes before libspng
	 * sees the data, and a 0 size gets a plain message. */
	if (len < 33)
		return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated PNG data");
	if (be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4))
		return rc_image_fail(RC_E_FORMAT, why, whylen, "corrupt PNG data: no IHDR chunk");
	int rc = rc_image_check_size(be32(p + 16), be32(p + 20), maxpx, "PNG", why, whylen);
	if (rc < 0)
		return rc;

	spng_ctx *ctx = spng_ctx_new(0);
	if (!ctx)
		return rc_image_fail(rc_log_error(RC_E_NOMEM, "out of memory (libspng)"), why,
			whylen, "out of memory");
	uint8_t *buf = NULL;
	struct spng_ihdr ihdr;
	struct spng_plte plte = {0};
	size_t native;
	int e;
	/* ancillary chunks are cached by libspng: no more than the file */
	if ((e = spng_set_chunk_limits(ctx, len, len)) ||
		(e = spng_set_png_buffer(ctx, p, len)) ||
		(e = spng_get_ihdr(ctx, &ihdr)) ||
		(e = spng_decoded_image_size(ctx, SPNG_FMT_PNG, &native))) {
		rc = png_error(e, why, whylen);
		goto done;
	}
	if (ihdr.color_type == SPNG_COLOR_TYPE_INDEXED &&
		(e = spng_get_plte(ctx, &plte))) {
		rc = png_error(e == SPNG_ECHUNKAVAIL ? SPNG_ENOPLTE : e, why, whylen);
		goto done;
	}
	size_t npx = (size_t)ihdr.width * ihdr.height;
	if (!(buf = rc_malloc(native > npx * 3 ? native : npx * 3))) {
		rc = rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
		goto done;
	}
	if ((e = spng_decode_image(ctx, buf, native, SPNG_FMT_PNG, 0))) {
		rc = png_error(e, why, whylen);
		goto done;
	}
	convert_png(buf, native / ihdr.height, ihdr.width, ihdr.height,
		ihdr.color_type, ihdr.bit_depth, &plte);
	if (native > npx * 3) {
		uint8_t *shrunk = realloc(buf, npx * 3);
		if (shrunk)
			buf = shrunk;
	}
	out->rgb = buf;
	buf = NULL;
	out->w = (int)ihdr.width;
	out->h = (int)ihdr.height;
	out->format = RC_IMAGE_PNG;
	snprintf(out->mode, sizeof out->mode, "%s", png_mode(ihdr.color_type, ihdr.bit_depth));
done:
	free(buf);
	spng_ctx_free(ctx);
	return rc;
}

/* ---------------------------------------------------------------- WebP */

static int webp_error(VP8StatusCode st, char *why, size_t whylen)
{
	switch (st) {
	case VP8_STATUS_NOT_ENOUGH_DATA:
		return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated WebP data");
	case VP8_STATUS_OUT_OF_MEMORY:
		return rc_image_fail(rc_log_error(RC_E_NOMEM, "out of memory (libwebp)"), why,
			whylen, "out of memory");
	case VP8_STATUS_UNSUPPORTED_FEATURE:
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "WebP feature not supported");
	default:
		return rc_image_fail(RC_E_FORMAT, why, whylen, "corrupt WebP data (status %d)", (int)st);
	}
}

/* Pillow decodes WebP with WebPAnimDecoder into RGBA; for a still image
 * its single key frame is a plain WebPDecode, whose RGB channels are what
 * decoding straight to RGB gives. */
static int decode_webp(const uint8_t *p, size_t len, uint64_t maxpx,
	struct rc_image *out, char *why, size_t whylen)
{
	WebPDecoderConfig cfg;
	if (!WebPInitDecoderConfig(&cfg))
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "libwebp version mismatch");
	VP8StatusCode st = WebPGetFeatures(p, len, &cfg.input);
	if (st != VP8_STATUS_OK)
		return webp_error(st, why, whylen);
	if (cfg.input.has_animation)
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "animated WebP images are not supported");
	int w = cfg.input.width, h = cfg.input.height;
	int rc = rc_image_check_size((uint64_t)(w > 0 ? w : 0), (uint64_t)(h > 0 ? h : 0), maxpx,
		"WebP", why, whylen);
	if (rc < 0)
		return rc;
	size_t bytes = (size_t)w * (size_t)h * 3;
	uint8_t *buf = rc_malloc(bytes);
	if (!buf)
		return rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
	cfg.output.colorspace = MODE_RGB;
	cfg.output.is_external_memory = 1;
	cfg.output.u.RGBA.rgba = buf;
	cfg.output.u.RGBA.stride = w * 3;
	cfg.output.u.RGBA.size = bytes;
	st = WebPDecode(p, len, &cfg);
	WebPFreeDecBuffer(&cfg.output);
	if (st != VP8_STATUS_OK) {
		free(buf);
		return webp_error(st, why, whylen);
	}
	out->rgb = buf;
	out->w = w;
	out->h = h;
	out->format = RC_IMAGE_WEBP;
	snprintf(out->mode, sizeof out->mode, "%s", cfg.input.has_alpha ? "RGBA" : "RGB");
	return 0;
}

/* ---------------------------------------------------------------- decode */

int rc_image_decode(const void *data, size_t len, const struct rc_image_limits *lim,
	struct rc_image *out, char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	if (!out)
		return rc_image_fail(RC_E_ARG, why, whylen, "no output image");
	memset(out, 0, sizeof *out);
	if (!data)
		return rc_image_fail(RC_E_ARG, why, whylen, "no image data");
	uint64_t maxpx = lim && lim->max_pixels ? lim->max_pixels : RC_IMAGE_MAX_PIXELS;
	const uint8_t *p = data;
	int rc;
	switch (rc_image_detect(p, len)) {
	case RC_IMAGE_JPEG: rc = decode_jpeg(p, len, maxpx, out, why, whylen); break;
	case RC_IMAGE_PNG:  rc = decode_png(p, len, maxpx, out, why, whylen); break;
	case RC_IMAGE_WEBP: rc = decode_webp(p, len, maxpx, out, why, whylen); break;
	case RC_IMAGE_GIF:  rc = rc_image_decode_gif(p, len, maxpx, out, why, whylen); break;
	case RC_IMAGE_BMP:  rc = rc_image_decode_bmp(p, len, maxpx, out, why, whylen); break;
	case RC_IMAGE_TIFF: rc = rc_image_decode_tiff(p, len, maxpx, out, why, whylen); break;
	default: {
		const char *name = other_format(p, len);
		if (name)
			return rc_image_fail(RC_E_UNSUPPORTED, why, whylen,
				"%s images are not supported (JPEG, PNG, WebP, GIF, BMP and TIFF "
				"are)", name);
		if (len == 0)
			return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "empty file");
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen,
			"not a JPEG, PNG, WebP, GIF, BMP or TIFF image (unknown format)");
	}
	}
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}

void rc_image_free(struct rc_image *im)
{
	if (!im)
		return;
	free(im->rgb);
	memset(im, 0, sizeof *im);
}

/* ---------------------------------------------------------------- encode */

int rc_image_encode_jpeg(const uint8_t *rgb, int w, int h, int quality,
	uint8_t **buf, size_t *len)
{
	if (!rgb || !buf || !len || w < 1 || h < 1 || w > 65535 || h > 65535 ||
		quality < 1 || quality > 100)
		return RC_E_ARG;
	*buf = NULL;
	*len = 0;
	tjhandle tj = tjInitCompress();
	if (!tj)
		return rc_log_error(RC_E_NOMEM, "out of memory (TurboJPEG)");
	/* our own buffer of the worst-case size, so that the caller frees it
	 * with free() (TurboJPEG's would need tjFree) */
	unsigned long cap = tjBufSize(w, h, TJSAMP_420);
	unsigned char *jpg = cap != (unsigned long)-1 ? rc_malloc(cap) : NULL;
	int rc = 0;
	if (!jpg) {
		rc = RC_E_NOMEM;
		goto done;
	}
	unsigned long n = cap;
	/* Pillow's save: libjpeg defaults (4:2:0 whatever the quality, ISLOW
	 * DCT, standard Huffman tables, baseline) */
	if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, &n, TJSAMP_420, quality,
			TJFLAG_ACCURATEDCT | TJFLAG_NOREALLOC) < 0) {
		rc = rc_log_error(RC_E_FORMAT, "JPEG encoding failed: %s", tjGetErrorStr2(tj));
		free(jpg);
		goto done;
	}
	unsigned char *shrunk = realloc(jpg, n);
	*buf = shrunk ? shrunk : jpg;
	*len = n;
done:
	tjDestroy(tj);
	return rc;
}
