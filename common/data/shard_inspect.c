/* shard_inspect.c - a look inside a shard (rclip-shard --inspect): the
 * header and metadata as text or JSON, every record as a JSON line, each
 * image as a PPM file, and every record's checksum checked on the way.
 */
#include "data/shard.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "data/image.h"

static const char *role_name(int role)
{
	static const char *names[] = {"?", "caption", "tb", "trl", "trp", "tag", "gt", "neg"};
	return role > 0 && role <= RC_ROLE_NEG ? names[role] : "?";
}

static json_t *record_json(const char *shard, uint64_t i, const struct rc_record *rec)
{
	json_t *texts = json_array(), *labels = json_array();
	for (uint32_t t = 0; t < rec->ntexts; t++) {
		const struct rc_text *x = &rec->texts[t];
		json_t *tok = json_array();
		for (uint16_t k = 0; k < x->ntokens; k++)
			json_array_append_new(tok, json_integer(rc_text_token(x, k)));
		json_array_append_new(texts, json_pack("{s:s, s:i, s:s%, s:o}", "role",
			role_name(x->role), "group", x->group, "text", x->s, (size_t)x->len,
			"tokens", tok));
	}
	for (uint32_t l = 0; l < rec->nlabels; l++)
		json_array_append_new(labels, json_integer(rec->labels[l]));
	return json_pack("{s:s, s:I, s:s%, s:s, s:o, s:o, s:I}", "shard", shard, "index",
		(json_int_t)i, "key", rec->key ? rec->key : "", (size_t)rec->key_len, "schema",
		rc_shard_schema_name(rec->schema), "texts", texts, "labels", labels, "image_bytes",
		(json_int_t)rec->image_len);
}

/* KEY.ppm in dir, the key made a file name ('/' and control characters
 * become '_'). An empty key, or one too long for a file name, gives
 * INDEX.ppm, or the key's first 200 bytes and -INDEX. A key that repeats
 * overwrites the earlier file. */
static int write_ppm(const char *dir, const struct rc_record *rec, uint64_t i,
	const uint8_t *rgb, int S)
{
	char name[4096];
	int n = snprintf(name, sizeof name, "%s/", dir);
	size_t len = rec->key_len > 200 ? 200 : rec->key_len;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)rec->key[k];
		name[n++] = (c == '/' || c < 0x20 || c == 0x7F) ? '_' : (char)c;
	}
	if (!rec->key_len)
		snprintf(name + n, sizeof name - (size_t)n, "%llu.ppm", (unsigned long long)i);
	else if (rec->key_len > len)
		snprintf(name + n, sizeof name - (size_t)n, "-%llu.ppm", (unsigned long long)i);
	else
		snprintf(name + n, sizeof name - (size_t)n, ".ppm");
	struct rc_atomic_file af;
	int rc = rc_atomic_open(&af, name);
	if (rc < 0)
		return rc;
	fprintf(af.f, "P6\n%d %d\n255\n", S, S);
	if ((rc = rc_io_write_all(af.f, rgb, (size_t)S * (size_t)S * 3, name)) < 0) {
		rc_atomic_abort(&af);
		return rc;
	}
	return rc_atomic_commit(&af);
}

static void print_json(FILE *out, json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (txt)
		fprintf(out, "%s\n", txt);
	free(txt);
	json_decref(j);
}

static void print_header(FILE *out, const struct rc_shard_inspect_opts *o, struct rc_shard *s,
	const char *name, int stream)
{
	const struct rc_shard_info *in = rc_shard_info(s);
	char hex[RC_HASH64_HEX_SIZE] = "-";
	uint64_t h;
	if (!stream && rc_shard_hash(s, &h) == 0) /* a pipe cannot be read twice */
		rc_hash64_hex(h, hex);
	if (o->json) {
		json_t *meta = json_object();
		for (size_t i = 0; i < rc_shard_meta_count(s); i++) {
			const char *k, *v;
			rc_shard_meta_at(s, i, &k, &v);
			json_object_set_new(meta, k, json_string(v));
		}
		print_json(out, json_pack("{s:s, s:i, s:I, s:s, s:s, s:i, s:i, s:i, s:I, s:s, s:o}",
			"shard", name, "version", in->version, "records", (json_int_t)in->records,
			"schema", rc_shard_schema_name((int)in->schema), "storage",
			rc_shard_store_name((int)in->store), "image_size", in->image_size,
			"text_ctx", in->text_ctx, "token_bytes", in->token_bytes,
			"bytes", (json_int_t)in->file_size, "xxh3", hex, "metadata", meta));
		return;
	}
	/* the width only where it is not v1's, whose line stays as it was */
	fprintf(out, "%s: rclip shard v%u, %llu records, %s, %s %ux%u, text context %u%s, "
		"%llu bytes, xxh3 %s\n", name, in->version, (unsigned long long)in->records,
		rc_shard_schema_name((int)in->schema), rc_shard_store_name((int)in->store),
		in->image_size, in->image_size, in->text_ctx,
		in->token_bytes == 4 ? " (32-bit ids)" : "", (unsigned long long)in->file_size, hex);
	for (size_t i = 0; i < rc_shard_meta_count(s); i++) {
		const char *k, *v;
		rc_shard_meta_at(s, i, &k, &v);
		fprintf(out, "  %s: %s\n", k, v);
	}
}

/* One record's JSON line and PPM file, as o asks. */
static int show_record(FILE *out, const struct rc_shard_inspect_opts *o, const char *name,
	uint64_t i, const struct rc_record *rec, const struct rc_shard_info *in)
{
	if (o->records)
		print_json(out, record_json(name, i, rec));
	if (!o->pixels_dir)
		return 0;
	int S = (int)in->image_size, rc = 0;
	struct rc_image im = {0};
	const uint8_t *px = rec->image;
	if (in->store == RC_STORE_JPEG) {
		char why[160];
		rc = rc_image_decode(rec->image, rec->image_len, NULL, &im, why, sizeof why);
		if (rc < 0 || im.w != S || im.h != S) {
			rc = rc_log_error(rc < 0 ? rc : RC_E_FORMAT, "%s: record %llu: %s", name,
				(unsigned long long)i, rc < 0 ? why : "the image is not S×S");
			rc_image_free(&im);
			return rc;
		}
		px = im.rgb;
	}
	rc = write_ppm(o->pixels_dir, rec, i, px, S);
	rc_image_free(&im);
	return rc;
}

int rc_shard_inspect(FILE *out, const char *path, const struct rc_shard_inspect_opts *o)
{
	int stream = !strcmp(path, "-");
	const char *name = stream ? "(stdin)" : path;
	struct rc_shard *s;
	int rc = stream ? rc_shard_open_stream(&s, stdin, name) : rc_shard_open(&s, path);
	if (rc < 0)
		return rc;
	if (!o->records)
		print_header(out, o, s, name, stream);
	int status = 0;
	if (!o->records && !o->pixels_dir) {
		status = rc_shard_verify(s, NULL);
	} else {
		struct rc_record rec;
		for (uint64_t i = 0; i < rc_shard_count(s); i++) {
			if ((rc = rc_shard_next(s, &rec, NULL)) < 0) {
				status = rc; /* logged; go on with the next record */
				if (stream)
					break; /* a stream cannot skip a bad record */
				continue;
			}
			if (rc == 0)
				break;
			if ((rc = show_record(out, o, name, i, &rec, rc_shard_info(s))) < 0) {
				status = rc;
				break;
			}
		}
		if (stream && status == 0 && (rc = rc_shard_next(s, &rec, NULL)) < 0)
			status = rc; /* the index and the end of the stream */
	}
	rc_shard_close(s);
	return status;
}
