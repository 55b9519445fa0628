/* image_more.c - GIF, BMP and TIFF decoding to the pixels of Pillow's
 * Image.open(f).convert("RGB") (image.h), beside image.c's JPEG, PNG and
 * WebP: GIF through giflib (the first frame, as Pillow opens it), TIFF
 * through libtiff (the first page), BMP read here (its headers are a few
 * fixed fields; no Debian library decodes BMP as Pillow does).
 *
 * What Pillow 13 does, and so what this does:
 *   GIF   the first frame on a canvas of the logical screen (grown to hold
 *         the frame if it sticks out), the area outside the frame filled
 *         with the frame's transparent index when it has one, else index
 *         0; indices looked up in the local palette, else the global one,
 *         an index past the palette black; a palette that is the identity
 *         grey ramp is no palette (mode L); transparency is not composited.
 *   BMP   1/4/8-bit palettes (BGRX, or BGR for OS/2 headers; a grey ramp
 *         makes mode L, black and white mode 1), 16-bit 5-5-5 and (with
 *         bitfields) 5-6-5, each field scaled as v * 255 / max, 24-bit BGR,
 *         32-bit BGRX (the fourth byte ignored unless bitfields give an
 *         alpha mask: then it is alpha, dropped); bottom-up rows unless the
 *         height is negative. RLE compression is refused.
 *   TIFF  8-bit RGB, RGB with an unassociated or unspecified extra sample
 *         (dropped), grey (MinIsBlack, MinIsWhite inverted), grey with
 *         alpha, 1-bit bilevel, 8/4/1-bit palettes (colormap >> 8), in
 *         strips, any compression libtiff reads. Tiled, planar, 16-bit and
 *         premultiplied TIFFs are refused.
 */
#include "data/image.h"
#include "data/image_impl.h"

#include <gif_lib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "base/error.h"
#include "base/io.h"

/* ---------------------------------------------------------------- GIF */

struct mem {
	const uint8_t *p;
	size_t len, pos;
};

static int gif_read(GifFileType *g, GifByteType *buf, int n)
{
	struct mem *m = g->UserData;
	size_t k = n < 0 ? 0 : (size_t)n;
	if (k > m->len - m->pos)
		k = m->len - m->pos;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (int)k;
}

/* 1 when the palette is i -> (i, i, i) for every entry: Pillow then keeps
 * no palette and reads the indices as grey (mode L). */
static int grey_ramp(const GifColorType *c, int n)
{
	for (int i = 0; i < n; i++)
		if (c[i].Red != i || c[i].Green != i || c[i].Blue != i)
			return 0;
	return 1;
}

static int gif_error(int e, char *why, size_t whylen)
{
	const char *s = GifErrorString(e);
	if (e == D_GIF_ERR_READ_FAILED || e == D_GIF_ERR_EOF_TOO_SOON)
		return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated GIF data");
	if (e == D_GIF_ERR_NOT_ENOUGH_MEM)
		return rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
	return rc_image_fail(RC_E_FORMAT, why, whylen, "corrupt GIF data (%s)", s ? s : "?");
}

int rc_image_decode_gif(const uint8_t *p, size_t len, uint64_t maxpx, struct rc_image *out,
	char *why, size_t whylen)
{
	struct mem m = {p, len, 0};
	int err = 0, trans = -1, rc = 0;
	GifFileType *g = DGifOpen(&m, gif_read, &err);
	if (!g)
		return gif_error(err, why, whylen);
	uint8_t *idx = NULL, *rgb = NULL;
	GifRecordType t;
	for (;;) {
		if (DGifGetRecordType(g, &t) == GIF_ERROR) {
			rc = gif_error(g->Error, why, whylen);
			goto out;
		}
		if (t == TERMINATE_RECORD_TYPE) {
			rc = rc_image_fail(RC_E_FORMAT, why, whylen, "GIF without an image");
			goto out;
		}
		if (t == IMAGE_DESC_RECORD_TYPE)
			break;
		if (t == EXTENSION_RECORD_TYPE) {
			int code;
			GifByteType *ext;
			if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) {
				rc = gif_error(g->Error, why, whylen);
				goto out;
			}
			/* the graphic control extension of the first frame */
			if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1))
				trans = ext[4];
			while (ext) {
				if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) {
					rc = gif_error(g->Error, why, whylen);
					goto out;
				}
			}
		}
	}
	if (DGifGetImageDesc(g) == GIF_ERROR) {
		rc = gif_error(g->Error, why, whylen);
		goto out;
	}
	const GifImageDesc *d = &g->Image;
	uint64_t fx = (uint64_t)d->Left, fy = (uint64_t)d->Top, fw = (uint64_t)d->Width,
		fh = (uint64_t)d->Height;
	uint64_t w = (uint64_t)g->SWidth, h = (uint64_t)g->SHeight;
	if (fx + fw > w)
		w = fx + fw;
	if (fy + fh > h)
		h = fy + fh;
	if ((rc = rc_image_check_size(w, h, maxpx, "GIF", why, whylen)) < 0 ||
	    (rc = rc_image_check_size(fw ? fw : 1, fh ? fh : 1, maxpx, "GIF", why, whylen)) < 0)
		goto out;
	idx = rc_malloc((size_t)(w * h));
	rgb = rc_malloc((size_t)(w * h * 3));
	if (!idx || !rgb) {
		rc = rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
		goto out;
	}
	memset(idx, trans >= 0 ? trans : 0, (size_t)(w * h));
	/* interlaced frames come in four passes of rows */
	static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
	int passes = d->Interlace ? 4 : 1;
	for (int pass = 0; pass < passes; pass++)
		for (uint64_t y = d->Interlace ? (uint64_t)start[pass] : 0; y < fh;
		     y += d->Interlace ? (uint64_t)step[pass] : 1)
			if (fw && DGifGetLine(g, idx + (fy + y) * w + fx, (int)fw) == GIF_ERROR) {
				rc = gif_error(g->Error, why, whylen);
				goto out;
			}
	const ColorMapObject *cm = d->ColorMap ? d->ColorMap : g->SColorMap;
	int grey = !cm || grey_ramp(cm->Colors, cm->ColorCount);
	for (uint64_t i = 0; i < w * h; i++) {
		int v = idx[i];
		uint8_t *o = rgb + 3 * i;
		if (grey) {
			o[0] = o[1] = o[2] = (uint8_t)v;
		} else if (v < cm->ColorCount) {
			o[0] = cm->Colors[v].Red;
			o[1] = cm->Colors[v].Green;
			o[2] = cm->Colors[v].Blue;
		} else {
			o[0] = o[1] = o[2] = 0;
		}
	}
	out->rgb = rgb;
	rgb = NULL;
	out->w = (int)w;
	out->h = (int)h;
	out->format = RC_IMAGE_GIF;
	snprintf(out->mode, sizeof out->mode, "%s", grey ? "L" : "P");
out:
	free(idx);
	free(rgb);
	DGifCloseFile(g, &err);
	return rc;
}

/* ---------------------------------------------------------------- BMP */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

/* A bitfield of v: its value scaled to 0..255 as Pillow's unpackers do. */
static uint8_t field(uint32_t v, uint32_t mask)
{
	if (!mask)
		return 0;
	int shift = 0;
	while (!(mask >> shift & 1))
		shift++;
	uint32_t max = mask >> shift;
	return (uint8_t)(((v & mask) >> shift) * 255 / max);
}

int rc_image_decode_bmp(const uint8_t *p, size_t len, uint64_t maxpx, struct rc_image *out,
	char *why, size_t whylen)
{
	if (len < 26)
		return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated BMP header");
	uint32_t off = le32(p + 10), hs = le32(p + 14);
	int64_t w, h;
	uint32_t bits, comp = 0, colors = 0, pad = 4, masks[4] = {0, 0, 0, 0};
	int topdown = 0;
	if (hs == 12) {
		w = le16(p + 18);
		h = le16(p + 20);
		bits = le16(p + 24);
		pad = 3;
	} else if (hs == 40 || hs == 52 || hs == 56 || hs == 64 || hs == 108 || hs == 124) {
		if (len < 14 + (size_t)hs)
			return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated BMP header");
		w = (int32_t)le32(p + 18);
		h = (int32_t)le32(p + 22);
		bits = le16(p + 28);
		comp = le32(p + 30);
		colors = le32(p + 46);
		if (h < 0) {
			h = -h;
			topdown = 1;
		}
		if (comp == 3) { /* bitfields: in the header, or just after a 40-byte one */
			size_t at = 54; /* 14 + 40, in a larger header or after a 40-byte one */
			if (len < at + 12)
				return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated BMP bitfields");
			for (int i = 0; i < (hs >= 56 ? 4 : 3); i++)
				masks[i] = le32(p + at + 4 * i);
		}
	} else {
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "BMP header of %u bytes not "
			"supported", hs);
	}
	if (comp == 1 || comp == 2)
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "RLE-compressed BMP images are "
			"not supported");
	if (comp != 0 && comp != 3)
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "BMP compression %u not "
			"supported", comp);
	if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "BMP depth of %u bits not "
			"supported", bits);
	if (comp == 3 && bits <= 8)
		return rc_image_fail(RC_E_FORMAT, why, whylen, "BMP bitfields on a palette");
	int rc = rc_image_check_size((uint64_t)(w > 0 ? w : 0), (uint64_t)h, maxpx, "BMP", why,
		whylen);
	if (rc < 0)
		return rc;
	if (bits == 16 && comp == 0)
		masks[0] = 0x7C00, masks[1] = 0x3E0, masks[2] = 0x1F;
	if (comp == 3 && bits == 16 &&
	    !((masks[0] == 0xF800 && masks[1] == 0x7E0 && masks[2] == 0x1F) ||
	      (masks[0] == 0x7C00 && masks[1] == 0x3E0 && masks[2] == 0x1F)))
		return rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "BMP bitfields layout not "
			"supported");
	/* the palette follows the header (and a 40-byte header's masks) */
	uint8_t pal[256][3];
	const char *mode = bits <= 8 ? "P" : masks[3] ? "RGBA" : "RGB";
	uint32_t ncol = 0;
	if (bits <= 8) {
		ncol = colors ? colors : 1u << bits;
		size_t at = 14 + hs;
		if (ncol > 256 || (uint64_t)at + (uint64_t)ncol * pad > len)
			return rc_image_fail(ncol > 256 ? RC_E_FORMAT : RC_E_TRUNCATED, why, whylen,
				"BMP palette of %u colours", ncol);
		memset(pal, 0, sizeof pal);
		int greyish = 1;
		for (uint32_t i = 0; i < ncol; i++) {
			const uint8_t *c = p + at + (size_t)i * pad;
			pal[i][0] = c[2], pal[i][1] = c[1], pal[i][2] = c[0];
			uint32_t want = ncol == 2 ? i * 255 : i;
			greyish &= c[0] == want && c[1] == want && c[2] == want;
		}
		if (greyish)
			mode = ncol <= 2 ? "1" : "L";
	}
	uint64_t stride = (((uint64_t)w * bits + 31) >> 3) & ~(uint64_t)3;
	if (off > len || stride * (uint64_t)h > len - off)
		return rc_image_fail(RC_E_TRUNCATED, why, whylen, "truncated BMP pixel data");
	uint8_t *rgb = rc_malloc((size_t)(w * h * 3));
	if (!rgb)
		return rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
	for (int64_t y = 0; y < h; y++) {
		const uint8_t *row = p + off + stride * (uint64_t)(topdown ? y : h - 1 - y);
		uint8_t *o = rgb + (size_t)y * (size_t)w * 3;
		for (int64_t x = 0; x < w; x++, o += 3) {
			uint32_t v;
			switch (bits) {
			case 1: case 4: case 8:
				v = bits == 8 ? row[x] : bits == 4 ? (row[x / 2] >> (x % 2 ? 0 : 4)) & 15
					: (row[x / 8] >> (7 - x % 8)) & 1;
				if (mode[0] == '1' || mode[0] == 'L')
					o[0] = o[1] = o[2] = (uint8_t)(mode[0] == '1' ? v * 255 : v);
				else if (v < ncol)
					memcpy(o, pal[v], 3);
				else
					o[0] = o[1] = o[2] = 0;
				break;
			case 16:
				v = le16(row + 2 * x);
				o[0] = field(v, masks[0]), o[1] = field(v, masks[1]), o[2] = field(v, masks[2]);
				break;
			case 24:
				o[0] = row[3 * x + 2], o[1] = row[3 * x + 1], o[2] = row[3 * x];
				break;
			default: /* 32 */
				v = le32(row + 4 * x);
				if (comp == 3 && (masks[0] | masks[1] | masks[2]))
					o[0] = field(v, masks[0]), o[1] = field(v, masks[1]),
					o[2] = field(v, masks[2]);
				else
					o[0] = row[4 * x + 2], o[1] = row[4 * x + 1], o[2] = row[4 * x];
			}
		}
	}
	out->rgb = rgb;
	out->w = (int)w;
	out->h = (int)h;
	out->format = RC_IMAGE_BMP;
	snprintf(out->mode, sizeof out->mode, "%s", mode);
	return 0;
}

/* ---------------------------------------------------------------- TIFF */

struct tiff_src {
	struct mem m;
	char msg[160];
};

static tmsize_t t_read(thandle_t h, void *buf, tmsize_t n)
{
	struct mem *m = &((struct tiff_src *)h)->m;
	size_t k = n < 0 ? 0 : (size_t)n;
	if (m->pos > m->len)
		return 0;
	if (k > m->len - m->pos)
		k = m->len - m->pos;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (tmsize_t)k;
}

static tmsize_t t_write(thandle_t h, void *buf, tmsize_t n)
{
	(void)h, (void)buf, (void)n;
	return -1;
}

static toff_t t_seek(thandle_t h, toff_t off, int whence)
{
	struct mem *m = &((struct tiff_src *)h)->m;
	uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->len : 0;
	m->pos = (size_t)(base + off);
	return (toff_t)m->pos;
}

static int t_close(thandle_t h) { (void)h; return 0; }
static toff_t t_size(thandle_t h) { return ((struct tiff_src *)h)->m.len; }

static int t_error(TIFF *t, void *user, const char *mod, const char *fmt, va_list ap)
{
	(void)t, (void)mod;
	struct tiff_src *s = user;
	if (!s->msg[0])
		vsnprintf(s->msg, sizeof s->msg, fmt, ap);
	return 1;
}

static int t_warn(TIFF *t, void *user, const char *mod, const char *fmt, va_list ap)
{
	(void)t, (void)user, (void)mod, (void)fmt, (void)ap;
	return 1; /* warnings are not printed: the caller reports what fails */
}

int rc_image_decode_tiff(const uint8_t *p, size_t len, uint64_t maxpx, struct rc_image *out,
	char *why, size_t whylen)
{
	struct tiff_src s = {.m = {p, len, 0}};
	TIFFOpenOptions *opt = TIFFOpenOptionsAlloc();
	if (!opt)
		return rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
	TIFFOpenOptionsSetErrorHandlerExtR(opt, t_error, &s);
	TIFFOpenOptionsSetWarningHandlerExtR(opt, t_warn, &s);
	TIFFOpenOptionsSetMaxSingleMemAlloc(opt, (tmsize_t)1 << 30);
	TIFF *t = TIFFClientOpenExt("tiff", "rm", (thandle_t)&s, t_read, t_write, t_seek, t_close,
		t_size, NULL, NULL, opt);
	TIFFOpenOptionsFree(opt);
	if (!t)
		return rc_image_fail(RC_E_FORMAT, why, whylen, "corrupt TIFF data (%s)",
			s.msg[0] ? s.msg : "cannot open");
	uint32_t w = 0, h = 0;
	uint16_t bps = 1, spp = 1, photo = 0, planar = PLANARCONFIG_CONTIG, nextra = 0;
	uint16_t *extra = NULL, *cr, *cg, *cb;
	uint8_t *rgb = NULL, *line = NULL;
	int rc = 0;
	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
	TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
	TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
	TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
	TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
	TIFFGetFieldDefaulted(t, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
	if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo)) {
		rc = rc_image_fail(RC_E_FORMAT, why, whylen, "TIFF without a photometric tag");
		goto out;
	}
	if ((rc = rc_image_check_size(w, h, maxpx, "TIFF", why, whylen)) < 0)
		goto out;
	const char *mode = NULL;
	int ok = planar == PLANARCONFIG_CONTIG && !TIFFIsTiled(t) &&
		!(nextra && extra && extra[0] == EXTRASAMPLE_ASSOCALPHA);
	if (ok && photo == PHOTOMETRIC_RGB && bps == 8 && (spp == 3 || spp == 4))
		mode = spp == 3 ? "RGB" : nextra && extra[0] == EXTRASAMPLE_UNASSALPHA ? "RGBA" : "RGBX";
	else if (ok && (photo == PHOTOMETRIC_MINISBLACK || photo == PHOTOMETRIC_MINISWHITE) &&
		 ((bps == 8 && (spp == 1 || spp == 2)) || (bps == 1 && spp == 1)))
		mode = bps == 1 ? "1" : spp == 2 ? "LA" : "L";
	else if (ok && photo == PHOTOMETRIC_PALETTE && spp == 1 && (bps == 8 || bps == 4 || bps == 1) &&
		 TIFFGetField(t, TIFFTAG_COLORMAP, &cr, &cg, &cb))
		mode = "P";
	if (!mode) {
		rc = rc_image_fail(RC_E_UNSUPPORTED, why, whylen, "TIFF layout not supported "
			"(photometric %u, %u×%u bits%s%s)", photo, spp, bps,
			TIFFIsTiled(t) ? ", tiled" : "", planar != PLANARCONFIG_CONTIG ? ", planar" : "");
		goto out;
	}
	tmsize_t sl = TIFFScanlineSize(t);
	rgb = rc_malloc((size_t)w * h * 3);
	line = rc_malloc(sl > 0 ? (size_t)sl : 1);
	if (!rgb || !line) {
		rc = rc_image_fail(RC_E_NOMEM, why, whylen, "out of memory");
		goto out;
	}
	int inv = photo == PHOTOMETRIC_MINISWHITE;
	for (uint32_t y = 0; y < h; y++) {
		if (TIFFReadScanline(t, line, y, 0) < 0) {
			rc = rc_image_fail(s.m.pos >= len ? RC_E_TRUNCATED : RC_E_FORMAT, why, whylen,
				"corrupt TIFF data (%s)", s.msg[0] ? s.msg : "row unreadable");
			goto out;
		}
		uint8_t *o = rgb + (size_t)y * w * 3;
		for (uint32_t x = 0; x < w; x++, o += 3) {
			unsigned v;
			if (mode[0] == 'R') {
				memcpy(o, line + (size_t)x * spp, 3);
				continue;
			}
			if (bps == 8)
				v = line[(size_t)x * spp];
			else if (bps == 4)
				v = (line[x / 2] >> (x % 2 ? 0 : 4)) & 15;
			else
				v = (line[x / 8] >> (7 - x % 8)) & 1;
			if (mode[0] == 'P') {
				o[0] = (uint8_t)(cr[v] >> 8), o[1] = (uint8_t)(cg[v] >> 8);
				o[2] = (uint8_t)(cb[v] >> 8);
				continue;
			}
			if (bps == 1)
				v *= 255;
			o[0] = o[1] = o[2] = (uint8_t)(inv ? 255 - v : v);
		}
	}
	out->rgb = rgb;
	rgb = NULL;
	out->w = (int)w;
	out->h = (int)h;
	out->format = RC_IMAGE_TIFF;
	snprintf(out->mode, sizeof out->mode, "%s", mode);
out:
	free(rgb);
	free(line);
	TIFFClose(t);
	return rc;
}
