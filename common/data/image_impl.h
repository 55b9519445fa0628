/* image_impl.h - what image.c and image_more.c share: the reason writer
 * and the size check made before any pixel memory is allocated (both in
 * image_util.c), and the GIF, BMP and TIFF decoders of image_more.c. Not
 * a public header. */
#ifndef RCLIP_IMAGE_IMPL_H
#define RCLIP_IMAGE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "data/image.h"

/* Write the reason into why (whylen bytes, may be NULL) and return code. */
int rc_image_fail(int code, char *why, size_t whylen, const char *fmt, ...) RC_PRINTF(4, 5);

/* 0, or RC_E_RANGE with a reason for 0 pixels or more than maxpx. */
int rc_image_check_size(uint64_t w, uint64_t h, uint64_t maxpx, const char *fmt, char *why,
	size_t whylen);

/* The decoders of image_more.c: as rc_image_decode, out filled on 0. */
int rc_image_decode_gif(const uint8_t *p, size_t len, uint64_t maxpx, struct rc_image *out,
	char *why, size_t whylen);
int rc_image_decode_bmp(const uint8_t *p, size_t len, uint64_t maxpx, struct rc_image *out,
	char *why, size_t whylen);
int rc_image_decode_tiff(const uint8_t *p, size_t len, uint64_t maxpx, struct rc_image *out,
	char *why, size_t whylen);

#endif
