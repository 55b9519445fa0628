/* eval_data.c - a benchmark's data for rclip-eval (eval_data.h): a
 * manifest or shards read into images, texts, choice sets and labels, each
 * bad line named by file and line. */
#include "eval/eval_data.h"

#include <jansson.h>
#include <limits.h>
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

/* ================================================================ data */

static int grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	return rc_grow((void **)pp, cap, need, elem);
}

static int add_image(struct rc_eval_data *d, const struct rc_encode_image *im, const char *key,
	const char *ipath, const char *src, uint64_t line, int in_shard)
{
	size_t need = d->ni + 1, cap = d->cap_i;
	int rc;
	if ((rc = grow(&d->img, &cap, need, sizeof *d->img)) < 0)
		return rc;
	cap = d->cap_i;
	if ((rc = grow(&d->key, &cap, need, sizeof *d->key)) < 0)
		return rc;
	cap = d->cap_i;
	if ((rc = grow(&d->ipath, &cap, need, sizeof *d->ipath)) < 0)
		return rc;
	cap = d->cap_i;
	if ((rc = grow(&d->src, &cap, need, sizeof *d->src)) < 0)
		return rc;
	cap = d->cap_i;
	if ((rc = grow(&d->line, &cap, need, sizeof *d->line)) < 0)
		return rc;
	cap = d->cap_i;
	if ((rc = grow(&d->in_shard, &cap, need, sizeof *d->in_shard)) < 0)
		return rc;
	cap = d->cap_i;
	if ((rc = grow(&d->label, &cap, need, sizeof *d->label)) < 0)
		return rc;
	d->cap_i = cap;
	d->img[d->ni] = *im;
	d->key[d->ni] = key;
	d->ipath[d->ni] = ipath;
	d->src[d->ni] = src;
	d->line[d->ni] = line;
	d->in_shard[d->ni] = (uint8_t)in_shard;
	d->label[d->ni] = 0;
	d->ni++;
	return 0;
}

int rc_eval_data_add_text(struct rc_eval_data *d, const char *s, uint32_t len, uint32_t owner)
{
	size_t need = d->nt + 1, cap = d->cap_t;
	int rc;
	if ((rc = grow(&d->txt, &cap, need, sizeof *d->txt)) < 0)
		return rc;
	cap = d->cap_t;
	if ((rc = grow(&d->tlen, &cap, need, sizeof *d->tlen)) < 0)
		return rc;
	cap = d->cap_t;
	if ((rc = grow(&d->owner, &cap, need, sizeof *d->owner)) < 0)
		return rc;
	d->cap_t = cap;
	d->txt[d->nt] = s;
	d->tlen[d->nt] = len;
	d->owner[d->nt] = owner;
	d->nt++;
	return 0;
}

static int tag_index(struct rc_eval_data *d, const char *s, uint32_t len, uint32_t *out)
{
	for (size_t i = 0; i < d->ntags; i++)
		if (strlen(d->tags[i]) == len && !memcmp(d->tags[i], s, len)) {
			*out = (uint32_t)i;
			return 0;
		}
	char *t = rc_arena_strndup(&d->arena, s, len);
	int rc;
	if (!t)
		return RC_E_NOMEM;
	if ((rc = grow(&d->tags, &d->cap_tags, d->ntags + 1, sizeof *d->tags)) < 0)
		return rc;
	d->tags[d->ntags] = t;
	*out = (uint32_t)d->ntags++;
	return 0;
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

/* The texts of one record into the task's lists; image is its index.
 * A set must have one tag, one true caption and exactly 4 negatives, none
 * empty (the manifest reader checks this for JSONL; shards are checked
 * here too). Returns 0, or RC_E_FORMAT with the reason in why. */
static int add_record_texts(struct rc_eval_data *d, int task, const struct rc_record *rec,
	uint32_t image, char *why, size_t nwhy)
{
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
		const struct rc_text *tag = NULL, *gt = NULL, *neg[4];
		int nneg = 0, ntag = 0, ngt = 0;
		for (uint32_t k = 0; k < rec->ntexts; k++) {
			const struct rc_text *t = &rec->texts[k];
			if (t->group != g)
				continue;
			if (t->len == 0) {
				snprintf(why, nwhy, "set %d: an empty text", g);
				return RC_E_FORMAT;
			}
			if (t->role == RC_ROLE_TAG)
				tag = t, ntag++;
			else if (t->role == RC_ROLE_GT)
				gt = t, ngt++;
			else if (t->role == RC_ROLE_NEG && nneg++ < 4)
				neg[nneg - 1] = t;
		}
		if (ntag != 1 || ngt != 1 || nneg != 4) {
			snprintf(why, nwhy, "set %d: %d tags, %d true captions and %d negatives "
				"(expected 1, 1 and 4)", g, ntag, ngt, nneg);
			return RC_E_FORMAT;
		}
		if (task == RC_EVAL_RCLIP_RETRIEVAL) {
			if ((rc = rc_eval_data_add_text(d, gt->s, gt->len, image)) < 0)
				return rc;
			continue;
		}
		struct rc_eval_set cs = {.image = image, .text = (uint32_t)d->nt, .index = (uint32_t)g};
		if ((rc = tag_index(d, tag->s, tag->len, &cs.tag)) < 0 ||
		    (rc = rc_eval_data_add_text(d, gt->s, gt->len, image)) < 0)
			return rc;
		for (int q = 0; q < 4; q++)
			if ((rc = rc_eval_data_add_text(d, neg[q]->s, neg[q]->len, image)) < 0)
				return rc;
		if ((rc = grow(&d->set, &d->cap_s, d->ns + 1, sizeof *d->set)) < 0)
			return rc;
		d->set[d->ns++] = cs;
	}
	return 0;
}

/* The directory relative image paths of path are resolved against. */
static void image_root(const struct rc_eval_source *o, const char *path, char *root, size_t n)
{
	const char *slash = strrchr(path, '/');
	if (o->image_root)
		snprintf(root, n, "%s", o->image_root);
	else if (!slash || !strcmp(path, "-"))
		root[0] = 0;
	else if (slash == path)
		snprintf(root, n, "/");
	else
		snprintf(root, n, "%.*s", (int)(slash - path), path);
}

static char *join(struct rc_arena *a, const char *root, const char *path)
{
	if (path[0] == '/' || !*root)
		return rc_arena_strdup(a, path);
	size_t la = strlen(root), lb = strlen(path);
	char *p = rc_arena_alloc(a, la + lb + 2);
	if (p) {
		memcpy(p, root, la);
		p[la] = '/';
		memcpy(p + la + 1, path, lb + 1);
	}
	return p;
}

/* A JSONL (or, for retrieval, TSV) manifest of the task's schema. A
 * malformed line fails the run: a benchmark with items silently dropped
 * would not be the benchmark. Retrieval merges adjacent lines of the same
 * image (a TSV with one caption per line). */
static int read_manifest(const struct rc_eval_source *o, struct rc_eval_data *d)
{
	char root[4096], why[256], w[4400];
	image_root(o, o->data, root, sizeof root);
	int schema = o->task == RC_EVAL_RETRIEVAL ? RC_SCHEMA_DESC : RC_SCHEMA_SETS;
	struct rc_manifest *mf;
	int rc = rc_manifest_open(&mf, o->data, schema,
		o->task == RC_EVAL_RETRIEVAL ? RC_MANIFEST_AUTO : RC_MANIFEST_JSONL);
	if (rc < 0)
		return rc;
	const char *name = strcmp(o->data, "-") ? o->data : "(stdin)";
	struct rc_record rec;
	const char *img;
	uint64_t line;
	while ((rc = rc_manifest_next(mf, &d->arena, &rec, &img, &line, why, sizeof why)) != 0) {
		if (rc == RC_E_FORMAT) {
			rc_log_error(rc, "%s:%llu: %s", name, (unsigned long long)line, why);
			break;
		}
		if (rc < 0)
			break;
		uint32_t image = (uint32_t)d->ni;
		if (o->task == RC_EVAL_RETRIEVAL && d->ni && d->ipath[d->ni - 1] &&
		    !strcmp(d->ipath[d->ni - 1], img)) {
			image--; /* another caption of the same image */
		} else {
			struct rc_encode_image im = {.path = join(&d->arena, root, img)};
			const char *key = rec.key ? rc_arena_strndup(&d->arena, rec.key, rec.key_len) : img;
			if (!im.path || !key ||
			    (rc = add_image(d, &im, key, img, name, line, 0)) < 0) {
				rc = RC_E_NOMEM;
				break;
			}
		}
		if ((rc = add_record_texts(d, o->task, &rec, image, why, sizeof why)) < 0) {
			if (rc == RC_E_FORMAT)
				rc_log_error(rc, "%s: %s", rc_eval_data_where(d, image, w, sizeof w), why);
			break;
		}
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
	if ((int)in->image_size != S) {
		rc_log_error(RC_E_FORMAT, "%s: images are %ux%u, the model takes %dx%d", path,
			in->image_size, in->image_size, S, S);
		rc_log_hint("shard the data again with rclip-shard -s %d", S);
		return RC_E_FORMAT;
	}
	if (in->schema != (uint32_t)want && in->schema != RC_SCHEMA_NONE)
		return rc_log_error(RC_E_FORMAT, "%s: a %s shard, %s needs %s records", path,
			rc_shard_schema_name((int)in->schema), rc_eval_task_name(o->task),
			rc_shard_schema_name(want));
	char why[256], w[4400];
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
		if ((rc = add_image(d, &im, key, NULL, path, i, 1)) < 0)
			return rc;
		if ((rc = add_record_texts(d, o->task, &rec, image, why, sizeof why)) < 0) {
			if (rc == RC_E_FORMAT)
				rc_log_error(rc, "%s: %s", rc_eval_data_where(d, image, w, sizeof w), why);
			return rc;
		}
	}
	return 0;
}

int rc_eval_data_read(const struct rc_eval_source *o, struct rc_eval_data *d, int S)
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
	return read_manifest(o, d);
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
int rc_eval_data_read_zeroshot(const struct rc_eval_source *o, struct rc_eval_data *d, const struct rc_eval_lines *cls)
{
	char root[4096];
	image_root(o, o->data, root, sizeof root);
	const char *name = strcmp(o->data, "-") ? o->data : "(stdin)";
	FILE *f;
	int rc = rc_io_open_read(o->data, &f);
	if (rc < 0)
		return rc;
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, name);
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		size_t sp = strspn(lr.line, " \t\r");
		if (sp == lr.len)
			continue;
		json_error_t je;
		json_t *j = json_loadb(lr.line, lr.len, 0, &je);
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
			rc = rc_log_error(RC_E_FORMAT, "%s:%llu: %s", name, (unsigned long long)lr.lineno,
				why);
			json_decref(j);
			break;
		}
		const char *ip = rc_arena_strdup(&d->arena, json_string_value(p));
		struct rc_encode_image im = {.path = ip ? join(&d->arena, root, ip) : NULL};
		json_decref(j);
		if (!im.path || (rc = add_image(d, &im, ip, ip, name, lr.lineno, 0)) < 0) {
			rc = RC_E_NOMEM;
			break;
		}
		d->label[d->ni - 1] = (uint32_t)idx;
	}
	rc_io_lines_free(&lr);
	int rc2 = rc_io_close(f, name);
	return rc < 0 ? rc : rc2;
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
		"zeroshot" };
	return task >= RC_EVAL_SETS && task <= RC_EVAL_ZEROSHOT ? names[task] : NULL;
}
