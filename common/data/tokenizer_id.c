/* tokenizer_id.c - a shard's tokenizer against a model's (tokenizer_id.h). */
#include "data/tokenizer_id.h"

#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "data/shard_set.h"

const char *rc_shard_tokenizer(const struct rc_shard *r)
{
	const char *v = rc_shard_meta(r, RC_SHARD_META_TOKENIZER);
	return v ? v : RC_TOKENIZER_CLIP;
}

int rc_tokenizer_is_clip(const char *id)
{
	return !strcmp(id, RC_TOKENIZER_CLIP) || !strcmp(id, RC_TOKENIZER_CLIP_HF);
}

/* The length of id without a trailing ":lower". */
static size_t base_len(const char *id)
{
	size_t n = strlen(id), k = sizeof ":lower" - 1;
	return n > k && !strcmp(id + n - k, ":lower") ? n - k : n;
}

int rc_tokenizer_agree(const char *a, const char *b)
{
	if (rc_tokenizer_is_clip(a) || rc_tokenizer_is_clip(b))
		return rc_tokenizer_is_clip(a) && rc_tokenizer_is_clip(b);
	size_t n = base_len(a);
	return n == base_len(b) && !memcmp(a, b, n);
}

int rc_tokenizer_check(const char *name, const char *have, const char *want, int vocab)
{
	if (want && !*want)
		want = NULL;
	if (want ? rc_tokenizer_agree(have, want) :
	    !rc_tokenizer_is_clip(have) || vocab >= RC_TOKENIZER_CLIP_VOCAB)
		return 0;
	if (want)
		rc_log_error(RC_E_FORMAT, "%s: token ids of %s, the model takes %s", name, have,
			want);
	else
		rc_log_error(RC_E_FORMAT, "%s: token ids of %s (up to %d), the model's vocabulary "
			"is %d", name, have, RC_TOKENIZER_CLIP_VOCAB - 1, vocab);
	if (want && rc_tokenizer_is_clip(want))
		rc_log_hint("shard the data again with rclip-shard without --model, or with a "
			"CLIP model's");
	else
		rc_log_hint("shard the data again with rclip-shard --model MODEL (the model's "
			"directory with its tokenizer files)");
	return RC_E_FORMAT;
}
