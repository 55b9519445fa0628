/* tokenizer_id.c - a shard's tokenizer against a model's (tokenizer_id.h). */
#include "data/tokenizer_id.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/safetensors.h"
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

int rc_tokenizer_model_dir(const char *path, char *dir, size_t n)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0; /* a built-in name */
	if (S_ISDIR(st.st_mode)) {
		snprintf(dir, n, "%s", path);
		return 1;
	}
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, n, ".");
	else
		snprintf(dir, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return 1;
}

int rc_tokenizer_checkpoint(const char *path, char *buf, size_t n)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || !rc_ends_with(path, ".safetensors"))
		return 0;
	struct rc_st *s;
	if (rc_st_open(&s, path) < 0)
		return RC_E_FORMAT; /* logged; the model's own load says the same */
	const char *format = rc_st_meta(s, "format"), *tok = rc_st_meta(s, "tokenizer");
	int known = format && !strcmp(format, "rclip-checkpoint") && tok && *tok;
	if (known)
		snprintf(buf, n, "%s", tok);
	rc_st_close(s);
	return known;
}
