/* model_io_any.c - a model of any format in or out: rc_clip_load_any
 * detects the format and calls its loader, rc_clip_save calls the saver of
 * the format asked for. They sit above every format's file (model_io.c,
 * model_save_hf.c, model_open_clip.c), so that those never call back up.
 */
#include "convert/model_io.h"

#include "base/error.h"
#include "base/log.h"

/* ---------------------------------------------------------------- loading */

int rc_clip_load_any(struct rc_clip **out, const char *path, const struct rc_clip_config *cfg,
	int *fmt)
{
	int f, rc;
	*out = NULL;
	if ((rc = rc_clip_detect(path, &f)) < 0)
		return rc;
	if (fmt)
		*fmt = f;
	if (cfg && f != RC_CLIP_FMT_OPEN_CLIP)
		return rc_log_error(RC_E_ARG, "%s: a Hugging Face model carries its own "
			"config.json; an architecture applies to open_clip weights only", path);
	switch (f) {
	case RC_CLIP_FMT_HF: rc = rc_clip_load_hf(out, path); break;
	case RC_CLIP_FMT_HF_VISION: rc = rc_clip_load_hf_vision(out, path, NULL); break;
	case RC_CLIP_FMT_CHECKPOINT: rc = rc_clip_load_checkpoint(out, path); break;
	default: rc = rc_clip_load_open_clip(out, path, cfg); break;
	}
	if (rc == 0 && (rc = rc_clip_check_finite(*out, path)) < 0) {
		rc_clip_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---------------------------------------------------------------- saving */

int rc_clip_save(const struct rc_clip *m, int fmt, const char *dir, int flags, const char *src)
{
	switch (fmt) {
	case RC_CLIP_FMT_HF: return rc_clip_save_hf_from(m, dir, flags, src);
	case RC_CLIP_FMT_HF_VISION: return rc_clip_save_hf_vision(m, dir, flags);
	case RC_CLIP_FMT_OPEN_CLIP:
		if (m->cfg.family == RC_FAMILY_SIGLIP) {
			rc_log_error(RC_E_UNSUPPORTED, "%s: rclip writes SigLIP models as hf or "
				"hf-vision, not as open_clip", dir);
			return RC_E_UNSUPPORTED;
		}
		return rc_clip_save_open_clip(m, dir, flags);
	default: return rc_log_error(RC_E_ARG, "unknown model format %d", fmt);
	}
}
