/* test_model.c - common/model/clip_config.c, model.c, load.c, init.c and the
 * CPU forward pass: configs (built-in
 * shapes and their parameter counts as transformers counts them, config.json
 * as transformers writes it, defaults, legacy keys, bad configs, the round
 * trip), the parameter table, loading (one file, shards, every kind of
 * mismatch named), and forward parity with transformers on every fixture of
 * tests/fixtures/clip/ (gen_clip.py): embeddings within 1e-5, logits within
 * 1e-4 of their largest value, projections, pooler outputs and last hidden
 * states within 1e-4; the largest differences are printed. Exits 77 (skip)
 * when a fixture is missing and everything that ran passed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/clip_config.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "model/cpu.h"
#include "model/ops_cpu.h"
#include "data/safetensors.h"

#include "clip_fixtures.h"
#include "testutil.h"

static const char *const fixtures[] = { "tiny-quickgelu", "tiny-gelu", "tiny-oddheads",
	"tiny-img64" };
#define NFIX (int)(sizeof fixtures / sizeof fixtures[0])

/* ---------------------------------------------------------------- helpers */

/* max_diff - the largest |a - b| over n values. */
static double max_diff(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		m = d > m || isnan(d) ? d : m;
	}
	return m;
}

static double max_abs(const float *a, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fabs(a[i]) > m ? fabs(a[i]) : m;
	return m;
}

static char *tmpdir(void)
{
	static char dir[4][64];
	static int k;
	k = (k + 1) % 4;
	snprintf(dir[k], sizeof dir[k], "/tmp/rclip-test-model.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir[k]));
	return dir[k];
}

static void rm_dir(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(from, &data, &len), 0);
	FILE *f = fopen(to, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(data);
}

/* config_str - a config as JSON text, for comparing two configs. */
static char *config_str(const struct rc_clip_config *cfg)
{
	char *s;
	ck_assert_int_eq(rc_clip_config_to_json(cfg, &s), 0);
	return s;
}

static void expect_same_config(const struct rc_clip_config *a, const struct rc_clip_config *b)
{
	char *x = config_str(a), *y = config_str(b);
	ck_assert_str_eq(x, y);
	free(x), free(y);
}

/* ---------------------------------------------------------------- built-ins */

START_TEST(test_builtin_counts)
{
	/* transformers.CLIPModel(config).parameters(), counted with
	 * transformers 5.24 (ViT-B/32 and ViT-L/14 match the openai/ hub
	 * checkpoints). */
	static const struct { const char *name; size_t count; } want[] = {
		{ "ViT-B-32", 151277313 }, { "ViT-B-16", 149620737 },
		{ "ViT-L-14", 427616513 }, { "ViT-L-14-336", 427944193 }, { "tiny", 1725729 },
	};
	struct rc_clip_config cfg, def;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_assert_int_eq(rc_clip_config_builtin(&cfg, want[i].name), 0);
		ck_assert_int_eq(rc_clip_config_validate(&cfg, want[i].name), 0);
		ck_assert_uint_eq(rc_clip_param_count_config(&cfg), want[i].count);
		ck_assert_str_eq(rc_clip_config_builtin_name((int)i), want[i].name);
	}
	/* the SigLIP bases and tiny-siglip follow (test_siglip.c counts them) */
	ck_assert_ptr_nonnull(rc_clip_config_builtin_name(9));
	ck_assert_ptr_null(rc_clip_config_builtin_name(10));
	ck_assert_ptr_null(rc_clip_config_builtin_name(-1));

	/* CLIPConfig() is ViT-B/32; "/" spells the same name. */
	rc_clip_config_default(&def);
	ck_assert_int_eq(rc_clip_config_builtin(&cfg, "ViT-B/32"), 0);
	expect_same_config(&cfg, &def);
	ck_assert_int_eq(cfg.vision.heads, 12);
	ck_assert_int_eq(cfg.text.eos_token_id, 49407);
	ck_assert_int_eq(cfg.vision.act, RC_ACT_QUICK_GELU);
	ck_assert(cfg.logit_scale_init == 2.6592);

	ck_assert_int_eq(rc_clip_config_builtin(&cfg, "ViT-L-14-336"), 0);
	ck_assert_int_eq(cfg.vision.image_size, 336);
	ck_assert_int_eq(cfg.vision.heads, 16);
	ck_assert_int_eq(cfg.vision.intermediate, 4096);
	ck_assert_int_eq(cfg.text.heads, 12);
	ck_assert_int_eq(cfg.projection_dim, 768);
	ck_assert_int_eq(rc_clip_config_image_tokens(&cfg), 577);

	capture_begin();
	int rc = rc_clip_config_builtin(&cfg, "ViT-H-14");
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err, "ViT-H-14: no such model config"));
	ck_assert_ptr_nonnull(strstr(err, "hint: built-in configs: ViT-B-32"));
}
END_TEST

/* ---------------------------------------------------------------- parsing */

START_TEST(test_parse_fixture_configs)
{
	/* Written by transformers 5.24 (save_pretrained); SUMMARY.md lists
	 * them. */
	struct rc_clip_config c;
	if (!fixture_present("tiny-oddheads"))
		return;
	ck_assert_int_eq(rc_clip_config_load(&c, fixture("tiny-oddheads", "config.json")), 0);
	ck_assert_int_eq(c.vision.hidden, 24);
	ck_assert_int_eq(c.vision.heads, 3);
	ck_assert_int_eq(c.vision.layers, 3);
	ck_assert_int_eq(c.vision.intermediate, 64);
	ck_assert_int_eq(c.vision.act, RC_ACT_GELU);
	ck_assert(c.vision.layer_norm_eps == 1e-6);
	ck_assert_int_eq(c.vision.image_size, 40);
	ck_assert_int_eq(c.vision.patch_size, 8);
	ck_assert_int_eq(c.text.hidden, 18);
	ck_assert_int_eq(c.text.intermediate, 40);
	ck_assert_int_eq(c.text.act, RC_ACT_QUICK_GELU);
	ck_assert(c.text.layer_norm_eps == 1e-5);
	ck_assert_int_eq(c.text.vocab_size, 256);
	ck_assert_int_eq(c.text.max_position, 32);
	ck_assert_int_eq(c.text.bos_token_id, 127);
	ck_assert_int_eq(c.text.eos_token_id, 128);
	ck_assert_int_eq(c.text.pad_token_id, 0);
	ck_assert_int_eq(c.projection_dim, 16);
	ck_assert(c.logit_scale_init == 2.6592);
	ck_assert_uint_eq(rc_clip_param_count_config(&c), 34089);

	ck_assert_int_eq(rc_clip_config_load(&c, fixture("tiny-gelu", "config.json")), 0);
	ck_assert_int_eq(c.text.eos_token_id, 2);
	ck_assert_int_eq(c.text.bos_token_id, 0);
	ck_assert_int_eq(c.vision.act, RC_ACT_GELU);
	ck_assert(c.logit_scale_init == 3.0);
	ck_assert_uint_eq(rc_clip_param_count_config(&c), 52769);
	ck_assert_int_eq(rc_clip_config_load(&c, fixture("tiny-img64", "config.json")), 0);
	ck_assert_int_eq(c.vision.image_size, 64);
	ck_assert_int_eq(c.vision.patch_size, 16);
	ck_assert_int_eq(c.text.pad_token_id, 255);
	ck_assert_uint_eq(rc_clip_param_count_config(&c), 71201);
}
END_TEST

START_TEST(test_parse_defaults_and_legacy)
{
	struct rc_clip_config c, def;
	rc_clip_config_default(&def);
	ck_assert_int_eq(rc_clip_config_parse(&c, "{}", 2, "empty"), 0);
	expect_same_config(&c, &def);

	/* Absent keys take CLIPTextConfig's / CLIPVisionConfig's defaults. */
	const char *partial = "{\"text_config\": {\"hidden_size\": 64, \"num_attention_heads\": 4},"
		" \"vision_config\": {\"patch_size\": 16, \"image_size\": [64, 64]}}";
	ck_assert_int_eq(rc_clip_config_parse(&c, partial, strlen(partial), "partial"), 0);
	ck_assert_int_eq(c.text.hidden, 64);
	ck_assert_int_eq(c.text.intermediate, 2048);
	ck_assert_int_eq(c.text.layers, 12);
	ck_assert_int_eq(c.vision.hidden, 768);
	ck_assert_int_eq(c.vision.image_size, 64);
	ck_assert_int_eq(c.projection_dim, 512);

	/* An openai/clip-vit-* hub config of transformers 4.x: legacy ids,
	 * torch_dtype, generation keys, *_config_dict, null sub-keys. */
	const char *legacy = "{\"architectures\": [\"CLIPModel\"], \"torch_dtype\": \"float32\","
		" \"initializer_factor\": 1.0, \"logit_scale_init_value\": 2.6592,"
		" \"model_type\": \"clip\", \"projection_dim\": 768,"
		" \"text_config\": {\"bos_token_id\": 0, \"eos_token_id\": 2, \"pad_token_id\": 1,"
		"   \"hidden_size\": 768, \"intermediate_size\": 3072, \"num_attention_heads\": 12,"
		"   \"num_beams\": 1, \"bad_words_ids\": null, \"dropout\": 0.0,"
		"   \"projection_dim\": 768, \"hidden_act\": \"quick_gelu\"},"
		" \"text_config_dict\": {\"hidden_act\": \"quick_gelu\", \"num_hidden_layers\": 12},"
		" \"vision_config\": {\"hidden_size\": 1024, \"intermediate_size\": 4096,"
		"   \"num_attention_heads\": 16, \"num_hidden_layers\": 24, \"patch_size\": 14,"
		"   \"projection_dim\": 768, \"layer_norm_eps\": 1e-05, \"id2label\": {\"0\": \"a\"}},"
		" \"vision_config_dict\": null, \"transformers_version\": \"4.21.0.dev0\"}";
	ck_assert_int_eq(rc_clip_config_parse(&c, legacy, strlen(legacy), "legacy"), 0);
	ck_assert_int_eq(c.text.eos_token_id, 2);
	ck_assert_uint_eq(rc_clip_param_count_config(&c), 427616513);

	/* eos as a list of one id, as transformers allows. */
	const char *eos = "{\"text_config\": {\"eos_token_id\": [49407]}}";
	ck_assert_int_eq(rc_clip_config_parse(&c, eos, strlen(eos), "eos"), 0);
	ck_assert_int_eq(c.text.eos_token_id, 49407);
}
END_TEST

START_TEST(test_bad_configs)
{
	static const struct { const char *json; int rc; const char *msg; } bad[] = {
		{ "{\"vision_config\": {\"hidden_size\": 100}}", RC_E_RANGE,
		  "bad: vision_config: hidden_size 100 is not a multiple of num_attention_heads 12" },
		{ "{\"text_config\": {\"hidden_size\": 0}}", RC_E_RANGE,
		  "bad: text_config: hidden_size 0 is out of range" },
		{ "{\"text_config\": {\"num_hidden_layers\": -1}}", RC_E_RANGE,
		  "num_hidden_layers -1 is out of range" },
		{ "{\"vision_config\": {\"image_size\": 225}}", RC_E_RANGE,
		  "image_size 225 is not a multiple of patch_size 32" },
		{ "{\"vision_config\": {\"patch_size\": 0}}", RC_E_RANGE, "patch_size 0 is out" },
		{ "{\"projection_dim\": 0}", RC_E_RANGE, "projection_dim 0 is out of range" },
		{ "{\"text_config\": {\"layer_norm_eps\": 0}}", RC_E_RANGE, "layer_norm_eps 0" },
		{ "{\"text_config\": {\"eos_token_id\": 50000}}", RC_E_RANGE,
		  "eos_token_id 50000 is outside the vocabulary (vocab_size 49408)" },
		{ "{\"text_config\": {\"hidden_act\": \"gelu_new\"}}", RC_E_UNSUPPORTED,
		  "text_config.hidden_act: \"gelu_new\" is not supported" },
		{ "{\"vision_config\": {\"hidden_act\": 3}}", RC_E_FORMAT,
		  "vision_config.hidden_act: expected a string" },
		{ "{\"text_config\": {\"hidden_size\": \"512\"}}", RC_E_FORMAT,
		  "text_config.hidden_size: expected an integer" },
		{ "{\"text_config\": {\"hidden_size\": 512.5}}", RC_E_FORMAT, "expected an integer" },
		{ "{\"text_config\": {\"layer_norm_eps\": \"1e-5\"}}", RC_E_FORMAT, "expected a number" },
		{ "{\"vision_config\": {\"num_channels\": 1}}", RC_E_UNSUPPORTED, "1 channels" },
		{ "{\"vision_config\": {\"image_size\": [224, 200]}}", RC_E_UNSUPPORTED,
		  "only square sizes" },
		{ "{\"text_config\": {\"eos_token_id\": [1, 2]}}", RC_E_UNSUPPORTED,
		  "a list of 2 ids" },
		{ "{\"text_config\": [1]}", RC_E_FORMAT, "text_config: expected an object" },
		{ "{\"text_config\": {\"hidden_size\": 1e12}}", RC_E_FORMAT, "expected an integer" },
		{ "{\"text_config\": {\"hidden_size\": 99999999999}}", RC_E_RANGE, "out of range" },
		{ "[]", RC_E_FORMAT, "bad: expected a JSON object" },
		{ "{\"projection_dim\": 512,", RC_E_FORMAT, "bad:1:" },
		{ "{\"a\": 1, \"a\": 2}", RC_E_FORMAT, "duplicate" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct rc_clip_config c;
		capture_begin();
		int rc = rc_clip_config_parse(&c, bad[i].json, strlen(bad[i].json), "bad");
		const char *err = capture_end();
		ck_assert_msg(rc == bad[i].rc, "%s: rc %d, expected %d", bad[i].json, rc, bad[i].rc);
		ck_assert_msg(strstr(err, bad[i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"",
			bad[i].json, err, bad[i].msg);
		/* One line per error. */
		ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "%s: \"%s\"", bad[i].json, err);
	}
	struct rc_clip_config c;
	capture_begin();
	int rc = rc_clip_config_load(&c, "/nonexistent/config.json");
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/config.json"));
}
END_TEST

START_TEST(test_config_roundtrip)
{
	struct rc_clip_config a, b;
	char *dir = tmpdir(), path[256];
	snprintf(path, sizeof path, "%s/config.json", dir);
	int nb = 0;
	while (rc_clip_config_builtin_name(nb))
		nb++;
	for (int i = 0; i < nb + NFIX; i++) {
		if (i < nb)
			ck_assert_int_eq(rc_clip_config_builtin(&a, rc_clip_config_builtin_name(i)), 0);
		else if (fixture_present(fixtures[i - nb]))
			ck_assert_int_eq(rc_clip_config_load(&a, fixture(fixtures[i - nb],
				"config.json")), 0);
		else
			continue;
		ck_assert_int_eq(rc_clip_config_save(&a, path), 0);
		ck_assert_int_eq(rc_clip_config_load(&b, path), 0);
		ck_assert(memcmp(&a.vision, &b.vision, sizeof a.vision) == 0);
		ck_assert(memcmp(&a.text, &b.text, sizeof a.text) == 0);
		ck_assert(a.projection_dim == b.projection_dim);
		ck_assert(a.logit_scale_init == b.logit_scale_init);
		ck_assert(a.family == b.family);
	}
	/* The reals in as few digits as give them back, as Python writes. */
	char *s;
	rc_clip_config_default(&a);
	ck_assert_int_eq(rc_clip_config_to_json(&a, &s), 0);
	ck_assert_ptr_null(strstr(s, "0000"));
	ck_assert_ptr_nonnull(strstr(s, "\"layer_norm_eps\": 1e-"));
	ck_assert_ptr_nonnull(strstr(s, "\"logit_scale_init_value\": 2.6592,"));
	ck_assert_ptr_nonnull(strstr(s, "\"architectures\": [\n    \"CLIPModel\"\n  ],"));
	ck_assert_ptr_nonnull(strstr(s, "\"hidden_act\": \"quick_gelu\""));
	free(s);
	rm_dir(dir);
}
END_TEST

/* ---------------------------------------------------------------- the table */

START_TEST(test_param_table)
{
	struct rc_clip_config cfg;
	struct rc_clip *m;
	ck_assert_int_eq(rc_clip_config_builtin(&cfg, "ViT-B-32"), 0);
	ck_assert_int_eq(rc_clip_new(&m, &cfg), 0);   /* 605 MB, calloc'd: untouched */
	ck_assert_uint_eq(rc_clip_param_count(m), 151277313);
	ck_assert_uint_eq(rc_clip_tensor_count(m), 5 + 12 * 16 + 3 + 2 + 12 * 16 + 3 + 1);

	static const struct { const char *name; int ndim; int64_t shape[4]; } want[] = {
		{ "vision_model.embeddings.patch_embedding.weight", 4, { 768, 3, 32, 32 } },
		{ "vision_model.embeddings.class_embedding", 1, { 768 } },
		{ "vision_model.embeddings.position_embedding.weight", 2, { 50, 768 } },
		{ "vision_model.pre_layrnorm.bias", 1, { 768 } },
		{ "vision_model.encoder.layers.11.self_attn.v_proj.weight", 2, { 768, 768 } },
		{ "vision_model.encoder.layers.0.mlp.fc1.weight", 2, { 3072, 768 } },
		{ "vision_model.encoder.layers.5.mlp.fc2.weight", 2, { 768, 3072 } },
		{ "vision_model.encoder.layers.3.layer_norm2.weight", 1, { 768 } },
		{ "vision_model.post_layernorm.weight", 1, { 768 } },
		{ "visual_projection.weight", 2, { 512, 768 } },
		{ "text_model.embeddings.token_embedding.weight", 2, { 49408, 512 } },
		{ "text_model.embeddings.position_embedding.weight", 2, { 77, 512 } },
		{ "text_model.encoder.layers.7.self_attn.out_proj.bias", 1, { 512 } },
		{ "text_model.final_layer_norm.bias", 1, { 512 } },
		{ "text_projection.weight", 2, { 512, 512 } },
		{ "logit_scale", 0, { 0 } },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct rc_clip_param *p = rc_clip_find_param(m, want[i].name);
		ck_assert_msg(p != NULL, "no %s", want[i].name);
		ck_assert_int_eq(p->ndim, want[i].ndim);
		for (int d = 0; d < p->ndim; d++)
			ck_assert_int_eq(p->shape[d], want[i].shape[d]);
	}
	ck_assert_ptr_null(rc_clip_find_param(m, "text_model.embeddings.position_ids"));
	ck_assert_ptr_eq(rc_clip_find_param(m, "logit_scale")->data, m->w.logit_scale);

	/* Views: the table tiles params exactly, q, k, v of a layer adjacent. */
	size_t off = 0;
	for (size_t i = 0; i < rc_clip_tensor_count(m); i++) {
		const struct rc_clip_param *p = rc_clip_tensor(m, i);
		ck_assert_ptr_eq(p->data, m->params + p->offset);
		off += p->numel;
	}
	ck_assert_uint_eq(off, m->nparams);
	const struct rc_clip_param *q = rc_clip_find_param(m, "text_model.encoder.layers.4.self_attn.q_proj.weight");
	const struct rc_clip_param *k = rc_clip_find_param(m, "text_model.encoder.layers.4.self_attn.k_proj.weight");
	const struct rc_clip_param *v = rc_clip_find_param(m, "text_model.encoder.layers.4.self_attn.v_proj.bias");
	ck_assert_ptr_eq(q->data, m->w.text.qkv_w + 4 * 3 * 512 * 512);
	ck_assert_ptr_eq(k->data, q->data + 512 * 512);
	ck_assert_ptr_eq(v->data, m->w.text.qkv_b + 4 * 3 * 512 + 2 * 512);

	/* rc_clip_point on another buffer gives the same offsets. */
	struct rc_clip_weights g;
	rc_clip_point(m, m->params, &g);
	ck_assert_ptr_eq(g.vision.fc2_b, m->w.vision.fc2_b);
	ck_assert_ptr_eq(g.text.proj, m->w.text.proj);
	rc_clip_free(m);
	rc_clip_free(NULL);

	/* An invalid config makes no model. */
	cfg.text.heads = 7;
	capture_begin();
	int rc = rc_clip_new(&m, &cfg);
	capture_end();
	ck_assert_int_eq(rc, RC_E_RANGE);
	ck_assert_ptr_null(m);
}
END_TEST

/* ---------------------------------------------------------------- loading */

/* write_variant - DIR/model.safetensors from the fixture's, with tensor
 * `drop` left out, `reshape` given one less row, `retype` stored as I32,
 * `extra` added (any may be NULL). */
static void write_variant(const char *dir, const char *fix, const char *drop, const char *reshape,
	const char *retype, const char *extra)
{
	struct rc_st *st;
	struct rc_st_writer *w;
	char path[256];
	static int32_t ints[1 << 16];
	ck_assert_int_eq(rc_st_open(&st, fixture(fix, "model.safetensors")), 0);
	ck_assert_int_eq(rc_st_writer_new(&w), 0);
	for (size_t i = 0; i < rc_st_count(st); i++) {
		const struct rc_st_tensor *t = rc_st_at(st, i);
		int64_t shape[8];
		memcpy(shape, t->shape, sizeof shape);
		if (drop && strcmp(t->name, drop) == 0)
			continue;
		if (reshape && strcmp(t->name, reshape) == 0)
			shape[0]--;
		if (retype && strcmp(t->name, retype) == 0) {
			ck_assert_uint_le(t->nelem, sizeof ints / sizeof ints[0]);
			ck_assert_int_eq(rc_st_writer_add(w, t->name, RC_ST_I32, t->ndim, shape, ints), 0);
			continue;
		}
		ck_assert_int_eq(rc_st_writer_add(w, t->name, t->dtype, t->ndim, shape, t->data), 0);
	}
	int64_t n = 77;
	if (extra)
		ck_assert_int_eq(rc_st_writer_add(w, extra, RC_ST_I64, 1, &n, calloc(77, 8)), 0);
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	ck_assert_int_eq(rc_st_writer_write(w, path), 0);
	rc_st_writer_free(w);
	rc_st_close(st);
	snprintf(path, sizeof path, "%s/config.json", dir);
	copy_file(fixture(fix, "config.json"), path);
}

static const char *load_error(const char *dir, int want_rc)
{
	struct rc_clip *m = NULL;
	capture_begin();
	int rc = rc_clip_load_hf(&m, dir);
	const char *err = capture_end();
	ck_assert_msg(rc == want_rc, "rc %d (%s), expected %d: %s", rc, rc_strerror(rc), want_rc, err);
	ck_assert_ptr_null(m);
	return err;
}

START_TEST(test_load_errors)
{
	const char *fix = "tiny-quickgelu";
	if (!fixture_present(fix))
		return;
	char *dir = tmpdir();
	const char *err;

	write_variant(dir, fix, "text_model.encoder.layers.1.mlp.fc1.bias", NULL, NULL, NULL);
	err = load_error(dir, RC_E_NOTFOUND);
	ck_assert_msg(strstr(err, "model.safetensors: missing tensor "
		"text_model.encoder.layers.1.mlp.fc1.bias [64]") != NULL, "%s", err);

	write_variant(dir, fix, NULL, "vision_model.encoder.layers.0.self_attn.k_proj.weight",
		NULL, NULL);
	err = load_error(dir, RC_E_FORMAT);
	ck_assert_msg(strstr(err, "vision_model.encoder.layers.0.self_attn.k_proj.weight: shape "
		"[31, 32] in the file, [32, 32] in the config") != NULL, "%s", err);

	write_variant(dir, fix, NULL, NULL, "logit_scale", NULL);
	err = load_error(dir, RC_E_UNSUPPORTED);
	ck_assert_msg(strstr(err, "logit_scale") && strstr(err, "I32"), "%s", err);

	/* A config that does not fit the weights: every tensor named, up to 8. */
	write_variant(dir, fix, NULL, NULL, NULL, NULL);
	char path[256];
	snprintf(path, sizeof path, "%s/config.json", dir);
	write_text(path, "{\"projection_dim\": 16, \"text_config\": {\"vocab_size\": 256, "
		"\"hidden_size\": 32, \"num_attention_heads\": 4, \"num_hidden_layers\": 2, "
		"\"intermediate_size\": 48, \"eos_token_id\": 255}, \"vision_config\": {\"hidden_size\": 32,"
		"\"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"intermediate_size\": 64,"
		"\"image_size\": 32, \"patch_size\": 8}}");
	err = load_error(dir, RC_E_FORMAT);
	ck_assert_msg(strstr(err, "text_model.encoder.layers.0.mlp.fc1.weight: shape [64, 32] in "
		"the file, [48, 32] in the config"), "%s", err);
	ck_assert_msg(strstr(err, "text_model.encoder.layers.1.mlp.fc2.weight"), "%s", err);

	/* No weights at all. */
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	unlink(path);
	err = load_error(dir, RC_E_NOTFOUND);
	ck_assert_msg(strstr(err, "no model.safetensors or model.safetensors.index.json") &&
		strstr(err, "hint: "), "%s", err);
	rm_dir(dir);
}
END_TEST

/* Shards: the fixture split in two files with an index, plus an extra
 * tensor (ignored). The parameters equal those of the single file. */
START_TEST(test_load_sharded)
{
	const char *fix = "tiny-img64";
	if (!fixture_present(fix))
		return;
	struct rc_clip *one, *two;
	struct rc_st *st;
	struct rc_st_writer *w[2];
	char *dir = tmpdir(), path[256];
	ck_assert_int_eq(rc_clip_load_hf(&one, fixture(fix, NULL)), 0);
	ck_assert_int_eq(rc_st_open(&st, fixture(fix, "model.safetensors")), 0);
	ck_assert_int_eq(rc_st_writer_new(&w[0]), 0);
	ck_assert_int_eq(rc_st_writer_new(&w[1]), 0);
	size_t cap = 1 << 16, len = 0;
	char *index = malloc(cap);
	len += snprintf(index + len, cap - len, "{\"metadata\": {\"total_size\": 1},\n\"weight_map\": {");
	for (size_t i = 0; i < rc_st_count(st); i++) {
		const struct rc_st_tensor *t = rc_st_at(st, i);
		int k = i % 2;
		ck_assert_int_eq(rc_st_writer_add(w[k], t->name, t->dtype, t->ndim, t->shape, t->data), 0);
		len += snprintf(index + len, cap - len, "%s\n\"%s\": \"model-0000%d-of-00002.safetensors\"",
			i ? "," : "", t->name, k + 1);
	}
	int64_t n = 77;
	int64_t *pos = calloc(77, 8);
	ck_assert_int_eq(rc_st_writer_add(w[1], "text_model.embeddings.position_ids", RC_ST_I64, 1,
		&n, pos), 0);
	len += snprintf(index + len, cap - len, ",\n\"text_model.embeddings.position_ids\": "
		"\"model-00002-of-00002.safetensors\"}}\n");
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof path, "%s/model-0000%d-of-00002.safetensors", dir, k + 1);
		ck_assert_int_eq(rc_st_writer_write(w[k], path), 0);
		rc_st_writer_free(w[k]);
	}
	snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
	write_text(path, index);
	snprintf(path, sizeof path, "%s/config.json", dir);
	copy_file(fixture(fix, "config.json"), path);

	rc_log_set_level(RC_LOG_DEBUG);
	capture_begin();
	int rc = rc_clip_load_hf(&two, dir);
	const char *err = capture_end();
	rc_log_set_level(RC_LOG_WARN);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_msg(strstr(err, "ignoring tensor text_model.embeddings.position_ids"), "%s", err);
	ck_assert_uint_eq(one->nparams, two->nparams);
	ck_assert_int_eq(memcmp(one->params, two->params, one->nparams * sizeof(float)), 0);

	/* A shard named with a path is refused. */
	snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
	write_text(path, "{\"weight_map\": {\"logit_scale\": \"../x.safetensors\"}}");
	load_error(dir, RC_E_FORMAT);
	rc_clip_free(one);
	rc_clip_free(two);
	rc_st_close(st);
	free(index);
	free(pos);
	rm_dir(dir);
}
END_TEST

/* ---------------------------------------------------------------- parity */

static int nskipped;

static void expect_max(const char *fix, const char *what, double d, double limit)
{
	fprintf(stderr, "%-15s %-26s max |diff| %.3g (limit %.3g)\n", fix, what, d, limit);
	ck_assert_msg(d <= limit, "%s: %s differs by %g (limit %g)", fix, what, d, limit);
}

/* compare - our n values against the fixture's output called name. */
static void compare(const char *fix, const struct rc_st *out, const char *name, const float *got,
	size_t n, double limit, int relative)
{
	size_t m;
	float *ref = read_f32(out, name, &m);
	ck_assert_uint_eq(m, n);
	double d = max_diff(got, ref, n);
	if (relative)
		limit *= max_abs(ref, n);
	expect_max(fix, name, d, limit);
	free(ref);
}

START_TEST(test_forward_parity)
{
	const char *fix = fixtures[_i];
	if (!fixture_present(fix)) {
		fprintf(stderr, "%s: fixture missing (tests/fixtures/gen_clip.py makes it)\n", fix);
		return;
	}
	struct rc_clip *m;
	struct rc_clip_ws *ws;
	struct rc_st *in, *out;
	ck_assert_int_eq(rc_clip_load_hf(&m, fixture(fix, NULL)), 0);
	ck_assert_int_eq(rc_st_open(&in, fixture(fix, "inputs.safetensors")), 0);
	ck_assert_int_eq(rc_st_open(&out, fixture(fix, "outputs.safetensors")), 0);
	int B, T, Bi;
	size_t n;
	int32_t *ids = read_ids(in, &B, &T);
	float *px = read_f32(in, "pixel_values", &n);
	const struct rc_clip_config *c = &m->cfg;
	Bi = (int)(n / (3 * (size_t)c->vision.image_size * c->vision.image_size));
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, Bi, B, 0), 0);

	const int D = c->projection_dim, Cv = c->vision.hidden, Ct = c->text.hidden;
	const int Tv = rc_clip_config_image_tokens(c);
	float *img = malloc((size_t)Bi * D * sizeof *img), *txt = malloc((size_t)B * D * sizeof *txt);
	float *lg = malloc((size_t)Bi * B * sizeof *lg);
	ck_assert_int_eq(rc_clip_encode_image(m, ws, px, Bi, img), 0);
	ck_assert_int_eq(rc_clip_encode_text(m, ws, ids, B, T, txt), 0);
	rc_clip_logits(m, img, txt, Bi, B, lg);

	compare(fix, out, "image_embeds", img, (size_t)Bi * D, 1e-5, 0);
	compare(fix, out, "text_embeds", txt, (size_t)B * D, 1e-5, 0);
	compare(fix, out, "logits_per_image", lg, (size_t)Bi * B, 1e-4, 1);
	compare(fix, out, "image_proj", ws->vision.proj, (size_t)Bi * D, 1e-4, 0);
	compare(fix, out, "text_proj", ws->text.proj, (size_t)B * D, 1e-4, 0);
	compare(fix, out, "vision_pooler_output", ws->vision.pooled, (size_t)Bi * Cv, 1e-4, 0);
	compare(fix, out, "text_pooler_output", ws->text.pooled, (size_t)B * Ct, 1e-4, 0);
	compare(fix, out, "vision_last_hidden_state", ws->vision.last_hidden, (size_t)Bi * Tv * Cv,
		1e-4, 0);
	compare(fix, out, "text_last_hidden_state", ws->text.last_hidden, (size_t)B * T * Ct,
		1e-4, 0);
	float ls;
	size_t one;
	float *ref = read_f32(out, "logit_scale", &one);
	ls = ref[0];
	free(ref);
	ck_assert(ls == m->w.logit_scale[0]);

	/* Training workspace: every layer kept, the same numbers bit for bit. */
	struct rc_clip_ws *tw;
	float *img2 = malloc((size_t)Bi * D * sizeof *img2), *txt2 = malloc((size_t)B * D * sizeof *txt2);
	ck_assert_int_eq(rc_clip_ws_new(&tw, m, Bi, B, RC_CLIP_WS_TRAIN), 0);
	ck_assert_uint_gt(rc_clip_ws_bytes(tw), rc_clip_ws_bytes(ws));
	ck_assert_int_eq(rc_clip_encode_image(m, tw, px, Bi, img2), 0);
	ck_assert_int_eq(rc_clip_encode_text(m, tw, ids, B, T, txt2), 0);
	ck_assert_int_eq(memcmp(img, img2, (size_t)Bi * D * sizeof *img), 0);
	ck_assert_int_eq(memcmp(txt, txt2, (size_t)B * D * sizeof *txt), 0);
	ck_assert_ptr_ne(tw->text.layer[0].res3, tw->text.layer[1].res3);
	ck_assert_ptr_nonnull(tw->vision.layer[0].att);

	/* One row at a time: the same embeddings (sgemm may block differently). */
	for (int b = 0; b < B; b++) {
		ck_assert_int_eq(rc_clip_encode_text(m, ws, ids + (size_t)b * T, 1, T, txt2), 0);
		ck_assert(max_diff(txt2, txt + (size_t)b * D, D) < 1e-6);
		ck_assert_int_eq(ws->text.pool_idx[0], tw->text.pool_idx[b]);
	}
	ck_assert_int_eq(rc_clip_encode_image(m, ws, px + 3 * (size_t)c->vision.image_size *
		c->vision.image_size, 1, img2), 0);
	ck_assert(max_diff(img2, img + D, D) < 1e-6);

	rc_clip_ws_free(tw);
	rc_clip_ws_free(ws);
	rc_st_close(in);
	rc_st_close(out);
	rc_clip_free(m);
	free(ids), free(px), free(img), free(txt), free(lg), free(img2), free(txt2);
}
END_TEST

START_TEST(test_encode_errors)
{
	struct rc_clip_config cfg;
	struct rc_clip *m;
	struct rc_clip_ws *ws;
	ck_assert_int_eq(rc_clip_config_builtin(&cfg, "tiny"), 0);
	ck_assert_int_eq(rc_clip_new(&m, &cfg), 0);
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, 2, 2, 0), 0);
	int32_t ids[2 * 77] = { 49406, 320, 49407 };
	float emb[2 * 32], px[3 * 32 * 32 * 3] = { 0 };
	const char *err;
	int rc;

	ids[77 + 5] = 49408;
	capture_begin();
	rc = rc_clip_encode_text(m, ws, ids, 2, 77, emb);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_RANGE);
	ck_assert_ptr_nonnull(strstr(err, "text 1, position 5: id 49408 is outside the vocabulary (49408)"));
	capture_begin();
	rc = rc_clip_encode_text(m, ws, ids, 3, 77, emb);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(err, "batch of 3 (the workspace takes 1 to 2)"));
	capture_begin();
	rc = rc_clip_encode_text(m, ws, ids, 1, 78, emb);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(err, "78 tokens (the context is 77)"));
	capture_begin();
	rc = rc_clip_encode_image(m, ws, px, 3, emb);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	capture_begin();
	rc = rc_clip_encode_image(m, ws, px, 0, emb);
	capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	/* A shorter context is fine; a tower without a batch refuses. */
	ck_assert_int_eq(rc_clip_encode_text(m, ws, ids, 1, 3, emb), 0);
	rc_clip_ws_free(ws);
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, 0, 1, 0), 0);
	capture_begin();
	rc = rc_clip_encode_image(m, ws, px, 1, emb);
	capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	rc_clip_ws_free(ws);
	rc_clip_ws_free(NULL);
	rc_clip_free(m);
}
END_TEST

START_TEST(test_pixels_from_rgb)
{
	/* CLIPImageProcessor's rescale + normalize of 0, 1, 127, 128, 255 per
	 * channel (numpy, transformers 5.24), bit for bit. */
	static const float want[3][5] = {
		{ -0x1.cad1b8p+0f, -0x1.c714fep+0f, 0x1.f9c124p-5f, 0x1.38ac4p-4f, 0x1.ee2a82p+0f },
		{ -0x1.c0897p+0f, -0x1.bcb1e2p+0f, 0x1.3b2a62p-3f, 0x1.59e6d6p-3f, 0x1.0995cap+1f },
		{ -0x1.7aefbp+0f, -0x1.774bc2p+0f, 0x1.4d8bccp-2f, 0x1.5c1b88p-2f, 0x1.12acc0p+1f },
	};
	static const uint8_t v[5] = { 0, 1, 127, 128, 255 };
	uint8_t rgb[5 * 5 * 3];
	float out[3 * 25];
	for (int i = 0; i < 25; i++)
		for (int c = 0; c < 3; c++)
			rgb[3 * i + c] = v[(i + c) % 5];
	rc_clip_pixels_from_rgb(rgb, 5, out);
	for (int i = 0; i < 25; i++)
		for (int c = 0; c < 3; c++)
			ck_assert_msg(out[c * 25 + i] == want[c][(i + c) % 5], "pixel %d channel %d: %a",
				i, c, out[c * 25 + i]);
}
END_TEST

int main(void)
{
	rc_ops_set_threads(0);
	for (int i = 0; i < NFIX; i++)
		if (!fixture_present(fixtures[i])) {
			fprintf(stderr, "test_model: %s missing: its tests are skipped\n",
				fixture(fixtures[i], NULL));
			nskipped++;
		}
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, test_builtin_counts);
	tcase_add_test(tc, test_parse_fixture_configs);
	tcase_add_test(tc, test_parse_defaults_and_legacy);
	tcase_add_test(tc, test_bad_configs);
	tcase_add_test(tc, test_config_roundtrip);
	suite_add_tcase(s, tc);
	tc = tcase_create("model");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_param_table);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_load_sharded);
	tcase_add_loop_test(tc, test_forward_parity, 0, NFIX);
	tcase_add_test(tc, test_encode_errors);
	tcase_add_test(tc, test_pixels_from_rgb);
	suite_add_tcase(s, tc);
	int rc = rc_test_run(s);
	return rc ? rc : nskipped ? 77 : 0;
}
