/* preprocess.c - the names of the two image preprocessings (CLIP's crop,
 * SigLIP's whole-image resize) and the check that a shard holds what a
 * model takes (preprocess.h). The pixels: image_resize.c, image_siglip.c. */
#include "data/preprocess.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"

static const char *const names[RC_PREPROCESS_COUNT] = { "clip", "siglip" };

const char *rc_preprocess_name(int kind)
{
	return kind >= 0 && kind < RC_PREPROCESS_COUNT ? names[kind] : NULL;
}

int rc_preprocess_parse(const char *s)
{
	for (int i = 0; s && i < RC_PREPROCESS_COUNT; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

const char *rc_preprocess_describe(int kind, int S, char *buf, int n)
{
	snprintf(buf, (size_t)n, "%dx%d %s", S, S,
		kind == RC_PREPROCESS_SIGLIP ? "SigLIP resizes" :
		kind == RC_PREPROCESS_CLIP ? "CLIP crops" : "images of an unknown preprocessing");
	return buf;
}

int rc_preprocess_check(const char *name, const struct rc_shard_info *info, int kind, int S)
{
	if ((int)info->preprocess == kind && (int)info->image_size == S)
		return 0;
	char have[64], want[64];
	rc_preprocess_describe((int)info->preprocess, (int)info->image_size, have, sizeof have);
	rc_preprocess_describe(kind, S, want, sizeof want);
	rc_log_error(RC_E_FORMAT, "%s: images are %s, the model takes %s", name, have, want);
	rc_log_hint("shard the data again with rclip-shard -s %d --preprocess %s (or --model "
		"MODEL)", S, rc_preprocess_name(kind) ? rc_preprocess_name(kind) : "clip");
	return RC_E_FORMAT;
}
