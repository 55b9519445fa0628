/* test_model_io.c - common/convert/model_io.c, model_io_any.c,
 * model_save_hf.c, model_open_clip.c: JSON reals as Python writes them,
 * open_clip configs (open_clip's own model_configs read as the built-in
 * shapes, defaults, the pooling rule, refused keys, the round trip),
 * checksums and comparisons (one flipped bit is found and named), and
 * every saver read back by its loader. The command-line and transformers
 * round trips are tests/cli/export-*.sh. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/clip_config.h"
#include "base/error.h"
#include "base/log.h"
#include "model/model.h"
#include "convert/model_io.h"
#include "convert/model_io_impl.h"

#include "testutil.h"

/* ---------------------------------------------------------------- JSON */

START_TEST(test_json_real)
{
	/* Python: repr(float(x)) */
	static const struct { double x; const char *py; } cases[] = {
		{ 2.0, "2.0" }, { 0.0, "0.0" }, { -3.5, "-3.5" }, { 1e-5, "1e-05" },
		{ 1e-6, "1e-06" }, { 0.0001, "0.0001" }, { 1.5e-7, "1.5e-07" },
		{ 100000.0, "100000.0" }, { 1e15, "1000000000000000.0" }, { 1e16, "1e+16" },
		{ 0.1, "0.1" }, { 40.0 / 18.0, "2.2222222222222223" },
		{ 1.0 / 255.0, "0.00392156862745098" }, { 0.48145466, "0.48145466" },
		{ 2.6592, "2.6592" }, { 123456789.123, "123456789.123" }, { 1e300, "1e+300" },
	};
	char buf[40];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_str_eq(rc_json_real(cases[i].x, buf), cases[i].py);
}
END_TEST

/* ---------------------------------------------------------------- open_clip configs */

/* open_clip 3.3's model_configs/ViT-B-32.json and ViT-L-14-336-quickgelu.json. */
static const char vit_b32[] = "{\"embed_dim\": 512, \"vision_cfg\": {\"image_size\": 224, "
	"\"layers\": 12, \"width\": 768, \"patch_size\": 32}, \"text_cfg\": {\"context_length\": "
	"77, \"vocab_size\": 49408, \"width\": 512, \"heads\": 8, \"layers\": 12}}";
static const char vit_l336q[] = "{\"embed_dim\": 768, \"quick_gelu\": true, \"vision_cfg\": "
	"{\"image_size\": 336, \"layers\": 24, \"width\": 1024, \"patch_size\": 14}, \"text_cfg\": "
	"{\"context_length\": 77, \"vocab_size\": 49408, \"width\": 768, \"heads\": 12, "
	"\"layers\": 12}}";

static int parse(struct rc_clip_config *c, const char *json)
{
	return rc_clip_open_clip_config_parse(c, json, strlen(json), "test.json");
}

START_TEST(test_open_clip_config)
{
	struct rc_clip_config c, b;
	ck_assert_int_eq(parse(&c, vit_l336q), 0);
	ck_assert_str_eq(rc_clip_config_name(&c, RC_CLIP_ALL), "ViT-L-14-336");
	ck_assert_int_eq(c.vision.heads, 16);
	ck_assert_int_eq(c.vision.intermediate, 4096);
	ck_assert_int_eq(c.text.eos_token_id, 49407); /* argmax = the first 49407 */
	/* open_clip's own ViT-B-32 is OpenAI's shape with exact GELU (LAION). */
	ck_assert_int_eq(parse(&c, vit_b32), 0);
	ck_assert_ptr_null(rc_clip_config_name(&c, RC_CLIP_ALL));
	ck_assert_int_eq(rc_clip_config_builtin(&b, "ViT-B-32"), 0);
	b.vision.act = b.text.act = RC_ACT_GELU;
	ck_assert_int_eq(rc_clip_config_compare(&b, &c, RC_CLIP_ALL, "x"), 0);
	/* A hub open_clip_config.json. */
	char hub[1024];
	snprintf(hub, sizeof hub, "{\"model_cfg\": %s, \"preprocess_cfg\": {}}", vit_l336q);
	ck_assert_int_eq(parse(&c, hub), 0);
	ck_assert_str_eq(rc_clip_config_name(&c, RC_CLIP_ALL), "ViT-L-14-336");
	/* Pooling, eps, MLP ratio, pad. */
	ck_assert_int_eq(parse(&c, "{\"embed_dim\": 8, \"vision_cfg\": {\"width\": 64, "
		"\"head_width\": 16, \"mlp_ratio\": 2.6667, \"norm_kwargs\": {\"eps\": 1e-6}}, "
		"\"text_cfg\": {\"vocab_size\": 300, \"pool_type\": \"eos\", \"eos_id\": 7, "
		"\"pad_id\": 3}}"), 0);
	ck_assert_int_eq(c.vision.heads, 4);
	ck_assert_int_eq(c.vision.intermediate, 170);   /* int(64 × 2.6667) */
	ck_assert(c.vision.layer_norm_eps == 1e-6);
	ck_assert(c.text.layer_norm_eps == 1e-5);
	ck_assert_int_eq(c.text.eos_token_id, 7);
	ck_assert_int_eq(c.text.pad_token_id, 3);
	ck_assert_int_eq(c.vision.act, RC_ACT_GELU);
}
END_TEST

START_TEST(test_open_clip_config_refused)
{
	static const struct { const char *json; int rc; const char *msg; } bad[] = {
		{ "{\"vision_cfg\": {}}", RC_E_FORMAT, "no \"embed_dim\"" },
		{ "{\"embed_dim\": 8, \"vision_cfg\": {\"layers\": [3, 4, 6, 3]}}", RC_E_UNSUPPORTED,
			"ResNet" },
		{ "{\"embed_dim\": 8, \"init_logit_bias\": -10}", RC_E_UNSUPPORTED, "SigLIP" },
		{ "{\"embed_dim\": 8, \"custom_text\": true}", RC_E_UNSUPPORTED, "custom_text" },
		{ "{\"embed_dim\": 8, \"vision_cfg\": {\"width\": 100}}", RC_E_RANGE, "head_width" },
		{ "{\"embed_dim\": 8, \"text_cfg\": {\"pool_type\": \"last\"}}", RC_E_UNSUPPORTED,
			"pool_type" },
		{ "{\"embed_dim\": 8, \"text_cfg\": {\"proj_bias\": true}}", RC_E_UNSUPPORTED,
			"proj_bias" },
		{ "{\"embed_dim\": 8, \"vision_cfg\": {\"ls_init_value\": 0.1}}", RC_E_UNSUPPORTED,
			"ls_init_value" },
		{ "{\"embed_dim\": 8, \"vision_cfg\": {\"norm_kwargs\": {\"elementwise_affine\": "
			"false}}}", RC_E_UNSUPPORTED, "norm_kwargs.elementwise_affine" },
		{ "{\"embed_dim\": 8, \"text_cfg\": {\"width\": \"wide\"}}", RC_E_FORMAT,
			"text_cfg.width: expected" },
		{ "{\"embed_dim\": 8,", RC_E_FORMAT, "test.json:1:" },
	};
	struct rc_clip_config c;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		capture_begin();
		int rc = parse(&c, bad[i].json);
		const char *err = capture_end();
		ck_assert_msg(rc == bad[i].rc, "%s: %d", bad[i].json, rc);
		ck_assert_msg(strstr(err, bad[i].msg) != NULL, "%s: no '%s' in: %s", bad[i].json,
			bad[i].msg, err);
	}
	capture_begin();
	ck_assert_int_eq(parse(&c, "{\"embed_dim\": 8, \"vision_cfg\": {\"colour\": 1}}"), 0);
	ck_assert_ptr_nonnull(strstr(capture_end(), "vision_cfg.colour: unknown key"));
}
END_TEST

START_TEST(test_open_clip_config_round_trip)
{
	struct rc_clip_config c, d;
	char *s;
	const char *names[] = { "ViT-B-16", "ViT-L-14", "tiny" };
	for (int i = 0; i < 4; i++) {
		if (i < 3) {
			ck_assert_int_eq(rc_clip_config_builtin(&c, names[i]), 0);
		} else {
			/* tiny-oddheads' text tower: MLP 40 of width 18 (ratio 2.2222...). */
			ck_assert_int_eq(rc_clip_config_builtin(&c, "tiny"), 0);
			c.text.hidden = 18, c.text.heads = 3, c.text.intermediate = 40;
			c.text.eos_token_id = 128, c.vision.layer_norm_eps = 1e-6;
			c.logit_scale_init = 3.0;
		}
		for (int hub = 0; hub < 2; hub++) {
			ck_assert_int_eq(rc_clip_open_clip_config_to_json(&c, hub, &s), 0);
			ck_assert_int_eq(parse(&d, s), 0);
			ck_assert_msg(rc_clip_config_compare(&c, &d, RC_CLIP_ALL, "round trip") == 0, "%s", s);
			ck_assert(d.logit_scale_init == c.logit_scale_init);
			free(s);
		}
	}
	c.vision.act = RC_ACT_GELU;
	capture_begin();
	ck_assert_int_eq(rc_clip_open_clip_config_to_json(&c, 0, &s), RC_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(capture_end(), "gelu for vision and quick_gelu for text"));
}
END_TEST

/* ---------------------------------------------------------------- checksum, compare */

static struct rc_clip *tiny_model(unsigned seed)
{
	struct rc_clip_config c;
	struct rc_clip *m;
	ck_assert_int_eq(rc_clip_config_builtin(&c, "tiny"), 0);
	ck_assert_int_eq(rc_clip_new(&m, &c), 0);
	uint32_t x = seed;
	for (size_t i = 0; i < m->nparams; i++) {
		x = x * 1664525u + 1013904223u;
		m->params[i] = (float)((int32_t)x >> 8) / (float)(1 << 23);
	}
	return m;
}

START_TEST(test_compare_checksum)
{
	struct rc_clip *a = tiny_model(1), *b = tiny_model(1);
	struct rc_clip_diff d;
	struct rc_hash128 ha, hb, hv;
	ck_assert_int_eq(rc_clip_compare(a, b, RC_CLIP_ALL, &d), 0);
	ck_assert_uint_eq(d.ndiff, 0);
	ck_assert_uint_eq(d.ntensors, rc_clip_tensor_count(a));
	ck_assert_int_eq(rc_clip_checksum(a, RC_CLIP_ALL, &ha), 0);
	ck_assert_int_eq(rc_clip_checksum(b, RC_CLIP_ALL, &hb), 0);
	ck_assert(ha.lo == hb.lo && ha.hi == hb.hi);
	ck_assert_int_eq(rc_clip_checksum(a, RC_CLIP_VISION, &hv), 0);
	/* One bit of one text weight. */
	const struct rc_clip_param *p = rc_clip_find_param(b,
		"text_model.encoder.layers.1.mlp.fc2.weight");
	uint32_t u;
	memcpy(&u, &p->data[5], 4);
	u ^= 1;
	memcpy(&p->data[5], &u, 4);
	ck_assert_int_eq(rc_clip_compare(a, b, RC_CLIP_ALL, &d), 0);
	ck_assert_uint_eq(d.ndiff, 1);
	ck_assert_str_eq(d.worst, "text_model.encoder.layers.1.mlp.fc2.weight");
	ck_assert(d.max_abs > 0 && d.max_abs < 1e-6);
	ck_assert_int_eq(rc_clip_checksum(b, RC_CLIP_ALL, &hb), 0);
	ck_assert(ha.lo != hb.lo || ha.hi != hb.hi);
	ck_assert_int_eq(rc_clip_compare(a, b, RC_CLIP_VISION | RC_CLIP_VISUAL_PROJ, &d), 0);
	ck_assert_uint_eq(d.ndiff, 0);
	ck_assert_int_eq(rc_clip_checksum(b, RC_CLIP_VISION, &hb), 0);
	ck_assert(hv.lo == hb.lo && hv.hi == hb.hi);
	/* A NaN against a number is an infinite difference. */
	p->data[5] = NAN;
	ck_assert_int_eq(rc_clip_compare(a, b, RC_CLIP_ALL, &d), 0);
	ck_assert(isinf(d.max_abs));
	/* Another shape is an error naming the tensor and both shapes. */
	struct rc_clip_config c = b->cfg;
	struct rc_clip *e;
	c.projection_dim = 16;
	ck_assert_int_eq(rc_clip_new(&e, &c), 0);
	capture_begin();
	ck_assert_int_eq(rc_clip_compare(a, e, RC_CLIP_ALL, &d), RC_E_FORMAT);
	ck_assert_ptr_nonnull(strstr(capture_end(),
		"visual_projection.weight: shape [32, 64] in the source, [16, 64] in the copy"));
	rc_clip_free(e);
	rc_clip_free(a);
	rc_clip_free(b);
	ck_assert_int_eq(rc_clip_tensor_part("logit_scale"), RC_CLIP_LOGIT_SCALE);
	ck_assert_int_eq(rc_clip_tensor_part("vision_model.post_layernorm.bias"), RC_CLIP_VISION);
	ck_assert_int_eq(rc_clip_tensor_part("visual.proj"), 0);
}
END_TEST

/* ---------------------------------------------------------------- savers and loaders */

START_TEST(test_save_load)
{
	char dir[4096], out[4200];
	struct rc_clip *m = tiny_model(7), *back;
	struct rc_clip_diff d;
	int fmt, proj;
	rc_test_tmpdir(dir, sizeof dir, "model-io");
	rc_log_set_level(RC_LOG_ERROR);

	snprintf(out, sizeof out, "%s/hf", dir);
	ck_assert_int_eq(rc_clip_save_hf(m, out, 0), 0);
	ck_assert_int_eq(rc_clip_load_any(&back, out, NULL, &fmt), 0);
	ck_assert_int_eq(fmt, RC_CLIP_FMT_HF);
	ck_assert_int_eq(rc_clip_compare(m, back, RC_CLIP_ALL, &d), 0);
	ck_assert_uint_eq(d.ndiff, 0);
	rc_clip_free(back);
	/* Not twice, unless forced. */
	capture_begin();
	ck_assert_int_eq(rc_clip_save_hf(m, out, 0), RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(capture_end(), "/hf: exists"));
	ck_assert_int_eq(rc_clip_save_hf(m, out, RC_CLIP_SAVE_FORCE), 0);

	snprintf(out, sizeof out, "%s/oc", dir);
	ck_assert_int_eq(rc_clip_save_open_clip(m, out, 0), 0);
	ck_assert_int_eq(rc_clip_load_any(&back, out, NULL, &fmt), 0);
	ck_assert_int_eq(fmt, RC_CLIP_FMT_OPEN_CLIP);
	ck_assert_str_eq(rc_clip_config_name(&back->cfg, RC_CLIP_ALL), "tiny");
	ck_assert_int_eq(rc_clip_compare(m, back, RC_CLIP_ALL, &d), 0);
	ck_assert_uint_eq(d.ndiff, 0);
	rc_clip_free(back);

	snprintf(out, sizeof out, "%s/vis", dir);
	ck_assert_int_eq(rc_clip_save_hf_vision(m, out, RC_CLIP_SAVE_PROJECTION), 0);
	ck_assert_int_eq(rc_clip_detect(out, &fmt), 0);
	ck_assert_int_eq(fmt, RC_CLIP_FMT_HF_VISION);
	ck_assert_int_eq(rc_clip_load_hf_vision(&back, out, &proj), 0);
	ck_assert_int_eq(proj, 1);
	ck_assert_int_eq(rc_clip_config_compare(&m->cfg, &back->cfg,
		RC_CLIP_VISION | RC_CLIP_VISUAL_PROJ, "vision"), 0);
	ck_assert_int_eq(rc_clip_compare(m, back, RC_CLIP_VISION | RC_CLIP_VISUAL_PROJ, &d), 0);
	ck_assert_uint_eq(d.ndiff, 0);
	rc_clip_free(back);

	rc_log_set_level(RC_LOG_WARN);
	rc_clip_free(m);
	const char *sub[] = { "hf", "oc", "vis" };
	for (int i = 0; i < 3; i++) {
		snprintf(out, sizeof out, "%s/%s", dir, sub[i]);
		rc_test_rmdir(out);
	}
	ck_assert_int_eq(rmdir(dir), 0); /* nothing else was left */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("model_io");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_json_real);
	tcase_add_test(tc, test_open_clip_config);
	tcase_add_test(tc, test_open_clip_config_refused);
	tcase_add_test(tc, test_open_clip_config_round_trip);
	tcase_add_test(tc, test_compare_checksum);
	tcase_add_test(tc, test_save_load);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(suite());
}
