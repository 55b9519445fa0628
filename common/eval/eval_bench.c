/* eval_bench.c - compositional benchmarks read from their released
 * annotation files into choice sets (one true caption, its negatives, a
 * tag), or Winoground examples, for rclip-eval:
 *
 *   SugarCrepe  add_att.json, swap_obj.json, ...: {"N": {"filename",
 *               "caption", "negative_caption"}}; the image is filename
 *               (COCO val2017); tag: the file's name (add_att, ...)
 *   What'sUp    controlled_images_dataset.json, controlled_clevr_dataset.json:
 *               [{"image_path", "caption_options": [true, false, ...]}], tag:
 *               the preposition in the image's name (left_of, right_of, on,
 *               under, in-front_of, behind); coco_qa_{one,two}_obj.json:
 *               [[image_id, true, false]], the image ID as COCO names it
 *               (%012d.jpg), tag "qa"
 *   VALSE       existence.json, counting-hard.json, ...: {"key": {"dataset",
 *               "image_file", "caption", "foil" (or "foils": [...], the first
 *               taken), "mturk": {"caption": n}, "linguistic_phenomena"}};
 *               only the validated set (mturk.caption >= 2) is scored, the
 *               rest counted; the image is DATASET/IMAGE_FILE; tag: the
 *               phenomenon
 *   Winoground  examples.jsonl: {"id", "caption_0", "caption_1", "image_0",
 *               "image_1", "collapsed_tag"}; images images/NAME.png
 *
 * Image paths resolve against --image-root (default: the file's
 * directory). A malformed item is skipped and counted (rc_eval_data_bad),
 * named by its key: "add_att.json: item \"17\": no negative_caption".
 */
#include "eval/eval_data.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "eval/eval_data_impl.h"

static const char *const format_names[] = { "auto", "rclip", "sugarcrepe", "whatsup", "valse",
	"winoground" };

const char *rc_eval_format_name(int fmt)
{
	return fmt >= RC_EVAL_FMT_AUTO && fmt <= RC_EVAL_FMT_WINOGROUND ? format_names[fmt] : NULL;
}

int rc_eval_format_parse(const char *s)
{
	for (int f = RC_EVAL_FMT_AUTO; f <= RC_EVAL_FMT_WINOGROUND; f++)
		if (!strcmp(s, format_names[f]))
			return f;
	return RC_E_ARG;
}

/* A non-empty string, or NULL. */
static const char *str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

/* The file's name without directory and extension, in d's arena. */
static const char *stem(struct rc_eval_data *d, const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	const char *e = strchr(b, '.');
	return rc_arena_strndup(&d->arena, b, e ? (size_t)(e - b) : strlen(b));
}

/* One choice set: image ipath (relative to root) named key, texts txt[0..n)
 * (copied), tag. Returns 0 or RC_E_NOMEM. */
static int add_item(struct rc_eval_data *d, const char *root, const char *name,
	uint64_t line, const char *key, const char *ipath, const char *tag,
	const char *const *txt, uint32_t n, uint32_t index)
{
	const char *t[64];
	uint32_t len[64];
	const char *k = rc_arena_strdup(&d->arena, key), *ip = rc_arena_strdup(&d->arena, ipath);
	struct rc_encode_image im = {.path = ip ? rc_eval_data_join(d, root, ip) : NULL};
	if (!k || !im.path || n > 64)
		return RC_E_NOMEM;
	for (uint32_t q = 0; q < n; q++) {
		len[q] = (uint32_t)strlen(txt[q]);
		if (!(t[q] = rc_arena_strndup(&d->arena, txt[q], len[q])))
			return RC_E_NOMEM;
	}
	uint32_t image = (uint32_t)d->ni;
	int rc = rc_eval_data_add_image(d, &im, k, ip, name, line, 0);
	if (rc == 0)
		rc = rc_eval_data_add_set(d, image, index, tag, (uint32_t)strlen(tag), t, len, n);
	return rc;
}

/* ---------------------------------------------------------------- formats */

static int sugarcrepe(const struct rc_eval_source *o, struct rc_eval_data *d, json_t *j,
	const char *root, const char *name)
{
	const char *tag = stem(d, o->data), *key;
	json_t *v;
	int rc = 0;
	if (!tag)
		return RC_E_NOMEM;
	json_object_foreach(j, key, v) {
		const char *f = str(v, "filename"), *c = str(v, "caption"), *n = str(v, "negative_caption");
		if (!f || !c || !n) {
			rc = rc_eval_data_bad(d, o->strict, name, 0, -1, "item \"%s\": no %s string", key,
				!f ? "filename" : !c ? "caption" : "negative_caption");
		} else {
			const char *t[2] = {c, n};
			rc = add_item(d, root, name, 0, key, f, tag, t, 2, 0);
		}
		if (rc < 0)
			break;
	}
	return rc;
}

/* The preposition What'sUp's controlled images carry in their names. */
static const char *preposition(const char *path)
{
	static const char *const p[][2] = { {"left_of", "left_of"}, {"right_of", "right_of"},
		{"in-front_of", "in-front_of"}, {"behind", "behind"}, {"_on_", "on"},
		{"under", "under"} };
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
		if (strstr(b, p[i][0]))
			return p[i][1];
	return "other";
}

static int whatsup(const struct rc_eval_source *o, struct rc_eval_data *d, json_t *j,
	const char *root, const char *name)
{
	size_t i;
	json_t *v;
	int rc = 0;
	json_array_foreach(j, i, v) {
		char key[32], ip[64];
		const char *t[64];
		uint32_t n = 0;
		snprintf(key, sizeof key, "%zu", i);
		if (json_is_object(v)) {
			const char *p = str(v, "image_path");
			json_t *opt = json_object_get(v, "caption_options"), *c;
			size_t k;
			int bad = !p || !json_is_array(opt) || json_array_size(opt) < 2 ||
				json_array_size(opt) > 64;
			json_array_foreach(bad ? NULL : opt, k, c)
				if (!(t[n++] = json_is_string(c) && json_string_length(c) ? json_string_value(c)
						: NULL))
					bad = 1;
			rc = bad ? rc_eval_data_bad(d, o->strict, name, 0, -1, "item %zu: no image_path, "
				"or caption_options not 2 to 64 strings", i)
				: add_item(d, root, name, 0, key, p, preposition(p), t, n, 0);
		} else if (json_is_array(v) && json_array_size(v) == 3 &&
			   (json_is_integer(json_array_get(v, 0)) || json_is_string(json_array_get(v, 0))) &&
			   json_is_string(json_array_get(v, 1)) && json_is_string(json_array_get(v, 2))) {
			json_t *id = json_array_get(v, 0);
			if (json_is_integer(id))
				snprintf(ip, sizeof ip, "%012lld.jpg", (long long)json_integer_value(id));
			else
				snprintf(ip, sizeof ip, "%.50s.jpg", json_string_value(id));
			t[0] = json_string_value(json_array_get(v, 1));
			t[1] = json_string_value(json_array_get(v, 2));
			rc = !*t[0] || !*t[1] ? rc_eval_data_bad(d, o->strict, name, 0, -1, "item %zu: an "
				"empty caption", i) : add_item(d, root, name, 0, key, ip, "qa", t, 2, 0);
		} else {
			rc = rc_eval_data_bad(d, o->strict, name, 0, -1, "item %zu: neither {\"image_path\", "
				"\"caption_options\"} nor [image_id, true, false]", i);
		}
		if (rc < 0)
			break;
	}
	return rc;
}

static int valse(const struct rc_eval_source *o, struct rc_eval_data *d, json_t *j,
	const char *root, const char *name)
{
	const char *fallback = stem(d, o->data), *key;
	json_t *v;
	int rc = 0;
	if (!fallback)
		return RC_E_NOMEM;
	json_object_foreach(j, key, v) {
		const char *ds = str(v, "dataset"), *img = str(v, "image_file"), *c = str(v, "caption");
		const char *foil = str(v, "foil"), *tag = str(v, "linguistic_phenomena");
		json_t *foils = json_object_get(v, "foils");
		json_t *votes = json_object_get(json_object_get(v, "mturk"), "caption");
		if (!foil && json_is_array(foils) && json_is_string(json_array_get(foils, 0)) &&
		    json_string_length(json_array_get(foils, 0)))
			foil = json_string_value(json_array_get(foils, 0));
		char ip[4096];
		if (!ds || !img || !c || !foil || !json_is_integer(votes)) {
			rc = rc_eval_data_bad(d, o->strict, name, 0, -1, "item \"%s\": no %s", key,
				!ds ? "dataset" : !img ? "image_file" : !c ? "caption" : !foil ? "foil"
				: "mturk.caption count");
		} else if (json_integer_value(votes) < 2) {
			d->unvalidated++; /* not in VALSE's validated set */
		} else {
			snprintf(ip, sizeof ip, "%s/%s", ds, img);
			const char *t[2] = {c, foil};
			rc = add_item(d, root, name, 0, key, ip, tag ? tag : fallback, t, 2, 0);
		}
		if (rc < 0)
			break;
	}
	return rc;
}

/* One Winoground example: its two images (image_0 first), its two
 * captions, a set over them (text = caption_0, nneg 1). */
static int winoground_line(void *ctx, struct rc_eval_data *d, const struct rc_eval_line *l)
{
	(void)ctx;
	json_error_t je;
	json_t *j = json_loadb(l->s, l->len, 0, &je);
	const char *c0 = str(j, "caption_0"), *c1 = str(j, "caption_1");
	const char *i0 = str(j, "image_0"), *i1 = str(j, "image_1");
	const char *tag = str(j, "collapsed_tag");
	json_t *id = json_object_get(j, "id");
	int rc;
	if (!j || !c0 || !c1 || !i0 || !i1 || !(json_is_integer(id) || json_is_string(id))) {
		rc = rc_eval_data_bad(d, l->o->strict, l->name, l->lineno, -1, "%s", !j ? je.text
			: "not a Winoground example (id, caption_0, caption_1, image_0, image_1)");
		json_decref(j);
		return rc;
	}
	char key[64], p0[300], p1[300];
	if (json_is_integer(id))
		snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
	else
		snprintf(key, sizeof key, "%.60s", json_string_value(id));
	snprintf(p0, sizeof p0, "images/%.250s.png", i0);
	snprintf(p1, sizeof p1, "images/%.250s.png", i1);
	const char *k = rc_arena_strdup(&d->arena, key);
	const char *a = rc_arena_strdup(&d->arena, p0), *b = rc_arena_strdup(&d->arena, p1);
	const char *t[2] = {rc_arena_strdup(&d->arena, c0), rc_arena_strdup(&d->arena, c1)};
	const char *tg = rc_arena_strdup(&d->arena, tag ? tag : "all");
	uint32_t len[2] = {(uint32_t)strlen(c0), (uint32_t)strlen(c1)};
	json_decref(j);
	struct rc_encode_image im0 = {.path = a ? rc_eval_data_join(d, l->root, a) : NULL};
	struct rc_encode_image im1 = {.path = b ? rc_eval_data_join(d, l->root, b) : NULL};
	if (!k || !t[0] || !t[1] || !tg || !im0.path || !im1.path)
		return RC_E_NOMEM;
	uint32_t image = (uint32_t)d->ni;
	if ((rc = rc_eval_data_add_image(d, &im0, k, a, l->name, l->lineno, 0)) < 0 ||
	    (rc = rc_eval_data_add_image(d, &im1, k, b, l->name, l->lineno, 0)) < 0)
		return rc;
	return rc_eval_data_add_set(d, image, 0, tg, (uint32_t)strlen(tg), t, len, 2);
}

/* ---------------------------------------------------------------- detection */

/* The format of a whole JSON document j (SugarCrepe, What'sUp, VALSE), or
 * RC_EVAL_FMT_AUTO when none fits. */
static int detect_json(json_t *j)
{
	if (json_is_array(j))
		return RC_EVAL_FMT_WHATSUP;
	if (!json_is_object(j))
		return RC_EVAL_FMT_AUTO;
	void *it = json_object_iter(j);
	json_t *v = it ? json_object_iter_value(it) : NULL;
	if (json_object_get(v, "negative_caption"))
		return RC_EVAL_FMT_SUGARCREPE;
	if (json_object_get(v, "foil") || json_object_get(v, "foils"))
		return RC_EVAL_FMT_VALSE;
	return RC_EVAL_FMT_AUTO;
}

int rc_eval_bench_read(const struct rc_eval_source *o, struct rc_eval_data *d)
{
	int fmt = o->format;
	if (o->task == RC_EVAL_WINOGROUND)
		return rc_eval_data_lines(o, d, winoground_line, NULL);
	/* JSONL (one record a line) is RCLIP-Bench's; a JSON document the others' */
	if (fmt == RC_EVAL_FMT_RCLIP || (fmt == RC_EVAL_FMT_AUTO &&
	    (rc_ends_with_nocase(o->data, ".jsonl") || !strcmp(o->data, "-"))))
		return rc_eval_sets_read_jsonl(o, d);
	json_error_t je;
	json_t *j = json_load_file(o->data, 0, &je);
	if (!j) {
		if (fmt == RC_EVAL_FMT_AUTO)
			return rc_eval_sets_read_jsonl(o, d); /* not one JSON document */
		return rc_log_error(RC_E_FORMAT, "%s:%d: %s", o->data, je.line, je.text);
	}
	if (fmt == RC_EVAL_FMT_AUTO && (fmt = detect_json(j)) == RC_EVAL_FMT_AUTO) {
		json_decref(j);
		rc_log_error(RC_E_FORMAT, "%s: a JSON document in no format rclip-eval knows", o->data);
		rc_log_hint("give --format sugarcrepe, whatsup or valse, or RCLIP-Bench JSONL");
		return RC_E_FORMAT;
	}
	char root[4096];
	rc_eval_data_root(o, root, sizeof root);
	int rc;
	/* their scripts count pos > neg; What'sUp's argmax takes the first */
	d->ties_wrong = fmt == RC_EVAL_FMT_SUGARCREPE || fmt == RC_EVAL_FMT_VALSE;
	if (fmt == RC_EVAL_FMT_SUGARCREPE && json_is_object(j))
		rc = sugarcrepe(o, d, j, root, o->data);
	else if (fmt == RC_EVAL_FMT_WHATSUP && json_is_array(j))
		rc = whatsup(o, d, j, root, o->data);
	else if (fmt == RC_EVAL_FMT_VALSE && json_is_object(j))
		rc = valse(o, d, j, root, o->data);
	else
		rc = rc_log_error(RC_E_FORMAT, "%s: not a %s file (a JSON %s)", o->data,
			rc_eval_format_name(fmt), json_is_array(j) ? "array" : "object");
	json_decref(j);
	return rc;
}
