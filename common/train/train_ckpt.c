/* train_ckpt.c - training checkpoints, the run directory and metrics.jsonl
 * (train.h).
 *
 * A checkpoint is one safetensors file (rclip-train(1), CHECKPOINTS):
 * every CLIPModel tensor under its Hugging Face name, the extras
 * (text_head.*, image_head.*, logit_bias), and with the optimizer
 * "optimizer.exp_avg.NAME" and "optimizer.exp_avg_sq.NAME" for every
 * trained tensor and "anchor.NAME" (θ₀ of the L2 term) for the tower
 * tensors; its __metadata__ holds "format" = "rclip-checkpoint",
 * "format_version", "config" (the config.json), "options" (the run's
 * options, JSON) and "state" (step, epoch, cursor, the optimizer's step,
 * JSON). Everything is float32, so a resumed run continues from exactly
 * the numbers the interrupted one had. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/clip_config.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io.h"
#include "data/safetensors.h"
#include "data/tokenizer_id.h"
#include "train/train_impl.h"

/* ---------------------------------------------------------------- run directory */

/* ckpt_step - N of "ckpt-N.safetensors", or -1. */
static long ckpt_step(const char *name)
{
	if (strncmp(name, "ckpt-", 5) != 0)
		return -1;
	char *end;
	errno = 0;
	long s = strtol(name + 5, &end, 10);
	if (errno || end == name + 5 || strcmp(end, ".safetensors") != 0 || s < 0)
		return -1;
	return s;
}

/* list_ckpts - the steps of the checkpoints in dir, sorted up. */
static int list_ckpts(const char *dir, long **steps, size_t *n)
{
	*steps = NULL, *n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return rc_log_error(RC_E_IO, "%s: %s", dir, strerror(errno));
	size_t cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		long s = ckpt_step(e->d_name);
		if (s < 0)
			continue;
		if ((rc = rc_grow((void **)steps, &cap, *n + 1, sizeof **steps)) < 0)
			break;
		(*steps)[(*n)++] = s;
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++)          /* insertion sort: a handful */
		for (size_t k = i; k > 0 && (*steps)[k - 1] > (*steps)[k]; k--) {
			long t = (*steps)[k];
			(*steps)[k] = (*steps)[k - 1], (*steps)[k - 1] = t;
		}
	return rc;
}

int rc_train_run_dir(const char *dir, int resume, struct rc_lock *lk)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (mkdir(dir, 0777) != 0)
			return rc_log_error(RC_E_IO, "%s: cannot create: %s", dir, strerror(errno));
		return rc_train_lock(dir, lk);
	}
	if (!S_ISDIR(st.st_mode))
		return rc_log_error(RC_E_ARG, "%s: exists and is not a directory", dir);
	int lrc = rc_train_lock(dir, lk);
	if (lrc < 0)
		return lrc;
	long *steps;
	size_t n;
	int rc = list_ckpts(dir, &steps, &n);
	free(steps);
	if (rc < 0)
		return rc;
	char path[4200];
	snprintf(path, sizeof path, "%s/final.safetensors", dir);
	if (!resume && (n || stat(path, &st) == 0)) {
		rc_log_error(RC_E_ARG, "%s: holds a run already (%s)", dir,
			n ? "checkpoints" : "final.safetensors");
		rc_log_hint("continue it with --resume %s, or give another --out", dir);
		return RC_E_ARG;
	}
	return 0;
}

int rc_train_lock(const char *dir, struct rc_lock *lk)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/.lock", dir);
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return rc_log_error(RC_E_NOTFOUND, "%s: no such run directory", dir);
	return rc_lock_take(lk, path, dir);
}

int rc_train_find_latest(const char *dir, char *path, size_t pn, long *step)
{
	long *steps;
	size_t n;
	struct stat st;
	snprintf(path, pn, "%s/final.safetensors", dir);
	if (stat(path, &st) == 0)
		return rc_log_error(RC_E_ARG, "%s: the run is finished (final.safetensors); "
			"nothing to resume", dir);
	int rc = list_ckpts(dir, &steps, &n);
	if (rc < 0) {
		free(steps);
		return rc;
	}
	if (!n) {
		free(steps);
		rc_log_error(RC_E_NOTFOUND, "%s: no checkpoint (ckpt-STEP.safetensors) to resume from",
			dir);
		rc_log_hint("the run stopped before its first checkpoint: start it again");
		return RC_E_NOTFOUND;
	}
	*step = steps[n - 1];
	snprintf(path, pn, "%s/ckpt-%ld.safetensors", dir, *step);
	free(steps);
	return 0;
}

/* prune - remove all but the newest keep checkpoints. */
static void prune(const char *dir, int keep)
{
	long *steps;
	size_t n;
	if (list_ckpts(dir, &steps, &n) < 0) {
		free(steps);
		return;
	}
	for (size_t i = 0; keep > 0 && i + (size_t)keep < n; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/ckpt-%ld.safetensors", dir, steps[i]);
		if (unlink(path) != 0)
			rc_log_warn("%s: cannot remove: %s", path, strerror(errno));
	}
	free(steps);
}

/* ---------------------------------------------------------------- options and state */

static const char *const stream_names[] = { "", "caption", "tb", "trl" };
static const char *const shuffle_names[] = { "none", "buffer", "perm", "groups" };
static const char *const gather_names[] = { "", "official", "exact" };

static json_t *options_json(const struct rc_train_job *j)
{
	const struct rc_train_opts *o = &j->o;
	json_t *v = json_object(), *g = json_array(), *tb = json_array();
	if (!v || !g || !tb) {
		json_decref(v), json_decref(g), json_decref(tb);
		return NULL;
	}
	for (int k = 0; k < RC_NGROUPS; k++)
		json_array_append_new(g, json_real(o->lr_group[k]));
	for (int k = 0; k < 3; k++)
		json_array_append_new(tb, json_real(o->tb_weights[k]));
	json_object_set_new(v, "stage", json_integer(o->stage));
	json_object_set_new(v, "stream", json_string(stream_names[o->stream & 3]));
	json_object_set_new(v, "loss", json_string(o->loss == RC_TRAIN_LOSS_SIGLIP ? "siglip" :
		"clip"));
	json_object_set_new(v, "init", json_string(o->init ? o->init : o->init_config ?
		o->init_config : ""));
	json_object_set_new(v, "data", json_string(j->data_abs));
	json_object_set_new(v, "batch", json_integer(o->batch));
	json_object_set_new(v, "accum", json_integer(o->accum));
	json_object_set_new(v, "steps", json_integer(j->total));
	json_object_set_new(v, "seed", json_integer((json_int_t)o->seed));
	json_object_set_new(v, "shuffle", json_string(shuffle_names[o->shuffle & 3]));
	if (o->shuffle == RC_SHUFFLE_GROUPS)
		json_object_set_new(v, "group", json_integer(o->group));
	json_object_set_new(v, "gather", json_string(gather_names[o->gather % 3]));
	json_object_set_new(v, "holdout", json_real(o->holdout));
	json_object_set_new(v, "eval_every", json_real(o->eval_every));
	json_object_set_new(v, "tb_weights", tb);
	json_object_set_new(v, "buffer", json_integer(o->buffer));
	json_object_set_new(v, "verify", json_boolean(o->verify));
	json_object_set_new(v, "lr", json_real(o->lr));
	json_object_set_new(v, "lr_groups", g);
	json_object_set_new(v, "wd", json_real(o->wd));
	json_object_set_new(v, "warmup", json_real(o->warmup));
	json_object_set_new(v, "l2", json_real(o->l2));
	json_object_set_new(v, "gamma", json_real(o->gamma));
	json_object_set_new(v, "clip_norm", json_real(o->clip_norm));
	json_object_set_new(v, "max_logit_scale", json_real(o->max_logit_scale));
	json_object_set_new(v, "siglip_bias", json_real(o->siglip_bias));
	json_object_set_new(v, "save_every", json_integer(o->save_every));
	json_object_set_new(v, "keep", json_integer(o->keep));
	json_object_set_new(v, "command_line", json_string(o->argv_line ? o->argv_line : ""));
	return v;
}

/* The ranges rclip-train's command line allows (tools/rclip-train.c,
 * parse_args), held against a checkpoint's options too: a resumed run
 * takes nothing that a command line could not have given. */
static const struct {
	const char *key;
	double lo, hi;
	int whole;                 /* an integer option */
} limits[] = {
	{ "stage", 0, 2, 1 }, { "batch", 1, 1 << 20, 1 }, { "accum", 1, 1 << 16, 1 },
	{ "steps", 1, 1099511627776.0, 1 }, { "seed", 0, 9007199254740992.0, 1 },
	{ "buffer", 1, 1 << 26, 1 }, { "lr", 0, 10, 0 }, { "wd", 0, 10, 0 },
	{ "warmup", 0, 1, 0 }, { "l2", 0, 1e6, 0 }, { "gamma", 0, 1e6, 0 },
	{ "clip_norm", 0, 1e12, 0 }, { "max_logit_scale", 0, 100, 0 },
	{ "siglip_bias", -1e6, 1e6, 0 },
};
#define NLIMITS (sizeof limits / sizeof *limits)

/* in_range - v is finite, within [lo, hi] and whole when it must be. */
static int in_range(double v, double lo, double hi, int whole)
{
	return isfinite(v) && v >= lo && v <= hi && (!whole || v == floor(v));
}

static int get_num(json_t *v, size_t i, double *out, const char *path)
{
	json_t *x = json_object_get(v, limits[i].key);
	if (!json_is_number(x))
		return rc_log_error(RC_E_FORMAT, "%s: options: no number \"%s\"", path,
			limits[i].key);
	*out = json_number_value(x);
	if (!in_range(*out, limits[i].lo, limits[i].hi, limits[i].whole))
		return rc_log_error(RC_E_FORMAT, "%s: options: %s %.17g is out of range (%s%.17g "
			"to %.17g)", path, limits[i].key, *out, limits[i].whole ? "whole, " : "",
			limits[i].lo, limits[i].hi);
	return 0;
}

/* opt_num - an optional number of the options: *out = dflt when absent;
 * RC_E_FORMAT (logged) when present and out of [lo, hi]. */
static int opt_num(json_t *v, const char *key, double lo, double hi, int whole, double dflt,
	double *out, const char *path)
{
	json_t *x = json_object_get(v, key);
	*out = json_is_number(x) ? json_number_value(x) : dflt;
	if (x && (!json_is_number(x) || !in_range(*out, lo, hi, whole)))
		return rc_log_error(RC_E_FORMAT, "%s: options: %s is out of range (%s%.17g to %.17g)",
			path, key, whole ? "whole, " : "", lo, hi);
	return 0;
}

/* meta_sum - the xxh3 of the metadata a resume trusts: the config, the
 * options and the state, each with its length, in hex. */
static void meta_sum(const char *cfg, const char *opts, const char *state,
	char out[RC_HASH64_HEX_SIZE])
{
	const char *part[3] = { cfg, opts, state };
	uint64_t h = 0;
	for (int k = 0; k < 3; k++) {
		uint64_t n = part[k] ? strlen(part[k]) : 0;
		h = rc_hash64_seed(&n, sizeof n, h);
		h = rc_hash64_seed(part[k] ? part[k] : "", n, h);
	}
	rc_hash64_hex(h, out);
}

/* check_meta_sum - a checkpoint's "meta_xxh3" against its metadata; one
 * written before the sum existed has none and passes. */
static int check_meta_sum(const struct rc_st *st, const char *path)
{
	const char *want = rc_st_meta(st, "meta_xxh3");
	if (!want)
		return 0;
	char got[RC_HASH64_HEX_SIZE];
	meta_sum(rc_st_meta(st, "config"), rc_st_meta(st, "options"), rc_st_meta(st, "state"),
		got);
	if (strcmp(want, got) != 0)
		return rc_log_error(RC_E_CHECKSUM, "%s: the metadata's checksum does not match "
			"(meta_xxh3 %s, computed %s): edited or corrupt", path, want, got);
	return 0;
}

int rc_train_read_options(const char *path, struct rc_train_opts *o, char *data, size_t n)
{
	struct rc_st *st;
	int rc = rc_st_open(&st, path);
	if (rc < 0)
		return rc;
	const char *s = rc_st_meta(st, "options");
	json_error_t err;
	json_t *v = s ? json_loads(s, JSON_REJECT_DUPLICATES, &err) : NULL;
	if (!json_is_object(v)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: no training options in the metadata (not an "
			"rclip-train checkpoint)", path);
		goto out;
	}
	if ((rc = check_meta_sum(st, path)) < 0)
		goto out;
	double x;
	double val[NLIMITS];
	for (size_t i = 0; i < NLIMITS; i++)
		if ((rc = get_num(v, i, &val[i], path)) < 0)
			goto out;
	o->stage = (int)val[0], o->batch = (int)val[1], o->accum = (int)val[2];
	o->steps = (long)val[3], o->seed = (uint64_t)val[4], o->buffer = (int)val[5];
	o->lr = val[6], o->wd = val[7], o->warmup = val[8], o->l2 = val[9], o->gamma = val[10];
	o->clip_norm = val[11], o->max_logit_scale = val[12], o->siglip_bias = val[13];
	/* options added later take, when a checkpoint lacks them, the values
	 * its run had: a boolean shuffle (the buffer or none), the exact
	 * gather, no held-out set, stage 1's CLIP weights */
	json_t *x_shuffle = json_object_get(v, "shuffle");
	o->shuffle = json_is_boolean(x_shuffle) ? (json_is_true(x_shuffle) ? RC_SHUFFLE_BUFFER :
		RC_SHUFFLE_NONE) : RC_SHUFFLE_PERM;
	for (int k = 0; k < 4; k++)
		if (json_is_string(x_shuffle) && !strcmp(json_string_value(x_shuffle),
		    shuffle_names[k]))
			o->shuffle = k;
	const char *gather = json_string_value(json_object_get(v, "gather"));
	o->gather = gather && !strcmp(gather, "official") ? RC_GATHER_OFFICIAL : RC_GATHER_EXACT;
	double save_every, keep, group;
	if ((rc = opt_num(v, "group", 1, RC_TRAIN_MAX_GROUP, 1, 1, &group, path)) < 0 ||
	    (rc = opt_num(v, "holdout", 0, 0.5, 0, 0, &o->holdout, path)) < 0 ||
	    (rc = opt_num(v, "eval_every", 0, 1e15, 0, 0.25, &o->eval_every, path)) < 0 ||
	    (rc = opt_num(v, "save_every", 0, 1099511627776.0, 1, 0, &save_every, path)) < 0 ||
	    (rc = opt_num(v, "keep", 1, 1 << 20, 1, 3, &keep, path)) < 0)
		goto out;
	o->group = (int)group;
	/* the checkpoint cadence of the run, unless this command line set it */
	if (o->save_every < 0)
		o->save_every = (long)save_every;
	if (o->keep < 0)
		o->keep = (int)keep;
	const double tb[3] = { 0.7, 0.5, 0.6 };
	json_t *jx;
	for (int k = 0; k < 3; k++) {
		jx = json_array_get(json_object_get(v, "tb_weights"), (size_t)k);
		o->tb_weights[k] = json_is_number(jx) ? json_number_value(jx) : tb[k];
		if (!in_range(o->tb_weights[k], 0, 1, 0)) {
			rc = rc_log_error(RC_E_FORMAT, "%s: options: tb_weights out of range (0 to 1)",
				path);
			goto out;
		}
	}
	o->verify = json_is_true(json_object_get(v, "verify"));
	const char *stream = json_string_value(json_object_get(v, "stream"));
	o->stream = RC_STREAM_CAPTION;
	for (int k = 1; k < 4; k++)
		if (stream && !strcmp(stream, stream_names[k]))
			o->stream = k;
	const char *loss = json_string_value(json_object_get(v, "loss"));
	o->loss = loss && !strcmp(loss, "siglip") ? RC_TRAIN_LOSS_SIGLIP : RC_TRAIN_LOSS_CLIP;
	json_t *g = json_object_get(v, "lr_groups");
	for (int k = 0; k < RC_NGROUPS; k++) {
		x = json_number_value(json_array_get(g, (size_t)k));
		o->lr_group[k] = json_is_number(json_array_get(g, (size_t)k)) ? x : -1;
		if (o->lr_group[k] != -1 && !in_range(o->lr_group[k], 0, 10, 0)) {
			rc = rc_log_error(RC_E_FORMAT, "%s: options: lr_groups out of range (0 to 10)",
				path);
			goto out;
		}
	}
	const char *d = json_string_value(json_object_get(v, "data"));
	if (!d || strlen(d) >= n) {
		rc = rc_log_error(RC_E_FORMAT, "%s: options: no data path", path);
		goto out;
	}
	strcpy(data, d);
	o->data = data;
	o->init = NULL;
	rc = 0;
out:
	json_decref(v);
	rc_st_close(st);
	return rc;
}

/* ---------------------------------------------------------------- save */

int rc_train_save(struct rc_train_job *j, const char *path, int with_optimizer)
{
	struct rc_st_writer *w;
	int rc = rc_st_writer_new(&w);
	if (rc < 0)
		return rc;
	char **names = NULL;
	size_t nnames = 0;
	char *cfg = NULL, *opts = NULL, *state = NULL;
	json_t *ov = NULL, *sv = NULL;
	const struct rc_clip *m = j->m;
	/* host copies of the buffers, laid out as the parameters */
	const float *buf[4] = { rc_backend_host(j->be, RC_BUF_PARAMS), NULL, NULL, NULL };
	if (with_optimizer) {
		buf[1] = rc_backend_host(j->be, RC_BUF_EXP_AVG);
		buf[2] = rc_backend_host(j->be, RC_BUF_EXP_AVG_SQ);
		buf[3] = rc_backend_host(j->be, RC_BUF_ANCHOR);
		if (!buf[1] || !buf[2] || (j->o.l2 > 0 && !buf[3]))
			rc = RC_E_IO;
	}
	if (!buf[0])
		rc = RC_E_IO;
	for (size_t i = 0; i < m->ntensors && rc == 0; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		rc = rc_st_writer_add(w, p->name, RC_ST_F32, p->ndim, p->shape, buf[0] + p->offset);
	}
	if (with_optimizer && rc == 0) {
		/* names for the moments and anchors: 3 per tensor at most */
		if (!(names = rc_calloc(3 * m->ntensors, sizeof *names))) {
			rc = RC_E_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < m->ntensors && rc == 0; i++) {
			const struct rc_clip_param *p = &m->tensors[i];
			int64_t shape[1] = { (int64_t)p->numel };
			const char *pre[3] = { "optimizer.exp_avg.", "optimizer.exp_avg_sq.", "anchor." };
			for (int k = 0; k < 3 && rc == 0; k++) {
				if (k == 2 && (!buf[3] || (j->group[i] != RC_GROUP_VISION &&
				    j->group[i] != RC_GROUP_TEXT)))
					continue;
				size_t len = strlen(pre[k]) + strlen(p->name) + 1;
				if (!(names[nnames] = rc_malloc(len))) {
					rc = RC_E_NOMEM;
					break;
				}
				snprintf(names[nnames], len, "%s%s", pre[k], p->name);
				rc = rc_st_writer_add(w, names[nnames++], RC_ST_F32, 1, shape,
					buf[1 + k] + p->offset);
			}
		}
	}
	if (rc < 0)
		goto out;
	long epoch;
	uint64_t cursor;
	rc_train_tell(j, &epoch, &cursor);
	rc = RC_E_NOMEM;
	if (!(ov = options_json(j)) || !(sv = json_object()))
		goto out;
	json_object_set_new(sv, "step", json_integer(j->step));
	json_object_set_new(sv, "total_steps", json_integer(j->total));
	json_object_set_new(sv, "epoch", json_integer(epoch));
	json_object_set_new(sv, "cursor", json_integer((json_int_t)cursor));
	json_object_set_new(sv, "optimizer_step", json_integer(j->be->adamw_steps));
	json_object_set_new(sv, "seed", json_integer((json_int_t)j->o.seed));
	json_object_set_new(sv, "ranks", json_integer(j->c->size));
	json_object_set_new(sv, "optimizer", json_boolean(with_optimizer));
	if (j->best_step >= 0) {
		json_object_set_new(sv, "best_step", json_integer(j->best_step));
		json_object_set_new(sv, "best_loss", json_real(j->best_loss));
	}
	if (!(opts = json_dumps(ov, JSON_COMPACT | JSON_SORT_KEYS)) ||
	    !(state = json_dumps(sv, JSON_COMPACT | JSON_SORT_KEYS)))
		goto out;
	if ((rc = rc_clip_config_to_json(&m->cfg, &cfg)) < 0 ||
	    (rc = rc_st_writer_meta(w, "format", RC_CKPT_FORMAT)) < 0 ||
	    (rc = rc_st_writer_meta(w, "format_version", RC_CKPT_VERSION)) < 0 ||
	    (rc = rc_st_writer_meta(w, "config", cfg)) < 0 ||
	    (rc = rc_st_writer_meta(w, "options", opts)) < 0 ||
	    (rc = rc_st_writer_meta(w, "state", state)) < 0 ||
	    /* only when not CLIP's: a CLIP checkpoint keeps the metadata it had */
	    (!rc_tokenizer_is_clip(j->tok.id) &&
	     (rc = rc_st_writer_meta(w, "tokenizer", j->tok.id)) < 0))
		goto out;
	char sum[RC_HASH64_HEX_SIZE];
	meta_sum(cfg, opts, state, sum);
	if ((rc = rc_st_writer_meta(w, "meta_xxh3", sum)) < 0)
		goto out;
	rc = rc_st_writer_write(w, path);
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(cfg), free(opts), free(state);
	json_decref(ov), json_decref(sv);
	rc_st_writer_free(w);
	return rc;
}

int rc_train_save_step(struct rc_train_job *j)
{
	if (j->c->rank != 0)
		return 0;
	char path[4200];
	snprintf(path, sizeof path, "%s/ckpt-%ld.safetensors", j->o.out, j->step);
	int rc = rc_train_save(j, path, 1);
	if (rc < 0)
		return rc;
	rc_log_info("step %ld: wrote %s", j->step, path);
	prune(j->o.out, j->o.keep);
	if (j->o.on_checkpoint)
		j->o.on_checkpoint(j->o.on_checkpoint_ctx, j->step, path);
	return 0;
}

/* ---------------------------------------------------------------- load */

/* read_tensor - n floats of name from st into dst; 1 when found, 0 when
 * absent (and not required), or an error. */
static int read_tensor(const struct rc_st *st, const char *name, float *dst, size_t n,
	int required)
{
	const struct rc_st_tensor *t = rc_st_find(st, name);
	if (!t) {
		if (required)
			return rc_log_error(RC_E_NOTFOUND, "%s: missing tensor %s", rc_st_name(st), name);
		return 0;
	}
	if (t->nelem != n)
		return rc_log_error(RC_E_FORMAT, "%s: %s: %zu values in the file, %zu in the model",
			rc_st_name(st), name, t->nelem, n);
	int rc = rc_st_read_f32(st, t, dst, n);
	return rc < 0 ? rc : 1;
}

int rc_train_restore(struct rc_train_job *j, const char *path)
{
	struct rc_st *st;
	int rc = rc_st_open(&st, path);
	if (rc < 0)
		return rc;
	json_t *sv = NULL;
	const struct rc_clip *m = j->m;
	/* the parameters came with the model (rc_clip_load_checkpoint); the
	 * moments and the anchor into the host copies, then to the backend */
	float *mom[2] = { rc_backend_host(j->be, RC_BUF_EXP_AVG),
		rc_backend_host(j->be, RC_BUF_EXP_AVG_SQ) };
	float *anchor = rc_backend_host(j->be, RC_BUF_ANCHOR);
	if (!mom[0] || !mom[1]) {
		rc = RC_E_IO;
		goto out;
	}
	char name[256];
	for (size_t i = 0; i < m->ntensors && rc >= 0; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		snprintf(name, sizeof name, "optimizer.exp_avg.%s", p->name);
		rc = read_tensor(st, name, mom[0] + p->offset, p->numel, 1);
		snprintf(name, sizeof name, "optimizer.exp_avg_sq.%s", p->name);
		if (rc >= 0)
			rc = read_tensor(st, name, mom[1] + p->offset, p->numel, 1);
		snprintf(name, sizeof name, "anchor.%s", p->name);
		if (rc >= 0 && anchor && (j->group[i] == RC_GROUP_VISION ||
		    j->group[i] == RC_GROUP_TEXT))
			rc = read_tensor(st, name, anchor + p->offset, p->numel, 1);
	}
	if (rc < 0 || (rc = rc_backend_commit(j->be, RC_BUF_EXP_AVG)) < 0 ||
	    (rc = rc_backend_commit(j->be, RC_BUF_EXP_AVG_SQ)) < 0 ||
	    (anchor && (rc = rc_backend_commit(j->be, RC_BUF_ANCHOR)) < 0))
		goto out;
	if ((rc = check_meta_sum(st, path)) < 0)
		goto out;
	const char *s = rc_st_meta(st, "state");
	json_error_t err;
	sv = s ? json_loads(s, 0, &err) : NULL;
	json_t *step = json_object_get(sv, "step"), *epoch = json_object_get(sv, "epoch"),
		*cursor = json_object_get(sv, "cursor"), *ostep = json_object_get(sv, "optimizer_step"),
		*ranks = json_object_get(sv, "ranks");
	if (!json_is_integer(step) || !json_is_integer(epoch) || !json_is_integer(cursor) ||
	    !json_is_integer(ostep)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: no training state in the metadata", path);
		goto out;
	}
	if (json_is_integer(ranks) && json_integer_value(ranks) != j->c->size)
		rc_log_warn("%s: written by a run of %d ranks, resumed with %d: the same batches, "
			"sums in another order", path, (int)json_integer_value(ranks), j->c->size);
	if (json_integer_value(step) < 0 || json_integer_value(step) > j->total ||
	    json_integer_value(ostep) < 0 || json_integer_value(epoch) < 0 ||
	    json_integer_value(cursor) < 0) {
		rc = rc_log_error(RC_E_FORMAT, "%s: state: step %lld of %ld, optimizer step %lld, "
			"epoch %lld, cursor %lld: out of range", path,
			(long long)json_integer_value(step), j->total,
			(long long)json_integer_value(ostep), (long long)json_integer_value(epoch),
			(long long)json_integer_value(cursor));
		goto out;
	}
	j->step = (long)json_integer_value(step);
	j->be->adamw_steps = (long)json_integer_value(ostep);
	json_t *bs = json_object_get(sv, "best_step"), *bl = json_object_get(sv, "best_loss");
	if (json_is_integer(bs) && json_is_number(bl))
		j->best_step = (long)json_integer_value(bs), j->best_loss = json_number_value(bl);
	rc = rc_loader_seek(j->ld, (long)json_integer_value(epoch),
		(uint64_t)json_integer_value(cursor));
out:
	json_decref(sv);
	rc_st_close(st);
	return rc;
}

/* ---------------------------------------------------------------- metrics */

/* line_step - the "step" of a metrics line, or -1. */
static long line_step(const char *line)
{
	const char *p = strstr(line, "\"step\": ");
	return p ? strtol(p + 8, NULL, 10) : -1;
}

int rc_train_metrics_open(struct rc_train_job *j)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/metrics.jsonl", j->o.out);
	if (j->resumed_from >= 0) {
		/* drop the lines of steps after the checkpoint: they are done again */
		char *data = NULL;
		size_t len = 0;
		struct stat sb;
		if (stat(path, &sb) == 0) {
			int rc = rc_io_read_file(path, &data, &len);
			if (rc < 0)
				return rc;
			struct rc_atomic_file af;
			if ((rc = rc_atomic_open(&af, path)) < 0) {
				free(data);
				return rc;
			}
			char *p = data, *end = data + len;
			while (p < end && rc == 0) {
				char *nl = memchr(p, '\n', (size_t)(end - p));
				size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
				char save = p[n - 1];
				p[n - 1] = '\0';
				long s = line_step(p);
				p[n - 1] = save;
				if (s >= 0 && s <= j->step && nl)
					rc = rc_io_write_all(af.f, p, n, path);
				p += n;
			}
			free(data);
			if (rc < 0) {
				rc_atomic_abort(&af);
				return rc;
			}
			if ((rc = rc_atomic_commit(&af)) < 0)
				return rc;
		}
	}
	/* appended to, never through a symlink at the name */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0 || !(j->metrics = fdopen(fd, "a"))) {
		int rc = rc_log_error(RC_E_IO, "%s: %s", path, errno == ELOOP ? "is a symbolic "
			"link; refusing to write through it" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return 0;
}

int rc_train_metrics_write(struct rc_train_job *j, const char *line)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/metrics.jsonl", j->o.out);
	int rc = rc_io_write_all(j->metrics, line, strlen(line), path);
	return rc < 0 ? rc : rc_io_flush(j->metrics, path);
}
