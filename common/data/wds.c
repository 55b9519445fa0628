/* wds.c - webdataset .tar input (manifest.h): one pass over the archive
 * with libarchive, members grouped into samples by key, the text member
 * parsed with the manifest record parser (manifest.c).
 *
 * A sample ends when a member with another key appears: that member's
 * header has been read, its data not yet, and it opens the next call. The
 * members of the sample being read are held in buffers owned by the
 * reader (one per kind, reused) and copied into the caller's arena only
 * when the sample is good.
 */
#include "data/manifest.h"
#include "data/manifest_impl.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

enum { M_IMAGE, M_TXT, M_JSON, M_KINDS };

/* finish() found a key with ignored members only: no sample, no error. */
enum { NO_SAMPLE = 2 };

struct member {
	uint8_t *p;
	size_t len, cap;
	int have;
	char ext[8];         /* as spelled in the tar, for messages */
};

struct rc_wds {
	struct archive *ar;
	char *name;
	int schema;
	int forced;
	char *schema_key;    /* the sample the schema was taken from */
	int done;            /* at the end, or the tar is broken */
	struct archive_entry *pending; /* a header read past the last sample */
	char *key;           /* the sample being read */
	size_t key_len, key_cap;
	int in_sample;
	struct member m[M_KINDS];
	char err[320];       /* the first problem found in the sample */
	int err_set;
	char *good;          /* the key of the last good sample */
	size_t good_cap;
	int have_good;
	int fatal_pending;   /* the tar ended early: say so at the next call */
	char fatal[200];     /* why the tar ended early */
	int fatal_errno;
	int image_only;      /* rc_wds_image_only(): texts come from elsewhere */
	int sample_text;     /* the last sample returned had a text member */
};

static void sample_reset(struct rc_wds *w)
{
	w->in_sample = 0;
	w->key_len = 0;
	w->err_set = 0;
	for (int k = 0; k < M_KINDS; k++)
		w->m[k].have = 0, w->m[k].len = 0;
}

static void sample_err(struct rc_wds *w, const char *fmt, ...)
	RC_PRINTF(2, 3);
static void sample_err(struct rc_wds *w, const char *fmt, ...)
{
	if (w->err_set)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
	w->err_set = 1;
}

/* Split a member name as webdataset does: the key runs to the first dot
 * of the last path component, the extension is the rest. A leading "./"
 * is dropped. Returns 0 for a name with no key or no extension. */
static int split_name(const char *path, const char **key, size_t *key_len,
	const char **ext)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = strchr(base, '.');
	if (!dot || dot == base || !dot[1])
		return 0;
	*key = path;
	*key_len = (size_t)(dot - path);
	*ext = dot + 1;
	return 1;
}

static int classify(const char *ext)
{
	static const char *const images[] = { "jpg", "jpeg", "png", "webp" };
	for (size_t i = 0; i < sizeof images / sizeof images[0]; i++)
		if (!strcasecmp(ext, images[i]))
			return M_IMAGE;
	if (!strcasecmp(ext, "txt"))
		return M_TXT;
	if (!strcasecmp(ext, "json"))
		return M_JSON;
	return -1;
}

/* Keep libarchive's reason for an error that ends the tar. */
static void keep_error(struct rc_wds *w)
{
	const char *s = archive_error_string(w->ar);
	snprintf(w->fatal, sizeof w->fatal, "%s", s && *s ? s : "unknown error");
	char *m = w->fatal;
	if (m[0] >= 'A' && m[0] <= 'Z' && !(m[1] >= 'A' && m[1] <= 'Z'))
		m[0] = (char)(m[0] - 'A' + 'a');
	w->fatal_errno = archive_errno(w->ar);
}

/* The tar cannot be read further: say why, with the last good key. */
static int fatal(struct rc_wds *w, char *why, size_t n)
{
	w->done = 1;
	if (!w->fatal[0])
		keep_error(w);
	const char *msg = w->fatal;
	int e = w->fatal_errno;
	if (e == EIO || e == EISDIR || e == ENXIO || e == EBADF) {
		rc_manifest_why(why, n, "read error: %s", msg);
		return RC_E_IO;
	}
	if (w->have_good)
		rc_manifest_why(why, n, "truncated or corrupt tar: %s (last good "
				"sample %s)", msg, w->good);
	else
		rc_manifest_why(why, n, "truncated or corrupt tar: %s (no good "
				"sample before it)", msg);
	return RC_E_TRUNCATED;
}

/* Read the current entry's data into mb. A member over the size limit is
 * an error of its sample (its data is skipped with the next header). */
static int read_member(struct rc_wds *w, struct member *mb,
	struct archive_entry *e, const char *ext, char *why, size_t n)
{
	int kw = w->key_len > INT_MAX ? INT_MAX : (int)w->key_len;
	if (mb->have) {
		sample_err(w, "%.*s: two %s members (.%s and .%s)", kw, w->key,
			   mb == &w->m[M_IMAGE] ? "image" : "text", mb->ext, ext);
		return 0;
	}
	snprintf(mb->ext, sizeof mb->ext, "%s", ext);
	la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	if (size > (la_int64_t)RC_WDS_MAX_MEMBER) {
		sample_err(w, "%.*s.%s: %lld bytes, over the limit of %zu MiB", kw,
			   w->key, ext, (long long)size, RC_WDS_MAX_MEMBER >> 20);
		return 0;
	}
	/* One byte past a known size, so that the read that finds the end
	 * does not need a bigger buffer. */
	size_t need = size >= 0 ? (size_t)size + 1 : 64 * 1024;
	if (rc_grow((void **)&mb->p, &mb->cap, need, 1) < 0)
		return RC_E_NOMEM;
	mb->len = 0;
	for (;;) {
		if (mb->len == mb->cap &&
		    rc_grow((void **)&mb->p, &mb->cap, mb->cap + 1, 1) < 0)
			return RC_E_NOMEM;
		la_ssize_t r = archive_read_data(w->ar, mb->p + mb->len,
						 mb->cap - mb->len);
		if (r == 0)
			break;
		if (r < 0)
			return fatal(w, why, n);
		mb->len += (size_t)r;
		if (mb->len > RC_WDS_MAX_MEMBER) {
			sample_err(w, "%.*s.%s: over the limit of %zu MiB", kw,
				   w->key, ext, RC_WDS_MAX_MEMBER >> 20);
			return 0;
		}
	}
	mb->have = 1;
	return 0;
}

static void add_origin(const struct rc_wds *w, char *why, size_t n)
{
	size_t k = why && n ? strlen(why) : 0;
	if (k + 1 >= n)
		return;
	if (w->forced)
		snprintf(why + k, n - k, " (schema given)");
	else
		snprintf(why + k, n - k, " (schema of sample %s)", w->schema_key);
}

/* The .txt member as a descriptive record. */
static int txt_record(struct rc_wds *w, struct rc_arena *a,
	struct rc_record *rec, char *why, size_t n)
{
	int kw = w->key_len > INT_MAX ? INT_MAX : (int)w->key_len;
	const struct member *t = &w->m[M_TXT];
	size_t len = t->len;
	const char *s = (const char *)t->p;
	if (len && s[len - 1] == '\n')
		len--;
	if (len && s[len - 1] == '\r')
		len--;
	char r[256];
	if (rc_manifest_check_caption(s, len, "caption", r, sizeof r) < 0)
		return rc_manifest_why(why, n, "%.*s.%s: %s", kw, w->key, t->ext, r);
	if (w->schema > RC_SCHEMA_DESC) {
		rc_manifest_why(why, n, "%.*s.%s: descriptive record, expected %s",
				kw, w->key, t->ext, rc_manifest_schema_name(w->schema));
		add_origin(w, why, n);
		return RC_E_FORMAT;
	}
	return rc_manifest_text_record(a, rec, s, len, w->key, w->key_len);
}

/* A good sample's key, for the message of a damaged tar. Returns 1. */
static int keep_good(struct rc_wds *w)
{
	if (rc_grow((void **)&w->good, &w->good_cap, w->key_len + 1, 1) < 0)
		return RC_E_NOMEM;
	memcpy(w->good, w->key, w->key_len);
	w->good[w->key_len] = '\0';
	w->have_good = 1;
	return 1;
}

/* An image-only sample: the key and the image, no texts (schema NONE). */
static int image_record(struct rc_wds *w, struct rc_arena *a, struct rc_record *rec,
	const uint8_t **image, size_t *image_len, char *why, size_t n)
{
	const struct member *img = &w->m[M_IMAGE];
	int kw = w->key_len > INT_MAX ? INT_MAX : (int)w->key_len;
	if (img->len == 0)
		return rc_manifest_why(why, n, "%.*s.%s: empty image member", kw,
				       w->key, img->ext);
	memset(rec, 0, sizeof *rec);
	uint8_t *p = rc_arena_alloc(a, img->len);
	if (!p || !(rec->key = rc_arena_strndup(a, w->key, w->key_len)))
		return RC_E_NOMEM;
	memcpy(p, img->p, img->len);
	rec->key_len = (uint32_t)w->key_len;
	rec->image = p;
	rec->image_len = (uint32_t)img->len;
	*image = p;
	*image_len = img->len;
	w->sample_text = w->m[M_TXT].have || w->m[M_JSON].have;
	return keep_good(w);
}

/* The sample just read, as a record. */
static int finish(struct rc_wds *w, struct rc_arena *a, struct rc_record *rec,
	const uint8_t **image, size_t *image_len, char *why, size_t n)
{
	const struct member *img = &w->m[M_IMAGE], *txt = &w->m[M_TXT],
		*js = &w->m[M_JSON];
	int kw = w->key_len > INT_MAX ? INT_MAX : (int)w->key_len;
	if (w->err_set)
		return rc_manifest_why(why, n, "%s", w->err);
	if (!img->have && !txt->have && !js->have)
		return NO_SAMPLE;
	if (!img->have)
		return rc_manifest_why(why, n, "%.*s: no image member (.jpg .jpeg "
				       ".png .webp)", kw, w->key);
	if (w->image_only)
		return image_record(w, a, rec, image, image_len, why, n);
	if (!txt->have && !js->have)
		return rc_manifest_why(why, n, "%.*s: no text member (.txt or "
				       ".json)", kw, w->key);
	if (img->len == 0)
		return rc_manifest_why(why, n, "%.*s.%s: empty image member", kw,
				       w->key, img->ext);
	/* The .json when it holds a record of the schema wanted (any schema
	 * before one is known); else the .txt, if any: the .json of an
	 * img2dataset shard is metadata beside the .txt caption. */
	int rc = RC_E_FORMAT, fit = RC_FIT_NONE;
	char jwhy[256] = "";
	if (js->have) {
		rc = rc_manifest_json_record((const char *)js->p, js->len, w->schema,
					     a, rec, NULL, jwhy, sizeof jwhy, &fit);
		if (rc == RC_E_NOMEM)
			return rc;
	}
	if (rc < 0 && txt->have && fit != RC_FIT_BAD) {
		rc = txt_record(w, a, rec, why, n);
	} else if (rc < 0) {
		rc_manifest_why(why, n, "%.*s.%s: %s", kw, w->key, js->ext, jwhy);
		if (fit == RC_FIT_OTHER)
			add_origin(w, why, n);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (!rec->key) {
		rec->key = rc_arena_strndup(a, w->key, w->key_len);
		rec->key_len = (uint32_t)w->key_len;
		if (!rec->key)
			return RC_E_NOMEM;
	}
	uint8_t *p = rc_arena_alloc(a, img->len);
	if (!p)
		return RC_E_NOMEM;
	if (img->len)
		memcpy(p, img->p, img->len);
	rec->image = p;
	rec->image_len = (uint32_t)img->len;
	*image = p;
	*image_len = img->len;
	if (w->schema == RC_SCHEMA_NONE) {
		if (!(w->schema_key = rc_malloc(w->key_len + 1)))
			return RC_E_NOMEM;
		memcpy(w->schema_key, w->key, w->key_len + 1);
		w->schema = rec->schema;
	}
	return keep_good(w);
}

int rc_wds_next(struct rc_wds *w, struct rc_arena *a, struct rc_record *rec,
	const uint8_t **image, size_t *image_len, char *why, size_t n)
{
	const uint8_t *img_dummy;
	size_t len_dummy;
	if (!image)
		image = &img_dummy;
	if (!image_len)
		image_len = &len_dummy;
	if (why && n)
		why[0] = '\0';
	if (w->fatal_pending) {
		w->fatal_pending = 0;
		return fatal(w, why, n);
	}
	if (w->done)
		return 0;
	sample_reset(w);
	for (;;) {
		struct archive_entry *e = w->pending;
		w->pending = NULL;
		if (!e) {
			int r = archive_read_next_header(w->ar, &e);
			if (r == ARCHIVE_EOF) {
				w->done = 1;
				int rc = w->in_sample ?
					finish(w, a, rec, image, image_len, why, n) : NO_SAMPLE;
				return rc == NO_SAMPLE ? 0 : rc;
			}
			if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
				/* The sample read so far may be whole: give it
				 * first, and the error at the next call. */
				keep_error(w);
				if (w->in_sample && finish(w, a, rec, image, image_len,
							   why, n) == 1) {
					w->fatal_pending = 1;
					return 1;
				}
				return fatal(w, why, n);
			}
		}
		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
			continue;
		const char *path = archive_entry_pathname(e);
		if (!path)
			path = archive_entry_pathname_utf8(e);
		const char *key, *ext;
		size_t key_len;
		if (!path || !split_name(path, &key, &key_len, &ext))
			continue;
		if (w->in_sample && (key_len != w->key_len ||
				     memcmp(key, w->key, key_len))) {
			w->pending = e;
			int rc = finish(w, a, rec, image, image_len, why, n);
			if (rc != NO_SAMPLE)
				return rc;
			sample_reset(w);
			continue;
		}
		if (!w->in_sample) {
			if (rc_grow((void **)&w->key, &w->key_cap, key_len + 1, 1) < 0)
				return RC_E_NOMEM;
			memcpy(w->key, key, key_len);
			w->key[key_len] = '\0';
			w->key_len = key_len;
			w->in_sample = 1;
		}
		int kind = classify(ext);
		if (kind < 0)
			continue;
		if (w->image_only && kind != M_IMAGE) {
			w->m[kind].have = 1; /* noted, not read */
			continue;
		}
		int rc = read_member(w, &w->m[kind], e, ext, why, n);
		if (rc < 0)
			return rc;
	}
}

/* ---------------------------------------------------------------- open, close */

static int wds_new(struct rc_wds **out, const char *name, int schema)
{
	*out = NULL;
	if (schema < RC_SCHEMA_NONE || schema > RC_SCHEMA_SETS)
		return rc_log_error(RC_E_ARG, "%s: unknown schema %d", name, schema);
	struct rc_wds *w = rc_calloc(1, sizeof *w);
	if (!w || !(w->name = rc_strdup(name))) {
		free(w);
		return RC_E_NOMEM;
	}
	if (!(w->ar = archive_read_new())) {
		free(w->name);
		free(w);
		return rc_log_error(RC_E_NOMEM, "out of memory (archive reader)");
	}
	/* Tars compressed the usual ways work too, and a file of 0 bytes is
	 * an empty tar. Not every filter: some run an external program. */
	archive_read_support_filter_gzip(w->ar);
	archive_read_support_filter_bzip2(w->ar);
	archive_read_support_filter_xz(w->ar);
	archive_read_support_filter_zstd(w->ar);
	archive_read_support_format_tar(w->ar);
	archive_read_support_format_empty(w->ar);
	w->schema = schema;
	w->forced = schema != RC_SCHEMA_NONE;
	*out = w;
	return 0;
}

/* libarchive reads the first block when it opens an input, to tell its
 * format: data that is not a tar is reported by the first rc_wds_next(),
 * as a corrupt tar; a file that cannot be opened or read is an error now. */
static int open_failed(struct rc_wds **out, const char *name)
{
	struct rc_wds *w = *out;
	int e = archive_errno(w->ar);
	const char *s = archive_error_string(w->ar);
	if (e == EILSEQ || e <= 0) { /* libarchive's format errors, not errno */
		keep_error(w);
		w->fatal_pending = 1;
		return 0;
	}
	rc_log_error(RC_E_IO, "%s: %s", name, e > 0 ? strerror(e) :
		     s ? s : "cannot open");
	rc_wds_close(w);
	*out = NULL;
	return RC_E_IO;
}

int rc_wds_open(struct rc_wds **out, const char *path, int schema)
{
	int dash = !strcmp(path, "-");
	int rc = wds_new(out, dash ? "standard input" : path, schema);
	if (rc < 0)
		return rc;
	if (archive_read_open_filename((*out)->ar, dash ? NULL : path,
				       1 << 20) != ARCHIVE_OK)
		return open_failed(out, (*out)->name);
	return 0;
}

int rc_wds_open_memory(struct rc_wds **out, const void *data, size_t size,
	const char *name, int schema)
{
	int rc = wds_new(out, name ? name : "(memory)", schema);
	if (rc < 0)
		return rc;
	if (archive_read_open_memory((*out)->ar, data, size) != ARCHIVE_OK)
		return open_failed(out, (*out)->name);
	return 0;
}

void rc_wds_image_only(struct rc_wds *w)
{
	w->image_only = 1;
}

int rc_wds_sample_text(const struct rc_wds *w)
{
	return w->sample_text;
}

int rc_wds_schema(const struct rc_wds *w)
{
	return w->schema;
}

void rc_wds_close(struct rc_wds *w)
{
	if (!w)
		return;
	archive_read_free(w->ar);
	for (int k = 0; k < M_KINDS; k++)
		free(w->m[k].p);
	free(w->key);
	free(w->good);
	free(w->schema_key);
	free(w->name);
	free(w);
}
