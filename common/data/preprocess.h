/* preprocess.h - which image preprocessing a shard holds and a model
 * takes: CLIP's (the shortest side resized to S, the centre S×S kept) or
 * SigLIP's (the whole image resized to S×S, the aspect ratio not kept),
 * both with Pillow's antialiased bicubic and both exact to Pillow's uint8
 * pixels (the resize: data/image_siglip.h). The normalisation that
 * follows is the model's (model/cpu.h, rc_clip_pixels_for); a shard
 * stores the uint8 pixels.
 *
 *     int kind = cfg->family == RC_FAMILY_SIGLIP ? RC_PREPROCESS_SIGLIP
 *                                                : RC_PREPROCESS_CLIP;
 *     uint8_t px[384 * 384 * 3];
 *     if (rc_image_preprocess(&im, kind, 384, px) < 0) ...   // image_siglip.h
 *     const struct rc_shard_info *in = rc_shard_info(shard);
 *     if (rc_preprocess_check(path, in, kind, 384) < 0)   // logged
 *             return 1;
 *
 * The shard records it in its metadata (rclip-shard(5), key "preprocess");
 * a shard without the key holds CLIP's crop, as every shard written before
 * the key existed does.
 */
#ifndef RCLIP_PREPROCESS_H
#define RCLIP_PREPROCESS_H

#include <stdint.h>

#include "data/shard.h"

enum rc_preprocess {
	RC_PREPROCESS_CLIP = 0,   /* shortest side to S, centre crop (the default) */
	RC_PREPROCESS_SIGLIP = 1, /* the whole image to S×S */
	RC_PREPROCESS_COUNT
};

/* rc_preprocess_name - "clip", "siglip", or NULL for another value
 * (static). rc_preprocess_parse - the value named s, or -1. */
const char *rc_preprocess_name(int kind);
int rc_preprocess_parse(const char *s);

/* rc_preprocess_describe - "224x224 CLIP crops" / "384x384 SigLIP
 * resizes", for messages, into buf (n bytes); returns buf. */
const char *rc_preprocess_describe(int kind, int S, char *buf, int n);

/* rc_preprocess_check - whether the shard named name (info from
 * rc_shard_info) holds what a model taking kind at S×S needs. Returns 0,
 * or RC_E_FORMAT logged in one line naming the shard and both sides
 * ("d-000000.rcs: images are 224x224 CLIP crops, the model takes 64x64
 * SigLIP resizes"), with a hint of the rclip-shard options that make the right
 * shards. */
int rc_preprocess_check(const char *name, const struct rc_shard_info *info, int kind, int S);

#endif
