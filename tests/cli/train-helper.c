/* train-helper - comparisons for the rclip-train shell tests.
 *
 *   train-helper compare A.safetensors B.safetensors TOL [PREFIX...]
 *       every tensor of B whose name starts with one of the PREFIXes (all
 *       when none is given; a PREFIX "-SUB" leaves out the names holding
 *       SUB) must be in A with the same size; prints the
 *       largest absolute difference and the tensor it is in; exit 1 when
 *       it is over TOL (0: bit for bit, NaNs included).
 *   train-helper steps METRICS.jsonl STEPS.json STAGE TOL KEY...
 *       line i of METRICS (rclip-train's) against STEPS.json's
 *       STAGE[i] (the PyTorch reference) for each KEY: prints the largest
 *       difference per key; exit 1 when one is over TOL or the step counts
 *       differ. TOL "rel:X" bounds the difference relative to the
 *       reference's value.
 *   train-helper poison IN.safetensors OUT.safetensors NAME
 *       a copy whose tensor NAME starts with a NaN (F32).
 *   train-helper setmeta IN.safetensors OUT.safetensors SECTION KEY JSON
 *       a copy, metadata too, whose metadata SECTION (a JSON object:
 *       options, state) has KEY set to JSON, without the metadata's
 *       checksum (as a checkpoint from before it); "tamper" keeps the
 *       checksum as it was (an edited checkpoint).
 *   train-helper set IN.safetensors OUT.safetensors NAME VALUE
 *       a copy whose tensor NAME starts with (float)VALUE (strtod's double
 *       rounded to float32, as torch.tensor(VALUE) gives): a model whose
 *       logit_scale is an OpenAI checkpoint's ln 100.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "data/safetensors.h"

static int compare(const char *a, const char *b, double tol, int np, char **prefix)
{
	struct rc_st *sa, *sb;
	if (rc_st_open(&sa, a) < 0 || rc_st_open(&sb, b) < 0)
		return 1;
	double worst = 0;
	const char *where = "-";
	size_t ncmp = 0, nvals = 0;
	int bad = 0;
	for (size_t i = 0; i < rc_st_count(sb); i++) {
		const struct rc_st_tensor *tb = rc_st_at(sb, i);
		int take = 1, any = 0, skip = 0;
		for (int k = 0; k < np; k++) {
			if (prefix[k][0] == '-') {
				skip |= strstr(tb->name, prefix[k] + 1) != NULL;
				continue;
			}
			take = any++ ? take : 0;
			take |= !strncmp(tb->name, prefix[k], strlen(prefix[k]));
		}
		if (!take || skip)
			continue;
		const struct rc_st_tensor *ta = rc_st_find(sa, tb->name);
		if (!ta || ta->nelem != tb->nelem) {
			fprintf(stderr, "%s: %s: %s\n", a, tb->name, ta ? "another size" : "missing");
			bad = 1;
			continue;
		}
		float *x = malloc(ta->nelem * sizeof *x + 1), *y = malloc(tb->nelem * sizeof *y + 1);
		if (!x || !y || rc_st_read_f32(sa, ta, x, ta->nelem) < 0 ||
		    rc_st_read_f32(sb, tb, y, tb->nelem) < 0)
			return 1;
		for (size_t k = 0; k < ta->nelem; k++) {
			double d = fabs((double)x[k] - (double)y[k]);
			if (tol == 0 && memcmp(&x[k], &y[k], sizeof *x) != 0)
				d = isnan(d) ? INFINITY : (d > 0 ? d : 1e-45);
			if (d > worst || isnan(d))
				worst = isnan(d) ? INFINITY : d, where = tb->name;
		}
		ncmp++, nvals += ta->nelem;
		free(x), free(y);
	}
	printf("compared %zu tensors (%zu values): largest difference %.3g in %s\n", ncmp, nvals,
		worst, where);
	rc_st_close(sa), rc_st_close(sb);
	if (!ncmp) {
		fprintf(stderr, "no tensors compared\n");
		return 1;
	}
	return bad || worst > tol;
}

static int steps(const char *metrics, const char *ref, const char *stage, double tol, int rel,
	int nk,
	char **keys)
{
	json_error_t err;
	json_t *r = json_load_file(ref, 0, &err);
	json_t *list = json_object_get(r, stage);
	FILE *f = fopen(metrics, "r");
	if (!json_is_array(list) || !f) {
		fprintf(stderr, "cannot read %s[%s] or %s\n", ref, stage, metrics);
		return 1;
	}
	double worst[16] = { 0 };
	char line[8192];
	size_t i = 0;
	int bad = 0;
	while (fgets(line, sizeof line, f)) {
		json_t *m = json_loads(line, 0, &err), *s = json_array_get(list, i);
		if (!m || !s) {
			fprintf(stderr, "%s: line %zu: %s\n", metrics, i + 1, m ? "more steps than the "
				"reference" : err.text);
			return 1;
		}
		for (int k = 0; k < nk && k < 16; k++) {
			json_t *x = json_object_get(m, keys[k]), *y = json_object_get(s, keys[k]);
			if (!json_is_number(x) || !json_is_number(y)) {
				fprintf(stderr, "step %zu: no number \"%s\"\n", i, keys[k]);
				bad = 1;
				continue;
			}
			double d = fabs(json_number_value(x) - json_number_value(y));
			if (rel)
				d /= fmax(fabs(json_number_value(y)), 1e-30);
			if (d > worst[k] || isnan(d))
				worst[k] = isnan(d) ? INFINITY : d;
		}
		json_decref(m);
		i++;
	}
	fclose(f);
	if (i != json_array_size(list)) {
		fprintf(stderr, "%zu steps in %s, %zu in the reference\n", i, metrics,
			json_array_size(list));
		bad = 1;
	}
	for (int k = 0; k < nk && k < 16; k++) {
		printf("%s %-16s largest %sdifference over %zu steps: %.3g\n", stage, keys[k],
			rel ? "relative " : "", i,
			worst[k]);
		bad |= worst[k] > tol;
	}
	json_decref(r);
	return bad;
}

/* The edit of copy(): a tensor's first value, or a metadata field. */
struct edit {
	const char *tensor;     /* set its first value to v */
	float v;
	const char *section;    /* or set section's JSON field key to value */
	const char *key, *value;
	int keep_sum;           /* keep meta_xxh3 as it was (else drop it) */
};

/* edit_meta - the metadata value val with e's field set, as a new string;
 * NULL when it is not a JSON object or value is not JSON. */
static char *edit_meta(const char *val, const struct edit *e)
{
	json_error_t err;
	json_t *v = json_loads(val, 0, &err);
	json_t *x = json_loads(e->value, JSON_DECODE_ANY, &err);
	char *s = NULL;
	if (json_is_object(v) && x && json_object_set(v, e->key, x) == 0)
		s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(v), json_decref(x);
	return s;
}

/* copy - IN to OUT, tensors and metadata, with one edit. */
static int copy(const char *in, const char *out, const struct edit *e)
{
	struct rc_st *st;
	struct rc_st_writer *w;
	if (rc_st_open(&st, in) < 0 || rc_st_writer_new(&w) < 0)
		return 1;
	float *bufs[4096];
	char *metas[64];
	size_t nb = 0, nm = 0;
	int found = 0;
	for (size_t i = 0; i < rc_st_count(st) && nb < 4096; i++) {
		const struct rc_st_tensor *t = rc_st_at(st, i);
		float *x = malloc(t->nelem * sizeof *x + 1);
		if (!x || rc_st_read_f32(st, t, x, t->nelem) < 0)
			return 1;
		if (e->tensor && !strcmp(t->name, e->tensor) && t->nelem)
			x[0] = e->v, found = 1;
		bufs[nb++] = x;
		if (rc_st_writer_add(w, t->name, RC_ST_F32, t->ndim, t->shape, x) < 0)
			return 1;
	}
	for (size_t i = 0; e->section && i < rc_st_meta_count(st) && nm < 64; i++) {
		const char *key, *val;
		rc_st_meta_at(st, i, &key, &val);
		if (!strcmp(key, "meta_xxh3") && !e->keep_sum)
			continue;
		if (!strcmp(key, e->section)) {
			if (!(val = metas[nm++] = edit_meta(val, e)))
				return 1;
			found = 1;
		}
		if (rc_st_writer_meta(w, key, val) < 0)
			return 1;
	}
	int rc = found && rc_st_writer_write(w, out) == 0 ? 0 : 1;
	for (size_t i = 0; i < nb; i++)
		free(bufs[i]);
	for (size_t i = 0; i < nm; i++)
		free(metas[i]);
	rc_st_writer_free(w);
	rc_st_close(st);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "poison"))
		return copy(argv[2], argv[3], &(struct edit){ .tensor = argv[4], .v = NAN });
	if (argc == 6 && !strcmp(argv[1], "set"))
		return copy(argv[2], argv[3], &(struct edit){ .tensor = argv[4],
			.v = (float)strtod(argv[5], NULL) });
	if (argc == 7 && (!strcmp(argv[1], "setmeta") || !strcmp(argv[1], "tamper")))
		return copy(argv[2], argv[3], &(struct edit){ .section = argv[4], .key = argv[5],
			.value = argv[6], .keep_sum = !strcmp(argv[1], "tamper") });
	rc_log_init("train-helper");
	if (argc >= 5 && !strcmp(argv[1], "compare"))
		return compare(argv[2], argv[3], atof(argv[4]), argc - 5, argv + 5);
	if (argc >= 7 && !strcmp(argv[1], "steps"))
		return steps(argv[2], argv[3], argv[4], atof(argv[5] + 4 * !strncmp(argv[5], "rel:", 4)),
			!strncmp(argv[5], "rel:", 4), argc - 6, argv + 6);
	fprintf(stderr, "usage: train-helper compare A B TOL [PREFIX...] | "
		"steps METRICS STEPS STAGE TOL KEY... | poison IN OUT NAME | set IN OUT NAME VALUE | "
		"setmeta|tamper IN OUT SECTION KEY JSON\n");
	return 2;
}
