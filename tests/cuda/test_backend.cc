/* test_backend.cc - the CUDA backend (cuda/backend_cuda.cu, tower_cuda.cu,
 * siglip_cuda.cu) against the CPU backend, whole, on the tiny CLIP config
 * with the stage-2 heads and SigLIP's bias, and on a tiny SigLIP model
 * (3 heads in both towers, images of 64 in patches of 16, a context of
 * 12, the pooling head, gelu_pytorch_tanh) with the heads: in fp32 (the
 * parity mode) the embeddings of both towers, the CLIP and SigLIP losses
 * and their backward, the heads, every parameter's gradient, the
 * gradient norm and clipping, an AdamW step and the L2 pull; in bf16 the
 * embeddings within bf16's reach. Built
 * by the host compiler, every kernel runs in the emulation (in the three
 * thread orders); on a GPU build it runs on the device.
 *
 * Tolerances (fp32): embeddings and losses 1e-5 + 1e-5·|ref| (the kernels
 * sum in other orders: online softmax, tiled GEMMs); gradients, per
 * tensor, 1e-5·max|g| + 1e-7·max|G| + 1e-4·|g| (G all the gradients): a
 * gradient is a long sum of products whose parts cancel, so its error
 * scales with the largest values around it, and the attention's k_proj
 * biases, whose true gradient is 0, hold only rounding noise (1e-9 here).
 * The optimizer then runs on the same gradients on both sides (the CPU's
 * copied to the device): the parameters after AdamW must have the CPU's
 * bits, as cuda/adamw.cu promises; AdamW would turn the noise above into
 * whole steps. bf16: embeddings within cosine 0.99 of fp32's (a CLIP
 * model of 4 bf16 layers). */
#include "tests/cuda/harness.h"

extern "C" {
#include "base/log.h"
#include "model/backend.h"
#include "model/model.h"
}

extern "C" int rc_backend_cuda_new(struct rc_backend **out, struct rc_clip *m,
	const struct rc_backend_opts *o);

enum { B = 4, NG = 5 };

static int group_of(const char *name)
{
	if (!strncmp(name, "vision_model.", 13))
		return 0;
	if (!strncmp(name, "text_model.", 11))
		return 1;
	if (!strcmp(name, "logit_scale") || !strcmp(name, "logit_bias"))
		return 3;
	if (strstr(name, "_head."))
		return 4;
	return 2;
}

/* the tiny SigLIP config: odd head counts, a text width other than the
 * embedding's (the text head is [48, 36]), a short context */
static int siglip_tiny(struct rc_clip_config *cfg)
{
	if (rc_clip_config_builtin(cfg, "SigLIP-B-16-224") < 0)
		return -1;
	struct rc_clip_tower_config *v = &cfg->vision, *t = &cfg->text;
	v->image_size = 64, v->patch_size = 16, v->hidden = 48, v->heads = 3;
	v->intermediate = 96, v->layers = 2;
	t->hidden = 36, t->heads = 3, t->intermediate = 72, t->layers = 2;
	t->vocab_size = 1000, t->max_position = 12;
	cfg->projection_dim = 48;
	return 0;
}

/* a model: the tiny config (CLIP or SigLIP) from seed 5, with the heads
 * and the bias */
static struct rc_clip *model(int family)
{
	struct rc_clip_config cfg;
	struct rc_clip *m;
	if ((family == RC_FAMILY_SIGLIP ? siglip_tiny(&cfg) : rc_clip_config_builtin(&cfg,
	    "tiny")) < 0 || rc_clip_new(&m, &cfg) < 0 ||
	    rc_clip_set_extras(m, RC_CLIP_HEADS | RC_CLIP_LOGIT_BIAS, NULL) < 0) {
		fprintf(stderr, "test_backend: no model\n");
		exit(99);
	}
	rc_clip_init_random(m, 5);
	rc_clip_init_extras(m, RC_CLIP_HEADS | RC_CLIP_LOGIT_BIAS, 5, -4.0f);
	/* SigLIP: biases and layer norms off their 0 and 1, so that a bias
	 * left out (the conv's, the heads') shows */
	for (size_t i = 0; family == RC_FAMILY_SIGLIP && i < m->ntensors; i++) {
		const struct rc_clip_param *p = &m->tensors[i];
		if (p->ndim != 1 || !strncmp(p->name, "logit_", 6))
			continue;
		const std::vector<float> r = rc_test_random(p->numel, -0.1f, 0.1f, 30 + i);
		for (size_t k = 0; k < p->numel; k++)
			p->data[k] += r[k];
	}
	return m;
}

struct side {
	struct rc_clip *m;
	struct rc_backend *be;
	std::vector<int> group;
	float *dimg, *dtxt;
};

static void make(struct side *s, int cuda, int precision, int siglip, int recompute = 0,
	int family = RC_FAMILY_CLIP)
{
	s->m = model(family);
	s->group.resize(s->m->ntensors);
	for (size_t i = 0; i < s->m->ntensors; i++)
		s->group[i] = group_of(s->m->tensors[i].name);
	struct rc_backend_opts o;
	memset(&o, 0, sizeof o);
	o.device.kind = cuda ? RC_BACKEND_CUDA : RC_BACKEND_CPU;
	o.device.precision = precision, o.threads = 1;
	o.max_images = B, o.max_texts = 2 * B, o.train = 1, o.loss_rows = B, o.head_rows = B;
	o.ngroups = NG, o.group = s->group.data(), o.anchor = 1, o.siglip = siglip;
	o.recompute = recompute, o.rank_rows = 1;
	int rc = cuda ? rc_backend_cuda_new(&s->be, s->m, &o) : rc_backend_new(&s->be, s->m, &o);
	if (rc < 0) {
		fprintf(stderr, "test_backend: no %s backend\n", cuda ? "cuda" : "cpu");
		exit(99);
	}
	s->dimg = rc_backend_alloc(s->be, (size_t)B * s->m->cfg.projection_dim);
	s->dtxt = rc_backend_alloc(s->be, (size_t)2 * B * s->m->cfg.projection_dim);
}

static void drop(struct side *s)
{
	rc_backend_release(s->be, s->dimg);
	rc_backend_release(s->be, s->dtxt);
	rc_backend_free(s->be);
	rc_clip_free(s->m);
}

/* the inputs: images and two text streams (rows 0..B-1 and B..2B-1) */
struct inputs {
	std::vector<uint8_t> rgb;
	std::vector<int32_t> ids;
	std::vector<uint8_t> cls;
	std::vector<float> multi;
	int T;
};

static inputs make_inputs(const struct rc_clip *m)
{
	inputs in;
	const int S = m->cfg.vision.image_size, V = m->cfg.text.vocab_size;
	in.T = m->cfg.family == RC_FAMILY_SIGLIP ? m->cfg.text.max_position : 9;
	std::vector<float> r = rc_test_random((size_t)B * S * S * 3, 0, 256, 21);
	for (float x : r)
		in.rgb.push_back((uint8_t)x);
	std::vector<float> t = rc_test_random((size_t)2 * B * in.T, 1, (float)(V - 2), 22);
	for (int row = 0; row < 2 * B; row++) {
		const int end = 2 + row % (in.T - 2);      /* the end token at 2 .. T-1 */
		for (int k = 0; k < in.T; k++)
			in.ids.push_back(k == end ? V - 1 : k > end ? 0 : (int32_t)t[row * in.T + k]);
	}
	for (int b = 0; b < B; b++) {
		in.cls.push_back((uint8_t)(b % RC_CLIP_HEAD_CLASSES));
		for (int k = 0; k < RC_CLIP_HEAD_CLASSES; k++)
			in.multi.push_back((b + k) % 3 == 0 ? 1.0f : 0.0f);
	}
	return in;
}

static std::vector<float> download(struct side *s, const float *p, size_t n)
{
	std::vector<float> h(n);
	if (rc_backend_download(s->be, h.data(), p, n) < 0)
		rc_test_fail("a download failed");
	return h;
}

/* close - two host vectors within the tolerance */
static void close(const char *what, const std::vector<float> &got, const std::vector<float> &ref,
	rc_tol tol, const char *order)
{
	rc_test_close(what, order, got.data(), ref.data(), got.size(), tol);
}

/* per tensor of buffer buf: atol scaled by the tensor's largest value
 * (rel) and by the buffer's (grel) */
static void close_table(const char *what, struct side *g, struct side *c, int buf, double rel,
	double grel, double rtol, const char *order)
{
	const float *hg = rc_backend_host(g->be, buf), *hc = rc_backend_host(c->be, buf);
	if (!hg || !hc) {
		rc_test_fail("%s: no host copy", what);
		return;
	}
	double all = 0;
	for (size_t k = 0; k < c->m->nparams; k++)
		all = fabs(hc[k]) > all ? fabs(hc[k]) : all;
	for (size_t i = 0; i < c->m->ntensors; i++) {
		const struct rc_clip_param *p = &c->m->tensors[i];
		double mx = 0;
		for (size_t k = 0; k < p->numel; k++)
			mx = fabs(hc[p->offset + k]) > mx ? fabs(hc[p->offset + k]) : mx;
		rc_test_close(std::string(what) + " " + p->name, order, hg + p->offset,
			hc + p->offset, p->numel, { rel * mx + grel * all, rtol });
	}
}

/* one step of the recipe's operations on both sides, compared: the CLIP
 * or SigLIP loss (siglip) on a model of family */
static void step_fp32(const char *order, int siglip, int family = RC_FAMILY_CLIP)
{
	struct side c, g;
	make(&c, 0, RC_PRECISION_FP32, siglip, 0, family);
	make(&g, 1, RC_PRECISION_FP32, siglip, 0, family);
	const char *fam = family == RC_FAMILY_SIGLIP ? "siglip model: " : "";
	char key[8][96];
	const char *names[8] = { "image embeddings", "text embeddings", "siglip losses",
		"clip losses, heads", "embedding gradients", "grad", "params after AdamW", "" };
	for (int k = 0; k < 8; k++)
		snprintf(key[k], sizeof key[k], "%s%s", fam, names[k]);
	const inputs in = make_inputs(c.m);
	const int D = c.m->cfg.projection_dim;
	const float *ic, *tc, *ig, *tg;
	const rc_tol tol = { 1e-5, 1e-5 };
	if (rc_backend_encode_images(c.be, in.rgb.data(), B, &ic) < 0 ||
	    rc_backend_encode_texts(c.be, in.ids.data(), 2 * B, in.T, &tc) < 0 ||
	    rc_backend_encode_images(g.be, in.rgb.data(), B, &ig) < 0 ||
	    rc_backend_encode_texts(g.be, in.ids.data(), 2 * B, in.T, &tg) < 0) {
		rc_test_fail("%s: an encode failed", order);
		goto out;
	}
	close(key[0], download(&g, ig, (size_t)B * D), download(&c, ic, (size_t)B * D), tol, order);
	close(key[1], download(&g, tg, (size_t)2 * B * D),
		download(&c, tc, (size_t)2 * B * D), tol, order);
	{
		/* the stage-1 weighting of two streams, then the heads */
		const size_t bd = (size_t)B * D;
		std::vector<float> lc, lg;
		for (struct side *s : { &c, &g }) {
			const float *i = s == &c ? ic : ig, *t = s == &c ? tc : tg;
			std::vector<float> &l = s == &c ? lc : lg;
			rc_backend_grad_zero(s->be);
			if (siglip) {
				l.push_back((float)rc_backend_loss_siglip(s->be, i, t, B, 0.7f, s->dimg, s->dtxt,
					1));
				/* the second stream in the official gather's form, as
				 * the rank of rows [1, 3) */
				l.push_back((float)rc_backend_loss_siglip_rows(s->be, i, t + bd, B, 1, 2, 0.3f,
					s->dimg, s->dtxt + bd, 1));
			} else {
				l.push_back((float)rc_backend_loss_clip(s->be, i, t, B, 0.7f, s->dimg, s->dtxt,
					1));
				l.push_back((float)rc_backend_loss_clip_rows(s->be, i, t + bd, B, 1, 2, 0.3f,
					s->dimg, s->dtxt + bd, 1));
			}
			double part[2] = { 0, 0 };
			if (rc_backend_heads(s->be, t, i, B, in.cls.data(), in.multi.data(), B, 0.05f,
			    s->dtxt, s->dimg, part) < 0)
				rc_test_fail("%s: heads failed", order);
			l.push_back((float)part[0]), l.push_back((float)part[1]);
			if (rc_backend_backward(s->be, s->dimg, s->dtxt) < 0)
				rc_test_fail("%s: backward failed", order);
		}
		close(siglip ? key[2] : key[3], lg, lc, tol, order);
		close(key[4], download(&g, g.dtxt, 2 * bd), download(&c, c.dtxt, 2 * bd),
			{ 1e-6, 1e-4 }, order);
		close_table(key[5], &g, &c, RC_BUF_GRADS, 1e-5, 1e-7, 1e-4, order);
		double nc = rc_backend_grad_norm(c.be), ng = rc_backend_grad_norm(g.be);
		if (!(fabs(nc - ng) <= 1e-5 * nc))
			rc_test_fail("%s: gradient norm %.9g, expected %.9g", order, ng, nc);
		if (rc_backend_grad_nonfinite(g.be) != -1)
			rc_test_fail("%s: a finite gradient called non-finite", order);
		/* the same gradients on both sides from here */
		float *hg = rc_backend_host(g.be, RC_BUF_GRADS);
		const float *hc = rc_backend_host(c.be, RC_BUF_GRADS);
		memcpy(hg, hc, c.m->nparams * sizeof *hg);
		if (rc_backend_commit(g.be, RC_BUF_GRADS) < 0)
			rc_test_fail("%s: commit of the gradients failed", order);
		ng = rc_backend_grad_norm(g.be);
		if (!(fabs(nc - ng) <= 1.2e-7 * nc))
			rc_test_fail("%s: gradient norm of the same gradients %.9g, expected %.9g", order,
				ng, nc);
		const float lr[NG] = { 1e-3f, 2e-3f, 3e-3f, 1e-3f, 5e-3f }, wd[NG] = { 0, 0, 0.05f,
			0, 0.05f };
		for (struct side *s : { &c, &g }) {
			rc_backend_grad_clip(s->be, nc, 0.5 * nc);
			rc_backend_adamw(s->be, lr, wd);
			rc_backend_clamp(s->be, "logit_scale", 2.0f);
		}
		close_table(key[6], &g, &c, RC_BUF_PARAMS, 0, 0, 0, order);
		const double l2c = rc_backend_l2(c.be, 1e-2f, 3), l2g = rc_backend_l2(g.be, 1e-2f, 3);
		if (!(fabs(l2c - l2g) <= 1e-6 + 1e-5 * l2c) || !(l2c > 0))
			rc_test_fail("%s: L2 pull %.9g, expected %.9g", order, l2g, l2c);
	}
out:
	drop(&c);
	drop(&g);
}

/* cosines - each of n rows of a and b (normalised, [n,D]) at cosine >
 * 0.99, the smallest kept in *worst */
static void cosines(const char *what, const char *order, const std::vector<float> &a,
	const std::vector<float> &b, int n, int D, double *worst)
{
	for (int r = 0; r < n; r++) {
		double dot = 0;
		for (int k = 0; k < D; k++)
			dot += (double)a[(size_t)r * D + k] * b[(size_t)r * D + k];
		*worst = dot < *worst ? dot : *worst;
		if (!(dot > 0.99))
			rc_test_fail("%s: bf16 %s embedding %d at cosine %.4f to fp32", order, what, r,
				dot);
	}
}

/* bf16: the embeddings of both towers near fp32's (cosine) */
static void embed_bf16(const char *order, int family)
{
	struct side c, g;
	make(&c, 1, RC_PRECISION_FP32, 0, 0, family);
	make(&g, 1, RC_PRECISION_BF16, 0, 0, family);
	const inputs in = make_inputs(c.m);
	const int D = c.m->cfg.projection_dim;
	const float *ic, *ig, *tc, *tg;
	double worst = 1;
	if (rc_backend_encode_images(c.be, in.rgb.data(), B, &ic) < 0 ||
	    rc_backend_encode_images(g.be, in.rgb.data(), B, &ig) < 0 ||
	    rc_backend_encode_texts(c.be, in.ids.data(), 2 * B, in.T, &tc) < 0 ||
	    rc_backend_encode_texts(g.be, in.ids.data(), 2 * B, in.T, &tg) < 0) {
		rc_test_fail("%s: a bf16 encode failed", order);
	} else {
		cosines("image", order, download(&c, ic, (size_t)B * D), download(&g, ig,
			(size_t)B * D), B, D, &worst);
		cosines("text", order, download(&c, tc, (size_t)2 * B * D), download(&g, tg,
			(size_t)2 * B * D), 2 * B, D, &worst);
	}
	printf("test_backend: %s bf16 embeddings, %s order: smallest cosine to fp32 %.6f\n",
		family == RC_FAMILY_SIGLIP ? "siglip" : "clip", order, worst);
	drop(&c);
	drop(&g);
}

/* What a gradient sink saw (rc_backend_backward_reduce): each piece's
 * offset and its values when handed; it doubles each piece in place, as
 * a sum over two ranks with the same gradients would. */
struct pieces {
	const float *base;
	std::vector<std::pair<size_t, std::vector<float>>> seen;
	int ends, after_end;
};

static int sink(void *ctx, float *p, size_t n, void *queue)
{
	pieces *s = (pieces *)ctx;
	cudaStream_t q = (cudaStream_t)queue;
	if (!p) {
		s->ends++;
		return 0;
	}
	s->after_end += s->ends > 0;
	std::vector<float> v(n);
	if (q) {
		if (cudaMemcpyAsync(v.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost, q) ||
		    cudaStreamSynchronize(q))
			return -1;
	} else {
		memcpy(v.data(), p, n * sizeof(float));
	}
	s->seen.push_back({ (size_t)(p - s->base), v });
	std::vector<float> d(v);
	for (float &x : d)
		x *= 2;
	if (q)
		return cudaMemcpyAsync(p, d.data(), n * sizeof(float), cudaMemcpyHostToDevice, q) ||
			cudaStreamSynchronize(q) ? -1 : 0;
	memcpy(p, d.data(), n * sizeof(float));
	return 0;
}

/* pass - a training pass on s: gradients zeroed, both encodes, the CLIP
 * loss, the backward (its pieces to sink, into pc, when pc is not NULL) */
static void pass(struct side *s, const inputs &in, const char *order, pieces *pc)
{
	const float *i, *t;
	rc_backend_grad_zero(s->be);
	if (rc_backend_encode_images(s->be, in.rgb.data(), B, &i) < 0 ||
	    rc_backend_encode_texts(s->be, in.ids.data(), 2 * B, in.T, &t) < 0) {
		rc_test_fail("%s: an encode failed", order);
		return;
	}
	rc_backend_loss_clip(s->be, i, t, B, 1.0f, s->dimg, s->dtxt, 1);
	int rc = pc ? rc_backend_backward_reduce(s->be, s->dimg, s->dtxt, sink, pc)
		: rc_backend_backward(s->be, s->dimg, s->dtxt);
	if (rc < 0)
		rc_test_fail("%s: backward failed", order);
}

/* recomputation: the same gradients bit for bit, in less memory */
static void recompute(const char *order, int family)
{
	struct side a, r;
	make(&a, 1, RC_PRECISION_FP32, 0, 0, family);
	make(&r, 1, RC_PRECISION_FP32, 0, 1, family);
	const inputs in = make_inputs(a.m);
	for (struct side *s : { &a, &r })
		pass(s, in, order, NULL);
	close_table("recomputed grad", &r, &a, RC_BUF_GRADS, 0, 0, 0, order);
	if (!(r.be->device_peak < a.be->device_peak))
		rc_test_fail("%s: recomputation holds %zu bytes, keeping everything %zu", order,
			r.be->device_peak, a.be->device_peak);
	drop(&a);
	drop(&r);
}

/* the gradients handed in pieces: each final when handed (its values
 * those of a plain backward), the pieces covering the buffer once, the
 * end once after them, and what the sink did to them kept (nothing later
 * in the pass writes a handed piece). On the CUDA backend the towers
 * come first, one piece each; the CPU backend hands everything at once. */
static void reduce(const char *order, int cuda, int family = RC_FAMILY_CLIP)
{
	struct side a, r;
	make(&a, cuda, RC_PRECISION_FP32, 0, 0, family);
	make(&r, cuda, RC_PRECISION_FP32, 0, 0, family);
	const inputs in = make_inputs(a.m);
	pieces pc = { rc_backend_buffer(r.be, RC_BUF_GRADS), {}, 0, 0 };
	pass(&a, in, order, NULL);
	pass(&r, in, order, &pc);
	const char *dev = cuda ? "cuda" : "cpu";
	const float *ha = rc_backend_host(a.be, RC_BUF_GRADS), *hr = rc_backend_host(r.be,
		RC_BUF_GRADS);
	const size_t N = a.m->nparams;
	std::vector<int> covered(N, 0);
	for (auto &piece : pc.seen) {
		const size_t off = piece.first, n = piece.second.size();
		if (off + n > N) {
			rc_test_fail("%s %s: a piece [%zu, +%zu) beyond the %zu gradients", order, dev,
				off, n, N);
			continue;
		}
		for (size_t k = 0; k < n; k++)
			covered[off + k]++;
		if (memcmp(piece.second.data(), ha + off, n * sizeof(float)))
			rc_test_fail("%s %s: the piece [%zu, +%zu) was handed before it was final",
				order, dev, off, n);
	}
	for (size_t k = 0; k < N; k++)
		if (covered[k] != 1) {
			rc_test_fail("%s %s: gradient %zu handed %d times", order, dev, k, covered[k]);
			break;
		}
	if (pc.ends != 1 || pc.after_end)
		rc_test_fail("%s %s: the end handed %d times, %d pieces after it", order, dev,
			pc.ends, pc.after_end);
	size_t want = cuda ? 3 : 1;   /* vision, text, the rest */
	if (pc.seen.size() != want)
		rc_test_fail("%s %s: %zu pieces, expected %zu", order, dev, pc.seen.size(), want);
	for (size_t k = 0; k < N && ha && hr; k++)
		if (hr[k] != 2 * ha[k]) {
			rc_test_fail("%s %s: gradient %zu is %.9g after the sink, expected %.9g", order,
				dev, k, hr[k], 2 * ha[k]);
			break;
		}
	drop(&a);
	drop(&r);
}

int main(void)
{
	rc_test_start("test_backend");
	rc_log_set_level(RC_LOG_WARN);
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		step_fp32(o.name, 0);
		step_fp32(o.name, 1);
		step_fp32(o.name, 1, RC_FAMILY_SIGLIP);
		embed_bf16(o.name, RC_FAMILY_CLIP);
		embed_bf16(o.name, RC_FAMILY_SIGLIP);
		recompute(o.name, RC_FAMILY_CLIP);
		recompute(o.name, RC_FAMILY_SIGLIP);
		reduce(o.name, 1);
		reduce(o.name, 0);
		reduce(o.name, 1, RC_FAMILY_SIGLIP);
	}
	return rc_test_end();
}
