/* image_siglip.h - SigLIP's image preprocessing up to uint8, pixel for
 * pixel as Pillow and transformers' SiglipImageProcessorPil do it: the
 * whole image resized to S×S with Pillow's antialiased bicubic, no crop,
 * the aspect ratio not kept; and rc_image_preprocess, which picks CLIP's
 * crop (image.h) or this by an enum rc_preprocess (data/preprocess.h).
 *
 *     uint8_t px[384 * 384 * 3];
 *     int rc = rc_image_preprocess(&im, RC_PREPROCESS_SIGLIP, 384, px);
 */
#ifndef RCLIP_IMAGE_SIGLIP_H
#define RCLIP_IMAGE_SIGLIP_H

#include <stdint.h>

#include "data/image.h"
#include "data/preprocess.h"

/* rc_image_siglip - SigLIP preprocessing up to uint8: Pillow's
 * im.resize((S, S), Image.BICUBIC) of the whole image (rc_image_resize),
 * what transformers' SiglipImageProcessorPil gives before rescaling and
 * normalising (do_resize to {"height": S, "width": S}, resample BICUBIC,
 * no crop). out receives S×S×3 bytes (caller-owned).
 * Returns 0, RC_E_ARG (S < 1 or over RC_IMAGE_MAX_SIDE, an empty image) or
 * RC_E_NOMEM (logged). */
int rc_image_siglip(const struct rc_image *in, int S, uint8_t *out);

/* rc_image_preprocess - rc_image_clip or rc_image_siglip as kind says;
 * their returns, or RC_E_ARG for an unknown kind. */
int rc_image_preprocess(const struct rc_image *in, int kind, int S, uint8_t *out);

#endif
