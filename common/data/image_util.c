/* image_util.c - what the image decoders share (image_impl.h): the reason
 * a decoder gives, and the size check made before any pixel memory is
 * allocated. Below image.c and image_more.c, which both use it. */
#include "data/image.h"
#include "data/image_impl.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/error.h"

int rc_image_fail(int code, char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int rc_image_check_size(uint64_t w, uint64_t h, uint64_t maxpx, const char *fmt,
	char *why, size_t whylen)
{
	if (w == 0 || h == 0)
		return rc_image_fail(RC_E_RANGE, why, whylen, "%s image has 0 pixels (%llux%llu)",
			fmt, (unsigned long long)w, (unsigned long long)h);
	if (w > RC_IMAGE_MAX_SIDE || h > RC_IMAGE_MAX_SIDE || w * h > maxpx)
		return rc_image_fail(RC_E_RANGE, why, whylen,
			"%s image too large: %llux%llu is more than %llu pixels", fmt,
			(unsigned long long)w, (unsigned long long)h, (unsigned long long)maxpx);
	return 0;
}
