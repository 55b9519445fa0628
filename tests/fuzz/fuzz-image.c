/* fuzz-image.c - libFuzzer target for the image decoders and the CLIP
 * preprocessing: any bytes through rc_image_decode (JPEG, PNG, WebP, with
 * a small pixel limit so that each input stays fast), then, when they
 * decode, the crop to 32×32 and a JPEG encode. Checks the sizes and that
 * a refusal comes with a reason. Build: `make fuzz`; run:
 * tests/fuzz/fuzz-image -close_fd_mask=2 CORPUS_DIR. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rc_image_limits lim = {1u << 20};
	struct rc_image im;
	char why[160];
	why[0] = 0;
	if (rc_image_decode(data, size, &lim, &im, why, sizeof why) < 0) {
		if (!why[0] || im.rgb)
			abort(); /* a refusal says why and leaves no pixels */
		return 0;
	}
	if (im.w < 1 || im.h < 1 || (uint64_t)im.w * (uint64_t)im.h > lim.max_pixels || !im.rgb)
		abort();
	uint8_t out[32 * 32 * 3];
	int rc = rc_image_clip(&im, 32, out);
	if (rc == 0) {
		uint8_t *jpg = NULL;
		size_t n = 0;
		if (rc_image_encode_jpeg(out, 32, 32, 90, &jpg, &n) < 0 || !jpg || n < 4)
			abort();
		free(jpg);
	}
	rc_image_free(&im);
	return 0;
}
