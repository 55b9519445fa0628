/* manifest_json.c - one JSON object into a record (manifest.h): the four
 * official schemas, what makes an object claim one, and a reason for
 * every way a record can be wrong.
 *
 * A record is checked completely before anything is allocated: its texts
 * are first collected as pointers into the parsed JSON, so a bad line
 * costs the caller's arena nothing.
 */
#include "data/manifest.h"
#include "data/manifest_impl.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"

/* A choice set is a tag, a true caption and 4 false ones, in one record. */
enum { NEGS = 4, SET_TEXTS = 2 + NEGS, MAX_SETS = RC_RECORD_MAX_TEXTS / SET_TEXTS };

/* ---------------------------------------------------------------- JSON fields */

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

/* A field name with an optional index, for messages: "tb[1]". */
static const char *label(char *buf, size_t n, const char *field, long idx)
{
	if (idx < 0)
		snprintf(buf, n, "%s", field);
	else
		snprintf(buf, n, "%s[%ld]", field, idx);
	return buf;
}

/* One string field v (NULL when missing), checked and collected. */
static int take_text(struct rc_manifest_draft *p, const json_t *v, int role, int group,
	const char *field, long idx, char *why, size_t n)
{
	char name[64];
	label(name, sizeof name, field, idx);
	if (!v)
		return rc_manifest_why(why, n, "missing field %s", name);
	if (!json_is_string(v))
		return rc_manifest_why(why, n, "%s is %s, expected a string", name,
				       type_name(v));
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (rc_manifest_is_blank(s, len)) {
		if (role == RC_ROLE_TAG)
			return rc_manifest_why(why, n, "empty tag in %s", name);
		if (!strcmp(name, "caption"))
			return rc_manifest_why(why, n, "empty caption");
		return rc_manifest_why(why, n, "empty caption in %s", name);
	}
	if (len > UINT32_MAX)
		return rc_manifest_why(why, n, "%s is longer than 4 GiB", name);
	rc_assert(p->nt < RC_RECORD_MAX_TEXTS);
	p->t[p->nt++] = (struct rc_manifest_text){ s, len, (uint8_t)role, (uint8_t)group };
	return 0;
}

/* An array field of strings: present, an array, every entry a string;
 * then its size must be want (or, with want 0, between 1 and max). */
static int take_strings(const json_t *arr, const char *field, size_t want,
	size_t max, const char *what, char *why, size_t n)
{
	if (!arr)
		return rc_manifest_why(why, n, "missing field %s", field);
	if (!json_is_array(arr))
		return rc_manifest_why(why, n, "%s is %s, expected an array of %s",
				       field, type_name(arr), what);
	size_t k = json_array_size(arr);
	for (size_t i = 0; i < k; i++) {
		const json_t *v = json_array_get(arr, i);
		if (!json_is_string(v))
			return rc_manifest_why(why, n, "%s[%zu] is %s, expected a string",
					       field, i, type_name(v));
	}
	if (want && k != want)
		return rc_manifest_why(why, n, "%s has %zu %s, expected %zu", field,
				       k, what, want);
	if (!want && k == 0)
		return rc_manifest_why(why, n, "%s is empty", field);
	if (!want && k > max)
		return rc_manifest_why(why, n, "%s has %zu %s, at most %zu", field,
				       k, what, max);
	return 0;
}

/* A string array whose entries all become texts of one role. */
static int take_text_array(struct rc_manifest_draft *p, const json_t *arr, int role,
	int group, const char *field, size_t want, char *why, size_t n)
{
	int rc = take_strings(arr, field, want, RC_RECORD_MAX_TEXTS, "strings", why, n);
	for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++)
		rc = take_text(p, json_array_get(arr, i), role, group, field,
			       (long)i, why, n);
	return rc;
}

/* A category code: a string that is one of S A H T P. */
static int take_code(struct rc_manifest_draft *p, const json_t *v, const char *field,
	long idx, char *why, size_t n)
{
	char name[64];
	label(name, sizeof name, field, idx);
	if (!v)
		return rc_manifest_why(why, n, "missing field %s", name);
	if (!json_is_string(v))
		return rc_manifest_why(why, n, "%s is %s, expected a string", name,
				       type_name(v));
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	int id = len == 1 ? rc_category_id((unsigned char)s[0]) : -1;
	if (id < 0)
		return rc_manifest_why(why, n, "unknown category code '%.*s%s' in %s "
				       "(expected one of S A H T P)",
				       (int)(len > 16 ? 16 : len), s,
				       len > 16 ? "..." : "", name);
	p->labels[p->nl++] = (uint8_t)id;
	return 0;
}

/* ---------------------------------------------------------------- schemas */

static int has(const json_t *o, const char *k)
{
	return json_object_get(o, k) != NULL;
}

/* Whether the object has a field that only schema s has. */
static int claims(const json_t *o, int s)
{
	switch (s) {
	case RC_SCHEMA_DESC: return has(o, "caption") || has(o, "captions");
	case RC_SCHEMA_LITE: return has(o, "tb") || has(o, "trl");
	case RC_SCHEMA_PRO:
		return has(o, "trp") || has(o, "trp_cls") || has(o, "trp_cls_ls");
	case RC_SCHEMA_SETS: return has(o, "sets");
	}
	return 0;
}

/* The schema an object claims: a full ReasonCLIP record may carry the
 * fields of several (caption, tb/trl, trp...), and the richest wins. */
static int claimed(const json_t *o)
{
	static const int order[] = {
		RC_SCHEMA_SETS, RC_SCHEMA_PRO, RC_SCHEMA_LITE, RC_SCHEMA_DESC,
	};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (claims(o, order[i]))
			return order[i];
	return RC_SCHEMA_NONE;
}

static int parse_desc(struct rc_manifest_draft *p, const json_t *o, char *why, size_t n)
{
	const json_t *one = json_object_get(o, "caption");
	const json_t *many = json_object_get(o, "captions");
	if (one && many)
		return rc_manifest_why(why, n, "both caption and captions");
	if (one)
		return take_text(p, one, RC_ROLE_CAPTION, 0, "caption", -1, why, n);
	return take_text_array(p, many, RC_ROLE_CAPTION, 0, "captions", 0, why, n);
}

/* ReasonLite: tb (one or more) and trl (one or more, or absent: a
 * CC12M-Refined record {image_path, tb} for the S0-Des baseline). The
 * official files hold 3 of each; rclip-shard forms the official 3 x 3. */
static int parse_lite(struct rc_manifest_draft *p, const json_t *o, char *why, size_t n)
{
	int rc = take_text_array(p, json_object_get(o, "tb"), RC_ROLE_TB, 0,
				 "tb", 0, why, n);
	const json_t *trl = json_object_get(o, "trl");
	if (rc == 0 && json_is_array(trl) &&
	    p->nt + json_array_size(trl) > RC_RECORD_MAX_TEXTS)
		return rc_manifest_why(why, n, "tb and trl have %zu captions, at most %d",
				       p->nt + json_array_size(trl), RC_RECORD_MAX_TEXTS);
	if (rc == 0 && trl)
		rc = take_text_array(p, trl, RC_ROLE_TRL, 0, "trl", 0, why, n);
	return rc;
}

static int parse_pro(struct rc_manifest_draft *p, const json_t *o, char *why, size_t n)
{
	int rc = take_text(p, json_object_get(o, "trp"), RC_ROLE_TRP, 0, "trp",
			   -1, why, n);
	if (rc == 0)
		rc = take_code(p, json_object_get(o, "trp_cls"), "trp_cls", -1, why, n);
	const json_t *ls = json_object_get(o, "trp_cls_ls");
	if (rc == 0)
		rc = take_strings(ls, "trp_cls_ls", 3, 3, "codes", why, n);
	for (size_t i = 0; rc == 0 && i < 3; i++)
		rc = take_code(p, json_array_get(ls, i), "trp_cls_ls", (long)i, why, n);
	return rc;
}

/* The record key of a choice set: "id", a string or an integer. */
static int parse_id(struct rc_manifest_draft *p, const json_t *id, int required,
	char *why, size_t n)
{
	if (!id) {
		if (required)
			return rc_manifest_why(why, n, "missing field id");
		return 0;
	}
	if (json_is_integer(id)) {
		int k = snprintf(p->idbuf, sizeof p->idbuf, "%" JSON_INTEGER_FORMAT,
				 json_integer_value(id));
		p->key = p->idbuf;
		p->key_len = (size_t)k;
		return 0;
	}
	if (!json_is_string(id))
		return rc_manifest_why(why, n, "id is %s, expected a string or "
				       "an integer", type_name(id));
	if (rc_manifest_is_blank(json_string_value(id), json_string_length(id)))
		return rc_manifest_why(why, n, "empty id");
	p->key = json_string_value(id);
	p->key_len = json_string_length(id);
	if (p->key_len > UINT32_MAX)
		return rc_manifest_why(why, n, "id is longer than 4 GiB");
	return 0;
}

static int parse_sets(struct rc_manifest_draft *p, const json_t *o, int id_required,
	char *why, size_t n)
{
	int rc = parse_id(p, json_object_get(o, "id"), id_required, why, n);
	if (rc < 0)
		return rc;
	const json_t *sets = json_object_get(o, "sets");
	if (!json_is_array(sets))
		return rc_manifest_why(why, n, "sets is %s, expected an array of "
				       "objects", type_name(sets));
	size_t k = json_array_size(sets);
	if (k == 0)
		return rc_manifest_why(why, n, "sets is empty");
	if (k > MAX_SETS)
		return rc_manifest_why(why, n, "sets has %zu entries, at most %d",
				       k, MAX_SETS);
	for (size_t g = 0; rc == 0 && g < k; g++) {
		const json_t *set = json_array_get(sets, g);
		char name[64];
		snprintf(name, sizeof name, "sets[%zu]", g);
		if (!json_is_object(set))
			return rc_manifest_why(why, n, "%s is %s, expected an object",
					       name, type_name(set));
		char field[80];
		snprintf(field, sizeof field, "%s.tag", name);
		rc = take_text(p, json_object_get(set, "tag"), RC_ROLE_TAG, (int)g,
			       field, -1, why, n);
		snprintf(field, sizeof field, "%s.gt", name);
		if (rc == 0)
			rc = take_text(p, json_object_get(set, "gt"), RC_ROLE_GT,
				       (int)g, field, -1, why, n);
		snprintf(field, sizeof field, "%s.neg", name);
		if (rc == 0)
			rc = take_text_array(p, json_object_get(set, "neg"),
					     RC_ROLE_NEG, (int)g, field, NEGS, why, n);
	}
	return rc;
}

/* ---------------------------------------------------------------- JSON record */

int rc_manifest_json_record(const char *text, size_t len, int schema,
	struct rc_arena *a, struct rc_record *rec, const char **image_path,
	char *why, size_t n, int *fit)
{
	*fit = RC_FIT_NONE;
	json_error_t je;
	json_t *o = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		enum json_error_code c = json_error_code(&je);
		if (c == json_error_out_of_memory) {
			rc_manifest_why(why, n, "out of memory");
			return rc_log_error(RC_E_NOMEM, "out of memory (parsing "
					    "%zu bytes of json)", len);
		}
		const char *what = c == json_error_null_character ?
			"\\u0000 in a string" : je.text;
		if (je.line > 1)
			return rc_manifest_why(why, n, "malformed json at line %d, "
					       "column %d: %s", je.line, je.column, what);
		return rc_manifest_why(why, n, "malformed json at column %d: %s",
				       je.column, what);
	}
	int rc = rc_manifest_json_value(o, schema, a, rec, image_path, why, n, fit);
	json_decref(o);
	return rc;
}

int rc_manifest_json_value(const json_t *o, int schema, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, char *why, size_t n, int *fit)
{
	int rc;
	*fit = RC_FIT_NONE;
	if (!json_is_object(o)) {
		return rc_manifest_why(why, n, "expected a json object, found %s%s",
			type_name(o), json_is_array(o) ? " (one record per line: "
			"jq -c '.[]' splits an array)" : "");
	}
	int target = schema;
	if (target == RC_SCHEMA_NONE) {
		target = claimed(o);
		if (target == RC_SCHEMA_NONE) {
			rc = rc_manifest_why(why, n, "no schema fits: expected caption, "
					     "captions, tb and trl, trp, or sets");
			return rc;
		}
	} else if (!claims(o, target)) {
		int other = claimed(o);
		if (other != RC_SCHEMA_NONE) {
			*fit = RC_FIT_OTHER;
			rc = rc_manifest_why(why, n, "%s record, expected %s",
					     rc_manifest_schema_name(other),
					     rc_manifest_schema_name(target));
		} else {
			static const char *const main_field[] = {
				"", "caption or captions", "tb", "trp", "sets",
			};
			rc = rc_manifest_why(why, n, "missing field %s",
					     main_field[target]);
		}
		return rc;
	}
	*fit = RC_FIT_BAD;

	struct rc_manifest_draft p;
	p.schema = target;
	p.nt = p.nl = 0;
	p.path = p.key = NULL;
	p.path_len = p.key_len = 0;
	if (image_path) {
		const json_t *v = json_object_get(o, "image_path");
		rc = 0;
		if (!v)
			rc = rc_manifest_why(why, n, "missing field image_path");
		else if (!json_is_string(v))
			rc = rc_manifest_why(why, n, "image_path is %s, expected a "
					     "string", type_name(v));
		else if (rc_manifest_is_blank(json_string_value(v), json_string_length(v)))
			rc = rc_manifest_why(why, n, "empty image_path");
		else if (json_string_length(v) > UINT32_MAX)
			rc = rc_manifest_why(why, n, "image_path is longer than 4 GiB");
		if (rc < 0)
			return rc;
		p.path = json_string_value(v);
		p.path_len = json_string_length(v);
	}
	switch (target) {
	case RC_SCHEMA_DESC: rc = parse_desc(&p, o, why, n); break;
	case RC_SCHEMA_LITE: rc = parse_lite(&p, o, why, n); break;
	case RC_SCHEMA_PRO: rc = parse_pro(&p, o, why, n); break;
	default: rc = parse_sets(&p, o, image_path != NULL, why, n); break;
	}
	if (rc == 0 && (rc = rc_manifest_build(&p, a, rec, image_path)) < 0)
		rc_manifest_why(why, n, "out of memory");
	return rc;
}


int rc_manifest_parse_json(const char *line, size_t len, int schema,
	struct rc_arena *a, struct rc_record *rec, const char **image_path,
	char *why, size_t n)
{
	int fit;
	if (schema < RC_SCHEMA_NONE || schema > RC_SCHEMA_SETS)
		return RC_E_ARG;
	return rc_manifest_json_record(line, len, schema, a, rec, image_path,
				       why, n, &fit);
}

