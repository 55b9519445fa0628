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
#include "data/safetensors.h"
#include "data/tokenizer_id.h"
#include "text/spm.h"

int rc_clip_model_dir(const char *path, char *dir, size_t n)
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

/* A checkpoint's "tokenizer": 1 with buf set, 0 when path is no
 * checkpoint or names none (CLIP's, or an rclip before the key). */
static int checkpoint_tokenizer(const char *path, char *buf, size_t n)
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

int rc_clip_tokenizer(const char *path, int family, char *buf, size_t n)
{
	char dir[4096], p[4200];
	struct stat st;
	int rc = checkpoint_tokenizer(path, buf, n);
	if (rc != 0)
		return rc;
	int have_dir = rc_clip_model_dir(path, dir, sizeof dir);
	if (have_dir && rc_spm_dir_kind(dir)) {
		struct rc_spm *spm;
		if ((rc = rc_spm_load_dir(&spm, dir)) < 0)
			return rc;
		snprintf(buf, n, "%s", rc_spm_id(spm)); /* not lowercased: its vocabulary */
		rc_spm_free(spm);
		return 1;
	}
	/* a CLIP model, or a SigLIP one beside CLIP's merges.txt */
	if (have_dir)
		snprintf(p, sizeof p, "%s/merges.txt", dir);
	if (family == RC_FAMILY_CLIP || (have_dir && stat(p, &st) == 0)) {
		snprintf(buf, n, "%s", RC_TOKENIZER_CLIP);
		return 1;
	}
	return 0;
}

static const char *const tokenizer_files[] = { "tokenizer.json", "tokenizer_config.json",
	"special_tokens_map.json", "spiece.model", "tokenizer.model", "added_tokens.json" };

const char *rc_clip_tokenizer_file(int i)
{
	return i >= 0 && (size_t)i < sizeof tokenizer_files / sizeof *tokenizer_files ?
		tokenizer_files[i] : NULL;
}

int rc_clip_tokenizer_beside(const char *path, const char *want, char *dir, size_t n,
	int *pad_left)
{
	if (!rc_clip_model_dir(path, dir, n) || !rc_spm_dir_kind(dir))
		return 0;
	struct rc_spm *spm;
	int rc = rc_spm_load_dir(&spm, dir);
	if (rc < 0)
		return rc;
	int same = want && rc_tokenizer_agree(rc_spm_id(spm), want);
	*pad_left = rc_spm_pad_left(spm);
	rc_spm_free(spm);
	return same;
}

int rc_clip_copy_tokenizer(const char *src, const char *dst)
{
	char from[4200], to[4200];
	int n = 0;
	for (int i = 0; rc_clip_tokenizer_file(i); i++) {
		snprintf(from, sizeof from, "%s/%s", src, rc_clip_tokenizer_file(i));
		if (access(from, R_OK) != 0)
			continue;
		snprintf(to, sizeof to, "%s/%s", dst, rc_clip_tokenizer_file(i));
		char *data;
		size_t len;
		struct rc_atomic_file af;
		int rc = rc_io_read_file(from, &data, &len);
		if (rc < 0)
			return rc;
		if ((rc = rc_atomic_open(&af, to)) == 0 &&
		    (rc = rc_io_write_all(af.f, data, len, to)) < 0)
			rc_atomic_abort(&af);
		else if (rc == 0)
			rc = rc_atomic_commit(&af);
		free(data);
		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}
