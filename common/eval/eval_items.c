/* eval_items.c - the items of a benchmark's data (eval_data_impl.h):
 * images, texts, tags and sets added to a struct rc_eval_data, image paths
 * resolved, a line-based input walked, and a malformed item skipped and
 * counted or failed on. Below the readers (eval_data.c, eval_sets.c,
 * eval_bench.c), which all use it. */
#include "eval/eval_data.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/pathmap.h"
#include "eval/eval_data_impl.h"

static int grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	return rc_grow((void **)pp, cap, need, elem);
}

int rc_eval_data_add_image(struct rc_eval_data *d, const struct rc_encode_image *im,
	const char *key, const char *ipath, const char *src, uint64_t line, int in_shard)
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

int rc_eval_data_tag(struct rc_eval_data *d, const char *s, uint32_t len, uint32_t *out)
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

int rc_eval_data_add_set(struct rc_eval_data *d, uint32_t image, uint32_t index,
	const char *tag, uint32_t tag_len, const char *const *txt, const uint32_t *len,
	uint32_t ntxt)
{
	struct rc_eval_set cs = {.image = image, .text = (uint32_t)d->nt, .index = index,
		.nneg = ntxt - 1};
	int rc;
	if ((rc = rc_eval_data_tag(d, tag, tag_len, &cs.tag)) < 0)
		return rc;
	for (uint32_t q = 0; q < ntxt; q++)
		if ((rc = rc_eval_data_add_text(d, txt[q], len[q], image)) < 0)
			return rc;
	if ((rc = grow(&d->set, &d->cap_s, d->ns + 1, sizeof *d->set)) < 0)
		return rc;
	d->set[d->ns++] = cs;
	return 0;
}

int rc_eval_data_bad(struct rc_eval_data *d, int strict, const char *file, uint64_t line,
	int set, const char *fmt, ...)
{
	char why[512], where[64] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (set >= 0)
		snprintf(where, sizeof where, " set %d:", set);
	char at[4200];
	if (line) /* 0: a JSON document, the item named in why */
		snprintf(at, sizeof at, "%s:%llu:%s", file, (unsigned long long)line, where);
	else
		snprintf(at, sizeof at, "%s:%s", file, where);
	if (strict) {
		return rc_log_error(RC_E_FORMAT, "%s %s", at, why);
	}
	if (set >= 0)
		d->bad_sets++;
	else
		d->bad_records++;
	if (d->warned++ < RC_EVAL_BAD_WARNED)
		rc_log_warn("%s %s (skipped)", at, why);
	return 0;
}

/* The directory relative image paths of o->data are resolved against. */
void rc_eval_data_root(const struct rc_eval_source *o, char *root, size_t n)
{
	const char *path = o->data;
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

char *rc_eval_data_join(struct rc_eval_data *d, const char *root, const char *path)
{
	const char *p = rc_path_map_apply(d->path_map, &d->arena, path);
	return p ? rc_arena_path_join(&d->arena, root, p) : NULL;
}

int rc_eval_data_lines(const struct rc_eval_source *o, struct rc_eval_data *d,
	rc_eval_line_fn *fn, void *ctx)
{
	struct rc_eval_line l = {.o = o};
	rc_eval_data_root(o, l.root, sizeof l.root);
	l.name = strcmp(o->data, "-") ? o->data : "(stdin)";
	FILE *f;
	int rc = rc_io_open_read(o->data, &f);
	if (rc < 0)
		return rc;
	if ((rc = rc_manifest_check_text(f, l.name)) < 0) {
		rc_io_close(f, l.name);
		return rc;
	}
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, l.name);
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		size_t b = 0, n = lr.len;
		if (lr.lineno == 1 && n >= 3 && !memcmp(lr.line, "\xEF\xBB\xBF", 3))
			b = 3; /* a byte order mark */
		while (b < n && strchr(" \t\r\v\f", lr.line[b]))
			b++;
		while (n > b && strchr(" \t\r\v\f", lr.line[n - 1]))
			n--;
		if (b == n)
			continue;
		l.s = lr.line + b, l.len = n - b, l.lineno = lr.lineno;
		if ((rc = fn(ctx, d, &l)) < 0)
			break;
	}
	rc_io_lines_free(&lr);
	int rc2 = rc_io_close(f, l.name);
	return rc < 0 ? rc : rc2;
}
