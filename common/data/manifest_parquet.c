/* manifest_parquet.c - Parquet rows as manifest records (manifest.h), and
 * what tells a text manifest from a binary file. A row's fields are read
 * as a JSON line's (manifest_json.c): the official column names are the
 * JSONL field names. The image is a path, or embedded as Hugging Face
 * `datasets` writes an Image feature, struct<bytes: binary, path: string>
 * (RCLIP-Bench: "image" with "image_name" beside it); embedded bytes go
 * into the record itself, never to a temporary file.
 */
#include "data/manifest.h"
#include "data/manifest_impl.h"

#include <string.h>

#include "base/error.h"
#include "base/utf8.h"

static const char *string_of(const json_t *o, const char *k, size_t *len)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

int rc_manifest_parquet_record(json_t *row, int schema, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, char *why, size_t n, int *fit)
{
	const char *bytes = NULL, *ipath = NULL;
	size_t nbytes = 0, nipath = 0;
	json_t *img = json_object_get(row, "image");
	if (json_is_object(img)) {
		bytes = string_of(img, "bytes", &nbytes);
		if (!bytes)
			ipath = string_of(img, "path", &nipath);
	} else if (json_is_string(img) && json_string_length(img)) {
		bytes = json_string_value(img); /* a plain binary column */
		nbytes = json_string_length(img);
	}
	if (!bytes) {
		/* A path: image_path, or the Image feature's path. */
		if (!json_object_get(row, "image_path") && ipath &&
		    json_object_set_new(row, "image_path", json_stringn(ipath, nipath)) < 0)
			return rc_manifest_why(why, n, "image.path is not valid utf-8");
		return rc_manifest_json_value(row, schema, a, rec, image_path, why, n, fit);
	}
	if (nbytes > UINT32_MAX)
		return rc_manifest_why(why, n, "an embedded image of %zu bytes", nbytes);
	int rc = rc_manifest_json_value(row, schema, a, rec, NULL, why, n, fit);
	if (rc < 0)
		return rc;
	uint8_t *copy = rc_arena_alloc(a, nbytes);
	if (!copy) {
		rc_manifest_why(why, n, "out of memory");
		return RC_E_NOMEM;
	}
	memcpy(copy, bytes, nbytes);
	rec->image = copy;
	rec->image_len = (uint32_t)nbytes;
	if (image_path)
		*image_path = NULL;
	if (!rec->key) {
		size_t klen = 0;
		const char *k = string_of(row, "image_name", &klen);
		if (!k && json_is_object(img))
			k = string_of(img, "path", &klen);
		if (!k)
			k = string_of(row, "image_path", &klen);
		if (k && klen <= UINT32_MAX) {
			char *kc = rc_arena_strndup(a, k, klen);
			if (!kc) {
				rc_manifest_why(why, n, "out of memory");
				return RC_E_NOMEM;
			}
			rec->key = kc;
			rec->key_len = (uint32_t)klen;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- text or not */

const char *rc_manifest_sniff(const void *head, size_t n)
{
	static const struct { const char *magic; size_t len; const char *what; } known[] = {
		{ "PAR1", 4, "a parquet file" },
		{ "PK\x03\x04", 4, "a zip archive" },
		{ "\x1f\x8b", 2, "gzip data (decompress it first)" },
		{ "\x28\xb5\x2f\xfd", 4, "zstd data (decompress it first)" },
		{ "BZh", 3, "bzip2 data (decompress it first)" },
		{ "\xfd" "7zXZ", 5, "xz data (decompress it first)" },
		{ "\xff\xd8\xff", 3, "a jpeg image" },
		{ "\x89PNG", 4, "a png image" },
		{ "\x89RCS\r\n", 6, "an rclip shard (.rcs)" },
	};
	const unsigned char *s = head;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (n >= known[i].len && !memcmp(s, known[i].magic, known[i].len))
			return known[i].what;
	if (n >= 262 && !memcmp(s + 257, "ustar", 5))
		return "a tar archive (read it as webdataset: --format tar)";
	/* Text has no NUL bytes and is mostly valid UTF-8 without control
	 * characters; a cut multi-byte character at the end is fine. */
	size_t bad = 0, at = 0;
	while (at < n) {
		size_t i = at;
		unsigned char c = s[at];
		if (c == 0)
			return "binary data (nul bytes)";
		uint32_t cp = rc_utf8_next((const char *)s, n, &at);
		if (cp == 0xFFFD && !(at - i == 3 && c == 0xEF) && n - i > 3)
			bad += at - i;
		else if (cp < 0x20 && !strchr("\t\n\r\f\v", (int)cp))
			bad++;
		else if (cp == 0x7f)
			bad++;
	}
	return n && bad * 8 > n ? "binary data (mostly not utf-8 text)" : NULL;
}
