/* test_siglip.c - SigLIP models (issue 15) against transformers'
 * SiglipModel on the fixtures of tests/fixtures/siglip/ (gen_siglip.py):
 * the config read from config.json, the tensor table against the file,
 * the forward (embeddings, pooled outputs and last hidden states within
 * 1e-5, logits with the bias), the sigmoid loss within 1e-5 and the
 * gradient of every parameter within 1e-4 of its largest reference value
 * (k_proj.bias, zero in exact arithmetic, within 1e-5 absolute); the
 * built-in bases' parameter counts against transformers'
 * (builtins.json); the pixels as SiglipImageProcessor normalises them;
 * the config written back and read again. Exits 77 (skip) when a fixture
 * is missing and everything that ran passed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/error.h"
#include "base/io.h"
#include "data/safetensors.h"
#include "model/clip_config.h"
#include "model/cpu.h"
#include "model/model.h"

#include "clip_fixtures.h"
#include "testutil.h"

static const char *const fixtures[] = { "siglip-oddheads", "siglip-img64", "siglip-remainder" };
#define NFIX (int)(sizeof fixtures / sizeof fixtures[0])
static int missing;

static const char *fx(const char *name, const char *file)
{
	static char path[4][4096];
	static int k;
	const char *top = getenv("top_srcdir");
	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/tests/fixtures/siglip/%s%s%s", top ? top : ".",
		name, file ? "/" : "", file ? file : "");
	return path[k];
}

static int present(const char *name)
{
	const char *files[] = { "config.json", "model.safetensors", "inputs.safetensors",
		"outputs.safetensors" };
	for (int i = 0; i < 4; i++)
		if (access(fx(name, files[i]), R_OK) != 0)
			return 0;
	return 1;
}

/* One fixture: model, inputs, reference outputs. */
struct fix {
	struct rc_clip *m;
	struct rc_st *in, *out;
	float *px;
	int32_t *ids;
	int B, T;
	size_t npx;
};

static void fix_open(struct fix *f, const char *name)
{
	ck_assert_int_eq(rc_clip_load_hf(&f->m, fx(name, NULL)), 0);
	ck_assert_int_eq(rc_st_open(&f->in, fx(name, "inputs.safetensors")), 0);
	ck_assert_int_eq(rc_st_open(&f->out, fx(name, "outputs.safetensors")), 0);
	f->px = read_f32(f->in, "pixel_values", &f->npx);
	f->ids = read_ids(f->in, &f->B, &f->T);
}

static void fix_close(struct fix *f)
{
	free(f->px), free(f->ids);
	rc_st_close(f->in), rc_st_close(f->out);
	rc_clip_free(f->m);
}

/* compare - got[n] against the reference tensor name: max |diff| ≤ tol. */
static void compare(const char *fix, const struct rc_st *out, const char *name, const float *got,
	size_t n, double tol)
{
	size_t m;
	float *want = read_f32(out, name, &m);
	ck_assert_msg(m == n, "%s: %s: %zu values, the reference has %zu", fix, name, n, m);
	double d = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)got[i] - want[i]);
		d = e > d || isnan(e) ? e : d;
	}
	fprintf(stderr, "%-16s %-26s max |diff| %.2e\n", fix, name, d);
	ck_assert_msg(d <= tol, "%s: %s: max |diff| %.3g > %.1g", fix, name, d, tol);
	free(want);
}

START_TEST(test_config)
{
	const char *fix = fixtures[_i];
	if (!present(fix))
		return;
	struct rc_clip_config c, back;
	ck_assert_int_eq(rc_clip_config_load(&c, fx(fix, "config.json")), 0);
	ck_assert_int_eq(c.family, RC_FAMILY_SIGLIP);
	ck_assert_int_eq(c.vision.act, RC_ACT_GELU_TANH);
	ck_assert_int_eq(c.text.act, RC_ACT_GELU_TANH);
	ck_assert_int_eq(c.projection_dim, c.vision.hidden);
	ck_assert(fabs(c.vision.layer_norm_eps - 1e-6) < 1e-12);
	int g = c.vision.image_size / c.vision.patch_size;
	ck_assert_int_eq(rc_clip_config_image_tokens(&c), g * g);   /* no class token */
	/* written and read back: the same config */
	char *js;
	ck_assert_int_eq(rc_clip_config_to_json(&c, &js), 0);
	ck_assert_ptr_nonnull(strstr(js, "\"SiglipModel\""));
	ck_assert_int_eq(rc_clip_config_parse(&back, js, strlen(js), "back"), 0);
	free(js);
	ck_assert_int_eq(back.family, RC_FAMILY_SIGLIP);
	ck_assert_int_eq(back.projection_dim, c.projection_dim);
	ck_assert_int_eq(back.text.max_position, c.text.max_position);
	ck_assert_int_eq(back.vision.heads, c.vision.heads);
	ck_assert_int_eq(back.text.pad_token_id, c.text.pad_token_id);
}
END_TEST

START_TEST(test_bad_configs)
{
	struct rc_clip_config c;
	const char *nohead = "{\"model_type\": \"siglip\", \"vision_config\": "
		"{\"vision_use_head\": false}}";
	const char *proj = "{\"model_type\": \"siglip\", \"text_config\": "
		"{\"projection_size\": 100}}";
	const char *act = "{\"model_type\": \"siglip\", \"text_config\": "
		"{\"hidden_act\": \"relu\"}}";
	capture_begin();
	int rc = rc_clip_config_parse(&c, nohead, strlen(nohead), "a.json");
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "a.json: vision_config.vision_use_head"));
	capture_begin();
	rc = rc_clip_config_parse(&c, proj, strlen(proj), "b.json");
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_RANGE);
	ck_assert_ptr_nonnull(strstr(err, "projection_size 100 differs from the vision "
		"hidden_size 768"));
	capture_begin();
	rc = rc_clip_config_parse(&c, act, strlen(act), "c.json");
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "c.json: text_config.hidden_act: \"relu\""));
	/* SiglipConfig()'s defaults: B/16 at 224 */
	const char *dflt = "{\"model_type\": \"siglip\"}";
	ck_assert_int_eq(rc_clip_config_parse(&c, dflt, strlen(dflt), "d.json"), 0);
	ck_assert_int_eq(c.vision.hidden, 768);
	ck_assert_int_eq(c.text.vocab_size, 32000);
	ck_assert_int_eq(c.text.max_position, 64);
	ck_assert_int_eq(c.projection_dim, 768);
}
END_TEST

/* The built-ins against transformers' counts (builtins.json). */
START_TEST(test_builtins)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/siglip/builtins.json", top ? top : ".");
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	if (!root)
		return;        /* counted as missing by main */
	const char *name;
	json_t *v;
	int n = 0;
	json_object_foreach(root, name, v) {
		struct rc_clip_config c;
		ck_assert_int_eq(rc_clip_config_builtin(&c, name), 0);
		ck_assert_int_eq(c.family, RC_FAMILY_SIGLIP);
		size_t got = rc_clip_param_count_config(&c);
		fprintf(stderr, "%-26s %zu parameters (transformers %lld)\n", name, got,
			(long long)json_integer_value(v));
		ck_assert_uint_eq(got, (size_t)json_integer_value(v));
		n++;
	}
	ck_assert_int_eq(n, 5);
	json_decref(root);
	struct rc_clip_config c;
	ck_assert_int_eq(rc_clip_config_builtin(&c, "siglip-so400m/14-384"), 0);
	ck_assert_int_eq(c.vision.image_size, 384);
	/* tiny-siglip: tiny's towers as a SiglipModel */
	ck_assert_int_eq(rc_clip_config_builtin(&c, "tiny-siglip"), 0);
	ck_assert_int_eq(rc_clip_config_validate(&c, "tiny-siglip"), 0);
	ck_assert_int_eq(c.vision.image_size, 32);
	ck_assert_int_eq(c.vision.hidden, 64);
	ck_assert_int_eq(c.text.hidden, 32);
	ck_assert_int_eq(c.projection_dim, 64);
	ck_assert_int_eq(c.text.act, RC_ACT_GELU_TANH);
	ck_assert_int_eq(c.text.max_position, 64);
	ck_assert_int_eq(c.text.pad_token_id, 1);
	ck_assert_int_eq(rc_clip_config_image_tokens(&c), 16);
}
END_TEST

/* The model's table is the file's: every name and shape (the load checks
 * shapes), nothing left over. */
START_TEST(test_table)
{
	const char *fix = fixtures[_i];
	if (!present(fix))
		return;
	struct rc_clip *m;
	struct rc_st *st;
	ck_assert_int_eq(rc_clip_load_hf(&m, fx(fix, NULL)), 0);
	ck_assert_int_eq(rc_st_open(&st, fx(fix, "model.safetensors")), 0);
	ck_assert_uint_eq(rc_clip_tensor_count(m), rc_st_count(st));
	ck_assert_uint_eq(m->nclip, m->ntensors);
	ck_assert(m->extras & RC_CLIP_LOGIT_BIAS);
	for (size_t i = 0; i < rc_st_count(st); i++)
		ck_assert_msg(rc_clip_find_param(m, rc_st_at(st, i)->name) != NULL, "%s: %s not in "
			"the model", fix, rc_st_at(st, i)->name);
	const struct rc_clip_param *p = rc_clip_find_param(m, "logit_bias");
	ck_assert(p && p->ndim == 1 && p->shape[0] == 1);
	/* set_extras keeps the bias (its own tensor) and adds only the heads */
	int added;
	float bias = *m->w.logit_bias;
	ck_assert_int_eq(rc_clip_set_extras(m, RC_CLIP_HEADS, &added), 0);
	ck_assert_int_eq(added, RC_CLIP_HEADS);
	ck_assert(*m->w.logit_bias == bias);
	ck_assert_int_eq(rc_clip_set_extras(m, 0, NULL), 0);
	ck_assert(m->extras == RC_CLIP_LOGIT_BIAS && *m->w.logit_bias == bias);
	rc_st_close(st);
	rc_clip_free(m);
}
END_TEST

START_TEST(test_forward)
{
	const char *fix = fixtures[_i];
	if (!present(fix))
		return;
	struct fix f;
	struct rc_clip_ws *ws;
	fix_open(&f, fix);
	struct rc_clip *m = f.m;
	struct rc_st *in = f.in, *out = f.out;
	const float *px = f.px;
	const int32_t *ids = f.ids;
	const int B = f.B, T = f.T;
	const size_t n = f.npx;
	const int D = m->cfg.projection_dim, S = m->cfg.vision.image_size;
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, B, B, 0), 0);
	ck_assert_int_eq(rc_clip_encode_image(m, ws, px, B, NULL), 0);
	ck_assert_int_eq(rc_clip_encode_text(m, ws, ids, B, T, NULL), 0);
	const int Tv = ws->vision.T, Cv = m->cfg.vision.hidden, Ct = m->cfg.text.hidden;
	compare(fix, out, "image_embeds", ws->vision.emb, (size_t)B * D, 1e-5);
	compare(fix, out, "text_embeds", ws->text.emb, (size_t)B * D, 1e-5);
	compare(fix, out, "image_pooled", ws->vision.pooled, (size_t)B * Cv, 1e-5);
	compare(fix, out, "text_pooled", ws->text.proj, (size_t)B * D, 1e-5);
	compare(fix, out, "vision_last_hidden_state", ws->vision.last_hidden, (size_t)B * Tv * Cv,
		1e-5);
	compare(fix, out, "text_last_hidden_state", ws->text.last_hidden, (size_t)B * T * Ct, 1e-5);
	float *lg = malloc((size_t)B * B * sizeof *lg);
	rc_clip_logits(m, ws->vision.emb, ws->text.emb, B, B, lg);
	compare(fix, out, "logits_per_image", lg, (size_t)B * B, 1e-5);

	/* the same pixels from the uint8 image, normalised as SiglipImageProcessor */
	const struct rc_st_tensor *rgb = rc_st_find(in, "rgb");
	ck_assert(rgb && rgb->dtype == RC_ST_U8);
	float *px2 = malloc(n * sizeof *px2);
	const double *mean, *std;
	rc_clip_config_image_norm(&m->cfg, &mean, &std);
	ck_assert(mean[0] == 0.5 && std[2] == 0.5);
	for (int b = 0; b < B; b++)
		rc_clip_pixels_for(&m->cfg, (const uint8_t *)rgb->data + (size_t)b * S * S * 3, S,
			px2 + (size_t)b * 3 * S * S);
	ck_assert_int_eq(memcmp(px, px2, n * sizeof *px), 0);

	free(lg), free(px2);
	rc_clip_ws_free(ws);
	fix_close(&f);
}
END_TEST

START_TEST(test_grads)
{
	const char *fix = fixtures[_i];
	if (!present(fix))
		return;
	struct fix f;
	struct rc_clip_ws *ws;
	struct rc_clip_grad_ws *gw;
	size_t n;
	fix_open(&f, fix);
	struct rc_clip *m = f.m;
	struct rc_st *out = f.out;
	const int B = f.B, T = f.T;
	const float *px = f.px;
	const int32_t *ids = f.ids;
	float *grads = calloc(m->nparams, sizeof *grads), loss;
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, B, B, RC_CLIP_WS_TRAIN), 0);
	ck_assert_int_eq(rc_clip_grad_ws_new(&gw, m, ws), 0);
	ck_assert_int_eq(rc_clip_loss_and_grad(m, ws, gw, px, ids, B, T, &loss, grads), 0);
	compare(fix, out, "loss", &loss, 1, 1e-5);
	double worst = 0, worst_k = 0;
	const char *worst_name = "";
	int bad = 0;
	for (size_t t = 0; t < rc_clip_tensor_count(m); t++) {
		const struct rc_clip_param *p = rc_clip_tensor(m, t);
		char key[96];
		snprintf(key, sizeof key, "grad.%s", p->name);
		float *want = read_f32(out, key, &n);
		ck_assert_uint_eq(n, p->numel);
		double diff = 0, mx = 0;
		for (size_t i = 0; i < n; i++) {
			double d = fabs((double)grads[p->offset + i] - want[i]);
			diff = d > diff || isnan(d) ? d : diff;
			mx = fmax(mx, fabs(want[i]));
		}
		if (strstr(p->name, "self_attn.k_proj.bias")) {
			worst_k = fmax(worst_k, diff);
			if (!(diff <= 1e-5))
				bad++, fprintf(stderr, "%s: %s: |diff| %.3g\n", fix, p->name, diff);
		} else {
			ck_assert_msg(mx > 0, "%s: %s: the reference gradient is zero", fix, key);
			double rel = diff / mx;
			if (rel >= worst || isnan(rel))
				worst = rel, worst_name = p->name;
			if (!(rel <= 1e-4))
				bad++, fprintf(stderr, "%s: %s: %.3g of max %.3g\n", fix, p->name, rel, mx);
		}
		free(want);
	}
	fprintf(stderr, "%-16s %zu gradient tensors: worst %.2e relative (%s); k_proj.bias %.2e "
		"absolute\n", fix, rc_clip_tensor_count(m), worst, worst_name, worst_k);
	ck_assert_msg(bad == 0, "%s: %d gradient tensors out of tolerance", fix, bad);
	rc_clip_grad_ws_free(gw);
	rc_clip_ws_free(ws);
	free(grads);
	fix_close(&f);
}
END_TEST

/* A random SigLIP model of a built-in's shape runs forward and backward
 * (no NaN): init_random covers every tensor of the family. */
START_TEST(test_init_random)
{
	struct rc_clip_config c;
	ck_assert_int_eq(rc_clip_config_builtin(&c, "SigLIP-B-16-224"), 0);
	c.vision.hidden = c.text.hidden = c.projection_dim = 32;
	c.vision.heads = c.text.heads = 2;
	c.vision.layers = c.text.layers = 1;
	c.vision.intermediate = c.text.intermediate = 48;
	c.vision.image_size = 32;
	c.text.vocab_size = 100, c.text.max_position = 8;
	struct rc_clip *m;
	ck_assert_int_eq(rc_clip_new(&m, &c), 0);
	rc_clip_init_random(m, 7);
	ck_assert(fabsf(*m->w.logit_bias + 10.0f) < 1e-6f);
	struct rc_clip_ws *ws;
	struct rc_clip_grad_ws *gw;
	float *px = calloc(2 * 3 * 32 * 32, sizeof *px), loss;
	float *grads = calloc(m->nparams, sizeof *grads);
	int32_t ids[16] = { 5, 6, 7, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9 };
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, 2, 2, RC_CLIP_WS_TRAIN), 0);
	ck_assert_int_eq(rc_clip_grad_ws_new(&gw, m, ws), 0);
	ck_assert_int_eq(rc_clip_loss_and_grad(m, ws, gw, px, ids, 2, 8, &loss, grads), 0);
	ck_assert(isfinite(loss));
	for (size_t i = 0; i < m->nparams; i++)
		ck_assert(isfinite(grads[i]));
	rc_clip_grad_ws_free(gw);
	rc_clip_ws_free(ws);
	free(px), free(grads);
	rc_clip_free(m);
}
END_TEST

int main(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/siglip/builtins.json", top ? top : ".");
	missing = access(path, R_OK) != 0;
	for (int i = 0; i < NFIX; i++)
		if (!present(fixtures[i])) {
			fprintf(stderr, "test_siglip: %s missing (tests/fixtures/gen_siglip.py makes it): "
				"its tests are skipped\n", fx(fixtures[i], NULL));
			missing = 1;
		}
	Suite *s = suite_create("siglip");
	TCase *tc = tcase_create("siglip");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_config, 0, NFIX);
	tcase_add_test(tc, test_bad_configs);
	tcase_add_test(tc, test_builtins);
	tcase_add_loop_test(tc, test_table, 0, NFIX);
	tcase_add_loop_test(tc, test_forward, 0, NFIX);
	tcase_add_loop_test(tc, test_grads, 0, NFIX);
	tcase_add_test(tc, test_init_random);
	suite_add_tcase(s, tc);
	int rc = rc_test_run(s);
	return rc == 0 && missing ? 77 : rc;
}
