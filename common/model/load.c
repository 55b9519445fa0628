/* load.c - a CLIP model from a Hugging Face directory: config.json
 * and model.safetensors or its shards, every tensor checked against the
 * shape the config gives before it is read. */
#include "model/model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/safetensors.h"

#define MAX_REPORTED 8   /* bad tensors named before giving up */
#define MAX_SHARDS 1024

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
	size_t k = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < ndim && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (k < n)
		snprintf(buf + k, n - k, "]");
}

/* The shards of a load: one file, or those an index lists. */
struct shards {
	const char *path;        /* the file or index given */
	size_t dirlen;           /* its directory's length, with the '/' */
	size_t n;
	char **paths;            /* [n] */
	struct rc_st **st;       /* [n] */
	json_t *index;           /* the parsed index, or NULL */
	json_t *map;             /* its weight_map */
};

static void shards_close(struct shards *s)
{
	for (size_t i = 0; i < s->n; i++) {
		rc_st_close(s->st ? s->st[i] : NULL);
		free(s->paths ? s->paths[i] : NULL);
	}
	free(s->paths);
	free(s->st);
	json_decref(s->index);
}

/* shard_of - the position of file (a name in the index) in s->paths, or
 * -1. */
static long shard_of(const struct shards *s, const char *file)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->paths[i] + s->dirlen, file) == 0)
			return (long)i;
	return -1;
}

static int shards_open_index(struct shards *s)
{
	json_error_t err;
	s->index = json_load_file(s->path, JSON_REJECT_DUPLICATES, &err);
	if (!s->index)
		return rc_log_error(RC_E_FORMAT, "%s:%d: %s", s->path, err.line, err.text);
	s->map = json_object_get(s->index, "weight_map");
	if (!json_is_object(s->map))
		return rc_log_error(RC_E_FORMAT, "%s: no \"weight_map\" object", s->path);
	/* The shards live next to the index. */
	const char *slash = strrchr(s->path, '/');
	s->dirlen = slash ? (size_t)(slash - s->path) + 1 : 0;
	const char *name;
	json_t *v;
	json_object_foreach(s->map, name, v) {
		const char *file = json_string_value(v);
		if (!file || !*file || strchr(file, '/') || strcmp(file, "..") == 0)
			return rc_log_error(RC_E_FORMAT, "%s: weight_map: %s: expected a file name in "
				"the same directory", s->path, name);
		if (shard_of(s, file) >= 0)
			continue;
		if (s->n == MAX_SHARDS)
			return rc_log_error(RC_E_FORMAT, "%s: more than %d shards", s->path, MAX_SHARDS);
		size_t need = s->n + 1;
		char **np = rc_reallocarray(s->paths, need, sizeof *np);
		if (!np)
			return RC_E_NOMEM;
		s->paths = np;
		struct rc_st **ns = rc_reallocarray(s->st, need, sizeof *ns);
		if (!ns)
			return RC_E_NOMEM;
		s->st = ns;
		size_t len = s->dirlen + strlen(file) + 1;
		if (!(s->paths[s->n] = rc_malloc(len)))
			return RC_E_NOMEM;
		snprintf(s->paths[s->n], len, "%.*s%s", (int)s->dirlen, s->path, file);
		s->st[s->n] = NULL;
		s->n++;
		int rc = rc_st_open(&s->st[s->n - 1], s->paths[s->n - 1]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int shards_open(struct shards *s, const char *path)
{
	memset(s, 0, sizeof *s);
	s->path = path;
	if (rc_ends_with(path, ".json"))
		return shards_open_index(s);
	s->paths = rc_calloc(1, sizeof *s->paths);
	s->st = rc_calloc(1, sizeof *s->st);
	if (!s->paths || !s->st || !(s->paths[0] = rc_strdup(path)))
		return RC_E_NOMEM;
	s->n = 1;
	return rc_st_open(&s->st[0], path);
}

/* shards_find - the tensor called name and the file it is in, or NULL. */
static const struct rc_st_tensor *shards_find(const struct shards *s, const char *name, size_t *which)
{
	if (!s->index) {
		*which = 0;
		return rc_st_find(s->st[0], name);
	}
	const char *file = json_string_value(json_object_get(s->map, name));
	long i = file ? shard_of(s, file) : -1;
	if (i < 0)
		return NULL;
	*which = (size_t)i;
	return rc_st_find(s->st[i], name);
}

static int same_shape(const struct rc_clip_param *p, const struct rc_st_tensor *t)
{
	if (t->ndim != p->ndim)
		return 0;
	for (int i = 0; i < p->ndim; i++)
		if (t->shape[i] != p->shape[i])
			return 0;
	return 1;
}

/* load_extras - the extras that the file holds, read into m (which gets
 * them): the four head tensors together, and the logit bias. */
static int load_extras(struct rc_clip *m, const struct shards *s, const char *path)
{
	static const char *const heads[4] = { "text_head.weight", "text_head.bias",
		"image_head.weight", "image_head.bias" };
	size_t which;
	int nheads = 0, want = 0, rc;
	for (int k = 0; k < 4; k++)
		nheads += shards_find(s, heads[k], &which) != NULL;
	if (nheads == 4)
		want |= RC_CLIP_HEADS;
	else if (nheads)
		return rc_log_error(RC_E_FORMAT, "%s: %d of the 4 head tensors (text_head.*, "
			"image_head.*)", path, nheads);
	if (shards_find(s, "logit_bias", &which))
		want |= RC_CLIP_LOGIT_BIAS;
	if (!want)
		return 0;
	if ((rc = rc_clip_set_extras(m, m->extras | want, NULL)) < 0)
		return rc;
	for (size_t i = m->nclip; i < m->ntensors; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		const struct rc_st_tensor *t = shards_find(s, p->name, &which);
		if (!t)
			continue;
		if (t->nelem != p->numel)
			return rc_log_error(RC_E_FORMAT, "%s: %s: %zu values in the file, %zu in the "
				"model", s->paths[which], p->name, t->nelem, p->numel);
		if ((rc = rc_st_read_f32(s->st[which], t, p->data, p->numel)) < 0)
			return rc;
	}
	return 0;
}

int rc_clip_load_safetensors(struct rc_clip *m, const char *path)
{
	struct shards s;
	int rc = shards_open(&s, path), first = 0;
	size_t bad = 0;
	if (rc < 0)
		goto out;
	/* Every tensor is looked at, so that the first few bad ones are all
	 * named; reading stops at the first. */
	for (size_t i = 0; i < m->nclip; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		int quiet = bad >= MAX_REPORTED;
		char a[96], b[96];
		size_t which = 0;
		const struct rc_st_tensor *t = shards_find(&s, p->name, &which);
		shape_str(b, sizeof b, p->ndim, p->shape);
		rc = 0;
		if (!t) {
			rc = RC_E_NOTFOUND;
			if (!quiet)
				rc_log_error(rc, "%s: missing tensor %s %s", path, p->name, b);
		} else if (!same_shape(p, t)) {
			rc = RC_E_FORMAT;
			shape_str(a, sizeof a, t->ndim, t->shape);
			if (!quiet)
				rc_log_error(rc, "%s: %s: shape %s in the file, %s in the config",
					s.paths[which], p->name, a, b);
		} else if (!bad) {
			/* rc_st_read_f32 names the file and tensor when it fails. */
			rc = rc_st_read_f32(s.st[which], t, p->data, p->numel);
			if (rc == RC_E_NOMEM || rc == RC_E_IO)
				goto out;
		}
		if (rc < 0) {
			first = first ? first : rc;
			bad++;
		}
	}
	if (bad > MAX_REPORTED)
		rc_log_error(first, "%s: and %zu more bad tensors", path, bad - MAX_REPORTED);
	rc = first;
	if (!rc)
		rc = load_extras(m, &s, path);
	for (size_t i = 0; !rc && i < s.n; i++)
		for (size_t j = 0; j < rc_st_count(s.st[i]); j++) {
			const char *name = rc_st_at(s.st[i], j)->name;
			if (rc_clip_find_param(m, name))
				continue;
			/* a layer the config does not have: weights would be dropped */
			if ((!strncmp(name, "vision_model.", 13) || !strncmp(name, "text_model.", 11)) &&
			    strstr(name, ".encoder.layers.")) {
				rc = rc_log_error(RC_E_FORMAT, "%s: tensor %s is not in the model of the "
					"config (a config with fewer layers than the weights?)",
					s.paths[i], name);
				rc_log_hint("check num_hidden_layers in config.json");
				break;
			}
			rc_log_debug("%s: ignoring tensor %s", s.paths[i], name);
		}
out:
	shards_close(&s);
	return rc;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int rc_clip_load_hf(struct rc_clip **out, const char *dir)
{
	struct rc_clip_config cfg;
	char path[4096];
	*out = NULL;
	if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
		return rc_log_error(RC_E_ARG, "%s: path too long", dir);
	int rc = rc_clip_config_load(&cfg, path);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if (!exists(path)) {
		snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
		if (!exists(path)) {
			rc_log_error(RC_E_NOTFOUND, "%s: no model.safetensors or "
				"model.safetensors.index.json", dir);
			rc_log_hint("save the model with save_pretrained(dir, safe_serialization=True)");
			return RC_E_NOTFOUND;
		}
	}
	struct rc_clip *m;
	if ((rc = rc_clip_new(&m, &cfg)) < 0)
		return rc;
	rc_log_debug("%s: %zu parameters in %zu tensors", path, m->nparams, m->ntensors);
	if ((rc = rc_clip_load_safetensors(m, path)) < 0) {
		rc_clip_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
