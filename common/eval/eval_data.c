/* eval_data.c - a benchmark's data for rclip-eval (eval_data.h): a
 * manifest or shards read into images, texts, choice sets and labels, each
 * bad line named by file and line. */
#include "eval/eval_data.h"
#include "data/preprocess.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "eval/encode.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/record.h"
#include "data/shard.h"
#include "eval/eval_data_impl.h"

/* ================================================================ data */

static int grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	return rc_grow((void **)pp, cap, need, elem);
}

/* "FILE:LINE" or "SHARD: record N" of image i. */
const char *rc_eval_data_where(const struct rc_eval_data *d, size_t i, char *buf, size_t n)
{
	if (d->in_shard[i])
		snprintf(buf, n, "%s: record %llu", d->src[i], (unsigned long long)d->line[i]);
	else
		snprintf(buf, n, "%s:%llu", d->src[i], (unsigned long long)d->line[i]);
	return buf;
}

/* The texts of one shard record into the task's lists; image is its
 * index. A set must have one tag, one true caption and o->negatives
 * negatives (any number >= 1 when 0), none empty; a set that has not is
 * skipped and counted (rc_eval_data_bad). Returns 0, or RC_E_FORMAT
 * (strict) or RC_E_NOMEM. */
static int add_record_texts(struct rc_eval_data *d, const struct rc_eval_source *o,
	const struct rc_record *rec, uint32_t image, const char *file, uint64_t line)
{
	int task = o->task;
	int rc;
	if (task == RC_EVAL_RETRIEVAL) {
		for (uint32_t k = 0; k < rec->ntexts; k++)
			if (rec->texts[k].role == RC_ROLE_CAPTION &&
			    (rc = rc_eval_data_add_text(d, rec->texts[k].s, rec->texts[k].len, image)) < 0)
				return rc;
		return 0;
	}
	int ngroups = 0;
	for (uint32_t k = 0; k < rec->ntexts; k++)
		if (rec->texts[k].group + 1 > ngroups)
			ngroups = rec->texts[k].group + 1;
	for (int g = 0; g < ngroups; g++) {
		const struct rc_text *tag = NULL;
		const char *txt[RC_RECORD_MAX_TEXTS];
		uint32_t len[RC_RECORD_MAX_TEXTS];
		int nneg = 0, ntag = 0, ngt = 0, empty = 0;
		for (uint32_t k = 0; k < rec->ntexts; k++) {
			const struct rc_text *t = &rec->texts[k];
			if (t->group != g)
				continue;
			empty |= t->len == 0;
			if (t->role == RC_ROLE_TAG) {
				tag = t, ntag++;
			} else if (t->role == RC_ROLE_GT && !ngt++) {
				txt[0] = t->s, len[0] = t->len;
			} else if (t->role == RC_ROLE_NEG && nneg < RC_RECORD_MAX_TEXTS - 1) {
				nneg++;
				txt[nneg] = t->s, len[nneg] = t->len;
			}
		}
		if (empty)
			rc = rc_eval_data_bad(d, o->strict, file, line, g, "an empty text");
		else if (ntag != 1 || ngt != 1 || nneg < 1 || (o->negatives && nneg != o->negatives))
			rc = rc_eval_data_bad(d, o->strict, file, line, g, "%d tags, %d true captions "
				"and %d negatives (expected 1, 1 and %d)", ntag, ngt, nneg,
				o->negatives ? o->negatives : 1);
		else if (task == RC_EVAL_RCLIP_RETRIEVAL)
			rc = rc_eval_data_add_text(d, txt[0], len[0], image);
		else
			rc = rc_eval_data_add_set(d, image, (uint32_t)g, tag->s, tag->len, txt, len,
				(uint32_t)nneg + 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A manifest read through the manifest layer: a descriptive JSONL or TSV
 * for retrieval, or a Parquet file of any task's schema (RCLIP-Bench's
 * sets with their images embedded). A malformed line is skipped and
 * counted (rc_eval_data_bad), or fails the read with strict. Adjacent
 * lines of the same image are one image (a TSV with one caption per
 * line). */
static int read_manifest(const struct rc_eval_source *o, struct rc_eval_data *d)
{
	char root[4096], why[256];
	rc_eval_data_root(o, root, sizeof root);
	struct rc_manifest *mf;
	const int schema = o->task == RC_EVAL_RETRIEVAL ? RC_SCHEMA_DESC : RC_SCHEMA_SETS;
	int rc = rc_manifest_open(&mf, o->data, schema, RC_MANIFEST_AUTO);
	if (rc < 0)
		return rc;
	const char *name = strcmp(o->data, "-") ? o->data : "(stdin)";
	struct rc_record rec;
	const char *img;
	uint64_t line;
	while ((rc = rc_manifest_next(mf, &d->arena, &rec, &img, &line, why, sizeof why)) != 0) {
		if (rc == RC_E_FORMAT) {
			if ((rc = rc_eval_data_bad(d, o->strict, name, line, -1, "%s", why)) < 0)
				break;
			continue;
		}
		if (rc < 0)
			break;
		uint32_t image = (uint32_t)d->ni;
		if (o->task == RC_EVAL_RETRIEVAL && d->ni && d->ipath[d->ni - 1] && img &&
		    !strcmp(d->ipath[d->ni - 1], img)) {
			image--; /* another caption of the same image */
		} else {
			/* a path, or (Parquet) the image file's bytes in the record */
			struct rc_encode_image im = {.path = img ? rc_eval_data_join(d, root, img) : NULL,
				.data = rec.image, .len = rec.image_len, .source = !img};
			const char *key = rec.key ? rc_arena_strndup(&d->arena, rec.key, rec.key_len) :
				img ? img : "";
			if ((img && !im.path) || !key ||
			    (rc = rc_eval_data_add_image(d, &im, key, img, name, line, 0)) < 0) {
				rc = RC_E_NOMEM;
				break;
			}
		}
		if ((rc = add_record_texts(d, o, &rec, image, name, line)) < 0)
			break;
	}
	rc_manifest_close(mf);
	return rc;
}

/* The records of one shard; it stays open (payloads point into it). */
static int read_shard(const struct rc_eval_source *o, struct rc_eval_data *d, const char *path, int S)
{
	struct rc_shard *s;
	int rc = rc_shard_open(&s, path);
	if (rc < 0)
		return rc;
	if ((rc = grow(&d->shards, &d->cap_sh, d->nshards + 1, sizeof *d->shards)) < 0) {
		rc_shard_close(s);
		return rc;
	}
	d->shards[d->nshards++] = s;
	const struct rc_shard_info *in = rc_shard_info(s);
	int want = o->task == RC_EVAL_RETRIEVAL ? RC_SCHEMA_DESC : RC_SCHEMA_SETS;
	if ((rc = rc_preprocess_check(path, in, o->preprocess, S)) < 0)
		return rc;
	if (in->schema != (uint32_t)want && in->schema != RC_SCHEMA_NONE)
		return rc_log_error(RC_E_FORMAT, "%s: a %s shard, %s needs %s records", path,
			rc_shard_schema_name((int)in->schema), rc_eval_task_name(o->task),
			rc_shard_schema_name(want));
	/* the data's own copy of the name: a list's entries are freed before
	 * a bad image or text is reported */
	if (!(path = rc_arena_strndup(&d->arena, path, strlen(path))))
		return RC_E_NOMEM;
	for (uint64_t i = 0; i < rc_shard_count(s); i++) {
		struct rc_record rec;
		if ((rc = rc_shard_read(s, i, &rec, &d->arena)) < 0) /* logged */
			return rc;
		if (rec.schema != want)
			return rc_log_error(RC_E_FORMAT, "%s: record %llu: a %s record", path,
				(unsigned long long)i, rc_shard_schema_name(rec.schema));
		const char *key = rc_arena_strndup(&d->arena, rec.key ? rec.key : "", rec.key_len);
		if (!key)
			return RC_E_NOMEM;
		struct rc_encode_image im = {.data = rec.image, .len = rec.image_len,
			.store = (int)in->store};
		uint32_t image = (uint32_t)d->ni;
		if ((rc = rc_eval_data_add_image(d, &im, key, NULL, path, i, 1)) < 0)
			return rc;
		/* shard records are numbered from 0: "SHARD:N" names record N */
		if ((rc = add_record_texts(d, o, &rec, image, path, i)) < 0)
			return rc;
	}
	return 0;
}

static int read_any(const struct rc_eval_source *o, struct rc_eval_data *d, int S)
{
	if (rc_ends_with(o->data, ".list")) {
		struct rc_shard_list l;
		rc_shard_list_init(&l);
		int rc = rc_shard_list_read(&l, o->data);
		for (size_t i = 0; rc == 0 && i < l.n; i++)
			rc = read_shard(o, d, l.e[i].full, S);
		rc_shard_list_free(&l);
		return rc;
	}
	if (rc_ends_with(o->data, ".rcs"))
		return read_shard(o, d, o->data, S);
	if (rc_manifest_format_of(o->data) == RC_MANIFEST_TAR) {
		rc_log_error(RC_E_UNSUPPORTED, "%s: webdataset tars are not read directly", o->data);
		rc_log_hint("shard it first: rclip-shard -s %d -o PREFIX %s, then evaluate PREFIX.list",
			S, o->data);
		return RC_E_UNSUPPORTED;
	}
	if (o->task != RC_EVAL_RETRIEVAL && rc_manifest_format_of(o->data) != RC_MANIFEST_PARQUET)
		return rc_eval_bench_read(o, d);
	return read_manifest(o, d);
}

int rc_eval_data_read(const struct rc_eval_source *o, struct rc_eval_data *d, int S)
{
	d->path_map = o->path_map;
	int rc = read_any(o, d, S);
	if (rc == 0 && d->warned > RC_EVAL_BAD_WARNED)
		rc_log_warn("%s: %zu malformed items skipped in all (%zu more than named above)",
			o->data, d->bad_records + d->bad_sets, d->warned - RC_EVAL_BAD_WARNED);
	if (rc == 0 && o->task == RC_EVAL_RETRIEVAL)
		rc = rc_eval_data_cap_captions(d, o->captions_per_image);
	return rc;
}

int rc_eval_data_cap_captions(struct rc_eval_data *d, int n)
{
	if (n <= 0 || !d->nt)
		return 0;
	/* texts are grouped by image in image order: runs of one owner */
	size_t nt = 0, cap = 0;
	const char **txt = NULL;
	uint32_t *tlen = NULL, *owner = NULL;
	int rc = 0;
	for (size_t j = 0; j < d->nt && rc == 0;) {
		size_t k = j;
		while (k < d->nt && d->owner[k] == d->owner[j])
			k++;
		size_t c0 = cap;
		if ((rc = grow(&txt, &c0, nt + (size_t)n, sizeof *txt)) < 0)
			break;
		c0 = cap;
		if ((rc = grow(&tlen, &c0, nt + (size_t)n, sizeof *tlen)) < 0 ||
		    (rc = grow(&owner, &cap, nt + (size_t)n, sizeof *owner)) < 0)
			break;
		for (size_t q = 0; q < (size_t)n; q++, nt++) {
			size_t from = j + q % (k - j);
			txt[nt] = d->txt[from];
			tlen[nt] = d->tlen[from];
			owner[nt] = d->owner[from];
		}
		j = k;
	}
	if (rc < 0) {
		free(txt);
		free(tlen);
		free(owner);
		return rc;
	}
	free(d->txt);
	free(d->tlen);
	free(d->owner);
	d->txt = txt, d->tlen = tlen, d->owner = owner;
	d->nt = d->cap_t = nt;
	return 0;
}

/* ---------------------------------------------------------------- zeroshot */

void rc_eval_lines_free(struct rc_eval_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
	free(l->len);
}

/* Non-empty lines of path (a trailing '\r' dropped); an empty line is an
 * error, and so is a template without "{}". */
int rc_eval_lines_read(const char *path, struct rc_eval_lines *l, int templates)
{
	FILE *f;
	int rc = rc_io_open_read(path, &f);
	if (rc < 0)
		return rc;
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, path);
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		size_t n = lr.len;
		if (n && lr.line[n - 1] == '\r')
			n--;
		if (n == 0 || strlen(lr.line) < n) {
			rc = rc_log_error(RC_E_FORMAT, "%s:%llu: %s", path,
				(unsigned long long)lr.lineno, n ? "a NUL byte" : "an empty line");
			break;
		}
		lr.line[n] = 0;
		if (templates && !strstr(lr.line, "{}")) {
			rc = rc_log_error(RC_E_FORMAT, "%s:%llu: no {} in the template", path,
				(unsigned long long)lr.lineno);
			break;
		}
		size_t cap = l->cap;
		if ((rc = grow(&l->s, &cap, l->n + 1, sizeof *l->s)) < 0 ||
		    (rc = grow(&l->len, &l->cap, l->n + 1, sizeof *l->len)) < 0)
			break;
		if (!(l->s[l->n] = rc_strdup(lr.line))) {
			rc = RC_E_NOMEM;
			break;
		}
		l->len[l->n++] = (uint32_t)n;
	}
	rc_io_lines_free(&lr);
	int rc2 = rc_io_close(f, path);
	if (rc == 0 && rc2 == 0 && l->n == 0)
		rc = rc_log_error(RC_E_FORMAT, "%s: no %s", path, templates ? "templates" : "classes");
	return rc < 0 ? rc : rc2;
}

/* Zero-shot data: {"image_path": P, "label": NAME or INDEX} per line. */
static int zeroshot_line(void *ctx, struct rc_eval_data *d, const struct rc_eval_line *l)
{
	const struct rc_eval_lines *cls = ctx;
	json_error_t je;
	json_t *j = json_loadb(l->s, l->len, 0, &je);
	const char *why = NULL;
	json_t *p = j ? json_object_get(j, "image_path") : NULL;
	json_t *lab = j ? json_object_get(j, "label") : NULL;
	long long idx = -1;
	if (!j)
		why = je.text;
	else if (!json_is_object(j))
		why = "not a JSON object";
	else if (!json_is_string(p) || !json_string_length(p))
		why = "no image_path string";
	else if (json_is_integer(lab)) {
		idx = json_integer_value(lab);
		if (idx < 0 || (size_t)idx >= cls->n)
			why = "label index out of range of the classes";
	} else if (json_is_string(lab)) {
		for (size_t c = 0; c < cls->n && idx < 0; c++)
			if (!strcmp(cls->s[c], json_string_value(lab)))
				idx = (long long)c;
		if (idx < 0)
			why = "label is not one of the classes";
	} else {
		why = "no label (a class name or a 0-based index)";
	}
	if (why) {
		int rc = rc_log_error(RC_E_FORMAT, "%s:%llu: %s", l->name,
			(unsigned long long)l->lineno, why);
		json_decref(j);
		return rc;
	}
	const char *ip = rc_arena_strdup(&d->arena, json_string_value(p));
	struct rc_encode_image im = {.path = ip ? rc_eval_data_join(d, l->root, ip) : NULL};
	json_decref(j);
	if (!im.path || rc_eval_data_add_image(d, &im, ip, ip, l->name, l->lineno, 0) < 0)
		return RC_E_NOMEM;
	d->label[d->ni - 1] = (uint32_t)idx;
	return 0;
}

int rc_eval_data_read_zeroshot(const struct rc_eval_source *o, struct rc_eval_data *d,
	const struct rc_eval_lines *cls)
{
	d->path_map = o->path_map;
	return rc_eval_data_lines(o, d, zeroshot_line, (void *)cls);
}

/* "{}" of the template replaced by the class name, every occurrence. */
char *rc_eval_fill_template(struct rc_arena *a, const char *t, const char *name, uint32_t *len)
{
	size_t n = 0, ln = strlen(name);
	for (const char *p = t; *p; p++)
		n += p[0] == '{' && p[1] == '}' ? (p++, ln) : 1;
	char *s = rc_arena_alloc(a, n + 1), *q = s;
	if (!s)
		return NULL;
	for (const char *p = t; *p; p++) {
		if (p[0] == '{' && p[1] == '}') {
			memcpy(q, name, ln);
			q += ln;
			p++;
		} else {
			*q++ = *p;
		}
	}
	*q = 0;
	*len = (uint32_t)n;
	return s;
}

void rc_eval_data_free(struct rc_eval_data *d)
{
	for (size_t i = 0; i < d->nshards; i++)
		rc_shard_close(d->shards[i]);
	free(d->shards);
	free(d->img);
	free(d->key);
	free(d->ipath);
	free(d->src);
	free(d->line);
	free(d->in_shard);
	free(d->label);
	free(d->txt);
	free(d->tlen);
	free(d->owner);
	free(d->set);
	free(d->tags);
	rc_arena_free(&d->arena);
}

const char *rc_eval_task_name(int task)
{
	static const char *const names[] = { NULL, "sets", "rclip-retrieval", "retrieval",
		"zeroshot", "winoground" };
	return task >= RC_EVAL_SETS && task <= RC_EVAL_WINOGROUND ? names[task] : NULL;
}
