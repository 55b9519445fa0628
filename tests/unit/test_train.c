/* test_train.c - Check suite for the training parts: the SigLIP, head and
 * L2 losses against finite differences and known values, the schedules
 * at their corners, AdamW against its formula in double, gradient norm
 * and clipping, the CLIP and SigLIP losses' rank-local form (the official
 * gather) against finite differences of one rank's loss, the computed
 * permutation, and the data loader's order (dataset order image-major,
 * shuffled epochs that are permutations, reproducible, sliced by rank,
 * resumable by seek; the repeated-image count; held-out records). The
 * CLIP loss itself is checked in test_backward, the whole recipe against
 * PyTorch in tests/cli/train-reference.sh and train-official.sh. */
#include "base/error.h"
#include "base/io.h"
#include "train/loader.h"
#include "convert/model_io.h"
#include "base/log.h"
#include "model/backend.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optim_cpu.h"
#include "train/perm.h"
#include "train/sched.h"
#include "data/preprocess.h"
#include "data/record.h"
#include "data/shard.h"
#include "data/safetensors.h"
#include "base/thread.h"
#include "train/prefetch.h"
#include "train/train.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[4096];

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "train");
}

static void teardown(void)
{
	rc_test_rmdir(tmpdir);
}

static uint64_t rs = 12345;
static float frand(void)
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((rs >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

/* ---------------------------------------------------------------- losses */

static double siglip_at(struct rc_loss_siglip *ls, const float *img, const float *txt, int B,
	int D, float s, float b)
{
	return rc_loss_siglip_forward(ls, img, txt, B, D, s, b);
}

START_TEST(test_siglip_gradients)
{
	enum { B = 5, D = 4 };
	float img[B * D], txt[B * D], dimg[B * D] = { 0 }, dtxt[B * D] = { 0 }, ds = 0, db = 0;
	for (int i = 0; i < B * D; i++)
		img[i] = frand(), txt[i] = frand();
	float s = 1.3f, b = -2.0f;
	struct rc_loss_siglip *ls;
	ck_assert_int_eq(rc_loss_siglip_new(&ls, B), 0);
	double l = siglip_at(ls, img, txt, B, D, s, b);
	ck_assert(isfinite(l) && l > 0);
	rc_loss_siglip_backward(ls, 2.0f, dimg, dtxt, &ds, &db);   /* dloss 2 */
	const float h = 1e-2f;
	for (int i = 0; i < B * D; i++) {
		float keep = img[i];
		img[i] = keep + h;
		double lp = siglip_at(ls, img, txt, B, D, s, b);
		img[i] = keep - h;
		double lm = siglip_at(ls, img, txt, B, D, s, b);
		img[i] = keep;
		ck_assert_msg(fabs(2 * (lp - lm) / (2 * h) - dimg[i]) < 2e-3, "dimg[%d] %g vs %g", i,
			2 * (lp - lm) / (2 * h), dimg[i]);
		keep = txt[i];
		txt[i] = keep + h;
		lp = siglip_at(ls, img, txt, B, D, s, b);
		txt[i] = keep - h;
		lm = siglip_at(ls, img, txt, B, D, s, b);
		txt[i] = keep;
		ck_assert(fabs(2 * (lp - lm) / (2 * h) - dtxt[i]) < 2e-3);
	}
	double gs = 2 * (siglip_at(ls, img, txt, B, D, s + h, b) -
		siglip_at(ls, img, txt, B, D, s - h, b)) / (2 * h);
	double gb = 2 * (siglip_at(ls, img, txt, B, D, s, b + h) -
		siglip_at(ls, img, txt, B, D, s, b - h)) / (2 * h);
	ck_assert_msg(fabs(gs - ds) < 2e-3 * fmax(1, fabs(gs)), "ds %g vs %g", ds, gs);
	ck_assert_msg(fabs(gb - db) < 2e-3 * fmax(1, fabs(gb)), "db %g vs %g", db, gb);
	/* B = 1 with a zero bias and scale 0: -log σ(img·txt) */
	float one_i[2] = { 1, 0 }, one_t[2] = { 0.6f, 0.8f };
	double l1 = rc_loss_siglip_forward(ls, one_i, one_t, 1, 2, 0.0f, 0.0f);
	ck_assert(fabs(l1 - log1p(exp(-0.6))) < 1e-6);
	rc_loss_siglip_free(ls);
}
END_TEST

START_TEST(test_head_losses)
{
	enum { N = 3, K = 5 };
	float x[N * K], dx[N * K] = { 0 }, t[N * K] = { 0 };
	uint8_t y[N] = { 0, 4, 2 };
	for (int i = 0; i < N * K; i++)
		x[i] = frand() * 3;
	t[1] = t[5 + 4] = t[10 + 0] = t[10 + 3] = 1;
	/* the global batch is 6 rows: these 3 count for half */
	double ce = rc_loss_softmax_ce(x, y, N, K, 6, 1.0f, dx);
	const float h = 1e-2f;
	for (int i = 0; i < N * K; i++) {
		float keep = x[i];
		x[i] = keep + h;
		double p = rc_loss_softmax_ce(x, y, N, K, 6, 1, NULL);
		x[i] = keep - h;
		double m = rc_loss_softmax_ce(x, y, N, K, 6, 1, NULL);
		x[i] = keep;
		ck_assert(fabs((p - m) / (2 * h) - dx[i]) < 1e-3);
	}
	memset(dx, 0, sizeof dx);
	double bce = rc_loss_bce_logits(x, t, N, K, 6, 1.0f, dx);
	for (int i = 0; i < N * K; i++) {
		float keep = x[i];
		x[i] = keep + h;
		double p = rc_loss_bce_logits(x, t, N, K, 6, 1, NULL);
		x[i] = keep - h;
		double m = rc_loss_bce_logits(x, t, N, K, 6, 1, NULL);
		x[i] = keep;
		ck_assert(fabs((p - m) / (2 * h) - dx[i]) < 1e-3);
	}
	ck_assert(ce > 0 && bce > 0);
	/* known values: uniform logits give log K; zero logits give log 2 */
	float z[K] = { 0 };
	uint8_t c = 3;
	ck_assert(fabs(rc_loss_softmax_ce(z, &c, 1, K, 1, 1, NULL) - log(5.0)) < 1e-9);
	ck_assert(fabs(rc_loss_bce_logits(z, t, 1, K, 1, 1, NULL) - log(2.0)) < 1e-9);
	/* large logits stay finite */
	float big[K] = { 500, -500, 0, 0, 0 }, tb[K] = { 0, 1, 0, 0, 0 };
	ck_assert(isfinite(rc_loss_bce_logits(big, tb, 1, K, 1, 1, NULL)));
	ck_assert(isfinite(rc_loss_softmax_ce(big, &c, 1, K, 1, 1, NULL)));
}
END_TEST

START_TEST(test_l2_anchor)
{
	enum { N = 100003 };
	float *p = malloc(N * sizeof *p), *p0 = malloc(N * sizeof *p0);
	float *g1 = calloc(N, sizeof *g1), *g2 = calloc(N, sizeof *g2);
	double want = 0;
	for (int i = 0; i < N; i++) {
		p[i] = frand(), p0[i] = frand();
		const float d = p[i] - p0[i];    /* the difference in float, as PyTorch */
		want += (double)d * d;
	}
	rc_thread_set(1);
	double a = rc_loss_l2_anchor(p, p0, N, 1e-5f, g1);
	rc_thread_set(2);
	double b = rc_loss_l2_anchor(p, p0, N, 1e-5f, g2);
	rc_thread_set(0);
	ck_assert(fabs(a - (double)1e-5f * want) < 1e-9 * fabs(a) + 1e-12);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);           /* any thread count, same bits */
	ck_assert(memcmp(g1, g2, N * sizeof *g1) == 0);
	ck_assert(fabs(g1[7] - 2e-5f * (p[7] - p0[7])) < 1e-12);
	free(p), free(p0), free(g1), free(g2);
}
END_TEST

/* local_loss - rank r's loss as the official code computes it, in double:
 * with the ranks' rows [lo, lo+n) of B, its images against all texts and
 * its texts against all images (CLIP: ½(CE + CE), means over its n rows),
 * or its images against all texts (SigLIP: -Σ log σ(y·z) / n). */
static double local_loss(const float *img, const float *txt, int B, int D, float s, float bias,
	int lo, int n, int siglip)
{
	const double es = exp((double)s);
	double i2t = 0, t2i = 0;
	for (int a = lo; a < lo + n; a++) {
		double mi = -INFINITY, mt = -INFINITY, si = 0, st = 0, zi[64], zt[64];
		for (int b = 0; b < B; b++) {
			double di = 0, dt = 0;
			for (int d = 0; d < D; d++) {
				di += (double)img[a * D + d] * txt[b * D + d];   /* image a, text b */
				dt += (double)txt[a * D + d] * img[b * D + d];   /* text a, image b */
			}
			zi[b] = es * di + (siglip ? bias : 0), zt[b] = es * dt;
			mi = fmax(mi, zi[b]), mt = fmax(mt, zt[b]);
		}
		if (siglip) {
			for (int b = 0; b < B; b++) {
				const double y = a == b ? 1 : -1, x = y * zi[b];
				i2t -= x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
			}
			continue;
		}
		for (int b = 0; b < B; b++)
			si += exp(zi[b] - mi), st += exp(zt[b] - mt);
		i2t += mi + log(si) - zi[a];
		t2i += mt + log(st) - zt[a];
	}
	return siglip ? i2t / n : 0.5 * (i2t / n + t2i / n);
}

/* The rank-local backward of rank lo/n of B/n ranks: its rows of the
 * embedding gradients are 1/ranks (DDP's average) of the gradient of its
 * own loss with the other ranks' embeddings constant; the scale (and
 * bias) gradient is the whole loss's; all rows are the plain backward. */
static void check_rows(int siglip)
{
	enum { B = 6, D = 4 };
	float img[B * D], txt[B * D], s = 1.1f, bias = -1.5f;
	for (int i = 0; i < B * D; i++)
		img[i] = frand(), txt[i] = frand();
	struct rc_loss_clip *lc;
	struct rc_loss_siglip *ls;
	ck_assert_int_eq(rc_loss_clip_new(&lc, B), 0);
	ck_assert_int_eq(rc_loss_siglip_new(&ls, B), 0);
	const int split[][2] = { { 2, 2 }, { 0, 3 }, { 3, 3 }, { 5, 1 } };
	for (size_t c = 0; c < sizeof split / sizeof *split; c++) {
		const int lo = split[c][0], n = split[c][1];
		const double ranks = (double)B / n;
		float dimg[B * D] = { 0 }, dtxt[B * D] = { 0 }, ds = 0, db = 0, ds1 = 0, db1 = 0;
		float fimg[B * D] = { 0 }, ftxt[B * D] = { 0 };
		if (siglip) {
			rc_loss_siglip_forward(ls, img, txt, B, D, s, bias);
			rc_loss_siglip_backward_rows(ls, 1.0f, lo, n, dimg, dtxt, &ds, &db);
			rc_loss_siglip_backward(ls, 1.0f, fimg, ftxt, &ds1, &db1);
		} else {
			rc_loss_clip_forward(lc, img, txt, B, D, s);
			rc_loss_clip_backward_rows(lc, 1.0f, lo, n, dimg, dtxt, &ds);
			rc_loss_clip_backward(lc, 1.0f, fimg, ftxt, &ds1);
		}
		ck_assert(memcmp(&ds, &ds1, sizeof ds) == 0 && memcmp(&db, &db1, sizeof db) == 0);
		int differs = 0;
		const float h = 1e-3f;
		for (int i = lo * D; i < (lo + n) * D; i++)
			for (int t = 0; t < 2; t++) {
				float *x = t ? txt : img, keep = x[i];
				x[i] = keep + h;
				double lp = local_loss(img, txt, B, D, s, bias, lo, n, siglip);
				x[i] = keep - h;
				double lm = local_loss(img, txt, B, D, s, bias, lo, n, siglip);
				x[i] = keep;
				const double want = (lp - lm) / (2 * h) / ranks, got = t ? dtxt[i] : dimg[i];
				ck_assert_msg(fabs(got - want) < 2e-4 + 1e-3 * fabs(want),
					"%s rows %d+%d: d%s[%d] %g, want %g", siglip ? "siglip" : "clip", lo, n,
					t ? "txt" : "img", i, got, want);
				differs |= fabs(got - (t ? ftxt[i] : fimg[i])) > 1e-4;
			}
		ck_assert(n == B || differs);        /* not the exact gradient */
	}
	/* all rows: the plain backward, bit for bit */
	float a[B * D] = { 0 }, b[B * D] = { 0 }, c2[B * D] = { 0 }, d2[B * D] = { 0 };
	if (siglip) {
		rc_loss_siglip_forward(ls, img, txt, B, D, s, bias);
		rc_loss_siglip_backward_rows(ls, 0.7f, 0, B, a, b, NULL, NULL);
		rc_loss_siglip_backward(ls, 0.7f, c2, d2, NULL, NULL);
	} else {
		rc_loss_clip_forward(lc, img, txt, B, D, s);
		rc_loss_clip_backward_rows(lc, 0.7f, 0, B, a, b, NULL);
		rc_loss_clip_backward(lc, 0.7f, c2, d2, NULL);
	}
	ck_assert(memcmp(a, c2, sizeof a) == 0 && memcmp(b, d2, sizeof b) == 0);
	rc_loss_clip_free(lc);
	rc_loss_siglip_free(ls);
}

START_TEST(test_rank_rows)
{
	check_rows(0);
	check_rows(1);
}
END_TEST

/* ---------------------------------------------------------------- optimizer */

/* Hugging Face's warmup and cosine (get_cosine_schedule_with_warmup with
 * TrainingArguments' ceil(ratio·steps) warmup steps): step s of W warmup
 * steps at s/W, the first at 0; the products in double, as Python takes
 * them (0.07·100 is 7.000000000000001, so 8 steps). And stage 1's w(p)
 * with the CLIP run's and the SigLIP runs' weights. */
START_TEST(test_schedules)
{
	ck_assert_int_eq(rc_sched_warmup_steps(0.1, 5), 1);
	ck_assert_int_eq(rc_sched_warmup_steps(0.4, 5), 2);
	ck_assert_int_eq(rc_sched_warmup_steps(0.1, 1000), 100);
	ck_assert_int_eq(rc_sched_warmup_steps(0.1, 31), 4);
	ck_assert_int_eq(rc_sched_warmup_steps(0.07, 100), 8);
	ck_assert_int_eq(rc_sched_warmup_steps(0.1, 12), 2);
	ck_assert_int_eq(rc_sched_warmup_steps(0, 1000), 0);
	ck_assert_int_eq(rc_sched_warmup_steps(1, 7), 7);
	/* W = 2 of 5: 0, 1/2, then the cosine over the 3 steps left */
	const double want[5] = { 0.0, 0.5, 1.0, 0.75, 0.25 };
	for (int s = 0; s < 5; s++)
		ck_assert_msg(fabs(rc_sched_lr_mult(s, 5, 2) - want[s]) < 1e-12, "step %d: %g", s,
			rc_sched_lr_mult(s, 5, 2));
	ck_assert(fabs(rc_sched_lr_mult(0, 100, 0) - 1.0) < 1e-12);
	ck_assert(rc_sched_lr_mult(99, 100, 10) > 0 && rc_sched_lr_mult(99, 100, 10) < 1e-3);
	ck_assert(rc_sched_lr_mult(3, 4, 4) == 0.75);          /* all warmup */
	const double clip[3] = { 0.7, 0.5, 0.6 }, sig[3] = { 0.6, 0.3, 0.5 };
	ck_assert(rc_sched_stage1_w(0, clip) == 0.7 && rc_sched_stage1_w(0.2, clip) == 0.7);
	ck_assert(fabs(rc_sched_stage1_w(0.5, clip) - 0.6) < 1e-12);
	ck_assert(fabs(rc_sched_stage1_w(0.8, clip) - 0.5) < 1e-12);
	ck_assert(rc_sched_stage1_w(0.81, clip) == 0.6 && rc_sched_stage1_w(1.0, clip) == 0.6);
	ck_assert(rc_sched_stage1_w(0.1, sig) == 0.6 && rc_sched_stage1_w(0.9, sig) == 0.5);
	ck_assert(fabs(rc_sched_stage1_w(0.5, sig) - 0.45) < 1e-12);
}
END_TEST

START_TEST(test_adamw)
{
	float p[2] = { 1.0f, -2.0f }, g[2];
	struct rc_optim_tensor t[2] = {
		{ "a", &p[0], &g[0], 1, 0, 1 },   /* moments in the other order */
		{ "b", &p[1], &g[1], 1, 1, 0 },
	};
	struct rc_adamw *o;
	ck_assert_int_eq(rc_adamw_new(&o, t, 2, 2), 0);
	double P[2] = { 1, -2 }, M[2] = { 0, 0 }, V[2] = { 0, 0 };
	const float lr[2] = { 0.1f, 0.01f }, wd[2] = { 0.1f, 0.0f };
	for (int step = 1; step <= 4; step++) {
		for (int k = 0; k < 2; k++) {
			g[k] = 0.5f * (float)step * (k ? -1.0f : 1.0f);
			const double gg = g[k];
			P[k] *= 1 - (double)lr[k] * wd[k];
			M[k] = 0.9 * M[k] + 0.1 * gg;
			V[k] = 0.999 * V[k] + 0.001 * gg * gg;
			const double mh = M[k] / (1 - pow(0.9, step)), vh = V[k] / (1 - pow(0.999, step));
			P[k] -= lr[k] * mh / (sqrt(vh) + 1e-8);
		}
		rc_adamw_step(o, lr, wd);
		for (int k = 0; k < 2; k++)
			ck_assert_msg(fabs(p[k] - P[k]) < 1e-6, "step %d p%d %.9g vs %.9g", step, k, p[k],
				P[k]);
	}
	ck_assert_int_eq(o->step, 4);
	rc_adamw_free(o);
	/* a group outside the range is refused, and so are overlapping moments */
	struct rc_optim_tensor bad = { "x", p, g, 1, 5, 0 };
	capture_begin();
	ck_assert_int_eq(rc_adamw_new(&o, &bad, 1, 2), RC_E_ARG);
	struct rc_optim_tensor two[2] = { { "a", &p[0], &g[0], 1, 0, 0 },
		{ "b", &p[1], &g[1], 1, 0, 0 } };
	ck_assert_int_eq(rc_adamw_new(&o, two, 2, 2), RC_E_ARG);
	capture_end();
}
END_TEST

START_TEST(test_norm_and_clip)
{
	float a[2] = { 3, 0 }, b[1] = { 4 };
	struct rc_optim_tensor t[2] = { { "a", a, a, 2, 0 }, { "b", b, b, 1, 0 } };
	double n = rc_grad_norm(t, 2);
	ck_assert(fabs(n - 5) < 1e-12);
	ck_assert(rc_grad_clip(t, 2, n, 10.0) == 1.0f && a[0] == 3);  /* under the limit */
	float c = rc_grad_clip(t, 2, n, 1.0);
	ck_assert(fabs(c - 1 / (5 + 1e-6)) < 1e-7);
	ck_assert(fabs(rc_grad_norm(t, 2) - 1) < 1e-5);
	size_t bad = 9;
	ck_assert(rc_grad_finite(t, 2, &bad));
	b[0] = NAN;
	ck_assert(!rc_grad_finite(t, 2, &bad) && bad == 1);
}
END_TEST

/* ---------------------------------------------------------------- random init */

static double stdev(const float *x, size_t n)
{
	double s = 0, q = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i], q += (double)x[i] * x[i];
	return sqrt(q / n - (s / n) * (s / n));
}

START_TEST(test_init_random)
{
	struct rc_clip_config cfg;
	ck_assert_int_eq(rc_clip_config_builtin(&cfg, "ViT-B-32"), 0);
	cfg.vision.layers = cfg.text.layers = 2;                 /* smaller, same widths */
	struct rc_clip *a, *b, *c;
	ck_assert_int_eq(rc_clip_new(&a, &cfg), 0);
	ck_assert_int_eq(rc_clip_new(&b, &cfg), 0);
	ck_assert_int_eq(rc_clip_new(&c, &cfg), 0);
	rc_clip_init_random(a, 5), rc_clip_init_random(b, 5), rc_clip_init_random(c, 6);
	const size_t n = rc_clip_param_count(a);
	ck_assert(memcmp(a->params, b->params, n * sizeof(float)) == 0);   /* seeded */
	ck_assert(memcmp(a->params, c->params, n * sizeof(float)) != 0);
	/* transformers' standard deviations: q/k/v C^-½(2L)^-½, out_proj C^-½,
	 * fc1 (2C)^-½, tokens 0.02, text positions 0.01, class C^-½ */
	const double C = 768, L = 2;
	struct { const char *name; double std; } want[] = {
		{ "vision_model.encoder.layers.0.self_attn.q_proj.weight", pow(C, -0.5) / sqrt(2 * L) },
		{ "vision_model.encoder.layers.1.self_attn.out_proj.weight", pow(C, -0.5) },
		{ "vision_model.encoder.layers.0.mlp.fc1.weight", pow(2 * C, -0.5) },
		{ "vision_model.encoder.layers.0.mlp.fc2.weight", pow(C, -0.5) / sqrt(2 * L) },
		{ "vision_model.embeddings.patch_embedding.weight", 0.02 },
		{ "text_model.embeddings.token_embedding.weight", 0.02 },
		{ "text_model.embeddings.position_embedding.weight", 0.01 },
		{ "vision_model.embeddings.class_embedding", pow(C, -0.5) },
		{ "text_projection.weight", pow(512, -0.5) },
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		const struct rc_clip_param *p = rc_clip_find_param(a, want[i].name);
		ck_assert_ptr_nonnull(p);
		double sd = stdev(p->data, p->numel);
		ck_assert_msg(fabs(sd / want[i].std - 1) < 0.1, "%s: std %g, want %g", want[i].name,
			sd, want[i].std);
	}
	const struct rc_clip_param *ln = rc_clip_find_param(a, "text_model.final_layer_norm.weight");
	const struct rc_clip_param *bias = rc_clip_find_param(a,
		"vision_model.encoder.layers.0.mlp.fc1.bias");
	ck_assert(ln->data[0] == 1.0f && ln->data[511] == 1.0f && bias->data[7] == 0.0f);
	ck_assert(fabsf(*a->w.logit_scale - 2.6592f) < 1e-6f);
	rc_clip_free(a), rc_clip_free(b), rc_clip_free(c);
}
END_TEST

/* ---------------------------------------------------------------- loader */

enum { NREC = 3, S = 2 };

/* a ReasonLite shard of NREC records: record r's tb i is the ids
 * (49406, 100 + 10r + i, 49407) and its trl j (49406, 200 + 10r + j, 5, 49407) */
static const char *make_lite(void)
{
	static char list[4096];
	char shard[4096];
	snprintf(shard, sizeof shard, "%s", rc_test_join(tmpdir, "l-000000.rcs"));
	snprintf(list, sizeof list, "%s", rc_test_join(tmpdir, "l.list"));
	struct rc_shard_info info = { .schema = RC_SCHEMA_LITE, .store = RC_STORE_RAW,
		.image_size = S, .text_ctx = 77 };
	const char *meta[] = { "source", "test" };
	struct rc_shard_writer *w;
	ck_assert_int_eq(rc_shard_writer_open(&w, shard, &info, meta, 1), 0);
	for (int r = 0; r < NREC; r++) {
		uint8_t img[S * S * 3];
		memset(img, 40 * r, sizeof img);
		uint16_t tok[6][4];
		struct rc_text tx[6];
		for (int i = 0; i < 6; i++) {
			const int trl = i >= 3;
			tok[i][0] = 49406, tok[i][1] = (uint16_t)((trl ? 200 : 100) + 10 * r + i % 3);
			tok[i][2] = trl ? 5 : 49407, tok[i][3] = 49407;
			tx[i] = (struct rc_text){ .role = trl ? RC_ROLE_TRL : RC_ROLE_TB, .s = "x",
				.len = 1, .tokens = tok[i], .ntokens = trl ? 4 : 3 };
		}
		char key[16];
		snprintf(key, sizeof key, "r%d", r);
		struct rc_record rec = { .schema = RC_SCHEMA_LITE, .key = key,
			.key_len = (uint32_t)strlen(key), .image = img, .image_len = sizeof img,
			.texts = tx, .ntexts = 6 };
		ck_assert_int_eq(rc_shard_writer_add(w, &rec), 0);
	}
	uint64_t h;
	ck_assert_int_eq(rc_shard_writer_close(w, &h), 0);
	struct rc_shard_list l;
	rc_shard_list_init(&l);
	ck_assert_int_eq(rc_shard_list_add(&l, "l-000000.rcs", NREC, h), 0);
	ck_assert_int_eq(rc_shard_list_write(&l, list), 0);
	rc_shard_list_free(&l);
	return list;
}

static struct rc_loader *open_lite(const char *list, int batch, int shuffle, uint64_t seed,
	int rank, int nranks)
{
	struct rc_loader_opts o = { .list = list, .stage = 1, .batch = batch, .rank = rank,
		.nranks = nranks, .shuffle = shuffle, .buffer = 5, .seed = seed, .image_size = S,
		.ctx = 77, .eot = 49407, .vocab = 49408 };
	struct rc_loader *l;
	ck_assert_int_eq(rc_loader_open(&l, &o), 0);
	return l;
}

START_TEST(test_loader_dataset_order)
{
	const char *list = make_lite();
	struct rc_loader *l = open_lite(list, 9, 0, 0, 0, 1);
	ck_assert_int_eq(rc_loader_items(l), 27);
	ck_assert_int_eq(rc_loader_steps_per_epoch(l), 3);
	struct rc_batch b;
	for (int step = 0; step < 4; step++) {            /* into the second epoch */
		ck_assert_int_eq(rc_loader_next(l, &b), 0);
		ck_assert_int_eq(b.n, 9);
		ck_assert_int_eq(b.ntext, 2);
		ck_assert_int_eq(b.T, 4);                       /* the longest text */
		const int r = step % 3;                         /* image-major: one record per batch */
		for (int k = 0; k < 9; k++) {
			ck_assert_int_eq(b.ids[k * b.T + 1], 100 + 10 * r + k / 3);   /* tb i = k/3 */
			ck_assert_int_eq(b.ids[k * b.T + 3], 0);                       /* padded */
			ck_assert_int_eq(b.ids[(9 + k) * b.T + 1], 200 + 10 * r + k % 3); /* trl j = k%3 */
			/* pixels: the record's bytes (40r), the same for every row of it */
			ck_assert_int_eq(b.rgb[(size_t)k * S * S * 3], 40 * r);
		}
		ck_assert_int_eq(b.epoch, step / 3);
	}
	rc_loader_close(l);
}
END_TEST

/* SigLIP's rows (pad_full): every text the whole context long, the pad id
 * after the ids, or before them for a tokenizer that pads on the left
 * (pad_left), as rc_spm_pack places it. */
START_TEST(test_loader_pad_full)
{
	const char *list = make_lite();
	for (int left = 0; left < 2; left++) {
		struct rc_loader_opts o = { .list = list, .stage = 1, .batch = 9, .nranks = 1,
			.buffer = 5, .image_size = S, .ctx = 8, .eot = 49407, .vocab = 49408,
			.pad_full = 1, .pad_id = 7, .pad_left = left };
		struct rc_loader *l;
		struct rc_batch b;
		ck_assert_int_eq(rc_loader_open(&l, &o), 0);
		ck_assert_int_eq(rc_loader_next(l, &b), 0);
		ck_assert_int_eq(b.T, 8);
		for (int row = 0; row < 2 * 9; row++) {
			const int32_t *ids = b.ids + (size_t)row * b.T;
			const int trl = row >= 9, len = trl ? 4 : 3, lead = left ? 8 - len : 0;
			for (int q = 0; q < 8; q++) {
				const int in_text = q >= lead && q < lead + len;
				if (!in_text)
					ck_assert_msg(ids[q] == 7, "left %d row %d: [%d] = %d, want the pad",
						left, row, q, ids[q]);
			}
			ck_assert_int_eq(ids[lead], 49406);
			ck_assert_int_eq(ids[lead + 1], (trl ? 200 + (row - 9) % 3 : 100 + row / 3));
			ck_assert_int_eq(ids[lead + len - 1], 49407);
		}
		rc_loader_close(l);
	}
}
END_TEST

/* A prefetcher hands out the loader's batches, bit for bit, in order,
 * with the positions rc_loader_tell gives, from a seek and across
 * epochs; a reader that stops and starts again goes on where it was (the
 * second time with its images in a backend's pinned memory). */
START_TEST(test_prefetch_same_batches)
{
	const char *list = make_lite();
	struct rc_loader *a = open_lite(list, 4, 1, 3, 0, 1), *b = open_lite(list, 4, 1, 3, 0, 1);
	ck_assert_int_eq(rc_loader_seek(a, 1, 8), 0);
	ck_assert_int_eq(rc_loader_seek(b, 1, 8), 0);
	struct rc_prefetch *pf;
	struct rc_backend *be;
	const struct rc_backend_opts bo = { .threads = 1 };
	ck_assert_int_eq(rc_backend_new(&be, NULL, &bo), 0);
	ck_assert_int_eq(rc_prefetch_new(&pf, b, NULL), 0);
	long ea, eb;
	uint64_t ca, cb;
	for (int step = 0; step < 16; step++) {            /* 6 steps an epoch: into epoch 3 */
		struct rc_batch x, y;
		double wait = -1;
		rc_loader_tell(a, &ea, &ca);
		rc_prefetch_tell(pf, &eb, &cb);
		ck_assert(ea == eb && ca == cb);
		ck_assert_int_eq(rc_loader_next(a, &x), 0);
		ck_assert_int_eq(rc_prefetch_next(pf, &y, &wait), 0);
		ck_assert(wait >= 0);
		ck_assert(x.n == y.n && x.T == y.T && x.ntext == y.ntext);
		ck_assert(x.epoch == y.epoch && x.cursor == y.cursor && x.end == y.end);
		ck_assert(memcmp(x.rgb, y.rgb, (size_t)x.n * S * S * 3) == 0);
		ck_assert(memcmp(x.ids, y.ids, (size_t)x.ntext * x.n * x.T * sizeof *x.ids) == 0);
		if (step == 7) {                            /* a checkpoint: stop, start again */
			rc_prefetch_tell(pf, &eb, &cb);
			rc_prefetch_free(pf);
			ck_assert_int_eq(rc_loader_seek(b, eb, cb), 0);
			ck_assert_int_eq(rc_prefetch_new(&pf, b, be), 0);
		}
	}
	rc_prefetch_free(pf);
	rc_backend_free(be);
	rc_loader_close(a);
	rc_loader_close(b);
}
END_TEST

START_TEST(test_loader_shuffle)
{
	const char *list = make_lite();
	struct rc_loader *a = open_lite(list, 9, 1, 7, 0, 1), *b = open_lite(list, 9, 1, 7, 0, 1);
	struct rc_loader *c = open_lite(list, 9, 1, 8, 0, 1);
	int differs_seed = 0, differs_epoch = 0;
	uint32_t first[27];
	for (long e = 0; e < 3; e++) {
		int seen[NREC][9] = { { 0 } };
		for (uint64_t k = 0; k < 27; k++) {
			uint32_t sh, sub, sh2, sub2, sh3, sub3;
			uint64_t rec, rec2, rec3;
			ck_assert_int_eq(rc_loader_item(a, e, k, &sh, &rec, &sub), 0);
			ck_assert_int_eq(rc_loader_item(b, e, k, &sh2, &rec2, &sub2), 0);
			ck_assert_int_eq(rc_loader_item(c, e, k, &sh3, &rec3, &sub3), 0);
			ck_assert(rec == rec2 && sub == sub2);          /* the same seed, the same order */
			differs_seed |= rec != rec3 || sub != sub3;
			seen[rec][sub]++;
			uint32_t id = (uint32_t)(rec * 9 + sub);
			if (e == 0)
				first[k] = id;
			else
				differs_epoch |= first[k] != id;
		}
		for (int r = 0; r < NREC; r++)                     /* a permutation */
			for (int s = 0; s < 9; s++)
				ck_assert_int_eq(seen[r][s], 1);
	}
	ck_assert(differs_seed && differs_epoch);
	rc_loader_close(a), rc_loader_close(b), rc_loader_close(c);
}
END_TEST

/* The computed permutation: a bijection of [0, n) for any n, a function
 * of the seed, not the identity. */
START_TEST(test_perm)
{
	const uint64_t sizes[] = { 1, 2, 3, 5, 17, 64, 100, 1000, 4099 };
	static unsigned char seen[4099];
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		const uint64_t n = sizes[k];
		struct rc_perm p, q;
		rc_perm_init(&p, n, 11);
		rc_perm_init(&q, n, 12);
		memset(seen, 0, sizeof seen);
		uint64_t moved = 0, other = 0;
		for (uint64_t i = 0; i < n; i++) {
			const uint64_t v = rc_perm_at(&p, i);
			ck_assert(v < n && !seen[v]);
			seen[v] = 1;
			moved += v != i, other += v != rc_perm_at(&q, i);
		}
		ck_assert_msg(n < 17 || (moved > n / 2 && other > n / 2), "n %llu: %llu moved, "
			"%llu differ", (unsigned long long)n, (unsigned long long)moved,
			(unsigned long long)other);
	}
}
END_TEST

/* --shuffle perm: every epoch a permutation of the items, a function of
 * (seed, epoch); the ranks' slices make the one-rank batch; a seek goes
 * straight to a position; b.repeated counts the batch's rows whose record
 * another row has (all 9 in dataset order, where a batch is one image). */
START_TEST(test_loader_perm)
{
	const char *list = make_lite();
	struct rc_loader *a = open_lite(list, 9, RC_SHUFFLE_PERM, 7, 0, 1);
	struct rc_loader *c = open_lite(list, 9, RC_SHUFFLE_PERM, 8, 0, 1);
	int differs_seed = 0, differs_epoch = 0;
	uint32_t first[27];
	for (long e = 0; e < 3; e++) {
		int seen[NREC][9] = { { 0 } };
		for (uint64_t k = 0; k < 27; k++) {
			uint32_t sh, sub, sh3, sub3;
			uint64_t rec, rec3;
			ck_assert_int_eq(rc_loader_item(a, e, k, &sh, &rec, &sub), 0);
			ck_assert_int_eq(rc_loader_item(c, e, k, &sh3, &rec3, &sub3), 0);
			differs_seed |= rec != rec3 || sub != sub3;
			seen[rec][sub]++;
			const uint32_t id = (uint32_t)(rec * 9 + sub);
			if (e == 0)
				first[k] = id;
			else
				differs_epoch |= first[k] != id;
		}
		for (int r = 0; r < NREC; r++)
			for (int s = 0; s < 9; s++)
				ck_assert_int_eq(seen[r][s], 1);
	}
	ck_assert(differs_seed && differs_epoch);
	/* the batches: repeated rows as the items say; ranks; seek */
	struct rc_loader *r[3];
	for (int k = 0; k < 3; k++)
		r[k] = open_lite(list, 9, RC_SHUFFLE_PERM, 7, k, 3);
	struct rc_batch b1, bk;
	int32_t ids[5][18 * 4];
	for (int step = 0; step < 5; step++) {
		long e;
		uint64_t cur;
		rc_loader_tell(a, &e, &cur);
		if (cur == 27)
			e++, cur = 0;
		int count[NREC] = { 0 }, want = 0;
		for (uint64_t k = 0; k < 9; k++) {
			uint32_t sh, sub;
			uint64_t rec;
			ck_assert_int_eq(rc_loader_item(a, e, cur + k, &sh, &rec, &sub), 0);
			count[rec]++;
		}
		for (int q = 0; q < NREC; q++)
			want += count[q] > 1 ? count[q] : 0;
		ck_assert_int_eq(rc_loader_next(a, &b1), 0);
		ck_assert_int_eq(b1.repeated, want);
		memcpy(ids[step], b1.ids, (size_t)18 * b1.T * sizeof(int32_t));
		for (int k = 0; k < 3; k++) {
			ck_assert_int_eq(rc_loader_next(r[k], &bk), 0);
			ck_assert_int_eq(bk.repeated, want);
			for (int row = 0; row < 3; row++)
				for (int t = 0; t < 2; t++)
					ck_assert_int_eq(bk.ids[(t * 3 + row) * bk.T + 1],
						b1.ids[(t * 9 + 3 * k + row) * b1.T + 1]);
		}
	}
	struct rc_loader *s = open_lite(list, 9, RC_SHUFFLE_PERM, 7, 0, 1);
	ck_assert_int_eq(rc_loader_seek(s, 1, 9), 0);      /* step 4 = epoch 1, cursor 9 */
	ck_assert_int_eq(rc_loader_next(s, &b1), 0);
	ck_assert(memcmp(b1.ids + 1, ids[4] + 1, sizeof(int32_t)) == 0);
	ck_assert_int_eq(b1.epoch, 1);
	rc_loader_close(s);
	struct rc_loader *none = open_lite(list, 9, RC_SHUFFLE_NONE, 7, 0, 1);
	ck_assert_int_eq(rc_loader_next(none, &b1), 0);
	ck_assert_int_eq(b1.repeated, 9);
	rc_loader_close(none);
	for (int k = 0; k < 3; k++)
		rc_loader_close(r[k]);
	rc_loader_close(a), rc_loader_close(c);
}
END_TEST

/* --holdout: ceil(F·records) records set aside by the seed, the same in
 * every shuffle mode and epoch; split 1 streams exactly them, in dataset
 * order, in batches cut to what they hold. */
START_TEST(test_loader_holdout)
{
	const char *list = make_lite();
	const int modes[] = { RC_SHUFFLE_NONE, RC_SHUFFLE_BUFFER, RC_SHUFFLE_PERM };
	struct rc_loader_opts o = { .list = list, .stage = 1, .batch = 9, .rank = 0,
		.nranks = 1, .buffer = 5, .seed = 5, .holdout = 0.2, .image_size = S, .ctx = 77,
		.eot = 49407, .vocab = 49408 };
	int kept = -1;
	for (size_t m = 0; m < 3; m++) {
		o.shuffle = modes[m];
		struct rc_loader *l;
		ck_assert_int_eq(rc_loader_open(&l, &o), 0);
		ck_assert_int_eq(rc_loader_held(l), 1);            /* ceil(0.2·3) */
		ck_assert_int_eq(rc_loader_items(l), 18);
		for (long e = 0; e < 2; e++) {
			int seen[NREC] = { 0 };
			for (uint64_t k = 0; k < 18; k++) {
				uint32_t sh, sub;
				uint64_t rec;
				ck_assert_int_eq(rc_loader_item(l, e, k, &sh, &rec, &sub), 0);
				seen[rec]++;
			}
			int held = -1;
			for (int r = 0; r < NREC; r++) {
				ck_assert(seen[r] == 0 || seen[r] == 9);
				if (!seen[r])
					held = r;
			}
			ck_assert(kept < 0 || kept == held);
			kept = held;
		}
		rc_loader_close(l);
	}
	o.split = 1, o.batch = 32, o.shuffle = RC_SHUFFLE_PERM;
	struct rc_loader *h;
	ck_assert_int_eq(rc_loader_open(&h, &o), 0);
	ck_assert_int_eq(rc_loader_batch(h), 9);                  /* cut to the held items */
	ck_assert_int_eq(rc_loader_steps_per_epoch(h), 1);
	struct rc_batch b;
	ck_assert_int_eq(rc_loader_next(h, &b), 0);
	for (int k = 0; k < 9; k++) {                              /* dataset order */
		ck_assert_int_eq(b.ids[k * b.T + 1], 100 + 10 * kept + k / 3);
		ck_assert_int_eq(b.ids[(9 + k) * b.T + 1], 200 + 10 * kept + k % 3);
	}
	rc_loader_close(h);
	o.holdout = 0.5, o.nranks = 2, o.batch = 32;              /* 2 records: 18 items */
	ck_assert_int_eq(rc_loader_open(&h, &o), 0);
	ck_assert_int_eq(rc_loader_batch(h), 18);
	rc_loader_close(h);
	o.split = 0, o.nranks = 1, o.batch = 10;                   /* 9 items left */
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&h, &o), RC_E_RANGE);
	const char *err = capture_end();
	ck_assert_msg(strstr(err, "2 of the 3 records are held out"), "%s", err);
}
END_TEST

START_TEST(test_loader_ranks_and_seek)
{
	const char *list = make_lite();
	struct rc_loader *one = open_lite(list, 9, 1, 3, 0, 1);
	struct rc_loader *r[3];
	for (int k = 0; k < 3; k++)
		r[k] = open_lite(list, 9, 1, 3, k, 3);
	struct rc_batch b1, bk;
	int32_t ids[5][18 * 4];
	int T[5];
	for (int step = 0; step < 5; step++) {
		ck_assert_int_eq(rc_loader_next(one, &b1), 0);
		T[step] = b1.T;
		memcpy(ids[step], b1.ids, (size_t)18 * b1.T * sizeof(int32_t));
		for (int k = 0; k < 3; k++) {
			ck_assert_int_eq(rc_loader_next(r[k], &bk), 0);
			ck_assert_int_eq(bk.n, 3);
			for (int row = 0; row < 3; row++)      /* rank k's rows are rows 3k.. of the batch */
				for (int t = 0; t < 2; t++) {    /* the id that tells the text apart */
					ck_assert_int_eq(bk.ids[(t * 3 + row) * bk.T + 1],
						b1.ids[(t * 9 + 3 * k + row) * b1.T + 1]);
				}
		}
	}
	/* seek: a loader put at step 3's position reads step 3 and 4 again */
	long e;
	uint64_t cur;
	struct rc_loader *s = open_lite(list, 9, 1, 3, 0, 1);
	ck_assert_int_eq(rc_loader_seek(s, 1, 0), 0);    /* step 3 = epoch 1, cursor 0 */
	for (int step = 3; step < 5; step++) {
		ck_assert_int_eq(rc_loader_next(s, &b1), 0);
		ck_assert_int_eq(b1.T, T[step]);
		ck_assert(memcmp(b1.ids, ids[step], (size_t)18 * b1.T * sizeof(int32_t)) == 0);
	}
	rc_loader_tell(s, &e, &cur);
	ck_assert(e == 1 && cur == 18);
	capture_begin();
	ck_assert_int_eq(rc_loader_seek(s, 0, 28), RC_E_RANGE);
	capture_end();
	rc_loader_close(s), rc_loader_close(one);
	for (int k = 0; k < 3; k++)
		rc_loader_close(r[k]);
}
END_TEST

START_TEST(test_loader_refuses)
{
	const char *list = make_lite();
	struct rc_loader_opts o = { .list = list, .stage = 2, .batch = 4, .nranks = 1,
		.buffer = 4, .image_size = S, .ctx = 77, .eot = 49407, .vocab = 49408 };
	struct rc_loader *l;
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&l, &o), RC_E_ARG);          /* schema */
	const char *err = capture_end();
	ck_assert_msg(strstr(err, "schema reasonlite; stage 2 needs reasonpro"), "%s", err);
	o.stage = 1, o.image_size = 3;
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&l, &o), RC_E_ARG);          /* size */
	capture_end();
	o.image_size = S, o.preprocess = RC_PREPROCESS_SIGLIP;
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&l, &o), RC_E_ARG);          /* CLIP crops */
	err = capture_end();
	ck_assert_msg(strstr(err, "CLIP crops, the model takes") && strstr(err, "SigLIP resizes"),
		"%s", err);
	o.preprocess = RC_PREPROCESS_CLIP;
	o.image_size = S, o.batch = 28;
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&l, &o), RC_E_RANGE);        /* fewer than a batch */
	capture_end();
	o.batch = 9, o.vocab = 150;                                   /* ids over the vocabulary */
	ck_assert_int_eq(rc_loader_open(&l, &o), 0);
	struct rc_batch b;
	capture_begin();
	ck_assert_int_eq(rc_loader_next(l, &b), RC_E_RANGE);
	err = capture_end();
	ck_assert_msg(strstr(err, "record 0: token id 49406 is outside"), "%s", err);
	rc_loader_close(l);
	o.vocab = 49408, o.nranks = 2;                                /* 9 rows over 2 ranks */
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&l, &o), RC_E_ARG);
	capture_end();
}
END_TEST

/* S0-Rea: a list of the ReasonLite shard and a ReasonPro shard of NPRO
 * records (record r's trp the ids (49406, 300 + 10r, 49407), image bytes
 * 7 + r), as the official baseline's concatenation of trl and trp items. */
enum { NPRO = 2 };

static const char *make_rea(void)
{
	static char list[4096];
	char shard[4096];
	const char *lite = make_lite();
	snprintf(shard, sizeof shard, "%s", rc_test_join(tmpdir, "p-000000.rcs"));
	snprintf(list, sizeof list, "%s", rc_test_join(tmpdir, "rea.list"));
	struct rc_shard_info info = { .schema = RC_SCHEMA_PRO, .store = RC_STORE_RAW,
		.image_size = S, .text_ctx = 77 };
	const char *meta[] = { "source", "test" };
	struct rc_shard_writer *w;
	ck_assert_int_eq(rc_shard_writer_open(&w, shard, &info, meta, 1), 0);
	for (int r = 0; r < NPRO; r++) {
		uint8_t img[S * S * 3], labels[4] = { (uint8_t)r, (uint8_t)r, 3, 4 };
		memset(img, 7 + r, sizeof img);
		uint16_t tok[3] = { 49406, (uint16_t)(300 + 10 * r), 49407 };
		struct rc_text tx = { .role = RC_ROLE_TRP, .s = "x", .len = 1, .tokens = tok,
			.ntokens = 3 };
		char key[16];
		snprintf(key, sizeof key, "p%d", r);
		struct rc_record rec = { .schema = RC_SCHEMA_PRO, .key = key,
			.key_len = (uint32_t)strlen(key), .image = img, .image_len = sizeof img,
			.texts = &tx, .ntexts = 1, .labels = labels, .nlabels = 4 };
		ck_assert_int_eq(rc_shard_writer_add(w, &rec), 0);
	}
	uint64_t h;
	ck_assert_int_eq(rc_shard_writer_close(w, &h), 0);
	struct rc_shard_list l;
	rc_shard_list_init(&l);
	ck_assert_int_eq(rc_shard_list_read(&l, lite), 0);
	ck_assert_int_eq(rc_shard_list_add(&l, "p-000000.rcs", NPRO, h), 0);
	ck_assert_int_eq(rc_shard_list_write(&l, list), 0);
	rc_shard_list_free(&l);
	return list;
}

/* The S0-Rea stream: every trl of the ReasonLite records and every trp of
 * the ReasonPro ones once an epoch (3·NREC + NPRO items), in dataset order
 * Lite then Pro, by a permutation, and with records held out; any other
 * stage refuses the ReasonPro shard. */
START_TEST(test_loader_rea)
{
	const char *list = make_rea();
	const int items = 3 * NREC + NPRO;
	struct rc_loader_opts o = { .list = list, .stage = 0, .stream = RC_STREAM_TRL,
		.batch = items, .nranks = 1, .buffer = 5, .seed = 3, .image_size = S, .ctx = 77,
		.eot = 49407, .vocab = 49408 };
	const int modes[] = { RC_SHUFFLE_NONE, RC_SHUFFLE_BUFFER, RC_SHUFFLE_PERM };
	for (size_t m = 0; m < 3; m++) {
		o.shuffle = modes[m];
		struct rc_loader *l;
		ck_assert_int_eq(rc_loader_open(&l, &o), 0);
		ck_assert_int_eq(rc_loader_items(l), items);
		struct rc_batch b;
		for (long e = 0; e < 2; e++) {
			ck_assert_int_eq(rc_loader_next(l, &b), 0);
			ck_assert_int_eq(b.n, items);
			ck_assert_int_eq(b.ntext, 1);
			int trl[NREC][3] = { { 0 } }, trp[NPRO] = { 0 };
			for (int k = 0; k < items; k++) {
				const int32_t id = b.ids[k * b.T + 1];
				const uint8_t px = b.rgb[(size_t)k * S * S * 3];
				if (id >= 300) {                  /* a trp, with its record's image */
					const int r = (id - 300) / 10;
					ck_assert_int_eq(px, 7 + r);
					trp[r]++;
				} else {
					const int r = (id - 200) / 10, j = (id - 200) % 10;
					ck_assert(id >= 200 && r < NREC && j < 3);
					ck_assert_int_eq(px, 40 * r);
					ck_assert_int_eq(b.ids[k * b.T + 2], 5);
					trl[r][j]++;
				}
				if (o.shuffle == RC_SHUFFLE_NONE)  /* Lite's 3·NREC first */
					ck_assert_int_eq(id >= 300, k >= 3 * NREC);
			}
			for (int r = 0; r < NREC; r++)
				for (int j = 0; j < 3; j++)
					ck_assert_int_eq(trl[r][j], 1);
			for (int r = 0; r < NPRO; r++)
				ck_assert_int_eq(trp[r], 1);
		}
		rc_loader_close(l);
	}
	/* held out: ceil(0.4·5) = 2 records; kept and held items add up, each
	 * record's items all on one side */
	o.holdout = 0.4, o.shuffle = RC_SHUFFLE_PERM, o.batch = 1;
	struct rc_loader *a, *h;
	ck_assert_int_eq(rc_loader_open(&a, &o), 0);
	o.split = 1;
	ck_assert_int_eq(rc_loader_open(&h, &o), 0);
	ck_assert_int_eq(rc_loader_held(a), 2);
	ck_assert_int_eq(rc_loader_items(a) + rc_loader_items(h), items);
	int side[NREC + NPRO];
	for (int r = 0; r < NREC + NPRO; r++)
		side[r] = -1;
	for (int s = 0; s < 2; s++) {
		struct rc_loader *l = s ? h : a;
		for (uint64_t k = 0; k < rc_loader_items(l); k++) {
			uint32_t sh, sub;
			uint64_t rec;
			ck_assert_int_eq(rc_loader_item(l, 0, k, &sh, &rec, &sub), 0);
			const int g = sh ? NREC + (int)rec : (int)rec;
			ck_assert(sh ? sub == 0 : sub < 3);
			ck_assert(side[g] < 0 || side[g] == s);
			side[g] = s;
		}
	}
	for (int r = 0; r < NREC + NPRO; r++)
		ck_assert_int_ge(side[r], 0);
	rc_loader_close(a), rc_loader_close(h);
	o.holdout = 0, o.split = 0, o.stream = RC_STREAM_TB;  /* tb: ReasonLite only */
	struct rc_loader *l;
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&l, &o), RC_E_ARG);
	const char *err = capture_end();
	ck_assert_msg(strstr(err, "p-000000.rcs: schema reasonpro; stage 0 --stream tb needs "
		"reasonlite"), "%s", err);
	o.stage = 1;
	capture_begin();
	ck_assert_int_eq(rc_loader_open(&l, &o), RC_E_ARG);
	capture_end();
}
END_TEST

/* ---------------------------------------------------------------- checkpoints */

/* a descriptive shard of n records of 32×32 raw images for the tiny config */
static const char *make_desc(int n)
{
	static char list[4096];
	char shard[4096];
	snprintf(shard, sizeof shard, "%s", rc_test_join(tmpdir, "d-000000.rcs"));
	snprintf(list, sizeof list, "%s", rc_test_join(tmpdir, "d.list"));
	struct rc_shard_info info = { .schema = RC_SCHEMA_DESC, .store = RC_STORE_RAW,
		.image_size = 32, .text_ctx = 77 };
	const char *meta[] = { "source", "test" };
	struct rc_shard_writer *w;
	ck_assert_int_eq(rc_shard_writer_open(&w, shard, &info, meta, 1), 0);
	static uint8_t img[32 * 32 * 3];
	for (int r = 0; r < n; r++) {
		for (size_t i = 0; i < sizeof img; i++)
			img[i] = (uint8_t)(i * 7 + r * 31);
		uint16_t tok[4] = { 49406, (uint16_t)(300 + r), (uint16_t)(400 + r % 3), 49407 };
		struct rc_text tx = { .role = RC_ROLE_CAPTION, .s = "x", .len = 1, .tokens = tok,
			.ntokens = 4 };
		char key[16];
		snprintf(key, sizeof key, "d%d", r);
		struct rc_record rec = { .schema = RC_SCHEMA_DESC, .key = key,
			.key_len = (uint32_t)strlen(key), .image = img, .image_len = sizeof img,
			.texts = &tx, .ntexts = 1 };
		ck_assert_int_eq(rc_shard_writer_add(w, &rec), 0);
	}
	uint64_t h;
	ck_assert_int_eq(rc_shard_writer_close(w, &h), 0);
	struct rc_shard_list l;
	rc_shard_list_init(&l);
	ck_assert_int_eq(rc_shard_list_add(&l, "d-000000.rcs", (uint64_t)n, h), 0);
	ck_assert_int_eq(rc_shard_list_write(&l, list), 0);
	rc_shard_list_free(&l);
	return list;
}

/* --group: the epoch is a permutation of runs of G consecutive records
 * (the tail left in place), each run within G aligned positions, so that
 * it lands in one batch when the batch is a multiple of G; a function of
 * (seed, epoch); with several items a record, a pass per item, each
 * record once a pass and each of its items once an epoch. */
START_TEST(test_loader_groups)
{
	const char *list = make_desc(22);
	struct rc_loader_opts o = { .list = list, .stage = 0, .stream = RC_STREAM_CAPTION,
		.batch = 4, .rank = 0, .nranks = 1, .shuffle = RC_SHUFFLE_GROUPS, .group = 4,
		.buffer = 1, .seed = 3, .image_size = 32, .ctx = 77, .eot = 49407,
		.vocab = 49408 };
	struct rc_loader *a, *c;
	ck_assert_int_eq(rc_loader_open(&a, &o), 0);
	o.seed = 4;
	ck_assert_int_eq(rc_loader_open(&c, &o), 0);
	int differs_seed = 0, differs_epoch = 0;
	uint64_t first[22];
	for (long e = 0; e < 3; e++) {
		int seen[22] = { 0 };
		for (uint64_t k = 0; k < 22; k++) {
			uint32_t sh, sub;
			uint64_t rec, rec3;
			ck_assert_int_eq(rc_loader_item(a, e, k, &sh, &rec, &sub), 0);
			ck_assert_int_eq(rc_loader_item(c, e, k, &sh, &rec3, &sub), 0);
			seen[rec]++;
			if (k < 20)      /* a run: the positions 4g..4g+3 */
				ck_assert_msg(rec / 4 * 4 + k % 4 == rec, "position %llu: record %llu",
					(unsigned long long)k, (unsigned long long)rec);
			else
				ck_assert_int_eq(rec, k);
			differs_seed |= rec != rec3;
			if (e == 0)
				first[k] = rec;
			else
				differs_epoch |= first[k] != rec;
		}
		for (int r = 0; r < 22; r++)
			ck_assert_int_eq(seen[r], 1);
	}
	ck_assert(differs_seed && differs_epoch);
	rc_loader_close(a), rc_loader_close(c);
	/* stage 1, 9 items a record: 9 passes of the 3 records */
	const char *lite = make_lite();
	struct rc_loader_opts ol = { .list = lite, .stage = 1, .batch = 3, .rank = 0,
		.nranks = 1, .shuffle = RC_SHUFFLE_GROUPS, .group = 1, .buffer = 1, .seed = 5,
		.image_size = S, .ctx = 77, .eot = 49407, .vocab = 49408 };
	struct rc_loader *l;
	ck_assert_int_eq(rc_loader_open(&l, &ol), 0);
	for (long e = 0; e < 2; e++) {
		int seen[NREC][9] = { { 0 } };
		for (uint64_t k = 0; k < 27; k += NREC) {
			int pass[NREC] = { 0 };
			for (uint64_t i = 0; i < NREC; i++) {
				uint32_t sh, sub;
				uint64_t rec;
				ck_assert_int_eq(rc_loader_item(l, e, k + i, &sh, &rec, &sub), 0);
				pass[rec]++, seen[rec][sub]++;
			}
			for (int r = 0; r < NREC; r++)
				ck_assert_int_eq(pass[r], 1);
		}
		for (int r = 0; r < NREC; r++)
			for (int s = 0; s < 9; s++)
				ck_assert_int_eq(seen[r][s], 1);
	}
	rc_loader_close(l);
}
END_TEST

/* run - stage 0 on the tiny config from random weights into dir */
static int run(const char *list, const char *dir, const char *resume, long save_every)
{
	struct rc_train_opts o;
	rc_train_opts_default(&o);
	o.stage = 0, o.init_config = "tiny", o.data = list, o.out = dir, o.resume = resume;
	o.batch = 4, o.steps = 5, o.seed = 9, o.buffer = 3, o.lr = 1e-3, o.save_every = save_every;
	o.keep = 10;
	return rc_train_run(&o, NULL, NULL);
}

START_TEST(test_checkpoint_roundtrip)
{
	const char *list = make_desc(10);
	char a[4096], b[4096], path[4200];
	snprintf(a, sizeof a, "%s", rc_test_join(tmpdir, "a"));
	snprintf(b, sizeof b, "%s", rc_test_join(tmpdir, "b"));
	ck_assert_int_eq(run(list, a, NULL, 0), 0);              /* uninterrupted */
	ck_assert_int_eq(run(list, b, NULL, 2), 0);              /* ckpt-2, ckpt-4 */
	/* a checkpoint holds the model (HF names, loadable), both moments of
	 * every tensor, the config and the state */
	snprintf(path, sizeof path, "%s/ckpt-2.safetensors", b);
	struct rc_clip *m;
	ck_assert_int_eq(rc_clip_load_checkpoint(&m, path), 0);
	struct rc_st *st;
	ck_assert_int_eq(rc_st_open(&st, path), 0);
	for (size_t i = 0; i < rc_clip_tensor_count(m); i++) {
		char name[160];
		const struct rc_clip_param *p = rc_clip_tensor(m, i);
		snprintf(name, sizeof name, "optimizer.exp_avg_sq.%s", p->name);
		const struct rc_st_tensor *t = rc_st_find(st, name);
		ck_assert_msg(t && t->nelem == p->numel, "%s", name);
	}
	ck_assert_ptr_nonnull(strstr(rc_st_meta(st, "state"), "\"step\":2"));
	ck_assert_str_eq(rc_st_meta(st, "format"), "rclip-checkpoint");
	rc_st_close(st);
	rc_clip_free(m);
	/* drop the end of run b, resume from ckpt-4: the same final bits as a */
	snprintf(path, sizeof path, "%s/final.safetensors", b);
	capture_begin();
	ck_assert_int_eq(run(list, NULL, b, 0), RC_E_ARG);      /* finished: refused */
	capture_end();
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(run(list, NULL, b, 0), 0);
	struct rc_clip *fa, *fb;
	snprintf(path, sizeof path, "%s/final.safetensors", a);
	ck_assert_int_eq(rc_clip_load_checkpoint(&fa, path), 0);
	snprintf(path, sizeof path, "%s/final.safetensors", b);
	ck_assert_int_eq(rc_clip_load_checkpoint(&fb, path), 0);
	ck_assert(memcmp(fa->params, fb->params, rc_clip_param_count(fa) * sizeof(float)) == 0);
	rc_clip_free(fa), rc_clip_free(fb);
}
END_TEST

static Suite *train_suite(void)
{
	Suite *s = suite_create("train");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_siglip_gradients);
	tcase_add_test(tc, test_head_losses);
	tcase_add_test(tc, test_l2_anchor);
	tcase_add_test(tc, test_rank_rows);
	tcase_add_test(tc, test_schedules);
	tcase_add_test(tc, test_adamw);
	tcase_add_test(tc, test_prefetch_same_batches);
	tcase_add_test(tc, test_norm_and_clip);
	tcase_add_test(tc, test_init_random);
	tcase_add_test(tc, test_loader_dataset_order);
	tcase_add_test(tc, test_loader_pad_full);
	tcase_add_test(tc, test_loader_shuffle);
	tcase_add_test(tc, test_perm);
	tcase_add_test(tc, test_loader_perm);
	tcase_add_test(tc, test_loader_groups);
	tcase_add_test(tc, test_loader_holdout);
	tcase_add_test(tc, test_loader_ranks_and_seek);
	tcase_add_test(tc, test_loader_refuses);
	tcase_add_test(tc, test_loader_rea);
	tcase_add_test(tc, test_checkpoint_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	rc_log_init("test_train");
	return rc_test_run(train_suite());
}
