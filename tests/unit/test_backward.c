/* test_backward.c - common/model/loss.c and common/model/backward.c: the CLIP
 * loss against a double-precision reference and its central differences;
 * the loss and the gradient of every parameter against transformers
 * (loss.backward()) on every fixture of tests/fixtures/clip/ (gen_clip.py):
 * the loss within 1e-5, each gradient tensor within 1e-4 of its largest
 * reference value (k_proj.bias, zero in exact arithmetic, within 1e-5
 * absolute), with the worst tensor printed per fixture; what backward
 * promises beyond the numbers: accumulation, determinism, one tower at a
 * time, texts shorter than the context; and its errors. Exits 77 (skip)
 * when a fixture is missing and everything that ran passed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/clip_config.h"
#include "base/error.h"
#include "model/loss.h"
#include "model/cpu.h"
#include "model/ops_cpu.h"
#include "data/safetensors.h"

#include "clip_fixtures.h"
#include "testutil.h"

static const char *const fixtures[] = { "tiny-quickgelu", "tiny-gelu", "tiny-oddheads",
	"tiny-img64" };
#define NFIX (int)(sizeof fixtures / sizeof fixtures[0])

/* ---------------------------------------------------------------- helpers */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double uniform(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static float normal(void)
{
	double u = uniform() + 1e-12, v = uniform();
	return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static float *randn(size_t n)
{
	float *p = malloc(n * sizeof *p);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = normal();
	return p;
}

static float *zeros(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof *p);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* One fixture loaded: model, inputs, reference outputs. */
struct fix {
	struct rc_clip *m;
	struct rc_st *out;
	float *px;
	int32_t *ids;
	int B, T;
	size_t image_floats;   /* one image */
};

static int fix_open(struct fix *f, const char *name)
{
	if (!fixture_present(name)) {
		fprintf(stderr, "%s: fixture missing (tests/fixtures/gen_clip.py makes it)\n",
			name);
		return 0;
	}
	struct rc_st *in;
	size_t n;
	ck_assert_int_eq(rc_clip_load_hf(&f->m, fixture(name, NULL)), 0);
	ck_assert_int_eq(rc_st_open(&in, fixture(name, "inputs.safetensors")), 0);
	ck_assert_int_eq(rc_st_open(&f->out, fixture(name, "outputs.safetensors")), 0);
	f->ids = read_ids(in, &f->B, &f->T);
	f->px = read_f32(in, "pixel_values", &n);
	const int S = f->m->cfg.vision.image_size;
	f->image_floats = 3 * (size_t)S * S;
	ck_assert_uint_eq(n, f->B * f->image_floats);   /* B pairs */
	rc_st_close(in);
	return 1;
}

static void fix_close(struct fix *f)
{
	rc_st_close(f->out);
	rc_clip_free(f->m);
	free(f->px), free(f->ids);
}

/* train - a training workspace and scratch for B pairs, and the loss and
 * gradient (added into grads) of pixels and ids. */
static float train(const struct rc_clip *m, const float *px, const int32_t *ids, int B, int T,
	float *grads)
{
	struct rc_clip_ws *ws;
	struct rc_clip_grad_ws *gw;
	float loss;
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, B, B, RC_CLIP_WS_TRAIN), 0);
	ck_assert_int_eq(rc_clip_grad_ws_new(&gw, m, ws), 0);
	ck_assert_int_eq(rc_clip_loss_and_grad(m, ws, gw, px, ids, B, T, &loss, grads), 0);
	rc_clip_grad_ws_free(gw);
	rc_clip_ws_free(ws);
	return loss;
}

static int is_k_bias(const char *name)
{
	return strstr(name, "self_attn.k_proj.bias") != NULL;
}

/* ---------------------------------------------------------------- CLIP loss */

/* loss_ref - the CLIP loss in double (loss.h's formula). */
static double loss_ref(const double *img, const double *txt, int B, int D, double s)
{
	double ct = 0, ci = 0, *L = calloc((size_t)B * B, sizeof *L);
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++) {
			double d = 0;
			for (int k = 0; k < D; k++)
				d += txt[i * D + k] * img[j * D + k];
			L[i * B + j] = exp(s) * d;
		}
	for (int i = 0; i < B; i++) {
		double sr = 0, sc = 0;
		for (int j = 0; j < B; j++)
			sr += exp(L[i * B + j]), sc += exp(L[j * B + i]);
		ct += log(sr) - L[i * B + i];
		ci += log(sc) - L[i * B + i];
	}
	free(L);
	return (ct + ci) / (2.0 * B);
}

static void check_loss(int B, int D, float s)
{
	size_t n = (size_t)B * D;
	float *img = randn(n), *txt = randn(n);
	double *di = malloc(n * sizeof *di), *dt = malloc(n * sizeof *dt);
	/* normalised rows, as the embeddings are */
	rc_ops_l2norm(img, NULL, img, B, D);
	rc_ops_l2norm(txt, NULL, txt, B, D);
	for (size_t i = 0; i < n; i++)
		di[i] = img[i], dt[i] = txt[i];

	struct rc_loss_clip *lc;
	ck_assert_int_eq(rc_loss_clip_new(&lc, B + 2), 0);
	double loss = rc_loss_clip_forward(lc, img, txt, B, D, s);
	double ref = loss_ref(di, dt, B, D, s);
	ck_assert_msg(fabs(loss - ref) <= 1e-6 * fmax(1, fabs(ref)), "B%d: loss %.9g, reference "
		"%.9g", B, loss, ref);
	/* logits_per_text: row = text, column = image */
	const float *lg = rc_loss_clip_logits(lc);
	double d = 0;
	for (int k = 0; k < D; k++)
		d += dt[k] * di[(size_t)(B - 1) * D + k];
	ck_assert(fabs(lg[B - 1] - exp(s) * d) <= 1e-5 * exp(s));

	/* gradients prefilled, with dloss 0.5: they accumulate and scale */
	float *gi = malloc(n * sizeof *gi), *gt = malloc(n * sizeof *gt), gs = 1.0f;
	for (size_t i = 0; i < n; i++)
		gi[i] = 1.0f, gt[i] = 1.0f;
	rc_loss_clip_backward(lc, 0.5f, gi, gt, &gs);
	double worst = 0, scale = 0;
	for (int which = 0; which < 3; which++) {
		size_t m = which < 2 ? n : 1;
		for (size_t i = 0; i < m; i++) {
			double *x = which == 0 ? &di[i] : which == 1 ? &dt[i] : NULL;
			double h = 1e-6, num;
			if (x) {
				double x0 = *x;
				*x = x0 + h;
				double fp = loss_ref(di, dt, B, D, s);
				*x = x0 - h;
				double fm = loss_ref(di, dt, B, D, s);
				*x = x0;
				num = (fp - fm) / (2 * h);
			} else {
				num = (loss_ref(di, dt, B, D, (double)s + h) -
					loss_ref(di, dt, B, D, (double)s - h)) / (2 * h);
			}
			double got = 2.0 * ((which == 0 ? gi[i] : which == 1 ? gt[i] : gs) - 1.0);
			worst = fmax(worst, fabs(got - num));
			scale = fmax(scale, fabs(num));
		}
	}
	fprintf(stderr, "clip loss B%-3d D%-3d s %.2f: loss %.6f, grad rel err %.2e\n", B, D, s,
		loss, B > 1 ? worst / scale : worst);
	if (B == 1) {
		ck_assert(loss == 0 && worst < 1e-6);
	} else {
		ck_assert_msg(worst <= 1e-5 * scale, "B%d: gradient error %.3g of %.3g", B, worst,
			scale);
	}
	/* NULL gradients are skipped */
	rc_loss_clip_backward(lc, 1.0f, NULL, NULL, NULL);
	rc_loss_clip_free(lc);
	free(img), free(txt), free(di), free(dt), free(gi), free(gt);
}

START_TEST(test_loss)
{
	check_loss(1, 4, 2.6592f);
	check_loss(2, 3, 0.0f);
	check_loss(5, 7, 2.6592f);
	check_loss(16, 24, 3.9f);   /* ln 50, the clamp's ceiling */
	check_loss(33, 40, 1.0f);

	struct rc_loss_clip *lc;
	capture_begin();
	int rc = rc_loss_clip_new(&lc, 0);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_null(lc);
	ck_assert_ptr_nonnull(strstr(err, "clip loss: batch of 0"));
	rc_loss_clip_free(NULL);
}
END_TEST

/* ---------------------------------------------------------------- parity */

START_TEST(test_grad_parity)
{
	const char *name = fixtures[_i];
	struct fix f;
	if (!fix_open(&f, name))
		return;
	const struct rc_clip *m = f.m;
	float *grads = zeros(m->nparams);
	float loss = train(m, f.px, f.ids, f.B, f.T, grads);

	size_t one;
	float *ref = read_f32(f.out, "loss", &one);
	fprintf(stderr, "%-15s loss %.7f, transformers %.7f (diff %.2g)\n", name, loss, ref[0],
		fabs(loss - ref[0]));
	ck_assert_msg(fabs(loss - ref[0]) <= 1e-5, "%s: loss %.9g, transformers %.9g", name, loss,
		ref[0]);
	free(ref);

	/* Every tensor by its HF name; the gradient sits at the same offset
	 * in grads as the parameter in params. */
	double worst = 0, worst_k = 0;
	const char *worst_name = "", *worst_k_name = "";
	int bad = 0;
	for (size_t t = 0; t < rc_clip_tensor_count(m); t++) {
		const struct rc_clip_param *p = rc_clip_tensor(m, t);
		char key[96];
		snprintf(key, sizeof key, "grad.%s", p->name);
		size_t n;
		float *want = read_f32(f.out, key, &n);
		ck_assert_uint_eq(n, p->numel);
		const float *got = grads + p->offset;
		double diff = 0, mx = 0;
		for (size_t i = 0; i < n; i++) {
			double d = fabs((double)got[i] - want[i]);
			diff = d > diff || isnan(d) ? d : diff;
			mx = fmax(mx, fabs(want[i]));
		}
		if (is_k_bias(p->name)) {
			if (diff >= worst_k)
				worst_k = diff, worst_k_name = p->name;
			if (!(diff <= 1e-5)) {
				fprintf(stderr, "%s: %s: max |diff| %.3g > 1e-5\n", name, p->name,
					diff);
				bad++;
			}
		} else {
			double rel = mx > 0 ? diff / mx : diff;
			ck_assert_msg(mx > 0, "%s: %s: the reference gradient is zero", name, key);
			if (rel >= worst || isnan(rel))
				worst = rel, worst_name = p->name;
			if (!(rel <= 1e-4)) {
				fprintf(stderr, "%s: %s: max |diff| %.3g, %.3g of max %.3g\n", name,
					p->name, diff, rel, mx);
				bad++;
			}
		}
		free(want);
	}
	fprintf(stderr, "%-15s %zu gradient tensors: worst %.2e relative (%s); k_proj.bias "
		"%.2e absolute (%s)\n", name, rc_clip_tensor_count(m), worst, worst_name, worst_k,
		worst_k_name);
	ck_assert_msg(bad == 0, "%s: %d gradient tensors out of tolerance", name, bad);

	/* Again into zeros: the same bits. Again into the result: twice the
	 * gradient (up to rounding: sgemm adds its product to what is there). */
	float *again = zeros(m->nparams);
	float loss2 = train(m, f.px, f.ids, f.B, f.T, again);
	ck_assert(loss2 == loss);
	ck_assert_int_eq(memcmp(again, grads, m->nparams * sizeof *grads), 0);
	train(m, f.px, f.ids, f.B, f.T, again);
	for (size_t t = 0; t < rc_clip_tensor_count(m); t++) {
		const struct rc_clip_param *p = rc_clip_tensor(m, t);
		size_t n = p->numel;
		double mx = 0;
		for (size_t i = 0; i < n; i++)
			mx = fmax(mx, fabs(grads[p->offset + i]));
		size_t nbad = 0, at = 0;
		for (size_t i = 0; i < n; i++)
			if (!(fabs(again[p->offset + i] - 2.0 * grads[p->offset + i]) <= 1e-6 * mx))
				nbad++, at = i;
		ck_assert_msg(nbad == 0, "%s: %s[%zu]: %.9g, then %.9g", name, p->name, at,
			grads[p->offset + at], again[p->offset + at]);
	}
	free(again);
	free(grads);
	fix_close(&f);
}
END_TEST

/* ---------------------------------------------------------------- one tower */

START_TEST(test_one_tower)
{
	/* rc_clip_backward with one gradient only touches that tower; the two
	 * calls add up to the full gradient. Image and text batches differ. */
	struct fix f;
	if (!fix_open(&f, "tiny-oddheads"))
		return;
	const struct rc_clip *m = f.m;
	const int Bi = 2, Bt = f.B, D = m->cfg.projection_dim;
	struct rc_clip_ws *ws;
	struct rc_clip_grad_ws *gw;
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, Bi, Bt, RC_CLIP_WS_TRAIN), 0);
	ck_assert_int_eq(rc_clip_grad_ws_new(&gw, m, ws), 0);
	ck_assert_uint_gt(rc_clip_grad_ws_bytes(gw), 0);
	ck_assert_int_eq(rc_clip_encode_image(m, ws, f.px, Bi, NULL), 0);
	ck_assert_int_eq(rc_clip_encode_text(m, ws, f.ids, Bt, f.T, NULL), 0);
	float *dimg = randn((size_t)Bi * D), *dtxt = randn((size_t)Bt * D);
	float *gv = zeros(m->nparams), *gt = zeros(m->nparams), *both = zeros(m->nparams);
	ck_assert_int_eq(rc_clip_backward(m, ws, gw, dimg, NULL, gv), 0);
	ck_assert_int_eq(rc_clip_backward(m, ws, gw, NULL, dtxt, gt), 0);
	ck_assert_int_eq(rc_clip_backward(m, ws, gw, dimg, dtxt, both), 0);
	for (size_t t = 0; t < rc_clip_tensor_count(m); t++) {
		const struct rc_clip_param *p = rc_clip_tensor(m, t);
		int text = strncmp(p->name, "text_", 5) == 0;
		int vision = strncmp(p->name, "vision_", 7) == 0 ||
			strncmp(p->name, "visual_", 7) == 0;
		double sv = 0, st = 0;
		int sum_ok = 1;
		for (size_t i = 0; i < p->numel; i++) {
			size_t o = p->offset + i;
			sv += fabs(gv[o]), st += fabs(gt[o]);
			sum_ok &= both[o] == gv[o] + gt[o];
		}
		ck_assert_msg(sum_ok, "%s: both towers at once differ from one after the other",
			p->name);
		ck_assert_msg(vision ? st == 0 && (sv > 0 || is_k_bias(p->name)) :
			text ? sv == 0 && (st > 0 || is_k_bias(p->name)) : sv == 0 && st == 0,
			"%s: vision %g, text %g", p->name, sv, st);
	}
	free(dimg), free(dtxt), free(gv), free(gt), free(both);
	rc_clip_grad_ws_free(gw);
	rc_clip_ws_free(ws);
	fix_close(&f);
}
END_TEST

/* ---------------------------------------------------------------- short texts */

START_TEST(test_short_texts)
{
	/* With the causal mask, the pooled row sees only tokens up to it: texts
	 * cut after their last pooled position give the same loss and
	 * gradients (the position embeddings past the cut get none either
	 * way). Rows 0 and 2 of tiny-quickgelu pool at 4 and 40 of 77. */
	struct fix f;
	if (!fix_open(&f, "tiny-quickgelu"))
		return;
	const struct rc_clip *m = f.m;
	const int B = 2, T = f.T, Tc = 41;
	float *px = malloc(2 * f.image_floats * sizeof *px);
	int32_t *ids = malloc((size_t)B * T * sizeof *ids);
	int32_t *cut = malloc((size_t)B * Tc * sizeof *cut);
	for (int b = 0; b < B; b++) {
		int src = b ? 2 : 0;
		memcpy(px + b * f.image_floats, f.px + src * f.image_floats,
			f.image_floats * sizeof *px);
		memcpy(ids + (size_t)b * T, f.ids + (size_t)src * T, (size_t)T * sizeof *ids);
		memcpy(cut + (size_t)b * Tc, f.ids + (size_t)src * T, (size_t)Tc * sizeof *ids);
	}
	ck_assert_int_eq(cut[2 * Tc - 1], m->cfg.text.eos_token_id);
	float *g = zeros(m->nparams), *gc = zeros(m->nparams);
	float loss = train(m, px, ids, B, T, g), lc = train(m, px, cut, B, Tc, gc);
	ck_assert_msg(fabs(loss - lc) <= 1e-5, "loss %.9g, cut %.9g", loss, lc);
	double worst = 0;
	for (size_t t = 0; t < rc_clip_tensor_count(m); t++) {
		const struct rc_clip_param *p = rc_clip_tensor(m, t);
		size_t n = p->numel;
		double d = 0, mx = 0;
		for (size_t i = 0; i < n; i++) {
			d = fmax(d, fabs((double)g[p->offset + i] - gc[p->offset + i]));
			mx = fmax(mx, fabs(g[p->offset + i]));
		}
		if (!is_k_bias(p->name))
			worst = fmax(worst, d / mx);
		ck_assert_msg(is_k_bias(p->name) ? d <= 1e-6 : d <= 1e-5 * mx, "%s: %g of %g",
			p->name, d, mx);
	}
	fprintf(stderr, "texts cut at %d of %d: loss diff %.2g, gradients %.2e relative\n", Tc, T,
		fabs(loss - lc), worst);
	/* positions past the cut: exactly no gradient in the full run */
	const struct rc_clip_param *pos = rc_clip_find_param(m,
		"text_model.embeddings.position_embedding.weight");
	int past = 0;
	for (size_t i = (size_t)Tc * m->cfg.text.hidden; i < pos->numel; i++)
		past += g[pos->offset + i] != 0.0f;
	ck_assert_int_eq(past, 0);
	free(px), free(ids), free(cut), free(g), free(gc);
	fix_close(&f);
}
END_TEST

/* ---------------------------------------------------------------- errors */

START_TEST(test_backward_errors)
{
	struct rc_clip_config cfg;
	struct rc_clip *m, *m2;
	struct rc_clip_ws *ws, *tw, *tw2;
	struct rc_clip_grad_ws *gw;
	ck_assert_int_eq(rc_clip_config_builtin(&cfg, "tiny"), 0);
	ck_assert_int_eq(rc_clip_new(&m, &cfg), 0);
	cfg.vision.hidden = 48;
	cfg.vision.heads = 4;
	ck_assert_int_eq(rc_clip_new(&m2, &cfg), 0);
	float *grads = zeros(m->nparams), demb[16 * 512] = { 0 };

	/* a workspace without kept activations */
	ck_assert_int_eq(rc_clip_ws_new(&ws, m, 2, 2, 0), 0);
	capture_begin();
	int rc = rc_clip_grad_ws_new(&gw, m, ws);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_null(gw);
	ck_assert_ptr_nonnull(strstr(err, "made without RC_CLIP_WS_TRAIN"));

	/* another model's workspace */
	ck_assert_int_eq(rc_clip_ws_new(&tw2, m2, 2, 2, RC_CLIP_WS_TRAIN), 0);
	capture_begin();
	rc = rc_clip_grad_ws_new(&gw, m, tw2);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(err, "another model"));

	/* no forward yet; scratch of another workspace */
	ck_assert_int_eq(rc_clip_ws_new(&tw, m, 2, 3, RC_CLIP_WS_TRAIN), 0);
	ck_assert_int_eq(rc_clip_grad_ws_new(&gw, m, tw), 0);
	capture_begin();
	rc = rc_clip_backward(m, tw, gw, demb, NULL, grads);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(err, "no forward of the image tower"));
	capture_begin();
	rc = rc_clip_backward(m, ws, gw, NULL, demb, grads);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(err, "made without RC_CLIP_WS_TRAIN"));
	struct rc_clip_ws *tw3;
	ck_assert_int_eq(rc_clip_ws_new(&tw3, m, 3, 3, RC_CLIP_WS_TRAIN), 0);
	capture_begin();
	rc = rc_clip_backward(m, tw3, gw, NULL, NULL, grads);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(err, "scratch made for 2 images and 3 texts"));

	/* rc_clip_loss_and_grad passes the forward's errors on */
	float px[2 * 3 * 32 * 32] = { 0 };
	int32_t ids[2 * 4] = { 1, 2, 3, 49408, 1, 2, 3, 4 };
	float loss;
	capture_begin();
	rc = rc_clip_loss_and_grad(m, tw, gw, px, ids, 2, 4, &loss, grads);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_RANGE);
	ck_assert_ptr_nonnull(strstr(err, "outside the vocabulary"));
	/* nothing was added */
	size_t nonzero = 0;
	for (size_t i = 0; i < m->nparams; i++)
		nonzero += grads[i] != 0.0f;
	ck_assert_uint_eq(nonzero, 0);
	/* Small random weights: a finite loss and finite gradients. */
	ids[3] = 5;
	for (size_t i = 0; i < m->nparams; i++)
		m->params[i] = 0.01f * normal();
	ck_assert_int_eq(rc_clip_loss_and_grad(m, tw, gw, px, ids, 2, 4, &loss, grads), 0);
	ck_assert(isfinite(loss));
	size_t nonfinite = 0;
	for (size_t i = 0; i < m->nparams; i++)
		nonfinite += !isfinite(grads[i]);
	ck_assert_uint_eq(nonfinite, 0);

	rc_clip_grad_ws_free(gw);
	rc_clip_grad_ws_free(NULL);
	rc_clip_ws_free(ws), rc_clip_ws_free(tw), rc_clip_ws_free(tw2), rc_clip_ws_free(tw3);
	rc_clip_free(m), rc_clip_free(m2);
	free(grads);
}
END_TEST

int main(void)
{
	rc_ops_set_threads(0);
	int nskipped = 0;
	for (int i = 0; i < NFIX; i++)
		nskipped += !fixture_present(fixtures[i]);
	Suite *s = suite_create("backward");
	TCase *tc = tcase_create("cpu");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_loss);
	tcase_add_loop_test(tc, test_grad_parity, 0, NFIX);
	tcase_add_test(tc, test_one_tower);
	tcase_add_test(tc, test_short_texts);
	tcase_add_test(tc, test_backward_errors);
	suite_add_tcase(s, tc);
	int rc = rc_test_run(s);
	return rc ? rc : nskipped ? 77 : 0;
}
