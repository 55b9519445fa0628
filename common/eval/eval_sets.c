/* eval_sets.c - choice sets read from JSONL as the official RCLIP-Bench
 * script (eval_RCLIP.py) reads them, so that the same items are scored:
 *
 *   - a row {"error": ...} without "sets", a row without an image_path
 *     string or without a non-empty "sets" list: dropped;
 *   - each set on its own: a non-empty "tag" string, a "gt" string that is
 *     not all whitespace, "neg" a list of the required number of such
 *     strings (4 for RCLIP-Bench; src->negatives, 0 = any >= 1); a set that
 *     fails is dropped and the record's other sets kept, a record left
 *     with none is dropped;
 *   - texts are stripped of leading and trailing whitespace (str.strip);
 *   - "id" may be missing: the item is kept (named by its image_path).
 * rclip names every dropped item (file:line: why) and counts it, where the
 * official script drops it silently; --strict makes it an error. A line
 * that is not JSON, which stops the official script, is dropped the same
 * way. */
#include "eval/eval_data.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/utf8.h"
#include "eval/eval_data_impl.h"

/* s (len bytes) without leading and trailing Python whitespace: *out, *n. */
static void strip(const char *s, size_t len, const char **out, size_t *n)
{
	size_t b = 0, e = len, i;
	while (b < e) {
		i = b;
		if (!rc_utf8_is_space(rc_utf8_next(s, e, &i)))
			break;
		b = i;
	}
	while (e > b) {
		size_t k = e - 1; /* back to the start of the last code point */
		while (k > b && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		i = k;
		if (!rc_utf8_is_space(rc_utf8_next(s, e, &i)))
			break;
		e = k;
	}
	*out = s + b;
	*n = e - b;
}

/* A stripped, non-empty string v into txt/len; else a reason. */
static const char *text_of(const json_t *v, const char **txt, uint32_t *len)
{
	if (!json_is_string(v))
		return v ? "not a string" : "missing";
	size_t n;
	strip(json_string_value(v), json_string_length(v), txt, &n);
	if (!n)
		return "empty or whitespace only";
	if (n > UINT32_MAX)
		return "too long";
	*len = (uint32_t)n;
	return NULL;
}

/* Set g of a record: 0 with the texts in txt/len (gt first) and *ntxt, or
 * a reason in why. */
static int check_set(const json_t *set, int negatives, const char **txt, uint32_t *len,
	size_t cap, uint32_t *ntxt, const char **tag, uint32_t *tag_len, char *why, size_t n)
{
	const char *w;
	if (!json_is_object(set))
		return snprintf(why, n, "not an object"), -1;
	const json_t *t = json_object_get(set, "tag");
	if (!json_is_string(t) || !json_string_length(t))
		return snprintf(why, n, "no tag string"), -1;
	*tag = json_string_value(t);
	*tag_len = (uint32_t)json_string_length(t);
	if ((w = text_of(json_object_get(set, "gt"), &txt[0], &len[0])))
		return snprintf(why, n, "gt: %s", w), -1;
	const json_t *neg = json_object_get(set, "neg");
	if (!json_is_array(neg))
		return snprintf(why, n, "neg is not a list"), -1;
	size_t k = json_array_size(neg);
	if (k < 1 || (negatives && k != (size_t)negatives) || k + 1 > cap) {
		if (negatives)
			snprintf(why, n, "%zu negatives, expected %d", k, negatives);
		else
			snprintf(why, n, "%zu negatives, expected 1 to %zu", k, cap - 1);
		return -1;
	}
	for (size_t q = 0; q < k; q++)
		if ((w = text_of(json_array_get(neg, q), &txt[q + 1], &len[q + 1])))
			return snprintf(why, n, "neg[%zu]: %s", q, w), -1;
	*ntxt = (uint32_t)k + 1;
	return 0;
}

/* The key of a record: its "id" (a string, or an integer written out),
 * else the image path. */
static const char *key_of(struct rc_eval_data *d, const json_t *id, const char *ipath)
{
	char buf[32];
	if (json_is_string(id))
		return rc_arena_strndup(&d->arena, json_string_value(id), json_string_length(id));
	if (json_is_integer(id)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(id));
		return rc_arena_strdup(&d->arena, buf);
	}
	return ipath;
}

/* Copy the n texts of a set into d's arena (the JSON is freed per line). */
static int keep_texts(struct rc_eval_data *d, const char **txt, const uint32_t *len, uint32_t n)
{
	for (uint32_t q = 0; q < n; q++)
		if (!(txt[q] = rc_arena_strndup(&d->arena, txt[q], len[q])))
			return RC_E_NOMEM;
	return 0;
}

enum { MAX_CAND = 1024 }; /* texts of one set: the true one and the negatives */

/* One JSONL line: 0 (kept or skipped), or RC_E_FORMAT (strict), RC_E_NOMEM. */
static int one_line(void *ctx, struct rc_eval_data *d, const struct rc_eval_line *l)
{
	(void)ctx;
	const struct rc_eval_source *o = l->o;
	const char *txt[MAX_CAND], *name = l->name;
	uint32_t len[MAX_CAND];
	uint64_t lineno = l->lineno;
	char why[256];
	json_error_t je;
	const char *line;
	size_t n;
	strip(l->s, l->len, &line, &n); /* Python's str.strip: Unicode spaces too */
	json_t *j = json_loadb(line, n, 0, &je);
	int rc = 0;
	if (!j)
		return rc_eval_data_bad(d, o->strict, name, lineno, -1, "not JSON: %s (column %d)",
			je.text, je.column);
	const json_t *ip = json_object_get(j, "image_path"), *sets = json_object_get(j, "sets");
	if (!json_is_object(j))
		rc = rc_eval_data_bad(d, o->strict, name, lineno, -1, "not a JSON object");
	else if (json_object_get(j, "error") && !sets)
		rc = rc_eval_data_bad(d, o->strict, name, lineno, -1, "an \"error\" row, no sets");
	else if (!json_is_string(ip) || !json_string_length(ip))
		rc = rc_eval_data_bad(d, o->strict, name, lineno, -1, "no image_path string");
	else if (!json_is_array(sets) || !json_array_size(sets))
		rc = rc_eval_data_bad(d, o->strict, name, lineno, -1, "no sets list");
	if (rc < 0 || !json_is_object(j) || !json_is_string(ip) || !json_string_length(ip) ||
	    !json_is_array(sets) || !json_array_size(sets)) {
		json_decref(j);
		return rc;
	}
	const char *ipath = rc_arena_strdup(&d->arena, json_string_value(ip));
	const char *key = ipath ? key_of(d, json_object_get(j, "id"), ipath) : NULL;
	struct rc_encode_image im = {.path = ipath ? rc_eval_data_join(d, l->root, ipath) : NULL};
	uint32_t image = (uint32_t)d->ni;
	int added = 0;
	if (!key || !im.path)
		rc = RC_E_NOMEM;
	for (size_t g = 0; rc == 0 && g < json_array_size(sets); g++) {
		const char *tag;
		uint32_t tag_len, ntxt;
		if (check_set(json_array_get(sets, g), o->negatives, txt, len, MAX_CAND, &ntxt, &tag,
			    &tag_len, why, sizeof why) < 0) {
			rc = rc_eval_data_bad(d, o->strict, name, lineno, (int)g, "%s", why);
			continue;
		}
		if (!added && (rc = rc_eval_data_add_image(d, &im, key, ipath, name, lineno, 0)) < 0)
			break;
		added = 1;
		if ((rc = keep_texts(d, txt, len, ntxt)) < 0)
			break;
		if (o->task == RC_EVAL_RCLIP_RETRIEVAL)
			rc = rc_eval_data_add_text(d, txt[0], len[0], image);
		else
			rc = rc_eval_data_add_set(d, image, (uint32_t)g, tag, tag_len, txt, len, ntxt);
	}
	json_decref(j);
	return rc;
}

int rc_eval_sets_read_jsonl(const struct rc_eval_source *o, struct rc_eval_data *d)
{
	return rc_eval_data_lines(o, d, one_line, NULL);
}
