/* image.h - decoding JPEG, PNG and WebP to RGB, and CLIP preprocessing,
 * pixel for pixel as Pillow and Hugging Face do it.
 *
 * Decoding gives the pixels of Pillow's Image.open(f).convert("RGB"): the
 * same libraries (libjpeg-turbo through TurboJPEG, libwebp), the same
 * conversions (grayscale replicated, palette looked up, alpha dropped
 * without compositing, 16-bit samples as Pillow reduces them, CMYK and
 * YCCK JPEG with Pillow's Adobe-inverted CMYK formula). EXIF orientation
 * and colour profiles are not applied, as Pillow does not apply them.
 * CLIP preprocessing resizes the shortest side to S with Pillow's
 * antialiased bicubic (Image.resize, BICUBIC, reducing_gap None: the same
 * coefficients, int32 fixed point, uint8 rounding between its two passes
 * and their order, as of Pillow 13) and center crops S×S with the offsets
 * floored, as Hugging Face's CLIPImageProcessorPil does before rescaling
 * and normalising. (transformers 5's default CLIPImageProcessor resizes
 * with torchvision instead, and composites transparency onto white.)
 *
 *     struct rc_image im;
 *     char why[128];
 *     int rc = rc_image_decode(buf, len, NULL, &im, why, sizeof why);
 *     if (rc < 0) {
 *         rc_log_warn("%s:%zu: %s", path, line, why);   // skip the record
 *         return rc;
 *     }
 *     uint8_t px[224 * 224 * 3];                     // S×S×3 RGB, row-major
 *     rc = rc_image_clip(&im, 224, px);
 *     rc_image_free(&im);
 *
 *     uint8_t *jpg; size_t n;                        // shard storage
 *     rc = rc_image_encode_jpeg(px, 224, 224, 95, &jpg, &n);
 *     ...
 *     free(jpg);
 *
 * Every function is thread-safe: the decoders and the encoder hold no state
 * between calls. Pixels are RGB uint8, 3 bytes a pixel, rows of w pixels
 * without padding.
 */
#ifndef RCLIP_IMAGE_H
#define RCLIP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

enum rc_image_format {
	RC_IMAGE_UNKNOWN = 0,
	RC_IMAGE_JPEG = 1,
	RC_IMAGE_PNG = 2,
	RC_IMAGE_WEBP = 3,
	RC_IMAGE_GIF = 4,   /* the first frame */
	RC_IMAGE_BMP = 5,
	RC_IMAGE_TIFF = 6,  /* the first page */
};

/* The default pixel limit: larger images are refused before any pixel
 * memory is allocated (decompression bombs). Pillow warns above 89.5 M. */
#define RC_IMAGE_MAX_PIXELS 100000000ULL

/* The longest side any function here accepts, whatever the pixel limit:
 * a row's bytes (w * 3) and the resampler's indices stay in int range. */
#define RC_IMAGE_MAX_SIDE ((1 << 30) / 3)

struct rc_image_limits {
	uint64_t max_pixels; /* w*h at most this; 0 = RC_IMAGE_MAX_PIXELS */
};

/* A decoded image. Free with rc_image_free(). */
struct rc_image {
	uint8_t *rgb;   /* h rows of w RGB pixels (malloc'd, owned) */
	int w, h;
	int format;     /* enum rc_image_format of the source */
	char mode[8];   /* the source's Pillow mode: "RGB", "RGBA", "L", "LA",
	                   "P", "1", "I;16", "CMYK" (for reports and tests) */
	int warnings;   /* 1 when libjpeg warned about corrupt data that it
	                   decoded anyway, as Pillow accepts it; else 0 */
};

/* rc_image_detect - the format of data from its first bytes (JPEG
 * FF D8 FF, PNG signature, RIFF....WEBP, GIF87a/GIF89a, "BM" with a BMP
 * header size, II*\0 / MM\0*), or RC_IMAGE_UNKNOWN. */
int rc_image_detect(const void *data, size_t len);

/* rc_image_format_name - "JPEG", "PNG", "WebP", "GIF", "BMP", "TIFF" or
 * "unknown" (static). */
const char *rc_image_format_name(int format);

/* rc_image_decode - decode len bytes of JPEG, PNG, WebP, GIF (its first
 * frame), BMP or TIFF (its first page) into out (RGB); image_more.c tells
 * which GIF, BMP and TIFF layouts, as Pillow reads them.
 * The header's dimensions are checked against lim (NULL = defaults) before
 * anything is allocated for pixels.
 * Returns 0 with *out filled (free it with rc_image_free), or a negative
 * code with *out zeroed and a short lowercase reason in why (whylen bytes,
 * NUL-terminated; why may be NULL), for example "GIF images are not
 * supported" or "truncated JPEG data":
 *   RC_E_UNSUPPORTED  not one of those (the reason names AVIF, HEIC, PNM,
 *                     ... when it recognises them), an animated WebP, an
 *                     RLE BMP, a tiled, planar or 16-bit TIFF,
 *                     a JPEG that TurboJPEG cannot decode to RGB
 *   RC_E_RANGE        0 pixels, or more than the limit
 *   RC_E_TRUNCATED    the data ends before the image does
 *   RC_E_FORMAT       corrupt data
 *   RC_E_NOMEM        out of memory (logged)
 *   RC_E_ARG          data is NULL or out is NULL
 * Apart from out-of-memory nothing is logged: the caller knows which
 * record it was and prints the reason. Never crashes on any input.
 * Where rclip and Pillow part on damaged files: rclip refuses a PNG whose
 * IDAT checksums (CRC, zlib Adler-32) are wrong, which Pillow does not
 * check, and a progressive JPEG of more than 500 scans (a CPU bomb); it
 * also refuses animated WebP (Pillow reads the first frame). JPEG data
 * that libjpeg only warns about (junk between markers, a bad Huffman code)
 * is decoded, as Pillow decodes it, and out->warnings is set; JPEG data
 * that ends early is refused, as Pillow refuses it. */
int rc_image_decode(const void *data, size_t len, const struct rc_image_limits *lim,
	struct rc_image *out, char *why, size_t whylen);

/* rc_image_free - release im->rgb and zero im; safe on a zeroed image. */
void rc_image_free(struct rc_image *im);

/* rc_image_resize - Pillow's im.resize((ow, oh), Image.BICUBIC) of an RGB
 * image, value for value: two separable passes with a uint8 image between
 * them, a pass skipped when its size does not change. The order is Pillow
 * 13's: vertical first when oh < h and h - oh > 2 * (w - ow), else
 * horizontal first (Pillow 12 and older always go horizontal first, which
 * changes a few per cent of the values by 1 or 2 for those sizes).
 * in is w×h RGB, out ow×oh RGB (caller-owned, not overlapping in).
 * Returns 0, RC_E_ARG (a side < 1 or > RC_IMAGE_MAX_SIDE) or RC_E_NOMEM
 * (logged; a temporary of about ow × h × 3 bytes is allocated). */
int rc_image_resize(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh);

/* rc_image_clip_size - the size before cropping: the shortest side becomes
 * S and the other int(S * long / short), as Hugging Face's
 * get_resize_output_image_size(default_to_square=False). */
void rc_image_clip_size(int w, int h, int S, int *ow, int *oh);

/* rc_image_clip - CLIP preprocessing up to uint8: resize as
 * rc_image_clip_size() says with rc_image_resize(), then keep the S×S
 * window at ((oh - S) / 2, (ow - S) / 2). Only the window is computed, so
 * the pixels equal those of the full resize and crop at a fraction of the
 * cost. out receives S×S×3 bytes (caller-owned).
 * Returns 0, RC_E_ARG (S < 1, an empty image), RC_E_RANGE (not logged:
 * the resized long side would pass RC_IMAGE_MAX_SIDE, an aspect ratio
 * over about 3.5e8 / S) or RC_E_NOMEM (logged). */
int rc_image_clip(const struct rc_image *in, int S, uint8_t *out);

/* rc_image_encode_jpeg - compress w×h RGB as Pillow's
 * im.save(f, "JPEG", quality=q) does by default: baseline, 4:2:0 chroma
 * subsampling at every quality, the accurate integer DCT, standard Huffman
 * tables, a JFIF header. On success returns 0 with *buf (malloc'd; the
 * caller frees it with free()) and *len. Returns RC_E_ARG (bad size or
 * quality outside 1..100), RC_E_NOMEM (logged) or RC_E_FORMAT (TurboJPEG
 * failed; logged). */
int rc_image_encode_jpeg(const uint8_t *rgb, int w, int h, int quality,
	uint8_t **buf, size_t *len);

#endif
