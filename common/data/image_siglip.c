/* image_siglip.c - SigLIP's whole-image resize and the choice between it
 * and CLIP's crop (image_siglip.h); the resampling is image_resize.c's
 * Pillow-exact bicubic. */
#include "data/image_siglip.h"

#include "base/error.h"

int rc_image_siglip(const struct rc_image *in, int S, uint8_t *out)
{
	/* SiglipImageProcessorPil: resize to (height, width) = (S, S) with
	 * PIL's BICUBIC, nothing else before the rescale. */
	if (!in || !in->rgb || in->w < 1 || in->h < 1)
		return RC_E_ARG;
	return rc_image_resize(in->rgb, in->w, in->h, out, S, S);
}

int rc_image_preprocess(const struct rc_image *in, int kind, int S, uint8_t *out)
{
	switch (kind) {
	case RC_PREPROCESS_CLIP: return rc_image_clip(in, S, out);
	case RC_PREPROCESS_SIGLIP: return rc_image_siglip(in, S, out);
	default: return RC_E_ARG;
	}
}
