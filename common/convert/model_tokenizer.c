/* model_tokenizer.c - which tokenizer's ids a model takes (model_io.h,
 * rc_clip_tokenizer): what rclip-train holds a shard's "tokenizer" to
 * (data/tokenizer_id.h) and writes into its checkpoints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io.h"
#include "data/tokenizer_id.h"
#include "text/spm.h"

int rc_clip_tokenizer(const char *path, int family, struct rc_clip_tok *t)
{
	char p[4200];
	struct stat st;
	t->id[0] = t->dir[0] = '\0', t->pad_left = 0;
	int named = rc_tokenizer_checkpoint(path, t->id, sizeof t->id);
	if (named < 0)
		return named;
	int have_dir = rc_tokenizer_model_dir(path, t->dir, sizeof t->dir);
	if (have_dir && rc_spm_dir_kind(t->dir)) {
		struct rc_spm *spm;
		int rc = rc_spm_load_dir(&spm, t->dir);
		if (rc < 0) {
			t->dir[0] = '\0';
			return rc;
		}
		if (!named)     /* not lowercased: its vocabulary */
			snprintf(t->id, sizeof t->id, "%s", rc_spm_id(spm));
		if (rc_tokenizer_agree(rc_spm_id(spm), t->id))
			t->pad_left = rc_spm_pad_left(spm);
		else
			t->dir[0] = '\0';
		rc_spm_free(spm);
		return 1;
	}
	if (have_dir)
		snprintf(p, sizeof p, "%s/merges.txt", t->dir);
	t->dir[0] = '\0';
	if (named)
		return 1;
	/* a CLIP model, or a SigLIP one beside CLIP's merges.txt */
	if (family == RC_FAMILY_CLIP || (have_dir && stat(p, &st) == 0)) {
		snprintf(t->id, sizeof t->id, "%s", RC_TOKENIZER_CLIP);
		return 1;
	}
	return 0;
}

static const char *const tokenizer_files[] = { "tokenizer.json", "tokenizer_config.json",
	"special_tokens_map.json", "spiece.model", "tokenizer.model", "added_tokens.json" };

int rc_clip_tokenizer_files(const char *dir, int (*put)(void *ctx, const char *name,
	const char *data, size_t len), void *ctx)
{
	char path[4200];
	int n = 0;
	for (size_t i = 0; i < sizeof tokenizer_files / sizeof *tokenizer_files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, tokenizer_files[i]);
		if (access(path, R_OK) != 0)
			continue;
		char *data;
		size_t len;
		int rc = rc_io_read_file(path, &data, &len);
		if (rc < 0)
			return rc;
		rc = put(ctx, tokenizer_files[i], data, len);
		free(data);
		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}

/* put_atomic - data as file name of directory ctx, replaced atomically. */
static int put_atomic(void *ctx, const char *name, const char *data, size_t len)
{
	char to[4200];
	snprintf(to, sizeof to, "%s/%s", (const char *)ctx, name);
	return rc_atomic_write_file(to, data, len);
}

int rc_clip_copy_tokenizer(const char *src, const char *dst)
{
	return rc_clip_tokenizer_files(src, put_atomic, (void *)dst);
}
